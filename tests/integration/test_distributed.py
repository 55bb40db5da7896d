"""Distributed mode end to end (issue #8, "Done when"): the real `dts`
job-service, scheduler-services and execution-services against the real
Kafka and Cassandra of scripts/services.sh (ctest label `kafka`; CI starts
both). Endpoints: KAFKA_BROKERS, CASSANDRA_HOSTS, ... (see distributed.py).

Every job appends "<tag> <run id>" to a ledger file when its command starts,
so besides the run records (one per scheduled time and attempt, never
doubled, never lost) the tests see how many times each run really executed.

1. test_fires_every_second_exactly_once: 1 job-service, 2 schedulers, 2
   workers, jobs firing every second for 60 s: every second has exactly one
   COMPLETED run, and both workers got work.
2. test_killed_scheduler_hands_its_shards_over: a scheduler SIGKILLed
   halfway: the survivor takes its shards and fires every job; RUN_ALL jobs
   lose and double nothing; a RUN_ONCE job's missed seconds are folded into
   one CATCH_UP run with missed_count.
3. test_killed_worker_runs_fail_over: a worker SIGKILLed while its runs
   (`sleep 5`, max_retries 1) run: they end FAILED naming the worker, and
   attempt 2 of the same scheduled time completes on the other worker.
4. test_kafka_restart: the broker restarts meanwhile: every service recovers
   without a restart, nothing lost or doubled.
   test_cassandra_restart: the same for the Cassandra node (issue 10).
5. test_rolling_restart: every service restarted one at a time (SIGTERM,
   exit 0, start): nothing lost or doubled.
6. test_cli_against_the_cluster: the seed's CLI examples against the job
   service (and `--scheduler-server`), and the jobs fire on the cluster.

Every test has its own keyspace and processes; the Kafka topics and consumer
groups are shared, so the processes of one test are all gone before the
next starts (distributed.Cluster). Each process's log tail is printed at
teardown (pytest shows it when the test failed).
"""

import collections
import json
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time

import pytest

import distributed as d
from distributed import (EVERY_SECOND, Cluster, check_runs, create_job, list_runs, pause_job,
                         read_ledger, seconds, wait_fired_until, wait_for, wait_settled,
                         wait_workers_ready)
from conftest import scrape  # tests/e2e/conftest.py, on the path through distributed

SCHEDULER_GROUP = "dts-schedulers"
JOBS_TOPIC = "dts.jobs"


@pytest.fixture
def cluster():
    # Workers run as root here, so their commands run as `nobody`, which must
    # reach the scratch directories and append to the ledger: the cluster's
    # directory is one `nobody` may enter, not pytest's 0700 tmp_path.
    base = tempfile.mkdtemp(prefix="dts-dist-", dir="/tmp")
    os.chmod(base, 0o711)
    c = Cluster(os.path.join(base, "cluster"))
    try:
        yield c
    finally:
        c.close()
        shutil.rmtree(base, ignore_errors=True)


def start_cluster(cluster, schedulers=2, workers=2, worker_timeout=None, worker_cpu=d.WORKER_CPU):
    js = cluster.job_service()
    scheds = [cluster.scheduler(f"sched-{chr(ord('a') + i)}", worker_timeout=worker_timeout)
              for i in range(schedulers)]
    wrks = [cluster.worker(f"worker-{i + 1}", cpu=worker_cpu) for i in range(workers)]
    cluster.start_all([js, *scheds, *wrks])
    wait_workers_ready(scheds, [w.name for w in wrks], timeout=90)
    wait_shards_owned(scheds)
    return js, scheds, wrks


def shard_count():
    return int(os.environ.get("DTS_SHARDS", "64"))


def wait_shards_owned(schedulers, timeout=60):
    """Until the scheduler group is exactly these schedulers, each owning some
    dts.jobs partitions and together all of them; returns {partition: name}."""
    names = sorted(s.name for s in schedulers)
    result = {}

    def settled():
        owner = d.owners(SCHEDULER_GROUP, JOBS_TOPIC)
        if owner is None or sorted(set(owner.values())) != names:
            return False
        if sorted(owner) != list(range(shard_count())):
            return False
        result.update(owner)
        return True

    wait_for(settled, timeout=timeout, interval=0.5,
             message=f"the {SCHEDULER_GROUP} group to assign every {JOBS_TOPIC} partition to "
                     f"{names} (now: {d.group_assignment(SCHEDULER_GROUP)})")
    return result


def first_fire(job):
    """The first second the job's schedule fires after it was created: no
    run may be scheduled earlier, and with RUN_ALL none from there on may be
    lost. (Not the next_run read back after creation: on a loaded machine the
    job can fire before that read, and next_run then names a later second.)"""
    assert job.get("next_run"), f"a new ACTIVE job without next_run: {job}"
    period = d.seconds_period(job["cron_expression"])
    created = d.parse_time_or(job.get("created_at"))
    assert created > 0, f"a job without created_at: {job}"
    first = (int(created) // period + 1) * period
    assert seconds(job["next_run"]) >= first, (
        f"next_run {job['next_run']} is before the first fire {first} after creation: {job}")
    return first


def sleep_until(t):
    while time.time() < t:
        time.sleep(min(1.0, t - time.time()))


def finish(js, jobs, until, settle_timeout=90):
    """Lets the jobs fire until `until` (epoch s), pauses them and waits for
    every run to end; returns ({job id: runs}, ledger)."""
    sleep_until(until)
    wait_fired_until(js, jobs, int(until), timeout=60)
    for job in jobs:
        pause_job(js, job["id"])
    runs = wait_settled(js, [j["id"] for j in jobs], timeout=settle_timeout)
    return runs


def assert_alive(services):
    dead = [f"{s.name} (exit {s.proc.returncode})" for s in services if not s.alive()]
    assert not dead, f"services exited: {dead}"


# ---------------------------------------------------------------------- 1 --

def test_fires_every_second_exactly_once(cluster):
    # A worker has room for one run at a time (600 of 1000 millicores), so
    # the four runs of each second need both workers (default placement,
    # best-fit).
    js, scheds, wrks = start_cluster(cluster, worker_cpu=1000)
    jobs = [create_job(js, cluster, f"every-second-{i}", resources={"cpu": 600, "memory": 64})
            for i in range(4)]
    start = max(first_fire(j) for j in jobs)
    runs = finish(js, jobs, start + 60)
    assert_alive([js, *scheds, *wrks])

    ledger = read_ledger(cluster)
    workers_used = set()
    for job in jobs:
        groups = check_runs(job, runs[job["id"]], ledger, first_fire(job), misfire="RUN_ALL",
                            up_to=start + 60)
        assert len(groups) >= 60, f"{job['name']}: only {len(groups)} scheduled times in 60 s"
        workers_used |= {r["worker_id"] for g in groups.values() for r in g}
    assert workers_used == {w.name for w in wrks}, f"runs went to {workers_used}"
    check_cluster_metrics(js, scheds, wrks, jobs, runs)


def check_cluster_metrics(js, scheds, wrks, jobs, runs):
    """Every service lists the families of its parts, and they moved with
    what the cluster did: the schedulers fired and recorded every run,
    together own every shard and see both workers' capacity; every service
    talked to Cassandra, the job service published to Kafka."""
    scraped = {s.name: scrape(s) for s in [js, *scheds, *wrks]}
    for name, m in scraped.items():
        for family in ("dts_api_request_duration_seconds", "dts_cassandra_request_duration_seconds",
                       "dts_cassandra_errors_total", "dts_kafka_errors_total",
                       "dts_kafka_produce_duration_seconds"):
            assert family in m.types, f"{name} does not list {family}"
        assert m.sum("dts_cassandra_request_duration_seconds_count") > 0, name
    for s in scheds:
        for family in ("dts_fires_total", "dts_fire_lateness_seconds", "dts_runs_total",
                       "dts_queue_depth", "dts_queue_oldest_wait_seconds", "dts_worker_capacity",
                       "dts_worker_allocated", "dts_shards_owned", "dts_jobs_owned"):
            assert family in scraped[s.name].types, f"{s.name} does not list {family}"
    assert scraped[js.name].sum("dts_kafka_produce_duration_seconds_count") >= len(jobs)
    assert scraped[js.name].sum("dts_api_request_duration_seconds_count", protocol="http",
                                route="POST /v1/jobs", code=200) == len(jobs)
    sched_metrics = [scraped[s.name] for s in scheds]
    owned = [m.sum("dts_shards_owned") for m in sched_metrics]
    assert sum(owned) == shard_count() and min(owned) > 0, owned
    total_runs = sum(len(r) for r in runs.values())
    fired = sum(m.sum("dts_fires_total") for m in sched_metrics)
    # Fires, not runs: a run an earlier owner recorded is fired once.
    assert fired >= total_runs, f"dts_fires_total {fired} for {total_runs} runs"
    completed = sum(m.sum("dts_runs_total", status="COMPLETED") for m in sched_metrics)
    assert completed >= total_runs, f"dts_runs_total COMPLETED {completed} for {total_runs} runs"
    assert sum(m.sum("dts_fire_lateness_seconds_count") for m in sched_metrics) == fired
    assert sum(m.sum("dts_jobs_owned") for m in sched_metrics) == 0, "paused jobs are not fired"
    for m in sched_metrics:
        for w in wrks:
            assert m.sum("dts_worker_capacity", worker=w.name, resource="cpu_millis") == 1000, (
                w.name, m.series("dts_worker_capacity"))
    for svc in [js, *scheds, *wrks]:
        code, body = svc.request("GET", "/readyz")
        assert code == 200 and body["status"] == "ready", (svc.name, code, body)
        expected = {"storage", "kafka"} | ({"shards"} if svc in scheds else set())
        assert set(body["checks"]) == expected and set(body["checks"].values()) == {"ok"}, body


# ---------------------------------------------------------------------- 2 --

def test_killed_scheduler_hands_its_shards_over(cluster):
    js, scheds, wrks = start_cluster(cluster)
    owner = wait_shards_owned(scheds)

    def owner_of(job):
        return owner[d.fnv1a_shard(job["id"])]

    # A RUN_ONCE job on the scheduler that will be killed (the victim), and
    # RUN_ALL jobs on both: created until each side has its share.
    catch_up = create_job(js, cluster, "run-once", misfire="RUN_ONCE")
    victim = next(s for s in scheds if s.name == owner_of(catch_up))
    survivor = next(s for s in scheds if s is not victim)
    run_all = []
    while len(run_all) < 12:
        on_victim = sum(owner_of(j) == victim.name for j in run_all)
        if on_victim >= 2 and len(run_all) - on_victim >= 1:
            break
        run_all.append(create_job(js, cluster, f"run-all-{len(run_all)}", misfire="RUN_ALL"))
    assert sum(owner_of(j) == victim.name for j in run_all) >= 2, "no RUN_ALL job on the victim"
    jobs = [catch_up, *run_all]
    print("owners:", {j["name"]: owner_of(j) for j in jobs}, "victim:", victim.name)

    start = max(first_fire(j) for j in jobs)
    sleep_until(start + 15)
    wait_fired_until(js, jobs, start + 10)
    victim.kill()
    killed_at = time.time()

    # The survivor owns every shard and fires every job.
    wait_shards_owned([survivor], timeout=60)
    runs = finish(js, jobs, time.time() + 20)
    assert_alive([js, survivor, *wrks])

    ledger = read_ledger(cluster)
    for job in run_all:
        check_runs(job, runs[job["id"]], ledger, first_fire(job), misfire="RUN_ALL",
                   up_to=int(killed_at) + 15)
    groups = check_runs(catch_up, runs[catch_up["id"]], ledger, first_fire(catch_up),
                        misfire="RUN_ONCE", up_to=int(killed_at) + 15)
    folded = [r for t, g in groups.items() for r in g
              if t > killed_at - 2 and r.get("trigger") == "CATCH_UP"]
    assert folded and max(r.get("missed_count") or 0 for r in folded) >= 2, (
        f"the RUN_ONCE job of the killed scheduler has no CATCH_UP run with missed_count >= 2 "
        f"after the kill: {[d.brief(r) for r in folded]}")


# ---------------------------------------------------------------------- 3 --

def test_killed_worker_runs_fail_over(cluster):
    js, scheds, wrks = start_cluster(cluster, worker_timeout=5)
    jobs = [create_job(js, cluster, f"sleeper-{i}", cron="*/2 * * * * *", sleep=5, max_retries=1)
            for i in range(3)]

    def running():
        """{worker id: [RUNNING runs]} once some worker runs two or more."""
        out = {w.name: [] for w in wrks}
        for job in jobs:
            for r in list_runs(js, job_id=job["id"]):
                if r["status"] == "RUNNING" and r.get("worker_id") in out:
                    out[r["worker_id"]].append(r)
        return out if max(len(v) for v in out.values()) >= 2 else None

    by_worker = wait_for(running, timeout=60, interval=0.3, message="two runs RUNNING on a worker")
    victim = max(wrks, key=lambda w: len(by_worker[w.name]))
    survivor = next(w for w in wrks if w is not victim)
    interrupted = by_worker[victim.name]
    victim.kill()
    killed_at = time.time()
    runs = finish(js, jobs, killed_at + 20, settle_timeout=120)
    assert_alive([js, *scheds, survivor])

    ledger = read_ledger(cluster)
    all_runs = {}
    for job in jobs:
        check_runs(job, runs[job["id"]], ledger, first_fire(job), misfire="RUN_ALL",
                   max_retries=1, up_to=int(killed_at) + 10, period=2)
        all_runs.update({r["id"]: r for r in runs[job["id"]]})
    failed_over = 0
    for r in interrupted:
        final = all_runs[r["id"]]
        if final["status"] == "COMPLETED" and d.parse_time_or(final.get("end_time")) <= killed_at:
            continue  # it ended in the instant between the look and the kill
        assert final["status"] == "FAILED", f"an interrupted run did not fail: {d.brief(final)}"
        error = final.get("error", "")
        assert "worker" in error.lower() or victim.name in error, (
            f"the error of an interrupted run does not name the worker: {d.brief(final)}")
        retry = [x for x in runs[r["job_id"]] if x["scheduled_time"] == r["scheduled_time"]
                 and x.get("attempt") == 2]
        assert retry, f"no attempt 2 for {d.brief(final)}"
        assert retry[0]["status"] == "COMPLETED" and retry[0]["worker_id"] == survivor.name, (
            f"attempt 2 did not complete on {survivor.name}: {d.brief(retry[0])}")
        assert retry[0].get("trigger") == "RETRY", d.brief(retry[0])
        failed_over += 1
    assert failed_over >= 1, "none of the runs seen RUNNING on the killed worker was interrupted"
    # Nothing ran on the dead worker after its death.
    late = [d.brief(r) for r in all_runs.values() if r.get("worker_id") == victim.name
            and r["status"] == "COMPLETED" and d.parse_time_or(r.get("end_time")) > killed_at + 1]
    assert not late, f"runs completed on the killed worker after it died: {late}"


# ---------------------------------------------------------------------- 4 --

class ReadyzProbe:
    """Polls GET /readyz of `services` from a thread while the block runs;
    remembers each service's answers."""

    def __init__(self, services):
        self.services = services
        self.seen = {s.name: [] for s in services}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    def _poll(self):
        while not self._stop.is_set():
            for s in self.services:
                try:
                    self.seen[s.name].append(s.request("GET", "/readyz", timeout=5))
                except OSError as e:  # the listener itself is down: never expected
                    self.seen[s.name].append((None, str(e)))
            self._stop.wait(0.25)

    def assert_each_saw_not_ready(self, check):
        """Every service answered 503 with `check` failing at some point."""
        for name, answers in self.seen.items():
            down = [b for code, b in answers if code == 503 and isinstance(b, dict)
                    and b["checks"].get(check, "ok") != "ok"]
            assert down, (f"{name} never reported {check} down on /readyz: "
                          f"{collections.Counter(code for code, _ in answers)}")
            assert all(code in (200, 503) for code, _ in answers), (name, answers[:5])

    def wait_all_ready(self, timeout):
        for s in self.services:
            wait_for(lambda: s.request("GET", "/readyz", timeout=5)[0] == 200, timeout=timeout,
                     interval=0.5, message=f"{s.name} ready again")


def survives_restart(cluster, tag, restart, expect_not_ready=None):
    """Jobs fire while `restart()` restarts a server under the cluster: every
    service recovers by itself, and RUN_ALL jobs lose and double nothing.
    With `expect_not_ready`, every service's /readyz reports that check
    failing meanwhile, and dts_cassandra_errors_total moves."""
    js, scheds, wrks = start_cluster(cluster)
    jobs = [create_job(js, cluster, f"{tag}-{i}") for i in range(3)]
    start = max(first_fire(j) for j in jobs)
    sleep_until(start + 8)
    wait_fired_until(js, jobs, start + 5)

    services = [js, *scheds, *wrks]
    errors_before = sum(scrape(s).sum("dts_cassandra_errors_total") for s in services)
    with ReadyzProbe(services) as probe:
        print(restart())
    restarted_at = time.time()
    # Every service keeps running and recovers by itself: it is ready again,
    # workers heartbeat again, a job created now is published and fires.
    probe.wait_all_ready(timeout=90)
    if expect_not_ready:
        probe.assert_each_saw_not_ready(expect_not_ready)
        errors_after = sum(scrape(s).sum("dts_cassandra_errors_total") for s in services)
        assert errors_after > errors_before, "dts_cassandra_errors_total did not move"
    wait_workers_ready(scheds, [w.name for w in wrks], timeout=90)
    late = create_job(js, cluster, f"{tag}-created-after")
    jobs.append(late)
    runs = finish(js, jobs, restarted_at + 20, settle_timeout=180)
    assert_alive([js, *scheds, *wrks])
    assert all(s.starts == 1 for s in [js, *scheds, *wrks])

    ledger = read_ledger(cluster)
    for job in jobs:
        check_runs(job, runs[job["id"]], ledger, first_fire(job), misfire="RUN_ALL",
                   up_to=int(restarted_at) + 15)


def test_kafka_restart(cluster):
    survives_restart(cluster, "through-kafka-restart", d.restart_kafka)


def test_cassandra_restart(cluster):
    # Issue 10's fault test: fires, claims and results wait for the node
    # (retried) and catch up.
    survives_restart(cluster, "through-cassandra-restart", d.restart_cassandra,
                     expect_not_ready="storage")


# ---------------------------------------------------------------------- 5 --

def test_rolling_restart(cluster):
    js, scheds, wrks = start_cluster(cluster)
    jobs = [create_job(js, cluster, f"rolling-{i}", sleep=1) for i in range(3)]
    start = max(first_fire(j) for j in jobs)
    sleep_until(start + 5)

    for svc in [js, *scheds, *wrks]:
        code = svc.stop(signal.SIGTERM, timeout=90)
        assert code == 0, f"{svc.name} exited with {code} on SIGTERM:\n{svc.log_tail()}"
        svc.start()
        if svc in wrks:
            wait_workers_ready(scheds, [svc.name], timeout=60)
        elif svc in scheds:
            wait_shards_owned(scheds, timeout=60)
        # Let the cluster work a little with the new process in it.
        time.sleep(3)
    restarted_at = time.time()
    runs = finish(js, jobs, restarted_at + 8)
    assert_alive([js, *scheds, *wrks])

    ledger = read_ledger(cluster)
    for job in jobs:
        check_runs(job, runs[job["id"]], ledger, first_fire(job), misfire="RUN_ALL",
                   up_to=int(restarted_at) + 5)


# ---------------------------------------------------------------------- 6 --

def cli(*args, server=None, scheduler=None, check=True):
    argv = [d.DTS]
    if server is not None:
        argv += ["--server", server.grpc]
    if scheduler is not None:
        argv += ["--scheduler-server", scheduler.grpc]
    out = subprocess.run([*argv, *args], capture_output=True, text=True, timeout=60,
                         env=d.clean_environ())
    if check:
        assert out.returncode == 0, f"dts {' '.join(args)}: exit {out.returncode}\n{out.stdout}{out.stderr}"
    return out


def cli_json(*args, **kw):
    return json.loads(cli("-o", "json", *args, **kw).stdout)


def ledger_count(cluster, tag):
    return sum(read_ledger(cluster).get(tag, {}).values())


def assert_stopped_firing(cluster, tag):
    """The job's command does not start again (over a few seconds)."""
    time.sleep(2)  # runs placed just before the change may still start
    before = ledger_count(cluster, tag)
    time.sleep(4)
    assert ledger_count(cluster, tag) == before, f"{tag} still executes"


def test_cli_against_the_cluster(cluster):
    js, scheds, wrks = start_cluster(cluster)
    script = d.ledger_script() + '; echo "hello from $DTS_TAG"'

    # The seed's examples (README), with a cron that fires every second and a command.
    out = cli("job", "create", "--name", "My Job", "--description", "Description",
              "--cron", EVERY_SECOND, "--metadata", '{"key": "value"}', "--misfire", "run_all",
              "--shell", script, "--env", "DTS_TAG=cli-job", "--env", f"DTS_LEDGER={cluster.ledger}",
              server=js)
    job_id = out.stdout.strip()
    job = cli_json("job", "get", "--id", job_id, server=js)
    first = first_fire(job)
    assert job["name"] == "My Job" and job["metadata"] == {"key": "value"}, job
    assert job["status"] == "ACTIVE", job
    shown = cli("job", "get", "--id", job_id, server=js).stdout
    assert "My Job" in shown and "Description" in shown, shown
    listed = cli("job", "list", "--page-size", "10", "--status", "active", server=js).stdout
    assert job_id in listed, listed

    # It fires on the cluster and completes; the CLI shows the runs and output.
    def completed():
        runs = cli_json("execution", "list", "--job-id", job_id, "--status", "completed",
                        server=js)["executions"]
        return runs if len(runs) >= 3 else None
    runs = wait_for(completed, timeout=60, interval=0.5, message="3 COMPLETED runs of the CLI job")
    assert {r["worker_id"] for r in runs} <= {w.name for w in wrks}, runs
    logs = cli("execution", "logs", "--id", runs[0]["id"], server=js).stdout
    assert "hello from cli-job" in logs, logs

    # The scheduler service answers the seed's scheduler routes and lists the workers.
    workers = cli_json("worker", "list", server=js, scheduler=scheds[0])["workers"]
    assert {w["id"] for w in workers} == {w.name for w in wrks}, workers
    scheduled = cli_json("scheduler", "get", "--job-id", job_id, server=js, scheduler=scheds[1])
    assert scheduled["job_id"] == job_id and scheduled["cron_expression"] == EVERY_SECOND, scheduled
    listing = cli_json("scheduler", "list", server=js, scheduler=scheds[0])
    assert job_id in {j["job_id"] for j in listing["jobs"]}, listing

    # A job scheduled through the scheduler service fires too; cancel stops it.
    out = cli("scheduler", "schedule", "--name", "from-scheduler", "--cron", EVERY_SECOND,
              "--shell", script, "--env", "DTS_TAG=sched-job", "--env", f"DTS_LEDGER={cluster.ledger}",
              "--cpu", "200", "--memory", "32", server=js, scheduler=scheds[1])
    sched_job = out.stdout.strip()
    assert cli_json("job", "get", "--id", sched_job, server=js)["resources"]["cpu"] == 200
    wait_for(lambda: ledger_count(cluster, "sched-job") >= 2, timeout=60, interval=0.5,
             message="the job scheduled with `dts scheduler schedule` to run")
    cli("scheduler", "cancel", "--job-id", sched_job, server=js, scheduler=scheds[0])
    assert cli_json("job", "get", "--id", sched_job, server=js)["status"] == "CANCELLED"
    assert_stopped_firing(cluster, "sched-job")

    # Update (the seed's example): renamed and paused, it stops firing.
    cli("job", "update", "--id", job_id, "--name", "Updated Job", "--status", "paused", server=js)
    job = cli_json("job", "get", "--id", job_id, server=js)
    assert job["name"] == "Updated Job" and job["status"] == "PAUSED", job
    assert_stopped_firing(cluster, "cli-job")
    settled = wait_settled(js, [job_id])
    check_runs({"name": "cli-job", "id": job_id}, settled[job_id], read_ledger(cluster), first,
               misfire="RUN_ALL")

    # Delete: gone, with its history.
    out = cli("job", "delete", "--id", job_id, server=js)
    assert out.stdout.strip() == f"deleted job {job_id}", out.stdout
    gone = cli("job", "get", "--id", job_id, server=js, check=False)
    assert gone.returncode == 1 and "NOT_FOUND" in gone.stderr, gone
    assert cli_json("execution", "list", "--job-id", job_id, server=js)["executions"] == []
    cli("job", "delete", "--id", sched_job, server=js)
    assert_alive([js, *scheds, *wrks])


if __name__ == "__main__":
    import sys
    sys.exit(pytest.main([__file__, "-q", "-p", "no:cacheprovider"]))
