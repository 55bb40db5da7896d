// CassandraStore against the real Cassandra of scripts/services.sh (label
// `cassandra`): the shared Store conformance suite, then what is particular
// to this backend (the LWT claim, cross-process refusal of a fire, TTLs,
// stale index entries, the shard index). The whole binary works in one
// keyspace of its own, migrated once; each test starts from truncated tables.

#include <barrier>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "dts/cql/client.h"
#include "dts/storage/cassandra_store.h"
#include "dts/storage/shard.h"
#include "dts/storage/testing/store_conformance.h"
#include "google/protobuf/util/time_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "storage/cassandra/test_env.h"

namespace dts::storage {
namespace {

using google::protobuf::util::TimeUtil;

constexpr const char* kTables[] = {"jobs",    "job_ids", "jobs_by_status", "jobs_by_shard",
                                   "runs",    "runs_by_job", "run_ids",    "active_runs",
                                   "workers", "shard_checkpoints"};

// The keyspace of this process, migrated on first use and dropped at exit.
class Keyspace {
 public:
  static Keyspace& Get() {
    static Keyspace* const instance = new Keyspace();  // outlives the tests
    return *instance;
  }

  const std::string& name() const { return name_; }
  const std::shared_ptr<cql::Client>& client() const { return client_; }
  const absl::Status& status() const { return status_; }
  CassandraConfig config() const { return testing::TestConfig(name_); }

  // Empties every table (TRUNCATE: far cheaper than a new keyspace).
  absl::Status Truncate() {
    for (const char* table : kTables) {
      absl::StatusOr<cql::Result> r = client_->Query(
          cql::Statement(absl::StrCat("TRUNCATE ", name_, ".", table)).WithTimeout(absl::Seconds(60)));
      if (!r.ok()) return r.status();
    }
    return absl::OkStatus();
  }

  void Drop() {
    if (client_ != nullptr) {
      (void)client_->Query(cql::Statement(absl::StrCat("DROP KEYSPACE IF EXISTS ", name_))
                               .WithTimeout(absl::Seconds(60)));
    }
  }

 private:
  Keyspace() : name_(testing::UniqueKeyspace("dts_store")) {
    absl::StatusOr<std::vector<std::string>> applied = MigrateCassandra(config());
    if (!applied.ok()) {
      status_ = applied.status();
      return;
    }
    absl::StatusOr<cql::ClientOptions> options = CassandraClientOptions(config());
    if (!options.ok()) {
      status_ = options.status();
      return;
    }
    absl::StatusOr<std::unique_ptr<cql::Client>> client = cql::Client::Create(*options);
    if (!client.ok()) {
      status_ = client.status();
      return;
    }
    client_ = *std::move(client);
  }

  std::string name_;
  std::shared_ptr<cql::Client> client_;
  absl::Status status_;
};

class DropKeyspaceAtExit : public ::testing::Environment {
 public:
  void TearDown() override { Keyspace::Get().Drop(); }
};
const auto* const kDropAtExit = ::testing::AddGlobalTestEnvironment(new DropKeyspaceAtExit);

std::unique_ptr<CassandraStore> FreshStore(absl::Duration ttl = absl::ZeroDuration()) {
  Keyspace& ks = Keyspace::Get();
  if (!ks.status().ok()) {
    ADD_FAILURE() << "keyspace: " << ks.status();
    return nullptr;
  }
  if (absl::Status s = ks.Truncate(); !s.ok()) {
    ADD_FAILURE() << "truncate: " << s;
    return nullptr;
  }
  CassandraStore::Options options;
  options.config = ks.config();
  options.client = ks.client();
  options.final_run_ttl = ttl;
  absl::StatusOr<std::unique_ptr<CassandraStore>> store = CassandraStore::Create(options);
  if (!store.ok()) {
    ADD_FAILURE() << "create: " << store.status();
    return nullptr;
  }
  return *std::move(store);
}

DTS_INSTANTIATE_STORE_CONFORMANCE(Cassandra, "cassandra",
                                  [] { return std::unique_ptr<Store>(FreshStore()); });

Job MakeJob(const std::string& id, const std::string& status = "ACTIVE") {
  Job job;
  job.set_id(id);
  job.set_name(id);
  job.set_status(status);
  *job.mutable_updated_at() = TimeUtil::SecondsToTimestamp(1767225600);
  return job;
}

dts::Run MakeRun(const std::string& id, const std::string& job_id, const std::string& status = "PENDING") {
  dts::Run run;
  run.set_id(id);
  run.set_job_id(job_id);
  run.set_status(status);
  *run.mutable_scheduled_time() = TimeUtil::SecondsToTimestamp(1767225600);
  *run.mutable_created_at() = TimeUtil::SecondsToTimestamp(1767225601);
  return run;
}

class CassandraStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = FreshStore();
    ASSERT_NE(store_, nullptr);
  }
  cql::Client& client() { return *Keyspace::Get().client(); }
  std::string T(absl::string_view table) { return absl::StrCat(Keyspace::Get().name(), ".", table); }

  std::unique_ptr<CassandraStore> store_;
};

TEST_F(CassandraStoreTest, ClaimRunRaceHasExactlyOneWinner) {
  // Eight workers claim the same PENDING run at once, round after round:
  // the conditional update lets exactly one through.
  constexpr int kThreads = 8;
  constexpr int kRounds = 10;
  for (int r = 0; r < kRounds; ++r) {
    ASSERT_TRUE(store_->CreateRun(MakeRun(absl::StrCat("run-", r), "job-1")).ok());
  }
  std::barrier sync(kThreads);
  std::vector<std::vector<absl::StatusOr<bool>>> results(
      kThreads, std::vector<absl::StatusOr<bool>>(kRounds, absl::UnknownError("not run")));
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int r = 0; r < kRounds; ++r) {
        sync.arrive_and_wait();
        results[t][r] = store_->ClaimRun(RunId(absl::StrCat("run-", r)), "PENDING", "RUNNING");
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (int r = 0; r < kRounds; ++r) {
    int wins = 0;
    for (int t = 0; t < kThreads; ++t) {
      ASSERT_TRUE(results[t][r].ok()) << "round " << r << ": " << results[t][r].status();
      wins += *results[t][r] ? 1 : 0;
    }
    EXPECT_EQ(wins, 1) << "round " << r;
    EXPECT_EQ(store_->GetRun(RunId(absl::StrCat("run-", r)))->status(), "RUNNING");
  }
  // The indexes followed: all are RUNNING, none PENDING.
  ListRunsQuery running;
  running.status = "RUNNING";
  EXPECT_EQ(store_->ListRuns(running)->total, kRounds);
  EXPECT_EQ(store_->ListRuns(running)->runs.size(), static_cast<size_t>(kRounds));
  ListRunsQuery pending;
  pending.status = "PENDING";
  EXPECT_EQ(store_->ListRuns(pending)->total, 0);
  ListRunsQuery by_job;
  by_job.job_id = JobId("job-1");
  by_job.status = "RUNNING";
  EXPECT_EQ(store_->ListRuns(by_job)->total, kRounds);
}

TEST_F(CassandraStoreTest, ClaimRunFromAnotherStatusOrOfNoRun) {
  ASSERT_TRUE(store_->CreateRun(MakeRun("run-1", "job-1", "QUEUED")).ok());
  EXPECT_EQ(store_->ClaimRun(RunId("run-1"), "PENDING", "RUNNING").value(), false);
  EXPECT_EQ(store_->ClaimRun(RunId("run-1"), "QUEUED", "RUNNING").value(), true);
  EXPECT_EQ(store_->ClaimRun(RunId("run-1"), "QUEUED", "RUNNING").value(), false);
  EXPECT_EQ(store_->ClaimRun(RunId("nope"), "PENDING", "RUNNING").status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(store_->ClaimRun(RunId(""), "PENDING", "RUNNING").status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(CassandraStoreTest, TransitionRunReplacesTheRecordOnlyFromTheExpectedStatus) {
  ASSERT_TRUE(store_->CreateRun(MakeRun("run-1", "job-1", "QUEUED")).ok());
  dts::Run claimed = *store_->GetRun(RunId("run-1"));
  claimed.set_status("RUNNING");
  claimed.set_worker_id("worker-a");
  EXPECT_EQ(store_->TransitionRun(claimed, "PENDING").value(), false);
  EXPECT_EQ(store_->TransitionRun(claimed, "QUEUED").value(), true);
  // A second worker's claim of the same delivery loses.
  dts::Run other = claimed;
  other.set_worker_id("worker-b");
  EXPECT_EQ(store_->TransitionRun(other, "QUEUED").value(), false);
  EXPECT_EQ(store_->GetRun(RunId("run-1"))->worker_id(), "worker-a");
  // The result lands only while the run is still RUNNING.
  dts::Run done = claimed;
  done.set_status("COMPLETED");
  done.set_result("ok");
  EXPECT_EQ(store_->TransitionRun(done, "RUNNING").value(), true);
  dts::Run late = claimed;
  late.set_status("FAILED");
  EXPECT_EQ(store_->TransitionRun(late, "RUNNING").value(), false);
  const dts::Run stored = *store_->GetRun(RunId("run-1"));
  EXPECT_EQ(stored.status(), "COMPLETED");
  EXPECT_EQ(stored.result(), "ok");
  // The active index followed every move.
  for (const char* status : {"QUEUED", "RUNNING"}) {
    ListRunsQuery query;
    query.status = status;
    EXPECT_EQ(store_->ListRuns(query)->total, 0) << status;
  }
  ListRunsQuery completed;
  completed.job_id = JobId("job-1");
  completed.status = "COMPLETED";
  EXPECT_EQ(store_->ListRuns(completed)->total, 1);
  dts::Run missing = claimed;
  missing.set_id("nope");
  EXPECT_EQ(store_->TransitionRun(missing, "QUEUED").status().code(), absl::StatusCode::kNotFound);
}

TEST_F(CassandraStoreTest, WorkerLivenessRoundTrip) {
  EXPECT_EQ(store_->WorkerLastAlive(WorkerId("w1")).status().code(), absl::StatusCode::kNotFound);
  const absl::Time t = absl::FromUnixMillis(1700000000123);
  ASSERT_TRUE(store_->RecordWorkerAlive(WorkerId("w1"), t, "READY").ok());
  ASSERT_TRUE(store_->RecordWorkerAlive(WorkerId("w1"), t + absl::Seconds(1), "READY").ok());
  EXPECT_EQ(store_->WorkerLastAlive(WorkerId("w1")).value(), t + absl::Seconds(1));
  EXPECT_EQ(store_->WorkerLastAlive(WorkerId("w2")).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(CassandraStoreTest, ShardCheckpointsRoundTrip) {
  EXPECT_EQ(store_->GetShardCheckpoint(3).status().code(), absl::StatusCode::kNotFound);
  const absl::Time t = absl::FromUnixSeconds(1700000000);
  ASSERT_TRUE(store_->SaveShardCheckpoint(3, t, "scheduler-a").ok());
  ASSERT_TRUE(store_->SaveShardCheckpoint(3, t + absl::Seconds(1), "scheduler-b").ok());
  absl::StatusOr<CassandraStore::ShardCheckpoint> checkpoint = store_->GetShardCheckpoint(3);
  ASSERT_TRUE(checkpoint.ok()) << checkpoint.status();
  EXPECT_EQ(checkpoint->fired_through, t + absl::Seconds(1));
  EXPECT_EQ(checkpoint->owner, "scheduler-b");
}

TEST_F(CassandraStoreTest, TwoProcessesRecordingTheSameFiresStoreEachOnce) {
  // Two stores with their own connections stand for two scheduler
  // processes (a zombie owner and its successor) firing the same times.
  CassandraStore::Options options;
  options.config = Keyspace::Get().config();
  absl::StatusOr<std::unique_ptr<CassandraStore>> other = CassandraStore::Create(options);
  ASSERT_TRUE(other.ok()) << other.status();
  ASSERT_TRUE(store_->CreateJob(MakeJob("job-1")).ok());
  constexpr int kFires = 12;
  std::vector<FireRecord> fires;
  for (int i = 0; i < kFires; ++i) {
    const absl::Time at = absl::FromUnixSeconds(1767225600 + i);
    fires.push_back({MakeRun(absl::StrCat("fire-", i), "job-1"), at + absl::Seconds(1), at});
  }
  absl::StatusOr<std::vector<bool>> a, b;
  std::thread ta([&] { a = store_->RecordFires(fires); });
  std::thread tb([&] { b = (*other)->RecordFires(fires); });
  ta.join();
  tb.join();
  ASSERT_TRUE(a.ok()) << a.status();
  ASSERT_TRUE(b.ok()) << b.status();
  for (int i = 0; i < kFires; ++i) EXPECT_NE((*a)[i], (*b)[i]) << "fire " << i;
  ListRunsQuery query;
  query.job_id = JobId("job-1");
  EXPECT_EQ(store_->ListRuns(query)->total, kFires);
  ListRunsQuery pending;
  pending.status = "PENDING";
  EXPECT_EQ(store_->ListRuns(pending)->total, kFires);
  const Job job = store_->GetJob(JobId("job-1")).value();
  EXPECT_EQ(job.last_run().seconds(), 1767225600 + kFires - 1);
  EXPECT_EQ(job.next_run().seconds(), 1767225600 + kFires);
}

TEST_F(CassandraStoreTest, FinalRunsExpireByTtlActiveOnesDoNot) {
  store_ = FreshStore(absl::Hours(1));
  ASSERT_NE(store_, nullptr);
  dts::Run run = MakeRun("run-1", "job-1");
  ASSERT_TRUE(store_->CreateRun(run).ok());
  auto ttl_of = [&](const std::string& table, const std::string& where) -> std::optional<int32_t> {
    absl::StatusOr<std::vector<cql::Row>> rows = client().QueryAll(
        cql::Statement(absl::StrCat("SELECT TTL(status) FROM ", T(table), " WHERE ", where)));
    EXPECT_TRUE(rows.ok()) << rows.status();
    if (!rows.ok() || rows->empty() || rows->front().IsNull(0).value_or(true)) return std::nullopt;
    return rows->front().GetInt32(0).value();
  };
  EXPECT_EQ(ttl_of("runs", "id = 'run-1'"), std::nullopt) << "an active run never expires";
  run.set_status("COMPLETED");
  ASSERT_TRUE(store_->UpdateRun(run).ok());
  for (const auto& [table, where] : std::vector<std::pair<std::string, std::string>>{
           {"runs", "id = 'run-1'"},
           {"runs_by_job", "job_id = 'job-1' AND id = 'run-1'"},
       }) {
    std::optional<int32_t> ttl = ttl_of(table, where);
    ASSERT_TRUE(ttl.has_value()) << table;
    EXPECT_GT(*ttl, 3500) << table;
    EXPECT_LE(*ttl, 3600) << table;
  }
}

TEST_F(CassandraStoreTest, StaleIndexEntriesAreSkippedAndPagesStayFull) {
  // Entries that point at no row (a crash between an index write and its
  // row, or a job deleted meanwhile) are skipped; pages are still full.
  for (int i = 0; i < 6; ++i) ASSERT_TRUE(store_->CreateJob(MakeJob(absl::StrFormat("job-%02d", i))).ok());
  for (const char* ghost : {"job-00a", "job-01a", "job-02a"}) {
    ASSERT_TRUE(client()
                    .Query(cql::Statement(absl::StrCat("INSERT INTO ", T("job_ids"),
                                                       " (bucket, id) VALUES (0, '", ghost, "')")))
                    .ok());
  }
  // And a job listed under a status it no longer has.
  ASSERT_TRUE(client()
                  .Query(cql::Statement(absl::StrCat("INSERT INTO ", T("jobs_by_status"),
                                                     " (status, id) VALUES ('PAUSED', 'job-01')")))
                  .ok());
  ListJobsQuery query;
  query.page_size = 4;
  absl::StatusOr<JobPage> page = store_->ListJobs(query);
  ASSERT_TRUE(page.ok()) << page.status();
  ASSERT_EQ(page->jobs.size(), 4u);
  EXPECT_EQ(page->jobs[3].id(), "job-03");
  EXPECT_EQ(page->next_page, "job-03");
  query.after_id = page->next_page;
  page = store_->ListJobs(query);
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_EQ(page->jobs.size(), 2u);
  EXPECT_EQ(page->next_page, "");
  query = {};
  query.status = "PAUSED";
  page = store_->ListJobs(query);
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_TRUE(page->jobs.empty());
}

TEST_F(CassandraStoreTest, JobsAreIndexedByShard) {
  const std::string id = "2f0c6c7f-5b1e-4a6e-9a0b-3c59dc048f3d";
  ASSERT_TRUE(store_->CreateJob(MakeJob(id)).ok());
  const int64_t shard = ShardOf(JobId(id), 64);
  absl::StatusOr<std::vector<cql::Row>> rows = client().QueryAll(cql::Statement(
      absl::StrCat("SELECT id FROM ", T("jobs_by_shard"), " WHERE shard = ", shard)));
  ASSERT_TRUE(rows.ok()) << rows.status();
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ((*rows)[0].GetText(0).value(), id);
  absl::StatusOr<std::vector<Job>> of_shard = store_->ListJobsOfShard(static_cast<int>(shard));
  ASSERT_TRUE(of_shard.ok()) << of_shard.status();
  ASSERT_EQ(of_shard->size(), 1u);
  EXPECT_EQ((*of_shard)[0].id(), id);
  EXPECT_TRUE(store_->ListJobsOfShard(static_cast<int>((shard + 1) % 64))->empty());
  ASSERT_TRUE(store_->DeleteJob(JobId(id)).ok());
  EXPECT_TRUE(store_->ListJobsOfShard(static_cast<int>(shard))->empty());
  rows = client().QueryAll(cql::Statement(
      absl::StrCat("SELECT id FROM ", T("jobs_by_shard"), " WHERE shard = ", shard)));
  ASSERT_TRUE(rows.ok()) << rows.status();
  EXPECT_TRUE(rows->empty());
}

TEST_F(CassandraStoreTest, RecoveryListingFollowsEveryStatusChange) {
  // What Engine::Recover reads: the active runs by status, kept in step by
  // CreateRun, RecordFires, UpdateRun(s) and ClaimRun.
  ASSERT_TRUE(store_->CreateJob(MakeJob("job-1")).ok());
  ASSERT_TRUE(store_->RecordFires({{MakeRun("run-1", "job-1"), std::nullopt,
                                    absl::FromUnixSeconds(1767225600)}}).ok());
  dts::Run retrying = MakeRun("run-2", "job-1", "RETRYING");
  retrying.clear_scheduled_time();  // a retry attempt: not the job's latest fire
  ASSERT_TRUE(store_->CreateRun(retrying).ok());
  auto ids = [&](const std::string& status) {
    ListRunsQuery q;
    q.status = status;
    std::vector<std::string> out;
    absl::StatusOr<RunPage> page = store_->ListRuns(q);
    EXPECT_TRUE(page.ok()) << page.status();
    if (page.ok()) {
      for (const dts::Run& r : page->runs) out.push_back(r.id());
    }
    return out;
  };
  EXPECT_EQ(ids("PENDING"), std::vector<std::string>{"run-1"});
  EXPECT_EQ(ids("RETRYING"), std::vector<std::string>{"run-2"});
  ASSERT_TRUE(store_->ClaimRun(RunId("run-1"), "PENDING", "QUEUED").value());
  EXPECT_EQ(ids("QUEUED"), std::vector<std::string>{"run-1"});
  dts::Run done = store_->GetRun(RunId("run-1")).value();
  done.set_status("COMPLETED");
  dts::Run retried = retrying;
  retried.set_status("RUNNING");
  ASSERT_TRUE(store_->UpdateRuns({done, retried}).ok());
  EXPECT_TRUE(ids("QUEUED").empty());
  EXPECT_TRUE(ids("RETRYING").empty());
  EXPECT_EQ(ids("RUNNING"), std::vector<std::string>{"run-2"});
  EXPECT_EQ(ids("COMPLETED"), std::vector<std::string>{"run-1"});
  EXPECT_EQ(store_->GetJob(JobId("job-1"))->last_status(), "COMPLETED");
}

TEST(CassandraStoreCreateTest, RefusesAKeyspaceThatWasNotMigrated) {
  CassandraStore::Options options;
  options.config = testing::TestConfig("dts_never_migrated");
  options.client = Keyspace::Get().client();
  ASSERT_NE(options.client, nullptr);
  absl::StatusOr<std::unique_ptr<CassandraStore>> store = CassandraStore::Create(options);
  EXPECT_EQ(store.status().code(), absl::StatusCode::kFailedPrecondition) << store.status();
  EXPECT_THAT(std::string(store.status().message()), ::testing::HasSubstr("dts migrate"));

  options.config.keyspace = "bad-name";
  EXPECT_EQ(CassandraStore::Create(options).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace dts::storage
