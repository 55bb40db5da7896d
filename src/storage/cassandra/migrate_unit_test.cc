// Migrations without a server: statement splitting, checksums, replication
// specs, and the embedded files.

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "dts/storage/cassandra_store.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "storage/cassandra/migrations.h"

namespace dts::storage::cassandra_internal {
namespace {

using ::testing::HasSubstr;

TEST(SplitCqlTest, SplitsAtSemicolonsOutsideStringsAndComments) {
  const std::vector<CqlStatement> st = SplitCql(
      "-- a comment; with a semicolon\n"
      "CREATE TABLE a (k text PRIMARY KEY); // trailing; comment\n"
      "\n"
      "INSERT INTO a (k) VALUES ('x;y''s');\n"
      "/* block;\n comment */ CREATE TABLE \"b;c\" (k int PRIMARY KEY)\n"
      ";;\n"
      "CREATE FUNCTION f() RETURNS NULL ON NULL INPUT RETURNS int LANGUAGE java AS $$ return 1; $$\n");
  ASSERT_EQ(st.size(), 4u);
  EXPECT_EQ(st[0].text, "CREATE TABLE a (k text PRIMARY KEY)");
  EXPECT_EQ(st[0].line, 2);
  EXPECT_EQ(st[1].text, "INSERT INTO a (k) VALUES ('x;y''s')");
  EXPECT_EQ(st[1].line, 4);
  EXPECT_THAT(st[2].text, HasSubstr("CREATE TABLE \"b;c\" (k int PRIMARY KEY)"));
  EXPECT_EQ(st[2].line, 6);
  EXPECT_THAT(st[3].text, HasSubstr("$$ return 1; $$"));
  EXPECT_EQ(st[3].line, 8);
}

TEST(SplitCqlTest, NothingButCommentsIsNoStatement) {
  EXPECT_TRUE(SplitCql("-- only\n/* comments */\n  ;\n").empty());
  EXPECT_TRUE(SplitCql("").empty());
}

TEST(MigrationChecksumTest, IsStableAndSeesEveryByte) {
  EXPECT_EQ(MigrationChecksum(""), "fnv1a64:cbf29ce484222325");
  EXPECT_NE(MigrationChecksum("CREATE TABLE a"), MigrationChecksum("CREATE TABLE a "));
  EXPECT_EQ(MigrationChecksum("x"), MigrationChecksum("x"));
}

TEST(ReplicationTest, ParsesTheSupportedSpecs) {
  EXPECT_EQ(CassandraReplication("SimpleStrategy").value(),
            "{'class': 'SimpleStrategy', 'replication_factor': 1}");
  EXPECT_EQ(CassandraReplication(" SimpleStrategy:3 ").value(),
            "{'class': 'SimpleStrategy', 'replication_factor': 3}");
  EXPECT_EQ(CassandraReplication("NetworkTopologyStrategy:dc1=3, dc-2=2").value(),
            "{'class': 'NetworkTopologyStrategy', 'dc1': 3, 'dc-2': 2}");
  for (const char* bad : {"", "Simple", "SimpleStrategy:0", "SimpleStrategy:x",
                          "NetworkTopologyStrategy", "NetworkTopologyStrategy:dc1",
                          "NetworkTopologyStrategy:dc'1=3", "NetworkTopologyStrategy:dc1=0"}) {
    EXPECT_EQ(CassandraReplication(bad).status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
}

TEST(KeyspaceNameTest, AcceptsWhatCassandraTakesUnquoted) {
  EXPECT_TRUE(IsValidKeyspace("dts"));
  EXPECT_TRUE(IsValidKeyspace("task_scheduler"));
  EXPECT_TRUE(IsValidKeyspace(std::string(48, 'k')));
  EXPECT_FALSE(IsValidKeyspace(std::string(49, 'k')));
  EXPECT_FALSE(IsValidKeyspace(""));
  EXPECT_FALSE(IsValidKeyspace("1dts"));
  EXPECT_FALSE(IsValidKeyspace("dts-x"));
  EXPECT_FALSE(IsValidKeyspace("dts; DROP"));
}

TEST(EmbeddedMigrationsTest, EqualTheFilesInOrder) {
  std::vector<std::string> files;
  for (const auto& entry : std::filesystem::directory_iterator(DTS_MIGRATIONS_DIR)) {
    if (entry.path().extension() == ".cql") files.push_back(entry.path().filename().string());
  }
  std::sort(files.begin(), files.end());
  const std::vector<Migration>& embedded = EmbeddedMigrations();
  ASSERT_EQ(embedded.size(), files.size());
  for (size_t i = 0; i < files.size(); ++i) {
    EXPECT_EQ(embedded[i].version + ".cql", files[i]);
    std::ifstream in(std::filesystem::path(DTS_MIGRATIONS_DIR) / files[i], std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    EXPECT_EQ(embedded[i].cql, text.str()) << files[i];
    EXPECT_FALSE(SplitCql(embedded[i].cql).empty()) << files[i];
  }
}

}  // namespace
}  // namespace dts::storage::cassandra_internal
