#include "dts/execution/run_as.h"

#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "execution/posix.h"

namespace dts::execution {
namespace {

// getpwnam_r/getpwuid_r into a buffer that grows on ERANGE.
absl::StatusOr<std::optional<RunAsUser>> LookUp(const std::string& name, std::optional<uid_t> uid) {
  std::vector<char> buffer(16384);
  passwd entry;
  passwd* found = nullptr;
  while (true) {
    int err = uid ? getpwuid_r(*uid, &entry, buffer.data(), buffer.size(), &found)
                  : getpwnam_r(name.c_str(), &entry, buffer.data(), buffer.size(), &found);
    if (err == ERANGE && buffer.size() < (1u << 22)) {
      buffer.resize(buffer.size() * 2);
      continue;
    }
    if (err != 0) return ErrnoStatus(err, "reading the password database");
    break;
  }
  if (found == nullptr) return std::nullopt;
  RunAsUser user;
  user.name = found->pw_name;
  user.uid = found->pw_uid;
  user.gid = found->pw_gid;
  user.home = found->pw_dir != nullptr && found->pw_dir[0] != '\0' ? found->pw_dir : "/";
  // getgrouplist() includes the primary group; it reports the size it needs.
  int count = 32;
  std::vector<gid_t> groups(static_cast<size_t>(count));
  while (getgrouplist(user.name.c_str(), user.gid, groups.data(), &count) < 0) {
    if (count <= static_cast<int>(groups.size())) count = static_cast<int>(groups.size()) * 2;
    if (count > 65536) return absl::FailedPreconditionError("user " + user.name + " has too many groups");
    groups.resize(static_cast<size_t>(count));
  }
  groups.resize(static_cast<size_t>(count));
  user.groups = std::move(groups);
  return user;
}

absl::StatusOr<std::optional<RunAsUser>> Find(const std::string& user) {
  uid_t numeric = 0;
  absl::StatusOr<std::optional<RunAsUser>> found = LookUp(user, std::nullopt);
  if (found.ok() && !found->has_value() && absl::SimpleAtoi(user, &numeric)) {
    found = LookUp("", numeric);
  }
  return found;
}

bool CanSearch(const struct stat& st, const RunAsUser& user) {
  if (user.uid == 0) return true;
  if (st.st_uid == user.uid) return (st.st_mode & S_IXUSR) != 0;
  const bool in_group = st.st_gid == user.gid ||
                        std::find(user.groups.begin(), user.groups.end(), st.st_gid) != user.groups.end();
  if (in_group) return (st.st_mode & S_IXGRP) != 0;
  return (st.st_mode & S_IXOTH) != 0;
}

}  // namespace

absl::StatusOr<std::optional<RunAsUser>> ResolveRunAs(const std::string& user, bool allow_root,
                                                      uid_t euid) {
  if (euid != 0) {
    if (user.empty()) return std::nullopt;
    absl::StatusOr<std::optional<RunAsUser>> found = Find(user);
    if (!found.ok()) return found.status();
    if (!found->has_value()) {
      return absl::InvalidArgumentError(absl::StrCat("--run-as: unknown user \"", user, "\""));
    }
    if ((*found)->uid != euid) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--run-as ", user, ": this process runs as uid ", euid,
          " and cannot switch users (only root can); omit --run-as to run commands as uid ", euid));
    }
    return std::nullopt;  // already that user: nothing to switch
  }
  if (user.empty() && allow_root) return std::nullopt;
  const std::string name = user.empty() ? kDefaultRunAsUser : user;
  absl::StatusOr<std::optional<RunAsUser>> found = Find(name);
  if (!found.ok()) return found.status();
  if (!found->has_value()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--run-as: unknown user \"", name, "\"",
        user.empty() ? " (the default when running as root; name another user, or --allow-root)"
                     : ""));
  }
  if ((*found)->uid == 0 && !allow_root) {
    return absl::InvalidArgumentError(
        absl::StrCat("--run-as ", name, ": commands would run as root; add --allow-root to allow it"));
  }
  if ((*found)->uid == 0) return std::nullopt;  // root, allowed: nothing to switch
  return found;
}

absl::Status CheckTraversable(const std::string& dir, const RunAsUser& user) {
  if (dir.empty() || dir[0] != '/') {
    return absl::InvalidArgumentError(absl::StrCat("not an absolute path: \"", dir, "\""));
  }
  std::vector<std::string> prefixes = {"/"};
  for (size_t slash = dir.find('/', 1);; slash = dir.find('/', slash + 1)) {
    prefixes.push_back(dir.substr(0, slash));
    if (slash == std::string::npos) break;
  }
  for (const std::string& prefix : prefixes) {
    struct stat st;
    if (stat(prefix.c_str(), &st) != 0) return ErrnoStatus(errno, absl::StrCat("stat ", prefix));
    if (!CanSearch(st, user)) {
      return absl::FailedPreconditionError(absl::StrFormat(
          "%s (owner %d, mode %04o) cannot be entered by user %s (uid %d)", prefix, st.st_uid,
          st.st_mode & 07777, user.name, user.uid));
    }
  }
  return absl::OkStatus();
}

}  // namespace dts::execution
