"""End-to-end tests of the coprocessor client and executor (cm_kv_copr, kvnode/copr): pd + 3
kvnodes as real processes on 127.0.0.1, table 43 with 4,000 rows in 10 regions, driven by
copr_driver. One cluster for the module; every process is killed at the end."""
import os
import re
import sys
import urllib.request

import pytest

sys.path.insert(0, os.path.dirname(__file__))
from kvcluster import Cluster  # noqa: E402

PD = os.environ.get("TESSERA_PD")
KV = os.environ.get("TESSERA_KVNODE")
DRIVER = os.environ.get("TESSERA_COPR_DRIVER")
N = 4000


@pytest.fixture(scope="module")
def cluster():
    c = Cluster(PD, KV, DRIVER, nkv=3)
    try:
        r = c.driver_run("load", N, 10, timeout=120)
        assert "loaded rows=%d regions=10" % N in r.stdout
        yield c
    finally:
        c.cleanup(keep=False)


def run(c, *args, timeout=120):
    r = c.driver_run(*args, timeout=timeout, check=False)
    assert r.returncode == 0, r.stdout + r.stderr[-3000:]
    return r.stdout


def test_parallel_regions_match_sequential_scan(cluster):
    out = run(cluster, "parallel", N)
    assert "seq_rows=%d ord_rows=%d same_bytes=1 out_of_order=0 unord_rows=%d" % (N, N, N) in out


def test_aggregates_merge_over_regions(cluster):
    out = run(cluster, "agg", N)
    m = re.search(r"agg count=(\d+) sum=(\d+) responses=(\d+)", out)
    assert m and int(m.group(1)) == N and int(m.group(2)) == N * (N - 1) // 2, out
    assert int(m.group(3)) >= 10, out  # every region answered with its partial group
    assert "groups_ok=1 bad=0" in out


def test_kvnode_errors_keep_their_codes(cluster):
    out = run(cluster, "errors")
    assert "unknown_section=UNSUPPORTED overflow=BIGINT_RANGE" in out, out


def test_split_during_ordered_scan(cluster):
    out = run(cluster, "split-mid", N)
    assert "split-mid rows=%d out_of_order=0 sum_ok=1" % N in out


def test_dead_transaction_lock_is_resolved(cluster):
    out = run(cluster, "dead-lock", 2000)
    m = re.search(r"scan_sum=(\d+) agg_rc=\S+ agg_count=20 agg_sum=(\d+) want_sum=(\d+)", out)
    assert m and m.group(1) == m.group(3) and m.group(2) == m.group(3), out


def test_live_transaction_lock_is_waited_for(cluster):
    out = run(cluster, "live-lock", 3000)
    m = re.search(r"scan_sum=(\d+) agg_rc=\S+ agg_count=20 agg_sum=(\d+) want_sum=(\d+) "
                  r"scan_ms=(\d+) agg_ms=(\d+)", out)
    assert m and m.group(1) == m.group(3) and m.group(2) == m.group(3), out
    assert int(m.group(4)) >= 400 and int(m.group(5)) >= 400, out


def metric(text, name):
    total = 0.0
    found = False
    for line in text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            total += float(line.rsplit(" ", 1)[1])
            found = True
    return total if found else None


def test_metrics_on_kvnodes(cluster):
    sums = {}
    names = ["tessera_kv_copr_requests_total", "tessera_kv_copr_rows_scanned_total",
             "tessera_kv_copr_rows_returned_total", "tessera_kv_copr_bytes_returned_total",
             "tessera_kv_copr_duration_seconds_count"]
    for i in range(3):
        port = cluster.status_port(i)
        text = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=10).read()
        text = text.decode()
        for n in names:
            v = metric(text, n)
            assert v is not None, (n, text[:2000])
            sums[n] = sums.get(n, 0) + v
    assert sums["tessera_kv_copr_requests_total"] >= 10
    # Every test scanned the table at least once: 4 full scans in "parallel" alone.
    assert sums["tessera_kv_copr_rows_scanned_total"] >= 4 * N
    assert sums["tessera_kv_copr_rows_returned_total"] >= 3 * N
    assert sums["tessera_kv_copr_bytes_returned_total"] > 3 * N * 10
    assert sums["tessera_kv_copr_duration_seconds_count"] == sums["tessera_kv_copr_requests_total"]
