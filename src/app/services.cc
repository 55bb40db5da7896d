// The distributed mode's services: `dts job-service` (docs/deployment.md).

#include "app/services.h"

#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "app/config.h"
#include "app/front.h"
#include "dts/api/services.h"
#include "dts/cluster/job_publisher.h"
#include "dts/common/id_generator.h"
#include "dts/messaging/admin.h"
#include "dts/messaging/config.h"
#include "dts/messaging/producer.h"
#include "dts/storage/cassandra_store.h"

namespace dts::app {
namespace {

struct JobServiceOptions {
  std::string bind = "127.0.0.1";
  std::string grpc_addr;  // empty: <bind>:$JOB_SERVICE_GRPC_PORT (50054)
  std::string http_addr;  // empty: <bind>:$JOB_SERVICE_HTTP_PORT (8080)
  int http_threads = 2;
  std::string ready_file;
  std::string token_file;
  CassandraFlags cassandra;
};

// The flag, else <bind>:<port from the environment or .env, else fallback>.
absl::StatusOr<std::string> ListenAddress(const std::string& flag, const std::string& bind,
                                          const Settings& settings, const std::string& variable,
                                          int fallback) {
  if (!flag.empty()) return flag;
  absl::StatusOr<int> port = settings.Port(variable, fallback);
  if (!port.ok()) return port.status();
  return absl::StrCat(bind, ":", *port);
}

int RunJobService(const JobServiceOptions& opts, cli::Context& ctx) {
  constexpr absl::string_view kName = "dts job-service";
  const sigset_t signals = BlockShutdownSignals();
  absl::StatusOr<Settings> settings = Settings::Load();
  if (!settings.ok()) return StartupFailure(ctx, kName, settings.status());
  absl::StatusOr<std::string> grpc_addr =
      ListenAddress(opts.grpc_addr, opts.bind, *settings, "JOB_SERVICE_GRPC_PORT", 50054);
  absl::StatusOr<std::string> http_addr =
      ListenAddress(opts.http_addr, opts.bind, *settings, "JOB_SERVICE_HTTP_PORT", 8080);
  const std::map<std::string, std::string> environment = settings->All();
  absl::StatusOr<messaging::KafkaConfig> kafka = messaging::KafkaConfig::FromEnvironment(environment);
  absl::StatusOr<int> shards = messaging::ShardsFromEnvironment(environment);
  absl::StatusOr<storage::CassandraConfig> cassandra =
      ResolveCassandraConfig(opts.cassandra, *settings);
  for (const absl::Status& s : {grpc_addr.status(), http_addr.status(), kafka.status(),
                                shards.status(), cassandra.status()}) {
    if (!s.ok()) return StartupFailure(ctx, kName, s);
  }
  absl::StatusOr<std::string> token = ReadToken(opts.token_file, *grpc_addr, *http_addr);
  if (!token.ok()) return StartupFailure(ctx, kName, token.status());

  // The schema is `dts migrate`'s (make migrate): a service never changes it.
  storage::CassandraStore::Options store_options;
  store_options.config = *cassandra;
  store_options.shard_count = *shards;
  absl::StatusOr<std::unique_ptr<storage::CassandraStore>> store =
      storage::CassandraStore::Create(store_options);
  if (!store.ok()) return StartupFailure(ctx, kName, store.status());

  absl::StatusOr<std::unique_ptr<messaging::KafkaAdmin>> admin = messaging::KafkaAdmin::Create(*kafka);
  if (!admin.ok()) return StartupFailure(ctx, kName, admin.status());
  std::vector<messaging::TopicSpec> topics = messaging::DtsTopics(*shards, /*replication_factor=*/1);
  messaging::TopicSpec runs;
  runs.name = cluster::kRunsTopic;
  runs.partitions = *shards;
  topics.push_back(std::move(runs));
  if (absl::Status s = (*admin)->EnsureTopics(topics, absl::Seconds(30)); !s.ok()) {
    return StartupFailure(ctx, kName, s);
  }
  messaging::ProducerOptions producer_options;
  producer_options.on_error = [&ctx](const absl::Status& s) {
    *ctx.err << "dts job-service: kafka: " << s.message() << "\n";
  };
  absl::StatusOr<std::unique_ptr<messaging::KafkaProducer>> producer =
      messaging::KafkaProducer::Create(*kafka, producer_options);
  if (!producer.ok()) return StartupFailure(ctx, kName, producer.status());
  cluster::JobPublisher publisher(
      producer->get(),
      {.shards = *shards, .on_error = [&ctx](const absl::Status& s) {
         *ctx.err << "dts job-service: " << s.message() << "\n";
       }});

  RandomIdGenerator ids;
  api::JobApi jobs(store->get(), ctx.clock, &ids, &publisher);
  // The seed's scheduler routes work here on the stored jobs; workers and
  // the queue belong to the scheduler service (UNIMPLEMENTED here).
  api::SchedulerApi scheduler(&jobs);
  api::ExecutionApi executions(store->get());
  FrontOptions front{.name = std::string(kName),
                     .grpc_addr = *grpc_addr,
                     .http_addr = *http_addr,
                     .http_threads = opts.http_threads,
                     .ready_file = opts.ready_file,
                     .token = *token,
                     .ready_detail = absl::StrCat("kafka=", kafka->brokers, " cassandra=",
                                                  cassandra->hosts, "/", cassandra->keyspace)};
  const int code = Serve(front, {&jobs, &scheduler, &executions}, signals, ctx.clock, ctx);
  (*producer)->Close();  // delivers what the last requests published
  return code;
}

void AddJobService(CLI::App& app, cli::Context& ctx) {
  auto opts = std::make_shared<JobServiceOptions>();
  CLI::App* cmd = app.add_subcommand(
      "job-service", "Distributed mode: job CRUD on Cassandra, every change published to Kafka");
  cmd->add_option("--bind", opts->bind, "Host the listeners bind to, with the *_PORT variables")
      ->capture_default_str();
  cmd->add_option("--grpc-addr", opts->grpc_addr,
                  "gRPC listen address (else <bind>:$JOB_SERVICE_GRPC_PORT, 50054)");
  cmd->add_option("--http-addr", opts->http_addr,
                  "HTTP/JSON listen address (else <bind>:$JOB_SERVICE_HTTP_PORT, 8080)");
  AddServeFlags(*cmd, &opts->http_threads, &opts->ready_file, &opts->token_file);
  AddCassandraFlags(*cmd, &opts->cassandra);
  cmd->callback([opts, &ctx] { ctx.exit_code = RunJobService(*opts, ctx); });
}

}  // namespace

void AddServiceCommands(CLI::App& app, cli::Context& ctx) { AddJobService(app, ctx); }

}  // namespace dts::app
