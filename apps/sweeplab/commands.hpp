#pragma once
// One file per subcommand: setup_X adds it to the app and its options; run_X does the work.
// run_X functions throw UserError for bad input; cli.cpp turns exceptions into exit codes.
#include <iosfwd>
#include <string>
#include <vector>

#include "sweeplab/config/loader.hpp"

namespace CLI {
class App;
}

namespace sweeplab {

struct GlobalOptions {
  std::string configs_dir = "configs";
  std::string experiments_dir = "experiments";
  bool verbose = false;
  bool quiet = false;
  std::size_t max_trials = kDefaultMaxTrials;  // --max-trials
};

// How every command loads a sweep (the --max-trials limit).
inline LoadOptions load_options(const GlobalOptions& global) {
  LoadOptions options;
  options.max_trials = global.max_trials;
  return options;
}

struct ListOptions {};
CLI::App* setup_list(CLI::App& app, ListOptions& options);
int run_list(const GlobalOptions& global, const ListOptions& options, std::ostream& out, std::ostream& err);

struct ShowOptions {
  std::string name;
  std::vector<std::string> overrides;
  bool trials = false;
  bool keys = false;
  bool all = false;  // every key, also those the task and optimizer do not use
};
CLI::App* setup_show(CLI::App& app, ShowOptions& options);
int run_show(const GlobalOptions& global, const ShowOptions& options, std::ostream& out, std::ostream& err);

struct RunCommandOptions {
  std::vector<std::string> names;
  std::vector<std::string> overrides;
  bool dry_run = false;
  bool no_save = false;
  bool fresh = false;
  bool retry_failed = false;
  unsigned jobs = 0;  // 0: the number of cores
  std::size_t group_size = 0;  // 0: the engine's default
};
CLI::App* setup_run(CLI::App& app, RunCommandOptions& options);
int run_run(const GlobalOptions& global, const RunCommandOptions& options, std::ostream& out, std::ostream& err);

struct StatusOptions {
  std::string name;
  std::vector<std::string> overrides;
  std::vector<std::string> where;   // --where KEY=VALUE (where.hpp)
  std::vector<std::string> states;  // --state failed|diverged|running|... (repeatable)
  bool pending = false;             // --pending: rows for the current config's trials not run yet
  bool rescan = false;              // --rescan: read every trial's files again, rebuild the index
  bool watch = false;               // --watch: redraw in place until the sweep ends (a terminal)
  double interval_s = 2.0;          // --interval for --watch
};
CLI::App* setup_status(CLI::App& app, StatusOptions& options);
int run_status(const GlobalOptions& global, const StatusOptions& options, std::ostream& out, std::ostream& err);

struct ExportOptions {
  std::string name;
  std::vector<std::string> overrides;
  std::vector<std::string> where;   // --where KEY=VALUE (where.hpp)
  std::string format = "csv";
  bool aggregate = false;
  bool pending = false;             // --pending: rows for planned trials and the current config's not run yet
};
CLI::App* setup_export(CLI::App& app, ExportOptions& options);
int run_export(const GlobalOptions& global, const ExportOptions& options, std::ostream& out, std::ostream& err);

struct ReportOptions {
  std::vector<std::string> names;      // one sweep, or two side by side (report A B)
  std::vector<std::string> overrides;  // -o, for each sweep
  std::vector<std::string> plots;      // --plots a,b (comma-separated or repeated); empty: every plot
  std::vector<std::string> where;      // --where KEY=VALUE (where.hpp)
  bool list_plots = false;             // --list-plots: the plots' names and what each draws
  bool pending = false;                // --pending: the current config's trials not run yet, as "not run" cells
  std::string format = "svg";          // --format pdf: each figure as a PDF too (figures/NAME.pdf)
  std::string colour_by;               // --colour-by last_batch_loss: the heatmaps' colour
  std::string x_axis;                  // --x-axis epoch|step|samples|lr_step: what curves are drawn against
};
CLI::App* setup_report(CLI::App& app, ReportOptions& options);
int run_report(const GlobalOptions& global, const ReportOptions& options, std::ostream& out, std::ostream& err);

struct SubmitOptions {
  std::string name;
  std::vector<std::string> overrides;
  bool slurm = false;
  std::string partition, time, mem, gres, account;
  unsigned cpus_per_task = 1;
  std::size_t max_running = 0;     // 0: no throttle
  std::vector<std::string> sbatch_args;
  std::size_t group_size = 0;      // 0: the engine's default
  bool retry_failed = false;
  bool dry_run = false;
  bool wait = false;
  int poll_s = 10;
};
CLI::App* setup_submit(CLI::App& app, SubmitOptions& options);
int run_submit(const GlobalOptions& global, const SubmitOptions& options, std::ostream& out, std::ostream& err);

// What each Slurm array task of `submit` runs: the trials on its line of the task list.
struct SlurmTaskOptions {
  std::string name;
  std::vector<std::string> overrides;
  std::string tasks_file;
  bool retry_failed = false;
};
CLI::App* setup_slurm_task(CLI::App& app, SlurmTaskOptions& options);
int run_slurm_task(const GlobalOptions& global, const SlurmTaskOptions& options, std::ostream& out, std::ostream& err);

struct CancelOptions {
  std::string name;
  int timeout_s = 120;
};
CLI::App* setup_cancel(CLI::App& app, CancelOptions& options);
int run_cancel(const GlobalOptions& global, const CancelOptions& options, std::ostream& out, std::ostream& err);

struct BestOptions {
  std::string name;
  std::vector<std::string> overrides;
  std::string metric;                 // default: test_acc for classification, else test_loss
  std::string per;                    // an axis: the best configuration per value of it
  std::vector<std::string> where;
};
CLI::App* setup_best(CLI::App& app, BestOptions& options);
int run_best(const GlobalOptions& global, const BestOptions& options, std::ostream& out, std::ostream& err);

struct LogsOptions {
  std::string name;
  std::string trial;                  // a trial id or a unique prefix of one
  std::vector<std::string> overrides;
  std::vector<std::string> where;
  bool follow = false;                // -f
};
CLI::App* setup_logs(CLI::App& app, LogsOptions& options);
int run_logs(const GlobalOptions& global, const LogsOptions& options, std::ostream& out, std::ostream& err);

struct CleanOptions {
  std::string name;
  std::vector<std::string> overrides;
  std::vector<std::string> where;     // --where KEY=VALUE (where.hpp)
  bool failed = false, diverged = false, all = false;
  bool yes = false;                   // no question
};
CLI::App* setup_clean(CLI::App& app, CleanOptions& options);
// Asks on `in` (std::cin from main) unless options.yes.
int run_clean(const GlobalOptions& global, const CleanOptions& options, std::istream& in, std::ostream& out,
              std::ostream& err);

struct CompletionOptions {
  std::string shell;                  // bash or zsh
  std::string list;                   // --list commands|sweeps|keys (hidden): what the scripts complete from
  const CLI::App* app = nullptr;      // the whole command line, whose commands and options the scripts complete
};
CLI::App* setup_completion(CLI::App& app, CompletionOptions& options);
int run_completion(const GlobalOptions& global, const CompletionOptions& options, std::ostream& out, std::ostream& err);

// The shared -o option of show, run, export, ...
void add_override_option(CLI::App& command, std::vector<std::string>& overrides);

}  // namespace sweeplab
