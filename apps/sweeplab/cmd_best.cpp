// Placeholder until the helper building `best` replaces it.
#include <CLI/CLI.hpp>

#include "commands.hpp"
#include "sweeplab/core/error.hpp"

namespace sweeplab {
CLI::App* setup_best(CLI::App& app, BestOptions& options) {
  CLI::App* command = app.add_subcommand("best", "(being built)");
  command->add_option("name", options.name, "Sweep name")->required();
  return command;
}
int run_best(const GlobalOptions&, const BestOptions&, std::ostream&, std::ostream&) { throw InternalError("best: not built yet"); }
}  // namespace sweeplab
