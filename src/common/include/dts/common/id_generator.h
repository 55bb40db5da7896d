#pragma once

#include <cstdint>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/random/random.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"

namespace dts {

// Makes new identifiers. Injected like the Clock, so tests get predictable
// ids. Implementations are thread-safe.
class IdGenerator {
 public:
  virtual ~IdGenerator() = default;
  // A random (version 4) UUID in canonical lower-case form.
  virtual std::string NewUuid() = 0;

 protected:
  static std::string FormatUuid(uint64_t hi, uint64_t lo) {
    hi = (hi & 0xffffffffffff0fffULL) | 0x0000000000004000ULL;  // version 4
    lo = (lo & 0x3fffffffffffffffULL) | 0x8000000000000000ULL;  // RFC 4122 variant
    return absl::StrFormat("%08x-%04x-%04x-%04x-%012x", hi >> 32, (hi >> 16) & 0xffff, hi & 0xffff,
                           lo >> 48, lo & 0xffffffffffffULL);
  }
};

class RandomIdGenerator final : public IdGenerator {
 public:
  std::string NewUuid() override {
    absl::MutexLock lock(&mu_);
    const uint64_t hi = absl::Uniform<uint64_t>(bitgen_);
    const uint64_t lo = absl::Uniform<uint64_t>(bitgen_);
    return FormatUuid(hi, lo);
  }

 private:
  absl::Mutex mu_;
  absl::BitGen bitgen_ ABSL_GUARDED_BY(mu_);
};

// Ids 00000000-0000-4000-8000-000000000001, ...002, in order. For tests.
class SequentialIdGenerator final : public IdGenerator {
 public:
  std::string NewUuid() override {
    absl::MutexLock lock(&mu_);
    return FormatUuid(0, ++next_);
  }

 private:
  absl::Mutex mu_;
  uint64_t next_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace dts
