"""End-to-end tests of PD's replica repair (docs/pd.md "Scheduling"): pd + 4 kvnodes as real
processes on 127.0.0.1. PD decides (add learner, promote, remove) and answers region heartbeats
with operators; the leaders execute them. One store is killed -9 and never comes back: once PD
declares it Down (--max-store-down-time 3s) every region must end with 3 voters on the 3 live
stores, and every acknowledged write must still be readable."""
import json
import os
import re
import sys
import time
import urllib.request

import pytest

sys.path.insert(0, os.path.dirname(__file__))
from kvcluster import Cluster  # noqa: E402

PD = os.environ.get("TESSERA_PD")
KV = os.environ.get("TESSERA_KVNODE")
DRIVER = os.environ.get("TESSERA_KV_DRIVER")
CTL = os.environ.get("TESSERA_CTL")

FAST_ELECTION = ["--raft-election-ticks", "5"]
PD_FAST_DOWN = ["--max-store-down-time", "3s", "--store-heartbeat-timeout", "2s"]
NACCT = 100
BALANCE = 1000

KILLED = {}  # the store killed by test_down_store_peers_replaced_and_data_kept: index, id

REGION_RE = re.compile(r"^(\d+)\s.*peers=(\S+) leader=(\d+)@(\d+)", re.M)


@pytest.fixture(scope="module")
def cluster():
    c = Cluster(PD, KV, DRIVER, nkv=4, extra_kv_args=FAST_ELECTION, extra_pd_args=PD_FAST_DOWN)
    try:
        yield c
    finally:
        c.cleanup(keep=False)


def regions(c):
    """[(id, [(peer, store, learner)], leader_store)] from PD through ctl."""
    out = c.ctl(CTL, "regions")
    rs = []
    for m in REGION_RE.finditer(out):
        peers = []
        for p in m.group(2).split(","):
            pid, rest = p.split("@", 1)
            store = int(re.match(r"(\d+)", rest).group(1))
            peers.append((int(pid), store, "learner" in rest))
        rs.append({"id": int(m.group(1)), "peers": peers, "leader_store": int(m.group(4))})
    return rs


def healthy(r, stores):
    """3 voters, no learner, on 3 distinct stores, all in `stores` (None: any)."""
    ps = r["peers"]
    st = {p[1] for p in ps}
    return (len(ps) == 3 and not any(p[2] for p in ps) and len(st) == 3
            and (stores is None or st <= stores))


def wait_all_healthy(c, nregions_min, stores=None, timeout=45):
    end = time.time() + timeout
    rs = []
    while time.time() < end:
        rs = regions(c)
        if len(rs) >= nregions_min and all(healthy(r, stores) for r in rs):
            return rs
        time.sleep(0.3)
    raise AssertionError("regions not at 3 healthy replicas in %ds: %r\n%s" %
                         (timeout, rs, c.log_tail(15)))


def store_ids(c, n):
    ids = {}
    for i in range(n):
        with open(os.path.join(c.dir, "kv%d.out" % i)) as f:
            m = re.search(r"store_id=(\d+)", f.read())
            ids[int(m.group(1))] = i
    return ids


def pd_metric(c, name, labels=""):
    body = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % c.pd_status_port,
                                  timeout=5).read().decode()
    total = 0
    for line in body.splitlines():
        if line.startswith(name) and labels in line and not line.startswith("#"):
            total += float(line.rsplit(" ", 1)[1])
    return total


def test_pd_adds_replicas_to_three_of_four_stores(cluster):
    rs = wait_all_healthy(cluster, 1, timeout=40)
    assert len(rs) == 1
    # The kvnodes no longer repair on their own: it was PD that issued the steps.
    assert pd_metric(cluster, "tessera_pd_operators_total", 'kind="add_learner"') >= 2
    assert pd_metric(cluster, "tessera_pd_operators_total", 'kind="promote_learner"') >= 2
    cluster.driver_run("split", "acct00025", "acct00050", "acct00075")
    rs = wait_all_healthy(cluster, 4, timeout=40)
    assert len(rs) >= 4


def test_down_store_peers_replaced_and_data_kept(cluster):
    wait_all_healthy(cluster, 4)
    cluster.driver_run("bank-init", NACCT, BALANCE)
    log = os.path.join(cluster.dir, "bank.log")
    r = cluster.driver_run("bank", 3, 2, 1, NACCT, NACCT * BALANCE, log, check=False)
    assert r.returncode == 0, r.stdout + r.stderr[-2000:]
    ids = store_ids(cluster, 4)
    rs = regions(cluster)
    # The store holding the most peers (leaders break ties): it certainly has some to replace.
    count = {}
    for reg in rs:
        for _, st, _ in reg["peers"]:
            count[st] = count.get(st, 0) + (10 if st == reg["leader_store"] else 9)
    victim = max(count, key=count.get)
    live = set(ids) - {victim}
    KILLED.update(index=ids[victim], store=victim)
    removes_before = pd_metric(cluster, "tessera_pd_operators_total", 'kind="remove_peer"')
    cluster.kill9(ids[victim])
    t0 = time.time()
    rs = wait_all_healthy(cluster, 4, stores=live, timeout=50)
    took = time.time() - t0
    print("every region back to 3 voters on the live stores %.1f s after kill -9 of store %d"
          % (took, victim))
    assert all(victim not in {p[1] for p in reg["peers"]} for reg in rs)
    assert pd_metric(cluster, "tessera_pd_operators_total", 'kind="remove_peer"') > removes_before
    # Every account and every acknowledged transfer is still there, read through the new peers.
    chk = cluster.driver_run("bank-check", NACCT, NACCT * BALANCE, log, check=False, timeout=60)
    assert chk.returncode == 0, chk.stdout + chk.stderr[-2000:]
    assert ("pairs=%d" % NACCT) in cluster.driver_run("scan", "acct", "acct~").stdout


def test_writes_after_repair_reach_new_replicas(cluster):
    wait_all_healthy(cluster, 4)
    cluster.driver_run("multi-put", "acct00010x", "acct00030x", "acct00060x", "acct00090x")
    for k in ("acct00010x", "acct00090x"):
        assert "value=probe" in cluster.driver_run("get", k).stdout


def test_restarted_store_destroys_its_removed_replicas(cluster):
    """The killed store comes back with replicas PD removed while it was away: the live peers
    answer its votes with tombstones and it destroys them (data, Raft state) — and PD, seeing
    every region healthy, gives it nothing new."""
    assert KILLED, "needs the previous test"
    _, status_port = cluster.start_kv(KILLED["index"])
    end = time.time() + 40
    st = None
    while time.time() < end:
        st = json.loads(urllib.request.urlopen("http://127.0.0.1:%d/status" % status_port,
                                               timeout=5).read())
        if st["regions"] == 0:
            break
        time.sleep(0.3)
    assert st is not None and st["regions"] == 0, st
    # It did come back with replicas (recovered from its disk), and destroyed each of them.
    with open(os.path.join(cluster.dir, "kv%d.err" % KILLED["index"]), errors="replace") as f:
        log = f.read()
    m = re.findall(r"store=%d recovered (\d+) regions" % KILLED["store"], log)
    assert m and int(m[-1]) >= 1, log[-3000:]
    destroyed = set(re.findall(r"store=%d region=(\d+) peer=\d+ destroyed" % KILLED["store"], log))
    assert len(destroyed) >= int(m[-1]), log[-3000:]
    rs = wait_all_healthy(cluster, 4)
    assert all(KILLED["store"] not in {p[1] for p in reg["peers"]} for reg in rs)
