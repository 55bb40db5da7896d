#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "dts/messaging/config.h"

namespace dts::messaging {

struct TopicSpec {
  std::string name;
  int partitions = 1;
  int replication_factor = 1;
  // Topic configs set at creation ("cleanup.policy" -> "compact").
  std::map<std::string, std::string> configs;
  // An existing topic must have exactly `partitions` partitions and these
  // configs (else FAILED_PRECONDITION). Otherwise an existing topic is
  // accepted as it is.
  bool strict = false;
};

struct TopicDescription {
  std::string name;
  int partitions = 0;
  // Every config of the topic as the broker reports it (defaults included).
  std::map<std::string, std::string> configs;
};

// The topics of distributed mode. `shards` is the number of scheduler shards
// (DTS_SHARDS, default 64), which is the partition count of dts.jobs.
//   dts.jobs        compacted, keyed by job id, `shards` partitions, strict
//   dts.tasks       `shards` partitions (runs for workers)
//   dts.heartbeats  `shards` partitions, 1 h retention
//   dts.runs        `shards` partitions, strict: manual runs, keyed by job id
//   dts.run-events  `shards` partitions, strict: ended runs, keyed by job id
std::vector<TopicSpec> DtsTopics(int shards, int replication_factor);
inline constexpr char kJobsTopic[] = "dts.jobs";
inline constexpr char kTasksTopic[] = "dts.tasks";
inline constexpr char kHeartbeatsTopic[] = "dts.heartbeats";
inline constexpr char kRunsTopic[] = "dts.runs";
inline constexpr char kRunEventsTopic[] = "dts.run-events";
// DTS_SHARDS from `env` (default 64); INVALID_ARGUMENT unless 1..10000.
absl::StatusOr<int> ShardsFromEnvironment(const std::map<std::string, std::string>& env);

// Creates and describes topics (librdkafka Admin API). Thread-safe.
class KafkaAdmin {
 public:
  static absl::StatusOr<std::unique_ptr<KafkaAdmin>> Create(const KafkaConfig& config);
  ~KafkaAdmin();

  KafkaAdmin(const KafkaAdmin&) = delete;
  KafkaAdmin& operator=(const KafkaAdmin&) = delete;

  // Creates the topics that do not exist and waits until the broker lists
  // them with their partitions. Idempotent: an existing topic is fine, unless
  // it is `strict` and differs (FAILED_PRECONDITION naming the topic, the
  // partition counts or the config). DEADLINE_EXCEEDED after `timeout`.
  absl::Status EnsureTopics(const std::vector<TopicSpec>& topics, absl::Duration timeout);

  // NOT_FOUND for a topic that does not exist.
  absl::StatusOr<TopicDescription> DescribeTopic(const std::string& name, absl::Duration timeout);

  // Deletes topics (tests). Missing topics are fine.
  absl::Status DeleteTopics(const std::vector<std::string>& names, absl::Duration timeout);

  class Impl;

 private:
  explicit KafkaAdmin(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace dts::messaging
