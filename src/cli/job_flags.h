#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "dts/v1/job.pb.h"

namespace dts::cli {

// The job flags shared by `job create`, `job update` and `scheduler
// schedule`. Every field is optional so that `job update` can tell which
// flags were given: only those become update_mask paths.
struct JobFlags {
  std::optional<std::string> name;
  std::optional<std::string> description;
  std::optional<std::string> cron;
  std::optional<std::string> timezone;
  std::optional<std::string> metadata_json;
  std::optional<std::string> status;
  std::optional<int32_t> priority;
  std::optional<int32_t> starting_deadline;
  std::optional<int32_t> max_retries;
  std::optional<int32_t> timeout;
  std::optional<std::string> overlap;
  std::optional<std::string> misfire;
  std::vector<std::string> constraints;  // k=v

  // Executor: at most one of command, shell, http_url, kafka_topic picks the
  // kind; the others refine it.
  std::optional<std::string> command;
  std::optional<std::string> shell;
  std::vector<std::string> env;  // K=V
  std::optional<std::string> working_dir;
  std::optional<std::string> http_url;
  std::optional<std::string> http_method;
  std::vector<std::string> http_headers;  // K=V
  std::optional<std::string> http_body;
  std::optional<int32_t> http_expected_status;
  std::optional<std::string> kafka_topic;
  std::optional<std::string> kafka_key;
  std::optional<std::string> kafka_payload;

  std::optional<int32_t> cpu;
  std::optional<int32_t> memory;
  std::optional<int32_t> storage;

  std::optional<int32_t> retry_initial;
  std::optional<int32_t> retry_max;
  std::optional<double> retry_multiplier;

  bool TouchesExecutor() const;
  bool TouchesResources() const;
  bool TouchesRetry() const;
};

// How `AddJobFlags` registers the flags: `job create` requires --name and
// --cron; `job update` and `scheduler schedule --job-id` must not.
struct JobFlagSet {
  bool require_name_and_cron = false;
};

// Registers the job flags on `cmd`, writing into `flags`, which must outlive
// the parse. Executor kinds exclude each other (a usage error).
void AddJobFlags(CLI::App& cmd, JobFlags& flags, JobFlagSet set);

// Parses --metadata: a JSON object whose values are all strings.
absl::StatusOr<std::map<std::string, std::string>> ParseMetadataJson(absl::string_view json);

// Parses repeated KEY=VALUE flags (split at the first '='; KEY non-empty).
// `flag` names the flag in errors.
absl::StatusOr<std::map<std::string, std::string>> ParseKeyValues(
    absl::string_view flag, const std::vector<std::string>& pairs);

// Applies the given flags onto `job`, leaving the fields of absent flags as
// they are. Executor flags refine job's executor when they name the same
// kind and replace it when they name another. INVALID_ARGUMENT, naming the
// flag, for bad values and for refining flags without their kind.
absl::Status ApplyJobFlags(const JobFlags& flags, v1::JobResponse& job);

// The update_mask paths (UpdateJobRequest field names) of the given flags.
std::vector<std::string> UpdatePaths(const JobFlags& flags);

// True when building the update needs the job as it is now: flags that
// change part of a message field (executor, resources, retry_backoff) must
// keep its other parts, and the server replaces such fields whole.
bool UpdateNeedsCurrentJob(const JobFlags& flags);

v1::CreateJobRequest ToCreateRequest(const v1::JobResponse& job);

// An update of job `id` that sets exactly `paths`, taking their values from
// `job`.
v1::UpdateJobRequest ToUpdateRequest(const std::string& id, const v1::JobResponse& job,
                                     const std::vector<std::string>& paths);

}  // namespace dts::cli
