#!/usr/bin/python3
"""run_slt.py — runs .test files (testsuite/sql/slt.py) against a server this script starts and
stops: a Tessera cluster through tools/playground (default; pd + 3 kvnodes + sqlnode on free
ports, binaries from TESSERA_PD/KVNODE/SQLNODE/CTL or --bin-dir), or a private MariaDB
(--mariadb: validates that the expected results are MySQL's), or a server already running
(--port P). Prints TAP (one line per record) for meson's e2e suite.

  testsuite/sql/run_slt.py [--mariadb | --port P] [--bin-dir build] FILE.test...
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import slt  # noqa: E402
from servers import LocalMariaDB, Playground, ServerError  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("files", nargs="+")
    ap.add_argument("--mariadb", action="store_true", help="run against a private MariaDB")
    ap.add_argument("--port", type=int, help="run against a server already on 127.0.0.1:PORT")
    ap.add_argument("--engine", action="append", default=[],
                    help="engine name for skipif/onlyif with --port")
    ap.add_argument("--bin-dir", help="Tessera build directory (default: TESSERA_* or build/)")
    ap.add_argument("--keep", action="store_true", help="keep the cluster's data directory")
    opts = ap.parse_args()

    server = None
    try:
        if opts.port:
            port, engines = opts.port, opts.engine
        elif opts.mariadb:
            server = LocalMariaDB()
            port, engines = server.port, ["mariadb"]
            print("# MariaDB %s on port %d" % (server.version, port), flush=True)
        else:
            server = Playground(bin_dir=opts.bin_dir, keep=opts.keep)
            port, engines = server.port, ["tessera"]
            print("# Tessera playground on port %d (%s)" % (port, server.dir), flush=True)
    except ServerError as e:
        print("not ok 1 - start the server\n# " + str(e).replace("\n", "\n# "))
        print("1..1")
        return 1
    try:
        args = ["--port", str(port)] + ["--engine=" + e for e in engines] + opts.files
        rc = slt.main(args)
        if isinstance(server, Playground) and not server.alive():
            print("# the playground stopped during the run:\n# " +
                  server.playground_output()[-3000:].replace("\n", "\n# "))
            rc = 1
        if rc and isinstance(server, Playground):
            sys.stderr.write(server.logs_tail(20) + "\n")
        return rc
    finally:
        if server is not None:
            server.cleanup()


if __name__ == "__main__":
    sys.exit(main())
