-- Jobs and runs. Each row keeps the whole proto in `data`; the other columns
-- are copies of the fields that queries filter or sort on, written from the
-- proto on every insert and update. Times are Unix microseconds (UTC).
-- Applied inside a transaction by the migrator: no BEGIN/COMMIT here.

CREATE TABLE jobs (
  id         TEXT    NOT NULL PRIMARY KEY,
  name       TEXT    NOT NULL,
  status     TEXT    NOT NULL,
  next_run   INTEGER,             -- NULL: no next fire known
  shard      INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  data       BLOB    NOT NULL     -- serialized dts.v1.JobResponse
);

-- ListJobs with a status filter: keyset paging within one status.
CREATE INDEX jobs_status_id ON jobs (status, id);

-- No foreign key to jobs: the store contract does not require the job to
-- exist when a run is recorded (the Cassandra backend could not check it),
-- and DeleteJob removes a job's runs itself, in the same transaction.
CREATE TABLE runs (
  id             TEXT    NOT NULL PRIMARY KEY,
  job_id         TEXT    NOT NULL,
  status         TEXT    NOT NULL,
  scheduled_time INTEGER,         -- NULL: not a scheduled fire
  created_at     INTEGER NOT NULL,
  data           BLOB    NOT NULL -- serialized dts.v1.ExecutionResponse
);

-- A job's run history (ListRuns by job) and DeleteJob's cascade.
CREATE INDEX runs_job_id ON runs (job_id, id);
-- ListRuns by status across jobs.
CREATE INDEX runs_status_id ON runs (status, id);
