"""End-to-end tests of the parallel index backfill and ADMIN CHECK (issue #10) on pd + 3 kvnodes
and one sqlnode (real processes on 127.0.0.1). bf_driver (a C client over the catalog) writes rows
straight to KV without index entries, splits regions, runs sql_ddl_backfill and corrupts index
entries; its `verify` compares an index with its rows entry by entry, independently of ADMIN
CHECK. The ADMIN statements are run through the sqlnode with PyMySQL. Every process is killed at
the end."""
import os
import re
import subprocess
import sys
import time

import pymysql
import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "lib"))
from cluster import Cluster  # noqa: E402

DRIVER = os.environ.get("TESSERA_BF_DRIVER")

SB = ("(id INT PRIMARY KEY, k INT NOT NULL, c VARCHAR(40) NOT NULL, pad CHAR(60) NOT NULL%s)")


@pytest.fixture(scope="module")
def cluster():
    c = Cluster.from_env(nkv=3, nsql=1)
    try:
        yield c
    finally:
        c.cleanup(keep=False)


def run(c, script, timeout=300):
    p = subprocess.Popen([DRIVER, "--pd", c.pd_addr], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        out, err = p.communicate("open\n" + script, timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate()
        raise AssertionError("driver timed out:\n%s\n%s" % (out[-3000:], err[-2000:]))
    lines = out.splitlines()
    bad = [l for l in lines if l.startswith("fail")]
    assert p.returncode == 0 and not bad, "driver failed (%d): %s\n%s" % (p.returncode, out,
                                                                         err[-3000:])
    return lines


def results(lines):
    return [l for l in lines if l.split(" ", 1)[0] in ("ok", "err")]


def ckpts(lines):
    return [(l.split()[1], int(l.split()[2])) for l in lines if l.startswith("ckpt ")]


def field(line, name):
    m = re.search(r"\b%s=(\d+)" % name, line)
    assert m, line
    return int(m.group(1))


def clean(line, rows):
    """A verify line: every row has its entry, nothing else."""
    assert line.startswith("ok "), line
    assert field(line, "rows") == rows and field(line, "entries") == rows, line
    assert field(line, "missing") == 0 and field(line, "wrong") == 0, line
    assert field(line, "extra") == 0, line


def sql(c, db=None):
    return pymysql.connect(host="127.0.0.1", port=c.sql_ports[0], user="root", database=db,
                           autocommit=True)


def test_backfill_over_regions_entry_by_entry(cluster):
    """Three indexes (non-unique, unique, prefix) over 6,000 rows in four regions."""
    out = run(cluster,
              "ddl CREATE DATABASE bf1\nuse bf1\n"
              "ddl CREATE TABLE t %s\n" % (SB % ", KEY kk (k), UNIQUE KEY uc (c), KEY cp (c(3))") +
              "rows bf1 t 1 6000 0\nsplit bf1 t 1500 3000 4500\n"
              "verify bf1 t kk\n"
              "backfill bf1 t kk,uc,cp 4 200\n"
              "verify bf1 t kk\nverify bf1 t uc\nverify bf1 t cp\n"
              "backfill bf1 t kk,uc,cp 3 1000\n"  # again: entries of the same handle are fine
              "verify bf1 t uc\ncheck bf1 t\n")
    res = results(out)
    assert field(res[6], "missing") == 6000, res  # nothing before the backfill
    assert res[7].startswith("ok rows=6000 "), out
    for line in res[8:11]:
        clean(line, 6000)
    assert res[11].startswith("ok rows=6000 "), out
    clean(res[12], 6000)
    assert res[13].startswith("ok"), res
    cps = ckpts(out)
    assert cps and cps[-1][1] == 6000, cps


def test_duplicate_fails_with_1062(cluster):
    out = run(cluster,
              "ddl CREATE DATABASE bf2\nuse bf2\n"
              "ddl CREATE TABLE t %s\n" % (SB % ", UNIQUE KEY uk (k)") +
              "ddl CREATE TABLE u %s\n" % (SB % ", UNIQUE KEY uk (k)") +
              "rows bf2 t 1 2000 50\n"       # duplicates inside one batch
              "rows bf2 u 1 4000 3001\n"     # duplicates only in different batches
              "split bf2 u 2000\n"
              "backfill bf2 t uk 4 1000\n"
              "backfill bf2 u uk 4 64\n")
    res = results(out)
    assert re.match(r"err 1062 Duplicate entry '\d+' for key 't\.uk'$", res[-2]), res
    assert re.match(r"err 1062 Duplicate entry '\d+' for key 'u\.uk'$", res[-1]), res


def test_concurrent_writers_every_entry_right(cluster):
    """Writers insert, update and delete (maintaining the index as DML in write-only does)
    during the backfill: at the end every row has exactly its entries."""
    out = run(cluster,
              "ddl CREATE DATABASE bf3\nuse bf3\n"
              "ddl CREATE TABLE t %s\n" % (SB % ", KEY kk (k), KEY cc (c)") +
              "rows bf3 t 1 12000 1000\nsplit bf3 t 4000 8000\n"
              "backfill bf3 t kk,cc 4 128 writers=4\n"
              "count bf3 t\nverify bf3 t kk\nverify bf3 t cc\ncheck bf3 t\n", timeout=600)
    res = results(out)
    bf = res[-5]
    assert bf.startswith("ok rows="), out
    assert field(bf, "writes") > 50 and field(bf, "errors") == 0, bf
    n = field(res[-4], "rows")
    clean(res[-3], n)
    clean(res[-2], n)
    assert res[-1].startswith("ok"), res


def test_resume_from_checkpoint(cluster):
    """A backfill stopped by its checkpoint callback has every row below the checkpoint done;
    resumed from there it ends with the same entries as a full run."""
    out = run(cluster,
              "ddl CREATE DATABASE bf4\nuse bf4\n"
              "ddl CREATE TABLE t %s\n" % (SB % ", KEY kk (k), UNIQUE KEY uc (c)") +
              "rows bf4 t 1 15000 0\nsplit bf4 t 5000\n"
              "backfill bf4 t kk,uc 1 16 stop=1\n")
    res = results(out)
    assert res[-1].startswith("err 8225 test: stop"), out
    key, rows = ckpts(out)[-1]
    assert 0 < rows < 15000, out
    out2 = run(cluster,
               "verify bf4 t kk upto=%s\nverify bf4 t uc upto=%s\n"
               "backfill bf4 t kk,uc 4 512 from=%s before=%d\n"
               "verify bf4 t kk\nverify bf4 t uc\ncheck bf4 t\n" % (key, key, key, rows))
    res2 = results(out2)
    for line in res2[1:3]:  # the prefix below the checkpoint is complete
        assert field(line, "rows") >= rows and field(line, "missing") == 0, res2
        assert field(line, "wrong") == 0, res2
    assert res2[3] == "ok rows=15000 ms=%d" % field(res2[3], "ms"), out2
    cps = ckpts(out2)
    assert cps[0][1] >= rows and cps[-1][1] == 15000, cps
    clean(res2[4], 15000)
    clean(res2[5], 15000)
    assert res2[6].startswith("ok"), res2


def test_add_index_through_sql(cluster):
    """ALTER TABLE ADD INDEX runs the parallel backfill over a table split into regions; a
    duplicate fails ADD UNIQUE with 1062 and leaves no index."""
    conn = sql(cluster)
    cur = conn.cursor()
    cur.execute("CREATE DATABASE ai")
    cur.execute("USE ai")
    cur.execute("CREATE TABLE t (id INT PRIMARY KEY, k INT NOT NULL, c CHAR(60) NOT NULL)")
    for b in range(0, 3000, 500):
        cur.execute("INSERT INTO t VALUES " + ",".join(
            "(%d,%d,'c%d')" % (i, i % 100, i) for i in range(b + 1, b + 501)))
    assert results(run(cluster, "split ai t 1000 2000\n"))[1:] == ["ok"]
    cur.execute("ALTER TABLE t ADD INDEX ic (c), ADD INDEX ik (k)")
    with pytest.raises(pymysql.err.MySQLError) as ei:
        cur.execute("ALTER TABLE t ADD UNIQUE INDEX uk (k)")
    assert ei.value.args[0] == 1062, ei.value.args
    assert re.match(r"Duplicate entry '\d+' for key 't\.uk'$", ei.value.args[1]), ei.value.args
    cur.execute("SHOW INDEX FROM t")
    assert sorted({r[2] for r in cur.fetchall()}) == ["PRIMARY", "ic", "ik"]
    cur.execute("ADMIN CHECK TABLE t")
    out = results(run(cluster, "verify ai t ic\nverify ai t ik\n"))
    clean(out[1], 3000)
    clean(out[2], 3000)
    cur.execute("SELECT id FROM t WHERE c = 'c1234'")
    assert cur.fetchall() == ((1234,),)
    conn.close()


@pytest.mark.parametrize("kind,index,what", [
    ("delete", "kk", r"row handle 77 has no entry"),
    ("value", "uc", r"entry of row handle 77 holds value"),
    ("value", "kk", r"entry of row handle 77 holds value"),
    ("dangling 99999", "kk", r"points at handle 99999, which has no row"),
    ("key", "kk", r"row handle 77 has no entry"),
])
def test_admin_check_finds_corruption(cluster, kind, index, what):
    db = "ck_%s_%s" % (kind.split()[0], index)
    out = run(cluster,
              "ddl CREATE DATABASE %s\nuse %s\n" % (db, db) +
              "ddl CREATE TABLE t %s\n" % (SB % ", KEY kk (k), UNIQUE KEY uc (c)") +
              "rows %s t 1 3000 0\nsplit %s t 1000\n" % (db, db) +
              "backfill %s t kk,uc 2 500\n" % db +
              "check %s t\ncheck %s t %s\n" % (db, db, index) +
              "corrupt %s t %s 77 %s\n" % (db, index, kind) +
              "check %s t\ncheck %s t %s\n" % (db, db, index) +
              "check %s t %s\n" % (db, "uc" if index == "kk" else "kk"))
    res = results(out)
    assert res[-6].startswith("ok") and res[-5].startswith("ok"), res
    for line in res[-3:-1]:
        assert line.startswith("err 8003 "), res
        assert ("index %s:" % index) in line and re.search(what, line), line
    assert res[-1].startswith("ok"), res  # the other index is intact


def test_admin_statements_through_sql(cluster):
    conn = sql(cluster)
    cur = conn.cursor()
    cur.execute("CREATE DATABASE adm")
    cur.execute("USE adm")
    cur.execute("CREATE TABLE t (id INT PRIMARY KEY, k INT, c VARCHAR(20))")
    cur.execute("CREATE TABLE plain (id INT PRIMARY KEY, v INT)")
    cur.execute("INSERT INTO t VALUES " + ",".join("(%d,%d,'v%d')" % (i, i % 7, i)
                                                   for i in range(1, 301)))
    cur.execute("INSERT INTO plain VALUES (1, 1)")
    cur.execute("CREATE INDEX ik ON t (k)")
    cur.execute("CREATE UNIQUE INDEX uc ON t (c)")
    cur.execute("ADMIN CHECK TABLE t")
    cur.execute("ADMIN CHECK TABLE adm.t, plain")
    cur.execute("ADMIN CHECK INDEX t ik")
    cur.execute("admin check index adm.t uc")
    for stmt, code in [("ADMIN CHECK INDEX t nope", 1176), ("ADMIN CHECK TABLE nope", 1146),
                       ("ADMIN CHECK TABLE t, nope", 1146), ("ADMIN CHECK", 1064),
                       ("ADMIN CHECK TABLE t t", 1064), ("ADMIN CHECK INDEX t", 1064),
                       ("ADMIN SHOW DDL JOBS x", 1064), ("ADMIN CANCEL DDL JOBS", 1064),
                       ("ADMIN CANCEL DDL JOBS 1,", 1064), ("ADMIN FROB", 1235),
                       ("ADMIN FAILPOINT SET 'ddl_owner_pause' 3", 1235),
                       ("ADMIN FAILPOINT CLEAR 'ddl_owner_pause'", 1235),
                       ("ADMIN FAILPOINT SET ddl_owner_pause 3", 1064)]:
        with pytest.raises(pymysql.err.MySQLError) as ei:
            cur.execute(stmt)
        assert ei.value.args[0] == code, (stmt, ei.value.args)
        if code == 1176:
            assert ei.value.args[1] == "Key 'nope' doesn't exist in table 't'"
        if stmt.startswith("ADMIN FAILPOINT SET '"):
            assert "failpoints are not compiled" in ei.value.args[1]
    cur.execute("ADMIN SHOW DDL")
    assert [d[0] for d in cur.description][:2] == ["SCHEMA_VER", "OWNER_ID"], cur.description
    assert len(cur.fetchall()) == 1
    cur.execute("ADMIN SHOW DDL JOBS 3")
    names = [d[0] for d in cur.description]
    assert names[:2] == ["JOB_ID", "DB_NAME"] and "ROW_COUNT" in names, names
    jobs = [dict(zip(names, r)) for r in cur.fetchall()]
    assert len(jobs) == 3, jobs  # the 3 newest finished ones
    assert jobs[0]["TABLE_NAME"] == "t" and jobs[0]["ROW_COUNT"] in (300, "300"), jobs
    cur.execute("ADMIN CANCEL DDL JOBS 123456789")
    assert cur.fetchall()[0][0] in (123456789, "123456789")
    # a broken entry made behind the sqlnode's back: ADMIN CHECK fails with 8003
    out = run(cluster, "corrupt adm t ik 5 delete\n")
    assert results(out)[1:] == ["ok"], out
    for stmt in ["ADMIN CHECK TABLE t", "ADMIN CHECK INDEX t ik"]:
        with pytest.raises(pymysql.err.MySQLError) as ei:
            cur.execute(stmt)
        assert ei.value.args[0] == 8003, ei.value.args
        assert "handle 5" in ei.value.args[1], ei.value.args
    cur.execute("ADMIN CHECK INDEX t uc")  # the other index is fine
    conn.close()
