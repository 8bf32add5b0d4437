#pragma once
// The value of one config key, typed by the key's schema entry.
#include <cstdint>
#include <string>
#include <string_view>
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

// An exact, unambiguous text of a value for files sweeplab reads back itself (the trial index): doubles to the
// last bit (inf and nan included), strings with their length (and %, line breaks as %25, %0A, %0D, so that no
// line break appears). encode_value(decode_value(text, type)) == text.
std::string encode_value(const Value& value);
// Throws std::invalid_argument when `text` is not an encoded value of `type`.
Value decode_value(std::string_view text, ValueType type);

}  // namespace sweeplab
