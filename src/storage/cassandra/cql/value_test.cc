// Type encoding/decoding, Value accessors, host lists and LWT results.
#include <string>

#include "dts/cql/client.h"
#include "dts/cql/result.h"
#include "dts/cql/value.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace dts::cql {
namespace {

using ::testing::HasSubstr;

DataType T(TypeId id, std::vector<DataType> params = {}) { return DataType{id, "", std::move(params), {}}; }

std::string B(std::initializer_list<int> bytes) {
  std::string out;
  for (int b : bytes) out.push_back(static_cast<char>(b));
  return out;
}

std::string Enc(const DataType& t, const Value& v) {
  std::string out;
  absl::Status s = EncodeValue(t, v, &out);
  EXPECT_TRUE(s.ok()) << s;
  return out;
}

TEST(Encode, ScalarsAreBigEndian) {
  EXPECT_EQ(Enc(T(TypeId::kInt), Value(int32_t{-2})), B({0xFF, 0xFF, 0xFF, 0xFE}));
  EXPECT_EQ(Enc(T(TypeId::kBigint), Value(int64_t{258})), B({0, 0, 0, 0, 0, 0, 1, 2}));
  EXPECT_EQ(Enc(T(TypeId::kBoolean), Value(true)), B({1}));
  EXPECT_EQ(Enc(T(TypeId::kDouble), Value(1.0)), B({0x3F, 0xF0, 0, 0, 0, 0, 0, 0}));
  EXPECT_EQ(Enc(T(TypeId::kTimestamp), Value::TimestampMillis(1000)), B({0, 0, 0, 0, 0, 0, 0x03, 0xE8}));
  EXPECT_EQ(Enc(T(TypeId::kVarchar), Value("hé")), "hé");
  EXPECT_EQ(Enc(T(TypeId::kBlob), Value::Blob(B({0, 1}))), B({0, 1}));
  EXPECT_EQ(Enc(T(TypeId::kList, {T(TypeId::kInt)}), Value::List({Value(int32_t{1})})),
            B({0, 0, 0, 1, 0, 0, 0, 4, 0, 0, 0, 1}));
  EXPECT_EQ(Enc(T(TypeId::kMap, {T(TypeId::kVarchar), T(TypeId::kBoolean)}),
                Value::Map({{Value("a"), Value(false)}})),
            B({0, 0, 0, 1, 0, 0, 0, 1, 'a', 0, 0, 0, 1, 0}));
}

TEST(Encode, MismatchesAreClearErrors) {
  std::string out;
  absl::Status s = EncodeValue(T(TypeId::kInt), Value("x"), &out);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("cannot bind a text value to a int marker"));
  EXPECT_FALSE(EncodeValue(T(TypeId::kInt), Value(int64_t{1} << 40), &out).ok());  // out of range
  EXPECT_FALSE(EncodeValue(T(TypeId::kAscii), Value("é"), &out).ok());
  EXPECT_FALSE(EncodeValue(T(TypeId::kTimeuuid), Value(Uuid::Random()), &out).ok());  // v4, not v1
  EXPECT_FALSE(EncodeValue(T(TypeId::kList, {T(TypeId::kInt)}), Value::List({Value("x")}), &out).ok());
  EXPECT_EQ(EncodeValue(T(TypeId::kVarint), Value(int32_t{1}), &out).code(), absl::StatusCode::kUnimplemented);
}

TEST(RoundTrip, EverySupportedType) {
  const Uuid u = Uuid::Random();
  auto tu = Uuid::Parse("e7a5c2a0-1d2b-11ef-8b1a-0242ac120002");  // a version 1 UUID
  ASSERT_TRUE(tu.ok());
  const std::vector<std::pair<DataType, Value>> cases = {
      {T(TypeId::kAscii), Value("plain")},
      {T(TypeId::kVarchar), Value("ünïcode")},
      {T(TypeId::kUuid), Value(u)},
      {T(TypeId::kTimeuuid), Value(*tu)},
      {T(TypeId::kInt), Value(int32_t{-123456})},
      {T(TypeId::kBigint), Value(int64_t{-1234567890123})},
      {T(TypeId::kBoolean), Value(false)},
      {T(TypeId::kTimestamp), Value::TimestampMillis(1700000000123)},
      {T(TypeId::kBlob), Value::Blob(std::string("\0\xFF", 2))},
      {T(TypeId::kDouble), Value(3.25)},
      {T(TypeId::kList, {T(TypeId::kVarchar)}), Value::List({Value("a"), Value("b"), Value("a")})},
      {T(TypeId::kSet, {T(TypeId::kInt)}), Value::Set({Value(int32_t{1}), Value(int32_t{2})})},
      {T(TypeId::kMap, {T(TypeId::kVarchar), T(TypeId::kBigint)}),
       Value::Map({{Value("x"), Value(int64_t{1})}, {Value("y"), Value(int64_t{2})}})},
      {T(TypeId::kMap, {T(TypeId::kUuid), T(TypeId::kList, {T(TypeId::kDouble)})}),
       Value::Map({{Value(u), Value::List({Value(1.5)})}})},
  };
  for (const auto& [type, value] : cases) {
    std::string bytes;
    ASSERT_TRUE(EncodeValue(type, value, &bytes).ok()) << type.ToString();
    auto back = DecodeValue(type, bytes);
    ASSERT_TRUE(back.ok()) << type.ToString() << ": " << back.status();
    EXPECT_EQ(*back, value) << type.ToString() << ": " << back->ToString() << " vs " << value.ToString();
  }
}

TEST(Decode, MalformedCellsAreErrors) {
  EXPECT_FALSE(DecodeValue(T(TypeId::kInt), B({0, 0, 1})).ok());
  EXPECT_FALSE(DecodeValue(T(TypeId::kBigint), B({0})).ok());
  EXPECT_FALSE(DecodeValue(T(TypeId::kUuid), std::string(15, 'x')).ok());
  EXPECT_FALSE(DecodeValue(T(TypeId::kBoolean), "").ok());
  const DataType list = T(TypeId::kList, {T(TypeId::kInt)});
  EXPECT_FALSE(DecodeValue(list, B({0, 0, 0, 1, 0, 0, 0, 4, 0, 0})).ok());         // truncated element
  EXPECT_FALSE(DecodeValue(list, B({0x7F, 0xFF, 0xFF, 0xFF})).ok());               // huge count
  EXPECT_FALSE(DecodeValue(list, B({0xFF, 0xFF, 0xFF, 0xFF})).ok());               // negative count
  EXPECT_FALSE(DecodeValue(list, B({0, 0, 0, 0, 9})).ok());                        // trailing byte
  EXPECT_FALSE(DecodeValue(T(TypeId::kMap, {T(TypeId::kInt), T(TypeId::kInt)}),
                           B({0, 0, 0, 1, 0, 0, 0, 4, 0, 0, 0, 1})).ok());         // key, no value
  EXPECT_EQ(DecodeValue(T(TypeId::kVarint), B({1})).status().code(), absl::StatusCode::kUnimplemented);
  // A null element inside a list decodes as a null Value.
  auto v = DecodeValue(list, B({0, 0, 0, 1, 0xFF, 0xFF, 0xFF, 0xFF}));
  ASSERT_TRUE(v.ok());
  EXPECT_TRUE(v->AsList()->at(0).is_null());
}

TEST(ValueAccess, WrongKindNamesBoth) {
  Value v(int32_t{5});
  EXPECT_EQ(*v.AsInt32(), 5);
  EXPECT_EQ(*v.AsInt64(), 5);  // widening is fine
  EXPECT_THAT(v.AsText().status().message(), HasSubstr("value is int, not text"));
  EXPECT_EQ(Value(int64_t{5}).AsInt32().status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(*Value::Timestamp(absl::FromUnixMillis(42)).AsTimestampMillis(), 42);
  EXPECT_TRUE(Value().is_null());
}

TEST(UuidText, ParseAndFormat) {
  auto u = Uuid::Parse("00112233-4455-6677-8899-aabbccddeeff");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->ToString(), "00112233-4455-6677-8899-aabbccddeeff");
  EXPECT_FALSE(Uuid::Parse("00112233445566778899aabbccddeeff").ok());
  EXPECT_FALSE(Uuid::Parse("0011223g-4455-6677-8899-aabbccddeeff").ok());
  EXPECT_NE(Uuid::Random(), Uuid::Random());
}

TEST(Hosts, ParsesCassandraHostsLists) {
  auto h = ParseHosts("h1:9043, h2 ,,[::1]:9044,10.0.0.1");
  ASSERT_TRUE(h.ok()) << h.status();
  ASSERT_EQ(h->size(), 4u);
  EXPECT_EQ((*h)[0], (HostPort{"h1", 9043}));
  EXPECT_EQ((*h)[1], (HostPort{"h2", 9042}));
  EXPECT_EQ((*h)[2], (HostPort{"::1", 9044}));
  EXPECT_EQ((*h)[3].ToString(), "10.0.0.1:9042");
  EXPECT_FALSE(ParseHosts("").ok());
  EXPECT_FALSE(ParseHosts("h1:0").ok());
  EXPECT_FALSE(ParseHosts("h1:99999").ok());
  EXPECT_FALSE(ParseHosts("h1:abc").ok());
  EXPECT_FALSE(ParseHosts("[::1").ok());
}

TEST(Lwt, FromResult) {
  auto cols = std::make_shared<const Columns>(std::vector<ColumnSpec>{
      {"ks", "t", "[applied]", DataType{TypeId::kBoolean, "", {}, {}}},
      {"ks", "t", "owner", DataType{TypeId::kVarchar, "", {}, {}}}});
  Result r;
  r.kind = ResultKind::kRows;
  r.columns = cols;
  r.rows.emplace_back(cols, std::vector<std::optional<std::string>>{std::string(1, '\0'), "w1"});
  auto lwt = LwtResult::From(r);
  ASSERT_TRUE(lwt.ok());
  EXPECT_FALSE(lwt->applied);
  ASSERT_TRUE(lwt->existing.has_value());
  EXPECT_EQ(*lwt->existing->GetText("owner"), "w1");

  Result plain;
  plain.kind = ResultKind::kVoid;
  EXPECT_EQ(LwtResult::From(plain).status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST(CreateOptions, Validated) {
  EXPECT_EQ(Client::Create(ClientOptions{}).status().code(), absl::StatusCode::kInvalidArgument);
  ClientOptions o;
  o.hosts = {{"127.0.0.1", 1}};  // nothing listens on port 1
  o.connect_timeout = absl::Seconds(2);
  auto c = Client::Create(o);
  EXPECT_EQ(c.status().code(), absl::StatusCode::kUnavailable) << c.status();
}

}  // namespace
}  // namespace dts::cql
