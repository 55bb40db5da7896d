#pragma once

#include <functional>
#include <memory>
#include <vector>

#include "dts/model/ids.h"
#include "dts/model/job.h"

namespace dts::scheduler {

// A run with the job definition it was made from.
struct JobRun {
  std::shared_ptr<const Job> job;
  Run run;
};

// Where the runs the engine records go to be executed. Implementations report
// the end of each dispatched run (Engine::RunFinished). Thread-safe.
class RunDispatcher {
 public:
  virtual ~RunDispatcher() = default;
  // `job` is the definition the run was made from; it is shared, never
  // changed, and may be kept for as long as the run waits or runs.
  virtual void Dispatch(std::shared_ptr<const Job> job, Run run) = 0;
  // The runs of one instant, in order, as if dispatched one by one: lets an
  // implementation take its locks once per batch, so that the last run of a
  // second's worth starts soon after the first. Default: one by one.
  virtual void DispatchAll(std::vector<JobRun> runs) {
    for (JobRun& r : runs) Dispatch(std::move(r.job), std::move(r.run));
  }
  virtual void Cancel(const RunId& run) = 0;

  // The distributed mode, where the engine owns some shards' jobs at a time.
  // Restore: a run found RUNNING on run.worker_id() when the engine took its
  // job over; follow it until it ends, as if dispatched here. Forget: the
  // engine no longer owns the jobs for which `owned_elsewhere` holds; let go
  // of their waiting and running runs without ending them (their next owner
  // recovers them from storage). Defaults: nothing to follow or forget.
  virtual void Restore(std::shared_ptr<const Job> /*job*/, Run /*run*/) {}
  virtual void Forget(const std::function<bool(const JobId&)>& /*owned_elsewhere*/) {}
};

}  // namespace dts::scheduler
