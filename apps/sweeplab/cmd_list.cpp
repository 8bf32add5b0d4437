#include <CLI/CLI.hpp>

#include <map>
#include <ostream>

#include "commands.hpp"
#include "on_disk.hpp"
#include "sweeplab/config/loader.hpp"
#include "sweeplab/config/registry.hpp"
#include "sweeplab/core/error.hpp"
#include "sweeplab/core/table.hpp"
#include "sweeplab/core/text.hpp"
#include "sweeplab/store/history.hpp"
#include "sweeplab/store/layout.hpp"
#include "sweeplab/store/sweep_state.hpp"

namespace sweeplab {
namespace {

// One row of the experiments on disk: trials done (completed, diverged or skipped: they have their result) of
// all (on disk and planned), the last run, and how many trials of the YAML (without -o) are not run yet.
std::vector<std::string> experiment_row(const GlobalOptions& global, const std::string& name) {
  const auto runs = read_run_records(sweep_dir(global.experiments_dir, name));
  ResolvedSweep sweep = sweep_without_config(name);
  std::string config;
  if (!has_config(global.configs_dir, name)) {
    config = "no config";
  } else {
    try {
      sweep = load_sweep(global.configs_dir, name, {}, load_options(global));
    } catch (const UserError& e) {
      config = std::string("invalid: ") + e.what();
    }
  }
  const SweepState state = read_sweep_state(sweep, global.experiments_dir);
  std::size_t done = 0;
  std::map<TrialStatus, std::size_t> others;
  for (const auto& trial : state.trials) {
    if (trial.status == TrialStatus::Completed || trial.status == TrialStatus::Diverged || trial.status == TrialStatus::Skipped) {
      ++done;
    } else if (trial.status == TrialStatus::Failed || trial.status == TrialStatus::Running || trial.status == TrialStatus::Unreadable) {
      ++others[trial.status];
    }
  }
  std::string trials = std::to_string(done) + "/" + std::to_string(state.trials.size());
  std::vector<std::string> parts;
  for (const auto& [status, n] : others) parts.push_back(std::to_string(n) + " " + to_string(status));
  if (!parts.empty()) trials += " (" + join(parts, ", ") + ")";
  if (config.empty()) {
    const std::size_t n = state.not_run.size();
    config = n == 0 ? "all run" : std::to_string(n) + " not run yet";
  }
  const std::string last = runs.empty() ? "-" : runs.back().started_at + " (" + (runs.back().command.empty() ? "run" : runs.back().command) + ")";
  return {name, trials, last, config};
}

}  // namespace

CLI::App* setup_list(CLI::App& app, ListOptions&) {
  CLI::App* command = app.add_subcommand("list", "The named sweeps (name, trial count, description), then the experiments on disk");
  command->footer(
      "The second table lists each folder under --experiments that holds a sweep.json: trials done (completed,\n"
      "diverged or skipped) of those on disk and planned, with failed / running ones counted apart; the last run\n"
      "(runs.jsonl); and how many trials of the YAML (without -o) are neither on disk nor planned (\"no config\"\n"
      "when the YAML is gone).\n\n"
      "Example:\n  sweeplab list\n  sweeplab --configs ~/my-sweeps list");
  return command;
}

int run_list(const GlobalOptions& global, const ListOptions&, std::ostream& out, std::ostream& err) {
  Table table({"name", "trials", "description"});
  int broken = 0;
  for (const auto& name : sweep_names(global.configs_dir)) {
    try {
      // Checked and counted, not expanded: listing needs no trial ids.
      const SweepSpec spec = check_sweep(global.configs_dir, name, {}, load_options(global));
      table.add_row({name, std::to_string(count_trials(spec)), spec.base.description});
    } catch (const UserError& e) {
      // One broken file is its own row; the others are still listed.
      table.add_row({name, "-", std::string("INVALID: ") + e.what()});
      ++broken;
    }
  }
  out << table.str();
  const auto experiments = experiments_on_disk(global.experiments_dir);
  if (!experiments.empty()) {
    Table on_disk({"experiment", "trials done", "last run", "its YAML"});
    for (const auto& name : experiments) on_disk.add_row(experiment_row(global, name));
    out << "\nexperiments on disk (" << global.experiments_dir << "):\n" << on_disk.str();
  }
  if (broken) {
    err << "sweeplab: " << broken << " sweep" << (broken == 1 ? " is" : "s are")
        << " invalid (see the rows marked INVALID)\n";
    return 2;
  }
  return 0;
}

}  // namespace sweeplab
