#include "sweeplab/report/report.hpp"

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "sweeplab/config/schema.hpp"
#include "sweeplab/core/error.hpp"
#include "sweeplab/core/fs.hpp"
#include "sweeplab/core/text.hpp"
#include "sweeplab/report/results.hpp"

namespace fs = std::filesystem;

namespace sweeplab {
namespace {

std::string html_escape(const std::string& text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string gp_quote(const std::string& text) {  // a gnuplot string in double quotes
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

std::string num(double value) { return std::isfinite(value) ? format_double(value) : "NaN"; }

std::string shell_quote(const std::string& text) {
  std::string out = "'";
  for (char c : text) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

bool settled(const TrialState& trial) {  // the trainer is done with it: its result is on disk
  return trial.status == "completed" || trial.status == "diverged" || trial.status == "failed" || trial.status == "skipped";
}

// "2 completed, 1 pending" for a set of statuses (alphabetical).
std::string status_counts(const std::map<std::string, int>& statuses) {
  std::string text;
  for (const auto& [status, n] : statuses) text += (text.empty() ? "" : ", ") + std::to_string(n) + " " + status;
  return text;
}

// ---- the data behind the figures --------------------------------------------------------------

struct Group {  // trials that differ only in their seed
  std::string label;
  std::map<std::string, Value> values;  // swept key -> value (seed excluded)
  std::vector<const TrialState*> trials;
};

std::vector<Group> seed_groups(const ResolvedSweep& sweep, const std::vector<TrialState>& results) {
  std::vector<Group> groups;
  std::map<std::string, std::size_t> index;
  for (const auto& data : results) {
    std::string label;
    std::map<std::string, Value> values;
    for (const auto& [key, value] : data.spec.swept) {
      if (key == "training.seed") continue;
      values[key] = value;
      label += (label.empty() ? "" : " ") + find_field(key)->id_label() + "=" + to_short_text(value);
    }
    if (label.empty()) label = sweep.spec.name;
    auto [it, inserted] = index.emplace(label, groups.size());
    if (inserted) groups.push_back(Group{label, values, {}});
    groups[it->second].trials.push_back(&data);
  }
  return groups;
}

// Mean and standard error of a metric over a group's seeds, point by point (curves aligned by index).
struct CurvePoint {
  double x = 0, mean = 0, stderr_ = 0;
};
enum class XAxis { Epoch, Step, Samples };
// Mean and standard error of a metric over a group's seeds, at each x where one of them has a record:
// a seed that diverged or is still running counts up to its last record. Records whose loss is not
// finite (a diverged trial's record at the step it diverged) are not drawn.
std::vector<CurvePoint> mean_curve(const Group& group, const std::string& metric, XAxis x_axis) {
  std::map<double, std::vector<double>> at;
  for (const auto* data : group.trials) {
    for (const auto& record : data->metrics) {
      if (!std::isfinite(record.train_loss)) continue;
      const auto value = metric_value(record, metric);
      if (!value || !std::isfinite(*value)) continue;
      const double x = x_axis == XAxis::Samples ? double(record.samples)
                       : x_axis == XAxis::Step  ? double(record.step)
                                                : double(record.epoch);
      at[x].push_back(*value);
    }
  }
  std::vector<CurvePoint> points;
  for (const auto& [x, values] : at) {
    const auto stats = mean_stderr(values);
    points.push_back({x, stats.mean, stats.stderr_.value_or(0.0)});
  }
  return points;
}

std::string datablock(const std::string& name, const std::vector<CurvePoint>& points) {
  std::string out = "$" + name + " << EOD\n";
  for (const auto& p : points) out += num(p.x) + " " + num(p.mean) + " " + num(p.stderr_) + "\n";
  return out + "EOD\n";
}

bool swept(const SweepSpec& spec, const std::string& key, std::size_t at_least = 2) {
  for (const auto& axis : spec.axes) {
    if (axis.key == key) return axis.values.size() >= at_least;
  }
  return false;
}

struct Figure {
  std::string file;    // figures/NAME.svg
  std::string title;
  std::string script;  // what gnuplot draws it from (data inline)
  std::string svg;     // empty: not drawn
  std::string why_not;
  std::string caption;
};

// Draws a figure from its script into dir/NAME.svg, and keeps the script as dir/NAME.gp (`gnuplot NAME.gp
// > NAME.svg` draws it again). gnuplot writes to a temporary that is renamed only once the SVG is whole;
// a figure that is not drawn (no data, or gnuplot failed) has neither file, and says why.
void draw(Figure& figure, const fs::path& dir) {
  const std::string stem = fs::path(figure.file).stem().string();
  const fs::path svg_path = dir / figure.file, script_path = dir / (stem + ".gp");
  // Names of this process's own: two reports of one sweep at once never read each other's half-drawn file.
  const std::string own = "." + std::to_string(::getpid());
  const fs::path temporary = dir / ("." + figure.file + own + ".tmp"), log_path = dir / ("." + stem + own + ".log");
  std::error_code ec;
  if (figure.why_not.empty()) {
    write_file_atomic(script_path.string(),
                      "# Draws " + figure.file + ": gnuplot " + stem + ".gp > " + figure.file + "\n"
                      "set terminal svg size 960,420 dynamic noenhanced font 'sans,11' background rgb 'white'\n"
                      "set grid lc rgb '#dddddd'\n" + figure.script);
    const std::string command = "cd " + shell_quote(dir.string()) + " && gnuplot " + shell_quote(stem + ".gp") + " > " +
                                shell_quote(temporary.filename().string()) + " 2> " + shell_quote(log_path.filename().string());
    const int status = std::system(command.c_str());
    std::ifstream svg_file(temporary);
    std::stringstream svg;
    svg << svg_file.rdbuf();
    std::ifstream log_file(log_path);
    std::string log;  // gnuplot's error is its last line
    for (std::string line; std::getline(log_file, line);) {
      if (line.find_first_not_of(" \t") != std::string::npos) log = line;
    }
    fs::remove(log_path, ec);
    if (status == 0 && svg.str().find("<svg") != std::string::npos && svg.str().find("</svg>") != std::string::npos) {
      fs::rename(temporary, svg_path, ec);
      if (!ec) {
        figure.svg = svg.str();
        return;
      }
      throw StorageError("cannot write " + svg_path.string() + ": " + ec.message());
    }
    figure.why_not = "gnuplot failed" + (log.empty() ? std::string() : ": " + log);
  }
  // Not drawn: no file from this or an earlier report may stand for it.
  for (const auto& path : {temporary, svg_path, script_path}) fs::remove(path, ec);
}

// Notes for a caption on the trials drawn that are not completed.
std::string drawn_notes(const std::vector<Group>& groups) {
  bool diverged = false, unfinished = false;
  for (const auto& group : groups) {
    for (const auto* data : group.trials) {
      if (data->metrics.empty()) continue;
      diverged = diverged || data->status == "diverged";
      unfinished = unfinished || !settled(*data);
    }
  }
  std::string notes;
  if (diverged) notes += " A diverged trial is drawn up to its last evaluation with a finite loss.";
  if (unfinished) notes += " Trials not finished yet are drawn up to their last evaluation.";
  return notes;
}

bool several_seeds(const std::vector<Group>& groups) {
  for (const auto& group : groups) {
    if (group.trials.size() > 1) return true;
  }
  return false;
}

// 1. Train and test accuracy (loss for regression) against epoch or step, one line per setting.
Figure curves_figure(const ResolvedSweep& sweep, const std::vector<Group>& groups) {
  const auto& base = sweep.spec.base;
  const bool classification = is_classification_task(base.task.name);
  const bool in_steps = base.training.steps > 0;
  const XAxis x_axis = in_steps ? XAxis::Step : XAxis::Epoch;
  const std::string what = classification ? "accuracy" : "loss";
  Figure figure{"curves.svg", "Train and test " + what + " vs " + (in_steps ? "step" : "epoch"), "", "", "", ""};
  std::string data, train_plot, test_plot;
  int drawn = 0;
  for (std::size_t g = 0; g < groups.size(); ++g) {
    const auto train = mean_curve(groups[g], classification ? "train_acc" : "train_loss", x_axis);
    const auto test = mean_curve(groups[g], classification ? "test_acc" : "test_loss", x_axis);
    if (train.empty()) continue;
    ++drawn;
    const std::string color = "lc " + std::to_string(g % 8 + 1);
    const bool band = groups[g].trials.size() > 1;
    data += datablock("train" + std::to_string(g), train);
    if (!test.empty()) data += datablock("test" + std::to_string(g), test);
    for (const auto& [prefix, plot] : {std::pair<std::string, std::string*>{"train", &train_plot}, {"test", &test_plot}}) {
      if (prefix == "test" && test.empty()) continue;
      const std::string block = "$" + prefix + std::to_string(g);
      if (!plot->empty()) *plot += ", ";
      if (band) *plot += block + " using 1:($2-$3):($2+$3) with filledcurves fs transparent solid 0.2 noborder " + color + " notitle, ";
      *plot += block + " using 1:2 with lines lw 2 " + color + " title " + gp_quote(groups[g].label);
    }
  }
  if (drawn == 0) {
    figure.why_not = "no trial has an evaluation yet";
    return figure;
  }
  const std::string axis = classification ? "set yrange [*:1.0]\n" : "set logscale y\n";
  // A few settings: the key inside the train panel; many: one key to the right of the test panel.
  const bool many = drawn > 8;
  const std::string inside = classification ? "set key top left font ',9'\n" : "set key top right font ',9'\n";
  const std::string x_label = std::string("set xlabel '") + (in_steps ? "step" : "epoch") + "'\nset ylabel '" + what + "'\n";
  figure.script = data + (test_plot.empty() ? "" : "set multiplot layout 1,2\n") + axis + (many ? "unset key\n" : inside) +
                  x_label + "set title 'train " + what + " (mean over the batches since the last evaluation)'\nplot " +
                  train_plot + "\n";
  if (!test_plot.empty()) {
    figure.script += "set title 'test " + what + "'\n" + (many ? "set key outside right font ',8'\n" : "unset key\n") +
                     "plot " + test_plot + "\nunset multiplot\n";
  }
  figure.caption = several_seeds(groups) ? "One line per setting: the mean over its seeds that have an evaluation at that "
                                           "point, with a band of one standard error."
                   : drawn > 1           ? "One line per trial."
                                         : "One trial.";
  figure.caption += drawn_notes(groups);
  return figure;
}

// The trials of one (x, learning rate) cell of the grid.
struct GridCell {
  std::vector<double> losses;            // final train losses of the completed trials
  int diverged = 0, trials = 0;
  std::map<std::string, int> others;     // trials without a result, by status
};

// One heatmap's cells: x (the batch size, or another swept number such as model.gamma) by learning rate, for the
// trials of one facet (one value of each other swept key, e.g. model.parameterization=sp).
struct Grid {
  std::string facet;      // "" when no other key is swept, else "parameterization=sp"
  std::string x_key;      // training.batch_size, or the swept key on the x axis
  std::vector<double> xs;   // ascending
  std::vector<double> lrs;  // ascending
  std::map<std::pair<double, double>, GridCell> cells;

  std::string x_name() const { return x_key == "training.batch_size" ? "batch size" : x_key; }
  bool by_batch_size() const { return x_key == "training.batch_size"; }
};

double as_number(const Value& value) {
  return std::holds_alternative<double>(value) ? std::get<double>(value) : double(std::get<std::int64_t>(value));
}

bool is_number(const Value& value) {
  return std::holds_alternative<double>(value) || std::holds_alternative<std::int64_t>(value);
}

// The learning rate is on the y axis when it is swept, directly or through the temperature eta/B.
bool lr_swept(const SweepSpec& spec) { return swept(spec, "optimizer.lr") || swept(spec, "optimizer.temperature"); }

// The key on the heatmaps' x axis: the batch size when it is swept, else the first other swept numeric key
// (seed 001's gamma x eta); "" when there is none.
std::string grid_x_key(const SweepSpec& spec) {
  if (swept(spec, "training.batch_size")) return "training.batch_size";
  for (const auto& axis : spec.axes) {
    if (axis.key == "optimizer.lr" || axis.key == "optimizer.temperature" || axis.values.size() < 2) continue;
    if (is_number(axis.values.front())) return axis.key;
  }
  return "";
}

// The grids of a sweep, one per facet (the values of the swept keys that are on neither axis), each with every x
// and learning rate of the axes (the current config's and those of the trials on disk), finished or not.
std::vector<Grid> make_grids(const ResolvedSweep& sweep, const std::vector<TrialState>& results) {
  const std::string x_key = grid_x_key(sweep.spec);
  if (x_key.empty() || !lr_swept(sweep.spec)) return {};
  const FieldSpec& x_field = *find_field(x_key);
  std::vector<const FieldSpec*> facet_fields;
  for (const auto& axis : sweep.spec.axes) {
    if (axis.key != x_key && axis.key != "optimizer.lr" && axis.key != "optimizer.temperature" && axis.values.size() > 1) {
      facet_fields.push_back(find_field(axis.key));
    }
  }
  std::set<double> xs, lrs;
  for (const auto& axis : sweep.spec.axes) {
    for (const auto& v : axis.values) {
      if (axis.key == x_key) xs.insert(as_number(v));
      if (axis.key == "optimizer.lr") lrs.insert(as_number(v));
    }
  }
  std::vector<Grid> grids;
  std::map<std::string, std::size_t> by_facet;
  for (const auto& data : results) {
    const auto& config = data.spec.config;
    std::string facet;
    for (const auto* field : facet_fields) facet += (facet.empty() ? "" : ", ") + field->id_label() + "=" + to_short_text(field->get(config));
    const auto [at, added] = by_facet.emplace(facet, grids.size());
    if (added) grids.push_back(Grid{facet, x_key, {}, {}, {}});
    Grid& grid = grids[at->second];
    const double x = as_number(x_field.get(config));
    xs.insert(x);
    lrs.insert(config.optimizer.lr);
    auto& cell = grid.cells[{x, config.optimizer.lr}];
    ++cell.trials;
    const auto last = data.status == "completed" ? last_finite_record(data) : std::nullopt;
    if (last && last->train_loss > 0) cell.losses.push_back(last->train_loss);
    else if (data.status == "diverged") ++cell.diverged;
    else ++cell.others[data.status];
  }
  for (auto& grid : grids) {
    grid.xs.assign(xs.begin(), xs.end());
    grid.lrs.assign(lrs.begin(), lrs.end());
  }
  return grids;
}

// What a cell holds besides its completed trials' losses: "1 diverged, 2 pending".
std::string cell_notes(const GridCell& cell) {
  std::map<std::string, int> statuses = cell.others;
  if (cell.diverged > 0) statuses["diverged"] = cell.diverged;
  return status_counts(statuses);
}

// 2. Final train loss (log10) over log2 x (the batch size, or another swept number such as gamma) by log2
// learning rate, and, with the batch size on x, over log2 B x log2(eta/B); one pair per facet of the grid.
std::vector<Figure> heatmap_figures(const Grid& grid, std::size_t number) {
  const std::string suffix = number == 0 ? "" : "_" + std::to_string(number + 1);
  const std::string facet = grid.facet.empty() ? "" : " (" + grid.facet + ")";
  Figure by_lr{"heatmap_lr" + suffix + ".svg", "Final train loss over " + grid.x_name() + " and learning rate" + facet,
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
    Figure by_lr{"heatmap_lr.svg", "Final train loss over batch size and learning rate", "", "", "", ""};
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

// 3. Train loss against samples seen, one line per setting, coloured by the temperature eta/B.
Figure temperature_curves_figure(const std::vector<Group>& groups) {
  Figure figure{"loss_vs_samples.svg", "Train loss vs samples seen, by temperature eta/B", "", "", "", ""};
  std::set<double> temperatures;
  for (const auto& group : groups) {
    const auto& config = group.trials.front()->spec.config;
    temperatures.insert(config.optimizer.lr / double(config.training.batch_size));
  }
  if (temperatures.size() < 2) {
    figure.why_not = "every trial has the same temperature eta/B (vary training.batch_size or optimizer.lr)";
    return figure;
  }
  std::string data, plot;
  const std::string cbrange = "set cbrange [" + num(std::log2(*temperatures.begin())) + ":" +
                              num(std::log2(*temperatures.rbegin())) + "]\n";
  for (std::size_t g = 0; g < groups.size(); ++g) {
    const auto points = mean_curve(groups[g], "train_loss", XAxis::Samples);
    if (points.empty()) continue;
    const auto& config = groups[g].trials.front()->spec.config;
    const double t = std::log2(config.optimizer.lr / double(config.training.batch_size));
    data += datablock("g" + std::to_string(g), points);
    plot += std::string(plot.empty() ? "" : ", ") + "$g" + std::to_string(g) + " using 1:2 with lines lw 2 lc palette cb " +
            num(t) + " title " + gp_quote(groups[g].label);
  }
  if (plot.empty()) {
    figure.why_not = "no trial has an evaluation yet";
    return figure;
  }
  figure.script = data + cbrange + "set logscale xy\nset xlabel 'samples seen'\nset ylabel 'train loss'\n"
                                   "set cblabel 'log2 temperature (lr / batch size)'\nset palette rgb 33,13,10\n"
                                   "set key outside right font ',8'\nset title 'train loss vs samples seen'\nplot " + plot + "\n";
  figure.caption = std::string(several_seeds(groups) ? "One line per setting (the mean over its seeds)" : "One line per trial") +
                   "; lines of equal colour share the temperature eta/B." + drawn_notes(groups);
  return figure;
}

// 4. Steps and samples to the first target against batch size, with McCandlish et al.'s fit.
Figure target_figure(const ResolvedSweep& sweep, const std::vector<TrialState>& results, std::string& fit_text) {
  const auto& targets = sweep.spec.base.targets;
  Figure figure{"steps_to_target.svg", "Steps and samples to target vs batch size", "", "", "", ""};
  if (targets.empty()) {
    figure.why_not = "the sweep has no targets (add e.g. targets: ['test_acc >= 0.99'])";
    return figure;
  }
  const std::string& target = targets.front();
  figure.title = "Steps and samples to '" + target + "' vs batch size";
  if (!swept(sweep.spec, "training.batch_size")) {
    figure.why_not = "the sweep does not vary training.batch_size";
    return figure;
  }
  // Per batch size and other setting: the steps and samples of the seeds that reached the target, and how
  // many seeds there are.
  struct Setting {
    std::vector<double> steps, samples;
    int seeds = 0;
  };
  std::map<std::int64_t, std::map<std::string, Setting>> settings;
  bool other_settings = false, several = false;
  for (const auto& data : results) {
    std::string name;
    for (const auto& [key, value] : data.spec.swept) {
      if (key != "training.seed" && key != "training.batch_size") name += key + "=" + to_text(value) + ";";
    }
    other_settings = other_settings || !name.empty();
    auto& setting = settings[data.spec.config.training.batch_size][name];
    several = several || ++setting.seeds > 1;
    if (!data.summary) continue;
    for (const auto& result : data.summary->targets) {
      if (result.target != target || !result.reached) continue;
      setting.steps.push_back(double(result.step));
      setting.samples.push_back(double(result.samples));
    }
  }
  // The fewest mean steps over the other settings (the best learning rate).
  std::vector<double> batch_sizes, best_steps;
  std::vector<std::string> not_reached;
  std::string points = "$points << EOD\n";
  for (const auto& [batch, by_setting] : settings) {
    const Setting* best = nullptr;
    double best_mean = INFINITY;
    for (const auto& [name, setting] : by_setting) {
      if (setting.steps.empty()) continue;
      const double mean = mean_stderr(setting.steps).mean;
      if (mean < best_mean) {
        best_mean = mean;
        best = &setting;
      }
    }
    if (!best) {
      not_reached.push_back(std::to_string(batch));
      continue;
    }
    const auto steps = mean_stderr(best->steps), samples = mean_stderr(best->samples);
    batch_sizes.push_back(double(batch));
    best_steps.push_back(steps.mean);
    points += num(double(batch)) + " " + num(steps.mean) + " " + num(steps.stderr_.value_or(0.0)) + " " + num(samples.mean) +
              " " + num(samples.stderr_.value_or(0.0)) + "\n";
  }
  points += "EOD\n";
  if (batch_sizes.size() < 2) {
    figure.why_not = "fewer than 2 batch sizes reached the target '" + target + "'";
    return figure;
  }
  const auto fit = fit_noise_scale(batch_sizes, best_steps);
  std::string fit_plot, fit_plot_samples;
  if (fit) {
    // A fitted estimate, not data: rounded for reading.
    fit_text = "Fit for '" + target + "': S_min \u2248 " + format_double_short(fit->s_min, 4) + " steps, E_min \u2248 " +
               format_double_short(fit->e_min, 4) + " samples, B_noise \u2248 " + format_double_short(fit->b_noise, 4) + ".";
    fit_plot = ", " + num(fit->s_min) + "*(1+" + num(fit->b_noise) + "/x) with lines dt 2 lw 2 lc rgb '#b2182b' title " +
               gp_quote("S_min (1 + B_noise / B)");
    fit_plot_samples = ", " + num(fit->e_min) + "*(1+x/" + num(fit->b_noise) + ") with lines dt 2 lw 2 lc rgb '#b2182b' title " +
                       gp_quote("E_min (1 + B / B_noise)");
  } else {
    fit_text = "No fit for '" + target + "': the steps do not fall with batch size as S_min (1 + B_noise/B) needs.";
  }
  figure.script = points + "set multiplot layout 1,2\nset logscale xy\nset xlabel 'batch size'\nset key top center font ',9'\n"
                           "set ylabel 'steps to target'\nset title " + gp_quote("steps to " + target) + "\n"
                           "plot $points using 1:2:3 with yerrorbars pt 7 ps 1.2 lc rgb '#2166ac' title 'measured'" + fit_plot + "\n"
                           "set ylabel 'samples to target'\nset title " + gp_quote("samples to " + target) + "\n"
                           "plot $points using 1:4:5 with yerrorbars pt 7 ps 1.2 lc rgb '#2166ac' title 'measured'" +
                           fit_plot_samples + "\nunset multiplot\n";
  figure.caption = std::string(several ? "The mean over the seeds that reached the target (not over all seeds), with one "
                                         "standard error. "
                                       : "") +
                   (other_settings ? "Per batch size, the setting (e.g. learning rate) that reached it in the fewest steps. " : "") +
                   (not_reached.empty() ? "" : "No trial of batch size " + join(not_reached, ", ") + " reached it. ") + fit_text;
  return figure;
}

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

ReportFiles write_report(const ResolvedSweep& current, const std::string& experiments_dir) {
  if (std::system("command -v gnuplot > /dev/null 2>&1") != 0) {
    throw UserError("report: gnuplot is not installed (apt-get install gnuplot-nox); it draws the figures");
  }
  const fs::path root = sweep_dir(experiments_dir, current.spec.name);
  if (!fs::exists(root / "sweep.json")) {
    throw UserError("report: no results for sweep '" + current.spec.name + "' in " + root.string() +
                    " (sweeplab run " + current.spec.name + " first)");
  }
  const fs::path figures_dir = root / "figures";
  create_folders(figures_dir.string());
  const SweepState state = read_sweep_state(current, experiments_dir);
  const ResolvedSweep& sweep = state.sweep;  // the trials on disk, as run, and the current config's others
  const auto& results = state.trials;
  const auto groups = seed_groups(sweep, results);
  const std::vector<Grid> grids = make_grids(sweep, results);

  std::vector<Figure> figures;
  figures.push_back(curves_figure(sweep, groups));
  for (auto& figure : heatmap_figures(grids)) figures.push_back(std::move(figure));
  figures.push_back(temperature_curves_figure(groups));
  std::string fit_text;
  figures.push_back(target_figure(sweep, results, fit_text));
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

  files.html = (root / "report.html").string();
  write_file_atomic(files.html, html);
  for (const auto& figure : figures) {
    if (!figure.svg.empty()) files.figures.push_back((figures_dir / figure.file).string());
  }
  for (const auto* figure : missing) files.not_drawn.push_back(figure->title + ": " + figure->why_not);
  return files;
}

}  // namespace sweeplab
