#pragma once
// Helpers of `list`, `status` and `clean` (internal to apps/sweeplab, header-only): the experiments on disk,
// with or without a YAML, and whether a stream is a terminal.
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include "commands.hpp"
#include "sweeplab/config/loader.hpp"
#include "sweeplab/config/registry.hpp"
#include "sweeplab/core/error.hpp"
#include "sweeplab/core/process.hpp"
#include "sweeplab/sched/refine.hpp"
#include "sweeplab/store/layout.hpp"
#include "sweeplab/store/sweep_state.hpp"

namespace sweeplab {

// Whether configs_dir has NAME.yaml (false also when configs_dir does not exist).
inline bool has_config(const std::string& configs_dir, const std::string& name) {
  std::error_code ec;
  return std::filesystem::is_regular_file(std::filesystem::path(configs_dir) / (name + ".yaml"), ec);
}

// A sweep of no trials named NAME: read_sweep_state then lists every trial on disk (a folder under --experiments
// whose YAML is gone).
inline ResolvedSweep sweep_without_config(const std::string& name) {
  ResolvedSweep sweep;
  sweep.spec.name = name;
  return sweep;
}

// NAME's YAML with the overrides (and the trials sweep.refine added, as the files decide them); when there is no NAME.yaml but experiments/NAME holds results (and no -o was
// given), the sweep without a config above (and *without_config is set). Throws UserError as load_sweep does
// otherwise.
inline ResolvedSweep load_or_on_disk(const GlobalOptions& global, const std::string& name,
                                     const std::vector<std::string>& overrides, bool* without_config = nullptr) {
  std::error_code ec;
  const bool none = overrides.empty() && !has_config(global.configs_dir, name) &&
                    std::filesystem::is_directory(std::filesystem::path(sweep_dir(global.experiments_dir, name)) / "trials", ec);
  if (without_config) *without_config = none;
  if (none) return sweep_without_config(name);
  // sweep.refine: the refined trials the files decide are the config's too.
  return refine_from_files(load_sweep(global.configs_dir, name, overrides, load_options(global)), global.experiments_dir);
}

// The folders under experiments_dir that hold a sweep.json (written by every run, and by every Slurm task), sorted.
inline std::vector<std::string> experiments_on_disk(const std::string& experiments_dir) {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(experiments_dir, ec)) {
    std::error_code ignored;
    if (entry.is_directory(ignored) && std::filesystem::is_regular_file(entry.path() / "sweep.json", ignored)) {
      names.push_back(entry.path().filename().string());
    }
  }
  std::sort(names.begin(), names.end());
  return names;
}

// The command that trains the current config's trials that are not run yet: "sweeplab run NAME -o lr=0.1".
inline std::string run_command_for(const ResolvedSweep& current, const std::vector<std::string>& overrides) {
  std::string command = "sweeplab run " + shell_quote(current.spec.name);
  for (const auto& item : overrides) command += " -o " + shell_quote(item);
  return command;
}

// What reading commands say of the current config's trials that neither exist nor are planned: one line, with the
// command that runs them ("" when there are none). `listed`: the rows show them (--pending).
inline std::string not_run_line(const SweepState& state, const ResolvedSweep& current,
                                const std::vector<std::string>& overrides, bool listed = false) {
  const std::size_t n = state.not_run.size();
  if (n == 0) return "";
  return std::to_string(n) + " trial" + (n == 1 ? "" : "s") + " of the current config not run yet" +
         (listed ? " (pending above)" : "") + ": " + run_command_for(current, overrides) + (listed ? "" : " (--pending lists them)") +
         "\n";
}

// The process's own stdout (stdin) on a terminal. A stream a caller passes in (a test's) is never one.
inline bool is_terminal(const std::ostream& out) { return &out == &std::cout && ::isatty(STDOUT_FILENO) == 1; }
inline bool is_terminal(const std::istream& in) { return &in == &std::cin && ::isatty(STDIN_FILENO) == 1; }

}  // namespace sweeplab
