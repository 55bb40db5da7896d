#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "dts/common/clock.h"
#include "dts/cql/error.h"
#include "dts/cql/result.h"
#include "dts/cql/statement.h"
#include "dts/cql/value.h"

namespace dts::cql {

struct HostPort {
  std::string host;  // an IP address or a name to resolve
  uint16_t port = 9042;
  std::string ToString() const;
  friend bool operator==(const HostPort&, const HostPort&) = default;
};

// Parses a CASSANDRA_HOSTS-style list: "h1:9042,h2, [::1]:9043". Hosts
// without a port get `default_port`. Empty entries are skipped; an empty list
// or a bad port is INVALID_ARGUMENT.
absl::StatusOr<std::vector<HostPort>> ParseHosts(absl::string_view list,
                                                 uint16_t default_port = 9042);

// Retries of idempotent statements after overloaded, unavailable,
// bootstrapping, read/write timeout errors, client timeouts and lost
// connections. Each retry goes to the next host, after a backoff that doubles
// from initial_backoff up to max_backoff.
struct RetryPolicy {
  int max_attempts = 3;  // in total, including the first
  absl::Duration initial_backoff = absl::Milliseconds(50);
  absl::Duration max_backoff = absl::Seconds(1);
};

// TLS to every node (Cassandra's client_encryption_options). Files are PEM.
enum class TlsVerify {
  kFull,  // the chain must lead to a trusted CA and name the host (SAN)
  kCa,    // the chain must lead to a trusted CA; any name
  kNone,  // no check at all: encryption without authentication of the node
};

struct TlsOptions {
  bool enabled = false;
  std::string ca_file;    // trusted CAs; empty: the system's default store
  std::string cert_file;  // client certificate chain, for require_client_auth
  std::string key_file;   // its private key (unencrypted)
  // Name checked against the certificate and sent as SNI; empty: each
  // host's own address as written in `hosts`.
  std::string server_name;
  TlsVerify verify = TlsVerify::kFull;
};

// "full", "ca" or "none" (CASSANDRA_TLS_VERIFY); INVALID_ARGUMENT otherwise.
absl::StatusOr<TlsVerify> ParseTlsVerify(absl::string_view text);

// What Client::Create checks of `tls` before connecting: every file reads
// and parses, and the key matches the certificate. INVALID_ARGUMENT naming
// the option (tls.ca_file, tls.cert_file, tls.key_file) and the file.
absl::Status CheckTlsOptions(const TlsOptions& tls);

struct ClientOptions {
  std::vector<HostPort> hosts;
  // Off by default. INVALID_ARGUMENT from Create() when a file cannot be
  // read or parsed, or the key does not match the certificate.
  TlsOptions tls;
  // PasswordAuthenticator credentials (SASL PLAIN); empty: no authentication.
  std::string username;
  std::string password;
  // Sent as USE on every new connection when set.
  std::string keyspace;
  absl::Duration connect_timeout = absl::Seconds(5);  // TCP + STARTUP + auth
  absl::Duration request_timeout = absl::Seconds(12);
  // A host whose connection failed is skipped for a backoff that doubles from
  // the initial value up to the maximum; a success resets it.
  absl::Duration reconnect_initial_backoff = absl::Milliseconds(100);
  absl::Duration reconnect_max_backoff = absl::Seconds(10);
  RetryPolicy retry;
  // Requests in flight per connection (stream ids), 1..32768.
  int max_streams_per_connection = 2048;
  // Largest frame body accepted from the server.
  uint32_t max_frame_body = 256u << 20;
  // Time source for reconnect backoff; nullptr means the real clock.
  const Clock* clock = nullptr;
};

struct ClientStats {
  uint64_t requests = 0;     // attempts sent to a server
  uint64_t retries = 0;      // re-sent after a retryable failure
  uint64_t reprepares = 0;   // PREPAREs after an UNPREPARED error
  uint64_t connects = 0;     // successful connections (incl. reconnects)
  uint64_t connect_failures = 0;
};

// A CQL native protocol v4 client over a pool of connections, one per host,
// each multiplexing many requests by stream id. Thread-safe: any number of
// threads may call it at once. Calls block the calling thread until the answer
// arrives or the timeout passes; the socket I/O runs on one internal thread.
class Client {
 public:
  // Connects to the first host that answers (STARTUP, authentication, USE).
  // UNAUTHENTICATED for missing or bad credentials, UNAVAILABLE when no host
  // can be reached, INVALID_ARGUMENT for bad options.
  static absl::StatusOr<std::unique_ptr<Client>> Create(ClientOptions options);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // A QUERY (not prepared). Returns one page; see Result::paging_state.
  absl::StatusOr<Result> Query(const Statement& statement);
  // PREPARE through the cache (by query string), then EXECUTE. One page.
  absl::StatusOr<Result> Execute(const Statement& statement);
  // All rows, fetching page after page (statement.page_size rows each).
  absl::StatusOr<std::vector<Row>> QueryAll(Statement statement);
  absl::StatusOr<std::vector<Row>> ExecuteAll(Statement statement);
  // A prepared lightweight transaction; serial consistency defaults to SERIAL.
  absl::StatusOr<LwtResult> ExecuteLwt(Statement statement);
  absl::StatusOr<Result> ExecuteBatch(const Batch& batch);
  // Prepares `query` (cached) and returns the bind markers' specs.
  absl::StatusOr<std::vector<ColumnSpec>> Prepare(absl::string_view query);
  // OPTIONS: the server's SUPPORTED map (CQL_VERSION, COMPRESSION, ...).
  absl::StatusOr<std::map<std::string, std::vector<std::string>>> Supported();

  ClientStats stats() const;

 private:
  class Impl;
  explicit Client(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace dts::cql
