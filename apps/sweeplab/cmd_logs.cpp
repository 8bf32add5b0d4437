// Placeholder until the helper building `logs` replaces it.
#include <CLI/CLI.hpp>

#include "commands.hpp"
#include "sweeplab/core/error.hpp"

namespace sweeplab {
CLI::App* setup_logs(CLI::App& app, LogsOptions& options) {
  CLI::App* command = app.add_subcommand("logs", "(being built)");
  command->add_option("name", options.name, "Sweep name")->required();
  return command;
}
int run_logs(const GlobalOptions&, const LogsOptions&, std::ostream&, std::ostream&) { throw InternalError("logs: not built yet"); }
}  // namespace sweeplab
