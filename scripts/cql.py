#!/usr/bin/env python3
"""A tiny CQL client speaking the Cassandra native protocol v4 over a socket.

Used by scripts/services.sh (readiness probe) and by the Cassandra smoke test.
Maven Central carries no Cassandra 5.0 distribution (so no cqlsh); this script
covers that gap with the standard library only (the C++ client is
src/storage/cassandra/cql).

Usage:
  cql.py [--host H] [--port P] [--timeout S] [--user U --password P]
         [-e STATEMENT]... [--wait S]

The server runs PasswordAuthenticator (scripts/services.sh): credentials
default to CASSANDRA_USERNAME / CASSANDRA_PASSWORD, else cassandra/cassandra,
and are sent with SASL PLAIN when the server asks for them.

Each statement's rows are printed one per line, columns separated by tabs.
Exit status: 0 on success, 1 on a server error, 2 on a connection error.
With --wait S, connection errors are retried for up to S seconds.
"""

import argparse
import ipaddress
import os
import socket
import struct
import sys
import time
import uuid
from datetime import datetime, timezone

VERSION = 0x04
OP_ERROR, OP_STARTUP, OP_READY, OP_AUTHENTICATE = 0x00, 0x01, 0x02, 0x03
OP_QUERY, OP_RESULT = 0x07, 0x08
OP_AUTH_CHALLENGE, OP_AUTH_RESPONSE, OP_AUTH_SUCCESS = 0x0E, 0x0F, 0x10
CONSISTENCY = {"ONE": 0x0001, "QUORUM": 0x0004, "ALL": 0x0005, "LOCAL_ONE": 0x000A,
               "LOCAL_QUORUM": 0x0006}


class CqlError(Exception):
    """The server answered with an ERROR frame."""

    def __init__(self, code, message):
        super().__init__(f"server error 0x{code:04x}: {message}")
        self.code = code
        self.message = message


class Reader:
    def __init__(self, data):
        self.data = data
        self.pos = 0

    def take(self, n):
        if self.pos + n > len(self.data):
            raise ValueError("truncated frame body")
        out = self.data[self.pos:self.pos + n]
        self.pos += n
        return out

    def byte(self):
        return self.take(1)[0]

    def short(self):
        return struct.unpack(">H", self.take(2))[0]

    def int(self):
        return struct.unpack(">i", self.take(4))[0]

    def string(self):
        return self.take(self.short()).decode("utf-8")

    def string_list(self):
        return [self.string() for _ in range(self.short())]

    def bytes(self):
        n = self.int()
        return None if n < 0 else self.take(n)

    def bytes_map(self):
        return {self.string(): self.bytes() for _ in range(self.short())}

    def option(self):
        type_id = self.short()
        if type_id == 0x0000:  # custom
            return ("custom", self.string())
        if type_id in (0x0020, 0x0022):  # list, set
            return (type_id, self.option())
        if type_id == 0x0021:  # map
            return (type_id, self.option(), self.option())
        if type_id == 0x0030:  # UDT
            ks, name = self.string(), self.string()
            fields = [(self.string(), self.option()) for _ in range(self.short())]
            return (type_id, ks, name, fields)
        if type_id == 0x0031:  # tuple
            return (type_id, [self.option() for _ in range(self.short())])
        return (type_id,)


def decode(opt, raw):
    """Turns a cell into a printable Python value (unknown types become hex)."""
    if raw is None:
        return None
    t = opt[0]
    if t in (0x0001, 0x000D):  # ascii, varchar
        return raw.decode("utf-8")
    if t in (0x0002, 0x0005):  # bigint, counter
        return struct.unpack(">q", raw)[0]
    if t == 0x0009:
        return struct.unpack(">i", raw)[0]
    if t == 0x0013:
        return struct.unpack(">h", raw)[0]
    if t == 0x0014:
        return struct.unpack(">b", raw)[0]
    if t == 0x0004:
        return raw != b"\x00"
    if t == 0x0007:
        return struct.unpack(">d", raw)[0]
    if t == 0x0008:
        return struct.unpack(">f", raw)[0]
    if t == 0x000E:  # varint
        return int.from_bytes(raw, "big", signed=True)
    if t in (0x000C, 0x000F):  # uuid, timeuuid
        return str(uuid.UUID(bytes=raw))
    if t == 0x000B:  # timestamp (ms since epoch)
        ms = struct.unpack(">q", raw)[0]
        return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).isoformat()
    if t == 0x0010:
        return str(ipaddress.ip_address(raw))
    if t in (0x0020, 0x0022):
        r = Reader(raw)
        return [decode(opt[1], r.bytes()) for _ in range(r.int())]
    if t == 0x0021:
        r = Reader(raw)
        return {decode(opt[1], r.bytes()): decode(opt[2], r.bytes()) for _ in range(r.int())}
    return "0x" + raw.hex()


def default_credentials():
    return (os.environ.get("CASSANDRA_USERNAME", "cassandra"),
            os.environ.get("CASSANDRA_PASSWORD", "cassandra"))


class Connection:
    def __init__(self, host, port, timeout=10.0, user=None, password=None):
        if user is None or password is None:
            user, password = default_credentials()
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.stream = 0
        self.warnings = []
        try:
            self._startup(user, password)
        except BaseException:
            self.sock.close()
            raise

    def _startup(self, user, password):
        opcode, _ = self.request(OP_STARTUP, self._string_map({"CQL_VERSION": "3.0.0"}))
        if opcode == OP_AUTHENTICATE:
            # SASL PLAIN: "\0user\0password" as a [bytes] token.
            token = b"\0" + user.encode("utf-8") + b"\0" + password.encode("utf-8")
            opcode, _ = self.request(OP_AUTH_RESPONSE, struct.pack(">i", len(token)) + token)
            if opcode == OP_AUTH_CHALLENGE:
                raise ValueError("server sent an AUTH_CHALLENGE; only SASL PLAIN is supported")
            if opcode != OP_AUTH_SUCCESS:
                raise ValueError(f"unexpected opcode 0x{opcode:02x} after AUTH_RESPONSE")
            return
        if opcode != OP_READY:
            raise ValueError(f"unexpected opcode 0x{opcode:02x} after STARTUP")

    def close(self):
        self.sock.close()

    @staticmethod
    def _string(s):
        b = s.encode("utf-8")
        return struct.pack(">H", len(b)) + b

    @classmethod
    def _string_map(cls, m):
        return struct.pack(">H", len(m)) + b"".join(cls._string(k) + cls._string(v)
                                                     for k, v in m.items())

    def _recv_exact(self, n):
        buf = bytearray()
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            if not chunk:
                raise ConnectionError("connection closed by server")
            buf += chunk
        return bytes(buf)

    def request(self, opcode, body):
        self.stream = (self.stream + 1) % 32768
        self.sock.sendall(struct.pack(">BBhBi", VERSION, 0, self.stream, opcode, len(body)) + body)
        while True:
            version, flags, stream, res_op, length = struct.unpack(">BBhBi", self._recv_exact(9))
            payload = self._recv_exact(length)
            if stream == self.stream:
                break  # anything else (e.g. stream -1 events) is not ours
        if version & 0x7F != VERSION:
            raise ValueError(f"unexpected protocol version 0x{version:02x}")
        r = Reader(payload)
        if flags & 0x02:  # tracing id
            r.take(16)
        if flags & 0x08:  # warnings
            self.warnings.extend(r.string_list())
        if flags & 0x04:  # custom payload
            r.bytes_map()
        if res_op == OP_ERROR:
            code = r.int()
            raise CqlError(code, r.string())
        return res_op, r

    def query(self, cql, consistency="ONE"):
        """Runs one statement. Returns (column_names, rows) for SELECTs, else ([], [])."""
        body = struct.pack(">i", len(cql.encode("utf-8"))) + cql.encode("utf-8")
        body += struct.pack(">HB", CONSISTENCY[consistency], 0)
        opcode, r = self.request(OP_QUERY, body)
        if opcode != OP_RESULT:
            raise ValueError(f"unexpected opcode 0x{opcode:02x} for QUERY")
        kind = r.int()
        if kind != 0x0002:  # Void, Set_keyspace, Schema_change
            return [], []
        flags, ncols = r.int(), r.int()
        if flags & 0x0002:
            r.bytes()  # paging state
        columns = []
        if not flags & 0x0004:
            if flags & 0x0001:
                r.string(), r.string()  # global keyspace and table
            for _ in range(ncols):
                if not flags & 0x0001:
                    r.string(), r.string()
                columns.append((r.string(), r.option()))
        rows = []
        for _ in range(r.int()):
            cells = [r.bytes() for _ in range(ncols)]
            rows.append([decode(columns[i][1], c) if columns else c for i, c in enumerate(cells)])
        return [c[0] for c in columns], rows


def connect(host, port, timeout=10.0, wait=0.0, user=None, password=None):
    """Connects (STARTUP, login), retrying connection failures for `wait` seconds."""
    deadline = time.monotonic() + wait
    while True:
        try:
            return Connection(host, port, timeout, user, password)
        except (OSError, ConnectionError):
            if time.monotonic() >= deadline:
                raise
            time.sleep(1.0)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--host", default=os.environ.get("CASSANDRA_HOSTS", "127.0.0.1").split(",")[0])
    ap.add_argument("--port", type=int, default=int(os.environ.get("CASSANDRA_PORT", "9042")))
    ap.add_argument("--timeout", type=float, default=10.0, help="socket timeout, seconds")
    ap.add_argument("--wait", type=float, default=0.0,
                    help="retry connection failures for this many seconds")
    ap.add_argument("--consistency", default="ONE", choices=sorted(CONSISTENCY))
    user, password = default_credentials()
    ap.add_argument("--user", default=user, help="login (default: $CASSANDRA_USERNAME or cassandra)")
    ap.add_argument("--password", default=password,
                    help="password (default: $CASSANDRA_PASSWORD or cassandra)")
    ap.add_argument("-e", "--execute", action="append", default=[],
                    help="statement to run (repeatable); default: SELECT release_version")
    args = ap.parse_args(argv)
    statements = args.execute or ["SELECT release_version FROM system.local"]
    try:
        conn = connect(args.host, args.port, args.timeout, args.wait, args.user, args.password)
    except CqlError as e:
        print(f"cql.py: cannot log in to {args.host}:{args.port}: {e}", file=sys.stderr)
        return 2
    except (OSError, ConnectionError, ValueError) as e:
        print(f"cql.py: cannot connect to {args.host}:{args.port}: {e}", file=sys.stderr)
        return 2
    try:
        for stmt in statements:
            _, rows = conn.query(stmt, args.consistency)
            for row in rows:
                print("\t".join("null" if v is None else str(v) for v in row))
    except CqlError as e:
        print(f"cql.py: {e}", file=sys.stderr)
        return 1
    except (OSError, ConnectionError, ValueError) as e:
        print(f"cql.py: {args.host}:{args.port}: {e}", file=sys.stderr)
        return 2
    finally:
        conn.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
