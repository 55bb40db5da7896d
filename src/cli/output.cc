#include "cli/output.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/time/time.h"
#include "cli/shell_words.h"
#include "google/protobuf/util/json_util.h"

namespace dts::cli {
namespace {

std::string OneLine(const std::string& text) {
  return absl::StrReplaceAll(text, {{"\r", "\\r"}, {"\n", "\\n"}, {"\t", " "}});
}

std::string OrDash(const std::string& text) { return text.empty() ? "-" : text; }

std::string FormatResources(const v1::ResourceRequirements& r) {
  if (r.cpu() == 0 && r.memory() == 0 && r.storage() == 0) return "-";
  return absl::StrCat("cpu=", r.cpu(), "m memory=", r.memory(), "MiB storage=", r.storage(), "MiB");
}

void AddCommand(KeyValues& kv, const v1::CommandExecutor& command) {
  if (command.shell()) {
    kv.Add("executor", "shell (/bin/sh -c)");
    kv.Add("script", command.argv().empty() ? "" : command.argv(0));
  } else {
    kv.Add("executor", "command");
    kv.Add("argv", JoinShellWords({command.argv().begin(), command.argv().end()}));
  }
  if (!command.env().empty()) kv.Add("env", FormatMap(command.env()));
  if (!command.working_dir().empty()) kv.Add("working_dir", command.working_dir());
}

void AddHttp(KeyValues& kv, const v1::HttpExecutor& http) {
  kv.Add("executor", "http");
  kv.Add("request", absl::StrCat(http.method().empty() ? "GET" : http.method(), " ", http.url()));
  if (!http.headers().empty()) kv.Add("headers", FormatMap(http.headers()));
  if (!http.body().empty()) kv.Add("body", http.body());
  kv.Add("expected_status", http.expected_status() == 0 ? "any 2xx"
                                                        : absl::StrCat(http.expected_status()));
}

void AddKafka(KeyValues& kv, const v1::KafkaExecutor& kafka) {
  kv.Add("executor", "kafka");
  kv.Add("topic", kafka.topic());
  if (!kafka.key().empty()) kv.Add("key", kafka.key());
  if (!kafka.payload().empty()) kv.Add("payload", kafka.payload());
}

void AddExecutor(KeyValues& kv, const v1::Executor& executor) {
  switch (executor.kind_case()) {
    case v1::Executor::kCommand:
      return AddCommand(kv, executor.command());
    case v1::Executor::kHttp:
      return AddHttp(kv, executor.http());
    case v1::Executor::kKafka:
      return AddKafka(kv, executor.kafka());
    case v1::Executor::KIND_NOT_SET:
      break;
  }
  kv.Add("executor", "none (timer only)");
}

std::string FormatRetry(const v1::RetryBackoff& b) {
  if (b.initial_seconds() == 0 && b.max_seconds() == 0 && b.multiplier() == 0) return "-";
  return absl::StrCat("initial=", b.initial_seconds(), "s max=", b.max_seconds(),
                      "s multiplier=", b.multiplier());
}

// "12 of 40 jobs; next page: --last-id X" under a list.
void PrintPageFooter(std::ostream& out, int shown, int64_t total, absl::string_view noun,
                     absl::string_view cursor_flag, const std::string& next) {
  out << shown << " of " << total << " " << noun;
  if (!next.empty()) out << "; next page: " << cursor_flag << " " << next;
  out << "\n";
}

}  // namespace

absl::Status PrintJson(std::ostream& out, const google::protobuf::Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  options.always_print_primitive_fields = true;
  options.preserve_proto_field_names = true;
  std::string json;
  const auto status = google::protobuf::util::MessageToJsonString(message, &json, options);
  if (!status.ok()) {
    return absl::InternalError(
        absl::StrCat("cannot print the response as JSON: ", status.ToString()));
  }
  // add_whitespace output already ends with a newline.
  out << json;
  if (json.empty() || json.back() != '\n') out << "\n";
  return absl::OkStatus();
}

std::string FormatTimestamp(const google::protobuf::Timestamp& ts, bool set) {
  if (!set) return "-";
  const absl::Time t = absl::FromUnixSeconds(ts.seconds()) + absl::Nanoseconds(ts.nanos());
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", t, absl::UTCTimeZone());
}

std::string FormatMap(const google::protobuf::Map<std::string, std::string>& map) {
  if (map.empty()) return "-";
  std::map<std::string, std::string> sorted(map.begin(), map.end());
  return absl::StrJoin(sorted, ", ", absl::PairFormatter("="));
}

void Table::Print(std::ostream& out) const {
  std::vector<size_t> widths;
  for (const auto& row : rows_) {
    if (widths.size() < row.size()) widths.resize(row.size(), 0);
    for (size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], OneLine(row[i]).size());
  }
  for (const auto& row : rows_) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      const std::string cell = OneLine(row[i]);
      line += cell;
      // The last column is not padded, so lines carry no trailing blanks.
      if (i + 1 < row.size()) line += std::string(widths[i] - cell.size() + 2, ' ');
    }
    out << line << "\n";
  }
}

void KeyValues::Print(std::ostream& out) const {
  size_t width = 0;
  for (const auto& [key, value] : lines_) width = std::max(width, key.size());
  for (const auto& [key, value] : lines_) {
    out << key << ":" << std::string(width - key.size() + 1, ' ') << OneLine(value) << "\n";
  }
}

void PrintJob(std::ostream& out, const v1::JobResponse& job) {
  KeyValues kv;
  kv.Add("id", job.id());
  kv.Add("name", job.name());
  kv.Add("description", OrDash(job.description()));
  kv.Add("status", job.status());
  kv.Add("cron_expression", job.cron_expression());
  kv.Add("timezone", OrDash(job.timezone()));
  kv.Add("next_run", FormatTimestamp(job.next_run(), job.has_next_run()));
  kv.Add("last_run", FormatTimestamp(job.last_run(), job.has_last_run()));
  kv.Add("last_status", OrDash(job.last_status()));
  AddExecutor(kv, job.executor());
  kv.Add("resources", FormatResources(job.resources()));
  kv.Add("constraints", FormatMap(job.constraints()));
  kv.Add("priority", absl::StrCat(job.priority()));
  kv.Add("max_retries", absl::StrCat(job.max_retries()));
  kv.Add("timeout", job.timeout() == 0 ? "none" : absl::StrCat(job.timeout(), "s"));
  kv.Add("retry_backoff", FormatRetry(job.retry_backoff()));
  kv.Add("overlap_policy", OrDash(job.overlap_policy()));
  kv.Add("misfire_policy", OrDash(job.misfire_policy()));
  kv.Add("metadata", FormatMap(job.metadata()));
  kv.Add("created_at", FormatTimestamp(job.created_at(), job.has_created_at()));
  kv.Add("updated_at", FormatTimestamp(job.updated_at(), job.has_updated_at()));
  kv.Print(out);
}

void PrintJobList(std::ostream& out, const v1::ListJobsResponse& list) {
  Table table({"ID", "NAME", "STATUS", "CRON", "TIMEZONE", "NEXT RUN", "LAST STATUS"});
  for (const v1::JobResponse& job : list.jobs()) {
    table.AddRow({job.id(), job.name(), job.status(), job.cron_expression(), OrDash(job.timezone()),
                  FormatTimestamp(job.next_run(), job.has_next_run()), OrDash(job.last_status())});
  }
  table.Print(out);
  PrintPageFooter(out, list.jobs_size(), list.total(), "jobs", "--last-id", list.next_page());
}

void PrintScheduledJob(std::ostream& out, const v1::GetScheduledJobResponse& job) {
  KeyValues kv;
  kv.Add("job_id", job.job_id());
  kv.Add("status", job.status());
  kv.Add("cron_expression", job.cron_expression());
  kv.Add("next_execution_time",
         FormatTimestamp(job.next_execution_time(), job.has_next_execution_time()));
  kv.Add("resource_requirements", FormatResources(job.resource_requirements()));
  kv.Print(out);
}

void PrintScheduledJobList(std::ostream& out, const v1::ListScheduledJobsResponse& list) {
  Table table({"JOB ID", "STATUS", "CRON", "NEXT EXECUTION", "CPU", "MEMORY", "STORAGE"});
  for (const v1::GetScheduledJobResponse& job : list.jobs()) {
    const v1::ResourceRequirements& r = job.resource_requirements();
    table.AddRow({job.job_id(), job.status(), job.cron_expression(),
                  FormatTimestamp(job.next_execution_time(), job.has_next_execution_time()),
                  absl::StrCat(r.cpu(), "m"), absl::StrCat(r.memory(), "MiB"),
                  absl::StrCat(r.storage(), "MiB")});
  }
  table.Print(out);
  PrintPageFooter(out, list.jobs_size(), list.total_count(), "scheduled jobs", "--page-token",
                  list.next_page_token());
}

void PrintExecution(std::ostream& out, const v1::ExecutionResponse& e) {
  KeyValues kv;
  kv.Add("id", e.id());
  kv.Add("job_id", e.job_id());
  kv.Add("status", e.status());
  kv.Add("trigger", OrDash(e.trigger()));
  kv.Add("attempt", absl::StrCat(e.attempt()));
  kv.Add("scheduled_time", FormatTimestamp(e.scheduled_time(), e.has_scheduled_time()));
  kv.Add("start_time", FormatTimestamp(e.start_time(), e.has_start_time()));
  kv.Add("end_time", FormatTimestamp(e.end_time(), e.has_end_time()));
  kv.Add("worker_id", OrDash(e.worker_id()));
  if (e.has_resources()) kv.Add("resources", FormatResources(e.resources()));
  if (!e.queue_reason().empty()) kv.Add("queue_reason", e.queue_reason());
  kv.Add("exit_code", e.has_exit_code() ? absl::StrCat(e.exit_code()) : "-");
  if (e.missed_count() > 0) kv.Add("missed_count", absl::StrCat(e.missed_count()));
  kv.Add("result", OrDash(e.result()));
  kv.Add("error", OrDash(e.error()));
  kv.Add("created_at", FormatTimestamp(e.created_at(), e.has_created_at()));
  kv.Print(out);
}

void PrintExecutionList(std::ostream& out, const v1::ListExecutionsResponse& list) {
  Table table({"ID", "JOB ID", "STATUS", "TRIGGER", "ATTEMPT", "SCHEDULED", "STARTED", "ENDED"});
  for (const v1::ExecutionResponse& e : list.executions()) {
    table.AddRow({e.id(), e.job_id(), e.status(), OrDash(e.trigger()), absl::StrCat(e.attempt()),
                  FormatTimestamp(e.scheduled_time(), e.has_scheduled_time()),
                  FormatTimestamp(e.start_time(), e.has_start_time()),
                  FormatTimestamp(e.end_time(), e.has_end_time())});
  }
  table.Print(out);
  PrintPageFooter(out, list.executions_size(), list.total(), "executions", "--last-id",
                  list.next_page());
}

void PrintWorker(std::ostream& out, const v1::WorkerResponse& w) {
  KeyValues kv;
  kv.Add("id", w.id());
  kv.Add("state", w.state());
  kv.Add("labels", FormatMap(w.labels()));
  kv.Add("capacity", FormatResources(w.capacity()));
  kv.Add("allocated", FormatResources(w.allocated()));
  kv.Add("free", FormatResources(w.free()));
  kv.Add("running_runs", w.running_runs().empty() ? "-" : absl::StrJoin(w.running_runs(), ", "));
  kv.Add("last_heartbeat", FormatTimestamp(w.last_heartbeat(), w.has_last_heartbeat()));
  const v1::Enforcement& e = w.enforcement();
  kv.Add("enforcement", absl::StrCat("memory=", OrDash(e.memory()), " cpu=", OrDash(e.cpu()),
                                     " storage=", OrDash(e.storage())));
  if (!e.detail().empty()) kv.Add("enforcement_detail", e.detail());
  kv.Print(out);
}

void PrintWorkerList(std::ostream& out, const v1::ListWorkersResponse& list) {
  // "used/total" per dimension: what an operator scans for.
  auto used = [](int64_t allocated, int64_t capacity, absl::string_view unit) {
    return absl::StrCat(allocated, "/", capacity, unit);
  };
  Table table({"ID", "STATE", "CPU", "MEMORY", "STORAGE", "RUNS", "LABELS"});
  for (const v1::WorkerResponse& w : list.workers()) {
    table.AddRow({w.id(), w.state(), used(w.allocated().cpu(), w.capacity().cpu(), "m"),
                  used(w.allocated().memory(), w.capacity().memory(), "MiB"),
                  used(w.allocated().storage(), w.capacity().storage(), "MiB"),
                  absl::StrCat(w.running_runs_size()), FormatMap(w.labels())});
  }
  table.Print(out);
}

void PrintQueue(std::ostream& out, const v1::GetQueueResponse& queue) {
  Table table({"RUN ID", "JOB ID", "PRIORITY", "SCHEDULED", "QUEUED AT", "REQUEST", "REASON"});
  for (const v1::QueuedRun& q : queue.runs()) {
    table.AddRow({q.run_id(), q.job_id(), absl::StrCat(q.priority()),
                  FormatTimestamp(q.scheduled_time(), q.has_scheduled_time()),
                  FormatTimestamp(q.queued_at(), q.has_queued_at()), FormatResources(q.resources()),
                  q.reason()});
  }
  table.Print(out);
  out << queue.total() << " waiting\n";
}

}  // namespace dts::cli
