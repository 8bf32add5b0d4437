#include "sweeplab/sched/run_sweep.hpp"

#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/null_sink.h>
#include <spdlog/spdlog.h>

#include <filesystem>
#include <ostream>

#include "sweeplab/config/emit.hpp"
#include "sweeplab/core/error.hpp"
#include "sweeplab/core/text.hpp"
#include "sweeplab/sched/interrupt.hpp"
#include "sweeplab/store/layout.hpp"
#include "sweeplab/store/lock.hpp"

namespace fs = std::filesystem;

namespace sweeplab {
namespace {

// Streams evaluations into metrics.jsonl (cut back to the resumed step first) and trial.log.
class FileSink : public TrialSink {
 public:
  FileSink(std::string metrics_path, std::shared_ptr<spdlog::logger> log)
      : metrics_path_(std::move(metrics_path)), log_(std::move(log)) {}
  void on_start(std::int64_t resumed_from_step) override {
    if (resumed_from_step > 0) log_->info("continuing from the checkpoint at step {}", resumed_from_step);
    if (metrics_path_.empty()) return;
    cut_metrics(metrics_path_, resumed_from_step);
    metrics_ = std::make_unique<MetricsFile>(metrics_path_);
  }
  void on_eval(const EvalRecord& record) override {
    if (metrics_) metrics_->append(record);
    log_->info("epoch {} step {} lr {} train_loss {:.6g}{}{}", record.epoch, record.step, record.lr, record.train_loss,
               record.test_loss ? fmt::format(" test_loss {:.6g}", *record.test_loss) : "",
               record.test_acc ? fmt::format(" test_acc {:.4f}", *record.test_acc) : "");
  }
  bool stop_requested() override { return interrupt_requested(); }

 private:
  std::string metrics_path_;
  std::unique_ptr<MetricsFile> metrics_;
  std::shared_ptr<spdlog::logger> log_;
};

std::string metric_text(const char* name, const std::optional<double>& value) {
  return value ? std::string(" ") + name + "=" + format_double_short(*value, 4) : "";
}

// Why a trial with this summary is not trained again, or "" when it is.
std::string reason_to_skip(const StoredSummary& summary, const Config& config, bool retry_failed) {
  if (summary.status == "diverged") return "diverged already";
  if (summary.status == "failed" && !retry_failed) return "failed earlier (--retry-failed runs it again)";
  if (summary.status == "completed") {
    const bool raised = config.training.steps > 0 ? config.training.steps > summary.steps
                                                  : config.training.epochs > summary.epochs;
    if (!raised || summary.stopped_at_target) return "completed already";
  }
  return "";
}

void remove_results(const fs::path& dir) {
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    if (entry.path().filename() != "lock") fs::remove_all(entry.path(), ec);
  }
}

}  // namespace

std::string trial_line(const std::string& trial_id, const TrialOutcome& outcome) {
  std::string line = trial_id + "  " + to_string(outcome.status);
  if (outcome.resumed_from_step > 0) line += " (resumed at step " + std::to_string(outcome.resumed_from_step) + ")";
  if (outcome.final) {
    line += " " + metric_text("train_loss", outcome.final->train_loss).substr(1) +
            metric_text("test_loss", outcome.final->test_loss) + metric_text("test_acc", outcome.final->test_acc);
  }
  if (outcome.diverged_at_step) line += " at step " + std::to_string(*outcome.diverged_at_step);
  if (!outcome.error.empty()) line += ": " + outcome.error;
  char seconds[32];
  std::snprintf(seconds, sizeof seconds, "  %.1fs", outcome.wall_time_s);
  line += seconds;
  for (const auto& warning : outcome.warnings) line += "\n    warning: " + warning;
  return line;
}

RunTotals run_sweep(const ResolvedSweep& sweep, const RunOptions& options, const TrainFunction& train,
                    std::ostream& out) {
  const auto& spec = sweep.spec;
  const fs::path root = sweep_dir(options.experiments_dir, spec.name);
  if (options.save) {
    create_folders((root / "trials").string());
    write_file_atomic((root / "sweep.json").string(), sweep_json(sweep, options.context));
  }
  RunTotals totals;
  const std::size_t count = sweep.trials.size();
  for (std::size_t i = 0; i < count && !interrupt_requested(); ++i) {
    const auto& trial = sweep.trials[i];
    const std::string position = "[" + std::to_string(i + 1) + "/" + std::to_string(count) + "] ";
    const auto say = [&](const std::string& text) {
      if (!options.quiet) out << position << trial.id << "  " << text << "\n" << std::flush;
    };
    const fs::path dir = trial_dir(options.experiments_dir, spec.name, trial.id);

    std::optional<TrialLock> lock;
    CheckpointOptions checkpoints;
    std::string metrics_path;
    std::shared_ptr<spdlog::logger> log;
    if (options.save) {
      lock = TrialLock::try_acquire(dir.string());
      if (!lock) {
        ++totals.busy;
        say("being trained by another process (pid " + std::to_string(lock_holder(dir.string()).value_or(0)) +
            "), left to it");
        continue;
      }
      if (options.fresh) remove_results(dir);
      if (const auto summary = read_summary(dir.string())) {  // read under the lock: the state is settled
        const std::string reason = reason_to_skip(*summary, trial.config, options.retry_failed);
        if (!reason.empty()) {
          ++totals.skipped;
          say(reason + ", skipped");
          continue;
        }
      }
      fs::remove(dir / "summary.json");
      write_file_atomic((dir / "config.yaml").string(), to_yaml(trial.config));
      metrics_path = (dir / "metrics.jsonl").string();
      checkpoints = {(dir / "checkpoint.pt").string(), trial.config.checkpoint.every};
      log = std::make_shared<spdlog::logger>(
          trial.id, std::make_shared<spdlog::sinks::basic_file_sink_st>((dir / "trial.log").string(), /*truncate=*/false));
      log->flush_on(spdlog::level::info);
    } else {
      log = std::make_shared<spdlog::logger>(trial.id, std::make_shared<spdlog::sinks::null_sink_st>());
    }
    log->info("trial {} of sweep {} starts", trial.id, spec.name);
    FileSink sink(metrics_path, log);
    TrialOutcome outcome;
    try {
      outcome = train(trial.config, sink, checkpoints);
    } catch (const UserError&) {
      throw;  // bad input is the user's to fix, not a trial result
    } catch (const std::exception& e) {
      outcome.status = TrialStatus::Failed;
      outcome.error = e.what();
    }
    log->info("trial ends: {}", trial_line(trial.id, outcome));
    if (options.save) {
      try {
        write_file_atomic((dir / "summary.json").string(), summary_json(trial.id, trial.swept, outcome));
      } catch (const StorageError& e) {
        outcome.status = TrialStatus::Failed;
        outcome.error += (outcome.error.empty() ? "" : "; ") + std::string(e.what());
      }
    }
    switch (outcome.status) {
      case TrialStatus::Completed: ++totals.completed; break;
      case TrialStatus::Diverged: ++totals.diverged; break;
      case TrialStatus::Failed: ++totals.failed; break;
      case TrialStatus::Interrupted: ++totals.interrupted; break;
    }
    if (!options.quiet) out << position << trial_line(trial.id, outcome) << "\n" << std::flush;
  }
  return totals;
}

}  // namespace sweeplab
