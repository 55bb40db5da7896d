#include "execution/cgroup.h"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace dts::execution {
namespace {

constexpr int64_t kMiB = 1024 * 1024;
constexpr char kSupervisorLeaf[] = "dts-supervisor";
constexpr char kRunPrefix[] = "dts-run-";

// mountinfo escapes space, tab, newline and backslash as \ooo.
std::string UnescapeMountField(absl::string_view field) {
  std::string out;
  for (size_t i = 0; i < field.size(); ++i) {
    if (field[i] == '\\' && i + 3 < field.size()) {
      int value = 0;
      bool octal = true;
      for (size_t k = 1; k <= 3; ++k) {
        char c = field[i + k];
        if (c < '0' || c > '7') octal = false;
        value = value * 8 + (c - '0');
      }
      if (octal) {
        out.push_back(static_cast<char>(value));
        i += 3;
        continue;
      }
    }
    out.push_back(field[i]);
  }
  return out;
}

std::string Join(absl::string_view dir, absl::string_view name) {
  return absl::StrCat(dir, "/", name);
}

absl::Status Precondition(absl::string_view why) { return absl::FailedPreconditionError(why); }

// The pids listed in a cgroup.procs text.
std::vector<std::string> ProcsOf(absl::string_view text) {
  return absl::StrSplit(text, absl::ByAnyChar(" \n"), absl::SkipWhitespace());
}

// Removes empty run cgroups a previous server left behind (rmdir fails on a
// populated cgroup, so nothing running is touched).
void RemoveStaleRunCgroups(const std::string& parent) {
  DIR* dir = opendir(parent.c_str());
  if (dir == nullptr) return;
  while (dirent* entry = readdir(dir)) {
    if (absl::StartsWith(entry->d_name, kRunPrefix) && entry->d_type == DT_DIR) {
      rmdir(Join(parent, entry->d_name).c_str());
    }
  }
  closedir(dir);
}

}  // namespace

std::optional<Cgroup2Mount> FindCgroup2Mount(absl::string_view mountinfo) {
  for (absl::string_view line : absl::StrSplit(mountinfo, '\n', absl::SkipEmpty())) {
    size_t dash = line.find(" - ");
    if (dash == absl::string_view::npos) continue;
    std::vector<absl::string_view> after = absl::StrSplit(line.substr(dash + 3), ' ');
    if (after.empty() || after[0] != "cgroup2") continue;
    std::vector<absl::string_view> before = absl::StrSplit(line.substr(0, dash), ' ');
    if (before.size() < 5) continue;
    return Cgroup2Mount{UnescapeMountField(before[4]), UnescapeMountField(before[3])};
  }
  return std::nullopt;
}

std::optional<std::string> UnifiedCgroupPath(absl::string_view proc_self_cgroup) {
  for (absl::string_view line : absl::StrSplit(proc_self_cgroup, '\n', absl::SkipEmpty())) {
    if (absl::ConsumePrefix(&line, "0::")) return std::string(line);
  }
  return std::nullopt;
}

std::optional<std::string> CgroupDir(const Cgroup2Mount& mount, absl::string_view path) {
  absl::string_view root = mount.root;
  if (root == "/") root = "";
  if (!absl::ConsumePrefix(&path, root)) return std::nullopt;
  if (!path.empty() && path[0] != '/') return std::nullopt;  // "/ab" is not under "/a"
  if (path == "/") path = "";
  if (absl::StrContains(path, "/../") || absl::EndsWith(path, "/..")) return std::nullopt;
  return absl::StrCat(mount.mount_point == "/" ? "" : mount.mount_point, path);
}

bool HasController(absl::string_view list, absl::string_view name) {
  for (absl::string_view token : absl::StrSplit(list, absl::ByAnyChar(" \n"), absl::SkipEmpty())) {
    if (token == name) return true;
  }
  return false;
}

std::string CpuMaxValue(int64_t millicores, int64_t period_us) {
  if (millicores <= 0) return absl::StrCat("max ", period_us);
  // Rounded up, so a grant is never cut below what was asked for.
  int64_t quota = (millicores * period_us + 999) / 1000;
  return absl::StrCat(std::max<int64_t>(quota, 1000), " ", period_us);
}

std::string MemoryMaxValue(int64_t mib) {
  if (mib <= 0) return "max";
  return absl::StrCat(mib * kMiB);
}

int64_t EventCount(absl::string_view events, absl::string_view key) {
  for (absl::string_view line : absl::StrSplit(events, '\n', absl::SkipEmpty())) {
    std::pair<absl::string_view, absl::string_view> kv = absl::StrSplit(line, ' ');
    int64_t value = 0;
    if (kv.first == key && absl::SimpleAtoi(kv.second, &value)) return value;
  }
  return 0;
}

absl::StatusOr<CgroupParent> PrepareCgroupParent(const std::string& dir, bool move_self,
                                                 pid_t self) {
  absl::StatusOr<std::string> controllers = ReadSmallFile(Join(dir, "cgroup.controllers"));
  if (!controllers.ok()) {
    return Precondition(
        absl::StrCat("not a cgroup v2 directory: ", controllers.status().message()));
  }
  if (!HasController(*controllers, "memory")) {
    return Precondition(absl::StrCat("the memory controller is not available in ", dir,
                                     " (cgroup.controllers: \"",
                                     absl::StripAsciiWhitespace(*controllers), "\")"));
  }
  const bool cpu_available = HasController(*controllers, "cpu");
  const std::string subtree_path = Join(dir, "cgroup.subtree_control");
  absl::StatusOr<std::string> subtree = ReadSmallFile(subtree_path);
  if (!subtree.ok()) return Precondition(subtree.status().message());

  std::string moved_note;
  if (!HasController(*subtree, "memory") || (cpu_available && !HasController(*subtree, "cpu"))) {
    if (access(subtree_path.c_str(), W_OK) != 0) {
      return Precondition(absl::StrCat(subtree_path, " is not writable: ", ErrnoText(errno)));
    }
    // No internal processes: controllers can be enabled for the children of
    // a cgroup only while it has no processes of its own.
    absl::StatusOr<std::string> procs = ReadSmallFile(Join(dir, "cgroup.procs"));
    if (!procs.ok()) return Precondition(procs.status().message());
    std::vector<std::string> pids = ProcsOf(*procs);
    std::string leaf = Join(dir, kSupervisorLeaf);
    bool moved = false;
    if (!pids.empty()) {
      const std::string self_text = absl::StrCat(self);
      if (!move_self || pids.size() != 1 || pids[0] != self_text) {
        return Precondition(absl::StrCat(
            dir, " holds processes", move_self ? " other than this one" : "",
            ", so controllers cannot be enabled for its children (cgroup v2 has no internal "
            "processes)"));
      }
      if (mkdir(leaf.c_str(), 0755) != 0 && errno != EEXIST) {
        return Precondition(absl::StrCat("mkdir ", leaf, ": ", ErrnoText(errno)));
      }
      absl::Status status = WriteSmallFile(Join(leaf, "cgroup.procs"), self_text);
      if (!status.ok()) {
        rmdir(leaf.c_str());
        return Precondition(status.message());
      }
      moved = true;
      moved_note = absl::StrCat("; this process moved to ", leaf);
    }
    absl::Status enabled = WriteSmallFile(subtree_path, "+memory");
    if (enabled.ok() && cpu_available) (void)WriteSmallFile(subtree_path, "+cpu");
    subtree = ReadSmallFile(subtree_path);
    if (!enabled.ok() || !subtree.ok() || !HasController(*subtree, "memory")) {
      if (moved) {
        (void)WriteSmallFile(Join(dir, "cgroup.procs"), absl::StrCat(self));
        rmdir(leaf.c_str());
      }
      return Precondition(absl::StrCat("could not enable the memory controller in ", subtree_path,
                                       enabled.ok() ? "" : ": ", enabled.message()));
    }
  }
  CgroupParent parent;
  parent.dir = dir;
  parent.cpu = HasController(*subtree, "cpu");
  parent.detail = absl::StrCat("per-run cgroups under ", dir, " (memory", parent.cpu ? ", cpu" : "",
                               ")", moved_note);
  RemoveStaleRunCgroups(dir);
  return parent;
}

namespace {

struct OwnCgroup {
  Cgroup2Mount mount;
  std::string dir;
};

absl::StatusOr<OwnCgroup> FindOwnCgroup() {
  absl::StatusOr<std::string> cgroup = ReadSmallFile("/proc/self/cgroup");
  if (!cgroup.ok()) return Precondition(cgroup.status().message());
  std::optional<std::string> path = UnifiedCgroupPath(*cgroup);
  if (!path) return Precondition("this process is in no cgroup v2 hierarchy (cgroup v1 only)");
  absl::StatusOr<std::string> mountinfo = ReadSmallFile("/proc/self/mountinfo");
  if (!mountinfo.ok()) return Precondition(mountinfo.status().message());
  std::optional<Cgroup2Mount> mount = FindCgroup2Mount(*mountinfo);
  if (!mount) return Precondition("no cgroup2 file system is mounted");
  std::optional<std::string> dir = CgroupDir(*mount, *path);
  if (!dir) {
    return Precondition(absl::StrCat("cgroup ", *path, " is not visible under ",
                                     mount->mount_point));
  }
  return OwnCgroup{*std::move(mount), *std::move(dir)};
}

}  // namespace

absl::StatusOr<CgroupParent> DetectCgroupParent(const std::string& override_dir) {
  if (!override_dir.empty()) return PrepareCgroupParent(override_dir, false, getpid());
  absl::StatusOr<OwnCgroup> own = FindOwnCgroup();
  if (!own.ok()) return own.status();
  return PrepareCgroupParent(own->dir, true, getpid());
}

CgroupLimits ReadCgroupLimits(const std::string& mount_point, const std::string& dir) {
  CgroupLimits limits;
  std::string current = dir;
  while (true) {
    if (absl::StatusOr<std::string> cpu = ReadSmallFile(Join(current, "cpu.max")); cpu.ok()) {
      std::vector<absl::string_view> parts =
          absl::StrSplit(absl::StripAsciiWhitespace(*cpu), ' ');
      int64_t quota = 0, period = 0;
      if (parts.size() == 2 && absl::SimpleAtoi(parts[0], &quota) &&
          absl::SimpleAtoi(parts[1], &period) && quota > 0 && period > 0) {
        int64_t millicores = quota * 1000 / period;
        limits.cpu_millicores = std::min(limits.cpu_millicores.value_or(millicores), millicores);
      }
    }
    if (absl::StatusOr<std::string> mem = ReadSmallFile(Join(current, "memory.max")); mem.ok()) {
      int64_t bytes = 0;
      if (absl::SimpleAtoi(absl::StripAsciiWhitespace(*mem), &bytes) && bytes >= 0) {
        limits.memory_bytes = std::min(limits.memory_bytes.value_or(bytes), bytes);
      }
    }
    if (current.size() <= mount_point.size() || !absl::StartsWith(current, mount_point)) break;
    size_t slash = current.rfind('/');
    if (slash == std::string::npos || slash < mount_point.size()) break;
    current.resize(slash);
  }
  return limits;
}

CgroupLimits OwnCgroupLimits() {
  absl::StatusOr<OwnCgroup> own = FindOwnCgroup();
  if (!own.ok()) return {};
  return ReadCgroupLimits(own->mount.mount_point, own->dir);
}

std::string RunCgroupName(pid_t self, uint64_t seq, absl::string_view run_id) {
  std::string name = absl::StrCat(kRunPrefix, self, "-", seq, "-");
  for (char c : run_id.substr(0, 64)) {
    name.push_back(absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_'
                       ? c
                       : '_');
  }
  return name;
}

absl::Status ConfigureRunCgroup(const std::string& dir, const ResourceGrant& grant, bool cpu) {
  auto write = [&](absl::string_view file, absl::string_view value,
                   bool optional) -> absl::Status {
    absl::Status status = WriteSmallFile(Join(dir, file), value);
    if (optional && absl::IsNotFound(status)) return absl::OkStatus();
    return status;
  };
  absl::Status status;
  if (grant.memory_mib > 0) {
    status.Update(write("memory.max", MemoryMaxValue(grant.memory_mib), false));
    // Past memory.max the kernel would swap rather than OOM-kill.
    status.Update(write("memory.swap.max", "0", true));
    // An OOM kill takes the whole run down, as one unit.
    status.Update(write("memory.oom.group", "1", true));
  }
  if (grant.cpu_millicores > 0 && cpu) {
    status.Update(write("cpu.max", CpuMaxValue(grant.cpu_millicores), false));
  }
  return status;
}

absl::StatusOr<std::unique_ptr<RunCgroup>> RunCgroup::Create(const CgroupParent& parent,
                                                             const std::string& name,
                                                             const ResourceGrant& grant) {
  std::string dir = Join(parent.dir, name);
  if (mkdir(dir.c_str(), 0755) != 0) return ErrnoStatus(errno, absl::StrCat("mkdir ", dir));
  std::unique_ptr<RunCgroup> cgroup(new RunCgroup(dir));
  absl::Status status = ConfigureRunCgroup(dir, grant, parent.cpu);
  if (!status.ok()) return status;
  int procs = open(Join(dir, "cgroup.procs").c_str(), O_WRONLY | O_CLOEXEC);
  if (procs < 0) return ErrnoStatus(errno, absl::StrCat("open ", dir, "/cgroup.procs"));
  absl::StatusOr<UniqueFd> above = AboveStdio(UniqueFd(procs));
  if (!above.ok()) return above.status();
  cgroup->procs_ = *std::move(above);
  return cgroup;
}

bool RunCgroup::OomKilled() const {
  absl::StatusOr<std::string> events = ReadSmallFile(Join(dir_, "memory.events"));
  return events.ok() && EventCount(*events, "oom_kill") > 0;
}

void RunCgroup::Destroy() {
  if (destroyed_) return;
  destroyed_ = true;
  procs_.Reset();
  (void)WriteSmallFile(Join(dir_, "cgroup.kill"), "1");
  // cgroup.events signals POLLPRI when "populated" changes. Bounded: a
  // process stuck in the kernel must not hold the run's thread for ever.
  UniqueFd events(open(Join(dir_, "cgroup.events").c_str(), O_RDONLY | O_CLOEXEC));
  for (int i = 0; i < 20 && events.valid(); ++i) {
    char buffer[256];
    ssize_t n = pread(events.get(), buffer, sizeof buffer - 1, 0);
    if (n < 0) break;
    if (EventCount(absl::string_view(buffer, static_cast<size_t>(n)), "populated") == 0) break;
    pollfd fd = {events.get(), POLLPRI, 0};
    poll(&fd, 1, 100);
  }
  rmdir(dir_.c_str());
}

}  // namespace dts::execution
