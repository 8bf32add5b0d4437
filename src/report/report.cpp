#include "sweeplab/report/report.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <set>

#include "figure.hpp"
#include "sweeplab/config/schema.hpp"
#include "sweeplab/core/error.hpp"
#include "sweeplab/core/fs.hpp"
#include "sweeplab/core/hash.hpp"
#include "sweeplab/core/process.hpp"
#include "sweeplab/core/text.hpp"
#include "sweeplab/report/results.hpp"
#include "sweeplab/store/history.hpp"
#include "sweeplab/store/layout.hpp"

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

// A header that may wrap after a dot or an underscore (final_train_loss, training.batch_size): the table fits.
std::string header_html(const std::string& name) {
  std::string html;
  for (char c : html_escape(name)) {
    html += c;
    if (c == '_' || c == '.') html += "<wbr>";
  }
  return html;
}

std::string table_html(const ExportTable& table, const std::vector<std::string>& columns) {
  std::vector<std::size_t> shown;
  for (const auto& name : columns) {
    for (std::size_t c = 0; c < table.columns.size(); ++c) {
      if (table.columns[c] == name) shown.push_back(c);
    }
  }
  std::string html = "<table class=\"trials\"><thead><tr>";
  for (auto c : shown) html += "<th title=\"click to sort\">" + header_html(table.columns[c]) + "</th>";
  html += "</tr></thead><tbody>\n";
  for (const auto& row : table.rows) {
    html += "<tr>";
    for (auto c : shown) {
      const std::string text = cell_html(row[c]);
      if (table.columns[c] == "status") html += "<td class=\"" + text + "\">" + text + "</td>";
      else if (std::holds_alternative<double>(row[c]) && std::isfinite(std::get<double>(row[c])) &&
               format_double_short(std::get<double>(row[c]), 4) != text) {
        // Four significant digits, so the table fits the page; the number as export writes it is the tooltip
        // and what the column sorts by.
        html += "<td data-v=\"" + text + "\" title=\"" + text + "\">" +
                html_escape(format_double_short(std::get<double>(row[c]), 4)) + "</td>";
      } else {
        html += "<td>" + text + "</td>";
      }
    }
    html += "</tr>\n";
  }
  return html + "</tbody></table>\n";
}

// A grid of x (batch size, ...) x learning rate as a table: every cell of the axes, with its (mean) final train
// loss or why it has none. `unfiltered`: the same grid before --where, whose cells that the filters left out are
// marked so, not "no trial".
std::string grid_html(const Grid& grid, std::size_t number, const Grid* unfiltered, const std::string& id_prefix = "") {
  const std::string id = id_prefix + (number == 0 ? "grid" : "grid_" + std::to_string(number + 1));
  std::string html = "<h2>Final train loss by " + html_escape(grid.x_name()) + " and " + html_escape(grid.y_name()) +
                     (grid.facet.empty() ? "" : " (" + html_escape(grid.facet) + ")") +
                     "</h2>\n<table class=\"grid\" id=\"" + html_escape(id) + "\"><thead><tr><th>" + std::string(grid.by_temperature() ? "η/B" : "lr") + " \\ " + html_escape(grid.x_name()) + "</th>";
  for (auto x : grid.xs) html += "<th>" + format_double_short(x, 6) + "</th>";
  html += "</tr></thead><tbody>\n";
  bool several = false, several_seeds = false;
  for (const auto& [key, cell] : grid.cells) several_seeds = several_seeds || cell.losses.size() > 1;
  for (auto lr = grid.lrs.rbegin(); lr != grid.lrs.rend(); ++lr) {  // the largest on top, as in the heatmap
    html += "<tr><th>" + format_double_short(*lr, 6) + "</th>";
    for (auto x : grid.xs) {
      const auto found = grid.cells.find({x, *lr});
      if (found == grid.cells.end()) {
        const bool left_out = unfiltered && unfiltered->cells.count({x, *lr});
        html += left_out ? "<td class=\"none\">left out (--where)</td>" : "<td class=\"none\">no trial</td>";
        continue;
      }
      const GridCell& cell = found->second;
      several = several || cell.trials > 1;
      const std::string notes = cell_notes(cell);
      if (!cell.losses.empty()) {
        const std::string mean = format_double(mean_stderr(cell.losses).mean);
        // With seeds, how many the mean is over: "0.9 (n=2)".
        const std::string n = several_seeds ? "n=" + std::to_string(cell.losses.size()) : "";
        const std::string extra = join(std::vector<std::string>{n, notes}, n.empty() || notes.empty() ? "" : ", ");
        html += "<td class=\"completed\" title=\"" + mean + "\">" + format_double_short(mean_stderr(cell.losses).mean, 4) +
                (extra.empty() ? "" : " (" + html_escape(extra) + ")") + "</td>";
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
          std::string(several ? "The mean final train loss of each cell's completed trials (n: how many; its other trials in brackets)"
                              : "The final train loss of each cell's trial") +
          "; a cell without a completed trial says what its trials are.</p>\n";
  return html;
}

// Sorts a table of trials by the column whose header is clicked (once more: the other way). Numbers sort as
// numbers (format_double's .inf too), text as text; empty and .nan cells go last either way. Inline, so that the
// page stays one file that opens offline.
const char* const kSortScript = R"JS(<script>
(function () {
  function number(text) {
    if (text === '.inf') return Infinity;
    if (text === '-.inf') return -Infinity;
    return text === '' ? NaN : Number(text);
  }
  document.querySelectorAll('table.trials').forEach(function (table) {
    var heads = table.tHead.rows[0].cells;
    Array.prototype.forEach.call(heads, function (head, column) {
      head.addEventListener('click', function () {
        var ascending = !head.classList.contains('ascending');
        Array.prototype.forEach.call(heads, function (h) { h.classList.remove('ascending', 'descending'); });
        head.classList.add(ascending ? 'ascending' : 'descending');
        var body = table.tBodies[0];
        var rows = Array.prototype.slice.call(body.rows);
        var text = function (row) { var cell = row.cells[column]; return cell.dataset.v !== undefined ? cell.dataset.v : cell.textContent.trim(); };
        var numeric = rows.every(function (row) { var t = text(row); return t === '' || t === '.nan' || !isNaN(number(t)); });
        var empty = function (t) { return t === '' || (numeric && isNaN(number(t))); };
        rows.sort(function (a, b) {
          var x = text(a), y = text(b);
          if (empty(x) || empty(y)) return empty(x) - empty(y);
          var order = numeric ? (number(x) < number(y) ? -1 : number(x) > number(y) ? 1 : 0)
                              : x.localeCompare(y, undefined, {numeric: true});
          return ascending ? order : -order;
        });
        rows.forEach(function (row) { body.appendChild(row); });
      });
    });
  });
})();
</script>
)JS";

std::string page_head(const std::string& title, bool side_by_side) {
  return "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
         "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>" +
         html_escape(title) + "</title>\n<style>\n"
         "body{font-family:sans-serif;max-width:" + std::string(side_by_side ? "1800px" : "1000px") +
         ";margin:2em auto;padding:0 1em;color:#222}\n"
         "figure{margin:1.5em 0}figcaption{color:#555;font-size:.9em}svg{display:block;max-width:100%;height:auto}\n"
         "table{border-collapse:collapse;font-size:.8em}th,td{border:1px solid #ccc;padding:2px 6px;text-align:right}\n"
         "table.trials th{cursor:pointer;background:#f6f6f6;vertical-align:bottom}table.trials td:first-child,table.trials th:first-child{text-align:left}\n"
         "th.ascending::after{content:\" \\25B2\"}th.descending::after{content:\" \\25BC\"}\n"
         "td.diverged{background:#fde0dd}td.failed{background:#f4a582}td.pending,td.partial,td.running,td.interrupted,"
         "td.mixed,td.none{color:#777;background:#f0f0f0}\n"
         ".missing,.note{color:#555}.warning{background:#fff3cd;padding:.5em}code{background:#f4f4f4;padding:0 3px}\n"
         ".wide{overflow-x:auto}nav.contents{font-size:.9em;line-height:1.6}nav.contents span{white-space:nowrap}\n"
         ".side{font-weight:bold;color:#555}\n"
         ".pair{display:grid;grid-template-columns:1fr 1fr;gap:1.5em}.pair>*{min-width:0;margin:0}\n"
         "</style></head><body>\n";
}

// One sweep's part of a page: its trials (those the filters keep) and the figures drawn from them.
struct SweepPart {
  SweepState state;
  std::size_t all_trials = 0;  // before the filters
  fs::path root;               // experiments/NAME
  std::vector<Grid> grids;
  std::vector<Grid> unfiltered_grids;  // with --where: the grids of every trial
  std::vector<Figure> figures;
  std::string figures_dir;     // where the figures are, as the page names it ("figures/")
};

void require_gnuplot() {
  if (find_program("gnuplot").empty()) {
    throw UserError("report: gnuplot is not installed (apt-get install gnuplot-nox); it draws the figures");
  }
}

// A sweep's trials for a report, or why there is no report to write (before anything is written).
SweepPart read_part(const ResolvedSweep& current, const std::string& experiments_dir, const ReportRequest& request) {
  SweepPart part;
  part.root = sweep_dir(experiments_dir, current.spec.name);
  if (!fs::exists(part.root / "sweep.json")) {
    throw UserError("report: no results for sweep '" + current.spec.name + "' in " + part.root.string() +
                    " (sweeplab run " + current.spec.name + " first)");
  }
  ReadOptions read;
  read.metrics = true;  // the curves
  read.pending = request.pending;
  part.state = read_sweep_state(current, experiments_dir, read);
  part.all_trials = part.state.trials.size();
  if (request.where) {
    part.unfiltered_grids = make_grids(part.state.spec, part.state.trials);
    std::vector<TrialState> kept;
    for (auto& trial : part.state.trials) {
      if (request.where(trial.config)) kept.push_back(std::move(trial));
    }
    if (kept.empty()) {
      throw UserError("report: no trial of sweep '" + current.spec.name + "' has " + request.where_text);
    }
    part.state.trials = std::move(kept);
  }
  if (request.colour_by == "last_batch_loss") {
    const bool any = std::any_of(part.state.trials.begin(), part.state.trials.end(), [](const TrialState& trial) {
      const auto last = last_finite_record(trial);
      return last && last->last_batch_loss;
    });
    if (!any) {
      throw UserError("report: --colour-by last_batch_loss: no trial of sweep '" + current.spec.name +
                      "' recorded the last minibatch's loss (supervised tasks record it with each evaluation); "
                      "leave --colour-by out for the final train loss");
    }
  }
  return part;
}

bool wanted(const ReportRequest& request, const std::string& plot) {
  return request.plots.empty() || std::find(request.plots.begin(), request.plots.end(), plot) != request.plots.end();
}

// Draws the plots the request asks for into `dir` (the sweep's trials on disk as run, and the current config's
// others; only those the filters keep).
// `other`: the sweep beside it (report A B), whose curves and cells set the axes and colour scale too.
void draw_figures(SweepPart& part, const ReportRequest& request, const fs::path& dir, const SweepPart* other = nullptr) {
  std::vector<Group> other_groups;
  std::vector<Grid> other_grids;
  if (other) {
    other_groups = seed_groups(other->state.spec, other->state.trials);
    other_grids = make_grids(other->state.spec, other->state.trials);
  }
  const ReportData data{part.state.spec, part.state.trials, seed_groups(part.state.spec, part.state.trials),
                        make_grids(part.state.spec, part.state.trials), request.where_text, request.colour_by, request.x_axis,
                        other ? &other_groups : nullptr, other ? &other_grids : nullptr};
  create_folders(dir.string());
  for (const auto& kind : plot_registry()) {
    if (!wanted(request, kind.info.name)) continue;
    auto figures = kind.figures(data);
    // Beyond a dozen figures of one plot a page is no longer read, only scrolled (and it grows by megabytes): the
    // first ones are drawn, the others summed up in one line that says how to draw them.
    constexpr std::size_t kMostFigures = 12;
    std::size_t drawable = 0;
    std::vector<std::string> left_out;
    for (auto& figure : figures) {
      if (figure.why_not.empty() && ++drawable > kMostFigures) left_out.push_back(figure.title);
      else part.figures.push_back(std::move(figure));
    }
    if (!left_out.empty()) {
      Figure more{kind.info.name + "_more.svg", std::to_string(left_out.size()) + " more figures of " + kind.info.name, "", "", "", ""};
      more.why_not = "only the first " + std::to_string(kMostFigures) + " are drawn; the others (" + left_out.front() + " ... " +
                     left_out.back() + ") with --where (one value of a key that makes figures of its own) and --plots " +
                     kind.info.name;
      part.figures.push_back(std::move(more));
    }
  }
  for (auto& figure : part.figures) draw(figure, dir, request.pdf);
  if (wanted(request, "heatmap_batch")) part.grids = data.grids;  // the heatmap's numbers, as tables
}

// The grids' tables of final train loss, each cell's number or why it has none.
std::string grids_html(const SweepPart& part, const std::string& id_prefix = "") {
  std::string html;
  for (std::size_t i = 0; i < part.grids.size(); ++i) {
    const Grid* unfiltered = nullptr;
    for (const auto& grid : part.unfiltered_grids) unfiltered = grid.facet == part.grids[i].facet ? &grid : unfiltered;
    html += grid_html(part.grids[i], i, unfiltered, id_prefix);
  }
  return html;
}

std::string figure_id(const Figure& figure) { return fs::path(figure.file).stem().string(); }

// The budgets of the trials shown: "training.epochs=2 (5 trials), training.epochs=20 (10 trials)".
std::string budgets_text(const std::vector<TrialState>& trials) {
  std::map<std::string, int> budgets;
  for (const auto& trial : trials) {
    const Config config = trial.config.expand();
    const auto& training = config.training;
    ++budgets[training.samples > 0 ? "training.samples=" + std::to_string(training.samples)
              : training.steps > 0 ? "training.steps=" + std::to_string(training.steps)
                                   : "training.epochs=" + std::to_string(training.epochs)];
  }
  std::vector<std::string> parts;
  for (const auto& [budget, n] : budgets) {
    parts.push_back(budgets.size() == 1 ? budget : budget + " (" + std::to_string(n) + (n == 1 ? " trial)" : " trials)"));
  }
  return join(parts, ", ");
}

// What was run: the budgets of the trials shown, each `run` that trained in the sweep's folder (runs.jsonl: when,
// its -o and flags, the version), and the version that drew this page. The config's description says what the YAML
// asks for; this says what the trials on the page are.
std::string runs_html(const SweepPart& part) {
  std::string html = "<details class=\"runs\" open><summary>What was run</summary>\n<ul>\n";
  if (!part.state.trials.empty()) html += "<li>Budget: <code>" + html_escape(budgets_text(part.state.trials)) + "</code></li>\n";
  const auto runs = read_run_records(part.root.string());
  constexpr std::size_t kShown = 8;  // the latest; the file has them all
  if (runs.size() > kShown) {
    html += "<li>" + std::to_string(runs.size() - kShown) + " earlier runs (all in <code>runs.jsonl</code>)</li>\n";
  }
  for (std::size_t i = runs.size() > kShown ? runs.size() - kShown : 0; i < runs.size(); ++i) {
    const RunRecord& run = runs[i];
    std::string flags;
    for (const auto& flag : run.flags) flags += " " + flag;
    html += "<li>" + html_escape(run.started_at) + ": <code>sweeplab " + html_escape(run.command) + " " +
            html_escape(part.state.spec.name) + (run.overrides.empty() ? "" : " " + html_escape(overrides_text(run))) +
            html_escape(flags) + "</code>, " + std::to_string(run.trials) + (run.trials == 1 ? " trial" : " trials") +
            (run.sweeplab_version.empty() ? "" : ", sweeplab " + html_escape(run.sweeplab_version)) +
            (run.git_commit.empty() || run.git_commit == "unknown" ? "" : " (" + html_escape(run.git_commit) + ")") + "</li>\n";
  }
  if (runs.empty()) html += "<li>No record of the runs (<code>runs.jsonl</code> is missing).</li>\n";
  html += "<li>This page: sweeplab " SWEEPLAB_VERSION "</li>\n</ul></details>\n";
  return html;
}

// The sweep's description, its trials by state, the filters, and what the reader should know before the figures.
std::string summary_html(const SweepPart& part, const ReportRequest& request, std::string& note) {
  const SweepSpec& spec = part.state.spec;
  const auto& results = part.state.trials;
  std::map<std::string, int> states;
  int done = 0;
  for (const auto& trial : results) {
    ++states[to_string(trial.status)];
    done += settled(trial.status);
  }
  const std::size_t not_run = part.state.not_run.size();
  const std::string counts = status_counts(states);
  std::string html = spec.base.description.empty()
                         ? "<p>"
                         : "<p>The config's description: <q>" + html_escape(spec.base.description) + "</q>.</p>\n<p>";
  if (request.where) {
    html += std::to_string(results.size()) + " of " + std::to_string(part.all_trials) +
            (results.size() == 1 ? " trials has " : " trials have ") + html_escape(request.where_text) + " (<code>--where</code>): " + html_escape(counts);
  } else {
    html += std::to_string(results.size()) + " trials: " + html_escape(counts);
  }
  html += ". Results in <code>" + html_escape(part.root.string()) + "</code>; figures also in <code>" +
          html_escape(part.figures_dir) + "</code>, each with the gnuplot script that draws it (data inline).</p>\n";
  if (done == 0) {
    note = "no trial has finished yet (" + counts + ")";
    html += "<p class=\"warning\">No trial has finished yet (" + html_escape(counts) +
            "): there are no results to show, only what the trials have written so far.</p>\n";
  }
  if (const std::string refined = refined_summary(spec); !refined.empty()) {
    html += "<p class=\"note\">" + html_escape(refined) + " (" + html_escape(refine_text(spec.refine)) +
            "): learning rates between the grid's, at each line's divergence boundary and best rate; the table and "
            "figures include them.</p>\n";
  }
  html += runs_html(part);
  if (not_run > 0) {
    html += "<p class=\"note\">" + std::to_string(not_run) + (not_run == 1 ? " trial" : " trials") +
            " of the current config not run yet: <code>sweeplab run " + html_escape(spec.name) + "</code>.</p>\n";
  }
  return html;
}

// The table of trials that fits the page: the trial, its swept values and status, and the key results; columns
// that are empty in every row, and a temperature that is the same in every row, are left out.
std::string trials_html(const SweepPart& part) {
  const SweepSpec& spec = part.state.spec;
  const auto table = export_trials(spec, part.state.trials);
  std::vector<std::string> columns = {"trial_id"};
  for (const auto& key : swept_keys(spec)) columns.push_back(key);
  columns.push_back("status");
  const std::size_t always = columns.size();
  columns.insert(columns.end(), {"temperature", "final_train_loss", "final_test_loss", "final_test_acc", "best_test_acc",
                                 "final_episode_return", "final_greedy_length", "final_greedy_optimal_fraction",
                                 "best_greedy_optimal_fraction"});  // a column empty in every row is left out
  for (const auto& target : spec.base.targets) columns.push_back("steps_to_" + target_column(target));
  columns.push_back("diverged_at_step");
  std::vector<std::string> shown(columns.begin(), columns.begin() + always);
  for (std::size_t i = always; i < columns.size(); ++i) {
    const auto at = std::find(table.columns.begin(), table.columns.end(), columns[i]);
    if (at == table.columns.end()) continue;
    std::set<std::string> values;
    for (const auto& row : table.rows) values.insert(cell_html(row[at - table.columns.begin()]));
    values.erase("");
    if (values.empty() || (columns[i] == "temperature" && values.size() == 1)) continue;
    shown.push_back(columns[i]);
  }
  return "<p class=\"note\">Click a column's name to sort by it. The full table, with every column (steps, samples, "
         "wall time, each metric), is <code>sweeplab export " + html_escape(spec.name) + "</code>.</p>\n" +
         "<div class=\"wide\">" + table_html(table, shown) + "</div>\n";
}

std::string figure_html(const Figure& figure) {
  return svg_body(figure.svg) + "\n<figcaption>" + html_escape(figure.caption) + "</figcaption>";
}

std::string contents_html(const std::vector<std::pair<std::string, std::string>>& entries) {
  std::string links;  // a line breaks between entries, after the dot that follows one
  for (std::size_t i = 0; i < entries.size(); ++i) {
    links += "<span><a href=\"#" + html_escape(entries[i].first) + "\">" + html_escape(entries[i].second) + "</a>" +
             (i + 1 < entries.size() ? " &middot;</span> " : "</span>");
  }
  return "<nav class=\"contents\">Contents: " + links + "</nav>\n";
}

}  // namespace

std::string report_folder(const std::string& experiments_dir, const std::string& name, const ReportChoices& choices) {
  const fs::path root = sweep_dir(experiments_dir, name);
  std::vector<std::string> parts;
  if (!choices.versus.empty()) parts.push_back("vs-" + choices.versus);
  parts.insert(parts.end(), choices.overrides.begin(), choices.overrides.end());
  auto where = choices.where;  // every filter must hold: their order does not matter
  std::sort(where.begin(), where.end());
  for (const auto& filter : where) parts.push_back("where-" + filter);
  std::vector<std::string> plots;  // in the registry's order, each once
  for (const auto& kind : plot_registry()) {
    if (std::find(choices.plots.begin(), choices.plots.end(), kind.info.name) != choices.plots.end()) plots.push_back(kind.info.name);
  }
  if (!plots.empty() && plots.size() < plot_registry().size()) parts.push_back("plots-" + join(plots, ","));
  if (choices.pending) parts.push_back("pending");
  if (!choices.colour_by.empty()) parts.push_back("colour-" + choices.colour_by);
  if (!choices.x_axis.empty()) parts.push_back("x-" + choices.x_axis);
  if (parts.empty()) return root.string();
  const std::string whole = join(parts, "+");
  std::string slug;
  for (char c : whole) slug += std::isalnum(static_cast<unsigned char>(c)) || std::strchr("._=,+-", c) ? c : '_';
  // A part with a '+' of its own (-o description=a+b) could read as two parts: it, a replaced character or a long
  // name makes the folder end with a hash of the parts, taken one per line (unambiguous).
  const bool plus_inside = std::any_of(parts.begin(), parts.end(), [](const std::string& part) { return part.find('+') != std::string::npos; });
  if (slug != whole || plus_inside || slug.size() > 120) slug = slug.substr(0, 100) + "-" + short_hash(join(parts, "\n"));
  return (root / "reports" / slug).string();
}

ReportFiles write_report(const ResolvedSweep& current, const std::string& experiments_dir, const ReportRequest& request) {
  require_gnuplot();
  SweepPart part = read_part(current, experiments_dir, request);
  const fs::path folder = request.folder.empty() ? part.root : fs::path(request.folder);
  const fs::path figures_dir = folder / "figures";
  part.figures_dir = "figures/";
  draw_figures(part, request, figures_dir);
  const SweepSpec& spec = part.state.spec;

  ReportFiles files;
  const std::string filters = request.where ? " (" + request.where_text + ")" : "";
  std::string html = page_head("sweeplab report: " + spec.name + filters, false) + "<h1>" + html_escape(spec.name) +
                     (filters.empty() ? "" : " <small>" + html_escape(filters) + "</small>") + "</h1>\n" +
                     summary_html(part, request, files.note);
  std::vector<std::pair<std::string, std::string>> contents;
  std::string body;
  int number = 0;
  std::vector<const Figure*> missing;
  for (const auto& figure : part.figures) {
    if (figure.svg.empty()) {
      missing.push_back(&figure);
      continue;
    }
    const std::string title = std::to_string(++number) + ". " + figure.title;
    contents.emplace_back(figure_id(figure), title);
    body += "<figure id=\"" + figure_id(figure) + "\"><h2>" + html_escape(title) + "</h2>\n" + figure_html(figure) + "</figure>\n";
  }
  if (!missing.empty()) {
    contents.emplace_back("not-drawn", "Figures not drawn");
    body += "<section id=\"not-drawn\"><h2>Figures not drawn</h2><ul class=\"missing\">\n";
    for (const auto* figure : missing) body += "<li>" + html_escape(figure->title) + ": " + html_escape(figure->why_not) + "</li>\n";
    body += "</ul></section>\n";
  }
  if (!part.grids.empty()) {
    contents.emplace_back("grid", "Table: final train loss by " + part.grids[0].x_name() + " and " + part.grids[0].y_name());
  }
  body += grids_html(part);
  contents.emplace_back("trials", "Trials");
  body += "<section id=\"trials\"><h2>Trials</h2>\n" + trials_html(part) + "</section>\n";
  html += contents_html(contents) + body + kSortScript + "</body></html>\n";

  files.html = (folder / "report.html").string();
  write_file_atomic(files.html, html);
  for (const auto& figure : part.figures) {
    if (figure.svg.empty()) continue;
    files.figures.push_back((figures_dir / figure.file).string());
    if (request.pdf && figure.pdf_why_not.empty()) files.pdfs.push_back((figures_dir / fs::path(figure.file).replace_extension(".pdf")).string());
    if (request.pdf && !figure.pdf_why_not.empty()) files.not_drawn.push_back(figure.title + " (PDF): " + figure.pdf_why_not);
  }
  for (const auto* figure : missing) files.not_drawn.push_back(figure->title + ": " + figure->why_not);
  return files;
}

ReportFiles write_comparison(const ResolvedSweep& a, const ResolvedSweep& b, const std::string& experiments_dir,
                             const ReportRequest& request) {
  if (request.folder.empty()) throw InternalError("write_comparison: no folder");
  if (a.spec.name == b.spec.name) throw UserError("report: " + a.spec.name + " is named twice; name two sweeps to compare");
  require_gnuplot();
  std::vector<SweepPart> parts;
  parts.push_back(read_part(a, experiments_dir, request));  // both read before anything is written
  parts.push_back(read_part(b, experiments_dir, request));
  const fs::path folder = request.folder;
  for (std::size_t i = 0; i < parts.size(); ++i) {
    const std::string name = parts[i].state.spec.name;
    parts[i].figures_dir = name + "/";
    draw_figures(parts[i], request, folder / name, &parts[1 - i]);
  }

  ReportFiles files;
  const std::string filters = request.where ? " (" + request.where_text + ")" : "";
  std::string html = page_head("sweeplab report: " + a.spec.name + " vs " + b.spec.name + filters, true) + "<h1>" +
                     html_escape(a.spec.name) + " <small>vs</small> " + html_escape(b.spec.name) +
                     (filters.empty() ? "" : " <small>" + html_escape(filters) + "</small>") + "</h1>\n<div class=\"pair\">\n";
  std::vector<std::string> notes;
  for (const auto& part : parts) {
    std::string note;
    html += "<div><h2>" + html_escape(part.state.spec.name) + "</h2>\n" + summary_html(part, request, note) + "</div>\n";
    if (!note.empty()) notes.push_back(part.state.spec.name + ": " + note);
  }
  html += "</div>\n<p class=\"note\">Each figure of " + html_escape(a.spec.name) + " is next to the same figure of " +
          html_escape(b.spec.name) + ". The curves of both share their axes and the heatmaps their colour scale, so that "
          "heights and colours compare by eye; each heatmap keeps its own cells.</p>\n";
  files.note = join(notes, "; ");

  // The figures by name (heatmap_batch_2 ...), in the order A draws them, then those only B has.
  std::vector<std::string> ids;
  for (const auto& part : parts) {
    for (const auto& figure : part.figures) {
      if (std::find(ids.begin(), ids.end(), figure_id(figure)) == ids.end()) ids.push_back(figure_id(figure));
    }
  }
  std::vector<std::pair<std::string, std::string>> contents;
  std::string body;
  int number = 0;
  for (const auto& id : ids) {
    std::vector<const Figure*> side;
    std::string heading;
    for (const auto& part : parts) {
      const Figure* found = nullptr;
      for (const auto& figure : part.figures) found = figure_id(figure) == id ? &figure : found;
      side.push_back(found);
      if (found && heading.empty() && !found->svg.empty()) heading = found->title;
    }
    if (heading.empty()) heading = side[0] ? side[0]->title : side[1]->title;
    heading = std::to_string(++number) + ". " + heading;
    contents.emplace_back(id, heading);
    body += "<section id=\"" + html_escape(id) + "\"><h2>" + html_escape(heading) + "</h2>\n<div class=\"pair\">\n";
    for (std::size_t i = 0; i < parts.size(); ++i) {
      const std::string name = parts[i].state.spec.name;
      if (!side[i]) {
        body += "<p class=\"missing\">" + html_escape(name) + ": no such figure</p>\n";
      } else if (side[i]->svg.empty()) {
        body += "<p class=\"missing\">" + html_escape(name) + ": not drawn: " + html_escape(side[i]->why_not) + "</p>\n";
        files.not_drawn.push_back(name + ": " + side[i]->title + ": " + side[i]->why_not);
      } else {
        body += "<figure><div class=\"side\">" + html_escape(name) + "</div>\n" + figure_html(*side[i]) + "</figure>\n";
        files.figures.push_back((folder / name / side[i]->file).string());
        if (request.pdf && side[i]->pdf_why_not.empty()) files.pdfs.push_back((folder / name / fs::path(side[i]->file).replace_extension(".pdf")).string());
        if (request.pdf && !side[i]->pdf_why_not.empty()) files.not_drawn.push_back(name + ": " + side[i]->title + " (PDF): " + side[i]->pdf_why_not);
      }
    }
    body += "</div></section>\n";
  }
  if (!parts[0].grids.empty() || !parts[1].grids.empty()) {  // the numbers behind the heatmaps, side by side
    contents.emplace_back("grids", "Tables: final train loss by grid cell");
    body += "<section id=\"grids\"><div class=\"pair\">\n";
    for (const auto& part : parts) {
      const std::string name = part.state.spec.name;
      body += "<div><div class=\"side\">" + html_escape(name) + "</div>\n" +
              (part.grids.empty() ? "<p class=\"missing\">no grid of batch size (or another number) by learning rate</p>\n"
                                  : grids_html(part, name + "-")) +
              "</div>\n";
    }
    body += "</div></section>\n";
  }
  for (const auto& part : parts) {
    const std::string name = part.state.spec.name;
    contents.emplace_back("trials-" + name, "Trials of " + name);
    body += "<section id=\"trials-" + html_escape(name) + "\"><h2>Trials of " + html_escape(name) + "</h2>\n" +
            trials_html(part) + "</section>\n";
  }
  html += contents_html(contents) + body + kSortScript + "</body></html>\n";
  files.html = (folder / "report.html").string();
  write_file_atomic(files.html, html);
  return files;
}

}  // namespace sweeplab
