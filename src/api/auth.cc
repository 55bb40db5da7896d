#include "dts/api/auth.h"

#include "absl/strings/match.h"
#include "absl/strings/strip.h"

namespace dts::api {

absl::Status Authenticator::Check(absl::string_view authorization) const {
  if (!enabled()) return absl::OkStatus();
  absl::string_view presented = authorization;
  if (!absl::ConsumePrefix(&presented, "Bearer ") && !absl::ConsumePrefix(&presented, "bearer ")) {
    return absl::UnauthenticatedError("missing bearer token (Authorization: Bearer <token>)");
  }
  // Compare in time independent of where the first difference is.
  unsigned char diff = presented.size() == token_.size() ? 0 : 1;
  for (size_t i = 0; i < presented.size(); ++i) {
    diff |= static_cast<unsigned char>(presented[i] ^ token_[i % token_.size()]);
  }
  if (diff != 0) return absl::UnauthenticatedError("invalid bearer token");
  return absl::OkStatus();
}

bool IsLoopbackAddress(absl::string_view address) {
  const size_t colon = address.rfind(':');
  absl::string_view host = colon == absl::string_view::npos ? address : address.substr(0, colon);
  if (absl::ConsumePrefix(&host, "[")) absl::ConsumeSuffix(&host, "]");
  return host == "localhost" || absl::StartsWith(host, "127.") || host == "::1";
}

}  // namespace dts::api
