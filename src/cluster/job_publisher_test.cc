// JobPublisher over a fake producer: topics, keys, partitions, values,
// tombstones and error reporting.

#include "dts/cluster/job_publisher.h"

#include <vector>

#include "absl/synchronization/mutex.h"
#include "cluster/fake_producer.h"
#include "dts/messaging/admin.h"
#include "dts/storage/shard.h"
#include "gtest/gtest.h"

namespace dts::cluster {
namespace {

constexpr char kJobId[] = "6314b56d-db9e-4989-ba7b-202110a5a458";

TEST(JobPublisherTest, JobChangeIsTheJobKeyedAndPartitionedByShard) {
  FakeProducer producer;
  JobPublisher publisher(&producer, {.shards = 16, .on_error = nullptr});
  Job job;
  job.set_id(kJobId);
  job.set_name("nightly");
  publisher.JobChanged(job);
  ASSERT_EQ(producer.sent.size(), 1u);
  const messaging::OutgoingMessage& m = producer.sent[0];
  EXPECT_EQ(m.topic, messaging::kJobsTopic);
  EXPECT_EQ(m.key, kJobId);
  EXPECT_EQ(m.partition, storage::ShardOf(JobId(kJobId), 16));
  Job back;
  ASSERT_TRUE(m.value.has_value() && back.ParseFromString(*m.value));
  EXPECT_EQ(back.name(), "nightly");
}

TEST(JobPublisherTest, DeletionIsATombstoneOnTheSamePartition) {
  FakeProducer producer;
  JobPublisher publisher(&producer, {.shards = 16, .on_error = nullptr});
  publisher.JobDeleted(JobId(kJobId), /*cancel_running=*/true);
  ASSERT_EQ(producer.sent.size(), 1u);
  const messaging::OutgoingMessage& m = producer.sent[0];
  EXPECT_EQ(m.topic, messaging::kJobsTopic);
  EXPECT_FALSE(m.value.has_value());
  EXPECT_EQ(m.partition, publisher.PartitionOf(kJobId));
  ASSERT_EQ(m.headers.size(), 1u);
  EXPECT_EQ(m.headers[0].key, "dts-cancel-running");
  EXPECT_EQ(m.headers[0].value, "true");
}

TEST(JobPublisherTest, ManualRunGoesToTheRunsTopic) {
  FakeProducer producer;
  JobPublisher publisher(&producer, {.shards = 4, .on_error = nullptr});
  Job job;
  job.set_id(kJobId);
  dts::Run run;
  run.set_id("run-1");
  run.set_job_id(kJobId);
  publisher.RunCreated(job, run);
  ASSERT_EQ(producer.sent.size(), 1u);
  EXPECT_EQ(producer.sent[0].topic, messaging::kRunsTopic);
  EXPECT_EQ(producer.sent[0].partition, publisher.PartitionOf(kJobId));
  dts::Run back;
  ASSERT_TRUE(back.ParseFromString(*producer.sent[0].value));
  EXPECT_EQ(back.id(), "run-1");
}

TEST(JobPublisherTest, FailedDeliveryIsReported) {
  FakeProducer producer;
  producer.fail_with = absl::UnavailableError("broker down");
  std::vector<absl::Status> errors;
  JobPublisher publisher(&producer,
                         {.shards = 4, .on_error = [&](const absl::Status& s) { errors.push_back(s); }});
  Job job;
  job.set_id(kJobId);
  publisher.JobChanged(job);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(errors[0].message().find(kJobId), absl::string_view::npos);
}

}  // namespace
}  // namespace dts::cluster
