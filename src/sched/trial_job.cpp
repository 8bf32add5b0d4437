#include "trial_job.hpp"

#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/null_sink.h>
#include <spdlog/spdlog.h>

#include <unistd.h>

#include <ctime>
#include <filesystem>
#include <functional>
#include <fstream>

#include "sweeplab/config/emit.hpp"
#include "sweeplab/core/error.hpp"
#include "sweeplab/sched/interrupt.hpp"
#include "sweeplab/sched/plan.hpp"
#include "sweeplab/store/layout.hpp"
#include "sweeplab/store/lock.hpp"
#include "sweeplab/store/sweep_state.hpp"
#include "sweeplab/training/schedule.hpp"

namespace fs = std::filesystem;

namespace sweeplab {
namespace {

// Streams evaluations into metrics.jsonl (cut back to the resumed step first, and checked against the
// checkpoint), trial.log and the scheduler. When training starts, the trial's old summary.json goes: until
// the new one is written, the trial is partial. What it found damaged and repaired goes into `warnings`.
class FileSink : public TrialSink {
 public:
  using Finish = std::function<void(const TrialOutcome&)>;
  FileSink(std::size_t index, const fs::path& dir, std::shared_ptr<spdlog::logger> log, TrialEvents& events)
      : index_(index), dir_(dir), log_(std::move(log)), events_(events) {}
  void when_finished(Finish finish) { finish_ = std::move(finish); }
  void on_finish(const TrialOutcome& outcome) override {
    if (finish_) finish_(outcome);
  }
  bool on_start(const ResumePoint& from) override {
    if (from.step > 0) log_->info("continuing from the checkpoint at step {}", from.step);
    if (!dir_.empty()) {
      std::error_code ec;
      if (!fs::remove(dir_ / "summary.json", ec) && ec) {
        throw StorageError("cannot remove " + (dir_ / "summary.json").string() + ": " + ec.message());
      }
      const std::string metrics_path = (dir_ / "metrics.jsonl").string();
      const auto continuation = continue_metrics(metrics_path, from.step, from.evaluations, from.last);
      if (!continuation.warning.empty()) warnings.push_back(continuation.warning);
      if (!continuation.usable) return false;
      if (continuation.dropped > 0) {
        log_->info("dropped {} unreadable line(s) of metrics.jsonl after step {} (torn by the stop; trained again)",
                   continuation.dropped, from.step);
      }
      metrics_ = std::make_unique<MetricsFile>(metrics_path);
    }
    events_.started(index_, from.step);
    return true;
  }
  void on_diverged(const EvalRecord& record) override {
    if (metrics_) metrics_->append(record);
    log_->warn("diverged at step {}: loss {}", record.step, record.train_loss);
  }
  void on_eval(const EvalRecord& record) override {
    if (metrics_) metrics_->append(record);
    log_->info("epoch {} step {} lr {} train_loss {:.6g}{}{}", record.epoch, record.step, record.lr, record.train_loss,
               record.test_loss ? fmt::format(" test_loss {:.6g}", *record.test_loss) : "",
               record.test_acc ? fmt::format(" test_acc {:.4f}", *record.test_acc) : "");
    events_.evaluated(index_, record);
  }
  bool stop_requested() override { return interrupt_requested(); }

  std::vector<std::string> warnings;

 private:
  Finish finish_;
  std::size_t index_;
  fs::path dir_;  // empty: nothing is written (--no-save)
  std::unique_ptr<MetricsFile> metrics_;
  std::shared_ptr<spdlog::logger> log_;
  TrialEvents& events_;
};

void remove_results(const fs::path& dir) {
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    if (entry.path().filename() != "lock") fs::remove_all(entry.path(), ec);
  }
}

std::shared_ptr<spdlog::logger> trial_log(const std::string& id, const fs::path& dir) {
  auto log = std::make_shared<spdlog::logger>(
      id, std::make_shared<spdlog::sinks::basic_file_sink_st>((dir / "trial.log").string(), /*truncate=*/false));
  log->flush_on(spdlog::level::info);
  return log;
}

}  // namespace

namespace {

// One trial of a group on its way through: its lock, files and sink.
struct Prepared {
  std::size_t index = 0;
  fs::path dir;
  std::optional<TrialLock> lock;
  std::shared_ptr<spdlog::logger> log;
  std::unique_ptr<FileSink> sink;
  std::string folder;
  std::string decision;  // what was decided, for trial.log, when it is not plain (train, resume)
  bool own_config = false;
  CheckpointOptions checkpoints;
  std::vector<std::string> warnings;  // about its files, found before training
  // The config it trains with: the sweep's, or for a repair the one it was run with (its config.yaml).
  std::unique_ptr<Config> config;
};

// What the trial's files say now, read under its lock: the config it was run with only when the decision needs it
// (to resume or repair: YAML is the slow part), else the planned one stands in.
TrialState files_now(const fs::path& dir, const TrialSpec& planned, bool with_config) {
  TrialState stand_in;
  stand_in.id = dir.filename().string();
  stand_in.hash = planned.hash;
  stand_in.config = planned.config;
  return read_trial_files(dir.string(), TrialRead{false, with_config, /*lock=*/false}, &stand_in);
}

// Locks the trial and decides (decide(), from its files now); nullopt (with `result` filled) when it is not to be
// trained now.
std::optional<Prepared> prepare(const ResolvedSweep& sweep, std::size_t index, const RunOptions& options,
                                TrialEvents& events, TrialResult& result) {
  const auto& trial = sweep.trials.at(index);
  const std::string folder = options.folder(sweep, index);
  Prepared prepared;
  prepared.index = index;
  prepared.folder = folder;
  prepared.dir = trial_dir(options.experiments_dir, sweep.spec.name, folder);
  const Config planned = trial.config.expand();
  if (options.save) {
    prepared.lock = TrialLock::try_acquire(prepared.dir.string());
    if (!prepared.lock) {
      result.kind = TrialResult::Kind::Busy;
      result.message = "being trained by another process (pid " +
                       std::to_string(lock_holder(prepared.dir.string()).value_or(0)) + "), left to it";
      return std::nullopt;
    }
    if (options.fresh) remove_results(prepared.dir);
    const PlanOptions plan{false, options.retry_failed};  // --fresh: removed above
    TrialState now = files_now(prepared.dir, trial, false);
    Decision decision = decide(now, planned, plan);
    // The config it was run with matters to a repair, and to a trial already past the budget asked for now.
    const std::int64_t budget = expected_steps(planned);
    if (decision.action == Action::Repair || (budget > 0 && now.steps_done() > budget)) {
      now = files_now(prepared.dir, trial, true);
      decision = decide(now, planned, plan);
    }
    if (now.summary && now.summary->status == TrialStatus::Unreadable) {
      // Damaged on disk: continuing from the checkpoint rebuilds it (a settled trial's final checkpoint gives the
      // same outcome). The damaged file is kept aside.
      const std::string aside = set_aside((prepared.dir / "summary.json").string());
      prepared.warnings.push_back("summary.json unreadable; kept as " + aside + "; rebuilt from the checkpoint");
    }
    if (decision.action == Action::Skip) {
      result.kind = TrialResult::Kind::Skipped;
      result.message = decision.why;
      return std::nullopt;
    }
    // It kept no checkpoint to continue from: its old files go, and it trains from the start.
    if (decision.action == Action::Retrain) remove_results(prepared.dir);
    if (decision.action != Action::Train && decision.action != Action::Resume) prepared.decision = decision.text;
    // A repair rebuilds what the trial was run with: its own config and budget, not the sweep's now.
    prepared.own_config = decision.action == Action::Repair;
    prepared.config = std::make_unique<Config>(prepared.own_config ? now.config.expand() : planned);
    prepared.checkpoints = {(prepared.dir / "checkpoint.pt").string(), prepared.config->checkpoint.every,
                            prepared.config->checkpoint.min_interval_s};
    try {
      // Not waited for on disk: after a power loss an empty config.yaml reads as the sweep's config, and the next
      // run writes it again.
      write_file_atomic((prepared.dir / "config.yaml").string(), to_yaml(*prepared.config), /*durable=*/false);
      prepared.log = trial_log(folder, prepared.dir);
    } catch (const std::exception& e) {  // StorageError, or spdlog's for trial.log: the trial is not started
      result.kind = TrialResult::Kind::Trained;
      result.outcome.status = TrialStatus::Interrupted;
      result.outcome.storage_error = e.what();
      result.outcome.warnings = prepared.warnings;
      return std::nullopt;
    }
  } else {
    prepared.config = std::make_unique<Config>(planned);
    prepared.log = std::make_shared<spdlog::logger>(folder, std::make_shared<spdlog::sinks::null_sink_st>());
  }
  prepared.log->info("trial {} of sweep {} starts (pid {})", folder, sweep.spec.name, ::getpid());
  if (!prepared.decision.empty()) prepared.log->info("{}", prepared.decision);
  prepared.sink = std::make_unique<FileSink>(index, options.save ? prepared.dir : fs::path(), prepared.log, events);
  return prepared;
}

// After training: the log line and summary.json.
void conclude(const ResolvedSweep& sweep, const Prepared& prepared, const RunOptions& options, TrialResult& result) {
  const auto& trial = sweep.trials.at(prepared.index);
  const std::string& id = prepared.folder;
  TrialOutcome& outcome = result.outcome;
  // What was found damaged before and while starting, then what training found.
  std::vector<std::string> warnings = prepared.warnings;
  warnings.insert(warnings.end(), prepared.sink->warnings.begin(), prepared.sink->warnings.end());
  warnings.insert(warnings.end(), outcome.warnings.begin(), outcome.warnings.end());
  outcome.warnings = std::move(warnings);
  if (!outcome.not_trained.empty()) {
    prepared.log->warn("not trained: {}", outcome.not_trained);
    result.kind = TrialResult::Kind::Skipped;
    result.message = outcome.not_trained;
    return;
  }
  if (!options.save) {
    prepared.log->info("trial ends: {}", trial_line(id, outcome));
    return;
  }
  if (outcome.storage_error.empty()) {
    try {
      write_file_atomic((prepared.dir / "summary.json").string(),
                        summary_json(id, swept_values(trial.config, swept_keys(sweep.spec)), outcome));
    } catch (const StorageError& e) {  // as any storage error: the trial stays partial and resumes next time
      outcome.status = TrialStatus::Interrupted;
      outcome.storage_error = e.what();
    }
  }
  // checkpoint.keep_final: false: a result that stays keeps no checkpoint (the periodic ones go too), once its
  // summary is on disk.
  if (outcome.storage_error.empty() && has_result(outcome.status) && !prepared.config->checkpoint.keep_final) {
    std::error_code ec;
    for (const char* name : {"checkpoint.pt", "checkpoint.prev.pt"}) fs::remove(prepared.dir / name, ec);
  }
  prepared.log->info("trial ends: {}", trial_line(id, outcome));
  if (!outcome.storage_error.empty()) prepared.log->error("stopped: {}", outcome.storage_error);
}

}  // namespace

void run_trial_group(const ResolvedSweep& sweep, const std::vector<std::size_t>& indexes, const RunOptions& options,
                     const GroupTrainer& train, TrialEvents& events) {
  std::vector<TrialResult> results(indexes.size());
  std::vector<Prepared> prepared;
  std::vector<std::size_t> positions;  // of the prepared trials in `indexes`
  std::vector<bool> settled(indexes.size(), false);
  const auto settle = [&](std::size_t i) {
    settled[i] = true;
    events.finished(indexes[i], results[i]);
  };
  for (std::size_t i = 0; i < indexes.size(); ++i) {
    if (auto trial = prepare(sweep, indexes[i], options, events, results[i])) {
      prepared.push_back(std::move(*trial));
      positions.push_back(i);
    } else {
      settle(i);  // skipped or busy: said at once
    }
  }
  if (prepared.empty()) return;
  std::vector<GroupMember> members;
  for (std::size_t p = 0; p < prepared.size(); ++p) {
    prepared[p].sink->when_finished([&, p](const TrialOutcome& outcome) {
      TrialResult& result = results[positions[p]];
      result.outcome = outcome;
      result.own_config = prepared[p].own_config;
      conclude(sweep, prepared[p], options, result);
      settle(positions[p]);
    });
    members.push_back({prepared[p].config.get(), prepared[p].sink.get(), prepared[p].checkpoints});
  }
  std::string error;
  try {
    train(members);
  } catch (const std::exception& e) {
    error = e.what();
  }
  for (std::size_t p = 0; p < prepared.size(); ++p) {  // what training did not settle (it threw) fails
    if (settled[positions[p]]) continue;
    TrialResult& result = results[positions[p]];
    result.outcome = TrialOutcome{};
    result.outcome.status = TrialStatus::Failed;
    result.outcome.error = error.empty() ? "training ended without a result for this trial" : error;
    conclude(sweep, prepared[p], options, result);
    settle(positions[p]);
  }
}

TrialResult record_pruned(const ResolvedSweep& sweep, std::size_t index, const RunOptions& options,
                          const std::string& reason) {
  const auto& trial = sweep.trials.at(index);
  TrialResult result;
  result.kind = TrialResult::Kind::Skipped;
  result.message = reason;
  result.outcome.status = TrialStatus::Skipped;
  result.outcome.skip_reason = reason;
  if (!options.save) return result;
  const std::string folder = options.folder(sweep, index);
  const fs::path dir = trial_dir(options.experiments_dir, sweep.spec.name, folder);
  const auto lock = TrialLock::try_acquire(dir.string());
  if (!lock) {
    result.kind = TrialResult::Kind::Busy;
    result.message = "being trained by another process (pid " + std::to_string(lock_holder(dir.string()).value_or(0)) +
                     "), left to it";
    return result;
  }
  if (options.fresh) remove_results(dir);
  const Config planned = trial.config.expand();
  const Decision decision = decide(files_now(dir, trial, false), planned, {false, options.retry_failed}, reason);
  if (decision.action == Action::Skip) {  // a result that stays, or skipped for this reason already
    result.message = decision.why;
    return result;
  }
  write_file_atomic((dir / "config.yaml").string(), to_yaml(planned));
  write_file_atomic((dir / "summary.json").string(),
                    summary_json(folder, swept_values(trial.config, swept_keys(sweep.spec)), result.outcome));
  trial_log(folder, dir)->info("not run: {}", reason);
  return result;
}

TrialOutcome record_crash(const ResolvedSweep& sweep, std::size_t index, const RunOptions& options,
                          const CrashReport& crash) {
  const auto& trial = sweep.trials.at(index);
  const std::string folder = options.folder(sweep, index);
  TrialOutcome outcome;
  outcome.status = TrialStatus::Failed;
  outcome.error = crash.error;
  outcome.worker_died = true;
  outcome.signal = crash.signal;
  outcome.exit_code = crash.exit_code;
  outcome.stderr_tail = crash.stderr_tail;
  outcome.slurm_job = crash.slurm_job;
  outcome.resumed_from_step = crash.resumed_from_step;
  outcome.wall_time_s = crash.session_s;
  if (!options.save) return outcome;
  const fs::path dir = trial_dir(options.experiments_dir, sweep.spec.name, folder);
  const auto lock = TrialLock::try_acquire(dir.string());
  if (!lock) return outcome;  // someone else took it over already
  if (const auto settled = read_summary(dir.string()); settled && has_result(settled->status)) {
    // The worker wrote its summary before it died (its last message did not reach us): that result stands.
    outcome = TrialOutcome{};
    outcome.status = settled->status;
    outcome.steps = settled->steps;
    outcome.final = settled->final;
    outcome.diverged_at_step = settled->diverged_at_step;
    return outcome;
  }
  const auto metrics = read_metrics((dir / "metrics.jsonl").string());
  for (const auto& record : metrics) {
    if (record.diverged) continue;  // the line of a divergence holds no evaluation
    outcome.final = record;
    outcome.steps = record.step;
    outcome.epochs = record.epoch;
    outcome.samples = record.samples;
  }
  // The wall time of earlier sessions: as of the last record at or before the step this session resumed from.
  if (crash.resumed_from_step > 0) {
    for (const auto& record : metrics) {
      if (record.step <= crash.resumed_from_step && !record.diverged) outcome.wall_time_s = record.elapsed_s + crash.session_s;
    }
  }
  // A task that died before the trial started (a Slurm task that could not even start sweeplab) left no config.
  if (!fs::exists(dir / "config.yaml")) write_file_atomic((dir / "config.yaml").string(), to_yaml(trial.config.expand()));
  auto log = trial_log(folder, dir);
  log->error("the worker training this trial died: {}", crash.error);
  if (!crash.stderr_tail.empty()) log->error("its last output:\n{}", crash.stderr_tail);
  write_file_atomic((dir / "summary.json").string(),
                    summary_json(folder, swept_values(trial.config, swept_keys(sweep.spec)), outcome));
  return outcome;
}

}  // namespace sweeplab
