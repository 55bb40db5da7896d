"""Resource allocation end to end (docs/resources.md): the real `dts server`
places runs on its local worker by capacity, queues what does not fit,
enforces memory grants, and recovers queued runs after a crash.

No assertion depends on speed: overlap is judged from the recorded start and
end times of the runs, which the semantics constrain exactly."""

import signal

from conftest import Server, create_job, list_runs, parse_time, run_cli, wait_for

ACTIVE = ("PENDING", "QUEUED", "RUNNING", "RETRYING")
NEVER = "0 0 1 1 *"  # the jobs here run only when triggered


def trigger(server, job_id):
    code, body = server.request("POST", f"/v1/jobs/{job_id}/run")
    assert code == 200, body
    return body["execution_id"]


def get_run(server, run_id):
    code, run = server.request("GET", f"/v1/executions/{run_id}")
    assert code == 200, run
    return run


def wait_finished(server, run_ids, timeout=60):
    def all_done():
        runs = [get_run(server, r) for r in run_ids]
        return runs if all(r["status"] not in ACTIVE for r in runs) else None
    return wait_for(all_done, timeout=timeout, message=f"runs {run_ids} to finish")


def sleeper(server, seconds, cpu):
    return create_job(server, name=f"sleep-{cpu}", cron_expression=NEVER, status="paused",
                      resources={"cpu": cpu, "memory": 64},
                      executor={"command": {"argv": ["sleep", str(seconds)]}})


def max_overlap(runs):
    """The largest number of runs whose [start, end] intervals overlap."""
    events = []
    for r in runs:
        events.append((parse_time(r["start_time"]), 1))
        events.append((parse_time(r["end_time"]), -1))
    current = best = 0
    for _, delta in sorted(events):  # an end sorts before a start at the same instant
        current += delta
        best = max(best, current)
    return best


def test_runs_beyond_capacity_wait_in_the_queue(data_dir):
    server = Server(data_dir, ["--worker-cpu", "2000", "--worker-memory", "4096"])
    try:
        jobs = [sleeper(server, 2, 1000) for _ in range(3)]
        run_ids = [trigger(server, j) for j in jobs]

        # The third waits, visibly, with a reason; the worker is full meanwhile.
        queued = wait_for(lambda: [r for r in run_ids if get_run(server, r)["status"] == "QUEUED"],
                          message="a QUEUED run")
        assert len(queued) == 1, queued
        code, queue = server.request("GET", "/v1/scheduler/queue")
        assert code == 200, queue
        waiting = [q for q in queue["runs"] if q["run_id"] == queued[0]]
        if waiting:  # it may have started since; when listed, it says why it waits
            assert waiting[0]["reason"], waiting
            assert waiting[0]["resources"]["cpu"] == 1000, waiting
        code, worker = server.request("GET", "/v1/workers/local")
        assert code == 200, worker
        assert worker["capacity"]["cpu"] == 2000, worker

        runs = wait_finished(server, run_ids)
        assert [r["status"] for r in runs] == ["COMPLETED"] * 3, runs
        assert max_overlap(runs) <= 2, runs
        for r in runs:
            assert r["worker_id"] == "local", r
            assert r["resources"]["cpu"] == 1000, r
        # The queued run started only once another had ended.
        late = get_run(server, queued[0])
        others = [r for r in runs if r["id"] != queued[0]]
        assert parse_time(late["start_time"]) >= min(parse_time(r["end_time"]) for r in others), runs

        code, worker = server.request("GET", "/v1/workers/local")
        assert worker["allocated"]["cpu"] == 0 and worker["running_runs"] == [], worker
        code, queue = server.request("GET", "/v1/scheduler/queue")
        assert queue["runs"] == [] and queue["total"] == 0, queue
    finally:
        server.stop()


def test_job_larger_than_every_worker_is_refused(data_dir):
    server = Server(data_dir, ["--worker-cpu", "2000", "--worker-memory", "1024"])
    try:
        code, body = server.request("POST", "/v1/jobs", {
            "name": "too-big", "cron_expression": NEVER, "resources": {"cpu": 4000, "memory": 64}})
        assert code == 400, body
        assert "resources" in body["message"], body
        assert "2000" in body["message"], body
        code, page = server.request("GET", "/v1/jobs")
        assert page["jobs"] == [], page
        # Constraints no worker satisfies are refused the same way.
        code, body = server.request("POST", "/v1/jobs", {
            "name": "gpu", "cron_expression": NEVER, "constraints": {"gpu": "true"}})
        assert code == 400, body
    finally:
        server.stop()


def test_memory_hog_fails_with_the_memory_error_and_the_server_lives_on(data_dir):
    server = Server(data_dir, ["--worker-memory", "2048"])
    try:
        hog = create_job(server, name="hog", cron_expression=NEVER, status="paused",
                         resources={"cpu": 100, "memory": 64},
                         executor={"command": {"argv": [
                             "python3", "-c",
                             "import time\nb = bytearray(400 * 1024 * 1024)\n"
                             "b[::4096] = b'x' * len(b[::4096])\ntime.sleep(5)"]}})
        run = wait_finished(server, [trigger(server, hog)])[0]
        assert run["status"] == "FAILED", run
        assert run["error"] == "memory limit exceeded (64 MiB)", run

        code, body = server.request("GET", "/healthz")
        assert code == 200, body
        fine = create_job(server, name="fine", cron_expression=NEVER, status="paused",
                          executor={"command": {"argv": ["true"]}})
        assert wait_finished(server, [trigger(server, fine)])[0]["status"] == "COMPLETED"
    finally:
        server.stop()


def test_workers_and_queue_from_the_api_and_cli(data_dir):
    server = Server(data_dir, ["--worker-cpu", "3000", "--worker-label", "zone=a",
                               "--worker-label", "disk=ssd"])
    try:
        code, body = server.request("GET", "/v1/workers")
        assert code == 200, body
        [worker] = body["workers"]
        assert worker["id"] == "local" and worker["state"] == "READY", worker
        assert worker["labels"] == {"zone": "a", "disk": "ssd"}, worker
        assert worker["capacity"]["cpu"] == 3000 and worker["free"]["cpu"] == 3000, worker
        assert worker["capacity"]["memory"] > 0, worker
        assert worker["enforcement"]["memory"] in ("cgroup", "rlimit"), worker
        code, body = server.request("GET", "/v1/workers/nope")
        assert code == 404, body

        # A job constrained to the worker's labels is accepted.
        create_job(server, name="ssd", cron_expression=NEVER, constraints={"disk": "ssd"})

        out = run_cli("worker", "list", server=server)
        assert out.returncode == 0, out.stderr
        assert "local" in out.stdout and "0/3000m" in out.stdout, out.stdout
        out = run_cli("worker", "get", "--id", "local", "-o", "json", server=server)
        assert out.returncode == 0 and '"zone": "a"' in out.stdout, out
        out = run_cli("scheduler", "queue", server=server)
        assert out.returncode == 0 and "0 waiting" in out.stdout, out
        out = run_cli("worker", "get", "--id", "nope", server=server)
        assert out.returncode != 0 and "not found" in out.stderr, out
    finally:
        server.stop()


def test_bad_worker_flags_are_refused(tmp_path):
    for flags, needle in ((["--worker-label", "novalue"], "--worker-label"),
                          (["--placement", "random"], "--placement"),
                          (["--worker-cpu", "0"], "--worker-cpu")):
        out = run_cli("server", "--data-dir", str(tmp_path / "d"), "--grpc-addr", "127.0.0.1:0",
                      "--http-addr", "127.0.0.1:0", *flags)
        assert out.returncode != 0, (flags, out)
        assert needle in out.stderr, (flags, out.stderr)


def test_queued_run_survives_a_crash_and_runs_once(data_dir):
    server = Server(data_dir, ["--worker-cpu", "1000"])
    try:
        first, second = sleeper(server, 30, 1000), sleeper(server, 1, 1000)
        running = trigger(server, first)
        wait_for(lambda: get_run(server, running)["status"] == "RUNNING", message="RUNNING")
        queued = trigger(server, second)
        wait_for(lambda: get_run(server, queued)["status"] == "QUEUED", message="QUEUED")
    finally:
        server.stop(signal.SIGKILL)
    server = Server(data_dir, ["--worker-cpu", "1000"])
    try:
        interrupted, ran = wait_finished(server, [running, queued])
        assert interrupted["status"] == "FAILED" and "interrupted" in interrupted["error"], interrupted
        assert ran["status"] == "COMPLETED", ran
        # Exactly one record per trigger: nothing lost, nothing doubled.
        assert sorted(r["id"] for r in list_runs(server)) == sorted([running, queued])
    finally:
        server.stop()
