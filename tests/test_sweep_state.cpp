// The sweep's folder is the sweep: a trial is its config's hash (whatever its folder is named), every command sees
// every trial on disk however -o made it, the YAML's trials not run yet are one line, and two folders of one trial
// are reconciled by the next run.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>

#include "sweeplab/config/loader.hpp"
#include "sweeplab/store/sweep_state.hpp"
#include "test_util.hpp"

namespace sweeplab {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using testing::TempDir;

// A quick start of its own: doughnuts, batch size 4..64, lr 0.01, 20 epochs.
const std::string kQuick =
    "task: {name: doughnuts, samples: 200}\n"
    "optimizer: {name: sgd, lr: 0.01}\n"
    "training: {epochs: 20}\n"
    "checkpoint: {every: 5}\n"
    "sweep: {grid: {training.batch_size: [4, 8, 16, 32, 64]}}\n";

std::set<std::string> folders(const TempDir& dir, const std::string& name = "q") {
  std::set<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir.path() / "experiments" / name / "trials")) {
    names.insert(entry.path().filename().string());
  }
  return names;
}

json summary_of(const TempDir& dir, const std::string& folder) {
  return testing::read_json(dir.path() / "experiments/q/trials" / folder / "summary.json");
}

std::size_t count_of(const std::string& text, const std::string& needle) {
  std::size_t n = 0;
  for (auto at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

// Exploring with -o, then the plain commands: one trial per config, and every command sees all of them.
TEST(SweepState, ExploringWithOverridesMakesOneSweepThatEveryCommandSees) {
  TempDir dir;
  dir.write("configs/q.yaml", kQuick);
  const auto explored = testing::run_in(dir, {"run", "q", "-o", "training.epochs=2", "-o", "optimizer.lr=0.01,0.1", "-q"});
  ASSERT_EQ(explored.code, 0) << explored.out << explored.err;
  const auto made = folders(dir);
  ASSERT_EQ(made.size(), 10u);

  // best: a winner among the ten, all of them counted.
  const auto best = testing::run_in(dir, {"best", "q"});
  ASSERT_EQ(best.code, 0) << best.err;
  EXPECT_EQ(best.out.find("no configuration has a completed trial"), std::string::npos) << best.out;
  EXPECT_NE(best.out.find("10 trials in 10 configurations: 10 completed"), std::string::npos) << best.out;

  // export: results only, the ten; the YAML's five are the lr=0.01 ones (same hash): none is "not run".
  const auto exported = testing::run_in(dir, {"export", "q"});
  ASSERT_EQ(exported.code, 0) << exported.err;
  EXPECT_EQ(count_of(exported.out, "\n"), 11u) << exported.out;  // header + 10
  EXPECT_EQ(count_of(exported.out, ",completed,"), 10u) << exported.out;
  EXPECT_EQ(exported.out.find("pending"), std::string::npos);
  EXPECT_EQ(exported.err, "");

  // status: ten rows, each with its values; the five the YAML asks 20 epochs of say so.
  const auto status = testing::run_in(dir, {"status", "q"});
  ASSERT_EQ(status.code, 0) << status.err;
  EXPECT_NE(status.out.find("10 trials: 10 completed\n"), std::string::npos) << status.out;
  EXPECT_EQ(count_of(status.out, "the config now asks for 20 epochs"), 5u) << status.out;
  EXPECT_EQ(status.out.find("not in the current config"), std::string::npos);
  EXPECT_EQ(status.out.find("not run yet"), std::string::npos);

  // A plain run extends the five lr=0.01 trials in their folders, and makes none.
  const auto plain = testing::run_in(dir, {"run", "q", "-q"});
  ASSERT_EQ(plain.code, 0) << plain.out << plain.err;
  EXPECT_EQ(folders(dir), made);
  std::size_t extended = 0;
  for (const auto& folder : made) {
    const auto summary = summary_of(dir, folder);
    EXPECT_EQ(summary["status"], "completed") << folder;
    if (folder.find("_lr=0.01-") != std::string::npos) {
      EXPECT_GT(summary["resumed_from_step"].get<std::int64_t>(), 0) << folder;
      EXPECT_EQ(summary["epochs"], 20) << folder;
      ++extended;
    } else {
      EXPECT_EQ(summary["epochs"], 2) << folder;
    }
  }
  EXPECT_EQ(extended, 5u);
  // Now the trials differ in their budget: it is a column, and no aggregate pools 2 and 20 epochs.
  const auto aggregated = testing::run_in(dir, {"export", "q", "--aggregate"});
  ASSERT_EQ(aggregated.code, 0) << aggregated.err;
  EXPECT_NE(aggregated.out.find("training.epochs"), std::string::npos) << aggregated.out;
  EXPECT_EQ(count_of(aggregated.out, "\n"), 11u) << aggregated.out;  // ten configurations of one seed each

  // clean --all --yes: every trial goes, and with nothing left, the sweep's folder.
  const auto cleaned = testing::run_in(dir, {"clean", "q", "--all", "--yes"});
  ASSERT_EQ(cleaned.code, 0) << cleaned.out << cleaned.err;
  EXPECT_NE(cleaned.out.find("removed 10 trial folders"), std::string::npos) << cleaned.out;
  EXPECT_FALSE(fs::exists(dir.path() / "experiments/q"));
}

// The YAML's trials that no run has asked for: one line with the command, and --pending lists them.
TEST(SweepState, TheConfigsTrialsNotRunYetAreOneLineUnlessAskedFor) {
  TempDir dir;
  dir.write("configs/q.yaml", kQuick);
  ASSERT_EQ(testing::run_in(dir, {"run", "q", "-o", "training.batch_size=4", "-o", "epochs=1", "-q"}).code, 0);
  const auto status = testing::run_in(dir, {"status", "q"});
  ASSERT_EQ(status.code, 0) << status.err;
  EXPECT_NE(status.out.find("1 trial: 1 completed\n"), std::string::npos) << status.out;
  EXPECT_NE(status.out.find("4 trials of the current config not run yet: sweeplab run q (--pending lists them)"),
            std::string::npos)
      << status.out;
  const auto pending = testing::run_in(dir, {"status", "q", "--pending"});
  EXPECT_NE(pending.out.find("5 trials: 1 completed, 4 pending\n"), std::string::npos) << pending.out;
  // export: results only, unless --pending; the count goes to stderr.
  const auto exported = testing::run_in(dir, {"export", "q"});
  EXPECT_EQ(count_of(exported.out, "\n"), 2u) << exported.out;
  EXPECT_NE(exported.err.find("4 trials of the current config not run yet"), std::string::npos) << exported.err;
  EXPECT_EQ(count_of(testing::run_in(dir, {"export", "q", "--pending"}).out, ",pending,"), 4u);
  // -o narrows: batch size 8 has no trial on disk.
  const auto narrowed = testing::run_in(dir, {"status", "q", "-o", "batch_size=8"});
  EXPECT_NE(narrowed.out.find("no trials in"), std::string::npos) << narrowed.out;
  EXPECT_NE(narrowed.out.find("1 trial of the current config not run yet: sweeplab run q -o batch_size=8"),
            std::string::npos)
      << narrowed.out;
}

// A folder named under one sweep shape is found by its hash under another: the trial is looked up, not its name.
TEST(SweepState, ATrialIsFoundByItsHashWhateverItsFolderIsNamed) {
  TempDir dir;
  dir.write("configs/q.yaml", kQuick);
  ASSERT_EQ(testing::run_in(dir, {"run", "q", "-o", "optimizer.lr=0.01,0.02", "-o", "training.batch_size=4,8", "-o",
                                  "epochs=1", "-q"}).code,
            0);
  const auto sweep = load_sweep(dir.str("configs"), "q", {"training.batch_size=4,8", "epochs=1"});
  const SweepState state = read_sweep_state(sweep, dir.str("experiments"));
  ASSERT_EQ(state.trials.size(), 4u);
  ASSERT_EQ(state.not_run.size(), 0u);
  for (std::size_t i = 0; i < sweep.trials.size(); ++i) {
    const auto row = state.of_current(i);
    ASSERT_TRUE(row) << sweep.trials[i].id;
    EXPECT_EQ(state.trials[*row].hash, sweep.trials[i].hash);
    EXPECT_NE(state.trials[*row].id, sweep.trials[i].id);  // "bs=4_lr=0.01-..." holds "bs=4-..."
    EXPECT_EQ(state.trials[*row].id.substr(state.trials[*row].id.size() - 8), sweep.trials[i].id.substr(sweep.trials[i].id.size() - 8));
    EXPECT_EQ(state.trials[*row].status, TrialStatus::Completed);
  }
  // logs finds a trial by its hash too.
  const auto logs = testing::run_in(dir, {"logs", "q", sweep.trials[0].hash.hex().substr(0, 10)});
  EXPECT_EQ(logs.code, 0) << logs.err;
  EXPECT_NE(logs.out.find("trial ends: "), std::string::npos) << logs.out;
}

// Two folders of one trial (made by a version that named folders by the sweep's shape): the next run keeps the one
// further along, sets the other aside with one line, deletes nothing, and trains in the one it kept.
TEST(SweepState, TwoFoldersOfOneTrialAreReconciledByTheNextRun) {
  TempDir dir;
  dir.write("configs/q.yaml", kQuick);
  ASSERT_EQ(testing::run_in(dir, {"run", "q", "-o", "training.batch_size=16", "-o", "epochs=2", "-q"}).code, 0);
  const auto made = folders(dir);
  ASSERT_EQ(made.size(), 1u);
  const std::string kept = *made.begin();
  // An older sweeplab's second folder of the same trial, under another name, at an earlier point (no summary).
  const std::string second = "bs=16_lr=0.01-" + kept.substr(kept.size() - 8);
  fs::copy(dir.path() / "experiments/q/trials" / kept, dir.path() / "experiments/q/trials" / second);
  fs::remove(dir.path() / "experiments/q/trials" / second / "summary.json");

  const auto status = testing::run_in(dir, {"status", "q", "-o", "training.batch_size=16", "-o", "epochs=2"});
  EXPECT_NE(status.out.find("1 trial: 1 completed\n"), std::string::npos) << status.out;
  EXPECT_NE(status.out.find("trials/" + second + " holds the same trial as trials/" + kept), std::string::npos) << status.out;

  const auto run = testing::run_in(dir, {"run", "q", "-o", "training.batch_size=16", "-o", "epochs=3"});
  ASSERT_EQ(run.code, 0) << run.out << run.err;
  EXPECT_NE(run.out.find("set aside trials/" + second + " as set-aside/" + second + ": the same trial as trials/" + kept +
                         ", which holds more"),
            std::string::npos)
      << run.out;
  EXPECT_EQ(folders(dir), made);
  EXPECT_TRUE(fs::exists(dir.path() / "experiments/q/set-aside" / second / "metrics.jsonl"));
  EXPECT_GT(summary_of(dir, kept)["resumed_from_step"].get<std::int64_t>(), 0);
  EXPECT_EQ(summary_of(dir, kept)["epochs"], 3);
}

}  // namespace
}  // namespace sweeplab
