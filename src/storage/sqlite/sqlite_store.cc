#include "dts/storage/sqlite_store.h"

#include <sqlite3.h>

#include <array>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "dts/storage/shard.h"
#include "google/protobuf/util/time_util.h"
#include "storage/sqlite/checkpointer.h"
#include "storage/sqlite/migrations.h"
#include "storage/sqlite/sqlite_util.h"

namespace dts::storage {
namespace sqlite_internal {

enum class StoreSql : int {
  kBegin,
  kBeginImmediate,
  kCommit,
  kRollback,

  kInsertJob,
  kUpdateJob,
  kSelectJob,
  kDeleteJob,
  kDeleteRunsOfJob,
  kCountJobs,
  kCountJobsByStatus,
  kPageJobs,
  kPageJobsByStatus,

  kInsertRun,
  kUpdateRun,
  kSelectRun,
  // Four variants each, in this order: no filter, job, status, job + status
  // (see RunFilterOffset).
  kCountRuns,
  kCountRunsByJob,
  kCountRunsByStatus,
  kCountRunsByJobAndStatus,
  kPageRuns,
  kPageRunsByJob,
  kPageRunsByStatus,
  kPageRunsByJobAndStatus,

  kRecordFireRun,
  kRecordFireJob,
  kUpdateJobLastStatus,
  kPruneRuns,

  kCount
};

}  // namespace sqlite_internal

namespace {

using sqlite_internal::BindBlob;
using sqlite_internal::BindText;
using sqlite_internal::SqliteError;
using sqlite_internal::StmtScope;
using Sql = sqlite_internal::StoreSql;
using google::protobuf::util::TimeUtil;

constexpr size_t kSqlCount = static_cast<size_t>(Sql::kCount);
constexpr int kMaxPageSize = 1000;

// Separate statements per filter rather than `(?1 IS NULL OR status = ?1)`,
// which would keep the planner from using the (status, id) and (job_id, id)
// indexes. Every page query reads one row past the page to learn whether
// more follow. Parameter numbers are the same in every variant.
constexpr std::array<const char*, kSqlCount> kSqlTexts = [] {
  std::array<const char*, kSqlCount> t{};
  auto at = [&t](Sql s) -> const char*& { return t[static_cast<size_t>(s)]; };
  at(Sql::kBegin) = "BEGIN";
  at(Sql::kBeginImmediate) = "BEGIN IMMEDIATE";
  at(Sql::kCommit) = "COMMIT";
  at(Sql::kRollback) = "ROLLBACK";

  at(Sql::kInsertJob) =
      "INSERT INTO jobs (id, name, status, next_run, shard, created_at, updated_at, data) "
      "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)";
  // Leaves last_run and last_status alone: they belong to the engine.
  at(Sql::kUpdateJob) =
      "UPDATE jobs SET name = ?2, status = ?3, next_run = ?4, shard = ?5, created_at = ?6, "
      "updated_at = ?7, data = ?8 WHERE id = ?1";
  // Every job read selects these columns in this order (see kJobColumns).
  at(Sql::kSelectJob) =
      "SELECT data, id, status, next_run, last_run, last_status FROM jobs WHERE id = ?1";
  at(Sql::kDeleteJob) = "DELETE FROM jobs WHERE id = ?1";
  at(Sql::kDeleteRunsOfJob) = "DELETE FROM runs WHERE job_id = ?1";
  at(Sql::kCountJobs) = "SELECT count(*) FROM jobs";
  at(Sql::kCountJobsByStatus) = "SELECT count(*) FROM jobs WHERE status = ?2";
  at(Sql::kPageJobs) =
      "SELECT data, id, status, next_run, last_run, last_status FROM jobs "
      "WHERE id > ?3 ORDER BY id LIMIT ?4";
  at(Sql::kPageJobsByStatus) =
      "SELECT data, id, status, next_run, last_run, last_status FROM jobs "
      "WHERE status = ?2 AND id > ?3 ORDER BY id LIMIT ?4";

  at(Sql::kInsertRun) =
      "INSERT INTO runs (id, job_id, status, scheduled_time, created_at, data) "
      "VALUES (?1, ?2, ?3, ?4, ?5, ?6)";
  at(Sql::kUpdateRun) =
      "UPDATE runs SET job_id = ?2, status = ?3, scheduled_time = ?4, created_at = ?5, "
      "data = ?6 WHERE id = ?1";
  at(Sql::kSelectRun) = "SELECT data FROM runs WHERE id = ?1";
  at(Sql::kCountRuns) = "SELECT count(*) FROM runs";
  at(Sql::kCountRunsByJob) = "SELECT count(*) FROM runs WHERE job_id = ?1";
  at(Sql::kCountRunsByStatus) = "SELECT count(*) FROM runs WHERE status = ?2";
  at(Sql::kCountRunsByJobAndStatus) =
      "SELECT count(*) FROM runs WHERE job_id = ?1 AND status = ?2";
  at(Sql::kPageRuns) = "SELECT data, id FROM runs WHERE id > ?3 ORDER BY id LIMIT ?4";
  at(Sql::kPageRunsByJob) =
      "SELECT data, id FROM runs WHERE job_id = ?1 AND id > ?3 ORDER BY id LIMIT ?4";
  at(Sql::kPageRunsByStatus) =
      "SELECT data, id FROM runs WHERE status = ?2 AND id > ?3 ORDER BY id LIMIT ?4";
  at(Sql::kPageRunsByJobAndStatus) =
      "SELECT data, id FROM runs WHERE job_id = ?1 AND status = ?2 AND id > ?3 "
      "ORDER BY id LIMIT ?4";
  // A fire's run, stored only while its job exists and only once.
  at(Sql::kRecordFireRun) =
      "INSERT INTO runs (id, job_id, status, scheduled_time, created_at, data) "
      "SELECT ?1, ?2, ?3, ?4, ?5, ?6 WHERE EXISTS (SELECT 1 FROM jobs WHERE id = ?2) "
      "ON CONFLICT (id) DO NOTHING";
  // A fire's effect on its job. ?5 is the job's updated_at when the fire was
  // planned (NULL: do not check); when the job was edited since, its schedule
  // belongs to the new definition and only last_run/last_status change. ?4
  // and ?6 are NULL to leave last_status and status as they are.
  at(Sql::kRecordFireJob) =
      "UPDATE jobs SET "
      "next_run = CASE WHEN ?5 IS NULL OR updated_at = ?5 THEN ?2 ELSE next_run END, "
      "status = CASE WHEN ?6 IS NOT NULL AND (?5 IS NULL OR updated_at = ?5) THEN ?6 "
      "ELSE status END, "
      "last_run = ?3, last_status = coalesce(?4, last_status) WHERE id = ?1";
  // The job's last_status follows the run of its latest fire.
  at(Sql::kUpdateJobLastStatus) =
      "UPDATE jobs SET last_status = ?2 WHERE id = ?1 AND last_run = ?3 "
      "AND last_status IS NOT ?2";
  at(Sql::kPruneRuns) =
      "DELETE FROM runs WHERE created_at < ?2 AND status NOT IN ('PENDING', 'RUNNING', 'RETRYING') "
      "AND id IN (SELECT id FROM (SELECT id, row_number() OVER "
      "(PARTITION BY job_id ORDER BY created_at DESC, id DESC) AS n FROM runs) WHERE n > ?1)";
  return t;
}();

constexpr bool AllSqlDefined() {
  for (const char* text : kSqlTexts) {
    if (text == nullptr) return false;
  }
  return true;
}
static_assert(AllSqlDefined(), "every StoreSql needs its text in kSqlTexts");

// Parameter numbers shared by the list statements.
constexpr int kParamJobId = 1;
constexpr int kParamStatus = 2;
constexpr int kParamAfter = 3;
constexpr int kParamLimit = 4;

Sql RunVariant(Sql base, bool by_job, bool by_status) {
  return static_cast<Sql>(static_cast<int>(base) + (by_job ? 1 : 0) + (by_status ? 2 : 0));
}

// Collects bind results so a run of binds needs one check.
class Binder {
 public:
  explicit Binder(sqlite3_stmt* stmt) : stmt_(stmt) {}
  Binder& Text(int i, absl::string_view v) {
    if (rc_ == SQLITE_OK) rc_ = BindText(stmt_, i, v);
    return *this;
  }
  Binder& Blob(int i, absl::string_view v) {
    if (rc_ == SQLITE_OK) rc_ = BindBlob(stmt_, i, v);
    return *this;
  }
  Binder& Int64(int i, int64_t v) {
    if (rc_ == SQLITE_OK) rc_ = sqlite3_bind_int64(stmt_, i, v);
    return *this;
  }
  Binder& Null(int i) {
    if (rc_ == SQLITE_OK) rc_ = sqlite3_bind_null(stmt_, i);
    return *this;
  }
  int rc() const { return rc_; }

 private:
  sqlite3_stmt* stmt_;
  int rc_ = SQLITE_OK;
};

int64_t Micros(const google::protobuf::Timestamp& ts) {
  return TimeUtil::TimestampToMicroseconds(ts);
}

absl::string_view ColumnBytes(sqlite3_stmt* stmt, int col) {
  const void* data = sqlite3_column_blob(stmt, col);
  int size = sqlite3_column_bytes(stmt, col);
  if (data == nullptr || size <= 0) return {};
  return absl::string_view(static_cast<const char*>(data), static_cast<size_t>(size));
}

google::protobuf::Timestamp TimestampOfMicros(int64_t micros) {
  return TimeUtil::MicrosecondsToTimestamp(micros);
}

// Columns of every job read after `data, id` (see kSelectJob).
enum JobColumn : int { kJobStatus = 2, kJobNextRun, kJobLastRun, kJobLastStatus };

// The columns the engine writes win over the blob (002_job_fire_columns.sql).
void OverlayColumns(sqlite3_stmt* stmt, Job* job) {
  if (const unsigned char* status = sqlite3_column_text(stmt, kJobStatus)) {
    job->set_status(reinterpret_cast<const char*>(status));
  }
  if (sqlite3_column_type(stmt, kJobNextRun) == SQLITE_NULL) {
    job->clear_next_run();
  } else {
    *job->mutable_next_run() = TimestampOfMicros(sqlite3_column_int64(stmt, kJobNextRun));
  }
  if (sqlite3_column_type(stmt, kJobLastRun) != SQLITE_NULL) {
    *job->mutable_last_run() = TimestampOfMicros(sqlite3_column_int64(stmt, kJobLastRun));
  }
  if (const unsigned char* last = sqlite3_column_text(stmt, kJobLastStatus)) {
    job->set_last_status(reinterpret_cast<const char*>(last));
  }
}
void OverlayColumns(sqlite3_stmt* /*stmt*/, Run* /*run*/) {}

template <typename Msg>
absl::Status ParseRow(sqlite3_stmt* stmt, absl::string_view kind, Msg* out) {
  absl::string_view bytes = ColumnBytes(stmt, 0);
  if (!out->ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    const unsigned char* id = sqlite3_column_text(stmt, 1);
    return absl::DataLossError(absl::StrCat("sqlite: stored ", kind, " ",
                                            id ? reinterpret_cast<const char*>(id) : "?",
                                            " does not parse"));
  }
  OverlayColumns(stmt, out);
  return absl::OkStatus();
}

// Steps a statement that returns no rows.
absl::Status StepDone(sqlite3* db, sqlite3_stmt* stmt, absl::string_view what) {
  int rc = sqlite3_step(stmt);
  if (rc != SQLITE_DONE) return SqliteError(rc, db, what);
  return absl::OkStatus();
}

absl::Status RunSimple(sqlite3* db, sqlite3_stmt* stmt, absl::string_view what) {
  StmtScope scope(stmt);
  return StepDone(db, stmt, what);
}

absl::StatusOr<int64_t> StepCount(sqlite3* db, sqlite3_stmt* stmt, absl::string_view what) {
  int rc = sqlite3_step(stmt);
  if (rc != SQLITE_ROW) return SqliteError(rc, db, what);
  return sqlite3_column_int64(stmt, 0);
}

// Reads up to page_size rows of an already bound page query (which asks for
// page_size + 1) into `out`; returns whether more rows follow.
template <typename Msg>
absl::StatusOr<bool> StepPage(sqlite3* db, sqlite3_stmt* stmt, int page_size,
                              absl::string_view kind, std::vector<Msg>* out) {
  out->reserve(static_cast<size_t>(page_size));
  int rc;
  while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
    if (out->size() == static_cast<size_t>(page_size)) return true;
    if (absl::Status s = ParseRow(stmt, kind, &out->emplace_back()); !s.ok()) return s;
  }
  if (rc != SQLITE_DONE) return SqliteError(rc, db, absl::StrCat("list ", kind, "s"));
  return false;
}

absl::Status CheckPageSize(int page_size) {
  if (page_size < 1 || page_size > kMaxPageSize) {
    return absl::InvalidArgumentError(
        absl::StrCat("page_size must be between 1 and ", kMaxPageSize, ", got ", page_size));
  }
  return absl::OkStatus();
}

// Runs `body` inside a read transaction on `conn`, so that the several
// statements of one List see one snapshot: `total` and the page agree.
template <typename Conn, typename F>
auto InReadTransaction(Conn& conn, F&& body) -> decltype(body()) {
  if (absl::Status s = RunSimple(conn.db(), conn.stmt(Sql::kBegin), "begin"); !s.ok()) return s;
  auto result = body();
  // A read transaction has nothing to keep; COMMIT and ROLLBACK both just
  // end it, and ROLLBACK cannot fail for want of a lock.
  (void)RunSimple(conn.db(), conn.stmt(Sql::kRollback), "end read");
  return result;
}

// Binds the columns shared by the job INSERT and UPDATE statements.
absl::Status BindJob(sqlite3* db, sqlite3_stmt* stmt, const Job& job, int64_t shard,
                     absl::string_view data, absl::string_view what) {
  Binder bind(stmt);
  bind.Text(1, job.id()).Text(2, job.name()).Text(3, job.status());
  if (job.has_next_run()) {
    bind.Int64(4, Micros(job.next_run()));
  } else {
    bind.Null(4);
  }
  bind.Int64(5, shard)
      .Int64(6, Micros(job.created_at()))
      .Int64(7, Micros(job.updated_at()))
      .Blob(8, data);
  if (bind.rc() != SQLITE_OK) return SqliteError(bind.rc(), db, what);
  return absl::OkStatus();
}

// Reads the message stored under `id` by a `SELECT data ... WHERE id = ?1`
// statement; nullopt when there is none.
template <typename Msg, typename Conn>
absl::StatusOr<std::optional<Msg>> SelectById(Conn& conn, Sql sql, absl::string_view kind,
                                              const std::string& id) {
  sqlite3_stmt* stmt = conn.stmt(sql);
  StmtScope scope(stmt);
  if (int rc = BindText(stmt, 1, id); rc != SQLITE_OK) {
    return SqliteError(rc, conn.db(), absl::StrCat("get ", kind, ": bind"));
  }
  const int rc = sqlite3_step(stmt);
  if (rc == SQLITE_DONE) return std::optional<Msg>();
  if (rc != SQLITE_ROW) return SqliteError(rc, conn.db(), absl::StrCat("get ", kind, " ", id));
  Msg msg;
  if (absl::Status s = ParseRow(stmt, kind, &msg); !s.ok()) return s;
  return std::optional<Msg>(std::move(msg));
}

// SelectById for a Get: NOT_FOUND when there is none.
template <typename Msg, typename Conn>
absl::StatusOr<Msg> GetById(Conn& conn, Sql sql, absl::string_view kind, const std::string& id) {
  absl::StatusOr<std::optional<Msg>> found = SelectById<Msg>(conn, sql, kind, id);
  if (!found.ok()) return found.status();
  if (!found->has_value()) return absl::NotFoundError(absl::StrCat(kind, " ", id, " not found"));
  return **std::move(found);
}

// Runs `body` in a BEGIN IMMEDIATE transaction on the writer connection:
// committed when it returns OK, rolled back otherwise.
template <typename Conn, typename F>
absl::Status InWriteTransaction(Conn& conn, absl::string_view what, F&& body) {
  sqlite3* db = conn.db();
  if (absl::Status s = RunSimple(db, conn.stmt(Sql::kBeginImmediate), what); !s.ok()) return s;
  absl::Status s = body();
  if (s.ok()) s = RunSimple(db, conn.stmt(Sql::kCommit), what);
  if (!s.ok() && !sqlite3_get_autocommit(db)) {
    (void)RunSimple(db, conn.stmt(Sql::kRollback), what);
  }
  return s;
}

}  // namespace

SqliteStore::SqliteStore(std::string path, const Options& options)
    : path_(std::move(path)), options_(options) {}

SqliteStore::~SqliteStore() {
  if (checkpointer_ == nullptr) return;
  // The hook points at the checkpointer: unhook before it goes.
  absl::MutexLock lock(&writer_.mu);
  if (writer_.conn != nullptr) sqlite_internal::Checkpointer::Detach(writer_.conn->db());
  checkpointer_.reset();
}

int64_t SqliteStore::ShardOf(const JobId& id, int shard_count) {
  return storage::ShardOf(id, shard_count);  // shared with the Cassandra backend
}

absl::StatusOr<std::unique_ptr<SqliteStore>> SqliteStore::Open(const std::string& data_dir) {
  return Open(data_dir, Options());
}

absl::StatusOr<std::unique_ptr<SqliteStore>> SqliteStore::Open(const std::string& data_dir,
                                                               const Options& options) {
  if (options.read_connections < 0 || options.read_connections > 64) {
    return absl::InvalidArgumentError("sqlite: read_connections must be between 0 and 64");
  }
  if (options.shard_count < 1) {
    return absl::InvalidArgumentError("sqlite: shard_count must be at least 1");
  }
  if (options.busy_timeout < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("sqlite: busy_timeout must not be negative");
  }
  if (absl::Status s = sqlite_internal::EnsureDataDir(data_dir); !s.ok()) return s;
  std::string path = absl::StrCat(data_dir, "/dts.db");
  auto store = std::unique_ptr<SqliteStore>(new SqliteStore(path, options));

  absl::StatusOr<sqlite_internal::DbPtr> writer_db =
      sqlite_internal::OpenConnection(path, options.busy_timeout);
  if (!writer_db.ok()) return writer_db.status();
  // Migrate before preparing: the statements need the tables.
  absl::StatusOr<std::vector<std::string>> applied = sqlite_internal::ApplyMigrations(
      writer_db->get(), sqlite_internal::EmbeddedMigrations());
  if (!applied.ok()) return applied.status();
  absl::StatusOr<std::unique_ptr<Connection>> writer =
      Connection::Create(*std::move(writer_db), kSqlTexts);
  if (!writer.ok()) return writer.status();
  absl::StatusOr<std::unique_ptr<sqlite_internal::Checkpointer>> checkpointer =
      sqlite_internal::Checkpointer::Create(path, options.busy_timeout);
  if (!checkpointer.ok()) return checkpointer.status();
  store->checkpointer_ = *std::move(checkpointer);
  {
    absl::MutexLock lock(&store->writer_.mu);
    store->writer_.conn = *std::move(writer);
    store->checkpointer_->Attach(store->writer_.conn->db());
  }

  for (int i = 0; i < options.read_connections; ++i) {
    absl::StatusOr<sqlite_internal::DbPtr> db =
        sqlite_internal::OpenConnection(path, options.busy_timeout);
    if (!db.ok()) return db.status();
    // Readers never write; make a mistake there fail loudly.
    if (absl::Status s = sqlite_internal::Exec(db->get(), "PRAGMA query_only = ON",
                                               absl::StrCat("open ", path, ": reader"));
        !s.ok()) {
      return s;
    }
    absl::StatusOr<std::unique_ptr<Connection>> conn =
        Connection::Create(*std::move(db), kSqlTexts);
    if (!conn.ok()) return conn.status();
    auto slot = std::make_unique<Slot>();
    {
      absl::MutexLock lock(&slot->mu);
      slot->conn = *std::move(conn);
    }
    store->readers_.push_back(std::move(slot));
  }
  return store;
}

absl::StatusOr<std::vector<std::string>> SqliteStore::Migrate() {
  absl::MutexLock lock(&writer_.mu);
  return sqlite_internal::ApplyMigrations(writer_.conn->db(),
                                          sqlite_internal::EmbeddedMigrations());
}

template <typename F>
auto SqliteStore::WithReader(F&& read) {
  if (readers_.empty()) {
    absl::MutexLock lock(&writer_.mu);
    return read(*writer_.conn);
  }
  const size_t n = readers_.size();
  const size_t start = next_reader_.fetch_add(1, std::memory_order_relaxed);
  // Prefer an idle connection; queue on one only when all are busy.
  for (size_t i = 0; i < n; ++i) {
    Slot& slot = *readers_[(start + i) % n];
    if (slot.mu.TryLock()) {
      auto result = read(*slot.conn);
      slot.mu.Unlock();
      return result;
    }
  }
  Slot& slot = *readers_[start % n];
  absl::MutexLock lock(&slot.mu);
  return read(*slot.conn);
}

// ---- jobs ----

absl::Status SqliteStore::CreateJob(const Job& job) {
  if (job.id().empty()) return absl::InvalidArgumentError("create job: empty id");
  // Serialize outside the lock: it is the costliest part of a create.
  std::string data;
  if (!job.SerializeToString(&data)) return absl::InternalError("create job: serialize failed");
  const int64_t shard = ShardOf(JobId(job.id()), options_.shard_count);

  absl::MutexLock lock(&writer_.mu);
  Connection& conn = *writer_.conn;
  sqlite3_stmt* stmt = conn.stmt(Sql::kInsertJob);
  StmtScope scope(stmt);
  if (absl::Status b = BindJob(conn.db(), stmt, job, shard, data, "create job: bind"); !b.ok()) {
    return b;
  }
  absl::Status s = StepDone(conn.db(), stmt, absl::StrCat("create job ", job.id()));
  if (absl::IsAlreadyExists(s)) {
    return absl::AlreadyExistsError(absl::StrCat("job ", job.id(), " already exists"));
  }
  return s;
}

absl::StatusOr<Job> SqliteStore::GetJob(const JobId& id) {
  return WithReader([&](Connection& conn) { return GetById<Job>(conn, Sql::kSelectJob, "job", id.value()); });
}

absl::StatusOr<JobPage> SqliteStore::ListJobs(const ListJobsQuery& query) {
  if (absl::Status s = CheckPageSize(query.page_size); !s.ok()) return s;
  const bool by_status = query.status.has_value();
  return WithReader([&](Connection& conn) -> absl::StatusOr<JobPage> {
    return InReadTransaction(conn, [&]() -> absl::StatusOr<JobPage> {
      JobPage page;
      {
        sqlite3_stmt* stmt = conn.stmt(by_status ? Sql::kCountJobsByStatus : Sql::kCountJobs);
        StmtScope scope(stmt);
        Binder bind(stmt);
        if (by_status) bind.Text(kParamStatus, *query.status);
        if (bind.rc() != SQLITE_OK) return SqliteError(bind.rc(), conn.db(), "count jobs: bind");
        absl::StatusOr<int64_t> total = StepCount(conn.db(), stmt, "count jobs");
        if (!total.ok()) return total.status();
        page.total = *total;
      }
      sqlite3_stmt* stmt = conn.stmt(by_status ? Sql::kPageJobsByStatus : Sql::kPageJobs);
      StmtScope scope(stmt);
      Binder bind(stmt);
      if (by_status) bind.Text(kParamStatus, *query.status);
      bind.Text(kParamAfter, query.after_id).Int64(kParamLimit, query.page_size + 1);
      if (bind.rc() != SQLITE_OK) return SqliteError(bind.rc(), conn.db(), "list jobs: bind");
      absl::StatusOr<bool> more = StepPage(conn.db(), stmt, query.page_size, "job", &page.jobs);
      if (!more.ok()) return more.status();
      if (*more) page.next_page = page.jobs.back().id();
      return page;
    });
  });
}

absl::Status SqliteStore::UpdateJob(const Job& job_in) {
  if (job_in.id().empty()) return absl::InvalidArgumentError("update job: empty id");
  const int64_t shard = ShardOf(JobId(job_in.id()), options_.shard_count);

  absl::MutexLock lock(&writer_.mu);
  Connection& conn = *writer_.conn;
  const std::string what = absl::StrCat("update job ", job_in.id());
  return InWriteTransaction(conn, what, [&]() -> absl::Status {
    // last_run and last_status belong to the engine (RecordFires,
    // UpdateRun): keep the stored ones, so an API edit made from an older
    // read cannot move them back.
    absl::StatusOr<std::optional<Job>> stored = ReadJobLocked(conn, job_in.id());
    if (!stored.ok()) return stored.status();
    if (!stored->has_value()) return absl::NotFoundError(absl::StrCat("job ", job_in.id(), " not found"));
    Job job = job_in;
    if ((*stored)->has_last_run()) {
      *job.mutable_last_run() = (*stored)->last_run();
    } else {
      job.clear_last_run();
    }
    job.set_last_status((*stored)->last_status());
    std::string data;
    if (!job.SerializeToString(&data)) return absl::InternalError("update job: serialize failed");
    sqlite3_stmt* stmt = conn.stmt(Sql::kUpdateJob);
    StmtScope scope(stmt);
    if (absl::Status b = BindJob(conn.db(), stmt, job, shard, data, "update job: bind"); !b.ok()) {
      return b;
    }
    return StepDone(conn.db(), stmt, what);
  });
}

absl::StatusOr<std::optional<Job>> SqliteStore::ReadJobLocked(Connection& conn,
                                                              const std::string& id) {
  return SelectById<Job>(conn, Sql::kSelectJob, "job", id);
}

absl::Status SqliteStore::DeleteJob(const JobId& id) {
  absl::MutexLock lock(&writer_.mu);
  Connection& conn = *writer_.conn;
  sqlite3* db = conn.db();
  const std::string what = absl::StrCat("delete job ", id.value());
  // IMMEDIATE: take the write lock now, so a writer in another process
  // cannot invalidate our snapshot between the two deletes.
  if (absl::Status s = RunSimple(db, conn.stmt(Sql::kBeginImmediate), what); !s.ok()) return s;
  auto delete_both = [&]() -> absl::Status {
    {
      sqlite3_stmt* stmt = conn.stmt(Sql::kDeleteJob);
      StmtScope scope(stmt);
      if (int rc = BindText(stmt, 1, id.value()); rc != SQLITE_OK) {
        return SqliteError(rc, db, what);
      }
      if (absl::Status s = StepDone(db, stmt, what); !s.ok()) return s;
      if (sqlite3_changes(db) == 0) {
        return absl::NotFoundError(absl::StrCat("job ", id.value(), " not found"));
      }
    }
    sqlite3_stmt* stmt = conn.stmt(Sql::kDeleteRunsOfJob);
    StmtScope scope(stmt);
    if (int rc = BindText(stmt, 1, id.value()); rc != SQLITE_OK) return SqliteError(rc, db, what);
    return StepDone(db, stmt, absl::StrCat(what, ": runs"));
  };
  absl::Status s = delete_both();
  if (s.ok()) s = RunSimple(db, conn.stmt(Sql::kCommit), what);
  if (!s.ok() && !sqlite3_get_autocommit(db)) {
    (void)RunSimple(db, conn.stmt(Sql::kRollback), what);
  }
  return s;
}

// ---- runs ----

namespace {

absl::Status BindRun(sqlite3* db, sqlite3_stmt* stmt, const Run& run, absl::string_view data,
                     absl::string_view what) {
  Binder bind(stmt);
  bind.Text(1, run.id()).Text(2, run.job_id()).Text(3, run.status());
  if (run.has_scheduled_time()) {
    bind.Int64(4, Micros(run.scheduled_time()));
  } else {
    bind.Null(4);
  }
  bind.Int64(5, Micros(run.created_at())).Blob(6, data);
  if (bind.rc() != SQLITE_OK) return SqliteError(bind.rc(), db, what);
  return absl::OkStatus();
}

}  // namespace

absl::Status SqliteStore::CreateRun(const Run& run) {
  if (run.id().empty()) return absl::InvalidArgumentError("create run: empty id");
  std::string data;
  if (!run.SerializeToString(&data)) return absl::InternalError("create run: serialize failed");

  absl::MutexLock lock(&writer_.mu);
  Connection& conn = *writer_.conn;
  sqlite3_stmt* stmt = conn.stmt(Sql::kInsertRun);
  StmtScope scope(stmt);
  if (absl::Status s = BindRun(conn.db(), stmt, run, data, "create run: bind"); !s.ok()) return s;
  // The primary key is the whole no-double-run guarantee: a second insert of
  // the same id fails inside SQLite, whichever connection or process made it.
  absl::Status s = StepDone(conn.db(), stmt, absl::StrCat("create run ", run.id()));
  if (absl::IsAlreadyExists(s)) {
    return absl::AlreadyExistsError(absl::StrCat("run ", run.id(), " already exists"));
  }
  return s;
}

absl::StatusOr<Run> SqliteStore::GetRun(const RunId& id) {
  return WithReader([&](Connection& conn) { return GetById<Run>(conn, Sql::kSelectRun, "run", id.value()); });
}

absl::StatusOr<RunPage> SqliteStore::ListRuns(const ListRunsQuery& query) {
  if (absl::Status s = CheckPageSize(query.page_size); !s.ok()) return s;
  const bool by_job = query.job_id.has_value();
  const bool by_status = query.status.has_value();
  auto bind_filter = [&](Binder& bind) {
    if (by_job) bind.Text(kParamJobId, query.job_id->value());
    if (by_status) bind.Text(kParamStatus, *query.status);
  };
  return WithReader([&](Connection& conn) -> absl::StatusOr<RunPage> {
    return InReadTransaction(conn, [&]() -> absl::StatusOr<RunPage> {
      RunPage page;
      {
        sqlite3_stmt* stmt = conn.stmt(RunVariant(Sql::kCountRuns, by_job, by_status));
        StmtScope scope(stmt);
        Binder bind(stmt);
        bind_filter(bind);
        if (bind.rc() != SQLITE_OK) return SqliteError(bind.rc(), conn.db(), "count runs: bind");
        absl::StatusOr<int64_t> total = StepCount(conn.db(), stmt, "count runs");
        if (!total.ok()) return total.status();
        page.total = *total;
      }
      sqlite3_stmt* stmt = conn.stmt(RunVariant(Sql::kPageRuns, by_job, by_status));
      StmtScope scope(stmt);
      Binder bind(stmt);
      bind_filter(bind);
      bind.Text(kParamAfter, query.after_id).Int64(kParamLimit, query.page_size + 1);
      if (bind.rc() != SQLITE_OK) return SqliteError(bind.rc(), conn.db(), "list runs: bind");
      absl::StatusOr<bool> more = StepPage(conn.db(), stmt, query.page_size, "run", &page.runs);
      if (!more.ok()) return more.status();
      if (*more) page.next_page = page.runs.back().id();
      return page;
    });
  });
}

absl::Status SqliteStore::UpdateRunLocked(Connection& conn, const Run& run,
                                         absl::string_view data) {
  const std::string what = absl::StrCat("update run ", run.id());
  {
    sqlite3_stmt* stmt = conn.stmt(Sql::kUpdateRun);
    StmtScope scope(stmt);
    if (absl::Status s = BindRun(conn.db(), stmt, run, data, "update run: bind"); !s.ok()) return s;
    if (absl::Status s = StepDone(conn.db(), stmt, what); !s.ok()) return s;
    if (sqlite3_changes(conn.db()) == 0) {
      return absl::NotFoundError(absl::StrCat("run ", run.id(), " not found"));
    }
  }
  if (!run.has_scheduled_time()) return absl::OkStatus();  // manual runs leave last_status
  sqlite3_stmt* stmt = conn.stmt(Sql::kUpdateJobLastStatus);
  StmtScope scope(stmt);
  Binder bind(stmt);
  bind.Text(1, run.job_id()).Text(2, run.status()).Int64(3, Micros(run.scheduled_time()));
  if (bind.rc() != SQLITE_OK) return SqliteError(bind.rc(), conn.db(), "update run: bind job");
  return StepDone(conn.db(), stmt, absl::StrCat(what, ": job status"));
}

namespace {

// Serializes (outside the writer lock) the run each item holds.
template <typename Item, typename RunOf>
absl::StatusOr<std::vector<std::string>> SerializeRuns(absl::Span<const Item> items,
                                                       absl::string_view what, RunOf run_of) {
  std::vector<std::string> data(items.size());
  for (size_t i = 0; i < items.size(); ++i) {
    const Run& run = run_of(items[i]);
    if (run.id().empty()) return absl::InvalidArgumentError(absl::StrCat(what, ": empty run id"));
    if (!run.SerializeToString(&data[i])) {
      return absl::InternalError(absl::StrCat(what, ": serialize failed"));
    }
  }
  return data;
}

const Run& Itself(const Run& run) { return run; }

}  // namespace

absl::Status SqliteStore::UpdateRun(const Run& run) {
  absl::StatusOr<std::vector<std::string>> data = SerializeRuns(absl::MakeConstSpan(&run, 1), "update run", Itself);
  if (!data.ok()) return data.status();
  absl::MutexLock lock(&writer_.mu);
  Connection& conn = *writer_.conn;
  return InWriteTransaction(conn, absl::StrCat("update run ", run.id()),
                            [&] { return UpdateRunLocked(conn, run, (*data)[0]); });
}

absl::Status SqliteStore::UpdateRuns(const std::vector<Run>& runs) {
  if (runs.empty()) return absl::OkStatus();
  absl::StatusOr<std::vector<std::string>> data = SerializeRuns(absl::MakeConstSpan(runs), "update runs", Itself);
  if (!data.ok()) return data.status();
  absl::MutexLock lock(&writer_.mu);
  Connection& conn = *writer_.conn;
  return InWriteTransaction(conn, "update runs", [&]() -> absl::Status {
    for (size_t i = 0; i < runs.size(); ++i) {
      absl::Status s = UpdateRunLocked(conn, runs[i], (*data)[i]);
      if (!s.ok() && !absl::IsNotFound(s)) return s;  // gone with its job: skip it
    }
    return absl::OkStatus();
  });
}

absl::StatusOr<std::vector<bool>> SqliteStore::RecordFires(const std::vector<FireRecord>& fires) {
  absl::StatusOr<std::vector<std::string>> data =
      SerializeRuns(absl::MakeConstSpan(fires), "record fires",
                    [](const FireRecord& fire) -> const Run& { return fire.run; });
  if (!data.ok()) return data.status();
  std::vector<bool> stored(fires.size(), false);
  absl::MutexLock lock(&writer_.mu);
  Connection& conn = *writer_.conn;
  absl::Status s = InWriteTransaction(conn, "record fires", [&]() -> absl::Status {
    for (size_t i = 0; i < fires.size(); ++i) {
      absl::StatusOr<bool> inserted = RecordFireLocked(conn, fires[i], (*data)[i]);
      if (!inserted.ok()) return inserted.status();
      stored[i] = *inserted;
    }
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return stored;
}

absl::StatusOr<bool> SqliteStore::RecordFireLocked(Connection& conn, const FireRecord& fire,
                                                   absl::string_view data) {
  const Run& run = fire.run;
  bool inserted = false;
  {
    sqlite3_stmt* stmt = conn.stmt(Sql::kRecordFireRun);
    StmtScope scope(stmt);
    if (absl::Status b = BindRun(conn.db(), stmt, run, data, "record fires: bind"); !b.ok()) {
      return b;
    }
    if (absl::Status st = StepDone(conn.db(), stmt, absl::StrCat("record run ", run.id()));
        !st.ok()) {
      return st;
    }
    inserted = sqlite3_changes(conn.db()) == 1;
  }
  sqlite3_stmt* stmt = conn.stmt(Sql::kRecordFireJob);
  StmtScope scope(stmt);
  Binder bind(stmt);
  bind.Text(1, run.job_id());
  if (fire.next_run) {
    bind.Int64(2, absl::ToUnixMicros(*fire.next_run));
  } else {
    bind.Null(2);
  }
  bind.Int64(3, absl::ToUnixMicros(fire.last_run));
  if (inserted) {
    bind.Text(4, run.status());
  } else {
    bind.Null(4);
  }
  if (fire.job_updated_at) {
    bind.Int64(5, absl::ToUnixMicros(*fire.job_updated_at));
  } else {
    bind.Null(5);
  }
  if (fire.job_status) {
    bind.Text(6, *fire.job_status);
  } else {
    bind.Null(6);
  }
  if (bind.rc() != SQLITE_OK) return SqliteError(bind.rc(), conn.db(), "record fires: bind job");
  if (absl::Status st = StepDone(conn.db(), stmt, absl::StrCat("record fire of ", run.job_id()));
      !st.ok()) {
    return st;
  }
  return inserted;
}

absl::StatusOr<int64_t> SqliteStore::PruneRuns(int keep_last, absl::Time keep_after) {
  if (keep_last < 0) return absl::InvalidArgumentError("prune runs: keep_last must be >= 0");
  absl::MutexLock lock(&writer_.mu);
  Connection& conn = *writer_.conn;
  sqlite3_stmt* stmt = conn.stmt(Sql::kPruneRuns);
  StmtScope scope(stmt);
  Binder bind(stmt);
  bind.Int64(1, keep_last).Int64(2, absl::ToUnixMicros(keep_after));
  if (bind.rc() != SQLITE_OK) return SqliteError(bind.rc(), conn.db(), "prune runs: bind");
  if (absl::Status s = StepDone(conn.db(), stmt, "prune runs"); !s.ok()) return s;
  return static_cast<int64_t>(sqlite3_changes(conn.db()));
}

// ---- migrate ----

absl::StatusOr<std::vector<std::string>> MigrateSqlite(const std::string& data_dir) {
  if (absl::Status s = sqlite_internal::EnsureDataDir(data_dir); !s.ok()) return s;
  absl::StatusOr<sqlite_internal::DbPtr> db = sqlite_internal::OpenConnection(
      absl::StrCat(data_dir, "/dts.db"), SqliteStore::Options().busy_timeout);
  if (!db.ok()) return db.status();
  return sqlite_internal::ApplyMigrations(db->get(), sqlite_internal::EmbeddedMigrations());
}

}  // namespace dts::storage
