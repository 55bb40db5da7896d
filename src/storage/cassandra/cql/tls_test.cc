// TlsOptions checks, without a server: every bad file is refused up front,
// naming the option and the file.
#include "absl/status/status.h"
#include "dts/cql/client.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "storage/cassandra/cql/tls_test_util.h"

namespace dts::cql {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

class TlsOptionsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(files_.MakeCa("ca"));
    ASSERT_TRUE(files_.MakeCert("client", "ca", "DNS:client.test"));
    ASSERT_TRUE(files_.MakeCert("other", "ca", "DNS:other.test"));
  }
  TlsOptions Valid() const {
    TlsOptions tls;
    tls.enabled = true;
    tls.ca_file = files_.Path("ca.pem");
    tls.cert_file = files_.Path("client.pem");
    tls.key_file = files_.Path("client.key");
    return tls;
  }
  // CheckTlsOptions(tls), which must refuse it as INVALID_ARGUMENT.
  static absl::Status Refused(const TlsOptions& tls) {
    absl::Status s = CheckTlsOptions(tls);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
    return s;
  }
  testing::TlsFiles files_;
};

TEST_F(TlsOptionsTest, AcceptsACaAndAMatchingClientPair) {
  EXPECT_TRUE(CheckTlsOptions(Valid()).ok()) << CheckTlsOptions(Valid());
  TlsOptions ca_only = Valid();
  ca_only.cert_file.clear();
  ca_only.key_file.clear();
  EXPECT_TRUE(CheckTlsOptions(ca_only).ok());
}

TEST_F(TlsOptionsTest, MissingCaFileIsNamed) {
  TlsOptions tls = Valid();
  tls.ca_file = files_.Path("nope.pem");
  EXPECT_THAT(Refused(tls).message(), AllOf(HasSubstr("tls.ca_file"), HasSubstr("nope.pem"), HasSubstr("cannot read")));
}

TEST_F(TlsOptionsTest, CaFileThatIsNotPemIsNamed) {
  files_.Write("junk.pem", "not a certificate\n");
  TlsOptions tls = Valid();
  tls.ca_file = files_.Path("junk.pem");
  EXPECT_THAT(Refused(tls).message(), AllOf(HasSubstr("tls.ca_file"), HasSubstr("junk.pem")));
}

TEST_F(TlsOptionsTest, CertificateWithoutKeyIsRefused) {
  TlsOptions tls = Valid();
  tls.key_file.clear();
  EXPECT_THAT(Refused(tls).message(), HasSubstr("tls.key_file"));
}

TEST_F(TlsOptionsTest, KeyOfAnotherCertificateIsRefused) {
  TlsOptions tls = Valid();
  tls.key_file = files_.Path("other.key");
  EXPECT_THAT(Refused(tls).message(), AllOf(HasSubstr("does not belong"), HasSubstr("other.key")));
}

TEST_F(TlsOptionsTest, CertificateFileThatIsAKeyIsRefused) {
  TlsOptions tls = Valid();
  tls.cert_file = files_.Path("client.key");
  EXPECT_THAT(Refused(tls).message(), HasSubstr("tls.cert_file"));
}

TEST(TlsVerifyTest, ParsesTheThreeModesInAnyCase) {
  EXPECT_EQ(*ParseTlsVerify("full"), TlsVerify::kFull);
  EXPECT_EQ(*ParseTlsVerify("CA"), TlsVerify::kCa);
  EXPECT_EQ(*ParseTlsVerify("None"), TlsVerify::kNone);
  absl::StatusOr<TlsVerify> bad = ParseTlsVerify("strict");
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(bad.status().message(), HasSubstr("strict"));
}

TEST(TlsCreateTest, ClientCreateRefusesBadTlsFilesBeforeConnecting) {
  ClientOptions o;
  o.hosts = {HostPort{"127.0.0.1", 1}};  // nothing listens: TLS must fail first
  o.tls.enabled = true;
  o.tls.ca_file = "/nonexistent/ca.pem";
  auto c = Client::Create(o);
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(c.status().message(), HasSubstr("tls.ca_file"));
}

}  // namespace
}  // namespace dts::cql
