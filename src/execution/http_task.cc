// The `http` executor: one libcurl request per run, driven by a private multi
// handle on the run's thread so that Cancel() can interrupt it at once
// (curl_multi_wakeup) instead of waiting for a progress callback.

#include <curl/curl.h>

#include <algorithm>
#include <atomic>
#include <climits>
#include <string_view>
#include <memory>
#include <utility>

#include "absl/base/call_once.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "execution/output_tail.h"
#include "execution/run_task.h"

namespace dts::execution {
namespace {

struct EasyDeleter {
  void operator()(CURL* easy) const { curl_easy_cleanup(easy); }
};
struct MultiDeleter {
  void operator()(CURLM* multi) const { curl_multi_cleanup(multi); }
};
struct SlistDeleter {
  void operator()(curl_slist* list) const { curl_slist_free_all(list); }
};
using CurlEasy = std::unique_ptr<CURL, EasyDeleter>;
using CurlMulti = std::unique_ptr<CURLM, MultiDeleter>;
using CurlSlist = std::unique_ptr<curl_slist, SlistDeleter>;

absl::Status InitCurlOnce() {
  static absl::once_flag once;
  static CURLcode result = CURLE_OK;
  absl::call_once(once, [] { result = curl_global_init(CURL_GLOBAL_DEFAULT); });
  if (result == CURLE_OK) return absl::OkStatus();
  return absl::InternalError(absl::StrCat("curl_global_init: ", curl_easy_strerror(result)));
}

// RFC 9110 token characters: what a method or a header name may contain.
bool IsToken(absl::string_view text) {
  return !text.empty() && std::all_of(text.begin(), text.end(), [](char c) {
    return absl::ascii_isalnum(static_cast<unsigned char>(c)) ||
           absl::StrContains("!#$%&'*+-.^_`|~", c);
  });
}

// Builds the request header list. The request carries the job's headers and
// none that curl would invent: "Expect:" disables `Expect: 100-continue`
// (which stalls large bodies for a second on servers that ignore it) and
// "Content-Type:" the form-encoding type curl gives every body.
absl::StatusOr<CurlSlist> MakeHeaders(const v1::HttpExecutor& http) {
  CurlSlist list;
  bool has_expect = false;
  bool has_content_type = false;
  auto append = [&list](const std::string& line) {
    curl_slist* grown = curl_slist_append(list.get(), line.c_str());
    if (grown == nullptr) return false;
    (void)list.release();  // now owned through `grown`
    list.reset(grown);
    return true;
  };
  for (const auto& [name, value] : http.headers()) {
    if (!IsToken(name)) {
      return absl::InvalidArgumentError(
          absl::StrFormat("http.headers: invalid header name \"%s\"", absl::CHexEscape(name)));
    }
    if (value.find_first_of(std::string_view("\r\n\0", 3)) != std::string::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("http.headers[", name, "] contains CR, LF or NUL"));
    }
    has_expect = has_expect || absl::EqualsIgnoreCase(name, "expect");
    has_content_type = has_content_type || absl::EqualsIgnoreCase(name, "content-type");
    // "Name;" is curl's way of sending a header with an empty value.
    if (!append(value.empty() ? absl::StrCat(name, ";") : absl::StrCat(name, ": ", value))) {
      return absl::ResourceExhaustedError("curl_slist_append failed");
    }
  }
  if ((!has_expect && !append("Expect:")) || (!has_content_type && !append("Content-Type:"))) {
    return absl::ResourceExhaustedError("curl_slist_append failed");
  }
  return list;
}

size_t WriteBody(char* data, size_t size, size_t count, void* tail) {
  static_cast<OutputTail*>(tail)->Append(absl::string_view(data, size * count));
  return size * count;
}

class HttpTask final : public RunTask {
 public:
  HttpTask(RunRequest request, const TaskContext& context, CurlEasy easy, CurlMulti multi,
           CurlSlist headers)
      : http_(std::move(*request.executor.mutable_http())),
        method_(absl::AsciiStrToUpper(http_.method().empty() ? "GET" : http_.method())),
        timeout_(request.timeout > absl::ZeroDuration() ? request.timeout
                                                        : context.options->http_default_timeout),
        clock_(context.clock),
        options_(context.options),
        easy_(std::move(easy)),
        multi_(std::move(multi)),
        headers_(std::move(headers)),
        body_(request.max_output_bytes) {}

  // Validates the method and sets every option on the easy handle.
  absl::Status Configure();

  RunOutcome Run() override;

  void Cancel() override {
    cancelled_.store(true);
    curl_multi_wakeup(multi_.get());  // thread-safe; ends Perform()'s curl_multi_poll()
  }

 private:
  void ConfigureMethod();
  absl::StatusOr<CURLcode> Perform();
  void Classify(CURLcode result, RunOutcome& outcome) const;

  const v1::HttpExecutor http_;
  const std::string method_;
  const absl::Duration timeout_;
  const Clock* const clock_;
  const ExecutorOptions* const options_;
  CurlEasy easy_;
  CurlMulti multi_;
  CurlSlist headers_;
  OutputTail body_;
  char error_[CURL_ERROR_SIZE] = {};
  std::atomic<bool> cancelled_{false};
};

// POST is set through POSTFIELDS rather than CUSTOMREQUEST so that a 301/302/303
// turns it into a GET as browsers do; CUSTOMREQUEST would stick to redirects.
void HttpTask::ConfigureMethod() {
  CURL* easy = easy_.get();
  bool send_body = !http_.body().empty() || method_ == "POST" || method_ == "PUT" ||
                   method_ == "PATCH";
  if (method_ == "HEAD") {
    curl_easy_setopt(easy, CURLOPT_NOBODY, 1L);
  } else if (send_body) {
    curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE,
                     static_cast<curl_off_t>(http_.body().size()));
    curl_easy_setopt(easy, CURLOPT_POSTFIELDS, http_.body().data());
  }
  if (method_ != "HEAD" && method_ != "GET" && method_ != "POST") {
    curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, method_.c_str());
  } else if (method_ == "GET" && send_body) {
    curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, "GET");
  }
}

absl::Status HttpTask::Configure() {
  if (http_.url().empty()) return absl::InvalidArgumentError("http.url is empty");
  if (!IsToken(method_)) {
    return absl::InvalidArgumentError(
        absl::StrFormat("http.method \"%s\" is not an HTTP method", absl::CHexEscape(method_)));
  }
  CURL* easy = easy_.get();
  curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);  // never touch this process's signals
  curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, error_);
  if (curl_easy_setopt(easy, CURLOPT_URL, http_.url().c_str()) != CURLE_OK) {
    return absl::InvalidArgumentError("http.url is not a URL curl accepts");
  }
  curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(easy, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, options_->http_max_redirects > 0 ? 1L : 0L);
  curl_easy_setopt(easy, CURLOPT_MAXREDIRS, static_cast<long>(options_->http_max_redirects));
  // An explicit proxy (empty: none) also stops curl reading http_proxy & co.
  // from this process's environment.
  curl_easy_setopt(easy, CURLOPT_PROXY, options_->http_proxy.c_str());
  curl_easy_setopt(easy, CURLOPT_USERAGENT, options_->http_user_agent.c_str());
  curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS,
                   static_cast<long>(std::min<int64_t>(absl::ToInt64Milliseconds(timeout_),
                                                       LONG_MAX)));
  curl_easy_setopt(easy, CURLOPT_HTTPHEADER, headers_.get());
  curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, &WriteBody);
  curl_easy_setopt(easy, CURLOPT_WRITEDATA, &body_);
  ConfigureMethod();
  return absl::OkStatus();
}

// Drives the transfer to its end. CANCELLED when Cancel() interrupted it.
absl::StatusOr<CURLcode> HttpTask::Perform() {
  if (curl_multi_add_handle(multi_.get(), easy_.get()) != CURLM_OK) {
    return absl::InternalError("curl_multi_add_handle failed");
  }
  int running = 1;
  CURLMcode code = CURLM_OK;
  while (code == CURLM_OK && !cancelled_.load()) {
    code = curl_multi_perform(multi_.get(), &running);
    if (code != CURLM_OK || running == 0) break;
    code = curl_multi_poll(multi_.get(), nullptr, 0, 1000, nullptr);
  }
  CURLcode result = CURLE_OK;
  int queued = 0;
  while (CURLMsg* message = curl_multi_info_read(multi_.get(), &queued)) {
    if (message->msg == CURLMSG_DONE) result = message->data.result;
  }
  curl_multi_remove_handle(multi_.get(), easy_.get());
  if (running != 0 && cancelled_.load()) return absl::CancelledError("cancelled");
  if (code != CURLM_OK) return absl::InternalError(curl_multi_strerror(code));
  return result;
}

void HttpTask::Classify(CURLcode result, RunOutcome& outcome) const {
  long status = 0;
  curl_easy_getinfo(easy_.get(), CURLINFO_RESPONSE_CODE, &status);
  if (status > 0) outcome.exit_code = static_cast<int>(status);
  outcome.status = RunStatus::kFailed;
  if (result == CURLE_OPERATION_TIMEDOUT) {
    outcome.status = RunStatus::kTimedOut;
    outcome.error = TimedOutMessage(timeout_);
  } else if (result != CURLE_OK) {
    outcome.error = error_[0] != '\0' ? absl::StrCat(curl_easy_strerror(result), ": ", error_)
                                      : curl_easy_strerror(result);
  } else if (http_.expected_status() != 0 && status != http_.expected_status()) {
    outcome.error = absl::StrCat("HTTP ", status, " (expected ", http_.expected_status(), ")");
  } else if (http_.expected_status() == 0 && (status < 200 || status > 299)) {
    outcome.error = absl::StrCat("HTTP ", status, " (expected 2xx)");
  } else {
    outcome.status = RunStatus::kCompleted;
  }
}

RunOutcome HttpTask::Run() {
  RunOutcome outcome;
  outcome.start_time = clock_->Now();
  absl::StatusOr<CURLcode> result = absl::CancelledError("cancelled before it started");
  if (!cancelled_.load()) result = Perform();
  if (result.ok()) {
    Classify(*result, outcome);
  } else {
    outcome.status =
        absl::IsCancelled(result.status()) ? RunStatus::kCancelled : RunStatus::kFailed;
    outcome.error = std::string(result.status().message());
  }
  outcome.output = std::move(body_).Take();
  outcome.end_time = clock_->Now();
  return outcome;
}

}  // namespace

absl::StatusOr<std::unique_ptr<RunTask>> CreateHttpTask(RunRequest request,
                                                        const TaskContext& context) {
  absl::Status init = InitCurlOnce();
  if (!init.ok()) return init;
  absl::StatusOr<CurlSlist> headers = MakeHeaders(request.executor.http());
  if (!headers.ok()) return headers.status();
  CurlEasy easy(curl_easy_init());
  CurlMulti multi(curl_multi_init());
  if (easy == nullptr || multi == nullptr) {
    return absl::ResourceExhaustedError("cannot create a curl handle");
  }
  auto task = std::make_unique<HttpTask>(std::move(request), context, std::move(easy),
                                         std::move(multi), *std::move(headers));
  absl::Status status = task->Configure();
  if (!status.ok()) return status;
  return task;
}

}  // namespace dts::execution
