// `dts scheduler schedule|cancel|get|list`: the seed's scheduler API.

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "cli/commands.h"
#include "cli/job_flags.h"

namespace dts::cli {
namespace {

struct ScheduleFlags {
  std::string job_id;
  JobFlags job;
};

struct ListFlags {
  int32_t page_size = 0;
  std::string page_token;
};

// --job-id schedules an existing job as it is; only the resource flags may
// accompany it.
absl::Status CheckExistingJobFlags(const ScheduleFlags& f) {
  std::vector<std::string> paths = UpdatePaths(f.job);
  std::erase(paths, "resources");
  if (paths.empty()) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      "--job-id schedules an existing job; only --cpu/--memory/--storage may go with it, "
      "not flags for: ",
      absl::StrJoin(paths, ", "), " (use `dts job update` for those)"));
}

// The requirements to send for an existing job. The server replaces them
// whole, so a partial set (--cpu only) keeps the job's other values.
absl::StatusOr<v1::ResourceRequirements> ExistingJobResources(Client& client,
                                                              const ScheduleFlags& f) {
  v1::JobResponse job;
  if (!(f.job.cpu && f.job.memory && f.job.storage)) {
    v1::GetJobRequest request;
    request.set_id(f.job_id);
    absl::Status s =
        client.Call([&](grpc::ClientContext* c) { return client.jobs().GetJob(c, request, &job); });
    if (!s.ok()) return s;
  }
  JobFlags resources_only;
  resources_only.cpu = f.job.cpu;
  resources_only.memory = f.job.memory;
  resources_only.storage = f.job.storage;
  if (absl::Status s = ApplyJobFlags(resources_only, job); !s.ok()) return s;
  return job.resources();
}

// Fills the request; may call the server (see ExistingJobResources).
absl::Status BuildScheduleRequest(Client& client, const ScheduleFlags& f,
                                  v1::ScheduleJobRequest& request) {
  if (!f.job_id.empty()) {
    if (absl::Status s = CheckExistingJobFlags(f); !s.ok()) return s;
    request.mutable_job()->set_id(f.job_id);
    if (!f.job.TouchesResources()) return absl::OkStatus();
    absl::StatusOr<v1::ResourceRequirements> resources = ExistingJobResources(client, f);
    if (!resources.ok()) return resources.status();
    *request.mutable_resource_requirements() = *resources;
    return absl::OkStatus();
  }
  v1::JobResponse* job = request.mutable_job();
  if (absl::Status s = ApplyJobFlags(f.job, *job); !s.ok()) return s;
  // In this API the resources travel beside the job, not in it.
  if (job->has_resources()) {
    *request.mutable_resource_requirements() = job->resources();
    job->clear_resources();
  }
  return absl::OkStatus();
}

int RunSchedule(const ClientOptions& o, const ScheduleFlags& f, Context& ctx) {
  Client client(o);
  v1::ScheduleJobRequest request;
  if (absl::Status s = BuildScheduleRequest(client, f, request); !s.ok()) return Fail(ctx, s);
  v1::ScheduleJobResponse response;
  const absl::Status s = client.CallScheduler([&](grpc::ClientContext* c) {
    return client.scheduler().ScheduleJob(c, request, &response);
  });
  return Finish(ctx, o, s, response, [](std::ostream& out, const v1::ScheduleJobResponse& r) {
    out << r.schedule_id() << "\n";
  });
}

int RunCancel(const ClientOptions& o, const std::string& job_id, Context& ctx) {
  v1::CancelScheduledJobRequest request;
  request.set_job_id(job_id);
  Client client(o);
  v1::CancelScheduledJobResponse response;
  const absl::Status s = client.CallScheduler(
      [&](grpc::ClientContext* c) { return client.scheduler().CancelJob(c, request, &response); });
  return Finish(ctx, o, s, response,
                [&job_id](std::ostream& out, const v1::CancelScheduledJobResponse&) {
                  out << "cancelled job " << job_id << "\n";
                });
}

int RunGet(const ClientOptions& o, const std::string& job_id, Context& ctx) {
  v1::GetScheduledJobRequest request;
  request.set_job_id(job_id);
  Client client(o);
  v1::GetScheduledJobResponse response;
  const absl::Status s = client.CallScheduler([&](grpc::ClientContext* c) {
    return client.scheduler().GetScheduledJob(c, request, &response);
  });
  return Finish(ctx, o, s, response, PrintScheduledJob);
}

int RunList(const ClientOptions& o, const ListFlags& f, Context& ctx) {
  v1::ListScheduledJobsRequest request;
  request.set_page_size(f.page_size);
  request.set_page_token(f.page_token);
  Client client(o);
  v1::ListScheduledJobsResponse response;
  const absl::Status s = client.CallScheduler([&](grpc::ClientContext* c) {
    return client.scheduler().ListScheduledJobs(c, request, &response);
  });
  return Finish(ctx, o, s, response, PrintScheduledJobList);
}

int RunQueue(const ClientOptions& o, Context& ctx) {
  Client client(o);
  v1::GetQueueResponse response;
  const absl::Status s = client.CallScheduler([&](grpc::ClientContext* c) {
    return client.scheduler().GetQueue(c, v1::GetQueueRequest(), &response);
  });
  return Finish(ctx, o, s, response, PrintQueue);
}

int RunWorkerList(const ClientOptions& o, Context& ctx) {
  Client client(o);
  v1::ListWorkersResponse response;
  const absl::Status s = client.CallScheduler([&](grpc::ClientContext* c) {
    return client.scheduler().ListWorkers(c, v1::ListWorkersRequest(), &response);
  });
  return Finish(ctx, o, s, response, PrintWorkerList);
}

int RunWorkerGet(const ClientOptions& o, const std::string& id, Context& ctx) {
  Client client(o);
  v1::GetWorkerRequest request;
  request.set_id(id);
  v1::WorkerResponse response;
  const absl::Status s = client.CallScheduler(
      [&](grpc::ClientContext* c) { return client.scheduler().GetWorker(c, request, &response); });
  return Finish(ctx, o, s, response, PrintWorker);
}

void AddSchedule(CLI::App& scheduler, Context& ctx, OptionsPtr o) {
  CLI::App* cmd = scheduler.add_subcommand(
      "schedule", "Schedule an existing job (--job-id) or a new one (job flags); prints its id");
  auto flags = std::make_shared<ScheduleFlags>();
  cmd->add_option("--job-id", flags->job_id, "Existing job to (re)activate");
  AddJobFlags(*cmd, flags->job, {.require_name_and_cron = false});
  cmd->callback([o, flags, &ctx] { ctx.exit_code = RunSchedule(*o, *flags, ctx); });
}

void AddJobIdCommand(CLI::App& scheduler, Context& ctx, const std::string& name,
                     const std::string& description,
                     std::function<int(const std::string&, Context&)> run) {
  CLI::App* cmd = scheduler.add_subcommand(name, description);
  auto job_id = std::make_shared<std::string>();
  cmd->add_option("--job-id", *job_id, "Job id (UUID)")->required();
  cmd->callback([job_id, run = std::move(run), &ctx] { ctx.exit_code = run(*job_id, ctx); });
}

void AddList(CLI::App& scheduler, Context& ctx, OptionsPtr o) {
  CLI::App* cmd = scheduler.add_subcommand("list", "List scheduled jobs");
  auto flags = std::make_shared<ListFlags>();
  cmd->add_option("--page-size", flags->page_size, "Jobs per page (1-1000; default 50)");
  cmd->add_option("--page-token", flags->page_token, "The previous page's next_page_token");
  cmd->callback([o, flags, &ctx] { ctx.exit_code = RunList(*o, *flags, ctx); });
}

}  // namespace

void AddSchedulerCommands(CLI::App& app, Context& ctx, OptionsPtr o) {
  CLI::App* scheduler =
      app.add_subcommand("scheduler", "Schedule jobs with resource requirements (gRPC client)");
  scheduler->require_subcommand(1);
  scheduler->footer(kGlobalFlagsFooter);
  scheduler->fallthrough();  // global flags after the subcommand, as for `job`
  AddSchedule(*scheduler, ctx, o);
  AddJobIdCommand(*scheduler, ctx, "cancel", "Cancel a job's schedule (it stops firing)",
                  [o](const std::string& id, Context& c) { return RunCancel(*o, id, c); });
  AddJobIdCommand(*scheduler, ctx, "get", "Show a job's schedule and requirements",
                  [o](const std::string& id, Context& c) { return RunGet(*o, id, c); });
  AddList(*scheduler, ctx, o);
  CLI::App* queue =
      scheduler->add_subcommand("queue", "List the runs waiting for capacity, with the reason");
  queue->callback([o, &ctx] { ctx.exit_code = RunQueue(*o, ctx); });
}

void AddWorkerCommands(CLI::App& app, Context& ctx, OptionsPtr o) {
  CLI::App* worker = app.add_subcommand("worker", "Show workers: capacity, allocations, runs");
  worker->require_subcommand(1);
  worker->footer(kGlobalFlagsFooter);
  worker->fallthrough();
  CLI::App* list = worker->add_subcommand("list", "List the workers");
  list->callback([o, &ctx] { ctx.exit_code = RunWorkerList(*o, ctx); });
  CLI::App* get = worker->add_subcommand("get", "Show one worker");
  auto id = std::make_shared<std::string>();
  get->add_option("--id", *id, "Worker id")->required();
  get->callback([o, id, &ctx] { ctx.exit_code = RunWorkerGet(*o, *id, ctx); });
}

}  // namespace dts::cli
