#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "dts/common/clock.h"
#include "dts/execution/executor.h"
#include "execution/cgroup.h"

namespace dts::execution {

// The work of one run. LocalExecutor calls Run() once on a thread of the run's
// own; Cancel() may come from any thread at any time before destruction.
class RunTask {
 public:
  virtual ~RunTask() = default;

  // Does the work on the calling thread and returns the outcome, with
  // start_time and end_time from the injected clock.
  virtual RunOutcome Run() = 0;

  // Makes Run() end soon with CANCELLED (before or during it). Thread-safe and
  // non-blocking; further calls, and calls after Run() returned, do nothing.
  virtual void Cancel() = 0;
};

// How the executor enforces resource grants, decided once at creation.
struct EnforcementContext {
  // Set: memory (and cpu, if cgroup->cpu) grants get a per-run cgroup here.
  std::optional<CgroupParent> cgroup;
  EnforcementCapabilities capabilities;
  // Numbers the per-run cgroups.
  mutable std::atomic<uint64_t> next_cgroup{0};
};

// What every task needs from its executor. The pointees outlive the tasks.
struct TaskContext {
  const Clock* clock;
  const ExecutorOptions* options;
  // The minimal environment of every command (PATH, LANG, HOME).
  const std::map<std::string, std::string>* base_env;
  const EnforcementContext* enforcement;
};

// INVALID_ARGUMENT for a spec that cannot run (empty argv, bad env name, ...);
// other errors when a resource (eventfd, curl handle) cannot be had. Either
// way the run FAILS with the status message.
absl::StatusOr<std::unique_ptr<RunTask>> CreateCommandTask(RunRequest request,
                                                           const TaskContext& context);
absl::StatusOr<std::unique_ptr<RunTask>> CreateHttpTask(RunRequest request,
                                                        const TaskContext& context);
// Requires context.options->kafka_publish.
std::unique_ptr<RunTask> CreateKafkaTask(RunRequest request, const TaskContext& context);

// "timed out after 2s".
std::string TimedOutMessage(absl::Duration timeout);

}  // namespace dts::execution
