"""The HTTP/JSON API of the real `dts server`, over real sockets (docs/api.md).

Every test gets a fresh server on port 0 with an empty SQLite data dir (the
`server` fixture of conftest.py). Jobs use a schedule that fires once a year
(DEFAULT_CRON) unless a test needs another, so that no run fired by the
scheduling engine can change what a test looks at."""

import http.client
import json
import os
import re
import socket
import subprocess
import time
import uuid
from datetime import datetime, timedelta, timezone
from urllib.parse import urlencode

import pytest

from conftest import DTS, Server

DEFAULT_CRON = "0 3 1 1 *"  # 03:00 UTC on January 1st
MIB = 1 << 20
TOKEN = "e2e-token-0123456789abcdef"
RFC3339 = re.compile(r"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?Z$")
JOB_STATUSES = {"ACTIVE", "PENDING", "SCHEDULED", "RUNNING", "COMPLETED", "FAILED", "PAUSED",
                "CANCELLED", "RETRYING"}
RUN_STATUSES = {"PENDING", "QUEUED", "RUNNING", "COMPLETED", "FAILED", "TIMED_OUT", "CANCELLED",
                "SKIPPED", "MISSED", "RETRYING"}


# ---- helpers

def job_body(**fields):
    body = {"name": "e2e job", "cron_expression": DEFAULT_CRON}
    body.update(fields)
    return body


def create_job(server, **fields):
    status, body = server.request("POST", "/v1/jobs", job_body(**fields))
    assert status == 200, body
    assert set(body) == {"job_id"}, body
    assert is_uuid(body["job_id"]), body
    return body["job_id"]


def get_job(server, job_id):
    status, body = server.request("GET", f"/v1/jobs/{job_id}")
    assert status == 200, body
    return body


def list_jobs(server, **query):
    path = "/v1/jobs" + (f"?{urlencode(query)}" if query else "")
    status, body = server.request("GET", path)
    assert status == 200, body
    return body


def total_jobs(server, **query):
    total = list_jobs(server, page_size=1, **query)["total"]
    assert isinstance(total, int), total
    return total


def is_uuid(text):
    return isinstance(text, str) and re.fullmatch(
        r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", text) is not None


def parse_time(text):
    m = RFC3339.match(text)
    assert m, f"not an RFC3339 UTC timestamp: {text!r}"
    micros = int((m.group(2) or "0")[:6].ljust(6, "0"))
    return (datetime.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S").replace(tzinfo=timezone.utc)
            + timedelta(microseconds=micros))


def assert_error(status, body, http_status, grpc_code, *fragments):
    """An API error: the HTTP status, and the JSON body {code, message, details}."""
    assert status == http_status, (status, body)
    assert isinstance(body, dict), f"error body is not JSON: {body!r}"
    assert set(body) == {"code", "message", "details"}, body
    assert body["code"] == grpc_code, body
    assert body["details"] == [], body
    assert isinstance(body["message"], str) and body["message"], body
    for fragment in fragments:
        assert fragment in body["message"], (fragment, body)


def host_port(server):
    host, port = server.http.rsplit(":", 1)
    return host, int(port)


def call(server, method, path, body=None, raw=None, headers=None):
    """Like Server.request, but also returns the response headers."""
    conn = http.client.HTTPConnection(*host_port(server), timeout=30)
    try:
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        conn.request(method, path, body=data,
                     headers={"Content-Type": "application/json", **(headers or {})})
        resp = conn.getresponse()
        payload = resp.read()
        return resp.status, resp.headers, decode(payload)
    finally:
        conn.close()


def decode(payload):
    try:
        return json.loads(payload)
    except ValueError:
        return payload.decode(errors="replace")


def send_raw(server, data):
    """Writes `data` (a whole HTTP request) on a new connection and returns
    (status, body) of the response. The server may answer before it has read
    everything, so a write that fails on a closed connection is not an error:
    the response must still arrive."""
    with socket.create_connection(host_port(server), timeout=30) as sock:
        try:
            sock.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass
        resp = http.client.HTTPResponse(sock)
        try:
            resp.begin()
            payload = resp.read()
        except (ConnectionResetError, http.client.RemoteDisconnected) as e:
            pytest.fail(f"the server dropped the connection without a response: {e!r}")
        return resp.status, decode(payload)


def request_head(method, path, length=None, extra=()):
    lines = [f"{method} {path} HTTP/1.1", "Host: localhost", "Content-Type: application/json"]
    if length is not None:
        lines.append(f"Content-Length: {length}")
    lines.extend(extra)
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def padded_body(size):
    """A valid create request of exactly `size` bytes (padded with spaces)."""
    head = json.dumps(job_body(name="padded")).encode()
    assert size >= len(head)
    return head[:-1] + b" " * (size - len(head)) + b"}"


# ---- the seed's example

SEED_CURL_BODY = ('{"name": "My Job", "description": "Description", "cron_expression": "/5 ", '
                  '"metadata": {"key": "value"}}')


def test_seed_curl_example_with_bad_cron_is_400_naming_the_field(server):
    status, body = server.request("POST", "/v1/jobs", raw=SEED_CURL_BODY.encode())
    assert_error(status, body, 400, 3, "cron_expression")
    assert body["message"].startswith("cron_expression"), body
    assert total_jobs(server) == 0


def test_seed_curl_example_with_valid_cron_creates_the_job(server):
    status, body = server.request(
        "POST", "/v1/jobs", raw=SEED_CURL_BODY.replace('"/5 "', '"*/5 * * * *"').encode())
    assert status == 200, body
    assert is_uuid(body["job_id"]), body
    job = get_job(server, body["job_id"])
    assert job["name"] == "My Job"
    assert job["description"] == "Description"
    assert job["cron_expression"] == "*/5 * * * *"
    assert job["metadata"] == {"key": "value"}
    assert job["status"] == "ACTIVE"
    assert total_jobs(server) == 1


# ---- validation: each rule is a 400 naming the field, and stores nothing

def _long_map(n):
    return {f"k{i}": "v" for i in range(n)}


INVALID_CREATES = [
    ("name-missing", {"name": None}, "name"),
    ("name-empty", {"name": ""}, "name"),
    ("name-201-chars", {"name": "x" * 201}, "name"),
    ("name-201-unicode-chars", {"name": "\u00e9" * 201}, "name"),
    ("description-too-long", {"description": "d" * 4097}, "description"),
    ("cron-missing", {"cron_expression": None}, "cron_expression"),
    ("cron-empty", {"cron_expression": ""}, "cron_expression"),
    ("cron-seed-typo", {"cron_expression": "/5 "}, "cron_expression"),
    ("cron-garbage", {"cron_expression": "every five minutes"}, "cron_expression"),
    ("cron-four-fields", {"cron_expression": "* * * *"}, "cron_expression"),
    ("cron-minute-out-of-range", {"cron_expression": "61 * * * *"}, "cron_expression"),
    ("cron-step-zero", {"cron_expression": "*/0 * * * *"}, "cron_expression"),
    ("cron-unknown-macro", {"cron_expression": "@fortnightly"}, "cron_expression"),
    ("cron-unknown-zone-prefix", {"cron_expression": "CRON_TZ=Mars/Base 0 9 * * *"},
     "cron_expression"),
    ("cron-never-feb-30", {"cron_expression": "0 0 30 2 *"}, "cron_expression"),
    ("cron-never-31w-april", {"cron_expression": "0 0 31W 4 *"}, "cron_expression"),
    ("cron-every-beyond-50-years", {"cron_expression": "@every 500000h"}, "cron_expression"),
    ("timezone-unknown", {"timezone": "Mars/Olympus_Mons"}, "timezone"),
    ("timezone-garbage", {"timezone": "not a zone"}, "timezone"),
    ("metadata-65-entries", {"metadata": _long_map(65)}, "metadata"),
    ("metadata-key-129-bytes", {"metadata": {"k" * 129: "v"}}, "metadata"),
    ("metadata-key-129-bytes-unicode", {"metadata": {"\u00e9" * 64 + "k": "v"}}, "metadata"),
    ("metadata-empty-key", {"metadata": {"": "v"}}, "metadata"),
    ("metadata-value-4097-bytes", {"metadata": {"k": "v" * 4097}}, "metadata"),
    ("constraints-65-entries", {"constraints": _long_map(65)}, "constraints"),
    ("status-unknown", {"status": "sleeping"}, "status"),
    ("overlap-unknown", {"overlap_policy": "sometimes"}, "overlap_policy"),
    ("misfire-unknown", {"misfire_policy": "never"}, "misfire_policy"),
    ("priority-negative", {"priority": -1}, "priority"),
    ("priority-too-high", {"priority": 1001}, "priority"),
    ("max-retries-negative", {"max_retries": -1}, "max_retries"),
    ("max-retries-too-high", {"max_retries": 101}, "max_retries"),
    ("timeout-negative", {"timeout": -1}, "timeout"),
    ("cpu-negative", {"resources": {"cpu": -1}}, "resources.cpu"),
    ("memory-negative", {"resources": {"memory": -5}}, "resources.memory"),
    ("backoff-multiplier", {"retry_backoff": {"multiplier": 101}}, "retry_backoff.multiplier"),
    ("command-no-argv", {"executor": {"command": {"argv": []}}}, "executor.command.argv"),
    ("shell-two-args", {"executor": {"command": {"argv": ["a", "b"], "shell": True}}},
     "executor.command.argv"),
    ("http-bad-url", {"executor": {"http": {"url": "ftp://example.com/x"}}}, "executor.http.url"),
    ("http-bad-method", {"executor": {"http": {"url": "http://127.0.0.1/", "method": "FETCH"}}},
     "executor.http.method"),
    ("http-bad-expected-status", {"executor": {"http": {"url": "http://127.0.0.1/",
                                                        "expected_status": 700}}},
     "executor.http.expected_status"),
    ("kafka-no-topic", {"executor": {"kafka": {"topic": ""}}}, "executor.kafka.topic"),
    ("priority-wrong-type", {"priority": "high"}, "priority"),
    ("name-wrong-type", {"name": 5}, "name"),
    ("metadata-value-wrong-type", {"metadata": {"k": 1}}, "metadata"),
]


@pytest.mark.parametrize("fields,field", [pytest.param(f, n, id=i) for i, f, n in INVALID_CREATES])
def test_invalid_create_is_400_naming_the_field_and_stores_nothing(server, fields, field):
    create_job(server, name="already there")
    body = job_body(**fields)
    body = {k: v for k, v in body.items() if v is not None}
    status, resp = server.request("POST", "/v1/jobs", body)
    assert_error(status, resp, 400, 3, field)
    assert total_jobs(server) == 1
    assert [j["name"] for j in list_jobs(server)["jobs"]] == ["already there"]


VALID_EDGES = [
    ("name-200-chars", {"name": "n" * 200}),
    ("name-1-char", {"name": "n"}),
    ("name-200-unicode-chars", {"name": "\u00e9" * 200}),
    ("metadata-64-entries", {"metadata": _long_map(64)}),
    ("metadata-key-128-bytes", {"metadata": {"k" * 128: "v"}}),
    ("metadata-value-4096-bytes", {"metadata": {"k": "v" * 4096}}),
    ("metadata-full", {"metadata": {f"{i:0128d}": "v" * 4096 for i in range(64)}}),
    ("priority-bounds", {"priority": 1000, "max_retries": 100, "timeout": 0}),
    ("six-fields", {"cron_expression": "*/10 * * * * *"}),
    ("macro", {"cron_expression": "@daily"}),
    ("every", {"cron_expression": "@every 1h30m"}),
    ("cron-tz-prefix", {"cron_expression": "CRON_TZ=Asia/Tokyo 0 9 * * *"}),
    ("timezone", {"timezone": "America/Argentina/Buenos_Aires"}),
    ("command", {"executor": {"command": {"argv": ["/bin/echo", "a b"], "env": {"X": "1"},
                                          "working_dir": "/tmp"}}}),
    ("shell", {"executor": {"command": {"argv": ["echo hi && echo there"], "shell": True}}}),
    ("http", {"executor": {"http": {"url": "https://example.com/hook", "method": "post",
                                    "headers": {"X-A": "b"}, "body": "{}",
                                    "expected_status": 204}}}),
    ("kafka", {"executor": {"kafka": {"topic": "t", "key": "k", "payload": "p"}}}),
    ("resources", {"resources": {"cpu": 2000, "memory": "4096", "storage": 0}}),
    ("policies", {"overlap_policy": "Forbid", "misfire_policy": "run_all"}),
    ("status-pending", {"status": "pending"}),
]


@pytest.mark.parametrize("fields", [pytest.param(f, id=i) for i, f in VALID_EDGES])
def test_valid_edge_cases_are_accepted(server, fields):
    job_id = create_job(server, **fields)
    job = get_job(server, job_id)
    for key, value in fields.items():
        if key in ("metadata", "constraints", "name", "cron_expression", "timezone"):
            assert job[key] == value, key
    assert total_jobs(server) == 1


def test_create_stores_and_returns_every_field(server):
    request = job_body(
        name="full", description="all fields", cron_expression="0 12 * * *",
        timezone="Asia/Tokyo", metadata={"team": "data", "tier": "1"}, priority=7,
        max_retries=3, timeout=600, status="active",
        executor={"command": {"argv": ["/bin/echo", "hello world"], "env": {"A": "b"},
                              "working_dir": "/tmp"}},
        resources={"cpu": 500, "memory": 256, "storage": 10},
        constraints={"zone": "z"}, overlap_policy="forbid", misfire_policy="skip",
        retry_backoff={"initial_seconds": 5, "max_seconds": 60, "multiplier": 3})
    before = datetime.now(timezone.utc)
    job_id = create_job(server, **request)
    job = get_job(server, job_id)

    assert job["id"] == job_id
    for key in ("name", "description", "cron_expression", "timezone", "metadata", "priority",
                "max_retries", "timeout", "constraints"):
        assert job[key] == request[key], key
    assert job["status"] == "ACTIVE"
    assert job["overlap_policy"] == "FORBID"
    assert job["misfire_policy"] == "SKIP"
    assert job["executor"]["command"]["argv"] == ["/bin/echo", "hello world"]
    assert job["executor"]["command"]["env"] == {"A": "b"}
    assert job["executor"]["command"]["working_dir"] == "/tmp"
    assert job["resources"] == {"cpu": 500, "memory": 256,
                                                                "storage": 10}
    assert job["retry_backoff"] == {"initial_seconds": 5, "max_seconds": 60, "multiplier": 3}
    assert job["last_status"] == ""
    # Output uses the proto field names only.
    assert not any(re.search(r"[A-Z]", key) for key in job), sorted(job)

    # Timestamps are RFC3339 UTC; next_run is noon in Tokyo, 03:00Z, within a day.
    for key in ("created_at", "updated_at", "next_run", "schedule_anchor"):
        parse_time(job[key])
    created = parse_time(job["created_at"])
    assert abs(created - before) < timedelta(hours=1), (created, before)
    assert parse_time(job["updated_at"]) >= created
    next_run = parse_time(job["next_run"])
    assert next_run > created and next_run - created <= timedelta(days=1)
    assert (next_run.hour, next_run.minute, next_run.second) == (3, 0, 0), job["next_run"]


def test_defaults(server):
    job = get_job(server, create_job(server))
    assert job["status"] == "ACTIVE"
    assert job["timezone"] == "UTC"
    assert job["overlap_policy"] == "ALLOW"
    assert job["misfire_policy"] == "RUN_ONCE"
    assert job["resources"] == {"cpu": 100, "memory": 64,
                                                                "storage": 0}
    assert job["metadata"] == {} and job["constraints"] == {}
    assert job["description"] == "" and job["priority"] == 0 and job["max_retries"] == 0
    assert "executor" not in job or job["executor"] == {}
    # Next January 1st, 03:00 UTC.
    next_run = parse_time(job["next_run"])
    assert (next_run.month, next_run.day, next_run.hour, next_run.minute) == (1, 1, 3, 0)


def test_lower_camel_case_input_is_accepted(server):
    job_id = create_job(server, **{
        "cron_expression": None, "cronExpression": "*/5 * * * *", "maxRetries": 4,
        "overlapPolicy": "replace", "misfirePolicy": "Skip",
        "retryBackoff": {"initialSeconds": 2, "maxSeconds": 9},
        "executor": {"command": {"argv": ["true"], "workingDir": "/"}}})
    job = get_job(server, job_id)
    assert job["cron_expression"] == "*/5 * * * *"
    assert job["max_retries"] == 4
    assert job["overlap_policy"] == "REPLACE"
    assert job["misfire_policy"] == "SKIP"
    assert job["retry_backoff"]["initial_seconds"] == 2
    assert job["retry_backoff"]["max_seconds"] == 9
    assert job["executor"]["command"]["working_dir"] == "/"
    assert "maxRetries" not in job and "cronExpression" not in job


def test_status_is_accepted_in_any_case(server):
    paused = get_job(server, create_job(server, status="paused"))
    assert paused["status"] == "PAUSED"
    assert "next_run" not in paused
    active = get_job(server, create_job(server, status="Active"))
    assert active["status"] == "ACTIVE"
    parse_time(active["next_run"])
    cancelled = get_job(server, create_job(server, status="CANCELLED"))
    assert cancelled["status"] == "CANCELLED"
    assert "next_run" not in cancelled
    for spelling in ("paused", "PAUSED", "Paused"):
        page = list_jobs(server, status=spelling)
        assert page["total"] == 1
        assert [j["id"] for j in page["jobs"]] == [paused["id"]]


# ---- malformed requests

MALFORMED = [
    ("truncated", '{"name": "x", "cron_expression": ', "line 1, column 34"),
    ("missing-colon", '{"name" "x"}', "line 1, column 9"),
    ("trailing-comma", '{"name": "x",}', "line 1, column 14"),
    ("single-quotes", "{'name': 'x'}", "line 1, column 2"),
    ("not-json", "name=x&cron=y", "line 1, column 1"),
    ("multi-line", '{\n  "name": "x",\n  "cron_expression": oops\n}', "line 3, column 22"),
    ("unterminated-string", '{"name": "x', "unterminated"),
    ("two-values", '{"name": "x"} {}', "line 1, column 15"),
]


@pytest.mark.parametrize("raw,where", [pytest.param(r, w, id=i) for i, r, w in MALFORMED])
def test_malformed_json_is_400_saying_where(server, raw, where):
    status, body = server.request("POST", "/v1/jobs", raw=raw.encode())
    assert_error(status, body, 400, 3, "JSON")
    assert re.search(r"line \d+, column \d+", body["message"]), body
    assert where in body["message"], body
    assert total_jobs(server) == 0


def test_malformed_json_on_update_is_400(server):
    job_id = create_job(server)
    status, body = server.request("PUT", f"/v1/jobs/{job_id}", raw=b'{"name": }')
    assert_error(status, body, 400, 3, "line 1, column 10")
    assert get_job(server, job_id)["name"] == "e2e job"


def test_json_that_is_not_an_object_is_400(server):
    for raw in (b"[1, 2]", b'"a string"', b"42", b"null"):
        status, body = server.request("POST", "/v1/jobs", raw=raw)
        assert_error(status, body, 400, 3)
    assert total_jobs(server) == 0


def test_unknown_json_field_is_400_naming_it(server):
    status, body = server.request("POST", "/v1/jobs", job_body(bogus_field=1))
    assert_error(status, body, 400, 3, "bogus_field")
    status, body = server.request(
        "POST", "/v1/jobs", job_body(executor={"command": {"args": ["/bin/true"]}}))
    assert_error(status, body, 400, 3, "args")
    # Fields of the response that are not part of the request are unknown too.
    status, body = server.request("POST", "/v1/jobs", job_body(next_run="2030-01-01T00:00:00Z"))
    assert_error(status, body, 400, 3, "next_run")
    assert total_jobs(server) == 0


def test_two_executors_are_400(server):
    status, body = server.request("POST", "/v1/jobs", job_body(
        executor={"command": {"argv": ["/bin/true"]}, "http": {"url": "http://127.0.0.1/"}}))
    assert_error(status, body, 400, 3, "executor")
    assert total_jobs(server) == 0


def test_body_of_exactly_1_mib_is_accepted(server):
    status, body = server.request("POST", "/v1/jobs", raw=padded_body(MIB))
    assert status == 200, body
    assert total_jobs(server) == 1


def test_body_over_1_mib_is_413(server):
    data = padded_body(MIB + 1)
    status, body = send_raw(server, request_head("POST", "/v1/jobs", len(data)) + data)
    assert_error(status, body, 413, 8)
    # A much larger declared length is refused as well, without waiting for it.
    status, body = send_raw(server, request_head("POST", "/v1/jobs", 50 * MIB) + data[:1000])
    assert_error(status, body, 413, 8)
    # The server is fine afterwards, and stored nothing.
    assert total_jobs(server) == 0
    create_job(server)
    assert total_jobs(server) == 1


def test_chunked_body_over_1_mib_is_413(server):
    data = padded_body(MIB + 4096)
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(data[i:i + 65536]), data[i:i + 65536])
                      for i in range(0, len(data), 65536))
    raw = (request_head("POST", "/v1/jobs", extra=["Transfer-Encoding: chunked"]) + chunks
           + b"0\r\n\r\n")
    status, body = send_raw(server, raw)
    assert_error(status, body, 413, 8)
    assert total_jobs(server) == 0


def test_chunked_body_within_the_limit_is_accepted(server):
    data = json.dumps(job_body(name="chunked")).encode()
    raw = (request_head("POST", "/v1/jobs", extra=["Transfer-Encoding: chunked"])
           + b"%x\r\n%s\r\n" % (10, data[:10]) + b"%x\r\n%s\r\n" % (len(data) - 10, data[10:])
           + b"0\r\n\r\n")
    status, body = send_raw(server, raw)
    assert status == 200, body
    assert get_job(server, body["job_id"])["name"] == "chunked"


# ---- ids and routes

JOB_ID_ROUTES = [("GET", "/v1/jobs/{}"), ("PUT", "/v1/jobs/{}"), ("DELETE", "/v1/jobs/{}"),
                 ("POST", "/v1/jobs/{}/pause"), ("POST", "/v1/jobs/{}/resume"),
                 ("POST", "/v1/jobs/{}/cancel"), ("POST", "/v1/jobs/{}/run"),
                 ("GET", "/v1/scheduler/jobs/{}"), ("DELETE", "/v1/scheduler/jobs/{}"),
                 ("GET", "/v1/executions/{}")]


@pytest.mark.parametrize("method,route", JOB_ID_ROUTES)
def test_unknown_id_is_404_with_json_error(server, method, route):
    create_job(server)
    body = {"name": "renamed"} if method == "PUT" else None
    status, resp = server.request(method, route.format(uuid.uuid4()), body)
    assert_error(status, resp, 404, 5)
    assert total_jobs(server) == 1


@pytest.mark.parametrize("method,route", JOB_ID_ROUTES)
@pytest.mark.parametrize("bad_id", ["not-a-uuid", "12345", "zzzzzzzz-zzzz-zzzz-zzzz-zzzzzzzzzzzz",
                                    "3f2b8c1e9a4d4e0f8b7a2c5d6e7f8a9b"])
def test_invalid_uuid_is_400(server, method, route, bad_id):
    body = {"name": "renamed"} if method == "PUT" else None
    status, resp = server.request(method, route.format(bad_id), body)
    assert_error(status, resp, 400, 3, "UUID")


def test_invalid_uuid_in_query_is_400(server):
    for path, field in (("/v1/jobs?last_id=abc", "last_id"),
                        ("/v1/executions?job_id=abc", "job_id"),
                        ("/v1/executions?last_id=abc", "last_id"),
                        ("/v1/scheduler/jobs?page_token=abc", "page_token")):
        status, body = server.request("GET", path)
        assert_error(status, body, 400, 3, field)


# "/" is the dashboard (docs/dashboard.md); unknown files under it are 404 too.
@pytest.mark.parametrize("method,path", [("GET", "/ui/nope.js"), ("GET", "/v1"), ("GET", "/v1/nothing"),
                                         ("GET", "/v2/jobs"), ("POST", "/v1/job"),
                                         ("POST", "/v1/jobs/{id}/explode"),
                                         ("GET", "/v1/jobs/{id}/run/now")])
def test_unknown_route_is_404_with_json_error(server, method, path):
    path = path.replace("{id}", create_job(server))
    status, _, body = call(server, method, path)
    assert_error(status, body, 404, 5)


@pytest.mark.parametrize("method,path,allowed", [
    ("PATCH", "/v1/jobs", {"GET", "POST"}),
    ("DELETE", "/v1/jobs", {"GET", "POST"}),
    ("POST", "/v1/jobs/{id}", {"GET", "PUT", "DELETE"}),
    ("GET", "/v1/jobs/{id}/run", {"POST"}),
    ("DELETE", "/v1/jobs/{id}/pause", {"POST"}),
    ("PUT", "/v1/scheduler/jobs", {"GET", "POST"}),
    ("POST", "/v1/executions", {"GET"}),
    ("POST", "/healthz", {"GET"}),
])
def test_wrong_method_is_405_with_allow_header(server, method, path, allowed):
    path = path.replace("{id}", create_job(server))
    status, headers, body = call(server, method, path, body={} if method != "GET" else None)
    assert_error(status, body, 405, 12)
    allow = {m.strip() for m in headers.get("Allow", "").split(",") if m.strip()}
    assert allowed <= allow, headers.get("Allow")
    assert total_jobs(server) == 1


def test_unknown_query_parameter_is_400(server):
    status, body = server.request("GET", "/v1/jobs?pagesize=10")
    assert_error(status, body, 400, 3, "pagesize")
    status, body = server.request("GET", f"/v1/jobs/{create_job(server)}?verbose=1")
    assert_error(status, body, 400, 3, "verbose")


def test_healthz(server):
    status, headers, body = call(server, "GET", "/healthz")
    assert status == 200
    assert body == {"status": "ok"}
    assert headers.get("Content-Type", "").startswith("application/json")
    status, headers, body = call(server, "HEAD", "/healthz")
    assert status == 200
    assert body == ""


# ---- get, update, actions, delete

def test_put_is_a_partial_update(server):
    job_id = create_job(
        server, description="before", metadata={"a": "1", "b": "2"}, priority=5, max_retries=2,
        timeout=30, timezone="Europe/Berlin", constraints={"zone": "z"},
        executor={"kafka": {"topic": "t"}}, resources={"cpu": 300, "memory": 128},
        overlap_policy="FORBID", retry_backoff={"initial_seconds": 3})
    before = get_job(server, job_id)

    def put(body):
        status, job = server.request("PUT", f"/v1/jobs/{job_id}", body)
        assert status == 200, job
        assert job == get_job(server, job_id)  # PUT returns the job as stored
        return job

    def changed(a, b):
        return {k for k in set(a) | set(b) if a.get(k) != b.get(k)}

    after = put({"description": "after"})
    assert after["description"] == "after"
    assert changed(before, after) == {"description", "updated_at"}
    assert parse_time(after["updated_at"]) >= parse_time(before["updated_at"])
    assert after["created_at"] == before["created_at"]

    after2 = put({"maxRetries": 9, "priority": 0})  # camelCase; zero is a value, not "absent"
    assert (after2["max_retries"], after2["priority"]) == (9, 0)
    assert changed(after, after2) == {"max_retries", "priority", "updated_at"}

    after3 = put({"metadata": {}})  # an empty map clears
    assert after3["metadata"] == {}
    assert changed(after2, after3) == {"metadata", "updated_at"}

    after4 = put({"resources": {"cpu": 900, "memory": 64}})  # objects are replaced whole
    assert after4["resources"] == {"cpu": 900, "memory": 64,
                                                                   "storage": 0}
    assert changed(after3, after4) == {"resources", "updated_at"}

    after5 = put({"cron_expression": "0 5 1 1 *"})
    assert after5["cron_expression"] == "0 5 1 1 *"
    assert after5["next_run"] != after4["next_run"]
    assert parse_time(after5["next_run"]).hour == 4  # 05:00 in Berlin in January is 04:00Z
    assert changed(after4, after5) == {"cron_expression", "next_run", "updated_at"}

    after6 = put({"id": str(uuid.uuid4()), "name": "renamed"})  # an id in the body is ignored
    assert after6["id"] == job_id and after6["name"] == "renamed"
    assert total_jobs(server) == 1


def test_put_status_changes_firing(server):
    job_id = create_job(server)
    status, job = server.request("PUT", f"/v1/jobs/{job_id}", {"status": "paused"})
    assert status == 200, job
    assert job["status"] == "PAUSED" and "next_run" not in job
    status, job = server.request("PUT", f"/v1/jobs/{job_id}", {"timezone": "Asia/Tokyo"})
    assert status == 200, job
    assert job["status"] == "PAUSED" and "next_run" not in job
    status, job = server.request("PUT", f"/v1/jobs/{job_id}", {"status": "Active"})
    assert status == 200, job
    assert job["status"] == "ACTIVE"
    assert parse_time(job["next_run"]).hour == 18  # 03:00 in Tokyo is 18:00Z the day before


@pytest.mark.parametrize("body,field", [
    ({"name": ""}, "name"), ({"name": "x" * 201}, "name"),
    ({"cron_expression": "/5 "}, "cron_expression"),
    ({"timezone": "Nowhere/Land"}, "timezone"), ({"metadata": _long_map(65)}, "metadata"),
    ({"metadata": {"k": "v" * 4097}}, "metadata"), ({"status": "asleep"}, "status"),
    ({"priority": -3}, "priority"), ({"bogus": 1}, "bogus"),
])
def test_invalid_update_is_400_and_changes_nothing(server, body, field):
    job_id = create_job(server, metadata={"keep": "me"})
    before = get_job(server, job_id)
    status, resp = server.request("PUT", f"/v1/jobs/{job_id}", body)
    assert_error(status, resp, 400, 3, field)
    assert get_job(server, job_id) == before


def test_put_naming_no_field_is_400(server):
    job_id = create_job(server)
    for raw in (b"{}", b""):
        status, body = server.request("PUT", f"/v1/jobs/{job_id}", raw=raw)
        assert_error(status, body, 400, 3)


def test_pause_resume_cancel(server):
    job_id = create_job(server)
    status, job = server.request("POST", f"/v1/jobs/{job_id}/pause")
    assert status == 200, job
    assert job["status"] == "PAUSED" and "next_run" not in job
    assert get_job(server, job_id) == job
    status, again = server.request("POST", f"/v1/jobs/{job_id}/pause")  # idempotent
    assert status == 200 and again["status"] == "PAUSED"

    status, job = server.request("POST", f"/v1/jobs/{job_id}/resume")
    assert status == 200, job
    assert job["status"] == "ACTIVE"
    parse_time(job["next_run"])

    status, job = server.request("POST", f"/v1/jobs/{job_id}/cancel")
    assert status == 200, job
    assert job["status"] == "CANCELLED" and "next_run" not in job

    status, body = server.request("POST", f"/v1/jobs/{job_id}/pause")
    assert_error(status, body, 400, 9, "cancel")
    assert get_job(server, job_id)["status"] == "CANCELLED"

    status, job = server.request("POST", f"/v1/jobs/{job_id}/resume")
    assert status == 200 and job["status"] == "ACTIVE" and "next_run" in job


def test_trigger_creates_a_manual_execution(server):
    job_id = create_job(server, status="paused")  # allowed even while paused
    status, body = server.request("POST", f"/v1/jobs/{job_id}/run")
    assert status == 200, body
    assert set(body) == {"execution_id"} and is_uuid(body["execution_id"]), body
    status, run = server.request("GET", f"/v1/executions/{body['execution_id']}")
    assert status == 200, run
    assert run["id"] == body["execution_id"]
    assert run["job_id"] == job_id
    assert run["trigger"] == "MANUAL"
    assert run["attempt"] == 1
    assert run["status"] in RUN_STATUSES
    parse_time(run["scheduled_time"])
    parse_time(run["created_at"])
    # The job's own status and schedule are left alone.
    assert get_job(server, job_id)["status"] == "PAUSED"


def test_delete(server):
    keep = create_job(server, name="keep")
    job_id = create_job(server, name="delete me")
    status, run = server.request("POST", f"/v1/jobs/{job_id}/run")
    assert status == 200, run
    status, body = server.request("DELETE", f"/v1/jobs/{job_id}")
    assert status == 200, body
    assert body == {"success": True}
    status, body = server.request("GET", f"/v1/jobs/{job_id}")
    assert_error(status, body, 404, 5)
    status, body = server.request("DELETE", f"/v1/jobs/{job_id}")
    assert_error(status, body, 404, 5)
    # Its runs went with it.
    status, body = server.request("GET", f"/v1/executions/{run['execution_id']}")
    assert_error(status, body, 404, 5)
    assert [j["id"] for j in list_jobs(server)["jobs"]] == [keep]
    assert total_jobs(server) == 1


# ---- listing and paging

def walk(server, page_size, between_pages=None, **query):
    """All pages of GET /v1/jobs; returns (pages, ids in order)."""
    pages, ids, last_id = [], [], None
    while True:
        params = {"page_size": page_size, **query}
        if last_id:
            params["last_id"] = last_id
        page = list_jobs(server, **params)
        pages.append(page)
        ids.extend(j["id"] for j in page["jobs"])
        assert len(page["jobs"]) <= page_size
        last_id = page["next_page"]
        if not last_id:
            return pages, ids
        assert last_id == page["jobs"][-1]["id"], page["next_page"]
        assert len(pages) < 100, "paging does not end"
        if between_pages:
            between_pages(len(pages), last_id)


def test_paging_walks_every_job_once(server):
    created = {create_job(server, name=f"job {i}") for i in range(25)}
    pages, ids = walk(server, 10)
    assert [len(p["jobs"]) for p in pages] == [10, 10, 5]
    assert [p["total"] for p in pages] == [25, 25, 25]
    assert pages[-1]["next_page"] == ""
    assert len(ids) == len(set(ids)) == 25
    assert set(ids) == created
    assert ids == sorted(ids)  # keyset order: by id

    pages, ids = walk(server, 25)  # a page that ends exactly at the last job
    assert [len(p["jobs"]) for p in pages] == [25] and pages[0]["next_page"] == ""
    pages, ids = walk(server, 24)
    assert [len(p["jobs"]) for p in pages] == [24, 1]
    pages, ids = walk(server, 1000)
    assert set(ids) == created
    assert len(list_jobs(server)["jobs"]) == 25  # default page size 50


def test_paging_is_stable_while_jobs_are_created_and_deleted(server):
    created = {create_job(server, name=f"job {i}") for i in range(25)}
    added = set()

    def between_pages(n, cursor):
        # Deleting the job the cursor names does not break the walk.
        if n == 1:
            status, body = server.request("DELETE", f"/v1/jobs/{cursor}")
            assert status == 200, body
        for i in range(5):
            added.add(create_job(server, name=f"new {n}.{i}"))

    _, ids = walk(server, 10, between_pages)
    assert len(ids) == len(set(ids)), "a job was returned twice"
    assert ids == sorted(ids)
    assert created <= set(ids), "a job that existed for the whole walk was skipped"
    assert set(ids) <= created | added
    assert total_jobs(server) == 25 + len(added) - 1


def test_status_filter(server):
    active = {create_job(server, name=f"a{i}") for i in range(4)}
    paused = {create_job(server, name=f"p{i}", status="paused") for i in range(3)}
    cancelled = {create_job(server, name=f"c{i}") for i in range(2)}
    for job_id in cancelled:
        assert server.request("POST", f"/v1/jobs/{job_id}/cancel")[0] == 200
    for status, expected in (("active", active), ("PAUSED", paused), ("Cancelled", cancelled),
                             ("failed", set())):
        _, ids = walk(server, 2, status=status)
        assert set(ids) == expected, status
        assert total_jobs(server, status=status) == len(expected)
        for job in list_jobs(server, status=status)["jobs"]:
            assert job["status"] == status.upper()
    assert total_jobs(server) == 9
    status, body = server.request("GET", "/v1/jobs?status=sleeping")
    assert_error(status, body, 400, 3, "status")


@pytest.mark.parametrize("value", ["0", "1", "1000"])
def test_page_size_bounds_accepted(server, value):
    create_job(server)
    status, body = server.request("GET", f"/v1/jobs?page_size={value}")
    assert status == 200, body


@pytest.mark.parametrize("value", ["-1", "1001", "ten", ""])
def test_page_size_out_of_range_is_400(server, value):
    status, body = server.request("GET", f"/v1/jobs?page_size={value}")
    assert_error(status, body, 400, 3, "page_size")


# ---- scheduler routes

def test_schedule_job_creates_a_job_with_resources(server):
    status, body = server.request("POST", "/v1/scheduler/jobs", {
        "job": {"name": "etl", "description": "d", "cron_expression": "0 * * * *",
                "metadata": {"k": "v"}},
        "resource_requirements": {"cpu": 2000, "memory": 4096, "storage": 10240}})
    assert status == 200, body
    assert set(body) == {"schedule_id"} and is_uuid(body["schedule_id"]), body
    job_id = body["schedule_id"]

    job = get_job(server, job_id)
    assert (job["name"], job["cron_expression"]) == ("etl", "0 * * * *")
    assert job["metadata"] == {"k": "v"}
    assert job["status"] == "ACTIVE"
    assert job["resources"] == {"cpu": 2000, "memory": 4096,
                                                                "storage": 10240}

    status, sched = server.request("GET", f"/v1/scheduler/jobs/{job_id}")
    assert status == 200, sched
    assert sched["job_id"] == job_id
    assert sched["status"] == "ACTIVE"
    assert sched["cron_expression"] == "0 * * * *"
    assert sched["resource_requirements"] == {
        "cpu": 2000, "memory": 4096, "storage": 10240}
    assert sched["next_execution_time"] == job["next_run"]
    assert parse_time(sched["next_execution_time"]).minute == 0


def test_schedule_job_camel_case_and_validation(server):
    status, body = server.request("POST", "/v1/scheduler/jobs", {
        "job": {"name": "camel", "cronExpression": DEFAULT_CRON},
        "resourceRequirements": {"cpu": 1}})
    assert status == 200, body
    for job, field in (({"name": "x", "cron_expression": "/5 "}, "job.cron_expression"),
                       ({"cron_expression": DEFAULT_CRON}, "job.name"),
                       ({"name": "x", "cron_expression": DEFAULT_CRON, "timezone": "X/Y"},
                        "job.timezone")):
        status, resp = server.request("POST", "/v1/scheduler/jobs", {"job": job})
        assert_error(status, resp, 400, 3, field)
    status, resp = server.request("POST", "/v1/scheduler/jobs", {
        "job": {"name": "x", "cron_expression": DEFAULT_CRON}, "resource_requirements": {"gpu": 1}})
    assert_error(status, resp, 400, 3, "gpu")
    assert total_jobs(server) == 1


def test_schedule_existing_job_reactivates_it(server):
    job_id = create_job(server, status="paused")
    status, body = server.request("POST", "/v1/scheduler/jobs", {
        "job": {"id": job_id}, "resource_requirements": {"cpu": 700, "memory": 32}})
    assert status == 200, body
    assert body["schedule_id"] == job_id
    job = get_job(server, job_id)
    assert job["status"] == "ACTIVE" and "next_run" in job
    assert job["resources"]["cpu"] == 700
    assert total_jobs(server) == 1
    status, body = server.request("POST", "/v1/scheduler/jobs", {"job": {"id": str(uuid.uuid4())}})
    assert_error(status, body, 404, 5)
    status, body = server.request("POST", "/v1/scheduler/jobs", {"job": {"id": "nope"}})
    assert_error(status, body, 400, 3, "job.id")


def test_cancel_scheduled_job(server):
    job_id = create_job(server)
    status, body = server.request("DELETE", f"/v1/scheduler/jobs/{job_id}")
    assert status == 200, body
    assert body == {"success": True}
    status, sched = server.request("GET", f"/v1/scheduler/jobs/{job_id}")
    assert status == 200, sched
    assert sched["status"] == "CANCELLED"
    assert "next_execution_time" not in sched
    assert get_job(server, job_id)["status"] == "CANCELLED"  # kept, not deleted


def test_list_scheduled_jobs_pages(server):
    created = {create_job(server, name=f"s{i}") for i in range(7)}
    seen, token, pages = [], "", 0
    while True:
        query = {"page_size": 3, **({"page_token": token} if token else {})}
        status, page = server.request("GET", f"/v1/scheduler/jobs?{urlencode(query)}")
        assert status == 200, page
        assert set(page) == {"jobs", "next_page_token", "total_count"}, page
        assert page["total_count"] == 7
        for sched in page["jobs"]:
            assert {"job_id", "resource_requirements", "status", "cron_expression"} <= set(sched)
        seen.extend(s["job_id"] for s in page["jobs"])
        pages += 1
        token = page["next_page_token"]
        if not token:
            break
        assert pages < 10
    assert pages == 3
    assert len(seen) == len(set(seen)) and set(seen) == created


# ---- executions

def trigger(server, job_id):
    status, body = server.request("POST", f"/v1/jobs/{job_id}/run")
    assert status == 200, body
    return body["execution_id"]


def list_executions(server, **query):
    status, body = server.request("GET", "/v1/executions?" + urlencode(query))
    assert status == 200, body
    assert set(body) == {"executions", "total", "next_page"}, body
    return body


def test_list_executions_filters(server):
    job_a, job_b, job_c = (create_job(server, name=n) for n in "abc")
    runs_a = {trigger(server, job_a) for _ in range(3)}
    runs_b = {trigger(server, job_b)}

    page = list_executions(server, job_id=job_a)
    assert {r["id"] for r in page["executions"]} == runs_a
    assert page["total"] == 3
    assert all(r["job_id"] == job_a and r["trigger"] == "MANUAL" for r in page["executions"])
    assert {r["id"] for r in list_executions(server, job_id=job_b)["executions"]} == runs_b
    empty = list_executions(server, job_id=job_c)
    assert empty["executions"] == [] and empty["total"] == 0 and empty["next_page"] == ""
    everything = list_executions(server)
    assert {r["id"] for r in everything["executions"]} == runs_a | runs_b

    # A status filter (any case) returns only runs in that status.
    for status in sorted(RUN_STATUSES):
        for spelling in (status.lower(), status):
            page = list_executions(server, status=spelling)
            assert all(r["status"] == status for r in page["executions"]), (status, page)
            page = list_executions(server, status=spelling, job_id=job_a)
            assert all(r["status"] == status and r["job_id"] == job_a
                       for r in page["executions"]), page
            assert {r["id"] for r in page["executions"]} <= runs_a
    # Manual runs are never MISSED.
    assert not {r["id"] for r in list_executions(server, status="missed")["executions"]} & runs_a

    status, body = server.request("GET", "/v1/executions?status=exploded")
    assert_error(status, body, 400, 3, "status")


def test_list_executions_pages(server):
    job_id = create_job(server)
    runs = {trigger(server, job_id) for _ in range(5)}
    seen, last_id = [], ""
    for _ in range(10):
        query = {"job_id": job_id, "page_size": 2, **({"last_id": last_id} if last_id else {})}
        page = list_executions(server, **query)
        assert len(page["executions"]) <= 2
        seen.extend(r["id"] for r in page["executions"])
        last_id = page["next_page"]
        if not last_id:
            break
    assert len(seen) == len(set(seen)) == 5 and set(seen) == runs


# ---- connections

def test_keep_alive_serves_many_requests_on_one_connection(server):
    conn = http.client.HTTPConnection(*host_port(server), timeout=30)
    try:
        conn.connect()
        sock = conn.sock
        local = sock.getsockname()

        def req(method, path, body=None):
            data = json.dumps(body).encode() if body is not None else None
            conn.request(method, path, body=data, headers={"Content-Type": "application/json"})
            resp = conn.getresponse()
            payload = decode(resp.read())
            assert resp.getheader("Connection", "").lower() != "close", resp.getheaders()
            assert conn.sock is sock, "the server closed the connection"
            return resp.status, payload

        status, body = req("POST", "/v1/jobs", job_body(name="ka"))
        assert status == 200, body
        job_id = body["job_id"]
        assert req("GET", f"/v1/jobs/{job_id}")[1]["name"] == "ka"
        assert req("GET", f"/v1/jobs/{uuid.uuid4()}")[0] == 404  # errors keep the connection
        assert req("POST", "/v1/jobs", {"name": "bad"})[0] == 400
        assert req("PUT", f"/v1/jobs/{job_id}", {"description": "x"})[0] == 200
        assert req("GET", "/v1/nothing")[0] == 404
        for _ in range(20):
            assert req("GET", "/healthz")[0] == 200
        assert req("GET", "/v1/jobs")[1]["total"] == 1
        assert sock.getsockname() == local
    finally:
        conn.close()


class _Unclosable:
    """A file that HTTPResponse cannot close when it has read its body."""

    def __init__(self, f):
        self._f = f

    def __getattr__(self, name):
        return getattr(self._f, name)

    def close(self):
        pass


def test_pipelined_requests_are_answered_in_order(server):
    job_id = create_job(server, name="piped")
    one = f"GET /v1/jobs/{job_id} HTTP/1.1\r\nHost: x\r\n\r\n".encode()
    two = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
    three = f"GET /v1/jobs/{uuid.uuid4()} HTTP/1.1\r\nHost: x\r\n\r\n".encode()
    with socket.create_connection(host_port(server), timeout=30) as sock:
        sock.sendall(one + two + three)
        reader = _Unclosable(sock.makefile("rb"))
        results = []
        for _ in range(3):
            resp = http.client.HTTPResponse(sock)
            resp.fp = reader  # one buffered reader for all three responses
            resp.begin()
            results.append((resp.status, decode(resp.read())))
    assert results[0][0] == 200 and results[0][1]["name"] == "piped"
    assert results[1] == (200, {"status": "ok"})
    assert results[2][0] == 404


# ---- authentication

def test_token_auth(tmp_path):
    server = Server(tmp_path / "data", env={"DTS_API_TOKEN": TOKEN})
    try:
        status, body = server.request("POST", "/v1/jobs", job_body())
        assert_error(status, body, 401, 16)
        for header in (f"Bearer {TOKEN}x", f"Bearer {TOKEN[:-1]}", "Bearer ", TOKEN,
                       f"Basic {TOKEN}", "Bearer wrong-token-0123456789abc"):
            status, body = server.request("GET", "/v1/jobs", headers={"Authorization": header})
            assert_error(status, body, 401, 16)
        status, body = server.request("GET", f"/v1/jobs/{uuid.uuid4()}")
        assert_error(status, body, 401, 16)  # no token: 401 before looking anything up

        auth = {"Authorization": f"Bearer {TOKEN}"}
        status, body = server.request("POST", "/v1/jobs", job_body(), headers=auth)
        assert status == 200, body
        status, job = server.request("GET", f"/v1/jobs/{body['job_id']}", headers=auth)
        assert status == 200 and job["id"] == body["job_id"]
        status, page = server.request("GET", "/v1/jobs", headers=auth)
        assert status == 200 and page["total"] == 1
        for path in ("/v1/scheduler/jobs", "/v1/executions"):
            assert server.request("GET", path)[0] == 401
            assert server.request("GET", path, headers=auth)[0] == 200
        # Health needs no token.
        assert server.request("GET", "/healthz") == (200, {"status": "ok"})
    finally:
        server.stop()


def test_token_from_file(tmp_path):
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    os.chmod(token_file, 0o600)
    server = Server(tmp_path / "data", extra_args=["--api-token-file", str(token_file)],
                    env={"DTS_API_TOKEN": ""})
    try:
        assert server.request("GET", "/v1/jobs")[0] == 401
        status, body = server.request("GET", "/v1/jobs",
                                      headers={"Authorization": f"Bearer {TOKEN}"})
        assert status == 200, body
    finally:
        server.stop()


def env_without_token(**extra):
    env = {k: v for k, v in os.environ.items() if k != "DTS_API_TOKEN"}
    env.update(extra)
    return env


def start_server(tmp_path, http_addr, grpc_addr, env):
    """Runs `dts server` with the given addresses. Returns (proc, ready) where
    ready is the parsed ready file, or None if the process exited first."""
    ready_file = tmp_path / f"ready-{time.monotonic_ns()}.json"
    proc = subprocess.Popen(
        [DTS, "server", "--data-dir", str(tmp_path / "data"), "--grpc-addr", grpc_addr,
         "--http-addr", http_addr, "--ready-file", str(ready_file)],
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


@pytest.mark.parametrize("http_addr,grpc_addr", [("0.0.0.0:0", "127.0.0.1:0"),
                                                 ("127.0.0.1:0", "0.0.0.0:0"),
                                                 (":0", "127.0.0.1:0")])
def test_refuses_to_listen_beyond_loopback_without_a_token(tmp_path, http_addr, grpc_addr):
    proc, ready = start_server(tmp_path, http_addr, grpc_addr, env_without_token())
    if ready is not None:
        proc.terminate()
        proc.communicate(timeout=30)
        pytest.fail(f"dts server listened on {ready} without a token")
    _, stderr = proc.communicate(timeout=30)
    assert proc.returncode != 0
    assert "token" in stderr.lower(), stderr
    assert "DTS_API_TOKEN" in stderr, stderr


def test_listens_beyond_loopback_with_a_token(tmp_path):
    proc, ready = start_server(tmp_path, "0.0.0.0:0", "127.0.0.1:0",
                               env_without_token(DTS_API_TOKEN=TOKEN))
    try:
        assert ready is not None, proc.communicate(timeout=30)
        port = int(ready["http"].rsplit(":", 1)[1])
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        try:
            conn.request("GET", "/v1/jobs")
            resp = conn.getresponse()
            assert resp.status == 401
            resp.read()
            conn.request("GET", "/v1/jobs", headers={"Authorization": f"Bearer {TOKEN}"})
            resp = conn.getresponse()
            assert resp.status == 200, resp.read()
            resp.read()
        finally:
            conn.close()
    finally:
        if proc.poll() is None:
            proc.terminate()
        proc.communicate(timeout=30)
    assert proc.returncode == 0


def test_refuses_a_short_token(tmp_path):
    proc, ready = start_server(tmp_path, "127.0.0.1:0", "127.0.0.1:0",
                               env_without_token(DTS_API_TOKEN="short"))
    if ready is not None:
        proc.terminate()
        proc.communicate(timeout=30)
        pytest.fail("dts server accepted a 5-character token")
    _, stderr = proc.communicate(timeout=30)
    assert proc.returncode != 0
    assert "16" in stderr, stderr
