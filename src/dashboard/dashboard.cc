#include "dts/dashboard/dashboard.h"

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "dashboard/assets.h"
#include "dts/http/errors.h"

namespace dts::dashboard {
namespace {

using http::PathParams;
using http::Request;
using http::Response;

// Same-origin scripts, styles, images and API calls; nothing inline, no
// plugins, no framing, forms post nowhere (the page submits through fetch).
constexpr absl::string_view kContentSecurityPolicy =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'none'; base-uri 'none'; frame-ancestors 'none'";

const internal::Asset* FindAsset(absl::string_view name) {
  for (const internal::Asset& asset : internal::EmbeddedAssets()) {
    if (asset.name == name) return &asset;
  }
  return nullptr;
}

// True when an If-None-Match value lists `etag` (or is "*"). Weak
// validators (W/"...") match too: the comparison is weak (RFC 9110 13.1.2).
bool NoneMatchHits(absl::string_view header, absl::string_view etag) {
  for (absl::string_view tag : absl::StrSplit(header, ',')) {
    tag = absl::StripAsciiWhitespace(tag);
    absl::ConsumePrefix(&tag, "W/");
    if (tag == "*" || tag == etag) return true;
  }
  return false;
}

Response Serve(const internal::Asset& asset, const Request& request) {
  Response response;
  response.content_type = std::string(asset.content_type);
  response.headers = {
      {"ETag", std::string(asset.etag)},
      // Revalidate on every load (cheap: 304), so a new binary's page is
      // never mixed with an old cached script.
      {"Cache-Control", "no-cache"},
      {"Content-Security-Policy", std::string(kContentSecurityPolicy)},
      {"X-Content-Type-Options", "nosniff"},
      {"Referrer-Policy", "no-referrer"},
      {"X-Frame-Options", "DENY"},
  };
  if (std::optional<std::string> none_match = request.Header("if-none-match");
      none_match && NoneMatchHits(*none_match, asset.etag)) {
    response.status = 304;
    return response;
  }
  response.body = std::string(asset.body);
  return response;
}

Response NotFound(absl::string_view name) {
  return http::JsonError(404, 5, absl::StrCat("no dashboard file \"", name, "\""));
}

}  // namespace

void RegisterDashboard(http::Router& router) {
  router.Add("GET", "/", [](const Request& request, const PathParams&) {
    const internal::Asset* index = FindAsset("index.html");
    return index != nullptr ? Serve(*index, request) : NotFound("index.html");
  });
  router.Add("GET", "/ui/{file}", [](const Request& request, const PathParams& params) {
    const std::string& name = params.at("file");
    // index.html is served at "/" only, so the page has one address.
    const internal::Asset* asset = name == "index.html" ? nullptr : FindAsset(name);
    return asset != nullptr ? Serve(*asset, request) : NotFound(name);
  });
}

}  // namespace dts::dashboard
