#include "dts/scheduler/placement.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "dts/model/time_convert.h"

namespace dts::scheduler {
namespace {

v1::ResourceRequirements ResourcesProto(const allocator::Resources& r) {
  v1::ResourceRequirements out;
  out.set_cpu(static_cast<int32_t>(r.cpu_millis));
  out.set_memory(static_cast<int32_t>(r.memory_mib));
  out.set_storage(static_cast<int32_t>(r.storage_mib));
  return out;
}

allocator::Labels LabelsOf(const google::protobuf::Map<std::string, std::string>& map) {
  return allocator::Labels(map.begin(), map.end());
}

allocator::PlacementRequest RequestFor(const Job& job, const Run& run) {
  allocator::PlacementRequest request;
  request.run_id = RunId(run.id());
  request.job_id = JobId(job.id());
  request.priority = job.priority();
  // Manual runs have no scheduled time: they queue by when they were made.
  request.scheduled_time =
      FromProto(run.has_scheduled_time() ? run.scheduled_time() : run.created_at());
  // A job without an executor runs nothing, so it holds nothing: its runs
  // are placed at once wherever they may go, and never wait for capacity.
  if (job.executor().kind_case() != v1::Executor::KIND_NOT_SET) {
    request.resources = allocator::ResourcesFromProto(job.resources());
  }
  request.constraints = LabelsOf(job.constraints());
  return request;
}

// What RequestFor(job, ...) asks for is nothing at all, anywhere.
bool HoldsNothing(const Job& job) {
  if (!job.constraints().empty()) return false;
  return job.executor().kind_case() == v1::Executor::KIND_NOT_SET ||
         allocator::ResourcesFromProto(job.resources()) == allocator::Resources{};
}

// What a run placed on `worker` with `granted` says of it.
void MarkPlaced(Run& run, const WorkerId& worker, const allocator::Resources& granted) {
  run.set_worker_id(worker.value());
  *run.mutable_resources() = ResourcesProto(granted);
  run.clear_queue_reason();
}

// The end of a run that never reached a worker.
void EndUnstarted(Run& run, RunStatus status, absl::string_view error, absl::Time now) {
  run.set_status(std::string(RunStatusName(status)));
  run.set_error(std::string(error));
  run.clear_queue_reason();
  *run.mutable_end_time() = ToProto(now);
}

}  // namespace

Placement::Placement(allocator::Allocator* allocator, RunRecorder* recorder, const Clock* clock,
                     Options options)
    : allocator_(allocator), recorder_(recorder), clock_(clock), options_(options) {}

absl::Status Placement::AddWorker(scheduler::Worker* worker, const allocator::WorkerSpec& spec) {
  if (worker == nullptr || worker->id() != spec.id) {
    return absl::InvalidArgumentError("worker and spec must have the same id");
  }
  std::vector<Start> starts;
  {
    absl::MutexLock lock(&mu_);
    if (absl::Status s = allocator_->UpsertWorker(spec); !s.ok()) return s;
    (void)allocator_->RecordHeartbeat(spec.id);  // a registration is a sign of life
    workers_[spec.id] = worker;
    TakeGranted(allocator_->Schedule(), starts);
  }
  StartAll(starts);
  return absl::OkStatus();
}

void Placement::Stop() {
  absl::MutexLock lock(&mu_);
  stopped_ = true;
}

void Placement::Dispatch(std::shared_ptr<const Job> job, Run run) {
  std::vector<Start> starts;
  {
    absl::MutexLock lock(&mu_);
    if (stopped_) return;  // stays PENDING in storage: recovered on restart
    DispatchLocked(std::move(job), std::move(run), starts);
  }
  StartAll(starts);
}

void Placement::DispatchAll(std::vector<JobRun> runs) {
  std::vector<Start> starts;
  starts.reserve(runs.size());
  {
    absl::MutexLock lock(&mu_);
    if (stopped_) return;  // they stay PENDING in storage: recovered on restart
    for (JobRun& r : runs) DispatchLocked(std::move(r.job), std::move(r.run), starts);
  }
  StartAll(starts);
}

void Placement::DispatchLocked(std::shared_ptr<const Job> job, Run run, std::vector<Start>& starts) {
  if (options_.fixed_workers && !workers_.empty() && HoldsNothing(*job)) {
    // Holds nothing and may go anywhere (fixed workers never go down): no
    // allocator to ask, and as little as possible to copy, which keeps a
    // second's worth of timer runs cheap to hand out.
    const auto& [worker_id, worker] = *workers_.begin();
    if (!placed_.try_emplace(RunId(run.id()), Placed{worker, JobId(job->id())}).second) {
      return;  // redelivered: never twice
    }
    MarkPlaced(run, worker_id, {});
    starts.push_back(Start{worker, std::move(job), std::move(run), {}});
    return;
  }
  allocator::PlacementRequest request = RequestFor(*job, run);
  absl::StatusOr<std::optional<allocator::Grant>> grant = allocator_->Submit(std::move(request));
  if (!grant.ok()) {
    // ALREADY_EXISTS: this run is queued or placed already (a redelivered
    // dispatch); it must not start twice.
    return;
  }
  if (*grant) {
    starts.push_back(PrepareStart(**grant, std::move(job), std::move(run)));
    return;
  }
  if (options_.record_queued) {
    run.set_status(std::string(RunStatusName(RunStatus::kQueued)));
    run.set_queue_reason("waiting for a worker with free capacity (see GET /v1/scheduler/queue)");
    recorder_->Record(run);
  }
  const RunId id(run.id());
  waiting_.insert_or_assign(id, Waiting{std::move(job), std::move(run)});
  // The allocator's contract: a Submit that queued may let the queue move
  // (e.g. once a held head is outranked); nothing else would ask.
  TakeGranted(allocator_->Schedule(), starts);
}

void Placement::Cancel(const RunId& id) {
  scheduler::Worker* worker = nullptr;
  std::optional<Run> withdrawn;
  std::vector<Start> starts;
  {
    absl::MutexLock lock(&mu_);
    if (auto it = waiting_.find(id); it != waiting_.end()) {
      allocator_->Withdraw(id);
      withdrawn = std::move(it->second.run);
      waiting_.erase(it);
      // A withdrawn head of the queue may unblock the runs behind it.
      TakeGranted(allocator_->Schedule(), starts);
    } else if (auto placed = placed_.find(id); placed != placed_.end()) {
      worker = placed->second.worker;
    }
  }
  StartAll(starts);
  if (worker != nullptr) worker->Cancel(id);
  if (!withdrawn) return;
  EndUnstarted(*withdrawn, RunStatus::kCancelled, "cancelled while queued", clock_->Now());
  recorder_->Record(*std::move(withdrawn), [this](absl::Status, const Run& run) {
    if (on_finished_) on_finished_(run);
  });
}

void Placement::Restore(std::shared_ptr<const Job> job, Run run) {
  const WorkerId worker_id(run.worker_id());
  bool known;
  {
    absl::MutexLock lock(&mu_);
    known = workers_.contains(worker_id);
  }
  if (!known && options_.on_unknown_worker) options_.on_unknown_worker(worker_id);
  scheduler::Worker* worker = nullptr;
  {
    absl::MutexLock lock(&mu_);
    auto it = workers_.find(worker_id);
    if (it == workers_.end() || placed_.contains(RunId(run.id()))) return;
    worker = it->second;
    const allocator::Grant grant{RunId(run.id()), JobId(job->id()), worker_id,
                                 allocator::ResourcesFromProto(run.resources())};
    // Beyond capacity if need be: the run is there.
    (void)allocator_->Restore(grant);
    placed_[grant.run_id] = Placed{worker, grant.job_id};
  }
  worker->Resume(std::move(job), std::move(run), [this](const Run& r) { Ended(r); });
}

void Placement::Forget(const std::function<bool(const JobId&)>& owned_elsewhere) {
  std::vector<std::pair<scheduler::Worker*, RunId>> forgotten;
  {
    absl::MutexLock lock(&mu_);
    for (auto it = waiting_.begin(); it != waiting_.end();) {
      if (!owned_elsewhere(JobId(it->second.job->id()))) {
        ++it;
        continue;
      }
      allocator_->Withdraw(it->first);
      waiting_.erase(it++);
    }
    for (auto it = placed_.begin(); it != placed_.end();) {
      if (!owned_elsewhere(it->second.job_id)) {
        ++it;
        continue;
      }
      allocator_->Release(it->first);
      forgotten.emplace_back(it->second.worker, it->first);
      placed_.erase(it++);
    }
  }
  for (auto& [worker, run] : forgotten) worker->Forget(run);
}

absl::Status Placement::SetWorkerState(const WorkerId& id, allocator::WorkerState state) {
  std::vector<Start> starts;
  {
    absl::MutexLock lock(&mu_);
    absl::StatusOr<std::vector<allocator::Grant>> released = allocator_->SetWorkerState(id, state);
    if (!released.ok()) return released.status();
    TakeGranted(allocator_->Schedule(), starts);
  }
  StartAll(starts);
  return absl::OkStatus();
}

void Placement::Redispatch(std::shared_ptr<const Job> job, Run run) {
  std::vector<Start> starts;
  {
    absl::MutexLock lock(&mu_);
    if (stopped_) return;
    const RunId id(run.id());
    placed_.erase(id);
    allocator_->Release(id);
    run.clear_worker_id();
    DispatchLocked(std::move(job), std::move(run), starts);
  }
  StartAll(starts);
}

void Placement::TakeGranted(const std::vector<allocator::Grant>& grants, std::vector<Start>& starts) {
  for (const allocator::Grant& grant : grants) {
    if (stopped_) {  // stays QUEUED in storage: recovered on restart
      allocator_->Release(grant.run_id);
      continue;
    }
    auto it = waiting_.find(grant.run_id);
    if (it == waiting_.end()) {  // not ours to start (cannot happen): give it back
      allocator_->Release(grant.run_id);
      continue;
    }
    Waiting waiting = std::move(it->second);
    waiting_.erase(it);
    starts.push_back(PrepareStart(grant, std::move(waiting.job), std::move(waiting.run)));
  }
}

Placement::Start Placement::PrepareStart(const allocator::Grant& grant,
                                         std::shared_ptr<const Job> job, Run run) {
  auto worker = workers_.find(grant.worker_id);
  scheduler::Worker* target = worker == workers_.end() ? nullptr : worker->second;
  MarkPlaced(run, grant.worker_id, grant.resources);
  if (target != nullptr) placed_[grant.run_id] = Placed{target, grant.job_id};
  return Start{target, std::move(job), std::move(run), grant.resources};
}

void Placement::StartAll(std::vector<Start>& starts) {
  // Consecutive starts on one worker go to it as one batch.
  std::vector<scheduler::Worker::Assignment> batch;
  scheduler::Worker* batch_worker = nullptr;
  auto flush = [&] {
    if (batch_worker != nullptr && !batch.empty()) batch_worker->StartAll(std::move(batch));
    batch.clear();
  };
  for (Start& start : starts) {
    if (start.worker == nullptr) {  // the allocator knows a worker we do not
      EndUnstarted(start.run, RunStatus::kFailed, "placed on an unknown worker", clock_->Now());
      recorder_->Record(std::move(start.run), [this](absl::Status, const Run& run) { Ended(run); });
      continue;
    }
    if (start.worker != batch_worker) {
      flush();
      batch_worker = start.worker;
    }
    batch.push_back({std::move(start.job), std::move(start.run), start.grant,
                     [this](const Run& run) { Ended(run); }});
  }
  flush();
}

void Placement::Ended(const Run& run) {
  std::vector<Start> starts;
  {
    absl::MutexLock lock(&mu_);
    placed_.erase(RunId(run.id()));
    allocator_->Release(RunId(run.id()));
    TakeGranted(allocator_->Schedule(), starts);
  }
  StartAll(starts);
  if (on_finished_) on_finished_(run);
}

v1::WorkerResponse Placement::ToProto(const allocator::WorkerSnapshot& w) const {
  v1::WorkerResponse out;
  out.set_id(w.id.value());
  out.mutable_labels()->insert(w.labels.begin(), w.labels.end());
  out.set_state(std::string(allocator::WorkerStateName(w.state)));
  *out.mutable_last_heartbeat() = dts::ToProto(w.last_heartbeat);
  *out.mutable_capacity() = ResourcesProto(w.capacity);
  *out.mutable_allocated() = ResourcesProto(w.allocated);
  *out.mutable_free() = ResourcesProto(w.free);
  for (const RunId& run : w.running) out.add_running_runs(run.value());
  if (auto it = workers_.find(w.id); it != workers_.end()) {
    *out.mutable_enforcement() = it->second->enforcement();
  }
  return out;
}

std::vector<v1::WorkerResponse> Placement::Workers() const {
  absl::MutexLock lock(&mu_);
  std::vector<v1::WorkerResponse> out;
  for (const allocator::WorkerSnapshot& w : allocator_->Workers()) out.push_back(ToProto(w));
  return out;
}

std::optional<v1::WorkerResponse> Placement::Worker(const WorkerId& id) const {
  absl::MutexLock lock(&mu_);
  for (const allocator::WorkerSnapshot& w : allocator_->Workers()) {
    if (w.id == id) return ToProto(w);
  }
  return std::nullopt;
}

std::vector<v1::QueuedRun> Placement::Queue() const {
  std::vector<v1::QueuedRun> out;
  for (const allocator::QueuedRun& q : allocator_->Queue()) {
    v1::QueuedRun& run = out.emplace_back();
    run.set_run_id(q.run_id.value());
    run.set_job_id(q.job_id.value());
    run.set_priority(q.priority);
    *run.mutable_scheduled_time() = dts::ToProto(q.scheduled_time);
    *run.mutable_queued_at() = dts::ToProto(q.enqueue_time);
    *run.mutable_resources() = ResourcesProto(q.resources);
    run.mutable_constraints()->insert(q.constraints.begin(), q.constraints.end());
    run.set_reason(q.reason);
  }
  return out;
}

absl::Status Placement::CheckPlaceable(const Job& job) const {
  if (!options_.fixed_workers) return absl::OkStatus();
  absl::Status s = allocator_->CheckSchedulable(allocator::ResourcesFromProto(job.resources()),
                                                LabelsOf(job.constraints()));
  if (s.ok() || !absl::IsInvalidArgument(s)) return absl::OkStatus();
  const char* field = job.constraints().empty() ? "resources" : "resources/constraints";
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", s.message()));
}

}  // namespace dts::scheduler
