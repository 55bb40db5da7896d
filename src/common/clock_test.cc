#include "dts/common/clock.h"

#include "gtest/gtest.h"

namespace dts {
namespace {

TEST(ManualClockTest, MovesOnlyWhenTold) {
  const absl::Time start = absl::FromUnixSeconds(1'700'000'000);
  ManualClock clock(start);
  EXPECT_EQ(clock.Now(), start);
  clock.Advance(absl::Minutes(5));
  EXPECT_EQ(clock.Now(), start + absl::Minutes(5));
  clock.Set(start);
  EXPECT_EQ(clock.Now(), start);
}

}  // namespace
}  // namespace dts

#include "dts/common/id_generator.h"

namespace dts {
namespace {

TEST(IdGeneratorTest, SequentialIdsAreUuids) {
  SequentialIdGenerator ids;
  EXPECT_EQ(ids.NewUuid(), "00000000-0000-4000-8000-000000000001");
  EXPECT_EQ(ids.NewUuid(), "00000000-0000-4000-8000-000000000002");
}

TEST(IdGeneratorTest, RandomIdsDiffer) {
  RandomIdGenerator ids;
  const std::string a = ids.NewUuid();
  const std::string b = ids.NewUuid();
  EXPECT_NE(a, b);
  EXPECT_EQ(a.size(), 36u);
  EXPECT_EQ(a[14], '4');
}

}  // namespace
}  // namespace dts
