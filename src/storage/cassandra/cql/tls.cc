#include "tls.h"

#include <cerrno>
#include <cstring>
#include <fstream>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <boost/asio/ip/address.hpp>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace dts::cql {
namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;

namespace {

// The file's text, or why it cannot be had: a clearer message than OpenSSL's
// "no such file" buried in an error queue.
absl::Status CheckReadable(absl::string_view option, const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::InvalidArgumentError(
        absl::StrCat("tls.", option, " \"", path, "\": cannot read it: ", std::strerror(errno)));
  }
  return absl::OkStatus();
}

absl::Status FileError(absl::string_view option, const std::string& path,
                       const boost::system::error_code& ec, absl::string_view what) {
  return absl::InvalidArgumentError(
      absl::StrCat("tls.", option, " \"", path, "\": not ", what, ": ", ec.message()));
}

// Loads tls.key_file into `ctx`, telling a file that is no key apart from a
// key of another certificate.
absl::Status UseKey(ssl::context& ctx, const TlsOptions& tls) {
  BIO* bio = BIO_new_file(tls.key_file.c_str(), "r");
  EVP_PKEY* key = bio != nullptr ? PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr) : nullptr;
  BIO_free(bio);
  if (key == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("tls.key_file \"", tls.key_file, "\": not an unencrypted PEM private key"));
  }
  const bool matches = SSL_CTX_use_PrivateKey(ctx.native_handle(), key) == 1 &&
                       SSL_CTX_check_private_key(ctx.native_handle()) == 1;
  EVP_PKEY_free(key);
  ERR_clear_error();
  if (!matches) {
    return absl::InvalidArgumentError(absl::StrCat("tls.key_file \"", tls.key_file,
                                                   "\" does not belong to tls.cert_file \"",
                                                   tls.cert_file, "\""));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<TlsVerify> ParseTlsVerify(absl::string_view text) {
  const std::string v = absl::AsciiStrToLower(text);
  if (v == "full") return TlsVerify::kFull;
  if (v == "ca") return TlsVerify::kCa;
  if (v == "none") return TlsVerify::kNone;
  return absl::InvalidArgumentError(
      absl::StrCat("\"", text, "\": expected full (CA and host name), ca (CA only) or none"));
}

absl::StatusOr<std::shared_ptr<ssl::context>> MakeTlsContext(const TlsOptions& tls) {
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_client);
  ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                   ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
  boost::system::error_code ec;
  if (tls.ca_file.empty()) {
    ctx->set_default_verify_paths(ec);
    if (ec) return absl::InvalidArgumentError(absl::StrCat("tls: no system CA store: ", ec.message()));
  } else {
    if (absl::Status s = CheckReadable("ca_file", tls.ca_file); !s.ok()) return s;
    ctx->load_verify_file(tls.ca_file, ec);
    if (ec) return FileError("ca_file", tls.ca_file, ec, "a PEM CA bundle");
  }
  if (tls.cert_file.empty() != tls.key_file.empty()) {
    return absl::InvalidArgumentError(
        "tls.cert_file and tls.key_file go together: a client certificate needs its key");
  }
  if (!tls.cert_file.empty()) {
    if (absl::Status s = CheckReadable("cert_file", tls.cert_file); !s.ok()) return s;
    if (absl::Status s = CheckReadable("key_file", tls.key_file); !s.ok()) return s;
    ctx->use_certificate_chain_file(tls.cert_file, ec);
    if (ec) return FileError("cert_file", tls.cert_file, ec, "a PEM certificate chain");
    if (absl::Status s = UseKey(*ctx, tls); !s.ok()) return s;
  }
  ctx->set_verify_mode(tls.verify == TlsVerify::kNone ? ssl::verify_none : ssl::verify_peer);
  return ctx;
}

absl::Status CheckTlsOptions(const TlsOptions& tls) {
  return MakeTlsContext(tls).status();
}

absl::Status PrepareTlsPeer(ssl::stream<asio::ip::tcp::socket&>& stream, TlsVerify verify,
                            const std::string& name) {
  SSL* handle = stream.native_handle();
  boost::system::error_code ec;
  (void)asio::ip::make_address(name, ec);
  const bool is_ip = !ec;
  // SNI carries names only (RFC 6066).
  if (!is_ip && SSL_set_tlsext_host_name(handle, name.c_str()) != 1) {
    return absl::InvalidArgumentError(absl::StrCat("tls: bad server name \"", name, "\""));
  }
  if (verify != TlsVerify::kFull) return absl::OkStatus();
  X509_VERIFY_PARAM* param = SSL_get0_param(handle);
  const int ok = is_ip ? X509_VERIFY_PARAM_set1_ip_asc(param, name.c_str())
                       : X509_VERIFY_PARAM_set1_host(param, name.c_str(), name.size());
  if (ok != 1) return absl::InvalidArgumentError(absl::StrCat("tls: cannot check for \"", name, "\""));
  return absl::OkStatus();
}

std::string TlsHandshakeError(ssl::stream<asio::ip::tcp::socket&>& stream,
                              const boost::system::error_code& ec) {
  const long verdict = SSL_get_verify_result(stream.native_handle());
  if (verdict != X509_V_OK) {
    return absl::StrCat("certificate verify failed: ", X509_verify_cert_error_string(verdict));
  }
  return ec.message();
}

}  // namespace dts::cql
