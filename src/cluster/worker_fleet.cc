#include "dts/cluster/worker_fleet.h"

#include <algorithm>
#include <utility>

#include "absl/hash/hash.h"
#include "absl/strings/str_cat.h"
#include "dts/messaging/admin.h"
#include "dts/model/time_convert.h"

namespace dts::cluster {
namespace {

bool IsActiveStatus(const std::optional<RunStatus>& s) {
  return s == RunStatus::kPending || s == RunStatus::kQueued || s == RunStatus::kRunning ||
         s == RunStatus::kRetrying;
}

// a - b, but never below zero in any dimension.
allocator::Resources LeftOf(const allocator::Resources& a, const allocator::Resources& b) {
  allocator::Resources left = allocator::Minus(a, b);
  left.cpu_millis = std::max<int64_t>(0, left.cpu_millis);
  left.memory_mib = std::max<int64_t>(0, left.memory_mib);
  left.storage_mib = std::max<int64_t>(0, left.storage_mib);
  return left;
}

allocator::WorkerState StateOf(const v1::WorkerHeartbeat& heartbeat) {
  if (heartbeat.state() == "DOWN") return allocator::WorkerState::kDown;
  // A worker without a dts.tasks partition cannot be sent anything.
  if (heartbeat.state() == "DRAINING" || heartbeat.task_partitions().empty()) {
    return allocator::WorkerState::kDraining;
  }
  return allocator::WorkerState::kReady;
}

}  // namespace

// The scheduler::Worker of one execution service: everything goes through
// the fleet, which knows where to send tasks.
class WorkerFleet::Remote final : public scheduler::Worker {
 public:
  Remote(WorkerFleet* fleet, WorkerId id) : fleet_(fleet), id_(std::move(id)) {}

  const WorkerId& id() const override { return id_; }
  void Start(std::shared_ptr<const Job> job, Run run, const allocator::Resources& /*grant*/,
             RunEnded ended) override {
    // The grant is in run.resources(), set by the placement.
    fleet_->Start(id_, std::move(job), std::move(run), std::move(ended));
  }
  void Cancel(const RunId& run) override { fleet_->Cancel(run); }
  void Resume(std::shared_ptr<const Job> job, Run run, RunEnded ended) override {
    fleet_->Resume(id_, std::move(job), std::move(run), std::move(ended));
  }
  void Forget(const RunId& run) override { fleet_->Forget(run); }
  v1::Enforcement enforcement() const override { return fleet_->EnforcementOf(id_); }

 private:
  WorkerFleet* const fleet_;
  const WorkerId id_;
};

WorkerFleet::WorkerFleet(scheduler::Placement* placement, FleetStore* runs,
                         messaging::Producer* producer, const Clock* clock, Options options)
    : placement_(placement),
      runs_(runs),
      producer_(producer),
      clock_(clock),
      options_(std::move(options)) {}

WorkerFleet::~WorkerFleet() = default;

WorkerFleet::WorkerEntry& WorkerFleet::EntryLocked(const WorkerId& id) {
  auto [it, inserted] = workers_.try_emplace(id);
  if (inserted) {
    it->second.remote = std::make_unique<Remote>(this, id);
    it->second.last_heard = clock_->Now();
  }
  return it->second;
}

void WorkerFleet::OnHeartbeat(const v1::WorkerHeartbeat& heartbeat) {
  const WorkerId id(heartbeat.worker_id());
  if (id.empty()) return;
  allocator::WorkerSpec spec;
  spec.id = id;
  spec.labels = allocator::Labels(heartbeat.labels().begin(), heartbeat.labels().end());
  const allocator::WorkerState state = StateOf(heartbeat);
  Remote* remote;
  bool state_changed;
  std::vector<Check> checks;
  {
    absl::MutexLock lock(&mu_);
    WorkerEntry& entry = EntryLocked(id);
    const bool restarted = !entry.incarnation.empty() && entry.incarnation != heartbeat.incarnation();
    entry.incarnation = heartbeat.incarnation();
    entry.last_heard = clock_->Now();
    entry.partitions.assign(heartbeat.task_partitions().begin(), heartbeat.task_partitions().end());
    entry.enforcement = heartbeat.enforcement();
    entry.held.clear();
    entry.held_truncated = heartbeat.runs_truncated();
    allocator::Resources others;
    for (const v1::HeldRun& held : heartbeat.runs()) {
      entry.held.insert(held.run_id());
      if (follows_.contains(RunId(held.run_id()))) continue;
      others = allocator::Plus(others, allocator::ResourcesFromProto(held.resources()));
    }
    // What other scheduler instances hold there is not ours to give.
    spec.capacity = LeftOf(allocator::ResourcesFromProto(heartbeat.capacity()), others);
    state_changed = entry.state != state;
    entry.state = state;
    remote = entry.remote.get();
    if (state == allocator::WorkerState::kDown || (restarted && !entry.held_truncated)) {
      for (const auto& [run, follow] : follows_) {
        if (follow.worker != id || entry.held.contains(run.value())) continue;
        checks.push_back(Check{run, state == allocator::WorkerState::kDown});
      }
    }
  }
  (void)placement_->AddWorker(remote, spec);
  if (state_changed) (void)placement_->SetWorkerState(id, state);
  for (const Check& check : checks) Resolve(check);
}

void WorkerFleet::EnsureWorker(const WorkerId& id) {
  Remote* remote;
  {
    absl::MutexLock lock(&mu_);
    if (workers_.contains(id)) return;
    WorkerEntry& entry = EntryLocked(id);
    entry.state = allocator::WorkerState::kDraining;
    remote = entry.remote.get();
  }
  allocator::WorkerSpec spec;
  spec.id = id;
  (void)placement_->AddWorker(remote, spec);
  (void)placement_->SetWorkerState(id, allocator::WorkerState::kDraining);
}

void WorkerFleet::Start(const WorkerId& worker, std::shared_ptr<const Job> job, Run run,
                        scheduler::Worker::RunEnded ended) {
  v1::TaskMessage task;
  task.set_kind(v1::TaskMessage::START);
  *task.mutable_run() = run;
  *task.mutable_job() = *job;
  task.set_scheduler_id(options_.scheduler_id);
  int32_t partition = -1;
  {
    absl::MutexLock lock(&mu_);
    const WorkerEntry& entry = EntryLocked(worker);
    if (!entry.partitions.empty()) {
      partition = entry.partitions[absl::HashOf(run.id()) % entry.partitions.size()];
    }
    // Followed before it is sent, so its end cannot arrive first.
    RunId id(run.id());
    follows_.insert_or_assign(std::move(id), Follow{worker, std::move(job), std::move(run),
                                                    std::move(ended), clock_->Now(), partition});
  }
  // Without a partition nothing can reach the worker: Tick() places the run
  // again once its worker has not listed it for reconcile_after.
  if (partition >= 0) SendTask(partition, task);
}

void WorkerFleet::Resume(const WorkerId& worker, std::shared_ptr<const Job> job, Run run,
                         scheduler::Worker::RunEnded ended) {
  absl::MutexLock lock(&mu_);
  EntryLocked(worker);
  const RunId id(run.id());
  follows_.insert_or_assign(
      id, Follow{worker, std::move(job), std::move(run), std::move(ended), clock_->Now(), -1});
}

void WorkerFleet::Cancel(const RunId& run) {
  v1::TaskMessage task;
  task.set_kind(v1::TaskMessage::CANCEL);
  task.set_scheduler_id(options_.scheduler_id);
  int32_t partition = -1;
  {
    absl::MutexLock lock(&mu_);
    auto it = follows_.find(run);
    if (it == follows_.end()) return;
    *task.mutable_run() = it->second.run;
    partition = it->second.partition;
    const WorkerEntry& entry = EntryLocked(it->second.worker);
    // The worker consumes any of its partitions; the START's may have moved.
    if (std::find(entry.partitions.begin(), entry.partitions.end(), partition) ==
        entry.partitions.end()) {
      partition = entry.partitions.empty() ? -1 : entry.partitions.front();
    }
  }
  if (partition >= 0) SendTask(partition, task);
}

void WorkerFleet::Forget(const RunId& run) {
  absl::MutexLock lock(&mu_);
  follows_.erase(run);
}

v1::Enforcement WorkerFleet::EnforcementOf(const WorkerId& worker) const {
  absl::MutexLock lock(&mu_);
  auto it = workers_.find(worker);
  return it == workers_.end() ? v1::Enforcement() : it->second.enforcement;
}

void WorkerFleet::SendTask(int32_t partition, const v1::TaskMessage& task) {
  messaging::OutgoingMessage message;
  message.topic = messaging::kTasksTopic;
  message.key = task.run().id();
  message.partition = partition;
  message.value = task.SerializeAsString();
  // A task that is never delivered is found by Tick(): its worker does not
  // list the run, and storage shows it unclaimed.
  producer_->SendAsync(std::move(message), [](absl::StatusOr<messaging::Delivery>) {});
}

bool WorkerFleet::OnRunEnded(const Run& run) {
  scheduler::Worker::RunEnded ended;
  {
    absl::MutexLock lock(&mu_);
    auto it = follows_.find(RunId(run.id()));
    if (it == follows_.end()) return false;
    ended = std::move(it->second.ended);
    follows_.erase(it);
  }
  std::move(ended)(run);
  return true;
}

void WorkerFleet::EndFollow(const RunId& run, const Run& record) {
  scheduler::Worker::RunEnded ended;
  {
    absl::MutexLock lock(&mu_);
    auto it = follows_.find(run);
    if (it == follows_.end()) return;  // ended meanwhile
    ended = std::move(it->second.ended);
    follows_.erase(it);
  }
  std::move(ended)(record);
}

void WorkerFleet::Resolve(const Check& check) {
  absl::StatusOr<Run> stored = runs_->GetRun(check.run);
  WorkerId worker;
  std::shared_ptr<const Job> job;
  {
    absl::MutexLock lock(&mu_);
    auto it = follows_.find(check.run);
    if (it == follows_.end()) return;  // ended meanwhile
    worker = it->second.worker;
    job = it->second.job;
    if (absl::IsNotFound(stored.status())) {  // deleted with its job
      stored = it->second.run;
      stored->set_status(std::string(RunStatusName(RunStatus::kCancelled)));
      stored->set_error("deleted with its job");
    }
  }
  if (!stored.ok()) return;  // storage trouble: the next Tick() tries again
  const std::optional<RunStatus> status = ParseRunStatus(stored->status());
  if (!IsActiveStatus(status)) {
    EndFollow(check.run, *stored);  // it ended; the event was lost or is late
    return;
  }
  if (status == RunStatus::kRunning && stored->worker_id() != worker.value()) {
    // Claimed by another worker (the task's partition moved to it): follow
    // it there.
    absl::MutexLock lock(&mu_);
    EntryLocked(WorkerId(stored->worker_id()));
    if (auto it = follows_.find(check.run); it != follows_.end()) {
      it->second.worker = WorkerId(stored->worker_id());
      it->second.since = clock_->Now();
      it->second.partition = -1;
    }
    return;
  }
  if (status == RunStatus::kRunning) {
    Run failed = *stored;
    failed.set_status(std::string(RunStatusName(RunStatus::kFailed)));
    failed.set_error(check.worker_down
                         ? absl::StrCat("worker ", worker.value(), " stopped heartbeating")
                         : absl::StrCat("worker ", worker.value(),
                                        " no longer has the run (it restarted or lost it)"));
    *failed.mutable_end_time() = ToProto(clock_->Now());
    // Conditional: a result the worker writes meanwhile wins, and then a
    // late result of this attempt can never land after the failover.
    absl::StatusOr<bool> moved = runs_->TransitionRun(failed, "RUNNING");
    if (moved.ok() && *moved) EndFollow(check.run, failed);
    return;  // otherwise the next Tick() looks again
  }
  // Never claimed: place it again, elsewhere if its worker is down.
  {
    absl::MutexLock lock(&mu_);
    follows_.erase(check.run);
  }
  placement_->Redispatch(std::move(job), *std::move(stored));
}

void WorkerFleet::Tick() {
  const absl::Time now = clock_->Now();
  std::vector<WorkerId> silent;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [id, entry] : workers_) {
      if (entry.state != allocator::WorkerState::kDown &&
          now - std::max(entry.last_heard, entry.vouched) > options_.worker_timeout) {
        silent.push_back(id);
      }
    }
  }
  // Silent on Kafka: ask storage before declaring the worker dead.
  std::vector<std::pair<WorkerId, absl::Time>> vouched;
  for (const WorkerId& id : silent) {
    absl::StatusOr<absl::Time> alive = runs_->WorkerLastAlive(id);
    if (alive.ok()) vouched.emplace_back(id, *alive);
  }
  std::vector<WorkerId> went_down;
  std::vector<Check> checks;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [id, at] : vouched) {
      if (auto it = workers_.find(id); it != workers_.end()) {
        it->second.vouched = std::max(it->second.vouched, at);
      }
    }
    for (const WorkerId& id : silent) {
      auto it = workers_.find(id);
      if (it == workers_.end()) continue;
      WorkerEntry& entry = it->second;
      if (entry.state != allocator::WorkerState::kDown &&
          now - std::max(entry.last_heard, entry.vouched) > options_.worker_timeout) {
        entry.state = allocator::WorkerState::kDown;
        went_down.push_back(id);
      }
    }
    for (const auto& [run, follow] : follows_) {
      auto worker = workers_.find(follow.worker);
      if (worker == workers_.end()) continue;
      const WorkerEntry& entry = worker->second;
      if (entry.state == allocator::WorkerState::kDown) {
        checks.push_back(Check{run, true});
      } else if (entry.last_heard - follow.since >= options_.reconcile_after &&
                 !entry.held_truncated && !entry.held.contains(run.value())) {
        checks.push_back(Check{run, false});
      }
    }
  }
  for (const WorkerId& id : went_down) (void)placement_->SetWorkerState(id, allocator::WorkerState::kDown);
  for (const Check& check : checks) Resolve(check);
}

size_t WorkerFleet::followed_runs() const {
  absl::MutexLock lock(&mu_);
  return follows_.size();
}

}  // namespace dts::cluster
