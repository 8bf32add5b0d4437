#include "model.hpp"

#include <ATen/CPUGeneratorImpl.h>

#include <cmath>
#include <stdexcept>
#include <string>

#include "setup.hpp"
#include "sweeplab/core/error.hpp"

namespace sweeplab {
namespace {

std::vector<float> floats_of(const torch::Tensor& tensor) {
  const auto values = tensor.to(torch::kFloat32).contiguous();
  return std::vector<float>(values.data_ptr<float>(), values.data_ptr<float>() + values.numel());
}

void add_activation(torch::nn::Sequential& model, const std::string& name) {
  if (name == "relu") model->push_back(torch::nn::ReLU());
  else if (name == "tanh") model->push_back(torch::nn::Tanh());
  else if (name == "gelu") model->push_back(torch::nn::GELU());
  else if (name == "sigmoid") model->push_back(torch::nn::Sigmoid());
  else if (name != "none") throw InternalError("unknown activation " + name);
}

}  // namespace

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

namespace {

std::string optimizer_key(const torch::Tensor& parameter) {
  return c10::guts::to_string(parameter.unsafeGetTensorImpl());
}

void append(std::vector<float>& out, const torch::Tensor& tensor) {
  const auto values = tensor.detach().to(torch::kFloat32).contiguous();
  out.insert(out.end(), values.data_ptr<float>(), values.data_ptr<float>() + values.numel());
}

}  // namespace

std::vector<float> optimizer_floats(torch::optim::Optimizer& optimizer, const OptimizerConfig& config,
                                    const std::vector<torch::Tensor>& parameters, StateText& state,
                                    const std::string& prefix) {
  std::vector<float> out;
  auto& states = optimizer.state();
  const bool has_state = !parameters.empty() && states.count(optimizer_key(parameters.front())) > 0;
  state.put_int(prefix + ".has_state", has_state);
  if (!has_state) return out;
  for (const auto& p : parameters) {
    auto& entry = *states.at(optimizer_key(p));
    if (config.name == "adam") {
      auto& s = static_cast<torch::optim::AdamParamState&>(entry);
      append(out, s.exp_avg());
      append(out, s.exp_avg_sq());
      state.put_int(prefix + ".step", s.step());
    } else if (config.name == "adamw") {
      auto& s = static_cast<torch::optim::AdamWParamState&>(entry);
      append(out, s.exp_avg());
      append(out, s.exp_avg_sq());
      state.put_int(prefix + ".step", s.step());
    } else {
      append(out, static_cast<torch::optim::SGDParamState&>(entry).momentum_buffer());
    }
  }
  return out;
}

void restore_optimizer(torch::optim::Optimizer& optimizer, const OptimizerConfig& config,
                       const std::vector<torch::Tensor>& parameters, const StateText& state, const std::string& prefix,
                       const std::vector<float>& values) {
  optimizer.state().clear();
  if (!state.get_int(prefix + ".has_state")) {
    if (!values.empty()) throw std::runtime_error("optimizer state without its flag");
    return;
  }
  std::size_t at = 0;
  const auto take = [&](const torch::Tensor& like) {
    const auto n = std::size_t(like.numel());
    if (at + n > values.size()) throw std::runtime_error("too little optimizer state");
    auto tensor = torch::from_blob(const_cast<float*>(values.data() + at), like.sizes(), torch::kFloat32).clone();
    at += n;
    return tensor;
  };
  for (const auto& p : parameters) {
    std::unique_ptr<torch::optim::OptimizerParamState> entry;
    if (config.name == "adam") {
      auto s = std::make_unique<torch::optim::AdamParamState>();
      s->exp_avg(take(p));
      s->exp_avg_sq(take(p));
      s->step(state.get_int(prefix + ".step"));
      entry = std::move(s);
    } else if (config.name == "adamw") {
      auto s = std::make_unique<torch::optim::AdamWParamState>();
      s->exp_avg(take(p));
      s->exp_avg_sq(take(p));
      s->step(state.get_int(prefix + ".step"));
      entry = std::move(s);
    } else {
      auto s = std::make_unique<torch::optim::SGDParamState>();
      s->momentum_buffer(take(p));
      entry = std::move(s);
    }
    optimizer.state()[optimizer_key(p)] = std::move(entry);
  }
  if (at != values.size()) throw std::runtime_error("too much optimizer state");
}

std::vector<float> scaled_initial_parameters(const ModelConfig& model, const MlpShape& shape, std::int64_t seed) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(static_cast<std::uint64_t>(seed));
  auto sequential = make_model(model, shape.widths.front(), shape.widths.back(), gen);
  return flatten_parameters(sequential);
}

}  // namespace sweeplab
