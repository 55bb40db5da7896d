#pragma once
// Shared by the tests against the real Cassandra (scripts/services.sh):
// endpoint and credentials from the environment, unique keyspace names.

#include <cstdlib>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "dts/cql/client.h"
#include "gtest/gtest.h"

namespace dts::cql::testing {

inline std::string Env(const char* name, const char* fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? v : fallback;
}

// CASSANDRA_HOSTS (default 127.0.0.1) with DTS_CASSANDRA_PORT (default 9042)
// for entries without a port; CASSANDRA_USERNAME/PASSWORD (cassandra).
inline ClientOptions Options() {
  uint32_t port = 9042;
  EXPECT_TRUE(absl::SimpleAtoi(Env("DTS_CASSANDRA_PORT", "9042"), &port));
  auto hosts = ParseHosts(Env("CASSANDRA_HOSTS", "127.0.0.1"), static_cast<uint16_t>(port));
  EXPECT_TRUE(hosts.ok()) << hosts.status();
  ClientOptions o;
  if (hosts.ok()) o.hosts = *hosts;
  o.username = Env("CASSANDRA_USERNAME", "cassandra");
  o.password = Env("CASSANDRA_PASSWORD", "cassandra");
  o.connect_timeout = absl::Seconds(10);
  o.request_timeout = absl::Seconds(30);  // schema changes on a busy CI box
  return o;
}

// Where scripts/services.sh put the dev server's TLS files (ca.pem, and
// client.pem/client.key signed by it): DTS_CASSANDRA_TLS_DIR, else
// <DTS_SERVICES_DIR or $TMPDIR/dts-services>/cassandra-<port>/tls.
inline std::string DevTlsDir() {
  std::string dir = Env("DTS_CASSANDRA_TLS_DIR", "");
  if (!dir.empty()) return dir;
  const std::string root =
      Env("DTS_SERVICES_DIR", absl::StrCat(Env("TMPDIR", "/tmp"), "/dts-services").c_str());
  return absl::StrCat(root, "/cassandra-", Env("DTS_CASSANDRA_PORT", "9042"), "/tls");
}

// A keyspace name unique to this test and process.
inline std::string KeyspaceFor(const char* test) {
  // Cassandra allows 48 characters.
  return absl::AsciiStrToLower(absl::StrCat(
      "cql_", absl::string_view(test).substr(0, 24), "_", Uuid::Random().ToString().substr(0, 8)));
}

inline absl::Status CreateKeyspace(Client& c, const std::string& ks) {
  Statement st(absl::StrCat("CREATE KEYSPACE ", ks,
                            " WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}"));
  return c.Query(st).status();
}

inline void DropKeyspace(Client& c, const std::string& ks) {
  auto r = c.Query(Statement(absl::StrCat("DROP KEYSPACE IF EXISTS ", ks)));
  EXPECT_TRUE(r.ok()) << r.status();
}

}  // namespace dts::cql::testing
