// The lean CPU kernels (see lean_kernels.hpp). Built twice with SWEEPLAB_KERNEL_NAMESPACE = base | fma.
#include "lean_kernels.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace sweeplab::lean::SWEEPLAB_KERNEL_NAMESPACE {
namespace {

// Eight floats, loaded from and stored to any float address.
typedef float Vec __attribute__((vector_size(32), aligned(4)));
constexpr std::int64_t kLanes = 8;

inline Vec load(const float* p) { return *reinterpret_cast<const Vec*>(p); }
inline void store(float* p, Vec v) { *reinterpret_cast<Vec*>(p) = v; }
inline Vec splat(float x) { return Vec{x, x, x, x, x, x, x, x}; }
inline float lane_sum(Vec v) {  // a fixed order
  return ((v[0] + v[1]) + (v[2] + v[3])) + ((v[4] + v[5]) + (v[6] + v[7]));
}
// sum_k p[k]^2 in a fixed order: four sums of eight lanes each (independent, so they do not wait on each other),
// then the remaining blocks of eight, then the tail.
float squares(const float* p, std::int64_t n) {
  Vec acc[4] = {splat(0), splat(0), splat(0), splat(0)};
  std::int64_t k = 0;
  for (; k + 4 * kLanes <= n; k += 4 * kLanes) {
    for (int i = 0; i < 4; ++i) {
      const Vec v = load(p + k + i * kLanes);
      acc[i] += v * v;
    }
  }
  for (; k + kLanes <= n; k += kLanes) {
    const Vec v = load(p + k);
    acc[0] += v * v;
  }
  float sum = k > 0 ? lane_sum((acc[0] + acc[1]) + (acc[2] + acc[3])) : 0.0f;
  for (; k < n; ++k) sum += p[k] * p[k];
  return sum;
}

// Rows m..m+ROWS of C, columns n..n+16: each load of B serves ROWS rows.
template <int ROWS>
inline void forward_block(const float* a, const float* b, const float* bias, float* c, std::int64_t m, std::int64_t n,
                          std::int64_t depth, std::int64_t width) {
  Vec acc[ROWS][2];
  for (int r = 0; r < ROWS; ++r) acc[r][0] = load(bias + n), acc[r][1] = load(bias + n + kLanes);
  for (std::int64_t k = 0; k < depth; ++k) {
    const Vec b0 = load(b + k * width + n), b1 = load(b + k * width + n + kLanes);
    for (int r = 0; r < ROWS; ++r) {
      const Vec x = splat(a[(m + r) * depth + k]);
      acc[r][0] += x * b0;
      acc[r][1] += x * b1;
    }
  }
  for (int r = 0; r < ROWS; ++r) store(c + (m + r) * width + n, acc[r][0]), store(c + (m + r) * width + n + kLanes, acc[r][1]);
}

// C[m][n] = bias[n] + sum_k A[m][k] B[k][n]  (A: rows x depth, B: depth x width, all row-major, dense).
// Each C element sums k = 0, 1, ... in order, whatever the blocking.
void forward_layer(const float* a, const float* b, const float* bias, float* c, std::int64_t rows, std::int64_t depth,
                   std::int64_t width) {
  std::int64_t n = 0;
  for (; n + 2 * kLanes <= width; n += 2 * kLanes) {
    std::int64_t m = 0;
    for (; m + 4 <= rows; m += 4) forward_block<4>(a, b, bias, c, m, n, depth, width);
    for (; m + 2 <= rows; m += 2) forward_block<2>(a, b, bias, c, m, n, depth, width);  // small batches
    for (; m < rows; ++m) forward_block<1>(a, b, bias, c, m, n, depth, width);
  }
  for (; n + kLanes <= width; n += kLanes) {
    for (std::int64_t m = 0; m < rows; ++m) {
      Vec acc = load(bias + n);
      for (std::int64_t k = 0; k < depth; ++k) acc += splat(a[m * depth + k]) * load(b + k * width + n);
      store(c + m * width + n, acc);
    }
  }
  if (width == 1) {  // one output (binary, regression): a dot product per row, in lanes
    const std::int64_t vector_depth = depth - depth % kLanes;
    for (std::int64_t m = 0; m < rows; ++m) {
      Vec acc = splat(0);
      for (std::int64_t k = 0; k < vector_depth; k += kLanes) acc += load(a + m * depth + k) * load(b + k);
      float sum = vector_depth > 0 ? lane_sum(acc) : 0.0f;
      for (std::int64_t k = vector_depth; k < depth; ++k) sum += a[m * depth + k] * b[k];
      c[m] = bias[0] + sum;
    }
    return;
  }
  for (; n < width; ++n) {
    for (std::int64_t m = 0; m < rows; ++m) {
      float acc = bias[n];
      for (std::int64_t k = 0; k < depth; ++k) acc += a[m * depth + k] * b[k * width + n];
      c[m * width + n] = acc;
    }
  }
}

// The system BLAS for a product of `rows` batch rows into `width` outputs, or nullptr: the kernels here.
inline blas::Sgemm blas_for(const Workspace& work, std::int64_t rows, std::int64_t width) {
  return work.sgemm && rows >= work.blas_rows && width >= kLanes ? work.sgemm : nullptr;
}

// C = bias + A B as forward_layer, through the system BLAS for large batches (C starts as the bias rows, then
// sgemm adds A B to it).
void dense_layer(const Workspace& work, const float* a, const float* b, const float* bias, float* c, std::int64_t rows,
                 std::int64_t depth, std::int64_t width) {
  const blas::Sgemm sgemm = blas_for(work, rows, width);
  if (!sgemm) {
    forward_layer(a, b, bias, c, rows, depth, width);
    return;
  }
  for (std::int64_t m = 0; m < rows; ++m) std::memcpy(c + m * width, bias, sizeof(float) * std::size_t(width));
  sgemm(blas::kRowMajor, blas::kNoTrans, blas::kNoTrans, int(rows), int(width), int(depth), 1.0f, a, int(depth), b,
        int(width), 1.0f, c, int(width));
}

// A narrow layer (fewer than eight outputs: the output layer): dA[m][k] = sum_n dC[m][n] B[k][n], the
// gradient reaching its input, with outputs outermost so the loop over k vectorizes.
void narrow_backward_input(const float* dc, const float* b, float* da, std::int64_t rows, std::int64_t depth,
                           std::int64_t width) {
  for (std::int64_t m = 0; m < rows; ++m) {
    float* row = da + m * depth;
    for (std::int64_t k = 0; k < depth; ++k) row[k] = dc[m * width] * b[k * width];
    for (std::int64_t n = 1; n < width; ++n) {
      for (std::int64_t k = 0; k < depth; ++k) row[k] += dc[m * width + n] * b[k * width + n];
    }
  }
}

// One optimizer step (PyTorch's sgd, adam and adamw formulas), applied to the parameters as their
// gradients come out of the backward kernels, eight at a time or one by one.
class Update {
 public:
  Update(const MlpShape& shape, const TrialHyper& hyper, double lr, std::int64_t step, float* parameters, float* state)
      : kind_(shape.optimizer), momentum_buffer_(shape.momentum_buffer), nesterov_(hyper.nesterov),
        rate_(float(lr)), decay_(float(hyper.weight_decay)), momentum_(float(hyper.momentum)),
        beta1_(float(hyper.beta1)), beta2_(float(hyper.beta2)), eps_(float(hyper.eps)),
        // 1 - beta in double, then float, as PyTorch: in float, 1 - 0.999f is 1.3e-5 off
        one_minus_beta1_(float(1.0 - hyper.beta1)), one_minus_beta2_(float(1.0 - hyper.beta2)), w_(parameters), state_(state),
        count_(shape.parameter_count()) {
    plain_ = kind_ == OptimizerKind::Sgd && !momentum_buffer_ && hyper.weight_decay == 0.0;
    if (kind_ == OptimizerKind::Sgd) return;
    step_size_ = float(lr / (1.0 - std::pow(hyper.beta1, double(step))));
    correction2_ = float(std::sqrt(1.0 - std::pow(hyper.beta2, double(step))));
    shrink_ = kind_ == OptimizerKind::AdamW ? float(1.0 - lr * hyper.weight_decay) : 1.0f;
    if (kind_ == OptimizerKind::AdamW) decay_ = 0.0f;  // decoupled: applied as the shrink instead
  }

  // sgd without momentum or weight decay: a zero gradient leaves a parameter as it is, bit for bit.
  bool plain() const { return plain_; }

  template <class T>  // T: Vec or float
  inline void apply(std::int64_t i, T g) {
    T w;
    get(w_ + i, w);
    apply(i, g, w);
  }

  // From now on, also sums the squares of the gradients handed over: the step's |G_B|^2 (noise_scale).
  void count_squares() { squares_ = true; }
  double squared_norm() const { return double(lane_sum(vector_squares_)) + scalar_squares_; }
  // Counts the squares of `length` gradients at once, for a caller that then hands them over with apply_counted.
  void count(const float* grad, std::int64_t length) {
    if (squares_) scalar_squares_ += double(squares(grad, length));
  }

  // The same, given the parameters at i already loaded (w).
  template <class T>
  inline void apply(std::int64_t i, T g, T w) {
    if (squares_) add_square(g);
    apply_counted(i, g, w);
  }

  template <class T>  // the gradient's square already counted (count)
  inline void apply_counted(std::int64_t i, T g) {
    T w;
    get(w_ + i, w);
    apply_counted(i, g, w);
  }

  template <class T>
  inline void apply_counted(std::int64_t i, T g, T w) {
    T previous;
    if (plain_) {  // sgd without momentum or weight decay, the most common case in batch-size studies
      put(w_ + i, w - rate_ * g);
      return;
    }
    if (kind_ == OptimizerKind::Sgd) {
      T d = g + decay_ * w;
      if (momentum_buffer_) {
        get(state_ + i, previous);
        const T buffer = momentum_ * previous + d;
        put(state_ + i, buffer);
        d = nesterov_ ? d + momentum_ * buffer : buffer;
      }
      put(w_ + i, w - rate_ * d);
      return;
    }
    if (kind_ == OptimizerKind::AdamW) w *= shrink_;
    const T d = g + decay_ * w;
    get(state_ + i, previous);
    const T exp_avg = previous * beta1_ + one_minus_beta1_ * d;
    get(state_ + count_ + i, previous);
    const T exp_avg_sq = previous * beta2_ + one_minus_beta2_ * d * d;
    put(state_ + i, exp_avg);
    put(state_ + count_ + i, exp_avg_sq);
    put(w_ + i, w - step_size_ * exp_avg / (root(exp_avg_sq) / correction2_ + eps_));
  }

 private:
  void add_square(Vec g) { vector_squares_ += g * g; }
  void add_square(float g) { scalar_squares_ += double(g) * g; }
  static void get(const float* p, Vec& v) { v = load(p); }
  static void get(const float* p, float& v) { v = *p; }
  static void put(float* p, Vec v) { store(p, v); }
  static void put(float* p, float v) { *p = v; }
  static float root(float x) { return std::sqrt(x); }
  static Vec root(Vec x) {
    for (int lane = 0; lane < kLanes; ++lane) x[lane] = std::sqrt(x[lane]);
    return x;
  }

  OptimizerKind kind_;
  bool momentum_buffer_, nesterov_, plain_ = false, squares_ = false;
  Vec vector_squares_ = splat(0);
  double scalar_squares_ = 0.0;
  float rate_, decay_, momentum_, beta1_, beta2_, eps_, one_minus_beta1_, one_minus_beta2_;
  float step_size_ = 0, correction2_ = 1, shrink_ = 1;
  float* w_;
  float* state_;
  std::int64_t count_;
};

// A narrow layer's gradients dB[k][n] = sum_m A[m][k] dC[m][n] and dbias[n] = sum_m dC[m][n] (m in order),
// each handed to the optimizer as it is formed. `offset` is where B starts among the parameters; the bias
// follows B. Rows outermost, so the loop over k vectorizes. `bias_grad` (width floats), when given, is the
// bias gradient instead of the sums of dC (here and in the other backward kernels).
void narrow_backward_weights(const float* a, const float* dc, Update& update, std::int64_t offset, std::int64_t rows,
                             std::int64_t depth, std::int64_t width, float* scratch, const float* bias_grad) {
  const std::int64_t bias = offset + depth * width;
  for (std::int64_t n = 0; n < width; ++n) {
    for (std::int64_t k = 0; k < depth; ++k) scratch[k] = 0.0f;
    for (std::int64_t m = 0; m < rows; ++m) {
      const float g = dc[m * width + n];
      for (std::int64_t k = 0; k < depth; ++k) scratch[k] += a[m * depth + k] * g;
    }
    for (std::int64_t k = 0; k < depth; ++k) update.apply(offset + k * width + n, scratch[k]);
    if (bias_grad) {
      update.apply(bias + n, bias_grad[n]);
      continue;
    }
    float sum = 0;
    for (std::int64_t m = 0; m < rows; ++m) sum += dc[m * width + n];
    update.apply(bias + n, sum);
  }
}

// Small batches (ROWS rows, width a multiple of eight): the gradient for the layer below and this layer's
// update in one pass over its weights; dA[m][k] = sum_n dC[m][n] B[k][n] uses the weights before their
// update. Which kernel runs depends only on the batch's row count, so a trial's numbers stay reproducible.
template <int ROWS>
void backward_small(const float* a, const float* dc, const float* b, float* da, Update& update, std::int64_t offset,
                    std::int64_t depth, std::int64_t width, const float* bias_grad) {
  const std::int64_t bias = offset + depth * width;
  for (std::int64_t k = 0; k < depth; ++k) {
    Vec acc[ROWS];
    for (int r = 0; r < ROWS; ++r) acc[r] = splat(0);
    Vec h[ROWS];
    for (int r = 0; r < ROWS; ++r) h[r] = splat(a[r * depth + k]);
    for (std::int64_t n = 0; n < width; n += kLanes) {
      const Vec w = load(b + k * width + n);
      Vec g = splat(0);
      for (int r = 0; r < ROWS; ++r) {
        const Vec d = load(dc + r * width + n);
        if (da) acc[r] += d * w;
        g += h[r] * d;
      }
      update.apply(offset + k * width + n, g, w);
    }
    if (da) {
      for (int r = 0; r < ROWS; ++r) da[r * depth + k] = lane_sum(acc[r]);
    }
  }
  for (std::int64_t n = 0; n < width; n += kLanes) {
    if (bias_grad) {
      update.apply(bias + n, load(bias_grad + n));
      continue;
    }
    Vec sum = splat(0);
    for (int r = 0; r < ROWS; ++r) sum += load(dc + r * width + n);
    update.apply(bias + n, sum);
  }
}

// out[j][i] = in[i][j] for an rows x columns matrix.
void transpose(const float* in, float* out, std::int64_t rows, std::int64_t columns) {
  for (std::int64_t i = 0; i < rows; ++i) {
    for (std::int64_t j = 0; j < columns; ++j) out[j * rows + i] = in[i * columns + j];
  }
}

// A layer's bias gradient: `bias_grad` when the caller formed it (a scaled layer's, from the unscaled delta; a
// bias-free layer's zeros), else sum_m dC[m][n], m in order.
void bias_gradient(const float* dc, const float* bias_grad, float* bias, std::int64_t rows, std::int64_t width) {
  if (bias_grad) {
    std::memcpy(bias, bias_grad, sizeof(float) * std::size_t(width));
    return;
  }
  for (std::int64_t n = 0; n < width; ++n) bias[n] = 0.0f;
  for (std::int64_t m = 0; m < rows; ++m) {
    for (std::int64_t n = 0; n < width; ++n) bias[n] += dc[m * width + n];
  }
}

// Hands the gradients grad[first, first + length) of the parameters at offset + first ... to the optimizer,
// eight at a time, then one by one.
void apply_range(Update& update, const float* grad, std::int64_t offset, std::int64_t first, std::int64_t length) {
  update.count(grad + first, length);  // in one pass: summed per element, the running sum would wait on memory
  const std::int64_t vector_end = first + length - length % kLanes;
  for (std::int64_t i = first; i < vector_end; i += kLanes) update.apply_counted(offset + i, load(grad + i));
  for (std::int64_t i = vector_end; i < first + length; ++i) update.apply_counted(offset + i, grad[i]);
}

// Larger batches: the products of the backward pass, dA = dC W (W = B transposed) and dB = A^T dC, in the system
// BLAS from work.blas_rows rows, else as forward_layer's well-blocked kernel through two transposes; then the
// update, eight parameters at a time.
void backward_large(const float* a, const float* dc, const float* b, float* da, Update& update, std::int64_t offset,
                    std::int64_t rows, std::int64_t depth, std::int64_t width, Workspace& work, const float* bias_grad) {
  float* grad = work.grad.data();
  if (const blas::Sgemm sgemm = blas_for(work, rows, width)) {  // the same products in BLAS, no transposes
    if (da) {
      sgemm(blas::kRowMajor, blas::kNoTrans, blas::kTrans, int(rows), int(depth), int(width), 1.0f, dc, int(width), b,
            int(width), 0.0f, da, int(depth));
    }
    sgemm(blas::kRowMajor, blas::kTrans, blas::kNoTrans, int(depth), int(width), int(rows), 1.0f, a, int(depth), dc,
          int(width), 0.0f, grad, int(width));
    bias_gradient(dc, bias_grad, grad + depth * width, rows, width);
    apply_range(update, grad, offset, 0, depth * width + width);
    return;
  }
  float* scratch = work.transposed.data();
  const float* zeros = work.zeros.data();
  if (da) {  // needs the weights before their update
    transpose(b, scratch, depth, width);
    forward_layer(dc, scratch, zeros, da, rows, width, depth);
  }
  transpose(a, scratch, rows, depth);
  forward_layer(scratch, dc, zeros, grad, depth, rows, width);
  float* bias = grad + depth * width;
  bias_gradient(dc, bias_grad, bias, rows, width);
  apply_range(update, grad, offset, 0, depth * width + width);
}

// The token index stored as a float in an input row.
inline std::int64_t token(float value) { return std::int64_t(value); }

// Token inputs, the first layer (the same as a one-hot input row times B): C[m][n] = bias[n] + sum_t B[token_t][n],
// or, scaled, scale * (sum_t B[token_t][n]) + bias[n] (without `bias`: no bias added); t in order.
void gather_layer(const float* tokens, const float* b, const float* bias, float* c, std::int64_t rows,
                  std::int64_t count, std::int64_t width, bool scaled, float scale, bool with_bias) {
  for (std::int64_t m = 0; m < rows; ++m) {
    float* out = c + m * width;
    const float* row = tokens + m * count;
    const float* first = b + token(row[0]) * width;
    if (!scaled) {
      for (std::int64_t n = 0; n < width; ++n) out[n] = bias[n] + first[n];
    } else {
      std::memcpy(out, first, sizeof(float) * std::size_t(width));
    }
    for (std::int64_t t = 1; t < count; ++t) {
      const float* w = b + token(row[t]) * width;
      for (std::int64_t n = 0; n < width; ++n) out[n] += w[n];
    }
    if (scaled && with_bias) {
      for (std::int64_t n = 0; n < width; ++n) out[n] = scale * out[n] + bias[n];
    } else if (scaled) {
      for (std::int64_t n = 0; n < width; ++n) out[n] *= scale;
    }
  }
}

// Token inputs, the first layer's gradient and update: dB[v][n] = sum over the rows m and tokens t with
// token_t(m) = v of dC[m][n] (scattered in row order, then token order), the bias's as in the other kernels;
// then every parameter of the layer updated (adam's moments decay where the gradient is zero), or, for plain
// sgd, only the rows the batch used (a zero gradient changes nothing there).
void token_backward(const float* tokens, const float* dc, Update& update, std::int64_t offset, std::int64_t rows,
                    std::int64_t count, std::int64_t vocabulary, std::int64_t width, Workspace& work,
                    const float* bias_grad) {
  float* grad = work.grad.data();
  unsigned char* touched = work.touched.data();
  const bool sparse = update.plain();
  if (sparse) {
    for (std::int64_t i = 0; i < rows * count; ++i) {
      const std::int64_t v = token(tokens[i]);
      if (!touched[v]) touched[v] = 1, std::memset(grad + v * width, 0, sizeof(float) * std::size_t(width));
    }
  } else {
    std::memset(grad, 0, sizeof(float) * std::size_t(vocabulary * width));
  }
  for (std::int64_t m = 0; m < rows; ++m) {
    const float* d = dc + m * width;
    for (std::int64_t t = 0; t < count; ++t) {
      float* g = grad + token(tokens[m * count + t]) * width;
      for (std::int64_t n = 0; n < width; ++n) g[n] += d[n];
    }
  }
  float* bias = grad + vocabulary * width;
  bias_gradient(dc, bias_grad, bias, rows, width);
  const auto update_range = [&](std::int64_t first, std::int64_t length) { apply_range(update, grad, offset, first, length); };
  if (sparse) {
    for (std::int64_t i = 0; i < rows * count; ++i) {
      const std::int64_t v = token(tokens[i]);
      if (touched[v]) touched[v] = 0, update_range(v * width, width);
    }
    update_range(vocabulary * width, width);
  } else {
    update_range(0, vocabulary * width + width);
  }
}

constexpr float kInvSqrt2 = 0.70710678118654752f, kInvSqrt2Pi = 0.39894228040143268f;

void activate(Activation kind, const float* z, float* h, std::int64_t count) {
  switch (kind) {
    case Activation::None: std::memcpy(h, z, sizeof(float) * std::size_t(count)); return;
    case Activation::Relu:
      for (std::int64_t i = 0; i < count; ++i) h[i] = z[i] > 0.0f ? z[i] : 0.0f;
      return;
    case Activation::Tanh:
      for (std::int64_t i = 0; i < count; ++i) h[i] = std::tanh(z[i]);
      return;
    case Activation::Gelu:
      for (std::int64_t i = 0; i < count; ++i) h[i] = 0.5f * z[i] * (1.0f + std::erf(z[i] * kInvSqrt2));
      return;
    case Activation::Sigmoid:
      for (std::int64_t i = 0; i < count; ++i) h[i] = 1.0f / (1.0f + std::exp(-z[i]));
      return;
  }
}

// delta *= act'(z), with h = act(z).
void activation_backward(Activation kind, const float* z, const float* h, float* delta, std::int64_t count) {
  switch (kind) {
    case Activation::None: return;
    case Activation::Relu:
      for (std::int64_t i = 0; i < count; ++i) delta[i] = z[i] > 0.0f ? delta[i] : 0.0f;
      return;
    case Activation::Tanh:
      for (std::int64_t i = 0; i < count; ++i) delta[i] *= 1.0f - h[i] * h[i];
      return;
    case Activation::Gelu:
      for (std::int64_t i = 0; i < count; ++i) {
        const float cdf = 0.5f * (1.0f + std::erf(z[i] * kInvSqrt2));
        delta[i] *= cdf + z[i] * kInvSqrt2Pi * std::exp(-0.5f * z[i] * z[i]);
      }
      return;
    case Activation::Sigmoid:
      for (std::int64_t i = 0; i < count; ++i) delta[i] *= h[i] * (1.0f - h[i]);
      return;
  }
}

// Adds each row's share of one layer to the per-example squared gradient norms (of the batch's mean loss):
// |a_m|^2 |delta_m|^2 scale^2 for the weights, |delta_m|^2 for the bias (`delta` before the scale is applied).
// Token inputs (`tokens` > 0): a_m is the sum of the tokens' one-hot rows, so |a_m|^2 counts the pairs of equal
// tokens.
void add_example_squares(const float* below, const float* delta, std::int64_t rows, std::int64_t fan_in,
                         std::int64_t fan_out, std::int64_t tokens, double scale_sq, bool bias, double* example_sq) {
  for (std::int64_t m = 0; m < rows; ++m) {
    double input_sq = 0.0;
    if (tokens > 0) {
      const float* row = below + m * tokens;
      for (std::int64_t t = 0; t < tokens; ++t) {
        for (std::int64_t u = 0; u < tokens; ++u) input_sq += row[t] == row[u] ? 1.0 : 0.0;
      }
    } else {
      input_sq = squares(below + m * fan_in, fan_in);
    }
    example_sq[m] += (input_sq * scale_sq + (bias ? 1.0 : 0.0)) * double(squares(delta + m * fan_out, fan_out));
  }
}

struct BatchLoss {
  double loss = 0.0;      // mean over the rows
  double correct = 0.0;   // rows predicted right (classification)
};

// The loss of `rows` outputs against their targets; with `delta`, also dL/d(output) of the mean loss.
BatchLoss loss_of(LossKind kind, const float* out, const float* target, std::int64_t rows, std::int64_t outputs,
                  float* delta) {
  BatchLoss result;
  double sum = 0.0;
  for (std::int64_t r = 0; r < rows; ++r) {
    const float* o = out + r * outputs;
    float* d = delta ? delta + r * outputs : nullptr;
    if (kind == LossKind::Binary) {
      const float logit = o[0], y = target[r];
      sum += std::max(logit, 0.0f) - logit * y + std::log1p(std::exp(-std::fabs(logit)));
      if (d) d[0] = (1.0f / (1.0f + std::exp(-logit)) - y) / float(rows);
      result.correct += (logit > 0.0f) == (y > 0.5f);
    } else if (kind == LossKind::Multiclass) {
      const auto label = std::int64_t(target[r]);
      std::int64_t best = 0;
      for (std::int64_t j = 1; j < outputs; ++j) best = o[j] > o[best] ? j : best;
      const float peak = o[best];
      float total = 0.0f;
      for (std::int64_t j = 0; j < outputs; ++j) total += std::exp(o[j] - peak);
      sum += std::log(total) + peak - o[label];
      if (d) {
        for (std::int64_t j = 0; j < outputs; ++j) d[j] = (std::exp(o[j] - peak) / total - (j == label)) / float(rows);
      }
      result.correct += best == label;
    } else if (kind == LossKind::OneHotMse) {
      const auto label = std::int64_t(target[r]);
      std::int64_t best = 0;
      for (std::int64_t j = 0; j < outputs; ++j) {
        best = o[j] > o[best] ? j : best;
        const float error = o[j] - float(j == label);
        sum += double(error) * error;
        if (d) d[j] = 2.0f * error / float(rows * outputs);
      }
      result.correct += best == label;
    } else {
      const float* y = target + r * outputs;
      for (std::int64_t j = 0; j < outputs; ++j) {
        const float error = o[j] - y[j];
        sum += double(error) * error;
        if (d) d[j] = 2.0f * error / float(rows * outputs);
      }
    }
  }
  const bool per_output = kind == LossKind::Regression || kind == LossKind::OneHotMse;
  result.loss = per_output ? sum / double(rows * outputs) : sum / double(rows);
  return result;
}

// The whole network on `rows` rows of work.input; returns the output block (inside work.post).
const float* forward(const MlpShape& shape, const float* parameters, std::int64_t rows, Workspace& work) {
  const float* input = work.input.data();
  float* pre = work.pre.data();
  float* post = work.post.data();
  const bool scaled = !shape.scales.empty();
  for (std::int64_t l = 0; l < shape.layers(); ++l) {
    const std::int64_t fan_in = shape.widths[l], fan_out = shape.widths[l + 1];
    const float* bias = parameters + fan_in * fan_out;
    const float scale = scaled ? shape.scales[std::size_t(l)] : 1.0f;
    if (l == 0 && shape.tokens > 0) {
      gather_layer(input, parameters, bias, pre, rows, shape.tokens, fan_out, scaled, scale, shape.bias);
    } else if (!scaled) {  // standard: as it always was
      dense_layer(work, input, parameters, bias, pre, rows, fan_in, fan_out);
    } else {  // z = scale * (h W) + b (bias-free: no b)
      dense_layer(work, input, parameters, work.zeros.data(), pre, rows, fan_in, fan_out);
      if (shape.bias) {
        for (std::int64_t m = 0; m < rows; ++m) {
          for (std::int64_t n = 0; n < fan_out; ++n) pre[m * fan_out + n] = scale * pre[m * fan_out + n] + bias[n];
        }
      } else {
        for (std::int64_t i = 0; i < rows * fan_out; ++i) pre[i] *= scale;
      }
    }
    activate(l + 1 == shape.layers() ? shape.output : shape.hidden, pre, post, rows * fan_out);
    parameters += fan_in * fan_out + fan_out;
    input = post;
    pre += rows * fan_out;
    post += rows * fan_out;
  }
  return input;
}

// The network's output on `rows` rows of work.input; centred (shape.centered): f(theta) - f(theta_0), in
// work.centred (theta_0's forward runs first, so work's activations are theta's, for backward).
const float* output_of(const MlpShape& shape, const float* parameters, const float* initial, std::int64_t rows,
                       std::int64_t outputs, Workspace& work) {
  if (!shape.centered) return forward(shape, parameters, rows, work);
  float* centred = work.centred.data();
  std::memcpy(centred, forward(shape, initial, rows, work), sizeof(float) * std::size_t(rows * outputs));
  const float* out = forward(shape, parameters, rows, work);
  for (std::int64_t i = 0; i < rows * outputs; ++i) centred[i] = out[i] - centred[i];
  return centred;
}

}  // namespace

void train_segment(const MlpShape& shape, const GroupData& data, const TrialHyper& hyper, const Segment& segment,
                   float* parameters, float* optimizer_state, const float* initial, Accumulators& sums, Workspace& work) {
  if (sums.diverged_at_step != 0) return;
  const std::int64_t inputs = data.inputs, outputs = data.outputs, layers = shape.layers();
  const bool classification = shape.loss != LossKind::Regression;
  for (std::int64_t j = 0; j < segment.steps; ++j) {
    const std::int64_t first = segment.first + j * segment.batch_size;
    const std::int64_t rows = segment.x ? segment.batch_size : std::min(segment.batch_size, data.n_train - first);
    if (segment.x) {  // online (group_trainer): the segment's own rows, batch_size per step, in order
      const std::int64_t width = shape.loss == LossKind::Regression ? outputs : 1;
      std::memcpy(work.input.data(), segment.x + j * rows * inputs, sizeof(float) * std::size_t(rows * inputs));
      std::memcpy(work.target.data(), segment.y + j * rows * width, sizeof(float) * std::size_t(rows * width));
    }
    for (std::int64_t r = 0; r < rows && !segment.x; ++r) {
      const std::int64_t row = segment.order[first + r];
      std::memcpy(&work.input[std::size_t(r * inputs)], &data.x_train[std::size_t(row * inputs)], sizeof(float) * std::size_t(inputs));
      const std::int64_t target_width = shape.loss == LossKind::Regression ? outputs : 1;
      std::memcpy(&work.target[std::size_t(r * target_width)], &data.y_train[std::size_t(row * target_width)],
                  sizeof(float) * std::size_t(target_width));
    }
    const float* out = output_of(shape, parameters, initial, rows, outputs, work);
    float* delta = work.delta.data();
    const BatchLoss batch = loss_of(shape.loss, out, work.target.data(), rows, outputs, delta);
    if (!std::isfinite(batch.loss) || batch.loss > hyper.divergence_loss) {
      sums.diverged_at_step = segment.step0 + j + 1;
      sums.diverged_loss = batch.loss;
      return;
    }
    sums.loss_sum += batch.loss;
    sums.last_loss = batch.loss;
    if (classification) sums.accuracy_sum += batch.correct / double(rows);
    ++sums.batches;

    Update update(shape, hyper, segment.lrs[j], segment.step0 + j + 1, parameters, optimizer_state);
    // The noise scale: each example's squared gradient norm, layer by layer (a linear layer's per-example gradient
    // is the outer product of its input row and its delta row, so its squared norm is their squared norms'
    // product), and the batch gradient's squared norm as the optimizer receives it.
    const bool noise = shape.noise_scale && rows >= 2;
    double* example_sq = work.example_sq.data();
    if (noise) {
      update.count_squares();
      std::fill(example_sq, example_sq + rows, 0.0);
    }
    // Backward, last layer first: the activation blocks of layer l start at the sum of the blocks before it.
    std::int64_t offset_params = shape.parameter_count(), offset_act = 0;
    for (std::int64_t l = 0; l < layers; ++l) offset_act += rows * shape.widths[l + 1];
    for (std::int64_t l = layers - 1; l >= 0; --l) {
      const std::int64_t fan_in = shape.widths[l], fan_out = shape.widths[l + 1];
      offset_params -= fan_in * fan_out + fan_out;
      offset_act -= rows * fan_out;
      const float* pre = work.pre.data() + offset_act;
      const float* post = work.post.data() + offset_act;
      activation_backward(l + 1 == layers ? shape.output : shape.hidden, pre, post, delta, rows * fan_out);
      const float* below = l == 0 ? work.input.data() : work.post.data() + offset_act - rows * fan_in;
      if (noise) {
        const float scale = shape.scales.empty() ? 1.0f : shape.scales[std::size_t(l)];
        add_example_squares(below, delta, rows, fan_in, fan_out, l == 0 ? shape.tokens : 0, double(scale) * scale,
                            shape.bias, example_sq);
      }
      // Bias-free: the bias's gradient is dropped (zeros). Scaled (z = s (h W) + b): dL/dz times s for the weights
      // and the layer below, the bias's from dL/dz itself. Standard: neither, the kernels as they always were.
      const float* bias_grad = shape.bias ? nullptr : work.zeros.data();
      if (!shape.scales.empty()) {
        const float scale = shape.scales[std::size_t(l)];
        if (shape.bias) {
          float* sums_of_delta = work.bias_grad.data();
          for (std::int64_t n = 0; n < fan_out; ++n) sums_of_delta[n] = 0.0f;
          for (std::int64_t m = 0; m < rows; ++m) {
            for (std::int64_t n = 0; n < fan_out; ++n) sums_of_delta[n] += delta[m * fan_out + n];
          }
          bias_grad = sums_of_delta;
        }
        for (std::int64_t i = 0; i < rows * fan_out; ++i) delta[i] *= scale;
      }
      float* gradient_below = l > 0 ? work.back.data() : nullptr;
      if (l == 0 && shape.tokens > 0) {
        token_backward(below, delta, update, offset_params, rows, shape.tokens, fan_in, fan_out, work, bias_grad);
      } else if (rows <= 4 && fan_out % kLanes == 0) {
        static constexpr void (*kSmall[])(const float*, const float*, const float*, float*, Update&, std::int64_t,
                                          std::int64_t, std::int64_t, const float*) = {backward_small<1>, backward_small<2>,
                                                                          backward_small<3>, backward_small<4>};
        kSmall[rows - 1](below, delta, parameters + offset_params, gradient_below, update, offset_params, fan_in, fan_out,
                         bias_grad);
      } else if (fan_out >= kLanes) {
        backward_large(below, delta, parameters + offset_params, gradient_below, update, offset_params, rows, fan_in,
                       fan_out, work, bias_grad);
      } else {  // a narrow layer (the output)
        // The gradient for the layer below first: it needs this layer's weights before their update.
        if (gradient_below) narrow_backward_input(delta, parameters + offset_params, gradient_below, rows, fan_in, fan_out);
        narrow_backward_weights(below, delta, update, offset_params, rows, fan_in, fan_out, work.grad.data(), bias_grad);
      }
      if (l > 0) {
        std::swap(work.delta, work.back);
        delta = work.delta.data();
      }
    }
    if (noise) {
      // delta is the gradient of the batch's mean loss, 1/rows of each example's own: |g_i|^2 = rows^2 x the sums.
      double sum = 0.0;
      for (std::int64_t m = 0; m < rows; ++m) sum += example_sq[m];
      add_noise_terms(sums, rows, double(rows) * sum, update.squared_norm());
    }
  }
}

Evaluation evaluate(const MlpShape& shape, const GroupData& data, const float* parameters, const float* initial,
                    Workspace& work) {
  Evaluation result;
  const std::int64_t inputs = data.inputs, outputs = data.outputs;
  const std::int64_t target_width = shape.loss == LossKind::Regression ? outputs : 1;
  double loss_sum = 0.0, correct = 0.0;
  for (std::int64_t first = 0; first < data.n_test; first += work.rows) {
    const std::int64_t rows = std::min(work.rows, data.n_test - first);
    std::memcpy(work.input.data(), &data.x_test[std::size_t(first * inputs)], sizeof(float) * std::size_t(rows * inputs));
    std::memcpy(work.target.data(), &data.y_test[std::size_t(first * target_width)],
                sizeof(float) * std::size_t(rows * target_width));
    const BatchLoss chunk = loss_of(shape.loss, output_of(shape, parameters, initial, rows, outputs, work),
                                    work.target.data(), rows, outputs, nullptr);
    loss_sum += chunk.loss * double(rows);
    correct += chunk.correct;
  }
  result.loss = loss_sum / double(data.n_test);
  if (shape.loss != LossKind::Regression) result.accuracy = correct / double(data.n_test);
  return result;
}

}  // namespace sweeplab::lean::SWEEPLAB_KERNEL_NAMESPACE
