#pragma once

// Decoding a dts.tasks record (proto/dts/v1/cluster.proto, TaskMessage): what
// a worker checks before it holds, claims or runs anything of it. Pure, so
// that it is unit-tested and fuzzed (fuzz/task_message_fuzzer.cc).

#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "dts/v1/cluster.pb.h"

namespace dts::cluster {

// Longest run id a task may carry (ours are 36-character UUIDs).
inline constexpr size_t kMaxTaskRunIdBytes = 256;

// The task in `value` (unset: a tombstone). INVALID_ARGUMENT, saying why,
// for a record that is no task: not a TaskMessage, an unknown kind, no run
// id or one longer than kMaxTaskRunIdBytes, and for a START whose grant is
// negative (it would add capacity) or whose run's scheduled_time is not a
// valid Timestamp. Redelivering such a record would not fix it.
absl::StatusOr<v1::TaskMessage> DecodeTask(const std::optional<std::string>& value);

}  // namespace dts::cluster
