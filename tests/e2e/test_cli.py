"""The `dts` gRPC client commands, run as the built binary against a real
`dts server` (port 0, fresh SQLite dir): the seed's README examples verbatim,
output formats, global flags, exit codes and the flag -> request mapping."""

import json
import socket

import pytest

from conftest import Server, run_cli

UNKNOWN_ID = "00000000-0000-4000-8000-000000000000"


def ok(*args, server):
    """Runs the CLI and asserts success; returns stdout."""
    r = run_cli(*args, server=server)
    assert r.returncode == 0, f"dts {' '.join(args)}: exit {r.returncode}\n{r.stderr}"
    assert r.stderr == ""
    return r.stdout


def ok_json(*args, server):
    return json.loads(ok(*args, "-o", "json", server=server))


def fails(code, *args, server, env=None):
    """Runs the CLI, asserts exit `code` with a `dts: ` message and no stdout;
    returns stderr."""
    r = run_cli(*args, server=server, env=env)
    assert r.returncode == code, f"dts {' '.join(args)}: exit {r.returncode}\n{r.stdout}{r.stderr}"
    assert r.stderr.startswith("dts: "), r.stderr
    assert r.stdout == ""
    return r.stderr


def create(server, *extra, name="job", cron="*/5 * * * *"):
    return ok("job", "create", "--name", name, "--cron", cron, *extra, server=server).strip()


def get_job(server, job_id):
    return ok_json("job", "get", "--id", job_id, server=server)


def ints(message):
    """The message's fields as ints: proto JSON prints int64 fields as
    strings, int32 as numbers."""
    return {k: int(v) for k, v in message.items()}


def closed_port():
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---- the seed README's "Using the CLI" section, verbatim with `dts` in front


def test_seed_examples_verbatim(server):
    out = ok("job", "create", "--name", "My Job", "--description", "Description", "--cron",
             "*/5 * * * *", "--metadata", '{"key": "value"}', server=server)
    job_id = out.strip()
    assert len(job_id) == 36 and out == job_id + "\n"

    out = ok("job", "get", "--id", job_id, server=server)
    assert f"id:              {job_id}\n" in out
    assert "name:            My Job\n" in out
    assert "description:     Description\n" in out
    assert "cron_expression: */5 * * * *\n" in out
    assert "status:          ACTIVE\n" in out
    assert "metadata:        key=value\n" in out

    out = ok("job", "list", "--page-size", "10", "--status", "active", server=server)
    header, row, footer = out.splitlines()
    assert header.split() == ["ID", "NAME", "STATUS", "CRON", "TIMEZONE", "NEXT", "RUN", "LAST",
                              "STATUS"]
    assert row.startswith(f"{job_id}  My Job  ACTIVE  */5 * * * *  UTC  ")
    assert footer == "1 of 1 jobs"

    out = ok("job", "update", "--id", job_id, "--name", "Updated Job", "--status", "paused",
             server=server)
    assert "name:            Updated Job\n" in out
    assert "status:          PAUSED\n" in out
    job = get_job(server, job_id)
    assert job["name"] == "Updated Job"
    assert job["status"] == "PAUSED"
    assert job["description"] == "Description"
    assert job["metadata"] == {"key": "value"}
    assert job["cron_expression"] == "*/5 * * * *"

    assert ok("job", "delete", "--id", job_id, server=server) == f"deleted job {job_id}\n"
    assert "NOT_FOUND" in fails(1, "job", "get", "--id", job_id, server=server)


# ---- output formats


def test_json_output_uses_proto_field_names_and_prints_zero_values(server):
    created = ok_json("job", "create", "--name", "j", "--cron", "@daily", server=server)
    assert list(created) == ["job_id"]
    job = get_job(server, created["job_id"])
    assert job["id"] == created["job_id"]
    assert job["cron_expression"] == "@daily"
    # always_print_primitive_fields: zero values are there, scripts can rely on the keys.
    assert job["priority"] == 0 and job["max_retries"] == 0 and job["timeout"] == 0
    assert job["last_status"] == ""
    assert job["next_run"].endswith("Z")


def test_table_output_of_every_command(server):
    job_id = create(server, "--shell", "echo hi", name="tabled")
    out = ok("job", "get", "--id", job_id, server=server)
    assert "executor:        shell (/bin/sh -c)\n" in out
    assert "script:          echo hi\n" in out
    out = ok("job", "list", server=server)
    assert out.splitlines()[0].startswith("ID ")
    run_id = ok("job", "trigger", "--id", job_id, server=server).strip()
    assert len(run_id) == 36
    out = ok("execution", "get", "--id", run_id, server=server)
    assert f"job_id:         {job_id}\n" in out
    out = ok("execution", "list", "--job-id", job_id, server=server)
    assert out.splitlines()[0].split()[:3] == ["ID", "JOB", "ID"]
    assert run_id in out
    out = ok("scheduler", "get", "--job-id", job_id, server=server)
    assert f"job_id:                {job_id}\n" in out
    out = ok("scheduler", "list", server=server)
    assert out.splitlines()[0].startswith("JOB ID ")


# ---- global flags


@pytest.mark.parametrize("args", [
    ("-o", "json", "job", "list"),
    ("job", "list", "-o", "json"),
    ("job", "-o", "json", "list"),
    ("--output", "JSON", "job", "list", "--page-size", "5"),
    ("job", "list", "--page-size", "5", "--output=json"),
])
def test_output_flag_before_or_after_the_subcommand(server, args):
    create(server)
    r = run_cli(*args, server=server)
    assert r.returncode == 0, r.stderr
    listed = json.loads(r.stdout)
    assert int(listed["total"]) == 1
    assert len(listed["jobs"]) == 1


def test_server_flag_before_or_after_overrides_the_environment(server):
    job_id = create(server)
    dead = {"DTS_SERVER": f"127.0.0.1:{closed_port()}"}
    for args in (("--server", server.grpc, "job", "get", "--id", job_id),
                 ("job", "get", "--id", job_id, "--server", server.grpc)):
        r = run_cli(*args, env=dead)
        assert r.returncode == 0, r.stderr
        assert job_id in r.stdout
    # And DTS_SERVER alone is enough (run_cli sets it from the fixture).
    assert job_id in ok("job", "get", "--id", job_id, server=server)


def test_help_exits_zero():
    for args in (("job", "--help"), ("job", "create", "--help"), ("scheduler", "--help"),
                 ("execution", "list", "--help")):
        r = run_cli(*args)
        assert r.returncode == 0, r.stderr
        assert "--" in r.stdout
    assert "--command" in run_cli("job", "create", "--help").stdout


# ---- exit codes and messages


def test_bad_cron_is_a_usage_error_naming_the_field(server):
    err = fails(2, "job", "create", "--name", "x", "--cron", "/5 ", server=server)
    assert "INVALID_ARGUMENT" in err and "cron_expression" in err


def test_server_side_validation_errors_exit_2(server):
    assert "timezone" in fails(2, "job", "create", "--name", "x", "--cron", "@daily",
                               "--timezone", "Mars/Olympus", server=server)
    assert "name" in fails(2, "job", "create", "--name", "", "--cron", "@daily", server=server)
    assert "status" in fails(2, "job", "list", "--status", "sleepy", server=server)
    assert "page_size" in fails(2, "job", "list", "--page-size", "-1", server=server)
    job_id = create(server)
    assert "cron_expression" in fails(2, "job", "update", "--id", job_id, "--cron", "61 * * * *",
                                      server=server)


def test_unknown_id_exits_1(server):
    for args in (("job", "get", "--id", UNKNOWN_ID), ("job", "delete", "--id", UNKNOWN_ID),
                 ("job", "update", "--id", UNKNOWN_ID, "--name", "x"),
                 ("job", "trigger", "--id", UNKNOWN_ID), ("job", "pause", "--id", UNKNOWN_ID),
                 ("scheduler", "get", "--job-id", UNKNOWN_ID),
                 ("execution", "get", "--id", UNKNOWN_ID)):
        assert "NOT_FOUND" in fails(1, *args, server=server), args


def test_invalid_uuid_exits_2(server):
    err = fails(2, "job", "get", "--id", "not-a-uuid", server=server)
    assert "not-a-uuid" in err and "UUID" in err
    fails(2, "execution", "get", "--id", "123", server=server)
    fails(2, "scheduler", "get", "--job-id", "xyz", server=server)


def test_server_down_exits_1():
    err = fails(1, "job", "list", server=None, env={"DTS_SERVER": f"127.0.0.1:{closed_port()}"})
    assert "UNAVAILABLE" in err and "is `dts server` running" in err


def test_stopped_server_exits_1(data_dir):
    s = Server(data_dir)
    create(s)
    s.stop()
    assert "UNAVAILABLE" in fails(1, "job", "list", server=s)


@pytest.mark.parametrize("args,message", [
    (("job",), "subcommand"),
    (("job", "get"), "--id"),
    (("job", "create", "--name", "x"), "--cron"),
    (("job", "create", "--cron", "@daily"), "--name"),
    (("job", "list", "--bogus"), "--bogus"),
    (("job", "list", "-o", "yaml"), "yaml"),
    (("job", "list", "--page-size", "ten"), "ten"),
    (("job", "create", "--name", "x", "--cron", "@daily", "--priority", "high"), "high"),
    (("job", "create", "--name", "x", "--cron", "@daily", "--overlap", "sometimes"), "sometimes"),
    (("job", "create", "--name", "x", "--cron", "@daily", "--command", "a", "--shell", "b"),
     "excludes"),
    (("job", "create", "--name", "x", "--cron", "@daily", "--http-url", "http://h",
      "--kafka-topic", "t"), "excludes"),
    (("job", "create", "--name", "x", "--cron", "@daily", "--command", "prog 'unterminated"),
     "--command: unterminated single quote"),
    (("job", "create", "--name", "x", "--cron", "@daily", "--command", 'prog "unterminated'),
     "--command: unterminated double quote"),
    (("job", "create", "--name", "x", "--cron", "@daily", "--metadata", "[1, 2]"), "--metadata"),
    (("job", "create", "--name", "x", "--cron", "@daily", "--metadata", '{"n": 1}'),
     "is not a string"),
    (("job", "create", "--name", "x", "--cron", "@daily", "--env", "NOEQUALS", "--command", "p"),
     "--env"),
    (("job", "create", "--name", "x", "--cron", "@daily", "--http-method", "POST"), "--http-url"),
    (("job", "update", "--id", UNKNOWN_ID), "nothing to change"),
    (("scheduler", "schedule", "--job-id", UNKNOWN_ID, "--name", "x"), "--job-id"),
    (("nosuchcommand",), "subcommand"),
])
def test_usage_errors_exit_2_without_touching_the_server(server, args, message):
    err = fails(2, *args, server=server)
    assert message in err
    assert int(ok_json("job", "list", server=server)["total"]) == 0


# ---- --command quoting, executors and the other create flags


@pytest.mark.parametrize("command,argv", [
    ("prog arg 'quoted arg'", ["prog", "arg", "quoted arg"]),
    # Inside double quotes a backslash escapes only $ ` " \ and newline (POSIX).
    ("""/bin/echo "double \\"quoted\\" \\$HOME \\n" 'single $HOME \\' back\\ slash''""",
     ["/bin/echo", 'double "quoted" $HOME \\n', "single $HOME \\", "back slash"]),
    ("printf '%s\\n' a\\'b \"c'd\" '' \"\"", ["printf", "%s\\n", "a'b", "c'd", "", ""]),
    # Nothing is expanded and # is not a comment: the words go to execve as they are.
    ("curl -H 'X-A: b c' http://example.com/#frag $HOME ~ *.txt; rm -rf /",
     ["curl", "-H", "X-A: b c", "http://example.com/#frag", "$HOME", "~", "*.txt;", "rm", "-rf",
      "/"]),
    ("  spaced\t  out\n  ", ["spaced", "out"]),
])
def test_command_is_split_by_shell_rules_and_never_shelled(server, command, argv):
    job_id = create(server, "--command", command)
    executor = get_job(server, job_id)["executor"]
    assert executor["command"]["argv"] == argv
    assert executor["command"].get("shell", False) is False


def test_command_argv_of_the_issue_example(server):
    job_id = create(server, "--command", "prog arg 'quoted arg'", "--env", "A=1", "--env",
                    "B=x=y", "--working-dir", "/tmp")
    command = get_job(server, job_id)["executor"]["command"]
    assert command["argv"] == ["prog", "arg", "quoted arg"]
    assert command["env"] == {"A": "1", "B": "x=y"}
    assert command["working_dir"] == "/tmp"
    out = ok("job", "get", "--id", job_id, server=server)
    assert "argv:            prog arg 'quoted arg'\n" in out


def test_shell_is_one_script_run_by_sh(server):
    job_id = create(server, "--shell", "echo $HOME | wc -c")
    command = get_job(server, job_id)["executor"]["command"]
    assert command["argv"] == ["echo $HOME | wc -c"]
    assert command["shell"] is True


def test_http_and_kafka_executors(server):
    job_id = create(server, "--http-url", "http://127.0.0.1:9/hook", "--http-method", "post",
                    "--http-header", "Content-Type=application/json", "--http-header", "X-A=b",
                    "--http-body", '{"a": 1}', "--http-expected-status", "201")
    http = get_job(server, job_id)["executor"]["http"]
    assert http == {"method": "POST", "url": "http://127.0.0.1:9/hook",
                    "headers": {"Content-Type": "application/json", "X-A": "b"},
                    "body": '{"a": 1}', "expected_status": 201}
    job_id = create(server, "--kafka-topic", "events", "--kafka-key", "k", "--kafka-payload", "p")
    assert get_job(server, job_id)["executor"]["kafka"] == {"topic": "events", "key": "k",
                                                            "payload": "p"}


def test_every_create_flag_reaches_the_job(server):
    job_id = create(server, "--description", "d", "--timezone", "Europe/Paris", "--metadata",
                    '{"team": "data", "tier": "1"}', "--cpu", "500", "--memory", "256",
                    "--storage", "1024", "--constraint", "zone=z", "--priority", "7",
                    "--max-retries", "3", "--timeout", "60", "--overlap", "forbid", "--misfire",
                    "skip", "--retry-initial", "5", "--retry-max", "300", "--retry-multiplier",
                    "2.5", "--status", "Paused", cron="0 9 * * MON-FRI")
    job = get_job(server, job_id)
    assert job["description"] == "d"
    assert job["cron_expression"] == "0 9 * * MON-FRI"
    assert job["timezone"] == "Europe/Paris"
    assert job["metadata"] == {"team": "data", "tier": "1"}
    assert ints(job["resources"]) == {"cpu": 500, "memory": 256, "storage": 1024}
    assert job["constraints"] == {"zone": "z"}
    assert (job["priority"], job["max_retries"], job["timeout"]) == (7, 3, 60)
    assert (job["overlap_policy"], job["misfire_policy"]) == ("FORBID", "SKIP")
    assert job["retry_backoff"] == {"initial_seconds": 5, "max_seconds": 300, "multiplier": 2.5}
    assert job["status"] == "PAUSED"


# ---- update changes only the given fields


def test_update_changes_only_the_given_fields(server):
    job_id = create(server, "--description", "d", "--metadata", '{"k": "v"}', "--priority", "3",
                    "--command", "prog a", "--env", "KEEP=1", "--cpu", "100", "--memory", "64",
                    "--retry-initial", "2", "--retry-max", "20")
    before = get_job(server, job_id)

    def changed(after):
        return {k for k in after if after[k] != before[k]} - {"updated_at"}

    after = ok_json("job", "update", "--id", job_id, "--priority", "0", server=server)
    assert after["priority"] == 0
    assert changed(after) == {"priority"}
    before = after

    after = ok_json("job", "update", "--id", job_id, "--cpu", "250", server=server)
    assert ints(after["resources"]) == {"cpu": 250, "memory": 64, "storage": 0}
    assert changed(after) == {"resources"}
    before = after

    after = ok_json("job", "update", "--id", job_id, "--command", "other 'b c'", server=server)
    assert after["executor"]["command"]["argv"] == ["other", "b c"]
    assert after["executor"]["command"]["env"] == {"KEEP": "1"}
    assert changed(after) == {"executor"}
    before = after

    after = ok_json("job", "update", "--id", job_id, "--retry-multiplier", "3", server=server)
    assert after["retry_backoff"] == {"initial_seconds": 2, "max_seconds": 20, "multiplier": 3}
    assert changed(after) == {"retry_backoff"}
    before = after

    after = ok_json("job", "update", "--id", job_id, "--description", "", "--metadata", "{}",
                    server=server)
    assert after["description"] == "" and after["metadata"] == {}
    assert changed(after) == {"description", "metadata"}
    assert get_job(server, job_id) == after


def test_pause_resume_cancel(server):
    job_id = create(server)
    assert ok_json("job", "pause", "--id", job_id, server=server)["status"] == "PAUSED"
    assert "next_run" not in get_job(server, job_id)
    assert ok_json("job", "resume", "--id", job_id, server=server)["status"] == "ACTIVE"
    assert "next_run" in get_job(server, job_id)
    assert ok_json("job", "cancel", "--id", job_id, server=server)["status"] == "CANCELLED"


# ---- listing and paging


def test_list_pages_with_the_hint_it_prints(server):
    ids = {create(server, name=f"j{i}") for i in range(3)}
    out = ok("job", "list", "--page-size", "2", server=server)
    footer = out.splitlines()[-1]
    assert footer.startswith("2 of 3 jobs; next page: --last-id ")
    last_id = footer.split()[-1]
    first = ok_json("job", "list", "--page-size", "2", server=server)
    assert first["next_page"] == last_id
    second = ok_json("job", "list", "--page-size", "2", "--last-id", last_id, server=server)
    assert second["next_page"] == ""
    seen = {j["id"] for j in first["jobs"]} | {j["id"] for j in second["jobs"]}
    assert seen == ids
    assert ok("job", "list", "--page-size", "2", "--last-id", last_id,
              server=server).splitlines()[-1] == "1 of 3 jobs"


def test_list_filters_by_status_in_any_case(server):
    active = create(server, name="a")
    paused = create(server, "--status", "paused", name="p")
    assert [j["id"] for j in ok_json("job", "list", "--status", "PAUSED", server=server)["jobs"]] \
        == [paused]
    assert [j["id"] for j in ok_json("job", "list", "--status", "active", server=server)["jobs"]] \
        == [active]


# ---- scheduler


def test_scheduler_commands(server):
    out = ok("scheduler", "schedule", "--name", "sched", "--cron", "@hourly", "--cpu", "250",
             "--memory", "128", server=server)
    job_id = out.strip()
    got = ok_json("scheduler", "get", "--job-id", job_id, server=server)
    assert got["job_id"] == job_id
    assert ints(got["resource_requirements"]) == {"cpu": 250, "memory": 128, "storage": 0}
    assert got["cron_expression"] == "@hourly"
    assert got["status"] == "ACTIVE"
    assert got["next_execution_time"].endswith("Z")
    assert get_job(server, job_id)["name"] == "sched"

    listed = ok_json("scheduler", "list", "--page-size", "10", server=server)
    assert [j["job_id"] for j in listed["jobs"]] == [job_id]
    assert int(listed["total_count"]) == 1

    assert ok("scheduler", "cancel", "--job-id", job_id, server=server) == \
        f"cancelled job {job_id}\n"
    assert get_job(server, job_id)["status"] == "CANCELLED"

    # Scheduling an existing job re-activates it; a lone --memory keeps the cpu.
    assert ok("scheduler", "schedule", "--job-id", job_id, "--memory", "512",
              server=server) == job_id + "\n"
    got = ok_json("scheduler", "get", "--job-id", job_id, server=server)
    assert got["status"] == "ACTIVE"
    assert ints(got["resource_requirements"]) == {"cpu": 250, "memory": 512, "storage": 0}


def test_scheduler_paging_and_errors(server):
    for i in range(3):
        create(server, name=f"s{i}")
    first = ok_json("scheduler", "list", "--page-size", "2", server=server)
    assert len(first["jobs"]) == 2 and first["next_page_token"]
    second = ok_json("scheduler", "list", "--page-size", "2", "--page-token",
                     first["next_page_token"], server=server)
    assert len(second["jobs"]) == 1 and second["next_page_token"] == ""
    assert "page_token" in fails(2, "scheduler", "list", "--page-token", "garbage", server=server)
    assert "job.cron_expression" in fails(2, "scheduler", "schedule", "--name", "x", "--cron",
                                          "nope", server=server)
    fails(1, "scheduler", "cancel", "--job-id", UNKNOWN_ID, server=server)


# ---- executions


def test_trigger_then_execution_get_and_list(server):
    job_id = create(server, "--command", "true")
    run_id = ok("job", "trigger", "--id", job_id, server=server).strip()
    execution = ok_json("execution", "get", "--id", run_id, server=server)
    assert execution["id"] == run_id
    assert execution["job_id"] == job_id
    assert execution["trigger"] == "MANUAL"
    assert execution["attempt"] == 1
    assert execution["status"]  # PENDING until a runner picks it up

    assert ok_json("job", "trigger", "--id", job_id, server=server)["execution_id"]
    listed = ok_json("execution", "list", "--job-id", job_id, "--page-size", "1", server=server)
    assert int(listed["total"]) == 2
    assert len(listed["executions"]) == 1 and listed["next_page"]
    rest = ok_json("execution", "list", "--job-id", job_id, "--last-id", listed["next_page"],
                   server=server)
    assert {e["id"] for e in listed["executions"] + rest["executions"]} >= {run_id}
    other = create(server)
    assert int(ok_json("execution", "list", "--job-id", other, server=server)["total"]) == 0
    assert "status" in fails(2, "execution", "list", "--status", "bogus", server=server)


# ---- authentication


def test_token_is_sent_as_bearer(tmp_path):
    token = "cli-e2e-token-0123456789"
    s = Server(tmp_path / "authdata", env={"DTS_API_TOKEN": token})
    try:
        assert "UNAUTHENTICATED" in fails(1, "job", "list", server=s,
                                          env={"DTS_API_TOKEN": ""})
        fails(1, "job", "list", "--token", "wrong-token-0123456789", server=s)
        r = run_cli("job", "list", "--token", token, server=s, env={"DTS_API_TOKEN": ""})
        assert r.returncode == 0, r.stderr
        r = run_cli("--token", token, "job", "list", server=s)
        assert r.returncode == 0, r.stderr
        r = run_cli("job", "list", server=s, env={"DTS_API_TOKEN": token})
        assert r.returncode == 0, r.stderr
    finally:
        s.stop()
