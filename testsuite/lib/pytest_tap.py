#!/usr/bin/python3
"""Runs pytest and prints one TAP line per test case, so tools/test counts cases, not files.

Usage (from meson): /usr/bin/python3 testsuite/lib/pytest_tap.py TESTFILE [pytest args...]
Exit status is pytest's (0 all passed; 5 "no tests collected" is turned into a failure).
Test files receive their arguments through environment variables set in meson.build.
"""
import sys

import pytest


class TapPlugin:
    def __init__(self):
        self.n = 0

    def pytest_runtest_logreport(self, report):
        # A case is reported once: at its call phase, or at setup/teardown when those fail.
        if report.when == "call" or (report.when != "call" and report.failed):
            self.n += 1
            name = report.nodeid.split("::", 1)[-1]
            if report.passed:
                print(f"ok {self.n} - {name}", flush=True)
            elif report.skipped:
                print(f"ok {self.n} - {name} # SKIP", flush=True)
            else:
                print(f"not ok {self.n} - {name} ({report.when})", flush=True)
                for line in str(report.longrepr).splitlines()[-30:]:
                    print(f"# {line}", flush=True)

    def pytest_sessionfinish(self, session, exitstatus):
        print(f"1..{self.n}", flush=True)


if __name__ == "__main__":
    plugin = TapPlugin()
    rc = pytest.main(["-q", "-p", "no:cacheprovider", "-s", *sys.argv[1:]], plugins=[plugin])
    sys.exit(1 if rc == 5 else int(rc))
