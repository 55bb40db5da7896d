// RunRecorder over a real SQLite store: order, durability before callbacks,
// re-entrant callbacks, errors, and writes after Stop().

#include "dts/scheduler/run_recorder.h"

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "dts/storage/sqlite_store.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "storage/sqlite/sqlite_test_util.h"

namespace dts::scheduler {
namespace {

using storage::sqlite_testing::ScopedTempDir;

std::string IdOf(int i) { return absl::StrCat("00000000-0000-4000-8000-", 100000000000 + i); }

dts::Run MakeRun(int i, RunStatus status) {
  dts::Run run;
  run.set_id(IdOf(i));
  run.set_job_id(IdOf(0));
  run.set_status(std::string(RunStatusName(status)));
  run.set_attempt(1);
  return run;
}

class RunRecorderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<storage::SqliteStore>> store = storage::SqliteStore::Open(dir_.path());
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
  }
  std::string StatusOf(int i) {
    absl::StatusOr<dts::Run> run = store_->GetRun(RunId(IdOf(i)));
    return run.ok() ? run->status() : std::string(run.status().message());
  }

  ScopedTempDir dir_;
  std::unique_ptr<storage::SqliteStore> store_;
};

TEST_F(RunRecorderTest, WritesEveryUpdateInOrder) {
  constexpr int kRuns = 500;
  for (int i = 0; i < kRuns; ++i) ASSERT_TRUE(store_->CreateRun(MakeRun(i, RunStatus::kPending)).ok());
  RunRecorder recorder(store_.get(), /*max_batch=*/64);
  for (int i = 0; i < kRuns; ++i) {
    recorder.Record(MakeRun(i, RunStatus::kRunning));
    recorder.Record(MakeRun(i, RunStatus::kCompleted));  // the later update wins
  }
  recorder.Flush();
  for (int i = 0; i < kRuns; ++i) EXPECT_EQ(StatusOf(i), "COMPLETED") << i;
}

TEST_F(RunRecorderTest, RecordAllKeepsOrderWithRecordAndCallsEachCallbackOnce) {
  constexpr int kRuns = 300;
  for (int i = 0; i < kRuns; ++i) ASSERT_TRUE(store_->CreateRun(MakeRun(i, RunStatus::kPending)).ok());
  RunRecorder recorder(store_.get(), /*max_batch=*/64);
  std::atomic<int> calls{0};
  std::vector<RunRecorder::Entry> batch;
  for (int i = 0; i < kRuns; ++i) {
    recorder.Record(MakeRun(i, RunStatus::kRunning));
    batch.push_back({MakeRun(i, RunStatus::kCompleted), [&calls, this, i](absl::Status s, const dts::Run& run) {
                       EXPECT_TRUE(s.ok()) << s;
                       EXPECT_EQ(run.id(), IdOf(i));
                       EXPECT_EQ(StatusOf(i), "COMPLETED");  // durable before the callback
                       ++calls;
                     }});
  }
  recorder.RecordAll(std::move(batch));
  recorder.Flush();
  EXPECT_EQ(calls.load(), kRuns);
  for (int i = 0; i < kRuns; ++i) EXPECT_EQ(StatusOf(i), "COMPLETED") << i;
}

TEST_F(RunRecorderTest, CallbackRunsOnlyOnceTheUpdateIsStored) {
  ASSERT_TRUE(store_->CreateRun(MakeRun(1, RunStatus::kPending)).ok());
  RunRecorder recorder(store_.get());
  std::string seen;
  absl::Status written = absl::UnknownError("not called");
  absl::Notification done;
  recorder.Record(MakeRun(1, RunStatus::kRunning), [&](absl::Status s, const dts::Run&) {
    written = s;
    seen = StatusOf(1);
    done.Notify();
  });
  done.WaitForNotification();
  EXPECT_TRUE(written.ok()) << written;
  EXPECT_EQ(seen, "RUNNING");
}

TEST_F(RunRecorderTest, CallbackMayRecordAgain) {
  ASSERT_TRUE(store_->CreateRun(MakeRun(1, RunStatus::kPending)).ok());
  RunRecorder recorder(store_.get());
  absl::Notification done;
  recorder.Record(MakeRun(1, RunStatus::kRunning), [&](absl::Status, const dts::Run&) {
    recorder.Record(MakeRun(1, RunStatus::kFailed), [&](absl::Status, const dts::Run&) { done.Notify(); });
  });
  done.WaitForNotification();
  EXPECT_EQ(StatusOf(1), "FAILED");
}

class FailingStore final : public storage::Store {
 public:
  absl::Status CreateJob(const Job&) override { return Fail(); }
  absl::StatusOr<Job> GetJob(const JobId&) override { return Fail(); }
  absl::StatusOr<storage::JobPage> ListJobs(const storage::ListJobsQuery&) override { return Fail(); }
  absl::Status UpdateJob(const Job&) override { return Fail(); }
  absl::Status DeleteJob(const JobId&) override { return Fail(); }
  absl::Status CreateRun(const dts::Run&) override { return Fail(); }
  absl::StatusOr<dts::Run> GetRun(const RunId&) override { return Fail(); }
  absl::StatusOr<storage::RunPage> ListRuns(const storage::ListRunsQuery&) override { return Fail(); }
  absl::Status UpdateRun(const dts::Run&) override { return Fail(); }
  absl::StatusOr<std::vector<bool>> RecordFires(const std::vector<storage::FireRecord>&) override {
    return Fail();
  }
  absl::StatusOr<int64_t> PruneRuns(int, absl::Time) override { return Fail(); }

 private:
  static absl::Status Fail() { return absl::UnavailableError("disk on fire"); }
};

TEST(RunRecorderErrorTest, CallbackGetsTheStorageError) {
  FailingStore store;
  RunRecorder recorder(&store);
  absl::Status written;
  absl::Notification done;
  recorder.Record(MakeRun(1, RunStatus::kRunning), [&](absl::Status s, const dts::Run&) {
    written = s;
    done.Notify();
  });
  done.WaitForNotification();
  EXPECT_EQ(written.code(), absl::StatusCode::kUnavailable);
}

TEST_F(RunRecorderTest, StopFlushesAndLaterRecordsAreWrittenAtOnce) {
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(store_->CreateRun(MakeRun(i, RunStatus::kPending)).ok());
  RunRecorder recorder(store_.get());
  std::atomic<int> callbacks{0};
  recorder.Record(MakeRun(0, RunStatus::kRunning), [&](absl::Status, const dts::Run&) { ++callbacks; });
  recorder.Record(MakeRun(1, RunStatus::kRunning), [&](absl::Status, const dts::Run&) { ++callbacks; });
  recorder.Stop();
  EXPECT_EQ(callbacks.load(), 2);
  EXPECT_EQ(StatusOf(0), "RUNNING");
  EXPECT_EQ(StatusOf(1), "RUNNING");
  recorder.Record(MakeRun(2, RunStatus::kCompleted), [&](absl::Status, const dts::Run&) { ++callbacks; });
  EXPECT_EQ(callbacks.load(), 3);  // synchronously, on this thread
  EXPECT_EQ(StatusOf(2), "COMPLETED");
  recorder.Stop();  // idempotent
}

}  // namespace
}  // namespace dts::scheduler
