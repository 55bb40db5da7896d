#pragma once

#include "absl/status/statusor.h"
#include "dts/common/clock.h"
#include "dts/common/id_generator.h"
#include "dts/scheduler/cluster_view.h"
#include "dts/scheduler/job_events.h"
#include "dts/storage/store.h"
#include "dts/v1/execution.pb.h"
#include "dts/v1/job.pb.h"
#include "dts/v1/scheduler.pb.h"

namespace dts::api {

// The transport-independent API: gRPC and HTTP/JSON both call these. Every
// method validates its input (INVALID_ARGUMENT naming the field) before it
// touches storage. Thread-safe; the dependencies must outlive the object.
class JobApi {
 public:
  // `events` (may be null) hears about every change once it is stored;
  // `cluster` (may be null) refuses jobs that no worker could ever run.
  JobApi(storage::Store* store, const Clock* clock, IdGenerator* ids,
         scheduler::JobEvents* events = nullptr, const scheduler::ClusterView* cluster = nullptr)
      : store_(store), clock_(clock), ids_(ids), events_(events), cluster_(cluster) {}

  absl::StatusOr<v1::CreateJobResponse> CreateJob(const v1::CreateJobRequest& request);
  absl::StatusOr<v1::JobResponse> GetJob(const v1::GetJobRequest& request);
  absl::StatusOr<v1::ListJobsResponse> ListJobs(const v1::ListJobsRequest& request);
  absl::StatusOr<v1::JobResponse> UpdateJob(const v1::UpdateJobRequest& request);
  absl::StatusOr<v1::DeleteJobResponse> DeleteJob(const v1::DeleteJobRequest& request);
  absl::StatusOr<v1::JobResponse> CancelJob(const v1::CancelJobRequest& request);
  absl::StatusOr<v1::TriggerJobResponse> TriggerJob(const v1::TriggerJobRequest& request);
  absl::StatusOr<v1::JobResponse> PauseJob(const v1::PauseJobRequest& request);
  absl::StatusOr<v1::JobResponse> ResumeJob(const v1::ResumeJobRequest& request);

  // Shared with the scheduler API: validates, fills defaults and stores a
  // new job; returns it as stored.
  absl::StatusOr<Job> CreateFrom(Job job);
  // Loads a job by its id text, checking the id's form first.
  absl::StatusOr<Job> Load(absl::string_view field, const std::string& id);
  // Moves a job to `status`, recomputing next_run; returns it as stored.
  absl::StatusOr<Job> SetStatus(const std::string& id, JobStatus status);

 private:
  absl::Status Store(Job& job, bool schedule_changed);

  storage::Store* store_;
  const Clock* clock_;
  IdGenerator* ids_;
  scheduler::JobEvents* events_;
  const scheduler::ClusterView* cluster_;
};

class SchedulerApi {
 public:
  // `cluster` may be null: the worker and queue routes are then UNIMPLEMENTED.
  explicit SchedulerApi(JobApi* jobs, const scheduler::ClusterView* cluster = nullptr)
      : jobs_(jobs), cluster_(cluster) {}

  absl::StatusOr<v1::ScheduleJobResponse> ScheduleJob(const v1::ScheduleJobRequest& request);
  absl::StatusOr<v1::CancelScheduledJobResponse> CancelJob(const v1::CancelScheduledJobRequest& request);
  absl::StatusOr<v1::GetScheduledJobResponse> GetScheduledJob(const v1::GetScheduledJobRequest& request);
  absl::StatusOr<v1::ListScheduledJobsResponse> ListScheduledJobs(
      const v1::ListScheduledJobsRequest& request);
  absl::StatusOr<v1::ListWorkersResponse> ListWorkers(const v1::ListWorkersRequest& request);
  absl::StatusOr<v1::WorkerResponse> GetWorker(const v1::GetWorkerRequest& request);
  absl::StatusOr<v1::GetQueueResponse> GetQueue(const v1::GetQueueRequest& request);

 private:
  absl::StatusOr<const scheduler::ClusterView*> Cluster() const;

  JobApi* jobs_;
  const scheduler::ClusterView* cluster_;
};

class ExecutionApi {
 public:
  explicit ExecutionApi(storage::Store* store) : store_(store) {}

  absl::StatusOr<v1::ExecutionResponse> GetExecution(const v1::GetExecutionRequest& request);
  absl::StatusOr<v1::ListExecutionsResponse> ListExecutions(const v1::ListExecutionsRequest& request);

 private:
  storage::Store* store_;
};

}  // namespace dts::api
