#include <CLI/CLI.hpp>

#include <map>
#include <ostream>

#include "commands.hpp"
#include "sweeplab/config/loader.hpp"
#include "sweeplab/core/process.hpp"
#include "sweeplab/core/text.hpp"
#include "sweeplab/slurm/submissions.hpp"
#include "sweeplab/report/trial_table.hpp"
#include "sweeplab/store/layout.hpp"
#include "sweeplab/store/sweep_state.hpp"

namespace sweeplab {

CLI::App* setup_status(CLI::App& app, StatusOptions& options) {
  CLI::App* command = app.add_subcommand("status", "Each trial's state, progress and final metrics; totals");
  command->add_option("name", options.name, "Sweep name")->required();
  add_override_option(*command, options.overrides);
  command->footer("Examples:\n  sweeplab status doughnut-batch\n  sweeplab status doughnut-batch -o epochs=1000");
  return command;
}

int run_status(const GlobalOptions& global, const StatusOptions& options, std::ostream& out, std::ostream&) {
  const auto sweep = load_sweep(global.configs_dir, options.name, options.overrides, load_options(global));
  ReadOptions read;
  read.metrics = false;  // the last line of each metrics.jsonl is enough here
  const SweepState state = read_sweep_state(sweep, global.experiments_dir, read);
  out << "sweep " << sweep.spec.name << " (" << sweep_dir(global.experiments_dir, sweep.spec.name) << ")\n";
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
      const auto states = slurm::task_states(slurm::job_ids(records));
      for (const auto& record : records) {
        std::map<std::string, std::size_t> counts;
        for (std::size_t index = 0; index < record.tasks.size(); ++index) {
          const auto found = states.find(slurm::task_key(record.job_id, index));
          ++counts[found == states.end() ? "gone from the queue" : found->second.state];
        }
        std::vector<std::string> parts;
        for (const auto& [state_name, n] : counts) parts.push_back(std::to_string(n) + " " + state_name);
        out << "slurm job " << record.job_id << " (submitted " << record.submitted_at << "): " << record.tasks.size()
            << " task" << (record.tasks.size() == 1 ? "" : "s") << ", " << join(parts, ", ") << "\n";
      }
      for (const auto& [id, task] : slurm::trial_tasks(root, records, states)) slurm_column[id] = slurm::task_text(task);
    }
  }
  out << trial_table(state, slurm_column);
  return 0;
}

}  // namespace sweeplab
