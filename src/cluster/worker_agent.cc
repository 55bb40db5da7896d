#include "dts/cluster/worker_agent.h"

#include <algorithm>
#include <limits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "dts/cluster/task_message.h"
#include "dts/common/id_generator.h"
#include "dts/execution/local_worker.h"
#include "dts/model/run_log.h"
#include "dts/model/time_convert.h"
#include "dts/storage/shard.h"

namespace dts::cluster {
namespace {

constexpr absl::Duration kHeartbeatSendTimeout = absl::Seconds(5);
constexpr absl::Duration kFlushTimeout = absl::Seconds(10);

int32_t ClampToInt32(int64_t v) {
  return static_cast<int32_t>(std::clamp<int64_t>(v, 0, std::numeric_limits<int32_t>::max()));
}

v1::ResourceRequirements ToProtoResources(const allocator::Resources& r) {
  v1::ResourceRequirements out;
  out.set_cpu(ClampToInt32(r.cpu_millis));
  out.set_memory(ClampToInt32(r.memory_mib));
  out.set_storage(ClampToInt32(r.storage_mib));
  return out;
}

bool HasExecutor(const v1::TaskMessage& task) {
  return task.job().executor().kind_case() != v1::Executor::KIND_NOT_SET;
}

bool SameTime(const google::protobuf::Timestamp& a, const google::protobuf::Timestamp& b) {
  return a.seconds() == b.seconds() && a.nanos() == b.nanos();
}

// After a write whose outcome was unknown (a timeout), whether the stored
// record is the one we wrote: the times are ours to the nanosecond.
bool SameWrite(const Run& stored, const Run& written) {
  return stored.status() == written.status() && stored.worker_id() == written.worker_id() &&
         SameTime(stored.start_time(), written.start_time()) &&
         SameTime(stored.end_time(), written.end_time());
}

// Answers the storage gives for good: no point in asking again.
bool IsDefinitive(const absl::Status& s) {
  return absl::IsNotFound(s) || absl::IsInvalidArgument(s);
}

execution::RunOutcome OutcomeNow(RunStatus status, std::string error, absl::Time now) {
  execution::RunOutcome outcome;
  outcome.status = status;
  outcome.error = std::move(error);
  outcome.start_time = outcome.end_time = now;
  return outcome;
}

}  // namespace

void PartitionOffsets::Begin(int64_t offset) {
  // The partition's committed position is where its first message was read.
  if (committed_ < 0) committed_ = offset;
  in_flight_.insert(offset);
  next_ = std::max(next_, offset + 1);
}

std::optional<int64_t> PartitionOffsets::End(int64_t offset) {
  if (in_flight_.erase(offset) == 0) return std::nullopt;
  const int64_t position = in_flight_.empty() ? next_ : *in_flight_.begin();
  if (position <= committed_) return std::nullopt;
  committed_ = position;
  return position;
}

bool WorkerAgent::WaitKey::operator<(const WaitKey& o) const {
  if (priority != o.priority) return priority > o.priority;
  if (scheduled != o.scheduled) return scheduled < o.scheduled;
  if (arrival != o.arrival) return arrival < o.arrival;
  return run < o.run;
}

absl::StatusOr<std::unique_ptr<WorkerAgent>> WorkerAgent::Create(
    const messaging::KafkaConfig& kafka, int shards, storage::CassandraStore* store,
    execution::Executor* executor, messaging::Producer* producer, const Clock* clock,
    Options options) {
  if (options.worker_id.empty()) return absl::InvalidArgumentError("worker agent: no worker id");
  if (shards < 1) return absl::InvalidArgumentError("worker agent: shards must be at least 1");
  if (store == nullptr || executor == nullptr || producer == nullptr || clock == nullptr) {
    return absl::InvalidArgumentError("worker agent: store, executor, producer and clock are required");
  }
  if (options.incarnation.empty()) options.incarnation = RandomIdGenerator().NewUuid();
  std::unique_ptr<WorkerAgent> agent(
      new WorkerAgent(shards, store, executor, producer, clock, std::move(options)));
  if (absl::Status s = agent->Start(kafka); !s.ok()) return s;
  return agent;
}

WorkerAgent::WorkerAgent(int shards, storage::CassandraStore* store, execution::Executor* executor,
                         messaging::Producer* producer, const Clock* clock, Options options)
    : shards_(shards),
      store_(store),
      executor_(executor),
      producer_(producer),
      clock_(clock),
      options_(std::move(options)),
      enforcement_(execution::EnforcementProto(executor->Enforcement())) {}

absl::Status WorkerAgent::Start(const messaging::KafkaConfig& kafka) {
  messaging::ConsumerOptions consumer_options;
  consumer_options.group_id = options_.group_id;
  consumer_options.topics = {options_.tasks_topic};
  consumer_options.commit_mode = messaging::CommitMode::kExplicit;
  consumer_options.handler = [this](const messaging::ConsumedMessage& m) { return OnTask(m); };
  consumer_options.on_assigned = [this](const std::vector<messaging::TopicPartition>& tps) {
    OnAssigned(tps);
  };
  consumer_options.on_revoked = [this](const std::vector<messaging::TopicPartition>& tps,
                                       bool lost) { OnRevoked(tps, lost); };
  consumer_options.on_error = [this](const absl::Status& s) { Report(s); };
  // The callbacks wait until consumer_ is set below.
  absl::StatusOr<std::unique_ptr<messaging::KafkaConsumer>> consumer =
      messaging::KafkaConsumer::Create(kafka, std::move(consumer_options), clock_);
  if (!consumer.ok()) return consumer.status();
  consumer_owner_ = *std::move(consumer);
  {
    absl::MutexLock lock(&mu_);
    consumer_ = consumer_owner_.get();
    changed_ = true;  // the first heartbeat goes out at once
  }
  dispatcher_ = std::thread([this] { DispatchLoop(); });
  heartbeater_ = std::thread([this] { HeartbeatLoop(); });
  liveness_ = std::thread([this] { LivenessLoop(); });
  return absl::OkStatus();
}

WorkerAgent::~WorkerAgent() { Shutdown(); }

// ---------------------------------------------------------------------------
// The consumer's callbacks (poll thread).

absl::Status WorkerAgent::OnTask(const messaging::ConsumedMessage& message) {
  std::optional<RunId> cancel;
  {
    absl::MutexLock lock(&mu_);
    auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return consumer_ != nullptr; };
    mu_.Await(absl::Condition(&ready));
    // Draining: the consumer is being closed; what arrives now stays
    // uncommitted and goes to the partition's next owner.
    if (state_ != allocator::WorkerState::kReady) return absl::OkStatus();
    const Delivery delivery = BeginDelivery(message);
    absl::StatusOr<v1::TaskMessage> decoded = DecodeTask(message.value);
    if (!decoded.ok()) {
      // Redelivering it would not make it readable.
      Report(absl::InvalidArgumentError(absl::StrCat("task ", message.topic, "/", message.partition,
                                                     "@", message.offset, " is not a valid task (",
                                                     decoded.status().message(), "); skipped")));
      MarkDone(delivery);
      return absl::OkStatus();
    }
    v1::TaskMessage task = *std::move(decoded);
    if (task.kind() == v1::TaskMessage::CANCEL) {
      cancel = AcceptCancel(RunId(task.run().id()), delivery);
    } else {
      AcceptStart(std::move(task), delivery);
    }
  }
  if (cancel) executor_->Cancel(*cancel);
  return absl::OkStatus();
}

WorkerAgent::Delivery WorkerAgent::BeginDelivery(const messaging::ConsumedMessage& message) {
  Tracker& tracker = trackers_[message.topic_partition()];
  if (tracker.generation == 0) tracker.generation = next_generation_++;
  tracker.offsets.Begin(message.offset);
  return Delivery{.partition = message.topic_partition(),
                  .offset = message.offset,
                  .generation = tracker.generation};
}

void WorkerAgent::AcceptStart(v1::TaskMessage task, const Delivery& delivery) {
  const RunId id(task.run().id());
  if (auto it = held_.find(id); it != held_.end()) {
    // A redelivery of a run we hold: done once the first one is.
    if (it->second.phase == Phase::kRunning) {
      MarkDone(delivery);
    } else {
      it->second.deliveries.push_back(delivery);
    }
    return;
  }
  Held held;
  held.grant = HasExecutor(task) ? allocator::ResourcesFromProto(task.run().resources())
                                 : allocator::Resources{};
  held.arrival = next_arrival_++;
  held.deliveries.push_back(delivery);
  waiting_.insert(WaitKey{.priority = task.job().priority(),
                          .scheduled = task.run().has_scheduled_time()
                                           ? FromProto(task.run().scheduled_time())
                                           : absl::InfinitePast(),
                          .arrival = held.arrival,
                          .run = id});
  held.task = std::move(task);
  held_.emplace(id, std::move(held));
  Changed();
}

std::optional<RunId> WorkerAgent::AcceptCancel(const RunId& id, const Delivery& delivery) {
  auto it = held_.find(id);
  if (it == held_.end()) {
    MarkDone(delivery);  // not ours (any more): nothing to stop
    return std::nullopt;
  }
  Held& held = it->second;
  switch (held.phase) {
    case Phase::kWaiting:
      std::erase_if(waiting_, [&id](const WaitKey& k) { return k.run == id; });
      held.phase = Phase::kCancelling;
      held.deliveries.push_back(delivery);  // done once CANCELLED is stored
      to_cancel_.push_back(id);
      Changed();
      return std::nullopt;
    case Phase::kCancelling:
      held.deliveries.push_back(delivery);
      return std::nullopt;
    case Phase::kClaiming:
      held.cancel_requested = true;  // Claim() sees it once the claim is written
      MarkDone(delivery);
      return std::nullopt;
    case Phase::kRunning:
      held.cancel_requested = true;
      MarkDone(delivery);
      return id;
  }
  return std::nullopt;
}

void WorkerAgent::OnAssigned(const std::vector<messaging::TopicPartition>& partitions) {
  absl::MutexLock lock(&mu_);
  auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return consumer_ != nullptr; };
  mu_.Await(absl::Condition(&ready));
  for (const messaging::TopicPartition& tp : partitions) {
    trackers_[tp] = Tracker{.generation = next_generation_++, .offsets = {}};
  }
  Changed();
}

void WorkerAgent::OnRevoked(const std::vector<messaging::TopicPartition>& partitions, bool lost) {
  absl::MutexLock lock(&mu_);
  auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return consumer_ != nullptr; };
  mu_.Await(absl::Condition(&ready));
  const std::set<messaging::TopicPartition> gone(partitions.begin(), partitions.end());
  for (const messaging::TopicPartition& tp : partitions) trackers_.erase(tp);
  // Their waiting tasks are uncommitted, so the new owner gets them; keeping
  // them here too would only reserve capacity twice. Started runs stay.
  DropWaiting([&gone](const Held& h) {
    return std::any_of(h.deliveries.begin(), h.deliveries.end(),
                       [&gone](const Delivery& d) { return gone.contains(d.partition); });
  });
  if (lost) {
    Report(absl::AbortedError(
        absl::StrCat("kafka: lost ", partitions.size(),
                     " task partitions (the group gave them away: a session timeout, or a "
                     "rebalance this member missed)")));
  }
  Changed();
}

void WorkerAgent::DropWaiting(const std::function<bool(const Held&)>& which) {
  for (auto it = held_.begin(); it != held_.end();) {
    if (it->second.phase != Phase::kWaiting || !which(it->second)) {
      ++it;
      continue;
    }
    const RunId id = it->first;
    std::erase_if(waiting_, [&id](const WaitKey& k) { return k.run == id; });
    held_.erase(it++);
  }
  Changed();
}

// ---------------------------------------------------------------------------
// The dispatcher thread.

bool WorkerAgent::Fits(const allocator::Resources& grant) const {
  const allocator::Resources after = allocator::Plus(allocated_, grant);
  const allocator::Resources& cap = options_.capacity;
  return after.cpu_millis <= cap.cpu_millis && after.memory_mib <= cap.memory_mib &&
         after.storage_mib <= cap.storage_mib;
}

bool WorkerAgent::HeadFits() const {
  if (waiting_.empty()) return false;
  const Held& head = held_.at(waiting_.begin()->run);
  // A run larger than the whole worker runs alone rather than never.
  return Fits(head.grant) || allocated_ == allocator::Resources{};
}

bool WorkerAgent::HasDispatchWork() const {
  return !to_cancel_.empty() || (state_ == allocator::WorkerState::kReady && HeadFits());
}

void WorkerAgent::DispatchLoop() {
  for (;;) {
    std::optional<RunId> cancel;
    std::optional<RunId> claim;
    {
      absl::MutexLock lock(&mu_);
      auto wake = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return stop_dispatch_ || HasDispatchWork();
      };
      mu_.Await(absl::Condition(&wake));
      if (!to_cancel_.empty()) {
        cancel = to_cancel_.front();
        to_cancel_.erase(to_cancel_.begin());
      } else if (HasDispatchWork()) {
        const RunId id = waiting_.begin()->run;
        waiting_.erase(waiting_.begin());
        Held& held = held_.at(id);
        held.phase = Phase::kClaiming;
        allocated_ = allocator::Plus(allocated_, held.grant);
        claim = id;
        Changed();
      } else {
        return;  // stopped, nothing left
      }
    }
    if (cancel) {
      CancelWaiting(*cancel);
    } else {
      Claim(*claim);
    }
  }
}

void WorkerAgent::Claim(const RunId& id) {
  v1::TaskMessage task;
  {
    absl::MutexLock lock(&mu_);
    task = held_.at(id).task;
  }
  if (!HasExecutor(task)) {
    CompleteWithoutExecutor(id, task);
    return;
  }
  Run running = task.run();
  running.set_status(std::string(RunStatusName(RunStatus::kRunning)));
  running.set_worker_id(options_.worker_id.value());
  *running.mutable_start_time() = ToProto(clock_->Now());
  running.clear_end_time();
  running.clear_queue_reason();
  const absl::StatusOr<bool> claimed = Transition(running, task.run().status());
  if (claimed.ok() && !*claimed) ReportSkipped(task.run());
  bool cancel_requested = false;
  {
    absl::MutexLock lock(&mu_);
    Held& held = held_.at(id);
    if (!claimed.ok() || !*claimed) {
      // False: claimed or ended elsewhere (a redelivery). Either way the task
      // is settled, unless the retries were abandoned (not durable).
      if (!claimed.ok()) {
        Report(absl::Status(claimed.status().code(),
                            absl::StrCat("run ", id.value(), " not claimed: ",
                                         claimed.status().message())));
      }
      if (claimed.ok() || IsDefinitive(claimed.status())) {
        for (const Delivery& d : held.deliveries) MarkDone(d);
      }
      Release(id);
      return;
    }
    held.phase = Phase::kRunning;
    held.running = running;
    for (const Delivery& d : held.deliveries) MarkDone(d);
    held.deliveries.clear();
    cancel_requested = held.cancel_requested;
    Changed();
  }
  if (cancel_requested) {
    Finish(id, OutcomeNow(RunStatus::kCancelled, "cancelled", clock_->Now()));
    return;
  }
  Launch(id, task);
}

void WorkerAgent::ReportSkipped(const Run& placed) {
  // Normal for a redelivered task; anything else is worth a look.
  absl::StatusOr<Run> stored = store_->GetRun(RunId(placed.id()));
  const std::string now = stored.ok() ? absl::StrCat(stored->status(), " on worker \"",
                                                     stored->worker_id(), "\"")
                                      : std::string(stored.status().message());
  Report(absl::FailedPreconditionError(absl::StrCat("run ", placed.id(), ": task skipped, the run is ",
                                                    now, ", not ", placed.status())));
}

void WorkerAgent::Launch(const RunId& id, const v1::TaskMessage& task) {
  const Job& job = task.job();
  execution::RunRequest request = execution::RunRequestFor(
      job, task.run(), allocator::ResourcesFromProto(task.run().resources()),
      options_.max_output_bytes);
  LogRun("worker", "run started", task.run());
  const absl::Status started = executor_->Start(
      std::move(request), [this, id](execution::RunOutcome outcome) { Finish(id, std::move(outcome)); });
  if (!started.ok()) {
    Finish(id, OutcomeNow(RunStatus::kFailed, absl::StrCat("could not start: ", started.message()),
                          clock_->Now()));
    return;
  }
  // A CANCEL that came while the executor was starting found nothing to stop.
  bool cancel = false;
  {
    absl::MutexLock lock(&mu_);
    auto it = held_.find(id);
    cancel = it != held_.end() && it->second.cancel_requested;
  }
  if (cancel) executor_->Cancel(id);
}

void WorkerAgent::Finish(const RunId& id, execution::RunOutcome outcome) {
  Run final_run;
  {
    absl::MutexLock lock(&mu_);
    const Held& held = held_.at(id);
    final_run = held.running;
    // Stopped by our own shutdown, not by a user: FAILED, so that the job's
    // retry policy runs it again elsewhere (CANCELLED is never retried).
    if (held.shutting_down && !held.cancel_requested && outcome.status == RunStatus::kCancelled) {
      outcome.status = RunStatus::kFailed;
      outcome.error = "worker shut down";
    }
  }
  execution::ApplyOutcome(outcome, final_run);
  LogRun("worker", "run ended", final_run);
  const absl::StatusOr<bool> recorded =
      Transition(final_run, RunStatusName(RunStatus::kRunning));
  if (!recorded.ok()) {
    Report(absl::Status(recorded.status().code(),
                        absl::StrCat("run ", id.value(), ": outcome ", final_run.status(),
                                     " not recorded (left to failover): ",
                                     recorded.status().message())));
  } else if (!*recorded) {
    Report(absl::FailedPreconditionError(
        absl::StrCat("run ", id.value(), " is no longer RUNNING (failed over meanwhile): its outcome ",
                     final_run.status(), " is dropped")));
  } else {
    PublishEnded(final_run);
  }
  absl::MutexLock lock(&mu_);
  Release(id);
}

void WorkerAgent::CompleteWithoutExecutor(const RunId& id, const v1::TaskMessage& task) {
  // Nothing to protect from running twice: one write from the task's status.
  Run done = task.run();
  execution::ApplyOutcome(OutcomeNow(RunStatus::kCompleted, "", clock_->Now()), done);
  done.set_worker_id(options_.worker_id.value());
  done.clear_queue_reason();
  const absl::StatusOr<bool> completed = Transition(done, task.run().status());
  if (completed.ok() && *completed) PublishEnded(done);
  if (completed.ok() && !*completed) ReportSkipped(task.run());
  absl::MutexLock lock(&mu_);
  if (!completed.ok()) {
    Report(absl::Status(completed.status().code(),
                        absl::StrCat("run ", id.value(), " not completed: ",
                                     completed.status().message())));
  }
  if (completed.ok() || IsDefinitive(completed.status())) {
    for (const Delivery& d : held_.at(id).deliveries) MarkDone(d);
  }
  Release(id);
}

void WorkerAgent::CancelWaiting(const RunId& id) {
  v1::TaskMessage task;
  {
    absl::MutexLock lock(&mu_);
    task = held_.at(id).task;
  }
  Run cancelled = task.run();
  cancelled.set_status(std::string(RunStatusName(RunStatus::kCancelled)));
  cancelled.set_error("cancelled");
  *cancelled.mutable_end_time() = ToProto(clock_->Now());
  cancelled.clear_queue_reason();
  const absl::StatusOr<bool> done = Transition(cancelled, task.run().status());
  if (done.ok() && *done) PublishEnded(cancelled);
  absl::MutexLock lock(&mu_);
  if (!done.ok()) {
    Report(absl::Status(done.status().code(), absl::StrCat("run ", id.value(), " not cancelled: ",
                                                          done.status().message())));
  }
  if (done.ok() || IsDefinitive(done.status())) {
    for (const Delivery& d : held_.at(id).deliveries) MarkDone(d);
  }
  Release(id);
}

// ---------------------------------------------------------------------------
// Storage and events.

absl::StatusOr<bool> WorkerAgent::Transition(const Run& next, absl::string_view from) {
  absl::Duration backoff = options_.retry_initial_backoff;
  bool uncertain = false;  // an earlier attempt may have been applied
  for (;;) {
    absl::StatusOr<bool> result = store_->TransitionRun(next, from);
    if (result.ok() && !*result && uncertain) {
      absl::StatusOr<Run> stored = store_->GetRun(RunId(next.id()));
      if (stored.ok()) return SameWrite(*stored, next);
      result = stored.status();
    }
    if (result.ok() || IsDefinitive(result.status())) return result;
    uncertain = true;
    Report(absl::Status(result.status().code(),
                        absl::StrCat("run ", next.id(), ": storing ", next.status(), " failed (",
                                     result.status().message(), "); retrying in ",
                                     absl::FormatDuration(backoff))));
    {
      absl::MutexLock lock(&mu_);
      if (mu_.AwaitWithTimeout(absl::Condition(&abandon_), backoff)) {
        return absl::CancelledError("worker shut down before storage answered");
      }
    }
    backoff = std::min(backoff * 2, options_.retry_max_backoff);
  }
}

void WorkerAgent::PublishEnded(const Run& run) {
  messaging::OutgoingMessage message;
  message.topic = options_.run_events_topic;
  message.key = run.job_id();
  message.value = run.SerializeAsString();
  message.partition = static_cast<int32_t>(storage::ShardOf(JobId(run.job_id()), shards_));
  // A copy, not `this`: the callback may run after the agent is gone.
  auto on_error = options_.on_error;
  std::string what = absl::StrCat("run ", run.id(), " ", run.status());
  producer_->SendAsync(std::move(message), [on_error, what = std::move(what)](
                                               absl::StatusOr<messaging::Delivery> d) {
    if (!d.ok() && on_error) {
      on_error(absl::Status(d.status().code(),
                            absl::StrCat("publishing ", what, ": ", d.status().message())));
    }
  });
}

void WorkerAgent::MarkDone(const Delivery& delivery) {
  auto it = trackers_.find(delivery.partition);
  // Revoked (or revoked and assigned again) since: the new owner decides.
  if (it == trackers_.end() || it->second.generation != delivery.generation) return;
  const std::optional<int64_t> position = it->second.offsets.End(delivery.offset);
  if (position && consumer_ != nullptr) consumer_->MarkDurable(delivery.partition, *position - 1);
}

void WorkerAgent::Release(const RunId& id) {
  auto it = held_.find(id);
  if (it == held_.end()) return;
  if (it->second.phase == Phase::kClaiming || it->second.phase == Phase::kRunning) {
    allocated_ = allocator::Minus(allocated_, it->second.grant);
  }
  held_.erase(it);
  Changed();
}

// ---------------------------------------------------------------------------
// Heartbeats.

void WorkerAgent::Changed() { changed_ = true; }

void WorkerAgent::Report(const absl::Status& status) const {
  if (options_.on_error) options_.on_error(status);
}

v1::WorkerHeartbeat WorkerAgent::Heartbeat() const {
  absl::MutexLock lock(&mu_);
  return HeartbeatLocked();
}

v1::WorkerHeartbeat WorkerAgent::HeartbeatLocked() const {
  v1::WorkerHeartbeat hb;
  hb.set_worker_id(options_.worker_id.value());
  hb.set_incarnation(options_.incarnation);
  hb.mutable_labels()->insert(options_.labels.begin(), options_.labels.end());
  *hb.mutable_capacity() = ToProtoResources(options_.capacity);
  hb.set_state(std::string(allocator::WorkerStateName(state_)));
  // Every run holding capacity, but only so many waiting ones: under
  // overload thousands wait, and the heartbeat must stay small and cheap.
  using Entry = const std::pair<const RunId, Held>*;
  std::vector<Entry> holding;
  std::vector<Entry> waiting;
  for (const auto& entry : held_) {
    const bool holds = entry.second.phase == Phase::kClaiming || entry.second.phase == Phase::kRunning;
    (holds ? holding : waiting).push_back(&entry);
  }
  auto by_id = [](Entry a, Entry b) { return a->first < b->first; };
  std::sort(holding.begin(), holding.end(), by_id);
  hb.set_waiting_runs(static_cast<int32_t>(waiting.size()));
  const size_t max_waiting = options_.max_listed_waiting;
  if (waiting.size() > max_waiting) {
    std::nth_element(waiting.begin(), waiting.begin() + static_cast<ptrdiff_t>(max_waiting),
                     waiting.end(), by_id);
    waiting.resize(max_waiting);
    hb.set_runs_truncated(true);
  }
  std::sort(waiting.begin(), waiting.end(), by_id);
  for (const std::vector<Entry>* list : {&holding, &waiting}) {
    for (Entry entry : *list) {
      v1::HeldRun* run = hb.add_runs();
      run->set_run_id(entry->first.value());
      run->set_job_id(entry->second.task.run().job_id());
      *run->mutable_resources() = ToProtoResources(entry->second.grant);
      run->set_started(entry->second.phase == Phase::kRunning);
    }
  }
  for (const auto& [tp, tracker] : trackers_) {
    if (tp.topic == options_.tasks_topic) hb.add_task_partitions(tp.partition);
  }
  *hb.mutable_sent_at() = ToProto(clock_->Now());
  *hb.mutable_enforcement() = enforcement_;
  hb.set_http_address(options_.http_address);
  return hb;
}

namespace {

messaging::OutgoingMessage HeartbeatMessage(const std::string& topic,
                                            const v1::WorkerHeartbeat& hb) {
  messaging::OutgoingMessage message;
  message.topic = topic;
  message.key = hb.worker_id();  // the partitioner keeps one worker's in order
  message.value = hb.SerializeAsString();
  return message;
}

}  // namespace

void WorkerAgent::HeartbeatLoop() {
  for (;;) {
    v1::WorkerHeartbeat hb;
    {
      absl::MutexLock lock(&mu_);
      auto wake = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return changed_ || stop_heartbeats_;
      };
      // Intervals are real time: they pace messages, they date nothing.
      mu_.AwaitWithTimeout(absl::Condition(&wake), options_.heartbeat_interval);
      if (stop_heartbeats_) return;
      // Changes come in floods under load: at most one heartbeat per fifth
      // of the interval, carrying all of them.
      mu_.AwaitWithTimeout(absl::Condition(&stop_heartbeats_), options_.heartbeat_interval / 5);
      if (stop_heartbeats_) return;
      changed_ = false;
      hb = HeartbeatLocked();
    }
    auto on_error = options_.on_error;
    producer_->SendAsync(HeartbeatMessage(options_.heartbeats_topic, hb),
                         [on_error](absl::StatusOr<messaging::Delivery> d) {
                           if (!d.ok() && on_error) {
                             on_error(absl::Status(d.status().code(),
                                                   absl::StrCat("heartbeat: ", d.status().message())));
                           }
                         });
  }
}

void WorkerAgent::LivenessLoop() {
  for (;;) {
    std::string state;
    {
      absl::MutexLock lock(&mu_);
      if (mu_.AwaitWithTimeout(absl::Condition(&stop_heartbeats_), options_.heartbeat_interval)) {
        return;
      }
      state = std::string(allocator::WorkerStateName(state_));
    }
    if (absl::Status s = store_->RecordWorkerAlive(options_.worker_id, clock_->Now(), state);
        !s.ok()) {
      Report(absl::Status(s.code(), absl::StrCat("liveness record: ", s.message())));
    }
  }
}

void WorkerAgent::SendHeartbeatNow() {
  const v1::WorkerHeartbeat hb = Heartbeat();
  absl::StatusOr<messaging::Delivery> sent =
      producer_->Send(HeartbeatMessage(options_.heartbeats_topic, hb), kHeartbeatSendTimeout);
  if (!sent.ok()) {
    Report(absl::Status(sent.status().code(),
                        absl::StrCat("heartbeat ", hb.state(), ": ", sent.status().message())));
  }
}

// ---------------------------------------------------------------------------
// Shutdown.

bool WorkerAgent::AwaitFor(const std::function<bool()>& done, absl::Duration timeout) {
  return mu_.AwaitWithTimeout(absl::Condition(&done), timeout);
}

void WorkerAgent::Shutdown() {
  if (!BeginShutdown()) return;
  SendHeartbeatNow();  // schedulers stop placing runs here
  // Leaves the group: OnRevoked drops the waiting runs, whose tasks stay
  // uncommitted and go to the partitions' next owners.
  consumer_owner_->Close();
  DrainRuns();
  dispatcher_.join();
  {
    absl::MutexLock lock(&mu_);
    state_ = allocator::WorkerState::kDown;
    stop_heartbeats_ = true;
  }
  heartbeater_.join();
  liveness_.join();
  SendHeartbeatNow();
  if (absl::Status s = producer_->Flush(kFlushTimeout); !s.ok()) Report(s);
  absl::MutexLock lock(&mu_);
  shutdown_done_ = true;
}

bool WorkerAgent::BeginShutdown() {
  absl::MutexLock lock(&mu_);
  if (shutdown_started_) {
    mu_.Await(absl::Condition(&shutdown_done_));
    return false;
  }
  shutdown_started_ = true;
  if (consumer_ == nullptr) {  // never started
    shutdown_done_ = true;
    return false;
  }
  state_ = allocator::WorkerState::kDraining;
  Changed();
  return true;
}

void WorkerAgent::DrainRuns() {
  std::vector<RunId> to_stop;
  {
    absl::MutexLock lock(&mu_);
    DropWaiting([](const Held&) { return true; });
    auto drained = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return held_.empty(); };
    if (!AwaitFor(drained, options_.drain_timeout)) {
      for (auto& [id, held] : held_) {
        if (held.phase != Phase::kRunning) continue;
        held.shutting_down = true;
        to_stop.push_back(id);
      }
    }
  }
  for (const RunId& id : to_stop) executor_->Cancel(id);
  absl::MutexLock lock(&mu_);
  auto drained = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return held_.empty(); };
  if (!AwaitFor(drained, options_.finish_timeout)) {
    Report(absl::DeadlineExceededError(
        absl::StrCat(held_.size(), " runs not recorded by the end of the drain; their writes are "
                                   "abandoned and the schedulers will fail them over")));
  }
  abandon_ = true;
  stop_dispatch_ = true;
  // Every executor callback returns (cancelled runs end within the
  // executor's kill grace), so none runs after the agent is gone.
  mu_.Await(absl::Condition(&drained));
}

}  // namespace dts::cluster
