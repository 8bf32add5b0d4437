#pragma once
// The sweeplab command line. run_cli is main() without the process: tests call it in-process.
#include <iosfwd>
#include <string>
#include <vector>

namespace sweeplab {

// args without the program name. Returns the exit code (SPEC section 2): 0 ok, 1 trials failed,
// 2 bad usage/config/override, 130 interrupted.
int run_cli(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

}  // namespace sweeplab
