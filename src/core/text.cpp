#include "sweeplab/core/text.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace sweeplab {

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

std::optional<std::string> closest_match(std::string_view typo, const std::vector<std::string>& candidates) {
  std::optional<std::string> best;
  std::size_t best_distance = std::max<std::size_t>(2, typo.size() / 3) + 1;
  const bool typo_is_leaf = typo.find('.') == std::string_view::npos;
  for (const auto& candidate : candidates) {
    std::size_t distance = edit_distance(typo, candidate);
    const auto dot = candidate.rfind('.');
    if (typo_is_leaf && dot != std::string::npos) {
      distance = std::min(distance, edit_distance(typo, std::string_view(candidate).substr(dot + 1)));
    }
    if (distance < best_distance) {
      best_distance = distance;
      best = candidate;
    }
  }
  return best;
}

std::string did_you_mean(std::string_view typo, const std::vector<std::string>& candidates) {
  const auto match = closest_match(typo, candidates);
  return match ? " (did you mean '" + *match + "'?)" : std::string();
}

std::string join(const std::vector<std::string>& parts, std::string_view separator) {
  std::string out;
  for (std::size_t i = 0; i < parts.size(); ++i) {
    if (i) out += separator;
    out += parts[i];
  }
  return out;
}

std::string format_double(double value) {
  if (std::isnan(value)) return ".nan";
  if (std::isinf(value)) return value > 0 ? ".inf" : "-.inf";
  // Ordinary magnitudes read better without an exponent (10.0, not 1e+01).
  const bool plain_wanted = std::fabs(value) >= 1e-4 && std::fabs(value) < 1e15;
  char buffer[40];
  for (int precision = 1; precision <= 17; ++precision) {
    std::snprintf(buffer, sizeof buffer, "%.*g", precision, value);
    if (std::strtod(buffer, nullptr) != value) continue;
    if (!plain_wanted || !std::strchr(buffer, 'e')) break;
  }
  std::string text = buffer;
  for (const char* padded : {"e-0", "e+0"}) {  // 1e-08 -> 1e-8
    const auto at = text.find(padded);
    if (at != std::string::npos) text.erase(at + 2, 1);
  }
  // Keep a double recognisable as one when it happens to be integral ("1.0", not "1").
  if (text.find_first_of(".en") == std::string::npos) text += ".0";
  return text;
}

std::string format_double_short(double value, int significant) {
  char buffer[40];
  std::snprintf(buffer, sizeof buffer, "%.*g", significant, value);
  return buffer;
}

std::string trim(const std::string& text) {
  const auto begin = text.find_first_not_of(" \t\r\n");
  if (begin == std::string::npos) return "";
  return text.substr(begin, text.find_last_not_of(" \t\r\n") - begin + 1);
}

}  // namespace sweeplab
