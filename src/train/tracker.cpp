#include "sweeplab/train/tracker.hpp"

namespace sweeplab {

MetricsTracker::MetricsTracker(const std::vector<std::string>& targets, bool classification) {
  for (const auto& text : targets) {
    targets_.push_back(parse_target(text));
    results_.push_back(TargetResult{text});
  }
  for (const std::string metric : {"train_loss", "test_loss"}) best_.push_back(BestMetric{metric});
  if (classification) {
    for (const std::string metric : {"train_acc", "test_acc"}) best_.push_back(BestMetric{metric});
  }
  seen_.assign(best_.size(), false);
}

void MetricsTracker::observe(const EvalRecord& record) {
  for (std::size_t i = 0; i < best_.size(); ++i) {
    const auto value = metric_value(record, best_[i].metric);
    if (!value) continue;
    const bool higher_is_better = best_[i].metric.size() > 4 && best_[i].metric.substr(best_[i].metric.size() - 4) == "_acc";
    if (!seen_[i] || (higher_is_better ? *value > best_[i].value : *value < best_[i].value)) {
      best_[i].value = *value;
      best_[i].step = record.step;
      best_[i].epoch = record.epoch;
      seen_[i] = true;
    }
  }
  for (std::size_t i = 0; i < targets_.size(); ++i) {
    if (results_[i].reached) continue;
    const auto value = metric_value(record, targets_[i].metric);
    if (!value) continue;
    if (targets_[i].at_least ? *value >= targets_[i].value : *value <= targets_[i].value) {
      results_[i].reached = true;
      results_[i].step = record.step;
      results_[i].samples = record.samples;
      results_[i].epoch = record.epoch;
    }
  }
}

std::vector<BestMetric> MetricsTracker::best() const {
  std::vector<BestMetric> seen;
  for (std::size_t i = 0; i < best_.size(); ++i) {
    if (seen_[i]) seen.push_back(best_[i]);
  }
  return seen;
}

bool MetricsTracker::all_targets_reached() const {
  if (results_.empty()) return false;
  for (const auto& result : results_) {
    if (!result.reached) return false;
  }
  return true;
}

}  // namespace sweeplab
