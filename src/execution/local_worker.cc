#include "dts/execution/local_worker.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "dts/model/time_convert.h"

namespace dts::execution {
namespace {

// The length of the valid UTF-8 sequence starting at s[i], or 0.
size_t Utf8SequenceLength(absl::string_view s, size_t i) {
  const auto byte = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char c = byte(i);
  size_t n;
  uint32_t min;
  if (c < 0x80) return 1;
  if ((c & 0xe0) == 0xc0) {
    n = 2;
    min = 0x80;
  } else if ((c & 0xf0) == 0xe0) {
    n = 3;
    min = 0x800;
  } else if ((c & 0xf8) == 0xf0) {
    n = 4;
    min = 0x10000;
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  uint32_t cp = c & (0x7f >> n);
  for (size_t k = 1; k < n; ++k) {
    if ((byte(i + k) & 0xc0) != 0x80) return 0;
    cp = (cp << 6) | (byte(i + k) & 0x3f);
  }
  if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
  return n;
}

}  // namespace

std::string SanitizeUtf8(absl::string_view bytes) {
  std::string out;
  out.reserve(bytes.size());
  for (size_t i = 0; i < bytes.size();) {
    const size_t n = Utf8SequenceLength(bytes, i);
    if (n == 0) {
      out += "\xef\xbf\xbd";
      ++i;
    } else {
      out.append(bytes.data() + i, n);
      i += n;
    }
  }
  return out;
}

LocalWorker::LocalWorker(storage::Store* store, Executor* executor, const Clock* clock,
                         std::string worker_id, size_t max_output_bytes)
    : store_(store),
      executor_(executor),
      clock_(clock),
      worker_id_(std::move(worker_id)),
      max_output_bytes_(max_output_bytes) {}

void LocalWorker::Dispatch(const Job& job, const Run& pending) {
  Run run = pending;
  run.set_status(std::string(RunStatusName(RunStatus::kRunning)));
  run.set_worker_id(worker_id_);
  *run.mutable_start_time() = ToProto(clock_->Now());
  // A failure to record RUNNING is not fatal: the outcome write follows.
  (void)store_->UpdateRun(run);

  RunRequest request;
  request.run_id = RunId(run.id());
  request.executor = job.executor();
  request.timeout = absl::Seconds(job.timeout());
  request.max_output_bytes = max_output_bytes_;
  absl::Status started = executor_->Start(
      std::move(request), [this, run](RunOutcome outcome) mutable { Finish(run, std::move(outcome)); });
  if (!started.ok()) {
    RunOutcome outcome;
    outcome.status = RunStatus::kFailed;
    outcome.error = absl::StrCat("could not start: ", started.message());
    outcome.start_time = outcome.end_time = clock_->Now();
    Finish(std::move(run), std::move(outcome));
  }
}

void LocalWorker::Cancel(const RunId& run) { executor_->Cancel(run); }

void LocalWorker::Finish(Run run, RunOutcome outcome) {
  run.set_status(std::string(RunStatusName(outcome.status)));
  if (outcome.exit_code) {
    run.set_exit_code(*outcome.exit_code);
  } else {
    run.clear_exit_code();
  }
  run.set_result(SanitizeUtf8(outcome.output));
  run.set_error(SanitizeUtf8(outcome.error));
  *run.mutable_start_time() = ToProto(outcome.start_time);
  *run.mutable_end_time() = ToProto(outcome.end_time);
  (void)store_->UpdateRun(run);
  if (on_finished_) on_finished_(run);
}

}  // namespace dts::execution
