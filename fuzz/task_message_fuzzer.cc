// Feeds arbitrary bytes as the value of a dts.tasks record to what a worker
// does with it before it claims the run (cluster::DecodeTask), then turns an
// accepted START into the executor's RunRequest the way WorkerAgent::Launch
// does. Every input must be accepted or rejected with INVALID_ARGUMENT, and
// an accepted task must satisfy what the decoder promises.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>

#include "dts/allocator/allocator.h"
#include "dts/cluster/task_message.h"
#include "dts/execution/local_worker.h"
#include "google/protobuf/stubs/logging.h"

namespace {

// Parsing a string field that is not UTF-8 logs an error (the worker's
// Report() says the same): silence it, it is most of what random bytes give.
void IgnoreProtobufLog(google::protobuf::LogLevel, const char*, int, const std::string&) {}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  google::protobuf::SetLogHandler(&IgnoreProtobufLog);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::optional<std::string> value =
      size == 0 ? std::nullopt : std::optional<std::string>(std::string(reinterpret_cast<const char*>(data), size));
  absl::StatusOr<dts::v1::TaskMessage> task = dts::cluster::DecodeTask(value);
  if (!task.ok()) {
    if (task.status().code() != absl::StatusCode::kInvalidArgument) std::abort();
    if (task.status().message().empty()) std::abort();
    return 0;
  }
  const dts::v1::ExecutionResponse& run = task->run();
  if (run.id().empty() || run.id().size() > dts::cluster::kMaxTaskRunIdBytes) std::abort();
  if (task->kind() == dts::v1::TaskMessage::CANCEL) return 0;
  if (task->kind() != dts::v1::TaskMessage::START) std::abort();
  const dts::allocator::Resources grant = dts::allocator::ResourcesFromProto(run.resources());
  if (grant.cpu_millis < 0 || grant.memory_mib < 0 || grant.storage_mib < 0) std::abort();
  const dts::execution::RunRequest request =
      dts::execution::RunRequestFor(task->job(), run, grant, 64 * 1024);
  if (request.run_id.value() != run.id()) std::abort();
  return 0;
}
