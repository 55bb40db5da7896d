#include "dts/scheduler/engine.h"

#include <algorithm>
#include <array>
#include <utility>

#include "absl/container/inlined_vector.h"

#include "absl/strings/str_cat.h"
#include "dts/model/time_convert.h"
#include "dts/model/run_log.h"
#include "dts/scheduler/run_id.h"
#include "dts/storage/shard.h"

namespace dts::scheduler {
namespace {

using ::dts::FromProto;
using ::dts::ToProto;

int64_t Micros(absl::Time t) { return absl::ToUnixMicros(t); }

// Guards against schedules that would take very long to enumerate (a
// `* * * * * *` job down for a week is 600k times): past this many missed
// times the count is reported as at least this many.
constexpr int kMaxMissedToCount = 1'000'000;

bool Fires(const Job& job) {
  const std::optional<JobStatus> status = ParseJobStatus(job.status());
  return status && FiresOnSchedule(*status);
}

metrics::Family<metrics::Counter>& RunsEnded() {
  static metrics::Family<metrics::Counter>& family = metrics::DefaultRegistry().AddCounter(
      "dts_runs_total", "Runs that ended, by final status.", {"status"});
  return family;
}

// Lateness buckets: a fire is on time within milliseconds, and one that is
// seconds late is what an operator must see.
// RunStatus's values, kPending..kRetrying.
constexpr size_t kRunStatusCount = static_cast<size_t>(RunStatus::kRetrying) + 1;

constexpr double kLatenessBounds[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                      0.25,  0.5,    1,     2.5,  5,    10,   30, 60};

}  // namespace

Engine::Engine(storage::Store* store, const Clock* clock, RunDispatcher* dispatcher,
               EngineOptions options)
    : store_(store),
      clock_(clock),
      dispatcher_(dispatcher),
      options_(options),
      lateness_(&metrics::DefaultRegistry()
                     .AddHistogram("dts_fire_lateness_seconds",
                                   "How long after its scheduled time each fire was dispatched.",
                                   {}, kLatenessBounds)
                     .With({})) {
  metrics::Registry& registry = metrics::DefaultRegistry();
  RunsEnded();  // listed before the first run ends
  metrics::Family<metrics::Counter>& fires =
      registry.AddCounter("dts_fires_total", "Scheduled fires dispatched, by job shard.", {"shard"});
  const int shards = std::max(options_.shards, 1);
  fire_counters_.reserve(shards);
  for (int shard = 0; shard < shards; ++shard) {
    fire_counters_.push_back(&fires.With({absl::StrCat(shard)}));
  }
  jobs_owned_ = registry.AddCollector(
      "dts_jobs_owned", "Jobs this process fires (the jobs of its shards that are active).",
      metrics::Type::kGauge, {}, [this](std::vector<metrics::Sample>& out) {
        out.push_back({{}, static_cast<double>(indexed_jobs())});
      });
}

Engine::~Engine() { Stop(); }

Engine::JobState* Engine::StateOf(const JobId& id) {
  const auto it = slot_by_job_.find(id);
  return it == slot_by_job_.end() ? nullptr : jobs_[it->second].get();
}

void Engine::Index(const Job& job) {
  // Every known job keeps its state (its active runs matter for overlap and
  // cancel even while paused); only the ones that fire sit in the index.
  JobState* state = StateOf(JobId(job.id()));
  if (state == nullptr) {
    uint32_t slot;
    if (!free_slots_.empty()) {
      slot = free_slots_.back();
      free_slots_.pop_back();
    } else {
      slot = static_cast<uint32_t>(jobs_.size());
      jobs_.emplace_back();
    }
    jobs_[slot] = std::make_unique<JobState>();
    state = jobs_[slot].get();
    state->slot = slot;
    state->fires_counter =
        fire_counters_[storage::ShardOf(JobId(job.id()), static_cast<int>(fire_counters_.size()))];
    slot_by_job_[JobId(job.id())] = slot;
  }
  state->job = std::make_shared<const Job>(job);
  state->fires = Fires(job);
  state->misfire = ParseMisfirePolicy(job.misfire_policy()).value_or(MisfirePolicy::kRunOnce);
  state->overlap = ParseOverlapPolicy(job.overlap_policy()).value_or(OverlapPolicy::kAllow);
  state->generation = next_generation_++;
  state->anchor = job.has_schedule_anchor() ? FromProto(job.schedule_anchor()) : clock_->Now();
  state->schedule.reset();
  absl::StatusOr<absl::TimeZone> zone = cron::LoadZone(job.timezone());
  if (zone.ok()) {
    absl::StatusOr<cron::Schedule> schedule = cron::Schedule::Create(job.cron_expression(), *zone);
    // Validated on the way in; a stored job that no longer parses does not fire.
    if (schedule.ok()) state->schedule = *schedule;
  }
  // Not a one-off: its only fire completes the job in the transaction that
  // records it, so recorded ahead it would find its job no longer firing at
  // its instant and end CANCELLED.
  state->ahead = options_.lookahead > absl::ZeroDuration() &&
                 state->overlap == OverlapPolicy::kAllow && job.starting_deadline() <= 0 &&
                 !(state->schedule && state->schedule->is_one_off());
  std::optional<absl::Time> due;
  if (state->fires && state->schedule) {
    due = job.has_next_run() ? FromProto(job.next_run())
                             : state->schedule->Next(clock_->Now(), state->anchor);
  }
  if (due) {
    index_.Upsert(state->slot, KeyOf(*state, *due));
  } else {
    index_.Remove(state->slot);
  }
}

void Engine::Unindex(const JobId& id) {
  const auto it = slot_by_job_.find(id);
  if (it == slot_by_job_.end()) return;
  const uint32_t slot = it->second;
  index_.Remove(slot);
  jobs_[slot].reset();
  free_slots_.push_back(slot);
  slot_by_job_.erase(it);
}

Run Engine::NewRun(const JobState& state, absl::Time scheduled, RunStatus status, Trigger trigger,
                   absl::Time now) const {
  Run run;
  run.set_id(ScheduledRunId(JobId(state.job->id()), scheduled, 1).value());
  run.set_job_id(state.job->id());
  run.set_status(std::string(RunStatusName(status)));
  run.set_trigger(std::string(TriggerName(trigger)));
  run.set_attempt(1);
  *run.mutable_scheduled_time() = ToProto(scheduled);
  // A fire recorded ahead is created at its instant, as if recorded then.
  *run.mutable_created_at() = ToProto(std::max(now, scheduled));
  return run;
}

void Engine::PlanFires(JobState& state, absl::Time due, absl::Time now, Plan& out) {
  // Every scheduled time from `due` up to now is owed; usually just `due`,
  // so one inline slot avoids an allocation per fire.
  absl::InlinedVector<absl::Time, 1> owed = {due};
  int missed = 1;
  std::optional<absl::Time> next = state.schedule->Next(due, state.anchor);
  while (next && *next <= now && missed < kMaxMissedToCount) {
    ++missed;
    owed.push_back(*next);
    if (static_cast<int>(owed.size()) > options_.run_all_cap) owed.erase(owed.begin());
    next = state.schedule->Next(*next, state.anchor);
  }
  while (next && *next <= now) next = state.schedule->Next(*next, state.anchor);

  Trigger trigger = Trigger::kSchedule;
  if (missed > 1) {
    trigger = Trigger::kCatchUp;
    // RUN_ALL fires every owed time; the others fold them into the latest.
    if (state.misfire != MisfirePolicy::kRunAll) owed.erase(owed.begin(), owed.end() - 1);
  }

  const std::optional<absl::Time> job_updated_at =
      state.job->has_updated_at() ? std::optional(FromProto(state.job->updated_at()))
                                  : std::nullopt;
  const int deadline = state.job->starting_deadline();
  bool busy = !state.active.empty();
  for (const absl::Time scheduled : owed) {
    storage::FireRecord& record = out.records.emplace_back();
    FireMeta& meta = out.meta.emplace_back(FireMeta{state.slot, state.generation, false, due});
    record.job_updated_at = job_updated_at;
    record.next_run = next;
    record.last_run = scheduled;
    if (!next && state.schedule->is_one_off()) {
      record.job_status = std::string(JobStatusName(JobStatus::kCompleted));
    }
    if (missed > 1 && state.misfire == MisfirePolicy::kSkip) {
      record.run = NewRun(state, scheduled, RunStatus::kMissed, trigger, now);
      record.run.set_error(absl::StrCat(missed, " scheduled times passed while the scheduler was "
                                        "down or behind; misfire policy SKIP"));
    } else if (deadline > 0 && now - scheduled > absl::Seconds(deadline)) {
      record.run = NewRun(state, scheduled, RunStatus::kMissed, trigger, now);
      record.run.set_error(absl::StrCat("could not start within the starting deadline of ",
                                        deadline, "s"));
    } else if (busy && state.overlap == OverlapPolicy::kForbid) {
      record.run = NewRun(state, scheduled, RunStatus::kSkipped, trigger, now);
      record.run.set_error("the previous run is still active; overlap policy FORBID");
    } else {
      if (busy && state.overlap == OverlapPolicy::kReplace) {
        out.cancels.insert(out.cancels.end(), state.active.begin(), state.active.end());
      }
      record.run = NewRun(state, scheduled, RunStatus::kPending, trigger, now);
      meta.dispatch = true;
      busy = true;
    }
    if (missed > 1) record.run.set_missed_count(missed);
  }
}

int64_t Engine::KeyOf(const JobState& state, absl::Time due) const {
  return Micros(state.ahead ? due - options_.lookahead : due);
}

absl::Time Engine::DueOf(const JobState& state, int64_t key) const {
  const absl::Time at = absl::FromUnixMicros(key);
  return state.ahead ? at + options_.lookahead : at;
}

void Engine::Stage(const JobState& state, Run run) {
  const absl::Time at = FromProto(run.scheduled_time());
  StagedAt& staged = staged_[at];
  staged.runs.push_back(JobRun{state.job, std::move(run)});
  staged.slots.push_back(state.slot);
}

Engine::JobState* Engine::StateInSlot(uint32_t slot, absl::string_view job_id) {
  JobState* state = slot < jobs_.size() ? jobs_[slot].get() : nullptr;
  return state != nullptr && state->job->id() == job_id ? state : nullptr;
}

void Engine::DispatchStaged(absl::Time now) {
  std::vector<JobRun> due;
  std::vector<Run> cancelled;
  {
    absl::MutexLock lock(&mu_);
    while (!staged_.empty() && staged_.begin()->first <= now) {
      StagedAt& at = staged_.begin()->second;
      // The common case, every job still firing, hands the whole instant
      // over without touching a run: the last run of a busy second then
      // starts about as soon as the first.
      bool all_fire = true;
      for (size_t i = 0; i < at.runs.size() && all_fire; ++i) {
        const JobState* state = StateInSlot(at.slots[i], at.runs[i].run.job_id());
        all_fire = state != nullptr && state->fires;
      }
      if (all_fire) {
        for (size_t i = 0; i < at.runs.size(); ++i) jobs_[at.slots[i]]->fires_counter->Increment();
      }
      if (all_fire && due.empty()) {
        due.swap(at.runs);
        staged_.erase(staged_.begin());
        continue;
      }
      for (size_t i = 0; i < at.runs.size(); ++i) {
        Run& run = at.runs[i].run;
        JobState* state = StateInSlot(at.slots[i], run.job_id());
        if (state == nullptr) continue;  // deleted, and its runs with it
        if (state->fires) {
          if (!all_fire) state->fires_counter->Increment();
          due.push_back(std::move(at.runs[i]));
          continue;
        }
        // Paused (or cancelled) after its run was recorded ahead: it must
        // not fire, and the record says why it did not.
        std::erase(state->active, RunId(run.id()));
        run.set_status(std::string(RunStatusName(RunStatus::kCancelled)));
        run.set_error(absl::StrCat("the job became ", state->job->status(), " before this fire was due"));
        *run.mutable_end_time() = ToProto(now);
        cancelled.push_back(std::move(run));
      }
      staged_.erase(staged_.begin());
    }
  }
  if (!cancelled.empty()) (void)store_->UpdateRuns(cancelled);
  for (const Run& run : cancelled) CountEnded(run);
  if (!due.empty()) HandOver(std::move(due), now);
}

void Engine::HandOver(std::vector<JobRun> runs, absl::Time now) {
  {
    metrics::HistogramBatch lateness(lateness_);
    for (const JobRun& r : runs) {
      lateness.Observe(absl::ToDoubleSeconds(now - FromProto(r.run.scheduled_time())));
    }
  }
  dispatcher_->DispatchAll(std::move(runs));
}

void Engine::CountEnded(const Run& run) {
  // Every status's series found once: runs end thousands of times a second.
  static const std::array<metrics::Counter*, kRunStatusCount> by_status = [] {
    std::array<metrics::Counter*, kRunStatusCount> out{};
    for (size_t i = 0; i < out.size(); ++i) {
      out[i] = &RunsEnded().With({std::string(RunStatusName(static_cast<RunStatus>(i)))});
    }
    return out;
  }();
  const std::optional<RunStatus> status = ParseRunStatus(run.status());
  if (status) {
    by_status[static_cast<size_t>(*status)]->Increment();
  } else {
    RunsEnded().With({run.status()}).Increment();
  }
  LogRun("engine", "run ended", run);
}

absl::StatusOr<int> Engine::FireDue() {
  absl::MutexLock fire_lock(&fire_mu_);
  const absl::Time now = clock_->Now();
  StartDueRetries(now);
  DispatchStaged(now);
  int recorded = 0;
  while (true) {
    Plan plan;
    {
      absl::MutexLock lock(&mu_);
      plan.records.reserve(std::min<size_t>(index_.size(), options_.max_batch));
      plan.meta.reserve(plan.records.capacity());
      while (!index_.empty() && index_.Earliest().due_micros <= Micros(now) &&
             static_cast<int>(plan.size()) < options_.max_batch) {
        const DueIndex::Entry entry = index_.Earliest();
        index_.Remove(entry.slot);
        JobState& state = *jobs_[entry.slot];
        PlanFires(state, DueOf(state, entry.due_micros), now, plan);
      }
    }
    if (plan.size() == 0) {
      DispatchStaged(clock_->Now());  // recorded in this call and due meanwhile
      absl::MutexLock lock(&mu_);
      fired_through_ = now;
      return recorded;
    }
    absl::StatusOr<int> committed = Commit(plan, now);
    if (!committed.ok()) return committed.status();
    recorded += *committed;
  }
}

absl::StatusOr<int> Engine::Commit(Plan& plan, absl::Time now) {
  absl::StatusOr<std::vector<bool>> stored = store_->RecordFires(plan.records);

  std::vector<JobRun> dispatches;
  int recorded = 0;
  {
    absl::MutexLock lock(&mu_);
    for (size_t i = 0; i < plan.size(); ++i) {
      storage::FireRecord& record = plan.records[i];
      const FireMeta& meta = plan.meta[i];
      JobState* state = jobs_.size() > meta.slot ? jobs_[meta.slot].get() : nullptr;
      if (state != nullptr && state->job->id() != record.run.job_id()) state = nullptr;
      if (state == nullptr) continue;  // deleted meanwhile (its slot may be reused)
      // A job changed while its fire was being recorded was re-indexed by
      // JobChanged(); the plan's next_run is stale for it.
      const bool same_definition = state->generation == meta.generation;
      if (!stored.ok()) {
        if (same_definition) index_.Upsert(meta.slot, KeyOf(*state, meta.due));  // owe it again
        continue;
      }
      if (same_definition) {
        if (record.next_run) index_.Upsert(meta.slot, KeyOf(*state, *record.next_run));
        if (record.job_status) {
          auto updated = std::make_shared<Job>(*state->job);
          updated->set_status(*record.job_status);
          state->job = std::move(updated);
          state->fires = Fires(*state->job);
        }
      }
      if (!(*stored)[i]) continue;  // recorded before (recovery, or a zombie): never twice
      ++recorded;
      if (!meta.dispatch) CountEnded(record.run);  // SKIPPED or MISSED
      // A stored run is always started, even if its job changed meanwhile.
      if (meta.dispatch) {
        state->active.push_back(RunId(record.run.id()));
        if (record.last_run > now) {
          Stage(*state, std::move(record.run));
        } else {
          state->fires_counter->Increment();
          dispatches.push_back(JobRun{state->job, std::move(record.run)});
        }
      }
    }
  }
  if (!stored.ok()) return stored.status();
  for (const RunId& run : plan.cancels) dispatcher_->Cancel(run);
  if (!dispatches.empty()) HandOver(std::move(dispatches), clock_->Now());
  return recorded;
}

absl::Status Engine::Recover() {
  storage::ListJobsQuery query;
  query.page_size = 1000;
  while (true) {
    absl::StatusOr<storage::JobPage> page = store_->ListJobs(query);
    if (!page.ok()) return page.status();
    {
      absl::MutexLock lock(&mu_);
      for (const Job& job : page->jobs) Index(job);
    }
    if (page->next_page.empty()) break;
    query.after_id = page->next_page;
  }
  return RecoverRuns([](const JobId&) { return true; });
}

absl::Status Engine::Adopt(const std::vector<Job>& jobs,
                           const std::function<bool(const JobId&)>& owns) {
  {
    absl::MutexLock lock(&mu_);
    for (const Job& job : jobs) Index(job);
    wake_ = true;  // an adopted job may be due before the current deadline
    cv_.Signal();
  }
  return RecoverRuns(owns);
}

void Engine::Drop(const std::function<bool(const JobId&)>& drop) {
  absl::MutexLock fire_lock(&fire_mu_);
  {
    absl::MutexLock lock(&mu_);
    std::vector<JobId> dropped;
    for (const auto& [id, slot] : slot_by_job_) {
      if (drop(id)) dropped.push_back(id);
    }
    for (const JobId& id : dropped) Unindex(id);
    for (auto it = staged_.begin(); it != staged_.end();) {
      StagedAt kept;
      for (size_t i = 0; i < it->second.runs.size(); ++i) {
        if (drop(JobId(it->second.runs[i].run.job_id()))) continue;
        kept.runs.push_back(std::move(it->second.runs[i]));
        kept.slots.push_back(it->second.slots[i]);
      }
      it->second = std::move(kept);
      it = it->second.runs.empty() ? staged_.erase(it) : std::next(it);
    }
    for (auto it = retries_.begin(); it != retries_.end();) {
      if (!drop(JobId(it->second.job_id()))) {
        ++it;
        continue;
      }
      retry_ids_.erase(it->second.id());
      it = retries_.erase(it);
    }
  }
  dispatcher_->Forget(drop);
}

absl::Time Engine::fired_through() const {
  absl::MutexLock lock(&mu_);
  return fired_through_;
}

absl::Status Engine::RecoverRuns(const std::function<bool(const JobId&)>& owns) {
  // RUNNING first: the runs dispatched below become RUNNING at once, and
  // must not then be taken for runs the previous process left behind. QUEUED
  // before PENDING for the same reason: a PENDING run dispatched here may be
  // queued, and must not be dispatched a second time from that listing.
  for (const RunStatus status :
       {RunStatus::kRunning, RunStatus::kQueued, RunStatus::kPending, RunStatus::kRetrying}) {
    storage::ListRunsQuery runs;
    runs.status = std::string(RunStatusName(status));
    runs.page_size = 1000;
    while (true) {
      absl::StatusOr<storage::RunPage> page = store_->ListRuns(runs);
      if (!page.ok()) return page.status();
      for (Run& run : page->runs) {
        if (!owns(JobId(run.job_id()))) continue;
        if (status == RunStatus::kRunning && !options_.running_runs_died) {
          absl::StatusOr<Job> job = store_->GetJob(JobId(run.job_id()));
          if (!job.ok()) continue;
          {
            absl::MutexLock lock(&mu_);
            if (JobState* state = StateOf(JobId(job->id())); state != nullptr) {
              state->active.push_back(RunId(run.id()));
            }
          }
          dispatcher_->Restore(std::make_shared<const Job>(*std::move(job)), std::move(run));
          continue;
        }
        if (status == RunStatus::kRunning) {
          // Its process ended with the previous server; say so.
          run.set_status(std::string(RunStatusName(RunStatus::kFailed)));
          run.set_error("interrupted: the server stopped while the run was running");
          *run.mutable_end_time() = ToProto(clock_->Now());
          if (absl::Status s = store_->UpdateRun(run); !s.ok()) return s;
          CountEnded(run);  // not active here, so RunFinished does not count it
          RunFinished(run);  // retries apply as to any failed attempt
          continue;
        }
        if (status == RunStatus::kRetrying) {
          absl::MutexLock lock(&mu_);
          QueueRetry(run);
          continue;
        }
        absl::StatusOr<Job> job = store_->GetJob(JobId(run.job_id()));
        if (!job.ok()) continue;
        if (run.has_scheduled_time() && FromProto(run.scheduled_time()) > clock_->Now()) {
          // Recorded ahead of its instant (lookahead): it waits for it.
          absl::MutexLock lock(&mu_);
          JobState* state = StateOf(JobId(job->id()));
          if (state == nullptr) continue;
          state->active.push_back(RunId(run.id()));
          Stage(*state, std::move(run));
          continue;
        }
        RunCreated(*job, run);  // recorded but never started: start it now
      }
      if (page->next_page.empty()) break;
      runs.after_id = page->next_page;
    }
  }
  return absl::OkStatus();
}

void Engine::JobChanged(const Job& job) {
  absl::MutexLock lock(&mu_);
  Index(job);
  // Only a job that is now the earliest moves the firing thread's deadline
  // forward; any other change it finds when it next wakes.
  const JobState* state = StateOf(JobId(job.id()));
  if (state != nullptr && !index_.empty() && index_.Earliest().slot == state->slot) {
    wake_ = true;
    cv_.Signal();
  }
}

void Engine::JobDeleted(const JobId& id, bool cancel_running) {
  std::vector<RunId> active;
  {
    absl::MutexLock lock(&mu_);
    if (JobState* state = StateOf(id); state != nullptr) active = state->active;
    Unindex(id);
  }
  if (cancel_running) {
    for (const RunId& run : active) dispatcher_->Cancel(run);
  }
}

void Engine::RunCreated(const Job& job, const Run& run) {
  {
    absl::MutexLock lock(&mu_);
    if (JobState* state = StateOf(JobId(job.id())); state != nullptr) {
      state->active.push_back(RunId(run.id()));
    }
  }
  dispatcher_->Dispatch(std::make_shared<const Job>(job), run);
}

absl::Duration RetryDelay(const v1::RetryBackoff& backoff, int failed_attempt,
                          double jitter_factor) {
  const double initial = backoff.initial_seconds() > 0 ? backoff.initial_seconds() : 1.0;
  const double cap = backoff.max_seconds() > 0 ? backoff.max_seconds() : 300.0;
  const double multiplier = backoff.multiplier() > 0 ? backoff.multiplier() : 2.0;
  double seconds = initial;
  for (int i = 1; i < failed_attempt && seconds < cap; ++i) seconds *= multiplier;
  seconds = std::min(seconds, cap) * jitter_factor;
  return absl::Seconds(std::min(seconds, cap));
}

void Engine::RunFinished(const Run& run) {
  const std::optional<RunStatus> status = ParseRunStatus(run.status());
  const bool failed = status == RunStatus::kFailed || status == RunStatus::kTimedOut;
  Run next;
  {
    absl::MutexLock lock(&mu_);
    JobState* state = StateOf(JobId(run.job_id()));
    // An end reported again (a redelivered result) is counted once.
    if (state == nullptr || std::erase(state->active, RunId(run.id())) > 0) CountEnded(run);
    if (state == nullptr) return;
    if (!failed || run.attempt() > state->job->max_retries()) return;
    const double jitter =
        options_.jitter ? options_.jitter() : absl::Uniform<double>(bitgen_, 0.8, 1.2);
    const absl::Time now = clock_->Now();
    next.set_id(ScheduledRunId(JobId(run.job_id()), FromProto(run.scheduled_time()),
                               run.attempt() + 1)
                    .value());
    next.set_job_id(run.job_id());
    next.set_status(std::string(RunStatusName(RunStatus::kRetrying)));
    next.set_trigger(std::string(TriggerName(Trigger::kRetry)));
    next.set_attempt(run.attempt() + 1);
    *next.mutable_scheduled_time() = run.scheduled_time();
    *next.mutable_created_at() = ToProto(now);
    *next.mutable_retry_at() =
        ToProto(now + RetryDelay(state->job->retry_backoff(), run.attempt(), jitter));
  }
  // The attempt is recorded before it is scheduled, so a restart finds it.
  // ALREADY_EXISTS: this end was reported before; its retry exists already.
  if (!store_->CreateRun(next).ok()) return;
  absl::MutexLock lock(&mu_);
  QueueRetry(next);
  wake_ = true;
  cv_.Signal();
}

void Engine::QueueRetry(const Run& run) {
  if (!retry_ids_.insert(run.id()).second) return;
  retries_.emplace(FromProto(run.retry_at()), run);
}

void Engine::StartDueRetries(absl::Time now) {
  std::vector<std::pair<std::shared_ptr<const Job>, Run>> starts;
  {
    absl::MutexLock lock(&mu_);
    while (!retries_.empty() && retries_.begin()->first <= now) {
      Run run = std::move(retries_.begin()->second);
      retries_.erase(retries_.begin());
      retry_ids_.erase(run.id());
      JobState* state = StateOf(JobId(run.job_id()));
      if (state == nullptr) continue;  // the job was deleted, and its runs with it
      run.set_status(std::string(RunStatusName(RunStatus::kPending)));
      state->active.push_back(RunId(run.id()));
      starts.emplace_back(state->job, std::move(run));
    }
  }
  for (auto& [job, run] : starts) {
    (void)store_->UpdateRun(run);
    dispatcher_->Dispatch(std::move(job), std::move(run));
  }
}

std::optional<absl::Time> Engine::NextFire(const JobId& job) const {
  absl::MutexLock lock(&mu_);
  const auto it = slot_by_job_.find(job);
  if (it == slot_by_job_.end() || !index_.Contains(it->second)) return std::nullopt;
  return DueOf(*jobs_[it->second], index_.DueOf(it->second));
}

size_t Engine::indexed_jobs() const {
  absl::MutexLock lock(&mu_);
  return index_.size();
}

void Engine::Start() {
  absl::MutexLock lock(&mu_);
  if (thread_.joinable()) return;
  stop_ = false;
  thread_ = std::thread([this] { Loop(); });
}

void Engine::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
    cv_.Signal();
  }
  if (thread_.joinable()) thread_.join();
}

absl::StatusOr<int64_t> Engine::PruneRuns() {
  return store_->PruneRuns(options_.retention_runs, clock_->Now() - options_.retention_age);
}

void Engine::Loop() {
  // After a storage error, wait this long before trying again.
  absl::Time not_before = absl::InfinitePast();
  absl::Time next_prune = clock_->Now();
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      while (!stop_ && !wake_) {
        absl::Time deadline =
            index_.empty() ? absl::InfiniteFuture() : absl::FromUnixMicros(index_.Earliest().due_micros);
        if (!retries_.empty()) deadline = std::min(deadline, retries_.begin()->first);
        if (!staged_.empty()) deadline = std::min(deadline, staged_.begin()->first);
        deadline = std::min(deadline, next_prune);
        deadline = std::max(deadline, not_before);
        if (clock_->Now() >= deadline) break;
        // Sleeps until the earliest due instant; JobChanged() and Stop() wake it.
        cv_.WaitWithDeadline(&mu_, deadline);
      }
      if (stop_) return;
      wake_ = false;
    }
    if (clock_->Now() >= next_prune) {
      // A failed prune is tried again at the next interval; firing goes on.
      (void)PruneRuns();
      next_prune = clock_->Now() + options_.prune_every;
    }
    const absl::StatusOr<int> fired = FireDue();
    not_before = fired.ok() ? absl::InfinitePast() : clock_->Now() + options_.storage_retry;
  }
}

}  // namespace dts::scheduler
