#include "wire.h"

#include "absl/strings/str_cat.h"

namespace dts::cql::wire {

absl::Status Reader::status(absl::string_view what) const {
  if (ok()) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat("malformed ", what, ": ", error_));
}

void Reader::Fail(absl::string_view why) {
  if (error_.empty()) error_ = absl::StrCat(why, " at byte ", pos_);
  pos_ = data_.size();
}

bool Reader::Need(size_t n) {
  if (!ok()) return false;
  if (remaining() < n) {
    Fail(absl::StrCat("truncated: need ", n, " bytes, have ", remaining()));
    return false;
  }
  return true;
}

uint8_t Reader::U8() {
  if (!Need(1)) return 0;
  return static_cast<uint8_t>(data_[pos_++]);
}

uint16_t Reader::U16() {
  if (!Need(2)) return 0;
  const auto* p = reinterpret_cast<const uint8_t*>(data_.data() + pos_);
  pos_ += 2;
  return static_cast<uint16_t>((p[0] << 8) | p[1]);
}

int32_t Reader::I32() {
  if (!Need(4)) return 0;
  const auto* p = reinterpret_cast<const uint8_t*>(data_.data() + pos_);
  pos_ += 4;
  const uint32_t u = (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
  return static_cast<int32_t>(u);
}

int64_t Reader::I64() {
  if (!Need(8)) return 0;
  const auto* p = reinterpret_cast<const uint8_t*>(data_.data() + pos_);
  pos_ += 8;
  uint64_t u = 0;
  for (int i = 0; i < 8; ++i) u = (u << 8) | p[i];
  return static_cast<int64_t>(u);
}

absl::string_view Reader::Raw(size_t n) {
  if (!Need(n)) return {};
  absl::string_view out = data_.substr(pos_, n);
  pos_ += n;
  return out;
}

absl::string_view Reader::String() { return Raw(U16()); }

absl::string_view Reader::LongString() {
  const int32_t n = I32();
  if (n < 0) {
    Fail("negative [long string] length");
    return {};
  }
  return Raw(static_cast<size_t>(n));
}

std::optional<absl::string_view> Reader::Bytes() {
  const int32_t n = I32();
  if (!ok()) return absl::string_view();
  if (n < 0) return std::nullopt;
  return Raw(static_cast<size_t>(n));
}

absl::string_view Reader::ShortBytes() { return Raw(U16()); }

std::vector<std::string> Reader::StringList() {
  const uint16_t n = ShortCount(2, "string list");
  std::vector<std::string> out;
  for (uint16_t i = 0; i < n && ok(); ++i) out.emplace_back(String());
  return out;
}

std::map<std::string, std::vector<std::string>> Reader::StringMultimap() {
  const uint16_t n = ShortCount(4, "string multimap");
  std::map<std::string, std::vector<std::string>> out;
  for (uint16_t i = 0; i < n && ok(); ++i) {
    std::string key(String());
    out[key] = StringList();
  }
  return out;
}

std::map<std::string, std::optional<std::string>> Reader::BytesMap() {
  const uint16_t n = ShortCount(6, "bytes map");
  std::map<std::string, std::optional<std::string>> out;
  for (uint16_t i = 0; i < n && ok(); ++i) {
    std::string key(String());
    auto v = Bytes();
    out[key] = v ? std::optional<std::string>(std::string(*v)) : std::nullopt;
  }
  return out;
}

int32_t Reader::Count(size_t min_item_bytes, absl::string_view what) {
  const int32_t n = I32();
  if (!ok()) return 0;
  if (n < 0) {
    Fail(absl::StrCat("negative ", what, " count ", n));
    return 0;
  }
  if (min_item_bytes > 0 && static_cast<uint64_t>(n) * min_item_bytes > remaining()) {
    Fail(absl::StrCat(what, " count ", n, " exceeds the ", remaining(), " bytes left"));
    return 0;
  }
  return n;
}

uint16_t Reader::ShortCount(size_t min_item_bytes, absl::string_view what) {
  const uint16_t n = U16();
  if (!ok()) return 0;
  if (min_item_bytes > 0 && static_cast<uint64_t>(n) * min_item_bytes > remaining()) {
    Fail(absl::StrCat(what, " count ", n, " exceeds the ", remaining(), " bytes left"));
    return 0;
  }
  return n;
}

}  // namespace dts::cql::wire
