#!/usr/bin/python3
"""ddl_random.py — the randomised two-node test of online DDL (issue #10, docs/ddl.md "Tests and
acceptance").

A cluster of pd + 3 kvnodes + 2 sqlnodes (real processes, free 127.0.0.1 ports, schema lease
2 s; the sqlnode must have failpoints compiled in). Each run:
  1. creates t<k>(id INT PRIMARY KEY, a INT, b INT, u INT, c VARCHAR(32), x INT DEFAULT 5,
     KEY ka (a)) with --rows rows;
  2. picks a DDL: ADD INDEX ib (b, c) | ADD UNIQUE INDEX iu (u) | DROP INDEX ka |
     ADD COLUMN d INT NOT NULL DEFAULT 7 | DROP COLUMN x, and a node A that sends it (node B is
     the other);
  3. steps the job one schema version at a time: before each step V -> V+1 the owner is paused
     at V+1 (`ddl_owner_pause`, set on both nodes: either may be the owner) and, at the steps
     chosen at random (always at least one), B is held at V (`ddl_schema_hold`); once A serves
     V+1 the test runs random INSERT / UPDATE / DELETE and two-statement transactions from both
     nodes concurrently (at most --ops statements per node and --step-seconds s), then raises
     the pause (and the hold) to the next version;
  4. after the ALTER returns and the failpoints are cleared: ADMIN CHECK TABLE on both nodes,
     every index looked up for every value the model has (the ids found must be the model's),
     and every row compared with the model of acknowledged writes.
Statements on the same id are serialised by the test (a lock per id), statements on different
ids run concurrently on both nodes: so the model is exact — every acknowledged write is applied
to it in the order the server acknowledged it. Errors 1062 and 1213 are expected outcomes
(checked against the model: an INSERT of an id the model holds must get 1062, and only then);
any other error fails the run.

Seeded: `--seed S` replays the same choices (tables, DDLs, holds, statements); each run prints
its seed and `--run K` replays run K alone. Prints TAP, one line per run, and
`# runs N, inconsistent I, failed F`.

With --expect-inconsistent (the plant build, -Dplant_bug=ddl_skip_delete_only): exits 0 when at
least one run finds an inconsistency (ADMIN CHECK 8003, an index lookup or the model), and
stops at the first one; 1 when none is found.

  ddl_random.py [--seed S] [--runs 8] [--rows 300] [--ops 30] [--bin-dir build]
                [--sqlnode PATH] [--run K] [--ddl add_index,...] [--expect-inconsistent]
                [--time-limit SECONDS] [--no-admin-check] [--no-hold]
"""
import argparse
import os
import random
import sys
import threading
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ddllib  # noqa: E402
from ddllib import log  # noqa: E402

import pymysql  # noqa: E402

DDLS = {
    "add_index": ("ALTER TABLE {t} ADD INDEX ib (b, c)", "ib"),
    "add_unique": ("ALTER TABLE {t} ADD UNIQUE INDEX iu (u)", "iu"),
    "drop_index": ("ALTER TABLE {t} DROP INDEX ka", "ka"),
    "add_column": ("ALTER TABLE {t} ADD COLUMN d INT NOT NULL DEFAULT 7", None),
    "drop_column": ("ALTER TABLE {t} DROP COLUMN x", None),
}
DB = "ddlr"


class Inconsistent(Exception):
    """A check found the data not what the acknowledged writes made it."""


class Failed(Exception):
    """Anything else that went wrong (an unexpected error, a timeout)."""


class Model:
    """The rows acknowledged writes made: id -> [a, b, u, c]. Holds the per-id locks."""

    def __init__(self):
        self.rows = {}
        self.mu = threading.Lock()
        self.locks = {}

    def lock(self, ids):
        with self.mu:
            ls = [self.locks.setdefault(i, threading.Lock()) for i in sorted(set(ids))]
        for lk in ls:
            lk.acquire()
        return ls


def gen_ops(rng, hot, n, ucounter):
    """n operations on ids of `hot`: ("ins"|"upd"|"del", id, values) or ("txn", [op, op])."""
    def one():
        kind = rng.choices(["ins", "upd", "del"], weights=[4, 4, 2])[0]
        vals = [rng.randrange(50), rng.randrange(1000), next(ucounter), "v%d" % rng.randrange(10**6)]
        return (kind, rng.choice(hot), vals)
    ops = []
    for _ in range(n):
        if rng.random() < 0.2:
            a, b = one(), one()
            ops.append(("txn", [a, b]))
        else:
            ops.append(one())
    return ops


def counter(start):
    lock = threading.Lock()
    box = [start]

    def nxt():
        with lock:
            box[0] += 1
            return box[0]
    return nxt


class Counter:
    def __init__(self, start):
        self.f = counter(start)

    def __next__(self):
        return self.f()

    def __iter__(self):
        return self


def stmt_sql(table, op):
    kind, i, (a, b, u, c) = op
    if kind == "ins":
        return ("INSERT INTO %s (id, a, b, u, c) VALUES (%%s, %%s, %%s, %%s, %%s)" % table,
                (i, a, b, u, c))
    if kind == "upd":
        return ("UPDATE %s SET a = %%s, b = %%s, u = %%s, c = %%s WHERE id = %%s" % table,
                (a, b, u, c, i))
    return ("DELETE FROM %s WHERE id = %%s" % table, (i,))


def expect(model_rows, op):
    """What op must do given the model: (rows affected or 'dup', new model value or KEEP)."""
    kind, i, vals = op
    have = i in model_rows
    if kind == "ins":
        return ("dup", "keep") if have else (1, list(vals))
    if kind == "upd":
        return (1, list(vals)) if have else (0, "keep")
    return (1, None) if have else (0, "keep")


def apply(model_rows, i, new):
    if new == "keep":
        return
    if new is None:
        model_rows.pop(i, None)
    else:
        model_rows[i] = new


class Worker(threading.Thread):
    """Runs a list of operations on one node against the model; records stats and failures."""

    def __init__(self, conn, table, model, ops, deadline, node):
        super().__init__(daemon=True)
        self.conn, self.table, self.model, self.ops = conn, table, model, ops
        self.deadline, self.node = deadline, node
        self.stats = {"ok": 0, "1062": 0, "1213": 0}
        self.failure = None

    def run(self):
        try:
            for op in self.ops:
                if time.time() > self.deadline:
                    break
                if op[0] == "txn":
                    self.txn(op[1])
                else:
                    self.single(op)
        except (Inconsistent, Failed) as e:
            self.failure = e
        except Exception as e:  # noqa: BLE001
            self.failure = Failed("node %d: %r" % (self.node, e))

    def single(self, op):
        sql, args = stmt_sql(self.table, op)
        locks = self.model.lock([op[1]])
        try:
            want, new = expect(self.model.rows, op)
            try:
                with self.conn.cursor() as cur:
                    n = cur.execute(sql, args)
            except pymysql.err.MySQLError as e:
                code = e.args[0] if e.args else None
                if code == 1062 and want == "dup":
                    self.stats["1062"] += 1
                    return
                if code == 1213:
                    self.stats["1213"] += 1
                    return
                if code == 1062:
                    raise Inconsistent("node %d: %s %r got 1062 but the model has no row %d "
                                       "(%s)" % (self.node, sql, args, op[1], e.args[1]))
                raise Failed("node %d: %s %r: %r" % (self.node, sql, args, e))
            if want == "dup":
                raise Inconsistent("node %d: %s %r succeeded but the model holds id %d" %
                                   (self.node, sql, args, op[1]))
            if n != want:
                raise Inconsistent("node %d: %s %r affected %d rows, the model says %d" %
                                   (self.node, sql, args, n, want))
            apply(self.model.rows, op[1], new)
            self.stats["ok"] += 1
        finally:
            for lk in locks:
                lk.release()

    def rollback(self):
        try:
            with self.conn.cursor() as cur:
                cur.execute("ROLLBACK")
        except pymysql.err.MySQLError:
            pass

    def txn(self, ops):
        locks = self.model.lock([o[1] for o in ops])
        try:
            shadow = dict((o[1], self.model.rows.get(o[1])) for o in ops)
            shadow = {k: v for k, v in shadow.items() if v is not None}
            try:
                with self.conn.cursor() as cur:
                    cur.execute("BEGIN")
                    for o in ops:
                        sql, args = stmt_sql(self.table, o)
                        want, new = expect(shadow, o)
                        try:
                            n = cur.execute(sql, args)
                        except pymysql.err.MySQLError as e:
                            if e.args and e.args[0] == 1062 and want == "dup":
                                continue  # the statement fails, the transaction goes on
                            raise
                        if want == "dup" or n != want:
                            raise Inconsistent("node %d: in a transaction %s %r gave %d rows, "
                                               "the model says %s" %
                                               (self.node, sql, args, n, want))
                        apply(shadow, o[1], new)
                    cur.execute("COMMIT")
            except Inconsistent:
                self.rollback()
                raise
            except pymysql.err.MySQLError as e:
                code = e.args[0] if e.args else None
                try:
                    with self.conn.cursor() as cur:
                        cur.execute("ROLLBACK")
                except pymysql.err.MySQLError:
                    pass
                if code == 1213:
                    self.stats["1213"] += 1
                    return
                if code == 1062:
                    raise Inconsistent("node %d: unexpected 1062 in a transaction: %s" %
                                       (self.node, e.args[1]))
                raise Failed("node %d: transaction %r: %r" % (self.node, ops, e))
            for o in ops:
                self.model.rows.pop(o[1], None)
                if o[1] in shadow:
                    self.model.rows[o[1]] = shadow[o[1]]
            self.stats["ok"] += 1
        finally:
            for lk in locks:
                lk.release()


def run_workload(cl, conns, table, model, rng, opts, ucounter, hot_max):
    hot = rng.sample(range(1, hot_max + 1), min(40, hot_max))
    deadline = time.time() + opts.step_seconds
    ws = [Worker(conns[n], table, model, gen_ops(rng, hot, opts.ops, ucounter), deadline, n)
          for n in range(2)]
    for w in ws:
        w.start()
    for w in ws:
        w.join(opts.step_seconds + 120)
        if w.is_alive():
            raise Failed("a workload thread did not end within %d s" % (opts.step_seconds + 120))
    for w in ws:
        if w.failure:
            raise w.failure
    tot = {}
    for w in ws:
        for k, v in w.stats.items():
            tot[k] = tot.get(k, 0) + v
    return tot


def check_all(cl, conns, table, model, ddl, opts):
    """ADMIN CHECK on both nodes, index lookups and the rows against the model."""
    if not opts.no_admin_check:
        for n, c in enumerate(conns):
            ok, msg = ddllib.admin_check(c, table)
            if not ok:
                raise Inconsistent("ADMIN CHECK TABLE %s on node %d: %s" % (table, n, msg))
    rows = model.rows
    cols = ["id", "a", "b", "u", "c"]
    if ddl == "add_column":
        cols.append("d")
    _, got = ddllib.query(conns[0], "SELECT %s FROM %s ORDER BY id" % (", ".join(cols), table))
    want = [tuple([i] + rows[i] + ([7] if ddl == "add_column" else [])) for i in sorted(rows)]
    got = [tuple(r) for r in got]
    if got != want:
        gs, ws = set(got), set(want)
        raise Inconsistent("rows differ from the model: %d rows, model %d; only in the table %s; "
                           "only in the model %s" % (len(got), len(want), sorted(gs - ws)[:5],
                                                     sorted(ws - gs)[:5]))
    _, colrows = ddllib.query(conns[0], "SHOW COLUMNS FROM %s" % table)
    names = [r[0] for r in colrows]
    if ddl == "drop_column" and "x" in names:
        raise Inconsistent("column x still there after DROP COLUMN: %s" % names)
    if ddl == "add_column" and "d" not in names:
        raise Inconsistent("column d missing after ADD COLUMN: %s" % names)
    _, idx = ddllib.query(conns[0], "SHOW INDEX FROM %s" % table)
    inames = set(r[2] for r in idx)
    expect_idx = {"ka"}
    if ddl == "drop_index":
        expect_idx = set()
    elif ddl == "add_index":
        expect_idx.add("ib")
    elif ddl == "add_unique":
        expect_idx.add("iu")
    if inames - {"PRIMARY"} != expect_idx:
        raise Inconsistent("indexes %s, expected %s" % (sorted(inames), sorted(expect_idx)))
    # Every index looked up for every value the model has (a plan through the index when the
    # planner takes it; a scan otherwise, which still checks the rows).
    lookups = [("ka", "a", 0), ("ib", "b", 1), ("iu", "u", 2)]
    for name, col, k in lookups:
        if name not in inames or not rows:
            continue
        vals = sorted(set(v[k] for v in rows.values()))
        ids = set()
        for j in range(0, len(vals), 200):
            part = vals[j:j + 200]
            _, r = ddllib.query(conns[1], "SELECT id FROM %s WHERE %s IN (%s)" % (
                table, col, ",".join(str(v) for v in part)))
            ids |= set(x[0] for x in r)
        if ids != set(rows):
            raise Inconsistent("lookup by %s (%s): %d ids, model %d; extra %s, missing %s" % (
                name, col, len(ids), len(rows), sorted(ids - set(rows))[:5],
                sorted(set(rows) - ids)[:5]))


def one_run(cl, conns, k, seed, opts, summary):
    rng = random.Random(seed)
    table = "t%d" % k
    ddl = rng.choice(opts.ddls)
    a = rng.randrange(2)
    b = 1 - a
    ucounter = Counter(10**6 * (k + 1))
    model = Model()
    for i in range(1, opts.rows + 1):
        model.rows[i] = [rng.randrange(50), rng.randrange(1000), next(ucounter),
                         "v%d" % rng.randrange(10**6)]
    # The steps of the job where B is held: each with probability 0.8, at least one.
    nsteps_max = 6
    held = [rng.random() < 0.8 for _ in range(nsteps_max)]
    if not any(held[:4]):
        held[rng.randrange(4)] = True
    if opts.no_hold:
        held = [False] * nsteps_max
    log("run %d seed %d: %s on node %d, node %d held at steps %s (replay: --seed %d --run %d)" %
        (k, seed, ddl, a, b, [i + 1 for i, h in enumerate(held) if h], opts.seed, k))
    ca = conns[a]
    with ca.cursor() as cur:
        cur.execute("DROP TABLE IF EXISTS %s" % table)
        cur.execute("CREATE TABLE %s (id INT PRIMARY KEY, a INT, b INT, u INT, c VARCHAR(32), "
                    "x INT DEFAULT 5, KEY ka (a))" % table)
        cur.execute("INSERT INTO %s (id, a, b, u, c) VALUES %s" % (table, ",".join(
            "(%d,%d,%d,%d,'%s')" % tuple([i] + model.rows[i]) for i in sorted(model.rows))))
    # both nodes must see the table before the test holds anyone
    ddllib.wait_until("node %d to see %s" % (b, table),
                      lambda: ddllib.query(conns[b], "SELECT COUNT(*) FROM %s" % table), 30)
    sql = DDLS[ddl][0].format(t=table)
    stats = {"ok": 0, "1062": 0, "1213": 0}
    lagged = 0
    steps = 0
    alter = None
    try:
        if opts.no_hold:
            # no failpoints (a build without them): writes from both nodes while the ALTER runs
            alter = ddllib.Statement(lambda **kw: cl.connect(a, db=DB, **kw), sql, timeout=300)
            alter.start()
            while alter.result is None and steps < nsteps_max:
                steps += 1
                st = run_workload(cl, conns, table, model, rng, opts, ucounter, opts.rows + 40)
                for key in stats:
                    stats[key] += st[key]
            res = alter.wait(opts.step_timeout * 2)
            if res[0] != "ok":
                raise Failed("%s failed: %r" % (sql, res[1]))
            v0 = None
        else:
            v0 = ddllib.schema_ver(ca)
        if v0 is not None:
            for c in conns:
                ddllib.fp_set(c, "ddl_owner_pause", v0 + 1)
            if held[0]:
                ddllib.fp_set(conns[b], "ddl_schema_hold", v0)
            alter = ddllib.Statement(lambda **kw: cl.connect(a, db=DB, **kw), sql, timeout=300)
            alter.start()
        for s in ([] if v0 is None else range(1, nsteps_max + 2)):
            target = v0 + s
            ddllib.wait_until("schema version %d on node %d (or the ALTER's end)" % (target, a),
                              lambda: alter.result is not None or
                              ddllib.schema_ver(ca) >= target, opts.step_timeout)
            if alter.result is not None:
                break
            steps = s
            hb = held[s - 1] if s - 1 < nsteps_max else False
            if hb:
                vb = ddllib.schema_ver(conns[b])
                if vb == target - 1:
                    lagged += 1
            st = run_workload(cl, conns, table, model, rng, opts, ucounter, opts.rows + 40)
            for key in stats:
                stats[key] += st[key]
            if not opts.no_hold:
                nh = held[s] if s < nsteps_max else False
                if nh:
                    ddllib.fp_set(conns[b], "ddl_schema_hold", target)
                else:
                    ddllib.fp_clear(conns[b], "ddl_schema_hold")
                for c in conns:
                    ddllib.fp_set(c, "ddl_owner_pause", target + 1)
        if v0 is not None:
            res = alter.wait(opts.step_timeout * 2)
            if res[0] != "ok":
                raise Failed("%s failed: %r" % (sql, res[1]))
    finally:
        if not opts.no_hold:
            for c in conns:
                for fp in ("ddl_owner_pause", "ddl_schema_hold"):
                    try:
                        ddllib.fp_clear(c, fp)
                    except pymysql.err.MySQLError:
                        pass
        if alter is not None and alter.is_alive():
            alter.join(opts.step_timeout * 2)
    # both nodes on the same version before the checks
    if opts.no_hold:
        time.sleep(1.5)  # no ADMIN SHOW DDL needed: B polls the version at least this often
    else:
        ddllib.wait_until("both nodes on one schema version",
                          lambda: ddllib.schema_ver(conns[0]) == ddllib.schema_ver(conns[1]), 30)
    st = run_workload(cl, conns, table, model, rng, opts, ucounter, opts.rows + 40)
    for key in stats:
        stats[key] += st[key]
    check_all(cl, conns, table, model, ddl, opts)
    with ca.cursor() as cur:
        cur.execute("DROP TABLE %s" % table)
    summary["lagged"] += lagged
    summary["held"] += sum(1 for i in range(steps) if held[i]) if not opts.no_hold else 0
    return "%s in %.1f s, %d steps (B behind in %d), rows %d, writes ok %d, 1062 %d, 1213 %d" % (
        ddl, res[1], steps, lagged, len(model.rows), stats["ok"], stats["1062"], stats["1213"])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--runs", type=int, default=8)
    ap.add_argument("--run", type=int, default=None, help="replay only run K of --seed")
    ap.add_argument("--rows", type=int, default=300)
    ap.add_argument("--ops", type=int, default=30, help="statements per node per step")
    ap.add_argument("--step-seconds", type=float, default=10)
    ap.add_argument("--step-timeout", type=float, default=40)
    ap.add_argument("--time-limit", type=float, default=3600)
    ap.add_argument("--ddl", default=",".join(DDLS))
    ap.add_argument("--bin-dir", default=None)
    ap.add_argument("--sqlnode", default=None, help="sqlnode binary (else bin-dir's / env's)")
    ap.add_argument("--expect-inconsistent", action="store_true")
    ap.add_argument("--no-admin-check", action="store_true",
                    help="skip ADMIN CHECK (index lookups and the model only)")
    ap.add_argument("--no-hold", action="store_true", help="no failpoints (a build without)")
    opts = ap.parse_args()
    if opts.seed is None:
        opts.seed = random.SystemRandom().randrange(1, 10**9)
    opts.ddls = [d for d in opts.ddl.split(",") if d]
    for d in opts.ddls:
        if d not in DDLS:
            ap.error("unknown DDL %r (known: %s)" % (d, ",".join(DDLS)))
    log("ddl_random seed %d runs %d rows %d ops %d ddls %s%s" % (
        opts.seed, opts.runs, opts.rows, opts.ops, ",".join(opts.ddls),
        " (expecting an inconsistency: plant build)" if opts.expect_inconsistent else ""))
    t0 = time.time()
    n = 0
    summary = {"inconsistent": 0, "failed": 0, "passed": 0, "lagged": 0, "held": 0}
    cl = None
    try:
        cl = ddllib.DDLCluster(bin_dir=opts.bin_dir, sqlnode=opts.sqlnode)
        conns = [cl.connect(i, read_timeout=60) for i in range(2)]
        with conns[0].cursor() as cur:
            cur.execute("CREATE DATABASE IF NOT EXISTS %s" % DB)
        ddllib.wait_until("node 1 to see the database",
                          lambda: ddllib.query(conns[1], "USE %s" % DB) or True, 30)
        for c in conns:
            with c.cursor() as cur:
                cur.execute("USE %s" % DB)
        n += 1
        print("ok %d - cluster of 2 sqlnodes up (%s)" % (n, cl.sql_exe), flush=True)
        runs = [opts.run] if opts.run is not None else range(opts.runs)
        for k in runs:
            if time.time() - t0 > opts.time_limit:
                log("time limit reached after %d runs" % (n - 1))
                break
            seed = opts.seed * 1000003 + k
            n += 1
            try:
                desc = one_run(cl, conns, k, seed, opts, summary)
                summary["passed"] += 1
                print("ok %d - run %d seed %d: %s" % (n, k, seed, desc), flush=True)
            except Inconsistent as e:
                summary["inconsistent"] += 1
                tag = "ok" if opts.expect_inconsistent else "not ok"
                print("%s %d - run %d seed %d: INCONSISTENT: %s" % (tag, n, k, seed, e),
                      flush=True)
                if opts.expect_inconsistent:
                    break
            except Exception as e:  # noqa: BLE001
                summary["failed"] += 1
                print("not ok %d - run %d seed %d: FAILED: %s" % (n, k, seed, e), flush=True)
                log(traceback.format_exc())
                log(cl.log_tail(15))
                # a broken cluster cannot run the next runs: reconnect or stop
                try:
                    conns = [cl.connect(i, db=DB, read_timeout=60) for i in range(2)]
                except Exception:  # noqa: BLE001
                    break
        if not opts.no_hold and summary["held"] and not opts.expect_inconsistent:
            n += 1
            ok = summary["lagged"] > 0
            print("%s %d - the hold failpoint kept node B one version behind in %d of %d held "
                  "steps" % ("ok" if ok else "not ok", n, summary["lagged"], summary["held"]))
            if not ok:
                summary["failed"] += 1
    except Exception as e:  # noqa: BLE001
        n += 1
        summary["failed"] += 1
        print("not ok %d - setup: %r" % (n, e), flush=True)
        if cl is not None:
            log(cl.log_tail(20))
    finally:
        if cl is not None:
            cl.cleanup()
    print("1..%d" % n)
    log("runs %d, inconsistent %d, failed %d, passed %d; seed %d; %.0f s" % (
        summary["passed"] + summary["inconsistent"] + summary["failed"], summary["inconsistent"],
        summary["failed"], summary["passed"], opts.seed, time.time() - t0))
    if opts.expect_inconsistent:
        return 0 if summary["inconsistent"] > 0 else 1
    return 0 if summary["inconsistent"] == 0 and summary["failed"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
