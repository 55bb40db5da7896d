#include "dts/cron/schedule.h"

#include <cstdint>
#include <limits>
#include <string>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/strings/str_cat.h"
#include "cron/civil.h"
#include "cron/matcher.h"
#include "cron/parser.h"
#include "cron/spec.h"

namespace dts::cron {
namespace {

// How far ahead Next() looks before it reports "never".
constexpr int64_t kSearchYears = 50;

bool IsSafeZoneName(absl::string_view name) {
  if (name.empty() || name.size() > 64 || name.front() == '/' || name.find("..") != name.npos) {
    return false;
  }
  for (char c : name) {
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                    c == '/' || c == '_' || c == '-' || c == '+';
    if (!ok) return false;
  }
  return true;
}

// One zone's stretch of constant UTC offset around the last instant asked
// about, in Unix seconds: [safe_start, end) holds the instants whose wall
// time occurs once and lies in that stretch (safe_start skips the wall times
// a fall-back at its start repeats; end is the next transition).
struct OffsetPeriod {
  uint64_t zone_id = 0;  // 0: empty slot
  int64_t safe_start = 0;
  int64_t end = 0;
  int32_t offset = 0;
};

// Per thread, so that Schedule stays immutable and shareable: a firing thread
// walks many schedules of a few zones, and each slot keeps one zone's period.
thread_local OffsetPeriod t_periods[8];

int64_t SecondsSinceEpoch(const absl::CivilSecond& cs) {
  return cs - absl::CivilSecond(1970, 1, 1, 0, 0, 0);
}

// A number per zone name, the same for every schedule of that zone: the key
// of t_periods. Taken once, when a schedule is made.
uint64_t ZoneIdOf(const absl::TimeZone& zone) {
  static absl::Mutex mu;
  static auto* ids ABSL_GUARDED_BY(mu) = new absl::flat_hash_map<std::string, uint64_t>();
  absl::MutexLock lock(&mu);
  return ids->try_emplace(zone.name(), ids->size() + 1).first->second;
}

// The instant of the first occurrence of wall time `cs` in `zone`: itself
// when unique, the end of the gap when skipped, the earlier one when repeated.
absl::Time FirstOccurrence(const absl::TimeZone& zone, const absl::CivilSecond& cs) {
  const absl::TimeZone::TimeInfo info = zone.At(cs);
  return info.kind == absl::TimeZone::TimeInfo::SKIPPED ? info.trans : info.pre;
}

}  // namespace

absl::StatusOr<absl::TimeZone> LoadZone(absl::string_view name) {
  absl::TimeZone zone;
  if (!IsSafeZoneName(name) || !absl::LoadTimeZone(name, &zone)) {
    return absl::InvalidArgumentError(absl::StrCat("unknown time zone \"", name, "\""));
  }
  return zone;
}

absl::StatusOr<Schedule> Schedule::Create(absl::string_view expr, absl::TimeZone zone) {
  absl::StatusOr<ParsedExpression> parsed = ParseExpression(expr);
  if (!parsed.ok()) return parsed.status();
  if (!parsed->zone_name.empty()) {
    absl::StatusOr<absl::TimeZone> prefix_zone = LoadZone(parsed->zone_name);
    if (!prefix_zone.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("invalid cron expression \"", expr,
                                                     "\": ", prefix_zone.status().message()));
    }
    zone = *prefix_zone;
  }
  return Schedule(std::make_shared<const Spec>(parsed->spec), zone);
}

Schedule::Schedule(std::shared_ptr<const Spec> spec, absl::TimeZone zone)
    : spec_(std::move(spec)), zone_(zone) {
  absl::TimeZone::CivilTransition transition;
  if (!zone_.NextTransition(absl::InfinitePast(), &transition)) {
    fixed_offset_ = zone_.At(absl::UnixEpoch()).offset;
  } else {
    zone_id_ = ZoneIdOf(zone_);
  }
}

bool Schedule::is_interval() const { return spec_->interval != absl::ZeroDuration(); }

bool Schedule::is_one_off() const { return spec_->one_off; }

absl::Duration Schedule::interval() const { return spec_->interval; }

std::optional<absl::Time> Schedule::Next(absl::Time after, absl::Time anchor) const {
  if (spec_->one_off) {
    if (spec_->at > after) return spec_->at;
    return std::nullopt;
  }
  if (is_interval()) return NextInterval(after, anchor);
  if (fixed_offset_) return NextFixedOffset(after);
  return NextInZone(after);
}

std::optional<absl::Time> Schedule::NextInterval(absl::Time after, absl::Time anchor) const {
  const absl::Duration step = spec_->interval;
  int64_t k = 1;
  absl::Duration remainder;
  if (after >= anchor + step) k = absl::IDivDuration(after - anchor, step, &remainder) + 1;
  return anchor + k * step;
}

std::optional<absl::Time> Schedule::NextFixedOffset(absl::Time after) const {
  return NextWithOffset(after, *fixed_offset_);
}

std::optional<absl::Time> Schedule::NextWithOffset(absl::Time after, int64_t offset) const {
  const int64_t local = absl::ToUnixSeconds(after) + offset;
  const civil::Time start = civil::Time::FromLocalSeconds(local + 1);
  civil::Time match;
  if (!FindMatch(*spec_, start, start.year + kSearchYears, &match)) return std::nullopt;
  return absl::FromUnixSeconds(match.ToLocalSeconds() - offset);
}

// Fire instants in a zone with offset changes (docs/cron.md, "DST"):
//  * every matching wall time fires at its first occurrence: a wall time in a
//    spring-forward gap at the end of the gap, a repeated one at its earlier
//    instant ("primary" fires, found by a calendar search);
//  * when the hour field begins with '*', the second occurrence of a repeated
//    wall time fires too ("second-pass" fires, found per fall-back transition).
// The common case in a zone with transitions: `after` and the next match
// lie in one stretch of constant offset (no transition between them, and
// `after` is not in a repeated hour), so the answer is the fixed-offset one
// and no zone lookup is needed. Otherwise nullopt, and NextInZone decides.
std::optional<absl::Time> Schedule::NextInPeriod(absl::Time after) const {
  const int64_t t = absl::ToUnixSeconds(after);
  OffsetPeriod& period = t_periods[zone_id_ % std::size(t_periods)];
  if (period.zone_id != zone_id_ || t < period.safe_start || t >= period.end) {
    const absl::Time at = absl::FromUnixSeconds(t);
    OffsetPeriod found;
    found.zone_id = zone_id_;
    found.offset = zone_.At(at).offset;
    found.safe_start = std::numeric_limits<int64_t>::min();
    found.end = std::numeric_limits<int64_t>::max();
    absl::TimeZone::CivilTransition transition;
    if (zone_.NextTransition(at, &transition)) {
      found.end = SecondsSinceEpoch(transition.from) - found.offset;
    }
    if (zone_.PrevTransition(at + absl::Seconds(1), &transition)) {
      const int64_t start = SecondsSinceEpoch(transition.to) - found.offset;
      const int64_t repeated = SecondsSinceEpoch(transition.from) - SecondsSinceEpoch(transition.to);
      found.safe_start = start + std::max<int64_t>(repeated, 0);
    }
    if (t < found.safe_start || t >= found.end) return std::nullopt;  // in a repeated hour
    period = found;
  }
  std::optional<absl::Time> candidate = NextWithOffset(after, period.offset);
  if (!candidate || absl::ToUnixSeconds(*candidate) >= period.end) return std::nullopt;
  return candidate;
}

std::optional<absl::Time> Schedule::NextInZone(absl::Time after) const {
  if (std::optional<absl::Time> fast = NextInPeriod(after)) return fast;
  const absl::TimeZone::CivilInfo now = zone_.At(after);
  const absl::Time floor = after - now.subsecond;
  const absl::TimeZone::TimeInfo now_info = zone_.At(now.cs);
  const bool in_second_pass =
      now_info.kind == absl::TimeZone::TimeInfo::REPEATED && floor == now_info.post;
  const int64_t last_year = now.cs.year() + kSearchYears;

  civil::Time from = civil::Time::FromAbsl(now.cs + 1);
  absl::CivilSecond repeat_end;
  if (in_second_pass) {
    // Wall times still ahead in this second pass all had their first
    // occurrence already; primary fires resume where the repetition ends.
    repeat_end = zone_.At(now_info.trans - absl::Seconds(1)).cs + 1;
    if (spec_->hour_star) {
      civil::Time match;
      if (FindMatch(*spec_, from, last_year, &match) && match.ToAbsl() < repeat_end) {
        return now_info.post + absl::Seconds(match.ToAbsl() - now.cs);
      }
    }
    from = civil::Time::FromAbsl(repeat_end);
  }

  std::optional<absl::Time> primary;
  civil::Time match;
  if (FindMatch(*spec_, from, last_year, &match)) primary = FirstOccurrence(zone_, match.ToAbsl());
  if (!spec_->hour_star) return primary;

  // Second-pass fires of fall-back transitions between `after` and `primary`.
  const absl::Time limit = primary.value_or(after + absl::Hours(24 * 366 * kSearchYears));
  absl::TimeZone::CivilTransition transition;
  absl::Time cursor = after;
  while (zone_.NextTransition(cursor, &transition)) {
    const absl::TimeZone::TimeInfo at = zone_.At(transition.to);
    const absl::Time instant = at.kind == absl::TimeZone::TimeInfo::REPEATED ? at.trans : at.pre;
    if (instant >= limit) break;
    cursor = instant;
    if (transition.to >= transition.from) continue;  // not a fall-back
    if (FindMatch(*spec_, civil::Time::FromAbsl(transition.to), last_year, &match) &&
        match.ToAbsl() < transition.from) {
      return instant + absl::Seconds(match.ToAbsl() - transition.to);
    }
  }
  return primary;
}

}  // namespace dts::cron
