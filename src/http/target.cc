#include "target.h"

#include "absl/strings/str_split.h"

namespace dts::http {
namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// The path part of an absolute-form target: "http://host:80/a?b" -> "/a?b".
absl::string_view StripSchemeAndAuthority(absl::string_view target) {
  size_t scheme_end = target.find("://");
  if (scheme_end == absl::string_view::npos) return {};
  size_t path_start = target.find('/', scheme_end + 3);
  if (path_start == absl::string_view::npos) {
    size_t query = target.find('?', scheme_end + 3);
    // "http://host?x=1" has the empty path, which is "/".
    return query == absl::string_view::npos ? absl::string_view("/") : target.substr(query);
  }
  return target.substr(path_start);
}

bool ParseQuery(absl::string_view text,
                std::multimap<std::string, std::string, std::less<>>* query) {
  for (absl::string_view pair : absl::StrSplit(text, '&', absl::SkipEmpty())) {
    size_t eq = pair.find('=');
    std::string key, value;
    if (!PercentDecode(pair.substr(0, eq), true, &key)) return false;
    if (eq != absl::string_view::npos && !PercentDecode(pair.substr(eq + 1), true, &value)) {
      return false;
    }
    query->emplace(std::move(key), std::move(value));
  }
  return true;
}

}  // namespace

bool PercentDecode(absl::string_view in, bool plus_is_space, std::string* out) {
  out->reserve(out->size() + in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c == '%') {
      if (i + 2 >= in.size()) return false;  // needs two hex digits
      int hi = HexValue(in[i + 1]);
      int lo = HexValue(in[i + 2]);
      if (hi < 0 || lo < 0) return false;
      out->push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out->push_back(' ');
    } else {
      out->push_back(c);
    }
  }
  return true;
}

bool ParseTarget(absl::string_view target, std::string* path,
                 std::multimap<std::string, std::string, std::less<>>* query) {
  path->clear();
  query->clear();
  if (target == "*") {  // OPTIONS * HTTP/1.1
    path->push_back('*');
    return true;
  }
  if (target.empty() || target.front() != '/') target = StripSchemeAndAuthority(target);
  if (target.empty()) return false;
  target = target.substr(0, target.find('#'));  // never sent, but harmless to drop
  size_t question = target.find('?');
  if (!PercentDecode(target.substr(0, question), false, path)) return false;
  if (question == absl::string_view::npos) return true;
  return ParseQuery(target.substr(question + 1), query);
}

}  // namespace dts::http
