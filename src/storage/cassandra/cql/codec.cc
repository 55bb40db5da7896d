#include "codec.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "dts/cql/error.h"

namespace dts::cql::codec {
namespace {

absl::string_view ConsistencyName(uint16_t c) {
  switch (c) {
    case 0x0000: return "ANY";
    case 0x0001: return "ONE";
    case 0x0002: return "TWO";
    case 0x0003: return "THREE";
    case 0x0004: return "QUORUM";
    case 0x0005: return "ALL";
    case 0x0006: return "LOCAL_QUORUM";
    case 0x0007: return "EACH_QUORUM";
    case 0x0008: return "SERIAL";
    case 0x0009: return "LOCAL_SERIAL";
    case 0x000A: return "LOCAL_ONE";
    default: return "UNKNOWN";
  }
}

DataType ParseType(wire::Reader& r, int depth) {
  DataType t;
  if (depth > kMaxTypeDepth) {
    r.Fail("type nested too deeply");
    return t;
  }
  const uint16_t id = r.U16();
  if (!r.ok()) return t;
  t.id = static_cast<TypeId>(id);
  switch (t.id) {
    case TypeId::kCustom:
      t.custom = std::string(r.String());
      break;
    case TypeId::kAscii: case TypeId::kBigint: case TypeId::kBlob: case TypeId::kBoolean:
    case TypeId::kCounter: case TypeId::kDecimal: case TypeId::kDouble: case TypeId::kFloat:
    case TypeId::kInt: case TypeId::kTimestamp: case TypeId::kUuid: case TypeId::kVarchar:
    case TypeId::kVarint: case TypeId::kTimeuuid: case TypeId::kInet: case TypeId::kDate:
    case TypeId::kTime: case TypeId::kSmallint: case TypeId::kTinyint:
      break;
    case TypeId::kList:
    case TypeId::kSet:
      t.params.push_back(ParseType(r, depth + 1));
      break;
    case TypeId::kMap:
      t.params.push_back(ParseType(r, depth + 1));
      t.params.push_back(ParseType(r, depth + 1));
      break;
    case TypeId::kUdt: {
      const absl::string_view ks = r.String();
      const absl::string_view name = r.String();
      t.custom = absl::StrCat(ks, ".", name);
      const uint16_t n = r.ShortCount(4, "UDT field");
      for (uint16_t i = 0; i < n && r.ok(); ++i) {
        t.field_names.emplace_back(r.String());
        t.params.push_back(ParseType(r, depth + 1));
      }
      break;
    }
    case TypeId::kTuple: {
      const uint16_t n = r.ShortCount(2, "tuple element");
      for (uint16_t i = 0; i < n && r.ok(); ++i) t.params.push_back(ParseType(r, depth + 1));
      break;
    }
    default:
      r.Fail(absl::StrFormat("unknown type id 0x%04x", id));
  }
  return t;
}

// Rows metadata (section 4.2.5.2); also the result metadata of Prepared.
std::shared_ptr<const Columns> ParseRowsMetadata(wire::Reader& r, Result* out) {
  const int32_t flags = r.I32();
  // Each column spec takes at least 4 bytes (an empty name and a type id).
  const int32_t ncols = r.Count(4, "column");
  if (flags & 0x0002) {  // Has_more_pages
    auto state = r.Bytes();
    if (out != nullptr) {
      out->has_more_pages = true;
      if (state) out->paging_state = std::string(*state);
    }
  }
  std::vector<ColumnSpec> specs;
  if (!(flags & 0x0004) && r.ok()) {  // metadata present
    std::string gks, gtable;
    const bool global = flags & 0x0001;
    if (global) {
      gks = std::string(r.String());
      gtable = std::string(r.String());
    }
    specs.reserve(static_cast<size_t>(ncols));
    for (int32_t i = 0; i < ncols && r.ok(); ++i) {
      ColumnSpec c;
      if (global) {
        c.keyspace = gks;
        c.table = gtable;
      } else {
        c.keyspace = std::string(r.String());
        c.table = std::string(r.String());
      }
      c.name = std::string(r.String());
      c.type = ParseType(r, 0);
      specs.push_back(std::move(c));
    }
  } else if (r.ok()) {
    // No metadata: unnamed blob columns, so rows can still be split.
    specs.resize(static_cast<size_t>(ncols));
  }
  return std::make_shared<const Columns>(std::move(specs));
}

void EncodeBound(wire::Writer& w, const Value& v, const DataType* type, absl::Status* st) {
  if (v.kind() == ValueKind::kNull) return w.I32(-1);
  if (v.kind() == ValueKind::kUnset) return w.I32(-2);
  std::string body;
  absl::Status s = type != nullptr ? EncodeValue(*type, v, &body) : EncodeValueByKind(v, &body);
  if (!s.ok()) {
    if (st->ok()) *st = s;
    return;
  }
  w.Bytes(body);
}

absl::Status EncodeValues(wire::Writer& w, const std::vector<Value>& values,
                          const std::vector<ColumnSpec>* specs) {
  if (specs != nullptr && specs->size() != values.size()) {
    return absl::InvalidArgumentError(absl::StrCat("the statement has ", specs->size(),
                                                   " bind markers but ", values.size(),
                                                   " values were given"));
  }
  if (values.size() > 0xFFFF) return absl::InvalidArgumentError("more than 65535 values");
  w.U16(static_cast<uint16_t>(values.size()));
  absl::Status st;
  for (size_t i = 0; i < values.size(); ++i) {
    const DataType* type = specs != nullptr ? &(*specs)[i].type : nullptr;
    EncodeBound(w, values[i], type, &st);
    if (!st.ok()) {
      const std::string name = specs != nullptr ? (*specs)[i].name : "";
      return absl::Status(st.code(), absl::StrCat("bound value ", i,
                                                  name.empty() ? "" : absl::StrCat(" (", name, ")"),
                                                  ": ", st.message()));
    }
  }
  return absl::OkStatus();
}

absl::Status EncodeQueryParameters(wire::Writer& w, const Statement& st,
                                   const std::vector<ColumnSpec>* specs) {
  uint8_t flags = 0;
  if (!st.values.empty()) flags |= 0x01;
  if (st.page_size > 0) flags |= 0x04;
  if (!st.paging_state.empty()) flags |= 0x08;
  if (st.serial_consistency) flags |= 0x10;
  if (st.timestamp_micros) flags |= 0x20;
  w.U16(static_cast<uint16_t>(st.consistency));
  w.U8(flags);
  if (flags & 0x01) {
    if (absl::Status s = EncodeValues(w, st.values, specs); !s.ok()) return s;
  } else if (specs != nullptr && !specs->empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("the statement has ", specs->size(), " bind markers but no values were given"));
  }
  if (flags & 0x04) w.I32(st.page_size);
  if (flags & 0x08) w.Bytes(st.paging_state);
  if (flags & 0x10) w.U16(static_cast<uint16_t>(*st.serial_consistency));
  if (flags & 0x20) w.I64(*st.timestamp_micros);
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<FrameHeader> DecodeHeader(absl::string_view header, uint32_t max_body) {
  if (header.size() < kHeaderSize) {
    return absl::InvalidArgumentError(
        absl::StrCat("truncated frame header: ", header.size(), " of 9 bytes"));
  }
  wire::Reader r(header.substr(0, kHeaderSize));
  FrameHeader h;
  h.version = r.U8();
  h.flags = r.U8();
  h.stream = r.I16();
  h.opcode = r.U8();
  const int32_t len = r.I32();
  if (h.version != kResponseVersion) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "unexpected protocol version byte 0x%02x (want 0x84, a v4 response)", h.version));
  }
  if (h.flags & kFlagCompression) {
    return absl::InvalidArgumentError("compressed frame, but no compression was negotiated");
  }
  if (len < 0 || static_cast<uint32_t>(len) > max_body) {
    return absl::InvalidArgumentError(
        absl::StrCat("frame body length ", len, " outside 0..", max_body));
  }
  h.length = static_cast<uint32_t>(len);
  return h;
}

std::string EncodeFrame(uint8_t opcode, int16_t stream, absl::string_view body) {
  std::string out;
  out.reserve(kHeaderSize + body.size());
  wire::Writer w(&out);
  w.U8(kRequestVersion);
  w.U8(0);
  w.U16(static_cast<uint16_t>(stream));
  w.U8(opcode);
  w.I32(static_cast<int32_t>(body.size()));
  w.Raw(body);
  return out;
}

void SetStream(std::string* frame, int16_t stream) {
  const auto u = static_cast<uint16_t>(stream);
  (*frame)[2] = static_cast<char>(u >> 8);
  (*frame)[3] = static_cast<char>(u & 0xFF);
}

std::string StartupBody() {
  std::string out;
  wire::Writer(&out).StringMap({{"CQL_VERSION", "3.0.0"}});
  return out;
}

std::string PlainToken(absl::string_view user, absl::string_view password) {
  return absl::StrCat(absl::string_view("\0", 1), user, absl::string_view("\0", 1), password);
}

std::string AuthResponseBody(absl::string_view token) {
  std::string out;
  wire::Writer(&out).Bytes(token);
  return out;
}

std::string PrepareBody(absl::string_view query) {
  std::string out;
  wire::Writer(&out).LongString(query);
  return out;
}

absl::StatusOr<std::string> QueryBody(const Statement& st, const std::vector<ColumnSpec>* specs) {
  std::string out;
  wire::Writer w(&out);
  w.LongString(st.query);
  if (absl::Status s = EncodeQueryParameters(w, st, specs); !s.ok()) return s;
  return out;
}

absl::StatusOr<std::string> ExecuteBody(absl::string_view id, const Statement& st,
                                        const std::vector<ColumnSpec>& specs) {
  std::string out;
  wire::Writer w(&out);
  w.ShortBytes(id);
  if (absl::Status s = EncodeQueryParameters(w, st, &specs); !s.ok()) return s;
  return out;
}

absl::StatusOr<std::string> BatchBody(const Batch& batch, const std::vector<BatchItem>& items) {
  if (items.empty()) return absl::InvalidArgumentError("empty batch");
  if (items.size() > 0xFFFF) return absl::InvalidArgumentError("more than 65535 batch entries");
  std::string out;
  wire::Writer w(&out);
  w.U8(static_cast<uint8_t>(batch.type));
  w.U16(static_cast<uint16_t>(items.size()));
  for (size_t i = 0; i < items.size(); ++i) {
    const BatchItem& it = items[i];
    w.U8(it.prepared ? 1 : 0);
    if (it.prepared) {
      w.ShortBytes(it.query_or_id);
    } else {
      w.LongString(it.query_or_id);
    }
    static const std::vector<Value> kNone;
    const std::vector<Value>& values = it.values != nullptr ? *it.values : kNone;
    if (absl::Status s = EncodeValues(w, values, it.prepared ? it.bind_specs : nullptr); !s.ok()) {
      return absl::Status(s.code(), absl::StrCat("batch entry ", i, ": ", s.message()));
    }
  }
  uint8_t flags = 0;
  if (batch.serial_consistency) flags |= 0x10;
  if (batch.timestamp_micros) flags |= 0x20;
  w.U16(static_cast<uint16_t>(batch.consistency));
  w.U8(flags);
  if (flags & 0x10) w.U16(static_cast<uint16_t>(*batch.serial_consistency));
  if (flags & 0x20) w.I64(*batch.timestamp_micros);
  return out;
}

absl::StatusOr<DataType> DecodeType(wire::Reader& r, int depth) {
  DataType t = ParseType(r, depth);
  if (absl::Status s = r.status("type"); !s.ok()) return s;
  return t;
}

absl::Status DecodeError(wire::Reader& r, Response* out) {
  const int32_t code = r.I32();
  std::string msg(r.String());
  if (!r.ok()) return r.status("ERROR");
  switch (static_cast<ErrorCode>(code)) {
    case ErrorCode::kUnavailable: {
      const uint16_t cl = r.U16();
      const int32_t required = r.I32();
      const int32_t alive = r.I32();
      absl::StrAppend(&msg, " (consistency ", ConsistencyName(cl), ", required ", required,
                      ", alive ", alive, ")");
      break;
    }
    case ErrorCode::kWriteTimeout:
    case ErrorCode::kReadTimeout:
    case ErrorCode::kReadFailure:
    case ErrorCode::kWriteFailure: {
      const uint16_t cl = r.U16();
      const int32_t received = r.I32();
      const int32_t block_for = r.I32();
      absl::StrAppend(&msg, " (consistency ", ConsistencyName(cl), ", received ", received,
                      " of ", block_for);
      if (code == static_cast<int32_t>(ErrorCode::kReadFailure) ||
          code == static_cast<int32_t>(ErrorCode::kWriteFailure)) {
        absl::StrAppend(&msg, ", failures ", r.I32());
      }
      if (code == static_cast<int32_t>(ErrorCode::kWriteTimeout) ||
          code == static_cast<int32_t>(ErrorCode::kWriteFailure)) {
        absl::StrAppend(&msg, ", write type ", r.String());
      } else {
        absl::StrAppend(&msg, r.U8() != 0 ? ", data present" : ", no data");
      }
      absl::StrAppend(&msg, ")");
      break;
    }
    case ErrorCode::kFunctionFailure: {
      const absl::string_view ks = r.String();
      const absl::string_view fn = r.String();
      r.StringList();
      absl::StrAppend(&msg, " (function ", ks, ".", fn, ")");
      break;
    }
    case ErrorCode::kAlreadyExists: {
      const absl::string_view ks = r.String();
      const absl::string_view table = r.String();
      absl::StrAppend(&msg, " (", ks, table.empty() ? "" : ".", table, ")");
      break;
    }
    case ErrorCode::kUnprepared:
      out->unprepared_id = std::string(r.ShortBytes());
      break;
    default:
      break;
  }
  if (!r.ok()) return r.status("ERROR");
  out->error = CqlErrorStatus(code, msg);
  return absl::OkStatus();
}

absl::Status DecodeResult(wire::Reader& r, Response* out) {
  const int32_t kind = r.I32();
  if (!r.ok()) return r.status("RESULT");
  Result& res = out->result;
  switch (kind) {
    case 0x0001:
      res.kind = ResultKind::kVoid;
      break;
    case 0x0002: {
      res.kind = ResultKind::kRows;
      res.columns = ParseRowsMetadata(r, &res);
      const size_t ncols = res.columns->size();
      // Each cell takes at least its 4-byte length.
      const int32_t nrows = r.Count(4 * std::max<size_t>(ncols, 1), "row");
      if (r.ok() && ncols == 0 && nrows > 0) r.Fail("rows without columns");
      res.rows.reserve(static_cast<size_t>(nrows));
      for (int32_t i = 0; i < nrows && r.ok(); ++i) {
        std::vector<std::optional<std::string>> cells;
        cells.reserve(ncols);
        for (size_t c = 0; c < ncols && r.ok(); ++c) {
          auto cell = r.Bytes();
          cells.push_back(cell ? std::optional<std::string>(std::string(*cell)) : std::nullopt);
        }
        if (r.ok()) res.rows.emplace_back(res.columns, std::move(cells));
      }
      break;
    }
    case 0x0003:
      res.kind = ResultKind::kSetKeyspace;
      res.keyspace = std::string(r.String());
      break;
    case 0x0004: {
      res.kind = ResultKind::kPrepared;
      Prepared& p = out->prepared;
      p.id = std::string(r.ShortBytes());
      const int32_t flags = r.I32();
      const int32_t ncols = r.Count(4, "bind marker");
      const int32_t npk = r.Count(2, "partition key index");
      for (int32_t i = 0; i < npk && r.ok(); ++i) p.pk_indexes.push_back(r.U16());
      std::string gks, gtable;
      const bool global = flags & 0x0001;
      if (global) {
        gks = std::string(r.String());
        gtable = std::string(r.String());
      }
      for (int32_t i = 0; i < ncols && r.ok(); ++i) {
        ColumnSpec c;
        c.keyspace = global ? gks : std::string(r.String());
        c.table = global ? gtable : std::string(r.String());
        c.name = std::string(r.String());
        c.type = ParseType(r, 0);
        p.bind_specs.push_back(std::move(c));
      }
      if (r.ok()) p.result_columns = ParseRowsMetadata(r, nullptr);
      if (r.ok() && p.id.empty()) r.Fail("empty prepared id");
      break;
    }
    case 0x0005: {
      res.kind = ResultKind::kSchemaChange;
      SchemaChange& sc = res.schema_change;
      sc.change_type = std::string(r.String());
      sc.target = std::string(r.String());
      sc.keyspace = std::string(r.String());
      if (sc.target != "KEYSPACE") sc.name = std::string(r.String());
      if (sc.target == "FUNCTION" || sc.target == "AGGREGATE") sc.arg_types = r.StringList();
      break;
    }
    default:
      return absl::InvalidArgumentError(absl::StrCat("malformed RESULT: unknown kind ", kind));
  }
  return r.status("RESULT");
}

absl::StatusOr<Response> DecodeResponse(const FrameHeader& header, absl::string_view body) {
  if (body.size() != header.length) {
    return absl::InvalidArgumentError(
        absl::StrCat("frame body has ", body.size(), " bytes, header says ", header.length));
  }
  Response out;
  out.opcode = header.opcode;
  out.stream = header.stream;
  wire::Reader r(body);
  if (header.flags & kFlagTracing) r.Raw(16);  // tracing session id
  if (header.flags & kFlagWarning) out.warnings = r.StringList();
  if (header.flags & kFlagCustomPayload) r.BytesMap();
  if (!r.ok()) return r.status("frame envelope");
  switch (header.opcode) {
    case kError:
      if (absl::Status s = DecodeError(r, &out); !s.ok()) return s;
      break;
    case kReady:
      break;
    case kAuthenticate:
      out.authenticator = std::string(r.String());
      break;
    case kSupported:
      out.supported = r.StringMultimap();
      break;
    case kResult:
      if (absl::Status s = DecodeResult(r, &out); !s.ok()) return s;
      out.result.warnings = out.warnings;
      break;
    case kEvent:
      r.String();  // event type; the rest is not decoded (we never REGISTER)
      break;
    case kAuthChallenge:
    case kAuthSuccess: {
      auto token = r.Bytes();
      if (token) out.auth_token = std::string(*token);
      break;
    }
    default:
      return absl::InvalidArgumentError(
          absl::StrFormat("unexpected opcode 0x%02x in a server frame", header.opcode));
  }
  if (absl::Status s = r.status("frame body"); !s.ok()) return s;
  return out;
}

}  // namespace dts::cql::codec
