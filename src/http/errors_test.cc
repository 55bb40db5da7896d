#include "dts/http/errors.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace dts::http {
namespace {

TEST(JsonEscapeTest, LeavesPlainTextAlone) {
  EXPECT_EQ(JsonEscape(""), "");
  EXPECT_EQ(JsonEscape("job 42 not found"), "job 42 not found");
}

TEST(JsonEscapeTest, EscapesQuotesBackslashesAndControls) {
  EXPECT_EQ(JsonEscape(R"(say "hi" \ bye)"), R"(say \"hi\" \\ bye)");
  EXPECT_EQ(JsonEscape("a\nb\tc\rd\be\ff"), R"(a\nb\tc\rd\be\ff)");
  EXPECT_EQ(JsonEscape(std::string("\x01\x1f\0", 3)), R"(\u0001\u001f\u0000)");
}

TEST(JsonEscapeTest, KeepsValidUtf8) {
  EXPECT_EQ(JsonEscape("Zürich → 東京 😀"), "Zürich → 東京 😀");
}

TEST(JsonEscapeTest, ReplacesInvalidUtf8) {
  const std::string r = "\xEF\xBF\xBD";
  EXPECT_EQ(JsonEscape("a\xFF"
                       "b"),
            "a" + r + "b");
  EXPECT_EQ(JsonEscape("\xC0\xAF"), r + r);          // overlong '/'
  EXPECT_EQ(JsonEscape("\xED\xA0\x80"), r + r + r);  // UTF-16 surrogate
  EXPECT_EQ(JsonEscape("\xE2\x82"), r + r);          // truncated
  EXPECT_EQ(JsonEscape("\xF4\x90\x80\x80"), r + r + r + r);  // above U+10FFFF
}

TEST(JsonErrorTest, HasGatewayShape) {
  Response r = JsonError(404, 5, "job \"x\" not found");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.content_type, "application/json");
  EXPECT_EQ(r.body, R"({"code":5,"message":"job \"x\" not found","details":[]})");
}

TEST(StatusResponseTest, MapsEveryCode) {
  struct Case {
    absl::StatusCode code;
    int http;
  };
  const std::vector<Case> cases = {
      {absl::StatusCode::kCancelled, 500},          {absl::StatusCode::kUnknown, 500},
      {absl::StatusCode::kInvalidArgument, 400},    {absl::StatusCode::kDeadlineExceeded, 500},
      {absl::StatusCode::kNotFound, 404},           {absl::StatusCode::kAlreadyExists, 409},
      {absl::StatusCode::kPermissionDenied, 403},   {absl::StatusCode::kResourceExhausted, 429},
      {absl::StatusCode::kFailedPrecondition, 400}, {absl::StatusCode::kAborted, 409},
      {absl::StatusCode::kOutOfRange, 400},         {absl::StatusCode::kUnimplemented, 500},
      {absl::StatusCode::kInternal, 500},           {absl::StatusCode::kUnavailable, 503},
      {absl::StatusCode::kDataLoss, 500},           {absl::StatusCode::kUnauthenticated, 401},
  };
  for (const Case& c : cases) {
    const int grpc = static_cast<int>(c.code);
    SCOPED_TRACE(grpc);
    Response r = StatusResponse(absl::Status(c.code, "msg"));
    EXPECT_EQ(r.status, c.http);
    EXPECT_EQ(HttpStatusFromCode(c.code), c.http);
    EXPECT_EQ(r.body,
              "{\"code\":" + std::to_string(grpc) + ",\"message\":\"msg\",\"details\":[]}");
  }
}

TEST(StatusResponseTest, OkIsEmptyObject) {
  Response r = StatusResponse(absl::OkStatus());
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "{}");
}

TEST(StatusResponseTest, EscapesMessage) {
  Response r = StatusResponse(absl::InvalidArgumentError("name: \"\n\" is bad"));
  EXPECT_EQ(r.body, R"({"code":3,"message":"name: \"\n\" is bad","details":[]})");
}

}  // namespace
}  // namespace dts::http
