#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "dts/allocator/allocator.h"
#include "dts/common/clock.h"
#include "dts/scheduler/cluster_view.h"
#include "dts/scheduler/dispatcher.h"
#include "dts/scheduler/run_recorder.h"
#include "dts/scheduler/worker.h"

namespace dts::scheduler {

// Between the engine and the workers: every dispatched run is placed by the
// allocator on a worker with room for it (and started there), or waits as
// QUEUED until one has; each ended run frees its allocation and lets the
// queue move. Also what the API shows of workers and queue (ClusterView).
//
// Thread-safe. The allocator, recorder, clock and workers must outlive it.
class Placement final : public RunDispatcher, public ClusterView {
 public:
  struct Options {
    // The embedded server's workers are fixed: a job no worker can ever run
    // is refused up front (CheckPlaceable). Where workers come and go, it is
    // accepted and waits as unschedulable.
    bool fixed_workers = true;
    // Whether a run that must wait is recorded QUEUED. The distributed mode
    // says no: a worker claims a run with a conditional update from its
    // stored status, which a QUEUED write still on its way could overwrite;
    // there the run stays PENDING in storage (recovered as such by the
    // shard's next owner) and GET /v1/scheduler/queue shows it waiting.
    bool record_queued = true;
    // Where workers come and go: called (without Placement's lock) for a
    // run restored on a worker not registered yet; it may AddWorker() it.
    std::function<void(const WorkerId&)> on_unknown_worker;
  };

  Placement(allocator::Allocator* allocator, RunRecorder* recorder, const Clock* clock,
            Options options);

  // Registers a worker under spec.id (which must equal worker->id()), or
  // updates its labels and capacity (a heartbeat).
  absl::Status AddWorker(scheduler::Worker* worker, const allocator::WorkerSpec& spec);
  // Receives each run's final record after it is stored (the engine's
  // RunFinished). Set before the first Dispatch().
  void set_on_finished(std::function<void(const Run&)> callback) {
    on_finished_ = std::move(callback);
  }

  // From now on nothing is started: runs dispatched later stay PENDING and
  // queued ones QUEUED in storage, for the next process to recover. Called
  // at shutdown before the executor stops.
  void Stop();

  // The allocator's state of a registered worker (DRAINING: no new runs;
  // DOWN: none, and its allocations are released; the caller handles its
  // runs). NOT_FOUND for an unknown worker.
  absl::Status SetWorkerState(const WorkerId& id, allocator::WorkerState state);
  // Takes a run back from the worker it was started on, which never began
  // it (the worker went away before claiming it), and places it again. Its
  // `ended` is not called.
  void Redispatch(std::shared_ptr<const Job> job, Run run);

  // RunDispatcher
  void Dispatch(std::shared_ptr<const Job> job, Run run) override;
  // One lock for the batch, and one StartAll per worker.
  void DispatchAll(std::vector<JobRun> runs) override;
  void Cancel(const RunId& run) override;
  void Restore(std::shared_ptr<const Job> job, Run run) override;
  void Forget(const std::function<bool(const JobId&)>& owned_elsewhere) override;

  // ClusterView
  std::vector<v1::WorkerResponse> Workers() const override;
  std::optional<v1::WorkerResponse> Worker(const WorkerId& id) const override;
  std::vector<v1::QueuedRun> Queue() const override;
  absl::Status CheckPlaceable(const Job& job) const override;

 private:
  struct Waiting {
    std::shared_ptr<const Job> job;
    Run run;
  };
  struct Start {
    scheduler::Worker* worker;
    std::shared_ptr<const Job> job;
    Run run;
    allocator::Resources grant;
  };

  void DispatchLocked(std::shared_ptr<const Job> job, Run run, std::vector<Start>& starts)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Turns grants for waiting runs into starts; the caller starts them after
  // releasing mu_.
  void TakeGranted(const std::vector<allocator::Grant>& grants, std::vector<Start>& starts)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  Start PrepareStart(const allocator::Grant& grant, std::shared_ptr<const Job> job, Run run)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void StartAll(std::vector<Start>& starts);
  void Ended(const Run& run);
  v1::WorkerResponse ToProto(const allocator::WorkerSnapshot& snapshot) const;

  allocator::Allocator* const allocator_;
  RunRecorder* const recorder_;
  const Clock* const clock_;
  const Options options_;
  std::function<void(const Run&)> on_finished_;

  mutable absl::Mutex mu_;
  absl::flat_hash_map<WorkerId, scheduler::Worker*> workers_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<RunId, Waiting> waiting_ ABSL_GUARDED_BY(mu_);
  // Runs started on a worker and not yet ended, with their job's id.
  struct Placed {
    scheduler::Worker* worker;
    JobId job_id;
  };
  absl::flat_hash_map<RunId, Placed> placed_ ABSL_GUARDED_BY(mu_);
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace dts::scheduler
