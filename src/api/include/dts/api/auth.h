#pragma once

// API tokens and roles (docs/security.md). A token is known only by its
// SHA-256, so neither a tokens file nor memory dumps of the table hold a
// usable secret, and presented tokens are compared in constant time.

#include <array>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace dts::api {

// Ordered: a role may do everything the roles below it may.
enum class Role { kViewer = 1, kOperator = 2, kAdmin = 3 };

absl::string_view RoleName(Role role);  // "viewer", "operator", "admin"
// Case-insensitive; nullopt for anything else.
std::optional<Role> ParseRole(absl::string_view text);

using TokenHash = std::array<unsigned char, 32>;

TokenHash Sha256(absl::string_view data);
std::string HexOf(const TokenHash& hash);  // lower-case, 64 characters
// CRYPTO_memcmp: the time does not depend on where the first difference is.
bool ConstantTimeEqual(const TokenHash& a, const TokenHash& b);

struct TokenEntry {
  Role role = Role::kViewer;
  TokenHash hash{};
  std::string name{};  // for the audit log; never the token
};

// Tokens given in the clear (DTS_AUTH_TOKENS, DTS_API_TOKEN) must be at
// least this long, so that they cannot be guessed online.
inline constexpr size_t kMinTokenLength = 16;

// A tokens file: one `ROLE SHA256-HEX [NAME]` per line, '#' comments and
// blank lines allowed. INVALID_ARGUMENT naming `file_name` and the line for
// any bad line, a duplicate token or a duplicate name. An unnamed token is
// called "sha256:<first 12 hex digits>".
absl::StatusOr<std::vector<TokenEntry>> ParseTokensFile(absl::string_view file_name,
                                                        absl::string_view content);
// `ROLE:TOKEN[,ROLE:TOKEN...]` (the value of $DTS_AUTH_TOKENS, named by
// `variable` in errors). Empty: no tokens.
absl::StatusOr<std::vector<TokenEntry>> ParseTokensEnv(absl::string_view variable,
                                                       absl::string_view value);
// The single token of --api-token-file / $DTS_API_TOKEN: an admin named
// "api-token" (what it could do before roles existed).
absl::StatusOr<TokenEntry> LegacyAdminToken(absl::string_view token);
// `a` then `b`; INVALID_ARGUMENT when a token or a name is in both.
absl::StatusOr<std::vector<TokenEntry>> MergeTokens(std::vector<TokenEntry> a,
                                                    std::vector<TokenEntry> b);

// Who made a request.
struct Principal {
  std::string name = "anonymous";
  Role role = Role::kAdmin;
  int token_index = -1;  // into the Authenticator's tokens; -1: auth is off
};

// Bearer-token authentication. With no tokens it is off (every caller is an
// anonymous admin), which the server allows only on loopback or with
// --insecure-no-auth.
class Authenticator {
 public:
  explicit Authenticator(std::vector<TokenEntry> tokens) : tokens_(std::move(tokens)) {}

  bool enabled() const { return !tokens_.empty(); }
  const std::vector<TokenEntry>& tokens() const { return tokens_; }

  // The caller named by an `Authorization` header value ("Bearer <token>";
  // empty when absent). UNAUTHENTICATED when missing or unknown.
  absl::StatusOr<Principal> Authenticate(absl::string_view authorization) const;

 private:
  std::vector<TokenEntry> tokens_;
};

// True when `address` ("host:port") binds only the loopback interface.
bool IsLoopbackAddress(absl::string_view address);

}  // namespace dts::api
