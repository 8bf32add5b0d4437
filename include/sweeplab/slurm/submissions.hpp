#pragma once
// What `sweeplab submit` sent to Slurm, kept beside the sweep's results:
//   experiments/NAME/slurm/
//     jobs.jsonl                 one line per job array submitted: job id, time, script, task list
//     submit-NNN/configs/        the sweep's YAML files as they were at that submit (the tasks load these, so
//                                an edit of configs/ after submitting changes nothing already queued)
//     submit-NNN/array-K.sbatch  the script of the K-th array of that submit
//     submit-NNN/array-K.tasks   line i: the ids of the trials array task i trains
//     logs/JOB_TASK.out          each task's output, appended to across requeues
// No LibTorch.
#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "sweeplab/slurm/slurm.hpp"

namespace sweeplab::slurm {

struct ArrayRecord {
  std::string job_id;
  std::string submitted_at;                       // ISO 8601, UTC
  std::string script, tasks_file;                 // relative to the sweep's folder
  std::vector<std::vector<std::string>> tasks;    // trial ids by array index (from tasks_file)
};

std::string slurm_dir(const std::string& sweep_dir);
// A task's log file (what --output names with %A_%a).
std::string log_path(const std::string& sweep_dir, const std::string& job_id, std::size_t index);

// Appends one line to jobs.jsonl (tasks stay in their file). Throws StorageError.
void append_array_record(const std::string& sweep_dir, const ArrayRecord& record);
// jobs.jsonl's readable lines, oldest first, each with its task list read; none when there is no file.
std::vector<ArrayRecord> read_array_records(const std::string& sweep_dir);
// The job ids of the records, oldest first.
std::vector<std::string> job_ids(const std::vector<ArrayRecord>& records);

// The task list file: a line per array task, its trial ids separated by spaces.
std::string tasks_text(const std::vector<std::vector<std::string>>& tasks);
std::vector<std::vector<std::string>> parse_tasks(const std::string& text);

// Where a trial stands with Slurm: the newest array task that holds it.
struct TrialTask {
  std::string job_id;
  std::size_t index = 0;
  std::string key;                  // "JOB_TASK"
  std::optional<TaskState> state;   // nullopt: the cluster no longer knows the task
  std::string log;                  // the task's log file
};
// trial id -> its newest task, with the states from task_states() / live_tasks().
std::map<std::string, TrialTask> trial_tasks(const std::string& sweep_dir, const std::vector<ArrayRecord>& records,
                                             const std::map<std::string, TaskState>& states);
// "12_3 RUNNING", "12_4 PENDING (Priority)", "12_5 FAILED 0:9", "12_6 gone": for tables.
std::string task_text(const TrialTask& task);

// The task ended without settling its trials because it died (OUT_OF_MEMORY, NODE_FAIL, BOOT_FAIL, or FAILED
// other than sweeplab's own 130, stopped with its trials checkpointed, or 3, a storage error they resume from):
// its unsettled trials are failed. Cancelled and timed-out tasks leave checkpoints to resume.
bool task_died(const TaskState& state);

// How `tasks` array tasks are cut into arrays when index values must stay below max_array_size: the
// number of tasks of each array, in order.
std::vector<std::size_t> split_arrays(std::size_t tasks, std::size_t max_array_size);

struct ScriptSpec {
  std::string job_name;
  std::string array;                        // "0-6" or "0-6%2"
  std::string log_pattern;                  // absolute, with %A_%a
  std::string working_dir;                  // absolute
  std::vector<std::string> sbatch_options;  // "--partition=gpu", ... (each an #SBATCH line)
  std::vector<std::string> command;         // the task's command line, word by word
  std::string comment;                      // one line, says what wrote it
  long signal_lead_s = 120;                 // USR1 this long before the time limit
};
// The batch script: #SBATCH lines (the array, its log, --requeue, --open-mode=append and a USR1 signal
// signal_lead_s before the time limit to the batch shell, then `sbatch_options`), cd, exec of the command (so
// the signal reaches it).
std::string sbatch_script(const ScriptSpec& spec);

// The last `lines` lines of a text file ("" when it cannot be read).
std::string file_tail(const std::string& path, std::size_t lines);

}  // namespace sweeplab::slurm
