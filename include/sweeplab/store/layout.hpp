#pragma once
// Where a sweep's results live on disk (README's "Results on disk") and reading back what is there.
#include <optional>
#include <string>
#include <vector>

#include "sweeplab/core/metrics.hpp"

namespace sweeplab {

std::string sweep_dir(const std::string& experiments_dir, const std::string& sweep_name);
std::string trial_dir(const std::string& experiments_dir, const std::string& sweep_name, const std::string& trial_id);

// What summary.json says, in the parts the scheduler and `status` need.
struct StoredSummary {
  TrialStatus status = TrialStatus::Completed;  // completed, diverged, failed, interrupted, skipped; unreadable: damaged
  std::int64_t steps = 0, epochs = 0, samples = 0;
  double wall_time_s = 0.0;
  std::vector<BestMetric> best;
  std::vector<TargetResult> targets;
  bool stopped_at_target = false;
  std::optional<EvalRecord> final;
  std::optional<std::int64_t> diverged_at_step;
  std::vector<std::string> warnings;
  std::string error;
  std::string skip_reason;          // a skipped trial: why (sweep.prune)
  std::string signal;               // a trial whose worker died: the signal ("SIGKILL"), "" when it exited
  std::optional<int> exit_code;     // ... and its exit code, when it exited
  std::string slurm_job;            // the Slurm array task that settled it ("12_3"), if any
};
std::optional<StoredSummary> read_summary(const std::string& trial_dir);

// One metrics.jsonl line back into a record; nullopt when it does not parse.
std::optional<EvalRecord> parse_record_json(const std::string& line);

// metrics.jsonl: the records that parse (a line torn by a crash does not), a diverged trial's last line
// (EvalRecord::diverged) included.
std::vector<EvalRecord> read_metrics(const std::string& path);

// metrics.jsonl line by line.
struct MetricsScan {
  std::vector<EvalRecord> records;          // of the lines that parse, in order
  std::vector<std::size_t> record_lines;    // their line numbers (1-based)
  std::vector<std::size_t> damaged_lines;   // lines that do not parse (torn by a crash, damaged on disk)
  std::size_t lines = 0;
};
MetricsScan scan_metrics(const std::string& path);

// What continue_metrics found and did.
struct MetricsContinuation {
  bool usable = true;       // false: the records up to the step cannot be made whole; train from the start
  std::string warning;      // one line when records were damaged or missing, and what was done about it
  std::size_t dropped = 0;  // unreadable lines dropped after the step (a line torn by a stop), trained again
};

// Before a trial continues from its checkpoint at `step`, which follows `evaluations` records (-1: unknown,
// an older checkpoint), the last of them `last`: keeps the records up to `step` and drops the rest,
// atomically, so that the trial then appends exactly what an uninterrupted one would have. The last record
// is rewritten from `last` when it is torn, missing or different. Anything else missing or unreadable up to
// `step` (a torn line before the last record) cannot be repaired from a checkpoint: usable is false, the
// file is left as it was, and the trial is to start over (which writes the same records again).
// Throws StorageError when the file cannot be rewritten.
MetricsContinuation continue_metrics(const std::string& path, std::int64_t step, std::int64_t evaluations,
                                     const std::optional<EvalRecord>& last);


}  // namespace sweeplab
