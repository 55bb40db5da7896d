#include "dts/api/auth.h"

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include <algorithm>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace dts::api {
namespace {

bool IsNameChar(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.' ||
         c == '@' || c == ':' || c == '/';
}

std::string DefaultName(const TokenHash& hash) { return "sha256:" + HexOf(hash).substr(0, 12); }

absl::StatusOr<Role> RoleOrError(absl::string_view text) {
  std::optional<Role> role = ParseRole(text);
  if (!role) {
    return absl::InvalidArgumentError(
        absl::StrCat("unknown role \"", text, "\" (expected viewer, operator or admin)"));
  }
  return *role;
}

// One non-comment line of a tokens file.
absl::StatusOr<TokenEntry> ParseTokenLine(absl::string_view line) {
  std::vector<absl::string_view> fields =
      absl::StrSplit(line, absl::ByAnyChar(" \t"), absl::SkipEmpty());
  if (fields.size() < 2 || fields.size() > 3) {
    return absl::InvalidArgumentError(absl::StrCat(
        "expected `ROLE SHA256-HEX [NAME]`, got ", fields.size(), " field(s)"));
  }
  absl::StatusOr<Role> role = RoleOrError(fields[0]);
  if (!role.ok()) return role.status();
  TokenEntry entry;
  entry.role = *role;
  const std::string hex = absl::AsciiStrToLower(fields[1]);
  const bool is_hex = std::all_of(hex.begin(), hex.end(),
                                  [](char c) { return absl::ascii_isxdigit(static_cast<unsigned char>(c)); });
  if (hex.size() != 64 || !is_hex) {
    return absl::InvalidArgumentError(
        "the second field must be the token's SHA-256 as 64 hex digits "
        "(`printf %s TOKEN | sha256sum`), not the token itself");
  }
  const std::string bytes = absl::HexStringToBytes(hex);
  std::copy(bytes.begin(), bytes.end(), entry.hash.begin());
  if (fields.size() == 3) {
    if (!std::all_of(fields[2].begin(), fields[2].end(), IsNameChar)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "name \"", fields[2], "\": use letters, digits and - _ . @ : / only"));
    }
    entry.name = std::string(fields[2]);
  } else {
    entry.name = DefaultName(entry.hash);
  }
  return entry;
}

// Why `entry` cannot join `seen` (empty when it can): the same token twice
// would make its role ambiguous, the same name twice the audit log.
std::string Conflict(const std::vector<TokenEntry>& seen, const TokenEntry& entry) {
  for (const TokenEntry& other : seen) {
    if (ConstantTimeEqual(other.hash, entry.hash)) {
      return absl::StrCat("the same token is already configured (as \"", other.name, "\")");
    }
    if (other.name == entry.name) return absl::StrCat("the name \"", entry.name, "\" is already used");
  }
  return "";
}

}  // namespace

absl::string_view RoleName(Role role) {
  switch (role) {
    case Role::kViewer:
      return "viewer";
    case Role::kOperator:
      return "operator";
    case Role::kAdmin:
      return "admin";
  }
  return "unknown";
}

std::optional<Role> ParseRole(absl::string_view text) {
  for (Role role : {Role::kViewer, Role::kOperator, Role::kAdmin}) {
    if (absl::EqualsIgnoreCase(text, RoleName(role))) return role;
  }
  return std::nullopt;
}

TokenHash Sha256(absl::string_view data) {
  TokenHash out;
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), out.data());
  return out;
}

std::string HexOf(const TokenHash& hash) {
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(hash.data()), hash.size()));
}

bool ConstantTimeEqual(const TokenHash& a, const TokenHash& b) {
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

absl::StatusOr<std::vector<TokenEntry>> ParseTokensFile(absl::string_view file_name,
                                                        absl::string_view content) {
  std::vector<TokenEntry> entries;
  int line_number = 0;
  for (absl::string_view line : absl::StrSplit(content, '\n')) {
    ++line_number;
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || line.front() == '#') continue;
    absl::StatusOr<TokenEntry> entry = ParseTokenLine(line);
    std::string problem = entry.ok() ? Conflict(entries, *entry) : std::string(entry.status().message());
    if (!problem.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(file_name, ":", line_number, ": ", problem));
    }
    entries.push_back(*std::move(entry));
  }
  return entries;
}

absl::StatusOr<std::vector<TokenEntry>> ParseTokensEnv(absl::string_view variable,
                                                       absl::string_view value) {
  std::vector<TokenEntry> entries;
  if (absl::StripAsciiWhitespace(value).empty()) return entries;
  int index = 0;
  for (absl::string_view item : absl::StrSplit(value, ',')) {
    ++index;
    item = absl::StripAsciiWhitespace(item);
    // Never echo the item: it holds a secret.
    const auto fail = [&](absl::string_view why) {
      return absl::InvalidArgumentError(absl::StrCat(variable, ": entry ", index, ": ", why));
    };
    const size_t colon = item.find(':');
    if (colon == absl::string_view::npos) return fail("expected ROLE:TOKEN");
    absl::StatusOr<Role> role = RoleOrError(item.substr(0, colon));
    if (!role.ok()) return fail(role.status().message());
    const absl::string_view token = item.substr(colon + 1);
    if (token.size() < kMinTokenLength) {
      return fail(absl::StrCat("the token must be at least ", kMinTokenLength, " characters"));
    }
    TokenEntry entry{.role = *role, .hash = Sha256(token), .name = ""};
    entry.name = DefaultName(entry.hash);
    if (std::string problem = Conflict(entries, entry); !problem.empty()) return fail(problem);
    entries.push_back(std::move(entry));
  }
  return entries;
}

absl::StatusOr<TokenEntry> LegacyAdminToken(absl::string_view token) {
  if (token.size() < kMinTokenLength) {
    return absl::InvalidArgumentError(
        absl::StrCat("the API token must be at least ", kMinTokenLength, " characters"));
  }
  return TokenEntry{.role = Role::kAdmin, .hash = Sha256(token), .name = "api-token"};
}

absl::StatusOr<std::vector<TokenEntry>> MergeTokens(std::vector<TokenEntry> a,
                                                    std::vector<TokenEntry> b) {
  for (TokenEntry& entry : b) {
    if (std::string problem = Conflict(a, entry); !problem.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("token \"", entry.name, "\" is configured twice: ", problem));
    }
    a.push_back(std::move(entry));
  }
  return a;
}

absl::StatusOr<Principal> Authenticator::Authenticate(absl::string_view authorization) const {
  if (!enabled()) return Principal{};
  absl::string_view presented = absl::StripAsciiWhitespace(authorization);
  if (presented.size() < 7 || !absl::EqualsIgnoreCase(presented.substr(0, 7), "bearer ")) {
    return absl::UnauthenticatedError("missing bearer token (Authorization: Bearer <token>)");
  }
  presented = absl::StripLeadingAsciiWhitespace(presented.substr(7));
  if (presented.empty()) return absl::UnauthenticatedError("empty bearer token");
  // Every entry is compared, without stopping at a match, so the time says
  // nothing about which entry (if any) matched.
  const TokenHash hash = Sha256(presented);
  int match = -1;
  for (size_t i = 0; i < tokens_.size(); ++i) {
    if (ConstantTimeEqual(tokens_[i].hash, hash)) match = static_cast<int>(i);
  }
  if (match < 0) return absl::UnauthenticatedError("invalid bearer token");
  const TokenEntry& entry = tokens_[static_cast<size_t>(match)];
  return Principal{.name = entry.name, .role = entry.role, .token_index = match};
}

bool IsLoopbackAddress(absl::string_view address) {
  const size_t colon = address.rfind(':');
  absl::string_view host = colon == absl::string_view::npos ? address : address.substr(0, colon);
  if (absl::ConsumePrefix(&host, "[")) absl::ConsumeSuffix(&host, "]");
  return host == "localhost" || absl::StartsWith(host, "127.") || host == "::1";
}

}  // namespace dts::api
