#pragma once
// Deterministic numbers for the engine tests' data and weights, the same on every platform (a 64-bit linear
// congruential generator, the top 53 bits as a double).
#include <algorithm>
#include <cstdint>

namespace sweeplab::testing {

class Lcg {
 public:
  explicit Lcg(std::uint64_t seed) : state_(seed * 6364136223846793005ULL + 1442695040888963407ULL) {}
  double uniform() {  // [0, 1)
    state_ = state_ * 6364136223846793005ULL + 1442695040888963407ULL;
    return double(state_ >> 11) / double(1ULL << 53);
  }
  float symmetric(double scale) { return float((2.0 * uniform() - 1.0) * scale); }
  std::int64_t below(std::int64_t n) { return std::min<std::int64_t>(n - 1, std::int64_t(uniform() * double(n))); }

 private:
  std::uint64_t state_;
};

}  // namespace sweeplab::testing
