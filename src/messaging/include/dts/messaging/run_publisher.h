#pragma once

#include <string>

#include "absl/time/time.h"
#include "dts/execution/executor.h"
#include "dts/messaging/message.h"
#include "dts/messaging/producer.h"

namespace dts::messaging {

// The message of a kafka run (see README.md, "The kafka executor message"):
//   topic    request.kafka.topic
//   key      request.kafka.key, or the job id when that is empty
//   value    {"job_id":"...","run_id":"...","scheduled_time":"2026-03-08T07:00:00Z",
//             "metadata":{"k":"v"},"payload":"..."}
//            UTF-8 JSON, keys in this order, metadata keys sorted;
//            scheduled_time is RFC 3339 UTC (fractional seconds only when
//            non-zero) or null when unknown; payload is always a JSON string
//            (the job's payload verbatim, escaped).
//   headers  dts-job-id, dts-run-id, dts-scheduled-time (when known),
//            content-type: application/json
OutgoingMessage RunMessage(const execution::KafkaPublishRequest& request);
std::string EncodeRunMessageValue(const execution::KafkaPublishRequest& request);

// `text` as a JSON string literal, quotes included.
std::string JsonQuote(const std::string& text);

// ExecutorOptions::kafka_publish over `producer` (not owned; it must outlive
// the function): Send(RunMessage(request), timeout), with request.timeout or
// `default_timeout` when that is zero. OK only on the broker's acknowledgement.
// Error messages name the topic: "kafka publish to events: <reason>".
execution::KafkaPublishFn MakeKafkaPublish(Producer* producer,
                                           absl::Duration default_timeout = absl::Seconds(30));

}  // namespace dts::messaging
