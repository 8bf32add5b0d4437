// sweeplab cancel NAME: cancels the sweep's Slurm jobs (running trials checkpoint first).
#include <CLI/CLI.hpp>

#include <chrono>
#include <map>
#include <set>
#include <thread>

#include "commands.hpp"
#include "sweeplab/core/error.hpp"
#include "sweeplab/core/process.hpp"
#include "sweeplab/core/text.hpp"
#include "sweeplab/slurm/submissions.hpp"
#include "sweeplab/store/layout.hpp"

namespace sweeplab {

CLI::App* setup_cancel(CLI::App& app, CancelOptions& options) {
  CLI::App* command = app.add_subcommand("cancel", "Cancel the sweep's Slurm jobs (running trials checkpoint first)");
  command->add_option("name", options.name, "Sweep name")->required();
  command->add_option("--timeout", options.timeout_s, "Seconds to wait for the jobs to leave the queue")
      ->check(CLI::Range(0, 3600))
      ->capture_default_str();
  command->footer("Example:\n  sweeplab cancel doughnut-batch");
  return command;
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
    err << "sweeplab: " << std::to_string(live.size()) + (live.size() == 1 ? " task" : " tasks") << " still in the queue after " << options.timeout_s
        << " s (squeue -j " << join(job_list, ",") << ")\n";
    return 1;
  }
  out << "no job of sweep " << options.name << " is left in the queue; sweeplab submit " << options.name
      << " --slurm sends the unfinished trials again\n";
  return 0;
}

}  // namespace sweeplab
