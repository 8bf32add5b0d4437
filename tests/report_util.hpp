#pragma once
// What the report's tests share: reading report.html and the figures' gnuplot scripts and SVGs.
#include <gtest/gtest.h>

#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include "test_util.hpp"

namespace sweeplab::testing {

inline std::size_t count(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + what.size())) ++n;
  return n;
}

// The text between `from` and the next `to` (empty when `from` is missing).
inline std::string between(const std::string& text, const std::string& from, const std::string& to) {
  const auto start = text.find(from);
  if (start == std::string::npos) return "";
  const auto end = text.find(to, start + from.size());
  return text.substr(start, end == std::string::npos ? std::string::npos : end - start);
}

// The rows of a gnuplot datablock "$NAME << EOD ... EOD" in a figure's script, as numbers.
inline std::vector<std::vector<double>> datablock(const std::string& script, const std::string& name) {
  std::vector<std::vector<double>> rows;
  std::istringstream in(between(script, "$" + name + " << EOD\n", "EOD\n"));
  std::string line;
  std::getline(in, line);  // the header
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::vector<double> row;
    for (std::string field; fields >> field;) row.push_back(std::stod(field));
    rows.push_back(row);
  }
  return rows;
}

// Every figure file is a whole SVG: no empty or cut-off one is ever left behind.
inline void expect_whole_svgs(const std::filesystem::path& figures) {
  if (!std::filesystem::exists(figures)) return;
  for (const auto& entry : std::filesystem::directory_iterator(figures)) {
    if (entry.path().extension() != ".svg") continue;
    const std::string svg = read_file(entry.path());
    EXPECT_NE(svg.find("<svg"), std::string::npos) << entry.path();
    EXPECT_NE(svg.find("</svg>"), std::string::npos) << entry.path();
  }
}

}  // namespace sweeplab::testing
