#include "dts/http/server.h"

#include <atomic>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "dts/http/errors.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "test_client.h"

namespace dts::http {
namespace {

using ::testing::HasSubstr;
using testing::ClientResponse;
using testing::TestClient;

std::string HeaderOf(const ClientResponse& r, absl::string_view name) {
  auto it = r.find(boost::beast::string_view(name.data(), name.size()));
  return it == r.end() ? "<none>" : std::string(it->value());
}

std::string Post(absl::string_view target, absl::string_view body,
                 absl::string_view extra_headers = "") {
  return absl::StrCat("POST ", target, " HTTP/1.1\r\nHost: test\r\nContent-Type: text/plain\r\n",
                      "Content-Length: ", body.size(), "\r\n", extra_headers, "\r\n", body);
}

class ServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    router_.Add("GET", "/hello", [](const Request&, const PathParams&) {
      return Response{.body = R"({"hello":"world"})"};
    });
    router_.Add("GET", "/v1/jobs/{id}", [](const Request&, const PathParams& p) {
      return Response{.body = absl::StrCat(R"({"id":")", JsonEscape(p.at("id")), R"("})")};
    });
    router_.Add("POST", "/echo", [](const Request& r, const PathParams&) {
      return Response{.status = 201, .body = r.body,
                      .content_type = r.Header("content-type").value_or("none")};
    });
    router_.Add("GET", "/query", [](const Request& r, const PathParams&) {
      std::string out;
      for (const auto& [k, v] : r.query) absl::StrAppend(&out, k, "=", v, ";");
      return Response{.body = out, .content_type = "text/plain"};
    });
    router_.Add("GET", "/whoami", [](const Request& r, const PathParams&) {
      return Response{.body = absl::StrCat(r.Header("x-TEST").value_or("?"), "|", r.remote_address),
                      .content_type = "text/plain"};
    });
    router_.Add("GET", "/headers", [](const Request&, const PathParams&) {
      return Response{.headers = {{"X-Custom", "yes"}, {"X-Evil", "a\r\nInjected: 1"}}};
    });
    router_.Add("GET", "/throw", [](const Request&, const PathParams&) -> Response {
      throw std::runtime_error("kaboom");
    });
    router_.Add("GET", "/throw-int", [](const Request&, const PathParams&) -> Response {
      throw 42;
    });
    router_.Add("GET", "/bad-status", [](const Request&, const PathParams&) {
      return Response{.status = 1000};
    });
    router_.Add("GET", "/block", [this](const Request&, const PathParams&) {
      entered_.Notify();
      release_.WaitForNotification();
      return Response{.body = "released"};
    });
  }

  void Start(ServerOptions options = {}) {
    options.log_error = [this](absl::string_view m) {
      absl::MutexLock lock(&log_mu_);
      log_.emplace_back(m);
    };
    absl::StatusOr<std::unique_ptr<Server>> server = Server::Create(std::move(options), &router_);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
  }

  std::vector<std::string> Log() {
    absl::MutexLock lock(&log_mu_);
    return log_;
  }

  int port() const { return server_->port(); }

  Router router_;
  absl::Notification entered_, release_;
  absl::Mutex log_mu_;
  std::vector<std::string> log_ ABSL_GUARDED_BY(log_mu_);
  std::unique_ptr<Server> server_;
};

TEST_F(ServerTest, ServesRoutesWithParams) {
  Start();
  EXPECT_THAT(server_->address(), HasSubstr("127.0.0.1:"));
  EXPECT_GT(port(), 0);
  TestClient client(port());
  ClientResponse r = client.Get("/v1/jobs/abc%20d");
  EXPECT_EQ(r.result_int(), 200);
  EXPECT_EQ(r.body(), R"({"id":"abc d"})");
  EXPECT_EQ(HeaderOf(r, "Content-Type"), "application/json");
}

TEST_F(ServerTest, NotFoundAndMethodNotAllowed) {
  Start();
  TestClient client(port());
  ClientResponse missing = client.Get("/nope");
  EXPECT_EQ(missing.result_int(), 404);
  EXPECT_THAT(missing.body(), HasSubstr(R"("code":5)"));
  client.Send("DELETE /hello HTTP/1.1\r\nHost: t\r\n\r\n");
  ClientResponse wrong = client.Read();
  EXPECT_EQ(wrong.result_int(), 405);
  EXPECT_EQ(HeaderOf(wrong, "Allow"), "GET, HEAD");
}

TEST_F(ServerTest, QueryIsParsedAndDecoded) {
  Start();
  TestClient client(port());
  ClientResponse r = client.Get("/query?b=x+y&a=%C3%A9%26&a=2&flag");
  EXPECT_EQ(r.body(), "a=é&;a=2;b=x y;flag=;");
}

TEST_F(ServerTest, MalformedTargetIs400) {
  Start();
  TestClient client(port());
  ClientResponse r = client.Get("/query?x=%zz");
  EXPECT_EQ(r.result_int(), 400);
  EXPECT_THAT(r.body(), HasSubstr(R"("code":3)"));
  EXPECT_EQ(client.Get("/hello").result_int(), 200);  // the framing was fine
}

TEST_F(ServerTest, RequestHeadersAndRemoteAddress) {
  Start();
  TestClient client(port());
  ClientResponse r = client.Get("/whoami", "X-Test: abc\r\n");
  EXPECT_THAT(r.body(), HasSubstr("abc|127.0.0.1:"));
}

TEST_F(ServerTest, ResponseHeadersAreSentAndInjectionIsDropped) {
  Start({.server_header = "dts-test"});
  TestClient client(port());
  ClientResponse r = client.Get("/headers");
  EXPECT_EQ(HeaderOf(r, "X-Custom"), "yes");
  EXPECT_EQ(HeaderOf(r, "X-Evil"), "<none>");
  EXPECT_EQ(HeaderOf(r, "Injected"), "<none>");
  EXPECT_EQ(HeaderOf(r, "Server"), "dts-test");
  EXPECT_THAT(Log(), ::testing::Contains(HasSubstr("dropped 1")));
}

TEST_F(ServerTest, PostBodyReachesHandler) {
  Start();
  TestClient client(port());
  client.Send(Post("/echo", R"({"name":"x"})"));
  ClientResponse r = client.Read();
  EXPECT_EQ(r.result_int(), 201);
  EXPECT_EQ(r.body(), R"({"name":"x"})");
  EXPECT_EQ(HeaderOf(r, "Content-Type"), "text/plain");
}

TEST_F(ServerTest, KeepAliveServesTwoRequestsOnOneConnection) {
  Start();
  TestClient client(port());
  ClientResponse first = client.Get("/hello");
  EXPECT_EQ(first.result_int(), 200);
  EXPECT_TRUE(first.keep_alive());
  ClientResponse second = client.Get("/v1/jobs/2");
  EXPECT_EQ(second.body(), R"({"id":"2"})");
}

TEST_F(ServerTest, PipelinedRequestsAreAnsweredInOrder) {
  Start();
  TestClient client(port());
  std::string batch;
  for (int i = 0; i < 20; ++i) {
    if (i == 7) {
      batch += Post("/echo", "body-7");
    } else {
      absl::StrAppend(&batch, "GET /v1/jobs/", i, " HTTP/1.1\r\nHost: t\r\n\r\n");
    }
  }
  client.Send(batch);  // one write: the server sees them all back to back
  for (int i = 0; i < 20; ++i) {
    ClientResponse r = client.Read();
    if (i == 7) {
      EXPECT_EQ(r.body(), "body-7");
    } else {
      EXPECT_EQ(r.body(), absl::StrCat(R"({"id":")", i, R"("})"));
    }
  }
}

TEST_F(ServerTest, ConnectionCloseIsHonoured) {
  Start();
  TestClient client(port());
  ClientResponse r = client.Get("/hello", "Connection: close\r\n");
  EXPECT_EQ(r.result_int(), 200);
  EXPECT_EQ(HeaderOf(r, "Connection"), "close");
  EXPECT_TRUE(client.Closed());
}

TEST_F(ServerTest, Http10ClosesUnlessKeepAliveAsked) {
  Start();
  {
    TestClient client(port());
    client.Send("GET /hello HTTP/1.0\r\n\r\n");
    EXPECT_EQ(client.Read().result_int(), 200);
    EXPECT_TRUE(client.Closed());
  }
  TestClient client(port());
  client.Send("GET /hello HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
  ClientResponse r = client.Read();
  EXPECT_EQ(HeaderOf(r, "Connection"), "keep-alive");
  client.Send("GET /hello HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
  EXPECT_EQ(client.Read().result_int(), 200);
}

TEST_F(ServerTest, HeadSendsHeadersOnly) {
  Start();
  TestClient client(port());
  client.Send("HEAD /hello HTTP/1.1\r\nHost: t\r\n\r\n");
  ClientResponse head = client.Read(/*head=*/true);
  EXPECT_EQ(head.result_int(), 200);
  EXPECT_EQ(HeaderOf(head, "Content-Length"), "17");
  EXPECT_EQ(head.body(), "");
  // The connection is still in sync: the next response parses.
  EXPECT_EQ(client.Get("/hello").body(), R"({"hello":"world"})");
}

TEST_F(ServerTest, BodyAtTheLimitIsAccepted) {
  Start({.max_body_bytes = 1024});
  TestClient client(port());
  client.Send(Post("/echo", std::string(1024, 'a')));
  EXPECT_EQ(client.Read().result_int(), 201);
}

TEST_F(ServerTest, OversizedBodyWithContentLengthIs413) {
  Start({.max_body_bytes = 1024});
  TestClient client(port());
  client.Send(Post("/echo", std::string(4096, 'a')));
  ClientResponse r = client.Read();
  EXPECT_EQ(r.result_int(), 413);
  EXPECT_THAT(r.body(), HasSubstr("limit of 1024 bytes"));
  EXPECT_THAT(r.body(), HasSubstr(R"("code":8)"));
  EXPECT_TRUE(client.Closed());
}

TEST_F(ServerTest, OversizedChunkedBodyIs413) {
  Start({.max_body_bytes = 1024});
  TestClient client(port());
  std::string chunk(600, 'b');
  std::string request =
      "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (int i = 0; i < 3; ++i) absl::StrAppend(&request, "258\r\n", chunk, "\r\n");
  request += "0\r\n\r\n";
  client.Send(request);
  ClientResponse r = client.Read();
  EXPECT_EQ(r.result_int(), 413);
  EXPECT_THAT(r.body(), HasSubstr("limit of 1024 bytes"));
  EXPECT_TRUE(client.Closed());
}

TEST_F(ServerTest, ChunkedBodyWithinLimitIsAccepted) {
  Start({.max_body_bytes = 1024});
  TestClient client(port());
  client.Send("POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
              "3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n");
  ClientResponse r = client.Read();
  EXPECT_EQ(r.result_int(), 201);
  EXPECT_EQ(r.body(), "abcde");
}

TEST_F(ServerTest, ExpectContinueGetsInterimResponse) {
  Start();
  TestClient client(port());
  client.Send(
      "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n");
  EXPECT_EQ(client.Read().result_int(), 100);
  client.Send("hello");
  ClientResponse r = client.Read();
  EXPECT_EQ(r.result_int(), 201);
  EXPECT_EQ(r.body(), "hello");
}

TEST_F(ServerTest, MalformedRequestIs400AndCloses) {
  Start();
  TestClient client(port());
  client.Send("THIS IS NOT HTTP\r\n\r\n");
  ClientResponse r = client.Read();
  EXPECT_EQ(r.result_int(), 400);
  EXPECT_THAT(r.body(), HasSubstr("malformed HTTP request"));
  EXPECT_EQ(HeaderOf(r, "Connection"), "close");
  EXPECT_TRUE(client.Closed());
}

TEST_F(ServerTest, BadContentLengthIs400) {
  Start();
  TestClient client(port());
  client.Send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: nope\r\n\r\n");
  EXPECT_EQ(client.Read().result_int(), 400);
  EXPECT_TRUE(client.Closed());
}

TEST_F(ServerTest, OversizedHeaderIs431) {
  Start({.max_header_bytes = 1024});
  TestClient client(port());
  ClientResponse r = client.Get("/hello", absl::StrCat("X-Big: ", std::string(2048, 'h'), "\r\n"));
  EXPECT_EQ(r.result_int(), 431);
  EXPECT_TRUE(client.Closed());
}

TEST_F(ServerTest, HandlerExceptionIs500AndServerKeepsServing) {
  Start();
  TestClient client(port());
  ClientResponse r = client.Get("/throw");
  EXPECT_EQ(r.result_int(), 500);
  EXPECT_EQ(r.body(), R"({"code":13,"message":"internal error","details":[]})");
  EXPECT_EQ(client.Get("/throw-int").result_int(), 500);
  EXPECT_EQ(client.Get("/hello").result_int(), 200);  // same connection
  TestClient other(port());
  EXPECT_EQ(other.Get("/hello").result_int(), 200);
  EXPECT_THAT(Log(), ::testing::Contains(HasSubstr("kaboom")));
}

TEST_F(ServerTest, InvalidHandlerStatusIs500) {
  Start();
  TestClient client(port());
  EXPECT_EQ(client.Get("/bad-status").result_int(), 500);
  EXPECT_THAT(Log(), ::testing::Contains(HasSubstr("status 1000")));
}

TEST_F(ServerTest, IdleConnectionIsClosed) {
  Start({.idle_timeout = absl::Milliseconds(50)});
  TestClient client(port());
  EXPECT_TRUE(client.Closed());
}

TEST_F(ServerTest, ConcurrentClientsFromSeveralThreads) {
  Start({.threads = 3});
  constexpr int kThreads = 8, kRequests = 50;
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      TestClient client(port());
      for (int i = 0; i < kRequests; ++i) {
        std::string id = absl::StrCat(t, "-", i);
        ClientResponse r = client.Get("/v1/jobs/" + id);
        if (r.result_int() == 200 && r.body() == absl::StrCat(R"({"id":")", id, R"("})")) ++ok;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(ok.load(), kThreads * kRequests);
}

TEST_F(ServerTest, ShutdownWithOpenConnectionsReturns) {
  Start();
  std::vector<std::unique_ptr<TestClient>> clients;
  for (int i = 0; i < 4; ++i) {
    clients.push_back(std::make_unique<TestClient>(port()));
    EXPECT_EQ(clients.back()->Get("/hello").result_int(), 200);  // idle keep-alive
  }
  clients.push_back(std::make_unique<TestClient>(port()));
  clients.back()->Send("GET /hello HTTP/1.1\r\nHo");  // half a request
  clients.push_back(std::make_unique<TestClient>(port()));  // never sent anything
  server_->Shutdown();
  for (auto& client : clients) EXPECT_TRUE(client->Closed());
  server_->Shutdown();  // idempotent
}

TEST_F(ServerTest, ShutdownLetsRequestInProgressFinish) {
  Start();
  TestClient client(port());
  client.Send("GET /block HTTP/1.1\r\nHost: t\r\n\r\n");
  entered_.WaitForNotification();
  std::thread stopper([&] { server_->Shutdown(); });
  release_.Notify();
  ClientResponse r = client.Read();
  EXPECT_EQ(r.body(), "released");
  stopper.join();
  EXPECT_TRUE(client.Closed());
}

TEST_F(ServerTest, ShutdownCutsRequestsPastTheGrace) {
  Start({.shutdown_grace = absl::ZeroDuration()});
  TestClient client(port());
  client.Send("GET /block HTTP/1.1\r\nHost: t\r\n\r\n");
  entered_.WaitForNotification();
  std::thread stopper([&] { server_->Shutdown(); });
  release_.Notify();  // the handler must finish for the I/O thread to be joined
  stopper.join();
  server_.reset();
  // Whether the response got out first is a race; the connection is gone.
  bool closed = false;
  try {
    client.Read();
    closed = client.Closed();
  } catch (const std::system_error&) {
    closed = true;
  }
  EXPECT_TRUE(closed);
}

TEST_F(ServerTest, DestructorShutsDown) {
  Start();
  TestClient client(port());
  EXPECT_EQ(client.Get("/hello").result_int(), 200);
  server_.reset();
  EXPECT_TRUE(client.Closed());
}

TEST_F(ServerTest, Ipv6Loopback) {
  absl::StatusOr<std::unique_ptr<Server>> server = Server::Create({.address = "[::1]:0"}, &router_);
  if (!server.ok()) GTEST_SKIP() << "no IPv6 loopback here: " << server.status();
  EXPECT_THAT((*server)->address(), HasSubstr("[::1]:"));
  TestClient client((*server)->port(), "::1");
  ClientResponse r = client.Get("/whoami");
  EXPECT_THAT(r.body(), HasSubstr("|[::1]:"));
}

TEST(ServerCreateTest, RejectsBadAddresses) {
  Router router;
  for (const char* address : {"nonsense", "127.0.0.1", "[::1", "::1:80", "127.0.0.1:99999",
                              "127.0.0.1:x", "example.com:80"}) {
    SCOPED_TRACE(address);
    auto server = Server::Create({.address = address}, &router);
    EXPECT_EQ(server.status().code(), absl::StatusCode::kInvalidArgument);
  }
}

TEST(ServerCreateTest, RejectsBadOptionsAndRouters) {
  Router router;
  EXPECT_EQ(Server::Create({}, nullptr).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Server::Create({.threads = 0}, &router).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Server::Create({.idle_timeout = absl::ZeroDuration()}, &router).status().code(),
            absl::StatusCode::kInvalidArgument);
  router.Add("GET", "bad", [](const Request&, const PathParams&) { return Response{}; });
  auto server = Server::Create({}, &router);
  EXPECT_EQ(server.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(server.status().message(), HasSubstr("bad"));
}

TEST(ServerCreateTest, PortInUseIsUnavailable) {
  Router router;
  auto first = Server::Create({}, &router);
  ASSERT_TRUE(first.ok());
  auto second = Server::Create({.address = (*first)->address()}, &router);
  EXPECT_EQ(second.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(second.status().message(), HasSubstr((*first)->address()));
}

TEST(ServerCreateTest, LocalhostMeansLoopback) {
  Router router;
  auto server = Server::Create({.address = "localhost:0"}, &router);
  ASSERT_TRUE(server.ok()) << server.status();
  EXPECT_THAT((*server)->address(), HasSubstr("127.0.0.1:"));
}

}  // namespace
}  // namespace dts::http
