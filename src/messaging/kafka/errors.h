#pragma once

#include <string>

#include <librdkafka/rdkafka.h>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace dts::metrics {
class Histogram;
}  // namespace dts::metrics

namespace dts::messaging::kafka {

// librdkafka error -> absl code:
//   timeouts (_TIMED_OUT, _MSG_TIMED_OUT, REQUEST_TIMED_OUT)      DEADLINE_EXCEEDED
//   no broker / leader / coordinator, transport, not enough
//   replicas, rebalance in progress on the coordinator             UNAVAILABLE
//   _QUEUE_FULL                                                    RESOURCE_EXHAUSTED
//   unknown topic or partition                                     NOT_FOUND
//   topic already exists                                           ALREADY_EXISTS
//   bad argument, config, topic name, message too large           INVALID_ARGUMENT
//   authorization                                                  PERMISSION_DENIED
//   authentication                                                 UNAUTHENTICATED
//   illegal generation, unknown member, rebalance (commit)        ABORTED
//   _DESTROY, _FATAL, _FENCED, _STATE, policy violation            FAILED_PRECONDITION
//   _PURGE_QUEUE, _PURGE_INFLIGHT (purged on close)                CANCELLED
//   unsupported version, _NOT_IMPLEMENTED                          UNIMPLEMENTED
//   anything else                                                  UNKNOWN
absl::StatusCode CodeFor(rd_kafka_resp_err_t err);

// OK for RD_KAFKA_RESP_ERR_NO_ERROR; else "<context>: <librdkafka text>".
absl::Status FromKafkaError(rd_kafka_resp_err_t err, absl::string_view context,
                            absl::string_view detail = "");

// Takes ownership of `error` (may be null: OK).
absl::Status FromKafkaError(rd_kafka_error_t* error, absl::string_view context);

// dts_kafka_errors_total{client="producer|consumer", code}: one error `client`
// reported or failed a call with.
void CountError(absl::string_view client, const absl::Status& status);
// dts_kafka_produce_duration_seconds: from the produce call to the broker's
// acknowledgement.
metrics::Histogram& ProduceLatency();
// Registers the Kafka families (so /metrics lists them before any event).
void RegisterMetrics();

}  // namespace dts::messaging::kafka
