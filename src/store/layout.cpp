#include "sweeplab/store/layout.hpp"

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "sweeplab/core/fs.hpp"

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace sweeplab {
namespace {

std::optional<double> optional_number(const json& object, const char* key) {
  if (!object.contains(key) || !object[key].is_number()) return std::nullopt;
  return object[key].get<double>();
}

std::optional<EvalRecord> record_from(const json& line) {
  if (!line.is_object() || !line.contains("step") || !line["step"].is_number_integer()) return std::nullopt;
  EvalRecord record;
  record.epoch = line.value("epoch", std::int64_t{0});
  record.step = line["step"].get<std::int64_t>();
  record.samples = line.value("samples", std::int64_t{0});
  record.lr = optional_number(line, "lr").value_or(0.0);
  record.batch_size = line.value("batch_size", std::int64_t{0});
  record.train_loss = optional_number(line, "train_loss").value_or(NAN);
  record.test_loss = optional_number(line, "test_loss");
  record.train_acc = optional_number(line, "train_acc");
  record.test_acc = optional_number(line, "test_acc");
  record.elapsed_s = optional_number(line, "elapsed_s").value_or(0.0);
  return record;
}

}  // namespace

std::optional<EvalRecord> parse_record_json(const std::string& line) {
  return record_from(json::parse(line, nullptr, /*allow_exceptions=*/false));
}

std::string sweep_dir(const std::string& experiments_dir, const std::string& sweep_name) {
  return (fs::path(experiments_dir) / sweep_name).string();
}

std::string trial_dir(const std::string& experiments_dir, const std::string& sweep_name, const std::string& trial_id) {
  return (fs::path(sweep_dir(experiments_dir, sweep_name)) / "trials" / trial_id).string();
}

std::optional<StoredSummary> read_summary(const std::string& trial_dir) {
  std::ifstream in(fs::path(trial_dir) / "summary.json");
  if (!in) return std::nullopt;
  const auto summary = json::parse(in, nullptr, /*allow_exceptions=*/false);
  StoredSummary stored;
  if (summary.is_discarded() || !summary.is_object() || !summary.contains("status") || !summary["status"].is_string()) {
    stored.status = "unreadable";
    return stored;
  }
  stored.status = summary["status"].get<std::string>();
  stored.steps = summary.value("steps", std::int64_t{0});
  stored.epochs = summary.value("epochs", std::int64_t{0});
  stored.samples = summary.value("samples", std::int64_t{0});
  stored.wall_time_s = optional_number(summary, "wall_time_s").value_or(0.0);
  if (summary.contains("best") && summary["best"].is_object()) {
    for (const auto& [metric, best] : summary["best"].items()) {
      const auto value = optional_number(best, "value");
      if (value) stored.best.push_back({metric, *value, best.value("step", std::int64_t{0}), best.value("epoch", std::int64_t{0})});
    }
  }
  if (summary.contains("targets") && summary["targets"].is_array()) {
    for (const auto& target : summary["targets"]) {
      TargetResult result;
      result.target = target.value("target", std::string());
      result.reached = target.value("reached", false);
      if (result.reached) {
        result.step = target.value("step", std::int64_t{0});
        result.samples = target.value("samples", std::int64_t{0});
        result.epoch = target.value("epoch", std::int64_t{0});
      }
      stored.targets.push_back(result);
    }
  }
  stored.stopped_at_target = summary.value("stopped_at_target", false);
  if (summary.contains("final")) stored.final = record_from(summary["final"]);
  if (summary.contains("diverged_at_step") && summary["diverged_at_step"].is_number_integer()) {
    stored.diverged_at_step = summary["diverged_at_step"].get<std::int64_t>();
  }
  if (summary.contains("warnings") && summary["warnings"].is_array()) {
    for (const auto& warning : summary["warnings"]) {
      if (warning.is_string()) stored.warnings.push_back(warning.get<std::string>());
    }
  }
  stored.error = summary.value("error", std::string());
  return stored;
}

std::vector<EvalRecord> read_metrics(const std::string& path) {
  std::vector<EvalRecord> records;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) {
    if (auto record = record_from(json::parse(line, nullptr, /*allow_exceptions=*/false))) records.push_back(*record);
  }
  return records;
}

void cut_metrics(const std::string& path, std::int64_t max_step) {
  std::ifstream in(path);
  if (!in) return;
  std::string kept;
  for (std::string line; std::getline(in, line);) {
    const auto record = record_from(json::parse(line, nullptr, /*allow_exceptions=*/false));
    if (record && record->step <= max_step) kept += line + "\n";
  }
  in.close();
  write_file_atomic(path, kept);
}

std::string trial_state(const std::string& experiments_dir, const std::string& sweep_name, const std::string& trial_id) {
  const std::string dir = trial_dir(experiments_dir, sweep_name, trial_id);
  if (auto summary = read_summary(dir)) return summary->status;
  std::error_code ec;
  return fs::exists(fs::path(dir) / "metrics.jsonl", ec) || fs::exists(fs::path(dir) / "checkpoint.pt", ec) ? "partial"
                                                                                                             : "pending";
}

}  // namespace sweeplab
