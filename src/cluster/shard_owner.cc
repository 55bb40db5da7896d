#include "dts/cluster/shard_owner.h"

#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "dts/messaging/admin.h"
#include "dts/storage/shard.h"

namespace dts::cluster {

ShardOwner::ShardOwner(ShardStore* store, scheduler::Engine* engine, WorkerFleet* fleet,
                       Options options)
    : store_(store), engine_(engine), fleet_(fleet), options_(std::move(options)) {
  shards_owned_ = metrics::DefaultRegistry().AddCollector(
      "dts_shards_owned", "Shards this scheduler instance owns.", metrics::Type::kGauge, {},
      [this](std::vector<metrics::Sample>& out) {
        out.push_back({{}, static_cast<double>(owned().size())});
      });
}

bool ShardOwner::assigned() const {
  absl::MutexLock lock(&mu_);
  return assigned_;
}

std::set<int> ShardOwner::ShardsIn(const std::vector<messaging::TopicPartition>& partitions) {
  std::set<int> shards;
  for (const messaging::TopicPartition& tp : partitions) {
    if (tp.topic == messaging::kJobsTopic) shards.insert(tp.partition);
  }
  return shards;
}

void ShardOwner::OnAssigned(const std::vector<messaging::TopicPartition>& partitions) {
  const std::set<int> shards = ShardsIn(partitions);
  if (shards.empty()) {
    absl::MutexLock lock(&mu_);
    assigned_ = true;
    return;
  }
  // Messages of these partitions wait until this returns, so the shard is
  // loaded before any change to it is applied. Storage being down only
  // delays that; the group moves the shards on if it lasts too long.
  while (true) {
    absl::Status s = Load(shards);
    if (s.ok()) break;
    absl::MutexLock lock(&mu_);
    if (stopped_) return;
    mu_.AwaitWithTimeout(absl::Condition(&stopped_), options_.retry);
  }
  absl::MutexLock lock(&mu_);
  owned_.insert(shards.begin(), shards.end());
  assigned_ = true;
}

absl::Status ShardOwner::Load(const std::set<int>& shards) {
  std::vector<Job> jobs;
  for (int shard : shards) {
    absl::StatusOr<std::vector<Job>> of_shard = store_->ListJobsOfShard(shard);
    if (!of_shard.ok()) return of_shard.status();
    for (Job& job : *of_shard) jobs.push_back(std::move(job));
  }
  const int count = options_.shards;
  return engine_->Adopt(jobs, [&shards, count](const JobId& id) {
    return shards.contains(static_cast<int>(storage::ShardOf(id, count)));
  });
}

void ShardOwner::OnRevoked(const std::vector<messaging::TopicPartition>& partitions,
                           bool /*lost*/) {
  const std::set<int> shards = ShardsIn(partitions);
  if (shards.empty()) return;
  {
    absl::MutexLock lock(&mu_);
    for (int shard : shards) owned_.erase(shard);
    if (owned_.empty()) assigned_ = false;
  }
  // Lost or not, stop at once: if the group already gave them away, the new
  // owner's fires and any of ours collide on the run ids.
  const int count = options_.shards;
  engine_->Drop([&shards, count](const JobId& id) {
    return shards.contains(static_cast<int>(storage::ShardOf(id, count)));
  });
}

absl::Status ShardOwner::OnMessage(const messaging::ConsumedMessage& message) {
  if (message.topic == messaging::kJobsTopic) return OnJobMessage(message);
  if (message.topic == messaging::kRunsTopic) return OnManualRun(message);
  if (message.topic == messaging::kRunEventsTopic) return OnRunEnded(message);
  return absl::OkStatus();
}

absl::Status ShardOwner::OnJobMessage(const messaging::ConsumedMessage& message) {
  if (!message.key || message.key->empty()) return absl::OkStatus();  // not ours
  const JobId id(*message.key);
  absl::StatusOr<Job> job = store_->GetJob(id);
  if (job.ok()) {
    engine_->JobChanged(*job);
    return absl::OkStatus();
  }
  if (!absl::IsNotFound(job.status())) return job.status();  // retried
  engine_->JobDeleted(id, message.header("dts-cancel-running") == "true");
  return absl::OkStatus();
}

absl::Status ShardOwner::OnManualRun(const messaging::ConsumedMessage& message) {
  Run published;
  if (!message.value || !published.ParseFromString(*message.value) || published.id().empty()) {
    return absl::OkStatus();  // not a run: nothing to do, and retrying would not help
  }
  absl::StatusOr<Run> run = store_->GetRun(RunId(published.id()));
  if (absl::IsNotFound(run.status())) return absl::OkStatus();  // deleted with its job
  if (!run.ok()) return run.status();
  // Only a run nobody dispatched yet; once placed it is QUEUED, RUNNING or
  // over, and a PENDING one placed already is refused by the allocator.
  if (run->status() != "PENDING") return absl::OkStatus();
  absl::StatusOr<Job> job = store_->GetJob(JobId(run->job_id()));
  if (absl::IsNotFound(job.status())) return absl::OkStatus();
  if (!job.ok()) return job.status();
  engine_->RunCreated(*job, *run);
  return absl::OkStatus();
}

absl::Status ShardOwner::OnRunEnded(const messaging::ConsumedMessage& message) {
  Run run;
  if (!message.value || !run.ParseFromString(*message.value) || run.id().empty()) {
    return absl::OkStatus();
  }
  // Followed here: the placement frees its capacity and tells the engine.
  // Otherwise (placed before this instance owned the shard) the engine
  // still applies the job's retry policy; it is idempotent per attempt.
  if (!fleet_->OnRunEnded(run)) engine_->RunFinished(run);
  return absl::OkStatus();
}

void ShardOwner::Stop() {
  absl::MutexLock lock(&mu_);
  stopped_ = true;
}

absl::Status ShardOwner::SaveCheckpoints() {
  const absl::Time fired_through = engine_->fired_through();
  if (fired_through == absl::InfinitePast()) return absl::OkStatus();
  for (int shard : owned()) {
    if (absl::Status s = store_->SaveShardCheckpoint(shard, fired_through, options_.owner_id);
        !s.ok()) {
      return s;
    }
  }
  return absl::OkStatus();
}

std::set<int> ShardOwner::owned() const {
  absl::MutexLock lock(&mu_);
  return owned_;
}

}  // namespace dts::cluster
