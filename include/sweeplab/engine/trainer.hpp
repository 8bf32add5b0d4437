#pragma once
// The engine's interface: training one trial or a fused group. This header has no LibTorch in it: the scheduler
// and the CLI include it (its types, kEngineVersion) without linking the engine.
#include <optional>
#include <string>
#include <vector>

#include "sweeplab/config/config.hpp"
#include "sweeplab/core/metrics.hpp"

namespace sweeplab {

// Where a trial continues from: its checkpoint's step and the evaluations it had made by then.
struct ResumePoint {
  std::int64_t step = 0;             // 0: from scratch
  std::int64_t evaluations = 0;      // made up to `step`; -1: unknown (a checkpoint written before they were counted)
  std::optional<EvalRecord> last;    // the last of them, exactly
};

// Receives a trial's evaluations as they happen and may ask it to stop. A StorageError (sweeplab/core/fs.hpp)
// thrown by on_start, on_eval or on_diverged stops that trial only (see train_group).
class TrialSink {
 public:
  virtual ~TrialSink() = default;
  // Before training: where the trial continues from. Evaluations after from.step follow; any recorded
  // earlier beyond it are to be dropped. Returns false when the records up to from.step cannot be made
  // whole (a damaged one before the last): the trial then starts over, with on_start({}) again.
  virtual bool on_start(const ResumePoint& from) {
    (void)from;
    return true;
  }
  virtual void on_eval(const EvalRecord& record) = 0;
  // The trial diverged: `record` (EvalRecord::diverged) holds the step and the loss that stopped it.
  virtual void on_diverged(const EvalRecord& record) { (void)record; }
  // The trial is done for this session (its final checkpoint is written), while its group may go on.
  virtual void on_finish(const TrialOutcome& outcome) { (void)outcome; }
  // Polled between segments (a few thousand samples of each trial of the group); true stops the trials
  // (status interrupted) after a checkpoint.
  virtual bool stop_requested() { return false; }
};

struct CheckpointOptions {
  std::string path;        // checkpoint.pt; empty: no checkpoints and no resume (--no-save)
  std::int64_t every = 0;  // checkpoint.every, in budget units; 0: only at the end and on interrupt
  double min_interval_s = 0.0;  // checkpoint.min_interval_s
};

// The training engine's version: results of different versions differ in their last bits (the arithmetic
// changed), so a trial is never continued by another version. Recorded in sweep.json and checkpoints.
// 3: batches of 16 rows or more multiply in OpenBLAS where it is the system BLAS.
constexpr int kEngineVersion = 3;

// One trial of a fused group.
struct GroupMember {
  const Config* config = nullptr;
  TrialSink* sink = nullptr;
  CheckpointOptions checkpoints;
};

// Trains trials that share fusion_key() (sweeplab/config/fusion_key.hpp) together, each to its own budget,
// continuing each from the checkpoint at its options.path when there is a valid one (same format and
// engine version, same config apart from the budget). A trial's numbers do not depend on its group, on
// how its steps were cut between checkpoints and interrupts, or on other trials diverging (on CPU they
// are bit for bit the same; on CUDA the same for the same command). An unreadable or foreign checkpoint
// is renamed aside (checkpoint.pt.corrupt-TIME) and that trial continues from the previous good one
// (checkpoint.prev.pt, checked the same way) or starts over; outcome.warnings says so. A checkpoint of an
// older engine leaves its trial untouched and outcome.not_trained says why.
// Checkpoints are written every options.every units, at the end (not after divergence) and when a sink
// asks to stop; the one they replace is kept as checkpoint.prev.pt. A diverged trial keeps the parameters
// from before the step that diverged.
// Throws UserError for bad inputs (a missing CSV file, cuda without CUDA); anything else that throws fails
// the whole group, for the caller to record. A StorageError, from writing a checkpoint or from its sink,
// stops only its trial: status interrupted, outcome.storage_error says why, no checkpoint is written after
// it (the last good one stays).
// On a GPU, memory decides how many trials the engine holds at once (a larger group trains in consecutive
// parts); `max_at_once` > 0 caps that on any device.
std::vector<TrialOutcome> train_group(const std::vector<GroupMember>& members, std::size_t max_at_once = 0);

// One trial: a group of one.
TrialOutcome train_trial(const Config& config, TrialSink& sink, const CheckpointOptions& checkpoints = {});

// In a trainer process: "" when training.device=cuda can train here, else why not (one line).
std::string cuda_problem();

}  // namespace sweeplab
