#include "app/run_as_flags.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <optional>

#include "absl/strings/str_cat.h"
#include "dts/execution/run_as.h"

namespace dts::app {
namespace {

// What of the data directory the storage and the executor keep private.
constexpr const char* kPrivateEntries[] = {"dts.db", "dts.db-wal", "dts.db-shm", "dts.db-journal",
                                           "process-groups"};

// Commands running as another user reach <data_dir>/scratch/<run>: the data
// directory must let them pass (search, never list: 0711), so what else is in
// it must not rely on the directory for privacy. The SQLite files (job specs
// may hold secrets in env and headers) and the process-group records become
// owner-only; SQLite gives its -wal and -shm files the database's mode.
// Only entries this process owns are changed, and the directory only gains
// search permission, so a shared --data-dir (/tmp) is left as it was.
absl::Status OpenDataDirToScratch(const std::string& data_dir) {
  struct stat st;
  if (stat(data_dir.c_str(), &st) != 0) {
    return absl::FailedPreconditionError(absl::StrCat("--data-dir ", data_dir, ": ", strerror(errno)));
  }
  for (const char* entry : kPrivateEntries) {
    const std::string path = absl::StrCat(data_dir, "/", entry);
    struct stat e;
    if (lstat(path.c_str(), &e) != 0 || e.st_uid != geteuid() || S_ISLNK(e.st_mode)) continue;
    if ((e.st_mode & 077) != 0 && chmod(path.c_str(), e.st_mode & 07700) != 0) {
      return absl::FailedPreconditionError(absl::StrCat("chmod ", path, ": ", strerror(errno)));
    }
  }
  const mode_t wanted = (st.st_mode & 07777) | S_IXGRP | S_IXOTH;
  if (wanted != (st.st_mode & 07777) && chmod(data_dir.c_str(), wanted) != 0) {
    return absl::FailedPreconditionError(absl::StrCat("chmod ", data_dir, ": ", strerror(errno)));
  }
  return absl::OkStatus();
}

}  // namespace

void AddRunAsFlags(CLI::App& cmd, RunAsFlags* flags) {
  cmd.add_option("--run-as", flags->user,
                 "User that commands run as when this process is root (default: nobody); "
                 "a process that is not root runs them as itself");
  cmd.add_flag("--allow-root", flags->allow_root,
               "When this process is root and --run-as is not given, run commands as root "
               "(every job then has root on this machine)");
}

absl::Status ApplyRunAs(const RunAsFlags& flags, absl::string_view name,
                        execution::ExecutorOptions* options, std::ostream& err) {
  absl::StatusOr<std::optional<execution::RunAsUser>> user =
      execution::ResolveRunAs(flags.user, flags.allow_root);
  if (!user.ok()) return user.status();
  options->run_as = *std::move(user);
  if (geteuid() == 0 && !options->run_as) {
    err << name << ": warning: commands run as root (--allow-root): any job can take over "
        << "this machine\n";
  }
  if (options->run_as && !options->scratch_root.empty()) {
    // The run's scratch directory is created under it, given to the user
    // and made its HOME and TMPDIR: useless if the path cannot be walked.
    const std::string data_dir = options->scratch_root.substr(0, options->scratch_root.rfind('/'));
    if (absl::Status s = OpenDataDirToScratch(data_dir.empty() ? "/" : data_dir); !s.ok()) {
      return s;
    }
    if (absl::Status s = execution::CheckTraversable(data_dir.empty() ? "/" : data_dir,
                                                     *options->run_as);
        !s.ok()) {
      err << name << ": warning: commands run as " << options->run_as->name
          << " cannot reach their scratch directories under " << options->scratch_root << ": "
          << s.message() << " (choose a --data-dir whose parents others may enter)\n";
    }
  }
  return absl::OkStatus();
}

}  // namespace dts::app
