#include <CLI/CLI.hpp>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include <ostream>
#include <algorithm>
#include <set>
#include <thread>

#include "commands.hpp"
#include "sweeplab/config/schema.hpp"
#include "sweeplab/core/error.hpp"
#include "sweeplab/core/table.hpp"
#include "sweeplab/report/trial_table.hpp"
#include "sweeplab/sched/interrupt.hpp"
#include "sweeplab/sched/run_sweep.hpp"
#include "sweeplab/store/layout.hpp"
#include "sweeplab/train/trainer.hpp"

namespace sweeplab {

CLI::App* setup_run(CLI::App& app, RunCommandOptions& options) {
  CLI::App* command = app.add_subcommand("run", "Train every trial of one or more sweeps, writing experiments/NAME/");
  command->add_option("names", options.names, "Sweep names")->required();
  add_override_option(*command, options.overrides);
  command->add_option("-j,--jobs", options.jobs, "Worker processes, each training one group of trials at a time (default: cores; 1 on CUDA)")
      ->check(CLI::Range(1, 256));
  command->add_option("--group-size", options.group_size,
                      "Most trials fused into one group (default: 64 on CPU, 4096 on CUDA); 1 trains trials one by one")
      ->check(CLI::Range(1, 1000000));
  command->add_flag("--dry-run", options.dry_run, "Print the trials that would run, train nothing, write nothing");
  command->add_flag("--no-save", options.no_save, "Train and print, but write nothing");
  command->add_flag("--fresh", options.fresh, "Discard the selected trials' earlier results and start over");
  command->add_flag("--retry-failed", options.retry_failed, "Train failed trials again (by default they are skipped)");
  command->footer(
      "Examples:\n  sweeplab run quickstart\n  sweeplab run doughnut-batch -o epochs=50\n"
      "  sweeplab run doughnut-batch -o lr=0.01,0.1 --dry-run");
  return command;
}

namespace {

// The trainer program: $SWEEPLAB_TRAINER, else sweeplab-trainer beside this program, else the one this
// build made (for tests that run the command line in-process).
std::string locate_trainer() {
  namespace fs = std::filesystem;
  if (const char* path = std::getenv("SWEEPLAB_TRAINER")) {
    if (::access(path, X_OK) != 0) throw UserError(std::string("SWEEPLAB_TRAINER=") + path + " is not a program that can run");
    return path;
  }
  std::error_code ec;
  const fs::path beside = fs::read_symlink("/proc/self/exe", ec).parent_path() / "sweeplab-trainer";
  if (!ec && ::access(beside.c_str(), X_OK) == 0) return beside.string();
  if (::access(SWEEPLAB_TRAINER_BUILD_PATH, X_OK) == 0) return SWEEPLAB_TRAINER_BUILD_PATH;
  throw InternalError("cannot find the sweeplab-trainer program beside sweeplab (or set SWEEPLAB_TRAINER)");
}

// Asks the trainer whether CUDA can train here (only a trainer process loads LibTorch and CUDA).
void check_cuda(const std::string& trainer) {
  std::string quoted = "'";
  for (const char c : trainer) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  FILE* pipe = ::popen((quoted + "' --check-cuda 2>&1").c_str(), "r");
  if (!pipe) throw InternalError("cannot start " + trainer);
  std::string answer;
  char buffer[512];
  while (std::fgets(buffer, sizeof buffer, pipe)) answer += buffer;
  const int status = ::pclose(pipe);
  if (status == 0) return;
  while (!answer.empty() && answer.back() == '\n') answer.pop_back();
  throw UserError(answer.empty() ? "training.device: cuda, but the trainer could not check for CUDA" : answer);
}

}  // namespace

int run_run(const GlobalOptions& global, const RunCommandOptions& options, std::ostream& out, std::ostream& err) {
  // Everything is checked before anything is trained or written.
  std::vector<ResolvedSweep> sweeps;
  std::set<std::string> checked;
  bool cuda = false;
  for (const auto& name : options.names) {
    sweeps.push_back(load_sweep(global.configs_dir, name, options.overrides));
    for (const auto& trial : sweeps.back().trials) {
      const std::string inputs = trial.config.task.name + "|" + trial.config.task.path + "|" + trial.config.task.label_column;
      if (checked.insert(inputs).second) check_task_inputs(trial.config);
      cuda = cuda || trial.config.training.device == "cuda";
    }
  }
  const std::string trainer = locate_trainer();
  if (cuda) check_cuda(trainer);

  if (options.dry_run) {
    for (const auto& sweep : sweeps) {
      out << "sweep " << sweep.spec.name << ": " << sweep.trials.size() << " trials -> "
          << sweep_dir(global.experiments_dir, sweep.spec.name) << "\n";
      Table table({"#", "trial_id", "state", "would"});
      for (std::size_t i = 0; i < sweep.trials.size(); ++i) {
        const auto& id = sweep.trials[i].id;
        const auto state = trial_state(global.experiments_dir, sweep.spec.name, id);
        const char* would = options.fresh ? "train from scratch"
                            : state == "completed" || state == "diverged" ? "skip (unless the budget was raised)"
                            : state == "failed" ? (options.retry_failed ? "train again" : "skip")
                            : state == "pending" ? "train" : "resume";
        table.add_row({std::to_string(i + 1), id, state, would});
      }
      out << table.str();
    }
    return 0;
  }

  RunOptions run_options;
  run_options.experiments_dir = global.experiments_dir;
  run_options.save = !options.no_save;
  run_options.fresh = options.fresh;
  run_options.retry_failed = options.retry_failed;
  run_options.quiet = global.quiet;
  // CUDA: one worker, whose groups are sized to the GPU's memory; CPU: a worker per core.
  run_options.jobs = options.jobs > 0 ? options.jobs : cuda ? 1 : std::max(1u, std::thread::hardware_concurrency());
  run_options.group_size = options.group_size;
  install_interrupt_handlers();
  RunTotals all;
  for (const auto& sweep : sweeps) {
    run_options.context = make_run_context(SWEEPLAB_TORCH_VERSION, sweep.spec.base.training.threads);
    run_options.context.engine_version = kEngineVersion;
    run_options.context.engine = sweep.spec.base.training.device == "cuda" ? "batched-cuda" : "lean-cpu";
    if (!global.quiet) {
      out << "sweep " << sweep.spec.name << ": " << sweep.trials.size() << " trials"
          << (options.no_save ? " (--no-save: nothing is written)" : " -> " + sweep_dir(global.experiments_dir, sweep.spec.name))
          << "\n";
    }
    const RunTotals totals = run_sweep(sweep, {global.configs_dir, sweep.spec.name, options.overrides}, run_options, trainer, out);
    if (!options.dry_run) {
      std::vector<TrialRow> rows;
      if (run_options.save) {
        rows = trial_rows_from_disk(sweep, global.experiments_dir);
      } else {
        for (std::size_t i = 0; i < sweep.trials.size(); ++i) {
          TrialRow row;
          row.state = totals.states.count(i) ? totals.states.at(i) : "-";
          if (totals.finals.count(i)) row.last = totals.finals.at(i);
          rows.push_back(row);
        }
      }
      out << "\n" << trial_table(sweep, rows);
    }
    out << sweep.spec.name << ": " << totals.completed << " completed, " << totals.diverged << " diverged, "
        << totals.failed << " failed, " << totals.skipped << " skipped";
    if (totals.busy) out << ", " << totals.busy << " left to another process";
    if (totals.interrupted) out << ", " << totals.interrupted << " interrupted (checkpointed; run again to resume)";
    out << "\n";
    if (interrupt_requested()) break;
    all.failed += totals.failed;
    all.interrupted += totals.interrupted;
  }
  if (all.interrupted || interrupt_requested()) return 130;
  if (all.failed) {
    err << "sweeplab: " << all.failed << " trial" << (all.failed == 1 ? "" : "s")
        << " failed; see their summary.json and trial.log\n";
    return 1;
  }
  return 0;
}

}  // namespace sweeplab
