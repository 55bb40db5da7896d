// Fire times across daylight-saving transitions (docs/cron.md, "DST").

#include <thread>

#include "cron/test_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace dts::cron {
namespace {

using ::testing::ElementsAre;
using testing::NextN;
using testing::Rfc;
using testing::Utc;
using testing::Zone;

// Next() keeps, per thread, the offset period of the last instant it was
// asked about. A year's walk on one thread (the cache warm, moved at each
// transition, shared by two schedules of the zone) must give exactly what a
// thread with a cold cache computes for every single step.
TEST(DstPeriodCacheTest, WarmAndColdCachesAgreeAcrossTransitions) {
  // A few days before each 2026 transition of these zones: New York Mar 8
  // and Nov 1, London Mar 29 and Oct 25, Lord Howe Apr 5 and Oct 4.
  const char* kStarts[] = {"2026-03-05T00:00:00Z", "2026-03-26T00:00:00Z", "2026-04-02T00:00:00Z",
                           "2026-10-01T00:00:00Z", "2026-10-22T00:00:00Z", "2026-10-29T00:00:00Z"};
  for (const char* zone : {"America/New_York", "Australia/Lord_Howe", "Europe/London"}) {
    for (const char* expr : {"*/15 * * * *", "30 1 * * *", "0 2 * * *", "*/20 * * * * *"}) {
      absl::StatusOr<Schedule> s = Schedule::Create(expr, Zone(zone));
      absl::StatusOr<Schedule> other = Schedule::Create("0 * * * *", Zone(zone));
      ASSERT_TRUE(s.ok() && other.ok());
      for (const char* start_text : kStarts) {
        const absl::Time start = Rfc(start_text);
        const absl::Time stop = start + absl::Hours(24 * 8);
        std::vector<absl::Time> from = {start};
        std::vector<absl::Time> warm;
        while (warm.size() < 800 && from.back() < stop) {
          warm.push_back(*s->Next(from.back(), start));
          (void)other->Next(warm.back() - absl::Hours(5), start);  // moves the zone's period
          from.push_back(warm.back());
        }
        // Each step on a fresh thread: the cache is cold for every one.
        std::vector<absl::Time> cold(warm.size());
        for (size_t i = 0; i < warm.size(); ++i) {
          std::thread([&, i] { cold[i] = *s->Next(from[i], start); }).join();
        }
        for (size_t i = 0; i < warm.size(); ++i) {
          ASSERT_EQ(warm[i], cold[i]) << zone << " " << expr << " from " << Utc(from[i])
                                      << ": warm " << Utc(warm[i]) << " cold " << Utc(cold[i]);
        }
      }
    }
  }
}

// America/New_York 2026: 02:00 EST -> 03:00 EDT on Mar 8 (07:00Z);
// 02:00 EDT -> 01:00 EST on Nov 1 (06:00Z).
TEST(DstNewYorkTest, GapFiresOnceAtEndOfGap) {
  EXPECT_THAT(NextN("30 2 * * *", "America/New_York", "2026-03-07T00:00:00Z", 3),
              ElementsAre("2026-03-07T07:30:00Z", "2026-03-08T07:00:00Z", "2026-03-09T06:30:00Z"));
}

TEST(DstNewYorkTest, GapTimesAndRegularFireCollapse) {
  // 02:00 does not exist, 03:00 does: both are 07:00Z, one fire.
  EXPECT_THAT(NextN("0 2,3 * * *", "America/New_York", "2026-03-08T00:00:00Z", 3),
              ElementsAre("2026-03-08T07:00:00Z", "2026-03-09T06:00:00Z", "2026-03-09T07:00:00Z"));
  EXPECT_THAT(NextN("*/30 * * * *", "America/New_York", "2026-03-08T06:15:00Z", 3),
              ElementsAre("2026-03-08T06:30:00Z", "2026-03-08T07:00:00Z", "2026-03-08T07:30:00Z"));
}

TEST(DstNewYorkTest, OverlapFiresFirstOccurrenceOnly) {
  EXPECT_THAT(NextN("30 1 * * *", "America/New_York", "2026-10-31T12:00:00Z", 2),
              ElementsAre("2026-11-01T05:30:00Z", "2026-11-02T06:30:00Z"));
  // Asked from inside the second pass, the repeated wall time is not due again.
  EXPECT_THAT(NextN("45 1 * * *", "America/New_York", "2026-11-01T06:10:00Z", 1),
              ElementsAre("2026-11-02T06:45:00Z"));
}

TEST(DstNewYorkTest, OverlapFiresEveryOccurrenceWhenHourIsStar) {
  EXPECT_THAT(NextN("*/30 * * * *", "America/New_York", "2026-11-01T04:45:00Z", 5),
              ElementsAre("2026-11-01T05:00:00Z", "2026-11-01T05:30:00Z", "2026-11-01T06:00:00Z",
                          "2026-11-01T06:30:00Z", "2026-11-01T07:00:00Z"));
  // Starting between the two passes still finds the second pass.
  EXPECT_THAT(NextN("*/30 * * * *", "America/New_York", "2026-11-01T05:45:00Z", 2),
              ElementsAre("2026-11-01T06:00:00Z", "2026-11-01T06:30:00Z"));
  // Starting inside the second pass.
  EXPECT_THAT(NextN("*/30 * * * *", "America/New_York", "2026-11-01T06:10:00Z", 2),
              ElementsAre("2026-11-01T06:30:00Z", "2026-11-01T07:00:00Z"));
  EXPECT_THAT(NextN("@hourly", "America/New_York", "2026-11-01T04:30:00Z", 3),
              ElementsAre("2026-11-01T05:00:00Z", "2026-11-01T06:00:00Z", "2026-11-01T07:00:00Z"));
}

TEST(DstNewYorkTest, DailyJobsAreNeverDoubledOrLost) {
  EXPECT_THAT(NextN("0 9 * * *", "America/New_York", "2026-03-07T00:00:00Z", 3),
              ElementsAre("2026-03-07T14:00:00Z", "2026-03-08T13:00:00Z", "2026-03-09T13:00:00Z"));
  EXPECT_THAT(NextN("0 1 * * *", "America/New_York", "2026-10-31T00:00:00Z", 3),
              ElementsAre("2026-10-31T05:00:00Z", "2026-11-01T05:00:00Z", "2026-11-02T06:00:00Z"));
}

// Europe/London 2026: 01:00 GMT -> 02:00 BST on Mar 29 (01:00Z);
// 02:00 BST -> 01:00 GMT on Oct 25 (01:00Z).
TEST(DstLondonTest, Gap) {
  EXPECT_THAT(NextN("30 1 * * *", "Europe/London", "2026-03-28T12:00:00Z", 2),
              ElementsAre("2026-03-29T01:00:00Z", "2026-03-30T00:30:00Z"));
}

TEST(DstLondonTest, Overlap) {
  EXPECT_THAT(NextN("30 1 * * *", "Europe/London", "2026-10-24T12:00:00Z", 2),
              ElementsAre("2026-10-25T00:30:00Z", "2026-10-26T01:30:00Z"));
  EXPECT_THAT(NextN("*/30 * * * *", "Europe/London", "2026-10-25T00:15:00Z", 4),
              ElementsAre("2026-10-25T00:30:00Z", "2026-10-25T01:00:00Z", "2026-10-25T01:30:00Z",
                          "2026-10-25T02:00:00Z"));
}

// Australia/Lord_Howe moves by 30 minutes: +10:30 standard, +11 in summer.
// 2026-04-05 02:00 +11 -> 01:30 +10:30 (15:00Z Apr 4);
// 2026-10-04 02:00 +10:30 -> 02:30 +11 (15:30Z Oct 3).
TEST(DstLordHoweTest, HalfHourOverlap) {
  EXPECT_THAT(NextN("45 1 * * *", "Australia/Lord_Howe", "2026-04-04T00:00:00Z", 2),
              ElementsAre("2026-04-04T14:45:00Z", "2026-04-05T15:15:00Z"));
  EXPECT_THAT(NextN("*/15 * * * *", "Australia/Lord_Howe", "2026-04-04T14:20:00Z", 5),
              ElementsAre("2026-04-04T14:30:00Z", "2026-04-04T14:45:00Z", "2026-04-04T15:00:00Z",
                          "2026-04-04T15:15:00Z", "2026-04-04T15:30:00Z"));
}

TEST(DstLordHoweTest, HalfHourGap) {
  EXPECT_THAT(NextN("15 2 * * *", "Australia/Lord_Howe", "2026-10-03T00:00:00Z", 2),
              ElementsAre("2026-10-03T15:30:00Z", "2026-10-04T15:15:00Z"));
  EXPECT_THAT(NextN("*/15 * * * *", "Australia/Lord_Howe", "2026-10-03T15:10:00Z", 3),
              ElementsAre("2026-10-03T15:15:00Z", "2026-10-03T15:30:00Z", "2026-10-03T15:45:00Z"));
}

// Pacific/Chatham: +12:45 standard, +13:45 in summer, switching at 02:45/03:45.
// 2026-04-05 03:45 +13:45 -> 02:45 +12:45 (14:00Z Apr 4);
// 2026-09-27 02:45 +12:45 -> 03:45 +13:45 (14:00Z Sep 26).
TEST(DstChathamTest, Overlap) {
  EXPECT_THAT(NextN("0 3 * * *", "Pacific/Chatham", "2026-04-04T00:00:00Z", 2),
              ElementsAre("2026-04-04T13:15:00Z", "2026-04-05T14:15:00Z"));
  EXPECT_THAT(NextN("0 * * * *", "Pacific/Chatham", "2026-04-04T13:00:00Z", 3),
              ElementsAre("2026-04-04T13:15:00Z", "2026-04-04T14:15:00Z", "2026-04-04T15:15:00Z"));
}

TEST(DstChathamTest, Gap) {
  EXPECT_THAT(NextN("0 3 * * *", "Pacific/Chatham", "2026-09-26T00:00:00Z", 2),
              ElementsAre("2026-09-26T14:00:00Z", "2026-09-27T13:15:00Z"));
}

}  // namespace
}  // namespace dts::cron
