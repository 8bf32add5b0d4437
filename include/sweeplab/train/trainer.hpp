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
  // Before training: the step the trial continues from (0: from scratch). Evaluations after that step
  // follow; any recorded earlier beyond it are to be dropped.
  virtual void on_start(std::int64_t resumed_from_step) { (void)resumed_from_step; }
  virtual void on_eval(const EvalRecord& record) = 0;
  // Polled at every step boundary; true stops the trial (status interrupted) after a checkpoint.
  virtual bool stop_requested() { return false; }
};

struct CheckpointOptions {
  std::string path;        // checkpoint.pt; empty: no checkpoints and no resume (--no-save)
  std::int64_t every = 0;  // checkpoint.every, in budget units; 0: only at the end and on interrupt
};

// Trains one trial to its budget, continuing from the checkpoint at options.path when there is a valid
// one (same format version, same config apart from the budget). An unreadable or foreign checkpoint
// is renamed aside (checkpoint.pt.corrupt-TIME) and the trial starts over; outcome.warnings says so.
// Checkpoints are written every options.every units, at the end (not after divergence) and when the
// sink asks to stop. A diverged trial returns normally with status diverged.
// Throws UserError for bad inputs (a missing CSV file, cuda without CUDA) and StorageError when a
// checkpoint cannot be written; anything else that throws is a failed trial for the caller to record.
TrialOutcome train_trial(const Config& config, TrialSink& sink, const CheckpointOptions& checkpoints = {});

// Checks what can only be checked by trying: a CSV file reads, the device exists. UserError if not.
// Runs no tensor operation, so a process may fork training workers afterwards.
void check_trial_inputs(const Config& config);

// "1.13.0": the LibTorch headers this build used.
std::string torch_version();

}  // namespace sweeplab
