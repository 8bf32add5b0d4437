// The trial index (experiments/NAME/index.sqlite) is a cache the trial folders can always rebuild: deleted,
// truncated, damaged, left stale by a kill in the middle of a write, or written by concurrent runs while a status
// --watch reads it, it ends up saying what the files say.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "sweeplab/config/loader.hpp"
#include "sweeplab/config/schema.hpp"
#include "sweeplab/store/lock.hpp"
#include "sweeplab/store/sweep_state.hpp"
#include "sweeplab/store/trial_index.hpp"
#include "test_util.hpp"

namespace sweeplab {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;

const std::string kSweep =
    "task: {name: doughnuts, samples: 200}\n"
    "optimizer: {name: sgd, lr: 0.05}\n"
    "training: {epochs: 2}\n"
    "sweep: {grid: {training.batch_size: [8, 16], optimizer.lr: [0.05, 0.1]}}\n";

fs::path index_file(const TempDir& dir, const std::string& name = "s") {
  return dir.path() / "experiments" / name / TrialIndex::kFileName;
}

// What a reader of the index and a reader of the files each say of every trial: equal, and every settled row clean.
void expect_index_agrees_with_files(const TempDir& dir, const std::string& name = "s") {
  const fs::path root = dir.path() / "experiments" / name;
  auto index = TrialIndex::open(root.string(), /*create=*/false);
  ASSERT_TRUE(index) << "no index in " << root;
  const auto rows = index->load();
  std::set<std::string> on_disk;
  for (const auto& entry : fs::directory_iterator(root / "trials")) on_disk.insert(entry.path().filename().string());
  std::set<std::string> indexed;
  for (const auto& row : rows) {
    SCOPED_TRACE(row.trial.id);
    if (!on_disk.count(row.trial.id)) {  // only a trial a run planned and has not started has no folder
      EXPECT_TRUE(row.planned && row.dirty && !row.trial.has_files);
      continue;
    }
    indexed.insert(row.trial.id);
    if (!row.trial.has_files) {
      EXPECT_TRUE(row.dirty);
      continue;
    }
    const TrialState files = read_trial_files((root / "trials" / row.trial.id).string(), TrialRead{});
    EXPECT_EQ(row.trial.hash, files.hash);
    EXPECT_EQ(row.trial.config, files.config);
    if (row.dirty) continue;  // a dirty row is never trusted: readers read the files
    EXPECT_TRUE(settled(row.trial.status)) << to_string(row.trial.status);
    EXPECT_EQ(row.trial.status, files.status);
    ASSERT_EQ(bool(row.trial.summary), bool(files.summary));
    if (files.summary) {
      EXPECT_EQ(row.trial.summary->steps, files.summary->steps);
      EXPECT_EQ(row.trial.summary->wall_time_s, files.summary->wall_time_s);
      ASSERT_TRUE(row.trial.summary->final && files.summary->final);
      EXPECT_EQ(row.trial.summary->final->test_acc, files.summary->final->test_acc);
      EXPECT_EQ(row.trial.summary->final->train_loss, files.summary->final->train_loss);
    }
  }
  EXPECT_EQ(indexed, on_disk);
}

// The sweep as `status` sees it: each trial's folder, status, steps and final train loss.
std::vector<std::string> as_read(const TempDir& dir, const std::string& name = "s") {
  const auto sweep = load_sweep(dir.str("configs"), name);
  std::vector<std::string> rows;
  for (const auto& trial : read_sweep_state(sweep, dir.str("experiments")).trials) {
    const auto last = trial.last();
    rows.push_back(trial.id + " " + to_string(trial.status) + " " + std::to_string(trial.steps_done()) + " " +
                   (last ? std::to_string(last->train_loss) : "-"));
  }
  return rows;
}

TEST(TrialIndex, IsWrittenAsTrialsSettleAndAgreesWithTheFiles) {
  TempDir dir;
  dir.write("configs/s.yaml", kSweep);
  ASSERT_EQ(testing::run_in(dir, {"run", "s", "-q"}).code, 0);
  ASSERT_TRUE(fs::exists(index_file(dir)));
  expect_index_agrees_with_files(dir);
  auto index = TrialIndex::open((dir.path() / "experiments/s").string(), false);
  for (const auto& row : index->load()) EXPECT_FALSE(row.dirty) << row.trial.id;  // the run wrote them all settled
}

TEST(TrialIndex, IsRebuiltWhenDeletedTruncatedOrDamaged) {
  TempDir dir;
  dir.write("configs/s.yaml", kSweep);
  ASSERT_EQ(testing::run_in(dir, {"run", "s", "-q"}).code, 0);
  const auto expected = as_read(dir);
  ASSERT_EQ(expected.size(), 4u);
  const auto size = fs::file_size(index_file(dir));
  const std::vector<std::pair<std::string, std::function<void()>>> damages = {
      {"deleted", [&] { fs::remove(index_file(dir)); }},
      {"truncated to half", [&] { fs::resize_file(index_file(dir), size / 2); }},
      {"emptied", [&] { fs::resize_file(index_file(dir), 0); }},
      {"overwritten with other bytes", [&] { std::ofstream(index_file(dir)) << std::string(size, 'x'); }},
      {"a page zeroed",
       [&] {
         std::fstream file(index_file(dir), std::ios::in | std::ios::out | std::ios::binary);
         file.seekp(std::streamoff(size / 2));
         file << std::string(1024, '\0');
       }},
  };
  for (const auto& [what, damage] : damages) {
    SCOPED_TRACE(what);
    as_read(dir);  // a whole index first
    damage();
    EXPECT_EQ(as_read(dir), expected);
    expect_index_agrees_with_files(dir);
    EXPECT_EQ(testing::run_in(dir, {"status", "s"}).code, 0);
  }
}

// A process killed in the middle of writing the index: SQLite's journal takes the write back, and the rows it had
// marked dirty are read from the files.
TEST(TrialIndex, AKillInTheMiddleOfAWriteLeavesItConsistent) {
  TempDir dir;
  dir.write("configs/s.yaml", kSweep);
  ASSERT_EQ(testing::run_in(dir, {"run", "s", "-q"}).code, 0);
  const auto expected = as_read(dir);
  const auto sweep = load_sweep(dir.str("configs"), "s");
  for (const int delay_ms : {1, 5, 20, 50}) {
    SCOPED_TRACE(delay_ms);
    const pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      // What a run does before it trains: marks its trials planned, over and over (with many new rows too).
      auto index = TrialIndex::open(dir.str("experiments/s"), true);
      std::vector<PlannedTrial> planned;
      for (const auto& trial : sweep.trials) planned.push_back({trial.id, trial.hash, trial.config});
      for (int i = 0; i < 5000; ++i) {  // trials of lr 0.77 that no run makes: forgotten by clean -o lr=0.77 below
        CompactConfig config = sweep.trials[0].config;
        config.set(field_index("optimizer.lr"), 0.77);
        config.set(field_index("training.seed"), std::int64_t(1000 + i));
        planned.push_back({"never-made-" + std::to_string(i), config.hash(), config});
      }
      for (;;) index->plan(planned);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
    ::kill(child, SIGKILL);
    int status = 0;
    ::waitpid(child, &status, 0);
    ASSERT_TRUE(WIFSIGNALED(status));
    // The trials read as before (the planned rows that never got folders are pending, and go with clean --all).
    auto rows = as_read(dir);
    rows.erase(std::remove_if(rows.begin(), rows.end(), [](const std::string& r) { return r.rfind("never-made-", 0) == 0; }),
               rows.end());
    EXPECT_EQ(rows, expected);
    expect_index_agrees_with_files(dir);
    ASSERT_EQ(testing::run_in(dir, {"clean", "s", "--all", "--yes", "-o", "lr=0.77"}).code, 0);
  }
}

// A run killed like a power loss, trials settled but not yet in the index: readers read them from their files; the
// next run finishes the sweep and the index agrees.
TEST(TrialIndex, ARunKilledBeforeItWroteTheIndexIsReadFromTheFiles) {
  TempDir dir;
  dir.write("configs/s.yaml", kSweep);
  const auto killed = testing::run_sweeplab(dir, "run s -j 1 --group-size 1", "kill_at_step=30@bs=8");
  ASSERT_EQ(killed.code, 137) << killed.out << killed.err;
  const auto sweep = load_sweep(dir.str("configs"), "s");
  // The killed worker may still be on its way out, holding its trial's lock.
  for (int tries = 0; tries < 100; ++tries) {
    bool held = false;
    for (const auto& entry : fs::directory_iterator(dir.path() / "experiments/s/trials")) held = held || lock_holder(entry.path().string());
    if (!held) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  // What the files say, trial by trial, against what a reader says.
  const SweepState state = read_sweep_state(sweep, dir.str("experiments"));
  for (const auto& trial : state.trials) {
    if (!trial.has_files) continue;  // planned by the run, never started
    const auto files = read_trial_files(dir.str("experiments/s/trials/" + trial.id), TrialRead{});
    EXPECT_EQ(trial.status, files.status) << trial.id;
    EXPECT_EQ(trial.steps_done(), files.steps_done()) << trial.id;
  }
  expect_index_agrees_with_files(dir);
  const auto resumed = testing::run_sweeplab(dir, "run s -q");
  ASSERT_EQ(resumed.code, 0) << resumed.out << resumed.err;
  expect_index_agrees_with_files(dir);
  for (const auto& row : as_read(dir)) EXPECT_NE(row.find(" completed "), std::string::npos) << row;
}

// Four runs of overlapping parts of one sweep at once, and a status --watch reading all along.
TEST(TrialIndex, ConcurrentRunsAndAWatchLeaveItConsistent) {
  TempDir dir;
  dir.write("configs/s.yaml",
            "task: {name: doughnuts, samples: 200}\n"
            "training: {epochs: 2}\n"
            "sweep: {grid: {training.batch_size: [8, 16], optimizer.lr: [0.05, 0.1]}, seeds: 3}\n");
  const std::string binary = SWEEPLAB_BINARY;
  const auto start = [&](const std::string& arguments, const std::string& log) {
    const std::string command = "cd " + dir.str() + " && " + binary + " " + arguments + " > " + log + " 2>&1";
    return std::thread([command] { (void)!std::system(command.c_str()); });
  };
  std::vector<std::thread> runs;
  runs.push_back(start("status s --watch --interval 0.1", "watch.txt"));
  runs.push_back(start("run s -q -j 1", "run1.txt"));
  runs.push_back(start("run s -q -j 1 -o batch_size=8", "run2.txt"));
  runs.push_back(start("run s -q -j 1 -o lr=0.1", "run3.txt"));
  runs.push_back(start("run s -q -j 1 -o seeds=2", "run4.txt"));
  for (auto& run : runs) run.join();
  for (const std::string log : {"run1.txt", "run2.txt", "run3.txt", "run4.txt"}) {
    const std::string text = testing::read_file(dir.path() / log);
    EXPECT_EQ(text.find("storage error"), std::string::npos) << log << ": " << text;
    EXPECT_NE(text.find(" 0 failed, "), std::string::npos) << log << ": " << text;
  }
  expect_index_agrees_with_files(dir);
  const auto rows = as_read(dir);
  EXPECT_EQ(rows.size(), 12u);
  for (const auto& row : rows) EXPECT_NE(row.find(" completed "), std::string::npos) << row;
  expect_index_agrees_with_files(dir);
}

}  // namespace
}  // namespace sweeplab
