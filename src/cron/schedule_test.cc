#include "dts/cron/schedule.h"

#include "cron/test_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace dts::cron {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::NextN;
using testing::Rfc;
using testing::Utc;

TEST(ScheduleTest, EveryMinute) {
  EXPECT_THAT(NextN("* * * * *", "UTC", "2026-01-01T00:00:00Z", 3),
              ElementsAre("2026-01-01T00:01:00Z", "2026-01-01T00:02:00Z", "2026-01-01T00:03:00Z"));
}

TEST(ScheduleTest, NextIsStrictlyAfter) {
  EXPECT_THAT(NextN("0 * * * *", "UTC", "2026-01-01T05:00:00Z", 1),
              ElementsAre("2026-01-01T06:00:00Z"));
  EXPECT_THAT(NextN("0 * * * *", "UTC", "2026-01-01T04:59:59.999Z", 1),
              ElementsAre("2026-01-01T05:00:00Z"));
  EXPECT_THAT(NextN("0 * * * *", "UTC", "2026-01-01T05:00:00.5Z", 1),
              ElementsAre("2026-01-01T06:00:00Z"));
}

TEST(ScheduleTest, Seconds) {
  EXPECT_THAT(NextN("*/10 * * * * *", "UTC", "2026-01-01T00:00:00Z", 3),
              ElementsAre("2026-01-01T00:00:10Z", "2026-01-01T00:00:20Z", "2026-01-01T00:00:30Z"));
  EXPECT_THAT(NextN("30 59 23 31 12 *", "UTC", "2026-06-01T00:00:00Z", 1),
              ElementsAre("2026-12-31T23:59:30Z"));
}

TEST(ScheduleTest, Weekdays) {
  // 2026-01-02 is a Friday.
  EXPECT_THAT(NextN("0 9 * * MON-FRI", "UTC", "2026-01-02T10:00:00Z", 2),
              ElementsAre("2026-01-05T09:00:00Z", "2026-01-06T09:00:00Z"));
}

TEST(ScheduleTest, StepAcrossHour) {
  EXPECT_THAT(NextN("*/15 * * * *", "UTC", "2026-01-01T00:50:00Z", 3),
              ElementsAre("2026-01-01T01:00:00Z", "2026-01-01T01:15:00Z", "2026-01-01T01:30:00Z"));
}

TEST(ScheduleTest, LastDayOfMonth) {
  EXPECT_THAT(NextN("0 0 L * *", "UTC", "2026-01-15T00:00:00Z", 3),
              ElementsAre("2026-01-31T00:00:00Z", "2026-02-28T00:00:00Z", "2026-03-31T00:00:00Z"));
  EXPECT_THAT(NextN("0 0 L 2 *", "UTC", "2027-03-01T00:00:00Z", 1),
              ElementsAre("2028-02-29T00:00:00Z"));
  EXPECT_THAT(NextN("0 0 L-2 * *", "UTC", "2026-01-01T00:00:00Z", 2),
              ElementsAre("2026-01-29T00:00:00Z", "2026-02-26T00:00:00Z"));
}

TEST(ScheduleTest, NearestWeekday) {
  // 2022-10-01 is a Saturday: 1W never leaves the month, so Monday the 3rd.
  EXPECT_THAT(NextN("0 0 1W * *", "UTC", "2022-09-15T00:00:00Z", 2),
              ElementsAre("2022-10-03T00:00:00Z", "2022-11-01T00:00:00Z"));
  // 2022-10-15 is a Saturday (Friday 14th); 2022-05-15 a Sunday (Monday 16th).
  EXPECT_THAT(NextN("0 0 15W 10 *", "UTC", "2022-01-01T00:00:00Z", 1),
              ElementsAre("2022-10-14T00:00:00Z"));
  EXPECT_THAT(NextN("0 0 15W 5 *", "UTC", "2022-01-01T00:00:00Z", 1),
              ElementsAre("2022-05-16T00:00:00Z"));
  // 2022-07-31 is a Sunday: 31W is Friday the 29th.
  EXPECT_THAT(NextN("0 0 31W 7 *", "UTC", "2022-01-01T00:00:00Z", 1),
              ElementsAre("2022-07-29T00:00:00Z"));
}

TEST(ScheduleTest, NearestWeekdayPastMonthEndNeverMatches) {
  absl::StatusOr<Schedule> s = Schedule::Create("0 0 31W 4 *");
  ASSERT_TRUE(s.ok());
  EXPECT_FALSE(s->Next(Rfc("2026-01-01T00:00:00Z")).has_value());
}

TEST(ScheduleTest, LastWeekday) {
  // 2022-07-31 is a Sunday and 2022-04-30 a Saturday: both give Friday the 29th.
  EXPECT_THAT(NextN("0 0 LW * *", "UTC", "2022-04-01T00:00:00Z", 4),
              ElementsAre("2022-04-29T00:00:00Z", "2022-05-31T00:00:00Z", "2022-06-30T00:00:00Z",
                          "2022-07-29T00:00:00Z"));
}

TEST(ScheduleTest, NthWeekday) {
  EXPECT_THAT(NextN("0 10 * * FRI#2", "UTC", "2026-01-01T00:00:00Z", 3),
              ElementsAre("2026-01-09T10:00:00Z", "2026-02-13T10:00:00Z", "2026-03-13T10:00:00Z"));
  // A fifth Monday exists only in some months: 2026-03-30, 2026-06-29.
  EXPECT_THAT(NextN("0 0 * * MON#5", "UTC", "2026-01-01T00:00:00Z", 2),
              ElementsAre("2026-03-30T00:00:00Z", "2026-06-29T00:00:00Z"));
}

TEST(ScheduleTest, LastWeekdayOfKind) {
  EXPECT_THAT(NextN("0 0 * * 5L", "UTC", "2026-01-01T00:00:00Z", 2),
              ElementsAre("2026-01-30T00:00:00Z", "2026-02-27T00:00:00Z"));
}

TEST(ScheduleTest, LeapDay) {
  EXPECT_THAT(NextN("0 0 29 2 *", "UTC", "2026-01-01T00:00:00Z", 3),
              ElementsAre("2028-02-29T00:00:00Z", "2032-02-29T00:00:00Z", "2036-02-29T00:00:00Z"));
  // 2100 is not a leap year.
  EXPECT_THAT(NextN("0 0 29 2 *", "UTC", "2096-03-01T00:00:00Z", 1),
              ElementsAre("2104-02-29T00:00:00Z"));
}

TEST(ScheduleTest, NeverFires) {
  absl::StatusOr<Schedule> s = Schedule::Create("0 0 30 2 *");
  ASSERT_TRUE(s.ok());
  EXPECT_FALSE(s->Next(Rfc("2026-01-01T00:00:00Z")).has_value());
  s = Schedule::Create("0 0 31 4,6,9,11 *");
  ASSERT_TRUE(s.ok());
  EXPECT_FALSE(s->Next(Rfc("2026-01-01T00:00:00Z")).has_value());
}

TEST(ScheduleTest, VixieDayOr) {
  // Both day fields restricted: the 1st of the month OR any Monday.
  EXPECT_THAT(NextN("0 0 1 * MON", "UTC", "2026-01-26T00:00:00Z", 3),
              ElementsAre("2026-02-01T00:00:00Z", "2026-02-02T00:00:00Z", "2026-02-09T00:00:00Z"));
}

TEST(ScheduleTest, StarredDayAnd) {
  // `*/10` begins with '*': days 1, 11, 21, 31 that are Mondays.
  EXPECT_THAT(NextN("0 0 */10 * MON", "UTC", "2026-01-01T00:00:00Z", 1),
              ElementsAre("2026-05-11T00:00:00Z"));
  EXPECT_THAT(NextN("0 0 ? * MON", "UTC", "2026-01-01T00:00:00Z", 1),
              ElementsAre("2026-01-05T00:00:00Z"));
}

TEST(ScheduleTest, WrappedHours) {
  EXPECT_THAT(NextN("0 22-2 * * *", "UTC", "2026-01-01T12:00:00Z", 6),
              ElementsAre("2026-01-01T22:00:00Z", "2026-01-01T23:00:00Z", "2026-01-02T00:00:00Z",
                          "2026-01-02T01:00:00Z", "2026-01-02T02:00:00Z", "2026-01-02T22:00:00Z"));
}

TEST(ScheduleTest, Macros) {
  EXPECT_THAT(NextN("@yearly", "UTC", "2026-05-01T00:00:00Z", 1),
              ElementsAre("2027-01-01T00:00:00Z"));
  EXPECT_THAT(NextN("@weekly", "UTC", "2026-01-01T00:00:00Z", 1),
              ElementsAre("2026-01-04T00:00:00Z"));
  EXPECT_THAT(NextN("@hourly", "UTC", "2026-01-01T00:30:00Z", 1),
              ElementsAre("2026-01-01T01:00:00Z"));
}

TEST(ScheduleTest, EveryCountsFromAnchor) {
  absl::StatusOr<Schedule> s = Schedule::Create("@every 1h30m");
  ASSERT_TRUE(s.ok());
  EXPECT_TRUE(s->is_interval());
  EXPECT_EQ(s->interval(), absl::Minutes(90));
  const absl::Time anchor = Rfc("2026-01-01T00:00:00Z");
  EXPECT_EQ(Utc(*s->Next(anchor, anchor)), "2026-01-01T01:30:00Z");
  EXPECT_EQ(Utc(*s->Next(anchor - absl::Hours(5), anchor)), "2026-01-01T01:30:00Z");
  EXPECT_EQ(Utc(*s->Next(Rfc("2026-01-01T01:30:00Z"), anchor)), "2026-01-01T03:00:00Z");
  EXPECT_EQ(Utc(*s->Next(Rfc("2026-01-01T01:29:59Z"), anchor)), "2026-01-01T01:30:00Z");
  EXPECT_EQ(Utc(*s->Next(Rfc("2026-01-02T00:00:00Z"), anchor)), "2026-01-02T01:30:00Z");
}

TEST(ScheduleTest, AtFiresOnce) {
  absl::StatusOr<Schedule> s = Schedule::Create("@at 2026-12-01T10:00:00Z");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_TRUE(s->is_one_off());
  EXPECT_EQ(Utc(*s->Next(Rfc("2026-01-01T00:00:00Z"))), "2026-12-01T10:00:00Z");
  EXPECT_FALSE(s->Next(Rfc("2026-12-01T10:00:00Z")).has_value());
  s = Schedule::Create("@at 2026-12-01T10:00:00+01:00");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(Utc(*s->Next(Rfc("2026-01-01T00:00:00Z"))), "2026-12-01T09:00:00Z");
  EXPECT_THAT(Schedule::Create("@at tomorrow").status().message(), HasSubstr("invalid @at time"));
  EXPECT_THAT(Schedule::Create("@at").status().message(), HasSubstr("invalid @at time"));
}

TEST(ScheduleTest, ZonePrefixOverridesZone) {
  absl::StatusOr<Schedule> s =
      Schedule::Create("CRON_TZ=Asia/Tokyo 0 9 * * *", testing::Zone("America/New_York"));
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->zone().name(), "Asia/Tokyo");
  EXPECT_EQ(Utc(*s->Next(Rfc("2026-01-01T00:00:00Z"))), "2026-01-02T00:00:00Z");
}

TEST(ScheduleTest, UnknownZone) {
  absl::StatusOr<Schedule> s = Schedule::Create("CRON_TZ=Mars/Olympus 0 9 * * *");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.status().message(), HasSubstr("unknown time zone \"Mars/Olympus\""));
}

TEST(LoadZoneTest, RefusesPaths) {
  EXPECT_FALSE(LoadZone("../../etc/passwd").ok());
  EXPECT_FALSE(LoadZone("/etc/localtime").ok());
  EXPECT_FALSE(LoadZone("").ok());
  EXPECT_FALSE(LoadZone("America/New York").ok());
  EXPECT_TRUE(LoadZone("UTC").ok());
  EXPECT_TRUE(LoadZone("Etc/GMT+5").ok());
  EXPECT_TRUE(LoadZone("America/Argentina/Buenos_Aires").ok());
}

TEST(ScheduleTest, FixedOffsetZone) {
  // Etc/GMT+5 is UTC-5 all year.
  EXPECT_THAT(NextN("0 9 * * *", "Etc/GMT+5", "2026-01-01T00:00:00Z", 1),
              ElementsAre("2026-01-01T14:00:00Z"));
}

}  // namespace
}  // namespace dts::cron
