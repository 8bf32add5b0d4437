#include "figure.hpp"

#include <unistd.h>

#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>

#include "sweeplab/config/schema.hpp"
#include "sweeplab/core/error.hpp"
#include "sweeplab/core/fs.hpp"
#include "sweeplab/core/process.hpp"
#include "sweeplab/core/text.hpp"
#include "sweeplab/report/results.hpp"

namespace fs = std::filesystem;

namespace sweeplab::report_detail {

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

std::string gp_quote(const std::string& text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\' || c == '`') out += '\\';  // a bare backquote would run a shell command
    out += static_cast<unsigned char>(c) < 0x20 || c == 0x7f ? ' ' : c;  // a newline would end the command
  }
  return out + "\"";
}

std::string gp_comment(const std::string& text) {
  std::string out;
  for (char c : text) out += static_cast<unsigned char>(c) < 0x20 || c == 0x7f ? ' ' : c;
  return out;
}


std::string symbol_of(const std::string& key) {
  if (key == "training.batch_size") return "B";
  if (key == "optimizer.lr") return "η";
  if (key == "optimizer.temperature") return "η/B";
  if (key == "model.gamma") return "γ";
  const auto* field = find_field(key);
  return field ? field->id_label() : key;
}

std::string axis_title(const std::string& key) {
  if (key == "training.batch_size") return "batch size B";
  if (key == "optimizer.lr") return "learning rate η";
  if (key == "optimizer.temperature") return "temperature η/B";
  if (key == "model.gamma") return "γ (model.gamma)";
  return key;
}

// At most 4 significant digits: the fewest that give the value back to 9 digits, else 3.
std::string tick_label(double value, bool exponent_form) {
  if (!std::isfinite(value)) return "NaN";
  if (value == 0) return "0";
  if (!exponent_form && value == std::round(value) && std::fabs(value) < 1e6) return std::to_string(std::int64_t(value));
  int digits = 3;
  char buffer[48];
  for (int p = 1; p <= 4; ++p) {
    std::snprintf(buffer, sizeof buffer, "%.*e", p - 1, value);
    if (std::fabs(std::strtod(buffer, nullptr) - value) <= 1e-9 * std::fabs(value)) {  // 0.30000000000000004: 0.3
      digits = p;
      break;
    }
  }
  const double magnitude = std::fabs(value);
  if (!exponent_form && magnitude >= 1e-3 && magnitude < 1e4) {
    // Round to `digits` significant digits first: 0.00012 -> its exponent decides the decimals.
    std::snprintf(buffer, sizeof buffer, "%.*e", digits - 1, value);
    const double rounded = std::strtod(buffer, nullptr);
    const int exponent = int(std::floor(std::log10(std::fabs(rounded))));
    std::snprintf(buffer, sizeof buffer, "%.*f", std::max(0, digits - 1 - exponent), rounded);
    return buffer;
  }
  std::snprintf(buffer, sizeof buffer, "%.*e", digits - 1, value);
  std::string text = buffer;  // "3.00e-04" -> "3e-4"
  const auto e = text.find('e');
  std::string mantissa = text.substr(0, e), exponent = text.substr(e + 1);
  if (mantissa.find('.') != std::string::npos) {
    mantissa.erase(mantissa.find_last_not_of('0') + 1);
    if (mantissa.back() == '.') mantissa.pop_back();
  }
  const bool negative = exponent[0] == '-';
  exponent.erase(0, 1);
  exponent.erase(0, std::min(exponent.find_first_not_of('0'), exponent.size() - 1));
  return mantissa + "e" + (negative ? "-" : "") + exponent;
}

std::vector<std::string> tick_labels(const std::vector<double>& values) {
  bool plain = true;
  for (double value : values) {
    const double magnitude = std::fabs(value);
    plain = plain && ((value == std::round(value) && magnitude < 1e6) || (magnitude >= 1e-3 && magnitude < 1e4));
  }
  std::vector<std::string> labels;
  for (double value : values) labels.push_back(tick_label(value, !plain));
  return labels;
}

std::string category_colour(std::size_t i) {
  static const char* const colours[] = {"#0072b2", "#d55e00", "#009e73", "#cc79a7", "#e69f00", "#56b4e9", "#000000", "#999999"};
  return colours[i % 8];
}

std::string num(double value) { return std::isfinite(value) ? format_double(value) : "NaN"; }

// "2 completed, 1 pending" for a set of statuses (alphabetical).
std::string status_counts(const std::map<std::string, int>& statuses) {
  std::string text;
  for (const auto& [status, n] : statuses) text += (text.empty() ? "" : ", ") + std::to_string(n) + " " + status;
  return text;
}

std::vector<Group> seed_groups(const SweepSpec& spec, const std::vector<TrialState>& results) {
  std::vector<Group> groups;
  std::map<std::string, std::size_t> index;
  const auto keys = swept_keys(spec);
  for (const auto& data : results) {
    std::string label;
    std::map<std::string, Value> values;
    for (const auto& [key, value] : swept_values(data, keys)) {
      if (key == "training.seed") continue;
      values[key] = value;
      label += (label.empty() ? "" : " ") + find_field(key)->id_label() + "=" + to_short_text(value);
    }
    if (label.empty()) label = spec.name;
    auto [it, inserted] = index.emplace(label, groups.size());
    if (inserted) groups.push_back(Group{label, values, {}});
    groups[it->second].trials.push_back(&data);
  }
  return groups;
}


std::vector<CurvePoint> mean_curve(const Group& group, const std::string& metric, XAxis x_axis) {
  std::map<double, std::vector<double>> at;
  for (const auto* data : group.trials) {
    const double lr = x_axis == XAxis::LrStep ? data->config.expand().optimizer.lr : 0.0;
    for (const auto& record : data->metrics) {
      if (!std::isfinite(record.train_loss)) continue;
      const auto value = metric_value(record, metric);
      if (!value || !std::isfinite(*value)) continue;
      const double x = x_axis == XAxis::Samples ? double(record.samples)
                       : x_axis == XAxis::Step  ? double(record.step)
                       : x_axis == XAxis::LrStep ? lr * double(record.step)
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

std::string log_tics(double low, double high) {
  if (!(low > 0) || !(high > low) || !std::isfinite(high)) return "";
  static const std::vector<std::vector<double>> mantissas = {{1}, {1, 2, 5}, {1, 2, 3, 5, 7}, {1, 1.5, 2, 3, 4, 5, 6, 7, 8}};
  std::vector<double> tics;
  for (const auto& set : mantissas) {
    tics.clear();
    for (int decade = int(std::floor(std::log10(low))); decade <= int(std::ceil(std::log10(high))); ++decade) {
      for (double m : set) {
        const double tic = std::stod(format_double_short(m * std::pow(10.0, decade), 3));
        if (tic >= low && tic <= high) tics.push_back(tic);
      }
    }
    if (tics.size() >= 4) {
      if (&set == &mantissas.front()) return "";
      break;
    }
  }
  std::string text;
  for (double tic : tics) text += (text.empty() ? "(" : ", ") + num(tic);
  return text.empty() ? "" : text + ")";
}

bool swept(const SweepSpec& spec, const std::string& key, std::size_t at_least) {
  for (const auto& axis : spec.axes) {
    if (axis.key == key) return axis.values.size() >= at_least;
  }
  return false;
}


namespace {

// The page shows a figure at most about 960 pixels wide: a wider one is scaled down, its text with it. Every font
// size of its script ("font ',10'") and the terminal's 12 grow by the same factor, so that text reads at the size
// the script asks for once on the page.
constexpr double kPageWidth = 960;

std::string scaled_fonts(const std::string& script, double factor) {
  if (factor <= 1) return script;
  std::string out;
  const std::string mark = "font ',";
  std::size_t from = 0;
  for (auto at = script.find(mark); at != std::string::npos; at = script.find(mark, from)) {
    const std::size_t digits = at + mark.size();
    std::size_t end = digits;
    while (end < script.size() && std::isdigit(static_cast<unsigned char>(script[end]))) ++end;
    out += script.substr(from, digits - from);
    out += end > digits ? std::to_string(std::lround(std::stod(script.substr(digits, end - digits)) * factor)) : "";
    from = end;
  }
  return out + script.substr(from);
}

enum class Format { Svg, Pdf };

// The terminal line: SVG in pixels, or PDF at 96 pixels to the inch (the same proportions); text of 12 points,
// scaled as the script's.
std::string terminal(const Figure& figure, Format format) {
  const long font = std::lround(12 * std::max(1.0, figure.width / kPageWidth));
  if (format == Format::Pdf) {
    return "set terminal pdfcairo size " + num(figure.width / 96.0) + "in," + num(figure.height / 96.0) +
           "in noenhanced font 'sans," + std::to_string(font * 3 / 4) + "'\n";
  }
  return "set terminal svg size " + std::to_string(figure.width) + "," + std::to_string(figure.height) +
         " dynamic noenhanced font 'sans," + std::to_string(font) + "' background rgb 'white'\n";
}

// gnuplot's error, the last line of what it wrote to stderr (the file is removed); "" when none.
std::string gnuplot_error(const fs::path& log_path) {
  std::string log;
  {
    std::ifstream log_file(log_path);
    for (std::string line; std::getline(log_file, line);) {
      if (line.find_first_not_of(" \t") != std::string::npos) log = line;
    }
  }
  std::error_code ec;
  fs::remove(log_path, ec);
  return log;
}

// The same figure as a PDF, NAME.pdf beside the SVG (gnuplot's cairo terminal). Returns why not ("" when drawn).
std::string draw_pdf(const Figure& figure, const fs::path& dir, const std::string& body, const std::string& own) {
  const std::string stem = fs::path(figure.file).stem().string();
  const fs::path pdf_path = dir / (stem + ".pdf"), temporary = dir / ("." + stem + own + ".pdf.tmp"),
                 script = dir / ("." + stem + own + ".pdf.gp"), log_path = dir / ("." + stem + own + ".pdf.log");
  write_file_atomic(script.string(), terminal(figure, Format::Pdf) + "set output " + gp_quote(temporary.filename().string()) + "\n" +
                                         body + "unset output\n");
  const std::string command = "cd " + shell_quote(dir.string()) + " && gnuplot " + shell_quote(script.filename().string()) +
                              " > /dev/null 2> " + shell_quote(log_path.filename().string());
  const int status = std::system(command.c_str());
  std::error_code ec;
  const std::string log = gnuplot_error(log_path);
  fs::remove(script, ec);
  std::ifstream pdf(temporary, std::ios::binary);
  char head[5] = {};
  pdf.read(head, 4);
  if (status == 0 && std::string(head) == "%PDF") {
    fs::rename(temporary, pdf_path, ec);
    if (ec) throw StorageError("cannot write " + pdf_path.string() + ": " + ec.message());
    return "";
  }
  fs::remove(temporary, ec);
  fs::remove(pdf_path, ec);
  return "gnuplot's pdfcairo terminal failed" + (log.empty() ? std::string() : ": " + log);
}

}  // namespace

void draw(Figure& figure, const fs::path& dir, bool pdf) {
  const std::string stem = fs::path(figure.file).stem().string();
  const fs::path svg_path = dir / figure.file, script_path = dir / (stem + ".gp");
  // Names of this process's own: two reports of one sweep at once never read each other's half-drawn file.
  const std::string own = "." + std::to_string(::getpid());
  const fs::path temporary = dir / ("." + figure.file + own + ".tmp"), log_path = dir / ("." + stem + own + ".log"),
                 own_script = dir / ("." + stem + own + ".gp");
  std::error_code ec;
  if (figure.why_not.empty()) {
    const std::string body = "set grid lc rgb '#dddddd'\n" + scaled_fonts(figure.script, figure.width / kPageWidth);
    write_file_atomic(own_script.string(),
                      "# Draws " + figure.file + ": gnuplot " + stem + ".gp > " + figure.file + "\n" + terminal(figure, Format::Svg) + body);
    const std::string command = "cd " + shell_quote(dir.string()) + " && gnuplot " + shell_quote(own_script.filename().string()) + " > " +
                                shell_quote(temporary.filename().string()) + " 2> " + shell_quote(log_path.filename().string());
    const int status = std::system(command.c_str());
    std::ifstream svg_file(temporary);
    std::stringstream svg;
    svg << svg_file.rdbuf();
    const std::string log = gnuplot_error(log_path);
    if (status == 0 && svg.str().find("<svg") != std::string::npos && svg.str().find("</svg>") != std::string::npos) {
      // The script, then the SVG it drew: each whole, and the pair this process's own.
      fs::rename(own_script, script_path, ec);
      if (!ec) fs::rename(temporary, svg_path, ec);
      if (!ec) {
        figure.svg = svg.str();
        if (pdf) figure.pdf_why_not = draw_pdf(figure, dir, body, own);
        else fs::remove(dir / (stem + ".pdf"), ec);  // a PDF of an earlier report would not match this SVG
        return;
      }
      throw StorageError("cannot write " + svg_path.string() + ": " + ec.message());
    }
    figure.why_not = "gnuplot failed" + (log.empty() ? std::string() : ": " + log);
  }
  // Not drawn: no file from this or an earlier report may stand for it.
  for (const auto& path : {temporary, own_script, svg_path, script_path, dir / (stem + ".pdf")}) fs::remove(path, ec);
}

// Notes for a caption on the trials drawn that are not completed.
std::string drawn_notes(const std::vector<Group>& groups) {
  bool diverged = false, unfinished = false;
  for (const auto& group : groups) {
    for (const auto* data : group.trials) {
      if (data->metrics.empty()) continue;
      diverged = diverged || data->status == TrialStatus::Diverged;
      unfinished = unfinished || !settled(data->status);
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


double as_number(const Value& value) {
  return std::holds_alternative<double>(value) ? std::get<double>(value) : double(std::get<std::int64_t>(value));
}

bool is_number(const Value& value) {
  return std::holds_alternative<double>(value) || std::holds_alternative<std::int64_t>(value);
}

namespace {

// The learning rate is on the y axis when it is swept, directly or through the temperature η/B.
bool lr_swept(const SweepSpec& spec) { return swept(spec, "optimizer.lr") || swept(spec, "optimizer.temperature"); }

// The key on the heatmaps' x axis: the batch size when it is swept, else the first other swept numeric key
// (batch_size_studies' gamma x eta); "" when there is none.
std::string grid_x_key(const SweepSpec& spec) {
  if (swept(spec, "training.batch_size")) return "training.batch_size";
  for (const auto& axis : spec.axes) {
    if (axis.key == "optimizer.lr" || axis.key == "optimizer.temperature" || axis.values.size() < 2) continue;
    if (is_number(axis.values.front())) return axis.key;
  }
  return "";
}
}  // namespace

std::vector<Grid> make_grids(const SweepSpec& spec, const std::vector<TrialState>& results) {
  const std::string x_key = grid_x_key(spec);
  if (x_key.empty() || !lr_swept(spec)) return {};
  const FieldSpec& x_field = *find_field(x_key);
  std::vector<const FieldSpec*> facet_fields;
  for (const auto& axis : spec.axes) {
    if (axis.key != x_key && axis.key != "optimizer.lr" && axis.key != "optimizer.temperature" && axis.values.size() > 1) {
      facet_fields.push_back(find_field(axis.key));
    }
  }
  // A sweep of the temperature has it on the y axis: its learning rates (η/B x B) form no grid.
  const std::string y_key = swept(spec, "optimizer.temperature") ? "optimizer.temperature" : "optimizer.lr";
  std::set<double> xs, lrs;
  for (const auto& axis : spec.axes) {
    for (const auto& v : axis.values) {
      if (axis.key == x_key) xs.insert(as_number(v));
      if (axis.key == y_key) lrs.insert(as_number(v));
    }
  }
  std::vector<Grid> grids;
  std::map<std::string, std::size_t> by_facet;
  for (const auto& data : results) {
    const Config config = data.config.expand();
    std::string facet;
    for (const auto* field : facet_fields) facet += (facet.empty() ? "" : ", ") + symbol_of(field->key) + "=" + to_short_text(field->get(config));
    const auto [at, added] = by_facet.emplace(facet, grids.size());
    if (added) grids.push_back(Grid{facet, x_key, y_key, {}, {}, {}});
    Grid& grid = grids[at->second];
    const double x = as_number(x_field.get(config));
    const double y = y_key == "optimizer.temperature" ? config.optimizer.temperature : config.optimizer.lr;
    xs.insert(x);
    lrs.insert(y);
    auto& cell = grid.cells[{x, y}];
    ++cell.trials;
    const auto last = data.status == TrialStatus::Completed ? last_finite_record(data) : std::nullopt;
    if (last && last->train_loss > 0) {
      cell.losses.push_back(last->train_loss);
      if (last->test_acc) cell.test_accs.push_back(*last->test_acc);
      if (last->greedy_optimal_fraction) cell.optimal_shares.push_back(*last->greedy_optimal_fraction);
      if (last->train_acc) cell.train_accs.push_back(*last->train_acc);
      if (last->last_batch_loss && *last->last_batch_loss > 0) cell.last_batch_losses.push_back(*last->last_batch_loss);
    } else if (data.status == TrialStatus::Diverged) {
      ++cell.diverged;
      if (data.summary && data.summary->diverged_at_step) cell.diverged_at.push_back(*data.summary->diverged_at_step);
    } else {
      ++cell.others[to_string(data.status)];
    }
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


}  // namespace sweeplab::report_detail
