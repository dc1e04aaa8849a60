"""Helpers for tests that run real pd processes (pd/test/test_pd_e2e.py, tools/ctl tests).

A PdProcess owns one pd process bound to 127.0.0.1 on free ports (port 0, read back from pd's
"pd ready" line), its data directory, and its log. Every wait is bounded; stop()/kill9() always
reap the process, and the pytest fixtures stop everything even when a test fails.
"""
import json
import os
import signal
import subprocess
import time
import urllib.request


class PdProcess:
    def __init__(self, binary, workdir, name="pd", clock_offset_file=None, extra_args=None):
        self.binary = binary
        self.workdir = workdir
        self.data_dir = os.path.join(workdir, "data")
        self.log_path = os.path.join(workdir, name + ".log")
        self.clock_offset_file = clock_offset_file
        self.extra_args = list(extra_args or [])
        self.proc = None
        self.rpc_port = 0
        self.status_port = 0
        self.cluster_id = 0

    @property
    def addr(self):
        return "127.0.0.1:%d" % self.rpc_port

    def start(self, rpc_port=0, timeout_s=15.0):
        """Starts pd; rpc_port 0 picks a free port, a number reuses one (restart)."""
        env = dict(os.environ)
        if self.clock_offset_file:
            env["TESSERA_PD_TEST_CLOCK_OFFSET_FILE"] = self.clock_offset_file
        args = [self.binary, "--data-dir=" + self.data_dir,
                "--listen-addr=127.0.0.1:%d" % rpc_port, "--status-addr=127.0.0.1:0",
                "--log-file=" + self.log_path] + self.extra_args
        deadline = time.monotonic() + timeout_s
        while True:
            self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                         env=env, text=True)
            line = self._read_ready(deadline)
            if line is not None:
                break
            # Reusing a port right after kill -9 can race with the kernel releasing it: retry.
            self.proc.wait(timeout=5)
            if time.monotonic() > deadline:
                raise RuntimeError("pd did not start; see " + self.log_path)
            time.sleep(0.2)
        fields = dict(kv.split("=", 1) for kv in line.split()[2:])
        self.rpc_port = int(fields["rpc_port"])
        self.status_port = int(fields["status_port"])
        self.cluster_id = int(fields["cluster_id"])
        return self

    def _read_ready(self, deadline):
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if line.startswith("pd ready"):
                return line.strip()
            if line == "" and self.proc.poll() is not None:
                return None
        return None

    def restart(self):
        """Starts again on the same port and data directory (after kill9 or stop)."""
        return self.start(rpc_port=self.rpc_port)

    def kill9(self):
        """kill -9 and wait until the process is gone; returns CLOCK_MONOTONIC ns after death."""
        if self.proc is None:
            return time.monotonic_ns()
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)
        self.proc = None
        return time.monotonic_ns()

    def stop(self, timeout_s=10.0):
        """SIGTERM and wait; returns pd's exit status (None if it had to be killed)."""
        if self.proc is None:
            return None
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
            rc = None
        self.proc = None
        return rc

    def http(self, path):
        with urllib.request.urlopen("http://127.0.0.1:%d%s" % (self.status_port, path),
                                    timeout=10) as r:
            return r.read().decode()

    def status(self):
        return json.loads(self.http("/status"))

    def metric(self, name, labels=""):
        """The value of one series from /metrics, or None."""
        want = name + ("{" + labels + "}" if labels else "")
        for line in self.http("/metrics").splitlines():
            if line.startswith(want + " "):
                return float(line.split()[-1])
        return None


def run_json(args, timeout_s):
    """Runs a tool that prints one JSON object on stdout; returns it (raises on failure)."""
    p = subprocess.run(args, capture_output=True, text=True, timeout=timeout_s)
    if p.returncode != 0:
        raise RuntimeError("%s failed (%d): %s" % (args[0], p.returncode, p.stderr[-2000:]))
    return json.loads(p.stdout.strip().splitlines()[-1])


def spawn_json(args):
    """Starts such a tool in the background; finish with wait_json()."""
    return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_json(p, timeout_s):
    out, err = p.communicate(timeout=timeout_s)
    if p.returncode != 0:
        raise RuntimeError("tool failed (%d): %s" % (p.returncode, err[-2000:]))
    return json.loads(out.strip().splitlines()[-1])
