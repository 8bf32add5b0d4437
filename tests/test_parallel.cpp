// run -j N: worker processes, crash isolation, Ctrl-C across workers, -j 2 == -j 1, dispatch order.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>

#include "sweeplab/config/loader.hpp"
#include "test_util.hpp"

namespace sweeplab {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using testing::metric_values;
using testing::TempDir;


// 400 doughnut points (320 to train), 4 epochs, a checkpoint every epoch.
const std::string kSweep =
    "task: {name: doughnuts, samples: 400}\n"
    "optimizer: {name: sgd, lr: 0.05, momentum: 0.9}\n"
    "training: {epochs: 4}\n"
    "checkpoint: {every: 1, min_interval_s: 0}\n"
    "sweep: {grid: {training.batch_size: [4, 8, 16, 32]}}\n";


json summary_of(const fs::path& trial) { return testing::read_json(trial / "summary.json"); }

std::vector<std::string> trial_ids(const TempDir& dir) {
  std::vector<std::string> ids;
  for (const auto& trial : load_sweep(dir.str("configs"), "p").trials) ids.push_back(trial.id);
  return ids;
}

// Every trial's metric values and final weights in two experiment folders are the same.
void expect_same_results(const TempDir& dir, const std::string& a, const std::string& b, std::size_t epochs = 4) {
  for (const auto& id : trial_ids(dir)) {
    const auto left = dir.path() / a / "p/trials" / id, right = dir.path() / b / "p/trials" / id;
    EXPECT_EQ(metric_values(left), metric_values(right)) << id;
    EXPECT_EQ(metric_values(left).size(), epochs) << id;
    EXPECT_EQ(summary_of(left)["weights_digest"], summary_of(right)["weights_digest"]) << id;
  }
}

TEST(Parallel, TwoWorkersGiveExactlyTheResultsOfOne) {
  TempDir dir;
  dir.write("configs/p.yaml", kSweep);
  ASSERT_EQ(testing::run_sweeplab(dir, "run p -j 1 --experiments one").code, 0);
  const auto two = testing::run_sweeplab(dir, "run p -j 2 --experiments two");
  ASSERT_EQ(two.code, 0) << two.out << two.err;
  expect_same_results(dir, "one", "two");
  // Workers take many trials: 4 trials were trained by at most 2 processes.
  std::set<std::string> pids;
  const std::regex started("starts \\(pid ([0-9]+)\\)");
  for (const auto& id : trial_ids(dir)) {
    const auto log = testing::read_file(dir.path() / "two/p/trials" / id / "trial.log");
    std::smatch match;
    ASSERT_TRUE(std::regex_search(log, match, started)) << log;
    pids.insert(match[1]);
  }
  EXPECT_LE(pids.size(), 2u);
}

// Batches from 2 rows (the kernels' own products) to 256 (the system BLAS's): the same bytes from 2 workers as from
// 1, whichever worker and group a trial lands in.
TEST(Parallel, TwoWorkersGiveExactlyTheResultsOfOneAtLargeBatches) {
  TempDir dir;
  dir.write("configs/p.yaml",
            "task: {name: doughnuts, samples: 1600}\n"
            "optimizer: {name: adam, lr: 0.01}\n"
            "training: {epochs: 3}\n"
            "checkpoint: {every: 1, min_interval_s: 0}\n"
            "sweep: {grid: {training.batch_size: [2, 16, 100, 256], training.seed: [0, 1]}}\n");
  ASSERT_EQ(testing::run_sweeplab(dir, "run p -j 1 --experiments one -q").code, 0);
  const auto two = testing::run_sweeplab(dir, "run p -j 2 --experiments two -q");
  ASSERT_EQ(two.code, 0) << two.out << two.err;
  expect_same_results(dir, "one", "two", 3);
}

TEST(Parallel, LongestTrialsAreDispatchedFirst) {
  TempDir dir;
  dir.write("configs/p.yaml", kSweep);
  const auto result = testing::run_sweeplab(dir, "run p -j 1");
  ASSERT_EQ(result.code, 0) << result.err;
  // One worker: trials finish in dispatch order, most optimizer steps (smallest batch) first.
  std::vector<std::string> finished;
  const std::regex line("\\[\\d+/4\\] bs=(\\d+)-");
  for (std::sregex_iterator it(result.out.begin(), result.out.end(), line), end; it != end; ++it) finished.push_back((*it)[1]);
  EXPECT_EQ(finished, (std::vector<std::string>{"4", "8", "16", "32"}));
}

class CrashTest : public ::testing::TestWithParam<std::pair<std::string, std::string>> {};

TEST_P(CrashTest, FailsOnlyThatTrialKeepsItsCheckpointAndRetryFailedFinishesIt) {
  const auto& [fault, signal_name] = GetParam();
  TempDir dir;
  dir.write("configs/p.yaml", kSweep);
  ASSERT_EQ(testing::run_sweeplab(dir, "run p -j 1 --experiments clean -q").code, 0);
  const auto crashed = testing::run_sweeplab(dir, "run p -j 2", fault);  // bs 8: 40 steps per epoch; dies in epoch 3
  EXPECT_EQ(crashed.code, 1) << crashed.out << crashed.err;
  EXPECT_NE(crashed.err.find("1 trial failed"), std::string::npos) << crashed.err;
  const auto ids = trial_ids(dir);
  const auto failed = dir.path() / "experiments/p/trials" / ids[1];  // bs=8
  EXPECT_EQ(summary_of(failed)["status"], "failed");
  EXPECT_NE(summary_of(failed)["error"].get<std::string>().find(signal_name), std::string::npos)
      << summary_of(failed).dump();
  EXPECT_TRUE(fs::exists(failed / "checkpoint.pt"));
  // The whole story: which signal, how far it got, for how long, and what it said last.
  const auto summary = summary_of(failed);
  const std::string expected_signal = signal_name == "signal 6" ? "SIGABRT" : "SIGSEGV";
  EXPECT_EQ(summary["signal"], expected_signal) << summary.dump();
  EXPECT_EQ(summary["steps"], 80) << "the last evaluation before the crash (epoch 2)";
  EXPECT_GT(summary["wall_time_s"].get<double>(), 0.0) << summary.dump();
  EXPECT_TRUE(summary.contains("stderr_tail")) << summary.dump();
  for (std::size_t i : {0u, 2u, 3u}) {
    EXPECT_EQ(summary_of(dir.path() / "experiments/p/trials" / ids[i])["status"], "completed") << ids[i];
  }
  const auto status = testing::run_sweeplab(dir, "status p");
  EXPECT_NE(status.out.find("failed"), std::string::npos) << status.out;

  const auto skipped = testing::run_sweeplab(dir, "run p -j 2");
  EXPECT_EQ(skipped.code, 1) << "a trial that failed in an earlier run still fails this one";
  EXPECT_NE(skipped.err.find("1 trial failed"), std::string::npos) << skipped.err;
  EXPECT_NE(skipped.err.find("sweeplab run p --retry-failed"), std::string::npos) << skipped.err;
  EXPECT_NE(skipped.out.find("  failed earlier (--retry-failed runs it again)\n"), std::string::npos) << skipped.out;
  const auto retried = testing::run_sweeplab(dir, "run p -j 2 --retry-failed");
  ASSERT_EQ(retried.code, 0) << retried.out << retried.err;
  EXPECT_EQ(summary_of(failed)["status"], "completed");
  EXPECT_EQ(summary_of(failed)["resumed_from_step"], 80);  // the checkpoint after epoch 2
  expect_same_results(dir, "experiments", "clean");
}

INSTANTIATE_TEST_SUITE_P(Cases, CrashTest,
                         ::testing::Values(std::make_pair(std::string("abort_at_step=100@bs=8"), std::string("signal 6")),
                                           std::make_pair(std::string("segfault_at_step=100@bs=8"), std::string("signal 11"))),
                         [](const auto& info) { return info.param.first.substr(0, info.param.first.find('_')); });

TEST(Parallel, CtrlCWithTwoWorkersCheckpointsEveryRunningTrialAndTheNextRunCompletes) {
  TempDir dir;
  // 20 epochs: when bs 4 reaches step 100, the other worker has not finished its first trial (bs 8, 800 steps).
  dir.write("configs/p.yaml", std::regex_replace(kSweep, std::regex("epochs: 4"), "epochs: 20"));
  ASSERT_EQ(testing::run_sweeplab(dir, "run p -j 1 --experiments clean -q").code, 0);
  const auto interrupted = testing::run_sweeplab(dir, "run p -j 2", "sigint_at_step=100@bs=4");  // bs 4: mid-epoch 2
  EXPECT_EQ(interrupted.code, 130) << interrupted.out << interrupted.err;
  const auto ids = trial_ids(dir);
  int checkpointed = 0;
  for (const auto& id : ids) {
    const auto trial = dir.path() / "experiments/p/trials" / id;
    if (!fs::exists(trial / "summary.json")) continue;  // not started before the interrupt
    const auto status = summary_of(trial)["status"].get<std::string>();
    EXPECT_TRUE(status == "interrupted" || status == "completed") << id << " " << status;
    // A trial that trained stops with a checkpoint; the other worker's may be stopped before its first
    // step (its trainer may still be starting when bs 4 reaches step 100), and then has nothing to save.
    if (status == "interrupted" && summary_of(trial)["steps"].get<int>() > 0) {
      EXPECT_TRUE(fs::exists(trial / "checkpoint.pt")) << id;
      ++checkpointed;
    }
  }
  EXPECT_GE(checkpointed, 1) << "the running trials stop with a checkpoint\n" << interrupted.out;
  const auto resumed = testing::run_sweeplab(dir, "run p -j 2");
  ASSERT_EQ(resumed.code, 0) << resumed.out << resumed.err;
  expect_same_results(dir, "experiments", "clean", 20);
}

TEST(Parallel, QuietPrintsOnlyTheFinalTable) {
  TempDir dir;
  dir.write("configs/p.yaml", kSweep);
  const auto result = testing::run_sweeplab(dir, "run p -j 2 -q");
  ASSERT_EQ(result.code, 0);
  EXPECT_EQ(result.out.find("[1/4]"), std::string::npos) << result.out;
  EXPECT_NE(result.out.find("4 trials: 4 completed"), std::string::npos) << result.out;
}

TEST(Parallel, CtrlCWhileTheTrainersStartFailsNoTrial) {
  TempDir dir;
  dir.write("configs/p.yaml", kSweep);
  // Ctrl-C (SIGINT to the whole process group, as a terminal sends it) as soon as the run prints its first line
  // (its handler is in place; a background job ignores SIGINT until then): the trainers are starting. 300 epochs
  // with a checkpoint each keep the run going past it.
  const std::string command = "cd " + dir.str() + " && (setsid " + SWEEPLAB_BINARY +
                              " run p -j 2 -o epochs=300 > out.txt 2> err.txt & pid=$!;"
                              " for i in $(seq 1000); do [ -s out.txt ] && break; sleep 0.005; done; kill -INT -$pid;"
                              " wait $pid; echo $? > code.txt)";
  ASSERT_EQ(std::system(command.c_str()), 0);
  const std::string out = testing::read_file(dir.path() / "out.txt");
  EXPECT_EQ(testing::read_file(dir.path() / "code.txt"), "130\n") << out;
  EXPECT_EQ(out.find("failed:"), std::string::npos) << out;
  for (const auto& id : trial_ids(dir)) {
    const auto summary = dir.path() / "experiments/p/trials" / id / "summary.json";
    if (fs::exists(summary)) {
      EXPECT_NE(summary_of(summary.parent_path())["status"], "failed") << id;
    }
  }
  const auto resumed = testing::run_sweeplab(dir, "run p -j 2 -o epochs=300");
  EXPECT_EQ(resumed.code, 0) << resumed.out << resumed.err;
  ASSERT_EQ(testing::run_sweeplab(dir, "run p -j 1 -o epochs=300 --experiments clean -q").code, 0);
  expect_same_results(dir, "experiments", "clean", 300);
}

}  // namespace
}  // namespace sweeplab
