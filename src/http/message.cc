#include "dts/http/message.h"

#include <string_view>

#include "absl/strings/match.h"

namespace dts::http {

std::optional<std::string> Request::Header(absl::string_view name) const {
  // A request has a handful of headers: a linear scan beats building an index.
  for (const auto& [key, value] : headers) {
    if (absl::EqualsIgnoreCase(key, name)) return value;
  }
  return std::nullopt;
}

std::optional<std::string> Request::Query(absl::string_view name) const {
  // lower_bound, not find: find may return any of several equal keys.
  const std::string_view key(name.data(), name.size());
  auto it = query.lower_bound(key);
  if (it == query.end() || it->first != key) return std::nullopt;
  return it->second;
}

}  // namespace dts::http
