#include "dts/allocator/allocator.h"

#include <algorithm>
#include <array>
#include <compare>
#include <limits>
#include <tuple>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/container/node_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "dts/v1/common.pb.h"

namespace dts::allocator {

Resources Plus(const Resources& a, const Resources& b) {
  return {a.cpu_millis + b.cpu_millis, a.memory_mib + b.memory_mib, a.storage_mib + b.storage_mib};
}

Resources Minus(const Resources& a, const Resources& b) {
  return {a.cpu_millis - b.cpu_millis, a.memory_mib - b.memory_mib, a.storage_mib - b.storage_mib};
}

namespace {

// ---------------------------------------------------------------- resources

constexpr size_t kDims = 3;

std::array<int64_t, kDims> Dims(const Resources& r) {
  return {r.cpu_millis, r.memory_mib, r.storage_mib};
}

bool Fits(const Resources& request, const Resources& room) {
  return request.cpu_millis <= room.cpu_millis && request.memory_mib <= room.memory_mib &&
         request.storage_mib <= room.storage_mib;
}

bool IsNegative(const Resources& r) {
  return r.cpu_millis < 0 || r.memory_mib < 0 || r.storage_mib < 0;
}

bool Matches(const Labels& labels, const Labels& constraints) {
  for (const auto& [key, value] : constraints) {
    auto it = labels.find(key);
    if (it == labels.end() || it->second != value) return false;
  }
  return true;
}

std::string FormatLabels(const Labels& labels) {
  return absl::StrCat("{", absl::StrJoin(labels, ",", absl::PairFormatter("=")), "}");
}

// ------------------------------------------------------------------ workers

struct Worker {
  WorkerId id;
  Labels labels;
  Resources capacity;
  Resources allocated;
  // 1/capacity per dimension (0 where the capacity is 0), so that scoring a
  // worker in the placement loop multiplies instead of divides.
  std::array<double, kDims> inverse_capacity{};
  WorkerState state = WorkerState::kReady;
  absl::Time last_heartbeat;
  absl::flat_hash_set<RunId> running;
  bool present = false;
  bool in_freed = false;  // listed in Impl::freed_

  Resources Free() const { return Minus(capacity, allocated); }

  void SetCapacity(const Resources& c) {
    capacity = c;
    auto dims = Dims(c);
    for (size_t d = 0; d < kDims; ++d) inverse_capacity[d] = dims[d] > 0 ? 1.0 / dims[d] : 0.0;
  }

  // The fraction of the worker that would stay free after placing
  // `request`, summed over the dimensions the worker has: 0 is full, 3 is
  // empty. Normalising by the worker's own capacity puts cpu and memory on
  // one scale, as Kubernetes' MostAllocated / LeastAllocated do.
  double FreeFractionAfter(const Resources& request) const {
    auto left = Dims(Minus(Free(), request));
    double score = 0;
    for (size_t d = 0; d < kDims; ++d) score += static_cast<double>(left[d]) * inverse_capacity[d];
    return score;
  }
};

// -------------------------------------------------------------------- queue

// Queue order: priority (higher first), scheduled time, enqueue time, then
// submission sequence, which makes the order total.
struct QueueKey {
  int64_t neg_priority;
  int64_t scheduled_us;
  int64_t enqueued_us;
  uint64_t seq;

  friend auto operator<=>(const QueueKey&, const QueueKey&) = default;
};

// Runs with the same request and constraints form a shape. Only the first
// run of a shape can be the next to start (the others need exactly the same
// room), so a scheduling pass looks at one head per shape instead of every
// queued run: its cost follows the number of distinct shapes, not the queue.
struct Shape {
  Resources resources;
  Labels constraints;

  friend bool operator==(const Shape&, const Shape&) = default;
  template <typename H>
  friend H AbslHashValue(H h, const Shape& s) {
    h = H::combine(std::move(h), s.resources.cpu_millis, s.resources.memory_mib,
                   s.resources.storage_mib, s.constraints.size());
    for (const auto& [key, value] : s.constraints) h = H::combine(std::move(h), key, value);
    return h;
  }
};

struct LabelsHash {
  size_t operator()(const Labels& labels) const {
    size_t h = absl::Hash<size_t>()(labels.size());
    for (const auto& [key, value] : labels) h = absl::Hash<std::tuple<size_t, std::string, std::string>>()({h, key, value});
    return h;
  }
};

// The READY workers that satisfy one set of constraints, shared by every
// shape with those constraints (a list per shape would cost 4 KB per shape
// with 1,000 workers). Valid while epoch == Impl::worker_epoch_.
struct Eligibility {
  const Labels* constraints = nullptr;  // the key in Impl::eligibility_
  uint64_t epoch = std::numeric_limits<uint64_t>::max();
  std::vector<uint32_t> slots;
  size_t shapes = 0;  // shapes using it; dropped at 0
};

struct ShapeQueue {
  const Shape* shape = nullptr;  // the key in Impl::shapes_
  Eligibility* eligibility = nullptr;
  std::map<QueueKey, RunId> members;

  // Set when this shape was found to fit on no worker. Free capacity only
  // grows through Release, which lists the worker in Impl::freed_, so until
  // the worker set changes only those workers need a look.
  bool known_blocked = false;

  // Derived from the worker set; valid while cache_epoch == Impl::worker_epoch_.
  uint64_t cache_epoch = std::numeric_limits<uint64_t>::max();
  bool schedulable = false;  // some eligible worker's capacity covers the request
};

struct Waiting {
  ShapeQueue* queue;
  QueueKey key;
  JobId job_id;
  int priority;
  absl::Time scheduled_time;
  absl::Time enqueue_time;
};

struct Allocation {
  uint32_t slot;
  JobId job_id;
  Resources resources;
};

constexpr uint32_t kNoSlot = std::numeric_limits<uint32_t>::max();

}  // namespace

// ---------------------------------------------------------------------- Impl

// The allocator's state; not thread-safe (Allocator locks around it).
class Allocator::Impl {
 public:
  Impl(AllocatorOptions options, const Clock* clock) : options_(options), clock_(clock) {}

  absl::Status UpsertWorker(const WorkerSpec& spec);
  absl::StatusOr<std::vector<Grant>> SetWorkerState(const WorkerId& id, WorkerState state);
  absl::Status RecordHeartbeat(const WorkerId& id);
  absl::StatusOr<std::vector<Grant>> RemoveWorker(const WorkerId& id);
  absl::Status CheckSchedulable(const Resources& request, const Labels& constraints) const;
  absl::StatusOr<std::optional<Grant>> Submit(PlacementRequest request);
  std::vector<Grant> Schedule();
  bool Release(const RunId& run);
  bool Withdraw(const RunId& run);
  absl::Status Restore(const Grant& grant);
  std::vector<QueuedRun> Queue();
  size_t QueueLength() const { return waiting_.size(); }
  std::vector<WorkerSnapshot> Workers() const;

 private:
  uint32_t SlotOf(const WorkerId& id) const {
    auto it = worker_index_.find(id);
    return it == worker_index_.end() ? kNoSlot : it->second;
  }
  void WorkersChanged() {
    ++worker_epoch_;
    MarkDirty();
  }
  // Only waiting runs can be affected; with an empty queue, Submit decides
  // exactly on its own and needs no pass first.
  void MarkDirty() {
    if (!waiting_.empty()) dirty_ = true;
  }
  void Refresh(ShapeQueue& q);
  uint32_t FindWorker(ShapeQueue& q);
  bool Better(const Worker& a, double score_a, const Worker& b, double score_b) const;
  Grant Allocate(uint32_t slot, const RunId& run, const JobId& job, const Resources& r);
  std::vector<Grant> Evict(uint32_t slot);
  ShapeQueue& QueueFor(const Shape& shape);
  void Idle(ShapeQueue& q);
  void Enqueue(ShapeQueue& q, const RunId& run, Waiting w);
  Grant PlaceHead(ShapeQueue& q, uint32_t slot);
  void Unlink(ShapeQueue& q, const QueueKey& key);
  ShapeQueue* FirstSchedulableHead(QueueKey* key);
  bool Starved(const QueueKey& head, absl::Time now) const;
  const Worker* Closest(const Resources& request, const Labels& constraints,
                        bool ready_only) const;
  std::string ExceedsMessage(const Resources& request, const Labels& constraints,
                             bool ready_only) const;
  struct Reason {
    std::string text;
    bool fits_now = false;
  };
  Reason WaitingReason(ShapeQueue& q);

  const AllocatorOptions options_;
  const Clock* const clock_;

  std::vector<Worker> workers_;  // by slot; slots of removed workers are reused
  std::vector<uint32_t> free_slots_;
  absl::flat_hash_map<WorkerId, uint32_t> worker_index_;
  uint64_t worker_epoch_ = 0;  // bumped on any change to the worker set

  absl::flat_hash_map<RunId, Allocation> allocations_;

  static constexpr size_t kMaxShapes = 1024;  // beyond this, idle shapes are dropped
  absl::node_hash_map<Shape, ShapeQueue> shapes_;  // node map: ShapeQueue* stay valid
  absl::node_hash_map<Labels, Eligibility, LabelsHash> eligibility_;
  absl::flat_hash_map<RunId, Waiting> waiting_;
  std::map<QueueKey, ShapeQueue*> heads_;  // each shape's first run, in queue order
  uint64_t next_seq_ = 0;

  // Workers that gained free capacity since the last pass.
  std::vector<uint32_t> freed_;
  // Something may let a waiting run start; Schedule() has work to do. When
  // false, every queued shape is known_blocked, unschedulable, or behind a
  // head that the last pass held for the backfill bound.
  bool dirty_ = false;
  // The last pass stopped at a starved head: shapes behind it were not looked at.
  bool pass_held_ = false;
};

// --------------------------------------------------------------- placement

void Allocator::Impl::Refresh(ShapeQueue& q) {
  if (q.cache_epoch == worker_epoch_) return;
  q.cache_epoch = worker_epoch_;
  q.known_blocked = false;
  Eligibility& e = *q.eligibility;
  if (e.epoch != worker_epoch_) {
    e.epoch = worker_epoch_;
    e.slots.clear();
    for (uint32_t slot = 0; slot < workers_.size(); ++slot) {
      const Worker& w = workers_[slot];
      if (w.present && w.state == WorkerState::kReady && Matches(w.labels, *e.constraints)) {
        e.slots.push_back(slot);
      }
    }
  }
  q.schedulable = std::any_of(e.slots.begin(), e.slots.end(), [&](uint32_t slot) {
    return Fits(q.shape->resources, workers_[slot].capacity);
  });
}

bool Allocator::Impl::Better(const Worker& a, double score_a, const Worker& b,
                             double score_b) const {
  if (score_a != score_b) {
    return options_.strategy == Strategy::kBestFit ? score_a < score_b : score_a > score_b;
  }
  return a.id < b.id;
}

// The slot to place the head of `q` on, or kNoSlot.
uint32_t Allocator::Impl::FindWorker(ShapeQueue& q) {
  Refresh(q);
  if (!q.schedulable) return kNoSlot;
  const Resources& request = q.shape->resources;
  uint32_t best = kNoSlot;
  double best_score = 0;
  auto consider = [&](uint32_t slot) {
    const Worker& w = workers_[slot];
    if (!Fits(request, w.Free())) return;
    double score = w.FreeFractionAfter(request);
    if (best == kNoSlot || Better(w, score, workers_[best], best_score)) {
      best = slot;
      best_score = score;
    }
  };
  if (q.known_blocked) {
    for (uint32_t slot : freed_) {
      const Worker& w = workers_[slot];
      if (w.present && w.state == WorkerState::kReady && Matches(w.labels, q.shape->constraints)) {
        consider(slot);
      }
    }
  } else {
    for (uint32_t slot : q.eligibility->slots) consider(slot);
  }
  return best;
}

Grant Allocator::Impl::Allocate(uint32_t slot, const RunId& run, const JobId& job,
                                const Resources& r) {
  Worker& w = workers_[slot];
  w.allocated = Plus(w.allocated, r);
  w.running.insert(run);
  allocations_.emplace(run, Allocation{slot, job, r});
  return Grant{run, job, w.id, r};
}

// Drops every allocation on the worker, for DOWN and removal.
std::vector<Grant> Allocator::Impl::Evict(uint32_t slot) {
  Worker& w = workers_[slot];
  std::vector<Grant> lost;
  lost.reserve(w.running.size());
  for (const RunId& run : w.running) {
    auto it = allocations_.find(run);
    lost.push_back(Grant{run, it->second.job_id, w.id, it->second.resources});
    allocations_.erase(it);
  }
  w.running.clear();
  w.allocated = Resources{};
  std::sort(lost.begin(), lost.end(),
            [](const Grant& a, const Grant& b) { return a.run_id < b.run_id; });
  return lost;
}

// ------------------------------------------------------------ queue plumbing

ShapeQueue& Allocator::Impl::QueueFor(const Shape& shape) {
  auto [it, inserted] = shapes_.try_emplace(shape);
  ShapeQueue& q = it->second;
  if (inserted) {
    q.shape = &it->first;
    auto [e, new_set] = eligibility_.try_emplace(shape.constraints);
    if (new_set) e->second.constraints = &e->first;
    q.eligibility = &e->second;
    ++q.eligibility->shapes;
  }
  return q;
}

// A shape without waiting runs stays cached (its Refresh is the costly part
// of a Submit) unless there are many shapes. An idle shape is not walked by
// the passes, so what it knew about being blocked goes stale: forget it.
void Allocator::Impl::Idle(ShapeQueue& q) {
  q.known_blocked = false;
  if (shapes_.size() <= kMaxShapes) return;
  Eligibility* e = q.eligibility;
  shapes_.erase(shapes_.find(*q.shape));
  if (--e->shapes == 0) eligibility_.erase(eligibility_.find(*e->constraints));
}

void Allocator::Impl::Enqueue(ShapeQueue& q, const RunId& run, Waiting w) {
  if (q.members.empty() || w.key < q.members.begin()->first) {
    if (!q.members.empty()) heads_.erase(q.members.begin()->first);
    heads_.emplace(w.key, &q);
  }
  q.members.emplace(w.key, run);
  waiting_.emplace(run, std::move(w));
}

// Removes member `key` from `q`, keeping heads_ right; drops an empty shape.
void Allocator::Impl::Unlink(ShapeQueue& q, const QueueKey& key) {
  bool was_head = q.members.begin()->first == key;
  q.members.erase(key);
  if (!was_head) return;
  heads_.erase(key);
  if (!q.members.empty()) {
    heads_.emplace(q.members.begin()->first, &q);
  } else {
    Idle(q);
  }
}

Grant Allocator::Impl::PlaceHead(ShapeQueue& q, uint32_t slot) {
  QueueKey key = q.members.begin()->first;
  RunId run = q.members.begin()->second;
  Resources request = q.shape->resources;
  auto it = waiting_.find(run);
  JobId job = std::move(it->second.job_id);
  waiting_.erase(it);
  Unlink(q, key);  // may destroy q
  return Allocate(slot, run, job, request);
}

// The head of the queue for the backfill bound: the first waiting run that
// some READY worker could ever take. Unschedulable runs are skipped, or one
// of them would block everything behind it forever.
ShapeQueue* Allocator::Impl::FirstSchedulableHead(QueueKey* key) {
  for (auto& [k, q] : heads_) {
    Refresh(*q);
    if (q->schedulable) {
      *key = k;
      return q;
    }
  }
  return nullptr;
}

bool Allocator::Impl::Starved(const QueueKey& head, absl::Time now) const {
  return now - absl::FromUnixMicros(head.enqueued_us) > options_.backfill_wait_bound;
}

// -------------------------------------------------------------- operations

absl::Status Allocator::Impl::UpsertWorker(const WorkerSpec& spec) {
  if (spec.id.empty()) return absl::InvalidArgumentError("worker id is empty");
  if (IsNegative(spec.capacity)) {
    return absl::InvalidArgumentError(
        absl::StrCat("worker ", spec.id.value(), ": negative capacity ", FormatResources(spec.capacity)));
  }
  uint32_t slot = SlotOf(spec.id);
  if (slot == kNoSlot) {
    if (free_slots_.empty()) {
      slot = static_cast<uint32_t>(workers_.size());
      workers_.emplace_back();
    } else {
      slot = free_slots_.back();
      free_slots_.pop_back();
    }
    Worker& w = workers_[slot];
    w = Worker{};
    w.id = spec.id;
    w.present = true;
    w.last_heartbeat = clock_->Now();
    worker_index_.emplace(spec.id, slot);
  }
  Worker& w = workers_[slot];
  w.labels = spec.labels;
  w.SetCapacity(spec.capacity);
  WorkersChanged();
  return absl::OkStatus();
}

absl::StatusOr<std::vector<Grant>> Allocator::Impl::SetWorkerState(const WorkerId& id,
                                                                   WorkerState state) {
  uint32_t slot = SlotOf(id);
  if (slot == kNoSlot) return absl::NotFoundError(absl::StrCat("worker ", id.value(), " not found"));
  Worker& w = workers_[slot];
  if (w.state == state) return std::vector<Grant>{};
  w.state = state;
  WorkersChanged();
  if (state == WorkerState::kDown) return Evict(slot);
  return std::vector<Grant>{};
}

absl::Status Allocator::Impl::RecordHeartbeat(const WorkerId& id) {
  uint32_t slot = SlotOf(id);
  if (slot == kNoSlot) return absl::NotFoundError(absl::StrCat("worker ", id.value(), " not found"));
  workers_[slot].last_heartbeat = clock_->Now();
  return absl::OkStatus();
}

absl::StatusOr<std::vector<Grant>> Allocator::Impl::RemoveWorker(const WorkerId& id) {
  uint32_t slot = SlotOf(id);
  if (slot == kNoSlot) return absl::NotFoundError(absl::StrCat("worker ", id.value(), " not found"));
  std::vector<Grant> lost = Evict(slot);
  worker_index_.erase(id);
  workers_[slot] = Worker{};  // present = false; freed_ may still list the slot
  free_slots_.push_back(slot);
  WorkersChanged();
  return lost;
}

absl::StatusOr<std::optional<Grant>> Allocator::Impl::Submit(PlacementRequest request) {
  if (request.run_id.empty()) return absl::InvalidArgumentError("run id is empty");
  if (IsNegative(request.resources)) {
    return absl::InvalidArgumentError(
        absl::StrCat("run ", request.run_id.value(), ": negative request ", FormatResources(request.resources)));
  }
  if (waiting_.contains(request.run_id) || allocations_.contains(request.run_id)) {
    return absl::AlreadyExistsError(absl::StrCat("run ", request.run_id.value(), " is already queued or placed"));
  }
  absl::Time now = clock_->Now();
  absl::Time enqueued = request.enqueue_time.value_or(now);
  QueueKey key{-static_cast<int64_t>(request.priority), absl::ToUnixMicros(request.scheduled_time),
               absl::ToUnixMicros(enqueued), next_seq_++};
  ShapeQueue& q = QueueFor(Shape{request.resources, std::move(request.constraints)});

  Refresh(q);

  // Deciding at once is exact only when the queue is settled (!dirty_):
  // every other waiting run is then known not to fit, or is held.
  QueueKey head_key{};
  ShapeQueue* head = dirty_ ? nullptr : FirstSchedulableHead(&head_key);
  bool held = head != nullptr && head_key < key && Starved(head_key, now);
  if (!dirty_ && !held) {
    uint32_t slot = q.known_blocked ? kNoSlot : FindWorker(q);
    if (slot != kNoSlot) {
      Grant grant = Allocate(slot, request.run_id, request.job_id, request.resources);
      if (q.members.empty()) Idle(q);
      return std::optional<Grant>(std::move(grant));
    }
    if (q.schedulable) q.known_blocked = true;
  }
  // A run not known to be blocked needs a pass (unschedulable ones wait for
  // a worker change, which dirties anyway); so does a blocked run ahead of a
  // held head: it becomes the head and lifts the hold on the runs behind.
  if (q.schedulable && (!q.known_blocked || (pass_held_ && (head == nullptr || key < head_key)))) {
    dirty_ = true;
  }
  Enqueue(q, request.run_id,
          Waiting{&q, key, std::move(request.job_id), request.priority, request.scheduled_time, enqueued});
  return std::optional<Grant>();
}

std::vector<Grant> Allocator::Impl::Schedule() {
  std::vector<Grant> grants;
  if (!dirty_) return grants;
  absl::Time now = clock_->Now();
  bool seen_blocked_head = false;
  bool held = false;
  auto it = heads_.begin();
  while (it != heads_.end()) {
    ShapeQueue& q = *it->second;
    QueueKey key = it->first;
    uint32_t slot = FindWorker(q);
    if (slot != kNoSlot) {
      grants.push_back(PlaceHead(q, slot));
      // The shape's next run re-entered heads_ after `key`, possibly before
      // the entry that followed it.
      it = heads_.upper_bound(key);
      continue;
    }
    if (q.schedulable) {
      q.known_blocked = true;
      if (!seen_blocked_head) {
        seen_blocked_head = true;
        if (Starved(key, now)) {
          held = true;
          break;
        }
      }
    }
    ++it;
  }
  if (held) {
    // Not looked at in this pass, and freed_ is about to be cleared.
    for (++it; it != heads_.end(); ++it) it->second->known_blocked = false;
  }
  for (uint32_t slot : freed_) workers_[slot].in_freed = false;
  freed_.clear();
  dirty_ = false;
  pass_held_ = held;
  return grants;
}

bool Allocator::Impl::Release(const RunId& run) {
  auto it = allocations_.find(run);
  if (it == allocations_.end()) return Withdraw(run);
  Worker& w = workers_[it->second.slot];
  w.allocated = Minus(w.allocated, it->second.resources);
  w.running.erase(run);
  if (!w.in_freed && !waiting_.empty()) {
    w.in_freed = true;
    freed_.push_back(it->second.slot);
  }
  allocations_.erase(it);
  MarkDirty();
  return true;
}

bool Allocator::Impl::Withdraw(const RunId& run) {
  auto it = waiting_.find(run);
  if (it == waiting_.end()) return false;
  ShapeQueue& q = *it->second.queue;
  QueueKey key = it->second.key;
  waiting_.erase(it);
  Unlink(q, key);
  // It may have been the head holding back the runs behind it.
  dirty_ = true;
  return true;
}

absl::Status Allocator::Impl::Restore(const Grant& grant) {
  if (grant.run_id.empty()) return absl::InvalidArgumentError("run id is empty");
  if (IsNegative(grant.resources)) {
    return absl::InvalidArgumentError(
        absl::StrCat("run ", grant.run_id.value(), ": negative resources ", FormatResources(grant.resources)));
  }
  uint32_t slot = SlotOf(grant.worker_id);
  if (slot == kNoSlot) {
    return absl::NotFoundError(absl::StrCat("worker ", grant.worker_id.value(), " not found"));
  }
  if (auto it = allocations_.find(grant.run_id); it != allocations_.end()) {
    if (it->second.slot == slot && it->second.resources == grant.resources) return absl::OkStatus();
    return absl::AlreadyExistsError(
        absl::StrCat("run ", grant.run_id.value(), " already holds another allocation"));
  }
  if (waiting_.contains(grant.run_id)) {
    return absl::AlreadyExistsError(absl::StrCat("run ", grant.run_id.value(), " is queued"));
  }
  if (workers_[slot].state == WorkerState::kDown) {
    return absl::FailedPreconditionError(absl::StrCat("worker ", grant.worker_id.value(), " is DOWN"));
  }
  Allocate(slot, grant.run_id, grant.job_id, grant.resources);
  return absl::OkStatus();
}

// ----------------------------------------------------------------- reports

// The matching worker that comes closest to holding `request`: the smallest
// shortfall (summed over dimensions, relative to the request), then the
// lowest id. With one worker, simply that worker.
const Worker* Allocator::Impl::Closest(const Resources& request, const Labels& constraints,
                                       bool ready_only) const {
  const Worker* best = nullptr;
  double best_shortfall = 0;
  auto want = Dims(request);
  for (const Worker& w : workers_) {
    if (!w.present || w.state == WorkerState::kDown) continue;
    if (ready_only && w.state != WorkerState::kReady) continue;
    if (!Matches(w.labels, constraints)) continue;
    auto have = Dims(w.capacity);
    double shortfall = 0;
    for (size_t d = 0; d < kDims; ++d) {
      if (want[d] > have[d]) shortfall += static_cast<double>(want[d] - have[d]) / want[d];
    }
    if (best == nullptr || shortfall < best_shortfall ||
        (shortfall == best_shortfall && w.id < best->id)) {
      best = &w;
      best_shortfall = shortfall;
    }
  }
  return best;
}

std::string Allocator::Impl::ExceedsMessage(const Resources& request, const Labels& constraints,
                                            bool ready_only) const {
  const Worker* w = Closest(request, constraints, ready_only);
  return absl::StrCat("resources exceed every ", constraints.empty() ? "" : "matching ",
                      "worker's capacity: requested ", FormatResources(request), "; largest worker",
                      w == nullptr ? "" : absl::StrCat(" (", w->id.value(), ")"), " has ",
                      w == nullptr ? "nothing" : FormatResources(w->capacity));
}

absl::Status Allocator::Impl::CheckSchedulable(const Resources& request,
                                               const Labels& constraints) const {
  if (IsNegative(request)) {
    return absl::InvalidArgumentError(absl::StrCat("negative resources: ", FormatResources(request)));
  }
  bool any = false;
  bool any_match = false;
  for (const Worker& w : workers_) {
    if (!w.present || w.state == WorkerState::kDown) continue;
    any = true;
    if (!Matches(w.labels, constraints)) continue;
    any_match = true;
    if (Fits(request, w.capacity)) return absl::OkStatus();
  }
  if (!any) return absl::FailedPreconditionError("no worker is registered");
  if (!any_match) {
    return absl::InvalidArgumentError(
        absl::StrCat("no worker matches constraints ", FormatLabels(constraints)));
  }
  return absl::InvalidArgumentError(ExceedsMessage(request, constraints, /*ready_only=*/false));
}

// Why the runs of shape `q` wait, ignoring the backfill hold.
Allocator::Impl::Reason Allocator::Impl::WaitingReason(ShapeQueue& q) {
  Refresh(q);
  const Shape& s = *q.shape;
  const std::vector<uint32_t>& eligible = q.eligibility->slots;
  if (eligible.empty()) {
    if (s.constraints.empty()) return {"unschedulable: no READY worker"};
    return {absl::StrCat("unschedulable: no READY worker matches constraints ", FormatLabels(s.constraints))};
  }
  if (!q.schedulable) {
    return {absl::StrCat("unschedulable: ", ExceedsMessage(s.resources, s.constraints, true))};
  }
  // The eligible worker with the most free room, by the spread score.
  const Worker* most = nullptr;
  double most_score = 0;
  bool fits_now = false;
  for (uint32_t slot : eligible) {
    const Worker& w = workers_[slot];
    fits_now = fits_now || Fits(s.resources, w.Free());
    double score = w.FreeFractionAfter(Resources{});
    if (most == nullptr || score > most_score || (score == most_score && w.id < most->id)) {
      most = &w;
      most_score = score;
    }
  }
  if (fits_now) return {"placeable now: waiting for the next scheduling pass", true};
  return {absl::StrCat("waiting for capacity: needs ", FormatResources(s.resources),
                       "; most free on a matching worker (", most->id.value(),
                       "): ", FormatResources(most->Free()))};
}

std::vector<QueuedRun> Allocator::Impl::Queue() {
  absl::Time now = clock_->Now();
  QueueKey head_key{};
  bool head_starved = FirstSchedulableHead(&head_key) != nullptr && Starved(head_key, now);
  absl::flat_hash_map<const ShapeQueue*, Reason> reasons;
  for (auto& [shape, q] : shapes_) {
    if (!q.members.empty()) reasons.emplace(&q, WaitingReason(q));
  }

  std::vector<std::pair<QueueKey, const RunId*>> order;
  order.reserve(waiting_.size());
  for (const auto& [run, w] : waiting_) order.emplace_back(w.key, &run);
  std::sort(order.begin(), order.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });

  std::vector<QueuedRun> out;
  out.reserve(order.size());
  for (const auto& [key, run] : order) {
    const Waiting& w = waiting_.at(*run);
    const Reason& reason = reasons.at(w.queue);
    QueuedRun r{*run, w.job_id, w.priority, w.scheduled_time, w.enqueue_time,
                w.queue->shape->resources, w.queue->shape->constraints, reason.text};
    if (head_starved && key == head_key) {
      absl::StrAppend(&r.reason, "; head of queue past the backfill bound: no run behind it starts first");
    } else if (head_starved && head_key < key && reason.fits_now) {
      r.reason = "held back: head of queue has waited past the backfill bound";
    }
    out.push_back(std::move(r));
  }
  return out;
}

std::vector<WorkerSnapshot> Allocator::Impl::Workers() const {
  std::vector<WorkerSnapshot> out;
  for (const Worker& w : workers_) {
    if (!w.present) continue;
    WorkerSnapshot s{w.id, w.labels, w.state, w.capacity, w.allocated, w.Free(), {}, w.last_heartbeat};
    s.running.assign(w.running.begin(), w.running.end());
    std::sort(s.running.begin(), s.running.end());
    out.push_back(std::move(s));
  }
  std::sort(out.begin(), out.end(),
            [](const WorkerSnapshot& a, const WorkerSnapshot& b) { return a.id < b.id; });
  return out;
}

// ----------------------------------------------------------- free functions

Resources ResourcesFromProto(const v1::ResourceRequirements& proto) {
  return {proto.cpu(), proto.memory(), proto.storage()};
}

std::string FormatResources(const Resources& r) {
  return absl::StrFormat("cpu %dm memory %dMiB storage %dMiB", r.cpu_millis, r.memory_mib,
                         r.storage_mib);
}

absl::string_view WorkerStateName(WorkerState s) {
  switch (s) {
    case WorkerState::kReady:
      return "READY";
    case WorkerState::kDraining:
      return "DRAINING";
    case WorkerState::kDown:
      return "DOWN";
  }
  return "UNKNOWN";
}

std::optional<Strategy> ParseStrategy(absl::string_view text) {
  if (text == "best-fit") return Strategy::kBestFit;
  if (text == "spread") return Strategy::kSpread;
  return std::nullopt;
}

absl::string_view StrategyName(Strategy s) {
  return s == Strategy::kBestFit ? "best-fit" : "spread";
}

// ---------------------------------------------------------------- Allocator

absl::StatusOr<std::unique_ptr<Allocator>> Allocator::Create(AllocatorOptions options,
                                                             const Clock* clock) {
  if (clock == nullptr) return absl::InvalidArgumentError("allocator: clock is null");
  if (options.backfill_wait_bound < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("allocator: backfill_wait_bound is negative");
  }
  return std::unique_ptr<Allocator>(new Allocator(std::make_unique<Impl>(options, clock), clock));
}

Allocator::Allocator(std::unique_ptr<Impl> impl, const Clock* clock)
    : clock_(clock), impl_(std::move(impl)) {
  RegisterMetrics();
}

// The collectors go first (they are the first members destroyed after this
// body), so no scrape reads a half-destroyed allocator.
Allocator::~Allocator() { collectors_.clear(); }

namespace {

void AddResources(std::vector<metrics::Sample>& out, const std::string& worker, const Resources& r) {
  out.push_back({{worker, "cpu_millis"}, static_cast<double>(r.cpu_millis)});
  out.push_back({{worker, "memory_mib"}, static_cast<double>(r.memory_mib)});
  out.push_back({{worker, "storage_mib"}, static_cast<double>(r.storage_mib)});
}

}  // namespace

void Allocator::RegisterMetrics() {
  metrics::Registry& registry = metrics::DefaultRegistry();
  collectors_.push_back(registry.AddCollector(
      "dts_queue_depth", "Runs waiting for a worker with room.", metrics::Type::kGauge, {},
      [this](std::vector<metrics::Sample>& out) {
        out.push_back({{}, static_cast<double>(QueueLength())});
      }));
  collectors_.push_back(registry.AddCollector(
      "dts_queue_oldest_wait_seconds", "How long the longest-waiting run has waited (0: none).",
      metrics::Type::kGauge, {}, [this](std::vector<metrics::Sample>& out) {
        absl::Time oldest = absl::InfiniteFuture();
        for (const QueuedRun& run : Queue()) oldest = std::min(oldest, run.enqueue_time);
        const double age = oldest == absl::InfiniteFuture()
                               ? 0
                               : absl::ToDoubleSeconds(clock_->Now() - oldest);
        out.push_back({{}, std::max(age, 0.0)});
      }));
  collectors_.push_back(registry.AddCollector(
      "dts_worker_capacity", "Each worker's capacity (cpu in millicores, memory and storage in MiB).",
      metrics::Type::kGauge, {"worker", "resource"}, [this](std::vector<metrics::Sample>& out) {
        for (const WorkerSnapshot& w : Workers()) AddResources(out, w.id.value(), w.capacity);
      }));
  collectors_.push_back(registry.AddCollector(
      "dts_worker_allocated", "What the runs placed on each worker hold of its capacity.",
      metrics::Type::kGauge, {"worker", "resource"}, [this](std::vector<metrics::Sample>& out) {
        for (const WorkerSnapshot& w : Workers()) AddResources(out, w.id.value(), w.allocated);
      }));
}

absl::Status Allocator::UpsertWorker(const WorkerSpec& spec) {
  absl::MutexLock lock(&mu_);
  return impl_->UpsertWorker(spec);
}

absl::StatusOr<std::vector<Grant>> Allocator::SetWorkerState(const WorkerId& id, WorkerState state) {
  absl::MutexLock lock(&mu_);
  return impl_->SetWorkerState(id, state);
}

absl::Status Allocator::RecordHeartbeat(const WorkerId& id) {
  absl::MutexLock lock(&mu_);
  return impl_->RecordHeartbeat(id);
}

absl::StatusOr<std::vector<Grant>> Allocator::RemoveWorker(const WorkerId& id) {
  absl::MutexLock lock(&mu_);
  return impl_->RemoveWorker(id);
}

absl::Status Allocator::CheckSchedulable(const Resources& request, const Labels& constraints) const {
  absl::MutexLock lock(&mu_);
  return impl_->CheckSchedulable(request, constraints);
}

absl::StatusOr<std::optional<Grant>> Allocator::Submit(PlacementRequest request) {
  absl::MutexLock lock(&mu_);
  return impl_->Submit(std::move(request));
}

std::vector<Grant> Allocator::Schedule() {
  absl::MutexLock lock(&mu_);
  return impl_->Schedule();
}

bool Allocator::Release(const RunId& run) {
  absl::MutexLock lock(&mu_);
  return impl_->Release(run);
}

bool Allocator::Withdraw(const RunId& run) {
  absl::MutexLock lock(&mu_);
  return impl_->Withdraw(run);
}

absl::Status Allocator::Restore(const Grant& grant) {
  absl::MutexLock lock(&mu_);
  return impl_->Restore(grant);
}

std::vector<QueuedRun> Allocator::Queue() const {
  absl::MutexLock lock(&mu_);
  return impl_->Queue();
}

size_t Allocator::QueueLength() const {
  absl::MutexLock lock(&mu_);
  return impl_->QueueLength();
}

std::vector<WorkerSnapshot> Allocator::Workers() const {
  absl::MutexLock lock(&mu_);
  return impl_->Workers();
}

}  // namespace dts::allocator
