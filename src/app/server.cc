// `dts server`: the embedded deployment, one process on SQLite.

#include "app/server.h"

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "app/config.h"
#include "app/front.h"
#include "app/run_as_flags.h"
#include "cli/job_flags.h"
#include "dts/api/services.h"
#include "dts/common/id_generator.h"
#include "dts/execution/executor.h"
#include "dts/execution/local_worker.h"
#include "dts/execution/resources.h"
#include "dts/scheduler/engine.h"
#include "dts/scheduler/placement.h"
#include "dts/scheduler/run_recorder.h"
#include "dts/storage/cassandra_store.h"
#include "dts/storage/sqlite_store.h"

namespace dts::app {
namespace {

struct ServerOptions {
  std::string data_dir = "./dts-data";
  std::string grpc_addr = "127.0.0.1:50054";
  std::string http_addr = "127.0.0.1:8080";
  std::string ready_file;
  AuthFlags auth;
  TlsFlags tls;
  std::string storage = "sqlite";  // or cassandra
  CassandraFlags cassandra;
  int http_threads = 2;
  int retention_runs = 1000;
  int retention_days = 30;
  // The local worker's capacity and labels; unset: what this machine has.
  WorkerFlags worker;
  RunAsFlags run_as;  // who the local worker's commands run as
  PlacementFlags placement;
  int fire_ahead_ms = 0;
};

// The Store chosen by --storage. Cassandra's schema is migrated first, as
// SqliteStore::Open migrates its file; final runs expire after the
// retention age (PruneRuns still applies both retention rules).
absl::StatusOr<std::unique_ptr<storage::Store>> OpenStore(const ServerOptions& opts) {
  if (opts.storage == "sqlite") {
    absl::StatusOr<std::unique_ptr<storage::SqliteStore>> store = storage::SqliteStore::Open(opts.data_dir);
    if (!store.ok()) return store.status();
    return std::unique_ptr<storage::Store>(*std::move(store));
  }
  if (opts.storage != "cassandra") {
    return absl::InvalidArgumentError(
        absl::StrCat("--storage: expected sqlite or cassandra, got \"", opts.storage, "\""));
  }
  absl::StatusOr<Settings> settings = Settings::Load();
  if (!settings.ok()) return settings.status();
  absl::StatusOr<storage::CassandraConfig> config = ResolveCassandraConfig(opts.cassandra, *settings);
  if (!config.ok()) return config.status();
  if (absl::StatusOr<std::vector<std::string>> applied = storage::MigrateCassandra(*config); !applied.ok()) {
    return applied.status();
  }
  storage::CassandraStore::Options options;
  options.config = *config;
  options.final_run_ttl = absl::Hours(24) * opts.retention_days;
  absl::StatusOr<std::unique_ptr<storage::CassandraStore>> store = storage::CassandraStore::Create(options);
  if (!store.ok()) return store.status();
  return std::unique_ptr<storage::Store>(*std::move(store));
}

int RunServer(const ServerOptions& opts, cli::Context& ctx) {
  const sigset_t signals = BlockShutdownSignals();
  constexpr absl::string_view kName = "dts server";
  // ReadAuth fails only with INVALID_ARGUMENT: a usage error.
  absl::StatusOr<AuthSettings> auth = ReadAuth(opts.auth, opts.grpc_addr, opts.http_addr);
  if (!auth.ok()) return StartupFailure(ctx, kName, auth.status());
  // Also INVALID_ARGUMENT only, naming the flag; checked before the store
  // opens so that a bad file costs nothing.
  absl::StatusOr<ServerTls> tls = LoadServerTls(opts.tls);
  if (!tls.ok()) return StartupFailure(ctx, kName, tls.status());
  absl::StatusOr<std::unique_ptr<storage::Store>> store = OpenStore(opts);
  if (!store.ok()) return StartupFailure(ctx, kName, store.status());
  absl::StatusOr<allocator::WorkerSpec> worker_spec =
      ResolveWorkerSpec(WorkerId("local"), opts.worker, opts.data_dir);
  absl::StatusOr<std::unique_ptr<allocator::Allocator>> allocator =
      CreateAllocator(opts.placement, ctx.clock);
  for (const absl::Status& s : {worker_spec.status(), allocator.status()}) {
    if (!s.ok()) return StartupFailure(ctx, kName, s);
  }
  absl::StatusOr<execution::ExecutorOptions> executor_options = ExecutorOptionsUnder(opts.data_dir);
  if (!executor_options.ok()) return StartupFailure(ctx, kName, executor_options.status());
  if (absl::Status s = ApplyRunAs(opts.run_as, kName, &*executor_options, *ctx.err); !s.ok()) {
    return StartupFailure(ctx, kName, s);
  }
  absl::StatusOr<std::unique_ptr<execution::Executor>> executor =
      execution::CreateLocalExecutor(ctx.clock, *executor_options);
  if (!executor.ok()) {
    *ctx.err << "dts server: " << executor.status().message() << "\n";
    return cli::kExitFailure;
  }
  scheduler::RunRecorder recorder(store->get());
  scheduler::Placement placement(
      allocator->get(), &recorder, ctx.clock,
      {.fixed_workers = true, .record_queued = true, .on_unknown_worker = nullptr});
  execution::LocalWorker worker(worker_spec->id, executor->get(), &recorder, ctx.clock);
  if (absl::Status s = placement.AddWorker(&worker, *worker_spec); !s.ok()) {
    *ctx.err << "dts server: " << s.message() << "\n";
    return cli::kExitUsage;
  }
  scheduler::EngineOptions engine_options;
  engine_options.retention_runs = opts.retention_runs;
  engine_options.retention_age = absl::Hours(24) * opts.retention_days;
  engine_options.lookahead = absl::Milliseconds(opts.fire_ahead_ms);
  scheduler::Engine engine(store->get(), ctx.clock, &placement, engine_options);
  placement.set_on_finished([&engine](const Run& run) { engine.RunFinished(run); });
  // On every way out: stop firing and starting, then cancel what still runs
  // and record those outcomes, while the worker and the store still exist.
  absl::Cleanup stop_work = [&] {
    engine.Stop();
    placement.Stop();
    (*executor)->Shutdown();
    recorder.Stop();
  };
  if (absl::Status s = engine.Recover(); !s.ok()) {
    *ctx.err << "dts server: recovering the schedule: " << s.message() << "\n";
    return cli::kExitFailure;
  }
  engine.Start();

  RandomIdGenerator ids;
  api::JobApi jobs(store->get(), ctx.clock, &ids, &engine, &placement);
  api::SchedulerApi scheduler(&jobs, &placement);
  api::ExecutionApi executions(store->get());
  FrontOptions front{.name = "dts server",
                     .grpc_addr = opts.grpc_addr,
                     .http_addr = opts.http_addr,
                     .http_threads = opts.http_threads,
                     .ready_file = opts.ready_file,
                     .auth = *auth,
                     .ready_detail = absl::StrCat("data_dir=", opts.data_dir),
                     .tls = *std::move(tls),
                     .readiness = {{"storage", [&store] { return (*store)->Ping(); }}}};
  return Serve(front, {&jobs, &scheduler, &executions}, signals, ctx.clock, ctx);
}

int RunMigrate(const std::string& backend, const std::string& data_dir, const CassandraFlags& flags,
               cli::Context& ctx) {
  absl::StatusOr<std::vector<std::string>> applied;
  if (backend == "sqlite") {
    applied = storage::MigrateSqlite(data_dir);
  } else if (backend == "cassandra") {
    absl::StatusOr<Settings> settings = Settings::Load();
    absl::StatusOr<storage::CassandraConfig> config =
        settings.ok() ? ResolveCassandraConfig(flags, *settings) : settings.status();
    if (!config.ok()) {
      *ctx.err << "dts migrate: " << config.status().message() << "\n";
      return cli::kExitUsage;
    }
    *ctx.out << "cassandra " << config->hosts << ", keyspace " << config->keyspace << "\n";
    applied = storage::MigrateCassandra(*config);
  } else {
    *ctx.err << "dts migrate: --backend: expected sqlite or cassandra, got \"" << backend << "\"\n";
    return cli::kExitUsage;
  }
  if (!applied.ok()) {
    *ctx.err << "dts migrate: " << applied.status().message() << "\n";
    return cli::kExitFailure;
  }
  if (applied->empty()) *ctx.out << "schema is up to date\n";
  for (const std::string& version : *applied) *ctx.out << "applied " << version << "\n";
  return cli::kExitOk;
}

}  // namespace

void AddServerCommands(CLI::App& app, cli::Context& ctx) {
  auto opts = std::make_shared<ServerOptions>();
  CLI::App* server = app.add_subcommand("server", "Run the embedded server (SQLite, one process)");
  server->add_option("--data-dir", opts->data_dir, "Directory for the SQLite database")->capture_default_str();
  server->add_option("--storage", opts->storage, "Storage backend: sqlite or cassandra")->capture_default_str();
  AddCassandraFlags(*server, &opts->cassandra);
  server->add_option("--cassandra-replication", opts->cassandra.replication,
                     "Replication of a keyspace created now: SimpleStrategy[:N] or "
                     "NetworkTopologyStrategy:dc1=N,... (else $CASSANDRA_REPLICATION, .env)");
  server->add_option("--grpc-addr", opts->grpc_addr, "gRPC listen address")->capture_default_str();
  server->add_option("--http-addr", opts->http_addr, "HTTP/JSON listen address")->capture_default_str();
  AddServeFlags(*server, &opts->http_threads, &opts->ready_file, &opts->auth);
  AddTlsFlags(*server, &opts->tls);
  server->add_option("--retention-runs", opts->retention_runs,
                     "Keep at least this many newest runs per job")
      ->check(CLI::Range(0, 10'000'000))
      ->capture_default_str();
  server->add_option("--retention-days", opts->retention_days,
                     "Keep every run younger than this many days")
      ->check(CLI::Range(0, 36'500))
      ->capture_default_str();
  AddWorkerFlags(*server, &opts->worker);
  AddRunAsFlags(*server, &opts->run_as);
  AddPlacementFlags(*server, &opts->placement);
  server->add_option("--fire-ahead", opts->fire_ahead_ms,
                     "Record fires up to this many ms before they are due, so that at the "
                     "instant only the start remains (docs/runs.md); 0: off")
      ->check(CLI::Range(0, 10'000))
      ->capture_default_str();
  server->callback([opts, &ctx] { ctx.exit_code = RunServer(*opts, ctx); });

  auto backend = std::make_shared<std::string>("sqlite");
  auto data_dir = std::make_shared<std::string>("./dts-data");
  CLI::App* migrate = app.add_subcommand("migrate", "Apply pending schema migrations");
  migrate->add_option("--backend", *backend, "sqlite or cassandra")->capture_default_str();
  migrate->add_option("--data-dir", *data_dir, "SQLite data directory")->capture_default_str();
  auto cassandra = std::make_shared<CassandraFlags>();
  migrate->add_option("--cassandra-hosts", cassandra->hosts,
                      "Cassandra hosts h1[:port],h2 (else $CASSANDRA_HOSTS, .env, 127.0.0.1:9042)");
  migrate->add_option("--cassandra-keyspace", cassandra->keyspace,
                      "Keyspace, created if missing (else $CASSANDRA_KEYSPACE, .env, dts)");
  migrate->add_option("--cassandra-replication", cassandra->replication,
                      "Replication of a new keyspace: SimpleStrategy[:N] or "
                      "NetworkTopologyStrategy:dc1=N,... (else $CASSANDRA_REPLICATION, .env, "
                      "SimpleStrategy:1)");
  migrate->callback([backend, data_dir, cassandra, &ctx] {
    ctx.exit_code = RunMigrate(*backend, *data_dir, *cassandra, ctx);
  });
}

}  // namespace dts::app
