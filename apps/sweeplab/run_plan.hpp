#pragma once
// What `run` and `submit` would do with each trial, as the front end can tell from its files, and the checks
// both make before anything is trained or written. Internal to apps/sweeplab.
#include <string>
#include <vector>

#include "sweeplab/config/loader.hpp"
#include "sweeplab/store/history.hpp"
#include "sweeplab/store/trial_files.hpp"
#include "sweeplab/store/sweep_state.hpp"

namespace sweeplab {

// What `run` would do with a trial, as the front end can tell from its files (a worker decides again
// under the trial's lock; `submit` sends the trials that train).
struct Plan {
  std::string action;  // for --dry-run: train, resume, extend, skip, repair, ...
  bool trains = true;
  bool extends = false;  // a completed trial whose budget the current config raises
  std::string skipped_because;  // when it does not train
};

struct PlanOptions {
  bool fresh = false;         // --fresh
  bool retry_failed = false;  // --retry-failed
};

// `pruned`: why sweep.prune rules the trial out by the files already (pruned_by_files), or "".
Plan plan_for(const TrialState& trial, const PlanOptions& options, const std::string& pruned = "");

// sweep.prune: above_divergence, as the files tell before the run: for each trial, why it is skipped (a trial
// of its line with a smaller learning rate diverged), or "". The run decides again as its waves finish.
std::vector<std::string> pruned_by_files(const ResolvedSweep& sweep, const SweepState& state, bool fresh);

// The trainer program: $SWEEPLAB_TRAINER, else sweeplab-trainer beside this program, else the one this
// build made (for tests that run the command line in-process).
std::string locate_trainer();

// Asks the trainer whether CUDA can train here. Throws UserError with its answer when not.
void check_cuda(const std::string& trainer);

// The experiments path must be a folder that is (or can be) written to, before anything is trained.
void check_experiments_path(const std::string& path, const std::string& sweep_name);

// The task inputs (files, keys) every trial of the sweeps reads, each checked once; whether any trains on CUDA.
bool check_inputs(const std::vector<ResolvedSweep>& sweeps);

// A runs.jsonl line for `command` ("run", "submit").
RunRecord run_record(const std::string& command, const std::vector<std::string>& overrides,
                     const std::vector<std::string>& flags, const RunContext& context, std::size_t trials);

}  // namespace sweeplab
