"""End-to-end tests of the `tessera` virtual-table module: pd + 3 kvnodes as real processes on
127.0.0.1 (kvcluster.py), and vtab_driver running each case on a real SQLite connection with the
module registered, the real catalog and the real KV client. One cluster for the module."""
import os
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "kv"))
from kvcluster import Cluster  # noqa: E402

PD = os.environ.get("TESSERA_PD")
KV = os.environ.get("TESSERA_KVNODE")
DRIVER = os.environ.get("TESSERA_VTAB_DRIVER")

CASES = ["basic", "unique", "order_limit", "covering", "ryw", "hidden", "scan", "prefix", "types",
         "backfill", "bounds", "batch", "rmw", "nulls", "col_add", "col_origin", "col_drop",
         "idx_states"]
LISTED = CASES + ["perf", "perf_insert"]  # perf prints figures (tools/bench style), not run as a test


@pytest.fixture(scope="module")
def cluster():
    c = Cluster(PD, KV, DRIVER, nkv=3)
    try:
        yield c
    finally:
        c.cleanup(keep=False)


def test_cases_listed():
    out = subprocess.run([DRIVER, "--list"], capture_output=True, text=True, timeout=10).stdout
    assert out.split() == LISTED


@pytest.mark.parametrize("case", CASES)
def test_case(cluster, case):
    r = subprocess.run([DRIVER, "--pd", cluster.pd_addr, case], capture_output=True, text=True,
                       timeout=180)
    print(r.stdout)
    assert r.returncode == 0, "%s\n%s\n%s" % (r.stdout, r.stderr[-3000:], cluster.log_tail(10))
    assert "FAIL" not in r.stdout
    assert " 0 failed" in r.stdout
