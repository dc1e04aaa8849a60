"""End-to-end tests of GC and DeleteRange: pd + 3 kvnodes as real processes on 127.0.0.1, the SQL
layer's GC worker run by gc_driver, and at the end every store's RocksDB opened (cluster
stopped) to check that all three replicas applied the same removals. The cases share one
cluster and run in order."""
import os
import re
import sys
import time

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "kv"))
from kvcluster import Cluster  # noqa: E402

PD = os.environ.get("TESSERA_PD")
KV = os.environ.get("TESSERA_KVNODE")
DRIVER = os.environ.get("TESSERA_GC_DRIVER")
CTL = os.environ.get("TESSERA_CTL")
NKEYS = 60
REGION_RE = re.compile(r"^(\d+)\s.*peers=(\S+) leader=(\d+)@(\d+)", re.M)


@pytest.fixture(scope="module")
def cluster():
    c = Cluster(PD, KV, DRIVER, nkv=3, extra_kv_args=["--raft-election-ticks", "5"])
    try:
        wait_replicated(c)
        yield c
    finally:
        c.cleanup(keep=False)


def wait_replicated(c, timeout=60):
    end = time.time() + timeout
    out = ""
    while time.time() < end:
        out = c.ctl(CTL, "regions")
        rs = list(REGION_RE.finditer(out))
        if rs and all(len(m.group(2).split(",")) == 3 and "learner" not in m.group(2)
                      for m in rs):
            return
        time.sleep(0.3)
    raise AssertionError("regions not replicated 3x in time: %s\n%s" % (out, c.log_tail(10)))


def test_gc_removes_old_versions_keeps_newest(cluster):
    r = cluster.driver_run("dead-prewrite", "gcv/lock", timeout=60)
    assert "dead-prewrite ok" in r.stdout, r.stdout
    r = cluster.driver_run("versions", NKEYS, timeout=120)
    assert "versions ok" in r.stdout, r.stdout


def test_queued_delete_range_runs_after_safe_point(cluster):
    r = cluster.driver_run("queue", timeout=120)
    assert "queue ok" in r.stdout, r.stdout


def test_safe_point_never_passes_running_txn(cluster):
    r = cluster.driver_run("guard", timeout=120)
    assert "guard ok" in r.stdout, r.stdout


def test_worker_thread_rounds_and_clean_stop(cluster):
    r = cluster.driver_run("worker", timeout=120)
    assert "worker ok" in r.stdout, r.stdout


def test_every_replica_applied_the_same(cluster):
    time.sleep(1.5)  # followers learn the last commit index from the next heartbeat
    cluster.stop()
    for i in range(3):
        r = cluster.driver_run("inspect", os.path.join(cluster.dir, "kv%d" % i), NKEYS,
                               timeout=60, check=False)
        assert r.returncode == 0, "store kv%d: %s %s" % (i, r.stdout, r.stderr)
