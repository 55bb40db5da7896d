// Commands of a root worker run as an unprivileged user (--run-as), with an
// environment scrubbed to an allowlist. The switching tests need root and are
// skipped otherwise; resolution and the path check run everywhere.

#include "dts/execution/run_as.h"

#include <pwd.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <map>
#include <memory>
#include <set>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "dts/execution/executor.h"
#include "execution/test_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace dts::execution {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using testing::CommandRequest;
using testing::RunToEnd;
using testing::ShellRequest;

struct Nobody {
  uid_t uid;
  gid_t gid;
};

std::optional<Nobody> LookUpNobody() {
  const passwd* pw = getpwnam("nobody");
  if (pw == nullptr) return std::nullopt;
  return Nobody{pw->pw_uid, pw->pw_gid};
}

// A directory others may enter (mkdtemp makes 0700), removed afterwards.
class OpenTempDir {
 public:
  OpenTempDir() {
    std::string pattern = absl::StrCat(::testing::TempDir(), "/dts_runas_XXXXXX");
    path_ = mkdtemp(pattern.data()) ? pattern : "";
    if (!path_.empty()) chmod(path_.c_str(), 0755);
  }
  ~OpenTempDir() {
    if (!path_.empty()) std::system(absl::StrCat("rm -rf '", path_, "'").c_str());
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

TEST(ResolveRunAsTest, RootDefaultsToNobody) {
  std::optional<Nobody> nobody = LookUpNobody();
  if (!nobody) GTEST_SKIP() << "no user nobody on this machine";
  absl::StatusOr<std::optional<RunAsUser>> user = ResolveRunAs("", false, /*euid=*/0);
  ASSERT_TRUE(user.ok()) << user.status();
  ASSERT_TRUE(user->has_value());
  EXPECT_EQ((*user)->name, "nobody");
  EXPECT_EQ((*user)->uid, nobody->uid);
  EXPECT_EQ((*user)->gid, nobody->gid);
  // A numeric uid names the same user.
  user = ResolveRunAs(absl::StrCat(nobody->uid), false, 0);
  ASSERT_TRUE(user.ok() && user->has_value()) << user.status();
  EXPECT_EQ((*user)->name, "nobody");
}

TEST(ResolveRunAsTest, RootRunsAsRootOnlyWhenAllowed) {
  absl::StatusOr<std::optional<RunAsUser>> allowed = ResolveRunAs("", true, 0);
  ASSERT_TRUE(allowed.ok()) << allowed.status();
  EXPECT_FALSE(allowed->has_value());  // no switch: root

  absl::StatusOr<std::optional<RunAsUser>> root = ResolveRunAs("root", false, 0);
  EXPECT_EQ(root.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(root.status().message(), HasSubstr("--allow-root"));
  root = ResolveRunAs("root", true, 0);
  ASSERT_TRUE(root.ok()) << root.status();
  EXPECT_FALSE(root->has_value());
}

TEST(ResolveRunAsTest, UnknownUserIsAUsageError) {
  absl::StatusOr<std::optional<RunAsUser>> user = ResolveRunAs("no-such-user-dts", false, 0);
  EXPECT_EQ(user.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(user.status().message(), HasSubstr("--run-as: unknown user \"no-such-user-dts\""));
  user = ResolveRunAs("no-such-user-dts", false, 4242);
  EXPECT_EQ(user.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(ResolveRunAsTest, NonRootRunsAsItselfAndCannotSwitch) {
  std::optional<Nobody> nobody = LookUpNobody();
  if (!nobody) GTEST_SKIP() << "no user nobody on this machine";
  // As if this process were nobody.
  absl::StatusOr<std::optional<RunAsUser>> self = ResolveRunAs("", false, nobody->uid);
  ASSERT_TRUE(self.ok()) << self.status();
  EXPECT_FALSE(self->has_value());
  self = ResolveRunAs("nobody", false, nobody->uid);
  ASSERT_TRUE(self.ok()) << self.status();
  EXPECT_FALSE(self->has_value());
  absl::StatusOr<std::optional<RunAsUser>> other = ResolveRunAs("root", true, nobody->uid);
  EXPECT_EQ(other.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(other.status().message(), HasSubstr("cannot switch users"));
}

TEST(CheckTraversableTest, NamesTheFirstDirectoryTheUserCannotEnter) {
  RunAsUser someone{.name = "someone", .uid = 4242, .gid = 4242, .groups = {4242}, .home = "/"};
  OpenTempDir dir;
  ASSERT_FALSE(dir.path().empty());
  const std::string inner = absl::StrCat(dir.path(), "/a/b");
  ASSERT_EQ(mkdir(absl::StrCat(dir.path(), "/a").c_str(), 0700), 0);
  ASSERT_EQ(mkdir(inner.c_str(), 0755), 0);
  if (!CheckTraversable(dir.path(), someone).ok()) GTEST_SKIP() << "TMPDIR is not open to others";
  absl::Status closed = CheckTraversable(inner, someone);
  EXPECT_EQ(closed.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(closed.message(), HasSubstr(absl::StrCat(dir.path(), "/a (owner ")));
  EXPECT_THAT(closed.message(), HasSubstr("mode 0700) cannot be entered by user someone (uid 4242)"));
  ASSERT_EQ(chmod(absl::StrCat(dir.path(), "/a").c_str(), 0711), 0);
  EXPECT_TRUE(CheckTraversable(inner, someone).ok());
  EXPECT_TRUE(CheckTraversable(inner, RunAsUser{.name = "root"}).ok());  // uid 0 enters anything
}

// --- Switching: root only. ---

class RunAsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "switching users needs root";
    nobody_ = LookUpNobody();
    if (!nobody_) GTEST_SKIP() << "no user nobody on this machine";
    ASSERT_FALSE(dir_.path().empty());
  }

  void MakeExecutor(bool switch_user, ExecutorOptions options = {}) {
    options.kill_grace = absl::Milliseconds(200);
    options.scratch_root = scratch_root_;
    if (switch_user) {
      absl::StatusOr<std::optional<RunAsUser>> user = ResolveRunAs("nobody", false);
      ASSERT_TRUE(user.ok()) << user.status();
      options.run_as = **user;
    }
    auto executor = CreateLocalExecutor(&clock_, std::move(options));
    ASSERT_TRUE(executor.ok()) << executor.status();
    executor_ = *std::move(executor);
  }

  RunOutcome Run(RunRequest request) {
    if (request.timeout == absl::ZeroDuration()) request.timeout = absl::Seconds(50);
    return RunToEnd(*executor_, std::move(request));
  }

  std::optional<Nobody> nobody_;
  ManualClock clock_{absl::FromUnixSeconds(1'700'000'000)};
  OpenTempDir dir_;
  const std::string scratch_root_ = absl::StrCat(dir_.path(), "/scratch");
  std::unique_ptr<Executor> executor_;
};

TEST_F(RunAsTest, CommandRunsAsTheUserWithItsGroupsOnly) {
  MakeExecutor(true);
  RunOutcome outcome = Run(ShellRequest("id -u; id -g; id -G"));
  ASSERT_EQ(outcome.status, RunStatus::kCompleted) << outcome.error << outcome.output;
  std::vector<std::string> lines = absl::StrSplit(outcome.output, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 3u) << outcome.output;
  EXPECT_EQ(lines[0], absl::StrCat(nobody_->uid));
  EXPECT_EQ(lines[1], absl::StrCat(nobody_->gid));
  // No group of root's (0) survives the switch.
  for (absl::string_view g : absl::StrSplit(lines[2], ' ')) EXPECT_NE(g, "0") << lines[2];
}

TEST_F(RunAsTest, ScratchDirIsTheUsersHomeAndItsOnly) {
  MakeExecutor(true);
  RunOutcome outcome = Run(ShellRequest(
      "echo \"$HOME\"; test \"$HOME\" = \"$DTS_SCRATCH_DIR\" && echo home-is-scratch; "
      "touch \"$HOME/file\" && echo wrote-home; "
      "touch \"$HOME/../other\" 2>/dev/null || echo scratch-root-closed; "
      "ls \"$HOME/..\" >/dev/null 2>&1 || echo scratch-root-unlistable"));
  ASSERT_EQ(outcome.status, RunStatus::kCompleted) << outcome.error << outcome.output;
  EXPECT_THAT(outcome.output, HasSubstr(absl::StrCat(scratch_root_, "/run\n")));
  EXPECT_THAT(outcome.output, HasSubstr("home-is-scratch\nwrote-home\nscratch-root-closed\n"
                                        "scratch-root-unlistable\n"));
  struct stat st;
  EXPECT_NE(stat(absl::StrCat(scratch_root_, "/run").c_str(), &st), 0);  // removed after the run
}

TEST_F(RunAsTest, ServerFilesAreOutOfReach) {
  MakeExecutor(true);
  // Written by root, readable by root only: what a data directory holds.
  const std::string secret = absl::StrCat(dir_.path(), "/secret");
  ASSERT_EQ(std::system(absl::StrCat("umask 077; echo s3cret > '", secret, "'").c_str()), 0);
  RunOutcome outcome = Run(CommandRequest({"/bin/cat", secret}));
  EXPECT_EQ(outcome.status, RunStatus::kFailed) << outcome.output;
  EXPECT_THAT(outcome.output, HasSubstr("Permission denied"));
  EXPECT_THAT(outcome.output, Not(HasSubstr("s3cret")));
}

TEST_F(RunAsTest, WorkingDirTheUserCannotEnterFails) {
  MakeExecutor(true);
  const std::string closed = absl::StrCat(dir_.path(), "/closed");
  ASSERT_EQ(mkdir(closed.c_str(), 0700), 0);
  RunRequest request = CommandRequest({"/bin/pwd"});
  request.executor.mutable_command()->set_working_dir(closed);
  RunOutcome outcome = Run(std::move(request));
  EXPECT_EQ(outcome.status, RunStatus::kFailed);
  EXPECT_EQ(outcome.error, absl::StrCat("chdir ", closed, ": Permission denied"));
}

TEST_F(RunAsTest, TimeoutKillsTheUsersProcessGroup) {
  MakeExecutor(true);
  // A background child in the group, as the switched user: root's kill()
  // reaches every process of it.
  RunRequest request = ShellRequest("sleep 300 & sleep 300; wait");
  request.timeout = absl::Milliseconds(300);
  RunOutcome outcome = Run(std::move(request));
  EXPECT_EQ(outcome.status, RunStatus::kTimedOut) << outcome.error;
}

TEST_F(RunAsTest, MemoryGrantIsEnforcedForTheUser) {
  ExecutorOptions options;
  options.use_cgroups = false;  // the sampler reads another user's /proc entries
  MakeExecutor(true, std::move(options));
  RunRequest request = CommandRequest(
      {"/usr/bin/python3", "-c",
       "import time\nb = bytearray(400*1024*1024)\nb[::4096] = b'x'*len(b[::4096])\n"
       "time.sleep(100)\n"});
  request.resources.memory_mib = 64;
  RunOutcome outcome = Run(std::move(request));
  EXPECT_EQ(outcome.status, RunStatus::kFailed) << outcome.error << outcome.output;
  EXPECT_EQ(outcome.error, "memory limit exceeded (64 MiB)") << outcome.output;
}

TEST_F(RunAsTest, StillHardenedAfterTheSwitch) {
  MakeExecutor(true);
  RunOutcome outcome =
      Run(CommandRequest({"/bin/grep", "-E", "^(NoNewPrivs|Uid|Gid):", "/proc/self/status"}));
  ASSERT_EQ(outcome.status, RunStatus::kCompleted) << outcome.error << outcome.output;
  EXPECT_THAT(outcome.output, HasSubstr("NoNewPrivs:\t1\n"));
  const std::string uid = absl::StrCat(nobody_->uid);
  EXPECT_THAT(outcome.output, HasSubstr(absl::StrCat("Uid:\t", uid, "\t", uid, "\t", uid, "\t", uid)));
}

TEST_F(RunAsTest, AllowedRootRunsAsRoot) {
  MakeExecutor(false);
  RunOutcome outcome = Run(CommandRequest({"/usr/bin/id", "-u"}));
  EXPECT_EQ(outcome.output, "0\n");
}

// --- The environment. ---

TEST(EnvironmentTest, OnlyTheAllowlistTheJobsAndTheRunsValues) {
  ASSERT_EQ(setenv("DTS_API_TOKEN", "token-must-not-leak", 1), 0);
  ASSERT_EQ(setenv("AWS_SECRET_ACCESS_KEY", "aws-must-not-leak", 1), 0);
  ASSERT_EQ(setenv("TZ", "Europe/Paris", 1), 0);
  const char* lc_all = getenv("LC_ALL");
  const std::string saved_lc_all = lc_all ? lc_all : "";
  ASSERT_EQ(setenv("LC_ALL", "C", 1), 0);
  OpenTempDir dir;
  ExecutorOptions options;
  options.scratch_root = absl::StrCat(dir.path(), "/scratch");
  ManualClock clock{absl::FromUnixSeconds(1'700'000'000)};
  auto executor = CreateLocalExecutor(&clock, std::move(options));  // reads TZ and LC_ALL now
  unsetenv("DTS_API_TOKEN");
  unsetenv("AWS_SECRET_ACCESS_KEY");
  unsetenv("TZ");
  if (lc_all) {
    setenv("LC_ALL", saved_lc_all.c_str(), 1);
  } else {
    unsetenv("LC_ALL");
  }
  ASSERT_TRUE(executor.ok()) << executor.status();

  RunRequest request = CommandRequest({"/usr/bin/env"}, "run-7");
  request.job_id = JobId("job-3");
  (*request.executor.mutable_command()->mutable_env())["GREETING"] = "hello";
  (*request.executor.mutable_command()->mutable_env())["DTS_RUN_ID"] = "forged";
  RunOutcome outcome = RunToEnd(**executor, std::move(request));
  ASSERT_EQ(outcome.status, RunStatus::kCompleted) << outcome.error;
  std::map<std::string, std::string> env;
  for (absl::string_view line : absl::StrSplit(outcome.output, '\n', absl::SkipEmpty())) {
    const size_t eq = line.find('=');
    env[std::string(line.substr(0, eq))] = std::string(line.substr(eq + 1));
  }
  std::set<std::string> names;
  for (const auto& [name, value] : env) names.insert(name);
  EXPECT_EQ(names, (std::set<std::string>{"DTS_JOB_ID", "DTS_RUN_ID", "DTS_SCRATCH_DIR", "GREETING",
                                          "HOME", "LANG", "LC_ALL", "PATH", "TMPDIR", "TZ"}))
      << outcome.output;
  const std::string scratch = absl::StrCat(dir.path(), "/scratch/run-7");
  EXPECT_EQ(env["HOME"], scratch);
  EXPECT_EQ(env["TMPDIR"], scratch);
  EXPECT_EQ(env["DTS_SCRATCH_DIR"], scratch);
  EXPECT_EQ(env["DTS_RUN_ID"], "run-7");  // the executor's value wins
  EXPECT_EQ(env["DTS_JOB_ID"], "job-3");
  EXPECT_EQ(env["TZ"], "Europe/Paris");
  EXPECT_EQ(env["LC_ALL"], "C");
  EXPECT_EQ(env["PATH"], "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
  EXPECT_THAT(outcome.output, Not(HasSubstr("must-not-leak")));
}

TEST(EnvironmentTest, TheJobMaySetItsOwnHome) {
  OpenTempDir dir;
  ExecutorOptions options;
  options.scratch_root = absl::StrCat(dir.path(), "/scratch");
  ManualClock clock{absl::FromUnixSeconds(1'700'000'000)};
  auto executor = CreateLocalExecutor(&clock, std::move(options));
  ASSERT_TRUE(executor.ok()) << executor.status();
  RunRequest request = ShellRequest("echo \"$HOME\"");
  (*request.executor.mutable_command()->mutable_env())["HOME"] = "/srv/app";
  EXPECT_EQ(RunToEnd(**executor, std::move(request)).output, "/srv/app\n");
}

TEST(ShellTest, ArgvIsExecutedDirectlyAndShellOnlyWhenAsked) {
  ManualClock clock{absl::FromUnixSeconds(1'700'000'000)};
  auto executor = CreateLocalExecutor(&clock, {});
  ASSERT_TRUE(executor.ok()) << executor.status();
  // No shell: the metacharacters reach echo as they are.
  RunOutcome direct = RunToEnd(**executor, CommandRequest({"echo", "$HOME;id"}));
  EXPECT_EQ(direct.output, "$HOME;id\n");
  // The parent of an execve'd command is this process itself, not a shell.
  RunOutcome stat = RunToEnd(**executor, CommandRequest({"/bin/cat", "/proc/self/stat"}));
  std::vector<std::string> fields = absl::StrSplit(stat.output.substr(stat.output.rfind(')') + 2), ' ');
  ASSERT_GE(fields.size(), 2u) << stat.output;
  EXPECT_EQ(fields[1], absl::StrCat(getpid())) << stat.output;
  // shell: /bin/sh -c, which expands and runs both.
  RunOutcome shell = RunToEnd(**executor, ShellRequest("echo $((6 * 7)); echo second"));
  EXPECT_EQ(shell.output, "42\nsecond\n");
}

}  // namespace
}  // namespace dts::execution
