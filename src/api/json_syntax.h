#pragma once

#include <string>

#include "absl/strings/string_view.h"

namespace dts::api {

// Where `text` stops being JSON (RFC 8259), as "line 1, column 9 (byte 8):
// expected ':' after an object key"; empty when it is well-formed JSON.
// The HTTP gateway checks every body with it before protobuf's JSON parser
// (which is not strict); shared with fuzz/json_job_fuzzer.cc.
std::string JsonSyntaxError(absl::string_view text);

}  // namespace dts::api
