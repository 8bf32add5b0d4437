#include "tensor_dataset.hpp"

#include <ATen/CPUGeneratorImpl.h>

#include <cmath>

#include "dataset.hpp"
#include "sweeplab/core/error.hpp"

namespace sweeplab {
namespace {

// [rows, width] float tensor of row-major values (a copy).
torch::Tensor float_rows(const std::vector<float>& values, std::int64_t rows, std::int64_t width) {
  if (rows == 0) return torch::empty({0, width}, torch::kFloat32);
  return torch::from_blob(const_cast<float*>(values.data()), {rows, width}, torch::kFloat32).clone();
}

// The targets as the loss wants them: class indexes (long [N]), {0, 1} (float [N]) or values (float [N, outputs]).
torch::Tensor targets(const std::vector<float>& values, std::int64_t rows, const TaskData& data) {
  if (data.loss == LossKind::Regression) return float_rows(values, rows, data.outputs);
  auto y = float_rows(values, rows, 1).reshape({rows});
  return data.loss == LossKind::Multiclass || data.loss == LossKind::OneHotMse ? y.to(torch::kLong) : y;
}

std::vector<float> floats_of(const torch::Tensor& tensor) {
  const auto values = tensor.to(torch::kFloat32).contiguous();
  return std::vector<float>(values.data_ptr<float>(), values.data_ptr<float>() + values.numel());
}

}  // namespace

Dataset tensors_of(const TaskData& task_data) {
  Dataset data;
  data.loss = task_data.loss;
  data.inputs = task_data.inputs;
  data.outputs = task_data.outputs;
  data.vocabulary = task_data.vocabulary;
  data.x_train = float_rows(task_data.x_train, task_data.n_train, task_data.inputs);
  data.y_train = targets(task_data.y_train, task_data.n_train, task_data);
  data.x_test = float_rows(task_data.x_test, task_data.n_test, task_data.inputs);
  data.y_test = targets(task_data.y_test, task_data.n_test, task_data);
  return data;
}

Dataset make_dataset(const TaskConfig& task) { return tensors_of(make_task_data(task)); }

TaskData synthetic_task_data(const TaskConfig& task) {
  if (task.name != "synthetic") throw InternalError("synthetic_task_data: task " + task.name);
  auto gen = at::make_generator<at::CPUGeneratorImpl>(static_cast<std::uint64_t>(task.data_seed));
  // LibTorch's float64 products (its BLAS) and tanh label the points.
  auto x = torch::randn({task.samples, task.features}, gen, torch::kFloat64);
  auto w1 = torch::randn({task.features, 32}, gen, torch::kFloat64) / std::sqrt(double(task.features));
  auto w2 = torch::randn({32, task.classes}, gen, torch::kFloat64) / std::sqrt(32.0);
  const auto labels = torch::tanh(x.matmul(w1)).matmul(w2).argmax(1);
  const auto points = x.to(torch::kFloat32);

  TaskData data;
  data.loss = task.classes == 2 ? LossKind::Binary : LossKind::Multiclass;
  data.inputs = points.size(1);
  data.outputs = data.loss == LossKind::Multiclass ? task.classes : 1;
  // The split is a function of the data seed too: a shuffled order, the first test_samples() held out.
  const std::int64_t n = points.size(0);
  const std::int64_t n_test = task.test_samples();
  if (n - n_test < 1) throw UserError(task.path + ": " + std::to_string(n) + " rows leave no training rows after the test split");
  auto order = torch::randperm(n, gen, torch::kLong);
  auto test_index = order.slice(0, 0, n_test), train_index = order.slice(0, n_test, n);
  data.n_train = n - n_test;
  data.n_test = n_test;
  data.x_train = floats_of(points.index_select(0, train_index));
  data.y_train = floats_of(labels.index_select(0, train_index));
  data.x_test = floats_of(points.index_select(0, test_index));
  data.y_test = floats_of(labels.index_select(0, test_index));
  return data;
}

}  // namespace sweeplab
