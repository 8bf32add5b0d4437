// Curves over training: loss_curves (accuracy or loss against epoch or step) and loss_vs_samples.
//
// A 2-D sweep is drawn as small multiples, not as one panel of many lines: one panel per value of the second
// swept key (the learning rate, usually), the batch size as colour from a sequential palette (the same colour
// for the same batch size in every panel), every panel on the same axes so that they compare, and one legend
// beside the panels rather than over the data.
#include <algorithm>
#include <cctype>
#include <cmath>
#include <map>
#include <set>

#include "figure.hpp"
#include "sweeplab/config/schema.hpp"
#include "sweeplab/core/text.hpp"
#include "sweeplab/report/results.hpp"

namespace sweeplab::report_detail {
namespace {

// ---- colours and layout ----

// Viridis, from dark purple (t = 0) to yellow (t = 1).
std::string viridis(double t) {
  static const double stops[][3] = {{68, 1, 84}, {59, 82, 139}, {33, 145, 140}, {94, 201, 98}, {253, 231, 37}};
  t = std::clamp(t, 0.0, 1.0) * 4;
  const int i = std::min(int(t), 3);
  const double f = t - i;
  char text[8];
  std::snprintf(text, sizeof text, "#%02x%02x%02x", int(std::lround(stops[i][0] + f * (stops[i + 1][0] - stops[i][0]))),
                int(std::lround(stops[i][1] + f * (stops[i + 1][1] - stops[i][1]))),
                int(std::lround(stops[i][2] + f * (stops[i + 1][2] - stops[i][2]))));
  return text;
}

// n colours in order, dark to light; the palette stops before its pale yellow end, which is hard to see on white.
std::string palette_colour(std::size_t i, std::size_t n) { return viridis(n < 2 ? 0.0 : 0.82 * double(i) / double(n - 1)); }

// A screen coordinate (0..1), rounded: the script stays readable and its numbers read back as written.
std::string at(double fraction) { return num(std::round(fraction * 1e4) / 1e4); }

// ---- which swept key goes where ----

// The values one swept key takes among the groups drawn, in order (numbers ascending, other values as swept).
struct Levels {
  std::string key;
  std::vector<std::string> texts;
  bool numeric = true;  // numbers (ordered: a sequential palette); else names (a qualitative one)
  std::vector<std::string> labels = {};  // as panel titles and legends write them: numbers in one format (1e-5 .. 1e-1)
  std::string colour(std::size_t i) const { return numeric ? palette_colour(i, texts.size()) : category_colour(i); }
  std::size_t index(const Group& group) const {
    const auto found = group.values.find(key);
    const std::string text = found == group.values.end() ? "" : to_short_text(found->second);
    return std::size_t(std::find(texts.begin(), texts.end(), text) - texts.begin());
  }
};

Levels levels_of(const std::string& key, const std::vector<Group>& groups) {
  std::vector<std::pair<double, std::string>> numbers;
  std::vector<std::string> texts;
  for (const auto& group : groups) {
    const auto found = group.values.find(key);
    if (found == group.values.end()) continue;
    const std::string text = to_short_text(found->second);
    if (std::find(texts.begin(), texts.end(), text) != texts.end()) continue;
    texts.push_back(text);
    if (is_number(found->second)) numbers.emplace_back(as_number(found->second), text);
  }
  const bool numeric = numbers.size() == texts.size();
  std::vector<std::string> labels = texts;
  if (numeric) {
    std::sort(numbers.begin(), numbers.end());
    texts.clear();
    std::vector<double> values;
    for (const auto& [number, text] : numbers) {
      texts.push_back(text);
      values.push_back(number);
    }
    labels = tick_labels(values);
  }
  return Levels{key, texts, numeric, labels};
}

// "η", "B", "param", ... as a paper writes the key (panel titles, legends).
std::string short_name(const std::string& key) { return symbol_of(key); }

std::string key_title(const std::string& key) { return axis_title(key); }

// How a sweep's groups are laid out: panels by one swept key, colours by another; the keys left (a third swept
// key such as model.parameterization) make figures of their own.
struct Layout {
  std::string colour_key, panel_key;  // "" when not needed
  std::vector<std::string> facet_keys;
};

Layout layout_of(const SweepSpec& spec, const std::vector<Group>& groups) {
  // A sweep of the temperature η/B derives each trial's learning rate from it (η/B x B): panels by η/B, and the
  // learning rate, which varies with both, is no setting of its own.
  const bool by_temperature = levels_of("optimizer.temperature", groups).texts.size() > 1;
  std::vector<std::string> varying;  // in axis order
  for (const auto& axis : spec.axes) {
    if (axis.key == "training.seed" || (by_temperature && axis.key == "optimizer.lr")) continue;
    if (levels_of(axis.key, groups).texts.size() > 1) varying.push_back(axis.key);
  }
  const auto has = [&](const std::string& key) { return std::find(varying.begin(), varying.end(), key) != varying.end(); };
  Layout layout;
  if (has("training.batch_size")) layout.colour_key = "training.batch_size";
  for (const std::string& key : {std::string("optimizer.temperature"), std::string("optimizer.lr")}) {
    if (layout.panel_key.empty() && has(key)) layout.panel_key = key;
  }
  for (const auto& key : varying) {
    if (key == layout.colour_key || key == layout.panel_key) continue;
    if (layout.colour_key.empty()) layout.colour_key = key;
    else if (layout.panel_key.empty()) layout.panel_key = key;
    else layout.facet_keys.push_back(key);
  }
  // One varying key: one panel, coloured by it.
  if (layout.colour_key.empty()) std::swap(layout.colour_key, layout.panel_key);
  return layout;
}

// Why a setting has no curve, from its trials' statuses: "not run yet", "diverged at step 96, before its first evaluation",
// or what its trials are ("1 diverged, 2 pending"); `brief`: short enough for a panel.
std::string no_curve_reason(const std::vector<const TrialState*>& trials, bool brief = false) {
  std::map<std::string, int> statuses;
  std::int64_t first = -1, last = -1;  // the earliest and latest steps trials diverged at, where their summaries say
  for (const auto* trial : trials) {
    ++statuses[to_string(trial->status)];
    if (!trial->summary || !trial->summary->diverged_at_step) continue;
    const std::int64_t step = *trial->summary->diverged_at_step;
    if (first < 0 || step < first) first = step;
    if (step > last) last = step;
  }
  if (statuses.size() == 1 && statuses.count("pending")) return "not run yet";
  if (statuses.size() == 1 && statuses.count("diverged")) {
    const std::string at = first < 0    ? ""
                           : first == last ? " at step " + std::to_string(first)
                                           : " at steps " + std::to_string(first) + " to " + std::to_string(last);
    return brief ? "diverged" + at : "diverged" + at + ", before its first evaluation";
  }
  if (statuses.size() == 1 && statuses.count("skipped")) return brief ? "skipped" : "skipped (sweep.prune)";
  // Several kinds, none with an evaluation (1 diverged, 2 skipped): what they are, in a panel too.
  return brief ? status_counts(statuses) : "no evaluation with a finite loss yet (" + status_counts(statuses) + ")";
}

// ---- one figure of panels ----

struct Metric {
  std::string name;   // train_acc
  std::string label;  // "train accuracy"
  bool log_scale = false;
  bool falls = true;  // a loss that falls as training goes (not DQN's TD loss, which grows as values are learnt)
};

struct Panel {
  std::string title;
  Metric metric;
  std::vector<std::size_t> groups;  // indices into the figure's groups
};

// The y range every panel of a figure shares, from what it draws (means, bands).
struct Range {
  double low = INFINITY, high = -INFINITY;
  void add(double value, bool log_scale) {
    if (!std::isfinite(value) || (log_scale && value <= 0)) return;
    low = std::min(low, value);
    high = std::max(high, value);
  }
  // The padded range, rounded outwards to 3 significant digits (never empty: lines that are all but flat, 0.6955
  // to 0.6956, get a few percent around them); NaN when nothing was added.
  std::pair<double, double> bounds(bool log_scale) const {
    if (!(low <= high)) return {NAN, NAN};
    if (log_scale) {
      const double pad = std::max(std::pow(high / low, 0.04), 1.05);
      return {rounded(low / pad, false), rounded(high * pad, true)};
    }
    const double pad = std::max((high - low) * 0.04, std::max(std::abs(high), std::abs(low)) * 0.02 + 1e-12);
    return {rounded(low - pad, false), rounded(high + pad, true)};
  }
  // To 3 significant digits, down or up.
  static double rounded(double value, bool up) {
    if (value == 0 || !std::isfinite(value)) return value;
    const double unit = std::pow(10.0, std::floor(std::log10(std::abs(value))) - 2);
    return std::stod(format_double_short((up ? std::ceil(value / unit) : std::floor(value / unit)) * unit, 3));
  }
};

// What a figure of panels draws from.
struct CurveSet {
  const std::vector<Group>* groups;  // the report's groups (datablock names use their index)
  std::vector<std::size_t> drawn;    // the groups in this figure
  Levels colours;                    // the colour of each group
  XAxis x_axis;
  std::string x_label;
  bool seeds_apart = false;  // one configuration: each seed as a thin line with the mean over them
  std::string heading;       // above the panels ("where lr=0.1, batch_size=64"); "" for none
  std::vector<std::pair<std::string, double>> targets = {};  // the config's targets: metric (test_acc), value
  const std::vector<Group>* also = nullptr;  // report A B: the other sweep's groups, whose curves the axes include
};

// The config's targets as (metric, value), the algorithmic tasks' val_* read as the test_* they are recorded as.
std::vector<std::pair<std::string, double>> target_lines(const Config& base) {
  std::vector<std::pair<std::string, double>> lines;
  for (const auto& text : base.targets) {
    const Target target = parse_target(text);
    std::string metric = target.metric;
    if (metric.rfind("val_", 0) == 0) metric = "test_" + metric.substr(4);
    lines.emplace_back(metric, target.value);
  }
  return lines;
}

const std::string kSingleColour = "#2166ac";

// One tick format for a log axis over [low, high]: plain numbers (0.01, 0.1, 1, 10) within 0.001 to 10^4, else
// every label as 1e-05 .. 1e+02 (not 1e-05 beside 0.0001, as %g writes them).
std::string log_format(double low, double high) {
  return !(low > 0) || (low >= 1e-3 && high < 1e4) ? "'%g'" : "'%.0e'";
}

// One configuration's seeds drawn one by one: beyond a few dozen thin lines the figure is a solid band and gnuplot
// takes minutes (10 000 seeds), so only the first ones in sweep order are drawn; the mean is over all of them.
constexpr std::size_t kMaxSeedLines = 30;

// What a figure of panels leaves out, for its caption.
struct PanelNotes {
  double cut_at = INFINITY;  // the top of a loss axis when a line went above it
  bool crosses = false;      // a setting that diverged before its first evaluation is a cross at the top
};

// The script of a figure of panels (R x C of them, a legend strip on the right), its data and its size.
// Returns the number of panels that have a curve.
int panels_script(const CurveSet& set, const std::vector<Panel>& panels, int columns, Figure& figure, PanelNotes& notes) {
  const auto& groups = *set.groups;
  const int n = int(panels.size()), rows = (n + columns - 1) / columns;
  const bool legend = set.seeds_apart || set.colours.texts.size() > 1;
  // At most the page's width (960 px): a figure is never scaled down, so that its 12 px text stays 12 px and its
  // panels' margins (in pixels, below) fit the text.
  const int key_w = legend ? 180 : 0;
  const int cell_w = n == 1 ? 560 : std::min(420, (960 - key_w) / columns), cell_h = n <= 2 ? 340 : 240;
  const int top = set.heading.empty() ? 12 : 40, bottom = 16;
  figure.width = columns * cell_w + key_w;
  figure.height = rows * cell_h + top + bottom;
  const double W = figure.width, H = figure.height;

  std::string data, plots;
  std::set<std::string> blocks;
  Range range;
  double x_low = INFINITY, x_high = -INFINITY;
  int drawn_panels = 0;
  // A loss that explodes would squash every other panel: a loss axis stops at 3 times the median loss at the first
  // evaluation, and a panel names the lines it cuts.
  double cap = INFINITY;
  if (!panels.empty() && panels.front().metric.log_scale && panels.front().metric.falls) {
    std::vector<double> firsts;
    for (const auto& panel : panels) {
      for (auto g : panel.groups) {
        // One evaluation is the end of training, not its start: no cap from it.
        const auto curve = mean_curve(groups[g], panel.metric.name, set.x_axis);
        if (curve.size() > 1 && curve.front().mean > 0) firsts.push_back(curve.front().mean);
      }
    }
    if (!firsts.empty()) {
      std::nth_element(firsts.begin(), firsts.begin() + firsts.size() / 2, firsts.end());
      cap = 3 * firsts[firsts.size() / 2];
    }
  }
  auto add = [&](double value, bool log_scale) { range.add(std::min(value, cap), log_scale); };
  int crossed = 0;  // labels set for crosses so far (numbered from 10)
  for (int p = 0; p < n; ++p) {
    const Panel& panel = panels[p];
    const int row = p / columns, column = p % columns;
    std::string plot;
    std::vector<std::string> cut;  // the lines that go above the axis
    double highest = 0;
    std::string crosses;  // settings that diverged before their first evaluation: a cross at the top, at the step
    const int first_cross = crossed;
    for (auto g : panel.groups) {
      const Group& group = groups[g];
      const std::string block = (panel.metric.name.rfind("train", 0) == 0 ? "train" : "test") + std::to_string(g);
      const auto mean = mean_curve(group, panel.metric.name, set.x_axis);
      const std::size_t level = set.colours.index(group);
      const std::string colour =
          set.seeds_apart || set.colours.texts.size() < 2 ? kSingleColour : set.colours.colour(level);
      if (mean.empty()) {
        // Where it diverged, in the axis's unit (an epoch has no step to place it at).
        for (const auto* trial : group.trials) {
          if (trial->status != TrialStatus::Diverged || !trial->summary || !trial->summary->diverged_at_step) continue;
          const double step = double(*trial->summary->diverged_at_step);
          const Config config = trial->config.expand();
          const double x = set.x_axis == XAxis::Step     ? step
                           : set.x_axis == XAxis::Samples ? step * double(config.training.batch_size)
                           : set.x_axis == XAxis::LrStep  ? step * config.optimizer.lr
                                                          : NAN;
          if (!std::isfinite(x) || x <= 0) continue;
          x_low = std::min(x_low, x);
          x_high = std::max(x_high, x);
          crosses += "set label " + std::to_string(10 + crossed++) + " '' at first " + num(x) +
                     ", graph 0.97 point pt 2 ps 1.6 lw 2 lc rgb '" + colour + "' front\n";
          break;  // one cross per setting: its first seed that diverged
        }
        continue;
      }
      if (blocks.insert(block).second) {
        data += "# " + block + ": " + gp_comment(group.label) + " (" + std::to_string(group.trials.size()) +
                (group.trials.size() == 1 ? " trial)\n" : " trials)\n") + datablock(block, mean);
      }
      double top_of_line = 0;
      for (const auto& point : mean) top_of_line = std::max(top_of_line, point.mean);
      if (top_of_line > cap * 1.05) {  // the axis reaches 5% past the cap (Range::bounds): up to there it is drawn
        cut.push_back(set.seeds_apart || set.colours.texts.size() < 2 ? "the mean" : set.colours.labels[level]);
        highest = std::max(highest, top_of_line);
      }
      for (const auto& point : mean) {
        x_low = std::min(x_low, point.x);
        x_high = std::max(x_high, point.x);
        add(point.mean, panel.metric.log_scale);
        if (!set.seeds_apart) {
          add(point.mean - point.stderr_, panel.metric.log_scale);
          add(point.mean + point.stderr_, panel.metric.log_scale);
        }
      }
      if (!plot.empty()) plot += ", \\\n  ";
      if (set.seeds_apart) {
        for (std::size_t s = 0; s < std::min(group.trials.size(), kMaxSeedLines); ++s) {
          const Group one{group.label, group.values, {group.trials[s]}};
          const auto seed = mean_curve(one, panel.metric.name, set.x_axis);
          if (seed.empty()) continue;
          const std::string seed_block = block + "_seed" + std::to_string(s);
          if (blocks.insert(seed_block).second) {
            data += "# " + seed_block + ": seed " + std::to_string(group.trials[s]->config.expand().training.seed) + "\n" +
                    datablock(seed_block, seed);
          }
          for (const auto& point : seed) add(point.mean, panel.metric.log_scale);
          plot += "$" + seed_block + " using 1:2 with lines lw 1 lc rgb '#9ecae1' notitle, ";
        }
      } else if (group.trials.size() > 1) {
        // The band between mean - stderr and mean + stderr, cut at the bottom of the y range (a log axis has no 0).
        plot += "$" + block + " using 1:(($2-$3) > ylow ? $2-$3 : ylow):($2+$3) with filledcurves " +
                "fs transparent solid 0.18 noborder lc rgb '" + colour + "' notitle, ";
      }
      // A line of one evaluation is a point (a line through it would draw nothing), with its standard error as a bar
      // where there are seeds (a band of no width would not show it).
      const bool bar = mean.size() == 1 && group.trials.size() > 1 && !set.seeds_apart;
      plot += "$" + block + (bar ? " using 1:2:3 with yerrorbars pt 7 ps 0.8" : mean.size() == 1 ? " using 1:2 with points pt 7 ps 0.8" : " using 1:2 with lines") +
              " lw " + (set.seeds_apart ? "2.5" : "2") + " lc rgb '" + colour + "' notitle";
    }
    // Room for the y label in the first column, for tick labels in the others; for the title above and the x tick
    // labels (and label) below.
    const double left = (column * cell_w + (column == 0 ? 86 : 54)) / W, right = ((column + 1) * cell_w - 12) / W;
    const double upper = 1 - (top + row * cell_h + 30) / H, lower = 1 - (top + (row + 1) * cell_h - 44) / H;
    plots += "set lmargin at screen " + at(left) + "; set rmargin at screen " + at(right) + "; set tmargin at screen " +
             at(upper) + "; set bmargin at screen " + at(lower) + "\n";
    plots += "set title " + gp_quote(panel.title) + "\n";
    plots += std::string("set ylabel ") + (column == 0 ? gp_quote(panel.metric.label) : "''") + "\n";
    plots += std::string("set xlabel ") + (row == rows - 1 || p + columns >= n ? gp_quote(set.x_label) : "''") + "\n";
    if (plot.empty()) {
      std::vector<const TrialState*> trials;
      for (auto g : panel.groups) trials.insert(trials.end(), groups[g].trials.begin(), groups[g].trials.end());
      plots += crosses + "set label 1 " + gp_quote(no_curve_reason(trials, true)) +
               " at graph 0.5,0.5 center tc rgb '#777777'\nplot 1/0 notitle\nunset label 1\n";
    } else {
      ++drawn_panels;
      // The targets of this panel's metric as a dashed line across it (a reader sees when each curve crosses it).
      int arrows = 0;
      for (const auto& [metric, value] : set.targets) {
        if (metric != panel.metric.name) continue;
        add(value, panel.metric.log_scale);
        plots += "set arrow " + std::to_string(++arrows) + " from graph 0, first " + num(value) + " to graph 1, first " + num(value) +
                 " nohead dt 2 lw 1.5 lc rgb '#b2182b' front\n";
      }
      if (!cut.empty()) {
        notes.cut_at = cap;
        // Two lines ("\n" joined in gnuplot): a panel is narrow.
        plots += "set label 2 " + gp_quote("above the axis: " + (set.seeds_apart || set.colours.texts.size() < 2 ? "" : short_name(set.colours.key) + " ") +
                                       join(cut, ", ")) + " . \"\\n\" . " + gp_quote("(up to " + format_double_short(highest, 2) + ")") +
                 " at graph 0.03,0.9 left tc rgb '#b2182b' front\n";
      }
      plots += crosses + "plot " + plot + "\n";
      if (!cut.empty()) plots += "unset label 2\n";
      if (arrows > 0) plots += "unset arrow\n";
    }
    for (int k = first_cross; k < crossed; ++k) plots += "unset label " + std::to_string(10 + k) + "\n";
    if (crossed > first_cross) notes.crosses = true;
  }
  const bool log_scale = !panels.empty() && panels.front().metric.log_scale;
  if (set.also && !panels.empty()) {  // the sweep beside this one: the same axes for both
    for (const auto& group : *set.also) {
      for (const auto& point : mean_curve(group, panels.front().metric.name, set.x_axis)) {
        x_low = std::min(x_low, point.x);
        x_high = std::max(x_high, point.x);
        add(point.mean, log_scale);
      }
    }
  }
  const auto [y_low, y_high] = range.bounds(log_scale);
  std::string script = data + "set multiplot" + (set.heading.empty() ? "" : " title " + gp_quote(set.heading) + " font ',13'") +
                       "\nunset key\n" + (log_scale ? "set logscale y\nset format y " + log_format(y_low, y_high) + "\n" : "");
  if (std::isfinite(y_low)) script += "ylow = " + num(y_low) + "\nset yrange [ylow:" + num(y_high) + "]\n";
  else script += "ylow = 0\n";
  const std::string y_tics = log_scale ? log_tics(y_low, y_high) : "";
  if (!y_tics.empty()) script += "set ytics " + y_tics + "\n";
  const bool log_x = set.x_axis == XAxis::LrStep;  // η·step spans the decades of the learning rates
  if (log_x) script += "set logscale x\nset format x '%g'\n";
  // A little room at both ends, so that no point or cross sits on the border (log: a factor; linear: 3% of the span).
  if (x_low < x_high) {
    const double pad = log_x ? std::pow(x_high / x_low, 0.03) : (x_high - x_low) * 0.03;
    script += "set xrange [" + num(log_x ? x_low / pad : x_low - pad) + ":" + num(log_x ? x_high * pad : x_high + pad) + "]\n";
  }
  // Every point at one x (a single evaluation, at the end): the axis from 0 to just past it, not gnuplot's guess.
  if (x_low == x_high && x_high > 0) script += "set xrange [" + (log_x ? num(x_high / 2) : "0") + ":" + num(x_high * (log_x ? 2 : 1.1)) + "]\n";
  if (log_x) {
    const std::string tics = log_tics(x_low, x_high);
    if (!tics.empty()) script += "set xtics " + tics + "\n";
  }
  if (!log_x && x_low < x_high && x_high - x_low <= 10) script += "set xtics 1\n";  // epochs and steps are whole numbers
  // At most 5 labels on x, 1, 2 or 5 times a power of 10 apart, and samples in the tens of thousands as 5k, 10k, ...:
  // a narrow panel's labels never run together.
  if (!log_x && x_low < x_high && x_high - x_low > 10) {
    const double raw = (x_high - x_low) / 5, decade = std::pow(10.0, std::floor(std::log10(raw)));
    const double increment = raw <= decade ? decade : raw <= 2 * decade ? 2 * decade : raw <= 5 * decade ? 5 * decade : 10 * decade;
    script += "set xtics " + num(increment) + "\n";
  }
  if (set.x_axis == XAxis::Samples && x_high >= 10000) script += "set format x '%.0s%c'\n";
  script += plots;
  if (legend) {
    script += "# the legend, beside the panels\nunset logscale\nunset border\nunset tics\nunset grid\nunset title\n"
              "set xlabel ''\nset ylabel ''\nset xrange [0:1]\nset yrange [0:1]\n"
              "set lmargin at screen " + at((W - key_w + 10) / W) + "; set rmargin at screen " + at((W - 4) / W) +
              "; set tmargin at screen " + at(1 - (top + 30) / H) + "; set bmargin at screen " + at(1 - (top + std::min(cell_h * rows, 420)) / H) + "\n";
    std::string entries;
    if (set.seeds_apart) {
      script += "set key top left Left reverse samplen 2.5\n";
      entries = "2 with lines lw 1 lc rgb '#9ecae1' title 'each seed', 2 with lines lw 2.5 lc rgb '" + kSingleColour +
                "' title 'their mean'";
    } else {
      script += "set key top left Left reverse samplen 2.5 title " + gp_quote(key_title(set.colours.key)) + " left\n";
      for (std::size_t i = 0; i < set.colours.texts.size(); ++i) {
        entries += std::string(entries.empty() ? "" : ", ") + "2 with lines lw 2 lc rgb '" + set.colours.colour(i) +
                   "' title " + gp_quote(set.colours.labels[i]);
      }
    }
    script += "plot " + entries + "\n";
  }
  figure.script = script + "unset multiplot\n";
  return drawn_panels;
}

// The caption's words for one configuration drawn seed by seed.
std::string seeds_apart_text(const std::vector<Group>& groups, const std::vector<std::size_t>& drawn, const std::string& seeds) {
  std::size_t most = 0;
  for (auto g : drawn) most = std::max(most, groups[g].trials.size());
  const std::string lines = most > kMaxSeedLines ? "The first " + std::to_string(kMaxSeedLines) + " of the seeds (" + seeds +
                                                       ") as thin lines"
                                                 : "Each seed (" + seeds + ") as a thin line";
  return lines + ", and the mean over all of them (over the seeds with an evaluation at that point) as a thick one.";
}

// "2 seeds per setting" / "2 to 3 seeds per setting" (those with an evaluation).
std::string seed_counts(const std::vector<Group>& groups, const std::vector<std::size_t>& drawn) {
  std::size_t fewest = SIZE_MAX, most = 0;
  for (auto g : drawn) {
    std::size_t n = 0;
    for (const auto* trial : groups[g].trials) n += !trial->metrics.empty();
    if (n == 0) continue;
    fewest = std::min(fewest, n);
    most = std::max(most, n);
  }
  if (most == 0) return "";
  return (fewest == most ? std::to_string(most) : std::to_string(fewest) + " to " + std::to_string(most)) +
         (most == 1 ? " seed" : " seeds");
}

std::string cut_note(const PanelNotes& notes) {
  const std::string crosses = notes.crosses ? " A cross at the top of a panel: a setting that diverged before its first "
                                              "evaluation, at the point it diverged (in its colour)."
                                            : "";
  if (!std::isfinite(notes.cut_at)) return crosses;
  return crosses + " The loss axis stops at " + format_double_short(notes.cut_at, 2) +
         " (3 times the median loss at the first evaluation), so that an exploding loss does not flatten every other line; "
         "a panel names the lines it cuts.";
}

// Groups of the figure with no finite evaluation at all, by reason: "lr=10 bs=8: diverged before its first
// evaluation"; more than 6 settings of one reason are counted, not named.
std::string without_curves(const std::vector<Group>& groups, const std::vector<std::size_t>& drawn, const std::string& metric,
                           XAxis x_axis) {
  std::map<std::string, std::vector<std::string>> by_reason;
  for (auto g : drawn) {
    if (mean_curve(groups[g], metric, x_axis).empty()) by_reason[no_curve_reason(groups[g].trials)].push_back(groups[g].label);
  }
  std::string text;
  for (const auto& [reason, labels] : by_reason) {
    text += labels.size() <= 6 ? " No curve for " + join(labels, "; ") + ": " + reason + "."
                               : " No curve for " + std::to_string(labels.size()) + " settings: " + reason + ".";
  }
  return text;
}

// Why a figure of these groups has no curve at all: "no trial has an evaluation yet", or what its trials are
// ("every trial diverged at step 8, before its first evaluation", "1 diverged, 2 pending").
std::string no_curves_reason(const std::vector<Group>& groups, const std::vector<std::size_t>& drawn) {
  std::vector<const TrialState*> trials;
  for (auto g : drawn) trials.insert(trials.end(), groups[g].trials.begin(), groups[g].trials.end());
  if (trials.empty()) return "no trial has an evaluation yet";
  const std::string reason = no_curve_reason(trials);
  if (reason == "not run yet") return "no trial has run yet";
  if (reason.rfind("diverged", 0) == 0) return "every trial " + reason;
  if (reason == "skipped (sweep.prune)") return "every trial was skipped (sweep.prune)";
  std::map<std::string, int> statuses;
  for (const auto* trial : trials) ++statuses[to_string(trial->status)];
  return "no trial has an evaluation with a finite loss yet (" + status_counts(statuses) + ")";
}

// 1. Accuracy (loss for regression) against epoch, step or samples seen.
std::vector<Figure> curves_figures(const ReportData& report) {
  const SweepSpec& spec = report.spec;
  const auto& groups = report.groups;
  const auto& base = spec.base;
  const bool classification = is_classification_task(base.task.name);
  // Against the budget's unit: samples seen (a samples budget, e.g. an online teacher, where every trial is in
  // epoch 0), steps, or epochs.
  // `report --x-axis` chooses another.
  const bool in_samples = base.training.samples > 0, in_steps = !in_samples && base.training.steps > 0;
  XAxis x_axis = in_samples ? XAxis::Samples : in_steps ? XAxis::Step : XAxis::Epoch;
  if (report.x_axis == "epoch") x_axis = XAxis::Epoch;
  if (report.x_axis == "step") x_axis = XAxis::Step;
  if (report.x_axis == "samples") x_axis = XAxis::Samples;
  if (report.x_axis == "lr_step") x_axis = XAxis::LrStep;
  const std::string what = classification ? "accuracy" : "loss",
                    x_name = x_axis == XAxis::Samples ? "samples seen"
                             : x_axis == XAxis::Step  ? "step"
                             : x_axis == XAxis::LrStep ? "η·step (learning rate × step)"
                                                       : "epoch";
  const std::string where = report.where.empty() ? "" : " (where " + report.where + ")";
  // What the two kinds of figure draw: train and test accuracy (loss for regression); for DQN (doublegoal) the TD
  // loss and the greedy policy's share of optimal starts (its evaluation), on 0 to 1.
  const bool reinforcement = is_reinforcement_task(base.task.name);
  const std::string train_what = reinforcement ? "TD loss" : "train " + what,
                    test_what = reinforcement ? "greedy share of optimal starts" : "test " + what;
  const auto capital = [](std::string text) {
    text[0] = char(std::toupper(static_cast<unsigned char>(text[0])));
    return text;
  };
  const std::string over_batches = reinforcement ? " (mean over the updates since the last evaluation)"
                                                 : " (mean over the batches since the last evaluation)";
  const Metric train{classification ? "train_acc" : "train_loss", train_what, !classification, !reinforcement};
  const Metric test{classification ? "test_acc" : reinforcement ? "greedy_optimal_fraction" : "test_loss", test_what,
                    !classification && !reinforcement};
  const Layout layout = layout_of(spec, groups);
  // The caption's words on the target lines of a figure that draws these metrics.
  const auto target_text = [&](std::vector<const Metric*> drawn) {
    std::vector<std::string> shown;
    for (std::size_t i = 0; i < base.targets.size(); ++i) {
      const std::string metric = target_lines(base)[i].first;
      for (const auto* m : drawn) {
        if (m->name == metric) shown.push_back(base.targets[i]);
      }
    }
    return shown.empty() ? std::string() : " Dashed red line: the target (" + join(shown, "; ") + ").";
  };

  // Figures: one per value of the keys on neither axis.
  std::vector<std::pair<std::string, std::vector<std::size_t>>> facets;
  for (std::size_t g = 0; g < groups.size(); ++g) {
    std::string facet;
    for (const auto& key : layout.facet_keys) {
      const auto found = groups[g].values.find(key);
      facet += (facet.empty() ? "" : ", ") + short_name(key) + "=" + (found == groups[g].values.end() ? "" : to_short_text(found->second));
    }
    auto it = std::find_if(facets.begin(), facets.end(), [&](const auto& f) { return f.first == facet; });
    if (it == facets.end()) it = facets.insert(facets.end(), {facet, {}});
    it->second.push_back(g);
  }
  std::vector<Figure> figures;
  const bool has_test = [&] {
    for (const auto& group : groups) {
      if (!mean_curve(group, test.name, x_axis).empty()) return true;
    }
    return false;
  }();
  for (std::size_t f = 0; f < std::max<std::size_t>(facets.size(), 1); ++f) {
    const std::string suffix = f == 0 ? "" : "_" + std::to_string(f + 1);
    const std::string facet = facets.empty() ? "" : facets[f].first;
    const std::vector<std::size_t> drawn = facets.empty() ? std::vector<std::size_t>{} : facets[f].second;
    const std::string in_facet = (facet.empty() ? "" : " (" + facet + ")") + where;
    CurveSet set{&groups, drawn, levels_of(layout.colour_key, groups), x_axis, x_name, drawn.size() == 1,
                 facet + (facet.empty() || report.where.empty() ? "" : "; ") +
                                                              (report.where.empty() ? "" : "where " + report.where),
                 target_lines(base), report.other_groups};
    // Sort each panel's groups by colour, so that the script reads in order.
    auto by_colour = [&](std::vector<std::size_t> indices) {
      std::stable_sort(indices.begin(), indices.end(),
                       [&](auto a, auto b) { return set.colours.index(groups[a]) < set.colours.index(groups[b]); });
      return indices;
    };
    const std::string seeds = seed_counts(groups, drawn);
    const std::string averaged =
        set.seeds_apart ? seeds_apart_text(groups, drawn, seeds)
        : several_seeds(groups) ? "Each line is the mean over a setting's seeds (" + seeds + " per setting) that have an "
                                  "evaluation at that point, with a band of one standard error."
                                : "One trial per line (no seeds to average).";
    const std::string colour_text =
        set.colours.texts.size() > 1 && !set.seeds_apart
            ? " Colour: " + key_title(set.colours.key) +
                  (set.colours.numeric ? " (" + set.colours.labels.front() + " darkest to " + set.colours.labels.back() + " lightest)"
                                       : " (one colour per value, the legend names them)") +
                  ", the same in every panel."
            : "";
    if (layout.panel_key.empty() && reinforcement) {
      // One setting axis (or none), DQN: the share of optimal starts (0 to 1) and the TD loss (log scale) cannot share
      // one y axis, so each has a figure of one panel.
      for (const Metric* metric : {&test, &train}) {
        const bool is_test = metric == &test;
        if (is_test && !has_test) continue;
        Figure figure{std::string("loss_curves") + (is_test || !has_test ? "" : "_train") + suffix + ".svg",
                      capital(metric->label) + " vs " + x_name + in_facet, "", "", "", ""};
        figure.height = 380;
        std::vector<Panel> panels = {{is_test ? test_what : train_what + over_batches, *metric, by_colour(drawn)}};
        PanelNotes notes;
        if (drawn.empty() || panels_script(set, panels, 1, figure, notes) == 0) {
          figure.why_not = no_curves_reason(groups, drawn);
          figure.script.clear();
        } else {
          figure.caption = capital(is_test ? test_what : train_what + over_batches) + " against " + x_name + ". " + averaged +
                           colour_text + without_curves(groups, drawn, metric->name, x_axis) + cut_note(notes) +
                           target_text({metric}) + drawn_notes(groups);
        }
        figures.push_back(std::move(figure));
      }
      continue;
    }
    if (layout.panel_key.empty()) {
      // One setting axis (or none): train and test side by side.
      Figure figure{"loss_curves" + suffix + ".svg",
                    (reinforcement ? "TD loss and greedy share of optimal starts" : "Train and test " + what) + " vs " + x_name + in_facet,
                    "", "", "", ""};
      std::vector<Panel> panels = {{train_what + over_batches, train, by_colour(drawn)}};
      if (has_test) panels.push_back({test_what, test, by_colour(drawn)});
      PanelNotes notes;
      if (drawn.empty() || panels_script(set, panels, int(panels.size()), figure, notes) == 0) {
        figure.why_not = no_curves_reason(groups, drawn);
        figure.script.clear();
      } else {
        figure.caption = averaged + colour_text + without_curves(groups, drawn, train.name, x_axis) + cut_note(notes) +
                         target_text({&train, &test}) + drawn_notes(groups);
      }
      figures.push_back(std::move(figure));
      continue;
    }
    // Two setting axes: one panel per value of the second (the learning rate), test and train in figures of their own.
    const Levels panel_levels = levels_of(layout.panel_key, groups);
    const int n = int(panel_levels.texts.size());
    const int columns = n == 4 ? 2 : n <= 9 ? std::min(n, 3) : 4;
    for (const Metric* metric : {&test, &train}) {
      if (metric == &test && !has_test) continue;
      const bool is_test = metric == &test;
      Figure figure{std::string("loss_curves") + (is_test || !has_test ? "" : "_train") + suffix + ".svg",
                    capital(is_test ? test_what : train_what) + " vs " + x_name + ", one panel per " + key_title(layout.panel_key) + in_facet,
                    "", "", "", ""};
      std::vector<Panel> panels;
      for (std::size_t level = 0; level < panel_levels.texts.size(); ++level) {
        std::vector<std::size_t> in_panel;
        for (auto g : drawn) {
          if (panel_levels.index(groups[g]) == level) in_panel.push_back(g);
        }
        panels.push_back({short_name(layout.panel_key) + " = " + panel_levels.labels[level], *metric, by_colour(in_panel)});
      }
      PanelNotes notes;
      if (panels_script(set, panels, columns, figure, notes) == 0) {
        figure.why_not = no_curves_reason(groups, drawn);
        figure.script.clear();
      } else {
        figure.caption = (is_test ? capital(test_what) + " against " + x_name +
                                        (has_test ? "; " + train_what + " in the next figure, laid out the same way. " : ". ")
                                  : capital(train_what) + over_batches + " against " + x_name +
                                        ". ") +
                         "One panel per " + key_title(layout.panel_key) + ", all on the same axes. " + averaged + colour_text +
                         without_curves(groups, drawn, metric->name, x_axis) + cut_note(notes) + target_text({metric}) + drawn_notes(groups);
      }
      figures.push_back(std::move(figure));
    }
  }
  return figures;
}

// 3. Train loss against samples seen, one line per setting, coloured by the temperature η/B.
// `only`: the groups of one facet (one value of each swept key besides the batch size, the learning rate, the
// temperature and the seed, e.g. SP or muP, which must not share a panel); `facet` names it, `number` numbers the file.
Figure temperature_curves_figure(const ReportData& report, const std::vector<std::size_t>& only, const std::string& facet,
                                 std::size_t number) {
  std::vector<Group> groups;
  for (auto g : only) groups.push_back(report.groups[g]);
  const std::string loss = is_reinforcement_task(report.spec.base.task.name) ? "TD loss" : "Train loss";
  Figure figure{"loss_vs_samples" + (number == 0 ? std::string() : "_" + std::to_string(number + 1)) + ".svg",
                loss + " vs samples seen, by temperature η/B" + (facet.empty() ? "" : " (" + facet + ")") +
                    (report.where.empty() ? "" : " (where " + report.where + ")"),
                "", "", "", ""};
  std::set<double> temperatures;
  for (const auto& group : groups) {
    const auto& config = group.trials.front()->config.expand();
    temperatures.insert(config.optimizer.lr / double(config.training.batch_size));
  }
  if (temperatures.size() < 2) {
    figure.why_not = "every trial has the same temperature η/B (vary training.batch_size or optimizer.lr)";
    return figure;
  }
  if (levels_of("training.batch_size", groups).texts.size() < 2) {
    // η/B is then η over a constant: the figure would be the learning rates' curves, which loss_curves draws.
    figure.why_not = "every trial has the same batch size, so η/B only renames the learning rate (loss_curves draws "
                     "one panel per learning rate)";
    return figure;
  }
  // The colour bar is labelled in η/B itself: every temperature when there are few, else a handful spread evenly.
  const std::vector<double> all(temperatures.begin(), temperatures.end());
  std::vector<double> labelled;
  const std::size_t most = 6;
  for (std::size_t i = 0; i < std::min(all.size(), most); ++i) {
    labelled.push_back(all.size() <= most ? all[i] : all[std::size_t(std::lround(double(i) * double(all.size() - 1) / double(most - 1)))]);
  }
  std::vector<double> rounded_labels;  // 2 significant digits, all in one format
  for (double t : labelled) rounded_labels.push_back(std::stod(format_double_short(t, 2)));
  const auto label_texts = tick_labels(rounded_labels);
  std::string tics;
  for (std::size_t i = 0; i < labelled.size(); ++i) {
    tics += std::string(tics.empty() ? "" : ", ") + gp_quote(label_texts[i]) + " " + num(std::log2(labelled[i]));
  }
  std::string data, plot;
  int lines = 0;
  Range xs, ys;
  for (std::size_t g = 0; g < groups.size(); ++g) {
    const auto points = mean_curve(groups[g], "train_loss", XAxis::Samples);
    if (points.empty()) continue;
    ++lines;
    for (const auto& point : points) {
      xs.add(point.x, true);
      ys.add(point.mean, true);
    }
    const auto& config = groups[g].trials.front()->config.expand();
    const double t = std::log2(config.optimizer.lr / double(config.training.batch_size));
    data += "# g" + std::to_string(g) + ": " + gp_comment(groups[g].label) + "\n" + datablock("g" + std::to_string(g), points);
    plot += std::string(plot.empty() ? "" : ", \\\n  ") + "$g" + std::to_string(g) + " using 1:2 with " +
            (points.size() == 1 ? "points pt 7 ps 0.8" : "lines lw 1.5") + " lc palette cb " + num(t) + " notitle";
  }
  if (plot.empty()) {
    figure.why_not = "no trial has an evaluation yet";
    return figure;
  }
  figure.width = 820;
  figure.height = 460;
  const auto [x_low, x_high] = xs.bounds(true);
  const auto [y_low, y_high] = ys.bounds(true);
  if (std::isfinite(x_low)) data += "set xrange [" + num(x_low) + ":" + num(x_high) + "]\n";
  if (std::isfinite(y_low)) data += "set yrange [" + num(y_low) + ":" + num(y_high) + "]\n";
  if (!log_tics(x_low, x_high).empty()) data += "set xtics " + log_tics(x_low, x_high) + "\n";
  if (!log_tics(y_low, y_high).empty()) data += "set ytics " + log_tics(y_low, y_high) + "\n";
  figure.script = data + "set cbrange [" + num(std::log2(all.front())) + ":" + num(std::log2(all.back())) + "]\n" +
                  "set cbtics (" + tics + ")\nset logscale xy\nset format x '%.0s%c'\nset format y " +
                  log_format(y_low, y_high) + "\nset xlabel 'samples seen'\nset ylabel " +
                  gp_quote(is_reinforcement_task(report.spec.base.task.name) ? "TD loss" : "train loss") + "\n"
                  "set cblabel 'temperature η/B = η / B'\nset rmargin 14\n"
                  "set palette defined (0 '#440154', 1 '#3b528b', 2 '#21918c', 3 '#5ec962', 4 '#fde725')\n"
                  "unset key\nset title " + gp_quote(loss + " vs samples seen" + (facet.empty() ? "" : " (" + facet + ")")) +
                  "\nplot " + plot + "\n";
  figure.caption = std::string(several_seeds(groups) ? "One line per setting (the mean over its seeds; no bands, which would hide "
                                                       "the lines; a point where it has one evaluation)"
                                                     : "One line per trial (a point where it has one evaluation)") +
                   " of " + std::to_string(lines) + ", coloured by its temperature η/B (the colour bar, in η/B itself); "
                   "one panel rather than one per learning rate, because the question is whether lines of equal colour "
                   "fall on each other, that is whether the loss at a given number of samples depends on η/B alone." +
                   drawn_notes(groups);
  return figure;
}

}  // namespace

std::vector<Figure> loss_curves(const ReportData& data) { return curves_figures(data); }

std::vector<std::pair<std::string, std::vector<std::size_t>>> facets_of(const ReportData& data) {
  std::vector<std::string> facet_keys;
  for (const auto& axis : data.spec.axes) {
    if (axis.key == "training.batch_size" || axis.key == "optimizer.lr" || axis.key == "optimizer.temperature" ||
        axis.key == "training.seed") {
      continue;
    }
    if (levels_of(axis.key, data.groups).texts.size() > 1) facet_keys.push_back(axis.key);
  }
  std::vector<std::pair<std::string, std::vector<std::size_t>>> facets;
  for (std::size_t g = 0; g < data.groups.size(); ++g) {
    std::string facet;
    for (const auto& key : facet_keys) {
      const auto found = data.groups[g].values.find(key);
      facet += (facet.empty() ? "" : ", ") + short_name(key) + "=" + (found == data.groups[g].values.end() ? "" : to_short_text(found->second));
    }
    auto it = std::find_if(facets.begin(), facets.end(), [&](const auto& f) { return f.first == facet; });
    if (it == facets.end()) it = facets.insert(facets.end(), {facet, {}});
    it->second.push_back(g);
  }
  if (facets.empty()) facets.push_back({"", {}});
  return facets;
}

std::vector<Figure> loss_vs_samples(const ReportData& data) {
  const auto facets = facets_of(data);
  std::vector<Figure> figures;
  for (std::size_t f = 0; f < facets.size(); ++f) figures.push_back(temperature_curves_figure(data, facets[f].second, facets[f].first, f));
  // Not one drawn, each for the same reason: one line says it, not one per facet.
  const bool same = std::all_of(figures.begin(), figures.end(), [&](const Figure& figure) {
    return !figure.why_not.empty() && figure.why_not == figures.front().why_not;
  });
  if (figures.size() > 1 && same) {
    Figure one = temperature_curves_figure(data, {}, "", 0);
    one.why_not = figures.front().why_not;
    return {one};
  }
  return figures;
}

}  // namespace sweeplab::report_detail
