#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <librdkafka/rdkafka.h>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "dts/messaging/config.h"

namespace dts::messaging::kafka {

struct ConfDeleter {
  void operator()(rd_kafka_conf_t* conf) const { rd_kafka_conf_destroy(conf); }
};
using ConfPtr = std::unique_ptr<rd_kafka_conf_t, ConfDeleter>;

using Properties = std::vector<std::pair<std::string, std::string>>;

// A librdkafka configuration: `defaults`, then config.properties, then
// bootstrap.servers / client.id from `config`, then `forced` (what the module
// relies on and the caller may not change). INVALID_ARGUMENT naming the
// property when librdkafka refuses one.
absl::StatusOr<ConfPtr> MakeConf(const KafkaConfig& config, const Properties& defaults,
                                 const Properties& forced);

// Milliseconds for a librdkafka property, at least `min`.
std::string Millis(absl::Duration d, int64_t min = 0);
// Milliseconds for a librdkafka timeout argument: clamped to [0, INT_MAX].
int TimeoutMs(absl::Duration d);

}  // namespace dts::messaging::kafka
