#include "connection.h"

#include <cstring>
#include <utility>

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "dts/cql/error.h"
#include "tls.h"

namespace dts::cql {
namespace asio = boost::asio;
using asio::ip::tcp;

namespace {
constexpr absl::string_view kNotSentUrl = "type.dts.dev/cql.NotSent";
constexpr size_t kReadChunk = 64 * 1024;

struct CallState {
  absl::Notification done;
  absl::StatusOr<codec::Response> result{absl::UnknownError("no answer")};
};
}  // namespace

absl::Status NotSentError(absl::StatusCode code, absl::string_view message) {
  absl::Status s(code, message);
  s.SetPayload(kNotSentUrl, absl::Cord("1"));
  return s;
}

bool IsNotSent(const absl::Status& status) { return status.GetPayload(kNotSentUrl).has_value(); }

Connection::Connection(asio::io_context& io, HostPort host, const ConnectionOptions& options)
    : host_(std::move(host)), options_(options), strand_(asio::make_strand(io)), socket_(strand_) {
  if (options_.tls_context != nullptr) {
    tls_ = std::make_unique<asio::ssl::stream<tcp::socket&>>(socket_, *options_.tls_context);
  }
  const int n = std::clamp(options_.max_streams, 1, 32768);
  slots_.resize(static_cast<size_t>(n));
  free_streams_.reserve(static_cast<size_t>(n));
  for (int i = n - 1; i >= 0; --i) free_streams_.push_back(static_cast<int16_t>(i));
}

Connection::~Connection() {
  boost::system::error_code ec;
  socket_.close(ec);
}

absl::StatusOr<std::shared_ptr<Connection>> Connection::Open(asio::io_context& io,
                                                             const HostPort& host,
                                                             const ConnectionOptions& options) {
  const absl::Time deadline = absl::Now() + options.connect_timeout;
  auto conn = std::make_shared<Connection>(io, host, options);
  if (absl::Status s = conn->Connect(options.connect_timeout); !s.ok()) return s;
  if (absl::Status s = conn->Handshake(deadline); !s.ok()) {
    conn->Close(s);
    return s;
  }
  return conn;
}

absl::Status Connection::Connect(absl::Duration timeout) {
  tcp::resolver resolver(strand_);
  boost::system::error_code ec;
  auto endpoints = resolver.resolve(host_.host, std::to_string(host_.port), ec);
  if (ec) {
    return absl::UnavailableError(absl::StrCat("cannot resolve ", host_.ToString(), ": ", ec.message()));
  }
  auto done = std::make_shared<absl::Notification>();
  auto result = std::make_shared<absl::Status>();
  auto self = shared_from_this();
  auto finish = [done, result](absl::Status s) {
    *result = std::move(s);
    done->Notify();
  };
  asio::post(strand_, [self, endpoints, finish] {
    asio::async_connect(
        self->socket_, endpoints,
        asio::bind_executor(self->strand_, [self, finish](const boost::system::error_code& e,
                                                          const tcp::endpoint&) {
          if (e) {
            finish(absl::UnavailableError(
                absl::StrCat("cannot connect to ", self->host_.ToString(), ": ", e.message())));
            return;
          }
          boost::system::error_code ignored;
          self->socket_.set_option(tcp::no_delay(true), ignored);
          self->StartSession(finish);
        }));
  });
  if (!done->WaitForNotificationWithTimeout(timeout)) {
    asio::post(strand_, [self] {
      boost::system::error_code ignored;
      self->socket_.close(ignored);
    });
    done->WaitForNotification();  // the aborted handler still runs
    Close(absl::DeadlineExceededError("connect timeout"));
    return absl::UnavailableError(
        absl::StrCat("connect to ", host_.ToString(), " timed out after ", absl::FormatDuration(timeout)));
  }
  return *result;
}

void Connection::StartSession(std::function<void(absl::Status)> done) {
  auto begin = [this, done] {
    alive_.store(true, std::memory_order_release);
    StartRead();
    done(absl::OkStatus());
  };
  if (tls_ == nullptr) {
    begin();
    return;
  }
  const std::string& name = options_.tls_server_name.empty() ? host_.host : options_.tls_server_name;
  if (absl::Status s = PrepareTlsPeer(*tls_, options_.tls_verify, name); !s.ok()) {
    done(s);
    return;
  }
  tls_->async_handshake(
      asio::ssl::stream_base::client,
      asio::bind_executor(strand_, [self = shared_from_this(), begin, done](const boost::system::error_code& ec) {
        if (ec) {
          done(absl::UnavailableError(absl::StrCat("TLS handshake with ", self->host_.ToString(),
                                                   " failed: ", TlsHandshakeError(*self->tls_, ec))));
          return;
        }
        begin();
      }));
}

template <typename Buffers, typename Handler>
void Connection::AsyncWrite(const Buffers& buffers, Handler&& handler) {
  if (tls_ != nullptr) {
    asio::async_write(*tls_, buffers, std::forward<Handler>(handler));
  } else {
    asio::async_write(socket_, buffers, std::forward<Handler>(handler));
  }
}

template <typename Buffers, typename Handler>
void Connection::AsyncReadSome(const Buffers& buffers, Handler&& handler) {
  if (tls_ != nullptr) {
    tls_->async_read_some(buffers, std::forward<Handler>(handler));
  } else {
    socket_.async_read_some(buffers, std::forward<Handler>(handler));
  }
}

absl::Status Connection::Handshake(absl::Time deadline) {
  auto left = [&] { return std::max(deadline - absl::Now(), absl::ZeroDuration()); };
  auto resp = Call(codec::kStartup, codec::StartupBody(), left());
  if (!resp.ok()) return resp.status();
  if (resp->opcode == codec::kError) return resp->error;
  if (resp->opcode == codec::kAuthenticate) {
    if (options_.username.empty()) {
      return absl::UnauthenticatedError(absl::StrCat(host_.ToString(), " requires authentication (",
                                                     resp->authenticator, ") but no credentials were given"));
    }
    resp = Call(codec::kAuthResponse,
                codec::AuthResponseBody(codec::PlainToken(options_.username, options_.password)), left());
    if (!resp.ok()) return resp.status();
    if (resp->opcode == codec::kError) return resp->error;
    if (resp->opcode == codec::kAuthChallenge) {
      // SASL PLAIN is one round; a challenge means another mechanism.
      return absl::UnauthenticatedError("server sent an AUTH_CHALLENGE; only SASL PLAIN is supported");
    }
    if (resp->opcode != codec::kAuthSuccess) {
      return absl::InternalError(absl::StrCat("unexpected opcode ", static_cast<int>(resp->opcode), " during authentication"));
    }
  } else if (resp->opcode != codec::kReady) {
    return absl::InternalError(absl::StrCat("unexpected opcode ", static_cast<int>(resp->opcode), " after STARTUP"));
  }
  if (!options_.keyspace.empty()) {
    Statement use(absl::StrCat("USE \"", options_.keyspace, "\""));
    use.page_size = 0;
    auto body = codec::QueryBody(use, nullptr);
    if (!body.ok()) return body.status();
    resp = Call(codec::kQuery, *std::move(body), left());
    if (!resp.ok()) return resp.status();
    if (resp->opcode == codec::kError) return resp->error;
  }
  return absl::OkStatus();
}

void Connection::Send(uint8_t opcode, std::string body, Callback cb) {
  if (!alive()) {
    cb(NotSentError(absl::StatusCode::kUnavailable,
                    absl::StrCat("connection to ", host_.ToString(), " is closed")));
    return;
  }
  std::string frame = codec::EncodeFrame(opcode, 0, body);
  asio::post(strand_, [self = shared_from_this(), frame = std::move(frame), cb = std::move(cb)]() mutable {
    self->DoSend(std::move(frame), std::move(cb));
  });
}

void Connection::DoSend(std::string frame, Callback cb) {
  if (!alive()) {
    cb(NotSentError(absl::StatusCode::kUnavailable,
                    absl::StrCat("connection to ", host_.ToString(), " is closed")));
    return;
  }
  if (free_streams_.empty()) {
    cb(NotSentError(absl::StatusCode::kResourceExhausted,
                    absl::StrCat("all ", slots_.size(), " streams to ", host_.ToString(), " are busy")));
    return;
  }
  const int16_t stream = free_streams_.back();
  free_streams_.pop_back();
  slots_[static_cast<size_t>(stream)] = std::move(cb);
  codec::SetStream(&frame, stream);
  queue_.push_back(std::move(frame));
  if (!write_in_progress_) StartWrite();
}

void Connection::StartWrite() {
  write_in_progress_ = true;
  writing_.clear();
  std::vector<asio::const_buffer> buffers;
  while (!queue_.empty() && writing_.size() < 256) {
    writing_.push_back(std::move(queue_.front()));
    queue_.pop_front();
  }
  buffers.reserve(writing_.size());
  if (tls_ != nullptr && writing_.size() > 1) {
    // One TLS record per batch rather than one per frame.
    std::string joined;
    for (const auto& f : writing_) joined += f;
    writing_.assign(1, std::move(joined));
  }
  for (const auto& f : writing_) buffers.emplace_back(asio::buffer(f));
  AsyncWrite(buffers,
                    asio::bind_executor(strand_, [self = shared_from_this()](
                                                     const boost::system::error_code& ec, size_t) {
                      self->write_in_progress_ = false;
                      self->writing_.clear();
                      if (ec) {
                        self->Fail(absl::UnavailableError(absl::StrCat(
                            "write to ", self->host_.ToString(), " failed: ", ec.message())));
                        return;
                      }
                      if (!self->queue_.empty()) self->StartWrite();
                    }));
}

void Connection::StartRead() {
  if (rbuf_.size() < rlen_ + kReadChunk) rbuf_.resize(rlen_ + kReadChunk);
  AsyncReadSome(
      asio::buffer(rbuf_.data() + rlen_, rbuf_.size() - rlen_),
      asio::bind_executor(strand_, [self = shared_from_this()](const boost::system::error_code& ec,
                                                               size_t n) { self->OnRead(ec, n); }));
}

void Connection::OnRead(const boost::system::error_code& ec, size_t n) {
  if (ec) {
    Fail(absl::UnavailableError(absl::StrCat("connection to ", host_.ToString(), " lost: ",
                                             ec == asio::error::eof ? "closed by server" : ec.message())));
    return;
  }
  rlen_ += n;
  size_t off = 0;
  while (rlen_ - off >= codec::kHeaderSize) {
    auto header = codec::DecodeHeader(absl::string_view(rbuf_.data() + off, codec::kHeaderSize),
                                      options_.max_frame_body);
    if (!header.ok()) {
      Fail(absl::InternalError(absl::StrCat("protocol error from ", host_.ToString(), ": ",
                                            header.status().message())));
      return;
    }
    const size_t total = codec::kHeaderSize + header->length;
    if (rlen_ - off < total) {
      if (rbuf_.size() - off < total) {
        // Make room for the whole frame (after moving it to the front).
        std::memmove(rbuf_.data(), rbuf_.data() + off, rlen_ - off);
        rlen_ -= off;
        off = 0;
        rbuf_.resize(total + kReadChunk);
      }
      break;
    }
    const absl::string_view body(rbuf_.data() + off + codec::kHeaderSize, header->length);
    off += total;
    const int16_t stream = header->stream;
    if (stream < 0 || static_cast<size_t>(stream) >= slots_.size() || !slots_[static_cast<size_t>(stream)]) {
      continue;  // an EVENT, or the answer to nothing we sent
    }
    Callback cb = std::move(slots_[static_cast<size_t>(stream)]);
    slots_[static_cast<size_t>(stream)] = nullptr;
    free_streams_.push_back(stream);
    consecutive_timeouts_.store(0, std::memory_order_relaxed);
    auto resp = codec::DecodeResponse(*header, body);
    if (!resp.ok()) {
      cb(absl::InternalError(absl::StrCat("bad answer from ", host_.ToString(), ": ", resp.status().message())));
    } else {
      cb(*std::move(resp));
    }
  }
  if (off > 0) {
    std::memmove(rbuf_.data(), rbuf_.data() + off, rlen_ - off);
    rlen_ -= off;
  }
  if (rbuf_.size() > 4 * kReadChunk && rlen_ == 0) {
    rbuf_.resize(kReadChunk);  // give back the room a large frame needed
    rbuf_.shrink_to_fit();
  }
  StartRead();
}

void Connection::Fail(absl::Status why) {
  const bool was_alive = alive_.exchange(false, std::memory_order_acq_rel);
  boost::system::error_code ignored;
  socket_.close(ignored);
  queue_.clear();
  for (size_t i = 0; i < slots_.size(); ++i) {
    if (slots_[i]) {
      Callback cb = std::move(slots_[i]);
      slots_[i] = nullptr;
      free_streams_.push_back(static_cast<int16_t>(i));
      cb(why);
    }
  }
  (void)was_alive;
}

void Connection::Close(absl::Status why) {
  alive_.store(false, std::memory_order_release);
  asio::post(strand_, [self = shared_from_this(), why = std::move(why)] { self->Fail(why); });
}

absl::StatusOr<codec::Response> Connection::Call(uint8_t opcode, std::string body, absl::Duration timeout) {
  auto state = std::make_shared<CallState>();
  Send(opcode, std::move(body), [state](absl::StatusOr<codec::Response> r) {
    state->result = std::move(r);
    state->done.Notify();
  });
  if (!state->done.WaitForNotificationWithTimeout(timeout)) {
    if (consecutive_timeouts_.fetch_add(1) + 1 >= options_.max_consecutive_timeouts) {
      Close(absl::UnavailableError(absl::StrCat("connection to ", host_.ToString(), " closed after ",
                                                options_.max_consecutive_timeouts,
                                                " requests in a row timed out")));
    }
    return absl::DeadlineExceededError(absl::StrCat("no answer from ", host_.ToString(), " within ",
                                                    absl::FormatDuration(timeout)));
  }
  return std::move(state->result);
}

}  // namespace dts::cql
