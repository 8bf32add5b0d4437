#pragma once
// From a trial's config and its dataset to what a GroupMath backend takes (LibTorch: src/engine only).
#include <cstdint>
#include <vector>

#include "dataset.hpp"
#include "group_math.hpp"
#include "sweeplab/config/config.hpp"

namespace sweeplab {

// Also fills the parameterization (scales, bias; see layer_scales in model.hpp), the centred output and,
// when data.vocabulary > 0, token inputs (widths[0] = vocabulary, tokens = data.inputs).
MlpShape shape_of(const Config& config, const Dataset& data);
GroupData group_data(const Dataset& data);
TrialHyper hyper_of(const Config& config);

// How many trials of this shape the batched backend can hold in `bytes` of device memory (at least 1; no
// limit when bytes <= 0, i.e. unknown). Counts each trial's parameters, optimizer state, gradient and the
// update's temporaries, and the activations of one step at `batch_size` rows (evaluation runs in chunks of
// bounded size, whatever the group).
std::int64_t trials_that_fit(const MlpShape& shape, std::int64_t batch_size, std::int64_t bytes);

// The initial parameters of a trial in the engine's layout, from make_model with an at::CPUGeneratorImpl seeded
// with `seed` (training.seed), each weight stored transposed (standard: drawn without LibTorch, initial.hpp, the
// same bytes). standard: PyTorch's nn.Linear initialisation
// (uniform weights and biases). sp, mup: per layer in order, normal_(0, init_std) into the nn.Linear weight
// [fan_out, fan_in] (then transposed into the layout); biases 0. Deterministic per seed.
std::vector<float> initial_parameters(const ModelConfig& model, const MlpShape& shape, std::int64_t seed);

// Between the engine's flat layout and an nn.Sequential of Linear layers (the autograd reference).
std::vector<float> flatten_parameters(torch::nn::Sequential& model);
void unflatten_parameters(const std::vector<float>& flat, torch::nn::Sequential& model);

}  // namespace sweeplab
