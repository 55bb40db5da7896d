#include "dts/http/server.h"

#include <cstdint>
#include <exception>
#include <limits>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core/bind_handler.hpp>
#include <openssl/ssl.h>

#include "absl/base/call_once.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "session.h"

namespace dts::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;
using error_code = beast::error_code;

namespace {

// Accept failures from running out of descriptors or memory would repeat at
// once; waiting a little lets connections close instead of spinning.
constexpr std::chrono::milliseconds kAcceptRetryDelay{100};
// Timers add the timeout to now(); absl::InfiniteDuration() would overflow.
constexpr absl::Duration kMaxTimeout = absl::Hours(24 * 365);

absl::StatusOr<tcp::endpoint> ParseAddress(absl::string_view address) {
  absl::string_view host, port;
  if (absl::ConsumePrefix(&address, "[")) {
    size_t end = address.find("]:");
    if (end == absl::string_view::npos) {
      return absl::InvalidArgumentError(absl::StrCat("bad address \"[", address, "\""));
    }
    host = address.substr(0, end);
    port = address.substr(end + 2);
  } else {
    size_t colon = address.rfind(':');
    // An unbracketed host with a colon is an IPv6 address missing its brackets.
    if (colon == absl::string_view::npos ||
        address.substr(0, colon).find(':') != absl::string_view::npos) {
      return absl::InvalidArgumentError(absl::StrCat(
          "bad address \"", address, "\": want host:port, with an IPv6 host in brackets"));
    }
    host = address.substr(0, colon);
    port = address.substr(colon + 1);
  }
  int port_number = 0;
  if (!absl::SimpleAtoi(port, &port_number) || port_number < 0 || port_number > 65535) {
    return absl::InvalidArgumentError(absl::StrCat("bad port \"", port, "\""));
  }
  if (host.empty()) host = "0.0.0.0";
  if (host == "localhost") host = "127.0.0.1";
  // Literal addresses only: a server should not depend on DNS to start.
  error_code ec;
  asio::ip::address ip = asio::ip::make_address(std::string(host), ec);
  if (ec) {
    return absl::InvalidArgumentError(
        absl::StrCat("bad host \"", host, "\": want an IP address or localhost"));
  }
  return tcp::endpoint(ip, static_cast<uint16_t>(port_number));
}

std::string FormatEndpoint(const tcp::endpoint& endpoint) {
  const asio::ip::address ip = endpoint.address();
  if (ip.is_v6()) return absl::StrCat("[", ip.to_string(), "]:", endpoint.port());
  return absl::StrCat(ip.to_string(), ":", endpoint.port());
}

absl::Status CheckOptions(const ServerOptions& options) {
  if (options.threads < 1) return absl::InvalidArgumentError("threads must be at least 1");
  if (options.max_header_bytes == 0 ||
      options.max_header_bytes > std::numeric_limits<std::uint32_t>::max()) {
    return absl::InvalidArgumentError("max_header_bytes must be in 1..2^32-1");
  }
  if (options.idle_timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("idle_timeout must be positive");
  }
  if (options.shutdown_grace < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("shutdown_grace must not be negative");
  }
  return absl::OkStatus();
}

// The TLS context of a server with a certificate, else null. TLS 1.2 and up
// (with OpenSSL's default cipher list, which has no export or NULL suites).
absl::StatusOr<std::unique_ptr<asio::ssl::context>> MakeTlsContext(const ServerOptions& options) {
  if (options.tls_cert_chain_pem.empty()) {
    if (!options.tls_key_pem.empty() || !options.tls_client_ca_pem.empty()) {
      return absl::InvalidArgumentError("TLS key or client CA given without a certificate");
    }
    return nullptr;
  }
  std::unique_ptr<asio::ssl::context> context;
  try {  // the constructor throws when OpenSSL cannot allocate a context
    context = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_server);
  } catch (const std::exception& e) {
    return absl::ResourceExhaustedError(absl::StrCat("create TLS context: ", e.what()));
  }
  error_code ec;
  context->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                           asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                           asio::ssl::context::no_tlsv1_1 | asio::ssl::context::single_dh_use,
                       ec);
  if (ec) return absl::InternalError(absl::StrCat("TLS options: ", ec.message()));
  SSL_CTX_set_min_proto_version(context->native_handle(), TLS1_2_VERSION);
  // OpenSSL's default for an encrypted key prompts on the terminal; an empty
  // passphrase makes such a key fail here instead.
  context->set_password_callback(
      [](std::size_t, asio::ssl::context::password_purpose) { return std::string(); }, ec);
  if (ec) return absl::InternalError(absl::StrCat("TLS password callback: ", ec.message()));
  context->use_certificate_chain(
      asio::buffer(options.tls_cert_chain_pem.data(), options.tls_cert_chain_pem.size()), ec);
  if (ec) return absl::InvalidArgumentError(absl::StrCat("TLS certificate: ", ec.message()));
  context->use_private_key(asio::buffer(options.tls_key_pem.data(), options.tls_key_pem.size()),
                           asio::ssl::context::pem, ec);
  if (ec) return absl::InvalidArgumentError(absl::StrCat("TLS private key: ", ec.message()));
  if (SSL_CTX_check_private_key(context->native_handle()) != 1) {
    return absl::InvalidArgumentError("TLS private key does not match the certificate");
  }
  if (!options.tls_client_ca_pem.empty()) {
    context->add_certificate_authority(
        asio::buffer(options.tls_client_ca_pem.data(), options.tls_client_ca_pem.size()), ec);
    if (ec) return absl::InvalidArgumentError(absl::StrCat("TLS client CA: ", ec.message()));
    context->set_verify_mode(
        asio::ssl::verify_peer | asio::ssl::verify_fail_if_no_peer_cert, ec);
    if (ec) return absl::InternalError(absl::StrCat("TLS verify mode: ", ec.message()));
  }
  return context;
}

bool IsResourceShortage(const error_code& ec) {
  return ec == asio::error::no_descriptors || ec == asio::error::no_buffer_space ||
         ec == asio::error::no_memory ||
         ec == error_code(ENFILE, boost::system::system_category());
}

}  // namespace

class Server::Impl {
 public:
  Impl(ServerOptions options, const Router* router, std::unique_ptr<asio::ssl::context> tls)
      : options_(std::move(options)),
        tls_(std::move(tls)),
        ioc_(options_.threads),
        acceptor_(asio::make_strand(ioc_)),
        accept_retry_(acceptor_.get_executor()) {
    config_.router = router;
    config_.max_body_bytes = options_.max_body_bytes;
    config_.max_header_bytes = options_.max_header_bytes;
    config_.idle_timeout = absl::ToChronoNanoseconds(std::min(options_.idle_timeout, kMaxTimeout));
    config_.server_header = options_.server_header;
    config_.log_error = options_.log_error;
    config_.tls = tls_.get();
  }

  ~Impl() { Shutdown(); }

  absl::Status Listen(const tcp::endpoint& endpoint);
  absl::Status Start();
  void Shutdown();

  int port() const { return local_.port(); }
  std::string address() const { return FormatEndpoint(local_); }

 private:
  void Accept();
  void OnAccept(error_code ec, tcp::socket socket);
  void RunLoop();
  void Log(absl::string_view message) const {
    if (options_.log_error) options_.log_error(message);
  }

  const ServerOptions options_;
  const std::unique_ptr<asio::ssl::context> tls_;  // null: plaintext; shared by every session
  SessionConfig config_;
  // Declared before ioc_: connections still queued in ioc_ when it is
  // destroyed unregister themselves from it.
  SessionRegistry registry_;
  asio::io_context ioc_;
  tcp::acceptor acceptor_;  // on its own strand: Shutdown() closes it by posting there
  asio::steady_timer accept_retry_;
  std::vector<std::thread> threads_;
  tcp::endpoint local_;
  absl::once_flag shutdown_once_;
};

absl::Status Server::Impl::Listen(const tcp::endpoint& endpoint) {
  const std::string where = FormatEndpoint(endpoint);
  error_code ec;
  acceptor_.open(endpoint.protocol(), ec);
  if (ec) return absl::UnavailableError(absl::StrCat("listen on ", where, ": ", ec.message()));
  // Lets a restarted server bind while old connections sit in TIME_WAIT.
  acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor_.bind(endpoint, ec);
  if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (!ec) local_ = acceptor_.local_endpoint(ec);
  if (ec) return absl::UnavailableError(absl::StrCat("listen on ", where, ": ", ec.message()));
  return absl::OkStatus();
}

absl::Status Server::Impl::Start() {
  Accept();
  try {
    for (int i = 0; i < options_.threads; ++i) threads_.emplace_back([this] { RunLoop(); });
  } catch (const std::system_error& e) {
    Shutdown();
    return absl::ResourceExhaustedError(absl::StrCat("start HTTP threads: ", e.what()));
  }
  return absl::OkStatus();
}

void Server::Impl::Accept() {
  // Each connection gets its own strand, so its handlers never run
  // concurrently while different connections use all threads.
  acceptor_.async_accept(asio::make_strand(ioc_),
                         beast::bind_front_handler(&Impl::OnAccept, this));
}

void Server::Impl::OnAccept(error_code ec, tcp::socket socket) {
  if (ec == asio::error::operation_aborted || !acceptor_.is_open()) return;
  if (ec && IsResourceShortage(ec)) {
    Log(absl::StrCat("accept: ", ec.message(), "; retrying shortly"));
    accept_retry_.expires_after(kAcceptRetryDelay);
    accept_retry_.async_wait([this](error_code wait_ec) {
      if (!wait_ec && acceptor_.is_open()) Accept();
    });
    return;
  }
  // Keep accepting before anything below can fail.
  Accept();
  if (ec) return;  // e.g. the peer reset before we accepted
  auto session = std::make_shared<Session>(std::move(socket), config_, &registry_);
  if (registry_.Add(session)) session->Start();
}

void Server::Impl::RunLoop() {
  // Handlers catch their own exceptions; this is the last line of defence,
  // so an I/O thread is never lost.
  for (;;) {
    try {
      ioc_.run();
      return;
    } catch (const std::exception& e) {
      Log(absl::StrCat("HTTP I/O thread: ", e.what()));
    } catch (...) {
      Log("HTTP I/O thread: unknown exception");
    }
  }
}

void Server::Impl::Shutdown() {
  absl::call_once(shutdown_once_, [this] {
    asio::post(acceptor_.get_executor(), [this] {
      error_code ec;
      acceptor_.close(ec);
      accept_retry_.cancel();
    });
    registry_.StopAll();
    registry_.AwaitEmpty(options_.shutdown_grace);
    // Whatever is left (a handler still busy, a client not reading) is cut:
    // its pending operations are destroyed with ioc_.
    ioc_.stop();
    for (std::thread& thread : threads_) thread.join();
    // The posted close may not have run before stop(); with no thread left
    // it is safe here, and it resets connections still in the backlog now
    // rather than when the server object is destroyed.
    error_code ec;
    acceptor_.close(ec);
  });
}

absl::StatusOr<std::unique_ptr<Server>> Server::Create(ServerOptions options,
                                                       const Router* router) {
  if (router == nullptr) return absl::InvalidArgumentError("router is null");
  if (!router->status().ok()) return router->status();
  if (absl::Status s = CheckOptions(options); !s.ok()) return s;
  absl::StatusOr<tcp::endpoint> endpoint = ParseAddress(options.address);
  if (!endpoint.ok()) return endpoint.status();
  absl::StatusOr<std::unique_ptr<asio::ssl::context>> tls = MakeTlsContext(options);
  if (!tls.ok()) return tls.status();

  std::unique_ptr<Impl> impl;
  try {  // io_context throws if the kernel refuses an epoll instance
    impl = std::make_unique<Impl>(std::move(options), router, *std::move(tls));
  } catch (const std::exception& e) {
    return absl::ResourceExhaustedError(absl::StrCat("create HTTP server: ", e.what()));
  }
  if (absl::Status s = impl->Listen(*endpoint); !s.ok()) return s;
  if (absl::Status s = impl->Start(); !s.ok()) return s;
  return std::unique_ptr<Server>(new Server(std::move(impl)));
}

Server::Server(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Server::~Server() = default;  // ~Impl shuts down

int Server::port() const { return impl_->port(); }

std::string Server::address() const { return impl_->address(); }

void Server::Shutdown() { impl_->Shutdown(); }

}  // namespace dts::http
