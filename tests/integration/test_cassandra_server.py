"""`dts server --storage cassandra` end to end, against the real Cassandra of
scripts/services.sh (ctest label `cassandra`, not `e2e`: it needs the server).

On a fresh keyspace (created by the server's own migration at start-up):
a job firing every second (no executor: noop) is created over HTTP and
fires; the server is killed with SIGKILL and started again on the same
keyspace; afterwards no scheduled time of the job has more than one run,
which is what the conditional insert of the deterministic run id
guarantees, and the job fires again after the restart. Also: the
CASSANDRA_TLS* settings, against the dev server's TLS port.

Endpoint and login: CASSANDRA_HOSTS (default 127.0.0.1) with
DTS_CASSANDRA_PORT (default 9042) for hosts without a port, and
CASSANDRA_USERNAME / CASSANDRA_PASSWORD (default cassandra / cassandra).
"""

import collections
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "e2e"))  # the e2e helpers: Server, list_runs, ...
sys.path.insert(0, str(ROOT / "scripts"))
import cql  # noqa: E402  (scripts/cql.py)
from conftest import DTS, Server, create_job, list_runs, wait_for  # noqa: E402

EVERY_SECOND = "* * * * * *"


def cassandra_env():
    port = os.environ.get("DTS_CASSANDRA_PORT", "9042")
    hosts = []
    for host in os.environ.get("CASSANDRA_HOSTS", "127.0.0.1").split(","):
        host = host.strip()
        if host:
            hosts.append(host if ":" in host else f"{host}:{port}")
    return {
        "CASSANDRA_HOSTS": ",".join(hosts),
        "CASSANDRA_USERNAME": os.environ.get("CASSANDRA_USERNAME", "cassandra"),
        "CASSANDRA_PASSWORD": os.environ.get("CASSANDRA_PASSWORD", "cassandra"),
    }


def drop_keyspace(keyspace):
    host, port = cassandra_env()["CASSANDRA_HOSTS"].split(",")[0].rsplit(":", 1)
    user, password = cql.default_credentials()
    conn = cql.connect(host, int(port), timeout=60.0, user=user, password=password)
    try:
        conn.query(f"DROP KEYSPACE IF EXISTS {keyspace}")
    finally:
        conn.close()


def runs_per_second(server, job_id):
    counts = collections.Counter()
    for run in list_runs(server, job_id=job_id):
        counts[run.get("scheduled_time", "")] += 1
    return counts


def test_fires_and_never_doubles_a_run_across_a_kill(tmp_path):
    keyspace = f"dts_e2e_{uuid.uuid4().hex[:10]}"
    args = ["--storage", "cassandra", "--cassandra-keyspace", keyspace]
    env = cassandra_env()
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    server = None
    try:
        server = Server(data_dir, args, env=env)
        job_id = create_job(server, name="every second", cron_expression=EVERY_SECOND)
        wait_for(lambda: sum(runs_per_second(server, job_id).values()) >= 3, timeout=60,
                 message="three runs of the job")
        code, job = server.request("GET", f"/v1/jobs/{job_id}")
        assert code == 200, job
        assert job.get("last_run"), job

        # Killed while firing: whatever it was recording when it died is
        # either stored or not, never half; the next process picks up from
        # what is stored.
        server.stop(signal.SIGKILL)
        server = Server(data_dir, args, env=env)
        seen = sum(runs_per_second(server, job_id).values())
        wait_for(lambda: sum(runs_per_second(server, job_id).values()) >= seen + 3, timeout=60,
                 message="three more runs after the restart")
        counts = runs_per_second(server, job_id)
        doubled = {t: n for t, n in counts.items() if n > 1}
        assert not doubled, f"scheduled times with more than one run: {doubled}"
        assert "" not in counts, "every run of a cron job has its scheduled time"
        # Every run finishes (noop), so no run was left behind by the kill.
        wait_for(lambda: not [r for r in list_runs(server, job_id=job_id)
                              if r["status"] in ("PENDING", "QUEUED", "RUNNING", "RETRYING")
                              and r["scheduled_time"] < counts_cutoff(counts)],
                 timeout=30, message="the runs before the restart to finish")
    finally:
        if server is not None:
            server.stop()
        drop_keyspace(keyspace)


def dev_tls_dir():
    """Where scripts/services.sh put the dev server's throw-away CA."""
    if os.environ.get("DTS_CASSANDRA_TLS_DIR"):
        return Path(os.environ["DTS_CASSANDRA_TLS_DIR"])
    root = os.environ.get("DTS_SERVICES_DIR",
                          os.path.join(os.environ.get("TMPDIR", "/tmp"), "dts-services"))
    return Path(root) / f"cassandra-{os.environ.get('DTS_CASSANDRA_PORT', '9042')}" / "tls"


def migrate(keyspace, extra_env):
    env = dict(os.environ, **cassandra_env(), CASSANDRA_KEYSPACE=keyspace, **extra_env)
    return subprocess.run([DTS, "migrate", "--backend", "cassandra"], env=env,
                          capture_output=True, text=True, timeout=300)


def test_tls_settings_reach_every_connection(tmp_path):
    """CASSANDRA_TLS* from the environment: `dts migrate` and `dts server`
    talk TLS to the node, a wrong name is refused, bad settings exit 2."""
    keyspace = f"dts_tls_{uuid.uuid4().hex[:10]}"
    tls = {"CASSANDRA_TLS": "true", "CASSANDRA_TLS_CA": str(dev_tls_dir() / "ca.pem")}
    server = None
    try:
        done = migrate(keyspace, tls)
        assert done.returncode == 0, done.stderr

        wrong_name = migrate(keyspace, dict(tls, CASSANDRA_TLS_SERVER_NAME="db.elsewhere.test"))
        assert wrong_name.returncode != 0
        assert "certificate verify failed" in wrong_name.stderr, wrong_name.stderr

        missing_ca = migrate(keyspace, dict(tls, CASSANDRA_TLS_CA=str(tmp_path / "none.pem")))
        assert missing_ca.returncode == 2, missing_ca.stderr
        assert "CASSANDRA_TLS_CA" in missing_ca.stderr, missing_ca.stderr

        no_switch = migrate(keyspace, {"CASSANDRA_TLS_CA": tls["CASSANDRA_TLS_CA"]})
        assert no_switch.returncode == 2, no_switch.stderr
        assert "CASSANDRA_TLS=true" in no_switch.stderr, no_switch.stderr

        data_dir = tmp_path / "data"
        data_dir.mkdir()
        server = Server(data_dir, ["--storage", "cassandra", "--cassandra-keyspace", keyspace],
                        env=dict(cassandra_env(), **tls))
        job_id = create_job(server, name="over tls", cron_expression=EVERY_SECOND)
        wait_for(lambda: sum(runs_per_second(server, job_id).values()) >= 2, timeout=60,
                 message="two runs recorded over TLS")
    finally:
        if server is not None:
            server.stop()
        drop_keyspace(keyspace)


def counts_cutoff(counts):
    # The latest scheduled time seen when the duplicate check ran: runs up to
    # it have had time to finish.
    return max(counts) if counts else ""


if __name__ == "__main__":
    import pytest
    sys.exit(pytest.main([__file__, "-q", "-p", "no:cacheprovider"]))
