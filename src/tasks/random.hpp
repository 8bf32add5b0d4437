#pragma once
// Platform-independent random numbers for the tasks (no std:: distributions: their output is implementation
// defined). Shuffles: std::mt19937_64 (its output is fixed by the standard) and our own Fisher-Yates.
// Streams: a counter-based generator, so sample i is a pure function of (seed, stream, i).
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

namespace sweeplab::tasks {

// splitmix64's output function (Steele, Lea, Flood 2014): a bijective 64-bit mixer.
inline std::uint64_t mix64(std::uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

constexpr std::uint64_t kGolden = 0x9E3779B97F4A7C15ull;

// The key of sample `index` of stream `stream` under `seed`: every (seed, stream, index) its own generator.
inline std::uint64_t sample_key(std::uint64_t seed, std::uint64_t stream, std::uint64_t index) {
  const std::uint64_t base = mix64(mix64(seed + kGolden) ^ (stream * 0xD1B54A32D192ED03ull + 1));
  return mix64(base + index * kGolden);
}

// Doornik's ziggurat tables (128 layers; "An improved ziggurat method to generate normal random samples", 2005).
struct Ziggurat {
  static constexpr double kR = 3.442619855899, kV = 9.91256303526217e-3;
  double x[129], ratio[128];
  Ziggurat() {
    double f = std::exp(-0.5 * kR * kR);
    x[0] = kV / f;  // the bottom layer: the box below R and the tail
    x[1] = kR;
    x[128] = 0.0;
    for (int i = 2; i < 128; ++i) {
      x[i] = std::sqrt(-2.0 * std::log(kV / x[i - 1] + f));
      f = std::exp(-0.5 * x[i] * x[i]);
    }
    for (int i = 0; i < 128; ++i) ratio[i] = x[i + 1] / x[i];
  }
  static const Ziggurat& get() {
    static const Ziggurat tables;
    return tables;
  }
};

// Standard normals from a splitmix64 sequence started at `key`, by the ziggurat (one 64-bit draw per value
// 98.8% of the time: 53 bits for the uniform, the low 7 for the layer).
class Normals {
 public:
  explicit Normals(std::uint64_t key) : state_(key), zig_(Ziggurat::get()) {}
  double next() {
    for (;;) {
      const std::uint64_t b = bits();
      const double u = 2.0 * unit(b) - 1.0;
      const unsigned i = unsigned(b & 0x7F);
      if (std::fabs(u) < zig_.ratio[i]) return u * zig_.x[i];
      if (i == 0) return tail(u < 0);
      const double x = u * zig_.x[i];
      const double f0 = std::exp(-0.5 * (zig_.x[i] * zig_.x[i] - x * x));
      const double f1 = std::exp(-0.5 * (zig_.x[i + 1] * zig_.x[i + 1] - x * x));
      if (f1 + unit(bits()) * (f0 - f1) < 1.0) return x;
    }
  }

 private:
  std::uint64_t bits() { return mix64(state_ += kGolden); }
  static double unit(std::uint64_t b) { return (double(b >> 11) + 0.5) * 0x1.0p-53; }  // (0, 1)
  double tail(bool negative) {
    double x, y;
    do {
      x = std::log(unit(bits())) / Ziggurat::kR;
      y = std::log(unit(bits()));
    } while (-2.0 * y < x * x);
    return negative ? x - Ziggurat::kR : Ziggurat::kR - x;
  }
  std::uint64_t state_;
  const Ziggurat& zig_;
};

// A uniform integer in [0, bound) from mt19937_64 without modulo bias (rejection sampling).
inline std::uint64_t uniform_below(std::mt19937_64& gen, std::uint64_t bound) {
  const std::uint64_t limit = std::uint64_t(-1) - std::uint64_t(-1) % bound;  // a multiple of bound
  for (;;) {
    const std::uint64_t value = gen();
    if (value < limit) return value % bound;
  }
}

// 0 .. n-1 shuffled by Fisher-Yates with mt19937_64(seed): the same order on every platform.
inline std::vector<std::int64_t> shuffled_indices(std::int64_t n, std::uint64_t seed) {
  std::vector<std::int64_t> order(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) order[std::size_t(i)] = i;
  std::mt19937_64 gen(seed);
  for (std::int64_t i = n - 1; i > 0; --i) {
    const auto j = std::int64_t(uniform_below(gen, std::uint64_t(i) + 1));
    std::swap(order[std::size_t(i)], order[std::size_t(j)]);
  }
  return order;
}

}  // namespace sweeplab::tasks
