#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace dts::cql {

// CQL error codes (native protocol v4, section 9).
enum class ErrorCode : int32_t {
  kServerError = 0x0000,
  kProtocolError = 0x000A,
  kBadCredentials = 0x0100,
  kUnavailable = 0x1000,
  kOverloaded = 0x1001,
  kIsBootstrapping = 0x1002,
  kTruncateError = 0x1003,
  kWriteTimeout = 0x1100,
  kReadTimeout = 0x1200,
  kReadFailure = 0x1300,
  kFunctionFailure = 0x1400,
  kWriteFailure = 0x1500,
  kSyntaxError = 0x2000,
  kUnauthorized = 0x2100,
  kInvalid = 0x2200,
  kConfigError = 0x2300,
  kAlreadyExists = 0x2400,
  kUnprepared = 0x2500,
};

// The absl code a CQL error maps to: UNAVAILABLE for unavailable, overloaded
// and bootstrapping; DEADLINE_EXCEEDED for read/write timeouts;
// INVALID_ARGUMENT for syntax and invalid; ALREADY_EXISTS; UNAUTHENTICATED for
// bad credentials; PERMISSION_DENIED for unauthorized; NOT_FOUND for
// unprepared; FAILED_PRECONDITION for config and function errors; INTERNAL for
// server, protocol, truncate and read/write failures (and unknown codes).
absl::StatusCode AbslCodeFor(int32_t cql_code);

// A Status for a server ERROR: the mapped code, a message naming the CQL
// code, and the CQL code itself as a payload (see CqlErrorCode).
absl::Status CqlErrorStatus(int32_t cql_code, absl::string_view message);

// The CQL error code carried by `status`, if it came from a server ERROR.
std::optional<int32_t> CqlErrorCode(const absl::Status& status);

// True if `status` carries the given CQL code.
bool HasCqlError(const absl::Status& status, ErrorCode code);

// A short name such as "Unavailable" for a CQL error code.
std::string CqlErrorName(int32_t cql_code);

}  // namespace dts::cql
