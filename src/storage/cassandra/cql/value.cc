#include "dts/cql/value.h"

#include <cmath>
#include <cstring>

#include "absl/random/random.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "wire.h"

namespace dts::cql {
namespace {

constexpr int kMaxValueDepth = 32;

absl::string_view TypeName(TypeId id) {
  switch (id) {
    case TypeId::kCustom: return "custom";
    case TypeId::kAscii: return "ascii";
    case TypeId::kBigint: return "bigint";
    case TypeId::kBlob: return "blob";
    case TypeId::kBoolean: return "boolean";
    case TypeId::kCounter: return "counter";
    case TypeId::kDecimal: return "decimal";
    case TypeId::kDouble: return "double";
    case TypeId::kFloat: return "float";
    case TypeId::kInt: return "int";
    case TypeId::kTimestamp: return "timestamp";
    case TypeId::kUuid: return "uuid";
    case TypeId::kVarchar: return "text";
    case TypeId::kVarint: return "varint";
    case TypeId::kTimeuuid: return "timeuuid";
    case TypeId::kInet: return "inet";
    case TypeId::kDate: return "date";
    case TypeId::kTime: return "time";
    case TypeId::kSmallint: return "smallint";
    case TypeId::kTinyint: return "tinyint";
    case TypeId::kList: return "list";
    case TypeId::kMap: return "map";
    case TypeId::kSet: return "set";
    case TypeId::kUdt: return "udt";
    case TypeId::kTuple: return "tuple";
  }
  return "unknown";
}

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

void PutBE(uint64_t v, int bytes, std::string* out) {
  for (int s = (bytes - 1) * 8; s >= 0; s -= 8) out->push_back(static_cast<char>((v >> s) & 0xFF));
}

uint64_t GetBE(absl::string_view b) {
  uint64_t v = 0;
  for (char c : b) v = (v << 8) | static_cast<uint8_t>(c);
  return v;
}

absl::Status Mismatch(const DataType& type, const Value& v) {
  return absl::InvalidArgumentError(absl::StrCat("cannot bind a ", ValueKindName(v.kind()),
                                                 " value to a ", type.ToString(), " marker"));
}

absl::Status EncodeTyped(const DataType& type, const Value& v, std::string* out, int depth);

absl::Status EncodeElement(const DataType& type, const Value& v, std::string* out, int depth) {
  wire::Writer w(out);
  if (v.is_null()) {
    w.I32(-1);
    return absl::OkStatus();
  }
  if (v.kind() == ValueKind::kUnset) return absl::InvalidArgumentError("unset inside a collection");
  std::string body;
  if (absl::Status s = EncodeTyped(type, v, &body, depth + 1); !s.ok()) return s;
  w.Bytes(body);
  return absl::OkStatus();
}

absl::Status EncodeTyped(const DataType& type, const Value& v, std::string* out, int depth) {
  if (depth > kMaxValueDepth) return absl::InvalidArgumentError("value nested too deeply");
  switch (type.id) {
    case TypeId::kBoolean: {
      auto b = v.AsBool();
      if (!b.ok()) return Mismatch(type, v);
      out->push_back(*b ? 1 : 0);
      return absl::OkStatus();
    }
    case TypeId::kInt:
    case TypeId::kSmallint:
    case TypeId::kTinyint: {
      if (v.kind() != ValueKind::kInt && v.kind() != ValueKind::kBigint) return Mismatch(type, v);
      const int64_t n = *v.AsInt64();
      const int bytes = type.id == TypeId::kInt ? 4 : type.id == TypeId::kSmallint ? 2 : 1;
      const int64_t lim = int64_t{1} << (bytes * 8 - 1);
      if (n < -lim || n >= lim) {
        return absl::InvalidArgumentError(
            absl::StrCat(n, " is out of range for a ", type.ToString(), " marker"));
      }
      PutBE(static_cast<uint64_t>(n), bytes, out);
      return absl::OkStatus();
    }
    case TypeId::kBigint:
    case TypeId::kCounter: {
      if (v.kind() != ValueKind::kInt && v.kind() != ValueKind::kBigint) return Mismatch(type, v);
      PutBE(static_cast<uint64_t>(*v.AsInt64()), 8, out);
      return absl::OkStatus();
    }
    case TypeId::kTimestamp: {
      if (v.kind() != ValueKind::kTimestamp) return Mismatch(type, v);
      PutBE(static_cast<uint64_t>(*v.AsTimestampMillis()), 8, out);
      return absl::OkStatus();
    }
    case TypeId::kDouble:
    case TypeId::kFloat: {
      if (v.kind() != ValueKind::kDouble) return Mismatch(type, v);
      const double d = *v.AsDouble();
      if (type.id == TypeId::kDouble) {
        uint64_t bits;
        std::memcpy(&bits, &d, 8);
        PutBE(bits, 8, out);
      } else {
        const float f = static_cast<float>(d);
        uint32_t bits;
        std::memcpy(&bits, &f, 4);
        PutBE(bits, 4, out);
      }
      return absl::OkStatus();
    }
    case TypeId::kAscii:
    case TypeId::kVarchar: {
      if (v.kind() != ValueKind::kText) return Mismatch(type, v);
      std::string s = *v.AsText();
      if (type.id == TypeId::kAscii) {
        for (char c : s) {
          if (static_cast<unsigned char>(c) > 127) {
            return absl::InvalidArgumentError("non-ASCII text bound to an ascii marker");
          }
        }
      }
      out->append(s);
      return absl::OkStatus();
    }
    case TypeId::kBlob: {
      if (v.kind() != ValueKind::kBlob) return Mismatch(type, v);
      out->append(*v.AsBlob());
      return absl::OkStatus();
    }
    case TypeId::kUuid:
    case TypeId::kTimeuuid: {
      if (v.kind() != ValueKind::kUuid) return Mismatch(type, v);
      const Uuid uuid = *v.AsUuid();
      const auto& b = uuid.bytes();
      if (type.id == TypeId::kTimeuuid && (b[6] >> 4) != 1) {
        return absl::InvalidArgumentError("a timeuuid marker needs a version 1 UUID");
      }
      out->append(reinterpret_cast<const char*>(b.data()), b.size());
      return absl::OkStatus();
    }
    case TypeId::kList:
    case TypeId::kSet: {
      if (v.kind() != ValueKind::kList && v.kind() != ValueKind::kSet) return Mismatch(type, v);
      if (type.params.size() != 1) return absl::InvalidArgumentError("collection type without element type");
      auto elems = *v.AsList();
      wire::Writer(out).I32(static_cast<int32_t>(elems.size()));
      for (const Value& e : elems) {
        if (absl::Status s = EncodeElement(type.params[0], e, out, depth); !s.ok()) return s;
      }
      return absl::OkStatus();
    }
    case TypeId::kMap: {
      if (v.kind() != ValueKind::kMap) return Mismatch(type, v);
      if (type.params.size() != 2) return absl::InvalidArgumentError("map type without key/value types");
      auto entries = *v.AsMap();
      wire::Writer(out).I32(static_cast<int32_t>(entries.size()));
      for (const auto& [k, val] : entries) {
        if (absl::Status s = EncodeElement(type.params[0], k, out, depth); !s.ok()) return s;
        if (absl::Status s = EncodeElement(type.params[1], val, out, depth); !s.ok()) return s;
      }
      return absl::OkStatus();
    }
    default:
      return absl::UnimplementedError(
          absl::StrCat("binding values of type ", type.ToString(), " is not supported"));
  }
}

absl::StatusOr<Value> DecodeTyped(const DataType& type, absl::string_view b, int depth);

absl::StatusOr<Value::Elements> DecodeElements(const DataType& elem, wire::Reader& r, int32_t n,
                                               int depth) {
  Value::Elements out;
  for (int32_t i = 0; i < n && r.ok(); ++i) {
    auto cell = r.Bytes();
    if (!r.ok()) break;
    if (!cell) {
      out.emplace_back();
      continue;
    }
    auto v = DecodeTyped(elem, *cell, depth + 1);
    if (!v.ok()) return v.status();
    out.push_back(*std::move(v));
  }
  if (absl::Status s = r.status("collection"); !s.ok()) return s;
  return out;
}

absl::Status SizeError(const DataType& type, size_t want, size_t got) {
  return absl::InvalidArgumentError(
      absl::StrCat("a ", type.ToString(), " cell needs ", want, " bytes, got ", got));
}

absl::StatusOr<Value> DecodeTyped(const DataType& type, absl::string_view b, int depth) {
  if (depth > kMaxValueDepth) return absl::InvalidArgumentError("value nested too deeply");
  switch (type.id) {
    case TypeId::kBoolean:
      if (b.size() != 1) return SizeError(type, 1, b.size());
      return Value(b[0] != 0);
    case TypeId::kInt:
      if (b.size() != 4) return SizeError(type, 4, b.size());
      return Value(static_cast<int32_t>(static_cast<uint32_t>(GetBE(b))));
    case TypeId::kSmallint:
      if (b.size() != 2) return SizeError(type, 2, b.size());
      return Value(int32_t{static_cast<int16_t>(static_cast<uint16_t>(GetBE(b)))});
    case TypeId::kTinyint:
      if (b.size() != 1) return SizeError(type, 1, b.size());
      return Value(int32_t{static_cast<int8_t>(b[0])});
    case TypeId::kBigint:
    case TypeId::kCounter:
      if (b.size() != 8) return SizeError(type, 8, b.size());
      return Value(static_cast<int64_t>(GetBE(b)));
    case TypeId::kTimestamp:
      if (b.size() != 8) return SizeError(type, 8, b.size());
      return Value::TimestampMillis(static_cast<int64_t>(GetBE(b)));
    case TypeId::kDouble: {
      if (b.size() != 8) return SizeError(type, 8, b.size());
      const uint64_t bits = GetBE(b);
      double d;
      std::memcpy(&d, &bits, 8);
      return Value(d);
    }
    case TypeId::kFloat: {
      if (b.size() != 4) return SizeError(type, 4, b.size());
      const auto bits = static_cast<uint32_t>(GetBE(b));
      float f;
      std::memcpy(&f, &bits, 4);
      return Value(static_cast<double>(f));
    }
    case TypeId::kAscii:
    case TypeId::kVarchar:
      return Value(std::string(b));
    case TypeId::kBlob:
      return Value::Blob(std::string(b));
    case TypeId::kUuid:
    case TypeId::kTimeuuid: {
      if (b.size() != 16) return SizeError(type, 16, b.size());
      std::array<uint8_t, 16> bytes;
      std::memcpy(bytes.data(), b.data(), 16);
      return Value(Uuid(bytes));
    }
    case TypeId::kList:
    case TypeId::kSet: {
      if (type.params.size() != 1) return absl::InvalidArgumentError("collection without element type");
      wire::Reader r(b);
      const int32_t n = r.Count(4, "collection element");
      auto elems = DecodeElements(type.params[0], r, n, depth);
      if (!elems.ok()) return elems.status();
      if (r.remaining() != 0) return absl::InvalidArgumentError("trailing bytes after a collection");
      return type.id == TypeId::kList ? Value::List(*std::move(elems)) : Value::Set(*std::move(elems));
    }
    case TypeId::kMap: {
      if (type.params.size() != 2) return absl::InvalidArgumentError("map without key/value types");
      wire::Reader r(b);
      const int32_t n = r.Count(8, "map entry");
      Value::Entries entries;
      for (int32_t i = 0; i < n && r.ok(); ++i) {
        auto k = DecodeElements(type.params[0], r, 1, depth);
        if (!k.ok()) return k.status();
        auto v = DecodeElements(type.params[1], r, 1, depth);
        if (!v.ok()) return v.status();
        if (k->size() != 1 || v->size() != 1) return absl::InvalidArgumentError("truncated map");
        entries.emplace_back(std::move((*k)[0]), std::move((*v)[0]));
      }
      if (absl::Status s = r.status("map"); !s.ok()) return s;
      if (r.remaining() != 0) return absl::InvalidArgumentError("trailing bytes after a map");
      return Value::Map(std::move(entries));
    }
    default:
      return absl::UnimplementedError(
          absl::StrCat("reading values of type ", type.ToString(), " is not supported"));
  }
}

}  // namespace

std::string DataType::ToString() const {
  switch (id) {
    case TypeId::kList:
    case TypeId::kSet:
      return absl::StrCat(TypeName(id), "<", params.empty() ? "?" : params[0].ToString(), ">");
    case TypeId::kMap:
      return absl::StrCat("map<", params.size() > 0 ? params[0].ToString() : "?", ", ",
                          params.size() > 1 ? params[1].ToString() : "?", ">");
    case TypeId::kTuple: {
      std::vector<std::string> parts;
      for (const auto& p : params) parts.push_back(p.ToString());
      return absl::StrCat("tuple<", absl::StrJoin(parts, ", "), ">");
    }
    case TypeId::kCustom:
    case TypeId::kUdt:
      return absl::StrCat(TypeName(id), "(", custom, ")");
    default:
      return std::string(TypeName(id));
  }
}

absl::StatusOr<Uuid> Uuid::Parse(absl::string_view text) {
  std::array<uint8_t, 16> b{};
  if (text.size() != 36) return absl::InvalidArgumentError(absl::StrCat("not a UUID: '", text, "'"));
  size_t j = 0;
  for (size_t i = 0; i < 36;) {
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (text[i] != '-') return absl::InvalidArgumentError(absl::StrCat("not a UUID: '", text, "'"));
      ++i;
      continue;
    }
    const int hi = HexDigit(text[i]);
    const int lo = HexDigit(text[i + 1]);
    if (hi < 0 || lo < 0) return absl::InvalidArgumentError(absl::StrCat("not a UUID: '", text, "'"));
    b[j++] = static_cast<uint8_t>(hi * 16 + lo);
    i += 2;
  }
  return Uuid(b);
}

Uuid Uuid::Random() {
  thread_local absl::BitGen gen;
  std::array<uint8_t, 16> b;
  for (auto& x : b) x = absl::Uniform<uint8_t>(gen);
  b[6] = static_cast<uint8_t>((b[6] & 0x0F) | 0x40);
  b[8] = static_cast<uint8_t>((b[8] & 0x3F) | 0x80);
  return Uuid(b);
}

std::string Uuid::ToString() const {
  std::string hex = absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(bytes_.data()), bytes_.size()));
  return absl::StrCat(hex.substr(0, 8), "-", hex.substr(8, 4), "-", hex.substr(12, 4), "-",
                      hex.substr(16, 4), "-", hex.substr(20));
}

absl::string_view ValueKindName(ValueKind kind) {
  switch (kind) {
    case ValueKind::kNull: return "null";
    case ValueKind::kUnset: return "unset";
    case ValueKind::kBool: return "boolean";
    case ValueKind::kInt: return "int";
    case ValueKind::kBigint: return "bigint";
    case ValueKind::kDouble: return "double";
    case ValueKind::kText: return "text";
    case ValueKind::kBlob: return "blob";
    case ValueKind::kUuid: return "uuid";
    case ValueKind::kTimestamp: return "timestamp";
    case ValueKind::kList: return "list";
    case ValueKind::kSet: return "set";
    case ValueKind::kMap: return "map";
  }
  return "unknown";
}

Value Value::Unset() {
  Value v;
  v.kind_ = ValueKind::kUnset;
  return v;
}

Value Value::Blob(std::string bytes) {
  Value v(std::move(bytes));
  v.kind_ = ValueKind::kBlob;
  return v;
}

Value Value::Timestamp(absl::Time t) { return TimestampMillis(absl::ToUnixMillis(t)); }

Value Value::TimestampMillis(int64_t ms) {
  Value v(ms);
  v.kind_ = ValueKind::kTimestamp;
  return v;
}

Value Value::List(Elements elements) {
  Value v;
  v.kind_ = ValueKind::kList;
  v.data_ = std::make_shared<const Elements>(std::move(elements));
  return v;
}

Value Value::Set(Elements elements) {
  Value v = List(std::move(elements));
  v.kind_ = ValueKind::kSet;
  return v;
}

Value Value::Map(Entries entries) {
  Value v;
  v.kind_ = ValueKind::kMap;
  v.data_ = std::make_shared<const Entries>(std::move(entries));
  return v;
}

absl::Status Value::WrongKind(ValueKind wanted) const {
  return absl::FailedPreconditionError(
      absl::StrCat("value is ", ValueKindName(kind_), ", not ", ValueKindName(wanted)));
}

absl::StatusOr<bool> Value::AsBool() const {
  if (kind_ != ValueKind::kBool) return WrongKind(ValueKind::kBool);
  return std::get<bool>(data_);
}
absl::StatusOr<int32_t> Value::AsInt32() const {
  if (kind_ != ValueKind::kInt) return WrongKind(ValueKind::kInt);
  return static_cast<int32_t>(std::get<int64_t>(data_));
}
absl::StatusOr<int64_t> Value::AsInt64() const {
  if (kind_ != ValueKind::kBigint && kind_ != ValueKind::kInt) return WrongKind(ValueKind::kBigint);
  return std::get<int64_t>(data_);
}
absl::StatusOr<double> Value::AsDouble() const {
  if (kind_ != ValueKind::kDouble) return WrongKind(ValueKind::kDouble);
  return std::get<double>(data_);
}
absl::StatusOr<std::string> Value::AsText() const {
  if (kind_ != ValueKind::kText) return WrongKind(ValueKind::kText);
  return std::get<std::string>(data_);
}
absl::StatusOr<std::string> Value::AsBlob() const {
  if (kind_ != ValueKind::kBlob) return WrongKind(ValueKind::kBlob);
  return std::get<std::string>(data_);
}
absl::StatusOr<Uuid> Value::AsUuid() const {
  if (kind_ != ValueKind::kUuid) return WrongKind(ValueKind::kUuid);
  return std::get<Uuid>(data_);
}
absl::StatusOr<int64_t> Value::AsTimestampMillis() const {
  if (kind_ != ValueKind::kTimestamp) return WrongKind(ValueKind::kTimestamp);
  return std::get<int64_t>(data_);
}
absl::StatusOr<absl::Time> Value::AsTimestamp() const {
  auto ms = AsTimestampMillis();
  if (!ms.ok()) return ms.status();
  return absl::FromUnixMillis(*ms);
}
absl::StatusOr<Value::Elements> Value::AsList() const {
  if (kind_ != ValueKind::kList && kind_ != ValueKind::kSet) return WrongKind(ValueKind::kList);
  return *std::get<std::shared_ptr<const Elements>>(data_);
}
absl::StatusOr<Value::Entries> Value::AsMap() const {
  if (kind_ != ValueKind::kMap) return WrongKind(ValueKind::kMap);
  return *std::get<std::shared_ptr<const Entries>>(data_);
}

bool operator==(const Value& a, const Value& b) {
  if (a.kind_ != b.kind_) return false;
  switch (a.kind_) {
    case ValueKind::kList:
    case ValueKind::kSet:
      return *std::get<std::shared_ptr<const Value::Elements>>(a.data_) ==
             *std::get<std::shared_ptr<const Value::Elements>>(b.data_);
    case ValueKind::kMap:
      return *std::get<std::shared_ptr<const Value::Entries>>(a.data_) ==
             *std::get<std::shared_ptr<const Value::Entries>>(b.data_);
    default:
      return a.data_ == b.data_;
  }
}

std::string Value::ToString() const {
  switch (kind_) {
    case ValueKind::kNull: return "null";
    case ValueKind::kUnset: return "unset";
    case ValueKind::kBool: return std::get<bool>(data_) ? "true" : "false";
    case ValueKind::kInt:
    case ValueKind::kBigint: return absl::StrCat(std::get<int64_t>(data_));
    case ValueKind::kTimestamp:
      return absl::FormatTime(absl::RFC3339_full, absl::FromUnixMillis(std::get<int64_t>(data_)),
                              absl::UTCTimeZone());
    case ValueKind::kDouble: return absl::StrCat(std::get<double>(data_));
    case ValueKind::kText: return absl::StrCat("'", std::get<std::string>(data_), "'");
    case ValueKind::kBlob: return absl::StrCat("0x", absl::BytesToHexString(std::get<std::string>(data_)));
    case ValueKind::kUuid: return std::get<Uuid>(data_).ToString();
    case ValueKind::kList:
    case ValueKind::kSet: {
      std::vector<std::string> parts;
      for (const Value& v : *std::get<std::shared_ptr<const Elements>>(data_)) parts.push_back(v.ToString());
      const bool list = kind_ == ValueKind::kList;
      return absl::StrCat(list ? "[" : "{", absl::StrJoin(parts, ", "), list ? "]" : "}");
    }
    case ValueKind::kMap: {
      std::vector<std::string> parts;
      for (const auto& [k, v] : *std::get<std::shared_ptr<const Entries>>(data_)) {
        parts.push_back(absl::StrCat(k.ToString(), ": ", v.ToString()));
      }
      return absl::StrCat("{", absl::StrJoin(parts, ", "), "}");
    }
  }
  return "?";
}

absl::Status EncodeValue(const DataType& type, const Value& value, std::string* out) {
  if (value.is_null() || value.kind() == ValueKind::kUnset) return absl::OkStatus();
  return EncodeTyped(type, value, out, 0);
}

namespace {
absl::StatusOr<DataType> TypeOf(const Value& v, int depth) {
  if (depth > kMaxValueDepth) return absl::InvalidArgumentError("value nested too deeply");
  DataType t;
  switch (v.kind()) {
    case ValueKind::kNull: t.id = TypeId::kBlob; return t;  // written as -1
    case ValueKind::kBool: t.id = TypeId::kBoolean; return t;
    case ValueKind::kInt: t.id = TypeId::kInt; return t;
    case ValueKind::kBigint: t.id = TypeId::kBigint; return t;
    case ValueKind::kDouble: t.id = TypeId::kDouble; return t;
    case ValueKind::kText: t.id = TypeId::kVarchar; return t;
    case ValueKind::kBlob: t.id = TypeId::kBlob; return t;
    case ValueKind::kUuid: t.id = TypeId::kUuid; return t;
    case ValueKind::kTimestamp: t.id = TypeId::kTimestamp; return t;
    case ValueKind::kList:
    case ValueKind::kSet: {
      t.id = v.kind() == ValueKind::kList ? TypeId::kList : TypeId::kSet;
      auto elems = *v.AsList();
      DataType elem;
      elem.id = TypeId::kBlob;
      for (const Value& e : elems) {
        if (e.is_null()) continue;
        auto et = TypeOf(e, depth + 1);
        if (!et.ok()) return et.status();
        elem = *et;
        break;
      }
      t.params.push_back(elem);
      return t;
    }
    case ValueKind::kMap: {
      t.id = TypeId::kMap;
      auto entries = *v.AsMap();
      DataType k, val;
      for (const auto& [ek, ev] : entries) {
        auto kt = TypeOf(ek, depth + 1);
        auto vt = TypeOf(ev, depth + 1);
        if (!kt.ok()) return kt.status();
        if (!vt.ok()) return vt.status();
        k = *kt;
        val = *vt;
        break;
      }
      t.params = {k, val};
      return t;
    }
    default:
      return absl::InvalidArgumentError(absl::StrCat("no type for a ", ValueKindName(v.kind()), " value"));
  }
}
}  // namespace

absl::Status EncodeValueByKind(const Value& value, std::string* out) {
  if (value.is_null() || value.kind() == ValueKind::kUnset) return absl::OkStatus();
  auto type = TypeOf(value, 0);
  if (!type.ok()) return type.status();
  return EncodeTyped(*type, value, out, 0);
}

absl::StatusOr<Value> DecodeValue(const DataType& type, absl::string_view bytes) {
  return DecodeTyped(type, bytes, 0);
}

}  // namespace dts::cql
