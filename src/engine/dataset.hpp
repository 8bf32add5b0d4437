#pragma once
// A trial's task as the engine trains on it: plain arrays (sweeplab/tasks/tasks.hpp), split into training and test
// rows. No LibTorch here (the synthetic task asks the LibTorch plugin; tensor_dataset.hpp has the tensors of the
// autograd reference).
#include <cstdint>

#include "sweeplab/config/config.hpp"
#include "sweeplab/tasks/tasks.hpp"

namespace sweeplab {

// Generated tasks are a function of task.data_seed alone (teacher: and task.teacher_seed); csv, npz and idx read
// their files. task.binary_loss cross_entropy turns a two-class task into Multiclass with outputs 2 (the labels
// stay 0 and 1).
TaskData make_task_data(const TaskConfig& task);

// A task of this shape with no rows: what shape_of needs (the benchmarks and tests that build shapes by hand).
TaskData dataset_shape(std::int64_t inputs, std::int64_t outputs, LossKind loss, std::int64_t vocabulary = 0);

}  // namespace sweeplab
