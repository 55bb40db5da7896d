#include "app/config.h"

#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "dts/cql/client.h"

namespace dts::app {
namespace {

// CASSANDRA_TLS (true|false), CASSANDRA_TLS_CA, CASSANDRA_TLS_CERT,
// CASSANDRA_TLS_KEY, CASSANDRA_TLS_SERVER_NAME, CASSANDRA_TLS_VERIFY
// (full|ca|none). The files are checked now, each error naming its variable.
absl::StatusOr<cql::TlsOptions> ResolveCassandraTls(const Settings& settings) {
  auto get = [&](const char* name) { return settings.Get(name).value_or(""); };
  cql::TlsOptions tls;
  if (const std::string on = get("CASSANDRA_TLS"); !on.empty() && !absl::SimpleAtob(on, &tls.enabled)) {
    return absl::InvalidArgumentError(absl::StrCat("CASSANDRA_TLS \"", on, "\": expected true or false"));
  }
  tls.ca_file = get("CASSANDRA_TLS_CA");
  tls.cert_file = get("CASSANDRA_TLS_CERT");
  tls.key_file = get("CASSANDRA_TLS_KEY");
  tls.server_name = get("CASSANDRA_TLS_SERVER_NAME");
  const std::string verify = get("CASSANDRA_TLS_VERIFY");
  if (!tls.enabled) {
    for (const char* name : {"CASSANDRA_TLS_CA", "CASSANDRA_TLS_CERT", "CASSANDRA_TLS_KEY",
                             "CASSANDRA_TLS_SERVER_NAME", "CASSANDRA_TLS_VERIFY"}) {
      if (!get(name).empty()) {
        return absl::InvalidArgumentError(
            absl::StrCat(name, " is set but CASSANDRA_TLS is not true: set CASSANDRA_TLS=true to use TLS"));
      }
    }
    return tls;
  }
  if (!verify.empty()) {
    absl::StatusOr<cql::TlsVerify> v = cql::ParseTlsVerify(verify);
    if (!v.ok()) return absl::InvalidArgumentError(absl::StrCat("CASSANDRA_TLS_VERIFY ", v.status().message()));
    tls.verify = *v;
  }
  cql::TlsOptions ca_only = tls;
  ca_only.cert_file.clear();
  ca_only.key_file.clear();
  if (absl::Status s = cql::CheckTlsOptions(ca_only); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("CASSANDRA_TLS_CA: ", s.message()));
  }
  if (absl::Status s = cql::CheckTlsOptions(tls); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("CASSANDRA_TLS_CERT / CASSANDRA_TLS_KEY: ", s.message()));
  }
  return tls;
}

bool IsName(absl::string_view name) {
  if (name.empty() || absl::ascii_isdigit(static_cast<unsigned char>(name[0]))) return false;
  for (char c : name) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '_') return false;
  }
  return true;
}

}  // namespace

absl::StatusOr<std::map<std::string, std::string>> ParseDotEnv(const std::string& text,
                                                                const std::string& path) {
  std::map<std::string, std::string> out;
  int number = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++number;
    auto bad = [&](absl::string_view why) {
      return absl::InvalidArgumentError(absl::StrCat(path, ":", number, ": ", why));
    };
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || line[0] == '#') continue;
    if (absl::StartsWith(line, "export ")) line = absl::StripLeadingAsciiWhitespace(line.substr(7));
    const size_t eq = line.find('=');
    if (eq == absl::string_view::npos) return bad("expected KEY=VALUE");
    const std::string key(absl::StripAsciiWhitespace(line.substr(0, eq)));
    if (!IsName(key)) return bad(absl::StrCat("\"", key, "\" is not a variable name"));
    absl::string_view raw = absl::StripLeadingAsciiWhitespace(line.substr(eq + 1));
    std::string value;
    if (!raw.empty() && (raw[0] == '\'' || raw[0] == '"')) {
      const char quote = raw[0];
      size_t i = 1;
      bool closed = false;
      for (; i < raw.size(); ++i) {
        char c = raw[i];
        if (c == quote) {
          closed = true;
          break;
        }
        if (quote == '"' && c == '\\' && i + 1 < raw.size()) {
          c = raw[++i];
          if (c == 'n') c = '\n';
        }
        value.push_back(c);
      }
      if (!closed) return bad("unterminated quote");
      absl::string_view rest = absl::StripAsciiWhitespace(raw.substr(i + 1));
      if (!rest.empty() && rest[0] != '#') return bad("text after the closing quote");
    } else {
      if (size_t hash = raw.find(" #"); hash != absl::string_view::npos) raw = raw.substr(0, hash);
      value = std::string(absl::StripAsciiWhitespace(raw));
    }
    out[key] = std::move(value);
  }
  return out;
}

absl::StatusOr<std::map<std::string, std::string>> ReadDotEnv(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::map<std::string, std::string>();  // no file: nothing to add
  std::stringstream text;
  text << in.rdbuf();
  return ParseDotEnv(text.str(), path);
}

absl::StatusOr<Settings> Settings::Load(const std::string& dotenv_path) {
  absl::StatusOr<std::map<std::string, std::string>> file = ReadDotEnv(dotenv_path);
  if (!file.ok()) return file.status();
  Settings settings;
  settings.file_ = *std::move(file);
  return settings;
}

std::optional<std::string> Settings::Get(const std::string& name) const {
  if (const char* env = std::getenv(name.c_str()); env != nullptr) return std::string(env);
  auto it = file_.find(name);
  if (it != file_.end()) return it->second;
  return std::nullopt;
}

std::map<std::string, std::string> Settings::All() const {
  std::map<std::string, std::string> all = file_;
  for (char** env = environ; env != nullptr && *env != nullptr; ++env) {
    absl::string_view entry(*env);
    const size_t eq = entry.find('=');
    if (eq == absl::string_view::npos) continue;
    all[std::string(entry.substr(0, eq))] = std::string(entry.substr(eq + 1));
  }
  return all;
}

absl::StatusOr<int> Settings::Port(const std::string& name, int fallback) const {
  std::optional<std::string> value = Get(name);
  if (!value || value->empty()) return fallback;
  int port = 0;
  if (!absl::SimpleAtoi(*value, &port) || port < 0 || port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat(name, " \"", *value, "\": expected a port number 0-65535"));
  }
  return port;
}

absl::StatusOr<storage::CassandraConfig> ResolveCassandraConfig(const CassandraFlags& flags,
                                                                const Settings& settings) {
  storage::CassandraConfig config;
  auto pick = [&](const std::string& flag, const char* name, std::string* out) {
    if (!flag.empty()) {
      *out = flag;
    } else if (std::optional<std::string> v = settings.Get(name); v && !v->empty()) {
      *out = *v;
    }
  };
  pick(flags.hosts, "CASSANDRA_HOSTS", &config.hosts);
  pick(flags.keyspace, "CASSANDRA_KEYSPACE", &config.keyspace);
  pick(flags.replication, "CASSANDRA_REPLICATION", &config.replication);
  pick("", "CASSANDRA_USERNAME", &config.username);
  pick("", "CASSANDRA_PASSWORD", &config.password);
  absl::StatusOr<cql::TlsOptions> tls = ResolveCassandraTls(settings);
  if (!tls.ok()) return tls.status();
  config.tls = *std::move(tls);
  if (absl::StatusOr<std::vector<cql::HostPort>> hosts = cql::ParseHosts(config.hosts); !hosts.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("CASSANDRA_HOSTS \"", config.hosts, "\": ", hosts.status().message()));
  }
  if (absl::StatusOr<std::string> r = storage::CassandraReplication(config.replication); !r.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("CASSANDRA_REPLICATION: ", r.status().message()));
  }
  return config;
}

}  // namespace dts::app
