#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "dts/common/clock.h"
#include "dts/metrics/metrics.h"
#include "dts/model/ids.h"

namespace dts::v1 {
class ResourceRequirements;
}

namespace dts::allocator {

// What a run needs or a worker has, in the units of v1::ResourceRequirements:
// cpu in millicores, memory and storage in MiB.
struct Resources {
  int64_t cpu_millis = 0;
  int64_t memory_mib = 0;
  int64_t storage_mib = 0;

  friend bool operator==(const Resources&, const Resources&) = default;
};

Resources ResourcesFromProto(const v1::ResourceRequirements& proto);
// Each dimension added or subtracted (Minus may go negative).
Resources Plus(const Resources& a, const Resources& b);
Resources Minus(const Resources& a, const Resources& b);
// "cpu 1000m memory 64MiB storage 0MiB", the form every message uses.
std::string FormatResources(const Resources& r);

// Worker labels, and run constraints: a constraint k=v is met by a worker
// whose label k is exactly v. Ordered so that messages are stable.
using Labels = std::map<std::string, std::string>;

// READY workers take new runs; DRAINING ones keep their runs but take no new
// ones; a DOWN worker has lost its runs.
enum class WorkerState { kReady, kDraining, kDown };
absl::string_view WorkerStateName(WorkerState s);  // READY, DRAINING, DOWN

// kBestFit packs (the fitting worker left with the least free capacity),
// kSpread balances (the one left with the most); docs/resources.md.
enum class Strategy { kBestFit, kSpread };
std::optional<Strategy> ParseStrategy(absl::string_view text);  // "best-fit", "spread"
absl::string_view StrategyName(Strategy s);

struct AllocatorOptions {
  Strategy strategy = Strategy::kBestFit;
  // Smaller runs may start ahead of a blocked head of the queue (backfill)
  // until the head has waited longer than this; from then on nothing passes
  // it. absl::InfiniteDuration(): always backfill.
  absl::Duration backfill_wait_bound = absl::Seconds(60);
};

struct WorkerSpec {
  WorkerId id;
  Labels labels;
  Resources capacity;
};

struct WorkerSnapshot {
  WorkerId id;
  Labels labels;
  WorkerState state = WorkerState::kReady;
  Resources capacity;
  Resources allocated;
  Resources free;  // capacity - allocated; negative after a capacity cut
  std::vector<RunId> running;  // sorted
  absl::Time last_heartbeat;
};

struct PlacementRequest {
  RunId run_id;
  JobId job_id;
  int priority = 0;  // higher first
  absl::Time scheduled_time;  // then earlier first
  Resources resources;
  Labels constraints;
  // When the run began to wait; unset means now. Pass the original time when
  // re-submitting runs after a restart, so the backfill bound keeps counting.
  std::optional<absl::Time> enqueue_time;
};

// A run placed on a worker, holding `resources` there until Release.
struct Grant {
  RunId run_id;
  JobId job_id;
  WorkerId worker_id;
  Resources resources;

  friend bool operator==(const Grant&, const Grant&) = default;
};

struct QueuedRun {
  RunId run_id;
  JobId job_id;
  int priority = 0;
  absl::Time scheduled_time;
  absl::Time enqueue_time;
  Resources resources;
  Labels constraints;
  std::string reason;  // why it is not running, for operators
};

// Places runs on workers and keeps the queue of runs that fit nowhere yet.
// Pure bookkeeping: no I/O, no threads; all methods are thread-safe.
//
// Contract: after any change that may let a waiting run start (Release,
// Withdraw, worker changes, a Submit that queued), call Schedule() and start
// what it grants. Schedule() costs O(1) when nothing changed.
class Allocator {
 public:
  static absl::StatusOr<std::unique_ptr<Allocator>> Create(AllocatorOptions options,
                                                           const Clock* clock);
  ~Allocator();
  Allocator(const Allocator&) = delete;
  Allocator& operator=(const Allocator&) = delete;

  // Adds a worker (READY, heartbeat now) or updates its labels and capacity,
  // keeping its state and runs. A capacity cut below what is allocated
  // evicts nothing; the worker just takes no new runs until it has room.
  absl::Status UpsertWorker(const WorkerSpec& spec);
  // NOT_FOUND for an unknown worker. Going DOWN returns the allocations the
  // worker held (now released) so the caller can fail or requeue those runs.
  absl::StatusOr<std::vector<Grant>> SetWorkerState(const WorkerId& id, WorkerState state);
  absl::Status RecordHeartbeat(const WorkerId& id);
  // Forgets the worker; returns the allocations it held, as for DOWN.
  absl::StatusOr<std::vector<Grant>> RemoveWorker(const WorkerId& id);

  // OK if some registered, non-DOWN worker matching `constraints` has the
  // total capacity for `request`. INVALID_ARGUMENT otherwise, naming the
  // largest worker; FAILED_PRECONDITION when no worker is registered.
  absl::Status CheckSchedulable(const Resources& request, const Labels& constraints) const;

  // A grant if the run starts now, nullopt if it waits in the queue (also
  // when no worker could ever take it: workers may still join).
  // ALREADY_EXISTS for a run id that is queued or placed.
  absl::StatusOr<std::optional<Grant>> Submit(PlacementRequest request);
  // Places waiting runs in queue order, with backfill, and returns them.
  std::vector<Grant> Schedule();
  // The run ended, however it ended: frees its allocation, or takes it out
  // of the queue. Idempotent; false when the run held nothing.
  bool Release(const RunId& run);
  // Takes a waiting run out of the queue; false if it was not waiting.
  bool Withdraw(const RunId& run);
  // Re-establishes the allocation of a run found running after a restart,
  // even beyond capacity (the run is there). OK if it is already held
  // exactly so; ALREADY_EXISTS otherwise; NOT_FOUND / FAILED_PRECONDITION for
  // an unknown / DOWN worker.
  absl::Status Restore(const Grant& grant);

  // Waiting runs in queue order, each with its reason. O(queue).
  std::vector<QueuedRun> Queue() const;
  size_t QueueLength() const;
  // Every worker, by id.
  std::vector<WorkerSnapshot> Workers() const;

 private:
  class Impl;
  Allocator(std::unique_ptr<Impl> impl, const Clock* clock);
  // dts_queue_depth, dts_queue_oldest_wait_seconds, dts_worker_capacity and
  // dts_worker_allocated, read from Queue() and Workers() when scraped.
  void RegisterMetrics();

  const Clock* const clock_;
  mutable absl::Mutex mu_;
  std::unique_ptr<Impl> impl_ ABSL_GUARDED_BY(mu_) ABSL_PT_GUARDED_BY(mu_);
  std::vector<metrics::CollectorHandle> collectors_;
};

}  // namespace dts::allocator
