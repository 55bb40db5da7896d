#pragma once

#include <string>

#include "absl/strings/string_view.h"
#include "dts/http/message.h"

namespace dts::http {

// How the server frames one response on the wire.
struct Framing {
  bool keep_alive = true;      // false: "Connection: close" and close after
  bool http10_client = false;  // a 1.0 client staying alive needs "keep-alive"
  bool head_request = false;   // HEAD: headers as for GET, no body
};

// 1xx, 204 and 304 responses never carry a body (RFC 9110 6.4.1).
bool StatusAllowsBody(int status);

// Appends the status line and headers of `response` (ending with the blank
// line) to `out`, which the caller reuses across responses. Content-Length
// and Connection come from the server; handler headers named so, or
// Transfer-Encoding, or with a name or value that would break the header
// block (CR, LF, NUL, non-token name) are dropped and counted in `*dropped`.
void AppendResponseHead(const Response& response, const Framing& framing,
                        absl::string_view server_header, std::string* out, int* dropped);

// Handlers may return 200..599 only: a 1xx would make the client wait for
// another response, and other numbers are not HTTP statuses.
bool IsValidHandlerStatus(int status);

}  // namespace dts::http
