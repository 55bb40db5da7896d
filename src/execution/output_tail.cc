#include "execution/output_tail.h"

#include <algorithm>
#include <utility>

namespace dts::execution {

void OutputTail::Append(absl::string_view data) {
  if (data.size() >= limit_) {
    truncated_ = truncated_ || data.size() > limit_ || !buffer_.empty();
    buffer_.assign(data.data() + (data.size() - limit_), limit_);
    return;
  }
  buffer_.append(data.data(), data.size());
  // Letting the buffer grow to twice the limit before dropping the front keeps
  // appends amortised O(1) instead of moving `limit_` bytes every time.
  if (buffer_.size() > 2 * limit_) Compact();
}

void OutputTail::Compact() {
  if (buffer_.size() <= limit_) return;
  truncated_ = true;
  buffer_.erase(0, buffer_.size() - limit_);
}

std::string OutputTail::Take() && {
  Compact();
  if (truncated_) {
    // A UTF-8 sequence is at most 4 bytes, so at most 3 continuation bytes
    // (10xxxxxx) can precede the first whole character.
    size_t skip = 0;
    while (skip < 3 && skip < buffer_.size() &&
           (static_cast<unsigned char>(buffer_[skip]) & 0xC0) == 0x80) {
      ++skip;
    }
    buffer_.erase(0, skip);
  }
  return std::move(buffer_);
}

}  // namespace dts::execution
