#pragma once
// Datasets as tensors (LibTorch: include only from src/engine and its tests).
#include <torch/torch.h>

#include "sweeplab/config/config.hpp"
#include "sweeplab/tasks/loss_kind.hpp"

namespace sweeplab {

struct Dataset {
  torch::Tensor x_train, y_train, x_test, y_test;
  LossKind loss = LossKind::Binary;
  std::int64_t inputs = 0, outputs = 0;  // inputs: values per row (token indices when vocabulary > 0)
  std::int64_t vocabulary = 0;  // > 0 (algorithmic tasks): x holds token indices, the model's input is their one-hot
};

// Generated tasks are a function of task.data_seed alone (teacher: and task.teacher_seed); csv and npz read
// task.path. task.binary_loss cross_entropy turns a two-class task into Multiclass with outputs 2.
Dataset make_dataset(const TaskConfig& task);

// A dataset of this shape with no rows: what shape_of needs (the benchmarks and tests that build shapes by hand).
Dataset dataset_shape(std::int64_t inputs, std::int64_t outputs, LossKind loss, std::int64_t vocabulary = 0);

}  // namespace sweeplab
