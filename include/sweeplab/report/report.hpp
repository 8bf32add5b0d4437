#pragma once
// `sweeplab report NAME`: experiments/NAME/report.html, one self-contained file (figures inline as SVG,
// no network), and the figures as files in experiments/NAME/figures/, each with the gnuplot script that
// draws it (NAME.gp, data inline). A figure without data is not drawn, and the report says why.
#include <string>
#include <vector>

#include "sweeplab/config/loader.hpp"

namespace sweeplab {

struct ReportFiles {
  std::string html;
  std::vector<std::string> figures;
  std::vector<std::string> not_drawn;  // "title: why"
  std::string note;                    // e.g. "no trial has finished yet (4 pending)"
};

// Throws UserError when gnuplot is missing or the sweep has never been run (no sweep.json). A sweep
// whose trials have not finished gets a report that says so.
ReportFiles write_report(const ResolvedSweep& sweep, const std::string& experiments_dir);

}  // namespace sweeplab
