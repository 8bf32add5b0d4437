#include <CLI/CLI.hpp>

#include <ostream>

#include "commands.hpp"
#include "sweeplab/config/emit.hpp"
#include "sweeplab/config/loader.hpp"
#include "sweeplab/config/schema.hpp"
#include "sweeplab/core/error.hpp"
#include "sweeplab/core/table.hpp"
#include "sweeplab/core/text.hpp"
#include "sweeplab/store/layout.hpp"

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
    out << keys_reference();
    return 0;
  }
  if (options.name.empty()) throw UserError("show: name a sweep (sweeplab list shows them), or pass --keys");
  const auto sweep = load_sweep(global.configs_dir, options.name, options.overrides);
  const auto& spec = sweep.spec;
  out << "# sweep " << spec.name << ": " << sweep.trials.size() << " trial" << (sweep.trials.size() == 1 ? "" : "s")
      << " (" << spec.file;
  if (spec.extends_chain.size() > 1) out << "; extends " << join({spec.extends_chain.begin() + 1, spec.extends_chain.end()}, " -> ");
  out << ")\n" << to_yaml(spec);
  if (!options.trials) return 0;

  const auto keys = swept_keys(spec);
  std::vector<std::string> header = {"#", "trial_id"};
  for (const auto& key : keys) header.push_back(find_field(key)->leaf());
  header.push_back("state");
  Table table(header);
  for (std::size_t i = 0; i < sweep.trials.size(); ++i) {
    const auto& trial = sweep.trials[i];
    std::vector<std::string> row = {std::to_string(i + 1), trial.id};
    for (const auto& swept : trial.swept) row.push_back(to_short_text(swept.second));
    row.push_back(trial_state(global.experiments_dir, spec.name, trial.id));
    table.add_row(std::move(row));
  }
  out << "\n" << table.str();
  return 0;
}

}  // namespace sweeplab
