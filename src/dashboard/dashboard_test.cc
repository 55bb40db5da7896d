#include "dts/dashboard/dashboard.h"

#include <fstream>
#include <optional>
#include <sstream>
#include <string>

#include "dashboard/assets.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace dts::dashboard {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

std::optional<std::string> HeaderOf(const http::Response& response, const std::string& name) {
  for (const auto& [key, value] : response.headers) {
    if (key == name) return value;
  }
  return std::nullopt;
}

http::Response Get(const http::Router& router, const std::string& path,
                   std::vector<std::pair<std::string, std::string>> headers = {}) {
  return router.Dispatch(http::Request{.method = "GET", .path = path, .headers = std::move(headers)});
}

class DashboardTest : public ::testing::Test {
 protected:
  DashboardTest() { RegisterDashboard(router_); }
  http::Router router_;
};

TEST_F(DashboardTest, RegistersCleanly) { EXPECT_TRUE(router_.status().ok()) << router_.status(); }

TEST_F(DashboardTest, ServesThePageAtRootWithAStrictPolicy) {
  const http::Response page = Get(router_, "/");
  EXPECT_EQ(page.status, 200);
  EXPECT_EQ(page.content_type, "text/html; charset=utf-8");
  EXPECT_THAT(page.body, HasSubstr("<script src=\"/ui/app.js\""));
  EXPECT_THAT(page.body, ::testing::Not(HasSubstr("<script>")));  // no inline script
  const std::optional<std::string> csp = HeaderOf(page, "Content-Security-Policy");
  ASSERT_TRUE(csp.has_value());
  EXPECT_THAT(*csp, HasSubstr("script-src 'self';"));
  EXPECT_THAT(*csp, ::testing::Not(HasSubstr("unsafe-inline")));
  EXPECT_EQ(HeaderOf(page, "X-Content-Type-Options"), "nosniff");
  EXPECT_EQ(HeaderOf(page, "Cache-Control"), "no-cache");
}

TEST_F(DashboardTest, ServesAssetsWithTheirTypes) {
  EXPECT_EQ(Get(router_, "/ui/app.js").content_type, "text/javascript; charset=utf-8");
  EXPECT_EQ(Get(router_, "/ui/style.css").content_type, "text/css; charset=utf-8");
  EXPECT_EQ(Get(router_, "/ui/app.js").status, 200);
}

TEST_F(DashboardTest, EtagRevalidationAnswers304WithoutABody) {
  const http::Response first = Get(router_, "/ui/app.js");
  const std::optional<std::string> etag = HeaderOf(first, "ETag");
  ASSERT_TRUE(etag.has_value());
  EXPECT_THAT(*etag, StartsWith("\""));
  const http::Response again = Get(router_, "/ui/app.js", {{"If-None-Match", "\"x\", " + *etag}});
  EXPECT_EQ(again.status, 304);
  EXPECT_TRUE(again.body.empty());
  EXPECT_EQ(HeaderOf(again, "ETag"), etag);
  EXPECT_EQ(Get(router_, "/ui/app.js", {{"If-None-Match", "\"other\""}}).status, 200);
  // Different files have different tags.
  EXPECT_NE(HeaderOf(Get(router_, "/ui/style.css"), "ETag"), etag);
}

TEST_F(DashboardTest, UnknownFilesAre404) {
  EXPECT_EQ(Get(router_, "/ui/nope.js").status, 404);
  EXPECT_EQ(Get(router_, "/ui/index.html").status, 404);  // the page lives at "/" only
  EXPECT_EQ(Get(router_, "/ui/..").status, 404);
  EXPECT_EQ(Get(router_, "/ui").status, 404);
  EXPECT_EQ(Get(router_, "/ui/app.js/x").status, 404);
  EXPECT_EQ(Get(router_, "/index.html").status, 404);
}

TEST_F(DashboardTest, OtherMethodsAre405) {
  const http::Response post = router_.Dispatch(http::Request{.method = "POST", .path = "/"});
  EXPECT_EQ(post.status, 405);
}

TEST(EmbeddedAssetsTest, MatchTheFilesByteForByte) {
  ASSERT_FALSE(internal::EmbeddedAssets().empty());
  for (const internal::Asset& asset : internal::EmbeddedAssets()) {
    std::ifstream in(std::string(DTS_DASHBOARD_ASSETS_DIR) + "/" + std::string(asset.name),
                     std::ios::binary);
    ASSERT_TRUE(in) << asset.name;
    std::stringstream content;
    content << in.rdbuf();
    EXPECT_EQ(content.str(), asset.body) << asset.name;
  }
}

}  // namespace
}  // namespace dts::dashboard
