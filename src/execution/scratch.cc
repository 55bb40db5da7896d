#include "execution/scratch.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <set>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "execution/posix.h"

namespace dts::execution {
namespace {

constexpr int kMaxMeasureDepth = 256;
// Removal holds one descriptor per level; deeper subtrees are moved up to the
// top first, so any depth is removed with a bounded number of descriptors.
constexpr int kMaxRemoveDepth = 64;

// Opens directory `name` in `parent` for reading, never following a symbolic
// link, and first gives the owner rwx on it (through an O_PATH descriptor, so
// what gets chmod-ed is that very directory): a run may have made it
// unreadable. Invalid on failure, with errno set.
UniqueFd OpenSubdir(int parent, const char* name) {
  UniqueFd path(openat(parent, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!path.valid()) return path;
  struct stat st;
  if (fstat(path.get(), &st) == 0 && (st.st_mode & S_IRWXU) != S_IRWXU) {
    std::string proc = absl::StrCat("/proc/self/fd/", path.get());
    chmod(proc.c_str(), (st.st_mode & 07777) | S_IRWXU);
  }
  return UniqueFd(openat(path.get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
}

// An entry that was removed or replaced by a non-directory meanwhile.
bool Vanished(int err) { return err == ENOENT || err == ENOTDIR || err == ELOOP; }

dev_t DeviceOf(int fd) {
  struct stat st;
  return fstat(fd, &st) == 0 ? st.st_dev : 0;
}

// The names in directory `fd` (except . and ..), read before any is changed.
absl::StatusOr<std::vector<std::string>> ListDir(int fd) {
  int copy = fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (copy < 0) return ErrnoStatus(errno, "dup");
  DIR* dir = fdopendir(copy);
  if (dir == nullptr) {
    int err = errno;
    close(copy);
    return ErrnoStatus(err, "fdopendir");
  }
  rewinddir(dir);
  std::vector<std::string> names;
  errno = 0;
  while (dirent* entry = readdir(dir)) {
    absl::string_view name = entry->d_name;
    if (name != "." && name != "..") names.emplace_back(name);
  }
  int err = errno;
  closedir(dir);
  if (err != 0) return ErrnoStatus(err, "readdir");
  return names;
}

struct Measure {
  dev_t dev;
  std::set<std::pair<dev_t, ino_t>> linked;  // hard-linked inodes already counted
  int64_t bytes = 0;
};

absl::Status MeasureDir(int fd, int depth, Measure& m) {
  if (depth > kMaxMeasureDepth) {
    return absl::FailedPreconditionError(
        absl::StrCat("nested deeper than ", kMaxMeasureDepth, " levels"));
  }
  absl::StatusOr<std::vector<std::string>> names = ListDir(fd);
  if (!names.ok()) return names.status();
  for (const std::string& name : *names) {
    struct stat st;
    if (fstatat(fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) continue;  // vanished
    const bool hard_linked = !S_ISDIR(st.st_mode) && st.st_nlink > 1;
    if (hard_linked && !m.linked.insert({st.st_dev, st.st_ino}).second) continue;
    m.bytes += static_cast<int64_t>(st.st_blocks) * 512;
    if (!S_ISDIR(st.st_mode) || st.st_dev != m.dev) continue;
    UniqueFd sub = OpenSubdir(fd, name.c_str());
    if (!sub.valid()) {
      if (Vanished(errno)) continue;
      return ErrnoStatus(errno, absl::StrCat("open ", name));
    }
    absl::Status status = MeasureDir(sub.get(), depth + 1, m);
    if (!status.ok()) return status;
  }
  return absl::OkStatus();
}

// Empties directory `fd`, `depth` levels below `top`. Subdirectories found
// at kMaxRemoveDepth are moved into `top` instead (*moved is set) for a later
// pass.
absl::Status EmptyDir(int fd, int top, dev_t dev, int depth, uint64_t* seq, bool* moved) {
  absl::StatusOr<std::vector<std::string>> names = ListDir(fd);
  if (!names.ok()) return names.status();
  absl::Status result;
  for (const std::string& name : *names) {
    if (unlinkat(fd, name.c_str(), 0) == 0 || errno == ENOENT) continue;
    if (errno != EISDIR && errno != EPERM) {
      result.Update(ErrnoStatus(errno, absl::StrCat("unlink ", name)));
      continue;
    }
    if (depth >= kMaxRemoveDepth) {
      while (true) {
        std::string to = absl::StrCat(".dts-deep-", (*seq)++);
        if (renameat2(fd, name.c_str(), top, to.c_str(), RENAME_NOREPLACE) == 0) break;
        if (errno != EEXIST) {
          result.Update(ErrnoStatus(errno, absl::StrCat("rename ", name)));
          break;
        }
      }
      *moved = true;
      continue;
    }
    UniqueFd sub = OpenSubdir(fd, name.c_str());
    if (!sub.valid()) {
      if (!Vanished(errno)) result.Update(ErrnoStatus(errno, absl::StrCat("open ", name)));
      continue;
    }
    if (DeviceOf(sub.get()) != dev) {  // a mount point: never empty another file system
      result.Update(absl::FailedPreconditionError(absl::StrCat(name, " is a mount point")));
      continue;
    }
    result.Update(EmptyDir(sub.get(), top, dev, depth + 1, seq, moved));
    if (unlinkat(fd, name.c_str(), AT_REMOVEDIR) != 0 && errno != ENOENT) {
      result.Update(ErrnoStatus(errno, absl::StrCat("rmdir ", name)));
    }
  }
  return result;
}

absl::StatusOr<UniqueFd> OpenRoot(const std::string& root) {
  UniqueFd fd(open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd.valid()) return ErrnoStatus(errno, absl::StrCat("open ", root));
  return fd;
}

}  // namespace

absl::StatusOr<std::string> ScratchDirName(absl::string_view run_id) {
  if (run_id.empty()) return absl::InvalidArgumentError("empty run id");
  std::string name;
  for (char c : run_id) {
    unsigned char u = static_cast<unsigned char>(c);
    if (absl::ascii_isalnum(u) || c == '-' || c == '_' || c == '.') {
      name.push_back(c);
    } else {
      absl::StrAppendFormat(&name, "%%%02X", u);
    }
  }
  if (name == ".") name = "%2E";
  if (name == "..") name = "%2E%2E";
  if (name.size() > 200) {
    return absl::InvalidArgumentError("run id too long for a scratch directory name");
  }
  return name;
}

absl::Status EnsureScratchRoot(const std::string& root) {
  if (root.empty() || root[0] != '/') {
    return absl::InvalidArgumentError(
        absl::StrCat("scratch_root must be an absolute path: \"", root, "\""));
  }
  for (size_t slash = root.find('/', 1); ; slash = root.find('/', slash + 1)) {
    std::string prefix = root.substr(0, slash);
    if (mkdir(prefix.c_str(), 0700) != 0 && errno != EEXIST) {
      return ErrnoStatus(errno, absl::StrCat("mkdir ", prefix));
    }
    if (slash == std::string::npos) break;
  }
  struct stat st;
  if (stat(root.c_str(), &st) != 0) return ErrnoStatus(errno, absl::StrCat("stat ", root));
  if (!S_ISDIR(st.st_mode)) {
    return absl::InvalidArgumentError(absl::StrCat(root, " is not a directory"));
  }
  return absl::OkStatus();
}

absl::Status AllowSearch(const std::string& dir) {
  struct stat st;
  if (stat(dir.c_str(), &st) != 0) return ErrnoStatus(errno, absl::StrCat("stat ", dir));
  const mode_t wanted = (st.st_mode & 07777) | S_IXGRP | S_IXOTH;
  if (wanted != (st.st_mode & 07777) && chmod(dir.c_str(), wanted) != 0) {
    return ErrnoStatus(errno, absl::StrCat("chmod ", dir));
  }
  return absl::OkStatus();
}

absl::Status CreateScratchDir(const std::string& root, const std::string& name,
                              std::optional<std::pair<uid_t, gid_t>> owner) {
  absl::Status removed = RemoveScratchDir(root, name);
  if (!removed.ok()) return removed;
  absl::StatusOr<UniqueFd> parent = OpenRoot(root);
  if (!parent.ok()) return parent.status();
  if (mkdirat(parent->get(), name.c_str(), 0700) != 0) {
    return ErrnoStatus(errno, absl::StrCat("mkdir ", root, "/", name));
  }
  // Nothing of the run exists yet that could have replaced it; NOFOLLOW all the same.
  if (owner && fchownat(parent->get(), name.c_str(), owner->first, owner->second,
                        AT_SYMLINK_NOFOLLOW) != 0) {
    return ErrnoStatus(errno, absl::StrCat("chown ", root, "/", name));
  }
  return absl::OkStatus();
}

absl::StatusOr<int64_t> ScratchUsageBytes(const std::string& root, const std::string& name) {
  absl::StatusOr<UniqueFd> parent = OpenRoot(root);
  if (!parent.ok()) return parent.status();
  UniqueFd top = OpenSubdir(parent->get(), name.c_str());
  if (!top.valid()) {
    if (Vanished(errno)) return 0;
    return ErrnoStatus(errno, absl::StrCat("open ", root, "/", name));
  }
  struct stat st;
  if (fstat(top.get(), &st) != 0) return ErrnoStatus(errno, "fstat");
  Measure m{st.st_dev, {}, static_cast<int64_t>(st.st_blocks) * 512};
  absl::Status status = MeasureDir(top.get(), 1, m);
  if (!status.ok()) return status;
  return m.bytes;
}

absl::Status RemoveScratchDir(const std::string& root, const std::string& name) {
  absl::StatusOr<UniqueFd> parent = OpenRoot(root);
  if (!parent.ok()) return parent.status();
  // Not a directory (a symbolic link put in its place, a file): remove just that.
  if (unlinkat(parent->get(), name.c_str(), 0) == 0 || errno == ENOENT) return absl::OkStatus();
  UniqueFd top = OpenSubdir(parent->get(), name.c_str());
  if (!top.valid()) {
    if (Vanished(errno)) return absl::OkStatus();
    return ErrnoStatus(errno, absl::StrCat("open ", root, "/", name));
  }
  const dev_t dev = DeviceOf(top.get());
  uint64_t seq = 0;
  absl::Status status;
  for (bool moved = true; moved;) {
    moved = false;
    status = EmptyDir(top.get(), top.get(), dev, 0, &seq, &moved);
    if (!status.ok()) break;
  }
  if (unlinkat(parent->get(), name.c_str(), AT_REMOVEDIR) != 0 && errno != ENOENT) {
    status.Update(ErrnoStatus(errno, absl::StrCat("rmdir ", root, "/", name)));
  }
  return status;
}

}  // namespace dts::execution
