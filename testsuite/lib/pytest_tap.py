#!/usr/bin/python3
"""Runs pytest and prints one TAP line per test case, so tools/test counts cases, not files.

Usage (from meson): /usr/bin/python3 testsuite/lib/pytest_tap.py TESTFILE [pytest args...]
Exit status is pytest's (0 all passed; 5 "no tests collected" is turned into a failure).
Test files receive their arguments through environment variables set in meson.build.
"""
import os
import sys

import pytest


class TapPlugin:
    def __init__(self, out=None):
        self.n = 0
        self.out = out or sys.stdout

    def pytest_runtest_logreport(self, report):
        # A case is reported once: at its call phase, or at setup/teardown when those fail.
        if report.when == "call" or (report.when != "call" and report.failed):
            self.n += 1
            name = report.nodeid.split("::", 1)[-1]
            if report.passed:
                print(f"ok {self.n} - {name}", file=self.out, flush=True)
            elif report.skipped:
                print(f"ok {self.n} - {name} # SKIP", file=self.out, flush=True)
            else:
                print(f"not ok {self.n} - {name} ({report.when})", file=self.out, flush=True)
                for line in str(report.longrepr).splitlines()[-30:]:
                    print(f"# {line}", file=self.out, flush=True)

    def pytest_sessionfinish(self, session, exitstatus):
        print(f"1..{self.n}", file=self.out, flush=True)


if __name__ == "__main__":
    # TAP alone goes to stdout; pytest's progress dots (which would glue onto TAP lines) and
    # anything the tests print go to stderr.
    tap = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    plugin = TapPlugin(tap)
    rc = pytest.main(["-q", "-p", "no:cacheprovider", "-s", *sys.argv[1:]], plugins=[plugin])
    sys.exit(1 if rc == 5 else int(rc))
