// Feeds arbitrary bytes to the CQL v4 frame and message decoder as a stream
// of server frames (9-byte header + body), the way the connection's read loop
// does. Every input must decode or be rejected with INVALID_ARGUMENT, never
// crash, hang or allocate without bound; decoded rows are read cell by cell
// through the type decoder.

#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "absl/strings/string_view.h"
#include "dts/cql/error.h"
#include "dts/cql/result.h"
#include "storage/cassandra/cql/codec.h"

namespace {

void CheckRejected(const absl::Status& s) {
  if (s.ok() || s.message().empty()) std::abort();
  if (s.code() != absl::StatusCode::kInvalidArgument && s.code() != absl::StatusCode::kUnimplemented &&
      s.code() != absl::StatusCode::kFailedPrecondition && s.code() != absl::StatusCode::kInternal) {
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace dts::cql;
  absl::string_view in(reinterpret_cast<const char*>(data), size);
  while (!in.empty()) {
    auto header = codec::DecodeHeader(in, /*max_body=*/1u << 20);
    if (!header.ok()) {
      if (header.status().code() != absl::StatusCode::kInvalidArgument) std::abort();
      return 0;
    }
    in.remove_prefix(codec::kHeaderSize);
    const absl::string_view body = in.substr(0, header->length);
    in.remove_prefix(body.size());
    auto resp = codec::DecodeResponse(*header, body);
    if (!resp.ok()) {
      if (resp.status().code() != absl::StatusCode::kInvalidArgument) std::abort();
      continue;
    }
    if (resp->opcode == codec::kError) {
      if (resp->error.ok()) std::abort();
      if (!CqlErrorCode(resp->error).has_value()) std::abort();
    }
    const Result& result = resp->result;
    if (result.kind == ResultKind::kRows) {
      if (result.columns == nullptr) std::abort();
      for (const Row& row : result.rows) {
        if (row.size() != result.columns->size()) std::abort();
        for (size_t i = 0; i < row.size(); ++i) {
          auto v = row.Get(i);
          if (!v.ok()) CheckRejected(v.status());
          if (v.ok()) (void)v->ToString();
        }
      }
      auto lwt = LwtResult::From(result);
      if (!lwt.ok()) CheckRejected(lwt.status());
    }
  }
  return 0;
}
