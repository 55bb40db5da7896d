#include "execution/memory_sample.h"

#include <dirent.h>

#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "execution/posix.h"

namespace dts::execution {

pid_t StatProcessGroup(absl::string_view stat) {
  // "pid (comm) state ppid pgrp ...": comm may hold spaces and parentheses.
  size_t close = stat.rfind(')');
  if (close == absl::string_view::npos) return -1;
  std::vector<absl::string_view> fields =
      absl::StrSplit(stat.substr(close + 1), ' ', absl::SkipEmpty());
  int pgrp = -1;
  if (fields.size() < 3 || !absl::SimpleAtoi(fields[2], &pgrp)) return -1;
  return pgrp;
}

int64_t StatusPrivateBytes(absl::string_view status) {
  int64_t kib = 0;
  for (absl::string_view line : absl::StrSplit(status, '\n')) {
    if (absl::ConsumePrefix(&line, "RssAnon:") || absl::ConsumePrefix(&line, "RssShmem:")) {
      line = absl::StripAsciiWhitespace(line);
      absl::ConsumeSuffix(&line, "kB");
      int64_t value = 0;
      if (absl::SimpleAtoi(absl::StripAsciiWhitespace(line), &value)) kib += value;
    }
  }
  return kib * 1024;
}

int64_t ProcessGroupMemoryBytes(pid_t pgid) {
  DIR* proc = opendir("/proc");
  if (proc == nullptr) return 0;
  int64_t total = 0;
  while (dirent* entry = readdir(proc)) {
    int pid = 0;
    if (!absl::SimpleAtoi(entry->d_name, &pid) || pid <= 0) continue;
    absl::StatusOr<std::string> stat = ReadSmallFile(absl::StrCat("/proc/", pid, "/stat"));
    if (!stat.ok() || StatProcessGroup(*stat) != pgid) continue;  // gone, or not ours
    absl::StatusOr<std::string> status = ReadSmallFile(absl::StrCat("/proc/", pid, "/status"));
    if (status.ok()) total += StatusPrivateBytes(*status);
  }
  closedir(proc);
  return total;
}

}  // namespace dts::execution
