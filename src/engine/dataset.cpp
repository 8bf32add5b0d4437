#include "dataset.hpp"

#include <ATen/CPUGeneratorImpl.h>

#include <cmath>
#include <set>

#include "sweeplab/core/error.hpp"
#include "sweeplab/tasks/csv.hpp"
#include "sweeplab/tasks/tasks.hpp"

namespace sweeplab {
namespace {

struct Points {
  torch::Tensor x, y;
};

// Two noisy rings (the doughnut mini-batch study): class 0 on the inner radius, class 1 on the outer; angles uniform over 0..4pi.
Points doughnuts(const TaskConfig& task, torch::Generator& gen) {
  const std::int64_t inner = task.samples / 2, outer = task.samples - inner;
  std::vector<torch::Tensor> xs, ys;
  for (int ring = 0; ring < 2; ++ring) {
    const std::int64_t n = ring == 0 ? inner : outer;
    auto angle = torch::rand({n}, gen, torch::kFloat64) * (4.0 * M_PI);
    auto radius = task.radii[ring] + task.noise * torch::randn({n}, gen, torch::kFloat64);
    xs.push_back(torch::stack({radius * torch::cos(angle), radius * torch::sin(angle)}, 1));
    ys.push_back(torch::full({n}, double(ring), torch::kFloat64));
  }
  return {torch::cat(xs).to(torch::kFloat32), torch::cat(ys).to(torch::kFloat32)};
}

// y = sin(x)^2 (+ Gaussian noise), x uniform in x_range (the Intro-to-RL notebook).
Points sine2(const TaskConfig& task, torch::Generator& gen) {
  const double lo = task.x_range[0], hi = task.x_range[1];
  auto x = lo + (hi - lo) * torch::rand({task.samples, 1}, gen, torch::kFloat64);
  auto y = torch::sin(x).pow(2) + task.noise * torch::randn({task.samples, 1}, gen, torch::kFloat64);
  return {x.to(torch::kFloat32), y.to(torch::kFloat32)};
}

// Gaussian inputs labelled by a random teacher MLP (d -> 32 tanh -> classes), argmax (the sanity checks).
Points synthetic(const TaskConfig& task, torch::Generator& gen) {
  auto x = torch::randn({task.samples, task.features}, gen, torch::kFloat64);
  auto w1 = torch::randn({task.features, 32}, gen, torch::kFloat64) / std::sqrt(double(task.features));
  auto w2 = torch::randn({32, task.classes}, gen, torch::kFloat64) / std::sqrt(32.0);
  auto labels = torch::tanh(x.matmul(w1)).matmul(w2).argmax(1);
  return {x.to(torch::kFloat32), labels};
}

Points csv(const TaskConfig& task, LossKind& loss, std::int64_t& classes) {
  const CsvData data = read_csv(task.path, task.label_column);
  const auto rows = std::int64_t(data.rows()), columns = std::int64_t(data.feature_names.size());
  auto x = torch::tensor(data.features, torch::kFloat64).reshape({rows, columns}).to(torch::kFloat32);
  bool integral = true;
  double largest = 0;
  for (double label : data.labels) {
    integral = integral && label >= 0 && label == std::floor(label) && label < 100000;
    largest = std::max(largest, label);
  }
  auto labels = torch::tensor(data.labels, torch::kFloat64);
  if (!integral) {  // non-integer labels: regression
    loss = LossKind::Regression;
    return {x, labels.reshape({rows, 1}).to(torch::kFloat32)};
  }
  classes = std::int64_t(largest) + 1;
  loss = classes == 2 ? LossKind::Binary : LossKind::Multiclass;
  return {x, loss == LossKind::Binary ? labels.to(torch::kFloat32) : labels.to(torch::kLong)};
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
  return two_logits(task, make_generated_dataset(task));
}

namespace {

// doughnuts, sine2, synthetic, csv: LibTorch's generator (the numbers of the earlier issues).
Dataset make_generated_dataset(const TaskConfig& task) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(static_cast<std::uint64_t>(task.data_seed));
  Dataset data;
  Points points;
  std::int64_t classes = task.classes;
  if (task.name == "doughnuts") {
    points = doughnuts(task, gen);
    data.loss = LossKind::Binary;
  } else if (task.name == "sine2") {
    points = sine2(task, gen);
    data.loss = LossKind::Regression;
  } else if (task.name == "synthetic") {
    points = synthetic(task, gen);
    data.loss = classes == 2 ? LossKind::Binary : LossKind::Multiclass;
    if (data.loss == LossKind::Binary) points.y = points.y.to(torch::kFloat32);
  } else if (task.name == "csv") {
    points = csv(task, data.loss, classes);
  } else {
    throw InternalError("make_dataset: unknown task " + task.name);
  }
  data.inputs = points.x.size(1);
  data.outputs = data.loss == LossKind::Multiclass ? classes : 1;

  // The split is a function of the data seed too: a shuffled order, the first test_samples() held out.
  const std::int64_t n = points.x.size(0);
  const std::int64_t n_test = task.name == "csv" ? std::llround(double(n) * task.test_fraction) : task.test_samples();
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
