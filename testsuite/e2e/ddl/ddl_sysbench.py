#!/usr/bin/python3
"""ddl_sysbench.py — `ALTER TABLE sbtest1 ADD INDEX idx_c (c)` while sysbench oltp_read_write
runs against both sqlnodes (issue #10's first acceptance check; also the engine of
tools/bench/ddl).

A cluster of pd + 3 kvnodes + 2 sqlnodes (real processes, free 127.0.0.1 ports), sysbench's
sbtest1 with --rows rows loaded over both nodes (multi-row INSERTs in parallel, table split into
--regions regions first). sysbench oltp_read_write (--threads, default error handling: 1213,
1020 and 1205 are ignored, anything else aborts it) runs against both nodes in consecutive
--chunk-second runs — one before the ALTER (the baseline), then as many as the ALTER lasts (the
ALTER starts 3 s into the first of them) — so every sysbench run must complete without aborting.
Then: ADMIN CHECK TABLE sbtest1 passes and EXPLAIN SELECT … WHERE c = ? names idx_c.

Prints `ROW<TAB>check<TAB>held|FAILED<TAB>figures` rows and exits 1 when one failed.

  ddl_sysbench.py [--rows 1000000] [--regions 8] [--threads 16] [--chunk-seconds 20]
                  [--lease 10s] [--bin-dir build] [--timeout 3600]
"""
import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ddllib  # noqa: E402
from ddllib import log  # noqa: E402

ALTER = "ALTER TABLE sbtest1 ADD INDEX idx_c (c)"
DROP = "ALTER TABLE sbtest1 DROP INDEX idx_c"


def row(check, held, figures):
    print("ROW\t%s\t%s\t%s" % (check, "held" if held else "FAILED", figures), flush=True)
    return held


def start_cluster(opts):
    cl = ddllib.DDLCluster(bin_dir=opts.bin_dir, lease=opts.lease)
    secs, splits = ddllib.load_sbtest([lambda db=None, k=k: cl.connect(k, db=db)
                                       for k in range(2)], "sbtest", opts.rows,
                                      regions=opts.regions, split=cl.split)
    log("loaded %d rows of sbtest1 in %.1f s (%.0f rows/s) over 2 sqlnodes, %d regions" % (
        opts.rows, secs, opts.rows / secs, splits + 1))
    return cl, secs


def sysbench_chunk(ports, opts, rows):
    sb = ddllib.Sysbench(ports, threads=opts.threads, seconds=opts.chunk_seconds,
                         table_size=rows)
    sb.start()
    return sb


def alter_under_load(ports, connect, opts, sql=ALTER, baseline=True):
    """Runs sql while sysbench chunks run against `ports`. Returns a dict: alter (seconds or
    None), alter_error, chunks (list of (rc, stats)), baseline stats, aborted chunks."""
    out = {"chunks": [], "baseline": None, "aborted": 0, "alter": None, "alter_error": None}
    if baseline:
        sb = sysbench_chunk(ports, opts, opts.rows)
        sb.join(opts.chunk_seconds + 200)
        out["baseline"] = sb.stats
        if sb.rc != 0:
            out["aborted"] += 1
            out["abort_text"] = sb.out[-1500:]
    sb = sysbench_chunk(ports, opts, opts.rows)
    time.sleep(3)
    st = ddllib.Statement(connect, sql, timeout=opts.timeout)
    st.start()
    deadline = time.time() + opts.timeout
    while True:
        sb.join(opts.chunk_seconds + 200)
        out["chunks"].append((sb.rc, sb.stats))
        if sb.rc != 0:
            out["aborted"] += 1
            out["abort_text"] = sb.out[-1500:]
        if st.result is not None or time.time() > deadline:
            break
        sb = sysbench_chunk(ports, opts, opts.rows)
    res = st.wait(max(1.0, deadline - time.time()))
    if res[0] == "ok":
        out["alter"] = res[1]
    else:
        out["alter_error"] = repr(res[1])
    return out


def summarize(chunks):
    tx = sum((s.get("transactions") or 0) for rc, s in chunks)
    secs = sum(1 for _ in chunks)
    ign = sum((s.get("ignored") or 0) for rc, s in chunks)
    tps = [s["tps"] for rc, s in chunks if s.get("tps")]
    return tx, ign, (sum(tps) / len(tps) if tps else 0.0), secs


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", type=int, default=1000000)
    ap.add_argument("--regions", type=int, default=8)
    ap.add_argument("--threads", type=int, default=16)
    ap.add_argument("--chunk-seconds", type=int, default=20)
    ap.add_argument("--lease", default="10s")
    ap.add_argument("--bin-dir", default=None)
    ap.add_argument("--timeout", type=float, default=3600)
    opts = ap.parse_args()
    name = "ddl ADD INDEX idx_c under sysbench (%d rows, %d threads, 2 nodes)" % (
        opts.rows, opts.threads)
    cl = None
    ok = True
    try:
        cl, load_s = start_cluster(opts)
        r = alter_under_load(cl.ports, lambda **kw: cl.connect(0, db="sbtest", **kw), opts)
        tx, ign, tps, nch = summarize(r["chunks"])
        base = r["baseline"] or {}
        fig = ("ALTER %s; sysbench during it: %d runs of %d s, %.1f tps (baseline before it "
               "%.1f tps), %d ignored errors, %d aborted; lease %s" % (
                   "%.1f s" % r["alter"] if r["alter"] is not None else
                   "FAILED " + str(r["alter_error"]), nch, opts.chunk_seconds, tps,
                   base.get("tps") or 0, ign, r["aborted"], opts.lease))
        ok &= row(name + ": ALTER completes", r["alter"] is not None, fig)
        ok &= row("ddl sysbench completes without aborting", r["aborted"] == 0,
                  "%d sysbench runs, %d aborted%s" % (
                      nch + (1 if r["baseline"] is not None else 0), r["aborted"],
                      "; last abort: " + r["abort_text"].strip().splitlines()[-1][:200]
                      if r["aborted"] else ""))
        c = cl.connect(0, db="sbtest", read_timeout=opts.timeout)
        try:
            t0 = time.time()
            good, msg = ddllib.admin_check(c, "sbtest1")
            ok &= row("ddl ADMIN CHECK TABLE sbtest1", good,
                      "%s in %.1f s" % ("passes" if good else msg, time.time() - t0))
        except Exception as e:  # noqa: BLE001
            ok &= row("ddl ADMIN CHECK TABLE sbtest1", False, "error: %r" % (e,))
        try:
            uses, plan = ddllib.explain_uses(
                c, "SELECT id FROM sbtest1 WHERE c = '%s'" % ddllib._digits(7, 10), "idx_c")
            ok &= row("ddl EXPLAIN WHERE c = ? uses idx_c", uses, plan[:200])
        except Exception as e:  # noqa: BLE001
            ok &= row("ddl EXPLAIN WHERE c = ? uses idx_c", False, "error: %r" % (e,))
    except Exception as e:  # noqa: BLE001
        ok &= row(name, False, "error: %r" % (e,))
        if cl is not None:
            log(cl.log_tail(20))
    finally:
        if cl is not None:
            cl.cleanup()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
