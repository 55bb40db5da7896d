#pragma once

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace dts::api {

// Bearer-token authentication for the API. With an empty token it is off,
// which the server allows only while it listens on loopback.
class Authenticator {
 public:
  explicit Authenticator(std::string token) : token_(std::move(token)) {}

  bool enabled() const { return !token_.empty(); }
  // Checks an `Authorization` header value ("Bearer <token>"). The header may
  // be absent (empty). UNAUTHENTICATED when it does not match.
  absl::Status Check(absl::string_view authorization) const;

 private:
  std::string token_;
};

// True when `address` ("host:port") binds only the loopback interface.
bool IsLoopbackAddress(absl::string_view address);

}  // namespace dts::api
