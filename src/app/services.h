#pragma once

#include <csignal>
#include <functional>
#include <memory>
#include <string>

#include "CLI/CLI.hpp"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "app/config.h"
#include "app/front.h"
#include "dts/cli/cli.h"
#include "dts/messaging/config.h"
#include "dts/messaging/producer.h"
#include "dts/storage/cassandra_store.h"

namespace dts::app {

// Registers the distributed mode's services on the command line:
// `dts job-service`, `dts scheduler-service` and `dts execution-service`.
void AddServiceCommands(CLI::App& app, cli::Context& ctx);

// Each service's command (services.cc, scheduler_service.cc,
// execution_service.cc).
void AddSchedulerService(CLI::App& app, cli::Context& ctx);
void AddExecutionService(CLI::App& app, cli::Context& ctx);

// The flags every service has: --bind, --grpc-addr, --http-addr, the serve
// flags and the Cassandra flags.
struct ServiceFlags {
  std::string bind = "127.0.0.1";
  std::string grpc_addr;  // empty: <bind>:$<grpc port variable>
  std::string http_addr;  // empty: <bind>:$<http port variable>
  int http_threads = 2;
  std::string ready_file;
  AuthFlags auth;
  TlsFlags tls;
  CassandraFlags cassandra;
};

// Which service: its name ("dts job-service") and its port variables.
struct ServiceKind {
  absl::string_view name;
  absl::string_view grpc_port_variable;
  int grpc_port;
  absl::string_view http_port_variable;
  int http_port;
};

void AddServiceFlags(CLI::App& cmd, const ServiceKind& kind, ServiceFlags* flags);

// What a service has once its configuration checked out: addresses, token,
// Kafka and Cassandra settings, the store (schema checked, not migrated: that
// is `dts migrate`'s), the topics (created when missing) and an idempotent
// producer whose errors are logged.
struct ServiceSetup {
  Settings settings;
  std::string grpc_addr;
  std::string http_addr;
  AuthSettings auth;
  ServerTls tls;
  messaging::KafkaConfig kafka;
  int shards = 64;
  storage::CassandraConfig cassandra;
  std::unique_ptr<storage::CassandraStore> store;
  std::unique_ptr<messaging::KafkaProducer> producer;
};

// INVALID_ARGUMENT (a usage error) for bad flags or settings; UNAVAILABLE
// and others when Kafka or Cassandra cannot be used. For StartupFailure().
absl::StatusOr<ServiceSetup> SetUpService(const ServiceKind& kind, const ServiceFlags& flags);

// Logs the error (component `name`): the error callback of the parts a
// service wires together.
std::function<void(const absl::Status&)> LogTo(absl::string_view name);

// Serves `apis` on the setup's listeners until SIGINT/SIGTERM (Serve());
// `instance` names this process in the ready line.
// Readiness is storage and Kafka reachable, and whatever `more` adds.
int ServeService(const ServiceKind& kind, const ServiceFlags& flags, const ServiceSetup& setup,
                 absl::string_view instance, const FrontApis& apis, const sigset_t& signals,
                 cli::Context& ctx, std::vector<ReadinessCheck> more = {});

}  // namespace dts::app
