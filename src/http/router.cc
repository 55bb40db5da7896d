#include "dts/http/router.h"

#include <chrono>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/inlined_vector.h"
#include "absl/functional/function_ref.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "dts/http/errors.h"
#include "dts/log/log.h"
#include "dts/metrics/metrics.h"

namespace dts::http {

metrics::Family<metrics::Histogram>& ApiRequestLatency() {
  static metrics::Family<metrics::Histogram>& family = metrics::DefaultRegistry().AddHistogram(
      "dts_api_request_duration_seconds",
      "API request latency by protocol, route (method and pattern, or gRPC method) and code.",
      {"protocol", "route", "code"});
  return family;
}

// HTTP statuses are below 600.
struct Router::RouteLatency {
  explicit RouteLatency(std::string route) : cache(&ApiRequestLatency(), {"http", std::move(route)}) {}
  metrics::CodeCache<600> cache;
  void Record(int status, std::chrono::steady_clock::time_point start) {
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    cache.For(status, absl::StrCat(status)).Observe(seconds);
  }
};

struct Router::Route {
  std::string method;
  std::vector<std::string> param_names;  // one per {param} segment, in order
  Handler handler;
  // dts_api_request_duration_seconds{protocol="http",route="<method> <pattern>",code}
  std::unique_ptr<RouteLatency> latency;
};

// A trie over path segments. Parameter names live in the Route, not the node,
// so "GET /jobs/{id}" and "DELETE /jobs/{job_id}" share one node.
struct Router::Node {
  absl::flat_hash_map<std::string, std::unique_ptr<Node>> literals;
  std::unique_ptr<Node> param;
  std::vector<Route> routes;
};

namespace {

// Paths have a few segments; matching stays off the heap up to eight.
using Segments = absl::InlinedVector<absl::string_view, 8>;

Segments SplitPath(absl::string_view path) {
  return absl::StrSplit(path, '/', absl::SkipEmpty());
}

bool IsParamSegment(absl::string_view segment) {
  return segment.size() >= 2 && segment.front() == '{' && segment.back() == '}';
}

bool IsValidParamName(absl::string_view name) {
  if (name.empty()) return false;
  for (char c : name) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '_') return false;
  }
  return true;
}

}  // namespace

Router::Router() : root_(std::make_unique<Node>()) {}
Router::~Router() = default;
Router::Router(Router&&) noexcept = default;
Router& Router::operator=(Router&&) noexcept = default;

namespace {

// Checks one pattern segment and, for a {param}, returns its name.
absl::Status CheckSegment(absl::string_view segment, std::vector<std::string>* names) {
  if (!IsParamSegment(segment)) {
    if (segment.find_first_of("{}") != absl::string_view::npos) {
      return absl::InvalidArgumentError("a parameter must be a whole segment");
    }
    return absl::OkStatus();
  }
  absl::string_view name = segment.substr(1, segment.size() - 2);
  if (!IsValidParamName(name)) {
    return absl::InvalidArgumentError(absl::StrCat("bad parameter name \"", name, "\""));
  }
  for (const std::string& seen : *names) {
    if (seen == name) return absl::InvalidArgumentError(absl::StrCat("repeated parameter ", name));
  }
  names->emplace_back(name);
  return absl::OkStatus();
}

}  // namespace

void Router::Add(absl::string_view method, absl::string_view pattern, Handler handler) {
  auto fail = [&](absl::string_view why) {
    if (status_.ok()) {
      status_ = absl::InvalidArgumentError(absl::StrCat("route ", method, " ", pattern, ": ", why));
    }
  };
  if (method.empty()) return fail("empty method");
  if (!handler) return fail("empty handler");
  if (pattern.empty() || pattern.front() != '/') return fail("pattern must start with '/'");

  Route route{std::string(method), {}, std::move(handler),
              std::make_unique<RouteLatency>(absl::StrCat(method, " ", pattern))};
  Node* node = root_.get();
  for (absl::string_view segment : SplitPath(pattern)) {
    if (absl::Status s = CheckSegment(segment, &route.param_names); !s.ok()) {
      return fail(s.message());
    }
    std::unique_ptr<Node>& next =
        IsParamSegment(segment) ? node->param : node->literals[std::string(segment)];
    if (next == nullptr) next = std::make_unique<Node>();
    node = next.get();
  }
  for (const Route& existing : node->routes) {
    if (existing.method == method) return fail("duplicate route");
  }
  node->routes.push_back(std::move(route));
}

namespace {

template <typename Route>
const Route* FindRoute(const std::vector<Route>& routes, absl::string_view method) {
  for (const Route& r : routes) {
    if (r.method == method) return &r;
  }
  if (method == "HEAD") return FindRoute(routes, "GET");
  return nullptr;
}

// Depth-first over the trie, literal before parameter, collecting the values
// of parameter segments; returns the first node at the end of the path that
// `accept` likes.
template <typename Node>
const Node* Match(const Node& node, const Segments& segments, size_t i,
                  absl::FunctionRef<bool(const Node&)> accept, Segments* values) {
  if (i == segments.size()) return accept(node) ? &node : nullptr;
  if (auto it = node.literals.find(segments[i]); it != node.literals.end()) {
    if (const Node* found = Match<Node>(*it->second, segments, i + 1, accept, values)) return found;
  }
  if (node.param != nullptr) {
    values->push_back(segments[i]);
    if (const Node* found = Match<Node>(*node.param, segments, i + 1, accept, values)) return found;
    values->pop_back();
  }
  return nullptr;
}

template <typename Route>
std::string AllowHeader(const std::vector<Route>& routes) {
  std::vector<absl::string_view> methods;
  bool has_get = false, has_head = false;
  for (const Route& r : routes) {
    methods.push_back(r.method);
    has_get |= r.method == "GET";
    has_head |= r.method == "HEAD";
  }
  if (has_get && !has_head) methods.push_back("HEAD");
  return absl::StrJoin(methods, ", ");
}

}  // namespace

Response Router::Dispatch(const Request& request) const {
  // The request's id is in every log line written while it is served, and
  // goes back to the client.
  log::RequestScope scope(log::RequestIdFrom(request.Header("x-request-id").value_or("")));
  Response response = DispatchRoute(request);
  response.headers.emplace_back("X-Request-Id", log::CurrentRequestId());
  return response;
}

Response Router::DispatchRoute(const Request& request) const {
  const auto start = std::chrono::steady_clock::now();
  const Segments segments = SplitPath(request.path);
  Segments values;
  const Node* node = Match<Node>(
      *root_, segments, 0,
      [&](const Node& n) { return FindRoute(n.routes, request.method) != nullptr; }, &values);
  if (node != nullptr) {
    const Route& route = *FindRoute(node->routes, request.method);
    PathParams params;
    params.reserve(values.size());
    for (size_t i = 0; i < values.size(); ++i) {
      params.emplace(route.param_names[i], std::string(values[i]));
    }
    Response response = route.handler(request, params);
    route.latency->Record(response.status, start);
    return response;
  }

  values.clear();
  node = Match<Node>(
      *root_, segments, 0, [](const Node& n) { return !n.routes.empty(); }, &values);
  // Paths nobody routes share one series, so that scanners cannot make
  // a series per path.
  static RouteLatency unmatched("unmatched");
  if (node == nullptr) {
    Response response = JsonError(404, static_cast<int>(absl::StatusCode::kNotFound),
                                  absl::StrCat("no route for ", request.path));
    unmatched.Record(response.status, start);
    return response;
  }
  Response response =
      JsonError(405, static_cast<int>(absl::StatusCode::kUnimplemented),
                absl::StrCat("method ", request.method, " is not allowed for ", request.path));
  response.headers.emplace_back("Allow", AllowHeader(node->routes));
  unmatched.Record(response.status, start);
  return response;
}

}  // namespace dts::http
