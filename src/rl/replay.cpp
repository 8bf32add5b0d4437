#include "sweeplab/rl/replay.hpp"

#include <limits>
#include <sstream>
#include <stdexcept>

namespace sweeplab::rl {

double Generator::uniform() { return double(engine_() >> 11) * 0x1.0p-53; }

std::uint64_t Generator::below(std::uint64_t n) {
  if (n == 0) throw std::invalid_argument("Generator::below(0)");
  const std::uint64_t max = std::numeric_limits<std::uint64_t>::max();
  const std::uint64_t limit = max - (max % n + 1) % n;  // draws above it would favour the low values
  for (;;) {
    const std::uint64_t x = engine_();
    if (x <= limit) return x % n;
  }
}

std::string Generator::state() const {
  std::ostringstream out;
  out << engine_;
  return out.str();
}

void Generator::set_state(const std::string& text) {
  std::istringstream in(text);
  in >> engine_;
  if (in.fail()) throw std::runtime_error("unreadable generator state");
}

ReplayBuffer::ReplayBuffer(std::int64_t capacity, std::uint64_t seed) : capacity_(capacity), generator_(seed) {
  if (capacity < 1) throw std::invalid_argument("ReplayBuffer: capacity must be >= 1");
}

void ReplayBuffer::push(const Transition& transition) {
  if (size() < capacity_) {
    items_.push_back(transition);
    return;
  }
  items_[next_] = transition;  // over the oldest
  next_ = (next_ + 1) % items_.size();
}

const Transition& ReplayBuffer::at(std::int64_t index) const {
  if (index < 0 || index >= size()) throw std::out_of_range("ReplayBuffer::at");
  return items_[(next_ + std::size_t(index)) % items_.size()];
}

std::vector<Transition> ReplayBuffer::sample(std::int64_t count) {
  const std::int64_t n = size();
  if (count < 0 || count > n) throw std::invalid_argument("ReplayBuffer: cannot sample more transitions than it holds");
  // Floyd: for j = n - count .. n - 1 pick t in [0, j]; t if not picked yet, else j. Every subset equally likely.
  picked_.assign(std::size_t(n), 0);
  std::vector<Transition> batch;
  batch.reserve(std::size_t(count));
  for (std::int64_t j = n - count; j < n; ++j) {
    auto t = std::int64_t(generator_.below(std::uint64_t(j + 1)));
    if (picked_[std::size_t(t)]) t = j;
    picked_[std::size_t(t)] = 1;
    batch.push_back(at(t));
  }
  return batch;
}

std::vector<float> ReplayBuffer::contents() const {
  std::vector<float> out;
  out.reserve(items_.size() * 5);
  for (std::int64_t i = 0; i < size(); ++i) {
    const Transition& t = at(i);
    out.insert(out.end(), {t.state, float(t.action), t.reward, t.next_state, t.done ? 1.0f : 0.0f});
  }
  return out;
}

void ReplayBuffer::restore(const std::vector<float>& contents, const std::string& generator_state) {
  if (contents.size() % 5 != 0 || std::int64_t(contents.size() / 5) > capacity_) {
    throw std::runtime_error("replay buffer: " + std::to_string(contents.size()) + " values do not fit its capacity");
  }
  items_.clear();
  next_ = 0;
  for (std::size_t i = 0; i < contents.size(); i += 5) {
    items_.push_back({contents[i], int(contents[i + 1]), contents[i + 2], contents[i + 3], contents[i + 4] != 0.0f});
  }
  generator_.set_state(generator_state);
}

}  // namespace sweeplab::rl
