#include "dts/scheduler/run_id.h"

#include <openssl/evp.h>
#include <openssl/sha.h>

#include <array>
#include <cstdint>
#include <string>

#include "absl/strings/str_cat.h"

namespace dts::scheduler {
namespace {

// A fixed namespace UUID for DTS run ids (random, generated once).
constexpr std::array<uint8_t, 16> kRunNamespace = {0x6b, 0x1f, 0x0c, 0x52, 0x9e, 0x3a, 0x4d, 0x77,
                                                   0xa1, 0x58, 0x2c, 0x04, 0xd9, 0x8e, 0x61, 0x3b};

}  // namespace

// OpenSSL 3's one-shot SHA1() looks the algorithm up on every call; fetch
// it once. Thread-safe: an EVP_MD is immutable once fetched.
const EVP_MD* Sha1() {
  static const EVP_MD* const kSha1 = EVP_MD_fetch(nullptr, "SHA1", nullptr);
  return kSha1;
}

RunId ScheduledRunId(const JobId& job, absl::Time scheduled, int attempt) {
  std::string input(reinterpret_cast<const char*>(kRunNamespace.data()), kRunNamespace.size());
  absl::StrAppend(&input, job.value(), "/", absl::ToUnixMicros(scheduled), "/", attempt);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (Sha1() == nullptr ||
      EVP_Digest(input.data(), input.size(), digest, &length, Sha1(), nullptr) != 1) {
    SHA1(reinterpret_cast<const unsigned char*>(input.data()), input.size(), digest);
  }
  digest[6] = static_cast<unsigned char>((digest[6] & 0x0f) | 0x50);  // version 5
  digest[8] = static_cast<unsigned char>((digest[8] & 0x3f) | 0x80);  // RFC 4122 variant
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(36, '-');
  size_t pos = 0;
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) ++pos;  // keep the dash
    out[pos++] = kHex[digest[i] >> 4];
    out[pos++] = kHex[digest[i] & 0x0f];
  }
  return RunId(std::move(out));
}

}  // namespace dts::scheduler
