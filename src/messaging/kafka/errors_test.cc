#include "messaging/kafka/errors.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace dts::messaging::kafka {
namespace {

using ::testing::HasSubstr;

TEST(KafkaErrorsTest, Codes) {
  EXPECT_EQ(CodeFor(RD_KAFKA_RESP_ERR_NO_ERROR), absl::StatusCode::kOk);
  EXPECT_EQ(CodeFor(RD_KAFKA_RESP_ERR__MSG_TIMED_OUT), absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(CodeFor(RD_KAFKA_RESP_ERR__TIMED_OUT), absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(CodeFor(RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT), absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(CodeFor(RD_KAFKA_RESP_ERR__TRANSPORT), absl::StatusCode::kUnavailable);
  EXPECT_EQ(CodeFor(RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN), absl::StatusCode::kUnavailable);
  EXPECT_EQ(CodeFor(RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION), absl::StatusCode::kUnavailable);
  EXPECT_EQ(CodeFor(RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS), absl::StatusCode::kUnavailable);
  EXPECT_EQ(CodeFor(RD_KAFKA_RESP_ERR__QUEUE_FULL), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(CodeFor(RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART), absl::StatusCode::kNotFound);
  EXPECT_EQ(CodeFor(RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(CodeFor(RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(CodeFor(RD_KAFKA_RESP_ERR_INVALID_PARTITIONS), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(CodeFor(RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(CodeFor(RD_KAFKA_RESP_ERR_SASL_AUTHENTICATION_FAILED),
            absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(CodeFor(RD_KAFKA_RESP_ERR_ILLEGAL_GENERATION), absl::StatusCode::kAborted);
  EXPECT_EQ(CodeFor(RD_KAFKA_RESP_ERR_REBALANCE_IN_PROGRESS), absl::StatusCode::kAborted);
  EXPECT_EQ(CodeFor(RD_KAFKA_RESP_ERR__FATAL), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(CodeFor(RD_KAFKA_RESP_ERR__DESTROY), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(CodeFor(RD_KAFKA_RESP_ERR__PURGE_QUEUE), absl::StatusCode::kCancelled);
  EXPECT_EQ(CodeFor(RD_KAFKA_RESP_ERR_UNSUPPORTED_VERSION), absl::StatusCode::kUnimplemented);
  EXPECT_EQ(CodeFor(RD_KAFKA_RESP_ERR_UNKNOWN), absl::StatusCode::kUnknown);
}

TEST(KafkaErrorsTest, MessageHasContextTextAndName) {
  EXPECT_TRUE(FromKafkaError(RD_KAFKA_RESP_ERR_NO_ERROR, "ctx").ok());
  absl::Status s = FromKafkaError(RD_KAFKA_RESP_ERR__MSG_TIMED_OUT, "kafka publish to t");
  EXPECT_EQ(s.code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_THAT(s.message(), HasSubstr("kafka publish to t: "));
  EXPECT_THAT(s.message(), HasSubstr("_MSG_TIMED_OUT"));
  s = FromKafkaError(RD_KAFKA_RESP_ERR__TRANSPORT, "kafka consumer", "Connection refused");
  EXPECT_EQ(s.message(), "kafka consumer: Connection refused (_TRANSPORT)");
}

TEST(KafkaErrorsTest, ErrorObject) {
  EXPECT_TRUE(FromKafkaError(static_cast<rd_kafka_error_t*>(nullptr), "x").ok());
  absl::Status s = FromKafkaError(
      rd_kafka_error_new(RD_KAFKA_RESP_ERR__STATE, "not assigned"), "kafka seek");
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(s.message(), "kafka seek: not assigned (_STATE)");
}

}  // namespace
}  // namespace dts::messaging::kafka
