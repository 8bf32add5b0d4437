#include <CLI/CLI.hpp>

#include <ostream>

#include "commands.hpp"
#include "sweeplab/config/emit.hpp"
#include "sweeplab/config/loader.hpp"
#include "sweeplab/config/schema.hpp"
#include "sweeplab/core/error.hpp"
#include "sweeplab/core/table.hpp"
#include "sweeplab/core/text.hpp"
#include "sweeplab/report/trial_table.hpp"
#include "sweeplab/store/sweep_state.hpp"

namespace sweeplab {

CLI::App* setup_show(CLI::App& app, ShowOptions& options) {
  CLI::App* command = app.add_subcommand("show", "The resolved config of a sweep as YAML; --trials adds its trials");
  command->add_option("name", options.name, "Sweep name (a file NAME.yaml in the configs folder)");
  add_override_option(*command, options.overrides);
  command->add_flag("--trials", options.trials, "Also list the trials: id, swept values, state");
  command->add_flag("--keys", options.keys, "Document every config key: type, default, meaning");
  command->footer(
      "Examples:\n  sweeplab show doughnut-batch\n  sweeplab show doughnut-batch -o epochs=5 -o lr=0.01,0.1 --trials\n"
      "  sweeplab show --keys");
  return command;
}

int run_show(const GlobalOptions& global, const ShowOptions& options, std::ostream& out, std::ostream&) {
  if (options.keys) {
    // sweep.prune is documented with the other sweep.* keys, before extends.
    std::string reference = keys_reference();
    const std::string prune =
        "sweep.prune  (none or above_divergence, default none)\n"
        "    above_divergence: once a trial diverges, the trials with the same config but a larger learning rate\n"
        "    (optimizer.lr, or optimizer.temperature) are not run: summary.json says skipped and why. The trials\n"
        "    run in waves by learning rate (smallest first); a later run keeps them skipped while that trial\n"
        "    stays diverged, and trains them when it is not (or with sweep.prune: none).\n";
    const auto extends = reference.find("\nextends  (");
    reference.insert(extends == std::string::npos ? reference.size() : extends + 1, prune);
    out << reference;
    return 0;
  }
  if (options.name.empty()) throw UserError("show: name a sweep (sweeplab list shows them), or pass --keys");
  const auto sweep = load_sweep(global.configs_dir, options.name, options.overrides, load_options(global));
  const auto& spec = sweep.spec;
  out << "# sweep " << spec.name << ": " << sweep.trials.size() << " trial" << (sweep.trials.size() == 1 ? "" : "s")
      << " (" << spec.file;
  if (spec.extends_chain.size() > 1) out << "; extends " << join({spec.extends_chain.begin() + 1, spec.extends_chain.end()}, " -> ");
  out << ")\n" << to_yaml(spec);
  if (!options.trials) return 0;

  // Each trial this config makes, as its files say (the budget it was run with, if it was).
  ReadOptions read;
  read.metrics = false;
  SweepState state = read_sweep_state(sweep, global.experiments_dir, read);
  state.trials.resize(sweep.trials.size());
  out << "\n" << trial_table(state);
  return 0;
}

}  // namespace sweeplab
