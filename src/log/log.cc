#include "dts/log/log.h"

#include <atomic>
#include <cstdio>
#include <memory>

#include "absl/random/random.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "spdlog/sinks/stdout_sinks.h"
#include "spdlog/spdlog.h"

namespace dts::log {
namespace {

std::atomic<Level> g_level{Level::kInfo};
std::atomic<Format> g_format{Format::kText};

absl::Mutex g_test_mu;
std::vector<std::string>* g_test_lines ABSL_GUARDED_BY(g_test_mu) = nullptr;

thread_local std::string t_request_id;

// spdlog writes the line we built ("%v"): it gives a thread-safe, flushed
// stderr sink; the format is ours, so that JSON escaping is right.
spdlog::logger& Logger() {
  static std::shared_ptr<spdlog::logger> logger = [] {
    auto l = std::make_shared<spdlog::logger>("dts",
                                              std::make_shared<spdlog::sinks::stderr_sink_mt>());
    l->set_pattern("%v");
    l->set_level(spdlog::level::trace);
    l->flush_on(spdlog::level::trace);
    return l;
  }();
  return *logger;
}

absl::string_view LevelName(Level level) {
  switch (level) {
    case Level::kDebug: return "debug";
    case Level::kInfo: return "info";
    case Level::kWarn: return "warn";
    case Level::kError: return "error";
  }
  return "info";
}

void AppendJsonString(std::string& out, absl::string_view text) {
  out += '"';
  for (unsigned char c : text) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          absl::StrAppendFormat(&out, "\\u%04x", c);
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  out += '"';
}

// key=value, quoted (with JSON escapes) when the value is empty or has a
// space, quote, '=' or control character, so that a line splits back.
void AppendTextValue(std::string& out, absl::string_view value) {
  bool plain = !value.empty();
  for (unsigned char c : value) {
    if (c <= ' ' || c == '"' || c == '=' || c == '\\' || c == 0x7f) plain = false;
  }
  if (plain) {
    out.append(value.data(), value.size());
  } else {
    AppendJsonString(out, value);
  }
}

}  // namespace

absl::Status SetFormat(absl::string_view flag, absl::string_view format) {
  const std::string f = absl::AsciiStrToLower(format);
  if (f != "text" && f != "json") {
    return absl::InvalidArgumentError(
        absl::StrCat(flag, ": expected text or json, got \"", format, "\""));
  }
  g_format.store(f == "json" ? Format::kJson : Format::kText);
  return absl::OkStatus();
}

absl::Status SetLevel(absl::string_view flag, absl::string_view level) {
  const std::string l = absl::AsciiStrToLower(level);
  Level parsed;
  if (l == "debug") {
    parsed = Level::kDebug;
  } else if (l == "info") {
    parsed = Level::kInfo;
  } else if (l == "warn" || l == "warning") {
    parsed = Level::kWarn;
  } else if (l == "error") {
    parsed = Level::kError;
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat(flag, ": expected debug, info, warn or error, got \"", level, "\""));
  }
  g_level.store(parsed);
  return absl::OkStatus();
}

absl::Status Configure(absl::string_view flag_format, absl::string_view format,
                       absl::string_view flag_level, absl::string_view level) {
  const Format old_format = g_format.load();
  if (absl::Status s = SetFormat(flag_format, format); !s.ok()) return s;
  if (absl::Status s = SetLevel(flag_level, level); !s.ok()) {
    g_format.store(old_format);  // nothing changes on bad input
    return s;
  }
  return absl::OkStatus();
}

bool Enabled(Level level) { return level >= g_level.load(std::memory_order_relaxed); }

std::string FormatLine(Format format, Level level, absl::string_view component,
                   absl::string_view message, absl::string_view request_id, const Fields& fields,
                   absl::string_view time) {
  std::string out;
  if (format == Format::kJson) {
    out += "{\"time\":";
    AppendJsonString(out, time);
    absl::StrAppend(&out, ",\"level\":\"", LevelName(level), "\",\"component\":");
    AppendJsonString(out, component);
    out += ",\"msg\":";
    AppendJsonString(out, message);
    if (!request_id.empty()) {
      out += ",\"request_id\":";
      AppendJsonString(out, request_id);
    }
    for (const auto& [key, value] : fields) {
      out += ',';
      AppendJsonString(out, key);
      out += ':';
      AppendJsonString(out, value);
    }
    out += '}';
    return out;
  }
  absl::StrAppend(&out, time, time.empty() ? "" : " ", absl::AsciiStrToUpper(LevelName(level)), " ",
                  component, ": ", message);
  if (!request_id.empty()) {
    out += " request_id=";
    AppendTextValue(out, request_id);
  }
  for (const auto& [key, value] : fields) {
    absl::StrAppend(&out, " ", key, "=");
    AppendTextValue(out, value);
  }
  return out;
}

void Write(Level level, absl::string_view component, absl::string_view message,
           const Fields& fields) {
  if (!Enabled(level)) return;
  const std::string line =
      FormatLine(g_format.load(std::memory_order_relaxed), level, component, message, t_request_id,
             fields, absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::Now(), absl::UTCTimeZone()));
  {
    absl::MutexLock lock(&g_test_mu);
    if (g_test_lines != nullptr) {
      g_test_lines->push_back(line);
      return;
    }
  }
  Logger().info(line);
}

RequestScope::RequestScope(std::string request_id) : previous_(std::move(t_request_id)) {
  t_request_id = std::move(request_id);
}

RequestScope::~RequestScope() { t_request_id = std::move(previous_); }

const std::string& CurrentRequestId() { return t_request_id; }

std::string RequestIdFrom(absl::string_view offered) {
  bool ok = !offered.empty() && offered.size() <= 128;
  for (char c : offered) {
    if (!(absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == ':' ||
          c == '-')) {
      ok = false;
    }
  }
  if (ok) return std::string(offered);
  thread_local absl::BitGen bitgen;
  uint64_t bits = absl::Uniform<uint64_t>(bitgen);
  std::string id(16, '0');
  for (int i = 15; i >= 0; --i, bits >>= 4) id[i] = "0123456789abcdef"[bits & 0xf];
  return id;
}

void SetSinkForTesting(std::vector<std::string>* lines) {
  absl::MutexLock lock(&g_test_mu);
  g_test_lines = lines;
}

}  // namespace dts::log
