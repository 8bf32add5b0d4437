#pragma once
// The MLP and its optimizer (LibTorch: the plugin and the tests only): the autograd reference the tests hold the
// engine to, DQN's Q-network, and the initial weights of sp and mup.
#include <torch/torch.h>

#include <memory>

#include "checkpoint.hpp"
#include "group_math.hpp"
#include "sweeplab/config/config.hpp"

namespace sweeplab {

// Linear layers inputs -> hidden... -> outputs with model.activation between them and
// model.output_activation (usually none) after the last. Initialised as PyTorch's nn.Linear does
// (weights and biases uniform in +-1/sqrt(fan_in)), drawn from `gen` layer by layer, weight then bias:
// the same numbers as torch.manual_seed(seed) followed by building the nn.Sequential in Python.
//
// model.parameterization sp or mup (batch_size_studies): Linear layers without bias, each followed by a multiplication by
// layer_scales(...)[l]; the weights N(0, init_std^2), drawn with normal_ from `gen` layer by layer into each
// nn.Linear weight ([fan_out, fan_in], row-major): the same numbers as torch.manual_seed(seed) followed by
// torch.nn.init.normal_(layer.weight, 0, init_std) for each layer in order in Python.
torch::nn::Sequential make_model(const ModelConfig& config, std::int64_t inputs, std::int64_t outputs,
                                 torch::Generator& gen);

// sgd (momentum, nesterov, weight decay), adam, adamw: PyTorch's own implementations.
std::unique_ptr<torch::optim::Optimizer> make_optimizer(const OptimizerConfig& config,
                                                        const std::vector<torch::Tensor>& parameters);

void set_learning_rate(torch::optim::Optimizer& optimizer, double lr);

// Between the engine's flat layout and an nn.Sequential of Linear layers.
std::vector<float> flatten_parameters(torch::nn::Sequential& model);
void unflatten_parameters(const std::vector<float>& flat, torch::nn::Sequential& model);

// The state of an optimizer made by make_optimizer(config, parameters), for a checkpoint (the reinforcement
// learners'): adam, adamw: exp_avg and exp_avg_sq of each parameter in order, their step count in `state` as
// <prefix>.step; sgd: the momentum buffers. <prefix>.has_state says whether there is any (none before the first
// step). restore_optimizer takes it back; it throws std::runtime_error for floats that do not fit.
std::vector<float> optimizer_floats(torch::optim::Optimizer& optimizer, const OptimizerConfig& config,
                                    const std::vector<torch::Tensor>& parameters, StateText& state,
                                    const std::string& prefix);
void restore_optimizer(torch::optim::Optimizer& optimizer, const OptimizerConfig& config,
                       const std::vector<torch::Tensor>& parameters, const StateText& state, const std::string& prefix,
                       const std::vector<float>& values);

// setup.hpp's initial_parameters for sp and mup: make_model with an at::CPUGeneratorImpl seeded with `seed`,
// flattened.
std::vector<float> scaled_initial_parameters(const ModelConfig& model, const MlpShape& shape, std::int64_t seed);

}  // namespace sweeplab
