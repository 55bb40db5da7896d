// KafkaConsumer: a librdkafka KafkaConsumer in a consumer group, with a poll
// thread that makes every callback and commits only durable offsets.
#include <algorithm>
#include <atomic>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <librdkafka/rdkafka.h>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "dts/messaging/consumer.h"
#include "messaging/kafka/client.h"
#include "messaging/kafka/errors.h"

namespace dts::messaging {

using kafka::FromKafkaError;

namespace {

// Synchronous commits on revocation and Close().
constexpr absl::Duration kFinalCommitTimeout = absl::Seconds(10);

struct ListDeleter {
  void operator()(rd_kafka_topic_partition_list_t* list) const {
    rd_kafka_topic_partition_list_destroy(list);
  }
};
using ListPtr = std::unique_ptr<rd_kafka_topic_partition_list_t, ListDeleter>;

std::vector<TopicPartition> ToVector(const rd_kafka_topic_partition_list_t* list) {
  std::vector<TopicPartition> out;
  if (list == nullptr) return out;
  out.reserve(list->cnt);
  for (int i = 0; i < list->cnt; ++i) out.push_back({list->elems[i].topic, list->elems[i].partition});
  std::sort(out.begin(), out.end());
  return out;
}

ConsumedMessage ToConsumed(const rd_kafka_message_t* m) {
  ConsumedMessage out;
  out.topic = rd_kafka_topic_name(m->rkt);
  out.partition = m->partition;
  out.offset = m->offset;
  if (m->key != nullptr) out.key.emplace(static_cast<const char*>(m->key), m->key_len);
  if (m->payload != nullptr) out.value.emplace(static_cast<const char*>(m->payload), m->len);
  rd_kafka_headers_t* headers = nullptr;
  if (rd_kafka_message_headers(m, &headers) == RD_KAFKA_RESP_ERR_NO_ERROR && headers != nullptr) {
    const char* name = nullptr;
    const void* value = nullptr;
    size_t size = 0;
    for (size_t i = 0; rd_kafka_header_get_all(headers, i, &name, &value, &size) ==
                       RD_KAFKA_RESP_ERR_NO_ERROR;
         ++i) {
      out.headers.push_back(
          {name, value != nullptr ? std::string(static_cast<const char*>(value), size) : ""});
    }
  }
  rd_kafka_timestamp_type_t type;
  const int64_t ms = rd_kafka_message_timestamp(m, &type);
  if (ms >= 0) out.timestamp = absl::FromUnixMillis(ms);
  return out;
}

}  // namespace

class KafkaConsumer::Impl {
 public:
  Impl(ConsumerOptions options, const Clock* clock) : options_(std::move(options)), clock_(clock) {}
  ~Impl() { Close(); }

  absl::Status Start(const KafkaConfig& config) {
    kafka::RegisterMetrics();
    if (options_.group_id.empty()) return absl::InvalidArgumentError("kafka consumer: no group id");
    if (options_.topics.empty()) return absl::InvalidArgumentError("kafka consumer: no topics");
    if (!options_.handler) return absl::InvalidArgumentError("kafka consumer: no handler");
    if (clock_ == nullptr) return absl::InvalidArgumentError("kafka consumer: no clock");
    if (options_.heartbeat_interval >= options_.session_timeout) {
      return absl::InvalidArgumentError(
          "kafka consumer: heartbeat_interval must be below session_timeout");
    }
    const kafka::Properties defaults = {
        {"auto.offset.reset", options_.auto_offset_reset},
        {"partition.assignment.strategy", options_.cooperative ? "cooperative-sticky" : "range"},
        {"session.timeout.ms", kafka::Millis(options_.session_timeout, 1)},
        {"heartbeat.interval.ms", kafka::Millis(options_.heartbeat_interval, 1)},
        {"max.poll.interval.ms",
         kafka::Millis(std::max(options_.max_poll_interval, options_.session_timeout), 1)},
        {"reconnect.backoff.ms", "100"},
        {"reconnect.backoff.max.ms", "1000"},
        {"topic.metadata.refresh.interval.ms", "10000"},
        {"socket.keepalive.enable", "true"},
        {"log.connection.close", "false"},
    };
    const kafka::Properties forced = {
        {"group.id", options_.group_id},
        {"enable.auto.commit", "false"},
        {"enable.auto.offset.store", "false"},
        {"enable.partition.eof", "false"},
    };
    absl::StatusOr<kafka::ConfPtr> conf = kafka::MakeConf(config, defaults, forced);
    if (!conf.ok()) return conf.status();
    rd_kafka_conf_set_opaque(conf->get(), this);
    rd_kafka_conf_set_rebalance_cb(conf->get(), &Impl::OnRebalance);
    rd_kafka_conf_set_offset_commit_cb(conf->get(), &Impl::OnCommit);
    rd_kafka_conf_set_error_cb(conf->get(), &Impl::OnError);
    char err[512];
    rk_ = rd_kafka_new(RD_KAFKA_CONSUMER, conf->get(), err, sizeof err);
    if (rk_ == nullptr) return absl::InvalidArgumentError(absl::StrCat("kafka consumer: ", err));
    conf->release();
    // Errors and commit results are served by rd_kafka_consumer_poll.
    rd_kafka_poll_set_consumer(rk_);
    ListPtr topics(rd_kafka_topic_partition_list_new(static_cast<int>(options_.topics.size())));
    for (const std::string& t : options_.topics) {
      rd_kafka_topic_partition_list_add(topics.get(), t.c_str(), RD_KAFKA_PARTITION_UA);
    }
    if (absl::Status s = FromKafkaError(rd_kafka_subscribe(rk_, topics.get()),
                                        "kafka consumer: subscribe");
        !s.ok()) {
      rd_kafka_destroy(rk_);
      rk_ = nullptr;
      return s;
    }
    next_commit_ = clock_->Now() + options_.commit_interval;
    poll_thread_ = std::thread([this] { PollLoop(); });
    return absl::OkStatus();
  }

  void MarkDurable(const TopicPartition& tp, int64_t offset) {
    absl::MutexLock lock(&mu_);
    if (!assigned_.contains(tp)) return;
    int64_t& next = durable_[tp];
    next = std::max(next, offset + 1);
  }

  absl::Status CommitDurable(absl::Duration timeout) {
    absl::ReaderMutexLock life(&life_mu_);
    if (destroyed_) return absl::FailedPreconditionError("kafka consumer is closed");
    return Commit(/*async=*/false, nullptr, timeout);
  }

  std::vector<TopicPartition> Assignment() const {
    absl::MutexLock lock(&mu_);
    std::vector<TopicPartition> out(assigned_.begin(), assigned_.end());
    std::sort(out.begin(), out.end());
    return out;
  }

  void Close() {
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) {
        // Another Close() is (or was) doing the work; wait until it is done.
        mu_.Await(absl::Condition(&closed_));
        return;
      }
      stopping_ = true;
    }
    if (poll_thread_.joinable()) poll_thread_.join();
    {
      absl::WriterMutexLock life(&life_mu_);
      destroyed_ = true;
      if (rk_ != nullptr) rd_kafka_destroy(rk_);
      rk_ = nullptr;
    }
    absl::MutexLock lock(&mu_);
    closed_ = true;
  }

 private:
  bool Stopping() {
    absl::MutexLock lock(&mu_);
    return stopping_;
  }

  void PollLoop() {
    const int poll_ms = kafka::TimeoutMs(options_.poll_timeout);
    while (!Stopping()) {
      if (clock_->Now() >= next_commit_) {
        Commit(/*async=*/true, nullptr, absl::ZeroDuration()).IgnoreError();
        next_commit_ = clock_->Now() + options_.commit_interval;
      }
      rd_kafka_message_t* m = rd_kafka_consumer_poll(rk_, poll_ms);
      if (m == nullptr) continue;
      if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        const absl::Status status =
            FromKafkaError(m->err, "kafka consume", rd_kafka_message_errstr(m));
        rd_kafka_message_destroy(m);
        ReportError(status);
        continue;
      }
      ConsumedMessage message = ToConsumed(m);
      rd_kafka_message_destroy(m);
      Deliver(message);
    }
    // Leaving: commit what is durable, then leave the group. The revocation
    // (on_revoked, final commit, unassign) runs in here, on this thread.
    Commit(/*async=*/false, nullptr, kFinalCommitTimeout).IgnoreError();
    rd_kafka_consumer_close(rk_);
  }

  void Deliver(const ConsumedMessage& message) {
    const TopicPartition tp = message.topic_partition();
    absl::Status status = options_.handler(message);
    if (status.ok()) {
      if (options_.commit_mode == CommitMode::kOnHandlerSuccess) MarkDurable(tp, message.offset);
      return;
    }
    ReportError(absl::Status(status.code(), absl::StrCat("kafka handler for ", tp.topic, "/",
                                                         tp.partition, "@", message.offset, ": ",
                                                         status.message())));
    // Not done: rewind to this message and hand it over again after a pause.
    ListPtr list(rd_kafka_topic_partition_list_new(1));
    rd_kafka_topic_partition_list_add(list.get(), tp.topic.c_str(), tp.partition)->offset =
        message.offset;
    if (absl::Status s = FromKafkaError(rd_kafka_seek_partitions(rk_, list.get(), 5000),
                                        "kafka consumer: seek");
        !s.ok()) {
      ReportError(s);
    }
    absl::MutexLock lock(&mu_);
    mu_.AwaitWithTimeout(absl::Condition(&stopping_), options_.retry_backoff);
  }

  // Commits durable offsets above the committed ones: of `only`, or of every
  // assigned partition when null. Asynchronous commits report through
  // OnCommit; synchronous ones wait at most `timeout` for the broker.
  absl::Status Commit(bool async, const std::vector<TopicPartition>* only,
                      absl::Duration timeout) {
    ListPtr list(rd_kafka_topic_partition_list_new(4));
    {
      absl::MutexLock lock(&mu_);
      for (const auto& [tp, next] : durable_) {
        if (!assigned_.contains(tp)) continue;
        if (only != nullptr && std::find(only->begin(), only->end(), tp) == only->end()) continue;
        auto it = committed_.find(tp);
        if (it != committed_.end() && it->second >= next) continue;
        rd_kafka_topic_partition_list_add(list.get(), tp.topic.c_str(), tp.partition)->offset =
            next;
      }
    }
    if (list->cnt == 0) return absl::OkStatus();
    absl::Status status = async ? FromKafkaError(rd_kafka_commit(rk_, list.get(), 1), "kafka commit")
                                : CommitSync(list.get(), timeout);
    if (!status.ok()) ReportError(status);
    return status;
  }

  absl::Status CommitSync(rd_kafka_topic_partition_list_t* list, absl::Duration timeout) {
    rd_kafka_queue_t* queue = rd_kafka_queue_new(rk_);
    absl::Status status =
        FromKafkaError(rd_kafka_commit_queue(rk_, list, queue, nullptr, nullptr), "kafka commit");
    if (status.ok()) {
      rd_kafka_event_t* event = rd_kafka_queue_poll(queue, kafka::TimeoutMs(timeout));
      if (event == nullptr) {
        status = absl::DeadlineExceededError(absl::StrCat(
            "kafka commit: no answer within ", absl::FormatDuration(timeout)));
      } else {
        status = FromKafkaError(rd_kafka_event_error(event), "kafka commit");
        const rd_kafka_topic_partition_list_t* offsets = rd_kafka_event_topic_partition_list(event);
        if (offsets != nullptr) {
          RecordCommitted(offsets);
          for (int i = 0; status.ok() && i < offsets->cnt; ++i) {
            status = FromKafkaError(offsets->elems[i].err,
                                    absl::StrCat("kafka commit ", offsets->elems[i].topic, "/",
                                                 offsets->elems[i].partition));
          }
        }
        rd_kafka_event_destroy(event);
      }
    }
    rd_kafka_queue_destroy(queue);
    return status;
  }

  void RecordCommitted(const rd_kafka_topic_partition_list_t* list) {
    absl::MutexLock lock(&mu_);
    for (int i = 0; i < list->cnt; ++i) {
      const rd_kafka_topic_partition_t& p = list->elems[i];
      if (p.err != RD_KAFKA_RESP_ERR_NO_ERROR || p.offset < 0) continue;
      int64_t& committed = committed_[TopicPartition{p.topic, p.partition}];
      committed = std::max(committed, p.offset);
    }
  }

  void ReportError(const absl::Status& status) {
    kafka::CountError("consumer", status);
    if (options_.on_error) options_.on_error(status);
  }

  static void OnRebalance(rd_kafka_t* rk, rd_kafka_resp_err_t err,
                          rd_kafka_topic_partition_list_t* partitions, void* opaque) {
    auto* self = static_cast<Impl*>(opaque);
    const bool cooperative = std::strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0;
    const std::vector<TopicPartition> tps = ToVector(partitions);
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
      absl::Status s = cooperative
                           ? FromKafkaError(rd_kafka_incremental_assign(rk, partitions),
                                            "kafka consumer: assign")
                           : FromKafkaError(rd_kafka_assign(rk, partitions), "kafka consumer: assign");
      if (!s.ok()) self->ReportError(s);
      {
        absl::MutexLock lock(&self->mu_);
        for (const TopicPartition& tp : tps) {
          self->assigned_.insert(tp);
          self->durable_.erase(tp);
          self->committed_.erase(tp);
        }
      }
      if (self->options_.on_assigned && !tps.empty()) self->options_.on_assigned(tps);
      return;
    }
    if (err == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS) {
      const bool lost = rd_kafka_assignment_lost(rk) != 0;
      if (self->options_.on_revoked && !tps.empty()) self->options_.on_revoked(tps, lost);
      if (!lost) self->Commit(/*async=*/false, &tps, kFinalCommitTimeout).IgnoreError();
      {
        absl::MutexLock lock(&self->mu_);
        for (const TopicPartition& tp : tps) {
          self->assigned_.erase(tp);
          self->durable_.erase(tp);
          self->committed_.erase(tp);
        }
      }
      absl::Status s = cooperative ? FromKafkaError(rd_kafka_incremental_unassign(rk, partitions),
                                                    "kafka consumer: unassign")
                                   : FromKafkaError(rd_kafka_assign(rk, nullptr),
                                                    "kafka consumer: unassign");
      if (!s.ok()) self->ReportError(s);
      return;
    }
    self->ReportError(FromKafkaError(err, "kafka consumer: rebalance"));
    if (cooperative) {
      rd_kafka_incremental_unassign(rk, partitions);
    } else {
      rd_kafka_assign(rk, nullptr);
    }
  }

  static void OnCommit(rd_kafka_t*, rd_kafka_resp_err_t err,
                       rd_kafka_topic_partition_list_t* offsets, void* opaque) {
    auto* self = static_cast<Impl*>(opaque);
    if (err == RD_KAFKA_RESP_ERR__NO_OFFSET) return;
    if (offsets != nullptr) self->RecordCommitted(offsets);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) self->ReportError(FromKafkaError(err, "kafka commit"));
  }

  static void OnError(rd_kafka_t* rk, int err, const char* reason, void* opaque) {
    auto* self = static_cast<Impl*>(opaque);
    absl::Status status;
    if (err == RD_KAFKA_RESP_ERR__FATAL) {
      char fatal[512];
      rd_kafka_fatal_error(rk, fatal, sizeof fatal);
      status = absl::FailedPreconditionError(absl::StrCat("kafka consumer failed fatally: ", fatal));
    } else {
      status = FromKafkaError(static_cast<rd_kafka_resp_err_t>(err), "kafka consumer", reason);
    }
    self->ReportError(status);
  }

  const ConsumerOptions options_;
  const Clock* const clock_;
  rd_kafka_t* rk_ = nullptr;  // set in Start(), destroyed in Close()
  std::thread poll_thread_;
  absl::Time next_commit_;  // poll thread only

  // Readers: CommitDurable (uses rk_ from another thread). Writer: destroying rk_.
  absl::Mutex life_mu_;
  bool destroyed_ ABSL_GUARDED_BY(life_mu_) = false;

  mutable absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  absl::flat_hash_set<TopicPartition> assigned_ ABSL_GUARDED_BY(mu_);
  // Per assigned partition: the offset to commit (last durable offset + 1),
  // and the highest offset the broker confirmed as committed.
  absl::flat_hash_map<TopicPartition, int64_t> durable_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<TopicPartition, int64_t> committed_ ABSL_GUARDED_BY(mu_);
};

absl::StatusOr<std::unique_ptr<KafkaConsumer>> KafkaConsumer::Create(const KafkaConfig& config,
                                                                     ConsumerOptions options,
                                                                     const Clock* clock) {
  auto impl = std::make_unique<Impl>(std::move(options), clock);
  if (absl::Status s = impl->Start(config); !s.ok()) return s;
  return std::unique_ptr<KafkaConsumer>(new KafkaConsumer(std::move(impl)));
}

KafkaConsumer::KafkaConsumer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
KafkaConsumer::~KafkaConsumer() = default;

void KafkaConsumer::MarkDurable(const ConsumedMessage& message) {
  impl_->MarkDurable(message.topic_partition(), message.offset);
}
void KafkaConsumer::MarkDurable(const TopicPartition& partition, int64_t offset) {
  impl_->MarkDurable(partition, offset);
}
absl::Status KafkaConsumer::CommitDurable(absl::Duration timeout) {
  return impl_->CommitDurable(timeout);
}
std::vector<TopicPartition> KafkaConsumer::Assignment() const { return impl_->Assignment(); }
void KafkaConsumer::Close() { impl_->Close(); }

}  // namespace dts::messaging
