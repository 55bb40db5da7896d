#pragma once

#include "absl/time/time.h"
#include "dts/model/ids.h"

namespace dts::scheduler {

// The id of attempt `attempt` (1-based) of the fire of `job` at `scheduled`:
// a name-based (version 5, SHA-1) UUID of "<job id>/<unix micros>/<attempt>".
// The same fire always gets the same id, on any node and after any restart,
// so storage can refuse the second record of a fire: this is what makes
// recovery and failover unable to double a run.
RunId ScheduledRunId(const JobId& job, absl::Time scheduled, int attempt);

}  // namespace dts::scheduler
