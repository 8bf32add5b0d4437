// Token inputs (the grokking study's algorithmic tasks): the lean backend's gather/scatter first layer against the same
// model on dense one-hot rows, ms per step at B = 512, vocabulary 194 (p = 97, two tokens), hidden [256], 97 and
// 2 classes. Built with the project, never run by CTest: ./build/bench/bench_tokens
#include <chrono>
#include <cstdint>
#include <iomanip>
#include <iostream>
#include <vector>

#include "engine/setup.hpp"

namespace sweeplab {
namespace {

// A small deterministic generator for the token pairs.
class Lcg {
 public:
  explicit Lcg(std::uint64_t seed) : state_(seed * 6364136223846793005ULL + 1442695040888963407ULL) {}
  std::int64_t below(std::int64_t n) {
    state_ = state_ * 6364136223846793005ULL + 1442695040888963407ULL;
    return std::int64_t((state_ >> 33) % std::uint64_t(n));
  }

 private:
  std::uint64_t state_;
};

// ------------------------------------------------------------------------------------------------
// Speed: the lean backend, one step at B = 512 of a 194-token vocabulary (p = 97, two tokens), hidden [256], 97
// classes: token inputs (gather/scatter) against the same model on dense one-hot rows.

double seconds_per_step(const MlpShape& shape, const GroupData& data, const std::vector<float>& initial,
                        const std::vector<std::int64_t>& order, std::int64_t batch, int epochs) {
  auto math = make_lean_cpu_math(shape, data, 1);
  math->set_hyper(0, TrialHyper{});
  math->load(0, initial, std::vector<float>(std::size_t(shape.optimizer_state_count()), 0.0f));
  const std::int64_t steps = data.n_train / batch;
  std::vector<double> lrs(std::size_t(steps), 1e-3);
  Segment segment;
  segment.order = order.data();
  segment.steps = steps;
  segment.batch_size = batch;
  segment.lrs = lrs.data();
  math->advance({segment});  // warm-up
  const auto start = std::chrono::steady_clock::now();
  for (int e = 0; e < epochs; ++e) math->advance({segment});
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() / double(epochs * steps);
}

// Also with two classes (194 -> 256 -> 2), where the first layer is nearly the whole step.
void compare() {
  constexpr std::int64_t kP = 97, kRows = 2048, kBatchRows = 512;
  std::vector<std::int64_t> order(kRows);
  for (std::int64_t i = 0; i < kRows; ++i) order[std::size_t(i)] = i;
  for (const std::int64_t classes : {kP, std::int64_t(2)}) {
    GroupData tokens, dense;
    tokens.inputs = 2, dense.inputs = 2 * kP;
    tokens.outputs = dense.outputs = classes;
    tokens.n_train = dense.n_train = kRows;
    tokens.n_test = dense.n_test = 1;
    Lcg rng(5);
    for (std::int64_t r = 0; r < kRows + 1; ++r) {
      const std::int64_t a = rng.below(kP), b = rng.below(kP);
      auto& xt = r < kRows ? tokens.x_train : tokens.x_test;
      auto& xd = r < kRows ? dense.x_train : dense.x_test;
      xt.push_back(float(a)), xt.push_back(float(kP + b));
      for (std::int64_t v = 0; v < 2 * kP; ++v) xd.push_back(v == a || v == kP + b ? 1.0f : 0.0f);
      auto& yt = r < kRows ? tokens.y_train : tokens.y_test;
      auto& yd = r < kRows ? dense.y_train : dense.y_test;
      yt.push_back(float((a + b) % classes)), yd.push_back(float((a + b) % classes));
    }
    for (const char* optimizer : {"sgd", "adam"}) {
      Config config;
      config.model.hidden = {256};
      config.optimizer.name = optimizer;
      auto dense_shape = shape_of(config, dataset_shape(2 * kP, classes, LossKind::Multiclass));
      auto token_shape = shape_of(config, dataset_shape(2, classes, LossKind::Multiclass, 2 * kP));
      const auto initial = initial_parameters(config.model, dense_shape, 1);
      const double t_dense = seconds_per_step(dense_shape, dense, initial, order, kBatchRows, 10);
      const double t_tokens = seconds_per_step(token_shape, tokens, initial, order, kBatchRows, 10);
      std::cout << "[ speed    ] lean, " << optimizer << ", B=512, 194 -> 256 -> " << classes << ": dense one-hot "
                << std::setprecision(3) << t_dense * 1e3 << " ms/step, tokens " << t_tokens * 1e3 << " ms/step, "
                << t_dense / t_tokens << "x\n";
    }
  }
}


}  // namespace
}  // namespace sweeplab

int main() {
  sweeplab::compare();
  return 0;
}
