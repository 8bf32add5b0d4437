#include "sweeplab/train/schedule.hpp"

#include <algorithm>
#include <cmath>

namespace sweeplab {

double learning_rate(const OptimizerConfig& optimizer, const ScheduleConfig& schedule, std::int64_t step,
                     std::int64_t total_steps) {
  const double peak = optimizer.lr;
  if (step < schedule.warmup_steps) return peak * double(step + 1) / double(schedule.warmup_steps);
  const std::int64_t after_warmup = step - schedule.warmup_steps;
  if (schedule.name == "step") return peak * std::pow(schedule.gamma, double(after_warmup / schedule.step_size));
  if (schedule.name == "cosine") {
    const double span = double(std::max<std::int64_t>(1, total_steps - schedule.warmup_steps));
    const double progress = std::min(1.0, double(after_warmup) / span);
    const double floor = schedule.final_lr_factor;
    return peak * (floor + (1.0 - floor) * 0.5 * (1.0 + std::cos(M_PI * progress)));
  }
  return peak;
}

}  // namespace sweeplab
