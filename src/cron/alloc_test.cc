// Schedule::Next() must not allocate. This binary replaces operator new to
// count allocations, so it is built only without sanitizers (which bring
// their own allocator).

#include <cstdlib>
#include <new>

#include "cron/test_util.h"
#include "gtest/gtest.h"

namespace {
thread_local long g_allocations = 0;
}  // namespace

void* operator new(std::size_t size) {
  ++g_allocations;
  if (void* p = std::malloc(size)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }

namespace dts::cron {
namespace {

TEST(AllocationTest, NextDoesNotAllocate) {
  for (const char* zone : {"UTC", "America/New_York", "Australia/Lord_Howe"}) {
    for (const char* expr : {"* * * * *", "*/15 * * * *", "30 2 * * *", "0 0 LW * 5L",
                             "0 10 * * FRI#2", "0 0 29 2 *", "*/10 * * * * *", "@every 90s"}) {
      absl::StatusOr<Schedule> s = Schedule::Create(expr, testing::Zone(zone));
      ASSERT_TRUE(s.ok());
      absl::Time t = testing::Rfc("2026-03-01T00:00:00Z");
      const long before = g_allocations;
      for (int i = 0; i < 2000; ++i) t = *s->Next(t);
      EXPECT_EQ(g_allocations - before, 0) << expr << " in " << zone;
    }
  }
}

// The counter works: a schedule's creation does allocate.
TEST(AllocationTest, CounterSeesAllocations) {
  const long before = g_allocations;
  absl::StatusOr<Schedule> s = Schedule::Create("* * * * *");
  ASSERT_TRUE(s.ok());
  EXPECT_GT(g_allocations - before, 0);
}

}  // namespace
}  // namespace dts::cron
