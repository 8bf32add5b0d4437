#pragma once
// experiments/NAME/index.sqlite: what the reading commands know of a sweep's trials without opening their files,
// so that reading 100 000 trials costs a query, not 100 000 folders. A cache: the trial folders are the record,
// and a missing, damaged or foreign index is rebuilt from them.
//
// One rule keeps it right through a kill at any point: a trial's row is marked dirty (its generation raised)
// before anything may change the trial's files (a run or submit plans it), and it is clean only when it was
// written from the files of a settled trial, under the generation it was read at. Readers re-read the files of
// dirty rows and of folders the index does not know, and take everything else from the index. Files changed
// behind sweeplab's back after a trial settled are seen when the index is rebuilt (status --rescan, or delete
// the file).
//
// SQLite, with its rollback journal (no WAL: that needs shared memory, which network filesystems do not have)
// and its file locks: concurrent runs and readers wait for each other's short transactions.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "sweeplab/store/trial_state.hpp"

struct sqlite3;

namespace sweeplab {

// A row of the index.
struct IndexedTrial {
  TrialState trial;               // as last read from its files (or as planned: has_files false)
  bool planned = false;           // a run or submit planned it; it may have no folder yet
  bool dirty = true;              // its files may have changed since: read them before trusting the row
  std::int64_t generation = 0;    // raised each time it is marked dirty
};

// A trial a run is about to train (or record skipped): its folder, hash and config as planned.
struct PlannedTrial {
  std::string folder;
  TrialHash hash;
  CompactConfig config;
};

class TrialIndex {
 public:
  static constexpr const char* kFileName = "index.sqlite";

  // Opens sweep_dir/index.sqlite, making it when missing (and `create`): nullptr when it cannot be opened for
  // writing (a read-only folder) or, without `create`, does not exist. A damaged or foreign file is replaced by a
  // new one and `*rebuilt` set (every trial is then read from its files once). Never throws for the index's own
  // trouble: readers fall back to the files.
  static std::unique_ptr<TrialIndex> open(const std::string& sweep_dir, bool create, bool* rebuilt = nullptr);
  ~TrialIndex();
  TrialIndex(const TrialIndex&) = delete;
  TrialIndex& operator=(const TrialIndex&) = delete;

  // Every row. Throws StorageError when the index cannot be read (it is then best deleted).
  std::vector<IndexedTrial> load();

  // Rows read from the files now, each with the generation its row had when loaded (-1: it had none). A settled
  // trial is stored clean, anything else dirty; a row whose generation has changed meanwhile (a run planned the
  // trial) is left alone. `remove`: folders that are gone. One transaction. Throws StorageError.
  void store(const std::vector<const TrialState*>& trials, const std::vector<std::int64_t>& generations,
             const std::vector<std::string>& remove = {});

  // Before a run or submit touches these trials: each row dirty with its generation raised; a trial without a row
  // gets one, planned, with no files. Returns each row's new generation (for store() once the trial settled).
  // One transaction. Throws StorageError.
  std::vector<std::int64_t> plan(const std::vector<PlannedTrial>& trials);

  // Forgets these folders' rows (clean, set aside). Throws StorageError.
  void remove(const std::vector<std::string>& folders);

 private:
  explicit TrialIndex(sqlite3* db) : db_(db) {}
  std::uint32_t entry_id(std::uint32_t pool_entry);  // the index's id of a config entry, added when new
  void load_entries();
  sqlite3* db_ = nullptr;
  std::vector<std::uint32_t> to_pool_;       // index entry id -> CompactConfig entry id
  std::vector<std::uint32_t> from_pool_;     // CompactConfig entry id -> index entry id (0: not yet)
};

}  // namespace sweeplab
