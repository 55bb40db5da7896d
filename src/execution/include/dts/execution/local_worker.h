#pragma once

#include <memory>
#include <string>

#include "dts/common/clock.h"
#include "dts/execution/executor.h"
#include "dts/scheduler/run_recorder.h"
#include "dts/scheduler/worker.h"

namespace dts::execution {

// The one worker of `dts server`: runs the runs placed on it with the
// executor and records them through the recorder (group commit).
//
// A run with work to do (command, http, kafka) is recorded RUNNING and only
// started once that record is durable: after a crash such a run is found
// RUNNING and marked interrupted, never started a second time. A run without
// an executor has no effect to protect, so it is completed at once with a
// single write. Thread-safe; the executor, recorder and clock must outlive it.
class LocalWorker final : public scheduler::Worker {
 public:
  LocalWorker(WorkerId id, Executor* executor, scheduler::RunRecorder* recorder,
              const Clock* clock, size_t max_output_bytes = 64 * 1024);

  const WorkerId& id() const override { return id_; }
  void Start(std::shared_ptr<const Job> job, Run run, const allocator::Resources& grant,
             RunEnded ended) override;
  // Runs without an executor are completed with one recorder hand-off for
  // the whole batch; the others start as in Start().
  void StartAll(std::vector<Assignment> batch) override;
  void Cancel(const RunId& run) override;
  v1::Enforcement enforcement() const override;

 private:
  // Starts the work once RUNNING is stored.
  void Launch(const Job& job, Run run, const allocator::Resources& grant, RunEnded ended);
  void Finish(Run run, RunOutcome outcome, RunEnded ended);
  // A run without an executor, started and ended at `now`.
  static void CompleteNoop(Run& run, absl::Time now);
  // The recorder callback that hands the stored record to `ended`.
  static scheduler::RunRecorder::DurableCallback Deliver(RunEnded ended);

  const WorkerId id_;
  Executor* const executor_;
  scheduler::RunRecorder* const recorder_;
  const Clock* const clock_;
  const size_t max_output_bytes_;
};

// What every worker (this one, and the distributed mode's execution service)
// does around the executor: the request for a placed run, the run record of
// an outcome, and the enforcement it reports.
RunRequest RunRequestFor(const Job& job, const Run& run, const allocator::Resources& grant,
                         size_t max_output_bytes);
// Sets the outcome's status, exit code, output (as valid UTF-8), error and
// times on `run`.
void ApplyOutcome(const RunOutcome& outcome, Run& run);
v1::Enforcement EnforcementProto(const EnforcementCapabilities& caps);

// Replaces every byte sequence that is not valid UTF-8 with U+FFFD, so that
// command output can live in a proto string field.
std::string SanitizeUtf8(absl::string_view bytes);

}  // namespace dts::execution
