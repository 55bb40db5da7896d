#pragma once
// TLS for the CQL connections: one client context built from TlsOptions and
// the per-connection peer checks. Private to dts_cql.

#include <memory>
#include <string>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "dts/cql/client.h"

namespace dts::cql {

// Reads and checks the files of `tls` (the CA bundle, the client certificate
// chain and its key) into a TLS 1.2+ client context. INVALID_ARGUMENT naming
// the option and the file on any failure.
absl::StatusOr<std::shared_ptr<boost::asio::ssl::context>> MakeTlsContext(const TlsOptions& tls);

// Configures one connection before its handshake: SNI, and the checks that
// `verify` asks for against `name` (a DNS name or an IP literal).
absl::Status PrepareTlsPeer(boost::asio::ssl::stream<boost::asio::ip::tcp::socket&>& stream,
                            TlsVerify verify, const std::string& name);

// Why a handshake failed, with the certificate check's verdict when that was
// the cause ("certificate verify failed: Hostname mismatch").
std::string TlsHandshakeError(boost::asio::ssl::stream<boost::asio::ip::tcp::socket&>& stream,
                              const boost::system::error_code& ec);

}  // namespace dts::cql
