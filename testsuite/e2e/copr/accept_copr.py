#!/usr/bin/python3
"""accept_copr.py — the full-size checks of issue #9 that need a cluster (tools/accept.d/copr):

1. the differential test (copr_diff.py) with >= 10,000 random queries on a larger table split
   into 8 regions: pushdown ON, OFF and MariaDB identical;
2. the bytes check: a 1,000,000-row table t(id, k, c) split into 8 regions before loading
   (multi-row INSERTs of 2,000 rows on 4 connections; the load time is printed), then
   `SELECT COUNT(*), SUM(k) FROM t WHERE k BETWEEN a AND b` (1 % of the rows, k not indexed) with
   pushdown ON and OFF, reading the kvnodes' tessera_kv_copr_bytes_returned_total (summed over
   the 3 kvnodes) before and after each: holds when ON returns <= 1 % of OFF's bytes and both
   give the same, exact answer.

Prints ROW<TAB>check<TAB>held|FAILED<TAB>figures lines (tools/accept).

  accept_copr.py [--bin-dir build] [--queries 10000] [--diff-rows 8000] [--rows 1000000]
                 [--regions 8] [--seed S] [--skip-diff] [--skip-bytes]
"""
import argparse
import os
import re
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import coprlib  # noqa: E402


FAILED = []


def row(check, ok, figures):
    if not ok:
        FAILED.append(check)
    print("ROW\t%s\t%s\t%s" % (check, "held" if ok else "FAILED", figures), flush=True)


def differential(opts):
    seed = opts.seed if opts.seed is not None else int(time.time()) % 1000000
    cmd = ["/usr/bin/python3", os.path.join(HERE, "copr_diff.py"), "--bin-dir", opts.bin_dir,
           "--queries", str(opts.queries), "--rows", str(opts.diff_rows), "--regions",
           str(opts.regions), "--seed", str(seed), "--time-limit", str(opts.diff_time_limit)]
    print("# " + " ".join(cmd), flush=True)
    t0 = time.time()
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=opts.diff_time_limit + 900)
    secs = time.time() - t0
    # The mismatching queries (and setup failures) with their diagnostics go to the log.
    keep = False
    for line in p.stdout.splitlines():
        if line.startswith("not ok"):
            keep = True
        elif line.startswith("ok "):
            keep = False
        if keep or not line.startswith("ok "):
            print(line)
    sys.stdout.write(p.stderr[-3000:])
    m = re.search(r"^# queries (\d+), mismatches (\d+), pushdown-on/off/mariadb "
                  r"\(on≠off (\d+), tessera≠mariadb (\d+); refused by both (\d+)\)",
                  p.stdout, re.M)
    notok = len(re.findall(r"^not ok", p.stdout, re.M))
    if not m:
        row("copr differential (%d queries)" % opts.queries, False,
            "no summary (exit %d), seed %d; %d TAP failures" % (p.returncode, seed, notok))
        return
    n, mm, onoff, vsm, both = (int(x) for x in m.groups())
    ok = p.returncode == 0 and mm == 0 and n >= opts.queries and notok == 0
    row("copr differential (%d queries)" % opts.queries, ok,
        "queries %d, mismatches %d (on/off %d, mariadb %d), refused by both %d, %d rows, "
        "%d regions, seed %d, %.0f s" % (n, mm, onoff, vsm, both, opts.diff_rows, opts.regions,
                                         seed, secs))


def bytes_check(opts):
    n = opts.rows
    tess = None
    check = "copr bytes ON <= 1 %% of OFF (%d rows, %d regions)" % (n, opts.regions)
    try:
        tess = coprlib.Tessera(bin_dir=opts.bin_dir)
        load_s, splits = coprlib.load_big(tess, "big", n, opts.regions)
        # The row count (a check of the load, not of the coprocessor) with pushdown off.
        c = tess.connect(db="big", pushdown=False)
        waited, _ = tess.wait_readable(c, "SELECT COUNT(*) FROM t")
        with c.cursor() as cur:
            cur.execute("SELECT COUNT(*) FROM t")
            total = cur.fetchone()[0]
        agg = coprlib.big_queries(n)[0][1]
        a = n // 3
        want = (n // 100, sum(range(a, a + n // 100)))
        res, errs = {}, {}
        for on in (True, False):
            with c.cursor() as cur:
                cur.execute("SET tessera_copr_pushdown = %s" % ("ON" if on else "OFF"))
            t0 = time.time()
            try:
                times, nbytes, rows = coprlib.measure(tess, c, agg, opts.runs)
            except coprlib.pymysql.err.MySQLError as e:
                errs[on] = "%s after %.1f s" % (str(e)[:300], time.time() - t0)
                print("# pushdown %s: %s -> ERROR %s" % ("ON" if on else "OFF", agg, errs[on]),
                      flush=True)
                continue
            got = (int(rows[0][0]), int(rows[0][1]))
            res[on] = (times, nbytes, got)
            print("# pushdown %s: %s -> %s, %s bytes, times %s" %
                  ("ON" if on else "OFF", agg, got, nbytes,
                   ", ".join("%.2f s" % t for t in times)), flush=True)
        med = lambda v: sorted(v)[len(v) // 2]  # noqa: E731
        fig = {}
        for on in (True, False):
            name = "ON" if on else "OFF"
            fig[on] = ("%s %s bytes %.2f s" % (name, "n/a" if res[on][1] is None else
                                                "%d" % res[on][1], med(res[on][0])) if on in res
                       else "%s error %s" % (name, errs[on]))
        figs = ("%s, %s (median of %d), load %d rows %.0f s (%.0f rows/s)" %
                (fig[True], fig[False], opts.runs, total, load_s, total / load_s))
        if errs:
            row(check, False, figs)
            return
        ton, bon, gon = res[True]
        toff, boff, goff = res[False]
        right = gon == want and goff == want and total == n and splits + 1 >= opts.regions
        if not right:
            row(check, False, "wrong answer: ON %s OFF %s want %s, %d rows, %d regions; %s" %
                (gon, goff, want, total, splits + 1, figs))
        elif bon is None or boff is None:
            row(check, False, "metric missing (%s); %s" % (coprlib.BYTES_METRIC, figs))
        else:
            ratio = bon / boff if boff else float("inf")
            row(check, boff > 0 and bon <= 0.01 * boff,
                "ratio %.4f %%; %s" % (100 * ratio, figs))
    except Exception as e:  # noqa: BLE001 — reported as the row
        row(check, False, "error: %s" % str(e).replace("\n", " ")[:400])
        if tess is not None:
            print(tess.log_tail(20))
    finally:
        if tess is not None:
            tess.cleanup()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin-dir", default="build")
    ap.add_argument("--queries", type=int, default=10000)
    ap.add_argument("--diff-rows", type=int, default=8000)
    ap.add_argument("--diff-time-limit", type=float, default=3600)
    ap.add_argument("--rows", type=int, default=1000000)
    ap.add_argument("--regions", type=int, default=8)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--seed", type=int)
    ap.add_argument("--skip-diff", action="store_true")
    ap.add_argument("--skip-bytes", action="store_true")
    opts = ap.parse_args()
    if not opts.skip_diff:
        differential(opts)
    if not opts.skip_bytes:
        bytes_check(opts)
    return 1 if FAILED else 0


if __name__ == "__main__":
    sys.exit(main())
