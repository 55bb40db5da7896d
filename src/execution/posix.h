#pragma once

#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace dts::execution {

// Owns one file descriptor and closes it on destruction. Not thread-safe.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    if (this != &other) Reset(std::exchange(other.fd_, -1));
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() { Reset(); }

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  void Reset(int fd = -1);

 private:
  int fd_ = -1;
};

// strerror text for `err`, thread-safe ("No such file or directory").
std::string ErrnoText(int err);

// `what: <errno text>` with a status code that fits the errno.
absl::Status ErrnoStatus(int err, absl::string_view what);

// The whole content of a small file (procfs, cgroupfs), read with read(2).
absl::StatusOr<std::string> ReadSmallFile(const std::string& path);

// Writes `text` with one write(2) to an existing file (as cgroupfs needs),
// without creating or truncating it. Errors read "write <path>: <errno text>".
absl::Status WriteSmallFile(const std::string& path, absl::string_view text);

// A close-on-exec duplicate of `fd` numbered 3 or above (closing `fd`), so
// that dup2() onto 0, 1 and 2 in a child can never clobber it.
absl::StatusOr<UniqueFd> AboveStdio(UniqueFd fd);

}  // namespace dts::execution
