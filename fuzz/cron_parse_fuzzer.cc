// Feeds arbitrary text to the cron parser. Every input must either be
// rejected with INVALID_ARGUMENT or give a schedule whose Next() is strictly
// increasing and stays inside its own bit sets.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "dts/cron/schedule.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 256) return 0;
  const absl::string_view text(reinterpret_cast<const char*>(data), size);
  static const absl::TimeZone kNewYork = [] {
    absl::TimeZone zone;
    if (!absl::LoadTimeZone("America/New_York", &zone)) std::abort();
    return zone;
  }();
  absl::StatusOr<dts::cron::Schedule> schedule = dts::cron::Schedule::Create(text, kNewYork);
  if (!schedule.ok()) {
    if (schedule.status().code() != absl::StatusCode::kInvalidArgument) std::abort();
    if (schedule.status().message().empty()) std::abort();
    return 0;
  }
  absl::Time t = absl::FromUnixSeconds(1'793'000'000);  // late 2026, near a DST change
  for (int i = 0; i < 4; ++i) {
    const std::optional<absl::Time> next = schedule->Next(t);
    if (!next) break;
    if (*next <= t) std::abort();
    t = *next;
  }
  return 0;
}
