"""Fixtures of the MySQL end-to-end tests."""
import pytest

from tessera_mysql import Sqlnode


def finish(s):
    """Stops a server with SIGTERM and checks that it shut down cleanly: exit status 0 and no
    sanitizer report in its log (when the tests run against an ASan/UBSan build)."""
    code = s.stop()
    log = s.log_text()
    s.cleanup()
    assert code == 0, f"sqlnode exited {code}\n{log[-3000:]}"
    for marker in ("AddressSanitizer", "LeakSanitizer", "runtime error:"):
        assert marker not in log, log[-5000:]

USERS = "alice:caching_sha2_password:apw,bob:mysql_native_password:bpw"


@pytest.fixture(scope="module")
def server():
    """One sqlnode for the module: root without a password, plus a caching_sha2 and a native
    account."""
    s = Sqlnode(f"--users={USERS}")
    yield s
    finish(s)


@pytest.fixture
def make_server():
    """Starts extra servers with given flags; all are stopped after the test."""
    started = []

    def make(*args):
        s = Sqlnode(*args)
        started.append(s)
        return s

    yield make
    for s in started:
        finish(s)

