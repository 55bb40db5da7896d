#include "dts/model/run_log.h"

#include <optional>
#include <string>

#include "dts/log/log.h"

namespace dts {
namespace {

log::Level LevelOf(const Run& run) {
  if (!run.request_id().empty()) return log::Level::kInfo;
  const std::optional<RunStatus> status = ParseRunStatus(run.status());
  if (status == RunStatus::kFailed || status == RunStatus::kTimedOut ||
      status == RunStatus::kMissed) {
    return log::Level::kWarn;
  }
  return log::Level::kDebug;
}

}  // namespace

void LogRun(absl::string_view component, absl::string_view event, const Run& run) {
  const log::Level level = LevelOf(run);
  if (!log::Enabled(level)) return;
  log::Fields fields = {{"run_id", run.id()},
                        {"job_id", run.job_id()},
                        {"status", run.status()},
                        {"trigger", run.trigger()},
                        {"attempt", std::to_string(run.attempt())}};
  if (!run.worker_id().empty()) fields.emplace_back("worker_id", run.worker_id());
  if (!run.error().empty()) fields.emplace_back("error", run.error());
  // The run's own request, not whatever this thread serves now.
  log::RequestScope scope(run.request_id());
  log::Write(level, component, event, fields);
}

}  // namespace dts
