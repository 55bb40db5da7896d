// Engine tests with a manual clock over a real SQLite store in a temp dir.
// FireDue() is called directly; no thread, no sleeping.

#include "dts/scheduler/engine.h"

#include <functional>
#include <set>
#include <vector>

#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "dts/model/time_convert.h"
#include "dts/scheduler/run_id.h"
#include "dts/storage/sqlite_store.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "storage/sqlite/sqlite_test_util.h"

namespace dts::scheduler {
namespace {

using storage::sqlite_testing::ScopedTempDir;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

absl::Time Rfc(const char* text) {
  absl::Time t;
  std::string err;
  EXPECT_TRUE(absl::ParseTime(absl::RFC3339_full, text, &t, &err)) << err;
  return t;
}

class RecordingDispatcher final : public RunDispatcher {
 public:
  void Dispatch(std::shared_ptr<const Job>, dts::Run run) override {
    absl::MutexLock l(&mu_);
    dispatched_.push_back(run);
  }
  void Cancel(const RunId& run) override {
    absl::MutexLock l(&mu_);
    cancelled_.push_back(run.value());
  }
  std::vector<dts::Run> dispatched() {
    absl::MutexLock l(&mu_);
    return dispatched_;
  }
  std::vector<std::string> cancelled() {
    absl::MutexLock l(&mu_);
    return cancelled_;
  }
  void Restore(std::shared_ptr<const Job>, dts::Run run) override {
    absl::MutexLock l(&mu_);
    restored_.push_back(run);
  }
  void Forget(const std::function<bool(const JobId&)>& owned_elsewhere) override {
    absl::MutexLock l(&mu_);
    forgot_ = owned_elsewhere;
  }
  std::vector<dts::Run> restored() {
    absl::MutexLock l(&mu_);
    return restored_;
  }
  bool Forgot(const JobId& job) {
    absl::MutexLock l(&mu_);
    return forgot_ && forgot_(job);
  }

 private:
  absl::Mutex mu_;
  std::vector<dts::Run> dispatched_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> cancelled_ ABSL_GUARDED_BY(mu_);
  std::vector<dts::Run> restored_ ABSL_GUARDED_BY(mu_);
  std::function<bool(const JobId&)> forgot_ ABSL_GUARDED_BY(mu_);
};

constexpr char kJob[] = "6314b56d-db9e-4989-ba7b-202110a5a458";
constexpr char kJob2[] = "7314b56d-db9e-4989-ba7b-202110a5a458";

// Forwards to a real store, running a hook inside RecordFires: the moment an
// API edit can race a fire.
class HookedStore final : public storage::Store {
 public:
  explicit HookedStore(storage::Store* inner) : inner_(inner) {}
  std::function<void()> before_record;

  absl::Status CreateJob(const Job& j) override { return inner_->CreateJob(j); }
  absl::StatusOr<Job> GetJob(const JobId& id) override { return inner_->GetJob(id); }
  absl::StatusOr<storage::JobPage> ListJobs(const storage::ListJobsQuery& q) override {
    return inner_->ListJobs(q);
  }
  absl::Status UpdateJob(const Job& j) override { return inner_->UpdateJob(j); }
  absl::Status DeleteJob(const JobId& id) override { return inner_->DeleteJob(id); }
  absl::Status CreateRun(const dts::Run& r) override { return inner_->CreateRun(r); }
  absl::StatusOr<dts::Run> GetRun(const RunId& id) override { return inner_->GetRun(id); }
  absl::StatusOr<storage::RunPage> ListRuns(const storage::ListRunsQuery& q) override {
    return inner_->ListRuns(q);
  }
  absl::Status UpdateRun(const dts::Run& r) override { return inner_->UpdateRun(r); }
  absl::StatusOr<std::vector<bool>> RecordFires(const std::vector<storage::FireRecord>& f) override {
    if (before_record) before_record();
    return inner_->RecordFires(f);
  }
  absl::StatusOr<int64_t> PruneRuns(int keep, absl::Time after) override {
    return inner_->PruneRuns(keep, after);
  }

 private:
  storage::Store* inner_;
};

class EngineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<storage::SqliteStore>> store = storage::SqliteStore::Open(dir_.path());
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
    Restart();
  }

  // A new engine on the same store, as after a process restart.
  void Restart(absl::Duration lookahead = absl::ZeroDuration()) {
    engine_.reset();
    dispatcher_ = std::make_unique<RecordingDispatcher>();
    EngineOptions options;
    options.jitter = [] { return 1.0; };
    options.lookahead = lookahead;
    engine_ = std::make_unique<Engine>(store_.get(), &clock_, dispatcher_.get(), options);
    ASSERT_TRUE(engine_->Recover().ok());
  }

  // Stores a job as the API would (next_run computed from now) and tells the engine.
  Job AddJob(const std::string& id, const std::string& cron, const std::string& zone = "UTC",
             const std::string& misfire = "RUN_ONCE", const std::string& overlap = "ALLOW") {
    Job job;
    job.set_id(id);
    job.set_name(id);
    job.set_cron_expression(cron);
    job.set_timezone(zone);
    job.set_status("ACTIVE");
    job.set_misfire_policy(misfire);
    job.set_overlap_policy(overlap);
    *job.mutable_created_at() = ToProto(clock_.Now());
    *job.mutable_updated_at() = ToProto(clock_.Now());
    *job.mutable_schedule_anchor() = ToProto(clock_.Now());
    std::optional<absl::Time> next = NextFireTime(job, clock_.Now()).value();
    if (next) *job.mutable_next_run() = ToProto(*next);
    EXPECT_TRUE(store_->CreateJob(job).ok());
    engine_->JobChanged(job);
    return job;
  }

  // A job with `max_retries` whose first attempt, at now, has just failed.
  dts::Run FailFirstAttempt(int max_retries) {
    Job job = AddJob(kJob, "0 0 1 1 *");
    job.set_max_retries(max_retries);
    EXPECT_TRUE(store_->UpdateJob(job).ok());
    engine_->JobChanged(job);
    dts::Run first;
    first.set_id(ScheduledRunId(JobId(kJob), clock_.Now(), 1).value());
    first.set_job_id(kJob);
    first.set_attempt(1);
    first.set_status("FAILED");
    *first.mutable_scheduled_time() = ToProto(clock_.Now());
    EXPECT_TRUE(store_->CreateRun(first).ok());
    engine_->RunFinished(first);
    return first;
  }

  int Fire() {
    absl::StatusOr<int> n = engine_->FireDue();
    EXPECT_TRUE(n.ok()) << n.status();
    return n.value_or(-1);
  }

  std::vector<dts::Run> RunsOf(const std::string& job_id) {
    storage::ListRunsQuery q;
    q.job_id = JobId(job_id);
    q.page_size = 1000;
    return store_->ListRuns(q).value().runs;
  }

  ScopedTempDir dir_;
  ManualClock clock_{Rfc("2026-01-01T00:00:00Z")};
  std::unique_ptr<storage::SqliteStore> store_;
  std::unique_ptr<RecordingDispatcher> dispatcher_;
  std::unique_ptr<Engine> engine_;
};


TEST_F(EngineTest, FiresWhenDueAndNotBefore) {
  AddJob(kJob, "*/5 * * * *");
  clock_.Advance(absl::Minutes(4));
  EXPECT_EQ(Fire(), 0);
  EXPECT_THAT(dispatcher_->dispatched(), IsEmpty());
  clock_.Advance(absl::Minutes(1));
  EXPECT_EQ(Fire(), 1);
  ASSERT_EQ(dispatcher_->dispatched().size(), 1u);
  const dts::Run run = dispatcher_->dispatched()[0];
  EXPECT_EQ(run.id(), ScheduledRunId(JobId(kJob), Rfc("2026-01-01T00:05:00Z"), 1).value());
  EXPECT_EQ(run.trigger(), "SCHEDULE");
  EXPECT_EQ(run.status(), "PENDING");
  const Job stored = store_->GetJob(JobId(kJob)).value();
  EXPECT_EQ(FromProto(stored.last_run()), Rfc("2026-01-01T00:05:00Z"));
  EXPECT_EQ(FromProto(stored.next_run()), Rfc("2026-01-01T00:10:00Z"));
  EXPECT_EQ(engine_->NextFire(JobId(kJob)), Rfc("2026-01-01T00:10:00Z"));
  EXPECT_EQ(Fire(), 0);  // nothing fires twice
}

TEST_F(EngineTest, GroupsFiresOfManyJobs) {
  for (int i = 0; i < 50; ++i) {
    AddJob(absl::StrFormat("00000000-0000-4000-8000-%012d", i), "* * * * *");
  }
  clock_.Advance(absl::Minutes(1));
  EXPECT_EQ(Fire(), 50);
  EXPECT_EQ(dispatcher_->dispatched().size(), 50u);
}

TEST_F(EngineTest, RestartNeitherLosesNorDoubles) {
  AddJob(kJob, "* * * * *");
  clock_.Advance(absl::Minutes(1));
  EXPECT_EQ(Fire(), 1);
  Restart();
  EXPECT_EQ(Fire(), 0);
  clock_.Advance(absl::Minutes(1));
  EXPECT_EQ(Fire(), 1);
  EXPECT_EQ(RunsOf(kJob).size(), 2u);
}

TEST_F(EngineTest, ShardHandOverNeitherLosesNorDoublesAndFollowsRunningRuns) {
  // Two engines on one store stand for two scheduler instances; kJob's
  // shard moves from the first to the second while the second was slow to
  // take it (three minutes), and kJob2 stays.
  AddJob(kJob, "* * * * *", "UTC", "RUN_ALL");
  AddJob(kJob2, "* * * * *");
  clock_.Advance(absl::Minutes(1));
  EXPECT_EQ(Fire(), 2);
  dts::Run running = RunsOf(kJob)[0];
  running.set_status("RUNNING");
  running.set_worker_id("w1");
  ASSERT_TRUE(store_->UpdateRun(running).ok());

  auto is_kjob = [](const JobId& id) { return id.value() == kJob; };
  engine_->Drop(is_kjob);
  EXPECT_EQ(engine_->indexed_jobs(), 1u);
  EXPECT_TRUE(dispatcher_->Forgot(JobId(kJob)));
  EXPECT_FALSE(dispatcher_->Forgot(JobId(kJob2)));

  clock_.Advance(absl::Minutes(3));
  EXPECT_EQ(Fire(), 1);  // kJob2's catch-up only
  RecordingDispatcher next_dispatcher;
  EngineOptions options;
  options.running_runs_died = false;  // it runs on a worker
  Engine next(store_.get(), &clock_, &next_dispatcher, options);
  ASSERT_TRUE(next.Adopt({store_->GetJob(JobId(kJob)).value()}, is_kjob).ok());
  ASSERT_EQ(next_dispatcher.restored().size(), 1u);
  EXPECT_EQ(next_dispatcher.restored()[0].id(), running.id());
  EXPECT_EQ(next.FireDue().value(), 3);  // RUN_ALL: 00:02, 00:03 and 00:04
  EXPECT_EQ(next.FireDue().value(), 0);
  EXPECT_EQ(Fire(), 0);

  std::set<absl::Time> times;
  for (const dts::Run& run : RunsOf(kJob)) {
    EXPECT_TRUE(times.insert(FromProto(run.scheduled_time())).second) << "doubled: " << run.id();
  }
  EXPECT_EQ(times.size(), 4u);
  EXPECT_EQ(store_->GetRun(RunId(running.id()))->status(), "RUNNING");  // not failed
  EXPECT_GE(next.fired_through(), clock_.Now());
}

TEST_F(EngineTest, StaleNextRunCannotDoubleARun) {
  AddJob(kJob, "* * * * *");
  clock_.Advance(absl::Minutes(1));
  EXPECT_EQ(Fire(), 1);
  dts::Run done = dispatcher_->dispatched()[0];
  done.set_status("COMPLETED");
  ASSERT_TRUE(store_->UpdateRun(done).ok());
  // As if the fire at 00:01 had been recorded but the job's next_run had not
  // moved (a zombie owner, or an API edit from an older read).
  Job job = store_->GetJob(JobId(kJob)).value();
  *job.mutable_next_run() = ToProto(Rfc("2026-01-01T00:01:00Z"));
  ASSERT_TRUE(store_->UpdateJob(job).ok());
  Restart();
  EXPECT_EQ(Fire(), 0);
  EXPECT_THAT(dispatcher_->dispatched(), IsEmpty());
  EXPECT_EQ(RunsOf(kJob).size(), 1u);
}

TEST_F(EngineTest, MisfireRunOnceCatchesUpWithTheLatestTime) {
  AddJob(kJob, "* * * * *");
  clock_.Advance(absl::Minutes(10) + absl::Seconds(30));  // down for ten fires
  Restart();
  EXPECT_EQ(Fire(), 1);
  const std::vector<dts::Run> runs = RunsOf(kJob);
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_EQ(runs[0].trigger(), "CATCH_UP");
  EXPECT_EQ(runs[0].missed_count(), 10);
  EXPECT_EQ(FromProto(runs[0].scheduled_time()), Rfc("2026-01-01T00:10:00Z"));
  EXPECT_EQ(engine_->NextFire(JobId(kJob)), Rfc("2026-01-01T00:11:00Z"));
}

TEST_F(EngineTest, MisfireSkipRecordsButDoesNotRun) {
  AddJob(kJob, "* * * * *", "UTC", "SKIP");
  clock_.Advance(absl::Minutes(5));
  Restart();
  EXPECT_EQ(Fire(), 1);
  EXPECT_THAT(dispatcher_->dispatched(), IsEmpty());
  const std::vector<dts::Run> runs = RunsOf(kJob);
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_EQ(runs[0].status(), "MISSED");
  EXPECT_EQ(runs[0].missed_count(), 5);
}

TEST_F(EngineTest, MisfireRunAllFiresEachMissedTimeUpToTheCap) {
  AddJob(kJob, "* * * * *", "UTC", "RUN_ALL");
  clock_.Advance(absl::Minutes(5));
  Restart();
  EXPECT_EQ(Fire(), 5);
  EXPECT_EQ(dispatcher_->dispatched().size(), 5u);
  AddJob(kJob2, "* * * * *", "UTC", "RUN_ALL");
  clock_.Advance(absl::Minutes(250));
  Restart();
  Fire();
  EXPECT_EQ(RunsOf(kJob2).size(), 100u);
  EXPECT_EQ(RunsOf(kJob2).back().missed_count(), 250);
}

TEST_F(EngineTest, OverlapForbidSkipsWhileARunIsActive) {
  AddJob(kJob, "* * * * *", "UTC", "RUN_ONCE", "FORBID");
  clock_.Advance(absl::Minutes(1));
  EXPECT_EQ(Fire(), 1);
  const std::string first = dispatcher_->dispatched()[0].id();
  clock_.Advance(absl::Minutes(1));
  EXPECT_EQ(Fire(), 1);
  EXPECT_EQ(dispatcher_->dispatched().size(), 1u);
  storage::ListRunsQuery skipped;
  skipped.status = "SKIPPED";
  EXPECT_EQ(store_->ListRuns(skipped).value().total, 1);
  dts::Run finished = dispatcher_->dispatched()[0];
  finished.set_status("COMPLETED");
  engine_->RunFinished(finished);
  clock_.Advance(absl::Minutes(1));
  EXPECT_EQ(Fire(), 1);
  EXPECT_EQ(dispatcher_->dispatched().size(), 2u);
}

TEST_F(EngineTest, OverlapReplaceCancelsTheActiveRun) {
  AddJob(kJob, "* * * * *", "UTC", "RUN_ONCE", "REPLACE");
  clock_.Advance(absl::Minutes(1));
  Fire();
  const std::string first = dispatcher_->dispatched()[0].id();
  clock_.Advance(absl::Minutes(1));
  Fire();
  EXPECT_THAT(dispatcher_->cancelled(), ElementsAre(first));
  EXPECT_EQ(dispatcher_->dispatched().size(), 2u);
}

TEST_F(EngineTest, PausedJobsDoNotFireAndResumeDoesNotCatchUp) {
  Job job = AddJob(kJob, "* * * * *");
  job.set_status("PAUSED");
  job.clear_next_run();
  engine_->JobChanged(job);
  clock_.Advance(absl::Minutes(30));
  EXPECT_EQ(Fire(), 0);
  job.set_status("ACTIVE");
  *job.mutable_next_run() = ToProto(clock_.Now() + absl::Minutes(1));
  engine_->JobChanged(job);
  EXPECT_EQ(Fire(), 0);
  clock_.Advance(absl::Minutes(1));
  EXPECT_EQ(Fire(), 1);
  EXPECT_EQ(dispatcher_->dispatched()[0].trigger(), "SCHEDULE");
}

TEST_F(EngineTest, DeletedJobsStopFiring) {
  AddJob(kJob, "* * * * *");
  engine_->JobDeleted(JobId(kJob), /*cancel_running=*/false);
  ASSERT_TRUE(store_->DeleteJob(JobId(kJob)).ok());
  clock_.Advance(absl::Minutes(5));
  EXPECT_EQ(Fire(), 0);
  EXPECT_EQ(engine_->indexed_jobs(), 0u);
}

TEST_F(EngineTest, FiresAcrossDst) {
  clock_.Set(Rfc("2026-03-07T00:00:00Z"));
  AddJob(kJob, "30 2 * * *", "America/New_York");
  std::vector<std::string> fired;
  for (int hour = 0; hour < 72; ++hour) {
    clock_.Advance(absl::Hours(1));
    Fire();
  }
  for (const dts::Run& run : dispatcher_->dispatched()) {
    fired.push_back(absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", FromProto(run.scheduled_time()),
                                     absl::UTCTimeZone()));
  }
  EXPECT_THAT(fired, ElementsAre("2026-03-07T07:30:00Z", "2026-03-08T07:00:00Z",
                                 "2026-03-09T06:30:00Z"));
}

TEST_F(EngineTest, RecoverRedispatchesPendingAndFailsInterruptedRuns) {
  Job job = AddJob(kJob, "0 0 1 1 *");
  dts::Run pending;
  pending.set_id(ScheduledRunId(JobId(kJob), Rfc("2025-01-01T00:00:00Z"), 1).value());
  pending.set_job_id(kJob);
  pending.set_status("PENDING");
  *pending.mutable_scheduled_time() = ToProto(Rfc("2025-01-01T00:00:00Z"));
  ASSERT_TRUE(store_->CreateRun(pending).ok());
  dts::Run running = pending;
  running.set_id(ScheduledRunId(JobId(kJob), Rfc("2024-01-01T00:00:00Z"), 1).value());
  running.set_status("RUNNING");
  ASSERT_TRUE(store_->CreateRun(running).ok());
  Restart();
  ASSERT_EQ(dispatcher_->dispatched().size(), 1u);
  EXPECT_EQ(dispatcher_->dispatched()[0].id(), pending.id());
  const dts::Run failed = store_->GetRun(RunId(running.id())).value();
  EXPECT_EQ(failed.status(), "FAILED");
  EXPECT_THAT(failed.error(), ::testing::HasSubstr("interrupted"));
}

TEST_F(EngineTest, OneOffJobFiresOnceThenCompletes) {
  AddJob(kJob, "@at 2026-01-01T00:10:00Z");
  clock_.Advance(absl::Minutes(10));
  EXPECT_EQ(Fire(), 1);
  clock_.Advance(absl::Hours(24));
  EXPECT_EQ(Fire(), 0);
  const Job job = store_->GetJob(JobId(kJob)).value();
  EXPECT_EQ(job.status(), "COMPLETED");
  EXPECT_FALSE(job.has_next_run());
  Restart();
  clock_.Advance(absl::Hours(24));
  EXPECT_EQ(Fire(), 0);
  EXPECT_EQ(RunsOf(kJob).size(), 1u);
}

TEST_F(EngineTest, RetentionKeepsTheNewestRunsOfEachJob) {
  AddJob(kJob, "* * * * *", "UTC", "RUN_ALL");
  clock_.Advance(absl::Minutes(40));
  Fire();
  for (dts::Run run : RunsOf(kJob)) {
    run.set_status("COMPLETED");
    ASSERT_TRUE(store_->UpdateRun(run).ok());
  }
  ASSERT_EQ(RunsOf(kJob).size(), 40u);
  clock_.Advance(absl::Hours(24 * 31));
  EngineOptions options;
  options.retention_runs = 10;
  Engine engine(store_.get(), &clock_, dispatcher_.get(), options);
  absl::StatusOr<int64_t> pruned = engine.PruneRuns();
  ASSERT_TRUE(pruned.ok()) << pruned.status();
  EXPECT_EQ(*pruned, 30);
  EXPECT_EQ(RunsOf(kJob).size(), 10u);
}

TEST_F(EngineTest, StartingDeadlineMarksLateFiresMissed) {
  Job job = AddJob(kJob, "* * * * *");
  job.set_starting_deadline(30);
  ASSERT_TRUE(store_->UpdateJob(job).ok());
  engine_->JobChanged(job);
  clock_.Advance(absl::Minutes(1) + absl::Seconds(20));  // 20 s late: within the deadline
  EXPECT_EQ(Fire(), 1);
  EXPECT_EQ(dispatcher_->dispatched().size(), 1u);
  clock_.Advance(absl::Seconds(40) + absl::Seconds(45));  // the 00:02 fire, 45 s late
  EXPECT_EQ(Fire(), 1);
  EXPECT_EQ(dispatcher_->dispatched().size(), 1u);
  storage::ListRunsQuery missed;
  missed.status = "MISSED";
  ASSERT_EQ(store_->ListRuns(missed).value().total, 1);
  EXPECT_THAT(store_->ListRuns(missed).value().runs[0].error(),
              ::testing::HasSubstr("starting deadline"));
}

TEST_F(EngineTest, AnEditRacingAFireNeitherStrandsTheRunNorRestoresTheOldSchedule) {
  Job job = AddJob(kJob, "* * * * *");
  HookedStore hooked(store_.get());
  Engine engine(&hooked, &clock_, dispatcher_.get());
  ASSERT_TRUE(engine.Recover().ok());
  // While the 00:01 fire is being recorded, the job is paused.
  bool edited = false;
  hooked.before_record = [&] {
    if (edited) return;
    edited = true;
    Job paused = store_->GetJob(JobId(kJob)).value();
    paused.set_status("PAUSED");
    paused.clear_next_run();
    *paused.mutable_updated_at() = ToProto(clock_.Now());
    ASSERT_TRUE(store_->UpdateJob(paused).ok());
    engine.JobChanged(paused);
  };
  clock_.Advance(absl::Minutes(1));
  ASSERT_TRUE(engine.FireDue().ok());
  // The recorded run was started, not left PENDING...
  ASSERT_EQ(dispatcher_->dispatched().size(), 1u);
  // ...and the paused job keeps no next_run.
  const Job stored = store_->GetJob(JobId(kJob)).value();
  EXPECT_EQ(stored.status(), "PAUSED");
  EXPECT_FALSE(stored.has_next_run());
  EXPECT_FALSE(engine.NextFire(JobId(kJob)).has_value());
  clock_.Advance(absl::Minutes(5));
  ASSERT_TRUE(engine.FireDue().ok());
  EXPECT_EQ(dispatcher_->dispatched().size(), 1u);
}

TEST(RetryDelayTest, GrowsExponentiallyUpToTheCap) {
  v1::RetryBackoff defaults;
  EXPECT_EQ(RetryDelay(defaults, 1, 1.0), absl::Seconds(1));
  EXPECT_EQ(RetryDelay(defaults, 2, 1.0), absl::Seconds(2));
  EXPECT_EQ(RetryDelay(defaults, 4, 1.0), absl::Seconds(8));
  EXPECT_EQ(RetryDelay(defaults, 30, 1.0), absl::Minutes(5));
  EXPECT_EQ(RetryDelay(defaults, 30, 1.2), absl::Minutes(5));  // jitter never passes the cap
  EXPECT_EQ(RetryDelay(defaults, 1, 0.8), absl::Milliseconds(800));
  v1::RetryBackoff custom;
  custom.set_initial_seconds(10);
  custom.set_multiplier(3);
  custom.set_max_seconds(60);
  EXPECT_EQ(RetryDelay(custom, 2, 1.0), absl::Seconds(30));
  EXPECT_EQ(RetryDelay(custom, 3, 1.0), absl::Seconds(60));
}

TEST_F(EngineTest, FailedAttemptsAreRetriedWithBackoffThenGiveUp) {
  const dts::Run first = FailFirstAttempt(/*max_retries=*/2);
  const std::string second_id = ScheduledRunId(JobId(kJob), clock_.Now(), 2).value();
  dts::Run second = store_->GetRun(RunId(second_id)).value();
  EXPECT_EQ(second.status(), "RETRYING");
  EXPECT_EQ(second.trigger(), "RETRY");
  EXPECT_EQ(second.attempt(), 2);
  EXPECT_EQ(FromProto(second.retry_at()), clock_.Now() + absl::Seconds(1));
  engine_->RunFinished(first);  // reported twice: still one retry
  Fire();
  EXPECT_THAT(dispatcher_->dispatched(), IsEmpty());  // not before the backoff
  clock_.Advance(absl::Seconds(1));
  Fire();
  ASSERT_EQ(dispatcher_->dispatched().size(), 1u);
  EXPECT_EQ(dispatcher_->dispatched()[0].id(), second_id);
  second = dispatcher_->dispatched()[0];
  second.set_status("TIMED_OUT");
  engine_->RunFinished(second);
  const std::string third_id = ScheduledRunId(JobId(kJob), FromProto(first.scheduled_time()), 3).value();
  EXPECT_EQ(FromProto(store_->GetRun(RunId(third_id)).value().retry_at()),
            clock_.Now() + absl::Seconds(2));
  clock_.Advance(absl::Seconds(2));
  Fire();
  ASSERT_EQ(dispatcher_->dispatched().size(), 2u);
  dts::Run third = dispatcher_->dispatched()[1];
  third.set_status("FAILED");
  engine_->RunFinished(third);  // attempt 3 > max_retries 2: no more
  storage::ListRunsQuery retrying;
  retrying.status = "RETRYING";
  EXPECT_EQ(store_->ListRuns(retrying).value().total, 0);
  EXPECT_EQ(RunsOf(kJob).size(), 3u);
}

TEST_F(EngineTest, PendingRetrySurvivesARestartAndStartsOnce) {
  FailFirstAttempt(/*max_retries=*/1);
  Restart();
  clock_.Advance(absl::Seconds(5));
  Fire();
  Fire();
  ASSERT_EQ(dispatcher_->dispatched().size(), 1u);
  EXPECT_EQ(dispatcher_->dispatched()[0].attempt(), 2);
}

// ---- lookahead: fires recorded ahead of their instant ----

class EngineLookaheadTest : public EngineTest {
 protected:
  void SetUp() override {
    EngineTest::SetUp();
    Restart(absl::Seconds(1));
  }
};

TEST_F(EngineLookaheadTest, RecordsAheadAndDispatchesAtTheInstant) {
  AddJob(kJob, "* * * * *");  // due 00:01:00
  clock_.Set(Rfc("2026-01-01T00:00:58.500Z"));
  EXPECT_EQ(Fire(), 0);  // not within the lookahead yet
  clock_.Set(Rfc("2026-01-01T00:00:59.200Z"));
  EXPECT_EQ(Fire(), 1);  // recorded...
  EXPECT_THAT(dispatcher_->dispatched(), IsEmpty());  // ...but not started
  std::vector<dts::Run> runs = RunsOf(kJob);
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_EQ(runs[0].status(), "PENDING");
  EXPECT_EQ(FromProto(runs[0].created_at()), Rfc("2026-01-01T00:01:00Z"));
  EXPECT_EQ(FromProto(store_->GetJob(JobId(kJob)).value().next_run()), Rfc("2026-01-01T00:02:00Z"));

  clock_.Set(Rfc("2026-01-01T00:00:59.999Z"));
  EXPECT_EQ(Fire(), 0);
  EXPECT_THAT(dispatcher_->dispatched(), IsEmpty());
  clock_.Set(Rfc("2026-01-01T00:01:00Z"));
  EXPECT_EQ(Fire(), 0);  // nothing new recorded: dispatched from memory
  ASSERT_EQ(dispatcher_->dispatched().size(), 1u);
  EXPECT_EQ(dispatcher_->dispatched()[0].id(), runs[0].id());
  EXPECT_EQ(Fire(), 0);
  EXPECT_EQ(dispatcher_->dispatched().size(), 1u);  // once
}

// A one-off job's only fire completes the job in the transaction that
// records it; recorded ahead, its run would then meet a job that no longer
// fires at its instant. It is recorded at its instant instead, and starts.
TEST_F(EngineLookaheadTest, OneOffJobsAreRecordedAtTheirInstantAndStart) {
  AddJob(kJob, "@at 2026-01-01T00:01:00Z");
  clock_.Set(Rfc("2026-01-01T00:00:59.500Z"));
  EXPECT_EQ(Fire(), 0);
  EXPECT_THAT(RunsOf(kJob), IsEmpty());
  clock_.Set(Rfc("2026-01-01T00:01:00Z"));
  EXPECT_EQ(Fire(), 1);
  ASSERT_EQ(dispatcher_->dispatched().size(), 1u);
  EXPECT_EQ(dispatcher_->dispatched()[0].status(), "PENDING");
  EXPECT_EQ(store_->GetJob(JobId(kJob)).value().status(), "COMPLETED");
}

TEST_F(EngineLookaheadTest, ForbidJobsAreRecordedAtTheirInstant) {
  AddJob(kJob, "* * * * *", "UTC", "RUN_ONCE", "FORBID");
  clock_.Set(Rfc("2026-01-01T00:00:59.500Z"));
  EXPECT_EQ(Fire(), 0);
  EXPECT_THAT(RunsOf(kJob), IsEmpty());
  clock_.Set(Rfc("2026-01-01T00:01:00Z"));
  EXPECT_EQ(Fire(), 1);
  EXPECT_EQ(dispatcher_->dispatched().size(), 1u);
}

TEST_F(EngineLookaheadTest, JobPausedBeforeItsInstantDoesNotFire) {
  Job job = AddJob(kJob, "* * * * *");
  clock_.Set(Rfc("2026-01-01T00:00:59.500Z"));
  EXPECT_EQ(Fire(), 1);
  job.set_status("PAUSED");
  job.clear_next_run();
  ASSERT_TRUE(store_->UpdateJob(job).ok());
  engine_->JobChanged(job);
  clock_.Set(Rfc("2026-01-01T00:01:00Z"));
  EXPECT_EQ(Fire(), 0);
  EXPECT_THAT(dispatcher_->dispatched(), IsEmpty());
  std::vector<dts::Run> runs = RunsOf(kJob);
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_EQ(runs[0].status(), "CANCELLED");
  EXPECT_THAT(runs[0].error(), ::testing::HasSubstr("PAUSED"));
}

// One instant's staged runs, one job paused and one deleted meanwhile: only
// the third job's run starts; the paused one is recorded CANCELLED.
TEST_F(EngineLookaheadTest, InstantWithAPausedAndADeletedJobStartsOnlyTheOthers) {
  constexpr char kJob3[] = "8314b56d-db9e-4989-ba7b-202110a5a458";
  Job paused = AddJob(kJob, "* * * * *");
  AddJob(kJob2, "* * * * *");
  AddJob(kJob3, "* * * * *");
  clock_.Set(Rfc("2026-01-01T00:00:59.500Z"));
  EXPECT_EQ(Fire(), 3);
  paused.set_status("PAUSED");
  paused.clear_next_run();
  ASSERT_TRUE(store_->UpdateJob(paused).ok());
  engine_->JobChanged(paused);
  engine_->JobDeleted(JobId(kJob2), /*cancel_running=*/false);
  clock_.Set(Rfc("2026-01-01T00:01:00Z"));
  EXPECT_EQ(Fire(), 0);
  ASSERT_EQ(dispatcher_->dispatched().size(), 1u);
  EXPECT_EQ(dispatcher_->dispatched()[0].job_id(), kJob3);
  std::vector<dts::Run> runs = RunsOf(kJob);
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_EQ(runs[0].status(), "CANCELLED");
  EXPECT_EQ(Fire(), 0);
  EXPECT_EQ(dispatcher_->dispatched().size(), 1u);  // once
}

TEST_F(EngineLookaheadTest, RunRecordedAheadSurvivesARestartAndStartsOnceAtItsInstant) {
  AddJob(kJob, "* * * * *");
  clock_.Set(Rfc("2026-01-01T00:00:59.500Z"));
  EXPECT_EQ(Fire(), 1);
  Restart(absl::Seconds(1));  // the crash: only storage survives
  EXPECT_THAT(dispatcher_->dispatched(), IsEmpty());  // not started early
  EXPECT_EQ(Fire(), 0);  // and not recorded twice
  clock_.Set(Rfc("2026-01-01T00:01:00Z"));
  EXPECT_EQ(Fire(), 0);
  ASSERT_EQ(dispatcher_->dispatched().size(), 1u);
  clock_.Set(Rfc("2026-01-01T00:01:59.500Z"));
  EXPECT_EQ(Fire(), 1);  // the next minute, ahead again
  EXPECT_EQ(RunsOf(kJob).size(), 2u);
  EXPECT_EQ(dispatcher_->dispatched().size(), 1u);
}

TEST_F(EngineLookaheadTest, RestartWithoutLookaheadStillWaitsForTheInstant) {
  AddJob(kJob, "* * * * *");
  clock_.Set(Rfc("2026-01-01T00:00:59.500Z"));
  EXPECT_EQ(Fire(), 1);
  Restart();  // a server restarted with the lookahead turned off
  EXPECT_THAT(dispatcher_->dispatched(), IsEmpty());
  clock_.Set(Rfc("2026-01-01T00:01:00Z"));
  EXPECT_EQ(Fire(), 0);
  EXPECT_EQ(dispatcher_->dispatched().size(), 1u);
}

}  // namespace
}  // namespace dts::scheduler
