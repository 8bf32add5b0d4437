#pragma once
// What a run does with each trial, decided in one place: `run`, `run --dry-run` and `submit` plan a sweep with
// it, and the worker that takes a trial decides again under the trial's lock, from its files as they are then.
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <unordered_map>
#include <vector>

#include "sweeplab/config/loader.hpp"
#include "sweeplab/store/sweep_state.hpp"

namespace sweeplab {

enum class Action {
  Train,          // nothing on disk (or --fresh): from scratch
  Resume,         // partial or interrupted: from its checkpoint
  Extend,         // completed, and the budget asked for now is larger: from its final checkpoint
  Retrain,        // completed, the budget is larger, but it kept no final checkpoint: again from scratch
  Repair,         // settled, but a file of it is damaged: from its checkpoint, with the config it was run with
  Retry,          // failed earlier, --retry-failed: again
  RecordSkipped,  // sweep.prune rules it out: summary.json says skipped and why
  Leave,          // a live process trains it: left to that one (a worker looks again under the lock)
  Skip,           // nothing to do: a result that stays, a failure without --retry-failed, past the budget
};

struct Decision {
  Action action = Action::Train;
  std::string text;  // what --dry-run shows: "extend from 2 epochs to 20 epochs", "skip: completed already"
  std::string why;   // for Skip, RecordSkipped and Leave: "completed already", the pruning reason, "pid 12"
  // The scheduler takes the trial (a worker trains it, finds it busy, or the scheduler records it skipped).
  bool taken() const { return action != Action::Skip; }
  bool trains() const {
    return action == Action::Train || action == Action::Resume || action == Action::Extend || action == Action::Retrain ||
           action == Action::Repair || action == Action::Retry;
  }
};

struct PlanOptions {
  bool fresh = false;         // --fresh: discard earlier results, train from scratch
  bool retry_failed = false;  // --retry-failed
};

// What to do with `trial` (status pending when it has no files), which the current config asks to train as
// `planned` (its budget included). `pruned`: why sweep.prune rules it out now, or "".
Decision decide(const TrialState& trial, const Config& planned, const PlanOptions& options,
                const std::string& pruned = "");

// Optimizer steps the trial's budget asks for (0 when unknown, e.g. a CSV file not read yet).
std::int64_t expected_steps(const Config& config);

// sweep.prune: above_divergence: why a trial above `diverged` (a trial of its line, with a smaller learning
// rate, that diverged at `step`) is skipped: "optimizer.lr=0.5 diverged at step 12 (sweep.prune: above_divergence)".
std::string pruned_because(const Config& diverged, std::int64_t step);

// sweep.prune: {below_divergence: K}: why a trial below `stable` (the K trials of its line with the largest
// learning rates that completed, largest first) is skipped: "optimizer.lr=0.5, 0.25 completed: 2 stable learning
// rates above it (sweep.prune: {below_divergence: 2})".
std::string stable_because(const std::vector<Config>& stable);

// sweep.prune: for each line of trials (prune_line: the same config but for the learning rate), what its settled
// trials rule out. above_divergence: the diverged trial with the smallest learning rate rules out the larger ones;
// {below_divergence: K}: the K completed trials with the largest learning rates rule out the smaller ones. The
// scheduler fills it as trials settle, the plan from the summaries on disk: the same trials give the same reasons.
class DivergenceBoundary {
 public:
  explicit DivergenceBoundary(const ResolvedSweep& sweep);
  // Trial `index` of the sweep settled as `status` (diverged at `step`, for a diverged one); statuses other than
  // completed and diverged rule nothing out.
  void settled(std::size_t index, TrialStatus status, std::int64_t step);
  // Why the trial is skipped (pruned_because, stable_because), or "" when nothing of its line rules it out.
  std::string reason(std::size_t index) const;
  const std::string& line(std::size_t index) const { return lines_.at(index); }
  // The walk of a line: trial `a` runs in an earlier wave than trial `b` of its line (a smaller learning rate
  // for above_divergence, a larger one for below_divergence).
  bool walks_before(std::size_t a, std::size_t b) const;

 private:
  double lr(std::size_t index) const;
  const ResolvedSweep& sweep_;
  std::vector<std::string> lines_;                                      // trial index -> prune_line
  std::map<std::string, std::pair<std::size_t, std::int64_t>> lowest_;  // line -> (diverged trial, its step)
  struct Stable {
    std::map<double, std::size_t, std::greater<>> trials;  // the completed trials of the line by lr, largest first
    mutable std::string reason;                             // stable_because, once there are enough ("": not yet)
  };
  std::map<std::string, Stable> stable_;                                // line -> its completed trials
};

// A sweep's plan: for each trial of the current config (ResolvedSweep::trials), its folder and the decision.
struct SweepPlan {
  std::vector<std::string> folders;    // the folder that holds it, whatever its name, or the one it will get
  std::vector<Decision> decisions;
  std::vector<std::string> pruned;     // why sweep.prune rules it out by the files already, or ""
  std::size_t extended = 0;            // completed trials whose budget the current config raises
  std::string extended_from, extended_to;  // "2 epochs", "20 epochs" (of the last one)
  bool takes_any() const;
};
SweepPlan plan_sweep(const ResolvedSweep& sweep, const SweepState& state, const PlanOptions& options);

// The trials (indexes into `configs`) cut into groups that train fused: equal fusion keys (fusion_key.hpp), at
// most `largest` trials a group, and, with several workers, at least `workers` groups where there are that many
// trials (training.device cuda), or 4 x `workers` (cpu), so every worker has work and the work spreads evenly.
// Groups keep the order of `order`, which lists the indexes to group.
std::vector<std::vector<std::size_t>> form_groups(const std::vector<const CompactConfig*>& configs,
                                                  const std::vector<std::size_t>& order, std::size_t largest,
                                                  std::size_t workers);

}  // namespace sweeplab
