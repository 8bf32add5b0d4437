// The research tasks and .npz files (src/tasks): algorithmic tasks, teacher-student streams,
// .npz reading and its errors, and the sanity checks' two logits.
#include <gtest/gtest.h>
#include <zip.h>

#include <array>
#include <chrono>
#include <cmath>
#include <cstring>
#include <functional>
#include <map>
#include <set>

#include "engine/dataset.hpp"
#include "engine/tensor_dataset.hpp"
#include "sweeplab/core/error.hpp"
#include "sweeplab/tasks/tasks.hpp"
#include "test_util.hpp"

namespace sweeplab {
namespace {

using testing::TempDir;

// ---- algorithmic tasks (the batch-size grokking study) ----------------------------------------------------------------------

TaskConfig algorithmic(const std::string& name, std::int64_t p = 7, double fraction = 0.5, std::int64_t seed = 0) {
  TaskConfig task;
  task.name = name;
  task.modulus = p;
  task.train_fraction = fraction;
  task.data_seed = seed;
  task.validate();
  return task;
}

// (a, b token, result) of every row, train then test.
std::vector<std::array<std::int64_t, 3>> rows_of(const TaskData& data) {
  std::vector<std::array<std::int64_t, 3>> rows;
  for (int part = 0; part < 2; ++part) {
    const auto& x = part == 0 ? data.x_train : data.x_test;
    const auto& y = part == 0 ? data.y_train : data.y_test;
    for (std::size_t i = 0; i < y.size(); ++i) {
      rows.push_back({std::int64_t(x[2 * i]), std::int64_t(x[2 * i + 1]), std::int64_t(y[i])});
    }
  }
  return rows;
}

std::int64_t result_of(const TaskData& data, std::int64_t a, std::int64_t b) {
  const std::int64_t half = data.vocabulary / 2;
  for (const auto& row : rows_of(data)) {
    if (row[0] == a && row[1] == half + b) return row[2];
  }
  return -1;
}

TEST(Algorithmic, CountsShapesAndEveryPairExactlyOnce) {
  const std::map<std::string, std::int64_t> pairs = {
      {"x_plus_y", 49}, {"x_minus_y", 49}, {"x_div_y", 42}, {"permutation", 14400}};
  for (const auto& [name, count] : pairs) {
    SCOPED_TRACE(name);
    for (const double fraction : {0.3, 0.5}) {
      const auto task = algorithmic(name, 7, fraction);
      const auto data = make_algorithmic_task(task);
      const std::int64_t p = name == "permutation" ? 120 : 7;
      EXPECT_EQ(task.pair_count(), count);
      EXPECT_EQ(data.n_train, std::llround(double(count) * fraction));
      EXPECT_EQ(data.n_train + data.n_test, count);
      EXPECT_EQ(data.loss, LossKind::Multiclass);
      EXPECT_EQ(data.inputs, 2);
      EXPECT_EQ(data.vocabulary, 2 * p);
      EXPECT_EQ(data.outputs, p);
      EXPECT_EQ(data.x_train.size(), std::size_t(2 * data.n_train));
      EXPECT_EQ(data.y_train.size(), std::size_t(data.n_train));
      EXPECT_EQ(data.x_test.size(), std::size_t(2 * data.n_test));
      EXPECT_EQ(data.y_test.size(), std::size_t(data.n_test));
      std::set<std::pair<std::int64_t, std::int64_t>> seen;
      for (const auto& [a, b, result] : rows_of(data)) {
        EXPECT_TRUE(a >= 0 && a < p) << a;
        EXPECT_TRUE(b >= p && b < 2 * p) << b;  // b's tokens follow a's
        EXPECT_TRUE(result >= 0 && result < p) << result;
        if (name == "x_div_y") {
          EXPECT_NE(b, p) << "division by 0";
        }
        seen.insert({a, b});
      }
      EXPECT_EQ(std::int64_t(seen.size()), count) << "a pair is missing or repeated";
    }
  }
}

TEST(Algorithmic, KnownValuesModSeven) {
  EXPECT_EQ(result_of(make_algorithmic_task(algorithmic("x_div_y")), 5, 3), 4);    // 3 * 4 = 12 = 5 mod 7
  EXPECT_EQ(result_of(make_algorithmic_task(algorithmic("x_minus_y")), 3, 5), 5);  // -2 = 5 mod 7
  EXPECT_EQ(result_of(make_algorithmic_task(algorithmic("x_plus_y")), 4, 6), 3);   // 10 = 3 mod 7
  // Every row against the definition.
  for (const std::string name : {"x_plus_y", "x_minus_y", "x_div_y"}) {
    const auto data = make_algorithmic_task(algorithmic(name, 11));
    for (const auto& [a, token, result] : rows_of(data)) {
      const std::int64_t b = token - 11;
      if (name == "x_plus_y") {
        EXPECT_EQ(result, (a + b) % 11);
      }
      if (name == "x_minus_y") {
        EXPECT_EQ((result + b) % 11, a);
      }
      if (name == "x_div_y") {
        EXPECT_EQ(result * b % 11, a);
      }
    }
  }
}

// The index of a permutation of 0..4 in lexicographic order (Lehmer code), computed independently here.
std::int64_t lexicographic_index(const std::array<int, 5>& p) {
  static const int factorial[5] = {24, 6, 2, 1, 1};
  std::int64_t index = 0;
  for (int i = 0; i < 5; ++i) {
    for (int j = i + 1; j < 5; ++j) index += p[std::size_t(j)] < p[std::size_t(i)] ? factorial[i] : 0;
  }
  return index;
}

std::array<int, 5> permutation_at(std::int64_t index) {
  std::array<int, 5> p = {0, 1, 2, 3, 4};
  for (std::int64_t i = 0; i < index; ++i) std::next_permutation(p.begin(), p.end());
  return p;
}

TEST(Algorithmic, PermutationCompositionAppliesTheRightOperandFirst) {
  const auto data = make_algorithmic_task(algorithmic("permutation"));
  // a = (1 2 3 4 0) (i -> i + 1 mod 5), b = (0 2 1 3 4) (swaps 1 and 2); a o b (i) = a(b(i)) = (1 3 2 4 0).
  // Lexicographic indexes: a = 1*24 + 1*6 + 1*2 + 1*1 = 33, b = 1*6 = 6, a o b = 1*24 + 2*6 + 1*2 + 1*1 = 39.
  // (b o a = (2 1 3 4 0) = 2*24 + 1*6 + 1*2 + 1*1 = 57 would be the other convention.)
  EXPECT_EQ(lexicographic_index({1, 2, 3, 4, 0}), 33);
  EXPECT_EQ(lexicographic_index({0, 2, 1, 3, 4}), 6);
  EXPECT_EQ(lexicographic_index({1, 3, 2, 4, 0}), 39);
  EXPECT_EQ(result_of(data, 33, 6), 39);
  EXPECT_EQ(result_of(data, 6, 33), 57);
  EXPECT_EQ(result_of(data, 0, 77), 77);    // the identity is index 0
  EXPECT_EQ(result_of(data, 119, 119), 0);  // (4 3 2 1 0) is its own inverse
  // Every row: a(b(i)).
  for (const auto& [a, token, result] : rows_of(data)) {
    const auto pa = permutation_at(a), pb = permutation_at(token - 120);
    std::array<int, 5> composed{};
    for (std::size_t i = 0; i < 5; ++i) composed[i] = pa[std::size_t(pb[i])];
    ASSERT_EQ(result, lexicographic_index(composed)) << a << " o " << token - 120;
  }
}

TEST(Algorithmic, TheSplitIsAFunctionOfTheDataSeed) {
  const auto first = make_algorithmic_task(algorithmic("x_plus_y", 97, 0.5, 3));
  const auto again = make_algorithmic_task(algorithmic("x_plus_y", 97, 0.5, 3));
  const auto other = make_algorithmic_task(algorithmic("x_plus_y", 97, 0.5, 4));
  EXPECT_EQ(first.x_train, again.x_train);
  EXPECT_EQ(first.y_test, again.y_test);
  EXPECT_NE(first.x_train, other.x_train);
  // Not just another order: another set of training pairs.
  std::set<std::pair<float, float>> a, b;
  for (std::size_t i = 0; i < first.y_train.size(); ++i) a.insert({first.x_train[2 * i], first.x_train[2 * i + 1]});
  for (std::size_t i = 0; i < other.y_train.size(); ++i) b.insert({other.x_train[2 * i], other.x_train[2 * i + 1]});
  EXPECT_NE(a, b);
}

TEST(Algorithmic, DatasetHoldsTokenIndexesAndLongLabels) {
  const auto data = make_dataset(algorithmic("x_div_y", 13, 0.4));
  EXPECT_EQ(data.loss, LossKind::Multiclass);
  EXPECT_EQ(data.vocabulary, 26);
  EXPECT_EQ(data.inputs, 2);
  EXPECT_EQ(data.outputs, 13);
  EXPECT_EQ(data.x_train.sizes(), (std::vector<std::int64_t>{std::llround(13 * 12 * 0.4), 2}));
  EXPECT_EQ(data.x_train.scalar_type(), torch::kFloat32);
  EXPECT_EQ(data.y_train.scalar_type(), torch::kLong);
  EXPECT_EQ(data.x_test.size(0) + data.x_train.size(0), 13 * 12);
  EXPECT_EQ(data.y_test.dim(), 1);
}

// ---- teacher-student regression (batch_size_studies) -------------------------------------------------------------

TaskConfig teacher(const std::string& kind, std::int64_t d = 20, std::int64_t samples = 1000) {
  TaskConfig task;
  task.name = "teacher";
  task.teacher = kind;
  task.features = d;
  task.samples = samples;
  task.test_fraction = 0.2;
  task.validate();
  return task;
}

// x (count x inputs) and y of rows first .. first + count - 1 of the stream.
std::pair<std::vector<float>, std::vector<float>> stream_rows(const TeacherStream& stream, std::int64_t first,
                                                              std::int64_t count) {
  std::vector<float> x(static_cast<std::size_t>(count * stream.inputs())), y(static_cast<std::size_t>(count));
  stream.rows(first, count, x.data(), y.data());
  return {x, y};
}

torch::Tensor matrix(const std::vector<float>& values, std::int64_t columns) {
  return torch::tensor(values, torch::kFloat64).reshape({-1, columns});
}

double correlation(const torch::Tensor& a, const torch::Tensor& b) {
  const auto ca = a - a.mean(), cb = b - b.mean();
  return ((ca * cb).sum() / (ca.pow(2).sum().sqrt() * cb.pow(2).sum().sqrt())).item<double>();
}

// Least squares y ~ x w; returns w and the largest residual.
std::pair<torch::Tensor, double> fit_linear(const torch::Tensor& x, const torch::Tensor& y) {
  const auto w = torch::linalg::solve(x.t().matmul(x), x.t().matmul(y.reshape({-1, 1})), true);
  const double residual = (x.matmul(w).reshape({-1}) - y.reshape({-1})).abs().max().item<double>();
  return {w.reshape({-1}), residual};
}

TEST(Teacher, FixedDataShapesAndDeterminism) {
  for (const std::string kind : {"poly", "mlp", "linear"}) {
    SCOPED_TRACE(kind);
    const auto task = teacher(kind);
    const auto data = make_teacher_task(task);
    EXPECT_EQ(data.loss, LossKind::Regression);
    EXPECT_EQ(data.inputs, 20);
    EXPECT_EQ(data.outputs, 1);
    EXPECT_EQ(data.vocabulary, 0);
    EXPECT_EQ(data.n_train, 800);
    EXPECT_EQ(data.n_test, 200);
    EXPECT_EQ(data.x_train.size(), 800u * 20u);
    EXPECT_EQ(data.y_train.size(), 800u);
    EXPECT_EQ(data.x_test.size(), 200u * 20u);
    EXPECT_EQ(data.y_test.size(), 200u);
    const auto again = make_teacher_task(task);
    EXPECT_EQ(data.x_train, again.x_train);
    EXPECT_EQ(data.y_train, again.y_train);
    EXPECT_EQ(data.y_test, again.y_test);

    auto other_data = task;
    other_data.data_seed = 1;
    const auto moved = make_teacher_task(other_data);
    EXPECT_NE(moved.x_train, data.x_train);
    auto other_teacher = task;
    other_teacher.teacher_seed = 1;
    const auto relabelled = make_teacher_task(other_teacher);
    EXPECT_EQ(relabelled.x_train, data.x_train) << "the teacher's seed must not move the inputs";
    if (kind != "linear") {
      EXPECT_NE(relabelled.y_train, data.y_train);
    }  // linear: no random weights
  }
}

TEST(Teacher, StreamRowsDoNotDependOnHowTheyAreCut) {
  for (const std::string kind : {"poly", "mlp", "linear"}) {
    SCOPED_TRACE(kind);
    auto task = teacher(kind, 7);
    task.label_noise = kind == "linear" ? 0.3 : 0.0;
    const TeacherStream stream(task);
    ASSERT_EQ(stream.inputs(), 7);
    const auto whole = stream_rows(stream, 0, 10);
    const auto head = stream_rows(stream, 0, 4), tail = stream_rows(stream, 4, 6);
    std::vector<float> x = head.first, y = head.second;
    x.insert(x.end(), tail.first.begin(), tail.first.end());
    y.insert(y.end(), tail.second.begin(), tail.second.end());
    EXPECT_EQ(x, whole.first);
    EXPECT_EQ(y, whole.second);
    const auto single = stream_rows(stream, 7, 1);  // row 7 alone, far from the start
    EXPECT_EQ(single.second[0], whole.second[7]);
    EXPECT_NE(whole.first[0], whole.first[7]);
    // Another stream object of the same task draws the same; another data seed does not.
    EXPECT_EQ(stream_rows(TeacherStream(task), 0, 10), whole);
    auto moved = task;
    moved.data_seed = 5;
    EXPECT_NE(stream_rows(TeacherStream(moved), 0, 10).first, whole.first);
  }
}

TEST(Teacher, FixedTrainingSetIsTheStreamsStartAndNeverMeetsTheTestSet) {
  auto task = teacher("mlp", 5, 3000);
  const auto fixed = make_teacher_task(task);
  const auto stream = stream_rows(TeacherStream(task), 0, fixed.n_train);
  EXPECT_EQ(stream.first, fixed.x_train);
  EXPECT_EQ(stream.second, fixed.y_train);
  std::set<std::vector<float>> train;
  for (std::int64_t i = 0; i < fixed.n_train; ++i) {
    train.insert(std::vector<float>(fixed.x_train.begin() + i * 5, fixed.x_train.begin() + (i + 1) * 5));
  }
  EXPECT_EQ(std::int64_t(train.size()), fixed.n_train);
  for (std::int64_t i = 0; i < fixed.n_test; ++i) {
    const std::vector<float> row(fixed.x_test.begin() + i * 5, fixed.x_test.begin() + (i + 1) * 5);
    ASSERT_EQ(train.count(row), 0u) << "test row " << i << " is also a training row";
  }
  // Online: no training rows, the same test set; the stream goes on past the fixed set with new rows.
  task.online = true;
  const auto online = make_teacher_task(task);
  EXPECT_EQ(online.n_train, 0);
  EXPECT_TRUE(online.x_train.empty());
  EXPECT_EQ(online.x_test, fixed.x_test);
  EXPECT_EQ(online.y_test, fixed.y_test);
  const auto later = stream_rows(TeacherStream(task), 100000, 50);
  for (std::int64_t i = 0; i < 50; ++i) {
    const std::vector<float> row(later.first.begin() + i * 5, later.first.begin() + (i + 1) * 5);
    EXPECT_EQ(train.count(row), 0u);
  }
}

TEST(Teacher, InputsAreStandardNormal) {
  const auto data = make_teacher_task(teacher("poly", 10, 20000));
  const auto x = matrix(data.x_train, 10);
  EXPECT_LT(x.mean().abs().item<double>(), 0.02);
  const auto variance = x.var(0);
  EXPECT_LT((variance - 1).abs().max().item<double>(), 0.06) << variance;
  const auto covariance = x.t().matmul(x) / x.size(0) - torch::eye(10, torch::kFloat64);
  EXPECT_LT(covariance.abs().max().item<double>(), 0.05) << "inputs are correlated";
  // The shape of the distribution, tails included (200000 values: the tolerances are 4 to 6 sd).
  const auto fraction_beyond = [&](double t) { return (x.abs() > t).to(torch::kFloat64).mean().item<double>(); };
  EXPECT_NEAR(fraction_beyond(1.0), 0.317311, 0.006);
  EXPECT_NEAR(fraction_beyond(2.0), 0.0455003, 0.003);
  EXPECT_NEAR(fraction_beyond(3.0), 0.0026998, 0.0007);
  EXPECT_NEAR(fraction_beyond(3.6), 0.0003182, 0.00016);  // beyond the ziggurat's base layer (R = 3.44)
  EXPECT_NEAR(x.pow(4).mean().item<double>(), 3.0, 0.12);
}

TEST(Teacher, PolyIsAPowerOfOneProjection) {
  auto task = teacher("poly", 30, 4000);
  task.degree = 1;
  const auto linear = make_teacher_task(task);
  task.degree = 3;
  const auto cubic = make_teacher_task(task);
  ASSERT_EQ(linear.x_train, cubic.x_train);
  const auto x = matrix(linear.x_train, 30);
  const auto [w, residual] = fit_linear(x, torch::tensor(linear.y_train, torch::kFloat64));
  EXPECT_LT(residual, 1e-4) << "degree 1: y is not linear in x";
  // w ~ N(0, I/D): |w|^2 is about 1 (chi-square with 30 degrees of freedom / 30: sd 0.26)
  const double norm2 = w.pow(2).sum().item<double>();
  EXPECT_GT(norm2, 0.3);
  EXPECT_LT(norm2, 2.2);
  const auto y3 = torch::tensor(cubic.y_train, torch::kFloat64);
  const auto expected = x.matmul(w).pow(3);
  EXPECT_LT(((y3 - expected).abs() / (1 + expected.abs())).max().item<double>(), 1e-4) << "degree 3 is not (x.w)^3";
}

TEST(Teacher, LinearSpectrumWeightsAndUnitVariance) {
  auto task = teacher("linear", 50, 40000);
  task.alpha = 1.5;
  task.beta = 2.0;
  task.label_noise = 0.0;
  const auto clean = make_teacher_task(task);
  const auto x = matrix(clean.x_train, 50);
  // Inputs scaled by i^(-alpha/2): variance i^(-alpha).
  const auto variance = x.var(0);
  for (const std::int64_t i : {1, 2, 10, 50}) {
    const double expected = std::pow(double(i), -1.5);
    EXPECT_NEAR(variance[i - 1].item<double>() / expected, 1.0, 0.05) << "x_" << i;
  }
  const auto y = torch::tensor(clean.y_train, torch::kFloat64);
  EXPECT_NEAR(y.var().item<double>(), 1.0, 0.04) << "the clean label must have unit variance";
  const auto [w, residual] = fit_linear(x, y);
  EXPECT_LT(residual, 1e-4);
  // w_i ~ i^(-theta), theta = 1/2 + alpha (beta - 1) / 2 = 1.25; normalised: sum w_i^2 i^-alpha = 1.
  const double theta = 1.25;
  for (const std::int64_t i : {2, 5, 50}) {
    EXPECT_NEAR(w[i - 1].item<double>() / w[0].item<double>(), std::pow(double(i), -theta), 1e-3) << "w_" << i;
  }
  double norm = 0;
  for (std::int64_t i = 1; i <= 50; ++i) norm += std::pow(w[i - 1].item<double>(), 2) * std::pow(double(i), -1.5);
  EXPECT_NEAR(norm, 1.0, 1e-4);

  // Label noise rho: the same inputs, y = sqrt(1 - rho) clean + sqrt(rho) eps, still of unit variance.
  for (const double rho : {0.5, 1.0}) {
    SCOPED_TRACE(rho);
    task.label_noise = rho;
    const auto noisy = make_teacher_task(task);
    ASSERT_EQ(noisy.x_train, clean.x_train);
    const auto yn = torch::tensor(noisy.y_train, torch::kFloat64);
    EXPECT_NEAR(yn.var().item<double>(), 1.0, 0.04);
    EXPECT_NEAR(correlation(yn, y), std::sqrt(1 - rho), 0.03);
  }
}

TEST(Teacher, MlpScalesWithGammaAndParameterization) {
  auto task = teacher("mlp", 8, 200);
  task.teacher_hidden = {16, 25};
  task.teacher_activation = "tanh";
  const auto sp = make_teacher_task(task);
  task.teacher_gamma = 2.0;
  const auto sp2 = make_teacher_task(task);
  task.teacher_gamma = 1.0;
  task.teacher_parameterization = "mup";
  const auto mup = make_teacher_task(task);
  double spread = 0;
  for (std::size_t i = 0; i < sp.y_train.size(); ++i) {
    EXPECT_NEAR(sp2.y_train[i], sp.y_train[i] / 2, 1e-6);  // output / (gamma sqrt(N))
    EXPECT_NEAR(mup.y_train[i], sp.y_train[i] / 5, 1e-6);  // mup: / (gamma N), N = 25: sqrt(N) = 5 more
    spread += std::abs(sp.y_train[i]);
  }
  EXPECT_GT(spread / double(sp.y_train.size()), 0.05) << "labels are (nearly) constant";
  // The activation matters, and the label is not linear in x (a tanh MLP).
  task.teacher_parameterization = "sp";
  for (const std::string act : {"relu", "gelu", "sigmoid"}) {
    task.teacher_activation = act;
    EXPECT_NE(make_teacher_task(task).y_train, sp.y_train) << act;
  }
  task.teacher_activation = "tanh";
  task.samples = 2000;
  const auto many = make_teacher_task(task);
  const auto [w, residual] = fit_linear(matrix(many.x_train, 8), torch::tensor(many.y_train, torch::kFloat64));
  EXPECT_GT(residual, 1e-2);
}

TEST(Teacher, DatasetIsFloatRegressionAndOnlineHasNoTrainingRows) {
  auto task = teacher("poly", 6, 100);
  const auto data = make_dataset(task);
  EXPECT_EQ(data.loss, LossKind::Regression);
  EXPECT_EQ(data.x_train.sizes(), (std::vector<std::int64_t>{80, 6}));
  EXPECT_EQ(data.y_train.sizes(), (std::vector<std::int64_t>{80, 1}));
  EXPECT_EQ(data.y_test.sizes(), (std::vector<std::int64_t>{20, 1}));
  const auto fixed = make_teacher_task(task);
  EXPECT_EQ(data.y_train[7][0].item<float>(), fixed.y_train[7]);
  task.online = true;
  const auto online = make_dataset(task);
  EXPECT_EQ(online.x_train.sizes(), (std::vector<std::int64_t>{0, 6}));
  EXPECT_EQ(online.x_test.sizes(), (std::vector<std::int64_t>{20, 6}));
}

// ---- .npz files ---------------------------------------------------------------------------------------

// A .npy file: header dict padded (spaces, then '\n') so that the data starts on a multiple of 64.
std::string npy(const std::string& descr, const std::string& shape, const std::string& data, bool fortran = false,
                int version = 1) {
  std::string dict =
      "{'descr': '" + descr + "', 'fortran_order': " + (fortran ? "True" : "False") + ", 'shape': " + shape + ", }";
  const std::size_t prefix = version == 1 ? 10 : 12;
  while ((prefix + dict.size() + 1) % 64 != 0) dict += ' ';
  dict += '\n';
  std::string out = "\x93NUMPY";
  out += char(version);
  out += char(0);
  const std::size_t n = dict.size();
  out += char(n & 0xff);
  out += char((n >> 8) & 0xff);
  if (version != 1) out += std::string(2, '\0');
  return out + dict + data;
}

template <class T>
std::string bytes_of(const std::vector<T>& values) {
  return std::string(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(T));
}

void write_npz(const std::string& path, const std::map<std::string, std::string>& members) {
  int error = 0;
  zip_t* zip = zip_open(path.c_str(), ZIP_CREATE | ZIP_TRUNCATE, &error);
  ASSERT_NE(zip, nullptr);
  for (const auto& [name, content] : members) {
    zip_source_t* source = zip_source_buffer(zip, content.data(), content.size(), 0);
    ASSERT_NE(source, nullptr);
    ASSERT_GE(zip_file_add(zip, name.c_str(), source, ZIP_FL_OVERWRITE), 0);
  }
  ASSERT_EQ(zip_close(zip), 0);  // reads the buffers, which live in `members` until here
}

// x float32 [6, 2]: row i = (i, 10 + i); y int64 [6]: labels(i).
std::map<std::string, std::string> six_rows(const std::vector<std::int64_t>& labels) {
  std::vector<float> x;
  for (int i = 0; i < 6; ++i) x.insert(x.end(), {float(i), float(10 + i)});
  return {{"x.npy", npy("<f4", "(6, 2)", bytes_of(x))}, {"y.npy", npy("<i8", "(6,)", bytes_of(labels))}};
}

TaskConfig npz_task(const std::string& path, double test_fraction = 0.5) {
  TaskConfig task;
  task.name = "npz";
  task.path = path;
  task.test_fraction = test_fraction;
  task.validate();
  return task;
}

TEST(Npz, ReadsFloatInputsAndIntegerClassesAndSplitsThem) {
  TempDir dir;
  write_npz(dir.str("d.npz"), six_rows({0, 1, 2, 0, 1, 2}));
  const auto data = read_npz_task(npz_task(dir.str("d.npz")));
  EXPECT_EQ(data.loss, LossKind::Multiclass);
  EXPECT_EQ(data.inputs, 2);
  EXPECT_EQ(data.outputs, 3);
  EXPECT_EQ(data.n_train, 3);
  EXPECT_EQ(data.n_test, 3);
  // Every row once, with its own label.
  std::set<int> rows;
  for (int part = 0; part < 2; ++part) {
    const auto& x = part ? data.x_test : data.x_train;
    const auto& y = part ? data.y_test : data.y_train;
    ASSERT_EQ(x.size(), 6u);
    for (std::size_t i = 0; i < 3; ++i) {
      const int row = int(x[2 * i]);
      EXPECT_EQ(x[2 * i + 1], float(10 + row));
      EXPECT_EQ(y[i], float(row % 3));
      rows.insert(row);
    }
  }
  EXPECT_EQ(rows, (std::set<int>{0, 1, 2, 3, 4, 5}));
  // The split follows the data seed.
  auto task = npz_task(dir.str("d.npz"));
  EXPECT_EQ(read_npz_task(task).x_train, data.x_train);
  std::set<std::vector<float>> splits;
  for (std::int64_t seed = 0; seed < 5; ++seed) {
    task.data_seed = seed;
    splits.insert(read_npz_task(task).x_train);
  }
  EXPECT_GT(splits.size(), 1u);
  // As a Dataset: long class indexes.
  const auto dataset = make_dataset(npz_task(dir.str("d.npz")));
  EXPECT_EQ(dataset.y_train.scalar_type(), torch::kLong);
  EXPECT_EQ(dataset.x_train.sizes(), (std::vector<std::int64_t>{3, 2}));
}

TEST(Npz, TwoClassesAreBinaryOrTwoLogits) {
  TempDir dir;
  write_npz(dir.str("d.npz"), six_rows({0, 1, 1, 0, 1, 0}));
  auto task = npz_task(dir.str("d.npz"), 0.0);
  const auto binary = make_dataset(task);
  EXPECT_EQ(binary.loss, LossKind::Binary);
  EXPECT_EQ(binary.outputs, 1);
  EXPECT_EQ(binary.y_train.scalar_type(), torch::kFloat32);
  EXPECT_EQ(binary.y_train.dim(), 1);
  task.binary_loss = "cross_entropy";
  const auto two = make_dataset(task);
  EXPECT_EQ(two.loss, LossKind::Multiclass);
  EXPECT_EQ(two.outputs, 2);
  EXPECT_EQ(two.y_train.scalar_type(), torch::kLong);
  EXPECT_TRUE(torch::equal(two.y_train, binary.y_train.to(torch::kLong)));
  EXPECT_TRUE(torch::equal(two.x_train, binary.x_train));
}

TEST(Npz, OtherDtypesShapesAndFormatVersionTwo) {
  TempDir dir;
  // uint8 images [4, 2, 3] flattened to 6 features; float64 labels [4, 2]: a regression with 2 outputs.
  std::vector<std::uint8_t> images(24);
  for (std::size_t i = 0; i < images.size(); ++i) images[i] = std::uint8_t(i * 10);
  const std::vector<double> targets = {0.5, -1, 1.5, -2, 2.5, -3, 3.5, -4};
  write_npz(dir.str("r.npz"), {{"images.npy", npy("|u1", "(4, 2, 3)", bytes_of(images), false, 2)},
                               {"targets.npy", npy("<f8", "(4, 2)", bytes_of(targets))}});
  auto task = npz_task(dir.str("r.npz"), 0.25);
  task.inputs_key = "images";
  task.labels_key = "targets";
  const auto data = read_npz_task(task);
  EXPECT_EQ(data.loss, LossKind::Regression);
  EXPECT_EQ(data.inputs, 6);
  EXPECT_EQ(data.outputs, 2);
  EXPECT_EQ(data.n_train, 3);
  EXPECT_EQ(data.n_test, 1);
  for (int part = 0; part < 2; ++part) {
    const auto& x = part ? data.x_test : data.x_train;
    const auto& y = part ? data.y_test : data.y_train;
    for (std::size_t i = 0; i < y.size() / 2; ++i) {
      const int row = int(x[6 * i]) / 60;
      EXPECT_EQ(x[6 * i + 5], float(row * 60 + 50));
      EXPECT_EQ(y[2 * i], float(targets[std::size_t(2 * row)]));
      EXPECT_EQ(y[2 * i + 1], float(targets[std::size_t(2 * row + 1)]));
    }
  }
  const auto dataset = make_dataset(task);
  EXPECT_EQ(dataset.y_train.sizes(), (std::vector<std::int64_t>{3, 2}));
  // bool labels: two classes; int32 inputs.
  const std::vector<std::int32_t> ints = {1, 2, 3, 4, 5, 6};
  const std::vector<std::uint8_t> flags = {1, 0, 1};
  write_npz(dir.str("b.npz"),
            {{"x.npy", npy("<i4", "(3, 2)", bytes_of(ints))}, {"y.npy", npy("|b1", "(3,)", bytes_of(flags))}});
  const auto flagged = read_npz_task(npz_task(dir.str("b.npz"), 0.0));
  EXPECT_EQ(flagged.loss, LossKind::Binary);
  EXPECT_EQ(flagged.n_train, 3);
  float sum = 0;
  for (float v : flagged.x_train) sum += v;
  EXPECT_EQ(sum, 21.0f);
}

// Bad .npz input ends as a usage error of `sweeplab run`: exit 2, one line naming the file, nothing written.
struct BadNpz {
  std::string name;
  std::function<void(const TempDir&)> write;  // writes data.npz (or not)
  std::vector<std::string> expected;
  std::string extra = "";  // more task keys
};

class BadNpzTest : public ::testing::TestWithParam<BadNpz> {};

TEST_P(BadNpzTest, RunExitsTwoWithOneLineNamingTheFileAndWritesNothing) {
  const auto& param = GetParam();
  TempDir dir;
  param.write(dir);
  dir.write("configs/mine.yaml", "task: {name: npz, path: " + dir.str("data.npz") + param.extra +
                                     "}\ntraining: {batch_size: 2, epochs: 1}\n");
  auto expected = param.expected;
  expected.push_back(dir.str("data.npz") + ": ");
  testing::expect_usage_error(dir, {"run", "mine"}, expected);
}

void write_members(const TempDir& dir, const std::map<std::string, std::string>& members) {
  write_npz(dir.str("data.npz"), members);
}

std::vector<BadNpz> bad_npz() {
  const auto good = six_rows({0, 1, 0, 1, 0, 1});
  const auto with = [good](const std::string& name, const std::string& content) {
    auto members = good;
    members[name] = content;
    return [members](const TempDir& dir) { write_members(dir, members); };
  };
  const std::string floats12 = bytes_of(std::vector<float>(12, 1.0f));
  return {
      {"missing_file", [](const TempDir&) {}, {"cannot open the .npz file (task.path): no such file"}},
      {"not_a_zip", [](const TempDir& dir) { dir.write("data.npz", "x,y\n1,2\n"); }, {"not a zip archive"}},
      {"truncated_zip",
       [good](const TempDir& dir) {
         write_members(dir, good);
         const auto size = std::filesystem::file_size(dir.path() / "data.npz");
         std::filesystem::resize_file(dir.path() / "data.npz", size / 2);
       },
       {"truncated"}},
      {"missing_array",
       with("z.npy", npy("<f4", "(6, 2)", floats12)),
       {"no array 'w' (task.inputs_key)", "'x', 'y', 'z'"},
       ", inputs_key: w"},
      {"unsupported_dtype",
       with("x.npy", npy("<c8", "(6, 2)", floats12 + floats12)),
       {"array 'x' (task.inputs_key): unsupported dtype '<c8'"}},
      {"big_endian",
       with("y.npy", npy(">i8", "(6,)", std::string(48, '\0'))),
       {"array 'y' (task.labels_key): unsupported dtype '>i8'"}},
      {"fortran_order", with("x.npy", npy("<f4", "(6, 2)", floats12, true)), {"array 'x'", "Fortran order"}},
      {"bad_header",
       with("x.npy", std::string("\x93NUMPY\x01\x00\x21\x00{'descr': '<f4', 'shape': (6, 2)}", 43) + floats12),
       {"array 'x'", "bad .npy header"}},
      {"not_npy", with("x.npy", "hello, this is not an array"), {"array 'x'", "not a .npy array"}},
      {"short_data",
       with("x.npy", npy("<f4", "(6, 2)", floats12.substr(0, 40))),
       {"array 'x'", "shorter than its header says", "48 bytes"}},
      {"rows_differ",
       with("y.npy", npy("<i8", "(5,)", bytes_of(std::vector<std::int64_t>{0, 1, 0, 1, 0}))),
       {"'x' has 6 rows but 'y' has 5"}},
      {"negative_class",
       with("y.npy", npy("<i8", "(6,)", bytes_of(std::vector<std::int64_t>{0, 1, -1, 1, 0, 1}))),
       {"array 'y'", "row 2 holds the class -1"}},
      {"no_training_rows",
       with("y.npy", npy("<i8", "(6,)", bytes_of(std::vector<std::int64_t>(6, 0)))),
       {"6 rows leave no training rows after the test split"},
       ", test_fraction: 0.95"},
  };
}

INSTANTIATE_TEST_SUITE_P(Cases, BadNpzTest, ::testing::ValuesIn(bad_npz()),
                         [](const auto& info) { return info.param.name; });

TEST(Npz, RunTrainsOnAnNpzFile) {
  TempDir dir;
  std::vector<float> x;
  std::vector<std::int64_t> y;
  for (int i = 0; i < 40; ++i) {
    x.insert(x.end(), {float(i % 7), float((i * 3) % 5)});
    y.push_back(i % 2);
  }
  write_npz(dir.str("data.npz"),
            {{"x.npy", npy("<f4", "(40, 2)", bytes_of(x))}, {"y.npy", npy("<i8", "(40,)", bytes_of(y))}});
  dir.write("configs/mine.yaml", "task: {name: npz, path: " + dir.str("data.npz") +
                                     ", binary_loss: cross_entropy}\ntraining: {batch_size: 8, epochs: 2}\n");
  const auto result = testing::run_in(dir, {"run", "mine"});
  ASSERT_EQ(result.code, 0) << result.err << result.out;
  const auto trials = dir.path() / "experiments" / "mine" / "trials";
  ASSERT_TRUE(std::filesystem::exists(trials));
  for (const auto& trial : std::filesystem::directory_iterator(trials)) {
    EXPECT_EQ(testing::metric_values(trial.path()).size(), 2u);
    EXPECT_EQ(testing::read_json(trial.path() / "summary.json")["status"], "completed");
  }
}

TEST(Npz, EveryArrayASweepNamesIsChecked) {
  TempDir dir;
  write_npz(dir.str("data.npz"), six_rows({0, 1, 0, 1, 0, 1}));
  dir.write("configs/mine.yaml", "task: {name: npz, path: " + dir.str("data.npz") +
                                     "}\ntraining: {batch_size: 2, epochs: 1}\n"
                                     "sweep: {grid: {task.labels_key: [y, labels]}}\n");
  const auto before = dir.snapshot();
  const auto result = testing::run_in(dir, {"run", "mine"});
  EXPECT_EQ(result.code, 2) << result.err;
  EXPECT_NE(result.err.find("no array 'labels' (task.labels_key)"), std::string::npos) << result.err;
  EXPECT_EQ(dir.snapshot(), before);
}

// ---- the sanity checks' two logits ----------------------------------------------------------------------------

TEST(TwoLogits, CrossEntropyMakesATwoClassTaskMulticlassWithTheSameNumbers) {
  for (const std::string name : {"doughnuts", "synthetic"}) {
    SCOPED_TRACE(name);
    TaskConfig task;
    task.name = name;
    task.samples = 300;
    task.classes = 2;
    task.validate();
    const auto bce = make_dataset(task);
    task.binary_loss = "cross_entropy";
    task.validate();
    const auto two = make_dataset(task);
    EXPECT_EQ(bce.loss, LossKind::Binary);
    EXPECT_EQ(bce.outputs, 1);
    EXPECT_EQ(two.loss, LossKind::Multiclass);
    EXPECT_EQ(two.outputs, 2);
    EXPECT_EQ(two.y_train.scalar_type(), torch::kLong);
    EXPECT_EQ(two.y_test.scalar_type(), torch::kLong);
    EXPECT_EQ(two.y_train.dim(), 1);
    EXPECT_TRUE(torch::equal(two.x_train, bce.x_train));
    EXPECT_TRUE(torch::equal(two.y_train, bce.y_train.to(torch::kLong)));
    EXPECT_TRUE(torch::equal(two.y_test, bce.y_test.to(torch::kLong)));
    EXPECT_GT(two.y_train.sum().item<std::int64_t>(), 0);  // both classes present
  }
  // More than two classes: unchanged by binary_loss.
  TaskConfig three;
  three.name = "synthetic";
  three.classes = 3;
  three.binary_loss = "cross_entropy";
  three.validate();
  EXPECT_EQ(make_dataset(three).outputs, 3);
}

TEST(TwoLogits, CsvWithTwoClasses) {
  TempDir dir;
  std::string csv = "a,b,label\n";
  for (int i = 0; i < 20; ++i)
    csv += std::to_string(i) + "," + std::to_string(i * 2) + "," + std::to_string(i % 2) + "\n";
  dir.write("d.csv", csv);
  TaskConfig task;
  task.name = "csv";
  task.path = dir.str("d.csv");
  task.binary_loss = "cross_entropy";
  task.validate();
  const auto data = make_dataset(task);
  EXPECT_EQ(data.loss, LossKind::Multiclass);
  EXPECT_EQ(data.outputs, 2);
  EXPECT_EQ(data.y_train.scalar_type(), torch::kLong);
}

}  // namespace
}  // namespace sweeplab
