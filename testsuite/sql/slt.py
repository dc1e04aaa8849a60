#!/usr/bin/python3
"""slt.py — Tessera's runner for SQL logic tests in SQLite's sqllogictest format, speaking the
MySQL protocol through PyMySQL. Used against a Tessera cluster (the e2e suite) and against a
private MariaDB (to check that the expected results are MySQL's).

Records (separated by blank lines; `#` starts a comment line):
  statement ok                      the SQL must succeed
  statement error [ERRNO [TEXT]]    the SQL must fail; with ERRNO, with that MySQL error number;
                                    with TEXT too, the message must contain TEXT (extension)
  query TYPES [nosort|rowsort|valuesort] [LABEL]
  SQL...
  ----
  expected values
  hash-threshold N                  results with more than N values compare as an MD5 hash
  skipif ENGINE / onlyif ENGINE     condition lines before a record
  halt                              stop reading the file (may be guarded by onlyif/skipif)
Extensions:
  connection NAME                   later records run on connection NAME (opened on first use,
                                    same database); the first connection is `default`
  connection NAME USER [PASSWORD]   the same, NAME logging in as USER (first use opens it without
                                    a database, then tries USE of the file's database: an account
                                    without privileges there still connects)
  connect error ERRNO USER [PASSWORD]
                                    logging in as USER must fail with ERRNO (e.g. 1045)
  query error ERRNO                 a query record that must fail (no ---- part)

Values are compared exactly as the text protocol returns them: NULL is `NULL`, an empty string
is `(empty)`, bytes outside printable ASCII are kept as UTF-8 (invalid UTF-8 as \\xNN). Expected
values are given one per line (SQLite's layout) or one row per line with tab-separated values;
or as `N values hashing to MD5` (MD5 over each value followed by a newline, after sorting).
TYPES is one letter per column (I, T, R); only its length is checked (the column count), unless
--slt-classic asks for sqllogictest's normalisation (I as integer, R with three decimals).

Engines: the runner is always `mysql`, plus the names given with --engine (e.g. tessera,
mariadb). Output: TAP, one line per record run (records skipped by a condition are not counted).
"""
import argparse
import hashlib
import re
import sys
import time

import pymysql


class SltError(Exception):
    pass


# Client errors meaning the server went away or did not answer: can't connect, gone away, lost.
LOST = (2003, 2006, 2013, 2055)
# After this many records in a row lost their connection, the rest of the file is not run.
LOST_IN_A_ROW_MAX = 3


class Record:
    def __init__(self, kind, line, args, sql, expected=None, conditions=()):
        self.kind = kind  # statement, query, hash-threshold, halt, connection
        self.line = line
        self.args = args
        self.sql = sql
        self.expected = expected
        self.conditions = list(conditions)


def parse(path):
    """Splits a .test file into records; raises SltError on a malformed record."""
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    records, i, n = [], 0, len(lines)
    while i < n:
        line = lines[i].rstrip("\r")
        if not line.strip() or line.lstrip().startswith("#"):
            i += 1
            continue
        start = i
        conditions = []
        while line.split()[0] in ("skipif", "onlyif"):
            parts = line.split()
            if len(parts) < 2:
                raise SltError("%s:%d: %s needs an engine name" % (path, i + 1, parts[0]))
            conditions.append((parts[0], parts[1]))
            i += 1
            if i >= n or not lines[i].strip():
                raise SltError("%s:%d: condition without a record" % (path, start + 1))
            line = lines[i].rstrip("\r")
        words = line.split()
        head = i + 1
        i += 1
        if words[0] == "hash-threshold" or (words[0] == "connection" and len(words) != 3):
            if len(words) != 2 and not (words[0] == "connection" and len(words) == 4):
                raise SltError("%s:%d: %s needs one argument" % (path, head, words[0]))
            records.append(Record(words[0], head, words[1:], None, None, conditions))
            continue
        if words[0] == "connection":  # connection NAME USER (no password)
            records.append(Record(words[0], head, words[1:], None, None, conditions))
            continue
        if words[0] == "connect":
            if len(words) not in (4, 5) or words[1] != "error" or not words[2].isdigit():
                raise SltError("%s:%d: expected connect error ERRNO USER [PASSWORD]" %
                               (path, head))
            records.append(Record("connect", head, words[2:], None, None, conditions))
            continue
        if words[0] == "halt":
            records.append(Record("halt", head, [], None, None, conditions))
            continue
        if words[0] not in ("statement", "query"):
            raise SltError("%s:%d: unknown record %r" % (path, head, line))
        sql, expected = [], None
        while i < n and lines[i].strip():
            if lines[i].rstrip("\r") == "----":
                expected = []
                i += 1
                while i < n and lines[i].strip():
                    expected.append(lines[i].rstrip("\r"))
                    i += 1
                break
            sql.append(lines[i].rstrip("\r"))
            i += 1
        if not sql:
            raise SltError("%s:%d: record without SQL" % (path, head))
        if words[0] == "query" and len(words) > 1 and words[1] == "error":
            kind_args = ["error"] + words[2:]
        else:
            kind_args = words[1:]
        if words[0] == "query" and kind_args[:1] != ["error"]:
            if not kind_args:
                raise SltError("%s:%d: query needs column types" % (path, head))
            if expected is None:
                expected = []
        records.append(Record(words[0], head, kind_args, "\n".join(sql), expected, conditions))
    return records


def fmt_value(v, coltype, classic):
    if v is None:
        return "NULL"
    if isinstance(v, (bytes, bytearray)):
        v = bytes(v).decode("utf-8", "backslashreplace")
    s = str(v)
    if classic:
        if coltype == "I":
            try:
                s = "%d" % int(float(s))
            except ValueError:
                s = "0"
        elif coltype == "R":
            try:
                s = "%.3f" % float(s)
            except ValueError:
                s = "0.000"
    if s == "":
        return "(empty)"
    # One value per line: a newline or tab inside a value would shift the comparison.
    return s.replace("\n", "\\n").replace("\t", "\\t")


def md5_of(values):
    h = hashlib.md5()
    for v in values:
        h.update(v.encode("utf-8") + b"\n")
    return h.hexdigest()


class Runner:
    def __init__(self, opts, out):
        self.opts = opts
        self.out = out
        self.engines = {"mysql"} | set(opts.engine or [])
        self.conns = {}
        self.creds = {}  # connection name -> (user, password) from `connection NAME USER PW`
        self.cur_name = "default"
        self.hash_threshold = 0
        self.lost = 0
        self.labels = {}
        self.n = 0
        self.failed = 0
        self.lost = 0

    # ---- connections ----
    def connect(self, database, user=None, password=None):
        deadline = time.time() + self.opts.connect_timeout
        while True:
            try:
                return pymysql.connect(host=self.opts.host, port=self.opts.port,
                                       user=self.opts.user if user is None else user,
                                       password=self.opts.password if user is None
                                       else password or "",
                                       database=database, conv={}, autocommit=True,
                                       connect_timeout=10, read_timeout=self.opts.timeout,
                                       write_timeout=self.opts.timeout, charset="utf8mb4")
            except pymysql.err.OperationalError as e:
                if not e.args or e.args[0] not in LOST or time.time() > deadline:
                    raise
                time.sleep(0.5)

    def conn(self):
        c = self.conns.get(self.cur_name)
        if c is None:
            creds = self.creds.get(self.cur_name)
            if creds is None:
                c = self.connect(self.database)
            else:
                c = self.connect(None, *creds)
                try:
                    with c.cursor() as cur:
                        cur.execute("USE `%s`" % self.database)
                except pymysql.err.MySQLError:
                    pass  # an account without privileges in the database: no current database
            self.conns[self.cur_name] = c
        return c

    def run_connect_error(self, rec, where):
        errno, user = int(rec.args[0]), rec.args[1]
        password = rec.args[2] if len(rec.args) > 2 else ""
        try:
            c = self.connect(None, user, password)
        except pymysql.err.MySQLError as e:
            code = e.args[0] if e.args else None
            if code != errno:
                return self.report(False, where, "expected error %d, got %s: %s" %
                                   (errno, code, e))
            return self.report(True, where)
        try:
            c.close()
        except Exception:
            pass
        return self.report(False, where, "logging in as %s succeeded; expected error %d" %
                           (user, errno))

    def close_all(self):
        for c in self.conns.values():
            try:
                c.close()
            except Exception:
                pass
        self.conns = {}

    # ---- records ----
    def applies(self, rec):
        for kind, engine in rec.conditions:
            if kind == "skipif" and engine in self.engines:
                return False
            if kind == "onlyif" and engine not in self.engines:
                return False
        return True

    def report(self, ok, name, detail=""):
        self.n += 1
        if ok:
            print("ok %d - %s" % (self.n, name), file=self.out, flush=True)
        else:
            self.failed += 1
            print("not ok %d - %s" % (self.n, name), file=self.out, flush=True)
            for line in detail.rstrip().split("\n"):
                print("# " + line, file=self.out, flush=True)

    def execute(self, sql):
        """Runs one SQL text; returns (rows, ncols) or raises pymysql errors. A lost connection
        is dropped (the next record opens a new one) and counted towards giving up."""
        try:
            c = self.conn()
            with c.cursor() as cur:
                cur.execute(sql)
                ncols = len(cur.description) if cur.description else 0
                rows = cur.fetchall() if cur.description else ()
                while cur.nextset():
                    pass
        except pymysql.err.OperationalError as e:
            if e.args and e.args[0] in LOST:
                self.conns.pop(self.cur_name, None)
                self.lost += 1
            raise
        except pymysql.err.InterfaceError:
            self.conns.pop(self.cur_name, None)
            self.lost += 1
            raise
        self.lost = 0
        return list(rows), ncols

    def run_statement(self, rec, where):
        want_error = rec.args[:1] == ["error"]
        errno = int(rec.args[1]) if want_error and len(rec.args) > 1 else None
        text = " ".join(rec.args[2:]) if want_error and len(rec.args) > 2 else None
        try:
            self.execute(rec.sql)
        except pymysql.err.MySQLError as e:
            code = e.args[0] if e.args else None
            msg = e.args[1] if len(e.args) > 1 else str(e)
            if not want_error:
                return self.report(False, where, "unexpected error %s: %s\nSQL: %s" %
                                   (code, msg, rec.sql))
            if errno is not None and code != errno:
                return self.report(False, where, "expected error %d, got %s: %s\nSQL: %s" %
                                   (errno, code, msg, rec.sql))
            if text is not None and text not in str(msg):
                return self.report(False, where, "error message %r lacks %r\nSQL: %s" %
                                   (msg, text, rec.sql))
            if code in LOST:
                return self.report(False, where, "lost the connection: %s\nSQL: %s" % (msg, rec.sql))
            return self.report(True, where)
        if want_error:
            return self.report(False, where, "statement succeeded, expected error %s\nSQL: %s" %
                               (errno if errno is not None else "(any)", rec.sql))
        return self.report(True, where)

    def run_query(self, rec, where):
        if rec.args[:1] == ["error"]:
            return self.run_statement(Record("statement", rec.line, rec.args, rec.sql), where)
        types = rec.args[0]
        sort = rec.args[1] if len(rec.args) > 1 else "nosort"
        label = rec.args[2] if len(rec.args) > 2 else None
        if sort not in ("nosort", "rowsort", "valuesort"):
            return self.report(False, where, "unknown sort mode %r" % sort)
        try:
            rows, ncols = self.execute(rec.sql)
        except pymysql.err.MySQLError as e:
            return self.report(False, where, "query failed: %s\nSQL: %s" % (e, rec.sql))
        if ncols != len(types):
            return self.report(False, where, "query returned %d columns, record says %d (%s)"
                               "\nSQL: %s" % (ncols, len(types), types, rec.sql))
        frows = [[fmt_value(v, types[k], self.opts.slt_classic) for k, v in enumerate(r)]
                 for r in rows]
        if sort == "rowsort":
            frows.sort()
        values = [v for r in frows for v in r]
        if sort == "valuesort":
            values.sort()
        expected = rec.expected
        hashed = len(expected) == 1 and re.fullmatch(r"\d+ values hashing to [0-9a-f]{32}",
                                                      expected[0])
        if hashed or (self.hash_threshold > 0 and len(values) > self.hash_threshold):
            got = "%d values hashing to %s" % (len(values), md5_of(values))
            if label is not None:
                prev = self.labels.setdefault(label, got)
                if prev != got:
                    return self.report(False, where, "label %s: %s, earlier %s" %
                                       (label, got, prev))
            if not hashed and len(expected) == len(values):
                ok = expected == values  # written out in full although above the threshold
            else:
                ok = expected == [got]
            return self.report(ok, where, "expected:\n%s\ngot:\n%s\nSQL: %s" %
                               ("\n".join(expected), got, rec.sql))
        flat = []
        for e in expected:
            flat.extend(e.split("\t") if ncols > 1 and "\t" in e else [e])
        if flat != values:
            return self.report(False, where, "expected:\n%s\ngot:\n%s\nSQL: %s" % (
                "\n".join(expected), "\n".join("\t".join(r) for r in frows)
                if sort != "valuesort" else "\n".join(values), rec.sql))
        return self.report(True, where)

    def run_file(self, path, database):
        self.database = database
        name = path.rsplit("/", 1)[-1]
        records = parse(path)
        for rec in records:
            if not self.applies(rec):
                continue
            where = "%s:%d %s" % (name, rec.line, rec.kind)
            if rec.kind == "halt":
                break
            if rec.kind == "hash-threshold":
                self.hash_threshold = int(rec.args[0])
                continue
            if rec.kind == "connection":
                self.cur_name = rec.args[0]
                if len(rec.args) > 1:
                    creds = (rec.args[1], rec.args[2] if len(rec.args) > 2 else "")
                    if self.creds.get(self.cur_name) != creds:
                        old = self.conns.pop(self.cur_name, None)
                        if old is not None:
                            try:
                                old.close()
                            except Exception:
                                pass
                    self.creds[self.cur_name] = creds
                continue
            if rec.kind == "connect":
                self.run_connect_error(rec, where)
                continue
            try:
                if rec.kind == "statement":
                    self.run_statement(rec, where)
                else:
                    self.run_query(rec, where)
            except pymysql.err.MySQLError as e:
                # Connecting failed (the record's own errors are handled above).
                self.report(False, where, "connection %s: %s" % (self.cur_name, e))
            if self.lost >= LOST_IN_A_ROW_MAX:
                self.report(False, "%s: gave up" % name, "%d records in a row lost the "
                            "connection; the rest of the file is not run" % self.lost)
                break
        self.close_all()
        self.creds = {}
        self.cur_name = "default"
        self.hash_threshold = 0
        self.lost = 0


def prepare_database(opts, database):
    """Drops and creates the database the file runs in (a clean slate per file)."""
    c = pymysql.connect(host=opts.host, port=opts.port, user=opts.user, password=opts.password,
                        autocommit=True, connect_timeout=10, read_timeout=opts.timeout)
    try:
        with c.cursor() as cur:
            cur.execute("DROP DATABASE IF EXISTS `%s`" % database)
            cur.execute("CREATE DATABASE `%s`" % database)
    finally:
        c.close()


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("files", nargs="+")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=4000)
    ap.add_argument("--user", default="root")
    ap.add_argument("--password", default="")
    ap.add_argument("--database", help="run in this existing database (default: a fresh "
                    "database slt_<file> is created for each file)")
    ap.add_argument("--engine", action="append", help="extra engine name for skipif/onlyif")
    ap.add_argument("--slt-classic", action="store_true",
                    help="sqllogictest's normalisation: I as integer, R with three decimals")
    ap.add_argument("--timeout", type=float, default=60, help="seconds per statement")
    ap.add_argument("--connect-timeout", type=float, default=30)
    opts = ap.parse_args(argv)
    runner = Runner(opts, sys.stdout)
    for path in opts.files:
        if opts.database:
            database = opts.database
        else:
            base = path.rsplit("/", 1)[-1].rsplit(".", 1)[0]
            database = "slt_" + re.sub(r"[^A-Za-z0-9_]", "_", base)
            try:
                prepare_database(opts, database)
            except pymysql.err.MySQLError as e:
                runner.report(False, "%s: create database %s" % (path, database), str(e))
                continue
        try:
            runner.run_file(path, database)
        except SltError as e:
            runner.report(False, path, str(e))
    print("1..%d" % runner.n, flush=True)
    print("# %d records, %d failed" % (runner.n, runner.failed), file=sys.stderr)
    return 1 if runner.failed or runner.n == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
