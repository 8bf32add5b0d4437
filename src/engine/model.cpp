#include "model.hpp"

#include <cmath>

#include "sweeplab/core/error.hpp"

namespace sweeplab {
namespace {

void add_activation(torch::nn::Sequential& model, const std::string& name) {
  if (name == "relu") model->push_back(torch::nn::ReLU());
  else if (name == "tanh") model->push_back(torch::nn::Tanh());
  else if (name == "gelu") model->push_back(torch::nn::GELU());
  else if (name == "sigmoid") model->push_back(torch::nn::Sigmoid());
  else if (name != "none") throw InternalError("unknown activation " + name);
}

}  // namespace

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

torch::nn::Sequential make_model(const ModelConfig& config, std::int64_t inputs, std::int64_t outputs,
                                 torch::Generator& gen) {
  torch::nn::Sequential model;
  std::vector<std::int64_t> widths = {inputs};
  widths.insert(widths.end(), config.hidden.begin(), config.hidden.end());
  widths.push_back(outputs);
  torch::NoGradGuard no_grad;
  const std::vector<float> scales = layer_scales(config, widths);
  if (!scales.empty()) {  // sp, mup: bias-free, N(0, init_std^2) weights, each layer's output scaled
    for (std::size_t i = 0; i + 1 < widths.size(); ++i) {
      torch::nn::Linear layer(torch::nn::LinearOptions(widths[i], widths[i + 1]).bias(false));
      layer->weight.normal_(0.0, config.init_std, gen);
      model->push_back(layer);
      const double scale = double(scales[i]);  // the float the engine multiplies by, exactly
      model->push_back(torch::nn::Functional([scale](const torch::Tensor& z) { return z * scale; }));
      add_activation(model, i + 2 < widths.size() ? config.activation : config.output_activation);
    }
    return model;
  }
  for (std::size_t i = 0; i + 1 < widths.size(); ++i) {
    torch::nn::Linear layer(widths[i], widths[i + 1]);
    // As torch.nn.Linear.reset_parameters: kaiming_uniform_(a=sqrt(5)), then the bias; the same arithmetic.
    const double fan_in = double(widths[i]);
    const double gain = std::sqrt(2.0 / (1.0 + 5.000000000000001));  // a**2 with a = math.sqrt(5)
    const double weight_bound = std::sqrt(3.0) * (gain / std::sqrt(fan_in));
    layer->weight.uniform_(-weight_bound, weight_bound, gen);
    const double bias_bound = 1.0 / std::sqrt(fan_in);
    layer->bias.uniform_(-bias_bound, bias_bound, gen);
    model->push_back(layer);
    add_activation(model, i + 2 < widths.size() ? config.activation : config.output_activation);
  }
  return model;
}

std::unique_ptr<torch::optim::Optimizer> make_optimizer(const OptimizerConfig& config,
                                                        const std::vector<torch::Tensor>& parameters) {
  if (config.name == "sgd") {
    return std::make_unique<torch::optim::SGD>(parameters, torch::optim::SGDOptions(config.lr)
                                                               .momentum(config.momentum)
                                                               .nesterov(config.nesterov)
                                                               .weight_decay(config.weight_decay));
  }
  const auto betas = std::make_tuple(config.betas[0], config.betas[1]);
  if (config.name == "adam") {
    return std::make_unique<torch::optim::Adam>(
        parameters, torch::optim::AdamOptions(config.lr).betas(betas).eps(config.eps).weight_decay(config.weight_decay));
  }
  if (config.name == "adamw") {
    return std::make_unique<torch::optim::AdamW>(
        parameters, torch::optim::AdamWOptions(config.lr).betas(betas).eps(config.eps).weight_decay(config.weight_decay));
  }
  throw InternalError("make_optimizer: unknown optimizer " + config.name);
}

void set_learning_rate(torch::optim::Optimizer& optimizer, double lr) {
  for (auto& group : optimizer.param_groups()) group.options().set_lr(lr);
}

}  // namespace sweeplab
