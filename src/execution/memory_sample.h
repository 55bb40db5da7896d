#pragma once

#include <sys/types.h>

#include <cstdint>

#include "absl/strings/string_view.h"

namespace dts::execution {

// The private resident memory (RssAnon + RssShmem, in bytes) summed over the
// processes of process group `pgid`, from /proc. Shared file pages (program
// text, libraries, page cache) are not counted; shmem shared between members
// is counted once per process.
int64_t ProcessGroupMemoryBytes(pid_t pgid);

// The process group of a /proc/<pid>/stat text; -1 if it cannot be parsed.
pid_t StatProcessGroup(absl::string_view stat);
// RssAnon + RssShmem of a /proc/<pid>/status text, in bytes.
int64_t StatusPrivateBytes(absl::string_view status);

}  // namespace dts::execution
