#include "sweeplab/rl/exploration.hpp"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <stdexcept>

namespace sweeplab::rl {

double epsilon_at(const RlConfig& rl, std::int64_t step) {
  return rl.epsilon_end + (rl.epsilon_start - rl.epsilon_end) * std::exp(-double(step) / rl.epsilon_decay);
}

void EpisodeLog::end_episode() {
  recent_.push_back(current_return_);
  while (std::int64_t(recent_.size()) > window_) recent_.pop_front();
  ++episodes_;
  current_return_ = 0.0;
  current_length_ = 0;
}

std::optional<double> EpisodeLog::mean_return() const {
  if (recent_.empty()) return std::nullopt;
  double sum = 0.0;
  for (double r : recent_) sum += r;
  return sum / double(recent_.size());
}

namespace {
std::string hex(double value) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%a", value);
  return buffer;
}
}  // namespace

std::string EpisodeLog::save() const {
  std::string out = std::to_string(episodes_) + " " + std::to_string(current_length_) + " " + hex(current_return_) +
                    " " + std::to_string(recent_.size());
  for (double r : recent_) out += " " + hex(r);
  return out;
}

void EpisodeLog::restore(const std::string& text) {
  std::istringstream in(text);
  std::string value;
  std::size_t count = 0;
  in >> episodes_ >> current_length_ >> value >> count;
  if (in.fail()) throw std::runtime_error("episode log: unreadable '" + text.substr(0, 40) + "'");
  current_return_ = std::strtod(value.c_str(), nullptr);
  recent_.clear();
  for (std::size_t i = 0; i < count; ++i) {
    if (!(in >> value)) throw std::runtime_error("episode log: too few returns");
    recent_.push_back(std::strtod(value.c_str(), nullptr));
  }
  while (std::int64_t(recent_.size()) > window_) recent_.pop_front();
}

}  // namespace sweeplab::rl
