#include <CLI/CLI.hpp>

#include <ostream>

#include "commands.hpp"
#include "sweeplab/config/loader.hpp"
#include "sweeplab/report/trial_table.hpp"
#include "sweeplab/store/layout.hpp"
#include "sweeplab/store/sweep_state.hpp"

namespace sweeplab {

CLI::App* setup_status(CLI::App& app, StatusOptions& options) {
  CLI::App* command = app.add_subcommand("status", "Each trial's state, progress and final metrics; totals");
  command->add_option("name", options.name, "Sweep name")->required();
  add_override_option(*command, options.overrides);
  command->footer("Examples:\n  sweeplab status doughnut-batch\n  sweeplab status doughnut-batch -o epochs=1000");
  return command;
}

int run_status(const GlobalOptions& global, const StatusOptions& options, std::ostream& out, std::ostream&) {
  const auto sweep = load_sweep(global.configs_dir, options.name, options.overrides, load_options(global));
  ReadOptions read;
  read.metrics = false;  // the last line of each metrics.jsonl is enough here
  const SweepState state = read_sweep_state(sweep, global.experiments_dir, read);
  out << "sweep " << sweep.spec.name << " (" << sweep_dir(global.experiments_dir, sweep.spec.name) << ")\n";
  if (!state.runs.empty()) {
    const auto& last = state.runs.back();
    out << "last run " << last.started_at << " with " << overrides_text(last) << " (" << state.runs.size()
        << " run" << (state.runs.size() == 1 ? "" : "s") << " in runs.jsonl)\n";
  }
  out << trial_table(state);
  return 0;
}

}  // namespace sweeplab
