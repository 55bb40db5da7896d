#include "dts/http/router.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace dts::http {
namespace {

using ::testing::HasSubstr;
using ::testing::Pair;

// A handler that answers "<tag>" plus its params, so tests see which route ran.
Handler Tag(std::string tag) {
  return [tag](const Request&, const PathParams& params) {
    std::string body = tag;
    for (const char* name : {"id", "job_id", "run", "name"}) {
      if (auto it = params.find(name); it != params.end()) {
        body += " " + it->first + "=" + it->second;
      }
    }
    return Response{.body = body};
  };
}

Request Req(std::string method, std::string path) {
  Request r;
  r.method = std::move(method);
  r.path = std::move(path);
  return r;
}

std::string AllowOf(const Response& r) {
  for (const auto& [name, value] : r.headers) {
    if (name == "Allow") return value;
  }
  return "<none>";
}

class RouterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    router_.Add("GET", "/v1/jobs", Tag("list"));
    router_.Add("POST", "/v1/jobs", Tag("create"));
    router_.Add("GET", "/v1/jobs/{id}", Tag("get"));
    router_.Add("DELETE", "/v1/jobs/{job_id}", Tag("delete"));
    router_.Add("POST", "/v1/jobs/{id}/run", Tag("run"));
    router_.Add("GET", "/v1/jobs/stats", Tag("stats"));
    router_.Add("GET", "/v1/jobs/{id}/runs/{run}", Tag("get-run"));
    router_.Add("GET", "/", Tag("root"));
    ASSERT_TRUE(router_.status().ok()) << router_.status();
  }

  Router router_;
};

TEST_F(RouterTest, LiteralRoutes) {
  EXPECT_EQ(router_.Dispatch(Req("GET", "/v1/jobs")).body, "list");
  EXPECT_EQ(router_.Dispatch(Req("POST", "/v1/jobs")).body, "create");
  EXPECT_EQ(router_.Dispatch(Req("GET", "/")).body, "root");
}

TEST_F(RouterTest, Params) {
  EXPECT_EQ(router_.Dispatch(Req("GET", "/v1/jobs/abc")).body, "get id=abc");
  EXPECT_EQ(router_.Dispatch(Req("POST", "/v1/jobs/abc/run")).body, "run id=abc");
  EXPECT_EQ(router_.Dispatch(Req("GET", "/v1/jobs/j1/runs/r7")).body, "get-run id=j1 run=r7");
  // Parameter names belong to the route, so methods may name them differently.
  EXPECT_EQ(router_.Dispatch(Req("DELETE", "/v1/jobs/abc")).body, "delete job_id=abc");
}

TEST_F(RouterTest, ParamValuesAreTakenAsDecoded) {
  EXPECT_EQ(router_.Dispatch(Req("GET", "/v1/jobs/a b")).body, "get id=a b");
}

TEST_F(RouterTest, LiteralWinsOverParam) {
  EXPECT_EQ(router_.Dispatch(Req("GET", "/v1/jobs/stats")).body, "stats");
}

TEST_F(RouterTest, ParamBranchServesMethodsTheLiteralLacks) {
  EXPECT_EQ(router_.Dispatch(Req("DELETE", "/v1/jobs/stats")).body, "delete job_id=stats");
}

TEST_F(RouterTest, EmptySegmentsAreIgnored) {
  EXPECT_EQ(router_.Dispatch(Req("GET", "/v1/jobs/")).body, "list");
  EXPECT_EQ(router_.Dispatch(Req("GET", "//v1//jobs/x/")).body, "get id=x");
}

TEST_F(RouterTest, UnknownPathIs404) {
  for (const char* path : {"/v2/jobs", "/v1", "/v1/jobs/x/y", "/v1/jobs/x/run/more"}) {
    SCOPED_TRACE(path);
    Response r = router_.Dispatch(Req("GET", path));
    EXPECT_EQ(r.status, 404);
    EXPECT_THAT(r.body, HasSubstr(R"("code":5)"));
    EXPECT_THAT(r.body, HasSubstr(path));
  }
}

TEST_F(RouterTest, WrongMethodIs405WithAllow) {
  Response r = router_.Dispatch(Req("PUT", "/v1/jobs"));
  EXPECT_EQ(r.status, 405);
  EXPECT_THAT(r.body, HasSubstr(R"("code":12)"));
  EXPECT_EQ(AllowOf(r), "GET, POST, HEAD");

  Response run = router_.Dispatch(Req("GET", "/v1/jobs/abc/run"));
  EXPECT_EQ(run.status, 405);
  EXPECT_EQ(AllowOf(run), "POST");
}

TEST_F(RouterTest, MethodsAreCaseSensitive) {
  EXPECT_EQ(router_.Dispatch(Req("get", "/v1/jobs")).status, 405);
}

TEST_F(RouterTest, HeadFallsBackToGet) {
  EXPECT_EQ(router_.Dispatch(Req("HEAD", "/v1/jobs/abc")).body, "get id=abc");
  EXPECT_EQ(router_.Dispatch(Req("HEAD", "/v1/jobs/abc/run")).status, 405);
}

TEST(RouterAddTest, RecordsFirstError) {
  Router router;
  router.Add("GET", "/ok/{id}", Tag("ok"));
  EXPECT_TRUE(router.status().ok());
  router.Add("GET", "no-slash", Tag("x"));
  EXPECT_EQ(router.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(router.status().message(), HasSubstr("no-slash"));
  router.Add("GET", "/other/{}", Tag("x"));
  EXPECT_THAT(router.status().message(), HasSubstr("no-slash"));  // still the first
  EXPECT_EQ(router.Dispatch(Req("GET", "/ok/1")).body, "ok id=1");
}

TEST(RouterAddTest, RejectsBadRoutes) {
  struct Case {
    const char* method;
    const char* pattern;
    const char* why;
  };
  for (const Case& c : {Case{"", "/x", "empty method"}, Case{"GET", "", "start with"},
                        Case{"GET", "/x/{}", "parameter name"},
                        Case{"GET", "/x/{a-b}", "parameter name"},
                        Case{"GET", "/x/a{id}", "whole segment"},
                        Case{"GET", "/x/{id", "whole segment"},
                        Case{"GET", "/{id}/{id}", "repeated"}}) {
    SCOPED_TRACE(c.pattern);
    Router router;
    router.Add(c.method, c.pattern, Tag("x"));
    EXPECT_THAT(router.status().message(), HasSubstr(c.why));
  }
  Router router;
  router.Add("GET", "/x", nullptr);
  EXPECT_THAT(router.status().message(), HasSubstr("empty handler"));
}

TEST(RouterAddTest, RejectsDuplicates) {
  Router router;
  router.Add("GET", "/jobs/{id}", Tag("a"));
  router.Add("GET", "/jobs/{name}", Tag("b"));
  EXPECT_THAT(router.status().message(), HasSubstr("duplicate"));
  EXPECT_EQ(router.Dispatch(Req("GET", "/jobs/1")).body, "a id=1");
}

TEST(RouterAddTest, HandlerExceptionsPropagateFromDispatch) {
  Router router;
  router.Add("GET", "/boom", [](const Request&, const PathParams&) -> Response {
    throw std::runtime_error("boom");
  });
  EXPECT_THROW(router.Dispatch(Req("GET", "/boom")), std::runtime_error);
}

TEST(RouterAddTest, IsMovable) {
  Router a;
  a.Add("GET", "/x", Tag("x"));
  Router b = std::move(a);
  EXPECT_EQ(b.Dispatch(Req("GET", "/x")).body, "x");
}

}  // namespace
}  // namespace dts::http
