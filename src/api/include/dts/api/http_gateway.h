#pragma once

#include "dts/api/access.h"
#include "dts/api/services.h"
#include "dts/common/clock.h"
#include "dts/http/router.h"

namespace dts::api {

// Registers every HTTP/JSON route (docs/api.md) on `router`, calling the same
// API objects as gRPC. JSON uses the proto field names and also accepts
// lowerCamelCase. Every route but /healthz is behind `access` (its rule in
// AccessRules(); a route without one makes router.status() an error).
// `clock` is "now" for GET /v1/cron/next. All pointers must outlive the
// router.
void RegisterHttpRoutes(http::Router& router, JobApi* jobs, SchedulerApi* scheduler,
                        ExecutionApi* executions, const AccessControl* access, const Clock* clock);

}  // namespace dts::api
