// Placeholder until the helper building `clean` replaces it.
#include <CLI/CLI.hpp>

#include "commands.hpp"
#include "sweeplab/core/error.hpp"

namespace sweeplab {
CLI::App* setup_clean(CLI::App& app, CleanOptions& options) {
  CLI::App* command = app.add_subcommand("clean", "(being built)");
  command->add_option("name", options.name, "Sweep name")->required();
  return command;
}
int run_clean(const GlobalOptions&, const CleanOptions&, std::istream&, std::ostream&, std::ostream&) {
  throw InternalError("clean: not built yet");
}
}  // namespace sweeplab
