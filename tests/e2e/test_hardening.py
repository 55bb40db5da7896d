"""Execution hardening end to end (docs/security.md, "Execution"): the real
`dts server`, started as root as these tests are, runs commands as `nobody`
with an environment scrubbed to an allowlist, uses a shell only when the job
asks for one, and refuses over-limit input with a 400 naming the field."""

import json
import os
import pwd
import shutil
import stat
import tempfile
import uuid

import pytest

from conftest import Server, create_job, run_cli, wait_for

NEVER = "0 0 1 1 *"  # the jobs here run only when triggered
SECRETS = {"DTS_TEST_SERVER_SECRET": "server-secret-" + uuid.uuid4().hex,
           "AWS_SECRET_ACCESS_KEY": "aws-secret-" + uuid.uuid4().hex,
           "CASSANDRA_PASSWORD": "cassandra-secret-" + uuid.uuid4().hex}

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="the server switches users only as root")


@pytest.fixture
def open_data_dir():
    """A data dir whose parents `nobody` may enter (pytest's tmp_path is
    0700), so that commands can reach their scratch directories."""
    parent = tempfile.mkdtemp(prefix="dts-hardening-")
    os.chmod(parent, 0o755)
    yield os.path.join(parent, "data")
    shutil.rmtree(parent, ignore_errors=True)


def run_once(server, argv, shell=False, env=None):
    command = {"argv": argv, "shell": shell}
    if env:
        command["env"] = env
    job_id = create_job(server, name="hardening", cron_expression=NEVER, status="paused",
                        executor={"command": command})
    code, body = server.request("POST", f"/v1/jobs/{job_id}/run")
    assert code == 200, body
    run_id = body["execution_id"]

    def finished():
        code, run = server.request("GET", f"/v1/executions/{run_id}")
        assert code == 200, run
        return run if run["status"] not in ("PENDING", "QUEUED", "RUNNING", "RETRYING") else None
    return wait_for(finished, timeout=30, message=f"run {run_id}")


def parse_env(output):
    env = {}
    for line in output.splitlines():
        name, _, value = line.partition("=")
        env[name] = value
    return env


@needs_root
def test_command_runs_as_nobody_with_a_scrubbed_environment(open_data_dir):
    nobody = pwd.getpwnam("nobody")
    server = Server(open_data_dir, env=SECRETS)
    try:
        run = run_once(server, ["/bin/sh", "-c", "id -u; id -g; echo ---; env"],
                       env={"JOB_VAR": "from the job", "LANG": "C"})
        assert run["status"] == "COMPLETED", run
        ids, _, env_text = run["result"].partition("---\n")
        assert ids.split() == [str(nobody.pw_uid), str(nobody.pw_gid)], run["result"]
        env = parse_env(env_text)
        for name, secret in SECRETS.items():
            assert name not in env, env
            assert secret not in run["result"]
        assert env["JOB_VAR"] == "from the job"
        assert env["LANG"] == "C"  # the job's value wins over the default
        assert env["PATH"] == "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
        assert env["DTS_RUN_ID"] == run["id"]
        assert env["DTS_JOB_ID"] == run["job_id"]
        scratch = os.path.join(os.path.abspath(open_data_dir), "scratch", run["id"])
        assert env["HOME"] == env["TMPDIR"] == env["DTS_SCRATCH_DIR"] == scratch, env
        allowed = {"PATH", "HOME", "LANG", "LC_ALL", "TZ", "TMPDIR", "DTS_SCRATCH_DIR",
                   "DTS_RUN_ID", "DTS_JOB_ID", "JOB_VAR", "PWD", "SHLVL", "_", "OLDPWD"}
        assert set(env) <= allowed, set(env) - allowed  # PWD, SHLVL, _: set by sh itself
    finally:
        server.stop()


@needs_root
def test_the_scratch_dir_is_the_users_and_the_data_dir_is_not(open_data_dir):
    server = Server(open_data_dir)
    try:
        run = run_once(server, [
            'touch "$HOME/made-by-the-job" && echo wrote-home; '
            'stat -c %U "$HOME"; '
            'ls "$HOME/.." >/dev/null 2>&1 || echo scratch-root-unlistable; '
            'ls "$HOME/../.." >/dev/null 2>&1 || echo data-dir-unlistable; '
            'cat "$HOME/../../dts.db" >/dev/null 2>&1 || echo database-unreadable; '
            'ls "$HOME/../../process-groups" >/dev/null 2>&1 || echo records-closed'],
            shell=True)
        assert run["status"] == "COMPLETED", run
        assert run["result"] == ("wrote-home\nnobody\nscratch-root-unlistable\n"
                                 "data-dir-unlistable\ndatabase-unreadable\nrecords-closed\n"), run
        assert os.path.exists(os.path.join(open_data_dir, "dts.db"))
    finally:
        server.stop()


def test_argv_metacharacters_reach_the_program_literally(server):
    # No shell between the job and the program: `$HOME;id` is one argument.
    run = run_once(server, ["echo", "$HOME;id"])
    assert run["status"] == "COMPLETED", run
    assert run["result"] == "$HOME;id\n"
    # shell: true is /bin/sh -c, which expands and runs both.
    run = run_once(server, ['echo "[$HOME]"; id -u'], shell=True)
    assert run["status"] == "COMPLETED", run
    assert run["result"] != "$HOME;id\n" and run["result"].startswith("[/"), run


@needs_root
def test_allow_root_runs_commands_as_root(open_data_dir):
    server = Server(open_data_dir, ["--allow-root"])
    try:
        run = run_once(server, ["id", "-u"])
        assert run["status"] == "COMPLETED", run
        assert run["result"] == "0\n"
        assert "warning: commands run as root (--allow-root)" in server.output()
    finally:
        server.stop()


@needs_root
def test_run_as_names_another_user(open_data_dir):
    daemon = pwd.getpwnam("daemon")
    server = Server(open_data_dir, ["--run-as", "daemon"])
    try:
        run = run_once(server, ["id", "-u"])
        assert run["result"] == f"{daemon.pw_uid}\n", run
    finally:
        server.stop()


@pytest.mark.parametrize("flags,message", [
    (["--run-as", "no-such-user-dts"], '--run-as: unknown user "no-such-user-dts"'),
    (["--run-as", "root"], "add --allow-root"),
])
@needs_root
def test_bad_run_as_is_a_usage_error(tmp_path, flags, message):
    out = run_cli("server", "--data-dir", str(tmp_path / "d"), "--grpc-addr", "127.0.0.1:0",
                  "--http-addr", "127.0.0.1:0", *flags)
    assert out.returncode == 2, (out.stdout, out.stderr)
    assert message in out.stderr, out.stderr


@pytest.mark.parametrize("command,field", [
    ({"argv": ["true"], "env": {"1BAD": "x"}}, "executor.command.env: invalid variable name"),
    ({"argv": ["true"], "env": {"A-B": "x"}}, "executor.command.env: invalid variable name"),
    ({"argv": ["true"], "env": {"BIG": "v" * 32769}}, "executor.command.env.BIG: at most 32768 bytes"),
    ({"argv": ["true"], "env": {f"V{i}": "1" for i in range(129)}},
     "executor.command.env: at most 128 variables"),
    ({"argv": ["true"] * 1025}, "executor.command.argv: at most 1024 arguments"),
    ({"argv": ["sh", "x" * 131072]}, "executor.command.argv[1]: at most 131071 bytes"),
    ({"argv": ["true"], "working_dir": "relative"}, "executor.command.working_dir: must be an absolute path"),
])
def test_over_limit_input_gets_400_naming_the_field(server, command, field):
    code, body = server.request("POST", "/v1/jobs", {"name": "x", "cron_expression": NEVER,
                                                     "executor": {"command": command}})
    assert code == 400, body
    assert field in body["message"], body


def test_metadata_and_body_size_are_capped(server):
    code, body = server.request("POST", "/v1/jobs", {"name": "x", "cron_expression": NEVER,
                                                     "metadata": {"k": "v" * 4097}})
    assert code == 400 and "metadata.k" in body["message"], body
    code, body = server.request("POST", "/v1/jobs", raw=json.dumps(
        {"name": "x", "cron_expression": NEVER, "description": "d" * (1 << 20)}).encode())
    assert code == 413, body


@needs_root
def test_execution_service_checks_run_as_before_connecting(tmp_path):
    # No Kafka or Cassandra needed: the flag is refused first.
    out = run_cli("execution-service", "--data-dir", str(tmp_path / "w"), "--run-as", "no-such-user-dts")
    assert out.returncode == 2, (out.stdout, out.stderr)
    assert '--run-as: unknown user "no-such-user-dts"' in out.stderr, out.stderr
