#pragma once
// One TCP connection to one Cassandra node, multiplexing requests by stream
// id. All socket work runs on the client's io_context (one thread); callers on
// any thread block in Call() until the answer, a failure or their timeout.
// Private to dts_cql.

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "codec.h"
#include "dts/cql/client.h"

namespace dts::cql {

struct ConnectionOptions {
  std::string username;
  std::string password;
  std::string keyspace;
  absl::Duration connect_timeout = absl::Seconds(5);
  int max_streams = 2048;
  uint32_t max_frame_body = codec::kMaxBody;
  // Consecutive client-side timeouts after which the connection is presumed
  // hung and closed (its stream ids cannot be reused until answered).
  int max_consecutive_timeouts = 16;
  // Set: every connection is TLS, checked as `tls_verify` says against
  // `tls_server_name` (empty: the host as written).
  std::shared_ptr<boost::asio::ssl::context> tls_context;
  TlsVerify tls_verify = TlsVerify::kFull;
  std::string tls_server_name;
};

// A status for a request that never left the client (connection closed or
// out of stream ids): always safe to send again elsewhere.
absl::Status NotSentError(absl::StatusCode code, absl::string_view message);
bool IsNotSent(const absl::Status& status);

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  using Callback = std::function<void(absl::StatusOr<codec::Response>)>;

  // TCP connect, the TLS handshake when configured, STARTUP, SASL PLAIN authentication if the server asks, USE
  // keyspace. Blocks up to options.connect_timeout.
  static absl::StatusOr<std::shared_ptr<Connection>> Open(boost::asio::io_context& io,
                                                          const HostPort& host,
                                                          const ConnectionOptions& options);
  ~Connection();

  // Sends a request frame; `cb` runs once on the I/O thread with the decoded
  // answer (an ERROR answer is a Response with `error` set).
  void Send(uint8_t opcode, std::string body, Callback cb);
  // Send and wait up to `timeout`.
  absl::StatusOr<codec::Response> Call(uint8_t opcode, std::string body, absl::Duration timeout);

  bool alive() const { return alive_.load(std::memory_order_acquire); }
  const HostPort& host() const { return host_; }
  // Closes the socket and fails every request in flight with `why`.
  void Close(absl::Status why);

  Connection(boost::asio::io_context& io, HostPort host, const ConnectionOptions& options);

 private:
  absl::Status Connect(absl::Duration timeout);
  // After the TCP connect, on the strand: the TLS handshake if configured,
  // then reading starts; `done` gets the outcome.
  void StartSession(std::function<void(absl::Status)> done);
  template <typename Buffers, typename Handler>
  void AsyncWrite(const Buffers& buffers, Handler&& handler);
  template <typename Buffers, typename Handler>
  void AsyncReadSome(const Buffers& buffers, Handler&& handler);
  absl::Status Handshake(absl::Time deadline);
  void DoSend(std::string frame, Callback cb);
  void StartWrite();
  void StartRead();
  void OnRead(const boost::system::error_code& ec, size_t n);
  void Fail(absl::Status why);

  // Fixed at construction.
  const HostPort host_;
  const ConnectionOptions options_;
  boost::asio::strand<boost::asio::io_context::executor_type> strand_;

  // Touched only on the strand (the I/O thread).
  boost::asio::ip::tcp::socket socket_;
  // Over socket_ when TLS is on; declared after it, so destroyed first.
  std::unique_ptr<boost::asio::ssl::stream<boost::asio::ip::tcp::socket&>> tls_;
  std::vector<Callback> slots_;  // by stream id
  std::vector<int16_t> free_streams_;
  std::deque<std::string> queue_;
  std::vector<std::string> writing_;
  bool write_in_progress_ = false;
  std::vector<char> rbuf_;
  size_t rlen_ = 0;

  std::atomic<bool> alive_{false};
  std::atomic<int> consecutive_timeouts_{0};
};

}  // namespace dts::cql
