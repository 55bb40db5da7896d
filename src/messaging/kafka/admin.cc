// KafkaAdmin: topic creation and description over the librdkafka Admin API.
#include <algorithm>
#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <librdkafka/rdkafka.h>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "dts/messaging/admin.h"
#include "messaging/kafka/client.h"
#include "messaging/kafka/errors.h"

namespace dts::messaging {

using kafka::FromKafkaError;

std::vector<TopicSpec> DtsTopics(int shards, int replication_factor) {
  std::vector<TopicSpec> out;
  TopicSpec jobs;
  jobs.name = kJobsTopic;
  jobs.partitions = shards;
  jobs.replication_factor = replication_factor;
  jobs.configs = {{"cleanup.policy", "compact"}};
  jobs.strict = true;
  out.push_back(jobs);
  TopicSpec tasks;
  tasks.name = kTasksTopic;
  tasks.partitions = shards;
  tasks.replication_factor = replication_factor;
  out.push_back(tasks);
  TopicSpec heartbeats;
  heartbeats.name = kHeartbeatsTopic;
  heartbeats.partitions = shards;
  heartbeats.replication_factor = replication_factor;
  heartbeats.configs = {{"retention.ms", "3600000"}};
  out.push_back(heartbeats);
  // Keyed by job id on the job's shard, like dts.jobs, and strict about
  // their partition count: the schedulers' range assignment then gives the
  // owner of shard s partition s of each (co-partitioning).
  for (const char* name : {kRunsTopic, kRunEventsTopic}) {
    TopicSpec spec;
    spec.name = name;
    spec.partitions = shards;
    spec.replication_factor = replication_factor;
    spec.strict = true;
    out.push_back(spec);
  }
  return out;
}

absl::StatusOr<int> ShardsFromEnvironment(const std::map<std::string, std::string>& env) {
  auto it = env.find("DTS_SHARDS");
  if (it == env.end() || it->second.empty()) return 64;
  int shards = 0;
  if (!absl::SimpleAtoi(it->second, &shards) || shards < 1 || shards > 10000) {
    return absl::InvalidArgumentError(
        absl::StrCat("DTS_SHARDS=", it->second, ": must be a number in 1..10000"));
  }
  return shards;
}

namespace {

struct QueueDeleter {
  void operator()(rd_kafka_queue_t* q) const { rd_kafka_queue_destroy(q); }
};
struct EventDeleter {
  void operator()(rd_kafka_event_t* e) const { rd_kafka_event_destroy(e); }
};
struct OptionsDeleter {
  void operator()(rd_kafka_AdminOptions_t* o) const { rd_kafka_AdminOptions_destroy(o); }
};
using QueuePtr = std::unique_ptr<rd_kafka_queue_t, QueueDeleter>;
using EventPtr = std::unique_ptr<rd_kafka_event_t, EventDeleter>;
using OptionsPtr = std::unique_ptr<rd_kafka_AdminOptions_t, OptionsDeleter>;

absl::Duration Remaining(absl::Time deadline) {
  return std::max(deadline - absl::Now(), absl::ZeroDuration());
}

}  // namespace

class KafkaAdmin::Impl {
 public:
  ~Impl() {
    if (rk_ != nullptr) rd_kafka_destroy(rk_);
  }

  absl::Status Start(const KafkaConfig& config) {
    const kafka::Properties defaults = {{"reconnect.backoff.max.ms", "1000"},
                                        {"log.connection.close", "false"}};
    // Metadata requests must never create the topic they ask about.
    const kafka::Properties forced = {{"allow.auto.create.topics", "false"}};
    absl::StatusOr<kafka::ConfPtr> conf = kafka::MakeConf(config, defaults, forced);
    if (!conf.ok()) return conf.status();
    char err[512];
    rk_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf->get(), err, sizeof err);
    if (rk_ == nullptr) return absl::InvalidArgumentError(absl::StrCat("kafka admin: ", err));
    conf->release();
    return absl::OkStatus();
  }

  absl::Status EnsureTopics(const std::vector<TopicSpec>& topics, absl::Duration timeout) {
    const absl::Time deadline = absl::Now() + timeout;
    if (topics.empty()) return absl::OkStatus();
    if (absl::Status s = Create(topics, deadline); !s.ok()) return s;
    for (const TopicSpec& spec : topics) {
      // A new topic takes a moment to show up in the metadata with its leaders.
      absl::StatusOr<int> partitions;
      for (;;) {
        partitions = PartitionCount(spec.name, deadline);
        if (partitions.ok() || !absl::IsNotFound(partitions.status()) ||
            absl::Now() >= deadline) {
          break;
        }
        absl::SleepFor(absl::Milliseconds(100));
      }
      if (!partitions.ok()) return partitions.status();
      if (!spec.strict) continue;
      if (*partitions != spec.partitions) {
        return absl::FailedPreconditionError(absl::StrCat(
            "kafka topic ", spec.name, " has ", *partitions, " partitions but ", spec.partitions,
            " are required (", spec.name == kJobsTopic ? "DTS_SHARDS; " : "",
            "the partition count of an existing topic is not changed automatically)"));
      }
      if (spec.configs.empty()) continue;
      absl::StatusOr<std::map<std::string, std::string>> configs = Configs(spec.name, deadline);
      if (!configs.ok()) return configs.status();
      for (const auto& [name, want] : spec.configs) {
        auto it = configs->find(name);
        const std::string have = it == configs->end() ? "(unset)" : it->second;
        if (have != want) {
          return absl::FailedPreconditionError(absl::StrCat("kafka topic ", spec.name, " has ",
                                                            name, "=", have, " but ", want,
                                                            " is required"));
        }
      }
    }
    return absl::OkStatus();
  }

  absl::StatusOr<TopicDescription> Describe(const std::string& name, absl::Duration timeout) {
    const absl::Time deadline = absl::Now() + timeout;
    TopicDescription out;
    out.name = name;
    absl::StatusOr<int> partitions = PartitionCount(name, deadline);
    if (!partitions.ok()) return partitions.status();
    out.partitions = *partitions;
    absl::StatusOr<std::map<std::string, std::string>> configs = Configs(name, deadline);
    if (!configs.ok()) return configs.status();
    out.configs = std::move(*configs);
    return out;
  }

  absl::Status Delete(const std::vector<std::string>& names, absl::Duration timeout) {
    if (names.empty()) return absl::OkStatus();
    const absl::Time deadline = absl::Now() + timeout;
    std::vector<rd_kafka_DeleteTopic_t*> del;
    for (const std::string& n : names) del.push_back(rd_kafka_DeleteTopic_new(n.c_str()));
    QueuePtr queue(rd_kafka_queue_new(rk_));
    OptionsPtr options = Options(RD_KAFKA_ADMIN_OP_DELETETOPICS, deadline);
    rd_kafka_DeleteTopics(rk_, del.data(), del.size(), options.get(), queue.get());
    rd_kafka_DeleteTopic_destroy_array(del.data(), del.size());
    absl::StatusOr<EventPtr> event = Await(queue.get(), deadline, "kafka delete topics");
    if (!event.ok()) return event.status();
    const rd_kafka_DeleteTopics_result_t* result = rd_kafka_event_DeleteTopics_result(event->get());
    size_t n = 0;
    const rd_kafka_topic_result_t** results = rd_kafka_DeleteTopics_result_topics(result, &n);
    for (size_t i = 0; i < n; ++i) {
      const rd_kafka_resp_err_t err = rd_kafka_topic_result_error(results[i]);
      if (err == RD_KAFKA_RESP_ERR_NO_ERROR || err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART) {
        continue;
      }
      return FromKafkaError(err, absl::StrCat("kafka delete topic ", rd_kafka_topic_result_name(results[i])),
                            rd_kafka_topic_result_error_string(results[i]));
    }
    return absl::OkStatus();
  }

 private:
  OptionsPtr Options(rd_kafka_admin_op_t op, absl::Time deadline) {
    OptionsPtr options(rd_kafka_AdminOptions_new(rk_, op));
    const int ms = std::max(1, kafka::TimeoutMs(Remaining(deadline)));
    char err[256];
    rd_kafka_AdminOptions_set_request_timeout(options.get(), ms, err, sizeof err);
    if (op == RD_KAFKA_ADMIN_OP_CREATETOPICS || op == RD_KAFKA_ADMIN_OP_DELETETOPICS) {
      rd_kafka_AdminOptions_set_operation_timeout(options.get(), ms, err, sizeof err);
    }
    return options;
  }

  absl::StatusOr<EventPtr> Await(rd_kafka_queue_t* queue, absl::Time deadline,
                                 absl::string_view context) {
    EventPtr event(rd_kafka_queue_poll(queue, std::max(1, kafka::TimeoutMs(Remaining(deadline)))));
    if (event == nullptr) {
      return absl::DeadlineExceededError(absl::StrCat(context, ": no answer in time"));
    }
    if (absl::Status s = FromKafkaError(rd_kafka_event_error(event.get()), context,
                                        rd_kafka_event_error_string(event.get()));
        !s.ok()) {
      return s;
    }
    return event;
  }

  absl::Status Create(const std::vector<TopicSpec>& topics, absl::Time deadline) {
    std::vector<rd_kafka_NewTopic_t*> create;
    auto destroy = [&] { rd_kafka_NewTopic_destroy_array(create.data(), create.size()); };
    char err[512];
    for (const TopicSpec& spec : topics) {
      rd_kafka_NewTopic_t* topic = rd_kafka_NewTopic_new(
          spec.name.c_str(), spec.partitions, spec.replication_factor, err, sizeof err);
      if (topic == nullptr) {
        destroy();
        return absl::InvalidArgumentError(absl::StrCat("kafka topic ", spec.name, ": ", err));
      }
      create.push_back(topic);
      for (const auto& [name, value] : spec.configs) {
        if (absl::Status s = FromKafkaError(
                rd_kafka_NewTopic_set_config(topic, name.c_str(), value.c_str()),
                absl::StrCat("kafka topic ", spec.name, " config ", name));
            !s.ok()) {
          destroy();
          return s;
        }
      }
    }
    QueuePtr queue(rd_kafka_queue_new(rk_));
    OptionsPtr options = Options(RD_KAFKA_ADMIN_OP_CREATETOPICS, deadline);
    rd_kafka_CreateTopics(rk_, create.data(), create.size(), options.get(), queue.get());
    destroy();
    absl::StatusOr<EventPtr> event = Await(queue.get(), deadline, "kafka create topics");
    if (!event.ok()) return event.status();
    const rd_kafka_CreateTopics_result_t* result = rd_kafka_event_CreateTopics_result(event->get());
    size_t n = 0;
    const rd_kafka_topic_result_t** results = rd_kafka_CreateTopics_result_topics(result, &n);
    for (size_t i = 0; i < n; ++i) {
      const rd_kafka_resp_err_t e = rd_kafka_topic_result_error(results[i]);
      if (e == RD_KAFKA_RESP_ERR_NO_ERROR || e == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) continue;
      return FromKafkaError(e, absl::StrCat("kafka create topic ", rd_kafka_topic_result_name(results[i])),
                            rd_kafka_topic_result_error_string(results[i]));
    }
    return absl::OkStatus();
  }

  // NOT_FOUND while the broker does not list the topic (or lists it without
  // partitions or with an error, as it does right after creation).
  absl::StatusOr<int> PartitionCount(const std::string& name, absl::Time deadline) {
    const rd_kafka_metadata_t* md = nullptr;
    // All topics: asking for one topic could auto-create it on some brokers.
    if (absl::Status s = FromKafkaError(
            rd_kafka_metadata(rk_, 1, nullptr, &md, std::max(1, kafka::TimeoutMs(Remaining(deadline)))),
            "kafka metadata");
        !s.ok()) {
      return s;
    }
    absl::StatusOr<int> out = absl::NotFoundError(absl::StrCat("kafka topic ", name, " does not exist"));
    for (int i = 0; i < md->topic_cnt; ++i) {
      const rd_kafka_metadata_topic_t& t = md->topics[i];
      if (name != t.topic) continue;
      if (t.err == RD_KAFKA_RESP_ERR_NO_ERROR && t.partition_cnt > 0) out = t.partition_cnt;
      break;
    }
    rd_kafka_metadata_destroy(md);
    return out;
  }

  absl::StatusOr<std::map<std::string, std::string>> Configs(const std::string& name,
                                                             absl::Time deadline) {
    rd_kafka_ConfigResource_t* resource =
        rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, name.c_str());
    QueuePtr queue(rd_kafka_queue_new(rk_));
    OptionsPtr options = Options(RD_KAFKA_ADMIN_OP_DESCRIBECONFIGS, deadline);
    rd_kafka_DescribeConfigs(rk_, &resource, 1, options.get(), queue.get());
    rd_kafka_ConfigResource_destroy(resource);
    const std::string context = absl::StrCat("kafka describe configs of ", name);
    absl::StatusOr<EventPtr> event = Await(queue.get(), deadline, context);
    if (!event.ok()) return event.status();
    const rd_kafka_DescribeConfigs_result_t* result =
        rd_kafka_event_DescribeConfigs_result(event->get());
    size_t n = 0;
    const rd_kafka_ConfigResource_t** resources =
        rd_kafka_DescribeConfigs_result_resources(result, &n);
    std::map<std::string, std::string> out;
    for (size_t i = 0; i < n; ++i) {
      if (absl::Status s = FromKafkaError(rd_kafka_ConfigResource_error(resources[i]), context,
                                          rd_kafka_ConfigResource_error_string(resources[i]));
          !s.ok()) {
        return s;
      }
      size_t count = 0;
      const rd_kafka_ConfigEntry_t** entries = rd_kafka_ConfigResource_configs(resources[i], &count);
      for (size_t j = 0; j < count; ++j) {
        const char* value = rd_kafka_ConfigEntry_value(entries[j]);
        out[rd_kafka_ConfigEntry_name(entries[j])] = value != nullptr ? value : "";
      }
    }
    return out;
  }

  rd_kafka_t* rk_ = nullptr;
};

absl::StatusOr<std::unique_ptr<KafkaAdmin>> KafkaAdmin::Create(const KafkaConfig& config) {
  auto impl = std::make_unique<Impl>();
  if (absl::Status s = impl->Start(config); !s.ok()) return s;
  return std::unique_ptr<KafkaAdmin>(new KafkaAdmin(std::move(impl)));
}

KafkaAdmin::KafkaAdmin(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
KafkaAdmin::~KafkaAdmin() = default;

absl::Status KafkaAdmin::EnsureTopics(const std::vector<TopicSpec>& topics, absl::Duration timeout) {
  return impl_->EnsureTopics(topics, timeout);
}
absl::StatusOr<TopicDescription> KafkaAdmin::DescribeTopic(const std::string& name,
                                                           absl::Duration timeout) {
  return impl_->Describe(name, timeout);
}
absl::Status KafkaAdmin::DeleteTopics(const std::vector<std::string>& names,
                                      absl::Duration timeout) {
  return impl_->Delete(names, timeout);
}

}  // namespace dts::messaging
