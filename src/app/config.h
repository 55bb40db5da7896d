#pragma once

// Settings of the `dts` binary from the environment and a `.env` file:
// flags win over the environment, the environment wins over `.env`
// (ARCHITECTURE.md, Configuration).

#include <map>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "dts/storage/cassandra_store.h"

namespace dts::app {

// Parses a `.env` file: `KEY=VALUE` lines, optionally prefixed by `export `;
// blank lines and lines starting with `#` are skipped; a value may be
// wrapped in single quotes (taken literally) or double quotes (\" \\ \n
// escapes); an unquoted value ends at ` #` and is trimmed. A missing file is
// an empty map; a line that is none of these is INVALID_ARGUMENT naming the
// file and line.
absl::StatusOr<std::map<std::string, std::string>> ParseDotEnv(const std::string& text,
                                                                const std::string& path);
absl::StatusOr<std::map<std::string, std::string>> ReadDotEnv(const std::string& path);

// The environment with a `.env` file beneath it.
class Settings {
 public:
  // Reads `dotenv_path` (default: `.env` in the working directory).
  static absl::StatusOr<Settings> Load(const std::string& dotenv_path = ".env");
  // The environment's value if set (even empty), else the file's.
  std::optional<std::string> Get(const std::string& name) const;
  // Every variable: the file's, overridden by the environment's.
  std::map<std::string, std::string> All() const;
  // A TCP port from `name` (1-65535, or 0 for "any", which tests use), else
  // `fallback`. INVALID_ARGUMENT naming the variable for anything else.
  absl::StatusOr<int> Port(const std::string& name, int fallback) const;

 private:
  std::map<std::string, std::string> file_;
};

// Cassandra flags; empty means "not given".
struct CassandraFlags {
  std::string hosts;
  std::string keyspace;
  std::string replication;
};

// CASSANDRA_HOSTS (default 127.0.0.1:9042), CASSANDRA_KEYSPACE (task_scheduler),
// CASSANDRA_REPLICATION (SimpleStrategy:1), CASSANDRA_USERNAME and
// CASSANDRA_PASSWORD (none), each from the flag, else the environment, else
// `.env`. Malformed values are INVALID_ARGUMENT naming the variable.
absl::StatusOr<storage::CassandraConfig> ResolveCassandraConfig(const CassandraFlags& flags,
                                                                const Settings& settings);

}  // namespace dts::app
