#pragma once

// Shared plumbing of the client command groups (job, scheduler, execution).

#include <functional>
#include <memory>
#include <ostream>
#include <type_traits>

#include "absl/status/status.h"
#include "cli/client.h"
#include "cli/output.h"
#include "dts/cli/cli.h"

namespace dts::cli {

using OptionsPtr = std::shared_ptr<const ClientOptions>;

// CLI11 lists the parent's options only in `dts --help`; say so below each
// group's help.
inline constexpr char kGlobalFlagsFooter[] =
    "Global flags, before or after the subcommand: --server HOST:PORT (env DTS_SERVER, "
    "default localhost:50054), --scheduler-server HOST:PORT (env DTS_SCHEDULER_SERVER, "
    "default --server), -o table|json, --token TOKEN (env DTS_TOKEN or DTS_API_TOKEN).";

void AddJobCommands(CLI::App& app, Context& ctx, OptionsPtr options);
void AddSchedulerCommands(CLI::App& app, Context& ctx, OptionsPtr options);
void AddWorkerCommands(CLI::App& app, Context& ctx, OptionsPtr options);
void AddExecutionCommands(CLI::App& app, Context& ctx, OptionsPtr options);

// Finishes a command: on error prints it and returns its exit code; on
// success prints `response` as JSON (-o json) or with `table`.
template <typename Response>
int Finish(Context& ctx, const ClientOptions& options, const absl::Status& status,
           const Response& response,
           const std::type_identity_t<std::function<void(std::ostream&, const Response&)>>& table) {
  if (!status.ok()) return Fail(ctx, status);
  if (options.json()) {
    const absl::Status printed = PrintJson(*ctx.out, response);
    return printed.ok() ? kExitOk : Fail(ctx, printed);
  }
  table(*ctx.out, response);
  return kExitOk;
}

}  // namespace dts::cli
