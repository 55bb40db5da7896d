#include "dts/scheduler/run_id.h"

#include "gtest/gtest.h"

namespace dts::scheduler {
namespace {

const JobId kJob("6314b56d-db9e-4989-ba7b-202110a5a458");
const absl::Time kTime = absl::FromUnixSeconds(1'767'225'600);

TEST(RunIdTest, SameFireSameId) {
  EXPECT_EQ(ScheduledRunId(kJob, kTime, 1), ScheduledRunId(kJob, kTime, 1));
}

TEST(RunIdTest, DiffersByJobTimeAndAttempt) {
  const RunId base = ScheduledRunId(kJob, kTime, 1);
  EXPECT_NE(base, ScheduledRunId(JobId("00000000-0000-4000-8000-000000000001"), kTime, 1));
  EXPECT_NE(base, ScheduledRunId(kJob, kTime + absl::Seconds(1), 1));
  EXPECT_NE(base, ScheduledRunId(kJob, kTime + absl::Microseconds(1), 1));
  EXPECT_NE(base, ScheduledRunId(kJob, kTime, 2));
}

TEST(RunIdTest, IsAVersion5Uuid) {
  const RunId id = ScheduledRunId(kJob, kTime, 1);
  EXPECT_TRUE(IsUuid(id.value())) << id.value();
  EXPECT_EQ(id.value()[14], '5');
  // Stable across builds and machines: the value Python's uuid.uuid5 gives
  // for the same namespace and name.
  EXPECT_EQ(id.value(), "88591a34-b9a8-5f36-9237-1645999585c2");
}

}  // namespace
}  // namespace dts::scheduler
