#pragma once

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"

namespace dts::execution {

// The resources granted to one run. Zero in a dimension means no limit there.
struct ResourceGrant {
  int64_t cpu_millicores = 0;  // 1000 = one core
  int64_t memory_mib = 0;
  int64_t storage_mib = 0;  // size of the run's scratch directory

  bool empty() const { return cpu_millicores <= 0 && memory_mib <= 0 && storage_mib <= 0; }
};

// What an executor can enforce on this machine (see docs/resources.md).
struct EnforcementCapabilities {
  // Memory grants are a cgroup v2 memory.max of a per-run cgroup (hard limit,
  // OOM kill). Otherwise the executor samples the private memory of the run's
  // process group and kills it above the grant, with an RLIMIT_AS backstop.
  bool memory_cgroup = false;
  // CPU grants are a cgroup v2 cpu.max. Otherwise CPU is not limited.
  bool cpu_limited = false;
  // Storage grants are enforced on the per-run scratch directory (needs
  // ExecutorOptions::scratch_root).
  bool storage_limited = false;
  // Human-readable: where the cgroups live, or why they are not used.
  std::string detail;
};

// What this machine offers to runs.
struct Capacity {
  int64_t cpu_millicores = 0;  // CPUs we may run on × 1000, capped by our cgroup's cpu.max
  int64_t memory_mib = 0;      // MemTotal, capped by our cgroup's memory.max
  int64_t storage_mib = 0;     // space available to us under the data directory
};

// The capacity of this machine for the worker whose data lives in `data_dir`
// (which must exist). Reads sched_getaffinity, /proc/meminfo, the cgroup v2
// cpu.max and memory.max of this process's cgroup and its ancestors, and
// statvfs(data_dir).
absl::StatusOr<Capacity> DetectMachineCapacity(const std::string& data_dir);

}  // namespace dts::execution
