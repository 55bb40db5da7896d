// The pieces of resource enforcement: cgroup v2 detection against a fake
// cgroup tree, the values written to cgroup files, scratch directories, the
// process-group memory sample and the machine capacity.

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "dts/execution/resources.h"
#include "execution/cgroup.h"
#include "execution/memory_sample.h"
#include "execution/scratch.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace dts::execution {
namespace {

using ::testing::HasSubstr;

class TempTree {
 public:
  TempTree() {
    std::string pattern = absl::StrCat(::testing::TempDir(), "/dts_res_XXXXXX");
    path_ = mkdtemp(pattern.data()) ? pattern : "";
  }
  ~TempTree() {
    if (path_.empty()) return;
    std::system(absl::StrCat("chmod -R u+rwx '", path_, "'; rm -rf '", path_, "'").c_str());
  }
  const std::string& path() const { return path_; }
  std::string Path(absl::string_view rel) const { return absl::StrCat(path_, "/", rel); }
  void Dir(absl::string_view rel) const { ASSERT_EQ(mkdir(Path(rel).c_str(), 0755), 0) << rel; }
  void Write(absl::string_view rel, absl::string_view text) const {
    std::ofstream(Path(rel)) << text;
  }
  std::string Read(absl::string_view rel) const {
    std::ifstream in(Path(rel));
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  }
  bool Exists(absl::string_view rel) const {
    struct stat st;
    return lstat(Path(rel).c_str(), &st) == 0;
  }

 private:
  std::string path_;
};

// --- Pure functions. ---

TEST(CgroupValuesTest, CpuMaxIsMillicoresOfThePeriod) {
  EXPECT_EQ(CpuMaxValue(0), "max 100000");
  EXPECT_EQ(CpuMaxValue(1000), "100000 100000");
  EXPECT_EQ(CpuMaxValue(500), "50000 100000");
  EXPECT_EQ(CpuMaxValue(2500), "250000 100000");
  EXPECT_EQ(CpuMaxValue(1), "1000 100000");  // the kernel's minimum quota
  EXPECT_EQ(CpuMaxValue(333, 10000), "3330 10000");
  EXPECT_EQ(CpuMaxValue(1001, 1000), "1001 1000");
}

TEST(CgroupValuesTest, MemoryMaxIsBytes) {
  EXPECT_EQ(MemoryMaxValue(0), "max");
  EXPECT_EQ(MemoryMaxValue(64), "67108864");
}

TEST(CgroupValuesTest, EventCounts) {
  const char events[] = "low 0\nhigh 0\nmax 12\noom 3\noom_kill 2\noom_group_kill 1\n";
  EXPECT_EQ(EventCount(events, "oom_kill"), 2);
  EXPECT_EQ(EventCount(events, "oom"), 3);
  EXPECT_EQ(EventCount(events, "missing"), 0);
  EXPECT_EQ(EventCount("populated 1\nfrozen 0\n", "populated"), 1);
}

TEST(CgroupPathsTest, FindsTheCgroup2Mount) {
  const char mountinfo[] =
      "25 30 0:23 / /proc rw,nosuid - proc proc rw\n"
      "31 25 0:27 / /sys/fs/cgroup/memory rw shared:9 - cgroup cgroup rw,memory\n"
      "41 31 0:38 / /sys/fs/cgroup/with\\040space rw,relatime shared:10 - cgroup2 cgroup2 rw\n";
  std::optional<Cgroup2Mount> mount = FindCgroup2Mount(mountinfo);
  ASSERT_TRUE(mount.has_value());
  EXPECT_EQ(mount->mount_point, "/sys/fs/cgroup/with space");
  EXPECT_EQ(mount->root, "/");
  EXPECT_FALSE(FindCgroup2Mount("31 25 0:27 / /sys/fs/cgroup/memory rw - cgroup cgroup rw\n"));
}

TEST(CgroupPathsTest, UnifiedPathAndDirectory) {
  EXPECT_EQ(UnifiedCgroupPath("4:memory:/x\n0::/system.slice/dts.service\n"),
            "/system.slice/dts.service");
  EXPECT_FALSE(UnifiedCgroupPath("4:memory:/x\n1:cpu:/\n"));
  Cgroup2Mount mount{"/sys/fs/cgroup", "/"};
  EXPECT_EQ(CgroupDir(mount, "/a/b"), "/sys/fs/cgroup/a/b");
  EXPECT_EQ(CgroupDir(mount, "/"), "/sys/fs/cgroup");
  Cgroup2Mount bind{"/mnt/cg", "/a"};
  EXPECT_EQ(CgroupDir(bind, "/a/b"), "/mnt/cg/b");
  EXPECT_FALSE(CgroupDir(bind, "/ab"));
  EXPECT_FALSE(CgroupDir(bind, "/other"));
}

TEST(CgroupPathsTest, RunCgroupNamesAreSafe) {
  EXPECT_EQ(RunCgroupName(42, 7, "job/1 ../x"), "dts-run-42-7-job_1____x");
}

// --- Detection against a fake cgroup tree (regular files in a temp dir). ---

TEST(CgroupDetectTest, ParentWithControllersAlreadyEnabledIsUsed) {
  TempTree tree;
  tree.Write("cgroup.controllers", "cpuset cpu io memory pids\n");
  tree.Write("cgroup.subtree_control", "cpu memory\n");
  tree.Write("cgroup.procs", "");
  tree.Dir("dts-run-1-0-stale");  // an empty leftover of a previous server
  absl::StatusOr<CgroupParent> parent = PrepareCgroupParent(tree.path(), false, getpid());
  ASSERT_TRUE(parent.ok()) << parent.status();
  EXPECT_EQ(parent->dir, tree.path());
  EXPECT_TRUE(parent->cpu);
  EXPECT_THAT(parent->detail, HasSubstr("(memory, cpu)"));
  EXPECT_FALSE(tree.Exists("dts-run-1-0-stale"));
}

TEST(CgroupDetectTest, WithoutTheMemoryControllerNothingIsWritten) {
  TempTree tree;
  tree.Write("cgroup.controllers", "hugetlb\n");
  tree.Write("cgroup.subtree_control", "");
  tree.Write("cgroup.procs", absl::StrCat(getpid(), "\n"));
  absl::StatusOr<CgroupParent> parent = PrepareCgroupParent(tree.path(), true, getpid());
  EXPECT_EQ(parent.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(parent.status().message(), HasSubstr("memory controller is not available"));
  EXPECT_THAT(parent.status().message(), HasSubstr("\"hugetlb\""));
  EXPECT_EQ(tree.Read("cgroup.subtree_control"), "");
  EXPECT_FALSE(tree.Exists("dts-supervisor"));
}

TEST(CgroupDetectTest, NotACgroupDirectory) {
  TempTree tree;
  absl::StatusOr<CgroupParent> parent = PrepareCgroupParent(tree.path(), true, getpid());
  EXPECT_EQ(parent.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(parent.status().message(), HasSubstr("not a cgroup v2 directory"));
}

TEST(CgroupDetectTest, OtherProcessesInTheCgroupAreNeverMoved) {
  TempTree tree;
  tree.Write("cgroup.controllers", "cpu memory\n");
  tree.Write("cgroup.subtree_control", "");
  tree.Write("cgroup.procs", absl::StrCat(getpid(), "\n1\n"));
  absl::StatusOr<CgroupParent> parent = PrepareCgroupParent(tree.path(), true, getpid());
  EXPECT_EQ(parent.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(parent.status().message(), HasSubstr("holds processes other than this one"));
  EXPECT_FALSE(tree.Exists("dts-supervisor"));
  EXPECT_EQ(tree.Read("cgroup.subtree_control"), "");
}

TEST(CgroupDetectTest, AnOverrideParentWithProcessesIsRefusedWithoutMoving) {
  TempTree tree;
  tree.Write("cgroup.controllers", "cpu memory\n");
  tree.Write("cgroup.subtree_control", "");
  tree.Write("cgroup.procs", absl::StrCat(getpid(), "\n"));
  absl::StatusOr<CgroupParent> parent = PrepareCgroupParent(tree.path(), false, getpid());
  EXPECT_EQ(parent.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(parent.status().message(), HasSubstr("no internal processes"));
  EXPECT_FALSE(tree.Exists("dts-supervisor"));
}

TEST(CgroupDetectTest, AloneInItsCgroupThisProcessMovesToALeafFirst) {
  // A fake tree does not behave like cgroupfs: what is written to
  // cgroup.subtree_control does not read back as an enabled controller, so
  // enabling looks failed and the process is moved back. What is checked is
  // the sequence the real thing needs: into the leaf, enable, (back).
  TempTree tree;
  tree.Write("cgroup.controllers", "cpu memory\n");
  tree.Write("cgroup.subtree_control", "");
  tree.Write("cgroup.procs", absl::StrCat(getpid(), "\n"));
  tree.Dir("dts-supervisor");  // cgroupfs would create its cgroup.procs
  tree.Write("dts-supervisor/cgroup.procs", "");
  absl::StatusOr<CgroupParent> parent = PrepareCgroupParent(tree.path(), true, getpid());
  EXPECT_EQ(parent.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(parent.status().message(), HasSubstr("could not enable the memory controller"));
  EXPECT_EQ(tree.Read("dts-supervisor/cgroup.procs"), absl::StrCat(getpid()));
  EXPECT_THAT(tree.Read("cgroup.subtree_control"), HasSubstr("+"));
  EXPECT_THAT(tree.Read("cgroup.procs"), ::testing::StartsWith(absl::StrCat(getpid())));
}

TEST(CgroupDetectTest, RunCgroupLimitsAreWritten) {
  // The files cgroupfs creates with a cgroup, as empty regular files.
  TempTree tree;
  for (const char* file : {"memory.max", "memory.swap.max", "memory.oom.group", "cpu.max"}) {
    tree.Write(file, "");
  }
  ASSERT_TRUE(ConfigureRunCgroup(tree.path(), ResourceGrant{1500, 64, 10}, true).ok());
  EXPECT_EQ(tree.Read("memory.max"), "67108864");
  EXPECT_EQ(tree.Read("memory.swap.max"), "0");
  EXPECT_EQ(tree.Read("memory.oom.group"), "1");
  EXPECT_EQ(tree.Read("cpu.max"), "150000 100000");

  TempTree cpu_off;
  for (const char* file : {"memory.max", "cpu.max"}) cpu_off.Write(file, "");
  // No swap or oom.group file (older kernels, no swap accounting): still fine.
  ASSERT_TRUE(ConfigureRunCgroup(cpu_off.path(), ResourceGrant{500, 8, 0}, false).ok());
  EXPECT_EQ(cpu_off.Read("memory.max"), "8388608");
  EXPECT_EQ(cpu_off.Read("cpu.max"), "");  // the cpu controller is not enabled there

  TempTree cpu_only;
  cpu_only.Write("cpu.max", "");
  ASSERT_TRUE(ConfigureRunCgroup(cpu_only.path(), ResourceGrant{250, 0, 0}, true).ok());
  EXPECT_EQ(cpu_only.Read("cpu.max"), "25000 100000");

  TempTree missing;  // memory.max must exist
  EXPECT_FALSE(ConfigureRunCgroup(missing.path(), ResourceGrant{0, 8, 0}, true).ok());
}

TEST(CgroupLimitsTest, TightestLimitOfTheAncestors) {
  TempTree tree;
  tree.Dir("a");
  tree.Dir("a/b");
  tree.Write("cpu.max", "max 100000\n");
  tree.Write("memory.max", "max\n");
  tree.Write("a/cpu.max", "150000 100000\n");
  tree.Write("a/memory.max", "1073741824\n");
  tree.Write("a/b/cpu.max", "300000 100000\n");
  tree.Write("a/b/memory.max", "2147483648\n");
  CgroupLimits limits = ReadCgroupLimits(tree.path(), tree.Path("a/b"));
  EXPECT_EQ(limits.cpu_millicores, 1500);
  EXPECT_EQ(limits.memory_bytes, 1073741824);
  CgroupLimits none = ReadCgroupLimits(tree.path(), tree.path());
  EXPECT_FALSE(none.cpu_millicores.has_value());
  EXPECT_FALSE(none.memory_bytes.has_value());
}

// --- Scratch directories. ---

TEST(ScratchTest, NamesEscapeUnsafeBytes) {
  EXPECT_EQ(*ScratchDirName("job-1_2.3"), "job-1_2.3");
  EXPECT_EQ(*ScratchDirName("a/b c"), "a%2Fb%20c");
  EXPECT_EQ(*ScratchDirName(".."), "%2E%2E");
  EXPECT_EQ(*ScratchDirName("."), "%2E");
  EXPECT_EQ(ScratchDirName("").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ScratchDirName(std::string(201, 'x')).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(ScratchTest, UsageCountsAllocatedBytesAndNoSymlinkTargets) {
  TempTree tree;
  tree.Dir("outside");
  ASSERT_EQ(std::system(absl::StrCat("head -c 4194304 /dev/urandom > '",
                                     tree.Path("outside/big"), "'")
                            .c_str()),
            0);
  ASSERT_TRUE(CreateScratchDir(tree.path(), "run").ok());
  absl::StatusOr<int64_t> empty = ScratchUsageBytes(tree.path(), "run");
  ASSERT_TRUE(empty.ok()) << empty.status();
  EXPECT_LT(*empty, 64 * 1024);
  ASSERT_EQ(symlink(tree.Path("outside/big").c_str(), tree.Path("run/link").c_str()), 0);
  ASSERT_EQ(symlink(tree.Path("outside").c_str(), tree.Path("run/dirlink").c_str()), 0);
  absl::StatusOr<int64_t> links = ScratchUsageBytes(tree.path(), "run");
  ASSERT_TRUE(links.ok());
  EXPECT_LT(*links, 64 * 1024);
  tree.Dir("run/sub");
  ASSERT_EQ(std::system(absl::StrCat("head -c 2097152 /dev/urandom > '",
                                     tree.Path("run/sub/f"), "'")
                            .c_str()),
            0);
  ASSERT_EQ(link(tree.Path("run/sub/f").c_str(), tree.Path("run/hardlink").c_str()), 0);
  ASSERT_EQ(chmod(tree.Path("run/sub").c_str(), 0), 0);  // unreadable: still measured
  absl::StatusOr<int64_t> used = ScratchUsageBytes(tree.path(), "run");
  ASSERT_TRUE(used.ok()) << used.status();
  EXPECT_GE(*used, 2097152);
  EXPECT_LT(*used, 2097152 + 64 * 1024);  // the hard link is counted once
}

TEST(ScratchTest, RemovalNeverFollowsSymlinks) {
  TempTree tree;
  tree.Dir("outside");
  tree.Write("outside/keep", "precious");
  ASSERT_TRUE(CreateScratchDir(tree.path(), "run").ok());
  tree.Dir("run/d");
  tree.Write("run/d/f", "x");
  ASSERT_EQ(symlink(tree.Path("outside").c_str(), tree.Path("run/d/out").c_str()), 0);
  ASSERT_EQ(symlink(tree.Path("outside/keep").c_str(), tree.Path("run/keep").c_str()), 0);
  tree.Dir("run/locked");
  tree.Write("run/locked/f", "x");
  ASSERT_EQ(chmod(tree.Path("run/locked").c_str(), 0), 0);
  ASSERT_TRUE(RemoveScratchDir(tree.path(), "run").ok());
  EXPECT_FALSE(tree.Exists("run"));
  EXPECT_EQ(tree.Read("outside/keep"), "precious");
}

TEST(ScratchTest, ScratchDirReplacedBySymlinkRemovesOnlyTheLink) {
  TempTree tree;
  tree.Dir("outside");
  tree.Write("outside/keep", "precious");
  ASSERT_EQ(symlink(tree.Path("outside").c_str(), tree.Path("run").c_str()), 0);
  ASSERT_TRUE(RemoveScratchDir(tree.path(), "run").ok());
  EXPECT_FALSE(tree.Exists("run"));
  EXPECT_EQ(tree.Read("outside/keep"), "precious");
  absl::StatusOr<int64_t> missing = ScratchUsageBytes(tree.path(), "run");
  ASSERT_TRUE(missing.ok());
  EXPECT_EQ(*missing, 0);
}

TEST(ScratchTest, DeepTreesAreRemoved) {
  TempTree tree;
  ASSERT_TRUE(CreateScratchDir(tree.path(), "run").ok());
  // 300 levels, past the descriptor-bounded depth of the removal.
  std::string script = absl::StrCat("cd '", tree.Path("run"),
                                    "' && for i in $(seq 300); do mkdir d && cd d || exit 1; done"
                                    " && echo x > f");
  ASSERT_EQ(std::system(script.c_str()), 0);
  EXPECT_EQ(ScratchUsageBytes(tree.path(), "run").status().code(),
            absl::StatusCode::kFailedPrecondition);  // too deep to measure
  ASSERT_TRUE(RemoveScratchDir(tree.path(), "run").ok());
  EXPECT_FALSE(tree.Exists("run"));
}

TEST(ScratchTest, CreateReplacesALeftover) {
  TempTree tree;
  tree.Dir("run");
  tree.Write("run/old", "x");
  ASSERT_TRUE(CreateScratchDir(tree.path(), "run").ok());
  EXPECT_TRUE(tree.Exists("run"));
  EXPECT_FALSE(tree.Exists("run/old"));
  struct stat st;
  ASSERT_EQ(stat(tree.Path("run").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
}

TEST(ScratchTest, RootMustBeAbsoluteAndIsCreated) {
  TempTree tree;
  EXPECT_EQ(EnsureScratchRoot("relative/dir").code(), absl::StatusCode::kInvalidArgument);
  ASSERT_TRUE(EnsureScratchRoot(tree.Path("a/b/c")).ok());
  EXPECT_TRUE(tree.Exists("a/b/c"));
  tree.Write("file", "");
  EXPECT_FALSE(EnsureScratchRoot(tree.Path("file")).ok());
}

// --- Memory sampling. ---

TEST(MemorySampleTest, ParsesProcFiles) {
  EXPECT_EQ(StatProcessGroup("123 (a (b) c) S 1 456 456 0 -1"), 456);
  EXPECT_EQ(StatProcessGroup("garbage"), -1);
  EXPECT_EQ(StatusPrivateBytes("VmRSS:\t  9000 kB\nRssAnon:\t  100 kB\nRssFile:\t 8000 kB\n"
                               "RssShmem:\t   20 kB\n"),
            120 * 1024);
}

TEST(MemorySampleTest, SamplesOwnProcessGroup) {
  // This test process touches more than 8 MiB of its own.
  std::string block(16 * 1024 * 1024, 'x');
  EXPECT_GT(ProcessGroupMemoryBytes(getpgrp()), 8 * 1024 * 1024) << block.size();
  EXPECT_EQ(ProcessGroupMemoryBytes(0x7ffffff0), 0);
}

// --- Capacity. ---

TEST(CapacityTest, DetectsSaneValues) {
  TempTree tree;
  absl::StatusOr<Capacity> capacity = DetectMachineCapacity(tree.path());
  ASSERT_TRUE(capacity.ok()) << capacity.status();
  long cpus = sysconf(_SC_NPROCESSORS_ONLN);
  EXPECT_GE(capacity->cpu_millicores, 1);
  EXPECT_LE(capacity->cpu_millicores, cpus * 1000);
  long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
  EXPECT_GT(capacity->memory_mib, 0);
  EXPECT_LE(capacity->memory_mib, static_cast<int64_t>(pages) * page / (1024 * 1024));
  struct statvfs fs;
  ASSERT_EQ(statvfs(tree.path().c_str(), &fs), 0);
  int64_t total_mib = static_cast<int64_t>(fs.f_blocks) * fs.f_frsize / (1024 * 1024);
  EXPECT_GT(capacity->storage_mib, 0);
  EXPECT_LE(capacity->storage_mib, total_mib);
}

TEST(CapacityTest, MissingDataDirIsAnError) {
  EXPECT_EQ(DetectMachineCapacity("/nonexistent/dts-data").status().code(),
            absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace dts::execution
