#pragma once
// `sweeplab best`: which configuration of a sweep wins by a metric, overall or per value of one swept key. Trials
// that differ only in their seed are one configuration, scored by the metric's mean over its completed seeds
// (export --aggregate's mean); only completed trials compete, the others are counted.
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "sweeplab/store/sweep_state.hpp"

namespace sweeplab {

// What --metric names: a metric of the final evaluation (test_acc, final_test_acc) or the best over the
// evaluations (best_test_acc); val_* are the algorithmic tasks' names for test_*.
// steps_to_<target> (steps_to_test_acc_ge_0.99, or steps_to_target for the first target) ranks by the steps to
// the first evaluation that met a target: fewest wins, and a trial that never reached it counts as never (a
// configuration with such a seed loses to every one whose seeds all reached it).
struct RankingMetric {
  std::string name;    // as shown: "test_acc", "best_test_acc", "steps_to_test_acc_ge_0.99"
  std::string column;  // export's per-trial column: "final_test_acc", "best_test_acc", "steps_to_test_acc_ge_0.99"
  bool higher_is_better = true;
  std::string target;  // steps_to_*: the target as the config writes it ("test_acc >= 0.99"); else ""
};

// The metrics a task's trials can be ranked by, the default first.
std::vector<std::string> ranking_metric_names(const Config& base);

// --metric TEXT for a sweep whose current config is `base` (named `sweep_name`). Throws UserError naming the choices.
RankingMetric parse_ranking_metric(const std::string& text, const Config& base, const std::string& sweep_name);

// --per TEXT: a swept key, or the leaf name of one; never the seed (seeds are averaged over). Throws UserError.
std::string resolve_per(const std::string& per, const std::vector<std::string>& swept, const std::string& sweep_name);

// One configuration's standing, or a value of --per without a completed configuration (no winner).
struct Standing {
  std::string per_value;                     // the --per value it wins for ("" without --per)
  std::vector<std::string> values;           // of the swept keys but the seed (empty: none completed)
  std::optional<double> mean, stderr_;       // of the metric over its completed seeds
  std::vector<std::string> completed_ids;    // its completed trials that have the metric
  std::size_t trials = 0;                    // its trials, whatever their status
  std::map<TrialStatus, std::size_t> others;  // without a winner: the bucket's trials by status
};

struct BestConfigurations {
  RankingMetric metric;
  std::vector<std::string> keys;             // the swept keys but the seed
  std::string per;                           // the --per key, or ""
  std::vector<Standing> winners;             // one overall, or one per value of `per` (in sweep order)
  std::size_t configurations = 0;
  std::map<TrialStatus, std::size_t> totals;  // every trial taking part, by status
};

// The winners among `trials` (rows of `state`, already narrowed by --where). `metric`: "" for the task's default
// (steps to the first target when the config stops trials there, stop.on_target; else the first of
// ranking_metric_names the completed trials recorded). Throws UserError for a metric none recorded.
BestConfigurations best_configurations(const SweepState& state, const std::vector<TrialState>& trials,
                                       const std::string& metric, const std::string& per);

// "2 completed, 1 diverged": counts in the order of kAllStatuses.
std::string status_counts_text(const std::map<TrialStatus, std::size_t>& counts);

}  // namespace sweeplab
