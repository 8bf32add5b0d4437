#pragma once
// The random numbers of LibTorch's CPU generator (at::CPUGeneratorImpl, as in LibTorch 1.13) without LibTorch, for
// the tasks whose data has always come from it (doughnuts, sine2, csv's split): the same seed gives the same
// numbers, bit for bit, as torch::rand, torch::randn (float64) and torch::randperm with that generator. The tests
// hold every function here to LibTorch's own output.
//
// What LibTorch does, and this copies:
// - the engine is the 32-bit Mersenne Twister seeded with the seed's low 32 bits (std::mt19937 is the same);
//   random() is one output, random64() two, the first in the high half;
// - a float64 uniform on [from, to) is (random64() & (2^53 - 1)) / 2^53 * (to - from) + from; a float32 one is
//   (random() & (2^24 - 1)) / 2^24 in float64, times (to - from) in float32, plus from, rounded to float32;
// - float64 normals: a tensor of 16 or more values is filled with uniforms first, then transformed 16 at a time by
//   Box-Muller (values j and j + 8 of each block from the pair u1 = 1 - data[j], u2 = data[j + 8]); when the
//   count is not a multiple of 16, the last 16 values are drawn again and transformed again. Fewer than 16 values
//   come one by one from Box-Muller pairs whose second value is kept for the next normal drawn one by one;
// - randperm(n) swaps position i with i + random() % (n - i), for i = 0 .. n - 2.
#include <cmath>
#include <cstdint>
#include <optional>
#include <random>
#include <vector>

namespace sweeplab::tasks {

class PytorchGenerator {
 public:
  explicit PytorchGenerator(std::uint64_t seed) : engine_(static_cast<std::uint32_t>(seed)) {}

  std::uint32_t random() { return static_cast<std::uint32_t>(engine_()); }
  std::uint64_t random64() {
    const std::uint64_t high = random();
    return (high << 32) | random();
  }

  // torch::rand({n}, generator, torch::kFloat64) * (to - from) + from, as one draw: uniform on [from, to).
  double uniform(double from = 0.0, double to = 1.0) {
    const double x = double(random64() & ((std::uint64_t(1) << 53) - 1)) * (1.0 / double(std::uint64_t(1) << 53));
    return x * (to - from) + from;
  }

  // tensor.uniform_(from, to, generator) of a float32 tensor, one value (from and to are rounded to float first).
  float uniform_float(double from, double to) {
    const float low = float(from), high = float(to);
    const double x = double(random() & ((std::uint32_t(1) << 24) - 1)) * (1.0 / double(std::uint32_t(1) << 24));
    return float(x * double(high - low) + double(low));
  }

  // torch::rand({n}, generator, torch::kFloat64).
  std::vector<double> rand(std::int64_t n) {
    std::vector<double> out(std::size_t(n > 0 ? n : 0));
    for (auto& v : out) v = uniform();
    return out;
  }

  // torch::randn({n}, generator, torch::kFloat64).
  std::vector<double> randn(std::int64_t n) {
    std::vector<double> out(std::size_t(n > 0 ? n : 0));
    if (n >= 16) {
      for (auto& v : out) v = uniform();
      for (std::int64_t i = 0; i + 16 <= n; i += 16) box_muller_16(out.data() + i);
      if (n % 16 != 0) {
        double* last = out.data() + n - 16;
        for (int i = 0; i < 16; ++i) last[i] = uniform();
        box_muller_16(last);
      }
      return out;
    }
    for (auto& v : out) v = normal();
    return out;
  }

  // torch::randperm(n, generator).
  std::vector<std::int64_t> randperm(std::int64_t n) {
    std::vector<std::int64_t> order(std::size_t(n > 0 ? n : 0));
    for (std::int64_t i = 0; i < n; ++i) order[std::size_t(i)] = i;
    for (std::int64_t i = 0; i + 1 < n; ++i) {
      const std::int64_t z = std::int64_t(random() % std::uint32_t(n - i));
      std::swap(order[std::size_t(i)], order[std::size_t(z + i)]);
    }
    return order;
  }

 private:
  static constexpr double kPi = 3.14159265358979323846;

  static void box_muller_16(double* data) {
    for (int j = 0; j < 8; ++j) {
      const double u1 = 1 - data[j];
      const double u2 = data[j + 8];
      const double radius = std::sqrt(-2 * std::log(u1));
      const double theta = 2.0 * kPi * u2;
      data[j] = radius * std::cos(theta) * 1.0 + 0.0;
      data[j + 8] = radius * std::sin(theta) * 1.0 + 0.0;
    }
  }

  // One standard normal drawn alone (a tensor of fewer than 16), with the pair's second value kept for the next.
  double normal() {
    if (next_normal_) {
      const double value = *next_normal_;
      next_normal_.reset();
      return value * 1.0 + 0.0;
    }
    const double u1 = uniform(), u2 = uniform();
    const double r = std::sqrt(-2.0 * std::log(1.0 - u2));
    const double theta = 2.0 * kPi * u1;
    next_normal_ = r * std::sin(theta);
    return r * std::cos(theta) * 1.0 + 0.0;
  }

  std::mt19937 engine_;
  std::optional<double> next_normal_;
};

}  // namespace sweeplab::tasks
