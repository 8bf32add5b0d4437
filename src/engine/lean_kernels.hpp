#pragma once
// The lean CPU step: forward, hand-derived backward and optimizer update of one small MLP, on plain float
// arrays. No LibTorch and no allocation per step. lean_kernels.cpp is compiled twice, for any x86-64
// (namespace base) and for AVX+FMA (namespace fma); lean_math.cpp picks one at run time.
//
// `initial`: theta_0 when shape.centered (its output is subtracted from the output), else unused.
//
// Every sum runs in a fixed order that depends only on the layer sizes, never on the batch's position,
// on the trial's group or on the segment boundaries: a trial's numbers are the same however it is run. The
// products of large batches go to the system BLAS (Workspace::sgemm), single-threaded, whose order is fixed by
// the shapes too.
#include <cstdint>
#include <vector>

#include "blas.hpp"
#include "group_math.hpp"

namespace sweeplab::lean {

// Scratch for one trial at a time: activations of every layer for up to `rows` rows.
struct Workspace {
  std::int64_t rows = 0;
  std::vector<float> pre, post;    // z and act(z) per layer, [rows x width] blocks one after another
  std::vector<float> delta, back;  // dL/dz of the current layer and of the one below, [rows x widest]
  std::vector<float> grad;         // a layer's gradient (P floats)
  std::vector<float> transposed;   // a layer's weights or inputs, transposed
  std::vector<float> zeros;        // a zero bias, [widest]
  std::vector<float> input;        // the batch's rows, [rows x inputs]
  std::vector<float> target;       // [rows x outputs]
  std::vector<float> bias_grad;    // a layer's bias gradient when it is formed apart (scaled layers with bias), [widest]
  std::vector<float> centred;      // centred output: f(theta_0), then f(theta) - f(theta_0), [rows x outputs]
  std::vector<double> example_sq;  // noise scale: each row's squared gradient norm, summed over the layers, [rows]
  std::vector<unsigned char> touched;  // token inputs: the vocabulary rows a batch uses, [widths[0]]
  // The system BLAS's sgemm for the products of batches of at least blas_rows rows (layers of eight outputs or
  // more); nullptr: the kernels' own products for every batch. Which one runs depends only on a product's
  // shape, so a trial's numbers stay the same however it is grouped, segmented or resumed.
  blas::Sgemm sgemm = nullptr;
  std::int64_t blas_rows = 0;
  Workspace(const MlpShape& shape, std::int64_t rows);
};

#define SWEEPLAB_DECLARE_KERNELS(ns)                                                                          \
  namespace ns {                                                                                              \
  void train_segment(const MlpShape& shape, const GroupData& data, const TrialHyper& hyper, const Segment& segment, \
                     float* parameters, float* optimizer_state, const float* initial, Accumulators& sums,      \
                     Workspace& work);                                                                        \
  Evaluation evaluate(const MlpShape& shape, const GroupData& data, const float* parameters, const float* initial, \
                      Workspace& work);                                                                       \
  }
SWEEPLAB_DECLARE_KERNELS(base)
SWEEPLAB_DECLARE_KERNELS(fma)
#undef SWEEPLAB_DECLARE_KERNELS

}  // namespace sweeplab::lean
