"""/metrics, /readyz and /healthz of `dts server` (docs/observability.md):
every metric family is listed, and each moves when its event happens."""

import json
import re
import urllib.request
from pathlib import Path

from conftest import Server, create_job, list_runs, run_cli, scrape, wait_for

EVERY_SECOND = "* * * * * *"
MISSING = "00000000-0000-4000-8000-000000000000"  # a well-formed id of no job
NEVER = "0 0 0 29 2 *"  # next on 2028-02-29: here it only runs when triggered

FAMILIES = {
    "dts_api_request_duration_seconds": "histogram",
    "dts_fire_lateness_seconds": "histogram",
    "dts_fires_total": "counter",
    "dts_jobs_owned": "gauge",
    "dts_queue_depth": "gauge",
    "dts_queue_oldest_wait_seconds": "gauge",
    "dts_runs_total": "counter",
    "dts_worker_allocated": "gauge",
    "dts_worker_capacity": "gauge",
}


def test_every_family_is_listed_with_its_type(server):
    code, body = server.request("GET", "/metrics")
    assert code == 200 and isinstance(body, str), (code, body)
    metrics = scrape(server)
    for name, kind in FAMILIES.items():
        assert metrics.types.get(name) == kind, f"{name}: {metrics.types.get(name)} in\n{body}"
    # The worker's capacity is what the flags gave it (conftest: 8000m, 16384 MiB).
    assert metrics.sum("dts_worker_capacity", worker="local", resource="cpu_millis") == 8000
    assert metrics.sum("dts_worker_capacity", worker="local", resource="memory_mib") == 16384


def test_content_type_is_the_text_format(server):
    with urllib.request.urlopen(server.base_url + "/metrics", timeout=30) as resp:
        assert resp.headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"


def test_fires_lateness_and_final_statuses_move(server):
    before = scrape(server)
    assert before.sum("dts_jobs_owned") == 0
    job = create_job(server, cron_expression=EVERY_SECOND)
    wait_for(lambda: len(list_runs(server, job_id=job, status="COMPLETED")) >= 3, timeout=30,
             message="3 completed runs")
    failing = create_job(server, cron_expression=NEVER,
                         executor={"command": {"argv": ["/bin/false"]}})
    code, _ = server.request("POST", f"/v1/jobs/{failing}/run")
    assert code == 200
    wait_for(lambda: list_runs(server, job_id=failing, status="FAILED"), timeout=30,
             message="the failing run")
    after = scrape(server)

    fired = after.sum("dts_fires_total") - before.sum("dts_fires_total")
    assert fired >= 3, f"dts_fires_total moved by {fired}"
    # Every fire is of one shard, the job's.
    shards = {l["shard"] for l, v in after.series("dts_fires_total") if v > 0}
    assert len(shards) == 1, shards
    late = after.sum("dts_fire_lateness_seconds_count") - before.sum("dts_fire_lateness_seconds_count")
    assert late == fired, f"{late} lateness observations for {fired} fires"
    assert after.sum("dts_fire_lateness_seconds_bucket", le="+Inf") == after.sum(
        "dts_fire_lateness_seconds_count")
    assert after.sum("dts_runs_total", status="COMPLETED") - before.sum(
        "dts_runs_total", status="COMPLETED") >= 3
    assert after.sum("dts_runs_total", status="FAILED") - before.sum(
        "dts_runs_total", status="FAILED") == 1
    assert after.sum("dts_jobs_owned") == 2


def test_queue_and_allocation_move(server):
    # Each run holds the whole worker (8000m) for a minute: one runs, the
    # next waits in the queue.
    job = create_job(server, cron_expression=NEVER, resources={"cpu": 8000, "memory": 64},
                     executor={"command": {"argv": ["/bin/sleep", "60"]}})
    for _ in range(2):
        code, body = server.request("POST", f"/v1/jobs/{job}/run")
        assert code == 200, body

    def queued():
        m = scrape(server)
        return m if m.sum("dts_queue_depth") == 1 and m.sum("dts_queue_oldest_wait_seconds") > 0 else None

    m = wait_for(queued, timeout=30, message="one run waiting, for some time")
    assert m.sum("dts_worker_allocated", worker="local", resource="cpu_millis") == 8000
    assert m.sum("dts_worker_allocated", worker="local", resource="memory_mib") == 64
    # Deleting the job cancels its running run and withdraws the queued one.
    code, _ = server.request("DELETE", f"/v1/jobs/{job}?cancel_running=true")
    assert code == 200

    def drained():
        m = scrape(server)
        return m if m.sum("dts_queue_depth") == 0 and m.sum(
            "dts_worker_allocated", resource="cpu_millis") == 0 else None

    m = wait_for(drained, timeout=30, message="the queue empty and the worker free")
    assert m.sum("dts_queue_oldest_wait_seconds") == 0


def test_api_latency_by_protocol_route_and_code(server):
    job = create_job(server, cron_expression=NEVER)
    before = scrape(server)
    assert server.request("GET", f"/v1/jobs/{job}")[0] == 200
    assert server.request("GET", f"/v1/jobs/{MISSING}")[0] == 404
    assert server.request("GET", "/no/such/route")[0] == 404
    out = run_cli("job", "get", "--id", job, server=server)
    assert out.returncode == 0, out.stderr
    out = run_cli("job", "get", "--id", MISSING, server=server)
    assert out.returncode != 0
    after = scrape(server)

    def moved(**labels):
        name = "dts_api_request_duration_seconds_count"
        return after.sum(name, **labels) - before.sum(name, **labels)

    assert moved(protocol="http", route="GET /v1/jobs/{id}", code=200) == 1
    assert moved(protocol="http", route="GET /v1/jobs/{id}", code=404) == 1
    assert moved(protocol="http", route="unmatched", code=404) == 1
    assert moved(protocol="grpc", route="/dts.v1.JobService/GetJob", code="OK") == 1
    assert moved(protocol="grpc", route="/dts.v1.JobService/GetJob", code="NOT_FOUND") == 1
    # No series per path: the id is not a label value.
    assert job not in after.text


def test_healthz_and_readyz(server):
    assert server.request("GET", "/healthz") == (200, {"status": "ok"})
    code, body = server.request("GET", "/readyz")
    assert (code, body) == (200, {"status": "ready", "checks": {"storage": "ok"}}), (code, body)


def test_metrics_need_a_viewer_token_once_tokens_are_on(tmp_path):
    s = Server(tmp_path / "data", env={"DTS_AUTH_TOKENS": "viewer:peek-token-0123456789,admin:root-token-0123456789",
                                       "DTS_API_TOKEN": ""})
    try:
        code, body = s.request("GET", "/metrics")
        assert code == 401, (code, body)
        code, body = s.request("GET", "/metrics", headers={"Authorization": "Bearer peek-token-0123456789"})
        assert code == 200 and "# TYPE dts_fires_total counter" in body, (code, body)
        # Probes need no token.
        assert s.request("GET", "/readyz")[0] == 200
        assert s.request("GET", "/healthz")[0] == 200
    finally:
        s.stop()


ROOT = Path(__file__).resolve().parents[2]
# The families only the distributed services have (test_distributed checks them).
DISTRIBUTED_FAMILIES = {"dts_kafka_produce_duration_seconds", "dts_kafka_errors_total",
                        "dts_cassandra_request_duration_seconds", "dts_cassandra_errors_total",
                        "dts_shards_owned"}


def families_in(text):
    names = set(re.findall(r"\b(dts_[a-z_]+)", text))
    return {re.sub(r"_(bucket|count|sum)$", "", n) for n in names}


def test_docs_and_grafana_cover_every_family():
    every = set(FAMILIES) | DISTRIBUTED_FAMILIES
    documented = families_in((ROOT / "docs" / "observability.md").read_text())
    assert every <= documented, f"not in docs/observability.md: {every - documented}"
    dashboard = json.loads((ROOT / "docs" / "grafana" / "dts.json").read_text())
    exprs = " ".join(t["expr"] for p in dashboard["panels"] for t in p["targets"])
    charted = families_in(exprs)
    assert charted <= every, f"the dashboard charts unknown families: {charted - every}"
    assert every <= charted, f"no panel for {every - charted}"


# ---- logs ----

def log_lines(server):
    """The JSON log lines of the server's output (audit lines and the ready
    line are not JSON objects of the log)."""
    lines = []
    for line in server.output().splitlines():
        if line.startswith("{"):
            lines.append(json.loads(line))
    return lines


def test_request_ids_reach_the_log_lines_of_the_runs_they_create(tmp_path):
    s = Server(tmp_path / "data", extra_args=["--log-format", "json", "--log-level", "info"])
    try:
        job = create_job(s, cron_expression=NEVER, executor={"command": {"argv": ["/bin/true"]}})
        # HTTP: the client's X-Request-Id is kept and sent back.
        req = urllib.request.Request(s.base_url + f"/v1/jobs/{job}/run", data=b"{}", method="POST",
                                     headers={"X-Request-Id": "trace-http-1"})
        with urllib.request.urlopen(req, timeout=30) as resp:
            assert resp.headers["X-Request-Id"] == "trace-http-1"
            http_run = json.loads(resp.read())["execution_id"]
        # A request without one gets a new id, also sent back.
        with urllib.request.urlopen(s.base_url + "/healthz", timeout=30) as resp:
            assert re.fullmatch(r"[0-9a-f]{16}", resp.headers["X-Request-Id"]), resp.headers
        # gRPC: x-request-id metadata (the CLI sends none: the server makes one).
        out = run_cli("job", "trigger", "--id", job, server=s)
        assert out.returncode == 0, out.stderr
        wait_for(lambda: len(list_runs(s, job_id=job, status="COMPLETED")) == 2, timeout=30,
                 message="both runs completed")

        def lines_of(run_id):
            return [l for l in log_lines(s) if l.get("run_id") == run_id]

        events = wait_for(lambda: (lambda ls: ls if {"run created", "run started", "run ended"}
                                   <= {l["msg"] for l in ls} else None)(lines_of(http_run)),
                          timeout=30, message="the HTTP-triggered run's log lines")
        for line in events:
            assert line["request_id"] == "trace-http-1", line
            assert line["level"] == "info" and line["job_id"] == job, line
            assert set(line) >= {"time", "level", "component", "msg"}, line
        ended = next(l for l in events if l["msg"] == "run ended")
        assert ended["status"] == "COMPLETED" and ended["worker_id"] == "local", ended
        # The stored run keeps the id too.
        assert s.request("GET", f"/v1/executions/{http_run}")[1]["request_id"] == "trace-http-1"

        grpc_runs = [r["id"] for r in list_runs(s, job_id=job) if r["id"] != http_run]
        assert len(grpc_runs) == 1
        grpc_lines = lines_of(grpc_runs[0])
        ids = {l.get("request_id") for l in grpc_lines}
        assert len(ids) == 1 and re.fullmatch(r"[0-9a-f]{16}", ids.pop()), grpc_lines
    finally:
        s.stop()


def test_scheduled_runs_log_at_debug_only(tmp_path):
    s = Server(tmp_path / "data", extra_args=["--log-format", "json"])
    try:
        job = create_job(s, cron_expression=EVERY_SECOND)
        wait_for(lambda: len(list_runs(s, job_id=job, status="COMPLETED")) >= 2, timeout=30,
                 message="scheduled runs")
        assert not [l for l in log_lines(s) if l.get("job_id") == job], "info logs every fire"
    finally:
        s.stop()
    s = Server(tmp_path / "data2", extra_args=["--log-format", "json", "--log-level", "debug"])
    try:
        job = create_job(s, cron_expression=EVERY_SECOND)
        lines = wait_for(lambda: [l for l in log_lines(s) if l.get("job_id") == job
                                  and l["msg"] == "run ended"], timeout=30, message="debug lines")
        assert lines[0]["level"] == "debug" and "request_id" not in lines[0], lines[0]
    finally:
        s.stop()


def test_bad_log_flags_are_refused(tmp_path):
    for flag, value in (("--log-format", "xml"), ("--log-level", "loud")):
        out = run_cli("server", "--data-dir", str(tmp_path / "d"), flag, value)
        assert out.returncode == 2, (flag, out.returncode, out.stderr)
        assert flag in out.stderr, out.stderr
        assert not (tmp_path / "d").exists(), "a refused start created the data directory"
