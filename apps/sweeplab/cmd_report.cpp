#include <CLI/CLI.hpp>

#include <algorithm>
#include <filesystem>
#include <ostream>
#include <sstream>

#include "commands.hpp"
#include "on_disk.hpp"
#include "sweeplab/config/loader.hpp"
#include "sweeplab/config/schema.hpp"
#include "sweeplab/core/error.hpp"
#include "sweeplab/core/text.hpp"
#include "sweeplab/report/report.hpp"
#include "sweeplab/store/layout.hpp"
#include "sweeplab/store/sweep_state.hpp"
#include "where.hpp"

namespace sweeplab {
namespace {

// --plots values (comma-separated or repeated), each a name from plot_kinds().
std::vector<std::string> parse_plots(const std::vector<std::string>& items) {
  std::vector<std::string> names;
  for (const auto& kind : plot_kinds()) names.push_back(kind.name);
  std::vector<std::string> plots;
  for (const auto& item : items) {
    std::stringstream parts(item);
    for (std::string plot; std::getline(parts, plot, ',');) {
      plot = trim(plot);
      if (plot.empty()) continue;
      if (std::find(names.begin(), names.end(), plot) == names.end()) {
        const auto match = closest_match(plot, names);
        throw UserError("report: unknown plot '" + plot + "' (" + (match ? "did you mean '" + *match + "'? " : "") +
                        "see sweeplab report --list-plots)");
      }
      if (std::find(plots.begin(), plots.end(), plot) == plots.end()) plots.push_back(plot);
    }
  }
  if (!items.empty() && plots.empty()) {
    throw UserError("report: --plots names no plot (e.g. --plots loss_curves,heatmap_batch; see sweeplab report --list-plots)");
  }
  return plots;
}

// -o KEY=VALUE with the full key (epochs=30 -> training.epochs=30), for the report's folder name.
std::string full_override(const std::string& item) {
  const auto equals = item.find('=');
  if (equals == std::string::npos) return item;
  const std::string key = item.substr(0, equals);
  if (find_field(key)) return item;
  const auto keys = keys_with_leaf(key);
  return keys.size() == 1 ? keys.front() + item.substr(equals) : item;
}

// A --where that keeps none of a sweep's trials is a mistake, not an empty report: say so with the values there are.
void require_a_match(const ResolvedSweep& sweep, const std::string& experiments_dir, const std::vector<WhereFilter>& filters,
                     const std::vector<std::string>& items) {
  const std::filesystem::path root = sweep_dir(experiments_dir, sweep.spec.name);
  if (filters.empty() || !std::filesystem::exists(root / "sweep.json")) return;  // no results at all: write_report says so
  const SweepState state = read_sweep_state(sweep, experiments_dir);
  for (const auto& trial : state.trials) {
    if (matches(trial.config, filters)) return;
  }
  throw UserError("report: --where " + join(items, " --where ") + ": no trial of sweep " + sweep.spec.name + " matches (" +
                  values_there_are(filters, state.trials) + ")");
}

}  // namespace

CLI::App* setup_report(CLI::App& app, ReportOptions& options) {
  CLI::App* command = app.add_subcommand(
      "report",
      "Write experiments/NAME/report.html (figures inline, a sortable table of the trials), figures/*.svg and the "
      "gnuplot scripts that draw them (figures/*.gp); says which figures it could not draw and why. With -o, --where "
      "or --plots, or two sweeps side by side (report A B), the report goes to a folder of its own, "
      "experiments/NAME/reports/<those choices>/, so that it never overwrites another");
  command->add_option("names", options.names, "Sweep name; two names put their figures side by side (report A B)");
  add_override_option(*command, options.overrides);
  command->add_option("--plots", options.plots,
                      "Only these figures: names from --list-plots, comma-separated or repeated (--plots loss_curves,heatmap_batch)")
      ->expected(1)
      ->take_all();
  add_where_option(*command, options.where);
  command->add_flag("--list-plots", options.list_plots, "List the plots --plots can name, each with what it draws, and exit");
  command->add_flag("--pending", options.pending,
                    "Also the current config's trials that are not run yet, drawn as cells marked \"not run\" "
                    "(otherwise the page counts them)");
  command->add_option("--format", options.format,
                      "svg (the page and figures/*.svg), or pdf: each figure as a PDF too, figures/NAME.pdf beside its SVG, "
                      "drawn by gnuplot's cairo terminal for a paper")
      ->capture_default_str();
  command->add_option("--colour-by", options.colour_by,
                      "last_batch_loss: colour the heatmaps by the loss of the last training batch before the final "
                      "evaluation (batch_size_studies' value) instead of the final accuracy or mean train loss");
  command->add_option("--x-axis", options.x_axis,
                      "What curves are drawn against: epoch, step, samples, or lr_step (learning rate x step, on which "
                      "curves of different learning rates line up); default: the budget's unit");
  command->footer(
      "Examples:\n"
      "  sweeplab report doughnut-batch                        experiments/doughnut-batch/report.html\n"
      "  sweeplab report doughnut-batch --format pdf           ... and figures/*.pdf for a paper\n"
      "  sweeplab report doughnut-batch --plots heatmap_batch,loss_curves\n"
      "  sweeplab report doughnut-batch --where batch_size=32 --plots loss_curves   one configuration's curves\n"
      "  sweeplab report poly-teacher-batch-eta poly-teacher-batch-temperature   two sweeps side by side\n"
      "  sweeplab report --list-plots\n"
      "All but the first go to experiments/NAME/reports/<choices>/report.html (the first NAME); the command prints the path.");
  return command;
}

int run_report(const GlobalOptions& global, const ReportOptions& options, std::ostream& out, std::ostream&) {
  if (options.list_plots) {
    std::size_t width = 0;
    for (const auto& kind : plot_kinds()) width = std::max(width, kind.name.size());
    for (const auto& kind : plot_kinds()) {
      out << kind.name << std::string(width + 2 - kind.name.size(), ' ') << kind.description << "\n";
    }
    return 0;
  }
  if (options.format != "svg" && options.format != "pdf") {
    throw UserError("report: --format " + options.format + ": unknown format; svg (the default) or pdf (each figure as a "
                    "PDF too)");
  }
  if (!options.colour_by.empty() && options.colour_by != "last_batch_loss") {
    // One value to choose from: it is what was meant.
    throw UserError("report: --colour-by " + options.colour_by + ": unknown value (did you mean 'last_batch_loss'?); "
                    "without --colour-by the heatmaps show the final accuracy, else the final train loss");
  }
  const std::vector<std::string> x_axes = {"epoch", "step", "samples", "lr_step"};
  if (!options.x_axis.empty() && std::find(x_axes.begin(), x_axes.end(), options.x_axis) == x_axes.end()) {
    throw UserError("report: --x-axis " + options.x_axis + ": unknown axis" + did_you_mean(options.x_axis, x_axes) + "; " +
                    join(x_axes, ", "));
  }
  const auto plots = parse_plots(options.plots);
  const auto filters = parse_where(options.where);
  if (options.names.empty()) {
    throw UserError("report: name a sweep (sweeplab report NAME), or two to put side by side (sweeplab report A B)");
  }
  if (options.names.size() > 2) {
    throw UserError("report: " + std::to_string(options.names.size()) + " sweeps named (" + join(options.names, ", ") +
                    "); a report shows one sweep, or two side by side");
  }
  if (options.names.size() == 2 && options.names[0] == options.names[1]) {
    throw UserError("report: " + options.names[0] + " is named twice; name two sweeps to put side by side");
  }
  std::vector<ResolvedSweep> sweeps;
  for (const auto& name : options.names) {
    sweeps.push_back(load_or_on_disk(global, name, options.overrides));
  }
  for (const auto& sweep : sweeps) require_a_match(sweep, global.experiments_dir, filters, options.where);

  ReportRequest request;
  request.plots = plots;
  request.pending = options.pending;
  request.pdf = options.format == "pdf";
  request.colour_by = options.colour_by;
  request.x_axis = options.x_axis;
  ReportChoices choices;
  choices.colour_by = options.colour_by;
  choices.x_axis = options.x_axis;
  choices.plots = plots;
  choices.pending = options.pending;
  for (const auto& item : options.overrides) choices.overrides.push_back(full_override(item));
  for (const auto& filter : filters) choices.where.push_back(filter.key + "=" + filter.text);
  if (!filters.empty()) {
    request.where = [filters](const CompactConfig& config) { return matches(config, filters); };
    request.where_text = join(options.where, ", ");
  }
  if (sweeps.size() == 2) choices.versus = sweeps[1].spec.name;
  const std::string folder = report_folder(global.experiments_dir, sweeps[0].spec.name, choices);
  if (folder != sweep_dir(global.experiments_dir, sweeps[0].spec.name)) request.folder = folder;

  const auto files = sweeps.size() == 2 ? write_comparison(sweeps[0], sweeps[1], global.experiments_dir, request)
                                        : write_report(sweeps[0], global.experiments_dir, request);
  out << "wrote " << files.html << " (" << files.figures.size() << (files.figures.size() == 1 ? " figure)\n" : " figures)\n");
  if (!files.note.empty()) out << "  " << files.note << "\n";
  for (const auto& line : files.not_drawn) out << "  not drawn: " << line << "\n";
  if (request.pdf) out << "  " << files.pdfs.size() << (files.pdfs.size() == 1 ? " PDF" : " PDFs") << " beside the SVGs\n";
  return 0;
}

}  // namespace sweeplab
