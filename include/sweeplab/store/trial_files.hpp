#pragma once
// The files of a sweep and its trials (README's "Results on disk"): sweep.json, config.yaml, metrics.jsonl,
// summary.json. Whole files are replaced atomically; metrics.jsonl is appended and flushed per line.
#include <string>
#include <utility>
#include <vector>

#include "sweeplab/config/loader.hpp"
#include "sweeplab/core/fs.hpp"
#include "sweeplab/core/metrics.hpp"

namespace sweeplab {

// Where and with what a sweep ran (sweep.json "context").
struct RunContext {
  std::string sweeplab_version;
  std::string git_commit;
  std::string torch_version;
  std::string host;
  std::string started_at;     // ISO 8601, UTC
  std::int64_t threads_per_trial = 1;
  int engine_version = 0;     // kEngineVersion of the trainer (sweeplab/engine/trainer.hpp)
  std::string engine;         // which arithmetic: "lean-cpu" or "batched-cuda"
};
RunContext make_run_context(const std::string& torch_version, std::int64_t threads_per_trial);

// Now, ISO 8601 in UTC: "2026-11-23T17:08:36Z" (started_at, submitted_at).
std::string utc_now();

// One metrics.jsonl line (no newline): epoch, step, samples, lr, batch_size, train_loss, test_loss,
// train_acc, test_acc (classification), episode_return, epsilon, greedy_return, greedy_length,
// greedy_optimal_fraction (doublegoal),
// elapsed_s. A diverged record (the step that diverged):
// {"epoch":..,"step":..,"samples":..,"lr":..,"batch_size":..,"train_loss":null,"test_loss":null,
//  "diverged":true,"loss":LOSS,"elapsed_s":..} with LOSS the loss that stopped the trial: a number, or
// "nan", "inf", "-inf".
std::string record_json(const EvalRecord& record);

// The Slurm array task this process runs in ("12_3", from SLURM_ARRAY_JOB_ID and SLURM_ARRAY_TASK_ID; a job
// that is no array: SLURM_JOB_ID); "" outside Slurm.
std::string slurm_job_from_environment();

// summary.json. A trial whose worker died also gets "signal" (e.g. "SIGKILL"; null when it exited),
// "exit_code" (null when signalled) and "stderr_tail". One settled inside a Slurm job gets "slurm_job"
// (outcome.slurm_job, else slurm_job_from_environment()).
std::string summary_json(const std::string& trial_id, const std::vector<std::pair<std::string, Value>>& swept,
                         const TrialOutcome& outcome);

std::string sweep_json(const ResolvedSweep& sweep, const RunContext& context);

// A trial's metrics.jsonl, open for appending; every line goes out whole in one write. A write that
// fails (disk full, I/O error) is cut back off, so the file never ends in a torn line of ours.
class MetricsFile {
 public:
  explicit MetricsFile(const std::string& path);  // appends to what is there
  MetricsFile(const MetricsFile&) = delete;
  MetricsFile& operator=(const MetricsFile&) = delete;
  ~MetricsFile();
  void append(const EvalRecord& record);  // throws StorageError

 private:
  std::string path_;
  int fd_ = -1;
};

}  // namespace sweeplab
