#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/random/random.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "dts/common/clock.h"
#include "dts/cron/schedule.h"
#include "dts/metrics/metrics.h"
#include "dts/model/job.h"
#include "dts/scheduler/dispatcher.h"
#include "dts/scheduler/due_index.h"
#include "dts/scheduler/job_events.h"
#include "dts/storage/store.h"

namespace dts::scheduler {

struct EngineOptions {
  // Fires recorded in one storage transaction at most (group commit).
  int max_batch = 1024;
  // RUN_ALL fires at most this many missed times per job.
  int run_all_cap = 100;
  // How long to wait before retrying after storage refused a batch.
  absl::Duration storage_retry = absl::Seconds(1);
  // Retention: keep each job's newest `retention_runs` runs and every run
  // younger than `retention_age`; prune the rest every `prune_every`.
  int retention_runs = 1000;
  absl::Duration retention_age = absl::Hours(24 * 30);
  absl::Duration prune_every = absl::Hours(1);
  // Record fires this long before they are due: the run is stored PENDING
  // (created_at = its scheduled time) ahead, and at its instant only handed
  // to the dispatcher from memory, so a storage commit is not part of its
  // lateness. Only for jobs whose policies cannot depend on the state at the
  // instant itself: overlap ALLOW and no starting deadline. Zero: every fire
  // is recorded at its instant.
  absl::Duration lookahead = absl::ZeroDuration();
  // What a run found RUNNING at recovery means. True (the embedded server):
  // its process ended with the previous server, so it is marked FAILED (and
  // retried as the job says). False (the distributed mode): it runs on a
  // worker that may well be alive, so it goes to RunDispatcher::Restore.
  bool running_runs_died = true;
  // The shard count of the `shard` label of dts_fires_total (the jobs'
  // storage shards, DTS_SHARDS in the distributed mode).
  int shards = 64;
  // Multiplies each retry delay; returns a factor in [0.8, 1.2) by default.
  // Tests set a constant.
  std::function<double()> jitter;
};

// The delay before retry attempt `failed_attempt + 1` of a job: initial
// (default 1 s) x multiplier (default 2) ^ (failed_attempt - 1), capped at
// max (default 5 min), times `jitter_factor`, and never above the cap.
absl::Duration RetryDelay(const v1::RetryBackoff& backoff, int failed_attempt, double jitter_factor);

// The firing engine of the embedded deployment. It keeps every job that
// fires in a due-time index, sleeps until the earliest due instant, and
// records each fire as a run with a deterministic id together with the job's
// next_run/last_run in one storage transaction, before dispatching it.
// Misfire and overlap policies are applied here (docs/runs.md).
//
// Threads: Start() runs one firing thread; every public method is
// thread-safe. FireDue() may also be called directly by tests that drive a
// ManualClock instead of starting the thread.
class Engine final : public JobEvents {
 public:
  Engine(storage::Store* store, const Clock* clock, RunDispatcher* dispatcher,
         EngineOptions options = {});
  ~Engine() override;

  // Loads every job from storage and indexes the ones that fire, resuming
  // from their persisted next_run; runs left PENDING by a previous process
  // are dispatched again and runs left RUNNING are marked FAILED. Missed
  // times are then handled by the misfire policy on the first FireDue().
  absl::Status Recover();
  // The distributed mode's Recover() for part of the jobs: indexes `jobs`
  // (one or more shards' worth, resuming from their persisted next_run) and
  // recovers the active runs of the jobs for which `owns` holds.
  absl::Status Adopt(const std::vector<Job>& jobs, const std::function<bool(const JobId&)>& owns);
  // Stops owning the jobs for which `drop` holds: unindexes them and drops
  // their runs recorded ahead and their retries waiting for a backoff
  // (all stored: the next owner recovers them), then RunDispatcher::Forget.
  // Waits for a FireDue() in progress, so that once it returns no fire of
  // those jobs is recorded or dispatched here.
  void Drop(const std::function<bool(const JobId&)>& drop);
  // Every fire due up to this instant has been recorded (the start of the
  // last FireDue() that completed); InfinitePast before the first.
  absl::Time fired_through() const;
  // Records and dispatches every fire due at clock->Now(). Returns how many
  // runs were newly recorded.
  absl::StatusOr<int> FireDue();
  void Start();
  void Stop();

  // Applies the retention rule now; the firing thread also does it every
  // prune_every. Returns how many runs were deleted.
  absl::StatusOr<int64_t> PruneRuns();

  // JobEvents
  void JobChanged(const Job& job) override;
  void JobDeleted(const JobId& id, bool cancel_running) override;
  void RunCreated(const Job& job, const Run& run) override;

  // Called by the dispatcher with the final record of a run it was given.
  // A FAILED or TIMED_OUT attempt of a job with retries left gets its next
  // attempt recorded as RETRYING and started after the backoff.
  void RunFinished(const Run& run);
  // The next fire the engine will make for `job`, if it is indexed.
  std::optional<absl::Time> NextFire(const JobId& job) const;
  size_t indexed_jobs() const;

 private:
  struct JobState {
    // Shared with the runs being dispatched, so a fire copies a pointer, not
    // the job; replaced, never changed in place.
    std::shared_ptr<const Job> job;
    std::optional<cron::Schedule> schedule;
    // Parsed once here rather than on every fire.
    MisfirePolicy misfire = MisfirePolicy::kRunOnce;
    OverlapPolicy overlap = OverlapPolicy::kAllow;
    absl::Time anchor;
    // Fires ahead (EngineOptions::lookahead): its index key is then its due
    // instant minus the lookahead.
    bool ahead = false;
    uint32_t slot = 0;
    // Changes whenever the job is re-indexed, so a batch being recorded can
    // tell that its plan for the job is stale. Unique across slots.
    uint64_t generation = 0;
    // Fires(*job), kept with `job` so a second's worth of staged runs is
    // checked without parsing each job's status.
    bool fires = false;
    std::vector<RunId> active;  // dispatched, not finished
    // dts_fires_total{shard=<the job's shard>}, found once when indexed.
    metrics::Counter* fires_counter = nullptr;
  };
  // What Commit needs besides the record, one per record of a Plan.
  struct FireMeta {
    uint32_t slot;
    uint64_t generation;
    bool dispatch;
    absl::Time due;  // the index entry this came from, to restore on failure
  };
  // The runs recorded ahead for one instant, waiting in memory to be
  // dispatched, with the slot of each one's job (runs[i] is of slots[i]).
  struct StagedAt {
    std::vector<JobRun> runs;
    std::vector<uint32_t> slots;
  };
  // A batch of fires; records go to storage as they are, and their runs are
  // then moved, not copied, into the dispatches.
  struct Plan {
    std::vector<storage::FireRecord> records;
    std::vector<FireMeta> meta;
    std::vector<RunId> cancels;
    size_t size() const { return records.size(); }
  };

  void Index(const Job& job) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Unindex(const JobId& id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Turns one due entry into the records its policies ask for.
  void PlanFires(JobState& state, absl::Time due, absl::Time now, Plan& out)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Stores a planned batch and dispatches what it says; on a storage error
  // puts the jobs back in the index at their old due instants.
  absl::StatusOr<int> Commit(Plan& plan, absl::Time now);
  // The index key of `state`'s fire due at `due`, and back.
  int64_t KeyOf(const JobState& state, absl::Time due) const;
  absl::Time DueOf(const JobState& state, int64_t key) const;
  // Hands the staged runs due by `now` to the dispatcher; the ones whose job
  // stopped firing meanwhile end CANCELLED instead.
  void DispatchStaged(absl::Time now);
  // Dispatches the fires of one instant, observing each one's lateness.
  void HandOver(std::vector<JobRun> runs, absl::Time now);
  void Stage(const JobState& state, Run run) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The state in `slot` if it still holds the job `job_id` (slots are reused).
  JobState* StateInSlot(uint32_t slot, absl::string_view job_id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  JobState* StateOf(const JobId& id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  Run NewRun(const JobState& state, absl::Time scheduled, RunStatus status, Trigger trigger,
             absl::Time now) const;
  void Loop();
  // Recover()'s and Adopt()'s handling of stored active runs.
  absl::Status RecoverRuns(const std::function<bool(const JobId&)>& owns);
  // Starts the retries that are due; part of FireDue().
  void StartDueRetries(absl::Time now);
  void QueueRetry(const Run& run) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // dts_runs_total{status} and the "run ended" log line of a run that ended.
  static void CountEnded(const Run& run);

  storage::Store* const store_;
  const Clock* const clock_;
  RunDispatcher* const dispatcher_;
  const EngineOptions options_;

  mutable absl::Mutex mu_;
  DueIndex index_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<JobId, uint32_t> slot_by_job_ ABSL_GUARDED_BY(mu_);
  std::vector<std::unique_ptr<JobState>> jobs_ ABSL_GUARDED_BY(mu_);  // by slot
  std::vector<uint32_t> free_slots_ ABSL_GUARDED_BY(mu_);
  uint64_t next_generation_ ABSL_GUARDED_BY(mu_) = 1;
  // Attempts waiting for their backoff, by start time.
  std::multimap<absl::Time, Run> retries_ ABSL_GUARDED_BY(mu_);
  // Ids in retries_, so an attempt is never queued (and started) twice.
  absl::flat_hash_set<std::string> retry_ids_ ABSL_GUARDED_BY(mu_);
  // Runs recorded ahead, by scheduled time.
  std::map<absl::Time, StagedAt> staged_ ABSL_GUARDED_BY(mu_);
  absl::BitGen bitgen_ ABSL_GUARDED_BY(mu_);
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  absl::Time fired_through_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  bool wake_ ABSL_GUARDED_BY(mu_) = false;
  absl::CondVar cv_;
  // Serialises FireDue() between the thread and direct callers.
  absl::Mutex fire_mu_;
  std::thread thread_;
  // dts_fires_total's series, by shard.
  std::vector<metrics::Counter*> fire_counters_;
  metrics::Histogram* const lateness_;
  // dts_jobs_owned: the jobs this engine fires.
  metrics::CollectorHandle jobs_owned_;
};

}  // namespace dts::scheduler
