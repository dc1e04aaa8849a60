"""End-to-end tests of DDL jobs (docs/ddl.md "Jobs"): pd + 3 kvnodes + 2 real sqlnodes on
127.0.0.1. Every DDL statement becomes a job run by the one DDL owner; the statement returns the
job's result once every sqlnode has loaded the new schema. Cases that need failpoints (holding the
owner between states) run a sqlnode built with -Dfailpoints=true (TESSERA_SQLNODE_FP, by default
build-asan's) and are skipped, saying so, when that binary is absent."""
import os
import sys
import threading
import time

import pymysql
import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "lib"))
from cluster import Cluster  # noqa: E402

PD = os.environ.get("TESSERA_PD")
KV = os.environ.get("TESSERA_KVNODE")
SQL = os.environ.get("TESSERA_SQLNODE")
SQL_FP = os.environ.get("TESSERA_SQLNODE_FP", "")


def connect(c, i):
    return pymysql.connect(host="127.0.0.1", port=c.sql_ports[i], user="root", autocommit=True,
                           connect_timeout=10, read_timeout=300)


def q(conn, sql, args=None):
    with conn.cursor() as cur:
        cur.execute(sql, args)
        return cur.fetchall()


def errno_of(conn, sql):
    try:
        q(conn, sql)
    except pymysql.MySQLError as e:
        return e.args[0]
    return 0


def jobs(conn, n=50):
    """ADMIN SHOW DDL JOBS as dicts."""
    with conn.cursor(pymysql.cursors.DictCursor) as cur:
        cur.execute("ADMIN SHOW DDL JOBS %d" % n)
        return cur.fetchall()


@pytest.fixture(scope="module")
def cluster():
    c = Cluster(PD, KV, SQL, nkv=3, nsql=2, sql_args=["--schema-lease", "2s"])
    try:
        yield c
    finally:
        c.cleanup(keep=False)


def test_ddl_seen_by_the_other_node_when_it_returns(cluster):
    a, b = connect(cluster, 0), connect(cluster, 1)
    for i in range(5):
        q(a, "CREATE TABLE test.seen%d (id INT PRIMARY KEY, v INT)" % i)
        # no sleep: the job ended only after every sqlnode loaded the version
        q(b, "INSERT INTO test.seen%d VALUES (1, 1)" % i)
        q(b, "ALTER TABLE test.seen%d ADD INDEX iv (v)" % i)
        plan = " ".join(str(r) for r in q(a, "EXPLAIN SELECT * FROM test.seen%d WHERE v = 1" % i))
        assert "iv" in plan, plan
        assert q(a, "SELECT id FROM test.seen%d WHERE v = 1" % i) == ((1,),)


def test_statement_errors_and_notes_come_back(cluster):
    a, b = connect(cluster, 0), connect(cluster, 1)
    q(a, "CREATE TABLE test.errs (id INT PRIMARY KEY, v INT, KEY iv (v))")
    assert errno_of(b, "CREATE TABLE test.errs (x INT)") == 1050
    assert errno_of(b, "ALTER TABLE test.errs ADD INDEX iv (v)") == 1061
    assert errno_of(b, "ALTER TABLE test.errs DROP INDEX nope") == 1091
    assert errno_of(b, "ALTER TABLE test.nosuch ADD INDEX x (v)") == 1146
    assert errno_of(b, "CREATE DATABASE test") == 1007
    q(b, "CREATE TABLE IF NOT EXISTS test.errs (x INT)")
    w = q(b, "SHOW WARNINGS")
    assert w == (("Note", 1050, "Table 'errs' already exists"),), w
    # failed jobs are in the history with their state
    hist = [j for j in jobs(a) if j["TABLE_NAME"] == "errs"]
    states = sorted(j["STATE"] for j in hist)
    assert "rollback done" in states and "synced" in states, hist


def test_unique_index_with_duplicates_fails_cleanly(cluster):
    a, b = connect(cluster, 0), connect(cluster, 1)
    q(a, "CREATE TABLE test.dup (id INT PRIMARY KEY, v INT)")
    q(a, "INSERT INTO test.dup VALUES " + ",".join("(%d, %d)" % (i, i % 50) for i in range(300)))
    try:
        q(b, "ALTER TABLE test.dup ADD UNIQUE INDEX uv (v)")
        assert False, "expected 1062"
    except pymysql.MySQLError as e:
        assert e.args[0] == 1062 and "for key 'dup.uv'" in e.args[1], e.args
    for conn in (a, b):
        assert all(r[2] != "uv" for r in q(conn, "SHOW INDEX FROM test.dup"))
        plan = " ".join(str(r) for r in q(conn, "EXPLAIN SELECT * FROM test.dup WHERE v = 3"))
        assert "uv" not in plan, plan
    job = [j for j in jobs(a) if j["TABLE_NAME"] == "dup" and j["JOB_TYPE"] == "add index"][0]
    assert job["STATE"] == "rollback done", job
    q(a, "ADMIN CHECK TABLE test.dup")
    # the same index on unique values then works, and the name is free again
    q(a, "DELETE FROM test.dup WHERE id >= 50")
    q(b, "ALTER TABLE test.dup ADD UNIQUE INDEX uv (v)")
    assert errno_of(a, "INSERT INTO test.dup VALUES (1000, 7)") == 1062
    q(a, "ADMIN CHECK TABLE test.dup")


def test_concurrent_ddl_from_both_nodes(cluster):
    a, b = connect(cluster, 0), connect(cluster, 1)
    errors = []

    def worker(i):
        conn = connect(cluster, i % 2)
        try:
            q(conn, "CREATE TABLE test.conc%d (id INT PRIMARY KEY, v INT)" % i)
            q(conn, "INSERT INTO test.conc%d VALUES (1, 2), (2, 3)" % i)
            q(conn, "ALTER TABLE test.conc%d ADD INDEX iv (v)" % i)
            q(conn, "ALTER TABLE test.conc%d DROP INDEX iv" % i)
            q(conn, "DROP TABLE test.conc%d" % i)
        except Exception as e:  # noqa: BLE001
            errors.append((i, e))
        finally:
            conn.close()

    ts = [threading.Thread(target=worker, args=(i,)) for i in range(6)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(300)
    assert not errors, errors
    for conn in (a, b):
        names = [r[0] for r in q(conn, "SHOW TABLES FROM test LIKE 'conc%'")]
        assert names == [], names


def test_show_ddl_names_one_owner(cluster):
    a, b = connect(cluster, 0), connect(cluster, 1)
    ra, rb = q(a, "ADMIN SHOW DDL")[0], q(b, "ADMIN SHOW DDL")[0]
    # SCHEMA_VER, OWNER_ID, OWNER_ADDRESS, RUNNING_JOBS, SELF_ID
    assert ra[1] == rb[1] and ra[1] in (ra[4], rb[4]), (ra, rb)
    assert ra[4] != rb[4]


def test_owner_killed_between_jobs_another_takes_over():
    c = Cluster(PD, KV, SQL, nkv=3, nsql=2, sql_args=["--schema-lease", "2s"])
    try:
        a = connect(c, 0)
        q(a, "CREATE TABLE test.fo (id INT PRIMARY KEY, v INT)")
        owner = q(a, "ADMIN SHOW DDL")[0][1]
        selves = [q(connect(c, i), "ADMIN SHOW DDL")[0][4] for i in range(2)]
        dead = selves.index(owner)
        live = 1 - dead
        p = c.procs.pop("sql%d" % dead)
        p.kill()
        p.wait(10)
        conn = connect(c, live)
        t0 = time.time()
        q(conn, "ALTER TABLE test.fo ADD INDEX iv (v)")
        took = time.time() - t0
        assert took < 60, took
        assert q(conn, "ADMIN SHOW DDL")[0][1] == selves[live]
        q(conn, "ADMIN CHECK TABLE test.fo")
    finally:
        c.cleanup(keep=False)


def fp_cluster():
    if not SQL_FP or not os.access(SQL_FP, os.X_OK):
        pytest.skip("no sqlnode built with failpoints (TESSERA_SQLNODE_FP=%r)" % SQL_FP)
    return Cluster(PD, KV, SQL_FP, nkv=3, nsql=1, sql_args=["--schema-lease", "2s"])


def test_cancel_a_job_held_between_states():
    c = fp_cluster()
    try:
        a = connect(c, 0)
        q(a, "CREATE TABLE test.cx (id INT PRIMARY KEY, v INT)")
        q(a, "INSERT INTO test.cx VALUES (1, 1), (2, 2)")
        ver = q(a, "ADMIN SHOW DDL")[0][0]
        # the owner may take the first two steps (delete-only, write-only), not the third
        q(a, "ADMIN FAILPOINT SET 'ddl_owner_pause' %d" % (ver + 2))
        res = {}

        def alter():
            conn = connect(c, 0)
            try:
                q(conn, "ALTER TABLE test.cx ADD INDEX iv (v)")
                res["rc"] = 0
            except pymysql.MySQLError as e:
                res["rc"] = e.args[0]

        t = threading.Thread(target=alter)
        t.start()
        deadline = time.time() + 60
        job = None
        while time.time() < deadline:
            js = [j for j in jobs(a) if j["TABLE_NAME"] == "cx" and j["JOB_TYPE"] == "add index"]
            if js and js[0]["SCHEMA_STATE"] == "write only":
                job = js[0]
                break
            time.sleep(0.1)
        assert job is not None, jobs(a)
        r = q(a, "ADMIN CANCEL DDL JOBS %d" % job["JOB_ID"])
        assert r == ((job["JOB_ID"], "successful"),), r
        q(a, "ADMIN FAILPOINT CLEAR 'ddl_owner_pause'")
        t.join(60)
        assert res.get("rc") == 8214, res
        assert all(r[2] != "iv" for r in q(a, "SHOW INDEX FROM test.cx"))
        js = [j for j in jobs(a) if j["JOB_ID"] == job["JOB_ID"]]
        assert js and js[0]["STATE"] == "cancelled", js
        again = q(a, "ADMIN CANCEL DDL JOBS %d" % job["JOB_ID"])
        assert "finished" in again[0][1], again
        assert "not found" in q(a, "ADMIN CANCEL DDL JOBS 999999999")[0][1]
        q(a, "ADMIN CHECK TABLE test.cx")
    finally:
        c.cleanup(keep=False)
