#pragma once

#include <functional>
#include <map>
#include <string>

#include "absl/strings/string_view.h"

namespace dts::http {

// Appends the percent-decoding of `in` to `out`. With `plus_is_space` a '+'
// decodes to ' ' (query strings, HTML form encoding). False on a malformed
// escape ("%4", "%zz").
bool PercentDecode(absl::string_view in, bool plus_is_space, std::string* out);

// Splits a request-target into its decoded path and query parameters.
// Accepts origin form ("/a/b?x=1"), absolute form ("http://h/a?x=1") and
// "*". Reuses the capacity of `path`; clears `query` first. False when the
// target has another form or a malformed escape.
bool ParseTarget(absl::string_view target, std::string* path,
                 std::multimap<std::string, std::string, std::less<>>* query);

}  // namespace dts::http
