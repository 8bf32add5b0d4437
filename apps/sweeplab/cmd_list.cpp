#include <CLI/CLI.hpp>

#include <ostream>

#include "commands.hpp"
#include "sweeplab/config/loader.hpp"
#include "sweeplab/config/registry.hpp"
#include "sweeplab/core/error.hpp"
#include "sweeplab/core/table.hpp"

namespace sweeplab {

CLI::App* setup_list(CLI::App& app, ListOptions&) {
  CLI::App* command = app.add_subcommand("list", "The named sweeps: name, trial count, description");
  command->footer("Example:\n  sweeplab list\n  sweeplab --configs ~/my-sweeps list");
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
  if (broken) {
    err << "sweeplab: " << broken << " sweep" << (broken == 1 ? " is" : "s are")
        << " invalid (see the rows marked INVALID)\n";
    return 2;
  }
  return 0;
}

}  // namespace sweeplab
