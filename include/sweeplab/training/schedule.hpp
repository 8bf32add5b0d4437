#pragma once
#include <cstdint>

#include "sweeplab/config/config.hpp"

namespace sweeplab {

// The learning rate for optimizer step `step` (0-based) of `total_steps`: linear warmup over
// lr_schedule.warmup_steps, then constant, cosine (to lr x final_lr_factor at total_steps) or step decay.
double learning_rate(const OptimizerConfig& optimizer, const ScheduleConfig& schedule, std::int64_t step,
                     std::int64_t total_steps);

// The batch size of optimizer step `step` (0-based) under batch_schedule (the batch-size grokking study): training.batch_size when
// constant, else from B0 = batch_schedule.initial_batch_size (0: training.batch_size).
std::int64_t batch_size_at(const Config& config, std::int64_t step);

// training.samples as steps: the fewest steps whose batch sizes (batch_size_at) add up to at least `samples`.
std::int64_t steps_for_samples(const Config& config, std::int64_t samples);

// What the optimizer's learning rate is multiplied by under model.parameterization (batch_size_studies, Atanasov et al.
// 2025): g(gamma) m(N); 1 for standard. sgd: g = gamma^2 (gamma <= 1) or gamma^(2/L); adam, adamw: g = gamma or
// gamma^(1/L); m = N (sgd) or sqrt(N) (adam, adamw) under mup, 1 under sp. L: the number of layers (hidden + 1),
// N: the last hidden width. optimizer.scale_lr_by_gamma false: g = 1 (batch_size_studies' uncompensated rule).
double effective_lr_factor(const Config& config);

}  // namespace sweeplab
