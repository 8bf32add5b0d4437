#pragma once
// Follows a trial's evaluations: best values and the first step at which each target is reached.
#include <vector>

#include "sweeplab/config/config.hpp"
#include "sweeplab/core/metrics.hpp"

namespace sweeplab {

class MetricsTracker {
 public:
  // Best values of train_loss and test_loss (+ train_acc and test_acc for classification).
  MetricsTracker(const std::vector<std::string>& targets, bool classification);
  // Best values of the metrics named (e.g. doublegoal's train_loss, episode_return, greedy_return, greedy_length).
  MetricsTracker(const std::vector<std::string>& targets, const std::vector<std::string>& best_metrics);
  void observe(const EvalRecord& record);
  bool all_targets_reached() const;
  std::vector<BestMetric> best() const;  // the metrics seen at least once
  const std::vector<TargetResult>& targets() const { return results_; }

  // Exact text form for checkpoints; restore() throws std::runtime_error on a mismatched text.
  std::string save() const;
  void restore(const std::string& text);

 private:
  std::vector<Target> targets_;
  std::vector<TargetResult> results_;
  std::vector<BestMetric> best_;
  std::vector<bool> seen_;
};

}  // namespace sweeplab
