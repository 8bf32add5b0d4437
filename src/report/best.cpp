#include "sweeplab/report/best.hpp"

#include <algorithm>
#include <cmath>

#include "sweeplab/config/schema.hpp"
#include "sweeplab/core/error.hpp"
#include "sweeplab/core/text.hpp"
#include "sweeplab/report/results.hpp"

namespace sweeplab {
namespace {

const char* const kSeedKey = "training.seed";

RankingMetric make_metric(const std::string& kind, const std::string& base_name) {
  RankingMetric metric;
  metric.name = (kind == "best_" ? "best_" : "") + base_name;
  metric.column = kind + base_name;
  metric.higher_is_better = higher_is_better(base_name);
  return metric;
}

std::size_t column_of(const ExportTable& table, const std::string& name) {
  const auto at = std::find(table.columns.begin(), table.columns.end(), name);
  if (at == table.columns.end()) throw InternalError("best: no column " + name);
  return std::size_t(at - table.columns.begin());
}

// The values of a configuration's swept keys but the seed, as one string: the key of its seed group.
std::string group_key(const ExportTable& table, std::size_t row, const std::vector<std::size_t>& columns) {
  std::string key;
  for (const auto c : columns) key += cell_text(table.rows[row][c]) + "\x1f";
  return key;
}

}  // namespace

std::vector<std::string> ranking_metric_names(const Config& base) {
  if (is_reinforcement_task(base.task.name)) return {"greedy_optimal_fraction", "greedy_length", "episode_return", "train_loss"};
  if (is_classification_task(base.task.name)) return {"test_acc", "test_loss", "train_acc", "train_loss"};
  return {"test_loss", "train_loss"};
}

RankingMetric steps_to_metric(const std::string& target) {
  RankingMetric metric;
  metric.column = metric.name = "steps_to_" + target_column(target);
  metric.higher_is_better = false;
  metric.target = target;
  return metric;
}

RankingMetric parse_ranking_metric(const std::string& text, const Config& base, const std::string& sweep_name) {
  const auto valid = ranking_metric_names(base);
  if (text.rfind("steps_to_", 0) == 0) {
    std::vector<std::string> names;
    for (const auto& target : base.targets) {
      names.push_back("steps_to_" + target_column(target));
      if (names.back() == text || (text == "steps_to_target" && &target == &base.targets.front())) return steps_to_metric(target);
    }
    if (base.targets.empty()) {
      throw UserError("--metric " + text + ": sweep " + sweep_name + " has no targets (add e.g. targets: ['test_acc >= 0.99'] "
                      "and run it)");
    }
    throw UserError("--metric " + text + ": no such target" + did_you_mean(text, names) + "; sweep " + sweep_name +
                    " has " + join(names, ", ") + " (or steps_to_target for the first)");
  }
  std::string kind = "final_", rest = text;
  for (const char* prefix : {"final_", "best_"}) {
    if (rest.rfind(prefix, 0) == 0) {
      kind = prefix;
      rest = rest.substr(std::string(prefix).size());
      break;
    }
  }
  if (rest == "val_loss") rest = "test_loss";
  if (rest == "val_acc") rest = "test_acc";
  if (std::find(valid.begin(), valid.end(), rest) != valid.end()) return make_metric(kind, rest);
  std::vector<std::string> choices = valid;
  for (const auto& name : valid) choices.push_back("best_" + name);
  for (const auto& target : base.targets) choices.push_back("steps_to_" + target_column(target));
  const bool accuracy_of_regression = (rest == "test_acc" || rest == "train_acc");
  throw UserError("--metric " + text + ": " +
                  (accuracy_of_regression ? "task " + base.task.name + " is a regression and has no accuracy"
                                          : std::string("unknown metric") + did_you_mean(text, choices)) +
                  "; sweep " + sweep_name + " has " + join(valid, ", ") +
                  " (of the final evaluation; best_M: the best over the evaluations)" +
                  (base.targets.empty() ? "" : " and steps_to_target (the steps to its first target)"));
}

std::string resolve_per(const std::string& per, const std::vector<std::string>& swept, const std::string& sweep_name) {
  std::vector<std::string> axes;
  for (const auto& key : swept) {
    if (key != kSeedKey) axes.push_back(key);
  }
  const std::string listed = axes.empty() ? "none but the seed" : join(axes, ", ");
  std::string key;
  if (std::find(swept.begin(), swept.end(), per) != swept.end()) {
    key = per;
  } else {
    std::vector<std::string> leaves;
    for (const auto& candidate : swept) {
      if (candidate.substr(candidate.rfind('.') + 1) == per) leaves.push_back(candidate);
    }
    if (leaves.size() == 1) key = leaves.front();
  }
  if (key == kSeedKey) {
    throw UserError("--per " + per + ": the seeds of a configuration are averaged, not compared; --per takes another "
                    "swept key of sweep " + sweep_name + " (" + listed + ")");
  }
  if (!key.empty()) return key;
  std::string full;
  if (find_field(per)) full = per;
  else if (keys_with_leaf(per).size() == 1) full = keys_with_leaf(per).front();
  if (!full.empty()) {
    throw UserError("--per " + per + ": " + full + " is not swept in sweep " + sweep_name +
                    " (its swept keys: " + listed + ")" + (axes.empty() ? "" : "; try --per " + axes.front()));
  }
  std::string suggestion = did_you_mean(per, axes);
  if (suggestion.empty()) {  // "batch" for training.batch_size: a part of one leaf name
    std::vector<std::string> containing;
    for (const auto& axis : axes) {
      if (!per.empty() && axis.substr(axis.rfind('.') + 1).find(per) != std::string::npos) containing.push_back(axis);
    }
    if (containing.size() == 1) suggestion = " (did you mean '" + containing.front() + "'?)";
  }
  throw UserError("--per " + per + ": unknown key" + suggestion + "; the swept keys of sweep " + sweep_name + ": " +
                  listed);
}

std::string status_counts_text(const std::map<TrialStatus, std::size_t>& counts) {
  std::vector<std::string> parts;
  for (const TrialStatus status : kAllStatuses) {
    const auto found = counts.find(status);
    if (found != counts.end() && found->second > 0) parts.push_back(std::to_string(found->second) + " " + to_string(status));
  }
  return join(parts, ", ");
}

BestConfigurations best_configurations(const SweepState& state, const std::vector<TrialState>& trials,
                                       const std::string& metric_text, const std::string& per_text) {
  BestConfigurations best;
  const auto swept = state.keys();
  const std::string& name = state.spec.name;
  best.per = per_text.empty() ? "" : resolve_per(per_text, swept, name);
  std::optional<RankingMetric> metric;
  if (!metric_text.empty()) metric = parse_ranking_metric(metric_text, state.spec.base, name);

  std::vector<TrialState> completed;
  for (const auto& trial : trials) {
    if (trial.status == TrialStatus::Completed) completed.push_back(trial);
  }
  const ExportTable all = export_trials(state.spec, trials);
  const ExportTable done = export_trials(state.spec, completed);
  if (!metric && state.spec.base.stop.on_target && !state.spec.base.targets.empty()) {
    // Trials that stop at their target all end near it: what tells them apart is how soon they got there.
    metric = steps_to_metric(state.spec.base.targets.front());
  }
  if (!metric) {  // the task's first metric the trials have, else train_loss
    for (const auto& candidate : ranking_metric_names(state.spec.base)) {
      if (candidate == "train_acc") continue;
      bool any = done.rows.empty();
      for (std::size_t r = 0; r < done.rows.size() && !any; ++r) any = done.number(r, "final_" + candidate).has_value();
      if (any) {
        metric = make_metric("final_", candidate);
        break;
      }
    }
    if (!metric) metric = make_metric("final_", "train_loss");
  } else if (!done.rows.empty() && metric->target.empty()) {
    bool any = false;
    for (std::size_t r = 0; r < done.rows.size() && !any; ++r) any = done.number(r, metric->column).has_value();
    if (!any) {
      throw UserError("--metric " + metric_text + ": none of the " + std::to_string(done.rows.size()) +
                      " completed trials of sweep " + name + " recorded it" +
                      (metric->column.find("test_") != std::string::npos ? " (no test set?)" : "") +
                      "; try --metric train_loss");
    }
  }
  best.metric = *metric;

  // Configurations in sweep order, with their trials counted by status; the metric over the completed seeds.
  for (const auto& key : swept) {
    if (key != kSeedKey) best.keys.push_back(key);
  }
  std::vector<std::size_t> all_columns, done_columns;
  for (const auto& key : best.keys) {
    all_columns.push_back(column_of(all, key));
    done_columns.push_back(column_of(done, key));
  }
  std::vector<Standing> groups;
  std::map<std::string, std::size_t> index;
  for (std::size_t r = 0; r < all.rows.size(); ++r) {
    auto [at, added] = index.emplace(group_key(all, r, all_columns), groups.size());
    if (added) {
      Standing group;
      for (const auto& [key, value] : swept_values(trials[r], best.keys)) group.values.push_back(to_short_text(value));
      groups.push_back(std::move(group));
    }
    ++groups[at->second].others[trials[r].status];
    ++groups[at->second].trials;
    ++best.totals[trials[r].status];
  }
  best.configurations = groups.size();
  const std::size_t id_column = column_of(done, "trial_id");
  const bool steps_to = !best.metric.target.empty();
  std::map<std::size_t, std::vector<double>> steps;  // steps_to: each group's completed seeds, never = infinity
  for (std::size_t r = 0; r < done.rows.size(); ++r) {
    const std::size_t g = index.at(group_key(done, r, done_columns));
    if (steps_to) steps[g].push_back(done.number(r, best.metric.column).value_or(INFINITY));
    else if (!done.number(r, best.metric.column)) continue;
    groups[g].completed_ids.push_back(cell_text(done.rows[r][id_column]));
  }
  // The mean and stderr over the completed seeds, as export --aggregate computes them.
  const ExportTable aggregated = aggregate_seeds(state.spec, done);
  std::vector<std::size_t> aggregated_columns;
  for (const auto& key : best.keys) aggregated_columns.push_back(column_of(aggregated, key));
  for (std::size_t r = 0; r < aggregated.rows.size() && !steps_to; ++r) {
    Standing& group = groups[index.at(group_key(aggregated, r, aggregated_columns))];
    group.mean = aggregated.number(r, best.metric.column + "_mean");
    group.stderr_ = aggregated.number(r, best.metric.column + "_stderr");
  }
  for (const auto& [g, values] : steps) {  // a seed that never reached the target makes its configuration's mean never
    const bool all_reached = std::all_of(values.begin(), values.end(), [](double v) { return std::isfinite(v); });
    const auto stats = mean_stderr(values);
    groups[g].mean = all_reached ? stats.mean : INFINITY;
    if (all_reached) groups[g].stderr_ = stats.stderr_;
  }
  const auto better = [&](const Standing& a, const Standing& b) {
    return best.metric.higher_is_better ? *a.mean > *b.mean : *a.mean < *b.mean;
  };

  // The winners: one overall, or one per value of the --per key (in sweep order).
  std::vector<std::pair<std::string, std::vector<std::size_t>>> buckets;  // (value of --per, its groups)
  const std::size_t per_position =
      best.per.empty() ? 0 : std::size_t(std::find(best.keys.begin(), best.keys.end(), best.per) - best.keys.begin());
  for (std::size_t g = 0; g < groups.size(); ++g) {
    const std::string value = best.per.empty() ? "" : groups[g].values[per_position];
    auto found = std::find_if(buckets.begin(), buckets.end(), [&](const auto& b) { return b.first == value; });
    if (found == buckets.end()) {
      buckets.push_back({value, {}});
      found = buckets.end() - 1;
    }
    found->second.push_back(g);
  }
  for (const auto& [value, members] : buckets) {
    std::optional<std::size_t> winner;
    std::map<TrialStatus, std::size_t> counts;
    for (auto g : members) {
      for (const auto& [status, n] : groups[g].others) counts[status] += n;
      if (groups[g].mean && (!winner || better(groups[g], groups[*winner]))) winner = g;
    }
    Standing standing;
    if (winner) {
      standing = groups[*winner];
      standing.others.clear();
    } else {
      for (const auto& [status, n] : counts) standing.trials += n;
      standing.others = counts;
    }
    standing.per_value = value;
    best.winners.push_back(std::move(standing));
  }
  return best;
}

}  // namespace sweeplab
