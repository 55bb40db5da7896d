#include "response_head.h"

#include "gtest/gtest.h"

namespace dts::http {
namespace {

std::string Head(const Response& r, Framing f = {}, absl::string_view server = "",
                 int* dropped_out = nullptr) {
  std::string out;
  int dropped = 0;
  AppendResponseHead(r, f, server, &out, &dropped);
  if (dropped_out != nullptr) *dropped_out = dropped;
  return out;
}

TEST(ResponseHeadTest, Basic) {
  EXPECT_EQ(Head(Response{.body = "{}"}),
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n");
}

TEST(ResponseHeadTest, ServerHeaderAndCustomHeaders) {
  Response r{.status = 201, .body = "x", .content_type = "text/plain",
             .headers = {{"Location", "/v1/jobs/1"}}};
  EXPECT_EQ(Head(r, {}, "dts"),
            "HTTP/1.1 201 Created\r\nServer: dts\r\nContent-Type: text/plain\r\n"
            "Content-Length: 1\r\nLocation: /v1/jobs/1\r\n\r\n");
}

TEST(ResponseHeadTest, ConnectionHeaders) {
  Response r{.body = "", .content_type = ""};
  EXPECT_EQ(Head(r, {.keep_alive = false}),
            "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(Head(r, {.keep_alive = true, .http10_client = true}),
            "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: keep-alive\r\n\r\n");
}

TEST(ResponseHeadTest, NoBodyStatusesHaveNoLengthOrType) {
  EXPECT_EQ(Head(Response{.status = 204}), "HTTP/1.1 204 No Content\r\n\r\n");
  EXPECT_EQ(Head(Response{.status = 304}), "HTTP/1.1 304 Not Modified\r\n\r\n");
}

TEST(ResponseHeadTest, HeadRequestAnnouncesGetLength) {
  EXPECT_EQ(Head(Response{.body = "hello", .content_type = ""}, {.head_request = true}),
            "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n");
}

TEST(ResponseHeadTest, UnknownStatusHasEmptyReason) {
  EXPECT_EQ(Head(Response{.status = 299, .content_type = ""}),
            "HTTP/1.1 299 \r\nContent-Length: 0\r\n\r\n");
}

TEST(ResponseHeadTest, DropsDangerousAndServerOwnedHeaders) {
  Response r{.content_type = "",
             .headers = {{"X-Ok", "1"},
                         {"X-Evil", "a\r\nSet-Cookie: x=1"},
                         {"Bad Name", "1"},
                         {"", "1"},
                         {"content-length", "99"},
                         {"Connection", "keep-alive"},
                         {"Transfer-Encoding", "chunked"}}};
  int dropped = 0;
  EXPECT_EQ(Head(r, {}, "", &dropped), "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nX-Ok: 1\r\n\r\n");
  EXPECT_EQ(dropped, 6);
}

TEST(ResponseHeadTest, StatusRules) {
  EXPECT_FALSE(IsValidHandlerStatus(0));
  EXPECT_FALSE(IsValidHandlerStatus(101));
  EXPECT_TRUE(IsValidHandlerStatus(200));
  EXPECT_TRUE(IsValidHandlerStatus(599));
  EXPECT_FALSE(IsValidHandlerStatus(600));
  EXPECT_FALSE(StatusAllowsBody(204));
  EXPECT_TRUE(StatusAllowsBody(404));
}

}  // namespace
}  // namespace dts::http
