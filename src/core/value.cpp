#include "sweeplab/core/value.hpp"

#include "sweeplab/core/text.hpp"

namespace sweeplab {
namespace {

std::string scalar_text(bool v) { return v ? "true" : "false"; }
std::string scalar_text(std::int64_t v) { return std::to_string(v); }
std::string scalar_text(double v) { return format_double(v); }
std::string scalar_text(const std::string& v) { return v; }

template <class T>
std::string list_text(const std::vector<T>& items, const char* open, const char* separator, const char* close,
                      bool short_numbers) {
  std::string out = open;
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i) out += separator;
    if constexpr (std::is_same_v<T, double>) {
      out += short_numbers ? format_double_short(items[i]) : format_double(items[i]);
    } else {
      out += scalar_text(items[i]);
    }
  }
  return out + close;
}

}  // namespace

std::string type_name(ValueType type) {
  switch (type) {
    case ValueType::Bool: return "true or false";
    case ValueType::Int: return "an integer";
    case ValueType::Double: return "a number";
    case ValueType::String: return "a string";
    case ValueType::IntList: return "a list of integers";
    case ValueType::DoubleList: return "a list of numbers";
    case ValueType::StringList: return "a list of strings";
  }
  return "?";
}

std::string to_text(const Value& value) {
  return std::visit(
      [](const auto& v) -> std::string {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, std::vector<std::int64_t>> || std::is_same_v<T, std::vector<double>> ||
                      std::is_same_v<T, std::vector<std::string>>) {
          return list_text(v, "[", ", ", "]", false);
        } else {
          return scalar_text(v);
        }
      },
      value);
}

std::string to_short_text(const Value& value) {
  return std::visit(
      [](const auto& v) -> std::string {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, std::vector<std::int64_t>> || std::is_same_v<T, std::vector<double>> ||
                      std::is_same_v<T, std::vector<std::string>>) {
          return list_text(v, "", "x", "", true);
        } else if constexpr (std::is_same_v<T, double>) {
          return format_double_short(v);
        } else {
          return scalar_text(v);
        }
      },
      value);
}

}  // namespace sweeplab
