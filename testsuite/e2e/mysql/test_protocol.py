"""Malformed, truncated, out-of-order and oversized packets over raw sockets (issue 6
acceptance): each bad connection gets an error or is closed, while another session keeps
running queries the whole time, and the server keeps serving new connections afterwards."""
import os
import socket
import struct
import threading
import time

import pymysql
import pytest

from conftest import finish
from tessera_mysql import (BASE_CAPS, CLIENT_SSL, RawConn, Sqlnode, err_code, packet)


class Watchdog:
    """Another session that runs queries in a loop during the test and records failures."""

    def __init__(self, port):
        self.conn = pymysql.connect(host="127.0.0.1", port=port, user="root", autocommit=True)
        self.stop = threading.Event()
        self.count = 0
        self.errors = []
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        cur = self.conn.cursor()
        while not self.stop.is_set():
            try:
                cur.execute("SELECT %s + 1", (self.count,))
                assert cur.fetchone()[0] == self.count + 1
                self.count += 1
            except Exception as e:  # recorded, checked by the test
                self.errors.append(repr(e))
                return
            time.sleep(0.002)

    def finish(self):
        self.stop.set()
        self.thread.join(10)
        self.conn.close()
        assert not self.errors, self.errors
        assert self.count > 0


@pytest.fixture(scope="module")
def srv():
    s = Sqlnode("--max-allowed-packet=1M")
    # Short phase timeouts so that stalled peers are dropped within the test's time.
    c = pymysql.connect(host="127.0.0.1", port=s.port, user="root", autocommit=True)
    c.cursor().execute("SET GLOBAL connect_timeout = 2, GLOBAL net_read_timeout = 2")
    c.close()
    yield s
    finish(s)


@pytest.fixture
def watchdog(srv):
    w = Watchdog(srv.port)
    yield w
    w.finish()
    # And the server still accepts and serves a new connection.
    c = pymysql.connect(host="127.0.0.1", port=srv.port, user="root")
    cur = c.cursor()
    cur.execute("SELECT 'still serving'")
    assert cur.fetchone() == ("still serving",)
    c.close()


def logged_in(srv):
    c = RawConn(srv.port)
    ok = c.login()
    assert ok[0] == 0, ok
    return c


def test_garbage_before_handshake_response(srv, watchdog):
    for junk in [b"\x00" * 64, os.urandom(200), b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"]:
        c = RawConn(srv.port)
        c.read_greeting()
        c.send(junk)
        assert c.closed_by_server(10)
        c.close()


def test_garbage_instead_of_greeting_reply_with_error(srv, watchdog):
    c = RawConn(srv.port)
    c.read_greeting()
    c.send(packet(1, b"\x01\x02\x03"))  # far too short for a handshake response
    seq, p = c.read_packet()
    assert err_code(p) == 1043
    assert c.closed_by_server(5)
    c.close()


def test_truncated_handshake_response(srv, watchdog):
    c = RawConn(srv.port)
    c.read_greeting()
    c.send(struct.pack("<I", 100)[:3] + b"\x01" + b"x" * 10)  # announces 100, sends 10
    c.sock.shutdown(socket.SHUT_WR)
    assert c.closed_by_server(10)
    c.close()


def test_wrong_sequence_id_in_handshake(srv, watchdog):
    c = RawConn(srv.port)
    c.read_greeting()
    c.send(packet(7, b"\x00" * 40))
    seq, p = c.read_packet()
    assert err_code(p) == 1156
    assert c.closed_by_server(5)
    c.close()


def test_huge_length_header(srv, watchdog):
    # A 16 MiB length header before authentication, then nothing: refused at once (limit of
    # unauthenticated packets), nothing allocated for it.
    c = RawConn(srv.port)
    c.read_greeting()
    c.send(b"\xff\xff\xff\x01")
    seq, p = c.read_packet()
    assert err_code(p) == 1153
    assert c.closed_by_server(5)
    c.close()
    # After login: the header is within max_allowed_packet's reach only in pieces; the peer
    # vanishes mid-packet.
    c = logged_in(srv)
    c.send(b"\xff\xff\xff\x00\x03SELECT")
    c.close()


def test_half_open_during_handshake(srv, watchdog):
    # Sends half a header and stalls: dropped after connect_timeout (2 s here).
    c = RawConn(srv.port)
    c.read_greeting()
    c.send(b"\x20\x00")
    t0 = time.time()
    assert c.closed_by_server(10)
    assert time.time() - t0 < 8
    c.close()


def test_half_open_after_login(srv, watchdog):
    # Half a command, then silence: dropped after net_read_timeout (2 s here).
    c = logged_in(srv)
    c.send(b"\x10\x00\x00\x00\x03SEL")
    t0 = time.time()
    assert c.closed_by_server(10)
    assert time.time() - t0 < 8
    c.close()


def test_vanishing_clients(srv, watchdog):
    for stage in range(3):
        c = RawConn(srv.port)
        if stage >= 1:
            c.read_greeting()
        if stage >= 2:
            c.send(packet(1, b"\x00" * 10))
        # Abortive close (RST) at each stage.
        c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        c.close()


def test_oversized_command(srv, watchdog):
    c = logged_in(srv)
    big = b"\x03SELECT '" + b"x" * (2 << 20) + b"'"
    try:
        c.command(big)
    except (BrokenPipeError, ConnectionResetError):
        pass  # the server may close before the client finished sending
    seq, p = c.read_packet()
    assert err_code(p) == 1153
    assert c.closed_by_server(5)
    c.close()


def test_wrong_sequence_id_after_login(srv, watchdog):
    c = logged_in(srv)
    c.command(b"\x0e", seq=5)
    seq, p = c.read_packet()
    assert err_code(p) == 1156
    assert c.closed_by_server(5)
    c.close()


def test_malformed_commands_keep_connection(srv, watchdog):
    c = logged_in(srv)
    cases = [
        (b"", 1835),                                # empty command
        (b"\x99", 1047),                            # unknown command
        (b"\x17\x01", 1835),                        # truncated COM_STMT_EXECUTE
        (b"\x17\x09\x00\x00\x00\x00\x01\x00\x00\x00", 1243),  # unknown statement
        (b"\x16", 1065),                            # COM_STMT_PREPARE of nothing
        (b"\x03SELECT (((", 1064),
        (b"\x03\xff\xfe\xfd", 1064),                # not UTF-8, not SQL
        (b"\x1b\x07\x00", 1047),                    # COM_SET_OPTION with a bad option
        (b"\x0c\x01", 1835),                        # truncated COM_PROCESS_KILL
    ]
    for payload, code in cases:
        c.command(payload)
        seq, p = c.read_packet()
        assert err_code(p) == code, (payload, p)
    # COM_STMT_EXECUTE with a bad parameter block on a real statement.
    c.command(b"\x16SELECT ?")
    seq, p = c.read_packet()
    assert p[0] == 0
    stmt = p[1:5]
    for _ in range(2):  # the parameter definition, then the column definition
        c.read_packet()
    c.command(b"\x17" + stmt + b"\x00\x01\x00\x00\x00" + b"\x00\x01" + b"\x63\x00")
    seq, p = c.read_packet()
    assert err_code(p) == 1835  # unknown parameter type 0x63
    c.command(b"\x17" + stmt + b"\x00\x01\x00\x00\x00" + b"\x00\x01\x08\x00\x01\x02")
    seq, p = c.read_packet()
    assert err_code(p) == 1835  # LONGLONG with 2 of its 8 bytes
    c.command(b"\x0e")  # still alive
    seq, p = c.read_packet()
    assert p[0] == 0
    c.close()


def test_ssl_request_then_garbage(srv, watchdog):
    c = RawConn(srv.port)
    c.read_greeting()
    c.send(packet(1, struct.pack("<IIB", BASE_CAPS | CLIENT_SSL, 1 << 24, 45) + bytes(23)))
    c.send(os.urandom(300))  # not a TLS ClientHello
    assert c.closed_by_server(10)
    c.close()


def test_random_streams(srv, watchdog):
    # Random bytes after login, many connections: every one ends with an error or a close,
    # never a hang beyond the read timeouts.
    rnd = __import__("random").Random(6)
    for i in range(30):
        c = logged_in(srv)
        data = bytes(rnd.getrandbits(8) for _ in range(rnd.randint(1, 600)))
        try:
            c.send(data)
            c.sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        assert c.closed_by_server(10), i
        c.close()
