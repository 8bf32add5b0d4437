#include "run_checks.hpp"

#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <set>

#include "sweeplab/config/schema.hpp"
#include "sweeplab/core/error.hpp"
#include "sweeplab/core/process.hpp"
#include "sweeplab/sched/run_sweep.hpp"
#include "sweeplab/tasks/tasks.hpp"

namespace sweeplab {

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
  // Every key check_task_inputs reads: each distinct combination checked once (100 000 trials share a few).
  static const std::vector<std::size_t> fields = [] {
    std::vector<std::size_t> out;
    for (const char* key : {"task.name", "task.path", "task.label_column", "task.inputs_key", "task.labels_key",
                            "task.binary_loss", "task.test_fraction", "training.device"}) {
      out.push_back(field_index(key));
    }
    return out;
  }();
  std::set<std::string> checked;
  bool cuda = false;
  for (const auto& sweep : sweeps) {
    for (const auto& trial : sweep.trials) {
      std::string inputs;
      for (const auto field : fields) inputs += trial.config.text(field) + "\x1f";
      if (!checked.insert(inputs).second) continue;
      const Config config = trial.config.expand();
      check_task_inputs(config);
      cuda = cuda || config.training.device == "cuda";
    }
  }
  return cuda;
}

}  // namespace sweeplab
