#pragma once
#include <cstdint>

#include "sweeplab/config/config.hpp"

namespace sweeplab {

// The learning rate for optimizer step `step` (0-based) of `total_steps`: linear warmup over
// lr_schedule.warmup_steps, then constant, cosine (to lr x final_lr_factor at total_steps) or step decay.
double learning_rate(const OptimizerConfig& optimizer, const ScheduleConfig& schedule, std::int64_t step,
                     std::int64_t total_steps);

}  // namespace sweeplab
