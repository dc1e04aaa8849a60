"""Server behaviour with real clients: KILL [QUERY|CONNECTION], SHOW PROCESSLIST,
max_connections (1040), wait_timeout, payloads of 16 MiB and more in both directions,
require_secure_transport, SHOW STATUS, and a clean shutdown on SIGTERM that closes sessions."""
import signal
import threading
import time
import urllib.request

import MySQLdb
import pymysql
import pytest

from tessera_mysql import mariadb


def connect(server, **kw):
    return pymysql.connect(host="127.0.0.1", port=server.port, user="root", autocommit=True,
                           **kw)


def test_kill_query_and_connection(server):
    victim = connect(server)
    vid = victim.thread_id()
    killer = connect(server)
    result = {}

    def sleeper():
        try:
            victim.cursor().execute("SELECT SLEEP(30)")
            result["ok"] = True
        except pymysql.err.OperationalError as e:
            result["err"] = e.args[0]

    t = threading.Thread(target=sleeper)
    t0 = time.time()
    t.start()
    cur = killer.cursor()
    # Wait until the victim shows up running its query.
    for _ in range(100):
        cur.execute("SHOW FULL PROCESSLIST")
        rows = {r[0]: r for r in cur.fetchall()}
        if vid in rows and rows[vid][7] == "SELECT SLEEP(30)":
            break
        time.sleep(0.05)
    assert rows[vid][4] == "Query" and rows[vid][1] == "root"
    cur.execute(f"KILL QUERY {vid}")
    t.join(10)
    assert result.get("err") == 1317 and time.time() - t0 < 10
    # The victim's connection survives a KILL QUERY.
    vc = victim.cursor()
    vc.execute("SELECT 1")
    assert vc.fetchone() == (1,)
    cur.execute(f"KILL CONNECTION {vid}")
    with pytest.raises(pymysql.err.OperationalError):
        vc.execute("SELECT 1")
        vc.fetchall()
    with pytest.raises(pymysql.err.MySQLError) as e:
        cur.execute("KILL 999999")
    assert e.value.args[0] == 1094
    killer.close()


def test_max_connections(make_server):
    s = make_server("--max-connections=3")
    conns = [connect(s) for _ in range(3)]
    with pytest.raises(pymysql.err.OperationalError) as e:
        connect(s)
    assert e.value.args[0] == 1040
    conns.pop().close()
    deadline = time.time() + 10
    while True:  # the closed session's thread ends shortly after the close
        try:
            conns.append(connect(s))
            break
        except pymysql.err.OperationalError:
            assert time.time() < deadline
            time.sleep(0.05)
    cur = conns[-1].cursor()
    cur.execute("SHOW STATUS LIKE 'Connection_errors_max_connections'")
    assert int(cur.fetchone()[1]) >= 1
    for c in conns:
        c.close()


def test_wait_timeout(server):
    c = connect(server)
    cur = c.cursor()
    cur.execute("SET SESSION wait_timeout = 1")
    time.sleep(2.5)
    with pytest.raises(pymysql.err.OperationalError):
        cur.execute("SELECT 1")
        cur.fetchall()
    # interactive clients get interactive_timeout
    c = MySQLdb.connect(host="127.0.0.1", port=server.port, user="root", client_flag=1024)
    cur = c.cursor()
    cur.execute("SELECT @@wait_timeout = @@interactive_timeout")
    assert cur.fetchone() == (1,)
    c.close()


def test_payloads_over_16_mib(server):
    c = connect(server)
    cur = c.cursor()
    n = (16 << 20) + 1000
    # A result row of more than 16 MiB (split by the server).
    cur.execute("SELECT REPEAT('ab', %s)", (n // 2,))
    v = cur.fetchone()[0]
    assert len(v) == n and v[:4] == "abab"
    # A query of more than 16 MiB (split by the client), echoed back.
    big = "y" * n
    cur.execute("SELECT LENGTH(%s), RIGHT(%s, 3)", (big, big))
    assert cur.fetchone() == (n, "yyy")
    c.close()


def test_require_secure_transport(make_server):
    s = make_server("--require-secure-transport=true")
    rc, out, err = mariadb(s, "--skip-ssl", "-e", "SELECT 1")
    assert rc != 0 and "3159" in err
    rc, out, err = mariadb(s, "--ssl", "-e", "SELECT @@require_secure_transport")
    assert rc == 0, err
    assert out.split() == ["@@require_secure_transport", "1"]


def test_show_status_and_variables(server):
    c = connect(server)
    cur = c.cursor()
    cur.execute("SHOW GLOBAL STATUS LIKE 'Com_query'")
    assert int(cur.fetchone()[1]) > 0
    cur.execute("SHOW STATUS WHERE Variable_name IN ('Threads_connected', 'Uptime')")
    assert len(cur.fetchall()) == 2
    cur.execute("SHOW VARIABLES LIKE 'max_allowed_packet'")
    assert cur.fetchone() == ("max_allowed_packet", str(64 << 20))
    cur.execute("SELECT @@port = %s, @@have_ssl", (server.port,))
    assert cur.fetchone() == (1, "YES")
    c.close()


def test_sigterm_closes_sessions(make_server):
    s = make_server()
    idle = [connect(s) for _ in range(3)]
    busy = connect(s)
    result = {}

    def sleeper():
        try:
            busy.cursor().execute("SELECT SLEEP(60)")
        except Exception as e:
            result["err"] = repr(e)

    t = threading.Thread(target=sleeper)
    t.start()
    time.sleep(0.3)
    t0 = time.time()
    code = s.stop(signal.SIGTERM, timeout=20)
    assert code == 0
    assert time.time() - t0 < 12
    t.join(10)
    assert "err" in result
    for c in idle:
        with pytest.raises(pymysql.err.OperationalError):
            c.cursor().execute("SELECT 1")
    log = s.log_text()
    assert "shutting down: closing 4 session(s)" in log
    assert "all sessions closed" in log


def test_metrics_endpoint(make_server):
    s = make_server()
    assert s.status_port > 0
    c = connect(s)
    cur = c.cursor()
    cur.execute("SELECT 1")
    with pytest.raises(pymysql.err.MySQLError) as e:
        cur.execute("SELECT nope()")
    assert e.value.args[0] == 1305
    c.close()
    with pytest.raises(pymysql.err.OperationalError):
        pymysql.connect(host="127.0.0.1", port=s.port, user="nobody", password="x")
    url = f"http://127.0.0.1:{s.status_port}"
    text = urllib.request.urlopen(url + "/metrics", timeout=10).read().decode()
    values = {}
    for line in text.splitlines():
        if line.startswith("tessera_sql_"):
            name, value = line.rsplit(" ", 1)
            values[name] = float(value)
    assert values["tessera_sql_connections_total"] >= 2
    assert values['tessera_sql_commands_total{command="query"}'] >= 2
    assert values["tessera_sql_errors_total"] >= 2  # the 1305 and the 1045
    assert values["tessera_sql_auth_failures_total"] >= 1
    assert values["tessera_sql_bytes_received_total"] > 0
    assert values["tessera_sql_bytes_sent_total"] > 0
    status = urllib.request.urlopen(url + "/status", timeout=10).read().decode()
    assert '"component":"sqlnode"' in status and f'"mysql_port":{s.port}' in status


def test_max_execution_time_and_kill_of_a_busy_statement(server):
    forever = ("WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) "
               "SELECT COUNT(*) FROM c")
    c = connect(server)
    cur = c.cursor()
    # A recursive CTE stops at cte_max_recursion_depth (3636) first; lift it so the statement
    # runs until the time limit or the KILL.
    cur.execute("SET SESSION cte_max_recursion_depth = 4294967295")
    cur.execute("SET SESSION max_execution_time = 300")
    t0 = time.time()
    with pytest.raises(pymysql.err.MySQLError) as e:
        cur.execute(forever)
    assert e.value.args[0] == 3024
    assert time.time() - t0 < 10
    cur.execute("SET SESSION max_execution_time = 0")
    # KILL QUERY reaches a statement that is computing (not sleeping).
    killer = connect(server)
    result = {}

    def run():
        try:
            c.cursor().execute(forever)
        except pymysql.err.MySQLError as ex:
            result["err"] = ex.args[0]

    t = threading.Thread(target=run)
    t.start()
    time.sleep(0.5)
    killer.cursor().execute(f"KILL QUERY {c.thread_id()}")
    t.join(10)
    assert result.get("err") == 1317
    cur = c.cursor()
    cur.execute("SELECT 'alive'")
    assert cur.fetchone() == ("alive",)
    killer.close()
    c.close()
