#pragma once
// DQN on the Intro-to-RL notebook's DoubleGoalEnv (task doublegoal, rl.algorithm dqn).
#include "sweeplab/engine/trainer.hpp"

namespace sweeplab {

// One trial (RL trials are never fused: fusion_key gives each its own group), with the product's contract:
// checkpoints hold the Q-network, the target network, the optimizer state, the replay buffer, the environment
// mid-episode, the episode log and both generators, so a resumed trial ends bit for bit like an uninterrupted one;
// divergence of the TD loss ends it as diverged.
TrialOutcome train_dqn_trial(const GroupMember& member);

}  // namespace sweeplab
