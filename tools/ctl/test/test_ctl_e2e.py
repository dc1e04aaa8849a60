"""End-to-end tests of ctl against a real pd (suite e2e).

Environment: PD_BIN, PD_STRESS (to put a store and regions into pd), CTL_BIN.
"""
import json
import os
import subprocess
import sys
import tempfile

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "..", "pd", "test"))
from pdproc import PdProcess, run_json  # noqa: E402

CTL = os.environ.get("CTL_BIN", "")


@pytest.fixture(scope="module")
def pd():
    with tempfile.TemporaryDirectory(prefix="ctl_e2e_") as d:
        p = PdProcess(os.environ["PD_BIN"], d).start()
        try:
            # A store, the bootstrap region split in two, and a stale report.
            r = run_json([os.environ["PD_STRESS"], "stale", "--pd", p.addr], 60)
            assert r["failed"] == 0
            yield p
        finally:
            p.stop()


def ctl(pd, *args, check=True):
    p = subprocess.run([CTL, "--pd", pd.addr] + list(args), capture_output=True, text=True,
                       timeout=30)
    if check:
        assert p.returncode == 0, p.stderr
    return p


def test_tso_count_prints_increasing_lines(pd):
    out = ctl(pd, "tso", "--count", "1000").stdout.split()
    ts = [int(x) for x in out]
    assert len(ts) == 1000
    assert all(b == a + 1 for a, b in zip(ts, ts[1:]))  # one request: consecutive
    later = int(ctl(pd, "tso").stdout)
    assert later > ts[-1]


def test_tso_json(pd):
    v = json.loads(ctl(pd, "--json", "tso", "--count", "3").stdout)
    assert len(v) == 3
    assert all(x["ts"] == (x["physical_ms"] << 18) + x["logical"] for x in v)


def test_stores_table_and_json(pd):
    table = ctl(pd, "stores").stdout
    assert "ADDRESS" in table and "Up" in table and "(1 stores)" in table
    v = json.loads(ctl(pd, "--json", "stores").stdout)
    assert len(v) == 1 and v[0]["state"] == "Up" and v[0]["address"].startswith("127.0.0.1:")


def test_regions_table_and_json(pd):
    table = ctl(pd, "regions").stdout
    assert "(2 regions)" in table
    assert "-inf" in table and "+inf" in table
    v = json.loads(ctl(pd, "--json", "regions").stdout)
    assert [r["start_key"]["text"] for r in v] == ["", "m"]
    assert v[0]["end_key"]["text"] == "m" and v[1]["end_key"]["hex"] == ""
    assert v[1]["conf_ver"] == 3 and v[1]["version"] == 3


def test_region_by_key_and_id(pd):
    v = json.loads(ctl(pd, "--json", "regions").stdout)
    left, right = v[0]["id"], v[1]["id"]
    assert json.loads(ctl(pd, "--json", "region", "abc").stdout)["id"] == left
    assert json.loads(ctl(pd, "--json", "region", "zzz").stdout)["id"] == right
    assert json.loads(ctl(pd, "--json", "region", "hex:6d").stdout)["id"] == right  # "m"
    assert json.loads(ctl(pd, "--json", "region", "\\x6c").stdout)["id"] == left  # "l"
    assert json.loads(ctl(pd, "--json", "region", str(right)).stdout)["id"] == right
    assert "leader=" in ctl(pd, "region", "abc").stdout


def test_errors_and_usage(pd):
    assert ctl(pd, "region", "999999", check=False).returncode == 1
    assert ctl(pd, "region", "hex:zz", check=False).returncode == 2
    assert ctl(pd, "frobnicate", check=False).returncode == 2
    p = subprocess.run([CTL, "--pd", "127.0.0.1:1", "--timeout", "300ms", "tso"],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 1 and "ctl: tso:" in p.stderr
