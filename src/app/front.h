#pragma once

// What every API-serving command (`dts server`, `dts job-service`, ...)
// shares: the bearer token, the signals, the gRPC and HTTP listeners, the
// dashboard, the ready file, and waiting for SIGINT/SIGTERM.

#include <csignal>
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>
#include <string>

#include "CLI/CLI.hpp"
#include "absl/status/statusor.h"
#include "app/config.h"
#include "app/readiness.h"
#include "app/tls.h"
#include "dts/api/auth.h"
#include "dts/api/rate_limiter.h"
#include "dts/api/services.h"
#include "dts/cli/cli.h"
#include "dts/allocator/allocator.h"
#include "dts/common/clock.h"
#include "dts/execution/executor.h"

namespace dts::app {

// The authentication flags of every serving command (docs/security.md).
struct AuthFlags {
  std::string token_file;   // --api-token-file: one admin token (compatibility)
  std::string tokens_file;  // --auth-tokens-file: `ROLE SHA256-HEX [NAME]` lines
  bool insecure_no_auth = false;
  double rate_limit = 100;  // requests/s per token; 0: off
  double rate_burst = 200;
  std::string audit_log;    // empty: stderr, "audit: " prefixed
};

// What the listeners enforce, checked at start-up.
struct AuthSettings {
  std::vector<api::TokenEntry> tokens{};  // empty: auth off
  // A listener is beyond loopback with no tokens (--insecure-no-auth).
  bool insecure_exposed = false;
  api::RateLimit rate_limit{};
  std::string audit_log{};
};

struct FrontOptions {
  std::string name;  // "dts server": prefixes every message
  std::string grpc_addr;
  std::string http_addr;
  int http_threads = 2;
  std::string ready_file;  // {"grpc":..., "http":...} once listening
  AuthSettings auth;       // tokens, rate limit, audit log (ReadAuth)
  std::string ready_detail;  // appended to the "ready" line
  ServerTls tls{};           // both listeners; disabled: plaintext (LoadServerTls)
  // What GET /readyz and the gRPC health service report on (none: ready
  // once listening).
  std::vector<ReadinessCheck> readiness{};
};

// The APIs behind the listeners (none may be null).
struct FrontApis {
  api::JobApi* jobs = nullptr;
  api::SchedulerApi* scheduler = nullptr;
  api::ExecutionApi* executions = nullptr;
};

// The flags every serving command has, written to the given fields:
// --http-threads, --ready-file and the AuthFlags (--api-token-file,
// --auth-tokens-file, --insecure-no-auth, --rate-limit, --rate-burst,
// --audit-log).
void AddServeFlags(CLI::App& cmd, int* http_threads, std::string* ready_file, AuthFlags* auth);
// --cassandra-hosts and --cassandra-keyspace.
void AddCassandraFlags(CLI::App& cmd, CassandraFlags* flags);

// Blocks SIGINT/SIGTERM in every thread started after this, so that the
// sigwait() in Serve() is the one place they arrive, and ignores SIGXFSZ.
// Call first thing.
sigset_t BlockShutdownSignals();

// The tokens of --auth-tokens-file, $DTS_AUTH_TOKENS and the single admin
// token of --api-token-file (first line) or $DTS_API_TOKEN, all together.
// INVALID_ARGUMENT (exit 2) naming the file and line, or the variable, for
// bad content, and when a listener is beyond loopback with no token and no
// --insecure-no-auth.
absl::StatusOr<AuthSettings> ReadAuth(const AuthFlags& flags, const std::string& grpc_addr,
                                      const std::string& http_addr);

// Prints "<name>: <message>" and returns the exit code of a failed start:
// usage for INVALID_ARGUMENT (the user's to fix), failure otherwise.
int StartupFailure(cli::Context& ctx, absl::string_view name, const absl::Status& status);

// A listen address: `flag` when set, else <bind>:<port>, the port from
// `variable` (environment, then .env), else `fallback`.
absl::StatusOr<std::string> ListenAddress(const std::string& flag, const std::string& bind,
                                          const Settings& settings, const std::string& variable,
                                          int fallback);

// A worker's flags: --worker-cpu, --worker-memory, --worker-storage (unset:
// this machine's) and --worker-label k=v (repeatable).
struct WorkerFlags {
  std::optional<int64_t> cpu;
  std::optional<int64_t> memory;
  std::optional<int64_t> storage;
  std::vector<std::string> labels;
};
void AddWorkerFlags(CLI::App& cmd, WorkerFlags* flags);
// The worker's labels and capacity: the flags, else this machine's (CPUs x
// 1000, MemTotal, free space under `data_dir`, each capped by our cgroup).
// INVALID_ARGUMENT naming the flag for a bad label.
absl::StatusOr<allocator::WorkerSpec> ResolveWorkerSpec(WorkerId id, const WorkerFlags& flags,
                                                        const std::string& data_dir);
// How runs are placed: --placement best-fit|spread and --backfill-bound.
struct PlacementFlags {
  std::string strategy = "best-fit";
  int backfill_bound_seconds = 60;
};
void AddPlacementFlags(CLI::App& cmd, PlacementFlags* flags);
// INVALID_ARGUMENT naming --placement for an unknown strategy.
absl::StatusOr<std::unique_ptr<allocator::Allocator>> CreateAllocator(const PlacementFlags& flags,
                                                                      const Clock* clock);

// The executor's directories under the data directory (made absolute): run
// scratch directories, and the records of process groups that let a
// restarted process kill the commands a crashed one left.
absl::StatusOr<execution::ExecutorOptions> ExecutorOptionsUnder(const std::string& data_dir);
// "<hostname>-<port of address>": a default instance id that differs between
// processes on one machine.
std::string DefaultInstanceId(const std::string& address);

// `path` made absolute (the executor runs commands in other directories,
// so its scratch and record directories must not depend on the working
// directory). FAILED_PRECONDITION naming `flag` when that fails.
absl::StatusOr<std::string> AbsolutePath(absl::string_view flag, const std::string& path);

// Serves the APIs over gRPC and HTTP (with the dashboard) until one of
// `signals` arrives, then shuts both down. Returns the command's exit code.
int Serve(const FrontOptions& options, const FrontApis& apis, const sigset_t& signals,
          const Clock* clock, cli::Context& ctx);

}  // namespace dts::app
