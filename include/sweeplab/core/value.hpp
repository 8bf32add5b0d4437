#pragma once
// The value of one config key, typed by the key's schema entry.
#include <cstdint>
#include <string>
#include <variant>
#include <vector>

namespace sweeplab {

enum class ValueType { Bool, Int, Double, String, IntList, DoubleList, StringList };

using Value = std::variant<bool, std::int64_t, double, std::string, std::vector<std::int64_t>,
                           std::vector<double>, std::vector<std::string>>;

// "integer", "list of numbers", ... for messages and the key documentation.
std::string type_name(ValueType type);

// Canonical text in YAML flow syntax: true, 8, 0.001, adam, [64, 64]. Reads back to the same value.
std::string to_text(const Value& value);

// Compact text for trial ids and tables: 8, 0.001, 64x64.
std::string to_short_text(const Value& value);

}  // namespace sweeplab
