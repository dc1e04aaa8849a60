"""ddllib.py — what the online-DDL tests (ddl_random.py, ddl_owner_kill.py), tools/accept.d/ddl
and tools/bench/ddl share: a cluster of pd + 3 kvnodes + 2 sqlnodes (testsuite/lib/cluster.py,
real processes, free 127.0.0.1 ports), the ADMIN statements of docs/ddl.md, sysbench's sbtest1
loaded fast over both sqlnodes, and sysbench runs against both nodes.

Binaries: a build directory (bin_dir, e.g. build/) or TESSERA_PD / TESSERA_KVNODE /
TESSERA_SQLNODE (meson sets them); `sqlnode` overrides the sqlnode binary alone (the plant build
and the failpoint build build only the sqlnode).

Every wait is bounded (a timeout in seconds); cleanup() kills every process started.
"""
import os
import re
import signal
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))
sys.path.insert(0, os.path.join(ROOT, "testsuite", "lib"))
sys.path.insert(0, os.path.join(ROOT, "testsuite", "e2e", "copr"))

from cluster import Cluster  # noqa: E402
import coprlib  # noqa: E402,F401  (parallel_insert, start_mariadb, maria_connect)

import pymysql  # noqa: E402

# Errors a statement of the random workload may legitimately get: a duplicate key, and a write
# conflict or a schema change under the transaction (1213, DESIGN.md §8).
OK_ERRORS = (1062, 1213)
# Error of ADMIN CHECK on an inconsistency (docs/ddl.md) and of a statement not built yet.
ER_ADMIN_CHECK = 8003


def _sigterm(signum, frame):
    # `timeout` and meson send SIGTERM: unwind so every finally block kills its processes
    raise SystemExit("killed by signal %d" % signum)


signal.signal(signal.SIGTERM, _sigterm)


def log(msg):
    print("# " + msg.replace("\n", "\n# "), flush=True)


def binaries(bin_dir=None, sqlnode=None):
    if bin_dir:
        b = os.path.abspath(bin_dir)
        pd, kv, sql = (os.path.join(b, "pd", "pd"), os.path.join(b, "kvnode", "kvnode"),
                       os.path.join(b, "sqlnode", "sqlnode"))
    else:
        pd, kv, sql = (os.environ.get("TESSERA_PD"), os.environ.get("TESSERA_KVNODE"),
                       os.environ.get("TESSERA_SQLNODE"))
    return pd, kv, sqlnode or sql


class DDLCluster:
    """pd + nkv kvnodes + nsql sqlnodes with a short schema lease."""

    def __init__(self, bin_dir=None, sqlnode=None, nkv=3, nsql=2, lease="2s", sql_args=(),
                 env_failpoints=None):
        pd, kv, sql = binaries(bin_dir, sqlnode)
        self.sql_exe = sql
        self.split_exe = None
        if bin_dir:
            self.split_exe = os.path.join(os.path.abspath(bin_dir), "testsuite", "e2e", "copr",
                                          "copr_split")
        elif os.environ.get("TESSERA_COPR_SPLIT"):
            self.split_exe = os.environ["TESSERA_COPR_SPLIT"]
        old = os.environ.get("TESSERA_FAILPOINTS")
        if env_failpoints:
            os.environ["TESSERA_FAILPOINTS"] = env_failpoints
        try:
            self.c = Cluster(pd, kv, sql, nkv=nkv, nsql=nsql,
                             sql_args=["--schema-lease", lease] + list(sql_args))
        finally:
            if env_failpoints:
                if old is None:
                    del os.environ["TESSERA_FAILPOINTS"]
                else:
                    os.environ["TESSERA_FAILPOINTS"] = old
        self.nsql = nsql

    @property
    def ports(self):
        return [self.c.sql_ports[i] for i in sorted(self.c.sql_ports)]

    def connect(self, i, db=None, read_timeout=120, **kw):
        return pymysql.connect(host="127.0.0.1", port=self.c.sql_ports[i], user="root",
                               database=db, autocommit=True, connect_timeout=20,
                               read_timeout=read_timeout, write_timeout=60, **kw)

    def alive(self, i):
        p = self.c.procs.get("sql%d" % i)
        return p is not None and p.poll() is None

    def kill9_sql(self, i):
        p = self.c.procs.pop("sql%d" % i)
        p.send_signal(signal.SIGKILL)
        p.wait(10)

    def split(self, db, table, handles, attempts=10, timeout=30, total=240):
        """Splits table's rows before each handle (copr_split, at most `attempts` tries of
        `timeout` s each, `total` s in all); returns the splits done."""
        if not self.split_exe or not os.access(self.split_exe, os.X_OK):
            return 0
        done = 0
        end = time.time() + total
        for h in handles:
            for attempt in range(attempts):
                left = end - time.time()
                if left <= 1:
                    raise RuntimeError("copr_split: %d of %d splits done in %d s" %
                                       (done, len(handles), total))
                try:
                    r = subprocess.run([self.split_exe, self.c.pd_addr, db, table, str(h)],
                                       capture_output=True, text=True,
                                       timeout=min(timeout, left))
                except subprocess.TimeoutExpired:
                    continue
                if r.returncode == 0:
                    done += 1
                    break
                if attempt + 1 == attempts:
                    raise RuntimeError("copr_split at %d failed: %s %s" %
                                       (h, r.stdout, r.stderr[-1000:]))
                time.sleep(1)
        return done

    def log_tail(self, n=30):
        return self.c.log_tail(n)

    def cleanup(self, keep=False):
        self.c.cleanup(keep=keep)


# ---- ADMIN statements (docs/ddl.md) -----------------------------------------------------------

def query(conn, sql, args=None):
    with conn.cursor() as cur:
        cur.execute(sql, args)
        cols = [d[0].upper() for d in cur.description] if cur.description else []
        return cols, list(cur.fetchall())


def show_ddl(conn):
    """ADMIN SHOW DDL as a dict (SCHEMA_VER, OWNER_ID, OWNER_ADDRESS, RUNNING_JOBS, SELF_ID)."""
    cols, rows = query(conn, "ADMIN SHOW DDL")
    return dict(zip(cols, rows[0])) if rows else {}


def schema_ver(conn):
    return int(show_ddl(conn)["SCHEMA_VER"])


def show_jobs(conn, n=10):
    cols, rows = query(conn, "ADMIN SHOW DDL JOBS %d" % n)
    return [dict(zip(cols, r)) for r in rows]


def job_of(conn, table, jtype=None):
    """The newest job of `table` (JOB_TYPE containing jtype when given), or None."""
    best = None
    for j in show_jobs(conn, 20):
        if str(j.get("TABLE_NAME", "")).lower() != table.lower():
            continue
        if jtype and jtype not in str(j.get("JOB_TYPE", "")).lower():
            continue
        if best is None or int(j["JOB_ID"]) > int(best["JOB_ID"]):
            best = j
    return best


def fp_set(conn, name, value):
    with conn.cursor() as cur:
        cur.execute("ADMIN FAILPOINT SET '%s' %d" % (name, value))


def fp_clear(conn, name):
    with conn.cursor() as cur:
        cur.execute("ADMIN FAILPOINT CLEAR '%s'" % name)


def admin_check(conn, table, index=None):
    """(True, None) when ADMIN CHECK TABLE/INDEX passes, (False, message) on 8003; other errors
    are raised."""
    sql = "ADMIN CHECK TABLE %s" % table if index is None else \
        "ADMIN CHECK INDEX %s %s" % (table, index)
    try:
        query(conn, sql)
        return True, None
    except pymysql.err.MySQLError as e:
        if e.args and e.args[0] == ER_ADMIN_CHECK:
            return False, "%s %s" % (e.args[0], e.args[1] if len(e.args) > 1 else "")
        raise


def wait_until(what, fn, timeout, interval=0.1):
    """Calls fn() until it returns a true value (returned) or timeout s pass (RuntimeError)."""
    end = time.time() + timeout
    last = None
    while True:
        try:
            v = fn()
            if v:
                return v
        except pymysql.err.MySQLError as e:
            last = e
        if time.time() > end:
            raise RuntimeError("timeout (%ss) waiting for %s%s" %
                               (timeout, what, "; last error %r" % (last,) if last else ""))
        time.sleep(interval)


class Statement(threading.Thread):
    """One statement run on its own connection in the background (the ALTER under test):
    .result is None until done, then ("ok", seconds) or ("error", exception, seconds)."""

    def __init__(self, connect, sql, timeout=3600):
        super().__init__(daemon=True)
        self.connect, self.sql, self.timeout = connect, sql, timeout
        self.result = None
        self.t0 = None

    def run(self):
        self.t0 = time.time()
        try:
            c = self.connect(read_timeout=self.timeout)
            try:
                with c.cursor() as cur:
                    cur.execute(self.sql)
            finally:
                c.close()
            self.result = ("ok", time.time() - self.t0)
        except Exception as e:  # noqa: BLE001 — reported by the caller
            self.result = ("error", e, time.time() - self.t0)

    def wait(self, timeout):
        self.join(timeout)
        if self.is_alive():
            raise RuntimeError("timeout (%ss) waiting for %r" % (timeout, self.sql))
        return self.result


# ---- sysbench's sbtest1 --------------------------------------------------------------------

SBTEST_DDL = ("CREATE TABLE sbtest1 (id INTEGER NOT NULL AUTO_INCREMENT, "
              "k INTEGER DEFAULT '0' NOT NULL, c CHAR(120) DEFAULT '' NOT NULL, "
              "pad CHAR(60) DEFAULT '' NOT NULL, PRIMARY KEY (id))")
SBTEST_INDEX = "CREATE INDEX k_1 ON sbtest1 (k)"


def _digits(x, groups):
    """sysbench-like text: `groups` groups of 11 digits joined by '-' (deterministic in x)."""
    out = []
    for g in range(groups):
        x = (x * 6364136223846793005 + 1442695040888963407) & ((1 << 64) - 1)
        out.append("%011d" % ((x >> 20) % 100000000000))
    return "-".join(out)


def sbtest_rows(first, last, n):
    return ["(%d,%d,'%s','%s')" % (i, (i * 7919) % n + 1, _digits(i, 10), _digits(i + n, 5))
            for i in range(first, last)]


def load_sbtest(connects, db, n, regions=8, batch=2000, workers_per_node=2, split_db=None,
                split=None):
    """Creates db.sbtest1 (sysbench's schema and k index) with n rows: split into `regions`
    regions first when split is given (split(db, table, handles)), then multi-row INSERTs of
    `batch` rows over every connect function in `connects` (one per node) with
    workers_per_node connections each. Returns (seconds, splits)."""
    c = connects[0]()
    with c.cursor() as cur:
        cur.execute("DROP DATABASE IF EXISTS " + db)
        cur.execute("CREATE DATABASE " + db)
        cur.execute("USE " + db)
        cur.execute(SBTEST_DDL)
        cur.execute(SBTEST_INDEX)
    c.close()
    # every node must know the table before loading through it (a node loads new schema
    # versions by polling)
    for k, conn_of in enumerate(connects):
        ck = conn_of()
        try:
            wait_until("node %d to see %s.sbtest1" % (k, db),
                       lambda: query(ck, "SELECT COUNT(*) FROM %s.sbtest1" % db), 60)
        finally:
            ck.close()
    splits = 0
    if split is not None and regions > 1:
        step = max(1, n // regions)
        splits = split(db, "sbtest1", [1 + step * r for r in range(1, regions)])
    nb = (n + batch - 1) // batch
    # Batches are dealt round robin to the nodes: each node's workers take batches b with
    # b % len(connects) == its number.
    t0 = time.time()
    errs = []

    def node_load(k):
        mine = [b for b in range(nb) if b % len(connects) == k]
        try:
            coprlib.parallel_insert(
                lambda: connects[k](db), "sbtest1", ["id", "k", "c", "pad"],
                lambda j: sbtest_rows(1 + mine[j] * batch, 1 + min(n, (mine[j] + 1) * batch), n),
                len(mine), workers=workers_per_node)
        except Exception as e:  # noqa: BLE001
            errs.append(e)

    ths = [threading.Thread(target=node_load, args=(k,)) for k in range(len(connects))]
    for t in ths:
        t.start()
    for t in ths:
        t.join()
    if errs:
        raise errs[0]
    secs = time.time() - t0
    c = connects[0]()
    try:
        _, r = query(c, "SELECT COUNT(*) FROM %s.sbtest1" % db)
    finally:
        c.close()
    if r[0][0] != n:
        raise RuntimeError("sbtest1 has %d rows after loading %d" % (r[0][0], n))
    return secs, splits


class Sysbench(threading.Thread):
    """sysbench oltp_read_write against every (host, port) of `ports` (comma-separated lists),
    default error handling, --time s; .rc, .out, .stats after join."""

    def __init__(self, ports, db="sbtest", threads=16, seconds=60, table_size=1000000,
                 workload="oltp_read_write", report_interval=0):
        super().__init__(daemon=True)
        self.args = ["sysbench", workload, "--db-driver=mysql",
                     "--mysql-host=" + ",".join("127.0.0.1" for _ in ports),
                     "--mysql-port=" + ",".join(str(p) for p in ports),
                     "--mysql-user=root", "--mysql-db=" + db, "--tables=1",
                     "--table-size=%d" % table_size, "--threads=%d" % threads,
                     "--time=%d" % seconds, "--report-interval=%d" % report_interval,
                     "--percentile=95", "run"]
        self.seconds = seconds
        self.rc, self.out, self.stats = None, "", {}
        self.proc = None

    def run(self):
        self.proc = subprocess.Popen(self.args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     text=True, start_new_session=True)
        try:
            self.out, _ = self.proc.communicate(timeout=self.seconds + 180)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.out, _ = self.proc.communicate(timeout=30)
            self.out += "\n(sysbench killed: timeout)"
        self.rc = self.proc.returncode
        self.stats = parse_sysbench(self.out)

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def parse_sysbench(out):
    def num(pattern):
        m = re.search(pattern, out)
        return float(m.group(1)) if m else None
    return {"transactions": num(r"transactions:\s+(\d+)"),
            "tps": num(r"transactions:\s+\d+\s+\(([\d.]+) per sec"),
            "qps": num(r"queries:\s+\d+\s+\(([\d.]+) per sec"),
            "ignored": num(r"ignored errors:\s+(\d+)"),
            "p95": num(r"95th percentile:\s+([\d.]+)")}


def explain_uses(conn, sql, index):
    """Whether EXPLAIN of sql mentions `index` (any column of any row), and the plan text."""
    cols, rows = query(conn, "EXPLAIN " + sql)
    text = " | ".join(" ".join(str(x) for x in r) for r in rows)
    return re.search(r"\b%s\b" % re.escape(index), text) is not None, text
