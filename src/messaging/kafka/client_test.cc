// Client behaviour that needs no broker: validation, and timeouts against a
// port where nothing listens.
#include <string>

#include "absl/synchronization/notification.h"
#include "dts/common/clock.h"
#include "dts/messaging/admin.h"
#include "dts/messaging/consumer.h"
#include "dts/messaging/producer.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace dts::messaging {
namespace {

KafkaConfig Nowhere() {
  KafkaConfig config;
  config.brokers = "127.0.0.1:1";  // nothing listens on port 1
  config.properties["log_level"] = "0";  // no connection-refused noise
  return config;
}

TEST(KafkaClientTest, BadPropertyIsInvalidArgument) {
  KafkaConfig config = Nowhere();
  config.properties["acks"] = "several";
  EXPECT_EQ(KafkaProducer::Create(config).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(KafkaClientTest, ConsumerNeedsGroupTopicsHandlerAndClock) {
  RealClock clock;
  ConsumerOptions options;
  options.topics = {"t"};
  options.handler = [](const ConsumedMessage&) { return absl::OkStatus(); };
  EXPECT_EQ(KafkaConsumer::Create(Nowhere(), options, &clock).status().code(),
            absl::StatusCode::kInvalidArgument);  // no group
  options.group_id = "g";
  EXPECT_EQ(KafkaConsumer::Create(Nowhere(), options, nullptr).status().code(),
            absl::StatusCode::kInvalidArgument);  // no clock
  options.heartbeat_interval = options.session_timeout;
  EXPECT_EQ(KafkaConsumer::Create(Nowhere(), options, &clock).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(KafkaClientTest, SendWithoutBrokerTimesOut) {
  ProducerOptions options;
  options.close_timeout = absl::Milliseconds(100);
  absl::StatusOr<std::unique_ptr<KafkaProducer>> producer =
      KafkaProducer::Create(Nowhere(), options);
  ASSERT_TRUE(producer.ok()) << producer.status();
  OutgoingMessage m;
  m.topic = "t";
  m.value = "v";
  absl::StatusOr<Delivery> d = (*producer)->Send(m, absl::Milliseconds(300));
  EXPECT_EQ(d.status().code(), absl::StatusCode::kDeadlineExceeded) << d.status();
  EXPECT_THAT(d.status().message(), ::testing::HasSubstr("kafka publish to t"));
}

TEST(KafkaClientTest, CloseCancelsWhatIsOutstanding) {
  ProducerOptions options;
  options.close_timeout = absl::Milliseconds(200);
  absl::StatusOr<std::unique_ptr<KafkaProducer>> producer =
      KafkaProducer::Create(Nowhere(), options);
  ASSERT_TRUE(producer.ok()) << producer.status();
  OutgoingMessage m;
  m.topic = "t";
  m.value = "v";
  absl::Notification done;
  absl::Status outcome;
  (*producer)->SendAsync(m, [&](absl::StatusOr<Delivery> d) {
    outcome = d.status();
    done.Notify();
  });
  (*producer)->Close();
  ASSERT_TRUE(done.HasBeenNotified());
  EXPECT_EQ(outcome.code(), absl::StatusCode::kCancelled) << outcome;
  EXPECT_EQ((*producer)->Send(m, absl::Seconds(1)).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ((*producer)->Flush(absl::Seconds(1)).code(), absl::StatusCode::kFailedPrecondition);
}

TEST(KafkaClientTest, ShortDeliveryTimeoutFailsAsyncSends) {
  ProducerOptions options;
  options.delivery_timeout = absl::Milliseconds(300);
  absl::StatusOr<std::unique_ptr<KafkaProducer>> producer =
      KafkaProducer::Create(Nowhere(), options);
  ASSERT_TRUE(producer.ok()) << producer.status();
  OutgoingMessage m;
  m.topic = "t";
  absl::Notification done;
  absl::Status outcome;
  (*producer)->SendAsync(m, [&](absl::StatusOr<Delivery> d) {
    outcome = d.status();
    done.Notify();
  });
  ASSERT_TRUE(done.WaitForNotificationWithTimeout(absl::Seconds(30)));
  EXPECT_EQ(outcome.code(), absl::StatusCode::kDeadlineExceeded) << outcome;
}

TEST(KafkaClientTest, AdminWithoutBrokerTimesOut) {
  absl::StatusOr<std::unique_ptr<KafkaAdmin>> admin = KafkaAdmin::Create(Nowhere());
  ASSERT_TRUE(admin.ok()) << admin.status();
  absl::Status s = (*admin)->EnsureTopics({TopicSpec{"t", 1, 1, {}, false}}, absl::Milliseconds(500));
  EXPECT_FALSE(s.ok());
  EXPECT_TRUE(absl::IsDeadlineExceeded(s) || absl::IsUnavailable(s)) << s;
}

}  // namespace
}  // namespace dts::messaging
