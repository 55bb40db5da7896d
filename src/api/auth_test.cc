#include "dts/api/auth.h"

#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace dts::api {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// printf %s <token> | sha256sum
std::string HashHex(const std::string& token) { return HexOf(Sha256(token)); }

TEST(RoleTest, NamesRoundTripAndAreOrdered) {
  for (Role role : {Role::kViewer, Role::kOperator, Role::kAdmin}) {
    EXPECT_EQ(ParseRole(RoleName(role)), role);
  }
  EXPECT_EQ(ParseRole("Admin"), Role::kAdmin);
  EXPECT_EQ(ParseRole("root"), std::nullopt);
  EXPECT_EQ(ParseRole(""), std::nullopt);
  EXPECT_LT(Role::kViewer, Role::kOperator);
  EXPECT_LT(Role::kOperator, Role::kAdmin);
}

TEST(Sha256Test, KnownVectors) {
  EXPECT_EQ(HashHex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(HashHex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(ConstantTimeEqualTest, ComparesEveryByte) {
  const TokenHash a = Sha256("a");
  TokenHash b = a;
  EXPECT_TRUE(ConstantTimeEqual(a, b));
  b.front() ^= 1;
  EXPECT_FALSE(ConstantTimeEqual(a, b));
  b = a;
  b.back() ^= 0x80;
  EXPECT_FALSE(ConstantTimeEqual(a, b));
}

TEST(TokensFileTest, ParsesRolesHashesNamesCommentsAndBlankLines) {
  const std::string content =
      "# DTS tokens\n"
      "\n"
      "viewer " + HashHex("viewer-token-0123456789") + " dashboard\n"
      "  OPERATOR\t" + absl::AsciiStrToUpper(HashHex("operator-token-0123456789")) + "  ci-bot  \n"
      "admin " + HashHex("admin-token-0123456789") + "\n";
  absl::StatusOr<std::vector<TokenEntry>> tokens = ParseTokensFile("tokens.txt", content);
  ASSERT_TRUE(tokens.ok()) << tokens.status();
  ASSERT_EQ(tokens->size(), 3u);
  EXPECT_EQ((*tokens)[0].role, Role::kViewer);
  EXPECT_EQ((*tokens)[0].name, "dashboard");
  EXPECT_EQ((*tokens)[1].role, Role::kOperator);
  EXPECT_EQ((*tokens)[1].name, "ci-bot");
  EXPECT_TRUE(ConstantTimeEqual((*tokens)[1].hash, Sha256("operator-token-0123456789")));
  EXPECT_EQ((*tokens)[2].role, Role::kAdmin);
  EXPECT_EQ((*tokens)[2].name, "sha256:" + HashHex("admin-token-0123456789").substr(0, 12));
  EXPECT_TRUE(ParseTokensFile("empty", "# nothing\n\n")->empty());
}

TEST(TokensFileTest, RejectsBadLinesNamingFileAndLine) {
  const std::string good = "viewer " + HashHex("viewer-token-0123456789") + " v\n";
  const std::string hash = HashHex("other-token-0123456789");
  const struct {
    std::string line;
    std::string why;
  } cases[] = {
      {"root " + hash, "unknown role \"root\""},
      {"viewer", "expected `ROLE SHA256-HEX [NAME]`"},
      {"viewer " + hash + " name extra", "expected `ROLE SHA256-HEX [NAME]`"},
      {"viewer " + hash.substr(1), "64 hex digits"},
      {"viewer " + hash.substr(1) + "g", "64 hex digits"},
      {"viewer other-token-0123456789", "not the token itself"},
      {"viewer " + hash + " bad\"name", "name \"bad\"name\""},
      {"admin " + HashHex("viewer-token-0123456789") + " again", "the same token is already configured"},
      {"admin " + hash + " v", "the name \"v\" is already used"},
  };
  for (const auto& c : cases) {
    absl::StatusOr<std::vector<TokenEntry>> tokens =
        ParseTokensFile("/etc/dts/tokens", "# header\n" + good + c.line + "\n");
    ASSERT_FALSE(tokens.ok()) << c.line;
    EXPECT_TRUE(absl::IsInvalidArgument(tokens.status()));
    EXPECT_THAT(tokens.status().message(), HasSubstr("/etc/dts/tokens:3: ")) << c.line;
    EXPECT_THAT(tokens.status().message(), HasSubstr(c.why)) << c.line;
  }
}

TEST(TokensEnvTest, ParsesRoleColonTokenList) {
  absl::StatusOr<std::vector<TokenEntry>> tokens = ParseTokensEnv(
      "DTS_AUTH_TOKENS", "viewer:viewer-token-0123456789, admin:admin:token:with:colons");
  ASSERT_TRUE(tokens.ok()) << tokens.status();
  ASSERT_EQ(tokens->size(), 2u);
  EXPECT_EQ((*tokens)[0].role, Role::kViewer);
  EXPECT_TRUE(ConstantTimeEqual((*tokens)[0].hash, Sha256("viewer-token-0123456789")));
  EXPECT_EQ((*tokens)[1].role, Role::kAdmin);
  EXPECT_TRUE(ConstantTimeEqual((*tokens)[1].hash, Sha256("admin:token:with:colons")));
  EXPECT_TRUE(ParseTokensEnv("DTS_AUTH_TOKENS", "")->empty());
  EXPECT_TRUE(ParseTokensEnv("DTS_AUTH_TOKENS", "  ")->empty());
}

TEST(TokensEnvTest, RejectsBadEntriesWithoutEchoingTokens) {
  const struct {
    std::string value;
    std::string why;
  } cases[] = {
      {"viewer:viewer-token-0123456789,secret-token-0123456789", "entry 2: expected ROLE:TOKEN"},
      {"boss:secret-token-0123456789", "entry 1: unknown role \"boss\""},
      {"viewer:short-secret", "entry 1: the token must be at least 16 characters"},
      {"viewer:secret-token-0123456789,,", "entry 2: expected ROLE:TOKEN"},
      {"viewer:secret-token-0123456789,admin:secret-token-0123456789", "entry 2: the same token"},
  };
  for (const auto& c : cases) {
    absl::StatusOr<std::vector<TokenEntry>> tokens = ParseTokensEnv("DTS_AUTH_TOKENS", c.value);
    ASSERT_FALSE(tokens.ok()) << c.value;
    EXPECT_TRUE(absl::IsInvalidArgument(tokens.status()));
    EXPECT_THAT(tokens.status().message(), HasSubstr("DTS_AUTH_TOKENS: " + c.why));
    EXPECT_THAT(tokens.status().message(), Not(HasSubstr("secret")));
  }
}

TEST(TokensTest, LegacyTokenIsAnAdminAndMergingRefusesDuplicates) {
  absl::StatusOr<TokenEntry> legacy = LegacyAdminToken("legacy-token-0123456789");
  ASSERT_TRUE(legacy.ok());
  EXPECT_EQ(legacy->role, Role::kAdmin);
  EXPECT_EQ(legacy->name, "api-token");
  EXPECT_FALSE(LegacyAdminToken("short").ok());
  absl::StatusOr<std::vector<TokenEntry>> env =
      ParseTokensEnv("DTS_AUTH_TOKENS", "viewer:legacy-token-0123456789");
  ASSERT_TRUE(env.ok());
  absl::StatusOr<std::vector<TokenEntry>> merged = MergeTokens(*env, {*legacy});
  ASSERT_FALSE(merged.ok());
  EXPECT_THAT(merged.status().message(), HasSubstr("configured twice"));
  env = ParseTokensEnv("DTS_AUTH_TOKENS", "viewer:viewer-token-0123456789");
  merged = MergeTokens(*env, {*legacy});
  ASSERT_TRUE(merged.ok());
  EXPECT_EQ(merged->size(), 2u);
}

class AuthenticatorTest : public ::testing::Test {
 protected:
  AuthenticatorTest()
      : auth_(*ParseTokensEnv("DTS_AUTH_TOKENS",
                              "viewer:viewer-token-0123456789,operator:operator-token-0123456789,"
                              "admin:admin-token-0123456789")) {}
  Authenticator auth_;
};

TEST_F(AuthenticatorTest, FindsEveryTokenWhateverItsPosition) {
  const struct {
    const char* token;
    Role role;
    int index;
  } cases[] = {{"viewer-token-0123456789", Role::kViewer, 0},
               {"operator-token-0123456789", Role::kOperator, 1},
               {"admin-token-0123456789", Role::kAdmin, 2}};
  for (const auto& c : cases) {
    absl::StatusOr<Principal> caller = auth_.Authenticate(std::string("Bearer ") + c.token);
    ASSERT_TRUE(caller.ok()) << c.token;
    EXPECT_EQ(caller->role, c.role);
    EXPECT_EQ(caller->token_index, c.index);
    EXPECT_EQ(caller->name, auth_.tokens()[static_cast<size_t>(c.index)].name);
  }
  EXPECT_TRUE(auth_.Authenticate("bearer admin-token-0123456789").ok());
}

TEST_F(AuthenticatorTest, MissingOrUnknownTokensAreUnauthenticated) {
  for (const char* header : {"", "Bearer", "Bearer ", "admin-token-0123456789",
                             "Basic admin-token-0123456789", "Bearer admin-token-0123456788",
                             "Bearer admin-token-012345678", "Bearer admin-token-0123456789x"}) {
    absl::StatusOr<Principal> caller = auth_.Authenticate(header);
    EXPECT_TRUE(absl::IsUnauthenticated(caller.status())) << header;
  }
  EXPECT_THAT(auth_.Authenticate("").status().message(), HasSubstr("missing bearer token"));
  EXPECT_THAT(auth_.Authenticate("Bearer nope-nope-nope-nope").status().message(),
              HasSubstr("invalid bearer token"));
}

TEST(AuthenticatorOffTest, EveryCallerIsAnAnonymousAdmin) {
  Authenticator off({});
  EXPECT_FALSE(off.enabled());
  absl::StatusOr<Principal> caller = off.Authenticate("");
  ASSERT_TRUE(caller.ok());
  EXPECT_EQ(caller->name, "anonymous");
  EXPECT_EQ(caller->role, Role::kAdmin);
  EXPECT_EQ(caller->token_index, -1);
}

TEST(LoopbackTest, Addresses) {
  EXPECT_TRUE(IsLoopbackAddress("127.0.0.1:8080"));
  EXPECT_TRUE(IsLoopbackAddress("localhost:0"));
  EXPECT_TRUE(IsLoopbackAddress("[::1]:50054"));
  EXPECT_FALSE(IsLoopbackAddress("0.0.0.0:8080"));
  EXPECT_FALSE(IsLoopbackAddress(":8080"));
  EXPECT_FALSE(IsLoopbackAddress("[::]:8080"));
}

}  // namespace
}  // namespace dts::api
