#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "dts/model/ids.h"
#include "dts/model/job.h"

namespace dts::storage {

struct ListJobsQuery {
  int page_size = 50;                   // 1..1000, checked by the caller
  std::optional<std::string> status;    // canonical upper-case status, or all
  std::string after_id;                 // keyset cursor: ids strictly greater
};

struct JobPage {
  std::vector<Job> jobs;  // ordered by id
  int64_t total = 0;      // all jobs matching the status filter
  std::string next_page;  // id of the last job when more follow, else empty
};

struct ListRunsQuery {
  std::optional<JobId> job_id;
  std::optional<std::string> status;  // canonical upper-case
  int page_size = 50;
  std::string after_id;
};

struct RunPage {
  std::vector<Run> runs;  // ordered by id
  int64_t total = 0;
  std::string next_page;
};

// One fire as the engine records it: the run, and where the job's schedule
// stands after it.
struct FireRecord {
  Run run;
  // The job's next fire after this one; nullopt when it has none.
  std::optional<absl::Time> next_run;
  // The scheduled time this record accounts for (the job's last_run).
  absl::Time last_run;
  // When set, the job's new status (a one-off job becomes COMPLETED).
  std::optional<std::string> job_status = std::nullopt;
  // The job's updated_at when the fire was planned. When the stored job has
  // changed since (an API edit raced the fire), its next_run and status are
  // left alone: they were computed for the new definition.
  std::optional<absl::Time> job_updated_at = std::nullopt;
};

// Durable storage for jobs and runs. Implementations are thread-safe.
// Errors: NOT_FOUND for a missing id, ALREADY_EXISTS for a duplicate id,
// UNAVAILABLE when the backend cannot be reached, INTERNAL otherwise.
class Store {
 public:
  virtual ~Store() = default;

  virtual absl::Status CreateJob(const Job& job) = 0;
  virtual absl::StatusOr<Job> GetJob(const JobId& id) = 0;
  virtual absl::StatusOr<JobPage> ListJobs(const ListJobsQuery& query) = 0;
  // Replaces the stored job with the same id, except last_run and
  // last_status, which only RecordFires and UpdateRun change.
  virtual absl::Status UpdateJob(const Job& job) = 0;
  // Deletes the job and its runs.
  virtual absl::Status DeleteJob(const JobId& id) = 0;

  // Refuses (ALREADY_EXISTS) a run whose id is already stored: run ids of
  // scheduled fires are derived from (job id, scheduled time), so this is
  // what stops a fire from being recorded twice.
  virtual absl::Status CreateRun(const Run& run) = 0;
  virtual absl::StatusOr<Run> GetRun(const RunId& id) = 0;
  virtual absl::StatusOr<RunPage> ListRuns(const ListRunsQuery& query) = 0;
  // Replaces the stored run. When it is the run of the job's latest fire,
  // the job's last_status follows the run's status.
  virtual absl::Status UpdateRun(const Run& run) = 0;
  // UpdateRun for many runs, in one transaction where the backend has them
  // (group commit for workers). Runs no longer stored (deleted with their
  // job) are skipped; only a storage failure is an error.
  virtual absl::Status UpdateRuns(const std::vector<Run>& runs) {
    for (const Run& run : runs) {
      absl::Status s = UpdateRun(run);
      if (!s.ok() && !absl::IsNotFound(s)) return s;
    }
    return absl::OkStatus();
  }

  // Records fires atomically (one transaction for the whole batch: group
  // commit): each run, and its job's next_run, last_run and last_status. A
  // run whose id is already stored is left as it is (its job still advances)
  // and reported false in the result, which has one entry per fire. Fires of
  // jobs that no longer exist are dropped and reported false.
  virtual absl::StatusOr<std::vector<bool>> RecordFires(const std::vector<FireRecord>& fires) = 0;

  // Retention: deletes the runs that are neither among the `keep_last`
  // newest of their job (by created_at) nor created at or after
  // `keep_after`. Runs still PENDING, RUNNING or RETRYING are always kept.
  // Returns how many were deleted.
  virtual absl::StatusOr<int64_t> PruneRuns(int keep_last, absl::Time keep_after) = 0;

  // OK when storage answers a trivial request now (for /readyz). A local
  // file store is always reachable.
  virtual absl::Status Ping() { return absl::OkStatus(); }
};

}  // namespace dts::storage
