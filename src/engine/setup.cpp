#include "setup.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "initial.hpp"
#include "sweeplab/core/error.hpp"
#include "torch_plugin.hpp"

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

MlpShape shape_of(const Config& config, const TaskData& data) {
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
  shape.noise_scale = config.metrics.noise_scale;
  return shape;
}

std::vector<float> layer_scales(const ModelConfig& config, const std::vector<std::int64_t>& widths) {
  if (config.parameterization == "standard") return {};
  if (config.parameterization != "sp" && config.parameterization != "mup") {
    throw InternalError("unknown parameterization " + config.parameterization);
  }
  std::vector<float> scales;
  const std::size_t layers = widths.size() - 1;
  for (std::size_t l = 0; l + 1 < layers; ++l) scales.push_back(float(1.0 / std::sqrt(double(widths[l]))));
  const double n = double(widths[layers - 1]);  // the last hidden width (the input width without a hidden layer)
  scales.push_back(float(1.0 / (config.gamma * (config.parameterization == "sp" ? std::sqrt(n) : n))));
  return scales;
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

std::vector<float> initial_parameters(const ModelConfig& model, const MlpShape& shape, std::int64_t seed) {
  if (model.parameterization == "standard") return standard_initial_parameters(shape, seed);
  return torch_plugin().scaled_initial_parameters(model, shape, seed);
}

}  // namespace sweeplab
