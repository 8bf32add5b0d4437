// `submit`, `cancel` and `slurm-task` without a cluster: what Slurm's tools print, read back; the task lists,
// scripts and array splits; and every bad input, refused with one line before anything is written.
// tests/test_slurm_cluster.cpp runs the same commands on a real Slurm.
#include <gtest/gtest.h>

#include <cstdlib>
#include <nlohmann/json.hpp>

#include "sweeplab/core/process.hpp"
#include "sweeplab/slurm/submissions.hpp"
#include "test_util.hpp"

namespace sweeplab {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;

const std::string kSweep =
    "task: {name: doughnuts, samples: 400}\n"
    "optimizer: {name: sgd, lr: 0.05}\n"
    "training: {epochs: 2}\n"
    "sweep: {grid: {training.batch_size: [16, 32, 64]}}\n";

// PATH without Slurm's tools for the life of the object (the tests below that need them use a fake folder).
class PathWithout {
 public:
  explicit PathWithout(const std::string& folder) : old_(std::getenv("PATH") ? std::getenv("PATH") : "") {
    ::setenv("PATH", folder.c_str(), 1);
  }
  ~PathWithout() { ::setenv("PATH", old_.c_str(), 1); }

 private:
  std::string old_;
};

// --- what the tools print ----------------------------------------------------------------------------

TEST(SlurmParse, MaxArraySizeFromScontrolShowConfig) {
  const std::string config =
      "Configuration data as of 2026-11-23T17:00:00\nMailProg                = /bin/true\n"
      "MaxArraySize            = 1001\nMaxJobCount             = 200000\n";
  EXPECT_EQ(slurm::parse_max_array_size(config), std::optional<std::size_t>(1001));
  EXPECT_EQ(slurm::parse_max_array_size("MaxJobCount = 5\n"), std::nullopt);
  EXPECT_EQ(slurm::parse_max_array_size("MaxArraySize = lots\n"), std::nullopt);
}

TEST(SlurmParse, IndexRangesAsSlurmWritesThem) {
  EXPECT_EQ(slurm::parse_index_ranges("1,3,7-9"), (std::vector<std::size_t>{1, 3, 7, 8, 9}));
  EXPECT_EQ(slurm::parse_index_ranges("[2-4]"), (std::vector<std::size_t>{2, 3, 4}));
  EXPECT_EQ(slurm::parse_index_ranges("0-5%2"), (std::vector<std::size_t>{0, 1, 2, 3, 4, 5}));
  EXPECT_EQ(slurm::parse_index_ranges("7"), (std::vector<std::size_t>{7}));
  EXPECT_TRUE(slurm::parse_index_ranges("N/A").empty());
}

TEST(SlurmParse, SqueueOneTaskALineAndCollapsedPendingArrays) {
  const auto states = slurm::parse_squeue(
      "14_2|PENDING|JobArrayTaskLimit\n14_1|RUNNING|None\n15_[3-4%2]|PENDING|Priority\n16|RUNNING|None\n");
  ASSERT_EQ(states.size(), 5u);
  EXPECT_EQ(states.at("14_2").state, "PENDING");
  EXPECT_EQ(states.at("14_2").reason, "JobArrayTaskLimit");
  EXPECT_EQ(states.at("14_1").state, "RUNNING");
  EXPECT_EQ(states.at("14_1").reason, "");
  EXPECT_EQ(states.at("15_3").reason, "Priority");
  EXPECT_EQ(states.at("15_4").state, "PENDING");
  EXPECT_EQ(states.at("16_0").state, "RUNNING");
}

TEST(SlurmParse, ScontrolShowJobRemembersEndedTasks) {
  // As Slurm 22.05 prints them (cut short): a task killed by signal 9 after one requeue, one completed, and a
  // cancelled array whose pending tasks were never split.
  const auto states = slurm::parse_scontrol_jobs(
      "JobId=4 ArrayJobId=4 ArrayTaskId=1 JobName=r.sh UserId=root(0) JobState=FAILED Reason=JobLaunchFailure "
      "Dependency=(null) Requeue=1 Restarts=1 BatchFlag=1 Reboot=0 ExitCode=0:9 RunTime=00:00:00\n"
      "JobId=5 ArrayJobId=4 ArrayTaskId=0 JobName=r.sh JobState=COMPLETED Reason=None Restarts=1 ExitCode=0:0\n"
      "JobId=8 ArrayJobId=8 ArrayTaskId=0-2%1 ArrayTaskThrottle=1 JobState=CANCELLED Reason=None ExitCode=0:0\n");
  ASSERT_EQ(states.size(), 5u);
  EXPECT_EQ(states.at("4_1").state, "FAILED");
  EXPECT_EQ(states.at("4_1").exit_code, "0:9");
  EXPECT_EQ(states.at("4_1").restarts, 1);
  EXPECT_EQ(states.at("4_0").state, "COMPLETED");
  EXPECT_EQ(states.at("4_0").reason, "");
  EXPECT_EQ(states.at("8_2").state, "CANCELLED");
}

TEST(SlurmParse, SacctStatesWithoutSteps) {
  const auto states = slurm::parse_sacct(
      "12_3|FAILED|1:0\n12_3.batch|FAILED|1:0\n12_4|CANCELLED by 0|0:15\n12_[5-6]|PENDING|0:0\n");
  ASSERT_EQ(states.size(), 4u);
  EXPECT_EQ(states.at("12_3").exit_code, "1:0");
  EXPECT_EQ(states.at("12_4").state, "CANCELLED");
  EXPECT_EQ(states.at("12_6").state, "PENDING");
}

TEST(SlurmParse, HeldAndDeadTasks) {
  EXPECT_TRUE(slurm::is_held({"PENDING", "JobHeldAdmin", "", 0}));
  EXPECT_TRUE(slurm::is_held({"PENDING", "launch failed requeued held", "", 0}));
  EXPECT_TRUE(slurm::is_held({"REQUEUE_HOLD", "", "", 0}));
  EXPECT_FALSE(slurm::is_held({"PENDING", "Priority", "", 0}));
  EXPECT_FALSE(slurm::is_held({"RUNNING", "", "", 0}));
  // Died: the task's unsettled trials are failed. Not died: sweeplab stopped it (130) or hit a storage error (3),
  // or Slurm cancelled it or it ran out of time, and the checkpoints resume.
  for (const slurm::TaskState& state : std::vector<slurm::TaskState>{
           {"FAILED", "", "0:9", 0}, {"FAILED", "", "2:0", 0}, {"OUT_OF_MEMORY", "", "0:125", 0}, {"NODE_FAIL", "", "", 0}}) {
    EXPECT_TRUE(slurm::task_died(state)) << state.state << " " << state.exit_code;
  }
  for (const slurm::TaskState& state : std::vector<slurm::TaskState>{
           {"FAILED", "", "130:0", 0}, {"FAILED", "", "3:0", 0}, {"CANCELLED", "", "0:15", 0}, {"TIMEOUT", "", "0:0", 0},
           {"COMPLETED", "", "0:0", 0}, {"RUNNING", "", "", 0}}) {
    EXPECT_FALSE(slurm::task_died(state)) << state.state << " " << state.exit_code;
  }
}

TEST(SlurmParse, LiveStates) {
  for (const char* state : {"PENDING", "RUNNING", "REQUEUED", "SUSPENDED", "COMPLETING", "CONFIGURING"}) {
    EXPECT_TRUE(slurm::is_live(state)) << state;
  }
  for (const char* state : {"COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "OUT_OF_MEMORY", "NODE_FAIL", "PREEMPTED"}) {
    EXPECT_FALSE(slurm::is_live(state)) << state;
  }
}

// --- what submit writes ------------------------------------------------------------------------------

TEST(SlurmRecords, ArraysStayBelowMaxArraySize) {
  EXPECT_EQ(slurm::split_arrays(7, 3), (std::vector<std::size_t>{3, 3, 1}));
  EXPECT_EQ(slurm::split_arrays(3, 100001), (std::vector<std::size_t>{3}));
  EXPECT_EQ(slurm::split_arrays(4, 1), (std::vector<std::size_t>{1, 1, 1, 1}));
  EXPECT_TRUE(slurm::split_arrays(0, 10).empty());
}

TEST(SlurmRecords, TaskListsReadBackAsWritten) {
  const std::vector<std::vector<std::string>> tasks = {{"bs=16-aa", "bs=16-bb"}, {"bs=32-cc"}};
  EXPECT_EQ(slurm::tasks_text(tasks), "bs=16-aa bs=16-bb\nbs=32-cc\n");
  EXPECT_EQ(slurm::parse_tasks(slurm::tasks_text(tasks)), tasks);
}

TEST(SlurmRecords, JobsJsonlKeepsEveryArrayAndTheNewestTaskOfATrialWins) {
  TempDir dir;
  const std::string root = dir.str("sweep");
  dir.write("sweep/slurm/submit-001/array-1.tasks", "a b\nc\n");
  dir.write("sweep/slurm/submit-002/array-1.tasks", "c\n");
  slurm::ArrayRecord first{"14", "2026-11-23T17:00:00Z", "slurm/submit-001/array-1.sbatch",
                           "slurm/submit-001/array-1.tasks", {{"a", "b"}, {"c"}}};
  slurm::ArrayRecord second{"20", "2026-11-23T18:00:00Z", "slurm/submit-002/array-1.sbatch",
                            "slurm/submit-002/array-1.tasks", {{"c"}}};
  slurm::append_array_record(root, first);
  slurm::append_array_record(root, second);
  std::ofstream(root + "/slurm/jobs.jsonl", std::ios::app) << "{\"job_id\": \"torn";  // a line cut by a crash
  const auto records = slurm::read_array_records(root);
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(slurm::job_ids(records), (std::vector<std::string>{"14", "20"}));
  EXPECT_EQ(records[0].tasks, first.tasks);

  std::map<std::string, slurm::TaskState> states;
  states["14_0"] = {"RUNNING", "", "", 0};
  states["20_0"] = {"FAILED", "", "0:9", 0};
  const auto tasks = slurm::trial_tasks(root, records, states);
  EXPECT_EQ(tasks.at("a").key, "14_0");
  EXPECT_EQ(tasks.at("c").key, "20_0");  // submitted again: the newer task
  EXPECT_EQ(slurm::task_text(tasks.at("a")), "14_0 RUNNING");
  EXPECT_EQ(slurm::task_text(tasks.at("c")), "20_0 FAILED 0:9");
  EXPECT_EQ(tasks.at("c").log, root + "/slurm/logs/20_0.out");
  slurm::TrialTask gone = tasks.at("a");
  gone.state.reset();
  EXPECT_EQ(slurm::task_text(gone), "14_0 gone");
}

TEST(SlurmRecords, ScriptExecsTheTaskWithItsSignalAndOptions) {
  slurm::ScriptSpec spec;
  spec.job_name = "sweeplab-t";
  spec.array = "0-6%2";
  spec.log_pattern = "/x/experiments/t/slurm/logs/%A_%a.out";
  spec.working_dir = "/x";
  spec.sbatch_options = {"--partition=debug", "--time=01:00:00"};
  spec.command = {"/usr/bin/sweeplab", "slurm-task", "t", "-o", "model.hidden=[16, 16]", "-o", "lr=0.1,0.2"};
  spec.comment = "written by a test";
  const std::string script = slurm::sbatch_script(spec);
  EXPECT_EQ(script.rfind("#!/bin/bash\n", 0), 0u);
  for (const char* line : {"#SBATCH --array=0-6%2\n", "#SBATCH --output=/x/experiments/t/slurm/logs/%A_%a.out\n",
                           "#SBATCH --requeue\n", "#SBATCH --open-mode=append\n", "#SBATCH --signal=B:USR1@120\n",
                           "#SBATCH --partition=debug\n", "#SBATCH --time=01:00:00\n", "# written by a test\n",
                           "cd /x || exit 1\n",
                           "exec /usr/bin/sweeplab slurm-task t -o 'model.hidden=[16, 16]' -o lr=0.1,0.2\n"}) {
    EXPECT_NE(script.find(line), std::string::npos) << line << "\nin:\n" << script;
  }
  // The #SBATCH lines come before the first command, or sbatch ignores them.
  EXPECT_LT(script.rfind("#SBATCH"), script.find("\ncd "));
}

TEST(Process, RunsAProgramAndQuotesWordsForAShell) {
  const auto echo = run_command({"sh", "-c", "printf 'out'; printf 'err\\nmore' >&2; exit 3"});
  EXPECT_EQ(echo.exit_code, 3);
  EXPECT_EQ(echo.out, "out");
  EXPECT_EQ(echo.err, "err\nmore");
  EXPECT_EQ(echo.problem(), "err");
  const auto cat = run_command({"cat"}, "fed on stdin\n");
  EXPECT_TRUE(cat.ok());
  EXPECT_EQ(cat.out, "fed on stdin\n");
  const auto missing = run_command({"no-such-program-here"});
  EXPECT_EQ(missing.exit_code, -1);
  EXPECT_NE(missing.problem().find("not found on PATH"), std::string::npos);
  for (const std::string word : {"plain", "a b", "it's", "x=[1, 2]", "$HOME", ""}) {
    const auto back = run_command({"sh", "-c", "printf '%s' " + shell_quote(word)});
    EXPECT_EQ(back.out, word) << shell_quote(word);
  }
  EXPECT_EQ(shell_quote("lr=0.1,0.2"), "lr=0.1,0.2");
  // More input than a pipe holds, to a program that writes as it reads: no deadlock, nothing lost.
  std::string big;
  for (int i = 0; i < 40000; ++i) big += "line " + std::to_string(i) + "\n";
  const auto copied = run_command({"cat"}, big);
  ASSERT_TRUE(copied.ok()) << copied.problem();
  EXPECT_EQ(copied.out, big);
}

// --- bad input: one line, exit 2, nothing written ----------------------------------------------------

struct BadSubmit {
  std::vector<std::string> args;
  std::string says;
};

TEST(SubmitErrors, EachIsOneLineWithExitTwoAndWritesNothing) {
  TempDir dir;
  dir.write("configs/t.yaml", kSweep);
  const std::vector<BadSubmit> cases = {
      {{"submit", "t"}, "add --slurm"},
      {{"submit", "t", "--slurm", "--time", "1 hour"}, "--time 1 hour: not a Slurm time"},
      {{"submit", "t", "--slurm", "--mem", "4 GB"}, "--mem 4 GB: not a Slurm memory size"},
      {{"submit", "t", "--slurm", "--sbatch-arg=qos=long"}, "not an sbatch option"},
      {{"submit", "t", "--slurm", "--sbatch-arg=--array=0-3"}, "submit sets --array itself"},
      {{"submit", "t", "--slurm", "--sbatch-arg=--output=x.log"}, "submit sets --output itself"},
      {{"submit", "t", "--slurm", "--max-running", "0"}, "--max-running"},
      {{"submit", "nope", "--slurm"}, "nope"},
      {{"submit", "t", "--slurm", "-o", "lr=-1"}, "optimizer.lr"},
  };
  const auto before = dir.snapshot();
  for (const auto& bad : cases) {
    const auto result = testing::run_in(dir, bad.args);
    EXPECT_EQ(result.code, 2) << bad.says << ": " << result.out << result.err;
    EXPECT_NE(result.err.find(bad.says), std::string::npos) << result.err;
    EXPECT_EQ(std::count(result.err.begin(), result.err.end(), '\n'), 1) << result.err;
  }
  EXPECT_EQ(dir.snapshot(), before);
}

TEST(SubmitErrors, NoSbatchIsOneLineAndExitTwo) {
  TempDir dir;
  dir.write("configs/t.yaml", kSweep);
  fs::create_directories(dir.path() / "empty-bin");
  const auto before = dir.snapshot();
  PathWithout path(dir.str("empty-bin"));
  const auto result = testing::run_in(dir, {"submit", "t", "--slurm"});
  EXPECT_EQ(result.code, 2) << result.out << result.err;
  EXPECT_EQ(result.err, "sweeplab: sbatch not found on PATH: submit needs Slurm's command-line tools (run it on a "
                        "login node, load the Slurm module, or train here with sweeplab run)\n");
  EXPECT_EQ(dir.snapshot(), before);
  const auto cancel = testing::run_in(dir, {"cancel", "t"});  // nothing was submitted: nothing to cancel
  EXPECT_EQ(cancel.code, 0) << cancel.err;
  EXPECT_NE(cancel.out.find("has no Slurm jobs"), std::string::npos) << cancel.out;
}

TEST(SubmitErrors, SlurmTaskOutsideSlurmIsOneLine) {
  TempDir dir;
  dir.write("configs/t.yaml", kSweep);
  ::unsetenv("SLURM_ARRAY_TASK_ID");
  const auto result = testing::run_in(dir, {"slurm-task", "t", "--tasks", dir.str("none.tasks")});
  EXPECT_EQ(result.code, 2);
  EXPECT_NE(result.err.find("SLURM_ARRAY_TASK_ID is not set"), std::string::npos) << result.err;
  // Hidden from the list of commands a typo gets.
  const auto typo = testing::run_in(dir, {"sumbit", "t"});
  EXPECT_EQ(typo.code, 2);
  EXPECT_NE(typo.err.find("did you mean 'submit'"), std::string::npos) << typo.err;
  EXPECT_EQ(typo.err.find("slurm-task"), std::string::npos) << typo.err;
}

TEST(SubmitDryRun, PrintsTheScriptAndTasksAndWritesNothing) {
  TempDir dir;
  dir.write("configs/t.yaml", kSweep);
  fs::create_directories(dir.path() / "empty-bin");
  const auto before = dir.snapshot();
  PathWithout path(dir.str("empty-bin"));  // a laptop without Slurm may still look
  const auto result =
      testing::run_in(dir, {"submit", "t", "--slurm", "--dry-run", "--max-running", "2", "--partition", "short",
                            "--time", "00:30:00", "--sbatch-arg=--qos=low", "-o", "lr=0.1,0.2"});
  ASSERT_EQ(result.code, 0) << result.out << result.err;
  // 3 batch sizes x 2 learning rates: each batch size is one fused group, one array task.
  EXPECT_NE(result.out.find("submits 6 in 3 array tasks"), std::string::npos) << result.out;
  for (const char* text : {"MaxArraySize unknown", "#SBATCH --array=0-2%2", "#SBATCH --partition=short",
                           "#SBATCH --time=00:30:00", "#SBATCH --qos=low", "#   task 0: ", "#   task 2: ",
                           "slurm-task t -o lr=0.1,0.2 --tasks ", "submit-001/array-1.tasks"}) {
    EXPECT_NE(result.out.find(text), std::string::npos) << text << "\n" << result.out;
  }
  EXPECT_EQ(dir.snapshot(), before);
  // The USR1 before the time limit: 120 s, or a quarter of a short limit.
  const auto short_limit = testing::run_in(dir, {"submit", "t", "--slurm", "--dry-run", "--time", "4"});
  EXPECT_NE(short_limit.out.find("#SBATCH --signal=B:USR1@60\n"), std::string::npos) << short_limit.out;
  const auto long_limit = testing::run_in(dir, {"submit", "t", "--slurm", "--dry-run", "--time", "2-00:00:00"});
  EXPECT_NE(long_limit.out.find("#SBATCH --signal=B:USR1@120\n"), std::string::npos) << long_limit.out;
  EXPECT_EQ(dir.snapshot(), before);
}

TEST(SubmitDryRun, PruningSendsALineATask) {
  TempDir dir;
  // Two lines (batch sizes 16 and 64) of three learning rates: a task for each line, whichever way it is walked.
  dir.write("configs/t.yaml", kSweep);
  fs::create_directories(dir.path() / "empty-bin");
  PathWithout path(dir.str("empty-bin"));
  for (const std::string prune : {"prune=above_divergence", "prune={below_divergence: 2}"}) {
    const auto result = testing::run_in(dir, {"submit", "t", "--slurm", "--dry-run", "-o", "training.batch_size=16,64",
                                              "-o", "lr=0.01,0.1,1", "-o", prune});
    ASSERT_EQ(result.code, 0) << result.out << result.err;
    EXPECT_NE(result.out.find("submits 6 in 2 array tasks"), std::string::npos) << prune << "\n" << result.out;
    // Each task holds one batch size, all three learning rates.
    for (const char* task : {"#   task 0: ", "#   task 1: "}) {
      const auto at = result.out.find(task);
      ASSERT_NE(at, std::string::npos) << result.out;
      const std::string line = result.out.substr(at, result.out.find('\n', at) - at);
      EXPECT_NE(line.find("bs=16_") != std::string::npos, line.find("bs=64_") != std::string::npos) << line;
      for (const char* lr : {"lr=0.01-", "lr=0.1-", "lr=1-"}) EXPECT_NE(line.find(lr), std::string::npos) << lr << " " << line;
    }
  }
}

TEST(SubmitDryRun, StatusSaysWhenTheQueueCannotBeAsked) {
  TempDir dir;
  dir.write("configs/t.yaml", kSweep);
  dir.write("experiments/t/slurm/submit-001/array-1.tasks", "x\n");
  slurm::append_array_record(dir.str("experiments/t"),
                             {"41", "2026-11-23T17:00:00Z", "slurm/submit-001/array-1.sbatch", "slurm/submit-001/array-1.tasks", {}});
  fs::create_directories(dir.path() / "empty-bin");
  PathWithout path(dir.str("empty-bin"));
  const auto status = testing::run_in(dir, {"status", "t"});
  ASSERT_EQ(status.code, 0) << status.err;
  EXPECT_NE(status.out.find("1 job array submitted (job 41); squeue is not on PATH here"), std::string::npos)
      << status.out;
}

}  // namespace
}  // namespace sweeplab
