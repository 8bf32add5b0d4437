#pragma once
// Inside the report: what its figures share (the trials grouped by seed and by grid cell, curves averaged over
// seeds, gnuplot helpers, drawing a script into an SVG) and the plot registry's entries. Internal to src/report.
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "sweeplab/config/loader.hpp"
#include "sweeplab/report/report.hpp"
#include "sweeplab/store/sweep_state.hpp"

namespace sweeplab::report_detail {

std::string html_escape(const std::string& text);
// A gnuplot string in double quotes, safe for any text: quotes, backslashes and backquotes (which gnuplot would run
// as a shell command) escaped, control characters (a newline would end the command) as spaces.
std::string gp_quote(const std::string& text);
// Text for a "# ..." comment line of a script: control characters as spaces, so that it stays one comment line.
std::string gp_comment(const std::string& text);
std::string num(double value);                  // shortest text that reads back; NaN when not finite
std::string status_counts(const std::map<std::string, int>& statuses);  // "2 completed, 1 pending"
bool swept(const SweepSpec& spec, const std::string& key, std::size_t at_least = 2);
double as_number(const Value& value);
bool is_number(const Value& value);

// How a paper writes a swept key: "B" (training.batch_size), "η" (optimizer.lr), "η/B" (optimizer.temperature),
// "γ" (model.gamma); any other key as trial ids name it ("param", "task").
std::string symbol_of(const std::string& key);
// An axis's title: "batch size B", "learning rate η", "temperature η/B", "γ (model.gamma)"; any other key as itself.
std::string axis_title(const std::string& key);

// A number as a tick label: an integer as such (1024), 0.001 to 9999 in plain decimals (0.003, 0.25, 12.5),
// anything else as mantissa e exponent (1e-4, 3e-4, 1.25e-5, 2e6), with at most 4 significant digits;
// `exponent_form`: always the mantissa e exponent form (an axis whose other labels need it).
std::string tick_label(double value, bool exponent_form = false);
// The labels of one axis in one format: plain (256, 0.003) when every value reads so, else every one as mantissa e
// exponent (1e-3 beside 1e-4, not 0.001 beside 1e-4).
std::vector<std::string> tick_labels(const std::vector<double>& values);

// A colour of a qualitative palette (Okabe and Ito's, told apart with any colour vision) for the i-th value of a
// key whose values have no order (task.name, model.parameterization); it repeats after 8.
std::string category_colour(std::size_t i);

// ---- the data behind the figures ----

struct Group {  // trials that differ only in their seed
  std::string label;
  std::map<std::string, Value> values;  // swept key -> value (seed excluded)
  std::vector<const TrialState*> trials;
};
std::vector<Group> seed_groups(const SweepSpec& spec, const std::vector<TrialState>& results);
bool several_seeds(const std::vector<Group>& groups);
// Notes for a caption on the trials drawn that are not completed.
std::string drawn_notes(const std::vector<Group>& groups);

struct CurvePoint {
  double x = 0, mean = 0, stderr_ = 0;
};
// What curves are drawn against; LrStep: the learning rate times the step (η·step), on which curves of different
// learning rates fall together while the rate sets the pace (batch_size_studies' view).
enum class XAxis { Epoch, Step, Samples, LrStep };
// Mean and standard error of a metric over a group's seeds, at each x where one of them has a record:
// a seed that diverged or is still running counts up to its last record. Records whose loss is not
// finite (a diverged trial's record at the step it diverged) are not drawn.
std::vector<CurvePoint> mean_curve(const Group& group, const std::string& metric, XAxis x_axis);
// A gnuplot datablock $NAME of x, mean, stderr rows.
std::string datablock(const std::string& name, const std::vector<CurvePoint>& points);
// Tics for a log axis over [low, high] that spans too little for gnuplot's decades alone: "(0.2, 0.5, 1, 2)"
// (1-2-5 or finer, at least 4 of them); "" when the decades are enough.
std::string log_tics(double low, double high);

// The trials of one (x, learning rate) cell of the grid.
struct GridCell {
  std::vector<double> losses;            // final train losses of the completed trials
  // ... and their final accuracies, for those whose last evaluation has one (classification)
  std::vector<double> test_accs, train_accs;
  std::vector<double> optimal_shares;  // doublegoal: the final greedy_optimal_fraction
  std::vector<double> last_batch_losses;  // the last minibatch's loss, for those whose last evaluation has it
  int diverged = 0, trials = 0;
  std::vector<std::int64_t> diverged_at;  // the step each diverged trial diverged at, where its summary says
  std::map<std::string, int> others;     // trials without a result, by status (failed, skipped, pending, ...)
};

// One heatmap's cells: x (the batch size, or another swept number such as model.gamma) by learning rate (or by
// the temperature eta/B where the sweep varies that, each trial's learning rate being derived from it), for the
// trials of one facet (one value of each other swept key, e.g. model.parameterization=sp).
struct Grid {
  std::string facet;      // "" when no other key is swept, else "parameterization=sp"
  std::string x_key;      // training.batch_size, or the swept key on the x axis
  std::string y_key = "optimizer.lr";  // or optimizer.temperature
  std::vector<double> xs;   // ascending
  std::vector<double> lrs;  // ascending: the y axis's values (learning rates, or temperatures)
  std::map<std::pair<double, double>, GridCell> cells;  // by (x, y)

  std::string x_name() const { return x_key == "training.batch_size" ? "batch size" : axis_title(x_key); }
  std::string y_name() const { return by_temperature() ? "temperature η/B" : "learning rate"; }
  bool by_batch_size() const { return x_key == "training.batch_size"; }
  bool by_temperature() const { return y_key == "optimizer.temperature"; }
};
// The grids of a sweep, one per facet (the values of the swept keys that are on neither axis), each with every x
// and learning rate of the axes (the current config's and those of the trials on disk), finished or not.
std::vector<Grid> make_grids(const SweepSpec& spec, const std::vector<TrialState>& results);
// What a cell holds besides its completed trials' losses: "1 diverged, 2 pending".
std::string cell_notes(const GridCell& cell);

struct ReportData;
// The groups split by the swept keys besides the batch size, the learning rate, the temperature and the seed (SP or
// muP, which must not share a panel): each facet's name ("param=sp", "" when there is no such key) and its groups.
std::vector<std::pair<std::string, std::vector<std::size_t>>> facets_of(const ReportData& data);

// ---- figures ----

struct Figure {
  std::string file;    // NAME.svg in the figures folder
  std::string title;
  std::string script;  // what gnuplot draws it from (data inline)
  std::string svg;     // empty: not drawn
  std::string why_not;
  std::string caption;
  int width = 960, height = 420;  // of the SVG, in pixels
  std::string pdf_why_not{};      // asked for a PDF too: why it is missing ("" when drawn, or not asked for)
};

// Draws a figure from its script into dir/NAME.svg, and keeps the script as dir/NAME.gp (`gnuplot NAME.gp
// > NAME.svg` draws it again). gnuplot writes to a temporary that is renamed only once the SVG is whole;
// a figure that is not drawn (no data, or gnuplot failed) has neither file, and says why.
// `pdf`: NAME.pdf beside it too, drawn from the same script through gnuplot's pdfcairo terminal (a paper's figure);
// else an older NAME.pdf is removed, so that none is left that does not match the SVG.
void draw(Figure& figure, const std::filesystem::path& dir, bool pdf = false);

// What every plot draws from: the sweep (the trials on disk, as run, and the current config's others), its
// trials (only those --where keeps), and those grouped by seed and by grid cell.
struct ReportData {
  const SweepSpec& spec;
  const std::vector<TrialState>& results;
  std::vector<Group> groups;
  std::vector<Grid> grids;
  std::string where;  // the --where filters as given ("lr=0.1, batch_size=64"); "" for every trial
  std::string colour_by = "";  // heatmaps: "" (accuracy, else the mean train loss) or "last_batch_loss"
  std::string x_axis = "";     // curves: "" (the budget's unit), "epoch", "step", "samples" or "lr_step"
  // `report A B`: the other sweep's groups and grids, so that both draw on the same axes (curves) and colour scale
  // (heatmaps); null for a report of one sweep.
  const std::vector<Group>* other_groups = nullptr;
  const std::vector<Grid>* other_grids = nullptr;
};

// The plots (plots.cpp holds the registry that names them). Each returns its figures, drawn or with why_not.
std::vector<Figure> loss_curves(const ReportData& data);           // plot_curves.cpp
std::vector<Figure> loss_vs_samples(const ReportData& data);       // plot_curves.cpp
std::vector<Figure> heatmap_batch(const ReportData& data);         // plot_heatmaps.cpp
std::vector<Figure> heatmap_temperature(const ReportData& data);   // plot_heatmaps.cpp
std::vector<Figure> steps_to_target(const ReportData& data);       // plot_target.cpp
std::vector<Figure> noise_scale(const ReportData& data);           // plot_noise.cpp

struct PlotKind {
  PlotInfo info;
  std::vector<Figure> (*figures)(const ReportData& data);
};
const std::vector<PlotKind>& plot_registry();

}  // namespace sweeplab::report_detail
