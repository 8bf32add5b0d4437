// PytorchGenerator (src/tasks/pytorch_random.hpp) against LibTorch's CPU generator itself: the same seed gives the
// same bytes for rand, randn (both of LibTorch's paths: 16 values or more, and fewer, with the second value of a
// pair kept for the next call) and randperm, called in any mix.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <ATen/CPUGeneratorImpl.h>

#include <cstring>

#include "sweeplab/tasks/pytorch_random.hpp"

namespace sweeplab {
namespace {

::testing::AssertionResult same_bytes(const torch::Tensor& want, const void* got, std::size_t bytes) {
  if (std::memcmp(want.data_ptr(), got, bytes) == 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "differs from LibTorch's";
}

TEST(PytorchRandom, RandRandnAndRandpermAreLibTorchsBitForBit) {
  for (const std::uint64_t seed : {0ull, 1ull, 7ull, 123456789ull, 0x1234567890ull}) {
    for (const std::int64_t n : {1, 3, 5, 15, 16, 17, 31, 32, 1000, 1001}) {
      auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
      tasks::PytorchGenerator ours(seed);
      for (int round = 0; round < 2; ++round) {  // the second round starts with a kept normal when n is odd
        const auto rand = torch::rand({n}, gen, torch::kFloat64);
        EXPECT_TRUE(same_bytes(rand, ours.rand(n).data(), sizeof(double) * std::size_t(n))) << "rand, seed " << seed << ", n " << n;
        const auto randn = torch::randn({n}, gen, torch::kFloat64);
        EXPECT_TRUE(same_bytes(randn, ours.randn(n).data(), sizeof(double) * std::size_t(n))) << "randn, seed " << seed << ", n " << n;
      }
      const auto perm = torch::randperm(n, gen, torch::kLong);
      EXPECT_TRUE(same_bytes(perm, ours.randperm(n).data(), sizeof(std::int64_t) * std::size_t(n))) << "randperm, n " << n;
      EXPECT_EQ(gen.get<at::CPUGeneratorImpl>()->random(), ours.random()) << "the streams have drifted apart";
    }
  }
}

TEST(PytorchRandom, SeedsAreTheLow32BitsAndDifferentSeedsDiffer) {
  tasks::PytorchGenerator a(5), b(5 + (1ull << 32)), c(6);
  const auto first = a.rand(4);
  EXPECT_EQ(first, b.rand(4));
  EXPECT_NE(first, c.rand(4));
}

}  // namespace
}  // namespace sweeplab
