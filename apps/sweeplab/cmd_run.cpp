#include <CLI/CLI.hpp>
#include <unistd.h>

#include <cstdio>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include <ostream>
#include <algorithm>
#include <set>
#include <thread>

#include "commands.hpp"
#include "run_plan.hpp"
#include "sweeplab/config/schema.hpp"
#include "sweeplab/core/error.hpp"
#include "sweeplab/core/fs.hpp"
#include "sweeplab/core/table.hpp"
#include "sweeplab/core/text.hpp"
#include "sweeplab/report/trial_table.hpp"
#include "sweeplab/sched/interrupt.hpp"
#include "sweeplab/sched/run_sweep.hpp"
#include "sweeplab/store/history.hpp"
#include "sweeplab/store/layout.hpp"
#include "sweeplab/store/sweep_state.hpp"
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

// What the first line says besides the trial count: completed trials this run extends, and with what
// overrides they were run before.
std::string extension_note(const SweepState& state, const std::vector<Plan>& plans) {
  std::size_t extended = 0;
  std::string from, to;
  for (std::size_t i = 0; i < plans.size(); ++i) {
    if (!plans[i].extends) continue;
    ++extended;
    const auto& trial = state.trials[i];
    const Config& planned = trial.planned ? *trial.planned : trial.spec.config;
    from = done_text(*trial.summary, planned);
    to = budget_text(planned);
  }
  if (extended == 0) return "";
  std::string note = "; extends " + std::to_string(extended) + " completed trial" + (extended == 1 ? "" : "s") + " from " +
                     from + " to " + to;
  if (!state.runs.empty()) note += " (the last run had " + overrides_text(state.runs.back()) + ")";
  return note;
}

}  // namespace

int run_run(const GlobalOptions& global, const RunCommandOptions& options, std::ostream& out, std::ostream& err) {
  // Everything is checked before anything is trained or written.
  std::vector<ResolvedSweep> sweeps;
  for (const auto& name : options.names) {
    sweeps.push_back(load_sweep(global.configs_dir, name, options.overrides, load_options(global)));
  }
  const bool cuda = check_inputs(sweeps);
  const std::string trainer = locate_trainer();
  if (cuda) check_cuda(trainer);

  // What each trial's files say, and so what this run would do with it.
  std::vector<SweepState> states;
  std::vector<std::vector<Plan>> plans;
  bool anything_to_train = false;
  for (const auto& sweep : sweeps) {
    ReadOptions read;
    read.metrics = false;
    SweepState state = read_sweep_state(sweep, global.experiments_dir, read);
    state.trials.resize(sweep.trials.size());  // only the trials this run selects
    std::vector<Plan> plan;
    const auto pruned = pruned_by_files(sweep, state, options.fresh);
    for (std::size_t i = 0; i < state.trials.size(); ++i) {
      const auto& trial = state.trials[i];
      plan.push_back(plan_for(trial, {options.fresh, options.retry_failed}, pruned[i]));
      anything_to_train = anything_to_train || plan.back().trains;
    }
    states.push_back(std::move(state));
    plans.push_back(std::move(plan));
  }

  if (options.dry_run) {
    for (std::size_t s = 0; s < sweeps.size(); ++s) {
      const auto& sweep = sweeps[s];
      out << "sweep " << sweep.spec.name << ": " << sweep.trials.size() << " trials -> "
          << sweep_dir(global.experiments_dir, sweep.spec.name) << extension_note(states[s], plans[s]) << "\n";
      Table table({"#", "trial", "state", "progress", "would"});
      for (std::size_t i = 0; i < sweep.trials.size(); ++i) {
        const auto& trial = states[s].trials[i];
        std::string progress = "-";
        if (trial.summary && trial.summary->status != "unreadable") {
          const Config& run = trial.spec.config;
          progress = done_text(*trial.summary, run) + " of " + budget_text(run);
        }
        table.add_row({std::to_string(i + 1), trial.spec.id, trial.status, progress, plans[s][i].action});
      }
      out << table.str();
    }
    return 0;
  }
  if (!options.no_save && anything_to_train) {
    for (const auto& sweep : sweeps) check_experiments_path(global.experiments_dir, sweep.spec.name);
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
  std::size_t failed = 0, interrupted = 0;
  std::string storage_error;
  std::vector<std::string> failed_sweeps;
  for (std::size_t s = 0; s < sweeps.size(); ++s) {
    const auto& sweep = sweeps[s];
    const std::string root = sweep_dir(global.experiments_dir, sweep.spec.name);
    run_options.context = make_run_context(SWEEPLAB_TORCH_VERSION, sweep.spec.base.training.threads);
    run_options.context.engine_version = kEngineVersion;
    run_options.context.engine = sweep.spec.base.training.device == "cuda" ? "batched-cuda" : "lean-cpu";
    const bool trains = std::any_of(plans[s].begin(), plans[s].end(), [](const Plan& plan) { return plan.trains; });
    if (!global.quiet || sweeps.size() > 1) {
      out << "sweep " << sweep.spec.name << ": " << sweep.trials.size() << " trials"
          << (options.no_save ? " (--no-save: nothing is written)" : " -> " + root) << extension_note(states[s], plans[s])
          << (trains ? "" : "; nothing to train") << "\n";
    }
    RunTotals totals;
    if (!trains) {  // said here: no worker is started (nothing is written, so a read-only disk is fine)
      for (std::size_t i = 0; i < plans[s].size(); ++i) {
        if (!global.quiet) out << sweep.trials[i].id << "  " << plans[s][i].skipped_because << ", skipped\n";
        ++totals.skipped;
      }
    } else {
      if (run_options.save) {
        create_folders(root);
        std::vector<std::string> flags;
        if (options.fresh) flags.push_back("--fresh");
        if (options.retry_failed) flags.push_back("--retry-failed");
        append_run_record(root, run_record("run", options.overrides, flags, run_options.context, sweep.trials.size()));
      }
      totals = run_sweep(sweep, {global.configs_dir, sweep.spec.name, options.overrides, global.max_trials}, run_options, trainer, out);
    }
    SweepState after = states[s];
    if (run_options.save) {
      ReadOptions read;
      read.metrics = false;
      after = read_sweep_state(sweep, global.experiments_dir, read);
      after.trials.resize(sweep.trials.size());
    } else {
      for (std::size_t i = 0; i < after.trials.size(); ++i) {
        after.trials[i].status = totals.states.count(i) ? totals.states.at(i) : "-";
        after.trials[i].summary.reset();
        after.trials[i].metrics.clear();
        if (totals.finals.count(i)) after.trials[i].metrics.push_back(totals.finals.at(i));
      }
    }
    out << "\n" << trial_table(after);
    out << sweep.spec.name << ": " << totals.completed << " completed, " << totals.diverged << " diverged, "
        << totals.failed << " failed, " << totals.skipped << " skipped";
    if (totals.busy) out << ", " << totals.busy << " left to another process";
    if (totals.interrupted) out << ", " << totals.interrupted << " interrupted (checkpointed; run again to resume)";
    out << "\n";
    // Failed counts every selected trial that is failed now, including one that failed in an earlier run.
    std::size_t failed_here = 0;
    for (const auto& trial : after.trials) failed_here += trial.status == "failed" ? 1 : 0;
    if (failed_here > 0) failed_sweeps.push_back(sweep.spec.name);
    failed += failed_here;
    interrupted += std::size_t(totals.interrupted);
    if (storage_error.empty()) storage_error = totals.storage_error;
    if (interrupt_requested() || !storage_error.empty()) break;
  }
  if (!storage_error.empty()) {
    err << "sweeplab: storage error: " << storage_error << "; state is safe; rerun to resume\n";
    return 3;
  }
  if (interrupted || interrupt_requested()) return 130;
  if (failed) {
    err << "sweeplab: " << failed << " trial" << (failed == 1 ? "" : "s")
        << " failed (see their summary.json and trial.log); to train them again: sweeplab run "
        << join(failed_sweeps, " ") << " --retry-failed\n";
    return 1;
  }
  return 0;
}

}  // namespace sweeplab
