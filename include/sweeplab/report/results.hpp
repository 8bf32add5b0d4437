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


// A table of named columns; an empty cell is std::monostate (CSV: empty, JSON: null). Numbers are written
// in the shortest form that reads back as the same double (0.9623, not 0.9623000000000001).
using Cell = std::variant<std::monostate, bool, double, std::int64_t, std::string>;
// A cell as CSV and tables show it: "" when empty, numbers as the shortest text that reads back.
std::string cell_text(const Cell& cell);

struct ExportTable {
  std::vector<std::string> columns;
  std::vector<std::vector<Cell>> rows;
  std::optional<double> number(std::size_t row, const std::string& column) const;
};

// "test_acc >= 0.99" -> "test_acc_ge_0.99": a column-name-safe form of a target.
std::string target_column(const std::string& target);

// A trial's last evaluation with a finite loss: summary.json's final record, else the last such line of
// metrics.jsonl (a diverged trial's last line, at the step it diverged, has a null loss).
std::optional<EvalRecord> last_finite_record(const TrialState& trial);

// One row per trial: trial_id (its folder), the swept keys (dotted names: the keys in which the trials differ),
// status (as the sweep-state reader says: pending, partial, running, completed, ...), batch_size, lr, temperature
// (lr / batch_size), steps, samples, epochs, steps_x_lr, wall_time_s, final_* (of the last finite evaluation;
// final_last_batch_loss: the loss of its last minibatch) and best_* metrics, steps_to_T / samples_to_T per target T of
// the current config, diverged_at_step.
ExportTable export_trials(const SweepSpec& spec, const std::vector<TrialState>& results);

struct MeanStderr {
  double mean = 0.0;
  std::optional<double> stderr_;  // sample std (n - 1) / sqrt(n); absent for n < 2
  std::size_t n = 0;
};
// The mean is that of the values as they are written (shortest decimals), rounded once: the mean of 0.96
// and 0.9646 is 0.9623.
MeanStderr mean_stderr(const std::vector<double>& values);

// Trials that differ only in training.seed, grouped (in sweep order): the swept keys but the seed (budgets
// included: trials run with different budgets are never averaged), n_seeds, n_completed, n_diverged, batch_size,
// lr, temperature; M_mean and M_stderr of steps, samples, epochs, steps_x_lr, wall_time_s, final_* and
// best_*, each over the seeds that have a value; per target T: n_reached_T and
// steps_to_T_{mean,stderr}_over_reached, samples_to_T_{mean,stderr}_over_reached (over the seeds that
// reached T only); diverged_at_step_{mean,stderr}_over_diverged.
ExportTable aggregate_seeds(const SweepSpec& spec, const ExportTable& trials);

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
