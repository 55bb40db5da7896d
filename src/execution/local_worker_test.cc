// LocalWorker over a real SQLite store: a batch of runs without an executor
// is completed at once, each stamped when the worker reaches it, each stored
// and reported exactly once; a run with work in the same batch still starts
// only after its RUNNING record.

#include "dts/execution/local_worker.h"

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "dts/common/clock.h"
#include "dts/execution/executor.h"
#include "dts/model/job.h"
#include "dts/model/time_convert.h"
#include "dts/scheduler/run_recorder.h"
#include "dts/storage/sqlite_store.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "storage/sqlite/sqlite_test_util.h"

namespace dts::execution {
namespace {

using ::testing::UnorderedElementsAreArray;

const absl::Time kStart = absl::FromUnixSeconds(1767225600);

std::string IdOf(int i) { return absl::StrCat("00000000-0000-4000-8000-", 100000000000 + i); }

// A clock that moves one millisecond each time it is read, so each stamp
// says when it was taken.
class TickingClock final : public Clock {
 public:
  absl::Time Now() const override {
    absl::MutexLock lock(&mu_);
    now_ += absl::Milliseconds(1);
    return now_;
  }

 private:
  mutable absl::Mutex mu_;
  mutable absl::Time now_ ABSL_GUARDED_BY(mu_) = kStart;
};

class LocalWorkerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = storage::SqliteStore::Open(dir_.path());
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
    recorder_ = std::make_unique<scheduler::RunRecorder>(store_.get());
    auto executor = CreateLocalExecutor(&clock_, {});
    ASSERT_TRUE(executor.ok()) << executor.status();
    executor_ = *std::move(executor);
    worker_ = std::make_unique<LocalWorker>(WorkerId("local"), executor_.get(), recorder_.get(), &clock_);
  }
  void TearDown() override {
    executor_->Shutdown();
    recorder_->Stop();
  }
  dts::Run StoredPending(int i) {
    dts::Run run;
    run.set_id(IdOf(i));
    run.set_job_id(IdOf(0));
    run.set_status("PENDING");
    run.set_attempt(1);
    *run.mutable_scheduled_time() = ToProto(kStart);
    EXPECT_TRUE(store_->CreateRun(run).ok());
    return run;
  }
  scheduler::Worker::RunEnded Collect() {
    return [this](const dts::Run& run) {
      absl::MutexLock lock(&mu_);
      ended_.push_back(run.id() + "=" + run.status());
    };
  }
  std::vector<std::string> Ended() {
    recorder_->Flush();
    absl::MutexLock lock(&mu_);
    return ended_;
  }

  storage::sqlite_testing::ScopedTempDir dir_;
  TickingClock clock_;
  std::unique_ptr<storage::SqliteStore> store_;
  std::unique_ptr<scheduler::RunRecorder> recorder_;
  std::unique_ptr<Executor> executor_;
  std::unique_ptr<LocalWorker> worker_;
  absl::Mutex mu_;
  std::vector<std::string> ended_ ABSL_GUARDED_BY(mu_);
};

TEST_F(LocalWorkerTest, BatchOfTimerRunsCompletesEachOnceWithItsOwnStamp) {
  auto timer = std::make_shared<const Job>();
  std::vector<scheduler::Worker::Assignment> batch;
  std::vector<std::string> expected;
  constexpr int kRuns = 50;
  for (int i = 1; i <= kRuns; ++i) {
    batch.push_back({timer, StoredPending(i), {}, Collect()});
    expected.push_back(IdOf(i) + "=COMPLETED");
  }
  worker_->StartAll(std::move(batch));
  EXPECT_THAT(Ended(), UnorderedElementsAreArray(expected));

  absl::Time previous = kStart;
  for (int i = 1; i <= kRuns; ++i) {
    absl::StatusOr<dts::Run> run = store_->GetRun(RunId(IdOf(i)));
    ASSERT_TRUE(run.ok()) << run.status();
    EXPECT_EQ(run->status(), "COMPLETED");
    EXPECT_EQ(run->worker_id(), "");  // set by Placement, not here
    const absl::Time started = FromProto(run->start_time());
    EXPECT_EQ(FromProto(run->end_time()), started);
    // Stamped in batch order, one clock reading each: never a shared stamp.
    EXPECT_GT(started, previous) << i;
    previous = started;
  }
}

TEST_F(LocalWorkerTest, CommandInABatchIsRecordedRunningBeforeItRuns) {
  auto timer = std::make_shared<const Job>();
  auto command = std::make_shared<Job>();
  command->mutable_executor()->mutable_command()->add_argv("/bin/true");
  std::vector<scheduler::Worker::Assignment> batch;
  batch.push_back({timer, StoredPending(1), {}, Collect()});
  batch.push_back({command, StoredPending(2), {}, Collect()});
  batch.push_back({timer, StoredPending(3), {}, Collect()});
  worker_->StartAll(std::move(batch));
  for (int tries = 0; tries < 500 && Ended().size() < 3; ++tries) absl::SleepFor(absl::Milliseconds(10));
  EXPECT_THAT(Ended(), UnorderedElementsAreArray({IdOf(1) + "=COMPLETED", IdOf(2) + "=COMPLETED",
                                                  IdOf(3) + "=COMPLETED"}));
  absl::StatusOr<dts::Run> ran = store_->GetRun(RunId(IdOf(2)));
  ASSERT_TRUE(ran.ok());
  EXPECT_EQ(ran->exit_code(), 0);
}

}  // namespace
}  // namespace dts::execution
