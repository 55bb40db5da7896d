"""Authentication and roles, rate limit and audit log of the real `dts server`
(docs/security.md), over HTTP and gRPC.

One server is configured with a viewer and an admin in --auth-tokens-file
(hashes only) and an operator in DTS_AUTH_TOKENS; every route family is
called with each role and without a token, over both transports, and the
outcome must be exactly what the role table says."""

import hashlib
import json
import os
import re
import subprocess
import time
import uuid

import grpc  # Debian's python3-grpcio (scripts/install-deps.sh)
import pytest

from conftest import DTS, Server, run_cli
from test_grpc_api import Client, messages  # noqa: F401 (a fixture)

DEFAULT_CRON = "0 3 1 1 *"
VIEWER = "viewer-secret-token-0123456789"
OPERATOR = "operator-secret-token-0123456789"
ADMIN = "admin-secret-token-0123456789"
LEGACY = "legacy-admin-token-0123456789"
ROLES = {"viewer": VIEWER, "operator": OPERATOR, "admin": ADMIN}
RANK = {"viewer": 1, "operator": 2, "admin": 3}


def sha256(token):
    return hashlib.sha256(token.encode()).hexdigest()


def env_without_tokens(**extra):
    env = {k: v for k, v in os.environ.items()
           if k not in ("DTS_API_TOKEN", "DTS_AUTH_TOKENS", "DTS_TOKEN")}
    env.update(extra)
    return env


def write_tokens_file(path):
    path.write_text("# DTS API tokens: hashes only\n\n"
                    f"viewer {sha256(VIEWER)} dashboard\n"
                    f"admin   {sha256(ADMIN).upper()}  ops-admin\n")
    return path


@pytest.fixture(scope="module")
def secured(tmp_path_factory):
    """A server with the three roles (file + environment), an audit file and a
    rate limit high enough not to interfere."""
    tmp = tmp_path_factory.mktemp("auth")
    tokens = write_tokens_file(tmp / "tokens")
    audit = tmp / "audit.log"
    s = Server(tmp / "data",
               extra_args=["--auth-tokens-file", str(tokens), "--audit-log", str(audit),
                           "--rate-limit", "10000", "--rate-burst", "10000"],
               env={"DTS_AUTH_TOKENS": f"operator:{OPERATOR}", "DTS_API_TOKEN": ""})
    s.audit = audit
    yield s
    s.stop()


def bearer(token):
    return {"Authorization": f"Bearer {token}"} if token else {}


def admin_job(server, **fields):
    code, body = server.request("POST", "/v1/jobs",
                                {"name": "auth job", "cron_expression": DEFAULT_CRON, **fields},
                                headers=bearer(ADMIN))
    assert code == 200, body
    return body["job_id"]


def admin_run(server):
    job_id = admin_job(server, executor={"command": {"argv": ["/bin/true"]}})
    code, body = server.request("POST", f"/v1/jobs/{job_id}/run", headers=bearer(ADMIN))
    assert code == 200, body
    return body["execution_id"]


def assert_names_a_higher_role(message, role):
    """A 403's message names the role needed, one above the caller's (the
    route's minimum; for a cancel through UpdateJob a viewer first hears that
    updates need an operator)."""
    m = re.search(r"needs the (\w+) role; token \"[^\"]+\" has (\w+)$", message)
    assert m, message
    assert RANK[m.group(1)] > RANK[role] and m.group(2) == role, message


# ---- HTTP: every route family x every role

# (family, minimum role, request builder: server -> (method, path, body))
HTTP_ROUTES = [
    ("jobs read", "viewer", lambda s: ("GET", "/v1/jobs", None)),
    ("jobs read", "viewer", lambda s: ("GET", f"/v1/jobs/{admin_job(s)}", None)),
    ("jobs read", "viewer", lambda s: ("GET", f"/v1/jobs/{admin_job(s)}/executions", None)),
    ("jobs write", "operator", lambda s: ("POST", "/v1/jobs",
                                          {"name": "new", "cron_expression": DEFAULT_CRON})),
    ("jobs write", "operator", lambda s: ("PUT", f"/v1/jobs/{admin_job(s)}", {"name": "renamed"})),
    ("jobs write", "operator", lambda s: ("POST", f"/v1/jobs/{admin_job(s)}/pause", None)),
    ("jobs write", "operator",
     lambda s: ("POST", f"/v1/jobs/{admin_job(s, status='paused')}/resume", None)),
    ("jobs write", "operator", lambda s: ("POST", f"/v1/jobs/{admin_job(s)}/run", None)),
    ("jobs delete", "admin", lambda s: ("DELETE", f"/v1/jobs/{admin_job(s)}", None)),
    ("jobs delete", "admin", lambda s: ("POST", f"/v1/jobs/{admin_job(s)}/cancel", None)),
    ("jobs delete", "admin",
     lambda s: ("PUT", f"/v1/jobs/{admin_job(s)}", {"status": "cancelled"})),
    ("scheduler", "operator", lambda s: ("POST", "/v1/scheduler/jobs", {
        "job": {"name": "etl", "cron_expression": DEFAULT_CRON},
        "resource_requirements": {"cpu": 100, "memory": 16, "storage": 0}})),
    ("scheduler", "viewer", lambda s: ("GET", "/v1/scheduler/jobs", None)),
    ("scheduler", "viewer", lambda s: ("GET", f"/v1/scheduler/jobs/{admin_job(s)}", None)),
    ("scheduler", "admin", lambda s: ("DELETE", f"/v1/scheduler/jobs/{admin_job(s)}", None)),
    ("executions", "viewer", lambda s: ("GET", "/v1/executions", None)),
    ("executions", "viewer", lambda s: ("GET", f"/v1/executions/{admin_run(s)}", None)),
    ("workers/queue", "viewer", lambda s: ("GET", "/v1/workers", None)),
    ("workers/queue", "viewer", lambda s: ("GET", "/v1/workers/local", None)),
    ("workers/queue", "viewer", lambda s: ("GET", "/v1/scheduler/queue", None)),
    ("cron", "viewer", lambda s: ("GET", "/v1/cron/next?expr=0+3+*+*+*", None)),
]


@pytest.mark.parametrize("role", ["none", "viewer", "operator", "admin"])
@pytest.mark.parametrize("family,minimum,build", HTTP_ROUTES,
                         ids=[f"{f}-{i}" for i, (f, _, _) in enumerate(HTTP_ROUTES)])
def test_http_role_matrix(secured, role, family, minimum, build):
    method, path, body = build(secured)
    code, answer = secured.request(method, path, body, headers=bearer(ROLES.get(role)))
    if role == "none":
        assert code == 401, (family, path, answer)
        assert answer["code"] == 16 and "bearer token" in answer["message"]
    elif RANK[role] < RANK[minimum]:
        assert code == 403, (family, path, answer)
        assert answer["code"] == 7
        assert_names_a_higher_role(answer["message"], role)
    else:
        assert code == 200, (family, role, path, answer)


def test_unknown_token_is_401_and_open_routes_stay_open(secured):
    code, answer = secured.request("GET", "/v1/jobs", headers=bearer("no-such-token-0123456789"))
    assert code == 401 and answer["message"] == "invalid bearer token", answer
    assert secured.request("GET", "/healthz") == (200, {"status": "ok"})
    code, page = secured.request("GET", "/")  # the dashboard's page: no data in it
    assert code == 200 and "<html" in page.lower()


# ---- gRPC: the same matrix

def grpc_job(secured, **fields):
    return admin_job(secured, **fields)


GRPC_CALLS = [
    ("jobs read", "viewer", "dts.v1.JobService/ListJobs", lambda s: {}),
    ("jobs read", "viewer", "dts.v1.JobService/GetJob", lambda s: {"id": grpc_job(s)}),
    ("jobs write", "operator", "dts.v1.JobService/CreateJob",
     lambda s: {"name": "g", "cron_expression": DEFAULT_CRON}),
    ("jobs write", "operator", "dts.v1.JobService/UpdateJob",
     lambda s: {"id": grpc_job(s), "name": "renamed"}),
    ("jobs write", "operator", "dts.v1.JobService/PauseJob", lambda s: {"id": grpc_job(s)}),
    ("jobs write", "operator", "dts.v1.JobService/ResumeJob",
     lambda s: {"id": grpc_job(s, status="paused")}),
    ("jobs write", "operator", "dts.v1.JobService/TriggerJob", lambda s: {"id": grpc_job(s)}),
    ("jobs delete", "admin", "dts.v1.JobService/DeleteJob", lambda s: {"id": grpc_job(s)}),
    ("jobs delete", "admin", "dts.v1.JobService/CancelJob", lambda s: {"id": grpc_job(s)}),
    ("jobs delete", "admin", "dts.v1.JobService/UpdateJob",
     lambda s: {"id": grpc_job(s), "status": "cancelled"}),
    ("scheduler", "operator", "dts.v1.SchedulerService/ScheduleJob",
     lambda s: {"job": {"name": "etl", "cron_expression": DEFAULT_CRON},
                "resource_requirements": {"cpu": 100, "memory": 16}}),
    ("scheduler", "viewer", "dts.v1.SchedulerService/ListScheduledJobs", lambda s: {}),
    ("scheduler", "viewer", "dts.v1.SchedulerService/GetScheduledJob",
     lambda s: {"job_id": grpc_job(s)}),
    ("scheduler", "admin", "dts.v1.SchedulerService/CancelJob", lambda s: {"job_id": grpc_job(s)}),
    ("executions", "viewer", "dts.v1.ExecutionService/ListExecutions", lambda s: {}),
    ("executions", "viewer", "dts.v1.ExecutionService/GetExecution", lambda s: {"id": admin_run(s)}),
    ("workers/queue", "viewer", "dts.v1.SchedulerService/ListWorkers", lambda s: {}),
    ("workers/queue", "viewer", "dts.v1.SchedulerService/GetWorker", lambda s: {"id": "local"}),
    ("workers/queue", "viewer", "dts.v1.SchedulerService/GetQueue", lambda s: {}),
]


@pytest.mark.parametrize("role", ["none", "viewer", "operator", "admin"])
@pytest.mark.parametrize("family,minimum,method,build", GRPC_CALLS,
                         ids=[f"{m.rsplit('/', 1)[1]}-{i}" for i, (_, _, m, _) in enumerate(GRPC_CALLS)])
def test_grpc_role_matrix(secured, messages, role, family, minimum, method, build):  # noqa: F811
    request = build(secured)
    client = Client(secured.grpc, messages, token=ROLES.get(role))
    try:
        if role == "none":
            error = client.error(method, request)
            assert error.code() == grpc.StatusCode.UNAUTHENTICATED, (method, error)
        elif RANK[role] < RANK[minimum]:
            error = client.error(method, request)
            assert error.code() == grpc.StatusCode.PERMISSION_DENIED, (method, error)
            assert_names_a_higher_role(error.details(), role)
        else:
            client(method, request)  # raises on any error
    finally:
        client.close()


def test_grpc_health_needs_no_token(secured, messages):  # noqa: F811
    client = Client(secured.grpc, messages)
    try:
        assert client("grpc.health.v1.Health/Check", {}) == {"status": "SERVING"}
        error = client.error("dts.v1.JobService/GetJob", {"id": str(uuid.uuid4())},
                             metadata=[("authorization", "Bearer wrong-token-0123456789")])
        assert error.code() == grpc.StatusCode.UNAUTHENTICATED
    finally:
        client.close()


# ---- the audit log

def read_audit(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def test_audit_log_records_changes_with_who_what_and_outcome(secured, messages):  # noqa: F811
    code, body = secured.request("POST", "/v1/jobs",
                                 {"name": "audited", "cron_expression": DEFAULT_CRON},
                                 headers=bearer(OPERATOR))
    assert code == 200
    job_id = body["job_id"]
    assert secured.request("DELETE", f"/v1/jobs/{job_id}", headers=bearer(VIEWER))[0] == 403
    assert secured.request("GET", f"/v1/jobs/{job_id}", headers=bearer(VIEWER))[0] == 200
    client = Client(secured.grpc, messages, token=ADMIN)
    try:
        client("dts.v1.JobService/DeleteJob", {"id": job_id})
    finally:
        client.close()

    lines = [r for r in read_audit(secured.audit) if r["target"] == job_id]
    for record in lines:
        assert set(record) == {"time", "token", "role", "transport", "operation", "route",
                               "target", "peer", "code"}, record
        assert record["time"].endswith("Z")
    assert [(r["token"], r["role"], r["transport"], r["operation"], r["code"]) for r in lines] == [
        ("sha256:" + sha256(OPERATOR)[:12], "operator", "http", "dts.v1.JobService/CreateJob", "OK"),
        ("dashboard", "viewer", "http", "dts.v1.JobService/DeleteJob", "PERMISSION_DENIED"),
        ("ops-admin", "admin", "grpc", "dts.v1.JobService/DeleteJob", "OK"),
    ]
    assert lines[0]["route"] == "POST /v1/jobs"
    assert lines[1]["route"] == "DELETE /v1/jobs/{id}"
    assert lines[2]["route"] == "dts.v1.JobService/DeleteJob"
    assert lines[0]["peer"].startswith("127.0.0.1:")
    # No secret in the log.
    text = secured.audit.read_text()
    assert OPERATOR not in text and VIEWER not in text and ADMIN not in text


def test_unauthenticated_changes_are_audited_as_anonymous(secured):
    path = f"/v1/jobs/{uuid.uuid4()}"
    assert secured.request("DELETE", path)[0] == 401
    [record] = [r for r in read_audit(secured.audit) if r["target"] == path.rsplit("/", 1)[1]]
    assert (record["token"], record["role"], record["code"]) == ("anonymous", None,
                                                                 "UNAUTHENTICATED")


# ---- the rate limit, and the default audit sink (stderr)

def test_rate_limit_is_429_with_retry_after_per_token(tmp_path, messages):  # noqa: F811
    s = Server(tmp_path / "data", extra_args=["--rate-limit", "0.2", "--rate-burst", "2"],
               env={"DTS_AUTH_TOKENS": f"viewer:{VIEWER},admin:{ADMIN}", "DTS_API_TOKEN": ""})
    try:
        for _ in range(2):
            assert s.request("GET", "/v1/jobs", headers=bearer(VIEWER))[0] == 200
        req_headers = bearer(VIEWER)
        import urllib.request
        import urllib.error
        req = urllib.request.Request(s.base_url + "/v1/jobs", headers=req_headers)
        with pytest.raises(urllib.error.HTTPError) as info:
            urllib.request.urlopen(req, timeout=30)
        assert info.value.code == 429
        assert int(info.value.headers["Retry-After"]) >= 1
        body = json.loads(info.value.read())
        assert body["code"] == 8 and "rate limit" in body["message"]
        # Over gRPC the same bucket is empty too.
        client = Client(s.grpc, messages, token=VIEWER)
        try:
            error = client.error("dts.v1.JobService/ListJobs", {})
            assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
            assert dict(error.trailing_metadata())["retry-after"]
        finally:
            client.close()
        # Another token has its own bucket; a change goes to the audit on stderr.
        code, _ = s.request("POST", "/v1/jobs", {"name": "x", "cron_expression": DEFAULT_CRON},
                            headers=bearer(ADMIN))
        assert code == 200
    finally:
        s.stop()
    audit = [line for line in s.output().splitlines() if line.startswith("audit: ")]
    assert len(audit) == 1, s.output()
    record = json.loads(audit[0][len("audit: "):])
    assert (record["operation"], record["code"], record["role"]) == (
        "dts.v1.JobService/CreateJob", "OK", "admin")


# ---- the CLI

def test_cli_token_from_dts_token(secured):
    env = env_without_tokens(DTS_TOKEN=VIEWER)
    r = run_cli("job", "list", server=secured, env=env)
    assert r.returncode == 0, r.stderr
    job_id = admin_job(secured)
    r = run_cli("job", "delete", "--id", job_id, server=secured, env=env)
    assert r.returncode == 1 and "PERMISSION_DENIED" in r.stderr and "admin role" in r.stderr
    r = run_cli("job", "delete", "--id", job_id, "--token", ADMIN, server=secured, env=env)
    assert r.returncode == 0, r.stderr
    r = run_cli("job", "list", server=secured, env=env_without_tokens())
    assert r.returncode == 1 and "UNAUTHENTICATED" in r.stderr


def test_legacy_token_is_an_admin_alongside_roles(tmp_path):
    s = Server(tmp_path / "data",
               env={"DTS_AUTH_TOKENS": f"viewer:{VIEWER}", "DTS_API_TOKEN": LEGACY})
    try:
        job_id = admin_job_with(s, LEGACY)
        assert s.request("DELETE", f"/v1/jobs/{job_id}", headers=bearer(VIEWER))[0] == 403
        assert s.request("DELETE", f"/v1/jobs/{job_id}", headers=bearer(LEGACY))[0] == 200
    finally:
        s.stop()


def admin_job_with(server, token):
    code, body = server.request("POST", "/v1/jobs", {"name": "j", "cron_expression": DEFAULT_CRON},
                                headers=bearer(token))
    assert code == 200, body
    return body["job_id"]


# ---- start-up: safe defaults and bad configuration

def start(tmp_path, args, env):
    """Runs `dts server ARGS`; returns (proc, ready) with ready None when the
    process exited before listening."""
    ready_file = tmp_path / f"ready-{time.monotonic_ns()}.json"
    proc = subprocess.Popen([DTS, "server", "--data-dir", str(tmp_path / "data"),
                             "--ready-file", str(ready_file), "--worker-cpu", "1000",
                             "--worker-memory", "1024", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    deadline = time.monotonic() + 60
    while not ready_file.exists():
        if proc.poll() is not None:
            return proc, None
        if time.monotonic() > deadline:
            proc.kill()
            proc.communicate()
            pytest.fail("dts server neither became ready nor exited")
        time.sleep(0.02)
    return proc, json.loads(ready_file.read_text())


def stop(proc):
    proc.terminate()
    return proc.communicate(timeout=30)


def test_beyond_loopback_without_tokens_exits_2_unless_insecure_no_auth(tmp_path):
    addrs = ["--grpc-addr", "0.0.0.0:0", "--http-addr", "127.0.0.1:0"]
    proc, ready = start(tmp_path, addrs, env_without_tokens())
    if ready is not None:
        stop(proc)
        pytest.fail("listened beyond loopback without a token")
    _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 2, stderr
    assert "no token is configured" in stderr and "--insecure-no-auth" in stderr, stderr

    proc, ready = start(tmp_path, [*addrs, "--insecure-no-auth"], env_without_tokens())
    assert ready is not None, proc.communicate(timeout=30)
    _, stderr = stop(proc)
    assert "WARNING" in stderr and "authentication off" in stderr, stderr


@pytest.mark.parametrize("content,env,message", [
    ("viewer not-a-hash\n", {}, "tokens:1: the second field must be the token's SHA-256"),
    (f"# ok\nsuperuser {sha256(VIEWER)}\n", {}, "tokens:2: unknown role \"superuser\""),
    (f"viewer {sha256(VIEWER)} a\nadmin {sha256(VIEWER)} b\n", {},
     "tokens:2: the same token is already configured"),
    (None, {"DTS_AUTH_TOKENS": "viewer"}, "DTS_AUTH_TOKENS: entry 1: expected ROLE:TOKEN"),
    (None, {"DTS_AUTH_TOKENS": "admin:short"}, "DTS_AUTH_TOKENS: entry 1: the token must be at least 16"),
    (f"viewer {sha256(VIEWER)}\n", {"DTS_AUTH_TOKENS": f"admin:{VIEWER}"}, "configured twice"),
])
def test_bad_token_config_exits_2_naming_where(tmp_path, content, env, message):
    args = []
    if content is not None:
        (tmp_path / "tokens").write_text(content)
        args = ["--auth-tokens-file", str(tmp_path / "tokens")]
    proc, ready = start(tmp_path, args, env_without_tokens(**env))
    if ready is not None:
        stop(proc)
        pytest.fail("started with a bad token configuration")
    _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 2, stderr
    assert message in stderr, stderr
    assert VIEWER not in stderr  # never echo a secret


def test_missing_tokens_file_and_unwritable_audit_log_exit_2(tmp_path):
    proc, ready = start(tmp_path, ["--auth-tokens-file", str(tmp_path / "nope")],
                        env_without_tokens())
    assert ready is None
    _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 2 and "--auth-tokens-file: cannot read" in stderr, stderr
    proc, ready = start(tmp_path, ["--audit-log", str(tmp_path / "no" / "dir" / "audit.log")],
                        env_without_tokens())
    assert ready is None
    _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 2 and "--audit-log: cannot open" in stderr, stderr
