#pragma once

#include <cstdint>

#include "absl/time/civil_time.h"

// Proleptic Gregorian calendar arithmetic on plain integers, used on the hot
// path of Schedule::Next() where absl's normalising civil types would cost
// more than they save.
namespace dts::cron::civil {

constexpr int64_t kSecondsPerDay = 86400;

// Days since 1970-01-01 (H. Hinnant's days_from_civil).
constexpr int64_t DaysFromCivil(int64_t y, int m, int d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const int64_t yoe = y - era * 400;
  const int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

struct Date {
  int64_t year;
  int month;
  int day;
};

constexpr Date CivilFromDays(int64_t z) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const int64_t doe = z - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  const int d = static_cast<int>(doy - (153 * mp + 2) / 5 + 1);
  const int m = static_cast<int>(mp < 10 ? mp + 3 : mp - 9);
  return {yoe + era * 400 + (m <= 2), m, d};
}

// 0 = Sunday.
constexpr int WeekdayFromDays(int64_t z) {
  const int64_t w = (z + 4) % 7;
  return static_cast<int>(w < 0 ? w + 7 : w);
}

constexpr bool IsLeapYear(int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

constexpr int DaysInMonth(int64_t y, int m) {
  constexpr int kDays[13] = {0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && IsLeapYear(y) ? 29 : kDays[m];
}

// A wall-clock time, field by field.
struct Time {
  int64_t year;
  int month;   // 1-12
  int day;     // 1-31
  int hour;    // 0-23
  int minute;  // 0-59
  int second;  // 0-59

  // Seconds since 1970-01-01T00:00:00 of this wall time read as UTC.
  constexpr int64_t ToLocalSeconds() const {
    return DaysFromCivil(year, month, day) * kSecondsPerDay + hour * 3600 + minute * 60 +
           second;
  }
  static constexpr Time FromLocalSeconds(int64_t s) {
    int64_t days = s / kSecondsPerDay;
    int64_t rem = s % kSecondsPerDay;
    if (rem < 0) {
      rem += kSecondsPerDay;
      --days;
    }
    const Date date = CivilFromDays(days);
    return {date.year, date.month, date.day, static_cast<int>(rem / 3600),
            static_cast<int>(rem / 60 % 60), static_cast<int>(rem % 60)};
  }
  absl::CivilSecond ToAbsl() const {
    return absl::CivilSecond(year, month, day, hour, minute, second);
  }
  static Time FromAbsl(const absl::CivilSecond& cs) {
    return {cs.year(), cs.month(), cs.day(), cs.hour(), cs.minute(), cs.second()};
  }
};

}  // namespace dts::cron::civil
