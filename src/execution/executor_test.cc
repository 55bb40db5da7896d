// LocalExecutor's dispatch and lifecycle: noop, kafka, duplicate ids,
// callbacks, Shutdown.

#include <algorithm>
#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "dts/execution/executor.h"
#include "execution/test_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace dts::execution {
namespace {

using ::testing::HasSubstr;
using testing::CommandRequest;
using testing::RunToEnd;
using testing::ShellRequest;
using testing::Waiter;

std::unique_ptr<Executor> MakeExecutor(const Clock* clock, ExecutorOptions options = {}) {
  auto executor = CreateLocalExecutor(clock, std::move(options));
  EXPECT_TRUE(executor.ok()) << executor.status();
  return executor.ok() ? *std::move(executor) : nullptr;
}

RunRequest NoopRequest(const std::string& id = "noop") {
  RunRequest request;
  request.run_id = RunId(id);
  return request;
}

RunRequest KafkaRequest() {
  RunRequest request;
  request.run_id = RunId("kafka");
  request.executor.mutable_kafka()->set_topic("events");
  request.executor.mutable_kafka()->set_key("k");
  request.executor.mutable_kafka()->set_payload("hello");
  request.timeout = absl::Seconds(3);
  request.job_id = JobId("job-1");
  request.scheduled_time = absl::FromUnixSeconds(1700000000);
  request.metadata = {{"team", "a"}};
  return request;
}

TEST(ExecutorTest, CreateNeedsAClock) {
  EXPECT_EQ(CreateLocalExecutor(nullptr, {}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(ExecutorTest, NoopCompletesAtOnce) {
  ManualClock clock(absl::FromUnixSeconds(42));
  auto executor = MakeExecutor(&clock);
  RunOutcome outcome = RunToEnd(*executor, NoopRequest());
  EXPECT_EQ(outcome.status, RunStatus::kCompleted);
  EXPECT_EQ(outcome.exit_code, std::nullopt);
  EXPECT_EQ(outcome.output, "");
  EXPECT_EQ(outcome.error, "");
  EXPECT_EQ(outcome.start_time, absl::FromUnixSeconds(42));
  EXPECT_EQ(outcome.end_time, absl::FromUnixSeconds(42));
}

TEST(ExecutorTest, KafkaWithoutAProducerFails) {
  ManualClock clock(absl::UnixEpoch());
  auto executor = MakeExecutor(&clock);
  RunOutcome outcome = RunToEnd(*executor, KafkaRequest());
  EXPECT_EQ(outcome.status, RunStatus::kFailed);
  EXPECT_EQ(outcome.error, "kafka executor not available in this deployment");
}

TEST(ExecutorTest, KafkaPublishesThroughTheHook) {
  ManualClock clock(absl::UnixEpoch());
  absl::Mutex mu;
  std::vector<std::string> published;
  ExecutorOptions options;
  options.kafka_publish = [&](const KafkaPublishRequest& request) {
    absl::MutexLock lock(&mu);
    const v1::KafkaExecutor& kafka = request.kafka;
    published.push_back(absl::StrCat(
        kafka.topic(), "/", kafka.key(), "/", kafka.payload(), "/",
        absl::FormatDuration(request.timeout), "/", request.job_id.value(), "/",
        request.run_id.value(), "/", absl::ToUnixSeconds(request.scheduled_time), "/",
        request.metadata.at("team")));
    return absl::OkStatus();
  };
  auto executor = MakeExecutor(&clock, std::move(options));
  RunOutcome outcome = RunToEnd(*executor, KafkaRequest());
  EXPECT_EQ(outcome.status, RunStatus::kCompleted);
  absl::MutexLock lock(&mu);
  EXPECT_EQ(published,
            std::vector<std::string>{"events/k/hello/3s/job-1/kafka/1700000000/a"});
}

TEST(ExecutorTest, KafkaHookErrorsAreOutcomes) {
  ManualClock clock(absl::UnixEpoch());
  ExecutorOptions options;
  options.kafka_publish = [](const KafkaPublishRequest& request) {
    if (request.kafka.key() == "slow") return absl::DeadlineExceededError("no ack");
    return absl::UnavailableError("broker down");
  };
  auto executor = MakeExecutor(&clock, std::move(options));
  RunOutcome failed = RunToEnd(*executor, KafkaRequest());
  EXPECT_EQ(failed.status, RunStatus::kFailed);
  EXPECT_EQ(failed.error, "broker down");
  RunRequest slow = KafkaRequest();
  slow.executor.mutable_kafka()->set_key("slow");
  RunOutcome timed_out = RunToEnd(*executor, std::move(slow));
  EXPECT_EQ(timed_out.status, RunStatus::kTimedOut);
  EXPECT_EQ(timed_out.error, "timed out after 3s");
}

TEST(ExecutorTest, DuplicateRunningIdIsRefused) {
  ManualClock clock(absl::UnixEpoch());
  auto executor = MakeExecutor(&clock);
  Waiter first;
  ASSERT_TRUE(
      executor->Start(CommandRequest({"/bin/sleep", "100"}, "same"), first.Callback()).ok());
  Waiter second;
  absl::Status status = executor->Start(CommandRequest({"/bin/true"}, "same"), second.Callback());
  EXPECT_EQ(status.code(), absl::StatusCode::kAlreadyExists);
  executor->Cancel(RunId("same"));
  EXPECT_EQ(first.Wait().status, RunStatus::kCancelled);
  // Once finished, the id may run again.
  EXPECT_EQ(RunToEnd(*executor, CommandRequest({"/bin/true"}, "same")).status,
            RunStatus::kCompleted);
  EXPECT_FALSE(second.Done());
}

TEST(ExecutorTest, CallbackMayStartTheNextRun) {
  ManualClock clock(absl::UnixEpoch());
  auto executor = MakeExecutor(&clock);
  Waiter second;
  Waiter first;
  DoneCallback first_done = first.Callback();
  ASSERT_TRUE(executor
                  ->Start(CommandRequest({"/bin/echo", "one"}, "first"),
                          [&, done = std::move(first_done)](RunOutcome outcome) mutable {
                            EXPECT_TRUE(executor
                                            ->Start(CommandRequest({"/bin/echo", "two"}, "first"),
                                                    second.Callback())
                                            .ok());
                            std::move(done)(std::move(outcome));
                          })
                  .ok());
  EXPECT_EQ(first.Wait().output, "one\n");
  EXPECT_EQ(second.Wait().output, "two\n");
}

TEST(ExecutorTest, ShutdownCancelsRunningWorkAndWaitsForCallbacks) {
  ManualClock clock(absl::UnixEpoch());
  auto executor = MakeExecutor(&clock);
  std::atomic<int> cancelled{0};
  std::atomic<int> calls{0};
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(executor
                    ->Start(CommandRequest({"/bin/sleep", "100"}, absl::StrCat("sleep-", i)),
                            [&](RunOutcome outcome) {
                              calls.fetch_add(1);
                              if (outcome.status == RunStatus::kCancelled) cancelled.fetch_add(1);
                            })
                    .ok());
  }
  ASSERT_TRUE(executor->Start(NoopRequest(), [&](RunOutcome) { calls.fetch_add(1); }).ok());
  executor->Shutdown();
  EXPECT_EQ(calls.load(), 6);  // every callback has returned
  EXPECT_EQ(cancelled.load(), 5);
  Waiter late;
  EXPECT_EQ(executor->Start(NoopRequest("late"), late.Callback()).code(),
            absl::StatusCode::kFailedPrecondition);
  executor->Shutdown();  // idempotent
  EXPECT_FALSE(late.Done());
}

TEST(ExecutorTest, DestructionShutsDown) {
  ManualClock clock(absl::UnixEpoch());
  std::atomic<int> cancelled{0};
  {
    auto executor = MakeExecutor(&clock);
    ASSERT_TRUE(executor
                    ->Start(ShellRequest("sleep 100"),
                            [&](RunOutcome outcome) {
                              if (outcome.status == RunStatus::kCancelled) cancelled.fetch_add(1);
                            })
                    .ok());
  }
  EXPECT_EQ(cancelled.load(), 1);
}

TEST(ExecutorTest, EmptyCallbackIsRefused) {
  ManualClock clock(absl::UnixEpoch());
  auto executor = MakeExecutor(&clock);
  EXPECT_EQ(executor->Start(NoopRequest(), nullptr).code(), absl::StatusCode::kInvalidArgument);
}

TEST(ExecutorTest, ManyNoopsAreAllDelivered) {
  ManualClock clock(absl::UnixEpoch());
  auto executor = MakeExecutor(&clock);
  absl::Mutex mu;
  std::vector<std::string> order;
  for (int i = 0; i < 1000; ++i) {
    std::string id = absl::StrCat(i);
    ASSERT_TRUE(executor
                    ->Start(NoopRequest(id),
                            [&, id](RunOutcome) {
                              absl::MutexLock lock(&mu);
                              order.push_back(id);
                            })
                    .ok());
  }
  executor->Shutdown();
  absl::MutexLock lock(&mu);
  std::sort(order.begin(), order.end());
  EXPECT_EQ(std::unique(order.begin(), order.end()), order.end());
  EXPECT_EQ(order.size(), 1000u);
}

}  // namespace
}  // namespace dts::execution
