#pragma once
// What a trial produces: one EvalRecord per evaluation (a metrics.jsonl line) and a TrialOutcome
// (summary.json). Plain values, so the store, the scheduler and reports need no LibTorch.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "sweeplab/core/trial_status.hpp"

namespace sweeplab {

struct EvalRecord {
  std::int64_t epoch = 0;       // completed epochs
  std::int64_t step = 0;        // optimizer steps so far
  std::int64_t samples = 0;     // training samples seen so far
  double lr = 0.0;              // learning rate of the last step (eta, after the lr schedule)
  std::optional<double> effective_lr;  // sp, mup: the rate the optimizer used, eta g(gamma) m(N)
  std::int64_t batch_size = 0;
  double train_loss = 0.0;      // mean over the batches since the previous evaluation
  // The loss of the last of those batches alone: the value batch_size_studies' heatmaps colour by.
  std::optional<double> last_batch_loss;
  std::optional<double> test_loss;   // absent without a test set
  std::optional<double> train_acc;   // classification only
  std::optional<double> test_acc;
  double elapsed_s = 0.0;       // wall time of the trial so far
  // Reinforcement learning (task doublegoal); absent otherwise. There train_loss is the mean TD loss of the
  // updates since the previous evaluation (not a number before the first update: null in metrics.jsonl).
  std::optional<double> episode_return;        // mean return of the last rl.return_window finished episodes
  std::optional<double> epsilon;               // the exploration rate of the last environment step
  std::optional<double> greedy_return;         // one episode with the greedy policy (epsilon 0), from the start
  std::optional<std::int64_t> greedy_length;   // its length in steps (10 is optimal, 50 the limit)
  // The share of the 19 positions -0.9..0.9 from which the greedy policy walks straight to the nearer goal.
  std::optional<double> greedy_optimal_fraction;
  // metrics.noise_scale: the simple gradient noise scale B_simple = tr(Sigma) / |G|^2 (McCandlish et al. 2018), from
  // the steps of two rows or more since the previous evaluation (a ratio of their means); absent without such a
  // step or when the estimate of |G|^2 is not positive.
  std::optional<double> noise_scale;
  // Not an evaluation: the step that diverged, whose batch loss (train_loss here; inf, nan or above
  // stop.divergence_loss) ended the trial. The last line of a diverged trial's metrics.jsonl; no test metrics.
  bool diverged = false;
};

// A metric of a record by name (train_loss, test_loss, train_acc, test_acc, noise_scale; episode_return, epsilon,
// greedy_return, greedy_length, greedy_optimal_fraction); nullopt when absent or not a number, and for every metric of a diverged record
// (it is no evaluation to average or compare).
std::optional<double> metric_value(const EvalRecord& record, const std::string& metric);

// The direction of "best": accuracies, returns and fractions up; losses, lengths and epsilon down.
bool higher_is_better(const std::string& metric);

// The metrics a DQN trial (doublegoal) keeps the best of and export writes final_* / best_* columns for.
const std::vector<std::string>& reinforcement_metrics();


struct TargetResult {
  std::string target;           // "test_acc >= 0.99"
  bool reached = false;
  std::int64_t step = 0;        // first evaluation that met it
  std::int64_t samples = 0;
  std::int64_t epoch = 0;
};

struct BestMetric {
  std::string metric;           // lowest loss / highest accuracy over the evaluations
  double value = 0.0;
  std::int64_t step = 0;
  std::int64_t epoch = 0;
};

// What training did with a trial: status is completed, diverged, failed, interrupted or skipped (sweep.prune
// ruled it out or stopped it; skip_reason says why).
struct TrialOutcome {
  TrialStatus status = TrialStatus::Completed;
  std::optional<EvalRecord> final;   // the last evaluation
  std::vector<BestMetric> best;
  std::vector<TargetResult> targets;
  std::int64_t steps = 0, samples = 0, epochs = 0;
  std::optional<std::int64_t> diverged_at_step;
  std::optional<double> diverged_loss;  // absent when not finite
  bool stopped_at_target = false;
  double wall_time_s = 0.0;          // over every session of the trial
  std::string error;                 // for failed trials
  std::string skip_reason;           // for skipped ones: "optimizer.lr=0.5 diverged at step 12 (sweep.prune: above_divergence)"
  // A file of the trial could not be written (disk full, I/O error): "cannot write PATH: REASON". The trial
  // stopped as interrupted, without summary.json, its last good checkpoint kept; the next run resumes it.
  std::string storage_error;
  // A worker that died while training the trial (status failed): the signal that ended it ("SIGKILL"; empty
  // when it exited), its exit code (-1: none) and the end of its stderr.
  bool worker_died = false;
  std::string signal;
  int exit_code = -1;
  std::string stderr_tail;
  // The Slurm array task that settled the trial ("12_3"); "" for summary_json to take this process's own.
  std::string slurm_job;
  std::int64_t resumed_from_step = 0;  // this session continued a checkpoint at this step (0: fresh)
  std::vector<std::string> warnings;   // e.g. an unreadable checkpoint that was set aside
  std::string weights_digest;        // XXH64 of the final parameters' bytes: equal digests, equal weights
  int engine_version = 0;            // of the engine that trained it (0: none did, e.g. a crashed worker)
  std::string not_trained;           // why the trial was left as it was (e.g. an older engine's checkpoint)
  int checkpoints_written = 0;       // in this session
  double checkpoint_s = 0.0;         // time spent writing them
};

}  // namespace sweeplab
