#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "dts/http/router.h"

namespace dts::http {

// Every member has an initializer so that ServerOptions{.threads = 4}
// passes -Wmissing-field-initializers.
struct ServerOptions {
  // "ip:port" or "[ipv6]:port"; "localhost" means 127.0.0.1 and an empty host
  // (":8080") means every IPv4 interface. Port 0 picks a free port.
  std::string address = "127.0.0.1:0";
  int threads = 2;                      // I/O threads; handlers run on them
  size_t max_body_bytes = 1 << 20;      // larger bodies get 413
  size_t max_header_bytes = 16 << 10;   // request line + headers; larger get 431
  // A connection is closed when reading a request, or writing a response,
  // takes longer than this (also bounds how long an idle keep-alive lasts).
  absl::Duration idle_timeout = absl::Seconds(60);
  // How long Shutdown() lets requests in progress finish before it cuts
  // their connections.
  absl::Duration shutdown_grace = absl::Seconds(5);
  std::string server_header{};  // sent as "Server:" when not empty
  // Called (from I/O threads, concurrently) for what the server swallows:
  // handler exceptions, invalid responses, accept failures. May be empty.
  std::function<void(absl::string_view)> log_error{};
  // TLS: the PEM certificate chain (the server's certificate first) and its
  // unencrypted private key. Empty: plaintext HTTP.
  std::string tls_cert_chain_pem{};
  std::string tls_key_pem{};
  // PEM CA bundle; set: a client must present a certificate signed by one of
  // these CAs, or the handshake fails (mTLS). Needs the two above.
  std::string tls_client_ca_pem{};
};

// An HTTP/1.1 server: keep-alive, pipelining (answered in order), request
// size limits, idle timeouts. It knows nothing about the API; routes come
// from the Router. See src/http/README.md for the threading model.
class Server {
 public:
  // Binds and listens, then starts options.threads I/O threads. `router`
  // must outlive the server; its status() must be OK. INVALID_ARGUMENT for
  // TLS material OpenSSL refuses.
  static absl::StatusOr<std::unique_ptr<Server>> Create(ServerOptions options,
                                                        const Router* router);
  ~Server();  // calls Shutdown()
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  int port() const;
  std::string address() const;  // the bound "ip:port", e.g. "127.0.0.1:41234"

  // Stops accepting, closes idle connections, lets requests in progress
  // finish (up to shutdown_grace), then joins the I/O threads. Idempotent
  // and thread-safe; must not be called from a handler (it would wait for
  // its own thread).
  void Shutdown();

 private:
  class Impl;  // keeps Boost headers out of this header
  explicit Server(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace dts::http
