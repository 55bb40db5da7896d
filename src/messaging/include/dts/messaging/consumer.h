#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "dts/common/clock.h"
#include "dts/messaging/config.h"
#include "dts/messaging/message.h"

namespace dts::messaging {

// When a message's offset may be committed. Either way an offset is committed
// only after the caller said the message's effects are durable, so a consumer
// that dies (or loses the partition) before that sees the message again: at
// least once.
enum class CommitMode {
  // The handler returning OK means durable: its offset is committed (offset + 1
  // becomes the group's position). A non-OK handler result means "not done":
  // the partition is rewound to that message, which is handed to the handler
  // again after ConsumerOptions::retry_backoff (later messages of the
  // partition wait; other partitions continue after the backoff).
  kOnHandlerSuccess,
  // The handler's OK only means "accepted"; the caller calls
  // KafkaConsumer::MarkDurable(message) when the work is durable (from any
  // thread, in any order). Marking offset N commits everything below N + 1 in
  // that partition, so mark a partition's messages in order. A non-OK handler
  // result rewinds and retries as in kOnHandlerSuccess.
  kExplicit,
};

struct ConsumerOptions {
  std::string group_id;
  std::vector<std::string> topics;

  // Each message, on the poll thread, in offset order within a partition.
  // Only for partitions currently assigned: never after on_revoked returned
  // for that partition. See CommitMode for what the result means.
  std::function<absl::Status(const ConsumedMessage&)> handler;
  // The partitions this member now owns in addition to what it had. On the
  // poll thread, before any message of these partitions reaches the handler.
  std::function<void(const std::vector<TopicPartition>&)> on_assigned;
  // The partitions this member no longer owns. On the poll thread, after the
  // last handler call for them and before their offsets are committed for the
  // last time (kExplicit: MarkDurable during on_revoked still counts). `lost`:
  // the group already gave them away (session timed out), so no commit is made
  // and another member may be processing them already.
  std::function<void(const std::vector<TopicPartition>&, bool lost)> on_revoked;
  // Transient errors (broker down, commit failed, handler errors), on the poll
  // thread. Unset: ignored.
  std::function<void(const absl::Status&)> on_error;

  CommitMode commit_mode = CommitMode::kOnHandlerSuccess;

  // Group failure detection (see README.md, "Failover"): a member that stops
  // heartbeating loses its partitions session_timeout after its last
  // heartbeat; the others learn within heartbeat_interval and rebalance.
  // 6 s is the broker's default group.min.session.timeout.ms.
  absl::Duration session_timeout = absl::Seconds(6);
  absl::Duration heartbeat_interval = absl::Seconds(2);
  // A handler call longer than this makes the member leave the group.
  absl::Duration max_poll_interval = absl::Minutes(5);
  // Incremental cooperative rebalancing (cooperative-sticky): a rebalance
  // revokes only the partitions that move, and the others keep being
  // processed. False: eager (range): every rebalance revokes everything and
  // assigns the new set.
  bool cooperative = true;
  // Where a group without a committed offset starts: "earliest" or "latest".
  std::string auto_offset_reset = "earliest";
  // How often durable offsets are committed (asynchronously) by the poll
  // thread. They are also committed synchronously on revocation and Close().
  absl::Duration commit_interval = absl::Seconds(1);
  // kOnHandlerSuccess: the wait before a message whose handler failed is
  // handed over again.
  absl::Duration retry_backoff = absl::Milliseconds(500);
  // How long the poll thread waits for messages before it looks at commits
  // and Close() again.
  absl::Duration poll_timeout = absl::Milliseconds(100);
};

// A member of a Kafka consumer group (librdkafka KafkaConsumer, classic group
// protocol). Create() subscribes and starts the poll thread, which makes every
// callback of ConsumerOptions. librdkafka's own threads do the I/O and the
// heartbeats and reconnect by themselves after a broker restart (errors go to
// on_error meanwhile). Thread-safe; callbacks must not call Close() or destroy
// the consumer.
class KafkaConsumer {
 public:
  // INVALID_ARGUMENT: no group id, no topics, no handler, bad property.
  static absl::StatusOr<std::unique_ptr<KafkaConsumer>> Create(const KafkaConfig& config,
                                                               ConsumerOptions options,
                                                               const Clock* clock);
  ~KafkaConsumer();  // Close()

  KafkaConsumer(const KafkaConsumer&) = delete;
  KafkaConsumer& operator=(const KafkaConsumer&) = delete;

  // kExplicit: `message`'s effects are durable; its offset + 1 is committed
  // with the next commit. Ignored for a partition that is no longer assigned
  // (the message will be redelivered to its new owner). Any thread.
  void MarkDurable(const ConsumedMessage& message);
  void MarkDurable(const TopicPartition& partition, int64_t offset);

  // Commits every durable offset now and waits for the broker's answer.
  // OK when there is nothing to commit. Any thread but a callback's.
  absl::Status CommitDurable(absl::Duration timeout);

  // The partitions currently assigned to this member.
  std::vector<TopicPartition> Assignment() const;

  // Stops delivering, commits the durable offsets, leaves the group (so it
  // rebalances at once instead of after the session timeout; on_revoked runs
  // for everything this member had) and joins the poll thread. Idempotent.
  void Close();

  class Impl;

 private:
  explicit KafkaConsumer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace dts::messaging
