// DecodeTask: what a worker accepts from dts.tasks.

#include "dts/cluster/task_message.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace dts::cluster {
namespace {

using ::testing::HasSubstr;

v1::TaskMessage Start() {
  v1::TaskMessage task;
  task.set_kind(v1::TaskMessage::START);
  task.mutable_run()->set_id("11111111-2222-3333-4444-555555555555");
  task.mutable_run()->mutable_resources()->set_cpu(100);
  task.mutable_run()->mutable_scheduled_time()->set_seconds(1'700'000'000);
  task.mutable_job()->mutable_executor()->mutable_command()->add_argv("true");
  return task;
}

absl::StatusOr<v1::TaskMessage> Decode(const v1::TaskMessage& task) {
  return DecodeTask(task.SerializeAsString());
}

TEST(DecodeTaskTest, AcceptsStartAndCancel) {
  absl::StatusOr<v1::TaskMessage> start = Decode(Start());
  ASSERT_TRUE(start.ok()) << start.status();
  EXPECT_EQ(start->run().id(), "11111111-2222-3333-4444-555555555555");
  EXPECT_EQ(start->job().executor().command().argv(0), "true");

  v1::TaskMessage cancel;
  cancel.set_kind(v1::TaskMessage::CANCEL);
  cancel.mutable_run()->set_id("r1");
  cancel.mutable_run()->mutable_resources()->set_cpu(-1);  // not looked at for a cancel
  EXPECT_TRUE(Decode(cancel).ok());
}

TEST(DecodeTaskTest, RejectsWhatIsNoTask) {
  EXPECT_THAT(DecodeTask(std::nullopt).status().message(), HasSubstr("tombstone"));
  EXPECT_THAT(DecodeTask(std::string("\xff\xff\xff", 3)).status().message(),
              HasSubstr("not a TaskMessage"));
  v1::TaskMessage no_id = Start();
  no_id.mutable_run()->clear_id();
  EXPECT_THAT(Decode(no_id).status().message(), HasSubstr("no run id"));
  v1::TaskMessage long_id = Start();
  long_id.mutable_run()->set_id(std::string(kMaxTaskRunIdBytes + 1, 'a'));
  EXPECT_THAT(Decode(long_id).status().message(), HasSubstr("run id of 257 bytes"));
}

TEST(DecodeTaskTest, UnknownKindIsNotTakenForStart) {
  v1::TaskMessage task = Start();
  task.set_kind(static_cast<v1::TaskMessage::Kind>(7));  // a kind of a newer version
  absl::StatusOr<v1::TaskMessage> decoded = Decode(task);
  EXPECT_EQ(decoded.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(decoded.status().message(), HasSubstr("unknown kind 7"));
}

TEST(DecodeTaskTest, NegativeGrantIsRefused) {
  // It would add to the worker's free capacity instead of taking from it.
  for (int field = 0; field < 3; ++field) {
    v1::TaskMessage task = Start();
    v1::ResourceRequirements* r = task.mutable_run()->mutable_resources();
    if (field == 0) r->set_cpu(-1);
    if (field == 1) r->set_memory(-1);
    if (field == 2) r->set_storage(-1);
    EXPECT_THAT(Decode(task).status().message(), HasSubstr("negative grant")) << field;
  }
}

TEST(DecodeTaskTest, ScheduledTimeOutOfRangeIsRefused) {
  v1::TaskMessage task = Start();
  task.mutable_run()->mutable_scheduled_time()->set_seconds(INT64_MAX);
  EXPECT_THAT(Decode(task).status().message(), HasSubstr("scheduled_time"));
  task = Start();
  task.mutable_run()->mutable_scheduled_time()->set_nanos(-1);
  EXPECT_THAT(Decode(task).status().message(), HasSubstr("scheduled_time"));
}

}  // namespace
}  // namespace dts::cluster
