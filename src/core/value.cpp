#include "sweeplab/core/value.hpp"

#include <charconv>
#include <stdexcept>

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

namespace {

// Items: "i:8", "d:0.001", "b:1", "s:5:adams"; lists: items separated by ';', "L" first: "L:i:64;i:64".
void encode_item(std::string& out, bool v) { out += v ? "b:1" : "b:0"; }
void encode_item(std::string& out, std::int64_t v) { out += "i:" + std::to_string(v); }
void encode_item(std::string& out, double v) {
  char buffer[40];
  const auto written = std::to_chars(buffer, buffer + sizeof buffer, v);  // shortest that reads back
  out += "d:";
  out.append(buffer, written.ptr);
}
// A string's bytes with '%' and the line breaks written as %25, %0A, %0D: no encoded value holds a line break.
void encode_item(std::string& out, const std::string& v) {
  std::string escaped;
  for (const char c : v) {
    if (c == '%') escaped += "%25";
    else if (c == '\n') escaped += "%0A";
    else if (c == '\r') escaped += "%0D";
    else escaped += c;
  }
  out += "s:" + std::to_string(escaped.size()) + ":" + escaped;
}

[[noreturn]] void bad_encoding(std::string_view text) {
  throw std::invalid_argument("not an encoded value: " + std::string(text.substr(0, 60)));
}

template <class T>
T parse_number(std::string_view text) {
  T value{};
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size()) bad_encoding(text);
  return value;
}

// Reads one item of type T at `at`, moving `at` past it.
template <class T>
T decode_item(std::string_view text, std::size_t& at) {
  if (text.size() < at + 2 || text[at + 1] != ':') bad_encoding(text);
  const char tag = text[at];
  at += 2;
  if constexpr (std::is_same_v<T, std::string>) {
    if (tag != 's') bad_encoding(text);
    const auto colon = text.find(':', at);
    if (colon == std::string_view::npos) bad_encoding(text);
    const auto length = parse_number<std::size_t>(text.substr(at, colon - at));
    if (text.size() - colon - 1 < length) bad_encoding(text);
    at = colon + 1 + length;
    const std::string_view escaped = text.substr(colon + 1, length);
    std::string value;
    for (std::size_t i = 0; i < escaped.size(); ++i) {
      if (escaped[i] != '%') {
        value += escaped[i];
        continue;
      }
      const std::string_view code = escaped.substr(i + 1, 2);
      if (code == "25") value += '%';
      else if (code == "0A") value += '\n';
      else if (code == "0D") value += '\r';
      else bad_encoding(text);
      i += 2;
    }
    return value;
  } else {
    auto end = text.find(';', at);
    if (end == std::string_view::npos) end = text.size();
    const std::string_view digits = text.substr(at, end - at);
    at = end;
    if constexpr (std::is_same_v<T, bool>) {
      if (tag != 'b' || (digits != "0" && digits != "1")) bad_encoding(text);
      return digits == "1";
    } else if constexpr (std::is_same_v<T, std::int64_t>) {
      if (tag != 'i') bad_encoding(text);
      return parse_number<std::int64_t>(digits);
    } else {
      if (tag != 'd') bad_encoding(text);
      return parse_number<double>(digits);
    }
  }
}

template <class T>
Value decode_as(std::string_view text) {
  std::size_t at = 0;
  T value = decode_item<T>(text, at);
  if (at != text.size()) bad_encoding(text);
  return value;
}

template <class T>
Value decode_list(std::string_view text) {
  if (text.substr(0, 2) != "L:") bad_encoding(text);
  std::vector<T> items;
  std::size_t at = 2;
  while (at < text.size()) {
    items.push_back(decode_item<T>(text, at));
    if (at < text.size()) {
      if (text[at] != ';') bad_encoding(text);
      ++at;
      if (at == text.size()) bad_encoding(text);
    }
  }
  return items;
}

}  // namespace

std::string encode_value(const Value& value) {
  std::string out;
  std::visit(
      [&](const auto& v) {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, std::vector<std::int64_t>> || std::is_same_v<T, std::vector<double>> ||
                      std::is_same_v<T, std::vector<std::string>>) {
          out += "L:";
          for (std::size_t i = 0; i < v.size(); ++i) {
            if (i) out += ';';
            encode_item(out, v[i]);
          }
        } else {
          encode_item(out, v);
        }
      },
      value);
  return out;
}

Value decode_value(std::string_view text, ValueType type) {
  switch (type) {
    case ValueType::Bool: return decode_as<bool>(text);
    case ValueType::Int: return decode_as<std::int64_t>(text);
    case ValueType::Double: return decode_as<double>(text);
    case ValueType::String: return decode_as<std::string>(text);
    case ValueType::IntList: return decode_list<std::int64_t>(text);
    case ValueType::DoubleList: return decode_list<double>(text);
    case ValueType::StringList: return decode_list<std::string>(text);
  }
  bad_encoding(text);
}

}  // namespace sweeplab
