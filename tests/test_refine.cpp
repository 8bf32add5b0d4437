// sweep.refine: the rates a line needs next (refine_line_points, on synthetic lines whose boundary and best rate are
// known), the waves over a sweep's lines and seeds (next_refine_wave), the refined trials as ordinary trials, and a
// `run` that trains the waves.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <set>

#include "sweeplab/config/loader.hpp"
#include "sweeplab/sched/refine.hpp"
#include "test_util.hpp"

namespace sweeplab {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;

// A line of rates, refined wave after wave until it needs no new rate (at most `waves` waves): `diverges` and `loss`
// say what a trial at a rate gives. Returns the rates, ascending, and counts the waves.
std::vector<double> refine_until_done(std::vector<double> rates, const Refine& refine,
                                      const std::function<bool(double)>& diverges,
                                      const std::function<double(double)>& metric, int& waves) {
  waves = 0;
  for (int wave = 0; wave < 30; ++wave) {
    std::vector<LinePoint> points;
    for (const double eta : rates) points.push_back(LinePoint{eta, diverges(eta), diverges(eta) ? std::nullopt : std::optional(metric(eta))});
    const auto added = refine_line_points(points, refine);
    if (added.empty()) break;
    ++waves;
    for (const double eta : added) {
      EXPECT_EQ(std::count(rates.begin(), rates.end(), eta), 0) << eta << " is in the line already";
      EXPECT_EQ(four_significant_digits(eta), eta) << "not rounded to 4 significant digits";
    }
    EXPECT_TRUE(std::is_sorted(added.begin(), added.end()));
    rates.insert(rates.end(), added.begin(), added.end());
  }
  std::sort(rates.begin(), rates.end());
  return rates;
}

const std::vector<double> kGrid = {0.001, 0.01, 0.1, 1.0, 10.0};  // {logspace: [-3, 1, 5]}

TEST(RefineLine, BisectsTheDivergenceBoundaryToTheRatio) {
  Refine refine;
  refine.key = "optimizer.lr";
  refine.boundary = 1.19;
  const double boundary = 0.37;
  int waves = 0;
  const auto rates = refine_until_done(kGrid, refine, [&](double eta) { return eta > boundary; },
                                       [](double) { return 0.0; }, waves);
  // The largest stable and the smallest diverged rate bracket the boundary within the ratio.
  const auto diverged = std::upper_bound(rates.begin(), rates.end(), boundary);
  ASSERT_NE(diverged, rates.end());
  ASSERT_NE(diverged, rates.begin());
  const double stable = *std::prev(diverged);
  EXPECT_LE(stable, boundary);
  EXPECT_GT(*diverged, boundary);
  EXPECT_LE(*diverged / stable, 1.19 * (1 + 1e-3));  // the ratio of rates rounded to 4 digits
  // One rate a wave, each halving the gap in log rate: from a factor 10 to 2^(1/4) in 4 waves.
  EXPECT_EQ(rates.size(), kGrid.size() + std::size_t(waves));
  EXPECT_EQ(waves, int(std::ceil(std::log2(std::log(10.0) / std::log(1.19)))));
}

TEST(RefineLine, NothingToBisectWithoutADivergedRateOrWithoutAStableOneBelowIt) {
  Refine refine;
  refine.key = "optimizer.lr";
  refine.boundary = 1.19;
  EXPECT_TRUE(refine_line_points({{0.1, false, 1.0}, {1.0, false, 2.0}}, refine).empty());
  EXPECT_TRUE(refine_line_points({{0.1, true, std::nullopt}, {1.0, true, std::nullopt}}, refine).empty());
  // A stable rate above the smallest diverged one does not count: the boundary is below the first divergence.
  EXPECT_EQ(refine_line_points({{0.01, false, 1.0}, {0.1, true, std::nullopt}, {1.0, false, 1.0}}, refine),
            std::vector<double>{0.03162});
}

TEST(RefineLine, ConvergesNextToTheMinimumOfAConvexLoss) {
  Refine refine;
  refine.key = "optimizer.lr";
  refine.metric = "test_loss";
  refine.best_ratio = 1.19;
  const double minimum = 0.05;
  const auto loss = [&](double eta) { return 1.0 + std::pow(std::log(eta / minimum), 2); };
  int waves = 0;
  const auto rates = refine_until_done(kGrid, refine, [](double eta) { return eta > 3.0; }, loss, waves);
  const auto best = std::min_element(rates.begin(), rates.end(), [&](double a, double b) { return loss(a) < loss(b); });
  // The best rate found is within the ratio of the true minimum, and so are both its neighbours.
  EXPECT_LE(std::abs(std::log(*best / minimum)), std::log(1.19));
  ASSERT_NE(best, rates.begin());
  ASSERT_NE(std::next(best), rates.end());
  EXPECT_LE(*best / *std::prev(best), 1.19 * (1 + 1e-3));
  EXPECT_LE(*std::next(best) / *best, 1.19 * (1 + 1e-3));
  EXPECT_GT(waves, 1);
}

TEST(RefineLine, AnAccuracyIsBestHighest) {
  Refine refine;
  refine.key = "optimizer.lr";
  refine.metric = "test_acc";
  refine.best_ratio = 1.19;
  const double peak = 0.2;
  const auto accuracy = [&](double eta) { return 1.0 - 0.1 * std::pow(std::log(eta / peak), 2); };
  int waves = 0;
  const auto rates = refine_until_done(kGrid, refine, [](double) { return false; }, accuracy, waves);
  const auto best = std::max_element(rates.begin(), rates.end(), [&](double a, double b) { return accuracy(a) < accuracy(b); });
  EXPECT_LE(std::abs(std::log(*best / peak)), std::log(1.19));
  // Refined around the best only: no rate was added below 0.01 or above 1.
  EXPECT_EQ(std::count_if(rates.begin(), rates.end(), [](double eta) { return eta < 0.01 || eta > 1.0; }), 2);
}

TEST(RefineLine, TheBoundaryAndTheBestTogetherAddEachRateOnce) {
  Refine refine;
  refine.key = "optimizer.lr";
  refine.boundary = 1.19;
  refine.metric = "test_loss";
  refine.best_ratio = 1.19;
  // The best rate is the largest stable one: its upper neighbour is the smallest diverged one, a midpoint both ask for.
  const auto added = refine_line_points({{0.01, false, 2.0}, {0.1, false, 1.0}, {1.0, true, std::nullopt}}, refine);
  EXPECT_EQ(added, (std::vector<double>{0.03162, 0.3162}));
}

// Two batch sizes (lines) x three rates x two seeds.
const std::string kSweep =
    "task: {name: doughnuts, samples: 160}\n"
    "optimizer: {name: sgd}\n"
    "training: {epochs: 1}\n"
    "stop: {divergence_loss: 100}\n"
    "sweep:\n"
    "  grid: {training.batch_size: [4, 16], optimizer.lr: [0.01, 0.1, 1]}\n"
    "  seeds: 2\n"
    "  refine: {boundary: 1.19, waves: 2}\n";

double lr_of(const TrialSpec& trial) { return trial.config.expand().optimizer.lr; }
std::int64_t batch_of(const TrialSpec& trial) { return trial.config.expand().training.batch_size; }
std::int64_t seed_of(const TrialSpec& trial) { return trial.config.expand().training.seed; }

TEST(RefineWave, EachLineGetsItsMidpointForEverySeedAndAnyDivergedSeedCounts) {
  TempDir dir;
  dir.write("configs/r.yaml", kSweep);
  const ResolvedSweep sweep = load_sweep(dir.str("configs"), "r");
  ASSERT_EQ(sweep.trials.size(), 12u);
  ASSERT_EQ(sweep.spec.refine.key, "optimizer.lr");
  // Batch 4 diverges above 0.37; batch 16 at 1, and at 0.1 for one seed only.
  std::vector<std::optional<SettledTrial>> settled;
  for (const auto& trial : sweep.trials) {
    const bool diverged = batch_of(trial) == 4 ? lr_of(trial) > 0.37 : lr_of(trial) > 0.5 || (lr_of(trial) == 0.1 && seed_of(trial) == 1);
    settled.push_back(SettledTrial{diverged, diverged ? std::nullopt : std::optional(1.0)});
  }
  const auto wave = next_refine_wave(sweep, settled);
  ASSERT_EQ(wave.size(), 4u);  // one rate a line, two seeds each
  std::set<std::pair<std::int64_t, std::int64_t>> lines_and_seeds;
  for (const auto& point : wave) {
    EXPECT_EQ(point.wave, 1);
    const TrialSpec& base = sweep.trials.at(point.base);
    lines_and_seeds.emplace(batch_of(base), seed_of(base));
    EXPECT_EQ(point.eta, batch_of(base) == 4 ? 0.3162 : 0.03162) << batch_of(base);
  }
  EXPECT_EQ(lines_and_seeds.size(), 4u);

  // The refined trials are ordinary trials: the same hash and id as the same rate written in the grid.
  const ResolvedSweep refined = with_refined(sweep, wave);
  ASSERT_EQ(refined.trials.size(), 16u);
  dir.write("configs/g.yaml", "extends: r\nsweep:\n  grid: {optimizer.lr: [0.03162, 0.3162]}\n  refine: none\n");
  const ResolvedSweep grid = load_sweep(dir.str("configs"), "g");
  std::set<std::string> grid_hashes, grid_ids;
  for (const auto& trial : grid.trials) grid_hashes.insert(trial.hash.hex());
  for (const auto& trial : grid.trials) grid_ids.insert(trial.id.substr(0, trial.id.rfind('-')));
  for (std::size_t i = 12; i < 16; ++i) {
    EXPECT_EQ(grid_hashes.count(refined.trials[i].hash.hex()), 1u) << refined.trials[i].id;
    EXPECT_EQ(grid_ids.count(refined.trials[i].id.substr(0, refined.trials[i].id.rfind('-'))), 1u) << refined.trials[i].id;
  }

  // A line with a trial not settled waits; the other goes on.
  auto unsettled = settled;
  for (std::size_t i = 0; i < sweep.trials.size(); ++i) {
    if (batch_of(sweep.trials[i]) == 16 && seed_of(sweep.trials[i]) == 0 && lr_of(sweep.trials[i]) == 0.01) unsettled[i].reset();
  }
  const auto waiting = next_refine_wave(sweep, unsettled);
  ASSERT_EQ(waiting.size(), 2u);
  for (const auto& point : waiting) EXPECT_EQ(batch_of(sweep.trials.at(point.base)), 4);

  // waves: 2 caps each line: after two waves it gets no more, whatever its results.
  ResolvedSweep twice = with_refined(refined, next_refine_wave(refined, [&] {
    auto more = settled;
    for (std::size_t i = 12; i < 16; ++i) more.push_back(SettledTrial{false, 1.0});
    return more;
  }()));
  ASSERT_GT(twice.trials.size(), 16u);
  std::vector<std::optional<SettledTrial>> all(twice.trials.size(), SettledTrial{false, 1.0});
  for (std::size_t i = 0; i < 12; ++i) all[i] = settled[i];
  EXPECT_TRUE(next_refine_wave(twice, all).empty());

  // Expanding a spec that holds the points gives the same trials (what a worker process rebuilds).
  SweepSpec spec = twice.spec;
  const auto expanded = expand(spec);
  ASSERT_EQ(expanded.size(), twice.trials.size());
  for (std::size_t i = 0; i < expanded.size(); ++i) EXPECT_EQ(expanded[i].id, twice.trials[i].id);
  const auto parsed = parse_refined(refined_text(twice.spec.refined));
  ASSERT_EQ(parsed.size(), twice.spec.refined.size());
  for (std::size_t i = 0; i < parsed.size(); ++i) {
    EXPECT_EQ(parsed[i].base, twice.spec.refined[i].base);
    EXPECT_EQ(parsed[i].eta, twice.spec.refined[i].eta);
    EXPECT_EQ(parsed[i].wave, twice.spec.refined[i].wave);
  }
}

TEST(RefineWave, TheTemperatureAxisIsRefinedWithItsLearningRateDerived) {
  TempDir dir;
  dir.write("configs/t.yaml",
            "task: {name: doughnuts, samples: 160}\noptimizer: {name: sgd}\n"
            "sweep:\n  grid: {training.batch_size: [4], optimizer.temperature: [0.001, 0.1]}\n  refine: {boundary: 1.19}\n");
  const ResolvedSweep sweep = load_sweep(dir.str("configs"), "t");
  ASSERT_EQ(sweep.spec.refine.key, "optimizer.temperature");
  std::vector<std::optional<SettledTrial>> settled = {SettledTrial{false, 1.0}, SettledTrial{true, std::nullopt}};
  const auto refined = with_refined(sweep, next_refine_wave(sweep, settled));
  ASSERT_EQ(refined.trials.size(), 3u);
  const Config config = refined.trials[2].config.expand();
  EXPECT_EQ(config.optimizer.temperature, 0.01);
  EXPECT_EQ(config.optimizer.lr, 0.01 * 4);
}

// Two lines (batch sizes 8 and 16) from a stable 0.01 to a diverging 1000: the boundary bisected (to a ratio of 4,
// in at most 3 waves) and the best rate by train_loss refined.
const std::string kTiny =
    "task: {name: doughnuts, samples: 160}\n"
    "optimizer: {name: sgd}\n"
    "training: {epochs: 1}\n"
    "stop: {divergence_loss: 100}\n"
    "sweep:\n"
    "  grid: {training.batch_size: [8, 16], optimizer.lr: [0.01, 1000]}\n"
    "  refine: {boundary: 4, best: {metric: train_loss, ratio: 4}, waves: 3}\n";

std::set<std::string> trial_folders(const TempDir& dir) {
  std::set<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir.path() / "experiments" / "r" / "trials")) {
    names.insert(entry.path().filename().string());
  }
  return names;
}

TEST(RefineRun, TrainsTheWavesAsOrdinaryTrialsTheSameWhateverTheWorkersAndOnce) {
  TempDir one, two;
  one.write("configs/r.yaml", kTiny);
  two.write("configs/r.yaml", kTiny);
  const auto first = testing::run_in(one, {"run", "r", "-j", "1"});
  ASSERT_EQ(first.code, 0) << first.out << first.err;
  EXPECT_NE(first.out.find("sweep.refine: wave 1: "), std::string::npos) << first.out;
  const auto folders = trial_folders(one);
  EXPECT_GT(folders.size(), 4u);  // the grid's 4 and the refined ones
  // Each refined trial is an ordinary trial: a folder with its summary, found again by the config it had.
  const ResolvedSweep sweep = refine_from_files(load_sweep(one.str("configs"), "r"), one.str("experiments"));
  ASSERT_EQ(sweep.trials.size(), folders.size());
  for (const auto& trial : sweep.trials) {
    EXPECT_EQ(folders.count(trial.id), 1u) << trial.id;
    const auto summary = testing::read_json(one.path() / "experiments" / "r" / "trials" / trial.id / "summary.json");
    EXPECT_TRUE(summary["status"] == "completed" || summary["status"] == "diverged") << trial.id << summary.dump();
  }
  // The last wave's points were trained: no line needs another, or each had its 3 waves.
  const SweepState state = read_sweep_state(sweep, one.str("experiments"));
  EXPECT_TRUE(next_refine_wave(sweep, settled_trials(sweep, state)).empty());

  const auto again = testing::run_in(one, {"run", "r"});
  ASSERT_EQ(again.code, 0) << again.out << again.err;
  EXPECT_NE(again.out.find("nothing to train"), std::string::npos) << again.out;
  EXPECT_EQ(again.out.find("sweep.refine: wave"), std::string::npos) << again.out;
  EXPECT_NE(again.out.find("r: 0 completed, 0 diverged, 0 failed, 0 skipped"), std::string::npos) << again.out;
  EXPECT_EQ(trial_folders(one), folders);

  const auto parallel = testing::run_in(two, {"run", "r", "-j", "2", "-q"});
  ASSERT_EQ(parallel.code, 0) << parallel.out << parallel.err;
  EXPECT_EQ(trial_folders(two), folders);

  // status marks them, and counts them.
  const auto status = testing::run_in(one, {"status", "r"});
  ASSERT_EQ(status.code, 0) << status.err;
  EXPECT_NE(status.out.find("refined, wave 1"), std::string::npos) << status.out;
  EXPECT_NE(status.out.find(" " + std::to_string(folders.size() - 4) + " refined"), std::string::npos) << status.out;
  // The report says how many there are.
  const auto report = testing::run_in(one, {"report", "r"});
  ASSERT_EQ(report.code, 0) << report.err;
  const std::string html = testing::read_file(one.path() / "experiments" / "r" / "report.html");
  EXPECT_NE(html.find(std::to_string(folders.size() - 4) + " trials added by sweep.refine in "), std::string::npos);
}

TEST(RefineRun, ARunStoppedBetweenWavesGoesOnWhereItWas) {
  TempDir dir, whole;
  whole.write("configs/r.yaml", kTiny);
  ASSERT_EQ(testing::run_in(whole, {"run", "r", "-q"}).code, 0);
  // The grid alone first (a run that stopped after wave 0), then the sweep with its refinement.
  dir.write("configs/r.yaml", kTiny);
  const auto grid = testing::run_in(dir, {"run", "r", "-q", "-o", "sweep.refine=none"});
  ASSERT_EQ(grid.code, 0) << grid.err;
  EXPECT_EQ(trial_folders(dir).size(), 4u);
  const auto rest = testing::run_in(dir, {"run", "r"});
  ASSERT_EQ(rest.code, 0) << rest.out << rest.err;
  EXPECT_NE(rest.out.find(" refined by sweep.refine)"), std::string::npos) << rest.out;  // wave 1, from the files
  EXPECT_EQ(trial_folders(dir), trial_folders(whole));
}

}  // namespace
}  // namespace sweeplab
