// Results you can trust (the trainer's part): nothing trains on a damaged checkpoint, damaged
// metrics.jsonl lines and summary.json files are repaired with a warning, storage errors stop a trial
// without failing or tearing it, a diverged trial's metrics end with the loss that stopped it, and a dead
// worker's trials say how it died.
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <torch/torch.h>

#include <algorithm>
#include <csignal>
#include <cstring>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>

#include "sched/trial_job.hpp"
#include "sweeplab/config/loader.hpp"
#include "sweeplab/core/fs.hpp"
#include "sweeplab/core/hash.hpp"
#include "sweeplab/store/layout.hpp"
#include "sweeplab/store/lock.hpp"
#include "sweeplab/store/sweep_state.hpp"
#include "sweeplab/store/trial_files.hpp"
#include "sweeplab/engine/trainer.hpp"
#include "test_util.hpp"
#include "engine/checkpoint.hpp"

namespace sweeplab {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using testing::metric_values;
using testing::TempDir;

// 200 doughnut points, 160 to train: 20 steps an epoch at batch size 8; 60 steps, an evaluation and a
// checkpoint every 10.
const std::string kSmall =
    "task: {name: doughnuts, samples: 200}\n"
    "optimizer: {name: sgd, lr: 0.05, momentum: 0.9}\n"
    "training: {steps: 60, batch_size: 8, eval_every: 10}\n"
    "checkpoint: {every: 10, min_interval_s: 0}\n";

fs::path only_trial(const TempDir& dir, const std::string& experiments = "experiments", const std::string& sweep = "r") {
  std::vector<fs::path> trials;
  for (const auto& entry : fs::directory_iterator(dir.path() / experiments / sweep / "trials")) trials.push_back(entry.path());
  EXPECT_EQ(trials.size(), 1u);
  return trials.at(0);
}

json summary_of(const fs::path& trial) { return testing::read_json(trial / "summary.json"); }

std::string read_bytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void write_bytes(const fs::path& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
}

std::vector<std::string> lines_of(const fs::path& path) {
  std::vector<std::string> lines;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

void write_lines(const fs::path& path, const std::vector<std::string>& lines, bool last_newline = true) {
  std::string text;
  for (std::size_t i = 0; i < lines.size(); ++i) text += lines[i] + (i + 1 < lines.size() || last_newline ? "\n" : "");
  write_bytes(path, text);
}

int count_prefixed(const fs::path& folder, const std::string& prefix) {
  int count = 0;
  for (const auto& entry : fs::directory_iterator(folder)) count += entry.path().filename().string().rfind(prefix, 0) == 0;
  return count;
}

// The byte ranges of the floats in a checkpoint (format 3: a first line, then sections "state N", "floats NAME N"
// and "digest HEX", each header a line followed by its bytes and a newline).
std::vector<std::pair<std::size_t, std::size_t>> tensor_ranges(const std::string& file) {
  std::vector<std::pair<std::size_t, std::size_t>> ranges;
  std::size_t at = file.find('\n') + 1;
  for (;;) {
    const std::size_t end = file.find('\n', at);
    if (end == std::string::npos) break;
    const std::string header = file.substr(at, end - at);
    at = end + 1;
    if (header.rfind("digest", 0) == 0) break;
    const std::size_t count = std::stoull(header.substr(header.rfind(' ') + 1));
    const std::size_t size = header.rfind("floats", 0) == 0 ? count * sizeof(float) : count;
    if (header.rfind("floats", 0) == 0 && size > 0) ranges.push_back({at, size});
    at += size + 1;
  }
  return ranges;
}

// Flips one random bit in one of the checkpoint's tensors.
void flip_tensor_bit(const fs::path& checkpoint, std::mt19937_64& rng) {
  std::string bytes = read_bytes(checkpoint);
  const auto ranges = tensor_ranges(bytes);
  ASSERT_EQ(ranges.size(), 2u) << "parameters and optimizer state";
  const auto& [start, size] = ranges[rng() % ranges.size()];
  const std::size_t at = start + rng() % size;
  bytes[at] = char(bytes[at] ^ (1 << (rng() % 8)));
  write_bytes(checkpoint, bytes);
}

std::int64_t checkpoint_step(const fs::path& path) { return read_checkpoint(path.string()).state.get_int("step"); }

// ---- 1. Nothing trains on damaged state ----

CheckpointData small_checkpoint() {
  CheckpointData data;
  data.state.put_int("format_version", kCheckpointFormatVersion);
  data.state.put_int("step", 40);
  data.state.put("config_hash", "0123abcd");
  data.parameters = {0.5f, -1.25f, 3.0f};
  data.optimizer_state = {0.25f};
  return data;
}

TEST(Checkpoint, AFlippedBitInTheStateTextIsDetected) {
  TempDir dir;
  const std::string bytes = checkpoint_bytes(small_checkpoint());
  const auto at = bytes.find("\nstep=40");
  ASSERT_NE(at, std::string::npos) << "the state text is stored as it is";
  std::string damaged = bytes;
  damaged[at + 6] = char(damaged[at + 6] ^ 0x02);  // step=40 -> step=60
  write_bytes(dir.path() / "good.pt", bytes);
  write_bytes(dir.path() / "damaged.pt", damaged);
  EXPECT_EQ(read_checkpoint(dir.str("good.pt")).state.get_int("step"), 40);
  try {
    const auto read = read_checkpoint(dir.str("damaged.pt"));
    FAIL() << "read a damaged checkpoint, step " << read.state.get("step");
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("digest"), std::string::npos) << e.what();
  }
}

TEST(Checkpoint, EverySingleBitFlipAnywhereInTheFileIsFoundAndSaidInPlainText) {
  TempDir dir;
  auto data = small_checkpoint();
  data.extra.emplace_back("replay", std::vector<float>{1.0f, 2.0f});
  const std::string good = checkpoint_bytes(data);
  const auto path = dir.path() / "c.pt";
  write_bytes(path, good);
  const auto read = read_checkpoint(path.string());
  ASSERT_EQ(read.parameters, data.parameters);
  ASSERT_EQ(read.extra.size(), 1u);
  EXPECT_EQ(read.extra[0].second, data.extra[0].second);
  int found = 0;
  for (std::size_t at = 0; at < good.size(); ++at) {
    for (int bit = 0; bit < 8; ++bit) {
      std::string damaged = good;
      damaged[at] = char(damaged[at] ^ (1 << bit));
      write_bytes(path, damaged);
      try {
        (void)read_checkpoint(path.string());
        ADD_FAILURE() << "read a checkpoint with bit " << bit << " of byte " << at << " flipped";
      } catch (const std::runtime_error& e) {
        const std::string what = e.what();
        EXPECT_TRUE(std::all_of(what.begin(), what.end(), [](char c) { return c >= 0x20 && c < 0x7f; })) << at;
        ++found;
      }
    }
  }
  EXPECT_EQ(found, int(good.size() * 8));
}

// A checkpoint as LibTorch archives held them (format 2): the state text, the floats as tensors, and a digest over
// the text and the floats (older ones: none, "tensors_digest" in the state instead).
void write_format_2(const fs::path& path, const CheckpointData& data, bool with_digest) {
  StateText state = data.state;
  state.put_int("format_version", 2);
  std::string floats(reinterpret_cast<const char*>(data.parameters.data()), data.parameters.size() * sizeof(float));
  floats.append(reinterpret_cast<const char*>(data.optimizer_state.data()), data.optimizer_state.size() * sizeof(float));
  state.put("tensors_digest", full_hash(floats));
  torch::serialize::OutputArchive archive;
  archive.write("state", c10::IValue(state.str()));
  archive.write("parameters", torch::tensor(data.parameters));
  archive.write("optimizer_state", torch::tensor(data.optimizer_state));
  if (with_digest) archive.write("digest", c10::IValue(full_hash(state.str() + floats)));
  archive.save_to(path.string());
}

TEST(Checkpoint, OneOfFormat2StillReadsAndAFlippedBitInItsFloatsIsFound) {
  TempDir dir;
  auto data = small_checkpoint();
  data.optimizer_state = {0.25f, -0.5f};
  for (const bool with_digest : {true, false}) {
    SCOPED_TRACE(with_digest ? "digest" : "tensors_digest");
    const auto path = dir.path() / "old.pt";
    write_format_2(path, data, with_digest);
    const auto read = read_checkpoint(path.string());
    EXPECT_EQ(read.state.get_int("step"), 40);
    EXPECT_EQ(read.parameters, data.parameters);
    EXPECT_EQ(read.optimizer_state, data.optimizer_state);
    std::string bytes = read_bytes(path);
    const auto at = bytes.find(std::string(reinterpret_cast<const char*>(data.parameters.data()), 12));
    ASSERT_NE(at, std::string::npos) << "a tensor's bytes are stored as they are";
    bytes[at + 5] = char(bytes[at + 5] ^ 0x10);
    write_bytes(path, bytes);
    EXPECT_THROW(read_checkpoint(path.string()), std::runtime_error);
  }
}

TEST(Checkpoint, ATrialCheckpointedInFormat2ContinuesToTheUninterruptedResult) {
  TempDir dir;
  dir.write("configs/r.yaml", kSmall);
  ASSERT_EQ(testing::run_sweeplab(dir, "run r -q --experiments whole").code, 0);
  const auto reference = only_trial(dir, "whole");
  ASSERT_EQ(testing::run_sweeplab(dir, "run r", "kill_at_step=45").code, 137);
  const auto trial = only_trial(dir);
  const auto format_3 = read_checkpoint((trial / "checkpoint.pt").string());
  ASSERT_EQ(format_3.state.get_int("format_version"), kCheckpointFormatVersion);
  write_format_2(trial / "checkpoint.pt", format_3, true);
  ASSERT_EQ(read_bytes(trial / "checkpoint.pt").rfind("PK", 0), 0u) << "a zip archive";

  const auto resumed = testing::run_sweeplab(dir, "run r");
  ASSERT_EQ(resumed.code, 0) << resumed.out << resumed.err;
  EXPECT_EQ(summary_of(trial)["resumed_from_step"], 40) << resumed.out;
  EXPECT_EQ(summary_of(trial).value("warnings", json::array()).size(), 0u) << resumed.out;
  EXPECT_EQ(metric_values(trial), metric_values(reference));
  EXPECT_EQ(summary_of(trial)["weights_digest"], summary_of(reference)["weights_digest"]);
}

TEST(Checkpoint, TheReplacedOneIsKeptAsThePrevious) {
  TempDir dir;
  const std::string path = dir.str("checkpoint.pt");
  EXPECT_EQ(previous_checkpoint_path(path), dir.str("checkpoint.prev.pt"));
  write_checkpoint(path, "first");
  EXPECT_FALSE(fs::exists(dir.path() / "checkpoint.prev.pt"));
  write_checkpoint(path, "second");
  write_checkpoint(path, "third");
  EXPECT_EQ(read_bytes(path), "third");
  EXPECT_EQ(read_bytes(dir.path() / "checkpoint.prev.pt"), "second");
  EXPECT_FALSE(fs::exists(dir.path() / "checkpoint.pt.tmp"));
}

TEST(Checkpoint, TwentyRandomBitFlipsInTheTensorsEachResumeToTheUninterruptedResult) {
  TempDir dir;
  dir.write("configs/r.yaml", kSmall);
  ASSERT_EQ(testing::run_sweeplab(dir, "run r -q --experiments whole").code, 0);
  const auto reference = only_trial(dir, "whole");
  // Killed at step 45: checkpoint.pt at step 40, checkpoint.prev.pt at 30, metrics up to 40.
  ASSERT_EQ(testing::run_sweeplab(dir, "run r --experiments killed", "kill_at_step=45").code, 137);
  const auto killed = only_trial(dir, "killed");
  ASSERT_EQ(checkpoint_step(killed / "checkpoint.pt"), 40);
  ASSERT_EQ(checkpoint_step(killed / "checkpoint.prev.pt"), 30);

  std::mt19937_64 rng(20261123);
  std::set<int> kinds_seen;
  for (int round = 0; round < 20; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    fs::remove_all(dir.path() / "experiments");
    fs::create_directories(dir.path() / "experiments/r/trials");
    fs::copy(killed, dir.path() / "experiments/r/trials" / killed.filename(), fs::copy_options::recursive);
    const auto trial = only_trial(dir);
    // Mostly the latest is damaged; sometimes the previous one, both, or the latest is missing (a crash
    // between the two renames of a checkpoint write).
    const int kind = round < 4 ? round : int(rng() % 4);
    kinds_seen.insert(kind);
    std::int64_t expected_step = 30;
    int expected_warnings = 1;
    if (kind == 0) {
      flip_tensor_bit(trial / "checkpoint.pt", rng);
    } else if (kind == 1) {
      flip_tensor_bit(trial / "checkpoint.prev.pt", rng);  // never read: checkpoint.pt is good
      expected_step = 40;
      expected_warnings = 0;
    } else if (kind == 2) {
      flip_tensor_bit(trial / "checkpoint.pt", rng);
      flip_tensor_bit(trial / "checkpoint.prev.pt", rng);
      expected_step = 0;
      expected_warnings = 2;
    } else {
      fs::remove(trial / "checkpoint.pt");
      expected_warnings = 0;
    }
    const auto resumed = testing::run_sweeplab(dir, "run r");
    ASSERT_EQ(resumed.code, 0) << resumed.out << resumed.err;
    const auto summary = summary_of(trial);
    EXPECT_EQ(summary["status"], "completed");
    EXPECT_EQ(summary["resumed_from_step"], expected_step) << resumed.out;
    EXPECT_EQ(summary.value("warnings", json::array()).size(), std::size_t(expected_warnings)) << resumed.out;
    if (expected_warnings > 0) {
      EXPECT_NE(resumed.out.find("warning: checkpoint unreadable"), std::string::npos) << resumed.out;
      EXPECT_EQ(count_prefixed(trial, "checkpoint.pt.corrupt-"), 1);
    }
    if (kind == 0) { EXPECT_NE(resumed.out.find("continued from checkpoint.prev.pt at step 30"), std::string::npos) << resumed.out; }
    if (kind == 2) { EXPECT_NE(resumed.out.find("started over"), std::string::npos) << resumed.out; }
    EXPECT_EQ(metric_values(trial), metric_values(reference));
    EXPECT_EQ(summary["weights_digest"], summary_of(reference)["weights_digest"]);
  }
  EXPECT_EQ(kinds_seen.size(), 4u);
}

// ---- 2. Damaged metrics.jsonl lines and summary.json files ----

TEST(Metrics, ATornLastLineIsRewrittenFromTheCheckpointAlsoWhenTheBudgetIsRaised) {
  TempDir dir;
  dir.write("configs/r.yaml", kSmall);
  ASSERT_EQ(testing::run_sweeplab(dir, "run r -q --experiments whole").code, 0);
  ASSERT_EQ(testing::run_sweeplab(dir, "run r -q --experiments whole90 -o training.steps=90").code, 0);
  ASSERT_EQ(testing::run_sweeplab(dir, "run r -q").code, 0);
  const auto trial = only_trial(dir);
  const std::string written = testing::read_file(trial / "metrics.jsonl");
  const auto tear_last_line = [&] {
    auto lines = lines_of(trial / "metrics.jsonl");
    ASSERT_EQ(lines.size(), 6u);
    lines.back().resize(lines.back().size() / 2);
    write_lines(trial / "metrics.jsonl", lines, /*last_newline=*/false);  // power lost while it was written
    testing::files_changed_by_hand(dir, "r");
  };

  // The trial is completed; its metrics are not: the next run repairs them.
  tear_last_line();
  const auto again = testing::run_sweeplab(dir, "run r");
  ASSERT_EQ(again.code, 0) << again.out << again.err;
  EXPECT_NE(again.out.find("warning: metrics.jsonl: the record of step 60 was unreadable; rewritten from the checkpoint"),
            std::string::npos)
      << again.out;
  EXPECT_EQ(testing::read_file(trial / "metrics.jsonl"), written);  // byte for byte
  EXPECT_EQ(metric_values(trial), metric_values(only_trial(dir, "whole")));
  EXPECT_EQ(summary_of(trial)["weights_digest"], summary_of(only_trial(dir, "whole"))["weights_digest"]);

  // And when a raised budget continues it.
  tear_last_line();
  const auto raised = testing::run_sweeplab(dir, "run r -o training.steps=90");
  ASSERT_EQ(raised.code, 0) << raised.out << raised.err;
  EXPECT_EQ(summary_of(trial)["resumed_from_step"], 60);
  EXPECT_NE(raised.out.find("warning: metrics.jsonl: the record of step 60 was unreadable"), std::string::npos) << raised.out;
  ASSERT_TRUE(summary_of(trial).contains("warnings"));
  EXPECT_EQ(metric_values(trial), metric_values(only_trial(dir, "whole90")));
  EXPECT_EQ(metric_values(trial).size(), 9u);
  EXPECT_EQ(summary_of(trial)["weights_digest"], summary_of(only_trial(dir, "whole90"))["weights_digest"]);
}

TEST(Metrics, ATornLineBeforeTheCheckpointMakesTheTrialStartOver) {
  TempDir dir;
  dir.write("configs/r.yaml", kSmall);
  ASSERT_EQ(testing::run_sweeplab(dir, "run r -q --experiments whole").code, 0);
  ASSERT_EQ(testing::run_sweeplab(dir, "run r", "kill_at_step=45").code, 137);
  const auto trial = only_trial(dir);
  auto lines = lines_of(trial / "metrics.jsonl");
  ASSERT_EQ(lines.size(), 4u);
  lines[1].resize(lines[1].size() / 3);
  write_lines(trial / "metrics.jsonl", lines);
  testing::files_changed_by_hand(dir, "r");

  const auto resumed = testing::run_sweeplab(dir, "run r");
  ASSERT_EQ(resumed.code, 0) << resumed.out << resumed.err;
  EXPECT_NE(resumed.out.find("warning: metrics.jsonl, up to step 40: line 2 unreadable; the trial starts over"),
            std::string::npos)
      << resumed.out;
  const auto summary = summary_of(trial);
  EXPECT_EQ(summary["resumed_from_step"], 0);
  EXPECT_EQ(summary["warnings"].size(), 1u);
  EXPECT_EQ(metric_values(trial), metric_values(only_trial(dir, "whole")));
  EXPECT_EQ(summary["weights_digest"], summary_of(only_trial(dir, "whole"))["weights_digest"]);
}

TEST(Summary, AnUnreadableSummaryIsRebuiltFromTheFinalCheckpointWithAWarning) {
  TempDir dir;
  // Two trials: lr 0.05 reaches its target within the budget and stops there; lr 0.001 does not.
  dir.write("configs/r.yaml", kSmall +
                                  "targets: ['test_acc >= 0.6']\n"
                                  "stop: {on_target: true}\n"
                                  "sweep: {grid: {optimizer.lr: [0.05, 0.001]}}\n");
  ASSERT_EQ(testing::run_sweeplab(dir, "run r -q").code, 0);
  const auto sweep = load_sweep(dir.str("configs"), "r");
  std::vector<fs::path> trials;
  std::vector<json> before;
  for (const auto& trial : sweep.trials) {
    trials.push_back(dir.path() / "experiments/r/trials" / trial.id);
    before.push_back(summary_of(trials.back()));
  }
  ASSERT_TRUE(before[0]["stopped_at_target"].get<bool>());
  ASSERT_LT(before[0]["steps"].get<int>(), 60);
  ASSERT_FALSE(before[1]["stopped_at_target"].get<bool>());
  const auto metrics = testing::read_file(trials[0] / "metrics.jsonl");
  write_bytes(trials[0] / "summary.json", "{\"status\": \"compl");
  write_bytes(trials[1] / "summary.json", std::string(300, '\0'));
  testing::files_changed_by_hand(dir, "r");

  const auto again = testing::run_sweeplab(dir, "run r");
  ASSERT_EQ(again.code, 0) << again.out << again.err;
  for (std::size_t i = 0; i < 2; ++i) {
    SCOPED_TRACE(sweep.trials[i].id);
    const auto after = summary_of(trials[i]);
    for (const char* key : {"status", "steps", "samples", "epochs", "final", "best", "targets", "stopped_at_target",
                            "weights_digest"}) {
      EXPECT_EQ(after[key], before[i][key]) << key;
    }
    ASSERT_TRUE(after.contains("warnings"));
    EXPECT_EQ(after["warnings"].size(), 1u);
    EXPECT_NE(after["warnings"][0].get<std::string>().find("summary.json unreadable; kept as summary.json.corrupt-"),
              std::string::npos);
    EXPECT_EQ(count_prefixed(trials[i], "summary.json.corrupt-"), 1);
    EXPECT_EQ(read_summary(trials[i].string())->status, TrialStatus::Completed);
  }
  EXPECT_EQ(testing::read_file(trials[0] / "metrics.jsonl"), metrics);
  EXPECT_NE(again.out.find("warning: summary.json unreadable"), std::string::npos) << again.out;
}

// ---- 3. Storage errors stop a trial without failing or tearing it ----

class RecordingSink : public TrialSink {
 public:
  void on_eval(const EvalRecord& record) override { records.push_back(record); }
  std::vector<EvalRecord> records;
};

// A disk that fills up at evaluation `at_step`: writing metrics fails there.
class FullDiskSink : public RecordingSink {
 public:
  explicit FullDiskSink(std::int64_t at_step) : at_step_(at_step) {}
  void on_eval(const EvalRecord& record) override {
    if (record.step >= at_step_) throw StorageError("cannot append to metrics.jsonl: No space left on device");
    RecordingSink::on_eval(record);
  }

 private:
  std::int64_t at_step_;
};

// Writes of files larger than `bytes` fail with EFBIG while it lives (also as root, unlike a read-only folder).
class FileSizeLimit {
 public:
  explicit FileSizeLimit(rlim_t bytes) {
    previous_handler_ = std::signal(SIGXFSZ, SIG_IGN);
    getrlimit(RLIMIT_FSIZE, &previous_);
    rlimit limit = previous_;
    limit.rlim_cur = bytes;
    setrlimit(RLIMIT_FSIZE, &limit);
  }
  ~FileSizeLimit() {
    setrlimit(RLIMIT_FSIZE, &previous_);
    std::signal(SIGXFSZ, previous_handler_);
  }

 private:
  rlimit previous_{};
  void (*previous_handler_)(int) = nullptr;
};

std::vector<Config> two_trials(const TempDir& dir) {
  dir.write("configs/s.yaml", kSmall + "sweep: {grid: {optimizer.lr: [0.05, 0.1]}}\n");
  std::vector<Config> configs;
  for (const auto& trial : load_sweep(dir.str("configs"), "s").trials) configs.push_back(trial.config.expand());
  return configs;
}

// Every field but the wall clock, exactly.
void expect_same_records(const std::vector<EvalRecord>& a, const std::vector<EvalRecord>& b) {
  ASSERT_EQ(a.size(), b.size());
  const auto without_clock = [](EvalRecord record) {
    record.elapsed_s = 0.0;
    return record_json(record);
  };
  for (std::size_t i = 0; i < a.size(); ++i) EXPECT_EQ(without_clock(a[i]), without_clock(b[i])) << "record " << i;
}

TEST(Storage, AFailedMetricsWriteStopsOnlyItsTrialWhichResumesToTheSameResult) {
  TempDir dir;
  const auto configs = two_trials(dir);
  RecordingSink alone_sink;
  const auto alone = train_trial(configs[0], alone_sink);

  FullDiskSink full(30);
  RecordingSink other;
  const std::string path = dir.str("a/checkpoint.pt");
  fs::create_directories(dir.path() / "a");
  const auto outcomes = train_group({{&configs[0], &full, {path, 10, 0.0}}, {&configs[1], &other, {dir.str("b.pt"), 10, 0.0}}});
  EXPECT_EQ(outcomes[0].status, TrialStatus::Interrupted);
  EXPECT_EQ(outcomes[0].storage_error, "cannot append to metrics.jsonl: No space left on device");
  EXPECT_EQ(checkpoint_step(path), 20);  // none after the record that is not on disk
  EXPECT_EQ(outcomes[1].status, TrialStatus::Completed);
  EXPECT_TRUE(outcomes[1].storage_error.empty());
  EXPECT_EQ(other.records.size(), 6u);
  RecordingSink other_alone;
  EXPECT_EQ(train_trial(configs[1], other_alone).weights_digest, outcomes[1].weights_digest);
  expect_same_records(other.records, other_alone.records);

  RecordingSink rest;
  const auto resumed = train_trial(configs[0], rest, {path, 10, 0.0});
  EXPECT_EQ(resumed.status, TrialStatus::Completed);
  EXPECT_EQ(resumed.resumed_from_step, 20);
  EXPECT_EQ(resumed.weights_digest, alone.weights_digest);
  std::vector<EvalRecord> all = full.records;
  all.insert(all.end(), rest.records.begin(), rest.records.end());
  expect_same_records(all, alone_sink.records);
}

// Limits file sizes from evaluation `at_step` on: the checkpoint written right after it fails.
class LimitingSink : public RecordingSink {
 public:
  explicit LimitingSink(std::int64_t at_step) : at_step_(at_step) {}
  void on_eval(const EvalRecord& record) override {
    RecordingSink::on_eval(record);
    if (record.step == at_step_) limit = std::make_unique<FileSizeLimit>(1024);
  }
  std::unique_ptr<FileSizeLimit> limit;

 private:
  std::int64_t at_step_;
};

TEST(Storage, AFailedCheckpointWriteKeepsTheLastGoodOneAndInterruptsTheTrial) {
  TempDir dir;
  const auto configs = two_trials(dir);
  RecordingSink alone_sink;
  const auto alone = train_trial(configs[0], alone_sink);

  const std::string path = dir.str("checkpoint.pt");
  LimitingSink sink(30);
  const auto outcome = train_trial(configs[0], sink, {path, 10, 0.0});
  sink.limit.reset();
  EXPECT_EQ(outcome.status, TrialStatus::Interrupted);
  EXPECT_NE(outcome.storage_error.find("cannot write " + path + ": "), std::string::npos) << outcome.storage_error;
  EXPECT_NE(outcome.storage_error.find(std::strerror(EFBIG)), std::string::npos) << outcome.storage_error;
  EXPECT_TRUE(outcome.error.empty());
  EXPECT_EQ(checkpoint_step(path), 20);
  EXPECT_EQ(checkpoint_step(dir.path() / "checkpoint.prev.pt"), 10);
  EXPECT_FALSE(fs::exists(path + ".tmp"));
  EXPECT_EQ(sink.records.size(), 3u);

  RecordingSink rest;
  const auto resumed = train_trial(configs[0], rest, {path, 10, 0.0});
  EXPECT_EQ(resumed.resumed_from_step, 20);
  EXPECT_EQ(resumed.weights_digest, alone.weights_digest);
  std::vector<EvalRecord> all(sink.records.begin(), sink.records.begin() + 2);  // the one at 30 comes again
  all.insert(all.end(), rest.records.begin(), rest.records.end());
  expect_same_records(all, alone_sink.records);
}

// Through the worker's own path (run_trial_group, metrics.jsonl, summary.json): a file that cannot be
// written leaves the trial interrupted and partial, and the next run completes it as if nothing happened.
struct EventLog : TrialEvents {
  void started(std::size_t, std::int64_t) override {}
  void evaluated(std::size_t, const EvalRecord&) override {}
  void finished(std::size_t index, const TrialResult& result) override { results[index] = result; }
  std::map<std::size_t, TrialResult> results;
};

// Passes everything on to the worker's sink and starts a file-size limit at a chosen point.
class LimitBefore : public TrialSink {
 public:
  LimitBefore(TrialSink& inner, std::int64_t eval_step) : inner_(inner), eval_step_(eval_step) {}
  bool on_start(const ResumePoint& from) override { return inner_.on_start(from); }
  void on_eval(const EvalRecord& record) override {
    if (record.step == eval_step_) limit = std::make_unique<FileSizeLimit>(64);
    inner_.on_eval(record);
  }
  void on_finish(const TrialOutcome& outcome) override {
    if (eval_step_ < 0) limit = std::make_unique<FileSizeLimit>(64);
    inner_.on_finish(outcome);
  }
  bool stop_requested() override { return inner_.stop_requested(); }
  std::unique_ptr<FileSizeLimit> limit;

 private:
  TrialSink& inner_;
  std::int64_t eval_step_;
};

// The file whose write fails: config.yaml (before training), metrics.jsonl (at the evaluation of step 30)
// or summary.json (at the end).
class StorageErrorTest : public ::testing::TestWithParam<std::string> {};

TEST_P(StorageErrorTest, InterruptsTheTrialWithoutSummaryAndTheNextRunCompletesIt) {
  TempDir dir;
  dir.write("configs/r.yaml", kSmall);
  const auto sweep = load_sweep(dir.str("configs"), "r");
  RunOptions options;
  options.experiments_dir = dir.str("experiments");
  const auto trial = dir.path() / "experiments/r/trials" / sweep.trials[0].id;
  fs::create_directories(trial);
  std::vector<std::unique_ptr<LimitBefore>> wrappers;
  const GroupTrainer limited = [&](const std::vector<GroupMember>& members) {
    std::vector<GroupMember> wrapped = members;
    for (auto& member : wrapped) {
      wrappers.push_back(std::make_unique<LimitBefore>(*member.sink, GetParam() == "metrics.jsonl" ? 30 : -1));
      member.sink = wrappers.back().get();
    }
    return train_group(wrapped);
  };
  EventLog events;
  {
    std::unique_ptr<FileSizeLimit> limit;
    if (GetParam() == "config.yaml") limit = std::make_unique<FileSizeLimit>(64);
    run_trial_group(sweep, {0}, options, limited, events);
  }
  for (auto& wrapper : wrappers) wrapper->limit.reset();
  ASSERT_EQ(events.results.count(0), 1u);
  const auto& failed = events.results[0].outcome;
  EXPECT_EQ(failed.status, TrialStatus::Interrupted);
  EXPECT_NE(failed.storage_error.find((trial / GetParam()).string()), std::string::npos) << failed.storage_error;
  EXPECT_NE(failed.storage_error.find(std::strerror(EFBIG)), std::string::npos) << failed.storage_error;
  EXPECT_EQ(failed.storage_error.find('\n'), std::string::npos);
  EXPECT_TRUE(failed.error.empty());
  EXPECT_FALSE(fs::exists(trial / "summary.json"));
  ReadOptions read;
  read.pending = true;  // a trial whose config.yaml could not be written has no results: it is the config's, not run
  const auto state = read_sweep_state(sweep, options.experiments_dir, read);
  ASSERT_EQ(state.trials.size(), 1u);
  EXPECT_EQ(state.trials[0].status, GetParam() == "config.yaml" ? TrialStatus::Pending : TrialStatus::Partial);
  if (GetParam() == "metrics.jsonl") {
    EXPECT_EQ(checkpoint_step(trial / "checkpoint.pt"), 20);
  }
  if (GetParam() == "summary.json") {
    EXPECT_EQ(checkpoint_step(trial / "checkpoint.pt"), 60);
  }

  const GroupTrainer plain = [](const std::vector<GroupMember>& members) { return train_group(members); };
  run_trial_group(sweep, {0}, options, plain, events);
  EXPECT_EQ(events.results[0].outcome.status, TrialStatus::Completed);
  EXPECT_EQ(summary_of(trial)["status"], "completed");
  RunOptions whole = options;
  whole.experiments_dir = dir.str("whole");
  run_trial_group(sweep, {0}, whole, plain, events);
  const auto reference = dir.path() / "whole/r/trials" / sweep.trials[0].id;
  EXPECT_EQ(metric_values(trial), metric_values(reference));
  EXPECT_EQ(summary_of(trial)["weights_digest"], summary_of(reference)["weights_digest"]);
}

INSTANTIATE_TEST_SUITE_P(Files, StorageErrorTest, ::testing::Values("config.yaml", "metrics.jsonl", "summary.json"),
                         [](const auto& info) { return info.param.substr(0, info.param.find('.')); });

// ---- 4. A diverged trial's metrics end with the loss that stopped it ----

TEST(Divergence, TheLastMetricsLineIsTheDivergedStepWithItsLoss) {
  TempDir dir;
  // lr 5: finite for a few evaluations, then the loss explodes; lr 1e5: not finite within a few steps.
  dir.write("configs/d.yaml",
            "task: {name: doughnuts, samples: 200}\n"
            "optimizer: {name: sgd}\n"
            "training: {steps: 400, batch_size: 8, eval_every: 1}\n"
            "stop: {divergence_loss: 1000.0}\n"
            "sweep: {grid: {optimizer.lr: [5.0, 100000.0]}}\n");
  ASSERT_EQ(testing::run_sweeplab(dir, "run d -q").code, 0);
  int with_finite_records = 0;
  for (const auto& trial : load_sweep(dir.str("configs"), "d").trials) {
    SCOPED_TRACE(trial.id);
    const auto folder = dir.path() / "experiments/d/trials" / trial.id;
    const auto summary = summary_of(folder);
    ASSERT_EQ(summary["status"], "diverged");
    const auto lines = lines_of(folder / "metrics.jsonl");
    ASSERT_FALSE(lines.empty());
    const auto last = json::parse(lines.back());
    EXPECT_EQ(last["step"], summary["diverged_at_step"]);
    EXPECT_EQ(last["diverged"], true);
    EXPECT_TRUE(last["train_loss"].is_null());
    ASSERT_TRUE(last.contains("loss"));
    if (summary["diverged_loss"].is_number()) {
      EXPECT_EQ(last["loss"], summary["diverged_loss"]);
    } else {
      EXPECT_TRUE(last["loss"] == "nan" || last["loss"] == "inf" || last["loss"] == "-inf") << last;
    }

    const auto record = parse_record_json(lines.back());
    ASSERT_TRUE(record);
    EXPECT_TRUE(record->diverged);
    EXPECT_TRUE(!std::isfinite(record->train_loss) || record->train_loss > 1000.0) << record->train_loss;
    EXPECT_FALSE(metric_value(*record, "train_loss"));  // nothing averages it as an evaluation
    EXPECT_EQ(record_json(*record), lines.back());     // reads back as written
    const auto records = read_metrics((folder / "metrics.jsonl").string());
    ASSERT_EQ(records.size(), lines.size());
    for (std::size_t i = 0; i + 1 < records.size(); ++i) {
      EXPECT_FALSE(records[i].diverged);
      EXPECT_TRUE(std::isfinite(records[i].train_loss));
      EXPECT_LT(records[i].step, record->step);
    }
    if (records.size() > 1) {
      ++with_finite_records;
      EXPECT_EQ(summary["final"]["step"], records[records.size() - 2].step);  // the last finite record
    }
  }
  EXPECT_GE(with_finite_records, 1);
}

TEST(Divergence, ANonFiniteLossIsWrittenAsTextAndReadsBack) {
  const double infinity = std::numeric_limits<double>::infinity();
  for (const double loss : {std::nan(""), infinity, -infinity, 2.5e38}) {
    EvalRecord record;
    record.step = 7;
    record.train_loss = loss;
    record.diverged = true;
    const auto line = json::parse(record_json(record));
    EXPECT_TRUE(line["train_loss"].is_null());
    const auto back = parse_record_json(record_json(record));
    ASSERT_TRUE(back);
    EXPECT_TRUE(back->diverged);
    EXPECT_EQ(back->step, 7);
    if (std::isnan(loss)) {
      EXPECT_EQ(line["loss"], "nan");
      EXPECT_TRUE(std::isnan(back->train_loss));
    } else {
      if (std::isinf(loss)) {
        EXPECT_EQ(line["loss"], loss > 0 ? "inf" : "-inf");
      }
      EXPECT_EQ(back->train_loss, loss);
    }
  }
}

// ---- 5. A worker killed by a signal ----

TEST(Crash, SummarySaysHowTheWorkerDiedWhereAndAfterHowLong) {
  TempDir dir;
  dir.write("configs/r.yaml", kSmall);
  ASSERT_EQ(testing::run_sweeplab(dir, "run r", "kill_at_step=45").code, 137);
  const auto trial = only_trial(dir);
  // The killed worker may still be on its way out, holding the trial's lock.
  for (int i = 0; i < 500 && lock_holder(trial.string()); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  const auto sweep = load_sweep(dir.str("configs"), "r");
  RunOptions options;
  options.experiments_dir = dir.str("experiments");
  const auto records = read_metrics((trial / "metrics.jsonl").string());
  ASSERT_EQ(records.size(), 4u);

  CrashReport killed;
  killed.error = "the worker process died: killed by SIGKILL";
  killed.signal = "SIGKILL";
  killed.stderr_tail = "one line\nlast line";
  killed.session_s = 2.5;
  killed.resumed_from_step = 30;
  const auto outcome = record_crash(sweep, 0, options, killed);
  auto summary = summary_of(trial);
  EXPECT_EQ(summary["status"], "failed");
  EXPECT_EQ(summary["error"], killed.error);
  EXPECT_EQ(summary["signal"], "SIGKILL");
  EXPECT_TRUE(summary["exit_code"].is_null());
  EXPECT_EQ(summary["stderr_tail"], "one line\nlast line");
  EXPECT_EQ(summary["steps"], 40);
  EXPECT_EQ(summary["resumed_from_step"], 30);
  EXPECT_DOUBLE_EQ(summary["wall_time_s"].get<double>(), records[2].elapsed_s + 2.5);
  EXPECT_DOUBLE_EQ(outcome.wall_time_s, records[2].elapsed_s + 2.5);
  EXPECT_EQ(read_summary(trial.string())->signal, "SIGKILL");

  CrashReport exited;
  exited.error = "the worker process died: exit code 3";
  exited.exit_code = 3;
  exited.session_s = 1.25;
  record_crash(sweep, 0, options, exited);
  summary = summary_of(trial);
  EXPECT_TRUE(summary["signal"].is_null());
  EXPECT_EQ(summary["exit_code"], 3);
  EXPECT_DOUBLE_EQ(summary["wall_time_s"].get<double>(), 1.25);  // a first session
  EXPECT_EQ(read_summary(trial.string())->exit_code, 3);
}

}  // namespace
}  // namespace sweeplab
