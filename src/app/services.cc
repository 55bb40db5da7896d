// The distributed mode's services: `dts job-service` and what every service
// shares (docs/deployment.md).

#include "app/services.h"

#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "app/config.h"
#include "app/front.h"
#include "dts/api/services.h"
#include "dts/cluster/job_publisher.h"
#include "dts/common/id_generator.h"
#include "dts/log/log.h"
#include "dts/messaging/admin.h"
#include "dts/messaging/config.h"
#include "dts/messaging/producer.h"
#include "dts/storage/cassandra_store.h"

namespace dts::app {

void AddServiceFlags(CLI::App& cmd, const ServiceKind& kind, ServiceFlags* flags) {
  cmd.add_option("--bind", flags->bind, "Host the listeners bind to, with the *_PORT variables")
      ->capture_default_str();
  cmd.add_option("--grpc-addr", flags->grpc_addr,
                 absl::StrCat("gRPC listen address (else <bind>:$", kind.grpc_port_variable, ", ",
                              kind.grpc_port, ")"));
  cmd.add_option("--http-addr", flags->http_addr,
                 absl::StrCat("HTTP/JSON listen address (else <bind>:$", kind.http_port_variable,
                              ", ", kind.http_port, ")"));
  AddServeFlags(cmd, &flags->http_threads, &flags->ready_file, &flags->auth);
  AddTlsFlags(cmd, &flags->tls);
  AddCassandraFlags(cmd, &flags->cassandra);
}

absl::StatusOr<ServiceSetup> SetUpService(const ServiceKind& kind, const ServiceFlags& flags) {
  ServiceSetup out;
  absl::StatusOr<Settings> settings = Settings::Load();
  if (!settings.ok()) return settings.status();
  out.settings = *std::move(settings);
  absl::StatusOr<std::string> grpc_addr =
      ListenAddress(flags.grpc_addr, flags.bind, out.settings, std::string(kind.grpc_port_variable),
                    kind.grpc_port);
  absl::StatusOr<std::string> http_addr =
      ListenAddress(flags.http_addr, flags.bind, out.settings, std::string(kind.http_port_variable),
                    kind.http_port);
  const std::map<std::string, std::string> environment = out.settings.All();
  absl::StatusOr<messaging::KafkaConfig> kafka = messaging::KafkaConfig::FromEnvironment(environment);
  absl::StatusOr<int> shards = messaging::ShardsFromEnvironment(environment);
  absl::StatusOr<storage::CassandraConfig> cassandra =
      ResolveCassandraConfig(flags.cassandra, out.settings);
  for (const absl::Status& s : {grpc_addr.status(), http_addr.status(), kafka.status(),
                                shards.status(), cassandra.status()}) {
    if (!s.ok()) return s;
  }
  absl::StatusOr<AuthSettings> auth = ReadAuth(flags.auth, *grpc_addr, *http_addr);
  if (!auth.ok()) return auth.status();
  absl::StatusOr<ServerTls> tls = LoadServerTls(flags.tls);
  if (!tls.ok()) return tls.status();
  out.grpc_addr = *grpc_addr;
  out.http_addr = *http_addr;
  out.auth = *std::move(auth);
  out.tls = *std::move(tls);
  out.kafka = *kafka;
  out.shards = *shards;
  out.cassandra = *cassandra;

  storage::CassandraStore::Options store_options;
  store_options.config = out.cassandra;
  store_options.shard_count = out.shards;
  absl::StatusOr<std::unique_ptr<storage::CassandraStore>> store =
      storage::CassandraStore::Create(store_options);
  if (!store.ok()) return store.status();
  out.store = *std::move(store);

  absl::StatusOr<std::unique_ptr<messaging::KafkaAdmin>> admin = messaging::KafkaAdmin::Create(out.kafka);
  if (!admin.ok()) return admin.status();
  if (absl::Status s = (*admin)->EnsureTopics(
          messaging::DtsTopics(out.shards, /*replication_factor=*/1), absl::Seconds(30));
      !s.ok()) {
    return s;
  }
  messaging::ProducerOptions producer_options;
  producer_options.on_error = LogTo(absl::StrCat(kind.name, ": kafka"));
  absl::StatusOr<std::unique_ptr<messaging::KafkaProducer>> producer =
      messaging::KafkaProducer::Create(out.kafka, producer_options);
  if (!producer.ok()) return producer.status();
  out.producer = *std::move(producer);
  return out;
}

std::function<void(const absl::Status&)> LogTo(absl::string_view name) {
  return [name = std::string(name)](const absl::Status& s) {
    log::Error(name, s.message(), {{"code", absl::StatusCodeToString(s.code())}});
  };
}

int ServeService(const ServiceKind& kind, const ServiceFlags& flags, const ServiceSetup& setup,
                 absl::string_view instance, const FrontApis& apis, const sigset_t& signals,
                 cli::Context& ctx, std::vector<ReadinessCheck> more) {
  std::vector<ReadinessCheck> readiness = {
      {"storage", [store = setup.store.get()] { return store->Ping(); }},
      {"kafka", [producer = setup.producer.get()] { return producer->Ping(absl::Seconds(2)); }}};
  for (ReadinessCheck& check : more) readiness.push_back(std::move(check));
  FrontOptions front{.name = std::string(kind.name),
                     .grpc_addr = setup.grpc_addr,
                     .http_addr = setup.http_addr,
                     .http_threads = flags.http_threads,
                     .ready_file = flags.ready_file,
                     .auth = setup.auth,
                     .ready_detail = absl::StrCat(instance.empty() ? "" : "id=", instance,
                                                  instance.empty() ? "" : " ", "kafka=",
                                                  setup.kafka.brokers, " cassandra=",
                                                  setup.cassandra.hosts, "/",
                                                  setup.cassandra.keyspace),
                     .tls = setup.tls,
                     .readiness = std::move(readiness)};
  return Serve(front, apis, signals, ctx.clock, ctx);
}

namespace {

constexpr ServiceKind kJobService{.name = "dts job-service",
                                  .grpc_port_variable = "JOB_SERVICE_GRPC_PORT",
                                  .grpc_port = 50054,
                                  .http_port_variable = "JOB_SERVICE_HTTP_PORT",
                                  .http_port = 8080};

int RunJobService(const ServiceFlags& flags, cli::Context& ctx) {
  const sigset_t signals = BlockShutdownSignals();
  absl::StatusOr<ServiceSetup> setup = SetUpService(kJobService, flags);
  if (!setup.ok()) return StartupFailure(ctx, kJobService.name, setup.status());
  cluster::JobPublisher publisher(setup->producer.get(),
                                 {.shards = setup->shards, .on_error = LogTo(kJobService.name)});
  RandomIdGenerator ids;
  api::JobApi jobs(setup->store.get(), ctx.clock, &ids, &publisher);
  // The seed's scheduler routes work here on the stored jobs; workers and
  // the queue belong to the scheduler service (UNIMPLEMENTED here).
  api::SchedulerApi scheduler(&jobs);
  api::ExecutionApi executions(setup->store.get());
  const int code =
      ServeService(kJobService, flags, *setup, "", {&jobs, &scheduler, &executions}, signals, ctx);
  setup->producer->Close();  // delivers what the last requests published
  return code;
}

void AddJobService(CLI::App& app, cli::Context& ctx) {
  auto flags = std::make_shared<ServiceFlags>();
  CLI::App* cmd = app.add_subcommand(
      "job-service", "Distributed mode: job CRUD on Cassandra, every change published to Kafka");
  AddServiceFlags(*cmd, kJobService, flags.get());
  cmd->callback([flags, &ctx] { ctx.exit_code = RunJobService(*flags, ctx); });
}

}  // namespace

void AddServiceCommands(CLI::App& app, cli::Context& ctx) {
  AddJobService(app, ctx);
  AddSchedulerService(app, ctx);
  AddExecutionService(app, ctx);
}

}  // namespace dts::app
