#include "execution/output_tail.h"

#include <string>

#include "gtest/gtest.h"

namespace dts::execution {
namespace {

TEST(OutputTailTest, KeepsEverythingUnderTheLimit) {
  OutputTail tail(10);
  tail.Append("abc");
  tail.Append("def");
  EXPECT_FALSE(tail.truncated());
  EXPECT_EQ(std::move(tail).Take(), "abcdef");
}

TEST(OutputTailTest, ExactlyTheLimitIsNotTruncated) {
  OutputTail tail(6);
  tail.Append("abcdef");
  EXPECT_EQ(std::move(tail).Take(), "abcdef");
}

TEST(OutputTailTest, KeepsTheLastBytesOfManySmallAppends) {
  OutputTail tail(7);
  std::string all;
  for (int i = 0; i < 1000; ++i) {
    std::string piece = std::to_string(i) + ",";
    tail.Append(piece);
    all += piece;
  }
  EXPECT_TRUE(tail.truncated());
  EXPECT_EQ(std::move(tail).Take(), all.substr(all.size() - 7));
}

TEST(OutputTailTest, OneLargeAppendKeepsItsEnd) {
  OutputTail tail(4);
  tail.Append("ab");
  tail.Append("0123456789");
  EXPECT_EQ(std::move(tail).Take(), "6789");
}

TEST(OutputTailTest, ZeroLimitKeepsNothing) {
  OutputTail tail(0);
  tail.Append("abc");
  EXPECT_EQ(std::move(tail).Take(), "");
}

TEST(OutputTailTest, CutNeverSplitsAUtf8Sequence) {
  OutputTail tail(5);
  tail.Append("x\xE2\x82\xAC\xE2\x82\xAC");  // "x€€": the last 5 bytes begin mid-"€"
  EXPECT_EQ(std::move(tail).Take(), "\xE2\x82\xAC");
}

TEST(OutputTailTest, UntruncatedOutputIsLeftAlone) {
  OutputTail tail(5);
  tail.Append("\x82\xAC");  // not ours to repair
  EXPECT_EQ(std::move(tail).Take(), "\x82\xAC");
}

}  // namespace
}  // namespace dts::execution
