#pragma once

// Who a worker's commands run as (docs/security.md, "Execution"). A worker
// started as root must not hand root to every job: its commands switch to an
// unprivileged user in the child, before exec.

#include <sys/types.h>
#include <unistd.h>

#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace dts::execution {

// A user from the password database, resolved once at start-up: the child
// of fork() may not look anything up.
// Every member has an initializer, so that designated initializers pass
// -Wmissing-field-initializers.
struct RunAsUser {
  std::string name{};
  uid_t uid = 0;
  gid_t gid = 0;               // primary group
  std::vector<gid_t> groups{};  // supplementary groups, as initgroups() would set
  std::string home{};           // pw_dir; "/" when unset
};

// The user commands default to when the worker runs as root.
inline constexpr char kDefaultRunAsUser[] = "nobody";

// Resolves --run-as USER / --allow-root for a process whose effective uid is
// `euid`. nullopt: commands run as this process, without switching.
// - euid 0: as `user` (empty: "nobody"); with allow_root and no user, as
//   root (nullopt). A user whose uid is 0 needs allow_root.
// - other euid: only this process's own user can be named (it cannot switch);
//   empty or that user gives nullopt.
// INVALID_ARGUMENT (a usage error) naming --run-as or --allow-root otherwise,
// including an unknown user. `user` may be a name or a numeric uid.
absl::StatusOr<std::optional<RunAsUser>> ResolveRunAs(const std::string& user, bool allow_root,
                                                      uid_t euid = geteuid());

// OK when `user` can reach `dir` by path: every directory from / down to it
// grants it search (x) permission by the mode bits (ACLs are not read).
// FAILED_PRECONDITION naming the first directory that does not, e.g.
// "/tmp/x (owner 0, mode 0700) cannot be entered by user nobody (uid 65534)".
absl::Status CheckTraversable(const std::string& dir, const RunAsUser& user);

}  // namespace dts::execution
