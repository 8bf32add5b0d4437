#include <CLI/CLI.hpp>

#include <ostream>

#include "commands.hpp"
#include "sweeplab/config/loader.hpp"
#include "sweeplab/report/report.hpp"

namespace sweeplab {

CLI::App* setup_report(CLI::App& app, ReportOptions& options) {
  CLI::App* command = app.add_subcommand("report", "Write experiments/NAME/report.html (figures inline), figures/*.svg and the gnuplot scripts "
                                                  "that draw them (figures/*.gp); says which figures it could not draw and why");
  command->add_option("name", options.name, "Sweep name")->required();
  add_override_option(*command, options.overrides);
  command->footer("Example:\n  sweeplab run doughnut-batch -o epochs=30 && sweeplab report doughnut-batch -o epochs=30");
  return command;
}

int run_report(const GlobalOptions& global, const ReportOptions& options, std::ostream& out, std::ostream&) {
  const auto sweep = load_sweep(global.configs_dir, options.name, options.overrides, load_options(global));
  const auto files = write_report(sweep, global.experiments_dir);
  out << "wrote " << files.html << " (" << files.figures.size() << " figures)\n";
  if (!files.note.empty()) out << "  " << files.note << "\n";
  for (const auto& line : files.not_drawn) out << "  not drawn: " << line << "\n";
  return 0;
}

}  // namespace sweeplab
