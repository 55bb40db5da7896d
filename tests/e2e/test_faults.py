"""Fault tests of the embedded server (issue 10, docs/reliability.md):

- SIGKILL during bursts of API writes: the SQLite file opens clean
  (integrity_check) and no acknowledged write is lost.
- Disk full, made with RLIMIT_FSIZE on the running server (prlimit): writes
  fail with a clean JSON error while reads go on, nothing is corrupted, and
  writes succeed again once the limit is lifted, without a restart.

Durability setting: WAL with synchronous=NORMAL (src/storage/sqlite). A commit
is durable against a process crash (SIGKILL) as soon as it returns; only an
operating-system crash or power loss can lose the last commits before a WAL
checkpoint. These tests kill the process, which is what they can prove.
"""

import os
import resource
import signal
import sqlite3
import threading
import time

from conftest import Server, create_job

WRITERS = 4


def acknowledged_writes(server, stop, acked, errors):
    """Creates jobs until `stop`, keeping the ids the server acknowledged."""
    def writer(n):
        i = 0
        while not stop.is_set():
            i += 1
            try:
                code, body = server.request("POST", "/v1/jobs", {
                    "name": f"burst-{n}-{i}", "cron_expression": "0 0 1 1 *",
                    "metadata": {"pad": "x" * 512}})
            except OSError:
                return  # the server is gone: this write was not acknowledged
            if code == 200:
                acked.append(body["job_id"])
            else:
                errors.append((code, body))
    threads = [threading.Thread(target=writer, args=(n,)) for n in range(WRITERS)]
    for t in threads:
        t.start()
    return threads


def integrity(db_path):
    con = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        return con.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        con.close()


def test_sigkill_during_write_bursts_loses_no_acknowledged_write(data_dir):
    acked = []
    for round_ in range(3):
        server = Server(data_dir)
        stop = threading.Event()
        errors = []
        burst = []
        threads = acknowledged_writes(server, stop, burst, errors)
        time.sleep(1.0 + 0.3 * round_)  # mid-burst, at a different point each round
        server.proc.send_signal(signal.SIGKILL)
        server.proc.wait()
        stop.set()
        for t in threads:
            t.join()
        assert not errors, errors[:3]
        assert burst, "the burst acknowledged nothing before the kill"
        acked.extend(burst)
        assert integrity(data_dir / "dts.db") == "ok"
    server = Server(data_dir)
    try:
        for job_id in acked:
            code, body = server.request("GET", f"/v1/jobs/{job_id}")
            assert code == 200, (job_id, body)
    finally:
        server.stop()


def wal_and_db_bytes(data_dir):
    return sum(os.path.getsize(p) for p in data_dir.glob("dts.db*"))


def test_disk_full_fails_writes_cleanly_and_recovers(data_dir):
    # The server ignores SIGXFSZ, so a write past RLIMIT_FSIZE fails with
    # EFBIG, which SQLite reports like a full disk (ENOSPC).
    server = Server(data_dir)
    try:
        kept = [create_job(server, cron_expression="0 0 1 1 *") for _ in range(5)]
        limit = wal_and_db_bytes(data_dir) + 64 * 1024
        # The soft limit only: raising it back needs no privilege.
        soft, hard = resource.prlimit(server.proc.pid, resource.RLIMIT_FSIZE)
        resource.prlimit(server.proc.pid, resource.RLIMIT_FSIZE, (limit, hard))
        failure = None
        for i in range(2000):
            code, body = server.request("POST", "/v1/jobs", {
                "name": f"fill-{i}", "cron_expression": "0 0 1 1 *",
                "metadata": {"pad": "y" * 4000}})
            if code != 200:
                failure = (code, body)
                break
            kept.append(body["job_id"])
        assert failure is not None, "the writes never hit the limit"
        code, body = failure
        assert code >= 500 and isinstance(body, dict) and body.get("message"), failure
        assert server.proc.poll() is None, "the server died"
        # Reads go on while the disk is full.
        code, _ = server.request("GET", f"/v1/jobs/{kept[0]}")
        assert code == 200

        resource.prlimit(server.proc.pid, resource.RLIMIT_FSIZE, (soft, hard))
        # Space is back: writes succeed again without a restart (the first
        # may still meet the failed transaction's rollback).
        def writes_again():
            code, body = server.request("POST", "/v1/jobs", {
                "name": "after", "cron_expression": "0 0 1 1 *"})
            return body["job_id"] if code == 200 else None
        deadline = time.monotonic() + 30
        after = None
        while after is None and time.monotonic() < deadline:
            after = writes_again()
            if after is None:
                time.sleep(0.2)
        assert after, "writes did not recover once space returned"
        kept.append(after)
    finally:
        server.stop()
    assert integrity(data_dir / "dts.db") == "ok"
    server = Server(data_dir)
    try:
        for job_id in kept:
            code, body = server.request("GET", f"/v1/jobs/{job_id}")
            assert code == 200, (job_id, body)
    finally:
        server.stop()
