// `dts migrate --backend cassandra`: keyspace creation and the
// migrations/cassandra/*.cql files, recorded in <keyspace>.schema_migrations.

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "dts/cql/client.h"
#include "dts/storage/cassandra_store.h"
#include "storage/cassandra/migrations.h"

namespace dts::storage {
namespace cassandra_internal {

std::vector<CqlStatement> SplitCql(absl::string_view text) {
  std::vector<CqlStatement> out;
  std::string current;
  int line = 1;
  int start_line = 1;
  bool has_content = false;  // current holds more than whitespace
  auto flush = [&] {
    std::string trimmed(absl::StripAsciiWhitespace(current));
    if (!trimmed.empty()) out.push_back({std::move(trimmed), start_line});
    current.clear();
    has_content = false;
  };
  auto append = [&](char c) {
    if (!has_content && !absl::ascii_isspace(static_cast<unsigned char>(c))) {
      has_content = true;
      start_line = line;
    }
    current.push_back(c);
    if (c == '\n') ++line;
  };
  const size_t n = text.size();
  size_t i = 0;
  while (i < n) {
    const char c = text[i];
    const char next = i + 1 < n ? text[i + 1] : '\0';
    if ((c == '-' && next == '-') || (c == '/' && next == '/')) {  // line comment
      while (i < n && text[i] != '\n') ++i;
      continue;  // the newline itself is appended next round
    }
    if (c == '/' && next == '*') {  // block comment: keep its newlines for line numbers
      i += 2;
      while (i < n && !(text[i] == '*' && i + 1 < n && text[i + 1] == '/')) {
        if (text[i] == '\n') ++line;
        ++i;
      }
      i = std::min(n, i + 2);
      current.push_back(' ');
      continue;
    }
    if (c == '\'' || c == '"') {  // 'string' or "identifier"; doubled quote escapes
      append(c);
      ++i;
      while (i < n) {
        append(text[i]);
        if (text[i] == c) {
          if (i + 1 < n && text[i + 1] == c) {
            append(text[i + 1]);
            i += 2;
            continue;
          }
          ++i;
          break;
        }
        ++i;
      }
      continue;
    }
    if (c == '$' && next == '$') {  // $$ string $$
      append(c);
      append(next);
      i += 2;
      while (i < n && !(text[i] == '$' && i + 1 < n && text[i + 1] == '$')) append(text[i++]);
      if (i < n) {
        append('$');
        append('$');
        i += 2;
      }
      continue;
    }
    if (c == ';') {
      flush();
      ++i;
      continue;
    }
    append(c);
    ++i;
  }
  flush();
  return out;
}

std::string MigrationChecksum(absl::string_view text) {
  uint64_t hash = 14695981039346656037ull;
  for (unsigned char c : text) {
    hash ^= c;
    hash *= 1099511628211ull;
  }
  return absl::StrFormat("fnv1a64:%016x", hash);
}

bool IsValidKeyspace(absl::string_view keyspace) {
  if (keyspace.empty() || keyspace.size() > 48) return false;
  if (!absl::ascii_isalpha(static_cast<unsigned char>(keyspace[0]))) return false;
  return std::all_of(keyspace.begin(), keyspace.end(), [](char c) {
    return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '_';
  });
}

}  // namespace cassandra_internal

namespace {

using cassandra_internal::CqlStatement;
using cassandra_internal::MigrationChecksum;
using cassandra_internal::SplitCql;

// DDL can take a while on a loaded node (it is applied and flushed before the
// answer); more than the ordinary request timeout.
constexpr absl::Duration kDdlTimeout = absl::Seconds(60);

// A statement cut to a readable length for error messages, on one line.
std::string Excerpt(absl::string_view text) {
  std::string one_line;
  bool space = false;
  for (char c : text) {
    if (absl::ascii_isspace(static_cast<unsigned char>(c))) {
      space = true;
      continue;
    }
    if (space && !one_line.empty()) one_line.push_back(' ');
    space = false;
    one_line.push_back(c);
  }
  if (one_line.size() > 200) one_line = absl::StrCat(one_line.substr(0, 197), "...");
  return one_line;
}

// Waits (bounded) until every node reports the same schema version, so the
// next statement does not reach a node that has not seen the last one. On a
// single node this returns after one round.
void AwaitSchemaAgreement(cql::Client& client) {
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (absl::Now() < deadline) {
    absl::StatusOr<std::vector<cql::Row>> local =
        client.QueryAll(cql::Statement("SELECT schema_version FROM system.local").Idempotent());
    absl::StatusOr<std::vector<cql::Row>> peers =
        client.QueryAll(cql::Statement("SELECT schema_version FROM system.peers").Idempotent());
    if (!local.ok() || !peers.ok() || local->empty()) return;  // best effort
    absl::StatusOr<cql::Uuid> mine = (*local)[0].GetUuid(0);
    if (!mine.ok()) return;
    bool agreed = true;
    for (const cql::Row& row : *peers) {
      absl::StatusOr<cql::Uuid> theirs = row.GetUuid(0);
      if (theirs.ok() && *theirs != *mine) agreed = false;
    }
    if (agreed) return;
    absl::SleepFor(absl::Milliseconds(200));
  }
}

absl::Status Ddl(cql::Client& client, const std::string& cql, absl::string_view what) {
  absl::StatusOr<cql::Result> r = client.Query(cql::Statement(cql).WithTimeout(kDdlTimeout));
  if (!r.ok()) {
    return absl::Status(r.status().code(), absl::StrCat("migrate: ", what, ": ", r.status().message()));
  }
  AwaitSchemaAgreement(client);
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::string> CassandraReplication(absl::string_view spec) {
  std::string s(absl::StripAsciiWhitespace(spec));
  std::string strategy = s;
  std::string params;
  if (size_t colon = s.find(':'); colon != std::string::npos) {
    strategy = std::string(absl::StripAsciiWhitespace(s.substr(0, colon)));
    params = std::string(absl::StripAsciiWhitespace(s.substr(colon + 1)));
  }
  auto bad = [&](absl::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat(
        "replication \"", spec, "\": ", why,
        " (expected SimpleStrategy[:N] or NetworkTopologyStrategy:dc1=N[,dc2=M...])"));
  };
  if (strategy == "SimpleStrategy") {
    int rf = 1;
    if (!params.empty() && (!absl::SimpleAtoi(params, &rf) || rf < 1 || rf > 99)) {
      return bad("the replication factor must be a number from 1 to 99");
    }
    return absl::StrCat("{'class': 'SimpleStrategy', 'replication_factor': ", rf, "}");
  }
  if (strategy == "NetworkTopologyStrategy") {
    if (params.empty()) return bad("name at least one datacenter");
    std::string out = "{'class': 'NetworkTopologyStrategy'";
    for (absl::string_view entry : absl::StrSplit(params, ',')) {
      std::pair<std::string, std::string> kv = absl::StrSplit(entry, absl::MaxSplits('=', 1));
      std::string dc(absl::StripAsciiWhitespace(kv.first));
      int rf = 0;
      if (dc.empty() || !absl::SimpleAtoi(absl::StripAsciiWhitespace(kv.second), &rf) || rf < 1 ||
          rf > 99) {
        return bad(absl::StrCat("bad datacenter entry \"", entry, "\""));
      }
      const bool plain = std::all_of(dc.begin(), dc.end(), [](char c) {
        return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' ||
               c == '.';
      });
      if (!plain) return bad(absl::StrCat("bad datacenter name \"", dc, "\""));
      absl::StrAppend(&out, ", '", dc, "': ", rf);
    }
    return absl::StrCat(out, "}");
  }
  return bad(absl::StrCat("unknown strategy \"", strategy, "\""));
}

absl::StatusOr<cql::ClientOptions> CassandraClientOptions(const CassandraConfig& config) {
  absl::StatusOr<std::vector<cql::HostPort>> hosts = cql::ParseHosts(config.hosts);
  if (!hosts.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("CASSANDRA_HOSTS \"", config.hosts, "\": ", hosts.status().message()));
  }
  cql::ClientOptions options;
  options.hosts = *std::move(hosts);
  options.username = config.username;
  options.password = config.password;
  options.tls = config.tls;
  options.connect_timeout = config.connect_timeout;
  options.request_timeout = config.request_timeout;
  return options;
}

const std::vector<CassandraMigration>& EmbeddedCassandraMigrations() {
  return cassandra_internal::EmbeddedMigrations();
}

absl::StatusOr<std::vector<std::string>> MigrateCassandra(const CassandraConfig& config) {
  return MigrateCassandra(config, EmbeddedCassandraMigrations());
}

absl::StatusOr<std::vector<std::string>> MigrateCassandra(
    const CassandraConfig& config, const std::vector<CassandraMigration>& migrations) {
  if (!cassandra_internal::IsValidKeyspace(config.keyspace)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "keyspace \"", config.keyspace,
        "\": expected a letter, then up to 47 letters, digits or underscores"));
  }
  const std::string ks = absl::AsciiStrToLower(config.keyspace);
  absl::StatusOr<std::string> replication = CassandraReplication(config.replication);
  if (!replication.ok()) return replication.status();

  std::vector<const CassandraMigration*> ordered;
  for (const CassandraMigration& m : migrations) ordered.push_back(&m);
  std::sort(ordered.begin(), ordered.end(),
            [](const auto* a, const auto* b) { return a->version < b->version; });
  for (size_t i = 1; i < ordered.size(); ++i) {
    if (ordered[i - 1]->version == ordered[i]->version) {
      return absl::InternalError(absl::StrCat("migrate: version ", ordered[i]->version, " appears twice"));
    }
  }

  absl::StatusOr<cql::ClientOptions> options = CassandraClientOptions(config);
  if (!options.ok()) return options.status();
  absl::StatusOr<std::unique_ptr<cql::Client>> client = cql::Client::Create(*options);
  if (!client.ok()) {
    return absl::Status(client.status().code(),
                        absl::StrCat("migrate: connecting to ", config.hosts, ": ",
                                     client.status().message()));
  }
  cql::Client& c = **client;

  // The keyspace and the bookkeeping table are not migrations themselves:
  // they must exist before we can ask which migrations ran. An existing
  // keyspace keeps its replication (changing it needs a repair; do it by hand).
  if (absl::Status s = Ddl(c, absl::StrCat("CREATE KEYSPACE IF NOT EXISTS ", ks,
                                           " WITH replication = ", *replication),
                           absl::StrCat("create keyspace ", ks));
      !s.ok()) {
    return s;
  }
  if (absl::Status s = Ddl(c,
                           absl::StrCat("CREATE TABLE IF NOT EXISTS ", ks,
                                        ".schema_migrations (version text PRIMARY KEY, "
                                        "checksum text, applied_at timestamp)"),
                           "create schema_migrations");
      !s.ok()) {
    return s;
  }

  absl::StatusOr<std::vector<cql::Row>> rows = c.QueryAll(
      cql::Statement(absl::StrCat("SELECT version, checksum FROM ", ks, ".schema_migrations"))
          .Idempotent());
  if (!rows.ok()) {
    return absl::Status(rows.status().code(),
                        absl::StrCat("migrate: read schema_migrations: ", rows.status().message()));
  }
  std::map<std::string, std::string> applied;  // version -> checksum
  for (const cql::Row& row : *rows) {
    absl::StatusOr<std::string> version = row.GetText(0);
    absl::StatusOr<cql::Value> checksum = row.Get(1);
    if (!version.ok() || !checksum.ok()) {
      return absl::InternalError("migrate: unreadable row in schema_migrations");
    }
    applied[*version] = checksum->is_null() ? "" : checksum->AsText().value_or("");
  }

  // Refuse before applying anything: an unknown version means a newer dts
  // migrated this keyspace; a changed checksum means a file was edited after
  // it ran, and its new text would never be applied.
  for (const auto& [version, checksum] : applied) {
    // A plain reference for the lambda: clang (the fuzz build) cannot capture a
    // structured binding in C++20.
    const std::string& name = version;
    auto it = std::find_if(ordered.begin(), ordered.end(),
                           [&name](const auto* m) { return m->version == name; });
    if (it == ordered.end()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "migrate: keyspace ", ks, " has migration ", version,
          ", which this dts does not know; it was written by a newer version"));
    }
    const std::string now = MigrationChecksum((*it)->cql);
    if (checksum != now) {
      return absl::FailedPreconditionError(absl::StrCat(
          "migrate: migration ", version, ".cql was changed after it was applied to keyspace ",
          ks, " (recorded checksum ", checksum, ", file now ", now,
          "); restore it and put the change in a new migration"));
    }
  }

  std::vector<std::string> newly_applied;
  std::unique_ptr<cql::Client> in_keyspace;  // USE ks on every connection
  for (const CassandraMigration* m : ordered) {
    if (applied.count(m->version) > 0) continue;
    if (in_keyspace == nullptr) {
      cql::ClientOptions ks_options = *options;
      ks_options.keyspace = ks;
      absl::StatusOr<std::unique_ptr<cql::Client>> kc = cql::Client::Create(ks_options);
      if (!kc.ok()) return kc.status();
      in_keyspace = *std::move(kc);
    }
    const std::vector<CqlStatement> statements = SplitCql(m->cql);
    for (size_t i = 0; i < statements.size(); ++i) {
      const CqlStatement& st = statements[i];
      absl::StatusOr<cql::Result> r =
          in_keyspace->Query(cql::Statement(st.text).WithTimeout(kDdlTimeout));
      if (!r.ok()) {
        return absl::Status(
            r.status().code() == absl::StatusCode::kInvalidArgument ? absl::StatusCode::kFailedPrecondition
                                                                    : r.status().code(),
            absl::StrCat("migrate: ", m->version, ".cql, statement ", i + 1, " (line ", st.line,
                         ") failed: ", r.status().message(), "\n  statement: ", Excerpt(st.text),
                         "\n  the migration is not recorded; statements before it in the file "
                         "stay applied"));
      }
      if (r->kind == cql::ResultKind::kSchemaChange) AwaitSchemaAgreement(*in_keyspace);
    }
    absl::StatusOr<cql::Result> recorded = c.Execute(cql::Statement(
        absl::StrCat("INSERT INTO ", ks,
                     ".schema_migrations (version, checksum, applied_at) VALUES (?, ?, ?)"),
        {cql::Value(m->version), cql::Value(MigrationChecksum(m->cql)),
         cql::Value::Timestamp(absl::Now())}).Idempotent());
    if (!recorded.ok()) {
      return absl::Status(recorded.status().code(),
                          absl::StrCat("migrate: ", m->version, ".cql applied but not recorded: ",
                                       recorded.status().message()));
    }
    newly_applied.push_back(m->version);
  }
  return newly_applied;
}

}  // namespace dts::storage
