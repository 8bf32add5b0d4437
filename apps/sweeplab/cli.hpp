#pragma once
// The sweeplab command line. run_cli is main() without the process: tests call it in-process.
#include <iosfwd>
#include <string>
#include <vector>

namespace sweeplab {

// args without the program name. Returns the exit code (README's table of exit codes): 0 ok, 1 trials failed,
// 2 bad usage/config/override, 3 storage error, 4 a worker the system refused (or a bug), 130 interrupted.
int run_cli(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

}  // namespace sweeplab
