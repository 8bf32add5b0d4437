#pragma once
// Epsilon-greedy exploration's schedule and the bookkeeping of finished episodes (plain C++: no LibTorch).
#include <cstdint>
#include <deque>
#include <optional>
#include <string>

#include "sweeplab/config/config.hpp"

namespace sweeplab::rl {

// The notebook's schedule: epsilon at environment step t (0-based) = end + (start - end) exp(-t / decay), in double
// (the notebook took the exponential in float32).
double epsilon_at(const RlConfig& rl, std::int64_t step);

// The return and length of the episode under way and the returns of the last `window` finished ones.
class EpisodeLog {
 public:
  explicit EpisodeLog(std::int64_t window) : window_(window) {}
  void add_step(double reward) {
    current_return_ += reward;
    ++current_length_;
  }
  void end_episode();
  std::int64_t episodes() const { return episodes_; }  // finished
  double current_return() const { return current_return_; }
  std::int64_t current_length() const { return current_length_; }
  std::optional<double> mean_return() const;  // over the last `window` finished episodes; none before the first

  std::string save() const;  // exact text (hex floats)
  void restore(const std::string& text);  // throws std::runtime_error for a text save() did not write

 private:
  std::int64_t window_;
  std::int64_t episodes_ = 0, current_length_ = 0;
  double current_return_ = 0.0;
  std::deque<double> recent_;
};

}  // namespace sweeplab::rl
