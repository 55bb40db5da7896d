#include "cli/job_flags.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace dts::cli {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;
using ::testing::UnorderedElementsAre;

// Parses `args` as the flags of a command registered with AddJobFlags.
JobFlags Parse(std::vector<std::string> args, JobFlagSet set = {}) {
  CLI::App app{"test", "test"};
  JobFlags flags;
  AddJobFlags(app, flags, set);
  args.insert(args.begin(), "test");
  std::vector<const char*> argv;
  for (const std::string& a : args) argv.push_back(a.c_str());
  app.parse(static_cast<int>(argv.size()), argv.data());
  return flags;
}

void ExpectParseError(std::vector<std::string> args, JobFlagSet set = {}) {
  EXPECT_THROW(Parse(std::move(args), set), CLI::ParseError);
}

v1::JobResponse Apply(const JobFlags& flags, v1::JobResponse job = {}) {
  const absl::Status s = ApplyJobFlags(flags, job);
  EXPECT_TRUE(s.ok()) << s;
  return job;
}

absl::Status ApplyError(const JobFlags& flags, v1::JobResponse job = {}) {
  return ApplyJobFlags(flags, job);
}

TEST(JobFlagsTest, SeedCreateExample) {
  const JobFlags flags = Parse({"--name", "My Job", "--description", "Description", "--cron",
                                "*/5 * * * *", "--metadata", R"({"key": "value"})"},
                               {.require_name_and_cron = true});
  const v1::CreateJobRequest r = ToCreateRequest(Apply(flags));
  EXPECT_EQ(r.name(), "My Job");
  EXPECT_EQ(r.description(), "Description");
  EXPECT_EQ(r.cron_expression(), "*/5 * * * *");
  EXPECT_THAT(r.metadata(), UnorderedElementsAre(Pair("key", "value")));
  EXPECT_FALSE(r.has_executor());
  EXPECT_FALSE(r.has_resources());
  EXPECT_EQ(r.status(), "");
}

TEST(JobFlagsTest, CreateRequiresNameAndCron) {
  ExpectParseError({"--name", "x"}, {.require_name_and_cron = true});
  ExpectParseError({"--cron", "@daily"}, {.require_name_and_cron = true});
  EXPECT_NO_THROW(Parse({"--name", "x"}));
}

TEST(JobFlagsTest, AllScalarFlags) {
  const JobFlags flags =
      Parse({"--name", "n", "--cron", "@hourly", "--timezone", "Europe/Paris", "--status", "paused",
             "--priority", "7", "--max-retries", "3", "--timeout", "60", "--overlap", "Forbid",
             "--misfire", "RUN_ALL", "--constraint", "zone=eu", "--constraint", "gpu=true",
             "--cpu", "500", "--memory", "256", "--storage", "1024", "--retry-initial", "5",
             "--retry-max", "300", "--retry-multiplier", "2.5"});
  const v1::CreateJobRequest r = ToCreateRequest(Apply(flags));
  EXPECT_EQ(r.timezone(), "Europe/Paris");
  EXPECT_EQ(r.status(), "paused");
  EXPECT_EQ(r.priority(), 7);
  EXPECT_EQ(r.max_retries(), 3);
  EXPECT_EQ(r.timeout(), 60);
  EXPECT_EQ(r.overlap_policy(), "FORBID");
  EXPECT_EQ(r.misfire_policy(), "RUN_ALL");
  EXPECT_THAT(r.constraints(), UnorderedElementsAre(Pair("zone", "eu"), Pair("gpu", "true")));
  EXPECT_EQ(r.resources().cpu(), 500);
  EXPECT_EQ(r.resources().memory(), 256);
  EXPECT_EQ(r.resources().storage(), 1024);
  EXPECT_EQ(r.retry_backoff().initial_seconds(), 5);
  EXPECT_EQ(r.retry_backoff().max_seconds(), 300);
  EXPECT_DOUBLE_EQ(r.retry_backoff().multiplier(), 2.5);
}

TEST(JobFlagsTest, BadFlagValuesAreParseErrors) {
  ExpectParseError({"--priority", "high"});
  ExpectParseError({"--cpu", "1.5"});
  ExpectParseError({"--overlap", "sometimes"});
  ExpectParseError({"--misfire", "later"});
  ExpectParseError({"--name"});
  // One KEY=VALUE per --env; a second word is not silently taken.
  ExpectParseError({"--env", "A=1", "B=2"});
}

TEST(JobFlagsTest, CommandIsSplitNotShelled) {
  const JobFlags flags =
      Parse({"--command", R"(prog arg 'quoted arg' "a \"b\"")", "--env", "A=1", "--env", "B=x=y",
             "--working-dir", "/tmp"});
  const v1::JobResponse job = Apply(flags);
  ASSERT_TRUE(job.executor().has_command());
  const v1::CommandExecutor& c = job.executor().command();
  EXPECT_THAT(c.argv(), ElementsAre("prog", "arg", "quoted arg", "a \"b\""));
  EXPECT_FALSE(c.shell());
  EXPECT_THAT(c.env(), UnorderedElementsAre(Pair("A", "1"), Pair("B", "x=y")));
  EXPECT_EQ(c.working_dir(), "/tmp");
}

TEST(JobFlagsTest, UnterminatedCommandQuoteIsInvalidArgument) {
  const absl::Status s = ApplyError(Parse({"--command", "prog 'oops"}));
  EXPECT_TRUE(absl::IsInvalidArgument(s));
  EXPECT_THAT(s.message(), HasSubstr("--command: unterminated single quote"));
}

TEST(JobFlagsTest, EmptyCommandIsInvalidArgument) {
  EXPECT_TRUE(absl::IsInvalidArgument(ApplyError(Parse({"--command", "  "}))));
  EXPECT_TRUE(absl::IsInvalidArgument(ApplyError(Parse({"--shell", ""}))));
}

TEST(JobFlagsTest, ShellIsOneScript) {
  const v1::JobResponse job = Apply(Parse({"--shell", "echo hi | wc -c > /tmp/x"}));
  EXPECT_THAT(job.executor().command().argv(), ElementsAre("echo hi | wc -c > /tmp/x"));
  EXPECT_TRUE(job.executor().command().shell());
}

TEST(JobFlagsTest, ExecutorKindsExcludeEachOther) {
  ExpectParseError({"--command", "a", "--shell", "b"});
  ExpectParseError({"--command", "a", "--http-url", "http://x"});
  ExpectParseError({"--shell", "a", "--kafka-topic", "t"});
  ExpectParseError({"--http-url", "http://x", "--kafka-topic", "t"});
}

TEST(JobFlagsTest, HttpExecutor) {
  const v1::JobResponse job = Apply(
      Parse({"--http-url", "https://example.com/hook", "--http-method", "post", "--http-header",
             "Content-Type=application/json", "--http-header", "X-A=b", "--http-body", "{}",
             "--http-expected-status", "201"}));
  const v1::HttpExecutor& h = job.executor().http();
  EXPECT_EQ(h.url(), "https://example.com/hook");
  EXPECT_EQ(h.method(), "POST");
  EXPECT_THAT(h.headers(),
              UnorderedElementsAre(Pair("Content-Type", "application/json"), Pair("X-A", "b")));
  EXPECT_EQ(h.body(), "{}");
  EXPECT_EQ(h.expected_status(), 201);
}

TEST(JobFlagsTest, KafkaExecutor) {
  const v1::JobResponse job =
      Apply(Parse({"--kafka-topic", "t", "--kafka-key", "k", "--kafka-payload", "p"}));
  EXPECT_EQ(job.executor().kafka().topic(), "t");
  EXPECT_EQ(job.executor().kafka().key(), "k");
  EXPECT_EQ(job.executor().kafka().payload(), "p");
}

TEST(JobFlagsTest, RefiningFlagsNeedTheirKind) {
  EXPECT_THAT(ApplyError(Parse({"--env", "A=1"})).message(), HasSubstr("--command or --shell"));
  EXPECT_THAT(ApplyError(Parse({"--http-method", "GET"})).message(), HasSubstr("--http-url"));
  EXPECT_THAT(ApplyError(Parse({"--kafka-key", "k"})).message(), HasSubstr("--kafka-topic"));
  EXPECT_THAT(ApplyError(Parse({"--command", "x", "--http-body", "b"})).message(),
              HasSubstr("--http-url"));
}

TEST(JobFlagsTest, RefiningFlagsApplyToTheCurrentExecutor) {
  v1::JobResponse current;
  v1::CommandExecutor* c = current.mutable_executor()->mutable_command();
  c->add_argv("old");
  (*c->mutable_env())["KEEP"] = "1";
  const v1::JobResponse job = Apply(Parse({"--working-dir", "/srv"}), current);
  EXPECT_THAT(job.executor().command().argv(), ElementsAre("old"));
  EXPECT_EQ(job.executor().command().working_dir(), "/srv");
  EXPECT_EQ(job.executor().command().env().at("KEEP"), "1");
}

TEST(JobFlagsTest, NewCommandKeepsEnvButAnotherKindStartsAfresh) {
  v1::JobResponse current;
  (*current.mutable_executor()->mutable_command()->mutable_env())["KEEP"] = "1";
  v1::JobResponse job = Apply(Parse({"--command", "new"}), current);
  EXPECT_EQ(job.executor().command().env().at("KEEP"), "1");
  job = Apply(Parse({"--http-url", "http://x"}), current);
  EXPECT_TRUE(job.executor().has_http());
  EXPECT_FALSE(job.executor().has_command());
}

TEST(JobFlagsTest, KeyValueErrors) {
  EXPECT_THAT(ApplyError(Parse({"--constraint", "novalue"})).message(),
              HasSubstr("--constraint: \"novalue\" is not KEY=VALUE"));
  EXPECT_TRUE(absl::IsInvalidArgument(ApplyError(Parse({"--constraint", "=v"}))));
  // An empty value is allowed.
  EXPECT_EQ(Apply(Parse({"--constraint", "k="})).constraints().at("k"), "");
}

TEST(ParseMetadataJsonTest, ObjectOfStrings) {
  absl::StatusOr<std::map<std::string, std::string>> m = ParseMetadataJson(R"({"a":"1","b":""})");
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_THAT(*m, ElementsAre(Pair("a", "1"), Pair("b", "")));
  ASSERT_TRUE(ParseMetadataJson("{}").ok());
  EXPECT_TRUE(ParseMetadataJson("{}")->empty());
}

TEST(ParseMetadataJsonTest, RejectsOtherJson) {
  for (const char* json : {"", "[]", "\"x\"", "{", R"({"a": 1})", R"({"a": {"b": "c"}})",
                           R"({"a": null})"}) {
    absl::StatusOr<std::map<std::string, std::string>> m = ParseMetadataJson(json);
    ASSERT_FALSE(m.ok()) << json;
    EXPECT_TRUE(absl::IsInvalidArgument(m.status())) << json;
    EXPECT_THAT(m.status().message(), HasSubstr("--metadata")) << json;
  }
}

TEST(UpdateTest, SeedUpdateExampleSetsOnlyNameAndStatus) {
  const JobFlags flags = Parse({"--name", "Updated Job", "--status", "paused"});
  const std::vector<std::string> paths = UpdatePaths(flags);
  EXPECT_THAT(paths, ElementsAre("name", "status"));
  EXPECT_FALSE(UpdateNeedsCurrentJob(flags));
  const v1::UpdateJobRequest r = ToUpdateRequest("id-1", Apply(flags), paths);
  EXPECT_EQ(r.id(), "id-1");
  EXPECT_THAT(r.update_mask().paths(), ElementsAre("name", "status"));
  EXPECT_TRUE(r.has_name());
  EXPECT_EQ(r.name(), "Updated Job");
  EXPECT_EQ(r.status(), "paused");
  EXPECT_FALSE(r.has_description());
  EXPECT_FALSE(r.has_cron_expression());
  EXPECT_FALSE(r.has_priority());
  EXPECT_FALSE(r.has_executor());
  EXPECT_FALSE(r.has_resources());
}

TEST(UpdateTest, ZeroAndEmptyValuesAreStillSent) {
  // The mask, not the value, says what changes: --priority 0 resets it.
  const JobFlags flags = Parse({"--priority", "0", "--description", "", "--metadata", "{}"});
  const std::vector<std::string> paths = UpdatePaths(flags);
  EXPECT_THAT(paths, ElementsAre("description", "metadata", "priority"));
  const v1::UpdateJobRequest r = ToUpdateRequest("id", Apply(flags), paths);
  EXPECT_TRUE(r.has_priority());
  EXPECT_EQ(r.priority(), 0);
  EXPECT_TRUE(r.has_description());
  EXPECT_TRUE(r.metadata().empty());
}

TEST(UpdateTest, PartialResourcesKeepTheOthers) {
  const JobFlags flags = Parse({"--cpu", "250"});
  EXPECT_THAT(UpdatePaths(flags), ElementsAre("resources"));
  EXPECT_TRUE(UpdateNeedsCurrentJob(flags));
  v1::JobResponse current;
  current.mutable_resources()->set_cpu(100);
  current.mutable_resources()->set_memory(64);
  const v1::UpdateJobRequest r = ToUpdateRequest("id", Apply(flags, current), UpdatePaths(flags));
  EXPECT_EQ(r.resources().cpu(), 250);
  EXPECT_EQ(r.resources().memory(), 64);
}

TEST(UpdateTest, EveryFlagGroupHasAPath) {
  const JobFlags flags = Parse(
      {"--name", "n", "--description", "d", "--cron", "@daily", "--timezone", "UTC", "--metadata",
       "{}", "--status", "active", "--priority", "1", "--max-retries", "1", "--timeout", "1",
       "--overlap", "allow", "--misfire", "skip", "--constraint", "a=b", "--shell", "true",
       "--memory", "1", "--retry-max", "1"});
  EXPECT_THAT(UpdatePaths(flags),
              ElementsAre("name", "description", "cron_expression", "timezone", "metadata",
                          "status", "priority", "max_retries", "timeout", "overlap_policy",
                          "misfire_policy", "constraints", "executor", "resources",
                          "retry_backoff"));
}

}  // namespace
}  // namespace dts::cli
