#pragma once

#include "absl/strings/string_view.h"
#include "dts/model/job.h"

namespace dts {

// A log line for `event` ("run started", "run ended") of `run`, with its
// ids, status, attempt, worker and error, under the id of the API request
// that created it (Run.request_id). Level: info for a run an API request
// created, so a request can be followed into its run's lines; warn for a
// run that ended FAILED, TIMED_OUT or MISSED; debug for the rest (a
// scheduler fires thousands of runs a second).
void LogRun(absl::string_view component, absl::string_view event, const Run& run);

}  // namespace dts
