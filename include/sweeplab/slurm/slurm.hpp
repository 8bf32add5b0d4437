#pragma once
// Slurm, driven through its own command-line tools (sbatch, squeue, scontrol, scancel, sacct): running
// them, and reading what they print. No LibTorch, no sweep knowledge (sweeplab/slurm/submissions.hpp has that).
#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "sweeplab/core/process.hpp"

namespace sweeplab::slurm {

// One array task: "123_4" (array job id, task index), as squeue and the log files name it.
std::string task_key(const std::string& job_id, std::size_t index);

struct TaskState {
  std::string state;      // PENDING, RUNNING, COMPLETING, COMPLETED, FAILED, CANCELLED, TIMEOUT, OUT_OF_MEMORY, ...
  std::string reason;     // why it waits (squeue's reason), when known
  std::string exit_code;  // "EXIT:SIGNAL" ("0:9": killed by signal 9), when known
  int restarts = 0;       // requeues, when known
};

// A state in which the task may still run (pending, running, requeued, suspended, completing, ...).
bool is_live(const std::string& state);
// A live task that will not run until someone releases it (scontrol release): held by the user or an admin,
// or after a failed launch.
bool is_held(const TaskState& state);

// --- what the tools print (tests feed these captured text) ---------------------------------------------

// `scontrol show config`: the MaxArraySize line's value; nullopt when there is none.
std::optional<std::size_t> parse_max_array_size(const std::string& text);
// `squeue -h -r -o '%i|%T|%r'`: "123_4|RUNNING|None" per task (a job that is no array: "123|...", task 0).
std::map<std::string, TaskState> parse_squeue(const std::string& text);
// `scontrol -o show job ID`: one record a line; a pending array's collapsed record (ArrayTaskId=2-5%2,
// or 1,3,7-9) stands for each of its tasks.
std::map<std::string, TaskState> parse_scontrol_jobs(const std::string& text);
// `sacct -n -P -X -o JobID,State,ExitCode`: "123_4|FAILED|1:0"; "CANCELLED by 0" reads CANCELLED; a
// pending array's "123_[2-5%2]" stands for each of its tasks.
std::map<std::string, TaskState> parse_sacct(const std::string& text);
// Task indexes of a range list as Slurm writes them: "0-5%2", "1,3,7-9", "[2-4]".
std::vector<std::size_t> parse_index_ranges(const std::string& text);

// --- the cluster -------------------------------------------------------------------------------------

// Throws UserError (one line) unless sbatch, squeue and scontrol can be run here.
void require_tools();
// The cluster's MaxArraySize (`scontrol show config`): array task indexes stay below it. Throws UserError.
std::size_t max_array_size();
// Every task of these array jobs that the cluster still knows: squeue for the live ones, then what
// `scontrol show job` remembers of ended ones (for MinJobAge), then sacct where accounting is on.
std::map<std::string, TaskState> task_states(const std::vector<std::string>& job_ids);
// The tasks of these jobs still in the queue (squeue only: cheap enough to poll).
std::map<std::string, TaskState> live_tasks(const std::vector<std::string>& job_ids);

}  // namespace sweeplab::slurm
