#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "dts/allocator/allocator.h"
#include "dts/common/clock.h"
#include "dts/execution/executor.h"
#include "dts/messaging/admin.h"
#include "dts/messaging/config.h"
#include "dts/messaging/consumer.h"
#include "dts/messaging/producer.h"
#include "dts/model/ids.h"
#include "dts/model/job.h"
#include "dts/storage/cassandra_store.h"
#include "dts/v1/cluster.pb.h"

namespace dts::cluster {

// The consumed offsets of one partition that are not done yet. Kafka commits
// a position (everything below it), so a partition may only be committed up
// to its lowest message still in flight, however many later ones are done.
class PartitionOffsets {
 public:
  // `offset` was handed over and is not done yet.
  void Begin(int64_t offset);
  // `offset` is done. Returns the new commit position (the next offset to
  // consume) when it advanced, nullopt otherwise. Unknown offsets: no-op.
  std::optional<int64_t> End(int64_t offset);

 private:
  std::set<int64_t> in_flight_;
  int64_t next_ = -1;       // highest offset seen + 1
  int64_t committed_ = -1;  // the position End last returned
};

// The worker of the distributed mode (`dts execution-service`): takes the
// tasks the schedulers publish to dts.tasks, runs them with an Executor and
// records their outcome in Cassandra; heartbeats its capacity and held runs to
// dts.heartbeats. See src/cluster/README.md and docs/deployment.md.
//
// Guarantees:
// - A run starts only after this worker claimed it: a conditional write from
//   the task's status (PENDING, QUEUED, RETRYING) to RUNNING with this
//   worker's id (CassandraStore::TransitionRun, a lightweight transaction).
//   A redelivered task, or one whose run someone else claimed or ended, fails
//   the claim and is skipped: a run never runs twice.
// - The outcome is written only if the run is still RUNNING (a scheduler that
//   failed the run over meanwhile wins; the result is then logged and
//   dropped), then published to dts.run-events (key = job id, partition =
//   ShardOf(job id, shards), value = the serialized final Run).
// - A task's offset is committed only once its effect is durable (claimed,
//   found claimed or ended, or cancelled), in offset order per partition
//   (PartitionOffsets). A task waiting for local capacity is not done, so if
//   this worker leaves, the task goes to the partition's next owner.
// - Storage errors are retried with backoff; a claimed run is never dropped
//   silently (only Shutdown abandons retries, after its drain, and says so).
//
// Local capacity: a run takes its grant (TaskMessage.run.resources; nothing
// for a job without an executor) from `capacity` while claimed or running.
// Runs that do not fit wait, by job priority (higher first), then scheduled
// time, then arrival; the first waiting run blocks those behind it, so a big
// run is not starved by smaller ones. A run larger than the whole capacity
// starts when nothing else holds capacity, rather than never.
//
// Threads:
// - the consumer's poll thread (KafkaConsumer): the task handler and the
//   rebalance callbacks; they only update the tables below and never block
//   on storage;
// - one dispatcher thread: claims (and starts) runs in wait-list order,
//   completes runs without an executor, and cancels waiting runs, each with
//   its storage retries;
// - one heartbeat thread: a WorkerHeartbeat every heartbeat_interval and at
//   once after a change (coalesced);
// - one liveness thread: the same pace, a row in Cassandra (workers) that
//   schedulers consult before they declare the worker DOWN;
// - the executor's callback threads: record and publish each outcome
//   (storage retries happen there);
// - the producer's poll thread runs the delivery callbacks (they only log).
// Every public method is thread-safe. One mutex guards the tables; no storage
// call, Kafka send or executor call is made while it is held (only the
// consumer's MarkDurable, which is local bookkeeping).
// Waits (heartbeat interval, drain, retry backoff) are real time: they pace
// work, they date nothing; times in records come from the Clock.
class WorkerAgent {
 public:
  struct Options {
    WorkerId worker_id;
    allocator::Labels labels;
    allocator::Resources capacity;
    absl::Duration heartbeat_interval = absl::Seconds(1);
    // Shutdown(): how long running runs may finish before they are cancelled.
    absl::Duration drain_timeout = absl::Seconds(30);
    // Shutdown(): after the cancels, how long outcome writes may keep
    // retrying before they are abandoned (the runs are then failed over).
    absl::Duration finish_timeout = absl::Seconds(20);
    // The worker's HTTP API, for operators (in the heartbeat).
    std::string http_address;
    size_t max_output_bytes = 64 * 1024;
    // A heartbeat lists every run holding capacity but at most this many of
    // the runs waiting for it (and says when it left some out).
    size_t max_listed_waiting = 1000;
    // Storage retries: the first wait, doubled up to the maximum.
    absl::Duration retry_initial_backoff = absl::Milliseconds(100);
    absl::Duration retry_max_backoff = absl::Seconds(5);
    // Random per process when empty.
    std::string incarnation;
    // The topics and group; tests use their own.
    std::string tasks_topic = messaging::kTasksTopic;
    std::string heartbeats_topic = messaging::kHeartbeatsTopic;
    std::string run_events_topic = messaging::kRunEventsTopic;
    std::string group_id = "dts-workers";
    // Problems that do not stop the worker (storage retries, dropped
    // results, skipped tasks, Kafka errors), for the log. Any thread, possibly while the
    // agent holds its lock: it must not call the agent. Unset: ignored.
    std::function<void(const absl::Status&)> on_error;
  };

  // Starts the threads and joins the group on `tasks_topic`. `store`,
  // `executor`, `producer` and `clock` must outlive the agent.
  // INVALID_ARGUMENT for options that cannot work (no worker id, shards < 1).
  static absl::StatusOr<std::unique_ptr<WorkerAgent>> Create(const messaging::KafkaConfig& kafka,
                                                             int shards,
                                                             storage::CassandraStore* store,
                                                             execution::Executor* executor,
                                                             messaging::Producer* producer,
                                                             const Clock* clock, Options options);
  ~WorkerAgent();  // Shutdown()

  WorkerAgent(const WorkerAgent&) = delete;
  WorkerAgent& operator=(const WorkerAgent&) = delete;

  // Drains: heartbeats DRAINING, leaves the group (tasks not yet claimed stay
  // uncommitted and go to another worker), waits up to drain_timeout for the
  // running runs, cancels the rest and records them FAILED "worker shut
  // down" (so their job's retry policy applies), heartbeats DOWN and flushes
  // the producer. Idempotent; blocks until done.
  void Shutdown();

  // The heartbeat as it would be sent now (state, held runs, partitions).
  v1::WorkerHeartbeat Heartbeat() const;

 private:
  enum class Phase {
    kWaiting,     // accepted, waiting for capacity
    kCancelling,  // was waiting; a CANCEL is being recorded
    kClaiming,    // capacity reserved; the claim is being written
    kRunning,     // claimed: executing, or its outcome is being written
  };
  // Where a message came from, to mark it done: the partition's tracker
  // generation tells a message of an earlier assignment of the partition.
  struct Delivery {
    messaging::TopicPartition partition;
    int64_t offset = 0;
    uint64_t generation = 0;
  };
  struct Held {
    v1::TaskMessage task;  // the START
    allocator::Resources grant;
    Phase phase = Phase::kWaiting;
    uint64_t arrival = 0;
    bool cancel_requested = false;  // a CANCEL came after the claim began
    bool shutting_down = false;     // cancelled by Shutdown: recorded FAILED
    Run running;                    // the RUNNING record, once claimed
    std::vector<Delivery> deliveries;  // done once the claim is durable
  };
  // Wait-list order: priority desc, scheduled time, arrival.
  struct WaitKey {
    int priority = 0;
    absl::Time scheduled;
    uint64_t arrival = 0;
    RunId run;
    bool operator<(const WaitKey& o) const;
  };
  struct Tracker {
    uint64_t generation = 0;
    PartitionOffsets offsets;
  };
  WorkerAgent(int shards, storage::CassandraStore* store, execution::Executor* executor,
              messaging::Producer* producer, const Clock* clock, Options options);
  absl::Status Start(const messaging::KafkaConfig& kafka);

  // The consumer's callbacks (poll thread).
  absl::Status OnTask(const messaging::ConsumedMessage& message);
  void OnAssigned(const std::vector<messaging::TopicPartition>& partitions);
  void OnRevoked(const std::vector<messaging::TopicPartition>& partitions, bool lost);
  // Records the message as in flight in its partition's tracker.
  Delivery BeginDelivery(const messaging::ConsumedMessage& message)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void AcceptStart(v1::TaskMessage task, const Delivery& delivery)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Returns the run to Executor::Cancel, if any.
  std::optional<RunId> AcceptCancel(const RunId& id, const Delivery& delivery)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void DropWaiting(const std::function<bool(const Held&)>& which)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // The dispatcher thread and what it does.
  void DispatchLoop();
  bool HasDispatchWork() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool HeadFits() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Claim(const RunId& id);
  void CompleteWithoutExecutor(const RunId& id, const v1::TaskMessage& task);
  void CancelWaiting(const RunId& id);
  void Launch(const RunId& id, const v1::TaskMessage& task);
  // Logs why a claim found the run elsewhere (what storage says now).
  void ReportSkipped(const Run& placed);
  // The executor's callback (and the paths that never reach the executor).
  void Finish(const RunId& id, execution::RunOutcome outcome);

  // TransitionRun, retried on storage errors until it answers or the agent
  // abandons (Shutdown). A false after an attempt whose outcome is unknown
  // (timeout) is checked against the stored record: our own write is true.
  absl::StatusOr<bool> Transition(const Run& next, absl::string_view from);
  void PublishEnded(const Run& run);

  void MarkDone(const Delivery& delivery) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Release(const RunId& id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool Fits(const allocator::Resources& grant) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // Shutdown's steps. BeginShutdown: false when there is nothing (more) to
  // do. DrainRuns: until no run is held (waiting runs dropped, running ones
  // given drain_timeout, then cancelled).
  bool BeginShutdown();
  void DrainRuns();

  void HeartbeatLoop();
  void LivenessLoop();
  v1::WorkerHeartbeat HeartbeatLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void SendHeartbeatNow();
  void Changed() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Report(const absl::Status& status) const;
  // Waits until `done` or `timeout`; true when `done`.
  bool AwaitFor(const std::function<bool()>& done, absl::Duration timeout)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const int shards_;
  storage::CassandraStore* const store_;
  execution::Executor* const executor_;
  messaging::Producer* const producer_;
  const Clock* const clock_;
  const Options options_;
  v1::Enforcement enforcement_;

  mutable absl::Mutex mu_;
  allocator::WorkerState state_ ABSL_GUARDED_BY(mu_) = allocator::WorkerState::kReady;
  // Set once the consumer exists: the callbacks wait for it.
  messaging::KafkaConsumer* consumer_ ABSL_GUARDED_BY(mu_) = nullptr;
  absl::flat_hash_map<RunId, Held> held_ ABSL_GUARDED_BY(mu_);
  std::set<WaitKey> waiting_ ABSL_GUARDED_BY(mu_);
  std::vector<RunId> to_cancel_ ABSL_GUARDED_BY(mu_);  // kCancelling, in order
  allocator::Resources allocated_ ABSL_GUARDED_BY(mu_);
  std::map<messaging::TopicPartition, Tracker> trackers_ ABSL_GUARDED_BY(mu_);
  uint64_t next_generation_ ABSL_GUARDED_BY(mu_) = 1;
  uint64_t next_arrival_ ABSL_GUARDED_BY(mu_) = 0;
  bool changed_ ABSL_GUARDED_BY(mu_) = false;
  bool stop_dispatch_ ABSL_GUARDED_BY(mu_) = false;
  bool stop_heartbeats_ ABSL_GUARDED_BY(mu_) = false;
  // Storage retries give up (Shutdown, after the drain).
  bool abandon_ ABSL_GUARDED_BY(mu_) = false;
  bool shutdown_started_ ABSL_GUARDED_BY(mu_) = false;
  bool shutdown_done_ ABSL_GUARDED_BY(mu_) = false;

  std::unique_ptr<messaging::KafkaConsumer> consumer_owner_;
  std::thread dispatcher_;
  std::thread heartbeater_;
  // Records the worker alive in Cassandra every heartbeat interval (see
  // CassandraStore::RecordWorkerAlive), apart from the Kafka heartbeats so
  // that a slow storage write never delays them.
  std::thread liveness_;
};

}  // namespace dts::cluster
