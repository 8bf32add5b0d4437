#include "sweeplab/core/metrics.hpp"

#include <cmath>

namespace sweeplab {

namespace {
bool ends_with(const std::string& text, const std::string& suffix) {
  return text.size() >= suffix.size() && text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}
}  // namespace

bool higher_is_better(const std::string& metric) {
  return ends_with(metric, "_acc") || ends_with(metric, "_return") || ends_with(metric, "_fraction");
}

const std::vector<std::string>& reinforcement_metrics() {
  static const std::vector<std::string> names = {"train_loss", "episode_return", "greedy_return", "greedy_length",
                                                 "greedy_optimal_fraction"};
  return names;
}

std::optional<double> metric_value(const EvalRecord& record, const std::string& metric) {
  if (record.diverged) return std::nullopt;
  // A train_loss that is not a number: no update since the last evaluation (doublegoal before learning starts).
  if (metric == "train_loss") return std::isnan(record.train_loss) ? std::nullopt : std::optional<double>(record.train_loss);
  if (metric == "episode_return") return record.episode_return;
  if (metric == "epsilon") return record.epsilon;
  if (metric == "greedy_return") return record.greedy_return;
  if (metric == "greedy_optimal_fraction") return record.greedy_optimal_fraction;
  if (metric == "greedy_length") {
    return record.greedy_length ? std::optional<double>(double(*record.greedy_length)) : std::nullopt;
  }
  if (metric == "test_loss" || metric == "val_loss") return record.test_loss;  // val_*: the grokking study's name for it
  if (metric == "train_acc") return record.train_acc;
  if (metric == "noise_scale") return record.noise_scale;
  if (metric == "test_acc" || metric == "val_acc") return record.test_acc;
  return std::nullopt;
}

std::string to_string(TrialStatus status) {
  switch (status) {
    case TrialStatus::Pending: return "pending";
    case TrialStatus::Running: return "running";
    case TrialStatus::Partial: return "partial";
    case TrialStatus::Interrupted: return "interrupted";
    case TrialStatus::Completed: return "completed";
    case TrialStatus::Diverged: return "diverged";
    case TrialStatus::Failed: return "failed";
    case TrialStatus::Skipped: return "skipped";
    case TrialStatus::Unreadable: return "unreadable";
  }
  return "?";
}

std::optional<TrialStatus> parse_status(std::string_view word) {
  for (const TrialStatus status : kAllStatuses) {
    if (word == to_string(status)) return status;
  }
  return std::nullopt;
}

}  // namespace sweeplab
