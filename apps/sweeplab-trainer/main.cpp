// sweeplab-trainer: the process that trains. `sweeplab run` starts it (fork + exec) once per worker and
// hands it groups of trials. It is the only program that loads LibTorch, and only for trials that need it
// (src/engine/torch_plugin.hpp).
//   sweeplab-trainer --check-cuda    exit 0 when training.device=cuda can train here; else the reason, exit 2
#include <iostream>
#include <string>
#include <vector>

#include "sweeplab/engine/trainer.hpp"
#include "sweeplab/sched/run_sweep.hpp"

int main(int argc, char** argv) {
  const std::vector<std::string> args(argv + 1, argv + argc);
  if (args.size() == 1 && args[0] == "--check-cuda") {
    const std::string problem = sweeplab::cuda_problem();
    if (problem.empty()) return 0;
    std::cout << problem << "\n";
    return 2;
  }
  return sweeplab::worker_main(args, [](const std::vector<sweeplab::GroupMember>& members) {
    return sweeplab::train_group(members);
  });
}
