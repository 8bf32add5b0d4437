#include "run_plan.hpp"

#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <set>

#include "sweeplab/core/error.hpp"
#include "sweeplab/core/process.hpp"
#include "sweeplab/sched/run_sweep.hpp"
#include "sweeplab/train/trainer.hpp"

namespace sweeplab {
namespace {

Plan train(const std::string& action, bool extends = false) {
  Plan plan;
  plan.action = action;
  plan.extends = extends;
  return plan;
}

Plan skip(const std::string& reason) {
  Plan plan;
  plan.action = "skip: " + reason;
  plan.trains = false;
  plan.skipped_because = reason;
  return plan;
}

// A trial that sweep.prune rules out by the files already (`pruned`: why): it is recorded skipped by the run
// (trains stays true: the scheduler writes its summary.json), unless its files say so already or hold a
// result that stays (completed, diverged, failed without --retry-failed).
Plan pruned_plan(const TrialState& trial, const PlanOptions& options, const std::string& pruned) {
  const std::string& status = trial.status;
  if (status == "skipped" && trial.summary && trial.summary->skip_reason == pruned) return skip(pruned);
  if (status == "diverged") return skip("diverged already");
  if (status == "completed") return skip("completed already");
  if (status == "failed" && !options.retry_failed) return skip("failed earlier (--retry-failed records it as skipped)");
  if (status == "running") return train("leave to pid " + std::to_string(trial.running_pid.value_or(0)) + " while it runs");
  Plan plan = skip(pruned);
  plan.trains = true;
  return plan;
}

}  // namespace

Plan plan_for(const TrialState& trial, const PlanOptions& options, const std::string& pruned) {
  const std::string& status = trial.status;
  if (options.fresh) return train("train from scratch (--fresh)");
  if (!pruned.empty()) return pruned_plan(trial, options, pruned);
  if (status == "pending") return train("train");
  if (status == "skipped") {
    return train("train (skipped before" + (trial.summary && !trial.summary->skip_reason.empty()
                                                ? ": " + trial.summary->skip_reason : std::string()) +
                 "; nothing rules it out now)");
  }
  // A worker looks again under the trial's lock: the holder may be gone by then (a run just killed).
  if (status == "running") return train("leave to pid " + std::to_string(trial.running_pid.value_or(0)) + " while it runs");
  if (status == "unreadable") return train("repair (" + trial.problem + ")");
  if (status == "failed") {
    return options.retry_failed ? train("train again") : skip("failed earlier (--retry-failed runs it again)");
  }
  if ((status == "completed" || status == "diverged") && trial.unreadable_lines > 0) {
    return train("repair metrics.jsonl (" + std::to_string(trial.unreadable_lines) + " unreadable line" +
                 (trial.unreadable_lines == 1 ? "" : "s") + ")");
  }
  if (status == "diverged") return skip("diverged already");
  if (status == "completed") {
    const auto& summary = *trial.summary;
    const Config& planned = trial.planned ? *trial.planned : trial.spec.config;
    if (!budget_raised(summary, planned)) return skip("completed already");
    return train("extend from " + done_text(summary, planned) + " to " + budget_text(planned), /*extends=*/true);
  }
  return train("resume");  // partial, interrupted
}

void check_experiments_path(const std::string& path, const std::string& sweep_name) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::path target(path.empty() ? "." : path);
  if (fs::exists(target, ec)) {
    if (!fs::is_directory(target, ec)) {
      throw UserError("--experiments " + path + ": is a file, not a folder (give a folder, e.g. --experiments experiments)");
    }
    for (const fs::path& folder : {target, target / sweep_name, target / sweep_name / "trials"}) {
      if (fs::exists(folder, ec) && ::access(folder.c_str(), W_OK) != 0) {
        throw UserError("--experiments " + path + ": cannot write " + (folder == target ? "there" : "in " + folder.string()) +
                        " (" + std::strerror(errno) + "); give a writable folder with --experiments");
      }
    }
    return;
  }
  fs::path parent = fs::absolute(target, ec).parent_path();
  while (!parent.empty() && !fs::exists(parent, ec) && parent != parent.root_path()) parent = parent.parent_path();
  if (!fs::is_directory(parent, ec)) {
    throw UserError("--experiments " + path + ": cannot be created (" + parent.string() + " is not a folder)");
  }
  if (::access(parent.c_str(), W_OK) != 0) {
    throw UserError("--experiments " + path + ": cannot be created in " + parent.string() + " (" + std::strerror(errno) +
                    "); give a writable folder with --experiments");
  }
}

std::vector<std::string> pruned_by_files(const ResolvedSweep& sweep, const SweepState& state, bool fresh) {
  std::vector<std::string> reasons(sweep.trials.size());
  if (sweep.spec.prune != Prune::AboveDivergence || fresh) return reasons;
  DivergenceBoundary boundary(sweep);
  for (std::size_t i = 0; i < sweep.trials.size(); ++i) {
    const auto& summary = state.trials[i].summary;
    if (state.trials[i].status == "diverged" && summary) boundary.diverged(i, summary->diverged_at_step.value_or(summary->steps));
  }
  for (std::size_t i = 0; i < sweep.trials.size(); ++i) reasons[i] = boundary.reason(i);
  return reasons;
}

std::string locate_trainer() {
  namespace fs = std::filesystem;
  if (const char* path = std::getenv("SWEEPLAB_TRAINER")) {
    if (::access(path, X_OK) != 0) throw UserError(std::string("SWEEPLAB_TRAINER=") + path + " is not a program that can run");
    return path;
  }
  std::error_code ec;
  const fs::path beside = fs::read_symlink("/proc/self/exe", ec).parent_path() / "sweeplab-trainer";
  if (!ec && ::access(beside.c_str(), X_OK) == 0) return beside.string();
  if (::access(SWEEPLAB_TRAINER_BUILD_PATH, X_OK) == 0) return SWEEPLAB_TRAINER_BUILD_PATH;
  throw InternalError("cannot find the sweeplab-trainer program beside sweeplab (or set SWEEPLAB_TRAINER)");
}

// Only a trainer process loads LibTorch and CUDA.
void check_cuda(const std::string& trainer) {
  const CommandResult answer = run_command({trainer, "--check-cuda"});
  if (answer.ok()) return;
  std::string text = answer.out + answer.err;
  while (!text.empty() && text.back() == '\n') text.pop_back();
  if (text.empty()) text = answer.error;
  throw UserError(text.empty() ? "training.device: cuda, but the trainer could not check for CUDA" : text);
}

RunRecord run_record(const std::string& command, const std::vector<std::string>& overrides,
                     const std::vector<std::string>& flags, const RunContext& context, std::size_t trials) {
  RunRecord record;
  record.started_at = context.started_at;
  record.command = command;
  record.overrides = overrides;
  record.flags = flags;
  record.sweeplab_version = context.sweeplab_version;
  record.git_commit = context.git_commit;
  record.host = context.host;
  if (const char* user = std::getenv("USER")) record.user = user;
  record.trials = trials;
  return record;
}

bool check_inputs(const std::vector<ResolvedSweep>& sweeps) {
  std::set<std::string> checked;
  bool cuda = false;
  for (const auto& sweep : sweeps) {
    for (const auto& trial : sweep.trials) {
      const auto& task = trial.config.task;  // every key check_task_inputs reads
      const std::string inputs = task.name + "|" + task.path + "|" + task.label_column + "|" + task.inputs_key + "|" +
                                 task.labels_key + "|" + task.binary_loss + "|" + std::to_string(task.test_fraction);
      if (checked.insert(inputs).second) check_task_inputs(trial.config);
      cuda = cuda || trial.config.training.device == "cuda";
    }
  }
  return cuda;
}

}  // namespace sweeplab
