// standard_initial_parameters (src/engine/initial.hpp) against make_model's nn.Linear layers drawn by LibTorch
// itself from a generator with the same seed: the same bytes, for several shapes and seeds.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <ATen/CPUGeneratorImpl.h>

#include <cstring>

#include "engine/initial.hpp"
#include "engine/model.hpp"
#include "engine/setup.hpp"

namespace sweeplab {
namespace {

TEST(Initial, StandardParametersAreLibTorchsNnLinearBitForBit) {
  const std::vector<std::vector<std::int64_t>> shapes = {{2, 64, 64, 1}, {784, 128, 128, 10}, {3, 17, 9, 4}, {5, 1}};
  for (const auto& widths : shapes) {
    for (const std::int64_t seed : {0, 1, 12345}) {
      ModelConfig model;
      model.hidden.assign(widths.begin() + 1, widths.end() - 1);
      MlpShape shape;
      shape.widths = widths;
      auto gen = at::make_generator<at::CPUGeneratorImpl>(static_cast<std::uint64_t>(seed));
      auto reference = make_model(model, widths.front(), widths.back(), gen);
      const auto want = flatten_parameters(reference);
      const auto got = standard_initial_parameters(shape, seed);
      ASSERT_EQ(got.size(), want.size());
      EXPECT_EQ(std::memcmp(got.data(), want.data(), sizeof(float) * got.size()), 0)
          << "widths " << widths.front() << ".." << widths.back() << ", seed " << seed;
    }
  }
  // Seeds matter: the test compares numbers that differ from seed to seed.
  MlpShape shape;
  shape.widths = {2, 8, 1};
  EXPECT_NE(standard_initial_parameters(shape, 0), standard_initial_parameters(shape, 1));
}

}  // namespace
}  // namespace sweeplab
