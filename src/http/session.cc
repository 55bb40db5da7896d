#include "session.h"

#include <array>
#include <exception>
#include <utility>
#include <vector>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/stream_base.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/bind_handler.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/read.hpp>

#include "absl/strings/str_cat.h"
#include "dts/http/errors.h"
#include "target.h"

namespace dts::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;

namespace {

// After an error response the client may still be sending the rejected body.
// Closing with unread bytes makes the kernel send RST, which can destroy the
// response before the client reads it, so we read and discard for a while.
constexpr std::chrono::seconds kLingerTimeout{2};
constexpr size_t kLingerMaxBytes = 1 << 20;
constexpr size_t kDrainChunk = 16 << 10;
// Request bodies up to this size leave their buffer to the next request.
constexpr size_t kKeptBodyCapacity = 64 << 10;
constexpr std::string_view k100Continue = "HTTP/1.1 100 Continue\r\n\r\n";

std::string FormatEndpoint(const tcp::endpoint& endpoint) {
  const asio::ip::address ip = endpoint.address();
  if (ip.is_v6()) return absl::StrCat("[", ip.to_string(), "]:", endpoint.port());
  return absl::StrCat(ip.to_string(), ":", endpoint.port());
}

bool IsHttpParseError(const beast::error_code& ec) {
  return ec.category() == bhttp::make_error_code(bhttp::error::bad_method).category();
}

int Code(absl::StatusCode code) { return static_cast<int>(code); }

}  // namespace

bool SessionRegistry::Add(const std::shared_ptr<Session>& session) {
  absl::MutexLock lock(&mu_);
  if (closing_) return false;
  sessions_.emplace(session.get(), session);
  return true;
}

void SessionRegistry::Remove(Session* session) {
  absl::MutexLock lock(&mu_);
  sessions_.erase(session);
}

void SessionRegistry::StopAll() {
  std::vector<std::shared_ptr<Session>> live;
  {
    absl::MutexLock lock(&mu_);
    closing_ = true;
    live.reserve(sessions_.size());
    for (const auto& [ptr, weak] : sessions_) {
      if (auto session = weak.lock()) live.push_back(std::move(session));
    }
  }
  // Outside the lock: dropping the last reference runs ~Session -> Remove().
  for (const auto& session : live) session->Stop();
}

bool SessionRegistry::AwaitEmpty(absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  return mu_.AwaitWithTimeout(absl::Condition(this, &SessionRegistry::EmptyLocked), timeout);
}

Session::Session(tcp::socket socket, const SessionConfig& config, SessionRegistry* registry)
    : config_(config), registry_(registry) {
  if (config_.tls != nullptr) {
    stream_.emplace<TlsStream>(std::move(socket), *config_.tls);
  } else {
    stream_.emplace<beast::tcp_stream>(std::move(socket));
  }
  beast::error_code ec;
  tcp::endpoint peer = tcp().socket().remote_endpoint(ec);
  if (!ec) request_.remote_address = FormatEndpoint(peer);
  // Responses go out in one write each; Nagle would hold back the response
  // to a pipelined request until the previous one is acknowledged.
  tcp().socket().set_option(tcp::no_delay(true), ec);
}

Session::~Session() { registry_->Remove(this); }

beast::tcp_stream& Session::tcp() {
  if (auto* tls = std::get_if<TlsStream>(&stream_)) return beast::get_lowest_layer(*tls);
  return std::get<beast::tcp_stream>(stream_);
}

template <class F>
void Session::WithStream(F&& f) {
  if (auto* tls = std::get_if<TlsStream>(&stream_)) return f(*tls);
  f(std::get<beast::tcp_stream>(stream_));
}

void Session::Start() {
  asio::dispatch(tcp().get_executor(),
                 beast::bind_front_handler(config_.tls != nullptr ? &Session::Handshake
                                                                  : &Session::ReadHeader,
                                           shared_from_this()));
}

void Session::Stop() {
  asio::post(tcp().get_executor(), [self = shared_from_this()] { self->OnStop(); });
}

// Counts as reading: Stop() closes a connection still shaking hands, as it
// closes an idle one.
void Session::Handshake() {
  if (stop_requested_) return Close();
  state_ = State::kReading;
  tcp().expires_after(config_.idle_timeout);
  std::get<TlsStream>(stream_).async_handshake(
      asio::ssl::stream_base::server,
      beast::bind_front_handler(&Session::OnHandshake, shared_from_this()));
}

// A failed handshake (plaintext HTTP on the TLS port, an untrusted or missing
// client certificate, a scanner) is not logged: the client sees the TLS
// alert, and logging every probe would drown the log.
void Session::OnHandshake(error_code ec) {
  if (ec) return Close();
  ReadHeader();
}

void Session::OnStop() {
  stop_requested_ = true;
  // Busy: OnWrite() closes once the response in progress is out.
  if (state_ == State::kReading || state_ == State::kDraining) Close();
}

void Session::ReadHeader() {
  if (stop_requested_) return Close();
  parser_.emplace();
  parser_->header_limit(static_cast<std::uint32_t>(config_.max_header_bytes));
  parser_->body_limit(config_.max_body_bytes);
  // Hand the previous request's body buffer to the parser to fill again.
  request_.body.clear();
  if (request_.body.capacity() <= kKeptBodyCapacity) {
    parser_->get().body().swap(request_.body);
  } else {
    std::string().swap(request_.body);
  }
  state_ = State::kReading;
  tcp().expires_after(config_.idle_timeout);
  WithStream([this](auto& stream) {
    bhttp::async_read_header(stream, buffer_, *parser_,
                             beast::bind_front_handler(&Session::OnHeader, shared_from_this()));
  });
}

void Session::OnHeader(error_code ec, size_t /*bytes*/) {
  if (ec) return OnReadError(ec);
  // A request without a body (every GET) is complete after its header.
  if (parser_->is_done()) return Respond();
  const auto& message = parser_->get();
  if (message.version() >= 11 && beast::iequals(message[bhttp::field::expect], "100-continue")) {
    return WriteContinue();
  }
  ReadBody();
}

// The client waits for this before sending a large body (curl does above 1 KiB).
void Session::WriteContinue() {
  state_ = State::kBusy;
  tcp().expires_after(config_.idle_timeout);
  WithStream([this](auto& stream) {
    asio::async_write(stream, asio::buffer(k100Continue.data(), k100Continue.size()),
                      [self = shared_from_this()](error_code ec, size_t) {
                        if (ec || self->stop_requested_) return self->Close();
                        self->ReadBody();
                      });
  });
}

void Session::ReadBody() {
  state_ = State::kReading;
  tcp().expires_after(config_.idle_timeout);
  WithStream([this](auto& stream) {
    bhttp::async_read(stream, buffer_, *parser_,
                      beast::bind_front_handler(&Session::OnBody, shared_from_this()));
  });
}

void Session::OnBody(error_code ec, size_t /*bytes*/) {
  if (ec) return OnReadError(ec);
  Respond();
}

void Session::OnReadError(error_code ec) {
  state_ = State::kBusy;
  const Framing close{.keep_alive = false};
  if (ec == bhttp::error::body_limit) {
    return Write(JsonError(413, Code(absl::StatusCode::kResourceExhausted),
                           absl::StrCat("request body exceeds the limit of ",
                                        config_.max_body_bytes, " bytes")),
                 close);
  }
  if (ec == bhttp::error::header_limit) {
    return Write(JsonError(431, Code(absl::StatusCode::kResourceExhausted),
                           absl::StrCat("request header exceeds the limit of ",
                                        config_.max_header_bytes, " bytes")),
                 close);
  }
  // The peer closed between requests (end_of_stream) or mid-request
  // (partial_message): nobody is left to read an answer.
  if (ec == bhttp::error::end_of_stream || ec == bhttp::error::partial_message ||
      !IsHttpParseError(ec)) {
    return Close();  // also timeouts, resets, and Stop() cancelling the read
  }
  Write(JsonError(400, Code(absl::StatusCode::kInvalidArgument),
                  absl::StrCat("malformed HTTP request: ", ec.message())),
        close);
}

void Session::Respond() {
  state_ = State::kBusy;
  const auto& message = parser_->get();
  const Framing framing{.keep_alive = message.keep_alive() && !stop_requested_,
                        .http10_client = message.version() < 11,
                        .head_request = message.method() == bhttp::verb::head};
  Response response = FillRequest() ? Dispatch()
                                    : JsonError(400, Code(absl::StatusCode::kInvalidArgument),
                                                "malformed request target");
  Write(std::move(response), framing);
}

// Copies the parsed message into request_, reusing its strings' capacity.
bool Session::FillRequest() {
  auto& message = parser_->get();
  const auto method = message.method_string();
  request_.method.assign(method.data(), method.size());
  size_t n = 0;
  for (const auto& field : message) {
    if (n == request_.headers.size()) request_.headers.emplace_back();
    auto& [name, value] = request_.headers[n++];
    name.assign(field.name_string().data(), field.name_string().size());
    value.assign(field.value().data(), field.value().size());
  }
  request_.headers.resize(n);
  request_.body.swap(message.body());
  const auto target = message.target();
  return ParseTarget(absl::string_view(target.data(), target.size()), &request_.path,
                     &request_.query);
}

// The edge where handler exceptions stop: one bad request must not take the
// connection, let alone the server, down with it.
Response Session::Dispatch() {
  Response response;
  try {
    response = config_.router->Dispatch(request_);
  } catch (const std::exception& e) {
    Log(absl::StrCat(request_.method, " ", request_.path, ": handler threw: ", e.what()));
    return JsonError(500, Code(absl::StatusCode::kInternal), "internal error");
  } catch (...) {
    Log(absl::StrCat(request_.method, " ", request_.path, ": handler threw a non-exception"));
    return JsonError(500, Code(absl::StatusCode::kInternal), "internal error");
  }
  if (!IsValidHandlerStatus(response.status)) {
    Log(absl::StrCat(request_.method, " ", request_.path, ": handler returned HTTP status ",
                     response.status));
    return JsonError(500, Code(absl::StatusCode::kInternal), "internal error");
  }
  return response;
}

void Session::Write(Response response, const Framing& framing) {
  head_.clear();
  int dropped = 0;
  AppendResponseHead(response, framing, config_.server_header, &head_, &dropped);
  if (dropped > 0) {
    Log(absl::StrCat(request_.method, " ", request_.path, ": dropped ", dropped,
                     " invalid or server-owned response header(s)"));
  }
  const bool send_body = !framing.head_request && StatusAllowsBody(response.status);
  body_ = std::move(response.body);
  const std::array<asio::const_buffer, 2> buffers{
      asio::buffer(head_), send_body ? asio::buffer(body_) : asio::const_buffer()};
  tcp().expires_after(config_.idle_timeout);
  WithStream([this, &buffers, keep_alive = framing.keep_alive](auto& stream) {
    asio::async_write(stream, buffers,
                      beast::bind_front_handler(&Session::OnWrite, shared_from_this(),
                                                keep_alive));
  });
}

void Session::OnWrite(bool keep_alive, error_code ec, size_t /*bytes*/) {
  if (ec || stop_requested_) return Close();
  if (!keep_alive) return LingerClose();
  ReadHeader();
}

void Session::LingerClose() {
  state_ = State::kDraining;
  if (auto* tls = std::get_if<TlsStream>(&stream_)) {
    // TLS: send close_notify and wait (bounded) for the peer's. Unread
    // application data cannot be skipped below the TLS layer, so a client
    // still sending a rejected body may see a reset instead of the error.
    tcp().expires_after(kLingerTimeout);
    tls->async_shutdown(beast::bind_front_handler(&Session::OnTlsShutdown, shared_from_this()));
    return;
  }
  beast::error_code ec;
  tcp().socket().shutdown(tcp::socket::shutdown_send, ec);
  if (ec) return Close();
  drained_ = 0;
  tcp().expires_after(kLingerTimeout);
  Drain();
}

void Session::OnTlsShutdown(error_code /*ec*/) {
  // Whether the peer answered close_notify or just closed, we are done.
  Close();
}

void Session::Drain() {
  buffer_.clear();
  tcp().async_read_some(buffer_.prepare(kDrainChunk),
                        beast::bind_front_handler(&Session::OnDrain, shared_from_this()));
}

void Session::OnDrain(error_code ec, size_t bytes) {
  drained_ += bytes;
  if (ec || drained_ > kLingerMaxBytes) return Close();
  Drain();
}

void Session::Close() {
  if (state_ == State::kClosed) return;
  state_ = State::kClosed;
  // Closing the TCP layer, TLS or not: cancels the pending operation and the
  // timer. A TLS connection gets its close_notify only in LingerClose(), as
  // waiting for one here would hold idle or timed-out connections open.
  tcp().close();
}

void Session::Log(absl::string_view message) const {
  if (config_.log_error) config_.log_error(message);
}

}  // namespace dts::http
