#pragma once

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "dts/http/message.h"

namespace dts::http {

// `text` as the inside of a JSON string literal (no surrounding quotes).
// Escapes quote, backslash and control characters; bytes that are not valid
// UTF-8 become U+FFFD, so the result is always valid JSON text.
std::string JsonEscape(absl::string_view text);
// JsonEscape(text) appended to `out`, without a string of its own.
void AppendJsonEscaped(std::string* out, absl::string_view text);

// The error body of the API, in grpc-gateway's shape:
//   {"code":<grpc code>,"message":"...","details":[]}
Response JsonError(int http_status, int grpc_code, absl::string_view message);

// HTTP status for a canonical code: INVALID_ARGUMENT, FAILED_PRECONDITION,
// OUT_OF_RANGE 400; UNAUTHENTICATED 401; PERMISSION_DENIED 403; NOT_FOUND 404;
// ALREADY_EXISTS, ABORTED 409; RESOURCE_EXHAUSTED 429; UNAVAILABLE 503;
// OK 200; everything else 500.
int HttpStatusFromCode(absl::StatusCode code);

// A non-OK status as JsonError(HttpStatusFromCode(code), code, message).
// OK gives 200 with body "{}".
Response StatusResponse(const absl::Status& status);

}  // namespace dts::http
