// Feeds arbitrary bytes to the HTTP request parsing of src/http the way a
// connection does (http/session.cc): Boost.Beast's request parser with the
// server's header and body limits, requests read one after another from the
// same bytes (pipelining), each copied into an http::Request, its target
// decoded by ParseTarget and dispatched through a Router. Every input must be
// parsed or rejected, never crash, hang or allocate without bound.

#include <boost/beast/core/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <optional>
#include <string>

#include "absl/strings/string_view.h"
#include "dts/http/message.h"
#include "dts/http/router.h"
#include "dts/http/server.h"
#include "http/target.h"

namespace {

namespace bhttp = boost::beast::http;

const dts::http::Router& TestRouter() {
  static const dts::http::Router* router = [] {
    auto* r = new dts::http::Router;
    auto echo = [](const dts::http::Request& request, const dts::http::PathParams& params) {
      dts::http::Response response;
      for (const auto& [k, v] : params) response.body += k + "=" + v + ";";
      if (std::optional<std::string> h = request.Header("content-type")) response.body += *h;
      if (std::optional<std::string> q = request.Query("page_size")) response.body += *q;
      return response;
    };
    r->Add("GET", "/v1/jobs", echo);
    r->Add("POST", "/v1/jobs", echo);
    r->Add("GET", "/v1/jobs/{id}", echo);
    r->Add("PUT", "/v1/jobs/{id}", echo);
    r->Add("POST", "/v1/jobs/{id}/run", echo);
    r->Add("GET", "/v1/executions/{id}/logs", echo);
    if (!r->status().ok()) std::abort();
    return r;
  }();
  return *router;
}

// One request from the front of `in`; false when the bytes end or are not
// HTTP (the connection would answer 400/413/431 and close).
bool ParseOne(absl::string_view& in) {
  const dts::http::ServerOptions defaults;
  bhttp::request_parser<bhttp::string_body> parser;
  parser.header_limit(static_cast<std::uint32_t>(defaults.max_header_bytes));
  parser.body_limit(64 * 1024);  // the server's is 1 MiB; inputs are smaller
  parser.eager(true);
  boost::beast::error_code ec;
  size_t used = 0;
  while (!parser.is_done()) {
    const size_t n = parser.put(boost::asio::buffer(in.data() + used, in.size() - used), ec);
    if (ec == bhttp::error::need_more) {
      if (used == in.size()) return false;  // truncated: the peer would have to send more
      ec = {};
      if (n == 0) return false;
    } else if (ec) {
      return false;
    }
    used += n;
    if (n == 0 && !parser.is_done()) {
      if (used == in.size()) {
        parser.put_eof(ec);  // the peer closed: a body without length ends here
        if (ec) return false;
        break;
      }
      return false;
    }
  }
  in.remove_prefix(used);

  auto& message = parser.get();
  dts::http::Request request;
  request.method = std::string(message.method_string());
  for (const auto& field : message) {
    request.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
  }
  request.body = std::move(message.body());
  const auto target = message.target();
  if (!dts::http::ParseTarget(absl::string_view(target.data(), target.size()), &request.path,
                              &request.query)) {
    return true;  // a 400 that keeps the connection
  }
  const dts::http::Response response = TestRouter().Dispatch(request);
  if (response.status < 200 || response.status > 599) std::abort();
  return message.keep_alive();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  absl::string_view in(reinterpret_cast<const char*>(data), size);
  // The target decoder on its own as well: the bytes up to the first space.
  {
    std::string path;
    std::multimap<std::string, std::string, std::less<>> query;
    const absl::string_view target = in.substr(0, in.find(' '));
    if (dts::http::ParseTarget(target, &path, &query) && target != "*" && !target.empty() &&
        target[0] == '/' && path.empty()) {
      std::abort();  // an origin-form target always has a path
    }
  }
  for (int i = 0; i < 16 && !in.empty(); ++i) {
    if (!ParseOne(in)) break;
  }
  return 0;
}
