#pragma once
// Trials, start to finish, as a worker process runs them: lock, decide (train, continue, skip), train as
// one group, write summary.json. Internal to sched/.
#include <string>
#include <vector>

#include "sweeplab/sched/run_sweep.hpp"

namespace sweeplab {

struct TrialResult {
  enum class Kind { Trained, Skipped, Busy } kind = Kind::Trained;
  std::string message;   // why skipped / who holds it
  TrialOutcome outcome;  // when trained
  bool own_config = false;  // repaired: trained with the config it was run with (its config.yaml), not the sweep's
};

// What running trials report to the scheduler.
class TrialEvents {
 public:
  virtual ~TrialEvents() = default;
  virtual void started(std::size_t index, std::int64_t resumed_from_step) = 0;
  virtual void evaluated(std::size_t index, const EvalRecord& record) = 0;
  // The trial is settled (skipped, left to another process, or trained with its summary.json written),
  // as soon as it is: its group may go on long after.
  virtual void finished(std::size_t index, const TrialResult& result) = 0;
};

// The trials `indexes` of the sweep (one fused group; options.folders says where each lives), start to finish:
// each is locked and decided on (sched/plan.hpp decide, from its files as they are now) on its own, those to train
// go to `train` together, and each gets its own summary.json and `events.finished` as soon as it is settled. If
// training throws, the trials not yet settled are failed with the error.
void run_trial_group(const ResolvedSweep& sweep, const std::vector<std::size_t>& indexes,
                     const RunOptions& options, const GroupTrainer& train, TrialEvents& events);

// sweep.prune ruled the trial out (`reason`: which trials of its line diverged or completed). Decided under the trial's lock as
// any trial is (decide): a result that stays stays (message "completed already", ...); anything else gets
// summary.json with status skipped and the reason, and config.yaml (partial files, if any, are kept: a run without
// the pruning continues them). Busy when another process holds the lock; --fresh removes earlier results first;
// --no-save writes nothing. Kind Skipped, message as shown.
TrialResult record_pruned(const ResolvedSweep& sweep, std::size_t index, const RunOptions& options,
                          const std::string& reason);

}  // namespace sweeplab
