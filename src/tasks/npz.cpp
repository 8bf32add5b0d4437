// .npz files: a zip archive (libzip) of .npy arrays (the small header parsed here). Numbers are read in chunks
// and converted straight to float, so a large file is never held twice in its own dtype.
#include <zip.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>

#include "random.hpp"
#include "sweeplab/core/error.hpp"
#include "sweeplab/tasks/tasks.hpp"

namespace sweeplab {
namespace {

constexpr double kMaxClasses = 100000;  // like csv: integer labels beyond this are not classes

enum class Kind { Float, Signed, Unsigned, Bool };

struct Npy {
  std::string descr;
  Kind kind = Kind::Float;
  std::size_t item = 0;  // bytes per value
  std::vector<std::int64_t> shape;
  std::uint64_t count = 1;  // values
  std::string shape_text() const {
    std::string text = "(";
    for (std::size_t i = 0; i < shape.size(); ++i) text += (i ? ", " : "") + std::to_string(shape[i]);
    return text + (shape.size() == 1 ? ",)" : ")");
  }
};

std::string join(const std::vector<std::string>& items) {
  std::string text;
  for (const auto& item : items) text += (text.empty() ? "" : ", ") + item;
  return text;
}

// One array of the archive: where it is, what the error messages call it.
struct Member {
  std::string key, config_key;  // "x", "task.inputs_key"
  zip_uint64_t index = 0;
  Npy npy;
  std::uint64_t data_offset = 0;  // bytes of the .npy header before the data
};

class NpzFile {
 public:
  explicit NpzFile(const std::string& path) : path_(path) {
    int code = 0;
    zip_ = zip_open(path.c_str(), ZIP_RDONLY | ZIP_CHECKCONS, &code);
    if (zip_) return;
    std::string why;
    switch (code) {
      case ZIP_ER_NOENT:
        why = "cannot open the .npz file (task.path): no such file";
        break;
      case ZIP_ER_OPEN:
        why = "cannot open the .npz file (task.path): " + std::string(std::strerror(errno));
        break;
      case ZIP_ER_NOZIP:
        why = "not a zip archive, or a truncated one (an .npz file is a zip of .npy arrays, as numpy.savez writes)";
        break;
      case ZIP_ER_INCONS:
        why = "the zip archive is inconsistent: truncated or damaged (write it again with numpy.savez)";
        break;
      default: {
        zip_error_t error;
        zip_error_init_with_code(&error, code);
        why = "cannot read the .npz file: " + std::string(zip_error_strerror(&error));
        zip_error_fini(&error);
      }
    }
    throw UserError(path + ": " + why);
  }
  ~NpzFile() {
    if (zip_) zip_discard(zip_);
  }
  NpzFile(const NpzFile&) = delete;
  NpzFile& operator=(const NpzFile&) = delete;

  const std::string& path() const { return path_; }

  [[noreturn]] void fail(const Member& member, const std::string& problem) const {
    throw UserError(path_ + ": array '" + member.key + "' (" + member.config_key + "): " + problem);
  }

  // The member "<key>.npy" (or "<key>"), its header read and checked.
  Member open(const std::string& key, const std::string& config_key) const {
    Member member{key, config_key, 0, {}, 0};
    zip_int64_t index = zip_name_locate(zip_, (key + ".npy").c_str(), 0);
    if (index < 0) index = zip_name_locate(zip_, key.c_str(), 0);
    if (index < 0) {
      std::vector<std::string> names;
      const zip_int64_t entries = zip_get_num_entries(zip_, 0);
      for (zip_int64_t i = 0; i < entries; ++i) {
        const char* name = zip_get_name(zip_, zip_uint64_t(i), 0);
        if (!name) continue;
        std::string text = name;
        if (text.size() > 4 && text.compare(text.size() - 4, 4, ".npy") == 0) text.resize(text.size() - 4);
        names.push_back("'" + text + "'");
      }
      throw UserError(path_ + ": no array '" + key + "' (" + config_key + "); the file has " +
                      (names.empty() ? std::string("no arrays") : join(names)) + "; set " + config_key +
                      " to one of them");
    }
    member.index = zip_uint64_t(index);
    read_header(member);
    return member;
  }

  // The member's values converted to T (float or double), `out` holding npy.count of them.
  template <class T>
  void read(const Member& member, T* out) const {
    Stream stream(*this, member);
    stream.skip(member.data_offset);
    const std::size_t item = member.npy.item, chunk_values = (std::size_t(1) << 20) / item;
    std::vector<unsigned char> buffer(chunk_values * item);
    std::uint64_t done = 0;
    while (done < member.npy.count) {
      const std::size_t n = std::size_t(std::min<std::uint64_t>(chunk_values, member.npy.count - done));
      if (!stream.read(buffer.data(), n * item)) {
        fail(member, "the data is shorter than its header says: shape " + member.npy.shape_text() + " of " +
                         member.npy.descr + " needs " + std::to_string(member.npy.count * item) + " bytes");
      }
      convert(member.npy, buffer.data(), n, out + done);
      done += n;
    }
  }

 private:
  // A member's bytes in order (zip_fread), with errors that name the file and array.
  class Stream {
   public:
    Stream(const NpzFile& file, const Member& member) : file_(file), member_(member) {
      handle_ = zip_fopen_index(file.zip_, member.index, 0);
      if (!handle_) file.fail(member, "cannot read it: " + std::string(zip_strerror(file.zip_)));
    }
    ~Stream() { zip_fclose(handle_); }
    // false: the member ended first
    bool read(void* data, std::size_t bytes) {
      std::size_t got = 0;
      while (got < bytes) {
        const zip_int64_t n = zip_fread(handle_, static_cast<char*>(data) + got, bytes - got);
        if (n < 0) {
          file_.fail(member_, "cannot read it (truncated or damaged?): " + std::string(zip_file_strerror(handle_)));
        }
        if (n == 0) return false;
        got += std::size_t(n);
      }
      return true;
    }
    void skip(std::uint64_t bytes) {
      std::vector<char> skipped(bytes);
      if (!read(skipped.data(), skipped.size())) file_.fail(member_, "the .npy header is cut short");
    }

   private:
    const NpzFile& file_;
    const Member& member_;
    zip_file_t* handle_ = nullptr;
  };

  // .npy format 1.0 / 2.0 / 3.0: "\x93NUMPY", major, minor, header length (2 bytes; 4 from 2.0), then a
  // Python dict literal {'descr': '<f4', 'fortran_order': False, 'shape': (6, 2), }.
  void read_header(Member& member) const {
    Stream stream(*this, member);
    unsigned char prefix[8];
    if (!stream.read(prefix, 8) || std::memcmp(prefix, "\x93NUMPY", 6) != 0) {
      fail(member, "not a .npy array (no \\x93NUMPY magic; is the member really a numpy array?)");
    }
    const int major = prefix[6];
    if (major < 1 || major > 3)
      fail(member, "unsupported .npy format version " + std::to_string(major) + "." + std::to_string(prefix[7]));
    unsigned char length_bytes[4] = {0, 0, 0, 0};
    const std::size_t length_size = major == 1 ? 2 : 4;
    if (!stream.read(length_bytes, length_size)) fail(member, "the .npy header is cut short");
    std::uint32_t length = 0;
    for (std::size_t i = length_size; i-- > 0;) length = (length << 8) | length_bytes[i];
    if (length > (1u << 20)) fail(member, "bad .npy header: " + std::to_string(length) + " bytes long");
    std::string header(length, '\0');
    if (!stream.read(header.data(), length)) fail(member, "the .npy header is cut short");
    parse_header(member, header);
    const std::uint64_t header_bytes = 8 + length_size + length;

    // The data must be as long as the header says (checked without reading it, from the zip directory).
    zip_stat_t stat;
    zip_stat_init(&stat);
    if (zip_stat_index(zip_, member.index, 0, &stat) == 0 && (stat.valid & ZIP_STAT_SIZE)) {
      const std::uint64_t need = member.npy.count * member.npy.item;
      if (stat.size < header_bytes + need) {
        fail(member, "the data is shorter than its header says: shape " + member.npy.shape_text() + " of " +
                         member.npy.descr + " needs " + std::to_string(need) + " bytes, the file has " +
                         std::to_string(stat.size - header_bytes));
      }
    }
    member.data_offset = header_bytes;
  }

  void parse_header(Member& member, const std::string& header) const {
    const auto bad = [&](const std::string& what) {
      fail(member, "bad .npy header (" + what + "): " + header.substr(0, header.find_last_not_of(" \n") + 1));
    };
    const auto value_of = [&](const std::string& name) {
      std::size_t at = header.find("'" + name + "'");
      if (at == std::string::npos) at = header.find("\"" + name + "\"");
      if (at == std::string::npos) bad("no '" + name + "'");
      at = header.find(':', at);
      if (at == std::string::npos) bad("no value for '" + name + "'");
      at = header.find_first_not_of(" ", at + 1);
      if (at == std::string::npos) bad("no value for '" + name + "'");
      return at;
    };
    Npy& npy = member.npy;
    // descr
    std::size_t at = value_of("descr");
    const char quote = header[at];
    if (quote == '[') fail(member, "unsupported dtype: a structured array; save a plain numeric array");
    if (quote != '\'' && quote != '"') bad("descr is not a string");
    const std::size_t end = header.find(quote, at + 1);
    if (end == std::string::npos) bad("descr is not a string");
    npy.descr = header.substr(at + 1, end - at - 1);
    const std::string& d = npy.descr;
    const std::string supported = "float32, float64, int8/16/32/64, uint8/16/32/64 or bool, little-endian";
    bool ok = d.size() >= 3 && (d[0] == '<' || d[0] == '|' || d[0] == '=');
    if (ok) {
      const char type = d[1];
      const std::string size = d.substr(2);
      npy.kind = type == 'f' ? Kind::Float : type == 'i' ? Kind::Signed : type == 'u' ? Kind::Unsigned : Kind::Bool;
      ok = (type == 'f' && (size == "4" || size == "8")) ||
           ((type == 'i' || type == 'u') && (size == "1" || size == "2" || size == "4" || size == "8")) ||
           (type == 'b' && size == "1");
      if (ok) npy.item = std::size_t(size[0] - '0');
      if (ok && npy.item > 1 && d[0] == '|') ok = false;
    }
    if (!ok) {
      fail(member, "unsupported dtype '" + d + "'; expected " + supported + " (e.g. convert with .astype('float32'))");
    }
    // fortran_order
    at = value_of("fortran_order");
    if (header.compare(at, 4, "True") == 0) {
      fail(member, "stored in Fortran order; save it in C order (numpy.ascontiguousarray) and write the file again");
    }
    if (header.compare(at, 5, "False") != 0) bad("fortran_order is neither True nor False");
    // shape
    at = value_of("shape");
    if (header[at] != '(') bad("shape is not a tuple");
    const std::size_t close = header.find(')', at);
    if (close == std::string::npos) bad("shape is not a tuple");
    const std::string inside = header.substr(at + 1, close - at - 1);
    npy.shape.clear();
    npy.count = 1;
    std::size_t pos = 0;
    while (pos < inside.size()) {
      pos = inside.find_first_not_of(" ,", pos);
      if (pos == std::string::npos) break;
      std::size_t stop = pos;
      while (stop < inside.size() && std::isdigit(static_cast<unsigned char>(inside[stop]))) ++stop;
      if (stop == pos || stop - pos > 15) bad("shape holds something that is not a size");
      const std::int64_t dim = std::stoll(inside.substr(pos, stop - pos));
      npy.shape.push_back(dim);
      if (dim != 0 && npy.count > (std::uint64_t(1) << 48) / std::uint64_t(dim)) bad("shape is too large");
      npy.count *= std::uint64_t(dim);
      pos = stop;
      if (pos < inside.size() && inside[pos] == 'L') ++pos;  // Python 2 longs
      if (pos < inside.size() && inside[pos] != ',' && inside[pos] != ' ')
        bad("shape holds something that is not a size");
    }
  }

  template <class S, class T>
  static void convert_as(const unsigned char* bytes, std::size_t n, T* out) {
    for (std::size_t i = 0; i < n; ++i) {
      S value;
      std::memcpy(&value, bytes + i * sizeof(S), sizeof(S));
      out[i] = T(value);
    }
  }

  // Little-endian data on a little-endian machine (x86-64, aarch64): copied as it is.
  template <class T>
  static void convert(const Npy& npy, const unsigned char* bytes, std::size_t n, T* out) {
    switch (npy.kind) {
      case Kind::Float:
        if (npy.item == 4)
          convert_as<float>(bytes, n, out);
        else
          convert_as<double>(bytes, n, out);
        return;
      case Kind::Signed:
        if (npy.item == 1)
          convert_as<std::int8_t>(bytes, n, out);
        else if (npy.item == 2)
          convert_as<std::int16_t>(bytes, n, out);
        else if (npy.item == 4)
          convert_as<std::int32_t>(bytes, n, out);
        else
          convert_as<std::int64_t>(bytes, n, out);
        return;
      case Kind::Unsigned:
      case Kind::Bool:
        if (npy.item == 1)
          convert_as<std::uint8_t>(bytes, n, out);
        else if (npy.item == 2)
          convert_as<std::uint16_t>(bytes, n, out);
        else if (npy.item == 4)
          convert_as<std::uint32_t>(bytes, n, out);
        else
          convert_as<std::uint64_t>(bytes, n, out);
        return;
    }
  }

  std::string path_;
  zip_t* zip_ = nullptr;
};

// What the file holds, checked without reading the inputs' data (the labels are read: they are small).
struct NpzPlan {
  Member x, y;
  std::int64_t rows = 0, features = 0, outputs = 1;
  LossKind loss = LossKind::Regression;
  std::vector<double> labels;  // rows x outputs
};

NpzPlan inspect(const NpzFile& file, const TaskConfig& task) {
  NpzPlan plan;
  plan.x = file.open(task.inputs_key, "task.inputs_key");
  plan.y = file.open(task.labels_key, "task.labels_key");
  const Npy &x = plan.x.npy, &y = plan.y.npy;
  if (x.shape.empty()) file.fail(plan.x, "is a scalar, expected N rows of features, e.g. shape (N, D)");
  if (y.shape.empty() || y.shape.size() > 2) {
    file.fail(plan.y, "has shape " + y.shape_text() + ", expected N labels: (N,) or (N, outputs)");
  }
  plan.rows = x.shape[0];
  if (y.shape[0] != plan.rows) {
    throw UserError(file.path() + ": '" + plan.x.key + "' has " + std::to_string(plan.rows) + " rows but '" +
                    plan.y.key + "' has " + std::to_string(y.shape[0]) +
                    " (task.inputs_key, task.labels_key: one label per row)");
  }
  if (plan.rows == 0) file.fail(plan.x, "has no rows");
  plan.features = std::int64_t(x.count / std::uint64_t(plan.rows));
  if (plan.features == 0) file.fail(plan.x, "has shape " + x.shape_text() + ": no features per row");
  plan.outputs = y.shape.size() == 2 ? y.shape[1] : 1;
  if (plan.outputs == 0) file.fail(plan.y, "has shape " + y.shape_text() + ": no labels per row");

  plan.labels.resize(std::size_t(y.count));
  file.read(plan.y, plan.labels.data());
  if (y.kind == Kind::Float) {  // floats: a regression with `outputs` targets
    plan.loss = LossKind::Regression;
    for (std::size_t i = 0; i < plan.labels.size(); ++i) {
      if (!std::isfinite(plan.labels[i])) {
        file.fail(plan.y, "row " + std::to_string(i / std::size_t(plan.outputs)) + " holds " +
                              std::to_string(plan.labels[i]) + "; labels must be finite");
      }
    }
    return plan;
  }
  // integers (or bools): class indexes
  if (plan.outputs != 1) {
    file.fail(plan.y, "has shape " + y.shape_text() +
                          " of integers; class labels must be one per row, shape (N,) "
                          "(for a regression save floats)");
  }
  double largest = 0;
  for (std::size_t i = 0; i < plan.labels.size(); ++i) {
    const double label = plan.labels[i];
    if (label < 0) {
      file.fail(plan.y, "row " + std::to_string(i) + " holds the class " + std::to_string(std::int64_t(label)) +
                            "; classes must be 0, 1, 2, ...");
    }
    largest = std::max(largest, label);
  }
  if (largest >= kMaxClasses) {
    file.fail(plan.y, "holds the class " + std::to_string(std::int64_t(largest)) + "; at most " +
                          std::to_string(std::int64_t(kMaxClasses)) + " classes (for a regression save floats)");
  }
  const std::int64_t classes = std::max<std::int64_t>(2, std::int64_t(largest) + 1);
  if (classes == 2 && task.binary_loss != "cross_entropy") {
    plan.loss = LossKind::Binary;
    plan.outputs = 1;
  } else {
    plan.loss = LossKind::Multiclass;
    plan.outputs = classes;
  }
  return plan;
}

std::int64_t test_rows(const TaskConfig& task, std::int64_t rows) {
  const std::int64_t n_test = std::llround(double(rows) * task.test_fraction);
  if (rows - n_test < 1) {
    throw UserError(task.path + ": " + std::to_string(rows) + " rows leave no training rows after the test split");
  }
  return n_test;
}

// Rows reordered in place so that row i becomes the old row order[i] (cycle by cycle; one spare row).
void permute_rows(std::vector<float>& values, std::int64_t width, const std::vector<std::int64_t>& order) {
  const auto w = std::size_t(width);
  std::vector<float> spare(w);
  std::vector<bool> done(order.size(), false);
  for (std::size_t start = 0; start < order.size(); ++start) {
    if (done[start] || std::size_t(order[start]) == start) continue;
    std::copy_n(values.begin() + std::ptrdiff_t(start * w), w, spare.begin());
    std::size_t at = start;
    for (;;) {
      done[at] = true;
      const auto from = std::size_t(order[at]);
      if (from == start) {
        std::copy(spare.begin(), spare.end(), values.begin() + std::ptrdiff_t(at * w));
        break;
      }
      std::copy_n(values.begin() + std::ptrdiff_t(from * w), w, values.begin() + std::ptrdiff_t(at * w));
      at = from;
    }
  }
}

// The first n_test rows (of a shuffled array) to test, the rest to train.
void split_rows(std::vector<float>& all, std::int64_t width, std::int64_t n_test, std::vector<float>& train,
                std::vector<float>& test) {
  const auto cut = std::ptrdiff_t(n_test * width);
  test.assign(all.begin(), all.begin() + cut);
  all.erase(all.begin(), all.begin() + cut);
  train = std::move(all);
}

}  // namespace

void check_npz_task(const TaskConfig& task) {
  const NpzFile file(task.path);
  test_rows(task, inspect(file, task).rows);
}

TaskData read_npz_task(const TaskConfig& task) {
  const NpzFile file(task.path);
  NpzPlan plan = inspect(file, task);
  const std::int64_t n_test = test_rows(task, plan.rows);
  std::vector<float> x(std::size_t(plan.rows * plan.features));
  file.read(plan.x, x.data());
  for (std::size_t i = 0; i < x.size(); ++i) {
    if (!std::isfinite(x[i])) {
      file.fail(plan.x, "row " + std::to_string(i / std::size_t(plan.features)) + " holds " + std::to_string(x[i]) +
                            "; inputs must be finite");
    }
  }
  const std::int64_t label_width = plan.loss == LossKind::Regression ? plan.outputs : 1;
  std::vector<float> y(plan.labels.begin(), plan.labels.end());
  plan.labels = {};

  // The split: rows shuffled by data_seed, the first round(rows x test_fraction) held out as the test set.
  const auto order = tasks::shuffled_indices(plan.rows, std::uint64_t(task.data_seed));
  permute_rows(x, plan.features, order);
  permute_rows(y, label_width, order);
  TaskData data;
  data.loss = plan.loss;
  data.inputs = plan.features;
  data.outputs = plan.outputs;
  data.n_test = n_test;
  data.n_train = plan.rows - n_test;
  split_rows(x, plan.features, n_test, data.x_train, data.x_test);
  split_rows(y, label_width, n_test, data.y_train, data.y_test);
  return data;
}

}  // namespace sweeplab
