// The lean CPU backend: each trial's parameters and optimizer state in flat float arrays, trained by the
// kernels of lean_kernels.cpp one trial at a time (a trial's weights stay in cache for a whole segment).
#include <algorithm>

#include "blas.hpp"
#include "lean_kernels.hpp"
#include "sweeplab/core/error.hpp"

namespace sweeplab {
namespace lean {

Workspace::Workspace(const MlpShape& shape, std::int64_t rows_) : rows(rows_) {
  std::int64_t activations = 0, widest = 0;
  for (std::int64_t l = 1; l < std::int64_t(shape.widths.size()); ++l) {
    activations += rows * shape.widths[l];
    widest = std::max(widest, shape.widths[l]);
  }
  widest = std::max(widest, shape.widths.front());
  pre.assign(std::size_t(activations), 0.0f);
  post.assign(std::size_t(activations), 0.0f);
  delta.assign(std::size_t(rows * widest), 0.0f);
  back.assign(std::size_t(rows * widest), 0.0f);
  grad.assign(std::size_t(shape.parameter_count()), 0.0f);
  std::int64_t largest_layer = 0;
  for (std::size_t l = 0; l + 1 < shape.widths.size(); ++l) largest_layer = std::max(largest_layer, shape.widths[l] * shape.widths[l + 1]);
  transposed.assign(std::size_t(std::max(largest_layer, rows * widest)), 0.0f);
  zeros.assign(std::size_t(std::max(widest, rows)), 0.0f);
  input.assign(std::size_t(rows * std::max(shape.widths.front(), shape.tokens)), 0.0f);
  target.assign(std::size_t(rows * shape.widths.back()), 0.0f);
  bias_grad.assign(std::size_t(widest), 0.0f);
  if (shape.noise_scale) example_sq.assign(std::size_t(rows), 0.0);
  if (shape.centered) centred.assign(std::size_t(rows * shape.widths.back()), 0.0f);
  if (shape.tokens > 0) touched.assign(std::size_t(shape.widths.front()), 0);
}

}  // namespace lean

namespace {

// AVX+FMA where the CPU has it; the same code for any x86-64 otherwise (the two differ in rounding).
bool cpu_has_fma() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx") && __builtin_cpu_supports("fma");
}

// The shape against the data; token inputs: every stored index a whole number inside the vocabulary (the
// kernels index W_0's rows with them unchecked).
void check_shape(const MlpShape& shape, const GroupData& data) {
  if (shape.widths.size() < 2 || shape.widths.back() != data.outputs ||
      (shape.tokens > 0 ? data.inputs != shape.tokens : shape.widths.front() != data.inputs)) {
    throw InternalError("lean backend: the shape does not fit the data");
  }
  if (!shape.scales.empty() && std::int64_t(shape.scales.size()) != shape.layers()) {
    throw InternalError("lean backend: one scale per layer expected");
  }
  if (shape.tokens == 0) return;
  for (const auto* x : {&data.x_train, &data.x_test}) {
    for (const float value : *x) {
      if (!(value >= 0.0f && value < float(shape.widths.front()) && value == float(std::int64_t(value)))) {
        throw InternalError("lean backend: a token index outside the vocabulary: " + std::to_string(value));
      }
    }
  }
}

class LeanCpuMath : public GroupMath {
 public:
  LeanCpuMath(const MlpShape& shape, const GroupData& data, int slots, const LeanOptions& options)
      : shape_(shape), data_(data), trials_(std::size_t(slots)), fma_(!options.portable && cpu_has_fma()) {
    const auto& library = blas::system_library();
    if (options.blas_rows > 0 && (library.openblas || (options.any_blas && library.sgemm))) {
      sgemm_ = library.sgemm;
      blas_rows_ = options.blas_rows;
    }
    check_shape(shape, data);
    for (auto& trial : trials_) {
      trial.parameters.assign(std::size_t(shape.parameter_count()), 0.0f);
      trial.state.assign(std::size_t(shape.optimizer_state_count()), 0.0f);
    }
  }

  int slots() const override { return int(trials_.size()); }

  void advance(const std::vector<Segment>& segments) override {
    for (const auto& segment : segments) {
      auto& trial = at(segment.slot);
      auto& work = workspace(segment.batch_size);
      const float* initial = initial_of(segment.slot);
      if (fma_) lean::fma::train_segment(shape_, data_, trial.hyper, segment, trial.parameters.data(), trial.state.data(), initial, trial.sums, work);
      else lean::base::train_segment(shape_, data_, trial.hyper, segment, trial.parameters.data(), trial.state.data(), initial, trial.sums, work);
    }
  }

  std::vector<Evaluation> evaluate(const std::vector<int>& slots) override {
    std::vector<Evaluation> results;
    auto& work = workspace(kEvaluationRows);
    for (int slot : slots) {
      const float* parameters = at(slot).parameters.data();
      const float* initial = initial_of(slot);
      results.push_back(fma_ ? lean::fma::evaluate(shape_, data_, parameters, initial, work)
                             : lean::base::evaluate(shape_, data_, parameters, initial, work));
    }
    return results;
  }

  Accumulators accumulators(int slot) override { return at(slot).sums; }
  void set_accumulators(int slot, const Accumulators& value) override { at(slot).sums = value; }
  std::vector<float> parameters(int slot) override { return at(slot).parameters; }
  std::vector<float> optimizer_state(int slot) override { return at(slot).state; }
  void load(int slot, const std::vector<float>& parameters, const std::vector<float>& optimizer_state) override {
    auto& trial = at(slot);
    if (parameters.size() != trial.parameters.size() || optimizer_state.size() != trial.state.size()) {
      throw InternalError("lean backend: parameters or optimizer state of the wrong size");
    }
    trial.parameters = parameters;
    trial.state = optimizer_state;
    trial.sums = {};
  }
  void set_initial(int slot, const std::vector<float>& parameters) override {
    auto& trial = at(slot);
    if (!shape_.centered) return;  // nothing to subtract
    if (parameters.size() != trial.parameters.size()) throw InternalError("lean backend: initial parameters of the wrong size");
    trial.initial = parameters;
  }

  void set_hyper(int slot, const TrialHyper& hyper) override { at(slot).hyper = hyper; }

 private:
  static constexpr std::int64_t kEvaluationRows = 256;

  struct Trial {
    std::vector<float> parameters, state;
    std::vector<float> initial;  // centred output: theta_0
    TrialHyper hyper;
    Accumulators sums;
  };

  Trial& at(int slot) {
    if (slot < 0 || slot >= slots()) throw InternalError("lean backend: no slot " + std::to_string(slot));
    return trials_[std::size_t(slot)];
  }

  // theta_0 of a slot when the output is centred (set_initial must have been called), else nullptr.
  const float* initial_of(int slot) {
    if (!shape_.centered) return nullptr;
    const auto& initial = at(slot).initial;
    if (initial.empty()) throw InternalError("lean backend: centred output without initial parameters (set_initial)");
    return initial.data();
  }

  lean::Workspace& workspace(std::int64_t rows) {
    if (!work_ || work_->rows < rows) {
      work_ = std::make_unique<lean::Workspace>(shape_, std::max(rows, work_ ? work_->rows : 0));
      work_->sgemm = sgemm_;
      work_->blas_rows = blas_rows_;
    }
    return *work_;
  }

  MlpShape shape_;
  const GroupData& data_;
  std::vector<Trial> trials_;
  bool fma_;
  blas::Sgemm sgemm_ = nullptr;
  std::int64_t blas_rows_ = 0;
  std::unique_ptr<lean::Workspace> work_;
};

}  // namespace

std::unique_ptr<GroupMath> make_lean_cpu_math(const MlpShape& shape, const GroupData& data, int slots,
                                              const LeanOptions& options) {
  return std::make_unique<LeanCpuMath>(shape, data, slots, options);
}

std::string lean_blas_description() {
  const auto& library = blas::system_library();
  if (library.openblas) {
    return "batches of " + std::to_string(LeanOptions::kBlasRows) + " rows or more multiply in " + library.name;
  }
  return "the lean kernels alone (the system BLAS is " + library.name + ")";
}

}  // namespace sweeplab
