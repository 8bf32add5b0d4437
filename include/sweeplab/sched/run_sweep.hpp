#pragma once
// Running a sweep's trials and writing their files. No LibTorch here: training comes in as a callable.
#include <functional>
#include <map>
#include <iosfwd>
#include <string>
#include <vector>

#include "sweeplab/config/loader.hpp"
#include "sweeplab/engine/trainer.hpp"
#include "sweeplab/sched/plan.hpp"
#include "sweeplab/store/trial_files.hpp"

namespace sweeplab {

// Trains one fused group (sweeplab/engine/trainer.hpp train_group); only trainer processes call it.
using GroupTrainer = std::function<std::vector<TrialOutcome>(const std::vector<GroupMember>&)>;

struct RunOptions {
  std::string experiments_dir = "experiments";
  bool save = true;           // false (--no-save): train and print, write nothing
  bool fresh = false;         // --fresh: discard the trials' earlier results first
  bool retry_failed = false;  // --retry-failed: train failed trials again (otherwise they are skipped)
  bool quiet = false;         // only the final totals
  std::size_t jobs = 1;       // worker processes (-j)
  std::size_t group_size = 0;  // most trials in one fused group (0: 64 on CPU, 4096 on CUDA)
  std::vector<std::size_t> only;  // the trials (indexes) to run, e.g. a Slurm array task's; empty: all
  // Each trial's folder (sched/plan.hpp plan_sweep: the one that holds it, whatever its name); empty: their ids.
  std::vector<std::string> folders;
  // Keep the sweep's trial index (store/trial_index.hpp). Off in Slurm tasks: the index's file locks may not work on
  // a cluster's filesystem, and the submit that sent them marked their trials to be read again.
  bool index = true;
  RunContext context;

  const std::string& folder(const ResolvedSweep& sweep, std::size_t index) const {
    return index < folders.size() && !folders[index].empty() ? folders[index] : sweep.trials.at(index).id;
  }
};

// How a worker process gets the same sweep as the scheduler: it loads it again from these.
struct SweepSource {
  std::string configs_dir;
  std::string name;
  std::vector<std::string> overrides;
  std::size_t max_trials = kDefaultMaxTrials;
  std::vector<RefinedPoint> refined;  // sweep.refine: the refined points the sweep has now (its spec's)
};

struct RunTotals {
  int completed = 0, diverged = 0, failed = 0, interrupted = 0;  // trained now, and how it ended
  int skipped = 0;    // recorded skipped now (sweep.prune)
  int unchanged = 0;  // left as they were: done already, failed earlier (no --retry-failed), past the budget
  int busy = 0;       // left to another process that trains them
  std::map<std::size_t, TrialStatus> states;  // trial index -> status, for trials trained (or recorded) now
  std::map<std::size_t, EvalRecord> finals;   // trial index -> last evaluation, for trials trained now
  std::string storage_error;                  // the first write that failed (path: system error); the run stopped
};

// Trials in worker processes: all of them, or options.only. Trials that share the shape of their computation are
// cut into fused groups (plan.hpp form_groups), spread over options.jobs workers. Before any of them starts, the
// trials are marked in the sweep's trial index as planned (their rows dirty), and each row is written again from
// the trial's files as soon as it settles. A worker is a fresh
// `trainer` process (fork + exec: a process that touched CUDA never forks a trainer, and only trainers
// load LibTorch); it takes group after group, so start-up is paid per worker. A worker that aborts or
// crashes fails only the trials of its group it had not finished (summary.json: the signal and the
// tail of its stderr; checkpoints are kept) and a new worker takes the remaining groups. Dispatch order:
// the trials with the most optimizer steps first, ties in sweep order.
//  - completed and diverged trials are skipped, unless the budget was raised past a completed one,
//    which then continues from its final checkpoint; failed ones are skipped unless retry_failed;
//  - partial and interrupted trials continue from their checkpoint, metrics.jsonl cut back to it;
//  - a trial locked by another live process is left to it (counted busy);
//  - a group that throws has its trials recorded as failed (summary.json with the error);
//  - after an interrupt, the running trials checkpoint and no further group starts;
//  - sweep.prune: the trials run in waves by learning rate within their line (the same config but for the
//    learning rate), smallest first for above_divergence, largest first for below_divergence; a trial that the
//    settled trials of its line rule out (sched/plan.hpp DivergenceBoundary: in this run, or on disk unless
//    fresh) is not run but recorded skipped (trial_job.hpp record_pruned).
RunTotals run_sweep(const ResolvedSweep& sweep, const SweepSource& source, const RunOptions& options,
                    const std::string& trainer, std::ostream& out);

// The body of a worker process (the trainer binary with `args` from the scheduler): loads the sweep as
// the scheduler did, then trains the groups that arrive on its task pipe with `train`. Returns the
// process's exit code.
int worker_main(const std::vector<std::string>& args, const GroupTrainer& train);

// How the process that trained a trial died, for the trial.
struct CrashReport {
  std::string error;
  std::string signal;  // e.g. "SIGKILL", empty when it exited
  int exit_code = -1;
  std::string stderr_tail;
  double session_s = 0.0;  // seconds since the trial started in this session
  std::int64_t resumed_from_step = 0;
  std::string slurm_job;   // the Slurm array task it ran in ("12_3"); "" to take this process's own
};

// A worker (or a whole Slurm array task) died while training this trial: summary.json says failed with
// crash.error (taken under the trial's lock, which the dead process no longer holds), with the signal or exit
// code, the end of its output, the last step in metrics.jsonl and the wall time (earlier sessions' as of the
// resumed step's record, plus this session's); the checkpoint stays, trial.log gets the last words. A trial
// whose summary says completed or diverged keeps it; one another process holds is left to it.
TrialOutcome record_crash(const ResolvedSweep& sweep, std::size_t index, const RunOptions& options,
                          const CrashReport& crash);

// "bs=8-1a2b3c4d  completed  train_loss=0.01 test_loss=0.02 test_acc=0.99  1.2s"
std::string trial_line(const std::string& trial_id, const TrialOutcome& outcome);

}  // namespace sweeplab
