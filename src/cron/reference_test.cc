// Compares Schedule::Next() with a brute-force reference that steps through
// time minute by minute (second by second for 6-field expressions), on
// thousands of random expressions, zones and start times. Start times are
// drawn near DST transitions, where the bugs live.

#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "cron/civil.h"
#include "cron/matcher.h"
#include "cron/parser.h"
#include "cron/test_util.h"
#include "gtest/gtest.h"

namespace dts::cron {
namespace {

using testing::Utc;

// ---- The reference: direct definitions, no bit tricks, no calendar search.

struct Reference {
  Spec spec;
  bool seconds_field;
  bool dom_restricted;
  bool dow_restricted;
  bool hour_star;
};

int Weekday(int64_t y, int m, int d) { return civil::WeekdayFromDays(civil::DaysFromCivil(y, m, d)); }
bool IsWorkday(int64_t y, int m, int d) {
  const int w = Weekday(y, m, d);
  return w != 0 && w != 6;
}

bool DomMatches(const Spec& s, int64_t y, int m, int d) {
  const int dim = civil::DaysInMonth(y, m);
  if (s.dom & (1u << d)) return true;
  if (s.dom_last && d == dim) return true;
  for (int n = 1; n <= 30; ++n) {
    if ((s.dom_last_offsets & (1u << n)) && d == dim - n) return true;
  }
  for (int n = 1; n <= 31; ++n) {
    if (!(s.dom_nearest_weekday & (1u << n)) || n > dim) continue;
    int best = -1;
    for (int c = 1; c <= dim; ++c) {
      if (IsWorkday(y, m, c) && (best < 0 || std::abs(c - n) < std::abs(best - n))) best = c;
    }
    if (d == best) return true;
  }
  if (s.dom_last_weekday) {
    int last = dim;
    while (!IsWorkday(y, m, last)) --last;
    if (d == last) return true;
  }
  return false;
}

bool DowMatches(const Spec& s, int64_t y, int m, int d) {
  const int w = Weekday(y, m, d);
  const int dim = civil::DaysInMonth(y, m);
  if (s.dow & (1u << w)) return true;
  if ((s.dow_nth[w] & (1u << ((d - 1) / 7 + 1)))) return true;
  if ((s.dow_last & (1u << w)) && d + 7 > dim) return true;
  return false;
}

bool Matches(const Reference& r, const absl::CivilSecond& c) {
  const Spec& s = r.spec;
  if (!(s.seconds & (uint64_t{1} << c.second()))) return false;
  if (!(s.minutes & (uint64_t{1} << c.minute()))) return false;
  if (!(s.hours & (1u << c.hour()))) return false;
  if (!(s.months & (1u << c.month()))) return false;
  const bool dom = DomMatches(s, c.year(), c.month(), c.day());
  const bool dow = DowMatches(s, c.year(), c.month(), c.day());
  return r.dom_restricted && r.dow_restricted ? (dom || dow) : (dom && dow);
}

// Fire instants in (after, until], in order.
std::vector<absl::Time> ReferenceFires(const Reference& r, const absl::TimeZone& zone,
                                       absl::Time after, absl::Time until) {
  const absl::Duration step = r.seconds_field ? absl::Seconds(1) : absl::Minutes(1);
  std::vector<absl::Time> fires;
  const int64_t step_seconds = absl::ToInt64Seconds(step);
  const int64_t after_seconds = absl::ToUnixSeconds(after);
  absl::Time u = absl::FromUnixSeconds(after_seconds - ((after_seconds % step_seconds) + step_seconds) % step_seconds);
  absl::CivilSecond prev = zone.At(u).cs;
  for (u += step; u <= until; u += step) {
    const absl::CivilSecond now = zone.At(u).cs;
    bool fire = false;
    if (now - prev > step / absl::Seconds(1)) {
      // A gap: wall times strictly between prev and now do not exist and fire
      // here, at the first instant after the gap.
      for (absl::CivilSecond c = prev + 1; c < now && !fire; c += 1) {
        fire = Matches(r, c);
      }
    }
    if (!fire && Matches(r, now)) {
      const absl::TimeZone::TimeInfo info = zone.At(now);
      const bool first = info.kind != absl::TimeZone::TimeInfo::REPEATED || info.pre == u;
      fire = first || r.hour_star;
    }
    if (fire && u > after) fires.push_back(u);
    prev = now;
  }
  return fires;
}

// ---- Random expressions.

class Generator {
 public:
  explicit Generator(uint32_t seed) : rng_(seed) {}

  int Uniform(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }
  bool Chance(int percent) { return Uniform(1, 100) <= percent; }

  std::string Generic(int lo, int hi, int hour_star_bias = 0) {
    const int kind = Uniform(0, 9 + hour_star_bias);
    const int a = Uniform(lo, hi);
    const int b = Uniform(lo, hi);
    switch (kind) {
      case 0: return absl::StrCat(a);
      case 1: return absl::StrCat(a, "-", b);  // may wrap
      case 2: return absl::StrCat(a, "-", b, "/", Uniform(1, 5));
      case 3: return absl::StrCat(a, ",", b);
      case 4: return absl::StrCat(a, "/", Uniform(1, 7));
      case 5: return absl::StrCat("*/", Uniform(1, (hi - lo) / 2 + 1));
      case 6: return absl::StrCat(a, ",", b, "-", Uniform(lo, hi));
      default: return "*";
    }
  }

  std::string Dom() {
    if (Chance(50)) return Generic(1, 31);
    switch (Uniform(0, 5)) {
      case 0: return "L";
      case 1: return absl::StrCat("L-", Uniform(1, 10));
      case 2: return absl::StrCat(Uniform(1, 31), "W");
      case 3: return "LW";
      case 4: return "?";
      default: return absl::StrCat(Uniform(1, 31), ",L");
    }
  }

  std::string Dow() {
    static constexpr const char* kNames[] = {"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"};
    if (Chance(40)) return "*";
    if (Chance(40)) return Generic(0, 7);
    switch (Uniform(0, 3)) {
      case 0: return absl::StrCat(kNames[Uniform(0, 6)], "#", Uniform(1, 5));
      case 1: return absl::StrCat(Uniform(0, 7), "L");
      case 2: return absl::StrCat(kNames[Uniform(0, 6)], "-", kNames[Uniform(0, 6)]);
      default: return "?";
    }
  }

  // Expressions dense enough that most fire within the brute-force window.
  std::string Expression(bool with_seconds) {
    std::vector<std::string> fields;
    if (with_seconds) fields.push_back(Generic(0, 59));
    fields.push_back(Chance(50) ? absl::StrCat("*/", Uniform(1, 30)) : Generic(0, 59));
    fields.push_back(Chance(40) ? "*" : Generic(0, 23, 4));
    const bool dense_days = Chance(60);
    fields.push_back(dense_days ? "*" : Dom());
    fields.push_back(Chance(85) ? "*" : Generic(1, 12));
    fields.push_back(dense_days && Chance(50) ? "*" : Dow());
    return absl::StrJoin(fields, " ");
  }

 private:
  std::mt19937 rng_;
};

bool FieldIsRestricted(absl::string_view text) { return text != "?" && text[0] != '*'; }

Reference MakeReference(const std::string& expr, const Spec& spec) {
  std::vector<std::string> f = absl::StrSplit(expr, ' ');
  const size_t base = f.size() == 6 ? 1 : 0;
  return Reference{spec, f.size() == 6, FieldIsRestricted(f[base + 2]),
                   FieldIsRestricted(f[base + 4]), f[base + 1][0] == '*'};
}

// DST transitions of `zone` between 1995 and 2045, where starts are drawn.
std::vector<absl::Time> Transitions(const absl::TimeZone& zone) {
  std::vector<absl::Time> out;
  absl::Time t = absl::FromCivil(absl::CivilSecond(1995, 1, 1), absl::UTCTimeZone());
  const absl::Time end = absl::FromCivil(absl::CivilSecond(2045, 1, 1), absl::UTCTimeZone());
  absl::TimeZone::CivilTransition tr;
  while (zone.NextTransition(t, &tr) && t < end) {
    t = zone.At(tr.to).kind == absl::TimeZone::TimeInfo::REPEATED ? zone.At(tr.to).trans
                                                                   : zone.At(tr.to).pre;
    out.push_back(t);
  }
  return out;
}

void CompareMany(const char* zone_name, bool with_seconds, int cases, uint32_t seed) {
  const absl::TimeZone zone = testing::Zone(zone_name);
  const std::vector<absl::Time> transitions = Transitions(zone);
  Generator gen(seed);
  const absl::Duration window = with_seconds ? absl::Hours(2) : absl::Hours(60);
  int compared_fires = 0;
  for (int i = 0; i < cases; ++i) {
    const std::string expr = gen.Expression(with_seconds);
    absl::StatusOr<ParsedExpression> parsed = ParseExpression(expr);
    ASSERT_TRUE(parsed.ok()) << expr << ": " << parsed.status();
    absl::StatusOr<Schedule> schedule = Schedule::Create(expr, zone);
    ASSERT_TRUE(schedule.ok()) << expr;
    const Reference ref = MakeReference(expr, parsed->spec);

    absl::Time start;
    if (!transitions.empty() && gen.Chance(80)) {
      const absl::Time near = transitions[gen.Uniform(0, static_cast<int>(transitions.size()) - 1)];
      start = near - absl::Seconds(gen.Uniform(0, static_cast<int>(absl::ToInt64Seconds(window))));
    } else {
      start = absl::FromUnixSeconds(gen.Uniform(820'000'000, 2'000'000'000));
    }
    if (gen.Chance(30)) start += absl::Milliseconds(gen.Uniform(1, 999));

    const absl::Time until = start + window;
    const std::vector<absl::Time> expected = ReferenceFires(ref, zone, start, until);
    absl::Time cursor = start;
    for (size_t k = 0;; ++k) {
      const std::optional<absl::Time> got = schedule->Next(cursor);
      if (k == expected.size()) {
        // The reference found nothing more in the window.
        EXPECT_TRUE(!got || *got > until)
            << expr << " in " << zone_name << " after " << Utc(cursor) << ": got extra fire "
            << Utc(*got);
        break;
      }
      ASSERT_TRUE(got.has_value()) << expr << " after " << Utc(cursor);
      ASSERT_EQ(Utc(*got), Utc(expected[k]))
          << expr << " in " << zone_name << ", fire " << k << " after " << Utc(start);
      cursor = *got;
      ++compared_fires;
    }
  }
  // The comparison must have covered real fires, not only empty windows.
  EXPECT_GT(compared_fires, cases);
}

// Day rules fire rarely inside the windows above, so check the day mask
// directly against the reference for every month of two centuries.
TEST(ReferenceTest, DayRulesEveryMonth) {
  Generator gen(42);
  std::vector<std::string> exprs = {"0 0 L * *", "0 0 LW * *"};
  for (int n = 1; n <= 31; ++n) exprs.push_back(absl::StrCat("0 0 ", n, "W * *"));
  for (int n = 1; n <= 30; ++n) exprs.push_back(absl::StrCat("0 0 L-", n, " * *"));
  for (int d = 0; d <= 7; ++d) {
    exprs.push_back(absl::StrCat("0 0 * * ", d, "L"));
    for (int k = 1; k <= 5; ++k) exprs.push_back(absl::StrCat("0 0 * * ", d, "#", k));
  }
  for (int i = 0; i < 300; ++i) exprs.push_back(absl::StrCat("0 0 ", gen.Dom(), " * ", gen.Dow()));
  int matched_days = 0;
  for (size_t i = 0; i < exprs.size(); ++i) {
    const std::string& expr = exprs[i];
    absl::StatusOr<ParsedExpression> parsed = ParseExpression(expr);
    ASSERT_TRUE(parsed.ok()) << expr << ": " << parsed.status();
    const Reference ref = MakeReference(expr, parsed->spec);
    for (int64_t year = 1950; year < 2150; year += 1 + i % 3) {
      for (int month = 1; month <= 12; ++month) {
        const uint32_t mask = DayMask(parsed->spec, year, month);
        for (int day = 1; day <= civil::DaysInMonth(year, month); ++day) {
          const bool expected = Matches(ref, absl::CivilSecond(year, month, day, 0, 0, 0));
          ASSERT_EQ((mask >> day) & 1, expected ? 1u : 0u)
              << expr << " on " << year << "-" << month << "-" << day;
          matched_days += expected;
        }
      }
    }
  }
  EXPECT_GT(matched_days, 1000);
}

TEST(ReferenceTest, NewYork) { CompareMany("America/New_York", false, 600, 1); }
TEST(ReferenceTest, London) { CompareMany("Europe/London", false, 400, 2); }
TEST(ReferenceTest, LordHowe) { CompareMany("Australia/Lord_Howe", false, 400, 3); }
TEST(ReferenceTest, Chatham) { CompareMany("Pacific/Chatham", false, 400, 4); }
TEST(ReferenceTest, SaoPaulo) { CompareMany("America/Sao_Paulo", false, 300, 5); }
TEST(ReferenceTest, Utc) { CompareMany("UTC", false, 400, 6); }
TEST(ReferenceTest, Kolkata) { CompareMany("Asia/Kolkata", false, 200, 7); }
TEST(ReferenceTest, SecondsNewYork) { CompareMany("America/New_York", true, 200, 8); }
TEST(ReferenceTest, SecondsLordHowe) { CompareMany("Australia/Lord_Howe", true, 200, 9); }

}  // namespace
}  // namespace dts::cron
