// Embedded end to end (issue 4): against a running `dts server`, creates
// --jobs noop jobs (no executor) firing every second, lets them fire, and
// then reads the server's SQLite file (read-only, WAL: safe while it runs):
//
//   recorded/s   runs whose created_at (the engine's fire instant) falls in
//                the measuring window, divided by its length
//   lateness     start_time - scheduled_time of the runs scheduled in the
//                window (start_time: when the worker started the run)
//   split        fire lag (created_at - scheduled_time: wake-up + planning)
//                and hand-off (start_time - created_at: the commit of the
//                batch and the dispatches before this one)
//
//   build/bench/e2e_bench --grpc 127.0.0.1:PORT --data-dir DIR [--jobs 10000]
//                         [--seconds 20] [--warmup 3] [--cron '* * * * * *']
//
// Last line: RESULT e2e jobs=.. recorded_per_s=.. p50_ms=.. p99_ms=.. max_ms=.. ...

#include <sqlite3.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "dts/v1/execution.pb.h"
#include "dts/v1/job.grpc.pb.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/grpcpp.h"

namespace {

struct Options {
  std::string grpc = "127.0.0.1:50054";
  std::string data_dir;
  std::string cron = "* * * * * *";
  int jobs = 10000;
  int seconds = 20;
  int warmup = 3;
  int settle = 3;
  int create_threads = 4;
};

[[noreturn]] void Usage(const char* why) {
  std::fprintf(stderr,
               "e2e_bench: %s\nusage: e2e_bench --grpc HOST:PORT --data-dir DIR [--jobs N] [--seconds S]\n"
               "                 [--warmup S] [--settle S] [--cron EXPR] [--create-threads T]\n",
               why);
  std::exit(2);
}

Options Parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (i + 1 >= argc) Usage(("missing value for " + flag).c_str());
    const char* v = argv[++i];
    if (flag == "--grpc") o.grpc = v;
    else if (flag == "--data-dir") o.data_dir = v;
    else if (flag == "--cron") o.cron = v;
    else if (flag == "--jobs") o.jobs = std::atoi(v);
    else if (flag == "--seconds") o.seconds = std::atoi(v);
    else if (flag == "--warmup") o.warmup = std::atoi(v);
    else if (flag == "--settle") o.settle = std::atoi(v);
    else if (flag == "--create-threads") o.create_threads = std::atoi(v);
    else Usage(("unknown flag " + flag).c_str());
  }
  if (o.data_dir.empty()) Usage("--data-dir is required");
  if (o.jobs < 1 || o.seconds < 1 || o.create_threads < 1) Usage("bad number");
  return o;
}

int64_t NowMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void SleepUntilMicros(int64_t t) {
  const int64_t now = NowMicros();
  if (t > now) std::this_thread::sleep_for(std::chrono::microseconds(t - now));
}

int64_t Micros(const google::protobuf::Timestamp& ts) {
  return ts.seconds() * 1'000'000 + ts.nanos() / 1000;
}

// Creates the jobs over --create-threads connections; returns false on error.
bool CreateJobs(const Options& o) {
  std::atomic<int> next{0};
  std::atomic<int> failed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < o.create_threads; ++t) {
    threads.emplace_back([&, t] {
      grpc::ChannelArguments args;
      args.SetInt("dts.bench.thread", t);
      args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
      auto stub = dts::v1::JobService::NewStub(
          grpc::CreateCustomChannel(o.grpc, grpc::InsecureChannelCredentials(), args));
      for (int i = next++; i < o.jobs; i = next++) {
        dts::v1::CreateJobRequest request;
        request.set_name("e2e-" + std::to_string(i));
        request.set_cron_expression(o.cron);
        dts::v1::CreateJobResponse response;
        grpc::ClientContext context;
        context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
        const grpc::Status s = stub->CreateJob(&context, request, &response);
        if (!s.ok()) {
          if (failed++ == 0) std::fprintf(stderr, "e2e_bench: CreateJob: %s\n", s.error_message().c_str());
          return;
        }
      }
    });
  }
  for (std::thread& t : threads) t.join();
  return failed == 0;
}

struct Percentiles {
  double p50 = 0, p99 = 0, max = 0;  // milliseconds
};

Percentiles Of(std::vector<int64_t>& micros) {
  Percentiles p;
  if (micros.empty()) return p;
  std::sort(micros.begin(), micros.end());
  const auto at = [&](double q) {
    return static_cast<double>(micros[std::min(micros.size() - 1, static_cast<size_t>(q * static_cast<double>(micros.size())))]) / 1000.0;
  };
  p.p50 = at(0.50);
  p.p99 = at(0.99);
  p.max = static_cast<double>(micros.back()) / 1000.0;
  return p;
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = Parse(argc, argv);

  const int64_t create_start = NowMicros();
  if (!CreateJobs(o)) return 1;
  const int64_t create_end = NowMicros();
  const double create_s = static_cast<double>(create_end - create_start) / 1e6;
  std::printf("created %d jobs '%s' in %.2f s (%.0f/s over gRPC, %d connections)\n", o.jobs,
              o.cron.c_str(), create_s, o.jobs / create_s, o.create_threads);

  // The window starts on a whole second, after the warm-up.
  const int64_t t0 = (create_end / 1'000'000 + 1 + o.warmup) * 1'000'000;
  const int64_t t1 = t0 + int64_t{o.seconds} * 1'000'000;
  std::printf("measuring %d s, then %d s for the last runs to finish...\n", o.seconds, o.settle);
  std::fflush(stdout);
  SleepUntilMicros(t1 + int64_t{o.settle} * 1'000'000);

  sqlite3* db = nullptr;
  const std::string path = o.data_dir + "/dts.db";
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
    std::fprintf(stderr, "e2e_bench: open %s: %s\n", path.c_str(), sqlite3_errmsg(db));
    return 1;
  }
  std::unique_ptr<sqlite3, decltype(&sqlite3_close)> closer(db, &sqlite3_close);
  sqlite3_busy_timeout(db, 5000);

  // Runs the engine recorded during the window, by the second.
  std::map<int64_t, int64_t> per_second;
  {
    sqlite3_stmt* stmt = nullptr;
    sqlite3_prepare_v2(db,
                       "SELECT created_at / 1000000, count(*) FROM runs "
                       "WHERE created_at >= ?1 AND created_at < ?2 GROUP BY 1",
                       -1, &stmt, nullptr);
    sqlite3_bind_int64(stmt, 1, t0);
    sqlite3_bind_int64(stmt, 2, t1);
    while (sqlite3_step(stmt) == SQLITE_ROW) per_second[sqlite3_column_int64(stmt, 0)] = sqlite3_column_int64(stmt, 1);
    sqlite3_finalize(stmt);
  }
  int64_t recorded = 0, min_second = -1, max_second = 0;
  for (int64_t s = t0 / 1'000'000; s < t1 / 1'000'000; ++s) {
    const int64_t n = per_second.count(s) ? per_second[s] : 0;
    recorded += n;
    min_second = min_second < 0 ? n : std::min(min_second, n);
    max_second = std::max(max_second, n);
  }

  // The runs scheduled in the window.
  std::vector<int64_t> lateness, fire_lag, handoff;
  int64_t scheduled = 0, not_started = 0, completed = 0, catch_up = 0, missed_times = 0;
  {
    sqlite3_stmt* stmt = nullptr;
    sqlite3_prepare_v2(db, "SELECT data FROM runs WHERE scheduled_time >= ?1 AND scheduled_time < ?2", -1,
                       &stmt, nullptr);
    sqlite3_bind_int64(stmt, 1, t0);
    sqlite3_bind_int64(stmt, 2, t1);
    dts::v1::ExecutionResponse run;
    while (sqlite3_step(stmt) == SQLITE_ROW) {
      ++scheduled;
      if (!run.ParseFromArray(sqlite3_column_blob(stmt, 0), sqlite3_column_bytes(stmt, 0))) continue;
      if (run.status() == "COMPLETED") ++completed;
      if (run.trigger() == "CATCH_UP") {
        ++catch_up;
        missed_times += run.missed_count();
      }
      const int64_t sched = Micros(run.scheduled_time());
      fire_lag.push_back(Micros(run.created_at()) - sched);
      if (!run.has_start_time()) {
        ++not_started;
        continue;
      }
      lateness.push_back(Micros(run.start_time()) - sched);
      handoff.push_back(Micros(run.start_time()) - Micros(run.created_at()));
    }
    sqlite3_finalize(stmt);
  }

  const double rate = static_cast<double>(recorded) / o.seconds;
  const int64_t expected = int64_t{o.jobs} * o.seconds;
  const Percentiles late = Of(lateness), fire = Of(fire_lag), hand = Of(handoff);
  std::printf("recorded: %lld runs in %d s = %.0f runs/s (per second: min %lld, max %lld)\n",
              static_cast<long long>(recorded), o.seconds, rate, static_cast<long long>(min_second),
              static_cast<long long>(max_second));
  std::printf("scheduled in the window: %lld runs of %lld due (%lld CATCH_UP covering %lld times), "
              "%lld COMPLETED, %lld not started\n",
              static_cast<long long>(scheduled), static_cast<long long>(expected),
              static_cast<long long>(catch_up), static_cast<long long>(missed_times),
              static_cast<long long>(completed), static_cast<long long>(not_started));
  std::printf("lateness start-scheduled: p50 %.2f ms, p99 %.2f ms, max %.2f ms\n", late.p50, late.p99, late.max);
  std::printf("  fire lag created-scheduled: p50 %.2f ms, p99 %.2f ms, max %.2f ms\n", fire.p50, fire.p99,
              fire.max);
  std::printf("  hand-off start-created:     p50 %.2f ms, p99 %.2f ms, max %.2f ms\n", hand.p50, hand.p99,
              hand.max);
  std::printf(
      "RESULT e2e jobs=%d recorded_per_s=%.0f scheduled=%lld expected=%lld not_started=%lld p50_ms=%.2f "
      "p99_ms=%.2f max_ms=%.2f fire_p99_ms=%.2f handoff_p99_ms=%.2f create_per_s=%.0f\n",
      o.jobs, rate, static_cast<long long>(scheduled), static_cast<long long>(expected),
      static_cast<long long>(not_started), late.p50, late.p99, late.max, fire.p99, hand.p99, o.jobs / create_s);
  return 0;
}
