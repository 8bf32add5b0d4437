#pragma once
// Training one trial. This header has no LibTorch in it: the scheduler and the CLI include it.
#include <string>

#include "sweeplab/config/config.hpp"
#include "sweeplab/core/metrics.hpp"

namespace sweeplab {

// Receives a trial's evaluations as they happen and may ask it to stop.
class TrialSink {
 public:
  virtual ~TrialSink() = default;
  virtual void on_eval(const EvalRecord& record) = 0;
  virtual bool stop_requested() { return false; }
};

// Trains one trial to its budget. A diverged trial returns normally with status diverged.
// Throws UserError for bad inputs (a missing CSV file, cuda without CUDA); anything else that
// throws is a failed trial for the caller to record.
TrialOutcome train_trial(const Config& config, TrialSink& sink);

// Checks what can only be checked by trying: the data loads, the device exists. UserError if not.
void check_trial_inputs(const Config& config);

// "1.13.0": the LibTorch headers this build used.
std::string torch_version();

}  // namespace sweeplab
