#include "dts/model/job.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"

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

Job CommandJob(std::vector<std::string> argv) {
  Job job = ValidJob();
  for (std::string& arg : argv) job.mutable_executor()->mutable_command()->add_argv(std::move(arg));
  return job;
}

TEST(JobModelTest, ArgvIsCapped) {
  EXPECT_EQ(ErrorOf(CommandJob({"echo", "$HOME;id"})), "");
  Job job = CommandJob(std::vector<std::string>(kMaxArgvEntries, "a"));
  EXPECT_EQ(ErrorOf(job), "");
  job.mutable_executor()->mutable_command()->add_argv("one too many");
  EXPECT_EQ(ErrorOf(job), "executor.command.argv: at most 1024 arguments, got 1025");
  job = CommandJob({"sh", std::string(kMaxArgBytes + 1, 'x')});
  EXPECT_EQ(ErrorOf(job), "executor.command.argv[1]: at most 131071 bytes, got 131072");
  job = CommandJob({"sh", std::string(kMaxArgBytes, 'x'), std::string(kMaxArgBytes, 'y'),
                    std::string(kMaxArgBytes, 'z')});
  EXPECT_THAT(ErrorOf(job), HasSubstr("executor.command.argv: at most 262144 bytes in all"));
}

TEST(JobModelTest, EnvNamesAndSizesAreChecked) {
  Job job = CommandJob({"env"});
  auto& env = *job.mutable_executor()->mutable_command()->mutable_env();
  env["GOOD_name_1"] = "value with = and spaces";
  env["_"] = "";
  EXPECT_EQ(ErrorOf(job), "");
  for (const char* bad : {"1ABC", "A-B", "A B", "A=B", "", "\xc3\xa9"}) {
    Job copy = job;
    (*copy.mutable_executor()->mutable_command()->mutable_env())[bad] = "v";
    EXPECT_THAT(ErrorOf(copy), HasSubstr("executor.command.env: invalid variable name")) << bad;
  }
  Job copy = job;
  (*copy.mutable_executor()->mutable_command()->mutable_env())[std::string(kMaxEnvNameBytes + 1, 'N')] = "v";
  EXPECT_THAT(ErrorOf(copy), HasSubstr("executor.command.env: invalid variable name"));
  copy = job;
  (*copy.mutable_executor()->mutable_command()->mutable_env())["BIG"] = std::string(kMaxEnvValueBytes + 1, 'v');
  EXPECT_EQ(ErrorOf(copy), "executor.command.env.BIG: at most 32768 bytes, got 32769");
  copy = job;
  (*copy.mutable_executor()->mutable_command()->mutable_env())["NUL"] = std::string("a\0b", 3);
  EXPECT_EQ(ErrorOf(copy), "executor.command.env.NUL: must not contain NUL");
  copy = job;
  for (int i = 0; i < 3; ++i) {
    (*copy.mutable_executor()->mutable_command()->mutable_env())[absl::StrCat("V", i)] =
        std::string(kMaxEnvValueBytes, 'v');
  }
  EXPECT_THAT(ErrorOf(copy), HasSubstr("executor.command.env: at most 65536 bytes in all"));
  copy = job;
  for (size_t i = 0; i <= kMaxEnvEntries; ++i) {
    (*copy.mutable_executor()->mutable_command()->mutable_env())[absl::StrCat("V", i)] = "1";
  }
  EXPECT_THAT(ErrorOf(copy), HasSubstr("executor.command.env: at most 128 variables"));
}

TEST(JobModelTest, WorkingDirIsAbsoluteAndBounded) {
  Job job = CommandJob({"pwd"});
  job.mutable_executor()->mutable_command()->set_working_dir("/srv/app");
  EXPECT_EQ(ErrorOf(job), "");
  job.mutable_executor()->mutable_command()->set_working_dir("relative");
  EXPECT_EQ(ErrorOf(job), "executor.command.working_dir: must be an absolute path");
  job.mutable_executor()->mutable_command()->set_working_dir("/" + std::string(kMaxWorkingDirBytes, 'd'));
  EXPECT_THAT(ErrorOf(job), HasSubstr("executor.command.working_dir: at most 4096 bytes"));
}

TEST(IdsTest, Uuid) {
  EXPECT_TRUE(IsUuid("123e4567-e89b-42d3-a456-426614174000"));
  EXPECT_FALSE(IsUuid("123E4567-e89b-42d3-a456-426614174000"));
  EXPECT_FALSE(IsUuid("not-a-uuid"));
  EXPECT_FALSE(IsUuid("123e4567e89b-42d3-a456-426614174000-"));
}

}  // namespace
}  // namespace dts
