#pragma once

// /readyz and the gRPC health status: what a serving command depends on
// (storage, messaging, shards), checked on a thread so that a probe never
// waits on a server that is down.

#include <functional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace dts::app {

// One dependency: its name in /readyz ("storage", "kafka", "shards") and a
// check that answers within a few seconds.
struct ReadinessCheck {
  std::string name;
  std::function<absl::Status()> check;
};

struct ReadinessResult {
  bool ready = false;
  std::vector<std::pair<std::string, absl::Status>> checks;  // in the order given
};

// Runs every check once in Start(), then every `interval` on its own thread,
// and keeps the latest result. `on_change(result)` is called from Start()
// and then whenever readiness flips (the gRPC health service's status).
// Thread-safe.
class Readiness {
 public:
  Readiness(std::vector<ReadinessCheck> checks, absl::Duration interval,
            std::function<void(const ReadinessResult&)> on_change);
  ~Readiness();  // Stop()
  Readiness(const Readiness&) = delete;
  Readiness& operator=(const Readiness&) = delete;

  void Start();
  void Stop();
  ReadinessResult Latest() const;
  // {"status":"ready"|"not ready","checks":{"storage":"ok"|"<error>",...}}
  static std::string ToJson(const ReadinessResult& result);

 private:
  ReadinessResult RunChecks() const;
  // Keeps `result`; calls on_change_ when readiness flipped (or always).
  void Publish(ReadinessResult result, bool always_notify);
  void Loop();

  const std::vector<ReadinessCheck> checks_;
  const absl::Duration interval_;
  const std::function<void(const ReadinessResult&)> on_change_;
  mutable absl::Mutex mu_;
  ReadinessResult latest_ ABSL_GUARDED_BY(mu_);
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace dts::app
