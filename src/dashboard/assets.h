#pragma once

#include <vector>

#include "absl/strings/string_view.h"

namespace dts::dashboard::internal {

// One file of src/dashboard/assets/, compiled in by embed_assets.cmake.
struct Asset {
  absl::string_view name;          // "app.js"
  absl::string_view content_type;  // "text/javascript; charset=utf-8"
  absl::string_view etag;          // "\"<sha256 prefix>\"", quotes included
  absl::string_view body;
};

// Every embedded asset, sorted by name. Generated (embedded_assets.cc).
const std::vector<Asset>& EmbeddedAssets();

}  // namespace dts::dashboard::internal
