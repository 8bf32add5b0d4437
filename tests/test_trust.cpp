// The experiment directory is the source of truth for what was run: overrides remembered by every
// reading command, edited YAML that hides nothing, run history, concurrent runs, lock files, the
// experiments path, exit codes.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>

#include "sweeplab/config/loader.hpp"
#include "test_util.hpp"

namespace sweeplab {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using testing::TempDir;

// Two batch sizes, 5 epochs of 320 doughnut points.
const std::string kSweep =
    "task: {name: doughnuts, samples: 400}\n"
    "optimizer: {name: sgd, lr: 0.05}\n"
    "training: {epochs: 5}\n"
    "checkpoint: {every: 1, min_interval_s: 0}\n"
    "sweep: {grid: {training.batch_size: [16, 32]}}\n";

std::vector<std::string> trial_ids(const TempDir& dir, const std::vector<std::string>& overrides = {}) {
  std::vector<std::string> ids;
  for (const auto& trial : load_sweep(dir.str("configs"), "t", overrides).trials) ids.push_back(trial.id);
  return ids;
}

std::vector<json> lines_of(const fs::path& path) {
  std::vector<json> lines;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) lines.push_back(json::parse(line));
  return lines;
}

// Every file under `root` whose name matches.
std::vector<std::string> files_named(const fs::path& root, const std::regex& name) {
  std::vector<std::string> found;
  for (const auto& entry : fs::recursive_directory_iterator(root)) {
    if (std::regex_search(entry.path().filename().string(), name)) found.push_back(entry.path().string());
  }
  return found;
}

TEST(History, OverridesAreRememberedByStatusExportDryRunAndTheNextRun) {
  TempDir dir;
  dir.write("configs/t.yaml", kSweep);
  const auto first = testing::run_sweeplab(dir, "run t -o epochs=2");
  ASSERT_EQ(first.code, 0) << first.out << first.err;
  const auto runs = lines_of(dir.path() / "experiments/t/runs.jsonl");
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_EQ(runs[0]["overrides"], json::array({"epochs=2"}));
  EXPECT_EQ(runs[0]["command"], "run");
  EXPECT_FALSE(runs[0]["started_at"].get<std::string>().empty());
  EXPECT_FALSE(runs[0]["host"].get<std::string>().empty());

  // status without -o: the trials as they were run (2 epochs, completed), each with its id.
  const auto status = testing::run_sweeplab(dir, "status t");
  ASSERT_EQ(status.code, 0) << status.err;
  for (const auto& id : trial_ids(dir)) {
    EXPECT_TRUE(fs::is_directory(dir.path() / "experiments/t/trials" / id));
    EXPECT_TRUE(std::regex_search(status.out, std::regex(id + " +[0-9]+ +completed +2 of 2 epochs"))) << status.out;
  }
  EXPECT_NE(status.out.find("the config now asks for 5 epochs"), std::string::npos) << status.out;
  EXPECT_NE(status.out.find("with -o epochs=2"), std::string::npos) << status.out;
  EXPECT_EQ(status.out.find("pending"), std::string::npos) << status.out;

  const auto exported = testing::run_sweeplab(dir, "export t --format jsonl");
  ASSERT_EQ(exported.code, 0) << exported.err;
  std::istringstream rows(exported.out);
  int count = 0;
  for (std::string line; std::getline(rows, line); ++count) {
    const auto row = json::parse(line);
    EXPECT_EQ(row["status"], "completed") << line;
    EXPECT_EQ(row["epochs"], 2) << line;
  }
  EXPECT_EQ(count, 2);

  const auto show = testing::run_sweeplab(dir, "show t --trials");
  ASSERT_EQ(show.code, 0) << show.err;
  EXPECT_TRUE(std::regex_search(show.out, std::regex("completed +2 of 2 epochs"))) << show.out;

  const auto dry = testing::run_sweeplab(dir, "run t --dry-run");
  ASSERT_EQ(dry.code, 0) << dry.err;
  EXPECT_NE(dry.out.find("extend from 2 epochs to 5 epochs"), std::string::npos) << dry.out;
  EXPECT_EQ(lines_of(dir.path() / "experiments/t/runs.jsonl").size(), 1u) << "a dry run records nothing";

  // The run without -o says in its first line that it extends what was run with -o epochs=2.
  const auto second = testing::run_sweeplab(dir, "run t");
  ASSERT_EQ(second.code, 0) << second.out << second.err;
  const std::string first_line = second.out.substr(0, second.out.find('\n'));
  EXPECT_NE(first_line.find("extends 2 completed trials from 2 epochs to 5 epochs (the last run had -o epochs=2)"),
            std::string::npos)
      << first_line;
  EXPECT_EQ(lines_of(dir.path() / "experiments/t/runs.jsonl").size(), 2u);
  const auto after = testing::run_sweeplab(dir, "status t");
  EXPECT_TRUE(std::regex_search(after.out, std::regex("completed +5 of 5 epochs"))) << after.out;
}

TEST(History, ATrialPastTheBudgetAskedForNowIsLeftAsItIs) {
  TempDir dir;
  dir.write("configs/t.yaml", kSweep);
  // bs 16: 20 steps an epoch; Ctrl-C at step 70 of 400 (epoch 4).
  const auto interrupted = testing::run_sweeplab(dir, "run t -o epochs=20", "sigint_at_step=70@bs=16");
  ASSERT_EQ(interrupted.code, 130) << interrupted.out << interrupted.err;
  const auto trial = dir.path() / "experiments/t/trials" / trial_ids(dir).front();
  ASSERT_EQ(testing::read_json(trial / "summary.json")["status"], "interrupted");
  const auto smaller = testing::run_sweeplab(dir, "run t -o epochs=2");
  EXPECT_EQ(smaller.code, 0) << smaller.out << smaller.err;
  EXPECT_NE(smaller.out.find("past the budget asked for now (2 epochs); it was run with 20 epochs"), std::string::npos)
      << smaller.out;
  EXPECT_EQ(testing::read_json(trial / "summary.json")["status"], "interrupted") << "not completed at 2 epochs";
  EXPECT_NE(testing::read_file(trial / "config.yaml").find("epochs: 20"), std::string::npos);
  const auto finished = testing::run_sweeplab(dir, "run t -o epochs=20");
  ASSERT_EQ(finished.code, 0) << finished.out << finished.err;
  EXPECT_EQ(testing::read_json(trial / "summary.json")["status"], "completed");
  EXPECT_EQ(testing::read_json(trial / "summary.json")["epochs"], 20);
}

TEST(History, AnEditedConfigHidesNoEarlierTrial) {
  TempDir dir;
  dir.write("configs/t.yaml", kSweep);
  ASSERT_EQ(testing::run_sweeplab(dir, "run t -o epochs=1").code, 0);
  const auto old_ids = trial_ids(dir);
  dir.write("configs/t.yaml", std::regex_replace(kSweep, std::regex("lr: 0.05"), "lr: 0.2"));
  // The trials on disk are the sweep, whatever the YAML says now; its own trials are one line until run.
  const auto status = testing::run_sweeplab(dir, "status t");
  ASSERT_EQ(status.code, 0) << status.err;
  for (const auto& id : old_ids) EXPECT_TRUE(std::regex_search(status.out, std::regex(id + " .*completed"))) << status.out;
  for (const auto& id : trial_ids(dir)) EXPECT_EQ(status.out.find(id), std::string::npos) << status.out;
  EXPECT_NE(status.out.find("2 trials: 2 completed\n2 trials of the current config not run yet: sweeplab run t"),
            std::string::npos)
      << status.out;
  // --pending lists them, and the keys that tell them apart become columns (the budget too: 1 epoch run, 5 asked).
  const auto pending = testing::run_sweeplab(dir, "status t --pending");
  for (const auto& id : trial_ids(dir)) EXPECT_TRUE(std::regex_search(pending.out, std::regex(id + " .*pending"))) << pending.out;
  EXPECT_TRUE(std::regex_search(pending.out, std::regex("#  trial +batch_size +epochs +lr +state"))) << pending.out;
  EXPECT_NE(pending.out.find("4 trials: 2 completed, 2 pending\n"), std::string::npos) << pending.out;

  const auto exported = testing::run_sweeplab(dir, "export t");
  ASSERT_EQ(exported.code, 0) << exported.err;
  for (const auto& id : old_ids) EXPECT_NE(exported.out.find(id + ","), std::string::npos) << exported.out;
}

TEST(Concurrency, FourRunsOfOneSweepAllSucceedAndTrainEveryTrialOnce) {
  TempDir dir;
  dir.write("configs/t.yaml",
            "task: {name: doughnuts, samples: 200}\n"
            "training: {epochs: 3}\n"
            "checkpoint: {every: 1, min_interval_s: 0}\n"
            "sweep: {grid: {training.batch_size: [8, 16, 32, 64], optimizer.lr: [0.01, 0.1]}}\n");
  std::string command = "cd " + dir.str() + " && for i in 1 2 3 4; do (setsid -w " + SWEEPLAB_BINARY +
                        " run t -j 1 --group-size 1 > out$i.txt 2> err$i.txt; echo $? > code$i.txt) & done; wait";
  ASSERT_EQ(std::system(command.c_str()), 0);
  for (int i = 1; i <= 4; ++i) {
    const std::string n = std::to_string(i);
    EXPECT_EQ(testing::read_file(dir.path() / ("code" + n + ".txt")), "0\n")
        << testing::read_file(dir.path() / ("out" + n + ".txt")) << testing::read_file(dir.path() / ("err" + n + ".txt"));
  }
  for (const auto& id : trial_ids(dir)) {
    const auto trial = dir.path() / "experiments/t/trials" / id;
    EXPECT_EQ(testing::read_json(trial / "summary.json")["status"], "completed") << id;
    EXPECT_EQ(testing::metric_values(trial).size(), 3u) << id;
    const auto log = testing::read_file(trial / "trial.log");
    std::size_t starts = 0;
    for (auto at = log.find(" starts (pid "); at != std::string::npos; at = log.find(" starts (pid ", at + 1)) ++starts;
    EXPECT_EQ(starts, 1u) << "trained exactly once: " << log;
  }
  // A run that found everything done by the others trained nothing and recorded nothing.
  const auto recorded = lines_of(dir.path() / "experiments/t/runs.jsonl").size();
  EXPECT_GE(recorded, 1u);
  EXPECT_LE(recorded, 4u);
  // Nothing left behind: no lock files, no temporaries.
  EXPECT_EQ(files_named(dir.path() / "experiments", std::regex("^lock$|\\.tmp")), std::vector<std::string>{});
}

TEST(Concurrency, ACleanRunLeavesNoLockFiles) {
  TempDir dir;
  dir.write("configs/t.yaml", kSweep);
  ASSERT_EQ(testing::run_sweeplab(dir, "run t -o epochs=1").code, 0);
  EXPECT_EQ(files_named(dir.path() / "experiments", std::regex("^lock$")), std::vector<std::string>{});
  ASSERT_EQ(testing::run_sweeplab(dir, "status t").code, 0);
  EXPECT_EQ(files_named(dir.path() / "experiments", std::regex("^lock$")), std::vector<std::string>{});
}

TEST(Storage, ARunWithNothingLeftToTrainWritesNothing) {
  TempDir dir;
  dir.write("configs/t.yaml", kSweep);
  ASSERT_EQ(testing::run_sweeplab(dir, "run t -o epochs=1").code, 0);
  const auto before = dir.snapshot();
  const auto again = testing::run_sweeplab(dir, "run t -o epochs=1");
  EXPECT_EQ(again.code, 0) << again.out << again.err;
  EXPECT_NE(again.out.find("nothing to train"), std::string::npos) << again.out;
  EXPECT_NE(again.out.find("  completed already\n"), std::string::npos) << again.out;
  auto after = dir.snapshot();
  after.erase("out.txt " + std::to_string(again.out.size()));
  after.erase("err.txt " + std::to_string(again.err.size()));
  std::set<std::string> expected = before;
  for (const auto& entry : before) {
    if (entry.rfind("out.txt", 0) == 0 || entry.rfind("err.txt", 0) == 0) expected.erase(entry);
  }
  EXPECT_EQ(after, expected) << "nothing is written, so a read-only disk would do";
}

// Runs the binary as an unprivileged user (as root, permissions do not stop writes), or says why it cannot.
std::string as_unprivileged(const TempDir& dir, std::string& why_not) {
  if (::geteuid() != 0) return "";
  const std::string prefix = "setpriv --reuid=65534 --regid=65534 --clear-groups ";
  if (std::system((prefix + "test -x " + std::string(SWEEPLAB_BINARY) + " 2> /dev/null").c_str()) != 0) {
    why_not = "running as root, and the build is not reachable by an unprivileged user (or setpriv is missing)";
    return "";
  }
  fs::permissions(dir.path(), fs::perms::others_read | fs::perms::others_exec, fs::perm_options::add);
  return prefix;
}

TEST(Storage, AReadOnlyExperimentsFolderTrainsNothingNewAndSkipsWhatIsDone) {
  TempDir dir;
  dir.write("configs/t.yaml", kSweep);
  ASSERT_EQ(testing::run_sweeplab(dir, "run t -o epochs=1").code, 0);
  std::string why_not;
  const std::string prefix = as_unprivileged(dir, why_not);
  if (!why_not.empty()) GTEST_SKIP() << why_not;
  for (const auto& entry : fs::recursive_directory_iterator(dir.path() / "experiments")) {
    if (entry.is_directory()) fs::permissions(entry.path(), fs::perms(0555));
  }
  fs::permissions(dir.path() / "experiments", fs::perms(0555));
  fs::permissions(dir.path(), fs::perms::others_write, fs::perm_options::add);  // for out.txt and err.txt
  const auto run = [&](const std::string& arguments) {
    const std::string command = "cd " + dir.str() + " && " + prefix + SWEEPLAB_BINARY + " " + arguments +
                                " > out.txt 2> err.txt";
    const int status = std::system(command.c_str());
    return std::make_pair(WIFEXITED(status) ? WEXITSTATUS(status) : -1, testing::read_file(dir.path() / "err.txt"));
  };
  const auto done = run("run t -o epochs=1");
  EXPECT_EQ(done.first, 0) << done.second;
  const auto more = run("run t -o epochs=2");
  EXPECT_EQ(more.first, 2) << more.second;
  EXPECT_NE(more.second.find("--experiments experiments: cannot write there"), std::string::npos) << more.second;
  EXPECT_EQ(std::count(more.second.begin(), more.second.end(), '\n'), 1) << more.second;
  for (const auto& entry : fs::recursive_directory_iterator(dir.path() / "experiments")) {
    if (entry.is_directory()) fs::permissions(entry.path(), fs::perms(0755));
  }
}

// A file-size limit (RLIMIT_FSIZE, with SIGXFSZ ignored) makes writes past it fail with EFBIG: a real
// storage error from the kernel, with no hook in sweeplab. The metrics file outgrows it mid-run.
TEST(Storage, ADiskErrorMidRunStopsWithExit3AndTheRerunEndsAsIfNothingHappened) {
  TempDir dir;
  dir.write("configs/t.yaml",
            "task: {name: doughnuts, samples: 400}\n"
            "model: {hidden: [8]}\n"
            "optimizer: {name: sgd, lr: 0.05, momentum: 0.9}\n"
            "training: {steps: 2000, eval_every: 5, batch_size: 16}\n"
            "checkpoint: {every: 100, min_interval_s: 0}\n");
  ASSERT_EQ(testing::run_sweeplab(dir, "run t --experiments clean").code, 0);
  const std::string command = "cd " + dir.str() + " && bash -c 'ulimit -f 48; trap \"\" XFSZ; exec setsid -w " +
                              SWEEPLAB_BINARY + " run t' > out.txt 2> err.txt";
  const int status = std::system(command.c_str());
  const std::string out = testing::read_file(dir.path() / "out.txt"), err = testing::read_file(dir.path() / "err.txt");
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 3) << out << err;
  EXPECT_NE(err.find("sweeplab: storage error: "), std::string::npos) << err;
  EXPECT_NE(err.find("metrics.jsonl"), std::string::npos) << err;
  EXPECT_NE(err.find("File too large"), std::string::npos) << err;
  EXPECT_NE(err.find("; state is safe; rerun to resume"), std::string::npos) << err;
  EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << err;
  const auto trial = dir.path() / "experiments/t/trials" / trial_ids(dir).front();
  EXPECT_FALSE(fs::exists(trial / "summary.json")) << "not failed, not finished: partial, to resume";
  EXPECT_TRUE(fs::exists(trial / "checkpoint.pt"));
  EXPECT_GT(testing::metric_values(trial).size(), 10u);
  EXPECT_LT(testing::metric_values(trial).size(), 400u);

  const auto rerun = testing::run_sweeplab(dir, "run t");
  ASSERT_EQ(rerun.code, 0) << rerun.out << rerun.err;
  const auto clean = dir.path() / "clean/t/trials" / trial_ids(dir).front();
  EXPECT_EQ(testing::metric_values(trial), testing::metric_values(clean));
  EXPECT_EQ(testing::read_json(trial / "summary.json")["weights_digest"],
            testing::read_json(clean / "summary.json")["weights_digest"]);
}

TEST(Limits, MaxTrialsIsAnOptionThatReachesTheWorkers) {
  TempDir dir;
  dir.write("configs/t.yaml", kSweep);
  const auto refused = testing::run_in(dir, {"--max-trials", "3", "run", "t", "-o", "seeds=2"});
  EXPECT_EQ(refused.code, 2);
  EXPECT_NE(refused.err.find("4 trials"), std::string::npos) << refused.err;
  EXPECT_NE(refused.err.find("--max-trials"), std::string::npos) << refused.err;
  // A limit below the default (100000) raised past the default is the same path: here a limit of 4 is enough.
  const auto ran = testing::run_sweeplab(dir, "--max-trials 4 run t -o seeds=2 -o epochs=1");
  EXPECT_EQ(ran.code, 0) << ran.out << ran.err;
  EXPECT_NE(ran.out.find("4 completed"), std::string::npos) << ran.out;
}

TEST(Diverged, StatusShowsTheStepItDivergedAtAndMetricsKeepItsLastRecords) {
  TempDir dir;
  dir.write("configs/t.yaml",
            "task: {name: synthetic, samples: 100, test_fraction: 0.2, features: 100, classes: 2}\n"
            "model: {hidden: [500]}\n"
            "optimizer: {name: sgd, lr: 10}\n"
            "training: {batch_size: 80, steps: 200, eval_every: 5}\n");
  const auto run = testing::run_sweeplab(dir, "run t");
  ASSERT_EQ(run.code, 0) << run.out << run.err;
  const auto trial = dir.path() / "experiments/t/trials" / trial_ids(dir).front();
  const auto summary = testing::read_json(trial / "summary.json");
  ASSERT_EQ(summary["status"], "diverged");
  const auto step = summary["diverged_at_step"].get<std::int64_t>();
  ASSERT_GT(step, 5) << "diverges after the first evaluation, so there is a finite record before it";
  const auto status = testing::run_sweeplab(dir, "status t");
  EXPECT_TRUE(std::regex_search(status.out, std::regex("diverged +step " + std::to_string(step) + " of 200 steps")))
      << status.out;
  const auto records = lines_of(trial / "metrics.jsonl");
  ASSERT_GE(records.size(), 2u);
  EXPECT_EQ(records.back()["step"], step);
  EXPECT_EQ(records.back()["diverged"], true);
  EXPECT_TRUE(records[records.size() - 2]["train_loss"].is_number()) << "the last finite record stays";
}

// Full-batch training (80 rows), an evaluation every 500 steps: each train_acc is a count of correct rows over
// 40000, which has a short decimal; summed batch fractions used to leave 0.9623000000000027.
TEST(Numbers, TrainAccuracyIsWrittenInItsShortestExactForm) {
  TempDir dir;
  dir.write("configs/t.yaml",
            "task: {name: synthetic, samples: 100, test_fraction: 0.2, features: 100, classes: 2}\n"
            "model: {hidden: [500]}\n"
            "optimizer: {name: sgd, lr: 0.01}\n"
            "training: {batch_size: 80, steps: 2000, eval_every: 500}\n");
  ASSERT_EQ(testing::run_sweeplab(dir, "run t").code, 0);
  const auto trial = dir.path() / "experiments/t/trials" / trial_ids(dir).front();
  const std::string text = testing::read_file(trial / "metrics.jsonl");
  const std::regex accuracy("\"train_acc\":([0-9.e-]+)");
  int seen = 0;
  for (auto it = std::sregex_iterator(text.begin(), text.end(), accuracy); it != std::sregex_iterator(); ++it, ++seen) {
    const std::string value = (*it)[1];
    const double correct = std::stod(value) * 40000.0;
    EXPECT_NEAR(correct, std::round(correct), 1e-9) << value;
    EXPECT_LE(value.size(), 8u) << value << ": k/40000 needs at most 6 decimals";
  }
  EXPECT_EQ(seen, 4);
}

TEST(ExitCodes, HelpDocumentsEveryExitCode) {
  TempDir dir;
  const auto help = testing::run_in(dir, {"--help"});
  ASSERT_EQ(help.code, 0);
  for (const char* code : {"\n  0 ", "\n  1 ", "\n  2 ", "\n  3 ", "\n  130 "}) {
    EXPECT_NE(help.out.find(code), std::string::npos) << code << " in\n" << help.out;
  }
  EXPECT_NE(help.out.find("storage error"), std::string::npos);
  const auto readme = testing::read_file(fs::path(SWEEPLAB_SOURCE_DIR) / "README.md");
  for (const char* row : {"| 0 ", "| 1 ", "| 2 ", "| 3 ", "| 130 "}) EXPECT_NE(readme.find(row), std::string::npos) << row;
}

}  // namespace
}  // namespace sweeplab
