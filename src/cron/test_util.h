#pragma once

#include <string>
#include "absl/strings/string_view.h"
#include <vector>

#include "absl/time/time.h"
#include "dts/cron/schedule.h"
#include "gtest/gtest.h"

namespace dts::cron::testing {

inline absl::Time Rfc(absl::string_view text) {
  absl::Time t;
  std::string err;
  EXPECT_TRUE(absl::ParseTime(absl::RFC3339_full, text, &t, &err)) << text << ": " << err;
  return t;
}

inline std::string Utc(absl::Time t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", t, absl::UTCTimeZone());
}

inline absl::TimeZone Zone(absl::string_view name) {
  absl::StatusOr<absl::TimeZone> zone = LoadZone(name);
  EXPECT_TRUE(zone.ok()) << zone.status();
  return zone.value_or(absl::UTCTimeZone());
}

// The next `n` fire instants after `from`, as RFC3339 UTC strings.
inline std::vector<std::string> NextN(absl::string_view expr, absl::string_view zone,
                                      absl::string_view from, int n) {
  absl::StatusOr<Schedule> schedule = Schedule::Create(expr, Zone(zone));
  EXPECT_TRUE(schedule.ok()) << schedule.status();
  std::vector<std::string> out;
  if (!schedule.ok()) return out;
  const absl::Time anchor = Rfc(from);
  absl::Time cursor = anchor;
  for (int i = 0; i < n; ++i) {
    std::optional<absl::Time> next = schedule->Next(cursor, anchor);
    if (!next) break;
    out.push_back(Utc(*next));
    cursor = *next;
  }
  return out;
}

}  // namespace dts::cron::testing
