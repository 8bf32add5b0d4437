#include "sweeplab/training/tracker.hpp"

#include <cstdio>
#include <sstream>
#include <stdexcept>

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

MetricsTracker::MetricsTracker(const std::vector<std::string>& targets, const std::vector<std::string>& best_metrics)
    : MetricsTracker(targets, false) {
  best_.clear();
  for (const auto& metric : best_metrics) best_.push_back(BestMetric{metric});
  seen_.assign(best_.size(), false);
}

void MetricsTracker::observe(const EvalRecord& record) {
  for (std::size_t i = 0; i < best_.size(); ++i) {
    const auto value = metric_value(record, best_[i].metric);
    if (!value) continue;
    const bool higher = higher_is_better(best_[i].metric);
    if (!seen_[i] || (higher ? *value > best_[i].value : *value < best_[i].value)) {
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

std::string MetricsTracker::save() const {
  std::ostringstream out;
  char value[64];
  for (std::size_t i = 0; i < best_.size(); ++i) {
    std::snprintf(value, sizeof value, "%a", best_[i].value);
    out << "best " << best_[i].metric << " " << seen_[i] << " " << value << " " << best_[i].step << " " << best_[i].epoch << ";";
  }
  for (const auto& result : results_) {
    out << "target " << result.reached << " " << result.step << " " << result.samples << " " << result.epoch << ";";
  }
  return out.str();
}

void MetricsTracker::restore(const std::string& text) {
  std::istringstream in(text);
  std::size_t best_index = 0, target_index = 0;
  for (std::string item; std::getline(in, item, ';');) {
    std::istringstream fields(item);
    std::string kind;
    fields >> kind;
    if (kind == "best" && best_index < best_.size()) {
      std::string metric, value;
      bool seen = false;
      fields >> metric >> seen >> value >> best_[best_index].step >> best_[best_index].epoch;
      if (metric != best_[best_index].metric) throw std::runtime_error("tracker: metric " + metric + " out of place");
      best_[best_index].value = std::strtod(value.c_str(), nullptr);
      seen_[best_index++] = seen;
    } else if (kind == "target" && target_index < results_.size()) {
      auto& result = results_[target_index++];
      fields >> result.reached >> result.step >> result.samples >> result.epoch;
    } else {
      throw std::runtime_error("tracker: unexpected '" + item.substr(0, 40) + "'");
    }
    if (fields.fail()) throw std::runtime_error("tracker: malformed '" + item.substr(0, 40) + "'");
  }
  if (best_index != best_.size() || target_index != results_.size()) throw std::runtime_error("tracker: incomplete state");
}

}  // namespace sweeplab
