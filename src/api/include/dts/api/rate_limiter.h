#pragma once

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "dts/common/clock.h"

namespace dts::api {

struct RateLimit {
  double per_second = 100;  // sustained requests per second; 0: no limit
  double burst = 200;       // requests allowed at once after a quiet spell
};

// A token bucket per key (the index of an API token). Keys are the
// configured tokens, so the map cannot grow without bound. Thread-safe.
class RateLimiter {
 public:
  RateLimiter(const Clock* clock, RateLimit limit) : clock_(clock), limit_(limit) {}

  bool enabled() const { return limit_.per_second > 0; }
  // OK when `key` may make one more request now (and counts it); else
  // RESOURCE_EXHAUSTED carrying the seconds to wait (RetryAfterSeconds).
  absl::Status Take(int key);

 private:
  struct Bucket {
    double tokens;
    absl::Time last;
  };

  const Clock* clock_;
  const RateLimit limit_;
  absl::Mutex mu_;
  absl::flat_hash_map<int, Bucket> buckets_ ABSL_GUARDED_BY(mu_);
};

// The whole seconds a client should wait before retrying (HTTP Retry-After),
// carried by a status from RateLimiter::Take; 0 when it carries none.
int RetryAfterSeconds(const absl::Status& status);

}  // namespace dts::api
