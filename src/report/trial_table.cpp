#include "sweeplab/report/trial_table.hpp"

#include <filesystem>
#include <map>

#include "sweeplab/config/schema.hpp"
#include "sweeplab/core/table.hpp"
#include "sweeplab/core/text.hpp"
#include "sweeplab/store/layout.hpp"
#include "sweeplab/store/lock.hpp"

namespace sweeplab {
namespace {

std::string number(const std::optional<double>& value) { return value ? format_double_short(*value, 4) : "-"; }

// "k of N" in the trial's budget unit.
std::string progress(const Config& config, const std::optional<EvalRecord>& last) {
  const bool in_steps = config.training.steps > 0;
  const std::int64_t done = !last ? 0 : in_steps ? last->step : last->epoch;
  const std::int64_t budget = in_steps ? config.training.steps : config.training.epochs;
  return std::to_string(done) + " of " + std::to_string(budget) + (in_steps ? " steps" : " epochs");
}

}  // namespace

std::vector<TrialRow> trial_rows_from_disk(const ResolvedSweep& sweep, const std::string& experiments_dir) {
  std::vector<TrialRow> rows;
  for (const auto& trial : sweep.trials) {
    const std::string dir = trial_dir(experiments_dir, sweep.spec.name, trial.id);
    const auto summary = read_summary(dir);
    const auto metrics = read_metrics(dir + "/metrics.jsonl");
    TrialRow row;
    row.state = "pending";
    if (!metrics.empty()) row.last = metrics.back();
    if (const auto holder = lock_holder(dir)) {
      row.state = "running";
      row.note = "pid " + std::to_string(*holder);
    } else if (summary) {
      row.state = summary->status;
      if (summary->final) row.last = summary->final;
      if (summary->diverged_at_step) row.note = "diverged at step " + std::to_string(*summary->diverged_at_step);
      if (!summary->error.empty()) row.note = summary->error;
    } else if (!metrics.empty() || std::filesystem::exists(dir + "/checkpoint.pt")) {
      row.state = "partial";
    }
    if (summary) {
      for (const auto& warning : summary->warnings) row.note += (row.note.empty() ? "" : "; ") + warning;
    }
    rows.push_back(std::move(row));
  }
  return rows;
}

std::string trial_table(const ResolvedSweep& sweep, const std::vector<TrialRow>& rows) {
  std::vector<std::string> header = {"#"};
  for (const auto& key : swept_keys(sweep.spec)) header.push_back(find_field(key)->leaf());
  header.insert(header.end(), {"state", "progress", "train_loss", "test_loss", "test_acc", "note"});
  Table table(header);
  std::map<std::string, int> totals;
  for (std::size_t i = 0; i < sweep.trials.size() && i < rows.size(); ++i) {
    const auto& trial = sweep.trials[i];
    const auto& row = rows[i];
    ++totals[row.state];
    std::vector<std::string> cells = {std::to_string(i + 1)};
    for (const auto& swept : trial.swept) cells.push_back(to_short_text(swept.second));
    cells.insert(cells.end(), {row.state, progress(trial.config, row.last), row.last ? number(row.last->train_loss) : "-",
                               row.last ? number(row.last->test_loss) : "-", row.last ? number(row.last->test_acc) : "-",
                               row.note});
    table.add_row(std::move(cells));
  }
  std::vector<std::string> parts;
  for (const char* state : {"completed", "diverged", "running", "partial", "interrupted", "failed", "pending", "unreadable"}) {
    if (totals.count(state)) parts.push_back(std::to_string(totals[state]) + " " + state);
  }
  return table.str() + std::to_string(sweep.trials.size()) + " trials: " + join(parts, ", ") + "\n";
}

}  // namespace sweeplab
