#!/usr/bin/env python3
"""Smoke test against a real Cassandra (scripts/services.sh up cassandra).

Creates a keyspace and a table with unique names, inserts a row, reads it back
and checks the value, then drops the keyspace. Talks CQL native protocol v4
through scripts/cql.py. The server comes from CASSANDRA_HOSTS (first host,
default 127.0.0.1) and CASSANDRA_PORT (default 9042); the server runs
PasswordAuthenticator and the login comes from CASSANDRA_USERNAME and
CASSANDRA_PASSWORD (default cassandra/cassandra).

Exit status 0 on success, 1 on any failure (ctest reads the exit status).
"""

import os
import sys
import time
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts"))
import cql  # noqa: E402  (scripts/cql.py)


def main():
    host = os.environ.get("CASSANDRA_HOSTS", "127.0.0.1").split(",")[0].strip()
    port = int(os.environ.get("CASSANDRA_PORT", "9042"))
    suffix = uuid.uuid4().hex[:12]
    keyspace = f"dts_smoke_{suffix}"
    value = f"value-{suffix}"

    try:
        user, password = cql.default_credentials()
        conn = cql.connect(host, port, timeout=60.0, user=user, password=password)
    except cql.CqlError as e:
        print(f"FAIL: cannot log in to Cassandra at {host}:{port}: {e}")
        return 1
    except (OSError, ValueError) as e:
        print(f"FAIL: cannot connect to Cassandra at {host}:{port}: {e}")
        return 1
    try:
        _, rows = conn.query("SELECT release_version FROM system.local")
        print(f"connected to {host}:{port}, Cassandra {rows[0][0]}")
        conn.query(f"CREATE KEYSPACE {keyspace} WITH replication = "
                   "{'class': 'SimpleStrategy', 'replication_factor': 1}")
        conn.query(f"CREATE TABLE {keyspace}.kv (k text PRIMARY KEY, v text, n int)")
        conn.query(f"INSERT INTO {keyspace}.kv (k, v, n) VALUES ('smoke', '{value}', 42)")
        columns, rows = conn.query(f"SELECT k, v, n FROM {keyspace}.kv WHERE k = 'smoke'")
        expected = [["smoke", value, 42]]
        if columns != ["k", "v", "n"] or rows != expected:
            print(f"FAIL: read back columns={columns} rows={rows}, expected {expected}")
            return 1
        _, missing = conn.query(f"SELECT v FROM {keyspace}.kv WHERE k = 'absent'")
        if missing:
            print(f"FAIL: expected no row for an absent key, got {missing}")
            return 1
        conn.query(f"DROP KEYSPACE {keyspace}")
    except (cql.CqlError, OSError, ValueError) as e:
        print(f"FAIL: {e}")
        return 1
    finally:
        conn.close()
    print(f"PASS: wrote and read back {value!r} in {keyspace}.kv")
    return 0


if __name__ == "__main__":
    started = time.monotonic()
    rc = main()
    print(f"took {time.monotonic() - started:.1f} s")
    sys.exit(rc)
