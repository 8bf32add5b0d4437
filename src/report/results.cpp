#include "sweeplab/report/results.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <nlohmann/json.hpp>

#include "sweeplab/config/schema.hpp"
#include "sweeplab/core/error.hpp"
#include "sweeplab/core/text.hpp"

namespace sweeplab {
namespace {

Cell value_cell(const Value& value) {
  return std::visit(
      [](const auto& v) -> Cell {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, std::int64_t>) return v;
        else if constexpr (std::is_same_v<T, double>) return v;
        else if constexpr (std::is_same_v<T, bool>) return Cell(v);
        else if constexpr (std::is_same_v<T, std::string>) return v;
        else return to_text(Value(v));
      },
      value);
}

Cell optional_cell(const std::optional<double>& value) {
  return value && std::isfinite(*value) ? Cell(*value) : Cell();
}


// The metrics of the final_* and best_* columns: a supervised task's, or DQN's (doublegoal: the TD loss, the
// mean return of the last episodes, and the greedy evaluation's length and share of optimal starts).
const std::vector<std::string>& metric_names_for_columns(const Config& base) {
  static const std::vector<std::string> supervised = {"train_loss", "test_loss", "train_acc", "test_acc"};
  return is_reinforcement_task(base.task.name) ? reinforcement_metrics() : supervised;
}

std::size_t column_index(const ExportTable& table, const std::string& name) {
  const auto at = std::find(table.columns.begin(), table.columns.end(), name);
  if (at == table.columns.end()) throw InternalError("export: no column " + name);
  return std::size_t(at - table.columns.begin());
}

__extension__ using Int128 = __int128;

// A finite double as the decimal that is written for it (format_double: the shortest that reads back):
// mantissa * 10^exponent. nullopt when the mantissa would not fit.
struct Decimal {
  Int128 mantissa = 0;
  int exponent = 0;
};
std::optional<Decimal> decimal_of(double value) {
  if (!std::isfinite(value)) return std::nullopt;
  // The digits format_double writes (the shortest that read back), found faster: "9.623e-01".
  char buffer[40];
  const auto written = std::to_chars(buffer, buffer + sizeof buffer, value, std::chars_format::scientific);
  if (written.ec != std::errc()) return std::nullopt;
  const std::string text(buffer, written.ptr);
  Decimal decimal;
  bool negative = false, fraction = false;
  int digits = 0;
  std::size_t i = 0;
  if (i < text.size() && (text[i] == '-' || text[i] == '+')) negative = text[i++] == '-';
  for (; i < text.size() && text[i] != 'e'; ++i) {
    if (text[i] == '.') {
      fraction = true;
      continue;
    }
    if (!std::isdigit(static_cast<unsigned char>(text[i])) || ++digits > 30) return std::nullopt;
    decimal.mantissa = decimal.mantissa * 10 + (text[i] - '0');
    if (fraction) --decimal.exponent;
  }
  if (i < text.size()) decimal.exponent += std::stoi(text.substr(i + 1));
  if (negative) decimal.mantissa = -decimal.mantissa;
  return decimal;
}

std::string int128_text(Int128 value) {  // value >= 0
  std::string digits;
  do {
    digits.insert(digits.begin(), char('0' + int(value % 10)));
    value /= 10;
  } while (value > 0);
  return digits;
}

// Values as decimals over one exponent: value i = mantissas[i] 10^exponent, exactly as written.
struct Decimals {
  std::vector<Int128> mantissas;
  Int128 sum = 0;
  int exponent = 0;
};
std::optional<Decimals> as_decimals(const std::vector<double>& values) {
  std::vector<Decimal> decimals;
  Decimals out;
  out.exponent = INT_MAX;
  for (double v : values) {
    const auto decimal = decimal_of(v);
    if (!decimal) return std::nullopt;
    decimals.push_back(*decimal);
    out.exponent = std::min(out.exponent, decimal->exponent);
  }
  if (decimals.empty()) return std::nullopt;
  for (const auto& decimal : decimals) {
    Int128 shifted = decimal.mantissa;
    for (int e = out.exponent; e < decimal.exponent; ++e) {
      if (__builtin_mul_overflow(shifted, 10, &shifted)) return std::nullopt;
    }
    if (__builtin_add_overflow(out.sum, shifted, &out.sum)) return std::nullopt;
    out.mantissas.push_back(shifted);
  }
  return out;
}

// numerator / n 10^exponent, rounded once to the nearest double: long division to 60 significant digits,
// then one more nonzero digit where a remainder is left, so that strtod (which rounds correctly) rounds
// the exact quotient.
double decimal_quotient(Int128 numerator, Int128 n, int exponent) {
  const bool negative = numerator < 0;
  Int128 remainder = negative ? -numerator : numerator;
  const std::string whole = int128_text(remainder / n);
  remainder %= n;
  std::string text = (negative ? "-" : "") + whole + ".";
  std::size_t significant = whole == "0" ? 0 : whole.size();
  while (remainder != 0 && significant < 60) {
    remainder *= 10;
    const int digit = int(remainder / n);
    remainder %= n;
    text += char('0' + digit);
    if (significant > 0 || digit != 0) ++significant;
  }
  if (remainder != 0) text += '1';
  return std::strtod((text + "e" + std::to_string(exponent)).c_str(), nullptr);
}

// value 10^exponent, rounded once to a double from the long double.
double scaled(long double value, int exponent) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%.21Le", value);
  std::string text = buffer;
  const auto e = text.find('e');
  return std::strtod((text.substr(0, e) + "e" + std::to_string(std::stoi(text.substr(e + 1)) + exponent)).c_str(), nullptr);
}

}  // namespace

std::string cell_text(const Cell& cell) {
  return std::visit(
      [](const auto& v) -> std::string {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, std::monostate>) return "";
        else if constexpr (std::is_same_v<T, bool>) return v ? "true" : "false";
        else if constexpr (std::is_same_v<T, double>) return format_double(v);
        else if constexpr (std::is_same_v<T, std::int64_t>) return std::to_string(v);
        else return v;
      },
      cell);
}

std::optional<double> ExportTable::number(std::size_t row, const std::string& column) const {
  for (std::size_t c = 0; c < columns.size(); ++c) {
    if (columns[c] != column) continue;
    const Cell& cell = rows.at(row).at(c);
    if (const auto* d = std::get_if<double>(&cell)) return *d;
    if (const auto* i = std::get_if<std::int64_t>(&cell)) return double(*i);
    return std::nullopt;
  }
  return std::nullopt;
}

std::string target_column(const std::string& target) {
  std::string out;
  for (char c : target) {
    if (c == ' ') continue;
    if (c == '>') out += "_ge_";
    else if (c == '<') out += "_le_";
    else if (c == '=') continue;
    else out += c;
  }
  return out;
}

std::optional<EvalRecord> last_finite_record(const TrialState& trial) {
  if (trial.summary && trial.summary->final && std::isfinite(trial.summary->final->train_loss)) return trial.summary->final;
  for (auto record = trial.metrics.rbegin(); record != trial.metrics.rend(); ++record) {
    if (std::isfinite(record->train_loss)) return *record;
  }
  return std::nullopt;
}

ExportTable export_trials(const SweepSpec& spec, const std::vector<TrialState>& results) {
  ExportTable table;
  const auto keys = swept_keys(spec);
  std::vector<std::size_t> key_fields;
  for (const auto& key : keys) key_fields.push_back(field_index(key));
  static const std::size_t lr_field = field_index("optimizer.lr"), batch_field = field_index("training.batch_size");
  static const std::size_t task_field = field_index("task.name"), algorithm_field = field_index("rl.algorithm");
  table.columns = {"trial_id"};
  table.columns.insert(table.columns.end(), keys.begin(), keys.end());
  for (const char* column : {"status", "batch_size", "lr", "temperature", "steps", "samples", "epochs", "steps_x_lr",
                             "wall_time_s"}) {
    table.columns.push_back(column);
  }
  for (const auto& metric : metric_names_for_columns(spec.base)) table.columns.push_back("final_" + metric);
  const bool supervised = !is_reinforcement_task(spec.base.task.name);
  // The loss of the last minibatch before the final evaluation: batch_size_studies' value (final_train_loss is the
  // mean since the evaluation before).
  if (supervised) table.columns.push_back("final_last_batch_loss");
  for (const auto& metric : metric_names_for_columns(spec.base)) table.columns.push_back("best_" + metric);
  const auto& targets = spec.base.targets;
  for (const auto& target : targets) {
    table.columns.push_back("steps_to_" + target_column(target));
    table.columns.push_back("samples_to_" + target_column(target));
  }
  table.columns.push_back("diverged_at_step");

  for (const auto& data : results) {
    std::vector<Cell> row = {data.id};
    for (const auto field : key_fields) row.push_back(value_cell(data.config.get(field)));
    const double lr = std::get<double>(data.config.get(lr_field));
    // The actor-critic learns from each step's own transition: its batch is 1, whatever training.batch_size (DQN's
    // replay minibatch) says, as its metrics.jsonl has it.
    const bool one_transition = is_reinforcement_task(std::get<std::string>(data.config.get(task_field))) &&
                                std::get<std::string>(data.config.get(algorithm_field)) == "actor_critic";
    const std::int64_t batch = one_transition ? 1 : std::get<std::int64_t>(data.config.get(batch_field));
    row.insert(row.end(), {to_string(data.status), batch, lr, lr / double(batch)});
    const auto& summary = data.summary;
    if (summary && summary->status != TrialStatus::Unreadable) {
      row.insert(row.end(), {summary->steps, summary->samples, summary->epochs, double(summary->steps) * lr,
                             summary->wall_time_s});
    } else {
      row.insert(row.end(), {Cell(), Cell(), Cell(), Cell(), Cell()});
    }
    const auto final = last_finite_record(data);
    for (const auto& metric : metric_names_for_columns(spec.base)) {
      row.push_back(final ? optional_cell(metric_value(*final, metric)) : Cell());
    }
    if (supervised) row.push_back(final ? optional_cell(final->last_batch_loss) : Cell());
    for (const auto& metric : metric_names_for_columns(spec.base)) {
      Cell cell;
      if (summary) {
        for (const auto& best : summary->best) {
          if (best.metric == metric && std::isfinite(best.value)) cell = best.value;
        }
      }
      row.push_back(cell);
    }
    // The sweep's targets (the columns), whatever targets this trial was run with.
    for (const auto& target : targets) {
      Cell steps, samples;
      if (summary) {
        for (const auto& result : summary->targets) {
          if (result.target == target && result.reached) {
            steps = result.step;
            samples = result.samples;
          }
        }
      }
      row.insert(row.end(), {steps, samples});
    }
    row.push_back(summary && summary->diverged_at_step ? Cell(*summary->diverged_at_step) : Cell());
    table.rows.push_back(std::move(row));
  }
  return table;
}

// The mean and the standard error of the values as they are written (their shortest decimals). The mean
// is their exact sum over n, rounded once: the mean of 0.96 and 0.9646 is 0.9623, where summing the
// doubles (in any precision) gives 0.9622999999999999. The standard error comes from the exact deviations
// from that mean, squared and summed in long double: that of 0.6 and 0.625 is 0.0125, not
// 0.012500000000000011. Values whose decimals span too many digits to add exactly are summed as long
// doubles instead.
MeanStderr mean_stderr(const std::vector<double>& values) {
  MeanStderr result;
  result.n = values.size();
  if (values.empty()) return result;
  if (values.size() == 1) {  // itself, and no spread
    result.mean = values.front();
    return result;
  }
  const long double n = static_cast<long double>(values.size());
  const auto decimals = as_decimals(values);
  if (decimals) {
    result.mean = decimal_quotient(decimals->sum, Int128(values.size()), decimals->exponent);
    // n (x_i - mean) in units of 10^exponent, exactly.
    long double squares = 0.0L;
    bool exact = true;
    for (const auto mantissa : decimals->mantissas) {
      Int128 deviation = 0;
      exact = exact && !__builtin_mul_overflow(mantissa, Int128(values.size()), &deviation) &&
              !__builtin_sub_overflow(deviation, decimals->sum, &deviation);
      squares += static_cast<long double>(deviation) * static_cast<long double>(deviation);
    }
    if (exact) {
      result.stderr_ = scaled(std::sqrt(squares / (n - 1)) / (n * std::sqrt(n)), decimals->exponent);
      return result;
    }
  } else {
    long double sum = 0.0L;
    for (double v : values) sum += v;
    result.mean = double(sum / n);
  }
  long double squares = 0.0L;
  for (double v : values) squares += (static_cast<long double>(v) - result.mean) * (static_cast<long double>(v) - result.mean);
  result.stderr_ = double(std::sqrt(squares / (n - 1)) / std::sqrt(n));
  return result;
}

ExportTable aggregate_seeds(const SweepSpec& spec, const ExportTable& trials) {
  const auto keys = swept_keys(spec);
  std::vector<std::size_t> group_columns;  // the swept keys but the seed
  for (const auto& key : keys) {
    if (key != "training.seed") group_columns.push_back(column_index(trials, key));
  }
  const std::size_t status = column_index(trials, "status");
  ExportTable out;
  for (auto c : group_columns) out.columns.push_back(trials.columns[c]);
  out.columns.insert(out.columns.end(), {"n_seeds", "n_completed", "n_diverged"});
  // Copied from the group's first trial (the same for all of them).
  const std::vector<std::size_t> shared = {column_index(trials, "batch_size"), column_index(trials, "lr"),
                                           column_index(trials, "temperature")};
  for (auto c : shared) out.columns.push_back(trials.columns[c]);
  // Averaged over the seeds that have a value.
  std::vector<std::string> averaged = {"steps", "samples", "epochs", "steps_x_lr", "wall_time_s"};
  for (const char* kind : {"final_", "best_"}) {
    for (const auto& metric : metric_names_for_columns(spec.base)) averaged.push_back(kind + metric);
    if (std::string(kind) == "final_" && !is_reinforcement_task(spec.base.task.name)) averaged.push_back("final_last_batch_loss");
  }
  for (const auto& column : averaged) {
    out.columns.push_back(column + "_mean");
    out.columns.push_back(column + "_stderr");
  }
  // Per target: how many seeds reached it, and the steps and samples averaged over those seeds only.
  const auto& targets = spec.base.targets;
  for (const auto& target : targets) {
    const std::string name = target_column(target);
    out.columns.push_back("n_reached_" + name);
    for (const char* kind : {"steps_to_", "samples_to_"}) {
      out.columns.push_back(kind + name + "_mean_over_reached");
      out.columns.push_back(kind + name + "_stderr_over_reached");
    }
  }
  out.columns.insert(out.columns.end(), {"diverged_at_step_mean_over_diverged", "diverged_at_step_stderr_over_diverged"});

  // Groups in order of first appearance. The swept keys are every key in which the trials differ (budgets
  // included), so a group's trials differ in their seed only.
  std::vector<std::vector<std::size_t>> groups;
  std::map<std::string, std::size_t> group_of;
  for (std::size_t r = 0; r < trials.rows.size(); ++r) {
    std::string key;
    for (auto c : group_columns) key += cell_text(trials.rows[r][c]) + "\x1f";
    auto [it, inserted] = group_of.emplace(key, groups.size());
    if (inserted) groups.emplace_back();
    groups[it->second].push_back(r);
  }
  const auto add_mean = [&](std::vector<Cell>& row, const std::vector<std::size_t>& members, const std::string& column) {
    std::vector<double> values;
    for (auto r : members) {
      if (auto v = trials.number(r, column)) values.push_back(*v);
    }
    const auto stats = mean_stderr(values);
    row.push_back(values.empty() ? Cell() : Cell(stats.mean));
    row.push_back(stats.stderr_ ? Cell(*stats.stderr_) : Cell());
  };
  for (const auto& members : groups) {
    const auto& first = trials.rows[members.front()];
    std::vector<Cell> row;
    for (auto c : group_columns) row.push_back(first[c]);
    std::int64_t completed = 0, diverged = 0;
    for (auto r : members) {
      const auto* text = std::get_if<std::string>(&trials.rows[r][status]);
      completed += text && *text == to_string(TrialStatus::Completed);
      diverged += text && *text == to_string(TrialStatus::Diverged);
    }
    row.insert(row.end(), {std::int64_t(members.size()), completed, diverged});
    for (auto c : shared) row.push_back(first[c]);
    for (const auto& column : averaged) add_mean(row, members, column);
    for (const auto& target : targets) {
      const std::string name = target_column(target);
      std::int64_t reached = 0;
      for (auto r : members) reached += trials.number(r, "steps_to_" + name).has_value();
      row.emplace_back(reached);
      add_mean(row, members, "steps_to_" + name);
      add_mean(row, members, "samples_to_" + name);
    }
    add_mean(row, members, "diverged_at_step");
    out.rows.push_back(std::move(row));
  }
  return out;
}

std::string to_csv(const ExportTable& table) {
  const auto quote = [](const std::string& text) {
    if (text.find_first_of(",\"\n") == std::string::npos) return text;
    std::string out = "\"";
    for (char c : text) out += c == '"' ? std::string("\"\"") : std::string(1, c);
    return out + "\"";
  };
  std::string out;
  for (std::size_t c = 0; c < table.columns.size(); ++c) out += (c ? "," : "") + quote(table.columns[c]);
  out += "\n";
  for (const auto& row : table.rows) {
    for (std::size_t c = 0; c < row.size(); ++c) out += (c ? "," : "") + quote(cell_text(row[c]));
    out += "\n";
  }
  return out;
}

std::string to_jsonl(const ExportTable& table) {
  std::string out;
  for (const auto& row : table.rows) {
    nlohmann::ordered_json line = nlohmann::ordered_json::object();
    for (std::size_t c = 0; c < row.size(); ++c) {
      line[table.columns[c]] = std::visit(
          [](const auto& v) -> nlohmann::ordered_json {
            if constexpr (std::is_same_v<std::decay_t<decltype(v)>, std::monostate>) return nullptr;
            else return v;
          },
          row[c]);
    }
    out += line.dump() + "\n";
  }
  return out;
}

std::optional<NoiseScaleFit> fit_noise_scale(const std::vector<double>& batch_sizes, const std::vector<double>& steps) {
  // Weighted least squares of S = a + b x, x = 1/B, weights 1/S^2: a = S_min, b = S_min B_noise.
  double sw = 0, sx = 0, sy = 0, sxx = 0, sxy = 0;
  std::vector<double> distinct;
  for (std::size_t i = 0; i < batch_sizes.size() && i < steps.size(); ++i) {
    if (!(batch_sizes[i] > 0) || !(steps[i] > 0)) continue;
    const double x = 1.0 / batch_sizes[i], y = steps[i], w = 1.0 / (y * y);
    sw += w;
    sx += w * x;
    sy += w * y;
    sxx += w * x * x;
    sxy += w * x * y;
    if (std::find(distinct.begin(), distinct.end(), batch_sizes[i]) == distinct.end()) distinct.push_back(batch_sizes[i]);
  }
  const double determinant = sw * sxx - sx * sx;
  if (distinct.size() < 2 || determinant <= 0) return std::nullopt;
  const double b = (sw * sxy - sx * sy) / determinant;
  const double a = (sy - b * sx) / sw;
  if (!(a > 0) || !(b > 0)) return std::nullopt;  // steps must fall with batch size
  NoiseScaleFit fit;
  fit.s_min = a;
  fit.b_noise = b / a;
  fit.e_min = a * fit.b_noise;
  return fit;
}

}  // namespace sweeplab
