#pragma once

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "dts/messaging/producer.h"
#include "dts/scheduler/job_events.h"

namespace dts::cluster {

// The job service's JobEvents: every stored change of a job goes to the
// compacted topic dts.jobs, keyed by job id, on partition = shard (the shard
// a scheduler owns is the dts.jobs partition it is assigned), as the
// serialized dts.v1.JobResponse; a deletion is a tombstone (no value) with a
// `dts-cancel-running` header. A manual run goes to dts.runs the same way, as
// the serialized dts.v1.ExecutionResponse.
//
// Messages are sent asynchronously: the idempotent producer keeps them in
// order per job and retries them until its delivery timeout, so an API call
// does not wait for Kafka. A message that still fails is reported to
// `on_error`; the job is in Cassandra regardless, and a scheduler reloads its
// shards from there whenever it is assigned them. Thread-safe.
class JobPublisher final : public scheduler::JobEvents {
 public:
  struct Options {
    int shards = 64;
    // Called (on the producer's thread) for a message that could not be
    // delivered.
    std::function<void(const absl::Status&)> on_error;
  };

  // `producer` must outlive the publisher.
  JobPublisher(messaging::Producer* producer, Options options);

  void JobChanged(const Job& job) override;
  void JobDeleted(const JobId& id, bool cancel_running) override;
  void RunCreated(const Job& job, const Run& run) override;

  // The partition (= shard) of a job's messages.
  int32_t PartitionOf(const std::string& job_id) const;

 private:
  void Send(messaging::OutgoingMessage message);

  messaging::Producer* const producer_;
  const Options options_;
};

}  // namespace dts::cluster
