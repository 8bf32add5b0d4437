#pragma once
// Running another program and reading what it says (Slurm's tools, the trainer's CUDA check).
#include <string>
#include <vector>

namespace sweeplab {

// What a program did: its exit code (-1 when it could not be started; `error` says why), stdout, stderr.
struct CommandResult {
  int exit_code = -1;
  std::string out, err, error;
  bool ok() const { return exit_code == 0; }
  // One line for a message: stderr's first line, else `error`, else the exit code.
  std::string problem() const;
};

// Runs argv[0] (looked up on PATH) with its arguments, `input` on its stdin, and waits for it.
CommandResult run_command(const std::vector<std::string>& argv, const std::string& input = "");

// The program's path on PATH, or "" when there is none.
std::string find_program(const std::string& name);

// "a,b c" -> 'a,b c' for a shell; plain words stay as they are.
std::string shell_quote(const std::string& word);

}  // namespace sweeplab
