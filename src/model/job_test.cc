#include "dts/model/job.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace dts {
namespace {

using ::testing::HasSubstr;

Job ValidJob() {
  Job job;
  job.set_name("nightly");
  job.set_cron_expression("*/5 * * * *");
  ApplyJobDefaults(job);
  return job;
}

TEST(JobModelTest, DefaultsAreFilled) {
  Job job = ValidJob();
  EXPECT_EQ(job.status(), "ACTIVE");
  EXPECT_EQ(job.timezone(), "UTC");
  EXPECT_EQ(job.overlap_policy(), "ALLOW");
  EXPECT_EQ(job.misfire_policy(), "RUN_ONCE");
  EXPECT_EQ(job.resources().cpu(), 100);
  EXPECT_EQ(job.resources().memory(), 64);
  EXPECT_TRUE(ValidateJob(job, absl::FromUnixSeconds(1767225600)).ok());
}

TEST(JobModelTest, StatusIsCaseInsensitive) {
  Job job = ValidJob();
  job.set_status("paused");
  ApplyJobDefaults(job);
  EXPECT_EQ(job.status(), "PAUSED");
  EXPECT_EQ(ParseJobStatus("Active"), JobStatus::kActive);
  EXPECT_FALSE(ParseJobStatus("sleeping").has_value());
}

TEST(JobModelTest, FiringStatuses) {
  EXPECT_TRUE(FiresOnSchedule(JobStatus::kActive));
  EXPECT_TRUE(FiresOnSchedule(JobStatus::kPending));
  EXPECT_TRUE(FiresOnSchedule(JobStatus::kScheduled));
  EXPECT_FALSE(FiresOnSchedule(JobStatus::kPaused));
  EXPECT_FALSE(FiresOnSchedule(JobStatus::kCancelled));
}

std::string ErrorOf(const Job& job) { return std::string(ValidateJob(job, absl::FromUnixSeconds(1767225600)).message()); }

TEST(JobModelTest, ValidationNamesTheField) {
  Job job = ValidJob();
  job.set_name("");
  EXPECT_THAT(ErrorOf(job), HasSubstr("name:"));
  job = ValidJob();
  job.set_name(std::string(201, 'x'));
  EXPECT_THAT(ErrorOf(job), HasSubstr("name:"));
  job = ValidJob();
  job.set_cron_expression("/5 ");
  EXPECT_THAT(ErrorOf(job), HasSubstr("cron_expression:"));
  job = ValidJob();
  job.set_cron_expression("0 0 30 2 *");
  EXPECT_THAT(ErrorOf(job), HasSubstr("never fires"));
  job = ValidJob();
  job.set_timezone("Mars/Base");
  EXPECT_THAT(ErrorOf(job), HasSubstr("timezone:"));
  job = ValidJob();
  job.set_status("SLEEPING");
  EXPECT_THAT(ErrorOf(job), HasSubstr("status:"));
  job = ValidJob();
  for (int i = 0; i < 65; ++i) (*job.mutable_metadata())[std::to_string(i)] = "v";
  EXPECT_THAT(ErrorOf(job), HasSubstr("metadata:"));
  job = ValidJob();
  (*job.mutable_metadata())[std::string(129, 'k')] = "v";
  EXPECT_THAT(ErrorOf(job), HasSubstr("metadata."));
  job = ValidJob();
  (*job.mutable_metadata())["k"] = std::string(4097, 'v');
  EXPECT_THAT(ErrorOf(job), HasSubstr("metadata.k"));
  job = ValidJob();
  job.mutable_executor()->mutable_command();
  EXPECT_THAT(ErrorOf(job), HasSubstr("executor.command.argv"));
  job = ValidJob();
  job.mutable_executor()->mutable_http()->set_url("ftp://x");
  EXPECT_THAT(ErrorOf(job), HasSubstr("executor.http.url"));
  job = ValidJob();
  job.mutable_resources()->set_cpu(-1);
  EXPECT_THAT(ErrorOf(job), HasSubstr("resources.cpu"));
}

TEST(IdsTest, Uuid) {
  EXPECT_TRUE(IsUuid("123e4567-e89b-42d3-a456-426614174000"));
  EXPECT_FALSE(IsUuid("123E4567-e89b-42d3-a456-426614174000"));
  EXPECT_FALSE(IsUuid("not-a-uuid"));
  EXPECT_FALSE(IsUuid("123e4567e89b-42d3-a456-426614174000-"));
}

}  // namespace
}  // namespace dts
