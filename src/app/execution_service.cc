// `dts execution-service`: the worker of the distributed mode. Runs the tasks
// the schedulers place on it (cluster::WorkerAgent) and serves the run
// history API (docs/deployment.md, "dts execution-service").

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "app/front.h"
#include "app/run_as_flags.h"
#include "app/services.h"
#include "dts/api/services.h"
#include "dts/cluster/job_publisher.h"
#include "dts/cluster/worker_agent.h"
#include "dts/common/id_generator.h"
#include "dts/execution/executor.h"
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
  WorkerFlags worker;     // capacity and labels; unset: this machine's
  RunAsFlags run_as;      // who commands run as
  std::string data_dir = "./dts-worker-data";
  int heartbeat_interval_ms = 1000;
  int drain_timeout_seconds = 30;
};

// Capacity, labels and timings, checked before anything connects.
absl::StatusOr<cluster::WorkerAgent::Options> AgentOptions(const ExecutionFlags& flags) {
  absl::StatusOr<allocator::WorkerSpec> spec =
      ResolveWorkerSpec(WorkerId(flags.worker_id), flags.worker, flags.data_dir);
  if (!spec.ok()) return spec.status();
  cluster::WorkerAgent::Options options;
  options.labels = spec->labels;
  options.capacity = spec->capacity;
  options.heartbeat_interval = absl::Milliseconds(flags.heartbeat_interval_ms);
  options.drain_timeout = absl::Seconds(flags.drain_timeout_seconds);
  return options;
}

int RunExecutionService(const ExecutionFlags& flags, cli::Context& ctx) {
  const std::string name(kExecutionService.name);
  const sigset_t signals = BlockShutdownSignals();
  absl::StatusOr<cluster::WorkerAgent::Options> agent_options = AgentOptions(flags);
  if (!agent_options.ok()) return StartupFailure(ctx, name, agent_options.status());
  // Before anything connects: a bad --run-as is a usage error.
  absl::StatusOr<execution::ExecutorOptions> executor_options = ExecutorOptionsUnder(flags.data_dir);
  if (!executor_options.ok()) return StartupFailure(ctx, name, executor_options.status());
  if (absl::Status s = ApplyRunAs(flags.run_as, name, &*executor_options, *ctx.err); !s.ok()) {
    return StartupFailure(ctx, name, s);
  }
  absl::StatusOr<ServiceSetup> setup = SetUpService(kExecutionService, flags.service);
  if (!setup.ok()) return StartupFailure(ctx, name, setup.status());

  executor_options->kafka_publish = messaging::MakeKafkaPublish(setup->producer.get());
  absl::StatusOr<std::unique_ptr<execution::Executor>> executor =
      execution::CreateLocalExecutor(ctx.clock, *executor_options);
  if (!executor.ok()) return StartupFailure(ctx, name, executor.status());

  agent_options->worker_id =
      WorkerId(flags.worker_id.empty() ? DefaultInstanceId(setup->http_addr) : flags.worker_id);
  agent_options->http_address = setup->http_addr;
  agent_options->on_error = LogTo(name);
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
  cluster::JobPublisher publisher(setup->producer.get(),
                                 {.shards = setup->shards, .on_error = LogTo(name)});
  RandomIdGenerator ids;
  api::JobApi jobs(setup->store.get(), ctx.clock, &ids, &publisher);
  api::SchedulerApi scheduler(&jobs);
  api::ExecutionApi executions(setup->store.get());
  const int code = ServeService(kExecutionService, flags.service, *setup, worker_id,
                                {&jobs, &scheduler, &executions}, signals, ctx);
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
  AddWorkerFlags(*cmd, &flags->worker);
  AddRunAsFlags(*cmd, &flags->run_as);
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
