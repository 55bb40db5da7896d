#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "dts/common/clock.h"
#include "dts/messaging/producer.h"
#include "dts/model/job.h"
#include "dts/scheduler/placement.h"
#include "dts/scheduler/worker.h"
#include "dts/v1/cluster.pb.h"

namespace dts::cluster {

// What the fleet reads and changes in storage; CassandraStore in production
// (TransitionRun is its conditional update).
class FleetStore {
 public:
  virtual ~FleetStore() = default;
  virtual absl::StatusOr<Run> GetRun(const RunId& id) = 0;
  // Stores `next` only if the stored status is `from`; false otherwise.
  virtual absl::StatusOr<bool> TransitionRun(const Run& next, absl::string_view from) = 0;
  // When the worker last recorded itself alive in storage (NOT_FOUND: never).
  virtual absl::StatusOr<absl::Time> WorkerLastAlive(const WorkerId& worker) = 0;
};

// A scheduler instance's view of the execution services (the workers of the
// distributed mode), and the scheduler::Worker that Placement starts runs on
// for each of them.
//
// - Heartbeats (dts.heartbeats) register workers with the placement, with
//   the capacity this instance may use: the worker's capacity less what the
//   runs of other scheduler instances hold there (the heartbeat lists them),
//   so that several schedulers do not fill one worker twice over. The worker
//   admits a run only when it fits, whatever a scheduler believed.
// - Starting a run publishes a START task to dts.tasks, on one of the
//   partitions the worker consumes. Its end comes back through
//   OnRunEnded() (dts.run-events, which the scheduler owning the job reads).
// - Tick(): a worker silent for worker_timeout (on Kafka, and in storage,
//   where workers also record themselves alive, so that a Kafka outage is
//   not taken for dead workers) is DOWN: each of its runs
//   that it claimed is failed over (RUNNING -> FAILED with a conditional
//   update, so a late result of the same attempt cannot land too; the
//   engine's retry policy then makes attempt + 1 on another worker), and
//   each it never claimed is placed again. Runs a live worker's heartbeats
//   stop listing (the task was lost, or the worker restarted) are looked up
//   in storage and resolved the same way.
//
// Thread-safe. Never calls the placement while holding its own lock.
class WorkerFleet {
 public:
  struct Options {
    std::string scheduler_id;
    // A worker not heard from for this long is DOWN.
    absl::Duration worker_timeout = absl::Seconds(10);
    // How long a run may go unlisted by its worker's heartbeats after its
    // task was sent before it is looked up in storage.
    absl::Duration reconcile_after = absl::Seconds(5);
  };

  // `placement`, `runs` and `producer` must outlive the fleet.
  WorkerFleet(scheduler::Placement* placement, FleetStore* runs, messaging::Producer* producer,
              const Clock* clock, Options options);
  ~WorkerFleet();
  WorkerFleet(const WorkerFleet&) = delete;
  WorkerFleet& operator=(const WorkerFleet&) = delete;

  void OnHeartbeat(const v1::WorkerHeartbeat& heartbeat);
  // A run's final record from dts.run-events. True when this fleet was
  // following the run (its end then went to the placement); false when the
  // caller should tell the engine itself.
  bool OnRunEnded(const Run& run);
  // Timeouts and reconciliation; call about every second.
  void Tick();
  // Registers a worker not heard from yet (capacity zero, DRAINING), for a
  // run restored on it: it is DOWN after worker_timeout unless it
  // heartbeats. Placement::Options::on_unknown_worker.
  void EnsureWorker(const WorkerId& id);

  // Runs this fleet follows (started or resumed, not ended).
  size_t followed_runs() const;

 private:
  class Remote;
  struct Follow {
    WorkerId worker;
    std::shared_ptr<const Job> job;
    Run run;  // as placed
    scheduler::Worker::RunEnded ended;
    absl::Time since;  // when sent or resumed
    int32_t partition = -1;
  };
  struct WorkerEntry {
    std::unique_ptr<Remote> remote;
    std::string incarnation;
    absl::Time last_heard;  // its last heartbeat (Kafka)
    absl::Time vouched;     // its last liveness record seen in storage
    std::vector<int32_t> partitions;
    absl::flat_hash_set<std::string> held;  // run ids of its last heartbeat
    // The last heartbeat left waiting runs out of `held`: a run missing from
    // it may still be there.
    bool held_truncated = false;
    v1::Enforcement enforcement;
    // As the allocator has it; a worker is READY once registered.
    allocator::WorkerState state = allocator::WorkerState::kReady;
  };
  // A run whose fate storage decides.
  struct Check {
    RunId run;
    bool worker_down;
  };

  void Start(const WorkerId& worker, std::shared_ptr<const Job> job, Run run,
             scheduler::Worker::RunEnded ended);
  void Resume(const WorkerId& worker, std::shared_ptr<const Job> job, Run run,
              scheduler::Worker::RunEnded ended);
  void Cancel(const RunId& run);
  void Forget(const RunId& run);
  v1::Enforcement EnforcementOf(const WorkerId& worker) const;
  void SendTask(int32_t partition, const v1::TaskMessage& task);
  // Decides one run of a silent or forgetful worker from its stored record.
  void Resolve(const Check& check);
  // Removes the follow of `run` and reports `record` as its end.
  void EndFollow(const RunId& run, const Run& record);
  WorkerEntry& EntryLocked(const WorkerId& id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  scheduler::Placement* const placement_;
  FleetStore* const runs_;
  messaging::Producer* const producer_;
  const Clock* const clock_;
  const Options options_;

  mutable absl::Mutex mu_;
  absl::flat_hash_map<WorkerId, WorkerEntry> workers_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<RunId, Follow> follows_ ABSL_GUARDED_BY(mu_);
};

}  // namespace dts::cluster
