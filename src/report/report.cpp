#include "sweeplab/report/report.hpp"

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <set>

#include "figure.hpp"
#include "sweeplab/config/schema.hpp"
#include "sweeplab/core/error.hpp"
#include "sweeplab/core/fs.hpp"
#include "sweeplab/core/text.hpp"
#include "sweeplab/report/results.hpp"

namespace fs = std::filesystem;

namespace sweeplab {
namespace {

using namespace report_detail;

std::string svg_body(const std::string& svg) {
  const auto start = svg.find("<svg");
  return start == std::string::npos ? svg : svg.substr(start);
}

std::string cell_html(const Cell& cell) {
  return html_escape(std::visit(
      [](const auto& v) -> std::string {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, std::monostate>) return "";
        else if constexpr (std::is_same_v<T, bool>) return v ? "true" : "false";
        else if constexpr (std::is_same_v<T, double>) return format_double(v);  // as export writes it
        else if constexpr (std::is_same_v<T, std::int64_t>) return std::to_string(v);
        else return v;
      },
      cell));
}

std::string table_html(const ExportTable& table, const std::vector<std::string>& columns) {
  std::vector<std::size_t> shown;
  for (const auto& name : columns) {
    for (std::size_t c = 0; c < table.columns.size(); ++c) {
      if (table.columns[c] == name) shown.push_back(c);
    }
  }
  std::string html = "<table><thead><tr>";
  for (auto c : shown) html += "<th>" + html_escape(table.columns[c]) + "</th>";
  html += "</tr></thead><tbody>\n";
  for (const auto& row : table.rows) {
    html += "<tr>";
    for (auto c : shown) {
      const std::string text = cell_html(row[c]);
      if (table.columns[c] == "status") html += "<td class=\"" + text + "\">" + text + "</td>";
      else if (table.columns[c] == "in_current_config" && text == "false") html += "<td class=\"not-current\">" + text + "</td>";
      else html += "<td>" + text + "</td>";
    }
    html += "</tr>\n";
  }
  return html + "</tbody></table>\n";
}

// A grid of x (batch size, ...) x learning rate as a table: every cell of the axes, with its (mean) final train
// loss or why it has none.
std::string grid_html(const Grid& grid, std::size_t number) {
  const std::string id = number == 0 ? "grid" : "grid_" + std::to_string(number + 1);
  std::string html = "<h2>Final train loss by " + html_escape(grid.x_name()) + " and learning rate" +
                     (grid.facet.empty() ? "" : " (" + html_escape(grid.facet) + ")") +
                     "</h2>\n<table class=\"grid\" id=\"" + id + "\"><thead><tr><th>lr \\ " + html_escape(grid.x_name()) + "</th>";
  for (auto x : grid.xs) html += "<th>" + format_double(x) + "</th>";
  html += "</tr></thead><tbody>\n";
  bool several = false;
  for (auto lr = grid.lrs.rbegin(); lr != grid.lrs.rend(); ++lr) {  // the largest on top, as in the heatmap
    html += "<tr><th>" + format_double(*lr) + "</th>";
    for (auto x : grid.xs) {
      const auto found = grid.cells.find({x, *lr});
      if (found == grid.cells.end()) {
        html += "<td class=\"none\">no trial</td>";
        continue;
      }
      const GridCell& cell = found->second;
      several = several || cell.trials > 1;
      const std::string notes = cell_notes(cell);
      if (!cell.losses.empty()) {
        html += "<td class=\"completed\">" + format_double(mean_stderr(cell.losses).mean) +
                (notes.empty() ? "" : " (" + html_escape(notes) + ")") + "</td>";
      } else {
        // One status: its name; several: how many of each.
        std::map<std::string, int> statuses = cell.others;
        if (cell.diverged > 0) statuses["diverged"] = cell.diverged;
        const std::string status = statuses.size() == 1 ? statuses.begin()->first : "mixed";
        html += "<td class=\"" + html_escape(status) + "\">" + html_escape(statuses.size() == 1 ? status : notes) + "</td>";
      }
    }
    html += "</tr>\n";
  }
  html += "</tbody></table>\n<p class=\"note\">" +
          std::string(several ? "The mean final train loss of each cell's completed trials (its other trials in brackets)"
                              : "The final train loss of each cell's trial") +
          "; a cell without a completed trial says what its trials are.</p>\n";
  return html;
}

}  // namespace
ReportFiles write_report(const ResolvedSweep& current, const std::string& experiments_dir, const ReportRequest& request) {
  if (std::system("command -v gnuplot > /dev/null 2>&1") != 0) {
    throw UserError("report: gnuplot is not installed (apt-get install gnuplot-nox); it draws the figures");
  }
  const fs::path root = sweep_dir(experiments_dir, current.spec.name);
  if (!fs::exists(root / "sweep.json")) {
    throw UserError("report: no results for sweep '" + current.spec.name + "' in " + root.string() +
                    " (sweeplab run " + current.spec.name + " first)");
  }
  const fs::path folder = request.folder.empty() ? root : fs::path(request.folder);
  const fs::path figures_dir = folder / "figures";
  create_folders(figures_dir.string());
  SweepState state = read_sweep_state(current, experiments_dir);
  if (request.where) {
    std::vector<TrialState> kept;
    for (auto& trial : state.trials) {
      if (request.where(trial.spec.config)) kept.push_back(std::move(trial));
    }
    state.trials = std::move(kept);
  }
  const ResolvedSweep& sweep = state.sweep;  // the trials on disk, as run, and the current config's others
  const auto& results = state.trials;
  const ReportData data{sweep, results, seed_groups(sweep, results), make_grids(sweep, results), request.where_text};
  const auto& grids = data.grids;

  std::vector<Figure> figures;
  for (const auto& kind : plot_registry()) {
    bool wanted = request.plots.empty();
    for (const auto& name : request.plots) wanted = wanted || name == kind.info.name;
    if (!wanted) continue;
    for (auto& figure : kind.figures(data)) figures.push_back(std::move(figure));
  }
  for (auto& figure : figures) draw(figure, figures_dir);

  const auto trials = export_trials(sweep, results);
  std::map<std::string, int> states;
  int done = 0, not_current = 0;
  for (const auto& data : results) {
    ++states[data.status];
    done += settled(data);
    not_current += !data.in_current;
  }
  const std::string counts = status_counts(states);

  ReportFiles files;
  std::string html =
      "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>sweeplab report: " +
      html_escape(sweep.spec.name) + "</title>\n<style>\n"
      "body{font-family:sans-serif;max-width:1000px;margin:2em auto;padding:0 1em;color:#222}\n"
      "figure{margin:1.5em 0}figcaption{color:#555;font-size:.9em}svg{max-width:100%;height:auto}\n"
      "table{border-collapse:collapse;font-size:.8em}th,td{border:1px solid #ccc;padding:2px 6px;text-align:right}\n"
      "td.diverged{background:#fde0dd}td.failed{background:#f4a582}td.pending,td.partial,td.running,td.interrupted,"
      "td.mixed,td.none{color:#777;background:#f0f0f0}td.not-current{color:#b2182b}\n"
      ".missing,.note{color:#555}.warning{background:#fff3cd;padding:.5em}code{background:#f4f4f4;padding:0 3px}\n"
      "</style></head><body>\n<h1>" +
      html_escape(sweep.spec.name) + "</h1>\n<p>" + html_escape(sweep.spec.base.description) + "</p>\n<p>" +
      std::to_string(results.size()) + " trials: " + html_escape(counts) + ". Results in <code>" + html_escape(root.string()) +
      "</code>; figures also in <code>figures/</code>, each with the gnuplot script that draws it (data inline).</p>\n";
  if (done == 0) {
    files.note = "no trial has finished yet (" + counts + ")";
    html += "<p class=\"warning\">No trial has finished yet (" + html_escape(counts) +
            "): there are no results to show, only what the trials have written so far.</p>\n";
  }
  if (not_current > 0) {
    html += "<p class=\"note\">" + std::to_string(not_current) + (not_current == 1 ? " trial is" : " trials are") +
            " not in the current config: on disk from an earlier version of it, marked <code>false</code> under "
            "in_current_config in the table of trials.</p>\n";
  }
  int number = 0;
  std::vector<const Figure*> missing;
  for (const auto& figure : figures) {
    if (figure.svg.empty()) {
      missing.push_back(&figure);
      continue;
    }
    html += "<figure id=\"" + fs::path(figure.file).stem().string() + "\"><h2>" + std::to_string(++number) + ". " +
            html_escape(figure.title) + "</h2>\n" + svg_body(figure.svg) + "\n<figcaption>" + html_escape(figure.caption) +
            "</figcaption></figure>\n";
  }
  if (!missing.empty()) {
    html += "<h2>Figures not drawn</h2><ul class=\"missing\">\n";
    for (const auto* figure : missing) html += "<li>" + html_escape(figure->title) + ": " + html_escape(figure->why_not) + "</li>\n";
    html += "</ul>\n";
  }
  for (std::size_t i = 0; i < grids.size(); ++i) html += grid_html(grids[i], i);
  std::vector<std::string> columns = {"trial_id"};
  for (const auto& key : swept_keys(sweep.spec)) columns.push_back(key);
  columns.push_back("status");
  if (not_current > 0) columns.push_back("in_current_config");
  columns.insert(columns.end(), {"temperature", "steps", "final_train_loss", "final_test_loss", "final_test_acc",
                                 "best_test_acc", "diverged_at_step"});
  for (const auto& target : sweep.spec.base.targets) columns.push_back("steps_to_" + target_column(target));
  html += "<h2>Trials</h2>\n" + table_html(trials, columns) + "</body></html>\n";

  files.html = (folder / "report.html").string();
  write_file_atomic(files.html, html);
  for (const auto& figure : figures) {
    if (!figure.svg.empty()) files.figures.push_back((figures_dir / figure.file).string());
  }
  for (const auto* figure : missing) files.not_drawn.push_back(figure->title + ": " + figure->why_not);
  return files;
}

}  // namespace sweeplab
