#pragma once
// `sweeplab report NAME`: experiments/NAME/report.html, one self-contained file (figures inline as SVG,
// no network), and the figures as files in experiments/NAME/figures/. Figures are drawn by gnuplot.
#include <string>
#include <vector>

#include "sweeplab/config/loader.hpp"

namespace sweeplab {

struct ReportFiles {
  std::string html;
  std::vector<std::string> figures;
  std::vector<std::string> not_drawn;  // "title: why"
};

// Throws UserError when gnuplot is missing or the sweep has no results yet.
ReportFiles write_report(const ResolvedSweep& sweep, const std::string& experiments_dir);

}  // namespace sweeplab
