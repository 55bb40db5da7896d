// Placement between the engine and a fake worker, with the real allocator,
// a manual clock and a real SQLite store behind the recorder.

#include "dts/scheduler/placement.h"

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "dts/model/time_convert.h"
#include "dts/storage/sqlite_store.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "storage/sqlite/sqlite_test_util.h"

namespace dts::scheduler {
namespace {

using storage::sqlite_testing::ScopedTempDir;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

const absl::Time kStart = absl::FromUnixSeconds(1767225600);

std::string IdOf(int i) { return absl::StrCat("00000000-0000-4000-8000-", 100000000000 + i); }

// Keeps what it was asked to start; the test ends runs when it likes.
class FakeWorker final : public scheduler::Worker {
 public:
  explicit FakeWorker(std::string id) : id_(std::move(id)) {}
  const WorkerId& id() const override { return id_; }
  void Start(std::shared_ptr<const Job>, dts::Run run, const allocator::Resources& grant,
             RunEnded ended) override {
    absl::MutexLock lock(&mu_);
    const std::string id = run.id();
    started_.push_back(id);
    grants_[id] = grant;
    runs_[id] = Entry{std::move(run), std::move(ended)};
  }
  void Cancel(const RunId& run) override {
    absl::MutexLock lock(&mu_);
    cancelled_.push_back(run.value());
  }
  v1::Enforcement enforcement() const override {
    v1::Enforcement e;
    e.set_memory("rlimit");
    return e;
  }
  // Ends a started run with `status`.
  void End(const std::string& id, RunStatus status) {
    Entry entry;
    {
      absl::MutexLock lock(&mu_);
      entry = std::move(runs_.at(id));
      runs_.erase(id);
    }
    entry.run.set_status(std::string(RunStatusName(status)));
    std::move(entry.ended)(entry.run);
  }
  std::vector<std::string> started() {
    absl::MutexLock lock(&mu_);
    return started_;
  }
  std::vector<std::string> cancelled() {
    absl::MutexLock lock(&mu_);
    return cancelled_;
  }
  allocator::Resources grant(const std::string& id) {
    absl::MutexLock lock(&mu_);
    return grants_.at(id);
  }

 private:
  struct Entry {
    dts::Run run;
    RunEnded ended;
  };
  const WorkerId id_;
  absl::Mutex mu_;
  std::vector<std::string> started_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> cancelled_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, allocator::Resources> grants_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, Entry> runs_ ABSL_GUARDED_BY(mu_);
};

class PlacementTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<storage::SqliteStore>> store = storage::SqliteStore::Open(dir_.path());
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
    recorder_ = std::make_unique<RunRecorder>(store_.get());
    absl::StatusOr<std::unique_ptr<allocator::Allocator>> allocator =
        allocator::Allocator::Create({}, &clock_);
    ASSERT_TRUE(allocator.ok()) << allocator.status();
    allocator_ = *std::move(allocator);
    placement_ = std::make_unique<Placement>(allocator_.get(), recorder_.get(), &clock_,
                                             Placement::Options{});
    placement_->set_on_finished([this](const dts::Run& run) {
      absl::MutexLock lock(&mu_);
      finished_.push_back(run.id() + "=" + run.status());
    });
    allocator::WorkerSpec spec{WorkerId("w1"), {{"zone", "a"}}, {2000, 4096, 1024}};
    ASSERT_TRUE(placement_->AddWorker(&worker_, spec).ok());
  }
  void TearDown() override { recorder_->Stop(); }

  std::shared_ptr<const Job> JobWith(int cpu, int priority = 0) {
    auto job = std::make_shared<Job>();
    job->set_id(IdOf(0));
    job->set_priority(priority);
    job->mutable_resources()->set_cpu(cpu);
    job->mutable_resources()->set_memory(64);
    job->mutable_executor()->mutable_command()->add_argv("true");
    return job;
  }
  // A PENDING run, stored as the engine stores it, then dispatched.
  void Dispatch(int i, std::shared_ptr<const Job> job) {
    dts::Run run;
    run.set_id(IdOf(i));
    run.set_job_id(job->id());
    run.set_status("PENDING");
    *run.mutable_scheduled_time() = ToProto(kStart + absl::Seconds(i));
    *run.mutable_created_at() = ToProto(clock_.Now());
    ASSERT_TRUE(store_->CreateRun(run).ok());
    placement_->Dispatch(std::move(job), run);
  }
  dts::Run Stored(int i) {
    recorder_->Flush();
    return store_->GetRun(RunId(IdOf(i))).value();
  }
  std::vector<std::string> finished() {
    recorder_->Flush();
    absl::MutexLock lock(&mu_);
    return finished_;
  }

  ScopedTempDir dir_;
  ManualClock clock_{kStart};
  std::unique_ptr<storage::SqliteStore> store_;
  std::unique_ptr<RunRecorder> recorder_;
  std::unique_ptr<allocator::Allocator> allocator_;
  FakeWorker worker_{"w1"};
  std::unique_ptr<Placement> placement_;
  absl::Mutex mu_;
  std::vector<std::string> finished_ ABSL_GUARDED_BY(mu_);
};

TEST_F(PlacementTest, RunThatFitsStartsAtOnceWithItsGrant) {
  Dispatch(1, JobWith(500));
  EXPECT_THAT(worker_.started(), ElementsAre(IdOf(1)));
  EXPECT_EQ(worker_.grant(IdOf(1)), (allocator::Resources{500, 64, 0}));
  std::vector<v1::WorkerResponse> workers = placement_->Workers();
  ASSERT_EQ(workers.size(), 1u);
  EXPECT_EQ(workers[0].allocated().cpu(), 500);
  EXPECT_EQ(workers[0].free().cpu(), 1500);
  EXPECT_THAT(workers[0].running_runs(), ElementsAre(IdOf(1)));
  EXPECT_EQ(workers[0].enforcement().memory(), "rlimit");
}

TEST_F(PlacementTest, RunThatDoesNotFitIsQueuedThenStartsWhenRoomIsFreed) {
  Dispatch(1, JobWith(1000));
  Dispatch(2, JobWith(1000));
  Dispatch(3, JobWith(1000));
  EXPECT_THAT(worker_.started(), ElementsAre(IdOf(1), IdOf(2)));
  dts::Run queued = Stored(3);
  EXPECT_EQ(queued.status(), "QUEUED");
  EXPECT_THAT(queued.queue_reason(), HasSubstr("waiting"));
  std::vector<v1::QueuedRun> queue = placement_->Queue();
  ASSERT_EQ(queue.size(), 1u);
  EXPECT_EQ(queue[0].run_id(), IdOf(3));
  EXPECT_FALSE(queue[0].reason().empty());

  worker_.End(IdOf(1), RunStatus::kCompleted);
  EXPECT_THAT(worker_.started(), ElementsAre(IdOf(1), IdOf(2), IdOf(3)));
  EXPECT_THAT(placement_->Queue(), IsEmpty());
  EXPECT_THAT(finished(), ElementsAre(IdOf(1) + "=COMPLETED"));
}

TEST_F(PlacementTest, EveryWayARunEndsFreesItsAllocation) {
  int next = 1;
  for (RunStatus end : {RunStatus::kCompleted, RunStatus::kFailed, RunStatus::kTimedOut,
                        RunStatus::kCancelled}) {
    const int first = next++, second = next++;
    Dispatch(first, JobWith(2000));
    Dispatch(second, JobWith(2000));
    ASSERT_EQ(placement_->Queue().size(), 1u);
    worker_.End(IdOf(first), end);
    EXPECT_THAT(placement_->Queue(), IsEmpty()) << RunStatusName(end);
    worker_.End(IdOf(second), end);
    EXPECT_EQ(placement_->Workers()[0].allocated().cpu(), 0) << RunStatusName(end);
  }
}

TEST_F(PlacementTest, RedeliveredDispatchNeverStartsARunTwice) {
  Dispatch(1, JobWith(1500));
  Dispatch(2, JobWith(1500));  // queued
  dts::Run again1 = Stored(1);
  dts::Run again2 = Stored(2);
  placement_->Dispatch(JobWith(1500), again1);
  placement_->Dispatch(JobWith(1500), again2);
  EXPECT_THAT(worker_.started(), ElementsAre(IdOf(1)));
  worker_.End(IdOf(1), RunStatus::kCompleted);
  EXPECT_THAT(worker_.started(), ElementsAre(IdOf(1), IdOf(2)));
}

TEST_F(PlacementTest, BatchStartsInOrderQueuesWhatDoesNotFitAndIgnoresARedelivery) {
  std::vector<JobRun> batch;
  for (int i = 1; i <= 3; ++i) {
    dts::Run run;
    run.set_id(IdOf(i));
    run.set_job_id(IdOf(0));
    run.set_status("PENDING");
    *run.mutable_scheduled_time() = ToProto(kStart);
    ASSERT_TRUE(store_->CreateRun(run).ok());
    batch.push_back({JobWith(800), run});
  }
  std::vector<JobRun> again = batch;
  placement_->DispatchAll(std::move(batch));
  // 2000m of cpu: two 800m runs fit, the third waits.
  EXPECT_THAT(worker_.started(), ElementsAre(IdOf(1), IdOf(2)));
  EXPECT_EQ(Stored(3).status(), "QUEUED");
  placement_->DispatchAll(std::move(again));  // redelivered: nothing starts twice
  EXPECT_THAT(worker_.started(), ElementsAre(IdOf(1), IdOf(2)));
  worker_.End(IdOf(1), RunStatus::kCompleted);
  EXPECT_THAT(worker_.started(), ElementsAre(IdOf(1), IdOf(2), IdOf(3)));
}

TEST_F(PlacementTest, CancelOfAQueuedRunEndsItWithoutStartingIt) {
  Dispatch(1, JobWith(2000));
  Dispatch(2, JobWith(1000));
  placement_->Cancel(RunId(IdOf(2)));
  EXPECT_EQ(Stored(2).status(), "CANCELLED");
  EXPECT_THAT(finished(), ElementsAre(IdOf(2) + "=CANCELLED"));
  worker_.End(IdOf(1), RunStatus::kCompleted);
  EXPECT_THAT(worker_.started(), ElementsAre(IdOf(1)));
  EXPECT_THAT(worker_.cancelled(), IsEmpty());
}

TEST_F(PlacementTest, JobWithoutExecutorHoldsNothingAndNeverWaits) {
  Dispatch(1, JobWith(2000));
  auto timer = std::make_shared<Job>(*JobWith(2000));
  timer->clear_executor();
  Dispatch(2, timer);
  EXPECT_THAT(worker_.started(), ElementsAre(IdOf(1), IdOf(2)));
  EXPECT_EQ(worker_.grant(IdOf(2)), (allocator::Resources{0, 0, 0}));
}

TEST_F(PlacementTest, CancelOfAStartedRunGoesToItsWorker) {
  Dispatch(1, JobWith(100));
  placement_->Cancel(RunId(IdOf(1)));
  EXPECT_THAT(worker_.cancelled(), ElementsAre(IdOf(1)));
}

TEST_F(PlacementTest, HigherPriorityRunsLeaveTheQueueFirst) {
  Dispatch(1, JobWith(2000));
  Dispatch(2, JobWith(2000, /*priority=*/1));
  Dispatch(3, JobWith(2000, /*priority=*/9));
  worker_.End(IdOf(1), RunStatus::kCompleted);
  EXPECT_THAT(worker_.started(), ElementsAre(IdOf(1), IdOf(3)));
}

TEST_F(PlacementTest, OversizedJobIsRefusedNamingTheLargestWorker) {
  Job job = *JobWith(4000);
  absl::Status s = placement_->CheckPlaceable(job);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("resources"));
  EXPECT_THAT(s.message(), HasSubstr("2000"));
  EXPECT_TRUE(placement_->CheckPlaceable(*JobWith(2000)).ok());
  Job constrained = *JobWith(100);
  (*constrained.mutable_constraints())["zone"] = "b";
  EXPECT_EQ(placement_->CheckPlaceable(constrained).code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(PlacementTest, AfterStopNothingStartsAndRunsStayRecoverable) {
  Dispatch(1, JobWith(2000));
  Dispatch(2, JobWith(2000));  // queued
  placement_->Stop();
  Dispatch(3, JobWith(100));
  worker_.End(IdOf(1), RunStatus::kCompleted);
  EXPECT_THAT(worker_.started(), ElementsAre(IdOf(1)));
  EXPECT_EQ(Stored(2).status(), "QUEUED");
  EXPECT_EQ(Stored(3).status(), "PENDING");
}

}  // namespace
}  // namespace dts::scheduler
