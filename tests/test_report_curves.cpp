// The report's curves and fits: loss curves as small multiples (one panel per learning rate, batch size as colour),
// one configuration's seeds (--where), loss vs samples by temperature, and steps to target with the
// critical-batch-size fit only where the learning rate was tuned per batch size or scaled with it.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <regex>
#include <set>

#include "report_util.hpp"
#include "sweeplab/config/loader.hpp"
#include "sweeplab/core/text.hpp"
#include "sweeplab/report/report.hpp"
#include "test_util.hpp"

namespace sweeplab {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using testing::TempDir;
using testing::between;
using testing::count;
using testing::datablock;
using testing::expect_whole_svgs;

// ---- reading a figure's gnuplot script ----

// A script with its continued lines ("...,\\\n  ...") joined.
std::string joined(std::string script) {
  for (auto at = script.find("\\\n"); at != std::string::npos; at = script.find("\\\n", at)) script.erase(at, 2);
  return script;
}

struct PanelLines {
  std::string title;
  std::map<std::string, std::string> colours;  // datablock drawn as a line -> its colour
  std::string plot;                             // the plot command
};

// Each `plot` command of a script with the title set before it and the colour of each datablock it draws as a line.
std::vector<PanelLines> plots(const std::string& script) {
  std::vector<PanelLines> found;
  std::istringstream lines(joined(script));
  std::string title;
  const std::regex set_title("^set title \"(.*)\"$"), line("\\$(\\w+) using 1:2 with lines [^,]*lc rgb '(#[0-9a-f]{6})'");
  for (std::string text; std::getline(lines, text);) {
    std::smatch match;
    if (std::regex_match(text, match, set_title)) title = match[1];
    if (text.rfind("plot ", 0) != 0) continue;
    PanelLines panel{title, {}, text};
    for (std::sregex_iterator it(text.begin(), text.end(), line), end; it != end; ++it) panel.colours[(*it)[1]] = (*it)[2];
    found.push_back(panel);
  }
  return found;
}

// What the script's comments say each datablock holds: "# test3: bs=8 lr=0.1 (2 trials)" -> test3 -> "bs=8 lr=0.1".
std::map<std::string, std::string> block_labels(const std::string& script) {
  std::map<std::string, std::string> labels;
  const std::regex comment("# (\\w+): (.*) \\(\\d+ trials?\\)");
  for (std::sregex_iterator it(script.begin(), script.end(), comment), end; it != end; ++it) labels[(*it)[1]] = (*it)[2];
  return labels;
}

// "bs=8 lr=0.1" -> the value of "lr".
std::string label_value(const std::string& label, const std::string& name) {
  std::smatch match;
  const std::regex pattern("(^| )" + name + "=([^ ]+)");
  return std::regex_search(label, match, pattern) ? std::string(match[2]) : "";
}

// The number after `prefix` in `text` (nullopt when missing).
std::optional<double> number_after(const std::string& text, const std::string& prefix) {
  const auto at = text.find(prefix);
  if (at == std::string::npos) return std::nullopt;
  try {
    return std::stod(text.substr(at + prefix.size()));
  } catch (...) {
    return std::nullopt;
  }
}

std::string figure_caption(const std::string& html, const std::string& id) {
  return between(between(html, "<figure id=\"" + id + "\">", "</figure>"), "<figcaption>", "</figcaption>");
}

// The report of sweep "s" with only these plots (as `report s --plots ...`).
ReportFiles report(const TempDir& dir, const std::vector<std::string>& plots) {
  ReportRequest request;
  request.plots = plots;
  return write_report(load_sweep(dir.str("configs"), "s"), dir.str("experiments"), request);
}

const std::string kGrid =
    "task: {name: doughnuts, samples: 200}\noptimizer: {name: adam}\ntraining: {epochs: 2}\n"
    "sweep: {grid: {training.batch_size: [8, 16, 32], optimizer.lr: [0.01, 0.1]}, seeds: 2}\n";

TEST(LossCurves, ATwoDimensionalGridDrawsOnePanelPerLearningRateWithBatchSizeAsColour) {
  TempDir dir;
  dir.write("configs/s.yaml", kGrid);
  ASSERT_EQ(testing::run_in(dir, {"run", "s", "-q"}).code, 0);
  const auto result = testing::run_in(dir, {"report", "s"});
  ASSERT_EQ(result.code, 0) << result.err;
  const fs::path figures = dir.path() / "experiments/s/figures";
  const std::string html = testing::read_file(dir.path() / "experiments/s/report.html");
  for (const std::string name : {"loss_curves", "loss_curves_train"}) {
    SCOPED_TRACE(name);
    EXPECT_NE(html.find("<figure id=\"" + name + "\">"), std::string::npos);
    const std::string script = testing::read_file(figures / (name + ".gp"));
    const auto labels = block_labels(script);
    const auto drawn = plots(script);
    ASSERT_EQ(drawn.size(), 3u) << script;  // two panels and the legend
    ASSERT_EQ(count(script, "\nset multiplot"), 1u);  // one figure of panels
    std::map<std::string, std::string> colour_of_batch;
    std::set<std::string> lrs;
    for (std::size_t p = 0; p < 2; ++p) {
      const auto& panel = drawn[p];
      ASSERT_EQ(panel.title.rfind("\u03b7 = ", 0), 0u) << panel.title;  // eta
      const std::string lr = panel.title.substr(std::string("\u03b7 = ").size());
      lrs.insert(lr);
      std::set<std::string> batch_sizes;
      for (const auto& [block, colour] : panel.colours) {
        ASSERT_TRUE(labels.count(block)) << block;
        EXPECT_EQ(label_value(labels.at(block), "lr"), lr) << block;  // only this learning rate's trials
        const std::string batch = label_value(labels.at(block), "bs");
        batch_sizes.insert(batch);
        const auto [known, added] = colour_of_batch.emplace(batch, colour);
        EXPECT_EQ(known->second, colour) << "batch size " << batch << " changes colour between panels";
      }
      EXPECT_EQ(batch_sizes, (std::set<std::string>{"8", "16", "32"}));
      EXPECT_EQ(count(panel.plot, "with filledcurves"), 3u);  // two seeds: a band per line
    }
    EXPECT_EQ(lrs, (std::set<std::string>{"0.01", "0.1"}));
    std::set<std::string> colours;
    for (const auto& [batch, colour] : colour_of_batch) colours.insert(colour);
    EXPECT_EQ(colours.size(), 3u);
    // One legend for every panel, with the panels' colours.
    const std::string& legend = drawn[2].plot;
    EXPECT_EQ(drawn[2].colours.size(), 0u);  // it draws no data
    for (const auto& [batch, colour] : colour_of_batch) {
      EXPECT_NE(legend.find("lc rgb '" + colour + "' title \"" + batch + "\""), std::string::npos) << legend;
    }
    // Every panel on one y range, which holds every line.
    ASSERT_EQ(count(script, "set yrange [ylow:"), 1u) << script;
    const double low = *number_after(script, "ylow = "), high = *number_after(script, "set yrange [ylow:");
    for (const auto& [block, label] : labels) {
      for (const auto& row : datablock(script, block)) {
        EXPECT_GE(row[1], low) << block;
        EXPECT_LE(row[1], high) << block;
      }
    }
    const std::string svg = testing::read_file(figures / (name + ".svg"));
    EXPECT_EQ(count(svg, "<text>\u03b7 = 0.01</text>"), 1u);
    EXPECT_EQ(count(svg, "<text>\u03b7 = 0.1</text>"), 1u);
    EXPECT_EQ(count(svg, "<text>batch size B</text>"), 1u);
  }
  EXPECT_NE(figure_caption(html, "loss_curves").find("One panel per learning rate"), std::string::npos);
  EXPECT_NE(figure_caption(html, "loss_curves").find("train accuracy in the next figure"), std::string::npos);
  expect_whole_svgs(figures);
}

// A loss that explodes at one setting would flatten every other line of every panel: the shared axis stops below it,
// and its panel says which lines go above.
TEST(LossCurves, AnExplodingLossIsCutAtTheTopAndNamedInItsPanel) {
  TempDir dir;
  dir.write("configs/s.yaml", "task: {name: sine2, samples: 200}\nmodel: {hidden: [16]}\ntraining: {epochs: 3}\n"
                              "sweep: {grid: {training.batch_size: [8, 16], optimizer.lr: [0.01, 0.1]}}\n");
  ASSERT_EQ(testing::run_in(dir, {"run", "s", "-q"}).code, 0);
  const auto sweep = load_sweep(dir.str("configs"), "s");
  double exploded = INFINITY, others = 0;  // the smallest exploded test loss, the largest other one
  for (const auto& trial : sweep.trials) {
    const bool explodes = trial.config.expand().training.batch_size == 16 && trial.config.expand().optimizer.lr == 0.1;
    std::string lines;
    for (const auto& line : testing::metric_values(dir.path() / "experiments/s/trials" / trial.id)) {
      json record = json::parse(line);
      if (explodes) record["test_loss"] = record["test_loss"].get<double>() * 1e4;
      (explodes ? exploded : others) = explodes ? std::min(exploded, record["test_loss"].get<double>())
                                                : std::max(others, record["test_loss"].get<double>());
      lines += record.dump() + "\n";
    }
    dir.write("experiments/s/trials/" + trial.id + "/metrics.jsonl", lines);
  }
  const auto files = report(dir, {"loss_curves"});
  const std::string script = testing::read_file(dir.path() / "experiments/s/figures/loss_curves.gp");
  const double high = *number_after(script, "set yrange [ylow:");
  EXPECT_LT(high, exploded);
  EXPECT_GE(high, others);  // every other line fits
  ASSERT_EQ(count(script, "set label 2 "), 1u) << script;
  const auto drawn = plots(script);
  ASSERT_EQ(drawn.size(), 3u);
  EXPECT_EQ(drawn[1].title, "\u03b7 = 0.1");
  EXPECT_NE(between(script, "set title \"\u03b7 = 0.1\"", "\nplot ").find("\"above the axis: B 16\""), std::string::npos) << script;
  EXPECT_EQ(count(testing::read_file(dir.path() / "experiments/s/figures/loss_curves_train.gp"), "set label 2 "), 0u);
  EXPECT_NE(figure_caption(testing::read_file(files.html), "loss_curves").find("The loss axis stops at"), std::string::npos);
  EXPECT_EQ(figure_caption(testing::read_file(files.html), "loss_curves_train").find("The loss axis stops at"), std::string::npos);
}

// A samples budget (an online teacher: every trial stays in epoch 0) is drawn against samples seen, so the curves
// are curves, not a column of points at epoch 0; a pruned (skipped) setting says so.
TEST(LossCurves, ASamplesBudgetIsDrawnAgainstSamplesSeen) {
  TempDir dir;
  dir.write("configs/s.yaml", "task: {name: teacher, teacher: poly, features: 8, online: true, samples: 400}\n"
                              "model: {hidden: [16]}\noptimizer: {name: sgd}\n"
                              "training: {samples: 1024, eval_every: 256}\nstop: {divergence_loss: 1.0e+4}\n"
                              "sweep: {prune: above_divergence, grid: {training.batch_size: [8, 16], optimizer.lr: [0.001, 1.0e+3, 1.0e+4]}}\n");
  ASSERT_EQ(testing::run_in(dir, {"run", "s", "-q"}).code, 0);
  ASSERT_EQ(testing::run_in(dir, {"report", "s"}).code, 0);
  const std::string script = testing::read_file(dir.path() / "experiments/s/figures/loss_curves.gp");
  EXPECT_NE(script.find("set xlabel \"samples seen\""), std::string::npos) << script;
  EXPECT_EQ(script.find("set xlabel \"epoch\""), std::string::npos);
  // Batch size 8 at lr 0.001 (group 0): one point per evaluation, at the samples seen by then.
  const auto points = datablock(script, "test0");
  ASSERT_EQ(points.size(), 4u) << script;
  for (std::size_t i = 0; i < points.size(); ++i) EXPECT_EQ(points[i][0], 256.0 * double(i + 1));
  // lr 1e4 is skipped at both batch sizes once lr 1e3 diverged: its panel and the caption say so.
  EXPECT_NE(script.find("set label 1 \"skipped\""), std::string::npos) << script;
  // lr 1e3 diverged before its first evaluation: no line, but a cross at the top of its panel where it diverged
  // (the step in its summary times the batch size: samples seen).
  std::set<double> crosses;
  const std::regex cross("set label 1\\d '' at first ([0-9.e+]+), graph 0.97 point pt 2");
  for (std::sregex_iterator it(script.begin(), script.end(), cross), end; it != end; ++it) crosses.insert(std::stod((*it)[1]));
  std::set<double> expected;
  for (const auto& entry : fs::directory_iterator(dir.path() / "experiments/s/trials")) {
    const json summary = testing::read_json(entry.path() / "summary.json");
    if (summary["status"] != "diverged") continue;
    expected.insert(summary["diverged_at_step"].get<double>() * summary["swept"]["training.batch_size"].get<double>());
  }
  EXPECT_EQ(expected.size(), 2u);
  EXPECT_EQ(crosses, expected) << script;
  const std::string html = testing::read_file(dir.path() / "experiments/s/report.html");
  EXPECT_NE(html.find(": skipped (sweep.prune)."), std::string::npos);
}

// --x-axis lr_step: each point at the learning rate times its step (on a log axis), so that curves of different
// learning rates can be laid over each other; an unknown axis is one line and exit 2.
TEST(LossCurves, AgainstTheLearningRateTimesTheStep) {
  TempDir dir;
  dir.write("configs/s.yaml", kGrid);
  ASSERT_EQ(testing::run_in(dir, {"run", "s", "-q"}).code, 0);
  testing::expect_usage_error(dir, {"report", "s", "--x-axis", "lr_stp"}, {"--x-axis lr_stp: unknown axis", "did you mean 'lr_step'"});
  const auto result = testing::run_in(dir, {"report", "s", "--x-axis", "lr_step", "--plots", "loss_curves"});
  ASSERT_EQ(result.code, 0) << result.err;
  const std::string script =
      testing::read_file(dir.path() / "experiments/s/reports/plots-loss_curves+x-lr_step/figures/loss_curves.gp");
  EXPECT_NE(script.find("set logscale x\n"), std::string::npos) << script;
  EXPECT_NE(script.find("set xlabel \"\u03b7\u00b7step (learning rate \u00d7 step)\""), std::string::npos) << script;
  // Each block ends at its learning rate times the steps its trials took (every trial of a setting takes as many).
  std::map<std::string, double> steps;  // "bs=8 lr=0.01" -> final step
  const auto rows = testing::run_in(dir, {"export", "s", "--format", "jsonl"});
  std::istringstream lines(rows.out);
  for (std::string line; std::getline(lines, line);) {
    const json row = json::parse(line);
    steps["bs=" + std::to_string(row["batch_size"].get<int>()) + " lr=" + format_double(row["lr"].get<double>())] =
        row["steps"].get<double>();
  }
  std::size_t checked = 0;
  for (const auto& [block, label] : block_labels(script)) {
    if (block.rfind("test", 0) != 0) continue;
    const auto points = datablock(script, block);
    ASSERT_FALSE(points.empty()) << block;
    const double lr = std::stod(label_value(label, "lr"));
    EXPECT_NEAR(points.back()[0], lr * steps.at(label), 1e-9 * lr * steps.at(label)) << label;
    for (const auto& point : points) EXPECT_NEAR(point[0] / lr, std::round(point[0] / lr), 1e-6) << label;
    ++checked;
  }
  EXPECT_EQ(checked, 6u) << script;
}

TEST(LossVsSamples, HasAColourBarInTemperaturesAndNoKeyOfEveryLine) {
  TempDir dir;
  dir.write("configs/s.yaml", kGrid);
  ASSERT_EQ(testing::run_in(dir, {"run", "s", "-q"}).code, 0);
  report(dir, {"loss_vs_samples"});
  const std::string script = testing::read_file(dir.path() / "experiments/s/figures/loss_vs_samples.gp");
  EXPECT_NE(script.find("unset key"), std::string::npos);
  EXPECT_EQ(between(script, "\nplot ", "\n\n").find(" title \""), std::string::npos);  // no key entries: the colour bar says what a colour is
  // The colour bar's labels are the sweep's temperatures eta/B, written as themselves at their log2 position.
  std::set<double> temperatures;
  for (double lr : {0.01, 0.1}) {
    for (double batch : {8.0, 16.0, 32.0}) temperatures.insert(lr / batch);
  }
  const std::string tics = between(script, "set cbtics (", ")");
  const std::regex tic("\"([0-9.e-]+)\" (-?[0-9.e-]+)");
  std::set<double> labelled;
  for (std::sregex_iterator it(tics.begin(), tics.end(), tic), end; it != end; ++it) {
    const double shown = std::stod((*it)[1]), at = std::stod((*it)[2]);
    double nearest = 0;
    for (double t : temperatures) nearest = std::abs(std::log2(t) - at) < std::abs(std::log2(nearest) - at) || nearest == 0 ? t : nearest;
    EXPECT_NEAR(at, std::log2(nearest), 1e-9) << tics;
    EXPECT_NEAR(shown, nearest, 0.05 * nearest) << tics;
    labelled.insert(nearest);
  }
  EXPECT_EQ(labelled, temperatures) << tics;
  EXPECT_EQ(count(script, "lc palette cb"), 6u);
}

// `report --where lr=0.1 --where batch_size=16`: one configuration, its seeds one by one and their mean.
TEST(LossCurves, OneConfigurationDrawsEverySeedAndTheirMean) {
  TempDir dir;
  dir.write("configs/s.yaml", kGrid);
  ASSERT_EQ(testing::run_in(dir, {"run", "s", "-q"}).code, 0);
  const auto sweep = load_sweep(dir.str("configs"), "s");
  ReportRequest request;
  request.where = [](const CompactConfig& compact) {
    const Config config = compact.expand();
    return config.training.batch_size == 16 && config.optimizer.lr == 0.1;
  };
  request.where_text = "lr=0.1, batch_size=16";
  request.folder = dir.str("where");
  const auto files = write_report(sweep, dir.str("experiments"), request);
  const std::string html = testing::read_file(files.html);
  EXPECT_NE(html.find("Train and test accuracy vs epoch (where lr=0.1, batch_size=16)</h2>"), std::string::npos);
  const std::string script = testing::read_file(dir.path() / "where/figures/loss_curves.gp");
  EXPECT_NE(script.find("set multiplot title \"where lr=0.1, batch_size=16\""), std::string::npos) << script;
  EXPECT_NE(testing::read_file(dir.path() / "where/figures/loss_curves.svg").find("<text>where lr=0.1, batch_size=16</text>"),
            std::string::npos);
  // The two seeds' own curves, as their metrics.jsonl has them, and the mean over them.
  std::vector<std::vector<json>> seeds;
  for (const auto& trial : sweep.trials) {
    if (trial.config.expand().training.batch_size != 16 || trial.config.expand().optimizer.lr != 0.1) continue;
    std::vector<json> records;
    for (const auto& line : testing::metric_values(dir.path() / "experiments/s/trials" / trial.id)) records.push_back(json::parse(line));
    seeds.push_back(records);
  }
  ASSERT_EQ(seeds.size(), 2u);
  for (const std::string metric : {"train_acc", "test_acc"}) {
    const std::string block = metric == "train_acc" ? "train0" : "test0";
    const auto mean = datablock(script, block);
    ASSERT_EQ(mean.size(), 2u) << metric;
    for (std::size_t s = 0; s < 2; ++s) {
      const auto seed = datablock(script, block + "_seed" + std::to_string(s));
      ASSERT_EQ(seed.size(), 2u) << metric;
      for (std::size_t i = 0; i < 2; ++i) EXPECT_EQ(seed[i][1], seeds[s][i][metric].get<double>()) << metric;
    }
    for (std::size_t i = 0; i < 2; ++i) {
      EXPECT_NEAR(mean[i][1], (seeds[0][i][metric].get<double>() + seeds[1][i][metric].get<double>()) / 2, 1e-12) << metric;
    }
  }
  const auto drawn = plots(script);
  ASSERT_EQ(drawn.size(), 3u);  // train, test, the legend
  EXPECT_EQ(count(joined(script), "_seed0 using 1:2 with lines lw 1 "), 2u);
  EXPECT_NE(drawn[2].plot.find("title 'each seed'"), std::string::npos);
  EXPECT_NE(drawn[2].plot.find("title 'their mean'"), std::string::npos);
  EXPECT_NE(figure_caption(html, "loss_curves").find("Each seed (2 seeds) as a thin line"), std::string::npos) << html;
  EXPECT_EQ(script.find("$test1"), std::string::npos);  // no other configuration
  expect_whole_svgs(dir.path() / "where/figures");
}

// Many seeds of one configuration: the first 30 are drawn one by one (more would be a solid band, and slow to draw),
// and the mean is over all of them.
TEST(LossCurves, ManySeedsOfOneConfigurationDrawTheFirstThirtyAndTheMeanOfAll) {
  TempDir dir;
  dir.write("configs/m.yaml", "task: {samples: 40}\ntraining: {epochs: 1, batch_size: 8}\nsweep: {seeds: 32}\n");
  ASSERT_EQ(testing::run_in(dir, {"run", "m", "-q"}).code, 0);
  ASSERT_EQ(testing::run_in(dir, {"report", "m", "--plots", "loss_curves"}).code, 0);
  const std::string script = testing::read_file(dir.path() / "experiments/m/reports/plots-loss_curves/figures/loss_curves.gp");
  EXPECT_FALSE(datablock(script, "test0_seed29").empty());
  EXPECT_TRUE(datablock(script, "test0_seed30").empty());
  EXPECT_NE(script.find("# test0: "), std::string::npos);
  EXPECT_NE(script.find(" (32 trials)\n"), std::string::npos) << script;
  const std::string html = testing::read_file(dir.path() / "experiments/m/reports/plots-loss_curves/report.html");
  EXPECT_NE(figure_caption(html, "loss_curves").find("The first 30 of the seeds (32 seeds) as thin lines, and the mean over all"),
            std::string::npos) << figure_caption(html, "loss_curves");
}

// ---- steps to target ----

// Writes each trial's first target as `steps(config)` says (nullopt: not reached), as the trainer would.
void set_steps_to_target(const TempDir& dir, const std::string& target,
                         const std::function<std::optional<std::int64_t>(const Config&)>& steps) {
  const auto sweep = load_sweep(dir.str("configs"), "s");
  for (const auto& trial : sweep.trials) {
    const fs::path file = dir.path() / "experiments/s/trials" / trial.id / "summary.json";
    json summary = testing::read_json(file);
    const auto step = steps(trial.config.expand());
    summary["targets"] = json::array();
    if (step) {
      summary["targets"].push_back({{"target", target}, {"reached", true}, {"step", *step},
                                    {"samples", *step * trial.config.expand().training.batch_size}, {"epoch", 1}});
    } else {
      summary["targets"].push_back({{"target", target}, {"reached", false}});
    }
    dir.write("experiments/s/trials/" + trial.id + "/summary.json", summary.dump(2));
  }
  testing::files_changed_by_hand(dir, "s");
}

// S(B) = 100 (1 + 32 / B): S_min 100, B_noise 32; seeds 0, 1, 2 at 0.94, 1 and 1.06 of it, so that their mean is exact.
std::int64_t known_steps(const Config& config) {
  const double factor[] = {0.94, 1.0, 1.06};
  return std::llround(100 * (1 + 32.0 / double(config.training.batch_size)) * factor[config.training.seed % 3]);
}

const std::string kTarget = "train_loss <= 100";

std::string tuned_sweep(const std::string& batch_sizes, const std::string& seeds) {
  return "task: {name: doughnuts, samples: 200}\noptimizer: {name: adam}\ntraining: {epochs: 1}\ntargets: ['" + kTarget +
         "']\nsweep: {grid: {training.batch_size: " + batch_sizes + ", optimizer.lr: [0.01, 0.1, 0.3]}" + seeds + "}\n";
}

TEST(StepsToTarget, ALearningRateTunedPerBatchSizeGetsTheFitWithABandFromTheSeeds) {
  TempDir dir;
  dir.write("configs/s.yaml", tuned_sweep("[8, 16, 32, 64]", ", seeds: 3"));
  ASSERT_EQ(testing::run_in(dir, {"run", "s", "-q"}).code, 0);
  // lr 0.1 is the best at every batch size; 0.01 takes twice as many steps; 0.3 never gets there.
  set_steps_to_target(dir, kTarget, [](const Config& config) -> std::optional<std::int64_t> {
    if (config.optimizer.lr == 0.3) return std::nullopt;
    return known_steps(config) * (config.optimizer.lr == 0.01 ? 2 : 1);
  });
  report(dir, {"steps_to_target"});
  const std::string html = testing::read_file(dir.path() / "experiments/s/report.html");
  const std::string script = testing::read_file(dir.path() / "experiments/s/figures/steps_to_target.gp");
  const auto points = datablock(script, "points");
  ASSERT_EQ(points.size(), 4u) << script;
  for (const auto& row : points) {
    EXPECT_EQ(row[5], 0.1);  // the learning rate chosen
    EXPECT_EQ(row[6], 3);    // seeds that reached it
    EXPECT_EQ(row[7], 3);    // seeds
    EXPECT_NEAR(row[1], 100 * (1 + 32 / row[0]), 0.5);
  }
  EXPECT_EQ(datablock(script, "tried").size(), 4u);  // lr 0.01, in grey
  const auto fit = datablock(script, "fit"), band = datablock(script, "band");
  ASSERT_FALSE(fit.empty());
  ASSERT_EQ(band.size(), fit.size());
  for (std::size_t i = 0; i < fit.size(); ++i) {
    EXPECT_NEAR(fit[i][1], 100 * (1 + 32 / fit[i][0]), 1e-3 * fit[i][1]);
    EXPECT_EQ(band[i][0], fit[i][0]);
    EXPECT_LT(band[i][1], band[i][2]);  // lower < upper: the seeds differ
    EXPECT_LE(band[i][1], fit[i][1] * 1.001);
    EXPECT_GE(band[i][2], fit[i][1] * 0.999);
  }
  EXPECT_NE(script.find("$band using 1:2:3 with filledcurves"), std::string::npos);
  const std::string caption = figure_caption(html, "steps_to_target");
  const auto b_noise = number_after(caption, "B_noise \u2248 ");
  ASSERT_TRUE(b_noise) << caption;
  EXPECT_NEAR(*b_noise, 32, 0.5);
  const auto low = number_after(caption, "percentile "), high = number_after(caption, "\u2013");
  ASSERT_TRUE(low && high) << caption;
  EXPECT_LT(*low, *b_noise);
  EXPECT_GT(*high, *b_noise);
  EXPECT_NE(caption.find("tuned per batch size"), std::string::npos) << caption;
  EXPECT_NE(caption.find("B=8: 3 of 3 (learning rate 0.1)"), std::string::npos) << caption;
  EXPECT_EQ(caption.find("Tuning not done"), std::string::npos) << caption;
  EXPECT_EQ(caption.find("No band"), std::string::npos) << caption;
  expect_whole_svgs(dir.path() / "experiments/s/figures");

  // Now lr 0.3, the largest swept, is the best at batch size 64: the tuning is not done there, and the caption says so.
  set_steps_to_target(dir, kTarget, [](const Config& config) -> std::optional<std::int64_t> {
    if (config.optimizer.lr == 0.3) return config.training.batch_size == 64 ? std::optional<std::int64_t>(100) : std::nullopt;
    return known_steps(config) * (config.optimizer.lr == 0.01 ? 2 : 1);
  });
  report(dir, {"steps_to_target"});
  const std::string edge = figure_caption(testing::read_file(dir.path() / "experiments/s/report.html"), "steps_to_target");
  EXPECT_NE(edge.find("Tuning not done"), std::string::npos) << edge;
  EXPECT_NE(edge.find("B=64 (the largest, 0.3)"), std::string::npos) << edge;
  EXPECT_EQ(edge.find("B=8 ("), std::string::npos) << edge;  // the others are inside the range
  EXPECT_NE(testing::read_file(dir.path() / "experiments/s/figures/steps_to_target.svg")
                .find("tuning not done: the best learning rate is at the edge of the swept range for 1 batch size</text>"),
            std::string::npos);
  // Its best point at B=64 bends the fit: B_noise comes out near 85, beyond the largest batch size, and the figure
  // says the sweep does not resolve it rather than draw a curve.
  EXPECT_NE(edge.find("No fit drawn: B_noise &gt; 64, not resolved by this sweep"), std::string::npos) << edge;
  EXPECT_TRUE(datablock(testing::read_file(dir.path() / "experiments/s/figures/steps_to_target.gp"), "fit").empty());
}

TEST(StepsToTarget, AtAFixedLearningRateDrawsThePointsButNoFitAndSaysWhy) {
  TempDir dir;
  // Every trial reaches a train loss of 100 at its first evaluation: the points are real, the learning rate is 0.01.
  dir.write("configs/s.yaml", "task: {name: doughnuts, samples: 200}\noptimizer: {name: adam, lr: 0.01}\ntraining: {epochs: 2}\n"
                              "targets: ['" + kTarget + "']\nsweep: {grid: {training.batch_size: [8, 16, 32]}, seeds: 2}\n");
  ASSERT_EQ(testing::run_in(dir, {"run", "s", "-q"}).code, 0);
  ASSERT_EQ(testing::run_in(dir, {"report", "s"}).code, 0);
  const std::string html = testing::read_file(dir.path() / "experiments/s/report.html");
  const fs::path figures = dir.path() / "experiments/s/figures";
  const std::string script = testing::read_file(figures / "steps_to_target.gp");
  EXPECT_EQ(datablock(script, "points").size(), 3u);
  EXPECT_EQ(script.find("$fit"), std::string::npos);
  EXPECT_EQ(script.find("$band"), std::string::npos);
  const std::string caption = figure_caption(html, "steps_to_target");
  EXPECT_NE(caption.find("No critical-batch-size fit: the learning rate is the same 0.01 for every batch size"),
            std::string::npos) << caption;
  EXPECT_NE(caption.find("would mislead"), std::string::npos);
  EXPECT_EQ(caption.find("B_noise \u2248"), std::string::npos);
  EXPECT_NE(caption.find("B=16: 2 of 2"), std::string::npos) << caption;
  EXPECT_NE(testing::read_file(figures / "steps_to_target.svg").find("<text>no fit: the learning rate is fixed at 0.01</text>"),
            std::string::npos);
}

TEST(StepsToTarget, WithOneSeedPerBatchSizeFitsButSaysThereIsNoBand) {
  TempDir dir;
  dir.write("configs/s.yaml", tuned_sweep("[8, 16, 32, 64]", ""));
  ASSERT_EQ(testing::run_in(dir, {"run", "s", "-q"}).code, 0);
  set_steps_to_target(dir, kTarget, [](const Config& config) -> std::optional<std::int64_t> {
    if (config.optimizer.lr == 0.3) return std::nullopt;
    return known_steps(config) * (config.optimizer.lr == 0.01 ? 2 : 1);  // seed 0: 0.94 of S(B) everywhere
  });
  report(dir, {"steps_to_target"});
  const std::string script = testing::read_file(dir.path() / "experiments/s/figures/steps_to_target.gp");
  EXPECT_FALSE(datablock(script, "fit").empty());
  EXPECT_EQ(script.find("$band"), std::string::npos);
  const std::string caption = figure_caption(testing::read_file(dir.path() / "experiments/s/report.html"), "steps_to_target");
  EXPECT_NE(caption.find("No band: one seed per batch size reached the target"), std::string::npos) << caption;
  EXPECT_NEAR(*number_after(caption, "B_noise \u2248 "), 32, 0.5) << caption;
  EXPECT_EQ(caption.find("percentile"), std::string::npos) << caption;
  EXPECT_EQ(caption.find("standard error"), std::string::npos) << caption;  // one trial per point
}

TEST(StepsToTarget, TwoBatchSizesAreTooFewForATwoParameterFit) {
  TempDir dir;
  dir.write("configs/s.yaml", tuned_sweep("[8, 16]", ", seeds: 2"));
  ASSERT_EQ(testing::run_in(dir, {"run", "s", "-q"}).code, 0);
  set_steps_to_target(dir, kTarget, [](const Config& config) -> std::optional<std::int64_t> {
    return known_steps(config) * (config.optimizer.lr == 0.1 ? 1 : 2);
  });
  report(dir, {"steps_to_target"});
  const std::string script = testing::read_file(dir.path() / "experiments/s/figures/steps_to_target.gp");
  EXPECT_EQ(datablock(script, "points").size(), 2u);
  EXPECT_EQ(script.find("$fit"), std::string::npos);
  const std::string caption = figure_caption(testing::read_file(dir.path() / "experiments/s/report.html"), "steps_to_target");
  EXPECT_NE(caption.find("only 2 batch sizes reached the target"), std::string::npos) << caption;
  EXPECT_NE(caption.find("at least 3"), std::string::npos) << caption;
}

TEST(StepsToTarget, ALearningRateScaledWithBatchSizeGetsTheFit) {
  TempDir dir;
  // optimizer.temperature: the learning rate is 0.001 x B, so it grows with the batch size.
  dir.write("configs/s.yaml", "task: {name: doughnuts, samples: 200}\noptimizer: {name: adam, temperature: 0.001}\n"
                              "training: {epochs: 1}\ntargets: ['" + kTarget + "']\n"
                              "sweep: {grid: {training.batch_size: [8, 16, 32]}, seeds: 3}\n");
  ASSERT_EQ(testing::run_in(dir, {"run", "s", "-q"}).code, 0);
  set_steps_to_target(dir, kTarget, [](const Config& config) -> std::optional<std::int64_t> { return known_steps(config); });
  report(dir, {"steps_to_target"});
  const std::string script = testing::read_file(dir.path() / "experiments/s/figures/steps_to_target.gp");
  EXPECT_FALSE(datablock(script, "fit").empty());
  EXPECT_FALSE(datablock(script, "band").empty());
  const std::string caption = figure_caption(testing::read_file(dir.path() / "experiments/s/report.html"), "steps_to_target");
  EXPECT_NE(caption.find("The learning rate scales with batch size (optimizer.temperature 0.001"), std::string::npos) << caption;
  EXPECT_NEAR(*number_after(caption, "B_noise \u2248 "), 32, 0.5) << caption;
}

// The gradient noise scale: noise_scale draws each batch size's B_simple at its best learning rate, the mean over its
// seeds of what metrics.jsonl holds; steps_to_target gives the B_simple measured where the chosen seeds reached the
// target, the median of those evaluations' values.
TEST(NoiseScalePlot, DrawsEachBatchSizesMeasuredValuesAndStepsToTargetGivesTheirMedian) {
  TempDir dir;
  dir.write("configs/s.yaml", tuned_sweep("[8, 16, 32]", ", seeds: 2") + "metrics: {noise_scale: true}\n");
  ASSERT_EQ(testing::run_in(dir, {"run", "s", "-q"}).code, 0);
  const auto sweep = load_sweep(dir.str("configs"), "s");
  // Each trial's last evaluation (its only one: one epoch), and which lr ends lowest per batch size.
  std::map<std::int64_t, std::map<double, std::vector<json>>> last;  // batch size -> lr -> the seeds' last records
  for (const auto& trial : sweep.trials) {
    const auto config = trial.config.expand();
    std::ifstream in(dir.path() / "experiments/s/trials" / trial.id / "metrics.jsonl");
    json record;
    for (std::string line; std::getline(in, line);) record = json::parse(line);
    last[config.training.batch_size][config.optimizer.lr].push_back(record);
  }
  std::vector<double> at_target;
  std::map<std::int64_t, double> expected;  // batch size -> mean B_simple of the best lr's seeds
  std::map<std::int64_t, double> best_lrs;
  for (const auto& [batch, by_lr] : last) {
    double best_loss = INFINITY, best_lr = 0;
    for (const auto& [lr, records] : by_lr) {
      double loss = 0;
      for (const auto& r : records) loss += r["train_loss"].is_number() ? r["train_loss"].get<double>() : INFINITY;
      if (loss / double(records.size()) < best_loss) best_loss = loss / double(records.size()), best_lr = lr;
    }
    double sum = 0;
    for (const auto& r : by_lr.at(best_lr)) {
      ASSERT_TRUE(r.contains("noise_scale")) << r.dump();
      sum += r["noise_scale"].get<double>();
      at_target.push_back(r["noise_scale"].get<double>());
    }
    expected[batch] = sum / double(by_lr.at(best_lr).size());
    best_lrs[batch] = best_lr;
  }
  report(dir, {"noise_scale"});
  const std::string script = testing::read_file(dir.path() / "experiments/s/figures/noise_scale.gp");
  for (const auto& [batch, value] : expected) {
    const auto rows = datablock(script, "b" + std::to_string(batch));
    ASSERT_EQ(rows.size(), 1u) << script;
    EXPECT_NEAR(rows[0][1], value, 1e-9 * value) << "B = " << batch;
  }
  expect_whole_svgs(dir.path() / "experiments/s/figures");

  // The best lr's seeds reach the target at their one evaluation, the others never: the caption gives the median of
  // their B_simple.
  set_steps_to_target(dir, kTarget, [&](const Config& config) -> std::optional<std::int64_t> {
    if (config.optimizer.lr != best_lrs.at(config.training.batch_size)) return std::nullopt;
    const auto& records = last.at(config.training.batch_size).at(config.optimizer.lr);
    return records.front()["step"].get<std::int64_t>();
  });
  report(dir, {"steps_to_target"});
  const std::string caption = figure_caption(testing::read_file(dir.path() / "experiments/s/report.html"), "steps_to_target");
  const auto measured = number_after(caption, "B_simple \u2248 ");
  ASSERT_TRUE(measured) << caption;
  std::sort(at_target.begin(), at_target.end());
  const double median = at_target.size() % 2 ? at_target[at_target.size() / 2]
                                              : (at_target[at_target.size() / 2 - 1] + at_target[at_target.size() / 2]) / 2;
  EXPECT_NEAR(*measured, median, 0.005 * median) << caption;
  EXPECT_NE(caption.find("(median of " + std::to_string(at_target.size()) + ","), std::string::npos) << caption;
}

}  // namespace
}  // namespace sweeplab
