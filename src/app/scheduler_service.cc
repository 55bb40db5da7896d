// `dts scheduler-service`: owns shards through the Kafka consumer group,
// fires their jobs, and places runs on the execution services
// (docs/deployment.md).

#include <memory>
#include <string>
#include <thread>

#include "absl/cleanup/cleanup.h"
#include "absl/random/random.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "app/front.h"
#include "app/services.h"
#include "dts/api/services.h"
#include "dts/cluster/job_publisher.h"
#include "dts/cluster/shard_owner.h"
#include "dts/cluster/worker_fleet.h"
#include "dts/common/id_generator.h"
#include "dts/messaging/admin.h"
#include "dts/messaging/consumer.h"
#include "dts/scheduler/engine.h"
#include "dts/scheduler/placement.h"
#include "dts/scheduler/run_recorder.h"

namespace dts::app {
namespace {

constexpr ServiceKind kSchedulerService{.name = "dts scheduler-service",
                                        .grpc_port_variable = "SCHEDULER_SERVICE_GRPC_PORT",
                                        .grpc_port = 50052,
                                        .http_port_variable = "SCHEDULER_SERVICE_HTTP_PORT",
                                        .http_port = 8081};

// The consumer group of every scheduler instance: its partitions are the
// shards.
constexpr char kSchedulerGroup[] = "dts-schedulers";

struct SchedulerFlags {
  ServiceFlags service;
  std::string scheduler_id;  // empty: <hostname>-<http port>
  int worker_timeout_seconds = 10;
  PlacementFlags placement;
  int session_timeout_ms = 6000;
};

// The Cassandra store as the cluster module's narrow interfaces.
class ClusterStore final : public cluster::ShardStore, public cluster::FleetStore {
 public:
  explicit ClusterStore(storage::CassandraStore* store) : store_(store) {}
  absl::StatusOr<std::vector<Job>> ListJobsOfShard(int shard) override {
    return store_->ListJobsOfShard(shard);
  }
  absl::StatusOr<Job> GetJob(const JobId& id) override { return store_->GetJob(id); }
  absl::StatusOr<Run> GetRun(const RunId& id) override { return store_->GetRun(id); }
  absl::Status SaveShardCheckpoint(int shard, absl::Time fired_through,
                                   const std::string& owner) override {
    return store_->SaveShardCheckpoint(shard, fired_through, owner);
  }
  absl::StatusOr<bool> TransitionRun(const Run& next, absl::string_view from) override {
    return store_->TransitionRun(next, from);
  }
  absl::StatusOr<absl::Time> WorkerLastAlive(const WorkerId& worker) override {
    return store_->WorkerLastAlive(worker);
  }

 private:
  storage::CassandraStore* const store_;
};

// Every second: worker timeouts and reconciliation; every 5 s: the shard
// checkpoints. Until `stop` is notified.
void Housekeeping(cluster::WorkerFleet* fleet, cluster::ShardOwner* owner,
                  absl::Notification* stop, const std::string& name, cli::Context& ctx) {
  int tick = 0;
  while (!stop->WaitForNotificationWithTimeout(absl::Seconds(1))) {
    fleet->Tick();
    if (++tick % 5 != 0) continue;
    if (absl::Status s = owner->SaveCheckpoints(); !s.ok()) {
      *ctx.err << name << ": shard checkpoints: " << s.message() << "\n";
    }
  }
}

int RunSchedulerService(const SchedulerFlags& flags, cli::Context& ctx) {
  const std::string name(kSchedulerService.name);
  const sigset_t signals = BlockShutdownSignals();
  absl::StatusOr<ServiceSetup> setup = SetUpService(kSchedulerService, flags.service);
  if (!setup.ok()) return StartupFailure(ctx, name, setup.status());
  absl::StatusOr<std::unique_ptr<allocator::Allocator>> allocator =
      CreateAllocator(flags.placement, ctx.clock);
  if (!allocator.ok()) return StartupFailure(ctx, name, allocator.status());
  const std::string instance_id =
      flags.scheduler_id.empty() ? DefaultInstanceId(setup->http_addr) : flags.scheduler_id;
  storage::CassandraStore* store = setup->store.get();
  ClusterStore cluster_store(store);

  scheduler::RunRecorder recorder(store);
  cluster::WorkerFleet* fleet_ptr = nullptr;
  scheduler::Placement placement(
      allocator->get(), &recorder, ctx.clock,
      {.fixed_workers = false,
       .record_queued = false,
       .on_unknown_worker = [&fleet_ptr](const WorkerId& id) { fleet_ptr->EnsureWorker(id); }});
  cluster::WorkerFleet fleet(&placement, &cluster_store, setup->producer.get(), ctx.clock,
                             {.scheduler_id = instance_id,
                              .worker_timeout = absl::Seconds(flags.worker_timeout_seconds),
                              .reconcile_after = absl::Seconds(5)});
  fleet_ptr = &fleet;
  scheduler::EngineOptions engine_options;
  engine_options.running_runs_died = false;
  engine_options.shards = setup->shards;
  scheduler::Engine engine(store, ctx.clock, &placement, engine_options);
  placement.set_on_finished([&engine](const Run& run) { engine.RunFinished(run); });
  cluster::ShardOwner owner(&cluster_store, &engine, &fleet,
                            {.shards = setup->shards, .owner_id = instance_id});
  engine.Start();

  // Workers first, so that adopted shards' runs find their workers known.
  messaging::ConsumerOptions heartbeats;
  heartbeats.group_id = absl::StrCat("dts-scheduler-", instance_id, "-",
                                     absl::Uniform<uint64_t>(absl::BitGen()));
  heartbeats.topics = {messaging::kHeartbeatsTopic};
  heartbeats.auto_offset_reset = "latest";
  heartbeats.handler = [&fleet](const messaging::ConsumedMessage& message) {
    v1::WorkerHeartbeat heartbeat;
    if (message.value && heartbeat.ParseFromString(*message.value)) fleet.OnHeartbeat(heartbeat);
    return absl::OkStatus();
  };
  absl::StatusOr<std::unique_ptr<messaging::KafkaConsumer>> heartbeat_consumer =
      messaging::KafkaConsumer::Create(setup->kafka, heartbeats, ctx.clock);
  if (!heartbeat_consumer.ok()) return StartupFailure(ctx, name, heartbeat_consumer.status());

  messaging::ConsumerOptions shards;
  shards.group_id = kSchedulerGroup;
  shards.topics = {messaging::kJobsTopic, messaging::kRunsTopic, messaging::kRunEventsTopic};
  // Range assignment: partition s of every topic goes to one member.
  shards.cooperative = false;
  shards.session_timeout = absl::Milliseconds(flags.session_timeout_ms);
  shards.handler = [&owner](const messaging::ConsumedMessage& m) { return owner.OnMessage(m); };
  shards.on_assigned = [&owner](const std::vector<messaging::TopicPartition>& p) {
    owner.OnAssigned(p);
  };
  shards.on_revoked = [&owner](const std::vector<messaging::TopicPartition>& p, bool lost) {
    owner.OnRevoked(p, lost);
  };
  shards.on_error = LogTo(absl::StrCat(name, ": kafka"));
  absl::StatusOr<std::unique_ptr<messaging::KafkaConsumer>> shard_consumer =
      messaging::KafkaConsumer::Create(setup->kafka, shards, ctx.clock);
  if (!shard_consumer.ok()) return StartupFailure(ctx, name, shard_consumer.status());

  absl::Notification stop_housekeeping;
  std::thread housekeeping(Housekeeping, &fleet, &owner, &stop_housekeeping, name, std::ref(ctx));
  // Leave the group first (the others take the shards over at once), then
  // stop firing and placing; runs on workers go on and are followed by the
  // shards' next owners.
  absl::Cleanup stop = [&] {
    owner.Stop();
    (*shard_consumer)->Close();
    (*heartbeat_consumer)->Close();
    stop_housekeeping.Notify();
    housekeeping.join();
    engine.Stop();
    placement.Stop();
    recorder.Stop();
    setup->producer->Close();
  };

  RandomIdGenerator ids;
  cluster::JobPublisher publisher(setup->producer.get(),
                                 {.shards = setup->shards, .on_error = LogTo(name)});
  api::JobApi jobs(store, ctx.clock, &ids, &publisher, &placement);
  api::SchedulerApi scheduler(&jobs, &placement);
  api::ExecutionApi executions(store);
  return ServeService(kSchedulerService, flags.service, *setup, instance_id,
                      {&jobs, &scheduler, &executions}, signals, ctx,
                      {{"shards", [&owner] {
                          return owner.assigned() ? absl::OkStatus()
                                                  : absl::UnavailableError(
                                                        "no shard assignment from the Kafka group yet");
                        }}});
}

}  // namespace

void AddSchedulerService(CLI::App& app, cli::Context& ctx) {
  auto flags = std::make_shared<SchedulerFlags>();
  CLI::App* cmd = app.add_subcommand(
      "scheduler-service",
      "Distributed mode: owns shards of the jobs (Kafka group), fires them, places runs on workers");
  AddServiceFlags(*cmd, kSchedulerService, &flags->service);
  cmd->add_option("--scheduler-id", flags->scheduler_id,
                  "This instance's id in checkpoints and tasks (default <hostname>-<http port>)");
  cmd->add_option("--worker-timeout", flags->worker_timeout_seconds,
                  "Seconds without a heartbeat after which a worker is DOWN and its runs fail over")
      ->check(CLI::Range(2, 3600))
      ->capture_default_str();
  AddPlacementFlags(*cmd, &flags->placement);
  cmd->add_option("--session-timeout-ms", flags->session_timeout_ms,
                  "Kafka group session timeout: how soon a dead instance's shards move")
      ->check(CLI::Range(1000, 300'000))
      ->capture_default_str();
  cmd->callback([flags, &ctx] { ctx.exit_code = RunSchedulerService(*flags, ctx); });
}

}  // namespace dts::app
