#include "api/json_writer.h"

#include "dts/v1/execution.pb.h"
#include "dts/v1/job.pb.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"

namespace dts::api {
namespace {

using google::protobuf::util::MessageDifferencer;

// Our output and protobuf's describe the same JSON value, and ours parses
// back into the message it came from.
void ExpectSameAsProtobuf(const google::protobuf::Message& message) {
  const std::string ours = ToJson(message);
  std::string theirs;
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  options.always_print_primitive_fields = true;
  ASSERT_TRUE(google::protobuf::util::MessageToJsonString(message, &theirs, options).ok());
  google::protobuf::Value a;
  google::protobuf::Value b;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(ours, &a).ok()) << ours;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(theirs, &b).ok()) << theirs;
  EXPECT_TRUE(MessageDifferencer::Equals(a, b)) << "ours:   " << ours << "\ntheirs: " << theirs;
  std::unique_ptr<google::protobuf::Message> back(message.New());
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(ours, back.get()).ok()) << ours;
  EXPECT_TRUE(MessageDifferencer::Equals(message, *back)) << ours;
}

v1::JobResponse FullJob() {
  v1::JobResponse job;
  job.set_id("6314b56d-db9e-4989-ba7b-202110a5a458");
  job.set_name("quote \" backslash \\ newline \n tab \t é ✓");
  job.set_cron_expression("*/5 * * * *");
  job.set_status("ACTIVE");
  job.mutable_created_at()->set_seconds(1767225600);
  job.mutable_updated_at()->set_seconds(1767225600);
  job.mutable_updated_at()->set_nanos(123000000);
  job.mutable_next_run()->set_seconds(1767225900);
  job.mutable_next_run()->set_nanos(123456000);
  job.mutable_last_run()->set_seconds(-1);
  job.mutable_last_run()->set_nanos(1);
  (*job.mutable_metadata())["key"] = "value";
  (*job.mutable_metadata())["other"] = "";
  job.set_priority(-7);
  job.set_max_retries(3);
  job.set_timezone("America/New_York");
  auto* command = job.mutable_executor()->mutable_command();
  command->add_argv("/bin/echo");
  command->add_argv("a b");
  (*command->mutable_env())["X"] = "1";
  job.mutable_resources()->set_cpu(250);
  job.mutable_retry_backoff()->set_multiplier(2.5);
  job.mutable_retry_backoff()->set_initial_seconds(1);
  return job;
}

TEST(JsonWriterTest, FullJobMatchesProtobuf) { ExpectSameAsProtobuf(FullJob()); }

TEST(JsonWriterTest, EmptyJobMatchesProtobuf) { ExpectSameAsProtobuf(v1::JobResponse()); }

TEST(JsonWriterTest, OptionalFieldsPrintOnlyWhenSet) {
  v1::ExecutionResponse run;
  run.set_id("x");
  ExpectSameAsProtobuf(run);
  EXPECT_EQ(ToJson(run).find("exit_code"), std::string::npos);
  run.set_exit_code(0);
  ExpectSameAsProtobuf(run);
  EXPECT_NE(ToJson(run).find("\"exit_code\":0"), std::string::npos);
}

TEST(JsonWriterTest, ListsMatchProtobuf) {
  v1::ListJobsResponse list;
  *list.add_jobs() = FullJob();
  list.add_jobs()->set_name("second");
  list.set_total(2);
  list.set_next_page("abc");
  ExpectSameAsProtobuf(list);
  v1::UpdateJobRequest update;
  update.mutable_update_mask()->add_paths("name");
  update.set_name("n");
  ExpectSameAsProtobuf(v1::CreateJobResponse());
}

// The hand-rolled timestamp digits against protobuf's own RFC 3339 printing:
// the range's ends, the epoch, a leap day, and each fraction width.
TEST(JsonWriterTest, TimestampsMatchProtobuf) {
  const int64_t seconds[] = {-62135596800, 0, 951782400, 1767225600, 253402300799};
  const int32_t nanos[] = {0, 1, 1000, 1000000, 123456789, 999999999};
  for (int64_t s : seconds) {
    for (int32_t n : nanos) {
      v1::JobResponse job;
      job.mutable_created_at()->set_seconds(s);
      job.mutable_created_at()->set_nanos(n);
      SCOPED_TRACE(::testing::Message() << s << "s " << n << "ns");
      ExpectSameAsProtobuf(job);
    }
  }
}

TEST(JsonWriterTest, DoublesRoundTrip) {
  v1::JobResponse job;
  for (double v : {0.1, 1.0 / 3.0, 1e-7, 123456789.125, 2.0}) {
    job.mutable_retry_backoff()->set_multiplier(v);
    ExpectSameAsProtobuf(job);
  }
}

}  // namespace
}  // namespace dts::api
