// The http executor against a real HTTP server on 127.0.0.1.

#include <stdlib.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "dts/execution/executor.h"
#include "execution/test_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace dts::execution {
namespace {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using asio::ip::tcp;
using ::testing::HasSubstr;
using ::testing::StartsWith;
using testing::Eventually;
using testing::RunToEnd;
using testing::Waiter;

struct SeenRequest {
  std::string method;
  std::string target;
  std::map<std::string, std::string> headers;
  std::string body;
};

struct Reply {
  int status = 200;
  std::string body;
  std::map<std::string, std::string> headers;
  bool hang = false;  // never answer (until the server stops)
};

Reply Hang() {
  Reply reply;
  reply.hang = true;
  return reply;
}

// A blocking HTTP/1.1 server: one thread accepts, one thread per connection
// reads a request, records it and writes the handler's reply.
class TestServer {
 public:
  explicit TestServer(std::function<Reply(const SeenRequest&)> handler)
      : handler_(std::move(handler)),
        acceptor_(io_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {
    port_ = acceptor_.local_endpoint().port();
    accept_thread_ = std::thread([this] { AcceptLoop(); });
  }

  ~TestServer() {
    stop_.Notify();
    // Unblock accept() with a connection of our own.
    boost::system::error_code ec;
    tcp::socket poke(io_);
    poke.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port_), ec);
    accept_thread_.join();
    for (std::thread& t : connection_threads_) t.join();
  }

  std::string Url(absl::string_view path) const {
    return absl::StrCat("http://127.0.0.1:", port_, path);
  }

  std::vector<SeenRequest> requests() const {
    absl::MutexLock lock(&mu_);
    return requests_;
  }

 private:
  void AcceptLoop() {
    while (true) {
      auto socket = std::make_shared<tcp::socket>(io_);
      boost::system::error_code ec;
      acceptor_.accept(*socket, ec);
      if (ec || stop_.HasBeenNotified()) return;
      connection_threads_.emplace_back([this, socket] { Serve(*socket); });
    }
  }

  void Serve(tcp::socket& socket) {
    boost::beast::flat_buffer buffer;
    http::request<http::string_body> request;
    boost::system::error_code ec;
    http::read(socket, buffer, request, ec);
    if (ec) return;
    SeenRequest seen{std::string(request.method_string()), std::string(request.target()), {},
                     request.body()};
    for (const auto& field : request) {
      seen.headers[std::string(field.name_string())] = std::string(field.value());
    }
    {
      absl::MutexLock lock(&mu_);
      requests_.push_back(seen);
    }
    Reply reply = handler_(seen);
    if (reply.hang) {
      stop_.WaitForNotification();
      return;
    }
    http::response<http::string_body> response(static_cast<http::status>(reply.status), 11);
    for (const auto& [name, value] : reply.headers) response.set(name, value);
    response.set(http::field::connection, "close");
    response.body() = reply.body;
    response.prepare_payload();
    http::write(socket, response, ec);
    socket.shutdown(tcp::socket::shutdown_both, ec);
  }

  std::function<Reply(const SeenRequest&)> handler_;
  asio::io_context io_;
  tcp::acceptor acceptor_;
  unsigned short port_ = 0;
  absl::Notification stop_;
  std::thread accept_thread_;
  std::vector<std::thread> connection_threads_;  // only touched by the accept thread
  mutable absl::Mutex mu_;
  std::vector<SeenRequest> requests_ ABSL_GUARDED_BY(mu_);
};

RunRequest HttpRequest(const std::string& url, const std::string& method = "") {
  RunRequest request;
  request.run_id = RunId("http");
  request.executor.mutable_http()->set_url(url);
  request.executor.mutable_http()->set_method(method);
  return request;
}

class HttpTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto executor = CreateLocalExecutor(&clock_, {});
    ASSERT_TRUE(executor.ok()) << executor.status();
    executor_ = *std::move(executor);
  }

  RunOutcome Run(RunRequest request) { return RunToEnd(*executor_, std::move(request)); }

  ManualClock clock_{absl::FromUnixSeconds(1'700'000'000)};
  std::unique_ptr<Executor> executor_;
};

TEST_F(HttpTest, Status200Completes) {
  TestServer server([](const SeenRequest&) { return Reply{200, "hello", {}}; });
  RunOutcome outcome = Run(HttpRequest(server.Url("/ok")));
  EXPECT_EQ(outcome.status, RunStatus::kCompleted);
  EXPECT_EQ(outcome.exit_code, 200);
  EXPECT_EQ(outcome.output, "hello");
  EXPECT_EQ(outcome.error, "");
  EXPECT_EQ(outcome.start_time, absl::FromUnixSeconds(1'700'000'000));
  ASSERT_EQ(server.requests().size(), 1u);
  EXPECT_EQ(server.requests()[0].method, "GET");
  EXPECT_EQ(server.requests()[0].target, "/ok");
  EXPECT_EQ(server.requests()[0].headers["User-Agent"], "dts");
}

TEST_F(HttpTest, Status500Fails) {
  TestServer server([](const SeenRequest&) { return Reply{500, "boom", {}}; });
  RunOutcome outcome = Run(HttpRequest(server.Url("/")));
  EXPECT_EQ(outcome.status, RunStatus::kFailed);
  EXPECT_EQ(outcome.exit_code, 500);
  EXPECT_EQ(outcome.error, "HTTP 500 (expected 2xx)");
  EXPECT_EQ(outcome.output, "boom");
}

TEST_F(HttpTest, ExpectedStatusIsHonoured) {
  TestServer server([](const SeenRequest& seen) {
    return Reply{seen.target == "/created" ? 201 : seen.target == "/missing" ? 404 : 200, "", {}};
  });
  RunRequest created = HttpRequest(server.Url("/created"), "POST");
  created.executor.mutable_http()->set_expected_status(201);
  EXPECT_EQ(Run(std::move(created)).status, RunStatus::kCompleted);

  RunRequest missing = HttpRequest(server.Url("/missing"));
  missing.executor.mutable_http()->set_expected_status(404);
  EXPECT_EQ(Run(std::move(missing)).status, RunStatus::kCompleted);

  RunRequest ok = HttpRequest(server.Url("/ok"));
  ok.executor.mutable_http()->set_expected_status(201);
  RunOutcome outcome = Run(std::move(ok));
  EXPECT_EQ(outcome.status, RunStatus::kFailed);
  EXPECT_EQ(outcome.exit_code, 200);
  EXPECT_EQ(outcome.error, "HTTP 200 (expected 201)");
}

TEST_F(HttpTest, MethodHeadersAndBodyAreSent) {
  TestServer server([](const SeenRequest&) { return Reply{204, "", {}}; });
  RunRequest request = HttpRequest(server.Url("/items/7?x=1"), "put");
  v1::HttpExecutor& http = *request.executor.mutable_http();
  (*http.mutable_headers())["Content-Type"] = "application/json";
  (*http.mutable_headers())["X-Token"] = "abc def";
  (*http.mutable_headers())["User-Agent"] = "custom";
  http.set_body(R"({"a": 1})");
  RunOutcome outcome = Run(std::move(request));
  EXPECT_EQ(outcome.status, RunStatus::kCompleted) << outcome.error;
  EXPECT_EQ(outcome.exit_code, 204);
  ASSERT_EQ(server.requests().size(), 1u);
  SeenRequest seen = server.requests()[0];
  EXPECT_EQ(seen.method, "PUT");
  EXPECT_EQ(seen.target, "/items/7?x=1");
  EXPECT_EQ(seen.headers["Content-Type"], "application/json");
  EXPECT_EQ(seen.headers["X-Token"], "abc def");
  EXPECT_EQ(seen.headers["User-Agent"], "custom");
  EXPECT_EQ(seen.headers.count("Expect"), 0u);
  EXPECT_EQ(seen.body, R"({"a": 1})");
}

TEST_F(HttpTest, PostWithoutBodySendsAnEmptyOne) {
  TestServer server([](const SeenRequest&) { return Reply{200, "", {}}; });
  RunOutcome outcome = Run(HttpRequest(server.Url("/hook"), "POST"));
  EXPECT_EQ(outcome.status, RunStatus::kCompleted) << outcome.error;
  ASSERT_EQ(server.requests().size(), 1u);
  EXPECT_EQ(server.requests()[0].method, "POST");
  EXPECT_EQ(server.requests()[0].headers["Content-Length"], "0");
  EXPECT_EQ(server.requests()[0].headers.count("Content-Type"), 0u);  // none invented
}

TEST_F(HttpTest, RedirectsAreFollowed) {
  TestServer server([](const SeenRequest& seen) {
    if (seen.target == "/old") return Reply{302, "", {{"Location", "/new"}}};
    return Reply{200, "moved here", {}};
  });
  RunOutcome outcome = Run(HttpRequest(server.Url("/old")));
  EXPECT_EQ(outcome.status, RunStatus::kCompleted) << outcome.error;
  EXPECT_EQ(outcome.output, "moved here");
  EXPECT_EQ(server.requests().size(), 2u);
}

TEST_F(HttpTest, EndlessRedirectsFail) {
  TestServer server([](const SeenRequest&) { return Reply{302, "", {{"Location", "/again"}}}; });
  RunOutcome outcome = Run(HttpRequest(server.Url("/again")));
  EXPECT_EQ(outcome.status, RunStatus::kFailed);
  EXPECT_THAT(outcome.error, HasSubstr("redirect"));
  EXPECT_EQ(server.requests().size(), 6u);  // the request and 5 redirects
}

TEST_F(HttpTest, BodyTailIsKept) {
  TestServer server(
      [](const SeenRequest&) { return Reply{200, std::string(10000, 'a') + "END", {}}; });
  RunRequest request = HttpRequest(server.Url("/big"));
  request.max_output_bytes = 5;
  RunOutcome outcome = Run(std::move(request));
  EXPECT_EQ(outcome.status, RunStatus::kCompleted);
  EXPECT_EQ(outcome.output, "aaEND");
}

TEST_F(HttpTest, SilentServerTimesOut) {
  TestServer server([](const SeenRequest&) { return Hang(); });
  RunRequest request = HttpRequest(server.Url("/slow"));
  request.timeout = absl::Milliseconds(300);
  RunOutcome outcome = Run(std::move(request));
  EXPECT_EQ(outcome.status, RunStatus::kTimedOut);
  EXPECT_EQ(outcome.error, "timed out after 300ms");
  EXPECT_EQ(outcome.exit_code, std::nullopt);
}

TEST_F(HttpTest, CancelInterruptsARequest) {
  TestServer server([](const SeenRequest&) { return Hang(); });
  Waiter waiter;
  ASSERT_TRUE(executor_->Start(HttpRequest(server.Url("/slow")), waiter.Callback()).ok());
  ASSERT_TRUE(Eventually([&] { return !server.requests().empty(); }));
  executor_->Cancel(RunId("http"));
  RunOutcome outcome = waiter.Wait();
  EXPECT_EQ(outcome.status, RunStatus::kCancelled);
  EXPECT_EQ(outcome.error, "cancelled");
}

TEST_F(HttpTest, ShutdownCancelsARequest) {
  TestServer server([](const SeenRequest&) { return Hang(); });
  Waiter waiter;
  ASSERT_TRUE(executor_->Start(HttpRequest(server.Url("/slow")), waiter.Callback()).ok());
  ASSERT_TRUE(Eventually([&] { return !server.requests().empty(); }));
  executor_->Shutdown();
  ASSERT_TRUE(waiter.Done());
  EXPECT_EQ(waiter.Wait().status, RunStatus::kCancelled);
}

TEST_F(HttpTest, ConnectionRefusedFails) {
  unsigned short port;
  {
    asio::io_context io;
    tcp::acceptor closed(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    port = closed.local_endpoint().port();
  }
  RunOutcome outcome = Run(HttpRequest(absl::StrCat("http://127.0.0.1:", port, "/")));
  EXPECT_EQ(outcome.status, RunStatus::kFailed);
  EXPECT_EQ(outcome.exit_code, std::nullopt);
  EXPECT_THAT(outcome.error, StartsWith("Couldn't connect to server"));
}

TEST_F(HttpTest, ServerProxyEnvironmentIsIgnored) {
  TestServer server([](const SeenRequest&) { return Reply{200, "direct", {}}; });
  ASSERT_EQ(setenv("http_proxy", "http://127.0.0.1:1", 1), 0);
  ASSERT_EQ(setenv("HTTP_PROXY", "http://127.0.0.1:1", 1), 0);
  RunOutcome outcome = Run(HttpRequest(server.Url("/")));
  unsetenv("http_proxy");
  unsetenv("HTTP_PROXY");
  EXPECT_EQ(outcome.status, RunStatus::kCompleted) << outcome.error;
  EXPECT_EQ(outcome.output, "direct");
}

TEST_F(HttpTest, OnlyHttpAndHttpsAreAllowed) {
  RunOutcome outcome = Run(HttpRequest("file:///etc/passwd"));
  EXPECT_EQ(outcome.status, RunStatus::kFailed);
  EXPECT_EQ(outcome.output, "");
  EXPECT_THAT(outcome.error, HasSubstr("Unsupported protocol"));
}

TEST_F(HttpTest, BadSpecsFail) {
  RunOutcome no_url = Run(HttpRequest(""));
  EXPECT_EQ(no_url.status, RunStatus::kFailed);
  EXPECT_EQ(no_url.error, "http.url is empty");

  RunOutcome bad_method = Run(HttpRequest("http://127.0.0.1/", "GET /x"));
  EXPECT_EQ(bad_method.status, RunStatus::kFailed);
  EXPECT_THAT(bad_method.error, HasSubstr("is not an HTTP method"));

  RunRequest injected = HttpRequest("http://127.0.0.1/");
  (*injected.executor.mutable_http()->mutable_headers())["X-A"] = "v\r\nX-B: evil";
  RunOutcome bad_header = Run(std::move(injected));
  EXPECT_EQ(bad_header.status, RunStatus::kFailed);
  EXPECT_EQ(bad_header.error, "http.headers[X-A] contains CR, LF or NUL");
}

}  // namespace
}  // namespace dts::execution
