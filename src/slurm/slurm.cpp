#include "sweeplab/slurm/slurm.hpp"

#include <cctype>
#include <cstdlib>
#include <set>
#include <sstream>

#include "sweeplab/core/error.hpp"
#include "sweeplab/core/text.hpp"

namespace sweeplab::slurm {
namespace {

std::vector<std::string> split(const std::string& text, char separator) {
  std::vector<std::string> parts;
  std::string part;
  std::istringstream in(text);
  while (std::getline(in, part, separator)) parts.push_back(part);
  return parts;
}

// "123_4" -> ("123", "4"); "123" -> ("123", "").
std::pair<std::string, std::string> split_task(const std::string& id) {
  const auto underscore = id.find('_');
  if (underscore == std::string::npos) return {id, ""};
  return {id.substr(0, underscore), id.substr(underscore + 1)};
}

// Adds `state` under each task an id stands for: "123_4", "123_[2-5%2]", or "123" (a job that is no array).
void add_tasks(std::map<std::string, TaskState>& states, const std::string& job, const std::string& tasks,
               const TaskState& state) {
  if (tasks.empty()) {
    states[task_key(job, 0)] = state;
    return;
  }
  for (const std::size_t index : parse_index_ranges(tasks)) states[task_key(job, index)] = state;
}

}  // namespace

std::string task_key(const std::string& job_id, std::size_t index) { return job_id + "_" + std::to_string(index); }

bool is_live(const std::string& state) {
  static const std::set<std::string> live = {"PENDING",   "RUNNING",       "REQUEUED",      "REQUEUE_HOLD",
                                             "REQUEUE_FED", "SUSPENDED",   "CONFIGURING",   "COMPLETING",
                                             "RESIZING",  "RESV_DEL_HOLD", "SIGNALING",     "STAGE_OUT",
                                             "STOPPED",   "SPECIAL_EXIT"};
  return live.count(state) > 0;
}

bool is_held(const TaskState& state) {
  if (state.state == "REQUEUE_HOLD" || state.state == "SPECIAL_EXIT" || state.state == "STOPPED") return true;
  if (state.state != "PENDING") return false;
  std::string reason = state.reason;
  for (auto& c : reason) c = char(std::tolower(static_cast<unsigned char>(c)));
  return reason.find("held") != std::string::npos;  // JobHeldUser, JobHeldAdmin, "launch failed requeued held"
}

std::optional<std::size_t> parse_max_array_size(const std::string& text) {
  for (const auto& line : split(text, '\n')) {
    const auto equals = line.find('=');
    if (equals == std::string::npos || trim(line.substr(0, equals)) != "MaxArraySize") continue;
    const std::string value = trim(line.substr(equals + 1));
    if (value.empty() || value.find_first_not_of("0123456789") != std::string::npos) return std::nullopt;
    return std::size_t(std::stoull(value));
  }
  return std::nullopt;
}

std::vector<std::size_t> parse_index_ranges(const std::string& text) {
  std::string list = text;
  if (!list.empty() && list.front() == '[') list.erase(0, 1);
  if (!list.empty() && list.back() == ']') list.pop_back();
  list = list.substr(0, list.find('%'));  // the throttle
  std::vector<std::size_t> indexes;
  for (const auto& part : split(list, ',')) {
    if (part.empty() || part.find_first_not_of("0123456789-") != std::string::npos) continue;
    const auto dash = part.find('-');
    try {
      const std::size_t first = std::stoull(part.substr(0, dash));
      const std::size_t last = dash == std::string::npos ? first : std::stoull(part.substr(dash + 1));
      for (std::size_t i = first; i <= last && i - first < 10000000; ++i) indexes.push_back(i);
    } catch (const std::exception&) {
      continue;  // not a number: nothing of ours
    }
  }
  return indexes;
}

std::map<std::string, TaskState> parse_squeue(const std::string& text) {
  std::map<std::string, TaskState> states;
  for (const auto& line : split(text, '\n')) {
    const auto fields = split(trim(line), '|');
    if (fields.size() < 2) continue;
    TaskState state;
    state.state = fields[1];
    if (fields.size() > 2 && fields[2] != "None") state.reason = fields[2];
    const auto [job, tasks] = split_task(fields[0]);
    add_tasks(states, job, tasks, state);
  }
  return states;
}

std::map<std::string, TaskState> parse_scontrol_jobs(const std::string& text) {
  std::map<std::string, TaskState> states;
  for (const auto& line : split(text, '\n')) {
    std::map<std::string, std::string> fields;
    std::istringstream words(line);
    for (std::string word; words >> word;) {
      const auto equals = word.find('=');
      if (equals != std::string::npos) fields.emplace(word.substr(0, equals), word.substr(equals + 1));
    }
    if (!fields.count("JobId") || !fields.count("JobState")) continue;
    TaskState state;
    state.state = fields["JobState"];
    if (fields.count("Reason") && fields["Reason"] != "None") state.reason = fields["Reason"];
    if (fields.count("ExitCode")) state.exit_code = fields["ExitCode"];
    if (fields.count("Restarts")) state.restarts = std::atoi(fields["Restarts"].c_str());
    if (fields.count("ArrayJobId") && fields.count("ArrayTaskId")) {
      add_tasks(states, fields["ArrayJobId"], fields["ArrayTaskId"], state);
    } else {
      add_tasks(states, fields["JobId"], "", state);
    }
  }
  return states;
}

std::map<std::string, TaskState> parse_sacct(const std::string& text) {
  std::map<std::string, TaskState> states;
  for (const auto& line : split(text, '\n')) {
    const auto fields = split(trim(line), '|');
    if (fields.size() < 2 || fields[0].empty()) continue;
    TaskState state;
    state.state = split(fields[1], ' ').front();  // "CANCELLED by 0"
    if (fields.size() > 2) state.exit_code = fields[2];
    const auto [job, tasks] = split_task(fields[0]);
    if (job.find('.') != std::string::npos) continue;  // a step ("123_4.batch")
    add_tasks(states, job, tasks, state);
  }
  return states;
}

void require_tools() {
  for (const char* tool : {"sbatch", "squeue", "scontrol"}) {
    if (find_program(tool).empty()) {
      throw UserError(std::string(tool) +
                      " not found on PATH: submit needs Slurm's command-line tools (run it on a login node, load "
                      "the Slurm module, or train here with sweeplab run)");
    }
  }
}

std::size_t max_array_size() {
  const auto result = run_command({"scontrol", "show", "config"});
  if (!result.ok()) throw UserError("scontrol show config failed: " + result.problem() + " (is the Slurm controller up?)");
  const auto size = parse_max_array_size(result.out);
  if (!size || *size < 1) throw UserError("scontrol show config: no MaxArraySize in its output (is this Slurm?)");
  return *size;
}

std::map<std::string, TaskState> live_tasks(const std::vector<std::string>& job_ids) {
  if (job_ids.empty()) return {};
  const auto result = run_command({"squeue", "-h", "-r", "-o", "%i|%T|%r", "-j", join(job_ids, ",")});
  // When the controller knows none of the jobs any more, squeue says "Invalid job id specified".
  if (!result.ok() && result.err.find("Invalid job id") != std::string::npos) return {};
  if (!result.ok()) throw UserError("squeue failed: " + result.problem());
  return parse_squeue(result.out);
}

std::map<std::string, TaskState> task_states(const std::vector<std::string>& job_ids) {
  auto states = live_tasks(job_ids);
  std::map<std::string, TaskState> ended;
  for (const auto& job : job_ids) {
    const auto result = run_command({"scontrol", "-o", "show", "job", job});
    if (result.ok()) {
      for (auto& [key, state] : parse_scontrol_jobs(result.out)) ended.emplace(key, state);
    }
  }
  if (!find_program("sacct").empty()) {
    const auto result =
        run_command({"sacct", "-n", "-P", "-X", "-o", "JobID,State,ExitCode", "-j", join(job_ids, ",")});
    if (result.ok()) {
      // Only the states of ended tasks: the queue says which are live (accounting may keep stale rows).
      for (auto& [key, state] : parse_sacct(result.out)) {
        if (!is_live(state.state)) ended.emplace(key, state);
      }
    }
  }
  for (auto& [key, state] : ended) {
    auto found = states.find(key);
    if (found == states.end()) {
      states.emplace(key, state);
    } else if (found->second.exit_code.empty()) {
      found->second.exit_code = state.exit_code;
      found->second.restarts = state.restarts;
    }
  }
  return states;
}

}  // namespace sweeplab::slurm
