#include "dts/api/access.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "dts/v1/job.pb.h"

namespace dts::api {
namespace {

constexpr Role kViewer = Role::kViewer;
constexpr Role kOperator = Role::kOperator;
constexpr Role kAdmin = Role::kAdmin;
constexpr bool kReads = false;
constexpr bool kChanges = true;

// THE table. Viewers read; operators also create, update, trigger, pause,
// resume and schedule; only admins delete, cancel and manage workers.
constexpr AccessRule kRules[] = {
    {"dts.v1.JobService/CreateJob", "POST", "/v1/jobs", kOperator, kChanges},
    {"dts.v1.JobService/GetJob", "GET", "/v1/jobs/{id}", kViewer, kReads},
    {"dts.v1.JobService/ListJobs", "GET", "/v1/jobs", kViewer, kReads},
    {"dts.v1.JobService/UpdateJob", "PUT", "/v1/jobs/{id}", kOperator, kChanges},
    {"dts.v1.JobService/DeleteJob", "DELETE", "/v1/jobs/{id}", kAdmin, kChanges},
    {"dts.v1.JobService/CancelJob", "POST", "/v1/jobs/{id}/cancel", kAdmin, kChanges},
    {"dts.v1.JobService/TriggerJob", "POST", "/v1/jobs/{id}/run", kOperator, kChanges},
    {"dts.v1.JobService/PauseJob", "POST", "/v1/jobs/{id}/pause", kOperator, kChanges},
    {"dts.v1.JobService/ResumeJob", "POST", "/v1/jobs/{id}/resume", kOperator, kChanges},
    {"dts.v1.SchedulerService/ScheduleJob", "POST", "/v1/scheduler/jobs", kOperator, kChanges},
    {"dts.v1.SchedulerService/CancelJob", "DELETE", "/v1/scheduler/jobs/{id}", kAdmin, kChanges},
    {"dts.v1.SchedulerService/GetScheduledJob", "GET", "/v1/scheduler/jobs/{id}", kViewer, kReads},
    {"dts.v1.SchedulerService/ListScheduledJobs", "GET", "/v1/scheduler/jobs", kViewer, kReads},
    {"dts.v1.SchedulerService/GetQueue", "GET", "/v1/scheduler/queue", kViewer, kReads},
    {"dts.v1.SchedulerService/ListWorkers", "GET", "/v1/workers", kViewer, kReads},
    {"dts.v1.SchedulerService/GetWorker", "GET", "/v1/workers/{id}", kViewer, kReads},
    {"dts.v1.ExecutionService/GetExecution", "GET", "/v1/executions/{id}", kViewer, kReads},
    {"dts.v1.ExecutionService/ListExecutions", "GET", "/v1/executions", kViewer, kReads},
    // HTTP only.
    {"", "GET", "/v1/jobs/{id}/executions", kViewer, kReads},
    {"", "GET", "/v1/cron/next", kViewer, kReads},
    {"", "GET", "/metrics", kViewer, kReads},
};

// The string field `name` of `message`, "" when it has none.
std::string StringField(const google::protobuf::Message& message, absl::string_view name) {
  const google::protobuf::FieldDescriptor* field =
      message.GetDescriptor()->FindFieldByName(std::string(name));
  if (field == nullptr || field->is_repeated() ||
      field->cpp_type() != google::protobuf::FieldDescriptor::CPPTYPE_STRING) {
    return "";
  }
  return message.GetReflection()->GetString(message, field);
}

std::string OperationOf(const AccessRule& rule, const CallInfo& call) {
  return rule.grpc_method.empty() ? std::string(call.route) : std::string(rule.grpc_method);
}

}  // namespace

absl::Span<const AccessRule> AccessRules() { return kRules; }

const AccessRule* FindGrpcRule(absl::string_view method) {
  absl::ConsumePrefix(&method, "/");
  for (const AccessRule& rule : kRules) {
    if (!rule.grpc_method.empty() && rule.grpc_method == method) return &rule;
  }
  return nullptr;
}

const AccessRule* FindHttpRule(absl::string_view method, absl::string_view pattern) {
  for (const AccessRule& rule : kRules) {
    if (rule.http_method == method && rule.http_pattern == pattern) return &rule;
  }
  return nullptr;
}

Role RequiredRole(const AccessRule& rule, const google::protobuf::Message& request) {
  // Otherwise an operator could cancel (an admin's action) by updating the
  // status; with a mask, "status" absent from it means the status is kept.
  if (const auto* update = dynamic_cast<const v1::UpdateJobRequest*>(&request); update != nullptr) {
    bool sets_status = update->has_status();
    if (update->has_update_mask()) {
      sets_status = false;
      for (const std::string& path : update->update_mask().paths()) sets_status |= path == "status";
    }
    if (sets_status && absl::EqualsIgnoreCase(update->status(), "cancelled")) return Role::kAdmin;
  }
  return rule.role;
}

std::string TargetOf(const google::protobuf::Message& request,
                     const google::protobuf::Message* response) {
  for (absl::string_view name : {"id", "job_id"}) {
    if (std::string id = StringField(request, name); !id.empty()) return id;
  }
  if (response == nullptr) return "";
  for (absl::string_view name : {"job_id", "schedule_id", "execution_id"}) {
    if (std::string id = StringField(*response, name); !id.empty()) return id;
  }
  return "";
}

absl::StatusOr<Principal> AccessControl::Admit(const AccessRule& rule,
                                               absl::string_view authorization,
                                               const CallInfo& call) const {
  absl::StatusOr<Principal> caller = auth_->Authenticate(authorization);
  if (!caller.ok()) {
    Audit(rule, nullptr, call, caller.status().code());
    return caller.status();
  }
  absl::Status status;
  // Only tokens are limited: with auth off there is no one to tell apart.
  if (limiter_ != nullptr && caller->token_index >= 0) status = limiter_->Take(caller->token_index);
  if (status.ok() && caller->role < rule.role) {
    status = absl::PermissionDeniedError(
        absl::StrCat(OperationOf(rule, call), " needs the ", RoleName(rule.role), " role; token \"",
                     caller->name, "\" has ", RoleName(caller->role)));
  }
  if (!status.ok()) {
    Audit(rule, &*caller, call, status.code());
    return status;
  }
  return caller;
}

absl::Status AccessControl::CheckRequest(const AccessRule& rule, const Principal& caller,
                                         const google::protobuf::Message& request) const {
  const Role needed = RequiredRole(rule, request);
  if (caller.role >= needed) return absl::OkStatus();
  return absl::PermissionDeniedError(absl::StrCat("this request needs the ", RoleName(needed),
                                                  " role; token \"", caller.name, "\" has ",
                                                  RoleName(caller.role)));
}

void AccessControl::Finish(const AccessRule& rule, const Principal& caller, const CallInfo& call,
                           absl::StatusCode code) const {
  Audit(rule, &caller, call, code);
}

void AccessControl::Audit(const AccessRule& rule, const Principal* caller, const CallInfo& call,
                          absl::StatusCode code) const {
  if (audit_ == nullptr || !rule.mutating) return;
  const std::string operation = OperationOf(rule, call);
  audit_->Record({.token = caller != nullptr ? absl::string_view(caller->name) : "anonymous",
                  .role = caller != nullptr ? std::optional<Role>(caller->role) : std::nullopt,
                  .transport = call.transport,
                  .operation = operation,
                  .route = call.route,
                  .target = call.target,
                  .peer = call.peer,
                  .code = code});
}

}  // namespace dts::api
