// Frame and message codec against hand-built byte vectors, including
// malformed input, which must give errors and never crash.
#include "storage/cassandra/cql/codec.h"

#include <string>
#include <vector>

#include "dts/cql/error.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace dts::cql::codec {
namespace {

using ::testing::HasSubstr;

std::string B(std::initializer_list<int> bytes) {
  std::string out;
  for (int b : bytes) out.push_back(static_cast<char>(b));
  return out;
}

// Builder for bodies that are tedious to spell byte by byte.
struct Body {
  std::string s;
  Body& u8(int v) { s.push_back(static_cast<char>(v)); return *this; }
  Body& u16(int v) { u8((v >> 8) & 0xFF); return u8(v & 0xFF); }
  Body& i32(int64_t v) {
    const auto u = static_cast<uint32_t>(v);
    for (int sh = 24; sh >= 0; sh -= 8) u8(static_cast<int>((u >> sh) & 0xFF));
    return *this;
  }
  Body& str(const std::string& v) { u16(static_cast<int>(v.size())); s += v; return *this; }
  Body& bytes(const std::string& v) { i32(static_cast<int64_t>(v.size())); s += v; return *this; }
  Body& null() { return i32(-1); }
};

FrameHeader Header(uint8_t opcode, uint32_t len, uint8_t flags = 0, int16_t stream = 1) {
  FrameHeader h;
  h.version = kResponseVersion;
  h.flags = flags;
  h.stream = stream;
  h.opcode = opcode;
  h.length = len;
  return h;
}

absl::StatusOr<Response> Decode(uint8_t opcode, const std::string& body, uint8_t flags = 0) {
  return DecodeResponse(Header(opcode, static_cast<uint32_t>(body.size()), flags), body);
}

TEST(FrameHeader, Decodes) {
  auto h = DecodeHeader(B({0x84, 0x00, 0x00, 0x07, 0x08, 0x00, 0x00, 0x01, 0x02}));
  ASSERT_TRUE(h.ok()) << h.status();
  EXPECT_EQ(h->version, 0x84);
  EXPECT_EQ(h->stream, 7);
  EXPECT_EQ(h->opcode, kResult);
  EXPECT_EQ(h->length, 258u);
}

TEST(FrameHeader, NegativeStreamIsAnEvent) {
  auto h = DecodeHeader(B({0x84, 0x00, 0xFF, 0xFF, 0x0C, 0, 0, 0, 0}));
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(h->stream, -1);
}

TEST(FrameHeader, RejectsTruncatedWrongVersionCompressionAndBadLength) {
  EXPECT_THAT(DecodeHeader(B({0x84, 0, 0, 1})).status().message(), HasSubstr("truncated"));
  EXPECT_THAT(DecodeHeader(B({0x04, 0, 0, 1, 8, 0, 0, 0, 0})).status().message(), HasSubstr("version"));
  EXPECT_THAT(DecodeHeader(B({0x83, 0, 0, 1, 8, 0, 0, 0, 0})).status().message(), HasSubstr("version"));
  EXPECT_THAT(DecodeHeader(B({0x84, 1, 0, 1, 8, 0, 0, 0, 0})).status().message(), HasSubstr("compress"));
  EXPECT_THAT(DecodeHeader(B({0x84, 0, 0, 1, 8, 0xFF, 0xFF, 0xFF, 0xFF})).status().message(),
              HasSubstr("length"));
  EXPECT_THAT(DecodeHeader(B({0x84, 0, 0, 1, 8, 0x10, 0, 0, 1})).status().message(), HasSubstr("length"));
  EXPECT_FALSE(DecodeHeader(B({0x84, 0, 0, 1, 8, 0, 0, 1, 0}), /*max_body=*/255).ok());
}

TEST(Requests, StartupFrame) {
  const std::string frame = EncodeFrame(kStartup, 5, StartupBody());
  const std::string want = B({0x04, 0x00, 0x00, 0x05, 0x01, 0x00, 0x00, 0x00, 0x16,  // header
                              0x00, 0x01,                                            // 1 entry
                              0x00, 0x0B}) + "CQL_VERSION" + B({0x00, 0x05}) + "3.0.0";
  EXPECT_EQ(frame, want);
  std::string f = frame;
  SetStream(&f, 0x1234);
  EXPECT_EQ(f.substr(2, 2), B({0x12, 0x34}));
}

TEST(Requests, PlainAuthToken) {
  EXPECT_EQ(AuthResponseBody(PlainToken("u", "pw")), B({0, 0, 0, 5, 0, 'u', 0, 'p', 'w'}));
}

TEST(Requests, QueryWithAllParameters) {
  Statement st("SELECT ?", {Value(int32_t{7}), Value::Null(), Value::Unset()});
  st.consistency = Consistency::kQuorum;
  st.page_size = 100;
  st.paging_state = "PS";
  st.serial_consistency = Consistency::kLocalSerial;
  st.timestamp_micros = 1;
  auto body = QueryBody(st, nullptr);
  ASSERT_TRUE(body.ok()) << body.status();
  const std::string want = B({0, 0, 0, 8}) + "SELECT ?" +
                           B({0x00, 0x04,                         // QUORUM
                              0x01 | 0x04 | 0x08 | 0x10 | 0x20,  // flags
                              0x00, 0x03,                         // 3 values
                              0, 0, 0, 4, 0, 0, 0, 7,             // int 7
                              0xFF, 0xFF, 0xFF, 0xFF,             // null
                              0xFF, 0xFF, 0xFF, 0xFE,             // unset
                              0, 0, 0, 100,                       // page size
                              0, 0, 0, 2, 'P', 'S',               // paging state
                              0x00, 0x09,                         // LOCAL_SERIAL
                              0, 0, 0, 0, 0, 0, 0, 1});           // timestamp
  EXPECT_EQ(*body, want);
}

TEST(Requests, ExecuteTypesValuesByBindMarkers) {
  ColumnSpec k{"ks", "t", "k", DataType{TypeId::kBigint, "", {}, {}}};
  Statement st("", {Value(int32_t{1})});
  st.page_size = 0;
  st.consistency = Consistency::kOne;
  auto body = ExecuteBody("ID", st, {k});
  ASSERT_TRUE(body.ok());
  // The int widens to the marker's bigint.
  EXPECT_EQ(*body, B({0, 2, 'I', 'D', 0, 1, 0x01, 0, 1, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 1}));

  Statement bad("", {Value("text")});
  auto err = ExecuteBody("ID", bad, {k});
  EXPECT_EQ(err.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(err.status().message(), HasSubstr("bigint"));

  Statement too_many("", {Value(int32_t{1}), Value(int32_t{2})});
  EXPECT_THAT(ExecuteBody("ID", too_many, {k}).status().message(), HasSubstr("1 bind markers"));
}

TEST(Requests, Batch) {
  Batch batch;
  batch.type = BatchType::kUnlogged;
  batch.consistency = Consistency::kOne;
  std::vector<Value> v{Value(int32_t{1})};
  ColumnSpec spec{"ks", "t", "n", DataType{TypeId::kInt, "", {}, {}}};
  std::vector<ColumnSpec> specs{spec};
  std::vector<BatchItem> items{{false, "Q", nullptr, nullptr}, {true, "ID", &v, &specs}};
  auto body = BatchBody(batch, items);
  ASSERT_TRUE(body.ok());
  EXPECT_EQ(*body, B({1, 0, 2,                                  // unlogged, 2 entries
                      0, 0, 0, 0, 1, 'Q', 0, 0,                 // query "Q", no values
                      1, 0, 2, 'I', 'D', 0, 1, 0, 0, 0, 4, 0, 0, 0, 1,  // prepared
                      0, 1, 0}));                               // ONE, no flags
  EXPECT_FALSE(BatchBody(batch, {}).ok());
}

// RESULT Rows: two columns (global table spec), one row, has more pages.
std::string RowsBody() {
  return Body()
      .i32(2)                  // kind Rows
      .i32(0x0001 | 0x0002)    // global spec + more pages
      .i32(2)                  // columns
      .bytes("PAGE")           // paging state
      .str("ks").str("tbl")
      .str("id").u16(0x0009)   // int
      .str("tags").u16(0x0022).u16(0x000D)  // set<text>
      .i32(2)                  // rows
      .bytes(B({0, 0, 0, 42})).bytes(Body().i32(2).bytes("a").bytes("b").s)
      .bytes(B({0, 0, 0, 7})).null()
      .s;
}

TEST(Results, Rows) {
  auto r = Decode(kResult, RowsBody());
  ASSERT_TRUE(r.ok()) << r.status();
  const Result& res = r->result;
  EXPECT_EQ(res.kind, ResultKind::kRows);
  EXPECT_TRUE(res.has_more_pages);
  EXPECT_EQ(res.paging_state, "PAGE");
  ASSERT_EQ(res.columns->size(), 2u);
  EXPECT_EQ((*res.columns)[1].keyspace, "ks");
  EXPECT_EQ((*res.columns)[1].type.ToString(), "set<text>");
  ASSERT_EQ(res.rows.size(), 2u);
  EXPECT_EQ(*res.rows[0].GetInt32("id"), 42);
  EXPECT_EQ(*res.rows[0].Get("tags"), Value::Set({Value("a"), Value("b")}));
  EXPECT_TRUE(*res.rows[1].IsNull(1));
  // Type mismatch, bad index, unknown name, null via a typed getter.
  EXPECT_EQ(res.rows[0].GetText("id").status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(res.rows[0].GetText("id").status().message(), HasSubstr("'id' is int, not text"));
  EXPECT_EQ(res.rows[0].GetInt32(5).status().code(), absl::StatusCode::kOutOfRange);
  EXPECT_EQ(res.rows[0].Get("nope").status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(res.rows[1].Get(1)->is_null(), true);
}

TEST(Results, EveryTruncationFailsCleanly) {
  const std::string body = RowsBody();
  for (size_t n = 0; n < body.size(); ++n) {
    auto r = Decode(kResult, body.substr(0, n));
    EXPECT_FALSE(r.ok()) << "prefix " << n;
  }
}

TEST(Results, OversizedCountsAreRejected) {
  // Column count far beyond the body.
  auto r = Decode(kResult, Body().i32(2).i32(0).i32(0x7FFFFFFF).s);
  EXPECT_THAT(r.status().message(), HasSubstr("column count"));
  // Row count far beyond the body.
  r = Decode(kResult, Body().i32(2).i32(1).i32(1).str("k").str("t").str("c").u16(9).i32(0x10000000).s);
  EXPECT_THAT(r.status().message(), HasSubstr("row count"));
  // Negative counts.
  r = Decode(kResult, Body().i32(2).i32(0).i32(-5).s);
  EXPECT_FALSE(r.ok());
  // Rows but no columns.
  r = Decode(kResult, Body().i32(2).i32(0).i32(0).i32(3).s);
  EXPECT_FALSE(r.ok());
  // A [bytes] cell longer than the body.
  r = Decode(kResult, Body().i32(2).i32(1).i32(1).str("k").str("t").str("c").u16(9).i32(1).i32(1000).s);
  EXPECT_THAT(r.status().message(), HasSubstr("truncated"));
  // Unknown kind, unknown type id, absurd nesting.
  EXPECT_FALSE(Decode(kResult, Body().i32(99).s).ok());
  EXPECT_THAT(Decode(kResult, Body().i32(2).i32(1).i32(1).str("k").str("t").str("c").u16(0x7777).i32(0).s)
                  .status().message(),
              HasSubstr("unknown type"));
  Body deep;
  deep.i32(2).i32(1).i32(1).str("k").str("t").str("c");
  for (int i = 0; i < 1000; ++i) deep.u16(0x0020);
  deep.u16(9).i32(0);
  EXPECT_THAT(Decode(kResult, deep.s).status().message(), HasSubstr("nested"));
  // Body length that disagrees with the header.
  EXPECT_FALSE(DecodeResponse(Header(kResult, 10), "abc").ok());
}

TEST(Results, VoidSetKeyspaceSchemaChange) {
  auto v = Decode(kResult, Body().i32(1).s);
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->result.kind, ResultKind::kVoid);
  auto ks = Decode(kResult, Body().i32(3).str("app").s);
  ASSERT_TRUE(ks.ok());
  EXPECT_EQ(ks->result.keyspace, "app");
  auto sc = Decode(kResult, Body().i32(5).str("CREATED").str("TABLE").str("app").str("jobs").s);
  ASSERT_TRUE(sc.ok());
  EXPECT_EQ(sc->result.schema_change.target, "TABLE");
  EXPECT_EQ(sc->result.schema_change.name, "jobs");
  auto fn = Decode(kResult,
                   Body().i32(5).str("DROPPED").str("FUNCTION").str("app").str("f").u16(1).str("int").s);
  ASSERT_TRUE(fn.ok());
  EXPECT_EQ(fn->result.schema_change.arg_types, std::vector<std::string>{"int"});
}

TEST(Results, Prepared) {
  const std::string body = Body()
                               .i32(4)
                               .u16(2).u8(0xAB).u8(0xCD)  // id
                               .i32(1).i32(2).i32(1).u16(0)  // global, 2 markers, pk index 0
                               .str("ks").str("t")
                               .str("k").u16(0x000D)
                               .str("v").u16(0x0021).u16(0x000D).u16(0x0002)  // map<text,bigint>
                               .i32(0x0004).i32(0)  // result metadata: none
                               .s;
  auto r = Decode(kResult, body);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->prepared.id, B({0xAB, 0xCD}));
  ASSERT_EQ(r->prepared.bind_specs.size(), 2u);
  EXPECT_EQ(r->prepared.bind_specs[1].type.ToString(), "map<text, bigint>");
  EXPECT_EQ(r->prepared.pk_indexes, std::vector<uint16_t>{0});
  for (size_t n = 0; n < body.size(); ++n) EXPECT_FALSE(Decode(kResult, body.substr(0, n)).ok()) << n;
}

TEST(Errors, MapToAbslCodesAndKeepTheCqlCode) {
  auto un = Decode(kError, Body().i32(0x1000).str("Cannot achieve consistency").u16(4).i32(2).i32(1).s);
  ASSERT_TRUE(un.ok()) << un.status();
  EXPECT_EQ(un->error.code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(CqlErrorCode(un->error), 0x1000);
  EXPECT_THAT(un->error.message(), HasSubstr("required 2, alive 1"));

  auto wt = Decode(kError, Body().i32(0x1100).str("t/o").u16(1).i32(0).i32(1).str("CAS").s);
  ASSERT_TRUE(wt.ok());
  EXPECT_EQ(wt->error.code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_THAT(wt->error.message(), HasSubstr("write type CAS"));

  auto rt = Decode(kError, Body().i32(0x1200).str("t/o").u16(1).i32(0).i32(1).u8(0).s);
  ASSERT_TRUE(rt.ok());
  EXPECT_EQ(rt->error.code(), absl::StatusCode::kDeadlineExceeded);

  auto ae = Decode(kError, Body().i32(0x2400).str("exists").str("ks").str("").s);
  ASSERT_TRUE(ae.ok());
  EXPECT_EQ(ae->error.code(), absl::StatusCode::kAlreadyExists);
  EXPECT_TRUE(HasCqlError(ae->error, ErrorCode::kAlreadyExists));

  auto up = Decode(kError, Body().i32(0x2500).str("unknown id").u16(2).u8(1).u8(2).s);
  ASSERT_TRUE(up.ok());
  EXPECT_EQ(up->unprepared_id, B({1, 2}));

  auto bc = Decode(kError, Body().i32(0x0100).str("bad pw").s);
  ASSERT_TRUE(bc.ok());
  EXPECT_EQ(bc->error.code(), absl::StatusCode::kUnauthenticated);

  EXPECT_EQ(AbslCodeFor(0x2000), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(AbslCodeFor(0x2200), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(AbslCodeFor(0x1001), absl::StatusCode::kUnavailable);
  EXPECT_EQ(AbslCodeFor(0x2100), absl::StatusCode::kPermissionDenied);
  EXPECT_FALSE(CqlErrorCode(absl::UnavailableError("connection lost")).has_value());

  // Truncated extras are malformed, not a crash.
  EXPECT_FALSE(Decode(kError, Body().i32(0x1000).str("x").u16(4).s).ok());
  EXPECT_FALSE(Decode(kError, Body().i32(0x2500).str("x").u16(9).s).ok());
  EXPECT_FALSE(Decode(kError, B({0, 0})).ok());
}

TEST(Responses, EnvelopeSupportedAuthAndUnknownOpcode) {
  // Warnings flag: a [string list] before the body.
  auto w = Decode(kResult, Body().u16(1).str("careful").i32(1).s, kFlagWarning);
  ASSERT_TRUE(w.ok());
  EXPECT_EQ(w->warnings, std::vector<std::string>{"careful"});
  // Tracing id (16 bytes) and custom payload ([bytes map]).
  auto t = Decode(kResult, std::string(16, 'x') + Body().u16(1).str("k").bytes("v").i32(1).s,
                  kFlagTracing | kFlagCustomPayload);
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_FALSE(Decode(kResult, std::string(10, 'x'), kFlagTracing).ok());
  EXPECT_FALSE(Decode(kResult, Body().u16(0xFFFF).s, kFlagWarning).ok());

  auto s = Decode(kSupported, Body().u16(1).str("CQL_VERSION").u16(1).str("3.4.7").s);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->supported["CQL_VERSION"], std::vector<std::string>{"3.4.7"});
  EXPECT_FALSE(Decode(kSupported, Body().u16(5000).s).ok());

  auto a = Decode(kAuthenticate, Body().str("org.apache.cassandra.auth.PasswordAuthenticator").s);
  ASSERT_TRUE(a.ok());
  EXPECT_THAT(a->authenticator, HasSubstr("PasswordAuthenticator"));
  auto ok = Decode(kAuthSuccess, Body().null().s);
  ASSERT_TRUE(ok.ok());
  EXPECT_FALSE(ok->auth_token.has_value());
  EXPECT_FALSE(Decode(0x42, "").ok());
  EXPECT_TRUE(Decode(kReady, "").ok());
}

}  // namespace
}  // namespace dts::cql::codec
