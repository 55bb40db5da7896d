// Resource grants enforced on real commands: memory (in whichever mode this
// machine supports), cpu.max when cgroups are usable, scratch directories.

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "dts/execution/executor.h"
#include "execution/cgroup.h"
#include "execution/posix.h"
#include "execution/test_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace dts::execution {
namespace {

using ::testing::HasSubstr;
using testing::CommandRequest;
using testing::RunToEnd;
using testing::ShellRequest;

constexpr char kPython[] = "/usr/bin/python3";

class TempDir {
 public:
  TempDir() {
    std::string pattern = absl::StrCat(::testing::TempDir(), "/dts_enf_XXXXXX");
    path_ = mkdtemp(pattern.data()) ? pattern : "";
  }
  ~TempDir() {
    if (path_.empty()) return;
    std::system(absl::StrCat("chmod -R u+rwx '", path_, "'; rm -rf '", path_, "'").c_str());
  }
  const std::string& path() const { return path_; }
  std::string File(absl::string_view name) const { return absl::StrCat(path_, "/", name); }

 private:
  std::string path_;
};

bool Exists(const std::string& path) {
  struct stat st;
  return lstat(path.c_str(), &st) == 0;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

class EnforcementTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_FALSE(scratch_.path().empty()); }

  void MakeExecutor(ExecutorOptions options = {}) {
    options.kill_grace = absl::Milliseconds(200);
    if (options.scratch_root.empty()) options.scratch_root = scratch_root_;
    auto executor = CreateLocalExecutor(&clock_, std::move(options));
    ASSERT_TRUE(executor.ok()) << executor.status();
    executor_ = *std::move(executor);
  }

  RunOutcome Run(RunRequest request) {
    // Only so a broken limit fails the test instead of sleeping for ever.
    if (request.timeout == absl::ZeroDuration()) request.timeout = absl::Seconds(50);
    return RunToEnd(*executor_, std::move(request));
  }

  ManualClock clock_{absl::FromUnixSeconds(1'700'000'000)};
  TempDir scratch_;
  const std::string scratch_root_ = scratch_.File("scratch");
  std::unique_ptr<Executor> executor_;
};

// --- Memory. ---

TEST_F(EnforcementTest, CommandAllocatingPastItsGrantFails) {
  MakeExecutor();
  // Touches every page of 400 MiB, then holds it: whichever the mode (OOM
  // kill in a cgroup, or the sampler), the run ends by our kill, never by
  // itself, so no timing is involved.
  RunRequest request = CommandRequest(
      {kPython, "-c",
       "import time\nb = bytearray(400*1024*1024)\nb[::4096] = b'x'*len(b[::4096])\n"
       "print('allocated', flush=True)\ntime.sleep(100)\n"});
  request.resources.memory_mib = 64;
  RunOutcome outcome = Run(std::move(request));
  EXPECT_EQ(outcome.status, RunStatus::kFailed) << outcome.error << outcome.output;
  EXPECT_EQ(outcome.error, "memory limit exceeded (64 MiB)") << outcome.output;
  EXPECT_EQ(outcome.exit_code, std::nullopt);
}

TEST_F(EnforcementTest, CommandWithinItsMemoryGrantCompletes) {
  MakeExecutor();
  RunRequest request = CommandRequest(
      {kPython, "-c",
       "b = bytearray(16*1024*1024)\nb[::4096] = b'x'*len(b[::4096])\nprint('ok')\n"});
  request.resources.memory_mib = 64;
  RunOutcome outcome = Run(std::move(request));
  EXPECT_EQ(outcome.status, RunStatus::kCompleted) << outcome.error << outcome.output;
  EXPECT_EQ(outcome.output, "ok\n");
}

TEST_F(EnforcementTest, AddressSpaceBackstopOnlyWithoutCgroups) {
  MakeExecutor();
  RunRequest request = ShellRequest("ulimit -v");
  request.resources.memory_mib = 64;
  RunOutcome outcome = Run(std::move(request));
  EXPECT_EQ(outcome.status, RunStatus::kCompleted) << outcome.error;
  if (executor_->Enforcement().memory_cgroup) {
    EXPECT_EQ(outcome.output, "unlimited\n");
  } else {
    EXPECT_EQ(outcome.output, absl::StrCat(64 * 1024 * 8, "\n"));  // KiB, 8x the grant
  }
  // No grant: nothing changes.
  RunOutcome plain = Run(ShellRequest("ulimit -v"));
  EXPECT_EQ(plain.output, "unlimited\n");
}

TEST_F(EnforcementTest, CapabilitiesSayWhatIsEnforced) {
  MakeExecutor();
  EnforcementCapabilities caps = executor_->Enforcement();
  EXPECT_TRUE(caps.storage_limited);
  EXPECT_THAT(caps.detail, HasSubstr(absl::StrCat("scratch directories under ", scratch_root_)));
  if (!caps.memory_cgroup) {
    EXPECT_FALSE(caps.cpu_limited);
    EXPECT_THAT(caps.detail, HasSubstr("no cgroup v2 enforcement: "));
    EXPECT_THAT(caps.detail, HasSubstr("memory: sampled process-group memory, RLIMIT_AS 8x"));
    EXPECT_THAT(caps.detail, HasSubstr("cpu: not limited"));
  } else {
    EXPECT_THAT(caps.detail, HasSubstr("per-run cgroups under "));
  }

  ExecutorOptions off;
  off.use_cgroups = false;
  off.scratch_root = scratch_root_;
  auto no_cgroups = CreateLocalExecutor(&clock_, off);
  ASSERT_TRUE(no_cgroups.ok());
  EXPECT_FALSE((*no_cgroups)->Enforcement().memory_cgroup);
  EXPECT_THAT((*no_cgroups)->Enforcement().detail, HasSubstr("cgroups disabled by configuration"));

  ExecutorOptions fake;
  fake.cgroup_parent = scratch_.path();  // not a cgroup
  auto not_cgroup = CreateLocalExecutor(&clock_, fake);
  ASSERT_TRUE(not_cgroup.ok());
  EXPECT_FALSE((*not_cgroup)->Enforcement().memory_cgroup);
  EXPECT_FALSE((*not_cgroup)->Enforcement().storage_limited);
  EXPECT_THAT((*not_cgroup)->Enforcement().detail, HasSubstr("not a cgroup v2 directory"));
}

TEST_F(EnforcementTest, CpuMaxIsWrittenWhenCgroupsAreUsable) {
  MakeExecutor();
  // The command reads its own cgroup's cpu.max (the cgroup is removed after
  // the run). On a machine that cannot create cgroups, the same values are
  // checked by ConfigureRunCgroup's test on a fake tree, and the grant must
  // then be harmless.
  std::optional<Cgroup2Mount> mount;
  if (absl::StatusOr<std::string> info = ReadSmallFile("/proc/self/mountinfo"); info.ok()) {
    mount = FindCgroup2Mount(*info);
  }
  RunRequest request = ShellRequest(
      "cat \"$MOUNT$(sed -n 's/^0:://p' /proc/self/cgroup)/cpu.max\" 2>/dev/null || echo none");
  (*request.executor.mutable_command()->mutable_env())["MOUNT"] = mount ? mount->mount_point : "";
  request.resources.cpu_millicores = 1500;
  RunOutcome outcome = Run(std::move(request));
  EXPECT_EQ(outcome.status, RunStatus::kCompleted) << outcome.error;
  if (executor_->Enforcement().cpu_limited) {
    EXPECT_EQ(outcome.output, "150000 100000\n");
  } else {
    EXPECT_NE(outcome.output, "150000 100000\n");
  }
}

// --- Storage. ---

TEST_F(EnforcementTest, ScratchDirIsTmpdirDuringTheRunAndRemovedAfter) {
  MakeExecutor();
  RunRequest request = ShellRequest(
      "test -d \"$TMPDIR\" && test \"$TMPDIR\" = \"$DTS_SCRATCH_DIR\" && echo \"$TMPDIR\" && "
      "mkdir \"$TMPDIR/sub\" && echo data > \"$TMPDIR/sub/file\" && "
      "stat -c %a \"$TMPDIR\"",
      "run-1");
  (*request.executor.mutable_command()->mutable_env())["TMPDIR"] = "/job/own";  // ours wins
  request.resources.storage_mib = 8;
  RunOutcome outcome = Run(std::move(request));
  EXPECT_EQ(outcome.status, RunStatus::kCompleted) << outcome.error << outcome.output;
  EXPECT_EQ(outcome.output, absl::StrCat(scratch_root_, "/run-1\n700\n"));
  EXPECT_TRUE(Exists(scratch_root_));
  EXPECT_FALSE(Exists(absl::StrCat(scratch_root_, "/run-1")));
}

TEST_F(EnforcementTest, ScratchDirNameEscapesTheRunId) {
  MakeExecutor();
  RunOutcome outcome = Run(ShellRequest("echo \"$TMPDIR\"", "../job/1"));
  EXPECT_EQ(outcome.output, absl::StrCat(scratch_root_, "/..%2Fjob%2F1\n"));
}

TEST_F(EnforcementTest, WritingPastTheStorageGrantDuringTheRunFails) {
  ExecutorOptions options;
  options.storage_poll_interval = absl::Milliseconds(20);
  MakeExecutor(std::move(options));
  RunRequest request =
      ShellRequest("head -c 20971520 /dev/zero > \"$TMPDIR/big\" && echo written && sleep 100",
                   "big");
  request.resources.storage_mib = 8;
  RunOutcome outcome = Run(std::move(request));
  EXPECT_EQ(outcome.status, RunStatus::kFailed) << outcome.error << outcome.output;
  EXPECT_EQ(outcome.error, "storage limit exceeded (8 MiB)");
  EXPECT_FALSE(Exists(absl::StrCat(scratch_root_, "/big")));
}

TEST_F(EnforcementTest, StorageIsCheckedAgainWhenTheCommandEnds) {
  ExecutorOptions options;
  options.storage_poll_interval = absl::Hours(1);  // only the final check can see it
  MakeExecutor(std::move(options));
  RunRequest request = ShellRequest("head -c 20971520 /dev/zero > \"$TMPDIR/big\"", "end");
  request.resources.storage_mib = 8;
  RunOutcome outcome = Run(std::move(request));
  EXPECT_EQ(outcome.status, RunStatus::kFailed);
  EXPECT_EQ(outcome.error, "storage limit exceeded (8 MiB)");
  EXPECT_EQ(outcome.exit_code, 0);  // it exited by itself, successfully
  EXPECT_FALSE(Exists(absl::StrCat(scratch_root_, "/end")));
}

TEST_F(EnforcementTest, WithinTheStorageGrantOrWithoutOneCompletes) {
  MakeExecutor();
  RunRequest small = ShellRequest("head -c 1048576 /dev/zero > \"$TMPDIR/f\"", "small");
  small.resources.storage_mib = 8;
  EXPECT_EQ(Run(std::move(small)).status, RunStatus::kCompleted);
  // Storage grant 0: a scratch directory all the same, of any size.
  RunRequest unlimited =
      ShellRequest("head -c 20971520 /dev/zero > \"$TMPDIR/f\" && echo ok", "unlimited");
  RunOutcome outcome = Run(std::move(unlimited));
  EXPECT_EQ(outcome.status, RunStatus::kCompleted) << outcome.error;
  EXPECT_EQ(outcome.output, "ok\n");
  EXPECT_FALSE(Exists(absl::StrCat(scratch_root_, "/unlimited")));
}

TEST_F(EnforcementTest, RemovalDoesNotFollowSymlinksOutOfTheScratchDir) {
  MakeExecutor();
  TempDir outside;
  std::ofstream(outside.File("keep")) << "precious";
  RunRequest request = ShellRequest(
      "ln -s \"$OUT\" \"$TMPDIR/out\" && mkdir \"$TMPDIR/d\" && "
      "ln -s \"$OUT/keep\" \"$TMPDIR/d/keep\" && ln -s / \"$TMPDIR/d/root\" && "
      "chmod 000 \"$TMPDIR/d\"",
      "links");
  (*request.executor.mutable_command()->mutable_env())["OUT"] = outside.path();
  request.resources.storage_mib = 8;
  RunOutcome outcome = Run(std::move(request));
  EXPECT_EQ(outcome.status, RunStatus::kCompleted) << outcome.error << outcome.output;
  EXPECT_FALSE(Exists(absl::StrCat(scratch_root_, "/links")));
  EXPECT_EQ(ReadFile(outside.File("keep")), "precious");
}

TEST_F(EnforcementTest, ScratchDirIsRemovedAfterAFailedOrCancelledRun) {
  MakeExecutor();
  RunOutcome failed = Run(ShellRequest("touch \"$TMPDIR/x\"; exit 3", "failed"));
  EXPECT_EQ(failed.error, "exited with status 3");
  EXPECT_FALSE(Exists(absl::StrCat(scratch_root_, "/failed")));
  RunRequest timed_out = ShellRequest("touch \"$TMPDIR/x\"; sleep 100", "slow");
  timed_out.timeout = absl::Milliseconds(300);
  EXPECT_EQ(Run(std::move(timed_out)).status, RunStatus::kTimedOut);
  EXPECT_FALSE(Exists(absl::StrCat(scratch_root_, "/slow")));
}

TEST_F(EnforcementTest, ScratchRootMustBeAbsolute) {
  ExecutorOptions options;
  options.scratch_root = "relative/scratch";
  EXPECT_EQ(CreateLocalExecutor(&clock_, std::move(options)).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace dts::execution
