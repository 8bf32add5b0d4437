// The research tasks' named sweeps reproduce their studies' headlines, at a size a test can afford: each test runs the
// repo's own config file (copied into a temporary folder) with overrides that only cut it down.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "test_util.hpp"

namespace sweeplab {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using testing::TempDir;

const fs::path kRepoConfigs = fs::path(SWEEPLAB_SOURCE_DIR) / "configs";

void copy_config(const TempDir& dir, const std::string& name) {
  dir.write("configs/" + name + ".yaml", testing::read_file(kRepoConfigs / (name + ".yaml")));
}

std::vector<json> summaries(const TempDir& dir, const std::string& sweep) {
  std::vector<json> out;
  for (const auto& entry : fs::directory_iterator(dir.path() / "experiments" / sweep / "trials")) {
    out.push_back(json::parse(testing::read_file(entry.path() / "summary.json")));
  }
  return out;
}

// The last metrics line of a trial.
json last_record(const TempDir& dir, const std::string& sweep, const std::string& trial_id) {
  const std::string text = testing::read_file(dir.path() / "experiments" / sweep / "trials" / trial_id / "metrics.jsonl");
  const auto end = text.find_last_not_of('\n');
  return json::parse(text.substr(text.rfind('\n', end) + 1, end - text.rfind('\n', end)));
}

// The grokking study: x+y mod 97 with one seed at a constant batch size reaches 99% validation accuracy within the budget.
TEST(ResearchSweeps, GrokkingBatchReachesNinetyNinePercentOnXPlusY) {
  TempDir dir;
  copy_config(dir, "grokking-batch");
  const auto result = testing::run_in(dir, {"run", "grokking-batch", "-q", "-o", "sweep.seeds=1", "-o",
                                            "task.name=x_plus_y", "-o", "batch_schedule.name=constant"});
  ASSERT_EQ(result.code, 0) << result.err;
  const auto all = summaries(dir, "grokking-batch");
  ASSERT_EQ(all.size(), 1u);
  const json& summary = all.front();
  EXPECT_EQ(summary["status"], "completed");
  ASSERT_TRUE(summary["steps_to_target"]["val_acc >= 0.99"].is_number()) << summary.dump();
  EXPECT_LE(summary["steps_to_target"]["val_acc >= 0.99"].get<std::int64_t>(), 10000);
  EXPECT_TRUE(summary["stopped_at_target"].get<bool>());
  EXPECT_GE(summary["final"]["test_acc"].get<double>(), 0.99);
}

// The sanity checks, part 3: a ReLU after the last layer stalls a one-logit (BCE) model, whose logit can no longer go
// negative (class-0 rows stay at log 2), while the two-logit cross-entropy model of the sanity checks' log routes around it
// and learns like the model without it (fewer steps than the config's 20000: the gap is there long before).
TEST(ResearchSweeps, SanityReluOutputStallsOneLogitButNotTwo) {
  TempDir dir;
  copy_config(dir, "sanity-overfit");
  copy_config(dir, "sanity-relu-output");
  const auto result =
      testing::run_in(dir, {"run", "sanity-relu-output", "-q", "-o", "sweep.seeds=1", "-o", "training.steps=3000"});
  ASSERT_EQ(result.code, 0) << result.err;
  const auto all = summaries(dir, "sanity-relu-output");
  ASSERT_EQ(all.size(), 4u);
  for (const json& summary : all) {
    const std::string activation = summary["swept"]["model.output_activation"];
    const std::string loss_kind = summary["swept"]["task.binary_loss"];
    const double loss = last_record(dir, "sanity-relu-output", summary["trial_id"])["train_loss"];
    SCOPED_TRACE(activation + ", " + loss_kind + ": final train loss " + std::to_string(loss));
    if (activation == "relu" && loss_kind == "bce") {
      EXPECT_GT(loss, 0.25);  // about log(2) / 2: the class-0 half of the rows does not move
    } else {
      EXPECT_LT(loss, 0.05);
    }
  }
}

}  // namespace
}  // namespace sweeplab
