#include "execution/group_record.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "execution/posix.h"

namespace dts::execution {
namespace {

absl::StatusOr<std::string> BootId() {
  absl::StatusOr<std::string> id = ReadSmallFile("/proc/sys/kernel/random/boot_id");
  if (!id.ok()) return id.status();
  return std::string(absl::StripAsciiWhitespace(*id));
}

// Field 22 (starttime) of /proc/<pid>/stat; 0 when there is no such process.
// The command name (field 2) may hold spaces and parentheses: parse after
// the last ')'.
uint64_t StartTicks(pid_t pid) {
  absl::StatusOr<std::string> stat = ReadSmallFile(absl::StrCat("/proc/", pid, "/stat"));
  if (!stat.ok()) return 0;
  const size_t close = stat->rfind(')');
  if (close == std::string::npos) return 0;
  std::vector<absl::string_view> fields =
      absl::StrSplit(absl::string_view(*stat).substr(close + 1), ' ', absl::SkipEmpty());
  // After ')': field 3 (state) is fields[0], so field 22 is fields[19].
  uint64_t ticks = 0;
  if (fields.size() < 20 || !absl::SimpleAtoi(fields[19], &ticks)) return 0;
  return ticks;
}

}  // namespace

std::string FormatGroupRecord(const GroupRecord& r) {
  return absl::StrCat(r.boot_id, " ", r.pgid, " ", r.start_ticks, "\n");
}

absl::StatusOr<GroupRecord> ParseGroupRecord(absl::string_view text) {
  std::vector<absl::string_view> parts =
      absl::StrSplit(absl::StripAsciiWhitespace(text), ' ', absl::SkipEmpty());
  GroupRecord r;
  if (parts.size() != 3 || parts[0].empty() || !absl::SimpleAtoi(parts[1], &r.pgid) ||
      !absl::SimpleAtoi(parts[2], &r.start_ticks) || r.pgid <= 1 || r.start_ticks == 0) {
    return absl::InvalidArgumentError(absl::StrCat("malformed process group record: \"", text, "\""));
  }
  r.boot_id = std::string(parts[0]);
  return r;
}

absl::StatusOr<GroupRecord> CurrentGroupRecord(pid_t pid) {
  absl::StatusOr<std::string> boot = BootId();
  if (!boot.ok()) return boot.status();
  GroupRecord r{*std::move(boot), pid, StartTicks(pid)};
  if (r.start_ticks == 0) return absl::NotFoundError(absl::StrCat("no process ", pid));
  return r;
}

absl::Status WriteGroupRecord(const std::string& dir, const std::string& name,
                              const GroupRecord& record) {
  const std::string path = absl::StrCat(dir, "/", name);
  const std::string tmp = absl::StrCat(path, ".tmp");
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << FormatGroupRecord(record);
    out.flush();
    if (!out) return absl::InternalError(absl::StrCat("cannot write ", tmp));
  }
  if (rename(tmp.c_str(), path.c_str()) != 0) {
    return ErrnoStatus(errno, absl::StrCat("rename ", tmp));
  }
  return absl::OkStatus();
}

void RemoveGroupRecord(const std::string& dir, const std::string& name) {
  (void)unlink(absl::StrCat(dir, "/", name).c_str());
}

bool GroupStillOurs(const GroupRecord& record, absl::string_view boot_id,
                    uint64_t leader_start_ticks_now) {
  if (record.boot_id != boot_id) return false;  // another boot: every pid is new
  // The leader lives on (same start time), or is gone: then only our own
  // group members can still carry its id. Another start time: reused.
  return leader_start_ticks_now == 0 || leader_start_ticks_now == record.start_ticks;
}

absl::StatusOr<int> ReapRecordedGroups(const std::string& dir) {
  if (mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return ErrnoStatus(errno, absl::StrCat("mkdir ", dir));
  }
  absl::StatusOr<std::string> boot = BootId();
  if (!boot.ok()) return boot.status();
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return ErrnoStatus(errno, absl::StrCat("opendir ", dir));
  std::vector<std::string> names;
  while (const dirent* entry = readdir(d)) {
    if (entry->d_name[0] != '.') names.emplace_back(entry->d_name);
  }
  closedir(d);
  int killed = 0;
  for (const std::string& name : names) {
    absl::StatusOr<std::string> text = ReadSmallFile(absl::StrCat(dir, "/", name));
    absl::StatusOr<GroupRecord> record =
        text.ok() ? ParseGroupRecord(*text) : absl::StatusOr<GroupRecord>(text.status());
    if (record.ok() && GroupStillOurs(*record, *boot, StartTicks(record->pgid)) &&
        kill(-record->pgid, SIGKILL) == 0) {
      ++killed;
    }
    RemoveGroupRecord(dir, name);
  }
  return killed;
}

}  // namespace dts::execution
