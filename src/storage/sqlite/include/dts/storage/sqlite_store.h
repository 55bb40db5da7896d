#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "dts/storage/store.h"

namespace dts::storage {

namespace sqlite_internal {
enum class StoreSql : int;
template <typename Sql>
class Connection;
class Checkpointer;
}  // namespace sqlite_internal

// The embedded deployment's Store: one SQLite file, `<data_dir>/dts.db`, in
// WAL mode. One writer connection and a few reader connections, each behind
// its own mutex, with their statements prepared once at Open, and one
// background thread that checkpoints the WAL. Thread-safe.
// Several processes may open the same file (e.g. `dts migrate` next to a
// running server); writes then wait for each other up to the busy timeout.
//
// Durability: synchronous=NORMAL. A committed write survives a crash of the
// process; after a power loss or kernel crash the last commits may be lost,
// but the file stays consistent.
class SqliteStore final : public Store {
 public:
  struct Options {
    // Connections for reads (Get*, List*), so reads do not queue behind
    // writes; WAL lets them run while the writer commits.
    int read_connections = 2;
    // How long a statement waits for a lock held by another connection or
    // process before failing with UNAVAILABLE.
    absl::Duration busy_timeout = absl::Milliseconds(5000);
    // The jobs.shard column holds ShardOf(job id, shard_count).
    int shard_count = 64;
  };

  // Creates `data_dir` (mode 0700) if missing, opens or creates
  // `<data_dir>/dts.db`, and applies pending migrations. Errors:
  // FAILED_PRECONDITION if data_dir is not a directory or the file is not a
  // writable SQLite database or has a newer schema than this binary,
  // PERMISSION_DENIED if it cannot be created, DATA_LOSS if it is corrupt,
  // UNAVAILABLE if it cannot be opened or is locked past the busy timeout.
  static absl::StatusOr<std::unique_ptr<SqliteStore>> Open(const std::string& data_dir);
  static absl::StatusOr<std::unique_ptr<SqliteStore>> Open(const std::string& data_dir,
                                                           const Options& options);

  ~SqliteStore() override;
  SqliteStore(const SqliteStore&) = delete;
  SqliteStore& operator=(const SqliteStore&) = delete;

  // Applies the migrations embedded in this binary that the database has not
  // recorded yet, and returns their versions ("001_init") in order. Open
  // already does this, so on an open store it normally returns nothing.
  absl::StatusOr<std::vector<std::string>> Migrate();

  // `<data_dir>/dts.db`.
  const std::string& path() const { return path_; }

  // Stable across processes and versions: FNV-1a (64-bit) of the id, mod
  // shard_count.
  static int64_t ShardOf(const JobId& id, int shard_count);

  absl::Status CreateJob(const Job& job) override;
  absl::StatusOr<Job> GetJob(const JobId& id) override;
  absl::StatusOr<JobPage> ListJobs(const ListJobsQuery& query) override;
  absl::Status UpdateJob(const Job& job) override;
  absl::Status DeleteJob(const JobId& id) override;

  absl::Status CreateRun(const Run& run) override;
  absl::StatusOr<Run> GetRun(const RunId& id) override;
  absl::StatusOr<RunPage> ListRuns(const ListRunsQuery& query) override;
  absl::Status UpdateRun(const Run& run) override;
  absl::Status UpdateRuns(const std::vector<Run>& runs) override;
  absl::StatusOr<std::vector<bool>> RecordFires(const std::vector<FireRecord>& fires) override;
  absl::StatusOr<int64_t> PruneRuns(int keep_last, absl::Time keep_after) override;

 private:
  using Connection = sqlite_internal::Connection<sqlite_internal::StoreSql>;

  // A connection is single-threaded (opened NOMUTEX); its mutex is the only
  // way to it.
  struct Slot {
    absl::Mutex mu;
    std::unique_ptr<Connection> conn ABSL_GUARDED_BY(mu);
  };

  SqliteStore(std::string path, const Options& options);

  // Runs `read(Connection&)` on an idle reader connection (waiting for one
  // if all are busy), or on the writer if there are no readers.
  template <typename F>
  auto WithReader(F&& read);
  // Reads a job on the writer connection (the caller holds writer_.mu).
  absl::StatusOr<std::optional<Job>> ReadJobLocked(Connection& conn, const std::string& id);
  // The caller holds writer_.mu and a write transaction.
  absl::Status UpdateRunLocked(Connection& conn, const Run& run, absl::string_view data);
  // Stores one fire's run (false: it was already stored, or its job is gone)
  // and moves its job's schedule.
  absl::StatusOr<bool> RecordFireLocked(Connection& conn, const FireRecord& fire,
                                        absl::string_view data);

  const std::string path_;
  const Options options_;
  Slot writer_;
  // Fixed after Open; each slot's connection is guarded by its own mutex.
  std::vector<std::unique_ptr<Slot>> readers_;
  std::atomic<uint32_t> next_reader_{0};
  // Checkpoints the WAL in the background; hooked into the writer.
  std::unique_ptr<sqlite_internal::Checkpointer> checkpointer_;
};

// `dts migrate --backend sqlite`: creates the data dir and database if
// needed, applies pending migrations and returns the versions applied (empty
// if the database was up to date). Errors as for SqliteStore::Open.
absl::StatusOr<std::vector<std::string>> MigrateSqlite(const std::string& data_dir);

}  // namespace dts::storage
