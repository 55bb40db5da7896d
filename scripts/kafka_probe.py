#!/usr/bin/env python3
"""Kafka readiness probe: sends a Metadata request and prints the brokers.

Speaks the Kafka wire protocol over a plain socket (standard library only):
ApiVersions v0 to learn which Metadata versions the broker serves, then a
Metadata request (v4..v8, non-flexible encodings) for the cluster. Succeeds
(exit 0) only when the broker answers and lists at least one broker (KRaft
brokers appear there once registered and unfenced).

Usage: kafka_probe.py [--bootstrap HOST:PORT] [--timeout S] [--wait S]
Exit status: 0 ready, 1 answered but not ready / unexpected answer, 2 no connection.
"""

import argparse
import os
import socket
import struct
import sys
import time

API_METADATA, API_VERSIONS = 3, 18


class Reader:
    def __init__(self, data):
        self.data, self.pos = data, 0

    def take(self, n):
        if self.pos + n > len(self.data):
            raise ValueError("truncated response")
        out = self.data[self.pos:self.pos + n]
        self.pos += n
        return out

    def i16(self):
        return struct.unpack(">h", self.take(2))[0]

    def i32(self):
        return struct.unpack(">i", self.take(4))[0]

    def string(self):
        n = self.i16()
        return None if n < 0 else self.take(n).decode("utf-8")


class Client:
    def __init__(self, host, port, timeout):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.correlation = 0

    def close(self):
        self.sock.close()

    def _recv_exact(self, n):
        buf = bytearray()
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            if not chunk:
                raise ConnectionError("connection closed by broker")
            buf += chunk
        return bytes(buf)

    def call(self, api_key, api_version, body):
        self.correlation += 1
        client_id = b"dts-probe"
        header = struct.pack(">hhih", api_key, api_version, self.correlation, len(client_id))
        msg = header + client_id + body
        self.sock.sendall(struct.pack(">i", len(msg)) + msg)
        size = struct.unpack(">i", self._recv_exact(4))[0]
        r = Reader(self._recv_exact(size))
        if r.i32() != self.correlation:
            raise ValueError("correlation id mismatch")
        return r


def metadata_version(client):
    r = client.call(API_VERSIONS, 0, b"")
    err = r.i16()
    if err != 0:
        raise ValueError(f"ApiVersions error code {err}")
    for _ in range(r.i32()):
        key, lo, hi = r.i16(), r.i16(), r.i16()
        if key == API_METADATA:
            if lo > 8 or hi < 4:
                raise ValueError(f"broker serves Metadata v{lo}..v{hi}; probe speaks v4..v8")
            return min(hi, 8)
    raise ValueError("broker does not list the Metadata API")


def probe(host, port, timeout):
    client = Client(host, port, timeout)
    try:
        version = metadata_version(client)
        body = struct.pack(">i?", -1, False)  # all topics, no auto-creation
        if version >= 8:
            body += struct.pack(">??", False, False)  # no authorized-operations
        r = client.call(API_METADATA, version, body)
        r.i32()  # throttle_time_ms
        brokers = []
        for _ in range(r.i32()):
            node_id, bhost, bport = r.i32(), r.string(), r.i32()
            r.string()  # rack
            brokers.append((node_id, bhost, bport))
        cluster_id, controller_id = r.string(), r.i32()
        return brokers, cluster_id, controller_id
    finally:
        client.close()


def main(argv=None):
    default = os.environ.get("KAFKA_BROKERS", "127.0.0.1:9092").split(",")[0]
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bootstrap", default=default, help="HOST:PORT (default %(default)s)")
    ap.add_argument("--timeout", type=float, default=5.0, help="socket timeout, seconds")
    ap.add_argument("--wait", type=float, default=0.0,
                    help="keep retrying for this many seconds until ready")
    args = ap.parse_args(argv)
    host, _, port = args.bootstrap.rpartition(":")
    deadline = time.monotonic() + args.wait
    while True:
        status, detail = 2, ""
        try:
            brokers, cluster_id, controller_id = probe(host, int(port), args.timeout)
            if brokers:
                for b in brokers:
                    print(f"broker id={b[0]} {b[1]}:{b[2]} cluster={cluster_id} "
                          f"controller={controller_id}")
                return 0
            status, detail = 1, "broker answered but lists no broker yet"
        except (OSError, ConnectionError) as e:
            status, detail = 2, f"cannot reach {args.bootstrap}: {e}"
        except ValueError as e:
            status, detail = 1, f"{args.bootstrap}: {e}"
        if time.monotonic() >= deadline:
            print(f"kafka_probe.py: {detail}", file=sys.stderr)
            return status
        time.sleep(1.0)


if __name__ == "__main__":
    sys.exit(main())
