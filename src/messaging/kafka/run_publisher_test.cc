#include "dts/messaging/run_publisher.h"

#include <string>
#include <utility>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace dts::messaging {
namespace {

using execution::KafkaPublishRequest;

KafkaPublishRequest Request() {
  KafkaPublishRequest r;
  r.kafka.set_topic("events");
  r.kafka.set_key("k1");
  r.kafka.set_payload(R"({"a": 1})");
  r.job_id = JobId("job-1");
  r.run_id = RunId("run-7");
  r.scheduled_time = absl::FromUnixSeconds(1772953200);  // 2026-03-08T07:00:00Z
  r.metadata = {{"team", "ops"}, {"env", "prod"}};
  return r;
}

TEST(RunMessageTest, JsonValue) {
  EXPECT_EQ(EncodeRunMessageValue(Request()),
            R"({"job_id":"job-1","run_id":"run-7","scheduled_time":"2026-03-08T07:00:00Z",)"
            R"("metadata":{"env":"prod","team":"ops"},"payload":"{\"a\": 1}"})");
}

TEST(RunMessageTest, UnknownTimeIsNullAndEmptyMetadataIsAnObject) {
  KafkaPublishRequest r = Request();
  r.scheduled_time = absl::InfinitePast();
  r.metadata.clear();
  r.kafka.set_payload("");
  EXPECT_EQ(EncodeRunMessageValue(r),
            R"({"job_id":"job-1","run_id":"run-7","scheduled_time":null,"metadata":{},"payload":""})");
}

TEST(RunMessageTest, FractionalSeconds) {
  KafkaPublishRequest r = Request();
  r.scheduled_time = absl::FromUnixMillis(1772953200250);
  EXPECT_THAT(EncodeRunMessageValue(r), ::testing::HasSubstr(R"("2026-03-08T07:00:00.25Z")"));
}

TEST(RunMessageTest, Escaping) {
  EXPECT_EQ(JsonQuote("a\"b\\c\n\t\x01"), R"("a\"b\\c\n\t\u0001")");
  EXPECT_EQ(JsonQuote("h\xC3\xA9llo \xE2\x82\xAC \xF0\x9F\x98\x80"),
            "\"h\xC3\xA9llo \xE2\x82\xAC \xF0\x9F\x98\x80\"");
  // Not UTF-8: a lone continuation byte, a truncated sequence, an overlong '/'.
  EXPECT_EQ(JsonQuote("x\x80y"), "\"x\xEF\xBF\xBDy\"");
  EXPECT_EQ(JsonQuote("x\xE2\x82"), "\"x\xEF\xBF\xBD\xEF\xBF\xBD\"");
  EXPECT_EQ(JsonQuote("\xC0\xAF"), "\"\xEF\xBF\xBD\xEF\xBF\xBD\"");
}

TEST(RunMessageTest, TopicKeyHeaders) {
  OutgoingMessage m = RunMessage(Request());
  EXPECT_EQ(m.topic, "events");
  EXPECT_EQ(m.key, "k1");
  EXPECT_EQ(m.value, EncodeRunMessageValue(Request()));
  const Headers want = {{"dts-job-id", "job-1"},
                        {"dts-run-id", "run-7"},
                        {"dts-scheduled-time", "2026-03-08T07:00:00Z"},
                        {"content-type", "application/json"}};
  EXPECT_EQ(m.headers, want);
  EXPECT_EQ(m.partition, std::nullopt);
}

TEST(RunMessageTest, KeyDefaultsToTheJobId) {
  KafkaPublishRequest r = Request();
  r.kafka.clear_key();
  r.scheduled_time = absl::InfinitePast();
  OutgoingMessage m = RunMessage(r);
  EXPECT_EQ(m.key, "job-1");
  EXPECT_EQ(m.headers.size(), 3u);  // no dts-scheduled-time
}

class FakeProducer final : public Producer {
 public:
  absl::StatusOr<Delivery> Send(OutgoingMessage message, absl::Duration timeout) override {
    sent.push_back(std::move(message));
    timeouts.push_back(timeout);
    if (!result.ok()) return result;
    return Delivery{sent.back().topic, 0, 1};
  }
  void SendAsync(OutgoingMessage, DeliveryCallback) override {}
  absl::Status Flush(absl::Duration) override { return absl::OkStatus(); }

  std::vector<OutgoingMessage> sent;
  std::vector<absl::Duration> timeouts;
  absl::Status result;
};

TEST(MakeKafkaPublishTest, SendsTheRunMessageWithTheRunTimeout) {
  FakeProducer producer;
  execution::KafkaPublishFn publish = MakeKafkaPublish(&producer, absl::Seconds(7));
  KafkaPublishRequest r = Request();
  r.timeout = absl::Seconds(2);
  EXPECT_TRUE(publish(r).ok());
  r.timeout = absl::ZeroDuration();
  EXPECT_TRUE(publish(r).ok());
  ASSERT_EQ(producer.sent.size(), 2u);
  EXPECT_EQ(producer.sent[0].value, EncodeRunMessageValue(r));
  EXPECT_EQ(producer.timeouts, (std::vector<absl::Duration>{absl::Seconds(2), absl::Seconds(7)}));
}

TEST(MakeKafkaPublishTest, ErrorsPassThrough) {
  FakeProducer producer;
  producer.result = absl::DeadlineExceededError("kafka publish to events: no acknowledgement");
  execution::KafkaPublishFn publish = MakeKafkaPublish(&producer);
  EXPECT_EQ(publish(Request()).code(), absl::StatusCode::kDeadlineExceeded);
}

}  // namespace
}  // namespace dts::messaging
