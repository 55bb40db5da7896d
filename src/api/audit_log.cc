#include "dts/api/audit_log.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "dts/http/errors.h"

namespace dts::api {
namespace {

// Writes all of `data` to `fd`; a short write is retried so that a line is
// never cut, errors are dropped (an audit failure must not fail the call).
void WriteAll(int fd, absl::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    data.remove_prefix(static_cast<size_t>(n));
  }
}

std::string Quoted(absl::string_view text) { return absl::StrCat("\"", http::JsonEscape(text), "\""); }

}  // namespace

std::string AuditLog::Format(absl::Time time, const AuditRecord& r) {
  return absl::StrCat(
      "{\"time\":\"", absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", time, absl::UTCTimeZone()),
      "\",\"token\":", Quoted(r.token), ",\"role\":", r.role ? Quoted(RoleName(*r.role)) : "null",
      ",\"transport\":", Quoted(r.transport), ",\"operation\":", Quoted(r.operation),
      ",\"route\":", Quoted(r.route), ",\"target\":", Quoted(r.target), ",\"peer\":", Quoted(r.peer),
      ",\"code\":", Quoted(absl::StatusCodeToString(r.code)), "}\n");
}

void AuditLog::Record(const AuditRecord& record) const {
  if (sink_) sink_(Format(clock_->Now(), record));
}

absl::StatusOr<AuditLog::Sink> OpenAuditFile(const std::string& path) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("--audit-log: cannot open ", path, ": ", std::strerror(errno)));
  }
  // The descriptor lives as long as the last copy of the sink.
  auto owner = std::shared_ptr<int>(new int(fd), [](int* p) {
    ::close(*p);
    delete p;
  });
  return AuditLog::Sink([owner](absl::string_view line) { WriteAll(*owner, line); });
}

AuditLog::Sink StderrAuditSink() {
  return [](absl::string_view line) { WriteAll(STDERR_FILENO, absl::StrCat("audit: ", line)); };
}

}  // namespace dts::api
