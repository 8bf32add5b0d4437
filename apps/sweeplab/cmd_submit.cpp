// sweeplab submit NAME --slurm: the trials a `run` would train, as Slurm job arrays (one array task per fused
// group); sweeplab slurm-task: what each array task runs; sweeplab cancel NAME. Slurm is driven through its
// own tools (sweeplab/slurm/slurm.hpp); what was sent is kept in experiments/NAME/slurm/.
#include <CLI/CLI.hpp>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <sstream>
#include <filesystem>
#include <iostream>
#include <map>
#include <numeric>
#include <optional>
#include <ostream>
#include <regex>
#include <set>
#include <thread>

#include "commands.hpp"
#include "run_plan.hpp"
#include "sweeplab/core/error.hpp"
#include "sweeplab/core/fs.hpp"
#include "sweeplab/core/text.hpp"
#include "sweeplab/engine/fusion.hpp"
#include "sweeplab/report/trial_table.hpp"
#include "sweeplab/sched/interrupt.hpp"
#include "sweeplab/sched/progress.hpp"
#include "sweeplab/sched/run_sweep.hpp"
#include "sweeplab/slurm/submissions.hpp"
#include "sweeplab/store/history.hpp"
#include "sweeplab/store/lock.hpp"
#include "sweeplab/store/layout.hpp"
#include "sweeplab/store/sweep_state.hpp"
#include "sweeplab/store/trial_files.hpp"
#include "sweeplab/train/trainer.hpp"

namespace fs = std::filesystem;

namespace sweeplab {

CLI::App* setup_submit(CLI::App& app, SubmitOptions& options) {
  CLI::App* command = app.add_subcommand(
      "submit", "Send the trials a run would train to Slurm as job arrays (only what is missing); see README");
  command->add_option("name", options.name, "Sweep name")->required();
  add_override_option(*command, options.overrides);
  command->add_flag("--slurm", options.slurm, "Submit to Slurm (sbatch); required");
  command->add_option("--partition", options.partition, "sbatch --partition");
  command->add_option("--time", options.time, "Each array task's time limit, sbatch --time (e.g. 04:00:00, 2-00:00:00)");
  command->add_option("--cpus-per-task", options.cpus_per_task,
                      "CPUs per array task; a task trains its trials in this many worker processes (default 1)")
      ->check(CLI::Range(1, 1024));
  command->add_option("--mem", options.mem, "Memory per array task, sbatch --mem (e.g. 4G)");
  command->add_option("--gres", options.gres, "Generic resources per task, sbatch --gres (e.g. gpu:1)");
  command->add_option("--account", options.account, "sbatch --account");
  command->add_option("--max-running", options.max_running, "Most array tasks running at once (the array's %N)")
      ->check(CLI::Range(1, 1000000));
  command->add_option("--sbatch-arg", options.sbatch_args, "Another sbatch option, as one word (--sbatch-arg=--qos=long)")
      ->take_all();
  command->add_option("--group-size", options.group_size,
                      "Most trials fused into one array task (default: 64 on CPU, 4096 on CUDA); 1: a task per trial")
      ->check(CLI::Range(1, 1000000));
  command->add_flag("--retry-failed", options.retry_failed, "Submit failed trials again (by default they are not)");
  command->add_flag("--dry-run", options.dry_run, "Print the scripts and array ranges; submit nothing, write nothing");
  command->add_flag("--wait", options.wait, "Show progress until every task of the sweep has left the queue; exit as run does");
  command->add_option("--poll", options.poll_s, "Seconds between two looks at the queue (squeue) while waiting")
      ->check(CLI::Range(1, 3600))
      ->capture_default_str();
  command->footer(
      "Examples:\n  sweeplab submit doughnut-batch --slurm --time 01:00:00 --max-running 20\n"
      "  sweeplab submit doughnut-batch --slurm --dry-run\n  sweeplab submit doughnut-batch --slurm --wait\n\n"
      "The experiments folder must be on a filesystem every node sees (see README, \"On a Slurm cluster\").");
  return command;
}

CLI::App* setup_slurm_task(CLI::App& app, SlurmTaskOptions& options) {
  CLI::App* command = app.add_subcommand("slurm-task", "What a Slurm array task of `submit` runs (not for people)");
  command->group("");  // hidden from the help
  command->add_option("name", options.name, "Sweep name")->required();
  add_override_option(*command, options.overrides);
  command->add_option("--tasks", options.tasks_file, "The array's task list")->required();
  command->add_flag("--retry-failed", options.retry_failed, "Train failed trials again");
  return command;
}

CLI::App* setup_cancel(CLI::App& app, CancelOptions& options) {
  CLI::App* command = app.add_subcommand("cancel", "Cancel the sweep's Slurm jobs (running trials checkpoint first)");
  command->add_option("name", options.name, "Sweep name")->required();
  command->add_option("--timeout", options.timeout_s, "Seconds to wait for the jobs to leave the queue")
      ->check(CLI::Range(0, 3600))
      ->capture_default_str();
  command->footer("Example:\n  sweeplab cancel doughnut-batch");
  return command;
}

namespace {

std::string absolute(const std::string& path) {
  std::error_code ec;
  return fs::weakly_canonical(fs::absolute(path.empty() ? "." : path), ec).string();
}

// The sweeplab program the array tasks run: this one when it is sweeplab, else the one beside the trainer
// (tests run the command line inside their own binary).
std::string sweeplab_program() {
  std::error_code ec;
  const fs::path self = fs::read_symlink("/proc/self/exe", ec);
  if (!ec && self.filename() == "sweeplab") return self.string();
  return (fs::path(locate_trainer()).parent_path() / "sweeplab").string();
}

// Options that sbatch would reject late (or misread) are refused here, before anything is written.
void check_submit_options(const SubmitOptions& options) {
  if (!options.slurm) {
    throw UserError("submit needs a scheduler: add --slurm (e.g. sweeplab submit " + options.name + " --slurm)");
  }
  static const std::regex time_format(R"(^(\d+-\d{1,2}(:\d{2}(:\d{2})?)?|\d+(:\d{2}(:\d{2})?)?|UNLIMITED|INFINITE)$)");
  if (!options.time.empty() && !std::regex_match(options.time, time_format)) {
    throw UserError("--time " + options.time + ": not a Slurm time (MINUTES, HH:MM:SS, D-HH:MM:SS; e.g. --time 04:00:00)");
  }
  static const std::regex memory_format(R"(^\d+[KMGT]?$)");
  if (!options.mem.empty() && !std::regex_match(options.mem, memory_format)) {
    throw UserError("--mem " + options.mem + ": not a Slurm memory size (a number with K, M, G or T; e.g. --mem 4G)");
  }
  for (const auto& arg : options.sbatch_args) {
    if (arg.size() < 2 || arg[0] != '-') {
      throw UserError("--sbatch-arg " + arg + ": not an sbatch option (give one as one word, e.g. --sbatch-arg=--qos=long)");
    }
    for (const char* ours : {"--array", "--output", "--error", "--open-mode", "--signal", "--job-name", "--chdir", "-a", "-o", "-e", "-J", "-D"}) {
      const std::string word = ours;
      if (arg == word || arg.rfind(word + "=", 0) == 0) {
        throw UserError("--sbatch-arg " + arg + ": submit sets " + word + " itself (the array, its logs and the "
                        "checkpoint signal); leave it out");
      }
    }
  }
}

// --time in seconds (MINUTES, MINUTES:SECONDS, HOURS:MINUTES:SECONDS, DAYS-HOURS[:MINUTES[:SECONDS]]); 0 when
// there is no limit.
long time_limit_s(const std::string& text) {
  if (text.empty() || text == "UNLIMITED" || text == "INFINITE") return 0;
  long days = 0;
  std::string rest = text;
  if (const auto dash = text.find('-'); dash != std::string::npos) {
    days = std::atol(text.substr(0, dash).c_str());
    rest = text.substr(dash + 1);
  }
  std::vector<long> parts;
  std::stringstream in(rest);
  for (std::string part; std::getline(in, part, ':');) parts.push_back(std::atol(part.c_str()));
  long seconds = 0;
  if (days > 0) {  // D-HH, D-HH:MM, D-HH:MM:SS
    const long units[] = {3600, 60, 1};
    for (std::size_t i = 0; i < parts.size() && i < 3; ++i) seconds += parts[i] * units[i];
  } else if (parts.size() == 1) {
    seconds = parts[0] * 60;
  } else if (parts.size() == 2) {
    seconds = parts[0] * 60 + parts[1];
  } else if (parts.size() >= 3) {
    seconds = parts[0] * 3600 + parts[1] * 60 + parts[2];
  }
  return days * 86400 + seconds;
}

std::vector<std::string> sbatch_options(const SubmitOptions& options) {
  std::vector<std::string> words;
  if (!options.partition.empty()) words.push_back("--partition=" + options.partition);
  if (!options.time.empty()) words.push_back("--time=" + options.time);
  words.push_back("--cpus-per-task=" + std::to_string(options.cpus_per_task));
  if (!options.mem.empty()) words.push_back("--mem=" + options.mem);
  if (!options.gres.empty()) words.push_back("--gres=" + options.gres);
  if (!options.account.empty()) words.push_back("--account=" + options.account);
  for (const auto& arg : options.sbatch_args) words.push_back(arg);
  return words;
}

bool settled(const std::string& status) {
  return status == "completed" || status == "diverged" || status == "failed" || status == "skipped" ||
         status == "interrupted";
}

// Trials whose array task died before they settled get failed summaries (record_crash). Returns how many.
std::size_t record_dead_tasks(const ResolvedSweep& sweep, const std::string& experiments_dir,
                              const std::map<std::string, slurm::TrialTask>& tasks) {
  ReadOptions read;
  read.metrics = false;
  const SweepState state = read_sweep_state(sweep, experiments_dir, read);
  RunOptions options;
  options.experiments_dir = experiments_dir;
  std::size_t recorded = 0;
  for (std::size_t i = 0; i < sweep.trials.size(); ++i) {
    const auto task = tasks.find(sweep.trials[i].id);
    if (task == tasks.end() || !task->second.state || !slurm::task_died(*task->second.state)) continue;
    const std::string& status = state.trials[i].status;
    if (settled(status) || status == "running") continue;
    const auto& dead = *task->second.state;
    CrashReport crash;
    crash.error = "Slurm task " + task->second.key + " ended " + dead.state +
                  (dead.exit_code.empty() ? "" : " (exit code " + dead.exit_code + ")") +
                  " before the trial finished; its log: " + task->second.log;
    crash.slurm_job = task->second.key;
    const auto colon = dead.exit_code.find(':');
    if (colon != std::string::npos) {
      const int signal = std::atoi(dead.exit_code.c_str() + colon + 1);
      const char* name = signal > 0 ? sigabbrev_np(signal) : nullptr;
      if (name) crash.signal = std::string("SIG") + name;
      else crash.exit_code = std::atoi(dead.exit_code.c_str());
    }
    crash.stderr_tail = slurm::file_tail(task->second.log, 20);
    if (state.trials[i].last()) crash.resumed_from_step = state.trials[i].last()->step;
    const TrialOutcome outcome = record_crash(sweep, i, options, crash);
    recorded += outcome.status == TrialStatus::Failed ? 1 : 0;
  }
  return recorded;
}

// Copies the sweep's YAML files (every one in the folder: `extends` may name any) to `to`.
void snapshot_configs(const std::string& configs_dir, const std::string& to) {
  create_folders(to);
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(configs_dir, ec)) {
    const auto extension = entry.path().extension();
    if (!entry.is_regular_file() || (extension != ".yaml" && extension != ".yml")) continue;
    fs::copy_file(entry.path(), fs::path(to) / entry.path().filename(), fs::copy_options::overwrite_existing, ec);
    if (ec) throw StorageError("cannot copy " + entry.path().string() + " to " + to + ": " + ec.message());
  }
  if (ec) throw StorageError("cannot read " + configs_dir + ": " + ec.message());
}

// The first experiments/NAME/slurm/submit-NNN that is not there; made (atomically: two submits never share
// one) when `make`.
std::string submit_dir_name(const std::string& root, bool make) {
  if (make) create_folders(root);
  for (int n = 1; n < 100000; ++n) {
    char name[32];
    std::snprintf(name, sizeof name, "submit-%03d", n);
    const fs::path dir = fs::path(root) / name;
    std::error_code ec;
    if (!make && !fs::exists(dir, ec)) return name;
    if (make && fs::create_directory(dir, ec)) return name;
    if (ec) throw StorageError("cannot create folder " + dir.string() + ": " + ec.message());
  }
  throw StorageError("too many submit-NNN folders in " + root);
}

// The trials `submit` sends, cut into array tasks: fused groups (the engine's), longest first; with
// sweep.prune: above_divergence a task per line, whose waves then run in order inside it.
std::vector<std::vector<std::size_t>> array_tasks(const ResolvedSweep& sweep, const std::vector<std::size_t>& trials,
                                                  std::size_t group_size) {
  std::vector<std::size_t> order = trials;
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    return expected_steps(sweep.trials[a].config) > expected_steps(sweep.trials[b].config);
  });
  if (sweep.spec.prune == Prune::AboveDivergence) {
    std::map<std::string, std::size_t> line_task;
    std::vector<std::vector<std::size_t>> tasks;
    for (const std::size_t index : order) {
      const auto [it, added] = line_task.emplace(prune_line(sweep.trials[index].config), tasks.size());
      if (added) tasks.emplace_back();
      tasks[it->second].push_back(index);
    }
    return tasks;
  }
  std::vector<const Config*> configs;
  for (const auto& trial : sweep.trials) configs.push_back(&trial.config);
  const bool cuda = !sweep.trials.empty() && sweep.trials.front().config.training.device == "cuda";
  return form_groups(configs, order, group_size > 0 ? group_size : cuda ? 4096 : 64, 1);
}

std::string count_text(std::size_t n, const std::string& what) {
  return std::to_string(n) + " " + what + (n == 1 ? "" : "s");
}

// A summary's outcome, for the line a finished trial gets.
TrialOutcome outcome_of(const StoredSummary& summary) {
  TrialOutcome outcome;
  outcome.status = summary.status == "completed"   ? TrialStatus::Completed
                   : summary.status == "diverged"  ? TrialStatus::Diverged
                   : summary.status == "skipped"   ? TrialStatus::Skipped
                   : summary.status == "interrupted" ? TrialStatus::Interrupted
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

// submit --wait: the progress display of `run` for the trials `watched` (those just submitted and those
// queued already), fed from their files and squeue, until none of their tasks is in the queue but held ones.
// As a task leaves the queue, what became of it is asked at once (the controller forgets ended jobs after
// MinJobAge) and the trials of a task that died are recorded failed. Then the table; exit codes as run's.
int wait_for_jobs(const GlobalOptions& global, const ResolvedSweep& sweep, const SubmitOptions& options,
                  const std::vector<std::size_t>& watched, std::ostream& out, std::ostream& err) {
  const std::string root = sweep_dir(global.experiments_dir, sweep.spec.name);
  const auto records = slurm::read_array_records(root);
  const auto ids = slurm::job_ids(records);
  std::int64_t expected = 0;
  for (const std::size_t i : watched) expected += expected_steps(sweep.trials[i].config);
  install_interrupt_handlers();
  const bool live = &out == &std::cout && ::isatty(STDOUT_FILENO) && ::isatty(STDERR_FILENO);
  ProgressDisplay display(global.quiet ? ProgressDisplay::Mode::Quiet : live ? ProgressDisplay::Mode::Live
                                                                             : ProgressDisplay::Mode::Plain,
                          out, watched.size(), expected);
  std::set<std::size_t> started, finished;
  ReadOptions read;
  read.metrics = false;
  // A summary that is there as the wait begins (a failed trial sent again, an interrupted one) is the old
  // one: the trial is done when its summary changes, or when its task has left the queue.
  const auto signature = [](const TrialState& trial) {
    return trial.summary ? trial.summary->status + "|" + trial.summary->slurm_job + "|" +
                               std::to_string(trial.summary->wall_time_s) + "|" + std::to_string(trial.summary->steps)
                         : std::string();
  };
  std::map<std::size_t, std::string> before;
  {
    const SweepState state = read_sweep_state(sweep, global.experiments_dir, read);
    for (const std::size_t i : watched) before[i] = signature(state.trials[i]);
  }
  std::map<std::string, slurm::TrialTask> tasks;
  std::map<std::string, slurm::TaskState> ended;  // tasks that left the queue, as they ended
  const auto look = [&](const std::map<std::string, slurm::TaskState>& states) {
    tasks = slurm::trial_tasks(root, records, states);
    const SweepState state = read_sweep_state(sweep, global.experiments_dir, read);
    for (const std::size_t i : watched) {
      if (finished.count(i)) continue;
      const auto& trial = state.trials[i];
      const auto& task = tasks[trial.spec.id];
      const bool task_live = task.state && slurm::is_live(task.state->state);
      const bool new_result = signature(trial) != before[i] && trial.status != "interrupted";
      if (settled(trial.status) && trial.summary && (new_result || !task_live)) {
        finished.insert(i);
        started.erase(i);
        const auto outcome = outcome_of(*trial.summary);
        display.finished(i, trial_line(trial.spec.id, outcome) + "  [" + task.key + "]", trial.status == "failed",
                         trial.summary->steps);
        continue;
      }
      const auto last = trial.last();
      if (task_live && task.state->state == "RUNNING" && (trial.status == "running" || last)) {
        if (started.insert(i).second) display.started(i, trial.spec.id, last ? last->step : 0, expected_steps(trial.spec.config));
        if (last) display.progressed(i, last->epoch, last->step, last->train_loss);
      }
    }
  };
  std::set<std::string> held;
  try {
    while (true) {
      auto states = patiently([&] { return slurm::live_tasks(ids); }, options.poll_s, err);
      // Tasks of watched trials that are not in the queue (any more): what became of them, now.
      bool gone = false;
      const auto now = slurm::trial_tasks(root, records, states);
      for (const std::size_t i : watched) {
        const auto task = now.find(sweep.trials[i].id);
        gone = gone || (task != now.end() && !states.count(task->second.key) && !ended.count(task->second.key));
      }
      if (gone) {
        for (auto& [key, state] : patiently([&] { return slurm::task_states(ids); }, options.poll_s, err)) {
          if (!slurm::is_live(state.state)) ended[key] = state;
        }
        record_dead_tasks(sweep, global.experiments_dir, slurm::trial_tasks(root, records, ended));
      }
      for (const auto& [key, state] : ended) states.emplace(key, state);
      look(states);
      bool waiting = false;
      held.clear();
      for (const std::size_t i : watched) {
        const auto& task = tasks[sweep.trials[i].id];
        if (!task.state || !slurm::is_live(task.state->state)) continue;
        if (slurm::is_held(*task.state)) held.insert(task.key + " (" + task.state->state +
                                                     (task.state->reason.empty() ? "" : ", " + task.state->reason) + ")");
        else waiting = true;
      }
      if (!waiting) break;
      for (int tenth = 0; tenth < options.poll_s * 10 && !interrupt_requested(); ++tenth) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        display.tick();
      }
      if (interrupt_requested()) break;
    }
  } catch (const UserError&) {
    if (!interrupt_requested()) throw;
  }
  if (interrupt_requested()) {
    display.close();
    err << "sweeplab: stopped waiting; the jobs go on (sweeplab status " << sweep.spec.name
        << " shows them; sweeplab cancel " << sweep.spec.name << " stops them)\n";
    return 130;
  }
  display.close();
  SweepState after = read_sweep_state(sweep, global.experiments_dir, read);
  after.trials.resize(sweep.trials.size());
  std::map<std::string, std::string> slurm_column;
  for (const auto& [id, task] : tasks) slurm_column[id] = slurm::task_text(task);
  out << "\n" << trial_table(after, slurm_column);
  std::size_t failed = 0, unfinished = 0;
  for (const std::size_t i : watched) {
    failed += after.trials[i].status == "failed" ? 1 : 0;
    unfinished += settled(after.trials[i].status) && after.trials[i].status != "interrupted" ? 0 : 1;
  }
  if (!held.empty()) {
    err << "sweeplab: " << count_text(held.size(), "task") << " held by Slurm, not waited for: "
        << join(std::vector<std::string>(held.begin(), held.end()), ", ") << " (scontrol release JOB_TASK lets it run; "
        << "sweeplab cancel " << sweep.spec.name << " stops it)\n";
  }
  if (failed) {
    err << "sweeplab: " << count_text(failed, "trial") << " failed (see their summary.json and the task logs in "
        << slurm::slurm_dir(root) << "/logs); to train them again: sweeplab submit " << sweep.spec.name
        << " --slurm --retry-failed\n";
    return 1;
  }
  if (unfinished) {
    err << "sweeplab: " << count_text(unfinished, "trial") << " did not finish (held, cancelled or out of time; "
        << "their checkpoints are kept): sweeplab submit " << sweep.spec.name << " --slurm sends them again\n";
    return 130;
  }
  return 0;
}

}  // namespace

int run_submit(const GlobalOptions& global, const SubmitOptions& options, std::ostream& out, std::ostream& err) {
  check_submit_options(options);
  const ResolvedSweep sweep = load_sweep(global.configs_dir, options.name, options.overrides, load_options(global));
  check_inputs({sweep});
  const std::string root = sweep_dir(global.experiments_dir, sweep.spec.name);
  if (absolute(root).find_first_of(" \t\n'\"") != std::string::npos) {
    throw UserError("--experiments " + global.experiments_dir + ": its path has a space or quote, which Slurm's "
                    "#SBATCH lines cannot hold; give a folder without one");
  }
  const bool have_slurm = !find_program("sbatch").empty() && !find_program("squeue").empty() &&
                          !find_program("scontrol").empty();
  if (!options.dry_run) {
    slurm::require_tools();
    // sbatch checks the options (partition, account, gres, time, ...) before anything is written.
    slurm::ScriptSpec probe;
    probe.job_name = "sweeplab-" + sweep.spec.name;
    probe.array = "0-0";
    probe.log_pattern = "/dev/null";
    probe.working_dir = "/";
    probe.sbatch_options = sbatch_options(options);
    probe.command = {"true"};
    probe.comment = "sbatch --test-only";
    const auto test = run_command({"sbatch", "--test-only"}, slurm::sbatch_script(probe));
    if (!test.ok()) {
      throw UserError("sbatch refuses the job: " + test.problem() +
                      " (check --partition, --account, --gres, --time, --mem, --sbatch-arg)");
    }
  }

  // What Slurm has of the sweep already; tasks that died leave failed trials behind (not in a dry run).
  const auto records = slurm::read_array_records(root);
  const auto ids = slurm::job_ids(records);
  const auto states = have_slurm ? slurm::task_states(ids) : std::map<std::string, slurm::TaskState>{};
  auto tasks = slurm::trial_tasks(root, records, states);
  // One submit of a sweep at a time: two would both send the trials neither sees queued yet.
  std::optional<TrialLock> submitting;
  if (!options.dry_run) {
    check_experiments_path(global.experiments_dir, sweep.spec.name);
    submitting = TrialLock::try_acquire(slurm::slurm_dir(root));
    if (!submitting) {
      throw UserError("another sweeplab submit of " + sweep.spec.name + " is under way (pid " +
                      std::to_string(lock_holder(slurm::slurm_dir(root)).value_or(0)) + "); submit again when it is done");
    }
    record_dead_tasks(sweep, global.experiments_dir, tasks);
  }

  ReadOptions read;
  read.metrics = false;
  SweepState state = read_sweep_state(sweep, global.experiments_dir, read);
  state.trials.resize(sweep.trials.size());
  const auto pruned = pruned_by_files(sweep, state, false);
  std::vector<std::size_t> to_submit, queued;
  std::map<std::string, std::size_t> held;  // why not submitted -> how many
  for (std::size_t i = 0; i < sweep.trials.size(); ++i) {
    const auto& trial = state.trials[i];
    const auto task = tasks.find(trial.spec.id);
    if (task != tasks.end() && task->second.state && slurm::is_live(task->second.state->state)) {
      ++held["queued in Slurm job " + task->second.job_id];
      queued.push_back(i);
      continue;
    }
    // A dry run writes nothing, so a task that died still has its trials part-way: plan what submit records.
    if (task != tasks.end() && task->second.state && slurm::task_died(*task->second.state) && !settled(trial.status) &&
        trial.status != "running" && !options.retry_failed) {
      ++held["failed in Slurm task " + task->second.key + " (recorded by submit)"];
      continue;
    }
    if (trial.status == "running") {
      ++held["running (pid " + std::to_string(trial.running_pid.value_or(0)) + ")"];
      continue;
    }
    const Plan plan = plan_for(trial, {false, options.retry_failed}, pruned[i]);
    if (plan.trains) {
      to_submit.push_back(i);
    } else {
      ++held[plan.skipped_because];
    }
  }
  std::vector<std::string> held_text;
  for (const auto& [why, n] : held) held_text.push_back(std::to_string(n) + " " + why);

  const auto groups = array_tasks(sweep, to_submit, options.group_size);
  out << "sweep " << sweep.spec.name << ": " << count_text(sweep.trials.size(), "trial") << "; "
      << (to_submit.empty() ? "nothing to submit" : "submits " + std::to_string(to_submit.size()) + " in " +
                                                        count_text(groups.size(), "array task"))
      << (held_text.empty() ? "" : " (not submitted: " + join(held_text, ", ") + ")") << "\n" << std::flush;
  if (to_submit.empty()) {
    submitting.reset();
    if (options.wait && !queued.empty() && !options.dry_run) return wait_for_jobs(global, sweep, options, queued, out, err);
    return 0;
  }

  const std::size_t max_size = have_slurm ? slurm::max_array_size() : groups.size();
  const auto sizes = slurm::split_arrays(groups.size(), max_size);
  const std::string experiments = absolute(global.experiments_dir);
  const std::string sweep_abs = sweep_dir(experiments, sweep.spec.name);
  const std::string logs = slurm::slurm_dir(sweep_abs) + "/logs";

  // The scripts: one per array, each task a line of its task list.
  struct Array {
    std::vector<std::vector<std::string>> tasks;
    std::string script, tasks_file;  // relative to the sweep's folder
    std::string text;
  };
  const std::string submit_name = submit_dir_name(slurm::slurm_dir(sweep_abs), false);  // made at submission
  const auto script_for = [&](const std::string& submit_dir, Array& array, std::size_t k) {
    const std::string base = "slurm/" + submit_dir + "/array-" + std::to_string(k + 1);
    array.script = base + ".sbatch";
    array.tasks_file = base + ".tasks";
    std::vector<std::string> command = {sweeplab_program(), "--configs", sweep_abs + "/slurm/" + submit_dir + "/configs",
                                        "--experiments", experiments, "--max-trials", std::to_string(global.max_trials),
                                        "slurm-task", sweep.spec.name};
    for (const auto& override_text : options.overrides) command.insert(command.end(), {"-o", override_text});
    command.insert(command.end(), {"--tasks", sweep_abs + "/" + array.tasks_file});
    if (options.retry_failed) command.push_back("--retry-failed");
    slurm::ScriptSpec spec;
    spec.job_name = "sweeplab-" + sweep.spec.name;
    spec.array = "0-" + std::to_string(array.tasks.size() - 1) +
                 (options.max_running > 0 ? "%" + std::to_string(options.max_running) : "");
    spec.log_pattern = logs + "/%A_%a.out";
    spec.working_dir = absolute(".");
    spec.sbatch_options = sbatch_options(options);
    // 120 s before the limit, or a quarter of a short one: a task always gets most of its time to train.
    if (const long limit = time_limit_s(options.time); limit > 0) spec.signal_lead_s = std::clamp(limit / 4, 10L, 120L);
    spec.command = command;
    spec.comment = "sweeplab submit " + sweep.spec.name + " (array " + std::to_string(k + 1) + " of " +
                   std::to_string(sizes.size()) + "): task i trains the trials on line i+1 of " + array.tasks_file;
    array.text = slurm::sbatch_script(spec);
  };
  std::vector<Array> arrays;
  std::size_t next = 0;
  for (std::size_t k = 0; k < sizes.size(); ++k) {
    Array array;
    for (std::size_t t = 0; t < sizes[k]; ++t, ++next) {
      std::vector<std::string> ids_of_task;
      for (const std::size_t index : groups[next]) ids_of_task.push_back(sweep.trials[index].id);
      array.tasks.push_back(std::move(ids_of_task));
    }
    script_for(submit_name, array, k);
    arrays.push_back(std::move(array));
  }

  if (options.dry_run) {
    out << (have_slurm ? "MaxArraySize " + std::to_string(max_size) : "MaxArraySize unknown (no Slurm tools here)") << ": "
        << count_text(arrays.size(), "array") << "\n";
    for (std::size_t k = 0; k < arrays.size(); ++k) {
      out << "\n--- array " << (k + 1) << ": tasks 0-" << (arrays[k].tasks.size() - 1)
          << (options.max_running > 0 ? "%" + std::to_string(options.max_running) : "") << " (" << arrays[k].script
          << ")\n" << arrays[k].text;
      for (std::size_t t = 0; t < arrays[k].tasks.size(); ++t) {
        out << "#   task " << t << ": " << join(arrays[k].tasks[t], " ") << "\n";
      }
    }
    return 0;
  }

  create_folders(logs);
  const std::string submit_dir = submit_dir_name(slurm::slurm_dir(sweep_abs), true);
  snapshot_configs(global.configs_dir, slurm::slurm_dir(sweep_abs) + "/" + submit_dir + "/configs");
  RunContext context = make_run_context(SWEEPLAB_TORCH_VERSION, sweep.spec.base.training.threads);
  std::vector<std::string> flags = {"--slurm"};
  for (const auto& word : sbatch_options(options)) flags.push_back(word);
  if (options.max_running > 0) flags.push_back("--max-running=" + std::to_string(options.max_running));
  if (options.retry_failed) flags.push_back("--retry-failed");
  append_run_record(root, run_record("submit", options.overrides, flags, context, to_submit.size()));
  std::vector<std::string> submitted;
  install_interrupt_handlers();  // Ctrl-C: no further array is sent, and every one sent is recorded
  for (std::size_t k = 0; k < arrays.size(); ++k) {
    if (interrupt_requested()) {
      err << "sweeplab: stopped after " << submitted.size() << " of " << arrays.size() << " arrays (job "
          << join(submitted, ", ") << "); sweeplab submit " << sweep.spec.name << " --slurm sends the rest\n";
      return 130;
    }
    Array& array = arrays[k];
    script_for(submit_dir, array, k);
    write_file_atomic(sweep_abs + "/" + array.tasks_file, slurm::tasks_text(array.tasks));
    write_file_atomic(sweep_abs + "/" + array.script, array.text);
    const auto result = run_command({"sbatch", "--parsable", sweep_abs + "/" + array.script});
    std::string job_id = result.out.substr(0, result.out.find_first_of(";\n"));
    if (!result.ok() || job_id.empty()) {
      err << "sweeplab: sbatch failed for array " << (k + 1) << " of " << arrays.size() << ": " << result.problem()
          << (submitted.empty() ? "" : "; submitted before it: job " + join(submitted, ", "))
          << "; sweeplab submit " << sweep.spec.name << " --slurm sends the rest\n";
      return 2;
    }
    slurm::ArrayRecord record;
    record.job_id = job_id;
    record.submitted_at = utc_now();
    record.script = array.script;
    record.tasks_file = array.tasks_file;
    record.tasks = array.tasks;
    try {
      slurm::append_array_record(root, record);
    } catch (const StorageError& e) {
      err << "sweeplab: storage error: " << e.what() << "; Slurm has job " << job_id << ", which status and cancel "
          << "will not know: scancel " << job_id << ", free some space, and submit again\n";
      return 3;
    }
    submitted.push_back(job_id);
    std::size_t trials = 0;
    for (const auto& task : array.tasks) trials += task.size();
    out << "submitted job " << job_id << ": array 0-" << (array.tasks.size() - 1)
        << (options.max_running > 0 ? "%" + std::to_string(options.max_running) : "") << ", "
        << count_text(trials, "trial") << "; logs " << logs << "/" << job_id << "_*.out\n" << std::flush;
  }
  submitting.reset();  // what waits next holds nothing
  if (!options.wait) {
    out << "sweeplab status " << sweep.spec.name << " shows their progress; sweeplab cancel " << sweep.spec.name
        << " stops them\n";
    return 0;
  }
  std::vector<std::size_t> watched = queued;
  watched.insert(watched.end(), to_submit.begin(), to_submit.end());
  return wait_for_jobs(global, sweep, options, watched, out, err);
}

int run_slurm_task(const GlobalOptions& global, const SlurmTaskOptions& options, std::ostream& out, std::ostream& err) {
  const char* task_id = std::getenv("SLURM_ARRAY_TASK_ID");
  if (!task_id) throw UserError("slurm-task runs inside a Slurm array task (SLURM_ARRAY_TASK_ID is not set)");
  // First: a USR1 or SIGTERM while the sweep loads must not kill the task (the default action) but stop it.
  install_interrupt_handlers();
  install_requeue_handler();
  const std::size_t task = std::strtoull(task_id, nullptr, 10);
  const ResolvedSweep sweep = load_sweep(global.configs_dir, options.name, options.overrides, load_options(global));
  std::ifstream in(options.tasks_file);
  if (!in) throw UserError("cannot read the task list " + options.tasks_file);
  std::stringstream content;
  content << in.rdbuf();
  const auto lines = slurm::parse_tasks(content.str());
  if (task >= lines.size()) {
    throw UserError(options.tasks_file + " has " + std::to_string(lines.size()) + " tasks, none for array task " + task_id);
  }
  std::map<std::string, std::size_t> index_of;
  for (std::size_t i = 0; i < sweep.trials.size(); ++i) index_of[sweep.trials[i].id] = i;
  RunOptions run_options;
  for (const auto& id : lines[task]) {
    if (!index_of.count(id)) throw UserError("trial " + id + " of " + options.tasks_file + " is not in sweep " + options.name);
    run_options.only.push_back(index_of[id]);
  }
  const bool cuda = check_inputs({sweep});
  const std::string trainer = locate_trainer();
  if (cuda) check_cuda(trainer);
  run_options.experiments_dir = global.experiments_dir;
  run_options.retry_failed = options.retry_failed;
  const char* cpus = std::getenv("SLURM_CPUS_PER_TASK");
  run_options.jobs = cpus ? std::max(1ul, std::strtoul(cpus, nullptr, 10)) : 1;
  run_options.context = make_run_context(SWEEPLAB_TORCH_VERSION, sweep.spec.base.training.threads);
  run_options.context.engine_version = kEngineVersion;
  run_options.context.engine = cuda ? "batched-cuda" : "lean-cpu";
  const std::string job = slurm_job_from_environment();
  out << "sweeplab slurm-task " << job << ": " << count_text(run_options.only.size(), "trial") << " of sweep "
      << sweep.spec.name << " on " << run_options.context.host << "\n" << std::flush;
  const RunTotals totals =
      run_sweep(sweep, {global.configs_dir, sweep.spec.name, options.overrides, global.max_trials}, run_options, trainer, out);
  out << sweep.spec.name << " task " << job << ": " << totals.completed << " completed, " << totals.diverged
      << " diverged, " << totals.failed << " failed, " << totals.skipped << " skipped, " << totals.interrupted
      << " interrupted\n" << std::flush;
  const int settled_here = totals.completed + totals.diverged + totals.failed + totals.skipped + totals.busy;
  if (requeue_requested() && (totals.interrupted > 0 || std::size_t(settled_here) < run_options.only.size())) {
    // The trials have checkpointed; Slurm stops this task as it requeues it, and nothing is left to lose.
    std::signal(SIGTERM, SIG_IGN);
    const auto requeue = run_command({"scontrol", "requeue", job});
    if (requeue.ok() || requeue.exit_code > 128) {  // > 128: Slurm's own SIGTERM, as the requeue went through
      out << "requeued " << job << ": it resumes from the checkpoints\n";
    } else {
      err << "sweeplab: scontrol requeue " << job << " failed: " << requeue.problem()
          << "; sweeplab submit " << options.name << " --slurm sends the unfinished trials again\n";
    }
    return 130;
  }
  if (!totals.storage_error.empty()) {
    err << "sweeplab: storage error: " << totals.storage_error << "; state is safe; rerun to resume\n";
    return 3;
  }
  if (totals.interrupted || (interrupt_requested() && !requeue_requested())) return 130;
  return totals.failed ? 1 : 0;
}

int run_cancel(const GlobalOptions& global, const CancelOptions& options, std::ostream& out, std::ostream& err) {
  const std::string root = sweep_dir(global.experiments_dir, options.name);
  const auto records = slurm::read_array_records(root);
  if (records.empty()) {
    out << "sweep " << options.name << " has no Slurm jobs (" << slurm::slurm_dir(root) << "/jobs.jsonl)\n";
    return 0;
  }
  if (find_program("scancel").empty() || find_program("squeue").empty()) {
    throw UserError("scancel not found on PATH: cancel needs Slurm's command-line tools (run it on a login node)");
  }
  const auto ids = slurm::job_ids(records);
  auto live = slurm::live_tasks(ids);
  if (live.empty()) {
    out << "nothing to cancel: no job of sweep " << options.name << " is in the queue\n";
    return 0;
  }
  std::set<std::string> jobs;
  std::map<std::string, std::size_t> by_state;
  for (const auto& [key, state] : live) {
    jobs.insert(key.substr(0, key.find('_')));
    ++by_state[state.state];
  }
  std::vector<std::string> job_list(jobs.begin(), jobs.end()), counts;
  for (const auto& [name, n] : by_state) counts.push_back(std::to_string(n) + " " + name);
  std::vector<std::string> argv = {"scancel"};
  argv.insert(argv.end(), job_list.begin(), job_list.end());
  const auto result = run_command(argv);
  if (!result.ok()) throw UserError("scancel failed: " + result.problem());
  out << "cancelled job " << join(job_list, ", ") << " (" << join(counts, ", ") << " tasks); running trials "
      << "checkpoint and stop\n" << std::flush;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(options.timeout_s);
  while (!(live = slurm::live_tasks(job_list)).empty() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
  if (!live.empty()) {
    err << "sweeplab: " << count_text(live.size(), "task") << " still in the queue after " << options.timeout_s
        << " s (squeue -j " << join(job_list, ",") << ")\n";
    return 1;
  }
  out << "no job of sweep " << options.name << " is left in the queue; sweeplab submit " << options.name
      << " --slurm sends the unfinished trials again\n";
  return 0;
}

}  // namespace sweeplab
