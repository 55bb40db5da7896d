// The command executor against real processes.

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <memory>
#include <set>
#include <sstream>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "dts/execution/executor.h"
#include "execution/test_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace dts::execution {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;
using testing::CommandRequest;
using testing::Eventually;
using testing::RunToEnd;
using testing::ShellRequest;
using testing::Waiter;

// A fresh directory under TMPDIR, removed with its contents afterwards.
class TempDir {
 public:
  TempDir() {
    std::string pattern = absl::StrCat(::testing::TempDir(), "/dts_exec_XXXXXX");
    path_ = mkdtemp(pattern.data()) ? pattern : "";
  }
  ~TempDir() {
    if (!path_.empty()) std::system(absl::StrCat("rm -rf '", path_, "'").c_str());
  }
  const std::string& path() const { return path_; }
  std::string File(absl::string_view name) const { return absl::StrCat(path_, "/", name); }

 private:
  std::string path_;
};

bool Exists(const std::string& path) { return access(path.c_str(), F_OK) == 0; }

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

class CommandTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ExecutorOptions options;
    options.kill_grace = absl::Milliseconds(200);
    auto executor = CreateLocalExecutor(&clock_, std::move(options));
    ASSERT_TRUE(executor.ok()) << executor.status();
    executor_ = *std::move(executor);
  }

  RunOutcome Run(RunRequest request) { return RunToEnd(*executor_, std::move(request)); }

  ManualClock clock_{absl::FromUnixSeconds(1'700'000'000)};
  std::unique_ptr<Executor> executor_;
};

TEST_F(CommandTest, EchoOutputIsCaptured) {
  RunOutcome outcome = Run(CommandRequest({"/bin/echo", "hello", "world"}));
  EXPECT_EQ(outcome.status, RunStatus::kCompleted);
  EXPECT_EQ(outcome.exit_code, 0);
  EXPECT_EQ(outcome.output, "hello world\n");
  EXPECT_EQ(outcome.error, "");
}

TEST_F(CommandTest, TimesComeFromTheInjectedClock) {
  RunOutcome outcome = Run(CommandRequest({"/bin/true"}));
  EXPECT_EQ(outcome.start_time, absl::FromUnixSeconds(1'700'000'000));
  EXPECT_EQ(outcome.end_time, absl::FromUnixSeconds(1'700'000'000));
}

TEST_F(CommandTest, StdoutAndStderrAreInterleavedInOrder) {
  RunOutcome outcome = Run(ShellRequest("echo one; echo two >&2; echo three; echo four >&2"));
  EXPECT_EQ(outcome.status, RunStatus::kCompleted);
  EXPECT_EQ(outcome.output, "one\ntwo\nthree\nfour\n");
}

TEST_F(CommandTest, OutputKeepsTheLastBytes) {
  RunRequest request = CommandRequest({"/usr/bin/seq", "1", "100000"});
  request.max_output_bytes = 100;
  RunOutcome outcome = Run(std::move(request));
  std::string all;
  for (int i = 1; i <= 100000; ++i) absl::StrAppend(&all, i, "\n");
  EXPECT_EQ(outcome.status, RunStatus::kCompleted);
  EXPECT_EQ(outcome.output, all.substr(all.size() - 100));
}

TEST_F(CommandTest, ZeroOutputLimitKeepsNothing) {
  RunRequest request = CommandRequest({"/bin/echo", "hello"});
  request.max_output_bytes = 0;
  RunOutcome outcome = Run(std::move(request));
  EXPECT_EQ(outcome.status, RunStatus::kCompleted);
  EXPECT_EQ(outcome.output, "");
}

TEST_F(CommandTest, NonZeroExitFails) {
  RunOutcome outcome = Run(ShellRequest("echo bad; exit 3"));
  EXPECT_EQ(outcome.status, RunStatus::kFailed);
  EXPECT_EQ(outcome.exit_code, 3);
  EXPECT_EQ(outcome.error, "exited with status 3");
  EXPECT_EQ(outcome.output, "bad\n");
}

TEST_F(CommandTest, DeathBySignalFails) {
  RunOutcome outcome = Run(ShellRequest("kill -9 $$"));
  EXPECT_EQ(outcome.status, RunStatus::kFailed);
  EXPECT_EQ(outcome.exit_code, std::nullopt);
  EXPECT_EQ(outcome.error, "killed by signal 9 (SIGKILL)");
}

TEST_F(CommandTest, ArgvIsPassedVerbatimWithoutAShell) {
  RunOutcome outcome =
      Run(CommandRequest({"/bin/echo", "$HOME; ls", "a  b", "'q\"", "`id`", "*"}));
  EXPECT_EQ(outcome.status, RunStatus::kCompleted);
  EXPECT_EQ(outcome.output, "$HOME; ls a  b 'q\" `id` *\n");
}

TEST_F(CommandTest, ProgramIsFoundOnThePath) {
  RunOutcome outcome = Run(CommandRequest({"echo", "found"}));
  EXPECT_EQ(outcome.status, RunStatus::kCompleted);
  EXPECT_EQ(outcome.output, "found\n");
}

TEST_F(CommandTest, ShellRunsAScriptWithPipes) {
  RunOutcome outcome = Run(ShellRequest("printf 'b\\na\\nc\\n' | sort | tr a-z A-Z | head -n 2"));
  EXPECT_EQ(outcome.status, RunStatus::kCompleted);
  EXPECT_EQ(outcome.output, "A\nB\n");
}

TEST_F(CommandTest, EnvIsTheBasePlusTheJobsAndNothingOfTheServer) {
  ASSERT_EQ(setenv("DTS_TEST_SERVER_SECRET", "do-not-leak", 1), 0);
  RunRequest request = CommandRequest({"/usr/bin/env"});
  (*request.executor.mutable_command()->mutable_env())["GREETING"] = "hello world";
  (*request.executor.mutable_command()->mutable_env())["LANG"] = "C";
  RunOutcome outcome = Run(std::move(request));
  unsetenv("DTS_TEST_SERVER_SECRET");

  EXPECT_EQ(outcome.status, RunStatus::kCompleted);
  EXPECT_THAT(outcome.output, Not(HasSubstr("do-not-leak")));
  std::set<std::string> names;
  for (absl::string_view line : absl::StrSplit(outcome.output, '\n', absl::SkipEmpty())) {
    names.insert(std::string(line.substr(0, line.find('='))));
  }
  // LC_ALL and TZ pass through when whoever runs the tests set them.
  names.erase("LC_ALL");
  names.erase("TZ");
  EXPECT_EQ(names, (std::set<std::string>{"DTS_RUN_ID", "GREETING", "HOME", "LANG", "PATH"}));
  EXPECT_THAT(outcome.output, HasSubstr("GREETING=hello world\n"));
  EXPECT_THAT(outcome.output, HasSubstr("LANG=C\n"));  // the job's value wins
  EXPECT_THAT(outcome.output,
              HasSubstr("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n"));
}

TEST_F(CommandTest, InvalidEnvNameFails) {
  RunRequest request = CommandRequest({"/bin/true"});
  (*request.executor.mutable_command()->mutable_env())["A=B"] = "x";
  RunOutcome outcome = Run(std::move(request));
  EXPECT_EQ(outcome.status, RunStatus::kFailed);
  EXPECT_THAT(outcome.error, HasSubstr("invalid variable name"));
}

TEST_F(CommandTest, WorkingDirIsApplied) {
  TempDir dir;
  RunRequest request = CommandRequest({"/bin/pwd"});
  request.executor.mutable_command()->set_working_dir(dir.path());
  RunOutcome outcome = Run(std::move(request));
  EXPECT_EQ(outcome.status, RunStatus::kCompleted);
  char resolved[PATH_MAX];
  ASSERT_NE(realpath(dir.path().c_str(), resolved), nullptr);
  EXPECT_EQ(outcome.output, absl::StrCat(resolved, "\n"));
}

TEST_F(CommandTest, MissingWorkingDirFails) {
  RunRequest request = CommandRequest({"/bin/pwd"});
  request.executor.mutable_command()->set_working_dir("/nonexistent/dir");
  RunOutcome outcome = Run(std::move(request));
  EXPECT_EQ(outcome.status, RunStatus::kFailed);
  EXPECT_EQ(outcome.error, "chdir /nonexistent/dir: No such file or directory");
}

TEST_F(CommandTest, RelativeWorkingDirFails) {
  RunRequest request = CommandRequest({"/bin/pwd"});
  request.executor.mutable_command()->set_working_dir("tmp");
  RunOutcome outcome = Run(std::move(request));
  EXPECT_EQ(outcome.status, RunStatus::kFailed);
  EXPECT_EQ(outcome.error, "command.working_dir must be an absolute path");
}

TEST_F(CommandTest, NonexistentProgramFailsWithTheExecError) {
  RunOutcome outcome = Run(CommandRequest({"/nonexistent"}));
  EXPECT_EQ(outcome.status, RunStatus::kFailed);
  EXPECT_EQ(outcome.exit_code, std::nullopt);
  EXPECT_EQ(outcome.error, "execve /nonexistent: No such file or directory");
}

TEST_F(CommandTest, ProgramNotOnThePathFails) {
  RunOutcome outcome = Run(CommandRequest({"dts-no-such-program"}));
  EXPECT_EQ(outcome.status, RunStatus::kFailed);
  EXPECT_THAT(outcome.error,
              StartsWith("execve dts-no-such-program: No such file or directory (searched PATH="));
}

TEST_F(CommandTest, NonExecutableFileFails) {
  TempDir dir;
  std::string path = dir.File("data.txt");
  std::ofstream(path) << "not a program\n";
  ASSERT_EQ(chmod(path.c_str(), 0644), 0);
  RunOutcome outcome = Run(CommandRequest({path}));
  EXPECT_EQ(outcome.status, RunStatus::kFailed);
  EXPECT_EQ(outcome.error, absl::StrCat("execve ", path, ": Permission denied"));
}

TEST_F(CommandTest, EmptyArgvFails) {
  RunRequest request;
  request.run_id = RunId("run");
  request.executor.mutable_command();
  RunOutcome outcome = Run(std::move(request));
  EXPECT_EQ(outcome.status, RunStatus::kFailed);
  EXPECT_EQ(outcome.error, "command.argv is empty");
}

TEST_F(CommandTest, StdinIsDevNull) {
  RunOutcome outcome = Run(CommandRequest({"/bin/cat"}));  // would block on a terminal or pipe
  EXPECT_EQ(outcome.status, RunStatus::kCompleted);
  EXPECT_EQ(outcome.output, "");
}

TEST_F(CommandTest, NoDescriptorsLeakIntoTheChild) {
  // Deliberately without O_CLOEXEC, and numbered apart from what the shell opens.
  int opened = open("/dev/null", O_RDONLY);
  ASSERT_GE(opened, 0);
  int leaked = fcntl(opened, F_DUPFD, 100);
  close(opened);
  ASSERT_GE(leaked, 100);
  RunOutcome outcome = Run(ShellRequest("cd /proc/self/fd && echo *"));
  close(leaked);
  EXPECT_EQ(outcome.status, RunStatus::kCompleted);
  // 0, 1, 2 and the directory the shell's glob has open: nothing else.
  std::vector<std::string> fds = absl::StrSplit(absl::StripSuffix(outcome.output, "\n"), ' ');
  EXPECT_LE(fds.size(), 4u) << outcome.output;
  for (const std::string& fd : fds) {
    int number = -1;
    ASSERT_TRUE(absl::SimpleAtoi(fd, &number)) << outcome.output;
    EXPECT_NE(number, leaked) << outcome.output;
  }
}

TEST_F(CommandTest, ChildIsHardened) {
  // Like `dts server`, which blocks its shutdown signals in every thread: the
  // run's thread inherits the mask, the command must not. Read by grep itself,
  // not a shell, since shells reset their mask.
  sigset_t blocked, old;
  sigemptyset(&blocked);
  sigaddset(&blocked, SIGTERM);
  sigaddset(&blocked, SIGINT);
  ASSERT_EQ(pthread_sigmask(SIG_BLOCK, &blocked, &old), 0);
  RunOutcome status = Run(
      CommandRequest({"/bin/grep", "-E", "^(NoNewPrivs|SigBlk|SigIgn):", "/proc/self/status"}));
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  EXPECT_EQ(status.status, RunStatus::kCompleted) << status.error << status.output;
  EXPECT_THAT(status.output, HasSubstr("NoNewPrivs:\t1\n"));
  EXPECT_THAT(status.output, HasSubstr("SigBlk:\t0000000000000000\n"));
  // Signals 1-31 are back to their default action. glibc's reserved
  // real-time signals (32, 33) cannot be changed by sigaction, so an ignored
  // one inherited from whoever started the tests may stay ignored.
  const size_t ign = status.output.find("SigIgn:\t");
  ASSERT_NE(ign, std::string::npos) << status.output;
  const uint64_t ignored = std::stoull(status.output.substr(ign + 8, 16), nullptr, 16);
  EXPECT_EQ(ignored & 0x7fffffffULL, 0u) << status.output;

  RunOutcome limits = Run(ShellRequest(
      "ulimit -c; test \"$(cut -d' ' -f6 /proc/$$/stat)\" = $$ && echo session-leader"));
  EXPECT_EQ(limits.output, "0\nsession-leader\n");
}

TEST_F(CommandTest, IgnoredSigpipeOfTheServerIsNotInherited) {
  struct sigaction ignore = {}, old = {};
  ignore.sa_handler = SIG_IGN;
  ASSERT_EQ(sigaction(SIGPIPE, &ignore, &old), 0);
  RunOutcome outcome = Run(ShellRequest("yes | head -n 1"));
  sigaction(SIGPIPE, &old, nullptr);
  EXPECT_EQ(outcome.status, RunStatus::kCompleted);
  EXPECT_EQ(outcome.output, "y\n");  // no "yes: standard output: Broken pipe"
}

TEST_F(CommandTest, TimeoutKillsTheWholeProcessGroup) {
  // Orphans are re-parented to this process, so the test can reap the
  // background sleep and see how it died, unless the shell reaped it first.
  ASSERT_EQ(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
  TempDir dir;
  RunRequest request =
      ShellRequest(absl::StrCat("sleep 100 & echo $! > ", dir.File("pid"), "; sleep 100"));
  request.timeout = absl::Seconds(1);
  RunOutcome outcome = Run(std::move(request));
  EXPECT_EQ(outcome.status, RunStatus::kTimedOut);
  EXPECT_EQ(outcome.error, "timed out after 1s");

  pid_t background = 0;
  ASSERT_TRUE(absl::SimpleAtoi(absl::StripSuffix(ReadFile(dir.File("pid")), "\n"), &background));
  int status = 0;
  pid_t reaped = 0;
  ASSERT_TRUE(Eventually([&] {
    reaped = waitpid(background, &status, WNOHANG);
    return reaped == background || (reaped < 0 && !Exists(absl::StrCat("/proc/", background)));
  })) << "the background sleep is still running";
  if (reaped == background) {
    ASSERT_TRUE(WIFSIGNALED(status));
    EXPECT_EQ(WTERMSIG(status), SIGTERM);
  }
  prctl(PR_SET_CHILD_SUBREAPER, 0);
}

TEST_F(CommandTest, TimeoutOfAProcessIgnoringSigtermEndsIt) {
  RunRequest request = ShellRequest("trap '' TERM; sleep 100");
  request.timeout = absl::Milliseconds(300);
  RunOutcome outcome = Run(std::move(request));
  EXPECT_EQ(outcome.status, RunStatus::kTimedOut);
  EXPECT_THAT(outcome.error, StartsWith("timed out after 300ms"));
}

TEST_F(CommandTest, ProcessIgnoringSigtermIsKilledAfterTheGrace) {
  TempDir dir;
  RunRequest request =
      ShellRequest(absl::StrCat("trap '' TERM; touch ", dir.File("ready"), "; sleep 100"));
  Waiter waiter;
  ASSERT_TRUE(executor_->Start(std::move(request), waiter.Callback()).ok());
  ASSERT_TRUE(Eventually([&] { return Exists(dir.File("ready")); }));
  executor_->Cancel(RunId("run"));
  RunOutcome outcome = waiter.Wait();
  EXPECT_EQ(outcome.status, RunStatus::kCancelled);
  EXPECT_EQ(outcome.error, "cancelled; SIGKILL after 200ms grace");
  EXPECT_EQ(outcome.exit_code, std::nullopt);
}

TEST_F(CommandTest, CancelStopsARunningCommand) {
  TempDir dir;
  Waiter waiter;
  ASSERT_TRUE(executor_
                  ->Start(ShellRequest(absl::StrCat("touch ", dir.File("ready"), "; sleep 100")),
                          waiter.Callback())
                  .ok());
  ASSERT_TRUE(Eventually([&] { return Exists(dir.File("ready")); }));
  executor_->Cancel(RunId("run"));
  executor_->Cancel(RunId("run"));  // twice is harmless
  RunOutcome outcome = waiter.Wait();
  EXPECT_EQ(outcome.status, RunStatus::kCancelled);
  EXPECT_EQ(outcome.error, "cancelled");
}

TEST_F(CommandTest, CancelOfAnUnknownRunDoesNothing) {
  executor_->Cancel(RunId("nobody"));
  RunOutcome outcome = Run(CommandRequest({"/bin/true"}));
  EXPECT_EQ(outcome.status, RunStatus::kCompleted);
}

TEST_F(CommandTest, BackgroundLeftoversDoNotHoldTheRunOpen) {
  // The background sleep keeps the output pipe open; the run still ends when
  // the shell exits, and the sleep is killed with it.
  RunOutcome outcome = Run(ShellRequest("sleep 100 & echo started"));
  EXPECT_EQ(outcome.status, RunStatus::kCompleted);
  EXPECT_EQ(outcome.output, "started\n");
}

TEST_F(CommandTest, ManyConcurrentCommandsAllComplete) {
  constexpr int kRuns = 50;
  std::vector<Waiter> waiters(kRuns);
  for (int i = 0; i < kRuns; ++i) {
    RunRequest request = ShellRequest("sleep 0.1; echo \"run $N\"; exit $((N % 3))",
                                      absl::StrCat("run-", i));
    (*request.executor.mutable_command()->mutable_env())["N"] = absl::StrCat(i);
    ASSERT_TRUE(executor_->Start(std::move(request), waiters[i].Callback()).ok());
  }
  for (int i = 0; i < kRuns; ++i) {
    RunOutcome outcome = waiters[i].Wait();
    EXPECT_EQ(outcome.output, absl::StrCat("run ", i, "\n"));
    EXPECT_EQ(outcome.exit_code, i % 3);
    EXPECT_EQ(outcome.status, i % 3 == 0 ? RunStatus::kCompleted : RunStatus::kFailed);
  }
}

}  // namespace
}  // namespace dts::execution
