// Logic tests of the API classes over an in-memory fake store, with a manual
// clock and predictable ids. Transport tests (real sockets, real SQLite) are
// in tests/e2e.

#include "dts/api/services.h"

#include <map>

#include "absl/synchronization/mutex.h"
#include "dts/model/time_convert.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace dts::api {
namespace {

using ::testing::HasSubstr;

class FakeStore final : public storage::Store {
 public:
  absl::Status CreateJob(const Job& job) override {
    absl::MutexLock l(&mu_);
    if (!jobs_.emplace(job.id(), job).second) return absl::AlreadyExistsError(job.id());
    return absl::OkStatus();
  }
  absl::StatusOr<Job> GetJob(const JobId& id) override {
    absl::MutexLock l(&mu_);
    auto it = jobs_.find(id.value());
    if (it == jobs_.end()) return absl::NotFoundError("job not found");
    return it->second;
  }
  absl::StatusOr<storage::JobPage> ListJobs(const storage::ListJobsQuery& q) override {
    absl::MutexLock l(&mu_);
    storage::JobPage page;
    for (auto it = jobs_.upper_bound(q.after_id); it != jobs_.end(); ++it) {
      if (q.status && it->second.status() != *q.status) continue;
      if (static_cast<int>(page.jobs.size()) == q.page_size) {
        page.next_page = page.jobs.back().id();
        break;
      }
      page.jobs.push_back(it->second);
    }
    for (const auto& [id, job] : jobs_) page.total += !q.status || job.status() == *q.status;
    return page;
  }
  absl::Status UpdateJob(const Job& job) override {
    absl::MutexLock l(&mu_);
    auto it = jobs_.find(job.id());
    if (it == jobs_.end()) return absl::NotFoundError("job not found");
    it->second = job;
    return absl::OkStatus();
  }
  absl::Status DeleteJob(const JobId& id) override {
    absl::MutexLock l(&mu_);
    if (jobs_.erase(id.value()) == 0) return absl::NotFoundError("job not found");
    return absl::OkStatus();
  }
  absl::Status CreateRun(const Run& run) override {
    absl::MutexLock l(&mu_);
    if (!runs_.emplace(run.id(), run).second) return absl::AlreadyExistsError(run.id());
    return absl::OkStatus();
  }
  absl::StatusOr<Run> GetRun(const RunId& id) override {
    absl::MutexLock l(&mu_);
    auto it = runs_.find(id.value());
    if (it == runs_.end()) return absl::NotFoundError("run not found");
    return it->second;
  }
  absl::StatusOr<storage::RunPage> ListRuns(const storage::ListRunsQuery&) override {
    return absl::UnimplementedError("not needed here");
  }
  absl::Status UpdateRun(const Run&) override { return absl::UnimplementedError("not needed here"); }
  absl::StatusOr<std::vector<bool>> RecordFires(const std::vector<storage::FireRecord>&) override {
    return absl::UnimplementedError("not needed here");
  }
  absl::StatusOr<int64_t> PruneRuns(int, absl::Time) override {
    return absl::UnimplementedError("not needed here");
  }

 private:
  absl::Mutex mu_;
  std::map<std::string, Job> jobs_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, Run> runs_ ABSL_GUARDED_BY(mu_);
};

class JobApiTest : public ::testing::Test {
 protected:
  // 2026-01-01T00:00:00Z
  ManualClock clock_{absl::FromUnixSeconds(1'767'225'600)};
  SequentialIdGenerator ids_;
  FakeStore store_;
  JobApi jobs_{&store_, &clock_, &ids_};
  SchedulerApi scheduler_{&jobs_};

  std::string Create(absl::string_view cron = "*/5 * * * *") {
    v1::CreateJobRequest r;
    r.set_name("nightly");
    r.set_cron_expression(std::string(cron));
    absl::StatusOr<v1::CreateJobResponse> created = jobs_.CreateJob(r);
    EXPECT_TRUE(created.ok()) << created.status();
    return created.ok() ? created->job_id() : "";
  }
  Job Get(const std::string& id) {
    v1::GetJobRequest r;
    r.set_id(id);
    absl::StatusOr<Job> job = jobs_.GetJob(r);
    EXPECT_TRUE(job.ok()) << job.status();
    return job.value_or(Job());
  }
};

TEST_F(JobApiTest, CreateFillsDefaultsAndNextRun) {
  const std::string id = Create();
  EXPECT_EQ(id, "00000000-0000-4000-8000-000000000001");
  const Job job = Get(id);
  EXPECT_EQ(job.status(), "ACTIVE");
  EXPECT_EQ(job.timezone(), "UTC");
  EXPECT_EQ(FromProto(job.next_run()), clock_.Now() + absl::Minutes(5));
  EXPECT_EQ(FromProto(job.created_at()), clock_.Now());
}

TEST_F(JobApiTest, CreateRejectsBadInputAndStoresNothing) {
  v1::CreateJobRequest r;
  r.set_name("x");
  r.set_cron_expression("/5 ");
  absl::StatusOr<v1::CreateJobResponse> created = jobs_.CreateJob(r);
  ASSERT_FALSE(created.ok());
  EXPECT_EQ(created.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(created.status().message(), HasSubstr("cron_expression"));
  v1::ListJobsRequest list;
  EXPECT_EQ(jobs_.ListJobs(list)->total(), 0);
}

TEST_F(JobApiTest, PausedJobHasNoNextRunAndResumeReanchors) {
  const std::string id = Create("@every 1h");
  v1::PauseJobRequest pause;
  pause.set_id(id);
  ASSERT_TRUE(jobs_.PauseJob(pause).ok());
  EXPECT_FALSE(Get(id).has_next_run());
  clock_.Advance(absl::Minutes(20));
  v1::ResumeJobRequest resume;
  resume.set_id(id);
  absl::StatusOr<Job> resumed = jobs_.ResumeJob(resume);
  ASSERT_TRUE(resumed.ok());
  EXPECT_EQ(resumed->status(), "ACTIVE");
  EXPECT_EQ(FromProto(resumed->next_run()), clock_.Now() + absl::Hours(1));
}

TEST_F(JobApiTest, UpdateChangesOnlyPresentFields) {
  const std::string id = Create();
  v1::UpdateJobRequest r;
  r.set_id(id);
  r.set_name("renamed");
  r.set_status("paused");
  absl::StatusOr<Job> updated = jobs_.UpdateJob(r);
  ASSERT_TRUE(updated.ok()) << updated.status();
  EXPECT_EQ(updated->name(), "renamed");
  EXPECT_EQ(updated->status(), "PAUSED");
  EXPECT_EQ(updated->cron_expression(), "*/5 * * * *");
  EXPECT_FALSE(updated->has_next_run());
}

TEST_F(JobApiTest, UpdateMaskCanClearAField) {
  const std::string id = Create();
  v1::UpdateJobRequest r;
  r.set_id(id);
  r.mutable_update_mask()->add_paths("description");
  ASSERT_TRUE(jobs_.UpdateJob(r).ok());
  EXPECT_EQ(Get(id).description(), "");
  r.mutable_update_mask()->add_paths("bogus");
  EXPECT_THAT(jobs_.UpdateJob(r).status().message(), HasSubstr("update_mask"));
}

TEST_F(JobApiTest, InvalidAndUnknownIds) {
  v1::GetJobRequest r;
  r.set_id("not-a-uuid");
  EXPECT_EQ(jobs_.GetJob(r).status().code(), absl::StatusCode::kInvalidArgument);
  r.set_id("00000000-0000-4000-8000-00000000ffff");
  EXPECT_EQ(jobs_.GetJob(r).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(JobApiTest, TriggerCreatesManualRun) {
  const std::string id = Create();
  v1::TriggerJobRequest r;
  r.set_id(id);
  absl::StatusOr<v1::TriggerJobResponse> triggered = jobs_.TriggerJob(r);
  ASSERT_TRUE(triggered.ok());
  absl::StatusOr<dts::Run> run = store_.GetRun(RunId(triggered->execution_id()));
  ASSERT_TRUE(run.ok());
  EXPECT_EQ(run->job_id(), id);
  EXPECT_EQ(run->trigger(), "MANUAL");
  EXPECT_EQ(run->status(), "PENDING");
}

TEST_F(JobApiTest, CancelledJobCannotBePaused) {
  const std::string id = Create();
  v1::CancelJobRequest cancel;
  cancel.set_id(id);
  ASSERT_TRUE(jobs_.CancelJob(cancel).ok());
  v1::PauseJobRequest pause;
  pause.set_id(id);
  EXPECT_EQ(jobs_.PauseJob(pause).status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST_F(JobApiTest, ListPagesByKey) {
  for (int i = 0; i < 5; ++i) Create();
  v1::ListJobsRequest r;
  r.set_page_size(2);
  std::vector<std::string> seen;
  for (int page = 0; page < 5; ++page) {
    absl::StatusOr<v1::ListJobsResponse> response = jobs_.ListJobs(r);
    ASSERT_TRUE(response.ok());
    EXPECT_EQ(response->total(), 5);
    for (const Job& job : response->jobs()) seen.push_back(job.id());
    if (response->next_page().empty()) break;
    r.set_last_id(response->next_page());
  }
  EXPECT_EQ(seen.size(), 5u);
  r.set_page_size(1001);
  EXPECT_THAT(jobs_.ListJobs(r).status().message(), HasSubstr("page_size"));
}

TEST_F(JobApiTest, SchedulerCreatesWithResourcesAndCancels) {
  v1::ScheduleJobRequest r;
  r.mutable_job()->set_name("sched");
  r.mutable_job()->set_cron_expression("0 * * * *");
  r.mutable_resource_requirements()->set_cpu(500);
  r.mutable_resource_requirements()->set_memory(256);
  absl::StatusOr<v1::ScheduleJobResponse> scheduled = scheduler_.ScheduleJob(r);
  ASSERT_TRUE(scheduled.ok()) << scheduled.status();
  v1::GetScheduledJobRequest get;
  get.set_job_id(scheduled->schedule_id());
  absl::StatusOr<v1::GetScheduledJobResponse> info = scheduler_.GetScheduledJob(get);
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->resource_requirements().cpu(), 500);
  EXPECT_EQ(FromProto(info->next_execution_time()), clock_.Now() + absl::Hours(1));
  v1::CancelScheduledJobRequest cancel;
  cancel.set_job_id(scheduled->schedule_id());
  ASSERT_TRUE(scheduler_.CancelJob(cancel).ok());
  EXPECT_EQ(scheduler_.GetScheduledJob(get)->status(), "CANCELLED");
  r.mutable_job()->set_name("");
  EXPECT_THAT(scheduler_.ScheduleJob(r).status().message(), HasSubstr("job.name"));
}

}  // namespace
}  // namespace dts::api
