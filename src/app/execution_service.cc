// `dts execution-service`: the worker of the distributed mode. Runs the tasks
// the schedulers place on it (cluster::WorkerAgent) and serves the run
// history API (docs/deployment.md, "Execution service").

#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "app/front.h"
#include "app/services.h"
#include "cli/job_flags.h"
#include "dts/api/services.h"
#include "dts/cluster/job_publisher.h"
#include "dts/cluster/worker_agent.h"
#include "dts/common/id_generator.h"
#include "dts/execution/executor.h"
#include "dts/execution/resources.h"
#include "dts/messaging/run_publisher.h"

namespace dts::app {
namespace {

constexpr ServiceKind kExecutionService{.name = "dts execution-service",
                                        .grpc_port_variable = "EXECUTION_SERVICE_GRPC_PORT",
                                        .grpc_port = 50056,
                                        .http_port_variable = "EXECUTION_SERVICE_HTTP_PORT",
                                        .http_port = 8082};

struct ExecutionFlags {
  ServiceFlags service;
  std::string worker_id;  // empty: <hostname>-<http port>
  // This worker's capacity; unset: what this machine has.
  std::optional<int64_t> worker_cpu;
  std::optional<int64_t> worker_memory;
  std::optional<int64_t> worker_storage;
  std::vector<std::string> worker_labels;  // k=v
  std::string data_dir = "./dts-worker-data";
  int heartbeat_interval_ms = 1000;
  int drain_timeout_seconds = 30;
};

std::string DefaultWorkerId(const std::string& http_addr) {
  char host[256] = {};
  if (gethostname(host, sizeof(host) - 1) != 0) host[0] = '\0';
  const size_t colon = http_addr.rfind(':');
  return absl::StrCat(host[0] ? host : "worker", "-",
                      colon == std::string::npos ? http_addr : http_addr.substr(colon + 1));
}

// Labels, capacity and the data directory, checked before anything connects.
absl::StatusOr<cluster::WorkerAgent::Options> LocalWorkerOptions(const ExecutionFlags& flags) {
  cluster::WorkerAgent::Options options;
  absl::StatusOr<std::map<std::string, std::string>> labels =
      cli::ParseKeyValues("--worker-label", flags.worker_labels);
  if (!labels.ok()) return labels.status();
  options.labels = *std::move(labels);
  std::error_code error;
  std::filesystem::create_directories(flags.data_dir, error);
  if (error) {
    return absl::FailedPreconditionError(
        absl::StrCat("--data-dir: cannot create ", flags.data_dir, ": ", error.message()));
  }
  absl::StatusOr<execution::Capacity> machine = execution::DetectMachineCapacity(flags.data_dir);
  if (!machine.ok()) return machine.status();
  options.capacity = {.cpu_millis = flags.worker_cpu.value_or(machine->cpu_millicores),
                      .memory_mib = flags.worker_memory.value_or(machine->memory_mib),
                      .storage_mib = flags.worker_storage.value_or(machine->storage_mib)};
  options.heartbeat_interval = absl::Milliseconds(flags.heartbeat_interval_ms);
  options.drain_timeout = absl::Seconds(flags.drain_timeout_seconds);
  return options;
}

int RunExecutionService(const ExecutionFlags& flags, cli::Context& ctx) {
  const std::string name(kExecutionService.name);
  const sigset_t signals = BlockShutdownSignals();
  absl::StatusOr<cluster::WorkerAgent::Options> agent_options = LocalWorkerOptions(flags);
  if (!agent_options.ok()) return StartupFailure(ctx, name, agent_options.status());
  absl::StatusOr<ServiceSetup> setup = SetUpService(kExecutionService, flags.service, ctx);
  if (!setup.ok()) return StartupFailure(ctx, name, setup.status());

  absl::StatusOr<std::string> absolute_dir = AbsolutePath("--data-dir", flags.data_dir);
  if (!absolute_dir.ok()) return StartupFailure(ctx, name, absolute_dir.status());
  const std::filesystem::path data_dir(*absolute_dir);
  execution::ExecutorOptions executor_options;
  executor_options.scratch_root = (data_dir / "scratch").string();
  // Kills, at startup, the process groups of commands a crashed worker left.
  executor_options.group_record_dir = (data_dir / "process-groups").string();
  executor_options.kafka_publish = messaging::MakeKafkaPublish(setup->producer.get());
  absl::StatusOr<std::unique_ptr<execution::Executor>> executor =
      execution::CreateLocalExecutor(ctx.clock, executor_options);
  if (!executor.ok()) return StartupFailure(ctx, name, executor.status());

  agent_options->worker_id =
      WorkerId(flags.worker_id.empty() ? DefaultWorkerId(setup->http_addr) : flags.worker_id);
  agent_options->http_address = setup->http_addr;
  agent_options->on_error = [&ctx, name](const absl::Status& s) {
    *ctx.err << name << ": " << s.message() << "\n";
  };
  const std::string worker_id = agent_options->worker_id.value();
  absl::StatusOr<std::unique_ptr<cluster::WorkerAgent>> agent = cluster::WorkerAgent::Create(
      setup->kafka, setup->shards, setup->store.get(), executor->get(), setup->producer.get(),
      ctx.clock, *std::move(agent_options));
  if (!agent.ok()) {
    (*executor)->Shutdown();
    return StartupFailure(ctx, name, agent.status());
  }

  // The run history, and the job routes as the job service has them (the
  // front serves all three APIs).
  cluster::JobPublisher publisher(
      setup->producer.get(), {.shards = setup->shards, .on_error = [&ctx, name](const absl::Status& s) {
                                *ctx.err << name << ": " << s.message() << "\n";
                              }});
  RandomIdGenerator ids;
  api::JobApi jobs(setup->store.get(), ctx.clock, &ids, &publisher);
  api::SchedulerApi scheduler(&jobs);
  api::ExecutionApi executions(setup->store.get());
  FrontOptions front{.name = name,
                     .grpc_addr = setup->grpc_addr,
                     .http_addr = setup->http_addr,
                     .http_threads = flags.service.http_threads,
                     .ready_file = flags.service.ready_file,
                     .token = setup->token,
                     .ready_detail = absl::StrCat("id=", worker_id, " kafka=", setup->kafka.brokers,
                                                  " cassandra=", setup->cassandra.hosts, "/",
                                                  setup->cassandra.keyspace)};
  const int code = Serve(front, {&jobs, &scheduler, &executions}, signals, ctx.clock, ctx);
  // SIGTERM: drain (running runs finish or fail over), then stop.
  *ctx.out << name << ": draining (up to " << flags.drain_timeout_seconds << "s)" << std::endl;
  (*agent)->Shutdown();
  (*executor)->Shutdown();
  setup->producer->Close();
  *ctx.out << name << ": stopped" << std::endl;
  return code;
}

}  // namespace

void AddExecutionService(CLI::App& app, cli::Context& ctx) {
  auto flags = std::make_shared<ExecutionFlags>();
  CLI::App* cmd = app.add_subcommand(
      "execution-service",
      "Distributed mode: a worker; claims the runs placed on it, runs them, records the outcome");
  AddServiceFlags(*cmd, kExecutionService, &flags->service);
  cmd->add_option("--worker-id", flags->worker_id,
                  "This worker's id in heartbeats and runs (default <hostname>-<http port>)");
  cmd->add_option("--worker-cpu", flags->worker_cpu,
                  "CPU capacity in millicores (default: cores x 1000)")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 30));
  cmd->add_option("--worker-memory", flags->worker_memory,
                  "Memory capacity in MiB (default: total memory)")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 30));
  cmd->add_option("--worker-storage", flags->worker_storage,
                  "Storage capacity in MiB (default: free space under --data-dir)")
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 30));
  cmd->add_option("--worker-label", flags->worker_labels, "Label key=value (repeatable)");
  cmd->add_option("--data-dir", flags->data_dir,
                  "Scratch directories of runs and records of their process groups")
      ->capture_default_str();
  cmd->add_option("--heartbeat-interval-ms", flags->heartbeat_interval_ms,
                  "Milliseconds between heartbeats (also sent at once on a change)")
      ->check(CLI::Range(50, 60'000))
      ->capture_default_str();
  cmd->add_option("--drain-timeout", flags->drain_timeout_seconds,
                  "On SIGTERM, seconds running runs may finish before they are stopped and "
                  "recorded FAILED (retried elsewhere by their job's policy)")
      ->check(CLI::Range(0, 86'400))
      ->capture_default_str();
  cmd->callback([flags, &ctx] { ctx.exit_code = RunExecutionService(*flags, ctx); });
}

}  // namespace dts::app
