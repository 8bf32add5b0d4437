#pragma once
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sweeplab {

// Levenshtein distance, for "did you mean" suggestions.
std::size_t edit_distance(std::string_view a, std::string_view b);

// The candidate closest to `typo`, if it is close enough to be a plausible typo.
// A dotted candidate also matches on its last component ("lr" finds "optimizer.lr").
std::optional<std::string> closest_match(std::string_view typo, const std::vector<std::string>& candidates);

// " (did you mean 'x'?)" or "".
std::string did_you_mean(std::string_view typo, const std::vector<std::string>& candidates);

std::string join(const std::vector<std::string>& parts, std::string_view separator);

// Without leading and trailing whitespace (spaces, tabs, newlines).
std::string trim(const std::string& text);

// Shortest decimal text that reads back as the same double (like Python's repr): 0.1, 0.001, 1e-08.
std::string format_double(double value);

// Compact text for display and trial ids: at most `significant` significant digits.
std::string format_double_short(double value, int significant = 4);

}  // namespace sweeplab
