// Smoke test against a real Kafka broker (scripts/services.sh up kafka).
// Produces one message with librdkafka to a fresh topic and consumes it back
// through a consumer group. The broker comes from KAFKA_BROKERS
// (default 127.0.0.1:9092). There are no timing assertions: the deadlines only
// turn a hang into a failure.

#include <librdkafka/rdkafkacpp.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <unistd.h>

namespace {

using Clock = std::chrono::steady_clock;
constexpr auto kDeadline = std::chrono::seconds(120);

std::string Brokers() {
  const char* env = std::getenv("KAFKA_BROKERS");
  return (env != nullptr && *env != '\0') ? env : "127.0.0.1:9092";
}

std::string UniqueSuffix() {
  std::random_device rd;
  std::ostringstream out;
  out << ::getpid() << '-'
      << std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
             .count()
      << '-' << std::hex << rd();
  return out.str();
}

std::unique_ptr<RdKafka::Conf> MakeConf(
    std::initializer_list<std::pair<const char*, std::string>> settings) {
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  std::string err;
  for (const auto& [key, value] : settings) {
    if (conf->set(key, value, err) != RdKafka::Conf::CONF_OK) {
      ADD_FAILURE() << "config " << key << "=" << value << ": " << err;
    }
  }
  return conf;
}

class DeliveryReport : public RdKafka::DeliveryReportCb {
 public:
  void dr_cb(RdKafka::Message& message) override {
    done = true;
    error = message.err();
    error_text = message.errstr();
  }
  bool done = false;
  RdKafka::ErrorCode error = RdKafka::ERR_NO_ERROR;
  std::string error_text;
};

TEST(KafkaSmokeTest, ProduceAndConsumeOneMessage) {
  const std::string suffix = UniqueSuffix();
  const std::string topic = "dts-smoke-" + suffix;
  const std::string key = "key-" + suffix;
  const std::string payload = "hello from dts " + suffix;
  std::string err;

  // Produce (the broker auto-creates the topic on first metadata request).
  DeliveryReport report;
  auto pconf = MakeConf({{"bootstrap.servers", Brokers()},
                         {"message.timeout.ms", "30000"},
                         {"enable.idempotence", "true"}});
  ASSERT_EQ(pconf->set("dr_cb", &report, err), RdKafka::Conf::CONF_OK) << err;
  std::unique_ptr<RdKafka::Producer> producer(RdKafka::Producer::create(pconf.get(), err));
  ASSERT_NE(producer, nullptr) << err;

  RdKafka::ErrorCode rc = producer->produce(
      topic, RdKafka::Topic::PARTITION_UA, RdKafka::Producer::RK_MSG_COPY,
      const_cast<char*>(payload.data()), payload.size(), key.data(), key.size(),
      /*timestamp=*/0, /*opaque=*/nullptr);
  ASSERT_EQ(rc, RdKafka::ERR_NO_ERROR) << RdKafka::err2str(rc);
  const auto produce_deadline = Clock::now() + kDeadline;
  while (!report.done && Clock::now() < produce_deadline) {
    producer->poll(200);
  }
  ASSERT_TRUE(report.done) << "no delivery report from " << Brokers();
  ASSERT_EQ(report.error, RdKafka::ERR_NO_ERROR) << report.error_text;
  EXPECT_EQ(producer->flush(10000), RdKafka::ERR_NO_ERROR);

  // Consume through a consumer group, from the earliest offset.
  auto cconf = MakeConf({{"bootstrap.servers", Brokers()},
                         {"group.id", "dts-smoke-group-" + suffix},
                         {"auto.offset.reset", "earliest"},
                         {"enable.auto.commit", "false"}});
  std::unique_ptr<RdKafka::KafkaConsumer> consumer(
      RdKafka::KafkaConsumer::create(cconf.get(), err));
  ASSERT_NE(consumer, nullptr) << err;
  rc = consumer->subscribe({topic});
  ASSERT_EQ(rc, RdKafka::ERR_NO_ERROR) << RdKafka::err2str(rc);

  bool received = false;
  std::string got_key;
  std::string got_payload;
  const auto consume_deadline = Clock::now() + kDeadline;
  while (!received && Clock::now() < consume_deadline) {
    std::unique_ptr<RdKafka::Message> msg(consumer->consume(500));
    switch (msg->err()) {
      case RdKafka::ERR_NO_ERROR:
        received = true;
        got_key = msg->key() != nullptr ? *msg->key() : "";
        got_payload.assign(static_cast<const char*>(msg->payload()), msg->len());
        break;
      case RdKafka::ERR__TIMED_OUT:
      case RdKafka::ERR__PARTITION_EOF:
        break;
      default:
        // Transient while the new topic's leader is being elected.
        if (msg->err() != RdKafka::ERR_UNKNOWN_TOPIC_OR_PART) {
          ADD_FAILURE() << "consume error: " << msg->errstr();
        }
        break;
    }
  }
  ASSERT_TRUE(received) << "message not consumed from topic " << topic << " at " << Brokers();
  EXPECT_EQ(got_key, key);
  EXPECT_EQ(got_payload, payload);

  ASSERT_EQ(consumer->commitSync(), RdKafka::ERR_NO_ERROR);
  consumer->close();
}

}  // namespace
