#include "dts/storage/sqlite_store.h"

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <barrier>
#include <functional>
#include <iostream>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "dts/storage/testing/store_conformance.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/time_util.h"
#include "gtest/gtest.h"
#include "storage/sqlite/migrations.h"
#include "storage/sqlite/sqlite_test_util.h"

namespace dts::storage {
namespace {

using ::google::protobuf::util::TimeUtil;
using sqlite_testing::RawDb;
using sqlite_testing::ScopedTempDir;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::MatchesRegex;

// A SqliteStore in a temporary directory that goes away with it, for the
// conformance suite.
class TempDirStore final : public Store {
 public:
  static std::unique_ptr<Store> Make(const SqliteStore::Options& options) {
    auto dir = std::make_unique<ScopedTempDir>();
    absl::StatusOr<std::unique_ptr<SqliteStore>> store =
        SqliteStore::Open(dir->path() + "/data", options);
    if (!store.ok()) {
      ADD_FAILURE() << store.status();
      return nullptr;
    }
    return std::unique_ptr<Store>(new TempDirStore(std::move(dir), *std::move(store)));
  }

  absl::Status CreateJob(const Job& job) override { return store_->CreateJob(job); }
  absl::StatusOr<Job> GetJob(const JobId& id) override { return store_->GetJob(id); }
  absl::StatusOr<JobPage> ListJobs(const ListJobsQuery& q) override { return store_->ListJobs(q); }
  absl::Status UpdateJob(const Job& job) override { return store_->UpdateJob(job); }
  absl::Status DeleteJob(const JobId& id) override { return store_->DeleteJob(id); }
  absl::Status CreateRun(const dts::Run& run) override { return store_->CreateRun(run); }
  absl::StatusOr<dts::Run> GetRun(const RunId& id) override { return store_->GetRun(id); }
  absl::StatusOr<RunPage> ListRuns(const ListRunsQuery& q) override { return store_->ListRuns(q); }
  absl::Status UpdateRun(const dts::Run& run) override { return store_->UpdateRun(run); }
  absl::StatusOr<std::vector<bool>> RecordFires(const std::vector<FireRecord>& fires) override {
    return store_->RecordFires(fires);
  }
  absl::StatusOr<int64_t> PruneRuns(int keep_last, absl::Time keep_after) override {
    return store_->PruneRuns(keep_last, keep_after);
  }

 private:
  TempDirStore(std::unique_ptr<ScopedTempDir> dir, std::unique_ptr<SqliteStore> store)
      : dir_(std::move(dir)), store_(std::move(store)) {}

  // Declared first so the store is closed before its directory is removed.
  std::unique_ptr<ScopedTempDir> dir_;
  std::unique_ptr<SqliteStore> store_;
};

DTS_INSTANTIATE_STORE_CONFORMANCE(Sqlite, "sqlite",
                                  [] { return TempDirStore::Make(SqliteStore::Options()); });

// All reads through the writer connection: the fallback path of WithReader.
DTS_INSTANTIATE_STORE_CONFORMANCE(SqliteOneConnection, "sqlite_one_connection", [] {
  SqliteStore::Options options;
  options.read_connections = 0;
  return TempDirStore::Make(options);
});

Job MakeJob(const std::string& id) {
  Job job;
  job.set_id(id);
  job.set_name("nightly");
  job.set_status("ACTIVE");
  *job.mutable_created_at() = TimeUtil::SecondsToTimestamp(1767225600);
  *job.mutable_updated_at() = TimeUtil::SecondsToTimestamp(1767225660);
  return job;
}

dts::Run MakeRun(const std::string& id, const std::string& job_id) {
  dts::Run run;
  run.set_id(id);
  run.set_job_id(job_id);
  run.set_status("PENDING");
  return run;
}

std::vector<std::string> EmbeddedVersions() {
  std::vector<std::string> versions;
  for (const auto& m : sqlite_internal::EmbeddedMigrations()) versions.push_back(m.version);
  return versions;
}

// ---- data dir and file ----

TEST(SqliteStoreTest, OpenCreatesDataDirOwnerOnly) {
  ScopedTempDir tmp;
  const std::string dir = tmp.path() + "/a/b/data";
  absl::StatusOr<std::unique_ptr<SqliteStore>> store = SqliteStore::Open(dir);
  ASSERT_TRUE(store.ok()) << store.status();
  struct stat st;
  ASSERT_EQ(stat(dir.c_str(), &st), 0);
  EXPECT_TRUE(S_ISDIR(st.st_mode));
  EXPECT_EQ(st.st_mode & 07777, 0700u);
  EXPECT_EQ((*store)->path(), dir + "/dts.db");
  EXPECT_TRUE(std::filesystem::is_regular_file(dir + "/dts.db"));
}

TEST(SqliteStoreTest, OpenUsesExistingDirAsIs) {
  ScopedTempDir tmp;
  ASSERT_EQ(chmod(tmp.path().c_str(), 0750), 0);
  absl::StatusOr<std::unique_ptr<SqliteStore>> store = SqliteStore::Open(tmp.path());
  ASSERT_TRUE(store.ok()) << store.status();
  struct stat st;
  ASSERT_EQ(stat(tmp.path().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0750u) << "an existing dir's permissions are the user's choice";
}

TEST(SqliteStoreTest, OpenFailsWhenDataDirIsAFile) {
  ScopedTempDir tmp;
  const std::string file = tmp.path() + "/file";
  std::ofstream(file) << "x";
  absl::StatusOr<std::unique_ptr<SqliteStore>> store = SqliteStore::Open(file);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), absl::StatusCode::kFailedPrecondition) << store.status();
  EXPECT_THAT(store.status().message(), HasSubstr(file));
  EXPECT_THAT(store.status().message(), HasSubstr("not a directory"));
}

TEST(SqliteStoreTest, OpenFailsWhenAParentIsAFile) {
  ScopedTempDir tmp;
  const std::string file = tmp.path() + "/file";
  std::ofstream(file) << "x";
  absl::StatusOr<std::unique_ptr<SqliteStore>> store = SqliteStore::Open(file + "/data");
  ASSERT_FALSE(store.ok());
  EXPECT_THAT(store.status().message(), HasSubstr(file));
}

TEST(SqliteStoreTest, OpenFailsOnEmptyPath) {
  EXPECT_EQ(SqliteStore::Open("").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(SqliteStoreTest, OpenFailsOnAFileThatIsNotADatabase) {
  ScopedTempDir tmp;
  std::ofstream(tmp.path() + "/dts.db") << std::string(8192, 'x');
  absl::StatusOr<std::unique_ptr<SqliteStore>> store = SqliteStore::Open(tmp.path());
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), absl::StatusCode::kFailedPrecondition) << store.status();
  EXPECT_THAT(store.status().message(), HasSubstr(tmp.path() + "/dts.db"));
  EXPECT_THAT(store.status().message(), HasSubstr("not a database"));
  EXPECT_FALSE(MigrateSqlite(tmp.path()).ok());
}

// Root ignores file permissions, and CI runs as root: the permission tests
// then run their body in a child process that has dropped to `nobody`.
constexpr uid_t kNobody = 65534;

void ChownTree(const std::string& path) {
  ASSERT_EQ(chown(path.c_str(), kNobody, kNobody), 0) << path;
}

// Runs `body` as an unprivileged user (in a forked child when we are root)
// and expects it to return true.
void ExpectAsUnprivileged(const std::function<bool()>& body) {
  if (geteuid() != 0) {
    EXPECT_TRUE(body());
    return;
  }
  EXPECT_EXIT(
      {
        if (setgid(kNobody) != 0 || setuid(kNobody) != 0) _exit(2);
        _exit(body() ? 0 : 1);
      },
      ::testing::ExitedWithCode(0), "");
}

TEST(SqliteStoreTest, OpenFailsInADirectoryItCannotWrite) {
  ScopedTempDir tmp;
  ChownTree(tmp.path());
  ASSERT_EQ(chmod(tmp.path().c_str(), 0500), 0);
  ExpectAsUnprivileged([&] {
    absl::StatusOr<std::unique_ptr<SqliteStore>> store = SqliteStore::Open(tmp.path());
    if (store.ok()) return false;
    std::cerr << store.status() << "\n";
    return store.status().code() == absl::StatusCode::kPermissionDenied &&
           absl::StrContains(store.status().message(), tmp.path()) &&
           absl::StrContains(store.status().message(), "not writable");
  });
}

TEST(SqliteStoreTest, OpenFailsOnAReadOnlyDatabase) {
  ScopedTempDir tmp;
  ASSERT_TRUE(SqliteStore::Open(tmp.path()).ok());
  ChownTree(tmp.path());
  ChownTree(tmp.path() + "/dts.db");
  ASSERT_EQ(chmod((tmp.path() + "/dts.db").c_str(), 0400), 0);
  ExpectAsUnprivileged([&] {
    absl::StatusOr<std::unique_ptr<SqliteStore>> store = SqliteStore::Open(tmp.path());
    if (store.ok()) return false;
    std::cerr << store.status() << "\n";
    return store.status().code() == absl::StatusCode::kFailedPrecondition &&
           absl::StrContains(store.status().message(), "read-only");
  });
}

TEST(SqliteStoreTest, OpenRejectsBadOptions) {
  ScopedTempDir tmp;
  SqliteStore::Options options;
  options.read_connections = -1;
  EXPECT_EQ(SqliteStore::Open(tmp.path(), options).status().code(),
            absl::StatusCode::kInvalidArgument);
  options = SqliteStore::Options();
  options.shard_count = 0;
  EXPECT_EQ(SqliteStore::Open(tmp.path(), options).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(SqliteStoreTest, DatabaseIsInWalMode) {
  ScopedTempDir tmp;
  ASSERT_TRUE(SqliteStore::Open(tmp.path()).ok());
  RawDb raw(tmp.path() + "/dts.db");
  // The journal mode is a property of the file, so a fresh connection sees it.
  EXPECT_EQ(raw.QueryText("PRAGMA journal_mode"), "wal");
}

// ---- durability ----

TEST(SqliteStoreTest, DataSurvivesReopen) {
  ScopedTempDir tmp;
  {
    absl::StatusOr<std::unique_ptr<SqliteStore>> store = SqliteStore::Open(tmp.path());
    ASSERT_TRUE(store.ok()) << store.status();
    ASSERT_TRUE((*store)->CreateJob(MakeJob("job-1")).ok());
    ASSERT_TRUE((*store)->CreateRun(MakeRun("run-1", "job-1")).ok());
  }
  absl::StatusOr<std::unique_ptr<SqliteStore>> store = SqliteStore::Open(tmp.path());
  ASSERT_TRUE(store.ok()) << store.status();
  absl::StatusOr<Job> job = (*store)->GetJob(JobId("job-1"));
  ASSERT_TRUE(job.ok()) << job.status();
  EXPECT_EQ(job->name(), "nightly");
  EXPECT_TRUE((*store)->GetRun(RunId("run-1")).ok());
  // The run id is still taken after the restart.
  EXPECT_EQ((*store)->CreateRun(MakeRun("run-1", "job-1")).code(),
            absl::StatusCode::kAlreadyExists);
  EXPECT_THAT(*(*store)->Migrate(), IsEmpty());
}

TEST(SqliteStoreTest, CommittedDataSurvivesAProcessCrash) {
  ScopedTempDir tmp;
  // The child commits and dies without closing anything (no checkpoint, WAL
  // left behind), as a crashed server would.
  pid_t pid = fork();
  ASSERT_NE(pid, -1);
  if (pid == 0) {
    absl::StatusOr<std::unique_ptr<SqliteStore>> store = SqliteStore::Open(tmp.path());
    if (!store.ok()) _exit(2);
    if (!(*store)->CreateJob(MakeJob("job-1")).ok()) _exit(3);
    if (!(*store)->CreateRun(MakeRun("run-1", "job-1")).ok()) _exit(4);
    _exit(0);
  }
  int wstatus = 0;
  ASSERT_EQ(waitpid(pid, &wstatus, 0), pid);
  ASSERT_TRUE(WIFEXITED(wstatus));
  ASSERT_EQ(WEXITSTATUS(wstatus), 0);

  absl::StatusOr<std::unique_ptr<SqliteStore>> store = SqliteStore::Open(tmp.path());
  ASSERT_TRUE(store.ok()) << store.status();
  EXPECT_TRUE((*store)->GetJob(JobId("job-1")).ok());
  EXPECT_TRUE((*store)->GetRun(RunId("run-1")).ok());
}

TEST(SqliteStoreTest, TwoStoresOnOneFileStillRecordARunOnce) {
  // Two stores stand for two processes (separate connections, only SQLite's
  // file locks between them).
  ScopedTempDir tmp;
  absl::StatusOr<std::unique_ptr<SqliteStore>> a = SqliteStore::Open(tmp.path());
  absl::StatusOr<std::unique_ptr<SqliteStore>> b = SqliteStore::Open(tmp.path());
  ASSERT_TRUE(a.ok()) << a.status();
  ASSERT_TRUE(b.ok()) << b.status();
  constexpr int kThreads = 4;
  constexpr int kRounds = 30;
  std::barrier sync(kThreads);
  std::vector<std::vector<absl::StatusCode>> codes(kThreads,
                                                   std::vector<absl::StatusCode>(kRounds));
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      SqliteStore& store = t % 2 == 0 ? **a : **b;
      for (int r = 0; r < kRounds; ++r) {
        sync.arrive_and_wait();
        codes[t][r] = store.CreateRun(MakeRun(absl::StrCat("run-", r), "job-1")).code();
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (int r = 0; r < kRounds; ++r) {
    int wins = 0;
    for (int t = 0; t < kThreads; ++t) {
      if (codes[t][r] == absl::StatusCode::kOk) {
        ++wins;
      } else {
        EXPECT_EQ(codes[t][r], absl::StatusCode::kAlreadyExists) << "round " << r;
      }
    }
    EXPECT_EQ(wins, 1) << "round " << r;
  }
  // Each store sees the other's writes.
  absl::StatusOr<RunPage> page = (*a)->ListRuns({});
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_EQ(page->total, kRounds);
}

// ---- migrations ----

TEST(SqliteStoreTest, MigrationsAreRecordedAndIdempotent) {
  ScopedTempDir tmp;
  absl::StatusOr<std::unique_ptr<SqliteStore>> store = SqliteStore::Open(tmp.path());
  ASSERT_TRUE(store.ok()) << store.status();
  {
    RawDb raw(tmp.path() + "/dts.db");
    EXPECT_EQ(raw.QueryText("SELECT group_concat(version, ',') FROM "
                            "(SELECT version FROM schema_migrations ORDER BY version)"),
              absl::StrJoin(EmbeddedVersions(), ","));
    EXPECT_THAT(raw.QueryText("SELECT applied_at FROM schema_migrations WHERE version = "
                              "'001_init'")
                    .value_or(""),
                MatchesRegex("[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z"));
  }
  absl::StatusOr<std::vector<std::string>> again = (*store)->Migrate();
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_THAT(*again, IsEmpty());
  store->reset();

  absl::StatusOr<std::vector<std::string>> cli = MigrateSqlite(tmp.path());
  ASSERT_TRUE(cli.ok()) << cli.status();
  EXPECT_THAT(*cli, IsEmpty());
  RawDb raw(tmp.path() + "/dts.db");
  EXPECT_EQ(raw.QueryText("SELECT count(*) FROM schema_migrations"),
            std::to_string(EmbeddedVersions().size()));
}

TEST(SqliteStoreTest, MigrateSqliteCreatesAndMigratesAFreshDatabase) {
  ScopedTempDir tmp;
  const std::string dir = tmp.path() + "/new";
  absl::StatusOr<std::vector<std::string>> applied = MigrateSqlite(dir);
  ASSERT_TRUE(applied.ok()) << applied.status();
  EXPECT_EQ(*applied, EmbeddedVersions());
  EXPECT_EQ(applied->front(), "001_init");
  {
    RawDb raw(dir + "/dts.db");
    EXPECT_EQ(raw.QueryText("SELECT count(*) FROM sqlite_schema WHERE name IN "
                            "('jobs', 'runs', 'jobs_status_id', 'runs_job_id', 'runs_status_id')"),
              "5");
  }
  applied = MigrateSqlite(dir);
  ASSERT_TRUE(applied.ok()) << applied.status();
  EXPECT_THAT(*applied, IsEmpty());

  absl::StatusOr<std::unique_ptr<SqliteStore>> store = SqliteStore::Open(dir);
  ASSERT_TRUE(store.ok()) << store.status();
  EXPECT_TRUE((*store)->CreateJob(MakeJob("job-1")).ok());
}

TEST(SqliteStoreTest, OpenRefusesASchemaFromANewerVersion) {
  ScopedTempDir tmp;
  ASSERT_TRUE(SqliteStore::Open(tmp.path()).ok());
  {
    RawDb raw(tmp.path() + "/dts.db");
    raw.Exec("INSERT INTO schema_migrations VALUES ('999_future', '2030-01-01T00:00:00Z')");
  }
  absl::StatusOr<std::unique_ptr<SqliteStore>> store = SqliteStore::Open(tmp.path());
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(store.status().message(), HasSubstr("999_future"));
}

// ---- what the rows hold ----

TEST(SqliteStoreTest, ColumnsMirrorTheProto) {
  ScopedTempDir tmp;
  absl::StatusOr<std::unique_ptr<SqliteStore>> store = SqliteStore::Open(tmp.path());
  ASSERT_TRUE(store.ok()) << store.status();
  Job job = MakeJob("job-1");
  *job.mutable_next_run() = TimeUtil::MicrosecondsToTimestamp(1767225900000123);
  ASSERT_TRUE((*store)->CreateJob(job).ok());
  ASSERT_TRUE((*store)->CreateJob(MakeJob("job-2")).ok());
  dts::Run run = MakeRun("run-1", "job-1");
  *run.mutable_scheduled_time() = TimeUtil::SecondsToTimestamp(1767225900);
  *run.mutable_created_at() = TimeUtil::SecondsToTimestamp(1767225901);
  ASSERT_TRUE((*store)->CreateRun(run).ok());

  RawDb raw(tmp.path() + "/dts.db");
  EXPECT_EQ(raw.QueryText("SELECT name || '|' || status || '|' || next_run || '|' || created_at "
                          "|| '|' || updated_at FROM jobs WHERE id = 'job-1'"),
            "nightly|ACTIVE|1767225900000123|1767225600000000|1767225660000000");
  EXPECT_EQ(raw.QueryText("SELECT next_run FROM jobs WHERE id = 'job-2'"), std::nullopt);
  EXPECT_EQ(raw.QueryText("SELECT shard FROM jobs WHERE id = 'job-1'"),
            std::to_string(SqliteStore::ShardOf(JobId("job-1"), 64)));
  EXPECT_EQ(raw.QueryText("SELECT job_id || '|' || status || '|' || scheduled_time || '|' || "
                          "created_at FROM runs WHERE id = 'run-1'"),
            "job-1|PENDING|1767225900000000|1767225901000000");

  job.set_status("PAUSED");
  job.clear_next_run();
  ASSERT_TRUE((*store)->UpdateJob(job).ok());
  EXPECT_EQ(raw.QueryText("SELECT status FROM jobs WHERE id = 'job-1'"), "PAUSED");
  EXPECT_EQ(raw.QueryText("SELECT next_run FROM jobs WHERE id = 'job-1'"), std::nullopt);
}

TEST(SqliteStoreTest, ShardOfIsStableAndInRange) {
  // FNV-1a 64 of "a" is 0xaf63dc4c8601ec8c; the value must never change, or
  // stored shards stop matching.
  EXPECT_EQ(SqliteStore::ShardOf(JobId("a"), 1 << 30),
            static_cast<int64_t>(0xaf63dc4c8601ec8cull % (1u << 30)));
  for (int i = 0; i < 100; ++i) {
    int64_t shard = SqliteStore::ShardOf(JobId(absl::StrCat("job-", i)), 7);
    EXPECT_GE(shard, 0);
    EXPECT_LT(shard, 7);
  }
}

TEST(SqliteStoreTest, ListQueriesUseTheirIndexes) {
  ScopedTempDir tmp;
  ASSERT_TRUE(SqliteStore::Open(tmp.path()).ok());
  RawDb raw(tmp.path() + "/dts.db");
  auto explain = [&](const std::string& sql) {
    sqlite3_stmt* stmt = nullptr;
    std::string out;
    EXPECT_EQ(sqlite3_prepare_v2(raw.get(), ("EXPLAIN QUERY PLAN " + sql).c_str(), -1, &stmt,
                                 nullptr),
              SQLITE_OK);
    while (sqlite3_step(stmt) == SQLITE_ROW) {
      absl::StrAppend(&out, reinterpret_cast<const char*>(sqlite3_column_text(stmt, 3)), "; ");
    }
    sqlite3_finalize(stmt);
    return out;
  };
  EXPECT_THAT(explain("SELECT data, id FROM jobs WHERE status = 'A' AND id > '' ORDER BY id "
                      "LIMIT 10"),
              HasSubstr("jobs_status_id"));
  EXPECT_THAT(explain("SELECT data, id FROM runs WHERE job_id = 'j' AND id > '' ORDER BY id "
                      "LIMIT 10"),
              HasSubstr("runs_job_id"));
  EXPECT_THAT(explain("SELECT data, id FROM runs WHERE status = 'A' AND id > '' ORDER BY id "
                      "LIMIT 10"),
              HasSubstr("runs_status_id"));
  EXPECT_THAT(explain("DELETE FROM runs WHERE job_id = 'j'"), HasSubstr("runs_job_id"));
}

TEST(SqliteStoreTest, UnreadableRowIsDataLoss) {
  ScopedTempDir tmp;
  absl::StatusOr<std::unique_ptr<SqliteStore>> store = SqliteStore::Open(tmp.path());
  ASSERT_TRUE(store.ok()) << store.status();
  ASSERT_TRUE((*store)->CreateJob(MakeJob("job-1")).ok());
  {
    RawDb raw(tmp.path() + "/dts.db");
    raw.Exec("UPDATE jobs SET data = x'ffffffff' WHERE id = 'job-1'");
  }
  absl::StatusOr<Job> job = (*store)->GetJob(JobId("job-1"));
  EXPECT_EQ(job.status().code(), absl::StatusCode::kDataLoss) << job.status();
  EXPECT_EQ((*store)->ListJobs({}).status().code(), absl::StatusCode::kDataLoss);
}

TEST(SqliteStoreTest, PageSizeOutOfRangeIsInvalid) {
  ScopedTempDir tmp;
  absl::StatusOr<std::unique_ptr<SqliteStore>> store = SqliteStore::Open(tmp.path());
  ASSERT_TRUE(store.ok()) << store.status();
  ListJobsQuery jobs;
  jobs.page_size = 0;
  EXPECT_EQ((*store)->ListJobs(jobs).status().code(), absl::StatusCode::kInvalidArgument);
  ListRunsQuery runs;
  runs.page_size = 1001;
  EXPECT_EQ((*store)->ListRuns(runs).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace dts::storage
