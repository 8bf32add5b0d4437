// doughnuts, sine2 and csv: points from LibTorch's CPU generator, seeded with task.data_seed (pytorch_random.hpp),
// in the order of the torch calls that made them when the engine drew them with LibTorch, so every dataset keeps
// its bytes; then the split, a permutation from the same generator whose first test_samples() rows are held out.
#include <cmath>

#include "sweeplab/tasks/pytorch_random.hpp"
#include "sweeplab/core/error.hpp"
#include "sweeplab/tasks/csv.hpp"
#include "sweeplab/tasks/tasks.hpp"

namespace sweeplab {
namespace {

// Rows as generated: `width` values a row, and one target per row.
struct Points {
  std::int64_t width = 0;
  std::vector<float> x, y;
};

// Two noisy rings (the doughnut mini-batch study): class 0 on the inner radius, class 1 on the outer, angles
// uniform over 0..4pi, radii with Gaussian noise; x = radius cos(angle), y = radius sin(angle).
Points doughnuts(const TaskConfig& task, tasks::PytorchGenerator& gen) {
  Points points;
  points.width = 2;
  const std::int64_t inner = task.samples / 2, outer = task.samples - inner;
  for (int ring = 0; ring < 2; ++ring) {
    const std::int64_t n = ring == 0 ? inner : outer;
    const auto angles = gen.rand(n);
    const auto noise = gen.randn(n);
    for (std::int64_t i = 0; i < n; ++i) {
      const double angle = angles[std::size_t(i)] * (4.0 * M_PI);
      const double radius = task.radii[std::size_t(ring)] + noise[std::size_t(i)] * task.noise;
      points.x.push_back(float(radius * std::cos(angle)));
      points.x.push_back(float(radius * std::sin(angle)));
      points.y.push_back(float(ring));
    }
  }
  return points;
}

// y = sin(x)^2 plus Gaussian noise, x uniform in x_range (the Intro-to-RL notebook).
Points sine2(const TaskConfig& task, tasks::PytorchGenerator& gen) {
  Points points;
  points.width = 1;
  const double lo = task.x_range[0], hi = task.x_range[1];
  const auto u = gen.rand(task.samples);
  std::vector<double> x(u.size());
  for (std::size_t i = 0; i < u.size(); ++i) x[i] = u[i] * (hi - lo) + lo;
  const auto noise = gen.randn(task.samples);
  for (std::size_t i = 0; i < x.size(); ++i) {
    const double s = std::sin(x[i]);
    points.x.push_back(float(x[i]));
    points.y.push_back(float(s * s + noise[i] * task.noise));
  }
  return points;
}

// A CSV file: integer labels from 0 are classes (two: binary), anything else is regression.
Points csv(const TaskConfig& task, TaskData& data) {
  const CsvData file = read_csv(task.path, task.label_column);
  Points points;
  points.width = std::int64_t(file.feature_names.size());
  points.x.reserve(file.features.size());
  for (const double v : file.features) points.x.push_back(float(v));
  bool integral = true;
  double largest = 0;
  for (const double label : file.labels) {
    integral = integral && label >= 0 && label == std::floor(label) && label < 100000;
    largest = std::max(largest, label);
  }
  for (const double label : file.labels) points.y.push_back(float(label));
  if (!integral) {
    data.loss = LossKind::Regression;
    data.outputs = 1;
  } else {
    const auto classes = std::int64_t(largest) + 1;
    data.loss = classes == 2 ? LossKind::Binary : LossKind::Multiclass;
    data.outputs = classes == 2 ? 1 : classes;
  }
  return points;
}

}  // namespace

TaskData make_generated_task(const TaskConfig& task) {
  tasks::PytorchGenerator gen(static_cast<std::uint64_t>(task.data_seed));
  TaskData data;
  Points points;
  if (task.name == "doughnuts") {
    points = doughnuts(task, gen);
    data.loss = LossKind::Binary;
    data.outputs = 1;
  } else if (task.name == "sine2") {
    points = sine2(task, gen);
    data.loss = LossKind::Regression;
    data.outputs = 1;
  } else if (task.name == "csv") {
    points = csv(task, data);
  } else {
    throw InternalError("make_generated_task: not a task of this kind: " + task.name);
  }
  data.inputs = points.width;
  const auto n = std::int64_t(points.y.size());
  const std::int64_t n_test = task.name == "csv" ? std::llround(double(n) * task.test_fraction) : task.test_samples();
  if (n - n_test < 1) throw UserError(task.path + ": " + std::to_string(n) + " rows leave no training rows after the test split");
  const auto order = gen.randperm(n);
  data.n_test = n_test;
  data.n_train = n - n_test;
  for (std::int64_t k = 0; k < n; ++k) {
    const auto row = std::size_t(order[std::size_t(k)]);
    auto& x = k < n_test ? data.x_test : data.x_train;
    auto& y = k < n_test ? data.y_test : data.y_train;
    x.insert(x.end(), points.x.begin() + std::ptrdiff_t(row * std::size_t(points.width)),
             points.x.begin() + std::ptrdiff_t((row + 1) * std::size_t(points.width)));
    y.push_back(points.y[row]);
  }
  return data;
}

}  // namespace sweeplab
