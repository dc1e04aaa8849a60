"""End-to-end tests of sqlnode/catalog against a real cluster (pd + 3 kvnodes on 127.0.0.1):
catalog_driver opens catalogs (each with its own KV client, like separate sqlnodes) and runs DDL,
SHOW, AUTO_INCREMENT and index backfills; the checks look at what another catalog loads and at
the KV keys themselves. Every process is killed at the end."""
import os
import re
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "kv"))
from kvcluster import Cluster  # noqa: E402

PD = os.environ.get("TESSERA_PD")
KV = os.environ.get("TESSERA_KVNODE")
DRIVER = os.environ.get("TESSERA_CATALOG_DRIVER")


@pytest.fixture(scope="module")
def cluster():
    c = Cluster(PD, KV, DRIVER, nkv=3)
    try:
        yield c
    finally:
        c.cleanup(keep=False)


def start(c, script):
    return subprocess.Popen([DRIVER, "--pd", c.pd_addr], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(c, p, script, timeout=120):
    try:
        out, err = p.communicate(script, timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate()
        raise AssertionError("driver timed out:\n%s\n%s\n%s" % (out, err[-2000:], c.log_tail(10)))
    lines = out.splitlines()
    bad = [l for l in lines if l.startswith("fail")]
    assert p.returncode == 0 and not bad, "driver failed (%d): %s\n%s" % (p.returncode, out,
                                                                         err[-3000:])
    return lines


def run(c, script, timeout=120):
    return finish(c, start(c, script), script, timeout)


def results(lines):
    """Result lines of commands (ok/err/ids), in order."""
    return [l for l in lines if l.split(" ", 1)[0] in ("ok", "err", "ids")]


def dump(lines):
    """{(db, table): {"id": id, "idx": {name: (id, state, unique)}}} and the version."""
    tables, dbs, version = {}, {}, None
    for l in lines:
        if l.startswith("version "):
            version = int(l.split()[1])
        elif l.startswith("db "):
            _, i, name = l.split()
            dbs[name] = int(i)
        elif l.startswith("table "):
            f = l.split()
            idx = {}
            spec = f[-1][len("idx="):]
            for part in filter(None, spec.split(",")):
                p = part.split(":")
                idx[p[0]] = (int(p[1]), int(p[2]), len(p) > 3)
            tables[(f[1], f[2])] = {"id": int(f[3]), "handle": int(f[4][7:]), "idx": idx}
    return version, dbs, tables


def table_prefix(tid):
    return "74" + "%016x" % (tid ^ (1 << 63))


def index_prefix(tid, iid):
    return table_prefix(tid) + "5f69" + "%016x" % (iid ^ (1 << 63))


def queued(lines):
    return {l.split()[1]: l.split()[2] for l in lines if l.startswith("range ")}


def test_bootstrap_once_from_two_nodes(cluster):
    """Two catalogs opening a fresh cluster at once: one bootstrap, version 1, test and mysql."""
    script = "open A 200\ndump A\n"
    ps = [start(cluster, script) for _ in range(2)]
    outs = [finish(cluster, p, script) for p in ps]
    views = [dump(o) for o in outs]
    for version, dbs, tables in views:
        assert version == 1, outs
        assert sorted(dbs) == ["mysql", "test"]
        assert tables == {}
    assert views[0][1] == views[1][1]  # the same database ids: created once


def test_sysbench_ddl_seen_by_another_node(cluster):
    create = ("CREATE TABLE sbtest1( id INTEGER NOT NULL AUTO_INCREMENT, k INTEGER DEFAULT '0' "
              "NOT NULL, c CHAR(120) DEFAULT '' NOT NULL, pad CHAR(60) DEFAULT '' NOT NULL, "
              "PRIMARY KEY (id) ) /*! ENGINE = innodb */")
    out = run(cluster, "open A\nddl A CREATE DATABASE sbtest\nuse A sbtest\nddl A %s\n"
                       "ddl A CREATE INDEX k_1 ON sbtest1(k)\n"
                       "open B\nuse B sbtest\nshow B SHOW CREATE TABLE sbtest1\n"
                       "show B SHOW TABLES\nshow B SHOW INDEX FROM sbtest1\ndump A\ndump B\n"
              % create)
    res = results(out)
    assert res[1].startswith("ok affected=1"), out      # CREATE DATABASE
    assert res[3] == "ok affected=0 warnings=0", out    # CREATE TABLE
    assert res[4] == "ok affected=0 warnings=0", out    # CREATE INDEX (backfill of no rows)
    rows = [l for l in out if l.startswith("row ")]
    assert rows[0] == ("row sbtest1|CREATE TABLE `sbtest1` (\\n"
                       "  `id` int NOT NULL AUTO_INCREMENT,\\n"
                       "  `k` int NOT NULL DEFAULT '0',\\n"
                       "  `c` char(120) NOT NULL DEFAULT '',\\n"
                       "  `pad` char(60) NOT NULL DEFAULT '',\\n"
                       "  PRIMARY KEY (`id`),\\n"
                       "  KEY `k_1` (`k`)\\n"
                       ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin"), out
    assert "cols Tables_in_sbtest" in out
    assert rows[1] == "row sbtest1"
    assert rows[2].startswith("row sbtest1|0|PRIMARY|1|id|")
    assert rows[3].startswith("row sbtest1|1|k_1|1|k|")
    dumps = [i for i, l in enumerate(out) if l.startswith("version ")]
    va, _, ta = dump(out[dumps[0]:dumps[1]])
    vb, _, tb = dump(out[dumps[1]:])
    assert va == vb and ta == tb, out
    t = ta[("sbtest", "sbtest1")]
    assert t["handle"] == 0 and t["idx"]["k_1"][1] == 5  # clustered id; k_1 PUBLIC


def test_poll_thread_brings_other_nodes_ddl(cluster):
    out = run(cluster, "open A 100\nopen B 100\ndump B\nddl A CREATE DATABASE polled\n"
                       "dump A\n")
    dumps = [i for i, l in enumerate(out) if l.startswith("version ")]
    vb, dbs_b, _ = dump(out[dumps[0]:dumps[1]])
    va, dbs_a, _ = dump(out[dumps[1]:])
    assert va == vb + 1 and "polled" in dbs_a and "polled" not in dbs_b
    # B learns it from its poll thread (no DDL ran on B)
    out = run(cluster, "open B 100\nopen C 100\nddl B CREATE DATABASE polled2\n"
                       "wait C %d 5000\nshow C SHOW DATABASES LIKE 'poll%%'\n" % (va + 1))
    res = results(out)
    assert res[3].startswith("ok version="), out
    assert [l for l in out if l.startswith("row ")] == ["row polled", "row polled2"]


def test_ids_never_reused(cluster):
    out = run(cluster, "open A\nuse A test\n"
                       "ddl A CREATE TABLE r (id INT PRIMARY KEY, a INT, KEY (a), UNIQUE (a))\n"
                       "dump A\nddl A DROP TABLE r\n"
                       "ddl A CREATE TABLE r (id INT PRIMARY KEY, a INT, KEY (a), UNIQUE (a))\n"
                       "dump A\nddl A TRUNCATE TABLE r\ndump A\n"
                       "ddl A DROP DATABASE IF EXISTS gone\n"
                       "ddl A CREATE DATABASE gone\nuse A gone\nddl A CREATE TABLE g1 (a INT)\n"
                       "ddl A CREATE TABLE g2 (a INT)\ndump A\nddl A DROP DATABASE gone\n"
                       "ddl A CREATE DATABASE gone\ndump A\ngcqueue A\n")
    dumps = [i for i, l in enumerate(out) if l.startswith("version ")]
    seen = set()
    versions = []
    for k in range(3):
        v, _, tables = dump(out[dumps[k]:dumps[k + 1]])
        versions.append(v)
        t = tables[("test", "r")]
        ids = [t["id"]] + [x[0] for x in t["idx"].values()]
        if k < 2:  # create: new table and index ids
            assert not (set(ids) & seen), (ids, seen)
            seen |= set(ids)
        else:  # truncate: a new table id, the same index ids
            assert t["id"] not in seen
    assert versions[0] < versions[1] < versions[2]
    res = results(out)
    warn = [l for l in res if "warn=1008" in l]
    assert len(warn) == 1, res
    assert "ok affected=2 warnings=0" in res, res  # DROP DATABASE of two tables
    _, dbs_before, t_gone = dump(out[dumps[3]:dumps[4]])
    _, dbs, t_after = dump(out[dumps[4]:])
    assert "gone" in dbs and dbs["gone"] != dbs_before["gone"]  # a new database id
    assert not [k for k in t_after if k[0] == "gone"]
    # every dropped table's keys were queued for the GC worker in the dropping transaction:
    # the first r (DROP TABLE), the second r's old id (TRUNCATE), g1 and g2 (DROP DATABASE)
    q = queued(out)
    _, _, t0 = dump(out[dumps[0]:dumps[1]])
    _, _, t1 = dump(out[dumps[1]:dumps[2]])
    for tid in (t0[("test", "r")]["id"], t1[("test", "r")]["id"], t_gone[("gone", "g1")]["id"],
                t_gone[("gone", "g2")]["id"]):
        assert table_prefix(tid) in q, (tid, q)
    assert table_prefix(t_after[("test", "r")]["id"]) not in q


def test_autoid_batches_unique_across_nodes(cluster):
    run(cluster, "open A\nuse A test\nddl A CREATE TABLE ai (id BIGINT AUTO_INCREMENT PRIMARY "
                 "KEY, v INT)\n")
    script = "open A 1000 100\nautoid A test ai 1500\n"
    ps = [start(cluster, script) for _ in range(2)]
    outs = [finish(cluster, p, script) for p in ps]
    seqs = []
    for o in outs:
        ids = [int(x) for x in [l for l in o if l.startswith("ids")][0].split()[1:]]
        assert len(ids) == 1500
        assert all(b > a for a, b in zip(ids, ids[1:])), "not increasing per node"
        seqs.append(ids)
    assert not set(seqs[0]) & set(seqs[1]), "two nodes handed out the same value"
    assert min(seqs[0] + seqs[1]) == 1


def test_autoid_rebase_start_and_truncate(cluster):
    out = run(cluster, "open A 1000 10\nuse A test\n"
                       "ddl A CREATE TABLE rb (id INT AUTO_INCREMENT PRIMARY KEY) "
                       "AUTO_INCREMENT=100\n"
                       "autoid A test rb 2\nrebase A test rb 105\nautoid A test rb 1\n"
                       "rebase A test rb 5000\nautoid A test rb 2\n"
                       "open B 1000 10\nautoid B test rb 1\n"
                       "hold A\nddl A TRUNCATE rb\nautoid A test rb 1\n"
                       "autoid A test rb 1 held\n"
                       "ddl A CREATE TABLE rx (id INT AUTO_INCREMENT PRIMARY KEY)\n"
                       "rebase A test rx 1\nrebase A test rx 2\nrebase A test rx 3\n"
                       "autoid A test rx 1\nshow A SHOW CREATE TABLE rx\n"
                       "show A SHOW TABLE STATUS LIKE 'rx'\n"
                       "ddl A ALTER TABLE rx AUTO_INCREMENT = 1000\nautoid A test rx 1\n"
                       "ddl A ALTER TABLE rx AUTO_INCREMENT = 10\nautoid A test rx 1\n")
    ids = [[int(x) for x in l.split()[1:]] for l in out if l.startswith("ids")]
    assert ids[0] == [100, 101]
    assert ids[1] == [106]
    assert ids[2] == [5001, 5002]
    assert ids[3][0] > 5002  # another node: above the rebased base
    assert ids[4] == [100]   # TRUNCATE: a new table, the counter starts again
    # the old definition (a snapshot from before TRUNCATE) gets no values and leaves no key
    assert [l for l in out if l.startswith("err ")][0].startswith("err 8028 "), out
    assert ids[6] == [4]     # explicit 1, 2, 3 then the next value
    # SHOW reports the allocator's next value (above everything handed out, as TiDB does)
    rows = [l for l in out if l.startswith("row ")]
    m = re.search(r"AUTO_INCREMENT=(\d+) DEFAULT", rows[0])
    assert m and int(m.group(1)) > 4, rows
    assert rows[1].split("|")[10] == m.group(1), rows
    assert ids[7] == [1000]  # ALTER TABLE … AUTO_INCREMENT = 1000
    assert ids[8][0] > 1000  # a lower value is ignored


def test_backfill_and_unique_violation(cluster):
    out = run(cluster, "open A\nuse A test\n"
                       "ddl A CREATE TABLE bf (id INT PRIMARY KEY, k INT, s VARCHAR(20))\n"
                       "rows A test bf 1200 7\n"
                       "ddl A CREATE INDEX ik ON bf (k, s)\n"
                       "checkindex A test bf ik\n"
                       "ddl A CREATE UNIQUE INDEX uk ON bf (k)\n"
                       "dump A\n"
                       "ddl A ALTER TABLE bf ADD UNIQUE INDEX uid (id, k), ADD INDEX sp (s(2))\n"
                       "checkindex A test bf uid\ncheckindex A test bf sp\n"
                       "ddl A CREATE TABLE hb (a INT, b VARCHAR(10))\n"
                       "rows A test hb 700 0\n"
                       "ddl A ALTER TABLE hb ADD UNIQUE (b)\n"
                       "checkindex A test hb b\n"
                       "ddl A DROP INDEX ik ON bf\ndump A\ngcqueue A\n", timeout=300)
    res = results(out)
    assert res[4] == "ok affected=0 warnings=0", res   # CREATE INDEX ik
    assert res[5] == "ok entries=1200", res
    assert res[6].startswith("err 1062 Duplicate entry '"), res
    assert "for key 'bf.uk'" in res[6]
    dumps = [i for i, l in enumerate(out) if l.startswith("version ")]
    _, _, t1 = dump(out[dumps[0]:dumps[1]])
    assert set(t1[("test", "bf")]["idx"]) == {"ik"}  # the failed unique index is gone
    assert res[9] == "ok entries=1200" and res[10] == "ok entries=1200", res
    assert res[14] == "ok entries=700", res
    _, _, t2 = dump(out[dumps[1]:])
    assert set(t2[("test", "bf")]["idx"]) == {"uid", "sp"}
    # the dropped index's entries are queued for deletion, the others are not
    q = queued(out)
    tid = t1[("test", "bf")]["id"]
    assert index_prefix(tid, t1[("test", "bf")]["idx"]["ik"][0]) in q, q
    for name, (iid, _, _) in t2[("test", "bf")]["idx"].items():
        assert index_prefix(tid, iid) not in q
    assert all(x[1] == 5 for x in t2[("test", "bf")]["idx"].values())


def test_errors(cluster):
    out = run(cluster, "open A\n"
                       "ddl A CREATE TABLE nodb (a INT)\n"
                       "use A test\n"
                       "ddl A CREATE DATABASE test\n"
                       "ddl A CREATE DATABASE IF NOT EXISTS test\n"
                       "ddl A DROP DATABASE nosuch\n"
                       "ddl A CREATE TABLE nosuch.t (a INT)\n"
                       "ddl A CREATE TABLE e1 (a INT, b INT)\n"
                       "ddl A CREATE TABLE e1 (a INT)\n"
                       "ddl A CREATE TABLE IF NOT EXISTS e1 (a INT)\n"
                       "ddl A DROP TABLE e1, nosuch\n"
                       "ddl A DROP TABLE IF EXISTS nosuch\n"
                       "ddl A TRUNCATE nosuch\n"
                       "ddl A DROP INDEX nosuch ON e1\n"
                       "ddl A CREATE INDEX a ON e1 (a)\n"
                       "ddl A CREATE INDEX a ON e1 (b)\n"
                       "ddl A ALTER TABLE e1 ALTER COLUMN a SET DEFAULT 1\n"
                       "ddl A CREATE TABLE e2 (a INT AUTO_INCREMENT)\n"
                       "ddl A RENAME TABLE e1 TO e3, e3 TO e4\n"
                       "ddl A CREATE TABLE e5 LIKE e4\n"
                       "show A SHOW TABLES LIKE 'e%'\n"
                       "show A SHOW COLUMNS FROM nosuch\n"
                       "ddl A ALTER TABLE e4 ADD KEY kb (b), RENAME INDEX kb TO kb2, "
                       "COMMENT 'hello' ENGINE=InnoDB\n"
                       "ddl A ALTER TABLE e4 RENAME KEY nosuch TO x\n"
                       "ddl A ALTER TABLE e4 RENAME TO e6\n"
                       "ddl A ALTER TABLE e6 DISABLE KEYS\n"
                       "show A SHOW CREATE TABLE e6\n")
    res = results(out)
    codes = [int(l.split()[1]) if l.startswith("err") else 0 for l in res]
    assert codes[1] == 1046, res  # no database selected
    assert codes[3] == 1007 and codes[4] == 0 and "warn=1007" in res[4], res
    assert codes[5] == 1008 and codes[6] == 1049, res
    assert codes[7] == 0 and codes[8] == 1050 and "warn=1050" in res[9], res
    assert codes[10] == 1051 and "warn=1051" in res[11], res
    assert codes[12] == 1146 and codes[13] == 1091, res
    assert codes[14] == 0 and codes[15] == 1061 and codes[16] == 1235 and codes[17] == 1075, res
    assert codes[18] == 0 and codes[19] == 0, res
    rows = [l for l in out if l.startswith("row ")]
    assert rows[:2] == ["row e4", "row e5"], out  # e1 (still there after the failed DROP) renamed
    assert codes[21] == 1146, res
    assert codes[22] == 0 and codes[23] == 1176 and codes[24] == 0 and codes[25] == 0, res
    assert res[25] == "ok affected=0 warnings=0", res
    create = [l for l in out if l.startswith("row e6|")][0]
    assert "KEY `kb2` (`b`)" in create and "COMMENT='hello'" in create, create


def test_concurrent_ddl_from_two_nodes(cluster):
    """Two nodes creating and dropping tables at once: every DDL lands once (conflicts on the
    version key are retried), versions strictly increase, both nodes end with the same schema."""
    run(cluster, "open A\nddl A CREATE DATABASE conc\n")
    scripts = []
    for node in ("A", "B"):
        lines = ["open %s 100" % node, "use %s conc" % node]
        for i in range(15):
            lines.append("ddl %s CREATE TABLE %s%d (id INT PRIMARY KEY, v INT, KEY (v))"
                         % (node, node.lower(), i))
        for i in range(0, 15, 3):
            lines.append("ddl %s DROP TABLE %s%d" % (node, node.lower(), i))
        lines.append("reload %s" % node)
        lines.append("dump %s" % node)
        scripts.append("\n".join(lines) + "\n")
    ps = [start(cluster, s) for s in scripts]
    outs = [finish(cluster, p, s, timeout=300) for p, s in zip(ps, scripts)]
    for o in outs:
        assert all(l.startswith("ok") for l in results(o)), o
    out = run(cluster, "open C\ndump C\n")
    _, _, tables = dump(out)
    names = sorted(n for (d, n) in tables if d == "conc")
    want = sorted("%s%d" % (p, i) for p in "ab" for i in range(15) if i % 3 != 0)
    assert names == want
    ids = [t["id"] for (d, n), t in tables.items() if d == "conc"]
    assert len(set(ids)) == len(ids)


def test_rename_across_databases_keeps_the_counter(cluster):
    out = run(cluster, "open A 1000 10\nddl A CREATE DATABASE ra\nddl A CREATE DATABASE rb\n"
                       "use A ra\nddl A CREATE TABLE mv (id INT AUTO_INCREMENT PRIMARY KEY)\n"
                       "autoid A ra mv 3\nddl A RENAME TABLE ra.mv TO rb.mv2\n"
                       "open B 1000 10\nautoid B rb mv2 1\nshow B SHOW TABLES FROM ra\n"
                       "show B SHOW TABLES FROM rb\ndump B\n")
    ids = [[int(x) for x in l.split()[1:]] for l in out if l.startswith("ids")]
    assert ids[0] == [1, 2, 3]
    assert ids[1][0] > 10  # the allocator moved with the table: a new node starts above A's batch
    rows = [l for l in out if l.startswith("row ")]
    assert rows == ["row mv2"], out
    _, _, tables = dump(out)
    assert ("rb", "mv2") in tables and ("ra", "mv") not in tables
