#pragma once

#include <functional>
#include <set>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "dts/cluster/worker_fleet.h"
#include "dts/metrics/metrics.h"
#include "dts/messaging/message.h"
#include "dts/model/job.h"
#include "dts/scheduler/engine.h"

namespace dts::cluster {

// What a shard owner reads and writes of storage; CassandraStore in
// production.
class ShardStore {
 public:
  virtual ~ShardStore() = default;
  virtual absl::StatusOr<std::vector<Job>> ListJobsOfShard(int shard) = 0;
  virtual absl::StatusOr<Job> GetJob(const JobId& id) = 0;
  virtual absl::StatusOr<Run> GetRun(const RunId& id) = 0;
  virtual absl::Status SaveShardCheckpoint(int shard, absl::Time fired_through,
                                           const std::string& owner) = 0;
};

// A scheduler instance's share of the jobs. The instances form one Kafka
// consumer group on dts.jobs, dts.runs and dts.run-events with the range
// assignor, which gives partition s of all three (the topics have one
// partition per shard) to the same member: the shards it owns.
//
// - OnAssigned: loads the shards' jobs from storage into the engine, which
//   resumes each from its persisted next_run (missed times follow the
//   misfire policy) and recovers the shards' active runs.
// - OnRevoked: drops them from the engine (waiting for a fire in progress),
//   so that from then on only the next owner fires them.
// - OnMessage: dts.jobs says a job changed (it is read again from storage,
//   which is the truth; a replayed old message is thus harmless); dts.runs
//   carries a manual run to dispatch; dts.run-events a run's end.
//
// Nothing here is consensus: Kafka's group protocol decides who owns what,
// and a zombie owner's duplicate fires collide on the run id in storage.
// Thread-safe; the callbacks come from the consumer's poll thread.
class ShardOwner {
 public:
  struct Options {
    int shards = 64;
    std::string owner_id;  // the scheduler instance, in checkpoints
    // The wait between attempts to load an assigned shard while storage
    // fails.
    absl::Duration retry = absl::Seconds(1);
  };

  ShardOwner(ShardStore* store, scheduler::Engine* engine, WorkerFleet* fleet, Options options);

  void OnAssigned(const std::vector<messaging::TopicPartition>& partitions);
  void OnRevoked(const std::vector<messaging::TopicPartition>& partitions, bool lost);
  absl::Status OnMessage(const messaging::ConsumedMessage& message);
  // Stops OnAssigned's retries (shutdown).
  void Stop();

  // Records, for each owned shard, that every fire due up to the engine's
  // fired_through() is stored.
  absl::Status SaveCheckpoints();
  std::set<int> owned() const;
  // The group has given this instance its share (possibly none, with more
  // instances than shards) and the shards are loaded; false again once a
  // revocation leaves it with none. For /readyz.
  bool assigned() const;

 private:
  // Shards of the dts.jobs partitions among `partitions`.
  static std::set<int> ShardsIn(const std::vector<messaging::TopicPartition>& partitions);
  absl::Status Load(const std::set<int>& shards);
  absl::Status OnJobMessage(const messaging::ConsumedMessage& message);
  absl::Status OnManualRun(const messaging::ConsumedMessage& message);
  absl::Status OnRunEnded(const messaging::ConsumedMessage& message);

  ShardStore* const store_;
  scheduler::Engine* const engine_;
  WorkerFleet* const fleet_;
  const Options options_;

  mutable absl::Mutex mu_;
  std::set<int> owned_ ABSL_GUARDED_BY(mu_);
  bool assigned_ ABSL_GUARDED_BY(mu_) = false;
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
  // dts_shards_owned; last, so it goes first.
  metrics::CollectorHandle shards_owned_;
};

}  // namespace dts::cluster
