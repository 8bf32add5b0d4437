#pragma once
// One trial, start to finish, as a worker process runs it: lock, decide (train, continue, skip),
// train, write summary.json. Internal to sched/.
#include <string>

#include "sweeplab/sched/run_sweep.hpp"

namespace sweeplab {

// What a running trial reports to the scheduler.
class TrialEvents {
 public:
  virtual ~TrialEvents() = default;
  virtual void started(std::int64_t resumed_from_step) = 0;
  virtual void evaluated(const EvalRecord& record) = 0;
};

struct TrialResult {
  enum class Kind { Trained, Skipped, Busy } kind = Kind::Trained;
  std::string message;   // why skipped / who holds it
  TrialOutcome outcome;  // when trained
};

TrialResult run_one_trial(const ResolvedSweep& sweep, std::size_t index, const RunOptions& options,
                          const TrainFunction& train, TrialEvents& events);

// A worker died while training this trial: summary.json says failed with `error` (taken under the
// trial's lock, which the dead worker no longer holds), the checkpoint stays, trial.log gets the
// worker's last words.
TrialOutcome record_crash(const ResolvedSweep& sweep, std::size_t index, const RunOptions& options,
                          const std::string& error, const std::string& stderr_tail);

// Optimizer steps the trial's budget asks for (0 when unknown, e.g. a CSV file not read yet).
std::int64_t expected_steps(const Config& config);

}  // namespace sweeplab
