#include "dts/cluster/task_message.h"

#include "absl/strings/str_cat.h"

namespace dts::cluster {
namespace {

// google.protobuf.Timestamp's documented range: 0001-01-01 to 9999-12-31.
constexpr int64_t kMinTimestampSeconds = -62'135'596'800;
constexpr int64_t kMaxTimestampSeconds = 253'402'300'799;

bool ValidTimestamp(const google::protobuf::Timestamp& t) {
  return t.seconds() >= kMinTimestampSeconds && t.seconds() <= kMaxTimestampSeconds &&
         t.nanos() >= 0 && t.nanos() <= 999'999'999;
}

}  // namespace

absl::StatusOr<v1::TaskMessage> DecodeTask(const std::optional<std::string>& value) {
  if (!value) return absl::InvalidArgumentError("no value (a tombstone)");
  v1::TaskMessage task;
  if (!task.ParseFromString(*value)) return absl::InvalidArgumentError("not a TaskMessage");
  // proto3 keeps an enum number it does not know: a newer kind must not be
  // taken for START.
  if (!v1::TaskMessage::Kind_IsValid(task.kind())) {
    return absl::InvalidArgumentError(absl::StrCat("unknown kind ", static_cast<int>(task.kind())));
  }
  const std::string& id = task.run().id();
  if (id.empty()) return absl::InvalidArgumentError("no run id");
  if (id.size() > kMaxTaskRunIdBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("run id of ", id.size(), " bytes (at most ", kMaxTaskRunIdBytes, ")"));
  }
  if (task.kind() == v1::TaskMessage::CANCEL) return task;
  const v1::ResourceRequirements& r = task.run().resources();
  if (r.cpu() < 0 || r.memory() < 0 || r.storage() < 0) {
    return absl::InvalidArgumentError(absl::StrCat("negative grant (cpu ", r.cpu(), ", memory ",
                                                   r.memory(), ", storage ", r.storage(), ")"));
  }
  if (task.run().has_scheduled_time() && !ValidTimestamp(task.run().scheduled_time())) {
    return absl::InvalidArgumentError("run.scheduled_time is out of range");
  }
  return task;
}

}  // namespace dts::cluster
