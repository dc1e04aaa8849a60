"""Helpers for the MySQL end-to-end tests: start and stop a real sqlnode, and a raw MySQL
protocol client for sending well-formed and malformed packets."""
import hashlib
import os
import re
import select
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import time

SQLNODE = os.environ.get("SQLNODE", "")


class Sqlnode:
    """A sqlnode process on 127.0.0.1 and a free port (it binds port 0 and prints the port)."""

    def __init__(self, *args):
        if not SQLNODE or not os.access(SQLNODE, os.X_OK):
            raise RuntimeError("SQLNODE is not set to the sqlnode binary")
        self.dir = tempfile.mkdtemp(prefix="tessera-e2e-mysql-")
        self.tls_dir = os.path.join(self.dir, "tls")
        self.log_path = os.path.join(self.dir, "sqlnode.log")
        self.log = open(self.log_path, "wb")
        cmd = [SQLNODE, "--mysql-addr=127.0.0.1:0", "--status-addr=127.0.0.1:0",
               f"--tls-dir={self.tls_dir}", "--log-level=info", *args]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=self.log)
        out = b""
        deadline = time.time() + 30
        while time.time() < deadline and b"\n" not in out:
            ready, _, _ = select.select([self.proc.stdout], [], [], 0.2)
            if ready:
                chunk = os.read(self.proc.stdout.fileno(), 4096)
                if not chunk:
                    break
                out += chunk
            elif self.proc.poll() is not None:
                break
        m = re.search(rb"mysql_port=(\d+)", out)
        if not m:
            self.stop(signal.SIGKILL)
            raise RuntimeError(f"sqlnode did not start: {out!r}\n{self.log_text()}")
        self.port = int(m.group(1))
        sm = re.search(rb"status_port=(-?\d+)", out)
        self.status_port = int(sm.group(1)) if sm else -1
        self.cert = os.path.join(self.tls_dir, "server-cert.pem")

    def stop(self, sig=signal.SIGTERM, timeout=20):
        """Stops the process (bounded wait; SIGKILL as the last resort); returns its status."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if not self.log.closed:
            self.log.close()
        if self.proc.stdout:
            self.proc.stdout.close()
        return self.proc.returncode

    def cleanup(self):
        self.stop(signal.SIGKILL)
        shutil.rmtree(self.dir, ignore_errors=True)

    def log_text(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode(errors="replace")
        except OSError:
            return ""


def mariadb(server, *args, user="root", password=None, timeout=30, stdin=None):
    """Runs the mariadb CLI against the server; returns (exit code, stdout, stderr)."""
    cmd = ["mariadb", "-h127.0.0.1", f"-P{server.port}", f"-u{user}", "--batch",
           "--connect-timeout=10"]
    if password is not None:
        cmd.append(f"-p{password}")
    cmd += list(args)
    p = subprocess.run(cmd, capture_output=True, timeout=timeout, input=stdin)
    return p.returncode, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")


# ---- a raw MySQL protocol client ----

CLIENT_PROTOCOL_41 = 1 << 9
CLIENT_SSL = 1 << 11
CLIENT_SECURE_CONNECTION = 1 << 15
CLIENT_MULTI_STATEMENTS = 1 << 16
CLIENT_MULTI_RESULTS = 1 << 17
CLIENT_PLUGIN_AUTH = 1 << 19
CLIENT_PLUGIN_AUTH_LENENC = 1 << 21
CLIENT_DEPRECATE_EOF = 1 << 24
BASE_CAPS = (CLIENT_PROTOCOL_41 | CLIENT_SECURE_CONNECTION | CLIENT_PLUGIN_AUTH |
             CLIENT_PLUGIN_AUTH_LENENC | CLIENT_MULTI_RESULTS | CLIENT_DEPRECATE_EOF)


def packet(seq, payload):
    return struct.pack("<I", len(payload))[:3] + bytes([seq & 0xFF]) + payload


def native_scramble(nonce, password):
    if not password:
        return b""
    h1 = hashlib.sha1(password.encode()).digest()
    h2 = hashlib.sha1(h1).digest()
    x = hashlib.sha1(nonce + h2).digest()
    return bytes(a ^ b for a, b in zip(h1, x))


class RawConn:
    """Speaks the protocol by hand. Every receive is bounded by `timeout`."""

    def __init__(self, port, timeout=10.0):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.sock.settimeout(timeout)
        self.buf = b""
        self.nonce = b""

    def recv_exact(self, n):
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed by server")
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def read_packet(self):
        h = self.recv_exact(4)
        n = h[0] | (h[1] << 8) | (h[2] << 16)
        return h[3], self.recv_exact(n)

    def read_greeting(self):
        seq, p = self.read_packet()
        assert p[0] == 10, p[:20]
        end = p.index(b"\0", 1)
        rest = p[end + 1:]
        part1 = rest[4:12]
        part2 = rest[12 + 1 + 2 + 1 + 2 + 2 + 1 + 10:][:12]
        self.nonce = part1 + part2
        self.version = p[1:end].decode()
        return p

    def login(self, user="root", password="", caps=BASE_CAPS, db=None):
        self.read_greeting()
        auth = native_scramble(self.nonce, password)
        body = struct.pack("<IIB", caps | (8 if db else 0), 1 << 24, 45) + bytes(23)
        body += user.encode() + b"\0" + bytes([len(auth)]) + auth
        if db:
            body += db.encode() + b"\0"
        body += b"mysql_native_password\0"
        self.send(packet(1, body))
        return self.read_packet()[1]

    def send(self, data):
        self.sock.sendall(data)

    def command(self, payload, seq=0):
        self.send(packet(seq, payload))

    def closed_by_server(self, wait=10.0):
        """True when the server closes the connection within `wait` seconds (after any data)."""
        self.sock.settimeout(wait)
        deadline = time.time() + wait
        try:
            while time.time() < deadline:
                chunk = self.sock.recv(65536)
                if not chunk:
                    return True
                self.buf += chunk
        except (ConnectionResetError, BrokenPipeError):
            return True
        except socket.timeout:
            return False
        return False

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def err_code(payload):
    """MySQL error number of an ERR packet, or None."""
    if payload and payload[0] == 0xFF:
        return payload[1] | (payload[2] << 8)
    return None
