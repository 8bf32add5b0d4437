// `clean NAME --failed | --diverged | --all`: removes trial folders after one confirmation. A trial that is
// being trained (its lock held by a live process) or whose Slurm task is still queued is never removed.
#include <CLI/CLI.hpp>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <istream>
#include <map>
#include <optional>
#include <ostream>

#include "commands.hpp"
#include "on_disk.hpp"
#include "sweeplab/core/error.hpp"
#include "sweeplab/core/fs.hpp"
#include "sweeplab/core/process.hpp"
#include "sweeplab/core/text.hpp"
#include "sweeplab/slurm/submissions.hpp"
#include "sweeplab/store/layout.hpp"
#include "sweeplab/store/lock.hpp"
#include "sweeplab/store/sweep_state.hpp"
#include "sweeplab/store/trial_index.hpp"
#include "where.hpp"

namespace fs = std::filesystem;

namespace sweeplab {
namespace {

const char* const kModes = "--failed, --diverged or --all";

std::string plural(std::size_t n, const std::string& word) {
  return std::to_string(n) + " " + word + (n == 1 ? "" : "s");
}

// At most 50 ids, one per line, indented; then how many more.
std::string id_lines(const std::vector<std::string>& ids) {
  std::string text;
  const std::size_t shown = std::min<std::size_t>(ids.size(), 50);
  for (std::size_t i = 0; i < shown; ++i) text += "  " + ids[i] + "\n";
  if (ids.size() > shown) text += "  ... and " + std::to_string(ids.size() - shown) + " more\n";
  return text;
}

struct Plan {
  std::string mode;                        // "failed", "diverged", "all"
  std::vector<std::string> remove;         // trial ids
  std::vector<std::string> forget;         // --all: trials a run planned that have no files yet
  std::vector<std::string> skipped;        // "ID: why" (running, queued)
  std::size_t kept_elsewhere = 0;          // --all: trials -o or --where leave out, kept
  bool remove_folder = false;              // --all: the sweep's folder too (nothing would be left in it)
  std::string folder_kept_because;         // --all: why not, when trials go but the folder stays
};

// Removes one trial's folder while holding its lock: the folder is first renamed out of trials/ (readers never
// see half of it), then deleted. False when a live process holds the lock (the trial started running since it
// was read).
bool remove_trial(const fs::path& root, const std::string& id) {
  const fs::path dir = root / "trials" / id;
  auto lock = TrialLock::try_acquire(dir.string());  // no trainer starts on it while it goes
  if (!lock) return false;
  lock->keep_file();
  const fs::path doomed = root / (".clean-" + id + "-" + std::to_string(::getpid()));
  std::error_code ec;
  fs::rename(dir, doomed, ec);
  if (ec) throw StorageError("cannot move " + dir.string() + " aside to remove it: " + ec.message());
  fs::remove_all(doomed, ec);
  if (ec) throw StorageError("cannot remove " + doomed.string() + ": " + ec.message());
  return true;
}

// Whether trials/ holds a trial folder (anything but what clean itself leaves behind).
bool any_trial_folder(const fs::path& root) {
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(root / "trials", ec)) {
    if (entry.path().filename().string().rfind(".", 0) != 0) return true;
  }
  return false;
}

}  // namespace

CLI::App* setup_clean(CLI::App& app, CleanOptions& options) {
  CLI::App* command = app.add_subcommand(
      "clean", "Remove results: the failed or diverged trials, or every trial of the sweep (asks once first)");
  command->add_option("name", options.name, "Sweep name")->required();
  add_override_option(*command, options.overrides);
  add_where_option(*command, options.where);
  command->add_flag("--failed", options.failed, "Remove the failed trials' folders");
  command->add_flag("--diverged", options.diverged, "Remove the diverged trials' folders");
  command->add_flag("--all", options.all,
                    "Remove every trial in the sweep's folder (those -o and --where keep), and forget the trials a run "
                    "planned and did not start; when no trial is left, the sweep's folder too (sweep.json, runs.jsonl, "
                    "report, figures, slurm/)");
  command->add_flag("-y,--yes", options.yes, "Remove without asking (needed where stdin is not a terminal)");
  command->footer(
      "Exactly one of --failed, --diverged, --all. What will be removed is printed first, then one question\n"
      "(y/N). A trial that is running (locked by a live process) or whose Slurm task is still queued is never\n"
      "removed: it is named and skipped. Every trial in the sweep's folder is a candidate, whatever -o made it;\n"
      "-o KEY=VALUE and --where KEY=VALUE keep only the trials with that value. Without a terminal and without --yes,\n"
      "clean refuses (exit 2) and removes nothing.\n\n"
      "Examples:\n  sweeplab clean doughnut-batch --failed\n  sweeplab clean doughnut-batch --all -o lr=0.1 --yes");
  return command;
}

int run_clean(const GlobalOptions& global, const CleanOptions& options, std::istream& in, std::ostream& out,
              std::ostream&) {
  const int modes = int(options.failed) + int(options.diverged) + int(options.all);
  if (modes == 0) {
    throw UserError("clean " + options.name + ": say what to remove: " + kModes + " (exactly one)");
  }
  if (modes > 1) {
    std::vector<std::string> given;
    if (options.failed) given.push_back("--failed");
    if (options.diverged) given.push_back("--diverged");
    if (options.all) given.push_back("--all");
    throw UserError("clean " + options.name + ": " + join(given, " and ") + " together; give exactly one of " + kModes);
  }
  const auto filters = parse_where(options.where);
  const ResolvedSweep sweep = load_or_on_disk(global, options.name, options.overrides);
  const fs::path root = sweep_dir(global.experiments_dir, options.name);
  const SweepState state = read_sweep_state(sweep, global.experiments_dir);
  // What -o leaves out (kept): counted from the folder as a whole.
  std::size_t everything = state.trials.size();
  if (options.all && !options.overrides.empty()) {
    ReadOptions unnarrowed;
    unnarrowed.narrow = false;
    everything = read_sweep_state(sweep, global.experiments_dir, unnarrowed).trials.size();
  }

  Plan plan;
  plan.mode = options.failed ? "failed" : options.diverged ? "diverged" : "all";

  // Trials whose newest Slurm task is still queued or running: a task would train them again.
  std::map<std::string, std::string> queued;
  bool slurm_unknown = false;
  const auto records = slurm::read_array_records(root.string());
  if (!records.empty()) {
    if (find_program("squeue").empty()) {
      slurm_unknown = true;
    } else {
      for (const auto& [id, task] : slurm::trial_tasks(root.string(), records, slurm::live_tasks(slurm::job_ids(records)))) {
        if (task.state && slurm::is_live(task.state->state)) queued[id] = slurm::task_text(task);
      }
    }
  }

  plan.kept_elsewhere = everything - state.trials.size();
  for (const auto& trial : state.trials) {
    if (!matches(trial.config, filters)) {
      if (plan.mode == "all") ++plan.kept_elsewhere;
      continue;
    }
    if (!trial.has_files) {
      if (plan.mode == "all") plan.forget.push_back(trial.id);
      continue;
    }
    const bool running = trial.status == TrialStatus::Running;
    const TrialStatus settled = running && trial.summary ? trial.summary->status : trial.status;
    if (plan.mode != "all" && to_string(settled) != plan.mode) continue;
    if (running) {
      plan.skipped.push_back(trial.id + ": running" +
                             (trial.running_pid ? " (pid " + std::to_string(*trial.running_pid) + ")" : ""));
    } else if (queued.count(trial.id)) {
      plan.skipped.push_back(trial.id + ": its Slurm task " + queued[trial.id] + " is queued");
    } else {
      plan.remove.push_back(trial.id);
    }
  }
  if (plan.mode == "all") {
    if (!plan.skipped.empty() || plan.kept_elsewhere > 0) {
      plan.folder_kept_because = plan.kept_elsewhere > 0 ? plural(plan.kept_elsewhere, "trial") + " left out by -o or --where stay"
                                                         : "skipped trials stay";
    } else if (!queued.empty()) {
      plan.folder_kept_because = "Slurm tasks of the sweep are still queued";
    } else if (slurm_unknown) {
      plan.folder_kept_because = "squeue is not on PATH, so whether its Slurm jobs are still queued is unknown";
    } else {
      std::error_code ec;
      plan.remove_folder = fs::exists(root, ec);
    }
  }

  const std::string what = plan.mode == "all" ? "trial" : plan.mode + " trial";
  if (plan.remove.empty() && plan.forget.empty() && !plan.remove_folder) {
    out << "clean " << options.name << ": nothing to remove (no " << (plan.mode == "all" ? "trial" : plan.mode + " trial")
        << " on disk in " << root.string() << ")";
    if (plan.kept_elsewhere > 0) {
      out << "; " << plural(plan.kept_elsewhere, "trial") << " on disk " << (plan.kept_elsewhere == 1 ? "is" : "are")
          << " left out by -o or --where";
    }
    out << "\n";
    if (!plan.skipped.empty()) out << "skipped " << plural(plan.skipped.size(), "trial") << ":\n" << id_lines(plan.skipped);
    return 0;
  }
  if (!options.yes && !(&in != &std::cin || is_terminal(in))) {
    throw UserError("clean " + options.name + " would remove " + plural(plan.remove.size(), what) +
                    " and stdin is not a terminal to ask on; add --yes to remove them without asking");
  }

  out << "clean " << options.name << " --" << plan.mode << ": " << plural(plan.remove.size(), what) << " in "
      << (root / "trials").string() << "\n"
      << id_lines(plan.remove);
  if (!plan.forget.empty()) {
    out << "and forget " << plural(plan.forget.size(), "planned trial") << " (a run planned them; no files yet)\n";
  }
  if (!plan.skipped.empty()) {
    out << "not removed: " << plural(plan.skipped.size(), "trial") << " (never removed while running or queued)\n"
        << id_lines(plan.skipped);
  }
  if (plan.remove_folder) {
    out << "and then the sweep's folder " << root.string()
        << " (sweep.json, runs.jsonl, report, figures, slurm/): no trial is left in it\n";
  } else if (plan.mode == "all" && !plan.folder_kept_because.empty()) {
    out << "kept: sweep.json, runs.jsonl and the rest of " << root.string() << " (" << plan.folder_kept_because << ")\n";
  }
  if (!options.yes) {
    out << "Remove " << (plan.remove.empty() ? std::string("the folder") : plural(plan.remove.size(), "trial folder"))
        << "? [y/N] " << std::flush;
    std::string answer;
    std::getline(in, answer);
    answer.erase(std::remove_if(answer.begin(), answer.end(), [](unsigned char c) { return std::isspace(c); }), answer.end());
    std::transform(answer.begin(), answer.end(), answer.begin(), [](unsigned char c) { return char(std::tolower(c)); });
    if (answer != "y" && answer != "yes") {
      out << (in ? "" : "\n") << "nothing removed\n";
      return 0;
    }
  }

  std::vector<std::string> removed, started;
  for (const auto& id : plan.remove) (remove_trial(root, id) ? removed : started).push_back(id);
  if (auto index = TrialIndex::open(root.string(), /*create=*/false)) {  // their rows go with them
    std::vector<std::string> rows = removed;
    rows.insert(rows.end(), plan.forget.begin(), plan.forget.end());
    try {
      index->remove(rows);
    } catch (const StorageError&) {  // the next read finds the folders gone; planned rows stay listed
    }
  }
  out << "removed " << plural(removed.size(), "trial folder") << (removed.empty() ? "\n" : ":\n") << id_lines(removed);
  if (!started.empty()) {
    out << "not removed: " << plural(started.size(), "trial") << " that started running meanwhile:\n" << id_lines(started);
  }
  if (plan.remove_folder && started.empty() && !any_trial_folder(root)) {
    std::error_code ec;
    fs::remove_all(root, ec);
    if (ec) throw StorageError("cannot remove " + root.string() + ": " + ec.message());
    out << "removed " << root.string() << "\n";
  }
  return 0;
}

}  // namespace sweeplab
