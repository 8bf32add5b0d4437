// The engine's arithmetic for batch_size_studies' parameterizations (sp, mup with richness gamma; Atanasov et al.
// 2025), the centred output f(theta) - f(theta_0), and token inputs (a gathered first layer instead of one-hot
// products):
//  - shape_of and layer_scales against the formulas; a forward with known weights against hand-computed outputs;
//    the 1/sqrt(fan_in) scaling keeping preactivation variances at init_std^2 times the input's; initial_parameters;
//  - every backend (lean, lean portable, batched on the CPU) against autograd + torch::optim (make_model with the
//    parameterization, the centred output as model(x) - model_0(x), token inputs as one-hot rows), as
//    test_engine_math does for the standard models;
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <iomanip>
#include <iostream>
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
#include "sweeplab/training/schedule.hpp"

#include "engine_reference.hpp"
#include "lcg.hpp"

namespace sweeplab {
namespace {

using testing::all_close;
using testing::ReferenceRun;
using testing::ReferenceTensors;
using testing::run_reference_epoch;

constexpr std::int64_t kTrain = 11, kTest = 7, kBatch = 4, kSteps = 3;
const std::vector<std::int64_t> kOrder = {7, 2, 10, 0, 4, 1, 8, 3, 6, 9, 5};
const std::vector<double> kLrs = {0.2, 0.1, 0.15};

using testing::Lcg;

// ------------------------------------------------------------------------------------------------
// Data: features (3 inputs) for each loss, multiclass with two logits; and token rows (2 tokens, offset into a
// vocabulary of 10, 5 classes: (a + b) mod 5).

constexpr std::int64_t kInputs = 3, kTokens = 2, kPerToken = 5, kVocabulary = kTokens * kPerToken;

std::int64_t outputs_of(LossKind loss) { return loss == LossKind::Binary ? 1 : 2; }

GroupData make_feature_data(LossKind loss) {
  Lcg rng(29 + std::uint64_t(loss));
  GroupData data;
  data.inputs = kInputs;
  data.outputs = outputs_of(loss);
  data.n_train = kTrain;
  data.n_test = kTest;
  const auto fill = [&](std::int64_t rows, std::vector<float>& x, std::vector<float>& y) {
    for (std::int64_t r = 0; r < rows; ++r) {
      for (std::int64_t i = 0; i < kInputs; ++i) x.push_back(rng.symmetric(2.0));
      const float* row = &x[std::size_t(r * kInputs)];
      if (loss == LossKind::Binary) y.push_back(row[0] - 0.5f * row[1] + rng.symmetric(0.7) > 0.0f ? 1.0f : 0.0f);
      else if (loss == LossKind::Multiclass) y.push_back(row[0] + row[2] > 0.0f ? 1.0f : 0.0f);
      else y.push_back(row[0] * row[2] + rng.symmetric(0.3)), y.push_back(rng.symmetric(1.0));
    }
  };
  fill(kTrain, data.x_train, data.y_train);
  fill(kTest, data.x_test, data.y_test);
  return data;
}

GroupData make_token_data() {
  Lcg rng(41);
  GroupData data;
  data.inputs = kTokens;
  data.outputs = kPerToken;
  data.n_train = kTrain;
  data.n_test = kTest;
  const auto fill = [&](std::int64_t rows, std::vector<float>& x, std::vector<float>& y) {
    for (std::int64_t r = 0; r < rows; ++r) {
      const std::int64_t a = rng.below(kPerToken), b = rng.below(kPerToken);
      x.push_back(float(a));
      x.push_back(float(kPerToken + b));
      y.push_back(float((a + b) % kPerToken));
    }
  };
  fill(kTrain, data.x_train, data.y_train);
  fill(kTest, data.x_test, data.y_test);
  return data;
}

const GroupData& feature_data(LossKind loss) {
  static const GroupData data[] = {make_feature_data(LossKind::Binary), make_feature_data(LossKind::Multiclass),
                                   make_feature_data(LossKind::Regression)};
  return data[int(loss)];
}
const GroupData& token_data() {
  static const GroupData data = make_token_data();
  return data;
}

// ------------------------------------------------------------------------------------------------
// Cases.

struct OptimizerSpec {
  const char* label;
  const char* name;
  double momentum = 0.0;
  bool nesterov = false;
  double weight_decay = 0.0;
};

struct Case {
  std::string label;
  const char* parameterization;  // standard, sp, mup
  double gamma;
  bool centered;
  bool tokens;
  std::vector<std::int64_t> hidden;
  const char* activation;
  LossKind loss;
  OptimizerSpec optimizer;
};

void PrintTo(const Case& c, std::ostream* os) { *os << c.label; }

const char* loss_label(LossKind loss) {
  return loss == LossKind::Binary ? "Binary" : loss == LossKind::Multiclass ? "TwoLogitCe" : "Regression";
}

Config config_for(const Case& c) {
  Config config;
  config.model.hidden = c.hidden;
  config.model.activation = c.activation;
  config.model.output_activation = "none";
  config.model.parameterization = c.parameterization;
  config.model.gamma = c.gamma;
  config.model.init_std = 1.0;
  config.model.centered = c.centered;
  config.optimizer.name = c.optimizer.name;
  config.optimizer.lr = kLrs[0];
  config.optimizer.momentum = c.optimizer.momentum;
  config.optimizer.nesterov = c.optimizer.nesterov;
  config.optimizer.weight_decay = c.optimizer.weight_decay;
  return config;
}

const GroupData& data_for(const Case& c) { return c.tokens ? token_data() : feature_data(c.loss); }

TaskData dataset_for(const Case& c) {
  TaskData dataset;
  const GroupData& data = data_for(c);
  dataset.loss = c.tokens ? LossKind::Multiclass : c.loss;
  dataset.inputs = data.inputs;
  dataset.outputs = data.outputs;
  dataset.vocabulary = c.tokens ? kVocabulary : 0;
  return dataset;
}

MlpShape shape_for(const Case& c) { return shape_of(config_for(c), dataset_for(c)); }

std::vector<float> initial_for(const Case& c) { return initial_parameters(config_for(c).model, shape_for(c), 7); }

const std::vector<OptimizerSpec>& optimizers() {
  static const std::vector<OptimizerSpec> all = {
      {"Sgd", "sgd"},
      {"SgdNesterovWd", "sgd", 0.9, true, 0.01},
      {"AdamWd", "adam", 0.0, false, 0.01},
      {"AdamW", "adamw", 0.0, false, 0.1},
  };
  return all;
}

// sp and mup with gamma != 1, plain and centred, every optimizer and loss (multiclass: two logits).
std::vector<Case> parameterization_cases() {
  std::vector<Case> cases;
  for (const char* p : {"sp", "mup"}) {
    for (const bool centered : {false, true}) {
      for (const LossKind loss : {LossKind::Binary, LossKind::Multiclass, LossKind::Regression}) {
        for (const auto& optimizer : optimizers()) {
          const bool deep = loss != LossKind::Binary;
          Case c{"", p, std::string(p) == "sp" ? 0.5 : 2.0, centered, false, deep ? std::vector<std::int64_t>{17, 9}
                                                                                   : std::vector<std::int64_t>{17},
                 deep ? "relu" : "tanh", loss, optimizer};
          c.label = std::string(p == std::string("sp") ? "Sp" : "Mup") + (centered ? "Centred" : "") + "_" +
                    (deep ? "Relu17x9" : "Tanh17") + "_" + loss_label(loss) + "_" + optimizer.label;
          cases.push_back(c);
        }
      }
    }
  }
  return cases;
}

// Token inputs against one-hot rows: standard (with biases), sp, mup (plain and centred).
std::vector<Case> token_cases() {
  std::vector<Case> cases;
  struct Variant { const char* label; const char* p; double gamma; bool centered; };
  for (const Variant v : {Variant{"Standard", "standard", 1.0, false}, Variant{"Sp", "sp", 0.5, false},
                          Variant{"MupCentred", "mup", 2.0, true}}) {
    for (const auto& optimizer : optimizers()) {
      for (const auto& hidden : {std::vector<std::int64_t>{16}, std::vector<std::int64_t>{17, 9}}) {
        Case c{"", v.p, v.gamma, v.centered, true, hidden, "relu", LossKind::Multiclass, optimizer};
        c.label = std::string("Tokens") + v.label + (hidden.size() == 1 ? "_Relu16_" : "_Relu17x9_") + optimizer.label;
        cases.push_back(c);
      }
    }
  }
  return cases;
}

// ------------------------------------------------------------------------------------------------
// The reference: autograd and torch::optim on make_model's model (token rows as one-hot rows), the centred
// output as model(x) - model_0(x).

// The loss the reference trains with: token rows are classes.
LossKind loss_of(const Case& c) { return c.tokens ? LossKind::Multiclass : c.loss; }

torch::Tensor inputs_of(const Case& c, const std::vector<float>& x, std::int64_t rows) {
  if (!c.tokens) return torch::from_blob(const_cast<float*>(x.data()), {rows, kInputs}, torch::kFloat32).clone();
  auto one_hot = torch::zeros({rows, kVocabulary});
  for (std::int64_t r = 0; r < rows; ++r) {
    for (std::int64_t t = 0; t < kTokens; ++t) one_hot[r][std::int64_t(x[std::size_t(r * kTokens + t)])] += 1.0f;
  }
  return one_hot;
}

torch::Tensor targets_of(const Case& c, const std::vector<float>& y, std::int64_t rows) {
  const auto values = torch::from_blob(const_cast<float*>(y.data()), {std::int64_t(y.size())}, torch::kFloat32).clone();
  const LossKind loss = loss_of(c);
  if (loss == LossKind::Multiclass) return values.to(torch::kLong);
  if (loss == LossKind::Regression) return values.view({rows, 2});
  return values;
}

torch::nn::Sequential model_with(const Case& c, const std::vector<float>& parameters) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(0);
  const auto shape = shape_for(c);
  auto model = make_model(config_for(c).model, shape.widths.front(), shape.widths.back(), gen);
  unflatten_parameters(parameters, model);
  return model;
}

ReferenceRun run_reference(const Case& c, const std::vector<float>& initial) {
  const GroupData& data = data_for(c);
  auto model = model_with(c, initial), model0 = model_with(c, initial);
  const auto output_of = [&](const torch::Tensor& x) {
    if (!c.centered) return model->forward(x);
    torch::Tensor out0;
    {
      torch::NoGradGuard no_grad;
      out0 = model0->forward(x);
    }
    return model->forward(x) - out0;
  };
  auto optimizer = make_optimizer(config_for(c).optimizer, model->parameters());
  const ReferenceTensors tensors = {inputs_of(c, data.x_train, data.n_train), targets_of(c, data.y_train, data.n_train),
                                    inputs_of(c, data.x_test, data.n_test), targets_of(c, data.y_test, data.n_test)};
  return run_reference_epoch(model, *optimizer, c.optimizer.name, c.optimizer.momentum, output_of, loss_of(c), tensors,
                             {kOrder, kLrs, kBatch, kSteps});
}

// ------------------------------------------------------------------------------------------------
// Backends.

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

Segment segment_of(int slot, std::int64_t steps, std::int64_t batch, const double* lrs) {
  return testing::make_segment(slot, kOrder, 0, steps, batch, lrs, 0);
}

BackendRun run_backend(const Backend& backend, const Case& c, const std::vector<float>& initial) {
  const auto shape = shape_for(c);
  auto math = backend.make(shape, data_for(c), 1);
  math->set_hyper(0, hyper_of(config_for(c)));
  math->set_initial(0, initial);
  math->load(0, initial, std::vector<float>(std::size_t(shape.optimizer_state_count()), 0.0f));
  math->advance({segment_of(0, kSteps, kBatch, kLrs.data())});
  BackendRun run;
  run.parameters = math->parameters(0);
  run.state = math->optimizer_state(0);
  run.sums = math->accumulators(0);
  run.test = math->evaluate({0}).at(0);
  return run;
}

// The positions of the biases in the layout (and in each optimizer-state copy).
std::vector<std::size_t> bias_positions(const MlpShape& shape) {
  std::vector<std::size_t> positions;
  std::size_t at = 0;
  for (std::int64_t l = 0; l < shape.layers(); ++l) {
    at += std::size_t(shape.widths[l] * shape.widths[l + 1]);
    for (std::int64_t n = 0; n < shape.widths[l + 1]; ++n) positions.push_back(at++);
  }
  return positions;
}

void expect_matches_reference(const Backend& backend, const Case& c) {
  const auto initial = initial_for(c);
  const auto want = run_reference(c, initial);
  ASSERT_FALSE(all_close(want.parameters, initial)) << "the reference did not train: the case tests nothing";
  const auto got = run_backend(backend, c, initial);
  EXPECT_TRUE(all_close(got.parameters, want.parameters)) << "parameters";
  ASSERT_EQ(got.state.size(), want.state.size());
  if (std::string(c.optimizer.name) == "sgd") {
    EXPECT_TRUE(all_close(got.state, want.state)) << "momentum buffer";
  } else {
    const auto half = std::ptrdiff_t(got.state.size() / 2);
    EXPECT_TRUE(all_close({got.state.begin(), got.state.begin() + half}, {want.state.begin(), want.state.begin() + half}))
        << "exp_avg";
    EXPECT_TRUE(all_close({got.state.begin() + half, got.state.end()}, {want.state.begin() + half, want.state.end()}, 1e-9))
        << "exp_avg_sq";
  }
  EXPECT_NEAR(got.sums.loss_sum, want.loss_sum, 1e-5 * want.loss_sum + 1e-6) << "loss_sum";
  EXPECT_NEAR(got.sums.accuracy_sum, want.accuracy_sum, 1e-9) << "accuracy_sum";
  EXPECT_EQ(got.sums.batches, kSteps);
  EXPECT_EQ(got.sums.diverged_at_step, 0);
  EXPECT_NEAR(got.test.loss, want.test.loss, 1e-5 * want.test.loss + 1e-6) << "test loss";
  ASSERT_EQ(got.test.accuracy.has_value(), want.test.accuracy.has_value());
  if (want.test.accuracy) {
    EXPECT_NEAR(*got.test.accuracy, *want.test.accuracy, 1e-9) << "test accuracy";
  }

  const auto shape = shape_for(c);
  if (!shape.bias) {  // sp, mup: the biases, and their optimizer state, exactly 0 after training
    const std::size_t p = std::size_t(shape.parameter_count());
    for (const std::size_t i : bias_positions(shape)) {
      ASSERT_EQ(got.parameters[i], 0.0f) << "bias at " << i;
      for (std::size_t copy = 0; copy * p < got.state.size(); ++copy) ASSERT_EQ(got.state[copy * p + i], 0.0f) << "state at " << i;
    }
  }
}

class ParameterizationVsReference : public ::testing::TestWithParam<std::tuple<Backend, Case>> {};
TEST_P(ParameterizationVsReference, OneEpochMatchesAutograd) {
  expect_matches_reference(std::get<0>(GetParam()), std::get<1>(GetParam()));
}
INSTANTIATE_TEST_SUITE_P(SpMup, ParameterizationVsReference,
                         ::testing::Combine(::testing::Values(kLean, kLeanPortable, kLeanBlas, kBatched),
                                            ::testing::ValuesIn(parameterization_cases())),
                         [](const ::testing::TestParamInfo<std::tuple<Backend, Case>>& info) {
                           return std::string(std::get<0>(info.param).label) + "_" + std::get<1>(info.param).label;
                         });

class TokensVsOneHot : public ::testing::TestWithParam<std::tuple<Backend, Case>> {};
TEST_P(TokensVsOneHot, OneEpochMatchesAutogradOnOneHotRows) {
  expect_matches_reference(std::get<0>(GetParam()), std::get<1>(GetParam()));
}
INSTANTIATE_TEST_SUITE_P(Tokens, TokensVsOneHot,
                         ::testing::Combine(::testing::Values(kLean, kLeanPortable, kLeanBlas, kBatched),
                                            ::testing::ValuesIn(token_cases())),
                         [](const ::testing::TestParamInfo<std::tuple<Backend, Case>>& info) {
                           return std::string(std::get<0>(info.param).label) + "_" + std::get<1>(info.param).label;
                         });

// ------------------------------------------------------------------------------------------------
// The formulas.

Config sp_mup_config(const char* parameterization, std::vector<std::int64_t> hidden, double gamma, double init_std) {
  Config config;
  config.model.parameterization = parameterization;
  config.model.hidden = std::move(hidden);
  config.model.gamma = gamma;
  config.model.init_std = init_std;
  return config;
}

TEST(ShapeOf, SpAndMupScaleEveryLayerAsTheFormulasSay) {
  const auto data = dataset_shape(3, 2, LossKind::Multiclass);
  for (const char* p : {"sp", "mup"}) {
    SCOPED_TRACE(p);
    auto config = sp_mup_config(p, {16, 8}, 0.5, 1.0);
    config.model.centered = true;
    const auto shape = shape_of(config, data);
    EXPECT_EQ(shape.widths, (std::vector<std::int64_t>{3, 16, 8, 2}));
    EXPECT_FALSE(shape.bias);
    EXPECT_TRUE(shape.centered);
    EXPECT_EQ(shape.tokens, 0);
    ASSERT_EQ(shape.scales.size(), 3u);
    EXPECT_FLOAT_EQ(shape.scales[0], float(1.0 / std::sqrt(3.0)));
    EXPECT_FLOAT_EQ(shape.scales[1], 0.25f);
    EXPECT_FLOAT_EQ(shape.scales[2], std::string(p) == "sp" ? float(1.0 / (0.5 * std::sqrt(8.0))) : float(1.0 / (0.5 * 8.0)));
  }
}

TEST(ShapeOf, StandardKeepsBiasesAndNoScales) {
  Config config;
  config.model.hidden = {16};
  const auto shape = shape_of(config, dataset_shape(3, 1, LossKind::Binary));
  EXPECT_TRUE(shape.scales.empty());
  EXPECT_TRUE(shape.bias);
  EXPECT_FALSE(shape.centered);
  EXPECT_EQ(shape.tokens, 0);
}

TEST(ShapeOf, TokenInputsTakeTheVocabularyAsFirstWidth) {
  Config config;
  config.model.hidden = {256};
  const auto shape = shape_of(config, dataset_shape(2, 97, LossKind::Multiclass, 194));
  EXPECT_EQ(shape.widths, (std::vector<std::int64_t>{194, 256, 97}));
  EXPECT_EQ(shape.tokens, 2);
  const auto sp = shape_of(sp_mup_config("sp", {256}, 1.0, 1.0), dataset_shape(2, 97, LossKind::Multiclass, 194));
  EXPECT_FLOAT_EQ(sp.scales.at(0), float(1.0 / std::sqrt(194.0)));  // fan_in: the vocabulary (one-hot rows)
}

// Known weights (all 1, one test row x = (1, 2), target 0, a regression loss: the loss is the output squared):
// hidden z = (1 + 2)/sqrt(2) for each of N units (relu keeps it), output N z / (gamma sqrt(N)) (sp) or
// N z / (gamma N) (mup); their ratio is sqrt(N). Each backend, and make_model's model, give those.
TEST(Formulas, KnownWeightsGiveTheHandComputedOutputs) {
  constexpr std::int64_t kN = 64;
  constexpr double kGamma = 0.5;
  GroupData data;
  data.inputs = 2;
  data.outputs = 1;
  data.n_train = 1;
  data.n_test = 1;
  data.x_train = data.x_test = {1.0f, 2.0f};
  data.y_train = data.y_test = {0.0f};
  const double hidden = 3.0 / std::sqrt(2.0);
  const double want_sp = kN * hidden / (kGamma * std::sqrt(double(kN))), want_mup = kN * hidden / (kGamma * kN);
  ASSERT_NEAR(want_sp / want_mup, std::sqrt(double(kN)), 1e-9);
  for (const Backend& backend : {kLean, kLeanPortable, kBatched}) {
    double outputs[2];
    for (int which = 0; which < 2; ++which) {
      SCOPED_TRACE(std::string(backend.label) + (which == 0 ? " sp" : " mup"));
      const auto config = sp_mup_config(which == 0 ? "sp" : "mup", {kN}, kGamma, 1.0);
      const auto shape = shape_of(config, dataset_shape(2, 1, LossKind::Regression));
      std::vector<float> parameters(std::size_t(shape.parameter_count()), 0.0f);
      for (std::int64_t i = 0; i < 2 * kN; ++i) parameters[std::size_t(i)] = 1.0f;                     // W_0
      for (std::int64_t i = 0; i < kN; ++i) parameters[std::size_t(2 * kN + kN + i)] = 1.0f;           // W_1
      auto math = backend.make(shape, data, 1);
      math->load(0, parameters, std::vector<float>(std::size_t(shape.optimizer_state_count()), 0.0f));
      outputs[which] = std::sqrt(math->evaluate({0}).at(0).loss);
      EXPECT_NEAR(outputs[which], which == 0 ? want_sp : want_mup, 1e-5 * want_sp);

      auto gen = at::make_generator<at::CPUGeneratorImpl>(0);
      auto reference = make_model(config.model, 2, 1, gen);
      unflatten_parameters(parameters, reference);
      torch::NoGradGuard no_grad;
      const double autograd = reference->forward(torch::tensor({{1.0f, 2.0f}})).item<double>();
      EXPECT_NEAR(autograd, which == 0 ? want_sp : want_mup, 1e-5 * want_sp) << "make_model";
    }
    EXPECT_NEAR(outputs[0] / outputs[1], std::sqrt(double(kN)), 1e-5) << backend.label;
  }
}

// With 1/sqrt(fan_in), a hidden layer's preactivations at initialisation have variance init_std^2 times the mean
// square of its input, whatever the width (statistical: over 1000 and 500 units; without the scale it would be
// fan_in times larger). The numbers are deterministic (seeded), the tolerance a few standard errors.
TEST(Formulas, PreactivationVarianceIsInitStdSquaredTimesInputMeanSquare) {
  constexpr double kStd = 0.7;
  for (const char* p : {"sp", "mup"}) {
    SCOPED_TRACE(p);
    const auto config = sp_mup_config(p, {1000, 500}, 2.0, kStd);
    const auto shape = shape_of(config, dataset_shape(400, 1, LossKind::Binary));
    const auto parameters = initial_parameters(config.model, shape, 5);
    Lcg rng(3);
    std::vector<double> h(400);
    for (auto& v : h) v = rng.symmetric(std::sqrt(3.0));  // mean square about 1
    std::size_t offset = 0;
    for (std::int64_t l = 0; l < 2; ++l) {
      const std::int64_t fan_in = shape.widths[l], fan_out = shape.widths[l + 1];
      double input_ms = 0.0;
      for (double v : h) input_ms += v * v / double(fan_in);
      std::vector<double> z(std::size_t(fan_out), 0.0);
      for (std::int64_t i = 0; i < fan_in; ++i) {
        for (std::int64_t j = 0; j < fan_out; ++j) z[std::size_t(j)] += h[std::size_t(i)] * parameters[offset + std::size_t(i * fan_out + j)];
      }
      double mean = 0.0, var = 0.0;
      for (auto& v : z) v *= shape.scales[std::size_t(l)], mean += v / double(fan_out);
      for (double v : z) var += (v - mean) * (v - mean) / double(fan_out - 1);
      EXPECT_NEAR(var / (kStd * kStd * input_ms), 1.0, 0.15) << "layer " << l;
      offset += std::size_t(fan_in * fan_out + fan_out);
      h.assign(z.size(), 0.0);
      for (std::size_t j = 0; j < z.size(); ++j) h[j] = std::max(z[j], 0.0);  // relu
    }
  }
}

TEST(InitialParameters, SpMupAreSeededNormalWeightsAndZeroBiases) {
  constexpr double kStd = 0.5;
  for (const char* p : {"sp", "mup"}) {
    SCOPED_TRACE(p);
    const auto config = sp_mup_config(p, {64, 32}, 1.0, kStd);
    const auto shape = shape_of(config, dataset_shape(3, 2, LossKind::Multiclass));
    const auto a = initial_parameters(config.model, shape, 11), again = initial_parameters(config.model, shape, 11);
    const auto other = initial_parameters(config.model, shape, 12);
    ASSERT_EQ(std::int64_t(a.size()), shape.parameter_count());
    EXPECT_EQ(std::memcmp(a.data(), again.data(), a.size() * sizeof(float)), 0) << "not deterministic";
    EXPECT_NE(std::memcmp(a.data(), other.data(), a.size() * sizeof(float)), 0) << "the seed changes nothing";
    const auto biases = bias_positions(shape);
    for (const std::size_t i : biases) EXPECT_EQ(a[i], 0.0f) << i;
    double sum = 0.0, squares = 0.0, count = 0.0;
    for (std::size_t i = 0, b = 0; i < a.size(); ++i) {
      if (b < biases.size() && biases[b] == i) {
        ++b;
        continue;
      }
      sum += a[i], squares += double(a[i]) * a[i], ++count;
    }
    const double mean = sum / count, sd = std::sqrt(squares / count - mean * mean);
    EXPECT_NEAR(sd, kStd, 0.05 * kStd);
    EXPECT_LT(std::fabs(mean), 4.0 * kStd / std::sqrt(count));
  }
  // Standard stays PyTorch's nn.Linear initialisation: uniform within 1/sqrt(fan_in), biases not all 0.
  Config standard;
  standard.model.hidden = {64};
  const auto shape = shape_of(standard, dataset_shape(3, 2, LossKind::Multiclass));
  const auto values = initial_parameters(standard.model, shape, 11);
  for (std::size_t i = 0; i < std::size_t(3 * 64); ++i) EXPECT_LE(std::fabs(values[i]), 1.0 / std::sqrt(3.0));
  EXPECT_NE(values[std::size_t(3 * 64)], 0.0f);
}

// A centred output is 0 at initialisation: the first batch's loss is that of a zero output (log 2 for binary).
TEST(Centred, OutputIsZeroAtInitialisationAndSetInitialIsRequired) {
  Case c = parameterization_cases()[0];
  c.centered = true;
  c.loss = LossKind::Binary;
  const auto initial = initial_for(c);
  for (const Backend& backend : {kLean, kLeanPortable, kBatched}) {
    SCOPED_TRACE(backend.label);
    const auto shape = shape_for(c);
    auto math = backend.make(shape, data_for(c), 2);
    math->set_initial(0, initial);
    math->load(0, initial, std::vector<float>(std::size_t(shape.optimizer_state_count()), 0.0f));
    EXPECT_NEAR(math->evaluate({0}).at(0).loss, std::log(2.0), 1e-7);
    math->load(1, initial, std::vector<float>(std::size_t(shape.optimizer_state_count()), 0.0f));
    EXPECT_ANY_THROW(math->evaluate({1})) << "slot 1 has no theta_0";
  }
}

// batch_size_studies' gamma x eta step (experimental_mnist_training.py): muP, the centred output f(theta) -
// f(theta_0), MSE against one-hot labels (the mean over rows and classes), SGD at eta N, eta not compensated for
// gamma. Each backend, fed the rates effective_lr_factor gives with optimizer.scale_lr_by_gamma false, against
// autograd at the reference's rate, eta N, written out here. At gamma 0.01 and 100 the compensated rate is
// 1e-4 and 21.5 times the uncompensated one, so a wrong rule cannot pass.
TEST(UncompensatedRule, BatchSizeStudiesGammaEtaStepMatchesAutogradInEveryBackend) {
  constexpr std::int64_t kClasses = 3;
  GroupData data;
  data.inputs = kInputs;
  data.outputs = kClasses;
  data.n_train = kTrain;
  data.n_test = kTest;
  Lcg rng(53);
  for (std::int64_t r = 0; r < kTrain + kTest; ++r) {
    auto& x = r < kTrain ? data.x_train : data.x_test;
    auto& y = r < kTrain ? data.y_train : data.y_test;
    for (std::int64_t i = 0; i < kInputs; ++i) x.push_back(rng.symmetric(2.0));
    y.push_back(float(r % kClasses));
  }
  TaskData dataset;
  dataset.loss = LossKind::OneHotMse;
  dataset.inputs = kInputs;
  dataset.outputs = kClasses;
  const auto tensor_of = [](const std::vector<float>& v, std::vector<std::int64_t> shape) {
    return torch::from_blob(const_cast<float*>(v.data()), shape, torch::kFloat32).clone();
  };
  const ReferenceTensors tensors = {
      tensor_of(data.x_train, {kTrain, kInputs}), tensor_of(data.y_train, {kTrain}).to(torch::kLong),
      tensor_of(data.x_test, {kTest, kInputs}), tensor_of(data.y_test, {kTest}).to(torch::kLong)};

  for (const double gamma : {0.01, 100.0}) {
    SCOPED_TRACE("gamma " + std::to_string(gamma));
    Config config;
    config.model.parameterization = "mup";
    config.model.hidden = {17, 9};  // L = 3, N = 9
    config.model.gamma = gamma;
    config.model.centered = true;
    config.optimizer.name = "sgd";
    config.optimizer.scale_lr_by_gamma = false;
    constexpr double kN = 9.0;
    Config compensated = config;
    compensated.optimizer.scale_lr_by_gamma = true;
    ASSERT_GT(std::fabs(std::log(effective_lr_factor(compensated) / effective_lr_factor(config))), 1.0);

    // Etas at which the uncompensated rate trains without blowing up: the law's g(gamma), L = 3.
    const double stable = gamma <= 1.0 ? gamma * gamma : std::pow(gamma, 2.0 / 3.0);
    std::vector<double> etas, reference_lrs, engine_lrs;
    for (const double lr : kLrs) {
      etas.push_back(lr * stable / kN);
      reference_lrs.push_back(etas.back() * kN);  // lr = eta * N under muP
      engine_lrs.push_back(etas.back() * effective_lr_factor(config));
    }

    const auto shape = shape_of(config, dataset);
    const auto initial = initial_parameters(config.model, shape, 7);
    auto gen = at::make_generator<at::CPUGeneratorImpl>(0);
    auto model = make_model(config.model, kInputs, kClasses, gen);
    auto model0 = make_model(config.model, kInputs, kClasses, gen);
    unflatten_parameters(initial, model);
    unflatten_parameters(initial, model0);
    const auto centred = [&](const torch::Tensor& x) {
      torch::Tensor out0;
      {
        torch::NoGradGuard no_grad;
        out0 = model0->forward(x);
      }
      return model->forward(x) - out0;
    };
    auto optimizer = make_optimizer(config.optimizer, model->parameters());
    const ReferenceRun want = run_reference_epoch(model, *optimizer, "sgd", 0.0, centred, LossKind::OneHotMse, tensors,
                                                  {kOrder, reference_lrs, kBatch, kSteps});
    ASSERT_FALSE(all_close(want.parameters, initial)) << "the reference did not train: the case tests nothing";
    ASSERT_TRUE(std::isfinite(want.loss_sum));

    for (const Backend& backend : {kLean, kLeanPortable, kBatched}) {
      SCOPED_TRACE(backend.label);
      auto math = backend.make(shape, data, 1);
      math->set_hyper(0, hyper_of(config));
      math->set_initial(0, initial);
      math->load(0, initial, {});
      math->advance({segment_of(0, kSteps, kBatch, engine_lrs.data())});
      EXPECT_TRUE(all_close(math->parameters(0), want.parameters)) << "parameters";
      const Accumulators sums = math->accumulators(0);
      EXPECT_NEAR(sums.loss_sum, want.loss_sum, 1e-5 * want.loss_sum + 1e-7) << "loss_sum";
      EXPECT_NEAR(sums.last_loss, want.last_loss, 1e-5 * want.last_loss + 1e-7) << "the last batch's loss";
      EXPECT_NEAR(sums.accuracy_sum, want.accuracy_sum, 1e-9) << "accuracy_sum";
      const Evaluation test = math->evaluate({0}).at(0);
      EXPECT_NEAR(test.loss, want.test.loss, 1e-5 * want.test.loss + 1e-7) << "test loss";
      ASSERT_TRUE(test.accuracy.has_value());
      EXPECT_NEAR(*test.accuracy, *want.test.accuracy, 1e-9) << "test accuracy";
    }
  }
}

}  // namespace
}  // namespace sweeplab
