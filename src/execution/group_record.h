#pragma once

// Records of the process groups of running commands, kept as small files in a
// directory, so that the next server can kill what a crashed one left running.
//
// Why: a command runs in its own process group. Its direct child dies with
// the server (PR_SET_PDEATHSIG), but anything it started in the background
// does not, and after a SIGKILL of the server nobody supervises it any more.
//
// Safety against killing a stranger: a record names the group by its id and
// the group leader's start time (/proc/<pid>/stat field 22) and the boot id.
// Linux never reuses a pid while it is still some process's process group, so
// while any member of our group lives, the pgid is ours; when the leader pid
// shows up with another start time, the group died and the id was reused,
// and it is left alone. Records from another boot are discarded.

#include <sys/types.h>

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace dts::execution {

struct GroupRecord {
  std::string boot_id;
  pid_t pgid = 0;
  uint64_t start_ticks = 0;  // of the group leader
};

// "<boot id> <pgid> <start ticks>\n".
std::string FormatGroupRecord(const GroupRecord& record);
absl::StatusOr<GroupRecord> ParseGroupRecord(absl::string_view text);

// The record of the group led by `pid`, now.
absl::StatusOr<GroupRecord> CurrentGroupRecord(pid_t pid);

// Writes <dir>/<name> atomically (a temp file renamed into place).
absl::Status WriteGroupRecord(const std::string& dir, const std::string& name,
                              const GroupRecord& record);
void RemoveGroupRecord(const std::string& dir, const std::string& name);

// Whether `record` still names a live group of ours on this machine, given
// the current boot id and the leader's current start time (nullopt-like 0
// when no process has the leader's pid).
bool GroupStillOurs(const GroupRecord& record, absl::string_view boot_id,
                    uint64_t leader_start_ticks_now);

// Sends SIGKILL to every group the records in `dir` name that is still ours,
// and removes every record. Returns how many groups were signalled. Creates
// `dir` if missing.
absl::StatusOr<int> ReapRecordedGroups(const std::string& dir);

}  // namespace dts::execution
