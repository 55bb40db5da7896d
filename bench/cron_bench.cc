// Cron parse and next() micro-benchmarks. `make bench` runs them; the method
// and the figures are in docs/benchmarks.md.

#include <cstdlib>
#include <new>
#include <optional>
#include <string>

#include "absl/time/time.h"
#include "benchmark/benchmark.h"
#include "dts/cron/schedule.h"

namespace {

// Heap allocations made by the current thread's code under measurement; the
// replacement operator new below counts them so each benchmark can report
// allocations per next() (it must be 0).
thread_local long g_allocations = 0;

struct Case {
  const char* name;
  const char* expr;
  const char* zone;
  int64_t start;  // Unix seconds
};

// 2026-03-07T00:00:00Z, the day before New York springs forward.
constexpr int64_t kBeforeSpring = 1'772'841'600;
// 2026-01-01T00:00:00Z
constexpr int64_t kNewYear = 1'767'225'600;

const Case kCases[] = {
    {"every_minute", "* * * * *", "UTC", kNewYear},
    {"weekdays_9am", "0 9 * * MON-FRI", "UTC", kNewYear},
    {"every_15_min", "*/15 * * * *", "UTC", kNewYear},
    {"monthly_1st", "0 0 1 * *", "UTC", kNewYear},
    {"last_day_L", "0 0 L * *", "UTC", kNewYear},
    {"last_weekday_LW", "0 0 LW * *", "UTC", kNewYear},
    {"second_friday_#", "0 10 * * FRI#2", "UTC", kNewYear},
    {"feb_29", "0 0 29 2 *", "UTC", kNewYear},
    {"every_10_sec", "*/10 * * * * *", "UTC", kNewYear},
    {"every_90s", "@every 90s", "UTC", kNewYear},
    {"ny_2_30_dst", "30 2 * * *", "America/New_York", kBeforeSpring},
    {"ny_every_15_min", "*/15 * * * *", "America/New_York", kBeforeSpring},
    {"ny_weekdays_9am", "0 9 * * MON-FRI", "America/New_York", kBeforeSpring},
    {"lord_howe_hourly", "0 * * * *", "Australia/Lord_Howe", kNewYear},
};

absl::TimeZone Zone(const char* name) {
  absl::TimeZone zone;
  if (!absl::LoadTimeZone(name, &zone)) std::abort();
  return zone;
}

void BM_Parse(benchmark::State& state, const Case& c) {
  const absl::TimeZone zone = Zone(c.zone);
  for (auto _ : state) {
    absl::StatusOr<dts::cron::Schedule> s = dts::cron::Schedule::Create(c.expr, zone);
    benchmark::DoNotOptimize(s);
  }
}

// Walks the fire sequence: each iteration asks for the fire after the last
// one, so DST transitions and month ends are crossed as they come.
void BM_Next(benchmark::State& state, const Case& c) {
  absl::StatusOr<dts::cron::Schedule> s = dts::cron::Schedule::Create(c.expr, Zone(c.zone));
  if (!s.ok()) std::abort();
  const absl::Time start = absl::FromUnixSeconds(c.start);
  absl::Time t = start;
  const long allocations_before = g_allocations;
  int64_t n = 0;
  for (auto _ : state) {
    std::optional<absl::Time> next = s->Next(t, start);
    benchmark::DoNotOptimize(next);
    t = *next;
    // Stay within 2026-2030 so every iteration does comparable work.
    if (++n % 4096 == 0 && t > start + absl::Hours(24 * 365 * 4)) t = start;
  }
  state.counters["allocs_per_next"] = benchmark::Counter(
      static_cast<double>(g_allocations - allocations_before) / static_cast<double>(state.iterations()));
}

int RegisterAll() {
  for (const Case& c : kCases) {
    benchmark::RegisterBenchmark((std::string("next/") + c.name).c_str(), BM_Next, c);
  }
  for (const Case& c : kCases) {
    benchmark::RegisterBenchmark((std::string("parse/") + c.name).c_str(), BM_Parse, c);
  }
  return 0;
}
const int kRegistered = RegisterAll();

}  // namespace

void* operator new(std::size_t size) {
  ++g_allocations;
  if (void* p = std::malloc(size)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }

BENCHMARK_MAIN();
