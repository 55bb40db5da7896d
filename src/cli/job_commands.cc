// `dts job create|get|list|update|delete|cancel|trigger|pause|resume`

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "cli/commands.h"
#include "cli/job_flags.h"

namespace dts::cli {
namespace {

struct ListFlags {
  int32_t page_size = 0;
  std::string status;
  std::string last_id;
};

absl::Status GetJob(Client& client, const std::string& id, v1::JobResponse& job) {
  v1::GetJobRequest request;
  request.set_id(id);
  return client.Call(
      [&](grpc::ClientContext* c) { return client.jobs().GetJob(c, request, &job); });
}

int RunCreate(const ClientOptions& o, const JobFlags& flags, Context& ctx) {
  v1::JobResponse job;
  if (absl::Status s = ApplyJobFlags(flags, job); !s.ok()) return Fail(ctx, s);
  const v1::CreateJobRequest request = ToCreateRequest(job);
  Client client(o);
  v1::CreateJobResponse response;
  const absl::Status s = client.Call(
      [&](grpc::ClientContext* c) { return client.jobs().CreateJob(c, request, &response); });
  return Finish(ctx, o, s, response, [](std::ostream& out, const v1::CreateJobResponse& r) {
    out << r.job_id() << "\n";
  });
}

int RunGet(const ClientOptions& o, const std::string& id, Context& ctx) {
  Client client(o);
  v1::JobResponse job;
  const absl::Status s = GetJob(client, id, job);
  return Finish(ctx, o, s, job, PrintJob);
}

int RunList(const ClientOptions& o, const ListFlags& flags, Context& ctx) {
  v1::ListJobsRequest request;
  request.set_page_size(flags.page_size);
  request.set_status(flags.status);
  request.set_last_id(flags.last_id);
  Client client(o);
  v1::ListJobsResponse response;
  const absl::Status s = client.Call(
      [&](grpc::ClientContext* c) { return client.jobs().ListJobs(c, request, &response); });
  return Finish(ctx, o, s, response, PrintJobList);
}

// Sends only the given flags. Flags that change part of a message field
// (e.g. --cpu of resources) start from the job as it is, because the server
// replaces a named message field whole.
int RunUpdate(const ClientOptions& o, const std::string& id, const JobFlags& flags, Context& ctx) {
  const std::vector<std::string> paths = UpdatePaths(flags);
  if (paths.empty()) {
    return Fail(ctx, absl::InvalidArgumentError(
                         "job update: nothing to change; give at least one job flag "
                         "(see `dts job update --help`)"));
  }
  Client client(o);
  v1::JobResponse job;
  if (UpdateNeedsCurrentJob(flags)) {
    if (absl::Status s = GetJob(client, id, job); !s.ok()) return Fail(ctx, s);
  }
  if (absl::Status s = ApplyJobFlags(flags, job); !s.ok()) return Fail(ctx, s);
  const v1::UpdateJobRequest request = ToUpdateRequest(id, job, paths);
  v1::JobResponse updated;
  const absl::Status s = client.Call(
      [&](grpc::ClientContext* c) { return client.jobs().UpdateJob(c, request, &updated); });
  return Finish(ctx, o, s, updated, PrintJob);
}

int RunDelete(const ClientOptions& o, const std::string& id, Context& ctx) {
  v1::DeleteJobRequest request;
  request.set_id(id);
  Client client(o);
  v1::DeleteJobResponse response;
  const absl::Status s = client.Call(
      [&](grpc::ClientContext* c) { return client.jobs().DeleteJob(c, request, &response); });
  return Finish(ctx, o, s, response, [&id](std::ostream& out, const v1::DeleteJobResponse&) {
    out << "deleted job " << id << "\n";
  });
}

int RunTrigger(const ClientOptions& o, const std::string& id, Context& ctx) {
  v1::TriggerJobRequest request;
  request.set_id(id);
  Client client(o);
  v1::TriggerJobResponse response;
  const absl::Status s = client.Call(
      [&](grpc::ClientContext* c) { return client.jobs().TriggerJob(c, request, &response); });
  return Finish(ctx, o, s, response, [](std::ostream& out, const v1::TriggerJobResponse& r) {
    out << r.execution_id() << "\n";
  });
}

// pause, resume and cancel share a shape: {id} in, the job out.
template <typename Request>
using StatusRpc = grpc::Status (v1::JobService::Stub::*)(grpc::ClientContext*, const Request&,
                                                         v1::JobResponse*);

template <typename Request>
int RunStatusChange(const ClientOptions& o, const std::string& id, StatusRpc<Request> rpc,
                    Context& ctx) {
  Request request;
  request.set_id(id);
  Client client(o);
  v1::JobResponse job;
  const absl::Status s = client.Call(
      [&](grpc::ClientContext* c) { return (client.jobs().*rpc)(c, request, &job); });
  return Finish(ctx, o, s, job, PrintJob);
}

// Adds `name` with a required --id; `run` gets the id.
void AddIdCommand(CLI::App& job, Context& ctx, const std::string& name,
                  const std::string& description,
                  std::function<int(const std::string& id, Context& ctx)> run) {
  CLI::App* cmd = job.add_subcommand(name, description);
  auto id = std::make_shared<std::string>();
  cmd->add_option("--id", *id, "Job id (UUID)")->required();
  cmd->callback([id, run = std::move(run), &ctx] { ctx.exit_code = run(*id, ctx); });
}

void AddCreate(CLI::App& job, Context& ctx, OptionsPtr o) {
  CLI::App* cmd = job.add_subcommand("create", "Create a job; prints its id");
  auto flags = std::make_shared<JobFlags>();
  AddJobFlags(*cmd, *flags, {.require_name_and_cron = true});
  cmd->callback([o, flags, &ctx] { ctx.exit_code = RunCreate(*o, *flags, ctx); });
}

void AddList(CLI::App& job, Context& ctx, OptionsPtr o) {
  CLI::App* cmd = job.add_subcommand("list", "List jobs, a page at a time");
  auto flags = std::make_shared<ListFlags>();
  cmd->add_option("--page-size", flags->page_size, "Jobs per page (1-1000; default 50)");
  cmd->add_option("--status", flags->status, "Only jobs with this status (any case)");
  cmd->add_option("--last-id", flags->last_id, "Start after this job: the previous page's hint");
  cmd->callback([o, flags, &ctx] { ctx.exit_code = RunList(*o, *flags, ctx); });
}

void AddUpdate(CLI::App& job, Context& ctx, OptionsPtr o) {
  CLI::App* cmd = job.add_subcommand("update", "Change the given fields of a job");
  auto id = std::make_shared<std::string>();
  auto flags = std::make_shared<JobFlags>();
  cmd->add_option("--id", *id, "Job id (UUID)")->required();
  AddJobFlags(*cmd, *flags, {.require_name_and_cron = false});
  cmd->callback([o, id, flags, &ctx] { ctx.exit_code = RunUpdate(*o, *id, *flags, ctx); });
}

}  // namespace

void AddJobCommands(CLI::App& app, Context& ctx, OptionsPtr o) {
  CLI::App* job = app.add_subcommand("job", "Create, inspect and control jobs (gRPC client)");
  job->require_subcommand(1);
  job->footer(kGlobalFlagsFooter);
  // Lets the global flags (-o, --server, --token) follow the subcommand too;
  // the child commands inherit this.
  job->fallthrough();
  AddCreate(*job, ctx, o);
  AddIdCommand(*job, ctx, "get", "Show a job",
               [o](const std::string& id, Context& c) { return RunGet(*o, id, c); });
  AddList(*job, ctx, o);
  AddUpdate(*job, ctx, o);
  AddIdCommand(*job, ctx, "delete", "Delete a job and its history",
               [o](const std::string& id, Context& c) { return RunDelete(*o, id, c); });
  AddIdCommand(*job, ctx, "trigger", "Run a job now; prints the execution id",
               [o](const std::string& id, Context& c) { return RunTrigger(*o, id, c); });
  using Stub = v1::JobService::Stub;
  AddIdCommand(*job, ctx, "pause", "Stop a job from firing until resumed",
               [o](const std::string& id, Context& c) {
                 return RunStatusChange<v1::PauseJobRequest>(*o, id, &Stub::PauseJob, c);
               });
  AddIdCommand(*job, ctx, "resume", "Make a paused or cancelled job ACTIVE again",
               [o](const std::string& id, Context& c) {
                 return RunStatusChange<v1::ResumeJobRequest>(*o, id, &Stub::ResumeJob, c);
               });
  AddIdCommand(*job, ctx, "cancel", "Cancel a job: it stays, but no longer fires",
               [o](const std::string& id, Context& c) {
                 return RunStatusChange<v1::CancelJobRequest>(*o, id, &Stub::CancelJob, c);
               });
}

}  // namespace dts::cli
