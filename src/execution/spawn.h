#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "execution/posix.h"

namespace dts::execution {

// What to start. Everything is prepared before fork(), because the child of a
// multithreaded process may only make async-signal-safe calls.
struct SpawnSpec {
  std::vector<std::string> argv;  // non-empty; argv[0] is what the program sees
  // Paths to try execve() on, in order (the PATH search, done by the parent).
  std::vector<std::string> exec_paths;
  std::vector<std::string> env;  // "NAME=value"; the child's whole environment
  std::string working_dir;       // empty: this process's working directory
  bool no_new_privs = true;
  // Switch to this user (setgroups, setresgid, setresuid) before anything
  // the command could observe: the chdir, the exec. Needs root; unset: keep
  // this process's credentials.
  struct Credentials {
    uid_t uid = 0;
    gid_t gid = 0;
    std::vector<gid_t> groups;  // supplementary groups
  };
  std::optional<Credentials> credentials;
  // Open for writing on a cgroup's cgroup.procs (numbered 3 or above): the
  // child joins that cgroup first thing, before it allocates anything of its
  // own. -1: stays in this process's cgroup.
  int cgroup_procs_fd = -1;
  // RLIMIT_AS of the child in bytes; 0: inherited.
  uint64_t address_space_limit = 0;
  // Only for error messages: the PATH that produced exec_paths, if searched.
  std::string searched_path;
};

// A started child: leader of its own session and process group (pgid == pid),
// stdin /dev/null, stdout and stderr into `output`, no other descriptors,
// RLIMIT_CORE 0, every signal at its default disposition and unblocked, and
// SIGKILLed if the thread that spawned it dies. The caller must reap `pid`;
// until it does, the pid and the process group id cannot be reused, so
// signalling the group is safe.
struct Child {
  pid_t pid = -1;
  UniqueFd pidfd;   // readable once the child has exited
  UniqueFd output;  // read end of the stdout+stderr pipe, non-blocking
};

// The execve() candidates for `program`: itself if it contains a '/', else
// each directory of `path` joined with it (an empty entry means ".").
std::vector<std::string> ExecPaths(absl::string_view program, absl::string_view path);

// Forks and execs. Returns once the exec has succeeded or failed. A failure in
// the child is reported with its step and errno, e.g.
// "execve /nonexistent: No such file or directory" or
// "chdir /missing: No such file or directory". Thread-safe. Requires that
// nothing else in the process reaps children it did not start (waitpid(-1),
// SIGCHLD set to SIG_IGN).
absl::StatusOr<Child> Spawn(const SpawnSpec& spec);

}  // namespace dts::execution
