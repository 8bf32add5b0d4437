#pragma once
// From a trial's config and its task to what a GroupMath backend takes (no LibTorch).
#include <cstdint>
#include <vector>

#include "dataset.hpp"
#include "group_math.hpp"
#include "sweeplab/config/config.hpp"

namespace sweeplab {

// Also fills the parameterization (scales, bias; see layer_scales), the centred output and, when
// data.vocabulary > 0, token inputs (widths[0] = vocabulary, tokens = data.inputs).
MlpShape shape_of(const Config& config, const TaskData& data);

// What layer l's product h W_l is multiplied by (MlpShape::scales): empty for standard; sp, mup: 1/sqrt(fan_in)
// for every layer but the last, which is multiplied by 1/(gamma sqrt(N)) (sp) or 1/(gamma N) (mup), N its fan_in
// (the last hidden width). Each computed in double, then rounded to float.
std::vector<float> layer_scales(const ModelConfig& config, const std::vector<std::int64_t>& widths);

TrialHyper hyper_of(const Config& config);

// How many trials of this shape the batched backend can hold in `bytes` of device memory (at least 1; no
// limit when bytes <= 0, i.e. unknown). Counts each trial's parameters, optimizer state, gradient and the
// update's temporaries, and the activations of one step at `batch_size` rows (evaluation runs in chunks of
// bounded size, whatever the group).
std::int64_t trials_that_fit(const MlpShape& shape, std::int64_t batch_size, std::int64_t bytes);

// The initial parameters of a trial in the engine's layout, the numbers of make_model (model.hpp) with an
// at::CPUGeneratorImpl seeded with `seed` (training.seed), each weight stored transposed. standard: PyTorch's
// nn.Linear initialisation (uniform weights and biases), drawn without LibTorch (initial.hpp, the same bytes).
// sp, mup: per layer in order, normal_(0, init_std) into the nn.Linear weight [fan_out, fan_in] (then transposed
// into the layout), biases 0, by LibTorch (the plugin, torch_plugin.hpp). Deterministic per seed.
std::vector<float> initial_parameters(const ModelConfig& model, const MlpShape& shape, std::int64_t seed);

}  // namespace sweeplab
