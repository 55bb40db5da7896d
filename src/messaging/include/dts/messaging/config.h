#pragma once

#include <map>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace dts::messaging {

// How to reach Kafka: the brokers, the client id and any other librdkafka
// property (SASL, SSL, tuning). Plain data; copy freely.
//
// From the environment (FromEnvironment):
//   KAFKA_BROKERS      bootstrap.servers           [127.0.0.1:9092]
//   KAFKA_CLIENT_ID    client.id                   [dts]
//   KAFKA_<NAME>       librdkafka property <name>, lower-cased with '_' -> '.':
//                        KAFKA_SECURITY_PROTOCOL=SASL_SSL  -> security.protocol
//                        KAFKA_SASL_MECHANISM=SCRAM-SHA-512 -> sasl.mechanism
//                        KAFKA_SASL_USERNAME / KAFKA_SASL_PASSWORD
//                        KAFKA_SSL_CA_LOCATION=/etc/ssl/ca.pem -> ssl.ca.location
//   The variables of Kafka's own shell scripts (KAFKA_HOME and every
//   KAFKA_*_OPTS, e.g. KAFKA_HEAP_OPTS) are ignored. Any other name that is
//   not a librdkafka property is an INVALID_ARGUMENT naming the variable, so a
//   typo never silently drops a security setting.
struct KafkaConfig {
  std::string brokers = "127.0.0.1:9092";
  std::string client_id = "dts";
  // Passed through to librdkafka as is (after the module's own defaults, so a
  // property here overrides them; brokers and client_id above win over
  // bootstrap.servers / client.id here).
  std::map<std::string, std::string> properties;

  // Reads the variables above from `env` (name -> value).
  static absl::StatusOr<KafkaConfig> FromEnvironment(const std::map<std::string, std::string>& env);
  // The same from this process's environment.
  static absl::StatusOr<KafkaConfig> FromProcessEnvironment();

  // "brokers=... client_id=... sasl.password=<redacted> ...": for logs. Values
  // of properties whose name contains password, secret or key are redacted.
  std::string DebugString() const;
};

// The environment variable name -> librdkafka property name mapping above
// ("KAFKA_SASL_USERNAME" -> "sasl.username"); empty for a name that is not
// mapped (no KAFKA_ prefix, KAFKA_BROKERS, KAFKA_CLIENT_ID, ignored names).
std::string PropertyForEnvironmentVariable(absl::string_view name);

// OK when librdkafka knows `name` and accepts `value` for it.
absl::Status ValidateProperty(const std::string& name, const std::string& value);

}  // namespace dts::messaging
