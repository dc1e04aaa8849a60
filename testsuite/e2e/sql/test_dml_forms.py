"""test_dml_forms.py — the DML forms of sqlnode/session/sql_dml_ext.h through real clients
against a real cluster (pd + 3 kvnodes + sqlnode), for what an SQL logic test cannot show: the
OK packet (affected rows with and without CLIENT_FOUND_ROWS, the insert id), server-side
prepared statements, explicit transactions, and concurrent sessions (the statement re-run on a
write conflict must apply each ON DUPLICATE KEY UPDATE exactly once)."""
import os
import struct
import sys
import threading

import pymysql
import pytest
from pymysql.constants import CLIENT, COMMAND
from pymysql.protocol import OKPacketWrapper

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "lib"))
from cluster import Cluster  # noqa: E402


@pytest.fixture(scope="module")
def cluster():
    c = Cluster.from_env(nkv=3, nsql=1)
    try:
        yield c
    except BaseException:
        print(c.log_tail())
        raise
    finally:
        c.cleanup()


def connect(cluster, db=None, autocommit=True, found_rows=False):
    flags = CLIENT.FOUND_ROWS if found_rows else 0
    return pymysql.connect(host="127.0.0.1", port=cluster.sql_ports[0], user="root", password="",
                           database=db, autocommit=autocommit, connect_timeout=10,
                           read_timeout=60, write_timeout=60, client_flag=flags)


def q(conn, sql, args=None):
    with conn.cursor() as cur:
        cur.execute(sql, args)
        return cur.fetchall()


def run(conn, sql):
    """Executes sql; returns (affected rows, insert id) of its OK packet."""
    with conn.cursor() as cur:
        n = cur.execute(sql)
        return n, cur.lastrowid


def make_db(cluster, name, **kw):
    c = connect(cluster)
    q(c, "CREATE DATABASE %s" % name)
    c.close()
    return connect(cluster, name, **kw)


def ps_execute(conn, sql, params):
    """Runs sql as a server-side prepared statement (COM_STMT_PREPARE/EXECUTE, binary protocol)
    with integer parameters; returns the OK packet (PyMySQL only prepares on the client)."""
    conn._execute_command(COMMAND.COM_STMT_PREPARE, sql)
    data = conn._read_packet().get_all_data()
    assert data[0] == 0, data
    stmt_id, ncols, nparams = struct.unpack("<IHH", data[1:9])
    assert nparams == len(params)
    for count in (nparams, ncols):
        if count:
            for _ in range(count + 1):  # definitions, then EOF
                conn._read_packet()
    try:
        bitmap = bytearray((len(params) + 7) // 8)
        types = b"\x08\x00" * len(params)  # MYSQL_TYPE_LONGLONG
        values = b"".join(struct.pack("<q", p) for p in params)
        payload = struct.pack("<IBI", stmt_id, 0, 1) + bytes(bitmap) + b"\x01" + types + values
        conn._execute_command(COMMAND.COM_STMT_EXECUTE, payload)
        pkt = conn._read_packet()
        pkt.check_error()
        assert pkt.is_ok_packet()
        return pkt
    finally:
        conn._execute_command(COMMAND.COM_STMT_CLOSE, struct.pack("<I", stmt_id))


def test_upsert_ok_packet(cluster):
    c = make_db(cluster, "d_up_ok")
    q(c, "CREATE TABLE t (id INT AUTO_INCREMENT PRIMARY KEY, k INT NOT NULL, v INT, "
         "UNIQUE KEY uk (k))")
    # new rows: 1 each, insert id = the first generated id
    n, iid = run(c, "INSERT INTO t (k, v) VALUES (1, 1), (2, 2) ON DUPLICATE KEY UPDATE v = 0")
    assert (n, iid) == (2, 1)
    # updated: 2; unchanged: 0; an updated row sends no insert id
    assert run(c, "INSERT INTO t (k, v) VALUES (1, 5) ON DUPLICATE KEY UPDATE v = VALUES(v)") == (
        2, 0)
    assert run(c, "INSERT INTO t (k, v) VALUES (1, 5) ON DUPLICATE KEY UPDATE v = VALUES(v)") == (
        0, 0)
    # LAST_INSERT_ID(expr): the updated row's id in the OK packet and in LAST_INSERT_ID()
    n, iid = run(c, "INSERT INTO t (k, v) VALUES (2, 0) ON DUPLICATE KEY UPDATE "
                    "id = LAST_INSERT_ID(id), v = 9")
    assert (n, iid) == (2, 2)
    assert q(c, "SELECT LAST_INSERT_ID()") == ((2,),)
    assert q(c, "SELECT id, k, v FROM t ORDER BY id") == ((1, 1, 5), (2, 2, 9))
    c.close()


def test_found_rows_flag(cluster):
    c = make_db(cluster, "d_found", found_rows=True)
    q(c, "CREATE TABLE t (id INT PRIMARY KEY, g INT, v INT)")
    q(c, "CREATE TABLE u (id INT PRIMARY KEY, v INT)")
    q(c, "INSERT INTO t VALUES (1, 1, 0), (2, 1, 0), (3, 2, 0)")
    q(c, "INSERT INTO u VALUES (1, 0), (2, 5)")
    # ON DUPLICATE KEY UPDATE to the same values counts 1 per row with CLIENT_FOUND_ROWS
    assert run(c, "INSERT INTO t VALUES (1, 1, 0) ON DUPLICATE KEY UPDATE v = VALUES(v)")[0] == 1
    assert run(c, "INSERT INTO t VALUES (1, 1, 7) ON DUPLICATE KEY UPDATE v = VALUES(v)")[0] == 2
    # UPDATE … ORDER BY … LIMIT and multi-table UPDATE count matched rows
    assert run(c, "UPDATE t SET g = 1 WHERE g = 1 ORDER BY id LIMIT 5")[0] == 2
    assert run(c, "UPDATE t JOIN u ON u.id = t.id SET u.v = 0")[0] == 2
    c.close()
    c = connect(cluster, "d_found")
    assert run(c, "UPDATE t SET g = 1 WHERE g = 1 ORDER BY id LIMIT 5")[0] == 0
    assert run(c, "UPDATE t JOIN u ON u.id = t.id SET u.v = 0")[0] == 0
    c.close()


def test_prepared_statements(cluster):
    c = make_db(cluster, "d_ps")
    q(c, "CREATE TABLE t (id INT PRIMARY KEY, v INT)")
    q(c, "CREATE TABLE u (id INT PRIMARY KEY, w INT)")
    pkt = ps_execute(c, "INSERT INTO t (id, v) VALUES (?, ?) ON DUPLICATE KEY UPDATE v = v + ?",
                     [1, 10, 5])
    assert OKPacketWrapper(pkt).affected_rows == 1
    pkt = ps_execute(c, "INSERT INTO t (id, v) VALUES (?, ?) ON DUPLICATE KEY UPDATE v = v + ?",
                     [1, 10, 5])
    assert OKPacketWrapper(pkt).affected_rows == 2
    ps_execute(c, "INSERT INTO t SET id = ?, v = ?", [2, 20])
    ps_execute(c, "INSERT INTO t SET id = ?, v = ?", [3, 30])
    ps_execute(c, "UPDATE t SET v = v + ? ORDER BY v DESC LIMIT ?", [100, 1])
    ps_execute(c, "INSERT INTO u VALUES (?, ?), (?, ?)", [1, 0, 2, 0])
    ps_execute(c, "UPDATE u JOIN t ON t.id = u.id SET u.w = t.v + ? WHERE t.id <= ?", [1, 2])
    ps_execute(c, "DELETE FROM t ORDER BY id LIMIT ?", [1])
    assert q(c, "SELECT id, v FROM t ORDER BY id") == ((2, 20), (3, 130))
    assert q(c, "SELECT id, w FROM u ORDER BY id") == ((1, 16), (2, 21))
    c.close()


def test_explicit_transaction_rollback(cluster):
    c = make_db(cluster, "d_txn", autocommit=False)
    q(c, "CREATE TABLE t (id INT PRIMARY KEY, v INT)")
    q(c, "INSERT INTO t VALUES (1, 1), (2, 2)")
    c.commit()
    q(c, "INSERT INTO t VALUES (1, 0), (3, 3) ON DUPLICATE KEY UPDATE v = v + 10")
    q(c, "UPDATE t SET v = 0 ORDER BY id DESC LIMIT 1")
    q(c, "DELETE a FROM t AS a JOIN t AS b ON b.id = a.id + 1")
    assert q(c, "SELECT id, v FROM t ORDER BY id") == ((3, 0),)
    c.rollback()
    assert q(c, "SELECT id, v FROM t ORDER BY id") == ((1, 1), (2, 2))
    # a failing statement inside the transaction leaves the earlier ones alone
    q(c, "INSERT INTO t VALUES (4, 4) ON DUPLICATE KEY UPDATE v = 0")
    with pytest.raises(pymysql.err.MySQLError) as e:
        q(c, "INSERT INTO t VALUES (5, 5), (1, 0) ON DUPLICATE KEY UPDATE id = 2")
    assert e.value.args[0] == 1062
    c.commit()
    assert q(c, "SELECT id, v FROM t ORDER BY id") == ((1, 1), (2, 2), (4, 4))
    c.close()


def test_concurrent_upserts_apply_once(cluster):
    """Sessions bumping one counter with ON DUPLICATE KEY UPDATE in autocommit: a write
    conflict re-runs the whole statement (insert attempt and update) at a fresh snapshot, so
    every statement that succeeds adds exactly 1."""
    c = make_db(cluster, "d_conc")
    q(c, "CREATE TABLE t (k INT PRIMARY KEY, n INT NOT NULL)")
    c.close()
    errors = []
    per_thread = 40

    def worker():
        conn = connect(cluster, "d_conc")
        try:
            for _ in range(per_thread):
                try:
                    q(conn, "INSERT INTO t VALUES (1, 1) ON DUPLICATE KEY UPDATE n = n + 1")
                except pymysql.err.OperationalError as e:
                    errors.append(e.args[0])
        finally:
            conn.close()

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    c = connect(cluster, "d_conc")
    n = q(c, "SELECT n FROM t WHERE k = 1")[0][0]
    c.close()
    assert set(errors) <= {1213}, errors
    assert n == 3 * per_thread - len(errors), (n, errors)
    assert n >= per_thread, errors


def test_for_update_conflicts_at_commit(cluster):
    """Optimistic locking reads: a row read FOR UPDATE in a transaction and changed by another
    session before that transaction commits fails its commit with 1213, even when the
    transaction does not write that row; FOR SHARE and a plain read take nothing."""
    c = make_db(cluster, "d_lock", autocommit=False)
    q(c, "CREATE TABLE acct (id INT PRIMARY KEY, bal INT)")
    q(c, "CREATE TABLE log (id INT PRIMARY KEY, note VARCHAR(20))")
    q(c, "INSERT INTO acct VALUES (1, 100), (2, 50)")
    c.commit()
    other = connect(cluster, "d_lock")

    def attempt(read_sql, other_sql, note):
        q(c, "BEGIN")
        rows = q(c, read_sql)
        q(other, other_sql)  # autocommit: committed now
        q(c, "INSERT INTO log VALUES (%d, '%s')" % (len(note), note))
        try:
            c.commit()
            return rows, None
        except pymysql.err.OperationalError as e:
            return rows, e.args[0]

    # FOR UPDATE on acct 1, another session changes it: the commit fails, the log row is gone
    rows, err = attempt("SELECT bal FROM acct WHERE id = 1 FOR UPDATE",
                        "UPDATE acct SET bal = bal - 10 WHERE id = 1", "a")
    assert rows == ((100,),) and err == 1213
    assert q(c, "SELECT COUNT(*) FROM log") == ((0,),)
    c.commit()
    # a row FOR UPDATE did not return (id 2 is outside the WHERE) does not conflict
    rows, err = attempt("SELECT bal FROM acct WHERE id = 1 FOR UPDATE",
                        "UPDATE acct SET bal = bal + 1 WHERE id = 2", "bb")
    assert err is None
    # FOR SHARE and LOCK IN SHARE MODE take nothing: snapshot isolation only
    rows, err = attempt("SELECT bal FROM acct WHERE id = 1 FOR SHARE",
                        "UPDATE acct SET bal = bal - 1 WHERE id = 1", "ccc")
    assert rows == ((90,),) and err is None
    rows, err = attempt("SELECT bal FROM acct WHERE id = 1 LOCK IN SHARE MODE",
                        "UPDATE acct SET bal = bal - 1 WHERE id = 1", "dddd")
    assert err is None
    # through an index scan and a full scan too
    q(c, "CREATE INDEX ib ON acct (bal)")
    rows, err = attempt("SELECT id FROM acct WHERE bal = 88 FOR UPDATE",
                        "UPDATE acct SET bal = 87 WHERE id = 1", "eeeee")
    assert rows == ((1,),) and err == 1213
    c.commit()
    rows, err = attempt("SELECT SUM(bal) FROM acct FOR UPDATE",
                        "DELETE FROM acct WHERE id = 2", "ffffff")
    assert err == 1213
    c.commit()
    # in autocommit FOR UPDATE ends with its statement: nothing to conflict with
    other.autocommit(True)
    assert q(other, "SELECT COUNT(*) FROM acct FOR UPDATE") == ((1,),)
    assert q(c, "SELECT note FROM log ORDER BY id") == (("bb",), ("ccc",), ("dddd",))
    other.close()
    c.close()
