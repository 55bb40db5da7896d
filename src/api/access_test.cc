#include "dts/api/access.h"

#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_replace.h"
#include "dts/api/audit_log.h"
#include "dts/api/http_gateway.h"
#include "dts/api/rate_limiter.h"
#include "dts/common/clock.h"
#include "dts/http/router.h"
#include "dts/v1/execution.grpc.pb.h"
#include "dts/v1/job.grpc.pb.h"
#include "dts/v1/scheduler.grpc.pb.h"
#include "gmock/gmock.h"
#include "google/protobuf/descriptor.h"
#include "gtest/gtest.h"

namespace dts::api {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;

const absl::Time kStart = absl::FromUnixSeconds(1'767'225'600);  // 2026-01-01T00:00:00Z

// ---- the table

TEST(AccessRulesTest, EveryGrpcMethodHasExactlyOneRuleAndNoRuleIsStale) {
  std::set<std::string> methods;
  for (const char* service_name :
       {v1::JobService::service_full_name(), v1::SchedulerService::service_full_name(),
        v1::ExecutionService::service_full_name()}) {
    const google::protobuf::ServiceDescriptor* service =
        google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(service_name);
    ASSERT_NE(service, nullptr) << service_name;
    for (int i = 0; i < service->method_count(); ++i) {
      const std::string name = service->full_name() + "/" + service->method(i)->name();
      methods.insert(name);
      EXPECT_NE(FindGrpcRule(name), nullptr) << name;
      EXPECT_NE(FindGrpcRule("/" + name), nullptr) << name;
    }
  }
  std::set<std::string> in_table;
  for (const AccessRule& rule : AccessRules()) {
    if (rule.grpc_method.empty()) continue;
    EXPECT_TRUE(methods.contains(std::string(rule.grpc_method))) << rule.grpc_method;
    EXPECT_TRUE(in_table.insert(std::string(rule.grpc_method)).second) << rule.grpc_method;
  }
  EXPECT_EQ(FindGrpcRule("dts.v1.JobService/NoSuchMethod"), nullptr);
}

TEST(AccessRulesTest, HttpRoutesAreUniqueAndMutatingMeansNotGet) {
  std::set<std::string> routes;
  for (const AccessRule& rule : AccessRules()) {
    ASSERT_FALSE(rule.http_method.empty());
    EXPECT_TRUE(routes.insert(absl::StrCat(rule.http_method, " ", rule.http_pattern)).second);
    EXPECT_EQ(rule.mutating, rule.http_method != "GET") << rule.http_pattern;
    // Reads are for everyone who has a token.
    if (!rule.mutating) {
      EXPECT_EQ(rule.role, Role::kViewer) << rule.http_pattern;
    }
  }
}

// The issue's roles, spelled out: the table must say exactly this.
TEST(AccessRulesTest, MinimumRoles) {
  const std::vector<std::pair<std::string, Role>> expected = {
      {"JobService/CreateJob", Role::kOperator},
      {"JobService/GetJob", Role::kViewer},
      {"JobService/ListJobs", Role::kViewer},
      {"JobService/UpdateJob", Role::kOperator},
      {"JobService/DeleteJob", Role::kAdmin},
      {"JobService/CancelJob", Role::kAdmin},
      {"JobService/TriggerJob", Role::kOperator},
      {"JobService/PauseJob", Role::kOperator},
      {"JobService/ResumeJob", Role::kOperator},
      {"SchedulerService/ScheduleJob", Role::kOperator},
      {"SchedulerService/CancelJob", Role::kAdmin},
      {"SchedulerService/GetScheduledJob", Role::kViewer},
      {"SchedulerService/ListScheduledJobs", Role::kViewer},
      {"SchedulerService/GetQueue", Role::kViewer},
      {"SchedulerService/ListWorkers", Role::kViewer},
      {"SchedulerService/GetWorker", Role::kViewer},
      {"ExecutionService/GetExecution", Role::kViewer},
      {"ExecutionService/ListExecutions", Role::kViewer},
  };
  for (const auto& [method, role] : expected) {
    const AccessRule* rule = FindGrpcRule("dts.v1." + method);
    ASSERT_NE(rule, nullptr) << method;
    EXPECT_EQ(rule->role, role) << method;
  }
  EXPECT_EQ(FindHttpRule("GET", "/v1/cron/next")->role, Role::kViewer);
  EXPECT_EQ(FindHttpRule("DELETE", "/v1/jobs/{id}")->grpc_method, "dts.v1.JobService/DeleteJob");
  EXPECT_EQ(FindHttpRule("GET", "/healthz"), nullptr);
}

TEST(RequiredRoleTest, CancellingThroughUpdateNeedsAdmin) {
  const AccessRule& rule = *FindGrpcRule("dts.v1.JobService/UpdateJob");
  v1::UpdateJobRequest update;
  update.set_name("x");
  EXPECT_EQ(RequiredRole(rule, update), Role::kOperator);
  update.set_status("paused");
  EXPECT_EQ(RequiredRole(rule, update), Role::kOperator);
  update.set_status("Cancelled");
  EXPECT_EQ(RequiredRole(rule, update), Role::kAdmin);
  update.mutable_update_mask()->add_paths("name");  // the status is not applied
  EXPECT_EQ(RequiredRole(rule, update), Role::kOperator);
  update.mutable_update_mask()->add_paths("status");
  EXPECT_EQ(RequiredRole(rule, update), Role::kAdmin);
}

TEST(TargetOfTest, RequestIdElseCreatedId) {
  v1::GetJobRequest get;
  get.set_id("j1");
  EXPECT_EQ(TargetOf(get, nullptr), "j1");
  v1::CreateJobRequest create;
  v1::CreateJobResponse created;
  created.set_job_id("new");
  EXPECT_EQ(TargetOf(create, nullptr), "");
  EXPECT_EQ(TargetOf(create, &created), "new");
  v1::CancelScheduledJobRequest cancel;
  cancel.set_job_id("s1");
  EXPECT_EQ(TargetOf(cancel, nullptr), "s1");
}

// ---- the rate limiter

TEST(RateLimiterTest, BurstThenSustainedRatePerKey) {
  ManualClock clock(kStart);
  RateLimiter limiter(&clock, {.per_second = 2, .burst = 3});
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(limiter.Take(0).ok()) << i;
  absl::Status refused = limiter.Take(0);
  EXPECT_TRUE(absl::IsResourceExhausted(refused));
  EXPECT_EQ(RetryAfterSeconds(refused), 1);
  EXPECT_THAT(refused.message(), HasSubstr("rate limit"));
  EXPECT_TRUE(limiter.Take(1).ok());  // another token has its own bucket
  clock.Advance(absl::Milliseconds(500));
  EXPECT_TRUE(limiter.Take(0).ok());  // one refilled
  EXPECT_FALSE(limiter.Take(0).ok());
  clock.Advance(absl::Seconds(60));  // refills up to the burst only
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(limiter.Take(0).ok()) << i;
  EXPECT_FALSE(limiter.Take(0).ok());
}

TEST(RateLimiterTest, SlowRatesAskForLongerWaitsAndZeroIsOff) {
  ManualClock clock(kStart);
  RateLimiter slow(&clock, {.per_second = 0.25, .burst = 1});
  EXPECT_TRUE(slow.Take(0).ok());
  EXPECT_EQ(RetryAfterSeconds(slow.Take(0)), 4);
  clock.Advance(absl::Seconds(-10));  // a clock stepping back refills nothing
  EXPECT_FALSE(slow.Take(0).ok());
  RateLimiter off(&clock, {.per_second = 0, .burst = 1});
  EXPECT_FALSE(off.enabled());
  for (int i = 0; i < 1000; ++i) ASSERT_TRUE(off.Take(0).ok());
  EXPECT_EQ(RetryAfterSeconds(absl::ResourceExhaustedError("x")), 0);
}

// ---- the audit log

TEST(AuditLogTest, OneEscapedJsonObjectPerLine) {
  const std::string line = AuditLog::Format(
      kStart + absl::Milliseconds(12),
      {.token = "ci\"bot", .role = Role::kOperator, .transport = "http",
       .operation = "dts.v1.JobService/CreateJob", .route = "POST /v1/jobs", .target = "j1",
       .peer = "127.0.0.1:5", .code = absl::StatusCode::kInvalidArgument});
  EXPECT_EQ(line,
            "{\"time\":\"2026-01-01T00:00:00.012Z\",\"token\":\"ci\\\"bot\",\"role\":\"operator\","
            "\"transport\":\"http\",\"operation\":\"dts.v1.JobService/CreateJob\","
            "\"route\":\"POST /v1/jobs\",\"target\":\"j1\",\"peer\":\"127.0.0.1:5\","
            "\"code\":\"INVALID_ARGUMENT\"}\n");
  const std::string anonymous = AuditLog::Format(
      kStart, {.token = "anonymous", .role = std::nullopt, .transport = "grpc", .operation = "op",
               .route = "op", .target = "", .peer = "", .code = absl::StatusCode::kUnauthenticated});
  EXPECT_THAT(anonymous, HasSubstr("\"role\":null"));
  EXPECT_THAT(anonymous, HasSubstr("\"code\":\"UNAUTHENTICATED\""));
}

// ---- the HTTP gateway behind the table (the APIs are never reached: every
// call here is refused, or GET /v1/cron/next, which needs none)

class GatewayAccessTest : public ::testing::Test {
 protected:
  GatewayAccessTest()
      : clock_(kStart),
        auth_(*ParseTokensEnv("DTS_AUTH_TOKENS",
                              "viewer:viewer-token-0123456789,operator:operator-token-0123456789,"
                              "admin:admin-token-0123456789")),
        limiter_(&clock_, {.per_second = 1, .burst = 2}),
        audit_(&clock_, [this](absl::string_view line) { lines_.emplace_back(line); }),
        access_(&auth_, &limiter_, &audit_) {
    RegisterHttpRoutes(router_, nullptr, nullptr, nullptr, &access_, &clock_);
  }

  http::Response Call(const std::string& method, const std::string& path, const std::string& token) {
    http::Request request;
    request.method = method;
    request.path = path;
    request.remote_address = "127.0.0.1:4242";
    if (!token.empty()) request.headers.emplace_back("Authorization", "Bearer " + token);
    return router_.Dispatch(request);
  }
  static std::string PathOf(const AccessRule& rule) {
    return absl::StrReplaceAll(rule.http_pattern, {{"{id}", "00000000-0000-4000-8000-000000000000"}});
  }
  static std::string Header(const http::Response& r, const std::string& name) {
    for (const auto& [key, value] : r.headers) {
      if (key == name) return value;
    }
    return "";
  }

  ManualClock clock_;
  Authenticator auth_;
  RateLimiter limiter_;
  std::vector<std::string> lines_;
  AuditLog audit_;
  AccessControl access_;
  http::Router router_;
};

TEST_F(GatewayAccessTest, EveryRegisteredRouteHasARule) { EXPECT_TRUE(router_.status().ok()) << router_.status(); }

TEST_F(GatewayAccessTest, EveryRouteRefusesMissingAndUnknownTokens) {
  for (const AccessRule& rule : AccessRules()) {
    for (const std::string& token : {std::string(), std::string("unknown-token-0123456789")}) {
      http::Response r = Call(std::string(rule.http_method), PathOf(rule), token);
      EXPECT_EQ(r.status, 401) << rule.http_pattern;
      EXPECT_THAT(r.body, HasSubstr("\"code\":16"));
      EXPECT_EQ(Header(r, "WWW-Authenticate"), "Bearer");
    }
  }
  EXPECT_EQ(Call("GET", "/healthz", "").status, 200);
}

TEST_F(GatewayAccessTest, RolesBelowTheRuleGet403NamingTheRole) {
  const std::vector<std::pair<std::string, Role>> callers = {
      {"viewer-token-0123456789", Role::kViewer}, {"operator-token-0123456789", Role::kOperator}};
  int refused = 0;
  for (const AccessRule& rule : AccessRules()) {
    for (const auto& [token, role] : callers) {
      if (role >= rule.role) continue;
      clock_.Advance(absl::Seconds(10));  // stay under the rate limit
      http::Response r = Call(std::string(rule.http_method), PathOf(rule), token);
      EXPECT_EQ(r.status, 403) << rule.http_pattern << " " << token;
      EXPECT_THAT(r.body, HasSubstr("\"code\":7"));
      EXPECT_THAT(r.body, HasSubstr(absl::StrCat("needs the ", RoleName(rule.role), " role")));
      ++refused;
    }
  }
  EXPECT_EQ(refused, 12);  // 6 operator routes x viewer, 3 admin routes x 2 roles
}

TEST_F(GatewayAccessTest, ViewerReadsTheCronPreview) {
  http::Request request;
  request.method = "GET";
  request.path = "/v1/cron/next";
  request.query.emplace("expr", "0 3 * * *");
  request.headers.emplace_back("Authorization", "Bearer viewer-token-0123456789");
  http::Response r = router_.Dispatch(request);
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_THAT(lines_, IsEmpty());  // reads are not audited
}

TEST_F(GatewayAccessTest, RateLimitIs429WithRetryAfter) {
  const std::string path = "/v1/cron/next";
  EXPECT_NE(Call("GET", path, "viewer-token-0123456789").status, 429);
  EXPECT_NE(Call("GET", path, "viewer-token-0123456789").status, 429);
  http::Response r = Call("GET", path, "viewer-token-0123456789");
  EXPECT_EQ(r.status, 429);
  EXPECT_THAT(r.body, HasSubstr("\"code\":8"));
  EXPECT_EQ(Header(r, "Retry-After"), "1");
  EXPECT_NE(Call("GET", path, "admin-token-0123456789").status, 429);  // per token
  clock_.Advance(absl::Seconds(1));
  EXPECT_NE(Call("GET", path, "viewer-token-0123456789").status, 429);
}

TEST_F(GatewayAccessTest, RefusedChangesAreAudited) {
  Call("DELETE", "/v1/jobs/j-1", "operator-token-0123456789");
  Call("POST", "/v1/jobs", "");
  Call("GET", "/v1/jobs", "");  // a read: not audited
  ASSERT_THAT(lines_, SizeIs(2));
  EXPECT_THAT(lines_[0], HasSubstr("\"token\":\"" + auth_.tokens()[1].name + "\",\"role\":\"operator\""));
  EXPECT_THAT(lines_[0], HasSubstr("\"operation\":\"dts.v1.JobService/DeleteJob\""));
  EXPECT_THAT(lines_[0], HasSubstr("\"route\":\"DELETE /v1/jobs/{id}\",\"target\":\"j-1\""));
  EXPECT_THAT(lines_[0], HasSubstr("\"peer\":\"127.0.0.1:4242\",\"code\":\"PERMISSION_DENIED\""));
  EXPECT_THAT(lines_[1], HasSubstr("\"token\":\"anonymous\",\"role\":null"));
  EXPECT_THAT(lines_[1], HasSubstr("\"code\":\"UNAUTHENTICATED\""));
}

TEST_F(GatewayAccessTest, OperatorCannotCancelThroughUpdate) {
  http::Request request;
  request.method = "PUT";
  request.path = "/v1/jobs/00000000-0000-4000-8000-000000000000";
  request.body = R"({"status": "cancelled"})";
  request.headers.emplace_back("Authorization", "Bearer operator-token-0123456789");
  http::Response r = router_.Dispatch(request);
  EXPECT_EQ(r.status, 403) << r.body;
  EXPECT_THAT(r.body, HasSubstr("needs the admin role"));
  ASSERT_THAT(lines_, SizeIs(1));
  EXPECT_THAT(lines_[0], HasSubstr("\"code\":\"PERMISSION_DENIED\""));
}

}  // namespace
}  // namespace dts::api
