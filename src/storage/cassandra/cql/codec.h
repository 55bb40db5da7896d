#pragma once
// Frame and message codec of CQL native protocol v4. Pure functions over
// bytes, no I/O: the unit tests and the fuzzer drive them directly. Private to
// dts_cql.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "dts/cql/result.h"
#include "dts/cql/statement.h"
#include "dts/cql/value.h"
#include "wire.h"

namespace dts::cql::codec {

inline constexpr uint8_t kRequestVersion = 0x04;
inline constexpr uint8_t kResponseVersion = 0x84;
inline constexpr size_t kHeaderSize = 9;
inline constexpr uint32_t kMaxBody = 256u << 20;  // the protocol's limit
inline constexpr int kMaxTypeDepth = 32;

enum Opcode : uint8_t {
  kError = 0x00,
  kStartup = 0x01,
  kReady = 0x02,
  kAuthenticate = 0x03,
  kOptions = 0x05,
  kSupported = 0x06,
  kQuery = 0x07,
  kResult = 0x08,
  kPrepare = 0x09,
  kExecute = 0x0A,
  kRegister = 0x0B,
  kEvent = 0x0C,
  kBatch = 0x0D,
  kAuthChallenge = 0x0E,
  kAuthResponse = 0x0F,
  kAuthSuccess = 0x10,
};

enum FrameFlag : uint8_t {
  kFlagCompression = 0x01,
  kFlagTracing = 0x02,
  kFlagCustomPayload = 0x04,
  kFlagWarning = 0x08,
  kFlagBeta = 0x10,
};

struct FrameHeader {
  uint8_t version = 0;
  uint8_t flags = 0;
  int16_t stream = 0;
  uint8_t opcode = 0;
  uint32_t length = 0;
};

// Parses the 9-byte header of a server frame: version must be 0x84, the body
// length at most `max_body`, no compression.
absl::StatusOr<FrameHeader> DecodeHeader(absl::string_view header, uint32_t max_body = kMaxBody);

// A whole request frame: header (version 4, no flags) and body.
std::string EncodeFrame(uint8_t opcode, int16_t stream, absl::string_view body);
// Rewrites the stream id of a frame made by EncodeFrame.
void SetStream(std::string* frame, int16_t stream);

// ---- request bodies
std::string StartupBody();  // {"CQL_VERSION": "3.0.0"}
std::string PlainToken(absl::string_view user, absl::string_view password);
std::string AuthResponseBody(absl::string_view token);
std::string PrepareBody(absl::string_view query);
// `bind_specs`, when given, types the values (and must match their count).
absl::StatusOr<std::string> QueryBody(const Statement& st, const std::vector<ColumnSpec>* bind_specs);
absl::StatusOr<std::string> ExecuteBody(absl::string_view id, const Statement& st,
                                        const std::vector<ColumnSpec>& bind_specs);
struct BatchItem {
  bool prepared = false;
  std::string query_or_id;
  const std::vector<Value>* values = nullptr;
  const std::vector<ColumnSpec>* bind_specs = nullptr;  // for prepared items
};
absl::StatusOr<std::string> BatchBody(const Batch& batch, const std::vector<BatchItem>& items);

// ---- responses
struct Prepared {
  std::string id;
  std::vector<ColumnSpec> bind_specs;
  std::vector<uint16_t> pk_indexes;
  std::shared_ptr<const Columns> result_columns;
};

struct Response {
  uint8_t opcode = 0;
  int16_t stream = 0;
  // ERROR: the server's error as a Status (CqlErrorStatus); OK otherwise.
  absl::Status error;
  std::string unprepared_id;  // ERROR Unprepared: the unknown id
  Result result;              // RESULT
  Prepared prepared;          // RESULT Prepared
  std::string authenticator;  // AUTHENTICATE
  std::optional<std::string> auth_token;  // AUTH_CHALLENGE, AUTH_SUCCESS
  std::map<std::string, std::vector<std::string>> supported;  // SUPPORTED
  std::vector<std::string> warnings;
};

// Decodes a server frame body. Malformed input is INVALID_ARGUMENT; a server
// ERROR is a successful decode with `error` set.
absl::StatusOr<Response> DecodeResponse(const FrameHeader& header, absl::string_view body);

// Parts, exposed for tests.
absl::StatusOr<DataType> DecodeType(wire::Reader& r, int depth = 0);
absl::Status DecodeError(wire::Reader& r, Response* out);
absl::Status DecodeResult(wire::Reader& r, Response* out);

}  // namespace dts::cql::codec
