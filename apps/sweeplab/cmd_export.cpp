#include <CLI/CLI.hpp>

#include <ostream>

#include "commands.hpp"
#include "sweeplab/config/loader.hpp"
#include "sweeplab/report/results.hpp"

namespace sweeplab {

CLI::App* setup_export(CLI::App& app, ExportOptions& options) {
  CLI::App* command = app.add_subcommand(
      "export", "One row per trial: swept values, status (pending, partial, running, completed, diverged, ...), "
                "in_current_config, summary metrics (stdout)");
  command->add_option("name", options.name, "Sweep name")->required();
  add_override_option(*command, options.overrides);
  command->add_option("--format", options.format, "csv (pandas.read_csv) or jsonl (pandas.read_json(lines=True))")
      ->check(CLI::IsMember({"csv", "jsonl"}))
      ->capture_default_str();
  command->add_flag("--aggregate", options.aggregate,
                    "One row per configuration (trials that differ only in training.seed; trials not in the current "
                    "config apart): n_seeds, n_completed, n_diverged; M_mean and M_stderr (std/sqrt(n)) over the seeds "
                    "that have a value; per target T: n_reached_T (seeds that reached T) and "
                    "steps_to_T_mean_over_reached, samples_to_T_mean_over_reached (with _stderr_over_reached): "
                    "over those seeds only, not all seeds; diverged_at_step_mean_over_diverged");
  command->footer("Examples:\n  sweeplab export doughnut-batch > results.csv\n"
                  "  sweeplab export doughnut-batch --format jsonl --aggregate");
  return command;
}

int run_export(const GlobalOptions& global, const ExportOptions& options, std::ostream& out, std::ostream&) {
  const auto sweep = load_sweep(global.configs_dir, options.name, options.overrides, load_options(global));
  const SweepState state = read_sweep_state(sweep, global.experiments_dir);
  const auto trials = export_trials(state.sweep, state.trials);
  const auto table = options.aggregate ? aggregate_seeds(state.sweep, trials) : trials;
  out << (options.format == "jsonl" ? to_jsonl(table) : to_csv(table));
  return 0;
}

}  // namespace sweeplab
