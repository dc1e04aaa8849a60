"""cluster.py — a whole Tessera cluster as real processes for tests: pd + N kvnodes + M sqlnodes
on 127.0.0.1, every port chosen free at run time, data and logs in a temporary directory.

    from cluster import Cluster
    c = Cluster(pd_exe, kv_exe, sql_exe, nkv=3, nsql=1)   # returns once every sqlnode serves
    conn = pymysql.connect(host="127.0.0.1", port=c.sql_ports[0], user="root")
    c.kill9_kv(1); c.start_kv(1)                            # failover tests
    c.cleanup()                                             # always (try/finally or a fixture)

Binaries are passed in (meson sets TESSERA_PD, TESSERA_KVNODE, TESSERA_SQLNODE for the e2e
tests; Cluster.from_env() reads them). Every wait is bounded; cleanup() kills what is left.
"""
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time


_PORTS_GIVEN = set()


def free_port():
    """A port free when it looks, never one this process already handed out (the kernel may give
    a just-released port again)."""
    for _ in range(1000):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port not in _PORTS_GIVEN:
            _PORTS_GIVEN.add(port)
            return port
    raise RuntimeError("no free port found")


def wait_file(path, pattern, timeout, proc=None):
    end = time.time() + timeout
    while time.time() < end:
        try:
            with open(path, errors="replace") as f:
                m = re.search(pattern, f.read())
                if m:
                    return m
        except FileNotFoundError:
            pass
        if proc is not None and proc.poll() is not None:
            raise RuntimeError("%s exited with %s before %r" % (path, proc.returncode, pattern))
        time.sleep(0.05)
    raise RuntimeError("timeout (%ss) waiting for %r in %s" % (timeout, pattern, path))


class Processes:
    """The processes of one test cluster (self.procs: name -> Popen, sqlnodes named sql*, kvnodes
    kv*) and its directory self.dir: ordered stop, cleanup and log tails. Also the base of
    testsuite/e2e/kv/kvcluster.py."""

    def stop(self):
        # sqlnodes first (they hold transactions), then kvnodes, then pd.
        order = sorted(self.procs, key=lambda n: (0 if n.startswith("sql") else
                                                  1 if n.startswith("kv") else 2))
        for name in order:
            p = self.procs[name]
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
            try:
                p.wait(15)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(5)
        self.procs = {}

    def cleanup(self, keep=False):
        self.stop()
        if not keep:
            shutil.rmtree(self.dir, ignore_errors=True)

    def log_tail(self, n=40):
        out = []
        for f in sorted(os.listdir(self.dir)):
            if f.endswith(".err"):
                with open(os.path.join(self.dir, f), errors="replace") as fh:
                    out.append("== %s\n%s" % (f, "".join(fh.readlines()[-n:])))
        return "\n".join(out)


class Cluster(Processes):
    def __init__(self, pd_exe, kv_exe, sql_exe, nkv=3, nsql=1, kv_args=(), sql_args=(),
                 start_timeout=60):
        self.exe = {"pd": pd_exe, "kv": kv_exe, "sql": sql_exe}
        for k, v in self.exe.items():
            if not v or not os.access(v, os.X_OK):
                raise RuntimeError("binary for %s not executable: %r" % (k, v))
        self.dir = tempfile.mkdtemp(prefix="tessera-cluster-")
        self.procs = {}
        self.kv_args = list(kv_args)
        self.sql_args = list(sql_args)
        self.timeout = start_timeout
        self.kv_ports = {}
        self.sql_ports = {}
        try:
            self.pd_addr = "127.0.0.1:%d" % free_port()
            self._start_pd()
            for i in range(nkv):
                self.kv_ports[i] = free_port()
                self.start_kv(i)
            for i in range(nsql):
                self.start_sql(i)
        except BaseException:
            self.cleanup(keep=True)
            raise

    @classmethod
    def from_env(cls, **kw):
        return cls(os.environ.get("TESSERA_PD"), os.environ.get("TESSERA_KVNODE"),
                   os.environ.get("TESSERA_SQLNODE"), **kw)

    def _spawn(self, name, args):
        out = open(os.path.join(self.dir, name + ".out"), "w")
        err = open(os.path.join(self.dir, name + ".err"), "a")
        p = subprocess.Popen(args, stdout=out, stderr=err, start_new_session=True)
        out.close()
        err.close()
        self.procs[name] = p
        return p

    def _out(self, name):
        return os.path.join(self.dir, name + ".out")

    def _start_pd(self):
        p = self._spawn("pd", [self.exe["pd"], "--data-dir", os.path.join(self.dir, "pd"),
                               "--listen-addr", self.pd_addr, "--status-addr", "127.0.0.1:0"])
        wait_file(self._out("pd"), r"pd ready", 20, p)

    def start_kv(self, i):
        name = "kv%d" % i
        if os.path.exists(self._out(name)):
            os.unlink(self._out(name))
        p = self._spawn(name, [self.exe["kv"], "--pd", self.pd_addr,
                               "--data-dir", os.path.join(self.dir, name),
                               "--listen-addr", "127.0.0.1:%d" % self.kv_ports[i],
                               "--status-addr", "127.0.0.1:0"] + self.kv_args)
        wait_file(self._out(name), r"kvnode ready store_id=(\d+)", 30, p)

    def start_sql(self, i):
        name = "sql%d" % i
        if os.path.exists(self._out(name)):
            os.unlink(self._out(name))
        p = self._spawn(name, [self.exe["sql"], "--pd", self.pd_addr,
                               "--mysql-addr", "127.0.0.1:0", "--status-addr", "127.0.0.1:0",
                               "--tls-dir", os.path.join(self.dir, name + "-tls"),
                               "--cluster-wait", "%ds" % self.timeout] + self.sql_args)
        m = wait_file(self._out(name), r"sqlnode ready mysql_port=(\d+)", self.timeout + 10, p)
        self.sql_ports[i] = int(m.group(1))
        return self.sql_ports[i]

    def kill9_kv(self, i):
        p = self.procs.pop("kv%d" % i)
        p.send_signal(signal.SIGKILL)
        p.wait(10)

