// Placeholder until the helper building `completion` replaces it.
#include <CLI/CLI.hpp>

#include "commands.hpp"
#include "sweeplab/core/error.hpp"

namespace sweeplab {
CLI::App* setup_completion(CLI::App& app, CompletionOptions& options) {
  CLI::App* command = app.add_subcommand("completion", "(being built)");
  command->add_option("shell", options.shell, "bash or zsh")->required();
  return command;
}
int run_completion(const GlobalOptions&, const CompletionOptions&, std::ostream&, std::ostream&) {
  throw InternalError("completion: not built yet");
}
}  // namespace sweeplab
