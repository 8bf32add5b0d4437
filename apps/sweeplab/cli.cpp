#include "cli.hpp"

#include <CLI/CLI.hpp>

#include <algorithm>
#include <filesystem>
#include <iostream>
#include <ostream>

#include "commands.hpp"
#include "run_checks.hpp"
#include "sweeplab/core/error.hpp"
#include "sweeplab/core/fs.hpp"
#include "sweeplab/core/process.hpp"
#include "sweeplab/core/text.hpp"
#include "sweeplab/store/trial_files.hpp"

namespace sweeplab {
namespace {

// Whether the trainer another program named by SWEEPLAB_TRAINER can train on CUDA: it is asked, as `run` asks it
// before a cuda sweep (this costs its start-up, about a second).
std::string ask_trainer_about_cuda(const std::string& trainer) {
  const CommandResult answer = run_command({trainer, "--check-cuda"});
  if (answer.ok()) return "available (sweeplab-trainer can train with training.device: cuda)";
  if (answer.exit_code < 0) return "unknown (cannot start " + trainer + ": " + answer.problem() + ")";
  std::string reason = answer.out.empty() ? answer.problem() : answer.out.substr(0, answer.out.find('\n'));
  const std::string prefix = "training.device: cuda, but ";
  if (reason.rfind(prefix, 0) == 0) reason = reason.substr(prefix.size());
  if (const auto use = reason.rfind("; use cpu"); use != std::string::npos && use + 9 == reason.size()) reason.resize(use);
  return "not available (" + reason + ")";
}

// CUDA, from what the build knows of its trainer's LibTorch (no trainer is started: --version answers in
// milliseconds); with CUDA built in, the GPUs the NVIDIA driver lists. A trainer named by SWEEPLAB_TRAINER may
// have another LibTorch: it is asked.
std::string cuda_text() {
  if (const char* other = std::getenv("SWEEPLAB_TRAINER"); other && *other) {
    try {
      return ask_trainer_about_cuda(locate_trainer());
    } catch (const std::exception& e) {
      return std::string("unknown (") + e.what() + ")";
    }
  }
#if SWEEPLAB_TORCH_CUDA
  std::error_code ec;
  std::size_t gpus = 0;
  for (auto it = std::filesystem::directory_iterator("/proc/driver/nvidia/gpus", ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
    ++gpus;
  }
  if (gpus == 0) return "not available (LibTorch has CUDA, but the NVIDIA driver lists no GPU)";
  return "built in, " + std::to_string(gpus) + " GPU" + (gpus == 1 ? "" : "s") +
         " listed by the NVIDIA driver (run checks the GPU before a cuda sweep)";
#else
  return "not available (this LibTorch build has no CUDA)";
#endif
}

#if defined(__x86_64__)
constexpr const char* kMultiarch = "x86_64-linux-gnu";
#elif defined(__aarch64__)
constexpr const char* kMultiarch = "aarch64-linux-gnu";
#else
constexpr const char* kMultiarch = "";
#endif

// The BLAS LibTorch's libblas.so.3 resolves to: on Debian, what the update-alternatives link points at.
std::string blas_text() {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::path link = fs::path("/etc/alternatives") / (std::string("libblas.so.3-") + kMultiarch);
  if (!fs::is_symlink(link, ec)) {
    link.clear();
    for (const auto& entry : fs::directory_iterator("/etc/alternatives", ec)) {
      if (entry.path().filename().string().rfind("libblas.so.3", 0) == 0) link = entry.path();
    }
  }
  if (link.empty()) return "unknown (no libblas.so.3 alternative in /etc/alternatives)";
  const fs::path target = fs::read_symlink(link, ec);
  if (ec) return "unknown (" + link.string() + ": " + ec.message() + ")";
  // .../openblas-pthread/libblas.so.3 -> openblas-pthread; .../blas/libblas.so.3 -> netlib; .../libmkl_rt.so -> that
  std::string name = target.parent_path().filename().string();
  if (name == "blas") name = "netlib (reference BLAS)";
  else if (name == kMultiarch || name == "lib" || name.empty()) name = target.filename().string();
  return name + " (" + link.string() + " -> " + target.string() + ")";
}

std::string version_text() {
  return std::string("sweeplab ") + SWEEPLAB_VERSION + " (git " + make_run_context("", 1).git_commit + ")\n" +
         "LibTorch: " + SWEEPLAB_TORCH_VERSION + " (libsweeplab_torch.so: trainers load it for the trials that need it)\n" + "CUDA: " + cuda_text() + "\n" +
         "BLAS: " + blas_text() + "\n";
}

}  // namespace

void add_override_option(CLI::App& command, std::vector<std::string>& overrides) {
  command.add_option("-o,--override", overrides,
                     "KEY=VALUE: set a config key (-o training.epochs=5, or -o epochs=5 when the leaf name is "
                     "unique); VALUE is YAML (-o model.hidden=[128,128]); a,b,c makes a sweep axis")
      ->expected(1)
      ->take_all();
}

int run_cli(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  CLI::App app{"sweeplab: batch-size and learning-rate sweeps of small MLPs, with resumable trials", "sweeplab"};
  app.set_version_flag("--version", SWEEPLAB_VERSION,
                       "Print sweeplab's version and git commit, the LibTorch version, CUDA and the BLAS, and exit");
  app.require_subcommand(1);
  app.fallthrough();  // global options may follow the subcommand: sweeplab run quickstart -q
  app.footer(
      "Example:\n  sweeplab list\n  sweeplab show doughnut-batch -o epochs=5 --trials\n  sweeplab run quickstart\n\n"
      "Exit codes:\n  0    success (a diverged trial is a result, not a failure)\n"
      "  1    a selected trial is failed at the end (also one that failed earlier; run --retry-failed)\n"
      "  2    bad usage, config, override or experiments path; nothing was run or written\n"
      "  3    storage error during a run (disk full, I/O error); state is safe; rerun to resume\n"
      "  4    the system refused a worker process or its pipes (lower -j), or an internal error (a bug: please report it)\n"
      "  130  interrupted; running trials saved a checkpoint; rerun to resume");
  GlobalOptions global;
  app.add_option("--configs", global.configs_dir, "Folder of named sweeps (NAME.yaml)")->capture_default_str();
  app.add_option("--experiments", global.experiments_dir, "Folder results are written to")->capture_default_str();
  app.add_flag("-v,--verbose", global.verbose, "Say more");
  app.add_flag("-q,--quiet", global.quiet, "Say less");
  app.add_option("--max-trials", global.max_trials,
                 "Refuse a sweep of more trials than this (counted before the trials are made)")
      ->check(CLI::Range(std::size_t{1}, std::size_t{1000000000}))
      ->capture_default_str();

  ListOptions list_options;
  ShowOptions show_options;
  CLI::App* list = setup_list(app, list_options);
  CLI::App* show = setup_show(app, show_options);
  RunCommandOptions run_options;
  CLI::App* run = setup_run(app, run_options);
  StatusOptions status_options;
  CLI::App* status = setup_status(app, status_options);
  ExportOptions export_options;
  CLI::App* export_command = setup_export(app, export_options);
  ReportOptions report_options;
  CLI::App* report = setup_report(app, report_options);
  SubmitOptions submit_options;
  CLI::App* submit = setup_submit(app, submit_options);
  CancelOptions cancel_options;
  CLI::App* cancel = setup_cancel(app, cancel_options);
  BestOptions best_options;
  CLI::App* best = setup_best(app, best_options);
  LogsOptions logs_options;
  CLI::App* logs = setup_logs(app, logs_options);
  CleanOptions clean_options;
  CLI::App* clean = setup_clean(app, clean_options);
  CompletionOptions completion_options;
  CLI::App* completion = setup_completion(app, completion_options);
  SlurmTaskOptions slurm_task_options;
  CLI::App* slurm_task = setup_slurm_task(app, slurm_task_options);

  // CLI11 would only say "a subcommand is required" for a mistyped one.
  for (std::size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--configs" || args[i] == "--experiments" || args[i] == "--max-trials") {
      ++i;
    } else if (args[i].empty() || args[i][0] != '-') {
      std::vector<std::string> names, shown;
      for (const auto* command : app.get_subcommands({})) {
        names.push_back(command->get_name());
        if (!command->get_group().empty()) shown.push_back(command->get_name());  // not the hidden slurm-task
      }
      if (std::find(names.begin(), names.end(), args[i]) == names.end()) {
        err << "sweeplab: unknown command '" << args[i] << "'" << did_you_mean(args[i], shown)
            << "; commands: " << join(shown, ", ") << "\n";
        return 2;
      }
      break;
    }
  }
  std::vector<std::string> reversed(args.rbegin(), args.rend());  // CLI11 takes the arguments back to front
  try {
    app.parse(reversed);
  } catch (const CLI::CallForHelp&) {
    out << (app.get_subcommands().empty() ? app.help() : app.get_subcommands().front()->help());
    return 0;
  } catch (const CLI::CallForAllHelp&) {
    out << app.help("", CLI::AppFormatMode::All);
    return 0;
  } catch (const CLI::CallForVersion&) {
    out << version_text();
    return 0;
  } catch (const CLI::ParseError& e) {
    const auto used = app.get_subcommands();
    err << "sweeplab: " << e.what() << " (see sweeplab " << (used.empty() ? "" : used.front()->get_name() + " ")
        << "--help)\n";
    return 2;
  }

  try {
    if (list->parsed()) return run_list(global, list_options, out, err);
    if (show->parsed()) return run_show(global, show_options, out, err);
    if (run->parsed()) return run_run(global, run_options, out, err);
    if (status->parsed()) return run_status(global, status_options, out, err);
    if (export_command->parsed()) return run_export(global, export_options, out, err);
    if (report->parsed()) return run_report(global, report_options, out, err);
    if (submit->parsed()) return run_submit(global, submit_options, out, err);
    if (cancel->parsed()) return run_cancel(global, cancel_options, out, err);
    if (best->parsed()) return run_best(global, best_options, out, err);
    if (logs->parsed()) return run_logs(global, logs_options, out, err);
    if (clean->parsed()) return run_clean(global, clean_options, std::cin, out, err);
    if (completion->parsed()) return run_completion(global, completion_options, out, err);
    if (slurm_task->parsed()) return run_slurm_task(global, slurm_task_options, out, err);
  } catch (const UserError& e) {
    err << "sweeplab: " << e.what() << "\n";
    return 2;
  } catch (const StorageError& e) {
    err << "sweeplab: storage error: " << e.what() << "; state is safe; rerun to resume\n";
    return 3;
  } catch (const SystemError& e) {
    err << "sweeplab: " << e.what() << "; the trials that started have checkpointed; rerun to resume\n";
    return 4;
  } catch (const std::exception& e) {
    err << "sweeplab: internal error (please report it): " << e.what() << "\n";
    return 4;
  }
  throw InternalError("no subcommand ran");
}

}  // namespace sweeplab
