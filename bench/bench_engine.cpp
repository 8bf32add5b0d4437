// Benchmark (not a test): the training engine in-process (train_group, start-up excluded), next to the plain
// PyTorch peers (../shared/bench/peer_pytorch.py and peer_fused.py) run in the same invocation.
//
//   bench_engine [--configs configs] [--peer-dir ../shared/bench] [--no-peer] [--only grid|sizes]
//                [--grid-epochs 5] [--sizes 2,8,64,512] [--ks 1,64] [--reps 5] [--min-seconds 0.5]
//                [--fused-steps 300] [--fused-ks 1,64] [--fused-sizes 2,8,64,512] [--peer-epochs N]
//                [--set KEY=VALUE ...] [--paired KEY=VALUE]
//
// Two parts:
//   grid   (issue item b, in-process): 64 trials of doughnut-batch at batch size 2, 8 learning rates x 8 seeds,
//          --grid-epochs epochs, trained as ONE fused group (what `sweeplab run -j 1` does with the default
//          --group-size 64). Reported: us per trial-step = wall time of train_group / sum of the trials' steps.
//   sizes  (issue item c): us per trial-step at each batch size in --sizes for each group size K in --ks.
//          K=1: one trial at lr 0.001; K a multiple of 8: the 8 learning rates x K/8 seeds; other K: K seeds at
//          lr 0.001. Epochs per cell are chosen so one run takes about --min-seconds (after a one-epoch
//          warm-up run, from calibration runs of doubling epochs until one takes 50 ms).
// --set adds an override to every trial of ours (e.g. --set metrics.noise_scale=true: the cost of measuring the
// gradient noise scale, against a run without it). --paired KEY=VALUE measures each sizes cell also with that
// override, the two runs alternating rep by rep (a slow spell of the machine then hits both alike), and reports the
// median of the reps' ratios (with / without).
// The peers: `peer_pytorch.py steps` (its own median over epochs 2..N; N = 4 unless --peer-epochs) and, for
// sizes, `peer_fused.py --steps --fused-steps` (0: skip it). Every figure of ours is the median of --reps
// runs. Our side: one thread (training.threads=1), a NullSink, no checkpoints, a test evaluation after every
// epoch (eval_every=1, as the sweep trains) INCLUDED in the time.
// The peers' figures exclude evaluation (`steps`: training loop only; peer_fused: no evaluation at all), so
// the comparison is, if anything, tilted against us. Steps are the steps the trials actually took (a
// diverged trial stops early); diverged trials are counted and printed.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "sweeplab/config/loader.hpp"
#include "sweeplab/core/table.hpp"
#include "sweeplab/engine/trainer.hpp"

using namespace sweeplab;

namespace {

const char* const kLearningRates = "0.0001,0.0002,0.0005,0.001,0.002,0.005,0.01,0.02";

class NullSink : public TrialSink {
 public:
  void on_eval(const EvalRecord&) override {}
};

std::string fixed(double value, int decimals) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%.*f", decimals, value);
  return buffer;
}

std::vector<std::int64_t> parse_list(const std::string& text) {
  std::vector<std::int64_t> values;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    if (!item.empty()) values.push_back(std::stoll(item));
  }
  return values;
}

double median(std::vector<double> values) {
  if (values.empty()) return NAN;
  std::sort(values.begin(), values.end());
  const std::size_t n = values.size();
  return n % 2 ? values[n / 2] : 0.5 * (values[n / 2 - 1] + values[n / 2]);
}

struct Run {
  double seconds = 0;
  double trial_steps = 0;  // summed over the group's trials
  int diverged = 0;
};

// One train_group call over every trial of the sweep: NullSinks, no checkpoints.
Run train_once(const ResolvedSweep& sweep) {
  std::vector<NullSink> sinks(sweep.trials.size());
  std::vector<Config> configs;
  for (const auto& trial : sweep.trials) configs.push_back(trial.config.expand());
  std::vector<GroupMember> members;
  for (std::size_t i = 0; i < sweep.trials.size(); ++i) {
    members.push_back(GroupMember{&configs[i], &sinks[i], CheckpointOptions{}});
  }
  const auto start = std::chrono::steady_clock::now();
  const auto outcomes = train_group(members);
  Run run;
  run.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  for (const auto& outcome : outcomes) {
    run.trial_steps += double(outcome.steps);
    if (outcome.status == TrialStatus::Diverged) ++run.diverged;
    if (outcome.status == TrialStatus::Failed) throw std::runtime_error("a trial failed: " + outcome.error);
  }
  return run;
}

struct Figure {
  double us_per_trial_step = 0;  // median over reps
  double us_min = 0, us_max = 0;
  double steps_per_trial = 0;
  std::int64_t epochs = 0;
  int diverged = 0;
  std::size_t trials = 0;
};

// The median over reps of (time with / time without), the two sweeps trained alternately.
double paired_ratio(const ResolvedSweep& without, const ResolvedSweep& with, int reps, double* with_us) {
  std::vector<double> ratios, us;
  for (int r = 0; r < reps; ++r) {
    const Run a = train_once(without), b = train_once(with);
    ratios.push_back((b.seconds / b.trial_steps) / (a.seconds / a.trial_steps));
    us.push_back(b.seconds / b.trial_steps * 1e6);
  }
  *with_us = median(us);
  return median(ratios);
}

Figure measure(const ResolvedSweep& sweep, int reps) {
  Figure figure;
  std::vector<double> us;
  Run run;
  for (int r = 0; r < reps; ++r) {
    run = train_once(sweep);
    us.push_back(run.seconds / run.trial_steps * 1e6);
  }
  figure.us_per_trial_step = median(us);
  figure.us_min = *std::min_element(us.begin(), us.end());
  figure.us_max = *std::max_element(us.begin(), us.end());
  figure.trials = sweep.trials.size();
  figure.steps_per_trial = run.trial_steps / double(sweep.trials.size());
  figure.epochs = sweep.trials.front().config.expand().training.epochs;
  figure.diverged = run.diverged;
  return figure;
}

std::vector<std::string> extra_overrides;  // --set

std::vector<std::string> group_overrides(std::int64_t bs, std::int64_t k, std::int64_t epochs) {
  std::vector<std::string> o = extra_overrides;
  o.insert(o.end(), {"batch_size=" + std::to_string(bs), "epochs=" + std::to_string(epochs),
                                "eval_every=1", "threads=1"});
  if (k == 1) {
    o.push_back("lr=0.001");
  } else if (k % 8 == 0) {
    o.push_back(std::string("lr=") + kLearningRates);
    o.push_back("seeds=" + std::to_string(k / 8));
  } else {
    o.push_back("lr=0.001");
    o.push_back("seeds=" + std::to_string(k));
  }
  return o;
}

std::string joined(const std::vector<std::string>& overrides) {
  std::string text;
  for (const auto& o : overrides) text += " -o " + o;
  return text;
}

// Runs a command and returns its stdout lines (stderr to /dev/null).
std::vector<std::string> lines_of(const std::string& command) {
  std::vector<std::string> lines;
  FILE* pipe = popen((command + " 2>/dev/null").c_str(), "r");
  if (!pipe) return lines;
  char line[1024];
  while (std::fgets(line, sizeof line, pipe)) lines.emplace_back(line);
  pclose(pipe);
  return lines;
}

bool peer_available() { return std::system("/usr/bin/python3 -c 'import torch' >/dev/null 2>&1") == 0; }

// peer_pytorch.py steps: variant bs epochs steps_per_epoch sec_per_epoch_median us_per_step_train ...
std::map<std::int64_t, double> peer_steps(const std::string& command) {
  std::map<std::int64_t, double> us;
  for (const auto& line : lines_of(command)) {
    std::istringstream row(line);
    std::string variant;
    std::int64_t bs = 0, epochs = 0, steps = 0;
    double sec = 0, per_step = 0;
    if (row >> variant >> bs >> epochs >> steps >> sec >> per_step && variant.rfind("py_", 0) == 0) us[bs] = per_step;
  }
  return us;
}

// peer_fused.py: K bs us_per_group_step us_per_trial_step
std::map<std::pair<std::int64_t, std::int64_t>, double> peer_fused(const std::string& command) {
  std::map<std::pair<std::int64_t, std::int64_t>, double> us;
  for (const auto& line : lines_of(command)) {
    std::istringstream row(line);
    std::int64_t k = 0, bs = 0;
    double group = 0, trial = 0;
    if (row >> k >> bs >> group >> trial) us[{k, bs}] = trial;
  }
  return us;
}

std::string list_text(const std::vector<std::int64_t>& values) {
  std::string text;
  for (auto v : values) text += (text.empty() ? "" : ",") + std::to_string(v);
  return text;
}

}  // namespace

int main(int argc, char** argv) {
  std::string configs = "configs", peer_dir = "../shared/bench", only;
  std::int64_t grid_epochs = 5, fused_steps = 300, peer_epochs = 0;
  std::string paired;  // --paired KEY=VALUE
  int reps = 5;
  double min_seconds = 0.5;
  bool use_peer = true;
  std::vector<std::int64_t> sizes = {2, 8, 64, 512}, ks = {1, 64}, fused_ks = {1, 64}, fused_sizes = {2, 8, 64, 512};
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    const auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::cerr << flag << " needs a value\n";
        std::exit(2);
      }
      return argv[++i];
    };
    if (flag == "--configs") configs = next();
    else if (flag == "--peer-dir") peer_dir = next();
    else if (flag == "--no-peer") use_peer = false;
    else if (flag == "--only") only = next();
    else if (flag == "--grid-epochs") grid_epochs = std::stoll(next());
    else if (flag == "--sizes") sizes = parse_list(next());
    else if (flag == "--ks") ks = parse_list(next());
    else if (flag == "--reps") reps = std::max(1, std::stoi(next()));
    else if (flag == "--min-seconds") min_seconds = std::stod(next());
    else if (flag == "--fused-steps") fused_steps = std::stoll(next());
    else if (flag == "--peer-epochs") peer_epochs = std::stoll(next());
    else if (flag == "--fused-ks") fused_ks = parse_list(next());
    else if (flag == "--fused-sizes") fused_sizes = parse_list(next());
    else if (flag == "--set") extra_overrides.push_back(next());
    else if (flag == "--paired") paired = next();
    else {
      (flag == "--help" ? std::cout : std::cerr)
          << "usage: bench_engine [--configs DIR] [--peer-dir DIR] [--no-peer] [--only grid|sizes] "
             "[--grid-epochs N] [--sizes LIST] [--ks LIST] [--reps N] [--min-seconds S] [--fused-steps N] "
             "[--fused-ks LIST] [--fused-sizes LIST] [--peer-epochs N] [--set KEY=VALUE] [--paired KEY=VALUE]\n"
             "defaults: --reps 5 --min-seconds 0.5 --fused-steps 300 --sizes 2,8,64,512 --ks 1,64\n";
      return flag == "--help" ? 0 : 2;
    }
  }
  const bool do_grid = only.empty() || only == "grid";
  const bool do_sizes = only.empty() || only == "sizes";
  if (use_peer && !peer_available()) {
    std::cout << "# peer: skipped (/usr/bin/python3 has no torch; apt-get install -y python3-torch)\n";
    use_peer = false;
  }
  const std::string py = "OPENBLAS_NUM_THREADS=1 /usr/bin/python3 ";
  std::cout << "# bench_engine: train_group in-process, 1 thread, NullSink, no checkpoints, eval every epoch "
               "included; median of "
            << reps << " runs\n";

  // The peer's per-step figures, measured first (same run), for the batch sizes both parts need.
  std::vector<std::int64_t> peer_sizes = do_sizes ? sizes : std::vector<std::int64_t>{};
  if (do_grid && std::find(peer_sizes.begin(), peer_sizes.end(), 2) == peer_sizes.end()) peer_sizes.push_back(2);
  std::map<std::int64_t, double> steps_us;
  std::map<std::pair<std::int64_t, std::int64_t>, double> fused_us;
  if (use_peer) {
    const std::string steps_command =
        py + peer_dir + "/peer_pytorch.py steps --threads 1 --bs " + list_text(peer_sizes) +
        (peer_epochs > 0 ? " --epochs " + std::to_string(peer_epochs) : "");
    std::cout << "# peer: " << steps_command << "\n" << std::flush;
    steps_us = peer_steps(steps_command);
    if (do_sizes && fused_steps > 0) {
      const std::string fused_command = py + peer_dir + "/peer_fused.py --k " + list_text(fused_ks) + " --bs " +
                                        list_text(fused_sizes) + " --steps " + std::to_string(fused_steps);
      std::cout << "# peer: " << fused_command << "\n" << std::flush;
      fused_us = peer_fused(fused_command);
    }
  }

  if (do_grid) {
    const std::vector<std::string> overrides = {"batch_size=2", std::string("lr=") + kLearningRates, "seeds=8",
                                                "epochs=" + std::to_string(grid_epochs), "eval_every=1",
                                                "threads=1"};
    const auto sweep = load_sweep(configs, "doughnut-batch", overrides);
    train_once(load_sweep(configs, "doughnut-batch",
                          {"batch_size=2", std::string("lr=") + kLearningRates, "seeds=8", "epochs=1"}));  // warm-up
    const Figure f = measure(sweep, reps);
    std::cout << "\n## (b) grid in-process: doughnut-batch" << joined(overrides) << "\n"
              << "##     " << f.trials << " trials in one train_group, " << f.epochs << " epochs, "
              << fixed(f.steps_per_trial, 0) << " steps per trial, " << f.diverged << " diverged\n";
    Table table({"what", "us_per_trial_step", "min", "max"});
    table.add_row({"sweeplab train_group K=" + std::to_string(f.trials), fixed(f.us_per_trial_step, 3),
                   fixed(f.us_min, 3), fixed(f.us_max, 3)});
    if (steps_us.count(2)) table.add_row({"peer_pytorch steps --bs 2 (per step)", fixed(steps_us[2], 1), "", ""});
    std::cout << table.str();
    if (steps_us.count(2)) {
      std::cout << "GRID_INPROCESS_US " << fixed(f.us_per_trial_step, 4) << "\n"
                << "PEER_BS2_US " << fixed(steps_us[2], 1) << "\n"
                << "ratio peer per-step / ours per trial-step (in-process): "
                << fixed(steps_us[2] / f.us_per_trial_step, 1) << "x (target >= 150x)\n";
    } else {
      std::cout << "GRID_INPROCESS_US " << fixed(f.us_per_trial_step, 4) << "\n";
    }
  }

  if (do_sizes) {
    std::cout << "\n## (c) us per trial-step by batch size and group size K (in-process)\n";
    std::vector<std::string> columns = {"bs", "K", "epochs", "steps/trial", "diverged", "ours_us", "min", "max", "peer_steps_us",
                 "peer_fused_us", "peer/ours", "fused/ours"};
    if (!paired.empty()) columns.insert(columns.end(), {"with_us", "with/without"});
    Table table(columns);
    for (const auto bs : sizes) {
      for (const auto k : ks) {
        // Warm-up (one epoch), then calibration: double the epochs until a run takes 50 ms, and scale.
        train_once(load_sweep(configs, "doughnut-batch", group_overrides(bs, k, 1)));
        std::int64_t probe_epochs = 1;
        Run probe = train_once(load_sweep(configs, "doughnut-batch", group_overrides(bs, k, probe_epochs)));
        while (probe.seconds < 0.05 && probe_epochs < (1 << 20)) {
          probe_epochs *= 2;
          probe = train_once(load_sweep(configs, "doughnut-batch", group_overrides(bs, k, probe_epochs)));
        }
        const std::int64_t epochs = std::max<std::int64_t>(
            1, std::int64_t(std::ceil(double(probe_epochs) * min_seconds / std::max(probe.seconds, 1e-6))));
        const auto overrides = group_overrides(bs, k, epochs);
        std::cout << "# sweeplab: doughnut-batch" << joined(overrides) << "\n" << std::flush;
        const Figure f = measure(load_sweep(configs, "doughnut-batch", overrides), reps);
        std::vector<std::string> row = {std::to_string(bs), std::to_string(f.trials), std::to_string(f.epochs),
                                        fixed(f.steps_per_trial, 0), std::to_string(f.diverged),
                                        fixed(f.us_per_trial_step, 3), fixed(f.us_min, 3), fixed(f.us_max, 3)};
        const bool has_steps = steps_us.count(bs) > 0;
        const bool has_fused = fused_us.count({k, bs}) > 0;
        row.push_back(has_steps ? fixed(steps_us[bs], 1) : "-");
        row.push_back(has_fused ? fixed(fused_us[{k, bs}], 2) : "-");
        row.push_back(has_steps ? fixed(steps_us[bs] / f.us_per_trial_step, 1) + "x" : "-");
        row.push_back(has_fused ? fixed(fused_us[{k, bs}] / f.us_per_trial_step, 1) + "x" : "-");
        if (!paired.empty()) {
          auto with = overrides;
          with.push_back(paired);
          double with_us = 0;
          const double ratio =
              paired_ratio(load_sweep(configs, "doughnut-batch", overrides), load_sweep(configs, "doughnut-batch", with), reps, &with_us);
          row.push_back(fixed(with_us, 3));
          row.push_back(fixed(ratio, 3));
        }
        table.add_row(row);
      }
    }
    if (!paired.empty()) std::cout << "# last two columns: with -o " << paired << ": us, and the median ratio with/without of alternating reps\n";
    std::cout << table.str();
    std::cout << "peer_steps_us: peer_pytorch.py steps (one model, DataLoader, per optimizer step, training loop "
                 "only); peer_fused_us: peer_fused.py at the same K (per trial-step, no evaluation)\n";
  }
  return 0;
}
