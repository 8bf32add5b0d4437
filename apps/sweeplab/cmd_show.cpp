#include <CLI/CLI.hpp>

#include <ostream>

#include "commands.hpp"
#include "sweeplab/sched/refine.hpp"
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
  command->add_flag("--all", options.all,
                    "Every config key, also those the task, optimizer and schedules of these trials do not use");
  command->footer(
      "Examples:\n  sweeplab show doughnut-batch\n  sweeplab show doughnut-batch -o epochs=5 -o lr=0.01,0.1 --trials\n"
      "  sweeplab show doughnut-batch --all\n  sweeplab show --keys");
  return command;
}

int run_show(const GlobalOptions& global, const ShowOptions& options, std::ostream& out, std::ostream&) {
  if (options.keys) {
    out << keys_reference();
    return 0;
  }
  if (options.name.empty()) throw UserError("show: name a sweep (sweeplab list shows them), or pass --keys");
  auto sweep = load_sweep(global.configs_dir, options.name, options.overrides, load_options(global));
  auto& spec = sweep.spec;
  // What -o changed, by the dotted key it resolved to: in the header, and in the description, so that the YAML
  // says it is not the file's sweep (unless -o set the description itself).
  std::vector<std::string> applied;
  for (const auto& field : schema()) {
    const auto source = spec.sources.find(field.key);
    if (source != spec.sources.end() && source->second.rfind("-o ", 0) == 0) {
      applied.push_back(field.key + "=" + to_text(field.get(spec.base)));
    }
  }
  for (const auto& axis : spec.axes) {
    if (axis.source.rfind("-o ", 0) != 0) continue;
    std::vector<std::string> values;
    for (const auto& value : axis.values) values.push_back(to_text(value));
    applied.push_back(axis.key + "=[" + join(values, ", ") + "]");
  }
  for (const std::string key : {"sweep.seeds", "sweep.prune"}) {
    const auto source = spec.sources.find(key);
    if (source != spec.sources.end() && source->second.rfind("-o ", 0) == 0) {
      applied.push_back(key + "=" + (key == "sweep.seeds" ? to_text(Value(spec.seeds)) : prune_text(spec)));
    }
  }
  if (spec.refine.on() && spec.refine.source.rfind("-o ", 0) == 0) applied.push_back("sweep.refine=" + refine_text(spec.refine));
  if (spec.sample.n > 0 && spec.sample.source.rfind("-o ", 0) == 0) {
    applied.push_back("sweep.sample=" + std::to_string(spec.sample.n) + " points");
  }
  const auto description_source = spec.sources.find("description");
  const bool description_overridden =
      description_source != spec.sources.end() && description_source->second.rfind("-o ", 0) == 0;
  if (!applied.empty() && !description_overridden) {
    spec.base.description += (spec.base.description.empty() ? "" : " ") + std::string("(with -o ") + join(applied, ", ") + ")";
  }
  out << "# sweep " << spec.name << ": " << sweep.trials.size() << " trial" << (sweep.trials.size() == 1 ? "" : "s")
      << " (" << spec.file;
  if (spec.extends_chain.size() > 1) out << "; extends " << join({spec.extends_chain.begin() + 1, spec.extends_chain.end()}, " -> ");
  out << ")\n";
  if (!applied.empty()) out << "# overrides applied (-o): " << join(applied, ", ") << "\n";
  if (!options.all) out << "# only the keys these trials use; sweeplab show " << spec.name << " --all prints every key\n";
  out << to_yaml(spec, options.all ? Keys::All : Keys::Applying);
  if (!options.trials) return 0;

  // Each trial this config makes, as its files say (the budget it was run with, if it was); with sweep.refine, the
  // refined trials the files decide too.
  sweep = refine_from_files(sweep, global.experiments_dir);
  ReadOptions read;
  read.narrow = false;  // found by hash, whatever -o made them
  const SweepState state = read_sweep_state(sweep, global.experiments_dir, read);
  out << "\n" << trial_table(current_view(state, sweep), sweep);
  return 0;
}

}  // namespace sweeplab
