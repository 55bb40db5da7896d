"""Runs end to end: the real `dts server` fires jobs, executes them (command,
HTTP, no executor) and records their outcomes (docs/runs.md).

Every wait polls with a generous deadline and fails instead of hanging; no
assertion depends on how fast something happened, only on what the
semantics allow (a run cannot time out before its timeout, a fire cannot be
recorded before its scheduled time, ...)."""

import json
import os
import re
import signal
import subprocess
import threading
import tempfile
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import pytest

from conftest import Server, create_job, get_job, list_runs, parse_time, time_parts, wait_for

EVERY_SECOND = "* * * * * *"
ACTIVE_STATUSES = ("PENDING", "QUEUED", "RUNNING", "RETRYING")


# ---- helpers ----

def finished(run):
    return run["status"] not in ACTIVE_STATUSES


def first_finished_run(server, job_id, timeout=30):
    """The earliest (by scheduled_time) finished run of the job, waiting for one."""
    def find():
        runs = sorted((r for r in list_runs(server, job_id) if finished(r)),
                      key=lambda r: parse_time(r["scheduled_time"]))
        return runs[0] if runs else None
    return wait_for(find, timeout=timeout, message=f"a finished run of job {job_id}")


def wait_run(server, run_id, predicate=finished, timeout=30):
    def find():
        code, run = server.request("GET", f"/v1/executions/{run_id}")
        assert code == 200, run
        return run if predicate(run) else None
    return wait_for(find, timeout=timeout, message=f"run {run_id}")


def delete_job(server, job_id):
    code, body = server.request("DELETE", f"/v1/jobs/{job_id}")
    assert code == 200, body


def trigger(server, job_id):
    code, body = server.request("POST", f"/v1/jobs/{job_id}/run")
    assert code == 200, body
    return body["execution_id"]


def marker():
    """A unique `sleep` argument (100.<9 random digits> seconds) to find the
    process with `pgrep -f`."""
    return f"100.{uuid.uuid4().int % 10**9:09d}"


def pids_of(mark):
    out = subprocess.run(["pgrep", "-f", re.escape(mark)], capture_output=True, text=True)
    return [int(p) for p in out.stdout.split()]


def assert_run_times(run):
    """The invariants of a run that started: scheduled <= created <= start <= end."""
    scheduled = parse_time(run["scheduled_time"])
    created = parse_time(run["created_at"])
    start = parse_time(run["start_time"])
    end = parse_time(run["end_time"])
    assert scheduled <= created <= start <= end, run


def assert_scheduled_fire(run, job_id):
    assert run["job_id"] == job_id, run
    assert run["trigger"] == "SCHEDULE", run
    assert run["attempt"] == 1, run
    assert run["missed_count"] == 0, run
    assert time_parts(run["scheduled_time"])[1] == 0, f"not on a whole second: {run}"


# ---- command executor ----

def test_command_failure_is_recorded(server):
    job_id = create_job(server, name="fails", cron_expression=EVERY_SECOND,
                        executor={"command": {"argv": ["/bin/sh", "-c", "echo out; echo err >&2; exit 3"]}})
    run = first_finished_run(server, job_id)
    delete_job(server, job_id)

    assert_scheduled_fire(run, job_id)
    assert run["status"] == "FAILED", run
    assert run["exit_code"] == 3, run
    # stdout and stderr share one pipe: interleaved, in the order written.
    assert run["result"] == "out\nerr\n", run
    assert "status 3" in run["error"], run
    assert run["worker_id"] == "local", run
    assert_run_times(run)


def test_command_success_is_recorded(server):
    job_id = create_job(server, name="succeeds", cron_expression=EVERY_SECOND,
                        executor={"command": {"argv": ["/bin/sh", "-c", "echo hello; echo $MODE"],
                                              "env": {"MODE": "from-env"}}})
    run = first_finished_run(server, job_id)
    # The single-run route returns the same record.
    code, same = server.request("GET", f"/v1/executions/{run['id']}")
    delete_job(server, job_id)
    assert code == 200 and same == run, same

    assert_scheduled_fire(run, job_id)
    assert run["status"] == "COMPLETED", run
    assert run["exit_code"] == 0, run
    assert run["result"] == "hello\nfrom-env\n", run
    assert run["error"] == "", run
    assert run["worker_id"] == "local", run
    assert_run_times(run)


def test_argv_is_not_shell_interpreted(server):
    job_id = create_job(server, name="literal", cron_expression=EVERY_SECOND,
                        executor={"command": {"argv": ["/bin/echo", "$HOME; ls", "*", "a  b"]}})
    run = first_finished_run(server, job_id)
    delete_job(server, job_id)
    assert run["status"] == "COMPLETED", run
    assert run["result"] == "$HOME; ls * a  b\n", run


def test_shell_script_is_run_by_sh(server):
    job_id = create_job(server, name="script", cron_expression=EVERY_SECOND,
                        executor={"command": {"argv": ["echo $((40 + 2)); exit 7"], "shell": True}})
    run = first_finished_run(server, job_id)
    delete_job(server, job_id)
    assert run["status"] == "FAILED", run
    assert run["exit_code"] == 7, run
    assert run["result"] == "42\n", run


def test_missing_program_fails_the_run(server):
    job_id = create_job(server, name="missing", cron_expression=EVERY_SECOND,
                        executor={"command": {"argv": [f"/nonexistent/{uuid.uuid4()}"]}})
    run = first_finished_run(server, job_id)
    delete_job(server, job_id)
    assert run["status"] == "FAILED", run
    assert run["error"] != "", run


# ---- HTTP executor ----

class _Recorder(BaseHTTPRequestHandler):
    """Answers /status/<code>/<tag> with <code> and the body "<tag> says <code>",
    and remembers every request."""
    protocol_version = "HTTP/1.1"

    def _handle(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        parts = urlsplit(self.path).path.strip("/").split("/")
        with self.server.lock:
            self.server.requests.append({"method": self.command, "path": self.path,
                                         "headers": {k.lower(): v for k, v in self.headers.items()},
                                         "body": body})
        code = int(parts[1]) if len(parts) == 3 and parts[0] == "status" else 404
        payload = f"{parts[-1]} says {code}".encode()
        self.send_response(code)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _handle

    def log_message(self, *args):
        pass


@pytest.fixture
def http_target():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    httpd.daemon_threads = True
    httpd.requests = []
    httpd.lock = threading.Lock()
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    httpd.base = f"http://127.0.0.1:{httpd.server_address[1]}"
    yield httpd
    httpd.shutdown()
    httpd.server_close()


def test_http_jobs(server, http_target):
    base = http_target.base
    jobs = {
        "ok": {"url": f"{base}/status/200/ok"},
        "fail": {"url": f"{base}/status/500/fail"},
        "created": {"url": f"{base}/status/201/created", "method": "POST",
                    "headers": {"X-Token": "t-123", "X-Other": "two words"},
                    "body": '{"hello": "world"}', "expected_status": 201},
        "unexpected": {"url": f"{base}/status/200/unexpected", "expected_status": 204},
        "put": {"url": f"{base}/status/202/put", "method": "PUT", "body": "payload"},
    }
    ids = {tag: create_job(server, name=f"http {tag}", cron_expression=EVERY_SECOND,
                           executor={"http": spec}) for tag, spec in jobs.items()}
    runs = {tag: first_finished_run(server, job_id) for tag, job_id in ids.items()}
    for job_id in ids.values():
        delete_job(server, job_id)

    for tag, run in runs.items():
        assert_scheduled_fire(run, ids[tag])
        assert run["worker_id"] == "local", run
        assert_run_times(run)

    ok = runs["ok"]
    assert ok["status"] == "COMPLETED" and ok["exit_code"] == 200, ok
    assert ok["result"] == "ok says 200" and ok["error"] == "", ok

    fail = runs["fail"]
    assert fail["status"] == "FAILED" and fail["exit_code"] == 500, fail
    assert fail["result"] == "fail says 500", fail
    assert "500" in fail["error"], fail

    created = runs["created"]
    assert created["status"] == "COMPLETED" and created["exit_code"] == 201, created
    assert created["result"] == "created says 201", created

    unexpected = runs["unexpected"]
    assert unexpected["status"] == "FAILED" and unexpected["exit_code"] == 200, unexpected
    assert "204" in unexpected["error"], unexpected

    put = runs["put"]
    assert put["status"] == "COMPLETED" and put["exit_code"] == 202, put

    with http_target.lock:
        requests = list(http_target.requests)
    by_tag = {}
    for r in requests:
        by_tag.setdefault(r["path"].rsplit("/", 1)[-1], []).append(r)
    assert set(by_tag) == set(jobs), [r["path"] for r in requests]
    for r in by_tag["created"]:
        assert r["method"] == "POST", r
        assert r["headers"].get("x-token") == "t-123", r
        assert r["headers"].get("x-other") == "two words", r
        assert json.loads(r["body"]) == {"hello": "world"}, r
    for r in by_tag["ok"] + by_tag["fail"] + by_tag["unexpected"]:
        assert r["method"] == "GET" and r["body"] == b"", r
    for r in by_tag["put"]:
        assert r["method"] == "PUT" and r["body"] == b"payload", r


def test_http_connection_refused_fails(server):
    # Port 9 (discard) on loopback: nothing listens there in the test environment.
    job_id = create_job(server, name="refused", cron_expression=EVERY_SECOND,
                        executor={"http": {"url": "http://127.0.0.1:9/x"}})
    run = first_finished_run(server, job_id)
    delete_job(server, job_id)
    assert run["status"] == "FAILED", run
    assert run["error"] != "", run
    assert "exit_code" not in run, run


# ---- timeout ----

def test_timeout_kills_the_process_group(server):
    """timeout 1: the run is TIMED_OUT and its processes are gone. Three at
    once: a plain `sleep`, a shell with a background child in its group, and
    one that ignores SIGTERM (killed by SIGKILL after the 5 s grace)."""
    plain, bg1, bg2, stubborn = marker(), marker(), marker(), marker()
    specs = {
        "plain": ["sleep", plain],
        "group": ["/bin/sh", "-c", f"sleep {bg1} & sleep {bg2}; wait"],
        "stubborn": ["/bin/sh", "-c", f"trap '' TERM; sleep {stubborn}; echo survived"],
    }
    marks = {"plain": [plain], "group": [bg1, bg2], "stubborn": [stubborn]}
    jobs = {tag: create_job(server, name=f"timeout {tag}", cron_expression=EVERY_SECOND,
                            status="paused", timeout=1, executor={"command": {"argv": argv}})
            for tag, argv in specs.items()}
    runs = {tag: trigger(server, job_id) for tag, job_id in jobs.items()}

    # The processes do start (so that "gone" below means something) ...
    for tag, ms in marks.items():
        for m in ms:
            wait_for(lambda: pids_of(m), timeout=30, message=f"the {tag} sleep to start")
    # ... and are gone once the run is recorded TIMED_OUT.
    for tag, run_id in runs.items():
        run = wait_run(server, run_id, timeout=60)
        assert run["status"] == "TIMED_OUT", run
        assert run["trigger"] == "MANUAL", run
        assert "timed out" in run["error"], run
        assert "exit_code" not in run, run
        assert_run_times(run)
        assert parse_time(run["end_time"]) - parse_time(run["start_time"]) >= 0.9, run
        for m in marks[tag]:
            wait_for(lambda: not pids_of(m), timeout=10, message=f"the {tag} sleep {m} to be gone")
    stubborn_run = wait_run(server, runs["stubborn"])
    assert "SIGKILL" in stubborn_run["error"], stubborn_run
    assert "survived" not in stubborn_run["result"], stubborn_run
    assert parse_time(stubborn_run["end_time"]) - parse_time(stubborn_run["start_time"]) >= 5.0, stubborn_run


# ---- manual trigger ----

def test_manual_trigger_of_paused_job(server):
    job_id = create_job(server, name="manual", cron_expression=EVERY_SECOND, status="paused",
                        executor={"command": {"argv": ["/bin/echo", "by hand"]}})
    before = get_job(server, job_id)
    assert before["status"] == "PAUSED" and "next_run" not in before, before
    run_id = trigger(server, job_id)
    run = wait_run(server, run_id)
    assert run["job_id"] == job_id, run
    assert run["status"] == "COMPLETED", run
    assert run["trigger"] == "MANUAL", run
    assert run["result"] == "by hand\n" and run["exit_code"] == 0, run
    assert run["worker_id"] == "local", run
    assert_run_times(run)
    # A second trigger is a second, distinct run.
    second = wait_run(server, trigger(server, job_id))
    assert second["id"] != run_id and second["status"] == "COMPLETED", second
    # The schedule is untouched: still paused, nothing scheduled fired.
    after = get_job(server, job_id)
    assert after["status"] == "PAUSED" and "next_run" not in after, after
    assert {r["trigger"] for r in list_runs(server, job_id)} == {"MANUAL"}
    assert len(list_runs(server, job_id)) == 2


def test_manual_trigger_unknown_job(server):
    code, body = server.request("POST", f"/v1/jobs/{uuid.uuid4()}/run")
    assert code == 404, body


# ---- overlap policies ----

def test_overlap_forbid_records(server):
    """The records of a FORBID job: executed runs never overlap, SKIPPED runs
    were never executed and fall inside the active run's lifetime."""
    m = marker()
    job_id = create_job(server, name="forbid", cron_expression=EVERY_SECOND, overlap_policy="FORBID",
                        timeout=2, executor={"command": {"argv": ["sleep", m]}})
    snapshots = []

    def enough():
        runs = sorted(list_runs(server, job_id), key=lambda r: parse_time(r["scheduled_time"]))
        if any(r["status"] == "RUNNING" for r in runs) and sum(r["status"] == "SKIPPED" for r in runs) >= 1:
            snapshots.append(runs)
        executed_done = [r for r in runs if r.get("start_time") and finished(r)]
        return runs if len(executed_done) >= 2 and snapshots else None

    runs = wait_for(enough, timeout=60, interval=0.2, message="two executed runs and a SKIPPED one")
    code, job = server.request("POST", f"/v1/jobs/{job_id}/pause")
    assert code == 200, job
    runs = wait_for(lambda: (lambda rs: rs if all(finished(r) for r in rs) else None)(
        sorted(list_runs(server, job_id), key=lambda r: parse_time(r["scheduled_time"]))),
        timeout=30, message="every run of the paused job to finish")

    executed = [r for r in runs if r["status"] != "SKIPPED"]
    skipped = [r for r in runs if r["status"] == "SKIPPED"]
    assert len(executed) >= 2 and skipped, runs
    for r in runs:
        assert_scheduled_fire(r, job_id)
    for r in executed:
        assert r["status"] == "TIMED_OUT", r
        assert_run_times(r)
    for a, b in zip(executed, executed[1:]):
        assert parse_time(a["end_time"]) <= parse_time(b["start_time"]), ("executed runs overlap", a, b)
    for s in skipped:
        assert "start_time" not in s and "end_time" not in s and s["worker_id"] == "", s
        assert "FORBID" in s["error"], s
        fire = parse_time(s["scheduled_time"])
        # Skipped because a run was active when it fired: the latest executed
        # run scheduled before it had not finished by its scheduled time (a
        # fire is recorded at or after that time; the engine learns of a
        # run's end just after its end_time).
        before = [r for r in executed if parse_time(r["scheduled_time"]) < fire]
        assert before, ("a SKIPPED run before any executed one", s, runs)
        assert fire < parse_time(before[-1]["end_time"]) + 1.0, ("skipped after the run ended", s, before[-1])


def test_overlap_replace_cancels_the_active_run(server):
    m = marker()
    job_id = create_job(server, name="replace", cron_expression=EVERY_SECOND, overlap_policy="REPLACE",
                        executor={"command": {"argv": ["sleep", m]}})

    def enough():
        runs = list_runs(server, job_id)
        cancelled = [r for r in runs if r["status"] == "CANCELLED"]
        return runs if len(cancelled) >= 2 else None

    wait_for(enough, timeout=60, interval=0.2, message="two CANCELLED runs")
    code, job = server.request("POST", f"/v1/jobs/{job_id}/pause")
    assert code == 200, job
    def settled():
        runs = list_runs(server, job_id)
        active = [r for r in runs if not finished(r)]
        return runs if len(active) == 1 and active[0]["status"] == "RUNNING" else None

    runs = wait_for(settled, timeout=30, message="all but the last run to end, the last RUNNING")
    runs.sort(key=lambda r: parse_time(r["scheduled_time"]))
    # Every run but the last was replaced by the next fire; the last still runs.
    for r in runs[:-1]:
        assert r["status"] == "CANCELLED", (r, runs)
        assert "cancel" in r["error"], r
        assert_run_times(r)
    assert runs[-1]["status"] == "RUNNING", runs[-1]
    # Stopping the server ends what still runs: no process is left behind.
    assert pids_of(m)
    assert server.stop() == 0, server.output()
    wait_for(lambda: not pids_of(m), timeout=15, message="the sleeps to be gone after the server stopped")


# ---- pause, resume, delete ----

def test_pause_stops_fires_and_resume_does_not_catch_up(server):
    job_id = create_job(server, name="pausable", cron_expression=EVERY_SECOND)
    wait_for(lambda: len(list_runs(server, job_id)) >= 2, message="two runs before pausing")

    code, paused = server.request("POST", f"/v1/jobs/{job_id}/pause")
    # A fire that came due while the pause request was in flight may still
    # be recorded; nothing that comes due after the answer may.
    paused_at = time.time()
    assert code == 200, paused
    assert paused["status"] == "PAUSED" and "next_run" not in paused, paused
    before = list_runs(server, job_id)

    # Stay paused over at least two scheduled seconds.
    time.sleep(2.5)
    during = list_runs(server, job_id)
    assert all(parse_time(r["scheduled_time"]) <= paused_at for r in during), \
        ("fired while paused", paused_at, during)
    assert len(during) <= len(before) + 1, (before, during)  # at most one fire was in flight

    code, resumed = server.request("POST", f"/v1/jobs/{job_id}/resume")
    assert code == 200, resumed
    resumed_at = parse_time(resumed["updated_at"])
    assert resumed["status"] == "ACTIVE", resumed
    assert parse_time(resumed["next_run"]) > resumed_at, resumed
    wait_for(lambda: sum(parse_time(r["scheduled_time"]) > resumed_at
                         for r in list_runs(server, job_id)) >= 2, message="two runs after resuming")
    delete_runs = list_runs(server, job_id)
    for r in delete_runs:
        assert r["trigger"] == "SCHEDULE" and r["missed_count"] == 0, ("caught up", r)
        s = parse_time(r["scheduled_time"])
        assert not (paused_at < s <= resumed_at), ("a run for the paused period", r, paused_at, resumed_at)
    assert len({r["scheduled_time"] for r in delete_runs}) == len(delete_runs)


def test_delete_stops_fires(server):
    job_id = create_job(server, name="doomed", cron_expression=EVERY_SECOND)
    wait_for(lambda: list_runs(server, job_id), message="a first run")
    delete_job(server, job_id)
    assert server.request("GET", f"/v1/jobs/{job_id}")[0] == 404
    assert list_runs(server, job_id) == []  # its runs went with it
    # Two scheduled seconds later, still nothing: a fire in flight at the
    # delete is dropped, and nothing fires after it.
    deadline = time.time() + 2.5
    while time.time() < deadline:
        assert list_runs(server, job_id) == [], "a run was recorded for a deleted job"
        time.sleep(0.25)
    code, body = server.request("GET", f"/v1/executions?job_id={job_id}")
    assert code == 200 and body["total"] == 0, body


def test_last_status_and_last_run_follow_the_runs(server, tmp_path):
    # Commands of a root server run as nobody (docs/security.md), which
    # cannot enter pytest's tmp_path: the flag lives in a directory it can.
    flag_dir = tempfile.mkdtemp(prefix="dts-flag-")
    os.chmod(flag_dir, 0o777)
    flag = os.path.join(flag_dir, "ran-once")
    fail_then_pass = create_job(
        server, name="fail then pass", cron_expression=EVERY_SECOND, status="paused",
        executor={"command": {"argv": ["/bin/sh", "-c", f'[ -e "{flag}" ] || {{ touch "{flag}"; exit 3; }}']}})
    always_fail = create_job(server, name="always fails", cron_expression=EVERY_SECOND, status="paused",
                             executor={"command": {"argv": ["/bin/false"]}})
    for job_id in (fail_then_pass, always_fail):
        job = get_job(server, job_id)
        assert job["last_status"] == "" and "last_run" not in job, job
        code, body = server.request("POST", f"/v1/jobs/{job_id}/resume")
        assert code == 200, body

    for job_id in (fail_then_pass, always_fail):
        wait_for(lambda: sum(finished(r) for r in list_runs(server, job_id)) >= 3,
                 message="three finished runs")
    for job_id in (fail_then_pass, always_fail):
        code, body = server.request("POST", f"/v1/jobs/{job_id}/pause")
        assert code == 200, body
    for job_id in (fail_then_pass, always_fail):
        runs = wait_for(lambda: (lambda rs: rs if all(finished(r) for r in rs) else None)(
            list_runs(server, job_id)), message="every run to finish")
        runs.sort(key=lambda r: parse_time(r["scheduled_time"]))
        latest = runs[-1]
        job = get_job(server, job_id)
        # last_run is the scheduled time of the latest fire, last_status its outcome.
        assert job["last_run"] == latest["scheduled_time"], (job, latest)
        assert job["last_status"] == latest["status"], (job, latest)
        if job_id == always_fail:
            assert {r["status"] for r in runs} == {"FAILED"}, runs
            assert job["last_status"] == "FAILED", job
        else:
            assert [r["status"] for r in runs][:2] == ["FAILED", "COMPLETED"], runs
            assert job["last_status"] == "COMPLETED", job


# ---- a crash while a command runs ----

def test_run_interrupted_by_a_crash(data_dir):
    m = marker()
    server = Server(data_dir)
    try:
        job_id = create_job(server, name="long", cron_expression=EVERY_SECOND, status="paused",
                            executor={"command": {"argv": ["sleep", m]}})
        run_id = trigger(server, job_id)
        wait_run(server, run_id, lambda r: r["status"] == "RUNNING")
        wait_for(lambda: pids_of(m), message="the sleep to start")
        server.stop(signal.SIGKILL)
        # The direct child dies with the server (PR_SET_PDEATHSIG) ...
        wait_for(lambda: not pids_of(m), timeout=10, message="the sleep to die with the server")
    finally:
        server.stop(signal.SIGKILL)
    server = Server(data_dir)
    try:
        # ... and the restarted server records the run as interrupted.
        run = wait_run(server, run_id)
        assert run["status"] == "FAILED", run
        assert "interrupted" in run["error"], run
        assert run["trigger"] == "MANUAL", run
        assert "end_time" in run, run
    finally:
        server.stop()


def test_restart_after_a_crash_kills_what_the_run_left_behind(data_dir):
    """Only a command's direct child dies with the server (PR_SET_PDEATHSIG);
    its background processes outlive a SIGKILL of the server. The restarted
    server kills them from the process-group record the run left in the data
    dir, before it recovers the run as interrupted."""
    background, foreground = marker(), marker()
    server = Server(data_dir)
    left = []
    try:
        job_id = create_job(server, name="group", cron_expression=EVERY_SECOND, status="paused",
                            executor={"command": {"argv": [
                                "/bin/sh", "-c", f"sleep {background} & sleep {foreground}; wait"]}})
        run_id = trigger(server, job_id)
        wait_run(server, run_id, lambda r: r["status"] == "RUNNING")
        wait_for(lambda: pids_of(background) and pids_of(foreground), message="the sleeps to start")
        server.stop(signal.SIGKILL)
        server = Server(data_dir)
        run = wait_run(server, run_id)
        assert run["status"] == "FAILED" and "interrupted" in run["error"], run
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            left = pids_of(background) + pids_of(foreground)
            if not left:
                break
            time.sleep(0.1)
    finally:
        server.stop(signal.SIGKILL)
        for pid in pids_of(background) + pids_of(foreground):  # the processes this test started
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    assert not left, f"processes of the interrupted run still running: {left}"


def test_a_relative_data_dir_runs_commands(tmp_path):
    # `make run` starts `dts server --data-dir ./dts-data`: the executor's
    # scratch and process-group directories must still be absolute.
    server = Server("./dts-data", cwd=str(tmp_path))
    try:
        job_id = create_job(server, cron_expression=EVERY_SECOND,
                            executor={"command": {"argv": ["/bin/sh", "-c", "pwd"]}})
        run = first_finished_run(server, job_id)
        assert run["status"] == "COMPLETED", run
        assert (tmp_path / "dts-data" / "scratch").is_dir()
    finally:
        server.stop()
