#include "cli/job_flags.h"

#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "cli/shell_words.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"

namespace dts::cli {
namespace {

// CLI11 cannot bind std::optional directly in this version; a callback that
// fires only when the flag is given gives the same "was it set" answer.
template <typename T>
CLI::Option* AddOptional(CLI::App& cmd, const std::string& name, std::optional<T>& target,
                         const std::string& description) {
  return cmd.add_option_function<T>(
      name, [&target](const T& value) { target = value; }, description);
}

// Repeatable KEY=VALUE flags: one pair per occurrence, so a stray word after
// the pair is reported instead of being swallowed as a second pair.
CLI::Option* AddRepeated(CLI::App& cmd, const std::string& name, std::vector<std::string>& target,
                         const std::string& description) {
  return cmd.add_option(name, target, description)->allow_extra_args(false)->type_name("K=V");
}

void AddBasicFlags(CLI::App& cmd, JobFlags& f, JobFlagSet set) {
  CLI::Option* name = AddOptional(cmd, "--name", f.name, "Job name (1-200 characters)");
  AddOptional(cmd, "--description", f.description, "Free-text description");
  CLI::Option* cron = AddOptional(cmd, "--cron", f.cron,
                                  "Cron expression, e.g. '*/5 * * * *' (see docs/cron.md)");
  if (set.require_name_and_cron) {
    name->required();
    cron->required();
  }
  AddOptional(cmd, "--timezone", f.timezone, "IANA time zone of the schedule (default UTC)");
  AddOptional(cmd, "--metadata", f.metadata_json,
              "JSON object of strings, e.g. '{\"team\": \"data\"}'; replaces all metadata")
      ->type_name("JSON");
  AddOptional(cmd, "--status", f.status,
              "Job status, any case: active, paused, cancelled, pending, ... (default active)");
  AddOptional(cmd, "--priority", f.priority, "Scheduling priority (higher is more urgent)");
  AddOptional(cmd, "--starting-deadline", f.starting_deadline,
              "Seconds a fire may wait to start before it is recorded MISSED (0: no limit)");
  AddOptional(cmd, "--max-retries", f.max_retries, "Retries after a failed run");
  AddOptional(cmd, "--timeout", f.timeout, "Run timeout in seconds (0: none)");
  AddOptional(cmd, "--overlap", f.overlap, "When a run is still going: allow|forbid|replace")
      ->check(CLI::IsMember({"allow", "forbid", "replace"}, CLI::ignore_case));
  AddOptional(cmd, "--misfire", f.misfire, "Fire times missed while down: run_once|skip|run_all")
      ->check(CLI::IsMember({"run_once", "skip", "run_all"}, CLI::ignore_case));
  AddRepeated(cmd, "--constraint", f.constraints,
              "Worker label the run needs, k=v (repeatable; replaces all constraints)");
}

void AddExecutorFlags(CLI::App& cmd, JobFlags& f) {
  CLI::Option* command = AddOptional(
      cmd, "--command", f.command,
      "Program and arguments, split by shell quoting rules but run without a shell");
  CLI::Option* shell = AddOptional(cmd, "--shell", f.shell, "Script run with /bin/sh -c");
  CLI::Option* http = AddOptional(cmd, "--http-url", f.http_url, "URL an HTTP run calls");
  CLI::Option* kafka = AddOptional(cmd, "--kafka-topic", f.kafka_topic,
                                   "Topic a Kafka run publishes to");
  command->excludes(shell)->excludes(http)->excludes(kafka);
  shell->excludes(http)->excludes(kafka);
  http->excludes(kafka);

  AddRepeated(cmd, "--env", f.env, "Environment variable for --command/--shell (repeatable)");
  AddOptional(cmd, "--working-dir", f.working_dir, "Working directory for --command/--shell");
  AddOptional(cmd, "--http-method", f.http_method, "HTTP method (default GET)");
  AddRepeated(cmd, "--http-header", f.http_headers, "HTTP request header (repeatable)");
  AddOptional(cmd, "--http-body", f.http_body, "HTTP request body");
  AddOptional(cmd, "--http-expected-status", f.http_expected_status,
              "HTTP status that counts as success (default: any 2xx)");
  AddOptional(cmd, "--kafka-key", f.kafka_key, "Kafka message key");
  AddOptional(cmd, "--kafka-payload", f.kafka_payload, "Kafka message payload");
}

void AddResourceAndRetryFlags(CLI::App& cmd, JobFlags& f) {
  AddOptional(cmd, "--cpu", f.cpu, "CPU a run needs, in millicores");
  AddOptional(cmd, "--memory", f.memory, "Memory a run needs, in MiB");
  AddOptional(cmd, "--storage", f.storage, "Storage a run needs, in MiB");
  AddOptional(cmd, "--retry-initial", f.retry_initial, "Delay before the first retry, seconds");
  AddOptional(cmd, "--retry-max", f.retry_max, "Longest delay between retries, seconds");
  AddOptional(cmd, "--retry-multiplier", f.retry_multiplier, "Growth of the delay per retry");
}

absl::Status FlagError(absl::string_view flag, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat(flag, ": ", why));
}

absl::Status ApplyExecutorKind(const JobFlags& f, v1::Executor& executor) {
  if (f.command) {
    absl::StatusOr<std::vector<std::string>> argv = SplitShellWords(*f.command);
    if (!argv.ok()) return FlagError("--command", argv.status().message());
    if (argv->empty()) return FlagError("--command", "names no program");
    // mutable_command() keeps env and working_dir when the job already runs
    // a command, and starts afresh when it ran another kind.
    v1::CommandExecutor* command = executor.mutable_command();
    command->mutable_argv()->Assign(argv->begin(), argv->end());
    command->set_shell(false);
  } else if (f.shell) {
    if (f.shell->empty()) return FlagError("--shell", "the script is empty");
    v1::CommandExecutor* command = executor.mutable_command();
    command->clear_argv();
    command->add_argv(*f.shell);
    command->set_shell(true);
  } else if (f.http_url) {
    executor.mutable_http()->set_url(*f.http_url);
  } else if (f.kafka_topic) {
    executor.mutable_kafka()->set_topic(*f.kafka_topic);
  }
  return absl::OkStatus();
}

absl::Status ApplyCommandDetails(const JobFlags& f, v1::Executor& executor) {
  if (f.env.empty() && !f.working_dir) return absl::OkStatus();
  if (!executor.has_command()) {
    return FlagError(f.env.empty() ? "--working-dir" : "--env", "needs --command or --shell");
  }
  v1::CommandExecutor* command = executor.mutable_command();
  if (!f.env.empty()) {
    absl::StatusOr<std::map<std::string, std::string>> env = ParseKeyValues("--env", f.env);
    if (!env.ok()) return env.status();
    command->mutable_env()->clear();
    command->mutable_env()->insert(env->begin(), env->end());
  }
  if (f.working_dir) command->set_working_dir(*f.working_dir);
  return absl::OkStatus();
}

absl::Status ApplyHttpDetails(const JobFlags& f, v1::Executor& executor) {
  const bool any =
      f.http_method || !f.http_headers.empty() || f.http_body || f.http_expected_status;
  if (!any) return absl::OkStatus();
  if (!executor.has_http()) {
    return FlagError("--http-method/--http-header/--http-body/--http-expected-status",
                     "needs --http-url");
  }
  v1::HttpExecutor* http = executor.mutable_http();
  if (f.http_method) http->set_method(absl::AsciiStrToUpper(*f.http_method));
  if (!f.http_headers.empty()) {
    absl::StatusOr<std::map<std::string, std::string>> headers =
        ParseKeyValues("--http-header", f.http_headers);
    if (!headers.ok()) return headers.status();
    http->mutable_headers()->clear();
    http->mutable_headers()->insert(headers->begin(), headers->end());
  }
  if (f.http_body) http->set_body(*f.http_body);
  if (f.http_expected_status) http->set_expected_status(*f.http_expected_status);
  return absl::OkStatus();
}

absl::Status ApplyKafkaDetails(const JobFlags& f, v1::Executor& executor) {
  if (!f.kafka_key && !f.kafka_payload) return absl::OkStatus();
  if (!executor.has_kafka()) return FlagError("--kafka-key/--kafka-payload", "needs --kafka-topic");
  if (f.kafka_key) executor.mutable_kafka()->set_key(*f.kafka_key);
  if (f.kafka_payload) executor.mutable_kafka()->set_payload(*f.kafka_payload);
  return absl::OkStatus();
}

absl::Status ApplyExecutor(const JobFlags& f, v1::Executor& executor) {
  if (absl::Status s = ApplyExecutorKind(f, executor); !s.ok()) return s;
  if (absl::Status s = ApplyCommandDetails(f, executor); !s.ok()) return s;
  if (absl::Status s = ApplyHttpDetails(f, executor); !s.ok()) return s;
  return ApplyKafkaDetails(f, executor);
}

absl::Status ApplyMaps(const JobFlags& f, v1::JobResponse& job) {
  if (f.metadata_json) {
    absl::StatusOr<std::map<std::string, std::string>> metadata =
        ParseMetadataJson(*f.metadata_json);
    if (!metadata.ok()) return metadata.status();
    job.mutable_metadata()->clear();
    job.mutable_metadata()->insert(metadata->begin(), metadata->end());
  }
  if (!f.constraints.empty()) {
    absl::StatusOr<std::map<std::string, std::string>> constraints =
        ParseKeyValues("--constraint", f.constraints);
    if (!constraints.ok()) return constraints.status();
    job.mutable_constraints()->clear();
    job.mutable_constraints()->insert(constraints->begin(), constraints->end());
  }
  return absl::OkStatus();
}

void ApplyScalars(const JobFlags& f, v1::JobResponse& job) {
  if (f.name) job.set_name(*f.name);
  if (f.description) job.set_description(*f.description);
  if (f.cron) job.set_cron_expression(*f.cron);
  if (f.timezone) job.set_timezone(*f.timezone);
  if (f.status) job.set_status(*f.status);
  if (f.priority) job.set_priority(*f.priority);
  if (f.starting_deadline) job.set_starting_deadline(*f.starting_deadline);
  if (f.max_retries) job.set_max_retries(*f.max_retries);
  if (f.timeout) job.set_timeout(*f.timeout);
  // The API spells policies in upper case; the flags accept any case.
  if (f.overlap) job.set_overlap_policy(absl::AsciiStrToUpper(*f.overlap));
  if (f.misfire) job.set_misfire_policy(absl::AsciiStrToUpper(*f.misfire));
}

void ApplyResourcesAndRetry(const JobFlags& f, v1::JobResponse& job) {
  if (f.TouchesResources()) {
    v1::ResourceRequirements* r = job.mutable_resources();
    if (f.cpu) r->set_cpu(*f.cpu);
    if (f.memory) r->set_memory(*f.memory);
    if (f.storage) r->set_storage(*f.storage);
  }
  if (f.TouchesRetry()) {
    v1::RetryBackoff* b = job.mutable_retry_backoff();
    if (f.retry_initial) b->set_initial_seconds(*f.retry_initial);
    if (f.retry_max) b->set_max_seconds(*f.retry_max);
    if (f.retry_multiplier) b->set_multiplier(*f.retry_multiplier);
  }
}

void CopyPath(const std::string& path, const v1::JobResponse& job, v1::UpdateJobRequest& r) {
  if (path == "name") r.set_name(job.name());
  if (path == "description") r.set_description(job.description());
  if (path == "cron_expression") r.set_cron_expression(job.cron_expression());
  if (path == "timezone") r.set_timezone(job.timezone());
  if (path == "metadata") *r.mutable_metadata() = job.metadata();
  if (path == "status") r.set_status(job.status());
  if (path == "priority") r.set_priority(job.priority());
  if (path == "starting_deadline") r.set_starting_deadline(job.starting_deadline());
  if (path == "max_retries") r.set_max_retries(job.max_retries());
  if (path == "timeout") r.set_timeout(job.timeout());
  if (path == "overlap_policy") r.set_overlap_policy(job.overlap_policy());
  if (path == "misfire_policy") r.set_misfire_policy(job.misfire_policy());
  if (path == "constraints") *r.mutable_constraints() = job.constraints();
  if (path == "executor") *r.mutable_executor() = job.executor();
  if (path == "resources") *r.mutable_resources() = job.resources();
  if (path == "retry_backoff") *r.mutable_retry_backoff() = job.retry_backoff();
}

}  // namespace

bool JobFlags::TouchesExecutor() const {
  return command || shell || !env.empty() || working_dir || http_url || http_method ||
         !http_headers.empty() || http_body || http_expected_status || kafka_topic || kafka_key ||
         kafka_payload;
}

bool JobFlags::TouchesResources() const { return cpu || memory || storage; }

bool JobFlags::TouchesRetry() const { return retry_initial || retry_max || retry_multiplier; }

void AddJobFlags(CLI::App& cmd, JobFlags& flags, JobFlagSet set) {
  AddBasicFlags(cmd, flags, set);
  AddExecutorFlags(cmd, flags);
  AddResourceAndRetryFlags(cmd, flags);
}

absl::StatusOr<std::map<std::string, std::string>> ParseMetadataJson(absl::string_view json) {
  google::protobuf::Struct object;
  const auto parsed = google::protobuf::util::JsonStringToMessage(std::string(json), &object);
  if (!parsed.ok()) {
    return FlagError("--metadata", absl::StrCat("not a JSON object of strings (", parsed.ToString(),
                                                "), e.g. '{\"key\": \"value\"}'"));
  }
  std::map<std::string, std::string> out;
  for (const auto& [key, value] : object.fields()) {
    if (value.kind_case() != google::protobuf::Value::kStringValue) {
      return FlagError("--metadata", absl::StrCat("the value of \"", key, "\" is not a string"));
    }
    out[key] = value.string_value();
  }
  return out;
}

absl::StatusOr<std::map<std::string, std::string>> ParseKeyValues(
    absl::string_view flag, const std::vector<std::string>& pairs) {
  std::map<std::string, std::string> out;
  for (const std::string& pair : pairs) {
    const size_t eq = pair.find('=');
    if (eq == std::string::npos || eq == 0) {
      return FlagError(flag, absl::StrCat("\"", pair, "\" is not KEY=VALUE"));
    }
    out[pair.substr(0, eq)] = pair.substr(eq + 1);
  }
  return out;
}

absl::Status ApplyJobFlags(const JobFlags& flags, v1::JobResponse& job) {
  ApplyScalars(flags, job);
  ApplyResourcesAndRetry(flags, job);
  if (absl::Status s = ApplyMaps(flags, job); !s.ok()) return s;
  if (!flags.TouchesExecutor()) return absl::OkStatus();
  return ApplyExecutor(flags, *job.mutable_executor());
}

std::vector<std::string> UpdatePaths(const JobFlags& f) {
  std::vector<std::string> paths;
  const std::pair<bool, const char*> fields[] = {
      {f.name.has_value(), "name"},
      {f.description.has_value(), "description"},
      {f.cron.has_value(), "cron_expression"},
      {f.timezone.has_value(), "timezone"},
      {f.metadata_json.has_value(), "metadata"},
      {f.status.has_value(), "status"},
      {f.priority.has_value(), "priority"},
      {f.starting_deadline.has_value(), "starting_deadline"},
      {f.max_retries.has_value(), "max_retries"},
      {f.timeout.has_value(), "timeout"},
      {f.overlap.has_value(), "overlap_policy"},
      {f.misfire.has_value(), "misfire_policy"},
      {!f.constraints.empty(), "constraints"},
      {f.TouchesExecutor(), "executor"},
      {f.TouchesResources(), "resources"},
      {f.TouchesRetry(), "retry_backoff"},
  };
  for (const auto& [given, path] : fields) {
    if (given) paths.emplace_back(path);
  }
  return paths;
}

bool UpdateNeedsCurrentJob(const JobFlags& f) {
  return f.TouchesExecutor() || f.TouchesResources() || f.TouchesRetry();
}

v1::CreateJobRequest ToCreateRequest(const v1::JobResponse& job) {
  v1::CreateJobRequest r;
  r.set_name(job.name());
  r.set_description(job.description());
  r.set_cron_expression(job.cron_expression());
  *r.mutable_metadata() = job.metadata();
  r.set_priority(job.priority());
  r.set_starting_deadline(job.starting_deadline());
  r.set_max_retries(job.max_retries());
  r.set_timeout(job.timeout());
  r.set_status(job.status());
  r.set_timezone(job.timezone());
  if (job.has_executor()) *r.mutable_executor() = job.executor();
  if (job.has_resources()) *r.mutable_resources() = job.resources();
  *r.mutable_constraints() = job.constraints();
  r.set_overlap_policy(job.overlap_policy());
  r.set_misfire_policy(job.misfire_policy());
  if (job.has_retry_backoff()) *r.mutable_retry_backoff() = job.retry_backoff();
  return r;
}

v1::UpdateJobRequest ToUpdateRequest(const std::string& id, const v1::JobResponse& job,
                                     const std::vector<std::string>& paths) {
  v1::UpdateJobRequest r;
  r.set_id(id);
  for (const std::string& path : paths) {
    CopyPath(path, job, r);
    r.mutable_update_mask()->add_paths(path);
  }
  return r;
}

}  // namespace dts::cli
