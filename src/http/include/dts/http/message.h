#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"

namespace dts::http {

// One HTTP request as a handler sees it. The server fills it from the wire;
// tests may build one by hand and pass it to Router::Dispatch.
//
// Every member has an initializer, even `{}`, so that designated
// initializers (Request{.method = "GET"}) pass -Wmissing-field-initializers.
struct Request {
  std::string method{};  // as sent ("GET"); HTTP methods are case-sensitive
  std::string path{};    // percent-decoded, without the query
  // Percent-decoded, '+' read as a space; a key may repeat (?tag=a&tag=b).
  std::multimap<std::string, std::string, std::less<>> query{};
  // In arrival order, names as sent; use Header() for lookups.
  std::vector<std::pair<std::string, std::string>> headers{};
  std::string body{};
  std::string remote_address{};  // peer "ip:port", IPv6 as "[ip]:port"

  // First value of header `name`, compared case-insensitively.
  std::optional<std::string> Header(absl::string_view name) const;
  // First value of query parameter `name`.
  std::optional<std::string> Query(absl::string_view name) const;
};

// What a handler returns. The server adds Content-Length and Connection
// itself (and ignores those names, and Transfer-Encoding, in `headers`) so
// that a handler cannot break the framing of the connection. Write
// Response{.status = 201, .body = json}; the `{}` initializers make that
// legal under -Wextra.
struct Response {
  int status = 200;  // must be 200..599; anything else becomes a 500
  std::string body{};
  std::string content_type = "application/json";  // empty: no Content-Type
  std::vector<std::pair<std::string, std::string>> headers{};
};

}  // namespace dts::http
