#pragma once

#include <ostream>

#include "CLI/CLI.hpp"
#include "dts/common/clock.h"

namespace dts::cli {

// Everything a subcommand needs from its surroundings, injected so tests can
// capture output and fix the time.
struct Context {
  std::ostream* out;
  std::ostream* err;
  const Clock* clock;
  // Set by the subcommand that ran; returned by the process.
  int exit_code = 0;
};

// Exit codes shared by every subcommand.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;  // the command ran, the answer is "no"
inline constexpr int kExitUsage = 2;    // bad input: flags, expressions, zones

// Registers `dts cron ...` on `app`. `ctx` must outlive `app`'s parse.
void AddCronCommands(CLI::App& app, Context& ctx);

// Registers the gRPC client commands on `app`: `dts job ...`, `dts scheduler
// ...` and `dts execution ...`, with the global flags --server HOST:PORT
// (env DTS_SERVER, default localhost:50054), -o table|json and --token (env
// DTS_TOKEN, then DTS_API_TOKEN). The global flags may also follow the subcommand. Failures
// print "dts: <message>" on ctx.err; the exit code is 2 for bad input
// (including the server's INVALID_ARGUMENT) and 1 for anything else. `ctx`
// must outlive `app`'s parse.
void AddClientCommands(CLI::App& app, Context& ctx);

// Parses argv with `app` and runs the chosen subcommand. Parse errors print
// to ctx.err and return kExitUsage; --help prints to ctx.out and returns 0.
int Run(CLI::App& app, Context& ctx, int argc, const char* const* argv);

}  // namespace dts::cli
