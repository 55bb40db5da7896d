#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace dts::cli {

// Splits `text` into words the way a POSIX shell tokenizes a simple command,
// so `--command "prog 'a b' c"` yields {"prog", "a b", "c"}. Only quoting is
// interpreted: single quotes, double quotes (where a backslash escapes only
// $, `, ", backslash and newline) and backslash outside quotes. Nothing is
// expanded ($VAR, globs, ~) and `#` is not a comment, because the words go to
// execve as they are. INVALID_ARGUMENT for an unterminated quote or a
// trailing backslash.
absl::StatusOr<std::vector<std::string>> SplitShellWords(absl::string_view text);

// The inverse, for display: joins words, single-quoting those that a shell
// would otherwise split or interpret. SplitShellWords(JoinShellWords(w)) == w.
std::string JoinShellWords(const std::vector<std::string>& words);

}  // namespace dts::cli
