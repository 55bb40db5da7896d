#include "cron/parser.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace dts::cron {
namespace {

using ::testing::HasSubstr;

Spec MustParse(absl::string_view expr) {
  absl::StatusOr<ParsedExpression> parsed = ParseExpression(expr);
  EXPECT_TRUE(parsed.ok()) << expr << ": " << parsed.status();
  return parsed.ok() ? parsed->spec : Spec{};
}

std::string ErrorOf(absl::string_view expr) {
  absl::StatusOr<ParsedExpression> parsed = ParseExpression(expr);
  EXPECT_FALSE(parsed.ok()) << expr << " parsed but should not";
  if (parsed.ok()) return "";
  EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument);
  return std::string(parsed.status().message());
}

uint64_t Bits(std::initializer_list<int> values) {
  uint64_t bits = 0;
  for (int v : values) bits |= uint64_t{1} << v;
  return bits;
}

TEST(ParserTest, FiveFieldsMeanSecondZero) {
  const Spec spec = MustParse("* * * * *");
  EXPECT_EQ(spec.seconds, 1u);
  EXPECT_EQ(spec.minutes, (uint64_t{1} << 60) - 1);
  EXPECT_EQ(spec.hours, (1u << 24) - 1);
  EXPECT_EQ(spec.dom, ((1u << 31) - 1) << 1);
  EXPECT_EQ(spec.months, ((1u << 12) - 1) << 1);
  EXPECT_EQ(spec.dow, 0x7f);
  EXPECT_FALSE(spec.dom_restricted);
  EXPECT_FALSE(spec.dow_restricted);
  EXPECT_TRUE(spec.hour_star);
}

TEST(ParserTest, SixFieldsStartWithSeconds) {
  const Spec spec = MustParse("*/10 5 * * * *");
  EXPECT_EQ(spec.seconds, Bits({0, 10, 20, 30, 40, 50}));
  EXPECT_EQ(spec.minutes, Bits({5}));
}

TEST(ParserTest, ListsRangesAndSteps) {
  EXPECT_EQ(MustParse("1,5,10-12 * * * *").minutes, Bits({1, 5, 10, 11, 12}));
  EXPECT_EQ(MustParse("10-20/5 * * * *").minutes, Bits({10, 15, 20}));
  EXPECT_EQ(MustParse("50/4 * * * *").minutes, Bits({50, 54, 58}));  // a/step = a-max/step
  EXPECT_EQ(MustParse("0 */6 * * *").hours, Bits({0, 6, 12, 18}));
  EXPECT_EQ(MustParse("0 0 */10 * *").dom, Bits({1, 11, 21, 31}));
  EXPECT_EQ(MustParse("*/100 * * * *").minutes, Bits({0}));
}

TEST(ParserTest, WrappingRanges) {
  EXPECT_EQ(MustParse("0 22-2 * * *").hours, Bits({22, 23, 0, 1, 2}));
  EXPECT_EQ(MustParse("0 22-2/2 * * *").hours, Bits({22, 0, 2}));
  EXPECT_EQ(MustParse("0 0 30-2 * *").dom, Bits({30, 31, 1, 2}));
  EXPECT_EQ(MustParse("0 0 * NOV-FEB *").months, Bits({11, 12, 1, 2}));
  EXPECT_EQ(MustParse("0 0 * * FRI-MON").dow, Bits({5, 6, 0, 1}));
  // The step counts along FRI,SAT,SUN,MON.
  EXPECT_EQ(MustParse("0 0 * * FRI-MON/2").dow, Bits({5, 0}));
  EXPECT_EQ(MustParse("58-2/2 * * * *").minutes, Bits({58, 0, 2}));
}

TEST(ParserTest, NamesAreCaseInsensitive) {
  EXPECT_EQ(MustParse("0 0 * jan,Mar,DEC *").months, Bits({1, 3, 12}));
  EXPECT_EQ(MustParse("0 0 * * mon-FRI").dow, Bits({1, 2, 3, 4, 5}));
  EXPECT_EQ(MustParse("0 0 * * sun").dow, Bits({0}));
}

TEST(ParserTest, SevenIsSunday) {
  EXPECT_EQ(MustParse("0 0 * * 7").dow, Bits({0}));
  EXPECT_EQ(MustParse("0 0 * * 5-7").dow, Bits({5, 6, 0}));
  EXPECT_EQ(MustParse("0 0 * * 0,7").dow, Bits({0}));
  EXPECT_EQ(MustParse("0 0 * * 7-2").dow, Bits({0, 1, 2}));
}

TEST(ParserTest, QuestionMarkIsStarInDayFields) {
  const Spec spec = MustParse("0 0 ? * MON");
  EXPECT_FALSE(spec.dom_restricted);
  EXPECT_TRUE(spec.dow_restricted);
  EXPECT_EQ(spec.dom, ((1u << 31) - 1) << 1);
  EXPECT_FALSE(MustParse("0 0 1 * ?").dow_restricted);
}

TEST(ParserTest, RestrictedDayFields) {
  EXPECT_TRUE(MustParse("0 0 1 * MON").dom_restricted);
  EXPECT_TRUE(MustParse("0 0 1 * MON").dow_restricted);
  EXPECT_FALSE(MustParse("0 0 */10 * MON").dom_restricted);
  EXPECT_FALSE(MustParse("0 0 1 * */2").dow_restricted);
}

TEST(ParserTest, HourStar) {
  EXPECT_TRUE(MustParse("0 * * * *").hour_star);
  EXPECT_TRUE(MustParse("0 */2 * * *").hour_star);
  EXPECT_TRUE(MustParse("0 *,5 * * *").hour_star);
  EXPECT_FALSE(MustParse("0 0-23 * * *").hour_star);
  EXPECT_FALSE(MustParse("0 1 * * *").hour_star);
  EXPECT_TRUE(MustParse("@hourly").hour_star);
  EXPECT_FALSE(MustParse("@daily").hour_star);
}

TEST(ParserTest, DayOfMonthExtras) {
  Spec spec = MustParse("0 0 L * *");
  EXPECT_TRUE(spec.dom_last);
  EXPECT_EQ(spec.dom, 0u);
  spec = MustParse("0 0 L-3,l-1 * *");
  EXPECT_EQ(spec.dom_last_offsets, Bits({3, 1}));
  spec = MustParse("0 0 15W,1w * *");
  EXPECT_EQ(spec.dom_nearest_weekday, Bits({15, 1}));
  EXPECT_TRUE(MustParse("0 0 LW * *").dom_last_weekday);
  spec = MustParse("0 0 1,L * *");
  EXPECT_EQ(spec.dom, Bits({1}));
  EXPECT_TRUE(spec.dom_last);
  EXPECT_TRUE(MustParse("0 0 L-0 * *").dom_last);
}

TEST(ParserTest, DayOfWeekExtras) {
  Spec spec = MustParse("0 10 * * FRI#2");
  EXPECT_EQ(spec.dow_nth[5], 1u << 2);
  EXPECT_EQ(spec.dow, 0u);
  EXPECT_TRUE(spec.dow_restricted);
  spec = MustParse("0 10 * * 5L,0#5");
  EXPECT_EQ(spec.dow_last, 1u << 5);
  EXPECT_EQ(spec.dow_nth[0], 1u << 5);
  EXPECT_EQ(MustParse("0 0 * * 7L").dow_last, 1u);
}

TEST(ParserTest, Macros) {
  struct Case {
    const char* macro;
    const char* fields;
  };
  for (const Case& c : {Case{"@yearly", "0 0 1 1 *"}, Case{"@ANNUALLY", "0 0 1 1 *"},
                        Case{"@monthly", "0 0 1 * *"}, Case{"@Weekly", "0 0 * * 0"},
                        Case{"@daily", "0 0 * * *"}, Case{"@midnight", "0 0 * * *"},
                        Case{"@hourly", "0 * * * *"}}) {
    const Spec a = MustParse(c.macro);
    const Spec b = MustParse(c.fields);
    EXPECT_EQ(a.minutes, b.minutes) << c.macro;
    EXPECT_EQ(a.hours, b.hours) << c.macro;
    EXPECT_EQ(a.dom, b.dom) << c.macro;
    EXPECT_EQ(a.months, b.months) << c.macro;
    EXPECT_EQ(a.dow, b.dow) << c.macro;
    EXPECT_EQ(a.dom_restricted, b.dom_restricted) << c.macro;
    EXPECT_EQ(a.dow_restricted, b.dow_restricted) << c.macro;
  }
}

TEST(ParserTest, Every) {
  EXPECT_EQ(MustParse("@every 90s").interval, absl::Seconds(90));
  EXPECT_EQ(MustParse("@every 1h30m").interval, absl::Minutes(90));
  EXPECT_EQ(MustParse("@every 2h").interval, absl::Hours(2));
  EXPECT_EQ(MustParse("@every 1m1s").interval, absl::Seconds(61));
  EXPECT_EQ(MustParse("@EVERY 1s").interval, absl::Seconds(1));
}

TEST(ParserTest, ZonePrefix) {
  absl::StatusOr<ParsedExpression> parsed = ParseExpression("CRON_TZ=Europe/London 0 9 * * *");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->zone_name, "Europe/London");
  EXPECT_EQ(parsed->spec.hours, 1u << 9);
  parsed = ParseExpression("TZ=Asia/Tokyo @daily");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->zone_name, "Asia/Tokyo");
}

TEST(ParserTest, BlanksSeparateFields) {
  EXPECT_EQ(MustParse("  5\t 4  *  * *  ").minutes, Bits({5}));
}

TEST(ParserErrorTest, FieldCount) {
  EXPECT_THAT(ErrorOf("* * * *"), HasSubstr("got 4"));
  EXPECT_THAT(ErrorOf("* * * * * * *"), HasSubstr("got 7"));
  EXPECT_THAT(ErrorOf(""), HasSubstr("empty"));
  EXPECT_THAT(ErrorOf("   "), HasSubstr("empty"));
}

TEST(ParserErrorTest, NamesFieldAndText) {
  EXPECT_THAT(ErrorOf("61 * * * *"), HasSubstr("invalid minute field \"61\": 61 is out of range 0-59"));
  EXPECT_THAT(ErrorOf("0 24 * * *"), HasSubstr("invalid hour field \"24\""));
  EXPECT_THAT(ErrorOf("0 0 0 * *"), HasSubstr("invalid day-of-month field \"0\""));
  EXPECT_THAT(ErrorOf("0 0 32 * *"), HasSubstr("day-of-month"));
  EXPECT_THAT(ErrorOf("0 0 * 13 *"), HasSubstr("invalid month field \"13\""));
  EXPECT_THAT(ErrorOf("0 0 * * 8"), HasSubstr("invalid day-of-week field \"8\""));
  EXPECT_THAT(ErrorOf("60 * * * * *"), HasSubstr("invalid second field \"60\""));
}

TEST(ParserErrorTest, EmptyItems) {
  EXPECT_THAT(ErrorOf("1,,2 * * * *"), HasSubstr("minute field \"1,,2\": empty item"));
  EXPECT_THAT(ErrorOf("1, * * * *"), HasSubstr("empty item"));
  EXPECT_THAT(ErrorOf(",1 * * * *"), HasSubstr("empty item"));
}

TEST(ParserErrorTest, Steps) {
  EXPECT_THAT(ErrorOf("*/0 * * * *"), HasSubstr("step must be at least 1"));
  EXPECT_THAT(ErrorOf("*/x * * * *"), HasSubstr("step \"x\" is not a number"));
  EXPECT_THAT(ErrorOf("*/ * * * *"), HasSubstr("step"));
}

TEST(ParserErrorTest, Names) {
  EXPECT_THAT(ErrorOf("0 0 * FOO *"), HasSubstr("unknown name \"FOO\""));
  EXPECT_THAT(ErrorOf("0 0 * * MONDAY"), HasSubstr("unknown name \"MONDAY\""));
  EXPECT_THAT(ErrorOf("0 0 JAN * *"), HasSubstr("day-of-month"));  // names only in month/dow
  EXPECT_THAT(ErrorOf("@fortnightly"), HasSubstr("unknown macro \"@fortnightly\""));
  EXPECT_THAT(ErrorOf("@daily 5"), HasSubstr("unexpected text after @daily"));
  EXPECT_THAT(ErrorOf("-5 * * * *"), HasSubstr("minute"));
}

TEST(ParserErrorTest, QuestionMarkOutsideDayFields) {
  EXPECT_THAT(ErrorOf("? * * * *"), HasSubstr("'?' is allowed only in the day fields"));
  EXPECT_THAT(ErrorOf("0 0 * ? *"), HasSubstr("month"));
}

TEST(ParserErrorTest, Extras) {
  EXPECT_THAT(ErrorOf("0 0 * * FRI#6"), HasSubstr("# needs k in 1-5"));
  EXPECT_THAT(ErrorOf("0 0 * * FRI#0"), HasSubstr("# needs k in 1-5"));
  EXPECT_THAT(ErrorOf("0 0 * * FRI#"), HasSubstr("# needs k in 1-5"));
  EXPECT_THAT(ErrorOf("0 0 * * L"), HasSubstr("L needs a weekday"));
  EXPECT_THAT(ErrorOf("0 0 32W * *"), HasSubstr("32W is out of range"));
  EXPECT_THAT(ErrorOf("0 0 L-31 * *"), HasSubstr("out of range"));
  EXPECT_THAT(ErrorOf("0 0 * * 9L"), HasSubstr("9 is out of range 0-7"));
  EXPECT_THAT(ErrorOf("0 L * * *"), HasSubstr("hour"));
}

TEST(ParserErrorTest, MalformedDurations) {
  EXPECT_THAT(ErrorOf("@every"), HasSubstr("missing duration"));
  EXPECT_THAT(ErrorOf("@every 0s"), HasSubstr("minimum is 1s"));
  EXPECT_THAT(ErrorOf("@every 10"), HasSubstr("missing unit"));
  EXPECT_THAT(ErrorOf("@every 1d"), HasSubstr("unknown unit 'd'"));
  EXPECT_THAT(ErrorOf("@every 30m1h"), HasSubstr("order h, m, s"));
  EXPECT_THAT(ErrorOf("@every 1m1m"), HasSubstr("order h, m, s"));
  EXPECT_THAT(ErrorOf("@every -1s"), HasSubstr("number"));
  EXPECT_THAT(ErrorOf("@every 1h 30m"), HasSubstr("number"));
  EXPECT_THAT(ErrorOf("@every 999999999h"), HasSubstr("maximum"));
}

TEST(ParserErrorTest, ZonePrefixNeedsText) {
  EXPECT_THAT(ErrorOf("CRON_TZ="), HasSubstr("needs a zone name"));
  EXPECT_THAT(ErrorOf("CRON_TZ=UTC"), HasSubstr("nothing follows"));
}

}  // namespace
}  // namespace dts::cron
