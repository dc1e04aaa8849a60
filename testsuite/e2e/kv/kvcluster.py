"""kvcluster.py — start pd + N kvnodes as real processes on free 127.0.0.1 ports in a temp dir,
kill -9 / restart a kvnode, stop everything. Used by test_kv_e2e.py, tools/accept.d/kv and
tools/bench/kv."""
import os
import signal
import sys
import subprocess
import tempfile


sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "lib"))
from cluster import Processes, free_port, wait_file  # noqa: E402

wait_line = wait_file


class Cluster(Processes):
    def __init__(self, pd_exe, kv_exe, driver, nkv=3, extra_kv_args=(), extra_pd_args=()):
        self.pd_exe, self.kv_exe, self.driver = pd_exe, kv_exe, driver
        self.dir = tempfile.mkdtemp(prefix="tessera-kv-")
        self.procs = {}
        self.kv_ports = {}
        self.extra = list(extra_kv_args)
        self.extra_pd = list(extra_pd_args)
        self.pd_port = free_port()
        self.pd_addr = "127.0.0.1:%d" % self.pd_port
        self._start_pd()
        for i in range(nkv):
            self.kv_ports[i] = free_port()
            self.start_kv(i)

    def _spawn(self, name, args):
        out = open(os.path.join(self.dir, name + ".out"), "w")
        err = open(os.path.join(self.dir, name + ".err"), "a")
        p = subprocess.Popen(args, stdout=out, stderr=err, start_new_session=True)
        self.procs[name] = p
        return p

    def _start_pd(self):
        self._spawn("pd", [self.pd_exe, "--data-dir", os.path.join(self.dir, "pd"),
                           "--listen-addr", self.pd_addr, "--status-addr", "127.0.0.1:0"]
                    + self.extra_pd)
        m = wait_line(os.path.join(self.dir, "pd.out"), r"pd ready .*status_port=(\d+)", 20)
        self.pd_status_port = int(m.group(1))

    def start_kv(self, i):
        name = "kv%d" % i
        outp = os.path.join(self.dir, name + ".out")
        if os.path.exists(outp):
            os.unlink(outp)
        self._spawn(name, [self.kv_exe, "--pd", self.pd_addr,
                           "--data-dir", os.path.join(self.dir, name),
                           "--listen-addr", "127.0.0.1:%d" % self.kv_ports[i],
                           "--status-addr", "127.0.0.1:0"] + self.extra)
        m = wait_line(outp, r"kvnode ready store_id=(\d+) rpc_port=\d+ status_port=(\d+)", 30)
        return int(m.group(1)), int(m.group(2))

    def status_port(self, i):
        m = wait_line(os.path.join(self.dir, "kv%d.out" % i), r"status_port=(\d+)", 5)
        return int(m.group(1))

    def kill9(self, i):
        p = self.procs.pop("kv%d" % i)
        p.send_signal(signal.SIGKILL)
        p.wait(10)

    def driver_run(self, *args, timeout=120, check=True):
        r = subprocess.run([self.driver, "--pd", self.pd_addr] + [str(a) for a in args],
                           capture_output=True, text=True, timeout=timeout)
        if check and r.returncode != 0:
            raise AssertionError("kv_driver %s failed (%d): %s %s" %
                                 (args, r.returncode, r.stdout, r.stderr[-3000:]))
        return r

    def ctl(self, ctl_exe, *args):
        return subprocess.run([ctl_exe, "--pd", self.pd_addr] + list(args), capture_output=True,
                              text=True, timeout=30).stdout

    def regions(self):
        """(id, peers, leader_store) from the PD through the driver-independent ctl output."""
        return None
