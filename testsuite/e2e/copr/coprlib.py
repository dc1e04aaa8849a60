"""coprlib.py — what the coprocessor's differential test (copr_diff.py), its acceptance script
(tools/accept.d/copr) and its benchmark (tools/bench/copr) share: starting a Tessera cluster
(testsuite/lib/cluster.py: pd + 3 kvnodes + 1 sqlnode on free 127.0.0.1 ports) and a private
MariaDB (testsuite/sql/servers.py), splitting a table's rows into regions (copr_split), reading
the kvnodes' /metrics, and loading rows with several connections.

Binaries: TESSERA_PD, TESSERA_KVNODE, TESSERA_SQLNODE and TESSERA_COPR_SPLIT (meson sets them),
or a build directory (`bin_dir`, e.g. build/).
"""
import os
import re
import subprocess
import sys
import threading
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))
sys.path.insert(0, os.path.join(ROOT, "testsuite", "lib"))
sys.path.insert(0, os.path.join(ROOT, "testsuite", "sql"))

from cluster import Cluster  # noqa: E402
from servers import LocalMariaDB  # noqa: E402,F401

import pymysql  # noqa: E402

# The kvnodes' counter of coprocessor response bytes (kvnode metrics, issue #9).
BYTES_METRIC = "tessera_kv_copr_bytes_returned_total"


def binaries(bin_dir=None):
    """(pd, kvnode, sqlnode, copr_split) paths: from bin_dir when given, else from the env."""
    if bin_dir:
        b = os.path.abspath(bin_dir)
        return (os.path.join(b, "pd", "pd"), os.path.join(b, "kvnode", "kvnode"),
                os.path.join(b, "sqlnode", "sqlnode"),
                os.path.join(b, "testsuite", "e2e", "copr", "copr_split"))
    return (os.environ.get("TESSERA_PD"), os.environ.get("TESSERA_KVNODE"),
            os.environ.get("TESSERA_SQLNODE"), os.environ.get("TESSERA_COPR_SPLIT"))


class Tessera:
    """pd + `nkv` kvnodes + one sqlnode (real processes) with the helpers the copr tools need."""

    def __init__(self, bin_dir=None, nkv=3, sql_args=(), kv_args=()):
        pd, kv, sql, self.split_exe = binaries(bin_dir)
        self.cluster = Cluster(pd, kv, sql, nkv=nkv, nsql=1, sql_args=sql_args, kv_args=kv_args)
        self.nkv = nkv
        self.port = self.cluster.sql_ports[0]
        self.pd_addr = self.cluster.pd_addr

    def connect(self, db=None, pushdown=None, **kw):
        c = pymysql.connect(host="127.0.0.1", port=self.port, user="root", database=db,
                            autocommit=True, connect_timeout=30, read_timeout=600, **kw)
        if pushdown is not None:
            with c.cursor() as cur:
                cur.execute("SET tessera_copr_pushdown = %s" % ("ON" if pushdown else "OFF"))
        return c

    def split(self, db, table, handles, attempts=30, timeout=120):
        """Splits the table's rows before each handle of `handles` (copr_split), one split per
        call. A split right after another can fail while the new region elects its leader
        ("retry budget exhausted"): each is tried up to `attempts` times, 1 s apart. Returns the
        number of splits done; raises with copr_split's output when one keeps failing."""
        if not self.split_exe or not os.access(self.split_exe, os.X_OK):
            raise RuntimeError("copr_split not executable: %r" % self.split_exe)
        done = 0
        self.split_retries = 0
        for h in handles:
            for attempt in range(attempts):
                r = subprocess.run([self.split_exe, self.pd_addr, db, table, str(h)],
                                   capture_output=True, text=True, timeout=timeout)
                if r.returncode == 0:
                    done += 1
                    break
                if attempt + 1 == attempts:
                    raise RuntimeError("copr_split at %d failed %d times: %s %s" %
                                       (h, attempts, r.stdout, r.stderr[-2000:]))
                self.split_retries += 1
                time.sleep(1)
        return done

    def wait_readable(self, conn, sql, timeout=60):
        """Runs `sql` until it succeeds (bounded by `timeout` s): right after a split a read can
        fail with 9005 "no region covers the key" until PD knows the new regions. Returns (seconds
        waited, the first error or None); raises the last error after the timeout."""
        t0 = time.time()
        first = None
        while True:
            try:
                with conn.cursor() as cur:
                    cur.execute(sql)
                    cur.fetchall()
                return time.time() - t0, first
            except pymysql.err.MySQLError as e:
                first = first or "%s %s" % (e.args[0], e.args[1] if len(e.args) > 1 else "")
                if time.time() - t0 > timeout:
                    raise
                time.sleep(0.5)

    def kv_status_ports(self):
        ports = []
        for i in range(self.nkv):
            with open(os.path.join(self.cluster.dir, "kv%d.out" % i), errors="replace") as f:
                m = re.search(r"status_port=(\d+)", f.read())
            ports.append(int(m.group(1)))
        return ports

    def kv_metric(self, name):
        """Sum of every sample of metric `name` over the kvnodes' /metrics, or None when no
        kvnode exports it."""
        total, seen = 0.0, False
        for port in self.kv_status_ports():
            body = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port,
                                          timeout=10).read().decode(errors="replace")
            for line in body.splitlines():
                if line.startswith("#"):
                    continue
                m = re.match(r"([A-Za-z_:][A-Za-z0-9_:]*)(\{[^}]*\})?\s+(\S+)", line)
                if m and m.group(1) == name:
                    total += float(m.group(3))
                    seen = True
        return total if seen else None

    def log_tail(self, n=20):
        return self.cluster.log_tail(n)

    def cleanup(self):
        self.cluster.cleanup()


def start_mariadb(attempts=3, **kw):
    """A private MariaDB (servers.LocalMariaDB). mariadb-install-db has been seen to fail on an
    internal temporary table in /tmp while other tests start theirs ("Error on delete of
    '/tmp/#sql-temptable-…'"): tried up to `attempts` times."""
    for attempt in range(attempts):
        try:
            return LocalMariaDB(**kw)
        except Exception:  # noqa: BLE001 — the last one is raised
            if attempt + 1 == attempts:
                raise
            time.sleep(2)


def maria_connect(m, db=None, **kw):
    return pymysql.connect(host="127.0.0.1", port=m.port, user="root", database=db,
                           autocommit=True, connect_timeout=30, read_timeout=600, **kw)


def parallel_insert(connect, table, columns, rows_of, nbatches, workers=4, retries=5):
    """Runs multi-row INSERTs of batches 0..nbatches-1 on `workers` connections (connect() makes
    one). rows_of(i) returns the batch's list of SQL value tuples as text, e.g. "(1,2,'x')".
    A batch that fails with a retryable error (write conflict, lock wait) is retried up to
    `retries` times. Returns the seconds taken; raises the first error that stays."""
    lock = threading.Lock()
    todo = list(range(nbatches))
    errors = []

    def work():
        c = connect()
        try:
            cur = c.cursor()
            while True:
                with lock:
                    if not todo or errors:
                        return
                    i = todo.pop(0)
                sql = "INSERT INTO %s (%s) VALUES %s" % (table, ",".join(columns),
                                                         ",".join(rows_of(i)))
                for attempt in range(retries + 1):
                    try:
                        cur.execute(sql)
                        break
                    except pymysql.err.OperationalError as e:
                        if attempt == retries or e.args[0] not in (1205, 1213, 8002, 9007):
                            with lock:
                                errors.append(e)
                            return
                        time.sleep(0.2 * (attempt + 1))
                    except Exception as e:  # noqa: BLE001 — reported to the caller
                        with lock:
                            errors.append(e)
                        return
        finally:
            c.close()

    t0 = time.time()
    ths = [threading.Thread(target=work) for _ in range(workers)]
    for t in ths:
        t.start()
    for t in ths:
        t.join()
    if errors:
        raise errors[0]
    return time.time() - t0


# ---- the big table of the bytes check and the benchmark --------------------------------------
# t(id INT PRIMARY KEY, k INT NOT NULL, c VARCHAR(40) NOT NULL): k = id * K_MULT mod n, a
# permutation of 0..n-1 (K_MULT is prime and does not divide n unless n is a multiple of it), so
# `k BETWEEN a AND a + n/100 - 1` selects exactly 1 % of the rows wherever a is; k has no index.
K_MULT = 1000003
BIG_DDL = "CREATE TABLE t (id INT PRIMARY KEY, k INT NOT NULL, c VARCHAR(40) NOT NULL)"


def big_k(i, n):
    return (i * K_MULT) % n


def big_rows(first, last, n):
    return ["(%d,%d,'%s')" % (i, big_k(i, n), ("c%08d-" % i) * 3) for i in range(first, last)]


def load_big(tess, db, n, regions, workers=4, batch=2000, log=print):
    """Creates db.t with n rows, split into `regions` regions first (at evenly spaced ids), then
    loaded by `workers` connections with multi-row INSERTs of `batch` rows. Returns
    (load seconds, splits done)."""
    if n % K_MULT == 0:
        raise ValueError("n must not be a multiple of %d" % K_MULT)
    c = tess.connect()
    with c.cursor() as cur:
        cur.execute("DROP DATABASE IF EXISTS " + db)
        cur.execute("CREATE DATABASE " + db)
        cur.execute("USE " + db)
        cur.execute(BIG_DDL)
    step = max(1, n // regions)
    splits = tess.split(db, "t", [1 + step * r for r in range(1, regions)])
    tess.wait_readable(c, "SELECT COUNT(*) FROM t")
    c.close()
    nb = (n + batch - 1) // batch
    secs = parallel_insert(lambda: tess.connect(db=db), "t", ["id", "k", "c"],
                           lambda b: big_rows(1 + b * batch, 1 + min(n, (b + 1) * batch), n),
                           nb, workers=workers)
    log("# loaded %d rows in %.1f s (%.0f rows/s, %d connections, %d rows per INSERT, "
        "%d regions)" % (n, secs, n / secs, workers, batch, splits + 1))
    return secs, splits


def big_queries(n, a=None):
    """The two queries of the bytes check and the benchmark over the big table: the 1 %-selective
    aggregate and the 1 %-selective row scan (k BETWEEN a AND a + n/100 - 1, k not indexed)."""
    a = n // 3 if a is None else a
    b = a + n // 100 - 1
    return [("agg", "SELECT COUNT(*), SUM(k) FROM t WHERE k BETWEEN %d AND %d" % (a, b)),
            ("scan", "SELECT * FROM t WHERE k BETWEEN %d AND %d" % (a, b))]


def measure(tess, conn, sql, runs):
    """Runs sql `runs` times on conn; returns (seconds of each run, kvnode coprocessor bytes of
    the first run or None when the metric is missing, the first run's rows)."""
    times, nbytes, first = [], None, None
    for r in range(runs):
        before = tess.kv_metric(BYTES_METRIC) if r == 0 else None
        t0 = time.perf_counter()
        with conn.cursor() as cur:
            cur.execute(sql)
            rows = cur.fetchall()
        times.append(time.perf_counter() - t0)
        if r == 0:
            after = tess.kv_metric(BYTES_METRIC)
            nbytes = None if before is None or after is None else after - before
            first = rows
    return times, nbytes, first
