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

namespace {

// What `run` would do with a trial, as the front end can tell from its files (a worker decides again
// under the trial's lock).
struct Plan {
  std::string action;  // for --dry-run: train, resume, extend, skip, repair, ...
  bool trains = true;
  bool extends = false;  // a completed trial whose budget the current config raises
  std::string skipped_because;  // when it does not train
};

Plan train(const std::string& action, bool extends = false) {
  Plan plan;
  plan.action = action;
  plan.extends = extends;
  return plan;
}

Plan skip(const std::string& reason) {
  Plan plan;
  plan.action = "skip: " + reason;
  plan.trains = false;
  plan.skipped_because = reason;
  return plan;
}

// A trial that sweep.prune rules out by the files already (`pruned`: why): it is recorded skipped by the run
// (trains stays true: the scheduler writes its summary.json), unless its files say so already or hold a
// result that stays (completed, diverged, failed without --retry-failed).
Plan pruned_plan(const TrialState& trial, const RunCommandOptions& options, const std::string& pruned) {
  const std::string& status = trial.status;
  if (status == "skipped" && trial.summary && trial.summary->skip_reason == pruned) return skip(pruned);
  if (status == "diverged") return skip("diverged already");
  if (status == "completed") return skip("completed already");
  if (status == "failed" && !options.retry_failed) return skip("failed earlier (--retry-failed records it as skipped)");
  if (status == "running") return train("leave to pid " + std::to_string(trial.running_pid.value_or(0)) + " while it runs");
  Plan plan = skip(pruned);
  plan.trains = true;
  return plan;
}

Plan plan_for(const TrialState& trial, const RunCommandOptions& options, const std::string& pruned = "") {
  const std::string& status = trial.status;
  if (options.fresh) return train("train from scratch (--fresh)");
  if (!pruned.empty()) return pruned_plan(trial, options, pruned);
  if (status == "pending") return train("train");
  if (status == "skipped") {
    return train("train (skipped before" + (trial.summary && !trial.summary->skip_reason.empty()
                                                ? ": " + trial.summary->skip_reason : std::string()) +
                 "; nothing rules it out now)");
  }
  // A worker looks again under the trial's lock: the holder may be gone by then (a run just killed).
  if (status == "running") return train("leave to pid " + std::to_string(trial.running_pid.value_or(0)) + " while it runs");
  if (status == "unreadable") return train("repair (" + trial.problem + ")");
  if (status == "failed") {
    return options.retry_failed ? train("train again") : skip("failed earlier (--retry-failed runs it again)");
  }
  if ((status == "completed" || status == "diverged") && trial.unreadable_lines > 0) {
    return train("repair metrics.jsonl (" + std::to_string(trial.unreadable_lines) + " unreadable line" +
                 (trial.unreadable_lines == 1 ? "" : "s") + ")");
  }
  if (status == "diverged") return skip("diverged already");
  if (status == "completed") {
    const auto& summary = *trial.summary;
    const Config& planned = trial.planned ? *trial.planned : trial.spec.config;
    if (!budget_raised(summary, planned)) return skip("completed already");
    return train("extend from " + done_text(summary, planned) + " to " + budget_text(planned), /*extends=*/true);
  }
  return train("resume");  // partial, interrupted
}

// The experiments path must be a folder that is (or can be) written to, before anything is trained.
void check_experiments_path(const std::string& path, const std::string& sweep_name) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::path target(path.empty() ? "." : path);
  if (fs::exists(target, ec)) {
    if (!fs::is_directory(target, ec)) {
      throw UserError("--experiments " + path + ": is a file, not a folder (give a folder, e.g. --experiments experiments)");
    }
    for (const fs::path& folder : {target, target / sweep_name, target / sweep_name / "trials"}) {
      if (fs::exists(folder, ec) && ::access(folder.c_str(), W_OK) != 0) {
        throw UserError("--experiments " + path + ": cannot write " + (folder == target ? "there" : "in " + folder.string()) +
                        " (" + std::strerror(errno) + "); give a writable folder with --experiments");
      }
    }
    return;
  }
  fs::path parent = fs::absolute(target, ec).parent_path();
  while (!parent.empty() && !fs::exists(parent, ec) && parent != parent.root_path()) parent = parent.parent_path();
  if (!fs::is_directory(parent, ec)) {
    throw UserError("--experiments " + path + ": cannot be created (" + parent.string() + " is not a folder)");
  }
  if (::access(parent.c_str(), W_OK) != 0) {
    throw UserError("--experiments " + path + ": cannot be created in " + parent.string() + " (" + std::strerror(errno) +
                    "); give a writable folder with --experiments");
  }
}

// sweep.prune: above_divergence, as the files tell before the run: for each trial, why it is skipped (a trial
// of its line with a smaller learning rate diverged), or "". The run decides again as its waves finish.
std::vector<std::string> pruned_by_files(const ResolvedSweep& sweep, const SweepState& state, bool fresh) {
  std::vector<std::string> reasons(sweep.trials.size());
  if (sweep.spec.prune != Prune::AboveDivergence || fresh) return reasons;
  DivergenceBoundary boundary(sweep);
  for (std::size_t i = 0; i < sweep.trials.size(); ++i) {
    const auto& summary = state.trials[i].summary;
    if (state.trials[i].status == "diverged" && summary) boundary.diverged(i, summary->diverged_at_step.value_or(summary->steps));
  }
  for (std::size_t i = 0; i < sweep.trials.size(); ++i) reasons[i] = boundary.reason(i);
  return reasons;
}

RunRecord run_record(const RunCommandOptions& options, const RunContext& context, std::size_t trials) {
  RunRecord record;
  record.started_at = context.started_at;
  record.command = "run";
  record.overrides = options.overrides;
  if (options.fresh) record.flags.push_back("--fresh");
  if (options.retry_failed) record.flags.push_back("--retry-failed");
  record.sweeplab_version = context.sweeplab_version;
  record.git_commit = context.git_commit;
  record.host = context.host;
  if (const char* user = std::getenv("USER")) record.user = user;
  record.trials = trials;
  return record;
}

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
  std::set<std::string> checked;
  bool cuda = false;
  for (const auto& name : options.names) {
    sweeps.push_back(load_sweep(global.configs_dir, name, options.overrides, load_options(global)));
    for (const auto& trial : sweeps.back().trials) {
      const auto& task = trial.config.task;  // every key check_task_inputs reads
      const std::string inputs = task.name + "|" + task.path + "|" + task.label_column + "|" + task.inputs_key + "|" +
                                 task.labels_key + "|" + task.binary_loss + "|" + std::to_string(task.test_fraction);
      if (checked.insert(inputs).second) check_task_inputs(trial.config);
      cuda = cuda || trial.config.training.device == "cuda";
    }
  }
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
      plan.push_back(plan_for(trial, options, pruned[i]));
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
        append_run_record(root, run_record(options, run_options.context, sweep.trials.size()));
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
