#include "sweeplab/slurm/submit_plan.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <sstream>

#include "sweeplab/config/schema.hpp"
#include "sweeplab/core/fs.hpp"
#include "sweeplab/sched/plan.hpp"
#include "sweeplab/sched/run_sweep.hpp"
#include "sweeplab/store/sweep_state.hpp"

namespace fs = std::filesystem;

namespace sweeplab::slurm {

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

bool at_rest(TrialStatus status) { return settled(status) || status == TrialStatus::Interrupted; }

std::size_t record_dead_tasks(const ResolvedSweep& sweep, const std::string& experiments_dir,
                              const std::map<std::string, TrialTask>& tasks) {
  const SweepState state = read_current_trials(sweep, experiments_dir);
  RunOptions options;
  options.experiments_dir = experiments_dir;
  for (const auto& trial : state.trials) options.folders.push_back(trial.id);
  std::size_t recorded = 0;
  for (std::size_t i = 0; i < sweep.trials.size(); ++i) {
    const auto task = tasks.find(state.trials[i].id);
    if (task == tasks.end() || !task->second.state || !task_died(*task->second.state)) continue;
    const TrialStatus status = state.trials[i].status;
    if (at_rest(status) || status == TrialStatus::Running) continue;
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
    crash.stderr_tail = file_tail(task->second.log, 20);
    if (state.trials[i].last()) crash.resumed_from_step = state.trials[i].last()->step;
    const TrialOutcome outcome = record_crash(sweep, i, options, crash);
    recorded += outcome.status == TrialStatus::Failed ? 1 : 0;
  }
  return recorded;
}

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

std::optional<std::size_t> trial_in_folder(const ResolvedSweep& sweep, const std::string& sweep_dir, const std::string& folder) {
  for (std::size_t i = 0; i < sweep.trials.size(); ++i) {
    if (sweep.trials[i].id == folder) return i;
  }
  std::optional<TrialHash> hash;
  if (folder.size() > 17 && folder[folder.size() - 17] == '-') hash = TrialHash::parse(folder.substr(folder.size() - 16));
  if (!hash) {
    if (const auto config = read_trial_config((fs::path(sweep_dir) / "trials" / folder).string())) hash = CompactConfig::of(*config).hash();
  }
  for (std::size_t i = 0; hash && i < sweep.trials.size(); ++i) {
    if (sweep.trials[i].hash == *hash) return i;
  }
  return std::nullopt;
}

std::string submit_dir_name(const std::string& slurm_dir, bool make) {
  if (make) create_folders(slurm_dir);
  for (int n = 1; n < 100000; ++n) {
    char name[32];
    std::snprintf(name, sizeof name, "submit-%03d", n);
    const fs::path dir = fs::path(slurm_dir) / name;
    std::error_code ec;
    if (!make && !fs::exists(dir, ec)) return name;
    if (make && fs::create_directory(dir, ec)) return name;
    if (ec) throw StorageError("cannot create folder " + dir.string() + ": " + ec.message());
  }
  throw StorageError("too many submit-NNN folders in " + slurm_dir);
}

std::vector<std::vector<std::size_t>> array_tasks(const ResolvedSweep& sweep, const std::vector<std::size_t>& trials,
                                                  std::size_t group_size) {
  std::vector<std::size_t> order = trials;
  std::map<std::size_t, std::int64_t> steps;
  for (const auto index : order) steps[index] = expected_steps(sweep.trials[index].config.expand());
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return steps[a] > steps[b]; });
  if (sweep.spec.prune != Prune::None) {
    std::map<std::string, std::size_t> line_task;
    std::vector<std::vector<std::size_t>> tasks;
    for (const std::size_t index : order) {
      const auto [it, added] = line_task.emplace(prune_line(sweep.trials[index].config), tasks.size());
      if (added) tasks.emplace_back();
      tasks[it->second].push_back(index);
    }
    return tasks;
  }
  std::vector<const CompactConfig*> configs;
  for (const auto& trial : sweep.trials) configs.push_back(&trial.config);
  const bool cuda = !sweep.trials.empty() && sweep.trials.front().config.text(field_index("training.device")) == "cuda";
  return form_groups(configs, order, group_size > 0 ? group_size : cuda ? 4096 : 64, 1);
}

}  // namespace sweeplab::slurm
