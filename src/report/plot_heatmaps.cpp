// Heatmaps of the grid: heatmap_batch (x: the batch size or another swept number, by learning rate) and
// heatmap_temperature (batch size by η/B, in bins). Cells are coloured on a sequential scale (viridis) by final
// test accuracy (train accuracy without a test set) on a fixed 0-1 range, or for regression by final train loss
// on a log scale; trials without a value get marks that no colour can be mistaken for.
#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <tuple>

#include "figure.hpp"
#include "sweeplab/config/schema.hpp"
#include "sweeplab/core/text.hpp"
#include "sweeplab/report/results.hpp"

namespace sweeplab::report_detail {
namespace {

// ---- text in the user's units ----

// A cell's value as printed in it: an accuracy with 2 decimals, a loss with 3 significant digits.
std::string value_label(double value, bool accuracy) {
  char buffer[32];
  if (accuracy) std::snprintf(buffer, sizeof buffer, "%.2f", value);
  else std::snprintf(buffer, sizeof buffer, "%.3g", value);
  return buffer;
}

// What a status is called in a cell: a trial not started is "not run".
std::string status_word(const std::string& status) { return status == to_string(TrialStatus::Pending) ? "not run" : status; }

// ---- the colour scale ----

// viridis: sequential, its lightness rising monotonically from dark purple to yellow, readable in grey.
const std::string kPalette =
    "set palette defined (0 '#440154', 1 '#472c7a', 2 '#3b518b', 3 '#2c718e', 4 '#21908d', 5 '#27ad81', "
    "6 '#5cc863', 7 '#aadc32', 8 '#fde725')\n";

struct ColourScale {
  enum class By { OptimalShare, TestAcc, TrainAcc, Loss, LastBatchLoss } by = By::Loss;
  double low = 0, high = 1;                              // the cbrange, as plotted (log10 for the loss)
  std::vector<std::pair<double, std::string>> tics;      // the loss's: log10 position, label in user units

  bool accuracy() const { return by != By::Loss && by != By::LastBatchLoss; }
  std::string metric() const {
    return by == By::OptimalShare ? "final share of optimal starts"
           : by == By::TestAcc    ? "final test accuracy"
           : by == By::TrainAcc   ? "final train accuracy"
           : by == By::LastBatchLoss ? "last minibatch's loss"
                                  : "final train loss";
  }
  const std::vector<double>& values(const GridCell& cell) const {
    return by == By::OptimalShare ? cell.optimal_shares
           : by == By::TestAcc    ? cell.test_accs
           : by == By::TrainAcc   ? cell.train_accs
           : by == By::LastBatchLoss ? cell.last_batch_losses
                                  : cell.losses;
  }
  double plotted(double value) const { return accuracy() ? value : std::log10(value); }
  // Where in the palette a value falls, 0 to 1: its text is white on the darker part.
  double fraction(double value) const {
    return high > low ? std::clamp((plotted(value) - low) / (high - low), 0.0, 1.0) : 0.5;
  }
};

// DQN's share of optimal starts when every completed trial has one; else accuracy when every completed trial of every grid has one (test accuracy if each has that, else train
// accuracy): on 0 to 1, so that figures of different sweeps and facets compare. Else the train loss on a log
// scale over the range of every grid (facets share it), widened to ticks at 1, 2, 5 (or 1 to 9) times a power of 10.
// `colour_by` "last_batch_loss": the last minibatch's loss on a log scale, whatever the task.
ColourScale colour_scale(const std::vector<Grid>& grids, const std::string& colour_by) {
  ColourScale scale;
  const bool last_batch = colour_by == "last_batch_loss";
  bool optimal = true, test = true, train = true, any = false;
  double low = INFINITY, high = -INFINITY;
  for (const auto& grid : grids) {
    for (const auto& [key, cell] : grid.cells) {
      optimal = optimal && cell.optimal_shares.size() == cell.losses.size();
      test = test && cell.test_accs.size() == cell.losses.size();
      train = train && cell.train_accs.size() == cell.losses.size();
      for (double loss : last_batch ? cell.last_batch_losses : cell.losses) {
        any = true;
        low = std::min(low, std::log10(loss));
        high = std::max(high, std::log10(loss));
      }
    }
  }
  if (last_batch) optimal = test = train = false;
  if (any && optimal) scale.by = ColourScale::By::OptimalShare;  // DQN (doublegoal): greedy_optimal_fraction
  else if (any && test) scale.by = ColourScale::By::TestAcc;
  else if (any && train) scale.by = ColourScale::By::TrainAcc;
  if (scale.accuracy() || !any) return scale;
  scale.by = last_batch ? ColourScale::By::LastBatchLoss : ColourScale::By::Loss;
  const double span = high - low;
  const std::vector<double> mantissas = span >= 2 ? std::vector<double>{1}
                                        : span >= 0.7 ? std::vector<double>{1, 2, 5}
                                                      : std::vector<double>{1, 2, 3, 4, 5, 6, 7, 8, 9};
  std::vector<std::pair<double, double>> ticks;  // log10 position, value
  for (int decade = int(std::floor(low)) - 1; decade <= int(std::ceil(high)) + 1; ++decade) {
    for (double m : mantissas) ticks.emplace_back(decade + std::log10(m), m * std::pow(10.0, decade));
  }
  const double eps = 1e-9;
  double from = ticks.front().first, to = ticks.back().first;
  for (const auto& [t, value] : ticks) {
    if (t <= low + eps) from = t;
    if (t >= high - eps) {
      to = t;
      break;
    }
  }
  if (to <= from) to = from + 1;  // one loss value: a decade
  scale.low = from;
  scale.high = to;
  const int decades = int(std::round(to - from));
  std::vector<double> positions, values;
  for (const auto& [t, value] : ticks) {
    if (t < from - eps || t > to + eps) continue;
    if (mantissas.size() == 1 && decades > 8 && int(std::round(t)) % 2 != 0) continue;  // many decades: every other
    positions.push_back(t);
    values.push_back(value);
  }
  const auto labels = tick_labels(values);
  for (std::size_t i = 0; i < positions.size(); ++i) scale.tics.emplace_back(positions[i], labels[i]);
  return scale;
}

// ---- the cells as drawn ----

// One axis of a heatmap: its values at the cells' centres, placed at log2 when they are evenly spaced there (each
// step within a factor 1.5 of the others: 2, 4, 8; 1e-3, 3e-3, 1e-2), else by rank (0, 1, 2, ...: 0.01, 0.1, 10
// or a value that is not positive), each cell reaching halfway to its neighbours.
struct Axis {
  std::vector<double> values;  // ascending
  bool log = true;

  explicit Axis(std::vector<double> sorted) : values(std::move(sorted)) {
    for (double v : values) log = log && v > 0;
    double smallest = INFINITY, largest = 0;
    for (std::size_t i = 1; log && i < values.size(); ++i) {
      const double step = std::log2(values[i]) - std::log2(values[i - 1]);
      smallest = std::min(smallest, step);
      largest = std::max(largest, step);
    }
    log = log && (values.size() < 3 || largest <= 1.5 * smallest);
  }
  double at(double value) const {
    if (log) return std::log2(value);
    return double(std::lower_bound(values.begin(), values.end(), value) - values.begin());
  }
  std::pair<double, double> edges(double value) const {
    const auto i = std::size_t(std::lower_bound(values.begin(), values.end(), value) - values.begin());
    const double here = at(value);
    if (values.size() < 2) return {here - 0.5, here + 0.5};
    const double below = i > 0 ? (here - at(values[i - 1])) / 2 : (at(values[1]) - at(values[0])) / 2;
    const double above = i + 1 < values.size() ? (at(values[i + 1]) - here) / 2 : (here - at(values[i - 1])) / 2;
    return {here - below, here + above};
  }
  // set xtics ("2" 1, "4" 2, ...): every value, or every k-th when there are more than `most`.
  std::string tics(const std::string& axis, std::size_t most = 14) const {
    const std::size_t every = (values.size() + most - 1) / most;
    std::vector<double> shown;
    for (std::size_t i = 0; i < values.size(); i += every) shown.push_back(values[i]);
    const auto labels = tick_labels(shown);
    std::vector<std::string> parts;
    for (std::size_t i = 0; i < shown.size(); ++i) parts.push_back(gp_quote(labels[i]) + " " + num(at(shown[i])));
    return "set " + axis + "tics (" + join(parts, ", ") + ")\n";
  }
};

struct Tile {  // one drawn cell: a grid cell, or in the temperature heatmap every grid cell of a bin
  double x = 0, y = 0, x0 = 0, x1 = 0, y0 = 0, y1 = 0;
  GridCell cell;
  int grid_cells = 0;  // how many (x, learning rate) cells it holds
};

void merge(GridCell& into, const GridCell& cell) {
  into.losses.insert(into.losses.end(), cell.losses.begin(), cell.losses.end());
  into.optimal_shares.insert(into.optimal_shares.end(), cell.optimal_shares.begin(), cell.optimal_shares.end());
  into.test_accs.insert(into.test_accs.end(), cell.test_accs.begin(), cell.test_accs.end());
  into.train_accs.insert(into.train_accs.end(), cell.train_accs.begin(), cell.train_accs.end());
  into.diverged_at.insert(into.diverged_at.end(), cell.diverged_at.begin(), cell.diverged_at.end());
  into.diverged += cell.diverged;
  into.trials += cell.trials;
  for (const auto& [status, n] : cell.others) into.others[status] += n;
}

// The rows of the temperature heatmap: bins of log2(η/B) of width `width`, centred on `origin` + k width.
struct Bins {
  double origin = 0, width = 1;
  bool exact = false;  // every (B, lr) of the grid lies on a bin's centre
  long index(double y) const { return std::lround((y - origin) / width); }
  double centre(long k) const { return origin + double(k) * width; }
};

// The grid's natural spacing when its log2(η/B) values lie on a lattice (batch sizes and learning rates
// powers of 2 of each other: each η/B its own row); else the smallest step between learning rates (in log2),
// so that no two trials of one batch size share a row, while the rows stay few; never more than 48 rows.
// (A batch size's learning rates are that step apart in η/B too; rounding to the nearest row keeps them apart.)
Bins temperature_bins(const Grid& grid) {
  std::vector<double> ys;
  for (const auto& [key, cell] : grid.cells) ys.push_back(std::log2(key.second / key.first));
  std::sort(ys.begin(), ys.end());
  Bins bins;
  bins.origin = ys.front();
  const double range = ys.back() - ys.front();
  double smallest = INFINITY;
  for (std::size_t i = 1; i < ys.size(); ++i) {
    if (ys[i] - ys[i - 1] > 1e-9) smallest = std::min(smallest, ys[i] - ys[i - 1]);
  }
  if (!std::isfinite(smallest)) {  // a single η/B
    bins.width = 1;
    bins.exact = true;
    return bins;
  }
  bool lattice = range / smallest <= 47.5;
  for (double y : ys) {
    const double k = (y - bins.origin) / smallest;
    lattice = lattice && std::fabs(k - std::round(k)) < 1e-6;
  }
  if (lattice) {
    bins.width = smallest;
    bins.exact = true;
    return bins;
  }
  double step = INFINITY;
  for (std::size_t i = 1; i < grid.lrs.size(); ++i) step = std::min(step, std::log2(grid.lrs[i]) - std::log2(grid.lrs[i - 1]));
  bins.width = std::max(std::isfinite(step) && step > 0 ? step : 1.0, range / 47);
  // Rows a decade tall are centred on powers of 10 (1e-5, 1e-4, ...), so that their labels read as the lrs do.
  if (std::fabs(bins.width - std::log2(10.0)) < 1e-9) bins.origin = std::log2(10.0) * std::round(bins.origin / std::log2(10.0));
  return bins;
}

// A factor as text: 2, 1.41, 10.
std::string factor_text(double log2_width) { return tick_label(std::stod(format_double_short(std::exp2(log2_width), 3))); }

// ---- drawing ----

struct Marks {
  bool values = false, diverged = false, failed = false, skipped = false, unfinished = false;
  std::set<std::string> unfinished_words;  // "not run", "running", ...
  int mixed = 0;                           // cells with a value and other trials
  bool averaged = false;                   // a value is a mean over several trials
  bool printed = false;                    // values are written in their cells
  bool labelled = true;                    // cells carry words (a status, a step); not on a dense grid
  std::size_t fewest = SIZE_MAX, most = 0;  // completed trials (seeds) behind a coloured cell
};

// The datablocks ($cells, $noresult, $diverged, $failed, $skipped, $labels, $notes; prefixed with t for the
// temperature heatmap) and the plot of them. Rows of $cells: x y x0 x1 y0 y1 value trials grid_cells (the value is
// the mean over the tile's completed trials, in user units); of the others: x y x0 x1 y0 y1; of $diverged:
// x y dx dy step x0 x1 y0 y1 (the cross drawn at x + dx, y + dy; the first step, when several diverged). $labels:
// what a tile's centre says, $notes: its second line (x y "text" colour; y in the cell's lower part).
std::string tiles_script(const std::vector<Tile>& tiles, const ColourScale& scale, const std::string& prefix,
                         bool print_values, Marks& marks) {
  std::string cells, noresult, diverged, failed, skipped, labels, notes;
  marks.labelled = print_values;
  for (const auto& tile : tiles) {
    const GridCell& cell = tile.cell;
    const auto& values = scale.values(cell);
    const std::string box = num(tile.x) + " " + num(tile.y) + " " + num(tile.x0) + " " + num(tile.x1) + " " + num(tile.y0) +
                            " " + num(tile.y1);
    const auto failed_n = cell.others.count("failed") ? cell.others.at("failed") : 0;
    const auto skipped_n = cell.others.count("skipped") ? cell.others.at("skipped") : 0;
    const double w = tile.x1 - tile.x0, h = tile.y1 - tile.y0;
    // What the centre says and what the second line adds; the first is the cell's kind.
    std::string centre, centre_colour = "0x333333";
    std::vector<std::string> note;
    std::map<std::string, int> rest = cell.others;  // trials the centre does not stand for
    if (!values.empty()) {
      const double mean = mean_stderr(values).mean;
      cells += box + " " + num(mean) + " " + std::to_string(values.size()) + " " + std::to_string(tile.grid_cells) + "\n";
      if (print_values) {
        centre = value_label(mean, scale.accuracy());
        centre_colour = scale.fraction(mean) < 0.6 ? "0xffffff" : "0x000000";
      }
      marks.values = true;
      marks.printed = print_values;
      marks.averaged = marks.averaged || values.size() > 1;
      marks.fewest = std::min(marks.fewest, values.size());
      marks.most = std::max(marks.most, values.size());
      if (cell.diverged > 0 || !cell.others.empty()) ++marks.mixed;
    } else if (cell.diverged > 0) {
      // the mark says it
    } else if (failed_n > 0) {
      failed += box + "\n";
      centre = "failed";
      centre_colour = "0xa63603";
      rest.erase("failed");
      marks.failed = true;
    } else if (skipped_n > 0) {
      skipped += box + "\n";
      centre = "skipped";
      centre_colour = "0x555555";
      rest.erase("skipped");
      marks.skipped = true;
    } else {
      noresult += box + "\n";
      centre = rest.size() == 1 ? status_word(rest.begin()->first) : "no result";
      centre_colour = "0x555555";
      for (const auto& [status, n] : rest) marks.unfinished_words.insert(status_word(status));
      if (rest.size() == 1 && rest.begin()->second == cell.trials) rest.clear();
      marks.unfinished = true;
    }
    if (cell.diverged > 0) {
      marks.diverged = true;
      // Alone, a large cross a little above the centre (its step below); beside a value, a small one in the upper
      // right corner. dx = 0 tells the plot which.
      const bool corner = !values.empty();
      diverged += num(tile.x) + " " + num(tile.y) + " " + num(corner ? w * 0.36 : 0) + " " + num(corner ? h * 0.3 : h * 0.14) + " " +
                  (cell.diverged_at.empty() ? std::string("NaN") : std::to_string(*std::min_element(cell.diverged_at.begin(), cell.diverged_at.end()))) +
                  " " + num(tile.x0) + " " + num(tile.x1) + " " + num(tile.y0) + " " + num(tile.y1) + "\n";
      std::vector<std::int64_t> steps = cell.diverged_at;
      std::sort(steps.begin(), steps.end());
      std::vector<std::string> texts;
      for (std::size_t i = 0; i < steps.size() && i < 3; ++i) texts.push_back(std::to_string(steps[i]));
      if (steps.size() > 3) texts.push_back("...");
      std::string text = steps.empty() ? "" : (steps.size() == 1 ? "step " : "steps ") + join(texts, ", ");
      if (cell.diverged != cell.trials) text = std::to_string(cell.diverged) + " diverged" + (text.empty() ? "" : " at " + text);
      else if (text.empty()) text = "diverged";
      note.push_back(text);
    }
    for (const auto& [status, n] : rest) note.push_back(std::to_string(n) + " " + status_word(status));
    const std::string at = num(tile.x) + " ";
    // A dense grid's cells are too small for words: the marks and the key say what a cell is.
    if (!print_values) centre.clear(), note.clear();
    // With a second line, the centre moves up and the line sits in the cell's lower part: both inside the cell, clear
    // of its borders.
    if (!centre.empty()) labels += at + num(note.empty() ? tile.y : tile.y + 0.14 * h) + " " + gp_quote(centre) + " " + centre_colour + "\n";
    if (!note.empty()) {
      // Below the centre (or below the cross); white on a dark value, else dark grey.
      const std::string colour = !values.empty() && scale.fraction(mean_stderr(values).mean) < 0.6 ? "0xffffff" : "0x333333";
      notes += at + num(tile.y - 0.22 * h) + " " + gp_quote(join(note, ", ")) + " " + colour + "\n";
    }
  }
  const auto block = [&prefix](const std::string& name, const std::string& rows) {
    return "$" + prefix + name + " << EOD\n" + rows + "EOD\n";
  };
  std::string script = block("cells", cells) + block("noresult", noresult) + block("diverged", diverged) +
                       block("failed", failed) + block("skipped", skipped) + block("labels", labels) + block("notes", notes);
  // Plots of the non-empty blocks only (gnuplot fails on an empty one); each mark has its key entry.
  const std::string boxes = " using 1:2:3:4:5:6 with boxxyerror";
  const std::string value = scale.accuracy() ? "7" : "(log10($7))";
  std::vector<std::string> parts;
  if (!cells.empty()) parts.push_back("$" + prefix + "cells using 1:2:3:4:5:6:" + value + " with boxxyerror fs solid 1.0 noborder lc palette notitle");
  if (!noresult.empty()) {
    std::vector<std::string> words(marks.unfinished_words.begin(), marks.unfinished_words.end());
    const std::string title = words == std::vector<std::string>{"not run"} ? "not run yet" : "no result yet: " + join(words, ", ");
    parts.push_back("$" + prefix + "noresult" + boxes + " fs pattern 4 transparent border lc rgb '#9a9a9a' lw 1 lc rgb '#9a9a9a' title " +
                    gp_quote(title));
  }
  if (!skipped.empty()) {
    parts.push_back("$" + prefix + "skipped" + boxes + " fs solid 1.0 noborder lc rgb '#e3e3e3' title 'skipped (sweep.prune)'");
  }
  if (!failed.empty()) {  // an outline inside the cell, so that it does not run into its neighbours
    parts.push_back("$" + prefix + "failed using 1:2:($3+($4-$3)*0.06):($4-($4-$3)*0.06):($5+($6-$5)*0.06):($6-($6-$5)*0.06) "
                    "with boxxyerror fs empty lw 2.5 lc rgb '#a63603' title 'failed'");
  }
  if (!diverged.empty()) {  // a cell of diverged trials only is outlined; a white halo keeps the cross visible on any colour
    parts.push_back("$" + prefix + "diverged using ($3==0?$1:NaN):2:6:7:8:9 with boxxyerror fs empty lw 1 lc rgb '#555555' notitle");
    parts.push_back("$" + prefix + "diverged using ($1+$3):($2+$4):($3==0?1.8:1.3) with points pt 2 ps variable lw 6 lc rgb 'white' notitle");
    parts.push_back("$" + prefix + "diverged using ($1+$3):($2+$4):($3==0?1.8:1.3) with points pt 2 ps variable lw 2.5 lc rgb 'black' "
                    "title 'diverged (at step)'");
  }
  if (!labels.empty()) parts.push_back("$" + prefix + "labels using 1:2:3:4 with labels tc rgb variable font ',11' notitle");
  // The second line: under the cross of a diverged cell, which has no centre text, else under the centre.
  if (!notes.empty()) parts.push_back("$" + prefix + "notes using 1:2:3:4 with labels tc rgb variable font ',10' notitle");
  return script + "plot " + join(parts, ", \\\n     ") + "\n";
}

// Settings both heatmaps share: the palette and its range, the key below the plot, no grid over the cells.
std::string scale_script(const ColourScale& scale, bool any_values) {
  std::string script = kPalette + "unset grid\nset tics out nomirror\nset border lw 1\n"
                       "set key outside bottom center horizontal samplen 2 spacing 1.2 width 2\n";
  if (!any_values) return script + "unset colorbox\n";
  if (scale.accuracy()) return script + "set cbrange [0:1]\nset cbtics 0.2\nset cblabel " + gp_quote(scale.metric() + " (0 to 1)") + " offset 1,0\n";
  std::vector<std::string> tics;
  for (const auto& [at, label] : scale.tics) tics.push_back(gp_quote(label) + " " + num(at));
  return script + "set cbrange [" + num(scale.low) + ":" + num(scale.high) + "]\nset cbtics (" + join(tics, ", ") +
         ")\nset cblabel " + gp_quote(scale.metric() + " (log scale)") + " offset 1,0\n";
}

// The caption's words on the colour and the marks shown.
std::string marks_caption(const ColourScale& scale, const Marks& marks) {
  std::string text;
  if (marks.values) {
    text = "Colour (viridis, brighter is higher): " +
           (marks.averaged ? "the mean " + scale.metric() + " of the cell's completed trials" : "the " + scale.metric() + " of the cell's trial") +
           (scale.accuracy() ? ", on a fixed scale from 0 to 1"
            : scale.by == ColourScale::By::LastBatchLoss
                ? " (the loss of the last training batch before the final evaluation, the value batch_size_studies colours by), on a log scale"
                : " (the last evaluation's, averaged over the batches since the one before), on a log scale") +
           (marks.printed ? ", printed in the cell." : ".");
    if (marks.averaged) {
      text += marks.fewest == marks.most ? " Each coloured cell holds " + std::to_string(marks.most) + " seeds."
                                         : " A coloured cell holds " + std::to_string(marks.fewest) + " to " +
                                               std::to_string(marks.most) + " seeds (the table of the grid gives each cell's count).";
    }
  }
  std::vector<std::string> listed;
  if (marks.diverged) {
    listed.push_back(marks.labelled ? "a black cross: a trial diverged, at the step written below it"
                                    : "a black cross: a trial diverged (the trial table has the step)");
  }
  if (marks.failed) listed.push_back("a red outline: the trial failed (the trial table says why)");
  if (marks.skipped) listed.push_back("a grey cell: skipped by sweep.prune, never run");
  if (marks.unfinished) {
    std::vector<std::string> words(marks.unfinished_words.begin(), marks.unfinished_words.end());
    listed.push_back("a hatched cell: no result yet" + std::string(marks.labelled ? ", labelled with its status" : "") + " (" +
                     join(words, ", ") + ")");
  }
  if (!listed.empty()) text += " Marks: " + join(listed, "; ") + ".";
  if (!marks.labelled) text += " The grid is too dense for words in its cells.";
  else if (marks.mixed > 0) text += " A coloured cell whose trials did not all complete lists the others below its value.";
  return text;
}

// The figures of one grid: heatmap_batch[_N], and with the batch size on x, heatmap_temperature[_N].
std::vector<Figure> heatmap_figures(const Grid& grid, std::size_t number, const ColourScale& scale, const std::string& where) {
  const std::string suffix = number == 0 ? "" : "_" + std::to_string(number + 1);
  const std::string facet = grid.facet.empty() ? "" : " (" + grid.facet + ")";
  std::string what = scale.metric();
  what[0] = char(std::toupper(static_cast<unsigned char>(what[0])));
  Figure by_lr{"heatmap_batch" + suffix + ".svg", what + " over " + grid.x_name() + " and learning rate" + facet, "", "", "", ""};
  Figure by_temperature{"heatmap_temperature" + suffix + ".svg", what + " over batch size and temperature η/B" + facet,
                        "", "", "", ""};
  bool any_result = false, any_values = false;
  std::map<std::string, int> statuses;
  for (const auto& [key, cell] : grid.cells) {
    any_result = any_result || !cell.losses.empty() || cell.diverged > 0;
    any_values = any_values || !scale.values(cell).empty();
    for (const auto& [status, n] : cell.others) statuses[status] += n;
  }
  if (!any_result) {
    by_lr.why_not = by_temperature.why_not = "no trial has completed or diverged yet (" + status_counts(statuses) + ")";
    return grid.by_batch_size() ? std::vector<Figure>{by_lr, by_temperature} : std::vector<Figure>{by_lr};
  }
  const Axis x_axis(grid.xs), lr_axis(grid.lrs);
  const auto range = [](const std::string& axis, double from, double to) {
    return "set " + axis + "range [" + num(from) + ":" + num(to) + "]\n";
  };
  const std::string x_setup = x_axis.tics("x") + "set xlabel " + gp_quote(axis_title(grid.x_key)) + "\n" +
                              range("x", x_axis.edges(grid.xs.front()).first, x_axis.edges(grid.xs.back()).second);
  // Values are printed in the cells while they fit: up to 12 columns and 18 rows.
  const auto print_values = [&grid](std::size_t rows) { return grid.xs.size() <= 12 && rows <= 18; };
  const auto height = [](std::size_t rows) { return int(std::clamp<std::size_t>(150 + 46 * rows, 400, 760)); };

  // Over learning rate: one tile per (x, lr) cell of the planned axes.
  std::vector<Tile> tiles;
  for (const auto& [key, cell] : grid.cells) {
    Tile tile;
    tile.x = x_axis.at(key.first);
    tile.y = lr_axis.at(key.second);
    std::tie(tile.x0, tile.x1) = x_axis.edges(key.first);
    std::tie(tile.y0, tile.y1) = lr_axis.edges(key.second);
    tile.cell = cell;
    tile.grid_cells = 1;
    tiles.push_back(tile);
  }
  Marks marks;
  const std::string lr_plot = tiles_script(tiles, scale, "", print_values(grid.lrs.size()), marks);
  by_lr.script = scale_script(scale, any_values) + "set title " + gp_quote(grid.by_temperature() ? by_temperature.title : by_lr.title) + "\n" + x_setup + lr_axis.tics("y") +
                 "set ylabel " + gp_quote(grid.by_temperature() ? "temperature η/B (learning rate η / batch size B)" : "learning rate η") + "\n" +
                 range("y", lr_axis.edges(grid.lrs.front()).first, lr_axis.edges(grid.lrs.back()).second) + lr_plot;
  by_lr.height = height(grid.lrs.size());
  by_lr.caption = marks_caption(scale, marks);
  const auto by_rank = [](const Axis& axis, const std::string& name) {
    return axis.log ? std::string() : " The " + name + " axis is spaced by rank, one column or row per value: its values are not "
                                      "evenly spaced on a log scale.";
  };
  by_lr.caption += by_rank(x_axis, grid.x_name()) + by_rank(lr_axis, grid.y_name());
  if (tiles.size() < grid.xs.size() * grid.lrs.size()) {
    by_lr.caption += where.empty() ? " A blank cell is not part of the sweep."
                                   : " A blank cell has no trial with " + where + " (left out by --where) or is not part of the sweep.";
  }
  if (grid.by_temperature()) {
    // The sweep varies η/B itself: its cells are the temperature heatmap's, one for one, and over the learning
    // rate (η/B x B) they would be a staircase of slivers.
    by_temperature.script = by_lr.script;
    by_temperature.height = by_lr.height;
    by_temperature.caption = "One cell per batch size and temperature η/B of the sweep; a trial's learning rate is "
                             "η/B x B (the trial table has it). " + by_lr.caption;
    Figure not_drawn{by_lr.file, by_lr.title, "", "", "", ""};
    not_drawn.why_not = "the sweep varies the temperature η/B, not the learning rate: the heatmap over batch size and "
                        "temperature shows its cells";
    return {not_drawn, by_temperature};
  }
  if (!grid.by_batch_size()) return {by_lr};

  // Over η/B: the same cells in bins of log2(η/B); a bin's tile holds every cell of its batch size in it.
  const Bins bins = temperature_bins(grid);
  std::map<std::pair<double, long>, Tile> binned;
  for (const auto& [key, cell] : grid.cells) {
    const long k = bins.index(std::log2(key.second / key.first));
    Tile& tile = binned[{key.first, k}];
    if (tile.grid_cells == 0) {
      tile.x = x_axis.at(key.first);
      std::tie(tile.x0, tile.x1) = x_axis.edges(key.first);
      tile.y = bins.centre(k);
      tile.y0 = tile.y - bins.width / 2;
      tile.y1 = tile.y + bins.width / 2;
    }
    merge(tile.cell, cell);
    ++tile.grid_cells;
  }
  std::vector<Tile> temperature_tiles;
  long first = 0, last = 0;
  bool merged = false;
  for (const auto& [key, tile] : binned) {
    if (temperature_tiles.empty() || key.second < first) first = key.second;
    if (temperature_tiles.empty() || key.second > last) last = key.second;
    merged = merged || tile.grid_cells > 1;
    temperature_tiles.push_back(tile);
  }
  std::vector<std::string> row_tics;
  const long rows = last - first + 1, every = (rows + 15) / 16;
  std::vector<double> row_values;
  for (long k = first; k <= last; k += every) row_values.push_back(std::stod(format_double_short(std::exp2(bins.centre(k)), 3)));
  const auto row_labels = tick_labels(row_values);
  for (long k = first, i = 0; k <= last; k += every, ++i) row_tics.push_back(gp_quote(row_labels[std::size_t(i)]) + " " + num(bins.centre(k)));
  Marks temperature_marks;
  const std::string t_plot = tiles_script(temperature_tiles, scale, "t", print_values(std::size_t(rows)), temperature_marks);
  by_temperature.script = scale_script(scale, any_values) + "set title " + gp_quote(by_temperature.title) + "\n" + x_setup +
                          "set ytics (" + join(row_tics, ", ") + ")\nset ylabel 'temperature η/B (learning rate η / batch size B)'\n" +
                          range("y", bins.centre(first) - bins.width / 2, bins.centre(last) + bins.width / 2) + t_plot;
  by_temperature.height = height(std::size_t(rows));
  const std::string factor = factor_text(bins.width);
  by_temperature.caption =
      "The cells placed by their temperature η/B = learning rate / batch size. Rows are bins of η/B, a factor " +
      factor + " apart, labelled with the η/B at their centre; " +
      (bins.exact ? std::string("every cell's η/B lies on its row's centre.")
                  : "the grid's η/B values do not fall on a common spacing, so each cell is drawn in the row whose "
                    "centre is nearest its η/B (within a factor " + factor_text(bins.width / 2) + ").") +
      (merged ? " A tile holding several cells of the grid shows the mean over their completed trials." : "") +
      (temperature_tiles.size() < grid.xs.size() * std::size_t(rows) ? " A blank tile: no trial of that batch size has its η/B in that row." : "") +
      " " +
      marks_caption(scale, temperature_marks) + by_rank(x_axis, "batch size");
  return {by_lr, by_temperature};
}

// Every grid's heatmaps, or why there are none.
std::vector<Figure> heatmap_figures(const std::vector<Grid>& grids, const std::string& where, const std::string& colour_by,
                                    const std::vector<Grid>* other) {
  if (grids.empty()) {
    Figure by_lr{"heatmap_batch.svg", "Heatmap over batch size and learning rate", "", "", "", ""};
    by_lr.why_not = "the sweep does not vary optimizer.lr (or optimizer.temperature) and a second number such as "
                    "training.batch_size (each needs 2 or more values)";
    Figure by_temperature{"heatmap_temperature.svg", "Heatmap over batch size and temperature η/B", "", "", "", ""};
    by_temperature.why_not = by_lr.why_not;
    return {by_lr, by_temperature};
  }
  std::vector<Grid> both = grids;  // with the sweep beside it: one colour scale for the two
  if (other) both.insert(both.end(), other->begin(), other->end());
  const ColourScale scale = colour_scale(both, colour_by);
  std::vector<Figure> figures;
  for (std::size_t i = 0; i < grids.size(); ++i) {
    for (auto& figure : heatmap_figures(grids[i], i, scale, where)) {
      if (!where.empty()) figure.title += " (where " + where + ")";
      figures.push_back(std::move(figure));
    }
  }
  return figures;
}

}  // namespace

namespace {

// The heatmaps of every grid whose file name starts with `kind` (heatmap_batch, heatmap_temperature).
std::vector<Figure> heatmaps_of_kind(const ReportData& data, const std::string& kind) {
  std::vector<Figure> kept;
  for (auto& figure : heatmap_figures(data.grids, data.where, data.colour_by, data.other_grids)) {
    if (figure.file.rfind(kind, 0) == 0) kept.push_back(std::move(figure));
  }
  return kept;
}

}  // namespace

std::vector<Figure> heatmap_batch(const ReportData& data) { return heatmaps_of_kind(data, "heatmap_batch"); }

std::vector<Figure> heatmap_temperature(const ReportData& data) { return heatmaps_of_kind(data, "heatmap_temperature"); }

}  // namespace sweeplab::report_detail
