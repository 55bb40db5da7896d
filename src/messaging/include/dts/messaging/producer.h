#pragma once

#include <functional>
#include <memory>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "dts/messaging/config.h"
#include "dts/messaging/message.h"

namespace dts::messaging {

// Receives the outcome of one SendAsync: the Delivery once the broker
// acknowledged the message, or why it was not. Called exactly once.
using DeliveryCallback = absl::AnyInvocable<void(absl::StatusOr<Delivery>) &&>;

// Publishes messages and reports the broker's acknowledgement. Thread-safe.
class Producer {
 public:
  virtual ~Producer() = default;

  // Produces `message` and waits for the broker's acknowledgement (acks=all),
  // at most `timeout`. OK only once acknowledged. DEADLINE_EXCEEDED when no
  // acknowledgement came in time: the message may still be delivered later
  // (the outcome is unknown, so consumers must tolerate duplicates).
  // UNAVAILABLE while no broker can be reached and the delivery timeout
  // passed, RESOURCE_EXHAUSTED when the local queue stayed full until the
  // timeout, INVALID_ARGUMENT for a message the broker refuses (too large,
  // bad topic name), FAILED_PRECONDITION after Close() or after a fatal
  // producer error, others per kafka/errors.h.
  virtual absl::StatusOr<Delivery> Send(OutgoingMessage message, absl::Duration timeout) = 0;

  // The same without waiting: `done` runs on the producer's poll thread (or
  // on the calling thread when the message is refused at once). `done` must
  // not call Close() or destroy the producer. The outcome is known within the
  // producer's delivery timeout (ProducerOptions::delivery_timeout, after
  // which an unacknowledged message fails with DEADLINE_EXCEEDED).
  virtual void SendAsync(OutgoingMessage message, DeliveryCallback done) = 0;

  // Waits until every message sent so far is acknowledged or failed.
  // DEADLINE_EXCEEDED if some are still outstanding after `timeout`.
  virtual absl::Status Flush(absl::Duration timeout) = 0;
};

struct ProducerOptions {
  // How long librdkafka keeps retrying a message before failing it
  // (message.timeout.ms). Longer than any Send timeout you use, so that a
  // message is not failed locally while the caller still waits.
  absl::Duration delivery_timeout = absl::Seconds(120);
  // How long a message may wait in the local queue to be batched (linger.ms).
  // Zero: sent at once (messages that queue up meanwhile still share a
  // batch), which keeps a synchronous Send at about 0.2 ms on loopback; 5 ms
  // (librdkafka's default) made it 5-6 ms. See bench/kafka_bench.cc.
  absl::Duration linger = absl::ZeroDuration();
  // Close(): how long to flush outstanding messages before purging them
  // (their callbacks get CANCELLED).
  absl::Duration close_timeout = absl::Seconds(10);
  // Transient client errors (broker down, connection refused, ...), on the
  // poll thread. Never called for errors a Send already returns. Unset: ignored
  // (librdkafka logs them to stderr).
  std::function<void(const absl::Status&)> on_error;
};

// The librdkafka producer: idempotent (enable.idempotence=true, acks=all,
// in-order, no duplicates from its own retries), murmur2_random partitioner.
// Owns one poll thread that serves delivery reports and errors; librdkafka
// owns its own broker threads and reconnects by itself, so a broker restart
// shows up as UNAVAILABLE / DEADLINE_EXCEEDED for the messages it affects,
// never as a crash. A fatal idempotence error (rare: the broker lost
// acknowledged state) makes every later Send FAILED_PRECONDITION; recreate the
// producer then.
class KafkaProducer final : public Producer {
 public:
  // INVALID_ARGUMENT for a bad property in `config`.
  static absl::StatusOr<std::unique_ptr<KafkaProducer>> Create(const KafkaConfig& config,
                                                               ProducerOptions options = {});
  ~KafkaProducer() override;  // Close()

  KafkaProducer(const KafkaProducer&) = delete;
  KafkaProducer& operator=(const KafkaProducer&) = delete;

  absl::StatusOr<Delivery> Send(OutgoingMessage message, absl::Duration timeout) override;
  void SendAsync(OutgoingMessage message, DeliveryCallback done) override;
  absl::Status Flush(absl::Duration timeout) override;
  // OK when a broker answers a metadata request within `timeout` (for
  // /readyz); UNAVAILABLE or DEADLINE_EXCEEDED otherwise.
  absl::Status Ping(absl::Duration timeout);

  // Flushes for at most options.close_timeout, purges what is left (CANCELLED),
  // stops the poll thread and destroys the client. Later Sends are
  // FAILED_PRECONDITION. Idempotent; not from a DeliveryCallback.
  void Close();

  class Impl;

 private:
  explicit KafkaProducer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace dts::messaging
