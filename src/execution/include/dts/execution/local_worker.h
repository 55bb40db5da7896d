#pragma once

#include <functional>
#include <string>

#include "dts/common/clock.h"
#include "dts/execution/executor.h"
#include "dts/scheduler/dispatcher.h"
#include "dts/storage/store.h"

namespace dts::execution {

// The one worker of `dts server`: takes each run the engine dispatches,
// records it RUNNING, runs it with the executor and records the outcome
// (status, exit code, output, error, times). Thread-safe; the store,
// executor and clock must outlive it.
class LocalWorker final : public scheduler::RunDispatcher {
 public:
  // Receives the final record of each run.
  using FinishedCallback = std::function<void(const Run&)>;

  LocalWorker(storage::Store* store, Executor* executor, const Clock* clock, std::string worker_id,
              size_t max_output_bytes = 64 * 1024);

  // Called after a dispatched run's outcome is stored. Set before the first
  // Dispatch().
  void set_on_finished(FinishedCallback callback) { on_finished_ = std::move(callback); }

  void Dispatch(const Job& job, const Run& run) override;
  void Cancel(const RunId& run) override;

 private:
  void Finish(Run run, RunOutcome outcome);

  storage::Store* const store_;
  Executor* const executor_;
  const Clock* const clock_;
  const std::string worker_id_;
  const size_t max_output_bytes_;
  FinishedCallback on_finished_;
};

// Replaces every byte sequence that is not valid UTF-8 with U+FFFD, so that
// command output can live in a proto string field.
std::string SanitizeUtf8(absl::string_view bytes);

}  // namespace dts::execution
