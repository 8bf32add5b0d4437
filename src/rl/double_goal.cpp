#include "sweeplab/rl/double_goal.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace sweeplab::rl {

double round5(double x) { return std::nearbyint(x * 1e5) / 1e5; }

float DoubleGoalEnv::reset() {
  position_ = 0.0;
  steps_ = 0;
  return observation();
}

StepResult DoubleGoalEnv::step(int action) {
  if (action != 0 && action != 1) throw std::invalid_argument("DoubleGoalEnv: action must be 0 or 1");
  const double moved = round5(action == 1 ? position_ + kStepSize : position_ - kStepSize);
  ++steps_;
  StepResult result;
  if (moved >= kMaxPosition) {
    position_ = kMaxPosition;
    result.reward = 1.0;
    result.done = true;
  } else if (moved <= kMinPosition) {
    position_ = kMinPosition;
    result.reward = 1.0;
    result.done = true;
  } else {
    position_ = moved;
  }
  if (steps_ >= kMaxSteps && !result.done) result.done = true;  // the limit: no goal, reward 0
  result.observation = observation();
  return result;
}

EpisodeResult run_episode(const std::function<int(float)>& policy, double start) {
  DoubleGoalEnv env;
  env.reset();
  env.restore(start, 0);
  float observation = env.observation();
  EpisodeResult episode;
  for (bool done = false; !done;) {
    const StepResult step = env.step(policy(observation));
    episode.total_return += step.reward;
    ++episode.length;
    observation = step.observation;
    done = step.done;
  }
  return episode;
}

std::vector<double> interior_positions() {
  std::vector<double> positions;
  for (int k = -9; k <= 9; ++k) positions.push_back(round5(double(k) / 10.0));
  return positions;
}

std::int64_t optimal_length(double start) {
  const auto tenths = std::llround(start * 10.0);
  return std::min(10 - tenths, 10 + tenths);
}

double optimal_start_fraction(const std::function<int(float)>& policy) {
  const std::vector<double> starts = interior_positions();
  int optimal = 0;
  for (const double start : starts) {
    const EpisodeResult episode = run_episode(policy, start);
    optimal += episode.total_return == 1.0 && episode.length == optimal_length(start);
  }
  return double(optimal) / double(starts.size());
}

}  // namespace sweeplab::rl
