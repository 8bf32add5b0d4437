// sweeplab slurm-task: what each Slurm array task of `submit` runs: the trials on its line of the task list.
#include <CLI/CLI.hpp>

#include <csignal>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "commands.hpp"
#include "run_checks.hpp"
#include "sweeplab/core/error.hpp"
#include "sweeplab/engine/trainer.hpp"
#include "sweeplab/sched/interrupt.hpp"
#include "sweeplab/sched/run_sweep.hpp"
#include "sweeplab/slurm/submit_plan.hpp"
#include "sweeplab/store/layout.hpp"

namespace sweeplab {

CLI::App* setup_slurm_task(CLI::App& app, SlurmTaskOptions& options) {
  CLI::App* command = app.add_subcommand("slurm-task", "What a Slurm array task of `submit` runs (not for people)");
  command->group("");  // hidden from the help
  command->add_option("name", options.name, "Sweep name")->required();
  add_override_option(*command, options.overrides);
  command->add_option("--tasks", options.tasks_file, "The array's task list")->required();
  command->add_flag("--retry-failed", options.retry_failed, "Train failed trials again");
  return command;
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
  RunOptions run_options;
  run_options.folders.assign(sweep.trials.size(), "");
  for (const auto& folder : lines[task]) {
    const auto index = slurm::trial_in_folder(sweep, sweep_dir(global.experiments_dir, sweep.spec.name), folder);
    if (!index) throw UserError("trial " + folder + " of " + options.tasks_file + " is not in sweep " + options.name);
    run_options.only.push_back(*index);
    run_options.folders[*index] = folder;
  }
  run_options.index = false;  // the index is the submitting machine's; it marked these trials to be read again
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
  out << "sweeplab slurm-task " << job << ": " << std::to_string(run_options.only.size()) + (run_options.only.size() == 1 ? " trial" : " trials") << " of sweep "
      << sweep.spec.name << " on " << run_options.context.host << "\n" << std::flush;
  const RunTotals totals =
      run_sweep(sweep, {global.configs_dir, sweep.spec.name, options.overrides, global.max_trials, {}}, run_options, trainer, out);
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

}  // namespace sweeplab
