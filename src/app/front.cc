#include "app/front.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <map>
#include <memory>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "cli/job_flags.h"
#include "dts/execution/resources.h"
#include "dts/api/access.h"
#include "dts/api/audit_log.h"
#include "dts/api/auth.h"
#include "dts/api/grpc_services.h"
#include "dts/api/http_gateway.h"
#include "dts/dashboard/dashboard.h"
#include "dts/http/server.h"
#include "dts/log/log.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/health_check_service_interface.h"
#include "grpcpp/server.h"
#include "grpcpp/server_builder.h"

namespace dts::app {
namespace {

absl::Status WriteReadyFile(const std::string& path, const std::string& grpc, const std::string& http) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp);
    out << "{\"grpc\":\"" << grpc << "\",\"http\":\"" << http << "\"}\n";
    if (!out) return absl::InternalError(absl::StrCat("cannot write ", tmp));
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    return absl::InternalError(absl::StrCat("cannot rename ", tmp, " to ", path));
  }
  return absl::OkStatus();
}

}  // namespace

void AddServeFlags(CLI::App& cmd, int* http_threads, std::string* ready_file, AuthFlags* auth) {
  cmd.add_option("--http-threads", *http_threads, "HTTP I/O threads")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  cmd.add_option("--ready-file", *ready_file,
                 "Write {\"grpc\":..., \"http\":...} here once listening (for port 0)");
  cmd.add_option("--api-token-file", auth->token_file,
                 "File holding one admin API token (else $DTS_API_TOKEN)");
  cmd.add_option("--auth-tokens-file", auth->tokens_file,
                 "File of `ROLE SHA256-HEX [NAME]` lines (with $DTS_AUTH_TOKENS=ROLE:TOKEN,...)");
  cmd.add_flag("--insecure-no-auth", auth->insecure_no_auth,
               "Allow listening beyond loopback without any token (not for production)");
  cmd.add_option("--rate-limit", auth->rate_limit, "Requests per second per token (0: no limit)")
      ->check(CLI::Range(0.0, 1e6))
      ->capture_default_str();
  cmd.add_option("--rate-burst", auth->rate_burst, "Requests a token may make at once")
      ->check(CLI::Range(1.0, 1e6))
      ->capture_default_str();
  cmd.add_option_function<std::string>(
         "--log-format",
         [](const std::string& v) { (void)log::SetFormat("--log-format", v); },
         "Log lines on stderr: text or json (one object per line)")
      ->check(CLI::IsMember({"text", "json"}, CLI::ignore_case))
      ->envname("DTS_LOG_FORMAT")
      ->default_str("text");
  cmd.add_option_function<std::string>(
         "--log-level", [](const std::string& v) { (void)log::SetLevel("--log-level", v); },
         "Lowest level logged: debug, info, warn or error")
      ->check(CLI::IsMember({"debug", "info", "warn", "error"}, CLI::ignore_case))
      ->envname("DTS_LOG_LEVEL")
      ->default_str("info");
  cmd.add_option("--audit-log", auth->audit_log,
                 "Append the audit log (JSON lines) to this file (default: stderr, \"audit: \" prefixed)");
}

void AddCassandraFlags(CLI::App& cmd, CassandraFlags* flags) {
  cmd.add_option("--cassandra-hosts", flags->hosts,
                 "Cassandra hosts h1[:port],h2 (else $CASSANDRA_HOSTS, .env, 127.0.0.1:9042)");
  cmd.add_option("--cassandra-keyspace", flags->keyspace,
                 "Cassandra keyspace (else $CASSANDRA_KEYSPACE, .env, task_scheduler)");
}

sigset_t BlockShutdownSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  // A write past RLIMIT_FSIZE (a file size quota) then fails with EFBIG,
  // which storage reports as an error, instead of killing the process.
  // Commands get the default back (spawn.cc resets every disposition).
  signal(SIGXFSZ, SIG_IGN);
  return set;
}

namespace {

absl::StatusOr<std::string> ReadWholeFile(absl::string_view flag, const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::InvalidArgumentError(absl::StrCat(flag, ": cannot read ", path));
  std::ostringstream content;
  content << in.rdbuf();
  return content.str();
}

// The admin token of --api-token-file (first line) or $DTS_API_TOKEN.
absl::StatusOr<std::vector<api::TokenEntry>> ReadLegacyToken(const std::string& token_file) {
  std::string token;
  if (!token_file.empty()) {
    absl::StatusOr<std::string> content = ReadWholeFile("--api-token-file", token_file);
    if (!content.ok()) return content.status();
    token = content->substr(0, content->find('\n'));
  } else if (const char* env = std::getenv("DTS_API_TOKEN"); env != nullptr) {
    token = env;
  }
  if (token.empty()) return std::vector<api::TokenEntry>{};
  absl::StatusOr<api::TokenEntry> entry = api::LegacyAdminToken(token);
  if (!entry.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        token_file.empty() ? "DTS_API_TOKEN" : "--api-token-file " + token_file, ": ",
        entry.status().message()));
  }
  return std::vector<api::TokenEntry>{*std::move(entry)};
}

// The tokens of every source, in the order file, environment, legacy.
absl::StatusOr<std::vector<api::TokenEntry>> ReadTokens(const AuthFlags& flags) {
  std::vector<api::TokenEntry> tokens;
  if (!flags.tokens_file.empty()) {
    absl::StatusOr<std::string> content = ReadWholeFile("--auth-tokens-file", flags.tokens_file);
    if (!content.ok()) return content.status();
    absl::StatusOr<std::vector<api::TokenEntry>> parsed =
        api::ParseTokensFile(flags.tokens_file, *content);
    if (!parsed.ok()) return parsed.status();
    tokens = *std::move(parsed);
  }
  const char* env = std::getenv("DTS_AUTH_TOKENS");
  absl::StatusOr<std::vector<api::TokenEntry>> from_env =
      api::ParseTokensEnv("DTS_AUTH_TOKENS", env == nullptr ? "" : env);
  if (!from_env.ok()) return from_env.status();
  absl::StatusOr<std::vector<api::TokenEntry>> legacy = ReadLegacyToken(flags.token_file);
  if (!legacy.ok()) return legacy.status();
  absl::StatusOr<std::vector<api::TokenEntry>> merged =
      api::MergeTokens(std::move(tokens), *std::move(from_env));
  if (!merged.ok()) return merged.status();
  return api::MergeTokens(*std::move(merged), *std::move(legacy));
}

}  // namespace

absl::StatusOr<AuthSettings> ReadAuth(const AuthFlags& flags, const std::string& grpc_addr,
                                      const std::string& http_addr) {
  absl::StatusOr<std::vector<api::TokenEntry>> tokens = ReadTokens(flags);
  if (!tokens.ok()) return tokens.status();
  AuthSettings settings;
  settings.tokens = *std::move(tokens);
  settings.rate_limit = {.per_second = flags.rate_limit, .burst = flags.rate_burst};
  settings.audit_log = flags.audit_log;
  const bool exposed = !api::IsLoopbackAddress(grpc_addr) || !api::IsLoopbackAddress(http_addr);
  if (exposed && settings.tokens.empty()) {
    if (!flags.insecure_no_auth) {
      return absl::InvalidArgumentError(
          "the API listens beyond loopback but no token is configured: set --auth-tokens-file, "
          "DTS_AUTH_TOKENS, or the single admin token DTS_API_TOKEN / --api-token-file "
          "(clients send `Authorization: Bearer <token>`), or pass --insecure-no-auth");
    }
    settings.insecure_exposed = true;
  }
  return settings;
}

int StartupFailure(cli::Context& ctx, absl::string_view name, const absl::Status& status) {
  *ctx.err << name << ": " << status.message() << "\n";
  return absl::IsInvalidArgument(status) ? cli::kExitUsage : cli::kExitFailure;
}

int Serve(const FrontOptions& options, const FrontApis& apis, const sigset_t& signals,
          const Clock* clock, cli::Context& ctx) {
  api::Authenticator auth(options.auth.tokens);
  api::RateLimiter limiter(clock, options.auth.rate_limit);
  absl::StatusOr<api::AuditLog::Sink> audit_sink =
      options.auth.audit_log.empty() ? api::StderrAuditSink()
                                     : api::OpenAuditFile(options.auth.audit_log);
  if (!audit_sink.ok()) return StartupFailure(ctx, options.name, audit_sink.status());
  const api::AuditLog audit(clock, *std::move(audit_sink));
  const api::AccessControl access(&auth, &limiter, &audit);
  if (options.auth.insecure_exposed) {
    *ctx.err << options.name << ": WARNING: listening beyond loopback with authentication off "
             << "(--insecure-no-auth): anyone who can reach the port can run commands\n";
  }
  api::GrpcJobService grpc_jobs(apis.jobs, &access);
  api::GrpcSchedulerService grpc_scheduler(apis.scheduler, &access);
  api::GrpcExecutionService grpc_executions(apis.executions, &access);
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  int grpc_port = 0;
  builder.AddListeningPort(options.grpc_addr, GrpcServerCredentials(options.tls), &grpc_port);
  builder.SetMaxReceiveMessageSize(static_cast<int>(kMaxRequestBytes));
  // gRPC's defaults (1-2 pollers) make its sync server start a thread for
  // most calls under concurrent load; keep a few polling threads ready.
  builder.SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::MIN_POLLERS, 4);
  builder.SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::MAX_POLLERS, 16);
  builder.RegisterService(&grpc_jobs);
  builder.RegisterService(&grpc_scheduler);
  builder.RegisterService(&grpc_executions);
  std::unique_ptr<grpc::Server> grpc_server = builder.BuildAndStart();
  if (grpc_server == nullptr || grpc_port == 0) {
    *ctx.err << options.name << ": cannot listen for gRPC on " << options.grpc_addr << "\n";
    return cli::kExitFailure;
  }
  grpc::HealthCheckServiceInterface* health = grpc_server->GetHealthCheckService();
  // Said on stderr when it changes, and at start only when not ready.
  bool starting = true;
  Readiness readiness(options.readiness, absl::Seconds(1),
                      [health, &options, &starting](const ReadinessResult& result) {
                        if (health != nullptr) health->SetServingStatus(result.ready);
                        if (!result.ready || !starting) {
                          log::Fields checks;
                          for (const auto& [name, status] : result.checks) {
                            checks.emplace_back(name, status.ok() ? "ok" : status.message());
                          }
                          log::Write(result.ready ? log::Level::kInfo : log::Level::kWarn,
                                     options.name, result.ready ? "ready" : "NOT READY", checks);
                        }
                        starting = false;
                      });
  readiness.Start();

  http::Router router;
  api::RegisterHttpRoutes(router, apis.jobs, apis.scheduler, apis.executions, &access, clock);
  router.Add("GET", "/readyz", [&readiness](const http::Request&, const http::PathParams&) {
    const ReadinessResult result = readiness.Latest();
    http::Response r;
    r.status = result.ready ? 200 : 503;
    r.body = Readiness::ToJson(result);
    return r;
  });
  dashboard::RegisterDashboard(router);
  http::ServerOptions http_options;
  http_options.address = options.http_addr;
  http_options.threads = options.http_threads;
  http_options.max_body_bytes = kMaxRequestBytes;
  http_options.tls_cert_chain_pem = options.tls.cert_chain_pem;
  http_options.tls_key_pem = options.tls.key_pem;
  http_options.tls_client_ca_pem = options.tls.client_ca_pem;
  absl::StatusOr<std::unique_ptr<http::Server>> http_server = http::Server::Create(http_options, &router);
  if (!http_server.ok()) {
    *ctx.err << options.name << ": " << http_server.status().message() << "\n";
    grpc_server->Shutdown();
    return cli::kExitFailure;
  }

  const std::string grpc_host = options.grpc_addr.substr(0, options.grpc_addr.rfind(':'));
  const std::string grpc_address = absl::StrCat(grpc_host, ":", grpc_port);
  const std::string http_address = (*http_server)->address();
  if (!options.ready_file.empty()) {
    if (absl::Status s = WriteReadyFile(options.ready_file, grpc_address, http_address); !s.ok()) {
      *ctx.err << options.name << ": " << s.message() << "\n";
      return cli::kExitFailure;
    }
  }
  *ctx.out << options.name << " ready: grpc=" << grpc_address << " http=" << http_address << " "
           << options.ready_detail
           << (auth.enabled() ? absl::StrCat(" auth=tokens:", auth.tokens().size()) : " auth=off")
           << (options.tls.verify_clients() ? " tls=mtls" : options.tls.enabled() ? " tls=on" : "")
           << std::endl;

  int signal = 0;
  sigwait(&signals, &signal);
  *ctx.out << options.name << ": shutting down (signal " << signal << ")" << std::endl;
  readiness.Stop();
  if (health != nullptr) health->SetServingStatus(false);  // balancers stop sending first
  (*http_server)->Shutdown();
  grpc_server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
  return cli::kExitOk;
}

absl::StatusOr<std::string> ListenAddress(const std::string& flag, const std::string& bind,
                                          const Settings& settings, const std::string& variable,
                                          int fallback) {
  if (!flag.empty()) return flag;
  absl::StatusOr<int> port = settings.Port(variable, fallback);
  if (!port.ok()) return port.status();
  return absl::StrCat(bind, ":", *port);
}

absl::StatusOr<std::string> AbsolutePath(absl::string_view flag, const std::string& path) {
  std::error_code error;
  const std::filesystem::path absolute = std::filesystem::absolute(path, error).lexically_normal();
  if (error) {
    return absl::FailedPreconditionError(absl::StrCat(flag, " ", path, ": ", error.message()));
  }
  return absolute.string();
}

void AddWorkerFlags(CLI::App& cmd, WorkerFlags* flags) {
  cmd.add_option("--worker-cpu", flags->cpu, "Worker cpu capacity in millicores (default: cores x 1000)")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 30));
  cmd.add_option("--worker-memory", flags->memory,
                 "Worker memory capacity in MiB (default: total memory)")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 30));
  cmd.add_option("--worker-storage", flags->storage,
                 "Worker storage capacity in MiB (default: free space under --data-dir)")
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 30));
  cmd.add_option("--worker-label", flags->labels, "Worker label key=value (repeatable)");
}

absl::StatusOr<allocator::WorkerSpec> ResolveWorkerSpec(WorkerId id, const WorkerFlags& flags,
                                                        const std::string& data_dir) {
  allocator::WorkerSpec spec;
  spec.id = std::move(id);
  absl::StatusOr<std::map<std::string, std::string>> labels =
      cli::ParseKeyValues("--worker-label", flags.labels);
  if (!labels.ok()) return labels.status();
  spec.labels = *std::move(labels);
  std::error_code error;
  std::filesystem::create_directories(data_dir, error);
  if (error) {
    return absl::FailedPreconditionError(
        absl::StrCat("--data-dir: cannot create ", data_dir, ": ", error.message()));
  }
  absl::StatusOr<execution::Capacity> machine = execution::DetectMachineCapacity(data_dir);
  if (!machine.ok()) return machine.status();
  spec.capacity.cpu_millis = flags.cpu.value_or(machine->cpu_millicores);
  spec.capacity.memory_mib = flags.memory.value_or(machine->memory_mib);
  spec.capacity.storage_mib = flags.storage.value_or(machine->storage_mib);
  return spec;
}

void AddPlacementFlags(CLI::App& cmd, PlacementFlags* flags) {
  cmd.add_option("--placement", flags->strategy, "Placement strategy: best-fit or spread")
      ->capture_default_str();
  cmd.add_option("--backfill-bound", flags->backfill_bound_seconds,
                 "Seconds the head of the queue waits before no smaller run may pass it")
      ->check(CLI::Range(0, 86'400))
      ->capture_default_str();
}

absl::StatusOr<std::unique_ptr<allocator::Allocator>> CreateAllocator(const PlacementFlags& flags,
                                                                      const Clock* clock) {
  std::optional<allocator::Strategy> strategy = allocator::ParseStrategy(flags.strategy);
  if (!strategy) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--placement: expected best-fit or spread, got \"", flags.strategy, "\""));
  }
  allocator::AllocatorOptions options;
  options.strategy = *strategy;
  options.backfill_wait_bound = absl::Seconds(flags.backfill_bound_seconds);
  return allocator::Allocator::Create(options, clock);
}

absl::StatusOr<execution::ExecutorOptions> ExecutorOptionsUnder(const std::string& data_dir) {
  absl::StatusOr<std::string> absolute = AbsolutePath("--data-dir", data_dir);
  if (!absolute.ok()) return absolute.status();
  execution::ExecutorOptions options;
  options.scratch_root = absl::StrCat(*absolute, "/scratch");
  options.group_record_dir = absl::StrCat(*absolute, "/process-groups");
  return options;
}

std::string DefaultInstanceId(const std::string& address) {
  char host[256] = {};
  if (gethostname(host, sizeof(host) - 1) != 0) host[0] = '\0';
  const size_t colon = address.rfind(':');
  return absl::StrCat(host[0] ? host : "dts", "-",
                      colon == std::string::npos ? address : address.substr(colon + 1));
}

}  // namespace dts::app
