// `sweeplab run`: the files it writes, what it skips, --no-save, --dry-run, failures, and bad data.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "sweeplab/config/loader.hpp"
#include "sweeplab/sched/run_sweep.hpp"
#include "test_util.hpp"

namespace sweeplab {
namespace {

using nlohmann::json;
using testing::TempDir;

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

const std::string kSmall =
    "description: small doughnut sweep for tests\n"
    "task: {name: doughnuts, samples: 400}\n"
    "optimizer: {name: adam, lr: 0.01}\n"
    "training: {epochs: 3}\n"
    "targets: ['test_acc >= 0.5']\n"
    "sweep: {grid: {training.batch_size: [32, 64]}}\n";

TEST(Run, WritesTheSpecLayout) {
  TempDir dir;
  dir.write("configs/small.yaml", kSmall);
  const auto result = testing::run_in(dir, {"run", "small"});
  ASSERT_EQ(result.code, 0) << result.err << result.out;
  const auto root = dir.path() / "experiments" / "small";
  const auto sweep = json::parse(testing::read_file(root / "sweep.json"));
  EXPECT_EQ(sweep["name"], "small");
  ASSERT_EQ(sweep["trials"].size(), 2u);
  for (const std::string key : {"sweeplab_version", "git_commit", "libtorch_version", "host", "device"}) {
    EXPECT_TRUE(sweep["context"].contains(key)) << key;
  }
  for (const auto& trial : sweep["trials"]) {
    const auto folder = root / "trials" / trial["id"].get<std::string>();
    for (const std::string file : {"config.yaml", "metrics.jsonl", "summary.json", "trial.log"}) {
      EXPECT_TRUE(std::filesystem::exists(folder / file)) << folder / file;
    }
    const auto metrics = lines_of(testing::read_file(folder / "metrics.jsonl"));
    ASSERT_EQ(metrics.size(), 3u);  // one per epoch
    std::int64_t previous_step = 0;
    for (std::size_t i = 0; i < metrics.size(); ++i) {
      const auto line = json::parse(metrics[i]);
      for (const std::string key : {"epoch", "step", "samples", "lr", "batch_size", "train_loss", "test_loss", "train_acc",
                                    "test_acc", "elapsed_s"}) {
        EXPECT_TRUE(line.contains(key)) << key << " in " << metrics[i];
      }
      EXPECT_EQ(line["epoch"], std::int64_t(i + 1));
      EXPECT_GT(line["step"].get<std::int64_t>(), previous_step);
      previous_step = line["step"];
      EXPECT_EQ(line["batch_size"], trial["swept"]["training.batch_size"]);
    }
    const auto summary = json::parse(testing::read_file(folder / "summary.json"));
    EXPECT_EQ(summary["status"], "completed");
    EXPECT_EQ(summary["final"], json::parse(metrics.back()));
    EXPECT_TRUE(summary["steps_to_target"].contains("test_acc >= 0.5"));
    EXPECT_EQ(summary["steps"], previous_step);
  }
  EXPECT_NE(result.out.find("small: 2 completed, 0 diverged, 0 failed, 0 skipped"), std::string::npos) << result.out;
}

TEST(Run, ASecondRunSkipsCompletedTrialsAndChangesNoFile) {
  TempDir dir;
  dir.write("configs/small.yaml", kSmall);
  ASSERT_EQ(testing::run_in(dir, {"run", "small"}).code, 0);
  const auto root = dir.path() / "experiments" / "small" / "trials";
  std::map<std::string, std::string> before;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(root)) {
    // The lock file records the pid of whoever last looked at the trial; the results must not change.
    if (entry.is_regular_file() && entry.path().filename() != "lock") before[entry.path().string()] = testing::read_file(entry.path());
  }
  const auto result = testing::run_in(dir, {"run", "small"});
  EXPECT_EQ(result.code, 0);
  EXPECT_NE(result.out.find("0 completed, 0 diverged, 0 failed, 0 skipped, 2 unchanged"), std::string::npos) << result.out;
  for (const auto& [path, content] : before) EXPECT_EQ(testing::read_file(path), content) << path;
}

TEST(Run, ASampledSweepTrainsItsPointsAsOrdinaryTrials) {
  TempDir dir;
  dir.write("configs/small.yaml", kSmall);
  const std::string sample = "sweep.sample={n: 3, seed: 4, keys: {optimizer.lr: {log_uniform: [1.0e-3, 0.1]}}}";
  const auto first = testing::run_in(dir, {"run", "small", "-o", sample});
  ASSERT_EQ(first.code, 0) << first.out << first.err;
  EXPECT_NE(first.out.find("6 completed"), std::string::npos) << first.out;  // 2 batch sizes x 3 points
  // The same points again: nothing to train. One more point: the first three are left as they are.
  const auto again = testing::run_in(dir, {"run", "small", "-o", sample});
  EXPECT_NE(again.out.find("0 completed, 0 diverged, 0 failed, 0 skipped, 6 unchanged"), std::string::npos) << again.out;
  const auto one_more = testing::run_in(dir, {"run", "small", "-o", "sweep.sample={n: 4, seed: 4, keys: {optimizer.lr: {log_uniform: [1.0e-3, 0.1]}}}"});
  EXPECT_NE(one_more.out.find("2 completed, 0 diverged, 0 failed, 0 skipped, 6 unchanged"), std::string::npos) << one_more.out;
}

TEST(Run, NoSaveAndDryRunWriteNothing) {
  TempDir dir;
  dir.write("configs/small.yaml", kSmall);
  const auto before = dir.snapshot();
  auto result = testing::run_in(dir, {"run", "small", "--no-save", "-o", "epochs=1"});
  EXPECT_EQ(result.code, 0) << result.err;
  EXPECT_NE(result.out.find("completed train_loss="), std::string::npos) << result.out;  // it did train
  EXPECT_EQ(dir.snapshot(), before);
  result = testing::run_in(dir, {"run", "small", "--dry-run"});
  EXPECT_EQ(result.code, 0) << result.err;
  EXPECT_NE(result.out.find("bs=32-"), std::string::npos) << result.out;
  EXPECT_NE(result.out.find("train"), std::string::npos) << result.out;
  EXPECT_EQ(dir.snapshot(), before);
}

TEST(Run, ATrialThatThrowsIsRecordedFailedAndTheOthersRun) {
  TempDir dir;
  dir.write("configs/s.yaml", "task: {samples: 100}\ntraining: {epochs: 2}\nsweep: {grid: {training.batch_size: [4, 8, 16]}}\n");
  const auto sweep = load_sweep(dir.str("configs"), "s");
  const auto result = testing::run_sweeplab(dir, "run s -j 2", "throw_at_step=5@bs=8");  // the trainer throws
  EXPECT_EQ(result.code, 1) << result.out << result.err;
  const auto trials = dir.path() / "experiments/s/trials";
  const auto failed = json::parse(testing::read_file(trials / sweep.trials[1].id / "summary.json"));
  EXPECT_EQ(failed["status"], "failed");
  EXPECT_EQ(failed["error"], "simulated error in the trainer");
  for (std::size_t i : {0u, 2u}) {
    EXPECT_EQ(json::parse(testing::read_file(trials / sweep.trials[i].id / "summary.json"))["status"], "completed");
    EXPECT_EQ(testing::metric_values(trials / sweep.trials[i].id).size(), 2u);
  }
}

// The system refuses a worker process its pipes (few open files allowed): the run stops with exit code 4 and a line
// that says so, no trial is failed for it, and nothing hangs; with enough files it runs.
TEST(Run, AWorkerTheSystemCannotStartStopsTheRunWithoutFailingATrial) {
  TempDir dir;
  dir.write("configs/s.yaml", "task: {samples: 100}\ntraining: {epochs: 1}\nsweep: {grid: {training.batch_size: [8, 16]}}\n");
  int refused = 0, ran = 0;
  for (int files = 8; files <= 28; ++files) {
    SCOPED_TRACE(files);
    std::filesystem::remove_all(dir.path() / "experiments");
    const auto result = testing::run_sweeplab_with(dir, "run s -q -j 2", "ulimit -n " + std::to_string(files) + "; timeout 120");
    if (result.code == 2 && result.err.empty()) continue;  // too few for the shell itself to redirect its output
    ASSERT_TRUE(result.code == 0 || result.code == 4) << result.code << "\n" << result.out << result.err;
    ran += result.code == 0;
    if (result.code == 4) {
      ++refused;
      EXPECT_NE(result.err.find("lower -j"), std::string::npos) << result.err;
      EXPECT_EQ(result.err.find("storage error"), std::string::npos) << result.err;
      EXPECT_EQ(result.err.find("internal error"), std::string::npos) << result.err;
      EXPECT_EQ(result.out.find("failed"), result.out.find(" 0 failed")) << result.out;
    }
  }
  EXPECT_GT(refused, 0) << "no limit refused a worker: the test tested nothing";
  EXPECT_GT(ran, 0);
}

struct BadData {
  std::string name;
  std::string csv;  // content of data.csv; empty: no file
  std::string label_column;
  std::string expected;
};

class BadDataTest : public ::testing::TestWithParam<BadData> {};

TEST_P(BadDataTest, ExitsTwoWithOneLineAndWritesNothing) {
  const auto& param = GetParam();
  TempDir dir;
  if (!param.csv.empty()) dir.write("data.csv", param.csv);
  dir.write("configs/mine.yaml", "task: {name: csv, path: " + dir.str("data.csv") + ", label_column: " +
                                     param.label_column + "}\ntraining: {batch_size: 2, epochs: 1}\n");
  const auto before = dir.snapshot();
  const auto result = testing::run_in(dir, {"run", "mine"});
  EXPECT_EQ(result.code, 2) << result.err;
  EXPECT_NE(result.err.find(param.expected), std::string::npos) << result.err;
  EXPECT_EQ(std::count(result.err.begin(), result.err.end(), '\n'), 1) << result.err;
  EXPECT_EQ(dir.snapshot(), before);
}

INSTANTIATE_TEST_SUITE_P(
    Cases, BadDataTest,
    ::testing::Values(
        BadData{"missing_file", "", "label", "data.csv: cannot open the CSV file (task.path)"},
        BadData{"bad_number", "x1,x2,label\n1,2,0\n3,abc,1\n5,6,0\n", "label", "data.csv:3: column 'x2': 'abc' is not a finite number"},
        BadData{"short_row", "x1,x2,label\n1,2,0\n3,1\n5,6,0\n", "label", "data.csv:3: expected 3 fields like the header, got 2"},
        BadData{"wrong_label_column", "x1,x2,label\n1,2,0\n3,4,1\n", "lable", "data.csv:1: task.label_column: no column 'lable' (did you mean 'label'?)"},
        BadData{"empty_file", "\n", "label", "data.csv:1: the CSV file is empty"}),
    [](const auto& info) { return info.param.name; });

TEST(Run, TrainsOnAUsersCsvFile) {
  TempDir dir;
  std::string csv = "a,b,y\n";
  for (int i = 0; i < 40; ++i) csv += std::to_string(i % 7) + "," + std::to_string((i * 3) % 5) + "," + std::to_string(i % 2) + "\n";
  dir.write("data.csv", csv);
  dir.write("configs/mine.yaml", "task: {name: csv, path: " + dir.str("data.csv") + ", label_column: y}\ntraining: {batch_size: 8, epochs: 2}\n");
  const auto result = testing::run_in(dir, {"run", "mine"});
  EXPECT_EQ(result.code, 0) << result.err;
  EXPECT_NE(result.out.find("1 completed"), std::string::npos) << result.out;
}

TEST(Run, CudaWithoutCudaIsABadConfig) {
  const std::string trainer = (std::filesystem::path(SWEEPLAB_BINARY).parent_path() / "sweeplab-trainer").string();
  if (std::system((trainer + " --check-cuda > /dev/null").c_str()) == 0) GTEST_SKIP() << "CUDA is available here";
  TempDir dir;
  dir.write("configs/gpu.yaml", "task: {samples: 100}\ntraining: {device: cuda}\n");
  const auto before = dir.snapshot();
  const auto result = testing::run_in(dir, {"run", "gpu"});
  EXPECT_EQ(result.code, 2) << result.err;
  EXPECT_NE(result.err.find("training.device: cuda, but this LibTorch build has no CUDA"), std::string::npos) << result.err;
  EXPECT_EQ(dir.snapshot(), before);
}

}  // namespace
}  // namespace sweeplab
