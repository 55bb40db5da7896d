#include "cron/parser.h"

#include <array>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"

namespace dts::cron {
namespace {

enum class FieldKind { kSecond, kMinute, kHour, kDayOfMonth, kMonth, kDayOfWeek };

struct FieldInfo {
  FieldKind kind;
  absl::string_view name;
  int min;
  int max;       // largest value accepted in the text (7 for day-of-week)
  int wrap_max;  // largest value of the cycle `*` and wrapped ranges walk (6 for day-of-week)
};

constexpr FieldInfo kSecondField{FieldKind::kSecond, "second", 0, 59, 59};
constexpr FieldInfo kMinuteField{FieldKind::kMinute, "minute", 0, 59, 59};
constexpr FieldInfo kHourField{FieldKind::kHour, "hour", 0, 23, 23};
constexpr FieldInfo kDomField{FieldKind::kDayOfMonth, "day-of-month", 1, 31, 31};
constexpr FieldInfo kMonthField{FieldKind::kMonth, "month", 1, 12, 12};
constexpr FieldInfo kDowField{FieldKind::kDayOfWeek, "day-of-week", 0, 7, 6};

constexpr std::array<absl::string_view, 12> kMonthNames = {
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"};
constexpr std::array<absl::string_view, 7> kDayNames = {"sun", "mon", "tue", "wed",
                                                       "thu", "fri", "sat"};

absl::Status FieldError(const FieldInfo& field, absl::string_view text, absl::string_view why) {
  return absl::InvalidArgumentError(
      absl::StrCat("invalid ", field.name, " field \"", text, "\": ", why));
}

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// Parses a non-negative decimal number that is the whole of `text`.
std::optional<int> ParseNumber(absl::string_view text) {
  if (text.empty() || text.size() > 9) return std::nullopt;
  int value = 0;
  for (char c : text) {
    if (!IsDigit(c)) return std::nullopt;
    value = value * 10 + (c - '0');
  }
  return value;
}

std::optional<int> LookupName(absl::string_view text, FieldKind kind) {
  if (text.size() != 3) return std::nullopt;
  const char lower[3] = {absl::ascii_tolower(text[0]), absl::ascii_tolower(text[1]),
                         absl::ascii_tolower(text[2])};
  const absl::string_view key(lower, 3);
  if (kind == FieldKind::kMonth) {
    for (size_t i = 0; i < kMonthNames.size(); ++i) {
      if (kMonthNames[i] == key) return static_cast<int>(i) + 1;
    }
  } else if (kind == FieldKind::kDayOfWeek) {
    for (size_t i = 0; i < kDayNames.size(); ++i) {
      if (kDayNames[i] == key) return static_cast<int>(i);
    }
  }
  return std::nullopt;
}

// Parses one value (a number or, for month and day-of-week, a name) and checks
// it against the field's range.
absl::StatusOr<int> ParseValue(const FieldInfo& field, absl::string_view field_text,
                               absl::string_view text) {
  if (text.empty()) return FieldError(field, field_text, "missing value");
  if (IsDigit(text[0])) {
    std::optional<int> v = ParseNumber(text);
    if (!v) return FieldError(field, field_text, absl::StrCat("\"", text, "\" is not a number"));
    if (*v < field.min || *v > field.max) {
      return FieldError(field, field_text,
                        absl::StrCat(*v, " is out of range ", field.min, "-", field.max));
    }
    return *v;
  }
  if (std::optional<int> v = LookupName(text, field.kind)) return *v;
  return FieldError(field, field_text, absl::StrCat("unknown name \"", text, "\""));
}

// Accumulates the values of one field as a bit set.
class BitSink {
 public:
  void Set(int v) { bits_ |= uint64_t{1} << v; }
  uint64_t bits() const { return bits_; }

 private:
  uint64_t bits_ = 0;
};

// Adds lo..hi (wrapping past wrap_max back to min when lo > hi) every `step`.
void AddRange(const FieldInfo& field, int lo, int hi, int step, BitSink& sink) {
  const int cycle = field.wrap_max - field.min + 1;
  const int length = lo <= hi ? hi - lo + 1 : (field.wrap_max - lo + 1) + (hi - field.min + 1);
  for (int i = 0; i < length; i += step) {
    int v = lo + i;
    if (v > field.wrap_max && lo > hi) v -= cycle;
    sink.Set(v);
  }
}

struct StepSplit {
  absl::string_view base;
  std::optional<int> step;
};

absl::StatusOr<StepSplit> SplitStep(const FieldInfo& field, absl::string_view field_text,
                                    absl::string_view item) {
  const size_t slash = item.find('/');
  if (slash == absl::string_view::npos) return StepSplit{item, std::nullopt};
  const absl::string_view step_text = item.substr(slash + 1);
  std::optional<int> step = ParseNumber(step_text);
  if (!step) {
    return FieldError(field, field_text, absl::StrCat("step \"", step_text, "\" is not a number"));
  }
  if (*step == 0) return FieldError(field, field_text, "step must be at least 1");
  return StepSplit{item.substr(0, slash), step};
}

// The generic item grammar: `*`, `?`, value, or range, each with an optional
// `/step`.
absl::Status ParseGenericItem(const FieldInfo& field, absl::string_view field_text,
                              absl::string_view item, BitSink& sink) {
  absl::StatusOr<StepSplit> split = SplitStep(field, field_text, item);
  if (!split.ok()) return split.status();
  const absl::string_view base = split->base;
  const int step = split->step.value_or(1);

  if (base == "*" || base == "?") {
    if (base == "?" && field.kind != FieldKind::kDayOfMonth &&
        field.kind != FieldKind::kDayOfWeek) {
      return FieldError(field, field_text, "'?' is allowed only in the day fields");
    }
    AddRange(field, field.min, field.wrap_max, step, sink);
    return absl::OkStatus();
  }

  const size_t dash = base.find('-', 1);
  if (dash == absl::string_view::npos) {
    absl::StatusOr<int> v = ParseValue(field, field_text, base);
    if (!v.ok()) return v.status();
    if (split->step) {
      // `a/step` means `a-max/step`.
      int lo = *v;
      if (field.kind == FieldKind::kDayOfWeek && lo == 7) lo = 0;
      AddRange(field, lo, field.wrap_max, step, sink);
    } else {
      sink.Set(field.kind == FieldKind::kDayOfWeek && *v == 7 ? 0 : *v);
    }
    return absl::OkStatus();
  }

  absl::StatusOr<int> lo = ParseValue(field, field_text, base.substr(0, dash));
  if (!lo.ok()) return lo.status();
  absl::StatusOr<int> hi = ParseValue(field, field_text, base.substr(dash + 1));
  if (!hi.ok()) return hi.status();
  int a = *lo;
  int b = *hi;
  if (field.kind == FieldKind::kDayOfWeek) {
    // 7 is Sunday too: as a start it is 0; as an end of an ascending range
    // (`5-7`) it stays 7 and is folded to 0 below.
    if (a == 7) a = 0;
  }
  if (field.kind == FieldKind::kDayOfWeek && a <= b && b == 7) {
    AddRange(field, a, 6, step, sink);
    if ((7 - a) % step == 0) sink.Set(0);
    return absl::OkStatus();
  }
  AddRange(field, a, b, step, sink);
  return absl::OkStatus();
}

// Day-of-month extras: L, L-n, nW, LW. Returns true when `item` was one.
absl::StatusOr<bool> ParseDomExtra(absl::string_view field_text, absl::string_view item,
                                   Spec& spec) {
  const FieldInfo& field = kDomField;
  const auto upper_is = [&](absl::string_view s) { return absl::EqualsIgnoreCase(item, s); };
  if (upper_is("L")) {
    spec.dom_last = true;
    return true;
  }
  if (upper_is("LW")) {
    spec.dom_last_weekday = true;
    return true;
  }
  if (item.size() >= 2 && (item[0] == 'L' || item[0] == 'l') && item[1] == '-') {
    std::optional<int> n = ParseNumber(item.substr(2));
    if (!n) return FieldError(field, field_text, absl::StrCat("\"", item, "\" is not L-n"));
    if (*n > 30) return FieldError(field, field_text, absl::StrCat("L-", *n, " is out of range L-0 to L-30"));
    if (*n == 0) {
      spec.dom_last = true;
    } else {
      spec.dom_last_offsets |= uint32_t{1} << *n;
    }
    return true;
  }
  if (item.size() >= 2 && (item.back() == 'W' || item.back() == 'w')) {
    std::optional<int> n = ParseNumber(item.substr(0, item.size() - 1));
    if (!n) return FieldError(field, field_text, absl::StrCat("\"", item, "\" is not nW"));
    if (*n < 1 || *n > 31) {
      return FieldError(field, field_text, absl::StrCat(*n, "W is out of range 1-31"));
    }
    spec.dom_nearest_weekday |= uint32_t{1} << *n;
    return true;
  }
  return false;
}

// Day-of-week extras: d#k and dL. Returns true when `item` was one.
absl::StatusOr<bool> ParseDowExtra(absl::string_view field_text, absl::string_view item,
                                   Spec& spec) {
  const FieldInfo& field = kDowField;
  const size_t hash = item.find('#');
  if (hash != absl::string_view::npos) {
    absl::StatusOr<int> d = ParseValue(field, field_text, item.substr(0, hash));
    if (!d.ok()) return d.status();
    std::optional<int> k = ParseNumber(item.substr(hash + 1));
    if (!k || *k < 1 || *k > 5) {
      return FieldError(field, field_text,
                        absl::StrCat("\"", item, "\": # needs k in 1-5"));
    }
    spec.dow_nth[*d % 7] |= static_cast<uint8_t>(1u << *k);
    return true;
  }
  if (item.size() >= 2 && (item.back() == 'L' || item.back() == 'l')) {
    absl::StatusOr<int> d = ParseValue(field, field_text, item.substr(0, item.size() - 1));
    if (!d.ok()) return d.status();
    spec.dow_last |= static_cast<uint8_t>(1u << (*d % 7));
    return true;
  }
  if (absl::EqualsIgnoreCase(item, "L")) {
    return FieldError(field, field_text, "L needs a weekday, as in 5L (last Friday)");
  }
  return false;
}

absl::Status ParseField(const FieldInfo& field, absl::string_view text, Spec& spec,
                        uint64_t& bits) {
  BitSink sink;
  size_t start = 0;
  while (true) {
    const size_t comma = text.find(',', start);
    const absl::string_view item =
        text.substr(start, comma == absl::string_view::npos ? absl::string_view::npos
                                                           : comma - start);
    if (item.empty()) return FieldError(field, text, "empty item");
    absl::StatusOr<bool> extra = false;
    if (field.kind == FieldKind::kDayOfMonth) extra = ParseDomExtra(text, item, spec);
    if (field.kind == FieldKind::kDayOfWeek) extra = ParseDowExtra(text, item, spec);
    if (!extra.ok()) return extra.status();
    if (!*extra) {
      absl::Status s = ParseGenericItem(field, text, item, sink);
      if (!s.ok()) return s;
    }
    if (comma == absl::string_view::npos) break;
    start = comma + 1;
  }
  bits = sink.bits();
  return absl::OkStatus();
}

bool IsUnrestricted(absl::string_view text) { return text == "?" || (!text.empty() && text[0] == '*'); }

// Splits on runs of blanks. Returns the number of fields found (may exceed
// `out.size()`, in which case the excess is not stored).
size_t SplitFields(absl::string_view text, std::array<absl::string_view, 6>& out) {
  size_t count = 0;
  size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && (text[i] == ' ' || text[i] == '\t')) ++i;
    if (i >= text.size()) break;
    size_t j = i;
    while (j < text.size() && text[j] != ' ' && text[j] != '\t') ++j;
    if (count < out.size()) out[count] = text.substr(i, j - i);
    ++count;
    i = j;
  }
  return count;
}

absl::StatusOr<absl::Duration> ParseEvery(absl::string_view text) {
  const auto error = [&](absl::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid @every duration \"", text, "\": ", why));
  };
  if (text.empty()) return error("missing duration, as in @every 90s or @every 1h30m");
  int64_t total = 0;
  int last_unit_rank = -1;  // h=0, m=1, s=2: units must appear in that order, once each
  size_t i = 0;
  while (i < text.size()) {
    size_t j = i;
    while (j < text.size() && IsDigit(text[j])) ++j;
    if (j == i) return error("expected a number before each unit");
    if (j - i > 9) return error("number too large");
    if (j == text.size()) return error("missing unit after the number (h, m or s)");
    const int64_t n = *ParseNumber(text.substr(i, j - i));
    int rank;
    int64_t unit;
    switch (text[j]) {
      case 'h': rank = 0; unit = 3600; break;
      case 'm': rank = 1; unit = 60; break;
      case 's': rank = 2; unit = 1; break;
      default:
        return error(absl::StrCat("unknown unit '", absl::string_view(&text[j], 1),
                                  "' (use h, m and s)"));
    }
    if (rank <= last_unit_rank) return error("units must appear once each, in the order h, m, s");
    last_unit_rank = rank;
    total += n * unit;
    i = j + 1;
  }
  if (total < 1) return error("the minimum is 1s");
  constexpr int64_t kMaxSeconds = int64_t{100} * 366 * 24 * 3600;
  if (total > kMaxSeconds) return error("the maximum is 100 years");
  return absl::Seconds(total);
}

struct Macro {
  absl::string_view name;
  absl::string_view fields;
};
constexpr std::array<Macro, 7> kMacros = {{
    {"@yearly", "0 0 1 1 *"},
    {"@annually", "0 0 1 1 *"},
    {"@monthly", "0 0 1 * *"},
    {"@weekly", "0 0 * * 0"},
    {"@daily", "0 0 * * *"},
    {"@midnight", "0 0 * * *"},
    {"@hourly", "0 * * * *"},
}};

uint32_t DowMaskForFirstWeekday(uint8_t dow_bits, int first_weekday) {
  uint32_t mask = 0;
  for (int day = 1; day <= 31; ++day) {
    if (dow_bits & (1u << ((first_weekday + day - 1) % 7))) mask |= uint32_t{1} << day;
  }
  return mask;
}

absl::StatusOr<Spec> ParseFields(absl::string_view text) {
  std::array<absl::string_view, 6> f;
  const size_t count = SplitFields(text, f);
  if (count != 5 && count != 6) {
    return absl::InvalidArgumentError(absl::StrCat(
        "invalid cron expression \"", text, "\": expected 5 fields (minute hour day-of-month "
        "month day-of-week) or 6 (with seconds first), got ", count));
  }
  Spec spec;
  size_t i = 0;
  uint64_t bits = 0;
  if (count == 6) {
    if (absl::Status s = ParseField(kSecondField, f[i++], spec, bits); !s.ok()) return s;
    spec.seconds = bits;
  } else {
    spec.seconds = 1;
  }
  if (absl::Status s = ParseField(kMinuteField, f[i++], spec, bits); !s.ok()) return s;
  spec.minutes = bits;
  const absl::string_view hour_text = f[i++];
  if (absl::Status s = ParseField(kHourField, hour_text, spec, bits); !s.ok()) return s;
  spec.hours = static_cast<uint32_t>(bits);
  spec.hour_star = hour_text[0] == '*';
  const absl::string_view dom_text = f[i++];
  if (absl::Status s = ParseField(kDomField, dom_text, spec, bits); !s.ok()) return s;
  spec.dom = static_cast<uint32_t>(bits);
  if (absl::Status s = ParseField(kMonthField, f[i++], spec, bits); !s.ok()) return s;
  spec.months = static_cast<uint16_t>(bits);
  const absl::string_view dow_text = f[i++];
  if (absl::Status s = ParseField(kDowField, dow_text, spec, bits); !s.ok()) return s;
  spec.dow = static_cast<uint8_t>(bits);

  spec.dom_restricted = !IsUnrestricted(dom_text);
  spec.dow_restricted = !IsUnrestricted(dow_text);
  spec.has_dom_extras = spec.dom_last || spec.dom_last_offsets != 0 ||
                        spec.dom_nearest_weekday != 0 || spec.dom_last_weekday;
  spec.has_dow_extras = spec.dow_last != 0;
  for (uint8_t nth : spec.dow_nth) spec.has_dow_extras |= nth != 0;
  for (int w = 0; w < 7; ++w) spec.dow_by_first[w] = DowMaskForFirstWeekday(spec.dow, w);
  return spec;
}

}  // namespace

absl::StatusOr<ParsedExpression> ParseExpression(absl::string_view expr) {
  ParsedExpression out;
  absl::string_view text = absl::StripAsciiWhitespace(expr);
  if (text.empty()) return absl::InvalidArgumentError("empty cron expression");

  for (absl::string_view prefix : {absl::string_view("CRON_TZ="), absl::string_view("TZ=")}) {
    if (absl::StartsWith(text, prefix)) {
      text.remove_prefix(prefix.size());
      const size_t end = text.find_first_of(" \t");
      out.zone_name = text.substr(0, end);
      if (out.zone_name.empty()) {
        return absl::InvalidArgumentError(
            absl::StrCat("invalid cron expression \"", expr, "\": ", prefix, " needs a zone name"));
      }
      text = end == absl::string_view::npos ? absl::string_view()
                                           : absl::StripLeadingAsciiWhitespace(text.substr(end));
      if (text.empty()) {
        return absl::InvalidArgumentError(absl::StrCat(
            "invalid cron expression \"", expr, "\": nothing follows the time zone prefix"));
      }
      break;
    }
  }

  if (text[0] == '@') {
    const size_t end = text.find_first_of(" \t");
    const absl::string_view name = text.substr(0, end);
    const absl::string_view rest =
        end == absl::string_view::npos ? absl::string_view()
                                      : absl::StripLeadingAsciiWhitespace(text.substr(end));
    if (absl::EqualsIgnoreCase(name, "@at")) {
      std::string error;
      if (rest.empty() || !absl::ParseTime(absl::RFC3339_full, rest, &out.spec.at, &error)) {
        return absl::InvalidArgumentError(absl::StrCat(
            "invalid @at time \"", rest, "\": expected RFC3339, as in @at 2026-12-01T10:00:00Z"));
      }
      out.spec.one_off = true;
      return out;
    }
    if (absl::EqualsIgnoreCase(name, "@every")) {
      absl::StatusOr<absl::Duration> interval = ParseEvery(rest);
      if (!interval.ok()) return interval.status();
      out.spec.interval = *interval;
      return out;
    }
    for (const Macro& macro : kMacros) {
      if (absl::EqualsIgnoreCase(name, macro.name)) {
        if (!rest.empty()) {
          return absl::InvalidArgumentError(absl::StrCat(
              "invalid cron expression \"", expr, "\": unexpected text after ", macro.name));
        }
        absl::StatusOr<Spec> spec = ParseFields(macro.fields);
        if (!spec.ok()) return spec.status();
        out.spec = *spec;
        return out;
      }
    }
    return absl::InvalidArgumentError(absl::StrCat(
        "invalid cron expression \"", expr, "\": unknown macro \"", name,
        "\" (known: @yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly, @every, @at)"));
  }

  absl::StatusOr<Spec> spec = ParseFields(text);
  if (!spec.ok()) return spec.status();
  out.spec = *spec;
  return out;
}

}  // namespace dts::cron
