#include <algorithm>
#include <barrier>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "storage/sqlite/migrations.h"
#include "storage/sqlite/sqlite_test_util.h"
#include "storage/sqlite/sqlite_util.h"

namespace dts::storage::sqlite_internal {
namespace {

using sqlite_testing::RawDb;
using sqlite_testing::ScopedTempDir;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::MatchesRegex;

class MigrateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<DbPtr> db = OpenConnection(path_, absl::Seconds(5));
    ASSERT_TRUE(db.ok()) << db.status();
    db_ = *std::move(db);
  }

  std::optional<std::string> Query(const std::string& sql) {
    RawDb raw(path_);
    return raw.QueryText(sql);
  }

  ScopedTempDir tmp_;
  std::string path_ = tmp_.path() + "/test.db";
  DbPtr db_;
};

TEST_F(MigrateTest, AppliesInLexicalOrderWhateverTheListOrder) {
  std::vector<Migration> migrations = {
      {"002_index", "CREATE INDEX t_x ON t (x);"},
      {"001_table", "CREATE TABLE t (x INTEGER);"},
  };
  absl::StatusOr<std::vector<std::string>> applied = ApplyMigrations(db_.get(), migrations);
  ASSERT_TRUE(applied.ok()) << applied.status();
  EXPECT_THAT(*applied, ElementsAre("001_table", "002_index"));
  EXPECT_EQ(Query("SELECT count(*) FROM sqlite_schema WHERE name IN ('t', 't_x')"), "2");
}

TEST_F(MigrateTest, SecondRunAppliesNothing) {
  std::vector<Migration> migrations = {{"001_table", "CREATE TABLE t (x INTEGER);"}};
  ASSERT_TRUE(ApplyMigrations(db_.get(), migrations).ok());
  absl::StatusOr<std::vector<std::string>> again = ApplyMigrations(db_.get(), migrations);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_THAT(*again, IsEmpty());
  EXPECT_EQ(Query("SELECT count(*) FROM schema_migrations"), "1");
}

TEST_F(MigrateTest, OnlyNewMigrationsRunLater) {
  std::vector<Migration> migrations = {{"001_table", "CREATE TABLE t (x INTEGER);"}};
  ASSERT_TRUE(ApplyMigrations(db_.get(), migrations).ok());
  migrations.push_back({"002_column", "ALTER TABLE t ADD COLUMN y TEXT;"});
  absl::StatusOr<std::vector<std::string>> applied = ApplyMigrations(db_.get(), migrations);
  ASSERT_TRUE(applied.ok()) << applied.status();
  EXPECT_THAT(*applied, ElementsAre("002_column"));
}

TEST_F(MigrateTest, FailedMigrationLeavesNoTraceAndStopsTheRest) {
  std::vector<Migration> migrations = {
      {"001_table", "CREATE TABLE t (x INTEGER);"},
      // The first statement succeeds, the second fails: both must go.
      {"002_broken", "CREATE TABLE u (x INTEGER); INSERT INTO missing VALUES (1);"},
      {"003_after", "CREATE TABLE v (x INTEGER);"},
  };
  absl::StatusOr<std::vector<std::string>> applied = ApplyMigrations(db_.get(), migrations);
  ASSERT_FALSE(applied.ok());
  EXPECT_THAT(applied.status().message(), HasSubstr("002_broken"));
  EXPECT_THAT(applied.status().message(), HasSubstr("missing"));
  EXPECT_EQ(Query("SELECT group_concat(version) FROM schema_migrations"), "001_table");
  EXPECT_EQ(Query("SELECT count(*) FROM sqlite_schema WHERE name IN ('u', 'v')"), "0");
  EXPECT_EQ(Query("SELECT count(*) FROM sqlite_schema WHERE name = 't'"), "1");

  // Fixed, it runs on the next attempt, followed by the rest.
  migrations[1].sql = "CREATE TABLE u (x INTEGER);";
  applied = ApplyMigrations(db_.get(), migrations);
  ASSERT_TRUE(applied.ok()) << applied.status();
  EXPECT_THAT(*applied, ElementsAre("002_broken", "003_after"));
}

TEST_F(MigrateTest, UnknownRecordedVersionIsRefused) {
  ASSERT_TRUE(ApplyMigrations(db_.get(), {{"001_table", "CREATE TABLE t (x INTEGER);"},
                                          {"002_more", "CREATE TABLE u (x INTEGER);"}})
                  .ok());
  absl::StatusOr<std::vector<std::string>> applied =
      ApplyMigrations(db_.get(), {{"001_table", "CREATE TABLE t (x INTEGER);"}});
  ASSERT_FALSE(applied.ok());
  EXPECT_EQ(applied.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(applied.status().message(), HasSubstr("002_more"));
}

TEST_F(MigrateTest, DuplicateVersionIsRefused) {
  absl::StatusOr<std::vector<std::string>> applied =
      ApplyMigrations(db_.get(), {{"001_a", "SELECT 1;"}, {"001_a", "SELECT 2;"}});
  EXPECT_FALSE(applied.ok());
}

TEST_F(MigrateTest, AVersionRecordedMeanwhileIsSkipped) {
  // Stands in for another process finishing 002 while we were applying 001:
  // 001 itself records 002. The check inside 002's transaction must see it.
  std::vector<Migration> migrations = {
      {"001_a",
       "CREATE TABLE t (x); CREATE TABLE u (x);"
       "INSERT INTO schema_migrations VALUES ('002_b', 'elsewhere');"},
      {"002_b", "CREATE TABLE u (x);"},
  };
  absl::StatusOr<std::vector<std::string>> applied = ApplyMigrations(db_.get(), migrations);
  ASSERT_TRUE(applied.ok()) << applied.status();
  EXPECT_THAT(*applied, ElementsAre("001_a"));
}

TEST_F(MigrateTest, ConcurrentMigratorsApplyEachVersionOnce) {
  // Several connections (standing for processes) migrate one fresh file at
  // once. CREATE TABLE without IF NOT EXISTS fails if run twice, so every
  // migrator succeeding means each version ran exactly once.
  std::vector<Migration> migrations;
  for (int i = 1; i <= 5; ++i) {
    migrations.push_back(
        {absl::StrFormat("%03d_t%d", i, i), absl::StrFormat("CREATE TABLE t%d (x);", i)});
  }
  constexpr int kMigrators = 4;
  std::vector<DbPtr> dbs;
  for (int i = 0; i < kMigrators; ++i) {
    absl::StatusOr<DbPtr> db = OpenConnection(path_, absl::Seconds(30));
    ASSERT_TRUE(db.ok()) << db.status();
    dbs.push_back(*std::move(db));
  }
  std::vector<absl::StatusOr<std::vector<std::string>>> results(kMigrators);
  std::barrier sync(kMigrators);
  std::vector<std::thread> threads;
  for (int i = 0; i < kMigrators; ++i) {
    threads.emplace_back([&, i] {
      sync.arrive_and_wait();
      results[i] = ApplyMigrations(dbs[i].get(), migrations);
    });
  }
  for (std::thread& t : threads) t.join();
  std::vector<std::string> all;
  for (const auto& result : results) {
    ASSERT_TRUE(result.ok()) << result.status();
    all.insert(all.end(), result->begin(), result->end());
  }
  std::sort(all.begin(), all.end());
  EXPECT_THAT(all, ElementsAre("001_t1", "002_t2", "003_t3", "004_t4", "005_t5"));
}

TEST(EmbeddedMigrationsTest, MatchTheFilesInTheSourceTree) {
  std::vector<std::string> files;
  for (const auto& entry : std::filesystem::directory_iterator(DTS_MIGRATIONS_DIR)) {
    if (entry.path().extension() == ".sql") files.push_back(entry.path().filename().string());
  }
  std::sort(files.begin(), files.end());
  const std::vector<Migration>& embedded = EmbeddedMigrations();
  ASSERT_EQ(embedded.size(), files.size());
  ASSERT_FALSE(embedded.empty());
  EXPECT_EQ(embedded.front().version, "001_init");
  for (size_t i = 0; i < files.size(); ++i) {
    EXPECT_EQ(embedded[i].version + ".sql", files[i]);
    EXPECT_THAT(embedded[i].version, MatchesRegex("[0-9]{3}_[a-z0-9_]+"));
    std::ifstream in(std::string(DTS_MIGRATIONS_DIR) + "/" + files[i], std::ios::binary);
    std::stringstream content;
    content << in.rdbuf();
    EXPECT_EQ(embedded[i].sql, content.str()) << files[i] << " is embedded byte for byte";
  }
}

}  // namespace
}  // namespace dts::storage::sqlite_internal
