#include <map>
#include <string>

#include "absl/strings/match.h"
#include "dts/messaging/admin.h"
#include "dts/messaging/config.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace dts::messaging {
namespace {

using ::testing::HasSubstr;

TEST(KafkaConfigTest, DefaultsWithoutEnvironment) {
  absl::StatusOr<KafkaConfig> config = KafkaConfig::FromEnvironment({});
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->brokers, "127.0.0.1:9092");
  EXPECT_EQ(config->client_id, "dts");
  EXPECT_TRUE(config->properties.empty());
}

TEST(KafkaConfigTest, BrokersClientIdAndPassThrough) {
  absl::StatusOr<KafkaConfig> config = KafkaConfig::FromEnvironment({
      {"KAFKA_BROKERS", "k1:9092,k2:9092"},
      {"KAFKA_CLIENT_ID", "scheduler-3"},
      {"KAFKA_SECURITY_PROTOCOL", "SASL_SSL"},
      {"KAFKA_SASL_MECHANISM", "SCRAM-SHA-512"},
      {"KAFKA_SASL_USERNAME", "dts"},
      {"KAFKA_SASL_PASSWORD", "hunter2"},
      {"KAFKA_SSL_CA_LOCATION", "/etc/ssl/ca.pem"},
      {"KAFKA_HEAP_OPTS", "-Xmx1g"},  // Kafka's own scripts: ignored
      {"KAFKA_HOME", "/opt/kafka"},
      {"PATH", "/usr/bin"},
  });
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->brokers, "k1:9092,k2:9092");
  EXPECT_EQ(config->client_id, "scheduler-3");
  const std::map<std::string, std::string> want = {
      {"security.protocol", "SASL_SSL"},   {"sasl.mechanism", "SCRAM-SHA-512"},
      {"sasl.username", "dts"},            {"sasl.password", "hunter2"},
      {"ssl.ca.location", "/etc/ssl/ca.pem"}};
  EXPECT_EQ(config->properties, want);
  const std::string debug = config->DebugString();
  EXPECT_THAT(debug, HasSubstr("sasl.password=<redacted>"));
  EXPECT_THAT(debug, HasSubstr("sasl.username=dts"));
  EXPECT_FALSE(absl::StrContains(debug, "hunter2"));
}

TEST(KafkaConfigTest, EmptyBrokersKeepTheDefault) {
  absl::StatusOr<KafkaConfig> config = KafkaConfig::FromEnvironment({{"KAFKA_BROKERS", ""}});
  ASSERT_TRUE(config.ok());
  EXPECT_EQ(config->brokers, "127.0.0.1:9092");
}

TEST(KafkaConfigTest, UnknownPropertyNamesTheVariable) {
  absl::StatusOr<KafkaConfig> config =
      KafkaConfig::FromEnvironment({{"KAFKA_SECURITY_PROTOKOL", "SSL"}});
  ASSERT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(config.status().message(), HasSubstr("KAFKA_SECURITY_PROTOKOL"));
}

TEST(KafkaConfigTest, BadValueIsRefused) {
  absl::StatusOr<KafkaConfig> config =
      KafkaConfig::FromEnvironment({{"KAFKA_SECURITY_PROTOCOL", "carrier-pigeon"}});
  ASSERT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(config.status().message(), HasSubstr("security.protocol"));
}

TEST(KafkaConfigTest, VariableToPropertyMapping) {
  EXPECT_EQ(PropertyForEnvironmentVariable("KAFKA_SASL_USERNAME"), "sasl.username");
  EXPECT_EQ(PropertyForEnvironmentVariable("KAFKA_SOCKET_TIMEOUT_MS"), "socket.timeout.ms");
  EXPECT_EQ(PropertyForEnvironmentVariable("KAFKA_BROKERS"), "");
  EXPECT_EQ(PropertyForEnvironmentVariable("KAFKA_CLIENT_ID"), "");
  EXPECT_EQ(PropertyForEnvironmentVariable("KAFKA_OPTS"), "");
  EXPECT_EQ(PropertyForEnvironmentVariable("KAFKA_JVM_PERFORMANCE_OPTS"), "");
  EXPECT_EQ(PropertyForEnvironmentVariable("KAFKA_"), "");
  EXPECT_EQ(PropertyForEnvironmentVariable("DTS_SHARDS"), "");
}

TEST(KafkaConfigTest, ValidateProperty) {
  EXPECT_TRUE(ValidateProperty("linger.ms", "5").ok());
  EXPECT_EQ(ValidateProperty("linger.ms", "soon").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ValidateProperty("no.such.thing", "1").code(), absl::StatusCode::kInvalidArgument);
}

TEST(DtsTopicsTest, JobsIsCompactedAndStrict) {
  std::vector<TopicSpec> topics = DtsTopics(64, 3);
  ASSERT_EQ(topics.size(), 5u);
  EXPECT_EQ(topics[0].name, "dts.jobs");
  EXPECT_EQ(topics[0].partitions, 64);
  EXPECT_EQ(topics[0].replication_factor, 3);
  EXPECT_EQ(topics[0].configs.at("cleanup.policy"), "compact");
  EXPECT_TRUE(topics[0].strict);
  EXPECT_EQ(topics[1].name, "dts.tasks");
  EXPECT_FALSE(topics[1].strict);
  EXPECT_EQ(topics[2].name, "dts.heartbeats");
  // Co-partitioned with dts.jobs: same count, checked.
  for (size_t i : {3u, 4u}) {
    EXPECT_EQ(topics[i].partitions, 64);
    EXPECT_TRUE(topics[i].strict);
  }
  EXPECT_EQ(topics[3].name, "dts.runs");
  EXPECT_EQ(topics[4].name, "dts.run-events");
}

TEST(DtsTopicsTest, Shards) {
  EXPECT_EQ(*ShardsFromEnvironment({}), 64);
  EXPECT_EQ(*ShardsFromEnvironment({{"DTS_SHARDS", "12"}}), 12);
  EXPECT_EQ(ShardsFromEnvironment({{"DTS_SHARDS", "0"}}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ShardsFromEnvironment({{"DTS_SHARDS", "many"}}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace dts::messaging
