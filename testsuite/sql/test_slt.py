"""Unit tests of the sqllogictest runner (slt.py) without a server: a fake connection answers
from a table of canned results, so each test shows that the runner passes what matches and
fails what does not (values, sorting, hashes, labels, error numbers, conditions, connections)."""
import io
import os
import sys
import tempfile
import types

import pymysql
import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import slt  # noqa: E402


class FakeCursor:
    def __init__(self, conn):
        self.conn = conn
        self.description = None
        self.rows = ()

    def __enter__(self):
        return self

    def __exit__(self, *a):
        return False

    def execute(self, sql):
        self.conn.log.append((self.conn.name, sql))
        ans = self.conn.answers.get(sql)
        if isinstance(ans, Exception):
            raise ans
        if ans is None:
            self.description, self.rows = None, ()
        else:
            ncols, rows = ans
            self.description = [("c%d" % i,) for i in range(ncols)]
            self.rows = rows

    def fetchall(self):
        return self.rows

    def nextset(self):
        return None


class FakeConn:
    def __init__(self, name, answers, log):
        self.name, self.answers, self.log = name, answers, log

    def cursor(self):
        return FakeCursor(self)

    def close(self):
        pass


def run(text, answers, engines=()):
    """Runs a .test text against canned answers; returns (tap lines, failed count, log)."""
    opts = types.SimpleNamespace(host="x", port=0, user="root", password="", timeout=5,
                                 connect_timeout=1, engine=list(engines), slt_classic=False)
    out = io.StringIO()
    r = slt.Runner(opts, out)
    log = []
    def connect(db, user=None, password=None, _r=r):
        if user is not None:
            log.append(("login", "%s/%s" % (user, password)))
            if password == "bad":
                raise err(1045, "Access denied")
        return FakeConn(_r.cur_name, answers, log)

    r.connect = connect
    with tempfile.NamedTemporaryFile("w", suffix=".test", delete=False) as f:
        f.write(text)
    try:
        r.run_file(f.name, "db")
    finally:
        os.unlink(f.name)
    return out.getvalue().splitlines(), r.failed, log


def err(code, msg="boom"):
    return pymysql.err.OperationalError(code, msg)


def test_statement_ok_and_error_numbers():
    text = ("statement ok\nCREATE t\n\nstatement error\nBAD\n\nstatement error 1062\nDUP\n\n"
            "statement error 1062 Duplicate entry\nDUP\n")
    lines, failed, _ = run(text, {"BAD": err(1064), "DUP": err(1062, "Duplicate entry '1'")})
    assert failed == 0, lines
    # wrong errno, missing text, unexpected success, unexpected error: four failures
    text = ("statement error 1062\nBAD\n\nstatement error 1062 other text\nDUP\n\n"
            "statement error\nCREATE t\n\nstatement ok\nBAD\n")
    lines, failed, _ = run(text, {"BAD": err(1064), "DUP": err(1062, "Duplicate entry '1'")})
    assert failed == 4, lines


def test_query_values_exact_text():
    ans = {"Q": (2, [("1", "1.50"), ("2", None), ("3", "")])}
    ok = "query IT nosort\nQ\n----\n1\t1.50\n2\tNULL\n3\t(empty)\n"
    assert run(ok, ans)[1] == 0
    per_value = "query IT nosort\nQ\n----\n1\n1.50\n2\nNULL\n3\n(empty)\n"
    assert run(per_value, ans)[1] == 0
    assert run(ok.replace("1.50", "1.5"), ans)[1] == 1  # exact: 1.5 is not 1.50
    assert run(ok.replace("NULL", "(empty)"), ans)[1] == 1
    assert run("query I nosort\nQ\n----\n1\n", ans)[1] == 1  # column count


def test_sort_modes():
    ans = {"Q": (2, [("b", "2"), ("a", "9"), ("c", "1")])}
    assert run("query TI nosort\nQ\n----\nb\t2\na\t9\nc\t1\n", ans)[1] == 0
    assert run("query TI nosort\nQ\n----\na\t9\nb\t2\nc\t1\n", ans)[1] == 1
    assert run("query TI rowsort\nQ\n----\na\t9\nb\t2\nc\t1\n", ans)[1] == 0
    assert run("query TI valuesort\nQ\n----\n1\n2\n9\na\nb\nc\n", ans)[1] == 0


def test_hash_threshold_and_labels():
    vals = [(str(i),) for i in range(10)]
    h = slt.md5_of([v[0] for v in vals])
    ans = {"Q": (1, vals), "Q2": (1, vals), "Q3": (1, vals[:9])}
    text = "hash-threshold 5\n\nquery I nosort L1\nQ\n----\n10 values hashing to %s\n" % h
    assert run(text, ans)[1] == 0
    bad = text.replace(h, "0" * 32)
    assert run(bad, ans)[1] == 1
    # A label ties two results together: Q3 differs from Q.
    text2 = text + "\nquery I nosort L1\nQ3\n----\n9 values hashing to %s\n" % slt.md5_of(
        [v[0] for v in vals[:9]])
    lines, failed, _ = run(text2, ans)
    assert failed == 1 and "label L1" in "\n".join(lines)


def test_conditions_halt_and_connections():
    text = ("onlyif tessera\nstatement ok\nT\n\nskipif tessera\nstatement ok\nM\n\n"
            "connection other\n\nstatement ok\nO\n\nconnection default\n\nstatement ok\nD\n\n"
            "halt\n\nstatement ok\nNEVER\n")
    lines, failed, log = run(text, {}, engines=["tessera"])
    assert failed == 0
    assert log == [("default", "T"), ("other", "O"), ("default", "D")]
    lines, failed, log = run(text, {}, engines=["mariadb"])
    assert [s for _, s in log] == ["M", "O", "D"]


def test_gives_up_after_lost_connections():
    text = "".join("statement ok\nS%d\n\n" % i for i in range(10))
    answers = {"S%d" % i: err(2013, "Lost connection") for i in range(10)}
    lines, failed, log = run(text, answers)
    assert len(log) == slt.LOST_IN_A_ROW_MAX
    assert "gave up" in "\n".join(lines)


def test_malformed_records():
    with pytest.raises(slt.SltError):
        run("query\nSELECT 1\n----\n1\n", {})
    with pytest.raises(slt.SltError):
        run("bogus record\n", {})


def test_connection_as_another_user_and_connect_errors():
    text = ("connection u alice pw\n\nstatement ok\nA\n\nconnection default\n\n"
            "statement ok\nD\n\nconnection u\n\nstatement ok\nA2\n\n"
            "connect error 1045 alice bad\n\nconnect error 1045 alice pw\n\n"
            "connect error 1044 alice bad\n")
    lines, failed, log = run(text, {})
    # one login as alice (then USE of the file's database), reused when the name comes back
    assert log == [("login", "alice/pw"), ("u", "USE `db`"), ("u", "A"), ("default", "D"),
                   ("u", "A2"), ("login", "alice/bad"), ("login", "alice/pw"),
                   ("login", "alice/bad")]
    # the expected 1045 passes; a login that works and a different errno fail
    assert failed == 2
    tap = [ln for ln in lines if ln.startswith(("ok", "not ok"))]
    assert [ln.startswith("ok") for ln in tap[-3:]] == [True, False, False]
    with pytest.raises(slt.SltError):
        run("connect error x alice\n", {})
