// sweeplab best: the best configuration of a sweep, overall or per value of one swept key (report/best.hpp).
#include <CLI/CLI.hpp>

#include <cmath>
#include <ostream>

#include "commands.hpp"
#include "on_disk.hpp"
#include "sweeplab/config/loader.hpp"
#include "sweeplab/core/error.hpp"
#include "sweeplab/core/table.hpp"
#include "sweeplab/core/text.hpp"
#include "sweeplab/report/best.hpp"
#include "sweeplab/store/sweep_state.hpp"
#include "where.hpp"

namespace sweeplab {
namespace {

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
                      "over the evaluations); doublegoal: greedy_optimal_fraction, greedy_length, episode_return; "
                      "steps_to_target (or steps_to_<target>, e.g. steps_to_test_acc_ge_0.99): fewest steps to a target "
                      "wins. Default: steps_to_target when the config stops trials at their targets (stop.on_target), "
                      "else test_acc for a classification task, greedy_optimal_fraction for doublegoal, test_loss");
  command->add_option("--per", options.per,
                      "A swept key (or its leaf name, e.g. batch_size): one row per value of it, with the best "
                      "configuration for that value");
  add_where_option(*command, options.where);
  command->footer(
      "Which configuration wins: trials that differ only in training.seed form one configuration, scored by the "
      "mean of the metric over its completed seeds (export --aggregate's mean; stderr = std/sqrt(n)). Lower is "
      "better for a loss, higher for an accuracy; ties go to the first in sweep order. Only completed trials "
      "compete: diverged, failed, skipped, interrupted, running and pending ones never win but are counted (the "
      "seeds column says '2 of 3' when some did not complete). Every trial in the sweep's folder takes part, "
      "whatever -o made it; -o and --where narrow them.\n\n"
      "Examples:\n  sweeplab best doughnut-batch\n  sweeplab best poly-teacher-batch-eta --per batch_size\n"
      "  sweeplab best doughnut-batch --metric best_test_acc --where lr=0.001");
  return command;
}

int run_best(const GlobalOptions& global, const BestOptions& options, std::ostream& out, std::ostream&) {
  const auto filters = parse_where(options.where);
  const auto sweep = load_or_on_disk(global, options.name, options.overrides);
  const SweepState state = read_sweep_state(sweep, global.experiments_dir);
  std::vector<TrialState> chosen;  // matching every --where
  for (const auto& trial : state.trials) {
    if (trial.has_files && matches(trial.config, filters)) chosen.push_back(trial);
  }
  if (chosen.empty() && !filters.empty()) {
    throw UserError("--where " + join(options.where, " --where ") + ": no trial of sweep " + sweep.spec.name +
                    " matches (" + values_there_are(filters, state.trials) + ")");
  }
  const BestConfigurations best = best_configurations(state, chosen, options.metric, options.per);
  const auto& metric = best.metric;
  const std::string& per = best.per;

  std::vector<std::string> header;
  if (!per.empty()) header.push_back(per);
  for (const auto& key : best.keys) {
    if (key != per) header.push_back(key);
  }
  header.insert(header.end(), {metric.name, "stderr", "seeds", "trials"});
  Table table(header);
  std::size_t winners = 0;
  for (const auto& standing : best.winners) {
    std::vector<std::string> row;
    if (!per.empty()) row.push_back(standing.per_value);
    if (!standing.mean) {
      for (const auto& key : best.keys) {
        if (key != per) row.push_back("-");
      }
      row.insert(row.end(), {"-", "-", "0 of " + std::to_string(standing.trials),
                             "none completed (" + status_counts_text(standing.others) + ")"});
      table.add_row(row);
      continue;
    }
    if (!std::isfinite(*standing.mean)) {  // steps to a target: no configuration had every seed reach it
      for (const auto& key : best.keys) {
        if (key != per) row.push_back("-");
      }
      row.insert(row.end(), {"never", "-", "-", "no configuration had every completed seed reach it"});
      table.add_row(row);
      ++winners;  // a row of the table all the same
      continue;
    }
    ++winners;
    for (std::size_t k = 0; k < best.keys.size(); ++k) {
      if (best.keys[k] != per) row.push_back(standing.values[k]);
    }
    row.push_back(short_number(*standing.mean));
    row.push_back(standing.stderr_ ? short_number(*standing.stderr_) : "-");
    const std::size_t n = standing.completed_ids.size();
    row.push_back(n == standing.trials ? std::to_string(n) : std::to_string(n) + " of " + std::to_string(standing.trials));
    row.push_back(ids_text(standing.completed_ids));
    table.add_row(row);
  }

  std::size_t total = 0;
  for (const auto& [status, n] : best.totals) total += n;
  out << "best configuration of sweep " << sweep.spec.name << " by " << metric.name << (per.empty() ? "" : ", per " + per);
  if (!metric.target.empty()) {
    out << " (steps to the first evaluation that met '" << metric.target << "', fewer is better; mean over the completed "
        << "seeds, 'never' when one of them did not reach it)\n";
  } else {
    out << " (" << (metric.column.rfind("best_", 0) == 0 ? "the best over the evaluations" : "final evaluation") << ", "
        << (metric.higher_is_better ? "higher" : "lower") << " is better; mean over the completed seeds)\n";
  }
  if (total == 0) {
    out << "no trial of sweep " << sweep.spec.name << " has run yet\n";
  } else if (winners == 0) {
    out << "no configuration has a completed trial with " << metric.name << " yet (" << total << " trial"
        << (total == 1 ? "" : "s") << ": " << status_counts_text(best.totals) << ")\n";
  } else {
    out << table.str();
    out << total << " trial" << (total == 1 ? "" : "s") << " in " << best.configurations << " configuration"
        << (best.configurations == 1 ? "" : "s") << ": " << status_counts_text(best.totals)
        << "; only completed trials compete\n";
  }
  if (!state.not_run.empty()) out << not_run_line(state, sweep, options.overrides);
  return 0;
}

}  // namespace sweeplab
