#include "sweeplab/report/report.hpp"

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

// Runs a gnuplot script that draws into `svg_path`; returns the SVG text.
std::string run_gnuplot(const std::string& script, const fs::path& svg_path) {
  const fs::path script_path = svg_path.string() + ".gp";
  const fs::path log_path = svg_path.string() + ".log";
  {
    std::ofstream out(script_path);
    out << "set terminal svg size 960,420 dynamic noenhanced font 'sans,11' background rgb 'white'\n"
        << "set output " << gp_quote(svg_path.string()) << "\n"
        << "set grid lc rgb '#dddddd'\n"
        << script;
  }
  const std::string command = "gnuplot " + script_path.string() + " > " + log_path.string() + " 2>&1";
  const int status = std::system(command.c_str());
  std::ifstream log_file(log_path);
  std::stringstream log;
  log << log_file.rdbuf();
  fs::remove(script_path);
  fs::remove(log_path);
  std::ifstream svg_file(svg_path);
  std::stringstream svg;
  svg << svg_file.rdbuf();
  if (status != 0 || svg.str().find("<svg") == std::string::npos) {
    throw InternalError("gnuplot failed on " + svg_path.filename().string() + ": " + log.str().substr(0, 400));
  }
  return svg.str();
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
std::vector<CurvePoint> mean_curve(const Group& group, const std::string& metric, bool x_is_samples, bool in_steps) {
  std::size_t length = SIZE_MAX;
  std::vector<const std::vector<EvalRecord>*> curves;
  for (const auto* data : group.trials) {
    if (data->metrics.empty()) continue;
    curves.push_back(&data->metrics);
    length = std::min(length, data->metrics.size());
  }
  std::vector<CurvePoint> points;
  if (curves.empty()) return points;
  for (std::size_t i = 0; i < length; ++i) {
    std::vector<double> values;
    for (const auto* curve : curves) {
      const auto value = metric_value((*curve)[i], metric);
      if (value && std::isfinite(*value)) values.push_back(*value);
    }
    if (values.empty()) continue;
    const auto& record = (*curves.front())[i];
    const auto stats = mean_stderr(values);
    points.push_back({x_is_samples ? double(record.samples) : in_steps ? double(record.step) : double(record.epoch),
                      stats.mean, stats.stderr_.value_or(0.0)});
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
  std::string file;   // figures/NAME.svg
  std::string title;
  std::string svg;    // empty: not drawn
  std::string why_not;
  std::string caption;
};

// 1. Seed 000: train and test accuracy (loss for regression) against epoch, one line per group.
Figure curves_figure(const ResolvedSweep& sweep, const std::vector<Group>& groups, const fs::path& dir) {
  const auto& base = sweep.spec.base;
  const bool classification = is_classification_task(base.task.name);
  const bool in_steps = base.training.steps > 0;
  const std::string what = classification ? "accuracy" : "loss";
  Figure figure{"curves.svg", "Train and test " + what + " vs " + (in_steps ? "step" : "epoch"), "", "", ""};
  std::string data, train_plot, test_plot;
  int drawn = 0;
  for (std::size_t g = 0; g < groups.size(); ++g) {
    const auto train = mean_curve(groups[g], classification ? "train_acc" : "train_loss", false, in_steps);
    const auto test = mean_curve(groups[g], classification ? "test_acc" : "test_loss", false, in_steps);
    if (train.empty()) continue;
    ++drawn;
    const std::string color = "lc " + std::to_string(g % 8 + 1);
    const bool band = groups[g].trials.size() > 1;
    data += datablock("train" + std::to_string(g), train) + datablock("test" + std::to_string(g), test);
    for (const auto& [prefix, plot] : {std::pair<std::string, std::string*>{"train", &train_plot}, {"test", &test_plot}}) {
      const std::string block = "$" + prefix + std::to_string(g);
      if (!plot->empty()) *plot += ", ";
      if (band) *plot += block + " using 1:($2-$3):($2+$3) with filledcurves fs transparent solid 0.2 noborder " + color + " notitle, ";
      *plot += block + " using 1:2 with lines lw 2 " + color + " title " + gp_quote(groups[g].label);
    }
  }
  if (drawn == 0) {
    figure.why_not = "no trial has metrics yet";
    return figure;
  }
  const std::string axis = classification ? "set yrange [*:1.0]\n" : "set logscale y\n";
  // A few settings: the key inside the train panel; many: one key to the right of the test panel.
  const bool many = drawn > 8;
  const std::string inside = classification ? "set key top left font ',9'\n" : "set key top right font ',9'\n";
  const std::string script = data + "set multiplot layout 1,2\n" + axis + (many ? "unset key\n" : inside) +
                             "set xlabel '" + (in_steps ? "step" : "epoch") + "'\nset ylabel '" + what +
                             "'\nset title 'train " + what + " (mean over the batches since the last evaluation)'\n"
                             "plot " + train_plot + "\nset title 'test " + what + "'\n" +
                             (many ? "set key outside right font ',8'\n" : "unset key\n") + "plot " + test_plot +
                             "\nunset multiplot\n";
  figure.svg = run_gnuplot(script, dir / figure.file);
  figure.caption = std::string("One line per ") + (groups.size() > 1 ? "setting" : "trial") +
                   "; with several seeds, the mean and a band of one standard error.";
  return figure;
}

double final_train_loss(const TrialState& data) {
  if (data.summary && data.summary->final) return data.summary->final->train_loss;
  return data.metrics.empty() ? NAN : data.metrics.back().train_loss;
}

// 2. Final train loss (log10) over log2 batch size x log2 learning rate, and over log2 B x log2(eta/B).
std::vector<Figure> heatmap_figures(const ResolvedSweep& sweep, const std::vector<TrialState>& results, const fs::path& dir) {
  Figure grid{"heatmap_lr.svg", "Final train loss over batch size and learning rate", "", "", ""};
  Figure temperature{"heatmap_temperature.svg", "Final train loss over batch size and temperature eta/B", "", "", ""};
  if (!swept(sweep.spec, "training.batch_size") || !swept(sweep.spec, "optimizer.lr")) {
    grid.why_not = temperature.why_not =
        "the sweep does not vary both training.batch_size and optimizer.lr (each needs 2 or more values)";
    return {grid, temperature};
  }
  struct CellStats {
    std::vector<double> log_losses;
    int diverged = 0, trials = 0;
  };
  std::map<std::pair<std::int64_t, double>, CellStats> cells;
  for (const auto& data : results) {
    if (data.status == "pending" || data.status == "failed") continue;
    auto& cell = cells[{data.spec.config.training.batch_size, data.spec.config.optimizer.lr}];
    ++cell.trials;
    if (data.status == "diverged") {
      ++cell.diverged;
      continue;
    }
    const double loss = final_train_loss(data);
    if (std::isfinite(loss) && loss > 0) cell.log_losses.push_back(std::log10(loss));
  }
  std::string values = "$cells << EOD\n", diverged = "$diverged << EOD\n";
  std::string t_values = "$tcells << EOD\n", t_diverged = "$tdiverged << EOD\n";
  for (const auto& [key, cell] : cells) {
    const double x = std::log2(double(key.first)), y = std::log2(key.second), t = std::log2(key.second / double(key.first));
    if (!cell.log_losses.empty()) {
      const double mean = mean_stderr(cell.log_losses).mean;
      values += num(x) + " " + num(y) + " " + num(mean) + "\n";
      t_values += num(x) + " " + num(t) + " " + num(mean) + "\n";
    }
    if (cell.diverged > 0) {
      diverged += num(x) + " " + num(y) + "\n";
      t_diverged += num(x) + " " + num(t) + "\n";
    }
  }
  values += "EOD\n";
  diverged += "EOD\n";
  t_values += "EOD\n";
  t_diverged += "EOD\n";
  // Cell half-widths: half the spacing of the axes' log2 values.
  const auto half_step = [&](const std::string& key) {
    std::set<double> logs;
    for (const auto& axis : sweep.spec.axes) {
      if (axis.key != key) continue;
      for (const auto& v : axis.values) {
        logs.insert(std::log2(std::holds_alternative<double>(v) ? std::get<double>(v) : double(std::get<std::int64_t>(v))));
      }
    }
    double smallest = INFINITY;
    for (auto it = std::next(logs.begin()); it != logs.end(); ++it) smallest = std::min(smallest, *it - *std::prev(it));
    return std::isfinite(smallest) ? smallest / 2 : 0.5;
  };
  const std::string dx = num(half_step("training.batch_size")), dy = num(half_step("optimizer.lr"));
  const std::string palette = "set palette defined (0 '#2166ac', 1 '#f7f7f7', 2 '#b2182b')\nset cblabel 'log10 final train loss'\n"
                              "set xlabel 'log2 batch size'\n";
  grid.svg = run_gnuplot(values + diverged + palette + "set ylabel 'log2 learning rate'\nset title 'final train loss (log10), X: diverged'\n"
                         "plot $cells using 1:2:(" + dx + "):(" + dy + "):3 with boxxyerror fs solid 1.0 noborder lc palette notitle, "
                         "$diverged using 1:2 with points pt 2 ps 2.5 lw 2 lc rgb 'black' notitle\n",
                         dir / grid.file);
  grid.caption = "Mean over seeds (and any other swept key) of log10 of the last evaluation's train loss; X marks a cell "
                 "where a trial diverged.";
  temperature.svg = run_gnuplot(t_values + t_diverged + palette +
                                "set ylabel 'log2 temperature (lr / batch size)'\nset title 'final train loss (log10) over eta/B, X: diverged'\n"
                                "plot $tcells using 1:2:3 with points pt 5 ps 3 lc palette notitle, "
                                "$tdiverged using 1:2 with points pt 2 ps 2.5 lw 2 lc rgb 'black' notitle\n",
                                dir / temperature.file);
  temperature.caption = "The same cells placed by the temperature eta/B (seed 001): equal temperatures lie on a row.";
  return {grid, temperature};
}

// 3. Train loss against samples seen, one line per setting, coloured by the temperature eta/B.
Figure temperature_curves_figure(const std::vector<Group>& groups, const fs::path& dir) {
  Figure figure{"loss_vs_samples.svg", "Train loss vs samples seen, by temperature eta/B", "", "", ""};
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
    const auto points = mean_curve(groups[g], "train_loss", true, false);
    if (points.empty()) continue;
    const auto& config = groups[g].trials.front()->spec.config;
    const double t = std::log2(config.optimizer.lr / double(config.training.batch_size));
    data += datablock("g" + std::to_string(g), points);
    plot += std::string(plot.empty() ? "" : ", ") + "$g" + std::to_string(g) + " using 1:2 with lines lw 2 lc palette cb " +
            num(t) + " title " + gp_quote(groups[g].label);
  }
  if (plot.empty()) {
    figure.why_not = "no trial has metrics yet";
    return figure;
  }
  figure.svg = run_gnuplot(data + cbrange + "set logscale xy\nset xlabel 'samples seen'\nset ylabel 'train loss'\n"
                                  "set cblabel 'log2 temperature (lr / batch size)'\nset palette rgb 33,13,10\n"
                                  "set key outside right font ',8'\nset title 'train loss vs samples seen'\nplot " + plot + "\n",
                           dir / figure.file);
  figure.caption = "Seed 001's losscurve_temp_samples: lines of equal colour share eta/B.";
  return figure;
}

// 4. Steps and samples to the first target against batch size, with McCandlish et al.'s fit.
Figure target_figure(const ResolvedSweep& sweep, const std::vector<TrialState>& results, const fs::path& dir,
                     std::string& fit_text) {
  Figure figure{"steps_to_target.svg", "Steps and samples to target vs batch size", "", "", ""};
  const auto& targets = sweep.spec.base.targets;
  if (targets.empty()) {
    figure.why_not = "the sweep has no targets (add e.g. targets: ['test_acc >= 0.99'])";
    return figure;
  }
  if (!swept(sweep.spec, "training.batch_size")) {
    figure.why_not = "the sweep does not vary training.batch_size";
    return figure;
  }
  const std::string& target = targets.front();
  // Per batch size: mean steps over seeds for each other setting, then the fewest (the best learning rate).
  std::map<std::int64_t, std::map<std::string, std::vector<double>>> steps;
  for (const auto& data : results) {
    if (!data.summary) continue;
    for (const auto& result : data.summary->targets) {
      if (result.target != target || !result.reached) continue;
      std::string setting;
      for (const auto& [key, value] : data.spec.swept) {
        if (key != "training.seed" && key != "training.batch_size") setting += key + "=" + to_text(value) + ";";
      }
      steps[data.spec.config.training.batch_size][setting].push_back(double(result.step));
    }
  }
  std::vector<double> batch_sizes, best_steps;
  std::string points = "$points << EOD\n";
  for (const auto& [batch, settings] : steps) {
    double best = INFINITY, best_se = 0;
    for (const auto& [setting, values] : settings) {
      const auto stats = mean_stderr(values);
      if (stats.mean < best) {
        best = stats.mean;
        best_se = stats.stderr_.value_or(0.0);
      }
    }
    batch_sizes.push_back(double(batch));
    best_steps.push_back(best);
    points += num(double(batch)) + " " + num(best) + " " + num(best_se) + " " + num(best * double(batch)) + " " +
              num(best_se * double(batch)) + "\n";
  }
  points += "EOD\n";
  if (batch_sizes.size() < 2) {
    figure.why_not = "fewer than 2 batch sizes reached the target '" + target + "'";
    return figure;
  }
  const auto fit = fit_noise_scale(batch_sizes, best_steps);
  std::string fit_plot, fit_plot_samples;
  if (fit) {
    fit_text = "Fit for '" + target + "': S_min = " + format_double_short(fit->s_min, 4) + " steps, E_min = " +
               format_double_short(fit->e_min, 4) + " samples, B_noise = " + format_double_short(fit->b_noise, 4) + ".";
    fit_plot = ", " + num(fit->s_min) + "*(1+" + num(fit->b_noise) + "/x) with lines dt 2 lw 2 lc rgb '#b2182b' title " +
               gp_quote("S_min (1 + B_noise / B)");
    fit_plot_samples = ", " + num(fit->e_min) + "*(1+x/" + num(fit->b_noise) + ") with lines dt 2 lw 2 lc rgb '#b2182b' title " +
                       gp_quote("E_min (1 + B / B_noise)");
  } else {
    fit_text = "No fit for '" + target + "': the steps do not fall with batch size as S_min (1 + B_noise/B) needs.";
  }
  figure.svg = run_gnuplot(points + "set multiplot layout 1,2\nset logscale xy\nset xlabel 'batch size'\nset key top center font ',9'\n"
                                    "set ylabel 'steps to target'\nset title " + gp_quote("steps to " + target) + "\n"
                                    "plot $points using 1:2:3 with yerrorbars pt 7 ps 1.2 lc rgb '#2166ac' title 'measured'" + fit_plot + "\n"
                                    "set ylabel 'samples to target'\nset title " + gp_quote("samples to " + target) + "\n"
                                    "plot $points using 1:4:5 with yerrorbars pt 7 ps 1.2 lc rgb '#2166ac' title 'measured'" +
                                    fit_plot_samples + "\nunset multiplot\n",
                           dir / figure.file);
  figure.caption = "Mean over seeds; where the learning rate is swept too, the fewest steps over learning rates. " + fit_text;
  return figure;
}

std::string svg_body(const std::string& svg) {
  const auto start = svg.find("<svg");
  return start == std::string::npos ? svg : svg.substr(start);
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
      std::string text = std::visit(
          [](const auto& v) -> std::string {
            using T = std::decay_t<decltype(v)>;
            if constexpr (std::is_same_v<T, std::monostate>) return "";
            else if constexpr (std::is_same_v<T, bool>) return v ? "true" : "false";
            else if constexpr (std::is_same_v<T, double>) return format_double_short(v, 4);
            else if constexpr (std::is_same_v<T, std::int64_t>) return std::to_string(v);
            else return v;
          },
          row[c]);
      const bool status = table.columns[c] == "status";
      html += status ? "<td class=\"" + html_escape(text) + "\">" + html_escape(text) + "</td>" : "<td>" + html_escape(text) + "</td>";
    }
    html += "</tr>\n";
  }
  return html + "</tbody></table>\n";
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

  std::vector<Figure> figures;
  figures.push_back(curves_figure(sweep, groups, figures_dir));
  for (auto& figure : heatmap_figures(sweep, results, figures_dir)) figures.push_back(std::move(figure));
  figures.push_back(temperature_curves_figure(groups, figures_dir));
  std::string fit_text;
  figures.push_back(target_figure(sweep, results, figures_dir, fit_text));

  const auto trials = export_trials(sweep, results);
  std::map<std::string, int> states;
  for (const auto& data : results) ++states[data.status];
  std::string counts;
  for (const auto& [state, n] : states) counts += (counts.empty() ? "" : ", ") + std::to_string(n) + " " + state;

  std::string html =
      "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>sweeplab report: " +
      html_escape(sweep.spec.name) + "</title>\n<style>\n"
      "body{font-family:sans-serif;max-width:1000px;margin:2em auto;padding:0 1em;color:#222}\n"
      "figure{margin:1.5em 0}figcaption{color:#555;font-size:.9em}svg{max-width:100%;height:auto}\n"
      "table{border-collapse:collapse;font-size:.8em}th,td{border:1px solid #ccc;padding:2px 6px;text-align:right}\n"
      "td.diverged{background:#fde0dd}td.failed{background:#f4a582}td.pending{color:#999}\n"
      ".missing{color:#555}code{background:#f4f4f4;padding:0 3px}\n</style></head><body>\n<h1>" +
      html_escape(sweep.spec.name) + "</h1>\n<p>" + html_escape(sweep.spec.base.description) + "</p>\n<p>" +
      std::to_string(results.size()) + " trials: " + html_escape(counts) + ". Results in <code>" + html_escape(root.string()) +
      "</code>; figures also in <code>figures/</code>.</p>\n";
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
  std::vector<std::string> columns = {"trial_id"};
  for (const auto& key : swept_keys(sweep.spec)) columns.push_back(key);
  columns.insert(columns.end(), {"status", "temperature", "steps", "final_train_loss", "final_test_loss", "final_test_acc",
                                 "best_test_acc", "diverged_at_step"});
  for (const auto& target : sweep.spec.base.targets) columns.push_back("steps_to_" + target_column(target));
  html += "<h2>Trials</h2>\n" + table_html(trials, columns) + "</body></html>\n";

  ReportFiles files;
  files.html = (root / "report.html").string();
  write_file_atomic(files.html, html);
  for (const auto& figure : figures) {
    if (!figure.svg.empty()) files.figures.push_back((figures_dir / figure.file).string());
  }
  for (const auto* figure : missing) files.not_drawn.push_back(figure->title + ": " + figure->why_not);
  return files;
}

}  // namespace sweeplab
