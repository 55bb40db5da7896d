#pragma once
// Primitive [notation] types of the native protocol (section 3): big-endian
// integers, [string], [long string], [bytes], [short bytes], maps and lists.
// Private to dts_cql.

#include <cstdint>
#include <cstring>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace dts::cql::wire {

class Writer {
 public:
  explicit Writer(std::string* out) : out_(out) {}
  void U8(uint8_t v) { out_->push_back(static_cast<char>(v)); }
  void U16(uint16_t v) {
    U8(static_cast<uint8_t>(v >> 8));
    U8(static_cast<uint8_t>(v));
  }
  void I32(int32_t v) {
    const uint32_t u = static_cast<uint32_t>(v);
    for (int s = 24; s >= 0; s -= 8) U8(static_cast<uint8_t>(u >> s));
  }
  void I64(int64_t v) {
    const uint64_t u = static_cast<uint64_t>(v);
    for (int s = 56; s >= 0; s -= 8) U8(static_cast<uint8_t>(u >> s));
  }
  void Raw(absl::string_view b) { out_->append(b.data(), b.size()); }
  void String(absl::string_view s) {  // [string]: u16 length
    U16(static_cast<uint16_t>(s.size()));
    Raw(s);
  }
  void LongString(absl::string_view s) {  // [long string]: i32 length
    I32(static_cast<int32_t>(s.size()));
    Raw(s);
  }
  void Bytes(absl::string_view b) {  // [bytes]
    I32(static_cast<int32_t>(b.size()));
    Raw(b);
  }
  void NullBytes() { I32(-1); }
  void ShortBytes(absl::string_view b) {
    U16(static_cast<uint16_t>(b.size()));
    Raw(b);
  }
  void StringMap(const std::map<std::string, std::string>& m) {
    U16(static_cast<uint16_t>(m.size()));
    for (const auto& [k, v] : m) {
      String(k);
      String(v);
    }
  }
  std::string* out() { return out_; }

 private:
  std::string* out_;
};

// Reads with bounds checks. The first failure sticks: later reads return
// zero/empty values and ok() stays false, so decoders check once at the end
// (and inside loops, to stop early).
class Reader {
 public:
  explicit Reader(absl::string_view data) : data_(data) {}

  bool ok() const { return error_.empty(); }
  size_t remaining() const { return data_.size() - pos_; }
  absl::string_view rest() const { return data_.substr(pos_); }
  // INVALID_ARGUMENT naming what was being read, or OK.
  absl::Status status(absl::string_view what) const;
  void Fail(absl::string_view why);

  uint8_t U8();
  uint16_t U16();
  int16_t I16() { return static_cast<int16_t>(U16()); }
  int32_t I32();
  int64_t I64();
  absl::string_view Raw(size_t n);
  absl::string_view String();
  absl::string_view LongString();
  // [bytes]: nullopt for a negative length (null).
  std::optional<absl::string_view> Bytes();
  absl::string_view ShortBytes();
  std::vector<std::string> StringList();
  std::map<std::string, std::vector<std::string>> StringMultimap();
  std::map<std::string, std::optional<std::string>> BytesMap();
  // Reads a count and checks that `count * min_item_bytes` fits in what is
  // left (so a corrupt count cannot make the caller loop or allocate
  // without bound). Negative counts fail.
  int32_t Count(size_t min_item_bytes, absl::string_view what);
  uint16_t ShortCount(size_t min_item_bytes, absl::string_view what);

 private:
  bool Need(size_t n);
  absl::string_view data_;
  size_t pos_ = 0;
  std::string error_;
};

}  // namespace dts::cql::wire
