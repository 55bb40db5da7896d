#pragma once

#include "dts/api/auth.h"
#include "dts/api/services.h"
#include "dts/common/clock.h"
#include "dts/http/router.h"

namespace dts::api {

// Registers every HTTP/JSON route (docs/api.md) on `router`, calling the same
// API objects as gRPC. JSON uses the proto field names and also accepts
// lowerCamelCase. `clock` is "now" for GET /v1/cron/next. All pointers must
// outlive the router.
void RegisterHttpRoutes(http::Router& router, JobApi* jobs, SchedulerApi* scheduler,
                        ExecutionApi* executions, const Authenticator* auth, const Clock* clock);

}  // namespace dts::api
