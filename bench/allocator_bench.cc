// The resource allocator alone (issue: resource placement).
//
//   Steady/shapes:125   1,000 workers (16 cores, 64 GiB each, four zones),
//                       every worker full and 100,000 runs queued. One
//                       iteration = one run ends (Release), a new run arrives
//                       (Submit) and Schedule() places what now fits. Runs
//                       come in 125 shapes: 25 sizes (cpu 250m..4000m x
//                       memory 256..4096 MiB) x 5 constraint sets (none, or
//                       one zone), priority 0..2. items_per_second counts
//                       placements (runs granted a worker); placements_per_iter
//                       shows how many runs each release let in.
//   Steady/distinct     the same, but every run has its own size (cpu and
//                       memory drawn per run): the worst case for the
//                       per-shape queue, whose pass cost follows the number
//                       of distinct shapes.
//   SubmitPlace         an empty queue with room everywhere: Submit places at
//                       once, then Release. The uncontended path.
//   QueueListing        Queue() with 100,000 waiting runs and their reasons.
//
//   build/bench/allocator_bench --benchmark_repetitions=3
//
// Goal: >= 100k placement decisions/s with 1,000 workers and 100,000 queued runs.

#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "benchmark/benchmark.h"
#include "dts/allocator/allocator.h"
#include "dts/common/clock.h"

namespace {

using dts::JobId;
using dts::ManualClock;
using dts::RunId;
using dts::WorkerId;
using namespace dts::allocator;  // NOLINT: a benchmark of this one module

constexpr int kWorkers = 1000;
constexpr size_t kQueued = 100'000;
const absl::Time kStart = absl::FromUnixSeconds(1'800'000'000);

// Builds the cluster and the traffic; owns the allocator under test.
class Cluster {
 public:
  explicit Cluster(bool distinct_shapes) : distinct_(distinct_shapes) {
    auto a = Allocator::Create(AllocatorOptions{}, &clock_);
    if (!a.ok()) std::abort();
    alloc_ = *std::move(a);
    for (int i = 0; i < kWorkers; ++i) {
      WorkerSpec spec{WorkerId(absl::StrCat("worker-", 1000 + i)),
                      {{"zone", kZones[i % 4]}},
                      Resources{16'000, 65'536, 0}};
      if (!alloc_->UpsertWorker(spec).ok()) std::abort();
    }
  }

  // Submits until `queued` runs wait; the workers fill up on the way.
  void Fill(size_t queued) {
    while (alloc_->QueueLength() < queued) Submit();
    Take(alloc_->Schedule());
  }

  // One run ends, one arrives, Schedule(): returns the runs placed.
  int64_t Step() {
    size_t i = rng_() % running_.size();
    std::swap(running_[i], running_.back());
    alloc_->Release(running_.back());
    running_.pop_back();
    int64_t placed = Submit();
    return placed + Take(alloc_->Schedule());
  }

  // Submits one random run; 1 if it was placed at once.
  int64_t Submit() {
    PlacementRequest p;
    p.run_id = RunId(absl::StrCat("run-", next_run_++));
    p.job_id = JobId("job");
    p.priority = static_cast<int>(rng_() % 3);
    p.scheduled_time = kStart;
    if (distinct_) {
      p.resources = Resources{100 + static_cast<int64_t>(rng_() % 3901), 128 + static_cast<int64_t>(rng_() % 3969), 0};
    } else {
      p.resources = Resources{kCpu[rng_() % 5], kMemory[rng_() % 5], 0};
    }
    if (uint32_t c = rng_() % 5; c > 0) p.constraints = {{"zone", kZones[c - 1]}};
    RunId id = p.run_id;
    auto g = alloc_->Submit(std::move(p));
    if (!g.ok()) std::abort();
    if (!g->has_value()) return 0;
    running_.push_back(std::move(id));
    return 1;
  }

  Allocator& alloc() { return *alloc_; }
  size_t running() const { return running_.size(); }

 private:
  static constexpr const char* kZones[4] = {"a", "b", "c", "d"};
  static constexpr int64_t kCpu[5] = {250, 500, 1000, 2000, 4000};
  static constexpr int64_t kMemory[5] = {256, 512, 1024, 2048, 4096};

  int64_t Take(const std::vector<Grant>& grants) {
    for (const Grant& g : grants) running_.push_back(g.run_id);
    return static_cast<int64_t>(grants.size());
  }

  const bool distinct_;
  ManualClock clock_{kStart};
  std::unique_ptr<Allocator> alloc_;
  std::mt19937_64 rng_{42};
  std::vector<RunId> running_;
  int64_t next_run_ = 0;
};

void Steady(benchmark::State& state, bool distinct) {
  Cluster cluster(distinct);
  cluster.Fill(kQueued);
  int64_t placed = 0;
  int64_t iterations = 0;
  for (auto _ : state) {
    placed += cluster.Step();
    ++iterations;
  }
  state.SetItemsProcessed(placed);
  state.counters["placements_per_iter"] = static_cast<double>(placed) / static_cast<double>(iterations);
  state.counters["queued"] = static_cast<double>(cluster.alloc().QueueLength());
  state.counters["running"] = static_cast<double>(cluster.running());
}

void BM_SteadyShapes(benchmark::State& state) { Steady(state, false); }
void BM_SteadyDistinct(benchmark::State& state) { Steady(state, true); }
BENCHMARK(BM_SteadyShapes)->Name("Steady/shapes:125");
BENCHMARK(BM_SteadyDistinct)->Name("Steady/distinct");

void BM_SubmitPlace(benchmark::State& state) {
  Cluster cluster(false);
  int64_t n = 0;
  for (auto _ : state) {
    RunId id(absl::StrCat("r", n++));
    PlacementRequest p;
    p.run_id = id;
    p.resources = Resources{1000, 1024, 0};
    auto g = cluster.alloc().Submit(std::move(p));
    if (!g.ok() || !g->has_value()) std::abort();
    cluster.alloc().Release(id);
    cluster.alloc().Schedule();
  }
  state.SetItemsProcessed(n);
}
BENCHMARK(BM_SubmitPlace)->Name("SubmitPlace");

void BM_QueueListing(benchmark::State& state) {
  Cluster cluster(false);
  cluster.Fill(kQueued);
  for (auto _ : state) benchmark::DoNotOptimize(cluster.alloc().Queue());
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(kQueued));
}
BENCHMARK(BM_QueueListing)->Name("QueueListing")->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
