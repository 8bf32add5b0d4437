// The command line doing its job: list, show, --keys, trial states, and the real binary's exit codes.
#include <gtest/gtest.h>

#include "sweeplab/config/schema.hpp"
#include "test_util.hpp"

namespace sweeplab {
namespace {

using testing::TempDir;

const std::string kRepoConfigs = std::string(SWEEPLAB_SOURCE_DIR) + "/configs";

int count_lines_with(const std::string& text, const std::string& needle) {
  int count = 0;
  for (std::size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++count;
  return count;
}

TEST(Show, DoughnutBatchWithFiveEpochsListsSixTrials) {
  TempDir dir;
  std::ostringstream out, err;
  const int code = run_cli({"--configs", kRepoConfigs, "--experiments", dir.str("experiments"), "show", "doughnut-batch",
                            "-o", "epochs=5", "--trials"},
                           out, err);
  ASSERT_EQ(code, 0) << err.str();
  const std::string text = out.str();
  EXPECT_NE(text.find("# sweep doughnut-batch: 6 trials"), std::string::npos) << text;
  EXPECT_NE(text.find("  epochs: 5\n"), std::string::npos) << text;
  EXPECT_NE(text.find("training.batch_size: [2, 4, 8, 16, 32, 64]"), std::string::npos) << text;
  for (const std::string bs : {"2", "4", "8", "16", "32", "64"}) {
    EXPECT_EQ(count_lines_with(text, "bs=" + bs + "-"), 1) << bs;
  }
  EXPECT_NE(text.find("6 trials: 6 pending"), std::string::npos) << text;
  EXPECT_FALSE(std::filesystem::exists(dir.str("experiments")));
}

TEST(Show, RepoConfigsAllLoad) {
  std::ostringstream out, err;
  EXPECT_EQ(run_cli({"--configs", kRepoConfigs, "list"}, out, err), 0) << err.str();
  EXPECT_NE(out.str().find("quickstart"), std::string::npos);
  EXPECT_EQ(out.str().find("INVALID"), std::string::npos) << out.str();
}

TEST(Show, TrialStatesComeFromTheExperimentsFolder) {
  TempDir dir;
  dir.write("configs/s.yaml", "task: {samples: 100}\nsweep: {grid: {training.batch_size: [4, 8, 16]}}\n");
  auto result = testing::run_in(dir, {"show", "s", "--trials"});
  ASSERT_EQ(result.code, 0) << result.err;
  std::vector<std::string> ids;
  std::istringstream lines(result.out.substr(result.out.find("#  trial")));
  std::string line;
  std::getline(lines, line);
  while (std::getline(lines, line) && line.find(" trials: ") == std::string::npos) {
    std::istringstream fields(line);
    std::string number, id;
    fields >> number >> id;
    ids.push_back(id);
  }
  ASSERT_EQ(ids.size(), 3u);
  dir.write("experiments/s/trials/" + ids[0] + "/summary.json", R"({"status": "completed"})");
  dir.write("experiments/s/trials/" + ids[1] + "/metrics.jsonl", "");
  result = testing::run_in(dir, {"show", "s", "--trials"});
  EXPECT_NE(result.out.find("3 trials: 1 completed, 1 partial, 1 pending"), std::string::npos) << result.out;
}

TEST(Show, KeysDocumentsEveryKeyIncludingTheFixedNames) {
  TempDir dir;
  const auto result = testing::run_in(dir, {"show", "--keys"});
  ASSERT_EQ(result.code, 0);
  for (const auto& field : schema()) {
    EXPECT_NE(result.out.find(field.key + "  ("), std::string::npos) << field.key;
    EXPECT_FALSE(field.doc.empty()) << field.key;
  }
  // Names that other tools and scripts rely on.
  for (const std::string key : {"training.batch_size", "training.epochs", "training.seed", "optimizer.name",
                                "optimizer.lr", "task.name", "model.hidden", "sweep.grid", "sweep.seeds"}) {
    EXPECT_NE(result.out.find(key + "  ("), std::string::npos) << key;
  }
}

TEST(Show, OverridesMakeAndCollapseAxes) {
  TempDir dir;
  dir.write("configs/s.yaml", "task: {samples: 100}\nsweep: {grid: {training.batch_size: [4, 8]}}\n");
  auto result = testing::run_in(dir, {"show", "s", "-o", "lr=0.1,0.01", "-o", "model.hidden=[128,128]"});
  ASSERT_EQ(result.code, 0) << result.err;
  EXPECT_NE(result.out.find("4 trials"), std::string::npos) << result.out;
  EXPECT_NE(result.out.find("hidden: [128, 128]"), std::string::npos) << result.out;
  result = testing::run_in(dir, {"show", "s", "-o", "batch_size=8"});
  EXPECT_NE(result.out.find("1 trial "), std::string::npos) << result.out;
  EXPECT_NE(result.out.find("batch_size: 8\n"), std::string::npos) << result.out;
}

TEST(List, ABrokenFileIsItsOwnRowAndTheOthersStillShow) {
  TempDir dir;
  dir.write("configs/good.yaml", "description: fine\ntask: {samples: 100}\nsweep: {seeds: 3}\n");
  dir.write("configs/bad.yaml", "optimizer: {lrr: 1}\n");
  dir.write("configs/zz-also-good.yaml", "description: also fine\n");
  const auto result = testing::run_in(dir, {"list"});
  EXPECT_EQ(result.code, 2);
  EXPECT_NE(result.out.find("\ngood          3       fine\n"), std::string::npos) << result.out;
  EXPECT_NE(result.out.find("\nzz-also-good  1       also fine\n"), std::string::npos) << result.out;
  EXPECT_NE(result.out.find("\nbad           -       INVALID:"), std::string::npos) << result.out;
  EXPECT_NE(result.out.find("did you mean 'optimizer.lr'"), std::string::npos) << result.out;
  EXPECT_NE(result.err.find("1 sweep is invalid"), std::string::npos) << result.err;
}

TEST(Binary, ExitCodesReachTheShell) {
  TempDir dir;
  const auto run_binary = [&](const std::string& arguments) { return testing::run_sweeplab(dir, arguments).code; };
  EXPECT_EQ(run_binary("--help"), 0);
  EXPECT_EQ(run_binary("show --help"), 0);
  EXPECT_EQ(run_binary("--configs " + kRepoConfigs + " show quickstart"), 0);
  EXPECT_EQ(run_binary("--configs " + kRepoConfigs + " show no-such-sweep"), 2);
  EXPECT_EQ(run_binary("--configs " + kRepoConfigs + " show quickstart -o lr=-1"), 2);
  EXPECT_EQ(run_binary(""), 2);
}

}  // namespace
}  // namespace sweeplab
