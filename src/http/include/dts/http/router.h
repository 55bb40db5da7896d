#pragma once

#include <functional>
#include <memory>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "dts/http/message.h"

namespace dts::metrics {
class Histogram;
template <typename Metric>
class Family;
}  // namespace dts::metrics

namespace dts::http {

// dts_api_request_duration_seconds{protocol, route, code}: the Router records
// HTTP requests in it, the gRPC services their calls.
metrics::Family<metrics::Histogram>& ApiRequestLatency();

// Values of the {name} segments of the matched pattern, percent-decoded.
using PathParams = absl::flat_hash_map<std::string, std::string>;

// A handler runs on a server I/O thread. It may block briefly (a SQLite
// query); it must not wait on other requests of the same server. Exceptions
// are caught by the server and become a 500.
using Handler = std::function<Response(const Request&, const PathParams&)>;

// Maps (method, path) to a handler. Patterns are absolute paths whose
// segments are literals or a whole-segment parameter: "/v1/jobs/{id}/run".
//
// Matching:
// - Paths are split on '/' with empty segments ignored, so "/v1/jobs/" and
//   "/v1//jobs" match "/v1/jobs". A decoded "%2F" therefore also separates
//   segments: ids and names in paths must not contain '/'.
// - Literal segments win over parameters; when the literal branch has no
//   route for the method, the parameter branch is tried.
// - HEAD uses the GET handler when no HEAD route is registered (the server
//   sends no body).
// - No route for the path: 404. Routes for the path but not the method: 405
//   with an Allow header.
//
// Dispatch() records each request's latency in
// dts_api_request_duration_seconds (docs/observability.md).
//
// Add() is for set-up, before the router is handed to a Server; Dispatch()
// is const and safe to call from many threads at once.
class Router {
 public:
  Router();
  ~Router();
  Router(Router&&) noexcept;
  Router& operator=(Router&&) noexcept;

  // A malformed pattern, an empty method or handler, or a duplicate route is
  // a programming error: it is not added, and the first such error is kept
  // in status(), which Server::Create checks, so a bad table fails at start.
  void Add(absl::string_view method, absl::string_view pattern, Handler handler);

  // OK, or the first error of Add().
  const absl::Status& status() const { return status_; }

  // Runs the matching handler (exceptions propagate) or builds the 404/405,
  // within a log::RequestScope of the request's X-Request-Id (kept when
  // well-formed, else a new one), which the response carries back.
  Response Dispatch(const Request& request) const;

 private:
  struct Route;
  struct Node;
  struct RouteLatency;
  // Dispatch() without the request id.
  Response DispatchRoute(const Request& request) const;

  std::unique_ptr<Node> root_;
  absl::Status status_;
};

}  // namespace dts::http
