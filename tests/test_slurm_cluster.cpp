// `sweeplab submit --slurm` on a real Slurm: results equal to a local run, only what is missing submitted,
// arrays split below MaxArraySize, requeued tasks that resume exactly, crashed tasks recorded failed with their
// job id, and cancel. .ci/run starts a single-node cluster on loopback (scripts/slurm/start-local-slurm.sh);
// where there is none the tests skip and say so. CTest label: slurm.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <nlohmann/json.hpp>
#include <regex>
#include <thread>

#include "sweeplab/core/process.hpp"
#include "sweeplab/slurm/submissions.hpp"
#include "sweeplab/store/lock.hpp"
#include "test_util.hpp"

namespace sweeplab {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using testing::TempDir;

// Three batch sizes (each its own fused group, so its own array task), a few epochs: seconds.
const std::string kQuick =
    "task: {name: doughnuts, samples: 400}\n"
    "optimizer: {name: sgd, lr: 0.05}\n"
    "training: {epochs: 4}\n"
    "checkpoint: {every: 1, min_interval_s: 0}\n"
    "sweep: {grid: {training.batch_size: [16, 32, 64]}}\n";

// Two trials that each train for several seconds: long enough to be stopped part-way.
const std::string kLong =
    "task: {name: doughnuts, samples: 2000}\n"
    "model: {hidden: [256, 256]}\n"
    "optimizer: {name: sgd, lr: 0.02}\n"
    "training: {epochs: 300}\n"
    "checkpoint: {every: 50, min_interval_s: 0}\n"
    "sweep: {grid: {training.batch_size: [2, 4]}}\n";

std::string cluster_problem() {
  if (find_program("sbatch").empty()) {
    return "no Slurm here (sbatch is not on PATH): .ci/run starts a local cluster with scripts/slurm/start-local-slurm.sh";
  }
  // scontrol retries for a minute when its config file is missing: ask with a limit.
  const auto ping = run_command({"timeout", "10", "scontrol", "ping"});
  if (!ping.ok() || ping.out.find("UP") == std::string::npos) {
    return "sbatch is here but no Slurm controller answers (scontrol ping: " + ping.problem() + ")";
  }
  return "";
}

testing::Process sweeplab(const TempDir& dir, const std::string& arguments, const std::string& environment = "") {
  return testing::run_sweeplab_with(dir, arguments, environment);
}

bool wait_until(const std::function<bool()>& done, double seconds) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  return true;
}

std::size_t lines_in(const fs::path& file) {
  std::ifstream in(file);
  std::size_t lines = 0;
  for (std::string line; std::getline(in, line);) ++lines;
  return lines;
}

std::vector<std::string> trial_ids(const fs::path& sweep) {
  std::vector<std::string> ids;
  for (const auto& entry : fs::directory_iterator(sweep / "trials")) ids.push_back(entry.path().filename().string());
  std::sort(ids.begin(), ids.end());
  return ids;
}

// Results equal to those of a local run: metrics.jsonl line for line and summary.json field for field, but
// for wall-clock times and how the trial was run (its Slurm job, the sessions and checkpoints it took).
void expect_same_results(const fs::path& local, const fs::path& slurm_run) {
  const auto ids = trial_ids(local);
  ASSERT_EQ(ids, trial_ids(slurm_run));
  for (const auto& id : ids) {
    EXPECT_EQ(testing::metric_values(local / "trials" / id), testing::metric_values(slurm_run / "trials" / id)) << id;
    auto a = testing::read_json(local / "trials" / id / "summary.json");
    auto b = testing::read_json(slurm_run / "trials" / id / "summary.json");
    for (auto* summary : {&a, &b}) {
      for (const char* key : {"wall_time_s", "checkpoint_s", "slurm_job", "resumed_from_step", "checkpoints_written"}) {
        summary->erase(key);
      }
      const auto final = summary->find("final");  // a skipped trial has none
      if (final != summary->end() && final->is_object()) final->erase("elapsed_s");
    }
    EXPECT_EQ(a.dump(2), b.dump(2)) << id;
  }
}

class SlurmCluster : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string problem = cluster_problem();
    if (!problem.empty()) GTEST_SKIP() << problem;
  }
  // No job of a test outlives it (its folder goes away).
  void TearDown() override {
    const auto ids = slurm::job_ids(slurm::read_array_records(dir.str("experiments/t")));
    if (ids.empty()) return;
    std::vector<std::string> argv = {"scancel"};
    argv.insert(argv.end(), ids.begin(), ids.end());
    run_command(argv);
    wait_until([&] { return slurm::live_tasks(ids).empty(); }, 60);
  }
  std::vector<std::string> jobs() const { return slurm::job_ids(slurm::read_array_records(dir.str("experiments/t"))); }
  fs::path trial(const std::string& prefix) const {
    std::error_code ec;  // no folder yet: no trial yet
    for (const auto& entry : fs::directory_iterator(dir.path() / "experiments/t/trials", ec)) {
      if (entry.path().filename().string().rfind(prefix, 0) == 0) return entry.path();
    }
    return {};
  }
  // The array task that trains the trial whose id starts with `prefix`.
  std::string task_of(const std::string& prefix) const {
    for (const auto& [id, task] : slurm::trial_tasks(dir.str("experiments/t"), slurm::read_array_records(dir.str("experiments/t")), {})) {
      if (id.rfind(prefix, 0) == 0) return task.key;
    }
    return "";
  }

  TempDir dir;
};

TEST_F(SlurmCluster, SubmitWaitEndsAsALocalRunAndASecondSubmitSendsNothing) {
  dir.write("configs/t.yaml", kQuick);
  const auto local = sweeplab(dir, "--experiments local run t -q");
  ASSERT_EQ(local.code, 0) << local.err;
  const auto submitted = sweeplab(dir, "submit t --slurm --wait --poll 1 --max-running 2");
  ASSERT_EQ(submitted.code, 0) << submitted.out << submitted.err;
  EXPECT_NE(submitted.out.find("submits 3 in 3 array tasks"), std::string::npos) << submitted.out;
  EXPECT_NE(submitted.out.find("3 trials: 3 completed"), std::string::npos) << submitted.out;
  expect_same_results(dir.path() / "local/t", dir.path() / "experiments/t");
  ASSERT_EQ(jobs().size(), 1u);
  // Every trial names the array task that trained it, and status shows the job.
  for (const auto& id : trial_ids(dir.path() / "experiments/t")) {
    const auto summary = testing::read_json(dir.path() / "experiments/t/trials" / id / "summary.json");
    EXPECT_TRUE(std::regex_match(summary.value("slurm_job", ""), std::regex(jobs()[0] + "_[0-2]"))) << summary.dump();
  }
  const auto status = sweeplab(dir, "status t");
  EXPECT_NE(status.out.find("slurm job " + jobs()[0]), std::string::npos) << status.out;
  EXPECT_NE(status.out.find("3 COMPLETED"), std::string::npos) << status.out;

  const auto again = sweeplab(dir, "submit t --slurm");
  EXPECT_EQ(again.code, 0) << again.err;
  EXPECT_NE(again.out.find("nothing to submit (not submitted: 3 completed already)"), std::string::npos) << again.out;
  EXPECT_EQ(jobs().size(), 1u);
}

TEST_F(SlurmCluster, WhatSbatchRefusesIsOneLineAndNothingIsWritten) {
  dir.write("configs/t.yaml", kQuick);
  const auto before = dir.snapshot();
  const auto refused = sweeplab(dir, "submit t --slurm --partition no-such-partition");
  EXPECT_EQ(refused.code, 2) << refused.out << refused.err;
  EXPECT_NE(refused.err.find("sbatch refuses the job: sbatch: error: invalid partition specified: no-such-partition"),
            std::string::npos) << refused.err;
  EXPECT_EQ(std::count(refused.err.begin(), refused.err.end(), '\n'), 1) << refused.err;
  auto after = dir.snapshot();
  after.erase("out.txt " + std::to_string(refused.out.size()));
  after.erase("err.txt " + std::to_string(refused.err.size()));
  EXPECT_EQ(after, before);
}

TEST_F(SlurmCluster, OneSubmitOfASweepAtATime) {
  dir.write("configs/t.yaml", kQuick);
  fs::create_directories(dir.path() / "experiments/t/slurm");
  const auto held = TrialLock::try_acquire(dir.str("experiments/t/slurm"));  // as a submit under way holds it
  ASSERT_TRUE(held);
  const auto second = sweeplab(dir, "submit t --slurm");
  EXPECT_EQ(second.code, 2) << second.out << second.err;
  EXPECT_NE(second.err.find("another sweeplab submit of t is under way (pid " + std::to_string(::getpid()) + ")"),
            std::string::npos) << second.err;
  EXPECT_TRUE(jobs().empty());
}

TEST_F(SlurmCluster, AHalfDoneSweepSubmitsOnlyTheRest) {
  dir.write("configs/t.yaml", kQuick);
  const auto local = sweeplab(dir, "--experiments local run t -q");
  ASSERT_EQ(local.code, 0) << local.err;
  // One worker, longest first (batch size 16, then 32, then 64): Ctrl-C at batch size 64's second step leaves two
  // completed trials and one interrupted at its checkpoint.
  const auto partial = sweeplab(dir, "run t -j 1 -q", "SWEEPLAB_FAULT=sigint_at_step=2@bs=64");
  ASSERT_EQ(partial.code, 130) << partial.out << partial.err;
  const auto plan = sweeplab(dir, "submit t --slurm --dry-run");
  ASSERT_EQ(plan.code, 0) << plan.err;
  EXPECT_NE(plan.out.find("submits 1 in 1 array task (not submitted: 2 completed already)"), std::string::npos) << plan.out;
  EXPECT_NE(plan.out.find("#   task 0: bs=64-"), std::string::npos) << plan.out;
  const auto submitted = sweeplab(dir, "submit t --slurm --wait --poll 1");
  ASSERT_EQ(submitted.code, 0) << submitted.out << submitted.err;
  ASSERT_EQ(jobs().size(), 1u);
  const auto resumed = testing::read_json(trial("bs=64-") / "summary.json");
  EXPECT_GT(resumed["resumed_from_step"].get<int>(), 0) << resumed.dump();
  expect_same_results(dir.path() / "local/t", dir.path() / "experiments/t");
}

TEST_F(SlurmCluster, PruningBelowDivergenceSkipsWhatALocalRunSkips) {
  // Two lines (batch sizes 4 and 16), each walked from lr 1e5 down: 1e5 and 1000 diverge, 0.04 and 0.02 complete,
  // and 0.01 and 0.005 are skipped, each line in its own array task.
  dir.write("configs/t.yaml",
            "task: {name: doughnuts, samples: 160}\noptimizer: {name: sgd}\ntraining: {epochs: 2}\n"
            "stop: {divergence_loss: 100}\n"
            "sweep: {grid: {training.batch_size: [4, 16], optimizer.lr: [100000, 1000, 0.04, 0.02, 0.01, 0.005]}, "
            "prune: {below_divergence: 2}}\n");
  const auto local = sweeplab(dir, "--experiments local run t -q");
  ASSERT_EQ(local.code, 0) << local.err;
  const auto submitted = sweeplab(dir, "submit t --slurm --wait --poll 1");
  ASSERT_EQ(submitted.code, 0) << submitted.out << submitted.err;
  EXPECT_NE(submitted.out.find("submits 12 in 2 array tasks"), std::string::npos) << submitted.out;
  EXPECT_NE(submitted.out.find("12 trials: 4 completed, 4 diverged, 4 skipped"), std::string::npos) << submitted.out;
  expect_same_results(dir.path() / "local/t", dir.path() / "experiments/t");
  // A second submit sends nothing: the skipped trials stay skipped.
  const auto again = sweeplab(dir, "submit t --slurm --dry-run");
  EXPECT_EQ(again.code, 0) << again.err;
  EXPECT_NE(again.out.find("nothing to submit"), std::string::npos) << again.out;
}

TEST_F(SlurmCluster, ArraysAreSplitBelowMaxArraySize) {
  dir.write("configs/t.yaml", kQuick);
  // A cluster whose MaxArraySize is 2: scontrol says so; every other command is the real one.
  const std::string real = find_program("scontrol");
  dir.write("bin/scontrol",
            "#!/bin/sh\nif [ \"$1 $2\" = \"show config\" ]; then\n  " + real +
                " show config | sed 's/^MaxArraySize .*/MaxArraySize            = 2/'\n  exit\nfi\nexec " + real +
                " \"$@\"\n");
  fs::permissions(dir.path() / "bin/scontrol", fs::perms::owner_all);
  const std::string path = "PATH=" + dir.str("bin") + ":$PATH";
  const auto plan = sweeplab(dir, "submit t --slurm --dry-run --group-size 1", path);
  ASSERT_EQ(plan.code, 0) << plan.err;
  EXPECT_NE(plan.out.find("MaxArraySize 2: 2 arrays"), std::string::npos) << plan.out;
  const auto submitted = sweeplab(dir, "submit t --slurm --group-size 1 --wait --poll 1", path);
  ASSERT_EQ(submitted.code, 0) << submitted.out << submitted.err;
  const auto records = slurm::read_array_records(dir.str("experiments/t"));
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[0].tasks.size(), 2u);
  EXPECT_EQ(records[1].tasks.size(), 1u);
  EXPECT_NE(records[0].job_id, records[1].job_id);
  EXPECT_NE(testing::read_file(dir.path() / "experiments/t" / records[0].script).find("#SBATCH --array=0-1\n"),
            std::string::npos);
  EXPECT_NE(submitted.out.find("3 trials: 3 completed"), std::string::npos) << submitted.out;
}

TEST_F(SlurmCluster, RequeuedTasksResumeExactly) {
  dir.write("configs/t.yaml", kLong);
  const auto submitted = sweeplab(dir, "submit t --slurm");
  ASSERT_EQ(submitted.code, 0) << submitted.out << submitted.err;
  // Requeued by an administrator (or preempted): SIGTERM to every process of the task. And the signal sbatch
  // --signal sends before the time limit: USR1 to the batch shell, after which the task requeues itself.
  const std::string by_scontrol = task_of("bs=2-"), by_signal = task_of("bs=4-");
  ASSERT_TRUE(wait_until([&] { return lines_in(trial("bs=2-") / "metrics.jsonl") >= 2; }, 120));
  ASSERT_TRUE(run_command({"scontrol", "requeue", by_scontrol}).ok());
  ASSERT_TRUE(wait_until([&] { return lines_in(trial("bs=4-") / "metrics.jsonl") >= 2; }, 120));
  const auto usr1 = run_command({"scancel", "--signal=USR1", "--batch", by_signal});
  ASSERT_TRUE(usr1.ok()) << usr1.problem();
  // A second submit sends nothing (both are in the queue) and waits for them.
  const auto waited = sweeplab(dir, "submit t --slurm --wait --poll 1");
  ASSERT_EQ(waited.code, 0) << waited.out << waited.err;
  EXPECT_NE(waited.out.find("nothing to submit (not submitted: 2 queued in Slurm job " + jobs()[0] + ")"),
            std::string::npos) << waited.out;
  ASSERT_EQ(jobs().size(), 1u);
  for (const auto& [prefix, task] : {std::pair{"bs=2-", by_scontrol}, std::pair{"bs=4-", by_signal}}) {
    const auto summary = testing::read_json(trial(prefix) / "summary.json");
    EXPECT_EQ(summary["status"], "completed") << summary.dump();
    EXPECT_GT(summary["resumed_from_step"].get<int>(), 0) << prefix << " was not stopped part-way: " << summary.dump();
    EXPECT_EQ(summary["slurm_job"], task);
  }
  const std::string log = testing::read_file(dir.path() / "experiments/t/slurm/logs" / (by_signal + ".out"));
  EXPECT_NE(log.find("requeued " + by_signal), std::string::npos) << log;
  const auto local = sweeplab(dir, "--experiments local run t -q");
  ASSERT_EQ(local.code, 0) << local.err;
  expect_same_results(dir.path() / "local/t", dir.path() / "experiments/t");
}

TEST_F(SlurmCluster, ACrashedTaskIsFailedWithItsJobId) {
  dir.write("configs/t.yaml", kQuick);
  // The whole task dies (SIGKILL to sweeplab and its trainer, as the OOM killer or a lost node would): the
  // trial is left part-way, and submit --wait records it failed with the task's id and the end of its log.
  const auto killed = sweeplab(dir, "submit t --slurm --wait --poll 1", "SWEEPLAB_FAULT=kill_at_step=3@bs=32");
  EXPECT_EQ(killed.code, 1) << killed.out << killed.err;
  const auto first = testing::read_json(trial("bs=32-") / "summary.json");
  const std::string task = task_of("bs=32-");
  EXPECT_EQ(first["status"], "failed") << first.dump();
  EXPECT_EQ(first["slurm_job"], task);
  EXPECT_EQ(first["signal"], "SIGKILL");
  EXPECT_NE(first["error"].get<std::string>().find("Slurm task " + task + " ended FAILED"), std::string::npos) << first.dump();
  EXPECT_NE(first["error"].get<std::string>().find("logs/" + task + ".out"), std::string::npos) << first.dump();
  EXPECT_NE(first["stderr_tail"].get<std::string>().find("slurm-task " + task), std::string::npos) << first.dump();
  EXPECT_EQ(testing::read_json(trial("bs=16-") / "summary.json")["status"], "completed");
  // A failed trial is not sent again unless asked; then its trainer crashes (segfault): failed again, by the
  // task itself this time, with the new task's id.
  const auto again = sweeplab(dir, "submit t --slurm");
  EXPECT_NE(again.out.find("nothing to submit"), std::string::npos) << again.out;
  const auto retried = sweeplab(dir, "submit t --slurm --retry-failed --wait --poll 1", "SWEEPLAB_FAULT=segfault_at_step=3@bs=32");
  EXPECT_EQ(retried.code, 1) << retried.out << retried.err;
  ASSERT_EQ(jobs().size(), 2u);
  const auto second = testing::read_json(trial("bs=32-") / "summary.json");
  EXPECT_EQ(second["status"], "failed");
  EXPECT_EQ(second["slurm_job"], jobs()[1] + "_0");
  EXPECT_EQ(second["signal"], "SIGSEGV");
  const auto status = sweeplab(dir, "status t");
  EXPECT_NE(status.out.find(jobs()[1] + "_0 FAILED"), std::string::npos) << status.out;
}

TEST_F(SlurmCluster, ATaskThatCannotStartFailsItsTrialsWithItsLog) {
  dir.write("configs/t.yaml", kQuick);
  const auto submitted = sweeplab(dir, "submit t --slurm --wait --poll 1 -o training.batch_size=16",
                                  "SWEEPLAB_TRAINER=/no/such/trainer");
  EXPECT_EQ(submitted.code, 1) << submitted.out << submitted.err;
  const auto summary = testing::read_json(trial("") / "summary.json");
  EXPECT_EQ(summary["status"], "failed");
  EXPECT_EQ(summary["exit_code"], 2);
  EXPECT_NE(summary["error"].get<std::string>().find("ended FAILED (exit code 2:0)"), std::string::npos) << summary.dump();
  EXPECT_NE(summary["stderr_tail"].get<std::string>().find("SWEEPLAB_TRAINER=/no/such/trainer is not a program"),
            std::string::npos) << summary.dump();
  EXPECT_TRUE(fs::exists(trial("") / "config.yaml"));  // status shows it with the config it was sent with
}

TEST_F(SlurmCluster, WaitingOutlastsAQueueThatDoesNotAnswerForAWhile) {
  dir.write("configs/t.yaml", kLong);
  // squeue fails twice right after the job is queued, as with a busy controller; every other answer is the real one.
  dir.write("bin/squeue", "#!/bin/sh\nn=$(cat " + dir.str("count") + " 2>/dev/null || echo 0); n=$((n+1)); echo $n > " +
                              dir.str("count") + "\nif [ $n -eq 2 ] || [ $n -eq 3 ]; then\n  echo 'squeue: error: Socket "
                              "timed out on send/recv operation' >&2\n  exit 1\nfi\nexec " + find_program("squeue") +
                              " \"$@\"\n");
  fs::permissions(dir.path() / "bin/squeue", fs::perms::owner_all);
  const auto waited = sweeplab(dir, "submit t --slurm --wait --poll 1 -o training.batch_size=4", "PATH=" + dir.str("bin") + ":$PATH");
  EXPECT_EQ(waited.code, 0) << waited.out << waited.err;
  EXPECT_NE(waited.err.find("squeue failed: squeue: error: Socket timed out on send/recv operation; asking again every 1 s"),
            std::string::npos) << waited.err;
  EXPECT_EQ(std::count(waited.err.begin(), waited.err.end(), '\n'), 1) << waited.err;
  EXPECT_NE(waited.out.find("1 trial: 1 completed"), std::string::npos) << waited.out;
}

TEST_F(SlurmCluster, CancelLeavesNoJobBehind) {
  dir.write("configs/t.yaml", kLong);
  const auto submitted = sweeplab(dir, "submit t --slurm --max-running 1 --group-size 1");
  ASSERT_EQ(submitted.code, 0) << submitted.out << submitted.err;
  const auto ids = jobs();
  ASSERT_EQ(ids.size(), 1u);
  ASSERT_TRUE(wait_until([&] {
    for (const char* prefix : {"bs=2-", "bs=4-"}) {
      if (!trial(prefix).empty() && lines_in(trial(prefix) / "metrics.jsonl") >= 1) return true;
    }
    return false;
  }, 120));
  // Ctrl-C stops the waiting, not the jobs. (Sent once the wait has begun: its first line is out.)
  const int waited = std::system(
      ("cd " + dir.str() + " && { " + SWEEPLAB_BINARY + " submit t --slurm --wait --poll 1 > wait.txt 2> wait-err.txt & "
       "pid=$!; for i in $(seq 300); do grep -q 'nothing to submit' wait.txt && break; sleep 0.1; done; sleep 1; "
       "kill -INT $pid; wait $pid; }").c_str());
  EXPECT_TRUE(WIFEXITED(waited) && WEXITSTATUS(waited) == 130) << waited;
  EXPECT_NE(testing::read_file(dir.path() / "wait-err.txt").find("stopped waiting; the jobs go on"), std::string::npos)
      << testing::read_file(dir.path() / "wait-err.txt");
  EXPECT_FALSE(slurm::live_tasks(ids).empty());
  const auto cancelled = sweeplab(dir, "cancel t");
  ASSERT_EQ(cancelled.code, 0) << cancelled.out << cancelled.err;
  EXPECT_NE(cancelled.out.find("cancelled job " + ids[0]), std::string::npos) << cancelled.out;
  EXPECT_TRUE(slurm::live_tasks(ids).empty());
  const auto queue = run_command({"squeue", "-h", "-j", ids[0]});
  EXPECT_EQ(queue.out, "") << queue.out;
  // The trial that ran checkpointed and is sent again, with the one that never started.
  const auto plan = sweeplab(dir, "submit t --slurm --dry-run");
  EXPECT_NE(plan.out.find("submits 2 in 2 array tasks"), std::string::npos) << plan.out;
  const auto nothing = sweeplab(dir, "cancel t");
  EXPECT_EQ(nothing.code, 0);
  EXPECT_NE(nothing.out.find("nothing to cancel"), std::string::npos) << nothing.out;
}

}  // namespace
}  // namespace sweeplab
