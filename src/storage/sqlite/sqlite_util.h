#pragma once

// Thin RAII and error helpers over the SQLite C API, private to the backend.

#include <sqlite3.h>

#include <array>
#include <cstddef>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace dts::storage::sqlite_internal {

struct DbCloser {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
using DbPtr = std::unique_ptr<sqlite3, DbCloser>;

struct StmtFinalizer {
  void operator()(sqlite3_stmt* stmt) const { sqlite3_finalize(stmt); }
};
using StmtPtr = std::unique_ptr<sqlite3_stmt, StmtFinalizer>;

// Maps a SQLite result code to the Store error contract: ALREADY_EXISTS for a
// primary-key/unique violation, UNAVAILABLE for lock timeouts and I/O or
// disk-full conditions (the database cannot be used right now), DATA_LOSS for
// a corrupt file, FAILED_PRECONDITION for a file that is not a database or is
// read-only, INTERNAL otherwise. The message is "<what>: <sqlite message>".
absl::Status SqliteError(int rc, sqlite3* db, absl::string_view what);

// Runs one or more statements that return no rows we need.
absl::Status Exec(sqlite3* db, const std::string& sql, absl::string_view what);

// Creates `dir` (and missing parents) with mode 0700, or checks that an
// existing `dir` is a directory. Existing permissions are left alone.
absl::Status EnsureDataDir(const std::string& dir);

// Opens `path` read-write (creating it), with extended result codes, the busy
// timeout, foreign keys on and synchronous=NORMAL, and checks the file is a
// writable database. The caller owns the connection and must serialize its
// use (SQLITE_OPEN_NOMUTEX: we lock around it ourselves).
absl::StatusOr<DbPtr> OpenConnection(const std::string& path, absl::Duration busy_timeout);

// Resets a cached statement and drops its bindings when the scope ends, so it
// is ready for the next caller and holds no pointer into the caller's buffers
// (we bind with SQLITE_STATIC). Declare it after the bound buffers.
class StmtScope {
 public:
  explicit StmtScope(sqlite3_stmt* stmt) : stmt_(stmt) {}
  ~StmtScope() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
  StmtScope(const StmtScope&) = delete;
  StmtScope& operator=(const StmtScope&) = delete;

  sqlite3_stmt* get() const { return stmt_; }

 private:
  sqlite3_stmt* stmt_;
};

// Binds text without copying: the bytes must outlive the StmtScope.
inline int BindText(sqlite3_stmt* stmt, int index, absl::string_view text) {
  return sqlite3_bind_text(stmt, index, text.data(), static_cast<int>(text.size()), SQLITE_STATIC);
}
inline int BindBlob(sqlite3_stmt* stmt, int index, absl::string_view bytes) {
  return sqlite3_bind_blob(stmt, index, bytes.data(), static_cast<int>(bytes.size()),
                           SQLITE_STATIC);
}

// One connection and its prepared statements, indexed by an enum whose last
// enumerator is kCount. Statements are prepared once (SQLITE_PREPARE_PERSISTENT)
// when the connection is set up; SQLite re-prepares them itself if another
// connection changes the schema.
template <typename Sql>
class Connection {
 public:
  static constexpr size_t kCount = static_cast<size_t>(Sql::kCount);

  static absl::StatusOr<std::unique_ptr<Connection>> Create(
      DbPtr db, const std::array<const char*, kCount>& texts) {
    auto conn = std::unique_ptr<Connection>(new Connection(std::move(db)));
    for (size_t i = 0; i < kCount; ++i) {
      sqlite3_stmt* stmt = nullptr;
      int rc = sqlite3_prepare_v3(conn->db_.get(), texts[i], -1, SQLITE_PREPARE_PERSISTENT, &stmt,
                                  nullptr);
      if (rc != SQLITE_OK) {
        return SqliteError(rc, conn->db_.get(), std::string("prepare ") + texts[i]);
      }
      conn->stmts_[i].reset(stmt);
    }
    return conn;
  }

  sqlite3* db() const { return db_.get(); }
  sqlite3_stmt* stmt(Sql which) const { return stmts_[static_cast<size_t>(which)].get(); }

 private:
  explicit Connection(DbPtr db) : db_(std::move(db)) {}

  // Statements are declared after the handle so they are finalized first.
  DbPtr db_;
  std::array<StmtPtr, kCount> stmts_;
};

}  // namespace dts::storage::sqlite_internal
