#include "cli/shell_words.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace dts::cli {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using Words = std::vector<std::string>;

Words Split(const std::string& text) {
  absl::StatusOr<Words> words = SplitShellWords(text);
  EXPECT_TRUE(words.ok()) << text << ": " << words.status();
  return words.ok() ? *words : Words{};
}

TEST(SplitShellWordsTest, PlainWordsSplitOnAnyBlankRun) {
  EXPECT_THAT(Split("prog arg1  arg2\targ3\narg4"),
              ElementsAre("prog", "arg1", "arg2", "arg3", "arg4"));
  EXPECT_THAT(Split("   lead and trail   "), ElementsAre("lead", "and", "trail"));
}

TEST(SplitShellWordsTest, EmptyAndBlankTextHaveNoWords) {
  EXPECT_THAT(Split(""), ElementsAre());
  EXPECT_THAT(Split(" \t\n"), ElementsAre());
}

TEST(SplitShellWordsTest, TheIssueExample) {
  EXPECT_THAT(Split("prog arg 'quoted arg'"), ElementsAre("prog", "arg", "quoted arg"));
}

TEST(SplitShellWordsTest, SingleQuotesAreLiteral) {
  EXPECT_THAT(Split(R"('a "b" \n $HOME *')"), ElementsAre(R"(a "b" \n $HOME *)"));
}

TEST(SplitShellWordsTest, DoubleQuotesEscapeOnlyTheirSpecialCharacters) {
  EXPECT_THAT(Split(R"("say \"hi\" \\ \$x \a")"), ElementsAre(R"(say "hi" \ $x \a)"));
  EXPECT_THAT(Split(R"("it's")"), ElementsAre("it's"));
}

TEST(SplitShellWordsTest, BackslashOutsideQuotesEscapesAnything) {
  EXPECT_THAT(Split(R"(a\ b \'c \"d \\e)"), ElementsAre("a b", "'c", "\"d", "\\e"));
}

TEST(SplitShellWordsTest, BackslashNewlineJoinsLines) {
  EXPECT_THAT(Split("echo a\\\nb"), ElementsAre("echo", "ab"));
  EXPECT_THAT(Split("\"x\\\ny\""), ElementsAre("xy"));
}

TEST(SplitShellWordsTest, AdjacentPartsFormOneWord) {
  EXPECT_THAT(Split(R"(--opt='a b'"c d"e)"), ElementsAre("--opt=a bc de"));
}

TEST(SplitShellWordsTest, EmptyQuotesAreEmptyWords) {
  EXPECT_THAT(Split("a '' \"\" b"), ElementsAre("a", "", "", "b"));
}

TEST(SplitShellWordsTest, NothingIsExpandedOrCommentedOut) {
  EXPECT_THAT(Split("echo $HOME ~ *.txt #not-a-comment; rm -rf /"),
              ElementsAre("echo", "$HOME", "~", "*.txt", "#not-a-comment;", "rm", "-rf", "/"));
}

TEST(SplitShellWordsTest, UnterminatedQuotesAreErrors) {
  for (const char* text : {"echo 'abc", "echo \"abc", "echo \"ab\\\"", "'"}) {
    absl::StatusOr<Words> words = SplitShellWords(text);
    ASSERT_FALSE(words.ok()) << text;
    EXPECT_TRUE(absl::IsInvalidArgument(words.status()));
    EXPECT_THAT(words.status().message(), HasSubstr("unterminated")) << text;
  }
}

TEST(SplitShellWordsTest, UnterminatedErrorSaysWhichQuoteAndWhere) {
  absl::StatusOr<Words> words = SplitShellWords("ab 'cd");
  ASSERT_FALSE(words.ok());
  EXPECT_THAT(words.status().message(), HasSubstr("single quote (opened at character 4)"));
}

TEST(SplitShellWordsTest, TrailingBackslashIsAnError) {
  absl::StatusOr<Words> words = SplitShellWords("echo a\\");
  ASSERT_FALSE(words.ok());
  EXPECT_TRUE(absl::IsInvalidArgument(words.status()));
}

TEST(JoinShellWordsTest, QuotesOnlyWhatNeedsIt) {
  EXPECT_EQ(JoinShellWords({"prog", "--flag=x", "/tmp/a.txt"}), "prog --flag=x /tmp/a.txt");
  EXPECT_EQ(JoinShellWords({"a b", "", "$x"}), "'a b' '' '$x'");
  EXPECT_EQ(JoinShellWords({"it's"}), R"('it'\''s')");
}

TEST(JoinShellWordsTest, RoundTripsThroughSplit) {
  const std::vector<Words> cases = {
      {"prog", "arg", "quoted arg"},
      {"it's", "\"q\"", "back\\slash", "", "tab\there", "new\nline", "$HOME", "*"},
  };
  for (const Words& words : cases) EXPECT_EQ(Split(JoinShellWords(words)), words);
}

}  // namespace
}  // namespace dts::cli
