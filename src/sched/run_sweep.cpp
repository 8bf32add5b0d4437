#include "sweeplab/sched/run_sweep.hpp"

#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/null_sink.h>
#include <spdlog/spdlog.h>

#include <filesystem>
#include <ostream>

#include "sweeplab/config/emit.hpp"
#include "sweeplab/core/error.hpp"
#include "sweeplab/core/text.hpp"
#include "sweeplab/store/layout.hpp"

namespace fs = std::filesystem;

namespace sweeplab {
namespace {

// Streams evaluations into metrics.jsonl and trial.log.
class FileSink : public TrialSink {
 public:
  FileSink(std::unique_ptr<MetricsFile> metrics, std::shared_ptr<spdlog::logger> log)
      : metrics_(std::move(metrics)), log_(std::move(log)) {}
  void on_eval(const EvalRecord& record) override {
    if (metrics_) metrics_->append(record);
    log_->info("epoch {} step {} lr {} train_loss {:.6g}{}{}", record.epoch, record.step, record.lr, record.train_loss,
               record.test_loss ? fmt::format(" test_loss {:.6g}", *record.test_loss) : "",
               record.test_acc ? fmt::format(" test_acc {:.4f}", *record.test_acc) : "");
  }

 private:
  std::unique_ptr<MetricsFile> metrics_;
  std::shared_ptr<spdlog::logger> log_;
};

std::string metric_text(const char* name, const std::optional<double>& value) {
  return value ? std::string(" ") + name + "=" + format_double_short(*value, 4) : "";
}

}  // namespace

std::string trial_line(const std::string& trial_id, const TrialOutcome& outcome) {
  std::string line = trial_id + "  " + to_string(outcome.status);
  if (outcome.final) {
    line += " " + metric_text("train_loss", outcome.final->train_loss).substr(1) +
            metric_text("test_loss", outcome.final->test_loss) + metric_text("test_acc", outcome.final->test_acc);
  }
  if (outcome.diverged_at_step) line += " at step " + std::to_string(*outcome.diverged_at_step);
  if (!outcome.error.empty()) line += ": " + outcome.error;
  char seconds[32];
  std::snprintf(seconds, sizeof seconds, "  %.1fs", outcome.wall_time_s);
  return line + seconds;
}

RunTotals run_sweep(const ResolvedSweep& sweep, const RunOptions& options, const TrainFunction& train,
                    std::ostream& out) {
  const auto& spec = sweep.spec;
  const fs::path root = sweep_dir(options.experiments_dir, spec.name);
  if (options.save) {
    fs::create_directories(root / "trials");
    write_file_atomic((root / "sweep.json").string(), sweep_json(sweep, options.context));
  }
  RunTotals totals;
  const std::size_t count = sweep.trials.size();
  for (std::size_t i = 0; i < count; ++i) {
    const auto& trial = sweep.trials[i];
    const std::string position = "[" + std::to_string(i + 1) + "/" + std::to_string(count) + "] ";
    const std::string state = trial_state(options.experiments_dir, spec.name, trial.id);
    if (options.save && (state == "completed" || state == "diverged")) {
      ++totals.skipped;
      if (!options.quiet) out << position << trial.id << "  " << state << " already, skipped\n" << std::flush;
      continue;
    }
    const fs::path dir = trial_dir(options.experiments_dir, spec.name, trial.id);
    std::unique_ptr<MetricsFile> metrics;
    std::shared_ptr<spdlog::logger> log;
    if (options.save) {
      fs::create_directories(dir);
      fs::remove(dir / "summary.json");
      write_file_atomic((dir / "config.yaml").string(), to_yaml(trial.config));
      metrics = std::make_unique<MetricsFile>((dir / "metrics.jsonl").string());
      log = std::make_shared<spdlog::logger>(trial.id, std::make_shared<spdlog::sinks::basic_file_sink_st>(
                                                           (dir / "trial.log").string(), /*truncate=*/true));
      log->flush_on(spdlog::level::info);
    } else {
      log = std::make_shared<spdlog::logger>(trial.id, std::make_shared<spdlog::sinks::null_sink_st>());
    }
    log->info("trial {} of sweep {} starts", trial.id, spec.name);
    FileSink sink(std::move(metrics), log);
    TrialOutcome outcome;
    try {
      outcome = train(trial.config, sink);
    } catch (const UserError&) {
      throw;  // bad input is the user's to fix, not a trial result
    } catch (const std::exception& e) {
      outcome.status = TrialStatus::Failed;
      outcome.error = e.what();
    }
    log->info("trial ends: {}", trial_line(trial.id, outcome));
    if (options.save) write_file_atomic((dir / "summary.json").string(), summary_json(trial.id, trial.swept, outcome));
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
