#pragma once
// Which trials can train together as one fused group: those whose configs share the shape of their computation.
#include <string>

#include "sweeplab/config/compact_config.hpp"
#include "sweeplab/config/config.hpp"

namespace sweeplab {

// Trials with equal keys share the shape of their computation: the task and its data, the model, the
// batch size and its schedule (batch_schedule.*), the optimizer kind, the device. They may differ in learning
// rate, momentum, weight decay, Adam's betas and eps, seed, lr schedule, budget, evaluation and checkpoint
// intervals, targets. Reinforcement-learning trials (task doublegoal) never fuse: their key holds every key.
std::string fusion_key(const CompactConfig& config);
std::string fusion_key(const Config& config);

}  // namespace sweeplab
