#pragma once

// cgroup v2: finding this process's cgroup, preparing a parent for per-run
// cgroups, and one run's cgroup (memory.max, cpu.max, OOM detection). See
// docs/resources.md for the delegation rules this follows.

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "dts/execution/resources.h"
#include "execution/posix.h"

namespace dts::execution {

// The cgroup2 mount from /proc/self/mountinfo: where it is mounted, and which
// cgroup of the hierarchy is mounted there ("/" unless bind-mounted).
struct Cgroup2Mount {
  std::string mount_point;
  std::string root;
};
std::optional<Cgroup2Mount> FindCgroup2Mount(absl::string_view mountinfo);

// The path of the "0::<path>" line of /proc/self/cgroup (unified hierarchy).
std::optional<std::string> UnifiedCgroupPath(absl::string_view proc_self_cgroup);

// The directory of cgroup `path` on `mount`; nullopt if it is not visible there.
std::optional<std::string> CgroupDir(const Cgroup2Mount& mount, absl::string_view path);

// Whether the space-separated list `list` (cgroup.controllers,
// cgroup.subtree_control) holds `name`.
bool HasController(absl::string_view list, absl::string_view name);

// cpu.max for a grant: "<quota> <period>" with quota = millicores/1000 ×
// period (at least 1000 µs, the kernel's minimum), or "max <period>" for 0.
std::string CpuMaxValue(int64_t millicores, int64_t period_us = 100000);
// memory.max for a grant in MiB: bytes, or "max" for 0.
std::string MemoryMaxValue(int64_t mib);
// The counter `key` ("oom_kill") of a memory.events or cgroup.events text; 0 if absent.
int64_t EventCount(absl::string_view events, absl::string_view key);

// Where per-run cgroups are created.
struct CgroupParent {
  std::string dir;
  bool cpu = false;    // the cpu controller is enabled for them
  std::string detail;  // for EnforcementCapabilities::detail
};

// Makes `dir` a parent for per-run cgroups: the memory controller (and cpu,
// if available) enabled in its cgroup.subtree_control. If they are not yet
// enabled and `dir` holds processes, the cgroup v2 "no internal processes"
// rule forbids enabling them: when `move_self` is set and `self` is the only
// process in `dir`, this process is first moved into the leaf
// `<dir>/dts-supervisor` (and moved back if enabling still fails). Nothing is
// written unless cgroup.controllers of `dir` lists memory. FAILED_PRECONDITION
// (with the reason) when `dir` cannot serve.
absl::StatusOr<CgroupParent> PrepareCgroupParent(const std::string& dir, bool move_self,
                                                 pid_t self);

// For this process: `override_dir` if set (never moving this process), else
// its own cgroup from /proc/self/cgroup and /proc/self/mountinfo.
absl::StatusOr<CgroupParent> DetectCgroupParent(const std::string& override_dir);

// The tightest cpu.max (in millicores) and memory.max (in bytes) of `dir` and
// its ancestors up to `mount_point`; unset where none is set.
struct CgroupLimits {
  std::optional<int64_t> cpu_millicores;
  std::optional<int64_t> memory_bytes;
};
CgroupLimits ReadCgroupLimits(const std::string& mount_point, const std::string& dir);
// The same for this process's own cgroup (nothing when there is no cgroup v2).
CgroupLimits OwnCgroupLimits();

// Writes a run cgroup's limits: memory.max, memory.swap.max 0 and
// memory.oom.group 1 (those two only where the kernel has them) for a memory
// grant, cpu.max for a cpu grant when `cpu` (the controller is enabled).
absl::Status ConfigureRunCgroup(const std::string& dir, const ResourceGrant& grant, bool cpu);

// One run's cgroup, `<parent>/<name>`. Destroyed (its processes killed) by
// Destroy() or the destructor.
class RunCgroup {
 public:
  static absl::StatusOr<std::unique_ptr<RunCgroup>> Create(const CgroupParent& parent,
                                                           const std::string& name,
                                                           const ResourceGrant& grant);
  RunCgroup(const RunCgroup&) = delete;
  RunCgroup& operator=(const RunCgroup&) = delete;
  ~RunCgroup() { Destroy(); }

  const std::string& dir() const { return dir_; }
  // cgroup.procs, open for writing: the child writes "0" to it before exec.
  int procs_fd() const { return procs_.get(); }
  // Whether the kernel OOM-killed anything in it (memory.events oom_kill).
  bool OomKilled() const;
  // Kills whatever is left in it (cgroup.kill, Linux 5.14+), waits a bounded
  // time for it to empty and removes it. Idempotent; errors are ignored (an
  // empty cgroup left behind is removed by the next DetectCgroupParent).
  void Destroy();

 private:
  explicit RunCgroup(std::string dir) : dir_(std::move(dir)) {}

  const std::string dir_;
  UniqueFd procs_;
  bool destroyed_ = false;
};

// A cgroup directory name for a run: "dts-run-<pid>-<seq>-<id with unsafe
// characters replaced>".
std::string RunCgroupName(pid_t self, uint64_t seq, absl::string_view run_id);

}  // namespace dts::execution
