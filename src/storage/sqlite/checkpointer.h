#pragma once

#include <memory>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "storage/sqlite/sqlite_util.h"

namespace dts::storage::sqlite_internal {

// Moves WAL checkpoints off the write path. By default SQLite checkpoints
// inside the commit that pushes the WAL past 1000 pages, and a checkpoint
// fsyncs the WAL and the database: on ordinary disks that is most of the
// cost of a create. Attached to the writer connection, this replaces that
// with a PASSIVE checkpoint on a thread and connection of its own, which
// never blocks the writer or the readers. If the thread falls far behind,
// the writer checkpoints inline again, so the WAL stays bounded.
class Checkpointer {
 public:
  // WAL size (pages) at which the thread is woken: SQLite's own default.
  static constexpr int kWakePages = 1000;
  // WAL size at which the committing writer checkpoints itself.
  static constexpr int kInlinePages = 20000;

  static absl::StatusOr<std::unique_ptr<Checkpointer>> Create(const std::string& path,
                                                             absl::Duration busy_timeout);
  // Stops and joins the thread. Detach it from the writer first.
  ~Checkpointer();
  Checkpointer(const Checkpointer&) = delete;
  Checkpointer& operator=(const Checkpointer&) = delete;

  // Installs this as `writer`'s WAL hook (replacing auto-checkpointing).
  void Attach(sqlite3* writer);
  static void Detach(sqlite3* writer);

 private:
  explicit Checkpointer(DbPtr db);
  static int OnCommit(void* self, sqlite3* db, const char* schema, int wal_pages);
  void Request();
  bool Ready() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Loop();

  DbPtr db_;  // used only by thread_
  absl::Mutex mu_;
  bool requested_ ABSL_GUARDED_BY(mu_) = false;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace dts::storage::sqlite_internal
