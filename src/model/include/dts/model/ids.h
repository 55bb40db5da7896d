#pragma once

#include <compare>
#include <string>
#include <utility>

#include "absl/strings/string_view.h"

namespace dts {

// A string identifier with a type of its own, so a RunId can never be passed
// where a JobId is expected.
template <typename Tag>
class StrongId {
 public:
  StrongId() = default;
  explicit StrongId(std::string value) : value_(std::move(value)) {}

  const std::string& value() const { return value_; }
  bool empty() const { return value_.empty(); }

  friend auto operator<=>(const StrongId&, const StrongId&) = default;
  template <typename H>
  friend H AbslHashValue(H h, const StrongId& id) {
    return H::combine(std::move(h), id.value_);
  }

 private:
  std::string value_;
};

using JobId = StrongId<struct JobIdTag>;
using RunId = StrongId<struct RunIdTag>;
using WorkerId = StrongId<struct WorkerIdTag>;

// True for the canonical lower-case 8-4-4-4-12 hex form.
bool IsUuid(absl::string_view text);

}  // namespace dts
