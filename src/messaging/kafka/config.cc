// KafkaConfig: environment parsing and the librdkafka configuration builder.
#include <algorithm>
#include <cctype>
#include <climits>
#include <cstdlib>
#include <map>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "dts/messaging/config.h"
#include "messaging/kafka/client.h"

extern char** environ;

namespace dts::messaging {
namespace {

constexpr absl::string_view kPrefix = "KAFKA_";

bool IsSecretName(const std::string& name) {
  const std::string lower = absl::AsciiStrToLower(name);
  return absl::StrContains(lower, "password") || absl::StrContains(lower, "secret") ||
         absl::StrContains(lower, "key");
}

}  // namespace

std::string PropertyForEnvironmentVariable(absl::string_view name) {
  if (!absl::StartsWith(name, kPrefix)) return "";
  absl::string_view rest = name.substr(kPrefix.size());
  if (rest.empty() || rest == "BROKERS" || rest == "CLIENT_ID" || rest == "HOME" ||
      absl::EndsWith(rest, "_OPTS") || rest == "OPTS") {
    return "";
  }
  std::string property = absl::AsciiStrToLower(rest);
  std::replace(property.begin(), property.end(), '_', '.');
  return property;
}

absl::Status ValidateProperty(const std::string& name, const std::string& value) {
  kafka::ConfPtr conf(rd_kafka_conf_new());
  char err[512];
  if (rd_kafka_conf_set(conf.get(), name.c_str(), value.c_str(), err, sizeof err) !=
      RD_KAFKA_CONF_OK) {
    return absl::InvalidArgumentError(absl::StrCat("kafka property ", name, ": ", err));
  }
  return absl::OkStatus();
}

absl::StatusOr<KafkaConfig> KafkaConfig::FromEnvironment(
    const std::map<std::string, std::string>& env) {
  KafkaConfig config;
  for (const auto& [name, value] : env) {
    if (name == "KAFKA_BROKERS") {
      if (!value.empty()) config.brokers = value;
      continue;
    }
    if (name == "KAFKA_CLIENT_ID") {
      if (!value.empty()) config.client_id = value;
      continue;
    }
    const std::string property = PropertyForEnvironmentVariable(name);
    if (property.empty()) continue;
    if (absl::Status s = ValidateProperty(property, value); !s.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(name, ": ", s.message()));
    }
    config.properties[property] = value;
  }
  return config;
}

absl::StatusOr<KafkaConfig> KafkaConfig::FromProcessEnvironment() {
  std::map<std::string, std::string> env;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    absl::string_view entry(*e);
    if (!absl::StartsWith(entry, kPrefix)) continue;
    const size_t eq = entry.find('=');
    if (eq == absl::string_view::npos) continue;
    env.emplace(std::string(entry.substr(0, eq)), std::string(entry.substr(eq + 1)));
  }
  return FromEnvironment(env);
}

std::string KafkaConfig::DebugString() const {
  std::string out = absl::StrCat("brokers=", brokers, " client_id=", client_id);
  for (const auto& [name, value] : properties) {
    absl::StrAppend(&out, " ", name, "=", IsSecretName(name) ? "<redacted>" : value);
  }
  return out;
}

namespace kafka {

absl::StatusOr<ConfPtr> MakeConf(const KafkaConfig& config, const Properties& defaults,
                                 const Properties& forced) {
  ConfPtr conf(rd_kafka_conf_new());
  char err[512];
  auto set = [&](const std::string& name, const std::string& value) -> absl::Status {
    if (rd_kafka_conf_set(conf.get(), name.c_str(), value.c_str(), err, sizeof err) !=
        RD_KAFKA_CONF_OK) {
      return absl::InvalidArgumentError(absl::StrCat("kafka property ", name, ": ", err));
    }
    return absl::OkStatus();
  };
  for (const auto& [name, value] : defaults) {
    if (absl::Status s = set(name, value); !s.ok()) return s;
  }
  for (const auto& [name, value] : config.properties) {
    if (absl::Status s = set(name, value); !s.ok()) return s;
  }
  if (absl::Status s = set("bootstrap.servers", config.brokers); !s.ok()) return s;
  if (absl::Status s = set("client.id", config.client_id); !s.ok()) return s;
  for (const auto& [name, value] : forced) {
    if (absl::Status s = set(name, value); !s.ok()) return s;
  }
  return conf;
}

std::string Millis(absl::Duration d, int64_t min) {
  return absl::StrCat(std::max<int64_t>(min, absl::ToInt64Milliseconds(d)));
}

int TimeoutMs(absl::Duration d) {
  if (d <= absl::ZeroDuration()) return 0;
  const int64_t ms = absl::ToInt64Milliseconds(absl::Ceil(d, absl::Milliseconds(1)));
  return static_cast<int>(std::min<int64_t>(ms, INT_MAX));
}

}  // namespace kafka
}  // namespace dts::messaging
