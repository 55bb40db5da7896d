// The HTTP server over TLS: a real server on 127.0.0.1 port 0 against a
// blocking Asio SSL client, with certificates made here by the OpenSSL API.

#include <memory>
#include <string>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <openssl/bio.h>
#include <openssl/buffer.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "absl/strings/str_cat.h"
#include "dts/http/server.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace dts::http {
namespace {

namespace asio = boost::asio;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;
using ::testing::HasSubstr;

struct KeyPair {
  std::string cert_pem;
  std::string key_pem;
};

std::string Drain(BIO* bio) {
  BUF_MEM* mem = nullptr;
  BIO_get_mem_ptr(bio, &mem);
  std::string text(mem->data, mem->length);
  BIO_free(bio);
  return text;
}

// A self-signed P-256 certificate for CN=`name`, valid for an hour, with
// subjectAltName IP:127.0.0.1 so that it also passes hostname checks. It is
// its own CA: the peer trusts it by listing the certificate itself.
KeyPair SelfSigned(const char* name) {
  EVP_PKEY* key = EVP_EC_gen("P-256");
  X509* cert = X509_new();
  X509_set_version(cert, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
  X509_gmtime_adj(X509_getm_notBefore(cert), -60);
  X509_gmtime_adj(X509_getm_notAfter(cert), 3600);
  X509_set_pubkey(cert, key);
  X509_NAME* subject = X509_get_subject_name(cert);
  X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(name), -1, -1, 0);
  X509_set_issuer_name(cert, subject);
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, cert, cert, nullptr, nullptr, 0);
  X509_EXTENSION* san = X509V3_EXT_conf_nid(nullptr, &ctx, NID_subject_alt_name, "IP:127.0.0.1");
  X509_add_ext(cert, san, -1);
  X509_EXTENSION_free(san);
  X509_sign(cert, key, EVP_sha256());
  BIO* cert_bio = BIO_new(BIO_s_mem());
  PEM_write_bio_X509(cert_bio, cert);
  BIO* key_bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(key_bio, key, nullptr, nullptr, 0, nullptr, nullptr);
  X509_free(cert);
  EVP_PKEY_free(key);
  return {.cert_pem = Drain(cert_bio), .key_pem = Drain(key_bio)};
}

asio::const_buffer Buffer(const std::string& s) { return asio::buffer(s.data(), s.size()); }

class TlsServerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    server_keys_ = new KeyPair(SelfSigned("dts-test-server"));
    client_keys_ = new KeyPair(SelfSigned("dts-test-client"));
    other_keys_ = new KeyPair(SelfSigned("dts-test-other"));
  }
  static void TearDownTestSuite() {
    delete server_keys_;
    delete client_keys_;
    delete other_keys_;
  }

  void SetUp() override {
    router_.Add("GET", "/hello", [](const Request&, const PathParams&) {
      return Response{.body = R"({"hello":"world"})"};
    });
  }

  void Start(bool require_client_cert) {
    ServerOptions options;
    options.tls_cert_chain_pem = server_keys_->cert_pem;
    options.tls_key_pem = server_keys_->key_pem;
    if (require_client_cert) options.tls_client_ca_pem = client_keys_->cert_pem;
    absl::StatusOr<std::unique_ptr<Server>> server = Server::Create(options, &router_);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
  }

  // A client context trusting `trusted` (PEM), presenting `own` if given.
  static std::unique_ptr<asio::ssl::context> ClientContext(const std::string& trusted,
                                                           const KeyPair* own = nullptr) {
    auto ctx = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_client);
    ctx->add_certificate_authority(Buffer(trusted));
    ctx->set_verify_mode(asio::ssl::verify_peer);
    if (own != nullptr) {
      ctx->use_certificate_chain(Buffer(own->cert_pem));
      ctx->use_private_key(Buffer(own->key_pem), asio::ssl::context::pem);
    }
    return ctx;
  }

  // Connects, handshakes and sends `requests` GETs of /hello on one
  // connection. Returns the bodies joined by "|", or "error: ..." at the
  // first failure.
  std::string Get(asio::ssl::context& ctx, int requests = 1, bool close = false) {
    asio::io_context ioc;
    asio::ssl::stream<tcp::socket> stream(ioc, ctx);
    boost::system::error_code ec;
    stream.next_layer().connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"),
                                              static_cast<uint16_t>(server_->port())),
                                ec);
    if (ec) return "error: connect: " + ec.message();
    stream.handshake(asio::ssl::stream_base::client, ec);
    if (ec) return "error: handshake: " + ec.message();
    std::string out;
    boost::beast::flat_buffer buffer;
    for (int i = 0; i < requests; ++i) {
      const std::string request = absl::StrCat("GET /hello HTTP/1.1\r\nHost: test\r\n",
                                               close ? "Connection: close\r\n" : "", "\r\n");
      asio::write(stream, Buffer(request), ec);
      if (ec) return "error: write: " + ec.message();
      bhttp::response<bhttp::string_body> response;
      bhttp::read(stream, buffer, response, ec);
      if (ec) return "error: read: " + ec.message();
      absl::StrAppend(&out, i == 0 ? "" : "|", response.result_int(), " ", response.body());
    }
    return out;
  }

  static KeyPair* server_keys_;
  static KeyPair* client_keys_;
  static KeyPair* other_keys_;
  Router router_;
  std::unique_ptr<Server> server_;
};

KeyPair* TlsServerTest::server_keys_ = nullptr;
KeyPair* TlsServerTest::client_keys_ = nullptr;
KeyPair* TlsServerTest::other_keys_ = nullptr;

TEST_F(TlsServerTest, RoundTripWithKeepAlive) {
  Start(/*require_client_cert=*/false);
  auto ctx = ClientContext(server_keys_->cert_pem);
  EXPECT_EQ(Get(*ctx, 3), R"(200 {"hello":"world"}|200 {"hello":"world"}|200 {"hello":"world"})");
}

TEST_F(TlsServerTest, ConnectionCloseSendsCloseNotify) {
  Start(false);
  auto ctx = ClientContext(server_keys_->cert_pem);
  asio::io_context ioc;
  asio::ssl::stream<tcp::socket> stream(ioc, *ctx);
  stream.next_layer().connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"),
                                            static_cast<uint16_t>(server_->port())));
  stream.handshake(asio::ssl::stream_base::client);
  asio::write(stream, Buffer("GET /hello HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"));
  boost::beast::flat_buffer buffer;
  bhttp::response<bhttp::string_body> response;
  bhttp::read(stream, buffer, response);
  EXPECT_EQ(response.result_int(), 200);
  // The server ends the TLS session cleanly: the next read sees EOF, not a
  // truncated stream.
  char byte;
  boost::system::error_code ec;
  asio::read(stream, asio::buffer(&byte, 1), ec);
  EXPECT_EQ(ec, asio::error::eof) << ec.message();
}

TEST_F(TlsServerTest, PlaintextHttpGetsNoResponse) {
  Start(false);
  asio::io_context ioc;
  tcp::socket socket(ioc);
  socket.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"),
                               static_cast<uint16_t>(server_->port())));
  asio::write(socket, Buffer("GET /hello HTTP/1.1\r\nHost: test\r\n\r\n"));
  std::string received(256, '\0');
  boost::system::error_code ec;
  const size_t n = asio::read(socket, asio::buffer(received), ec);
  received.resize(n);
  EXPECT_TRUE(ec) << "the connection should end";
  EXPECT_THAT(received, ::testing::Not(HasSubstr("hello")));
}

TEST_F(TlsServerTest, ClientRefusesAnUntrustedServer) {
  Start(false);
  auto ctx = ClientContext(other_keys_->cert_pem);
  EXPECT_THAT(Get(*ctx), HasSubstr("error: handshake"));
}

TEST_F(TlsServerTest, MutualTlsRequiresATrustedClientCertificate) {
  Start(/*require_client_cert=*/true);
  auto without = ClientContext(server_keys_->cert_pem);
  // With TLS 1.3 the client may finish its handshake before the server's
  // alert arrives, so the refusal shows at the handshake or the read.
  EXPECT_THAT(Get(*without), HasSubstr("error: "));
  auto untrusted = ClientContext(server_keys_->cert_pem, other_keys_);
  EXPECT_THAT(Get(*untrusted), HasSubstr("error: "));
  auto trusted = ClientContext(server_keys_->cert_pem, client_keys_);
  EXPECT_EQ(Get(*trusted), R"(200 {"hello":"world"})");
}

TEST_F(TlsServerTest, CreateRefusesBadTlsMaterial) {
  ServerOptions mismatched;
  mismatched.tls_cert_chain_pem = server_keys_->cert_pem;
  mismatched.tls_key_pem = other_keys_->key_pem;
  absl::StatusOr<std::unique_ptr<Server>> server = Server::Create(mismatched, &router_);
  EXPECT_TRUE(absl::IsInvalidArgument(server.status())) << server.status();

  ServerOptions garbage;
  garbage.tls_cert_chain_pem = "not a certificate";
  garbage.tls_key_pem = server_keys_->key_pem;
  server = Server::Create(garbage, &router_);
  EXPECT_TRUE(absl::IsInvalidArgument(server.status())) << server.status();
  EXPECT_THAT(server.status().message(), HasSubstr("TLS certificate"));

  ServerOptions key_only;
  key_only.tls_key_pem = server_keys_->key_pem;
  server = Server::Create(key_only, &router_);
  EXPECT_TRUE(absl::IsInvalidArgument(server.status())) << server.status();

  ServerOptions bad_ca;
  bad_ca.tls_cert_chain_pem = server_keys_->cert_pem;
  bad_ca.tls_key_pem = server_keys_->key_pem;
  bad_ca.tls_client_ca_pem = "junk";
  server = Server::Create(bad_ca, &router_);
  EXPECT_TRUE(absl::IsInvalidArgument(server.status())) << server.status();
}

TEST_F(TlsServerTest, ShutdownClosesOpenTlsConnections) {
  Start(false);
  auto ctx = ClientContext(server_keys_->cert_pem);
  asio::io_context ioc;
  asio::ssl::stream<tcp::socket> stream(ioc, *ctx);
  stream.next_layer().connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"),
                                            static_cast<uint16_t>(server_->port())));
  stream.handshake(asio::ssl::stream_base::client);
  server_->Shutdown();  // must not wait for the idle TLS connection
  char byte;
  boost::system::error_code ec;
  asio::read(stream, asio::buffer(&byte, 1), ec);
  EXPECT_TRUE(ec);
}

}  // namespace
}  // namespace dts::http
