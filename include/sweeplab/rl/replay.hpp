#pragma once
// The replay buffer and the random numbers of a DQN trial (plain C++: no LibTorch). Each generator is a
// std::mt19937_64 (its output is fixed by the standard) with our own uniform draws (std:: distributions are
// implementation defined), and its state is text a checkpoint keeps.
#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace sweeplab::rl {

class Generator {
 public:
  explicit Generator(std::uint64_t seed) : engine_(seed) {}
  double uniform();                         // in [0, 1), 53 random bits
  std::uint64_t below(std::uint64_t n);     // uniform in [0, n), by rejection (unbiased); n >= 1
  std::string state() const;
  void set_state(const std::string& text);  // throws std::runtime_error for an unreadable state

 private:
  std::mt19937_64 engine_;
};

struct Transition {
  float state = 0.0f;
  int action = 0;
  float reward = 0.0f;
  float next_state = 0.0f;
  bool done = false;
};

// At most `capacity` transitions, the oldest dropped first (the notebook's deque(maxlen=capacity)); sample() draws
// distinct transitions uniformly (random.sample) with the buffer's own generator.
class ReplayBuffer {
 public:
  ReplayBuffer(std::int64_t capacity, std::uint64_t seed);
  void push(const Transition& transition);
  std::int64_t size() const { return std::int64_t(items_.size()); }
  std::int64_t capacity() const { return capacity_; }
  const Transition& at(std::int64_t index) const;  // 0: the oldest
  // `count` distinct transitions (Floyd's algorithm over the indexes, oldest = 0); throws std::invalid_argument
  // when the buffer holds fewer.
  std::vector<Transition> sample(std::int64_t count);

  // For checkpoints: the transitions oldest first, 5 floats each (state, action, reward, next_state, done), and
  // the generator. restore() takes them back; the buffer then samples as the saved one would have.
  std::vector<float> contents() const;
  std::string generator_state() const { return generator_.state(); }
  void restore(const std::vector<float>& contents, const std::string& generator_state);

 private:
  std::int64_t capacity_;
  std::vector<Transition> items_;  // a ring once full: the oldest at next_
  std::size_t next_ = 0;
  Generator generator_;
  std::vector<char> picked_;       // scratch for sample()
};

}  // namespace sweeplab::rl
