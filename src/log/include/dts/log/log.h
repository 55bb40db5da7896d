#pragma once

// Structured log lines on stderr (docs/observability.md#logs): text for
// people, or one JSON object per line for machines, with the id of the API
// request being served (or of the request that created a run) on each line.
//
// Thread-safety: every function may be called from any thread; Configure()
// is meant for start-up, before the threads that log.

#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace dts::log {

enum class Level { kDebug, kInfo, kWarn, kError };
enum class Format { kText, kJson };

// INVALID_ARGUMENT naming `flag` (and changing nothing) for anything but
// text|json, and debug|info|warn|error.
absl::Status SetFormat(absl::string_view flag, absl::string_view format);
absl::Status SetLevel(absl::string_view flag, absl::string_view level);
absl::Status Configure(absl::string_view flag_format, absl::string_view format,
                       absl::string_view flag_level, absl::string_view level);
// Whether a line of `level` would be written (for callers that build fields).
bool Enabled(Level level);

using Fields = std::vector<std::pair<std::string, std::string>>;

// One line: time, level, component ("api", "engine", "worker", the command's
// name...), message, the current request id if any, then `fields` in order.
void Write(Level level, absl::string_view component, absl::string_view message,
           const Fields& fields = {});
inline void Debug(absl::string_view component, absl::string_view message, const Fields& fields = {}) {
  Write(Level::kDebug, component, message, fields);
}
inline void Info(absl::string_view component, absl::string_view message, const Fields& fields = {}) {
  Write(Level::kInfo, component, message, fields);
}
inline void Warn(absl::string_view component, absl::string_view message, const Fields& fields = {}) {
  Write(Level::kWarn, component, message, fields);
}
inline void Error(absl::string_view component, absl::string_view message, const Fields& fields = {}) {
  Write(Level::kError, component, message, fields);
}

// The line Write() would print, without the time (for tests).
std::string FormatLine(Format format, Level level, absl::string_view component,
                   absl::string_view message, absl::string_view request_id, const Fields& fields,
                   absl::string_view time);

// The request this thread serves, for as long as the scope lives. Scopes
// nest; the innermost wins.
class RequestScope {
 public:
  explicit RequestScope(std::string request_id);
  ~RequestScope();
  RequestScope(const RequestScope&) = delete;
  RequestScope& operator=(const RequestScope&) = delete;

 private:
  std::string previous_;
};
// Empty outside any scope.
const std::string& CurrentRequestId();

// A client's X-Request-Id / x-request-id when it is 1..128 characters of
// [A-Za-z0-9._:-], else a new random id (16 hex digits): ids go into log
// lines and run records, so nothing else is taken as it is.
std::string RequestIdFrom(absl::string_view offered);

// Where lines go (tests capture them); null: back to stderr.
void SetSinkForTesting(std::vector<std::string>* lines);

}  // namespace dts::log
