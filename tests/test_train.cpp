// The training engine: gradients, optimizer steps by hand, learning, divergence, determinism.
#include <gtest/gtest.h>

#include <ATen/CPUGeneratorImpl.h>

#include <cmath>

#include "engine/dataset.hpp"
#include "engine/tensor_dataset.hpp"
#include "engine/model.hpp"
#include "sweeplab/config/loader.hpp"
#include "sweeplab/engine/trainer.hpp"
#include "sweeplab/training/schedule.hpp"
#include "sweeplab/training/tracker.hpp"

namespace sweeplab {
namespace {

const std::string kRepoConfigs = std::string(SWEEPLAB_SOURCE_DIR) + "/configs";

class RecordingSink : public TrialSink {
 public:
  void on_eval(const EvalRecord& record) override { records.push_back(record); }
  std::vector<EvalRecord> records;
};

TEST(Model, AnalyticGradientsAgreeWithFiniteDifferences) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(3);
  ModelConfig config;
  config.hidden = {5, 4};
  config.activation = "tanh";  // smooth, so central differences are accurate
  auto model = make_model(config, 3, 2, gen);
  model->to(torch::kFloat64);
  const auto x = torch::randn({7, 3}, gen, torch::kFloat64);
  const auto y = torch::randn({7, 2}, gen, torch::kFloat64);
  const auto loss_at = [&] { return torch::mse_loss(model->forward(x), y); };
  model->zero_grad();
  loss_at().backward();
  int checked = 0;
  for (auto& parameter : model->parameters()) {
    const auto grad = parameter.grad().clone();
    auto flat = parameter.data().view({-1});
    for (std::int64_t i = 0; i < flat.numel(); ++i) {
      torch::NoGradGuard no_grad;
      const double original = flat[i].item<double>(), h = 1e-6;
      flat[i] = original + h;
      const double up = loss_at().item<double>();
      flat[i] = original - h;
      const double down = loss_at().item<double>();
      flat[i] = original;
      const double numeric = (up - down) / (2 * h);
      EXPECT_NEAR(grad.view({-1})[i].item<double>(), numeric, 1e-7 + 1e-6 * std::fabs(numeric));
      ++checked;
    }
  }
  EXPECT_EQ(checked, (3 * 5 + 5) + (5 * 4 + 4) + (4 * 2 + 2));
}

// A linear model y = w.x + b with w = [0.5, -0.25], b = 0.1, one sample x = [1, 2], target 1, MSE loss.
// pred = 0.5 - 0.5 + 0.1 = 0.1; dL/dpred = 2 (0.1 - 1) = -1.8; grad w = [-1.8, -3.6], grad b = -1.8.
struct TinyProblem {
  torch::nn::Sequential model;
  torch::Tensor x = torch::tensor({{1.0f, 2.0f}});
  torch::Tensor y = torch::tensor({{1.0f}});
  TinyProblem() {
    auto gen = at::make_generator<at::CPUGeneratorImpl>(0);
    ModelConfig config;
    config.hidden = {};
    model = make_model(config, 2, 1, gen);
    torch::NoGradGuard no_grad;
    model->parameters()[0].copy_(torch::tensor({{0.5f, -0.25f}}));
    model->parameters()[1].copy_(torch::tensor({0.1f}));
  }
  void step(torch::optim::Optimizer& optimizer) {
    optimizer.zero_grad();
    torch::mse_loss(model->forward(x), y).backward();
    optimizer.step();
  }
  float w(int i) { return model->parameters()[0][0][i].item<float>(); }
  float b() { return model->parameters()[1][0].item<float>(); }
};

TEST(Optimizer, OneSgdStepMatchesTheHandComputation) {
  TinyProblem problem;
  OptimizerConfig config;
  config.name = "sgd";
  config.lr = 0.1;
  auto optimizer = make_optimizer(config, problem.model->parameters());
  problem.step(*optimizer);
  // w - lr * grad = [0.5 + 0.18, -0.25 + 0.36]; b = 0.1 + 0.18
  EXPECT_NEAR(problem.w(0), 0.68f, 1e-6);
  EXPECT_NEAR(problem.w(1), 0.11f, 1e-6);
  EXPECT_NEAR(problem.b(), 0.28f, 1e-6);
}

TEST(Optimizer, TwoSgdMomentumStepsMatchTheHandComputation) {
  TinyProblem problem;
  OptimizerConfig config;
  config.lr = 0.1;
  config.momentum = 0.9;
  auto optimizer = make_optimizer(config, problem.model->parameters());
  problem.step(*optimizer);  // buffer = grad: same as plain SGD
  problem.step(*optimizer);
  // at w = [0.68, 0.11], b = 0.28: pred = 1.18, dL/dpred = 0.36, grad = [0.36, 0.72], grad b = 0.36
  // buffer = 0.9 [-1.8, -3.6] + [0.36, 0.72] = [-1.26, -2.52]; buffer b = -1.26
  EXPECT_NEAR(problem.w(0), 0.68f + 0.126f, 1e-6);
  EXPECT_NEAR(problem.w(1), 0.11f + 0.252f, 1e-6);
  EXPECT_NEAR(problem.b(), 0.28f + 0.126f, 1e-6);
}

TEST(Optimizer, OneAdamStepMatchesTheHandComputation) {
  TinyProblem problem;
  OptimizerConfig config;
  config.name = "adam";
  config.lr = 0.1;
  auto optimizer = make_optimizer(config, problem.model->parameters());
  problem.step(*optimizer);
  // step 1: m_hat = g, v_hat = g^2, update = lr g / (|g| + eps) = lr sign(g) (to 1e-8)
  EXPECT_NEAR(problem.w(0), 0.6f, 1e-6);
  EXPECT_NEAR(problem.w(1), -0.15f, 1e-6);
  EXPECT_NEAR(problem.b(), 0.2f, 1e-6);
}

TEST(Schedule, WarmupThenCosineStepAndConstant) {
  OptimizerConfig optimizer;
  optimizer.lr = 1.0;
  ScheduleConfig schedule;
  schedule.warmup_steps = 4;
  EXPECT_DOUBLE_EQ(learning_rate(optimizer, schedule, 0, 100), 0.25);
  EXPECT_DOUBLE_EQ(learning_rate(optimizer, schedule, 3, 100), 1.0);
  EXPECT_DOUBLE_EQ(learning_rate(optimizer, schedule, 50, 100), 1.0);
  schedule.name = "cosine";
  schedule.final_lr_factor = 0.1;
  EXPECT_DOUBLE_EQ(learning_rate(optimizer, schedule, 4, 104), 1.0);
  EXPECT_NEAR(learning_rate(optimizer, schedule, 54, 104), 0.55, 1e-12);  // halfway: 0.1 + 0.9 * 0.5
  EXPECT_NEAR(learning_rate(optimizer, schedule, 104, 104), 0.1, 1e-12);
  schedule.name = "step";
  schedule.step_size = 10;
  schedule.gamma = 0.5;
  EXPECT_DOUBLE_EQ(learning_rate(optimizer, schedule, 13, 100), 1.0);
  EXPECT_DOUBLE_EQ(learning_rate(optimizer, schedule, 14, 100), 0.5);
  EXPECT_DOUBLE_EQ(learning_rate(optimizer, schedule, 34, 100), 0.125);
}

TEST(Tracker, RecordsTheFirstEvaluationThatReachesEachTarget) {
  MetricsTracker tracker({"test_acc >= 0.9", "train_loss <= 0.1"}, true);
  const auto record = [](std::int64_t step, double train_loss, double test_acc) {
    EvalRecord r;
    r.step = step;
    r.samples = step * 8;
    r.train_loss = train_loss;
    r.test_loss = 1.0;
    r.train_acc = 0.5;
    r.test_acc = test_acc;
    return r;
  };
  tracker.observe(record(10, 0.5, 0.8));
  tracker.observe(record(20, 0.2, 0.95));
  EXPECT_FALSE(tracker.all_targets_reached());
  tracker.observe(record(30, 0.05, 0.85));
  tracker.observe(record(40, 0.01, 0.99));
  EXPECT_TRUE(tracker.all_targets_reached());
  const auto targets = tracker.targets();
  EXPECT_EQ(targets[0].step, 20);
  EXPECT_EQ(targets[0].samples, 160);
  EXPECT_EQ(targets[1].step, 30);
  const auto best = tracker.best();
  ASSERT_EQ(best.size(), 4u);
  EXPECT_EQ(best[0].metric, "train_loss");
  EXPECT_EQ(best[0].step, 40);
  EXPECT_EQ(best[3].metric, "test_acc");
  EXPECT_DOUBLE_EQ(best[3].value, 0.99);
}

TEST(Dataset, DoughnutsAreTwoRingsSplitEightyTwenty) {
  TaskConfig task;  // doughnuts, 2000 points, radii 10 and 15
  const auto data = make_dataset(task);
  EXPECT_EQ(data.x_train.size(0), 1600);
  EXPECT_EQ(data.x_test.size(0), 400);
  const auto radius = torch::cat({data.x_train, data.x_test}).norm(2, 1);
  const auto label = torch::cat({data.y_train, data.y_test});
  EXPECT_NEAR(radius.masked_select(label.eq(0)).mean().item<double>(), 10.0, 0.1);
  EXPECT_NEAR(radius.masked_select(label.eq(1)).mean().item<double>(), 15.0, 0.1);
  EXPECT_EQ(label.sum().item<double>(), 1000.0);
  EXPECT_TRUE(torch::equal(make_dataset(task).x_train, data.x_train));  // a function of data_seed
  task.data_seed = 1;
  EXPECT_FALSE(torch::equal(make_dataset(task).x_train, data.x_train));
}

TEST(Training, QuickstartDoughnutsReachNinetyFivePercentTestAccuracy) {
  // configs/quickstart.yaml at batch size 4 (its smallest): 20 epochs of SGD, lr 0.01, a few seconds.
  const auto sweep = load_sweep(kRepoConfigs, "quickstart", {"batch_size=4"});
  ASSERT_EQ(sweep.trials.size(), 1u);
  RecordingSink sink;
  const auto outcome = train_trial(sweep.trials[0].config.expand(), sink);
  EXPECT_EQ(outcome.status, TrialStatus::Completed);
  ASSERT_TRUE(outcome.final && outcome.final->test_acc);
  EXPECT_GE(*outcome.final->test_acc, 0.95);
  EXPECT_EQ(sink.records.size(), 20u);  // eval_every 1 epoch
  EXPECT_EQ(outcome.steps, 20 * 400);   // 1600 training points / 4
}

TEST(Training, LearningRateTenOnTheSeed002TaskDivergesWithoutCrashing) {
  const auto sweep = load_sweep(kRepoConfigs, "sanity-overfit", {"lr=10", "output_activation=none", "steps=500"});
  RecordingSink sink;
  const auto outcome = train_trial(sweep.trials[0].config.expand(), sink);
  EXPECT_EQ(outcome.status, TrialStatus::Diverged);
  ASSERT_TRUE(outcome.diverged_at_step);
  EXPECT_LT(*outcome.diverged_at_step, 500);
  EXPECT_EQ(outcome.steps, *outcome.diverged_at_step);
}

TEST(Training, TheSameTrialGivesIdenticalMetricsOnEveryRun) {
  auto config = load_sweep(kRepoConfigs, "quickstart", {"batch_size=16", "epochs=3"}).trials[0].config.expand();
  config.optimizer.momentum = 0.9;
  config.lr_schedule.name = "cosine";
  RecordingSink first, second;
  train_trial(config, first);
  train_trial(config, second);
  ASSERT_EQ(first.records.size(), 3u);
  ASSERT_EQ(second.records.size(), 3u);
  for (std::size_t i = 0; i < first.records.size(); ++i) {
    EXPECT_EQ(first.records[i].train_loss, second.records[i].train_loss);  // exact, not near
    EXPECT_EQ(first.records[i].test_loss, second.records[i].test_loss);
    EXPECT_EQ(first.records[i].train_acc, second.records[i].train_acc);
    EXPECT_EQ(first.records[i].lr, second.records[i].lr);
  }
  config.training.seed = 1;
  RecordingSink other_seed;
  train_trial(config, other_seed);
  EXPECT_NE(other_seed.records[0].train_loss, first.records[0].train_loss);
}

TEST(Training, Seed000SmallerBatchesReachNinetyFivePercentInFewerEpochs) {
  // configs/doughnut-batch.yaml at lr 0.001: batch size 2 needs fewer epochs than 4, and 4 fewer than 8.
  std::vector<std::int64_t> epochs_to_target;
  for (const std::int64_t batch_size : {2, 4, 8}) {
    auto config = load_sweep(kRepoConfigs, "doughnut-batch", {"batch_size=" + std::to_string(batch_size), "epochs=60",
                                                               "stop.on_target=true"}).trials.at(0).config.expand();
    RecordingSink sink;
    const auto outcome = train_trial(config, sink);
    ASSERT_EQ(outcome.targets.size(), 1u);
    ASSERT_TRUE(outcome.targets[0].reached) << "batch size " << batch_size;
    epochs_to_target.push_back(outcome.targets[0].epoch);
  }
  EXPECT_LT(epochs_to_target[0], epochs_to_target[1]);
  EXPECT_LT(epochs_to_target[1], epochs_to_target[2]);
}

TEST(Training, StepBudgetEvaluatesEveryEvalEverySteps) {
  auto config = load_sweep(kRepoConfigs, "quickstart", {"batch_size=64", "steps=60", "eval_every=25"}).trials[0].config.expand();
  RecordingSink sink;
  const auto outcome = train_trial(config, sink);
  ASSERT_EQ(sink.records.size(), 3u);  // at 25, 50 and the end (60)
  EXPECT_EQ(sink.records[0].step, 25);
  EXPECT_EQ(sink.records[2].step, 60);
  EXPECT_EQ(sink.records[2].samples, 60 * 64);  // 1600 = 25 x 64: no partial batches
  EXPECT_EQ(outcome.epochs, 2);                                        // 60 steps at 25 per epoch
}

}  // namespace
}  // namespace sweeplab
