// Distributed end to end (issue 8): against a running job-service,
// scheduler-service and execution-service(s) on Kafka and Cassandra, creates
// --jobs jobs through the job service's gRPC, firing every second (noop: no
// executor; or `--executor kafka --kafka-topic T`), lets them fire, and then
// reads the runs the services persisted in Cassandra (`<keyspace>.runs`, a
// full scan with our CQL client, dts_cql):
//
//   persisted/s   runs whose row was written in the measuring window
//                 (WRITETIME(created_at): the scheduler's INSERT ... IF NOT
//                 EXISTS), divided by its length
//   completed/s   runs whose COMPLETED status was written in the window
//                 (WRITETIME(status))
//   planned/s     runs whose created_at falls in the window. created_at is the
//                 instant the engine's FireDue call began, shared by every
//                 batch of that call, so with a backlog it comes in lumps
//   fire lag      created_at - scheduled_time (how late that call began)
//   persist lag   WRITETIME(created_at) - scheduled_time (when the run was
//                 durably recorded)
//   lateness      start_time - scheduled_time (start_time: when the worker
//                 started the run, or completed it for a noop run)
//   hand-off      start_time - WRITETIME(created_at) (Kafka to the worker,
//                 its queue, its claim)
//
// Lateness, the lags and the status counts are over the runs *scheduled* in
// the window, as in e2e_bench.
//
//   build/bench/distributed_bench --grpc HOST:PORT --cassandra-hosts H:P --keyspace KS
//       [--user cassandra --password cassandra] [--jobs 1000] [--seconds 20]
//       [--warmup 5] [--settle 5] [--cron '* * * * * *'] [--executor noop|kafka]
//       [--kafka-topic dts-bench] [--cpu-millis N --memory-mib N] [--create-threads 4]
//       [--drop-keyspace]
//
// Last line: RESULT distributed executor=.. jobs=.. persisted_per_s=.. ...
//
//   build/bench/distributed_bench --skip-kafka-backlog BROKERS
//
// run while no dts service is running, commits the end of every partition as
// the position of the services' fixed consumer groups (dts-workers on
// dts.tasks; dts-schedulers on dts.jobs, dts.runs, dts.run-events), so that
// the next case's services do not start with the previous case's unprocessed
// tasks and events (bench/distributed_bench.sh runs it before each case).

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
#include <utility>
#include <vector>

#include <librdkafka/rdkafka.h>

#include "absl/container/flat_hash_set.h"
#include "absl/time/time.h"
#include "dts/cql/client.h"
#include "dts/v1/execution.pb.h"
#include "dts/v1/job.grpc.pb.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/grpcpp.h"

namespace {

struct Options {
  std::string grpc = "127.0.0.1:50054";
  std::string cassandra_hosts = "127.0.0.1:9042";
  std::string keyspace;
  std::string user = "cassandra";
  std::string password = "cassandra";
  std::string cron = "* * * * * *";
  std::string executor = "noop";
  std::string kafka_topic = "dts-bench";
  int cpu_millis = -1;  // -1: the API's default resources
  int memory_mib = -1;
  int jobs = 1000;
  int seconds = 20;
  int warmup = 5;
  int settle = 5;
  int create_threads = 4;
  bool drop_keyspace = false;
};

[[noreturn]] void Usage(const char* why) {
  std::fprintf(stderr,
               "distributed_bench: %s\n"
               "usage: distributed_bench --grpc HOST:PORT --cassandra-hosts H:P[,..] --keyspace KS\n"
               "         [--user U] [--password P] [--jobs N] [--seconds S] [--warmup S] [--settle S]\n"
               "         [--cron EXPR] [--executor noop|kafka] [--kafka-topic T] [--cpu-millis N]\n"
               "         [--memory-mib N] [--create-threads T] [--drop-keyspace]\n",
               why);
  std::exit(2);
}

Options Parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "--drop-keyspace") {
      o.drop_keyspace = true;
      continue;
    }
    if (i + 1 >= argc) Usage(("missing value for " + flag).c_str());
    const char* v = argv[++i];
    if (flag == "--grpc") o.grpc = v;
    else if (flag == "--cassandra-hosts") o.cassandra_hosts = v;
    else if (flag == "--keyspace") o.keyspace = v;
    else if (flag == "--user") o.user = v;
    else if (flag == "--password") o.password = v;
    else if (flag == "--cron") o.cron = v;
    else if (flag == "--executor") o.executor = v;
    else if (flag == "--kafka-topic") o.kafka_topic = v;
    else if (flag == "--cpu-millis") o.cpu_millis = std::atoi(v);
    else if (flag == "--memory-mib") o.memory_mib = std::atoi(v);
    else if (flag == "--jobs") o.jobs = std::atoi(v);
    else if (flag == "--seconds") o.seconds = std::atoi(v);
    else if (flag == "--warmup") o.warmup = std::atoi(v);
    else if (flag == "--settle") o.settle = std::atoi(v);
    else if (flag == "--create-threads") o.create_threads = std::atoi(v);
    else Usage(("unknown flag " + flag).c_str());
  }
  if (o.keyspace.empty()) Usage("--keyspace is required");
  if (o.executor != "noop" && o.executor != "kafka") Usage("--executor: noop or kafka");
  if (o.jobs < 1 || o.seconds < 1 || o.warmup < 0 || o.settle < 0 || o.create_threads < 1) {
    Usage("bad number");
  }
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

// Creates the jobs over --create-threads connections; their ids go to `ids`.
bool CreateJobs(const Options& o, std::vector<std::string>* ids) {
  std::atomic<int> next{0};
  std::atomic<int> failed{0};
  ids->assign(static_cast<size_t>(o.jobs), "");
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
        request.set_name("dist-" + o.executor + "-" + std::to_string(i));
        request.set_cron_expression(o.cron);
        if (o.executor == "kafka") {
          dts::v1::KafkaExecutor* kafka = request.mutable_executor()->mutable_kafka();
          kafka->set_topic(o.kafka_topic);
          kafka->set_key("job-" + std::to_string(i));
          kafka->set_payload("{\"bench\": " + std::to_string(i) + "}");
        }
        if (o.cpu_millis >= 0 || o.memory_mib >= 0) {
          request.mutable_resources()->set_cpu(std::max(0, o.cpu_millis));
          request.mutable_resources()->set_memory(std::max(0, o.memory_mib));
        }
        dts::v1::CreateJobResponse response;
        grpc::ClientContext context;
        context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
        const grpc::Status s = stub->CreateJob(&context, request, &response);
        if (!s.ok()) {
          if (failed++ == 0) {
            std::fprintf(stderr, "distributed_bench: CreateJob: %s\n", s.error_message().c_str());
          }
          return;
        }
        (*ids)[static_cast<size_t>(i)] = response.job_id();
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
    return static_cast<double>(micros[std::min(
               micros.size() - 1, static_cast<size_t>(q * static_cast<double>(micros.size())))]) /
           1000.0;
  };
  p.p50 = at(0.50);
  p.p99 = at(0.99);
  p.max = static_cast<double>(micros.back()) / 1000.0;
  return p;
}

std::unique_ptr<dts::cql::Client> Connect(const Options& o) {
  absl::StatusOr<std::vector<dts::cql::HostPort>> hosts = dts::cql::ParseHosts(o.cassandra_hosts);
  if (!hosts.ok()) {
    std::fprintf(stderr, "distributed_bench: --cassandra-hosts: %s\n", hosts.status().ToString().c_str());
    std::exit(2);
  }
  dts::cql::ClientOptions co;
  co.hosts = *hosts;
  co.username = o.user;
  co.password = o.password;
  co.request_timeout = absl::Seconds(30);
  absl::StatusOr<std::unique_ptr<dts::cql::Client>> client = dts::cql::Client::Create(co);
  if (!client.ok()) {
    std::fprintf(stderr, "distributed_bench: connect to Cassandra: %s\n", client.status().ToString().c_str());
    std::exit(1);
  }
  return *std::move(client);
}

// Commits the high watermark of every partition of `topics` for `group`
// (a simple-consumer commit: the group must have no live member).
bool SkipBacklog(const std::string& brokers, const std::string& group,
                 const std::vector<std::string>& topics) {
  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  for (const auto& [k, v] : std::vector<std::pair<std::string, std::string>>{
           {"bootstrap.servers", brokers}, {"group.id", group}, {"enable.auto.commit", "false"}}) {
    if (rd_kafka_conf_set(conf, k.c_str(), v.c_str(), err, sizeof(err)) != RD_KAFKA_CONF_OK) {
      std::fprintf(stderr, "distributed_bench: %s: %s\n", k.c_str(), err);
      rd_kafka_conf_destroy(conf);
      return false;
    }
  }
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
  if (rk == nullptr) {
    std::fprintf(stderr, "distributed_bench: kafka consumer: %s\n", err);
    return false;
  }
  bool ok = true;
  const rd_kafka_metadata_t* md = nullptr;
  rd_kafka_resp_err_t e = rd_kafka_metadata(rk, 1, nullptr, &md, 10000);
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(64);
  if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
    std::fprintf(stderr, "distributed_bench: kafka metadata: %s\n", rd_kafka_err2str(e));
    ok = false;
  } else {
    for (int t = 0; t < md->topic_cnt; ++t) {
      const rd_kafka_metadata_topic_t& topic = md->topics[t];
      if (std::find(topics.begin(), topics.end(), topic.topic) == topics.end()) continue;
      for (int p = 0; p < topic.partition_cnt; ++p) {
        int64_t low = 0, high = 0;
        e = rd_kafka_query_watermark_offsets(rk, topic.topic, topic.partitions[p].id, &low, &high, 10000);
        if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
          std::fprintf(stderr, "distributed_bench: watermarks of %s/%d: %s\n", topic.topic,
                       topic.partitions[p].id, rd_kafka_err2str(e));
          ok = false;
          continue;
        }
        rd_kafka_topic_partition_list_add(list, topic.topic, topic.partitions[p].id)->offset = high;
      }
    }
    rd_kafka_metadata_destroy(md);
  }
  if (ok && list->cnt > 0) {
    e = rd_kafka_commit(rk, list, 0);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
      std::fprintf(stderr, "distributed_bench: commit for group %s: %s\n", group.c_str(), rd_kafka_err2str(e));
      ok = false;
    }
  }
  rd_kafka_topic_partition_list_destroy(list);
  rd_kafka_consumer_close(rk);
  rd_kafka_destroy(rk);
  return ok;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 3 && std::string(argv[1]) == "--skip-kafka-backlog") {
    const bool workers = SkipBacklog(argv[2], "dts-workers", {"dts.tasks"});
    const bool schedulers =
        SkipBacklog(argv[2], "dts-schedulers", {"dts.jobs", "dts.runs", "dts.run-events"});
    return workers && schedulers ? 0 : 1;
  }
  const Options o = Parse(argc, argv);
  // Connect first: a wrong address fails before any job is created.
  std::unique_ptr<dts::cql::Client> cql = Connect(o);

  std::vector<std::string> job_ids;
  const int64_t create_start = NowMicros();
  if (!CreateJobs(o, &job_ids)) return 1;
  const int64_t create_end = NowMicros();
  const double create_s = static_cast<double>(create_end - create_start) / 1e6;
  const absl::flat_hash_set<std::string> ours(job_ids.begin(), job_ids.end());
  std::printf("created %d %s jobs '%s' in %.2f s (%.0f/s over gRPC, %d connections)\n", o.jobs,
              o.executor.c_str(), o.cron.c_str(), create_s, o.jobs / create_s, o.create_threads);

  // The window starts on a whole second, after the warm-up.
  const int64_t t0 = (create_end / 1'000'000 + 1 + o.warmup) * 1'000'000;
  const int64_t t1 = t0 + int64_t{o.seconds} * 1'000'000;
  std::printf("warm-up %d s, measuring %d s, then %d s for the last runs to finish...\n", o.warmup,
              o.seconds, o.settle);
  std::fflush(stdout);
  SleepUntilMicros(t1 + int64_t{o.settle} * 1'000'000);

  // The whole table (this keyspace is the benchmark's own), page by page.
  // WRITETIME(created_at) is when the run's row was written (the timestamp
  // of RecordFires' INSERT ... IF NOT EXISTS; nothing else writes that cell
  // on this path), WRITETIME(status) when its latest status was.
  const int64_t read_start = NowMicros();
  dts::cql::Statement scan(
      "SELECT job_id, status, scheduled_time, created_at, data, WRITETIME(created_at), "
      "WRITETIME(status) FROM " +
      o.keyspace + ".runs");
  scan.consistency = dts::cql::Consistency::kLocalQuorum;
  scan.page_size = 5000;
  scan.idempotent = true;
  scan.timeout = absl::Seconds(60);

  // second -> runs: written (persisted), completed (final status written),
  // and planned (created_at, the engine's instant for the whole FireDue call).
  std::map<int64_t, int64_t> written_per_second, completed_per_second, planned_per_second;
  std::map<std::string, int64_t> statuses;  // runs scheduled in the window
  std::vector<int64_t> lateness, fire_lag, persist_lag, handoff, duration;
  int64_t total_rows = 0, foreign = 0, scheduled = 0, not_started = 0, catch_up = 0,
          missed_times = 0, undecodable = 0;
  const auto in_window = [&](const absl::StatusOr<int64_t>& t) { return t.ok() && *t >= t0 && *t < t1; };
  while (true) {
    absl::StatusOr<dts::cql::Result> page = cql->Query(scan);
    if (!page.ok()) {
      std::fprintf(stderr, "distributed_bench: reading %s.runs: %s\n", o.keyspace.c_str(),
                   page.status().ToString().c_str());
      return 1;
    }
    for (const dts::cql::Row& row : page->rows) {
      ++total_rows;
      absl::StatusOr<std::string> job_id = row.GetText(0);
      if (!job_id.ok() || !ours.contains(*job_id)) {
        ++foreign;
        continue;
      }
      const std::string status = row.GetText(1).value_or("");
      const absl::StatusOr<int64_t> created = row.GetInt64(3);
      const absl::StatusOr<int64_t> written = row.GetInt64(5);
      const absl::StatusOr<int64_t> status_written = row.GetInt64(6);
      if (in_window(written)) ++written_per_second[*written / 1'000'000];
      if (in_window(created)) ++planned_per_second[*created / 1'000'000];
      if (status == "COMPLETED" && in_window(status_written)) ++completed_per_second[*status_written / 1'000'000];
      const absl::StatusOr<int64_t> sched = row.GetInt64(2);
      if (!sched.ok() || *sched < t0 || *sched >= t1) continue;
      ++scheduled;
      ++statuses[status];
      if (created.ok()) fire_lag.push_back(*created - *sched);
      if (written.ok()) persist_lag.push_back(*written - *sched);
      dts::v1::ExecutionResponse run;
      absl::StatusOr<std::string> data = row.GetBlob(4);
      if (!data.ok() || !run.ParseFromString(*data)) {
        ++undecodable;
        continue;
      }
      if (run.trigger() == "CATCH_UP") {
        ++catch_up;
        missed_times += run.missed_count();
      }
      if (!run.has_start_time()) {
        ++not_started;
        continue;
      }
      lateness.push_back(Micros(run.start_time()) - *sched);
      if (written.ok()) handoff.push_back(Micros(run.start_time()) - *written);
      if (run.has_end_time()) duration.push_back(Micros(run.end_time()) - Micros(run.start_time()));
    }
    if (page->paging_state.empty()) break;
    scan.paging_state = page->paging_state;
  }
  const double read_s = static_cast<double>(NowMicros() - read_start) / 1e6;

  struct Rate {
    int64_t total = 0, min = -1, max = 0;
  };
  const auto rate_of = [&](std::map<int64_t, int64_t>& per_second) {
    Rate r;
    for (int64_t s = t0 / 1'000'000; s < t1 / 1'000'000; ++s) {
      const int64_t n = per_second.count(s) ? per_second[s] : 0;
      r.total += n;
      r.min = r.min < 0 ? n : std::min(r.min, n);
      r.max = std::max(r.max, n);
    }
    return r;
  };
  const Rate written = rate_of(written_per_second), completed = rate_of(completed_per_second),
             planned = rate_of(planned_per_second);
  const double secs = o.seconds;
  const int64_t expected = int64_t{o.jobs} * o.seconds;
  const Percentiles late = Of(lateness), fire = Of(fire_lag), persist = Of(persist_lag), hand = Of(handoff),
                    dur = Of(duration);

  std::printf("read %lld rows of %s.runs in %.1f s (%lld of other jobs)\n",
              static_cast<long long>(total_rows), o.keyspace.c_str(), read_s,
              static_cast<long long>(foreign));
  const auto print_rate = [&](const char* what, const Rate& r) {
    std::printf("%-44s %7lld in %d s = %6.0f/s (per second: min %lld, max %lld)\n", what,
                static_cast<long long>(r.total), o.seconds, static_cast<double>(r.total) / secs,
                static_cast<long long>(r.min), static_cast<long long>(r.max));
  };
  print_rate("persisted (run row written in the window):", written);
  print_rate("completed (COMPLETED written in the window):", completed);
  print_rate("planned (created_at in the window):", planned);
  std::printf("scheduled in the window: %lld runs of %lld due (%lld CATCH_UP covering %lld times), "
              "%lld not started %.0f s after the window\n",
              static_cast<long long>(scheduled), static_cast<long long>(expected),
              static_cast<long long>(catch_up), static_cast<long long>(missed_times),
              static_cast<long long>(not_started), static_cast<double>(read_start - t1) / 1e6);
  std::printf("  by status:");
  for (const auto& [status, n] : statuses) std::printf(" %s %lld", status.c_str(), static_cast<long long>(n));
  std::printf("\n");
  std::printf("fire lag created-scheduled:    p50 %9.2f ms, p99 %9.2f ms, max %9.2f ms\n", fire.p50, fire.p99,
              fire.max);
  std::printf("persist lag written-scheduled: p50 %9.2f ms, p99 %9.2f ms, max %9.2f ms\n", persist.p50,
              persist.p99, persist.max);
  std::printf("lateness start-scheduled:      p50 %9.2f ms, p99 %9.2f ms, max %9.2f ms (%zu started)\n",
              late.p50, late.p99, late.max, lateness.size());
  std::printf("  hand-off start-written:      p50 %9.2f ms, p99 %9.2f ms, max %9.2f ms\n", hand.p50, hand.p99,
              hand.max);
  std::printf("  run time end-start:          p50 %9.2f ms, p99 %9.2f ms, max %9.2f ms\n", dur.p50, dur.p99,
              dur.max);
  if (undecodable > 0) {
    std::printf("warning: %lld runs with a data blob that does not parse\n", static_cast<long long>(undecodable));
  }
  // "n/a" where no run of the window got that far.
  const auto ms = [](const std::vector<int64_t>& v, double value) {
    char buf[32];
    if (v.empty()) return std::string("n/a");
    std::snprintf(buf, sizeof(buf), "%.2f", value);
    return std::string(buf);
  };
  std::printf(
      "RESULT distributed executor=%s jobs=%d seconds=%d persisted_per_s=%.0f completed_per_s=%.0f "
      "planned_per_s=%.0f scheduled=%lld expected=%lld not_started=%lld catch_up=%lld fire_p50_ms=%s "
      "fire_p99_ms=%s persist_p50_ms=%s persist_p99_ms=%s late_p50_ms=%s late_p99_ms=%s "
      "late_max_ms=%s handoff_p99_ms=%s create_per_s=%.0f\n",
      o.executor.c_str(), o.jobs, o.seconds, static_cast<double>(written.total) / secs,
      static_cast<double>(completed.total) / secs, static_cast<double>(planned.total) / secs,
      static_cast<long long>(scheduled), static_cast<long long>(expected), static_cast<long long>(not_started),
      static_cast<long long>(catch_up), ms(fire_lag, fire.p50).c_str(), ms(fire_lag, fire.p99).c_str(),
      ms(persist_lag, persist.p50).c_str(), ms(persist_lag, persist.p99).c_str(),
      ms(lateness, late.p50).c_str(), ms(lateness, late.p99).c_str(), ms(lateness, late.max).c_str(),
      ms(handoff, hand.p99).c_str(), o.jobs / create_s);
  std::fflush(stdout);

  if (o.drop_keyspace) {
    dts::cql::Statement drop("DROP KEYSPACE IF EXISTS " + o.keyspace);
    drop.timeout = absl::Seconds(120);
    if (absl::StatusOr<dts::cql::Result> r = cql->Query(drop); !r.ok()) {
      std::fprintf(stderr, "distributed_bench: drop keyspace %s: %s\n", o.keyspace.c_str(),
                   r.status().ToString().c_str());
    }
  }
  return 0;
}
