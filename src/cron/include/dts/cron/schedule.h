#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include "absl/strings/string_view.h"

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace dts::cron {

// Loads an IANA time zone ("America/New_York", "UTC"). Names that are not
// plain zone names (absolute paths, "..") are refused, so a user-supplied
// zone can never read an arbitrary file.
absl::StatusOr<absl::TimeZone> LoadZone(absl::string_view name);

// The parsed form of a cron expression; an implementation detail of Schedule
// that tests and the fuzzer may inspect. Defined in cron/spec.h.
struct Spec;

// A parsed cron expression bound to a time zone. Immutable after Create(),
// so it is safe to share between threads. Next() does not allocate.
//
// Grammar and DST rules: docs/cron.md.
class Schedule {
 public:
  // Parses `expr`. It is evaluated in `zone` unless it starts with a
  // CRON_TZ=<zone> or TZ=<zone> prefix. Errors are INVALID_ARGUMENT and name
  // the field and the offending text.
  static absl::StatusOr<Schedule> Create(absl::string_view expr,
                                         absl::TimeZone zone = absl::UTCTimeZone());

  // The first fire instant strictly after `after`, or nullopt if the
  // expression never fires within 50 years of `after`. `anchor` matters only
  // for `@every d`, which fires at anchor + k*d for k >= 1.
  std::optional<absl::Time> Next(absl::Time after, absl::Time anchor) const;
  std::optional<absl::Time> Next(absl::Time after) const { return Next(after, after); }

  // The zone the expression is evaluated in (the prefix's, if it had one).
  const absl::TimeZone& zone() const { return zone_; }
  // True for `@every <duration>` schedules.
  bool is_interval() const;
  // True for `@at <time>` schedules, which fire once.
  bool is_one_off() const;
  // The interval of an `@every` schedule; zero otherwise.
  absl::Duration interval() const;
  const Spec& spec() const { return *spec_; }

 private:
  Schedule(std::shared_ptr<const Spec> spec, absl::TimeZone zone);

  std::optional<absl::Time> NextInterval(absl::Time after, absl::Time anchor) const;
  std::optional<absl::Time> NextFixedOffset(absl::Time after) const;
  // The next match after `after` computed as if the zone were `offset`
  // seconds east of UTC throughout.
  std::optional<absl::Time> NextWithOffset(absl::Time after, int64_t offset) const;
  std::optional<absl::Time> NextInPeriod(absl::Time after) const;
  std::optional<absl::Time> NextInZone(absl::Time after) const;

  // Shared and immutable, so copies are cheap; never null.
  std::shared_ptr<const Spec> spec_;
  absl::TimeZone zone_;
  // Seconds east of UTC when the zone never changes offset (UTC, Etc/*).
  std::optional<int32_t> fixed_offset_;
  // The zone's key in the per-thread cache of offset periods (schedule.cc);
  // 0 for a fixed-offset zone.
  uint64_t zone_id_ = 0;
};

}  // namespace dts::cron
