#include <CLI/CLI.hpp>
#include <unistd.h>

#include <cstdio>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include <ostream>
#include <algorithm>
#include <map>
#include <set>
#include <thread>

#include "commands.hpp"
#include "run_checks.hpp"
#include "sweeplab/config/schema.hpp"
#include "sweeplab/core/error.hpp"
#include "sweeplab/core/fs.hpp"
#include "sweeplab/core/table.hpp"
#include "sweeplab/core/text.hpp"
#include "sweeplab/engine/trainer.hpp"
#include "sweeplab/report/trial_table.hpp"
#include "sweeplab/sched/interrupt.hpp"
#include "sweeplab/sched/plan.hpp"
#include "sweeplab/sched/refine.hpp"
#include "sweeplab/sched/run_sweep.hpp"
#include "sweeplab/store/history.hpp"
#include "sweeplab/store/layout.hpp"
#include "sweeplab/store/sweep_state.hpp"

namespace sweeplab {

// The table at the end of a run lists each trial up to this many; a larger sweep gets its totals (status lists it).
constexpr std::size_t kLargestTable = 200;

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
std::string extension_note(const SweepState& state, const SweepPlan& plan) {
  if (plan.extended == 0) return "";
  std::string note = "; extends " + std::to_string(plan.extended) + " completed trial" + (plan.extended == 1 ? "" : "s") +
                     " from " + plan.extended_from + " to " + plan.extended_to;
  if (!state.runs.empty()) note += " (the last run had " + overrides_text(state.runs.back()) + ")";
  return note;
}

// The trials a run leaves as they are, said before it starts: each on a line of its own when there are few, else
// counted by why.
std::string unchanged_text(const SweepPlan& plan) {
  std::vector<std::size_t> left;
  for (std::size_t i = 0; i < plan.decisions.size(); ++i) {
    if (!plan.decisions[i].taken()) left.push_back(i);
  }
  std::string text;
  if (left.size() <= 20) {
    for (const auto i : left) text += plan.folders[i] + "  " + plan.decisions[i].why + "\n";
    return text;
  }
  std::map<std::string, std::size_t> by_why;
  for (const auto i : left) ++by_why[plan.decisions[i].why];
  for (const auto& [why, n] : by_why) text += std::to_string(n) + " trials: " + why + "\n";
  return text;
}

// The folders that hold a trial another folder holds too (made by an older sweeplab) go to set-aside/, one line each.
void set_aside_duplicates(const SweepState& state, const std::string& root, std::ostream& out) {
  for (const auto& duplicate : state.duplicates) {
    const auto moved = set_aside_trial(root, duplicate.folder);
    if (moved.empty()) {
      out << "trials/" << duplicate.folder << " holds the same trial as trials/" << duplicate.kept
          << " but is busy; it stays until a later run\n";
    } else {
      out << "set aside trials/" << duplicate.folder << " as " << moved << ": the same trial as trials/" << duplicate.kept
          << ", which holds more\n";
    }
  }
}

}  // namespace

int run_run(const GlobalOptions& global, const RunCommandOptions& options, std::ostream& out, std::ostream& err) {
  // Everything is checked before anything is trained or written.
  std::vector<ResolvedSweep> sweeps;
  for (const auto& name : options.names) {
    sweeps.push_back(load_sweep(global.configs_dir, name, options.overrides, load_options(global)));
  }
  for (auto& sweep : sweeps) {
    if (!sweep.spec.refine.on()) continue;
    if (options.no_save) {
      throw UserError(sweep.spec.refine.source + ": sweep.refine: each wave is computed from the results of the one "
                      "before, read from the trials' files, which --no-save does not write; run without --no-save");
    }
    // The waves the files decide already (all of them are trained again with --fresh, from the grid on).
    if (!options.fresh) sweep = refine_from_files(sweep, global.experiments_dir);
  }
  const bool cuda = check_inputs(sweeps);
  const std::string trainer = locate_trainer();
  if (cuda) check_cuda(trainer);

  // What each trial's files say (found by hash, whatever folder holds it), and so what this run does with it.
  std::vector<SweepState> states;
  std::vector<SweepPlan> plans;
  bool anything_to_train = false;
  ReadOptions read;
  read.narrow = false;
  for (const auto& sweep : sweeps) {
    states.push_back(read_sweep_state(sweep, global.experiments_dir, read));
    plans.push_back(plan_sweep(sweep, states.back(), {options.fresh, options.retry_failed}));
    anything_to_train = anything_to_train || plans.back().takes_any();
  }

  if (options.dry_run) {
    for (std::size_t s = 0; s < sweeps.size(); ++s) {
      const auto& sweep = sweeps[s];
      const SweepState view = current_view(states[s], sweep);
      out << "sweep " << sweep.spec.name << ": " << sweep.trials.size() << " trials"
          << (sweep.spec.refined.empty() ? "" : " (" + std::to_string(sweep.spec.refined.size()) + " refined by sweep.refine)")
          << " -> " << sweep_dir(global.experiments_dir, sweep.spec.name) << extension_note(states[s], plans[s]) << "\n";
      for (const auto& duplicate : states[s].duplicates) {
        out << "would set aside trials/" << duplicate.folder << ": the same trial as trials/" << duplicate.kept << "\n";
      }
      Table table({"#", "trial", "state", "progress", "would"});
      for (std::size_t i = 0; i < sweep.trials.size(); ++i) {
        const auto& trial = view.trials[i];
        std::string progress = "-";
        if (trial.summary && trial.summary->status != TrialStatus::Unreadable) {
          const Config run = trial.config.expand();
          progress = done_text(*trial.summary, run) + " of " + budget_text(run);
        }
        table.add_row({std::to_string(i + 1), plans[s].folders[i], to_string(trial.status), progress,
                       plans[s].decisions[i].text});
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
    ResolvedSweep& sweep = sweeps[s];  // sweep.refine adds trials to it, wave after wave
    const SweepPlan& plan = plans[s];
    const std::string root = sweep_dir(global.experiments_dir, sweep.spec.name);
    run_options.context = make_run_context(SWEEPLAB_TORCH_VERSION, sweep.spec.base.training.threads);
    run_options.context.engine_version = kEngineVersion;
    run_options.context.engine = sweep.spec.base.training.device == "cuda" ? "batched-cuda" : "lean-cpu";
    run_options.folders = plan.folders;
    run_options.only.clear();
    for (std::size_t i = 0; i < plan.decisions.size(); ++i) {
      if (plan.decisions[i].taken()) run_options.only.push_back(i);
    }
    const bool trains = !run_options.only.empty();
    if (!global.quiet || sweeps.size() > 1) {
      out << "sweep " << sweep.spec.name << ": " << sweep.trials.size() << " trials"
          << (sweep.spec.refined.empty() ? "" : " (" + std::to_string(sweep.spec.refined.size()) + " refined by sweep.refine)")
          << (options.no_save ? " (--no-save: nothing is written)" : " -> " + root) << extension_note(states[s], plan)
          << (trains ? "" : "; nothing to train") << "\n";
    }
    if (run_options.save) set_aside_duplicates(states[s], root, out);
    if (!global.quiet) out << unchanged_text(plan);
    RunTotals totals;
    totals.unchanged = int(plan.decisions.size() - run_options.only.size());
    if (trains) {  // else no worker is started (nothing is written, so a read-only disk is fine)
      if (run_options.save) {
        create_folders(root);
        std::vector<std::string> flags;
        if (options.fresh) flags.push_back("--fresh");
        if (options.retry_failed) flags.push_back("--retry-failed");
        append_run_record(root, run_record("run", options.overrides, flags, run_options.context, sweep.trials.size()));
      }
      const RunTotals trained = run_sweep(sweep, {global.configs_dir, sweep.spec.name, options.overrides, global.max_trials,
                                                  sweep.spec.refined},
                                          run_options, trainer, out);
      const int unchanged = totals.unchanged;
      totals = trained;
      totals.unchanged += unchanged;
    }
    // sweep.refine: a wave is computed once the one before has settled, from the files alone, and trains its new
    // trials only (earlier ones were decided above). A wave adds nothing when no line needs a point or each line has had
    // sweep.refine.waves waves.
    bool grew = false;
    bool trained_any = trains;
    while (sweep.spec.refine.on() && !interrupt_requested() && totals.storage_error.empty()) {
      const SweepState now = read_sweep_state(sweep, global.experiments_dir, read);
      const auto points = next_refine_wave(sweep, settled_trials(sweep, now));
      if (points.empty()) break;
      const std::size_t before = sweep.trials.size();
      sweep = with_refined(std::move(sweep), points);
      grew = true;
      const SweepPlan wave_plan = plan_sweep(sweep, read_sweep_state(sweep, global.experiments_dir, read),
                                             {options.fresh, options.retry_failed});
      run_options.folders = wave_plan.folders;
      run_options.only.clear();
      for (std::size_t i = before; i < sweep.trials.size(); ++i) {
        if (wave_plan.decisions[i].taken()) run_options.only.push_back(i);
      }
      std::int64_t wave = 0;
      std::set<std::string> lines;
      for (const auto& point : points) {
        wave = std::max(wave, point.wave);
        lines.insert(refine_line(sweep.trials[point.base].config));
      }
      if (!global.quiet) {
        out << "sweep.refine: wave " << wave << ": " << points.size() << " refined trial" << (points.size() == 1 ? "" : "s")
            << " on " << lines.size() << " line" << (lines.size() == 1 ? "" : "s") << ", " << run_options.only.size()
            << " to train\n";
      }
      totals.unchanged += int(points.size() - run_options.only.size());
      if (run_options.only.empty()) continue;
      trained_any = true;
      const RunTotals trained = run_sweep(sweep, {global.configs_dir, sweep.spec.name, options.overrides, global.max_trials,
                                                  sweep.spec.refined},
                                          run_options, trainer, out);
      totals.completed += trained.completed;
      totals.diverged += trained.diverged;
      totals.failed += trained.failed;
      totals.interrupted += trained.interrupted;
      totals.skipped += trained.skipped;
      totals.unchanged += trained.unchanged;
      totals.busy += trained.busy;
      if (totals.storage_error.empty()) totals.storage_error = trained.storage_error;
    }
    SweepState after;
    if (run_options.save) {
      after = current_view(trained_any || grew ? read_sweep_state(sweep, global.experiments_dir, read) : states[s], sweep);
    } else {
      after = current_view(states[s], sweep);
      for (std::size_t i = 0; i < after.trials.size(); ++i) {
        auto& trial = after.trials[i];
        trial.status = totals.states.count(i) ? totals.states.at(i) : TrialStatus::Pending;
        trial.summary.reset();
        trial.last_record.reset();
        if (totals.finals.count(i)) trial.last_record = std::make_shared<const EvalRecord>(totals.finals.at(i));
      }
    }
    if (after.trials.size() <= kLargestTable) {
      out << "\n" << trial_table(after, sweep);
    } else {
      std::map<TrialStatus, int> counts;
      for (const auto& trial : after.trials) ++counts[trial.status];
      std::vector<std::string> parts;
      for (const auto status : kAllStatuses) {
        if (counts.count(status)) parts.push_back(std::to_string(counts[status]) + " " + to_string(status));
      }
      out << "\n" << after.trials.size() << " trials: " << join(parts, ", ") << " (sweeplab status " << sweep.spec.name
          << " lists them)\n";
    }
    out << sweep.spec.name << ": " << totals.completed << " completed, " << totals.diverged << " diverged, "
        << totals.failed << " failed, " << totals.skipped << " skipped";
    if (totals.unchanged) out << ", " << totals.unchanged << " unchanged";
    if (totals.busy) out << ", " << totals.busy << " left to another process";
    if (totals.interrupted) out << ", " << totals.interrupted << " interrupted (checkpointed; run again to resume)";
    out << "\n";
    // Failed counts every selected trial that is failed now, including one that failed in an earlier run.
    std::size_t failed_here = 0;
    for (const auto& trial : after.trials) failed_here += trial.status == TrialStatus::Failed ? 1 : 0;
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
