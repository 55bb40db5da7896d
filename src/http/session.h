#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <variant>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "dts/http/message.h"
#include "dts/http/router.h"
#include "response_head.h"

namespace dts::http {

class Session;

// What every connection of one server needs; owned by the server and
// outliving its connections.
struct SessionConfig {
  const Router* router = nullptr;
  size_t max_body_bytes = 0;
  size_t max_header_bytes = 0;
  std::chrono::steady_clock::duration idle_timeout{};
  std::string server_header;
  std::function<void(absl::string_view)> log_error;
  // Set: connections speak TLS with this context (owned by the server).
  boost::asio::ssl::context* tls = nullptr;
};

// The live connections of a server, so that Shutdown() can close the idle
// ones and wait for the busy ones. Sessions register once, when accepted, so
// the lock is off the per-request path.
class SessionRegistry {
 public:
  // False once StopAll() has run: the caller drops the connection.
  bool Add(const std::shared_ptr<Session>& session);
  void Remove(Session* session);  // from ~Session
  // Refuses new sessions and asks every live one to stop after its current
  // response.
  void StopAll();
  // True when every session has gone within `timeout`.
  bool AwaitEmpty(absl::Duration timeout);

 private:
  bool EmptyLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return sessions_.empty(); }

  absl::Mutex mu_;
  // Keyed by address for Remove(); weak so the registry never keeps a
  // finished connection alive.
  absl::flat_hash_map<Session*, std::weak_ptr<Session>> sessions_ ABSL_GUARDED_BY(mu_);
  bool closing_ ABSL_GUARDED_BY(mu_) = false;
};

// One TCP connection, plain or TLS (handshake first): read a request, run
// its handler, write the response, repeat. Requests of a connection are therefore answered strictly in order,
// which is what HTTP/1.1 pipelining requires; pipelined requests already in
// the buffer are parsed without another read. Every member is touched only
// from the connection's strand (the executor of its socket).
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(boost::asio::ip::tcp::socket socket, const SessionConfig& config,
          SessionRegistry* registry);
  ~Session();

  void Start();
  // Thread-safe: closes the connection if it is between requests, otherwise
  // after the response in progress.
  void Stop();

 private:
  enum class State { kBusy, kReading, kDraining, kClosed };
  using error_code = boost::beast::error_code;
  using TlsStream = boost::beast::ssl_stream<boost::beast::tcp_stream>;

  // The TCP layer (timeouts, socket options, close) of either stream.
  boost::beast::tcp_stream& tcp();
  // Calls f(stream) with the plain or the TLS stream: the HTTP reads and
  // writes are the same code for both.
  template <class F>
  void WithStream(F&& f);

  void OnStop();
  void Handshake();
  void OnHandshake(error_code ec);
  void ReadHeader();
  void OnHeader(error_code ec, size_t bytes);
  void WriteContinue();
  void ReadBody();
  void OnBody(error_code ec, size_t bytes);
  void OnReadError(error_code ec);
  void Respond();
  bool FillRequest();
  Response Dispatch();
  void Write(Response response, const Framing& framing);
  void OnWrite(bool keep_alive, error_code ec, size_t bytes);
  void LingerClose();
  void OnTlsShutdown(error_code ec);
  void Drain();
  void OnDrain(error_code ec, size_t bytes);
  void Close();
  void Log(absl::string_view message) const;

  // Set once in the constructor; monostate only so that the variant can be
  // built before it knows which one.
  std::variant<std::monostate, boost::beast::tcp_stream, TlsStream> stream_;
  boost::beast::flat_buffer buffer_;  // kept across requests: holds pipelined bytes
  // A Beast parser reads one message; a fresh one is emplaced per request.
  std::optional<boost::beast::http::request_parser<boost::beast::http::string_body>> parser_;
  Request request_;     // reused, so its strings keep their capacity
  std::string head_;    // serialized status line and headers, reused
  std::string body_;    // body of the response being written
  const SessionConfig& config_;
  SessionRegistry* registry_;
  State state_ = State::kBusy;
  bool stop_requested_ = false;
  size_t drained_ = 0;
};

}  // namespace dts::http
