#pragma once
// What `submit` plans before it sends a sweep to Slurm, and what it records when tasks die: the trials cut into array
// tasks, the folder each task list names, the configs snapshot, and the failed summaries of a dead task's trials.
// No LibTorch.
#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "sweeplab/config/loader.hpp"
#include "sweeplab/core/trial_status.hpp"
#include "sweeplab/slurm/submissions.hpp"

namespace sweeplab::slurm {

// --time in seconds (MINUTES, MINUTES:SECONDS, HOURS:MINUTES:SECONDS, DAYS-HOURS[:MINUTES[:SECONDS]]); 0 when
// there is no limit.
long time_limit_s(const std::string& text);

// The trials (indexes into sweep.trials) cut into array tasks: fused groups, longest first (`group_size` at most;
// 0: the engine's default); with sweep.prune (above_divergence, below_divergence) a task per line, whose waves then
// run in order inside it.
std::vector<std::vector<std::size_t>> array_tasks(const ResolvedSweep& sweep, const std::vector<std::size_t>& trials,
                                                  std::size_t group_size);

// Which trial of the sweep a folder of a task list holds: the one whose id it is, or whose hash ends it, or (a folder
// named under another sweep shape) the one its config.yaml hashes to. `sweep_dir`: experiments/NAME.
std::optional<std::size_t> trial_in_folder(const ResolvedSweep& sweep, const std::string& sweep_dir, const std::string& folder);

// Copies the sweep's YAML files (every one in the folder: `extends` may name any) to `to`. Throws StorageError.
void snapshot_configs(const std::string& configs_dir, const std::string& to);

// The first experiments/NAME/slurm/submit-NNN that is not there; made (atomically: two submits never share one) when
// `make`. Throws StorageError.
std::string submit_dir_name(const std::string& slurm_dir, bool make);

// Done with, for Slurm's purposes: settled, or interrupted (it checkpointed and stopped; submit sends it again).
bool at_rest(TrialStatus status);

// Trials whose array task died before they settled get failed summaries (sched/run_sweep.hpp record_crash), under
// their lock. `tasks`: trial folder -> its newest task. Returns how many.
std::size_t record_dead_tasks(const ResolvedSweep& sweep, const std::string& experiments_dir,
                              const std::map<std::string, TrialTask>& tasks);

}  // namespace sweeplab::slurm
