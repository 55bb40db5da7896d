#pragma once

#include <cstddef>
#include <string>

#include "absl/strings/string_view.h"

namespace dts::execution {

// Keeps the last `limit` bytes of a stream, in O(limit) memory and amortised
// O(1) per byte. Not thread-safe: one owner appends and takes.
class OutputTail {
 public:
  explicit OutputTail(size_t limit) : limit_(limit) {}

  void Append(absl::string_view data);

  // The kept bytes. When older bytes were dropped, leading UTF-8 continuation
  // bytes are dropped too, so a valid UTF-8 stream stays valid after the cut.
  std::string Take() &&;

  bool truncated() const { return truncated_; }

 private:
  void Compact();

  size_t limit_;
  std::string buffer_;  // the tail is its last min(size, limit_) bytes
  bool truncated_ = false;
};

}  // namespace dts::execution
