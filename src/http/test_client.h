#pragma once

// A small blocking HTTP client for the server tests. Every operation has a
// generous deadline so that a server bug fails a test instead of hanging it;
// the deadline is never part of what a test asserts.

#include <chrono>
#include <string>
#include <string_view>
#include <system_error>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>

namespace dts::http::testing {

using ClientResponse = boost::beast::http::response<boost::beast::http::string_body>;

class TestClient {
 public:
  explicit TestClient(int port, std::string_view host = "127.0.0.1") : stream_(ioc_) {
    namespace asio = boost::asio;
    asio::ip::tcp::endpoint endpoint(asio::ip::make_address(std::string(host)),
                                     static_cast<unsigned short>(port));
    boost::system::error_code ec;
    stream_.expires_after(kDeadline);
    stream_.async_connect(endpoint, [&](boost::system::error_code e) { ec = e; });
    Run();
    if (ec) throw std::system_error(ec, "connect");
  }

  void Send(std::string_view raw) {
    boost::system::error_code ec;
    stream_.expires_after(kDeadline);
    boost::asio::async_write(stream_, boost::asio::buffer(raw.data(), raw.size()),
                             [&](boost::system::error_code e, size_t) { ec = e; });
    Run();
    if (ec) throw std::system_error(ec, "send");
  }

  // Reads one response; `head` for the answer to a HEAD request.
  ClientResponse Read(bool head = false) {
    boost::beast::http::response_parser<boost::beast::http::string_body> parser;
    parser.body_limit(boost::none);
    parser.skip(head);
    boost::system::error_code ec;
    stream_.expires_after(kDeadline);
    boost::beast::http::async_read(stream_, buffer_, parser,
                                   [&](boost::system::error_code e, size_t) { ec = e; });
    Run();
    if (ec) throw std::system_error(ec, "read response");
    return parser.release();
  }

  ClientResponse Get(std::string_view target, std::string_view extra_headers = "") {
    Send(std::string("GET ").append(target).append(" HTTP/1.1\r\nHost: test\r\n")
             .append(extra_headers).append("\r\n"));
    return Read();
  }

  // True when the server has closed the connection: the next read ends (EOF
  // or reset) instead of returning bytes. Waits until one of them happens.
  bool Closed() {
    if (buffer_.size() > 0) return false;
    boost::system::error_code ec;
    size_t n = 0;
    stream_.expires_after(kDeadline);
    stream_.async_read_some(buffer_.prepare(4096), [&](boost::system::error_code e, size_t bytes) {
      ec = e;
      n = bytes;
    });
    Run();
    buffer_.commit(n);
    return ec == boost::asio::error::eof || ec == boost::asio::error::connection_reset;
  }

 private:
  static constexpr std::chrono::seconds kDeadline{20};

  void Run() {
    ioc_.restart();
    ioc_.run();
  }

  boost::asio::io_context ioc_;
  boost::beast::tcp_stream stream_;
  boost::beast::flat_buffer buffer_;
};

}  // namespace dts::http::testing
