"""Data survives a restart of the real `dts server` on the same data dir:
after a clean stop (SIGTERM) and after a crash (SIGKILL)."""

import os
import signal
import stat
import uuid

import pytest

from conftest import Server

DEFAULT_CRON = "0 3 1 1 *"  # once a year, so that no fire changes what is compared

# What a user set, plus what the server set at creation: none of this may
# change across a restart. (last_run, last_status and next_run may, once the
# engine runs jobs.)
STABLE_FIELDS = ("id", "name", "description", "cron_expression", "status", "created_at",
                 "metadata", "priority", "max_retries", "timeout", "timezone", "executor",
                 "resources", "constraints", "overlap_policy", "misfire_policy",
                 "retry_backoff", "schedule_anchor")


def create(server, **fields):
    status, body = server.request("POST", "/v1/jobs",
                                  {"name": "job", "cron_expression": DEFAULT_CRON, **fields})
    assert status == 200, body
    return body["job_id"]


def get(server, job_id):
    status, body = server.request("GET", f"/v1/jobs/{job_id}")
    assert status == 200, (job_id, body)
    return body


def stable(job):
    return {k: job.get(k) for k in STABLE_FIELDS}


def all_jobs(server):
    status, page = server.request("GET", "/v1/jobs?page_size=1000")
    assert status == 200, page
    assert page["next_page"] == ""
    return {j["id"]: stable(j) for j in page["jobs"]}


def populate(server, tag):
    """Creates jobs of every kind, updates and deletes some; returns
    (ids of the jobs that must exist, ids that must not, execution ids)."""
    ids = [
        create(server, name=f"{tag} plain"),
        create(server, name=f"{tag} full \u00e9\u00e8", description="every field",
               metadata={"team": "data", "k" * 128: "v" * 4096}, priority=9, max_retries=3,
               timeout=60, timezone="America/New_York",
               executor={"command": {"argv": ["/bin/echo", "a b"], "env": {"X": "1"}}},
               resources={"cpu": 250, "memory": 32, "storage": 5}, constraints={"zone": "z"},
               overlap_policy="replace", misfire_policy="run_all",
               retry_backoff={"initial_seconds": 2, "max_seconds": 20, "multiplier": 1.5}),
        create(server, name=f"{tag} paused", status="paused"),
        create(server, name=f"{tag} http",
               executor={"http": {"url": "http://127.0.0.1:9/x", "method": "POST"}}),
        create(server, name=f"{tag} every", cron_expression="@every 90s"),
    ]
    updated = create(server, name=f"{tag} to update")
    status, body = server.request("PUT", f"/v1/jobs/{updated}",
                                  {"description": "updated", "metadata": {"v": "2"}})
    assert status == 200, body
    cancelled = create(server, name=f"{tag} to cancel")
    assert server.request("POST", f"/v1/jobs/{cancelled}/cancel")[0] == 200
    ids += [updated, cancelled]
    deleted = create(server, name=f"{tag} to delete")
    assert server.request("DELETE", f"/v1/jobs/{deleted}")[0] == 200
    triggered = create(server, name=f"{tag} triggered", status="paused")
    status, body = server.request("POST", f"/v1/jobs/{triggered}/run")
    assert status == 200, body
    ids.append(triggered)
    return ids, [deleted], [(body["execution_id"], triggered)]


def check(server, expected, deleted, runs):
    assert all_jobs(server) == expected
    for job_id, job in expected.items():
        assert stable(get(server, job_id)) == job
    for job_id in deleted:
        status, body = server.request("GET", f"/v1/jobs/{job_id}")
        assert status == 404, body
    for run_id, job_id in runs:
        status, run = server.request("GET", f"/v1/executions/{run_id}")
        assert status == 200, run
        assert run["job_id"] == job_id and run["trigger"] == "MANUAL"
    status, page = server.request("GET", "/v1/jobs?page_size=1")
    assert page["total"] == len(expected)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["sigterm", "sigkill"])
def test_data_survives_restarts(data_dir, sig):
    server = Server(data_dir)
    expected, deleted, runs = {}, [], []
    try:
        for cycle in range(3):
            ids, gone, triggered = populate(server, f"cycle {cycle}")
            expected.update({job_id: stable(get(server, job_id)) for job_id in ids})
            deleted += gone
            runs += triggered
            check(server, expected, deleted, runs)

            code = server.stop(sig)
            assert code == (0 if sig == signal.SIGTERM else -signal.SIGKILL), server.output()
            server = Server(data_dir)
            check(server, expected, deleted, runs)
        # Still writable after the restarts.
        job_id = create(server, name="after")
        assert get(server, job_id)["name"] == "after"
    finally:
        server.stop()


def test_data_dir_is_private(data_dir):
    assert not data_dir.exists()
    server = Server(data_dir)
    try:
        create(server)
    finally:
        server.stop()
    mode = stat.S_IMODE(os.stat(data_dir).st_mode)
    if os.geteuid() == 0:
        # Commands run as nobody and must pass through to their scratch
        # directories (docs/security.md, "Execution"): others may enter the
        # data dir but not list it, and the database is owner-only.
        assert mode == 0o711, oct(mode)
        db_mode = stat.S_IMODE(os.stat(data_dir / "dts.db").st_mode)
        assert db_mode & 0o077 == 0, oct(db_mode)
    else:
        assert mode == 0o700, oct(mode)


def test_data_dir_stays_closed_when_commands_run_as_the_server(data_dir):
    if os.geteuid() != 0:
        pytest.skip("--allow-root is for a root server")
    server = Server(data_dir, ["--allow-root"])
    server.stop()
    assert stat.S_IMODE(os.stat(data_dir).st_mode) == 0o700


def test_unknown_id_after_restart_is_still_404(data_dir):
    server = Server(data_dir)
    server.stop()
    server = Server(data_dir)
    try:
        status, body = server.request("GET", f"/v1/jobs/{uuid.uuid4()}")
        assert status == 404 and body["code"] == 5, body
        status, page = server.request("GET", "/v1/jobs")
        assert status == 200 and page["jobs"] == [] and page["total"] == 0
    finally:
        server.stop()
