"""test_copr_push.py — the vtab module's scan pushdown (docs/coprocessor.md, "Scan pushdown in the
vtab module") against a playground (pd + 3 kvnodes + sqlnode; binaries from TESSERA_*):

- random single-table queries over every pushed column type with operands of every kind SQLite
  may hand over (integers, reals, numeric and other strings, blobs, NULL, dates in and out of
  canonical form, values beyond INT64_MAX), with IN, LIKE, BETWEEN, <=>, ORDER BY … LIMIT and
  LIMIT: `SET tessera_copr_pushdown = ON` must give exactly the rows of OFF (SQLite's own
  evaluation). The seed is printed; CM_TEST_SEED replays one.
- the same inside a transaction that wrote the table (merged scans: the pushed selection runs on
  the sqlnode) and in its UPDATE/DELETE;
- the KV's metrics show the selection ran there: a 1 % selective scan returns about 1 % of the
  rows it returns with pushdown off.
"""
import json
import os
import random
import sys
import urllib.request

import pymysql
import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from servers import Playground  # noqa: E402

TABLE = """CREATE TABLE t (
  id INT NOT NULL PRIMARY KEY, i INT, u BIGINT UNSIGNED, d DOUBLE, m DECIMAL(10,2),
  s VARCHAR(20), c CHAR(5), b VARBINARY(10), dt DATE, ts DATETIME, f FLOAT, y YEAR
) DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin"""
ROWS = """INSERT INTO t VALUES
  (1, 1, 1, 0.5, 1.25, 'abc', 'xy', x'0102', '2024-01-02', '2024-01-02 03:04:05', 1.5, 2024),
  (2, 2, 18446744073709551615, -0.5, 10.50, 'abc  ', 'xy  ', x'01', '2023-12-31',
   '2023-12-31 23:59:59', -1.25, 2023),
  (3, 3, 9223372036854775808, 2, 12.5, 'a_c', 'ab', x'0102ff', '2024-02-29',
   '2024-02-29 12:00:00', 2.5, 1999),
  (4, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
  (5, 5, 5, 1.5, -3.75, 'b%d', 'b', x'02', '2000-01-01', '2000-01-01 00:00:00', 0.25, 2000),
  (6, -7, 0, 100000, 0.00, '', '', x'', '1999-12-31', '1999-12-31 23:59:59', 3, 2155),
  (7, 7, 7, 2.5, 99.99, 'ab\\\\c', 'zz', x'ff', '2024-01-01', '2024-01-01 00:00:00', -0.5, 1901),
  (8, 3, 3, 3, 3.00, 'abd', 'abc', x'0103', '2024-01-02', '2024-01-02 00:00:00', 1.5, 2024)"""
COLS = ["i", "u", "d", "m", "s", "c", "b", "dt", "ts", "f", "y", "id"]
VALS = ["NULL", "0", "1", "3", "-7", "5", "7", "2.5", "-0.5", "3.0", "1e20", "-1e20", "100000",
        "'3'", "'abc'", "''", "' 3 '", "'2.5x'", "'abc  '", "'a_c'", "'b%d'", "x'01'",
        "x'0102'", "x''", "'2024-01-02'", "'2024-1-2'", "'2024-01-02 00:00:00'",
        "'2023-12-31 23:59:59'", "20240102", "9223372036854775807", "9223372036854775808",
        "18446744073709551615", "-1", "12.5", "10.50", "1.25", "99.99", "'12.5'", "0.1", "x'ff'",
        "'xy'", "'zz'", "2024", "1.5", "0.5", "-3.75", "1.25e0", "'1.25'", "'0.10'", "12.50",
        "-0.0", "'1e400'", "4503599627370497", "9007199254740993", "x'0103'", "'ab'", "'b'",
        "' abc'", "'2000-01-01'", "'1999-12-31 23:59:59'"]
PATTERNS = ["'a%'", "'a_c'", "'%c'", "'a\\\\_c'", "'%\\\\%%'", "'ab\\\\\\\\c'", "'%'", "''", "'abc'",
            "'abc  '", "'x%'", "NULL", "'_'", "3"]
OPS = ["=", "<>", "<", "<=", ">", ">=", "<=>"]
QUERIES = 500


@pytest.fixture(scope="module")
def pg():
    with Playground() as p:
        con = pymysql.connect(host="127.0.0.1", port=p.port, user="root", autocommit=True)
        cur = con.cursor()
        cur.execute("CREATE DATABASE cp")
        cur.execute("USE cp")
        cur.execute(TABLE)
        cur.execute(ROWS)
        con.close()
        yield p


def connect(p):
    return pymysql.connect(host="127.0.0.1", port=p.port, user="root", database="cp",
                           autocommit=True)


def pred(rnd):
    c = rnd.choice(COLS)
    r = rnd.random()
    if r < 0.08:
        return "%s IS NULL" % c
    if r < 0.16:
        return "%s IS NOT NULL" % c
    if r < 0.26:
        return "%s IN (%s)" % (c, ", ".join(rnd.choice(VALS) for _ in range(rnd.randint(1, 4))))
    if r < 0.36:
        return "%s LIKE %s" % (rnd.choice(["s", "c"]), rnd.choice(PATTERNS))
    if r < 0.42:
        return "%s BETWEEN %s AND %s" % (c, rnd.choice(VALS), rnd.choice(VALS))
    if r < 0.46:
        return "NOT (%s <=> %s)" % (c, rnd.choice(VALS))
    return "%s %s %s" % (c, rnd.choice(OPS), rnd.choice(VALS))


def query(rnd):
    where = " AND ".join(pred(rnd) for _ in range(rnd.randint(1, 3)))
    r = rnd.random()
    tail = ""
    if r < 0.2:
        tail = " ORDER BY %s%s, id LIMIT %d" % (rnd.choice(COLS), rnd.choice(["", " DESC"]),
                                                 rnd.randint(0, 5))
    elif r < 0.3:
        tail = " LIMIT %d OFFSET %d" % (rnd.randint(0, 4), rnd.randint(0, 2))
    return "SELECT id FROM t WHERE " + where + tail, tail


def run(cur, q, tail):
    try:
        cur.execute(q)
    except pymysql.MySQLError as e:
        return ("error", e.args[0])
    rows = [r[0] for r in cur.fetchall()]
    if "ORDER BY" not in tail:
        rows.sort()
    if "LIMIT" in tail and "ORDER BY" not in tail:
        return ("count", len(rows))  # which rows a LIMIT without ORDER BY keeps is free
    return ("rows", rows)


def compare(cur, rnd, n):
    bad = []
    for _ in range(n):
        q, tail = query(rnd)
        got = {}
        for mode in ("ON", "OFF"):
            cur.execute("SET tessera_copr_pushdown = " + mode)
            got[mode] = run(cur, q, tail)
        if got["ON"] != got["OFF"]:
            bad.append((q, got["ON"], got["OFF"]))
    cur.execute("SET tessera_copr_pushdown = ON")
    return bad


def seed():
    s = int(os.environ.get("CM_TEST_SEED", random.randrange(1 << 30)))
    print("seed %d (CM_TEST_SEED replays it)" % s)
    return s


def test_on_off_same_rows(pg):
    rnd = random.Random(seed())
    con = connect(pg)
    bad = compare(con.cursor(), rnd, QUERIES)
    con.close()
    assert not bad, "pushdown changed %d of %d answers, first: %r" % (len(bad), QUERIES, bad[:3])


def test_buffered_writes(pg):
    """In a transaction that wrote t, scans merge the buffer and the pushed selection runs on the
    sqlnode; a writing statement's scan too."""
    rnd = random.Random(seed())
    con = connect(pg)
    cur = con.cursor()
    cur.execute("BEGIN")
    cur.execute("INSERT INTO t (id, i, u, d, m, s, c, b, dt, ts) VALUES "
                "(20, 4, 4, 4.5, 4.50, 'abz', 'ab', x'0104', '2024-01-03', "
                "'2024-01-03 00:00:00'), (21, NULL, 9, NULL, 9.99, 'q', NULL, NULL, NULL, NULL)")
    cur.execute("DELETE FROM t WHERE id = 3")
    bad = compare(cur, rnd, 100)
    assert not bad, "pushdown changed %d answers in a transaction, first: %r" % (len(bad), bad[:3])
    cur.execute("UPDATE t SET i = i + 100 WHERE i > 2 AND s LIKE 'a%'")
    assert cur.rowcount == 3  # rows 7, 8, 20
    cur.execute("SELECT id FROM t WHERE i > 100 ORDER BY id")
    assert [r[0] for r in cur.fetchall()] == [7, 8, 20]
    cur.execute("ROLLBACK")
    cur.execute("SELECT id FROM t WHERE i > 100")
    assert cur.fetchall() == ()
    con.close()


def kv_metric(pg, name):
    layout = json.load(open(os.path.join(pg.dir, "playground.json")))
    total = 0
    for kv in layout["kvnodes"]:
        url = "http://127.0.0.1:%d/metrics" % kv["status_port"]
        for line in urllib.request.urlopen(url, timeout=10).read().decode().splitlines():
            parts = line.split()
            if len(parts) == 2 and (parts[0] == name or parts[0].startswith(name + "{")):
                total += float(parts[1])
    return total


def test_selective_scan_returns_few_rows(pg):
    con = connect(pg)
    cur = con.cursor()
    cur.execute("CREATE TABLE dg (n INT NOT NULL PRIMARY KEY)")
    cur.execute("INSERT INTO dg VALUES (0), (1), (2), (3), (4), (5), (6), (7), (8), (9)")
    cur.execute("CREATE TABLE big (id INT NOT NULL PRIMARY KEY, k INT, pad VARCHAR(40))")
    cur.execute("INSERT INTO big SELECT a.n * 1000 + b.n * 100 + c.n * 10 + d.n, "
                "(a.n * 1000 + b.n * 100 + c.n * 10 + d.n) * 7919 % 10000, REPEAT('x', 40) "
                "FROM dg a, dg b, dg c, dg d")
    q = "SELECT * FROM big WHERE k BETWEEN 2000 AND 2099"
    got = {}
    for mode in ("OFF", "ON"):
        cur.execute("SET tessera_copr_pushdown = " + mode)
        before = kv_metric(pg, "tessera_kv_copr_rows_returned_total")
        cur.execute(q)
        rows = sorted(cur.fetchall())
        got[mode] = (rows, kv_metric(pg, "tessera_kv_copr_rows_returned_total") - before)
    con.close()
    assert len(got["ON"][0]) == 100 and got["ON"][0] == got["OFF"][0]
    print("rows returned by the KV: pushdown on %d, off %d" % (got["ON"][1], got["OFF"][1]))
    assert got["OFF"][1] >= 10000
    assert 100 <= got["ON"][1] <= 300  # a page re-sent after a timeout counts twice
