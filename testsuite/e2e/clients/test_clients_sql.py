"""Real clients over real tables (issue 7): the mariadb CLI, PyMySQL, mysqlclient (MySQLdb),
MariaDB Connector/J (JDBC, server-side prepared statements) and MariaDB ODBC (pyodbc with a
DSN-less connection string) each run the same scenario in a database of their own: create a
table with a primary key, a unique index and a composite index; insert 20 rows with parameters
in a transaction; query through the unique index and through the composite index (ORDER BY …
DESC LIMIT); commit a transaction and see it from a second connection; roll one back and see
nothing of it; get 1062 for a duplicate key.

The server is a playground (pd + 3 kvnodes + sqlnode on free ports, binaries from TESSERA_*), or
a private MariaDB when TESSERA_CLIENTS_TARGET=mariadb (to check the scenario itself).
"""
import decimal
import os
import subprocess
import sys
import tempfile

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "sql"))

import MySQLdb  # noqa: E402
import pymysql  # noqa: E402

from servers import LocalMariaDB, Playground  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
JAR = os.environ.get("MARIADB_JAR", "/usr/share/java/mariadb-java-client.jar")
MAODBC = os.environ.get("MAODBC", "/usr/lib/x86_64-linux-gnu/odbc/libmaodbc.so")

CREATE = ("CREATE TABLE orders (id INT NOT NULL PRIMARY KEY, ref VARCHAR(10) NOT NULL, "
          "cust VARCHAR(10) NOT NULL, amount DECIMAL(10,2) NOT NULL, "
          "UNIQUE KEY uk_ref (ref), KEY idx_cust_amount (cust, amount))")
CUSTS = ["ann", "bob", "cy", "dee"]


def rows():
    """The 20 rows: (id, ref, cust, amount); amounts differ from each other."""
    return [(i, "r%03d" % i, CUSTS[i % 4], "%d.%02d" % (i * 7 % 23, i * 13 % 100))
            for i in range(1, 21)]


def expected():
    rs = rows()
    d = {r[0]: r for r in rs}
    bob = sorted((r for r in rs if r[2] == "bob"), key=lambda r: decimal.Decimal(r[3]),
                 reverse=True)[:3]
    dee = sum(decimal.Decimal(r[3]) + 100 for r in rs if r[2] == "dee")
    ann = sum(1 for r in rs if r[2] == "ann")
    return [
        "count 20",
        "unique r007: %d %s %s" % (7, d[7][2], d[7][3]),
        "top bob: " + ", ".join("%d %s" % (r[0], r[3]) for r in bob),
        "after commit (other connection): dee sum %s, eve rows 1" % dee,
        "in transaction: count %d" % (21 - ann + 1),
        "after rollback: count 21, other connection count 21",
        "duplicate: 1062",
    ]


# The SQL every client runs (with its own parameter style: %s here, ? for JDBC and ODBC).
Q_COUNT = "SELECT COUNT(*) FROM orders"
Q_UNIQUE = "SELECT id, cust, amount FROM orders WHERE ref = %s"
Q_TOP = "SELECT id, amount FROM orders WHERE cust = %s ORDER BY amount DESC LIMIT 3"
Q_DEE = "SELECT SUM(amount) FROM orders WHERE cust = 'dee'"
Q_EVE = "SELECT COUNT(*) FROM orders WHERE cust = 'eve'"
U_COMMIT = ["UPDATE orders SET amount = amount + 100 WHERE cust = 'dee'",
            "INSERT INTO orders VALUES (21, 'r021', 'eve', 1.00)"]
U_ROLLBACK = ["DELETE FROM orders WHERE cust = 'ann'",
              "INSERT INTO orders VALUES (22, 'r022', 'zed', 2.00)"]
INSERT = "INSERT INTO orders (id, ref, cust, amount) VALUES (%s, %s, %s, %s)"
DUP = "INSERT INTO orders VALUES (23, 'r001', 'x', 0)"


@pytest.fixture(scope="module")
def server():
    if os.environ.get("TESSERA_CLIENTS_TARGET") == "mariadb":
        s = LocalMariaDB()
    else:
        s = Playground()
    yield s
    s.cleanup()


def check(out):
    """Compares a client's lines with the expected ones, showing every line that differs."""
    want = expected()
    diff = ["line %d: got %r, want %r" % (i + 1, g, w) for i, (g, w) in enumerate(zip(out, want))
            if g != w]
    if len(out) != len(want):
        diff.append("got %d lines, want %d" % (len(out), len(want)))
    assert not diff, "\n".join(diff)


def fresh_db(server, name):
    c = pymysql.connect(host="127.0.0.1", port=server.port, user="root", autocommit=True)
    with c.cursor() as cur:
        cur.execute("DROP DATABASE IF EXISTS " + name)
        cur.execute("CREATE DATABASE " + name)
    c.close()
    return name


def run_dbapi(connect, errtype, marker="%s"):
    """The scenario through a DB-API 2 module (PyMySQL, MySQLdb and pyodbc differ only in how
    they connect and in their parameter marker)."""
    def m(sql):
        return sql.replace("%s", marker)
    out = []
    c, c2 = connect(), connect()
    try:
        cur, cur2 = c.cursor(), c2.cursor()
        cur.execute(CREATE)
        c.commit()
        cur.executemany(m(INSERT), rows())
        c.commit()
        cur.execute(Q_COUNT)
        out.append("count %d" % cur.fetchone()[0])
        cur.execute(m(Q_UNIQUE), ("r007",))
        r = cur.fetchone()
        out.append("unique r007: %d %s %s" % (r[0], r[1], r[2]))
        cur.execute(m(Q_TOP), ("bob",))
        out.append("top bob: " + ", ".join("%d %s" % (a, b) for a, b in cur.fetchall()))
        c.commit()
        for u in U_COMMIT:
            cur.execute(u)
        c.commit()
        cur2.execute(Q_DEE)
        dee = cur2.fetchone()[0]
        cur2.execute(Q_EVE)
        out.append("after commit (other connection): dee sum %s, eve rows %d" % (
            dee, cur2.fetchone()[0]))
        c2.commit()
        for u in U_ROLLBACK:
            cur.execute(u)
        cur.execute(Q_COUNT)
        out.append("in transaction: count %d" % cur.fetchone()[0])
        c.rollback()
        cur.execute(Q_COUNT)
        n1 = cur.fetchone()[0]
        c.commit()
        cur2.execute(Q_COUNT)
        out.append("after rollback: count %d, other connection count %d" % (
            n1, cur2.fetchone()[0]))
        c2.commit()
        try:
            cur.execute(DUP)
            c.commit()
            out.append("duplicate: no error")
        except errtype as e:
            code = e.args[0]
            if isinstance(code, str):  # pyodbc: (SQLSTATE, "[…] … (1062) …")
                code = "1062" if "1062" in e.args[1] or "Duplicate entry" in e.args[1] else code
            out.append("duplicate: %s" % code)
            c.rollback()
    finally:
        c.close()
        c2.close()
    return out


def test_pymysql(server):
    db = fresh_db(server, "cl_pymysql")
    out = run_dbapi(lambda: pymysql.connect(host="127.0.0.1", port=server.port, user="root",
                                            database=db, autocommit=False, read_timeout=60),
                    pymysql.err.MySQLError)
    check(out)


def test_mysqlclient(server):
    db = fresh_db(server, "cl_mysqldb")
    out = run_dbapi(lambda: MySQLdb.connect(host="127.0.0.1", port=server.port, user="root",
                                            database=db, autocommit=False, read_timeout=60),
                    MySQLdb.MySQLError)
    check(out)


def test_odbc(server):
    import pyodbc
    db = fresh_db(server, "cl_odbc")
    conn_str = ("DRIVER=%s;SERVER=127.0.0.1;PORT=%d;DATABASE=%s;UID=root;PWD=;"
                "OPTION=3;NO_SSPS=0" % (MAODBC, server.port, db))
    out = run_dbapi(lambda: pyodbc.connect(conn_str, autocommit=False, timeout=30),
                    pyodbc.Error, marker="?")
    check(out)


def test_mariadb_cli(server):
    db = fresh_db(server, "cl_cli")

    def cli(script):
        p = subprocess.run(["mariadb", "-h127.0.0.1", "-P%d" % server.port, "-uroot",
                            "--batch", "-N", "--skip-ssl", db], input=script,
                           capture_output=True, text=True, timeout=60)
        return p.returncode, [line.split("\t") for line in p.stdout.splitlines()], p.stderr
    values = ",\n".join("(%d, '%s', '%s', %s)" % r for r in rows())
    rc, res, err = cli("%s;\nBEGIN;\nINSERT INTO orders (id, ref, cust, amount) VALUES\n%s;\n"
                       "COMMIT;\n%s;\n%s;\n%s;\n" % (CREATE, values, Q_COUNT,
                                                   Q_UNIQUE % "'r007'", Q_TOP % "'bob'"))
    assert rc == 0, err
    out = ["count %s" % res[0][0], "unique r007: %s" % " ".join(res[1]),
           "top bob: " + ", ".join(" ".join(r) for r in res[2:5])]
    rc, _, err = cli("BEGIN;\n%s;\nCOMMIT;\n" % ";\n".join(U_COMMIT))
    assert rc == 0, err
    rc, res, err = cli("%s;\n%s;\n" % (Q_DEE, Q_EVE))
    assert rc == 0, err
    out.append("after commit (other connection): dee sum %s, eve rows %s" % (res[0][0],
                                                                              res[1][0]))
    rc, res, err = cli("START TRANSACTION;\n%s;\n%s;\nROLLBACK;\n%s;\n" % (
        ";\n".join(U_ROLLBACK), Q_COUNT, Q_COUNT))
    assert rc == 0, err
    out.append("in transaction: count %s" % res[0][0])
    rc, res2, err = cli(Q_COUNT + ";\n")
    assert rc == 0, err
    out.append("after rollback: count %s, other connection count %s" % (res[1][0], res2[0][0]))
    rc, _, err = cli(DUP + ";\n")
    out.append("duplicate: %s" % ("1062" if rc != 0 and "ERROR 1062" in err else err.strip()))
    check(out)


def test_connector_j(server):
    db = fresh_db(server, "cl_jdbc")
    with tempfile.TemporaryDirectory() as d:
        p = subprocess.run(["javac", "-cp", JAR, "-d", d, os.path.join(HERE, "ClientsJdbc.java")],
                           capture_output=True, text=True, timeout=180)
        assert p.returncode == 0, p.stderr
        p = subprocess.run(["java", "-cp", "%s:%s" % (JAR, d), "ClientsJdbc", str(server.port),
                            db], capture_output=True, text=True, timeout=180)
    assert p.returncode == 0, p.stdout + p.stderr
    check(p.stdout.splitlines())
