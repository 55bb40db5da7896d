// Load tool for dts_cql against a running Cassandra: prepared INSERT and
// SELECT throughput at a given concurrency (threads sharing one Client, so
// requests are multiplexed over one connection per host).
//
//   cql_bench [--hosts 127.0.0.1:9042] [--user cassandra --password cassandra]
//             [--concurrency 32] [--seconds 10] [--keys 100000]
//             [--op insert|select|both|lwt]
//
// Prints ops/s and latency percentiles per operation. Creates and drops its
// own keyspace. `--op lwt` runs only `INSERT ... IF NOT EXISTS` (a Paxos round,
// serial consistency SERIAL, as the store's run inserts) of fresh keys, so every
// one applies: the lightweight-transaction ceiling (bench/distributed_bench.sh).
#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "dts/cql/client.h"

namespace {

using namespace dts::cql;

struct Args {
  std::string hosts = "127.0.0.1:9042";
  std::string user = "cassandra";
  std::string password = "cassandra";
  int concurrency = 32;
  int seconds = 10;
  int keys = 100000;
  std::string op = "both";
};

struct Outcome {
  double ops_per_s = 0;
  uint64_t ok = 0, errors = 0;
  double p50_us = 0, p99_us = 0;
};

enum class Phase { kInsert, kSelect, kLwt };

Outcome RunPhase(Client& client, const Args& args, const std::string& query, Phase phase) {
  const bool select = phase == Phase::kSelect;
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> next_key{0};
  std::vector<std::vector<float>> lat(static_cast<size_t>(args.concurrency));
  std::vector<uint64_t> errors(static_cast<size_t>(args.concurrency), 0);
  std::vector<std::thread> threads;
  const absl::Time start = absl::Now();
  for (int t = 0; t < args.concurrency; ++t) {
    threads.emplace_back([&, t] {
      auto& mine = lat[static_cast<size_t>(t)];
      while (!stop.load(std::memory_order_relaxed)) {
        const uint64_t n = next_key.fetch_add(1);
        // LWT inserts take fresh keys (each applies); the others cycle.
        const int64_t k =
            static_cast<int64_t>(phase == Phase::kLwt ? n : n % static_cast<uint64_t>(args.keys));
        Statement st(query);
        st.consistency = Consistency::kOne;
        st.idempotent = phase != Phase::kLwt;
        st.page_size = 0;
        if (select) {
          st.values = {Value(k)};
        } else {
          st.values = {Value(k), Value(absl::StrCat("value-", k)), Value(k * 2)};
        }
        const absl::Time t0 = absl::Now();
        const bool ok = phase == Phase::kLwt ? client.ExecuteLwt(st).ok() : client.Execute(st).ok();
        const double us = absl::ToDoubleMicroseconds(absl::Now() - t0);
        if (ok) {
          mine.push_back(static_cast<float>(us));
        } else {
          ++errors[static_cast<size_t>(t)];
        }
      }
    });
  }
  absl::SleepFor(absl::Seconds(args.seconds));
  stop.store(true);
  for (auto& th : threads) th.join();
  const double elapsed = absl::ToDoubleSeconds(absl::Now() - start);
  std::vector<float> all;
  Outcome o;
  for (size_t i = 0; i < lat.size(); ++i) {
    all.insert(all.end(), lat[i].begin(), lat[i].end());
    o.errors += errors[i];
  }
  o.ok = all.size();
  o.ops_per_s = static_cast<double>(o.ok) / elapsed;
  if (!all.empty()) {
    std::sort(all.begin(), all.end());
    o.p50_us = all[all.size() / 2];
    o.p99_us = all[std::min(all.size() - 1, all.size() * 99 / 100)];
  }
  return o;
}

int Usage() {
  std::fprintf(stderr,
               "usage: cql_bench [--hosts H:P,...] [--user U] [--password P] [--concurrency N]\n"
               "                 [--seconds S] [--keys N] [--op insert|select|both|lwt]\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  Args args;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (i + 1 >= argc) return Usage();
    const std::string val = argv[++i];
    if (flag == "--hosts") {
      args.hosts = val;
    } else if (flag == "--user") {
      args.user = val;
    } else if (flag == "--password") {
      args.password = val;
    } else if (flag == "--op") {
      args.op = val;
    } else if (flag == "--concurrency") {
      if (!absl::SimpleAtoi(val, &args.concurrency) || args.concurrency < 1) return Usage();
    } else if (flag == "--seconds") {
      if (!absl::SimpleAtoi(val, &args.seconds) || args.seconds < 1) return Usage();
    } else if (flag == "--keys") {
      if (!absl::SimpleAtoi(val, &args.keys) || args.keys < 1) return Usage();
    } else {
      return Usage();
    }
  }
  auto hosts = ParseHosts(args.hosts);
  if (!hosts.ok()) {
    std::fprintf(stderr, "%s\n", hosts.status().ToString().c_str());
    return 2;
  }
  ClientOptions o;
  o.hosts = *hosts;
  o.username = args.user;
  o.password = args.password;
  auto client = Client::Create(o);
  if (!client.ok()) {
    std::fprintf(stderr, "connect: %s\n", client.status().ToString().c_str());
    return 1;
  }
  Client& c = **client;
  const std::string ks = absl::StrCat("cql_bench_", Uuid::Random().ToString().substr(0, 8));
  for (const std::string& q :
       {absl::StrCat("CREATE KEYSPACE ", ks,
                     " WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}"),
        absl::StrCat("CREATE TABLE ", ks, ".kv (k bigint PRIMARY KEY, v text, n bigint)")}) {
    Statement st(q);
    st.timeout = absl::Seconds(60);
    if (auto r = c.Query(st); !r.ok()) {
      std::fprintf(stderr, "%s: %s\n", q.c_str(), r.status().ToString().c_str());
      return 1;
    }
  }
  const std::string insert = absl::StrCat("INSERT INTO ", ks, ".kv (k, v, n) VALUES (?, ?, ?)");
  const std::string select = absl::StrCat("SELECT v, n FROM ", ks, ".kv WHERE k = ?");
  const std::string lwt = absl::StrCat("INSERT INTO ", ks, ".kv (k, v, n) VALUES (?, ?, ?) IF NOT EXISTS");
  std::printf("cql_bench: %s, concurrency %d, %d s per phase, %d keys\n", args.hosts.c_str(),
              args.concurrency, args.seconds, args.keys);
  int rc = 0;
  auto report = [&](const char* name, const Outcome& out) {
    std::printf("%-7s %10.0f ops/s  ok %-9llu errors %-6llu p50 %8.0f us  p99 %8.0f us\n", name,
                out.ops_per_s, static_cast<unsigned long long>(out.ok),
                static_cast<unsigned long long>(out.errors), out.p50_us, out.p99_us);
    if (out.errors > 0) rc = 1;
  };
  if (args.op == "insert" || args.op == "both" || args.op == "select") {
    // Selects need rows: the insert phase always runs first.
    report("insert", RunPhase(c, args, insert, Phase::kInsert));
  }
  if (args.op == "select" || args.op == "both") report("select", RunPhase(c, args, select, Phase::kSelect));
  if (args.op == "lwt") report("lwt", RunPhase(c, args, lwt, Phase::kLwt));
  Statement drop(absl::StrCat("DROP KEYSPACE ", ks));
  drop.timeout = absl::Seconds(60);
  (void)c.Query(drop);
  return rc;
}
