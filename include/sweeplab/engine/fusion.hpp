#pragma once
// Which trials can train together as one fused group (no LibTorch: the scheduler forms the groups).
#include <cstddef>
#include <string>
#include <vector>

#include "sweeplab/config/config.hpp"

namespace sweeplab {

// Trials with equal keys share the shape of their computation: the task and its data, the model, the
// batch size and its schedule (batch_schedule.*), the optimizer kind, the device. They may differ in learning
// rate, momentum, weight decay, Adam's betas and eps, seed, lr schedule, budget, evaluation and checkpoint
// intervals, targets. Reinforcement-learning trials (task doublegoal) never fuse: their key holds every key.
std::string fusion_key(const Config& config);

// The trials (indexes into `configs`) cut into groups: equal fusion keys, at most `largest` trials a
// group, and at least `workers` groups where there are that many trials, so every worker has work.
// Groups keep the order of `order`, which lists the indexes to group.
std::vector<std::vector<std::size_t>> form_groups(const std::vector<const Config*>& configs,
                                                  const std::vector<std::size_t>& order, std::size_t largest,
                                                  std::size_t workers);

}  // namespace sweeplab
