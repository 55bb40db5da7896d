// `dts cron next EXPR [--tz ZONE] [--from RFC3339] [-n N] [--local]`

#include <memory>
#include <optional>
#include <string>

#include "absl/time/time.h"
#include "dts/cli/cli.h"
#include "dts/cron/schedule.h"

namespace dts::cli {
namespace {

struct CronNextOptions {
  std::string expression;
  std::string zone = "UTC";
  std::string from;
  int count = 5;
  bool local = false;
};

constexpr char kUtcFormat[] = "%Y-%m-%dT%H:%M:%SZ";
constexpr char kLocalFormat[] = "%Y-%m-%dT%H:%M:%S%Ez";

int RunCronNext(const CronNextOptions& opts, Context& ctx) {
  absl::StatusOr<absl::TimeZone> zone = cron::LoadZone(opts.zone);
  if (!zone.ok()) {
    *ctx.err << "dts: --tz: " << zone.status().message() << "\n";
    return kExitUsage;
  }
  absl::Time from = ctx.clock->Now();
  if (!opts.from.empty()) {
    std::string parse_error;
    if (!absl::ParseTime(absl::RFC3339_full, opts.from, &from, &parse_error)) {
      *ctx.err << "dts: --from: \"" << opts.from
               << "\" is not an RFC3339 time such as 2026-03-07T00:00:00Z (" << parse_error
               << ")\n";
      return kExitUsage;
    }
  }
  if (opts.count < 1) {
    *ctx.err << "dts: -n: must be at least 1, got " << opts.count << "\n";
    return kExitUsage;
  }
  absl::StatusOr<cron::Schedule> schedule = cron::Schedule::Create(opts.expression, *zone);
  if (!schedule.ok()) {
    *ctx.err << "dts: " << schedule.status().message() << "\n";
    return kExitUsage;
  }

  const absl::Time anchor = from;
  absl::Time cursor = from;
  for (int i = 0; i < opts.count; ++i) {
    std::optional<absl::Time> next = schedule->Next(cursor, anchor);
    if (!next) {
      *ctx.err << "dts: \"" << opts.expression << "\" never fires within 50 years after "
               << absl::FormatTime(kUtcFormat, cursor, absl::UTCTimeZone()) << " (found " << i
               << " of " << opts.count << ")\n";
      return kExitFailure;
    }
    if (opts.local) {
      *ctx.out << absl::FormatTime(kLocalFormat, *next, schedule->zone()) << "\n";
    } else {
      *ctx.out << absl::FormatTime(kUtcFormat, *next, absl::UTCTimeZone()) << "\n";
    }
    cursor = *next;
  }
  return kExitOk;
}

}  // namespace

void AddCronCommands(CLI::App& app, Context& ctx) {
  CLI::App* cron = app.add_subcommand("cron", "Work with cron expressions");
  cron->require_subcommand(1);
  auto opts = std::make_shared<CronNextOptions>();
  CLI::App* next = cron->add_subcommand("next", "Print the next fire times of a cron expression");
  next->add_option("expression", opts->expression,
                   "Cron expression, e.g. '*/5 * * * *', '@daily', 'CRON_TZ=Europe/Paris 0 9 * * MON'")
      ->required();
  next->add_option("--tz", opts->zone, "IANA time zone the expression is evaluated in")
      ->capture_default_str();
  next->add_option("--from", opts->from, "Start after this RFC3339 time (default: now)");
  next->add_option("-n,--count", opts->count, "How many fire times to print")
      ->capture_default_str();
  next->add_flag("--local", opts->local, "Print times in the zone, with their UTC offset");
  next->callback([opts, &ctx] { ctx.exit_code = RunCronNext(*opts, ctx); });
}

}  // namespace dts::cli
