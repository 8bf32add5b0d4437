#include "where.hpp"

#include <CLI/CLI.hpp>

#include <algorithm>
#include <cmath>
#include <cstdlib>

#include "sweeplab/config/schema.hpp"
#include "sweeplab/core/error.hpp"
#include "sweeplab/core/text.hpp"

namespace sweeplab {
namespace {

std::string without_spaces(std::string text) {
  text.erase(std::remove(text.begin(), text.end(), ' '), text.end());
  return text;
}

// VALUE read as a number, when all of it is one.
bool number(const std::string& text, double& value) {
  char* end = nullptr;
  value = std::strtod(text.c_str(), &end);
  return !text.empty() && end && *end == '\0';
}

bool is_number_type(ValueType type) { return type == ValueType::Int || type == ValueType::Double; }

}  // namespace

void add_where_option(CLI::App& command, std::vector<std::string>& items) {
  command.add_option("--where", items, "KEY=VALUE: only trials with this value (e.g. --where lr=0.1 --where batch_size=64)")
      ->expected(1)
      ->take_all();
}

std::vector<WhereFilter> parse_where(const std::vector<std::string>& items) {
  std::vector<WhereFilter> filters;
  for (const auto& item : items) {
    const auto equals = item.find('=');
    if (equals == std::string::npos || equals == 0 || equals + 1 == item.size()) {
      throw UserError("--where " + item + ": expected KEY=VALUE (e.g. --where lr=0.1)");
    }
    std::string key = item.substr(0, equals);
    const std::string text = item.substr(equals + 1);
    if (!find_field(key)) {
      auto keys = keys_with_leaf(key);
      if (keys.empty()) {  // the short name in trial ids: bs for training.batch_size
        for (const auto& field : schema()) {
          if (!field.label.empty() && field.label == key) keys.push_back(field.key);
        }
      }
      if (keys.size() > 1) {
        throw UserError("--where " + item + ": '" + key + "' is the name of several keys (" + join(keys, ", ") +
                        "); give the full key");
      }
      if (keys.empty()) {
        std::vector<std::string> names = all_key_names();
        for (const auto& field : schema()) {
          if (!field.label.empty()) names.push_back(field.label);
        }
        throw UserError("--where " + item + ": unknown key '" + key + "'" + did_you_mean(key, names) +
                        " (sweeplab show --keys lists them)");
      }
      key = keys.front();
    }
    const FieldSpec& field = *find_field(key);
    double ignored = 0.0;
    if (is_number_type(field.type) && !number(text, ignored)) {
      throw UserError("--where " + item + ": " + key + " is " + type_name(field.type) + ", not '" + text + "'");
    }
    if (field.type == ValueType::Bool && text != "true" && text != "false") {
      throw UserError("--where " + item + ": " + key + " is true or false, not '" + text + "'");
    }
    filters.push_back({key, text});
  }
  return filters;
}

bool matches(const CompactConfig& config, const std::vector<WhereFilter>& filters) {
  for (const auto& filter : filters) {
    const FieldSpec& field = *find_field(filter.key);
    const Value value = config.get(filter.key);
    if (is_number_type(field.type)) {
      double wanted = 0.0;
      number(filter.text, wanted);
      const double have = field.type == ValueType::Int ? double(std::get<std::int64_t>(value)) : std::get<double>(value);
      if (!(std::fabs(have - wanted) <= 1e-12 * std::max(std::fabs(have), std::fabs(wanted)))) return false;
    } else if (without_spaces(to_text(value)) != without_spaces(filter.text)) {
      return false;
    }
  }
  return true;
}

std::string values_there_are(const std::vector<WhereFilter>& filters, const std::vector<TrialState>& trials) {
  std::vector<std::string> values;
  for (const auto& filter : filters) {
    std::vector<std::string> seen;
    for (const auto& trial : trials) {
      const auto text = to_short_text(trial.config.get(filter.key));
      if (std::find(seen.begin(), seen.end(), text) == seen.end()) seen.push_back(text);
    }
    values.push_back(filter.key + " is " + join(seen, ", "));
  }
  return join(values, "; ");
}

}  // namespace sweeplab
