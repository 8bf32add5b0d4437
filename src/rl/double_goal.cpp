#include "sweeplab/rl/double_goal.hpp"

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

EpisodeResult run_episode(const std::function<int(float)>& policy) {
  DoubleGoalEnv env;
  float observation = env.reset();
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

}  // namespace sweeplab::rl
