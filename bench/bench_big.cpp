// Large batches: one trial's step on the lean backend, its own kernels against the system BLAS (OpenBLAS), beside
// sgemm on the same layer shapes and the PyTorch peers of bench/README.md (peer_big.py), in one run.
//
//   bench_big [--bs 1024,8192,65536] [--crossover 8,16,32,64,128,256] [--min-seconds 0.5] [--peer-dir DIR] [--no-peer]
//
// Shapes, as the batch-size studies train them:
//   teacher  25 -> 100 (relu) -> 1, SP, bias-free, SGD, regression on the online poly teacher (k = 2);
//            also the teacher's sampling cost per step (TeacherStream::rows for B fresh samples);
//   images   784 -> 128 -> 128 -> 10 (relu), Adam, cross-entropy (a Fashion-MNIST MLP; the rows here are random);
//   tokens   two tokens of a 194-entry vocabulary -> 512 (relu) -> 97, AdamW (the grokking study's hidden: [512]);
//   doughnut 2 -> 64 -> 64 -> 1 (relu), SGD, binary: the small-batch sweep's model, where the kernels win.
// GFLOP/s per trial counts 6 flops per weight of the dense layers per example (forward 2, backward 4), as the peer
// does; a token layer's gather is not counted. Built with the project, never run by CTest.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "engine/blas.hpp"
#include "engine/setup.hpp"
#include "sweeplab/engine/trainer.hpp"
#include "sweeplab/tasks/tasks.hpp"

namespace sweeplab {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

// Runs `work` until min_seconds have passed (at least twice, after one warm-up); seconds per call.
double time_per_call(const std::function<void()>& work, double min_seconds) {
  work();
  int calls = 0;
  const auto start = Clock::now();
  do {
    work();
    ++calls;
  } while (calls < 2 || seconds_since(start) < min_seconds);
  return seconds_since(start) / calls;
}

class NullSink : public TrialSink {
 public:
  void on_eval(const EvalRecord&) override {}
};

class Lcg {
 public:
  explicit Lcg(std::uint64_t seed) : state_(seed * 6364136223846793005ULL + 1442695040888963407ULL) {}
  float uniform() {  // [-1, 1)
    state_ = state_ * 6364136223846793005ULL + 1442695040888963407ULL;
    return float(double(state_ >> 40) / double(1ULL << 24)) * 2.0f - 1.0f;
  }
  std::int64_t below(std::int64_t n) {
    state_ = state_ * 6364136223846793005ULL + 1442695040888963407ULL;
    return std::int64_t((state_ >> 33) % std::uint64_t(n));
  }

 private:
  std::uint64_t state_;
};

struct Model {
  std::string name;
  Config config;
  TaskData data_shape;  // inputs, outputs, loss, vocabulary
  double lr;
};

std::vector<Model> models() {
  std::vector<Model> all;
  Config teacher;
  teacher.task.name = "teacher";
  teacher.task.features = 25;
  teacher.task.degree = 2;
  teacher.task.online = true;
  teacher.model.hidden = {100};
  teacher.model.parameterization = "sp";
  all.push_back({"teacher", teacher, dataset_shape(25, 1, LossKind::Regression), 0.05});
  Config images;
  images.model.hidden = {128, 128};
  images.optimizer.name = "adam";
  all.push_back({"images", images, dataset_shape(784, 10, LossKind::Multiclass), 1e-3});
  Config tokens;
  tokens.model.hidden = {512};
  tokens.optimizer.name = "adamw";
  all.push_back({"tokens", tokens, dataset_shape(2, 97, LossKind::Multiclass, 194), 1e-3});
  Config doughnut;
  doughnut.model.hidden = {64, 64};
  all.push_back({"doughnut", doughnut, dataset_shape(2, 1, LossKind::Binary), 1e-3});
  return all;
}

// Weights of the dense layers (a token layer is a gather, not counted).
double dense_weights(const MlpShape& shape) {
  double weights = 0;
  for (std::int64_t l = shape.tokens > 0 ? 1 : 0; l < shape.layers(); ++l) weights += double(shape.widths[l] * shape.widths[l + 1]);
  return weights;
}

// Random rows for `model` (token indices for a token model, labels for classification), one batch of B.
GroupData batch_data(const Model& model, const MlpShape& shape, std::int64_t rows) {
  GroupData data;
  data.inputs = model.data_shape.inputs;
  data.outputs = model.data_shape.outputs;
  data.n_train = rows;
  data.n_test = 1;
  Lcg rng(7);
  const auto fill = [&](std::vector<float>& x, std::vector<float>& y, std::int64_t n) {
    for (std::int64_t r = 0; r < n; ++r) {
      for (std::int64_t j = 0; j < data.inputs; ++j) {
        x.push_back(shape.tokens > 0 ? float(j * 97 + rng.below(97)) : rng.uniform());
      }
      if (model.data_shape.loss == LossKind::Regression) y.push_back(rng.uniform());
      else y.push_back(float(rng.below(data.outputs)));
    }
  };
  fill(data.x_train, data.y_train, rows);
  fill(data.x_test, data.y_test, 1);
  return data;
}

// Seconds per step of one trial at batch size B (one step per segment, the same rows each time).
double seconds_per_step(const Model& model, const MlpShape& shape, const GroupData& data, std::int64_t batch,
                        const LeanOptions& options, double min_seconds) {
  auto math = make_lean_cpu_math(shape, data, 1, options);
  math->set_hyper(0, TrialHyper{});
  math->load(0, initial_parameters(model.config.model, shape, 1),
             std::vector<float>(std::size_t(shape.optimizer_state_count()), 0.0f));
  std::vector<std::int64_t> order(static_cast<std::size_t>(batch));
  for (std::int64_t i = 0; i < batch; ++i) order[std::size_t(i)] = i;
  const double lr = model.lr;
  Segment segment;
  segment.order = order.data();
  segment.steps = 1;
  segment.batch_size = batch;
  segment.lrs = &lr;
  std::int64_t step = 0;
  return time_per_call(
      [&] {
        segment.step0 = step++;
        math->advance({segment});
      },
      min_seconds);
}

// GFLOP/s of sgemm (row-major) on C[m x n] = op(A) op(B) with inner size k.
double sgemm_rate(blas::Sgemm sgemm, bool trans_a, bool trans_b, std::int64_t m, std::int64_t k, std::int64_t n,
                  double min_seconds) {
  Lcg rng(3);
  std::vector<float> a(std::size_t(m * k)), b(std::size_t(k * n)), c(std::size_t(m * n));
  for (auto& v : a) v = rng.uniform();
  for (auto& v : b) v = rng.uniform();
  const double seconds = time_per_call(
      [&] {
        sgemm(blas::kRowMajor, trans_a ? blas::kTrans : blas::kNoTrans, trans_b ? blas::kTrans : blas::kNoTrans, int(m),
              int(n), int(k), 1.0f, a.data(), int(trans_a ? m : k), b.data(), int(trans_b ? k : n), 0.0f, c.data(), int(n));
      },
      min_seconds / 4);
  return 2.0 * double(m) * double(k) * double(n) / seconds / 1e9;
}

std::vector<std::int64_t> parse_list(const std::string& text) {
  std::vector<std::int64_t> values;
  std::stringstream in(text);
  for (std::string item; std::getline(in, item, ',');) values.push_back(std::stoll(item));
  return values;
}

void run_peer(const std::string& command) {
  std::cout << "\n$ " << command << "\n" << std::flush;
  if (std::system(command.c_str()) != 0) std::cout << "(the peer did not run: needs /usr/bin/python3 with python3-torch)\n";
}

int run(int argc, char** argv) {
  std::vector<std::int64_t> sizes = {1024, 8192, 65536}, crossover = {8, 16, 32, 64, 128, 256};
  double min_seconds = 0.5;
  std::string peer_dir = "../shared/bench";
  bool use_peer = true;
  int grid_k = 25;  // the reference main suite's learning rates per batch size (2^-12 .. 2^12)
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    const auto next = [&]() -> std::string {
      if (i + 1 >= argc) throw std::runtime_error(flag + " needs a value");
      return argv[++i];
    };
    if (flag == "--bs") sizes = parse_list(next());
    else if (flag == "--crossover") {
      const std::string list = next();
      crossover = list == "none" ? std::vector<std::int64_t>{} : parse_list(list);
    }
    else if (flag == "--min-seconds") min_seconds = std::stod(next());
    else if (flag == "--peer-dir") peer_dir = next();
    else if (flag == "--no-peer") use_peer = false;
    else {
      std::cerr << "usage: bench_big [--bs LIST] [--crossover LIST|none] [--min-seconds S] [--peer-dir DIR] [--no-peer]\n";
      return flag == "--help" ? 0 : 2;
    }
  }
  const auto& library = blas::system_library();
  std::cout << "system BLAS: " << library.name << "\nlean backend: " << lean_blas_description() << "\n";
  LeanOptions kernels_only;
  kernels_only.blas_rows = 0;
  LeanOptions with_blas;
  with_blas.blas_rows = 1;
  with_blas.any_blas = true;

  if (!crossover.empty() && library.sgemm) {
    std::cout << "\n# crossover: ms per step, the lean kernels alone against every product in BLAS\nmodel\tB\tkernels\tblas\n";
    for (const auto& model : models()) {
      const auto shape = shape_of(model.config, model.data_shape);
      for (const std::int64_t b : crossover) {
        const auto data = batch_data(model, shape, b);
        const double own = seconds_per_step(model, shape, data, b, kernels_only, min_seconds / 4);
        const double blas = seconds_per_step(model, shape, data, b, with_blas, min_seconds / 4);
        std::printf("%s\t%lld\t%.4f\t%.4f\n", model.name.c_str(), (long long)b, own * 1e3, blas * 1e3);
      }
    }
  }

  std::cout << "\n# GFLOP/s per trial (6 flops per dense weight per example), ms per step; the default (lean_default) "
               "against the kernels alone\nmodel\tB\tms_default\tGFLOP/s_default\tms_kernels\tGFLOP/s_kernels\n";
  for (const auto& model : models()) {
    const auto shape = shape_of(model.config, model.data_shape);
    for (const std::int64_t b : sizes) {
      const auto data = batch_data(model, shape, b);
      const double flops = 6.0 * double(b) * dense_weights(shape);
      const double fast = seconds_per_step(model, shape, data, b, LeanOptions{}, min_seconds);
      const double own = seconds_per_step(model, shape, data, b, kernels_only, min_seconds);
      std::printf("%s\t%lld\t%.3f\t%.1f\t%.3f\t%.1f\n", model.name.c_str(), (long long)b, fast * 1e3, flops / fast / 1e9,
                  own * 1e3, flops / own / 1e9);
    }
  }

  if (library.sgemm) {
    std::cout << "\n# sgemm GFLOP/s on each dense layer's products: forward (B x in . in x out), the gradient below "
                 "(B x out . (in x out)^T), the weights' gradient ((B x in)^T . B x out)\nmodel\tB\tlayer\tforward\tbelow\tweights\n";
    for (const auto& model : models()) {
      const auto shape = shape_of(model.config, model.data_shape);
      for (const std::int64_t b : sizes) {
        for (std::int64_t l = shape.tokens > 0 ? 1 : 0; l < shape.layers(); ++l) {
          const std::int64_t in = shape.widths[l], out = shape.widths[l + 1];
          if (out < 8) continue;  // the narrow output layer is not a matrix product here
          std::printf("%s\t%lld\t%lldx%lld\t%.1f\t%.1f\t%.1f\n", model.name.c_str(), (long long)b, (long long)in,
                      (long long)out, sgemm_rate(library.sgemm, false, false, b, in, out, min_seconds),
                      sgemm_rate(library.sgemm, false, true, b, out, in, min_seconds),
                      sgemm_rate(library.sgemm, true, false, in, b, out, min_seconds));
        }
      }
    }
  }

  std::cout << "\n# the online poly teacher (k = 2, D = 25): drawing B fresh samples against the step at B\n"
               "B\tms_sampling\tms_step\tshare\n";
  const auto teacher = models().front();
  const auto teacher_shape = shape_of(teacher.config, teacher.data_shape);
  TeacherStream stream(teacher.config.task);
  for (const std::int64_t b : sizes) {
    std::vector<float> x(static_cast<std::size_t>(b * stream.inputs())), y(static_cast<std::size_t>(b));
    std::int64_t first = 0;
    const double sampling = time_per_call(
        [&] {
          stream.rows(first, b, x.data(), y.data());
          first += b;
        },
        min_seconds);
    const auto data = batch_data(teacher, teacher_shape, b);
    const double step = seconds_per_step(teacher, teacher_shape, data, b, LeanOptions{}, min_seconds);
    std::printf("%lld\t%.3f\t%.3f\t%.0f%%\n", (long long)b, sampling * 1e3, step * 1e3, 100.0 * sampling / (sampling + step));
  }

  // Whole trials through the group trainer (online rows, evaluations, bookkeeping): one trial alone, and K trials
  // along the learning rate at one batch size, which draw each segment's rows once for all of them.
  std::cout << "\n# the poly-teacher student through train_group, 40 steps, 1000 held-out samples: ms per trial-step\n"
               "B\tK=1\tK=" << grid_k << "\n";
  for (const std::int64_t b : sizes) {
    std::vector<double> per_trial_step;
    for (const int k : {1, grid_k}) {
      std::vector<Config> configs(std::size_t(k), teacher.config);
      for (int i = 0; i < k; ++i) {
        configs[std::size_t(i)].task.samples = 5000;
        configs[std::size_t(i)].training.batch_size = b;
        configs[std::size_t(i)].training.steps = 40;
        configs[std::size_t(i)].training.eval_every = 20;
        configs[std::size_t(i)].optimizer.lr = 0.01 * (1.0 + i);
        configs[std::size_t(i)].stop.divergence_loss = 1e30;
      }
      std::vector<NullSink> sinks(static_cast<std::size_t>(k));
      std::vector<GroupMember> members;
      for (int i = 0; i < k; ++i) members.push_back({&configs[std::size_t(i)], &sinks[std::size_t(i)], {}});
      const auto start = Clock::now();
      train_group(members);
      per_trial_step.push_back(seconds_since(start) / double(40 * k));
    }
    std::printf("%lld\t%.3f\t%.3f\n", (long long)b, per_trial_step[0] * 1e3, per_trial_step[1] * 1e3);
  }

  if (use_peer) {
    std::string bs;
    for (const auto b : sizes) bs += (bs.empty() ? "" : ",") + std::to_string(b);
    const std::string py = "OPENBLAS_NUM_THREADS=1 /usr/bin/python3 " + peer_dir + "/peer_big.py ";
    run_peer(py + "sgemm");
    run_peer(py + "teacher --bs " + bs + " --steps 20");
  }
  return 0;
}

}  // namespace
}  // namespace sweeplab

int main(int argc, char** argv) {
  try {
    return sweeplab::run(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "bench_big: " << e.what() << "\n";
    return 2;
  }
}
