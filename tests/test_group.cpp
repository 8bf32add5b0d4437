// Fused trial groups: a trial's numbers do not depend on its group, on -j, on divergence of its
// neighbours, or on where it was interrupted; groups are formed by shape; old engines' trials are not mixed.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>
#include <numeric>
#include <regex>
#include <set>

#include "sweeplab/config/compact_config.hpp"
#include "sweeplab/config/loader.hpp"
#include "sweeplab/config/fusion_key.hpp"
#include "sweeplab/sched/plan.hpp"
#include "sweeplab/engine/trainer.hpp"
#include "test_util.hpp"
#include "engine/setup.hpp"
#include "engine/checkpoint.hpp"

namespace sweeplab {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using testing::TempDir;

class RecordingSink : public TrialSink {
 public:
  void on_eval(const EvalRecord& record) override { records.push_back(record); }
  std::vector<EvalRecord> records;
};

// Everything of a record but the wall clock, exactly.
void expect_same_records(const std::vector<EvalRecord>& a, const std::vector<EvalRecord>& b, const std::string& what) {
  ASSERT_EQ(a.size(), b.size()) << what;
  for (std::size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].step, b[i].step) << what;
    EXPECT_EQ(a[i].samples, b[i].samples) << what;
    EXPECT_EQ(a[i].lr, b[i].lr) << what;
    EXPECT_EQ(a[i].train_loss, b[i].train_loss) << what << " record " << i;
    EXPECT_EQ(a[i].last_batch_loss, b[i].last_batch_loss) << what << " record " << i;
    EXPECT_EQ(a[i].test_loss, b[i].test_loss) << what << " record " << i;
    EXPECT_EQ(a[i].train_acc, b[i].train_acc) << what << " record " << i;
    EXPECT_EQ(a[i].test_acc, b[i].test_acc) << what << " record " << i;
  }
}

// 64 trials of one shape: 8 learning rates x 8 seeds, SGD with momentum and a cosine schedule, batch size 2
// (drop_last false and 301 training points: every epoch ends in a batch of one).
ResolvedSweep grid_of_64(const TempDir& dir) {
  dir.write("configs/g.yaml",
            "task: {name: doughnuts, samples: 376}\n"
            "optimizer: {name: sgd, momentum: 0.9}\n"
            "lr_schedule: {name: cosine, warmup_steps: 10}\n"
            "training: {batch_size: 2, epochs: 2}\n"
            "sweep: {grid: {optimizer.lr: [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2]}, seeds: 8}\n");
  return load_sweep(dir.str("configs"), "g");
}

TEST(Group, ATrialAloneEqualsTheSameTrialInAGroupOf64ByteForByte) {
  TempDir dir;
  const auto sweep = grid_of_64(dir);
  ASSERT_EQ(sweep.trials.size(), 64u);
  std::vector<RecordingSink> sinks(64);
  const auto configs = testing::configs_of(sweep);
  std::vector<GroupMember> members;
  for (std::size_t i = 0; i < 64; ++i) members.push_back({&configs[i], &sinks[i], {}});
  const auto outcomes = train_group(members);
  ASSERT_EQ(outcomes.size(), 64u);
  std::set<std::string> digests;
  for (const std::size_t i : {0u, 9u, 37u, 63u}) {
    RecordingSink alone;
    const auto outcome = train_trial(sweep.trials[i].config.expand(), alone);
    expect_same_records(alone.records, sinks[i].records, sweep.trials[i].id);
    EXPECT_EQ(outcome.weights_digest, outcomes[i].weights_digest) << sweep.trials[i].id;
    EXPECT_EQ(outcome.steps, outcomes[i].steps);
    EXPECT_EQ(outcome.status, outcomes[i].status);
    digests.insert(outcome.weights_digest);
  }
  EXPECT_EQ(digests.size(), 4u);  // the trials differ from each other: the comparison above means something

  // The same group in consecutive parts of 10 (as a GPU whose memory holds 10 trials would train it).
  std::vector<RecordingSink> parts(64);
  for (std::size_t i = 0; i < 64; ++i) members[i].sink = &parts[i];
  const auto in_parts = train_group(members, 10);
  for (std::size_t i = 0; i < 64; ++i) {
    expect_same_records(parts[i].records, sinks[i].records, sweep.trials[i].id + " in parts");
    EXPECT_EQ(in_parts[i].weights_digest, outcomes[i].weights_digest);
  }
  EXPECT_EQ(outcomes[9].status, TrialStatus::Completed);
  EXPECT_EQ(sinks[9].records.size(), 2u);
}

// last_batch_loss is the loss of the evaluation's last batch: with an evaluation after every step it is that
// step's mean training loss, and an evaluation every 4 steps records the 4th step's.
TEST(Group, EachEvaluationRecordsTheLossOfItsLastBatch) {
  TempDir dir;
  dir.write("configs/e.yaml", "task: {name: doughnuts, samples: 200}\noptimizer: {name: sgd, lr: 0.05}\n"
                              "training: {batch_size: 8, steps: 12, eval_every: 1}\n");
  const Config every_step = load_sweep(dir.str("configs"), "e").spec.base;  // no axes: the one trial's config
  Config every_fourth = every_step;
  every_fourth.training.eval_every = 4;
  RecordingSink each, fourth;
  ASSERT_EQ(train_trial(every_step, each).status, TrialStatus::Completed);
  ASSERT_EQ(train_trial(every_fourth, fourth).status, TrialStatus::Completed);
  ASSERT_EQ(each.records.size(), 12u);
  ASSERT_EQ(fourth.records.size(), 3u);
  for (const auto& record : each.records) {
    ASSERT_TRUE(record.last_batch_loss.has_value());
    EXPECT_EQ(*record.last_batch_loss, record.train_loss) << "step " << record.step;
  }
  for (const auto& record : fourth.records) {
    ASSERT_TRUE(record.last_batch_loss.has_value());
    EXPECT_EQ(*record.last_batch_loss, each.records.at(std::size_t(record.step - 1)).train_loss)
        << "step " << record.step;
    EXPECT_NE(*record.last_batch_loss, record.train_loss) << "the mean of 4 batches is not the last one's";
  }
}

TEST(Group, ADivergingTrialLeavesTheOthersIdentical) {
  TempDir dir;
  dir.write("configs/d.yaml",
            "task: {name: doughnuts, samples: 400}\n"
            "training: {batch_size: 8, epochs: 3}\n"
            "sweep: {grid: {optimizer.lr: [0.01, 50.0, 0.05]}}\n");
  const auto sweep = load_sweep(dir.str("configs"), "d");
  std::vector<RecordingSink> with(3), without(2);
  const auto configs = testing::configs_of(sweep);
  const auto all = train_group({{&configs[0], &with[0], {}}, {&configs[1], &with[1], {}}, {&configs[2], &with[2], {}}});
  const auto calm = train_group({{&configs[0], &without[0], {}}, {&configs[2], &without[1], {}}});
  EXPECT_EQ(all[1].status, TrialStatus::Diverged);
  ASSERT_TRUE(all[1].diverged_at_step);
  EXPECT_LT(*all[1].diverged_at_step, 120);
  EXPECT_EQ(all[1].steps, *all[1].diverged_at_step);
  EXPECT_TRUE(with[1].records.empty() || with[1].records.back().step < *all[1].diverged_at_step);
  expect_same_records(with[0].records, without[0].records, "lr 0.01");
  expect_same_records(with[2].records, without[1].records, "lr 0.05");
  EXPECT_EQ(all[0].weights_digest, calm[0].weights_digest);
  EXPECT_EQ(all[2].weights_digest, calm[1].weights_digest);
  EXPECT_EQ(all[0].status, TrialStatus::Completed);
  EXPECT_EQ(all[2].status, TrialStatus::Completed);
}

// 12 trials of one shape (4 learning rates x 3 seeds), Adam, 400 points at batch size 4: 80 steps an
// epoch, 6 epochs, a checkpoint every 2 epochs.
const std::string kGroupSweep =
    "task: {name: doughnuts, samples: 400}\n"
    "optimizer: {name: adam}\n"
    "training: {batch_size: 4, epochs: 6}\n"
    "checkpoint: {every: 2, min_interval_s: 0}\n"
    "sweep: {grid: {optimizer.lr: [0.001, 0.003, 0.01, 0.03]}, seeds: 3}\n";

json summary_of(const fs::path& trial) { return testing::read_json(trial / "summary.json"); }

// Every trial of sweep `name` has the same metrics and weights in two experiment folders.
void expect_same_results(const TempDir& dir, const std::string& name, const std::string& a, const std::string& b) {
  const auto sweep = load_sweep(dir.str("configs"), name);
  for (const auto& trial : sweep.trials) {
    const auto left = dir.path() / a / name / "trials" / trial.id, right = dir.path() / b / name / "trials" / trial.id;
    EXPECT_EQ(testing::metric_values(left), testing::metric_values(right)) << trial.id;
    EXPECT_FALSE(testing::metric_values(left).empty()) << trial.id;
    EXPECT_EQ(summary_of(left)["weights_digest"], summary_of(right)["weights_digest"]) << trial.id;
    EXPECT_EQ(summary_of(left)["status"], "completed") << trial.id;
  }
}

struct Interruption {
  std::string name, fault;
  int expected_code;
  std::int64_t resumed_at;  // -1: where Ctrl-C stopped it, step 270 or later (the signal travels)
};

class GroupResumeTest : public ::testing::TestWithParam<Interruption> {};

TEST_P(GroupResumeTest, KillOrCtrlCThenResumeEqualsAnUninterruptedRunPerTrial) {
  TempDir dir;
  dir.write("configs/k.yaml", kGroupSweep);
  ASSERT_EQ(testing::run_sweeplab(dir, "run k -j 1 -q --experiments whole").code, 0);
  const auto broken = testing::run_sweeplab(dir, "run k -j 1", GetParam().fault);  // mid-epoch 4 (step 270)
  EXPECT_EQ(broken.code, GetParam().expected_code) << broken.out << broken.err;
  const auto resumed = testing::run_sweeplab(dir, "run k -j 1");
  ASSERT_EQ(resumed.code, 0) << resumed.out << resumed.err;
  std::smatch match;
  ASSERT_TRUE(std::regex_search(resumed.out, match, std::regex("resumed at step (\\d+)"))) << resumed.out;
  const std::int64_t at = std::stoll(match[1]);
  if (GetParam().resumed_at > 0) {
    EXPECT_EQ(at, GetParam().resumed_at) << resumed.out;  // the checkpoint after epoch 2
  } else {
    EXPECT_GE(at, 270) << resumed.out;  // Ctrl-C checkpoints where it stops
    EXPECT_LT(at, 480) << resumed.out;
  }
  expect_same_results(dir, "k", "experiments", "whole");
}

INSTANTIATE_TEST_SUITE_P(Cases, GroupResumeTest,
                         ::testing::Values(Interruption{"kill", "kill_at_step=270", 137, 160},
                                           Interruption{"ctrl_c", "sigint_at_step=270", 130, -1}),
                         [](const auto& info) { return info.param.name; });

TEST(Group, AWorkerThatDiesFailsOnlyTheTrialsItWasStillTraining) {
  TempDir dir;
  // One group of four: the two at lr 1e5 diverge within a few steps; the worker dies at step 200.
  dir.write("configs/w.yaml",
            "task: {name: doughnuts, samples: 400}\n"
            "training: {batch_size: 8, steps: 400}\n"
            "sweep: {grid: {optimizer.lr: [0.01, 100000.0]}, seeds: 2}\n");
  const auto sweep = load_sweep(dir.str("configs"), "w");
  ASSERT_EQ(sweep.trials.size(), 4u);
  const auto folder = [&](std::size_t i) { return dir.path() / "experiments/w/trials" / sweep.trials[i].id; };
  const auto crashed = testing::run_sweeplab(dir, "run w -j 1", "abort_at_step=200");
  EXPECT_EQ(crashed.code, 1) << crashed.out << crashed.err;
  for (const std::size_t i : {2u, 3u}) {
    EXPECT_EQ(summary_of(folder(i))["status"], "diverged") << "settled before the worker died";
    EXPECT_LT(summary_of(folder(i))["diverged_at_step"].get<int>(), 200);
  }
  for (const std::size_t i : {0u, 1u}) EXPECT_EQ(summary_of(folder(i))["status"], "failed");  // still training
  const auto diverged_summary = testing::read_file(folder(2) / "summary.json");

  const auto retried = testing::run_sweeplab(dir, "run w -j 1 --retry-failed");
  EXPECT_EQ(retried.code, 0) << retried.out << retried.err;
  for (const std::size_t i : {0u, 1u}) EXPECT_EQ(summary_of(folder(i))["status"], "completed");
  EXPECT_EQ(testing::read_file(folder(2) / "summary.json"), diverged_summary);  // skipped: left as it was
}

TEST(Group, AMomentumFreeTrialResumesInAnyGroup) {
  TempDir dir;
  // SGD with and without momentum in one group: the group keeps a momentum buffer; alone, a momentum-free
  // trial keeps none. Its checkpoint must resume either way.
  dir.write("configs/m.yaml",
            "task: {name: doughnuts, samples: 400}\n"
            "optimizer: {name: sgd, lr: 0.05}\n"
            "training: {batch_size: 4, epochs: 4}\n"
            "checkpoint: {every: 1, min_interval_s: 0}\n"
            "sweep: {grid: {optimizer.momentum: [0.0, 0.9]}, seeds: 2}\n");
  ASSERT_EQ(testing::run_sweeplab(dir, "run m -q --experiments whole").code, 0);
  EXPECT_EQ(testing::run_sweeplab(dir, "run m -j 1", "sigint_at_step=120").code, 130);  // one group of 4
  const auto resumed = testing::run_sweeplab(dir, "run m -j 2 --group-size 1");            // four groups of 1
  ASSERT_EQ(resumed.code, 0) << resumed.err;
  EXPECT_EQ(resumed.out.find("unreadable"), std::string::npos) << resumed.out;
  EXPECT_NE(resumed.out.find("resumed at step"), std::string::npos) << resumed.out;
  expect_same_results(dir, "m", "experiments", "whole");
}

TEST(Group, GroupSizesAndWorkerCountsDoNotChangeAnyTrial) {
  TempDir dir;
  dir.write("configs/k.yaml", kGroupSweep);
  ASSERT_EQ(testing::run_sweeplab(dir, "run k -j 1 -q --experiments one_group").code, 0);
  ASSERT_EQ(testing::run_sweeplab(dir, "run k -j 2 --group-size 5 -q --experiments small_groups").code, 0);
  ASSERT_EQ(testing::run_sweeplab(dir, "run k -j 2 --group-size 1 -q --experiments one_by_one").code, 0);
  expect_same_results(dir, "k", "one_group", "small_groups");
  expect_same_results(dir, "k", "one_group", "one_by_one");
}

TEST(Group, RaisingTheBudgetOfAGroupContinuesEachTrial) {
  TempDir dir;
  dir.write("configs/k.yaml", kGroupSweep);
  ASSERT_EQ(testing::run_sweeplab(dir, "run k -q --experiments whole").code, 0);
  ASSERT_EQ(testing::run_sweeplab(dir, "run k -o epochs=3 -q").code, 0);
  const auto raised = testing::run_sweeplab(dir, "run k");
  ASSERT_EQ(raised.code, 0) << raised.err;
  EXPECT_NE(raised.out.find("resumed at step 240"), std::string::npos) << raised.out;  // the final checkpoint of 3 epochs
  expect_same_results(dir, "k", "experiments", "whole");
}

TEST(Group, ATrialStartedByAnOlderEngineIsLeftAsItWasWithOneLineAndFreshRetrainsIt) {
  TempDir dir;
  dir.write("configs/k.yaml", "task: {name: doughnuts, samples: 200}\ntraining: {batch_size: 16, epochs: 2}\n");
  const auto trial = load_sweep(dir.str("configs"), "k").trials.at(0);
  const auto folder = dir.path() / "experiments/k/trials" / trial.id;
  fs::create_directories(folder);
  CheckpointData old;  // what engine 1 wrote: format 1, no engine version
  old.state.put_int("format_version", 1);
  std::ofstream(folder / "checkpoint.pt", std::ios::binary) << checkpoint_bytes(old);
  std::ofstream(folder / "metrics.jsonl") << "{\"epoch\":1,\"step\":10}\n";
  const auto before = testing::read_file(folder / "checkpoint.pt");

  const auto refused = testing::run_sweeplab(dir, "run k");
  EXPECT_EQ(refused.code, 0) << refused.err;
  EXPECT_NE(refused.out.find("started by training engine 1"), std::string::npos) << refused.out;
  EXPECT_NE(refused.out.find("--fresh"), std::string::npos) << refused.out;
  EXPECT_EQ(testing::read_file(folder / "checkpoint.pt"), before);  // untouched
  EXPECT_EQ(testing::read_file(folder / "metrics.jsonl"), "{\"epoch\":1,\"step\":10}\n");
  EXPECT_FALSE(fs::exists(folder / "summary.json"));

  const auto fresh = testing::run_sweeplab(dir, "run k --fresh");
  ASSERT_EQ(fresh.code, 0) << fresh.err;
  EXPECT_EQ(summary_of(folder)["status"], "completed");
  EXPECT_EQ(testing::metric_values(folder).size(), 2u);
  EXPECT_EQ(summary_of(folder)["engine_version"], kEngineVersion);
  const auto sweep_json = testing::read_json(dir.path() / "experiments/k/sweep.json");
  EXPECT_EQ(sweep_json["context"]["engine_version"], kEngineVersion);
  EXPECT_EQ(sweep_json["context"]["engine"], "lean-cpu");
}

TEST(Group, RaisingTheBudgetOfAnOlderEnginesCompletedTrialKeepsItsResults) {
  TempDir dir;
  dir.write("configs/k.yaml", "task: {name: doughnuts, samples: 200}\ntraining: {batch_size: 16, epochs: 2}\n");
  ASSERT_EQ(testing::run_sweeplab(dir, "run k -q").code, 0);
  const auto folder = dir.path() / "experiments/k/trials" / load_sweep(dir.str("configs"), "k").trials.at(0).id;
  CheckpointData old;  // as if engine 1 had trained it
  old.state.put_int("format_version", 1);
  std::ofstream(folder / "checkpoint.pt", std::ios::binary) << checkpoint_bytes(old);
  const auto summary = testing::read_file(folder / "summary.json");
  const auto metrics = testing::read_file(folder / "metrics.jsonl");

  const auto raised = testing::run_sweeplab(dir, "run k -o epochs=4");
  EXPECT_EQ(raised.code, 0) << raised.err;
  EXPECT_NE(raised.out.find("started by training engine 1"), std::string::npos) << raised.out;
  EXPECT_EQ(testing::read_file(folder / "summary.json"), summary);
  EXPECT_EQ(testing::read_file(folder / "metrics.jsonl"), metrics);
}

// GPU tests: skipped where CUDA is not available (CI never has a GPU).
TEST(Cuda, AGroupOnTheGpuIsDeterministicAndAgreesWithTheCpuEngine) {
  if (!cuda_problem().empty()) GTEST_SKIP() << cuda_problem();
  TempDir dir;
  dir.write("configs/c.yaml",
            "task: {name: doughnuts, samples: 400}\n"
            "optimizer: {name: adam}\n"
            "training: {batch_size: 8, epochs: 3}\n"
            "sweep: {grid: {optimizer.lr: [0.001, 0.003, 0.01]}, seeds: 2}\n");
  const auto sweep = load_sweep(dir.str("configs"), "c");
  const auto train_on = [&](const std::string& device, std::vector<RecordingSink>& sinks) {
    std::vector<Config> configs = testing::configs_of(sweep);
    for (auto& config : configs) config.training.device = device;
    sinks.assign(configs.size(), RecordingSink{});
    std::vector<GroupMember> members;
    for (std::size_t i = 0; i < configs.size(); ++i) members.push_back({&configs[i], &sinks[i], {}});
    return train_group(members);
  };
  std::vector<RecordingSink> gpu, again, cpu;
  const auto first = train_on("cuda", gpu);
  const auto second = train_on("cuda", again);
  train_on("cpu", cpu);
  for (std::size_t i = 0; i < sweep.trials.size(); ++i) {
    expect_same_records(gpu[i].records, again[i].records, "the same command twice on the GPU");
    EXPECT_EQ(first[i].weights_digest, second[i].weights_digest);
    ASSERT_EQ(gpu[i].records.size(), cpu[i].records.size());
    for (std::size_t r = 0; r < cpu[i].records.size(); ++r) {
      EXPECT_NEAR(gpu[i].records[r].train_loss, cpu[i].records[r].train_loss, 1e-3 * cpu[i].records[r].train_loss);
      EXPECT_NEAR(*gpu[i].records[r].test_loss, *cpu[i].records[r].test_loss, 1e-3 * *cpu[i].records[r].test_loss);
    }
  }
}

TEST(Fusion, MemoryDecidesHowManyTrialsAGpuGroupHolds) {
  MlpShape shape;
  shape.widths = {2, 64, 64, 1};  // 4417 parameters
  shape.optimizer = OptimizerKind::Adam;  // 2 x 4417 floats of state
  const std::int64_t floats_per_trial = 4417 * 6 + 2 * 4417 + 2 * (2 + 64 + 64 + 1) * 6;
  const std::int64_t per_trial = floats_per_trial * 4;
  EXPECT_EQ(trials_that_fit(shape, 2, 1000 * per_trial), 1000);
  EXPECT_EQ(trials_that_fit(shape, 2, 1000 * per_trial - 1), 999);
  EXPECT_EQ(trials_that_fit(shape, 2, 10), 1);  // never zero
  EXPECT_GT(trials_that_fit(shape, 2, 0), 1'000'000'000);  // unknown memory: no limit
  EXPECT_LT(trials_that_fit(shape, 512, std::int64_t(40) << 30), trials_that_fit(shape, 2, std::int64_t(40) << 30));
  // An H100's 80 GB, half of it for a group: the groups of thousands fit at batch size 2 and 64.
  EXPECT_GE(trials_that_fit(shape, 2, std::int64_t(40) << 30), 4096);
  EXPECT_GE(trials_that_fit(shape, 64, std::int64_t(40) << 30), 1024);
}

TEST(Fusion, GroupsShareAShapeAndEveryWorkerGetsOne) {
  TempDir dir;
  dir.write("configs/f.yaml",
            "sweep: {grid: {training.batch_size: [4, 8], optimizer.lr: [0.1, 0.2, 0.3], optimizer.momentum: [0.0, 0.9]}, "
            "seeds: 3}\n");
  const auto sweep = load_sweep(dir.str("configs"), "f");
  ASSERT_EQ(sweep.trials.size(), 36u);
  std::vector<const CompactConfig*> configs;
  for (const auto& trial : sweep.trials) configs.push_back(&trial.config);
  std::vector<std::size_t> order(configs.size());
  std::iota(order.begin(), order.end(), 0);

  std::vector<CompactConfig> on_cuda;
  for (const auto& trial : sweep.trials) {
    Config config = trial.config.expand();
    config.training.device = "cuda";
    on_cuda.push_back(CompactConfig::of(config));
  }
  std::vector<const CompactConfig*> gpu_configs;
  for (const auto& config : on_cuda) gpu_configs.push_back(&config);

  const auto by_shape = form_groups(configs, order, 64, 1);
  ASSERT_EQ(by_shape.size(), 2u);  // one per batch size: lr, momentum and seed fuse
  for (const auto& group : by_shape) {
    EXPECT_EQ(group.size(), 18u);
    for (const auto index : group) {
      EXPECT_EQ(configs[index]->expand().training.batch_size, configs[group.front()]->expand().training.batch_size);
    }
  }
  // Two workers on the CPU: four groups each (ceil(36 / 8) = 5 trials at most), four per shape of 18 (5, 4, 5, 4).
  const auto spread = form_groups(configs, order, 64, 2);
  ASSERT_EQ(spread.size(), 8u);
  for (const auto& group : spread) {
    EXPECT_GE(group.size(), 4u);
    EXPECT_LE(group.size(), 5u);
  }
  // On a GPU, where a big group is what makes it fast, one group per worker: 18 a shape in two groups of 9.
  const auto on_gpu = form_groups(gpu_configs, order, 64, 4);
  ASSERT_EQ(on_gpu.size(), 4u);
  for (const auto& group : on_gpu) EXPECT_EQ(group.size(), 9u);
  const auto capped = form_groups(configs, order, 5, 1);  // 18 a shape in groups of at most 5: 5, 4, 5, 4
  std::size_t covered = 0;
  for (const auto& group : capped) {
    EXPECT_LE(group.size(), 5u);
    EXPECT_GE(group.size(), 4u);
    covered += group.size();
  }
  EXPECT_EQ(covered, 36u);
  EXPECT_EQ(capped.size(), 8u);

  Config other = sweep.trials[0].config.expand();
  other.model.hidden = {32};
  EXPECT_NE(fusion_key(other), fusion_key(sweep.trials[0].config.expand()));
  other = sweep.trials[0].config.expand();
  other.training.epochs = 99;
  other.optimizer.weight_decay = 0.1;
  other.lr_schedule.name = "cosine";
  EXPECT_EQ(fusion_key(other), fusion_key(sweep.trials[0].config.expand()));
}

}  // namespace
}  // namespace sweeplab
