#include "dts/api/grpc_services.h"

#include <chrono>
#include <string>

#include "absl/strings/str_cat.h"
#include "dts/http/router.h"
#include "dts/log/log.h"
#include "dts/metrics/metrics.h"

namespace dts::api {
namespace {

// One method's series of dts_api_request_duration_seconds, by code.
class GrpcLatency {
 public:
  explicit GrpcLatency(std::string method)
      : cache_(&http::ApiRequestLatency(), {"grpc", std::move(method)}) {}
  void Record(grpc::StatusCode code, std::chrono::steady_clock::time_point start) {
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    cache_.For(code, absl::StatusCodeToString(static_cast<absl::StatusCode>(code))).Observe(seconds);
  }

 private:
  metrics::CodeCache<17> cache_;  // gRPC has 17 codes
};

// The call's x-request-id (kept when well-formed, else a new one), sent
// back in the initial metadata: the id of its log lines and of the runs it
// creates.
std::string RequestIdOf(grpc::ServerContext* context) {
  const auto& metadata = context->client_metadata();
  const auto it = metadata.find("x-request-id");
  std::string id = log::RequestIdFrom(
      it == metadata.end() ? absl::string_view() : absl::string_view(it->second.data(), it->second.size()));
  context->AddInitialMetadata("x-request-id", id);
  return id;
}

std::string AuthorizationOf(grpc::ServerContext* context) {
  const auto& metadata = context->client_metadata();
  const auto it = metadata.find("authorization");
  if (it == metadata.end()) return "";
  return std::string(it->second.data(), it->second.size());
}

// Admits the caller through the access table, calls `method` on `api`,
// audits the outcome and copies the result out. `full_method` is
// "dts.v1.JobService/CreateJob".
template <typename Api, typename Request, typename Response, typename Result>
grpc::Status Call(Api* api, const AccessControl& access, absl::string_view full_method,
                  grpc::ServerContext* context, const Request* request, Response* response,
                  absl::StatusOr<Result> (Api::*method)(const Request&)) {
  const AccessRule* rule = FindGrpcRule(full_method);
  // Fail closed; access_test checks that every method has a rule.
  if (rule == nullptr) return grpc::Status(grpc::StatusCode::INTERNAL, "no access rule for this method");
  // The target and peer are for the audit log, which records only mutating calls.
  std::string target = rule->mutating ? TargetOf(*request, nullptr) : std::string();
  const std::string peer = rule->mutating ? context->peer() : std::string();
  CallInfo call{.transport = "grpc", .route = full_method, .target = target, .peer = peer};
  absl::StatusOr<Principal> caller = access.Admit(*rule, AuthorizationOf(context), call);
  if (!caller.ok()) {
    if (int seconds = RetryAfterSeconds(caller.status()); seconds > 0) {
      context->AddTrailingMetadata("retry-after", absl::StrCat(seconds));
    }
    return ToGrpcStatus(caller.status());
  }
  if (absl::Status s = access.CheckRequest(*rule, *caller, *request); !s.ok()) {
    access.Finish(*rule, *caller, call, s.code());
    return ToGrpcStatus(s);
  }
  absl::StatusOr<Result> result = (api->*method)(*request);
  if (rule->mutating) {
    if (std::string id = TargetOf(*request, result.ok() ? &*result : nullptr); !id.empty()) target = id;
  }
  call.target = target;
  access.Finish(*rule, *caller, call, result.status().code());
  if (!result.ok()) return ToGrpcStatus(result.status());
  *response = std::move(*result);
  return grpc::Status::OK;
}

}  // namespace

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), std::string(status.message()));
}

// Service is the proto service's name, also of the access rule.
#define DTS_GRPC_METHOD(Service, Api, Method, Request, Response)                                \
  grpc::Status Grpc##Service::Method(grpc::ServerContext* c, const Request* r, Response* out) { \
    static GrpcLatency latency("/dts.v1." #Service "/" #Method);                                \
    const auto start = std::chrono::steady_clock::now();                                        \
    log::RequestScope scope(RequestIdOf(c));                                                    \
    grpc::Status status =                                                                       \
        Call(api_, *access_, "dts.v1." #Service "/" #Method, c, r, out, &Api::Method);          \
    latency.Record(status.error_code(), start);                                                 \
    return status;                                                                              \
  }

DTS_GRPC_METHOD(JobService, JobApi, CreateJob, v1::CreateJobRequest, v1::CreateJobResponse)
DTS_GRPC_METHOD(JobService, JobApi, GetJob, v1::GetJobRequest, v1::JobResponse)
DTS_GRPC_METHOD(JobService, JobApi, ListJobs, v1::ListJobsRequest, v1::ListJobsResponse)
DTS_GRPC_METHOD(JobService, JobApi, UpdateJob, v1::UpdateJobRequest, v1::JobResponse)
DTS_GRPC_METHOD(JobService, JobApi, DeleteJob, v1::DeleteJobRequest, v1::DeleteJobResponse)
DTS_GRPC_METHOD(JobService, JobApi, CancelJob, v1::CancelJobRequest, v1::JobResponse)
DTS_GRPC_METHOD(JobService, JobApi, TriggerJob, v1::TriggerJobRequest, v1::TriggerJobResponse)
DTS_GRPC_METHOD(JobService, JobApi, PauseJob, v1::PauseJobRequest, v1::JobResponse)
DTS_GRPC_METHOD(JobService, JobApi, ResumeJob, v1::ResumeJobRequest, v1::JobResponse)
DTS_GRPC_METHOD(SchedulerService, SchedulerApi, ScheduleJob, v1::ScheduleJobRequest, v1::ScheduleJobResponse)
DTS_GRPC_METHOD(SchedulerService, SchedulerApi, CancelJob, v1::CancelScheduledJobRequest, v1::CancelScheduledJobResponse)
DTS_GRPC_METHOD(SchedulerService, SchedulerApi, GetScheduledJob, v1::GetScheduledJobRequest, v1::GetScheduledJobResponse)
DTS_GRPC_METHOD(SchedulerService, SchedulerApi, ListScheduledJobs, v1::ListScheduledJobsRequest, v1::ListScheduledJobsResponse)
DTS_GRPC_METHOD(SchedulerService, SchedulerApi, ListWorkers, v1::ListWorkersRequest, v1::ListWorkersResponse)
DTS_GRPC_METHOD(SchedulerService, SchedulerApi, GetWorker, v1::GetWorkerRequest, v1::WorkerResponse)
DTS_GRPC_METHOD(SchedulerService, SchedulerApi, GetQueue, v1::GetQueueRequest, v1::GetQueueResponse)
DTS_GRPC_METHOD(ExecutionService, ExecutionApi, GetExecution, v1::GetExecutionRequest, v1::ExecutionResponse)
DTS_GRPC_METHOD(ExecutionService, ExecutionApi, ListExecutions, v1::ListExecutionsRequest, v1::ListExecutionsResponse)

#undef DTS_GRPC_METHOD

}  // namespace dts::api
