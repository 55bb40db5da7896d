#include "dts/api/http_gateway.h"

#include <functional>
#include <optional>
#include <string>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "dts/cron/schedule.h"
#include "dts/metrics/metrics.h"
#include "dts/http/errors.h"
#include "api/json_syntax.h"
#include "api/json_writer.h"
#include "dts/api/access.h"
#include "dts/api/rate_limiter.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"

namespace dts::api {
namespace {

using http::PathParams;
using http::Request;
using http::Response;

absl::Status FieldError(absl::string_view field, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", why));
}

Response JsonResponse(const google::protobuf::Message& message) {
  Response response;
  response.body = ToJson(message);
  return response;
}

}  // namespace

// Where `text` stops being JSON (RFC 8259), as "line 1, column 9 (byte 8):
// expected ':' after an object key"; empty when it is well-formed JSON.
// protobuf's parser neither says where an error is nor is strict (it takes
// trailing commas), so bodies are checked with this first. One linear pass,
// iterative, so deep nesting cannot overflow the stack.
std::string JsonSyntaxError(absl::string_view text) {
  const size_t n = text.size();
  size_t i = 0;
  const auto fail = [&](absl::string_view what) {
    size_t line = 1, column = 1;
    for (size_t k = 0; k < i && k < n; ++k) {
      if (text[k] == '\n') {
        ++line;
        column = 1;
      } else {
        ++column;
      }
    }
    return absl::StrCat("line ", line, ", column ", column, " (byte ", i, "): ", what);
  };
  const auto skip_space = [&] {
    while (i < n && (text[i] == ' ' || text[i] == '\t' || text[i] == '\n' || text[i] == '\r')) ++i;
  };
  const auto is_digit = [&](size_t k) { return k < n && text[k] >= '0' && text[k] <= '9'; };
  // A string starting at text[i] == '"'; empty result when well-formed.
  const auto scan_string = [&]() -> std::string {
    ++i;
    while (i < n) {
      const auto c = static_cast<unsigned char>(text[i]);
      if (c == '"') {
        ++i;
        return "";
      }
      if (c < 0x20) return fail("control character in a string (escape it)");
      if (c != '\\') {
        ++i;
        continue;
      }
      if (++i >= n) break;
      if (absl::string_view("\"\\/bfnrt").find(text[i]) != absl::string_view::npos) {
        ++i;
      } else if (text[i] == 'u') {
        for (int k = 1; k <= 4; ++k) {
          if (i + k >= n || !absl::ascii_isxdigit(static_cast<unsigned char>(text[i + k]))) {
            return fail("\\u needs four hex digits");
          }
        }
        i += 5;
      } else {
        return fail("invalid escape in a string");
      }
    }
    return fail("unterminated string");
  };
  const auto scan_key = [&]() -> std::string {
    skip_space();
    if (i >= n || text[i] != '"') return fail("expected a quoted object key");
    if (std::string e = scan_string(); !e.empty()) return e;
    skip_space();
    if (i >= n || text[i] != ':') return fail("expected ':' after an object key");
    ++i;
    return "";
  };

  std::string open;  // the '{' and '[' that enclose text[i]
  bool want_value = true;
  while (true) {
    skip_space();
    if (want_value) {
      if (i >= n) return fail("unexpected end of the body, expected a value");
      const char c = text[i];
      if (c == '{' || c == '[') {
        ++i;
        skip_space();
        if (i < n && text[i] == (c == '{' ? '}' : ']')) {
          ++i;
          want_value = false;
          continue;
        }
        open.push_back(c);
        if (c == '{') {
          if (std::string e = scan_key(); !e.empty()) return e;
        }
        continue;
      }
      if (c == '"') {
        if (std::string e = scan_string(); !e.empty()) return e;
      } else if (c == '-' || is_digit(i)) {
        if (c == '-') ++i;
        if (!is_digit(i)) return fail("expected a digit");
        if (text[i] == '0') {
          ++i;
        } else {
          while (is_digit(i)) ++i;
        }
        if (i < n && text[i] == '.') {
          ++i;
          if (!is_digit(i)) return fail("expected a digit after '.'");
          while (is_digit(i)) ++i;
        }
        if (i < n && (text[i] == 'e' || text[i] == 'E')) {
          ++i;
          if (i < n && (text[i] == '+' || text[i] == '-')) ++i;
          if (!is_digit(i)) return fail("expected a digit in the exponent");
          while (is_digit(i)) ++i;
        }
      } else if (absl::StartsWith(text.substr(i), "true")) {
        i += 4;
      } else if (absl::StartsWith(text.substr(i), "false")) {
        i += 5;
      } else if (absl::StartsWith(text.substr(i), "null")) {
        i += 4;
      } else {
        return fail("expected a value (object, array, string, number, true, false or null)");
      }
      want_value = false;
      continue;
    }
    if (open.empty()) return i < n ? fail("unexpected text after the JSON value") : "";
    const char close = open.back() == '{' ? '}' : ']';
    if (i < n && text[i] == ',') {
      ++i;
      if (open.back() == '{') {
        if (std::string e = scan_key(); !e.empty()) return e;
      }
      want_value = true;
    } else if (i < n && text[i] == close) {
      ++i;
      open.pop_back();
    } else {
      return fail(absl::StrCat(i < n ? "expected" : "unexpected end of the body, expected", " ',' or '",
                               std::string(1, close), "'"));
    }
  }
}

namespace {

// Parses a JSON body into `message`. An empty body is an empty message.
absl::Status ParseBody(const Request& request, google::protobuf::Message* message) {
  if (request.body.find_first_not_of(" \t\r\n") == std::string::npos) return absl::OkStatus();
  if (std::string where = JsonSyntaxError(request.body); !where.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("malformed JSON body: ", where));
  }
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  const auto status = google::protobuf::util::JsonStringToMessage(request.body, message, options);
  if (!status.ok()) {
    // Well-formed JSON that does not fit the message (unknown field, wrong
    // type): protobuf's message names the field.
    return absl::InvalidArgumentError(
        absl::StrCat("invalid JSON body: ", std::string(status.message())));
  }
  return absl::OkStatus();
}

// The proto field names of the top-level keys of a JSON object body, so that
// PUT updates exactly the fields the client sent.
absl::Status FillUpdateMask(const Request& request, v1::UpdateJobRequest* update) {
  if (update->has_update_mask()) return absl::OkStatus();
  google::protobuf::Struct object;
  if (absl::Status s = ParseBody(request, &object); !s.ok()) return s;
  const google::protobuf::Descriptor* descriptor = update->GetDescriptor();
  for (const auto& [key, value] : object.fields()) {
    const google::protobuf::FieldDescriptor* field = descriptor->FindFieldByName(key);
    for (int i = 0; field == nullptr && i < descriptor->field_count(); ++i) {
      if (descriptor->field(i)->json_name() == key) field = descriptor->field(i);
    }
    if (field == nullptr || field->name() == "id") continue;
    update->mutable_update_mask()->add_paths(field->name());
  }
  if (update->update_mask().paths_size() == 0) {
    return absl::InvalidArgumentError("the body names no field to update");
  }
  return absl::OkStatus();
}

// Reads query parameters into a request; unknown ones are an error.
class QueryReader {
 public:
  explicit QueryReader(const Request& request) : request_(request) {}

  QueryReader& String(const char* name, std::function<void(const std::string&)> set) {
    if (auto it = request_.query.find(name); it != request_.query.end()) {
      set(it->second);
      ++used_;
    }
    return *this;
  }
  QueryReader& Int(const char* name, std::function<void(int)> set) {
    if (auto it = request_.query.find(name); it != request_.query.end()) {
      int value = 0;
      if (!absl::SimpleAtoi(it->second, &value) && status_.ok()) {
        status_ = FieldError(name, absl::StrCat("\"", it->second, "\" is not an integer"));
      }
      set(value);
      ++used_;
    }
    return *this;
  }
  QueryReader& Bool(const char* name, std::function<void(bool)> set) {
    if (auto it = request_.query.find(name); it != request_.query.end()) {
      bool value = false;
      if (!absl::SimpleAtob(it->second, &value) && status_.ok()) {
        status_ = FieldError(name, absl::StrCat("\"", it->second, "\" is not true or false"));
      }
      set(value);
      ++used_;
    }
    return *this;
  }
  absl::Status Finish() const {
    if (!status_.ok()) return status_;
    if (used_ != request_.query.size()) {
      for (const auto& [key, value] : request_.query) {
        if (!known_.contains(key)) return FieldError(key, "unknown query parameter");
      }
    }
    return absl::OkStatus();
  }
  QueryReader& Known(std::initializer_list<const char*> names) {
    for (const char* n : names) known_.insert(n);
    return *this;
  }

 private:
  const Request& request_;
  size_t used_ = 0;
  absl::Status status_;
  absl::flat_hash_set<std::string> known_;
};

// What a handler behind access control (AddGuarded) gets: the check of a
// request's content against the caller's role, and where it reports the
// outcome for the audit log.
class Guard {
 public:
  Guard(const AccessControl* access, const AccessRule* rule, const Principal* caller,
        std::string target)
      : access_(access), rule_(rule), caller_(caller), target_(std::move(target)) {}

  // PERMISSION_DENIED when this request needs more than the caller's role.
  absl::Status Check(const google::protobuf::Message& request) const {
    return access_->CheckRequest(*rule_, *caller_, request);
  }
  Response Fail(const absl::Status& status) {
    code_ = status.code();
    return http::StatusResponse(status);
  }
  template <typename Result>
  Response Reply(const google::protobuf::Message& request, const absl::StatusOr<Result>& result) {
    // The target is for the audit log, which records only mutating calls.
    if (rule_->mutating) {
      if (std::string id = TargetOf(request, result.ok() ? &*result : nullptr); !id.empty()) target_ = id;
    }
    if (!result.ok()) return Fail(result.status());
    return JsonResponse(*result);
  }

  const std::string& target() const { return target_; }
  absl::StatusCode code() const { return code_; }

 private:
  const AccessControl* access_;
  const AccessRule* rule_;
  const Principal* caller_;
  std::string target_;  // the id acted on; first the path's {id}
  absl::StatusCode code_ = absl::StatusCode::kOk;
};

using GuardedHandler = std::function<Response(const Request&, const PathParams&, Guard&)>;

// A refused call: 401 says how to authenticate, 429 when to come back.
Response Refusal(const absl::Status& status) {
  Response response = http::StatusResponse(status);
  if (absl::IsUnauthenticated(status)) response.headers.emplace_back("WWW-Authenticate", "Bearer");
  if (int seconds = RetryAfterSeconds(status); seconds > 0) {
    response.headers.emplace_back("Retry-After", absl::StrCat(seconds));
  }
  return response;
}

// Registers `handler` behind the access rule of (method, pattern): the
// caller is authenticated, rate limited and role checked first, and a call
// that changes something is audited after.
void AddGuarded(http::Router& router, const AccessControl* access, absl::string_view method,
                absl::string_view pattern, GuardedHandler handler) {
  const AccessRule* rule = FindHttpRule(method, pattern);
  if (rule == nullptr) {
    // A route missing from the access table must not be served open. An
    // empty handler is an error Router keeps in status(), which
    // Server::Create checks: the server refuses to start.
    router.Add(method, pattern, nullptr);
    return;
  }
  const std::string route = absl::StrCat(method, " ", pattern);
  router.Add(method, pattern, [access, rule, route, handler](const Request& request,
                                                             const PathParams& params) {
    const auto id = params.find("id");
    const std::string path_id = id == params.end() ? "" : id->second;
    CallInfo call{.transport = "http", .route = route, .target = path_id,
                  .peer = request.remote_address};
    absl::StatusOr<Principal> caller =
        access->Admit(*rule, request.Header("authorization").value_or(""), call);
    if (!caller.ok()) return Refusal(caller.status());
    Guard guard(access, rule, &*caller, path_id);
    Response response = handler(request, params, guard);
    call.target = guard.target();
    access->Finish(*rule, *caller, call, guard.code());
    return response;
  });
}

// A handler that receives the parsed request message.
template <typename RequestMessage, typename Result>
GuardedHandler WithBody(std::function<void(const PathParams&, RequestMessage&)> from_path,
                        std::function<absl::StatusOr<Result>(const RequestMessage&)> call) {
  return [from_path, call](const Request& request, const PathParams& params, Guard& guard) {
    RequestMessage message;
    if (absl::Status s = ParseBody(request, &message); !s.ok()) return guard.Fail(s);
    if (from_path) from_path(params, message);
    if (absl::Status s = guard.Check(message); !s.ok()) return guard.Fail(s);
    return guard.Reply(message, call(message));
  };
}

// A handler for body-less routes, which takes its input from the path and query.
template <typename RequestMessage, typename Result>
GuardedHandler WithQuery(
    std::function<absl::Status(const Request&, const PathParams&, RequestMessage&)> fill,
    std::function<absl::StatusOr<Result>(const RequestMessage&)> call) {
  return [fill, call](const Request& request, const PathParams& params, Guard& guard) {
    RequestMessage message;
    if (absl::Status s = fill(request, params, message); !s.ok()) return guard.Fail(s);
    if (absl::Status s = guard.Check(message); !s.ok()) return guard.Fail(s);
    return guard.Reply(message, call(message));
  };
}

// `field` is the id field's mutable accessor (&GetJobRequest::mutable_id):
// protobuf's setters are templates, whose address cannot be taken.
template <typename RequestMessage>
std::function<absl::Status(const Request&, const PathParams&, RequestMessage&)> IdOnly(
    std::string* (RequestMessage::*field)()) {
  return [field](const Request& request, const PathParams& params, RequestMessage& m) {
    *(m.*field)() = params.at("id");
    return QueryReader(request).Finish();
  };
}


// GET /v1/cron/next?expr=&tz=&count=&from=&anchor=: the next `count` fire
// times of a cron expression, as a job with that expression and time zone
// would fire (the dashboard's live preview; `dts cron next` over HTTP).
Response CronNext(const Request& request, const Clock* clock) {
  std::string expr, tz, from_text, anchor_text;
  int count = 5;
  bool has_expr = false;
  absl::Status query = QueryReader(request)
                           .Known({"expr", "tz", "count", "from", "anchor"})
                           .String("expr", [&](const std::string& v) {
                             expr = v;
                             has_expr = true;
                           })
                           .String("tz", [&tz](const std::string& v) { tz = v; })
                           .Int("count", [&count](int v) { count = v; })
                           .String("from", [&from_text](const std::string& v) { from_text = v; })
                           .String("anchor", [&anchor_text](const std::string& v) { anchor_text = v; })
                           .Finish();
  if (!query.ok()) return http::StatusResponse(query);
  if (!has_expr || absl::StripAsciiWhitespace(expr).empty()) {
    return http::StatusResponse(FieldError("expr", "required (a cron expression)"));
  }
  if (count < 1 || count > 100) {
    return http::StatusResponse(FieldError("count", absl::StrCat("must be 1-100, got ", count)));
  }
  absl::StatusOr<absl::TimeZone> zone = cron::LoadZone(tz.empty() ? "UTC" : tz);
  if (!zone.ok()) return http::StatusResponse(FieldError("tz", zone.status().message()));
  const auto parse_time = [](const char* field, const std::string& text,
                             absl::Time* out) -> absl::Status {
    std::string error;
    if (text.empty() || absl::ParseTime(absl::RFC3339_full, text, out, &error)) return absl::OkStatus();
    return FieldError(field, absl::StrCat("\"", text, "\" is not an RFC 3339 time such as ",
                                          "2026-03-07T00:00:00Z"));
  };
  absl::Time from = clock->Now();
  if (absl::Status s = parse_time("from", from_text, &from); !s.ok()) return http::StatusResponse(s);
  absl::Time anchor = from;
  if (absl::Status s = parse_time("anchor", anchor_text, &anchor); !s.ok()) {
    return http::StatusResponse(s);
  }
  absl::StatusOr<cron::Schedule> schedule = cron::Schedule::Create(expr, *zone);
  if (!schedule.ok()) return http::StatusResponse(FieldError("expr", schedule.status().message()));

  std::string times, local_times;
  absl::Time cursor = from;
  for (int i = 0; i < count; ++i) {
    std::optional<absl::Time> next = schedule->Next(cursor, anchor);
    if (!next) break;  // a one-off @at, or nothing more within 50 years
    const char* sep = i == 0 ? "" : ",";
    absl::StrAppend(&times, sep, "\"", absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", *next, absl::UTCTimeZone()),
                    "\"");
    absl::StrAppend(&local_times, sep, "\"",
                    absl::FormatTime("%Y-%m-%dT%H:%M:%S%Ez", *next, schedule->zone()), "\"");
    cursor = *next;
  }
  if (times.empty()) return http::StatusResponse(FieldError("expr", "never fires within 50 years"));
  Response response;
  response.body = absl::StrCat(
      "{\"expr\":\"", http::JsonEscape(expr), "\",\"timezone\":\"", http::JsonEscape(schedule->zone().name()),
      "\",\"from\":\"", absl::FormatTime("%Y-%m-%dT%H:%M:%E*SZ", from, absl::UTCTimeZone()),
      "\",\"times\":[", times, "],\"local_times\":[", local_times, "]}");
  return response;
}

}  // namespace

void RegisterHttpRoutes(http::Router& router, JobApi* jobs, SchedulerApi* scheduler,
                        ExecutionApi* executions, const AccessControl* access, const Clock* clock) {
  using namespace v1;  // NOLINT(google-build-using-namespace): request types only
  router.Add("GET", "/healthz", [](const Request&, const PathParams&) {
    Response r;
    r.body = R"({"status":"ok"})";
    return r;
  });

  // Prometheus scrapes with `authorization: {credentials_file: ...}` when
  // tokens are on (docs/observability.md).
  AddGuarded(router, access, "GET", "/metrics",
             [](const Request&, const PathParams&, Guard&) {
               Response r;
               r.body = metrics::DefaultRegistry().Render();
               r.content_type = "text/plain; version=0.0.4; charset=utf-8";
               return r;
             });

  // ---- jobs
  AddGuarded(router, access, "POST", "/v1/jobs",
             WithBody<CreateJobRequest, CreateJobResponse>(
                 nullptr, [jobs](const CreateJobRequest& r) { return jobs->CreateJob(r); }));
  AddGuarded(router, access, "GET", "/v1/jobs",
             WithQuery<ListJobsRequest, ListJobsResponse>(
                 [](const Request& request, const PathParams&, ListJobsRequest& m) {
                   return QueryReader(request)
                       .Known({"page_size", "status", "last_id"})
                       .Int("page_size", [&m](int v) { m.set_page_size(v); })
                       .String("status", [&m](const std::string& v) { m.set_status(v); })
                       .String("last_id", [&m](const std::string& v) { m.set_last_id(v); })
                       .Finish();
                 },
                 [jobs](const ListJobsRequest& r) { return jobs->ListJobs(r); }));
  AddGuarded(router, access, "GET", "/v1/jobs/{id}",
             WithQuery<GetJobRequest, JobResponse>(IdOnly(&GetJobRequest::mutable_id),
                                                   [jobs](const GetJobRequest& r) { return jobs->GetJob(r); }));
  AddGuarded(router, access, "PUT", "/v1/jobs/{id}",
             [jobs](const Request& request, const PathParams& params, Guard& guard) {
               UpdateJobRequest update;
               if (absl::Status s = ParseBody(request, &update); !s.ok()) return guard.Fail(s);
               update.set_id(params.at("id"));
               if (absl::Status s = FillUpdateMask(request, &update); !s.ok()) return guard.Fail(s);
               if (absl::Status s = guard.Check(update); !s.ok()) return guard.Fail(s);
               return guard.Reply(update, jobs->UpdateJob(update));
             });
  AddGuarded(router, access, "DELETE", "/v1/jobs/{id}",
             WithQuery<DeleteJobRequest, DeleteJobResponse>(
                 [](const Request& request, const PathParams& params, DeleteJobRequest& m) {
                   m.set_id(params.at("id"));
                   return QueryReader(request)
                       .Known({"cancel_running"})
                       .Bool("cancel_running", [&m](bool v) { m.set_cancel_running(v); })
                       .Finish();
                 },
                 [jobs](const DeleteJobRequest& r) { return jobs->DeleteJob(r); }));
  AddGuarded(router, access, "GET", "/v1/jobs/{id}/executions",
             WithQuery<ListExecutionsRequest, ListExecutionsResponse>(
                 [](const Request& request, const PathParams& params, ListExecutionsRequest& m) {
                   m.set_job_id(params.at("id"));
                   return QueryReader(request)
                       .Known({"status", "page_size", "last_id"})
                       .String("status", [&m](const std::string& v) { m.set_status(v); })
                       .Int("page_size", [&m](int v) { m.set_page_size(v); })
                       .String("last_id", [&m](const std::string& v) { m.set_last_id(v); })
                       .Finish();
                 },
                 [executions](const ListExecutionsRequest& r) { return executions->ListExecutions(r); }));
  AddGuarded(router, access, "POST", "/v1/jobs/{id}/cancel",
             WithQuery<CancelJobRequest, JobResponse>(
                 IdOnly(&CancelJobRequest::mutable_id),
                 [jobs](const CancelJobRequest& r) { return jobs->CancelJob(r); }));
  AddGuarded(router, access, "POST", "/v1/jobs/{id}/run",
             WithQuery<TriggerJobRequest, TriggerJobResponse>(
                 IdOnly(&TriggerJobRequest::mutable_id),
                 [jobs](const TriggerJobRequest& r) { return jobs->TriggerJob(r); }));
  AddGuarded(router, access, "POST", "/v1/jobs/{id}/pause",
             WithQuery<PauseJobRequest, JobResponse>(
                 IdOnly(&PauseJobRequest::mutable_id),
                 [jobs](const PauseJobRequest& r) { return jobs->PauseJob(r); }));
  AddGuarded(router, access, "POST", "/v1/jobs/{id}/resume",
             WithQuery<ResumeJobRequest, JobResponse>(
                 IdOnly(&ResumeJobRequest::mutable_id),
                 [jobs](const ResumeJobRequest& r) { return jobs->ResumeJob(r); }));

  // ---- scheduler
  AddGuarded(router, access, "POST", "/v1/scheduler/jobs",
             WithBody<ScheduleJobRequest, ScheduleJobResponse>(
                 nullptr, [scheduler](const ScheduleJobRequest& r) { return scheduler->ScheduleJob(r); }));
  AddGuarded(router, access, "GET", "/v1/scheduler/jobs",
             WithQuery<ListScheduledJobsRequest, ListScheduledJobsResponse>(
                 [](const Request& request, const PathParams&, ListScheduledJobsRequest& m) {
                   return QueryReader(request)
                       .Known({"page_size", "page_token"})
                       .Int("page_size", [&m](int v) { m.set_page_size(v); })
                       .String("page_token", [&m](const std::string& v) { m.set_page_token(v); })
                       .Finish();
                 },
                 [scheduler](const ListScheduledJobsRequest& r) { return scheduler->ListScheduledJobs(r); }));
  AddGuarded(router, access, "GET", "/v1/scheduler/jobs/{id}",
             WithQuery<GetScheduledJobRequest, GetScheduledJobResponse>(
                 IdOnly(&GetScheduledJobRequest::mutable_job_id),
                 [scheduler](const GetScheduledJobRequest& r) { return scheduler->GetScheduledJob(r); }));
  AddGuarded(router, access, "DELETE", "/v1/scheduler/jobs/{id}",
             WithQuery<CancelScheduledJobRequest, CancelScheduledJobResponse>(
                 IdOnly(&CancelScheduledJobRequest::mutable_job_id),
                 [scheduler](const CancelScheduledJobRequest& r) { return scheduler->CancelJob(r); }));

  AddGuarded(router, access, "GET", "/v1/scheduler/queue",
             WithQuery<GetQueueRequest, GetQueueResponse>(
                 [](const Request& request, const PathParams&, GetQueueRequest&) {
                   return QueryReader(request).Finish();
                 },
                 [scheduler](const GetQueueRequest& r) { return scheduler->GetQueue(r); }));

  // ---- workers
  AddGuarded(router, access, "GET", "/v1/workers",
             WithQuery<ListWorkersRequest, ListWorkersResponse>(
                 [](const Request& request, const PathParams&, ListWorkersRequest&) {
                   return QueryReader(request).Finish();
                 },
                 [scheduler](const ListWorkersRequest& r) { return scheduler->ListWorkers(r); }));
  AddGuarded(router, access, "GET", "/v1/workers/{id}",
             WithQuery<GetWorkerRequest, WorkerResponse>(
                 IdOnly(&GetWorkerRequest::mutable_id),
                 [scheduler](const GetWorkerRequest& r) { return scheduler->GetWorker(r); }));

  // ---- cron
  AddGuarded(router, access, "GET", "/v1/cron/next",
             [clock](const Request& request, const PathParams&, Guard&) {
               return CronNext(request, clock);
             });

  // ---- executions
  AddGuarded(router, access, "GET", "/v1/executions",
             WithQuery<ListExecutionsRequest, ListExecutionsResponse>(
                 [](const Request& request, const PathParams&, ListExecutionsRequest& m) {
                   return QueryReader(request)
                       .Known({"job_id", "status", "page_size", "last_id"})
                       .String("job_id", [&m](const std::string& v) { m.set_job_id(v); })
                       .String("status", [&m](const std::string& v) { m.set_status(v); })
                       .Int("page_size", [&m](int v) { m.set_page_size(v); })
                       .String("last_id", [&m](const std::string& v) { m.set_last_id(v); })
                       .Finish();
                 },
                 [executions](const ListExecutionsRequest& r) { return executions->ListExecutions(r); }));
  AddGuarded(router, access, "GET", "/v1/executions/{id}",
             WithQuery<GetExecutionRequest, ExecutionResponse>(
                 IdOnly(&GetExecutionRequest::mutable_id),
                 [executions](const GetExecutionRequest& r) { return executions->GetExecution(r); }));
}

}  // namespace dts::api
