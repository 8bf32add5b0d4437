#pragma once
// Tasks as tensors, for the autograd reference the tests hold the engine to, and the synthetic task, which is made
// with LibTorch (LibTorch: the plugin and tests only).
#include <torch/torch.h>

#include "sweeplab/config/config.hpp"
#include "sweeplab/tasks/tasks.hpp"

namespace sweeplab {

struct Dataset {
  torch::Tensor x_train, y_train, x_test, y_test;  // targets: class indexes (long [N]), {0, 1} (float [N]), or values
  LossKind loss = LossKind::Binary;
  std::int64_t inputs = 0, outputs = 0;  // inputs: values per row (token indices when vocabulary > 0)
  std::int64_t vocabulary = 0;  // > 0 (algorithmic tasks): x holds token indices, the model's input is their one-hot
};

// make_task_data (dataset.hpp) as tensors.
Dataset make_dataset(const TaskConfig& task);
Dataset tensors_of(const TaskData& data);

// synthetic: Gaussian inputs labelled by a random teacher MLP (d -> 32 tanh -> classes, argmax), drawn from
// LibTorch's CPU generator seeded with task.data_seed, split by a permutation from the same generator (the first
// task.test_samples() rows held out).
TaskData synthetic_task_data(const TaskConfig& task);

}  // namespace sweeplab
