#include "cron/matcher.h"

#include <bit>

namespace dts::cron {
namespace {

template <typename Bits>
inline Bits AtOrAbove(Bits bits, int from) {
  return bits & (~Bits{0} << from);
}

uint32_t DomExtras(const Spec& spec, int dim, int first_weekday) {
  uint32_t mask = 0;
  if (spec.dom_last) mask |= uint32_t{1} << dim;
  for (uint32_t offsets = spec.dom_last_offsets; offsets != 0; offsets &= offsets - 1) {
    const int day = dim - std::countr_zero(offsets);
    if (day >= 1) mask |= uint32_t{1} << day;
  }
  // The weekday nearest day n, never leaving the month.
  for (uint32_t days = spec.dom_nearest_weekday; days != 0; days &= days - 1) {
    const int n = std::countr_zero(days);
    if (n > dim) continue;
    const int weekday = (first_weekday + n - 1) % 7;
    int day = n;
    if (weekday == 6) day = n == 1 ? n + 2 : n - 1;    // Saturday
    if (weekday == 0) day = n == dim ? n - 2 : n + 1;  // Sunday
    mask |= uint32_t{1} << day;
  }
  if (spec.dom_last_weekday) {
    const int last_weekday = (first_weekday + dim - 1) % 7;
    const int day = last_weekday == 6 ? dim - 1 : last_weekday == 0 ? dim - 2 : dim;
    mask |= uint32_t{1} << day;
  }
  return mask;
}

uint32_t DowExtras(const Spec& spec, int dim, int first_weekday) {
  uint32_t mask = 0;
  const int last_weekday = (first_weekday + dim - 1) % 7;
  for (int d = 0; d < 7; ++d) {
    for (uint32_t nth = spec.dow_nth[d]; nth != 0; nth &= nth - 1) {
      const int k = std::countr_zero(nth);
      const int day = 1 + (d - first_weekday + 7) % 7 + 7 * (k - 1);
      if (day <= dim) mask |= uint32_t{1} << day;
    }
    if (spec.dow_last & (1u << d)) mask |= uint32_t{1} << (dim - (last_weekday - d + 7) % 7);
  }
  return mask;
}

}  // namespace

uint32_t DayMask(const Spec& spec, int64_t year, int month) {
  const int dim = civil::DaysInMonth(year, month);
  const int first_weekday = civil::WeekdayFromDays(civil::DaysFromCivil(year, month, 1));
  const uint32_t month_days = static_cast<uint32_t>((uint64_t{1} << (dim + 1)) - 2);
  uint32_t dom = spec.dom;
  if (spec.has_dom_extras) dom |= DomExtras(spec, dim, first_weekday);
  uint32_t dow = spec.dow_by_first[first_weekday];
  if (spec.has_dow_extras) dow |= DowExtras(spec, dim, first_weekday);
  const uint32_t days = spec.dom_restricted && spec.dow_restricted ? (dom | dow) : (dom & dow);
  return days & month_days;
}

bool FindMatch(const Spec& spec, const civil::Time& from, int64_t last_year, civil::Time* out) {
  int64_t year = from.year;
  int month = from.month;
  int day = from.day;
  int hour = from.hour;
  int minute = from.minute;
  int second = from.second;

  // Each level either keeps the start value (and the finer fields with it) or
  // moves forward and resets every finer field to its minimum.
  while (year <= last_year) {
    const uint32_t months = AtOrAbove<uint32_t>(spec.months, month);
    if (months == 0) {
      ++year;
      month = 1;
      day = 1;
      hour = minute = second = 0;
      continue;
    }
    if (const int m = std::countr_zero(months); m != month) {
      month = m;
      day = 1;
      hour = minute = second = 0;
    }
    for (uint32_t days = AtOrAbove(DayMask(spec, year, month), day); days != 0;
         days &= days - 1) {
      if (const int d = std::countr_zero(days); d != day) {
        day = d;
        hour = minute = second = 0;
      }
      for (uint32_t hours = AtOrAbove(spec.hours, hour); hours != 0; hours &= hours - 1) {
        if (const int h = std::countr_zero(hours); h != hour) {
          hour = h;
          minute = second = 0;
        }
        for (uint64_t minutes = AtOrAbove(spec.minutes, minute); minutes != 0;
             minutes &= minutes - 1) {
          if (const int mi = std::countr_zero(minutes); mi != minute) {
            minute = mi;
            second = 0;
          }
          if (const uint64_t seconds = AtOrAbove(spec.seconds, second); seconds != 0) {
            *out = {year, month, day, hour, minute, std::countr_zero(seconds)};
            return true;
          }
          minute = 60;  // force a reset when the next minute is taken
        }
        hour = 24;
      }
      day = 32;
    }
    if (++month > 12) {
      month = 1;
      ++year;
    }
    day = 1;
    hour = minute = second = 0;
  }
  return false;
}

}  // namespace dts::cron
