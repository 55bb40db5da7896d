#include "app/tls.h"

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include <openssl/bio.h>
#include <openssl/buffer.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace dts::app {
namespace {

using ::testing::HasSubstr;

std::string BioText(BIO* bio) {
  BUF_MEM* mem = nullptr;
  BIO_get_mem_ptr(bio, &mem);
  return std::string(mem->data, mem->length);
}

// `key` as PEM; encrypted with `passphrase` when one is given.
std::string KeyPem(EVP_PKEY* key, const std::string& passphrase = "") {
  BIO* bio = BIO_new(BIO_s_mem());
  const EVP_CIPHER* cipher = passphrase.empty() ? nullptr : EVP_aes_128_cbc();
  const auto* secret = reinterpret_cast<const unsigned char*>(passphrase.data());
  PEM_write_bio_PrivateKey(bio, key, cipher, passphrase.empty() ? nullptr : secret,
                           static_cast<int>(passphrase.size()), nullptr, nullptr);
  std::string pem = BioText(bio);
  BIO_free(bio);
  return pem;
}

// A self-signed certificate for `key`, as PEM.
std::string CertPem(EVP_PKEY* key) {
  X509* cert = X509_new();
  X509_set_version(cert, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
  X509_gmtime_adj(X509_getm_notBefore(cert), 0);
  X509_gmtime_adj(X509_getm_notAfter(cert), 3600);
  X509_set_pubkey(cert, key);
  X509_NAME* name = X509_get_subject_name(cert);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("localhost"), -1, -1, 0);
  X509_set_issuer_name(cert, name);
  X509_sign(cert, key, EVP_sha256());
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_X509(bio, cert);
  std::string pem = BioText(bio);
  BIO_free(bio);
  X509_free(cert);
  return pem;
}

class TlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("dts-tls-test-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
    EVP_PKEY* key = EVP_EC_gen("P-256");
    EVP_PKEY* other = EVP_EC_gen("P-256");
    ASSERT_NE(key, nullptr);
    ASSERT_NE(other, nullptr);
    cert_ = Write("cert.pem", CertPem(key));
    key_ = Write("key.pem", KeyPem(key));
    other_key_ = Write("other-key.pem", KeyPem(other));
    encrypted_key_ = Write("encrypted-key.pem", KeyPem(key, "secret-passphrase"));
    ca_ = Write("ca.pem", CertPem(other));
    EVP_PKEY_free(key);
    EVP_PKEY_free(other);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string Write(const std::string& name, const std::string& content) {
    const std::string path = (dir_ / name).string();
    std::ofstream(path) << content;
    return path;
  }

  std::filesystem::path dir_;
  std::string cert_, key_, other_key_, encrypted_key_, ca_;
};

TEST_F(TlsTest, NoFlagsIsPlaintext) {
  absl::StatusOr<ServerTls> tls = LoadServerTls({});
  ASSERT_TRUE(tls.ok()) << tls.status();
  EXPECT_FALSE(tls->enabled());
  EXPECT_FALSE(tls->verify_clients());
}

TEST_F(TlsTest, LoadsCertAndKey) {
  absl::StatusOr<ServerTls> tls = LoadServerTls({.cert = cert_, .key = key_, .ca = ""});
  ASSERT_TRUE(tls.ok()) << tls.status();
  EXPECT_TRUE(tls->enabled());
  EXPECT_FALSE(tls->verify_clients());
  EXPECT_THAT(tls->cert_chain_pem, HasSubstr("BEGIN CERTIFICATE"));
  EXPECT_THAT(tls->key_pem, HasSubstr("PRIVATE KEY"));
}

TEST_F(TlsTest, LoadsClientCa) {
  absl::StatusOr<ServerTls> tls = LoadServerTls({.cert = cert_, .key = key_, .ca = ca_});
  ASSERT_TRUE(tls.ok()) << tls.status();
  EXPECT_TRUE(tls->verify_clients());
}

TEST_F(TlsTest, CertWithoutKeyNamesTheMissingFlag) {
  absl::StatusOr<ServerTls> tls = LoadServerTls({.cert = cert_, .key = "", .ca = ""});
  EXPECT_TRUE(absl::IsInvalidArgument(tls.status()));
  EXPECT_THAT(tls.status().message(), HasSubstr("--tls-key is missing"));
  tls = LoadServerTls({.cert = "", .key = key_, .ca = ""});
  EXPECT_TRUE(absl::IsInvalidArgument(tls.status()));
  EXPECT_THAT(tls.status().message(), HasSubstr("--tls-cert is missing"));
}

TEST_F(TlsTest, CaWithoutCertIsRefused) {
  absl::StatusOr<ServerTls> tls = LoadServerTls({.cert = "", .key = "", .ca = ca_});
  EXPECT_TRUE(absl::IsInvalidArgument(tls.status()));
  EXPECT_THAT(tls.status().message(), HasSubstr("--tls-ca needs --tls-cert"));
}

TEST_F(TlsTest, MissingFilesNameTheirFlag) {
  const std::string missing = (dir_ / "missing.pem").string();
  absl::StatusOr<ServerTls> tls = LoadServerTls({.cert = missing, .key = key_, .ca = ""});
  EXPECT_TRUE(absl::IsInvalidArgument(tls.status()));
  EXPECT_THAT(tls.status().message(), HasSubstr("--tls-cert: cannot read " + missing));
  EXPECT_THAT(tls.status().message(), HasSubstr("No such file"));
  tls = LoadServerTls({.cert = cert_, .key = missing, .ca = ""});
  EXPECT_THAT(tls.status().message(), HasSubstr("--tls-key: cannot read " + missing));
  tls = LoadServerTls({.cert = cert_, .key = key_, .ca = missing});
  EXPECT_THAT(tls.status().message(), HasSubstr("--tls-ca: cannot read " + missing));
  // A directory opens but cannot be read.
  tls = LoadServerTls({.cert = dir_.string(), .key = key_, .ca = ""});
  EXPECT_THAT(tls.status().message(), HasSubstr("--tls-cert: cannot read"));
}

TEST_F(TlsTest, NotPemIsRefused) {
  const std::string junk = Write("junk.pem", "not a certificate\n");
  absl::StatusOr<ServerTls> tls = LoadServerTls({.cert = junk, .key = key_, .ca = ""});
  EXPECT_TRUE(absl::IsInvalidArgument(tls.status()));
  EXPECT_THAT(tls.status().message(), HasSubstr("--tls-cert: no PEM certificate in " + junk));
  tls = LoadServerTls({.cert = cert_, .key = junk, .ca = ""});
  EXPECT_THAT(tls.status().message(), HasSubstr("--tls-key: no PEM private key in " + junk));
  tls = LoadServerTls({.cert = cert_, .key = key_, .ca = junk});
  EXPECT_THAT(tls.status().message(), HasSubstr("--tls-ca: no PEM certificate in " + junk));
  // A key where the certificate should be.
  tls = LoadServerTls({.cert = key_, .key = key_, .ca = ""});
  EXPECT_THAT(tls.status().message(), HasSubstr("--tls-cert: no PEM certificate"));
}

TEST_F(TlsTest, MismatchedKeyIsRefused) {
  absl::StatusOr<ServerTls> tls = LoadServerTls({.cert = cert_, .key = other_key_, .ca = ""});
  EXPECT_TRUE(absl::IsInvalidArgument(tls.status()));
  EXPECT_THAT(tls.status().message(),
              HasSubstr("--tls-key: " + other_key_ + " does not match the certificate"));
}

TEST_F(TlsTest, EncryptedKeyIsRefusedWithoutPrompting) {
  absl::StatusOr<ServerTls> tls = LoadServerTls({.cert = cert_, .key = encrypted_key_, .ca = ""});
  EXPECT_TRUE(absl::IsInvalidArgument(tls.status()));
  EXPECT_THAT(tls.status().message(), HasSubstr("encrypted keys are not supported"));
}

TEST_F(TlsTest, CertAndKeyInOneFile) {
  std::ifstream cert_in(cert_), key_in(key_);
  std::string both((std::istreambuf_iterator<char>(cert_in)), std::istreambuf_iterator<char>());
  both.append((std::istreambuf_iterator<char>(key_in)), std::istreambuf_iterator<char>());
  const std::string path = Write("both.pem", both);
  absl::StatusOr<ServerTls> tls = LoadServerTls({.cert = path, .key = path, .ca = ""});
  EXPECT_TRUE(tls.ok()) << tls.status();
}

}  // namespace
}  // namespace dts::app
