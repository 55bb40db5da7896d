#include "app/tls.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace dts::app {
namespace {

// PEM files of a few certificates are kilobytes; the cap keeps a path like
// /dev/zero from eating memory at start-up.
constexpr size_t kMaxPemBytes = 1 << 20;

struct BioFree {
  void operator()(BIO* bio) const { BIO_free(bio); }
};
struct X509Free {
  void operator()(X509* cert) const { X509_free(cert); }
};
struct PkeyFree {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};
using BioPtr = std::unique_ptr<BIO, BioFree>;
using X509Ptr = std::unique_ptr<X509, X509Free>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;

// OpenSSL's default for an encrypted key is to prompt on the terminal; a
// server must fail instead.
int NoPassphrase(char* /*buf*/, int /*size*/, int /*rwflag*/, void* /*userdata*/) { return 0; }

absl::StatusOr<std::string> ReadPem(absl::string_view flag, const std::string& path) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(flag, ": cannot read ", path, ": ", std::strerror(errno)));
  }
  std::string content;
  char buffer[16 << 10];
  for (;;) {
    const ssize_t n = read(fd, buffer, sizeof(buffer));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int error = errno;
      close(fd);
      return absl::InvalidArgumentError(
          absl::StrCat(flag, ": cannot read ", path, ": ", std::strerror(error)));
    }
    if (n == 0) break;
    content.append(buffer, static_cast<size_t>(n));
    if (content.size() > kMaxPemBytes) {
      close(fd);
      return absl::InvalidArgumentError(
          absl::StrCat(flag, ": ", path, " is larger than ", kMaxPemBytes, " bytes"));
    }
  }
  close(fd);
  return content;
}

BioPtr MemoryBio(const std::string& pem) {
  return BioPtr(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
}

// The number of PEM certificates in `pem`, and the first one.
int ParseCertificates(const std::string& pem, X509Ptr* first) {
  BioPtr bio = MemoryBio(pem);
  if (bio == nullptr) return 0;
  int count = 0;
  while (X509* cert = PEM_read_bio_X509(bio.get(), nullptr, NoPassphrase, nullptr)) {
    if (count++ == 0 && first != nullptr) {
      first->reset(cert);
    } else {
      X509_free(cert);
    }
  }
  // The loop ends on "no start line" at the end of the input: not an error.
  ERR_clear_error();
  return count;
}

}  // namespace

void AddTlsFlags(CLI::App& cmd, TlsFlags* flags) {
  cmd.add_option("--tls-cert", flags->cert,
                 "PEM certificate chain: serve gRPC and HTTP over TLS (with --tls-key)");
  cmd.add_option("--tls-key", flags->key, "PEM private key of --tls-cert (unencrypted)");
  cmd.add_option("--tls-ca", flags->ca,
                 "PEM CA bundle: require client certificates signed by it (mTLS)");
}

absl::StatusOr<ServerTls> LoadServerTls(const TlsFlags& flags) {
  ServerTls tls;
  if (flags.cert.empty() && flags.key.empty()) {
    if (!flags.ca.empty()) {
      return absl::InvalidArgumentError("--tls-ca needs --tls-cert and --tls-key");
    }
    return tls;
  }
  if (flags.cert.empty() || flags.key.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--tls-cert and --tls-key go together: ", flags.cert.empty() ? "--tls-cert" : "--tls-key",
        " is missing"));
  }

  absl::StatusOr<std::string> cert_pem = ReadPem("--tls-cert", flags.cert);
  if (!cert_pem.ok()) return cert_pem.status();
  X509Ptr leaf;
  if (ParseCertificates(*cert_pem, &leaf) == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("--tls-cert: no PEM certificate in ", flags.cert));
  }

  absl::StatusOr<std::string> key_pem = ReadPem("--tls-key", flags.key);
  if (!key_pem.ok()) return key_pem.status();
  PkeyPtr key;
  if (BioPtr bio = MemoryBio(*key_pem); bio != nullptr) {
    key.reset(PEM_read_bio_PrivateKey(bio.get(), nullptr, NoPassphrase, nullptr));
  }
  ERR_clear_error();
  if (key == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--tls-key: no PEM private key in ", flags.key,
        absl::StrContains(*key_pem, "ENCRYPTED") ? " (encrypted keys are not supported)" : ""));
  }
  const bool matches = X509_check_private_key(leaf.get(), key.get()) == 1;
  ERR_clear_error();
  if (!matches) {
    return absl::InvalidArgumentError(absl::StrCat("--tls-key: ", flags.key,
                                                   " does not match the certificate in --tls-cert ",
                                                   flags.cert));
  }

  if (!flags.ca.empty()) {
    absl::StatusOr<std::string> ca_pem = ReadPem("--tls-ca", flags.ca);
    if (!ca_pem.ok()) return ca_pem.status();
    if (ParseCertificates(*ca_pem, nullptr) == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("--tls-ca: no PEM certificate in ", flags.ca));
    }
    tls.client_ca_pem = *std::move(ca_pem);
  }
  tls.cert_chain_pem = *std::move(cert_pem);
  tls.key_pem = *std::move(key_pem);
  return tls;
}

std::shared_ptr<grpc::ServerCredentials> GrpcServerCredentials(const ServerTls& tls) {
  if (!tls.enabled()) return grpc::InsecureServerCredentials();
  grpc::SslServerCredentialsOptions options(
      tls.verify_clients() ? GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY
                           : GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
  options.pem_root_certs = tls.client_ca_pem;
  options.pem_key_cert_pairs.push_back(
      {.private_key = tls.key_pem, .cert_chain = tls.cert_chain_pem});
  return grpc::SslServerCredentials(options);
}

}  // namespace dts::app
