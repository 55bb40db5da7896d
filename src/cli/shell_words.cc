#include "cli/shell_words.h"

#include <optional>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace dts::cli {
namespace {

bool IsBlank(char c) { return c == ' ' || c == '\t' || c == '\n'; }

// Inside double quotes a backslash only escapes these; before anything else
// it stays literal (POSIX 2.2.3).
bool EscapableInDoubleQuotes(char c) {
  return c == '$' || c == '`' || c == '"' || c == '\\' || c == '\n';
}

// One pass over the text. `word` is nullopt between words, so that an empty
// quoted word ('' or "") still counts as a word.
class Splitter {
 public:
  explicit Splitter(absl::string_view text) : text_(text) {}

  absl::StatusOr<std::vector<std::string>> Run() {
    while (pos_ < text_.size()) {
      const char c = text_[pos_];
      if (IsBlank(c)) {
        EndWord();
        ++pos_;
      } else if (c == '\'') {
        if (absl::Status s = SingleQuoted(); !s.ok()) return s;
      } else if (c == '"') {
        if (absl::Status s = DoubleQuoted(); !s.ok()) return s;
      } else if (c == '\\') {
        if (absl::Status s = Escaped(); !s.ok()) return s;
      } else {
        Word() += c;
        ++pos_;
      }
    }
    EndWord();
    return std::move(words_);
  }

 private:
  std::string& Word() {
    if (!word_) word_.emplace();
    return *word_;
  }

  void EndWord() {
    if (word_) words_.push_back(*std::move(word_));
    word_.reset();
  }

  absl::Status SingleQuoted() {
    const size_t open = pos_++;
    const size_t close = text_.find('\'', pos_);
    if (close == absl::string_view::npos) return Unterminated("single", open);
    Word().append(text_.data() + pos_, close - pos_);
    pos_ = close + 1;
    return absl::OkStatus();
  }

  absl::Status DoubleQuoted() {
    const size_t open = pos_++;
    std::string& word = Word();
    while (pos_ < text_.size() && text_[pos_] != '"') {
      const char c = text_[pos_];
      if (c == '\\' && pos_ + 1 < text_.size() && EscapableInDoubleQuotes(text_[pos_ + 1])) {
        // Backslash-newline is a line continuation: both disappear.
        if (text_[pos_ + 1] != '\n') word += text_[pos_ + 1];
        pos_ += 2;
      } else {
        word += c;
        ++pos_;
      }
    }
    if (pos_ >= text_.size()) return Unterminated("double", open);
    ++pos_;
    return absl::OkStatus();
  }

  absl::Status Escaped() {
    if (pos_ + 1 >= text_.size()) {
      return absl::InvalidArgumentError(
          "ends with a backslash that escapes nothing (write \\\\ for a literal backslash)");
    }
    // Backslash-newline joins lines and does not start a word.
    if (text_[pos_ + 1] != '\n') Word() += text_[pos_ + 1];
    pos_ += 2;
    return absl::OkStatus();
  }

  static absl::Status Unterminated(absl::string_view kind, size_t at) {
    return absl::InvalidArgumentError(
        absl::StrCat("unterminated ", kind, " quote (opened at character ", at + 1, ")"));
  }

  absl::string_view text_;
  size_t pos_ = 0;
  std::optional<std::string> word_;
  std::vector<std::string> words_;
};

// Characters that never need quoting; anything else gets single quotes.
bool IsPlain(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         absl::string_view("-_./:=@%+,").find(c) != absl::string_view::npos;
}

std::string QuoteWord(const std::string& word) {
  bool plain = !word.empty();
  for (char c : word) plain = plain && IsPlain(c);
  if (plain) return word;
  std::string quoted = "'";
  for (char c : word) {
    // A single quote cannot appear inside single quotes: close, escape, reopen.
    if (c == '\'') {
      quoted += "'\\''";
    } else {
      quoted += c;
    }
  }
  quoted += '\'';
  return quoted;
}

}  // namespace

absl::StatusOr<std::vector<std::string>> SplitShellWords(absl::string_view text) {
  return Splitter(text).Run();
}

std::string JoinShellWords(const std::vector<std::string>& words) {
  return absl::StrJoin(words, " ", [](std::string* out, const std::string& word) {
    out->append(QuoteWord(word));
  });
}

}  // namespace dts::cli
