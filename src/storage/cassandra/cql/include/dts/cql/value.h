#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace dts::cql {

// CQL type ids ([option] ids of native protocol v4, section 4.2.5.2).
enum class TypeId : uint16_t {
  kCustom = 0x0000,
  kAscii = 0x0001,
  kBigint = 0x0002,
  kBlob = 0x0003,
  kBoolean = 0x0004,
  kCounter = 0x0005,
  kDecimal = 0x0006,
  kDouble = 0x0007,
  kFloat = 0x0008,
  kInt = 0x0009,
  kTimestamp = 0x000B,
  kUuid = 0x000C,
  kVarchar = 0x000D,  // text is varchar
  kVarint = 0x000E,
  kTimeuuid = 0x000F,
  kInet = 0x0010,
  kDate = 0x0011,
  kTime = 0x0012,
  kSmallint = 0x0013,
  kTinyint = 0x0014,
  kList = 0x0020,
  kMap = 0x0021,
  kSet = 0x0022,
  kUdt = 0x0030,
  kTuple = 0x0031,
};

// A column or bind-marker type: the id plus, for collections, the element
// types (list/set: one, map: key and value; tuple: each; UDT: each field).
struct DataType {
  TypeId id = TypeId::kBlob;
  std::string custom;             // class name for kCustom; "ks.name" for kUdt
  std::vector<DataType> params;   // element types
  std::vector<std::string> field_names;  // kUdt only

  // e.g. "int", "map<text, bigint>".
  std::string ToString() const;
  friend bool operator==(const DataType&, const DataType&) = default;
};

// A 16-byte UUID (uuid or timeuuid columns).
class Uuid {
 public:
  Uuid() : bytes_{} {}
  explicit Uuid(const std::array<uint8_t, 16>& bytes) : bytes_(bytes) {}
  // Parses "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx".
  static absl::StatusOr<Uuid> Parse(absl::string_view text);
  // A random (version 4) UUID.
  static Uuid Random();
  const std::array<uint8_t, 16>& bytes() const { return bytes_; }
  std::string ToString() const;
  friend bool operator==(const Uuid&, const Uuid&) = default;
  friend auto operator<=>(const Uuid&, const Uuid&) = default;

 private:
  std::array<uint8_t, 16> bytes_;
};

enum class ValueKind {
  kNull,
  kUnset,  // a bound value that leaves the column untouched (v4 "not set")
  kBool,
  kInt,     // int (32-bit)
  kBigint,  // bigint / counter (64-bit)
  kDouble,
  kText,    // text, varchar, ascii
  kBlob,
  kUuid,    // uuid, timeuuid
  kTimestamp,
  kList,
  kSet,
  kMap,
};

absl::string_view ValueKindName(ValueKind kind);

// A CQL value: bound into statements and read from rows. Immutable value type.
class Value {
 public:
  using Elements = std::vector<Value>;
  using Entries = std::vector<std::pair<Value, Value>>;

  Value() = default;  // null
  Value(bool v) : kind_(ValueKind::kBool), data_(v) {}                 // NOLINT
  Value(int32_t v) : kind_(ValueKind::kInt), data_(int64_t{v}) {}      // NOLINT
  Value(int64_t v) : kind_(ValueKind::kBigint), data_(v) {}            // NOLINT
  Value(double v) : kind_(ValueKind::kDouble), data_(v) {}             // NOLINT
  Value(std::string v) : kind_(ValueKind::kText), data_(std::move(v)) {}  // NOLINT
  Value(const char* v) : Value(std::string(v)) {}                      // NOLINT
  Value(absl::string_view v) : Value(std::string(v)) {}                // NOLINT
  Value(Uuid v) : kind_(ValueKind::kUuid), data_(v) {}                 // NOLINT

  static Value Null() { return Value(); }
  static Value Unset();
  static Value Blob(std::string bytes);
  static Value Timestamp(absl::Time t);  // millisecond precision
  static Value TimestampMillis(int64_t ms_since_epoch);
  static Value List(Elements elements);
  static Value Set(Elements elements);
  static Value Map(Entries entries);

  ValueKind kind() const { return kind_; }
  bool is_null() const { return kind_ == ValueKind::kNull; }

  // Typed accessors: an error (FAILED_PRECONDITION) names both kinds when the
  // value holds another kind. AsInt64 also accepts kInt.
  absl::StatusOr<bool> AsBool() const;
  absl::StatusOr<int32_t> AsInt32() const;
  absl::StatusOr<int64_t> AsInt64() const;
  absl::StatusOr<double> AsDouble() const;
  absl::StatusOr<std::string> AsText() const;
  absl::StatusOr<std::string> AsBlob() const;
  absl::StatusOr<Uuid> AsUuid() const;
  absl::StatusOr<absl::Time> AsTimestamp() const;
  absl::StatusOr<int64_t> AsTimestampMillis() const;
  absl::StatusOr<Elements> AsList() const;  // list or set
  absl::StatusOr<Entries> AsMap() const;

  // For tests and logs, e.g. {'a': 1, 'b': 2}.
  std::string ToString() const;

  friend bool operator==(const Value& a, const Value& b);

 private:
  friend class ValueCodec;
  absl::Status WrongKind(ValueKind wanted) const;

  ValueKind kind_ = ValueKind::kNull;
  std::variant<std::monostate, bool, int64_t, double, std::string, Uuid,
               std::shared_ptr<const Elements>, std::shared_ptr<const Entries>>
      data_;
};

// Serialises `value` as `type` (without the [bytes] length prefix). Ints widen
// to bigint/counter; text to ascii checks the range; a wrong kind is
// INVALID_ARGUMENT naming both types. Null and unset have no body: callers
// write them as lengths -1 and -2.
absl::Status EncodeValue(const DataType& type, const Value& value, std::string* out);

// Serialises a value by its own kind (for QUERY without prepared metadata).
absl::Status EncodeValueByKind(const Value& value, std::string* out);

// Parses a cell of `type`. Types without a Value kind (varint, decimal, inet,
// date, time, smallint, tinyint, float, UDT, tuple, custom) are UNIMPLEMENTED.
absl::StatusOr<Value> DecodeValue(const DataType& type, absl::string_view bytes);

}  // namespace dts::cql
