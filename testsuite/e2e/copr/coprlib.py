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

    def split(self, db, table, handles, timeout=120):
        """Splits the table's rows before each handle of `handles` (copr_split). Returns the
        number of splits done; raises with copr_split's output when one fails."""
        if not self.split_exe or not os.access(self.split_exe, os.X_OK):
            raise RuntimeError("copr_split not executable: %r" % self.split_exe)
        r = subprocess.run([self.split_exe, self.pd_addr, db, table] + [str(h) for h in handles],
                           capture_output=True, text=True, timeout=timeout)
        if r.returncode != 0:
            raise RuntimeError("copr_split failed (%d): %s %s" % (r.returncode, r.stdout,
                                                                 r.stderr))
        return len(re.findall(r"^split at handle", r.stdout, re.M))

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
