#pragma once

#include <memory>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "dts/allocator/allocator.h"
#include "dts/model/ids.h"
#include "dts/model/job.h"
#include "dts/v1/scheduler.pb.h"

namespace dts::scheduler {

// Where placed runs execute: the local worker of `dts server`, or a remote
// one in the distributed mode. Thread-safe.
class Worker {
 public:
  // Receives the final record of a run, once it is stored.
  using RunEnded = absl::AnyInvocable<void(const Run&) &&>;

  virtual ~Worker() = default;

  virtual const WorkerId& id() const = 0;
  // Runs `run` within `grant`. `ended` is called exactly once, on any thread
  // and possibly before Start() returns, never while the worker holds a
  // lock: callers must not hold a lock that `ended` needs.
  virtual void Start(std::shared_ptr<const Job> job, Run run, const allocator::Resources& grant,
                     RunEnded ended) = 0;
  // One run for StartAll().
  struct Assignment {
    std::shared_ptr<const Job> job;
    Run run;
    allocator::Resources grant;
    RunEnded ended;
  };
  // Starts each, in order, as Start() would: a worker may take a batch with
  // less bookkeeping per run. Default: one by one.
  virtual void StartAll(std::vector<Assignment> batch) {
    for (Assignment& a : batch) Start(std::move(a.job), std::move(a.run), a.grant, std::move(a.ended));
  }
  // Stops a run started here; it still ends through its `ended`.
  virtual void Cancel(const RunId& run) = 0;
  // A run already RUNNING here, which this process did not start (the
  // distributed mode: its scheduler took the job over from another one).
  // `ended` as for Start(). Default: a worker that cannot follow a run it
  // did not start reports it ended as it is.
  virtual void Resume(std::shared_ptr<const Job> /*job*/, Run run, RunEnded ended) {
    std::move(ended)(run);
  }
  // Stop reporting the end of `run`: its job is no longer this process's
  // (its `ended` is dropped without a call). Default: nothing kept.
  virtual void Forget(const RunId& /*run*/) {}
  // What this worker enforces of its grants.
  virtual v1::Enforcement enforcement() const = 0;
};

}  // namespace dts::scheduler
