#include "dts/api/rate_limiter.h"

#include <algorithm>
#include <cmath>
#include <optional>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace dts::api {
namespace {

// A status payload rather than a header field: the limiter knows nothing of
// HTTP or gRPC, and each front end turns it into its own form.
constexpr absl::string_view kRetryAfterPayload = "type.dts.dev/retry-after-seconds";

}  // namespace

absl::Status RateLimiter::Take(int key) {
  if (!enabled()) return absl::OkStatus();
  const absl::Time now = clock_->Now();
  const double burst = std::max(1.0, limit_.burst);
  absl::MutexLock lock(&mu_);
  auto [it, inserted] = buckets_.try_emplace(key, Bucket{.tokens = burst, .last = now});
  Bucket& bucket = it->second;
  // A clock that steps back refills nothing rather than draining.
  const double elapsed = std::max(0.0, absl::ToDoubleSeconds(now - bucket.last));
  bucket.tokens = std::min(burst, bucket.tokens + elapsed * limit_.per_second);
  bucket.last = now;
  if (bucket.tokens >= 1) {
    bucket.tokens -= 1;
    return absl::OkStatus();
  }
  const int wait = std::max(1, static_cast<int>(std::ceil((1 - bucket.tokens) / limit_.per_second)));
  absl::Status status = absl::ResourceExhaustedError(absl::StrCat(
      "rate limit exceeded: at most ", limit_.per_second, " requests/s (burst ", burst,
      ") per token; retry in ", wait, " s"));
  status.SetPayload(kRetryAfterPayload, absl::Cord(absl::StrCat(wait)));
  return status;
}

int RetryAfterSeconds(const absl::Status& status) {
  const auto payload = status.GetPayload(kRetryAfterPayload);
  int seconds = 0;
  if (!payload || !absl::SimpleAtoi(std::string(*payload), &seconds)) return 0;
  return seconds;
}

}  // namespace dts::api
