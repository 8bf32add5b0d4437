#pragma once
// A sweep's results as they are on disk, the rows `export` writes, seed aggregation and the
// critical-batch-size fit. No LibTorch.
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "sweeplab/config/loader.hpp"
#include "sweeplab/store/sweep_state.hpp"

namespace sweeplab {


// A table of named columns; an empty cell is std::monostate (CSV: empty, JSON: null).
using Cell = std::variant<std::monostate, double, std::int64_t, std::string>;
struct ExportTable {
  std::vector<std::string> columns;
  std::vector<std::vector<Cell>> rows;
  std::optional<double> number(std::size_t row, const std::string& column) const;
};

// "test_acc >= 0.99" -> "test_acc_ge_0.99": a column-name-safe form of a target.
std::string target_column(const std::string& target);

// One row per trial: trial_id, the swept keys (dotted names), status, batch_size, lr, temperature
// (lr / batch_size), steps, samples, epochs, steps_x_lr, wall_time_s, final_* and best_* metrics,
// steps_to_T / samples_to_T per target T, diverged_at_step.
ExportTable export_trials(const ResolvedSweep& sweep, const std::vector<TrialState>& results);

struct MeanStderr {
  double mean = 0.0;
  std::optional<double> stderr_;  // sample std (n - 1) / sqrt(n); absent for n < 2
  std::size_t n = 0;
};
// The mean is that of the values as they are written (shortest decimals), rounded once: the mean of 0.96
// and 0.9646 is 0.9623.
MeanStderr mean_stderr(const std::vector<double>& values);

// Trials that differ only in training.seed, grouped (in sweep order): the swept keys but the seed,
// n_seeds, batch_size, lr, temperature, then M_mean and M_stderr for every result column M, each over
// the seeds that have a value.
ExportTable aggregate_seeds(const ResolvedSweep& sweep, const ExportTable& trials);

std::string to_csv(const ExportTable& table);
std::string to_jsonl(const ExportTable& table);

// McCandlish et al. (2018): steps to a target S(B) = S_min (1 + B_noise / B), samples E(B) = B S(B)
// = E_min (1 + B / B_noise) with E_min = S_min B_noise. Fitted by least squares of S on 1/B, weighted by
// 1/S^2 (relative errors). nullopt with fewer than 2 distinct batch sizes, or when S_min or B_noise
// comes out non-positive (the steps do not fall with batch size).
struct NoiseScaleFit {
  double s_min = 0.0, b_noise = 0.0, e_min = 0.0;
};
std::optional<NoiseScaleFit> fit_noise_scale(const std::vector<double>& batch_sizes, const std::vector<double>& steps);

}  // namespace sweeplab
