#include "dts/scheduler/run_id.h"

#include <openssl/sha.h>

#include <array>
#include <cstdint>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace dts::scheduler {
namespace {

// A fixed namespace UUID for DTS run ids (random, generated once).
constexpr std::array<uint8_t, 16> kRunNamespace = {0x6b, 0x1f, 0x0c, 0x52, 0x9e, 0x3a, 0x4d, 0x77,
                                                   0xa1, 0x58, 0x2c, 0x04, 0xd9, 0x8e, 0x61, 0x3b};

}  // namespace

RunId ScheduledRunId(const JobId& job, absl::Time scheduled, int attempt) {
  const std::string name = absl::StrCat(job.value(), "/", absl::ToUnixMicros(scheduled), "/", attempt);
  std::string input(reinterpret_cast<const char*>(kRunNamespace.data()), kRunNamespace.size());
  input += name;
  unsigned char digest[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(input.data()), input.size(), digest);
  digest[6] = static_cast<unsigned char>((digest[6] & 0x0f) | 0x50);  // version 5
  digest[8] = static_cast<unsigned char>((digest[8] & 0x3f) | 0x80);  // RFC 4122 variant
  std::string out;
  out.reserve(36);
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out.push_back('-');
    absl::StrAppendFormat(&out, "%02x", digest[i]);
  }
  return RunId(std::move(out));
}

}  // namespace dts::scheduler
