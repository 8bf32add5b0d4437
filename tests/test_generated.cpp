// make_generated_task (doughnuts, sine2, csv) against the LibTorch recipe that made these datasets before it, kept
// here as the reference: the same rows in the same order, bit for bit, for several seeds and sizes (tiny and odd
// sizes take LibTorch's other normal path), and the same split.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <ATen/CPUGeneratorImpl.h>

#include <cmath>
#include <cstring>

#include "sweeplab/tasks/tasks.hpp"
#include "test_util.hpp"

namespace sweeplab {
namespace {

struct Split {
  torch::Tensor x_train, y_train, x_test, y_test;
};

// The reference: the torch calls, in order, then randperm from the same generator; the first n_test rows held out.
Split split(const torch::Tensor& x, const torch::Tensor& y, std::int64_t n_test, torch::Generator& gen) {
  const std::int64_t n = x.size(0);
  auto order = torch::randperm(n, gen, torch::kLong);
  auto test = order.slice(0, 0, n_test), train = order.slice(0, n_test, n);
  return {x.index_select(0, train).contiguous(), y.index_select(0, train).contiguous(), x.index_select(0, test).contiguous(),
          y.index_select(0, test).contiguous()};
}

Split doughnuts_reference(const TaskConfig& task) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(static_cast<std::uint64_t>(task.data_seed));
  const std::int64_t inner = task.samples / 2, outer = task.samples - inner;
  std::vector<torch::Tensor> xs, ys;
  for (int ring = 0; ring < 2; ++ring) {
    const std::int64_t n = ring == 0 ? inner : outer;
    auto angle = torch::rand({n}, gen, torch::kFloat64) * (4.0 * M_PI);
    auto radius = task.radii[std::size_t(ring)] + task.noise * torch::randn({n}, gen, torch::kFloat64);
    xs.push_back(torch::stack({radius * torch::cos(angle), radius * torch::sin(angle)}, 1));
    ys.push_back(torch::full({n}, double(ring), torch::kFloat64));
  }
  return split(torch::cat(xs).to(torch::kFloat32), torch::cat(ys).to(torch::kFloat32), task.test_samples(), gen);
}

Split sine2_reference(const TaskConfig& task) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(static_cast<std::uint64_t>(task.data_seed));
  const double lo = task.x_range[0], hi = task.x_range[1];
  auto x = lo + (hi - lo) * torch::rand({task.samples, 1}, gen, torch::kFloat64);
  auto y = torch::sin(x).pow(2) + task.noise * torch::randn({task.samples, 1}, gen, torch::kFloat64);
  return split(x.to(torch::kFloat32), y.to(torch::kFloat32), task.test_samples(), gen);
}

::testing::AssertionResult same_floats(const torch::Tensor& want, const std::vector<float>& got) {
  const auto values = want.to(torch::kFloat32).contiguous();
  if (std::size_t(values.numel()) != got.size()) {
    return ::testing::AssertionFailure() << got.size() << " values, LibTorch's recipe " << values.numel();
  }
  for (std::size_t i = 0; i < got.size(); ++i) {
    if (std::memcmp(values.data_ptr<float>() + i, &got[i], sizeof(float)) != 0) {
      return ::testing::AssertionFailure() << "value " << i << ": " << got[i] << ", LibTorch's recipe "
                                           << values.data_ptr<float>()[i];
    }
  }
  return ::testing::AssertionSuccess();
}

void expect_same(const Split& want, const TaskData& got, const std::string& what) {
  EXPECT_EQ(got.n_train, want.x_train.size(0)) << what;
  EXPECT_EQ(got.n_test, want.x_test.size(0)) << what;
  EXPECT_TRUE(same_floats(want.x_train, got.x_train)) << what << ": x_train";
  EXPECT_TRUE(same_floats(want.y_train, got.y_train)) << what << ": y_train";
  EXPECT_TRUE(same_floats(want.x_test, got.x_test)) << what << ": x_test";
  EXPECT_TRUE(same_floats(want.y_test, got.y_test)) << what << ": y_test";
}

TEST(GeneratedTasks, DoughnutsAreLibTorchsRecipeBitForBit) {
  for (const std::int64_t seed : {0, 1, 2, 42}) {
    for (const std::int64_t samples : {2000, 400, 33, 10}) {
      TaskConfig task;
      task.name = "doughnuts";
      task.data_seed = seed;
      task.samples = samples;
      const TaskData got = make_generated_task(task);
      EXPECT_EQ(got.loss, LossKind::Binary);
      EXPECT_EQ(got.inputs, 2);
      expect_same(doughnuts_reference(task), got, "seed " + std::to_string(seed) + ", " + std::to_string(samples) + " samples");
    }
  }
}

TEST(GeneratedTasks, Sine2IsLibTorchsRecipeBitForBit) {
  for (const std::int64_t seed : {0, 3}) {
    for (const std::int64_t samples : {1000, 37, 12}) {
      TaskConfig task;
      task.name = "sine2";
      task.data_seed = seed;
      task.samples = samples;
      task.noise = 0.1;
      const TaskData got = make_generated_task(task);
      EXPECT_EQ(got.loss, LossKind::Regression);
      expect_same(sine2_reference(task), got, "seed " + std::to_string(seed) + ", " + std::to_string(samples) + " samples");
    }
  }
}

TEST(GeneratedTasks, CsvRowsAreSplitByLibTorchsPermutation) {
  testing::TempDir dir;
  std::string text = "a,b,label\n";
  for (int i = 0; i < 23; ++i) text += std::to_string(i) + "," + std::to_string(0.5 * i) + "," + std::to_string(i % 3) + "\n";
  dir.write("data.csv", text);
  TaskConfig task;
  task.name = "csv";
  task.path = dir.str("data.csv");
  task.label_column = "label";
  task.data_seed = 5;
  task.test_fraction = 0.2;
  const TaskData got = make_generated_task(task);
  EXPECT_EQ(got.loss, LossKind::Multiclass);
  EXPECT_EQ(got.outputs, 3);
  ASSERT_EQ(got.n_test, 5);  // round(23 x 0.2)
  ASSERT_EQ(got.n_train, 18);
  auto gen = at::make_generator<at::CPUGeneratorImpl>(5);
  const auto order = torch::randperm(23, gen, torch::kLong);
  for (std::int64_t k = 0; k < 23; ++k) {
    const auto row = order[k].item<std::int64_t>();
    const auto& x = k < 5 ? got.x_test : got.x_train;
    const auto& y = k < 5 ? got.y_test : got.y_train;
    const std::size_t at = std::size_t(k < 5 ? k : k - 5);
    EXPECT_EQ(x[2 * at], float(row)) << k;
    EXPECT_EQ(x[2 * at + 1], float(0.5 * double(row))) << k;
    EXPECT_EQ(y[at], float(row % 3)) << k;
  }
}

}  // namespace
}  // namespace sweeplab
