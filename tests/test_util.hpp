#pragma once
// Helpers for tests: a temporary folder with files, and a snapshot of everything in it.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "sweeplab/cli.hpp"
#include "sweeplab/config/loader.hpp"

namespace sweeplab::testing {

class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "sweeplab-test-XXXXXX").string();
    if (!mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }
  std::string str(const std::string& relative = "") const { return (path_ / relative).string(); }

  void write(const std::string& relative, const std::string& content) const {
    const auto file = path_ / relative;
    std::filesystem::create_directories(file.parent_path());
    std::ofstream(file) << content;
  }

  // Every file and folder under the temp dir, relative, with file sizes: equal snapshots mean nothing was written.
  std::set<std::string> snapshot() const {
    std::set<std::string> entries;
    for (const auto& entry : std::filesystem::recursive_directory_iterator(path_)) {
      std::string line = std::filesystem::relative(entry.path(), path_).string();
      if (entry.is_regular_file()) line += " " + std::to_string(entry.file_size());
      entries.insert(line);
    }
    return entries;
  }

 private:
  std::filesystem::path path_;
};

struct CliResult {
  int code = 0;
  std::string out, err;
};

// Runs the CLI in-process with --configs and --experiments inside `dir`.
inline CliResult run_in(const TempDir& dir, std::vector<std::string> args) {
  args.insert(args.begin(), {"--configs", dir.str("configs"), "--experiments", dir.str("experiments")});
  std::ostringstream out, err;
  CliResult result;
  result.code = run_cli(args, out, err);
  result.out = out.str();
  result.err = err.str();
  return result;
}

// Bad input must end as a usage error: exit code 2, one line on stderr ("sweeplab: ...") holding each of
// `expected`, and nothing written under `dir`.
inline void expect_usage_error(const TempDir& dir, const std::vector<std::string>& args,
                               const std::vector<std::string>& expected) {
  const auto before = dir.snapshot();
  const auto result = run_in(dir, args);
  EXPECT_EQ(result.code, 2) << result.err;
  EXPECT_EQ(result.err.rfind("sweeplab: ", 0), 0u) << result.err;
  EXPECT_EQ(std::count(result.err.begin(), result.err.end(), '\n'), 1) << "not one line: " << result.err;
  for (const auto& text : expected) EXPECT_NE(result.err.find(text), std::string::npos) << result.err;
  EXPECT_EQ(dir.snapshot(), before) << "something was written";
}

inline std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

struct Process {
  int code = 0;
  std::string out, err;
};

// Runs the real binary (SWEEPLAB_BINARY) in `dir` with `environment` ("NAME=value ..." before the command), in
// a process group of its own (setsid): the kill and Ctrl-C faults signal sweeplab's group, not the test's.
inline Process run_sweeplab_with(const TempDir& dir, const std::string& arguments, const std::string& environment) {
  const std::string command = "cd " + dir.str() + " && " + environment + " setsid -w " + SWEEPLAB_BINARY + " " +
                              arguments + " > out.txt 2> err.txt";
  const int status = std::system(command.c_str());
  Process process;
  process.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  process.out = read_file(dir.path() / "out.txt");
  process.err = read_file(dir.path() / "err.txt");
  return process;
}

// The same with an optional SWEEPLAB_FAULT.
inline Process run_sweeplab(const TempDir& dir, const std::string& arguments, const std::string& fault = "") {
  return run_sweeplab_with(dir, arguments, fault.empty() ? "" : "SWEEPLAB_FAULT=" + fault);
}

// A test that writes a trial's files by hand, behind sweeplab's back, makes the trial index forget what it knew
// (as `status --rescan` does): the next read rebuilds it from the files.
inline void files_changed_by_hand(const TempDir& dir, const std::string& sweep, const std::string& experiments = "experiments") {
  std::filesystem::remove(dir.path() / experiments / sweep / "index.sqlite");
}

// Every trial's whole config, in sweep order (to train them in-process).
inline std::vector<Config> configs_of(const ResolvedSweep& sweep) {
  std::vector<Config> configs;
  for (const auto& trial : sweep.trials) configs.push_back(trial.config.expand());
  return configs;
}

inline nlohmann::json read_json(const std::filesystem::path& path) { return nlohmann::json::parse(read_file(path)); }

// A trial's metrics.jsonl without the wall-clock field: what must be identical between runs.
inline std::vector<std::string> metric_values(const std::filesystem::path& trial) {
  std::vector<std::string> lines;
  std::ifstream in(trial / "metrics.jsonl");
  for (std::string line; std::getline(in, line);) {
    auto record = nlohmann::json::parse(line);
    record.erase("elapsed_s");
    lines.push_back(record.dump());
  }
  return lines;
}

}  // namespace sweeplab::testing
