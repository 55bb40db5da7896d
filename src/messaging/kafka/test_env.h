#pragma once
// Helpers of the tests against the real broker (label `kafka`).

#include <unistd.h>

#include <cstdlib>
#include <functional>
#include <random>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "dts/messaging/config.h"

namespace dts::messaging::testing {

// KAFKA_BROKERS, else 127.0.0.1:${DTS_KAFKA_PORT:-9092}.
inline KafkaConfig TestConfig() {
  KafkaConfig config;
  const char* brokers = std::getenv("KAFKA_BROKERS");
  const char* port = std::getenv("DTS_KAFKA_PORT");
  if (brokers != nullptr && *brokers != '\0') {
    config.brokers = brokers;
  } else {
    config.brokers = absl::StrCat("127.0.0.1:", (port != nullptr && *port != '\0') ? port : "9092");
  }
  config.client_id = "dts-test";
  return config;
}

// "dts-test-<what>-<pid>-<random>": topics and groups of one test.
inline std::string Unique(const std::string& what) {
  std::random_device rd;
  return absl::StrCat("dts-test-", what, "-", ::getpid(), "-", rd() % 1000000);
}

// Polls `done` every 20 ms until it is true (true) or `timeout` passes (false).
inline bool WaitUntil(const std::function<bool()>& done, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (!done()) {
    if (absl::Now() >= deadline) return false;
    absl::SleepFor(absl::Milliseconds(20));
  }
  return true;
}

}  // namespace dts::messaging::testing
