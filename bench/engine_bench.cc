// The firing engine alone (issue 4, "Engine alone"):
//
//   DueIndex/*      the due-time index with 1,000,000 jobs on due instants
//                   spread over a year: Upsert (insert), Remove, reschedule
//                   (the engine's per-fire pattern: earliest out, next due in).
//                   Counter bytes_per_job = DueIndex::MemoryBytes() / size().
//   Engine/FireDue  Engine::FireDue() firing 1,000,000 jobs on varied cron
//                   schedules, every one due now (ManualClock), into a store
//                   whose RecordFires says "stored" at once and a dispatcher
//                   that does nothing: the engine's own cost per fire, one
//                   core. items_per_second is fires per second.
//   Parts/*         what one fire is made of (run id, cron next, Job copy),
//                   to read the FireDue figure against, and FastRunIdSketch:
//                   the same run id computed without the avoidable costs.
//
//   build/bench/engine_bench --benchmark_repetitions=3
//   ENGINE_BENCH_JOBS=100000 build/bench/engine_bench ...   (smaller, e.g. under callgrind)
//
// Goals (issue 4): <= 128 B of index per job, >= 1M index ops/s,
// >= 500k fires/s on one core.

#include <malloc.h>
#include <openssl/evp.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "benchmark/benchmark.h"
#include "dts/common/clock.h"
#include "dts/cron/schedule.h"
#include "dts/model/job.h"
#include "dts/model/time_convert.h"
#include "dts/scheduler/dispatcher.h"
#include "dts/scheduler/due_index.h"
#include "dts/scheduler/engine.h"
#include "dts/scheduler/run_id.h"
#include "dts/storage/store.h"

namespace {

using dts::Job;
using dts::JobId;
using dts::Run;
using dts::RunId;
using dts::scheduler::DueIndex;

size_t JobCount() {
  static const size_t n = [] {
    const char* env = std::getenv("ENGINE_BENCH_JOBS");
    const long v = env != nullptr ? std::strtol(env, nullptr, 10) : 0;
    return v > 0 ? static_cast<size_t>(v) : size_t{1'000'000};
  }();
  return n;
}

// 2026-03-02T00:00:00Z, a Monday.
const absl::Time kStart = absl::FromUnixSeconds(1772409600);

// Due instants spread uniformly over a year, to the microsecond.
const std::vector<int64_t>& DueTimes() {
  static const std::vector<int64_t> due = [] {
    std::mt19937_64 rng(42);
    std::uniform_int_distribution<int64_t> offset(0, int64_t{365} * 86400 * 1'000'000);
    std::vector<int64_t> v(JobCount());
    const int64_t base = absl::ToUnixMicros(kStart);
    for (int64_t& d : v) d = base + offset(rng);
    return v;
  }();
  return due;
}

// Every slot once, in random order.
const std::vector<uint32_t>& ShuffledSlots() {
  static const std::vector<uint32_t> slots = [] {
    std::vector<uint32_t> v(JobCount());
    for (uint32_t i = 0; i < v.size(); ++i) v[i] = i;
    std::shuffle(v.begin(), v.end(), std::mt19937_64(7));
    return v;
  }();
  return slots;
}

DueIndex FullIndex() {
  DueIndex index;
  const std::vector<int64_t>& due = DueTimes();
  for (uint32_t i = 0; i < due.size(); ++i) index.Upsert(i, due[i]);
  return index;
}

// ---- DueIndex ----

void BM_DueIndexInsert(benchmark::State& state) {
  const std::vector<int64_t>& due = DueTimes();
  double bytes_per_job = 0;
  for (auto _ : state) {
    state.PauseTiming();
    auto index = std::make_unique<DueIndex>();
    state.ResumeTiming();
    for (uint32_t i = 0; i < due.size(); ++i) index->Upsert(i, due[i]);
    state.PauseTiming();
    bytes_per_job = static_cast<double>(index->MemoryBytes()) / static_cast<double>(index->size());
    index.reset();
    state.ResumeTiming();
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(due.size()));
  state.counters["jobs"] = static_cast<double>(due.size());
  state.counters["bytes_per_job"] = bytes_per_job;
}

void BM_DueIndexRemove(benchmark::State& state) {
  const std::vector<uint32_t>& order = ShuffledSlots();
  for (auto _ : state) {
    state.PauseTiming();
    DueIndex index = FullIndex();
    state.ResumeTiming();
    for (const uint32_t slot : order) index.Remove(slot);
    benchmark::DoNotOptimize(index.size());
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(order.size()));
  state.counters["jobs"] = static_cast<double>(order.size());
}

// What the engine does per fire: take the earliest entry out, put it back at
// its next due instant (here: a minute to a day later).
void BM_DueIndexReschedule(benchmark::State& state) {
  const size_t n = JobCount();
  std::mt19937_64 rng(3);
  std::uniform_int_distribution<int64_t> step(60'000'000, int64_t{86400} * 1'000'000);
  std::vector<int64_t> steps(4096);
  for (int64_t& s : steps) s = step(rng);
  DueIndex index = FullIndex();
  size_t k = 0;
  for (auto _ : state) {
    for (size_t i = 0; i < n; ++i) {
      const DueIndex::Entry e = index.Earliest();
      index.Remove(e.slot);
      index.Upsert(e.slot, e.due_micros + steps[k++ & 4095]);
    }
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(n));
  state.counters["jobs"] = static_cast<double>(n);
}

// ---- Engine ----

class NoopStore final : public dts::storage::Store {
 public:
  absl::Status CreateJob(const Job&) override { return absl::OkStatus(); }
  absl::StatusOr<Job> GetJob(const JobId&) override { return absl::NotFoundError("noop store"); }
  absl::StatusOr<dts::storage::JobPage> ListJobs(const dts::storage::ListJobsQuery&) override {
    return dts::storage::JobPage{};
  }
  absl::Status UpdateJob(const Job&) override { return absl::OkStatus(); }
  absl::Status DeleteJob(const JobId&) override { return absl::OkStatus(); }
  absl::Status CreateRun(const Run&) override { return absl::OkStatus(); }
  absl::StatusOr<Run> GetRun(const RunId&) override { return absl::NotFoundError("noop store"); }
  absl::StatusOr<dts::storage::RunPage> ListRuns(const dts::storage::ListRunsQuery&) override {
    return dts::storage::RunPage{};
  }
  absl::Status UpdateRun(const Run&) override { return absl::OkStatus(); }
  absl::StatusOr<std::vector<bool>> RecordFires(
      const std::vector<dts::storage::FireRecord>& fires) override {
    return std::vector<bool>(fires.size(), true);
  }
  absl::StatusOr<int64_t> PruneRuns(int, absl::Time) override { return 0; }
};

class NoopDispatcher final : public dts::scheduler::RunDispatcher {
 public:
  void Dispatch(std::shared_ptr<const Job>, Run) override {}
  void Cancel(const RunId&) override {}
};

// Schedules of the kind users write; every eighth job is in a DST zone.
constexpr const char* kExpressions[] = {
    "* * * * * *",    "*/5 * * * * *", "0 * * * * *",  "* * * * *",      "*/15 * * * *",
    "0 9 * * MON-FRI", "0 0 1 * *",    "0 0 L * *",    "30 2 * * *",     "@every 90s",
    "0 10 * * FRI#2", "*/10 * * * * *", "0 */2 * * *", "15 3 * * SUN",   "0 0 29 2 *",
    "0 0 LW * *"};

// One million jobs, all due at kStart.
const std::vector<Job>& Jobs() {
  static const std::vector<Job> jobs = [] {
    std::vector<Job> v(JobCount());
    const size_t kinds = std::size(kExpressions);
    for (size_t i = 0; i < v.size(); ++i) {
      Job& job = v[i];
      job.set_id(absl::StrFormat("%08x-0000-4000-8000-%012x", static_cast<uint32_t>(i * 2654435761u),
                                 static_cast<uint64_t>(i)));
      job.set_name(absl::StrFormat("bench-%d", i));
      job.set_cron_expression(kExpressions[i % kinds]);
      job.set_timezone(i % 8 == 7 ? "America/New_York" : "UTC");
      job.set_status("ACTIVE");
      job.set_overlap_policy("ALLOW");
      job.set_misfire_policy("RUN_ONCE");
      *job.mutable_created_at() = dts::ToProto(kStart - absl::Hours(1));
      *job.mutable_updated_at() = job.created_at();
      *job.mutable_schedule_anchor() = job.created_at();
      *job.mutable_next_run() = dts::ToProto(kStart);
    }
    return v;
  }();
  return jobs;
}

// Bytes the C heap holds (arena plus mmapped blocks).
size_t HeapBytes() {
  const struct mallinfo2 info = mallinfo2();
  return info.uordblks + info.hblkhd;
}

// The argument is how many of Jobs() to index (the first n).
void BM_EngineFireDue(benchmark::State& state) {
  const size_t n = std::min(JobCount(), static_cast<size_t>(state.range(0)));
  const std::span<const Job> jobs(Jobs().data(), n);
  NoopStore store;
  NoopDispatcher dispatcher;
  dts::ManualClock clock(kStart);
  double engine_bytes_per_job = 0;
  double index_seconds = 0;
  for (auto _ : state) {
    state.PauseTiming();
    const size_t heap_before = HeapBytes();
    const absl::Time index_start = absl::Now();
    auto engine = std::make_unique<dts::scheduler::Engine>(&store, &clock, &dispatcher);
    for (const Job& job : jobs) engine->JobChanged(job);
    index_seconds = absl::ToDoubleSeconds(absl::Now() - index_start);
    engine_bytes_per_job = static_cast<double>(HeapBytes() - heap_before) / static_cast<double>(jobs.size());
    if (engine->indexed_jobs() != jobs.size()) {
      state.SkipWithError("not every job was indexed");
      break;
    }
    state.ResumeTiming();
    absl::StatusOr<int> fired = engine->FireDue();
    state.PauseTiming();
    if (!fired.ok() || static_cast<size_t>(*fired) != jobs.size()) {
      state.SkipWithError(fired.ok() ? "FireDue fired fewer runs than jobs" : "FireDue failed");
      break;
    }
    engine.reset();
    state.ResumeTiming();
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(jobs.size()));
  state.counters["jobs"] = static_cast<double>(jobs.size());
  // Not goals, for scale: the whole engine's heap per job (JobState with its
  // Job copy, schedule, hash map entry, index), and JobChanged() per job.
  state.counters["engine_bytes_per_job"] = engine_bytes_per_job;
  state.counters["index_us_per_job"] = index_seconds * 1e6 / static_cast<double>(jobs.size());
}

// ---- the parts of one fire ----

void BM_PartScheduledRunId(benchmark::State& state) {
  const JobId job("0b9d6c7e-2f61-4c1a-9f7e-3d2a1b0c9e8f");
  absl::Time t = kStart;
  for (auto _ : state) {
    benchmark::DoNotOptimize(dts::scheduler::ScheduledRunId(job, t, 1));
    t += absl::Seconds(1);
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_PartCronNext(benchmark::State& state) {
  std::vector<dts::cron::Schedule> schedules;
  for (const char* expr : kExpressions) {
    schedules.push_back(*dts::cron::Schedule::Create(expr, absl::UTCTimeZone()));
  }
  size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(schedules[i % schedules.size()].Next(kStart, kStart - absl::Hours(1)));
    ++i;
  }
  state.SetItemsProcessed(state.iterations());
}

// A sketch of a cheaper ScheduledRunId, to size the suggestion in
// docs/benchmarks.md: the same version-5 UUID, but with the SHA-1 fetched
// once (SHA1() looks the algorithm up in the provider table on every call in
// OpenSSL 3), no intermediate strings, and hex by table instead of
// StrAppendFormat. Checked against ScheduledRunId before timing.
RunId FastRunId(const JobId& job, absl::Time scheduled, int attempt) {
  static EVP_MD* const sha1 = EVP_MD_fetch(nullptr, "SHA1", nullptr);
  thread_local EVP_MD_CTX* const ctx = EVP_MD_CTX_new();
  static constexpr unsigned char kNamespace[16] = {0x6b, 0x1f, 0x0c, 0x52, 0x9e, 0x3a, 0x4d, 0x77,
                                                   0xa1, 0x58, 0x2c, 0x04, 0xd9, 0x8e, 0x61, 0x3b};
  // "/<micros>/<attempt>", digits written backwards from the end.
  char tail[64];
  char* p = tail + sizeof(tail);
  const auto put = [&p](uint64_t v) {
    do {
      *--p = static_cast<char>('0' + v % 10);
      v /= 10;
    } while (v != 0);
    *--p = '/';
  };
  put(static_cast<uint64_t>(attempt));
  put(static_cast<uint64_t>(absl::ToUnixMicros(scheduled)));
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestInit_ex(ctx, sha1, nullptr);
  EVP_DigestUpdate(ctx, kNamespace, sizeof(kNamespace));
  EVP_DigestUpdate(ctx, job.value().data(), job.value().size());
  EVP_DigestUpdate(ctx, p, static_cast<size_t>(tail + sizeof(tail) - p));
  EVP_DigestFinal_ex(ctx, digest, &len);
  digest[6] = static_cast<unsigned char>((digest[6] & 0x0f) | 0x50);
  digest[8] = static_cast<unsigned char>((digest[8] & 0x3f) | 0x80);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(36, '-');
  size_t o = 0;
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) ++o;
    out[o++] = kHex[digest[i] >> 4];
    out[o++] = kHex[digest[i] & 15];
  }
  return RunId(std::move(out));
}

void BM_PartFastRunIdSketch(benchmark::State& state) {
  const JobId job("0b9d6c7e-2f61-4c1a-9f7e-3d2a1b0c9e8f");
  if (FastRunId(job, kStart, 1) != dts::scheduler::ScheduledRunId(job, kStart, 1)) {
    state.SkipWithError("FastRunId differs from ScheduledRunId");
    return;
  }
  absl::Time t = kStart;
  for (auto _ : state) {
    benchmark::DoNotOptimize(FastRunId(job, t, 1));
    t += absl::Seconds(1);
  }
  state.SetItemsProcessed(state.iterations());
}

// Commit() copies the whole Job for every dispatch.
void BM_PartJobCopy(benchmark::State& state) {
  const Job& job = Jobs()[5];
  for (auto _ : state) {
    Job copy = job;
    benchmark::DoNotOptimize(copy);
  }
  state.SetItemsProcessed(state.iterations());
}

}  // namespace

BENCHMARK(BM_DueIndexInsert)->Name("DueIndex/Upsert_insert")->Unit(benchmark::kMillisecond);
BENCHMARK(BM_DueIndexRemove)->Name("DueIndex/Remove")->Unit(benchmark::kMillisecond);
BENCHMARK(BM_DueIndexReschedule)->Name("DueIndex/Reschedule")->Unit(benchmark::kMillisecond);
// 1M jobs is the goal's case; 100k shows how the cost per fire grows with the
// engine's heap (cache and TLB misses on every JobState).
BENCHMARK(BM_EngineFireDue)
    ->Name("Engine/FireDue")
    ->Arg(100'000)
    ->Arg(static_cast<int64_t>(JobCount()))
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_PartScheduledRunId)->Name("Parts/ScheduledRunId");
BENCHMARK(BM_PartFastRunIdSketch)->Name("Parts/FastRunIdSketch");
BENCHMARK(BM_PartCronNext)->Name("Parts/CronNext");
BENCHMARK(BM_PartJobCopy)->Name("Parts/JobCopy");

BENCHMARK_MAIN();
