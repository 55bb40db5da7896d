#include <sstream>
#include <string>
#include <vector>

#include "dts/cli/cli.h"
#include "dts/common/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace dts::cli {
namespace {

using ::testing::HasSubstr;

struct Result {
  int code;
  std::string out;
  std::string err;
};

Result RunDts(std::vector<std::string> args) {
  ManualClock clock(absl::FromUnixSeconds(1'767'225'600));  // 2026-01-01T00:00:00Z
  std::ostringstream out;
  std::ostringstream err;
  Context ctx{&out, &err, &clock};
  CLI::App app{"dts", "dts"};
  app.require_subcommand(1);
  AddCronCommands(app, ctx);
  args.insert(args.begin(), "dts");
  std::vector<const char*> argv;
  for (const std::string& a : args) argv.push_back(a.c_str());
  const int code = Run(app, ctx, static_cast<int>(argv.size()), argv.data());
  return {code, out.str(), err.str()};
}

TEST(CronNextCommandTest, IssueExample) {
  const Result r = RunDts({"cron", "next", "30 2 * * *", "--tz", "America/New_York", "--from",
                           "2026-03-07T00:00:00Z", "-n", "3"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "2026-03-07T07:30:00Z\n2026-03-08T07:00:00Z\n2026-03-09T06:30:00Z\n");
  EXPECT_EQ(r.err, "");
}

TEST(CronNextCommandTest, DefaultsToFiveFromNowInUtc) {
  const Result r = RunDts({"cron", "next", "0 0 * * *"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out,
            "2026-01-02T00:00:00Z\n2026-01-03T00:00:00Z\n2026-01-04T00:00:00Z\n"
            "2026-01-05T00:00:00Z\n2026-01-06T00:00:00Z\n");
}

TEST(CronNextCommandTest, LocalPrintsOffsets) {
  const Result r = RunDts({"cron", "next", "30 1 * * *", "--tz", "America/New_York", "--from",
                           "2026-10-31T12:00:00Z", "-n", "2", "--local"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "2026-11-01T01:30:00-04:00\n2026-11-02T01:30:00-05:00\n");
}

TEST(CronNextCommandTest, EveryCountsFromFrom) {
  const Result r = RunDts({"cron", "next", "@every 90s", "--from", "2026-01-01T00:00:00Z", "-n", "2"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "2026-01-01T00:01:30Z\n2026-01-01T00:03:00Z\n");
}

TEST(CronNextCommandTest, InvalidExpressionExitsTwo) {
  const Result r = RunDts({"cron", "next", "61 * * * *"});
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(r.out, "");
  EXPECT_THAT(r.err, HasSubstr("invalid minute field \"61\""));
}

TEST(CronNextCommandTest, BadFlagsExitTwo) {
  EXPECT_EQ(RunDts({"cron", "next", "* * * * *", "--tz", "Nowhere/City"}).code, 2);
  EXPECT_THAT(RunDts({"cron", "next", "* * * * *", "--tz", "Nowhere/City"}).err,
              HasSubstr("unknown time zone"));
  EXPECT_EQ(RunDts({"cron", "next", "* * * * *", "--from", "yesterday"}).code, 2);
  EXPECT_EQ(RunDts({"cron", "next", "* * * * *", "-n", "0"}).code, 2);
  EXPECT_EQ(RunDts({"cron", "next", "* * * * *", "-n", "x"}).code, 2);
  EXPECT_EQ(RunDts({"cron", "next"}).code, 2);
  EXPECT_EQ(RunDts({"cron", "next", "* * * * *", "--bogus"}).code, 2);
}

TEST(CronNextCommandTest, NeverFiresExitsOne) {
  const Result r = RunDts({"cron", "next", "0 0 30 2 *"});
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.out, "");
  EXPECT_THAT(r.err, HasSubstr("never fires within 50 years"));
}

}  // namespace
}  // namespace dts::cli
