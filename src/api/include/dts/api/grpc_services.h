#pragma once

#include "dts/api/access.h"
#include "dts/api/services.h"
#include "dts/v1/execution.grpc.pb.h"
#include "dts/v1/job.grpc.pb.h"
#include "dts/v1/scheduler.grpc.pb.h"

namespace dts::api {

// gRPC front ends of the API classes: they admit the caller through the
// access table (token, rate, role; audit), call the API and map absl status
// codes one to one onto gRPC codes.
class GrpcJobService final : public v1::JobService::Service {
 public:
  GrpcJobService(JobApi* api, const AccessControl* access) : api_(api), access_(access) {}

  grpc::Status CreateJob(grpc::ServerContext* c, const v1::CreateJobRequest* r, v1::CreateJobResponse* out) override;
  grpc::Status GetJob(grpc::ServerContext* c, const v1::GetJobRequest* r, v1::JobResponse* out) override;
  grpc::Status ListJobs(grpc::ServerContext* c, const v1::ListJobsRequest* r, v1::ListJobsResponse* out) override;
  grpc::Status UpdateJob(grpc::ServerContext* c, const v1::UpdateJobRequest* r, v1::JobResponse* out) override;
  grpc::Status DeleteJob(grpc::ServerContext* c, const v1::DeleteJobRequest* r, v1::DeleteJobResponse* out) override;
  grpc::Status CancelJob(grpc::ServerContext* c, const v1::CancelJobRequest* r, v1::JobResponse* out) override;
  grpc::Status TriggerJob(grpc::ServerContext* c, const v1::TriggerJobRequest* r, v1::TriggerJobResponse* out) override;
  grpc::Status PauseJob(grpc::ServerContext* c, const v1::PauseJobRequest* r, v1::JobResponse* out) override;
  grpc::Status ResumeJob(grpc::ServerContext* c, const v1::ResumeJobRequest* r, v1::JobResponse* out) override;

 private:
  JobApi* api_;
  const AccessControl* access_;
};

class GrpcSchedulerService final : public v1::SchedulerService::Service {
 public:
  GrpcSchedulerService(SchedulerApi* api, const AccessControl* access) : api_(api), access_(access) {}

  grpc::Status ScheduleJob(grpc::ServerContext* c, const v1::ScheduleJobRequest* r, v1::ScheduleJobResponse* out) override;
  grpc::Status CancelJob(grpc::ServerContext* c, const v1::CancelScheduledJobRequest* r, v1::CancelScheduledJobResponse* out) override;
  grpc::Status GetScheduledJob(grpc::ServerContext* c, const v1::GetScheduledJobRequest* r, v1::GetScheduledJobResponse* out) override;
  grpc::Status ListScheduledJobs(grpc::ServerContext* c, const v1::ListScheduledJobsRequest* r, v1::ListScheduledJobsResponse* out) override;
  grpc::Status ListWorkers(grpc::ServerContext* c, const v1::ListWorkersRequest* r, v1::ListWorkersResponse* out) override;
  grpc::Status GetWorker(grpc::ServerContext* c, const v1::GetWorkerRequest* r, v1::WorkerResponse* out) override;
  grpc::Status GetQueue(grpc::ServerContext* c, const v1::GetQueueRequest* r, v1::GetQueueResponse* out) override;

 private:
  SchedulerApi* api_;
  const AccessControl* access_;
};

class GrpcExecutionService final : public v1::ExecutionService::Service {
 public:
  GrpcExecutionService(ExecutionApi* api, const AccessControl* access) : api_(api), access_(access) {}

  grpc::Status GetExecution(grpc::ServerContext* c, const v1::GetExecutionRequest* r, v1::ExecutionResponse* out) override;
  grpc::Status ListExecutions(grpc::ServerContext* c, const v1::ListExecutionsRequest* r, v1::ListExecutionsResponse* out) override;

 private:
  ExecutionApi* api_;
  const AccessControl* access_;
};

grpc::Status ToGrpcStatus(const absl::Status& status);

}  // namespace dts::api
