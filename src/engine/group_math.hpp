#pragma once
// The arithmetic of a fused trial group: K MLPs of one shape, each with its own parameters, optimizer
// state, hyper-parameters, data order and learning rate per step. No LibTorch in this header: the
// group trainer (bookkeeping, checkpoints, metrics) talks to a backend through it, and the lean CPU
// kernels stay out of LibTorch's compile cost.
//
// Parameter layout, the same in every backend, in checkpoints and in the weights digest: for each
// linear layer l (fan_in -> fan_out), its weight TRANSPOSED, [fan_in][fan_out] row-major, then its bias
// [fan_out]. Optimizer state: sgd with momentum: one momentum buffer (P floats); adam/adamw: exp_avg
// then exp_avg_sq (2P floats); sgd without momentum: none.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "sweeplab/tasks/loss_kind.hpp"
#include "sweeplab/tasks/tasks.hpp"

namespace sweeplab {

enum class Activation { None, Relu, Tanh, Gelu, Sigmoid };
Activation activation_from_name(const std::string& name);  // "none", "relu", ...

enum class OptimizerKind { Sgd, Adam, AdamW };
OptimizerKind optimizer_kind_from_name(const std::string& name);  // "sgd", "adam", "adamw"

// What every trial of a group shares.
struct MlpShape {
  std::vector<std::int64_t> widths;  // inputs, hidden..., outputs
  Activation hidden = Activation::Relu;
  Activation output = Activation::None;  // after the last layer (the sanity checks break models with relu here)
  LossKind loss = LossKind::Binary;
  OptimizerKind optimizer = OptimizerKind::Sgd;
  bool momentum_buffer = false;  // sgd: keeps a momentum buffer (any trial of the group has momentum > 0)
  // Parameterizations (batch_size_studies). Layer l computes z = scales[l] * (h W_l) + b_l; empty scales: all 1. Without
  // bias the biases stay in the layout but are zero and never move (their gradient is dropped).
  std::vector<float> scales;
  bool bias = true;
  // centered: the output is f(theta) - f(theta_0), theta_0 the trial's initial parameters (GroupMath::set_initial).
  bool centered = false;
  // tokens > 0 (algorithmic tasks): each row is `tokens` token indices (GroupData::inputs == tokens), already
  // offset into one vocabulary of widths[0] entries; the first layer is the same as a one-hot input (a learned
  // embedding per token, summed), computed by gathering rows of W_0 instead of multiplying by one-hot vectors.
  std::int64_t tokens = 0;
  // The gradient noise scale (Accumulators::noise_*): each step of two rows or more also sums the squared norms
  // of the per-example gradients and of the batch gradient. It changes no parameter, loss or accuracy.
  bool noise_scale = false;

  std::int64_t layers() const { return std::int64_t(widths.size()) - 1; }
  std::int64_t parameter_count() const;       // P
  std::int64_t optimizer_state_count() const;  // 0, P or 2P
};

// What each trial of a group has of its own, fixed for its life (the learning rate comes per step).
struct TrialHyper {
  double momentum = 0.0;
  bool nesterov = false;
  double weight_decay = 0.0;
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
  double divergence_loss = 1e6;  // a batch loss above this, or not finite, ends the trial
};

// The data every trial of a group trains on: the task's plain arrays (sweeplab/tasks/tasks.hpp; row-major float
// features, or token indices as floats when MlpShape::tokens > 0; targets as float: {0,1} for binary, the class
// index for multiclass, `outputs` values per row for regression), `inputs` values stored per row. The backends
// read inputs, outputs, n_train, n_test and the arrays.
using GroupData = TaskData;

// Steps [step0, step0 + steps) of one trial, all inside one epoch: step j trains on the rows
// order[first + j*batch_size, min(first + (j+1)*batch_size, n_train)) with learning rate lrs[j].
//
// Online (stream) data: with `x` set, the rows are not taken from GroupData's training set but from x and y,
// steps * batch_size fresh samples in GroupData's layout: step j trains on rows j*batch_size .. (j+1)*batch_size - 1
// (order and first are not used).
struct Segment {
  int slot = 0;
  const std::int64_t* order = nullptr;  // the epoch's row order, n_train entries
  std::int64_t first = 0;
  std::int64_t steps = 0;
  std::int64_t batch_size = 0;
  const double* lrs = nullptr;  // the learning rate the optimizer uses (the effective one, see effective_lr_factor)
  std::int64_t step0 = 0;  // optimizer steps the trial has taken before (adam's bias correction uses it)
  const float* x = nullptr;  // online: the segment's own rows
  const float* y = nullptr;
};

// Sums since the trial's last evaluation, over the steps in order (so a trial's numbers do not depend on
// how its steps were cut into segments), and its divergence. A diverged trial's parameters stay as they
// were before the step that diverged, and it takes no further steps.
struct Accumulators {
  double loss_sum = 0.0;      // of batch losses
  double accuracy_sum = 0.0;  // of batch accuracies (classification)
  std::int64_t batches = 0;
  std::int64_t diverged_at_step = 0;  // 0: not diverged; else the 1-based step whose loss diverged
  double diverged_loss = 0.0;         // that loss (may be inf or nan)
  double last_loss = 0.0;             // the loss of the last batch trained on (batches > 0)
  // MlpShape::noise_scale: per step of B >= 2 rows, with g_i the gradient of example i's own loss and G_B their mean
  // (the step's gradient), the unbiased estimates of McCandlish et al. 2018 (appendix A, B_small = 1, B_big = B):
  //   |G|^2 ~ (B |G_B|^2 - mean_i |g_i|^2) / (B - 1),   tr(Sigma) ~ (mean_i |g_i|^2 - |G_B|^2) / (1 - 1/B),
  // summed over the steps since the last evaluation. B_simple = noise_trace_sum / noise_gradient_sum (a ratio of
  // means, as the paper averages before it divides).
  double noise_gradient_sum = 0.0;
  double noise_trace_sum = 0.0;
  std::int64_t noise_steps = 0;
};

// One step's terms of the noise-scale sums above: `rows` examples, `mean_example_sq` = mean_i |g_i|^2 and
// `batch_sq` = |G_B|^2. Steps of one row add nothing.
inline void add_noise_terms(Accumulators& sums, std::int64_t rows, double mean_example_sq, double batch_sq) {
  if (rows < 2) return;
  const double b = double(rows);
  sums.noise_gradient_sum += (b * batch_sq - mean_example_sq) / (b - 1.0);
  sums.noise_trace_sum += (mean_example_sq - batch_sq) / (1.0 - 1.0 / b);
  ++sums.noise_steps;
}

struct Evaluation {
  double loss = 0.0;
  std::optional<double> accuracy;  // classification
};

class GroupMath {
 public:
  virtual ~GroupMath() = default;
  virtual int slots() const = 0;
  // Trains each segment (one per trial; any trials, any lengths). Trials are independent: with the lean
  // CPU backend a trial's numbers do not depend, bit for bit, on which others share the call; with the
  // batched backend they agree to float tolerance (bmm's summation order and padding follow the group).
  virtual void advance(const std::vector<Segment>& segments) = 0;
  // Mean loss (and accuracy) on the test set, per slot asked for.
  virtual std::vector<Evaluation> evaluate(const std::vector<int>& slots) = 0;

  virtual Accumulators accumulators(int slot) = 0;
  virtual void set_accumulators(int slot, const Accumulators& value) = 0;
  virtual std::vector<float> parameters(int slot) = 0;        // P floats, the layout above
  virtual std::vector<float> optimizer_state(int slot) = 0;   // MlpShape::optimizer_state_count() floats
  virtual void load(int slot, const std::vector<float>& parameters, const std::vector<float>& optimizer_state) = 0;
  virtual void set_hyper(int slot, const TrialHyper& hyper) = 0;
  // MlpShape::centered: the trial's initial parameters theta_0, whose output is subtracted from its output.
  // Ignored when the output is not centred; a centred slot without it makes advance and evaluate throw. The
  // backends run theta_0's forward on each batch (no backward) and subtract it before the loss, in evaluation too.
  virtual void set_initial(int slot, const std::vector<float>& parameters) = 0;
};

// How the lean backend multiplies. Its own SIMD kernels (lean_kernels.cpp): the AVX+FMA build where the CPU has
// it, else (or with `portable`) the build for any x86-64. The matrix products of batches of at least `blas_rows`
// rows go to the system BLAS's sgemm when that is OpenBLAS (single-threaded; the reference BLAS is slower than
// the kernels), or to any BLAS with `any_blas` (tests). 0: never BLAS.
struct LeanOptions {
  // Where OpenBLAS's products overtake the kernels' own (bench/bench_big measures it on each shape).
  static constexpr std::int64_t kBlasRows = 16;
  bool portable = false;
  std::int64_t blas_rows = kBlasRows;
  bool any_blas = false;
};

// Backends keep a reference to `data`, which must outlive them.
// The hand-written CPU backend: no autograd, buffers allocated once, SIMD kernels, BLAS for large batches.
std::unique_ptr<GroupMath> make_lean_cpu_math(const MlpShape& shape, const GroupData& data, int slots,
                                              const LeanOptions& options = {});
// Whether the lean backend's products of large batches run in the system BLAS here, and which BLAS that is.
std::string lean_blas_description();

// The batched-tensor backend: parameters as [K, ...] LibTorch tensors, one bmm/baddbmm per layer for all
// trials, hand-derived backward, per-trial hyper-parameters as [K] tensors, accumulators on the device.
// device "cuda" on a GPU; "cpu" runs the same code, so tests exercise the CUDA path without a GPU.
// Defined in the LibTorch plugin's code (batched_math.cpp); the engine reaches it through torch_plugin.hpp.
std::unique_ptr<GroupMath> make_batched_math(const MlpShape& shape, const GroupData& data, int slots,
                                             const std::string& device);

}  // namespace sweeplab
