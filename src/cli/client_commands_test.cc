// Runs the client commands in-process against a fake gRPC server on a real
// loopback port, to check argv -> request, response -> output and exit codes.

#include <cstdlib>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "dts/cli/cli.h"
#include "dts/common/clock.h"
#include "dts/v1/execution.grpc.pb.h"
#include "dts/v1/job.grpc.pb.h"
#include "dts/v1/scheduler.grpc.pb.h"
#include "gmock/gmock.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server.h"
#include "grpcpp/server_builder.h"
#include "gtest/gtest.h"

namespace dts::cli {
namespace {

using ::testing::ContainsRegex;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::Pair;
using ::testing::StartsWith;
using ::testing::UnorderedElementsAre;

constexpr char kJobId[] = "0b4c3d6e-8f1a-4b2c-9d3e-5f6a7b8c9d0e";
constexpr char kRunId[] = "1c5d4e7f-9a2b-4c3d-8e4f-6a7b8c9d0e1f";

// What the fake saw of the last call.
struct Seen {
  std::string authorization;
  v1::CreateJobRequest create;
  v1::UpdateJobRequest update;
  v1::ListJobsRequest list;
  v1::ScheduleJobRequest schedule;
  v1::ListExecutionsRequest list_executions;
  std::vector<std::string> calls;
};

class FakeJobs final : public v1::JobService::Service {
 public:
  FakeJobs(Seen* seen, absl::Mutex* mu) : seen_(seen), mu_(mu) {
    job_.set_id(kJobId);
    job_.set_name("My Job");
    job_.set_cron_expression("*/5 * * * *");
    job_.set_status("ACTIVE");
    job_.mutable_resources()->set_cpu(100);
    job_.mutable_resources()->set_memory(64);
    job_.mutable_next_run()->set_seconds(1'767'225'600);  // 2026-01-01T00:00:00Z
  }

  grpc::Status CreateJob(grpc::ServerContext* c, const v1::CreateJobRequest* r,
                         v1::CreateJobResponse* out) override {
    Record(c, "CreateJob");
    absl::MutexLock lock(mu_);
    seen_->create = *r;
    if (r->cron_expression() == "/5 ") {
      return {grpc::StatusCode::INVALID_ARGUMENT, "cron_expression: expected 5 fields"};
    }
    out->set_job_id(kJobId);
    return grpc::Status::OK;
  }
  grpc::Status GetJob(grpc::ServerContext* c, const v1::GetJobRequest* r,
                      v1::JobResponse* out) override {
    Record(c, "GetJob");
    if (absl::Status s = Known(r->id()); !s.ok()) return ToGrpc(s);
    *out = job_;
    return grpc::Status::OK;
  }
  grpc::Status ListJobs(grpc::ServerContext* c, const v1::ListJobsRequest* r,
                        v1::ListJobsResponse* out) override {
    Record(c, "ListJobs");
    absl::MutexLock lock(mu_);
    seen_->list = *r;
    *out->add_jobs() = job_;
    out->set_total(3);
    out->set_next_page(kJobId);
    return grpc::Status::OK;
  }
  grpc::Status UpdateJob(grpc::ServerContext* c, const v1::UpdateJobRequest* r,
                         v1::JobResponse* out) override {
    Record(c, "UpdateJob");
    absl::MutexLock lock(mu_);
    seen_->update = *r;
    *out = job_;
    if (r->has_name()) out->set_name(r->name());
    return grpc::Status::OK;
  }
  grpc::Status DeleteJob(grpc::ServerContext* c, const v1::DeleteJobRequest* r,
                         v1::DeleteJobResponse* out) override {
    Record(c, "DeleteJob");
    if (absl::Status s = Known(r->id()); !s.ok()) return ToGrpc(s);
    out->set_success(true);
    return grpc::Status::OK;
  }
  grpc::Status TriggerJob(grpc::ServerContext* c, const v1::TriggerJobRequest* r,
                          v1::TriggerJobResponse* out) override {
    Record(c, "TriggerJob");
    if (absl::Status s = Known(r->id()); !s.ok()) return ToGrpc(s);
    out->set_execution_id(kRunId);
    return grpc::Status::OK;
  }
  grpc::Status PauseJob(grpc::ServerContext* c, const v1::PauseJobRequest* r,
                        v1::JobResponse* out) override {
    Record(c, "PauseJob");
    if (absl::Status s = Known(r->id()); !s.ok()) return ToGrpc(s);
    *out = job_;
    out->set_status("PAUSED");
    return grpc::Status::OK;
  }

 private:
  static grpc::Status ToGrpc(const absl::Status& s) {
    return {static_cast<grpc::StatusCode>(s.code()), std::string(s.message())};
  }
  absl::Status Known(const std::string& id) const {
    if (id == kJobId) return absl::OkStatus();
    if (id.size() != 36) {
      return absl::InvalidArgumentError("id: \"" + id + "\" is not a valid UUID");
    }
    return absl::NotFoundError("job " + id + " not found");
  }
  void Record(grpc::ServerContext* c, const std::string& call) {
    absl::MutexLock lock(mu_);
    auto it = c->client_metadata().find("authorization");
    seen_->authorization =
        it == c->client_metadata().end() ? "" : std::string(it->second.data(), it->second.size());
    seen_->calls.push_back(call);
  }

  Seen* seen_;
  absl::Mutex* mu_;
  v1::JobResponse job_;
};

class FakeScheduler final : public v1::SchedulerService::Service {
 public:
  FakeScheduler(Seen* seen, absl::Mutex* mu) : seen_(seen), mu_(mu) {}
  grpc::Status ScheduleJob(grpc::ServerContext*, const v1::ScheduleJobRequest* r,
                           v1::ScheduleJobResponse* out) override {
    absl::MutexLock lock(mu_);
    seen_->schedule = *r;
    seen_->calls.push_back("ScheduleJob");
    out->set_schedule_id(kJobId);
    return grpc::Status::OK;
  }
  grpc::Status ListScheduledJobs(grpc::ServerContext*, const v1::ListScheduledJobsRequest*,
                                 v1::ListScheduledJobsResponse* out) override {
    v1::GetScheduledJobResponse* job = out->add_jobs();
    job->set_job_id(kJobId);
    job->set_status("ACTIVE");
    job->set_cron_expression("@daily");
    job->mutable_resource_requirements()->set_cpu(250);
    out->set_total_count(1);
    return grpc::Status::OK;
  }

 private:
  Seen* seen_;
  absl::Mutex* mu_;
};

class FakeExecutions final : public v1::ExecutionService::Service {
 public:
  FakeExecutions(Seen* seen, absl::Mutex* mu) : seen_(seen), mu_(mu) {}
  grpc::Status GetExecution(grpc::ServerContext*, const v1::GetExecutionRequest* r,
                            v1::ExecutionResponse* out) override {
    if (r->id() != kRunId) return {grpc::StatusCode::NOT_FOUND, "execution not found"};
    *out = Run();
    return grpc::Status::OK;
  }
  grpc::Status ListExecutions(grpc::ServerContext*, const v1::ListExecutionsRequest* r,
                              v1::ListExecutionsResponse* out) override {
    absl::MutexLock lock(mu_);
    seen_->list_executions = *r;
    *out->add_executions() = Run();
    out->set_total(1);
    return grpc::Status::OK;
  }

 private:
  static v1::ExecutionResponse Run() {
    v1::ExecutionResponse run;
    run.set_id(kRunId);
    run.set_job_id(kJobId);
    run.set_status("COMPLETED");
    run.set_trigger("MANUAL");
    run.set_attempt(1);
    run.set_exit_code(0);
    run.set_result("line 1\nline 2");
    return run;
  }
  Seen* seen_;
  absl::Mutex* mu_;
};

struct Result {
  int code;
  std::string out;
  std::string err;
};

class ClientCommandsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port_);
    builder.RegisterService(&jobs_);
    builder.RegisterService(&scheduler_);
    builder.RegisterService(&executions_);
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    address_ = "127.0.0.1:" + std::to_string(port_);
    unsetenv("DTS_SERVER");
    unsetenv("DTS_SCHEDULER_SERVER");
    unsetenv("DTS_API_TOKEN");
    unsetenv("DTS_TOKEN");
  }
  void TearDown() override { server_->Shutdown(); }

  // Runs `dts ARGS` with --server pointing at the fake unless `add_server`
  // is false.
  Result Dts(std::vector<std::string> args, bool add_server = true) {
    ManualClock clock(absl::FromUnixSeconds(1'767'225'600));
    std::ostringstream out;
    std::ostringstream err;
    Context ctx{&out, &err, &clock};
    CLI::App app{"dts", "dts"};
    app.require_subcommand(1);
    AddClientCommands(app, ctx);
    if (add_server) args.insert(args.begin(), {"--server", address_});
    args.insert(args.begin(), "dts");
    std::vector<const char*> argv;
    for (const std::string& a : args) argv.push_back(a.c_str());
    const int code = cli::Run(app, ctx, static_cast<int>(argv.size()), argv.data());
    return {code, out.str(), err.str()};
  }

  Seen seen() {
    absl::MutexLock lock(&mu_);
    return seen_;
  }

  absl::Mutex mu_;
  Seen seen_;
  FakeJobs jobs_{&seen_, &mu_};
  FakeScheduler scheduler_{&seen_, &mu_};
  FakeExecutions executions_{&seen_, &mu_};
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
  std::string address_;
};

TEST_F(ClientCommandsTest, SeedCreatePrintsTheId) {
  const Result r = Dts({"job", "create", "--name", "My Job", "--description", "Description",
                        "--cron", "*/5 * * * *", "--metadata", R"({"key": "value"})"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, std::string(kJobId) + "\n");
  EXPECT_EQ(r.err, "");
  const Seen s = seen();
  EXPECT_EQ(s.create.name(), "My Job");
  EXPECT_THAT(s.create.metadata(), UnorderedElementsAre(Pair("key", "value")));
  EXPECT_EQ(s.authorization, "");
}

TEST_F(ClientCommandsTest, JsonOutputBeforeOrAfterTheSubcommand) {
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"-o", "json", "job", "get", "--id", kJobId},
        std::vector<std::string>{"job", "get", "--id", kJobId, "-o", "json"},
        std::vector<std::string>{"job", "-o", "json", "get", "--id", kJobId},
        std::vector<std::string>{"job", "get", "--output", "JSON", "--id", kJobId}}) {
    const Result r = Dts(args);
    EXPECT_EQ(r.code, 0) << r.err;
    EXPECT_THAT(r.out, StartsWith("{")) << args[0] << " " << args[1] << " " << args[2];
    EXPECT_THAT(r.out, HasSubstr("\"id\": \"" + std::string(kJobId) + "\""));
    // Proto field names, and zero values printed too.
    EXPECT_THAT(r.out, HasSubstr("\"cron_expression\": \"*/5 * * * *\""));
    EXPECT_THAT(r.out, HasSubstr("\"max_retries\": 0"));
    EXPECT_THAT(r.out, HasSubstr("\"next_run\": \"2026-01-01T00:00:00Z\""));
  }
}

TEST_F(ClientCommandsTest, ServerFlagAfterTheSubcommandAndFromTheEnvironment) {
  Result r = Dts({"job", "get", "--id", kJobId, "--server", address_}, /*add_server=*/false);
  EXPECT_EQ(r.code, 0) << r.err;
  setenv("DTS_SERVER", address_.c_str(), 1);
  r = Dts({"job", "get", "--id", kJobId}, /*add_server=*/false);
  EXPECT_EQ(r.code, 0) << r.err;
  unsetenv("DTS_SERVER");
}

TEST_F(ClientCommandsTest, SchedulerServerSendsSchedulerCommandsElsewhere) {
  // --server points nowhere; only the scheduler commands may work, through
  // --scheduler-server (or its environment variable).
  Result r = Dts({"--server", "127.0.0.1:1", "--scheduler-server", address_, "scheduler", "list"},
                 /*add_server=*/false);
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr(kJobId));
  setenv("DTS_SCHEDULER_SERVER", address_.c_str(), 1);
  r = Dts({"--server", "127.0.0.1:1", "scheduler", "list"}, /*add_server=*/false);
  EXPECT_EQ(r.code, 0) << r.err;
  r = Dts({"--server", "127.0.0.1:1", "job", "get", "--id", kJobId}, /*add_server=*/false);
  EXPECT_NE(r.code, 0);  // job commands still go to --server
  unsetenv("DTS_SCHEDULER_SERVER");
}

TEST_F(ClientCommandsTest, GetPrintsKeyValueLines) {
  const Result r = Dts({"job", "get", "--id", kJobId});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, ContainsRegex("name: +My Job\n"));
  EXPECT_THAT(r.out, ContainsRegex("status: +ACTIVE\n"));
  EXPECT_THAT(r.out, ContainsRegex("next_run: +2026-01-01T00:00:00Z\n"));
  EXPECT_THAT(r.out, ContainsRegex("executor: +none [(]timer only[)]\n"));
}

TEST_F(ClientCommandsTest, ListPrintsAlignedColumnsAndTheNextPage) {
  const Result r = Dts({"job", "list", "--page-size", "10", "--status", "active"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, StartsWith("ID                                    NAME    STATUS  CRON"));
  EXPECT_THAT(r.out, HasSubstr(std::string(kJobId) + "  My Job  ACTIVE  */5 * * * *"));
  EXPECT_THAT(r.out, HasSubstr("1 of 3 jobs; next page: --last-id " + std::string(kJobId) + "\n"));
  const Seen s = seen();
  EXPECT_EQ(s.list.page_size(), 10);
  EXPECT_EQ(s.list.status(), "active");
}

TEST_F(ClientCommandsTest, NotFoundExitsOne) {
  const Result r = Dts({"job", "get", "--id", "00000000-0000-4000-8000-000000000000"});
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err, "dts: NOT_FOUND: job 00000000-0000-4000-8000-000000000000 not found\n");
}

TEST_F(ClientCommandsTest, ServerInvalidArgumentExitsTwo) {
  Result r = Dts({"job", "get", "--id", "not-a-uuid"});
  EXPECT_EQ(r.code, 2);
  EXPECT_THAT(r.err, HasSubstr("dts: INVALID_ARGUMENT: id: \"not-a-uuid\" is not a valid UUID"));
  r = Dts({"job", "create", "--name", "n", "--cron", "/5 "});
  EXPECT_EQ(r.code, 2);
  EXPECT_THAT(r.err, HasSubstr("cron_expression"));
}

TEST_F(ClientCommandsTest, UsageErrorsExitTwo) {
  for (const std::vector<std::string>& args : {
           std::vector<std::string>{"job"},
           std::vector<std::string>{"job", "get"},
           std::vector<std::string>{"job", "create", "--name", "n"},
           std::vector<std::string>{"job", "list", "-o", "yaml"},
           std::vector<std::string>{"job", "list", "--page-size", "ten"},
           std::vector<std::string>{"job", "list", "--bogus"},
           std::vector<std::string>{"job", "create", "--name", "n", "--cron", "@daily",
                                    "--command", "a", "--shell", "b"},
       }) {
    const Result r = Dts(args);
    EXPECT_EQ(r.code, 2) << args.back();
    EXPECT_THAT(r.err, StartsWith("dts: ")) << args.back();
  }
  EXPECT_TRUE(seen().calls.empty());
}

TEST_F(ClientCommandsTest, ClientSideValidationExitsTwoWithoutCallingTheServer) {
  Result r = Dts({"job", "create", "--name", "n", "--cron", "@daily", "--command", "x 'y"});
  EXPECT_EQ(r.code, 2);
  EXPECT_THAT(r.err, HasSubstr("dts: --command: unterminated single quote"));
  r = Dts({"job", "create", "--name", "n", "--cron", "@daily", "--metadata", "[1]"});
  EXPECT_EQ(r.code, 2);
  EXPECT_THAT(r.err, HasSubstr("dts: --metadata:"));
  r = Dts({"job", "update", "--id", kJobId});
  EXPECT_EQ(r.code, 2);
  EXPECT_THAT(r.err, HasSubstr("nothing to change"));
  EXPECT_TRUE(seen().calls.empty());
}

TEST_F(ClientCommandsTest, ServerDownExitsOneWithAHint) {
  server_->Shutdown();
  const Result r = Dts({"job", "list"});
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, StartsWith("dts: UNAVAILABLE: "));
  EXPECT_THAT(r.err, HasSubstr("is `dts server` running at " + address_));
}

TEST_F(ClientCommandsTest, TokenIsSentAsBearerMetadata) {
  Result r = Dts({"job", "get", "--id", kJobId, "--token", "s3cret-token-0123456789"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(seen().authorization, "Bearer s3cret-token-0123456789");
  setenv("DTS_API_TOKEN", "from-env-token-0123456789", 1);
  r = Dts({"job", "get", "--id", kJobId});
  unsetenv("DTS_API_TOKEN");
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(seen().authorization, "Bearer from-env-token-0123456789");
}

TEST_F(ClientCommandsTest, TokenPrecedenceIsFlagThenDtsTokenThenDtsApiToken) {
  setenv("DTS_API_TOKEN", "legacy-env-token-0123456789", 1);
  setenv("DTS_TOKEN", "dts-token-env-0123456789", 1);
  Result r = Dts({"job", "get", "--id", kJobId});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(seen().authorization, "Bearer dts-token-env-0123456789");
  r = Dts({"job", "get", "--id", kJobId, "--token", "flag-token-0123456789"});
  EXPECT_EQ(seen().authorization, "Bearer flag-token-0123456789");
  setenv("DTS_TOKEN", "", 1);  // empty: unset
  r = Dts({"job", "get", "--id", kJobId});
  EXPECT_EQ(seen().authorization, "Bearer legacy-env-token-0123456789");
  unsetenv("DTS_API_TOKEN");
  unsetenv("DTS_TOKEN");
}

TEST_F(ClientCommandsTest, SeedUpdateSendsOnlyTheGivenFields) {
  const Result r = Dts({"job", "update", "--id", kJobId, "--name", "Updated Job", "--status",
                        "paused"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, ContainsRegex("name: +Updated Job\n"));
  const Seen s = seen();
  EXPECT_THAT(s.calls, ElementsAre("UpdateJob"));
  EXPECT_EQ(s.update.id(), kJobId);
  EXPECT_THAT(s.update.update_mask().paths(), ElementsAre("name", "status"));
  EXPECT_EQ(s.update.name(), "Updated Job");
  EXPECT_EQ(s.update.status(), "paused");
  EXPECT_FALSE(s.update.has_description());
}

TEST_F(ClientCommandsTest, UpdateOfOneResourceKeepsTheOthers) {
  const Result r = Dts({"job", "update", "--id", kJobId, "--cpu", "500"});
  EXPECT_EQ(r.code, 0) << r.err;
  const Seen s = seen();
  EXPECT_THAT(s.calls, ElementsAre("GetJob", "UpdateJob"));
  EXPECT_THAT(s.update.update_mask().paths(), ElementsAre("resources"));
  EXPECT_EQ(s.update.resources().cpu(), 500);
  EXPECT_EQ(s.update.resources().memory(), 64);
}

TEST_F(ClientCommandsTest, DeleteTriggerPause) {
  Result r = Dts({"job", "delete", "--id", kJobId});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "deleted job " + std::string(kJobId) + "\n");
  r = Dts({"job", "delete", "--id", kJobId, "-o", "json"});
  EXPECT_THAT(r.out, HasSubstr("\"success\": true"));
  r = Dts({"job", "trigger", "--id", kJobId});
  EXPECT_EQ(r.out, std::string(kRunId) + "\n");
  r = Dts({"job", "pause", "--id", kJobId});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, ContainsRegex("status: +PAUSED\n"));
}

TEST_F(ClientCommandsTest, ScheduleNewJobSendsResourcesAsRequirements) {
  const Result r = Dts({"scheduler", "schedule", "--name", "n", "--cron", "@daily", "--cpu",
                        "250", "--memory", "128"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, std::string(kJobId) + "\n");
  const Seen s = seen();
  EXPECT_EQ(s.schedule.job().name(), "n");
  EXPECT_FALSE(s.schedule.job().has_resources());
  EXPECT_EQ(s.schedule.resource_requirements().cpu(), 250);
  EXPECT_EQ(s.schedule.resource_requirements().memory(), 128);
}

TEST_F(ClientCommandsTest, ScheduleExistingJob) {
  Result r = Dts({"scheduler", "schedule", "--job-id", kJobId, "--cpu", "300"});
  EXPECT_EQ(r.code, 0) << r.err;
  Seen s = seen();
  EXPECT_THAT(s.calls, ElementsAre("GetJob", "ScheduleJob"));
  EXPECT_EQ(s.schedule.job().id(), kJobId);
  EXPECT_EQ(s.schedule.resource_requirements().cpu(), 300);
  EXPECT_EQ(s.schedule.resource_requirements().memory(), 64);

  r = Dts({"scheduler", "schedule", "--job-id", kJobId, "--name", "x"});
  EXPECT_EQ(r.code, 2);
  EXPECT_THAT(r.err, HasSubstr("not flags for: name"));
}

TEST_F(ClientCommandsTest, SchedulerListTable) {
  const Result r = Dts({"scheduler", "list", "--page-size", "5"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("JOB ID"));
  EXPECT_THAT(r.out, HasSubstr(std::string(kJobId) + "  ACTIVE  @daily  -               250m"));
  EXPECT_THAT(r.out, HasSubstr("1 of 1 scheduled jobs\n"));
}

TEST_F(ClientCommandsTest, ExecutionListAndGet) {
  Result r = Dts({"execution", "list", "--job-id", kJobId, "--status", "completed", "-o", "json"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("\"executions\": ["));
  EXPECT_EQ(seen().list_executions.job_id(), kJobId);
  EXPECT_EQ(seen().list_executions.status(), "completed");
  r = Dts({"execution", "get", "--id", kRunId});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, ContainsRegex("status: +COMPLETED\n"));
  EXPECT_THAT(r.out, ContainsRegex("exit_code: +0\n"));
  // Output with newlines stays on its line.
  EXPECT_THAT(r.out, ContainsRegex("result: +line 1[\\]nline 2\n"));
  r = Dts({"execution", "get", "--id", kJobId});
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr("NOT_FOUND"));
}

}  // namespace
}  // namespace dts::cli
