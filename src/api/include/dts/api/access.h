#pragma once

// Who may call what: the one table of operations and the role each needs,
// which both the HTTP gateway and the gRPC services consult, so the two
// transports cannot disagree (docs/security.md#authentication-and-roles).

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "dts/api/audit_log.h"
#include "dts/api/auth.h"
#include "dts/api/rate_limiter.h"
#include "google/protobuf/message.h"

namespace dts::api {

// One operation. Every route of the HTTP gateway and every method of the
// three gRPC services must have one, or it is not served (fail closed).
struct AccessRule {
  absl::string_view grpc_method;   // "dts.v1.JobService/CreateJob"; "" when HTTP only
  absl::string_view http_method;   // "" when gRPC only
  absl::string_view http_pattern;  // the router pattern ("/v1/jobs/{id}")
  Role role;
  bool mutating;  // changes something: audited
};

absl::Span<const AccessRule> AccessRules();
// By ServerContext-style method name ("/dts.v1.JobService/CreateJob") or
// without the leading '/'. Null when the table has none.
const AccessRule* FindGrpcRule(absl::string_view method);
const AccessRule* FindHttpRule(absl::string_view method, absl::string_view pattern);

// The role this particular request needs, at least the rule's: an
// UpdateJob that sets status CANCELLED is a cancel, which needs admin.
Role RequiredRole(const AccessRule& rule, const google::protobuf::Message& request);

// The id a call acted on: the request's `id` or `job_id`, else (a create)
// the response's `job_id`, `schedule_id` or `execution_id`. Empty if none.
std::string TargetOf(const google::protobuf::Message& request,
                     const google::protobuf::Message* response);

// Where a call came from and what it names, for the audit log.
struct CallInfo {
  absl::string_view transport{};  // "http" or "grpc"
  absl::string_view route{};      // "POST /v1/jobs/{id}/run" or the gRPC method
  absl::string_view target{};
  absl::string_view peer{};
};

// Authentication, the per-token rate limit, the role check and the audit
// log of one server. The pointers must outlive it; `limiter` and `audit`
// may be null (no limit, no audit).
class AccessControl {
 public:
  AccessControl(const Authenticator* auth, RateLimiter* limiter, const AuditLog* audit)
      : auth_(auth), limiter_(limiter), audit_(audit) {}

  bool auth_enabled() const { return auth_->enabled(); }

  // The caller, once its token is known (else UNAUTHENTICATED), within its
  // rate (else RESOURCE_EXHAUSTED with RetryAfterSeconds) and holding the
  // rule's role (else PERMISSION_DENIED naming it). A refused call of a
  // mutating rule is audited here.
  absl::StatusOr<Principal> Admit(const AccessRule& rule, absl::string_view authorization,
                                  const CallInfo& call) const;
  // PERMISSION_DENIED when `request` needs more than the caller's role
  // (RequiredRole).
  absl::Status CheckRequest(const AccessRule& rule, const Principal& caller,
                            const google::protobuf::Message& request) const;
  // Audits the outcome of an admitted call of a mutating rule; no-op for
  // other rules.
  void Finish(const AccessRule& rule, const Principal& caller, const CallInfo& call,
              absl::StatusCode code) const;

 private:
  void Audit(const AccessRule& rule, const Principal* caller, const CallInfo& call,
             absl::StatusCode code) const;

  const Authenticator* auth_;
  RateLimiter* limiter_;
  const AuditLog* audit_;
};

}  // namespace dts::api
