#pragma once
// The Intro-to-RL notebook's DoubleGoalEnv, exactly as the notebook has it: a 1-D track from -1.0 to +1.0, the agent starts at
// 0.0, action 0 moves left and 1 right by 0.1 (the position rounded to 5 decimals as np.round does), reaching
// either end gives reward 1 and ends the episode, and 50 steps without a goal end it with reward 0. The state is
// the position (one float). Plain C++: no LibTorch.
#include <cstdint>
#include <functional>
#include <vector>

namespace sweeplab::rl {

// np.round(x, 5): x scaled by 10^5, rounded to the nearest integer (ties to even, as rint), scaled back.
double round5(double x);

struct StepResult {
  float observation = 0.0f;  // the position after the step (the end reached, for a goal)
  double reward = 0.0;
  bool done = false;         // a goal, or the step limit
};

class DoubleGoalEnv {
 public:
  static constexpr double kMinPosition = -1.0;
  static constexpr double kMaxPosition = 1.0;
  static constexpr double kStepSize = 0.1;
  static constexpr std::int64_t kMaxSteps = 50;
  static constexpr int kActions = 2;

  float reset();                 // back to 0.0; returns the observation
  StepResult step(int action);   // 0: left, 1: right; anything else throws std::invalid_argument
  float observation() const { return float(position_); }
  double position() const { return position_; }
  std::int64_t steps() const { return steps_; }  // taken in this episode
  void restore(double position, std::int64_t steps) {
    position_ = position;
    steps_ = steps;
  }

 private:
  double position_ = 0.0;
  std::int64_t steps_ = 0;
};

struct EpisodeResult {
  double total_return = 0.0;
  std::int64_t length = 0;  // steps until done (at most kMaxSteps)
};

// One episode with the actions `policy` picks for each observation, from 0.0 (the environment's start) or from
// `start`, a position on the track's grid.
EpisodeResult run_episode(const std::function<int(float)>& policy, double start = 0.0);

// The positions an episode can pass through before a goal: -0.9, -0.8, ..., 0.9 (19, rounded as the environment
// rounds them).
std::vector<double> interior_positions();

// The fewest steps from `start` to a goal: to the nearer end (10 from 0.0).
std::int64_t optimal_length(double start);

// The share of interior_positions() from which `policy` walks to a goal in optimal_length steps: 1 when it heads
// for the nearer end from everywhere. (From 0.0 alone "always right" is optimal, which an untrained network often
// does already.)
double optimal_start_fraction(const std::function<int(float)>& policy);

}  // namespace sweeplab::rl
