#include "target.h"

#include "dts/http/message.h"
#include "gtest/gtest.h"

namespace dts::http {
namespace {

using Query = std::multimap<std::string, std::string, std::less<>>;

struct Parsed {
  bool ok;
  std::string path;
  Query query;
};

Parsed Parse(absl::string_view target) {
  Parsed p;
  p.ok = ParseTarget(target, &p.path, &p.query);
  return p;
}

TEST(TargetTest, PathOnly) {
  Parsed p = Parse("/v1/jobs");
  ASSERT_TRUE(p.ok);
  EXPECT_EQ(p.path, "/v1/jobs");
  EXPECT_TRUE(p.query.empty());
}

TEST(TargetTest, PathIsPercentDecodedButPlusStays) {
  Parsed p = Parse("/v1/jobs/a%20b+c%2Fd");
  ASSERT_TRUE(p.ok);
  EXPECT_EQ(p.path, "/v1/jobs/a b+c/d");
}

TEST(TargetTest, QueryIsDecodedWithPlusAsSpace) {
  Parsed p = Parse("/x?name=a+b%26c&empty=&flag&tag=1&tag=2&&caf%C3%A9=%E2%9C%93");
  ASSERT_TRUE(p.ok);
  EXPECT_EQ(p.path, "/x");
  EXPECT_EQ(p.query, (Query{{"name", "a b&c"},
                            {"empty", ""},
                            {"flag", ""},
                            {"tag", "1"},
                            {"tag", "2"},
                            {"café", "✓"}}));
}

TEST(TargetTest, RepeatedKeysKeepOrder) {
  Parsed p = Parse("/x?tag=b&tag=a");
  ASSERT_TRUE(p.ok);
  auto [first, last] = p.query.equal_range("tag");
  ASSERT_EQ(std::distance(first, last), 2);
  EXPECT_EQ(first->second, "b");
  EXPECT_EQ(std::next(first)->second, "a");
}

TEST(TargetTest, AbsoluteForm) {
  Parsed p = Parse("http://example.com:8080/v1/jobs?limit=5");
  ASSERT_TRUE(p.ok);
  EXPECT_EQ(p.path, "/v1/jobs");
  EXPECT_EQ(p.query, (Query{{"limit", "5"}}));
  Parsed bare = Parse("http://example.com");
  ASSERT_TRUE(bare.ok);
  EXPECT_EQ(bare.path, "/");
}

TEST(TargetTest, Asterisk) {
  Parsed p = Parse("*");
  ASSERT_TRUE(p.ok);
  EXPECT_EQ(p.path, "*");
}

TEST(TargetTest, RejectsMalformed) {
  EXPECT_FALSE(Parse("").ok);
  EXPECT_FALSE(Parse("v1/jobs").ok);
  EXPECT_FALSE(Parse("/a%2").ok);
  EXPECT_FALSE(Parse("/a%").ok);
  EXPECT_FALSE(Parse("/a%zz").ok);
  EXPECT_FALSE(Parse("/a?x=%G0").ok);
  EXPECT_FALSE(Parse("/a?%=1").ok);
}

TEST(TargetTest, ReusesOutputs) {
  std::string path = "old";
  Query query{{"old", "1"}};
  ASSERT_TRUE(ParseTarget("/new?k=v", &path, &query));
  EXPECT_EQ(path, "/new");
  EXPECT_EQ(query, (Query{{"k", "v"}}));
}

TEST(RequestTest, HeaderLookupIgnoresCase) {
  Request r;
  r.headers = {{"Content-Type", "application/json"}, {"X-Thing", "1"}, {"x-thing", "2"}};
  EXPECT_EQ(r.Header("content-type"), "application/json");
  EXPECT_EQ(r.Header("X-THING"), "1");
  EXPECT_EQ(r.Header("missing"), std::nullopt);
}

TEST(RequestTest, QueryLookupGivesFirstValue) {
  Request r;
  ASSERT_TRUE(ParseTarget("/x?b=2&a=1&a=0", &r.path, &r.query));
  EXPECT_EQ(r.Query("a"), "1");
  EXPECT_EQ(r.Query("b"), "2");
  EXPECT_EQ(r.Query("c"), std::nullopt);
}

}  // namespace
}  // namespace dts::http
