#pragma once

#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "dts/model/ids.h"
#include "dts/v1/execution.pb.h"
#include "dts/v1/job.pb.h"

namespace dts {

// The API messages double as the model's value types (docs/design.md):
// a Job is the JobResponse resource, a Run is the ExecutionResponse.
using Job = v1::JobResponse;
using Run = v1::ExecutionResponse;

enum class JobStatus { kActive, kPending, kScheduled, kRunning, kCompleted, kFailed, kPaused, kCancelled, kRetrying };
enum class RunStatus { kPending, kQueued, kRunning, kCompleted, kFailed, kTimedOut, kCancelled, kSkipped, kMissed, kRetrying };
enum class OverlapPolicy { kAllow, kForbid, kReplace };
enum class MisfirePolicy { kRunOnce, kSkip, kRunAll };
enum class Trigger { kSchedule, kManual, kRetry, kCatchUp };

// Parse accepts any case ("active", "Paused"); Name gives the canonical
// upper-case form stored and returned by the API.
std::optional<JobStatus> ParseJobStatus(absl::string_view text);
absl::string_view JobStatusName(JobStatus s);
std::optional<RunStatus> ParseRunStatus(absl::string_view text);
absl::string_view RunStatusName(RunStatus s);
std::optional<OverlapPolicy> ParseOverlapPolicy(absl::string_view text);
absl::string_view OverlapPolicyName(OverlapPolicy p);
std::optional<MisfirePolicy> ParseMisfirePolicy(absl::string_view text);
absl::string_view MisfirePolicyName(MisfirePolicy p);
absl::string_view TriggerName(Trigger t);

// A job in one of these statuses fires on its schedule.
bool FiresOnSchedule(JobStatus s);

// Validation limits (docs/api.md).
inline constexpr size_t kMaxNameLength = 200;
inline constexpr size_t kMaxMetadataEntries = 64;
inline constexpr size_t kMaxMetadataKeyBytes = 128;
inline constexpr size_t kMaxMetadataValueBytes = 4096;
inline constexpr size_t kMaxRequestBytes = 1 << 20;
// A command's argv: entries, bytes of one entry (Linux refuses a longer one
// at exec: MAX_ARG_STRLEN is 128 KiB with the NUL), bytes of all entries.
inline constexpr size_t kMaxArgvEntries = 1024;
inline constexpr size_t kMaxArgBytes = 128 * 1024 - 1;
inline constexpr size_t kMaxArgvTotalBytes = 256 * 1024;
// A command's env: variables, bytes of a name, of a value, of names and values together.
inline constexpr size_t kMaxEnvEntries = 128;
inline constexpr size_t kMaxEnvNameBytes = 128;
inline constexpr size_t kMaxEnvValueBytes = 32 * 1024;
inline constexpr size_t kMaxEnvTotalBytes = 64 * 1024;
// A command's working_dir (PATH_MAX).
inline constexpr size_t kMaxWorkingDirBytes = 4096;

// A valid name for a job's environment variable: [A-Za-z_][A-Za-z0-9_]*, at
// most kMaxEnvNameBytes.
bool ValidEnvName(absl::string_view name);

// Default resource request of a job that names none.
inline constexpr int64_t kDefaultCpuMillis = 100;
inline constexpr int64_t kDefaultMemoryMib = 64;

// Fills defaults (status ACTIVE, timezone UTC, policies, resources) and
// canonicalises enum-like strings. Does not validate.
void ApplyJobDefaults(Job& job);

// Checks every field of a job (after ApplyJobDefaults) as of `now`. INVALID_ARGUMENT
// names the field: "cron_expression: invalid minute field ...".
absl::Status ValidateJob(const Job& job, absl::Time now);

// The next fire strictly after `after` for the job's schedule, or nullopt if
// it never fires. The job must have passed ValidateJob.
absl::StatusOr<std::optional<absl::Time>> NextFireTime(const Job& job, absl::Time after);

}  // namespace dts
