#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/time/time.h"
#include "dts/cql/value.h"

namespace dts::cql {

enum class Consistency : uint16_t {
  kAny = 0x0000,
  kOne = 0x0001,
  kTwo = 0x0002,
  kThree = 0x0003,
  kQuorum = 0x0004,
  kAll = 0x0005,
  kLocalQuorum = 0x0006,
  kEachQuorum = 0x0007,
  kSerial = 0x0008,
  kLocalSerial = 0x0009,
  kLocalOne = 0x000A,
};

// One CQL statement with its bound values ('?' markers, in order).
struct Statement {
  std::string query;
  std::vector<Value> values;
  Consistency consistency = Consistency::kLocalQuorum;
  // For lightweight transactions (IF ...): kSerial or kLocalSerial.
  std::optional<Consistency> serial_consistency;
  // Rows per page (<= 0: the server's default, no paging).
  int32_t page_size = 5000;
  // Resume after the page that returned this state (Result::paging_state).
  std::string paging_state;
  // Client-side write timestamp (microseconds since epoch), if any.
  std::optional<int64_t> timestamp_micros;
  // Safe to send more than once: only then does the client retry it after a
  // timeout, an overloaded/unavailable error or a lost connection.
  bool idempotent = false;
  // Per-request timeout; unset means ClientOptions::request_timeout.
  std::optional<absl::Duration> timeout;

  Statement() = default;
  explicit Statement(std::string q, std::vector<Value> v = {})
      : query(std::move(q)), values(std::move(v)) {}
  Statement& WithConsistency(Consistency c) { consistency = c; return *this; }
  Statement& WithSerialConsistency(Consistency c) { serial_consistency = c; return *this; }
  Statement& WithPageSize(int32_t n) { page_size = n; return *this; }
  Statement& WithPagingState(std::string s) { paging_state = std::move(s); return *this; }
  Statement& Idempotent(bool v = true) { idempotent = v; return *this; }
  Statement& WithTimeout(absl::Duration d) { timeout = d; return *this; }
};

enum class BatchType : uint8_t { kLogged = 0, kUnlogged = 1, kCounter = 2 };

// A BATCH of INSERT/UPDATE/DELETE statements. Entries with prepared=true are
// sent by prepared id (prepared through the client's cache).
struct Batch {
  struct Entry {
    std::string query;
    std::vector<Value> values;
    bool prepared = true;
  };
  BatchType type = BatchType::kLogged;
  std::vector<Entry> entries;
  Consistency consistency = Consistency::kLocalQuorum;
  std::optional<Consistency> serial_consistency;
  std::optional<int64_t> timestamp_micros;
  bool idempotent = false;
  std::optional<absl::Duration> timeout;

  Batch& Add(std::string query, std::vector<Value> values = {}, bool prepared = true) {
    entries.push_back({std::move(query), std::move(values), prepared});
    return *this;
  }
};

}  // namespace dts::cql
