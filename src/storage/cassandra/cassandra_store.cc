#include "dts/storage/cassandra_store.h"

#include <algorithm>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "dts/cql/client.h"
#include "dts/storage/shard.h"
#include "google/protobuf/util/time_util.h"
#include "storage/cassandra/migrations.h"

namespace dts::storage {
namespace {

using cql::Batch;
using cql::BatchType;
using cql::LwtResult;
using cql::Row;
using cql::Statement;
using cql::Value;
using google::protobuf::util::TimeUtil;

constexpr int kMaxPageSize = 1000;
// run_ids is spread over this many partitions (FNV-1a of the run id), so no
// partition holds every run. Part of the schema: changing it needs a
// migration that rewrites run_ids.
constexpr int kRunBuckets = 16;
// Ids per `WHERE id IN ?` read, and statements per batch: both well under
// Cassandra's guardrails and batch size thresholds.
constexpr size_t kInChunk = 100;
constexpr size_t kBatchChunk = 60;
// Retries of an optimistic compare-and-set (UpdateJob, DeleteJob) when the
// status moved between the read and the CAS.
constexpr int kCasAttempts = 8;

bool IsActive(absl::string_view status) {
  return status == "PENDING" || status == "QUEUED" || status == "RUNNING" || status == "RETRYING";
}

int64_t Micros(const google::protobuf::Timestamp& ts) { return TimeUtil::TimestampToMicroseconds(ts); }

Value OptionalMicros(bool has, const google::protobuf::Timestamp& ts) {
  return has ? Value(Micros(ts)) : Value::Null();
}

int RunBucket(absl::string_view id) {
  return static_cast<int>(ShardOf(JobId(std::string(id)), kRunBuckets));
}

// Errors of the CQL client as the Store contract names them: UNAVAILABLE
// when the cluster cannot answer (down, overloaded, timed out: retrying may
// help), the credentials' codes as they are, INTERNAL for the rest.
absl::Status StoreError(const absl::Status& s, absl::string_view what) {
  absl::StatusCode code = absl::StatusCode::kInternal;
  switch (s.code()) {
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kDeadlineExceeded:
      code = absl::StatusCode::kUnavailable;
      break;
    case absl::StatusCode::kUnauthenticated:
    case absl::StatusCode::kPermissionDenied:
      code = s.code();
      break;
    default:
      break;
  }
  return absl::Status(code, absl::StrCat("cassandra: ", what, ": ", s.message()));
}

template <typename T>
absl::Status StoreError(const absl::StatusOr<T>& s, absl::string_view what) {
  return StoreError(s.status(), what);
}

std::string TextOr(const Row& row, absl::string_view col, std::string fallback = "") {
  absl::StatusOr<Value> v = row.Get(col);
  if (!v.ok() || v->is_null()) return fallback;
  return v->AsText().value_or(fallback);
}

std::optional<int64_t> Int64Of(const Row& row, absl::string_view col) {
  absl::StatusOr<Value> v = row.Get(col);
  if (!v.ok() || v->is_null()) return std::nullopt;
  absl::StatusOr<int64_t> i = v->AsInt64();
  if (!i.ok()) return std::nullopt;
  return *i;
}

// The stored blob, or nullopt for a row without one: a row whose `data` is
// null is treated as absent (only its key and index columns were written).
absl::StatusOr<std::optional<std::string>> DataOf(const Row& row) {
  absl::StatusOr<Value> v = row.Get("data");
  if (!v.ok()) return v.status();
  if (v->is_null()) return std::optional<std::string>();
  absl::StatusOr<std::string> blob = v->AsBlob();
  if (!blob.ok()) return blob.status();
  return std::optional<std::string>(*std::move(blob));
}

// A job row (id, status, next_run, last_run, last_status, data) as a Job:
// the engine's columns win over the copy inside `data` (as in SQLite).
absl::StatusOr<std::optional<Job>> JobOfRow(const Row& row) {
  absl::StatusOr<std::optional<std::string>> data = DataOf(row);
  if (!data.ok()) return data.status();
  if (!data->has_value()) return std::optional<Job>();
  Job job;
  if (!job.ParseFromString(**data)) {
    return absl::DataLossError(
        absl::StrCat("cassandra: stored job ", TextOr(row, "id", "?"), " does not parse"));
  }
  job.set_status(TextOr(row, "status"));
  if (std::optional<int64_t> next = Int64Of(row, "next_run")) {
    *job.mutable_next_run() = TimeUtil::MicrosecondsToTimestamp(*next);
  } else {
    job.clear_next_run();
  }
  if (std::optional<int64_t> last = Int64Of(row, "last_run")) {
    *job.mutable_last_run() = TimeUtil::MicrosecondsToTimestamp(*last);
  } else {
    job.clear_last_run();
  }
  job.set_last_status(TextOr(row, "last_status"));
  return std::optional<Job>(std::move(job));
}

absl::StatusOr<std::optional<Run>> RunOfRow(const Row& row) {
  absl::StatusOr<std::optional<std::string>> data = DataOf(row);
  if (!data.ok()) return data.status();
  if (!data->has_value()) return std::optional<Run>();
  Run run;
  if (!run.ParseFromString(**data)) {
    return absl::DataLossError(
        absl::StrCat("cassandra: stored run ", TextOr(row, "id", "?"), " does not parse"));
  }
  // ClaimRun moves only the column.
  run.set_status(TextOr(row, "status"));
  return std::optional<Run>(std::move(run));
}

absl::Status CheckPageSize(int page_size) {
  if (page_size < 1 || page_size > kMaxPageSize) {
    return absl::InvalidArgumentError(
        absl::StrCat("page_size must be between 1 and ", kMaxPageSize, ", got ", page_size));
  }
  return absl::OkStatus();
}

// An entry of an id index (job_ids, jobs_by_status, runs_by_job, run_ids,
// active_runs): the id and, where the index has one, its status column.
struct IndexEntry {
  std::string id;
  std::string status;
};

}  // namespace

// The CQL of every statement, with the keyspace spelled out, built once.
struct Cql {
  explicit Cql(const std::string& ks) {
    auto t = [&ks](absl::string_view table) { return absl::StrCat(ks, ".", table); };
    const std::string job_cols = "id, status, next_run, last_run, last_status, updated_at, data";
    insert_job = absl::StrCat("INSERT INTO ", t("jobs"),
                              " (id, status, next_run, last_run, last_status, updated_at, shard, "
                              "data) VALUES (?, ?, ?, ?, ?, ?, ?, ?) IF NOT EXISTS");
    // Takes over a row left without data (see CreateJob).
    reclaim_job = absl::StrCat("UPDATE ", t("jobs"),
                               " SET status = ?, next_run = ?, last_run = ?, last_status = ?, "
                               "updated_at = ?, shard = ?, data = ? WHERE id = ? IF data = null");
    select_job = absl::StrCat("SELECT ", job_cols, " FROM ", t("jobs"), " WHERE id = ?");
    select_jobs = absl::StrCat("SELECT ", job_cols, " FROM ", t("jobs"), " WHERE id IN ?");
    update_job = absl::StrCat("UPDATE ", t("jobs"),
                              " SET status = ?, next_run = ?, updated_at = ?, shard = ?, data = ? "
                              "WHERE id = ? IF status = ?");
    delete_job = absl::StrCat("DELETE FROM ", t("jobs"), " WHERE id = ? IF status = ?");
    fire_job_if_unchanged =
        absl::StrCat("UPDATE ", t("jobs"),
                     " SET next_run = ?, status = ?, last_run = ?, last_status = ? "
                     "WHERE id = ? IF updated_at = ? AND status = ?");
    fire_job = absl::StrCat("UPDATE ", t("jobs"),
                            " SET next_run = ?, status = ?, last_run = ?, last_status = ? "
                            "WHERE id = ? IF EXISTS");
    fire_job_facts = absl::StrCat("UPDATE ", t("jobs"),
                                  " SET last_run = ?, last_status = ? WHERE id = ? IF EXISTS");
    job_last_status = absl::StrCat("UPDATE ", t("jobs"),
                                   " SET last_status = ? WHERE id = ? IF last_run = ?");

    insert_job_id = absl::StrCat("INSERT INTO ", t("job_ids"), " (bucket, id) VALUES (0, ?)");
    delete_job_id = absl::StrCat("DELETE FROM ", t("job_ids"), " WHERE bucket = 0 AND id = ?");
    page_job_ids =
        absl::StrCat("SELECT id FROM ", t("job_ids"), " WHERE bucket = 0 AND id > ? LIMIT ?");
    count_job_ids = absl::StrCat("SELECT COUNT(*) FROM ", t("job_ids"), " WHERE bucket = 0");
    insert_job_status =
        absl::StrCat("INSERT INTO ", t("jobs_by_status"), " (status, id) VALUES (?, ?)");
    delete_job_status =
        absl::StrCat("DELETE FROM ", t("jobs_by_status"), " WHERE status = ? AND id = ?");
    page_jobs_by_status = absl::StrCat("SELECT id FROM ", t("jobs_by_status"),
                                       " WHERE status = ? AND id > ? LIMIT ?");
    count_jobs_by_status =
        absl::StrCat("SELECT COUNT(*) FROM ", t("jobs_by_status"), " WHERE status = ?");
    insert_job_shard =
        absl::StrCat("INSERT INTO ", t("jobs_by_shard"), " (shard, id) VALUES (?, ?)");
    delete_job_shard =
        absl::StrCat("DELETE FROM ", t("jobs_by_shard"), " WHERE shard = ? AND id = ?");
    scan_job_shard = absl::StrCat("SELECT id FROM ", t("jobs_by_shard"), " WHERE shard = ?");
    save_checkpoint = absl::StrCat("INSERT INTO ", t("shard_checkpoints"),
                                   " (shard, checkpoint, owner, updated_at) "
                                   "VALUES (?, ?, ?, toTimestamp(now()))");
    select_checkpoint = absl::StrCat("SELECT checkpoint, owner FROM ", t("shard_checkpoints"),
                                     " WHERE shard = ?");
    worker_alive = absl::StrCat("UPDATE ", t("workers"),
                                " USING TTL 86400 SET last_heartbeat = ?, state = ? WHERE id = ?");
    select_worker_alive =
        absl::StrCat("SELECT last_heartbeat FROM ", t("workers"), " WHERE id = ?");

    const std::string run_cols = "id, job_id, status, scheduled_time, created_at, data";
    insert_run = absl::StrCat("INSERT INTO ", t("runs"),
                              " (id, job_id, status, scheduled_time, created_at, data) "
                              "VALUES (?, ?, ?, ?, ?, ?) IF NOT EXISTS USING TTL ?");
    upsert_run = absl::StrCat("INSERT INTO ", t("runs"),
                              " (id, job_id, status, scheduled_time, created_at, data) "
                              "VALUES (?, ?, ?, ?, ?, ?) USING TTL ?");
    select_run = absl::StrCat("SELECT ", run_cols, " FROM ", t("runs"), " WHERE id = ?");
    select_runs = absl::StrCat("SELECT ", run_cols, " FROM ", t("runs"), " WHERE id IN ?");
    claim_run = absl::StrCat("UPDATE ", t("runs"), " SET status = ? WHERE id = ? IF status = ?");
    transition_run = absl::StrCat("UPDATE ", t("runs"),
                                  " USING TTL ? SET status = ?, data = ? WHERE id = ? IF status = ?");
    delete_run = absl::StrCat("DELETE FROM ", t("runs"), " WHERE id = ?");

    upsert_run_by_job = absl::StrCat("INSERT INTO ", t("runs_by_job"),
                                     " (job_id, id, status, created_at) VALUES (?, ?, ?, ?) "
                                     "USING TTL ?");
    set_run_by_job_status = absl::StrCat("UPDATE ", t("runs_by_job"),
                                         " SET status = ? WHERE job_id = ? AND id = ?");
    delete_run_by_job =
        absl::StrCat("DELETE FROM ", t("runs_by_job"), " WHERE job_id = ? AND id = ?");
    delete_runs_of_job = absl::StrCat("DELETE FROM ", t("runs_by_job"), " WHERE job_id = ?");
    page_runs_by_job = absl::StrCat("SELECT id, status FROM ", t("runs_by_job"),
                                    " WHERE job_id = ? AND id > ? LIMIT ?");
    scan_runs_by_job = absl::StrCat("SELECT id, status, created_at FROM ", t("runs_by_job"),
                                    " WHERE job_id = ?");
    count_runs_by_job =
        absl::StrCat("SELECT COUNT(*) FROM ", t("runs_by_job"), " WHERE job_id = ?");
    distinct_run_jobs = absl::StrCat("SELECT DISTINCT job_id FROM ", t("runs_by_job"));

    upsert_run_id = absl::StrCat("INSERT INTO ", t("run_ids"),
                                 " (bucket, id, status) VALUES (?, ?, ?) USING TTL ?");
    set_run_id_status =
        absl::StrCat("UPDATE ", t("run_ids"), " SET status = ? WHERE bucket = ? AND id = ?");
    delete_run_id = absl::StrCat("DELETE FROM ", t("run_ids"), " WHERE bucket = ? AND id = ?");
    page_run_ids = absl::StrCat("SELECT id, status FROM ", t("run_ids"),
                                " WHERE bucket = ? AND id > ? LIMIT ?");
    scan_run_ids = absl::StrCat("SELECT status FROM ", t("run_ids"), " WHERE bucket = ?");
    count_run_ids = absl::StrCat("SELECT COUNT(*) FROM ", t("run_ids"), " WHERE bucket = ?");

    insert_active = absl::StrCat("INSERT INTO ", t("active_runs"),
                                 " (status, id, job_id) VALUES (?, ?, ?)");
    delete_active =
        absl::StrCat("DELETE FROM ", t("active_runs"), " WHERE status = ? AND id = ?");
    page_active = absl::StrCat("SELECT id, status FROM ", t("active_runs"),
                               " WHERE status = ? AND id > ? LIMIT ?");
    count_active =
        absl::StrCat("SELECT COUNT(*) FROM ", t("active_runs"), " WHERE status = ?");

    schema_version =
        absl::StrCat("SELECT version FROM ", t("schema_migrations"), " WHERE version = ?");
  }

  std::string insert_job, reclaim_job, select_job, select_jobs, update_job, delete_job,
      fire_job_if_unchanged, fire_job, fire_job_facts, job_last_status;
  std::string insert_job_id, delete_job_id, page_job_ids, count_job_ids, insert_job_status,
      delete_job_status, page_jobs_by_status, count_jobs_by_status, insert_job_shard,
      delete_job_shard, scan_job_shard, save_checkpoint, select_checkpoint, worker_alive,
      select_worker_alive;
  std::string insert_run, upsert_run, select_run, select_runs, claim_run, transition_run,
      delete_run;
  std::string upsert_run_by_job, set_run_by_job_status, delete_run_by_job, delete_runs_of_job,
      page_runs_by_job, scan_runs_by_job, count_runs_by_job, distinct_run_jobs;
  std::string upsert_run_id, set_run_id_status, delete_run_id, page_run_ids, scan_run_ids,
      count_run_ids;
  std::string insert_active, delete_active, page_active, count_active;
  std::string schema_version;
};

class CassandraStore::Impl {
 public:
  Impl(std::shared_ptr<cql::Client> client, const std::string& ks, const Options& options)
      : client_(std::move(client)), cql_(ks), options_(options) {}

  cql::Client& c() { return *client_; }
  const Cql& q() const { return cql_; }
  const Options& options() const { return options_; }

  // Seconds of TTL for a run row written in `status` (0: none).
  int32_t TtlFor(absl::string_view status) const {
    if (IsActive(status) || options_.final_run_ttl <= absl::ZeroDuration()) return 0;
    return static_cast<int32_t>(
        std::min<int64_t>(absl::ToInt64Seconds(options_.final_run_ttl), 630720000));  // 20 years
  }

  // A read (idempotent: retried on timeouts), all pages.
  absl::StatusOr<std::vector<Row>> Read(const std::string& cql, std::vector<Value> values,
                                        absl::string_view what) {
    absl::StatusOr<std::vector<Row>> rows =
        c().ExecuteAll(Statement(cql, std::move(values)).Idempotent());
    if (!rows.ok()) return StoreError(rows, what);
    return rows;
  }

  absl::StatusOr<int64_t> Count(const std::string& cql, std::vector<Value> values,
                                absl::string_view what) {
    absl::StatusOr<std::vector<Row>> rows = Read(cql, std::move(values), what);
    if (!rows.ok()) return rows.status();
    if (rows->empty()) return 0;
    absl::StatusOr<int64_t> n = (*rows)[0].GetInt64(0);
    if (!n.ok()) return StoreError(n, what);
    return *n;
  }

  absl::Status Write(const std::string& cql, std::vector<Value> values, absl::string_view what) {
    absl::StatusOr<cql::Result> r = c().Execute(Statement(cql, std::move(values)).Idempotent());
    if (!r.ok()) return StoreError(r, what);
    return absl::OkStatus();
  }

  absl::StatusOr<LwtResult> Lwt(const std::string& cql, std::vector<Value> values,
                                absl::string_view what) {
    // Not idempotent: a timed-out CAS may have applied, so the client must
    // not retry it blindly; the caller sees UNAVAILABLE.
    absl::StatusOr<LwtResult> r = c().ExecuteLwt(Statement(cql, std::move(values)));
    if (!r.ok()) return StoreError(r, what);
    return r;
  }

  // Writes `entries` in logged batches of kBatchChunk statements. Logged:
  // the rows of one change (a run and its index entries) land together or,
  // after a coordinator failure, are replayed from the batchlog. All
  // statements of a batch share one timestamp, so a batch never deletes and
  // writes the same row.
  absl::Status WriteBatches(const std::vector<Batch::Entry>& entries, absl::string_view what) {
    for (size_t i = 0; i < entries.size(); i += kBatchChunk) {
      Batch batch;
      batch.type = BatchType::kLogged;
      batch.idempotent = true;  // only upserts and deletes of fixed values
      for (size_t j = i; j < std::min(entries.size(), i + kBatchChunk); ++j) {
        batch.entries.push_back(entries[j]);
      }
      if (batch.entries.size() == 1) {
        if (absl::Status s = Write(batch.entries[0].query, batch.entries[0].values, what); !s.ok()) {
          return s;
        }
        continue;
      }
      absl::StatusOr<cql::Result> r = c().ExecuteBatch(batch);
      if (!r.ok()) return StoreError(r, what);
    }
    return absl::OkStatus();
  }

  // Rows of `ids` read with a `... WHERE id IN ?` statement, by id.
  absl::StatusOr<absl::flat_hash_map<std::string, Row>> ReadByIds(
      const std::string& cql, const std::vector<std::string>& ids, absl::string_view what) {
    absl::flat_hash_map<std::string, Row> out;
    std::vector<std::string> unique(ids);
    std::sort(unique.begin(), unique.end());
    unique.erase(std::unique(unique.begin(), unique.end()), unique.end());
    for (size_t i = 0; i < unique.size(); i += kInChunk) {
      Value::Elements keys;
      for (size_t j = i; j < std::min(unique.size(), i + kInChunk); ++j) keys.emplace_back(unique[j]);
      absl::StatusOr<std::vector<Row>> rows = Read(cql, {Value::List(std::move(keys))}, what);
      if (!rows.ok()) return rows.status();
      for (Row& row : *rows) {
        std::string id = TextOr(row, "id");
        out.emplace(std::move(id), std::move(row));
      }
    }
    return out;
  }

  // The entries (id, status) of the run index rows a run needs, written
  // before or with the run itself.
  void AddRunIndex(const Run& run, int32_t ttl, std::vector<Batch::Entry>* out) const {
    out->push_back({q().upsert_run_id,
                    {Value(int32_t{RunBucket(run.id())}), Value(run.id()), Value(run.status()),
                     Value(ttl)}});
    if (!run.job_id().empty()) {
      out->push_back({q().upsert_run_by_job,
                      {Value(run.job_id()), Value(run.id()), Value(run.status()),
                       Value(Micros(run.created_at())), Value(ttl)}});
    }
    if (IsActive(run.status())) {
      out->push_back(
          {q().insert_active, {Value(run.status()), Value(run.id()), Value(run.job_id())}});
    }
  }

  std::vector<Value> RunRowValues(const Run& run, const std::string& data) const {
    return {Value(run.id()),
            Value(run.job_id()),
            Value(run.status()),
            OptionalMicros(run.has_scheduled_time(), run.scheduled_time()),
            Value(Micros(run.created_at())),
            Value::Blob(data),
            Value(TtlFor(run.status()))};
  }

  // After a refused insert: the index entries written for `ours` point at a
  // run stored as `existing`; make them say what is stored.
  void FixRunIndex(const Run& ours, const Run& existing, std::vector<Batch::Entry>* out) const {
    if (!ours.job_id().empty() && ours.job_id() != existing.job_id()) {
      out->push_back({q().delete_run_by_job, {Value(ours.job_id()), Value(ours.id())}});
    }
    if (IsActive(ours.status()) && ours.status() != existing.status()) {
      out->push_back({q().delete_active, {Value(ours.status()), Value(ours.id())}});
    }
    if (ours.status() != existing.status() || ours.job_id() != existing.job_id() ||
        Micros(ours.created_at()) != Micros(existing.created_at())) {
      AddRunIndex(existing, TtlFor(existing.status()), out);
    }
  }

  // Keyset paging over an index whose entries are verified against the rows
  // they point at: `fetch(after, limit)` returns index entries in id order;
  // `keep(entry)` filters on the index's own columns; `load(ids)` reads the
  // rows (absent ones are stale entries, skipped) and `accept` checks them.
  template <typename Msg, typename Fetch, typename Keep, typename Load, typename Accept>
  absl::Status Page(const std::string& after_id, int page_size, Fetch&& fetch, Keep&& keep,
                    Load&& load, Accept&& accept, std::vector<Msg>* out, std::string* next_page) {
    std::string cursor = after_id;
    const size_t want = static_cast<size_t>(page_size) + 1;  // one more: do more follow?
    std::vector<Msg> found;
    while (found.size() < want) {
      const int limit = static_cast<int>(std::max<size_t>(want - found.size(), 16));
      absl::StatusOr<std::vector<IndexEntry>> entries = fetch(cursor, limit);
      if (!entries.ok()) return entries.status();
      if (entries->empty()) break;
      cursor = entries->back().id;
      std::vector<std::string> ids;
      for (const IndexEntry& e : *entries) {
        if (keep(e)) ids.push_back(e.id);
      }
      absl::StatusOr<absl::flat_hash_map<std::string, Msg>> rows = load(ids);
      if (!rows.ok()) return rows.status();
      for (const std::string& id : ids) {
        auto it = rows->find(id);
        if (it == rows->end() || !accept(it->second)) continue;
        found.push_back(std::move(it->second));
        if (found.size() == want) break;
      }
      if (entries->size() < static_cast<size_t>(limit)) break;  // index exhausted
    }
    if (found.size() == want) {
      found.pop_back();
      *next_page = found.back().id();
    }
    *out = std::move(found);
    return absl::OkStatus();
  }

  // The job's last_status follows the run of its latest fire: a conditional
  // update (IF last_run = the run's scheduled time), so a newer fire recorded
  // meanwhile is not overwritten with an older run's status.
  absl::Status FollowLastStatus(const std::vector<const Run*>& written) {
    std::vector<std::string> job_ids;
    for (const Run* run : written) {
      if (run->has_scheduled_time() && !run->job_id().empty()) job_ids.push_back(run->job_id());
    }
    if (job_ids.empty()) return absl::OkStatus();
    absl::StatusOr<absl::flat_hash_map<std::string, Job>> jobs = LoadJobs(job_ids);
    if (!jobs.ok()) return jobs.status();
    std::map<std::string, const Run*> latest;  // job id -> the last run of its latest fire
    for (const Run* run : written) {
      if (!run->has_scheduled_time()) continue;
      auto job = jobs->find(run->job_id());
      if (job == jobs->end() || !job->second.has_last_run()) continue;
      if (Micros(job->second.last_run()) != Micros(run->scheduled_time())) continue;
      latest[run->job_id()] = run;
    }
    for (const auto& [job_id, run] : latest) {
      if (jobs->at(job_id).last_status() == run->status()) continue;
      absl::StatusOr<LwtResult> r =
          Lwt(q().job_last_status,
              {Value(run->status()), Value(job_id), Value(Micros(run->scheduled_time()))},
              absl::StrCat("update run ", run->id(), ": job status"));
      if (!r.ok()) return r.status();
    }
    return absl::OkStatus();
  }

  absl::StatusOr<absl::flat_hash_map<std::string, Job>> LoadJobs(const std::vector<std::string>& ids) {
    absl::StatusOr<absl::flat_hash_map<std::string, Row>> rows =
        ReadByIds(q().select_jobs, ids, "read jobs");
    if (!rows.ok()) return rows.status();
    absl::flat_hash_map<std::string, Job> jobs;
    for (const auto& [id, row] : *rows) {
      absl::StatusOr<std::optional<Job>> job = JobOfRow(row);
      if (!job.ok()) return job.status();
      if (job->has_value()) jobs.emplace(id, **std::move(job));
    }
    return jobs;
  }

  absl::StatusOr<absl::flat_hash_map<std::string, Run>> LoadRuns(const std::vector<std::string>& ids) {
    absl::StatusOr<absl::flat_hash_map<std::string, Row>> rows =
        ReadByIds(q().select_runs, ids, "read runs");
    if (!rows.ok()) return rows.status();
    absl::flat_hash_map<std::string, Run> runs;
    for (const auto& [id, row] : *rows) {
      absl::StatusOr<std::optional<Run>> run = RunOfRow(row);
      if (!run.ok()) return run.status();
      if (run->has_value()) runs.emplace(id, **std::move(run));
    }
    return runs;
  }

  // Index entries of one partition, after `after`.
  absl::StatusOr<std::vector<IndexEntry>> FetchIndex(const std::string& cql, std::vector<Value> key,
                                                     const std::string& after, int limit,
                                                     bool has_status) {
    key.emplace_back(after);
    key.emplace_back(int32_t{limit});
    absl::StatusOr<cql::Result> r = c().Execute(
        Statement(cql, std::move(key)).Idempotent().WithPageSize(limit));
    if (!r.ok()) return StoreError(r, "read index");
    std::vector<IndexEntry> out;
    for (const Row& row : r->rows) {
      out.push_back({TextOr(row, "id"), has_status ? TextOr(row, "status") : ""});
    }
    return out;
  }

  // run_ids: the first `limit` entries after `after` over all buckets.
  absl::StatusOr<std::vector<IndexEntry>> FetchRunIds(const std::string& after, int limit) {
    std::vector<IndexEntry> merged;
    for (int bucket = 0; bucket < kRunBuckets; ++bucket) {
      absl::StatusOr<std::vector<IndexEntry>> part =
          FetchIndex(q().page_run_ids, {Value(int32_t{bucket})}, after, limit, true);
      if (!part.ok()) return part.status();
      for (IndexEntry& e : *part) merged.push_back(std::move(e));
    }
    std::sort(merged.begin(), merged.end(),
              [](const IndexEntry& a, const IndexEntry& b) { return a.id < b.id; });
    if (merged.size() > static_cast<size_t>(limit)) merged.resize(static_cast<size_t>(limit));
    return merged;
  }

  // Moves a job's jobs_by_status entry, around a compare-and-set that changes
  // its status: the new entry is written first, so a job is never missing
  // from the index of the status it has (readers skip entries that disagree
  // with the row), and the old one is removed once the CAS applied.
  absl::Status IndexJobStatus(const std::string& id, const std::string& status) {
    if (status.empty()) return absl::OkStatus();  // not a valid partition key; never listed
    return Write(q().insert_job_status, {Value(status), Value(id)}, "index job status");
  }
  absl::Status UnindexJobStatus(const std::string& id, const std::string& status) {
    if (status.empty()) return absl::OkStatus();
    return Write(q().delete_job_status, {Value(status), Value(id)}, "unindex job status");
  }

 private:
  std::shared_ptr<cql::Client> client_;
  const Cql cql_;
  const Options options_;
};

CassandraStore::CassandraStore(std::unique_ptr<Impl> impl, std::string keyspace)
    : impl_(std::move(impl)), keyspace_(std::move(keyspace)) {}

CassandraStore::~CassandraStore() = default;

absl::StatusOr<std::unique_ptr<CassandraStore>> CassandraStore::Create(Options options) {
  if (!cassandra_internal::IsValidKeyspace(options.config.keyspace)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "keyspace \"", options.config.keyspace,
        "\": expected a letter, then up to 47 letters, digits or underscores"));
  }
  if (options.shard_count < 1 || options.shard_count > 65536) {
    return absl::InvalidArgumentError("cassandra: shard_count must be between 1 and 65536");
  }
  if (options.final_run_ttl < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("cassandra: final_run_ttl must not be negative");
  }
  const std::string ks = absl::AsciiStrToLower(options.config.keyspace);
  std::shared_ptr<cql::Client> client = options.client;
  if (client == nullptr) {
    absl::StatusOr<cql::ClientOptions> client_options = CassandraClientOptions(options.config);
    if (!client_options.ok()) return client_options.status();
    absl::StatusOr<std::unique_ptr<cql::Client>> created = cql::Client::Create(*client_options);
    if (!created.ok()) {
      return absl::Status(created.status().code(),
                          absl::StrCat("cassandra: connecting to ", options.config.hosts, ": ",
                                       created.status().message()));
    }
    client = std::shared_ptr<cql::Client>(*std::move(created));
  }
  auto impl = std::make_unique<Impl>(client, ks, options);

  // The schema must be there: the newest migration this binary knows.
  const std::vector<CassandraMigration>& migrations = EmbeddedCassandraMigrations();
  if (!migrations.empty()) {
    const std::string& latest = migrations.back().version;
    absl::StatusOr<std::vector<Row>> rows =
        client->ExecuteAll(Statement(impl->q().schema_version, {Value(latest)}).Idempotent());
    const bool unconfigured =
        !rows.ok() && rows.status().code() == absl::StatusCode::kInvalidArgument;
    if (!rows.ok() && !unconfigured) return StoreError(rows, "check schema");
    if (unconfigured || rows->empty()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "cassandra: keyspace ", ks, " is not migrated (migration ", latest,
          " is not recorded); run `dts migrate --backend cassandra`"));
    }
  }
  return std::unique_ptr<CassandraStore>(new CassandraStore(std::move(impl), ks));
}

// ---- jobs ----

absl::Status CassandraStore::CreateJob(const Job& job) {
  if (job.id().empty()) return absl::InvalidArgumentError("create job: empty id");
  std::string data;
  if (!job.SerializeToString(&data)) return absl::InternalError("create job: serialize failed");
  const int32_t shard = static_cast<int32_t>(ShardOf(JobId(job.id()), impl_->options().shard_count));
  // Index entries first: after a crash between them and the row, a reader
  // skips an entry without a row, whereas a row without its entries would be
  // a job no listing (and no scheduler) ever sees.
  std::vector<Batch::Entry> index = {
      {impl_->q().insert_job_id, {Value(job.id())}},
      {impl_->q().insert_job_shard, {Value(shard), Value(job.id())}},
  };
  if (!job.status().empty()) {
    index.push_back({impl_->q().insert_job_status, {Value(job.status()), Value(job.id())}});
  }
  if (absl::Status s = impl_->WriteBatches(index, "create job: index"); !s.ok()) return s;

  const Value next_run = OptionalMicros(job.has_next_run(), job.next_run());
  const Value last_run = OptionalMicros(job.has_last_run(), job.last_run());
  absl::StatusOr<LwtResult> r = impl_->Lwt(
      impl_->q().insert_job,
      {Value(job.id()), Value(job.status()), next_run, last_run, Value(job.last_status()),
       Value(Micros(job.updated_at())), Value(shard), Value::Blob(data)},
      absl::StrCat("create job ", job.id()));
  if (!r.ok()) return r.status();
  if (r->applied) return absl::OkStatus();
  // A row without data is what a write racing a delete can leave (see the
  // README); the id is free, so take the row over.
  if (r->existing.has_value()) {
    absl::StatusOr<std::optional<std::string>> existing = DataOf(*r->existing);
    if (existing.ok() && !existing->has_value()) {
      absl::StatusOr<LwtResult> again = impl_->Lwt(
          impl_->q().reclaim_job,
          {Value(job.status()), next_run, last_run, Value(job.last_status()),
           Value(Micros(job.updated_at())), Value(shard), Value::Blob(data), Value(job.id())},
          absl::StrCat("create job ", job.id()));
      if (!again.ok()) return again.status();
      if (again->applied) return absl::OkStatus();
    }
    // Our status entry must not stay if it is not the stored job's.
    const std::string stored_status = TextOr(*r->existing, "status");
    if (stored_status != job.status()) (void)impl_->UnindexJobStatus(job.id(), job.status());
  }
  return absl::AlreadyExistsError(absl::StrCat("job ", job.id(), " already exists"));
}

absl::StatusOr<Job> CassandraStore::GetJob(const JobId& id) {
  absl::StatusOr<std::vector<Row>> rows =
      impl_->Read(impl_->q().select_job, {Value(id.value())}, absl::StrCat("get job ", id.value()));
  if (!rows.ok()) return rows.status();
  if (!rows->empty()) {
    absl::StatusOr<std::optional<Job>> job = JobOfRow((*rows)[0]);
    if (!job.ok()) return job.status();
    if (job->has_value()) return **std::move(job);
  }
  return absl::NotFoundError(absl::StrCat("job ", id.value(), " not found"));
}

absl::StatusOr<JobPage> CassandraStore::ListJobs(const ListJobsQuery& query) {
  if (absl::Status s = CheckPageSize(query.page_size); !s.ok()) return s;
  JobPage page;
  const bool by_status = query.status.has_value();
  absl::StatusOr<int64_t> total =
      by_status ? impl_->Count(impl_->q().count_jobs_by_status, {Value(*query.status)}, "count jobs")
                : impl_->Count(impl_->q().count_job_ids, {}, "count jobs");
  if (!total.ok()) return total.status();
  page.total = *total;
  auto fetch = [&](const std::string& after, int limit) {
    return by_status ? impl_->FetchIndex(impl_->q().page_jobs_by_status, {Value(*query.status)},
                                         after, limit, false)
                     : impl_->FetchIndex(impl_->q().page_job_ids, {}, after, limit, false);
  };
  auto keep = [](const IndexEntry&) { return true; };
  auto load = [&](const std::vector<std::string>& ids) { return impl_->LoadJobs(ids); };
  auto accept = [&](const Job& job) { return !by_status || job.status() == *query.status; };
  if (absl::Status s = impl_->Page(query.after_id, query.page_size, fetch, keep, load, accept,
                                   &page.jobs, &page.next_page);
      !s.ok()) {
    return s;
  }
  return page;
}

absl::Status CassandraStore::UpdateJob(const Job& job_in) {
  if (job_in.id().empty()) return absl::InvalidArgumentError("update job: empty id");
  const std::string& id = job_in.id();
  const std::string what = absl::StrCat("update job ", id);
  // last_run and last_status are columns the update does not write: they
  // belong to the engine, and the stored ones win over the blob when read.
  std::string data;
  if (!job_in.SerializeToString(&data)) return absl::InternalError("update job: serialize failed");
  const int32_t shard = static_cast<int32_t>(ShardOf(JobId(id), impl_->options().shard_count));
  absl::StatusOr<Job> stored = GetJob(JobId(id));
  if (!stored.ok()) return stored.status();
  std::string old_status = stored->status();
  // Compare-and-set on the status, so that the status index is moved by the
  // one writer that actually changed it.
  for (int attempt = 0; attempt < kCasAttempts; ++attempt) {
    const bool moves = old_status != job_in.status();
    if (moves) {
      if (absl::Status s = impl_->IndexJobStatus(id, job_in.status()); !s.ok()) return s;
    }
    absl::StatusOr<LwtResult> r = impl_->Lwt(
        impl_->q().update_job,
        {Value(job_in.status()), OptionalMicros(job_in.has_next_run(), job_in.next_run()),
         Value(Micros(job_in.updated_at())), Value(shard), Value::Blob(data), Value(id),
         Value(old_status)},
        what);
    if (!r.ok()) return r.status();
    if (r->applied) {
      if (moves) return impl_->UnindexJobStatus(id, old_status);
      return absl::OkStatus();
    }
    if (!r->existing.has_value() || !DataOf(*r->existing).value_or(std::nullopt).has_value()) {
      return absl::NotFoundError(absl::StrCat("job ", id, " not found"));
    }
    old_status = TextOr(*r->existing, "status");
  }
  return absl::AbortedError(absl::StrCat(what, ": its status kept changing; try again"));
}

absl::Status CassandraStore::DeleteJob(const JobId& id_in) {
  const std::string& id = id_in.value();
  const std::string what = absl::StrCat("delete job ", id);
  absl::StatusOr<Job> stored = GetJob(id_in);
  if (!stored.ok()) return stored.status();
  std::string status = stored->status();
  bool deleted = false;
  for (int attempt = 0; attempt < kCasAttempts && !deleted; ++attempt) {
    absl::StatusOr<LwtResult> r = impl_->Lwt(impl_->q().delete_job, {Value(id), Value(status)}, what);
    if (!r.ok()) return r.status();
    if (r->applied) {
      deleted = true;
      break;
    }
    if (!r->existing.has_value()) return absl::NotFoundError(absl::StrCat("job ", id, " not found"));
    status = TextOr(*r->existing, "status");
  }
  if (!deleted) return absl::AbortedError(absl::StrCat(what, ": its status kept changing; try again"));

  // The row is gone; now its runs and index entries. A crash here leaves
  // entries that point at nothing, which readers skip.
  absl::StatusOr<std::vector<Row>> runs =
      impl_->Read(impl_->q().scan_runs_by_job, {Value(id)}, absl::StrCat(what, ": list runs"));
  if (!runs.ok()) return runs.status();
  std::vector<Batch::Entry> deletes;
  for (const Row& row : *runs) {
    const std::string run_id = TextOr(row, "id");
    const std::string run_status = TextOr(row, "status");
    deletes.push_back({impl_->q().delete_run, {Value(run_id)}});
    deletes.push_back(
        {impl_->q().delete_run_id, {Value(int32_t{RunBucket(run_id)}), Value(run_id)}});
    if (IsActive(run_status)) {
      deletes.push_back({impl_->q().delete_active, {Value(run_status), Value(run_id)}});
    }
  }
  deletes.push_back({impl_->q().delete_runs_of_job, {Value(id)}});
  deletes.push_back({impl_->q().delete_job_id, {Value(id)}});
  deletes.push_back(
      {impl_->q().delete_job_shard,
       {Value(static_cast<int32_t>(ShardOf(id_in, impl_->options().shard_count))), Value(id)}});
  if (!status.empty()) deletes.push_back({impl_->q().delete_job_status, {Value(status), Value(id)}});
  return impl_->WriteBatches(deletes, what);
}

// ---- runs ----

absl::Status CassandraStore::CreateRun(const Run& run) {
  if (run.id().empty()) return absl::InvalidArgumentError("create run: empty id");
  std::string data;
  if (!run.SerializeToString(&data)) return absl::InternalError("create run: serialize failed");
  const std::string what = absl::StrCat("create run ", run.id());
  std::vector<Batch::Entry> index;
  impl_->AddRunIndex(run, impl_->TtlFor(run.status()), &index);
  if (absl::Status s = impl_->WriteBatches(index, what); !s.ok()) return s;
  // The conditional insert is the whole no-double-run guarantee: of any
  // number of inserts of one id, from any process, Paxos lets one apply.
  absl::StatusOr<LwtResult> r = impl_->Lwt(impl_->q().insert_run, impl_->RunRowValues(run, data), what);
  if (!r.ok()) return r.status();
  if (r->applied) return absl::OkStatus();
  if (r->existing.has_value()) {
    absl::StatusOr<std::optional<Run>> existing = RunOfRow(*r->existing);
    if (existing.ok() && existing->has_value()) {
      std::vector<Batch::Entry> fix;
      impl_->FixRunIndex(run, **existing, &fix);
      (void)impl_->WriteBatches(fix, what);  // best effort: readers verify anyway
    }
  }
  return absl::AlreadyExistsError(absl::StrCat("run ", run.id(), " already exists"));
}

absl::StatusOr<Run> CassandraStore::GetRun(const RunId& id) {
  absl::StatusOr<std::vector<Row>> rows =
      impl_->Read(impl_->q().select_run, {Value(id.value())}, absl::StrCat("get run ", id.value()));
  if (!rows.ok()) return rows.status();
  if (!rows->empty()) {
    absl::StatusOr<std::optional<Run>> run = RunOfRow((*rows)[0]);
    if (!run.ok()) return run.status();
    if (run->has_value()) return **std::move(run);
  }
  return absl::NotFoundError(absl::StrCat("run ", id.value(), " not found"));
}

absl::StatusOr<RunPage> CassandraStore::ListRuns(const ListRunsQuery& query) {
  if (absl::Status s = CheckPageSize(query.page_size); !s.ok()) return s;
  RunPage page;
  const std::optional<std::string>& status = query.status;
  // Which index: the job's runs; the active runs of one status; or every run
  // id (merged over its buckets), filtered on its status column.
  enum class Source { kJob, kActive, kAll } source = Source::kAll;
  if (query.job_id.has_value()) {
    source = Source::kJob;
  } else if (status.has_value() && IsActive(*status)) {
    source = Source::kActive;
  }

  // The total. Counting is a scan of the index partitions involved; with a
  // status that the index cannot select by key, the scan reads each entry's
  // status (see the README for what this costs).
  int64_t total = 0;
  if (source == Source::kJob) {
    if (!status.has_value()) {
      absl::StatusOr<int64_t> n =
          impl_->Count(impl_->q().count_runs_by_job, {Value(query.job_id->value())}, "count runs");
      if (!n.ok()) return n.status();
      total = *n;
    } else {
      absl::StatusOr<std::vector<Row>> rows =
          impl_->Read(impl_->q().scan_runs_by_job, {Value(query.job_id->value())}, "count runs");
      if (!rows.ok()) return rows.status();
      for (const Row& row : *rows) total += TextOr(row, "status") == *status ? 1 : 0;
    }
  } else if (source == Source::kActive) {
    absl::StatusOr<int64_t> n = impl_->Count(impl_->q().count_active, {Value(*status)}, "count runs");
    if (!n.ok()) return n.status();
    total = *n;
  } else {
    for (int bucket = 0; bucket < kRunBuckets; ++bucket) {
      if (!status.has_value()) {
        absl::StatusOr<int64_t> n =
            impl_->Count(impl_->q().count_run_ids, {Value(int32_t{bucket})}, "count runs");
        if (!n.ok()) return n.status();
        total += *n;
      } else {
        absl::StatusOr<std::vector<Row>> rows =
            impl_->Read(impl_->q().scan_run_ids, {Value(int32_t{bucket})}, "count runs");
        if (!rows.ok()) return rows.status();
        for (const Row& row : *rows) total += TextOr(row, "status") == *status ? 1 : 0;
      }
    }
  }
  page.total = total;

  auto fetch = [&](const std::string& after, int limit) -> absl::StatusOr<std::vector<IndexEntry>> {
    switch (source) {
      case Source::kJob:
        return impl_->FetchIndex(impl_->q().page_runs_by_job, {Value(query.job_id->value())}, after,
                                 limit, true);
      case Source::kActive:
        return impl_->FetchIndex(impl_->q().page_active, {Value(*status)}, after, limit, true);
      case Source::kAll:
        break;
    }
    return impl_->FetchRunIds(after, limit);
  };
  auto keep = [&](const IndexEntry& e) { return !status.has_value() || e.status == *status; };
  auto load = [&](const std::vector<std::string>& ids) { return impl_->LoadRuns(ids); };
  auto accept = [&](const Run& run) {
    if (query.job_id.has_value() && run.job_id() != query.job_id->value()) return false;
    return !status.has_value() || run.status() == *status;
  };
  if (absl::Status s = impl_->Page(query.after_id, query.page_size, fetch, keep, load, accept,
                                   &page.runs, &page.next_page);
      !s.ok()) {
    return s;
  }
  return page;
}

absl::Status CassandraStore::UpdateRun(const Run& run) {
  if (run.id().empty()) return absl::InvalidArgumentError("update run: empty id");
  absl::StatusOr<Run> stored = GetRun(RunId(run.id()));
  if (!stored.ok()) return stored.status();
  return UpdateRuns({run});
}

absl::Status CassandraStore::UpdateRuns(const std::vector<Run>& runs_in) {
  if (runs_in.empty()) return absl::OkStatus();
  // One write per id: statements of a batch share a timestamp, so two
  // writes of one row in it would not apply in order. The last one wins,
  // as it would applied one after another.
  std::vector<const Run*> runs;
  {
    absl::flat_hash_map<std::string, size_t> last;
    for (size_t i = 0; i < runs_in.size(); ++i) {
      if (runs_in[i].id().empty()) return absl::InvalidArgumentError("update runs: empty run id");
      last[runs_in[i].id()] = i;
    }
    for (size_t i = 0; i < runs_in.size(); ++i) {
      if (last[runs_in[i].id()] == i) runs.push_back(&runs_in[i]);
    }
  }
  std::vector<std::string> ids;
  for (const Run* run : runs) ids.push_back(run->id());
  absl::StatusOr<absl::flat_hash_map<std::string, Run>> stored = impl_->LoadRuns(ids);
  if (!stored.ok()) return stored.status();

  std::vector<Batch::Entry> writes;
  std::vector<const Run*> written;
  for (const Run* run : runs) {
    auto it = stored->find(run->id());
    if (it == stored->end()) continue;  // gone with its job: skipped
    const Run& old = it->second;
    std::string data;
    if (!run->SerializeToString(&data)) return absl::InternalError("update runs: serialize failed");
    const int32_t ttl = impl_->TtlFor(run->status());
    std::vector<Value> values = impl_->RunRowValues(*run, data);
    writes.push_back({impl_->q().upsert_run, std::move(values)});
    impl_->AddRunIndex(*run, ttl, &writes);
    if (IsActive(old.status()) && old.status() != run->status()) {
      writes.push_back({impl_->q().delete_active, {Value(old.status()), Value(run->id())}});
    }
    if (!old.job_id().empty() && old.job_id() != run->job_id()) {
      writes.push_back({impl_->q().delete_run_by_job, {Value(old.job_id()), Value(run->id())}});
    }
    written.push_back(run);
  }
  if (absl::Status s = impl_->WriteBatches(writes, "update runs"); !s.ok()) return s;
  return impl_->FollowLastStatus(written);
}

absl::Status CassandraStore::Ping() {
  Statement st("SELECT release_version FROM system.local");
  st.consistency = cql::Consistency::kOne;
  st.idempotent = true;
  st.timeout = absl::Seconds(2);
  return impl_->c().Query(st).status();
}

absl::StatusOr<bool> CassandraStore::ClaimRun(const RunId& id, absl::string_view from,
                                              absl::string_view to) {
  if (id.empty()) return absl::InvalidArgumentError("claim run: empty id");
  if (from.empty() || to.empty()) return absl::InvalidArgumentError("claim run: empty status");
  const std::string what = absl::StrCat("claim run ", id.value());
  absl::StatusOr<Run> stored = GetRun(id);
  if (!stored.ok()) return stored.status();
  if (stored->status() != from) return false;
  // The entry of the new status first (readers skip it until the row says
  // so); a run is then never missing from the active index of its status.
  if (IsActive(to)) {
    if (absl::Status s = impl_->Write(impl_->q().insert_active,
                                      {Value(std::string(to)), Value(id.value()), Value(stored->job_id())},
                                      what);
        !s.ok()) {
      return s;
    }
  }
  absl::StatusOr<LwtResult> r = impl_->Lwt(
      impl_->q().claim_run, {Value(std::string(to)), Value(id.value()), Value(std::string(from))}, what);
  if (!r.ok()) return r.status();
  if (!r->applied) {
    if (!r->existing.has_value()) return absl::NotFoundError(absl::StrCat("run ", id.value(), " not found"));
    // Lost the race. Our entry is the winner's too if it moved the run to
    // the same status; otherwise take it back.
    if (IsActive(to) && TextOr(*r->existing, "status") != to) {
      (void)impl_->Write(impl_->q().delete_active, {Value(std::string(to)), Value(id.value())}, what);
    }
    return false;
  }
  std::vector<Batch::Entry> writes = {
      {impl_->q().set_run_id_status,
       {Value(std::string(to)), Value(int32_t{RunBucket(id.value())}), Value(id.value())}},
  };
  if (!stored->job_id().empty()) {
    writes.push_back({impl_->q().set_run_by_job_status,
                      {Value(std::string(to)), Value(stored->job_id()), Value(id.value())}});
  }
  if (IsActive(from)) {
    writes.push_back({impl_->q().delete_active, {Value(std::string(from)), Value(id.value())}});
  }
  if (absl::Status s = impl_->WriteBatches(writes, what); !s.ok()) return s;
  return true;
}

absl::StatusOr<bool> CassandraStore::TransitionRun(const Run& next, absl::string_view from) {
  if (next.id().empty()) return absl::InvalidArgumentError("transition run: empty id");
  if (from.empty() || next.status().empty()) {
    return absl::InvalidArgumentError("transition run: empty status");
  }
  const std::string what = absl::StrCat("transition run ", next.id(), " to ", next.status());
  const std::string to = next.status();
  std::string data;
  if (!next.SerializeToString(&data)) return absl::InternalError("transition run: serialize failed");
  // The entry of the new status first, as in ClaimRun.
  if (IsActive(to)) {
    if (absl::Status s = impl_->Write(impl_->q().insert_active,
                                      {Value(to), Value(next.id()), Value(next.job_id())}, what);
        !s.ok()) {
      return s;
    }
  }
  absl::StatusOr<LwtResult> r = impl_->Lwt(impl_->q().transition_run,
                                           {Value(impl_->TtlFor(to)), Value(to), Value::Blob(data),
                                            Value(next.id()), Value(std::string(from))},
                                           what);
  if (!r.ok()) return r.status();
  if (!r->applied) {
    if (IsActive(to) && (!r->existing.has_value() || TextOr(*r->existing, "status") != to)) {
      (void)impl_->Write(impl_->q().delete_active, {Value(to), Value(next.id())}, what);
    }
    if (!r->existing.has_value() || TextOr(*r->existing, "status").empty()) {
      return absl::NotFoundError(absl::StrCat("run ", next.id(), " not found"));
    }
    return false;
  }
  std::vector<Batch::Entry> writes;
  impl_->AddRunIndex(next, impl_->TtlFor(to), &writes);
  if (IsActive(from) && from != to) {
    writes.push_back({impl_->q().delete_active, {Value(std::string(from)), Value(next.id())}});
  }
  if (absl::Status s = impl_->WriteBatches(writes, what); !s.ok()) return s;
  if (absl::Status s = impl_->FollowLastStatus({&next}); !s.ok()) return s;
  return true;
}

absl::StatusOr<std::vector<Job>> CassandraStore::ListJobsOfShard(int shard) {
  const std::string what = absl::StrCat("list jobs of shard ", shard);
  absl::StatusOr<std::vector<Row>> rows =
      impl_->Read(impl_->q().scan_job_shard, {Value(int32_t{shard})}, what);
  if (!rows.ok()) return rows.status();
  std::vector<std::string> ids;
  for (const Row& row : *rows) ids.push_back(TextOr(row, "id"));
  absl::StatusOr<absl::flat_hash_map<std::string, Job>> jobs = impl_->LoadJobs(ids);
  if (!jobs.ok()) return jobs.status();
  std::vector<Job> out;
  out.reserve(jobs->size());
  for (auto& [id, job] : *jobs) out.push_back(std::move(job));
  std::sort(out.begin(), out.end(), [](const Job& a, const Job& b) { return a.id() < b.id(); });
  return out;
}

absl::Status CassandraStore::SaveShardCheckpoint(int shard, absl::Time fired_through,
                                                 absl::string_view owner) {
  return impl_->Write(impl_->q().save_checkpoint,
                      {Value(int32_t{shard}), Value(absl::ToUnixMicros(fired_through)),
                       Value(std::string(owner))},
                      absl::StrCat("save checkpoint of shard ", shard));
}

absl::StatusOr<CassandraStore::ShardCheckpoint> CassandraStore::GetShardCheckpoint(int shard) {
  absl::StatusOr<std::vector<Row>> rows =
      impl_->Read(impl_->q().select_checkpoint, {Value(int32_t{shard})},
                  absl::StrCat("read checkpoint of shard ", shard));
  if (!rows.ok()) return rows.status();
  if (rows->empty()) return absl::NotFoundError(absl::StrCat("shard ", shard, " has no checkpoint"));
  ShardCheckpoint out;
  out.shard = shard;
  out.fired_through = absl::FromUnixMicros(Int64Of((*rows)[0], "checkpoint").value_or(0));
  out.owner = TextOr((*rows)[0], "owner");
  return out;
}

absl::Status CassandraStore::RecordWorkerAlive(const WorkerId& worker, absl::Time at,
                                               absl::string_view state) {
  return impl_->Write(impl_->q().worker_alive,
                      {Value::Timestamp(at), Value(std::string(state)), Value(worker.value())},
                      absl::StrCat("record worker ", worker.value(), " alive"));
}

absl::StatusOr<absl::Time> CassandraStore::WorkerLastAlive(const WorkerId& worker) {
  const std::string what = absl::StrCat("read worker ", worker.value());
  absl::StatusOr<std::vector<Row>> rows =
      impl_->Read(impl_->q().select_worker_alive, {Value(worker.value())}, what);
  if (!rows.ok()) return rows.status();
  if (rows->empty()) return absl::NotFoundError(absl::StrCat("worker ", worker.value(), " unknown"));
  absl::StatusOr<absl::Time> at = (*rows)[0].GetTimestamp(0);
  if (!at.ok()) return absl::NotFoundError(absl::StrCat("worker ", worker.value(), " unknown"));
  return *at;
}

absl::StatusOr<std::vector<bool>> CassandraStore::RecordFires(const std::vector<FireRecord>& fires) {
  std::vector<bool> stored(fires.size(), false);
  if (fires.empty()) return stored;
  std::vector<std::string> data(fires.size());
  std::vector<std::string> job_ids;
  for (size_t i = 0; i < fires.size(); ++i) {
    if (fires[i].run.id().empty()) return absl::InvalidArgumentError("record fires: empty run id");
    if (!fires[i].run.SerializeToString(&data[i])) {
      return absl::InternalError("record fires: serialize failed");
    }
    job_ids.push_back(fires[i].run.job_id());
  }
  // Fires of jobs that no longer exist are dropped.
  absl::StatusOr<absl::flat_hash_map<std::string, Job>> jobs = impl_->LoadJobs(job_ids);
  if (!jobs.ok()) return jobs.status();
  std::vector<size_t> live;
  std::vector<Batch::Entry> index;
  for (size_t i = 0; i < fires.size(); ++i) {
    if (!jobs->contains(fires[i].run.job_id())) continue;
    live.push_back(i);
    impl_->AddRunIndex(fires[i].run, impl_->TtlFor(fires[i].run.status()), &index);
  }
  // One batch for the index entries of every fire, before the runs.
  if (absl::Status s = impl_->WriteBatches(index, "record fires: index"); !s.ok()) return s;

  std::vector<Batch::Entry> fixes;
  for (size_t i : live) {
    const Run& run = fires[i].run;
    absl::StatusOr<LwtResult> r = impl_->Lwt(impl_->q().insert_run, impl_->RunRowValues(run, data[i]),
                                             absl::StrCat("record run ", run.id()));
    if (!r.ok()) return r.status();
    stored[i] = r->applied;
    if (!r->applied && r->existing.has_value()) {
      absl::StatusOr<std::optional<Run>> existing = RunOfRow(*r->existing);
      if (existing.ok() && existing->has_value()) impl_->FixRunIndex(run, **existing, &fixes);
    }
  }
  if (absl::Status s = impl_->WriteBatches(fixes, "record fires: index"); !s.ok()) return s;

  // Each job once, as the fires would leave it applied in order: last_run of
  // its last fire, last_status of its last stored run, the schedule (and
  // status) of its last fire unless the job was edited since that fire was
  // planned.
  struct JobEffect {
    const FireRecord* last = nullptr;
    std::optional<std::string> last_status;
    std::optional<std::string> job_status;
  };
  std::map<std::string, JobEffect> effects;
  for (size_t i : live) {
    JobEffect& e = effects[fires[i].run.job_id()];
    e.last = &fires[i];
    if (stored[i]) e.last_status = fires[i].run.status();
    if (fires[i].job_status) e.job_status = fires[i].job_status;
  }
  for (const auto& [job_id, e] : effects) {
    const Job& job = jobs->at(job_id);
    const std::string what = absl::StrCat("record fire of ", job_id);
    const Value next_run = e.last->next_run ? Value(absl::ToUnixMicros(*e.last->next_run)) : Value::Null();
    const Value last_run = Value(absl::ToUnixMicros(e.last->last_run));
    const Value last_status = e.last_status ? Value(*e.last_status) : Value::Unset();
    const bool moves = e.job_status.has_value() && *e.job_status != job.status();
    const Value status = e.job_status ? Value(*e.job_status) : Value::Unset();
    if (moves) {
      if (absl::Status s = impl_->IndexJobStatus(job_id, *e.job_status); !s.ok()) return s;
    }
    absl::StatusOr<LwtResult> r =
        e.last->job_updated_at
            ? impl_->Lwt(impl_->q().fire_job_if_unchanged,
                         {next_run, status, last_run, last_status, Value(job_id),
                          Value(absl::ToUnixMicros(*e.last->job_updated_at)), Value(job.status())},
                         what)
            : impl_->Lwt(impl_->q().fire_job, {next_run, status, last_run, last_status, Value(job_id)},
                         what);
    if (!r.ok()) return r.status();
    if (r->applied) {
      if (moves) {
        if (absl::Status s = impl_->UnindexJobStatus(job_id, job.status()); !s.ok()) return s;
      }
      continue;
    }
    // Take our entry back unless the stored job has that status anyway.
    if (moves && (!r->existing.has_value() || TextOr(*r->existing, "status") != *e.job_status)) {
      (void)impl_->UnindexJobStatus(job_id, *e.job_status);
    }
    if (!r->existing.has_value()) continue;  // deleted meanwhile
    // Edited since the fire was planned: its schedule belongs to the new
    // definition; only the fire itself is recorded.
    absl::StatusOr<LwtResult> facts =
        impl_->Lwt(impl_->q().fire_job_facts, {last_run, last_status, Value(job_id)}, what);
    if (!facts.ok()) return facts.status();
  }
  return stored;
}

absl::StatusOr<int64_t> CassandraStore::PruneRuns(int keep_last, absl::Time keep_after) {
  if (keep_last < 0) return absl::InvalidArgumentError("prune runs: keep_last must be >= 0");
  const int64_t cutoff = absl::ToUnixMicros(keep_after);
  // Every job that has runs (the partition keys of runs_by_job: a scan of
  // the partition index, not of the rows), then a bounded scan per job.
  absl::StatusOr<std::vector<Row>> job_rows =
      impl_->Read(impl_->q().distinct_run_jobs, {}, "prune runs: list jobs");
  if (!job_rows.ok()) return job_rows.status();
  int64_t deleted = 0;
  for (const Row& job_row : *job_rows) {
    const std::string job_id = TextOr(job_row, "job_id");
    absl::StatusOr<std::vector<Row>> rows =
        impl_->Read(impl_->q().scan_runs_by_job, {Value(job_id)}, "prune runs: scan job");
    if (!rows.ok()) return rows.status();
    struct Entry {
      std::string id;
      int64_t created_at;
    };
    std::vector<Entry> entries;
    for (const Row& row : *rows) {
      entries.push_back({TextOr(row, "id"), Int64Of(row, "created_at").value_or(0)});
    }
    if (entries.size() <= static_cast<size_t>(keep_last)) continue;
    std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
      return a.created_at != b.created_at ? a.created_at > b.created_at : a.id > b.id;
    });
    std::vector<std::string> candidates;
    for (size_t i = static_cast<size_t>(keep_last); i < entries.size(); ++i) {
      if (entries[i].created_at < cutoff) candidates.push_back(entries[i].id);
    }
    if (candidates.empty()) continue;
    // Decided on the rows themselves, not on the index's copy.
    absl::StatusOr<absl::flat_hash_map<std::string, Run>> runs = impl_->LoadRuns(candidates);
    if (!runs.ok()) return runs.status();
    std::vector<Batch::Entry> deletes;
    int64_t n = 0;
    for (const std::string& id : candidates) {
      auto it = runs->find(id);
      if (it == runs->end()) {  // a stale entry: drop it
        deletes.push_back({impl_->q().delete_run_by_job, {Value(job_id), Value(id)}});
        continue;
      }
      const Run& run = it->second;
      if (IsActive(run.status()) || Micros(run.created_at()) >= cutoff) continue;
      deletes.push_back({impl_->q().delete_run, {Value(id)}});
      deletes.push_back({impl_->q().delete_run_id, {Value(int32_t{RunBucket(id)}), Value(id)}});
      deletes.push_back({impl_->q().delete_run_by_job, {Value(job_id), Value(id)}});
      ++n;
    }
    if (absl::Status s = impl_->WriteBatches(deletes, "prune runs"); !s.ok()) return s;
    deleted += n;
  }
  return deleted;
}

}  // namespace dts::storage
