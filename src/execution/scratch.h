#pragma once

// Per-run scratch directories: naming, creation, measuring and removal, all
// relative to an open parent directory and never following a symbolic link
// (the run's processes may have replaced anything in it with one).

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <utility>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace dts::execution {

// A file name for a run's scratch directory: the run id with every byte but
// [A-Za-z0-9_.-] written as %XX, and "." and ".." escaped too.
// INVALID_ARGUMENT when the id is empty or the name would exceed 200 bytes.
absl::StatusOr<std::string> ScratchDirName(absl::string_view run_id);

// Creates `root` (and its parents) if missing, mode 0700 for what it creates.
absl::Status EnsureScratchRoot(const std::string& root);

// Adds search (x) permission for group and others to `dir`, so that a
// command running as another user can reach its own scratch directory in
// it without being able to list it.
absl::Status AllowSearch(const std::string& dir);

// Creates <root>/<name> with mode 0700, first removing whatever a previous
// server left under that name. With an owner (uid, gid; needs root), the
// directory is given to it: a command running as another user owns its
// scratch directory and nothing else here.
absl::Status CreateScratchDir(const std::string& root, const std::string& name,
                              std::optional<std::pair<uid_t, gid_t>> owner = std::nullopt);

// Disk space used by <root>/<name> and everything in it: allocated blocks (as
// `du`), each hard-linked inode once, symbolic links not followed, other file
// systems not entered. Entries that vanish during the walk are skipped.
// FAILED_PRECONDITION for a tree nested deeper than 256 levels.
absl::StatusOr<int64_t> ScratchUsageBytes(const std::string& root, const std::string& name);

// Removes <root>/<name> recursively without following symbolic links (a link
// is removed, never its target), restoring owner permissions on directories
// the run made unreadable. Any nesting depth. OK if it does not exist.
absl::Status RemoveScratchDir(const std::string& root, const std::string& name);

}  // namespace dts::execution
