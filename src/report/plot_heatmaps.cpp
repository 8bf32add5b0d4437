// Heatmaps of the grid: heatmap_batch (x: the batch size or another swept number, by learning rate) and
// heatmap_temperature (batch size by eta/B).
#include <cmath>
#include <set>

#include "figure.hpp"
#include "sweeplab/config/schema.hpp"
#include "sweeplab/core/text.hpp"
#include "sweeplab/report/results.hpp"

namespace sweeplab::report_detail {
namespace {

// 2. Final train loss (log10) over log2 x (the batch size, or another swept number such as gamma) by log2
// learning rate, and, with the batch size on x, over log2 B x log2(eta/B); one pair per facet of the grid.
std::vector<Figure> heatmap_figures(const Grid& grid, std::size_t number) {
  const std::string suffix = number == 0 ? "" : "_" + std::to_string(number + 1);
  const std::string facet = grid.facet.empty() ? "" : " (" + grid.facet + ")";
  Figure by_lr{"heatmap_batch" + suffix + ".svg", "Final train loss over " + grid.x_name() + " and learning rate" + facet,
               "", "", "", ""};
  Figure by_temperature{"heatmap_temperature" + suffix + ".svg",
                        "Final train loss over batch size and temperature eta/B" + facet, "", "", "", ""};
  // One block per kind of cell, for each y: log2 lr, log2 (lr / batch size).
  std::string values[2], diverged[2], no_result[2], labels[2];
  bool any_values = false, any_result = false;
  for (const auto& [key, cell] : grid.cells) {
    const double x = std::log2(key.first);
    const double ys[2] = {std::log2(key.second), std::log2(key.second / key.first)};
    std::string label;
    if (cell.losses.empty() && cell.diverged == 0) {
      label = cell.others.size() == 1 ? cell.others.begin()->first : "no result";
    } else if (!cell.others.empty()) {
      int without = 0;
      for (const auto& [status, n] : cell.others) without += n;
      label = std::to_string(cell.trials - without) + " of " + std::to_string(cell.trials) + " done";
    }
    for (int i = 0; i < 2; ++i) {
      const std::string point = num(x) + " " + num(ys[i]);
      if (!cell.losses.empty()) values[i] += point + " " + num(std::log10(mean_stderr(cell.losses).mean)) + "\n";
      if (cell.diverged > 0) diverged[i] += point + "\n";
      if (cell.losses.empty() && cell.diverged == 0) no_result[i] += point + "\n";
      if (!label.empty()) labels[i] += point + " " + gp_quote(label) + "\n";
    }
    any_values = any_values || !cell.losses.empty();
    any_result = any_result || !cell.losses.empty() || cell.diverged > 0;
  }
  if (!any_result) {
    std::map<std::string, int> statuses;
    for (const auto& [key, cell] : grid.cells) {
      for (const auto& [status, n] : cell.others) statuses[status] += n;
    }
    by_lr.why_not = by_temperature.why_not = "no trial has completed or diverged yet (" + status_counts(statuses) + ")";
    return {by_lr, by_temperature};
  }
  const auto half_step = [](const auto& sorted) {
    double smallest = INFINITY;
    for (std::size_t i = 1; i < sorted.size(); ++i) {
      smallest = std::min(smallest, std::log2(double(sorted[i])) - std::log2(double(sorted[i - 1])));
    }
    return std::isfinite(smallest) && smallest > 0 ? smallest / 2 : 0.5;
  };
  const double dx = half_step(grid.xs), dy = half_step(grid.lrs);
  // The full planned axes, whatever has finished.
  const std::string x_range = "set xrange [" + num(std::log2(grid.xs.front()) - dx) + ":" + num(std::log2(grid.xs.back()) + dx) + "]\n";
  const std::string y_range = "set yrange [" + num(std::log2(grid.lrs.front()) - dy) + ":" + num(std::log2(grid.lrs.back()) + dy) + "]\n";
  const std::string palette = "set palette defined (0 '#2166ac', 1 '#f7f7f7', 2 '#b2182b')\nset cblabel 'log10 final train loss'\n"
                              "set xlabel 'log2 " + grid.x_name() + "'\n" + std::string(any_values ? "" : "unset colorbox\n");
  const std::string names[2] = {"", "t"};
  const auto blocks = [&](int i) {
    return "$" + names[i] + "cells << EOD\n" + values[i] + "EOD\n$" + names[i] + "diverged << EOD\n" + diverged[i] + "EOD\n$" +
           names[i] + "noresult << EOD\n" + no_result[i] + "EOD\n$" + names[i] + "labels << EOD\n" + labels[i] + "EOD\n";
  };
  // Plots of the non-empty blocks only (gnuplot fails on an empty one).
  const auto plots = [&](int i, const std::string& cell_style, const std::string& empty_style) {
    std::vector<std::string> parts;
    const std::string n = names[i];
    if (!values[i].empty()) parts.push_back("$" + n + "cells " + cell_style + " lc palette notitle");
    if (!no_result[i].empty()) parts.push_back("$" + n + "noresult " + empty_style + " lc rgb '#d9d9d9' notitle");
    if (!diverged[i].empty()) parts.push_back("$" + n + "diverged using 1:2 with points pt 2 ps 2.5 lw 2 lc rgb 'black' notitle");
    if (!labels[i].empty()) parts.push_back("$" + n + "labels using 1:2:3 with labels font ',8' tc rgb '#333333' notitle");
    return "plot " + join(parts, ", ") + "\n";
  };
  const std::string box = "using 1:2:(" + num(dx) + "):(" + num(dy) + ")";
  by_lr.script = blocks(0) + palette + x_range + y_range +
                 "set ylabel 'log2 learning rate'\nset title 'final train loss (log10), X: diverged, grey: no result'\n" +
                 plots(0, box + ":3 with boxxyerror fs solid 1.0 noborder", box + " with boxxyerror fs solid 1.0 noborder");
  by_temperature.script = blocks(1) + palette + x_range +
                          "set ylabel 'log2 temperature (lr / batch size)'\n"
                          "set title 'final train loss (log10) over eta/B, X: diverged, grey: no result'\n" +
                          plots(1, "using 1:2:3 with points pt 5 ps 3", "using 1:2 with points pt 5 ps 3");
  bool several = false;
  for (const auto& [key, cell] : grid.cells) several = several || cell.trials > 1;
  const std::string over = several ? "the mean final train loss of each cell's completed trials"
                                   : "the final train loss of each cell's trial";
  by_lr.caption = "Colour: log10 of " + over + " (the last evaluation's, averaged over the batches since the one "
                  "before). X marks a cell where a trial diverged; a grey cell has no completed or diverged trial "
                  "and is labelled with its trials' status; \"k of n done\": only k of the cell's n trials have "
                  "completed or diverged.";
  by_temperature.caption = "The same cells placed by the temperature eta/B: cells of equal temperature lie on a row.";
  if (!grid.by_batch_size()) return {by_lr};
  return {by_lr, by_temperature};
}

// Every grid's heatmaps, or why there are none.
std::vector<Figure> heatmap_figures(const std::vector<Grid>& grids) {
  if (grids.empty()) {
    Figure by_lr{"heatmap_batch.svg", "Final train loss over batch size and learning rate", "", "", "", ""};
    by_lr.why_not = "the sweep does not vary optimizer.lr (or optimizer.temperature) and a second number such as "
                    "training.batch_size (each needs 2 or more values)";
    Figure by_temperature{"heatmap_temperature.svg", "Final train loss over batch size and temperature eta/B", "", "", "", ""};
    by_temperature.why_not = by_lr.why_not;
    return {by_lr, by_temperature};
  }
  std::vector<Figure> figures;
  for (std::size_t i = 0; i < grids.size(); ++i) {
    for (auto& figure : heatmap_figures(grids[i], i)) figures.push_back(std::move(figure));
  }
  return figures;
}

}  // namespace

std::vector<Figure> heatmap_batch(const ReportData& data) {
  auto figures = heatmap_figures(data.grids);
  std::vector<Figure> kept;
  for (auto& figure : figures) {
    if (figure.file.rfind("heatmap_batch", 0) == 0) kept.push_back(std::move(figure));
  }
  return kept;
}

std::vector<Figure> heatmap_temperature(const ReportData& data) {
  auto figures = heatmap_figures(data.grids);
  std::vector<Figure> kept;
  for (auto& figure : figures) {
    if (figure.file.rfind("heatmap_temperature", 0) == 0) kept.push_back(std::move(figure));
  }
  return kept;
}

}  // namespace sweeplab::report_detail
