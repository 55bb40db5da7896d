// WorkerFleet with a real Placement and Allocator, a fake producer and fake
// run records, on a manual clock: registration by heartbeat, tasks on the
// worker's partitions, ends from run events, capacity net of other
// schedulers' runs, and failover of a silent or restarted worker's runs.

#include "dts/cluster/worker_fleet.h"

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "cluster/fake_producer.h"
#include "dts/common/clock.h"
#include "dts/messaging/admin.h"
#include "dts/model/time_convert.h"
#include "dts/storage/sqlite_store.h"
#include "gtest/gtest.h"
#include "storage/sqlite/sqlite_test_util.h"

namespace dts::cluster {
namespace {

const absl::Time kStart = absl::FromUnixSeconds(1767225600);

class FakeRuns final : public FleetStore {
 public:
  void Put(const dts::Run& run) {
    absl::MutexLock lock(&mu_);
    runs_[run.id()] = run;
  }
  std::optional<dts::Run> Get(const std::string& id) {
    absl::MutexLock lock(&mu_);
    auto it = runs_.find(id);
    return it == runs_.end() ? std::nullopt : std::optional<dts::Run>(it->second);
  }
  absl::StatusOr<dts::Run> GetRun(const RunId& id) override {
    absl::MutexLock lock(&mu_);
    auto it = runs_.find(id.value());
    if (it == runs_.end()) return absl::NotFoundError("no run");
    return it->second;
  }
  void SetAlive(const std::string& worker, absl::Time at) {
    absl::MutexLock lock(&mu_);
    alive_[worker] = at;
  }
  absl::StatusOr<absl::Time> WorkerLastAlive(const WorkerId& worker) override {
    absl::MutexLock lock(&mu_);
    auto it = alive_.find(worker.value());
    if (it == alive_.end()) return absl::NotFoundError("never");
    return it->second;
  }
  absl::StatusOr<bool> TransitionRun(const dts::Run& next, absl::string_view from) override {
    absl::MutexLock lock(&mu_);
    auto it = runs_.find(next.id());
    if (it == runs_.end()) return absl::NotFoundError("no run");
    if (it->second.status() != from) return false;
    it->second = next;
    return true;
  }

 private:
  absl::Mutex mu_;
  std::map<std::string, dts::Run> runs_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, absl::Time> alive_ ABSL_GUARDED_BY(mu_);
};

class WorkerFleetTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<storage::SqliteStore>> store =
        storage::SqliteStore::Open(dir_.path());
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
    recorder_ = std::make_unique<scheduler::RunRecorder>(store_.get());
    absl::StatusOr<std::unique_ptr<allocator::Allocator>> allocator =
        allocator::Allocator::Create({}, &clock_);
    ASSERT_TRUE(allocator.ok()) << allocator.status();
    allocator_ = *std::move(allocator);
    placement_ = std::make_unique<scheduler::Placement>(
        allocator_.get(), recorder_.get(), &clock_,
        scheduler::Placement::Options{.fixed_workers = false,
                                      .record_queued = false,
                                      .on_unknown_worker = [this](const WorkerId& id) {
                                        fleet_->EnsureWorker(id);
                                      }});
    placement_->set_on_finished([this](const dts::Run& run) {
      absl::MutexLock lock(&mu_);
      finished_.push_back(run);
    });
    fleet_ = std::make_unique<WorkerFleet>(
        placement_.get(), &runs_, &producer_, &clock_,
        WorkerFleet::Options{.scheduler_id = "s1",
                             .worker_timeout = absl::Seconds(10),
                             .reconcile_after = absl::Seconds(5)});
  }
  void TearDown() override { recorder_->Stop(); }

  v1::WorkerHeartbeat Heartbeat(const std::string& worker, std::vector<int32_t> partitions,
                                int cpu = 4000, const std::string& incarnation = "i1") {
    v1::WorkerHeartbeat hb;
    hb.set_worker_id(worker);
    hb.set_incarnation(incarnation);
    hb.set_state("READY");
    hb.mutable_capacity()->set_cpu(cpu);
    hb.mutable_capacity()->set_memory(8192);
    for (int32_t p : partitions) hb.add_task_partitions(p);
    return hb;
  }

  std::shared_ptr<const Job> CommandJob() {
    auto job = std::make_shared<Job>();
    job->set_id("job-1");
    job->set_max_retries(0);
    job->mutable_resources()->set_cpu(500);
    job->mutable_resources()->set_memory(64);
    job->mutable_executor()->mutable_command()->add_argv("true");
    return job;
  }

  // A PENDING run as the engine records it, dispatched to the placement.
  dts::Run Dispatch(const std::string& id) {
    dts::Run run;
    run.set_id(id);
    run.set_job_id("job-1");
    run.set_status("PENDING");
    run.set_attempt(1);
    *run.mutable_scheduled_time() = ToProto(kStart);
    *run.mutable_created_at() = ToProto(clock_.Now());
    EXPECT_TRUE(store_->CreateRun(run).ok());
    runs_.Put(run);
    placement_->Dispatch(CommandJob(), run);
    return run;
  }

  std::vector<v1::TaskMessage> Tasks() {
    std::vector<v1::TaskMessage> out;
    for (const messaging::OutgoingMessage& m : producer_.sent) {
      EXPECT_EQ(m.topic, messaging::kTasksTopic);
      v1::TaskMessage task;
      EXPECT_TRUE(task.ParseFromString(m.value.value_or("")));
      out.push_back(task);
    }
    return out;
  }

  std::vector<dts::Run> Finished() {
    recorder_->Flush();
    absl::MutexLock lock(&mu_);
    return finished_;
  }

  std::optional<v1::WorkerResponse> WorkerView(const std::string& id) {
    return placement_->Worker(WorkerId(id));
  }

  storage::sqlite_testing::ScopedTempDir dir_;
  ManualClock clock_{kStart};
  std::unique_ptr<storage::SqliteStore> store_;
  std::unique_ptr<scheduler::RunRecorder> recorder_;
  std::unique_ptr<allocator::Allocator> allocator_;
  std::unique_ptr<scheduler::Placement> placement_;
  FakeRuns runs_;
  FakeProducer producer_;
  std::unique_ptr<WorkerFleet> fleet_;
  absl::Mutex mu_;
  std::vector<dts::Run> finished_ ABSL_GUARDED_BY(mu_);
};

TEST_F(WorkerFleetTest, AHeartbeatRegistersTheWorkerAndItsRunsGoToItsPartitions) {
  fleet_->OnHeartbeat(Heartbeat("w1", {3, 7}));
  ASSERT_TRUE(WorkerView("w1").has_value());
  EXPECT_EQ(WorkerView("w1")->state(), "READY");
  Dispatch("run-1");
  ASSERT_EQ(producer_.sent.size(), 1u);
  const int32_t partition = producer_.sent[0].partition.value_or(-1);
  EXPECT_TRUE(partition == 3 || partition == 7) << partition;
  EXPECT_EQ(producer_.sent[0].key.value_or(""), "run-1");
  const v1::TaskMessage task = Tasks()[0];
  EXPECT_EQ(task.kind(), v1::TaskMessage::START);
  EXPECT_EQ(task.run().worker_id(), "w1");
  EXPECT_EQ(task.run().status(), "PENDING");  // what the worker's claim starts from
  EXPECT_EQ(task.run().resources().cpu(), 500);
  EXPECT_EQ(task.job().executor().command().argv(0), "true");
  EXPECT_EQ(task.scheduler_id(), "s1");
  EXPECT_EQ(fleet_->followed_runs(), 1u);
}

TEST_F(WorkerFleetTest, AWorkerWithoutPartitionsTakesNoRuns) {
  fleet_->OnHeartbeat(Heartbeat("w1", {}));
  EXPECT_EQ(WorkerView("w1")->state(), "DRAINING");
  Dispatch("run-1");
  EXPECT_TRUE(producer_.sent.empty());
  EXPECT_EQ(placement_->Queue().size(), 1u);
  // Waiting, but PENDING in storage: the status a worker's claim starts from.
  recorder_->Flush();
  EXPECT_EQ(store_->GetRun(RunId("run-1"))->status(), "PENDING");
  // Once it has a partition, the waiting run goes to it.
  fleet_->OnHeartbeat(Heartbeat("w1", {0}));
  EXPECT_EQ(producer_.sent.size(), 1u);
}

TEST_F(WorkerFleetTest, TheRunEndedEventEndsTheRunOnceAndFreesItsCapacity) {
  fleet_->OnHeartbeat(Heartbeat("w1", {0}));
  dts::Run run = Dispatch("run-1");
  EXPECT_EQ(WorkerView("w1")->allocated().cpu(), 500);
  run.set_status("COMPLETED");
  EXPECT_TRUE(fleet_->OnRunEnded(run));
  EXPECT_FALSE(fleet_->OnRunEnded(run));  // a redelivered event is not ours any more
  ASSERT_EQ(Finished().size(), 1u);
  EXPECT_EQ(Finished()[0].status(), "COMPLETED");
  EXPECT_EQ(WorkerView("w1")->allocated().cpu(), 0);
}

TEST_F(WorkerFleetTest, RunsOfOtherSchedulersAreNotOursToGive) {
  v1::WorkerHeartbeat hb = Heartbeat("w1", {0}, /*cpu=*/1000);
  v1::HeldRun* other = hb.add_runs();
  other->set_run_id("someone-elses");
  other->mutable_resources()->set_cpu(600);
  fleet_->OnHeartbeat(hb);
  EXPECT_EQ(WorkerView("w1")->capacity().cpu(), 400);
  Dispatch("run-1");  // needs 500: waits
  EXPECT_TRUE(producer_.sent.empty());
  // The other run ended: the capacity is back and the run starts.
  fleet_->OnHeartbeat(Heartbeat("w1", {0}, 1000));
  EXPECT_EQ(producer_.sent.size(), 1u);
}

TEST_F(WorkerFleetTest, ASilentWorkersClaimedRunFailsOverOnce) {
  fleet_->OnHeartbeat(Heartbeat("w1", {0}));
  dts::Run run = Dispatch("run-1");
  run.set_status("RUNNING");
  run.set_worker_id("w1");
  runs_.Put(run);
  clock_.Advance(absl::Seconds(9));
  fleet_->Tick();
  EXPECT_TRUE(Finished().empty());  // not yet timed out
  clock_.Advance(absl::Seconds(2));
  fleet_->Tick();
  EXPECT_EQ(WorkerView("w1")->state(), "DOWN");
  ASSERT_EQ(Finished().size(), 1u);
  EXPECT_EQ(Finished()[0].status(), "FAILED");
  EXPECT_NE(Finished()[0].error().find("w1 stopped heartbeating"), std::string::npos);
  EXPECT_EQ(runs_.Get("run-1")->status(), "FAILED");
  fleet_->Tick();
  EXPECT_EQ(Finished().size(), 1u);
  // The worker's late result cannot land any more.
  dts::Run late = run;
  late.set_status("COMPLETED");
  EXPECT_FALSE(*runs_.TransitionRun(late, "RUNNING"));
}

TEST_F(WorkerFleetTest, AWorkerAliveInStorageIsNotDownWhenKafkaIsSilent) {
  // Kafka is down: no heartbeats, but the worker keeps recording itself
  // alive in Cassandra. Its runs must not be failed over.
  fleet_->OnHeartbeat(Heartbeat("w1", {0}));
  dts::Run run = Dispatch("run-1");
  run.set_status("RUNNING");
  run.set_worker_id("w1");
  runs_.Put(run);
  for (int i = 0; i < 30; ++i) {
    clock_.Advance(absl::Seconds(1));
    runs_.SetAlive("w1", clock_.Now());
    fleet_->Tick();
  }
  EXPECT_EQ(WorkerView("w1")->state(), "READY");
  EXPECT_TRUE(Finished().empty());
  EXPECT_EQ(runs_.Get("run-1")->status(), "RUNNING");
  // Once it stops recording too, it is DOWN.
  clock_.Advance(absl::Seconds(11));
  fleet_->Tick();
  EXPECT_EQ(WorkerView("w1")->state(), "DOWN");
  ASSERT_EQ(Finished().size(), 1u);
  EXPECT_EQ(Finished()[0].status(), "FAILED");
}

TEST_F(WorkerFleetTest, AResultWrittenBeforeTheFailoverWins) {
  fleet_->OnHeartbeat(Heartbeat("w1", {0}));
  dts::Run run = Dispatch("run-1");
  run.set_status("COMPLETED");
  run.set_worker_id("w1");
  runs_.Put(run);  // stored, but its event never came
  clock_.Advance(absl::Seconds(11));
  fleet_->Tick();
  ASSERT_EQ(Finished().size(), 1u);
  EXPECT_EQ(Finished()[0].status(), "COMPLETED");
}

TEST_F(WorkerFleetTest, AnUnclaimedRunOfADownWorkerIsPlacedOnAnother) {
  fleet_->OnHeartbeat(Heartbeat("w1", {0}));
  fleet_->OnHeartbeat(Heartbeat("w2", {1}));
  Dispatch("run-1");
  ASSERT_EQ(Tasks().size(), 1u);
  const std::string first = Tasks()[0].run().worker_id();
  const std::string second = first == "w1" ? "w2" : "w1";
  for (int i = 0; i < 11; ++i) {
    clock_.Advance(absl::Seconds(1));
    fleet_->OnHeartbeat(Heartbeat(second, {second == "w1" ? 0 : 1}));
    fleet_->Tick();
  }
  EXPECT_EQ(WorkerView(first)->state(), "DOWN");
  ASSERT_EQ(Tasks().size(), 2u);
  EXPECT_EQ(Tasks()[1].run().worker_id(), second);
  EXPECT_EQ(Tasks()[1].run().id(), "run-1");
  EXPECT_TRUE(Finished().empty());  // not ended: placed again
  EXPECT_EQ(fleet_->followed_runs(), 1u);
}

TEST_F(WorkerFleetTest, ARestartedWorkerThatLostTheRunFailsItOver) {
  fleet_->OnHeartbeat(Heartbeat("w1", {0}));
  dts::Run run = Dispatch("run-1");
  run.set_status("RUNNING");
  run.set_worker_id("w1");
  runs_.Put(run);
  clock_.Advance(absl::Seconds(1));
  fleet_->OnHeartbeat(Heartbeat("w1", {0}, 4000, /*incarnation=*/"i2"));
  ASSERT_EQ(Finished().size(), 1u);
  EXPECT_EQ(Finished()[0].status(), "FAILED");
  EXPECT_NE(Finished()[0].error().find("no longer has the run"), std::string::npos);
}

TEST_F(WorkerFleetTest, ARunTheWorkerStopsListingIsLookedUp) {
  fleet_->OnHeartbeat(Heartbeat("w1", {0}));
  dts::Run run = Dispatch("run-1");
  // Held while it runs: nothing to look up however long it takes.
  for (int i = 0; i < 8; ++i) {
    clock_.Advance(absl::Seconds(1));
    v1::WorkerHeartbeat hb = Heartbeat("w1", {0});
    hb.add_runs()->set_run_id("run-1");
    fleet_->OnHeartbeat(hb);
    fleet_->Tick();
  }
  EXPECT_TRUE(Finished().empty());
  // It ended and its event was lost: the next heartbeats do not list it.
  run.set_status("COMPLETED");
  runs_.Put(run);
  clock_.Advance(absl::Seconds(1));
  fleet_->OnHeartbeat(Heartbeat("w1", {0}));
  fleet_->Tick();
  ASSERT_EQ(Finished().size(), 1u);
  EXPECT_EQ(Finished()[0].status(), "COMPLETED");
}

TEST_F(WorkerFleetTest, ARunMissingFromATruncatedHeartbeatIsNotLookedUp) {
  fleet_->OnHeartbeat(Heartbeat("w1", {0}));
  dts::Run run = Dispatch("run-1");
  run.set_status("COMPLETED");
  runs_.Put(run);  // would be found ended if it were looked up
  for (int i = 0; i < 8; ++i) {
    clock_.Advance(absl::Seconds(1));
    v1::WorkerHeartbeat hb = Heartbeat("w1", {0});
    hb.set_runs_truncated(true);  // thousands wait there; run-1 may be one
    fleet_->OnHeartbeat(hb);
    fleet_->Tick();
  }
  EXPECT_TRUE(Finished().empty());
  EXPECT_EQ(fleet_->followed_runs(), 1u);
}

TEST_F(WorkerFleetTest, CancelGoesToTheWorkerHoldingTheRun) {
  fleet_->OnHeartbeat(Heartbeat("w1", {4}));
  Dispatch("run-1");
  placement_->Cancel(RunId("run-1"));
  ASSERT_EQ(Tasks().size(), 2u);
  EXPECT_EQ(Tasks()[1].kind(), v1::TaskMessage::CANCEL);
  EXPECT_EQ(Tasks()[1].run().id(), "run-1");
  EXPECT_EQ(producer_.sent[1].partition.value_or(-1), 4);
}

TEST_F(WorkerFleetTest, ARestoredRunOnAnUnknownWorkerFailsOverIfItNeverHeartbeats) {
  dts::Run run;
  run.set_id("run-9");
  run.set_job_id("job-1");
  run.set_status("RUNNING");
  run.set_worker_id("w9");
  run.set_attempt(1);
  runs_.Put(run);
  placement_->Restore(CommandJob(), run);
  EXPECT_EQ(WorkerView("w9")->state(), "DRAINING");
  EXPECT_EQ(fleet_->followed_runs(), 1u);
  clock_.Advance(absl::Seconds(11));
  fleet_->Tick();
  ASSERT_EQ(Finished().size(), 1u);
  EXPECT_EQ(Finished()[0].status(), "FAILED");
}

}  // namespace
}  // namespace dts::cluster
