#pragma once
// The MLP and its optimizer (LibTorch: include only from src/engine and its tests).
#include <torch/torch.h>

#include <memory>

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

// What layer l's product h W_l is multiplied by (MlpShape::scales): empty for standard; sp, mup: 1/sqrt(fan_in)
// for every layer but the last, which is multiplied by 1/(gamma sqrt(N)) (sp) or 1/(gamma N) (mup), N its fan_in
// (the last hidden width). Each computed in double, then rounded to float.
std::vector<float> layer_scales(const ModelConfig& config, const std::vector<std::int64_t>& widths);

// sgd (momentum, nesterov, weight decay), adam, adamw: PyTorch's own implementations.
std::unique_ptr<torch::optim::Optimizer> make_optimizer(const OptimizerConfig& config,
                                                        const std::vector<torch::Tensor>& parameters);

void set_learning_rate(torch::optim::Optimizer& optimizer, double lr);

}  // namespace sweeplab
