"""servers.py — the MySQL servers the SQL tests, the client tests, tools/bench/sysbench and
tools/accept.d/sql run against, each on 127.0.0.1 and free ports, each stopped even on failure:

  Playground   a Tessera cluster started through tools/playground (pd + kvnodes + sqlnodes) in
               a temporary --dir with --free-ports; binaries from TESSERA_* or --bin-dir
  LocalMariaDB a private mariadbd from Debian's mariadb-server in a temporary datadir

Both have .host, .port, .stop() and work as context managers.
"""
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServerError(Exception):
    pass


PORT_RACE = re.compile(r"Address (already )?in use")


class Playground:
    """tools/playground as a child process. `kv_args`/`sql_args` pass options through; with
    `restart_dead` a killed process is restarted that many seconds later (failover tests)."""

    # --free-ports picks ports that are free when it looks; another test starting at the same
    # time can take one before our process binds it ("Address in use"). Then the whole
    # playground starts again on new ports in a new directory, at most this many times.
    PORT_RACE_ATTEMPTS = 3

    def __init__(self, kvnodes=3, sqlnodes=1, kv_args=(), sql_args=(), restart_dead=None,
                 bin_dir=None, build=False, timeout=180, keep=False, data_dir=None):
        for attempt in range(self.PORT_RACE_ATTEMPTS):
            try:
                self._start(kvnodes, sqlnodes, kv_args, sql_args, restart_dead, bin_dir, build,
                            timeout, keep, data_dir)
                return
            except ServerError as e:
                # nng says "Address in use", the status server (strerror) "Address already in
                # use": both are the race
                if (not PORT_RACE.search(str(e)) or data_dir is not None or
                        attempt + 1 == self.PORT_RACE_ATTEMPTS):
                    raise
                if not keep:
                    shutil.rmtree(self.dir, ignore_errors=True)

    def _start(self, kvnodes, sqlnodes, kv_args, sql_args, restart_dead, bin_dir, build, timeout,
               keep, data_dir):
        self.host = "127.0.0.1"
        self.keep = keep
        self.dir = data_dir or tempfile.mkdtemp(prefix="tessera-play-")
        cmd = ["/usr/bin/python3", os.path.join(ROOT, "tools/playground"), "--dir", self.dir,
               "--free-ports", "--kvnodes", str(kvnodes), "--sqlnodes", str(sqlnodes)]
        if not build:
            cmd.append("--no-build")
        if bin_dir:
            cmd += ["--bin-dir", bin_dir]
        cmd += ["--kv-arg=" + a for a in kv_args] + ["--sql-arg=" + a for a in sql_args]
        if restart_dead is not None:
            cmd += ["--restart-dead", str(restart_dead)]
        self.out_path = os.path.join(self.dir, "playground.out")
        self.out = open(self.out_path, "wb")
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self.output = ""
        deadline = time.time() + timeout
        m = None
        while time.time() < deadline:
            r, _, _ = select.select([self.proc.stdout], [], [], 0.5)
            if r:
                chunk = os.read(self.proc.stdout.fileno(), 65536)
                if not chunk:
                    break
                self.out.write(chunk)
                self.out.flush()
                self.output += chunk.decode(errors="replace")
                m = re.search(r"^ready: mysql -h127\.0\.0\.1 -P(\d+) -uroot$", self.output, re.M)
                if m:
                    break
            elif self.proc.poll() is not None:
                break
        if not m:
            self.stop()
            raise ServerError("playground did not get ready:\n" + self.output[-4000:])
        self.port = int(m.group(1))
        self.ports = [int(p) for p in re.findall(r"-P(\d+) -uroot", self.output)]
        # Keep draining the playground's output (it reports deaths and restarts) to the file.
        self._drain = threading.Thread(target=self._drain_output, daemon=True)
        self._drain.start()

    def _drain_output(self):
        try:
            while True:
                chunk = os.read(self.proc.stdout.fileno(), 65536)
                if not chunk:
                    return
                self.out.write(chunk)
                self.out.flush()
        except (OSError, ValueError):
            return

    def pid(self, name):
        """Current pid of a process of the cluster, e.g. 'kvnode-1'."""
        with open(os.path.join(self.dir, "pids", name + ".pid")) as f:
            return int(f.read().strip())

    def kill9(self, name):
        pid = self.pid(name)
        os.kill(pid, signal.SIGKILL)
        return pid

    def playground_output(self):
        with open(self.out_path, "rb") as f:
            return f.read().decode(errors="replace")

    def logs_tail(self, n=30):
        out = []
        logs = os.path.join(self.dir, "logs")
        for f in sorted(os.listdir(logs)) if os.path.isdir(logs) else []:
            with open(os.path.join(logs, f), errors="replace") as fh:
                out.append("== %s\n%s" % (f, "".join(fh.readlines()[-n:])))
        return "\n".join(out)

    def alive(self):
        return self.proc.poll() is None

    def stop(self):
        """SIGTERM to the playground (it stops every process it started); returns its exit
        status (0: stopped cleanly on the signal; 1: a process had died)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        if hasattr(self, "_drain"):
            self._drain.join(5)
        try:
            self.proc.stdout.close()
        except OSError:
            pass
        if not self.out.closed:
            self.out.close()
        return self.proc.returncode

    def cleanup(self):
        rc = self.stop()
        if not self.keep:
            shutil.rmtree(self.dir, ignore_errors=True)
        return rc

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.cleanup()


class LocalMariaDB:
    """A private mariadbd (Debian's mariadb-server) in a temporary datadir on a free port, with
    root and no password. `snapshot_isolation` turns on innodb_snapshot_isolation (a write to a
    row changed after the transaction's snapshot fails with 1020 instead of overwriting it)."""

    def __init__(self, snapshot_isolation=True, lock_wait_timeout=2, extra=(), timeout=60,
                 buffer_pool="256M"):
        self.host = "127.0.0.1"
        self.dir = tempfile.mkdtemp(prefix="tessera-mariadb-")
        self.port = free_port()
        data = os.path.join(self.dir, "data")
        user = ["--user=root"] if os.getuid() == 0 else []
        r = subprocess.run(["mariadb-install-db", "--no-defaults", "--datadir=" + data,
                            "--auth-root-authentication-method=normal", "--skip-test-db",
                            *user], capture_output=True, text=True, timeout=120)
        if r.returncode != 0:
            shutil.rmtree(self.dir, ignore_errors=True)
            raise ServerError("mariadb-install-db failed: %s%s" % (r.stdout[-2000:],
                                                                   r.stderr[-2000:]))
        self.log_path = os.path.join(self.dir, "mariadbd.err")
        cmd = ["mariadbd", "--no-defaults", "--datadir=" + data,
               "--socket=" + os.path.join(self.dir, "sock"), "--port=%d" % self.port,
               "--bind-address=127.0.0.1", "--pid-file=" + os.path.join(self.dir, "pid"),
               "--log-error=" + self.log_path, "--innodb-buffer-pool-size=" + buffer_pool,
               "--max-connections=500", "--skip-name-resolve",
               "--character-set-server=utf8mb4", "--collation-server=utf8mb4_general_ci",
               "--innodb-lock-wait-timeout=%d" % lock_wait_timeout, *user, *extra]
        if snapshot_isolation:
            cmd.append("--innodb-snapshot-isolation=ON")
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + timeout
        while True:
            r = subprocess.run(["mariadb", "-h127.0.0.1", "-P%d" % self.port, "-uroot",
                                "--skip-ssl", "--connect-timeout=2", "-N", "-e", "SELECT 1"],
                               capture_output=True, text=True, timeout=15)
            if r.returncode == 0:
                break
            if self.proc.poll() is not None or time.time() > deadline:
                log = self.log_text()
                self.cleanup()
                raise ServerError("mariadbd did not start:\n" + log[-3000:])
            time.sleep(0.3)
        r = subprocess.run(["mariadb", "-h127.0.0.1", "-P%d" % self.port, "-uroot", "-N", "-e",
                            "SELECT VERSION()"], capture_output=True, text=True, timeout=15)
        self.version = r.stdout.strip()

    def log_text(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        return self.proc.returncode

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.cleanup()
