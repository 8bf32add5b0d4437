// sweeplab submit NAME --slurm: the trials a `run` would train, as Slurm job arrays (one array task per fused
// group). Slurm is driven through its own tools (sweeplab/slurm/slurm.hpp); what was sent is kept in
// experiments/NAME/slurm/. What each task runs is cmd_slurm_task.cpp.
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
#include "run_checks.hpp"
#include "sweeplab/config/schema.hpp"
#include "sweeplab/core/error.hpp"
#include "sweeplab/core/fs.hpp"
#include "sweeplab/core/text.hpp"
#include "sweeplab/engine/trainer.hpp"
#include "sweeplab/report/trial_table.hpp"
#include "sweeplab/sched/interrupt.hpp"
#include "sweeplab/sched/plan.hpp"
#include "sweeplab/sched/progress.hpp"
#include "sweeplab/sched/run_sweep.hpp"
#include "sweeplab/slurm/submissions.hpp"
#include "sweeplab/slurm/submit_plan.hpp"
#include "sweeplab/slurm/wait.hpp"
#include "sweeplab/store/history.hpp"
#include "sweeplab/store/layout.hpp"
#include "sweeplab/store/lock.hpp"
#include "sweeplab/store/sweep_state.hpp"
#include "sweeplab/store/trial_files.hpp"
#include "sweeplab/store/trial_index.hpp"

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

std::string count_text(std::size_t n, const std::string& what) {
  return std::to_string(n) + " " + what + (n == 1 ? "" : "s");
}

// What submit --wait says once the waiting is over; its exit code, as run's.
int report_wait(const ResolvedSweep& sweep, const std::string& experiments_dir, const slurm::WaitOutcome& waited,
                std::ostream& out, std::ostream& err) {
  if (waited.interrupted) {
    err << "sweeplab: stopped waiting; the jobs go on (sweeplab status " << sweep.spec.name
        << " shows them; sweeplab cancel " << sweep.spec.name << " stops them)\n";
    return 130;
  }
  const std::string root = sweep_dir(experiments_dir, sweep.spec.name);
  std::map<std::string, std::string> slurm_column;
  for (const auto& [id, task] : waited.tasks) slurm_column[id] = slurm::task_text(task);
  out << "\n" << trial_table(waited.trials, sweep, slurm_column);
  if (!waited.held.empty()) {
    err << "sweeplab: " << count_text(waited.held.size(), "task") << " held by Slurm, not waited for: "
        << join(std::vector<std::string>(waited.held.begin(), waited.held.end()), ", ")
        << " (scontrol release JOB_TASK lets it run; sweeplab cancel " << sweep.spec.name << " stops it)\n";
  }
  if (waited.failed) {
    err << "sweeplab: " << count_text(waited.failed, "trial") << " failed (see their summary.json and the task logs in "
        << slurm::slurm_dir(root) << "/logs); to train them again: sweeplab submit " << sweep.spec.name
        << " --slurm --retry-failed\n";
    return 1;
  }
  if (waited.unfinished) {
    err << "sweeplab: " << count_text(waited.unfinished, "trial") << " did not finish (held, cancelled or out of time; "
        << "their checkpoints are kept): sweeplab submit " << sweep.spec.name << " --slurm sends them again\n";
    return 130;
  }
  return 0;
}

}  // namespace

int run_submit(const GlobalOptions& global, const SubmitOptions& options, std::ostream& out, std::ostream& err) {
  check_submit_options(options);
  const ResolvedSweep sweep = load_sweep(global.configs_dir, options.name, options.overrides, load_options(global));
  if (sweep.spec.refine.on()) {
    // A job array is fixed when it is submitted; refinement decides each wave from the results of the one before.
    throw UserError(sweep.spec.refine.source + ": sweep.refine is not supported by submit: its waves are decided one "
                    "after another from finished results, a job array at once; train it with `sweeplab run`, or submit "
                    "the grid alone with -o sweep.refine=none");
  }
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
    slurm::record_dead_tasks(sweep, global.experiments_dir, tasks);
  }

  ReadOptions read;
  read.narrow = false;
  const SweepState on_disk = read_sweep_state(sweep, global.experiments_dir, read);
  const SweepPlan plan = plan_sweep(sweep, on_disk, {false, options.retry_failed});
  const SweepState state = current_view(on_disk, sweep);
  std::vector<std::size_t> to_submit, queued;
  std::map<std::string, std::size_t> held;  // why not submitted -> how many
  for (std::size_t i = 0; i < sweep.trials.size(); ++i) {
    const auto& trial = state.trials[i];
    const auto task = tasks.find(plan.folders[i]);
    if (task != tasks.end() && task->second.state && slurm::is_live(task->second.state->state)) {
      ++held["queued in Slurm job " + task->second.job_id];
      queued.push_back(i);
      continue;
    }
    // A dry run writes nothing, so a task that died still has its trials part-way: plan what submit records.
    if (task != tasks.end() && task->second.state && slurm::task_died(*task->second.state) && !slurm::at_rest(trial.status) &&
        trial.status != TrialStatus::Running && !options.retry_failed) {
      ++held["failed in Slurm task " + task->second.key + " (recorded by submit)"];
      continue;
    }
    if (trial.status == TrialStatus::Running) {
      ++held["running (pid " + std::to_string(trial.running_pid.value_or(0)) + ")"];
      continue;
    }
    const Decision& decision = plan.decisions[i];
    if (decision.taken()) {
      to_submit.push_back(i);
    } else {
      ++held[decision.why];
    }
  }
  std::vector<std::string> held_text;
  for (const auto& [why, n] : held) held_text.push_back(std::to_string(n) + " " + why);

  const auto groups = slurm::array_tasks(sweep, to_submit, options.group_size);
  out << "sweep " << sweep.spec.name << ": " << count_text(sweep.trials.size(), "trial") << "; "
      << (to_submit.empty() ? "nothing to submit" : "submits " + std::to_string(to_submit.size()) + " in " +
                                                        count_text(groups.size(), "array task"))
      << (held_text.empty() ? "" : " (not submitted: " + join(held_text, ", ") + ")") << "\n" << std::flush;
  if (to_submit.empty()) {
    submitting.reset();
    if (options.wait && !queued.empty() && !options.dry_run) return report_wait(sweep, global.experiments_dir,
                                                                     slurm::wait_for_jobs(sweep, global.experiments_dir, queued, options.poll_s, global.quiet, out, err), out, err);
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
  const std::string submit_name = slurm::submit_dir_name(slurm::slurm_dir(sweep_abs), false);  // made at submission
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
    if (const long limit = slurm::time_limit_s(options.time); limit > 0) spec.signal_lead_s = std::clamp(limit / 4, 10L, 120L);
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
      for (const std::size_t index : groups[next]) ids_of_task.push_back(plan.folders[index]);
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
  const std::string submit_dir = slurm::submit_dir_name(slurm::slurm_dir(sweep_abs), true);
  slurm::snapshot_configs(global.configs_dir, slurm::slurm_dir(sweep_abs) + "/" + submit_dir + "/configs");
  RunContext context = make_run_context(SWEEPLAB_TORCH_VERSION, sweep.spec.base.training.threads);
  std::vector<std::string> flags = {"--slurm"};
  for (const auto& word : sbatch_options(options)) flags.push_back(word);
  if (options.max_running > 0) flags.push_back("--max-running=" + std::to_string(options.max_running));
  if (options.retry_failed) flags.push_back("--retry-failed");
  append_run_record(root, run_record("submit", options.overrides, flags, context, to_submit.size()));
  // The trials are marked in the index before any task may touch them: readers read them from their files until
  // they settle (the tasks themselves never write the index).
  if (auto index = TrialIndex::open(root, /*create=*/true)) {
    std::vector<PlannedTrial> planned;
    for (const auto i : to_submit) planned.push_back({plan.folders[i], sweep.trials[i].hash, sweep.trials[i].config});
    try {
      index->plan(planned);
    } catch (const StorageError& e) {
      throw StorageError("cannot mark the trials in " + root + "/" + TrialIndex::kFileName + ": " + e.what());
    }
  }
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
  return report_wait(sweep, global.experiments_dir,
                     slurm::wait_for_jobs(sweep, global.experiments_dir, watched, options.poll_s, global.quiet, out, err), out, err);
}

}  // namespace sweeplab
