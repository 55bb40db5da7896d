#include "dts/cql/client.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <thread>
#include <utility>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "codec.h"
#include "dts/metrics/metrics.h"
#include "connection.h"
#include "tls.h"

namespace dts::cql {
namespace asio = boost::asio;

std::string HostPort::ToString() const {
  if (host.find(':') != std::string::npos) return absl::StrCat("[", host, "]:", port);
  return absl::StrCat(host, ":", port);
}

absl::StatusOr<std::vector<HostPort>> ParseHosts(absl::string_view list, uint16_t default_port) {
  std::vector<HostPort> out;
  for (absl::string_view item : absl::StrSplit(list, ',')) {
    item = absl::StripAsciiWhitespace(item);
    if (item.empty()) continue;
    HostPort hp;
    hp.port = default_port;
    absl::string_view port_text;
    if (absl::ConsumePrefix(&item, "[")) {  // [v6]:port
      const size_t close = item.find(']');
      if (close == absl::string_view::npos) {
        return absl::InvalidArgumentError(absl::StrCat("bad host '[", item, "': missing ]"));
      }
      hp.host = std::string(item.substr(0, close));
      absl::string_view rest = item.substr(close + 1);
      if (!rest.empty()) {
        if (!absl::ConsumePrefix(&rest, ":")) {
          return absl::InvalidArgumentError(absl::StrCat("bad host '[", item, "'"));
        }
        port_text = rest;
      }
    } else if (std::count(item.begin(), item.end(), ':') == 1) {
      const size_t colon = item.find(':');
      hp.host = std::string(item.substr(0, colon));
      port_text = item.substr(colon + 1);
    } else {
      hp.host = std::string(item);  // a name, an IPv4 address or a bare IPv6 address
    }
    if (!port_text.empty() || absl::EndsWith(item, ":")) {
      uint32_t port = 0;
      if (!absl::SimpleAtoi(port_text, &port) || port == 0 || port > 65535) {
        return absl::InvalidArgumentError(absl::StrCat("bad port '", port_text, "' in '", item, "'"));
      }
      hp.port = static_cast<uint16_t>(port);
    }
    if (hp.host.empty()) return absl::InvalidArgumentError(absl::StrCat("empty host in '", item, "'"));
    out.push_back(std::move(hp));
  }
  if (out.empty()) return absl::InvalidArgumentError("no Cassandra hosts given");
  return out;
}

namespace {

bool RetryableServerError(const absl::Status& s) {
  auto code = CqlErrorCode(s);
  if (!code) return false;
  switch (static_cast<ErrorCode>(*code)) {
    case ErrorCode::kOverloaded:
    case ErrorCode::kUnavailable:
    case ErrorCode::kIsBootstrapping:
    case ErrorCode::kReadTimeout:
    case ErrorCode::kWriteTimeout:
      return true;
    default:
      return false;
  }
}

using Request = std::pair<uint8_t, std::string>;

}  // namespace

class Client::Impl {
 public:
  Impl(ClientOptions options, std::shared_ptr<asio::ssl::context> tls_context)
      : options_(std::move(options)),
        clock_(options_.clock != nullptr ? options_.clock : &real_clock_),
        work_(asio::make_work_guard(io_)) {
    conn_options_.username = options_.username;
    conn_options_.password = options_.password;
    conn_options_.keyspace = options_.keyspace;
    conn_options_.connect_timeout = options_.connect_timeout;
    conn_options_.max_streams = options_.max_streams_per_connection;
    conn_options_.max_frame_body = options_.max_frame_body;
    conn_options_.tls_context = std::move(tls_context);
    conn_options_.tls_verify = options_.tls.verify;
    conn_options_.tls_server_name = options_.tls.server_name;
    for (const HostPort& h : options_.hosts) {
      auto host = std::make_unique<Host>();
      host->addr = h;
      hosts_.push_back(std::move(host));
    }
  }

  ~Impl() {
    for (auto& h : hosts_) {
      absl::MutexLock lock(&h->mu);
      if (h->conn) h->conn->Close(absl::CancelledError("client shut down"));
      h->conn.reset();
    }
    work_.reset();
    if (thread_.joinable()) thread_.join();
  }

  absl::Status Start() {
    try {
      thread_ = std::thread([this] {
        try {
          io_.run();
        } catch (const std::exception&) {
          // Our handlers do not throw; nothing sensible is left to do here.
        }
      });
    } catch (const std::exception& e) {
      return absl::InternalError(absl::StrCat("cannot start the CQL I/O thread: ", e.what()));
    }
    // Connect to the first host that answers: fails fast on bad credentials.
    auto conn = Connect(0);
    if (!conn.ok()) return conn.status();
    return absl::OkStatus();
  }

  // dts_cassandra_request_duration_seconds{op} for each attempt, and
  // dts_cassandra_errors_total{op, code} for each one that failed.
  static void ObserveRequest(uint8_t opcode, std::chrono::steady_clock::time_point start,
                             const absl::Status& outcome) {
    // Opcodes are one byte: one series per opcode, found with one atomic load.
    static metrics::CodeCache<256> latency(&RequestLatency(), {});
    const std::string op = OpName(opcode);
    latency.For(opcode, op).Observe(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    if (!outcome.ok()) {
      RequestErrors().With({op, absl::StatusCodeToString(outcome.code())}).Increment();
    }
  }
  // A connection that could not be made (nothing was sent).
  static void CountConnectError(const absl::Status& status) {
    RequestErrors().With({"connect", absl::StatusCodeToString(status.code())}).Increment();
  }
  static metrics::Family<metrics::Histogram>& RequestLatency() {
    static metrics::Family<metrics::Histogram>& latency = metrics::DefaultRegistry().AddHistogram(
        "dts_cassandra_request_duration_seconds", "Cassandra request latency, by request kind.",
        {"op"});
    return latency;
  }
  static metrics::Family<metrics::Counter>& RequestErrors() {
    static metrics::Family<metrics::Counter>& errors = metrics::DefaultRegistry().AddCounter(
        "dts_cassandra_errors_total",
        "Cassandra requests that failed (each attempt; op \"connect\": no connection), by "
        "request kind and status code.",
        {"op", "code"});
    return errors;
  }

  static std::string OpName(uint8_t opcode) {
    switch (opcode) {
      case codec::kQuery: return "query";
      case codec::kExecute: return "execute";
      case codec::kBatch: return "batch";
      case codec::kPrepare: return "prepare";
      default: return absl::StrCat("opcode_", opcode);
    }
  }

  // Sends a request built by `build` (called again for each attempt, so it
  // sees re-prepared ids), applying failover, re-prepare and retries.
  absl::StatusOr<codec::Response> Run(const std::function<absl::StatusOr<Request>()>& build,
                                      bool idempotent, absl::Duration timeout) {
    const int max_attempts = std::max(1, options_.retry.max_attempts);
    int attempt = 0;
    int reprepares = 0;
    absl::Status last;
    while (true) {
      if (attempt > 0) {
        retries_.fetch_add(1, std::memory_order_relaxed);
        absl::SleepFor(Backoff(options_.retry.initial_backoff, options_.retry.max_backoff, attempt));
      }
      ++attempt;
      auto conn = Connect(next_.fetch_add(1, std::memory_order_relaxed));
      if (!conn.ok()) {
        CountConnectError(conn.status());
        if (conn.status().code() == absl::StatusCode::kUnauthenticated || attempt >= max_attempts) {
          return conn.status();
        }
        continue;  // nothing was sent: safe to try again
      }
      auto request = build();
      if (!request.ok()) return request.status();
      requests_.fetch_add(1, std::memory_order_relaxed);
      const uint8_t opcode = request->first;
      const auto start = std::chrono::steady_clock::now();
      auto resp = (*conn)->Call(opcode, std::move(request->second), timeout);
      ObserveRequest(opcode, start, resp.ok() ? (resp->opcode == codec::kError ? resp->error : absl::OkStatus())
                                              : resp.status());
      if (!resp.ok()) {
        last = resp.status();
        const bool retry = IsNotSent(last) ||
                           (idempotent && (last.code() == absl::StatusCode::kUnavailable ||
                                           last.code() == absl::StatusCode::kDeadlineExceeded));
        if (retry && attempt < max_attempts) continue;
        return last;
      }
      if (resp->opcode != codec::kError) return resp;
      last = resp->error;
      if (HasCqlError(last, ErrorCode::kUnprepared) && reprepares < 3) {
        ++reprepares;
        --attempt;  // re-preparing is not a retry of a failed attempt
        if (absl::Status s = Reprepare(**conn, resp->unprepared_id, timeout); !s.ok()) return s;
        continue;
      }
      if (idempotent && RetryableServerError(last) && attempt < max_attempts) continue;
      return last;
    }
  }

  absl::StatusOr<std::shared_ptr<const codec::Prepared>> GetPrepared(absl::string_view query,
                                                                     absl::Duration timeout) {
    {
      absl::MutexLock lock(&cache_mu_);
      auto it = by_query_.find(query);
      if (it != by_query_.end()) return it->second;
    }
    const std::string q(query);
    auto resp = Run([&]() -> absl::StatusOr<Request> { return Request{codec::kPrepare, codec::PrepareBody(q)}; },
                    /*idempotent=*/true, timeout);
    if (!resp.ok()) return resp.status();
    return Store(q, *std::move(resp));
  }

  absl::StatusOr<std::shared_ptr<const codec::Prepared>> Store(const std::string& query,
                                                               codec::Response resp) {
    if (resp.opcode != codec::kResult || resp.result.kind != ResultKind::kPrepared) {
      return absl::InternalError("PREPARE was not answered with a Prepared result");
    }
    auto p = std::make_shared<const codec::Prepared>(std::move(resp.prepared));
    absl::MutexLock lock(&cache_mu_);
    by_query_[query] = p;
    query_by_id_[p->id] = query;
    return p;
  }

  absl::Status Reprepare(Connection& conn, const std::string& id, absl::Duration timeout) {
    std::string query;
    {
      absl::MutexLock lock(&cache_mu_);
      auto it = query_by_id_.find(id);
      if (it == query_by_id_.end()) {
        return absl::InternalError("server asked to re-prepare a statement this client never prepared");
      }
      query = it->second;
    }
    reprepares_.fetch_add(1, std::memory_order_relaxed);
    auto resp = conn.Call(codec::kPrepare, codec::PrepareBody(query), timeout);
    if (!resp.ok()) return resp.status();
    if (resp->opcode == codec::kError) return resp->error;
    auto stored = Store(query, *std::move(resp));
    return stored.status();
  }

  absl::StatusOr<Result> ToResult(absl::StatusOr<codec::Response> resp) {
    if (!resp.ok()) return resp.status();
    if (resp->opcode != codec::kResult) {
      return absl::InternalError(absl::StrCat("expected a RESULT, got opcode ", static_cast<int>(resp->opcode)));
    }
    return std::move(resp->result);
  }

  absl::Duration TimeoutOf(const std::optional<absl::Duration>& t) const {
    return t ? *t : options_.request_timeout;
  }

  absl::StatusOr<Result> Query(const Statement& st) {
    return ToResult(Run(
        [&]() -> absl::StatusOr<Request> {
          auto body = codec::QueryBody(st, nullptr);
          if (!body.ok()) return body.status();
          return Request{codec::kQuery, *std::move(body)};
        },
        st.idempotent, TimeoutOf(st.timeout)));
  }

  absl::StatusOr<Result> Execute(const Statement& st) {
    const absl::Duration timeout = TimeoutOf(st.timeout);
    auto first = GetPrepared(st.query, timeout);
    if (!first.ok()) return first.status();
    return ToResult(Run(
        [&]() -> absl::StatusOr<Request> {
          auto p = GetPrepared(st.query, timeout);  // the newest, after a re-prepare
          if (!p.ok()) return p.status();
          auto body = codec::ExecuteBody((*p)->id, st, (*p)->bind_specs);
          if (!body.ok()) return body.status();
          return Request{codec::kExecute, *std::move(body)};
        },
        st.idempotent, timeout));
  }

  absl::StatusOr<Result> ExecuteBatch(const Batch& batch) {
    const absl::Duration timeout = TimeoutOf(batch.timeout);
    for (const auto& e : batch.entries) {
      if (!e.prepared) continue;
      if (auto p = GetPrepared(e.query, timeout); !p.ok()) return p.status();
    }
    return ToResult(Run(
        [&]() -> absl::StatusOr<Request> {
          std::vector<std::shared_ptr<const codec::Prepared>> keep;
          std::vector<codec::BatchItem> items;
          for (const auto& e : batch.entries) {
            codec::BatchItem it;
            it.prepared = e.prepared;
            it.values = &e.values;
            if (e.prepared) {
              auto p = GetPrepared(e.query, timeout);
              if (!p.ok()) return p.status();
              keep.push_back(*p);
              it.query_or_id = (*p)->id;
              it.bind_specs = &(*p)->bind_specs;
            } else {
              it.query_or_id = e.query;
            }
            items.push_back(std::move(it));
          }
          auto body = codec::BatchBody(batch, items);
          if (!body.ok()) return body.status();
          return Request{codec::kBatch, *std::move(body)};
        },
        batch.idempotent, timeout));
  }

  absl::StatusOr<std::map<std::string, std::vector<std::string>>> Supported() {
    auto resp = Run([]() -> absl::StatusOr<Request> { return Request{codec::kOptions, ""}; }, true,
                    options_.request_timeout);
    if (!resp.ok()) return resp.status();
    if (resp->opcode != codec::kSupported) return absl::InternalError("OPTIONS not answered by SUPPORTED");
    return std::move(resp->supported);
  }

  ClientStats stats() const {
    ClientStats s;
    s.requests = requests_.load();
    s.retries = retries_.load();
    s.reprepares = reprepares_.load();
    s.connects = connects_.load();
    s.connect_failures = connect_failures_.load();
    return s;
  }

 private:
  struct Host {
    HostPort addr;
    absl::Mutex mu;
    std::shared_ptr<Connection> conn ABSL_GUARDED_BY(mu);
    absl::Time next_attempt ABSL_GUARDED_BY(mu) = absl::InfinitePast();
    int failures ABSL_GUARDED_BY(mu) = 0;
    absl::Status last_error ABSL_GUARDED_BY(mu);
  };

  static absl::Duration Backoff(absl::Duration initial, absl::Duration max, int n) {
    absl::Duration d = initial;
    for (int i = 1; i < n && d < max; ++i) d *= 2;
    return std::min(d, max);
  }

  // A live connection, trying hosts in turn from `start`; reconnects a host
  // whose backoff has passed.
  absl::StatusOr<std::shared_ptr<Connection>> Connect(size_t start) {
    absl::Status last;
    absl::Status auth_error;
    for (size_t k = 0; k < hosts_.size(); ++k) {
      Host& h = *hosts_[(start + k) % hosts_.size()];
      absl::MutexLock lock(&h.mu);
      if (h.conn && h.conn->alive()) return h.conn;
      h.conn.reset();
      if (clock_->Now() < h.next_attempt) {
        last = absl::UnavailableError(absl::StrCat(h.addr.ToString(), " is down (", h.failures,
                                                   " failed connects; last: ", h.last_error.message(), ")"));
        continue;
      }
      auto conn = Connection::Open(io_, h.addr, conn_options_);
      if (conn.ok()) {
        connects_.fetch_add(1, std::memory_order_relaxed);
        h.failures = 0;
        h.next_attempt = absl::InfinitePast();
        h.conn = *conn;
        return h.conn;
      }
      connect_failures_.fetch_add(1, std::memory_order_relaxed);
      ++h.failures;
      h.last_error = conn.status();
      h.next_attempt = clock_->Now() + Backoff(options_.reconnect_initial_backoff,
                                              options_.reconnect_max_backoff, h.failures);
      last = conn.status();
      if (last.code() == absl::StatusCode::kUnauthenticated) auth_error = last;
    }
    if (!auth_error.ok()) return auth_error;
    return absl::UnavailableError(absl::StrCat("no Cassandra host available: ", last.message()));
  }

  const ClientOptions options_;
  RealClock real_clock_;
  const Clock* clock_;
  ConnectionOptions conn_options_;
  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  std::thread thread_;
  std::vector<std::unique_ptr<Host>> hosts_;
  std::atomic<size_t> next_{0};

  absl::Mutex cache_mu_;
  absl::flat_hash_map<std::string, std::shared_ptr<const codec::Prepared>> by_query_
      ABSL_GUARDED_BY(cache_mu_);
  absl::flat_hash_map<std::string, std::string> query_by_id_ ABSL_GUARDED_BY(cache_mu_);

  std::atomic<uint64_t> requests_{0}, retries_{0}, reprepares_{0}, connects_{0}, connect_failures_{0};
};

Client::Client(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {
  // Listed on /metrics from the start, before any request.
  Impl::RequestLatency();
  Impl::RequestErrors();
}
Client::~Client() = default;

absl::StatusOr<std::unique_ptr<Client>> Client::Create(ClientOptions options) {
  if (options.hosts.empty()) return absl::InvalidArgumentError("ClientOptions.hosts is empty");
  if (options.request_timeout <= absl::ZeroDuration() || options.connect_timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("timeouts must be positive");
  }
  if (options.max_streams_per_connection < 1 || options.max_streams_per_connection > 32768) {
    return absl::InvalidArgumentError("max_streams_per_connection must be in 1..32768");
  }
  std::shared_ptr<asio::ssl::context> tls_context;
  if (options.tls.enabled) {
    absl::StatusOr<std::shared_ptr<asio::ssl::context>> ctx = MakeTlsContext(options.tls);
    if (!ctx.ok()) return ctx.status();
    tls_context = *std::move(ctx);
  }
  try {
    auto impl = std::make_unique<Impl>(std::move(options), std::move(tls_context));
    if (absl::Status s = impl->Start(); !s.ok()) return s;
    return std::unique_ptr<Client>(new Client(std::move(impl)));
  } catch (const std::exception& e) {  // Boost.Asio or allocation failures
    return absl::InternalError(absl::StrCat("cannot create the CQL client: ", e.what()));
  }
}

namespace {

// The API boundary: Boost.Asio and the standard library may throw (allocation,
// thread or socket setup failures); nothing escapes as an exception.
template <typename Fn>
auto Guarded(Fn&& fn) -> decltype(fn()) {
  try {
    return fn();
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("CQL client failure: ", e.what()));
  }
}

}  // namespace

absl::StatusOr<Result> Client::Query(const Statement& statement) {
  return Guarded([&] { return impl_->Query(statement); });
}

absl::StatusOr<Result> Client::Execute(const Statement& statement) {
  return Guarded([&] { return impl_->Execute(statement); });
}

namespace {
absl::StatusOr<std::vector<Row>> AllPages(Statement st,
                                          const std::function<absl::StatusOr<Result>(const Statement&)>& run) {
  std::vector<Row> rows;
  while (true) {
    auto page = run(st);
    if (!page.ok()) return page.status();
    std::move(page->rows.begin(), page->rows.end(), std::back_inserter(rows));
    if (!page->has_more_pages || page->paging_state.empty()) return rows;
    st.paging_state = std::move(page->paging_state);
  }
}
}  // namespace

absl::StatusOr<std::vector<Row>> Client::QueryAll(Statement statement) {
  return Guarded([&] {
    return AllPages(std::move(statement), [this](const Statement& s) { return impl_->Query(s); });
  });
}

absl::StatusOr<std::vector<Row>> Client::ExecuteAll(Statement statement) {
  return Guarded([&] {
    return AllPages(std::move(statement), [this](const Statement& s) { return impl_->Execute(s); });
  });
}

absl::StatusOr<LwtResult> Client::ExecuteLwt(Statement statement) {
  if (!statement.serial_consistency) statement.serial_consistency = Consistency::kSerial;
  auto result = Guarded([&] { return impl_->Execute(statement); });
  if (!result.ok()) return result.status();
  return LwtResult::From(*result);
}

absl::StatusOr<Result> Client::ExecuteBatch(const Batch& batch) {
  return Guarded([&] { return impl_->ExecuteBatch(batch); });
}

absl::StatusOr<std::vector<ColumnSpec>> Client::Prepare(absl::string_view query) {
  return Guarded([&]() -> absl::StatusOr<std::vector<ColumnSpec>> {
    auto p = impl_->GetPrepared(query, impl_->TimeoutOf(std::nullopt));
    if (!p.ok()) return p.status();
    return (*p)->bind_specs;
  });
}

absl::StatusOr<std::map<std::string, std::vector<std::string>>> Client::Supported() {
  return Guarded([&] { return impl_->Supported(); });
}

ClientStats Client::stats() const { return impl_->stats(); }

}  // namespace dts::cql
