#include "sweeplab/store/layout.hpp"

#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <sstream>

#include "sweeplab/core/fs.hpp"
#include "sweeplab/store/trial_files.hpp"

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace sweeplab {
namespace {

std::optional<double> optional_number(const json& object, const char* key) {
  if (!object.contains(key) || !object[key].is_number()) return std::nullopt;
  return object[key].get<double>();
}

std::optional<EvalRecord> record_fields(const json& line) {
  if (!line.is_object() || !line.contains("step") || !line["step"].is_number_integer()) return std::nullopt;
  EvalRecord record;
  record.epoch = line.value("epoch", std::int64_t{0});
  record.step = line["step"].get<std::int64_t>();
  record.samples = line.value("samples", std::int64_t{0});
  record.lr = optional_number(line, "lr").value_or(0.0);
  record.effective_lr = optional_number(line, "effective_lr");
  record.batch_size = line.value("batch_size", std::int64_t{0});
  record.train_loss = optional_number(line, "train_loss").value_or(NAN);
  record.last_batch_loss = optional_number(line, "last_batch_loss");
  record.test_loss = optional_number(line, "test_loss");
  record.train_acc = optional_number(line, "train_acc");
  record.test_acc = optional_number(line, "test_acc");
  record.episode_return = optional_number(line, "episode_return");
  record.epsilon = optional_number(line, "epsilon");
  record.greedy_return = optional_number(line, "greedy_return");
  record.greedy_optimal_fraction = optional_number(line, "greedy_optimal_fraction");
  record.noise_scale = optional_number(line, "noise_scale");
  if (line.contains("greedy_length") && line["greedy_length"].is_number_integer()) {
    record.greedy_length = line["greedy_length"].get<std::int64_t>();
  }
  record.elapsed_s = optional_number(line, "elapsed_s").value_or(0.0);
  if (line.contains("diverged") && line["diverged"].is_boolean() && line["diverged"].get<bool>()) {
    // The loss that stopped the trial: a number, or "nan", "inf", "-inf" (not JSON numbers).
    record.diverged = true;
    const auto& loss = line.contains("loss") ? line["loss"] : json();
    const double infinity = std::numeric_limits<double>::infinity();
    record.train_loss = loss.is_number() ? loss.get<double>()
                        : loss == "inf"  ? infinity
                        : loss == "-inf" ? -infinity
                                         : std::nan("");
  }
  return record;
}

// A line of the right shape with a field of the wrong type (hand-edited, damaged) does not parse either.
std::optional<EvalRecord> record_from(const json& line) {
  try {
    return record_fields(line);
  } catch (const json::exception&) {
    return std::nullopt;
  }
}

bool same_number(double a, double b) { return a == b || (std::isnan(a) && std::isnan(b)); }

bool same_number(const std::optional<double>& a, const std::optional<double>& b) {
  return a.has_value() == b.has_value() && (!a || same_number(*a, *b));
}

// Every field, the wall clock included: a record read back from its line is the one that was written.
bool same_record(const EvalRecord& a, const EvalRecord& b) {
  return a.epoch == b.epoch && a.step == b.step && a.samples == b.samples && same_number(a.lr, b.lr) &&
         same_number(a.effective_lr, b.effective_lr) &&
         a.batch_size == b.batch_size && same_number(a.train_loss, b.train_loss) &&
         same_number(a.last_batch_loss, b.last_batch_loss) && same_number(a.test_loss, b.test_loss) &&
         same_number(a.train_acc, b.train_acc) && same_number(a.test_acc, b.test_acc) &&
         same_number(a.episode_return, b.episode_return) && same_number(a.epsilon, b.epsilon) &&
         same_number(a.greedy_return, b.greedy_return) && a.greedy_length == b.greedy_length &&
         same_number(a.greedy_optimal_fraction, b.greedy_optimal_fraction) && same_number(a.noise_scale, b.noise_scale) &&
         same_number(a.elapsed_s, b.elapsed_s) && a.diverged == b.diverged;
}

// metrics.jsonl line by line; with `texts`, the text of each record's line too.
MetricsScan scan_metrics_lines(const std::string& path, std::vector<std::string>* texts) {
  MetricsScan scan;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) {
    ++scan.lines;
    if (auto record = record_from(json::parse(line, nullptr, /*allow_exceptions=*/false))) {
      scan.records.push_back(*record);
      scan.record_lines.push_back(scan.lines);
      if (texts) texts->push_back(line);
    } else {
      scan.damaged_lines.push_back(scan.lines);
    }
  }
  return scan;
}

std::string line_list(const std::vector<std::size_t>& lines) {
  std::string out = lines.size() == 1 ? "line " : "lines ";
  for (std::size_t i = 0; i < lines.size() && i < 5; ++i) out += (i ? ", " : "") + std::to_string(lines[i]);
  if (lines.size() > 5) out += ", ...";
  return out;
}

// The status summary.json may hold: a trainer's outcome. Any other word is as damaged as a torn file.
std::optional<TrialStatus> outcome_status(const std::string& word) {
  const auto status = parse_status(word);
  if (!status || *status == TrialStatus::Pending || *status == TrialStatus::Running || *status == TrialStatus::Partial ||
      *status == TrialStatus::Unreadable) {
    return std::nullopt;
  }
  return status;
}

// summary.json's fields; throws json::exception for one of the wrong type.
void read_summary_fields(const json& summary, StoredSummary& stored) {
  stored.status = *outcome_status(summary["status"].get<std::string>());
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
  stored.skip_reason = summary.value("skip_reason", std::string());
  if (summary.contains("signal") && summary["signal"].is_string()) stored.signal = summary["signal"].get<std::string>();
  if (summary.contains("exit_code") && summary["exit_code"].is_number_integer()) stored.exit_code = summary["exit_code"].get<int>();
  stored.slurm_job = summary.value("slurm_job", std::string());
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
  if (summary.is_discarded() || !summary.is_object() || !summary.contains("status") || !summary["status"].is_string() ||
      !outcome_status(summary["status"].get<std::string>())) {
    stored.status = TrialStatus::Unreadable;
    return stored;
  }
  try {
    read_summary_fields(summary, stored);
  } catch (const json::exception&) {  // a field of the wrong type: as damaged as a torn file
    stored = StoredSummary{};
    stored.status = TrialStatus::Unreadable;
  }
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

MetricsScan scan_metrics(const std::string& path) { return scan_metrics_lines(path, nullptr); }

MetricsContinuation continue_metrics(const std::string& path, std::int64_t step, std::int64_t evaluations,
                                     const std::optional<EvalRecord>& last) {
  std::vector<std::string> texts;
  const MetricsScan scan = scan_metrics_lines(path, &texts);
  std::vector<EvalRecord> kept;
  std::vector<std::string> kept_texts;  // as they were written
  std::size_t last_kept_line = 0;
  bool in_order = true;
  for (std::size_t i = 0; i < scan.records.size(); ++i) {
    const auto& record = scan.records[i];
    if (record.step > step || record.diverged) continue;
    in_order = in_order && (kept.empty() || kept.back().step < record.step);
    kept.push_back(record);
    kept_texts.push_back(texts[i]);
    last_kept_line = scan.record_lines[i];
  }
  std::vector<std::size_t> damaged_before, damaged_after;  // the last kept record
  for (const auto line : scan.damaged_lines) (line < last_kept_line ? damaged_before : damaged_after).push_back(line);

  MetricsContinuation result;
  const std::string at_step = "metrics.jsonl, up to step " + std::to_string(step) + ": ";
  const auto start_over = [&](const std::string& why) {
    result.usable = false;
    result.warning = at_step + why + "; the trial starts over to write them again";
    return result;
  };
  if (!in_order) return start_over("records out of order");
  const std::size_t expected = evaluations < 0 ? 0 : std::size_t(evaluations);
  // Lines among the records that are no records: harmless only when no record is missing (the count says so).
  if (!damaged_before.empty() && (evaluations < 0 || kept.size() != expected || !last || !same_record(kept.back(), *last))) {
    return start_over(line_list(damaged_before) + " unreadable");
  }
  std::string repaired;
  if (!last) {
    if (!kept.empty()) return start_over("records the checkpoint does not have");
  } else if (!kept.empty() && kept.back().step == last->step) {
    if (evaluations >= 0 && kept.size() != expected) return start_over("records missing");
    if (!same_record(kept.back(), *last)) {
      kept_texts.back() = record_json(*last);
      repaired = "the record of step " + std::to_string(last->step) + " differed from the checkpoint's; rewritten from it";
    }
  } else {
    // The last record is missing (torn by a crash after summary.json, damaged): the checkpoint has it, unless
    // more than that one is missing.
    if (evaluations < 0 || kept.size() + 1 != expected || (!kept.empty() && kept.back().step > last->step)) {
      return start_over(damaged_after.empty() ? "records missing" : line_list(damaged_after) + " unreadable");
    }
    kept_texts.push_back(record_json(*last));
    repaired = "the record of step " + std::to_string(last->step) + (damaged_after.empty() ? " was missing" : " was unreadable") +
               "; rewritten from the checkpoint";
    if (!damaged_after.empty()) damaged_after.erase(damaged_after.begin());  // that was it
  }
  std::string text;
  for (const auto& line : kept_texts) text += line + "\n";
  // Rewritten only when it changes (a new trial has no file at all: nothing to write).
  std::ifstream current(path, std::ios::binary);
  const std::string before((std::istreambuf_iterator<char>(current)), std::istreambuf_iterator<char>());
  if (before != text) write_file_atomic(path, text);
  if (!damaged_before.empty()) {
    repaired += std::string(repaired.empty() ? "" : "; ") + line_list(damaged_before) + " unreadable and no record (dropped)";
  }
  if (!repaired.empty()) result.warning = "metrics.jsonl: " + repaired;
  result.dropped = damaged_after.size();
  return result;
}

}  // namespace sweeplab
