"""The gRPC API of the real `dts server`, over a real socket.

Debian 12 has no grpcurl package, so these tests are a small grpcurl made of
Debian's python3-grpcio and python3-protobuf: message classes come from the
project's protos compiled with protoc (a descriptor set, no generated code),
and the reflection test builds them again from what the server's reflection
service returns, as grpcurl does."""

import re
import subprocess
import uuid
from pathlib import Path

import grpc  # Debian's python3-grpcio (scripts/install-deps.sh)
import pytest
from google.protobuf import descriptor_pb2, descriptor_pool, json_format, message_factory

from conftest import Server

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "e2e-token-0123456789abcdef"
DEFAULT_CRON = "0 3 1 1 *"
JOB_METHODS = {"CreateJob", "GetJob", "ListJobs", "UpdateJob", "DeleteJob", "CancelJob",
               "TriggerJob", "PauseJob", "ResumeJob"}

# The two standard services, as much of them as these tests use. Field
# numbers are those of grpc's reflection/v1alpha/reflection.proto and
# health/v1/health.proto.
REFLECTION_PROTO = """
syntax = "proto3";
package grpc.reflection.v1alpha;
service ServerReflection {
  rpc ServerReflectionInfo(stream ServerReflectionRequest)
      returns (stream ServerReflectionResponse);
}
message ServerReflectionRequest {
  string host = 1;
  oneof message_request {
    string file_by_filename = 3;
    string file_containing_symbol = 4;
    string all_extension_numbers_of_type = 6;
    string list_services = 7;
  }
}
message ServerReflectionResponse {
  string valid_host = 1;
  ServerReflectionRequest original_request = 2;
  oneof message_response {
    FileDescriptorResponse file_descriptor_response = 4;
    ListServiceResponse list_services_response = 6;
    ErrorResponse error_response = 7;
  }
}
message FileDescriptorResponse { repeated bytes file_descriptor_proto = 1; }
message ListServiceResponse { repeated ServiceResponse service = 1; }
message ServiceResponse { string name = 1; }
message ErrorResponse { int32 error_code = 1; string error_message = 2; }
"""

HEALTH_PROTO = """
syntax = "proto3";
package grpc.health.v1;
message HealthCheckRequest { string service = 1; }
message HealthCheckResponse {
  enum ServingStatus { UNKNOWN = 0; SERVING = 1; NOT_SERVING = 2; SERVICE_UNKNOWN = 3; }
  ServingStatus status = 1;
}
service Health { rpc Check(HealthCheckRequest) returns (HealthCheckResponse); }
"""


class Messages:
    """Message classes by full name, from a set of FileDescriptorProtos."""

    def __init__(self, files):
        self.pool = descriptor_pool.DescriptorPool()
        added = set()
        by_name = {f.name: f for f in files}

        def add(f):  # dependencies first
            if f.name in added:
                return
            for dep in f.dependency:
                if dep in by_name:
                    add(by_name[dep])
            self.pool.Add(f)
            added.add(f.name)

        for f in files:
            add(f)
        self._factory = message_factory.MessageFactory(self.pool)

    def __getitem__(self, full_name):
        descriptor = self.pool.FindMessageTypeByName(full_name)
        if hasattr(message_factory, "GetMessageClass"):
            return message_factory.GetMessageClass(descriptor)
        return self._factory.GetPrototype(descriptor)

    def service(self, full_name):
        return self.pool.FindServiceByName(full_name)


@pytest.fixture(scope="module")
def messages(tmp_path_factory):
    out = tmp_path_factory.mktemp("protos")
    (out / "grpc").mkdir()
    (out / "grpc" / "reflection.proto").write_text(REFLECTION_PROTO)
    (out / "grpc" / "health.proto").write_text(HEALTH_PROTO)
    descriptor_set = out / "all.pb"
    protos = sorted(str(p.relative_to(ROOT / "proto")) for p in (ROOT / "proto").rglob("*.proto"))
    subprocess.run(["protoc", f"-I{ROOT / 'proto'}", f"-I{out}", "-I/usr/include",
                    "--include_imports", f"--descriptor_set_out={descriptor_set}",
                    *protos, "grpc/reflection.proto", "grpc/health.proto"],
                   check=True, capture_output=True, text=True)
    files = descriptor_pb2.FileDescriptorSet.FromString(descriptor_set.read_bytes()).file
    return Messages(files)


class Client:
    """Unary calls by "package.Service/Method" with JSON-like dicts."""

    def __init__(self, address, messages, token=None):
        self.channel = grpc.insecure_channel(address)
        self.messages = messages
        self.metadata = [("authorization", f"Bearer {token}")] if token else None

    def __call__(self, method, request=None, metadata=None):
        service_name, method_name = method.rsplit("/", 1)
        descriptor = self.messages.service(service_name).methods_by_name[method_name]
        request_class = self.messages[descriptor.input_type.full_name]
        response_class = self.messages[descriptor.output_type.full_name]
        stub = self.channel.unary_unary(f"/{method}",
                                        request_serializer=lambda m: m.SerializeToString(),
                                        response_deserializer=response_class.FromString)
        message = json_format.ParseDict(request or {}, request_class())
        response = stub(message, timeout=30, metadata=metadata or self.metadata)
        return json_format.MessageToDict(response, preserving_proto_field_name=True)

    def error(self, method, request=None, metadata=None):
        """Calls a method that must fail; returns the grpc.RpcError."""
        with pytest.raises(grpc.RpcError) as info:
            self(method, request, metadata)
        return info.value

    def close(self):
        self.channel.close()


@pytest.fixture
def client(server, messages):
    c = Client(server.grpc, messages)
    yield c
    c.close()


def create(client, **fields):
    request = {"name": "grpc job", "cron_expression": DEFAULT_CRON, **fields}
    job_id = client("dts.v1.JobService/CreateJob", request)["job_id"]
    assert re.fullmatch(r"[0-9a-f-]{36}", job_id), job_id
    return job_id


# ---- jobs

def test_create_and_get(client, server):
    job_id = create(client, description="d", metadata={"key": "value"}, max_retries=2,
                    status="paused", timezone="Asia/Tokyo",
                    executor={"command": {"argv": ["/bin/echo", "hi"]}})
    job = client("dts.v1.JobService/GetJob", {"id": job_id})
    assert job["id"] == job_id
    assert job["name"] == "grpc job"
    assert job["metadata"] == {"key": "value"}
    assert job["max_retries"] == 2
    assert job["status"] == "PAUSED"
    assert job["timezone"] == "Asia/Tokyo"
    assert job["executor"]["command"]["argv"] == ["/bin/echo", "hi"]
    assert "created_at" in job and "next_run" not in job
    # The same job over HTTP: one API, two transports.
    status, http_job = server.request("GET", f"/v1/jobs/{job_id}")
    assert status == 200
    assert http_job["name"] == "grpc job" and http_job["created_at"] == job["created_at"]


def test_seed_example_over_grpc(client):
    error = client.error("dts.v1.JobService/CreateJob", {
        "name": "My Job", "description": "Description", "cron_expression": "/5 ",
        "metadata": {"key": "value"}})
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error.details().startswith("cron_expression"), error.details()
    assert client("dts.v1.JobService/ListJobs", {}).get("total", 0) == 0
    create(client, name="My Job", cron_expression="*/5 * * * *")
    assert client("dts.v1.JobService/ListJobs", {})["total"] == 1


@pytest.mark.parametrize("fields,field", [
    ({"name": ""}, "name"),
    ({"name": "x" * 201}, "name"),
    ({"cron_expression": "61 * * * *"}, "cron_expression"),
    ({"cron_expression": "0 0 30 2 *"}, "cron_expression"),
    ({"timezone": "Nowhere/Land"}, "timezone"),
    ({"metadata": {f"k{i}": "v" for i in range(65)}}, "metadata"),
    ({"metadata": {"k" * 129: "v"}}, "metadata"),
    ({"metadata": {"k": "v" * 4097}}, "metadata"),
    ({"status": "sleeping"}, "status"),
    ({"priority": 5000}, "priority"),
])
def test_invalid_create_is_invalid_argument(client, fields, field):
    error = client.error("dts.v1.JobService/CreateJob",
                         {"name": "x", "cron_expression": DEFAULT_CRON, **fields})
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, error
    assert error.details().startswith(field), error.details()
    assert client("dts.v1.JobService/ListJobs", {}).get("total", 0) == 0


def test_unknown_and_invalid_ids(client):
    missing = str(uuid.uuid4())
    for method in ("GetJob", "DeleteJob", "PauseJob", "ResumeJob", "CancelJob", "TriggerJob"):
        error = client.error(f"dts.v1.JobService/{method}", {"id": missing})
        assert error.code() == grpc.StatusCode.NOT_FOUND, (method, error)
        error = client.error(f"dts.v1.JobService/{method}", {"id": "not-a-uuid"})
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, (method, error)
        assert "UUID" in error.details()
    error = client.error("dts.v1.JobService/UpdateJob", {"id": missing, "name": "x"})
    assert error.code() == grpc.StatusCode.NOT_FOUND
    error = client.error("dts.v1.ExecutionService/GetExecution", {"id": missing})
    assert error.code() == grpc.StatusCode.NOT_FOUND
    error = client.error("dts.v1.SchedulerService/GetScheduledJob", {"job_id": missing})
    assert error.code() == grpc.StatusCode.NOT_FOUND
    error = client.error("dts.v1.JobService/GetJob", {})
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_update_with_and_without_mask(client):
    job_id = create(client, description="keep", metadata={"a": "1"}, priority=4)
    # No mask: the fields that are set change.
    job = client("dts.v1.JobService/UpdateJob", {"id": job_id, "name": "renamed"})
    assert (job["name"], job["description"], job["metadata"], job["priority"]) == (
        "renamed", "keep", {"a": "1"}, 4)
    # A mask can clear fields.
    job = client("dts.v1.JobService/UpdateJob",
                 {"id": job_id, "update_mask": "description,metadata,priority"})
    assert job["name"] == "renamed"
    assert "description" not in job and "metadata" not in job and "priority" not in job
    job = client("dts.v1.JobService/UpdateJob",
                 {"id": job_id, "status": "paused", "update_mask": "status"})
    assert job["status"] == "PAUSED" and "next_run" not in job
    error = client.error("dts.v1.JobService/UpdateJob",
                         {"id": job_id, "update_mask": "createdAt"})
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    error = client.error("dts.v1.JobService/UpdateJob",
                         {"id": job_id, "cron_expression": "/5 "})
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert client("dts.v1.JobService/GetJob", {"id": job_id})["cron_expression"] == DEFAULT_CRON


def test_list_pages(client):
    created = {create(client, name=f"j{i}") for i in range(12)}
    seen, last_id = [], ""
    for _ in range(10):
        page = client("dts.v1.JobService/ListJobs", {"page_size": 5, "last_id": last_id})
        assert page["total"] == 12
        seen.extend(j["id"] for j in page.get("jobs", []))
        last_id = page.get("next_page", "")
        if not last_id:
            break
    assert len(seen) == len(set(seen)) and set(seen) == created
    error = client.error("dts.v1.JobService/ListJobs", {"page_size": 5000})
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_actions_trigger_and_executions(client):
    job_id = create(client)
    assert client("dts.v1.JobService/PauseJob", {"id": job_id})["status"] == "PAUSED"
    assert client("dts.v1.JobService/ResumeJob", {"id": job_id})["status"] == "ACTIVE"
    run_id = client("dts.v1.JobService/TriggerJob", {"id": job_id})["execution_id"]
    run = client("dts.v1.ExecutionService/GetExecution", {"id": run_id})
    assert run["job_id"] == job_id and run["trigger"] == "MANUAL"
    runs = client("dts.v1.ExecutionService/ListExecutions", {"job_id": job_id})
    assert [r["id"] for r in runs["executions"]] == [run_id]
    assert client("dts.v1.JobService/CancelJob", {"id": job_id})["status"] == "CANCELLED"
    error = client.error("dts.v1.JobService/PauseJob", {"id": job_id})
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert client("dts.v1.JobService/DeleteJob", {"id": job_id}) == {"success": True}
    error = client.error("dts.v1.JobService/GetJob", {"id": job_id})
    assert error.code() == grpc.StatusCode.NOT_FOUND


def test_scheduler_service(client):
    schedule_id = client("dts.v1.SchedulerService/ScheduleJob", {
        "job": {"name": "etl", "cron_expression": "0 * * * *"},
        "resource_requirements": {"cpu": 1500, "memory": 512, "storage": 1}})["schedule_id"]
    sched = client("dts.v1.SchedulerService/GetScheduledJob", {"job_id": schedule_id})
    assert sched["job_id"] == schedule_id
    assert sched["resource_requirements"] == {"cpu": 1500, "memory": 512, "storage": 1}
    assert sched["status"] == "ACTIVE" and "next_execution_time" in sched
    page = client("dts.v1.SchedulerService/ListScheduledJobs", {"page_size": 10})
    assert page["total_count"] == 1 and [j["job_id"] for j in page["jobs"]] == [schedule_id]
    assert client("dts.v1.SchedulerService/CancelJob", {"job_id": schedule_id}) == {"success": True}
    sched = client("dts.v1.SchedulerService/GetScheduledJob", {"job_id": schedule_id})
    assert sched["status"] == "CANCELLED" and "next_execution_time" not in sched
    error = client.error("dts.v1.SchedulerService/ScheduleJob",
                         {"job": {"name": "x", "cron_expression": "/5 "}})
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error.details().startswith("job.cron_expression"), error.details()


def test_oversized_message_is_refused(client):
    error = client.error("dts.v1.JobService/CreateJob", {
        "name": "big", "cron_expression": DEFAULT_CRON, "description": "x" * (2 << 20)})
    assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED, error
    assert client("dts.v1.JobService/ListJobs", {}).get("total", 0) == 0


# ---- health and reflection

def test_health_check(client):
    assert client("grpc.health.v1.Health/Check", {}) == {"status": "SERVING"}
    assert client("grpc.health.v1.Health/Check", {"service": ""}) == {"status": "SERVING"}
    error = client.error("grpc.health.v1.Health/Check", {"service": "no.such.Service"})
    assert error.code() == grpc.StatusCode.NOT_FOUND


def reflect(server, messages, *requests):
    """Sends reflection requests on one stream; returns the responses."""
    request_class = messages["grpc.reflection.v1alpha.ServerReflectionRequest"]
    response_class = messages["grpc.reflection.v1alpha.ServerReflectionResponse"]
    with grpc.insecure_channel(server.grpc) as channel:
        call = channel.stream_stream(
            "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
            request_serializer=lambda m: m.SerializeToString(),
            response_deserializer=response_class.FromString)
        return list(call(iter([request_class(**r) for r in requests]), timeout=30))


def test_reflection_lists_services(server, messages):
    [response] = reflect(server, messages, {"list_services": ""})
    names = {s.name for s in response.list_services_response.service}
    assert {"dts.v1.JobService", "dts.v1.SchedulerService", "dts.v1.ExecutionService",
            "grpc.health.v1.Health", "grpc.reflection.v1alpha.ServerReflection"} <= names, names


def test_reflection_describes_and_calls_like_grpcurl(server, messages):
    """`grpcurl describe` and `grpcurl -d '{...}' ... CreateJob / GetJob`, with
    message types taken from the server only."""
    responses = reflect(server, messages, {"file_containing_symbol": "dts.v1.JobService"},
                        {"file_containing_symbol": "dts.v1.SchedulerService"},
                        {"file_containing_symbol": "dts.v1.ExecutionService"})
    files = {}
    for response in responses:
        assert response.WhichOneof("message_response") == "file_descriptor_response", response
        for blob in response.file_descriptor_response.file_descriptor_proto:
            f = descriptor_pb2.FileDescriptorProto.FromString(blob)
            files[f.name] = f
    assert {"dts/v1/job.proto", "dts/v1/common.proto"} <= set(files), sorted(files)
    reflected = Messages(list(files.values()))
    service = reflected.service("dts.v1.JobService")
    assert {m.name for m in service.methods} == JOB_METHODS
    assert service.methods_by_name["GetJob"].output_type.full_name == "dts.v1.JobResponse"
    fields = {f.name for f in reflected.pool.FindMessageTypeByName("dts.v1.JobResponse").fields}
    assert {"id", "name", "cron_expression", "status", "next_run", "timezone", "executor",
            "overlap_policy", "misfire_policy", "last_status"} <= fields
    [error] = reflect(server, messages, {"file_containing_symbol": "dts.v1.NoSuchThing"})
    assert error.WhichOneof("message_response") == "error_response"
    assert error.error_response.error_code == grpc.StatusCode.NOT_FOUND.value[0]

    c = Client(server.grpc, reflected)
    try:
        job_id = c("dts.v1.JobService/CreateJob",
                   {"name": "reflected", "cronExpression": "*/5 * * * *", "metadata": {"k": "v"}})[
                       "job_id"]
        job = c("dts.v1.JobService/GetJob", {"id": job_id})
        assert (job["name"], job["cron_expression"], job["metadata"]) == (
            "reflected", "*/5 * * * *", {"k": "v"})
    finally:
        c.close()


# ---- authentication

def test_token_auth(tmp_path, messages):
    server = Server(tmp_path / "data", env={"DTS_API_TOKEN": TOKEN})
    try:
        anonymous = Client(server.grpc, messages)
        wrong = Client(server.grpc, messages, token=TOKEN + "x")
        right = Client(server.grpc, messages, token=TOKEN)
        for c in (anonymous, wrong):
            for method, request in (("dts.v1.JobService/ListJobs", {}),
                                    ("dts.v1.JobService/CreateJob",
                                     {"name": "x", "cron_expression": DEFAULT_CRON}),
                                    ("dts.v1.JobService/GetJob", {"id": str(uuid.uuid4())}),
                                    ("dts.v1.SchedulerService/ListScheduledJobs", {}),
                                    ("dts.v1.ExecutionService/ListExecutions", {})):
                error = c.error(method, request)
                assert error.code() == grpc.StatusCode.UNAUTHENTICATED, (method, error)
        job_id = create(right)
        assert right("dts.v1.JobService/GetJob", {"id": job_id})["id"] == job_id
        assert right("dts.v1.JobService/ListJobs", {})["total"] == 1
        # Health needs no token.
        assert anonymous("grpc.health.v1.Health/Check", {}) == {"status": "SERVING"}
        for c in (anonymous, wrong, right):
            c.close()
    finally:
        server.stop()
