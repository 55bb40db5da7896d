#include "api/json_writer.h"

#include <charconv>
#include <cmath>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "dts/http/errors.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/timestamp.pb.h"

namespace dts::api {
namespace {

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

void AppendString(std::string& out, absl::string_view s) {
  out += '"';
  http::AppendJsonEscaped(&out, s);
  out += '"';
}

// `value` in exactly `width` decimal digits (0 <= value < 10^width).
void AppendDigits(std::string& out, int64_t value, int width) {
  char buf[20];
  for (int i = width - 1; i >= 0; --i) {
    buf[i] = static_cast<char>('0' + value % 10);
    value /= 10;
  }
  out.append(buf, static_cast<size_t>(width));
}

void AppendDouble(std::string& out, double v) {
  if (std::isnan(v)) {
    out += "\"NaN\"";
  } else if (std::isinf(v)) {
    out += v > 0 ? "\"Infinity\"" : "\"-Infinity\"";
  } else {
    char buf[32];
    const auto result = std::to_chars(buf, buf + sizeof(buf), v);
    out.append(buf, result.ptr);
  }
}

// RFC3339 in UTC with 0, 3, 6 or 9 fractional digits, as protobuf prints.
void AppendTimestamp(std::string& out, const Message& m) {
  const auto& ts = static_cast<const google::protobuf::Timestamp&>(m);
  const absl::Time t = absl::FromUnixSeconds(ts.seconds());
  out += '"';
  const absl::CivilSecond c = absl::ToCivilSecond(t, absl::UTCTimeZone());
  if (c.year() < 0 || c.year() > 9999) {
    // Outside protobuf's range (years 1-9999); printed the slow way.
    out += absl::FormatTime("%Y-%m-%dT%H:%M:%S", t, absl::UTCTimeZone());
  } else {
    // What FormatTime("%Y-%m-%dT%H:%M:%S") prints, without parsing a format
    // on every timestamp of every response.
    AppendDigits(out, c.year(), 4);
    out += '-';
    AppendDigits(out, c.month(), 2);
    out += '-';
    AppendDigits(out, c.day(), 2);
    out += 'T';
    AppendDigits(out, c.hour(), 2);
    out += ':';
    AppendDigits(out, c.minute(), 2);
    out += ':';
    AppendDigits(out, c.second(), 2);
  }
  int nanos = ts.nanos();
  if (nanos != 0) {
    int digits = 9;
    if (nanos % 1000000 == 0) {
      nanos /= 1000000;
      digits = 3;
    } else if (nanos % 1000 == 0) {
      nanos /= 1000;
      digits = 6;
    }
    out += '.';
    AppendDigits(out, nanos, digits);
  }
  out += "Z\"";
}

void AppendMessage(std::string& out, const Message& m);

void AppendValue(std::string& out, const Message& m, const FieldDescriptor* f, int index) {
  const Reflection* r = m.GetReflection();
  const bool rep = index >= 0;
  switch (f->cpp_type()) {
    case FieldDescriptor::CPPTYPE_INT32:
      absl::StrAppend(&out, rep ? r->GetRepeatedInt32(m, f, index) : r->GetInt32(m, f));
      break;
    case FieldDescriptor::CPPTYPE_UINT32:
      absl::StrAppend(&out, rep ? r->GetRepeatedUInt32(m, f, index) : r->GetUInt32(m, f));
      break;
    case FieldDescriptor::CPPTYPE_INT64:
      absl::StrAppend(&out, "\"", rep ? r->GetRepeatedInt64(m, f, index) : r->GetInt64(m, f), "\"");
      break;
    case FieldDescriptor::CPPTYPE_UINT64:
      absl::StrAppend(&out, "\"", rep ? r->GetRepeatedUInt64(m, f, index) : r->GetUInt64(m, f), "\"");
      break;
    case FieldDescriptor::CPPTYPE_DOUBLE:
      AppendDouble(out, rep ? r->GetRepeatedDouble(m, f, index) : r->GetDouble(m, f));
      break;
    case FieldDescriptor::CPPTYPE_FLOAT:
      AppendDouble(out, rep ? r->GetRepeatedFloat(m, f, index) : r->GetFloat(m, f));
      break;
    case FieldDescriptor::CPPTYPE_BOOL:
      out += (rep ? r->GetRepeatedBool(m, f, index) : r->GetBool(m, f)) ? "true" : "false";
      break;
    case FieldDescriptor::CPPTYPE_ENUM: {
      const int v = rep ? r->GetRepeatedEnumValue(m, f, index) : r->GetEnumValue(m, f);
      const auto* value = f->enum_type()->FindValueByNumber(v);
      if (value != nullptr) {
        AppendString(out, value->name());
      } else {
        absl::StrAppend(&out, v);
      }
      break;
    }
    case FieldDescriptor::CPPTYPE_STRING: {
      std::string scratch;
      const std::string& s = rep ? r->GetRepeatedStringReference(m, f, index, &scratch)
                                 : r->GetStringReference(m, f, &scratch);
      if (f->type() == FieldDescriptor::TYPE_BYTES) {
        AppendString(out, absl::Base64Escape(s));
      } else {
        AppendString(out, s);
      }
      break;
    }
    case FieldDescriptor::CPPTYPE_MESSAGE:
      AppendMessage(out, rep ? r->GetRepeatedMessage(m, f, index) : r->GetMessage(m, f));
      break;
  }
}

void AppendMap(std::string& out, const Message& m, const FieldDescriptor* f) {
  const Reflection* r = m.GetReflection();
  out += '{';
  const int n = r->FieldSize(m, f);
  for (int i = 0; i < n; ++i) {
    const Message& entry = r->GetRepeatedMessage(m, f, i);
    const FieldDescriptor* key = f->message_type()->map_key();
    const FieldDescriptor* value = f->message_type()->map_value();
    if (i > 0) out += ',';
    if (key->cpp_type() == FieldDescriptor::CPPTYPE_STRING) {
      std::string scratch;
      AppendString(out, entry.GetReflection()->GetStringReference(entry, key, &scratch));
    } else {
      out += '"';
      std::string k;
      AppendValue(k, entry, key, -1);
      if (!k.empty() && k.front() == '"') k = k.substr(1, k.size() - 2);
      out += k;
      out += '"';
    }
    out += ':';
    AppendValue(out, entry, value, -1);
  }
  out += '}';
}

void AppendMessage(std::string& out, const Message& m) {
  const google::protobuf::Descriptor* d = m.GetDescriptor();
  if (d == google::protobuf::Timestamp::descriptor()) {
    AppendTimestamp(out, m);
    return;
  }
  const Reflection* r = m.GetReflection();
  out += '{';
  bool first = true;
  for (int i = 0; i < d->field_count(); ++i) {
    const FieldDescriptor* f = d->field(i);
    // Singular fields with presence (messages, proto3 `optional`, oneof
    // members) print only when set; other fields always print.
    if (!f->is_repeated() && f->has_presence() && !r->HasField(m, f)) continue;
    if (!first) out += ',';
    first = false;
    // Proto field names are [a-z0-9_]: nothing to escape.
    out += '"';
    out += f->name();
    out += "\":";
    if (f->is_map()) {
      AppendMap(out, m, f);
    } else if (f->is_repeated()) {
      out += '[';
      for (int k = 0; k < r->FieldSize(m, f); ++k) {
        if (k > 0) out += ',';
        AppendValue(out, m, f, k);
      }
      out += ']';
    } else {
      AppendValue(out, m, f, -1);
    }
  }
  out += '}';
}

}  // namespace

std::string ToJson(const Message& message) {
  std::string out;
  out.reserve(512);
  AppendMessage(out, message);
  return out;
}

}  // namespace dts::api
