#include <sqlite3.h>

#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "storage/sqlite/migrations.h"
#include "storage/sqlite/sqlite_util.h"

namespace dts::storage::sqlite_internal {
namespace {

absl::StatusOr<std::set<std::string>> AppliedVersions(sqlite3* db) {
  sqlite3_stmt* raw = nullptr;
  int rc = sqlite3_prepare_v2(db, "SELECT version FROM schema_migrations", -1, &raw, nullptr);
  StmtPtr stmt(raw);
  if (rc != SQLITE_OK) return SqliteError(rc, db, "migrate: read schema_migrations");
  std::set<std::string> versions;
  while ((rc = sqlite3_step(stmt.get())) == SQLITE_ROW) {
    const unsigned char* text = sqlite3_column_text(stmt.get(), 0);
    if (text != nullptr) versions.emplace(reinterpret_cast<const char*>(text));
  }
  if (rc != SQLITE_DONE) return SqliteError(rc, db, "migrate: read schema_migrations");
  return versions;
}

// Applies one migration and records it, in one transaction. Returns false if
// another connection recorded it first.
absl::StatusOr<bool> ApplyOne(sqlite3* db, const Migration& migration) {
  const std::string what = absl::StrCat("migration ", migration.version);
  // IMMEDIATE takes the write lock up front, so two processes migrating at
  // once queue here (busy timeout) instead of failing halfway.
  if (absl::Status s = Exec(db, "BEGIN IMMEDIATE", what); !s.ok()) return s;
  auto rollback = [db] { sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr); };

  absl::StatusOr<std::set<std::string>> applied = AppliedVersions(db);
  if (!applied.ok()) {
    rollback();
    return applied.status();
  }
  if (applied->count(migration.version) > 0) {
    rollback();
    return false;
  }
  if (absl::Status s = Exec(db, migration.sql, what); !s.ok()) {
    rollback();
    return s;
  }
  sqlite3_stmt* raw = nullptr;
  int rc = sqlite3_prepare_v2(db,
                              "INSERT INTO schema_migrations (version, applied_at) "
                              "VALUES (?1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))",
                              -1, &raw, nullptr);
  StmtPtr stmt(raw);
  if (rc == SQLITE_OK) {
    BindText(stmt.get(), 1, migration.version);
    rc = sqlite3_step(stmt.get());
  }
  if (rc != SQLITE_DONE) {
    absl::Status s = SqliteError(rc, db, absl::StrCat(what, ": record"));
    rollback();
    return s;
  }
  stmt.reset();
  if (absl::Status s = Exec(db, "COMMIT", what); !s.ok()) {
    rollback();
    return s;
  }
  return true;
}

}  // namespace

absl::StatusOr<std::vector<std::string>> ApplyMigrations(sqlite3* db,
                                                         const std::vector<Migration>& migrations) {
  std::vector<const Migration*> ordered;
  ordered.reserve(migrations.size());
  for (const Migration& m : migrations) ordered.push_back(&m);
  std::sort(ordered.begin(), ordered.end(),
            [](const Migration* a, const Migration* b) { return a->version < b->version; });
  for (size_t i = 1; i < ordered.size(); ++i) {
    if (ordered[i - 1]->version == ordered[i]->version) {
      return absl::InternalError(
          absl::StrCat("migrate: version ", ordered[i]->version, " appears twice"));
    }
  }

  // The bookkeeping table is not a migration itself: it must exist before
  // we can ask which migrations ran.
  if (absl::Status s = Exec(db,
                            "CREATE TABLE IF NOT EXISTS schema_migrations ("
                            "version TEXT NOT NULL PRIMARY KEY, applied_at TEXT NOT NULL)",
                            "migrate: create schema_migrations");
      !s.ok()) {
    return s;
  }

  absl::StatusOr<std::set<std::string>> applied = AppliedVersions(db);
  if (!applied.ok()) return applied.status();
  // A version we do not know means a newer dts migrated this file; running
  // old code on a newer schema could silently drop data, so refuse.
  for (const std::string& version : *applied) {
    bool known = std::any_of(ordered.begin(), ordered.end(),
                             [&](const Migration* m) { return m->version == version; });
    if (!known) {
      return absl::FailedPreconditionError(
          absl::StrCat("migrate: the database has migration ", version,
                       ", which this dts does not know; it was written by a newer version"));
    }
  }

  std::vector<std::string> newly_applied;
  for (const Migration* m : ordered) {
    if (applied->count(m->version) > 0) continue;
    absl::StatusOr<bool> done = ApplyOne(db, *m);
    if (!done.ok()) return done.status();
    if (*done) newly_applied.push_back(m->version);
  }
  return newly_applied;
}

}  // namespace dts::storage::sqlite_internal
