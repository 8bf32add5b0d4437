// IDX files, the format of MNIST and Fashion-MNIST: two zero bytes, a data type byte, the number of dimensions,
// each dimension as a big-endian 32-bit integer, then the data in C order. Read through zlib's gzread, which
// reads gzipped and plain files alike, in chunks, so a file is checked to its last byte (a truncated or damaged
// download is found before anything is written) without holding it twice.
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <functional>

#include "random.hpp"
#include "sweeplab/core/error.hpp"
#include "sweeplab/tasks/tasks.hpp"

namespace sweeplab {
namespace {

constexpr int kUnsignedByte = 0x08;  // the only type MNIST's images and labels use
constexpr std::size_t kChunk = std::size_t(1) << 20;

std::string type_name(int type) {
  switch (type) {
    case 0x08: return "unsigned byte";
    case 0x09: return "signed byte";
    case 0x0B: return "int16";
    case 0x0C: return "int32";
    case 0x0D: return "float32";
    case 0x0E: return "float64";
  }
  return "unknown";
}

std::string hex_byte(unsigned value) {
  static const char digits[] = "0123456789ABCDEF";
  return std::string("0x") + digits[(value >> 4) & 15] + digits[value & 15];
}

std::string shape_text(const std::vector<std::int64_t>& dims) {
  std::string text = "[";
  for (std::size_t i = 0; i < dims.size(); ++i) text += (i ? ", " : "") + std::to_string(dims[i]);
  return text + "]";
}

// One IDX file, open and its header read; `key` is the config key that names it, for the messages.
class IdxFile {
 public:
  IdxFile(const std::string& path, const char* key, std::size_t dimensions) : path_(path), key_(key) {
    namespace fs = std::filesystem;
    std::error_code ec;
    const auto status = fs::status(path, ec);
    if (!fs::exists(status)) {
      fail("cannot open it: no such file; install Debian's dataset-fashion-mnist (its files are in "
           "/usr/share/datasets/fashion-mnist/) or set " + key_ + " to your own IDX file");
    }
    if (fs::is_directory(status)) fail("is a folder, not an IDX file; name the file in it, e.g. " + example());
    if (fs::file_size(path, ec) == 0 && !ec) {
      fail("is empty (0 bytes); download it again or set " + key_ + " to another file");
    }
    file_ = gzopen(path.c_str(), "rb");
    if (!file_) fail("cannot open it: " + std::string(std::strerror(errno)));
    gzbuffer(file_, 1 << 17);
    read_header(dimensions);
  }
  ~IdxFile() {
    if (file_) gzclose(file_);
  }
  IdxFile(const IdxFile&) = delete;
  IdxFile& operator=(const IdxFile&) = delete;

  const std::vector<std::int64_t>& dims() const { return dims_; }
  const std::string& path() const { return path_; }
  const std::string& key() const { return key_; }

  [[noreturn]] void fail(const std::string& problem) const { throw UserError(path_ + " (" + key_ + "): " + problem); }

  // The data, kChunk bytes at a time, each chunk handed to `take` (offset, bytes, count); then the file must end.
  void read_data(const std::function<void(std::uint64_t, const unsigned char*, std::size_t)>& take) {
    std::uint64_t need = 1;
    for (const auto dim : dims_) need *= std::uint64_t(dim);
    std::vector<unsigned char> buffer(kChunk);
    std::uint64_t done = 0;
    while (done < need) {
      const std::size_t want = std::size_t(std::min<std::uint64_t>(kChunk, need - done));
      const std::size_t got = read(buffer.data(), want);
      if (got < want) {
        fail("the data is shorter than its header says: " + shape_text(dims_) + " needs " + std::to_string(need) +
             " bytes, the file has " + std::to_string(done + got) + " (truncated? download it again)");
      }
      take(done, buffer.data(), got);
      done += got;
    }
    unsigned char extra[4096];
    std::uint64_t more = 0;
    for (std::size_t got; (got = read(extra, sizeof extra)) > 0;) more += got;
    if (more > 0) {
      fail(std::to_string(more) + " bytes more than its header's " + shape_text(dims_) +
           " describes; is it an IDX file written with another header, or two files joined?");
    }
  }

 private:
  std::string example() const {
    return "/usr/share/datasets/fashion-mnist/" +
           std::string(key_ == "task.train_images"   ? "train-images-idx3-ubyte.gz"
                       : key_ == "task.train_labels" ? "train-labels-idx1-ubyte.gz"
                       : key_ == "task.test_images"  ? "t10k-images-idx3-ubyte.gz"
                                                     : "t10k-labels-idx1-ubyte.gz");
  }

  // Up to `bytes` decompressed bytes; fewer only at the end of the data. A damaged gzip stream is an error.
  std::size_t read(unsigned char* out, std::size_t bytes) {
    std::size_t got = 0;
    while (got < bytes) {
      const int n = gzread(file_, out + got, unsigned(std::min<std::size_t>(bytes - got, 1u << 30)));
      if (n < 0) gzip_failed();
      if (n == 0) break;
      got += std::size_t(n);
    }
    int code = Z_OK;
    gzerror(file_, &code);
    if (code != Z_OK) gzip_failed();  // e.g. a stream cut off before its end: gzread returns what it had
    return got;
  }

  [[noreturn]] void gzip_failed() const {
    int code = Z_OK;
    std::string message = gzerror(file_, &code);
    if (message.rfind(path_ + ": ", 0) == 0) message.erase(0, path_.size() + 2);  // zlib names the file too
    if (code == Z_ERRNO) fail("cannot read it: " + std::string(std::strerror(errno)));
    if (code == Z_BUF_ERROR) fail("the gzip stream is cut short (a truncated download?); download it again");
    fail("the gzip data is damaged (zlib: " + message + "); download it again");
  }

  void read_header(std::size_t dimensions) {
    unsigned char magic[4];
    if (read(magic, 4) < 4) fail("the IDX header is cut short (fewer than 4 bytes)");
    if (magic[0] != 0 || magic[1] != 0) {
      fail("not an IDX file: it starts with the bytes " + hex_byte(magic[0]) + " " + hex_byte(magic[1]) +
           ", an IDX file with 0x00 0x00 (MNIST's format; e.g. " + example() + ")");
    }
    if (magic[2] != kUnsignedByte) {
      fail("holds IDX data of type " + hex_byte(magic[2]) + " (" + type_name(magic[2]) +
           "); sweeplab reads unsigned bytes (0x08), as MNIST and Fashion-MNIST store their images and labels");
    }
    const std::size_t count = magic[3];
    std::vector<unsigned char> bytes(4 * count);
    if (read(bytes.data(), bytes.size()) < bytes.size()) {
      fail("the IDX header is cut short: it announces " + std::to_string(count) + " dimensions");
    }
    for (std::size_t i = 0; i < count; ++i) {
      const unsigned char* b = &bytes[4 * i];
      dims_.push_back((std::int64_t(b[0]) << 24) | (std::int64_t(b[1]) << 16) | (std::int64_t(b[2]) << 8) | b[3]);
    }
    if (count != dimensions) {
      const bool images = dimensions == 3;
      fail("has " + std::to_string(count) + " dimension" + (count == 1 ? "" : "s") + " " + shape_text(dims_) + "; " +
           (images ? "images need 3, [N, rows, cols] (is it a labels file?)"
                   : "labels need 1, [N] (is it an images file?)"));
    }
    if (dims_[0] == 0) fail("holds no " + std::string(dimensions == 3 ? "images" : "labels") + " (N = 0)");
    if (dimensions == 3 && (dims_[1] == 0 || dims_[2] == 0)) {
      fail("has images of " + std::to_string(dims_[1]) + " x " + std::to_string(dims_[2]) + " pixels: no pixels");
    }
  }

  std::string path_, key_;
  gzFile file_ = nullptr;
  std::vector<std::int64_t> dims_;
};

// A set: an images file and its labels file, one label per image, both read to their last byte. The pixels are
// kept (rows x height x width bytes) only when asked for; without, the images are only checked.
struct Images {
  std::int64_t rows = 0, height = 0, width = 0;
  std::vector<unsigned char> pixels, labels;
  std::int64_t pixel_count() const { return height * width; }
};

Images read_images(const std::string& images_path, const char* images_key, const std::string& labels_path,
                   const char* labels_key, const Images* training, bool keep_pixels) {
  IdxFile images(images_path, images_key, 3);
  IdxFile labels(labels_path, labels_key, 1);
  Images set;
  set.rows = images.dims()[0];
  set.height = images.dims()[1];
  set.width = images.dims()[2];
  if (labels.dims()[0] != set.rows) {
    labels.fail("holds " + std::to_string(labels.dims()[0]) + " labels but " + images.path() + " (" + images.key() +
                ") holds " + std::to_string(set.rows) + " images; they must be one label per image (a pair of files "
                "from the same set?)");
  }
  if (training && (set.height != training->height || set.width != training->width)) {
    images.fail("has images of " + std::to_string(set.height) + " x " + std::to_string(set.width) +
                " pixels, but the training images (task.train_images) are " + std::to_string(training->height) + " x " +
                std::to_string(training->width) + "; the test set must hold images of the same size");
  }
  if (keep_pixels) set.pixels.resize(std::size_t(set.rows * set.pixel_count()));
  images.read_data([&](std::uint64_t offset, const unsigned char* bytes, std::size_t count) {
    if (keep_pixels) std::memcpy(set.pixels.data() + offset, bytes, count);
  });
  set.labels.resize(std::size_t(set.rows));
  labels.read_data([&](std::uint64_t offset, const unsigned char* bytes, std::size_t count) {
    std::memcpy(set.labels.data() + offset, bytes, count);
  });
  return set;
}

void check_subset(const TaskConfig& task, std::int64_t rows) {
  if (task.subset > rows) {
    throw UserError(task.train_images + " (task.train_images): task.subset " + std::to_string(task.subset) +
                    " is more than its " + std::to_string(rows) + " images; set task.subset to at most " +
                    std::to_string(rows) + " (0: all of them)");
  }
}

}  // namespace

void check_idx_task(const TaskConfig& task) {
  const Images train =
      read_images(task.train_images, "task.train_images", task.train_labels, "task.train_labels", nullptr, false);
  check_subset(task, train.rows);
  read_images(task.test_images, "task.test_images", task.test_labels, "task.test_labels", &train, false);
}

TaskData read_idx_task(const TaskConfig& task) {
  Images train =
      read_images(task.train_images, "task.train_images", task.train_labels, "task.train_labels", nullptr, true);
  check_subset(task, train.rows);
  Images test = read_images(task.test_images, "task.test_images", task.test_labels, "task.test_labels", &train, true);
  const std::int64_t pixels = train.pixel_count();

  // task.subset: the first `subset` images of a shuffle by the data seed (batch_size_studies takes its random
  // subset the same way, the first N of a permutation).
  std::vector<std::int64_t> rows(std::size_t(train.rows));
  for (std::int64_t i = 0; i < train.rows; ++i) rows[std::size_t(i)] = i;
  if (task.subset > 0) {
    rows = tasks::shuffled_indices(train.rows, std::uint64_t(task.data_seed));
    rows.resize(std::size_t(task.subset));
  }

  TaskData data;
  data.inputs = pixels;
  data.n_train = std::int64_t(rows.size());
  data.n_test = test.rows;
  unsigned char largest = 0;
  for (const auto label : train.labels) largest = std::max(largest, label);
  for (const auto label : test.labels) largest = std::max(largest, label);
  data.outputs = std::max<std::int64_t>(2, std::int64_t(largest) + 1);
  data.loss = task.class_loss == "mse" ? LossKind::OneHotMse : LossKind::Multiclass;

  // unit: byte / 255. standardized: then minus the mean and over the sd of every pixel of the training images used.
  double shift = 0.0, scale = 1.0 / 255.0;
  if (task.pixels == "standardized") {
    double sum = 0.0, squares = 0.0;
    for (const auto row : rows) {
      const unsigned char* image = &train.pixels[std::size_t(row * pixels)];
      for (std::int64_t p = 0; p < pixels; ++p) sum += image[p], squares += double(image[p]) * image[p];
    }
    const double count = double(data.n_train) * double(pixels), mean = sum / count;
    const double sd = std::sqrt(std::max(0.0, squares / count - mean * mean));
    shift = mean;
    scale = sd > 0.0 ? 1.0 / sd : 1.0;  // images of one colour: centred only
  }
  const auto convert = [&](const unsigned char* image, std::vector<float>& out) {
    for (std::int64_t p = 0; p < pixels; ++p) out.push_back(float((double(image[p]) - shift) * scale));
  };
  data.x_train.reserve(std::size_t(data.n_train * pixels));
  for (const auto row : rows) {
    convert(&train.pixels[std::size_t(row * pixels)], data.x_train);
    data.y_train.push_back(float(train.labels[std::size_t(row)]));
  }
  train.pixels = {};
  data.x_test.reserve(std::size_t(data.n_test * pixels));
  for (std::int64_t row = 0; row < test.rows; ++row) {
    convert(&test.pixels[std::size_t(row * pixels)], data.x_test);
    data.y_test.push_back(float(test.labels[std::size_t(row)]));
  }
  return data;
}

}  // namespace sweeplab
