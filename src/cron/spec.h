#pragma once

#include <array>
#include <cstdint>

#include "absl/time/time.h"

namespace dts::cron {

// The compiled form of a cron expression: one bit per allowed value, plus the
// day-of-month and day-of-week extras that depend on the month at hand.
struct Spec {
  uint64_t seconds = 0;  // bit s, 0-59
  uint64_t minutes = 0;  // bit m, 0-59
  uint32_t hours = 0;    // bit h, 0-23
  uint32_t dom = 0;      // bit d, 1-31
  uint16_t months = 0;   // bit m, 1-12
  uint8_t dow = 0;       // bit d, 0-6 (0 = Sunday)

  // Day-of-month extras.
  bool dom_last = false;           // L
  uint32_t dom_last_offsets = 0;   // L-n: bit n, n in 1-30
  uint32_t dom_nearest_weekday = 0;  // nW: bit n, n in 1-31
  bool dom_last_weekday = false;   // LW

  // Day-of-week extras.
  std::array<uint8_t, 7> dow_nth{};  // d#k: bit k (1-5) of dow_nth[d]
  uint8_t dow_last = 0;              // dL: bit d

  // A day field is "restricted" unless it begins with '*' or is '?'. When both
  // are restricted a day matches if either does (Vixie cron); otherwise both
  // must match.
  bool dom_restricted = false;
  bool dow_restricted = false;
  // The hour field begins with '*': fire at every occurrence of a repeated
  // wall time at a DST fall-back, not only the first.
  bool hour_star = false;

  // `@every`: fires at anchor + k * interval. Zero for cron expressions.
  absl::Duration interval = absl::ZeroDuration();
  // `@at <RFC3339>`: fires once, at this instant.
  bool one_off = false;
  absl::Time at;

  // Derived at parse time: dow_by_first[w] has bit d set when day d of a month
  // whose first day is weekday w is an allowed weekday.
  std::array<uint32_t, 7> dow_by_first{};
  bool has_dom_extras = false;
  bool has_dow_extras = false;
};

// Parses the expression after any CRON_TZ=/TZ= prefix has been removed.
// Defined in parser.cc.
}  // namespace dts::cron
