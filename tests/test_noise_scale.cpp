// The gradient noise scale's sums (Accumulators::noise_*, metrics.noise_scale) in every backend, against brute
// force: at each step's parameters, every example's own gradient and the batch's gradient through autograd, in
// double precision, on a forward pass written here from the engine's parameter layout. The engine's per-step sums
// give back the two quantities they are made of (mean_i |g_i|^2 and |G_B|^2), which must match. Then: measuring
// changes no other number, a trial's sums do not depend on its company, and steps of one row add nothing.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "engine/group_math.hpp"
#include "engine_reference.hpp"
#include "lcg.hpp"

namespace sweeplab {
namespace {

using torch::Tensor;

using testing::Lcg;

constexpr std::int64_t kTrain = 11, kTest = 3;
const std::vector<std::int64_t> kOrder = {7, 2, 10, 0, 4, 1, 8, 3, 6, 9, 5};

struct Case {
  const char* name;
  std::vector<std::int64_t> hidden;
  Activation hidden_activation = Activation::Relu, output_activation = Activation::None;
  LossKind loss = LossKind::Binary;
  OptimizerKind optimizer = OptimizerKind::Sgd;
  bool momentum = false;
  std::vector<float> scales;  // sp/mup-like layers: bias-free, z = s (h W)
  bool centered = false;
  std::int64_t tokens = 0;  // > 0: token inputs over a vocabulary of kVocabulary
  std::int64_t batch = 4;   // 11 rows: batches of 4, 4, 3 (the kernels for small batches) or 6, 5 (the larger ones)
};
constexpr std::int64_t kInputs = 3, kVocabulary = 7;

std::int64_t outputs_of(LossKind loss) {
  return loss == LossKind::Binary ? 1 : loss == LossKind::Regression ? 2 : 3;
}

GroupData make_data(const Case& c) {
  Lcg rng(31 + std::uint64_t(c.loss) + 7 * std::uint64_t(c.tokens));
  GroupData data;
  data.inputs = c.tokens > 0 ? c.tokens : kInputs;
  data.outputs = outputs_of(c.loss);
  data.n_train = kTrain;
  data.n_test = kTest;
  const auto fill = [&](std::int64_t rows, std::vector<float>& x, std::vector<float>& y) {
    for (std::int64_t r = 0; r < rows; ++r) {
      for (std::int64_t i = 0; i < data.inputs; ++i) {
        // Tokens: row r's first two tokens are equal every third row (|a|^2 counts the repeats).
        x.push_back(c.tokens > 0 ? float((i == 1 && r % 3 == 0) ? std::int64_t(x.back()) : std::int64_t(rng.uniform() * kVocabulary))
                                 : rng.symmetric(2.0));
      }
      if (c.loss == LossKind::Binary) y.push_back(rng.uniform() < 0.5 ? 1.0f : 0.0f);
      else if (c.loss == LossKind::Regression) y.push_back(rng.symmetric(1.0)), y.push_back(rng.symmetric(1.0));
      else y.push_back(float(r % 3));
    }
  };
  fill(kTrain, data.x_train, data.y_train);
  fill(kTest, data.x_test, data.y_test);
  return data;
}

MlpShape shape_for(const Case& c, bool noise) {
  MlpShape shape;
  shape.widths = {c.tokens > 0 ? kVocabulary : kInputs};
  shape.widths.insert(shape.widths.end(), c.hidden.begin(), c.hidden.end());
  shape.widths.push_back(outputs_of(c.loss));
  shape.hidden = c.hidden_activation;
  shape.output = c.output_activation;
  shape.loss = c.loss;
  shape.optimizer = c.optimizer;
  shape.momentum_buffer = c.momentum;
  shape.scales = c.scales;
  shape.bias = c.scales.empty();
  shape.centered = c.centered;
  shape.tokens = c.tokens;
  shape.noise_scale = noise;
  return shape;
}

std::vector<float> random_parameters(const MlpShape& shape, std::uint64_t seed) {
  Lcg rng(seed);
  std::vector<float> values;
  for (std::int64_t l = 0; l < shape.layers(); ++l) {
    const std::int64_t fan_in = shape.widths[l], fan_out = shape.widths[l + 1];
    for (std::int64_t i = 0; i < fan_in * fan_out; ++i) values.push_back(rng.symmetric(1.5 / std::sqrt(double(fan_in))));
    for (std::int64_t i = 0; i < fan_out; ++i) values.push_back(shape.bias ? rng.symmetric(0.3) : 0.0f);
  }
  return values;
}

// ------------------------------------------------------------------------------------------------
// Brute force, in double: the network from the flat parameters, each example's loss, autograd.

Tensor activate(Activation kind, const Tensor& z) {
  switch (kind) {
    case Activation::None: return z;
    case Activation::Relu: return torch::relu(z);
    case Activation::Tanh: return torch::tanh(z);
    case Activation::Gelu: return torch::gelu(z);
    case Activation::Sigmoid: return torch::sigmoid(z);
  }
  return z;
}

// Weights and biases of every layer from the engine's layout: W transposed [fan_in][fan_out], then b.
std::vector<Tensor> layers_of(const MlpShape& shape, const std::vector<float>& flat, bool grad) {
  std::vector<Tensor> tensors;
  std::int64_t at = 0;
  for (std::int64_t l = 0; l < shape.layers(); ++l) {
    const std::int64_t fan_in = shape.widths[l], fan_out = shape.widths[l + 1];
    for (const std::vector<std::int64_t>& size : {std::vector<std::int64_t>{fan_in, fan_out}, std::vector<std::int64_t>{fan_out}}) {
      const std::int64_t count = size.size() == 2 ? fan_in * fan_out : fan_out;
      Tensor t = torch::from_blob(const_cast<float*>(flat.data() + at), {count}, torch::kFloat32)
                     .to(torch::kFloat64).view(size).clone();
      tensors.push_back(t.set_requires_grad(grad));
      at += count;
    }
  }
  return tensors;
}

Tensor forward(const MlpShape& shape, const std::vector<Tensor>& layers, const Tensor& x) {
  Tensor h = shape.tokens > 0 ? torch::one_hot(x.to(torch::kLong), shape.widths[0]).sum(1).to(torch::kFloat64) : x;
  for (std::int64_t l = 0; l < shape.layers(); ++l) {
    const double scale = shape.scales.empty() ? 1.0 : double(shape.scales[std::size_t(l)]);
    Tensor z = torch::matmul(h, layers[std::size_t(2 * l)]) * scale;
    if (shape.bias) z = z + layers[std::size_t(2 * l + 1)];
    h = activate(l + 1 == shape.layers() ? shape.output : shape.hidden, z);
  }
  return h;
}

// One example's loss, as the engine defines the batch loss's terms (their mean is the batch loss).
Tensor example_loss(LossKind loss, const Tensor& out, const float* target) {
  switch (loss) {
    case LossKind::Binary: {
      const Tensor logit = out[0];
      return torch::relu(logit) - logit * double(target[0]) + torch::log1p(torch::exp(-logit.abs()));
    }
    case LossKind::Multiclass: return -torch::log_softmax(out, 0)[std::int64_t(target[0])];
    case LossKind::OneHotMse: {
      const Tensor onehot = torch::one_hot(torch::tensor(std::int64_t(target[0])), out.size(0)).to(torch::kFloat64);
      return (out - onehot).pow(2).mean();
    }
    case LossKind::Regression:
      return (out - torch::tensor({double(target[0]), double(target[1])}, torch::kFloat64)).pow(2).mean();
  }
  return {};
}

double squared_norm(const std::vector<Tensor>& grads, bool bias) {
  double sum = 0.0;
  for (std::size_t i = 0; i < grads.size(); ++i) {
    if (!grads[i].defined() || (i % 2 == 1 && !bias)) continue;  // a bias-free layer's bias does not move
    sum += grads[i].pow(2).sum().item<double>();
  }
  return sum;
}

struct Terms {
  double mean_example_sq = 0.0, batch_sq = 0.0;
};

// mean_i |g_i|^2 and |G_B|^2 at `parameters` for the given training rows.
Terms brute_force(const MlpShape& shape, const GroupData& data, const std::vector<float>& parameters,
                  const std::vector<float>& initial, const std::vector<std::int64_t>& rows) {
  const std::int64_t target_width = shape.loss == LossKind::Regression ? data.outputs : 1;
  std::vector<Tensor> layers = layers_of(shape, parameters, true);
  const std::vector<Tensor> theta0 = shape.centered ? layers_of(shape, initial, false) : std::vector<Tensor>{};
  std::vector<Tensor> losses;
  for (const std::int64_t row : rows) {
    const Tensor x = torch::from_blob(const_cast<float*>(&data.x_train[std::size_t(row * data.inputs)]), {1, data.inputs},
                                      torch::kFloat32).to(torch::kFloat64);
    Tensor out = forward(shape, layers, x)[0];
    if (shape.centered) out = out - forward(shape, theta0, x)[0].detach();
    losses.push_back(example_loss(shape.loss, out, &data.y_train[std::size_t(row * target_width)]));
  }
  Terms terms;
  for (const auto& loss : losses) {
    terms.mean_example_sq += squared_norm(torch::autograd::grad({loss}, layers, {}, true, false, true), shape.bias);
  }
  terms.mean_example_sq /= double(rows.size());
  terms.batch_sq =
      squared_norm(torch::autograd::grad({torch::stack(losses).mean()}, layers, {}, false, false, true), shape.bias);
  return terms;
}

// The two quantities back from one step's additions to the sums (group_math.hpp's estimators, inverted).
Terms terms_of(double gradient, double trace, std::int64_t rows) {
  const double b = double(rows);
  Terms terms;
  terms.batch_sq = gradient + trace / b;
  terms.mean_example_sq = terms.batch_sq + trace * (b - 1.0) / b;
  return terms;
}

// ------------------------------------------------------------------------------------------------
// The backends.

using testing::Backend;

void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }

const Backend kBackends[] = {testing::kLean, testing::kLeanPortable, testing::kLeanBlas, testing::kBatched};

const std::vector<Case>& cases() {
  static const std::vector<Case> all = [] {
    std::vector<Case> c;
    // name, hidden, activations, loss, optimizer, momentum, scales, centred, tokens, batch
    const auto add = [&](const char* name, std::vector<std::int64_t> hidden, Activation hidden_activation,
                         Activation output_activation, LossKind loss, OptimizerKind optimizer, bool momentum,
                         std::vector<float> scales, bool centered, std::int64_t tokens, std::int64_t batch) {
      c.push_back({name, std::move(hidden), hidden_activation, output_activation, loss, optimizer, momentum,
                   std::move(scales), centered, tokens, batch});
    };
    const auto relu = Activation::Relu, none = Activation::None;
    const auto sgd = OptimizerKind::Sgd;
    add("Linear_Binary_Sgd", {}, relu, none, LossKind::Binary, sgd, false, {}, false, 0, 4);
    add("Relu16_Binary_Sgd", {16}, relu, none, LossKind::Binary, sgd, false, {}, false, 0, 4);
    add("Relu16_Multiclass_Adam_Batch6", {16}, relu, none, LossKind::Multiclass, OptimizerKind::Adam, false, {}, false, 0, 6);
    add("Tanh17x9_Regression_SgdMomentum", {17, 9}, Activation::Tanh, none, LossKind::Regression, sgd, true, {}, false, 0, 4);
    add("Gelu17x9_OneHotMse_AdamW_Batch6", {17, 9}, Activation::Gelu, Activation::Tanh, LossKind::OneHotMse,
        OptimizerKind::AdamW, false, {}, false, 0, 6);
    add("Sigmoid16_Binary_Sgd", {16}, Activation::Sigmoid, none, LossKind::Binary, sgd, false, {}, false, 0, 4);
    add("Scaled16x8_Regression_Centred", {16, 8}, relu, none, LossKind::Regression, sgd, false, {0.5f, 0.25f, 0.125f},
        true, 0, 4);
    add("Scaled24_Multiclass_Batch6", {24}, Activation::Tanh, none, LossKind::Multiclass, sgd, false, {1.5f, 0.2f}, false, 0, 6);
    add("Tokens16_Multiclass_Sgd", {16}, relu, none, LossKind::Multiclass, sgd, false, {}, false, 2, 4);
    add("Tokens16_Multiclass_Adam_Scaled", {16}, relu, none, LossKind::Multiclass, OptimizerKind::Adam, false, {2.0f, 0.5f},
        false, 3, 6);
    return c;
  }();
  return all;
}

// The rows of an epoch's steps, the last one short: as a segment takes them from kOrder.
std::vector<std::vector<std::int64_t>> batches_of(std::int64_t batch) {
  std::vector<std::vector<std::int64_t>> out;
  for (std::int64_t first = 0; first < kTrain; first += batch) {
    out.emplace_back(kOrder.begin() + first, kOrder.begin() + std::min(kTrain, first + batch));
  }
  return out;
}

Segment step_segment(int slot, std::int64_t first, std::int64_t steps, std::int64_t batch, const double* lrs,
                     std::int64_t step0) {
  return testing::make_segment(slot, kOrder, first, steps, batch, lrs, step0);
}

TrialHyper hyper_for(const Case& c) {
  TrialHyper hyper;
  hyper.momentum = c.momentum ? 0.9 : 0.0;
  hyper.weight_decay = c.optimizer == OptimizerKind::AdamW ? 0.01 : 0.0;
  return hyper;
}

class NoiseScale : public ::testing::TestWithParam<std::tuple<Backend, Case>> {};

TEST_P(NoiseScale, EachStepsSumsMatchPerExampleGradientsFromAutograd) {
  const auto& [backend, c] = GetParam();
  const GroupData data = make_data(c);
  const MlpShape shape = shape_for(c, true);
  const std::vector<float> initial = random_parameters(shape, 5);
  auto math = backend.make(shape, data, 1);
  math->set_hyper(0, hyper_for(c));
  math->load(0, initial, std::vector<float>(std::size_t(shape.optimizer_state_count()), 0.0f));
  math->set_initial(0, initial);
  const double lr = 0.1;
  const auto batches = batches_of(c.batch);
  double checked = 0.0;
  for (std::size_t j = 0; j < batches.size(); ++j) {
    const std::vector<float> parameters = math->parameters(0);
    const Terms want = brute_force(shape, data, parameters, initial, batches[j]);
    const Accumulators before = math->accumulators(0);
    math->advance({step_segment(0, std::int64_t(j) * c.batch, 1, c.batch, &lr, std::int64_t(j))});
    const Accumulators after = math->accumulators(0);
    ASSERT_EQ(after.diverged_at_step, 0);
    ASSERT_EQ(after.noise_steps, before.noise_steps + 1) << "step " << j;
    const Terms got = terms_of(after.noise_gradient_sum - before.noise_gradient_sum,
                               after.noise_trace_sum - before.noise_trace_sum, std::int64_t(batches[j].size()));
    ASSERT_GT(want.mean_example_sq, 1e-6) << "no gradient at step " << j << ": the case tests nothing";
    EXPECT_NEAR(got.mean_example_sq, want.mean_example_sq, 2e-4 * want.mean_example_sq) << "mean_i |g_i|^2, step " << j;
    EXPECT_NEAR(got.batch_sq, want.batch_sq, 2e-4 * want.mean_example_sq) << "|G_B|^2, step " << j;
    EXPECT_LT(want.batch_sq, want.mean_example_sq) << "step " << j;  // the mean of squares exceeds the square of the mean
    checked += 1.0;
  }
  EXPECT_GE(checked, 2.0);
  EXPECT_FALSE(math->parameters(0) == initial) << "the trial did not train";
}

TEST_P(NoiseScale, MeasuringChangesNoOtherNumber) {
  const auto& [backend, c] = GetParam();
  const GroupData data = make_data(c);
  const std::vector<float> initial = random_parameters(shape_for(c, false), 5);
  const std::vector<double> lrs(8, 0.05);
  std::vector<std::vector<float>> parameters, states;
  std::vector<Accumulators> sums;
  for (const bool noise : {false, true}) {
    const MlpShape shape = shape_for(c, noise);
    auto math = backend.make(shape, data, 1);
    math->set_hyper(0, hyper_for(c));
    math->load(0, initial, std::vector<float>(std::size_t(shape.optimizer_state_count()), 0.0f));
    math->set_initial(0, initial);
    math->advance({step_segment(0, 0, std::int64_t(batches_of(c.batch).size()), c.batch, lrs.data(), 0)});
    parameters.push_back(math->parameters(0));
    states.push_back(math->optimizer_state(0));
    sums.push_back(math->accumulators(0));
  }
  EXPECT_EQ(sums[0].noise_steps, 0);
  EXPECT_EQ(sums[1].noise_steps, std::int64_t(batches_of(c.batch).size()));
  if (backend.bit_exact) {
    EXPECT_TRUE(parameters[0] == parameters[1]);
    EXPECT_TRUE(states[0] == states[1]);
    EXPECT_EQ(std::memcmp(&sums[0].loss_sum, &sums[1].loss_sum, sizeof(double)), 0);
  } else {
    for (std::size_t i = 0; i < parameters[0].size(); ++i) ASSERT_NEAR(parameters[0][i], parameters[1][i], 1e-6) << i;
    EXPECT_NEAR(sums[0].loss_sum, sums[1].loss_sum, 1e-9 * sums[0].loss_sum);
  }
}

INSTANTIATE_TEST_SUITE_P(Backends, NoiseScale, ::testing::Combine(::testing::ValuesIn(kBackends), ::testing::ValuesIn(cases())),
                         [](const ::testing::TestParamInfo<std::tuple<Backend, Case>>& info) {
                           return std::string(std::get<0>(info.param).label) + "_" + std::get<1>(info.param).name;
                         });

class NoiseScaleGroup : public ::testing::TestWithParam<Backend> {};

// A trial's sums with another trial beside it in the call, against the same trial alone; and batches of one row
// add nothing (there is no spread to measure).
TEST_P(NoiseScaleGroup, ATrialsSumsDoNotDependOnItsCompanyAndOneRowStepsAddNothing) {
  const Backend& backend = GetParam();
  const Case& c = cases()[2];
  const GroupData data = make_data(c);
  const MlpShape shape = shape_for(c, true);
  const std::vector<float> zero_state(std::size_t(shape.optimizer_state_count()), 0.0f);
  const std::vector<double> lrs(8, 0.05);
  const auto a = random_parameters(shape, 5), b = random_parameters(shape, 9);
  auto pair = backend.make(shape, data, 2);
  auto alone = backend.make(shape, data, 1);
  for (auto* math : {pair.get(), alone.get()}) {
    math->set_hyper(0, hyper_for(c));
    math->load(0, a, zero_state);
  }
  pair->set_hyper(1, hyper_for(c));
  pair->load(1, b, zero_state);
  pair->advance({step_segment(1, 0, 2, c.batch, lrs.data(), 0), step_segment(0, 0, 2, c.batch, lrs.data(), 0)});
  alone->advance({step_segment(0, 0, 2, c.batch, lrs.data(), 0)});
  const Accumulators together = pair->accumulators(0), single = alone->accumulators(0);
  EXPECT_EQ(together.noise_steps, 2);
  if (backend.bit_exact) {
    EXPECT_EQ(std::memcmp(&together.noise_gradient_sum, &single.noise_gradient_sum, sizeof(double)), 0);
    EXPECT_EQ(std::memcmp(&together.noise_trace_sum, &single.noise_trace_sum, sizeof(double)), 0);
  } else {
    EXPECT_NEAR(together.noise_trace_sum, single.noise_trace_sum, 1e-5 * std::fabs(single.noise_trace_sum));
  }
  auto single_rows = backend.make(shape, data, 1);
  single_rows->set_hyper(0, hyper_for(c));
  single_rows->load(0, b, zero_state);
  single_rows->advance({step_segment(0, 0, 11, 1, lrs.data(), 0)});
  const Accumulators ones = single_rows->accumulators(0);
  EXPECT_EQ(ones.batches, 11);
  EXPECT_EQ(ones.noise_steps, 0);
  EXPECT_EQ(ones.noise_gradient_sum, 0.0);
  EXPECT_EQ(ones.noise_trace_sum, 0.0);
}

INSTANTIATE_TEST_SUITE_P(Backends, NoiseScaleGroup, ::testing::ValuesIn(kBackends),
                         [](const ::testing::TestParamInfo<Backend>& info) { return std::string(info.param.label); });

}  // namespace
}  // namespace sweeplab
