#pragma once

// The TLS flags of every serving command (--tls-cert, --tls-key, --tls-ca)
// and loading them: the files are read and checked once at start-up, so a
// bad file is a usage error naming its flag instead of a listener that
// fails later (gRPC would only log it and refuse to start).

#include <memory>
#include <string>

#include "CLI/CLI.hpp"
#include "absl/status/statusor.h"
#include "grpcpp/security/server_credentials.h"

namespace dts::app {

// File paths as given on the command line; all empty: plaintext.
struct TlsFlags {
  std::string cert;  // --tls-cert: PEM certificate chain, the server's first
  std::string key;   // --tls-key: its PEM private key (unencrypted)
  std::string ca;    // --tls-ca: PEM CA bundle; set: clients must present a cert it signed
};

// The loaded, checked PEM texts the listeners are configured with.
struct ServerTls {
  std::string cert_chain_pem{};
  std::string key_pem{};
  std::string client_ca_pem{};  // empty: no client certificate asked for

  bool enabled() const { return !cert_chain_pem.empty(); }
  bool verify_clients() const { return !client_ca_pem.empty(); }
};

// Registers --tls-cert, --tls-key and --tls-ca.
void AddTlsFlags(CLI::App& cmd, TlsFlags* flags);

// Reads and checks the files of `flags`: the certificate chain and key parse,
// the key belongs to the chain's first certificate, the CA bundle holds at
// least one certificate. No flag: an empty (disabled) ServerTls.
// INVALID_ARGUMENT naming the flag and file otherwise, including for only
// one of --tls-cert/--tls-key, or --tls-ca without them.
absl::StatusOr<ServerTls> LoadServerTls(const TlsFlags& flags);

// The gRPC listener's credentials: insecure (h2c) when `tls` is disabled,
// else TLS, requiring and verifying client certificates when it has a CA.
std::shared_ptr<grpc::ServerCredentials> GrpcServerCredentials(const ServerTls& tls);

}  // namespace dts::app
