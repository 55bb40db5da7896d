// MigrateCassandra against the real Cassandra of scripts/services.sh (label
// `cassandra`). Each test works in a keyspace of its own, created by the
// migration under test and dropped at the end; the migrations are small
// stand-ins so that schema changes stay few.

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "dts/cql/client.h"
#include "dts/storage/cassandra_store.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "storage/cassandra/migrations.h"
#include "storage/cassandra/test_env.h"

namespace dts::storage {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

class MigrateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    config_ = testing::TestConfig(testing::UniqueKeyspace("dts_migrate"));
    absl::StatusOr<cql::ClientOptions> options = CassandraClientOptions(config_);
    ASSERT_TRUE(options.ok()) << options.status();
    absl::StatusOr<std::unique_ptr<cql::Client>> client = cql::Client::Create(*options);
    ASSERT_TRUE(client.ok()) << client.status();
    client_ = *std::move(client);
  }
  void TearDown() override {
    if (client_ != nullptr) {
      (void)client_->Query(cql::Statement(absl::StrCat("DROP KEYSPACE IF EXISTS ", config_.keyspace))
                               .WithTimeout(absl::Seconds(60)));
    }
  }

  std::vector<std::string> Tables() {
    absl::StatusOr<std::vector<cql::Row>> rows = client_->QueryAll(cql::Statement(
        "SELECT table_name FROM system_schema.tables WHERE keyspace_name = ?", {config_.keyspace}));
    EXPECT_TRUE(rows.ok()) << rows.status();
    std::vector<std::string> out;
    if (rows.ok()) {
      for (const cql::Row& row : *rows) out.push_back(row.GetText(0).value());
    }
    std::sort(out.begin(), out.end());
    return out;
  }

  std::vector<std::string> Recorded() {
    absl::StatusOr<std::vector<cql::Row>> rows = client_->QueryAll(
        cql::Statement(absl::StrCat("SELECT version FROM ", config_.keyspace, ".schema_migrations")));
    EXPECT_TRUE(rows.ok()) << rows.status();
    std::vector<std::string> out;
    if (rows.ok()) {
      for (const cql::Row& row : *rows) out.push_back(row.GetText(0).value());
    }
    std::sort(out.begin(), out.end());
    return out;
  }

  CassandraConfig config_;
  std::unique_ptr<cql::Client> client_;
};

const CassandraMigration kFirst{"001_first", "CREATE TABLE IF NOT EXISTS a (k text PRIMARY KEY);\n"};
const CassandraMigration kSecond{
    "002_second",
    "-- two statements\nCREATE TABLE IF NOT EXISTS b (k text PRIMARY KEY);\n"
    "ALTER TABLE a ADD v int;\n"};

TEST_F(MigrateTest, CreatesTheKeyspaceAndIsIdempotent) {
  absl::StatusOr<std::vector<std::string>> applied = MigrateCassandra(config_, {kFirst});
  ASSERT_TRUE(applied.ok()) << applied.status();
  EXPECT_THAT(*applied, ElementsAre("001_first"));
  EXPECT_THAT(Tables(), ElementsAre("a", "schema_migrations"));
  // SimpleStrategy with replication factor 1 by default.
  absl::StatusOr<std::vector<cql::Row>> ks = client_->QueryAll(cql::Statement(
      "SELECT replication FROM system_schema.keyspaces WHERE keyspace_name = ?", {config_.keyspace}));
  ASSERT_TRUE(ks.ok()) << ks.status();
  ASSERT_EQ(ks->size(), 1u);
  EXPECT_THAT((*ks)[0].Get(0)->ToString(), HasSubstr("SimpleStrategy"));
  EXPECT_THAT((*ks)[0].Get(0)->ToString(), HasSubstr("'replication_factor': '1'"));

  applied = MigrateCassandra(config_, {kFirst});
  ASSERT_TRUE(applied.ok()) << applied.status();
  EXPECT_THAT(*applied, IsEmpty());
  EXPECT_THAT(Recorded(), ElementsAre("001_first"));
}

TEST_F(MigrateTest, ANewFileIsAppliedOnce) {
  ASSERT_TRUE(MigrateCassandra(config_, {kFirst}).ok());
  absl::StatusOr<std::vector<std::string>> applied = MigrateCassandra(config_, {kSecond, kFirst});
  ASSERT_TRUE(applied.ok()) << applied.status();
  EXPECT_THAT(*applied, ElementsAre("002_second"));
  EXPECT_THAT(Tables(), ElementsAre("a", "b", "schema_migrations"));
  applied = MigrateCassandra(config_, {kFirst, kSecond});
  ASSERT_TRUE(applied.ok()) << applied.status();
  EXPECT_THAT(*applied, IsEmpty());
  EXPECT_THAT(Recorded(), ElementsAre("001_first", "002_second"));
  // The checksum is recorded with it.
  absl::StatusOr<std::vector<cql::Row>> rows = client_->QueryAll(cql::Statement(absl::StrCat(
      "SELECT checksum FROM ", config_.keyspace, ".schema_migrations WHERE version = '002_second'")));
  ASSERT_TRUE(rows.ok()) << rows.status();
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ((*rows)[0].GetText(0).value(), cassandra_internal::MigrationChecksum(kSecond.cql));
}

TEST_F(MigrateTest, AnAppliedFileEditedSinceIsAnErrorNamingIt) {
  ASSERT_TRUE(MigrateCassandra(config_, {kFirst}).ok());
  CassandraMigration edited = kFirst;
  edited.cql += "CREATE TABLE IF NOT EXISTS c (k text PRIMARY KEY);\n";
  absl::StatusOr<std::vector<std::string>> applied = MigrateCassandra(config_, {edited, kSecond});
  EXPECT_EQ(applied.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(applied.status().message()), HasSubstr("001_first.cql was changed"));
  // Nothing else ran either.
  EXPECT_THAT(Tables(), ElementsAre("a", "schema_migrations"));
  EXPECT_THAT(Recorded(), ElementsAre("001_first"));
}

TEST_F(MigrateTest, AFailingStatementStopsTheRunAndRecordsNothingForItsFile) {
  const CassandraMigration bad{"002_bad",
                               "CREATE TABLE IF NOT EXISTS b (k text PRIMARY KEY);\n"
                               "ALTER TABLE no_such_table ADD v int;\n"};
  const CassandraMigration third{"003_third", "CREATE TABLE IF NOT EXISTS c (k text PRIMARY KEY);"};
  absl::StatusOr<std::vector<std::string>> applied = MigrateCassandra(config_, {kFirst, bad, third});
  ASSERT_FALSE(applied.ok());
  const std::string message(applied.status().message());
  EXPECT_THAT(message, HasSubstr("002_bad.cql, statement 2 (line 2)"));
  EXPECT_THAT(message, HasSubstr("ALTER TABLE no_such_table ADD v int"));
  EXPECT_THAT(Recorded(), ElementsAre("001_first"));
  EXPECT_THAT(Tables(), ElementsAre("a", "b", "schema_migrations"));  // 003 never ran

  // Fixed, the file applies (its first statement again, harmlessly), then 003.
  const CassandraMigration fixed{"002_bad",
                                 "CREATE TABLE IF NOT EXISTS b (k text PRIMARY KEY);\n"
                                 "ALTER TABLE a ADD v int;\n"};
  applied = MigrateCassandra(config_, {kFirst, fixed, third});
  ASSERT_TRUE(applied.ok()) << applied.status();
  EXPECT_THAT(*applied, ElementsAre("002_bad", "003_third"));
}

TEST_F(MigrateTest, AVersionThisBinaryDoesNotKnowIsRefused) {
  ASSERT_TRUE(MigrateCassandra(config_, {kFirst, kSecond}).ok());
  absl::StatusOr<std::vector<std::string>> applied = MigrateCassandra(config_, {kFirst});
  EXPECT_EQ(applied.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(applied.status().message()), HasSubstr("002_second"));
}

TEST_F(MigrateTest, NetworkTopologyStrategyReplication) {
  // The dev server's SimpleSnitch names its datacenter datacenter1.
  config_.replication = "NetworkTopologyStrategy:datacenter1=1";
  ASSERT_TRUE(MigrateCassandra(config_, {kFirst}).ok());
  absl::StatusOr<std::vector<cql::Row>> ks = client_->QueryAll(cql::Statement(
      "SELECT replication FROM system_schema.keyspaces WHERE keyspace_name = ?", {config_.keyspace}));
  ASSERT_TRUE(ks.ok()) << ks.status();
  ASSERT_EQ(ks->size(), 1u);
  EXPECT_THAT((*ks)[0].Get(0)->ToString(), HasSubstr("NetworkTopologyStrategy"));
  EXPECT_THAT((*ks)[0].Get(0)->ToString(), HasSubstr("'datacenter1': '1'"));
}

TEST_F(MigrateTest, TheEmbeddedMigrationsGiveAStoreItsSchema) {
  absl::StatusOr<std::vector<std::string>> applied = MigrateCassandra(config_);
  ASSERT_TRUE(applied.ok()) << applied.status();
  EXPECT_EQ(applied->size(), EmbeddedCassandraMigrations().size());
  EXPECT_THAT(Tables(), ElementsAre("active_runs", "job_ids", "jobs", "jobs_by_shard",
                                    "jobs_by_status", "run_ids", "runs", "runs_by_job",
                                    "schema_migrations", "shard_checkpoints", "workers"));
  CassandraStore::Options options;
  options.config = config_;
  absl::StatusOr<std::unique_ptr<CassandraStore>> store = CassandraStore::Create(options);
  ASSERT_TRUE(store.ok()) << store.status();
  EXPECT_THAT(*MigrateCassandra(config_), IsEmpty());
}

TEST_F(MigrateTest, BadOptionsAreRefusedBeforeConnecting) {
  CassandraConfig config = config_;
  config.replication = "Quorum";
  EXPECT_EQ(MigrateCassandra(config, {kFirst}).status().code(), absl::StatusCode::kInvalidArgument);
  config = config_;
  config.keyspace = "no-dashes";
  EXPECT_EQ(MigrateCassandra(config, {kFirst}).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace dts::storage
