// The group trainer's side of the grokking study and batch_size_studies: batch-size schedules, budgets in samples,
// online (stream) data and the effective learning rate of sp/mup; and the schedule functions themselves.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <utility>
#include <vector>

#include "engine/checkpoint.hpp"
#include "engine/dataset.hpp"
#include "engine/group_math.hpp"
#include "engine/online_rows.hpp"
#include "engine/setup.hpp"
#include "sweeplab/config/fusion_key.hpp"
#include "sweeplab/config/loader.hpp"
#include "sweeplab/engine/trainer.hpp"
#include "sweeplab/sched/plan.hpp"
#include "sweeplab/training/schedule.hpp"
#include "test_util.hpp"

namespace sweeplab {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using testing::TempDir;

Config with_schedule(std::int64_t b0, const std::string& name, std::int64_t b1 = 0, std::int64_t ramp = 0) {
  Config config;
  config.training.batch_size = b0;
  config.batch_schedule.name = name;
  config.batch_schedule.final_batch_size = b1;
  config.batch_schedule.ramp_steps = ramp;
  return config;
}

TEST(Schedule, BatchSizeAtEachSchedule) {
  const Config constant = with_schedule(24, "constant");
  for (const std::int64_t t : {0, 1, 1000}) EXPECT_EQ(batch_size_at(constant, t), 24);

  // linear 4 -> 32 over 8 steps: round(4 + 3.5 t), halves away from zero; 32 from the ramp's end on.
  const Config linear = with_schedule(4, "linear", 32, 8);
  const std::vector<std::pair<std::int64_t, std::int64_t>> linear_sizes = {
      {0, 4}, {1, 8}, {2, 11}, {3, 15}, {4, 18}, {7, 29}, {8, 32}, {9, 32}, {500, 32}};
  for (const auto& [t, b] : linear_sizes) EXPECT_EQ(batch_size_at(linear, t), b) << "linear step " << t;

  // geometric 2 -> 8 over 3 steps: 2 * 4^(t/3) = 2, 3.17, 5.04, then 8.
  const Config geometric = with_schedule(2, "geometric", 8, 3);
  const std::vector<std::pair<std::int64_t, std::int64_t>> geometric_sizes = {{0, 2}, {1, 3}, {2, 5}, {3, 8}, {40, 8}};
  for (const auto& [t, b] : geometric_sizes) EXPECT_EQ(batch_size_at(geometric, t), b) << "geometric step " << t;
  const Config doubling = with_schedule(4, "geometric", 64, 4);  // 4 * 2^t
  for (std::int64_t t = 0; t <= 4; ++t) EXPECT_EQ(batch_size_at(doubling, t), 4 << t);

  // steps: B0 before the first step listed, each size from its step on.
  Config steps = with_schedule(4, "steps");
  steps.batch_schedule.at_steps = {10, 20};
  steps.batch_schedule.sizes = {8, 16};
  const std::vector<std::pair<std::int64_t, std::int64_t>> step_sizes = {
      {0, 4}, {9, 4}, {10, 8}, {19, 8}, {20, 16}, {1000, 16}};
  for (const auto& [t, b] : step_sizes) EXPECT_EQ(batch_size_at(steps, t), b) << "steps step " << t;
}

// The fewest steps whose batch sizes add up to `samples`, counted one step at a time.
std::int64_t steps_by_counting(const Config& config, std::int64_t samples) {
  std::int64_t steps = 0, seen = 0;
  while (seen < samples) seen += batch_size_at(config, steps++);
  return steps;
}

TEST(Schedule, StepsForSamples) {
  const Config constant = with_schedule(32, "constant");
  EXPECT_EQ(steps_for_samples(constant, 96), 3);
  EXPECT_EQ(steps_for_samples(constant, 97), 4);
  EXPECT_EQ(steps_for_samples(constant, 100), 4);
  EXPECT_EQ(steps_for_samples(constant, 1), 1);

  Config steps = with_schedule(4, "steps");
  steps.batch_schedule.at_steps = {10, 20};
  steps.batch_schedule.sizes = {8, 16};
  // 10 x 4 = 40 samples, then 10 x 8 = 80 more (120 at step 20), then 16 a step.
  EXPECT_EQ(steps_for_samples(steps, 40), 10);
  EXPECT_EQ(steps_for_samples(steps, 41), 11);
  EXPECT_EQ(steps_for_samples(steps, 120), 20);
  EXPECT_EQ(steps_for_samples(steps, 121), 21);
  EXPECT_EQ(steps_for_samples(steps, 120 + 16 * 100), 120);

  const std::vector<Config> ramps = {with_schedule(4, "linear", 32, 8), with_schedule(2, "geometric", 8, 3),
                                     with_schedule(64, "linear", 8, 50), steps};
  for (const Config& config : ramps) {
    for (const std::int64_t samples : {1, 5, 37, 100, 101, 999, 5000, 123457}) {
      EXPECT_EQ(steps_for_samples(config, samples), steps_by_counting(config, samples))
          << config.batch_schedule.name << " " << samples;
    }
  }
}

TEST(Schedule, EffectiveLrFactorFollowsTheFormulas) {
  Config config;
  config.model.hidden = {64, 32};  // L = 3 layers, N = 32
  const double L = 3.0, N = 32.0;
  EXPECT_EQ(effective_lr_factor(config), 1.0);  // standard
  struct Case {
    std::string optimizer, parameterization;
    double gamma, expected;
  };
  const std::vector<Case> cases = {
      {"sgd", "sp", 0.5, 0.25},
      {"sgd", "mup", 0.5, 0.25 * N},
      {"sgd", "sp", 1.0, 1.0},
      {"sgd", "mup", 1.0, N},
      {"sgd", "sp", 4.0, std::pow(4.0, 2.0 / L)},
      {"sgd", "mup", 4.0, std::pow(4.0, 2.0 / L) * N},
      {"adam", "sp", 0.5, 0.5},
      {"adam", "mup", 0.5, 0.5 * std::sqrt(N)},
      {"adam", "sp", 4.0, std::pow(4.0, 1.0 / L)},
      {"adam", "mup", 4.0, std::pow(4.0, 1.0 / L) * std::sqrt(N)},
      {"adamw", "mup", 0.25, 0.25 * std::sqrt(N)},
      {"adamw", "sp", 8.0, std::pow(8.0, 1.0 / L)},
  };
  for (const auto& c : cases) {
    config.optimizer.name = c.optimizer;
    config.model.parameterization = c.parameterization;
    config.model.gamma = c.gamma;
    EXPECT_DOUBLE_EQ(effective_lr_factor(config), c.expected) << c.optimizer << " " << c.parameterization << " " << c.gamma;
    // batch_size_studies' uncompensated rule: the width factor alone, whatever gamma.
    config.optimizer.scale_lr_by_gamma = false;
    const bool mup = c.parameterization == "mup", sgd = c.optimizer == "sgd";
    EXPECT_DOUBLE_EQ(effective_lr_factor(config), mup ? (sgd ? N : std::sqrt(N)) : 1.0)
        << "uncompensated " << c.optimizer << " " << c.parameterization << " " << c.gamma;
    config.optimizer.scale_lr_by_gamma = true;
  }
}

class RecordingSink : public TrialSink {
 public:
  void on_eval(const EvalRecord& record) override { records.push_back(record); }
  bool stop_requested() override { return stop_after > 0 && std::int64_t(records.size()) >= stop_after; }
  std::vector<EvalRecord> records;
  std::int64_t stop_after = 0;  // > 0: asks to stop once this many evaluations are in
};

Config load_one(const TempDir& dir, const std::string& yaml) {
  dir.write("configs/c.yaml", yaml);
  return load_sweep(dir.str("configs"), "c").trials.at(0).config.expand();
}

// 400 doughnut points: 320 training rows.
const char* kDoughnuts = "task: {name: doughnuts, samples: 400}\noptimizer: {name: sgd, lr: 0.05, momentum: 0.9}\n";

TEST(Schedule, ALinearRampTrainsAtTheScheduledBatchSizesAcrossEpochs) {
  TempDir dir;
  const Config config = load_one(dir, std::string(kDoughnuts) +
                                          "training: {steps: 40, batch_size: 4, eval_every: 5}\n"
                                          "batch_schedule: {name: linear, final_batch_size: 32, ramp_steps: 20}\n");
  RecordingSink sink;
  const TrialOutcome outcome = train_trial(config, sink);
  ASSERT_EQ(outcome.status, TrialStatus::Completed);
  ASSERT_EQ(sink.records.size(), 8u);
  // The rows each step takes: its batch size, or what is left of the epoch (no drop_last).
  std::int64_t samples = 0, row = 0, epoch = 0;
  std::size_t next = 0;
  for (std::int64_t t = 0; t < 40; ++t) {
    const std::int64_t rows = std::min(batch_size_at(config, t), 320 - row);
    samples += rows;
    row += rows;
    if (row == 320) row = 0, ++epoch;
    if ((t + 1) % 5 == 0) {
      const EvalRecord& r = sink.records.at(next++);
      EXPECT_EQ(r.step, t + 1);
      EXPECT_EQ(r.batch_size, batch_size_at(config, t)) << "step " << t + 1;
      EXPECT_EQ(r.samples, samples) << "step " << t + 1;
      EXPECT_EQ(r.epoch, epoch) << "step " << t + 1;
    }
  }
  EXPECT_EQ(sink.records.front().batch_size, 10);  // the evaluation after step 5 shows step 4's: 4 + 28 x 4/20 = 9.6
  EXPECT_EQ(sink.records.back().batch_size, 32);
  EXPECT_EQ(outcome.samples, samples);
  EXPECT_EQ(outcome.epochs, epoch);
  EXPECT_GE(epoch, 2);  // the ramp crossed epoch ends (and a short batch at one of them)
}

// batch_schedule.initial_batch_size: a ramp of its own beside a constant training.batch_size, so that
// batch_schedule.name can be an axis (grokking-batch: constant 512 vs 32 -> 512).
TEST(Schedule, ARampStartsAtItsInitialBatchSizeAndConstantIgnoresIt) {
  TempDir dir;
  const std::string base = std::string(kDoughnuts) + "training: {steps: 12, batch_size: 64, eval_every: 1}\n";
  const std::string ramp = "batch_schedule: {name: geometric, initial_batch_size: 4, final_batch_size: 64, ramp_steps: 8}\n";
  const Config ramped = load_one(dir, base + ramp);
  EXPECT_EQ(batch_size_at(ramped, 0), 4);
  EXPECT_EQ(batch_size_at(ramped, 4), 16);  // 4 x 16^(4/8)
  EXPECT_EQ(batch_size_at(ramped, 8), 64);
  RecordingSink sink;
  ASSERT_EQ(train_trial(ramped, sink).status, TrialStatus::Completed);
  ASSERT_EQ(sink.records.size(), 12u);
  EXPECT_EQ(sink.records[0].batch_size, 4);
  EXPECT_EQ(sink.records[0].samples, 4);
  EXPECT_EQ(sink.records[11].batch_size, 64);
  TempDir other;
  const Config constant = load_one(other, base + "batch_schedule: {name: constant, initial_batch_size: 4}\n");
  RecordingSink constant_sink;
  ASSERT_EQ(train_trial(constant, constant_sink).status, TrialStatus::Completed);
  EXPECT_EQ(constant_sink.records[0].batch_size, 64);
  EXPECT_EQ(constant_sink.records[0].samples, 64);
}

TEST(Schedule, ResumedMidRampEqualsAnUninterruptedRunBitForBit) {
  TempDir dir;
  dir.write("configs/r.yaml", std::string(kDoughnuts) +
                                  "training: {steps: 40, batch_size: 4, eval_every: 5}\n"
                                  "batch_schedule: {name: geometric, final_batch_size: 48, ramp_steps: 30}\n"
                                  "checkpoint: {every: 3, min_interval_s: 0}\n");
  ASSERT_EQ(testing::run_sweeplab(dir, "run r --experiments whole -q").code, 0);
  const auto trial_in = [&](const std::string& experiments) {
    std::vector<fs::path> trials;
    for (const auto& entry : fs::directory_iterator(dir.path() / experiments / "r" / "trials")) trials.push_back(entry.path());
    EXPECT_EQ(trials.size(), 1u);
    return trials.at(0);
  };
  const auto reference = trial_in("whole");
  // Killed after step 17; continued from the checkpoint at step 15: mid-ramp (batch size 14 there) and mid-epoch
  // (about 114 of the 320 rows).
  const auto broken = testing::run_sweeplab(dir, "run r", "kill_at_step=17");
  EXPECT_EQ(broken.code, 137) << broken.out << broken.err;
  const auto trial = trial_in("experiments");
  const auto resumed = testing::run_sweeplab(dir, "run r");
  ASSERT_EQ(resumed.code, 0) << resumed.out << resumed.err;
  const json summary = testing::read_json(trial / "summary.json"), whole = testing::read_json(reference / "summary.json");
  EXPECT_EQ(summary["status"], "completed");
  EXPECT_EQ(summary["resumed_from_step"], 15);
  EXPECT_EQ(testing::metric_values(trial), testing::metric_values(reference));
  EXPECT_EQ(testing::metric_values(trial).size(), 8u);
  EXPECT_EQ(summary["weights_digest"], whole["weights_digest"]);
  EXPECT_EQ(summary["samples"], whole["samples"]);
  // The metrics lines carry the ramp's batch sizes.
  const auto lines = testing::metric_values(trial);
  EXPECT_EQ(json::parse(lines.front())["batch_size"], 6);   // step 5 took step 4's: 4 x 12^(4/30) = 5.6
  EXPECT_EQ(json::parse(lines.back())["batch_size"], 48);
}

TEST(Schedule, ASamplesBudgetIsTheSameForEveryBatchSizeAndEvaluatesWhereDocumented) {
  TempDir dir;
  for (const std::int64_t b : {16, 32}) {
    const Config config = load_one(dir, std::string(kDoughnuts) + "training: {samples: 1000, batch_size: " +
                                            std::to_string(b) + ", eval_every: 100}\n");
    RecordingSink sink;
    const TrialOutcome outcome = train_trial(config, sink);
    ASSERT_EQ(outcome.status, TrialStatus::Completed);
    EXPECT_EQ(outcome.steps, (1000 + b - 1) / b);
    EXPECT_GE(outcome.samples, 1000);
    EXPECT_LT(outcome.samples, 1000 + b);
    // An evaluation after every step whose samples reach or pass a multiple of 100, and after the last.
    std::vector<std::int64_t> expected;
    for (std::int64_t step = 1; step <= outcome.steps; ++step) {
      if ((step * b) / 100 > ((step - 1) * b) / 100 || step == outcome.steps) expected.push_back(step);
    }
    std::vector<std::int64_t> steps;
    for (const auto& record : sink.records) {
      steps.push_back(record.step);
      EXPECT_EQ(record.samples, record.step * b);  // 320 rows: whole batches only
    }
    EXPECT_EQ(steps, expected) << "batch size " << b;
    EXPECT_EQ(sink.records.size(), 10u);  // 1008 and 1024 samples: the last evaluation crosses 1000
  }
}

// A stream for tests: sample i is two coordinates and a label from i alone (doughnut-like rows).
class TestRows : public OnlineRows {
 public:
  explicit TestRows(std::int64_t shift = 0, std::vector<std::pair<std::int64_t, std::int64_t>>* asked = nullptr)
      : shift_(shift), asked_(asked) {}
  void rows(std::int64_t first, std::int64_t count, float* x, float* y) const override {
    if (asked_) asked_->push_back({first, count});
    for (std::int64_t k = 0; k < count; ++k) {
      const double i = double(first + k + shift_);
      const double radius = std::fmod(i * 0.618, 1.0) < 0.5 ? 10.0 : 15.0, angle = i * 2.399;
      x[2 * k] = float(radius * std::cos(angle) + std::sin(i * 7.1));
      x[2 * k + 1] = float(radius * std::sin(angle) + std::cos(i * 3.3));
      y[k] = radius > 12.0 ? 1.0f : 0.0f;
    }
  }

 private:
  std::int64_t shift_;
  std::vector<std::pair<std::int64_t, std::int64_t>>* asked_;
};

// Puts a test stream in place of the teacher stream for one test.
class OnlineTest : public ::testing::Test {
 protected:
  void use(std::int64_t shift = 0) {
    set_online_rows_for_tests([this, shift](const TaskConfig&) { return std::make_unique<TestRows>(shift, &asked); });
  }
  void TearDown() override { set_online_rows_for_tests(nullptr); }
  // A doughnut config with task.online (doughnuts have no stream: set past validation, the test stream feeds it).
  Config online(const TempDir& dir, const std::string& training, const std::string& extra = "") {
    Config config = load_one(dir, std::string(kDoughnuts) + "training: " + training + "\n" + extra);
    config.task.online = true;
    return config;
  }
  std::vector<std::pair<std::int64_t, std::int64_t>> asked;
};

TEST_F(OnlineTest, EveryBatchSizeIsFedTheSameSampleSequence) {
  TempDir dir;
  use();
  // lr 0: the model never moves, so a step's loss is the initial model's loss on the rows it was fed.
  Config by4 = online(dir, "{steps: 2, batch_size: 4, eval_every: 2}");
  Config by8 = online(dir, "{steps: 1, batch_size: 8, eval_every: 1}");
  by4.optimizer.lr = by8.optimizer.lr = 0.0;
  by4.optimizer.momentum = by8.optimizer.momentum = 0.0;
  RecordingSink sink4, sink8, shifted;
  asked.clear();
  ASSERT_EQ(train_trial(by4, sink4).status, TrialStatus::Completed);
  EXPECT_EQ(asked, (std::vector<std::pair<std::int64_t, std::int64_t>>{{0, 8}}));
  asked.clear();
  ASSERT_EQ(train_trial(by8, sink8).status, TrialStatus::Completed);
  EXPECT_EQ(asked, (std::vector<std::pair<std::int64_t, std::int64_t>>{{0, 8}}));
  ASSERT_EQ(sink4.records.size(), 1u);
  ASSERT_EQ(sink8.records.size(), 1u);
  // The mean of the two halves' losses is the loss over the 8 rows.
  EXPECT_NEAR(sink4.records[0].train_loss, sink8.records[0].train_loss, 1e-6);
  EXPECT_EQ(sink4.records[0].samples, 8);
  EXPECT_EQ(sink8.records[0].samples, 8);
  EXPECT_EQ(sink8.records[0].epoch, 0);
  // Rows 8..15 instead give another loss: the comparison above is about the rows.
  use(8);
  ASSERT_EQ(train_trial(by8, shifted).status, TrialStatus::Completed);
  EXPECT_GT(std::fabs(shifted.records.at(0).train_loss - sink8.records[0].train_loss), 1e-4);

  // Training for real, cut into segments at every evaluation: the stream is read once, in order, no gaps.
  use();
  asked.clear();
  Config ramp = online(dir, "{samples: 600, batch_size: 4, eval_every: 50}",
                       "batch_schedule: {name: linear, final_batch_size: 20, ramp_steps: 10}\n");
  ramp.task.online = true;
  RecordingSink sink;
  const TrialOutcome outcome = train_trial(ramp, sink);
  ASSERT_EQ(outcome.status, TrialStatus::Completed);
  std::int64_t next = 0;
  for (const auto& [first, count] : asked) {
    EXPECT_EQ(first, next);
    next += count;
  }
  EXPECT_EQ(next, outcome.samples);
  EXPECT_EQ(outcome.steps, steps_for_samples(ramp, 600));
  EXPECT_GE(outcome.samples, 600);
  EXPECT_EQ(outcome.epochs, 0);
  for (const auto& record : sink.records) EXPECT_EQ(record.epoch, 0);
}

TEST_F(OnlineTest, ResumedMidStreamEqualsAnUninterruptedRunBitForBit) {
  TempDir dir;
  use();
  const Config config = online(dir, "{steps: 30, batch_size: 8, eval_every: 5}",
                               "batch_schedule: {name: steps, at_steps: [12], sizes: [16]}\n");
  RecordingSink whole;
  const TrialOutcome reference = train_trial(config, whole);
  ASSERT_EQ(whole.records.size(), 6u);

  const CheckpointOptions checkpoints{dir.str("ck/checkpoint.pt"), 0, 0.0};
  fs::create_directories(dir.path() / "ck");
  RecordingSink first;
  first.stop_after = 2;  // stops after step 10's evaluation
  const TrialOutcome stopped = train_trial(config, first, checkpoints);
  EXPECT_EQ(stopped.status, TrialStatus::Interrupted);
  EXPECT_EQ(stopped.steps, 10);
  RecordingSink second;
  const TrialOutcome resumed = train_trial(config, second, checkpoints);
  EXPECT_EQ(resumed.status, TrialStatus::Completed);
  EXPECT_EQ(resumed.resumed_from_step, 10);
  std::vector<EvalRecord> records = first.records;
  records.insert(records.end(), second.records.begin(), second.records.end());
  ASSERT_EQ(records.size(), whole.records.size());
  for (std::size_t i = 0; i < records.size(); ++i) {
    EXPECT_EQ(records[i].step, whole.records[i].step);
    EXPECT_EQ(records[i].samples, whole.records[i].samples);
    EXPECT_EQ(records[i].batch_size, whole.records[i].batch_size);
    EXPECT_EQ(records[i].train_loss, whole.records[i].train_loss) << i;
    EXPECT_EQ(records[i].test_loss, whole.records[i].test_loss) << i;
    EXPECT_EQ(records[i].train_acc, whole.records[i].train_acc) << i;
  }
  EXPECT_EQ(whole.records.back().samples, 12 * 8 + 18 * 16);
  EXPECT_EQ(resumed.weights_digest, reference.weights_digest);
}

// Trials of one group at the same place in the stream (a learning-rate axis) train on rows drawn once for all of
// them, and each ends as it does alone, bit for bit; a trial whose segments are cut elsewhere draws its own.
TEST_F(OnlineTest, TrialsOfAGroupAtTheSamePlaceShareTheirRows) {
  TempDir dir;
  use();
  std::vector<Config> configs;
  for (const double lr : {0.01, 0.02, 0.05}) {
    configs.push_back(online(dir, "{steps: 20, batch_size: 32, eval_every: 5}"));
    configs.back().optimizer.lr = lr;
  }
  configs.push_back(online(dir, "{steps: 20, batch_size: 32, eval_every: 4}"));
  std::vector<RecordingSink> sinks(configs.size());
  std::vector<GroupMember> members;
  for (std::size_t i = 0; i < configs.size(); ++i) members.push_back({&configs[i], &sinks[i], {}});
  asked.clear();
  const auto outcomes = train_group(members);
  // Segments end at evaluations: 4 draws of 5 x 32 rows for the first three together, 5 of 4 x 32 for the last.
  std::int64_t rows = 0;
  for (const auto& [first, count] : asked) rows += count;
  EXPECT_EQ(asked.size(), 9u);
  EXPECT_EQ(rows, 4 * 160 + 5 * 128);
  for (std::size_t i = 0; i < configs.size(); ++i) {
    RecordingSink alone;
    const TrialOutcome outcome = train_trial(configs[i], alone);
    ASSERT_EQ(outcomes[i].status, TrialStatus::Completed);
    EXPECT_EQ(outcomes[i].weights_digest, outcome.weights_digest) << i;
    ASSERT_EQ(sinks[i].records.size(), alone.records.size());
    for (std::size_t r = 0; r < alone.records.size(); ++r) EXPECT_EQ(sinks[i].records[r].train_loss, alone.records[r].train_loss);
  }
  EXPECT_NE(outcomes[0].weights_digest, outcomes[1].weights_digest);
}

// Checkpoints written before batch-size schedules have batch_in_epoch and no epoch_row: a constant-batch trial
// continues from one mid-epoch exactly as it would have.
TEST(Schedule, ACheckpointWithoutEpochRowContinuesMidEpochAsBefore) {
  TempDir dir;
  const Config config = load_one(dir, std::string(kDoughnuts) + "training: {steps: 50, batch_size: 16, eval_every: 5}\n");
  RecordingSink whole;
  const TrialOutcome reference = train_trial(config, whole);
  const CheckpointOptions checkpoints{dir.str("ck/checkpoint.pt"), 0, 0.0};
  fs::create_directories(dir.path() / "ck");
  RecordingSink first;
  first.stop_after = 5;  // step 25: 5 batches (80 rows) into the second epoch of 20 batches
  ASSERT_EQ(train_trial(config, first, checkpoints).steps, 25);
  CheckpointData old = read_checkpoint(checkpoints.path);
  ASSERT_EQ(old.state.get_int("epoch_row"), 80);
  ASSERT_EQ(old.state.get_int("batch_in_epoch"), 5);
  old.state.erase("epoch_row");
  write_checkpoint(checkpoints.path, checkpoint_bytes(old));
  RecordingSink second;
  const TrialOutcome resumed = train_trial(config, second, checkpoints);
  EXPECT_EQ(resumed.resumed_from_step, 25);
  ASSERT_EQ(first.records.size() + second.records.size(), whole.records.size());
  for (std::size_t i = 0; i < second.records.size(); ++i) {
    const EvalRecord& expected = whole.records[first.records.size() + i];
    EXPECT_EQ(second.records[i].train_loss, expected.train_loss) << i;
    EXPECT_EQ(second.records[i].test_loss, expected.test_loss) << i;
    EXPECT_EQ(second.records[i].epoch, expected.epoch) << i;
  }
  EXPECT_EQ(resumed.weights_digest, reference.weights_digest);
}

// The batched backend (the CUDA path, run on the CPU) reads online rows as the lean one does.
TEST_F(OnlineTest, BothBackendsTrainOnTheSegmentsOwnRows) {
  TempDir dir;
  const Config config = online(dir, "{steps: 3, batch_size: 4}");
  const TaskData data = make_task_data(config.task);
  const MlpShape shape = shape_of(config, data);
  const GroupData& rows = data;
  std::vector<float> x(3 * 4 * 2), y(3 * 4);
  TestRows(0).rows(0, 12, x.data(), y.data());
  const std::vector<double> lrs(3, 0.05);
  const auto params = initial_parameters(config.model, shape, 0);
  const auto zeros = std::vector<float>(std::size_t(shape.optimizer_state_count()), 0.0f);
  std::vector<std::vector<float>> results;
  for (int backend = 0; backend < 3; ++backend) {
    auto math = backend == 1 ? make_batched_math(shape, rows, 1, "cpu") : make_lean_cpu_math(shape, rows, 1);
    math->load(0, params, zeros);
    math->set_hyper(0, hyper_of(config));
    Segment segment{0, nullptr, 0, 3, 4, lrs.data(), 0};
    std::vector<std::int64_t> order(std::size_t(rows.n_train));
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = std::int64_t(i);
    if (backend < 2) {
      segment.x = x.data();
      segment.y = y.data();
    } else {
      segment.order = order.data();  // the training set's first rows instead
    }
    math->advance({segment});
    EXPECT_EQ(math->accumulators(0).batches, 3);
    results.push_back(math->parameters(0));
  }
  ASSERT_EQ(results[0].size(), results[1].size());
  double largest = 0.0, moved = 0.0, other = 0.0;
  for (std::size_t i = 0; i < results[0].size(); ++i) {
    largest = std::max(largest, double(std::fabs(results[0][i] - results[1][i])));
    moved = std::max(moved, double(std::fabs(results[0][i] - params[i])));
    other = std::max(other, double(std::fabs(results[0][i] - results[2][i])));
  }
  EXPECT_LT(largest, 1e-5);
  EXPECT_GT(moved, 1e-4);  // it trained
  EXPECT_GT(other, 1e-4);  // on the stream's rows, not the training set's
}

TEST(Schedule, EffectiveLrIsRecordedForMupAndAbsentForStandard) {
  TempDir dir;
  dir.write("configs/p.yaml", "task: {name: doughnuts, samples: 200}\n"
                              "model: {hidden: [16, 8], parameterization: mup, gamma: 0.5}\n"
                              "optimizer: {name: sgd, lr: 0.001}\n"
                              "lr_schedule: {name: cosine}\n"
                              "training: {epochs: 2, batch_size: 16}\n");
  dir.write("configs/s.yaml", "task: {name: doughnuts, samples: 200}\n"
                              "model: {hidden: [16, 8]}\n"
                              "optimizer: {name: sgd, lr: 0.001}\n"
                              "training: {epochs: 2, batch_size: 16}\n");
  for (const std::string name : {"p", "s"}) {
    const auto run = testing::run_sweeplab(dir, "run " + name + " -q");
    ASSERT_EQ(run.code, 0) << run.out << run.err;
  }
  const auto only = [&](const std::string& name) {
    for (const auto& entry : fs::directory_iterator(dir.path() / "experiments" / name / "trials")) return entry.path();
    return fs::path();
  };
  const Config mup = load_sweep(dir.str("configs"), "p").trials.at(0).config.expand();
  const double factor = 0.25 * 8.0;  // sgd, gamma 0.5 <= 1: gamma^2; mup: N = 8
  ASSERT_DOUBLE_EQ(effective_lr_factor(mup), factor);
  const auto lines = testing::metric_values(only("p"));
  ASSERT_EQ(lines.size(), 2u);
  for (const auto& line : lines) {
    const json record = json::parse(line);
    ASSERT_TRUE(record.contains("effective_lr")) << line;
    EXPECT_DOUBLE_EQ(record["effective_lr"].get<double>(), record["lr"].get<double>() * factor) << line;
    EXPECT_LT(record["lr"].get<double>(), 0.001);  // eta after the cosine schedule, not the effective rate
  }
  for (const auto& line : testing::metric_values(only("s"))) {
    EXPECT_FALSE(json::parse(line).contains("effective_lr")) << line;
  }
}

// A trial's recorded effective_lr is eta N under muP with optimizer.scale_lr_by_gamma false, at any gamma.
TEST(Schedule, UncompensatedMupRecordsEtaTimesTheWidth) {
  TempDir dir;
  const Config config = load_one(dir, "task: {name: doughnuts, samples: 200}\n"
                                      "model: {hidden: [16, 8], parameterization: mup, gamma: 0.01, centered: true}\n"
                                      "optimizer: {name: sgd, lr: 0.0001, scale_lr_by_gamma: false}\n"
                                      "training: {steps: 6, batch_size: 16, eval_every: 3}\n");
  RecordingSink sink;
  ASSERT_EQ(train_trial(config, sink).status, TrialStatus::Completed);
  ASSERT_EQ(sink.records.size(), 2u);
  for (const auto& record : sink.records) {
    ASSERT_TRUE(record.effective_lr.has_value());
    EXPECT_DOUBLE_EQ(*record.effective_lr, 0.0001 * 8.0);  // eta N, not eta gamma^2 N
  }
}

TEST(Schedule, TrialsWithDifferentBatchSchedulesDoNotFuse) {
  Config a = with_schedule(4, "linear", 32, 8), b = a;
  EXPECT_EQ(fusion_key(a), fusion_key(b));
  b.batch_schedule.ramp_steps = 9;
  EXPECT_NE(fusion_key(a), fusion_key(b));
  b = a;
  b.optimizer.lr = 0.5;  // still fuses
  EXPECT_EQ(fusion_key(a), fusion_key(b));
}

}  // namespace
}  // namespace sweeplab

namespace sweeplab {
namespace {

// A samples budget is shown in samples: `status` and `run --dry-run` say "1008 of 1000 samples" (63 steps of 16),
// not "0 of 10 epochs".
TEST(Schedule, ASamplesBudgetIsReportedInSamples) {
  testing::TempDir dir;
  dir.write("configs/s.yaml", "task: {name: doughnuts, samples: 400}\ntraining: {batch_size: 16, samples: 1000}\n");
  ASSERT_EQ(testing::run_in(dir, {"run", "s", "-q"}).code, 0);
  const auto status = testing::run_in(dir, {"status", "s"});
  ASSERT_EQ(status.code, 0) << status.err;
  EXPECT_NE(status.out.find("1008 of 1000 samples"), std::string::npos) << status.out;
  const auto dry = testing::run_in(dir, {"run", "s", "--dry-run"});
  EXPECT_NE(dry.out.find("1008 samples of 1000 samples"), std::string::npos) << dry.out;
}

}  // namespace
}  // namespace sweeplab
