"""test_copr_agg_regions.py — aggregate pushdown over a table spread across many regions
(docs/coprocessor.md "Aggregate pushdown (sqlnode)"): the table's row range is split into 8+
regions with `ctl split`, then aggregates with and without GROUP BY, WHERE, HAVING, ORDER BY and
LIMIT must give the same rows with @@tessera_copr_pushdown ON and OFF, and the values Python
computes from the rows it inserted. Runs one playground (pd + 3 kvnodes + sqlnode)."""
import json
import os
import re
import subprocess
import sys
from decimal import Decimal

import pymysql
import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from servers import Playground  # noqa: E402

ROWS = 2000
SPLITS = [250 * k for k in range(1, 9)]  # 9 regions over the rows


def row_key_hex(table_id, handle):
    def i64(v):
        return ((v + (1 << 63)) & ((1 << 64) - 1)).to_bytes(8, "big")
    return (b"t" + i64(table_id) + b"_r" + i64(handle)).hex()


def rows():
    out = []
    for h in range(1, ROWS + 1):
        k = None if h % 97 == 0 else (h * 37) % 1000
        d = None if h % 89 == 0 else Decimal(h % 50) / 4
        g = None if h % 13 == 0 else h % 7
        c = "c%d" % (h % 5)
        out.append((h, k, d, g, c))
    return out


@pytest.fixture(scope="module")
def cluster():
    with Playground() as pg:
        conn = pymysql.connect(host="127.0.0.1", port=pg.port, user="root", autocommit=True,
                               conv={}, read_timeout=120)
        cur = conn.cursor()
        cur.execute("CREATE DATABASE ca")
        cur.execute("USE ca")
        cur.execute("CREATE TABLE t (id BIGINT PRIMARY KEY, k INT, d DECIMAL(8,2), g INT, "
                    "c CHAR(4))")
        data = rows()
        for i in range(0, len(data), 200):
            cur.executemany("INSERT INTO t VALUES (%s, %s, %s, %s, %s)", data[i:i + 200])
        cur.execute("EXPLAIN SELECT COUNT(*) FROM t")
        plan = "\n".join(" | ".join(str(v) for v in r) for r in cur.fetchall())
        m = re.search(r"range:t(\d+)_r", plan)
        assert m, plan
        table_id = int(m.group(1))
        with open(os.path.join(pg.dir, "playground.json")) as f:
            pd = "127.0.0.1:%d" % json.load(f)["pd"]["port"]
        ctl = os.environ.get("TESSERA_CTL", "build/tools/ctl/ctl")
        for h in SPLITS:
            r = subprocess.run([ctl, "--pd", pd, "split", "hex:" + row_key_hex(table_id, h)],
                               capture_output=True, text=True, timeout=60)
            assert r.returncode == 0, r.stderr
        r = subprocess.run([ctl, "--pd", pd, "regions"], capture_output=True, text=True,
                           timeout=60)
        yield conn, data, plan, r.stdout
        conn.close()


def query(conn, sql, pushdown):
    cur = conn.cursor()
    cur.execute("SET tessera_copr_pushdown = %s" % ("ON" if pushdown else "OFF"))
    cur.execute(sql)
    return [tuple(r) for r in cur.fetchall()]


def test_explain_shows_the_pushed_plan(cluster):
    conn, _, plan, regions = cluster
    assert "HashAgg" in plan and "cop[kv]" in plan and "TableFullScan" in plan, plan
    assert regions.count("\n") >= len(SPLITS), regions


QUERIES = [
    "SELECT COUNT(*), COUNT(k), SUM(k), MIN(k), MAX(k), AVG(k) FROM t",
    "SELECT COUNT(*), SUM(d), AVG(d), MIN(d), MAX(d) FROM t WHERE k BETWEEN 100 AND 400",
    "SELECT g, COUNT(*), SUM(k), AVG(d) FROM t GROUP BY g",
    "SELECT c, g, COUNT(*), MAX(k) FROM t WHERE k IS NOT NULL OR d > 5 GROUP BY c, g",
    "SELECT g, COUNT(*) AS n FROM t GROUP BY g HAVING n > 250 ORDER BY n DESC, g LIMIT 3",
    "SELECT c, SUM(k * 2 + 1) FROM t WHERE c IN ('c1', 'c3') AND k % 3 = 0 GROUP BY c "
    "ORDER BY c",
    "SELECT COUNT(*), SUM(k) FROM t WHERE id > 1990",
    "SELECT COUNT(*), SUM(k) FROM t WHERE k > 5000",
]


@pytest.mark.parametrize("sql", QUERIES)
def test_pushdown_on_equals_off(cluster, sql):
    conn = cluster[0]
    on = query(conn, sql, True)
    off = query(conn, sql, False)
    if "ORDER BY" not in sql:
        on, off = sorted(on, key=repr), sorted(off, key=repr)
    assert on == off


def test_values_equal_python(cluster):
    conn, data, _, _ = cluster
    ks = [r[1] for r in data if r[1] is not None]
    got = query(conn, "SELECT COUNT(*), COUNT(k), SUM(k), MIN(k), MAX(k) FROM t", True)
    assert got == [(str(len(data)), str(len(ks)), str(sum(ks)), str(min(ks)), str(max(ks)))]
    groups = {}
    for h, k, d, g, c in data:
        e = groups.setdefault(g, [0, 0])
        e[0] += 1
        e[1] += k or 0
    got = query(conn, "SELECT g, COUNT(*), SUM(k) FROM t GROUP BY g", True)
    want = [("NULL" if g is None else str(g), str(v[0]), str(v[1])) for g, v in groups.items()]
    assert sorted(tuple("NULL" if x is None else x for x in r) for r in got) == sorted(want)
