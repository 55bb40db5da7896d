#include "app/config.h"

#include <cstdlib>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace dts::app {
namespace {

using ::testing::HasSubstr;

TEST(DotEnvTest, ParsesTheUsualForms) {
  absl::StatusOr<std::map<std::string, std::string>> env = ParseDotEnv(
      "# the seed's file\n"
      "KAFKA_BROKERS=localhost:9092\n"
      "  CASSANDRA_HOSTS = h1:9042,h2  # two hosts\n"
      "export CASSANDRA_KEYSPACE=task_scheduler\n"
      "\n"
      "SINGLE='a # b \\n'\n"
      "DOUBLE=\"x \\\"y\\\"\\n\"\n"
      "EMPTY=\n",
      ".env");
  ASSERT_TRUE(env.ok()) << env.status();
  EXPECT_EQ(env->at("KAFKA_BROKERS"), "localhost:9092");
  EXPECT_EQ(env->at("CASSANDRA_HOSTS"), "h1:9042,h2");
  EXPECT_EQ(env->at("CASSANDRA_KEYSPACE"), "task_scheduler");
  EXPECT_EQ(env->at("SINGLE"), "a # b \\n");
  EXPECT_EQ(env->at("DOUBLE"), "x \"y\"\n");
  EXPECT_EQ(env->at("EMPTY"), "");
}

TEST(DotEnvTest, MalformedLinesNameTheFileAndLine) {
  EXPECT_THAT(std::string(ParseDotEnv("A=1\nnot a setting\n", "/x/.env").status().message()),
              HasSubstr("/x/.env:2"));
  EXPECT_FALSE(ParseDotEnv("1A=1\n", ".env").ok());
  EXPECT_FALSE(ParseDotEnv("A='open\n", ".env").ok());
  EXPECT_FALSE(ParseDotEnv("A='x' y\n", ".env").ok());
}

TEST(DotEnvTest, AMissingFileIsEmpty) {
  absl::StatusOr<std::map<std::string, std::string>> env = ReadDotEnv("/nonexistent/.env");
  ASSERT_TRUE(env.ok()) << env.status();
  EXPECT_TRUE(env->empty());
}

TEST(CassandraConfigTest, FlagsWinOverEnvironmentWhichWinsOverTheFile) {
  const std::string path = ::testing::TempDir() + "/dts-config-test.env";
  {
    FILE* f = std::fopen(path.c_str(), "w");
    ASSERT_NE(f, nullptr);
    std::fputs("CASSANDRA_HOSTS=file-host\nCASSANDRA_KEYSPACE=from_file\nDTS_CONFIG_TEST_ONLY=file\n", f);
    std::fclose(f);
  }
  ::unsetenv("CASSANDRA_HOSTS");
  ::unsetenv("CASSANDRA_REPLICATION");
  ::setenv("CASSANDRA_KEYSPACE", "from_env", 1);
  absl::StatusOr<Settings> settings = Settings::Load(path);
  ASSERT_TRUE(settings.ok()) << settings.status();
  EXPECT_EQ(settings->Get("DTS_CONFIG_TEST_ONLY"), "file");
  absl::StatusOr<storage::CassandraConfig> config = ResolveCassandraConfig({}, *settings);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->hosts, "file-host");
  EXPECT_EQ(config->keyspace, "from_env");
  EXPECT_EQ(config->replication, "SimpleStrategy:1");
  config = ResolveCassandraConfig({"flag-host:9043", "from_flag", "SimpleStrategy:3"}, *settings);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->hosts, "flag-host:9043");
  EXPECT_EQ(config->keyspace, "from_flag");
  EXPECT_EQ(config->replication, "SimpleStrategy:3");
  ::unsetenv("CASSANDRA_KEYSPACE");

  absl::StatusOr<Settings> none = Settings::Load("/nonexistent/.env");
  ASSERT_TRUE(none.ok());
  config = ResolveCassandraConfig({}, *none);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->hosts, "127.0.0.1:9042");
  EXPECT_EQ(config->keyspace, "task_scheduler");
  EXPECT_EQ(ResolveCassandraConfig({"h:notaport", "", ""}, *none).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ResolveCassandraConfig({"", "", "Bogus"}, *none).status().code(),
            absl::StatusCode::kInvalidArgument);
}

// The CASSANDRA_TLS* variables: off unless CASSANDRA_TLS=true, a file
// variable without it is an error, and each bad file names its variable.
TEST(CassandraConfigTest, TlsVariablesAreCheckedAndNamed) {
  const std::string dir = ::testing::TempDir();
  const std::string junk = dir + "/dts-config-junk.pem";
  if (FILE* f = std::fopen(junk.c_str(), "w")) {
    std::fputs("not a certificate\n", f);
    std::fclose(f);
  }
  const char* vars[] = {"CASSANDRA_TLS", "CASSANDRA_TLS_CA", "CASSANDRA_TLS_CERT",
                        "CASSANDRA_TLS_KEY", "CASSANDRA_TLS_SERVER_NAME", "CASSANDRA_TLS_VERIFY"};
  auto clear = [&] {
    for (const char* v : vars) ::unsetenv(v);
  };
  clear();
  absl::StatusOr<Settings> settings = Settings::Load("/nonexistent/.env");
  ASSERT_TRUE(settings.ok());
  auto resolve = [&] { return ResolveCassandraConfig({}, *settings); };
  auto expect_error = [&](absl::string_view needle) {
    absl::StatusOr<storage::CassandraConfig> c = resolve();
    EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument) << needle;
    EXPECT_THAT(c.status().message(), HasSubstr(needle));
  };

  ASSERT_TRUE(resolve().ok());
  EXPECT_FALSE(resolve()->tls.enabled);

  ::setenv("CASSANDRA_TLS", "maybe", 1);
  expect_error("CASSANDRA_TLS \"maybe\"");

  ::setenv("CASSANDRA_TLS", "false", 1);
  ::setenv("CASSANDRA_TLS_CA", junk.c_str(), 1);
  expect_error("CASSANDRA_TLS_CA is set but CASSANDRA_TLS is not true");

  ::setenv("CASSANDRA_TLS", "true", 1);
  expect_error("CASSANDRA_TLS_CA: tls.ca_file");
  ::setenv("CASSANDRA_TLS_CA", (dir + "/dts-no-such-ca.pem").c_str(), 1);
  expect_error("cannot read");

  // With the system's CA store, only the client pair is checked.
  ::unsetenv("CASSANDRA_TLS_CA");
  ::setenv("CASSANDRA_TLS_CERT", junk.c_str(), 1);
  expect_error("CASSANDRA_TLS_CERT / CASSANDRA_TLS_KEY");
  ::unsetenv("CASSANDRA_TLS_CERT");

  ::setenv("CASSANDRA_TLS_VERIFY", "sometimes", 1);
  expect_error("CASSANDRA_TLS_VERIFY");
  ::setenv("CASSANDRA_TLS_VERIFY", "ca", 1);
  ::setenv("CASSANDRA_TLS_SERVER_NAME", "db.internal", 1);
  absl::StatusOr<storage::CassandraConfig> ok = resolve();
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_TRUE(ok->tls.enabled);
  EXPECT_EQ(ok->tls.verify, cql::TlsVerify::kCa);
  EXPECT_EQ(ok->tls.server_name, "db.internal");
  clear();
}

TEST(SettingsTest, AllMergesTheEnvironmentOverTheFileAndPortsAreChecked) {
  const std::string path = ::testing::TempDir() + "/dts-settings-test.env";
  {
    FILE* f = std::fopen(path.c_str(), "w");
    ASSERT_NE(f, nullptr);
    std::fputs("DTS_T_A=file\nDTS_T_B=file\nDTS_T_PORT=50054\nDTS_T_BAD=70000\n", f);
    std::fclose(f);
  }
  ::setenv("DTS_T_B", "env", 1);
  absl::StatusOr<Settings> settings = Settings::Load(path);
  ASSERT_TRUE(settings.ok()) << settings.status();
  std::map<std::string, std::string> all = settings->All();
  EXPECT_EQ(all["DTS_T_A"], "file");
  EXPECT_EQ(all["DTS_T_B"], "env");
  EXPECT_EQ(settings->Port("DTS_T_PORT", 1).value(), 50054);
  EXPECT_EQ(settings->Port("DTS_T_UNSET", 8081).value(), 8081);
  absl::StatusOr<int> bad = settings->Port("DTS_T_BAD", 1);
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(bad.status().message(), HasSubstr("DTS_T_BAD"));
  ::unsetenv("DTS_T_B");
}

}  // namespace
}  // namespace dts::app
