// sweeplab best: the best configuration of a sweep, overall or per value of one swept key.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <map>
#include <ostream>

#include "commands.hpp"
#include "sweeplab/config/loader.hpp"
#include "sweeplab/config/schema.hpp"
#include "sweeplab/core/error.hpp"
#include "sweeplab/core/table.hpp"
#include "sweeplab/core/text.hpp"
#include "sweeplab/report/results.hpp"
#include "sweeplab/store/sweep_state.hpp"
#include "where.hpp"

namespace sweeplab {
namespace {

const char* const kSeedKey = "training.seed";

// What --metric names: a metric of the final evaluation (test_acc, final_test_acc) or the best over the
// evaluations (best_test_acc); val_* are seed 003's names for test_*.
struct Metric {
  std::string name;    // as shown: "test_acc" or "best_test_acc"
  std::string column;  // export's per-trial column: "final_test_acc" or "best_test_acc"
  bool higher_is_better = true;
};

std::vector<std::string> metric_names_of(const Config& base) {
  if (is_reinforcement_task(base.task.name)) return {"greedy_optimal_fraction", "greedy_length", "episode_return", "train_loss"};
  if (is_classification_task(base.task.name)) return {"test_acc", "test_loss", "train_acc", "train_loss"};
  return {"test_loss", "train_loss"};
}

Metric make_metric(const std::string& kind, const std::string& base_name) {
  Metric metric;
  metric.name = (kind == "best_" ? "best_" : "") + base_name;
  metric.column = kind + base_name;
  metric.higher_is_better = higher_is_better(base_name);
  return metric;
}

Metric parse_metric(const std::string& text, const ResolvedSweep& sweep) {
  const auto valid = metric_names_of(sweep.spec.base);
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
  const bool accuracy_of_regression = (rest == "test_acc" || rest == "train_acc");
  throw UserError("--metric " + text + ": " +
                  (accuracy_of_regression ? "task " + sweep.spec.base.task.name + " is a regression and has no accuracy"
                                          : std::string("unknown metric") + did_you_mean(text, choices)) +
                  "; sweep " + sweep.spec.name + " has " + join(valid, ", ") +
                  " (of the final evaluation; best_M: the best over the evaluations)");
}

// The key --per names: a swept key, or the leaf name of one; never the seed (seeds are averaged over).
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


std::size_t column_of(const ExportTable& table, const std::string& name) {
  const auto at = std::find(table.columns.begin(), table.columns.end(), name);
  if (at == table.columns.end()) throw InternalError("best: no column " + name);
  return std::size_t(at - table.columns.begin());
}

// The values of a configuration's swept keys but the seed, as one string: the key of its seed group.
std::string group_key(const ExportTable& table, std::size_t row, const std::vector<std::string>& keys) {
  std::string key;
  for (const auto& k : keys) key += cell_text(table.rows[row][column_of(table, k)]) + "\x1f";
  return key;
}

// One configuration (the trials that differ only in their seed).
struct Group {
  std::vector<std::string> values;           // of the swept keys but the seed
  std::vector<std::string> completed_ids;    // its completed trials that have the metric
  std::map<std::string, std::size_t> by_status;
  std::size_t trials = 0;
  std::optional<double> mean, stderr_;       // of the metric over completed_ids (aggregate_seeds)
};

std::string counts_text(const std::map<std::string, std::size_t>& by_status) {
  std::vector<std::string> parts;
  for (const char* status : {"completed", "diverged", "failed", "skipped", "interrupted", "partial", "running", "pending",
                             "unreadable"}) {
    const auto found = by_status.find(status);
    if (found != by_status.end() && found->second > 0) parts.push_back(std::to_string(found->second) + " " + status);
  }
  return join(parts, ", ");
}

std::string ids_text(const std::vector<std::string>& ids) {
  if (ids.size() <= 3) return join(ids, " ");
  return ids[0] + " " + ids[1] + " ... (+" + std::to_string(ids.size() - 2) + ")";
}

std::string short_number(double value) { return format_double_short(value, 4); }

}  // namespace

CLI::App* setup_best(CLI::App& app, BestOptions& options) {
  CLI::App* command = app.add_subcommand(
      "best", "The best configuration of a sweep by a metric of its final evaluation, overall or per value of a swept key");
  command->add_option("name", options.name, "Sweep name")->required();
  add_override_option(*command, options.overrides);
  command->add_option("--metric", options.metric,
                      "train_loss, test_loss, train_acc, test_acc (of the final evaluation), or best_M (the best "
                      "over the evaluations); doublegoal: greedy_optimal_fraction, greedy_length, episode_return; default test_acc for a "
                      "classification task, greedy_optimal_fraction for doublegoal, else test_loss");
  command->add_option("--per", options.per,
                      "A swept key (or its leaf name, e.g. batch_size): one row per value of it, with the best "
                      "configuration for that value");
  add_where_option(*command, options.where);
  command->footer(
      "Which configuration wins: trials that differ only in training.seed form one configuration, scored by the "
      "mean of the metric over its completed seeds (export --aggregate's mean; stderr = std/sqrt(n)). Lower is "
      "better for a loss, higher for an accuracy; ties go to the first in sweep order. Only completed trials "
      "compete: diverged, failed, skipped, interrupted, running and pending ones never win but are counted (the "
      "seeds column says '2 of 3' when some did not complete). Trials on disk that the current config (YAML + -o) "
      "no longer has are left out.\n\n"
      "Examples:\n  sweeplab best doughnut-batch\n  sweeplab best poly-teacher-batch-eta --per batch_size\n"
      "  sweeplab best doughnut-batch --metric best_test_acc --where lr=0.001");
  return command;
}

int run_best(const GlobalOptions& global, const BestOptions& options, std::ostream& out, std::ostream&) {
  const auto filters = parse_where(options.where);
  const auto sweep = load_sweep(global.configs_dir, options.name, options.overrides, load_options(global));
  const SweepState state = read_sweep_state(sweep, global.experiments_dir);
  const auto swept = swept_keys(state.sweep.spec);
  const std::string per = options.per.empty() ? "" : resolve_per(options.per, swept, sweep.spec.name);
  std::optional<Metric> metric;
  if (!options.metric.empty()) metric = parse_metric(options.metric, state.sweep);

  // The trials that take part: in the current config and matching every --where.
  std::vector<TrialState> chosen;
  std::size_t outside = 0;
  for (const auto& trial : state.trials) {
    if (!trial.in_current) {
      ++outside;
    } else if (matches(trial.spec.config, filters)) {
      chosen.push_back(trial);
    }
  }
  if (chosen.empty()) {
    throw UserError("--where " + join(options.where, " --where ") + ": no trial of sweep " + sweep.spec.name +
                    " matches (" + values_there_are(filters, state.trials) + ")");
  }
  std::vector<TrialState> completed;
  for (const auto& trial : chosen) {
    if (trial.status == "completed") completed.push_back(trial);
  }
  const ExportTable all = export_trials(state.sweep, chosen);
  const ExportTable done = export_trials(state.sweep, completed);
  if (!metric) {  // the task's first metric the trials have (metric_names_of), else train_loss
    for (const auto& name : metric_names_of(state.sweep.spec.base)) {
      if (name == "train_acc") continue;
      bool any = done.rows.empty();
      for (std::size_t r = 0; r < done.rows.size() && !any; ++r) any = done.number(r, "final_" + name).has_value();
      if (any) {
        metric = make_metric("final_", name);
        break;
      }
    }
    if (!metric) metric = make_metric("final_", "train_loss");
  } else if (!done.rows.empty()) {
    bool any = false;
    for (std::size_t r = 0; r < done.rows.size() && !any; ++r) any = done.number(r, metric->column).has_value();
    if (!any) {
      throw UserError("--metric " + options.metric + ": none of the " + std::to_string(done.rows.size()) +
                      " completed trials of sweep " + sweep.spec.name + " recorded it" +
                      (metric->column.find("test_") != std::string::npos ? " (no test set?)" : "") +
                      "; try --metric train_loss");
    }
  }

  // Configurations in sweep order, with their trials counted by status; the metric over the completed seeds.
  std::vector<std::string> keys;
  for (const auto& key : swept) {
    if (key != kSeedKey) keys.push_back(key);
  }
  std::vector<Group> groups;
  std::map<std::string, std::size_t> index;
  std::map<std::string, std::size_t> totals;
  const std::size_t status_column = column_of(all, "status");
  for (std::size_t r = 0; r < all.rows.size(); ++r) {
    auto [at, added] = index.emplace(group_key(all, r, keys), groups.size());
    if (added) {
      Group group;
      for (const auto& key : keys) {  // as status shows them: 1000, not 1000.0
        std::string text = cell_text(all.rows[r][column_of(all, key)]);
        for (const auto& [swept_key, value] : chosen[r].spec.swept) {
          if (swept_key == key) text = to_short_text(value);
        }
        group.values.push_back(text);
      }
      groups.push_back(group);
    }
    const std::string status = cell_text(all.rows[r][status_column]);
    ++groups[at->second].by_status[status];
    ++groups[at->second].trials;
    ++totals[status];
  }
  const std::size_t id_column = column_of(done, "trial_id");
  for (std::size_t r = 0; r < done.rows.size(); ++r) {
    if (!done.number(r, metric->column)) continue;
    groups[index.at(group_key(done, r, keys))].completed_ids.push_back(cell_text(done.rows[r][id_column]));
  }
  // The mean and stderr over the completed seeds, as export --aggregate computes them.
  const ExportTable aggregated = aggregate_seeds(state.sweep, done);
  for (std::size_t r = 0; r < aggregated.rows.size(); ++r) {
    Group& group = groups[index.at(group_key(aggregated, r, keys))];
    group.mean = aggregated.number(r, metric->column + "_mean");
    group.stderr_ = aggregated.number(r, metric->column + "_stderr");
  }
  const auto better = [&](const Group& a, const Group& b) {
    return metric->higher_is_better ? *a.mean > *b.mean : *a.mean < *b.mean;
  };

  // The winners: one overall, or one per value of the --per key (in sweep order).
  std::vector<std::pair<std::string, std::vector<std::size_t>>> buckets;  // (value of --per, its groups)
  const std::size_t per_position =
      per.empty() ? 0 : std::size_t(std::find(keys.begin(), keys.end(), per) - keys.begin());
  for (std::size_t g = 0; g < groups.size(); ++g) {
    const std::string value = per.empty() ? "" : groups[g].values[per_position];
    auto found = std::find_if(buckets.begin(), buckets.end(), [&](const auto& b) { return b.first == value; });
    if (found == buckets.end()) {
      buckets.push_back({value, {}});
      found = buckets.end() - 1;
    }
    found->second.push_back(g);
  }

  std::vector<std::string> header;
  if (!per.empty()) header.push_back(per);
  for (const auto& key : keys) {
    if (key != per) header.push_back(key);
  }
  header.insert(header.end(), {metric->name, "stderr", "seeds", "trials"});
  Table table(header);
  std::size_t winners = 0;
  for (const auto& [value, members] : buckets) {
    std::optional<std::size_t> best;
    std::map<std::string, std::size_t> counts;
    for (auto g : members) {
      for (const auto& [status, n] : groups[g].by_status) counts[status] += n;
      if (groups[g].mean && (!best || better(groups[g], groups[*best]))) best = g;
    }
    std::vector<std::string> row;
    if (!per.empty()) row.push_back(value);
    if (!best) {
      for (std::size_t k = 0; k < keys.size(); ++k) {
        if (keys[k] != per) row.push_back("-");
      }
      std::size_t n = 0;
      for (const auto& entry : counts) n += entry.second;
      row.insert(row.end(), {"-", "-", "0 of " + std::to_string(n), "none completed (" + counts_text(counts) + ")"});
      table.add_row(row);
      continue;
    }
    ++winners;
    const Group& group = groups[*best];
    for (std::size_t k = 0; k < keys.size(); ++k) {
      if (keys[k] != per) row.push_back(group.values[k]);
    }
    row.push_back(short_number(*group.mean));
    row.push_back(group.stderr_ ? short_number(*group.stderr_) : "-");
    const std::size_t n = group.completed_ids.size();
    row.push_back(n == group.trials ? std::to_string(n) : std::to_string(n) + " of " + std::to_string(group.trials));
    row.push_back(ids_text(group.completed_ids));
    table.add_row(row);
  }

  std::size_t total = 0;
  for (const auto& [status, n] : totals) total += n;
  out << "best configuration of sweep " << sweep.spec.name << " by " << metric->name << (per.empty() ? "" : ", per " + per) << " ("
      << (metric->column.rfind("best_", 0) == 0 ? "the best over the evaluations" : "final evaluation") << ", "
      << (metric->higher_is_better ? "higher" : "lower") << " is better; mean over the completed seeds)\n";
  if (winners == 0) {
    out << "no configuration has a completed trial with " << metric->name << " yet (" << total << " trial"
        << (total == 1 ? "" : "s") << ": " << counts_text(totals) << ")\n";
    return 0;
  }
  out << table.str();
  out << total << " trial" << (total == 1 ? "" : "s") << " in " << groups.size() << " configuration"
      << (groups.size() == 1 ? "" : "s") << ": " << counts_text(totals) << "; only completed trials compete";
  if (outside > 0) out << "; " << outside << " on disk that the current config no longer has are left out";
  out << "\n";
  return 0;
}

}  // namespace sweeplab
