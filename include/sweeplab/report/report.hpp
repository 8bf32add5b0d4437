#pragma once
// `sweeplab report NAME`: experiments/NAME/report.html, one self-contained file (figures inline as SVG,
// no network), and the figures as files in experiments/NAME/figures/, each with the gnuplot script that
// draws it (NAME.gp, data inline). A figure without data is not drawn, and the report says why.
#include <functional>
#include <string>
#include <vector>

#include "sweeplab/config/loader.hpp"

namespace sweeplab {

// A plot the report can draw (`report --plots NAME,...`, `report --list-plots`).
struct PlotInfo {
  std::string name;         // heatmap_batch
  std::string description;  // one line
};
std::vector<PlotInfo> plot_kinds();  // in the order the report shows them

struct ReportRequest {
  std::vector<std::string> plots;             // names from plot_kinds(); empty: every plot
  std::function<bool(const Config&)> where;   // the trials to draw; empty: every trial
  std::string where_text;                     // the filters as given, for titles ("lr=0.1, batch_size=64")
  std::string folder;                         // report.html and figures/ go here; empty: experiments/NAME
};

struct ReportFiles {
  std::string html;
  std::vector<std::string> figures;
  std::vector<std::string> not_drawn;  // "title: why"
  std::string note;                    // e.g. "no trial has finished yet (4 pending)"
};

// Throws UserError when gnuplot is missing or the sweep has never been run (no sweep.json). A sweep
// whose trials have not finished gets a report that says so.
ReportFiles write_report(const ResolvedSweep& sweep, const std::string& experiments_dir, const ReportRequest& request = {});

}  // namespace sweeplab
