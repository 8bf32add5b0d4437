#pragma once
// The MLP and its optimizer (LibTorch: include only from src/train and its tests).
#include <torch/torch.h>

#include <memory>

#include "sweeplab/config/config.hpp"

namespace sweeplab {

// Linear layers inputs -> hidden... -> outputs with model.activation between them and
// model.output_activation (usually none) after the last. Initialised as PyTorch's nn.Linear does
// (weights and biases uniform in +-1/sqrt(fan_in)), drawn from `gen` layer by layer, weight then bias:
// the same numbers as torch.manual_seed(seed) followed by building the nn.Sequential in Python.
torch::nn::Sequential make_model(const ModelConfig& config, std::int64_t inputs, std::int64_t outputs,
                                 torch::Generator& gen);

// sgd (momentum, nesterov, weight decay), adam, adamw: PyTorch's own implementations.
std::unique_ptr<torch::optim::Optimizer> make_optimizer(const OptimizerConfig& config,
                                                        const std::vector<torch::Tensor>& parameters);

void set_learning_rate(torch::optim::Optimizer& optimizer, double lr);

}  // namespace sweeplab
