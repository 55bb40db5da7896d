#pragma once
// Shared by the storage tests against the real Cassandra of
// scripts/services.sh: endpoint and login from the environment (as the CQL
// client's tests), unique keyspace names.

#include <cstdlib>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "dts/cql/value.h"
#include "dts/storage/cassandra_store.h"

namespace dts::storage::testing {

inline std::string EnvOr(const char* name, const char* fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? v : fallback;
}

// CASSANDRA_HOSTS (default 127.0.0.1) with DTS_CASSANDRA_PORT (default 9042)
// for entries without a port; CASSANDRA_USERNAME/PASSWORD (cassandra).
inline CassandraConfig TestConfig(const std::string& keyspace) {
  CassandraConfig config;
  const std::string port = EnvOr("DTS_CASSANDRA_PORT", "9042");
  std::string hosts;
  for (absl::string_view host : absl::StrSplit(EnvOr("CASSANDRA_HOSTS", "127.0.0.1"), ',')) {
    host = absl::StripAsciiWhitespace(host);
    if (host.empty()) continue;
    const bool has_port = host.find(':') != absl::string_view::npos && host.front() != '[';
    absl::StrAppend(&hosts, hosts.empty() ? "" : ",", host, has_port ? "" : absl::StrCat(":", port));
  }
  config.hosts = hosts;
  config.keyspace = keyspace;
  config.username = EnvOr("CASSANDRA_USERNAME", "cassandra");
  config.password = EnvOr("CASSANDRA_PASSWORD", "cassandra");
  config.connect_timeout = absl::Seconds(10);
  config.request_timeout = absl::Seconds(30);  // schema changes on a busy CI box
  return config;
}

// A keyspace name unique to this process: `prefix` and 8 random hex digits.
inline std::string UniqueKeyspace(absl::string_view prefix) {
  return absl::AsciiStrToLower(
      absl::StrCat(prefix, "_", cql::Uuid::Random().ToString().substr(0, 8)));
}

}  // namespace dts::storage::testing
