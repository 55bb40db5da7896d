// A Cassandra restart under write load (label `cassandra`, RUN_SERIAL: it
// stops the shared server). Requests during the outage must fail cleanly
// (UNAVAILABLE / DEADLINE_EXCEEDED) or be retried; the client reconnects by
// itself afterwards; and no write it acknowledged is lost.
#include <atomic>
#include <iostream>
#include <cstdlib>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "dts/cql/client.h"
#include "gtest/gtest.h"
#include "storage/cassandra/cql/test_env.h"

namespace dts::cql {
namespace {

using ::dts::cql::testing::CreateKeyspace;
using ::dts::cql::testing::DropKeyspace;
using ::dts::cql::testing::KeyspaceFor;
using ::dts::cql::testing::Options;

TEST(CassandraRestart, AcknowledgedWritesSurviveAndTheClientReconnects) {
  ClientOptions o = Options();
  o.request_timeout = absl::Seconds(5);
  o.reconnect_initial_backoff = absl::Milliseconds(100);
  o.reconnect_max_backoff = absl::Seconds(1);
  auto created = Client::Create(o);
  ASSERT_TRUE(created.ok()) << created.status();
  Client& client = **created;
  const std::string ks = KeyspaceFor("restart");
  ASSERT_TRUE(CreateKeyspace(client, ks).ok());
  ASSERT_TRUE(client.Query(Statement(absl::StrCat("CREATE TABLE ", ks, ".w (k text PRIMARY KEY, v int)"))).ok());
  const std::string insert = absl::StrCat("INSERT INTO ", ks, ".w (k, v) VALUES (?, ?)");

  constexpr int kWriters = 4;
  std::atomic<bool> stop{false};
  std::atomic<bool> restarted{false};
  std::mutex mu;
  std::set<std::string> acked;            // guarded by mu
  std::vector<std::string> bad_errors;    // guarded by mu
  std::atomic<int> failed{0}, ok_after_restart{0};
  std::vector<std::thread> writers;
  for (int w = 0; w < kWriters; ++w) {
    writers.emplace_back([&, w] {
      for (int i = 0; !stop.load(); ++i) {
        const std::string key = absl::StrCat("w", w, "-", i);
        Statement st(insert, {Value(key), Value(int32_t{i})});
        st.consistency = Consistency::kOne;
        st.idempotent = true;  // a plain INSERT of fixed values may be repeated
        auto r = client.Execute(st);
        std::lock_guard<std::mutex> lock(mu);
        if (r.ok()) {
          acked.insert(key);
          if (restarted.load()) ok_after_restart++;
        } else {
          failed++;
          const auto code = r.status().code();
          if (code != absl::StatusCode::kUnavailable && code != absl::StatusCode::kDeadlineExceeded) {
            bad_errors.push_back(r.status().ToString());
          }
        }
        if (!r.ok()) absl::SleepFor(absl::Milliseconds(50));
      }
    });
  }

  absl::SleepFor(absl::Seconds(2));
  const std::string cmd = absl::StrCat("bash ", DTS_SOURCE_DIR, "/scripts/services.sh restart cassandra");
  const int rc = std::system(cmd.c_str());
  restarted.store(true);
  // Let the writers reconnect and write for a while on the new server.
  const absl::Time until = absl::Now() + absl::Seconds(60);
  while (ok_after_restart.load() < 200 && absl::Now() < until) absl::SleepFor(absl::Milliseconds(100));
  stop.store(true);
  for (auto& t : writers) t.join();
  ASSERT_EQ(rc, 0) << "services.sh restart cassandra failed";

  EXPECT_GT(failed.load(), 0) << "the restart should have made some requests fail";
  EXPECT_GE(ok_after_restart.load(), 200) << "the client did not recover after the restart";
  EXPECT_TRUE(bad_errors.empty()) << bad_errors.size() << " unclean errors, first: "
                                  << (bad_errors.empty() ? "" : bad_errors[0]);

  Statement all(absl::StrCat("SELECT k FROM ", ks, ".w"));
  all.idempotent = true;
  all.consistency = Consistency::kOne;
  auto rows = client.QueryAll(all);
  ASSERT_TRUE(rows.ok()) << rows.status();
  std::set<std::string> stored;
  for (const Row& r : *rows) stored.insert(*r.GetText(0));
  size_t lost = 0;
  for (const std::string& k : acked) lost += stored.count(k) == 0 ? 1 : 0;
  EXPECT_EQ(lost, 0u) << "of " << acked.size() << " acknowledged writes";
  std::cout << "acknowledged " << acked.size() << " writes, " << failed.load()
            << " failed during the restart, " << client.stats().connects << " connects, "
            << client.stats().retries << " retries; all acknowledged writes found\n";
  DropKeyspace(client, ks);
}

}  // namespace
}  // namespace dts::cql
