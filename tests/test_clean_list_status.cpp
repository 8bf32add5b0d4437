// `clean` (one confirmation, running trials never removed), `list`'s experiments on disk, and `status`
// --where / --state / --watch. Most trials here are written by hand (a summary.json is what makes a trial failed
// or diverged); the list test runs a real two-trial sweep for its runs.jsonl and config.yaml files.
#include <gtest/gtest.h>

#include <chrono>
#include <optional>
#include <regex>
#include <thread>

#include "sweeplab/commands.hpp"
#include "sweeplab/config/loader.hpp"
#include "sweeplab/sched/interrupt.hpp"
#include "sweeplab/store/lock.hpp"
#include "test_util.hpp"

namespace sweeplab {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;

// Four trials: batch size 16 and 32 times lr 0.05 and 0.1.
const std::string kSweep =
    "task: {name: doughnuts, samples: 200}\n"
    "optimizer: {name: sgd, lr: 0.05}\n"
    "training: {epochs: 1}\n"
    "sweep: {grid: {training.batch_size: [16, 32], optimizer.lr: [0.05, 0.1]}}\n";

std::vector<std::string> ids_of(const TempDir& dir, const std::vector<std::string>& overrides = {}) {
  std::vector<std::string> ids;
  for (const auto& trial : load_sweep(dir.str("configs"), "t", overrides).trials) ids.push_back(trial.id);
  return ids;
}

fs::path trial_path(const TempDir& dir, const std::string& id) { return dir.path() / "experiments/t/trials" / id; }

// The sweep with its trials settled as `states` says (by index): completed, failed, diverged, ...
std::vector<std::string> settled_sweep(const TempDir& dir, const std::vector<std::string>& states) {
  dir.write("configs/t.yaml", kSweep);
  const auto ids = ids_of(dir);
  dir.write("experiments/t/sweep.json", "{}\n");
  for (std::size_t i = 0; i < states.size(); ++i) {
    dir.write("experiments/t/trials/" + ids[i] + "/summary.json", R"({"status": ")" + states[i] + R"("})");
  }
  return ids;
}

// What is under experiments/ (the real binary's out.txt and err.txt lie beside it), but the trial index: a cache
// of what the trial folders say, which reading commands keep up to date.
std::set<std::string> experiments_snapshot(const TempDir& dir) {
  std::set<std::string> entries;
  for (const auto& entry : dir.snapshot()) {
    if (entry.rfind("experiments", 0) == 0 && entry.find("/index.sqlite") == std::string::npos) entries.insert(entry);
  }
  return entries;
}

std::size_t count_lines(const std::string& text) { return std::size_t(std::count(text.begin(), text.end(), '\n')); }

std::size_t count_of(const std::string& text, const std::string& needle) {
  std::size_t count = 0;
  for (auto at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++count;
  return count;
}

// `clean` in-process, answering on `in` with `answer` (a caller's stream is asked like a terminal).
testing::CliResult clean_answering(const TempDir& dir, CleanOptions options, const std::string& answer) {
  GlobalOptions global;
  global.configs_dir = dir.str("configs");
  global.experiments_dir = dir.str("experiments");
  std::istringstream in(answer);
  std::ostringstream out, err;
  testing::CliResult result;
  result.code = run_clean(global, options, in, out, err);
  result.out = out.str();
  result.err = err.str();
  return result;
}

CleanOptions clean_options(bool failed, bool diverged, bool all) {
  CleanOptions options;
  options.name = "t";
  options.failed = failed;
  options.diverged = diverged;
  options.all = all;
  return options;
}

// The real binary with a shell command line before it (a pipe) or after it (a redirection).
testing::Process shell(const TempDir& dir, const std::string& command) {
  const int status = std::system(("cd " + dir.str() + " && " + command + " > out.txt 2> err.txt").c_str());
  testing::Process process;
  process.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  process.out = testing::read_file(dir.path() / "out.txt");
  process.err = testing::read_file(dir.path() / "err.txt");
  return process;
}

// ---------------------------------------------------------------------------------------------------- clean

TEST(Clean, BadInputIsOneLineExitTwoAndRemovesNothing) {
  TempDir dir;
  settled_sweep(dir, {"completed", "failed", "diverged", "failed"});
  const auto before = experiments_snapshot(dir);
  struct Case {
    std::vector<std::string> args;
    std::string says;
  };
  for (const Case& bad : std::vector<Case>{
           {{"clean", "t", "--yes"}, "exactly one"},                                   // no mode
           {{"clean", "t", "--failed", "--all", "--yes"}, "--failed and --all together"},  // two modes
           {{"clean", "t", "--failed", "--diverged", "--all"}, "give exactly one of"},
           {{"clean", "nope", "--failed", "--yes"}, "unknown sweep 'nope'"},
           {{"clean", "t", "--failed", "-o", "lrr=1", "--yes"}, "lrr"},
       }) {
    const auto result = testing::run_in(dir, bad.args);
    EXPECT_EQ(result.code, 2) << bad.args[2] << result.out << result.err;
    EXPECT_EQ(count_lines(result.err), 1u) << result.err;
    EXPECT_NE(result.err.find(bad.says), std::string::npos) << result.err;
    EXPECT_EQ(result.out, "") << result.out;
  }
  EXPECT_EQ(experiments_snapshot(dir), before);

  // No terminal and no --yes: the real binary with stdin from /dev/null, and with an answer piped in.
  for (const std::string& command : {std::string(SWEEPLAB_BINARY) + " clean t --failed < /dev/null",
                                    "echo y | " + std::string(SWEEPLAB_BINARY) + " clean t --failed"}) {
    const auto result = shell(dir, command);
    EXPECT_EQ(result.code, 2) << command << result.out << result.err;
    EXPECT_EQ(count_lines(result.err), 1u) << result.err;
    EXPECT_NE(result.err.find("would remove 2 failed trials"), std::string::npos) << result.err;
    EXPECT_NE(result.err.find("--yes"), std::string::npos) << result.err;
    EXPECT_EQ(result.out, "");
  }
  EXPECT_EQ(experiments_snapshot(dir), before);
}

TEST(Clean, FailedAsksOnceListingTheTrialsAndRemovesOnlyThemOnYes) {
  TempDir dir;
  const auto ids = settled_sweep(dir, {"completed", "failed", "diverged", "failed"});
  const auto before = experiments_snapshot(dir);
  // No (or no answer at all): nothing removed, after the list of what would have been.
  for (const std::string answer : {"n\n", "\n", "", "yes please\n"}) {
    const auto result = clean_answering(dir, clean_options(true, false, false), answer);
    EXPECT_EQ(result.code, 0) << result.err;
    EXPECT_NE(result.out.find("2 failed trials"), std::string::npos) << result.out;
    EXPECT_NE(result.out.find("Remove 2 trial folders? [y/N]"), std::string::npos) << result.out;
    EXPECT_NE(result.out.find("nothing removed"), std::string::npos) << result.out;
    EXPECT_EQ(experiments_snapshot(dir), before) << "answer '" << answer << "'";
  }
  const auto result = clean_answering(dir, clean_options(true, false, false), "Y\n");
  ASSERT_EQ(result.code, 0) << result.err;
  // The ids come before the question, and again after "removed".
  const auto question = result.out.find("? [y/N]");
  const auto removed = result.out.find("removed 2 trial folders:");
  ASSERT_NE(question, std::string::npos) << result.out;
  ASSERT_NE(removed, std::string::npos) << result.out;
  for (const std::size_t i : {1u, 3u}) {
    EXPECT_LT(result.out.find(ids[i]), question) << result.out;
    EXPECT_NE(result.out.find(ids[i], removed), std::string::npos) << result.out;
    EXPECT_FALSE(fs::exists(trial_path(dir, ids[i]))) << ids[i];
  }
  for (const std::size_t i : {0u, 2u}) {
    EXPECT_EQ(result.out.find(ids[i]), std::string::npos) << result.out;
    EXPECT_TRUE(fs::exists(trial_path(dir, ids[i]) / "summary.json")) << ids[i];
  }
  EXPECT_TRUE(fs::exists(dir.path() / "experiments/t/sweep.json"));
  // Nothing left behind: no hidden folder of the removal.
  for (const auto& entry : fs::directory_iterator(dir.path() / "experiments/t")) {
    EXPECT_NE(entry.path().filename().string().rfind(".clean", 0), 0u) << entry.path();
  }
  // Again: nothing to remove, no question.
  const auto again = clean_answering(dir, clean_options(true, false, false), "");
  EXPECT_EQ(again.code, 0);
  EXPECT_NE(again.out.find("nothing to remove"), std::string::npos) << again.out;
  EXPECT_EQ(again.out.find("[y/N]"), std::string::npos) << again.out;
}

TEST(Clean, DivergedWithYesRemovesTheDivergedOnesOnly) {
  TempDir dir;
  const auto ids = settled_sweep(dir, {"diverged", "failed", "diverged", "completed"});
  const auto result = testing::run_in(dir, {"clean", "t", "--diverged", "--yes"});
  ASSERT_EQ(result.code, 0) << result.err;
  EXPECT_EQ(result.out.find("[y/N]"), std::string::npos) << result.out;
  EXPECT_NE(result.out.find("removed 2 trial folders"), std::string::npos) << result.out;
  EXPECT_FALSE(fs::exists(trial_path(dir, ids[0])));
  EXPECT_FALSE(fs::exists(trial_path(dir, ids[2])));
  EXPECT_TRUE(fs::exists(trial_path(dir, ids[1])));
  EXPECT_TRUE(fs::exists(trial_path(dir, ids[3])));
}

TEST(Clean, ARunningTrialIsNamedAndNeverRemoved) {
  TempDir dir;
  const auto ids = settled_sweep(dir, {"failed", "failed", "completed", "completed"});
  // ids[0] failed before and is being trained again: its lock is held.
  auto lock = TrialLock::try_acquire(trial_path(dir, ids[0]).string());
  ASSERT_TRUE(lock);
  auto result = testing::run_in(dir, {"clean", "t", "--failed", "--yes"});
  ASSERT_EQ(result.code, 0) << result.err;
  EXPECT_TRUE(fs::exists(trial_path(dir, ids[0]) / "summary.json"));
  EXPECT_FALSE(fs::exists(trial_path(dir, ids[1])));
  EXPECT_TRUE(std::regex_search(result.out, std::regex("not removed: 1 trial .*\n  " + ids[0] + ": running")))
      << result.out;

  // --all: every other trial goes; the running one, and so sweep.json and the folder, stay.
  result = testing::run_in(dir, {"clean", "t", "--all", "--yes"});
  ASSERT_EQ(result.code, 0) << result.err;
  EXPECT_NE(result.out.find("removed 2 trial folders"), std::string::npos) << result.out;
  EXPECT_NE(result.out.find(ids[0] + ": running"), std::string::npos) << result.out;
  EXPECT_TRUE(fs::exists(trial_path(dir, ids[0]) / "summary.json"));
  EXPECT_FALSE(fs::exists(trial_path(dir, ids[2])));
  EXPECT_FALSE(fs::exists(trial_path(dir, ids[3])));
  EXPECT_TRUE(fs::exists(dir.path() / "experiments/t/sweep.json"));

  // Once it ends, --all takes it and the sweep's folder.
  lock.reset();
  result = testing::run_in(dir, {"clean", "t", "--all", "--yes"});
  ASSERT_EQ(result.code, 0) << result.err;
  EXPECT_NE(result.out.find("removed 1 trial folder:\n  " + ids[0]), std::string::npos) << result.out;
  EXPECT_FALSE(fs::exists(dir.path() / "experiments/t"));
}

TEST(Clean, AllWithOverridesRemovesOnlyTheTrialsTheyKeep) {
  TempDir dir;
  const auto ids = settled_sweep(dir, {"completed", "completed", "completed", "completed"});
  dir.write("experiments/t/runs.jsonl", R"({"started_at": "2024-01-01T00:00:00Z", "command": "run"})" "\n");
  // -o batch_size=16,64 keeps the two trials of batch size 16 (found by their hash, whatever their folders' names).
  const auto current = ids_of(dir, {"batch_size=16,64"});
  ASSERT_EQ(current.size(), 4u);
  auto result = testing::run_in(dir, {"clean", "t", "--all", "-o", "batch_size=16,64", "--yes"});
  ASSERT_EQ(result.code, 0) << result.err;
  for (const auto& id : ids) {
    const bool is_current = std::find(current.begin(), current.end(), id) != current.end();
    EXPECT_EQ(fs::exists(trial_path(dir, id)), !is_current) << id;
  }
  EXPECT_NE(result.out.find("2 trials left out by -o or --where stay"), std::string::npos) << result.out;
  EXPECT_TRUE(fs::exists(dir.path() / "experiments/t/sweep.json"));
  EXPECT_TRUE(fs::exists(dir.path() / "experiments/t/runs.jsonl"));
  // Again: nothing of that sweep is left; it says what stays.
  result = testing::run_in(dir, {"clean", "t", "--all", "-o", "batch_size=16,64", "--yes"});
  EXPECT_EQ(result.code, 0);
  EXPECT_NE(result.out.find("nothing to remove"), std::string::npos) << result.out;
  EXPECT_NE(result.out.find("2 trials on disk are left out by -o or --where"), std::string::npos) << result.out;
}

TEST(Clean, AnswersOnARealTerminal) {
  if (std::system("command -v script > /dev/null 2>&1") != 0) GTEST_SKIP() << "no `script` (util-linux) for a pty";
  TempDir dir;
  const auto ids = settled_sweep(dir, {"failed", "completed"});
  // script(1) runs sweeplab on a pseudo-terminal and types what comes on its stdin.
  const auto run = [&](const std::string& answer) {
    return shell(dir, "printf '" + answer + "' | script -qec '" + std::string(SWEEPLAB_BINARY) +
                          " clean t --failed' /dev/null");
  };
  auto result = run("n\\n");
  EXPECT_EQ(result.code, 0) << result.out << result.err;
  EXPECT_NE(result.out.find("[y/N]"), std::string::npos) << result.out;
  EXPECT_TRUE(fs::exists(trial_path(dir, ids[0])));
  result = run("y\\n");
  EXPECT_EQ(result.code, 0) << result.out << result.err;
  EXPECT_NE(result.out.find("removed 1 trial folder"), std::string::npos) << result.out;
  EXPECT_FALSE(fs::exists(trial_path(dir, ids[0])));
  EXPECT_TRUE(fs::exists(trial_path(dir, ids[1])));
}

// ----------------------------------------------------------------------------------------------------- list

// The row of `name` in list's table of experiments on disk.
std::string disk_row(const std::string& out, const std::string& name) {
  const auto table = out.find("experiments on disk");
  if (table == std::string::npos) return "";
  const auto at = out.find("\n" + name + " ", table);
  return at == std::string::npos ? "" : out.substr(at + 1, out.find('\n', at + 1) - at - 1);
}

TEST(List, ExperimentsOnDiskWithDoneOfTotalLastRunAndTheYamlsTrialsNotRunYet) {
  TempDir dir;
  dir.write("configs/t.yaml", "task: {name: doughnuts, samples: 200}\ntraining: {epochs: 3}\n"
                              "sweep: {grid: {training.batch_size: [16, 32]}}\n");
  const auto run = testing::run_in(dir, {"run", "t", "-q", "-o", "epochs=1"});
  ASSERT_EQ(run.code, 0) << run.err;
  // The first table stays as it was.
  auto result = testing::run_in(dir, {"list"});
  ASSERT_EQ(result.code, 0) << result.err;
  EXPECT_EQ(result.out.rfind("name  trials  description\nt     2", 0), 0u) << result.out;
  auto row = disk_row(result.out, "t");
  // The YAML's trials are those two (a budget is not part of a trial's identity).
  EXPECT_TRUE(std::regex_search(row, std::regex("^t +2/2 +20[0-9-]+T[0-9:]+Z \\(run\\) +all run *$"))) << result.out;

  // A third batch size: the trials on disk are still in it, one more is not run yet.
  dir.write("configs/t.yaml", "task: {name: doughnuts, samples: 200}\ntraining: {epochs: 3}\n"
                              "sweep: {grid: {training.batch_size: [16, 32, 64]}}\n");
  row = disk_row(testing::run_in(dir, {"list"}).out, "t");
  EXPECT_NE(row.find(" 2/2 "), std::string::npos) << row;
  EXPECT_NE(row.find(" 1 not run yet"), std::string::npos) << row;

  // Another learning rate: none of the trials on disk is in the config any more; they are still the sweep.
  dir.write("configs/t.yaml", "task: {name: doughnuts, samples: 200}\noptimizer: {lr: 0.3}\ntraining: {epochs: 3}\n"
                              "sweep: {grid: {training.batch_size: [16, 32]}}\n");
  row = disk_row(testing::run_in(dir, {"list"}).out, "t");
  EXPECT_NE(row.find(" 2/2 "), std::string::npos) << row;
  EXPECT_NE(row.find(" 2 not run yet"), std::string::npos) << row;

  // A failed trial is counted apart; the YAML gone: "no config", and status still reads the folder.
  fs::rename(dir.path() / "configs/t.yaml", dir.path() / "configs/t.yaml.old");
  dir.write("configs/other.yaml", "description: another\n");
  result = testing::run_in(dir, {"list"});
  ASSERT_EQ(result.code, 0) << result.err;
  row = disk_row(result.out, "t");
  EXPECT_NE(row.find(" 2/2 "), std::string::npos) << row;
  EXPECT_NE(row.find("no config"), std::string::npos) << row;
  EXPECT_EQ(disk_row(result.out, "other"), "") << result.out;  // a YAML without results is not on disk
  const auto status = testing::run_in(dir, {"status", "t"});
  EXPECT_EQ(status.code, 0) << status.err;
  EXPECT_NE(status.out.find("no config"), std::string::npos) << status.out;
  EXPECT_NE(status.out.find("2 trials: 2 completed"), std::string::npos) << status.out;
}

TEST(List, FailedAndRunningTrialsAreCountedApartAndAFolderWithoutSweepJsonIsNotListed) {
  TempDir dir;
  const auto ids = settled_sweep(dir, {"completed", "failed", "diverged"});
  dir.write("experiments/stray/notes.txt", "not a sweep\n");
  auto lock = TrialLock::try_acquire(trial_path(dir, ids[3]).string());
  ASSERT_TRUE(lock);
  dir.write("experiments/t/trials/" + ids[3] + "/metrics.jsonl", "");
  const auto result = testing::run_in(dir, {"list"});
  ASSERT_EQ(result.code, 0) << result.err;
  const auto row = disk_row(result.out, "t");
  EXPECT_TRUE(std::regex_search(row, std::regex("^t +2/4 \\(1 running, 1 failed\\) +- +all run *$"))) << result.out;
  EXPECT_EQ(disk_row(result.out, "stray"), "") << result.out;
}

// --------------------------------------------------------------------------------------------------- status

TEST(Status, StateAndWhereFilterTheRowsAndTheTotalsSayHowManyAreShown) {
  TempDir dir;
  const auto ids = settled_sweep(dir, {"completed", "failed", "diverged", "failed"});
  auto result = testing::run_in(dir, {"status", "t", "--state", "failed"});
  ASSERT_EQ(result.code, 0) << result.err;
  EXPECT_NE(result.out.find(ids[1]), std::string::npos);
  EXPECT_NE(result.out.find(ids[3]), std::string::npos);
  EXPECT_EQ(result.out.find(ids[0]), std::string::npos) << result.out;
  EXPECT_EQ(result.out.find(ids[2]), std::string::npos) << result.out;
  EXPECT_NE(result.out.find("shown 2 of 4 trials (--state failed); all: 1 completed, 1 diverged, 2 failed\n"),
            std::string::npos)
      << result.out;
  EXPECT_EQ(result.out.find("4 trials: "), std::string::npos) << result.out;
  // Each row keeps its number in the whole table: the failed trials are rows 2 and 4.
  EXPECT_NE(result.out.find("\n2  " + ids[1]), std::string::npos) << result.out;
  EXPECT_NE(result.out.find("\n4  " + ids[3]), std::string::npos) << result.out;

  // Several states (repeated or a,b) and --where together: all must hold.
  const auto sweep = load_sweep(dir.str("configs"), "t");
  const auto& diverged = sweep.trials[2].config.expand();
  result = testing::run_in(dir, {"status", "t", "--state", "diverged,failed", "--where",
                                 "batch_size=" + std::to_string(diverged.training.batch_size)});
  ASSERT_EQ(result.code, 0) << result.err;
  std::size_t rows = 0;
  for (const auto& trial : sweep.trials) {
    const bool shown = result.out.find(trial.id) != std::string::npos;
    rows += shown;
    EXPECT_EQ(shown, trial.config.expand().training.batch_size == diverged.training.batch_size &&
                         (trial.id == ids[1] || trial.id == ids[2] || trial.id == ids[3]))
        << trial.id << result.out;
  }
  EXPECT_NE(result.out.find("shown " + std::to_string(rows) + " of 4 trials"), std::string::npos) << result.out;
  result = testing::run_in(dir, {"status", "t", "--where", "lr=1e-1", "--state", "pending"});  // 0.1 numerically
  EXPECT_NE(result.out.find("shown 0 of 4 trials"), std::string::npos) << result.out;

  // Without filters: the table and totals as before.
  result = testing::run_in(dir, {"status", "t"});
  EXPECT_NE(result.out.find("4 trials: 1 completed, 1 diverged, 2 failed\n"), std::string::npos) << result.out;
  EXPECT_EQ(result.out.find("\nshown "), std::string::npos) << result.out;
}

TEST(Status, UnknownStateOrWhereKeyIsOneLineExitTwoWithASuggestion) {
  TempDir dir;
  settled_sweep(dir, {"completed"});
  const auto before = dir.snapshot();
  struct Case {
    std::vector<std::string> args;
    std::string says;
  };
  for (const Case& bad : std::vector<Case>{
           {{"status", "t", "--state", "faild"}, "unknown state 'faild' (did you mean 'failed'?)"},
           {{"status", "t", "--state", "failed,runing"}, "did you mean 'running'?"},
           {{"status", "t", "--where", "bach_size=16"}, "unknown key 'bach_size' (did you mean"},
           {{"status", "t", "--where", "bsz=16"}, "unknown key 'bsz' (did you mean 'bs'?)"},
           {{"status", "t", "--where", "batch_size=big"}, "batch_size"},
           {{"status", "t", "--watch", "--interval", "0"}, "interval"},
       }) {
    const auto result = testing::run_in(dir, bad.args);
    EXPECT_EQ(result.code, 2) << bad.args[3] << result.out;
    EXPECT_EQ(count_lines(result.err), 1u) << result.err;
    EXPECT_NE(result.err.find(bad.says), std::string::npos) << result.err;
    EXPECT_EQ(result.out, "");
  }
  EXPECT_EQ(dir.snapshot(), before);
}

TEST(Status, WatchWithoutATerminalPrintsEachIntervalUntilNothingRuns) {
  TempDir dir;
  const auto ids = settled_sweep(dir, {"completed", "completed"});
  // Nothing running: one table, and the end.
  auto result = testing::run_in(dir, {"status", "t", "--watch", "--interval", "0.2"});
  ASSERT_EQ(result.code, 0) << result.err;
  EXPECT_EQ(count_of(result.out, "\n#  trial"), 1u) << result.out;
  EXPECT_NE(result.out.find("watch ended"), std::string::npos) << result.out;
  EXPECT_EQ(result.out.find("\033["), std::string::npos) << "no terminal, no escape codes";

  // A trial locked by a "run" that ends a moment later: tables until it ends, then exit 0.
  std::optional<TrialLock> lock = TrialLock::try_acquire(trial_path(dir, ids[2]).string());
  ASSERT_TRUE(lock);
  dir.write("experiments/t/trials/" + ids[2] + "/metrics.jsonl", "");  // a lock alone is no trial yet
  std::thread trainer([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    lock.reset();
  });
  result = testing::run_in(dir, {"status", "t", "--watch", "--interval", "0.2"});
  trainer.join();
  ASSERT_EQ(result.code, 0) << result.err;
  EXPECT_GE(count_of(result.out, "\n#  trial"), 3u) << result.out;
  EXPECT_NE(result.out.find(ids[2]), std::string::npos);
  EXPECT_NE(result.out.find("running"), std::string::npos) << result.out;
  EXPECT_NE(result.out.find("watch ended"), std::string::npos) << result.out;
  // The last table has it no longer running.
  const std::string last = result.out.substr(result.out.rfind("\n#  trial"));
  EXPECT_NE(last.find("2 completed, 1 partial"), std::string::npos) << last;
}

TEST(Status, CtrlCEndsWatchWith130) {
  TempDir dir;
  const auto ids = settled_sweep(dir, {"completed"});
  auto lock = TrialLock::try_acquire(trial_path(dir, ids[1]).string());  // runs for as long as the test wants
  ASSERT_TRUE(lock);
  dir.write("experiments/t/trials/" + ids[1] + "/metrics.jsonl", "");
  clear_interrupt();
  std::thread ctrl_c([] {
    std::this_thread::sleep_for(std::chrono::milliseconds(700));
    request_interrupt();
  });
  const auto result = testing::run_in(dir, {"status", "t", "--watch", "--interval", "0.2"});
  ctrl_c.join();
  clear_interrupt();
  EXPECT_EQ(result.code, 130) << result.out << result.err;
  EXPECT_GE(count_of(result.out, "\n#  trial"), 1u) << result.out;
  EXPECT_NE(result.out.find("watch stopped"), std::string::npos) << result.out;
  EXPECT_TRUE(fs::exists(trial_path(dir, ids[1]) / "lock"));
}

}  // namespace
}  // namespace sweeplab
