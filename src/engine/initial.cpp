// Initial parameters without LibTorch (initial.hpp).
#include "initial.hpp"

#include <cmath>

#include "sweeplab/tasks/pytorch_random.hpp"

namespace sweeplab {

std::vector<float> standard_initial_parameters(const MlpShape& shape, std::int64_t seed) {
  tasks::PytorchGenerator gen(static_cast<std::uint64_t>(seed));
  std::vector<float> flat;
  flat.reserve(std::size_t(shape.parameter_count()));
  for (std::int64_t l = 0; l < shape.layers(); ++l) {
    const std::int64_t in = shape.widths[std::size_t(l)], out = shape.widths[std::size_t(l + 1)];
    const double fan_in = double(in);
    const double gain = std::sqrt(2.0 / (1.0 + 5.000000000000001));  // a**2 with a = math.sqrt(5)
    const double weight_bound = std::sqrt(3.0) * (gain / std::sqrt(fan_in));
    std::vector<float> weight(std::size_t(in * out));  // [out][in], as drawn
    for (auto& w : weight) w = gen.uniform_float(-weight_bound, weight_bound);
    for (std::int64_t i = 0; i < in; ++i) {
      for (std::int64_t o = 0; o < out; ++o) flat.push_back(weight[std::size_t(o * in + i)]);
    }
    const double bias_bound = 1.0 / std::sqrt(fan_in);
    for (std::int64_t o = 0; o < out; ++o) flat.push_back(gen.uniform_float(-bias_bound, bias_bound));
  }
  return flat;
}

}  // namespace sweeplab
