// The fast engine's arithmetic (src/engine/group_math.hpp) against the LibTorch reference: every backend's
// training step must give what autograd + torch::optim give on the same model (make_model, make_optimizer)
// from the same weights, within float tolerance: parameters, optimizer state, the accumulated batch
// losses and accuracies, and the test-set evaluation. Then the group semantics: trials sharing a call do
// not see each other, divergence freezes a trial, and a trial's numbers do not depend on how its steps
// are cut into segments.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <iomanip>
#include <memory>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "engine/dataset.hpp"
#include "engine/tensor_dataset.hpp"
#include "engine/group_math.hpp"
#include "engine/model.hpp"
#include "engine/setup.hpp"

#include "engine_reference.hpp"
#include "lcg.hpp"

namespace sweeplab {
namespace {

using testing::all_close;
using testing::ReferenceRun;
using testing::ReferenceTensors;
using testing::run_reference_epoch;

// ------------------------------------------------------------------------------------------------
// The data: 3 inputs, 11 training rows (one epoch of batch size 4 is batches of 4, 4 and 3 rows: the
// last one short, and rows left over from the kernels' 4- and 2-row blocks), 7 test rows.

constexpr std::int64_t kInputs = 3, kTrain = 11, kTest = 7, kBatch = 4, kSteps = 3;
const std::vector<std::int64_t> kOrder = {7, 2, 10, 0, 4, 1, 8, 3, 6, 9, 5};  // the epoch's row order
const std::vector<double> kLrs = {0.2, 0.1, 0.15};                         // one learning rate per step

using testing::Lcg;

std::int64_t outputs_of(LossKind loss) {
  switch (loss) {
    case LossKind::Binary: return 1;
    case LossKind::Multiclass: return 3;
    case LossKind::Regression: return 2;
    case LossKind::OneHotMse: return 3;
  }
  return 0;
}

GroupData make_data(LossKind loss) {
  Lcg rng(17 + std::uint64_t(loss));
  GroupData data;
  data.inputs = kInputs;
  data.outputs = outputs_of(loss);
  data.n_train = kTrain;
  data.n_test = kTest;
  const auto fill = [&](std::int64_t rows, std::vector<float>& x, std::vector<float>& y) {
    for (std::int64_t r = 0; r < rows; ++r) {
      for (std::int64_t i = 0; i < kInputs; ++i) x.push_back(rng.symmetric(2.0));
      const float* row = &x[std::size_t(r * kInputs)];
      if (loss == LossKind::Binary) {
        y.push_back(row[0] - 0.5f * row[1] + rng.symmetric(0.7) > 0.0f ? 1.0f : 0.0f);
      } else if (loss == LossKind::Multiclass || loss == LossKind::OneHotMse) {
        y.push_back(float(r % 3));
      } else {
        y.push_back(row[0] * row[2] + rng.symmetric(0.3));
        y.push_back(rng.symmetric(1.0));
      }
    }
  };
  fill(kTrain, data.x_train, data.y_train);
  fill(kTest, data.x_test, data.y_test);
  return data;
}

// Backends keep a reference to their data: it lives as long as the test program.
const GroupData& data_for(LossKind loss) {
  static const GroupData data[] = {make_data(LossKind::Binary), make_data(LossKind::Multiclass),
                                   make_data(LossKind::Regression), make_data(LossKind::OneHotMse)};
  return data[int(loss)];
}

// ------------------------------------------------------------------------------------------------
// The combinations.

struct Architecture {
  const char* label;
  std::vector<std::int64_t> hidden;  // 17 and 9: the kernels' 16- and 8-wide blocks plus a remainder
  const char* activation;
};

struct OptimizerSpec {
  const char* label;
  const char* name;  // sgd, adam, adamw
  double momentum = 0.0;
  bool nesterov = false;
  double weight_decay = 0.0;
};

struct Case {
  Architecture architecture;
  const char* output_activation;
  LossKind loss;
  OptimizerSpec optimizer;
};

const char* loss_label(LossKind loss) {
  switch (loss) {
    case LossKind::Binary: return "Binary";
    case LossKind::Multiclass: return "Multiclass";
    case LossKind::Regression: return "Regression";
    case LossKind::OneHotMse: return "OneHotMse";
  }
  return "?";
}

std::string case_name(const Case& c) {
  std::string output = c.output_activation;
  output[0] = char(std::toupper(output[0]));
  return std::string(c.architecture.label) + "_Out" + output + "_" + loss_label(c.loss) + "_" + c.optimizer.label;
}

void PrintTo(const Case& c, std::ostream* os) { *os << case_name(c); }

std::vector<Case> all_cases() {
  const std::vector<Architecture> architectures = {
      {"Linear", {}, "relu"},  // no hidden layer: the activation is never used
      {"Relu17", {17}, "relu"},        {"Tanh17", {17}, "tanh"},          {"Gelu17", {17}, "gelu"},
      {"Sigmoid17", {17}, "sigmoid"},  {"Relu17x9", {17, 9}, "relu"},     {"Gelu17x9", {17, 9}, "gelu"},
  };
  const std::vector<const char*> output_activations = {"none", "tanh", "relu"};
  const std::vector<LossKind> losses = {LossKind::Binary, LossKind::Multiclass, LossKind::Regression,
                                        LossKind::OneHotMse};
  const std::vector<OptimizerSpec> optimizers = {
      {"Sgd", "sgd"},
      {"SgdMomentum", "sgd", 0.9},
      {"SgdNesterovWd", "sgd", 0.9, true, 0.01},
      {"AdamWd", "adam", 0.0, false, 0.01},
      {"AdamW", "adamw", 0.0, false, 0.1},
  };
  std::vector<Case> cases;
  for (const auto& architecture : architectures)
    for (const char* output : output_activations)
      for (LossKind loss : losses)
        for (const auto& optimizer : optimizers) cases.push_back({architecture, output, loss, optimizer});
  return cases;
}

ModelConfig model_config(const Case& c) {
  ModelConfig config;
  config.hidden = c.architecture.hidden;
  config.activation = c.architecture.activation;
  config.output_activation = c.output_activation;
  return config;
}

OptimizerConfig optimizer_config(const Case& c) {
  OptimizerConfig config;
  config.name = c.optimizer.name;
  config.lr = kLrs[0];
  config.momentum = c.optimizer.momentum;
  config.nesterov = c.optimizer.nesterov;
  config.weight_decay = c.optimizer.weight_decay;
  return config;  // betas 0.9, 0.999 and eps 1e-8: TrialHyper's defaults
}

MlpShape shape_for(const Case& c) {
  MlpShape shape;
  shape.widths = {kInputs};
  shape.widths.insert(shape.widths.end(), c.architecture.hidden.begin(), c.architecture.hidden.end());
  shape.widths.push_back(outputs_of(c.loss));
  shape.hidden = activation_from_name(c.architecture.activation);
  shape.output = activation_from_name(c.output_activation);
  shape.loss = c.loss;
  shape.optimizer = optimizer_kind_from_name(c.optimizer.name);
  shape.momentum_buffer = shape.optimizer == OptimizerKind::Sgd && c.optimizer.momentum > 0.0;
  return shape;
}

TrialHyper hyper_for(const Case& c) {
  Config config;
  config.optimizer = optimizer_config(c);
  return hyper_of(config);
}

// PyTorch's initialisation (seed 7); under a relu output, the output bias lifted by 0.5 so that the outputs are
// alive (> 0) for most rows and gradients flow.
std::vector<float> initial_for(const Case& c) {
  auto parameters = initial_parameters(model_config(c), shape_for(c), 7);
  if (std::string(c.output_activation) == "relu") {
    for (std::int64_t j = 1; j <= outputs_of(c.loss); ++j) parameters[parameters.size() - std::size_t(j)] += 0.5f;
  }
  return parameters;
}

// ------------------------------------------------------------------------------------------------
// The reference: the same steps through autograd and torch::optim.

torch::Tensor features(const std::vector<float>& x, std::int64_t rows) {
  return torch::from_blob(const_cast<float*>(x.data()), {rows, kInputs}, torch::kFloat32).clone();
}

torch::Tensor targets(const std::vector<float>& y, std::int64_t rows, LossKind loss) {
  const auto values = torch::from_blob(const_cast<float*>(y.data()), {std::int64_t(y.size())}, torch::kFloat32).clone();
  if (loss == LossKind::Multiclass || loss == LossKind::OneHotMse) return values.to(torch::kLong);
  if (loss == LossKind::Regression) return values.view({rows, outputs_of(loss)});
  return values;
}

// One epoch (kSteps steps of kBatch rows in kOrder, learning rates kLrs) from `initial`, then the test set.
ReferenceRun run_reference(const Case& c, const GroupData& data, const std::vector<float>& initial) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(0);
  auto model = make_model(model_config(c), data.inputs, data.outputs, gen);
  unflatten_parameters(initial, model);
  auto optimizer = make_optimizer(optimizer_config(c), model->parameters());
  const ReferenceTensors tensors = {features(data.x_train, data.n_train), targets(data.y_train, data.n_train, c.loss),
                                    features(data.x_test, data.n_test), targets(data.y_test, data.n_test, c.loss)};
  return run_reference_epoch(
      model, *optimizer, c.optimizer.name, c.optimizer.momentum, [&](const torch::Tensor& x) { return model->forward(x); },
      c.loss, tensors, {kOrder, kLrs, kBatch, kSteps});
}

// ------------------------------------------------------------------------------------------------
// The backends.

using testing::Backend;
using testing::kBatched;
using testing::kLean;
using testing::kLeanBlas;
using testing::kLeanPortable;

struct BackendRun {
  std::vector<float> parameters, state;
  Accumulators sums;
  Evaluation test;
};

Segment segment_of(int slot, const std::vector<std::int64_t>& order, std::int64_t first, std::int64_t steps,
                   const double* lrs, std::int64_t step0) {
  return testing::make_segment(slot, order, first, steps, kBatch, lrs, step0);
}

// The same epoch as run_reference, in one segment of a one-slot backend.
BackendRun run_backend(const Backend& backend, const Case& c, const GroupData& data, const std::vector<float>& initial) {
  const auto shape = shape_for(c);
  auto math = backend.make(shape, data, 1);
  math->set_hyper(0, hyper_for(c));
  math->load(0, initial, std::vector<float>(std::size_t(shape.optimizer_state_count()), 0.0f));
  math->advance({segment_of(0, kOrder, 0, kSteps, kLrs.data(), 0)});
  BackendRun run;
  run.parameters = math->parameters(0);
  run.state = math->optimizer_state(0);
  run.sums = math->accumulators(0);
  const auto evaluations = math->evaluate({0});
  if (evaluations.size() != 1) throw std::runtime_error("evaluate: not one result for one slot");
  run.test = evaluations[0];
  return run;
}

// ------------------------------------------------------------------------------------------------
// Comparisons.

::testing::AssertionResult same_bytes(const std::vector<float>& got, const std::vector<float>& want) {
  if (got.size() != want.size()) {
    return ::testing::AssertionFailure() << got.size() << " values, expected " << want.size();
  }
  for (std::size_t i = 0; i < got.size(); ++i) {
    if (std::memcmp(&got[i], &want[i], sizeof(float)) != 0) {
      return ::testing::AssertionFailure() << "first difference at [" << i << "]: " << got[i] << " expected "
                                           << want[i];
    }
  }
  return ::testing::AssertionSuccess();
}

bool same_double(double a, double b) { return std::memcmp(&a, &b, sizeof(double)) == 0; }

::testing::AssertionResult same_accumulators(const Accumulators& got, const Accumulators& want, bool exact) {
  const auto close = [&](double a, double b) { return exact ? same_double(a, b) : std::fabs(a - b) <= 1e-5 * std::fabs(b) + 1e-6; };
  if (close(got.loss_sum, want.loss_sum) && close(got.accuracy_sum, want.accuracy_sum) && got.batches == want.batches &&
      got.diverged_at_step == want.diverged_at_step && close(got.diverged_loss, want.diverged_loss) &&
      close(got.last_loss, want.last_loss)) {
    return ::testing::AssertionSuccess();
  }
  return ::testing::AssertionFailure() << std::setprecision(17) << "loss_sum " << got.loss_sum << " vs " << want.loss_sum
                                       << ", accuracy_sum " << got.accuracy_sum << " vs " << want.accuracy_sum
                                       << ", batches " << got.batches << " vs " << want.batches << ", diverged_at_step "
                                       << got.diverged_at_step << " vs " << want.diverged_at_step << ", diverged_loss "
                                       << got.diverged_loss << " vs " << want.diverged_loss << ", last_loss "
                                       << got.last_loss << " vs " << want.last_loss;
}

// Equal bytes for a bit-exact backend, within float tolerance otherwise.
::testing::AssertionResult same_numbers(const std::vector<float>& got, const std::vector<float>& want, bool exact) {
  return exact ? same_bytes(got, want) : all_close(got, want);
}

// The optimizer state in its parts, each with its absolute floor: sgd's momentum buffer; adam's exp_avg,
// then exp_avg_sq, which holds squared gradients (around 1e-3 g^2), its floor scaled down with it.
std::vector<std::tuple<std::string, std::vector<float>, double>> state_parts(const std::vector<float>& state, const Case& c) {
  if (std::string(c.optimizer.name) == "sgd") {
    if (state.empty()) return {};
    return {{"momentum buffer", state, 1e-6}};
  }
  const auto half = state.begin() + std::ptrdiff_t(state.size() / 2);
  return {{"exp_avg", {state.begin(), half}, 1e-6}, {"exp_avg_sq", {half, state.end()}, 1e-9}};
}

// ------------------------------------------------------------------------------------------------
// Every backend against the reference, for every combination.

class EngineMathVsReference : public ::testing::TestWithParam<std::tuple<Backend, Case>> {};

TEST_P(EngineMathVsReference, OneEpochMatchesAutogradAndTorchOptim) {
  const auto& [backend, c] = GetParam();
  const auto& data = data_for(c.loss);
  const auto initial = initial_for(c);
  const auto want = run_reference(c, data, initial);
  ASSERT_FALSE(all_close(want.parameters, initial)) << "the reference did not train: the case tests nothing";

  const auto got = run_backend(backend, c, data, initial);
  EXPECT_TRUE(all_close(got.parameters, want.parameters)) << "parameters";
  ASSERT_EQ(got.state.size(), std::size_t(shape_for(c).optimizer_state_count()));
  ASSERT_EQ(want.state.size(), got.state.size());
  const auto got_state = state_parts(got.state, c), want_state = state_parts(want.state, c);
  for (std::size_t i = 0; i < got_state.size(); ++i) {
    const auto& [name, values, abs_floor] = got_state[i];
    EXPECT_TRUE(all_close(values, std::get<1>(want_state[i]), abs_floor)) << name;
  }

  EXPECT_NEAR(got.sums.loss_sum, want.loss_sum, 1e-5 * want.loss_sum + 1e-6) << "loss_sum";
  EXPECT_NEAR(got.sums.last_loss, want.last_loss, 1e-5 * want.last_loss + 1e-6) << "the last batch's loss";
  EXPECT_NEAR(got.sums.accuracy_sum, want.accuracy_sum, 1e-9) << "accuracy_sum";
  EXPECT_EQ(got.sums.batches, kSteps);
  EXPECT_EQ(got.sums.diverged_at_step, 0);

  EXPECT_NEAR(got.test.loss, want.test.loss, 1e-5 * want.test.loss + 1e-6) << "test loss";
  ASSERT_EQ(got.test.accuracy.has_value(), want.test.accuracy.has_value()) << "test accuracy";
  if (want.test.accuracy) {
    EXPECT_NEAR(*got.test.accuracy, *want.test.accuracy, 1e-9) << "test accuracy";
  }
}

INSTANTIATE_TEST_SUITE_P(AllCombinations, EngineMathVsReference,
                         ::testing::Combine(::testing::Values(kLean, kLeanPortable, kLeanBlas, kBatched),
                                            ::testing::ValuesIn(all_cases())),
                         [](const ::testing::TestParamInfo<std::tuple<Backend, Case>>& info) {
                           return std::string(std::get<0>(info.param).label) + "_" + case_name(std::get<1>(info.param));
                         });

// ------------------------------------------------------------------------------------------------
// Group semantics, per backend.

class EngineGroup : public ::testing::TestWithParam<Backend> {};

// Two trials of one shape with their own hyper-parameters, learning rates, orders and segments.
struct TrialPlan {
  TrialHyper hyper;
  std::vector<std::int64_t> order;
  std::vector<double> lrs;
  std::int64_t first, steps, step0;
};

void check_trials_share_a_call(const Backend& backend, const Case& c, const TrialPlan& a, const TrialPlan& b) {
  const auto shape = shape_for(c);
  const auto& data = data_for(c.loss);
  const auto initial = initial_for(c);
  const std::vector<float> zero_state(std::size_t(shape.optimizer_state_count()), 0.0f);
  const auto initial_b = initial_parameters(model_config(c), shape, 8);
  const auto segment = [](int slot, const TrialPlan& plan) {
    return segment_of(slot, plan.order, plan.first, plan.steps, plan.lrs.data(), plan.step0);
  };

  // Together: a in slot 2, b in slot 0; slot 1 loaded but left out of the call.
  auto group = backend.make(shape, data, 3);
  ASSERT_EQ(group->slots(), 3);
  group->set_hyper(2, a.hyper);
  group->set_hyper(0, b.hyper);
  group->set_hyper(1, a.hyper);
  group->load(2, initial, zero_state);
  group->load(0, initial_b, zero_state);
  group->load(1, initial_b, zero_state);
  group->advance({segment(2, a), segment(0, b)});

  std::vector<std::unique_ptr<GroupMath>> alone;
  for (const auto* plan : {&a, &b}) {
    alone.push_back(backend.make(shape, data, 1));
    alone.back()->set_hyper(0, plan->hyper);
    alone.back()->load(0, plan == &a ? initial : initial_b, zero_state);
    alone.back()->advance({segment(0, *plan)});
  }
  ASSERT_FALSE(all_close(alone[0]->parameters(0), initial)) << "trial a did not train";
  ASSERT_FALSE(all_close(alone[1]->parameters(0), initial_b)) << "trial b did not train";

  const bool exact = backend.bit_exact;
  EXPECT_TRUE(same_numbers(group->parameters(2), alone[0]->parameters(0), exact)) << "a's parameters";
  EXPECT_TRUE(same_numbers(group->optimizer_state(2), alone[0]->optimizer_state(0), exact)) << "a's state";
  EXPECT_TRUE(same_accumulators(group->accumulators(2), alone[0]->accumulators(0), exact)) << "a's accumulators";
  EXPECT_TRUE(same_numbers(group->parameters(0), alone[1]->parameters(0), exact)) << "b's parameters";
  EXPECT_TRUE(same_numbers(group->optimizer_state(0), alone[1]->optimizer_state(0), exact)) << "b's state";
  EXPECT_TRUE(same_accumulators(group->accumulators(0), alone[1]->accumulators(0), exact)) << "b's accumulators";
  const auto evaluations = group->evaluate({0, 2});
  ASSERT_EQ(evaluations.size(), 2u);
  const auto eval_a = alone[0]->evaluate({0}), eval_b = alone[1]->evaluate({0});
  EXPECT_NEAR(evaluations[1].loss, eval_a[0].loss, exact ? 0.0 : 1e-6 * eval_a[0].loss) << "a's test loss";
  EXPECT_NEAR(evaluations[0].loss, eval_b[0].loss, exact ? 0.0 : 1e-6 * eval_b[0].loss) << "b's test loss";

  EXPECT_TRUE(same_bytes(group->parameters(1), initial_b)) << "slot 1 took no segment but changed";
  EXPECT_TRUE(same_bytes(group->optimizer_state(1), zero_state)) << "slot 1 took no segment but changed";
  EXPECT_EQ(group->accumulators(1).batches, 0);
}

TEST_P(EngineGroup, TwoSgdTrialsInOneCallMatchEachAlone) {
  const Case c = {{"Tanh17", {17}, "tanh"}, "none", LossKind::Multiclass, {"SgdMomentum", "sgd", 0.9}};
  TrialPlan a{{}, kOrder, kLrs, 0, kSteps, 0};
  a.hyper.momentum = 0.9;
  TrialPlan b{{}, {10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0}, {0.05, 0.3}, 4, 2, 1};  // the epoch's last two batches
  b.hyper.momentum = 0.5;
  b.hyper.nesterov = true;
  b.hyper.weight_decay = 0.01;
  check_trials_share_a_call(GetParam(), c, a, b);
}

TEST_P(EngineGroup, TwoAdamWTrialsInOneCallMatchEachAlone) {
  const Case c = {{"Gelu17x9", {17, 9}, "gelu"}, "tanh", LossKind::Binary, {"AdamW", "adamw", 0.0, false, 0.1}};
  TrialPlan a{{}, kOrder, kLrs, 0, kSteps, 0};
  a.hyper.weight_decay = 0.1;
  TrialPlan b{{}, kOrder, {0.01, 0.02, 0.05}, 0, kSteps, 5};  // step0 5: another bias correction
  b.hyper.weight_decay = 0.0;
  b.hyper.beta1 = 0.8;
  b.hyper.beta2 = 0.99;
  check_trials_share_a_call(GetParam(), c, a, b);
}

// Learning rates that blow a regression model up: its loss exceeds divergence_loss (1e6) at the step after.
TEST_P(EngineGroup, DivergedTrialStopsAndKeepsItsLastParameters) {
  const Backend& backend = GetParam();
  const Case c = {{"Relu17", {17}, "relu"}, "none", LossKind::Regression, {"SgdMomentum", "sgd", 0.9}};
  const auto shape = shape_for(c);
  const auto& data = data_for(c.loss);
  const auto initial = initial_for(c);
  const std::vector<float> zero_state(std::size_t(shape.optimizer_state_count()), 0.0f);
  const auto hyper = hyper_for(c);
  const std::vector<double> mid = {1e4, 0.1, 0.1};   // slot 0: step 2 diverges, inside the segment
  const std::vector<double> late = {0.1, 1e4, 0.1};  // slot 1: step 3 diverges, the first of the second call
  const std::vector<double> next_epoch = {0.1, 0.1, 0.1};

  auto math = backend.make(shape, data, 3);
  for (int slot = 0; slot < 3; ++slot) math->set_hyper(slot, hyper), math->load(slot, initial, zero_state);
  math->advance({segment_of(0, kOrder, 0, 3, mid.data(), 0), segment_of(1, kOrder, 0, 2, late.data(), 0),
                 segment_of(2, kOrder, 0, 2, kLrs.data(), 0)});
  const auto slot1_before = math->parameters(1), slot1_state_before = math->optimizer_state(1);
  const auto slot1_sums_before = math->accumulators(1);
  EXPECT_EQ(slot1_sums_before.diverged_at_step, 0);
  math->advance({segment_of(1, kOrder, 8, 1, late.data() + 2, 2), segment_of(2, kOrder, 8, 1, kLrs.data() + 2, 2)});

  // Slot 0: step 1 taken, step 2 diverged, step 3 not taken.
  auto one_step = backend.make(shape, data, 1);
  one_step->set_hyper(0, hyper);
  one_step->load(0, initial, zero_state);
  one_step->advance({segment_of(0, kOrder, 0, 1, mid.data(), 0)});
  const auto sums0 = math->accumulators(0);
  EXPECT_EQ(sums0.diverged_at_step, 2);
  EXPECT_TRUE(!std::isfinite(sums0.diverged_loss) || sums0.diverged_loss > 1e6) << sums0.diverged_loss;
  EXPECT_EQ(sums0.batches, 1);
  EXPECT_NEAR(sums0.loss_sum, one_step->accumulators(0).loss_sum, 1e-6 * one_step->accumulators(0).loss_sum);
  EXPECT_TRUE(same_double(sums0.last_loss, sums0.loss_sum)) << "the last batch's loss: step 1's, not the diverged one";
  EXPECT_TRUE(same_numbers(math->parameters(0), one_step->parameters(0), backend.bit_exact)) << "slot 0 parameters";
  EXPECT_TRUE(same_numbers(math->optimizer_state(0), one_step->optimizer_state(0), backend.bit_exact)) << "slot 0 state";

  // Slot 1: diverged at step 3 (step0 2 + the segment's first step); nothing changed but the accumulators.
  const auto sums1 = math->accumulators(1);
  EXPECT_EQ(sums1.diverged_at_step, 3);
  EXPECT_TRUE(!std::isfinite(sums1.diverged_loss) || sums1.diverged_loss > 1e6) << sums1.diverged_loss;
  EXPECT_EQ(sums1.batches, 2);
  EXPECT_TRUE(same_double(sums1.loss_sum, slot1_sums_before.loss_sum));
  EXPECT_TRUE(same_bytes(math->parameters(1), slot1_before)) << "slot 1 parameters";
  EXPECT_TRUE(same_bytes(math->optimizer_state(1), slot1_state_before)) << "slot 1 state";

  // Slot 2, trained beside them, is as if alone.
  auto alone = backend.make(shape, data, 1);
  alone->set_hyper(0, hyper);
  alone->load(0, initial, zero_state);
  alone->advance({segment_of(0, kOrder, 0, kSteps, kLrs.data(), 0)});
  EXPECT_TRUE(same_numbers(math->parameters(2), alone->parameters(0), backend.bit_exact)) << "slot 2 parameters";
  EXPECT_TRUE(same_accumulators(math->accumulators(2), alone->accumulators(0), backend.bit_exact));
  EXPECT_EQ(math->accumulators(2).diverged_at_step, 0);

  // A later call leaves the diverged trials alone and trains the healthy one.
  const std::vector<std::vector<float>> parameters_before = {math->parameters(0), math->parameters(1), math->parameters(2)};
  const std::vector<std::vector<float>> state_before = {math->optimizer_state(0), math->optimizer_state(1)};
  std::vector<Segment> epoch2;
  for (int slot = 0; slot < 3; ++slot) epoch2.push_back(segment_of(slot, kOrder, 0, kSteps, next_epoch.data(), 3));
  math->advance(epoch2);
  for (int slot = 0; slot < 2; ++slot) {
    SCOPED_TRACE("diverged slot " + std::to_string(slot));
    EXPECT_TRUE(same_bytes(math->parameters(slot), parameters_before[std::size_t(slot)]));
    EXPECT_TRUE(same_bytes(math->optimizer_state(slot), state_before[std::size_t(slot)]));
    EXPECT_TRUE(same_accumulators(math->accumulators(slot), slot == 0 ? sums0 : sums1, true));
  }
  EXPECT_FALSE(all_close(math->parameters(2), parameters_before[2])) << "the healthy trial did not train";
  EXPECT_EQ(math->accumulators(2).batches, 2 * kSteps);
}

// One epoch in one segment, or in a segment of one step and another of two.
TEST_P(EngineGroup, SegmentsCutDifferentlyGiveTheSameNumbers) {
  const Backend& backend = GetParam();
  const std::vector<Case> cases = {
      {{"Gelu17x9", {17, 9}, "gelu"}, "tanh", LossKind::Multiclass, {"AdamWd", "adam", 0.0, false, 0.01}},
      {{"Relu17", {17}, "relu"}, "none", LossKind::Regression, {"SgdNesterovWd", "sgd", 0.9, true, 0.01}},
      {{"Sigmoid17", {17}, "sigmoid"}, "relu", LossKind::Binary, {"AdamW", "adamw", 0.0, false, 0.1}},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(case_name(c));
    const auto shape = shape_for(c);
    const auto initial = initial_for(c);
    const std::vector<float> zero_state(std::size_t(shape.optimizer_state_count()), 0.0f);
    auto whole = backend.make(shape, data_for(c.loss), 1), cut = backend.make(shape, data_for(c.loss), 1);
    for (auto* math : {whole.get(), cut.get()}) math->set_hyper(0, hyper_for(c)), math->load(0, initial, zero_state);
    whole->advance({segment_of(0, kOrder, 0, kSteps, kLrs.data(), 0)});
    cut->advance({segment_of(0, kOrder, 0, 1, kLrs.data(), 0)});
    cut->advance({segment_of(0, kOrder, kBatch, 2, kLrs.data() + 1, 1)});
    ASSERT_FALSE(all_close(whole->parameters(0), initial)) << "did not train";
    EXPECT_TRUE(same_numbers(cut->parameters(0), whole->parameters(0), backend.bit_exact)) << "parameters";
    EXPECT_TRUE(same_numbers(cut->optimizer_state(0), whole->optimizer_state(0), backend.bit_exact)) << "state";
    EXPECT_TRUE(same_accumulators(cut->accumulators(0), whole->accumulators(0), backend.bit_exact));
    EXPECT_EQ(cut->accumulators(0).batches, kSteps);
  }
}

INSTANTIATE_TEST_SUITE_P(Backends, EngineGroup, ::testing::Values(kLean, kLeanPortable, kLeanBlas, kBatched),
                         [](const ::testing::TestParamInfo<Backend>& info) { return std::string(info.param.label); });

}  // namespace
}  // namespace sweeplab
