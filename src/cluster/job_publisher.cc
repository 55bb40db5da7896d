#include "dts/cluster/job_publisher.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "dts/messaging/admin.h"
#include "dts/storage/shard.h"

namespace dts::cluster {

JobPublisher::JobPublisher(messaging::Producer* producer, Options options)
    : producer_(producer), options_(std::move(options)) {}

int32_t JobPublisher::PartitionOf(const std::string& job_id) const {
  return static_cast<int32_t>(storage::ShardOf(JobId(job_id), options_.shards));
}

void JobPublisher::Send(messaging::OutgoingMessage message) {
  std::string what = absl::StrCat(message.topic, " ", message.key.value_or(""));
  producer_->SendAsync(std::move(message),
                       [this, what = std::move(what)](absl::StatusOr<messaging::Delivery> d) {
                         if (!d.ok() && options_.on_error) {
                           options_.on_error(absl::Status(
                               d.status().code(),
                               absl::StrCat("publish ", what, ": ", d.status().message())));
                         }
                       });
}

void JobPublisher::JobChanged(const Job& job) {
  messaging::OutgoingMessage message;
  message.topic = messaging::kJobsTopic;
  message.key = job.id();
  message.value = job.SerializeAsString();
  message.partition = PartitionOf(job.id());
  Send(std::move(message));
}

void JobPublisher::JobDeleted(const JobId& id, bool cancel_running) {
  messaging::OutgoingMessage message;
  message.topic = messaging::kJobsTopic;
  message.key = id.value();  // no value: a tombstone, which compaction keeps last
  message.partition = PartitionOf(id.value());
  message.headers.push_back({"dts-cancel-running", cancel_running ? "true" : "false"});
  Send(std::move(message));
}

void JobPublisher::RunCreated(const Job& job, const Run& run) {
  messaging::OutgoingMessage message;
  message.topic = messaging::kRunsTopic;
  message.key = job.id();
  message.value = run.SerializeAsString();
  message.partition = PartitionOf(job.id());
  Send(std::move(message));
}

}  // namespace dts::cluster
