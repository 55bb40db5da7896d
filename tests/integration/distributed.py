"""Harness for the distributed-mode tests (test_distributed.py): runs the real
`dts` services (job-service, scheduler-service, execution-service) against the
real Kafka and Cassandra of scripts/services.sh, and checks what they recorded.

Endpoints come from the environment, with the defaults of scripts/services.sh:
  KAFKA_BROKERS    (default 127.0.0.1:${DTS_KAFKA_PORT:-9092})
  CASSANDRA_HOSTS  (default 127.0.0.1; DTS_CASSANDRA_PORT, default 9042, for
                    hosts without a port)
  CASSANDRA_USERNAME / CASSANDRA_PASSWORD (default cassandra / cassandra)
  DTS_SHARDS       passed through when set (else the services' default, 64:
                   every test of the suite must use the same value, since
                   the topics are shared)

The consumer groups of the services have fixed names, so the processes of
one test must be gone before the next test starts: Cluster.close() stops
every process it started (SIGTERM, then SIGKILL) and every process also gets
PR_SET_PDEATHSIG, so none outlives a killed pytest. A member that was
SIGKILLed stays in its group until its session times out; Cluster() waits
that long after the last SIGKILL before it starts anything.
"""

import collections
import ctypes
import json
import os
import signal
import socket
import struct
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "e2e"))  # the e2e helpers
sys.path.insert(0, str(ROOT / "scripts"))
import cql  # noqa: E402  (scripts/cql.py)
from conftest import DTS, list_runs, time_parts, wait_for  # noqa: E402,F401

EVERY_SECOND = "* * * * * *"
ACTIVE_STATES = ("PENDING", "QUEUED", "RUNNING", "RETRYING")
# The librdkafka session timeout of every group member (src/messaging/README.md)
# plus a margin: how long a SIGKILLed member can stay in its group.
GROUP_SESSION_GRACE = 9.0
# Worker capacity given to every execution-service (the e2e tests' size).
WORKER_CPU = "8000"
WORKER_MEMORY = "16384"

_last_group_kill = 0.0  # time.monotonic() of the last SIGKILL of a group member
_libc = ctypes.CDLL(None, use_errno=True)


def _die_with_parent():
    _libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


# ---------------------------------------------------------------- endpoints --

def kafka_brokers():
    return os.environ.get("KAFKA_BROKERS") or f"127.0.0.1:{os.environ.get('DTS_KAFKA_PORT', '9092')}"


def cassandra_hosts():
    port = os.environ.get("DTS_CASSANDRA_PORT", "9042")
    hosts = []
    for host in os.environ.get("CASSANDRA_HOSTS", "127.0.0.1").split(","):
        host = host.strip()
        if host:
            hosts.append(host if ":" in host else f"{host}:{port}")
    return ",".join(hosts)


def service_env(keyspace):
    env = {
        "KAFKA_BROKERS": kafka_brokers(),
        "CASSANDRA_HOSTS": cassandra_hosts(),
        "CASSANDRA_KEYSPACE": keyspace,
        "CASSANDRA_USERNAME": os.environ.get("CASSANDRA_USERNAME", "cassandra"),
        "CASSANDRA_PASSWORD": os.environ.get("CASSANDRA_PASSWORD", "cassandra"),
    }
    if os.environ.get("DTS_SHARDS"):
        env["DTS_SHARDS"] = os.environ["DTS_SHARDS"]
    return env


def clean_environ():
    # Our own settings must not leak in from the caller's environment: the
    # services treat unknown KAFKA_* variables as librdkafka properties.
    return {k: v for k, v in os.environ.items()
            if not k.startswith(("KAFKA_", "CASSANDRA_", "JOB_SERVICE_", "SCHEDULER_SERVICE_",
                                 "DTS_SERVER", "DTS_SCHEDULER_SERVER"))}


def drop_keyspace(keyspace):
    host, port = cassandra_hosts().split(",")[0].rsplit(":", 1)
    user, password = cql.default_credentials()
    conn = cql.connect(host, int(port), timeout=60.0, user=user, password=password)
    try:
        conn.query(f"DROP KEYSPACE IF EXISTS {keyspace}")
    finally:
        conn.close()


def restart_kafka():
    """`scripts/services.sh restart kafka` for the broker in KAFKA_BROKERS:
    stops it, starts it again on the same data and waits until it answers."""
    return restart_service("kafka", kafka_brokers())


def restart_cassandra():
    """The same for the Cassandra node of CASSANDRA_HOSTS."""
    return restart_service("cassandra", cassandra_hosts())


def restart_service(name, endpoints):
    port = endpoints.split(",")[0].rsplit(":", 1)[1]
    variable = {"kafka": "DTS_KAFKA_PORT", "cassandra": "DTS_CASSANDRA_PORT"}[name]
    env = {**os.environ, variable: port}
    out = subprocess.run(["bash", str(ROOT / "scripts" / "services.sh"), "restart", name],
                         env=env, capture_output=True, text=True, timeout=400)
    assert out.returncode == 0, f"services.sh restart {name} failed:\n{out.stdout}\n{out.stderr}"
    return out.stderr


# ------------------------------------------------------------- processes --

class Service:
    """One `dts <command>` process. start() launches it and waits for its
    ready file; the same Service can be stopped and started again (same
    arguments, same addresses once it has bound them), as a rolling restart
    does. Output goes to <dir>/<name>.log, appended across restarts."""

    def __init__(self, cluster, kind, name, args):
        self.cluster = cluster
        self.kind = kind  # "job-service", "scheduler-service", "execution-service"
        self.name = name
        self.args = list(args)
        self.log_path = cluster.dir / f"{name}.log"
        self.ready_file = cluster.dir / f"{name}.ready.json"
        self.grpc = "127.0.0.1:0"
        self.http = "127.0.0.1:0"
        self.proc = None
        self.starts = 0

    # -- life cycle --
    def launch(self):
        assert self.proc is None or self.proc.poll() is not None, f"{self.name} is running"
        if self.ready_file.exists():
            self.ready_file.unlink()
        argv = [DTS, self.kind, "--grpc-addr", self.grpc, "--http-addr", self.http,
                "--ready-file", str(self.ready_file), *self.args]
        env = {**clean_environ(), **service_env(self.cluster.keyspace),
               "KAFKA_CLIENT_ID": self.name}
        with open(self.log_path, "a") as log:
            log.write(f"\n===== {time.strftime('%H:%M:%S')} start #{self.starts + 1}: "
                      f"{' '.join(argv)}\n")
            log.flush()
            self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=subprocess.STDOUT, env=env,
                                         cwd=str(self.cluster.dir), preexec_fn=_die_with_parent)
        self.starts += 1
        return self

    def wait_ready(self, timeout=90):
        deadline = time.monotonic() + timeout
        while True:
            if self.ready_file.exists():
                try:
                    ready = json.loads(self.ready_file.read_text())
                    break
                except ValueError:
                    pass  # being written
            if self.proc.poll() is not None:
                raise AssertionError(f"{self.name} exited with {self.proc.returncode} before it was "
                                     f"ready:\n{self.log_tail()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.name} not ready after {timeout}s:\n{self.log_tail()}")
            time.sleep(0.05)
        # Keep the addresses for a restart.
        self.grpc, self.http = ready["grpc"], ready["http"]
        return self

    def start(self, timeout=90):
        return self.launch().wait_ready(timeout)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, sig=signal.SIGTERM, timeout=60):
        """Sends `sig` and waits for the exit; returns the exit status
        (negative: killed by that signal). SIGKILL after `timeout`."""
        global _last_group_kill
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                sig = signal.SIGKILL
            if sig == signal.SIGKILL and self.kind != "job-service":
                _last_group_kill = time.monotonic()
        return self.proc.returncode

    def kill(self):
        return self.stop(signal.SIGKILL)

    # -- API --
    @property
    def base_url(self):
        return f"http://{self.http}"

    def request(self, method, path, body=None, timeout=30):
        """Returns (status, parsed JSON or text)."""
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.base_url + path, data=data, method=method)
        req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                return resp.status, _decode(resp.read())
        except urllib.error.HTTPError as e:
            return e.code, _decode(e.read())

    def get(self, path):
        code, body = self.request("GET", path)
        assert code == 200, f"GET {path} on {self.name}: {code} {body}"
        return body

    # -- logs --
    def log_text(self):
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def log_tail(self, lines=60):
        text = self.log_text().splitlines()
        return "\n".join(text[-lines:])


def _decode(data):
    try:
        return json.loads(data)
    except ValueError:
        return data.decode(errors="replace")


class Cluster:
    """The processes of one test, on a fresh keyspace of their own."""

    def __init__(self, tmp_path, name="dist"):
        self.dir = Path(tmp_path)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.dir.chmod(0o711)  # commands run as another user enter it
        self.keyspace = f"dts_{name}_{uuid.uuid4().hex[:10]}"
        self.services = []
        self.ledger = self.dir / "ledger.txt"
        self.ledger.touch()
        self.ledger.chmod(0o666)  # and append to the ledger
        # Members SIGKILLed by the previous test may still hold partitions.
        wait = GROUP_SESSION_GRACE - (time.monotonic() - _last_group_kill)
        if wait > 0:
            time.sleep(wait)
        self.migrate()

    def migrate(self):
        env = {**clean_environ(), **service_env(self.keyspace)}
        out = subprocess.run([DTS, "migrate", "--backend", "cassandra",
                              "--cassandra-keyspace", self.keyspace],
                             capture_output=True, text=True, env=env, cwd=str(self.dir),
                             timeout=180)
        assert out.returncode == 0, f"dts migrate failed ({out.returncode}):\n{out.stdout}{out.stderr}"

    def _add(self, kind, name, args):
        svc = Service(self, kind, name, ["--cassandra-keyspace", self.keyspace, *args])
        self.services.append(svc)
        return svc

    def job_service(self, name="job-service"):
        return self._add("job-service", name, [])

    def scheduler(self, scheduler_id, worker_timeout=None, extra=()):
        args = ["--scheduler-id", scheduler_id]
        if worker_timeout is not None:
            args += ["--worker-timeout", str(worker_timeout)]
        return self._add("scheduler-service", scheduler_id, [*args, *extra])

    def worker(self, worker_id, cpu=WORKER_CPU, memory=WORKER_MEMORY, extra=()):
        data = self.dir / f"{worker_id}-data"
        data.mkdir(exist_ok=True)
        return self._add("execution-service", worker_id,
                         ["--worker-id", worker_id, "--data-dir", str(data),
                          "--worker-cpu", str(cpu), "--worker-memory", str(memory), *extra])

    def start_all(self, services, timeout=90):
        """Launches them all at once (the JVM-free start-up is quick, but the
        group joins are not), then waits for each."""
        for s in services:
            s.launch()
        for s in services:
            s.wait_ready(timeout)
        return services

    def of_kind(self, kind):
        return [s for s in self.services if s.kind == kind]

    def close(self):
        """Stops everything (SIGTERM, SIGKILL after a grace period), prints
        every process's log tail (shown by pytest when the test failed) and
        drops the keyspace."""
        running = [s for s in self.services if s.alive()]
        for s in running:
            s.proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 20
        for s in running:
            try:
                s.proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                s.kill()
        for s in self.services:
            print(f"\n----- {s.name} ({s.kind}), exit {s.proc.returncode if s.proc else None}, "
                  f"log {s.log_path} (tail) -----")
            print(s.log_tail(80))
        try:
            drop_keyspace(self.keyspace)
        except Exception as e:  # noqa: BLE001 (clean-up must not hide the test's error)
            print(f"could not drop keyspace {self.keyspace}: {e}")


# ----------------------------------------------------------------- workers --

def workers_seen(scheduler):
    """GET /v1/workers on a scheduler-service: {worker id: worker}."""
    code, body = scheduler.request("GET", "/v1/workers")
    if code == 404:
        code, body = scheduler.request("GET", "/v1/scheduler/workers")
    if code != 200 or not isinstance(body, dict):
        return {}
    return {w["id"]: w for w in body.get("workers", [])}


def wait_workers_ready(schedulers, worker_ids, timeout=60):
    """Until every scheduler lists every worker as READY."""
    def ok():
        for s in schedulers:
            seen = workers_seen(s)
            for w in worker_ids:
                if seen.get(w, {}).get("state", "") != "READY":
                    return False
        return True
    wait_for(ok, timeout=timeout, interval=0.25,
             message=f"schedulers {[s.name for s in schedulers]} to see workers {list(worker_ids)} READY")


# -------------------------------------------------------------------- jobs --

def ledger_script(sleep=0):
    """A command that appends "<tag> <run id>" to the ledger when it starts
    (the run id is the name of the run's scratch directory, when the worker
    gives it one), then sleeps: the ledger shows how many times each run was
    really executed."""
    script = 'printf "%s %s\\n" "$DTS_TAG" "${DTS_SCRATCH_DIR##*/}" >> "$DTS_LEDGER"'
    if sleep:
        script += f"; exec /bin/sleep {sleep}"
    return script


def create_job(job_service, cluster, name, cron=EVERY_SECOND, misfire="RUN_ALL", sleep=0,
               max_retries=0, **fields):
    """Creates a ledger job over HTTP; returns its JobResponse (with next_run)."""
    body = {
        "name": name,
        "cron_expression": cron,
        "misfire_policy": misfire,
        "max_retries": max_retries,
        "executor": {"command": {"argv": [ledger_script(sleep)], "shell": True,
                                 "env": {"DTS_TAG": name, "DTS_LEDGER": str(cluster.ledger)}}},
        "retry_backoff": {"initial_seconds": 1, "max_seconds": 1, "multiplier": 1},
        **fields,
    }
    code, created = job_service.request("POST", "/v1/jobs", body)
    assert code == 200, f"create job {name}: {code} {created}"
    return get_job(job_service, created["job_id"])


def get_job(job_service, job_id):
    code, job = job_service.request("GET", f"/v1/jobs/{job_id}")
    assert code == 200, f"get job {job_id}: {code} {job}"
    return job


def pause_job(job_service, job_id):
    code, job = job_service.request("POST", f"/v1/jobs/{job_id}/pause")
    assert code == 200, f"pause job {job_id}: {code} {job}"
    return job


def seconds(ts):
    s, nanos = time_parts(ts)
    assert nanos == 0, f"scheduled time with a fraction of a second: {ts}"
    return s


def seconds_period(cron):
    """The period in seconds of a `* * * * * *` or `*/N * * * * *` schedule
    (N dividing 60, so its fire times are the epoch multiples of N)."""
    field, *rest = cron.split()
    assert rest == ["*"] * 5, f"not an every-N-seconds schedule: {cron!r}"
    period = 1 if field == "*" else int(field.removeprefix("*/"))
    assert field in ("*", f"*/{period}") and 60 % period == 0, f"unsupported seconds field: {cron!r}"
    return period


def parse_time_or(value, default=0.0):
    """An RFC 3339 timestamp as epoch seconds, `default` when absent."""
    if not value:
        return default
    s, nanos = time_parts(value)
    return s + nanos / 1e9


def latest_scheduled(job_service, job_id):
    runs = list_runs(job_service, job_id=job_id)
    return max((seconds(r["scheduled_time"]) for r in runs if r.get("scheduled_time")), default=0)


def wait_fired_until(job_service, jobs, until, timeout=60):
    """Until every job has a run scheduled at or after `until` (epoch s)."""
    for job in jobs:
        wait_for(lambda: latest_scheduled(job_service, job["id"]) >= until, timeout=timeout,
                 interval=0.5,
                 message=f"job {job['name']} to fire at {until} or later "
                         f"(latest: {latest_scheduled(job_service, job['id'])})")


def wait_settled(job_service, job_ids, timeout=90):
    """Until no run of the jobs is PENDING, QUEUED, RUNNING or RETRYING;
    returns {job id: [runs]}."""
    result = {}

    def settled():
        for job_id in job_ids:
            runs = list_runs(job_service, job_id=job_id)
            busy = [r for r in runs if r["status"] in ACTIVE_STATES]
            if busy:
                return None
            result[job_id] = runs
        return True

    try:
        wait_for(settled, timeout=timeout, interval=0.5, message="every run to end")
    except BaseException:
        for job_id in job_ids:
            busy = [brief(r) for r in list_runs(job_service, job_id=job_id)
                    if r["status"] in ACTIVE_STATES]
            if busy:
                print(f"job {job_id}: runs still active: {busy[:20]}")
        raise
    return result


def brief(run):
    return {k: run.get(k) for k in ("id", "status", "scheduled_time", "attempt", "trigger",
                                    "worker_id", "missed_count", "error")}


def read_ledger(cluster):
    """{tag: Counter(run id -> executions)}."""
    out = collections.defaultdict(collections.Counter)
    for line in cluster.ledger.read_text().splitlines():
        tag, _, run_id = line.partition(" ")
        out[tag][run_id.strip()] += 1
    return out


# ------------------------------------------------------------------ checks --

def by_scheduled_time(runs):
    """{epoch second: [runs sorted by attempt]} of runs that have a scheduled
    time and are not MANUAL."""
    out = collections.defaultdict(list)
    for r in runs:
        if r.get("trigger") == "MANUAL":
            continue
        assert r.get("scheduled_time"), f"a scheduled run without scheduled_time: {brief(r)}"
        out[seconds(r["scheduled_time"])].append(r)
    for group in out.values():
        group.sort(key=lambda r: r.get("attempt", 0))
    return out


def check_runs(job, runs, ledger, first, misfire="RUN_ALL", max_retries=0, up_to=None, period=1):
    """The invariants every test checks, for one job whose runs have all
    ended. Returns the {second: [runs]} map.

    - run ids are unique; per scheduled time, attempts are 1..k with no
      doubles, exactly one run COMPLETED (the last attempt) and every
      earlier attempt FAILED or TIMED_OUT, k <= max_retries + 1;
    - no scheduled time before `first` (the job's first fire after creation); with
      RUN_ALL every fire time (every `period` seconds) from `first` to the
      latest has its run; with RUN_ONCE every gap of missed times is folded
      into the CATCH_UP run right after it (missed_count covers the gap);
    - the latest scheduled time is at least `up_to` (the job kept firing);
    - the ledger: every COMPLETED run executed exactly once, no run executed
      twice, nothing executed that is not a run of the job.
    """
    name = job["name"]
    executed = ledger.get(name, collections.Counter())
    print(f"{name}: {len(runs)} runs; statuses "
          f"{dict(collections.Counter(r['status'] for r in runs))}; triggers "
          f"{dict(collections.Counter(r.get('trigger') for r in runs))}; workers "
          f"{dict(collections.Counter(r.get('worker_id') for r in runs))}; catch-ups "
          f"{[(r['scheduled_time'], r.get('missed_count')) for r in runs if r.get('trigger') == 'CATCH_UP']}; "
          f"ledger: {sum(executed.values())} executions of {len(executed)} run ids")
    ids = collections.Counter(r["id"] for r in runs)
    doubled_ids = [i for i, n in ids.items() if n > 1]
    assert not doubled_ids, f"{name}: run ids listed twice: {doubled_ids}"
    groups = by_scheduled_time(runs)
    assert groups, f"{name}: no runs at all"
    problems = []
    for t, group in sorted(groups.items()):
        attempts = [r.get("attempt", 0) for r in group]
        if attempts != list(range(1, len(group) + 1)):
            problems.append(f"{t}: attempts {attempts} (doubled or missing)")
            continue
        completed = [r for r in group if r["status"] == "COMPLETED"]
        if len(completed) != 1 or group[-1]["status"] != "COMPLETED":
            problems.append(f"{t}: not exactly one COMPLETED run, last: {[brief(r) for r in group]}")
        if any(r["status"] not in ("FAILED", "TIMED_OUT") for r in group[:-1]):
            problems.append(f"{t}: an earlier attempt did not fail: {[brief(r) for r in group]}")
        if len(group) > max_retries + 1:
            problems.append(f"{t}: {len(group)} attempts with max_retries {max_retries}")
        if not all(r.get("worker_id") for r in completed):
            problems.append(f"{t}: COMPLETED without worker_id: {[brief(r) for r in completed]}")
    assert not problems, f"{name}: {len(problems)} bad scheduled times:\n" + "\n".join(problems[:30])

    times = sorted(groups)
    assert times[0] >= first, f"{name}: a run scheduled at {times[0]}, before the first fire {first}"
    if up_to is not None:
        assert times[-1] >= up_to, f"{name}: fired only until {times[-1]}, expected {up_to} or later"
    off_schedule = [t for t in times if (t - first) % period]
    assert not off_schedule, f"{name}: runs at times the schedule does not fire: {off_schedule[:10]}"
    if misfire == "RUN_ALL":
        missing = sorted(set(range(first, times[-1] + 1, period)) - set(times))
        assert not missing, (f"{name} (RUN_ALL): {len(missing)} scheduled times lost in "
                             f"[{first}, {times[-1]}]: {_ranges(missing, period)}")
    else:
        prev = first - period
        for t in times:
            gap = (t - prev) // period - 1  # fire times without a run before t
            if gap > 0:
                run = groups[t][0]
                assert run.get("trigger") == "CATCH_UP" and (run.get("missed_count") or 0) >= gap + 1, (
                    f"{name} ({misfire}): times {prev + period}..{t - period} missed but the run "
                    f"at {t} does not cover them: {brief(run)}")
            prev = t

    twice = {i: n for i, n in executed.items() if n > 1 and i}
    assert not twice, f"{name}: runs executed more than once: {twice}"
    completed_ids = {r["id"] for g in groups.values() for r in g if r["status"] == "COMPLETED"}
    if "" in executed:  # the worker gave no scratch directory: count instead
        started = [r for r in runs if r.get("start_time")]
        n = sum(executed.values())
        assert len(completed_ids) <= n <= len(started), (
            f"{name}: executed {n} times, but {len(completed_ids)} runs COMPLETED and "
            f"{len(started)} started")
    else:
        not_run = completed_ids - set(executed)
        assert not not_run, f"{name}: COMPLETED runs that never executed: {sorted(not_run)[:10]}"
        phantom = set(executed) - {r["id"] for r in runs}
        assert not phantom, f"{name}: executions of runs that are not the job's: {sorted(phantom)[:10]}"
    return groups


def _ranges(values, step=1):
    out, start, prev = [], None, None
    for v in values:
        if start is None:
            start = prev = v
        elif v == prev + step:
            prev = v
        else:
            out.append(f"{start}..{prev}" if start != prev else str(start))
            start = prev = v
    if start is not None:
        out.append(f"{start}..{prev}" if start != prev else str(start))
    return ", ".join(out)


# ------------------------------------------------- Kafka group membership --

def _kafka_call(sock, api_key, version, body, correlation):
    client_id = b"dts-itest"
    header = struct.pack(">hhih", api_key, version, correlation, len(client_id)) + client_id
    msg = header + body
    sock.sendall(struct.pack(">i", len(msg)) + msg)

    def exact(n):
        buf = bytearray()
        while len(buf) < n:
            chunk = sock.recv(n - len(buf))
            if not chunk:
                raise ConnectionError("closed by broker")
            buf += chunk
        return bytes(buf)

    size = struct.unpack(">i", exact(4))[0]
    data = exact(size)
    assert struct.unpack(">i", data[:4])[0] == correlation
    return _Reader(data[4:])


class _Reader:
    def __init__(self, data):
        self.data, self.pos = data, 0

    def take(self, n):
        out = self.data[self.pos:self.pos + n]
        if len(out) != n:
            raise ValueError("truncated")
        self.pos += n
        return out

    def i16(self):
        return struct.unpack(">h", self.take(2))[0]

    def i32(self):
        return struct.unpack(">i", self.take(4))[0]

    def string(self):
        n = self.i16()
        return None if n < 0 else self.take(n).decode()

    def bytes(self):
        n = self.i32()
        return b"" if n < 0 else self.take(n)


def group_assignment(group):
    """The members of consumer group `group` and what they are assigned:
    {client id: {topic: [partitions]}}, or None while the group's coordinator
    is not available (DescribeGroups on the coordinator, which FindCoordinator
    names). Services are started with KAFKA_CLIENT_ID = their name."""
    host, port = kafka_brokers().split(",")[0].rsplit(":", 1)
    g = group.encode()
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        versions = _api_versions(sock)
        find = versions.get(10)  # FindCoordinator, v1-v2 are the non-flexible ones with key_type
        if find and find[0] <= 2 and find[1] >= 1:
            r = _kafka_call(sock, 10, min(find[1], 2), struct.pack(">h", len(g)) + g + b"\0", 2)
            r.i32()  # throttle
            error = r.i16()
            r.string()  # error message
            node, chost, cport = r.i32(), r.string(), r.i32()
            if error in (14, 15, 16):  # loading, not available, not coordinator
                return None
            assert error == 0, f"FindCoordinator {group}: error {error}"
            if (chost, cport) != (host, int(port)):
                with socket.create_connection((chost, cport), timeout=10) as csock:
                    return _describe_group(csock, g, _api_versions(csock))
        return _describe_group(sock, g, versions)


def _api_versions(sock):
    r = _kafka_call(sock, 18, 0, b"", 1)
    assert r.i16() == 0, "ApiVersions failed"
    out = {}
    for _ in range(r.i32()):
        key, lo, hi = r.i16(), r.i16(), r.i16()
        out[key] = (lo, hi)
    return out


def _describe_group(sock, g, versions):
    lo, hi = versions.get(15, (99, -1))  # DescribeGroups; v0-v4 are the non-flexible ones
    assert lo <= 4 <= hi or lo <= hi <= 4, f"the broker serves DescribeGroups v{lo}-v{hi} only"
    version = min(hi, 4)
    body = struct.pack(">i", 1) + struct.pack(">h", len(g)) + g
    if version >= 3:
        body += struct.pack(">?", False)
    r = _kafka_call(sock, 15, version, body, 3)
    if version >= 1:
        r.i32()  # throttle
    members = {}
    for _ in range(r.i32()):
        error = r.i16()
        r.string(), r.string(), r.string(), r.string()  # group, state, protocol type, protocol
        for _ in range(r.i32()):
            r.string()  # member id
            if version >= 4:
                r.string()  # group instance id
            client_id = r.string()
            r.string()  # client host
            r.bytes()  # metadata
            assignment = _Reader(r.bytes())
            topics = {}
            if len(assignment.data) >= 2:
                assignment.i16()
                for _ in range(assignment.i32()):
                    topic = assignment.string()
                    topics[topic] = [assignment.i32() for _ in range(assignment.i32())]
            members[client_id] = topics
        if version >= 3:
            r.i32()  # authorized operations
        if error in (14, 15, 16):
            return None
        assert error == 0, f"DescribeGroups {g.decode()}: error {error}"
    return members


def owners(group, topic):
    """{partition: client id} of the group's current assignment (None while
    the coordinator is not available)."""
    members = group_assignment(group)
    if members is None:
        return None
    out = {}
    for client, topics in members.items():
        for p in topics.get(topic, []):
            out[p] = client
    return out


def fnv1a_shard(job_id, shards=None):
    """shard = FNV-1a (64-bit) of the job id mod DTS_SHARDS (docs/deployment.md)."""
    shards = shards or int(os.environ.get("DTS_SHARDS", "64"))
    h = 0xcbf29ce484222325
    for b in job_id.encode():
        h ^= b
        h = (h * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return h % shards
