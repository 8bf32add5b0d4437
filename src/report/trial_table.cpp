#include "sweeplab/report/trial_table.hpp"

#include <algorithm>
#include <map>

#include "sweeplab/config/schema.hpp"
#include "sweeplab/core/table.hpp"
#include "sweeplab/core/text.hpp"

namespace sweeplab {
namespace {

std::string number(const std::optional<double>& value) { return value ? format_double_short(*value, 4) : "-"; }

// "k of N" in the budget unit of the config the trial was run with; a diverged trial says where it stopped.
std::string progress(const TrialState& trial) {
  static const std::size_t samples = field_index("training.samples"), steps = field_index("training.steps");
  const bool in_samples = std::get<std::int64_t>(trial.config.get(samples)) > 0,
             in_steps = !in_samples && std::get<std::int64_t>(trial.config.get(steps)) > 0;
  const CompactConfig& config = trial.config;
  const auto last = trial.last();
  std::int64_t done = !last ? 0 : in_samples ? last->samples : in_steps ? last->step : last->epoch;
  if (trial.summary && trial.summary->status != TrialStatus::Unreadable) {
    done = in_samples ? trial.summary->samples : in_steps ? trial.summary->steps : trial.summary->epochs;
  }
  if (trial.status == TrialStatus::Skipped) return "-";  // never trained (sweep.prune)
  std::string text = std::to_string(done) + " of " + budget_text(config);
  if (trial.summary && trial.summary->diverged_at_step) {
    text = "step " + std::to_string(*trial.summary->diverged_at_step) + (in_steps ? " of " + budget_text(config) : "");
  }
  return text;
}

std::string note(const TrialState& trial, const CompactConfig* asked) {
  std::vector<std::string> parts;
  if (trial.running_pid) parts.push_back("pid " + std::to_string(*trial.running_pid));
  if (!trial.problem.empty()) parts.push_back(trial.problem);
  if (trial.summary) {
    if (trial.summary->diverged_at_step) parts.push_back("diverged at step " + std::to_string(*trial.summary->diverged_at_step));
    if (!trial.summary->error.empty()) parts.push_back(trial.summary->error);
    if (!trial.summary->skip_reason.empty()) parts.push_back(trial.summary->skip_reason);
    for (const auto& warning : trial.summary->warnings) parts.push_back(warning);
  }
  if (trial.unreadable_lines > 0) {
    parts.push_back(std::to_string(trial.unreadable_lines) + " unreadable line" + (trial.unreadable_lines == 1 ? "" : "s") +
                    " in metrics.jsonl");
  }
  if (asked && trial.has_files && budget_text(*asked) != budget_text(trial.config)) {
    parts.push_back("the config now asks for " + budget_text(*asked));
  }
  return join(parts, "; ");
}

}  // namespace

std::string trial_table(const SweepState& state, const ResolvedSweep& current,
                        const std::map<std::string, std::string>& slurm, const std::vector<std::size_t>& rows) {
  const auto keys = state.keys();
  std::vector<std::string> header = {"#", "trial"};
  // The leaf names a column ("batch_size"), unless two swept keys share it (task.name, batch_schedule.name): then
  // the full key.
  for (const auto& key : keys) {
    const std::string leaf = find_field(key)->leaf();
    const auto same_leaf = std::count_if(keys.begin(), keys.end(), [&](const std::string& other) { return find_field(other)->leaf() == leaf; });
    header.push_back(same_leaf > 1 ? key : leaf);
  }
  // The last evaluation's metrics: DQN's (doublegoal) are its greedy episode's length and share of optimal starts.
  const bool reinforcement = is_reinforcement_task(state.spec.base.task.name);
  if (reinforcement) header.insert(header.end(), {"state", "progress", "train_loss", "greedy_length", "optimal_starts"});
  else header.insert(header.end(), {"state", "progress", "train_loss", "test_loss", "test_acc"});
  if (!slurm.empty()) header.push_back("slurm");
  header.push_back("note");
  Table table(header);
  std::map<TrialStatus, int> totals;
  std::vector<std::size_t> shown = rows;
  if (rows.empty()) {
    shown.resize(state.trials.size());
    for (std::size_t i = 0; i < shown.size(); ++i) shown[i] = i;
  }
  for (const std::size_t i : shown) {
    const auto& trial = state.trials.at(i);
    ++totals[trial.status];
    std::vector<std::string> cells = {std::to_string(i + 1), trial.id};
    for (const auto& swept : swept_values(trial, keys)) cells.push_back(to_short_text(swept.second));
    const auto last = trial.last();
    const std::string status = to_string(trial.status);
    if (reinforcement) {
      cells.insert(cells.end(), {status, progress(trial), last ? number(last->train_loss) : "-",
                                 last && last->greedy_length ? std::to_string(*last->greedy_length) : "-",
                                 last ? number(last->greedy_optimal_fraction) : "-"});
    } else {
      cells.insert(cells.end(), {status, progress(trial), last ? number(last->train_loss) : "-",
                                 last ? number(last->test_loss) : "-", last ? number(last->test_acc) : "-"});
    }
    if (!slurm.empty()) {
      const auto task = slurm.find(trial.id);
      cells.push_back(task == slurm.end() ? "-" : task->second);
    }
    const auto asked = state.current_of(i);
    std::string notes = note(trial, asked ? &current.trials[*asked].config : nullptr);
    // sweep.refine's trials follow the grid's in the current config.
    const std::size_t grid = current.trials.size() - current.spec.refined.size();
    if (asked && *asked >= grid) {
      notes = "refined, wave " + std::to_string(current.spec.refined.at(*asked - grid).wave) + (notes.empty() ? "" : "; " + notes);
    }
    cells.push_back(notes);
    table.add_row(std::move(cells));
  }
  std::vector<std::string> parts;
  for (const TrialStatus status : kAllStatuses) {
    if (totals.count(status)) parts.push_back(std::to_string(totals[status]) + " " + to_string(status));
  }
  std::size_t refined = 0;
  for (const std::size_t i : shown) {
    const auto asked = state.current_of(i);
    refined += asked && *asked >= current.trials.size() - current.spec.refined.size() ? 1 : 0;
  }
  if (refined > 0) parts.push_back(std::to_string(refined) + " refined");
  return table.str() + std::to_string(shown.size()) + " trial" + (shown.size() == 1 ? "" : "s") + ": " + join(parts, ", ") +
         "\n";
}

}  // namespace sweeplab
