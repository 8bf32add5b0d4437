#include <CLI/CLI.hpp>

#include <chrono>
#include <ctime>
#include <map>
#include <ostream>
#include <sstream>
#include <thread>

#include "commands.hpp"
#include "on_disk.hpp"
#include "sweeplab/config/loader.hpp"
#include "sweeplab/core/error.hpp"
#include "sweeplab/core/process.hpp"
#include "sweeplab/core/text.hpp"
#include "sweeplab/report/trial_table.hpp"
#include "sweeplab/sched/interrupt.hpp"
#include "sweeplab/slurm/submissions.hpp"
#include "sweeplab/store/layout.hpp"
#include "sweeplab/store/sweep_state.hpp"
#include "where.hpp"

namespace sweeplab {
namespace {

// Every state a trial can be in, in the totals line's order.
std::vector<std::string> state_words() {
  std::vector<std::string> words;
  for (const TrialStatus status : kAllStatuses) words.push_back(to_string(status));
  return words;
}

// --state values (repeatable, or comma-separated), each checked.
std::vector<TrialStatus> parse_states(const std::vector<std::string>& items) {
  std::vector<TrialStatus> states;
  for (const auto& item : items) {
    std::stringstream parts(item);
    for (std::string state; std::getline(parts, state, ',');) {
      const auto status = parse_status(state);
      if (!status) {
        throw UserError("--state " + item + ": unknown state '" + state + "'" + did_you_mean(state, state_words()) +
                        "; states: " + join(state_words(), ", "));
      }
      states.push_back(*status);
    }
  }
  return states;
}

struct Frame {
  std::string text;
  bool active = false;  // a trial of the sweep is running (locked by a live process) or a Slurm task is queued
};

// The text `status` prints once: the sweep, its last run, its Slurm arrays, and the table of the trials that pass
// the filters.
Frame draw(const GlobalOptions& global, const StatusOptions& options, const ResolvedSweep& sweep,
           const std::vector<WhereFilter>& where, const std::vector<TrialStatus>& states, bool rescan) {
  std::ostringstream out;
  Frame frame;
  ReadOptions read;
  read.pending = options.pending;
  read.rescan = rescan;
  const SweepState state = read_sweep_state(sweep, global.experiments_dir, read);
  out << "sweep " << sweep.spec.name << " (" << sweep_dir(global.experiments_dir, sweep.spec.name) << ")"
      << (sweep.spec.file.empty() ? ": no config (" + global.configs_dir + "/" + sweep.spec.name + ".yaml), the trials on disk" : "")
      << "\n";
  if (!state.runs.empty()) {
    const auto& last = state.runs.back();
    out << "last " << (last.command.empty() ? "run" : last.command) << " " << last.started_at << " with " << overrides_text(last) << " (" << state.runs.size()
        << " run" << (state.runs.size() == 1 ? "" : "s") << " in runs.jsonl)\n";
  }
  // Submitted to Slurm: each array's tasks by state, and a column with each trial's task.
  std::map<std::string, std::string> slurm_column;
  const std::string root = sweep_dir(global.experiments_dir, sweep.spec.name);
  const auto records = slurm::read_array_records(root);
  if (!records.empty()) {
    if (find_program("squeue").empty() || find_program("scontrol").empty()) {
      out << "slurm: " << records.size() << " job array" << (records.size() == 1 ? "" : "s") << " submitted (job "
          << join(slurm::job_ids(records), ", ") << "); squeue is not on PATH here, so their states are unknown\n";
    } else {
      std::map<std::string, slurm::TaskState> task_states;
      try {
        task_states = slurm::task_states(slurm::job_ids(records));
      } catch (const UserError& e) {  // the controller is down or busy: the trials' own files still tell a lot
        out << "slurm: cannot ask the queue (" << e.what() << "); the tasks' states are unknown\n";
      }
      for (const auto& record : records) {
        std::map<std::string, std::size_t> counts;
        for (std::size_t index = 0; index < record.tasks.size(); ++index) {
          const auto found = task_states.find(slurm::task_key(record.job_id, index));
          ++counts[found == task_states.end() ? "gone from the queue" : found->second.state];
          if (found != task_states.end() && slurm::is_live(found->second.state)) frame.active = true;
        }
        std::vector<std::string> parts;
        for (const auto& [state_name, n] : counts) parts.push_back(std::to_string(n) + " " + state_name);
        out << "slurm job " << record.job_id << " (submitted " << record.submitted_at << "): " << record.tasks.size()
            << " task" << (record.tasks.size() == 1 ? "" : "s") << ", " << join(parts, ", ") << "\n";
      }
      for (const auto& [id, task] : slurm::trial_tasks(root, records, task_states)) slurm_column[id] = slurm::task_text(task);
    }
  }
  for (const auto& trial : state.trials) frame.active = frame.active || trial.status == TrialStatus::Running;

  if (state.trials.empty()) {
    out << "no trials in " << sweep_dir(global.experiments_dir, sweep.spec.name) << " yet\n";
  } else if (where.empty() && states.empty()) {
    out << trial_table(state, sweep, slurm_column);
  } else {
    std::vector<std::size_t> shown;  // each keeps its number in the whole table
    for (std::size_t i = 0; i < state.trials.size(); ++i) {
      const auto& trial = state.trials[i];
      const bool state_ok = states.empty() || std::find(states.begin(), states.end(), trial.status) != states.end();
      if (state_ok && matches(trial.config, where)) shown.push_back(i);
    }
    // The filtered table's own totals line gives way to one that says how many are shown of how many.
    SweepState none;  // no row matches: the header alone
    none.spec = state.spec;
    std::string table = shown.empty() ? trial_table(none, sweep, slurm_column) : trial_table(state, sweep, slurm_column, shown);
    table.erase(table.rfind('\n', table.size() - 2) + 1);
    std::string all = trial_table(state, sweep);
    all.erase(0, all.rfind('\n', all.size() - 2) + 1);  // "12 trials: 8 completed, 4 failed\n"
    std::vector<std::string> filters;
    for (const auto& item : options.where) filters.push_back("--where " + item);
    for (const auto& item : options.states) filters.push_back("--state " + item);
    const auto colon = all.find(": ");
    out << table << "shown " << shown.size() << " of " << state.trials.size() << " trials (" << join(filters, " ")
        << "); all: " << (colon == std::string::npos ? all : all.substr(colon + 2));
  }
  for (const auto& duplicate : state.duplicates) {
    out << "trials/" << duplicate.folder << " holds the same trial as trials/" << duplicate.kept
        << " (a folder named by an older sweeplab); the next run sets it aside\n";
  }
  out << not_run_line(state, sweep, options.overrides, options.pending);
  frame.text = out.str();
  return frame;
}

std::string clock_now() {
  const std::time_t now = std::time(nullptr);
  std::tm local = {};
  localtime_r(&now, &local);
  char text[16];
  std::strftime(text, sizeof text, "%H:%M:%S", &local);
  return text;
}

// Sleeps `seconds` in short slices; false when Ctrl-C (or SIGTERM) came meanwhile.
bool sleep_unless_interrupted(double seconds) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (std::chrono::steady_clock::now() < until) {
    if (interrupt_requested()) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return !interrupt_requested();
}

}  // namespace

CLI::App* setup_status(CLI::App& app, StatusOptions& options) {
  CLI::App* command = app.add_subcommand("status", "Each trial's state, progress and final metrics; totals");
  command->add_option("name", options.name, "Sweep name")->required();
  add_override_option(*command, options.overrides);
  add_where_option(*command, options.where);
  command->add_flag("--pending", options.pending,
                    "Also list the current config's trials that are not run yet (otherwise one line counts them)");
  command->add_flag("--rescan", options.rescan,
                    "Read every trial's files again and rebuild the trial index (after files were changed by hand)");
  command->add_option("--state", options.states,
                      "Only trials in this state (repeatable, or a,b): " + join(state_words(), ", "))
      ->expected(1)
      ->take_all();
  command->add_flag("--watch", options.watch,
                    "Redraw every --interval seconds until no trial of the sweep is running and no Slurm task of it "
                    "is queued (in place on a terminal; otherwise one table after another)");
  command->add_option("--interval", options.interval_s, "Seconds between redraws with --watch")
      ->check(CLI::Range(0.1, 3600.0))
      ->capture_default_str();
  command->footer(
      "--watch ends by itself (exit 0) once nothing of the sweep runs: no trial is locked by a live process and no\n"
      "Slurm task of it is queued, seen twice a moment apart; on a sweep where nothing runs it prints the table once.\n"
      "Ctrl-C ends it with exit 130 (it stops the watching, not the trials).\n\n"
      "Examples:\n  sweeplab status doughnut-batch\n  sweeplab status doughnut-batch -o epochs=1000\n"
      "  sweeplab status doughnut-batch --state failed --state diverged\n"
      "  sweeplab status doughnut-batch --where lr=0.1 --watch");
  return command;
}

int run_status(const GlobalOptions& global, const StatusOptions& options, std::ostream& out, std::ostream&) {
  const auto states = parse_states(options.states);
  const auto where = parse_where(options.where);
  const auto sweep = load_or_on_disk(global, options.name, options.overrides);
  if (!options.watch) {
    out << draw(global, options, sweep, where, states, options.rescan).text;
    return 0;
  }
  install_interrupt_handlers();
  const bool terminal = is_terminal(out);
  for (bool first = true;; first = false) {
    Frame frame = draw(global, options, sweep, where, states, options.rescan && first);
    if (!frame.active) {
      // A run between two trials holds no lock for a moment: look again before calling the sweep done.
      if (!sleep_unless_interrupted(std::min(options.interval_s, 1.0))) return 130;
      frame = draw(global, options, sweep, where, states, false);
    }
    const std::string heading = "status " + options.name + " at " + clock_now() + ", every " +
                                format_double_short(options.interval_s) + " s (Ctrl-C ends it)\n";
    if (terminal) {
      // Home, then each line cleared to its end, then the rest of the screen: no flicker, no stale lines.
      std::string text = heading + frame.text, drawn = first ? "\033[2J" : "";
      drawn += "\033[H";
      for (std::size_t at = 0; at < text.size();) {
        const auto end = text.find('\n', at);
        drawn += text.substr(at, end - at) + "\033[K\n";
        at = end == std::string::npos ? text.size() : end + 1;
      }
      out << drawn << "\033[J" << std::flush;
    } else {
      out << (first ? "" : "\n") << heading << frame.text << std::flush;
    }
    if (!frame.active) {
      out << "nothing of " << options.name << " is running: watch ended\n";
      return 0;
    }
    if (!sleep_unless_interrupted(options.interval_s)) {
      out << "watch stopped (the trials go on)\n";
      return 130;
    }
  }
}

}  // namespace sweeplab
