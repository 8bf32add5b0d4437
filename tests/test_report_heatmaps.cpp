// The heatmaps: axes in the user's units, a sequential colour scale with a stated range, marks for
// trials without a value (diverged with its step, failed, skipped, not run) and eta/B in bins. Each test runs a
// real small sweep and reads the figure's script (its datablocks) and the SVG gnuplot drew from it.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>

#include "report_util.hpp"
#include "sweeplab/store/lock.hpp"
#include "sweeplab/store/trial_index.hpp"
#include "test_util.hpp"

namespace sweeplab {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using testing::TempDir;
using testing::between;
using testing::count;
using testing::datablock;

// `folder`: the report's, under experiments/s ("" for the plain report, "reports/pending" for report --pending).
std::string figure(const TempDir& dir, const std::string& file, const std::string& folder = "") {
  return testing::read_file(dir.path() / "experiments/s" / folder / "figures" / file);
}

// The tics an axis is given ("set xtics ("2" 1.0, "4" 2.0)"): label -> position.
std::map<std::string, double> tics(const std::string& script, const std::string& axis) {
  std::map<std::string, double> out;
  const std::string list = between(script, "set " + axis + "tics (", ")\n");
  const std::regex part("\"([^\"]*)\" ([^,)]+)");
  for (auto it = std::sregex_iterator(list.begin(), list.end(), part); it != std::sregex_iterator(); ++it) {
    out[(*it)[1]] = std::stod((*it)[2]);
  }
  return out;
}

// Every text element of an SVG, as drawn.
std::multiset<std::string> texts(const std::string& svg) {
  std::multiset<std::string> out;
  const std::regex text("<text[^>]*>([^<]*)</text>");
  for (auto it = std::sregex_iterator(svg.begin(), svg.end(), text); it != std::sregex_iterator(); ++it) out.insert((*it)[1]);
  return out;
}

// export --format jsonl: one row per trial.
std::vector<json> trials(const TempDir& dir, const std::vector<std::string>& extra = {}) {
  std::vector<std::string> args = {"export", "s", "--format", "jsonl"};
  args.insert(args.end(), extra.begin(), extra.end());
  const auto result = testing::run_in(dir, args);
  EXPECT_EQ(result.code, 0) << result.err;
  std::vector<json> rows;
  std::istringstream in(result.out);
  for (std::string line; std::getline(in, line);) rows.push_back(json::parse(line));
  return rows;
}

// The position of a trial's cell: the tics of its batch size and learning rate, found by the values they read as.
struct Place {
  std::map<std::string, double> x, y;
  static double tic(const std::map<std::string, double>& tics, double value) {
    for (const auto& [label, at] : tics) {
      if (std::fabs(std::stod(label) - value) <= 1e-12 * std::fabs(value)) return at;
    }
    ADD_FAILURE() << "no tic reads " << value;
    return NAN;
  }
  std::pair<double, double> of(const json& trial) const {
    return {tic(x, trial["batch_size"].get<double>()), tic(y, trial["lr"].get<double>())};
  }
};

// The rows of a block at (x, y).
std::vector<std::vector<double>> rows_at(const std::vector<std::vector<double>>& block, std::pair<double, double> at) {
  std::vector<std::vector<double>> out;
  for (const auto& row : block) {
    if (std::fabs(row[0] - at.first) < 1e-9 && std::fabs(row[1] - at.second) < 1e-9) out.push_back(row);
  }
  return out;
}

// The relative luminance of '#rrggbb'.
double luminance(const std::string& hex) {
  const auto channel = [&hex](int at) {
    const double c = std::stoi(hex.substr(at, 2), nullptr, 16) / 255.0;
    return c <= 0.04045 ? c / 12.92 : std::pow((c + 0.055) / 1.055, 2.4);
  };
  return 0.2126 * channel(1) + 0.7152 * channel(3) + 0.0722 * channel(5);
}

std::string html_of(const TempDir& dir, const std::string& folder = "") {
  return testing::read_file(dir.path() / "experiments/s" / folder / "report.html");
}

std::string caption(const std::string& html, const std::string& id) {
  return between(between(html, "<figure id=\"" + id + "\">", "</figure>"), "<figcaption>", "</figcaption>");
}

// Batch sizes and learning rates are written as the user wrote them, at the centres of their cells; accuracy is
// coloured on a fixed 0-1 scale by a palette whose lightness rises monotonically and which has no white.
TEST(Heatmaps, AxesAreInTheUsersUnitsAndAccuracyHasAFixedRange) {
  TempDir dir;
  dir.write("configs/s.yaml", "task: {name: doughnuts, samples: 2000}\noptimizer: {name: adam}\ntraining: {epochs: 1}\n"
                              "sweep: {grid: {training.batch_size: [256, 1024], optimizer.lr: [0.0001, 0.0003, 0.001]}}\n");
  ASSERT_EQ(testing::run_in(dir, {"run", "s", "-q"}).code, 0);
  const auto result = testing::run_in(dir, {"report", "s"});
  ASSERT_EQ(result.code, 0) << result.err;
  const std::string script = figure(dir, "heatmap_batch.gp"), svg = figure(dir, "heatmap_batch.svg");
  const auto x = tics(script, "x"), y = tics(script, "y");
  EXPECT_EQ(x, (std::map<std::string, double>{{"256", 8.0}, {"1024", 10.0}})) << script;
  ASSERT_EQ(y.size(), 3u) << script;
  EXPECT_DOUBLE_EQ(y.at("1e-4"), std::log2(0.0001));
  EXPECT_DOUBLE_EQ(y.at("3e-4"), std::log2(0.0003));
  EXPECT_DOUBLE_EQ(y.at("1e-3"), std::log2(0.001));  // as its neighbours are written, not 0.001 beside 1e-4
  const auto drawn = texts(svg);
  for (const std::string label : {"256", "1024", "1e-4", "3e-4", "1e-3", "batch size B", "learning rate \u03b7",
                                  "final test accuracy (0 to 1)"}) {
    EXPECT_EQ(drawn.count(label), 1u) << label;
  }
  for (const auto& text : {script, svg, figure(dir, "heatmap_temperature.gp"), figure(dir, "heatmap_temperature.svg")}) {
    EXPECT_EQ(text.find("log2"), std::string::npos);  // no axis in raw exponents
  }
  // The fixed range, the colour of each cell its trial's final test accuracy, the cell centred on its tics.
  EXPECT_NE(script.find("set cbrange [0:1]\n"), std::string::npos) << script;
  const auto cells = datablock(script, "cells");
  const Place place{x, y};
  const auto rows = trials(dir);
  ASSERT_EQ(rows.size(), 6u);
  ASSERT_EQ(cells.size(), 6u);
  for (const auto& trial : rows) {
    const auto at = rows_at(cells, place.of(trial));
    ASSERT_EQ(at.size(), 1u) << trial.dump();
    EXPECT_DOUBLE_EQ(at[0][6], trial["final_test_acc"].get<double>());
    EXPECT_DOUBLE_EQ((at[0][2] + at[0][3]) / 2, at[0][0]);  // x0 x1 around x (batch sizes evenly spaced)
    EXPECT_LT(at[0][4], at[0][1]);                             // y0 y1 around y, reaching halfway to the next
    EXPECT_GT(at[0][5], at[0][1]);
    char printed[16];  // and its value printed in it, with 2 decimals
    std::snprintf(printed, sizeof printed, "%.2f", trial["final_test_acc"].get<double>());
    EXPECT_GE(drawn.count(printed), 1u) << printed;
  }
  // The cells tile the plot: rows meet halfway between their learning rates, and the outer ones reach the range.
  std::set<double> edges;
  for (const auto& cell : cells) {
    edges.insert(cell[4]);
    edges.insert(cell[5]);
  }
  EXPECT_EQ(edges.size(), 4u);
  const std::string yrange = between(script, "set yrange [", "]");
  EXPECT_EQ(std::stod(yrange.substr(yrange.find('[') + 1)), *edges.begin());
  EXPECT_EQ(std::stod(yrange.substr(yrange.find(':') + 1)), *edges.rbegin());
  // Sequential: each colour of the palette lighter than the one before, none of them white.
  const std::string palette = between(script, "set palette defined (", ")\n");
  const std::regex colour("'(#[0-9a-fA-F]{6})'");
  std::vector<double> lightness;
  for (auto it = std::sregex_iterator(palette.begin(), palette.end(), colour); it != std::sregex_iterator(); ++it) {
    lightness.push_back(luminance((*it)[1]));
  }
  ASSERT_GE(lightness.size(), 3u) << palette;
  for (std::size_t i = 1; i < lightness.size(); ++i) EXPECT_GT(lightness[i], lightness[i - 1]) << i;
  EXPECT_LT(lightness.back(), 0.9);
  const std::string html = html_of(dir);
  EXPECT_NE(html.find(". Final test accuracy over batch size and learning rate</h2>"), std::string::npos);
  EXPECT_NE(caption(html, "heatmap_batch").find("the final test accuracy of the cell's trial, on a fixed scale from 0 to 1"), std::string::npos)
      << caption(html, "heatmap_batch");
}

// Regression: the final train loss on a log scale, its colour bar labelled in the loss's units; facets (sp, mup)
// get a heatmap each on one shared scale.
TEST(Heatmaps, RegressionLossHasALabelledLogScaleSharedByTheFacets) {
  TempDir dir;
  dir.write("configs/s.yaml", "task: {name: sine2, samples: 200}\ntraining: {epochs: 1}\nmodel: {hidden: [16]}\n"
                              "sweep: {grid: {model.parameterization: [sp, mup], training.batch_size: [8, 16], "
                              "optimizer.lr: [0.001, 0.01]}}\n");
  ASSERT_EQ(testing::run_in(dir, {"run", "s", "-q"}).code, 0);
  ASSERT_EQ(testing::run_in(dir, {"report", "s"}).code, 0);
  const auto rows = trials(dir);
  ASSERT_EQ(rows.size(), 8u);
  std::string range;
  for (const std::string name : {"heatmap_batch", "heatmap_batch_2"}) {
    const std::string script = figure(dir, name + ".gp"), svg = figure(dir, name + ".svg");
    EXPECT_NE(script.find("set cblabel \"final train loss (log scale)\""), std::string::npos) << name;
    EXPECT_EQ(texts(svg).count("final train loss (log scale)"), 1u) << name;
    EXPECT_NE(script.find(":(log10($7)) with boxxyerror"), std::string::npos) << name;
    // The colour bar's tics: labels in the loss's units, each at the log10 of its value.
    const auto bar = tics(script, "cb");
    ASSERT_GE(bar.size(), 2u) << script;
    for (const auto& [label, at] : bar) {
      EXPECT_NEAR(std::log10(std::stod(label)), at, 1e-9) << label;
      EXPECT_FALSE(label.find('.') != std::string::npos && label.back() == '0') << label;  // 0.3, not 0.300
      EXPECT_GE(texts(svg).count(label), 1u) << label;
    }
    const std::string cbrange = between(script, "set cbrange [", "]");
    if (range.empty()) range = cbrange;
    EXPECT_EQ(cbrange, range) << name;  // one scale for both facets
    const double low = std::stod(cbrange.substr(cbrange.find('[') + 1)), high = std::stod(cbrange.substr(cbrange.find(':') + 1));
    // Each cell: its facet's trial's final train loss, inside the range.
    const auto cells = datablock(script, "cells");
    const Place place{tics(script, "x"), tics(script, "y")};
    const std::string parameterization = name == "heatmap_batch" ? "sp" : "mup";
    int matched = 0;
    for (const auto& trial : rows) {
      if (trial["model.parameterization"] != parameterization) continue;
      const auto at = rows_at(cells, place.of(trial));
      ASSERT_EQ(at.size(), 1u) << trial.dump();
      EXPECT_DOUBLE_EQ(at[0][6], trial["final_train_loss"].get<double>());
      EXPECT_LE(low, std::log10(at[0][6]));
      EXPECT_GE(high, std::log10(at[0][6]));
      ++matched;
    }
    EXPECT_EQ(matched, 4) << name;
  }
  const std::string html = html_of(dir);
  EXPECT_NE(html.find("Final train loss over batch size and learning rate (param=sp)</h2>"), std::string::npos);
  EXPECT_NE(caption(html, "heatmap_batch").find("the final train loss of the cell's trial (the last evaluation's"), std::string::npos)
      << caption(html, "heatmap_batch");
  EXPECT_NE(caption(html, "heatmap_batch").find("on a log scale"), std::string::npos);
}

// A diverged trial is a cross with the step it diverged at, a failed one a red outline saying "failed"; neither
// has a colour. The learning rates 0.01, 0.1, 10 are not evenly spaced: one row each, by rank.
TEST(Heatmaps, MarkDivergedTrialsWithTheirStepAndFailedOnes) {
  TempDir dir;
  dir.write("configs/s.yaml",
            "task: {name: synthetic, samples: 200, features: 100}\nmodel: {hidden: [64]}\noptimizer: {name: sgd, lr: 0.01}\n"
            "training: {epochs: 4}\nsweep: {grid: {training.batch_size: [4, 8, 16], optimizer.lr: [0.01, 0.1, 10]}}\n");
  EXPECT_EQ(testing::run_sweeplab(dir, "run s -j 2 -q", "abort_at_step=3@bs=16").code, 1) << testing::read_file(dir.path() / "err.txt");
  ASSERT_EQ(testing::run_in(dir, {"report", "s"}).code, 0);
  const auto rows = trials(dir);
  int diverged = 0, failed = 0, completed = 0;
  for (const auto& trial : rows) {
    diverged += trial["status"] == "diverged";
    failed += trial["status"] == "failed";
    completed += trial["status"] == "completed";
  }
  ASSERT_GT(diverged, 0);
  ASSERT_EQ(failed, 3);  // batch size 16
  for (const std::string prefix : {"", "t"}) {
    const std::string name = prefix.empty() ? "heatmap_batch" : "heatmap_temperature";
    const std::string script = figure(dir, name + ".gp"), svg = figure(dir, name + ".svg");
    const auto drawn = texts(svg);
    EXPECT_EQ(datablock(script, prefix + "cells").size(), std::size_t(completed)) << name;
    const auto crosses = datablock(script, prefix + "diverged");
    const auto outlines = datablock(script, prefix + "failed");
    EXPECT_EQ(crosses.size(), std::size_t(diverged)) << name;
    EXPECT_EQ(outlines.size(), std::size_t(failed)) << name;
    EXPECT_EQ(drawn.count("failed"), std::size_t(failed) + 1) << name;  // each cell, and the key
    EXPECT_EQ(drawn.count("diverged (at step)"), 1u) << name;          // the key
    EXPECT_EQ(count(script, "lc rgb '#a63603'"), 1u) << name;
    std::multiset<double> steps;
    for (const auto& cross : crosses) steps.insert(cross[4]);
    for (const auto& trial : rows) {
      if (trial["status"] != "diverged") continue;
      const auto step = trial["diverged_at_step"].get<std::int64_t>();
      EXPECT_EQ(steps.count(double(step)), 1u) << name << " " << step;
      EXPECT_GE(drawn.count("step " + std::to_string(step)), 1u) << name << " " << step;
    }
    if (!prefix.empty()) continue;
    // On the batch heatmap, each mark in its trial's cell.
    const Place place{tics(script, "x"), tics(script, "y")};
    for (const auto& trial : rows) {
      const auto at = place.of(trial);
      EXPECT_EQ(rows_at(crosses, at).size(), trial["status"] == "diverged" ? 1u : 0u) << trial.dump();
      EXPECT_EQ(rows_at(outlines, at).size(), trial["status"] == "failed" ? 1u : 0u) << trial.dump();
    }
    EXPECT_EQ(tics(script, "y"), (std::map<std::string, double>{{"0.01", 0.0}, {"0.1", 1.0}, {"10", 2.0}}));
  }
  const std::string html = html_of(dir);
  EXPECT_NE(caption(html, "heatmap_batch").find("a black cross: a trial diverged, at the step written below it"), std::string::npos);
  EXPECT_NE(caption(html, "heatmap_batch").find("a red outline: the trial failed"), std::string::npos);
  EXPECT_NE(caption(html, "heatmap_batch").find("The learning rate axis is spaced by rank"), std::string::npos);
}

// A partial sweep: the cells not run yet are hatched and say so; one another process is training says "running".
TEST(Heatmaps, MarkCellsNotRunYetAndRunning) {
  TempDir dir;
  dir.write("configs/s.yaml", "task: {samples: 200}\ntraining: {epochs: 1}\n"
                              "sweep: {grid: {training.batch_size: [8, 16], optimizer.lr: [0.003, 0.01, 0.03]}}\n");
  ASSERT_EQ(testing::run_in(dir, {"run", "s", "-q", "-o", "optimizer.lr=0.003,0.01"}).code, 0);
  // The current config's trials not run yet are cells of their own with --pending.
  const std::string pending = "reports/pending";
  ASSERT_EQ(testing::run_in(dir, {"report", "s", "--pending"}).code, 0);
  std::string script = figure(dir, "heatmap_batch.gp", pending), svg = figure(dir, "heatmap_batch.svg", pending);
  const Place place{tics(script, "x"), tics(script, "y")};
  auto rows = trials(dir, {"--pending"});
  ASSERT_EQ(rows.size(), 6u);
  const auto hatched = datablock(script, "noresult");
  ASSERT_EQ(hatched.size(), 2u);
  for (const auto& trial : rows) {
    EXPECT_EQ(rows_at(hatched, place.of(trial)).size(), trial["status"] == "pending" ? 1u : 0u) << trial.dump();
  }
  EXPECT_EQ(texts(svg).count("not run"), 2u);
  EXPECT_EQ(texts(svg).count("not run yet"), 1u);  // the key
  EXPECT_NE(script.find("fs pattern"), std::string::npos);
  EXPECT_EQ(datablock(figure(dir, "heatmap_temperature.gp", pending), "tnoresult").size(), 2u);
  EXPECT_EQ(texts(figure(dir, "heatmap_temperature.svg", pending)).count("not run"), 2u);
  EXPECT_NE(caption(html_of(dir, pending), "heatmap_batch").find("a hatched cell: no result yet, labelled with its status (not run)"),
            std::string::npos);

  // Another process holds a completed trial: it reads as running, with no colour.
  std::string busy;
  for (const auto& trial : rows) {
    if (trial["status"] == "completed") busy = trial["trial_id"];
  }
  // As a run does: the trial marked planned in the index, then locked.
  const auto sweep = load_sweep(dir.str("configs"), "s", {"optimizer.lr=0.003,0.01"});
  for (const auto& trial : sweep.trials) {
    if (trial.id == busy) TrialIndex::open(dir.str("experiments/s"), false)->plan({{busy, trial.hash, trial.config}});
  }
  const auto lock = TrialLock::try_acquire(dir.str("experiments/s/trials/" + busy));
  ASSERT_TRUE(lock);
  ASSERT_EQ(testing::run_in(dir, {"report", "s", "--pending"}).code, 0);
  script = figure(dir, "heatmap_batch.gp", pending);
  svg = figure(dir, "heatmap_batch.svg", pending);
  EXPECT_EQ(datablock(script, "noresult").size(), 3u);
  EXPECT_EQ(datablock(script, "cells").size(), 3u);
  EXPECT_EQ(texts(svg).count("running"), 1u);
  EXPECT_EQ(texts(svg).count("no result yet: not run, running"), 1u);
}

// sweep.prune: above_divergence: the trials above a diverged learning rate are skipped, grey, and say so.
TEST(Heatmaps, MarkSkippedTrials) {
  TempDir dir;
  dir.write("configs/s.yaml", "task: {name: doughnuts, samples: 160}\noptimizer: {name: sgd}\ntraining: {epochs: 2}\n"
                              "stop: {divergence_loss: 100}\n"
                              "sweep:\n  grid: {training.batch_size: [4, 16], optimizer.lr: [0.01, 1000, 100000]}\n"
                              "  prune: above_divergence\n");
  ASSERT_EQ(testing::run_in(dir, {"run", "s", "-q"}).code, 0);
  ASSERT_EQ(testing::run_in(dir, {"report", "s"}).code, 0);
  const auto rows = trials(dir);
  int skipped = 0;
  for (const auto& trial : rows) skipped += trial["status"] == "skipped";
  ASSERT_EQ(skipped, 2);
  for (const std::string prefix : {"", "t"}) {
    const std::string name = prefix.empty() ? "heatmap_batch" : "heatmap_temperature";
    const std::string script = figure(dir, name + ".gp"), svg = figure(dir, name + ".svg");
    const auto grey = datablock(script, prefix + "skipped");
    EXPECT_EQ(grey.size(), 2u) << name;
    EXPECT_EQ(texts(svg).count("skipped"), 2u) << name;
    EXPECT_EQ(texts(svg).count("skipped (sweep.prune)"), 1u) << name;
    if (!prefix.empty()) continue;
    const Place place{tics(script, "x"), tics(script, "y")};
    for (const auto& trial : rows) {
      EXPECT_EQ(rows_at(grey, place.of(trial)).size(), trial["status"] == "skipped" ? 1u : 0u) << trial.dump();
    }
  }
  EXPECT_NE(caption(html_of(dir), "heatmap_batch").find("a grey cell: skipped by sweep.prune"), std::string::npos);
}

// Seeds: a cell whose trials did not all complete keeps its colour (the mean of those that did) and says what
// the others did; the cross goes to its corner.
TEST(Heatmaps, AMixedCellKeepsItsValueAndANote) {
  TempDir dir;
  dir.write("configs/s.yaml", "task: {samples: 200}\ntraining: {epochs: 1}\n"
                              "sweep: {grid: {training.batch_size: [8, 16], optimizer.lr: [0.01, 0.1]}, seeds: 2}\n");
  ASSERT_EQ(testing::run_in(dir, {"run", "s", "-q"}).code, 0);
  auto rows = trials(dir);
  ASSERT_EQ(rows.size(), 8u);
  // One seed of batch size 8, lr 0.1 diverged at step 7.
  json* edited = nullptr;
  for (auto& trial : rows) {
    if (trial["batch_size"] == 8 && trial["lr"] == 0.1 && !edited) edited = &trial;
  }
  ASSERT_TRUE(edited);
  const fs::path summary = dir.path() / "experiments/s/trials" / (*edited)["trial_id"].get<std::string>() / "summary.json";
  auto content = testing::read_json(summary);
  content["status"] = "diverged";
  content["final"] = nullptr;
  content["diverged_at_step"] = 7;
  dir.write(fs::relative(summary, dir.path()).string(), content.dump(2));
  testing::files_changed_by_hand(dir, "s");
  ASSERT_EQ(testing::run_in(dir, {"report", "s"}).code, 0);
  const std::string script = figure(dir, "heatmap_batch.gp"), svg = figure(dir, "heatmap_batch.svg");
  const Place place{tics(script, "x"), tics(script, "y")};
  const auto at = place.of(*edited);
  const auto cell = rows_at(datablock(script, "cells"), at);
  ASSERT_EQ(cell.size(), 1u);
  EXPECT_EQ(cell[0][7], 1.0);  // the mean over 1 trial: the seed that completed
  double other = NAN;
  for (const auto& trial : rows) {
    if (trial["batch_size"] == 8 && trial["lr"] == 0.1 && &trial != edited) other = trial["final_test_acc"];
  }
  EXPECT_DOUBLE_EQ(cell[0][6], other);
  const auto cross = rows_at(datablock(script, "diverged"), at);
  ASSERT_EQ(cross.size(), 1u);
  EXPECT_GT(cross[0][2], 0);  // beside the value, not over it
  EXPECT_EQ(cross[0][4], 7);
  EXPECT_EQ(texts(svg).count("1 diverged at step 7"), 1u);
  for (const auto& row : datablock(script, "cells")) {
    if (row != cell[0]) {
      EXPECT_EQ(row[7], 2.0);  // the other cells: the mean of both seeds
    }
  }
  const std::string text = caption(html_of(dir), "heatmap_batch");
  EXPECT_NE(text.find("the mean final test accuracy of the cell's completed trials"), std::string::npos) << text;
  EXPECT_NE(text.find("lists the others below its value"), std::string::npos) << text;
}

// The eta/B heatmap of a grid whose learning rates are powers of 2 of each other: each eta/B of the grid a row of
// its own, one box per (batch size, eta/B), its trial's value; rows labelled with eta/B in user units.
TEST(Heatmaps, TemperatureRowsAreTheGridsEtaOverB) {
  TempDir dir;
  dir.write("configs/s.yaml", "task: {name: sine2, samples: 200}\ntraining: {epochs: 1}\nmodel: {hidden: [16]}\n"
                              "sweep: {grid: {training.batch_size: [4, 8, 16], optimizer.lr: [0.001, 0.002, 0.004, 0.008]}}\n");
  ASSERT_EQ(testing::run_in(dir, {"run", "s", "-q"}).code, 0);
  ASSERT_EQ(testing::run_in(dir, {"report", "s"}).code, 0);
  const std::string script = figure(dir, "heatmap_temperature.gp"), svg = figure(dir, "heatmap_temperature.svg");
  const auto boxes = datablock(script, "tcells");
  const auto rows = trials(dir);
  ASSERT_EQ(rows.size(), 12u);
  ASSERT_EQ(boxes.size(), 12u) << script;  // no two trials of a batch size share a row
  std::set<double> centres;
  double cells = 0;
  for (const auto& box : boxes) {
    EXPECT_NEAR(box[5] - box[4], 1.0, 1e-9);  // a row: a factor of 2 in eta/B
    EXPECT_NEAR((box[4] + box[5]) / 2, box[1], 1e-9);
    centres.insert(box[1]);
    cells += box[8];
  }
  EXPECT_EQ(cells, 12);
  EXPECT_EQ(centres.size(), 6u);  // eta/B from 0.001/16 to 0.008/4
  const auto x = tics(script, "x");
  for (const auto& trial : rows) {
    const double b = trial["batch_size"], lr = trial["lr"];
    const auto at = rows_at(boxes, {x.at(std::to_string(std::int64_t(b))), std::log2(lr / b)});
    ASSERT_EQ(at.size(), 1u) << trial.dump();
    EXPECT_DOUBLE_EQ(at[0][6], trial["final_train_loss"].get<double>());
  }
  const auto y = tics(script, "y");
  EXPECT_EQ(y.size(), 6u);
  for (const std::string label : {"6.25e-5", "2.5e-4", "2e-3"}) {  // 0.001/16, 0.001/4, 0.008/4, in one format
    ASSERT_TRUE(y.count(label)) << label;
    EXPECT_NEAR(std::exp2(y.at(label)), std::stod(label), 1e-12);
    EXPECT_EQ(texts(svg).count(label), 1u) << label;
  }
  EXPECT_NE(caption(html_of(dir), "heatmap_temperature").find("every cell's \u03b7/B lies on its row's centre"), std::string::npos);
}

// Learning rates a decade apart and batch sizes a factor 2: no common spacing, so the rows are decades of eta/B
// centred on powers of 10, each trial in the row nearest its eta/B.
TEST(Heatmaps, TemperatureBinsOfIncommensurateGridsHoldTheNearestTrials) {
  TempDir dir;
  dir.write("configs/s.yaml", "task: {name: sine2, samples: 200}\ntraining: {epochs: 1}\nmodel: {hidden: [16]}\n"
                              "sweep: {grid: {training.batch_size: [8, 16, 32], optimizer.lr: [0.0001, 0.001, 0.01]}}\n");
  ASSERT_EQ(testing::run_in(dir, {"run", "s", "-q"}).code, 0);
  ASSERT_EQ(testing::run_in(dir, {"report", "s"}).code, 0);
  const std::string script = figure(dir, "heatmap_temperature.gp"), svg = figure(dir, "heatmap_temperature.svg");
  const auto boxes = datablock(script, "tcells");
  const double decade = std::log2(10.0);
  double cells = 0;
  for (const auto& box : boxes) {
    EXPECT_NEAR(box[5] - box[4], decade, 1e-9);
    const double power = box[1] / decade;  // the centre: a power of 10
    EXPECT_NEAR(power, std::round(power), 1e-9);
    cells += box[8];
  }
  const auto rows = trials(dir);
  ASSERT_EQ(rows.size(), 9u);
  EXPECT_EQ(cells, 9);
  EXPECT_EQ(boxes.size(), 9u);
  const auto x = tics(script, "x");
  for (const auto& trial : rows) {
    const double b = trial["batch_size"], lr = trial["lr"];
    int holding = 0;
    for (const auto& box : boxes) {
      if (box[0] == x.at(std::to_string(std::int64_t(b))) && std::fabs(std::log2(lr / b) - box[1]) <= decade / 2 + 1e-9) ++holding;
    }
    EXPECT_EQ(holding, 1) << trial.dump();
  }
  for (const std::string label : {"1e-6", "1e-5", "1e-4"}) EXPECT_EQ(texts(svg).count(label), 1u) << label;
  const std::string text = caption(html_of(dir), "heatmap_temperature");
  EXPECT_NE(text.find("a factor 10 apart"), std::string::npos) << text;
  EXPECT_NE(text.find("the row whose centre is nearest its \u03b7/B"), std::string::npos) << text;
}

// --colour-by last_batch_loss: each cell is its trial's loss on the last training batch before the final evaluation
// (batch_size_studies' value), not the mean since the evaluation before; the page and the folder say which.
TEST(Heatmaps, ColouredByTheLastMinibatchsLossOnRequest) {
  TempDir dir;
  dir.write("configs/s.yaml", "task: {name: sine2, samples: 200}\ntraining: {epochs: 1}\nmodel: {hidden: [16]}\n"
                              "sweep: {grid: {training.batch_size: [8, 16], optimizer.lr: [0.001, 0.01]}}\n");
  ASSERT_EQ(testing::run_in(dir, {"run", "s", "-q"}).code, 0);
  const auto result = testing::run_in(dir, {"report", "s", "--colour-by", "last_batch_loss", "--plots", "heatmap_batch"});
  ASSERT_EQ(result.code, 0) << result.err;
  const std::string folder = "reports/plots-heatmap_batch+colour-last_batch_loss";
  const std::string script = figure(dir, "heatmap_batch.gp", folder);
  EXPECT_NE(script.find("set cblabel \"last minibatch's loss (log scale)\""), std::string::npos) << script;
  const auto cells = datablock(script, "cells");
  const Place place{tics(script, "x"), tics(script, "y")};
  const auto rows = trials(dir);
  ASSERT_EQ(rows.size(), 4u);
  ASSERT_EQ(cells.size(), 4u);
  for (const auto& trial : rows) {
    const auto at = rows_at(cells, place.of(trial));
    ASSERT_EQ(at.size(), 1u) << trial.dump();
    const json summary = testing::read_json(dir.path() / "experiments/s/trials" / trial["trial_id"].get<std::string>() / "summary.json");
    EXPECT_DOUBLE_EQ(at[0][6], summary["final"]["last_batch_loss"].get<double>()) << trial.dump();
    EXPECT_DOUBLE_EQ(trial["final_last_batch_loss"].get<double>(), summary["final"]["last_batch_loss"].get<double>());
    EXPECT_NE(at[0][6], trial["final_train_loss"].get<double>());  // not the mean over the epoch's batches
  }
  const std::string html = testing::read_file(dir.path() / "experiments/s" / folder / "report.html");
  EXPECT_NE(html.find("the loss of the last training batch before the final evaluation"), std::string::npos);
  // Unknown values, and a sweep whose metrics carry no such loss (DQN), are one line and exit 2, writing nothing.
  testing::expect_usage_error(dir, {"report", "s", "--colour-by", "last_batch"},
                              {"--colour-by last_batch: unknown value", "did you mean 'last_batch_loss'"});
  TempDir rl;
  rl.write("configs/s.yaml", "task: {name: doublegoal}\ntraining: {steps: 40, batch_size: 8, eval_every: 20}\n"
                             "sweep: {grid: {optimizer.lr: [0.001, 0.01], training.batch_size: [8, 16]}}\n");
  ASSERT_EQ(testing::run_in(rl, {"run", "s", "-q"}).code, 0);
  testing::expect_usage_error(rl, {"report", "s", "--colour-by", "last_batch_loss"},
                              {"--colour-by last_batch_loss: no trial of sweep 's' recorded the last minibatch's loss"});
}

// A grid too dense for words in its cells (more than 18 rows) carries none: no status or step text to run into its
// neighbours; the marks and the caption say what a cell is.
TEST(Heatmaps, ADenseGridHasMarksButNoWordsInItsCells) {
  TempDir dir;
  dir.write("configs/s.yaml", "task: {name: sine2, samples: 100}\ntraining: {epochs: 1}\nmodel: {hidden: [8]}\n"
                              "stop: {divergence_loss: 1.0e+3}\n"
                              "sweep: {prune: above_divergence, grid: {training.batch_size: [8, 16], "
                              "optimizer.lr: {pow2: [-12, 8]}}}\n");
  ASSERT_EQ(testing::run_in(dir, {"run", "s", "-q", "-j", "2"}).code, 0);
  ASSERT_EQ(testing::run_in(dir, {"report", "s", "--plots", "heatmap_batch"}).code, 0);
  const std::string script = figure(dir, "heatmap_batch.gp", "reports/plots-heatmap_batch");
  EXPECT_FALSE(datablock(script, "cells").empty());
  EXPECT_FALSE(datablock(script, "diverged").empty()) << "the sweep was meant to diverge at its largest rates";
  EXPECT_FALSE(datablock(script, "skipped").empty()) << "and to prune above";
  EXPECT_EQ(between(script, "$labels << EOD\n", "EOD\n"), "$labels << EOD\n");
  EXPECT_EQ(between(script, "$notes << EOD\n", "EOD\n"), "$notes << EOD\n");
  const std::string html = testing::read_file(dir.path() / "experiments/s/reports/plots-heatmap_batch/report.html");
  const std::string text = caption(html, "heatmap_batch");
  EXPECT_NE(text.find("a black cross: a trial diverged (the trial table has the step)"), std::string::npos) << text;
  EXPECT_NE(text.find("too dense for words"), std::string::npos) << text;
}

// report A B: both sweeps' heatmaps on one colour scale, so that a colour means the same loss on either side.
TEST(Heatmaps, TwoSweepsSideBySideShareOneColourScale) {
  TempDir dir;
  dir.write("configs/s.yaml", "task: {name: sine2, samples: 200}\ntraining: {epochs: 1}\nmodel: {hidden: [16]}\n"
                              "sweep: {grid: {training.batch_size: [8, 16], optimizer.lr: [0.001, 0.01]}}\n");
  dir.write("configs/t.yaml", "extends: s\ntraining: {epochs: 3}\noptimizer: {lr: 0.1}\n"
                              "sweep: {grid: {training.batch_size: [8, 16], optimizer.lr: [0.03, 0.1]}}\n");
  ASSERT_EQ(testing::run_in(dir, {"run", "s", "t", "-q"}).code, 0);
  ASSERT_EQ(testing::run_in(dir, {"report", "s", "t", "--plots", "heatmap_batch,loss_curves"}).code, 0);
  const fs::path folder = dir.path() / "experiments/s/reports/vs-t+plots-loss_curves,heatmap_batch";
  const std::string s = testing::read_file(folder / "s/heatmap_batch.gp"), t = testing::read_file(folder / "t/heatmap_batch.gp");
  const std::string s_range = between(s, "set cbrange", "\n"), t_range = between(t, "set cbrange", "\n");
  ASSERT_FALSE(s_range.empty()) << s;
  EXPECT_EQ(s_range, t_range);
  EXPECT_EQ(between(s, "set cbtics", "\n"), between(t, "set cbtics", "\n"));
  // The range holds the losses of both: its log10 ends bracket every cell of either sweep.
  const double low = std::stod(between(s_range, "[", ":").substr(1)), high = std::stod(between(s_range, ":", "]").substr(1));
  for (const auto* script : {&s, &t}) {
    for (const auto& cell : datablock(*script, "cells")) {
      EXPECT_GE(std::log10(cell[6]), low - 1e-9);
      EXPECT_LE(std::log10(cell[6]), high + 1e-9);
    }
  }
  // And their curves on one set of axes.
  const std::string s_curves = testing::read_file(folder / "s/loss_curves.gp"), t_curves = testing::read_file(folder / "t/loss_curves.gp");
  EXPECT_EQ(between(s_curves, "set yrange", "\n"), between(t_curves, "set yrange", "\n"));
  EXPECT_FALSE(between(s_curves, "set yrange", "\n").empty());
}

}  // namespace
}  // namespace sweeplab
