// Benchmark (not a test): the doughnut-batch sweep (configs/doughnut-batch.yaml) at reduced epochs, timed per
// batch size in-process, next to the plain PyTorch peer (../shared/bench/peer_pytorch.py) run in the same
// invocation when /usr/bin/python3 has torch.
//
//   ./build/bench/bench_doughnut [--epochs 5] [--configs configs] [--peer ../shared/bench/peer_pytorch.py]
//
// Both sides: one thread, a fresh model per batch size, train accuracy per batch, a test evaluation after
// every epoch, start-up excluded. us/step = trial wall time / optimizer steps.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <map>
#include <sstream>
#include <string>

#include "sweeplab/config/loader.hpp"
#include "sweeplab/core/table.hpp"
#include "sweeplab/engine/trainer.hpp"

using namespace sweeplab;

namespace {

class NullSink : public TrialSink {
 public:
  void on_eval(const EvalRecord&) override {}
};

struct Timing {
  double seconds = 0;
  double steps = 0;
  double checkpoint_s = 0;
  int checkpoints = 0;
};

std::string fixed(double value, int decimals) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.*f", decimals, value);
  return buffer;
}

// Runs the peer's sweep and reads its tab-separated rows: variant bs epochs sec_total ...
std::map<std::int64_t, double> run_peer(const std::string& script, int epochs) {
  std::map<std::int64_t, double> seconds;
  const std::string command = "OPENBLAS_NUM_THREADS=1 /usr/bin/python3 " + script + " sweep --threads 1 --epochs " +
                              std::to_string(epochs) + " 2>/dev/null";
  FILE* pipe = popen(command.c_str(), "r");
  if (!pipe) return seconds;
  char line[512];
  while (std::fgets(line, sizeof line, pipe)) {
    std::istringstream row(line);
    std::string variant;
    std::int64_t bs = 0, row_epochs = 0;
    double total = 0;
    if (row >> variant >> bs >> row_epochs >> total && variant.rfind("py_", 0) == 0) seconds[bs] = total;
  }
  pclose(pipe);
  return seconds;
}

bool peer_available() { return std::system("/usr/bin/python3 -c 'import torch' >/dev/null 2>&1") == 0; }

}  // namespace

int main(int argc, char** argv) {
  int epochs = 5;
  std::string configs = "configs", peer = "../shared/bench/peer_pytorch.py";
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--epochs") epochs = std::stoi(argv[i + 1]);
    else if (flag == "--configs") configs = argv[i + 1];
    else if (flag == "--peer") peer = argv[i + 1];
  }
  const auto sweep = load_sweep(configs, "doughnut-batch", {"epochs=" + std::to_string(epochs)});
  std::cerr << "sweeplab: " << sweep.trials.size() << " trials x " << epochs << " epochs (lean engine, 1 thread)\n";
  // Checkpoints as a real run writes them (checkpoint.every of the sweep, plus the final one).
  char folder[] = "/tmp/sweeplab-bench-XXXXXX";
  if (!mkdtemp(folder)) return 1;
  std::map<std::int64_t, Timing> ours;
  for (const auto& trial : sweep.trials) {
    NullSink sink;
    const std::string checkpoint = std::string(folder) + "/" + trial.id + ".pt";
    const auto start = std::chrono::steady_clock::now();
    const Config config = trial.config.expand();
    const auto outcome = train_trial(config, sink, {checkpoint, config.checkpoint.every, config.checkpoint.min_interval_s});
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    ours[config.training.batch_size] = {seconds, double(outcome.steps), outcome.checkpoint_s, outcome.checkpoints_written};
    std::remove(checkpoint.c_str());
  }
  std::remove(folder);
  std::cerr << "checkpoints: every " << sweep.trials.front().config.expand().checkpoint.every << " epochs (at most every "
            << sweep.trials.front().config.expand().checkpoint.min_interval_s << " s) and at the end\n";

  std::map<std::int64_t, double> theirs;
  if (peer_available()) {
    std::cerr << "peer: " << peer << " sweep --epochs " << epochs << "\n";
    theirs = run_peer(peer, epochs);
  } else {
    std::cerr << "peer: skipped (/usr/bin/python3 has no torch; apt-get install python3-torch)\n";
  }

  Table table({"batch_size", "steps", "sweeplab_s", "sweeplab_us_per_step", "checkpoints", "checkpoint_share", "peer_s",
               "peer_us_per_step", "speedup"});
  double our_total = 0, their_total = 0;
  for (const auto& [bs, timing] : ours) {
    our_total += timing.seconds;
    std::vector<std::string> row = {std::to_string(bs), fixed(timing.steps, 0), fixed(timing.seconds, 3),
                                    fixed(timing.seconds / timing.steps * 1e6, 1), std::to_string(timing.checkpoints),
                                    fixed(100.0 * timing.checkpoint_s / timing.seconds, 2) + "%"};
    if (theirs.count(bs)) {
      their_total += theirs[bs];
      row.insert(row.end(), {fixed(theirs[bs], 3), fixed(theirs[bs] / timing.steps * 1e6, 1),
                             fixed(theirs[bs] / timing.seconds, 2) + "x"});
    } else {
      row.insert(row.end(), {"-", "-", "-"});
    }
    table.add_row(row);
  }
  table.add_row({"total", "", fixed(our_total, 3), "", "", "", theirs.empty() ? "-" : fixed(their_total, 3), "",
                 theirs.empty() ? "-" : fixed(their_total / our_total, 2) + "x"});
  std::cout << table.str();
  return 0;
}
