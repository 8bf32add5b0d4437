#pragma once
// Where a sweep's results live on disk (SPEC section 5) and reading back what is there.
#include <optional>
#include <string>
#include <vector>

#include "sweeplab/core/metrics.hpp"

namespace sweeplab {

std::string sweep_dir(const std::string& experiments_dir, const std::string& sweep_name);
std::string trial_dir(const std::string& experiments_dir, const std::string& sweep_name, const std::string& trial_id);

// What summary.json says, in the parts the scheduler and `status` need.
struct StoredSummary {
  std::string status;  // completed, diverged, failed, interrupted; "unreadable" for a damaged file
  std::int64_t steps = 0, epochs = 0, samples = 0;
  double wall_time_s = 0.0;
  std::vector<BestMetric> best;
  std::vector<TargetResult> targets;
  bool stopped_at_target = false;
  std::optional<EvalRecord> final;
  std::optional<std::int64_t> diverged_at_step;
  std::vector<std::string> warnings;
  std::string error;
};
std::optional<StoredSummary> read_summary(const std::string& trial_dir);

// One metrics.jsonl line back into a record; nullopt when it does not parse.
std::optional<EvalRecord> parse_record_json(const std::string& line);

// metrics.jsonl: the records that parse (a line torn by a crash does not).
std::vector<EvalRecord> read_metrics(const std::string& path);

// Keeps the lines of metrics.jsonl up to and including `max_step` and drops the rest (and any torn
// line), atomically: a resumed trial then appends exactly what an uninterrupted one would have.
void cut_metrics(const std::string& path, std::int64_t max_step);

// "pending" (nothing on disk), "partial" (started, no summary yet), or summary.json's status.
std::string trial_state(const std::string& experiments_dir, const std::string& sweep_name, const std::string& trial_id);

}  // namespace sweeplab
