#include "storage/sqlite/sqlite_util.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <string>

#include "absl/strings/str_cat.h"

namespace dts::storage::sqlite_internal {

absl::Status SqliteError(int rc, sqlite3* db, absl::string_view what) {
  // sqlite3_errmsg describes the most recent failure on `db`, which is `rc`
  // as long as the caller asks right away; fall back to the generic text.
  const char* detail = db != nullptr && sqlite3_errcode(db) != SQLITE_OK ? sqlite3_errmsg(db)
                                                                         : sqlite3_errstr(rc);
  std::string message = absl::StrCat(what, ": ", detail, " (", sqlite3_errstr(rc), ")");
  // For file errors SQLite's text is generic ("unable to open database
  // file"); the OS error says why.
  const int sys_errno = db != nullptr ? sqlite3_system_errno(db) : 0;
  const int primary = rc & 0xff;
  const bool file_error = primary == SQLITE_CANTOPEN || primary == SQLITE_IOERR ||
                          primary == SQLITE_READONLY || primary == SQLITE_PERM;
  if (file_error && sys_errno != 0) {
    absl::StrAppend(&message, ": ", std::strerror(sys_errno));
    if (sys_errno == EACCES || sys_errno == EPERM) return absl::PermissionDeniedError(message);
  }
  switch (primary) {
    case SQLITE_CONSTRAINT:
      if (rc == SQLITE_CONSTRAINT_PRIMARYKEY || rc == SQLITE_CONSTRAINT_UNIQUE) {
        return absl::AlreadyExistsError(message);
      }
      return absl::InternalError(message);
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_IOERR:
    case SQLITE_FULL:
    case SQLITE_CANTOPEN:
    case SQLITE_PROTOCOL:
      return absl::UnavailableError(message);
    case SQLITE_CORRUPT:
      return absl::DataLossError(message);
    case SQLITE_NOTADB:
    case SQLITE_READONLY:
      return absl::FailedPreconditionError(message);
    case SQLITE_PERM:
    case SQLITE_AUTH:
      return absl::PermissionDeniedError(message);
    default:
      return absl::InternalError(message);
  }
}

absl::Status Exec(sqlite3* db, const std::string& sql, absl::string_view what) {
  int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) return SqliteError(rc, db, what);
  return absl::OkStatus();
}

absl::Status EnsureDataDir(const std::string& dir) {
  if (dir.empty()) return absl::InvalidArgumentError("data dir: empty path");
  struct stat st;
  if (stat(dir.c_str(), &st) == 0) {
    if (!S_ISDIR(st.st_mode)) {
      return absl::FailedPreconditionError(
          absl::StrCat("data dir ", dir, ": exists and is not a directory"));
    }
    // Checked here because SQLite's own error would be a bare "unable to
    // open database file": WAL mode creates dts.db-wal and dts.db-shm beside
    // the database, so the directory must be writable even if dts.db is.
    if (access(dir.c_str(), W_OK | X_OK) != 0) {
      return absl::ErrnoToStatus(errno, absl::StrCat("data dir ", dir, ": not writable"));
    }
    return absl::OkStatus();
  }
  if (errno != ENOENT) {
    return absl::ErrnoToStatus(errno, absl::StrCat("data dir ", dir));
  }
  std::filesystem::path parent = std::filesystem::path(dir).parent_path();
  if (!parent.empty() && parent != std::filesystem::path(dir)) {
    if (absl::Status s = EnsureDataDir(parent.string()); !s.ok()) return s;
  }
  if (mkdir(dir.c_str(), 0700) != 0) {
    // Someone else may have created it in between; that is fine if it is a
    // directory.
    if (errno == EEXIST) return EnsureDataDir(dir);
    return absl::ErrnoToStatus(errno, absl::StrCat("data dir ", dir, ": mkdir"));
  }
  // mkdir's mode is filtered by the umask; the database may hold secrets
  // (executor env, headers), so make it exactly owner-only.
  if (chmod(dir.c_str(), 0700) != 0) {
    return absl::ErrnoToStatus(errno, absl::StrCat("data dir ", dir, ": chmod"));
  }
  return absl::OkStatus();
}

absl::StatusOr<DbPtr> OpenConnection(const std::string& path, absl::Duration busy_timeout) {
  sqlite3* raw = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &raw,
                           SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                           nullptr);
  // sqlite3_open_v2 hands out a handle even on failure, to carry the message.
  DbPtr db(raw);
  if (rc != SQLITE_OK) return SqliteError(rc, db.get(), absl::StrCat("open ", path));
  sqlite3_extended_result_codes(db.get(), 1);
  sqlite3_busy_timeout(db.get(), static_cast<int>(std::clamp<int64_t>(
                                     absl::ToInt64Milliseconds(busy_timeout), 0, INT_MAX)));

  // Opening is lazy: this is the first statement that reads the file, so it
  // is where a corrupt file or a file that is not a database shows up.
  // synchronous=NORMAL in WAL mode: a commit is durable against a process
  // crash (it is in the WAL in the OS page cache) but the last commits before
  // a power loss or kernel crash may be lost; the WAL is fsynced only at
  // checkpoints. The database itself never ends up corrupt.
  if (absl::Status s = Exec(db.get(),
                            "PRAGMA foreign_keys = ON;"
                            "PRAGMA synchronous = NORMAL;"
                            // A WAL that grew under load is cut back to this
                            // size (64 MiB) once checkpointed.
                            "PRAGMA journal_size_limit = 67108864;"
                            // 32 MiB of page cache per connection (default
                            // 2 MiB): the run and job indexes of a busy
                            // server stay in memory instead of being re-read.
                            "PRAGMA cache_size = -32768;"
                            "SELECT count(*) FROM sqlite_schema;",
                            absl::StrCat("open ", path));
      !s.ok()) {
    return s;
  }
  // A write-protected file is silently opened read-only; say so now rather
  // than on the first write.
  if (sqlite3_db_readonly(db.get(), "main") == 1) {
    return absl::FailedPreconditionError(absl::StrCat("open ", path, ": database is read-only"));
  }
  // WAL lets readers run alongside the one writer and makes a commit one
  // sequential append. The mode is stored in the file; asking again is a
  // no-op. Some file systems (no shared memory) refuse it: fail rather than
  // run with a rollback journal behind the caller's back.
  {
    sqlite3_stmt* raw_stmt = nullptr;
    rc = sqlite3_prepare_v2(db.get(), "PRAGMA journal_mode = WAL", -1, &raw_stmt, nullptr);
    StmtPtr stmt(raw_stmt);
    if (rc == SQLITE_OK) rc = sqlite3_step(stmt.get());
    if (rc != SQLITE_ROW) return SqliteError(rc, db.get(), absl::StrCat("open ", path, ": WAL"));
    const char* mode = reinterpret_cast<const char*>(sqlite3_column_text(stmt.get(), 0));
    if (mode == nullptr || absl::string_view(mode) != "wal") {
      return absl::FailedPreconditionError(absl::StrCat(
          "open ", path, ": cannot use WAL mode (journal mode is ", mode ? mode : "unknown", ")"));
    }
  }
  return db;
}

}  // namespace dts::storage::sqlite_internal
