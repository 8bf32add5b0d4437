#pragma once
// The table of a sweep's trials: swept values, state, progress, final metrics, a note; then totals.
// `status` prints it, and so does `run` when it ends. Shows only the keys that vary.
#include <optional>
#include <string>
#include <vector>

#include "sweeplab/config/loader.hpp"
#include "sweeplab/core/metrics.hpp"

namespace sweeplab {

struct TrialRow {
  std::string state;  // pending, running, partial, completed, diverged, failed, interrupted, unreadable
  std::optional<EvalRecord> last;
  std::string note;   // pid of the runner, divergence step, error, warnings
};

// Each trial as its files say now (works while a run is going on).
std::vector<TrialRow> trial_rows_from_disk(const ResolvedSweep& sweep, const std::string& experiments_dir);

std::string trial_table(const ResolvedSweep& sweep, const std::vector<TrialRow>& rows);

}  // namespace sweeplab
