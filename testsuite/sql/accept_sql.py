#!/usr/bin/python3
"""accept_sql.py — the SQL issue's acceptance checks with sysbench against a real cluster.

--size full (tools/accept.d/sql): each of the six OLTP workloads exactly as the issue writes it
  (4 tables x 10,000 rows, 16 threads, 60 s, sysbench's default error handling): prepare, run,
  cleanup; 40,000 rows after read_write; SUM(k) grows by the number of transactions sysbench
  reports for update_index; a second read_write run during which the kvnode leading the most
  regions is killed -9 (restarted 5 s later): the run completes and no committed row is lost;
  a two-session snapshot-isolation check. Prints `ROW<TAB>check<TAB>held|FAILED<TAB>figures`.
--size small (the e2e suite): 2 tables x 1,000 rows, 2 threads, 5 s: read_write and its row
  count, update_index and its SUM(k), the snapshot-isolation check. Prints TAP.

The cluster is a playground (tools/playground on free ports, --restart-dead 5 so the killed
kvnode comes back; any other death is reported as a failure), or --port P for a running server
(then the kill -9 check is skipped), or --mariadb to try the checks on a private MariaDB (the
snapshot-isolation check is Tessera's semantics and fails there: InnoDB makes the second writer
wait instead).

No committed row lost (kill -9 run), defined as: (1) every table still holds exactly
table-size rows with ids 1..table-size (read_write deletes and re-inserts the same id in one
transaction, so a partly lost transaction shows), and (2) a side writer inserting into
sbtest.side_acks in autocommit during the whole run finds, afterwards, every insert that was
acknowledged to it, with its value; inserts that failed or timed out may be present or not.
"""
import argparse
import json
import os
import re
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)

import pymysql  # noqa: E402

from servers import LocalMariaDB, Playground, ServerError  # noqa: E402

WORKLOADS = ["oltp_point_select", "oltp_read_only", "oltp_read_write", "oltp_update_index",
             "oltp_update_non_index", "oltp_insert"]


class Out:
    """Rows for tools/accept (full) or TAP lines (small)."""

    def __init__(self, tap):
        self.tap = tap
        self.n = 0
        self.failed = 0

    def check(self, name, ok, figures):
        self.n += 1
        if not ok:
            self.failed += 1
        if self.tap:
            print("%s %d - %s: %s" % ("ok" if ok else "not ok", self.n, name, figures), flush=True)
        else:
            print("ROW\t%s\t%s\t%s" % (name, "held" if ok else "FAILED", figures), flush=True)

    def note(self, msg):
        print("# " + msg if self.tap else msg, flush=True)


def connect(port, db=None, timeout=30):
    return pymysql.connect(host="127.0.0.1", port=port, user="root", database=db,
                           autocommit=True, connect_timeout=10, read_timeout=timeout,
                           write_timeout=timeout)


def query(port, sql, db="sbtest"):
    c = connect(port, db, timeout=120)
    try:
        with c.cursor() as cur:
            cur.execute(sql)
            return cur.fetchall()
    finally:
        c.close()


class Sysbench:
    def __init__(self, port, tables, size, threads, secs):
        self.port, self.tables, self.size, self.threads, self.secs = (port, tables, size,
                                                                      threads, secs)

    def args(self, workload, threads):
        return ["sysbench", workload, "--db-driver=mysql", "--mysql-host=127.0.0.1",
                "--mysql-port=%d" % self.port, "--mysql-user=root", "--mysql-db=sbtest",
                "--tables=%d" % self.tables, "--table-size=%d" % self.size,
                "--threads=%d" % threads]

    def call(self, workload, cmd, timeout, threads=None):
        a = self.args(workload, threads or self.threads)
        if cmd == "run":
            a.append("--time=%d" % self.secs)
        a.append(cmd)
        try:
            r = subprocess.run(a, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            return 124, "", "sysbench %s %s timed out after %d s" % (workload, cmd, timeout)
        return r.returncode, r.stdout, r.stderr

    def prepare(self, workload):
        query(self.port, "CREATE DATABASE IF NOT EXISTS sbtest", db=None)
        # Prepare in parallel over the tables (sysbench 1.0 splits tables between threads).
        return self.call(workload, "prepare", 1800, threads=min(self.tables, 4))

    def run(self, workload):
        return self.call(workload, "run", self.secs + 180)

    def cleanup(self, workload):
        return self.call(workload, "cleanup", 600)


def parse(out):
    def num(p):
        m = re.search(p, out)
        return float(m.group(1)) if m else None
    return {"transactions": num(r"transactions:\s+(\d+)"),
            "tps": num(r"transactions:\s+\d+\s+\(([\d.]+) per sec"),
            "ignored": num(r"ignored errors:\s+(\d+)"),
            "p95": num(r"95th percentile:\s+([\d.]+)")}


def last_lines(text, n=3):
    return " | ".join(line.strip() for line in text.strip().splitlines()[-n:])


def row_figures(port, tables, size):
    """(total rows, every table exactly ids 1..size)."""
    total, exact = 0, True
    for t in range(1, tables + 1):
        cnt, dist, lo, hi = query(port, "SELECT COUNT(*), COUNT(DISTINCT id), MIN(id), MAX(id) "
                                  "FROM sbtest%d" % t)[0]
        total += cnt
        exact = exact and cnt == size and dist == size and lo == 1 and hi == size
    return total, exact


def sum_k(port, tables):
    return sum(int(query(port, "SELECT SUM(k) FROM sbtest%d" % t)[0][0] or 0)
               for t in range(1, tables + 1))


def workload(out, sb, w, extra_check=None):
    """prepare, run, [check], cleanup: one result row with the figures."""
    t0 = time.time()
    rc, so, se = sb.prepare(w)
    if rc != 0:
        out.check("sql " + w, False, "prepare failed (exit %d): %s" % (rc, last_lines(se or so)))
        sb.cleanup(w)
        return None
    prep_s = time.time() - t0
    before = extra_check("before") if extra_check else None
    rc, so, se = sb.run(w)
    r = parse(so)
    ok = rc == 0 and r["transactions"] is not None and r["transactions"] > 0
    figs = ("prepare %.0f s; run: %s transactions, %.1f TPS, p95 %.2f ms, %d ignored errors" % (
        prep_s, int(r["transactions"]), r["tps"], r["p95"] or 0, r["ignored"] or 0)
        if r["transactions"] is not None else "run failed (exit %d): %s" % (
            rc, last_lines(se or so)))
    after = extra_check("after", before, r) if extra_check and ok else None
    crc, cso, cse = sb.cleanup(w)
    if crc != 0:
        ok = False
        figs += "; cleanup failed: %s" % last_lines(cse or cso)
    else:
        figs += "; cleanup ok"
    out.check("sql " + w, ok, figs)
    return after


def check_rows_after(out, sb):
    def fn(phase, before=None, r=None):
        if phase == "before":
            return None
        total, exact = row_figures(sb.port, sb.tables, sb.size)
        want = sb.tables * sb.size
        out.check("sql read_write rows", total == want and exact,
                  "%d rows after read_write (want %d; ids 1..%d in every table: %s)" % (
                      total, want, sb.size, "yes" if exact else "NO"))
    return fn


def check_sum_k(out, sb):
    def fn(phase, before=None, r=None):
        if phase == "before":
            return sum_k(sb.port, sb.tables)
        after = sum_k(sb.port, sb.tables)
        n = int(r["transactions"])
        out.check("sql update_index SUM(k)", after - before == n,
                  "SUM(k) grew by %d; sysbench reported %d transactions" % (after - before, n))
    return fn


# ---- kill -9 during read_write ----

class SideWriter(threading.Thread):
    """Inserts (id, id*7) into sbtest.side_acks, autocommit, and records which inserts were
    acknowledged; an error or timeout makes that id ambiguous (it may or may not be there)."""

    def __init__(self, port):
        super().__init__(daemon=True)
        self.port = port
        self.acked, self.ambiguous = [], []
        self.ack_times = []
        self.stop_flag = threading.Event()

    def run(self):
        conn, i = None, 0
        while not self.stop_flag.is_set():
            i += 1
            try:
                if conn is None:
                    conn = connect(self.port, "sbtest", timeout=20)
                with conn.cursor() as cur:
                    cur.execute("INSERT INTO side_acks (id, v) VALUES (%s, %s)", (i, i * 7))
                self.acked.append(i)
                self.ack_times.append(time.time())
            except pymysql.err.MySQLError:
                self.ambiguous.append(i)
                try:
                    if conn is not None:
                        conn.close()
                except Exception:
                    pass
                conn = None
                self.stop_flag.wait(0.2)
            self.stop_flag.wait(0.02)
        if conn is not None:
            conn.close()


def victim(pg):
    """The kvnode leading the most regions: (name, regions led)."""
    ctl = os.environ.get("TESSERA_CTL") or os.path.join(ROOT, "build/tools/ctl/ctl")
    with open(os.path.join(pg.dir, "playground.json")) as f:
        lay = json.load(f)
    pd = "127.0.0.1:%d" % lay["pd"]["port"]

    def js(*a):
        r = subprocess.run([ctl, "--pd", pd, "--json", *a], capture_output=True, text=True,
                           timeout=20)
        return json.loads(r.stdout) if r.returncode == 0 else []
    stores = {s["id"]: s["address"] for s in js("stores")}
    led = {}
    for reg in js("regions"):
        if reg.get("leader"):
            sid = reg["leader"]["store_id"]
            led[sid] = led.get(sid, 0) + 1
    by_addr = {"127.0.0.1:%d" % k["port"]: "kvnode-%d" % i for i, k in enumerate(lay["kvnodes"])}
    if not led:
        return "kvnode-0", 0
    sid = max(led, key=led.get)
    return by_addr.get(stores.get(sid), "kvnode-0"), led[sid]


def kill9_read_write(out, sb, pg, kill_after, down_s):
    w = "oltp_read_write"
    rc, so, se = sb.prepare(w)
    if rc != 0:
        out.check("sql kill -9 kvnode during read_write", False,
                  "prepare failed: %s" % last_lines(se or so))
        sb.cleanup(w)
        return
    query(sb.port, "CREATE TABLE side_acks (id INT PRIMARY KEY, v INT NOT NULL)")
    side = SideWriter(sb.port)
    side.start()
    result = {}
    runner = threading.Thread(target=lambda: result.update(
        zip(("rc", "so", "se"), sb.run(w))), daemon=True)
    t0 = time.time()
    runner.start()
    time.sleep(kill_after)
    name, nled = victim(pg)
    deaths_before = pg.playground_output().count("restarting it")
    pid = pg.kill9(name)
    t_kill = time.time() - t0
    out.note("killed %s (pid %d, leader of %d regions) at %.1f s" % (name, pid, nled, t_kill))
    runner.join(sb.secs + 240)
    side.stop_flag.set()
    side.join(60)
    rc = result.get("rc", 124)
    r = parse(result.get("so", ""))
    completed = rc == 0 and (r["transactions"] or 0) > 0
    # The longest time without an acknowledged side insert after the kill.
    times = [t for t in side.ack_times if t >= t0 + t_kill - 1]
    gaps = [b - a for a, b in zip(times, times[1:])]
    stall = max(gaps) if gaps else float("nan")
    total, exact = row_figures(sb.port, sb.tables, sb.size)
    present = {i: v for i, v in query(sb.port, "SELECT id, v FROM side_acks")}
    lost = [i for i in side.acked if present.get(i) != i * 7]
    output = pg.playground_output()
    restarted = "%s restarted" % name in output
    other_deaths = output.count("restarting it") - deaths_before - 1
    ok = (completed and total == sb.tables * sb.size and exact and not lost and restarted
          and other_deaths == 0 and len(side.acked) > 0)
    figs = ("%s (leader of %d regions) killed -9 at %.0f s, restarted %g s later (%s); run %s: "
            "%s transactions, %.1f TPS, %d ignored errors; %d rows (ids exact: %s); side writer "
            "%d acknowledged inserts, %d lost, %d ambiguous; longest stall of acknowledged "
            "writes after the kill %.1f s%s" % (
                name, nled, t_kill, down_s, "seen" if restarted else "NOT seen",
                "completed" if completed else "FAILED (exit %s: %s)" % (
                    rc, last_lines(result.get("se", "") or result.get("so", ""))),
                int(r["transactions"] or 0), r["tps"] or 0, r["ignored"] or 0, total,
                "yes" if exact else "NO", len(side.acked), len(lost), len(side.ambiguous), stall,
                "; %d other process deaths" % other_deaths if other_deaths else ""))
    out.check("sql kill -9 kvnode during read_write", ok, figs)
    query(sb.port, "DROP TABLE side_acks")
    sb.cleanup(w)


# ---- snapshot isolation, two sessions ----

def snapshot_isolation(out, port):
    query(port, "CREATE DATABASE IF NOT EXISTS sbtest", db=None)
    query(port, "DROP TABLE IF EXISTS si_check")
    query(port, "CREATE TABLE si_check (id INT PRIMARY KEY, v INT NOT NULL)")
    query(port, "INSERT INTO si_check VALUES (1, 100), (2, 200)")
    a, b = connect(port, "sbtest"), connect(port, "sbtest")
    figs = []
    try:
        ca, cb = a.cursor(), b.cursor()
        # 1. A's snapshot does not see B's later commit, until A's transaction ends.
        ca.execute("BEGIN")
        ca.execute("SELECT v FROM si_check WHERE id = 1")
        first = ca.fetchone()[0]
        cb.execute("UPDATE si_check SET v = 101 WHERE id = 1")
        cb.execute("INSERT INTO si_check VALUES (3, 300)")
        ca.execute("SELECT v FROM si_check WHERE id = 1")
        again = ca.fetchone()[0]
        ca.execute("SELECT COUNT(*) FROM si_check")
        count_in = ca.fetchone()[0]
        ca.execute("COMMIT")
        ca.execute("SELECT v FROM si_check WHERE id = 1")
        after = ca.fetchone()[0]
        ok1 = first == 100 and again == 100 and count_in == 2 and after == 101
        figs.append("snapshot read %s/%s, rows %s inside, %s after commit" % (
            first, again, count_in, after))
        # 2. Two transactions update the same row: the second to commit gets 1213.
        ca.execute("BEGIN")
        cb.execute("BEGIN")
        ca.execute("UPDATE si_check SET v = v + 1 WHERE id = 2")
        cb.execute("UPDATE si_check SET v = v + 10 WHERE id = 2")
        ca.execute("COMMIT")
        err = None
        try:
            cb.execute("COMMIT")
        except pymysql.err.MySQLError as e:
            err = e.args[0]
        ca.execute("SELECT v FROM si_check WHERE id = 2")
        v2 = ca.fetchone()[0]
        ok2 = err == 1213 and v2 == 201
        figs.append("second committer got %s (want 1213), row = %s (want 201)" % (err, v2))
    except pymysql.err.MySQLError as e:
        ok1 = ok2 = False
        figs.append("error %s" % (e,))
    finally:
        a.close()
        b.close()
    query(port, "DROP TABLE IF EXISTS si_check")
    out.check("sql snapshot isolation (two sessions)", ok1 and ok2, "; ".join(figs))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", choices=["full", "small"], default="full")
    ap.add_argument("--port", type=int, help="a running server instead of a playground")
    ap.add_argument("--mariadb", action="store_true", help="try the checks on MariaDB")
    ap.add_argument("--bin-dir", help="Tessera build dir (default: TESSERA_* or build/)")
    ap.add_argument("--workloads", default=",".join(WORKLOADS))
    ap.add_argument("--no-kill", action="store_true", help="skip the kill -9 run")
    ap.add_argument("--time", type=int, help="seconds per run instead of the size's (trying out)")
    opts = ap.parse_args()
    full = opts.size == "full"
    out = Out(tap=not full)
    tables, size, threads, secs = (4, 10000, 16, 60) if full else (2, 1000, 2, 5)
    if opts.time:
        secs = opts.time
    server = None
    try:
        if opts.port:
            port = opts.port
        elif opts.mariadb:
            server = LocalMariaDB(snapshot_isolation=False, lock_wait_timeout=2)
            port = server.port
        else:
            server = Playground(bin_dir=opts.bin_dir, restart_dead=5)
            port = server.port
    except ServerError as e:
        out.check("sql start the server", False, str(e).splitlines()[-1][:300])
        print("1..%d" % out.n if out.tap else "", flush=True)
        return 1
    try:
        out.note("server on 127.0.0.1:%d; %d tables x %d rows, %d threads, %d s" % (
            port, tables, size, threads, secs))
        sb = Sysbench(port, tables, size, threads, secs)
        wls = opts.workloads.split(",") if full else ["oltp_read_write", "oltp_update_index"]
        for w in wls:
            extra = {"oltp_read_write": check_rows_after(out, sb),
                     "oltp_update_index": check_sum_k(out, sb)}.get(w)
            workload(out, sb, w, extra)
        if full and not opts.no_kill:
            if isinstance(server, Playground):
                kill9_read_write(out, sb, server, kill_after=20, down_s=5)
            else:
                out.note("kill -9 check skipped: not a playground started by this script")
        snapshot_isolation(out, port)
        if isinstance(server, Playground):
            output = server.playground_output()
            deaths = re.findall(r"^playground: (\S+) \(pid \d+\) (.*); restarting it", output,
                                re.M)
            unexpected = len(deaths) - (1 if full and not opts.no_kill else 0)
            if unexpected > 0 or not server.alive():
                out.check("sql no process died unexpectedly", False,
                          "playground reported: %s" % "; ".join(" ".join(d) for d in deaths))
    except (pymysql.err.MySQLError, OSError) as e:
        out.check("sql checks ran", False, "error: %s" % (e,))
    finally:
        if server is not None:
            if out.failed and isinstance(server, Playground):
                sys.stderr.write(server.logs_tail(40))
            server.cleanup()
    if out.tap:
        print("1..%d" % out.n, flush=True)
    return 1 if out.failed or out.n == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
