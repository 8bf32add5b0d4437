#pragma once
// `sweeplab report NAME`: experiments/NAME/report.html, one self-contained file (figures inline as SVG,
// no network, a table of the trials sortable by an inline script), and the figures as files in
// experiments/NAME/figures/, each with the gnuplot script that draws it (NAME.gp, data inline). A figure without
// data is not drawn, and the report says why. A report with -o, --where or --plots, or of two sweeps side by side,
// goes to a folder of its own (report_folder), so that no report overwrites another.
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
  std::function<bool(const CompactConfig&)> where;  // the trials to draw; empty: every trial
  std::string where_text;                     // the filters as given, for titles ("lr=0.1, batch_size=64")
  std::string folder;                         // report.html and figures/ go here; empty: experiments/NAME
  bool pending = false;                       // also the current config's trials not run yet (cells "not run")
  bool pdf = false;                           // each figure as NAME.pdf too (gnuplot's pdfcairo), for a paper
  std::string colour_by;                      // heatmaps: "" (final accuracy, else mean train loss) or "last_batch_loss"
  std::string x_axis;                         // curves: "" (the budget's unit), epoch, step, samples or lr_step (η·step)
};

// What makes a report differ from the plain `report NAME`; each part shows in the name of its folder.
struct ReportChoices {
  std::vector<std::string> overrides;  // -o KEY=VALUE, as given (the leaf name made the full key)
  std::vector<std::string> where;      // --where filters, KEY=VALUE with the full key
  std::vector<std::string> plots;      // --plots, in any order (every plot: as none)
  std::string versus;                  // the second sweep of `report A B`
  bool pending = false;                // --pending
  std::string colour_by;               // --colour-by, "" for the default
  std::string x_axis;                  // --x-axis, "" for the default
};

// experiments/NAME for the plain report; else experiments/NAME/reports/SLUG, SLUG made of the choices
// ("vs-B+training.epochs=30+where-optimizer.lr=0.1+plots-loss_curves+colour-last_batch_loss"), its characters kept to
// [A-Za-z0-9._=,+-]; one that had to be changed, or that is longer than 120, is cut and ends with a hash of the
// whole (-1a2b3c4d), so that different choices never share a folder.
std::string report_folder(const std::string& experiments_dir, const std::string& name, const ReportChoices& choices);

struct ReportFiles {
  std::string html;
  std::vector<std::string> figures;
  std::vector<std::string> not_drawn;  // "title: why" (a figure, or its PDF)
  std::vector<std::string> pdfs;       // with request.pdf: the PDFs written
  std::string note;                    // e.g. "no trial has finished yet (4 pending)"
};

// Throws UserError, writing nothing, when gnuplot is missing, the sweep has never been run (no sweep.json),
// request.where keeps none of its trials, or request.colour_by names a value no trial recorded. A sweep whose trials have not finished gets a report that says so.
ReportFiles write_report(const ResolvedSweep& sweep, const std::string& experiments_dir, const ReportRequest& request = {});

// `report A B`: one page, request.folder/report.html (required), with each figure of A next to the same figure of
// B (drawn into request.folder/A/ and request.folder/B/), then both tables of trials. request applies to both.
// Throws UserError, writing nothing, when either sweep has no results or the filters keep none of its trials.
ReportFiles write_comparison(const ResolvedSweep& a, const ResolvedSweep& b, const std::string& experiments_dir,
                             const ReportRequest& request);

}  // namespace sweeplab
