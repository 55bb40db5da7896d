#include "dts/api/grpc_services.h"

#include <string>

namespace dts::api {
namespace {

absl::Status Authorize(const Authenticator& auth, grpc::ServerContext* context) {
  if (!auth.enabled()) return absl::OkStatus();
  const auto& metadata = context->client_metadata();
  const auto it = metadata.find("authorization");
  if (it == metadata.end()) return auth.Check("");
  return auth.Check(absl::string_view(it->second.data(), it->second.size()));
}

// Authorizes, calls `method` on `api` and copies the result out.
template <typename Api, typename Request, typename Response, typename Result>
grpc::Status Call(Api* api, const Authenticator& auth, grpc::ServerContext* context,
                  const Request* request, Response* response,
                  absl::StatusOr<Result> (Api::*method)(const Request&)) {
  if (absl::Status s = Authorize(auth, context); !s.ok()) return ToGrpcStatus(s);
  absl::StatusOr<Result> result = (api->*method)(*request);
  if (!result.ok()) return ToGrpcStatus(result.status());
  *response = std::move(*result);
  return grpc::Status::OK;
}

}  // namespace

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), std::string(status.message()));
}

#define DTS_GRPC_METHOD(Service, Api, Method, Request, Response)                                \
  grpc::Status Service::Method(grpc::ServerContext* c, const Request* r, Response* out) {       \
    return Call(api_, *auth_, c, r, out, &Api::Method);                                        \
  }

DTS_GRPC_METHOD(GrpcJobService, JobApi, CreateJob, v1::CreateJobRequest, v1::CreateJobResponse)
DTS_GRPC_METHOD(GrpcJobService, JobApi, GetJob, v1::GetJobRequest, v1::JobResponse)
DTS_GRPC_METHOD(GrpcJobService, JobApi, ListJobs, v1::ListJobsRequest, v1::ListJobsResponse)
DTS_GRPC_METHOD(GrpcJobService, JobApi, UpdateJob, v1::UpdateJobRequest, v1::JobResponse)
DTS_GRPC_METHOD(GrpcJobService, JobApi, DeleteJob, v1::DeleteJobRequest, v1::DeleteJobResponse)
DTS_GRPC_METHOD(GrpcJobService, JobApi, CancelJob, v1::CancelJobRequest, v1::JobResponse)
DTS_GRPC_METHOD(GrpcJobService, JobApi, TriggerJob, v1::TriggerJobRequest, v1::TriggerJobResponse)
DTS_GRPC_METHOD(GrpcJobService, JobApi, PauseJob, v1::PauseJobRequest, v1::JobResponse)
DTS_GRPC_METHOD(GrpcJobService, JobApi, ResumeJob, v1::ResumeJobRequest, v1::JobResponse)
DTS_GRPC_METHOD(GrpcSchedulerService, SchedulerApi, ScheduleJob, v1::ScheduleJobRequest, v1::ScheduleJobResponse)
DTS_GRPC_METHOD(GrpcSchedulerService, SchedulerApi, CancelJob, v1::CancelScheduledJobRequest, v1::CancelScheduledJobResponse)
DTS_GRPC_METHOD(GrpcSchedulerService, SchedulerApi, GetScheduledJob, v1::GetScheduledJobRequest, v1::GetScheduledJobResponse)
DTS_GRPC_METHOD(GrpcSchedulerService, SchedulerApi, ListScheduledJobs, v1::ListScheduledJobsRequest, v1::ListScheduledJobsResponse)
DTS_GRPC_METHOD(GrpcSchedulerService, SchedulerApi, ListWorkers, v1::ListWorkersRequest, v1::ListWorkersResponse)
DTS_GRPC_METHOD(GrpcSchedulerService, SchedulerApi, GetWorker, v1::GetWorkerRequest, v1::WorkerResponse)
DTS_GRPC_METHOD(GrpcSchedulerService, SchedulerApi, GetQueue, v1::GetQueueRequest, v1::GetQueueResponse)
DTS_GRPC_METHOD(GrpcExecutionService, ExecutionApi, GetExecution, v1::GetExecutionRequest, v1::ExecutionResponse)
DTS_GRPC_METHOD(GrpcExecutionService, ExecutionApi, ListExecutions, v1::ListExecutionsRequest, v1::ListExecutionsResponse)

#undef DTS_GRPC_METHOD

}  // namespace dts::api
