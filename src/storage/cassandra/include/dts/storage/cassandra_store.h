#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "dts/cql/client.h"
#include "dts/storage/store.h"

namespace dts::storage {

// Where a Cassandra deployment lives: the cluster, the login, the keyspace.
struct CassandraConfig {
  // CASSANDRA_HOSTS-style list, "h1:9042,h2" (port 9042 when omitted).
  std::string hosts = "127.0.0.1:9042";
  std::string keyspace = "task_scheduler";  // the seed's default
  // PasswordAuthenticator login; empty: no authentication.
  std::string username;
  std::string password;
  // How a missing keyspace is created (never changed once it exists):
  // "SimpleStrategy" (replication factor 1), "SimpleStrategy:3", or
  // "NetworkTopologyStrategy:dc1=3,dc2=2".
  std::string replication = "SimpleStrategy:1";
  // TLS to the nodes (CASSANDRA_TLS*); off by default.
  cql::TlsOptions tls;
  absl::Duration connect_timeout = absl::Seconds(5);
  absl::Duration request_timeout = absl::Seconds(12);
};

// The distributed deployment's Store, on Apache Cassandra through our own CQL
// client (dts_cql). One table per query, no secondary index, no ALLOW
// FILTERING; see src/storage/cassandra/README.md for the tables, the
// consistency levels and what each part of the Store contract costs.
// Thread-safe.
//
// Runs are inserted with INSERT ... IF NOT EXISTS (Paxos), so a run id is
// stored once whichever process records it; this is what keeps a fire from
// running twice across restarts and scheduler failover.
class CassandraStore final : public Store {
 public:
  struct Options {
    CassandraConfig config;
    // Use this client (already connected) instead of connecting; tests share
    // one, and so can a process with several stores. Table names are always
    // qualified with the keyspace, so the client's own keyspace is irrelevant.
    std::shared_ptr<cql::Client> client;
    // The jobs_by_shard partition of a job: ShardOf(job id, shard_count).
    // Fixed for the life of a keyspace.
    int shard_count = 64;
    // When positive, runs written in a final status (COMPLETED, FAILED, ...)
    // carry this TTL, so history expires even if PruneRuns never runs. This
    // is the retention age (PruneRuns' keep_after = now - run_ttl), counted
    // from when the run became final; keep_last is then best effort: a run
    // older than the TTL expires even if it is among its job's newest. Zero:
    // no TTL, PruneRuns alone deletes, and the Store contract holds exactly.
    absl::Duration final_run_ttl = absl::ZeroDuration();
  };

  // Connects (unless options.client is set) and checks that the keyspace
  // has been migrated. UNAVAILABLE when no host answers, UNAUTHENTICATED for
  // bad credentials, FAILED_PRECONDITION when the schema is missing (run
  // `dts migrate --backend cassandra`), INVALID_ARGUMENT for bad options.
  static absl::StatusOr<std::unique_ptr<CassandraStore>> Create(Options options);

  ~CassandraStore() override;
  CassandraStore(const CassandraStore&) = delete;
  CassandraStore& operator=(const CassandraStore&) = delete;

  // Moves run `id` from status `from` to `to` with a lightweight transaction
  // (UPDATE ... IF status = from): of any number of concurrent claims from
  // the same status, exactly one returns true. False when the run is not in
  // `from` (someone else claimed it); NOT_FOUND when there is no such run.
  // Changes only the status (and the indexes that follow it), not the job's
  // last_status; a worker records the outcome later with UpdateRun.
  absl::StatusOr<bool> ClaimRun(const RunId& id, absl::string_view from, absl::string_view to);
  // ClaimRun that also replaces the stored record with `next` (whose status
  // is the new status): a worker's claim records its worker id and start
  // time with the move to RUNNING, and its result moves RUNNING to a final
  // status only if nobody failed the run over meanwhile. The indexes and the
  // job's last_status follow as for UpdateRun. False when the stored status
  // is not `from`; NOT_FOUND when there is no such run.
  absl::StatusOr<bool> TransitionRun(const Run& next, absl::string_view from);

  // Every job of `shard` (jobs_by_shard, Options::shard_count), by id: what
  // a scheduler instance loads when it is assigned the shard.
  absl::StatusOr<std::vector<Job>> ListJobsOfShard(int shard);
  // Records that `owner` has recorded every fire of `shard` due up to
  // `fired_through` (shard_checkpoints).
  absl::Status SaveShardCheckpoint(int shard, absl::Time fired_through, absl::string_view owner);
  struct ShardCheckpoint {
    int shard = 0;
    absl::Time fired_through;
    std::string owner;
  };
  // NOT_FOUND when the shard has none yet.
  absl::StatusOr<ShardCheckpoint> GetShardCheckpoint(int shard);

  // Workers' liveness through Cassandra (table workers), besides their Kafka
  // heartbeats: a scheduler that hears nothing over Kafka asks here before it
  // declares a worker DOWN, so that a Kafka outage is not taken for dead
  // workers. Rows expire a day after the last write.
  absl::Status RecordWorkerAlive(const WorkerId& worker, absl::Time at, absl::string_view state);
  // When `worker` last recorded itself alive; NOT_FOUND if never (or long ago).
  absl::StatusOr<absl::Time> WorkerLastAlive(const WorkerId& worker);

  const std::string& keyspace() const { return keyspace_; }

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
  // SELECT release_version FROM system.local, within 2 s.
  absl::Status Ping() override;

 private:
  class Impl;
  explicit CassandraStore(std::unique_ptr<Impl> impl, std::string keyspace);
  std::unique_ptr<Impl> impl_;
  const std::string keyspace_;
};

// The client options for `config` (hosts parsed, credentials, timeouts).
absl::StatusOr<cql::ClientOptions> CassandraClientOptions(const CassandraConfig& config);

// The `replication = {...}` map for a CassandraConfig::replication spec, e.g.
// "{'class': 'SimpleStrategy', 'replication_factor': 1}". INVALID_ARGUMENT
// for anything else.
absl::StatusOr<std::string> CassandraReplication(absl::string_view spec);

// One migration file, migrations/cassandra/NNN_name.cql: `version` is the
// name without ".cql", `cql` its text (statements separated by ';').
struct CassandraMigration {
  std::string version;
  std::string cql;
};

// The files of migrations/cassandra embedded in this binary, by version.
const std::vector<CassandraMigration>& EmbeddedCassandraMigrations();

// `dts migrate --backend cassandra`: creates the keyspace if missing (with
// config.replication), then applies, in version order, each migration not
// recorded in <keyspace>.schema_migrations, statement by statement, and
// records it with a checksum of its text. Returns the versions applied
// (empty when up to date). FAILED_PRECONDITION naming the file when an
// applied migration's text has changed since, or when the keyspace records a
// version this binary does not know; a failing statement stops the run with
// an error naming the file and the statement, and that file is not recorded
// (statements before it in the file stay applied: Cassandra has no
// transactional DDL, which is why migrations use IF NOT EXISTS).
absl::StatusOr<std::vector<std::string>> MigrateCassandra(const CassandraConfig& config);
absl::StatusOr<std::vector<std::string>> MigrateCassandra(
    const CassandraConfig& config, const std::vector<CassandraMigration>& migrations);

}  // namespace dts::storage
