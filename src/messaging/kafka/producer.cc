// KafkaProducer: librdkafka's idempotent producer, a poll thread for delivery
// reports, and synchronous Send on top of SendAsync.
#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <utility>

#include <librdkafka/rdkafka.h>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "dts/messaging/producer.h"
#include "messaging/kafka/client.h"
#include "dts/metrics/metrics.h"
#include "messaging/kafka/errors.h"

namespace dts::messaging {

using kafka::FromKafkaError;

namespace {

// One message in flight: its callback, owned by librdkafka's msg_opaque from
// a successful produce until the delivery report.
struct Pending {
  std::string topic;
  DeliveryCallback done;
  std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now();
};


std::string Context(const std::string& topic) { return absl::StrCat("kafka publish to ", topic); }

}  // namespace

class KafkaProducer::Impl {
 public:
  explicit Impl(ProducerOptions options) : options_(std::move(options)) {}
  ~Impl() { Close(); }

  absl::Status Start(const KafkaConfig& config) {
    kafka::RegisterMetrics();
    const kafka::Properties defaults = {
        {"partitioner", "murmur2_random"},
        {"linger.ms", kafka::Millis(options_.linger)},
        {"message.timeout.ms", kafka::Millis(options_.delivery_timeout, 1)},
        {"reconnect.backoff.ms", "100"},
        {"reconnect.backoff.max.ms", "1000"},
        {"socket.keepalive.enable", "true"},
        {"log.connection.close", "false"},
    };
    const kafka::Properties forced = {
        {"enable.idempotence", "true"},
        {"acks", "all"},
    };
    absl::StatusOr<kafka::ConfPtr> conf = kafka::MakeConf(config, defaults, forced);
    if (!conf.ok()) return conf.status();
    rd_kafka_conf_set_opaque(conf->get(), this);
    rd_kafka_conf_set_dr_msg_cb(conf->get(), &Impl::OnDelivery);
    rd_kafka_conf_set_error_cb(conf->get(), &Impl::OnError);
    char err[512];
    rk_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf->get(), err, sizeof err);
    if (rk_ == nullptr) return absl::InvalidArgumentError(absl::StrCat("kafka producer: ", err));
    conf->release();  // rd_kafka_new took it
    poll_thread_ = std::thread([this] { PollLoop(); });
    return absl::OkStatus();
  }

  void SendAsync(OutgoingMessage message, DeliveryCallback done) {
    Produce(std::move(message), std::move(done), absl::Now() + options_.delivery_timeout);
  }

  absl::StatusOr<Delivery> Send(OutgoingMessage message, absl::Duration timeout) {
    struct Sync {
      absl::Mutex mu;
      bool done ABSL_GUARDED_BY(mu) = false;
      absl::StatusOr<Delivery> result ABSL_GUARDED_BY(mu);
    };
    auto sync = std::make_shared<Sync>();
    const std::string topic = message.topic;
    const absl::Time deadline = absl::Now() + timeout;
    Produce(std::move(message),
            [sync](absl::StatusOr<Delivery> result) {
              absl::MutexLock lock(&sync->mu);
              sync->result = std::move(result);
              sync->done = true;
            },
            deadline);
    absl::MutexLock lock(&sync->mu);
    if (!sync->mu.AwaitWithDeadline(absl::Condition(&sync->done), deadline)) {
      return absl::DeadlineExceededError(absl::StrCat(
          Context(topic), ": no acknowledgement within ", absl::FormatDuration(timeout)));
    }
    return std::move(sync->result);
  }

  absl::Status Flush(absl::Duration timeout) {
    absl::ReaderMutexLock lock(&mu_);
    if (closed_) return absl::FailedPreconditionError("kafka producer is closed");
    return FromKafkaError(rd_kafka_flush(rk_, kafka::TimeoutMs(timeout)), "kafka flush");
  }

  absl::Status Ping(absl::Duration timeout) {
    absl::ReaderMutexLock lock(&mu_);
    if (closed_) return absl::FailedPreconditionError("kafka producer is closed");
    const rd_kafka_metadata_t* metadata = nullptr;
    // all_topics = 0 with no topic: brokers only, the cheapest request.
    const rd_kafka_resp_err_t err =
        rd_kafka_metadata(rk_, 0, nullptr, &metadata, kafka::TimeoutMs(timeout));
    if (metadata != nullptr) rd_kafka_metadata_destroy(metadata);
    return FromKafkaError(err, "kafka metadata");
  }

  void Close() {
    {
      absl::MutexLock lock(&mu_);
      if (closed_ || rk_ == nullptr) {
        closed_ = true;
        return;
      }
      closed_ = true;
    }
    // No produce can start now. Stop the poll thread; flush serves the
    // delivery reports on this thread from here on.
    stop_.store(true);
    poll_thread_.join();
    if (rd_kafka_flush(rk_, kafka::TimeoutMs(options_.close_timeout)) != RD_KAFKA_RESP_ERR_NO_ERROR) {
      rd_kafka_purge(rk_, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT |
                              RD_KAFKA_PURGE_F_NON_BLOCKING);
      // Purged messages get their (CANCELLED) delivery reports here.
      rd_kafka_flush(rk_, 5000);
    }
    rd_kafka_destroy(rk_);
  }

 private:
  void Produce(OutgoingMessage message, DeliveryCallback done, absl::Time deadline) {
    for (;;) {
      absl::Status status = TryProduce(message, done);
      if (status.ok()) return;
      if (absl::IsResourceExhausted(status) && absl::Now() < deadline) {
        // The local queue is full: wait for deliveries to make room.
        absl::SleepFor(absl::Milliseconds(5));
        continue;
      }
      kafka::CountError("producer", status);
      std::move(done)(std::move(status));
      return;
    }
  }

  // OK: `done` now belongs to librdkafka (moved out). Otherwise `done` is
  // untouched and the status says why.
  absl::Status TryProduce(const OutgoingMessage& message, DeliveryCallback& done) {
    absl::ReaderMutexLock lock(&mu_);
    if (closed_) return absl::FailedPreconditionError("kafka producer is closed");
    rd_kafka_headers_t* headers = nullptr;
    if (!message.headers.empty()) {
      headers = rd_kafka_headers_new(message.headers.size());
      for (const Header& h : message.headers) {
        rd_kafka_header_add(headers, h.key.data(), static_cast<ssize_t>(h.key.size()),
                            h.value.data(), static_cast<ssize_t>(h.value.size()));
      }
    }
    auto pending = std::make_unique<Pending>(Pending{message.topic, std::move(done)});
    void* value = message.value ? const_cast<char*>(message.value->data()) : nullptr;
    const size_t value_len = message.value ? message.value->size() : 0;
    const void* key = message.key ? message.key->data() : nullptr;
    const size_t key_len = message.key ? message.key->size() : 0;
    const rd_kafka_resp_err_t err = rd_kafka_producev(
        rk_, RD_KAFKA_V_TOPIC(message.topic.c_str()),
        RD_KAFKA_V_PARTITION(message.partition.value_or(RD_KAFKA_PARTITION_UA)),
        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
        RD_KAFKA_V_VALUE(value, value_len), RD_KAFKA_V_KEY(key, key_len),
        RD_KAFKA_V_HEADERS(headers), RD_KAFKA_V_OPAQUE(pending.get()), RD_KAFKA_V_END);
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      pending.release();  // the delivery report deletes it
      return absl::OkStatus();
    }
    if (headers != nullptr) rd_kafka_headers_destroy(headers);
    done = std::move(pending->done);
    if (err == RD_KAFKA_RESP_ERR__FATAL) {
      char reason[512];
      rd_kafka_fatal_error(rk_, reason, sizeof reason);
      return absl::FailedPreconditionError(
          absl::StrCat(Context(message.topic), ": producer failed fatally: ", reason));
    }
    return FromKafkaError(err, Context(message.topic));
  }

  void PollLoop() {
    while (!stop_.load()) rd_kafka_poll(rk_, 100);
  }

  static void OnDelivery(rd_kafka_t*, const rd_kafka_message_t* msg, void*) {
    std::unique_ptr<Pending> pending(static_cast<Pending*>(msg->_private));
    if (pending == nullptr) return;
    if (msg->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      absl::Status status = FromKafkaError(msg->err, Context(pending->topic));
      kafka::CountError("producer", status);
      std::move(pending->done)(std::move(status));
      return;
    }
    kafka::ProduceLatency().Observe(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - pending->start).count());
    Delivery delivery;
    delivery.topic = std::move(pending->topic);
    delivery.partition = msg->partition;
    delivery.offset = msg->offset;
    std::move(pending->done)(std::move(delivery));
  }

  static void OnError(rd_kafka_t* rk, int err, const char* reason, void* opaque) {
    auto* self = static_cast<Impl*>(opaque);
    absl::Status status;
    if (err == RD_KAFKA_RESP_ERR__FATAL) {
      char fatal[512];
      rd_kafka_fatal_error(rk, fatal, sizeof fatal);
      status = absl::FailedPreconditionError(absl::StrCat("kafka producer failed fatally: ", fatal));
    } else {
      status = FromKafkaError(static_cast<rd_kafka_resp_err_t>(err), "kafka producer", reason);
    }
    kafka::CountError("producer", status);
    if (self->options_.on_error) self->options_.on_error(status);
  }

  const ProducerOptions options_;
  rd_kafka_t* rk_ = nullptr;
  std::thread poll_thread_;
  std::atomic<bool> stop_{false};
  // Readers: produce and flush calls, which use rk_. Writer: Close().
  absl::Mutex mu_;
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
};

absl::StatusOr<std::unique_ptr<KafkaProducer>> KafkaProducer::Create(const KafkaConfig& config,
                                                                     ProducerOptions options) {
  auto impl = std::make_unique<Impl>(std::move(options));
  if (absl::Status s = impl->Start(config); !s.ok()) return s;
  return std::unique_ptr<KafkaProducer>(new KafkaProducer(std::move(impl)));
}

KafkaProducer::KafkaProducer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
KafkaProducer::~KafkaProducer() = default;

absl::StatusOr<Delivery> KafkaProducer::Send(OutgoingMessage message, absl::Duration timeout) {
  return impl_->Send(std::move(message), timeout);
}
void KafkaProducer::SendAsync(OutgoingMessage message, DeliveryCallback done) {
  impl_->SendAsync(std::move(message), std::move(done));
}
absl::Status KafkaProducer::Flush(absl::Duration timeout) { return impl_->Flush(timeout); }
void KafkaProducer::Close() { impl_->Close(); }

absl::Status KafkaProducer::Ping(absl::Duration timeout) { return impl_->Ping(timeout); }

}  // namespace dts::messaging
