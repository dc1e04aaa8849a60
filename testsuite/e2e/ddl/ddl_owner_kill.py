#!/usr/bin/python3
"""ddl_owner_kill.py — kill -9 the DDL owner in the middle of an index backfill (issue #10).

A cluster of pd + 3 kvnodes + 2 sqlnodes (real processes, free 127.0.0.1 ports, schema lease
2 s). Loads t(id INT PRIMARY KEY, k INT, c VARCHAR(40)) with --rows rows over both nodes (split
into --regions regions), finds the DDL owner (ADMIN SHOW DDL: OWNER_ID against each node's
SELF_ID), sends `ALTER TABLE t ADD INDEX ik (k)` to the other node, waits until ADMIN SHOW DDL
JOBS shows the job in write reorganization with 0 < ROW_COUNT < rows, kills the owner with SIGKILL, and
then requires: the ALTER returns success on the surviving node (which takes the job over), ADMIN
CHECK TABLE passes, the row count is unchanged, the survivor is the owner, and the killed node,
restarted, serves the new index too. It also reports whether the new owner resumed from the
checkpoint: the smallest ROW_COUNT seen after the kill is not below the one seen before it
(a restart from zero shows a smaller one). With a failpoint build, --batch-sleep-ms slows each
backfill batch (failpoint ddl_backfill_batch_sleep_ms, set in the sqlnodes' environment) so a
small table is enough.

Prints TAP; with --rows-out also `ROW<TAB>check<TAB>held|FAILED<TAB>figures` rows
(tools/accept.d/ddl).

  ddl_owner_kill.py [--rows 20000] [--regions 4] [--batch-sleep-ms 0] [--bin-dir build]
                    [--sqlnode PATH] [--rows-out] [--timeout 600] [--keep]
"""
import argparse
import itertools
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ddllib  # noqa: E402
from ddllib import log  # noqa: E402

import coprlib  # noqa: E402


class Tap:
    def __init__(self, rows_out):
        self.n = 0
        self.failed = 0
        self.rows_out = rows_out

    def check(self, cond, name, figures=""):
        self.n += 1
        if not cond:
            self.failed += 1
        print("%s %d - %s%s" % ("ok" if cond else "not ok", self.n, name,
                                (": " + figures) if figures else ""), flush=True)
        return cond

    def row(self, check, held, figures):
        if self.rows_out:
            print("ROW\t%s\t%s\t%s" % (check, "held" if held else "FAILED", figures), flush=True)


def node_of_owner(cl, conns):
    ids = [ddllib.show_ddl(c).get("SELF_ID") for c in conns]
    owner = ddllib.show_ddl(conns[0]).get("OWNER_ID")
    if owner in ids:
        return ids.index(owner)
    return None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", type=int, default=20000)
    ap.add_argument("--regions", type=int, default=4)
    ap.add_argument("--batch-sleep-ms", type=int, default=0)
    ap.add_argument("--bin-dir", default=None)
    ap.add_argument("--sqlnode", default=None)
    ap.add_argument("--rows-out", action="store_true")
    ap.add_argument("--timeout", type=float, default=600)
    ap.add_argument("--keep", action="store_true", help="keep the cluster's logs and data")
    opts = ap.parse_args()
    tap = Tap(opts.rows_out)
    name = "ddl kill -9 owner mid-backfill (%d rows)" % opts.rows
    cl = None
    t_start = time.time()
    try:
        fps = ("ddl_backfill_batch_sleep_ms=%d" % opts.batch_sleep_ms
               if opts.batch_sleep_ms else None)
        cl = ddllib.DDLCluster(bin_dir=opts.bin_dir, sqlnode=opts.sqlnode, env_failpoints=fps)
        conns = [cl.connect(i, read_timeout=120) for i in range(2)]
        with conns[0].cursor() as cur:
            cur.execute("CREATE DATABASE ko")
            cur.execute("CREATE TABLE ko.t (id INT PRIMARY KEY, k INT NOT NULL, "
                        "c VARCHAR(40) NOT NULL)")
        ddllib.wait_until("node 1 to see ko.t",
                          lambda: ddllib.query(conns[1], "SELECT COUNT(*) FROM ko.t"), 30)
        for c in conns:
            ddllib.query(c, "USE ko")
        n = opts.rows
        step = max(1, n // max(1, opts.regions))
        splits = cl.split("ko", "t", [1 + step * r for r in range(1, opts.regions)])
        batch = 2000
        nb = (n + batch - 1) // batch
        rows_of = lambda b: coprlib.big_rows(1 + b * batch, 1 + min(n, (b + 1) * batch), n)  # noqa
        nextnode = itertools.count()  # the loading connections alternate between the nodes
        secs = coprlib.parallel_insert(lambda: cl.connect(next(nextnode) % 2, db="ko"),
                                       "t", ["id", "k", "c"], rows_of, nb, workers=4)
        tap.check(True, "cluster up, %d rows loaded in %.1f s (%d regions)" %
                  (n, secs, splits + 1))
        owner = ddllib.wait_until("a DDL owner", lambda: node_of_owner(cl, conns) is not None
                                  and node_of_owner(cl, conns) + 1, 60) - 1
        surv = 1 - owner
        tap.check(True, "DDL owner is node %d; the ALTER goes to node %d" % (owner, surv))
        alter = ddllib.Statement(lambda **kw: cl.connect(surv, db="ko", **kw),
                                 "ALTER TABLE t ADD INDEX ik (k)", timeout=opts.timeout)
        alter.start()
        seen = {}

        def in_reorg():
            if alter.result is not None:
                return "done"
            j = ddllib.job_of(conns[surv], "t", "index")
            if (j and "reorg" in str(j.get("SCHEMA_STATE", "")) and
                    0 < int(j["ROW_COUNT"] or 0) < n):
                seen.update(j)
                return "reorg"
            return None
        where = ddllib.wait_until("the job in write reorganization", in_reorg, opts.timeout / 2,
                                  interval=0.05)
        if where == "done":
            tap.check(False, "kill during the backfill",
                      "the ALTER ended (%r) before the backfill was seen: more --rows or "
                      "--batch-sleep-ms" % (alter.result,))
            tap.row(name, False, "backfill not caught")
            return 1
        before = int(seen["ROW_COUNT"])
        job_id = seen["JOB_ID"]
        t_kill = time.time()
        cl.kill9_sql(owner)
        tap.check(True, "owner node %d killed (SIGKILL) with job %s in %s at ROW_COUNT %d" %
                  (owner, job_id, seen.get("SCHEMA_STATE"), before))
        after = []
        deadline = time.time() + opts.timeout
        while alter.result is None and time.time() < deadline:
            try:
                j = ddllib.job_of(conns[surv], "t", "index")
                if j and str(j["JOB_ID"]) == str(job_id):
                    after.append(int(j["ROW_COUNT"] or 0))
            except Exception:  # noqa: BLE001 — the node may be busy; the poll goes on
                pass
            time.sleep(0.1)
        res = alter.wait(max(1.0, deadline - time.time()))
        took = time.time() - t_kill
        ok_alter = tap.check(res[0] == "ok", "ALTER returned on node %d after the takeover" % surv,
                             "%r, %.1f s after the kill" % (res[0] if res[0] == "ok" else res[1],
                                                            took))
        ok_check, msg = ddllib.admin_check(conns[surv], "t")
        tap.check(ok_check, "ADMIN CHECK TABLE t passes", msg or "")
        _, r = ddllib.query(conns[surv], "SELECT COUNT(*) FROM t")
        ok_count = tap.check(r[0][0] == n, "row count %d (loaded %d)" % (r[0][0], n))
        new_owner = node_of_owner(cl, [conns[surv], conns[surv]])
        tap.check(new_owner is not None, "node %d is the DDL owner now" % surv)
        _, idx = ddllib.query(conns[surv], "SHOW INDEX FROM t")
        tap.check(any(x[2] == "ik" for x in idx), "index ik is there")
        final = None
        j = ddllib.job_of(conns[surv], "t", "index")
        if j:
            final = int(j["ROW_COUNT"] or 0)
        lowest = min(after) if after else None
        resumed = lowest is not None and lowest >= before
        tap.check(True, "resume", "ROW_COUNT %d before the kill, lowest after %s, final %s: %s" %
                  (before, lowest, final, "resumed from the checkpoint" if resumed else
                   "not shown to resume (restart from zero, or no sample)"))
        cl.c.start_sql(owner)
        conns[owner] = cl.connect(owner, db="ko")
        ok2, msg2 = ddllib.admin_check(conns[owner], "t")
        tap.check(ok2, "the killed node restarted; ADMIN CHECK TABLE t passes there", msg2 or "")
        held = ok_alter and ok_check and ok_count and ok2 and tap.failed == 0
        tap.row(name, held, "killed at ROW_COUNT %d of %d; ALTER done %.1f s after the kill; "
                "ADMIN CHECK %s; %s" % (before, n, took, "ok" if ok_check else msg,
                                        "resumed (lowest ROW_COUNT after %s, final %s)" %
                                        (lowest, final) if resumed else
                                        "resume not shown (lowest after %s)" % lowest))
        if opts.rows_out:
            print("ROW\tddl owner-kill job resumed from its checkpoint\t%s\tROW_COUNT %d "
                  "before the kill, lowest seen after %s, final %s; the job %s" %
                  ("held" if resumed and ok_alter else "FAILED", before, lowest, final,
                   "completed" if ok_alter else "did not complete"), flush=True)
    except Exception as e:  # noqa: BLE001
        tap.check(False, "error", repr(e))
        tap.row(name, False, "error: %r" % (e,))
        if cl is not None:
            log(cl.log_tail(20))
    finally:
        if cl is not None:
            if opts.keep:
                log("cluster kept in %s" % cl.c.dir)
            cl.cleanup(keep=opts.keep)
        print("1..%d" % tap.n)
        log("%.0f s" % (time.time() - t_start))
    return 0 if tap.failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
