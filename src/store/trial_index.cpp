#include "sweeplab/store/trial_index.hpp"

#include <sqlite3.h>

#include <cstring>
#include <filesystem>
#include <stdexcept>

#include "sweeplab/config/schema.hpp"
#include "sweeplab/core/fs.hpp"

namespace fs = std::filesystem;

namespace sweeplab {
namespace {

// The layout of the file. A file of another version is rebuilt, so a new field in the summary only needs this
// number raised.
constexpr int kIndexVersion = 3;

constexpr const char* kSchema = R"sql(
CREATE TABLE entries(
  id INTEGER PRIMARY KEY,
  key TEXT NOT NULL,
  value TEXT NOT NULL,
  UNIQUE(key, value));
CREATE TABLE trials(
  folder TEXT PRIMARY KEY,
  hash INTEGER NOT NULL,
  config BLOB NOT NULL,
  status INTEGER NOT NULL,
  has_files INTEGER NOT NULL,
  summary BLOB,
  last BLOB,
  unreadable INTEGER NOT NULL,
  problem TEXT NOT NULL,
  planned INTEGER NOT NULL,
  dirty INTEGER NOT NULL,
  generation INTEGER NOT NULL);
)sql";

// ---- a compact binary form of summaries and records (the index's own; never read by people) ----

class Writer {
 public:
  void u8(std::uint8_t v) { out_.push_back(char(v)); }
  void i64(std::int64_t v) { raw(&v, sizeof v); }
  void f64(double v) { raw(&v, sizeof v); }
  void str(const std::string& v) {
    i64(std::int64_t(v.size()));
    out_ += v;
  }
  void opt(const std::optional<double>& v) {
    u8(v ? 1 : 0);
    if (v) f64(*v);
  }
  void opt(const std::optional<std::int64_t>& v) {
    u8(v ? 1 : 0);
    if (v) i64(*v);
  }
  std::string take() { return std::move(out_); }

 private:
  void raw(const void* p, std::size_t n) { out_.append(static_cast<const char*>(p), n); }
  std::string out_;
};

class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}
  std::uint8_t u8() {
    need(1);
    return std::uint8_t(in_[at_++]);
  }
  std::int64_t i64() {
    std::int64_t v;
    raw(&v, sizeof v);
    return v;
  }
  double f64() {
    double v;
    raw(&v, sizeof v);
    return v;
  }
  std::string str() {
    const auto n = i64();
    if (n < 0) throw std::runtime_error("index: a negative length");
    need(std::size_t(n));
    std::string v(in_.substr(at_, std::size_t(n)));
    at_ += std::size_t(n);
    return v;
  }
  std::optional<double> opt_f64() { return u8() ? std::optional<double>(f64()) : std::nullopt; }
  std::optional<std::int64_t> opt_i64() { return u8() ? std::optional<std::int64_t>(i64()) : std::nullopt; }
  bool done() const { return at_ == in_.size(); }

 private:
  void need(std::size_t n) {
    if (in_.size() - at_ < n) throw std::runtime_error("index: a value ends early");
  }
  void raw(void* p, std::size_t n) {
    need(n);
    std::memcpy(p, in_.data() + at_, n);
    at_ += n;
  }
  std::string_view in_;
  std::size_t at_ = 0;
};

void write_record(Writer& w, const EvalRecord& r) {
  w.i64(r.epoch);
  w.i64(r.step);
  w.i64(r.samples);
  w.f64(r.lr);
  w.opt(r.effective_lr);
  w.i64(r.batch_size);
  w.f64(r.train_loss);
  w.opt(r.last_batch_loss);
  w.opt(r.test_loss);
  w.opt(r.train_acc);
  w.opt(r.test_acc);
  w.f64(r.elapsed_s);
  w.opt(r.episode_return);
  w.opt(r.epsilon);
  w.opt(r.greedy_return);
  w.opt(r.greedy_length);
  w.opt(r.greedy_optimal_fraction);
  w.opt(r.noise_scale);
  w.u8(r.diverged ? 1 : 0);
}

EvalRecord read_record(Reader& r) {
  EvalRecord e;
  e.epoch = r.i64();
  e.step = r.i64();
  e.samples = r.i64();
  e.lr = r.f64();
  e.effective_lr = r.opt_f64();
  e.batch_size = r.i64();
  e.train_loss = r.f64();
  e.last_batch_loss = r.opt_f64();
  e.test_loss = r.opt_f64();
  e.train_acc = r.opt_f64();
  e.test_acc = r.opt_f64();
  e.elapsed_s = r.f64();
  e.episode_return = r.opt_f64();
  e.epsilon = r.opt_f64();
  e.greedy_return = r.opt_f64();
  e.greedy_length = r.opt_i64();
  e.greedy_optimal_fraction = r.opt_f64();
  e.noise_scale = r.opt_f64();
  e.diverged = r.u8() != 0;
  return e;
}

std::string encode_summary(const StoredSummary& s) {
  Writer w;
  w.u8(std::uint8_t(s.status));
  w.i64(s.steps);
  w.i64(s.epochs);
  w.i64(s.samples);
  w.f64(s.wall_time_s);
  w.i64(std::int64_t(s.best.size()));
  for (const auto& best : s.best) {
    w.str(best.metric);
    w.f64(best.value);
    w.i64(best.step);
    w.i64(best.epoch);
  }
  w.i64(std::int64_t(s.targets.size()));
  for (const auto& target : s.targets) {
    w.str(target.target);
    w.u8(target.reached ? 1 : 0);
    w.i64(target.step);
    w.i64(target.samples);
    w.i64(target.epoch);
  }
  w.u8(s.stopped_at_target ? 1 : 0);
  w.u8(s.final ? 1 : 0);
  if (s.final) write_record(w, *s.final);
  w.opt(s.diverged_at_step);
  w.i64(std::int64_t(s.warnings.size()));
  for (const auto& warning : s.warnings) w.str(warning);
  w.str(s.error);
  w.str(s.skip_reason);
  w.str(s.signal);
  w.opt(s.exit_code ? std::optional<std::int64_t>(*s.exit_code) : std::nullopt);
  w.str(s.slurm_job);
  return w.take();
}

StoredSummary decode_summary(std::string_view bytes) {
  Reader r(bytes);
  StoredSummary s;
  const auto status = r.u8();
  if (status > std::uint8_t(TrialStatus::Unreadable)) throw std::runtime_error("index: an unknown status");
  s.status = TrialStatus(status);
  s.steps = r.i64();
  s.epochs = r.i64();
  s.samples = r.i64();
  s.wall_time_s = r.f64();
  const auto bests = r.i64();
  if (bests > 0 && bests < 1000) s.best.reserve(std::size_t(bests));
  for (auto n = bests; n > 0; --n) {
    BestMetric best;
    best.metric = r.str();
    best.value = r.f64();
    best.step = r.i64();
    best.epoch = r.i64();
    s.best.push_back(std::move(best));
  }
  const auto targets = r.i64();
  if (targets > 0 && targets < 1000) s.targets.reserve(std::size_t(targets));
  for (auto n = targets; n > 0; --n) {
    TargetResult target;
    target.target = r.str();
    target.reached = r.u8() != 0;
    target.step = r.i64();
    target.samples = r.i64();
    target.epoch = r.i64();
    s.targets.push_back(std::move(target));
  }
  s.stopped_at_target = r.u8() != 0;
  if (r.u8()) s.final = read_record(r);
  s.diverged_at_step = r.opt_i64();
  for (auto n = r.i64(); n > 0; --n) s.warnings.push_back(r.str());
  s.error = r.str();
  s.skip_reason = r.str();
  s.signal = r.str();
  if (const auto code = r.opt_i64()) s.exit_code = int(*code);
  s.slurm_job = r.str();
  if (!r.done()) throw std::runtime_error("index: a summary longer than its fields");
  return s;
}

std::string encode_record(const EvalRecord& record) {
  Writer w;
  write_record(w, record);
  return w.take();
}

EvalRecord decode_record(std::string_view bytes) {
  Reader r(bytes);
  EvalRecord record = read_record(r);
  if (!r.done()) throw std::runtime_error("index: a record longer than its fields");
  return record;
}

// ---- SQLite ----

class Statement {
 public:
  Statement(sqlite3* db, const char* sql) : db_(db) {
    if (sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr) != SQLITE_OK) fail("prepare");
  }
  ~Statement() { sqlite3_finalize(stmt_); }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  Statement& bind(int i, std::int64_t v) {
    check(sqlite3_bind_int64(stmt_, i, v));
    return *this;
  }
  Statement& bind(int i, const std::string& v) {
    check(sqlite3_bind_text(stmt_, i, v.data(), int(v.size()), SQLITE_TRANSIENT));
    return *this;
  }
  Statement& bind_blob(int i, const std::string& v) {
    check(sqlite3_bind_blob(stmt_, i, v.data(), int(v.size()), SQLITE_TRANSIENT));
    return *this;
  }
  Statement& bind_null(int i) {
    check(sqlite3_bind_null(stmt_, i));
    return *this;
  }
  // true: a row is there to read.
  bool step() {
    const int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc != SQLITE_DONE) fail("step");
    return false;
  }
  void run() {
    while (step()) {
    }
    reset();
  }
  void reset() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
  std::int64_t integer(int i) const { return sqlite3_column_int64(stmt_, i); }
  std::string_view text(int i) const {
    const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, i));
    return p ? std::string_view(p, std::size_t(sqlite3_column_bytes(stmt_, i))) : std::string_view();
  }
  std::optional<std::string_view> blob(int i) const {
    if (sqlite3_column_type(stmt_, i) == SQLITE_NULL) return std::nullopt;
    const auto* p = static_cast<const char*>(sqlite3_column_blob(stmt_, i));
    return std::string_view(p ? p : "", std::size_t(sqlite3_column_bytes(stmt_, i)));
  }

 private:
  void check(int rc) {
    if (rc != SQLITE_OK) fail("bind");
  }
  [[noreturn]] void fail(const char* what) {
    throw StorageError(std::string("trial index: ") + what + ": " + sqlite3_errmsg(db_));
  }
  sqlite3* db_;
  sqlite3_stmt* stmt_ = nullptr;
};

void exec(sqlite3* db, const char* sql) {
  char* message = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &message) != SQLITE_OK) {
    const std::string text = message ? message : sqlite3_errmsg(db);
    sqlite3_free(message);
    throw StorageError(std::string("trial index: ") + text);
  }
}

// One write transaction: BEGIN IMMEDIATE takes the write lock at once (waiting up to the busy timeout), so two
// writers never deadlock upgrading read locks; rolled back unless committed.
class Transaction {
 public:
  explicit Transaction(sqlite3* db) : db_(db) { exec(db, "BEGIN IMMEDIATE"); }
  ~Transaction() {
    if (db_) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
  }
  void commit() {
    exec(db_, "COMMIT");
    db_ = nullptr;
  }

 private:
  sqlite3* db_;
};

int user_version(sqlite3* db) {
  Statement version(db, "PRAGMA user_version");
  return version.step() ? int(version.integer(0)) : 0;
}

// The index's file is usable: its version, its tables. Throws StorageError (damaged) otherwise.
bool current_layout(sqlite3* db) {
  const int version = user_version(db);
  if (version == kIndexVersion) {
    Statement check(db, "SELECT count(*) FROM sqlite_master WHERE name IN ('entries', 'trials')");
    return check.step() && check.integer(0) == 2;
  }
  return false;
}

sqlite3* open_file(const std::string& path, bool create) {
  sqlite3* db = nullptr;
  const int flags = SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0) | SQLITE_OPEN_NOMUTEX;
  if (sqlite3_open_v2(path.c_str(), &db, flags, nullptr) != SQLITE_OK) {
    sqlite3_close(db);
    return nullptr;
  }
  sqlite3_busy_timeout(db, 60000);
  return db;
}

// Makes the tables in an empty file (one that is new, or whose damaged content was removed).
void make_layout(sqlite3* db) {
  Transaction transaction(db);
  exec(db, "DROP TABLE IF EXISTS trials; DROP TABLE IF EXISTS entries;");
  exec(db, kSchema);
  exec(db, ("PRAGMA user_version = " + std::to_string(kIndexVersion)).c_str());
  transaction.commit();
}

std::string encode_ids(const std::vector<std::uint32_t>& ids) {
  std::string out(ids.size() * sizeof(std::uint32_t), '\0');
  if (!ids.empty()) std::memcpy(out.data(), ids.data(), out.size());
  return out;
}

}  // namespace

std::unique_ptr<TrialIndex> TrialIndex::open(const std::string& sweep_dir, bool create, bool* rebuilt) {
  if (rebuilt) *rebuilt = false;
  const std::string path = (fs::path(sweep_dir) / kFileName).string();
  std::error_code ec;
  const bool existed = fs::exists(path, ec);
  if (!existed && !create) return nullptr;
  sqlite3* db = open_file(path, create);
  if (!db) return nullptr;
  std::unique_ptr<TrialIndex> index(new TrialIndex(db));
  try {
    sqlite3_exec(db, "PRAGMA synchronous = NORMAL", nullptr, nullptr, nullptr);
    bool usable = false;
    try {
      usable = current_layout(db);
    } catch (const StorageError&) {  // not a database, or damaged: made anew below
    }
    if (!usable) {
      if (existed) {
        // A damaged file may not even let SQLite start a transaction: a new, empty one takes its place.
        index.reset();
        fs::remove(path, ec);
        fs::remove(path + "-journal", ec);
        db = open_file(path, true);
        if (!db) return nullptr;
        index.reset(new TrialIndex(db));
        sqlite3_exec(db, "PRAGMA synchronous = NORMAL", nullptr, nullptr, nullptr);
        if (rebuilt) *rebuilt = true;
      }
      if (!current_layout(db)) make_layout(db);
    }
    index->load_entries();
  } catch (const StorageError&) {
    return nullptr;  // a read-only file, a lock that never came: the files are read instead
  }
  return index;
}

TrialIndex::~TrialIndex() { sqlite3_close(db_); }

void TrialIndex::load_entries() {
  to_pool_.assign(1, CompactConfig::kDefaultEntry);
  Statement select(db_, "SELECT id, key, value FROM entries ORDER BY id");
  while (select.step()) {
    const auto id = std::size_t(select.integer(0));
    const std::size_t field = field_index(std::string(select.text(1)));
    std::uint32_t entry = CompactConfig::kDefaultEntry;
    if (field < schema().size()) {
      try {
        entry = CompactConfig::intern_entry(field, select.text(2));
      } catch (const std::invalid_argument&) {  // an entry of another build's keys: its rows are read from files
      }
    }
    if (id >= to_pool_.size()) to_pool_.resize(id + 1, CompactConfig::kDefaultEntry);
    to_pool_[id] = entry;
    if (entry != CompactConfig::kDefaultEntry) {
      if (entry >= from_pool_.size()) from_pool_.resize(entry + 1, 0);
      from_pool_[entry] = std::uint32_t(id);
    }
  }
}

std::uint32_t TrialIndex::entry_id(std::uint32_t pool_entry) {
  if (pool_entry < from_pool_.size() && from_pool_[pool_entry] != 0) return from_pool_[pool_entry];
  const std::string key = schema()[CompactConfig::entry_field(pool_entry)].key;
  const std::string& value = CompactConfig::entry_encoded(pool_entry);
  Statement insert(db_, "INSERT OR IGNORE INTO entries(key, value) VALUES (?, ?)");
  insert.bind(1, key).bind(2, value).run();
  Statement select(db_, "SELECT id FROM entries WHERE key = ? AND value = ?");
  select.bind(1, key).bind(2, value);
  if (!select.step()) throw StorageError("trial index: an entry just added is not there");
  const auto id = std::uint32_t(select.integer(0));
  if (pool_entry >= from_pool_.size()) from_pool_.resize(pool_entry + 1, 0);
  from_pool_[pool_entry] = id;
  if (id >= to_pool_.size()) to_pool_.resize(id + 1, CompactConfig::kDefaultEntry);
  to_pool_[id] = pool_entry;
  return id;
}

std::vector<IndexedTrial> TrialIndex::load() {
  std::vector<IndexedTrial> rows;
  // Entries another process added since we opened.
  load_entries();
  {
    Statement count(db_, "SELECT count(*) FROM trials");
    if (count.step()) rows.reserve(std::size_t(count.integer(0)));
  }
  Statement select(db_,
                   "SELECT folder, hash, config, status, has_files, summary, last, unreadable, problem, planned, dirty, "
                   "generation FROM trials");
  while (select.step()) {
    IndexedTrial row;
    TrialState& trial = row.trial;
    trial.id = std::string(select.text(0));
    trial.hash = TrialHash{std::uint64_t(select.integer(1))};
    row.planned = select.integer(9) != 0;
    row.dirty = select.integer(10) != 0;
    row.generation = select.integer(11);
    try {
      const auto config = select.blob(2).value_or(std::string_view());
      if (config.size() % sizeof(std::uint32_t) != 0) throw std::runtime_error("index: a config of odd length");
      std::vector<std::uint32_t> entries(config.size() / sizeof(std::uint32_t));
      if (!entries.empty()) std::memcpy(entries.data(), config.data(), config.size());
      std::size_t previous_field = 0;
      bool ordered = true;  // as store() wrote them: by field, one each (else checked and ordered)
      for (std::size_t k = 0; k < entries.size(); ++k) {
        auto& id = entries[k];
        if (id >= to_pool_.size() || to_pool_[id] == CompactConfig::kDefaultEntry) {
          throw std::runtime_error("index: an unknown config entry");
        }
        id = to_pool_[id];
        const std::size_t field = CompactConfig::entry_field(id);
        ordered = ordered && (k == 0 || field > previous_field);
        previous_field = field;
      }
      trial.config = ordered ? CompactConfig::from_ordered_entries(std::move(entries))
                             : CompactConfig::from_entries(std::move(entries));
      const auto status = select.integer(3);
      if (status < 0 || status > std::int64_t(TrialStatus::Unreadable)) throw std::runtime_error("index: an unknown status");
      trial.status = TrialStatus(status);
      trial.has_files = select.integer(4) != 0;
      if (const auto summary = select.blob(5)) trial.summary = std::make_shared<const StoredSummary>(decode_summary(*summary));
      if (const auto last = select.blob(6)) trial.last_record = std::make_shared<const EvalRecord>(decode_record(*last));
      trial.unreadable_lines = std::size_t(select.integer(7));
      trial.problem = std::string(select.text(8));
    } catch (const std::exception&) {
      row.dirty = true;  // a row this build cannot read: its files are read again
    }
    rows.push_back(std::move(row));
  }
  return rows;
}

void TrialIndex::store(const std::vector<const TrialState*>& trials, const std::vector<std::int64_t>& generations,
                       const std::vector<std::string>& remove) {
  if (trials.empty() && remove.empty()) return;
  Transaction transaction(db_);
  Statement generation_of(db_, "SELECT generation FROM trials WHERE folder = ?");
  Statement upsert(db_,
                   "INSERT INTO trials(folder, hash, config, status, has_files, summary, last, unreadable, problem, "
                   "planned, dirty, generation) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 0, ?10, 0) "
                   "ON CONFLICT(folder) DO UPDATE SET hash = ?2, config = ?3, status = ?4, has_files = ?5, summary = ?6, "
                   "last = ?7, unreadable = ?8, problem = ?9, planned = CASE WHEN ?5 THEN 0 ELSE planned END, dirty = ?10");
  for (std::size_t i = 0; i < trials.size(); ++i) {
    const TrialState& trial = *trials[i];
    generation_of.bind(1, trial.id);
    const bool exists = generation_of.step();
    const std::int64_t now = exists ? generation_of.integer(0) : -1;
    generation_of.reset();
    if (now != generations[i]) continue;  // planned again since it was read: its files are about to change
    std::vector<std::uint32_t> ids;
    for (const auto entry : trial.config.entries()) ids.push_back(entry_id(entry));
    upsert.bind(1, trial.id).bind(2, std::int64_t(trial.hash.value)).bind_blob(3, encode_ids(ids));
    upsert.bind(4, std::int64_t(trial.status)).bind(5, trial.has_files ? 1 : 0);
    if (trial.summary) upsert.bind_blob(6, encode_summary(*trial.summary)); else upsert.bind_null(6);
    if (trial.last_record) upsert.bind_blob(7, encode_record(*trial.last_record)); else upsert.bind_null(7);
    upsert.bind(8, std::int64_t(trial.unreadable_lines)).bind(9, trial.problem);
    upsert.bind(10, settled(trial.status) ? 0 : 1);
    upsert.run();
  }
  Statement erase(db_, "DELETE FROM trials WHERE folder = ?");
  for (const auto& folder : remove) erase.bind(1, folder).run();
  transaction.commit();
}

std::vector<std::int64_t> TrialIndex::plan(const std::vector<PlannedTrial>& trials) {
  std::vector<std::int64_t> generations;
  if (trials.empty()) return generations;
  Transaction transaction(db_);
  Statement generation_of(db_, "SELECT generation FROM trials WHERE folder = ?");
  Statement upsert(db_,
                   "INSERT INTO trials(folder, hash, config, status, has_files, summary, last, unreadable, problem, "
                   "planned, dirty, generation) VALUES (?1, ?2, ?3, ?4, 0, NULL, NULL, 0, '', 1, 1, 1) "
                   "ON CONFLICT(folder) DO UPDATE SET planned = 1, dirty = 1, generation = generation + 1");
  for (const auto& trial : trials) {
    std::vector<std::uint32_t> ids;
    for (const auto entry : trial.config.entries()) ids.push_back(entry_id(entry));
    upsert.bind(1, trial.folder).bind(2, std::int64_t(trial.hash.value)).bind_blob(3, encode_ids(ids));
    upsert.bind(4, std::int64_t(TrialStatus::Pending)).run();
    generation_of.bind(1, trial.folder);
    generations.push_back(generation_of.step() ? generation_of.integer(0) : -1);
    generation_of.reset();
  }
  transaction.commit();
  return generations;
}

void TrialIndex::remove(const std::vector<std::string>& folders) { store({}, {}, folders); }

}  // namespace sweeplab
