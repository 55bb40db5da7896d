"""Fixtures that run the real `dts` binary: a server on port 0 with a fresh
SQLite data dir, and helpers to call its HTTP API and CLI."""

import calendar
import json
import os
import re
import signal
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

DTS = os.environ.get("DTS_BINARY", str(Path(__file__).resolve().parents[2] / "build" / "dts"))


# Every test server's worker is the same size whatever the machine, and
# labelled zone=z, so that jobs constrained to zone=z can be placed.
WORKER_DEFAULTS = {"--worker-cpu": "8000", "--worker-memory": "16384", "--worker-label": "zone=z"}


def _worker_defaults(extra_args):
    args = []
    for flag, value in WORKER_DEFAULTS.items():
        if flag not in extra_args:
            args += [flag, value]
    return args


class Server:
    """A running `dts server`. Stops it (SIGTERM) on stop()."""

    def __init__(self, data_dir, extra_args=(), env=None, cwd=None):
        self.data_dir = str(data_dir)
        self.ready_file = os.path.join(cwd or "", self.data_dir, "..",
                                       f"ready-{os.getpid()}-{time.monotonic_ns()}.json")
        self.ready_file = os.path.abspath(self.ready_file)
        self.log = tempfile.NamedTemporaryFile(prefix="dts-server-", suffix=".log", delete=False)
        args = [DTS, "server", "--data-dir", self.data_dir, "--grpc-addr", "127.0.0.1:0",
                "--http-addr", "127.0.0.1:0", "--ready-file", self.ready_file,
                *_worker_defaults(extra_args), *extra_args]
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT,
                                     env={**os.environ, **(env or {})}, cwd=cwd)
        deadline = time.monotonic() + 60
        while not os.path.exists(self.ready_file):
            if self.proc.poll() is not None:
                raise RuntimeError(f"dts server exited with {self.proc.returncode}: {self.output()}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"dts server did not become ready: {self.output()}")
            time.sleep(0.02)
        with open(self.ready_file) as f:
            ready = json.load(f)
        self.grpc = ready["grpc"]
        self.http = ready["http"]
        self.base_url = f"http://{self.http}"

    def output(self):
        with open(self.log.name) as f:
            return f.read()

    def stop(self, sig=signal.SIGTERM):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if os.path.exists(self.ready_file):
            os.unlink(self.ready_file)
        return self.proc.returncode

    def request(self, method, path, body=None, headers=None, raw=None):
        """Returns (status, parsed JSON or text). `raw` sends bytes as is."""
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        req = urllib.request.Request(self.base_url + path, data=data, method=method)
        req.add_header("Content-Type", "application/json")
        for k, v in (headers or {}).items():
            req.add_header(k, v)
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                return resp.status, _decode(resp.read())
        except urllib.error.HTTPError as e:
            return e.code, _decode(e.read())


def _decode(data):
    try:
        return json.loads(data)
    except ValueError:
        return data.decode(errors="replace")


def run_cli(*args, server=None, env=None, input=None):
    """Runs `dts ARGS` and returns the CompletedProcess (text mode)."""
    full_env = {**os.environ, **(env or {})}
    if server is not None:
        full_env["DTS_SERVER"] = server.grpc
    return subprocess.run([DTS, *args], capture_output=True, text=True, env=full_env,
                          input=input, timeout=60)


@pytest.fixture
def data_dir(tmp_path):
    return tmp_path / "data"


@pytest.fixture
def server(data_dir):
    s = Server(data_dir)
    yield s
    s.stop()


# ---- helpers for the run tests (test_runs.py, test_crash.py) ----

_TIME_RE = re.compile(r"^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d{1,9}))?Z$")


def time_parts(value):
    """An RFC 3339 UTC timestamp ("2026-03-07T07:30:00.004Z") as
    (whole seconds since the epoch, nanoseconds)."""
    m = _TIME_RE.match(value)
    assert m, f"not an RFC 3339 UTC timestamp: {value!r}"
    seconds = calendar.timegm(tuple(int(m.group(i)) for i in range(1, 7)))
    nanos = int((m.group(7) or "0").ljust(9, "0"))
    return seconds, nanos


def parse_time(value):
    """An RFC 3339 UTC timestamp as float seconds since the epoch."""
    seconds, nanos = time_parts(value)
    return seconds + nanos / 1e9


def wait_for(predicate, timeout=30.0, interval=0.05, message="condition"):
    """Calls predicate() until it returns something truthy and returns that;
    fails the test (never hangs) after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        last = predicate()
        if last:
            return last
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {message}; last value: {last!r}")
        time.sleep(interval)


def list_runs(server, job_id=None, status=None, page_size=1000):
    """Every run (GET /v1/executions), paged through to the end."""
    runs = []
    last_id = ""
    while True:
        query = [f"page_size={page_size}"]
        if job_id:
            query.append(f"job_id={job_id}")
        if status:
            query.append(f"status={status}")
        if last_id:
            query.append(f"last_id={last_id}")
        code, page = server.request("GET", "/v1/executions?" + "&".join(query))
        assert code == 200, page
        runs.extend(page["executions"])
        last_id = page["next_page"]
        if not last_id:
            return runs


def create_job(server, **fields):
    """POST /v1/jobs with `fields` (name defaults to "job"); returns the id."""
    code, body = server.request("POST", "/v1/jobs", {"name": "job", **fields})
    assert code == 200, body
    return body["job_id"]


def get_job(server, job_id):
    code, body = server.request("GET", f"/v1/jobs/{job_id}")
    assert code == 200, (job_id, body)
    return body


# ---- /metrics (test_observability.py and the distributed tests) ----

_SAMPLE_RE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
_LABEL_RE = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


class Metrics:
    """One scrape of /metrics in the Prometheus text format: the TYPE of
    each family, and every sample as (name, {label: value}, value)."""

    def __init__(self, text):
        self.text = text
        self.types = {}
        self.samples = []
        for line in text.splitlines():
            if line.startswith("# TYPE "):
                _, _, name, kind = line.split(" ", 3)
                self.types[name] = kind
                continue
            if not line or line.startswith("#"):
                continue
            m = _SAMPLE_RE.match(line)
            assert m, f"not a sample line of the text format: {line!r}"
            labels = {k: v.replace('\\"', '"').replace("\\n", "\n").replace("\\\\", "\\")
                      for k, v in _LABEL_RE.findall(m.group(2) or "")}
            self.samples.append((m.group(1), labels, float(m.group(3))))

    def sum(self, name, **labels):
        """The sum of the samples of `name` whose labels include `labels`."""
        return sum(v for n, l, v in self.samples
                   if n == name and all(l.get(k) == str(x) for k, x in labels.items()))

    def series(self, name):
        return [(l, v) for n, l, v in self.samples if n == name]


def scrape(service, headers=None):
    """GET /metrics of a Server or distributed Service, parsed."""
    code, body = service.request("GET", "/metrics", **({"headers": headers} if headers else {}))
    assert code == 200, f"/metrics: {code} {body}"
    assert isinstance(body, str), f"/metrics is not text: {body!r}"
    return Metrics(body)
