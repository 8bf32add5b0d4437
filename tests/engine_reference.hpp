#pragma once
// The autograd reference for the engine tests (test_engine_math, test_parameterization): a model's training steps
// through autograd and torch::optim, their losses and accuracies as the engine accumulates them, and the model's
// parameters and optimizer state laid out as the engine lays them out; and a float comparison for the results.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <iomanip>
#include <ostream>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "engine/dataset.hpp"
#include "engine/tensor_dataset.hpp"
#include "engine/group_math.hpp"
#include "engine/model.hpp"
#include "engine/setup.hpp"

namespace sweeplab::testing {

// The backends the engine tests hold to the reference and to each other.
using Factory = std::unique_ptr<GroupMath> (*)(const MlpShape&, const GroupData&, int);
struct Backend {
  const char* label;
  Factory make;
  bool bit_exact;  // lean: a trial's bytes do not depend on its company or its segments
};
inline void PrintTo(const Backend& backend, std::ostream* os) { *os << backend.label; }

inline const Backend kLean = {"Lean", [](const MlpShape& s, const GroupData& d, int k) { return make_lean_cpu_math(s, d, k); },
                              true};
// The kernels built for any x86-64 (what a CPU without AVX+FMA runs), here even where AVX+FMA is available.
inline const Backend kLeanPortable = {
    "LeanPortable", [](const MlpShape& s, const GroupData& d, int k) { return make_lean_cpu_math(s, d, k, {true}); }, true};
// Every product of eight outputs or more through the system BLAS, even at these small batches.
inline const Backend kLeanBlas = {"LeanBlas",
                                  [](const MlpShape& s, const GroupData& d, int k) {
                                    LeanOptions options;
                                    options.blas_rows = 1;
                                    options.any_blas = true;
                                    return make_lean_cpu_math(s, d, k, options);
                                  },
                                  true};
inline const Backend kBatched = {
    "Batched", [](const MlpShape& s, const GroupData& d, int k) { return make_batched_math(s, d, k, "cpu"); }, false};

// Steps [step0, step0 + steps) of the trial in `slot`, rows taken from `order` from `first` on, `batch` at a time.
inline Segment make_segment(int slot, const std::vector<std::int64_t>& order, std::int64_t first, std::int64_t steps,
                            std::int64_t batch, const double* lrs, std::int64_t step0) {
  Segment segment;
  segment.slot = slot;
  segment.order = order.data();
  segment.first = first;
  segment.steps = steps;
  segment.batch_size = batch;
  segment.lrs = lrs;
  segment.step0 = step0;
  return segment;
}

// What the reference gives after an epoch, in the engine's layout.
struct ReferenceRun {
  std::vector<float> parameters, state;
  double loss_sum = 0.0, accuracy_sum = 0.0;
  double last_loss = 0.0;  // of the last batch
  std::int64_t batches = 0;
  Evaluation test;
};

inline torch::Tensor reference_loss(const torch::Tensor& output, const torch::Tensor& target, LossKind loss) {
  switch (loss) {
    case LossKind::Binary: return torch::binary_cross_entropy_with_logits(output.squeeze(1), target);
    case LossKind::Multiclass: return torch::cross_entropy_loss(output, target);
    case LossKind::Regression: return torch::mse_loss(output, target);
    case LossKind::OneHotMse:  // written out from its definition: the mean over rows and classes of (o - onehot)^2
      return (output - torch::one_hot(target, output.size(1)).to(output.scalar_type())).pow(2).mean();
  }
  return {};
}

// Fraction right, on the output after the output activation; 0 for regression.
inline double reference_accuracy(const torch::Tensor& output, const torch::Tensor& target, LossKind loss) {
  if (loss == LossKind::Regression) return 0.0;
  const auto predicted = loss == LossKind::Binary ? output.squeeze(1).gt(0) : output.argmax(1);
  const auto truth = loss == LossKind::Binary ? target.gt(0.5) : target;
  return predicted.eq(truth).to(torch::kFloat64).mean().item<double>();
}

// Applies `of` to every parameter tensor of the model and lays the results out as the engine does: per linear
// layer, the weight's tensor transposed, then the bias's; a bias-free layer's bias as zeros.
template <typename Of>
std::vector<float> in_engine_layout(torch::nn::Sequential& model, Of of) {
  std::vector<float> flat;
  const auto append = [&](const torch::Tensor& tensor) {
    const auto values = tensor.detach().to(torch::kFloat32).contiguous();
    flat.insert(flat.end(), values.data_ptr<float>(), values.data_ptr<float>() + values.numel());
  };
  for (const auto& module : model->children()) {
    if (const auto* linear = module->as<torch::nn::Linear>()) {
      append(of(linear->weight).t());
      if (linear->bias.defined()) append(of(linear->bias));
      else flat.insert(flat.end(), std::size_t(linear->weight.size(0)), 0.0f);
    }
  }
  return flat;
}

// torch::optim's state, in the engine's layout: sgd's momentum buffer (none without momentum), or adam's and
// adamw's exp_avg then exp_avg_sq. `name`: sgd, adam or adamw, as OptimizerConfig names them.
inline std::vector<float> reference_state(torch::optim::Optimizer& optimizer, torch::nn::Sequential& model,
                                          const std::string& name, double momentum) {
  auto& states = optimizer.state();
  const auto state_of = [&](const torch::Tensor& parameter) -> torch::optim::OptimizerParamState& {
    const auto found = states.find(c10::guts::to_string(parameter.unsafeGetTensorImpl()));
    if (found == states.end()) throw std::runtime_error("reference: a parameter without optimizer state");
    return *found->second;
  };
  if (name == "sgd") {
    if (momentum == 0.0) return {};
    return in_engine_layout(model, [&](const torch::Tensor& p) {
      return static_cast<torch::optim::SGDParamState&>(state_of(p)).momentum_buffer();
    });
  }
  std::vector<float> exp_avg, exp_avg_sq;
  if (name == "adam") {
    exp_avg = in_engine_layout(
        model, [&](const torch::Tensor& p) { return static_cast<torch::optim::AdamParamState&>(state_of(p)).exp_avg(); });
    exp_avg_sq = in_engine_layout(model, [&](const torch::Tensor& p) {
      return static_cast<torch::optim::AdamParamState&>(state_of(p)).exp_avg_sq();
    });
  } else {
    exp_avg = in_engine_layout(
        model, [&](const torch::Tensor& p) { return static_cast<torch::optim::AdamWParamState&>(state_of(p)).exp_avg(); });
    exp_avg_sq = in_engine_layout(model, [&](const torch::Tensor& p) {
      return static_cast<torch::optim::AdamWParamState&>(state_of(p)).exp_avg_sq();
    });
  }
  exp_avg.insert(exp_avg.end(), exp_avg_sq.begin(), exp_avg_sq.end());
  return exp_avg;
}

// The rows of an epoch: `steps` batches of `batch` rows taken from `order` in turn (the last one short where the
// rows run out), batch i at learning rate lrs[i].
struct ReferenceEpoch {
  const std::vector<std::int64_t>& order;
  const std::vector<double>& lrs;
  std::int64_t batch, steps;
};

// The training and test sets as the model takes them (inputs) and the loss takes them (targets).
struct ReferenceTensors {
  torch::Tensor x_train, y_train, x_test, y_test;
};

// One epoch through autograd and `optimizer` (named `optimizer_name`, with `momentum`, for its state), then the test
// set without gradients. `forward` maps a batch of inputs to the outputs the loss sees (model->forward(x), or a
// function of it).
template <typename Forward>
ReferenceRun run_reference_epoch(torch::nn::Sequential& model, torch::optim::Optimizer& optimizer,
                                 const std::string& optimizer_name, double momentum, Forward forward, LossKind loss,
                                 const ReferenceTensors& tensors, const ReferenceEpoch& epoch) {
  const std::int64_t n_train = tensors.x_train.size(0);
  ReferenceRun run;
  for (std::int64_t step = 0; step < epoch.steps; ++step) {
    const std::int64_t first = step * epoch.batch, rows = std::min(epoch.batch, n_train - first);
    const auto index =
        torch::tensor(std::vector<std::int64_t>(epoch.order.begin() + first, epoch.order.begin() + first + rows));
    const auto x = tensors.x_train.index_select(0, index), y = tensors.y_train.index_select(0, index);
    set_learning_rate(optimizer, epoch.lrs[std::size_t(step)]);
    optimizer.zero_grad();
    const torch::Tensor output = forward(x);
    const torch::Tensor batch_loss = reference_loss(output, y, loss);
    batch_loss.backward();
    optimizer.step();
    run.loss_sum += batch_loss.item<double>();
    run.last_loss = batch_loss.item<double>();
    run.accuracy_sum += reference_accuracy(output.detach(), y, loss);
    ++run.batches;
  }
  run.parameters = flatten_parameters(model);
  run.state = reference_state(optimizer, model, optimizer_name, momentum);

  torch::NoGradGuard no_grad;
  const torch::Tensor output = forward(tensors.x_test);
  run.test.loss = reference_loss(output, tensors.y_test, loss).item<double>();
  if (loss != LossKind::Regression) run.test.accuracy = reference_accuracy(output, tensors.y_test, loss);
  return run;
}

// |got - want| <= rel * |want| + floor, element by element; lists the first few that are not.
inline ::testing::AssertionResult all_close(const std::vector<float>& got, const std::vector<float>& want,
                                            double floor = 1e-6, double rel = 1e-4) {
  if (got.size() != want.size()) {
    return ::testing::AssertionFailure() << got.size() << " values, expected " << want.size();
  }
  std::ostringstream bad;
  std::size_t count = 0;
  for (std::size_t i = 0; i < got.size(); ++i) {
    const double g = got[i], w = want[i];
    if (std::fabs(g - w) <= rel * std::fabs(w) + floor) continue;  // false for nan
    if (++count <= 5) bad << std::setprecision(9) << "\n  [" << i << "] " << g << " expected " << w << " (diff " << g - w << ")";
  }
  if (count == 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << count << " of " << got.size() << " values differ:" << bad.str();
}

}  // namespace sweeplab::testing
