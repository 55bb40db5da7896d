// Feeds arbitrary bytes as the JSON body of POST /v1/jobs through what the
// HTTP gateway does with it (api/http_gateway.cc, ParseBody): our strict
// syntax check, protobuf's JSON parser into a CreateJobRequest, then
// JobApi::CreateJob (defaults, validation, store) over a store that keeps
// nothing. Every input must be accepted or rejected with INVALID_ARGUMENT
// and a message, never crash, hang or allocate without bound.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/string_view.h"
#include "api/json_syntax.h"
#include "dts/api/services.h"
#include "dts/common/clock.h"
#include "dts/common/id_generator.h"
#include "dts/storage/store.h"
#include "dts/v1/job.pb.h"
#include "google/protobuf/util/json_util.h"

namespace {

// Accepts every write and reads nothing back.
class NullStore final : public dts::storage::Store {
 public:
  absl::Status CreateJob(const dts::Job&) override { return absl::OkStatus(); }
  absl::StatusOr<dts::Job> GetJob(const dts::JobId&) override {
    return absl::NotFoundError("job not found");
  }
  absl::StatusOr<dts::storage::JobPage> ListJobs(const dts::storage::ListJobsQuery&) override {
    return dts::storage::JobPage{};
  }
  absl::Status UpdateJob(const dts::Job&) override { return absl::OkStatus(); }
  absl::Status DeleteJob(const dts::JobId&) override { return absl::OkStatus(); }
  absl::Status CreateRun(const dts::Run&) override { return absl::OkStatus(); }
  absl::StatusOr<dts::Run> GetRun(const dts::RunId&) override {
    return absl::NotFoundError("run not found");
  }
  absl::StatusOr<dts::storage::RunPage> ListRuns(const dts::storage::ListRunsQuery&) override {
    return dts::storage::RunPage{};
  }
  absl::Status UpdateRun(const dts::Run&) override { return absl::OkStatus(); }
  absl::StatusOr<std::vector<bool>> RecordFires(
      const std::vector<dts::storage::FireRecord>& fires) override {
    return std::vector<bool>(fires.size(), true);
  }
  absl::StatusOr<int64_t> PruneRuns(int, absl::Time) override { return 0; }
};

class FixedIds final : public dts::IdGenerator {
 public:
  std::string NewUuid() override { return "6314b56d-db9e-4989-ba7b-202110a5a458"; }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 64 * 1024) return 0;
  const absl::string_view body(reinterpret_cast<const char*>(data), size);
  static NullStore store;
  static dts::ManualClock clock(absl::FromUnixSeconds(1'793'000'000));
  static FixedIds ids;
  static dts::api::JobApi jobs(&store, &clock, &ids);

  const std::string where = dts::api::JsonSyntaxError(body);
  if (!where.empty()) {
    if (!absl::StartsWith(where, "line ")) std::abort();
    return 0;  // the gateway answers 400 "malformed JSON body: <where>"
  }
  dts::v1::CreateJobRequest request;
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  if (!google::protobuf::util::JsonStringToMessage(std::string(body), &request, options).ok()) {
    return 0;  // 400 "invalid JSON body: ..."
  }
  const absl::StatusOr<dts::v1::CreateJobResponse> created = jobs.CreateJob(request);
  if (!created.ok()) {
    if (created.status().code() != absl::StatusCode::kInvalidArgument) std::abort();
    if (created.status().message().empty()) std::abort();
    return 0;
  }
  if (created->job_id().empty()) std::abort();
  return 0;
}
