// The IDX task (src/tasks/idx.cpp): MNIST's file format, gzipped or not, read into the training and test sets
// (task.subset, task.pixels, task.class_loss); every bad file a one-line usage error of `sweeplab run`, nothing
// written; a run on IDX files; and Debian's Fashion-MNIST, where its package is installed.
#include <gtest/gtest.h>
#include <zlib.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <functional>
#include <set>

#include "sweeplab/core/error.hpp"
#include "sweeplab/tasks/tasks.hpp"
#include "test_util.hpp"

namespace sweeplab {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;

// An IDX file's bytes, written here from the format's description: 0x00 0x00, the type, the number of
// dimensions, each dimension big-endian in 4 bytes, then the data.
std::string idx_bytes(const std::vector<std::uint32_t>& dims, const std::vector<unsigned char>& data,
                      unsigned char type = 0x08) {
  std::string bytes = {'\0', '\0', char(type), char(dims.size())};
  for (const auto dim : dims) {
    for (int shift = 24; shift >= 0; shift -= 8) bytes += char((dim >> shift) & 0xFF);
  }
  bytes.append(data.begin(), data.end());
  return bytes;
}

void write_plain(const fs::path& path, const std::string& bytes) {
  fs::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary) << bytes;
}

void write_gzip(const fs::path& path, const std::string& bytes) {
  fs::create_directories(path.parent_path());
  gzFile file = gzopen(path.c_str(), "wb");
  ASSERT_NE(file, nullptr);
  ASSERT_EQ(gzwrite(file, bytes.data(), unsigned(bytes.size())), int(bytes.size()));
  ASSERT_EQ(gzclose(file), Z_OK);
}

std::string gzip_of(const std::string& bytes) {
  TempDir scratch;
  write_gzip(scratch.path() / "f.gz", bytes);
  return testing::read_file(scratch.path() / "f.gz");
}

// A small set: image i of `rows` x 3 x 2 pixels holds byte (i * 37 + p * 11) % 256 at pixel p, label i % 3.
constexpr std::uint32_t kHeight = 3, kWidth = 2, kPixels = kHeight * kWidth;
unsigned char pixel_of(std::uint32_t image, std::uint32_t p) { return (image * 37 + p * 11) % 256; }

std::string images_bytes(std::uint32_t rows, std::uint32_t first = 0) {
  std::vector<unsigned char> data;
  for (std::uint32_t i = 0; i < rows; ++i) {
    for (std::uint32_t p = 0; p < kPixels; ++p) data.push_back(pixel_of(first + i, p));
  }
  return idx_bytes({rows, kHeight, kWidth}, data);
}

std::string labels_bytes(std::uint32_t rows, std::uint32_t first = 0) {
  std::vector<unsigned char> data;
  for (std::uint32_t i = 0; i < rows; ++i) data.push_back((first + i) % 3);
  return idx_bytes({rows}, data);
}

// 12 training images (gzipped images, plain labels: gzread reads both) and 5 test images (numbered from 100).
TaskConfig write_small_set(const TempDir& dir) {
  write_gzip(dir.path() / "train-images.gz", images_bytes(12));
  write_plain(dir.path() / "train-labels", labels_bytes(12));
  write_gzip(dir.path() / "test-images.gz", images_bytes(5, 100));
  write_gzip(dir.path() / "test-labels.gz", labels_bytes(5, 100));
  TaskConfig task;
  task.name = "idx";
  task.train_images = dir.str("train-images.gz");
  task.train_labels = dir.str("train-labels");
  task.test_images = dir.str("test-images.gz");
  task.test_labels = dir.str("test-labels.gz");
  task.validate();
  return task;
}

// The image number a row of unit pixels came from (its first pixel is (i * 37) % 256, i < 256 / gcd = 256).
std::uint32_t image_of(const std::vector<float>& x, std::size_t row) {
  const auto first = std::uint32_t(std::lround(x[row * kPixels] * 255.0f));
  for (std::uint32_t i = 0; i < 256; ++i) {
    if (pixel_of(i, 0) == first) return i;
  }
  return 9999;
}

TEST(Idx, ReadsGzippedAndPlainFilesIntoUnitPixelsAndClasses) {
  TempDir dir;
  const TaskData data = read_idx_task(write_small_set(dir));
  EXPECT_EQ(data.loss, LossKind::Multiclass);
  EXPECT_EQ(data.inputs, 6);
  EXPECT_EQ(data.outputs, 3);
  EXPECT_EQ(data.vocabulary, 0);
  ASSERT_EQ(data.n_train, 12);
  ASSERT_EQ(data.n_test, 5);
  ASSERT_EQ(data.x_train.size(), 12u * kPixels);
  ASSERT_EQ(data.x_test.size(), 5u * kPixels);
  for (std::uint32_t i = 0; i < 12; ++i) {  // no subset: the file's order
    for (std::uint32_t p = 0; p < kPixels; ++p) {
      EXPECT_FLOAT_EQ(data.x_train[i * kPixels + p], float(pixel_of(i, p) / 255.0)) << i << " " << p;
    }
    EXPECT_EQ(data.y_train[i], float(i % 3));
  }
  for (std::uint32_t i = 0; i < 5; ++i) {
    EXPECT_FLOAT_EQ(data.x_test[i * kPixels + 1], float(pixel_of(100 + i, 1) / 255.0));
    EXPECT_EQ(data.y_test[i], float((100 + i) % 3));
  }
}

TEST(Idx, SubsetIsTheSameImagesForADataSeedAndOthersForAnother) {
  TempDir dir;
  TaskConfig task = write_small_set(dir);
  task.subset = 5;
  task.validate();
  const auto chosen = [&](std::int64_t seed) {
    task.data_seed = seed;
    const TaskData data = read_idx_task(task);
    EXPECT_EQ(data.n_train, 5);
    EXPECT_EQ(data.n_test, 5);  // the test file is never subsampled
    std::vector<std::uint32_t> images;
    for (std::size_t row = 0; row < 5; ++row) {
      const std::uint32_t image = image_of(data.x_train, row);
      EXPECT_LT(image, 12u);
      EXPECT_EQ(data.y_train[row], float(image % 3)) << "a label travelled without its image";
      images.push_back(image);
    }
    EXPECT_EQ(std::set<std::uint32_t>(images.begin(), images.end()).size(), 5u) << "an image twice";
    return images;
  };
  EXPECT_EQ(chosen(3), chosen(3));
  std::set<std::vector<std::uint32_t>> subsets;
  for (std::int64_t seed = 0; seed < 6; ++seed) subsets.insert(chosen(seed));
  EXPECT_GT(subsets.size(), 1u) << "task.data_seed changes nothing";
}

TEST(Idx, StandardizedPixelsHaveMeanZeroAndSdOneOverTheTrainingImages) {
  TempDir dir;
  TaskConfig task = write_small_set(dir);
  task.pixels = "standardized";
  task.validate();
  const TaskData data = read_idx_task(task);
  double sum = 0.0, squares = 0.0;
  for (const float v : data.x_train) sum += v, squares += double(v) * v;
  const double n = double(data.x_train.size());
  EXPECT_NEAR(sum / n, 0.0, 1e-6);
  EXPECT_NEAR(std::sqrt(squares / n - (sum / n) * (sum / n)), 1.0, 1e-6);
  // The test images with the training images' mean and sd, here from the bytes.
  double byte_sum = 0.0, byte_squares = 0.0;
  for (std::uint32_t i = 0; i < 12; ++i) {
    for (std::uint32_t p = 0; p < kPixels; ++p) {
      byte_sum += pixel_of(i, p);
      byte_squares += double(pixel_of(i, p)) * pixel_of(i, p);
    }
  }
  const double mean = byte_sum / 72.0, sd = std::sqrt(byte_squares / 72.0 - mean * mean);
  EXPECT_NEAR(data.x_test[2], (pixel_of(100, 2) - mean) / sd, 1e-5);
}

TEST(Idx, MseIsOneHotMseAndOneLabelValueStillMakesTwoClasses) {
  TempDir dir;
  TaskConfig task = write_small_set(dir);
  task.class_loss = "mse";
  task.validate();
  EXPECT_EQ(read_idx_task(task).loss, LossKind::OneHotMse);
  write_plain(dir.path() / "zeros", idx_bytes({12}, std::vector<unsigned char>(12, 0)));
  write_plain(dir.path() / "test-zeros", idx_bytes({5}, std::vector<unsigned char>(5, 0)));
  task.train_labels = dir.str("zeros");
  task.test_labels = dir.str("test-zeros");
  EXPECT_EQ(read_idx_task(task).outputs, 2);
}

// Debian's dataset-fashion-mnist, read whole: 60 000 + 10 000 images of 28 x 28, ten classes of 6 000 + 1 000.
TEST(Idx, FashionMnistFromDebiansPackage) {
  const fs::path folder = "/usr/share/datasets/fashion-mnist";
  if (!fs::exists(folder / "train-images-idx3-ubyte.gz")) {
    GTEST_SKIP() << folder << " is not there: the package dataset-fashion-mnist is not installed (scripts/setup.sh "
                 << "installs it)";
  }
  TaskConfig task;
  task.name = "idx";
  task.train_images = (folder / "train-images-idx3-ubyte.gz").string();
  task.train_labels = (folder / "train-labels-idx1-ubyte.gz").string();
  task.test_images = (folder / "t10k-images-idx3-ubyte.gz").string();
  task.test_labels = (folder / "t10k-labels-idx1-ubyte.gz").string();
  task.validate();
  EXPECT_NO_THROW(check_idx_task(task));
  const TaskData data = read_idx_task(task);
  EXPECT_EQ(data.inputs, 784);
  EXPECT_EQ(data.outputs, 10);
  ASSERT_EQ(data.n_train, 60000);
  ASSERT_EQ(data.n_test, 10000);
  std::vector<int> train_counts(10), test_counts(10);
  for (const float y : data.y_train) ++train_counts.at(std::size_t(y));
  for (const float y : data.y_test) ++test_counts.at(std::size_t(y));
  EXPECT_EQ(train_counts, std::vector<int>(10, 6000));
  EXPECT_EQ(test_counts, std::vector<int>(10, 1000));
  const auto [low, high] = std::minmax_element(data.x_train.begin(), data.x_train.end());
  EXPECT_EQ(*low, 0.0f);
  EXPECT_EQ(*high, 1.0f);
}

// ---- training on IDX files ----------------------------------------------------------------------------

// Two classes told apart by their first pixel (bright or dark), 64 training and 32 test images.
void write_separable_set(const TempDir& dir) {
  const auto images = [](std::uint32_t rows, std::uint32_t salt) {
    std::vector<unsigned char> data, labels;
    for (std::uint32_t i = 0; i < rows; ++i) {
      const unsigned char label = (i * 7 + salt) % 2;
      for (std::uint32_t p = 0; p < kPixels; ++p) data.push_back(p == 0 ? (label ? 230 : 20) : (i * 13 + p * 5) % 256);
      labels.push_back(label);
    }
    return std::make_pair(idx_bytes({rows, kHeight, kWidth}, data), idx_bytes({rows}, labels));
  };
  const auto [train_x, train_y] = images(64, 0);
  const auto [test_x, test_y] = images(32, 1);
  write_gzip(dir.path() / "data/train-images.gz", train_x);
  write_gzip(dir.path() / "data/train-labels.gz", train_y);
  write_gzip(dir.path() / "data/test-images.gz", test_x);
  write_gzip(dir.path() / "data/test-labels.gz", test_y);
}

std::string idx_task_yaml(const TempDir& dir, const std::string& extra = "") {
  return "task: {name: idx, train_images: " + dir.str("data/train-images.gz") +
         ", train_labels: " + dir.str("data/train-labels.gz") + ", test_images: " + dir.str("data/test-images.gz") +
         ", test_labels: " + dir.str("data/test-labels.gz") + extra + "}\n";
}

TEST(Idx, RunTrainsOnIdxFilesWithEitherLossAndRecordsTheLastBatchLoss) {
  TempDir dir;
  write_separable_set(dir);
  dir.write("configs/mine.yaml", idx_task_yaml(dir) +
                                     "model: {hidden: [16]}\noptimizer: {lr: 0.5}\n"
                                     "training: {batch_size: 8, epochs: 30, eval_every: 10}\n"
                                     "sweep: {grid: {task.class_loss: [cross_entropy, mse]}}\n");
  const auto result = testing::run_in(dir, {"run", "mine", "-q"});
  ASSERT_EQ(result.code, 0) << result.err << result.out;
  int trials = 0;
  for (const auto& trial : fs::directory_iterator(dir.path() / "experiments/mine/trials")) {
    ++trials;
    const auto summary = testing::read_json(trial.path() / "summary.json");
    SCOPED_TRACE(summary.dump());
    EXPECT_EQ(summary["status"], "completed");
    EXPECT_GE(summary["final"]["test_acc"].get<double>(), 0.9);  // the first pixel tells the classes apart
    std::ifstream in(trial.path() / "metrics.jsonl");
    int lines = 0;
    for (std::string line; std::getline(in, line); ++lines) {
      const auto record = nlohmann::json::parse(line);
      ASSERT_TRUE(record.contains("last_batch_loss")) << line;
      EXPECT_GE(record["last_batch_loss"].get<double>(), 0.0);
      EXPECT_TRUE(record.contains("test_acc")) << line;
    }
    EXPECT_EQ(lines, 3);
  }
  EXPECT_EQ(trials, 2);
}

// ---- bad files ----------------------------------------------------------------------------------------

// Bad IDX input ends as a usage error of `sweeplab run`: exit 2, one line naming the file and its key with what
// is wrong and a suggestion, nothing written.
struct BadIdx {
  std::string name;
  std::function<void(const TempDir&)> spoil;  // after the good set is written: replace or remove a file
  std::string file;                          // the file the line must name (under data/)
  std::vector<std::string> expected;
  std::string extra = "";  // more task keys
};

class BadIdxTest : public ::testing::TestWithParam<BadIdx> {};

TEST_P(BadIdxTest, RunExitsTwoWithOneLineNamingTheFileAndWritesNothing) {
  const auto& param = GetParam();
  TempDir dir;
  write_separable_set(dir);
  param.spoil(dir);
  dir.write("configs/mine.yaml", idx_task_yaml(dir, param.extra) + "training: {batch_size: 8, epochs: 1}\n");
  auto expected = param.expected;
  expected.push_back(dir.str("data/" + param.file) + " (task.");
  testing::expect_usage_error(dir, {"run", "mine"}, expected);
}

std::function<void(const TempDir&)> replace(const std::string& file, const std::string& bytes) {
  return [file, bytes](const TempDir& dir) { write_plain(dir.path() / "data" / file, bytes); };
}

std::vector<BadIdx> bad_idx() {
  const std::string images = images_bytes(64), labels = labels_bytes(64);
  const std::string gz = gzip_of(images);
  std::string damaged = gz;
  damaged[damaged.size() / 2] = char(damaged[damaged.size() / 2] ^ 0x55);  // inside the deflate stream
  std::string bad_crc = gz;
  bad_crc[bad_crc.size() - 6] = char(bad_crc[bad_crc.size() - 6] ^ 0x01);  // the CRC-32 in the trailer
  return {
      {"missing_file", [](const TempDir& dir) { fs::remove(dir.path() / "data/train-images.gz"); }, "train-images.gz",
       {"(task.train_images): cannot open it: no such file", "dataset-fashion-mnist"}},
      {"a_folder", [](const TempDir& dir) {
         fs::remove(dir.path() / "data/test-labels.gz");
         fs::create_directories(dir.path() / "data/test-labels.gz");
       },
       "test-labels.gz", {"(task.test_labels): is a folder, not an IDX file", "t10k-labels-idx1-ubyte.gz"}},
      {"empty_file", replace("train-labels.gz", ""), "train-labels.gz",
       {"(task.train_labels): is empty (0 bytes); download it again"}},
      {"not_idx", replace("train-images.gz", "label,x\n1,2\n"), "train-images.gz",
       {"(task.train_images): not an IDX file: it starts with the bytes 0x6C 0x61", "0x00 0x00"}},
      {"header_cut_short", replace("train-images.gz", std::string("\0\0\x08\x03\0\0", 6)), "train-images.gz",
       {"(task.train_images): the IDX header is cut short: it announces 3 dimensions"}},
      {"float_data", replace("test-images.gz", idx_bytes({32, 3, 2}, std::vector<unsigned char>(768), 0x0D)),
       "test-images.gz", {"(task.test_images): holds IDX data of type 0x0D (float32)", "unsigned bytes (0x08)"}},
      {"labels_as_images", replace("train-images.gz", labels), "train-images.gz",
       {"(task.train_images): has 1 dimension [64]; images need 3, [N, rows, cols] (is it a labels file?)"}},
      {"images_as_labels", replace("train-labels.gz", images), "train-labels.gz",
       {"(task.train_labels): has 3 dimensions [64, 3, 2]; labels need 1, [N] (is it an images file?)"}},
      {"no_images", replace("train-images.gz", idx_bytes({0, 3, 2}, {})), "train-images.gz",
       {"(task.train_images): holds no images (N = 0)"}},
      {"no_pixels", replace("train-images.gz", idx_bytes({64, 0, 2}, {})), "train-images.gz",
       {"(task.train_images): has images of 0 x 2 pixels: no pixels"}},
      {"data_short", replace("train-images.gz", images.substr(0, images.size() - 10)), "train-images.gz",
       {"(task.train_images): the data is shorter than its header says: [64, 3, 2] needs 384 bytes, the file has "
        "374"}},
      {"bytes_after_data", replace("train-labels.gz", labels + "abc"), "train-labels.gz",
       {"(task.train_labels): 3 bytes more than its header's [64] describes"}},
      {"gzip_cut_short", replace("train-images.gz", gz.substr(0, gz.size() / 2)), "train-images.gz",
       {"(task.train_images): the gzip stream is cut short (a truncated download?); download it again"}},
      {"gzip_damaged", replace("train-images.gz", damaged), "train-images.gz",
       {"(task.train_images): the gzip data is damaged (zlib: ", "download it again"}},
      {"gzip_bad_checksum", replace("train-images.gz", bad_crc), "train-images.gz",
       {"(task.train_images): the gzip data is damaged (zlib: incorrect data check)"}},
      {"labels_count_differs", replace("train-labels.gz", labels_bytes(63)), "train-labels.gz",
       {"(task.train_labels): holds 63 labels but", "train-images.gz (task.train_images) holds 64 images"}},
      {"test_images_of_another_size",
       replace("test-images.gz", idx_bytes({32, 2, 3}, std::vector<unsigned char>(192, 7))), "test-images.gz",
       {"(task.test_images): has images of 2 x 3 pixels, but the training images (task.train_images) are 3 x 2"}},
      {"subset_too_large", [](const TempDir&) {}, "train-images.gz",
       {"(task.train_images): task.subset 65 is more than its 64 images; set task.subset to at most 64"},
       ", subset: 65"},
  };
}

INSTANTIATE_TEST_SUITE_P(Cases, BadIdxTest, ::testing::ValuesIn(bad_idx()),
                         [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace sweeplab
