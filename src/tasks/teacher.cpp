// batch_size_studies' teacher-student regression: inputs x ~ N(0, I_D), labels from a poly, mlp or linear teacher.
//
// Numbers: sample i of a stream is drawn by tasks::Normals(sample_key(data_seed, stream, i)): its D inputs
// first, then (linear teacher) the label noise. Stream 0 is the training stream (the fixed training set is its
// first train_samples() rows; online training reads it on), stream 1 the test set, so the two never overlap.
// The teacher's weights come from teacher_seed alone (stream 2), in the order documented at build_teacher.
#include <algorithm>
#include <cmath>

#include "random.hpp"
#include "sweeplab/core/error.hpp"
#include "sweeplab/tasks/tasks.hpp"

namespace sweeplab {
namespace tasks {

constexpr std::uint64_t kTrainStream = 0, kTestStream = 1, kWeightStream = 2;

enum class TeacherKind { Poly, Mlp, Linear };
enum class Act { Relu, Tanh, Gelu, Sigmoid };

inline double activate(Act act, double v) {
  switch (act) {
    case Act::Relu:
      return v > 0.0 ? v : 0.0;
    case Act::Tanh:
      return std::tanh(v);
    case Act::Gelu:
      return 0.5 * v * (1.0 + std::erf(v * M_SQRT1_2));  // exact (erf) GELU
    case Act::Sigmoid:
      return 1.0 / (1.0 + std::exp(-v));
  }
  return v;
}

// A teacher: its weights and how it labels a sample (TeacherStream::Teacher is this, kept out of the header).
struct TeacherModel {
  TeacherKind kind = tasks::TeacherKind::Poly;
  std::int64_t d = 0;
  // poly: w (length d), degree
  std::vector<double> w;
  std::int64_t degree = 1;
  // mlp: weights[l] is fan_in x fan_out row-major, already divided by sqrt(fan_in); the output weights are
  // divided by gamma sqrt(N) (sp) or gamma N (mup).
  std::vector<std::vector<double>> weights;
  std::vector<std::int64_t> widths;  // d, hidden..., 1
  Act act = Act::Relu;
  // linear: x_i scaled by scale[i] = (i+1)^(-alpha/2); w as above; y = clean_weight * w.x~ + noise_weight * eps
  std::vector<double> scale;
  double clean_weight = 1.0, noise_weight = 0.0;

  // Samples first .. first + count - 1 of `stream` under `seed`.
  void rows(std::uint64_t seed, std::uint64_t stream, std::int64_t first, std::int64_t count, float* x,
            float* y) const {
    std::vector<double> in(static_cast<std::size_t>(d)), a, b;
    if (kind == tasks::TeacherKind::Mlp) {
      std::int64_t widest = 0;
      for (auto width : widths) widest = std::max(widest, width);
      a.resize(std::size_t(widest));
      b.resize(std::size_t(widest));
    }
    for (std::int64_t r = 0; r < count; ++r) {
      tasks::Normals normals(tasks::sample_key(seed, stream, std::uint64_t(first + r)));
      float* row = x + r * d;
      for (std::int64_t j = 0; j < d; ++j) {
        double v = normals.next();
        if (kind == tasks::TeacherKind::Linear) v *= scale[std::size_t(j)];
        in[std::size_t(j)] = v;
        row[j] = float(v);
      }
      y[r] = float(label(in, normals, a, b));
    }
  }

  double label(const std::vector<double>& in, tasks::Normals& normals, std::vector<double>& a,
               std::vector<double>& b) const {
    switch (kind) {
      case tasks::TeacherKind::Poly: {
        double dot = 0.0;
        for (std::int64_t j = 0; j < d; ++j) dot += in[std::size_t(j)] * w[std::size_t(j)];
        double power = 1.0;
        for (std::int64_t k = 0; k < degree; ++k) power *= dot;
        return power;
      }
      case tasks::TeacherKind::Linear: {
        double clean = 0.0;
        for (std::int64_t j = 0; j < d; ++j) clean += in[std::size_t(j)] * w[std::size_t(j)];
        return clean_weight * clean + noise_weight * normals.next();
      }
      case tasks::TeacherKind::Mlp: {
        std::copy(in.begin(), in.end(), a.begin());
        for (std::size_t l = 0; l < weights.size(); ++l) {
          const std::int64_t fan_in = widths[l], fan_out = widths[l + 1];
          const double* wl = weights[l].data();
          std::fill(b.begin(), b.begin() + fan_out, 0.0);
          for (std::int64_t i = 0; i < fan_in; ++i) {
            const double v = a[std::size_t(i)];
            const double* wrow = wl + i * fan_out;
            for (std::int64_t o = 0; o < fan_out; ++o) b[std::size_t(o)] += v * wrow[o];
          }
          const bool output = l + 1 == weights.size();
          for (std::int64_t o = 0; o < fan_out; ++o)
            a[std::size_t(o)] = output ? b[std::size_t(o)] : activate(act, b[std::size_t(o)]);
        }
        return a[0];
      }
    }
    return 0.0;
  }
};

}  // namespace tasks

struct TeacherStream::Teacher : tasks::TeacherModel {};

namespace {

// The teacher's weights, drawn from teacher_seed in this order: poly: w_1..w_D ~ N(0, 1/D); mlp: each layer's
// weights N(0, 1), fan_in-major (w[i][o]), first layer first, then the output layer; linear: none (deterministic).
tasks::TeacherModel build_teacher(const TaskConfig& task) {
  if (task.name != "teacher") throw InternalError("teacher task expected, got " + task.name);
  tasks::TeacherModel model;
  tasks::TeacherModel* t = &model;
  t->d = task.features;
  const auto d = std::size_t(task.features);
  tasks::Normals normals(tasks::sample_key(std::uint64_t(task.teacher_seed), tasks::kWeightStream, 0));
  if (task.teacher == "poly") {
    t->kind = tasks::TeacherKind::Poly;
    t->degree = task.degree;
    t->w.resize(d);
    for (auto& v : t->w) v = normals.next() / std::sqrt(double(d));
  } else if (task.teacher == "mlp") {
    t->kind = tasks::TeacherKind::Mlp;
    const std::string& act = task.teacher_activation;
    t->act = act == "relu"      ? tasks::Act::Relu
             : act == "tanh"    ? tasks::Act::Tanh
             : act == "gelu"    ? tasks::Act::Gelu
             : act == "sigmoid" ? tasks::Act::Sigmoid
                                : throw InternalError("teacher activation " + act);
    t->widths.push_back(task.features);
    for (auto width : task.teacher_hidden) t->widths.push_back(width);
    t->widths.push_back(1);
    const double last = double(t->widths[t->widths.size() - 2]);
    const double out_scale =
        task.teacher_parameterization == "mup" ? task.teacher_gamma * last : task.teacher_gamma * std::sqrt(last);
    for (std::size_t l = 0; l + 1 < t->widths.size(); ++l) {
      const bool output = l + 2 == t->widths.size();
      const double divide = output ? out_scale : std::sqrt(double(t->widths[l]));
      std::vector<double> layer(std::size_t(t->widths[l] * t->widths[l + 1]));
      for (auto& v : layer) v = normals.next() / divide;
      t->weights.push_back(std::move(layer));
    }
  } else if (task.teacher == "linear") {
    t->kind = tasks::TeacherKind::Linear;
    const double theta = 0.5 + 0.5 * task.alpha * (task.beta - 1.0);
    t->scale.resize(d);
    t->w.resize(d);
    double norm = 0.0;  // sum of w_i^2 i^-alpha before normalising
    for (std::size_t i = 0; i < d; ++i) {
      const double index = double(i + 1);
      t->scale[i] = std::pow(index, -0.5 * task.alpha);
      t->w[i] = std::pow(index, -theta);
      norm += t->w[i] * t->w[i] * t->scale[i] * t->scale[i];
    }
    for (auto& v : t->w) v /= std::sqrt(norm);  // the clean label has unit variance
    t->clean_weight = std::sqrt(1.0 - task.label_noise);
    t->noise_weight = std::sqrt(task.label_noise);
  } else {
    throw InternalError("unknown teacher " + task.teacher);
  }
  return model;
}

}  // namespace

TaskData make_teacher_task(const TaskConfig& task) {
  const tasks::TeacherModel teacher = build_teacher(task);
  const auto seed = std::uint64_t(task.data_seed);
  TaskData data;
  data.loss = LossKind::Regression;
  data.inputs = task.features;
  data.outputs = 1;
  data.n_train = task.online ? 0 : task.train_samples();
  data.n_test = task.test_samples();
  data.x_train.resize(std::size_t(data.n_train * data.inputs));
  data.y_train.resize(std::size_t(data.n_train));
  data.x_test.resize(std::size_t(data.n_test * data.inputs));
  data.y_test.resize(std::size_t(data.n_test));
  teacher.rows(seed, tasks::kTrainStream, 0, data.n_train, data.x_train.data(), data.y_train.data());
  teacher.rows(seed, tasks::kTestStream, 0, data.n_test, data.x_test.data(), data.y_test.data());
  return data;
}

TeacherStream::TeacherStream(const TaskConfig& task)
    : teacher_(new Teacher{build_teacher(task)}), inputs_(task.features), seed_(std::uint64_t(task.data_seed)) {}

TeacherStream::~TeacherStream() { delete teacher_; }

std::int64_t TeacherStream::inputs() const { return inputs_; }

void TeacherStream::rows(std::int64_t first, std::int64_t count, float* x, float* y) const {
  if (first < 0 || count < 0) throw InternalError("TeacherStream::rows: negative range");
  teacher_->rows(seed_, tasks::kTrainStream, first, count, x, y);
}

}  // namespace sweeplab
