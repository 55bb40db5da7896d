#include "dts/execution/local_worker.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "dts/model/run_log.h"
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

LocalWorker::LocalWorker(WorkerId id, Executor* executor, scheduler::RunRecorder* recorder,
                         const Clock* clock, size_t max_output_bytes)
    : id_(std::move(id)),
      executor_(executor),
      recorder_(recorder),
      clock_(clock),
      max_output_bytes_(max_output_bytes) {}

void LocalWorker::Start(std::shared_ptr<const Job> job, Run run, const allocator::Resources& grant,
                        RunEnded ended) {
  // worker_id and the granted resources were set by Placement.
  const absl::Time now = clock_->Now();
  if (job->executor().kind_case() == v1::Executor::KIND_NOT_SET) {
    CompleteNoop(run, now);
    recorder_->Record(std::move(run), Deliver(std::move(ended)));
    return;
  }
  *run.mutable_start_time() = ToProto(now);
  run.set_status(std::string(RunStatusName(RunStatus::kRunning)));
  // A failure to record RUNNING does not stop the run: its outcome write follows.
  recorder_->Record(std::move(run), [this, job = std::move(job), grant, ended = std::move(ended)](
                                        absl::Status, const Run& running) mutable {
    Launch(*job, running, grant, std::move(ended));
  });
}

void LocalWorker::StartAll(std::vector<Assignment> batch) {
  std::vector<scheduler::RunRecorder::Entry> done;
  for (Assignment& a : batch) {
    if (a.job->executor().kind_case() != v1::Executor::KIND_NOT_SET) {
      Start(std::move(a.job), std::move(a.run), a.grant, std::move(a.ended));
      continue;
    }
    // Each run's own instant: the batch's last run is stamped when it is
    // reached, not when the batch began.
    CompleteNoop(a.run, clock_->Now());
    done.push_back({std::move(a.run), Deliver(std::move(a.ended))});
  }
  if (!done.empty()) recorder_->RecordAll(std::move(done));
}

void LocalWorker::CompleteNoop(Run& run, absl::Time now) {
  RunOutcome outcome;
  outcome.status = RunStatus::kCompleted;
  outcome.start_time = outcome.end_time = now;
  ApplyOutcome(outcome, run);
}

scheduler::RunRecorder::DurableCallback LocalWorker::Deliver(RunEnded ended) {
  return [ended = std::move(ended)](absl::Status, const Run& recorded) mutable {
    if (ended) std::move(ended)(recorded);
  };
}

void LocalWorker::Launch(const Job& job, Run run, const allocator::Resources& grant,
                         RunEnded ended) {
  RunRequest request = RunRequestFor(job, run, grant, max_output_bytes_);
  // The callback is either handed to the executor or not; keep `ended` out
  // of it until Start() has said which.
  auto shared_ended = std::make_shared<RunEnded>(std::move(ended));
  LogRun("worker", "run started", run);
  absl::Status started = executor_->Start(
      std::move(request), [this, run, shared_ended](RunOutcome outcome) mutable {
        Finish(std::move(run), std::move(outcome), std::move(*shared_ended));
      });
  if (!started.ok()) {
    RunOutcome outcome;
    outcome.status = RunStatus::kFailed;
    outcome.error = absl::StrCat("could not start: ", started.message());
    outcome.start_time = outcome.end_time = clock_->Now();
    Finish(std::move(run), std::move(outcome), std::move(*shared_ended));
  }
}

void LocalWorker::Cancel(const RunId& run) { executor_->Cancel(run); }

v1::Enforcement LocalWorker::enforcement() const {
  return EnforcementProto(executor_->Enforcement());
}

v1::Enforcement EnforcementProto(const EnforcementCapabilities& caps) {
  v1::Enforcement out;
  out.set_memory(caps.memory_cgroup ? "cgroup" : "rlimit");
  out.set_cpu(caps.cpu_limited ? "cgroup" : "none");
  out.set_storage(caps.storage_limited ? "scratch-dir" : "none");
  out.set_detail(caps.detail);
  return out;
}

RunRequest RunRequestFor(const Job& job, const Run& run, const allocator::Resources& grant,
                         size_t max_output_bytes) {
  RunRequest request;
  request.run_id = RunId(run.id());
  request.executor = job.executor();
  request.timeout = absl::Seconds(job.timeout());
  request.max_output_bytes = max_output_bytes;
  request.resources.cpu_millicores = grant.cpu_millis;
  request.resources.memory_mib = grant.memory_mib;
  request.resources.storage_mib = grant.storage_mib;
  request.job_id = JobId(job.id());
  if (run.has_scheduled_time()) request.scheduled_time = FromProto(run.scheduled_time());
  request.metadata.insert(job.metadata().begin(), job.metadata().end());
  return request;
}

void ApplyOutcome(const RunOutcome& outcome, Run& run) {
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
}

void LocalWorker::Finish(Run run, RunOutcome outcome, RunEnded ended) {
  ApplyOutcome(outcome, run);
  recorder_->Record(std::move(run), Deliver(std::move(ended)));
}

}  // namespace dts::execution
