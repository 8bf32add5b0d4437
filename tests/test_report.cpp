// export, seed aggregation, the noise-scale fit, and report.html on a sweep with diverged and failed trials.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cmath>
#include <map>
#include <nlohmann/json.hpp>

#include "sweeplab/config/loader.hpp"
#include "sweeplab/core/text.hpp"
#include "sweeplab/report/results.hpp"
#include "sweeplab/store/lock.hpp"
#include "sweeplab/store/trial_index.hpp"
#include "report_util.hpp"
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

// 3 seeds x 2 batch sizes, 3 epochs, one target.
const std::string kSeeds =
    "task: {name: doughnuts, samples: 400}\n"
    "optimizer: {name: adam, lr: 0.01}\n"
    "training: {epochs: 3}\n"
    "targets: ['test_acc >= 0.6']\n"
    "sweep: {grid: {training.batch_size: [8, 16]}, seeds: 3}\n";

std::vector<std::map<std::string, std::string>> parse_csv(const std::string& text) {
  std::vector<std::map<std::string, std::string>> rows;
  std::istringstream in(text);
  std::string line;
  std::getline(in, line);
  std::vector<std::string> header;
  for (std::istringstream fields(line); std::getline(fields, line, ',');) header.push_back(line);
  while (std::getline(in, line)) {
    std::map<std::string, std::string> row;
    std::istringstream fields(line);
    std::string cell;
    for (const auto& column : header) {
      std::getline(fields, cell, ',');
      row[column] = cell;
    }
    rows.push_back(row);
  }
  return rows;
}

json summary(const TempDir& dir, const std::string& id) {
  return testing::read_json(dir.path() / "experiments/s/trials" / id / "summary.json");
}

void write_summary(const TempDir& dir, const std::string& id, const json& content) {
  dir.write("experiments/s/trials/" + id + "/summary.json", content.dump(2));
  testing::files_changed_by_hand(dir, "s");
}

std::vector<json> parse_jsonl(const std::string& text) {
  std::vector<json> rows;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) rows.push_back(json::parse(line));
  return rows;
}

TEST(Export, ColumnsAndValuesMatchTheSummaries) {
  TempDir dir;
  dir.write("configs/s.yaml", kSeeds);
  ASSERT_EQ(testing::run_in(dir, {"run", "s", "-j", "2", "-q"}).code, 0);
  const auto result = testing::run_in(dir, {"export", "s"});
  ASSERT_EQ(result.code, 0) << result.err;
  const auto rows = parse_csv(result.out);
  ASSERT_EQ(rows.size(), 6u);
  for (const std::string column : {"trial_id", "training.batch_size", "training.seed", "status", "temperature", "steps",
                                   "samples", "final_train_loss", "final_test_acc", "best_test_acc",
                                   "steps_to_test_acc_ge_0.6", "samples_to_test_acc_ge_0.6", "steps_x_lr"}) {
    EXPECT_TRUE(rows[0].count(column)) << column;
  }
  for (const auto& row : rows) {
    const auto expected = summary(dir, row.at("trial_id"));
    EXPECT_EQ(row.at("status"), expected["status"]);
    EXPECT_EQ(std::stoll(row.at("steps")), expected["steps"].get<std::int64_t>());
    EXPECT_DOUBLE_EQ(std::stod(row.at("final_test_loss")), expected["final"]["test_loss"].get<double>());
    EXPECT_DOUBLE_EQ(std::stod(row.at("best_test_acc")), expected["best"]["test_acc"]["value"].get<double>());
    EXPECT_DOUBLE_EQ(std::stod(row.at("temperature")), 0.01 / std::stod(row.at("training.batch_size")));
    EXPECT_DOUBLE_EQ(std::stod(row.at("steps_x_lr")), 0.01 * expected["steps"].get<double>());
    const auto& to_target = expected["steps_to_target"]["test_acc >= 0.6"];
    EXPECT_EQ(row.at("steps_to_test_acc_ge_0.6"), to_target.is_null() ? "" : std::to_string(to_target.get<std::int64_t>()));
  }
}

TEST(Export, AggregatesSeedsIntoMeanAndStandardError) {
  TempDir dir;
  dir.write("configs/s.yaml", kSeeds);
  ASSERT_EQ(testing::run_in(dir, {"run", "s", "-j", "2", "-q"}).code, 0);
  const auto result = testing::run_in(dir, {"export", "s", "--aggregate", "--format", "jsonl"});
  ASSERT_EQ(result.code, 0) << result.err;
  const auto sweep = load_sweep(dir.str("configs"), "s");
  std::istringstream lines(result.out);
  std::string line;
  int groups = 0;
  while (std::getline(lines, line)) {
    const auto row = json::parse(line);
    ++groups;
    EXPECT_EQ(row["n_seeds"], 3);
    EXPECT_FALSE(row.contains("training.seed"));
    std::vector<double> losses;
    for (const auto& trial : sweep.trials) {
      if (trial.config.expand().training.batch_size == row["training.batch_size"].get<std::int64_t>()) {
        losses.push_back(summary(dir, trial.id)["final"]["train_loss"].get<double>());
      }
    }
    ASSERT_EQ(losses.size(), 3u);
    const double mean = (losses[0] + losses[1] + losses[2]) / 3;
    double squares = 0;
    for (double x : losses) squares += (x - mean) * (x - mean);
    EXPECT_NEAR(row["final_train_loss_mean"].get<double>(), mean, 1e-12);
    EXPECT_NEAR(row["final_train_loss_stderr"].get<double>(), std::sqrt(squares / 2) / std::sqrt(3.0), 1e-12);
  }
  EXPECT_EQ(groups, 2);
}

TEST(Export, AggregateCountsSeedsThatReachedTheTargetAndDiverged) {
  TempDir dir;
  dir.write("configs/s.yaml", kSeeds);
  ASSERT_EQ(testing::run_in(dir, {"run", "s", "-j", "2", "-q"}).code, 0);
  const auto sweep = load_sweep(dir.str("configs"), "s");
  // Of batch size 8's three seeds: seed 1 did not reach the target, seed 2 diverged (having reached it).
  std::vector<std::string> bs8;
  for (const auto& trial : sweep.trials) {
    if (trial.config.expand().training.batch_size == 8) bs8.push_back(trial.id);
  }
  ASSERT_EQ(bs8.size(), 3u);
  for (const auto& id : bs8) {  // every seed reaches it, so that the test knows the counts
    auto content = summary(dir, id);
    content["targets"][0]["reached"] = true;
    content["targets"][0]["step"] = 40 + 10 * std::int64_t(&id - bs8.data());
    content["targets"][0]["samples"] = 8 * content["targets"][0]["step"].get<std::int64_t>();
    if (id == bs8[1]) content["targets"][0] = {{"target", "test_acc >= 0.6"}, {"reached", false}};
    if (id == bs8[2]) {
      content["status"] = "diverged";
      content["diverged_at_step"] = 77;
    }
    write_summary(dir, id, content);
  }
  const auto result = testing::run_in(dir, {"export", "s", "--aggregate", "--format", "jsonl"});
  ASSERT_EQ(result.code, 0) << result.err;
  const auto rows = parse_jsonl(result.out);
  ASSERT_EQ(rows.size(), 2u);
  const json& row = rows[0]["training.batch_size"] == 8 ? rows[0] : rows[1];
  EXPECT_EQ(row["n_seeds"], 3);
  EXPECT_EQ(row["n_diverged"], 1);
  EXPECT_EQ(row["n_completed"], 2);
  EXPECT_EQ(row["n_reached_test_acc_ge_0.6"], 2);
  // Seeds 0 and 2 reached it at steps 40 and 60: the mean is over those two, and its name says so.
  EXPECT_EQ(row["steps_to_test_acc_ge_0.6_mean_over_reached"], 50.0);
  EXPECT_EQ(row["samples_to_test_acc_ge_0.6_mean_over_reached"], 400.0);
  EXPECT_FALSE(row.contains("steps_to_test_acc_ge_0.6_mean"));
  EXPECT_FALSE(row.contains("samples_to_test_acc_ge_0.6_mean"));
  EXPECT_EQ(row["diverged_at_step_mean_over_diverged"], 77.0);
  const auto csv = parse_csv(testing::run_in(dir, {"export", "s", "--aggregate"}).out);
  ASSERT_EQ(csv.size(), 2u);
  EXPECT_TRUE(csv[0].count("n_reached_test_acc_ge_0.6"));
  EXPECT_TRUE(csv[0].count("steps_to_test_acc_ge_0.6_mean_over_reached"));
  // --help says what the counts and the means are over.
  const auto help = testing::run_in(dir, {"export", "--help"});
  EXPECT_NE((help.out + help.err).find("mean_over_reached"), std::string::npos) << help.out;
  EXPECT_NE((help.out + help.err).find("n_reached_"), std::string::npos) << help.out;
}

TEST(Export, SaysRunningForATrialAnotherProcessIsTraining) {
  TempDir dir;
  dir.write("configs/s.yaml", "task: {samples: 200}\ntraining: {epochs: 2}\n"
                              "sweep: {grid: {training.batch_size: [8, 16], optimizer.lr: [0.01, 0.1]}}\n");
  ASSERT_EQ(testing::run_in(dir, {"run", "s", "-q"}).code, 0);
  const auto sweep = load_sweep(dir.str("configs"), "s");
  const std::string busy = sweep.trials[1].id;
  // As a run does: the trial marked planned in the index, then locked.
  TrialIndex::open(dir.str("experiments/s"), false)->plan({{busy, sweep.trials[1].hash, sweep.trials[1].config}});
  const auto lock = TrialLock::try_acquire(dir.str("experiments/s/trials/" + busy));
  ASSERT_TRUE(lock);
  const auto csv = parse_csv(testing::run_in(dir, {"export", "s"}).out);
  ASSERT_EQ(csv.size(), 4u);
  for (const auto& row : csv) EXPECT_EQ(row.at("status"), row.at("trial_id") == busy ? "running" : "completed");
  for (const auto& row : parse_jsonl(testing::run_in(dir, {"export", "s", "--format", "jsonl"}).out)) {
    EXPECT_EQ(row["status"], row["trial_id"] == busy ? "running" : "completed");
  }
  // The report's grid and trial table say so too.
  ASSERT_EQ(testing::run_in(dir, {"report", "s"}).code, 0);
  const std::string html = testing::read_file(dir.path() / "experiments/s/report.html");
  EXPECT_EQ(count(between(html, "id=\"grid\"", "</table>"), ">running<"), 1u);
  EXPECT_NE(html.find("<td class=\"running\">running</td>"), std::string::npos);
}

TEST(Export, OverridesNarrowItToTheirTrialsAndTheConfigsNotRunOnesAreCounted) {
  TempDir dir;
  dir.write("configs/s.yaml", "task: {samples: 200}\ntraining: {epochs: 2}\nsweep: {grid: {training.batch_size: [8, 16]}}\n");
  ASSERT_EQ(testing::run_in(dir, {"run", "s", "-q"}).code, 0);
  // Now -o asks for batch sizes 8 and 32: 8 is on disk, 16 is left out by -o, 32 is not run yet.
  const auto exported = testing::run_in(dir, {"export", "s", "-o", "training.batch_size=8,32"});
  const auto csv = parse_csv(exported.out);
  ASSERT_EQ(csv.size(), 1u);
  EXPECT_EQ(csv[0].at("batch_size"), "8");
  EXPECT_FALSE(csv[0].count("in_current_config"));
  EXPECT_EQ(exported.err, "1 trial of the current config not run yet: sweeplab run s -o training.batch_size=8,32 "
                          "(--pending lists them)\n");
  const auto pending = parse_csv(testing::run_in(dir, {"export", "s", "-o", "training.batch_size=8,32", "--pending"}).out);
  ASSERT_EQ(pending.size(), 2u);
  EXPECT_EQ(pending[1].at("batch_size"), "32");
  EXPECT_EQ(pending[1].at("status"), "pending");
  // Without -o: both trials on disk, whatever the YAML says now.
  dir.write("configs/s.yaml", "task: {samples: 200}\ntraining: {epochs: 2}\nsweep: {grid: {training.batch_size: [32]}}\n");
  const auto all = parse_jsonl(testing::run_in(dir, {"export", "s", "--format", "jsonl", "--aggregate"}).out);
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0]["training.batch_size"], 8);
  EXPECT_EQ(all[1]["training.batch_size"], 16);
  ASSERT_EQ(testing::run_in(dir, {"report", "s"}).code, 0);
  const std::string html = testing::read_file(dir.path() / "experiments/s/report.html");
  EXPECT_NE(html.find("1 trial of the current config not run yet: <code>sweeplab run s</code>"), std::string::npos);
  EXPECT_EQ(count(between(html, "<h2>Trials</h2>", "</table>"), "<tr"), 3u);  // the header and the two trials
}

TEST(Statistics, MeansAreCorrectlyRoundedAndWrittenInShortestForm) {
  // The mean of the numbers as written: 0.9623, not 0.9622999999999999 or 0.9623000000000001.
  EXPECT_EQ(format_double(mean_stderr({0.96, 0.9646}).mean), "0.9623");
  EXPECT_EQ(format_double(mean_stderr({0.1, 0.2}).mean), "0.15");
  EXPECT_EQ(mean_stderr({0.1, 0.2, 0.4}).mean, 7.0 / 30.0);  // 0.7 / 3, rounded once
  EXPECT_EQ(mean_stderr({3, 4}).mean, 3.5);
  EXPECT_EQ(mean_stderr({-1e-8, 3e-8}).mean, 1e-8);
  EXPECT_EQ(mean_stderr({1e308, 1e308}).mean, 1e308);  // no overflow
  // The standard error too: 0.6 and 0.625 are 0.0125 either side of their mean.
  const auto spread = mean_stderr({0.6, 0.625});
  ASSERT_TRUE(spread.stderr_);
  EXPECT_EQ(format_double(*spread.stderr_), "0.0125");
  EXPECT_DOUBLE_EQ(*mean_stderr({0.1, 0.2, 0.4}).stderr_, std::sqrt(7.0) / 30);  // var 21/900, over 3
  // Through export --aggregate: CSV and JSONL.
  TempDir dir;
  dir.write("configs/s.yaml", "task: {samples: 200}\nsweep: {seeds: 2}\n");
  const auto sweep = load_sweep(dir.str("configs"), "s");
  std::vector<TrialState> trials(2);
  for (std::size_t i = 0; i < 2; ++i) {
    trials[i].id = sweep.trials[i].id;
    trials[i].hash = sweep.trials[i].hash;
    trials[i].config = sweep.trials[i].config;
    trials[i].has_files = true;
    trials[i].status = TrialStatus::Completed;
    StoredSummary summary;
    summary.status = TrialStatus::Completed;
    summary.final = EvalRecord{};
    summary.final->test_acc = i == 0 ? 0.96 : 0.9646;
    summary.final->train_loss = i == 0 ? 0.1 : 0.2;
    trials[i].summary = std::make_shared<const StoredSummary>(summary);
  }
  const auto table = aggregate_seeds(sweep.spec, export_trials(sweep.spec, trials));
  const auto csv = parse_csv(to_csv(table));
  ASSERT_EQ(csv.size(), 1u);
  EXPECT_EQ(csv[0].at("final_test_acc_mean"), "0.9623");
  EXPECT_EQ(csv[0].at("final_train_loss_mean"), "0.15");
  const auto line = to_jsonl(table);
  EXPECT_NE(line.find("\"final_test_acc_mean\":0.9623,"), std::string::npos) << line;
  EXPECT_NE(line.find("\"final_train_loss_mean\":0.15,"), std::string::npos) << line;
}

TEST(Statistics, MeanAndStandardErrorUseTheSampleStd) {
  const auto stats = mean_stderr({1, 2, 3, 4});
  EXPECT_DOUBLE_EQ(stats.mean, 2.5);
  ASSERT_TRUE(stats.stderr_);
  EXPECT_NEAR(*stats.stderr_, std::sqrt(5.0 / 3.0) / 2.0, 1e-15);  // var = 5/3 (n - 1), / sqrt(4)
  EXPECT_FALSE(mean_stderr({7}).stderr_);
}

TEST(NoiseScaleFit, RecoversKnownParametersFromNoisySyntheticData) {
  const double s_min = 500, b_noise = 100;
  std::vector<double> batch_sizes, steps;
  std::uint64_t x = 12345;
  for (double b = 2; b <= 1024; b *= 2) {
    for (int repeat = 0; repeat < 3; ++repeat) {
      x = x * 6364136223846793005ull + 1442695040888963407ull;
      const double noise = (double(x >> 11) / double(1ull << 53) - 0.5) * 0.06;  // +-3%
      batch_sizes.push_back(b);
      steps.push_back(s_min * (1 + b_noise / b) * (1 + noise));
    }
  }
  const auto fit = fit_noise_scale(batch_sizes, steps);
  ASSERT_TRUE(fit);
  EXPECT_NEAR(fit->s_min, s_min, 0.05 * s_min);
  EXPECT_NEAR(fit->b_noise, b_noise, 0.05 * b_noise);
  EXPECT_NEAR(fit->e_min, s_min * b_noise, 0.05 * s_min * b_noise);
  const auto exact = fit_noise_scale({4, 16, 64}, {500 * (1 + 100 / 4.0), 500 * (1 + 100 / 16.0), 500 * (1 + 100 / 64.0)});
  ASSERT_TRUE(exact);
  EXPECT_NEAR(exact->b_noise, 100, 1e-9);
  EXPECT_FALSE(fit_noise_scale({8, 8}, {10, 12}));        // one batch size
  EXPECT_FALSE(fit_noise_scale({4, 16}, {100, 200}));     // steps grow with batch size
}


TEST(Report, IsCompleteWithADivergedAndAFailedTrial) {
  TempDir dir;
  // lr 10 on 100 wide inputs diverges (the sanity checks); batch size 16 trials abort at step 3.
  dir.write("configs/s.yaml",
            "task: {name: synthetic, samples: 200, features: 100}\nmodel: {hidden: [64]}\noptimizer: {name: sgd, lr: 0.01}\n"
            "training: {epochs: 4}\ntargets: ['train_acc >= 0.6']\n"
            "sweep: {grid: {training.batch_size: [4, 8, 16], optimizer.lr: [0.01, 0.1, 10]}}\n");
  EXPECT_EQ(testing::run_sweeplab(dir, "run s -j 2 -q", "abort_at_step=3@bs=16").code, 1) << testing::read_file(dir.path() / "err.txt");
  const auto result = testing::run_in(dir, {"report", "s"});
  ASSERT_EQ(result.code, 0) << result.err;
  const std::string html = testing::read_file(dir.path() / "experiments/s/report.html");
  EXPECT_EQ(html.rfind("</html>\n"), html.size() - 8);
  EXPECT_NE(html.find("<td class=\"diverged\">diverged</td>"), std::string::npos);
  EXPECT_NE(html.find("<td class=\"failed\">failed</td>"), std::string::npos);
  for (const std::string figure : {"loss_curves", "heatmap_batch", "heatmap_temperature", "loss_vs_samples"}) {
    EXPECT_NE(html.find("<figure id=\"" + figure + "\">"), std::string::npos) << figure;
    EXPECT_TRUE(fs::exists(dir.path() / "experiments/s/figures" / (figure + ".svg"))) << figure;
  }
  EXPECT_EQ(html.find("http://"), html.find("http://www.w3.org"));  // nothing to fetch: only SVG namespaces
  EXPECT_EQ(html.find("<script src"), std::string::npos);
  EXPECT_EQ(html.find("<img"), std::string::npos);  // figures inline
}

TEST(Report, SaysWhyAFigureIsMissing) {
  TempDir dir;
  dir.write("configs/s.yaml", "task: {samples: 200}\ntraining: {epochs: 2}\nsweep: {grid: {model.hidden: [[8], [16]]}}\n");
  ASSERT_EQ(testing::run_in(dir, {"run", "s", "-q"}).code, 0);
  const auto result = testing::run_in(dir, {"report", "s"});
  ASSERT_EQ(result.code, 0) << result.err;
  const std::string html = testing::read_file(dir.path() / "experiments/s/report.html");
  EXPECT_NE(html.find("<figure id=\"loss_curves\">"), std::string::npos);
  EXPECT_NE(html.find("the sweep does not vary optimizer.lr (or optimizer.temperature) and a second number"),
            std::string::npos);
  EXPECT_NE(html.find("the sweep has no targets"), std::string::npos);
  EXPECT_NE(html.find("every trial has the same temperature"), std::string::npos);
}

TEST(Report, WithNoTrialFinishedSaysSoAndDrawsNoEmptyFigure) {
  TempDir dir;
  dir.write("configs/s.yaml", "task: {samples: 200}\ntraining: {epochs: 2}\ntargets: ['test_acc >= 0.9']\n"
                              "sweep: {grid: {training.batch_size: [8, 16], optimizer.lr: [0.01, 0.1]}}\n");
  // Killed at step 3, before any evaluation: every trial is partial or pending.
  EXPECT_EQ(testing::run_sweeplab(dir, "run s -j 1 -q", "kill_at_step=3").code, 137);
  const auto result = testing::run_in(dir, {"report", "s"});
  ASSERT_EQ(result.code, 0) << result.err;
  EXPECT_NE(result.out.find("no trial has finished yet"), std::string::npos) << result.out;
  const std::string html = testing::read_file(dir.path() / "experiments/s/report.html");
  EXPECT_NE(html.find("No trial has finished yet"), std::string::npos);
  EXPECT_EQ(html.find("<figure"), std::string::npos);  // nothing to draw
  const std::string missing = between(html, "<h2>Figures not drawn</h2>", "</ul>");
  EXPECT_EQ(count(missing, "<li>"), 6u) << missing;
  // Every cell of the grid is there, saying what its trial is (a killed worker may not be gone yet: running).
  const std::string grid = between(html, "id=\"grid\"", "</table>");
  EXPECT_EQ(count(grid, ">pending<") + count(grid, ">partial<") + count(grid, ">running<"), 4u) << grid;
  expect_whole_svgs(dir.path() / "experiments/s/figures");
  EXPECT_EQ(testing::run_in(dir, {"report", "s"}).code, 0);  // and again, over the first report
}

TEST(Report, PartialSweepKeepsThePlannedAxes) {
  TempDir dir;
  dir.write("configs/s.yaml", "task: {samples: 200}\ntraining: {epochs: 2}\n"
                              "sweep: {grid: {training.batch_size: [8, 16], optimizer.lr: [0.003, 0.01, 0.03]}}\n");
  ASSERT_EQ(testing::run_in(dir, {"run", "s", "-q", "-o", "optimizer.lr=0.003,0.01"}).code, 0);
  // Without --pending the page counts the trials not run yet; with it they are cells of their own.
  ASSERT_EQ(testing::run_in(dir, {"report", "s"}).code, 0);
  EXPECT_NE(testing::read_file(dir.path() / "experiments/s/report.html")
                .find("2 trials of the current config not run yet: <code>sweeplab run s</code>"),
            std::string::npos);
  const auto result = testing::run_in(dir, {"report", "s", "--pending"});
  ASSERT_EQ(result.code, 0) << result.err;
  const fs::path folder = dir.path() / "experiments/s/reports/pending";
  const std::string html = testing::read_file(folder / "report.html");
  EXPECT_NE(html.find("<figure id=\"heatmap_batch\">"), std::string::npos);
  // The grid: 3 learning rates x 2 batch sizes, lr 0.03 not run yet.
  const std::string grid = between(html, "id=\"grid\"", "</table>");
  EXPECT_EQ(count(grid, "<tr>"), 4u) << grid;  // the header and one row per learning rate
  EXPECT_EQ(count(grid, "<td class=\"pending\">pending</td>"), 2u) << grid;
  EXPECT_EQ(count(grid, "<td class=\"completed\""), 4u) << grid;
  // The heatmap's script has every cell: 4 coloured, 2 marked pending.
  const std::string script = testing::read_file(folder / "figures/heatmap_batch.gp");
  EXPECT_EQ(datablock(script, "cells").size(), 4u);
  const auto unfinished = datablock(script, "noresult");
  ASSERT_EQ(unfinished.size(), 2u);
  for (const auto& cell : unfinished) EXPECT_DOUBLE_EQ(cell[1], std::log2(0.03));
  // The loss curves' panel of lr 0.03 says its trials have not run (not that they have no finite loss).
  const std::string curves = testing::read_file(folder / "figures/loss_curves.gp");
  EXPECT_EQ(count(curves, "set label 1 \"not run yet\""), 1u) << curves;
  EXPECT_NE(html.find("No curve for bs=8 lr=0.03; bs=16 lr=0.03: not run yet."), std::string::npos);
  expect_whole_svgs(dir.path() / "experiments/s/figures");
}

// batch_size_studies' gamma x eta at a fixed batch size: the heatmap's x axis is gamma, and a learning rate that
// diverges is marked in its cells.
TEST(Report, AGammaByLearningRateSweepDrawsAGammaHeatmapWithItsDivergedCells) {
  TempDir dir;
  dir.write("configs/s.yaml", "task: {name: sine2, samples: 200}\ntraining: {epochs: 2, batch_size: 8}\n"
                              "model: {hidden: [16], parameterization: mup}\nstop: {divergence_loss: 1.0e+3}\n"
                              "sweep: {grid: {model.gamma: [0.5, 2.0], optimizer.lr: [0.001, 1.0e+6]}}\n");
  ASSERT_EQ(testing::run_in(dir, {"run", "s", "-q"}).code, 0);
  const auto result = testing::run_in(dir, {"report", "s"});
  ASSERT_EQ(result.code, 0) << result.err;
  const std::string html = testing::read_file(dir.path() / "experiments/s/report.html");
  // (its number depends on how many figures come before it: loss_curves draws test and train apart here)
  EXPECT_NE(between(html, "<figure id=\"heatmap_batch\"><h2>", "</h2>").find(". Final train loss over \u03b3 (model.gamma) and learning rate"),
            std::string::npos);
  EXPECT_EQ(html.find("<figure id=\"heatmap_temperature\">"), std::string::npos);  // eta/B needs B on the x axis
  const std::string grid = between(html, "id=\"grid\"", "</table>");
  EXPECT_NE(grid.find("lr \\ \u03b3 (model.gamma)"), std::string::npos) << grid;
  const std::string script = testing::read_file(dir.path() / "experiments/s/figures/heatmap_batch.gp");
  const auto diverged = datablock(script, "diverged");
  ASSERT_EQ(diverged.size(), 2u) << script;  // lr 1e6 diverges at both gammas
  for (const auto& cell : diverged) EXPECT_DOUBLE_EQ(cell[1], std::log2(1.0e6));
  EXPECT_EQ(datablock(script, "cells").size(), 2u);
  expect_whole_svgs(dir.path() / "experiments/s/figures");
}

// A third swept key (sp vs mup) gets heatmaps of its own rather than averaging unlike trials in one cell.
TEST(Report, AThirdSweptKeyGetsAHeatmapPerValue) {
  TempDir dir;
  dir.write("configs/s.yaml", "task: {name: sine2, samples: 200}\ntraining: {epochs: 1}\nmodel: {hidden: [16]}\n"
                              "sweep: {grid: {model.parameterization: [sp, mup], training.batch_size: [8, 16], "
                              "optimizer.lr: [0.0001, 0.001]}}\n");
  ASSERT_EQ(testing::run_in(dir, {"run", "s", "-q"}).code, 0);
  ASSERT_EQ(testing::run_in(dir, {"report", "s"}).code, 0);
  const std::string html = testing::read_file(dir.path() / "experiments/s/report.html");
  EXPECT_NE(html.find("learning rate (param=sp)</h2>"), std::string::npos);
  EXPECT_NE(html.find("learning rate (param=mup)</h2>"), std::string::npos);
  for (const std::string name : {"heatmap_batch", "heatmap_batch_2", "heatmap_temperature", "heatmap_temperature_2"}) {
    const std::string script = testing::read_file(dir.path() / "experiments/s/figures" / (name + ".gp"));
    const std::string block = name.rfind("heatmap_batch", 0) == 0 ? "cells" : "tcells";
    EXPECT_EQ(datablock(script, block).size(), 4u) << name;  // 2 x 2 cells, one trial each
  }
  EXPECT_NE(html.find("id=\"grid_2\""), std::string::npos);
}

TEST(Report, DrawsADivergedTrialUpToItsLastFiniteRecord) {
  TempDir dir;
  dir.write("configs/s.yaml", "task: {samples: 200}\ntraining: {epochs: 4}\n"
                              "sweep: {grid: {training.batch_size: [8, 16]}, seeds: 2}\n");
  ASSERT_EQ(testing::run_in(dir, {"run", "s", "-q"}).code, 0);
  const auto sweep = load_sweep(dir.str("configs"), "s");
  // Batch size 8, seed 1 diverges after its second evaluation: two finite records, then the diverged step's
  // record with a null loss (whatever else it holds must not be drawn).
  std::string diverged, other;
  for (const auto& trial : sweep.trials) {
    if (trial.config.expand().training.batch_size != 8) continue;
    (trial.config.expand().training.seed == 1 ? diverged : other) = trial.id;
  }
  const fs::path trials = dir.path() / "experiments/s/trials";
  std::vector<json> records, kept;
  for (const auto& line : testing::metric_values(trials / other)) records.push_back(json::parse(line));
  for (const auto& line : testing::metric_values(trials / diverged)) kept.push_back(json::parse(line));
  ASSERT_EQ(records.size(), 4u);
  ASSERT_EQ(kept.size(), 4u);
  kept.resize(2);
  json marker = kept.back();
  marker["step"] = marker["step"].get<std::int64_t>() + 3;
  marker["train_loss"] = nullptr;
  marker["train_acc"] = 0.0123;
  marker["test_acc"] = 0.0123;
  marker["diverged"] = true;
  std::string lines;
  for (const auto& record : kept) lines += record.dump() + "\n";
  dir.write("experiments/s/trials/" + diverged + "/metrics.jsonl", lines + marker.dump() + "\n");
  auto content = summary(dir, diverged);
  content["status"] = "diverged";
  content["final"] = nullptr;
  content["diverged_at_step"] = marker["step"];
  write_summary(dir, diverged, content);

  const auto result = testing::run_in(dir, {"report", "s"});
  ASSERT_EQ(result.code, 0) << result.err;
  const std::string script = testing::read_file(dir.path() / "experiments/s/figures/loss_curves.gp");
  EXPECT_EQ(script.find("NaN"), std::string::npos);
  // Group 0 (batch size 8): the mean of both seeds while both have records, then the seed that went on.
  for (const std::string metric : {"train_acc", "test_acc"}) {
    const auto points = datablock(script, metric == "train_acc" ? "train0" : "test0");
    ASSERT_EQ(points.size(), 4u) << metric;
    for (std::size_t i = 0; i < 4; ++i) {
      EXPECT_EQ(points[i][0], records[i]["epoch"].get<double>());
      const double expected = i < 2 ? (records[i][metric].get<double>() + kept[i][metric].get<double>()) / 2
                                    : records[i][metric].get<double>();
      EXPECT_NEAR(points[i][1], expected, 1e-12) << metric << " " << i;
    }
  }
  expect_whole_svgs(dir.path() / "experiments/s/figures");
}

TEST(Report, TablesShowTheNumbersAsExportWritesThem) {
  TempDir dir;
  dir.write("configs/s.yaml", "task: {samples: 200}\ntraining: {epochs: 2}\nsweep: {grid: {training.batch_size: [8, 16]}}\n");
  ASSERT_EQ(testing::run_in(dir, {"run", "s", "-q"}).code, 0);
  ASSERT_EQ(testing::run_in(dir, {"report", "s"}).code, 0);
  const std::string html = testing::read_file(dir.path() / "experiments/s/report.html");
  const std::string table = between(html, "<h2>Trials</h2>", "</table>");
  const auto rows = parse_csv(testing::run_in(dir, {"export", "s"}).out);
  ASSERT_EQ(rows.size(), 2u);
  for (const auto& row : rows) {
    for (const std::string column : {"final_train_loss", "final_test_loss", "final_test_acc", "temperature"}) {
      ASSERT_FALSE(row.at(column).empty()) << column;
      // As export writes it: the cell's text, or (shown with 4 significant digits) the number it sorts by.
      EXPECT_TRUE(table.find("<td>" + row.at(column) + "</td>") != std::string::npos ||
                  table.find("<td data-v=\"" + row.at(column) + "\"") != std::string::npos)
          << column << " " << row.at(column);
    }
  }
  // No figure's data is written with more digits than it needs (no %.17g, no 0.30000000000000004).
  for (const std::string figure : {"loss_curves", "loss_vs_samples"}) {
    const std::string script = testing::read_file(dir.path() / "experiments/s/figures" / (figure + ".gp"));
    ASSERT_FALSE(script.empty()) << figure;
    std::istringstream words(script);
    for (std::string word; words >> word;) {
      if (word.find_first_not_of("0123456789.-+e") != std::string::npos || word.find_first_of("0123456789") == std::string::npos) continue;
      EXPECT_LE(word.size(), format_double(std::stod(word)).size()) << word;  // format_double: 1 -> 1.0
    }
  }
}

TEST(Report, CaptionsClaimNothingTheSweepDoesNotShow) {
  TempDir dir;
  dir.write("configs/s.yaml", "task: {samples: 200}\ntraining: {epochs: 2}\n"
                              "sweep: {grid: {training.batch_size: [8, 16], optimizer.lr: [0.01, 0.1]}}\n");
  ASSERT_EQ(testing::run_in(dir, {"run", "s", "-q"}).code, 0);
  ASSERT_EQ(testing::run_in(dir, {"report", "s"}).code, 0);
  const std::string html = testing::read_file(dir.path() / "experiments/s/report.html");
  for (const std::string claim : {"seed 00", "Seed 00", "losscurve_temp_samples", "with several seeds", "Mean over seeds"}) {
    EXPECT_EQ(html.find(claim), std::string::npos) << claim;  // one seed, and no reference to other projects
  }
}

TEST(Report, WithoutResultsIsAClearError) {
  TempDir dir;
  dir.write("configs/s.yaml", "task: {samples: 200}\n");
  const auto before = dir.snapshot();
  const auto result = testing::run_in(dir, {"report", "s"});
  EXPECT_EQ(result.code, 2);
  EXPECT_NE(result.err.find("report: no results for sweep 's'"), std::string::npos) << result.err;
  EXPECT_EQ(dir.snapshot(), before);
  EXPECT_EQ(testing::run_in(dir, {"export", "s", "--format", "xlsx"}).code, 2);
}

}  // namespace
}  // namespace sweeplab
