#pragma once
// A trial's initial parameters without LibTorch (see setup.hpp's initial_parameters, which uses this for the
// standard parameterization).
#include <cstdint>
#include <vector>

#include "group_math.hpp"

namespace sweeplab {

// PyTorch's nn.Linear initialisation, as make_model draws it from LibTorch's CPU generator seeded with `seed`:
// layer by layer, the weights uniform in +-sqrt(3) gain / sqrt(fan_in) (kaiming_uniform_ with a = sqrt(5)) in
// PyTorch's [fan_out][fan_in] order, then the biases uniform in +-1 / sqrt(fan_in); the same bytes, stored in the
// engine's layout (group_math.hpp).
std::vector<float> standard_initial_parameters(const MlpShape& shape, std::int64_t seed);

}  // namespace sweeplab
