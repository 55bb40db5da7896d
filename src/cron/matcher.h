#pragma once

#include <cstdint>

#include "cron/civil.h"
#include "cron/spec.h"

namespace dts::cron {

// The days of month (y, m) that the spec's day fields allow: bit d for day d.
uint32_t DayMask(const Spec& spec, int64_t year, int month);

// Finds the first wall time >= `from` that the spec matches, looking no
// further than the end of `last_year`. Pure calendar search: no time zone.
// Returns false when there is none.
bool FindMatch(const Spec& spec, const civil::Time& from, int64_t last_year, civil::Time* out);

}  // namespace dts::cron
