#pragma once

#include <cstddef>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "dts/model/job.h"
#include "dts/storage/store.h"

namespace dts::scheduler {

// Writes run updates (RUNNING, QUEUED, outcomes) from one thread of its own,
// as many as are waiting in one Store::UpdateRuns transaction: the group
// commit that lets workers keep up with thousands of runs a second without a
// transaction each. Updates are written in the order they were recorded.
//
// A caller that must not go on before its update is durable (a worker about
// to start a command only once RUNNING is stored, so that a crash can never
// lead to running it twice) passes `on_durable`. It is called on the
// recorder's thread once the batch holding the update has been written, with
// the write's status and the run as recorded (so callers need not keep a
// copy), and never under a lock: it may call Record() again.
//
// Thread-safe. The store must outlive the recorder.
class RunRecorder {
 public:
  using DurableCallback = absl::AnyInvocable<void(absl::Status, const Run&) &&>;

  explicit RunRecorder(storage::Store* store, size_t max_batch = 1024);
  ~RunRecorder();  // Stop()
  RunRecorder(const RunRecorder&) = delete;
  RunRecorder& operator=(const RunRecorder&) = delete;

  void Record(Run run, DurableCallback on_durable = nullptr);
  struct Entry {
    Run run;
    DurableCallback on_durable;
  };
  // Record() of each, in order, with one hand-off to the writing thread.
  void RecordAll(std::vector<Entry> entries);
  // Writes everything recorded so far (their callbacks run) and returns.
  void Flush();
  // Flushes, then stops the thread. Later Record()s are written at once on
  // the caller's thread. Idempotent.
  void Stop();

 private:

  void Loop();
  // Writes one batch and runs its callbacks.
  void Write(std::vector<Entry>& batch);

  storage::Store* const store_;
  const size_t max_batch_;
  absl::Mutex mu_;
  std::vector<Entry> queue_ ABSL_GUARDED_BY(mu_);
  // Batches taken from queue_ and not yet written: Flush() waits for both.
  int writing_ ABSL_GUARDED_BY(mu_) = 0;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace dts::scheduler
