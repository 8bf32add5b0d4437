#pragma once

namespace sweeplab {

// The loss a task trains with, which follows from its targets.
enum class LossKind {
  Binary,      // one logit, BCE-with-logits; targets {0, 1} (tensors: float, shape [N])
  Multiclass,  // one logit per class, cross-entropy; targets are class indexes (tensors: long, shape [N])
  Regression,  // MSE over every output (tensors: float, shape [N, outputs])
};

}  // namespace sweeplab
