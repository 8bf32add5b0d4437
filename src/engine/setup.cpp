#include "setup.hpp"

#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>
#include <limits>

#include "initial.hpp"
#include "model.hpp"
#include "sweeplab/core/error.hpp"

namespace sweeplab {

Activation activation_from_name(const std::string& name) {
  if (name == "none") return Activation::None;
  if (name == "relu") return Activation::Relu;
  if (name == "tanh") return Activation::Tanh;
  if (name == "gelu") return Activation::Gelu;
  if (name == "sigmoid") return Activation::Sigmoid;
  throw InternalError("unknown activation " + name);
}

OptimizerKind optimizer_kind_from_name(const std::string& name) {
  if (name == "sgd") return OptimizerKind::Sgd;
  if (name == "adam") return OptimizerKind::Adam;
  if (name == "adamw") return OptimizerKind::AdamW;
  throw InternalError("unknown optimizer " + name);
}

std::int64_t MlpShape::parameter_count() const {
  std::int64_t count = 0;
  for (std::int64_t l = 0; l < layers(); ++l) count += widths[l] * widths[l + 1] + widths[l + 1];
  return count;
}

std::int64_t MlpShape::optimizer_state_count() const {
  if (optimizer == OptimizerKind::Sgd) return momentum_buffer ? parameter_count() : 0;
  return 2 * parameter_count();
}

std::int64_t trials_that_fit(const MlpShape& shape, std::int64_t batch_size, std::int64_t bytes) {
  if (bytes <= 0) return std::numeric_limits<std::int64_t>::max();
  std::int64_t activations = 0;
  for (const auto width : shape.widths) activations += width;
  const std::int64_t parameters = shape.parameter_count();
  // parameters + optimizer state + gradient + four temporaries of the update; per row: z, act(z), dL/dz, the
  // gradient below, the gathered input and a margin
  // (centred output: theta_0 and the activations of its forward)
  const std::int64_t floats = parameters * (shape.centered ? 7 : 6) + shape.optimizer_state_count() +
                              batch_size * activations * (shape.centered ? 8 : 6);
  return std::max<std::int64_t>(1, bytes / (floats * std::int64_t(sizeof(float))));
}

MlpShape shape_of(const Config& config, const Dataset& data) {
  MlpShape shape;
  // Token inputs (algorithmic tasks): the first layer's fan_in is the vocabulary (a one-hot input).
  shape.tokens = data.vocabulary > 0 ? data.inputs : 0;
  shape.widths.push_back(data.vocabulary > 0 ? data.vocabulary : data.inputs);
  shape.widths.insert(shape.widths.end(), config.model.hidden.begin(), config.model.hidden.end());
  shape.widths.push_back(data.outputs);
  shape.hidden = activation_from_name(config.model.activation);
  shape.output = activation_from_name(config.model.output_activation);
  shape.loss = data.loss;
  shape.optimizer = optimizer_kind_from_name(config.optimizer.name);
  shape.momentum_buffer = shape.optimizer == OptimizerKind::Sgd && config.optimizer.momentum > 0.0;
  shape.scales = layer_scales(config.model, shape.widths);  // empty for standard
  shape.bias = shape.scales.empty();                        // sp, mup: bias-free
  shape.centered = config.model.centered;
  return shape;
}

namespace {
std::vector<float> floats_of(const torch::Tensor& tensor) {
  const auto values = tensor.to(torch::kFloat32).contiguous();
  return std::vector<float>(values.data_ptr<float>(), values.data_ptr<float>() + values.numel());
}
}  // namespace

GroupData group_data(const Dataset& data) {
  GroupData out;
  out.inputs = data.inputs;
  out.outputs = data.outputs;
  out.n_train = data.x_train.size(0);
  out.n_test = data.x_test.size(0);
  out.x_train = floats_of(data.x_train);
  out.y_train = floats_of(data.y_train);
  out.x_test = floats_of(data.x_test);
  out.y_test = floats_of(data.y_test);
  return out;
}

TrialHyper hyper_of(const Config& config) {
  TrialHyper hyper;
  hyper.momentum = config.optimizer.momentum;
  hyper.nesterov = config.optimizer.nesterov;
  hyper.weight_decay = config.optimizer.weight_decay;
  hyper.beta1 = config.optimizer.betas.at(0);
  hyper.beta2 = config.optimizer.betas.at(1);
  hyper.eps = config.optimizer.eps;
  hyper.divergence_loss = config.stop.divergence_loss;
  return hyper;
}

std::vector<float> flatten_parameters(torch::nn::Sequential& model) {
  std::vector<float> flat;
  for (const auto& module : model->children()) {
    const auto* linear = module->as<torch::nn::Linear>();
    if (!linear) continue;
    const auto weight_t = floats_of(linear->weight.detach().t());
    // A bias-free layer (sp, mup) keeps its place in the layout, as zeros.
    const auto bias = linear->bias.defined() ? floats_of(linear->bias.detach())
                                             : std::vector<float>(std::size_t(linear->weight.size(0)), 0.0f);
    flat.insert(flat.end(), weight_t.begin(), weight_t.end());
    flat.insert(flat.end(), bias.begin(), bias.end());
  }
  return flat;
}

void unflatten_parameters(const std::vector<float>& flat, torch::nn::Sequential& model) {
  torch::NoGradGuard no_grad;
  std::size_t at = 0;
  for (const auto& module : model->children()) {
    auto* linear = module->as<torch::nn::Linear>();
    if (!linear) continue;
    const auto out = linear->weight.size(0), in = linear->weight.size(1);
    const auto take = [&](std::int64_t n) {
      if (at + std::size_t(n) > flat.size()) throw InternalError("unflatten_parameters: too few values");
      auto tensor = torch::from_blob(const_cast<float*>(flat.data() + at), {n}, torch::kFloat32).clone();
      at += std::size_t(n);
      return tensor;
    };
    linear->weight.copy_(take(in * out).view({in, out}).t());
    const auto bias = take(out);
    if (linear->bias.defined()) linear->bias.copy_(bias);  // bias-free: its (zero) place in the layout is skipped
  }
  if (at != flat.size()) throw InternalError("unflatten_parameters: too many values");
}

std::vector<float> initial_parameters(const ModelConfig& model, const MlpShape& shape, std::int64_t seed) {
  if (model.parameterization == "standard") return standard_initial_parameters(shape, seed);
  auto gen = at::make_generator<at::CPUGeneratorImpl>(static_cast<std::uint64_t>(seed));
  auto sequential = make_model(model, shape.widths.front(), shape.widths.back(), gen);
  return flatten_parameters(sequential);
}

}  // namespace sweeplab
