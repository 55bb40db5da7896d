"""The deployment files (Dockerfile, docker-compose.yml, .env.example) against
what the code reads. No Docker engine runs here, so this checks the files
themselves: every dts service in the compose file runs a `dts` subcommand
that exists with flags it accepts, every variable given to it is one the
code reads, its published ports are the code's defaults, and .env.example
names only variables the code reads, with the seed's values."""

import os
import re
import subprocess
from pathlib import Path

import yaml

from conftest import DTS

ROOT = Path(__file__).resolve().parents[2]
# Seed defaults (../shared/SEED.md) that the code must use too.
DEFAULT_PORTS = {
    "JOB_SERVICE_GRPC_PORT": 50054,
    "JOB_SERVICE_HTTP_PORT": 8080,
    "SCHEDULER_SERVICE_GRPC_PORT": 50052,
    "SCHEDULER_SERVICE_HTTP_PORT": 8081,
    # Ours (the seed has no execution service ports).
    "EXECUTION_SERVICE_GRPC_PORT": 50056,
    "EXECUTION_SERVICE_HTTP_PORT": 8082,
}


def source_text():
    text = []
    for path in (ROOT / "src").rglob("*.cc"):
        if not path.name.endswith("_test.cc"):
            text.append(path.read_text(errors="replace"))
    return "\n".join(text)


SOURCE = source_text()


def read_by_code(name):
    """True when some product source file names the variable in a string."""
    return f'"{name}"' in SOURCE or (name.startswith("KAFKA_") and '"KAFKA_' in SOURCE)


def help_of(*args):
    out = subprocess.run([DTS, *args, "--help"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, (args, out.stderr)
    return out.stdout


def compose():
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def dts_services():
    return {name: svc for name, svc in compose()["services"].items() if svc.get("build") == "."}


def test_compose_runs_existing_commands_with_accepted_flags():
    services = dts_services()
    assert {"migrate", "job-service", "scheduler-service", "execution-service"} <= set(services), (
        services.keys())
    for name, svc in services.items():
        command = svc["command"]
        text = help_of(command[0])
        for flag in (a for a in command[1:] if a.startswith("--")):
            assert flag in text, (name, flag)


def test_compose_gives_only_variables_the_code_reads():
    for name, svc in dts_services().items():
        for var in svc.get("environment", {}):
            assert read_by_code(var), f"{name}: {var} is not read by the code"


SERVICE_OF_PORT = {"JOB": "job-service", "SCHEDULER": "scheduler-service",
                   "EXECUTION": "execution-service"}


def test_compose_ports_are_the_code_defaults():
    services = dts_services()
    for var, port in DEFAULT_PORTS.items():
        name = SERVICE_OF_PORT[var.split("_")[0]]
        svc = services[name]
        published = " ".join(svc["ports"]) + " " + " ".join(map(str, svc["environment"].values()))
        defaults = re.findall(r"\$\{" + var + r":-(\d+)\}", published)
        assert defaults and set(defaults) == {str(port)}, (name, var, defaults)
        assert f"${{{var}:-{port}}}:${{{var}:-{port}}}" in svc["ports"], (var, svc["ports"])
        text = help_of(name)
        assert f"{var}, {port}" in text, (var, text)  # the flag help states the default


def test_env_example_names_what_the_code_reads_with_the_seed_values():
    values = {}
    for line in (ROOT / ".env.example").read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            values[key] = value
    for key in values:
        assert read_by_code(key), f".env.example: {key} is not read by the code"
    assert values["CASSANDRA_KEYSPACE"] == "task_scheduler"
    for var, port in DEFAULT_PORTS.items():
        assert values[var] == str(port), var


def test_dockerfile_runs_dts_with_flags_it_accepts():
    text = (ROOT / "Dockerfile").read_text()
    assert 'ENTRYPOINT ["/usr/local/bin/dts"]' in text
    cmd = re.search(r"^CMD (\[.*\])$", text, re.M)
    assert cmd, "no CMD"
    args = yaml.safe_load(cmd.group(1))
    help_text = help_of(args[0])
    for flag in (a for a in args[1:] if a.startswith("--")):
        assert flag in help_text, flag
    assert re.search(r"^USER (?!root)\w+", text, re.M), "the image must not run as root"
