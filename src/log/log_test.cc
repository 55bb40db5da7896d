#include "dts/log/log.h"

#include <string>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace dts::log {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;

TEST(LogTest, JsonLinesEscapeAndKeepFieldOrder) {
  const std::string line =
      FormatLine(Format::kJson, Level::kWarn, "engine", "run \"x\" ended\n", "req-1",
                 {{"run_id", "r1"}, {"error", "tab\there"}}, "2026-12-07T00:00:00.000Z");
  EXPECT_EQ(line,
            R"({"time":"2026-12-07T00:00:00.000Z","level":"warn","component":"engine",)"
            R"("msg":"run \"x\" ended\n","request_id":"req-1","run_id":"r1","error":"tab\there"})");
}

TEST(LogTest, TextLinesQuoteValuesThatWouldNotSplitBack) {
  const std::string line = FormatLine(Format::kText, Level::kInfo, "api", "job created", "",
                                      {{"job_id", "j1"}, {"name", "my job"}, {"empty", ""}}, "T");
  EXPECT_EQ(line, R"(T INFO api: job created job_id=j1 name="my job" empty="")");
}

TEST(LogTest, ConfigureChecksBothFlagsAndNamesThem) {
  absl::Status s = Configure("--log-format", "xml", "--log-level", "info");
  EXPECT_TRUE(absl::IsInvalidArgument(s));
  EXPECT_THAT(s.message(), HasSubstr("--log-format"));
  s = Configure("--log-format", "json", "--log-level", "loud");
  EXPECT_TRUE(absl::IsInvalidArgument(s));
  EXPECT_THAT(s.message(), HasSubstr("--log-level"));
  ASSERT_TRUE(Configure("--log-format", "text", "--log-level", "info").ok());
}

TEST(LogTest, LinesBelowTheLevelAreDroppedAndTheRequestIdIsAdded) {
  std::vector<std::string> lines;
  SetSinkForTesting(&lines);
  ASSERT_TRUE(Configure("f", "json", "l", "warn").ok());
  Info("api", "not shown");
  EXPECT_FALSE(Enabled(Level::kInfo));
  {
    RequestScope scope("abc");
    Warn("api", "shown");
    {
      RequestScope inner("def");
      EXPECT_EQ(CurrentRequestId(), "def");
    }
    EXPECT_EQ(CurrentRequestId(), "abc");
  }
  EXPECT_THAT(CurrentRequestId(), IsEmpty());
  Error("api", "no request");
  SetSinkForTesting(nullptr);
  ASSERT_TRUE(Configure("f", "text", "l", "info").ok());
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_THAT(lines[0], HasSubstr(R"("msg":"shown","request_id":"abc")"));
  EXPECT_THAT(lines[1], HasSubstr(R"("msg":"no request"})"));
}

TEST(LogTest, RequestScopeIsPerThread) {
  RequestScope scope("main");
  std::string seen = "unset";
  std::thread([&] { seen = CurrentRequestId(); }).join();
  EXPECT_THAT(seen, IsEmpty());
}

TEST(LogTest, OfferedRequestIdsAreKeptOnlyWhenSafe) {
  EXPECT_EQ(RequestIdFrom("trace-42.a_b:c"), "trace-42.a_b:c");
  for (const char* bad : {"", "has space", "quote\"", "new\nline", "é"}) {
    const std::string id = RequestIdFrom(bad);
    EXPECT_EQ(id.size(), 16u) << bad;
    EXPECT_NE(id, bad);
  }
  EXPECT_EQ(RequestIdFrom(std::string(129, 'a')).size(), 16u);
  EXPECT_NE(RequestIdFrom(""), RequestIdFrom(""));
}

}  // namespace
}  // namespace dts::log
