#include "dataset.hpp"

#include <ATen/CPUGeneratorImpl.h>

#include <cmath>

#include "sweeplab/core/error.hpp"
#include "sweeplab/tasks/tasks.hpp"

namespace sweeplab {
namespace {

struct Points {
  torch::Tensor x, y;
};

// Gaussian inputs labelled by a random teacher MLP (d -> 32 tanh -> classes), argmax (the sanity checks).
Points synthetic(const TaskConfig& task, torch::Generator& gen) {
  auto x = torch::randn({task.samples, task.features}, gen, torch::kFloat64);
  auto w1 = torch::randn({task.features, 32}, gen, torch::kFloat64) / std::sqrt(double(task.features));
  auto w2 = torch::randn({32, task.classes}, gen, torch::kFloat64) / std::sqrt(32.0);
  auto labels = torch::tanh(x.matmul(w1)).matmul(w2).argmax(1);
  return {x.to(torch::kFloat32), labels};
}

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

// The plain-array tasks (src/tasks): already split.
Dataset from_task_data(const TaskData& task_data) {
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

// task.binary_loss cross_entropy (the sanity checks): a two-class task trains two logits with cross-entropy, like
// PyTorch's Linear(..., 2) + CrossEntropyLoss: Multiclass, outputs 2, long labels.
Dataset two_logits(const TaskConfig& task, Dataset data) {
  if (task.binary_loss != "cross_entropy" || data.loss != LossKind::Binary) return data;
  data.loss = LossKind::Multiclass;
  data.outputs = 2;
  data.y_train = data.y_train.to(torch::kLong);
  data.y_test = data.y_test.to(torch::kLong);
  return data;
}

Dataset make_generated_dataset(const TaskConfig& task);

}  // namespace

Dataset make_dataset(const TaskConfig& task) {
  if (is_algorithmic_task(task.name)) return from_task_data(make_algorithmic_task(task));
  if (task.name == "teacher") return from_task_data(make_teacher_task(task));
  if (task.name == "npz") return two_logits(task, from_task_data(read_npz_task(task)));
  if (task.name == "idx") return from_task_data(read_idx_task(task));
  if (task.name == "doughnuts" || task.name == "sine2" || task.name == "csv") {
    return two_logits(task, from_task_data(make_generated_task(task)));
  }
  return two_logits(task, make_generated_dataset(task));
}

Dataset dataset_shape(std::int64_t inputs, std::int64_t outputs, LossKind loss, std::int64_t vocabulary) {
  Dataset data;
  data.inputs = inputs;
  data.outputs = outputs;
  data.loss = loss;
  data.vocabulary = vocabulary;
  return data;
}

namespace {

// synthetic: LibTorch's generator, matrix products and tanh (its labels come from float64 products in the BLAS).
Dataset make_generated_dataset(const TaskConfig& task) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(static_cast<std::uint64_t>(task.data_seed));
  Dataset data;
  if (task.name != "synthetic") throw InternalError("make_dataset: unknown task " + task.name);
  const std::int64_t classes = task.classes;
  Points points = synthetic(task, gen);
  data.loss = classes == 2 ? LossKind::Binary : LossKind::Multiclass;
  if (data.loss == LossKind::Binary) points.y = points.y.to(torch::kFloat32);
  data.inputs = points.x.size(1);
  data.outputs = data.loss == LossKind::Multiclass ? classes : 1;

  // The split is a function of the data seed too: a shuffled order, the first test_samples() held out.
  const std::int64_t n = points.x.size(0);
  const std::int64_t n_test = task.test_samples();
  if (n - n_test < 1) throw UserError(task.path + ": " + std::to_string(n) + " rows leave no training rows after the test split");
  auto order = torch::randperm(n, gen, torch::kLong);
  auto test_index = order.slice(0, 0, n_test), train_index = order.slice(0, n_test, n);
  data.x_train = points.x.index_select(0, train_index).contiguous();
  data.y_train = points.y.index_select(0, train_index).contiguous();
  data.x_test = points.x.index_select(0, test_index).contiguous();
  data.y_test = points.y.index_select(0, test_index).contiguous();
  return data;
}

}  // namespace
}  // namespace sweeplab
