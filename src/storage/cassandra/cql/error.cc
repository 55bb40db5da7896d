#include "dts/cql/error.h"

#include "absl/strings/cord.h"
#include "absl/strings/str_format.h"

namespace dts::cql {
namespace {
constexpr absl::string_view kPayloadUrl = "type.dts.dev/cql.ErrorCode";
}  // namespace

absl::StatusCode AbslCodeFor(int32_t code) {
  switch (static_cast<ErrorCode>(code)) {
    case ErrorCode::kUnavailable:
    case ErrorCode::kOverloaded:
    case ErrorCode::kIsBootstrapping:
      return absl::StatusCode::kUnavailable;
    case ErrorCode::kWriteTimeout:
    case ErrorCode::kReadTimeout:
      return absl::StatusCode::kDeadlineExceeded;
    case ErrorCode::kSyntaxError:
    case ErrorCode::kInvalid:
      return absl::StatusCode::kInvalidArgument;
    case ErrorCode::kAlreadyExists:
      return absl::StatusCode::kAlreadyExists;
    case ErrorCode::kBadCredentials:
      return absl::StatusCode::kUnauthenticated;
    case ErrorCode::kUnauthorized:
      return absl::StatusCode::kPermissionDenied;
    case ErrorCode::kUnprepared:
      return absl::StatusCode::kNotFound;
    case ErrorCode::kConfigError:
    case ErrorCode::kFunctionFailure:
      return absl::StatusCode::kFailedPrecondition;
    case ErrorCode::kServerError:
    case ErrorCode::kProtocolError:
    case ErrorCode::kTruncateError:
    case ErrorCode::kReadFailure:
    case ErrorCode::kWriteFailure:
      return absl::StatusCode::kInternal;
  }
  return absl::StatusCode::kInternal;
}

std::string CqlErrorName(int32_t code) {
  switch (static_cast<ErrorCode>(code)) {
    case ErrorCode::kServerError: return "Server error";
    case ErrorCode::kProtocolError: return "Protocol error";
    case ErrorCode::kBadCredentials: return "Bad credentials";
    case ErrorCode::kUnavailable: return "Unavailable";
    case ErrorCode::kOverloaded: return "Overloaded";
    case ErrorCode::kIsBootstrapping: return "Is bootstrapping";
    case ErrorCode::kTruncateError: return "Truncate error";
    case ErrorCode::kWriteTimeout: return "Write timeout";
    case ErrorCode::kReadTimeout: return "Read timeout";
    case ErrorCode::kReadFailure: return "Read failure";
    case ErrorCode::kFunctionFailure: return "Function failure";
    case ErrorCode::kWriteFailure: return "Write failure";
    case ErrorCode::kSyntaxError: return "Syntax error";
    case ErrorCode::kUnauthorized: return "Unauthorized";
    case ErrorCode::kInvalid: return "Invalid";
    case ErrorCode::kConfigError: return "Config error";
    case ErrorCode::kAlreadyExists: return "Already exists";
    case ErrorCode::kUnprepared: return "Unprepared";
  }
  return "Unknown error";
}

absl::Status CqlErrorStatus(int32_t code, absl::string_view message) {
  absl::Status s(AbslCodeFor(code),
                 absl::StrFormat("CQL %s (0x%04x): %s", CqlErrorName(code), code, message));
  const auto u = static_cast<uint32_t>(code);
  const char bytes[4] = {static_cast<char>(u >> 24), static_cast<char>(u >> 16),
                         static_cast<char>(u >> 8), static_cast<char>(u)};
  s.SetPayload(kPayloadUrl, absl::Cord(absl::string_view(bytes, 4)));
  return s;
}

std::optional<int32_t> CqlErrorCode(const absl::Status& status) {
  auto payload = status.GetPayload(kPayloadUrl);
  if (!payload || payload->size() != 4) return std::nullopt;
  const std::string b(*payload);
  const uint32_t u = (uint32_t{static_cast<uint8_t>(b[0])} << 24) |
                     (uint32_t{static_cast<uint8_t>(b[1])} << 16) |
                     (uint32_t{static_cast<uint8_t>(b[2])} << 8) | static_cast<uint8_t>(b[3]);
  return static_cast<int32_t>(u);
}

bool HasCqlError(const absl::Status& status, ErrorCode code) {
  auto c = CqlErrorCode(status);
  return c && *c == static_cast<int32_t>(code);
}

}  // namespace dts::cql
