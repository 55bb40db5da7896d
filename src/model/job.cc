#include "dts/model/job.h"

#include <array>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "dts/cron/schedule.h"
#include "google/protobuf/util/time_util.h"

namespace dts {
namespace {

template <typename Enum, size_t N>
std::optional<Enum> ParseName(const std::array<std::pair<Enum, absl::string_view>, N>& names,
                              absl::string_view text) {
  for (const auto& [value, name] : names) {
    if (absl::EqualsIgnoreCase(name, text)) return value;
  }
  return std::nullopt;
}

template <typename Enum, size_t N>
absl::string_view NameOf(const std::array<std::pair<Enum, absl::string_view>, N>& names, Enum v) {
  for (const auto& [value, name] : names) {
    if (value == v) return name;
  }
  return "UNKNOWN";
}

template <typename Enum, size_t N>
std::string NameList(const std::array<std::pair<Enum, absl::string_view>, N>& names) {
  std::string out;
  for (const auto& [value, name] : names) absl::StrAppend(&out, out.empty() ? "" : ", ", name);
  return out;
}

constexpr std::array<std::pair<JobStatus, absl::string_view>, 9> kJobStatuses = {{
    {JobStatus::kActive, "ACTIVE"},
    {JobStatus::kPending, "PENDING"},
    {JobStatus::kScheduled, "SCHEDULED"},
    {JobStatus::kRunning, "RUNNING"},
    {JobStatus::kCompleted, "COMPLETED"},
    {JobStatus::kFailed, "FAILED"},
    {JobStatus::kPaused, "PAUSED"},
    {JobStatus::kCancelled, "CANCELLED"},
    {JobStatus::kRetrying, "RETRYING"},
}};

constexpr std::array<std::pair<RunStatus, absl::string_view>, 10> kRunStatuses = {{
    {RunStatus::kPending, "PENDING"},
    {RunStatus::kQueued, "QUEUED"},
    {RunStatus::kRunning, "RUNNING"},
    {RunStatus::kCompleted, "COMPLETED"},
    {RunStatus::kFailed, "FAILED"},
    {RunStatus::kTimedOut, "TIMED_OUT"},
    {RunStatus::kCancelled, "CANCELLED"},
    {RunStatus::kSkipped, "SKIPPED"},
    {RunStatus::kMissed, "MISSED"},
    {RunStatus::kRetrying, "RETRYING"},
}};

constexpr std::array<std::pair<OverlapPolicy, absl::string_view>, 3> kOverlapPolicies = {{
    {OverlapPolicy::kAllow, "ALLOW"},
    {OverlapPolicy::kForbid, "FORBID"},
    {OverlapPolicy::kReplace, "REPLACE"},
}};

constexpr std::array<std::pair<MisfirePolicy, absl::string_view>, 3> kMisfirePolicies = {{
    {MisfirePolicy::kRunOnce, "RUN_ONCE"},
    {MisfirePolicy::kSkip, "SKIP"},
    {MisfirePolicy::kRunAll, "RUN_ALL"},
}};

constexpr std::array<std::pair<Trigger, absl::string_view>, 4> kTriggers = {{
    {Trigger::kSchedule, "SCHEDULE"},
    {Trigger::kManual, "MANUAL"},
    {Trigger::kRetry, "RETRY"},
    {Trigger::kCatchUp, "CATCH_UP"},
}};

absl::Status FieldError(absl::string_view field, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", why));
}

// Characters (code points) in UTF-8 text: the bytes that do not continue a
// sequence. Proto strings are valid UTF-8, so this counts what a user sees.
size_t Utf8Length(absl::string_view text) {
  size_t length = 0;
  for (const char c : text) length += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return length;
}

// Canonicalises an enum-like string field in place; unknown text is left
// as is for ValidateJob to report.
template <typename Enum, size_t N>
void Canonicalize(const std::array<std::pair<Enum, absl::string_view>, N>& names,
                  std::string* text, absl::string_view default_name) {
  if (text->empty()) {
    *text = std::string(default_name);
    return;
  }
  if (std::optional<Enum> v = ParseName(names, *text)) *text = std::string(NameOf(names, *v));
}

absl::Status ValidateMap(absl::string_view field, const google::protobuf::Map<std::string, std::string>& map) {
  if (map.size() > kMaxMetadataEntries) {
    return FieldError(field, absl::StrCat("at most ", kMaxMetadataEntries, " entries, got ", map.size()));
  }
  for (const auto& [key, value] : map) {
    if (key.empty()) return FieldError(field, "keys must not be empty");
    if (key.size() > kMaxMetadataKeyBytes) {
      return FieldError(absl::StrCat(field, ".", key.substr(0, 32), "..."),
                        absl::StrCat("keys are at most ", kMaxMetadataKeyBytes, " bytes"));
    }
    if (value.size() > kMaxMetadataValueBytes) {
      return FieldError(absl::StrCat(field, ".", key),
                        absl::StrCat("values are at most ", kMaxMetadataValueBytes, " bytes"));
    }
  }
  return absl::OkStatus();
}

// A command's own environment variables (the executor adds PATH, HOME and
// the rest: docs/security.md). Names are what a shell can name, so that
// every variable a job sets is one its script can read.
absl::Status ValidateEnv(const google::protobuf::Map<std::string, std::string>& env) {
  constexpr absl::string_view kField = "executor.command.env";
  if (env.size() > kMaxEnvEntries) {
    return FieldError(kField, absl::StrCat("at most ", kMaxEnvEntries, " variables, got ", env.size()));
  }
  size_t total = 0;
  for (const auto& [name, value] : env) {
    if (!ValidEnvName(name)) {
      return FieldError(kField, absl::StrCat("invalid variable name \"", absl::CHexEscape(name.substr(0, 64)),
                                             "\" (expected [A-Za-z_][A-Za-z0-9_]*, at most ",
                                             kMaxEnvNameBytes, " bytes)"));
    }
    const std::string field = absl::StrCat(kField, ".", name);
    if (value.size() > kMaxEnvValueBytes) {
      return FieldError(field, absl::StrCat("at most ", kMaxEnvValueBytes, " bytes, got ", value.size()));
    }
    if (value.find('\0') != std::string::npos) return FieldError(field, "must not contain NUL");
    total += name.size() + value.size();
  }
  if (total > kMaxEnvTotalBytes) {
    return FieldError(kField, absl::StrCat("at most ", kMaxEnvTotalBytes, " bytes in all, got ", total));
  }
  return absl::OkStatus();
}

absl::Status ValidateExecutor(const v1::Executor& executor) {
  switch (executor.kind_case()) {
    case v1::Executor::kCommand: {
      const v1::CommandExecutor& c = executor.command();
      if (c.argv_size() == 0 || c.argv(0).empty()) {
        return FieldError("executor.command.argv", "must name a program");
      }
      if (c.shell() && c.argv_size() != 1) {
        return FieldError("executor.command.argv", "with shell, argv holds exactly one script");
      }
      if (static_cast<size_t>(c.argv_size()) > kMaxArgvEntries) {
        return FieldError("executor.command.argv",
                          absl::StrCat("at most ", kMaxArgvEntries, " arguments, got ", c.argv_size()));
      }
      size_t argv_bytes = 0;
      for (int i = 0; i < c.argv_size(); ++i) {
        const std::string& arg = c.argv(i);
        if (arg.find('\0') != std::string::npos) {
          return FieldError("executor.command.argv", "arguments must not contain NUL");
        }
        if (arg.size() > kMaxArgBytes) {
          return FieldError(absl::StrCat("executor.command.argv[", i, "]"),
                            absl::StrCat("at most ", kMaxArgBytes, " bytes, got ", arg.size()));
        }
        argv_bytes += arg.size();
      }
      if (argv_bytes > kMaxArgvTotalBytes) {
        return FieldError("executor.command.argv", absl::StrCat("at most ", kMaxArgvTotalBytes,
                                                                " bytes in all, got ", argv_bytes));
      }
      if (absl::Status s = ValidateEnv(c.env()); !s.ok()) return s;
      if (!c.working_dir().empty()) {
        if (c.working_dir()[0] != '/') {
          return FieldError("executor.command.working_dir", "must be an absolute path");
        }
        if (c.working_dir().size() > kMaxWorkingDirBytes ||
            c.working_dir().find('\0') != std::string::npos) {
          return FieldError("executor.command.working_dir",
                            absl::StrCat("at most ", kMaxWorkingDirBytes, " bytes, without NUL"));
        }
      }
      return absl::OkStatus();
    }
    case v1::Executor::kHttp: {
      const v1::HttpExecutor& h = executor.http();
      if (!absl::StartsWith(h.url(), "http://") && !absl::StartsWith(h.url(), "https://")) {
        return FieldError("executor.http.url", "must be an http:// or https:// URL");
      }
      static constexpr absl::string_view kMethods[] = {"", "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"};
      bool known = false;
      for (absl::string_view m : kMethods) known |= absl::EqualsIgnoreCase(m, h.method());
      if (!known) return FieldError("executor.http.method", absl::StrCat("unknown method \"", h.method(), "\""));
      if (h.expected_status() != 0 && (h.expected_status() < 100 || h.expected_status() > 599)) {
        return FieldError("executor.http.expected_status", "must be 100-599 or 0 for any 2xx");
      }
      return absl::OkStatus();
    }
    case v1::Executor::kKafka:
      if (executor.kafka().topic().empty()) return FieldError("executor.kafka.topic", "must not be empty");
      return absl::OkStatus();
    case v1::Executor::KIND_NOT_SET:
      return absl::OkStatus();
  }
  return absl::OkStatus();
}

}  // namespace

bool ValidEnvName(absl::string_view name) {
  if (name.empty() || name.size() > kMaxEnvNameBytes) return false;
  if (absl::ascii_isdigit(static_cast<unsigned char>(name[0]))) return false;
  for (const char c : name) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '_') return false;
  }
  return true;
}

std::optional<JobStatus> ParseJobStatus(absl::string_view text) { return ParseName(kJobStatuses, text); }
absl::string_view JobStatusName(JobStatus s) { return NameOf(kJobStatuses, s); }
std::optional<RunStatus> ParseRunStatus(absl::string_view text) { return ParseName(kRunStatuses, text); }
absl::string_view RunStatusName(RunStatus s) { return NameOf(kRunStatuses, s); }
std::optional<OverlapPolicy> ParseOverlapPolicy(absl::string_view text) {
  return ParseName(kOverlapPolicies, text);
}
absl::string_view OverlapPolicyName(OverlapPolicy p) { return NameOf(kOverlapPolicies, p); }
std::optional<MisfirePolicy> ParseMisfirePolicy(absl::string_view text) {
  return ParseName(kMisfirePolicies, text);
}
absl::string_view MisfirePolicyName(MisfirePolicy p) { return NameOf(kMisfirePolicies, p); }
absl::string_view TriggerName(Trigger t) { return NameOf(kTriggers, t); }

bool FiresOnSchedule(JobStatus s) {
  return s == JobStatus::kActive || s == JobStatus::kPending || s == JobStatus::kScheduled;
}

void ApplyJobDefaults(Job& job) {
  Canonicalize(kJobStatuses, job.mutable_status(), "ACTIVE");
  Canonicalize(kOverlapPolicies, job.mutable_overlap_policy(), "ALLOW");
  Canonicalize(kMisfirePolicies, job.mutable_misfire_policy(), "RUN_ONCE");
  if (job.timezone().empty()) job.set_timezone("UTC");
  if (!job.has_resources()) {
    job.mutable_resources()->set_cpu(kDefaultCpuMillis);
    job.mutable_resources()->set_memory(kDefaultMemoryMib);
  }
  if (job.executor().kind_case() == v1::Executor::kHttp && job.executor().http().method().empty()) {
    job.mutable_executor()->mutable_http()->set_method("GET");
  }
}

absl::Status ValidateJob(const Job& job, absl::Time now) {
  if (const size_t length = Utf8Length(job.name()); length == 0 || length > kMaxNameLength) {
    return FieldError("name", absl::StrCat("must be 1-", kMaxNameLength, " characters, got ", length));
  }
  if (Utf8Length(job.description()) > 4096) return FieldError("description", "at most 4096 characters");
  if (!ParseJobStatus(job.status())) {
    return FieldError("status", absl::StrCat("unknown status \"", job.status(),
                                             "\" (one of ", NameList(kJobStatuses), ")"));
  }
  if (!ParseOverlapPolicy(job.overlap_policy())) {
    return FieldError("overlap_policy", absl::StrCat("unknown policy \"", job.overlap_policy(),
                                                     "\" (one of ", NameList(kOverlapPolicies), ")"));
  }
  if (!ParseMisfirePolicy(job.misfire_policy())) {
    return FieldError("misfire_policy", absl::StrCat("unknown policy \"", job.misfire_policy(),
                                                     "\" (one of ", NameList(kMisfirePolicies), ")"));
  }
  absl::StatusOr<absl::TimeZone> zone = cron::LoadZone(job.timezone());
  if (!zone.ok()) return FieldError("timezone", zone.status().message());
  if (job.cron_expression().empty()) return FieldError("cron_expression", "must not be empty");
  absl::StatusOr<cron::Schedule> schedule = cron::Schedule::Create(job.cron_expression(), *zone);
  if (!schedule.ok()) return FieldError("cron_expression", schedule.status().message());
  // Next() gives up after 50 years for calendar fields, but an `@every` of
  // up to 100 years always has a next fire: bound both the same way.
  constexpr absl::Duration kFireHorizon = absl::Hours(24 * 36525 / 2);  // 50 years of 365.25 days
  if (const std::optional<absl::Time> next = schedule->Next(now); !next || *next - now > kFireHorizon) {
    return FieldError("cron_expression", "never fires within 50 years");
  }
  if (absl::Status s = ValidateMap("metadata", job.metadata()); !s.ok()) return s;
  if (absl::Status s = ValidateMap("constraints", job.constraints()); !s.ok()) return s;
  if (job.priority() < 0 || job.priority() > 1000) return FieldError("priority", "must be 0-1000");
  if (job.max_retries() < 0 || job.max_retries() > 100) return FieldError("max_retries", "must be 0-100");
  if (job.timeout() < 0) return FieldError("timeout", "must be >= 0 seconds (0: none)");
  if (job.starting_deadline() < 0) {
    return FieldError("starting_deadline", "must be >= 0 seconds (0: no limit)");
  }
  const v1::ResourceRequirements& r = job.resources();
  if (r.cpu() < 0) return FieldError("resources.cpu", "must be >= 0 millicores");
  if (r.memory() < 0) return FieldError("resources.memory", "must be >= 0 MiB");
  if (r.storage() < 0) return FieldError("resources.storage", "must be >= 0 MiB");
  const v1::RetryBackoff& b = job.retry_backoff();
  if (b.initial_seconds() < 0) return FieldError("retry_backoff.initial_seconds", "must be >= 0");
  if (b.max_seconds() < 0) return FieldError("retry_backoff.max_seconds", "must be >= 0");
  if (b.multiplier() < 0 || b.multiplier() > 100) {
    return FieldError("retry_backoff.multiplier", "must be 0-100 (0 means 2)");
  }
  return ValidateExecutor(job.executor());
}

absl::StatusOr<std::optional<absl::Time>> NextFireTime(const Job& job, absl::Time after) {
  absl::StatusOr<absl::TimeZone> zone = cron::LoadZone(job.timezone());
  if (!zone.ok()) return zone.status();
  absl::StatusOr<cron::Schedule> schedule = cron::Schedule::Create(job.cron_expression(), *zone);
  if (!schedule.ok()) return schedule.status();
  absl::Time anchor = after;
  if (job.has_schedule_anchor()) {
    anchor = absl::FromUnixSeconds(job.schedule_anchor().seconds()) +
             absl::Nanoseconds(job.schedule_anchor().nanos());
  }
  return schedule->Next(after, anchor);
}

}  // namespace dts
