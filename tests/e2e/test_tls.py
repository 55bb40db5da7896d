"""TLS on the real `dts server` (docs/security.md, "TLS"): HTTPS and gRPC
with --tls-cert/--tls-key, client certificates with --tls-ca, the CLI's
--tls-* flags and DTS_TLS_* variables, and the start-up errors.

A throwaway CA, a server certificate (SAN IP:127.0.0.1, DNS:localhost), a
client certificate and a "rogue" self-signed client certificate are made
once per module with the `openssl` command line."""

import http.client
import json
import shutil
import ssl
import subprocess
import urllib.error
import urllib.request

import pytest

from conftest import DTS, Server, run_cli

DEFAULT_CRON = "0 3 1 1 *"

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl CLI")


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    """Paths of ca.pem, server.{pem,key}, client.{pem,key}, rogue.{pem,key}
    and other.key (a key that matches no certificate)."""
    d = tmp_path_factory.mktemp("pki")
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
    openssl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "1",
            "-subj", "/CN=DTS e2e CA",
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=d)
    extensions = {
        "server": "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n",
        "client": "extendedKeyUsage=clientAuth\n",
    }
    for name, ext in extensions.items():
        (d / f"{name}.ext").write_text(
            ext + "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n"
            "subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid,issuer\n")
        openssl("req", *ec, "-keyout", f"{name}.key", "-out", f"{name}.csr",
                "-subj", f"/CN={'localhost' if name == 'server' else 'dts-e2e-client'}", cwd=d)
        openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                "-CAcreateserial", "-out", f"{name}.pem", "-days", "1",
                "-extfile", f"{name}.ext", cwd=d)
    openssl("req", "-x509", *ec, "-keyout", "rogue.key", "-out", "rogue.pem", "-days", "1",
            "-subj", "/CN=rogue", cwd=d)
    openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
            "-out", "other.key", cwd=d)
    return {p.name: str(p) for p in d.iterdir()}


def tls_server(data_dir, pki, mtls=False):
    args = ["--tls-cert", pki["server.pem"], "--tls-key", pki["server.key"]]
    if mtls:
        args += ["--tls-ca", pki["ca.pem"]]
    s = Server(data_dir, extra_args=args)
    s.base_url = f"https://{s.http}"
    return s


def client_context(pki, cert=None):
    """An SSL context trusting our CA (hostname 127.0.0.1 checked against
    the SAN), presenting `cert` ("client" or "rogue") if given."""
    ctx = ssl.create_default_context(cafile=pki["ca.pem"])
    if cert:
        ctx.load_cert_chain(pki[f"{cert}.pem"], pki[f"{cert}.key"])
    return ctx


def https(server, method, path, ctx, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(server.base_url + path, data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=30, context=ctx) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def cli(*args, server, env=None):
    return run_cli(*args, server=server, env=env)


@pytest.fixture
def tls(data_dir, pki):
    s = tls_server(data_dir, pki)
    yield s
    s.stop()


@pytest.fixture
def mtls(data_dir, pki):
    s = tls_server(data_dir, pki, mtls=True)
    yield s
    s.stop()


# ---- server certificate only

def test_ready_line_says_tls(tls):
    assert "tls=on" in tls.output()


def test_https_round_trip_with_the_ca(tls, pki):
    ctx = client_context(pki)
    status, body = https(tls, "POST", "/v1/jobs", ctx,
                         {"name": "over tls", "cron_expression": DEFAULT_CRON})
    assert status == 200, body
    status, job = https(tls, "GET", f"/v1/jobs/{body['job_id']}", ctx)
    assert status == 200 and job["name"] == "over tls", job
    # The name in the certificate's SAN works too.
    conn = http.client.HTTPSConnection("localhost", int(tls.http.rsplit(":", 1)[1]),
                                       context=ctx, timeout=30)
    conn.request("GET", "/v1/jobs")
    resp = conn.getresponse()
    assert resp.status == 200
    assert json.loads(resp.read())["total"] == 1
    conn.close()


def test_https_without_the_ca_fails(tls):
    with pytest.raises(urllib.error.URLError) as err:
        urllib.request.urlopen(tls.base_url + "/v1/jobs", timeout=30,
                               context=ssl.create_default_context())
    assert isinstance(err.value.reason, ssl.SSLCertVerificationError), err.value


def test_plaintext_http_to_the_tls_port_fails(tls):
    conn = http.client.HTTPConnection(*tls.http.rsplit(":", 1), timeout=30)
    with pytest.raises((http.client.RemoteDisconnected, ConnectionError, http.client.BadStatusLine)):
        conn.request("GET", "/v1/jobs")
        conn.getresponse()
    conn.close()


def test_cli_over_tls_with_the_ca(tls, pki):
    r = cli("job", "create", "--name", "cli tls", "--cron", DEFAULT_CRON,
            "--tls-ca", pki["ca.pem"], server=tls)
    assert r.returncode == 0, r.stderr
    job_id = r.stdout.strip()
    # DTS_TLS_CA instead of the flag, and the name in the SAN.
    r = cli("job", "get", "--id", job_id, "-o", "json", server=tls,
            env={"DTS_TLS_CA": pki["ca.pem"],
                 "DTS_SERVER": "localhost:" + tls.grpc.rsplit(":", 1)[1]})
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["name"] == "cli tls"


def test_cli_without_tls_cannot_talk_to_a_tls_server(tls):
    r = cli("job", "list", server=tls)
    assert r.returncode == 1
    assert "UNAVAILABLE" in r.stderr


def test_cli_refuses_a_server_its_ca_did_not_sign(tls, pki):
    r = cli("job", "list", "--tls-ca", pki["rogue.pem"], server=tls)
    assert r.returncode == 1
    assert "UNAVAILABLE" in r.stderr


def test_cli_tls_flag_errors_are_usage_errors(tls, pki):
    r = cli("job", "list", "--tls-ca", pki["ca.pem"] + ".missing", server=tls)
    assert r.returncode == 2
    assert "--tls-ca: cannot read" in r.stderr
    r = cli("job", "list", "--tls-ca", pki["ca.pem"], "--tls-cert", pki["client.pem"], server=tls)
    assert r.returncode == 2
    assert "--tls-key is missing" in r.stderr


# ---- client certificates (--tls-ca on the server)

def test_mtls_ready_line(mtls):
    assert "tls=mtls" in mtls.output()


def test_mtls_https_needs_a_client_certificate(mtls, pki):
    status, body = https(mtls, "GET", "/v1/jobs", client_context(pki, "client"))
    assert status == 200, body
    for ctx in (client_context(pki), client_context(pki, "rogue")):
        with pytest.raises((ssl.SSLError, ConnectionError, urllib.error.URLError,
                            http.client.RemoteDisconnected)):
            https(mtls, "GET", "/v1/jobs", ctx)


def test_mtls_cli_needs_a_client_certificate(mtls, pki):
    r = cli("job", "list", "--tls-ca", pki["ca.pem"], server=mtls)
    assert r.returncode == 1, r.stdout
    assert "UNAVAILABLE" in r.stderr
    r = cli("job", "list", "--tls-ca", pki["ca.pem"], "--tls-cert", pki["rogue.pem"],
            "--tls-key", pki["rogue.key"], server=mtls)
    assert r.returncode == 1, r.stdout
    r = cli("job", "list", "--tls-ca", pki["ca.pem"], "--tls-cert", pki["client.pem"],
            "--tls-key", pki["client.key"], server=mtls)
    assert r.returncode == 0, r.stderr
    assert "0 of 0 jobs" in r.stdout
    r = cli("job", "list", server=mtls,
            env={"DTS_TLS_CA": pki["ca.pem"], "DTS_TLS_CERT": pki["client.pem"],
                 "DTS_TLS_KEY": pki["client.key"]})
    assert r.returncode == 0, r.stderr


# ---- start-up errors: exit 2 naming the flag, before anything listens

def start_fails(tmp_path, *args, command="server"):
    extra = ["--data-dir", str(tmp_path / "data")] if command == "server" else []
    r = subprocess.run([DTS, command, *extra, "--grpc-addr", "127.0.0.1:0",
                        "--http-addr", "127.0.0.1:0", *args],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    return r.stderr


def test_startup_cert_without_key(tmp_path, pki):
    assert "--tls-key is missing" in start_fails(tmp_path, "--tls-cert", pki["server.pem"])
    assert "--tls-cert is missing" in start_fails(tmp_path, "--tls-key", pki["server.key"])


def test_startup_ca_without_cert(tmp_path, pki):
    assert "--tls-ca needs --tls-cert" in start_fails(tmp_path, "--tls-ca", pki["ca.pem"])


def test_startup_unreadable_files(tmp_path, pki):
    missing = str(tmp_path / "missing.pem")
    err = start_fails(tmp_path, "--tls-cert", missing, "--tls-key", pki["server.key"])
    assert f"--tls-cert: cannot read {missing}" in err
    err = start_fails(tmp_path, "--tls-cert", pki["server.pem"], "--tls-key", missing)
    assert f"--tls-key: cannot read {missing}" in err
    err = start_fails(tmp_path, "--tls-cert", pki["server.pem"], "--tls-key", pki["server.key"],
                      "--tls-ca", missing)
    assert f"--tls-ca: cannot read {missing}" in err


def test_startup_key_that_does_not_match(tmp_path, pki):
    err = start_fails(tmp_path, "--tls-cert", pki["server.pem"], "--tls-key", pki["other.key"])
    assert "--tls-key" in err and "does not match the certificate" in err


@pytest.mark.parametrize("service", ["job-service", "scheduler-service", "execution-service"])
def test_every_service_has_the_tls_flags(tmp_path, pki, service):
    # Checked before Kafka or Cassandra is contacted: no services needed.
    err = start_fails(tmp_path, "--tls-cert", pki["server.pem"], "--tls-key", pki["other.key"],
                      command=service)
    assert "does not match the certificate" in err
