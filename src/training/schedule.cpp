#include "sweeplab/training/schedule.hpp"

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

std::int64_t batch_size_at(const Config& config, std::int64_t step) {
  const BatchScheduleConfig& schedule = config.batch_schedule;
  if (schedule.name == "constant") return config.training.batch_size;
  const std::int64_t b0 = schedule.initial_batch_size > 0 ? schedule.initial_batch_size : config.training.batch_size;
  if (schedule.name == "steps") {
    std::int64_t size = b0;
    for (std::size_t i = 0; i < schedule.at_steps.size() && schedule.at_steps[i] <= step; ++i) size = schedule.sizes[i];
    return size;
  }
  const std::int64_t b1 = schedule.final_batch_size;
  if (step >= schedule.ramp_steps) return b1;
  const double progress = double(step) / double(schedule.ramp_steps);
  const double size = schedule.name == "linear" ? double(b0) + double(b1 - b0) * progress
                                                : double(b0) * std::pow(double(b1) / double(b0), progress);
  return std::max<std::int64_t>(1, std::llround(size));
}

std::int64_t steps_for_samples(const Config& config, std::int64_t samples) {
  if (samples <= 0) return 0;
  const BatchScheduleConfig& schedule = config.batch_schedule;
  // The step from which the batch size no longer changes: steps up to it are summed one by one, the rest in
  // closed form (a budget of 10^9 samples at batch size 1 must not take 10^9 calls).
  std::int64_t settled = 0;
  if (schedule.name == "linear" || schedule.name == "geometric") settled = schedule.ramp_steps;
  if (schedule.name == "steps" && !schedule.at_steps.empty()) settled = schedule.at_steps.back();
  std::int64_t steps = 0, seen = 0;
  while (seen < samples && steps < settled) seen += batch_size_at(config, steps++);
  if (seen >= samples) return steps;
  const std::int64_t b = batch_size_at(config, steps);
  return steps + (samples - seen + b - 1) / b;
}

double effective_lr_factor(const Config& config) {
  const ModelConfig& model = config.model;
  if (model.parameterization == "standard" || model.hidden.empty()) return 1.0;
  const double gamma = model.gamma, layers = double(model.hidden.size() + 1), width = double(model.hidden.back());
  const bool mup = model.parameterization == "mup", compensated = config.optimizer.scale_lr_by_gamma;
  if (config.optimizer.name == "sgd") {
    const double g = !compensated ? 1.0 : gamma <= 1.0 ? gamma * gamma : std::pow(gamma, 2.0 / layers);
    return g * (mup ? width : 1.0);
  }
  const double g = !compensated ? 1.0 : gamma <= 1.0 ? gamma : std::pow(gamma, 1.0 / layers);
  return g * (mup ? std::sqrt(width) : 1.0);
}

}  // namespace sweeplab
