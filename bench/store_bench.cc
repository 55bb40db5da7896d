// The SQLite store's share of one fire in `dts server`, to read the e2e
// figure against (docs/benchmarks.md). With 10,000 jobs stored, as the e2e
// run has them:
//
//   Store/RecordFires   one batch of 1024 fires (insert the run, update its
//                       job's schedule columns), as Engine::FireDue commits them
//   Store/UpdateRun     one run updated on its own (its own transaction, and
//                       the job's last_status)
//   Store/UpdateRuns    a batch of 1024 run updates in one transaction, as
//                       the worker group-commits RUNNING and outcomes
//
// Timed by the wall clock (UseRealTime: the commits wait for the disk and
// for the checkpointer), items_per_second is fires (or updates) per second.
// A file in a temp dir,
// WAL, synchronous=NORMAL and the store's checkpointer thread, as in the
// server.
//
//   build/bench/store_bench --benchmark_repetitions=3

#include <stdlib.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "benchmark/benchmark.h"
#include "dts/model/job.h"
#include "dts/model/time_convert.h"
#include "dts/scheduler/run_id.h"
#include "dts/storage/sqlite_store.h"

namespace {

using dts::Job;
using dts::JobId;
using dts::Run;

constexpr int kJobs = 10'000;
constexpr int kBatch = 1024;
const absl::Time kStart = absl::FromUnixSeconds(1772409600);

struct Fixture {
  std::string dir;
  std::unique_ptr<dts::storage::SqliteStore> store;
  std::vector<Job> jobs;
  int64_t second = 0;  // the next scheduled second to record
  std::vector<Run> last_batch;

  Fixture() {
    char tmpl[] = "/tmp/dts-store-bench.XXXXXX";
    dir = mkdtemp(tmpl);
    store = *dts::storage::SqliteStore::Open(dir + "/data");
    for (int i = 0; i < kJobs; ++i) {
      Job job;
      job.set_id(absl::StrFormat("%08x-0000-4000-8000-%012x", static_cast<uint32_t>(i * 2654435761u), i));
      job.set_name(absl::StrFormat("e2e-%d", i));
      job.set_cron_expression("* * * * * *");
      dts::ApplyJobDefaults(job);
      *job.mutable_created_at() = dts::ToProto(kStart - absl::Hours(1));
      *job.mutable_updated_at() = job.created_at();
      *job.mutable_schedule_anchor() = job.created_at();
      *job.mutable_next_run() = dts::ToProto(kStart);
      if (!store->CreateJob(job).ok()) std::abort();
      jobs.push_back(job);
    }
  }
  ~Fixture() {
    store.reset();
    std::filesystem::remove_all(dir);
  }

  // The next kBatch fires: jobs in order, a second further per full round.
  std::vector<dts::storage::FireRecord> NextBatch(int64_t& k) {
    std::vector<dts::storage::FireRecord> batch(kBatch);
    for (auto& fire : batch) {
      const Job& job = jobs[k % kJobs];
      const absl::Time scheduled = kStart + absl::Seconds(k / kJobs);
      Run& run = fire.run;
      run.set_id(dts::scheduler::ScheduledRunId(JobId(job.id()), scheduled, 1).value());
      run.set_job_id(job.id());
      run.set_status("PENDING");
      run.set_trigger("SCHEDULE");
      run.set_attempt(1);
      *run.mutable_scheduled_time() = dts::ToProto(scheduled);
      *run.mutable_created_at() = dts::ToProto(scheduled);
      fire.last_run = scheduled;
      fire.next_run = scheduled + absl::Seconds(1);
      ++k;
    }
    return batch;
  }
};

// Destroyed at exit, which removes the temp dir.
Fixture& TheFixture() {
  static Fixture f;
  return f;
}

int64_t fire_counter = 0;

void BM_RecordFires(benchmark::State& state) {
  Fixture& f = TheFixture();
  for (auto _ : state) {
    state.PauseTiming();
    std::vector<dts::storage::FireRecord> batch = f.NextBatch(fire_counter);
    state.ResumeTiming();
    absl::StatusOr<std::vector<bool>> stored = f.store->RecordFires(batch);
    state.PauseTiming();
    if (!stored.ok()) {
      state.SkipWithError(std::string(stored.status().message()).c_str());
      break;
    }
    f.last_batch.clear();
    for (auto& fire : batch) f.last_batch.push_back(std::move(fire.run));
    state.ResumeTiming();
  }
  state.SetItemsProcessed(state.iterations() * kBatch);
}

// Records a fresh batch of fires and returns its runs as the worker would
// update them (RUNNING on "local").
bool NextRunningBatch(Fixture& f, std::vector<Run>* runs) {
  std::vector<dts::storage::FireRecord> batch = f.NextBatch(fire_counter);
  if (!f.store->RecordFires(batch).ok()) return false;
  runs->clear();
  for (auto& fire : batch) {
    fire.run.set_status("RUNNING");
    fire.run.set_worker_id("local");
    *fire.run.mutable_start_time() = fire.run.created_at();
    runs->push_back(std::move(fire.run));
  }
  return true;
}

// Updates runs recorded by fresh RecordFires batches (made outside the timing).
void BM_UpdateRun(benchmark::State& state) {
  Fixture& f = TheFixture();
  std::vector<Run> runs;
  size_t next = 0;
  for (auto _ : state) {
    if (next == runs.size()) {
      state.PauseTiming();
      if (!NextRunningBatch(f, &runs)) {
        state.SkipWithError("RecordFires failed");
        break;
      }
      next = 0;
      state.ResumeTiming();
    }
    if (!f.store->UpdateRun(runs[next++]).ok()) {
      state.SkipWithError("UpdateRun failed");
      break;
    }
  }
  state.SetItemsProcessed(state.iterations());
}

// The worker's group commit: a whole batch of run updates in one UpdateRuns.
void BM_UpdateRuns(benchmark::State& state) {
  Fixture& f = TheFixture();
  std::vector<Run> runs;
  for (auto _ : state) {
    state.PauseTiming();
    if (!NextRunningBatch(f, &runs)) {
      state.SkipWithError("RecordFires failed");
      break;
    }
    state.ResumeTiming();
    if (!f.store->UpdateRuns(runs).ok()) {
      state.SkipWithError("UpdateRuns failed");
      break;
    }
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(runs.size()));
}

}  // namespace

BENCHMARK(BM_RecordFires)->Name("Store/RecordFires")->Unit(benchmark::kMillisecond)->MinTime(1.0)->UseRealTime();
BENCHMARK(BM_UpdateRun)->Name("Store/UpdateRun")->Unit(benchmark::kMicrosecond)->MinTime(1.0)->UseRealTime();
BENCHMARK(BM_UpdateRuns)->Name("Store/UpdateRuns")->Unit(benchmark::kMillisecond)->MinTime(1.0)->UseRealTime();

BENCHMARK_MAIN();
