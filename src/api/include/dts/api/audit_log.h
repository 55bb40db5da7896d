#pragma once

#include <functional>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "dts/api/auth.h"
#include "dts/common/clock.h"

namespace dts::api {

// One call that changed (or tried to change) something.
struct AuditRecord {
  absl::string_view token = "anonymous";  // the token's name
  std::optional<Role> role{};             // none: not authenticated
  absl::string_view transport{};          // "http" or "grpc"
  absl::string_view operation{};          // "dts.v1.JobService/CreateJob"
  absl::string_view route{};              // "POST /v1/jobs" or the gRPC method
  absl::string_view target{};             // the id acted on, when known
  absl::string_view peer{};               // the client's address
  absl::StatusCode code = absl::StatusCode::kOk;
};

// Writes one JSON object per line (docs/security.md#audit-log):
//   {"time":"2026-03-07T10:00:00.123Z","token":"ci","role":"operator",
//    "transport":"http","operation":"dts.v1.JobService/CreateJob",
//    "route":"POST /v1/jobs","target":"<id>","peer":"127.0.0.1:5555",
//    "code":"OK"}
// `role` is null when the caller was not authenticated.
class AuditLog {
 public:
  // Receives each line, '\n' included; called concurrently.
  using Sink = std::function<void(absl::string_view line)>;

  AuditLog(const Clock* clock, Sink sink) : clock_(clock), sink_(std::move(sink)) {}

  void Record(const AuditRecord& record) const;
  static std::string Format(absl::Time time, const AuditRecord& record);

 private:
  const Clock* clock_;
  Sink sink_;
};

// A sink appending to `path` (created 0600). Each line is one write(2) on
// an O_APPEND descriptor, so concurrent lines never interleave.
// INVALID_ARGUMENT naming --audit-log when the file cannot be opened.
absl::StatusOr<AuditLog::Sink> OpenAuditFile(const std::string& path);
// A sink writing "audit: <json>" lines to stderr, likewise one write each.
AuditLog::Sink StderrAuditSink();

}  // namespace dts::api
