#pragma once
// The generated and file-backed tasks of batch_size_studies and the grokking study (.npz and IDX files too) as plain arrays: no LibTorch, so the
// front end can check a file and the engine can draw an online stream without it. The engine's dataset.cpp wraps
// these into the tensors of the autograd reference.
#include <cstdint>
#include <vector>

#include "sweeplab/config/config.hpp"
#include "sweeplab/tasks/loss_kind.hpp"

namespace sweeplab {

struct TaskData {
  LossKind loss = LossKind::Regression;
  std::int64_t inputs = 0;      // values stored per row
  std::int64_t vocabulary = 0;  // > 0: each row is `inputs` token indices, already offset into [0, vocabulary)
  std::int64_t outputs = 0;     // classes (multiclass), 1 (binary), or regression outputs
  std::int64_t n_train = 0, n_test = 0;
  std::vector<float> x_train, y_train, x_test, y_test;  // row-major; targets: class index, {0, 1}, or values
};

// x_plus_y, x_minus_y, x_div_y (mod task.modulus) and permutation (S5 composition): every pair is one example,
// split by task.train_fraction with task.data_seed. Row (a, b): tokens a and vocabulary/2 + b.
TaskData make_algorithmic_task(const TaskConfig& task);

// doughnuts, sine2 and csv: drawn with the numbers of LibTorch's CPU generator seeded with task.data_seed (the same
// bytes as the torch::rand / torch::randn / torch::randperm calls that made them before), split by a permutation
// from the same generator (the first task.test_samples() rows, csv: round(rows x task.test_fraction), held out).
TaskData make_generated_task(const TaskConfig& task);

// teacher: a fixed training set (task.samples minus the test split), or with task.online only the test set
// (the training rows come from TeacherStream).
TaskData make_teacher_task(const TaskConfig& task);

// npz: task.inputs_key and task.labels_key of task.path. UserError (one line naming the file and the array) for
// a missing, truncated or unreadable file, a missing array, an unsupported dtype, or arrays that do not match.
// Split like csv: rows shuffled by task.data_seed, the first round(rows x task.test_fraction) are the test set.
TaskData read_npz_task(const TaskConfig& task);

// The front end's check of an npz task before anything is written: the same errors as read_npz_task, from the
// arrays' headers and the labels (the inputs' data is not read).
void check_npz_task(const TaskConfig& task);

// idx: images and labels in IDX files (MNIST's format, gzipped or not), task.train_images with task.train_labels
// and task.test_images with task.test_labels; task.subset training images chosen by task.data_seed (0: all),
// pixels scaled by task.pixels, one class per label value 0 .. the largest (at least 2): Multiclass, or OneHotMse
// with task.class_loss mse. UserError (one line naming the file and its key, with a suggestion) for a missing,
// empty, truncated or damaged file, one that is not IDX or not of unsigned bytes, images that are not
// [N, rows, cols], labels that are not [N], a count of labels that is not the count of images, test images of
// another size than the training images, bytes after the data, or a task.subset above the training images.
TaskData read_idx_task(const TaskConfig& task);

// The front end's check of an idx task before anything is written: the same errors as read_idx_task, every file
// read to its end (a damaged gzip stream shows only there), the pixels not kept.
void check_idx_task(const TaskConfig& task);

// Checks what can only be checked by trying, short of LibTorch: a CSV file reads and leaves rows to
// train on (npz, idx: check_npz_task, check_idx_task). UserError if not. (Whether CUDA is there only a
// trainer process can say: cuda_problem, sweeplab/engine/trainer.hpp.)
void check_task_inputs(const Config& config);

// The online training stream of a teacher task: sample i (inputs and label) is a function of task.data_seed, the
// teacher and i alone, so every batch size sees the same samples in the same order, and a resumed trial draws
// exactly what it would have drawn. Never overlaps the test set.
class TeacherStream {
 public:
  explicit TeacherStream(const TaskConfig& task);
  ~TeacherStream();
  TeacherStream(const TeacherStream&) = delete;
  TeacherStream& operator=(const TeacherStream&) = delete;
  std::int64_t inputs() const;
  // Samples first .. first + count - 1 into x (count x inputs) and y (count x 1).
  void rows(std::int64_t first, std::int64_t count, float* x, float* y) const;

 private:
  struct Teacher;
  Teacher* teacher_;
  std::int64_t inputs_ = 0;
  std::uint64_t seed_ = 0;
};

}  // namespace sweeplab
