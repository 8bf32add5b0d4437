#pragma once

namespace sweeplab {

// The loss a task trains with, which follows from its targets.
enum class LossKind {
  Binary,      // one logit, BCE-with-logits; targets {0, 1} (tensors: float, shape [N])
  Multiclass,  // one logit per class, cross-entropy; targets are class indexes (tensors: long, shape [N])
  Regression,  // MSE over every output (tensors: float, shape [N, outputs])
  // One output per class, MSE against the one-hot target: the mean over rows and classes of (o_c - [c == y])^2,
  // batch_size_studies' MNIST loss; accuracy from the argmax. Targets are class indexes, as for Multiclass.
  OneHotMse,
};

}  // namespace sweeplab
