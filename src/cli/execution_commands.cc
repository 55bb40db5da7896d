// `dts execution list|get|logs`: run history.

#include <memory>
#include <string>

#include "cli/commands.h"

namespace dts::cli {
namespace {

struct ListFlags {
  std::string job_id;
  std::string status;
  int32_t page_size = 0;
  std::string last_id;
};

int RunList(const ClientOptions& o, const ListFlags& f, Context& ctx) {
  v1::ListExecutionsRequest request;
  request.set_job_id(f.job_id);
  request.set_status(f.status);
  request.set_page_size(f.page_size);
  request.set_last_id(f.last_id);
  Client client(o);
  v1::ListExecutionsResponse response;
  const absl::Status s = client.Call([&](grpc::ClientContext* c) {
    return client.executions().ListExecutions(c, request, &response);
  });
  return Finish(ctx, o, s, response, PrintExecutionList);
}

absl::Status Fetch(const ClientOptions& o, const std::string& id, v1::ExecutionResponse* response) {
  v1::GetExecutionRequest request;
  request.set_id(id);
  Client client(o);
  return client.Call([&](grpc::ClientContext* c) {
    return client.executions().GetExecution(c, request, response);
  });
}

int RunGet(const ClientOptions& o, const std::string& id, Context& ctx) {
  v1::ExecutionResponse response;
  const absl::Status s = Fetch(o, id, &response);
  return Finish(ctx, o, s, response, PrintExecution);
}

// Prints the captured output as it is (the JSON form with -o json).
int RunLogs(const ClientOptions& o, const std::string& id, Context& ctx) {
  v1::ExecutionResponse response;
  const absl::Status s = Fetch(o, id, &response);
  return Finish(ctx, o, s, response, [](std::ostream& out, const v1::ExecutionResponse& r) {
    out << r.result();
    if (!r.result().empty() && r.result().back() != '\n') out << "\n";
  });
}

}  // namespace

void AddExecutionCommands(CLI::App& app, Context& ctx, OptionsPtr o) {
  CLI::App* execution = app.add_subcommand("execution", "Inspect job runs (gRPC client)");
  execution->require_subcommand(1);
  execution->footer(kGlobalFlagsFooter);
  execution->fallthrough();  // global flags after the subcommand, as for `job`

  CLI::App* list = execution->add_subcommand("list", "List runs, a page at a time");
  auto flags = std::make_shared<ListFlags>();
  list->add_option("--job-id", flags->job_id, "Only runs of this job");
  list->add_option("--status", flags->status,
                   "Only runs with this status (pending, running, completed, failed, ...)");
  list->add_option("--page-size", flags->page_size, "Runs per page (1-1000; default 50)");
  list->add_option("--last-id", flags->last_id, "Start after this run: the previous page's hint");
  list->callback([o, flags, &ctx] { ctx.exit_code = RunList(*o, *flags, ctx); });

  CLI::App* get = execution->add_subcommand("get", "Show one run");
  auto id = std::make_shared<std::string>();
  get->add_option("--id", *id, "Execution id (UUID)")->required();
  get->callback([o, id, &ctx] { ctx.exit_code = RunGet(*o, *id, ctx); });

  CLI::App* logs = execution->add_subcommand("logs", "Print the output a run captured");
  auto logs_id = std::make_shared<std::string>();
  logs->add_option("--id", *logs_id, "Execution id (UUID)")->required();
  logs->callback([o, logs_id, &ctx] { ctx.exit_code = RunLogs(*o, *logs_id, ctx); });
}

}  // namespace dts::cli
