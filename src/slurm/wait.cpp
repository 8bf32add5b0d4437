#include "sweeplab/slurm/wait.hpp"

#include <unistd.h>

#include <chrono>
#include <iostream>
#include <thread>

#include "sweeplab/core/error.hpp"
#include "sweeplab/sched/interrupt.hpp"
#include "sweeplab/sched/plan.hpp"
#include "sweeplab/sched/progress.hpp"
#include "sweeplab/sched/run_sweep.hpp"
#include "sweeplab/slurm/submit_plan.hpp"

namespace sweeplab::slurm {
namespace {

// A summary's outcome, for the line a finished trial gets.
TrialOutcome outcome_of(const StoredSummary& summary) {
  TrialOutcome outcome;
  outcome.status = summary.status == TrialStatus::Completed   ? TrialStatus::Completed
                   : summary.status == TrialStatus::Diverged  ? TrialStatus::Diverged
                   : summary.status == TrialStatus::Skipped   ? TrialStatus::Skipped
                   : summary.status == TrialStatus::Interrupted ? TrialStatus::Interrupted
                                                   : TrialStatus::Failed;
  outcome.final = summary.final;
  outcome.steps = summary.steps;
  outcome.diverged_at_step = summary.diverged_at_step;
  outcome.error = summary.error;
  outcome.wall_time_s = summary.wall_time_s;
  return outcome;
}

// Slurm's tools may fail for a while (a busy or restarting controller): asks again every poll_s seconds, for
// up to 10 minutes, saying so once. Ctrl-C ends the asking (the error is thrown).
template <class Ask>
auto patiently(const Ask& ask, int poll_s, std::ostream& err) -> decltype(ask()) {
  for (int failures = 0;; ++failures) {
    try {
      return ask();
    } catch (const UserError& e) {
      if ((failures + 1) * poll_s > 600 || interrupt_requested()) throw;
      if (failures == 0) err << "sweeplab: " << e.what() << "; asking again every " << poll_s << " s\n";
      for (int tenth = 0; tenth < poll_s * 10 && !interrupt_requested(); ++tenth) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
    }
  }
}

}  // namespace

WaitOutcome wait_for_jobs(const ResolvedSweep& sweep, const std::string& experiments_dir, const std::vector<std::size_t>& watched,
                          int poll_s, bool quiet, std::ostream& out, std::ostream& err) {
  WaitOutcome outcome;
  const std::string root = sweep_dir(experiments_dir, sweep.spec.name);
  const auto records = read_array_records(root);
  const auto ids = job_ids(records);
  std::int64_t expected = 0;
  for (const std::size_t i : watched) expected += expected_steps(sweep.trials[i].config.expand());
  install_interrupt_handlers();
  const bool live = &out == &std::cout && ::isatty(STDOUT_FILENO) && ::isatty(STDERR_FILENO);
  ProgressDisplay display(quiet ? ProgressDisplay::Mode::Quiet : live ? ProgressDisplay::Mode::Live
                                                                             : ProgressDisplay::Mode::Plain,
                          out, watched.size(), expected);
  std::set<std::size_t> started, finished;
  // A summary that is there as the wait begins (a failed trial sent again, an interrupted one) is the old
  // one: the trial is done when its summary changes, or when its task has left the queue.
  const auto signature = [](const TrialState& trial) {
    return trial.summary ? to_string(trial.summary->status) + "|" + trial.summary->slurm_job + "|" +
                               std::to_string(trial.summary->wall_time_s) + "|" + std::to_string(trial.summary->steps)
                         : std::string();
  };
  std::map<std::size_t, std::string> before;
  std::vector<std::string> folders;  // of the current config's trials
  {
    const SweepState state = read_current_trials(sweep, experiments_dir);
    for (const std::size_t i : watched) before[i] = signature(state.trials[i]);
    for (const auto& trial : state.trials) folders.push_back(trial.id);
  }
  std::map<std::string, TrialTask> tasks;
  std::map<std::string, TaskState> ended;  // tasks that left the queue, as they ended
  const auto look = [&](const std::map<std::string, TaskState>& states) {
    tasks = trial_tasks(root, records, states);
    const SweepState state = read_current_trials(sweep, experiments_dir);
    for (const std::size_t i : watched) {
      if (finished.count(i)) continue;
      const auto& trial = state.trials[i];
      const auto& task = tasks[trial.id];
      const bool task_live = task.state && is_live(task.state->state);
      const bool new_result = signature(trial) != before[i] && trial.status != TrialStatus::Interrupted;
      if (at_rest(trial.status) && trial.summary && (new_result || !task_live)) {
        finished.insert(i);
        started.erase(i);
        const auto outcome = outcome_of(*trial.summary);
        display.finished(i, trial_line(trial.id, outcome) + "  [" + task.key + "]", trial.status == TrialStatus::Failed,
                         trial.summary->steps);
        continue;
      }
      const auto last = trial.last();
      if (task_live && task.state->state == "RUNNING" && (trial.status == TrialStatus::Running || last)) {
        if (started.insert(i).second) display.started(i, trial.id, last ? last->step : 0, expected_steps(trial.config.expand()));
        if (last) display.progressed(i, last->epoch, last->step, last->train_loss);
      }
    }
  };
  std::set<std::string> held;
  try {
    while (true) {
      auto states = patiently([&] { return live_tasks(ids); }, poll_s, err);
      // Tasks of watched trials that are not in the queue (any more): what became of them, now.
      bool gone = false;
      const auto now = trial_tasks(root, records, states);
      for (const std::size_t i : watched) {
        const auto task = now.find(folders[i]);
        gone = gone || (task != now.end() && !states.count(task->second.key) && !ended.count(task->second.key));
      }
      if (gone) {
        for (auto& [key, state] : patiently([&] { return task_states(ids); }, poll_s, err)) {
          if (!is_live(state.state)) ended[key] = state;
        }
        record_dead_tasks(sweep, experiments_dir, trial_tasks(root, records, ended));
      }
      for (const auto& [key, state] : ended) states.emplace(key, state);
      look(states);
      bool waiting = false;
      held.clear();
      for (const std::size_t i : watched) {
        const auto& task = tasks[folders[i]];
        if (!task.state || !is_live(task.state->state)) continue;
        if (is_held(*task.state)) held.insert(task.key + " (" + task.state->state +
                                                     (task.state->reason.empty() ? "" : ", " + task.state->reason) + ")");
        else waiting = true;
      }
      if (!waiting) break;
      for (int tenth = 0; tenth < poll_s * 10 && !interrupt_requested(); ++tenth) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        display.tick();
      }
      if (interrupt_requested()) break;
    }
  } catch (const UserError&) {
    if (!interrupt_requested()) throw;
  }
  display.close();
  outcome.interrupted = interrupt_requested();
  outcome.trials = read_current_trials(sweep, experiments_dir);
  outcome.tasks = tasks;
  outcome.held = held;
  for (const std::size_t i : watched) {
    outcome.failed += outcome.trials.trials[i].status == TrialStatus::Failed ? 1 : 0;
    outcome.unfinished += settled(outcome.trials.trials[i].status) ? 0 : 1;
  }
  return outcome;
}

}  // namespace sweeplab::slurm
