// DetectMachineCapacity: what this machine offers to runs.

#include <sched.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "dts/execution/resources.h"
#include "execution/cgroup.h"
#include "execution/posix.h"

namespace dts::execution {
namespace {

constexpr int64_t kMiB = 1024 * 1024;

// CPUs this process may run on (its affinity mask), or the online count.
int64_t UsableCpus() {
  std::vector<cpu_set_t> sets(16);  // room for 16 × 1024 CPUs
  size_t size = sets.size() * sizeof(cpu_set_t);
  if (sched_getaffinity(0, size, sets.data()) == 0) {
    int count = CPU_COUNT_S(size, sets.data());
    if (count > 0) return count;
  }
  long online = sysconf(_SC_NPROCESSORS_ONLN);
  return online > 0 ? online : 1;
}

absl::StatusOr<int64_t> MemTotalBytes() {
  absl::StatusOr<std::string> meminfo = ReadSmallFile("/proc/meminfo");
  if (!meminfo.ok()) return meminfo.status();
  for (absl::string_view line : absl::StrSplit(*meminfo, '\n')) {
    if (!absl::ConsumePrefix(&line, "MemTotal:")) continue;
    line = absl::StripAsciiWhitespace(line);
    absl::ConsumeSuffix(&line, "kB");
    int64_t kib = 0;
    if (absl::SimpleAtoi(absl::StripAsciiWhitespace(line), &kib)) return kib * 1024;
  }
  return absl::InternalError("/proc/meminfo has no MemTotal");
}

}  // namespace

absl::StatusOr<Capacity> DetectMachineCapacity(const std::string& data_dir) {
  struct statvfs fs;
  if (statvfs(data_dir.c_str(), &fs) != 0) {
    return ErrnoStatus(errno, absl::StrCat("statvfs ", data_dir));
  }
  absl::StatusOr<int64_t> memory = MemTotalBytes();
  if (!memory.ok()) return memory.status();

  const CgroupLimits limits = OwnCgroupLimits();
  Capacity capacity;
  capacity.cpu_millicores = UsableCpus() * 1000;
  if (limits.cpu_millicores) {
    capacity.cpu_millicores = std::min(capacity.cpu_millicores, *limits.cpu_millicores);
  }
  int64_t memory_bytes = *memory;
  if (limits.memory_bytes) memory_bytes = std::min(memory_bytes, *limits.memory_bytes);
  capacity.memory_mib = memory_bytes / kMiB;
  // f_bavail: what an unprivileged user may still write.
  capacity.storage_mib = static_cast<int64_t>(static_cast<unsigned __int128>(fs.f_bavail) *
                                              fs.f_frsize / kMiB);
  return capacity;
}

}  // namespace dts::execution
