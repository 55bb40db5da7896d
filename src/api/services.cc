#include "dts/api/services.h"

#include <optional>
#include <set>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/match.h"
#include "dts/log/log.h"
#include "dts/model/time_convert.h"

namespace dts::api {
namespace {

constexpr int kDefaultPageSize = 50;
constexpr int kMaxPageSize = 1000;

absl::Status FieldError(absl::string_view field, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", why));
}

absl::StatusOr<int> PageSize(int requested) {
  if (requested == 0) return kDefaultPageSize;
  if (requested < 0 || requested > kMaxPageSize) {
    return FieldError("page_size", absl::StrCat("must be 1-", kMaxPageSize, ", got ", requested));
  }
  return requested;
}

absl::Status CheckId(absl::string_view field, absl::string_view id) {
  if (id.empty()) return FieldError(field, "is required");
  if (!IsUuid(id)) return FieldError(field, absl::StrCat("\"", id, "\" is not a valid UUID"));
  return absl::OkStatus();
}

absl::Status CheckCursor(absl::string_view field, absl::string_view id) {
  return id.empty() ? absl::OkStatus() : CheckId(field, id);
}

// The writable job fields, shared by create and update requests.
template <typename Request>
void CopyCommonFields(const Request& r, Job& job) {
  *job.mutable_metadata() = r.metadata();
  *job.mutable_executor() = r.executor();
  *job.mutable_constraints() = r.constraints();
  if (r.has_resources()) *job.mutable_resources() = r.resources();
  if (r.has_retry_backoff()) *job.mutable_retry_backoff() = r.retry_backoff();
}

// The fields an update names: its mask, or else the ones that are set.
absl::StatusOr<std::set<std::string>> UpdatedFields(const v1::UpdateJobRequest& r) {
  static const std::set<std::string> kUpdatable = {
      "name",     "description", "cron_expression", "metadata",       "priority",
      "max_retries", "timeout",  "status",          "timezone",       "executor",
      "resources", "constraints", "overlap_policy", "misfire_policy", "retry_backoff",
      "starting_deadline"};
  std::set<std::string> fields;
  if (r.has_update_mask() && r.update_mask().paths_size() > 0) {
    for (const std::string& path : r.update_mask().paths()) {
      if (path == "id") continue;
      if (!kUpdatable.contains(path)) {
        return FieldError("update_mask", absl::StrCat("\"", path, "\" is not an updatable field"));
      }
      fields.insert(path);
    }
    return fields;
  }
  if (r.has_name()) fields.insert("name");
  if (r.has_description()) fields.insert("description");
  if (r.has_cron_expression()) fields.insert("cron_expression");
  if (!r.metadata().empty()) fields.insert("metadata");
  if (r.has_priority()) fields.insert("priority");
  if (r.has_max_retries()) fields.insert("max_retries");
  if (r.has_timeout()) fields.insert("timeout");
  if (r.has_status()) fields.insert("status");
  if (r.has_timezone()) fields.insert("timezone");
  if (r.executor().kind_case() != v1::Executor::KIND_NOT_SET) fields.insert("executor");
  if (r.has_resources()) fields.insert("resources");
  if (!r.constraints().empty()) fields.insert("constraints");
  if (r.has_overlap_policy()) fields.insert("overlap_policy");
  if (r.has_misfire_policy()) fields.insert("misfire_policy");
  if (r.has_retry_backoff()) fields.insert("retry_backoff");
  if (r.has_starting_deadline()) fields.insert("starting_deadline");
  return fields;
}

void ApplyUpdate(const v1::UpdateJobRequest& r, const std::set<std::string>& f, Job& job) {
  if (f.contains("name")) job.set_name(r.name());
  if (f.contains("description")) job.set_description(r.description());
  if (f.contains("cron_expression")) job.set_cron_expression(r.cron_expression());
  if (f.contains("metadata")) *job.mutable_metadata() = r.metadata();
  if (f.contains("priority")) job.set_priority(r.priority());
  if (f.contains("max_retries")) job.set_max_retries(r.max_retries());
  if (f.contains("timeout")) job.set_timeout(r.timeout());
  if (f.contains("status")) job.set_status(r.status().empty() ? "ACTIVE" : r.status());
  if (f.contains("timezone")) job.set_timezone(r.timezone());
  if (f.contains("executor")) *job.mutable_executor() = r.executor();
  if (f.contains("resources")) *job.mutable_resources() = r.resources();
  if (f.contains("constraints")) *job.mutable_constraints() = r.constraints();
  if (f.contains("overlap_policy")) job.set_overlap_policy(r.overlap_policy());
  if (f.contains("misfire_policy")) job.set_misfire_policy(r.misfire_policy());
  if (f.contains("retry_backoff")) *job.mutable_retry_backoff() = r.retry_backoff();
  if (f.contains("starting_deadline")) job.set_starting_deadline(r.starting_deadline());
}

bool Fires(const Job& job) {
  std::optional<JobStatus> status = ParseJobStatus(job.status());
  return status && FiresOnSchedule(*status);
}

}  // namespace

// ---- JobApi

absl::Status JobApi::Store(Job& job, bool schedule_changed) {
  const absl::Time now = clock_->Now();
  ApplyJobDefaults(job);
  if (absl::Status s = ValidateJob(job, now); !s.ok()) return s;
  if (cluster_ != nullptr) {
    if (absl::Status s = cluster_->CheckPlaceable(job); !s.ok()) return s;
  }
  if (schedule_changed) {
    job.clear_next_run();
    if (Fires(job)) {
      absl::StatusOr<std::optional<absl::Time>> next = NextFireTime(job, now);
      if (!next.ok()) return next.status();
      if (*next) *job.mutable_next_run() = ToProto(**next);
    }
  }
  *job.mutable_updated_at() = ToProto(now);
  return absl::OkStatus();
}

absl::StatusOr<Job> JobApi::CreateFrom(Job job) {
  const absl::Time now = clock_->Now();
  job.set_id(ids_->NewUuid());
  *job.mutable_created_at() = ToProto(now);
  *job.mutable_schedule_anchor() = ToProto(now);
  if (absl::Status s = Store(job, /*schedule_changed=*/true); !s.ok()) return s;
  if (absl::Status s = store_->CreateJob(job); !s.ok()) return s;
  if (events_ != nullptr) events_->JobChanged(job);
  return job;
}

absl::StatusOr<Job> JobApi::Load(absl::string_view field, const std::string& id) {
  if (absl::Status s = CheckId(field, id); !s.ok()) return s;
  return store_->GetJob(JobId(id));
}

absl::StatusOr<Job> JobApi::SetStatus(const std::string& id, JobStatus status) {
  absl::StatusOr<Job> job = Load("id", id);
  if (!job.ok()) return job;
  const std::optional<JobStatus> current = ParseJobStatus(job->status());
  if (current == status) return job;
  if (current && !FiresOnSchedule(*current) && FiresOnSchedule(status)) {
    // A resumed `@every` job counts from the resume, not from its creation.
    *job->mutable_schedule_anchor() = ToProto(clock_->Now());
  }
  job->set_status(std::string(JobStatusName(status)));
  if (absl::Status s = Store(*job, /*schedule_changed=*/true); !s.ok()) return s;
  if (absl::Status s = store_->UpdateJob(*job); !s.ok()) return s;
  if (events_ != nullptr) events_->JobChanged(*job);
  return job;
}

absl::StatusOr<v1::CreateJobResponse> JobApi::CreateJob(const v1::CreateJobRequest& r) {
  Job job;
  job.set_name(r.name());
  job.set_description(r.description());
  job.set_cron_expression(r.cron_expression());
  job.set_priority(r.priority());
  job.set_max_retries(r.max_retries());
  job.set_timeout(r.timeout());
  job.set_status(r.status());
  job.set_timezone(r.timezone());
  job.set_overlap_policy(r.overlap_policy());
  job.set_misfire_policy(r.misfire_policy());
  job.set_starting_deadline(r.starting_deadline());
  CopyCommonFields(r, job);
  absl::StatusOr<Job> created = CreateFrom(std::move(job));
  if (!created.ok()) return created.status();
  v1::CreateJobResponse response;
  response.set_job_id(created->id());
  return response;
}

absl::StatusOr<v1::JobResponse> JobApi::GetJob(const v1::GetJobRequest& r) { return Load("id", r.id()); }

absl::StatusOr<v1::ListJobsResponse> JobApi::ListJobs(const v1::ListJobsRequest& r) {
  storage::ListJobsQuery query;
  absl::StatusOr<int> page_size = PageSize(r.page_size());
  if (!page_size.ok()) return page_size.status();
  query.page_size = *page_size;
  if (!r.status().empty()) {
    std::optional<JobStatus> status = ParseJobStatus(r.status());
    if (!status) return FieldError("status", absl::StrCat("unknown status \"", r.status(), "\""));
    query.status = std::string(JobStatusName(*status));
  }
  if (absl::Status s = CheckCursor("last_id", r.last_id()); !s.ok()) return s;
  query.after_id = r.last_id();
  absl::StatusOr<storage::JobPage> page = store_->ListJobs(query);
  if (!page.ok()) return page.status();
  v1::ListJobsResponse response;
  for (Job& job : page->jobs) *response.add_jobs() = std::move(job);
  response.set_total(page->total);
  response.set_next_page(page->next_page);
  return response;
}

absl::StatusOr<v1::JobResponse> JobApi::UpdateJob(const v1::UpdateJobRequest& r) {
  absl::StatusOr<std::set<std::string>> fields = UpdatedFields(r);
  if (!fields.ok()) return fields.status();
  absl::StatusOr<Job> job = Load("id", r.id());
  if (!job.ok()) return job;
  const bool was_firing = Fires(*job);
  ApplyUpdate(r, *fields, *job);
  ApplyJobDefaults(*job);
  if (!was_firing && Fires(*job)) *job->mutable_schedule_anchor() = ToProto(clock_->Now());
  const bool schedule_changed = fields->contains("cron_expression") ||
                                fields->contains("timezone") || fields->contains("status");
  if (absl::Status s = Store(*job, schedule_changed); !s.ok()) return s;
  if (absl::Status s = store_->UpdateJob(*job); !s.ok()) return s;
  if (events_ != nullptr) events_->JobChanged(*job);
  return job;
}

absl::StatusOr<v1::DeleteJobResponse> JobApi::DeleteJob(const v1::DeleteJobRequest& r) {
  if (absl::Status s = CheckId("id", r.id()); !s.ok()) return s;
  if (absl::Status s = store_->DeleteJob(JobId(r.id())); !s.ok()) return s;
  if (events_ != nullptr) events_->JobDeleted(JobId(r.id()), r.cancel_running());
  v1::DeleteJobResponse response;
  response.set_success(true);
  return response;
}

absl::StatusOr<v1::JobResponse> JobApi::CancelJob(const v1::CancelJobRequest& r) {
  return SetStatus(r.id(), JobStatus::kCancelled);
}

absl::StatusOr<v1::JobResponse> JobApi::PauseJob(const v1::PauseJobRequest& r) {
  absl::StatusOr<Job> job = Load("id", r.id());
  if (!job.ok()) return job;
  if (ParseJobStatus(job->status()) == JobStatus::kCancelled) {
    return absl::FailedPreconditionError("job is cancelled; resume it instead of pausing");
  }
  return SetStatus(r.id(), JobStatus::kPaused);
}

absl::StatusOr<v1::JobResponse> JobApi::ResumeJob(const v1::ResumeJobRequest& r) {
  return SetStatus(r.id(), JobStatus::kActive);
}

absl::StatusOr<v1::TriggerJobResponse> JobApi::TriggerJob(const v1::TriggerJobRequest& r) {
  absl::StatusOr<Job> job = Load("id", r.id());
  if (!job.ok()) return job.status();
  const absl::Time now = clock_->Now();
  Run run;
  run.set_id(ids_->NewUuid());
  run.set_job_id(job->id());
  run.set_status(std::string(RunStatusName(RunStatus::kPending)));
  run.set_trigger(std::string(TriggerName(Trigger::kManual)));
  run.set_attempt(1);
  *run.mutable_scheduled_time() = ToProto(now);
  *run.mutable_created_at() = ToProto(now);
  run.set_request_id(log::CurrentRequestId());
  if (absl::Status s = store_->CreateRun(run); !s.ok()) return s;
  log::Info("api", "run created", {{"run_id", run.id()}, {"job_id", run.job_id()},
                                   {"trigger", run.trigger()}});
  if (events_ != nullptr) events_->RunCreated(*job, run);
  v1::TriggerJobResponse response;
  response.set_execution_id(run.id());
  return response;
}

// ---- SchedulerApi

namespace {

v1::GetScheduledJobResponse ToScheduled(const Job& job) {
  v1::GetScheduledJobResponse out;
  out.set_job_id(job.id());
  if (job.has_next_run()) *out.mutable_next_execution_time() = job.next_run();
  *out.mutable_resource_requirements() = job.resources();
  out.set_status(job.status());
  out.set_cron_expression(job.cron_expression());
  return out;
}

}  // namespace

absl::StatusOr<v1::ScheduleJobResponse> SchedulerApi::ScheduleJob(const v1::ScheduleJobRequest& r) {
  v1::ScheduleJobResponse response;
  if (!r.job().id().empty()) {
    absl::StatusOr<Job> job = jobs_->Load("job.id", r.job().id());
    if (!job.ok()) return job.status();
    v1::UpdateJobRequest update;
    update.set_id(job->id());
    update.set_status("ACTIVE");
    update.mutable_update_mask()->add_paths("status");
    if (r.has_resource_requirements()) {
      *update.mutable_resources() = r.resource_requirements();
      update.mutable_update_mask()->add_paths("resources");
    }
    absl::StatusOr<Job> updated = jobs_->UpdateJob(update);
    if (!updated.ok()) return updated.status();
    response.set_schedule_id(updated->id());
    return response;
  }
  Job job = r.job();
  job.clear_created_at();
  job.clear_updated_at();
  job.clear_next_run();
  job.clear_last_run();
  job.clear_last_status();
  if (r.has_resource_requirements()) *job.mutable_resources() = r.resource_requirements();
  absl::StatusOr<Job> created = jobs_->CreateFrom(std::move(job));
  if (!created.ok()) {
    // Name fields as the request spells them: "job.name".
    if (absl::IsInvalidArgument(created.status())) {
      return absl::InvalidArgumentError(absl::StrCat("job.", created.status().message()));
    }
    return created.status();
  }
  response.set_schedule_id(created->id());
  return response;
}

absl::StatusOr<v1::CancelScheduledJobResponse> SchedulerApi::CancelJob(
    const v1::CancelScheduledJobRequest& r) {
  absl::StatusOr<Job> job = jobs_->Load("job_id", r.job_id());
  if (!job.ok()) return job.status();
  absl::StatusOr<Job> cancelled = jobs_->SetStatus(r.job_id(), JobStatus::kCancelled);
  if (!cancelled.ok()) return cancelled.status();
  v1::CancelScheduledJobResponse response;
  response.set_success(true);
  return response;
}

absl::StatusOr<v1::GetScheduledJobResponse> SchedulerApi::GetScheduledJob(
    const v1::GetScheduledJobRequest& r) {
  absl::StatusOr<Job> job = jobs_->Load("job_id", r.job_id());
  if (!job.ok()) return job.status();
  return ToScheduled(*job);
}

absl::StatusOr<v1::ListScheduledJobsResponse> SchedulerApi::ListScheduledJobs(
    const v1::ListScheduledJobsRequest& r) {
  v1::ListJobsRequest list;
  list.set_page_size(r.page_size());
  list.set_last_id(r.page_token());
  absl::StatusOr<v1::ListJobsResponse> page = jobs_->ListJobs(list);
  if (!page.ok()) {
    if (absl::IsInvalidArgument(page.status()) &&
        absl::StartsWith(page.status().message(), "last_id")) {
      return FieldError("page_token", "is not a token this server returned");
    }
    return page.status();
  }
  v1::ListScheduledJobsResponse response;
  for (const Job& job : page->jobs()) *response.add_jobs() = ToScheduled(job);
  response.set_next_page_token(page->next_page());
  response.set_total_count(page->total());
  return response;
}

absl::StatusOr<const scheduler::ClusterView*> SchedulerApi::Cluster() const {
  if (cluster_ == nullptr) return absl::UnimplementedError("this server has no workers");
  return cluster_;
}

absl::StatusOr<v1::ListWorkersResponse> SchedulerApi::ListWorkers(const v1::ListWorkersRequest&) {
  absl::StatusOr<const scheduler::ClusterView*> cluster = Cluster();
  if (!cluster.ok()) return cluster.status();
  v1::ListWorkersResponse response;
  for (v1::WorkerResponse& worker : (*cluster)->Workers()) {
    *response.add_workers() = std::move(worker);
  }
  return response;
}

absl::StatusOr<v1::WorkerResponse> SchedulerApi::GetWorker(const v1::GetWorkerRequest& r) {
  if (r.id().empty()) return FieldError("id", "is required");
  absl::StatusOr<const scheduler::ClusterView*> cluster = Cluster();
  if (!cluster.ok()) return cluster.status();
  std::optional<v1::WorkerResponse> worker = (*cluster)->Worker(WorkerId(r.id()));
  if (!worker) return absl::NotFoundError(absl::StrCat("worker ", r.id(), " not found"));
  return *std::move(worker);
}

absl::StatusOr<v1::GetQueueResponse> SchedulerApi::GetQueue(const v1::GetQueueRequest&) {
  absl::StatusOr<const scheduler::ClusterView*> cluster = Cluster();
  if (!cluster.ok()) return cluster.status();
  v1::GetQueueResponse response;
  for (v1::QueuedRun& run : (*cluster)->Queue()) *response.add_runs() = std::move(run);
  response.set_total(response.runs_size());
  return response;
}

// ---- ExecutionApi

absl::StatusOr<v1::ExecutionResponse> ExecutionApi::GetExecution(const v1::GetExecutionRequest& r) {
  if (absl::Status s = CheckId("id", r.id()); !s.ok()) return s;
  return store_->GetRun(RunId(r.id()));
}

absl::StatusOr<v1::ListExecutionsResponse> ExecutionApi::ListExecutions(
    const v1::ListExecutionsRequest& r) {
  storage::ListRunsQuery query;
  absl::StatusOr<int> page_size = PageSize(r.page_size());
  if (!page_size.ok()) return page_size.status();
  query.page_size = *page_size;
  if (!r.job_id().empty()) {
    if (absl::Status s = CheckId("job_id", r.job_id()); !s.ok()) return s;
    query.job_id = JobId(r.job_id());
  }
  if (!r.status().empty()) {
    std::optional<RunStatus> status = ParseRunStatus(r.status());
    if (!status) return FieldError("status", absl::StrCat("unknown status \"", r.status(), "\""));
    query.status = std::string(RunStatusName(*status));
  }
  if (absl::Status s = CheckCursor("last_id", r.last_id()); !s.ok()) return s;
  query.after_id = r.last_id();
  absl::StatusOr<storage::RunPage> page = store_->ListRuns(query);
  if (!page.ok()) return page.status();
  v1::ListExecutionsResponse response;
  for (Run& run : page->runs) *response.add_executions() = std::move(run);
  response.set_total(page->total);
  response.set_next_page(page->next_page);
  return response;
}

}  // namespace dts::api
