// The kafka executor's message (JSON value, headers) and the publish hook.
#include "dts/messaging/run_publisher.h"

#include <cstdint>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/time.h"

namespace dts::messaging {
namespace {

// Length of the valid UTF-8 sequence at text[i], or 0 when invalid.
size_t Utf8Length(const std::string& text, size_t i) {
  const auto byte = [&](size_t k) { return static_cast<unsigned char>(text[k]); };
  const unsigned char c = byte(i);
  size_t len = 0;
  uint32_t min = 0;
  uint32_t cp = 0;
  if (c < 0x80) return 1;
  if ((c & 0xE0) == 0xC0) {
    len = 2, min = 0x80, cp = c & 0x1F;
  } else if ((c & 0xF0) == 0xE0) {
    len = 3, min = 0x800, cp = c & 0x0F;
  } else if ((c & 0xF8) == 0xF0) {
    len = 4, min = 0x10000, cp = c & 0x07;
  } else {
    return 0;
  }
  if (i + len > text.size()) return 0;
  for (size_t k = 1; k < len; ++k) {
    if ((byte(i + k) & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (byte(i + k) & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  return len;
}

std::string Rfc3339(absl::Time t) {
  return absl::FormatTime("%Y-%m-%d%ET%H:%M:%E*SZ", t, absl::UTCTimeZone());
}

bool Known(absl::Time t) { return t != absl::InfinitePast() && t != absl::InfiniteFuture(); }

}  // namespace

std::string JsonQuote(const std::string& text) {
  std::string out;
  out.reserve(text.size() + 2);
  out.push_back('"');
  for (size_t i = 0; i < text.size();) {
    const char c = text[i];
    switch (c) {
      case '"': out += "\\\""; ++i; continue;
      case '\\': out += "\\\\"; ++i; continue;
      case '\b': out += "\\b"; ++i; continue;
      case '\f': out += "\\f"; ++i; continue;
      case '\n': out += "\\n"; ++i; continue;
      case '\r': out += "\\r"; ++i; continue;
      case '\t': out += "\\t"; ++i; continue;
      default: break;
    }
    if (static_cast<unsigned char>(c) < 0x20) {
      absl::StrAppendFormat(&out, "\\u%04x", static_cast<unsigned char>(c));
      ++i;
      continue;
    }
    const size_t len = Utf8Length(text, i);
    if (len == 0) {
      out += "\xEF\xBF\xBD";  // U+FFFD for a byte that is not UTF-8
      ++i;
      continue;
    }
    out.append(text, i, len);
    i += len;
  }
  out.push_back('"');
  return out;
}

std::string EncodeRunMessageValue(const execution::KafkaPublishRequest& request) {
  std::string out = absl::StrCat("{\"job_id\":", JsonQuote(request.job_id.value()),
                                 ",\"run_id\":", JsonQuote(request.run_id.value()),
                                 ",\"scheduled_time\":");
  if (Known(request.scheduled_time)) {
    absl::StrAppend(&out, JsonQuote(Rfc3339(request.scheduled_time)));
  } else {
    out += "null";
  }
  out += ",\"metadata\":{";
  bool first = true;
  for (const auto& [key, value] : request.metadata) {  // std::map: sorted
    if (!first) out.push_back(',');
    first = false;
    absl::StrAppend(&out, JsonQuote(key), ":", JsonQuote(value));
  }
  absl::StrAppend(&out, "},\"payload\":", JsonQuote(request.kafka.payload()), "}");
  return out;
}

OutgoingMessage RunMessage(const execution::KafkaPublishRequest& request) {
  OutgoingMessage message;
  message.topic = request.kafka.topic();
  message.key = request.kafka.key().empty() ? request.job_id.value() : request.kafka.key();
  message.value = EncodeRunMessageValue(request);
  message.headers.push_back({"dts-job-id", request.job_id.value()});
  message.headers.push_back({"dts-run-id", request.run_id.value()});
  if (Known(request.scheduled_time)) {
    message.headers.push_back({"dts-scheduled-time", Rfc3339(request.scheduled_time)});
  }
  message.headers.push_back({"content-type", "application/json"});
  return message;
}

execution::KafkaPublishFn MakeKafkaPublish(Producer* producer, absl::Duration default_timeout) {
  return [producer, default_timeout](const execution::KafkaPublishRequest& request) -> absl::Status {
    const absl::Duration timeout =
        request.timeout > absl::ZeroDuration() ? request.timeout : default_timeout;
    absl::StatusOr<Delivery> delivery = producer->Send(RunMessage(request), timeout);
    return delivery.status();
  };
}

}  // namespace dts::messaging
