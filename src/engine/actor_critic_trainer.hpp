#pragma once
// The Intro-to-RL notebook's one-step (TD(0)) actor-critic on DoubleGoalEnv (task doublegoal, rl.algorithm
// actor_critic).
#include "sweeplab/engine/trainer.hpp"

namespace sweeplab {

// One trial, with DQN's contract (rl_trial.hpp): checkpoints hold both networks, both optimizers' states, the
// environment mid-episode, the episode log and the policy's generator, so a resumed trial ends bit for bit like
// an uninterrupted one; a non-finite loss (or a critic loss above stop.divergence_loss) ends it as diverged.
TrialOutcome train_actor_critic_trial(const GroupMember& member);

}  // namespace sweeplab
