#include "storage/sqlite/checkpointer.h"

#include <sqlite3.h>

#include <utility>

namespace dts::storage::sqlite_internal {

absl::StatusOr<std::unique_ptr<Checkpointer>> Checkpointer::Create(const std::string& path,
                                                                   absl::Duration busy_timeout) {
  absl::StatusOr<DbPtr> db = OpenConnection(path, busy_timeout);
  if (!db.ok()) return db.status();
  auto checkpointer = std::unique_ptr<Checkpointer>(new Checkpointer(*std::move(db)));
  checkpointer->thread_ = std::thread([c = checkpointer.get()] { c->Loop(); });
  return checkpointer;
}

Checkpointer::Checkpointer(DbPtr db) : db_(std::move(db)) {}

Checkpointer::~Checkpointer() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

void Checkpointer::Attach(sqlite3* writer) {
  sqlite3_wal_hook(writer, &Checkpointer::OnCommit, this);
}

void Checkpointer::Detach(sqlite3* writer) { sqlite3_wal_hook(writer, nullptr, nullptr); }

int Checkpointer::OnCommit(void* self, sqlite3* db, const char* schema, int wal_pages) {
  if (wal_pages >= kInlinePages) {
    // Best effort, like SQLite's own auto-checkpoint: a failure here does
    // not undo the commit that was just made.
    sqlite3_wal_checkpoint_v2(db, schema, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
  } else if (wal_pages >= kWakePages) {
    static_cast<Checkpointer*>(self)->Request();
  }
  return SQLITE_OK;
}

void Checkpointer::Request() {
  absl::MutexLock lock(&mu_);
  requested_ = true;
}

bool Checkpointer::Ready() const { return requested_ || stop_; }

void Checkpointer::Loop() {
  while (true) {
    {
      mu_.LockWhen(absl::Condition(this, &Checkpointer::Ready));
      const bool stop = stop_;
      requested_ = false;
      mu_.Unlock();
      if (stop) return;
    }
    // PASSIVE copies what it can without waiting for any lock; SQLITE_BUSY
    // (another checkpoint running) is normal, and the next request retries.
    sqlite3_wal_checkpoint_v2(db_.get(), "main", SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
  }
}

}  // namespace dts::storage::sqlite_internal
