// The batched-tensor backend (group_math.hpp): the K trials of a group as [K, ...] tensors, one baddbmm/bmm
// per layer for all of them, backward by hand (no autograd), and everything per trial (hyper-parameters,
// sums, divergence) kept on the device, so that training never waits for the host.
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <optional>

#include "group_math.hpp"
#include "sweeplab/core/error.hpp"

namespace sweeplab {
namespace {

using torch::Tensor;

constexpr double kInvSqrt2 = 0.70710678118654752, kInvSqrt2Pi = 0.39894228040143268;
constexpr std::int64_t kBlockRows = std::int64_t(1) << 22;  // row indices uploaded at once (32 MiB)
constexpr std::int64_t kEvaluationValues = std::int64_t(1) << 24;  // activations per evaluation chunk

// Sums per trial, after the parameters and the optimizer state in BatchedMath::trial_.
enum Sum { kLossSum, kAccuracySum, kBatches, kDivergedAt, kDivergedLoss, kLastLoss, kNoiseGradient, kNoiseTrace,
           kNoiseSteps, kSums };
// Hyper-parameters per trial, in BatchedMath::hyper_.
enum Hyper { kMomentum, kNesterov, kDecay, kBeta1, kOneMinusBeta1, kBeta2, kOneMinusBeta2, kEps, kDivergence, kHypers };

// A per-trial [n] tensor shaped to broadcast against an [n, ...] one.
Tensor per_trial(const Tensor& values, const Tensor& like) {
  std::vector<std::int64_t> shape(std::size_t(like.dim()), 1);
  shape[0] = values.size(0);
  return values.view(shape);
}

Tensor activate(Activation kind, const Tensor& z) {
  switch (kind) {
    case Activation::None: return z;
    case Activation::Relu: return torch::relu(z);
    case Activation::Tanh: return torch::tanh(z);
    case Activation::Gelu: return torch::gelu(z);  // exact erf form, PyTorch's default
    case Activation::Sigmoid: return torch::sigmoid(z);
  }
  return z;
}

// delta * act'(z), with h = act(z): PyTorch's backward formulas.
Tensor activation_backward(Activation kind, const Tensor& z, const Tensor& h, const Tensor& delta) {
  switch (kind) {
    case Activation::None: return delta;
    case Activation::Relu: return delta.masked_fill(z <= 0, 0);
    case Activation::Tanh: return delta * (1 - h * h);
    case Activation::Gelu:
      return delta * (0.5 * (1 + torch::erf(z * kInvSqrt2)) + z * (torch::exp(-0.5 * z * z) * kInvSqrt2Pi));
    case Activation::Sigmoid: return delta * (1 - h) * h;
  }
  return delta;
}

// A host array as a tensor on the device; through pinned memory on a GPU, so that the copy does not wait.
template <class T>
Tensor upload(const std::vector<T>& values, std::vector<std::int64_t> shape, torch::Dtype dtype, torch::Device device) {
  const Tensor host = torch::from_blob(const_cast<T*>(values.data()), shape, dtype);
  if (device.is_cpu()) return host.clone();
  return host.pin_memory().to(device, /*non_blocking=*/true);
}

class BatchedMath : public GroupMath {
 public:
  BatchedMath(const MlpShape& shape, const GroupData& data, int slots, const std::string& device)
      : shape_(shape), device_(device), slots_(slots), inputs_(data.inputs), n_train_(data.n_train), n_test_(data.n_test),
        target_width_(shape.loss == LossKind::Regression ? data.outputs : 1),
        mean_over_(shape.loss == LossKind::Regression || shape.loss == LossKind::OneHotMse ? data.outputs : 1),
        hyper_values_(std::size_t(slots)) {
    if (shape.widths.size() < 2 || shape.widths.back() != data.outputs ||
        (shape.tokens > 0 ? data.inputs != shape.tokens : shape.widths.front() != data.inputs)) {
      throw InternalError("batched backend: the shape does not fit the data");
    }
    if (!shape.scales.empty() && std::int64_t(shape.scales.size()) != shape.layers()) {
      throw InternalError("batched backend: one scale per layer expected");
    }
    if (shape.tokens > 0) {  // every index a whole number inside the vocabulary
      for (const auto* x : {&data.x_train, &data.x_test}) {
        for (const float value : *x) {
          if (!(value >= 0.0f && value < float(shape.widths.front()) && value == float(std::int64_t(value)))) {
            throw InternalError("batched backend: a token index outside the vocabulary: " + std::to_string(value));
          }
        }
      }
    }
    torch::NoGradGuard no_grad;
    x_train_ = upload(data.x_train, {n_train_, data.inputs}, torch::kFloat32, device_);
    y_train_ = upload(data.y_train, {n_train_, target_width_}, torch::kFloat32, device_);
    x_test_ = upload(data.x_test, {n_test_, data.inputs}, torch::kFloat32, device_);
    y_test_ = upload(data.y_test, {n_test_, target_width_}, torch::kFloat32, device_);
    if (shape.tokens > 0) x_train_ = x_train_.to(torch::kInt64), x_test_ = x_test_.to(torch::kInt64);  // indices
    const auto floats = torch::TensorOptions(device_).dtype(torch::kFloat32);
    for (int copy = 0; copy < 1 + state_copies(); ++copy) {  // the parameters, then each optimizer state
      for (std::int64_t l = 0; l < shape.layers(); ++l) {
        trial_.push_back(torch::zeros({slots, shape.widths[l], shape.widths[l + 1]}, floats));
        trial_.push_back(torch::zeros({slots, shape.widths[l + 1]}, floats));
      }
    }
    for (auto dtype : {torch::kFloat64, torch::kFloat64, torch::kInt64, torch::kInt64, torch::kFloat64,
                       torch::kFloat64, torch::kFloat64, torch::kFloat64, torch::kInt64}) {  // enum Sum
      trial_.push_back(torch::zeros({slots}, floats.dtype(dtype)));
    }
  }

  int slots() const override { return slots_; }

  void advance(const std::vector<Segment>& segments) override {
    torch::NoGradGuard no_grad;
    const std::vector<const Segment*> order = longest_first(segments);
    if (order.empty()) return;
    const std::vector<std::int64_t> online_at = gather_online(order);  // online: where each segment's rows start
    if (hyper_dirty_) upload_hyper();
    sums_cache_.reset();
    std::int64_t batch = 1;
    for (const Segment* segment : order) batch = std::max(batch, segment->batch_size);
    const std::int64_t total = std::int64_t(order.size()), steps = order.front()->steps, width = batch + 2;
    const std::int64_t block = std::max<std::int64_t>(1, kBlockRows / (total * width));
    Phase phase;
    std::int64_t active = total;
    for (std::int64_t j0 = 0; j0 < steps; j0 += block) {  // the host's numbers for `block` steps at a time
      const std::int64_t count = std::min(block, steps - j0);
      // Per step and trial: the batch's rows (a short batch padded with its first row), how many are real, the
      // step number; the learning rate (adam: lr / bias correction 1), sqrt(bias correction 2), adamw's shrink.
      std::vector<std::int64_t> longs(std::size_t(count * total * width), 0);
      std::vector<float> floats(std::size_t(count * total * 3), 0.0f);
      for (std::int64_t j = j0; j < j0 + count; ++j) {
        for (std::int64_t i = 0; i < total && order[std::size_t(i)]->steps > j; ++i) {
          const Segment& segment = *order[std::size_t(i)];
          const TrialHyper& hyper = hyper_values_[std::size_t(segment.slot)];
          std::int64_t* row = &longs[std::size_t(((j - j0) * total + i) * width)];
          float* scalars = &floats[std::size_t(((j - j0) * total + i) * 3)];
          const std::int64_t first = (segment.x ? online_at[std::size_t(i)] : segment.first) + j * segment.batch_size;
          const std::int64_t real = segment.x ? segment.batch_size : std::min(segment.batch_size, n_train_ - first);
          const std::int64_t t = segment.step0 + j + 1;
          for (std::int64_t r = 0; r < batch; ++r) row[r] = segment.x ? first + (r < real ? r : 0) : segment.order[first + (r < real ? r : 0)];
          row[batch] = real;
          row[batch + 1] = t;
          const double lr = segment.lrs[j];
          const bool sgd = shape_.optimizer == OptimizerKind::Sgd;
          scalars[0] = float(sgd ? lr : lr / (1.0 - std::pow(hyper.beta1, double(t))));
          scalars[1] = float(std::sqrt(1.0 - std::pow(hyper.beta2, double(t))));
          scalars[2] = float(1.0 - lr * hyper.weight_decay);
        }
      }
      const Tensor longs_now = upload(longs, {count, total, width}, torch::kInt64, device_);
      const Tensor floats_now = upload(floats, {count, total, 3}, torch::kFloat32, device_);
      for (std::int64_t j = j0; j < j0 + count; ++j) {
        while (order[std::size_t(active - 1)]->steps <= j) --active;
        if (phase.n != active) {
          finish(phase);
          begin(phase, order, active);
        }
        const Tensor l = longs_now[j - j0].narrow(0, 0, active), f = floats_now[j - j0].narrow(0, 0, active);
        const StepScalars scalars{f.select(1, 0), f.select(1, 1), f.select(1, 2), l.select(1, batch + 1)};
        step(phase, l.narrow(1, 0, batch), l.select(1, batch), scalars);
      }
    }
    finish(phase);
  }

  std::vector<Evaluation> evaluate(const std::vector<int>& slots) override {
    torch::NoGradGuard no_grad;
    if (slots.empty()) return {};
    for (int slot : slots) check(slot);
    const std::int64_t n = std::int64_t(slots.size());
    const Tensor chosen = upload(std::vector<std::int64_t>(slots.begin(), slots.end()), {n}, torch::kInt64, device_);
    std::vector<Tensor> weights, initial;
    for (std::size_t i = 0; i < per_copy(); ++i) weights.push_back(trial_[i].index_select(0, chosen));
    if (shape_.centered) {
      for (int slot : slots) check_initial(slot);
      for (const auto& t : initial_) initial.push_back(t.index_select(0, chosen));
    }
    const std::int64_t widest = *std::max_element(shape_.widths.begin(), shape_.widths.end());
    const std::int64_t chunk = std::max<std::int64_t>(1, kEvaluationValues / (n * widest));
    const auto doubles = torch::TensorOptions(device_).dtype(torch::kFloat64);
    Tensor loss_sum = torch::zeros({n}, doubles), correct = torch::zeros({n}, doubles);
    for (std::int64_t first = 0; first < n_test_; first += chunk) {
      const std::int64_t rows = std::min(chunk, n_test_ - first);
      const Tensor x = x_test_.narrow(0, first, rows).unsqueeze(0).expand({n, rows, inputs_});
      const Tensor y = y_test_.narrow(0, first, rows).unsqueeze(0).expand({n, rows, target_width_});
      Tensor o = forward(weights, x, nullptr, nullptr);
      if (shape_.centered) o = o - forward(initial, x, nullptr, nullptr);
      const Outcome out = outcome(o, y, false);
      loss_sum += out.loss.to(torch::kFloat64).sum(1);
      if (out.correct.defined()) correct += out.correct.sum(1).to(torch::kFloat64);
    }
    const Tensor host = torch::stack({loss_sum, correct}).cpu();
    const auto values = host.accessor<double, 2>();
    std::vector<Evaluation> results(slots.size());
    for (std::int64_t k = 0; k < n; ++k) {
      results[std::size_t(k)].loss = values[0][k] / double(n_test_ * mean_over_);
      if (shape_.loss != LossKind::Regression) results[std::size_t(k)].accuracy = values[1][k] / double(n_test_);
    }
    return results;
  }

  Accumulators accumulators(int slot) override {
    check(slot);
    if (!sums_cache_) {  // all slots in one read: the group trainer asks for each in turn
      torch::NoGradGuard no_grad;
      std::vector<Tensor> sums;
      for (int s = 0; s < kSums; ++s) sums.push_back(sum(s).to(torch::kFloat64));
      const Tensor host = torch::stack(sums).cpu();
      const auto values = host.accessor<double, 2>();
      sums_cache_.emplace(std::size_t(slots_));
      for (int k = 0; k < slots_; ++k) {
        auto& out = (*sums_cache_)[std::size_t(k)];
        out = {values[kLossSum][k], values[kAccuracySum][k], std::int64_t(values[kBatches][k]),
               std::int64_t(values[kDivergedAt][k]), values[kDivergedLoss][k], values[kLastLoss][k],
               values[kNoiseGradient][k], values[kNoiseTrace][k], std::int64_t(values[kNoiseSteps][k])};
      }
    }
    return (*sums_cache_)[std::size_t(slot)];
  }

  void set_accumulators(int slot, const Accumulators& value) override {
    check(slot);
    torch::NoGradGuard no_grad;
    const double values[kSums] = {value.loss_sum, value.accuracy_sum, double(value.batches),
                                  double(value.diverged_at_step), value.diverged_loss, value.last_loss,
                                  value.noise_gradient_sum, value.noise_trace_sum, double(value.noise_steps)};
    for (int s = 0; s < kSums; ++s) sum(s)[slot].fill_(values[s]);  // no host sync: a fill of one element
    if (sums_cache_) (*sums_cache_)[std::size_t(slot)] = value;
  }

  std::vector<float> parameters(int slot) override { return read(slot, 0, 1); }
  std::vector<float> optimizer_state(int slot) override { return read(slot, 1, state_copies()); }

  void load(int slot, const std::vector<float>& parameters, const std::vector<float>& optimizer_state) override {
    check(slot);
    if (std::int64_t(parameters.size()) != shape_.parameter_count() ||
        std::int64_t(optimizer_state.size()) != shape_.optimizer_state_count()) {
      throw InternalError("batched backend: parameters or optimizer state of the wrong size");
    }
    torch::NoGradGuard no_grad;
    write(slot, 0, parameters);
    write(slot, 1, optimizer_state);
    set_accumulators(slot, {});  // a fresh or resumed trial: no sums, not diverged
  }

  void set_initial(int slot, const std::vector<float>& parameters) override {
    check(slot);
    if (!shape_.centered) return;  // nothing to subtract
    if (std::int64_t(parameters.size()) != shape_.parameter_count()) {
      throw InternalError("batched backend: initial parameters of the wrong size");
    }
    torch::NoGradGuard no_grad;
    if (initial_.empty()) {
      const auto floats = torch::TensorOptions(device_).dtype(torch::kFloat32);
      for (std::int64_t l = 0; l < shape_.layers(); ++l) {
        initial_.push_back(torch::zeros({slots_, shape_.widths[l], shape_.widths[l + 1]}, floats));
        initial_.push_back(torch::zeros({slots_, shape_.widths[l + 1]}, floats));
      }
      initial_set_.assign(std::size_t(slots_), false);
    }
    write_into(initial_, 0, slot, parameters);
    initial_set_[std::size_t(slot)] = true;
  }

  void set_hyper(int slot, const TrialHyper& hyper) override {
    check(slot);
    hyper_values_[std::size_t(slot)] = hyper;
    hyper_dirty_ = true;
  }

 private:
  // The trials that train in a run of steps: their tensors (trial_'s layout) and hyper-parameters, taken
  // out of trial_ at the slots `chosen`.
  struct Phase {
    std::int64_t n = 0;
    Tensor chosen;
    std::vector<Tensor> trial, hyper, initial;  // initial: theta_0 (centred output)
  };
  struct StepScalars { Tensor rate, correction2, shrink, number; };  // [n] each, see advance()
  struct Outcome { Tensor loss, correct, grad; };  // per row: loss, right (classification), d(row loss)/d(output)

  int state_copies() const {
    if (shape_.optimizer != OptimizerKind::Sgd) return 2;
    return shape_.momentum_buffer ? 1 : 0;
  }
  std::size_t per_copy() const { return std::size_t(2 * shape_.layers()); }
  Tensor& sum(int which) { return sum_in(trial_, which); }
  static Tensor& sum_in(std::vector<Tensor>& t, int which) { return t[t.size() - std::size_t(kSums - which)]; }
  Activation activation(std::int64_t l) const { return l + 1 == shape_.layers() ? shape_.output : shape_.hidden; }
  void check(int slot) const {
    if (slot < 0 || slot >= slots_) throw InternalError("batched backend: no slot " + std::to_string(slot));
  }
  void check_initial(int slot) const {
    if (initial_set_.empty() || !initial_set_[std::size_t(slot)]) {
      throw InternalError("batched backend: centred output without initial parameters (set_initial)");
    }
  }

  void upload_hyper() {
    std::vector<double> values;  // [K, kHypers]
    for (const TrialHyper& h : hyper_values_) {
      // 1 - beta as PyTorch forms it: in double, then rounded to float.
      values.insert(values.end(), {h.momentum, double(h.nesterov), h.weight_decay, h.beta1, 1.0 - h.beta1, h.beta2,
                                   1.0 - h.beta2, h.eps, h.divergence_loss});
    }
    const Tensor all = upload(values, {slots_, kHypers}, torch::kFloat64, device_);
    hyper_.clear();
    for (int i = 0; i < kHypers; ++i) {
      const Tensor column = all.select(1, i).contiguous();
      hyper_.push_back(i == kNesterov ? column != 0 : i == kDivergence ? column : column.to(torch::kFloat32));
    }
    hyper_dirty_ = false;
  }

  // Online segments (Segment::x, group_trainer): their rows, one segment's after another, become the rows that
  // step() reads in place of the training set; returns where each of `order`'s segments starts in them.
  std::vector<std::int64_t> gather_online(const std::vector<const Segment*>& order) {
    std::vector<std::int64_t> at(order.size(), 0);
    online_ = order.front()->x != nullptr;
    if (!online_) return at;
    std::vector<float> xs, ys;
    const std::int64_t inputs = shape_.widths.front();
    for (std::size_t i = 0; i < order.size(); ++i) {
      const Segment& segment = *order[i];
      const std::int64_t count = segment.steps * segment.batch_size;
      at[i] = std::int64_t(xs.size()) / inputs;
      xs.insert(xs.end(), segment.x, segment.x + count * inputs);
      ys.insert(ys.end(), segment.y, segment.y + count * target_width_);
    }
    const std::int64_t rows = std::int64_t(xs.size()) / inputs;
    x_online_ = upload(xs, {rows, inputs}, torch::kFloat32, device_);
    y_online_ = upload(ys, {rows, target_width_}, torch::kFloat32, device_);
    return at;
  }

  // The segments that take steps, longest first: the trials still training at step j are the first ones.
  std::vector<const Segment*> longest_first(const std::vector<Segment>& segments) const {
    std::vector<const Segment*> order;
    std::vector<bool> seen(std::size_t(slots_), false);
    for (const auto& segment : segments) {
      check(segment.slot);
      if (seen[std::size_t(segment.slot)]) throw InternalError("batched backend: two segments for one slot");
      seen[std::size_t(segment.slot)] = true;
      if (segment.steps <= 0) continue;
      if (segment.batch_size <= 0 || (!segment.x && (segment.first < 0 ||
          segment.first + (segment.steps - 1) * segment.batch_size >= n_train_))) {
        throw InternalError("batched backend: a segment outside the epoch");
      }
      order.push_back(&segment);
    }
    std::sort(order.begin(), order.end(), [](const Segment* a, const Segment* b) {
      return a->steps != b->steps ? a->steps > b->steps : a->slot < b->slot;
    });
    return order;
  }

  // Takes the first n trials of `order` out of trial_ (once per run of steps with the same trials, not per step).
  void begin(Phase& phase, const std::vector<const Segment*>& order, std::int64_t n) {
    std::vector<std::int64_t> slots;
    for (std::int64_t i = 0; i < n; ++i) slots.push_back(order[std::size_t(i)]->slot);
    phase.n = n;
    phase.chosen = upload(slots, {n}, torch::kInt64, device_);
    for (const auto& t : trial_) phase.trial.push_back(t.index_select(0, phase.chosen));
    for (const auto& t : hyper_) phase.hyper.push_back(t.index_select(0, phase.chosen));
    if (shape_.centered) {
      for (std::int64_t i = 0; i < n; ++i) check_initial(order[std::size_t(i)]->slot);
      for (const auto& t : initial_) phase.initial.push_back(t.index_select(0, phase.chosen));
    }
  }

  void finish(Phase& phase) {
    for (std::size_t i = 0; i < phase.trial.size(); ++i) trial_[i].index_copy_(0, phase.chosen, phase.trial[i]);
    phase = Phase();
  }

  // Token inputs: the flat row of W_0 [n * vocabulary, width] that each token of tokens [n, rows, T] picks.
  Tensor token_rows(const Tensor& tokens) const {
    const std::int64_t n = tokens.size(0);
    const Tensor base = torch::arange(n, tokens.options()).mul_(shape_.widths.front()).view({n, 1, 1});
    return (tokens + base).reshape({-1});
  }

  // The network on h [n, rows, inputs] (token inputs: indices [n, rows, T], int64); keeps z and act(z) of every
  // layer when asked (for backward; token inputs: the indices stand for the input).
  Tensor forward(const std::vector<Tensor>& weights, Tensor h, std::vector<Tensor>* pre,
                 std::vector<Tensor>* post) const {
    if (post) post->push_back(h);
    for (std::int64_t l = 0; l < shape_.layers(); ++l) {
      const Tensor& w = weights[std::size_t(2 * l)];
      const Tensor& b = weights[std::size_t(2 * l + 1)];
      Tensor z;
      const bool scaled = !shape_.scales.empty();
      if (l == 0 && shape_.tokens > 0) {  // gather the rows of W_0 and sum them: a one-hot input, without the product
        const std::int64_t n = h.size(0), rows = h.size(1), width = w.size(2);
        z = w.reshape({-1, width}).index_select(0, token_rows(h)).view({n, rows, shape_.tokens, width}).sum(2);
        if (scaled) z = z * double(shape_.scales[0]);
        if (shape_.bias) z = z + b.unsqueeze(1);
      } else if (!scaled) {  // standard: as it always was
        z = torch::baddbmm(b.unsqueeze(1), h, w);
      } else {  // z = scale (h W) + b
        z = torch::bmm(h, w) * double(shape_.scales[std::size_t(l)]);
        if (shape_.bias) z = z + b.unsqueeze(1);
      }
      h = activate(activation(l), z);
      if (pre) pre->push_back(z);
      if (post) post->push_back(h);
    }
    return h;
  }

  // Per-row losses of outputs o [n, rows, outputs] against targets y [n, rows, target width].
  Outcome outcome(const Tensor& o, const Tensor& y, bool with_grad) const {
    Outcome out;
    if (shape_.loss == LossKind::Binary) {
      const Tensor logit = o.select(2, 0), target = y.select(2, 0);
      out.loss = torch::relu(logit) - logit * target + torch::log1p(torch::exp(-logit.abs()));
      out.correct = (logit > 0) == (target > 0.5);
      if (with_grad) out.grad = (torch::sigmoid(logit) - target).unsqueeze(2);
    } else if (shape_.loss == LossKind::Multiclass) {
      const Tensor label = y.to(torch::kInt64);
      const Tensor log_p = torch::log_softmax(o, 2);
      out.loss = -log_p.gather(2, label).squeeze(2);
      out.correct = o.argmax(2) == label.squeeze(2);
      if (with_grad) out.grad = log_p.exp() - (torch::arange(o.size(2), label.options()) == label).to(o.scalar_type());
    } else if (shape_.loss == LossKind::OneHotMse) {
      const Tensor label = y.to(torch::kInt64);
      const Tensor error = o - (torch::arange(o.size(2), label.options()) == label).to(o.scalar_type());
      out.loss = (error * error).sum(2);
      out.correct = o.argmax(2) == label.squeeze(2);
      if (with_grad) out.grad = 2 * error;
    } else {
      const Tensor error = o - y;
      out.loss = (error * error).sum(2);
      if (with_grad) out.grad = 2 * error;
    }
    return out;
  }

  // One step of `phase`'s trials: rows [n, batch] of the training set, of which the first `real` count.
  void step(Phase& phase, const Tensor& rows, const Tensor& real, const StepScalars& scalars) {
    auto& t = phase.trial;
    const auto& h = phase.hyper;
    const std::int64_t n = rows.size(0), batch = rows.size(1), layers = shape_.layers();
    const Tensor flat = rows.reshape({-1});
    const Tensor is_real = torch::arange(batch, real.options()).unsqueeze(0) < real.unsqueeze(1);  // [n, batch]
    std::vector<Tensor> pre, post;
    const Tensor x = (online_ ? x_online_ : x_train_).index_select(0, flat).view({n, batch, inputs_});
    Tensor o = forward(t, x, &pre, &post);
    if (shape_.centered) o = o - forward(phase.initial, x, nullptr, nullptr);
    const Outcome out = outcome(o, (online_ ? y_online_ : y_train_).index_select(0, flat).view({n, batch, target_width_}), true);
    const Tensor real_d = real.to(torch::kFloat64);
    const Tensor loss = out.loss.to(torch::kFloat64).masked_fill(~is_real, 0).sum(1) / (real_d * double(mean_over_));

    // Divergence: the trial stops before this step's update; its sums leave this batch out.
    Tensor& diverged_at = sum_in(t, kDivergedAt);
    const Tensor alive = diverged_at == 0, bad = ~torch::isfinite(loss) | (loss > h[kDivergence]);
    const Tensor ok = alive & ~bad, newly = alive & bad;
    Tensor& diverged_loss = sum_in(t, kDivergedLoss);
    diverged_loss = torch::where(newly, loss, diverged_loss);
    diverged_at = torch::where(newly, scalars.number, diverged_at);
    Tensor& loss_sum = sum_in(t, kLossSum);
    loss_sum = torch::where(ok, loss_sum + loss, loss_sum);
    Tensor& last_loss = sum_in(t, kLastLoss);
    last_loss = torch::where(ok, loss, last_loss);
    if (out.correct.defined()) {
      Tensor& accuracy_sum = sum_in(t, kAccuracySum);
      const Tensor accuracy = out.correct.masked_fill(~is_real, false).sum(1).to(torch::kFloat64) / real_d;
      accuracy_sum = torch::where(ok, accuracy_sum + accuracy, accuracy_sum);
    }
    Tensor& batches = sum_in(t, kBatches);
    batches = batches + ok.to(torch::kInt64);

    // Backward, last layer first; the gradient for the layer below uses this layer's weights before their update.
    const Tensor divisor = per_trial((real_d * double(mean_over_)).to(torch::kFloat32), out.grad);
    Tensor delta = (out.grad / divisor).masked_fill(~is_real.unsqueeze(2), 0);
    // The noise scale (group_math.hpp): each example's squared gradient norm, [n, batch], and the batch's, [n].
    const bool noise = shape_.noise_scale;
    Tensor example_sq, batch_sq;
    for (std::int64_t l = layers - 1; l >= 0; --l) {
      delta = activation_backward(activation(l), pre[std::size_t(l)], post[std::size_t(l + 1)], delta);
      if (noise) {
        const Tensor input_sq = l == 0 && shape_.tokens > 0 ? token_input_squares(post[0]) : post[std::size_t(l)].square().sum(2);
        const double scale = shape_.scales.empty() ? 1.0 : double(shape_.scales[std::size_t(l)]);
        const Tensor term = (input_sq * (scale * scale) + (shape_.bias ? 1.0 : 0.0)) * delta.square().sum(2);
        example_sq = example_sq.defined() ? example_sq + term.to(torch::kFloat64) : term.to(torch::kFloat64);
      }
      // Bias-free: the bias's gradient dropped (zeros, so it and its optimizer state stay 0). Scaled layers:
      // dL/d(h W) = scale dL/dz, for the weights and the layer below.
      const Tensor grad_b = shape_.bias ? delta.sum(1) : torch::zeros_like(t[std::size_t(2 * l + 1)]);
      if (!shape_.scales.empty()) delta = delta * double(shape_.scales[std::size_t(l)]);
      Tensor grad_w;
      if (l == 0 && shape_.tokens > 0) {  // scatter-add dL/dz into the rows of W_0 the tokens picked
        const Tensor& w = t[0];
        const std::int64_t width = w.size(2);
        grad_w = torch::zeros_like(w);
        grad_w.view({-1, width}).index_add_(
            0, token_rows(post[0]), delta.unsqueeze(2).expand({n, batch, shape_.tokens, width}).reshape({-1, width}));
      } else {
        grad_w = torch::bmm(post[std::size_t(l)].transpose(1, 2), delta);
      }
      if (l > 0) delta = torch::bmm(delta, t[std::size_t(2 * l)].transpose(1, 2));
      if (noise) {
        const Tensor squares = (grad_w.square().flatten(1).sum(1) + grad_b.square().flatten(1).sum(1)).to(torch::kFloat64);
        batch_sq = batch_sq.defined() ? batch_sq + squares : squares;
      }
      update(phase, std::size_t(2 * l), grad_w, scalars, ok);
      update(phase, std::size_t(2 * l + 1), grad_b, scalars, ok);
    }
    if (noise) {  // add_noise_terms for each trial whose step counted, with rows = its real rows
      const Tensor b = real_d, mean_example_sq = b * example_sq.sum(1);
      const Tensor counts = ok & (real >= 2);
      Tensor& gradient_sum = sum_in(t, kNoiseGradient);
      Tensor& trace_sum = sum_in(t, kNoiseTrace);
      Tensor& steps = sum_in(t, kNoiseSteps);
      const Tensor safe_b = torch::clamp_min(b, 2.0);
      gradient_sum = torch::where(counts, gradient_sum + (safe_b * batch_sq - mean_example_sq) / (safe_b - 1.0), gradient_sum);
      trace_sum = torch::where(counts, trace_sum + (mean_example_sq - batch_sq) / (1.0 - 1.0 / safe_b), trace_sum);
      steps = steps + counts.to(torch::kInt64);
    }
  }

  // Token inputs: |a_m|^2 of the one-hot sums that stand for each row's tokens [n, rows, T]: the pairs of equal tokens.
  Tensor token_input_squares(const Tensor& tokens) const {
    return (tokens.unsqueeze(3) == tokens.unsqueeze(2)).sum({2, 3}).to(torch::kFloat32);
  }

  // PyTorch's sgd, adam (1.13, single tensor) and adamw update of parameter tensor i, where `ok`.
  void update(Phase& phase, std::size_t i, const Tensor& grad, const StepScalars& scalars, const Tensor& ok) {
    auto& t = phase.trial;
    Tensor& w = t[i];
    const auto at = [&](const Tensor& values) { return per_trial(values, w); };
    const Tensor keep = at(ok);
    const auto& h = phase.hyper;
    if (shape_.optimizer == OptimizerKind::Sgd) {
      Tensor d = grad + at(h[kDecay]) * w;
      if (shape_.momentum_buffer) {
        Tensor& buffer = t[per_copy() + i];
        const Tensor momentum = at(h[kMomentum]), next = momentum * buffer + d;
        d = torch::where(at(h[kNesterov]), d + momentum * next, next);
        buffer = torch::where(keep, next, buffer);
      }
      w = torch::where(keep, w - at(scalars.rate) * d, w);
      return;
    }
    const bool adamw = shape_.optimizer == OptimizerKind::AdamW;
    const Tensor start = adamw ? w * at(scalars.shrink) : w;  // adamw: decoupled decay, before the step
    const Tensor d = adamw ? grad : grad + at(h[kDecay]) * w;
    Tensor& exp_avg = t[per_copy() + i];
    Tensor& exp_avg_sq = t[2 * per_copy() + i];
    const Tensor avg = exp_avg * at(h[kBeta1]) + at(h[kOneMinusBeta1]) * d;
    const Tensor avg_sq = exp_avg_sq * at(h[kBeta2]) + at(h[kOneMinusBeta2]) * d * d;
    const Tensor denom = avg_sq.sqrt() / at(scalars.correction2) + at(h[kEps]);
    w = torch::where(keep, start - at(scalars.rate) * avg / denom, w);
    exp_avg = torch::where(keep, avg, exp_avg);
    exp_avg_sq = torch::where(keep, avg_sq, exp_avg_sq);
  }

  // Copies first..first+copies-1 of trial_ (0: parameters; 1...: optimizer state) for one slot, flat.
  std::vector<float> read(int slot, int first, int copies) {
    check(slot);
    torch::NoGradGuard no_grad;
    std::vector<Tensor> parts;
    for (std::size_t i = per_copy() * std::size_t(first); i < per_copy() * std::size_t(first + copies); ++i) {
      parts.push_back(trial_[i][slot].reshape({-1}));
    }
    if (parts.empty()) return {};
    const Tensor flat = torch::cat(parts).cpu();
    return std::vector<float>(flat.data_ptr<float>(), flat.data_ptr<float>() + flat.numel());
  }

  void write(int slot, int first, const std::vector<float>& values) { write_into(trial_, first, slot, values); }

  void write_into(std::vector<Tensor>& tensors, int first, int slot, const std::vector<float>& values) {
    if (values.empty()) return;
    const Tensor flat = upload(values, {std::int64_t(values.size())}, torch::kFloat32, device_);
    std::int64_t at = 0;
    for (std::size_t i = per_copy() * std::size_t(first); at < flat.numel(); ++i) {
      Tensor target = tensors[i][slot];
      target.copy_(flat.narrow(0, at, target.numel()).view(target.sizes()));
      at += target.numel();
    }
  }

  MlpShape shape_;
  torch::Device device_;
  int slots_;
  std::int64_t inputs_;  // values per row (token inputs: tokens)
  std::int64_t n_train_, n_test_, target_width_, mean_over_;
  Tensor x_train_, y_train_, x_test_, y_test_;
  bool online_ = false;         // this advance() trains on x_online_, y_online_ (gather_online)
  Tensor x_online_, y_online_;
  // Per trial, [K, ...]: W and b of each layer; the optimizer state in the same order (momentum buffer, or
  // exp_avg then exp_avg_sq); then the sums (enum Sum).
  std::vector<Tensor> trial_;
  std::vector<Tensor> initial_;     // centred output: theta_0 per trial, the parameters' layout (set_initial)
  std::vector<bool> initial_set_;
  std::vector<TrialHyper> hyper_values_;
  std::vector<Tensor> hyper_;  // [K] each (enum Hyper)
  bool hyper_dirty_ = true;
  std::optional<std::vector<Accumulators>> sums_cache_;  // the host copy, until the next advance()
};

}  // namespace

std::unique_ptr<GroupMath> make_batched_math(const MlpShape& shape, const GroupData& data, int slots,
                                             const std::string& device) {
  return std::make_unique<BatchedMath>(shape, data, slots, device);
}

}  // namespace sweeplab
