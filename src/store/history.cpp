#include "sweeplab/store/history.hpp"

#include <fstream>
#include <nlohmann/json.hpp>

#include "sweeplab/core/fs.hpp"

using json = nlohmann::ordered_json;

namespace sweeplab {

void append_run_record(const std::string& sweep_dir, const RunRecord& record) {
  const json line = {
      {"started_at", record.started_at}, {"command", record.command}, {"overrides", record.overrides},
      {"flags", record.flags},           {"trials", record.trials},   {"sweeplab_version", record.sweeplab_version},
      {"git_commit", record.git_commit}, {"host", record.host},       {"user", record.user}};
  append_line(sweep_dir + "/runs.jsonl", line.dump());
}

std::vector<RunRecord> read_run_records(const std::string& sweep_dir) {
  std::vector<RunRecord> records;
  std::ifstream in(sweep_dir + "/runs.jsonl");
  const auto strings = [](const json& line, const char* key) {
    std::vector<std::string> out;
    if (line.contains(key) && line[key].is_array()) {
      for (const auto& item : line[key]) {
        if (item.is_string()) out.push_back(item.get<std::string>());
      }
    }
    return out;
  };
  for (std::string text; std::getline(in, text);) {
    const auto line = json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (!line.is_object()) continue;  // a line torn by a crash: the history is a record, not state
    RunRecord record;
    try {
      record.started_at = line.value("started_at", std::string());
      record.command = line.value("command", std::string());
      record.overrides = strings(line, "overrides");
      record.flags = strings(line, "flags");
      record.trials = line.value("trials", std::size_t{0});
      record.sweeplab_version = line.value("sweeplab_version", std::string());
      record.git_commit = line.value("git_commit", std::string());
      record.host = line.value("host", std::string());
      record.user = line.value("user", std::string());
    } catch (const json::exception&) {  // a field of the wrong type: skipped like a torn line
      continue;
    }
    records.push_back(std::move(record));
  }
  return records;
}

std::string overrides_text(const RunRecord& record) {
  if (record.overrides.empty()) return "no -o";
  std::string text;
  for (const auto& value : record.overrides) text += (text.empty() ? "-o " : " -o ") + value;
  return text;
}

}  // namespace sweeplab
