#include <CLI/CLI.hpp>

#include <ostream>

#include "sweeplab/core/error.hpp"

#include "commands.hpp"
#include "on_disk.hpp"
#include "sweeplab/config/loader.hpp"
#include "sweeplab/core/text.hpp"
#include "sweeplab/report/results.hpp"
#include "where.hpp"

namespace sweeplab {

CLI::App* setup_export(CLI::App& app, ExportOptions& options) {
  CLI::App* command = app.add_subcommand(
      "export", "One row per trial in the sweep's folder: the keys in which they differ, status, summary metrics "
                "(stdout)");
  command->add_option("name", options.name, "Sweep name")->required();
  add_override_option(*command, options.overrides);
  add_where_option(*command, options.where);
  command->add_flag("--pending", options.pending,
                    "Also rows (status pending, no results) for trials a run planned and has not started, and for the "
                    "current config's trials not run yet");
  command->add_option("--format", options.format, "csv (pandas.read_csv) or jsonl (pandas.read_json(lines=True))")
      ->check(CLI::IsMember({"csv", "jsonl"}))
      ->capture_default_str();
  command->add_flag("--aggregate", options.aggregate,
                    "One row per configuration (trials that differ only in training.seed; budgets count as a "
                    "difference): n_seeds, n_completed, n_diverged; M_mean and M_stderr (std/sqrt(n)) over the seeds "
                    "that have a value; per target T: n_reached_T (seeds that reached T) and "
                    "steps_to_T_mean_over_reached, samples_to_T_mean_over_reached (with _stderr_over_reached): "
                    "over those seeds only, not all seeds; diverged_at_step_mean_over_diverged");
  command->footer("Examples:\n  sweeplab export doughnut-batch > results.csv\n"
                  "  sweeplab export doughnut-batch --format jsonl --aggregate");
  return command;
}

int run_export(const GlobalOptions& global, const ExportOptions& options, std::ostream& out, std::ostream& err) {
  const auto filters = parse_where(options.where);
  const auto sweep = load_or_on_disk(global, options.name, options.overrides);
  ReadOptions read;
  read.pending = options.pending;
  SweepState state = read_sweep_state(sweep, global.experiments_dir, read);
  std::vector<TrialState> rows;  // results only, unless --pending
  for (auto& trial : state.trials) {
    if ((trial.has_files || options.pending) && matches(trial.config, filters)) rows.push_back(std::move(trial));
  }
  if (rows.empty() && !filters.empty()) {
    throw UserError("--where " + join(options.where, " --where ") + ": no trial of sweep " + sweep.spec.name +
                    " matches");
  }
  const auto trials = export_trials(state.spec, rows);
  const auto table = options.aggregate ? aggregate_seeds(state.spec, trials) : trials;
  out << (options.format == "jsonl" ? to_jsonl(table) : to_csv(table));
  if (!options.pending) err << not_run_line(state, sweep, options.overrides);
  return 0;
}

}  // namespace sweeplab
