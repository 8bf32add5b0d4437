#include "sweeplab/slurm/submissions.hpp"

#include <algorithm>
#include <deque>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "sweeplab/core/fs.hpp"

using json = nlohmann::ordered_json;

namespace sweeplab::slurm {

std::string slurm_dir(const std::string& sweep_dir) { return sweep_dir + "/slurm"; }

std::string log_path(const std::string& sweep_dir, const std::string& job_id, std::size_t index) {
  return slurm_dir(sweep_dir) + "/logs/" + task_key(job_id, index) + ".out";
}

void append_array_record(const std::string& sweep_dir, const ArrayRecord& record) {
  const json line = {{"job_id", record.job_id},
                     {"submitted_at", record.submitted_at},
                     {"tasks", record.tasks.size()},
                     {"script", record.script},
                     {"tasks_file", record.tasks_file}};
  append_line(slurm_dir(sweep_dir) + "/jobs.jsonl", line.dump());
}

std::vector<ArrayRecord> read_array_records(const std::string& sweep_dir) {
  std::vector<ArrayRecord> records;
  std::ifstream in(slurm_dir(sweep_dir) + "/jobs.jsonl");
  for (std::string text; std::getline(in, text);) {
    const auto line = json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (!line.is_object() || !line.contains("job_id") || !line["job_id"].is_string()) continue;  // a torn line
    ArrayRecord record;
    record.job_id = line["job_id"].get<std::string>();
    record.submitted_at = line.value("submitted_at", std::string());
    record.script = line.value("script", std::string());
    record.tasks_file = line.value("tasks_file", std::string());
    std::ifstream tasks(sweep_dir + "/" + record.tasks_file);
    std::stringstream content;
    content << tasks.rdbuf();
    record.tasks = parse_tasks(content.str());
    records.push_back(std::move(record));
  }
  return records;
}

std::vector<std::string> job_ids(const std::vector<ArrayRecord>& records) {
  std::vector<std::string> ids;
  for (const auto& record : records) ids.push_back(record.job_id);
  return ids;
}

std::string tasks_text(const std::vector<std::vector<std::string>>& tasks) {
  std::string text;
  for (const auto& trials : tasks) {
    std::string line;
    for (const auto& id : trials) line += (line.empty() ? "" : " ") + id;
    text += line + "\n";
  }
  return text;
}

std::vector<std::vector<std::string>> parse_tasks(const std::string& text) {
  std::vector<std::vector<std::string>> tasks;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    std::istringstream words(line);
    std::vector<std::string> trials;
    for (std::string id; words >> id;) trials.push_back(id);
    tasks.push_back(std::move(trials));
  }
  return tasks;
}

std::map<std::string, TrialTask> trial_tasks(const std::string& sweep_dir, const std::vector<ArrayRecord>& records,
                                             const std::map<std::string, TaskState>& states) {
  std::map<std::string, TrialTask> tasks;
  for (const auto& record : records) {  // oldest first: a later submission of a trial takes its place
    for (std::size_t index = 0; index < record.tasks.size(); ++index) {
      TrialTask task;
      task.job_id = record.job_id;
      task.index = index;
      task.key = task_key(record.job_id, index);
      if (const auto found = states.find(task.key); found != states.end()) task.state = found->second;
      task.log = log_path(sweep_dir, record.job_id, index);
      for (const auto& id : record.tasks[index]) tasks[id] = task;
    }
  }
  return tasks;
}

std::string task_text(const TrialTask& task) {
  if (!task.state) return task.key + " gone";
  std::string text = task.key + " " + task.state->state;
  if (!task.state->reason.empty() && is_live(task.state->state)) text += " (" + task.state->reason + ")";
  if (!is_live(task.state->state) && !task.state->exit_code.empty() && task.state->exit_code != "0:0") {
    text += " " + task.state->exit_code;
  }
  return text;
}

bool task_died(const TaskState& state) {
  if (state.state == "OUT_OF_MEMORY" || state.state == "NODE_FAIL" || state.state == "BOOT_FAIL") return true;
  return state.state == "FAILED" && state.exit_code != "130:0" && state.exit_code != "3:0";
}

std::vector<std::size_t> split_arrays(std::size_t tasks, std::size_t max_array_size) {
  std::vector<std::size_t> sizes;
  const std::size_t largest = std::max<std::size_t>(1, max_array_size);
  for (std::size_t left = tasks; left > 0;) {
    sizes.push_back(std::min(left, largest));
    left -= sizes.back();
  }
  return sizes;
}

std::string sbatch_script(const ScriptSpec& spec) {
  std::string text = "#!/bin/bash\n";
  const auto option = [&](const std::string& value) { text += "#SBATCH " + value + "\n"; };
  option("--job-name=" + spec.job_name);
  option("--array=" + spec.array);
  option("--output=" + spec.log_pattern);
  option("--open-mode=append");
  option("--requeue");
  // Before the time limit: USR1 to the batch shell, which is sweeplab itself (exec below). It checkpoints the
  // trials and requeues the task, which then resumes them.
  option("--signal=B:USR1@" + std::to_string(spec.signal_lead_s));
  for (const auto& value : spec.sbatch_options) option(value);
  text += "# " + spec.comment + "\n";
  text += "cd " + shell_quote(spec.working_dir) + " || exit 1\n";
  std::string command;
  for (const auto& word : spec.command) command += (command.empty() ? "" : " ") + shell_quote(word);
  text += "exec " + command + "\n";
  return text;
}

std::string file_tail(const std::string& path, std::size_t lines) {
  std::ifstream in(path);
  std::deque<std::string> last;
  for (std::string line; std::getline(in, line);) {
    last.push_back(line);
    if (last.size() > lines) last.pop_front();
  }
  std::string text;
  for (const auto& line : last) text += line + "\n";
  return text;
}

}  // namespace sweeplab::slurm
