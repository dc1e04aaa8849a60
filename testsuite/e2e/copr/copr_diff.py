#!/usr/bin/python3
"""copr_diff.py — the coprocessor's differential test (issue #9).

Starts a Tessera cluster (pd + 3 kvnodes + sqlnode, real processes on free 127.0.0.1 ports) and a
private MariaDB, creates the same table in both from a seeded generator, splits Tessera's table
into --regions regions (copr_split: rows cut at evenly spaced handles), then runs --queries
random single-table queries, each three ways: Tessera with `SET tessera_copr_pushdown = ON`,
Tessera with OFF, MariaDB. The results must be identical. Prints TAP (one line per query, plus
the setup steps) and `queries N, mismatches M, pushdown-on/off/mariadb`; every mismatch prints
the seed, the query and the three results.

  copr_diff.py [--queries 400] [--seed S] [--rows 3000] [--regions 4] [--bin-dir build]
               [--gaps] [--verbose] [--only Q]...

The table: `id INT PRIMARY KEY` (the handle), i INT (-100..100, low cardinality, indexed),
b BIGINT (up to ±10^12), u INT UNSIGNED (up to 4294967295), d DECIMAL(10,2), f DOUBLE (3
decimals, up to ±10^6), s VARCHAR(20) (letters, digits, `_ % \\ `, é ü ß ж 中, trailing and
leading spaces; indexed; utf8mb4_bin in MariaDB, which is Tessera's only collation), vb
VARBINARY(16) (bytes including 00, 20, 5f, ff), dt DATE, ts DATETIME; ~30 % NULLs in every
column but id.

Queries: row queries `SELECT items FROM t WHERE p [ORDER BY x [DESC], id [LIMIT n [OFFSET m]]]`,
aggregates `SELECT aggs FROM t [WHERE p]`, and grouped aggregates `SELECT g, aggs FROM t [WHERE p]
GROUP BY g [HAVING h] [ORDER BY g LIMIT n]` with COUNT(*), COUNT(c), SUM, MIN, MAX, AVG.
Predicates: = <> != < <= > >= <=> against constants of the column's type and of other numeric
types (2.5, 25e-1, '12' against a number column), column-to-column comparisons, NULL constants,
AND / OR / NOT, [NOT] IN lists (with NULLs), [NOT] BETWEEN, [NOT] LIKE with % _ and escapes
(`\\_`, `ESCAPE '!'`), IS [NOT] NULL, + - * on numeric columns, ABS, IFNULL, COALESCE, LENGTH.

Excluded constructs (known Tessera gaps documented in docs/sql-layer.md, issue #8; each would
give a mismatch on pushdown OFF already, so it says nothing about the coprocessor; --gaps puts
the first two back, and the two bugs below, to measure them):
- a string compared with a number anywhere but as a top-level AND-part of WHERE ("Comparison
  coercion": IN lists, BETWEEN, OR/NOT branches keep SQLite's affinity rules, where every number
  sorts before every text). The generator puts `s op number` only as the first top-level
  conjunct.
- arithmetic on DECIMAL outside the select list ("Numeric results", known gaps: WHERE, HAVING
  and ORDER BY arithmetic is SQLite's double arithmetic; `d * 3 = 0.3` differs). DECIMAL
  arithmetic appears in select items only, where it is exact.
- `/`, DIV and MOD: exact division exists in the select list only (same section).
- a DATE or DATETIME column compared with a literal of the other shape (`dt = '2024-01-02'` on
  a DATETIME compares text in SQLite, "Other affinities and known gaps"): temporal literals are
  always in the column's canonical form.
- PAD SPACE between two expressions that are not both plain columns ("Comparison coercion",
  PAD SPACE): strings are compared only as a plain column against a literal (IFNULL(s, 'x') = 'y'
  would compare bytes).
Excluded because this test found them to be bugs of the SQL layer on main (pushdown off too;
docs/coprocessor.md, "Differential test, acceptance and benchmark"):
- a VARBINARY column against a text literal (`vb = 'ab'` never matches: SQLite orders every
  TEXT before every BLOB): VARBINARY constants are hex literals X'..'.
- a DECIMAL column inside a function in WHERE (`ABS(d) < 5`, `IFNULL(d, 0) > 5`: the column's
  exact TEXT compared with a number): only `d` and `-d` there.
Excluded because MySQL itself gives an error or an undetermined answer:
- subtraction involving INT UNSIGNED (a negative result is error 1690 in MySQL), and arithmetic
  reaching beyond BIGINT (error 1690; SQLite makes a double): constants are small and b stays
  within ±10^12.
- LIMIT without an ORDER BY that ends in the primary key (the rows are not determined).
MariaDB runs every query with `IGNORE INDEX (ki, ks)`: MariaDB 10.11 answers `i = -84.5` on the
indexed INT i with the rows where i = -85 (MySQL: none; MariaDB without the index: none).
Normalisations (each where MySQL/MariaDB may legitimately answer differently):
- order-insensitive comparison (rows sorted) unless the query has ORDER BY;
- numbers compared as numbers: `2.50` equals `2.5` (scale/printing is covered by
  testsuite/sql/numeric.test, not here), integer and decimal texts exactly;
- DOUBLE results (anything typed DOUBLE: f, arithmetic on f, SUM/AVG of f) equal within a relative
  1e-9: SUM of doubles depends on the order of the additions, which differs between MariaDB and
  Tessera and between pushdown on (partial sums per region) and off;
- in queries that GROUP BY s or take MIN/MAX of s, trailing spaces of s values are dropped:
  under PAD SPACE `'a'` and `'a '` are equal, so which of them represents the group (or is the
  minimum) is not determined by SQL.
Between pushdown ON and OFF the comparison is exact on the bytes except for the DOUBLE tolerance,
the row order without ORDER BY, and the trailing spaces of s in the queries named above.
"""
import argparse
import datetime
import decimal
import os
import random
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import coprlib  # noqa: E402
import pymysql  # noqa: E402

DB = "copr"
COLUMNS = ["id", "i", "b", "u", "d", "f", "s", "vb", "dt", "ts"]
KIND = {"id": "int", "i": "int", "b": "int", "u": "uint", "d": "dec", "f": "float", "s": "str",
        "vb": "bin", "dt": "date", "ts": "datetime"}
CREATE = ("CREATE TABLE t (id INT PRIMARY KEY, i INT, b BIGINT, u INT UNSIGNED, d DECIMAL(10,2), "
          "f DOUBLE, s VARCHAR(20){coll}, vb VARBINARY(16), dt DATE, ts DATETIME, "
          "KEY ki (i), KEY ks (s))")
STR_CHARS = ["a", "b", "c", "A", "B", "x", "0", "1", "2", "5", "_", "%", "\\", " ", "é", "ü", "ß",
             "ж", "中", "."]
BIN_BYTES = [0x00, 0x20, 0x41, 0x61, 0x62, 0x5f, 0x25, 0x7f, 0x80, 0xff]
DATE0 = datetime.date(1995, 1, 1)
NULL_RATE = 0.3
# MariaDB 10.11 answers `i = -84.5` on the indexed INT column i with the rows where i = -85 (ref
# access on the rounded constant, no recheck; without the index it gives MySQL's 0 rows), so its
# queries run with IGNORE INDEX: the same answer by SQL's definition, without its index paths.
MARIADB_FROM = re.compile(r" FROM t\b")


# ---- data ----------------------------------------------------------------------------------

def gen_str(r):
    k = r.random()
    if k < 0.1:
        return r.choice(["", " ", "  "])
    if k < 0.2:  # numeric-looking strings for string/number comparisons
        return r.choice(["12", "3.5", " 7", "-4", "12abc", "0", "1e2", "5 "])
    n = r.randint(1, 8)
    s = "".join(r.choice(STR_CHARS) for _ in range(n))
    if r.random() < 0.25:
        s += " " * r.randint(1, 3)
    return s[:20]


def gen_value(r, col, rowid):
    if col == "id":
        return rowid
    if r.random() < NULL_RATE:
        return None
    if col == "i":
        return r.randint(-100, 100)
    if col == "b":
        return r.choice([r.randint(-1000, 1000), r.randint(-10**12, 10**12)])
    if col == "u":
        return r.choice([r.randint(0, 5000), r.randint(0, 4294967295), 0, 4294967295])
    if col == "d":
        cents = r.choice([r.randint(-100000, 100000), r.randint(-9999999999, 9999999999)])
        return decimal.Decimal(cents).scaleb(-2)
    if col == "f":
        return r.choice([round(r.uniform(-1000, 1000), 3), round(r.uniform(-1e6, 1e6), 1),
                         float(r.randint(-50, 50)), r.choice([0.1, 0.2, 0.3, -0.5, 2.5])])
    if col == "s":
        return gen_str(r)
    if col == "vb":
        return bytes(r.choice(BIN_BYTES) for _ in range(r.randint(0, 6)))
    if col == "dt":
        return DATE0 + datetime.timedelta(days=r.randint(0, 12000))
    if col == "ts":
        return (datetime.datetime(1995, 1, 1) +
                datetime.timedelta(seconds=r.randint(0, 12000 * 86400)))
    raise ValueError(col)


def lit(v):
    """SQL literal of a Python value, the same text for Tessera and MariaDB."""
    if v is None:
        return "NULL"
    if isinstance(v, bytes):
        return "X'%s'" % v.hex()
    if isinstance(v, str):
        return "'" + v.replace("\\", "\\\\").replace("'", "''") + "'"
    if isinstance(v, datetime.datetime):
        return "'%s'" % v.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(v, datetime.date):
        return "'%s'" % v.isoformat()
    if isinstance(v, float):
        return repr(v)
    return str(v)


def gen_rows(seed, nrows):
    r = random.Random("rows:%s" % seed)
    return [tuple(gen_value(r, c, rid) for c in COLUMNS) for rid in range(1, nrows + 1)]


# ---- queries -------------------------------------------------------------------------------

class Gen:
    """Random queries over the table; `data` (the rows) supplies constants that hit."""

    def __init__(self, r, data, gaps):
        self.r = r
        self.data = data
        self.gaps = gaps

    def sample(self, col):
        """A value of the column: mostly one that occurs, sometimes a fresh random one."""
        r = self.r
        if r.random() < 0.7:
            v = self.data[r.randrange(len(self.data))][COLUMNS.index(col)]
            if v is not None:
                return v
        v = None
        while v is None:
            v = gen_value(r, col, r.randint(1, 10**6))
        return v

    def const(self, col, plain=True):
        """A constant to compare `col` with: its own type mostly, other numeric types too. A
        numeric string ('12') only against a plain column (`plain`), whose affinity converts it;
        against an expression it is the string/number gap of the header."""
        r = self.r
        v = self.sample(col)
        k = KIND[col]
        x = r.random()
        if k in ("int", "uint"):
            if x < 0.15:
                return "%d.5" % v  # a DECIMAL between two integers
            if x < 0.25:
                return "%de0" % v  # a DOUBLE
            if x < 0.32 and plain:
                return "'%d'" % v  # a numeric string (the column's affinity converts it)
            if x < 0.36:
                return "-1"
            return str(v)
        if k == "dec":
            if x < 0.15:
                return str(int(v))
            if x < 0.25:
                return "%se0" % v
            if x < 0.3 and plain:
                return "'%s'" % v
            return str(v)
        if k == "float":
            if x < 0.2:
                return str(int(v))
            if x < 0.3:
                return str(decimal.Decimal(repr(v)))
            return repr(v)
        if k == "bin" and self.gaps and x < 0.3:
            try:  # the same bytes as a text literal (a Tessera bug today, see the header)
                return lit(v.decode())
            except UnicodeDecodeError:
                pass
        return lit(v)

    def num_expr(self, where):
        """(sql, kind) of a numeric expression. In WHERE/HAVING/ORDER BY no DECIMAL arithmetic."""
        r = self.r
        col = r.choice(["i", "i", "b", "u", "d", "f", "id"])
        k = KIND[col]
        x = r.random()
        if x < 0.45:
            return col, k
        c = r.randint(1, 9)
        if k == "dec" and where and not self.gaps:
            return ("d" if x < 0.8 else "-d"), "dec"
        if x < 0.6:
            if k == "uint":
                return "(u + %d)" % c, "int"
            return "(%s %s %d)" % (col, r.choice("+-"), c), ("float" if k == "float" else
                                                           "dec" if k == "dec" else "int")
        if x < 0.72:
            return "(%s * %d)" % (col, r.choice([2, 3, -1]) if k != "uint" else 3), (
                "float" if k == "float" else "dec" if k == "dec" else "int")
        if x < 0.8 and col in ("i", "b", "id"):
            other = r.choice(["i", "b", "id"])
            return "(%s %s %s)" % (col, r.choice("+-"), other), "int"
        if x < 0.88:
            return "ABS(%s)" % col, k if k != "uint" else "int"
        if x < 0.94:
            return "IFNULL(%s, %d)" % (col, c), k
        return "COALESCE(%s, %s, %d)" % (col, r.choice(["i", "b"]) if k == "int" else col, c), k

    def leaf(self):
        """One predicate."""
        r = self.r
        x = r.random()
        col = r.choice(COLUMNS[1:] + ["i", "s", "d"])
        k = KIND[col]
        not_ = "NOT " if r.random() < 0.2 else ""
        if self.gaps and r.random() < 0.06:  # string/number anywhere, IN and BETWEEN included
            return r.choice(["s %s %s" % (r.choice(["=", "<", ">"]), r.choice(["0", "12", "3.5"])),
                             "s IN (12, 0, 3.5)", "s BETWEEN 0 AND 20", "i = '5abc'"])
        if x < 0.12:
            return "%s IS %sNULL" % (col, not_)
        if x < 0.42:
            op = r.choice(["=", "<>", "!=", "<", "<=", ">", ">=", "<=>", "=", "<"])
            if k in ("int", "uint", "dec", "float") and r.random() < 0.5:
                e, ek = self.num_expr(True)
                cc = r.choice(["i", "b", "d", "f", "u"]) if ek != "dec" else "d"
                return "%s %s %s" % (e, op, self.const(cc, plain=self.gaps or e == cc))
            if r.random() < 0.05:
                return "%s %s NULL" % (col, op)
            return "%s %s %s" % (col, op, self.const(col))
        if x < 0.5:  # column against column of one class
            a, b = r.choice([("i", "b"), ("i", "id"), ("b", "id"), ("i", "u"), ("d", "i"),
                             ("f", "d"), ("f", "i"), ("dt", "dt")])
            return "%s %s %s" % (a, r.choice(["=", "<", ">=", "<>"]), b)
        if x < 0.64:
            n = r.randint(1, 6)
            items = [self.const(col) if k not in ("int", "uint") else str(self.sample(col))
                     for _ in range(n)]
            if k == "dec":
                items = [str(self.sample(col)) for _ in range(n)]
            if k == "float":
                items = [repr(self.sample(col)) for _ in range(n)]
            if r.random() < 0.3:
                items.insert(r.randrange(n + 1), "NULL")
            return "%s %sIN (%s)" % (col, not_, ", ".join(items))
        if x < 0.76:
            if k == "bin":
                col, k = "s", "str"
            a, b = self.sample(col), self.sample(col)
            if k == "str" and r.random() < 0.5:
                a, b = min(a, b), max(a, b)
            elif k != "str" and a > b and r.random() < 0.8:
                a, b = b, a
            if k == "float":
                la, lb = repr(a), repr(b)
            elif k == "dec":
                la, lb = str(a), str(b)
            else:
                la, lb = lit(a), lit(b)
            return "%s %sBETWEEN %s AND %s" % (col, not_, la, lb)
        if x < 0.9:
            return "%s %sLIKE %s" % (r.choice(["s", "s", "s", "vb"]), not_, self.like_pattern())
        if x < 0.96:
            e = r.choice(["LENGTH(s)", "LENGTH(vb)", "IFNULL(LENGTH(s), -1)"])
            return "%s %s %d" % (e, r.choice(["=", "<", ">"]), r.randint(0, 8))
        e, _ = self.num_expr(True)
        return "%s IS %sNULL" % (e, not_)

    def like_pattern(self):
        r = self.r
        base = self.sample("s")
        out = []
        for ch in base[:r.randint(0, 4)]:
            y = r.random()
            if y < 0.2:
                out.append("_")
            elif ch in "_%" and y < 0.6:
                out.append("\\" + ch)  # an escaped wildcard: matches the character itself
            elif ch == "\\":
                out.append("\\\\")
            else:
                out.append(ch)
        pat = "".join(out)
        y = r.random()
        if y < 0.5:
            pat += "%"
        elif y < 0.7:
            pat = "%" + pat + "%"
        elif y < 0.8:
            pat += "_"
        if r.random() < 0.1:  # ESCAPE '!': the same pattern with '!' as the escape character
            p2 = pat.replace("\\\\", "\x00").replace("\\", "!").replace("\x00", "\\")
            return lit(p2) + " ESCAPE '!'"
        return "'" + pat.replace("'", "''").replace("\\", "\\\\") + "'"

    def pred(self, depth=0):
        r = self.r
        x = r.random()
        if depth < 3 and x < 0.35:
            return "(%s %s %s)" % (self.pred(depth + 1), r.choice(["AND", "OR"]),
                                   self.pred(depth + 1))
        if depth < 3 and x < 0.42:
            return "NOT (%s)" % self.pred(depth + 1)
        return self.leaf()

    def where(self):
        r = self.r
        if r.random() < 0.08:
            return ""
        parts = []
        if r.random() < 0.08:  # string against number: only as the first top-level part
            parts.append("s %s %s" % (r.choice(["=", "<", ">", "<>"]),
                                      r.choice(["0", "12", "3.5", "7", "-4", "100"])))
        for _ in range(r.choice([1, 1, 1, 2, 2, 3])):
            parts.append(self.pred())
        return " WHERE " + " AND ".join(parts)

    def item(self):
        """A select item of a row query: (sql, kind)."""
        r = self.r
        x = r.random()
        if x < 0.6:
            c = r.choice(COLUMNS)
            return c, KIND[c]
        if x < 0.85:
            e, k = self.num_expr(False)
            if r.random() < 0.2:  # DECIMAL arithmetic is exact in the select list
                return "(d %s %s)" % (r.choice("+-*"), r.choice(["1", "2.5", "i"])), "dec"
            return e, k
        return r.choice([("LENGTH(s)", "int"), ("LENGTH(vb)", "int"), ("COALESCE(s, 'none')",
                         "str"), ("IFNULL(dt, '2000-01-01')", "date")])

    def agg(self, allow_str=True):
        r = self.r
        x = r.random()
        if x < 0.18:
            return "COUNT(*)", "int"
        if x < 0.3:
            c = r.choice(COLUMNS[1:])
            return "COUNT(%s)" % c, "int"
        if x < 0.55:
            c = r.choice(["i", "b", "u", "d", "f", "id"])
            k = "float" if c == "f" else "dec"
            if r.random() < 0.2 and c in ("i", "b"):
                return "SUM(%s * 2)" % c, k
            return "SUM(%s)" % c, k
        if x < 0.7:
            c = r.choice(["i", "b", "u", "d", "f"])
            return "AVG(%s)" % c, "float" if c == "f" else "dec"
        fn = r.choice(["MIN", "MAX"])
        c = r.choice(COLUMNS[1:] if allow_str else ["i", "b", "u", "d", "f", "dt", "ts"])
        return "%s(%s)" % (fn, c), KIND[c] if KIND[c] != "uint" else "int"

    def query(self):
        """(sql, kinds, ordered, strip_s) — strip_s: values of s compared without trailing
        spaces (PAD SPACE makes the representative undetermined)."""
        r = self.r
        x = r.random()
        w = self.where()
        if x < 0.45:
            items = [self.item() for _ in range(r.randint(1, 4))]
            if r.random() < 0.15:
                items = [(c, KIND[c]) for c in COLUMNS]
            sql = "SELECT %s FROM t%s" % (", ".join(i[0] for i in items), w)
            ordered = False
            if r.random() < 0.55:
                ordered = True
                key = r.choice(["id", "i", "b", "u", "d", "f", "s", "vb", "dt", "ts",
                                "(i + b)", "ABS(f)", "LENGTH(s)"])
                dirn = r.choice(["", " DESC"])
                order = " ORDER BY %s%s" % (key, dirn) if key == "id" else \
                    " ORDER BY %s%s, id%s" % (key, dirn, r.choice(["", " DESC"]))
                sql += order
                if r.random() < 0.7:
                    sql += " LIMIT %d" % r.choice([1, 3, 10, 50, 200])
                    if r.random() < 0.25:
                        sql += " OFFSET %d" % r.randint(1, 30)
            return sql, [i[1] for i in items], ordered, False
        if x < 0.7:
            aggs = [self.agg() for _ in range(r.randint(1, 4))]
            sql = "SELECT %s FROM t%s" % (", ".join(a[0] for a in aggs), w)
            strip = any(a[0] in ("MIN(s)", "MAX(s)") for a in aggs)
            return sql, [a[1] for a in aggs], False, strip
        g = r.choice(["i", "i", "u", "s", "dt", "vb", "(i * 2)", "LENGTH(s)"])
        gk = {"i": "int", "u": "int", "s": "str", "dt": "date", "vb": "bin"}.get(g, "int")
        aggs = [self.agg() for _ in range(r.randint(1, 3))]
        sql = "SELECT %s, %s FROM t%s GROUP BY %s" % (g, ", ".join(a[0] for a in aggs), w, g)
        if r.random() < 0.3:
            h = r.choice(["COUNT(*) > %d" % r.randint(0, 30), "SUM(id) > %d" % r.randint(0, 5000),
                          "MIN(id) < %d" % r.randint(0, 3000), "COUNT(i) >= %d" % r.randint(0, 5)])
            sql += " HAVING " + h
        ordered = False
        if r.random() < 0.3:
            sql += " ORDER BY %s%s LIMIT %d" % (g, r.choice(["", " DESC"]), r.randint(1, 20))
            ordered = True
        strip = g == "s" or any(a[0] in ("MIN(s)", "MAX(s)") for a in aggs)
        if g == "s" and ordered:
            ordered = False  # 'a' and 'a ' are one group; ORDER BY s LIMIT keeps either text
            sql = sql.rsplit(" ORDER BY", 1)[0]
        return sql, [gk] + [a[1] for a in aggs], ordered, strip


# ---- comparison ----------------------------------------------------------------------------

def run(conn, sql):
    """(rows, error text)."""
    try:
        with conn.cursor() as cur:
            cur.execute(sql)
            return [tuple(row) for row in cur.fetchall()], None
    except pymysql.err.MySQLError as e:
        return None, "%s %s" % (e.args[0] if e.args else "?", e.args[1] if len(e.args) > 1 else e)


def text(v):
    if v is None:
        return None
    if isinstance(v, (bytes, bytearray)):
        return bytes(v)
    return str(v)


def norm_value(v, kind, strip):
    """The value as compared with MariaDB: ('n', Decimal) for numbers, ('f', float) for doubles,
    text or bytes otherwise (see the header's normalisations)."""
    if v is None:
        return None
    if kind in ("int", "uint", "dec", "float"):
        t = v.decode() if isinstance(v, (bytes, bytearray)) else str(v)
        try:
            d = decimal.Decimal(t)
        except decimal.InvalidOperation:
            return ("?", t)
        if kind == "float":
            return ("f", float(d))
        return ("n", d.normalize() if d != 0 else decimal.Decimal(0))
    if isinstance(v, (bytes, bytearray)):
        v = bytes(v)
        if kind == "bin":
            return v
        try:
            v = v.decode()
        except UnicodeDecodeError:
            return v
    v = str(v)
    if kind == "str" and strip:
        v = v.rstrip(" ")
    return v


def sort_key(row):
    out = []
    for v in row:
        if v is None:
            out.append((0, ""))
        elif isinstance(v, tuple) and v[0] == "f":
            out.append((1, "%.9e" % (v[1] + 0.0)))  # -0.0 sorts as 0.0
        elif isinstance(v, tuple):
            out.append((2, str(v[1])))
        elif isinstance(v, bytes):
            out.append((3, v.hex()))
        else:
            out.append((4, v))
    return out


def same_value(a, b):
    if isinstance(a, tuple) and isinstance(b, tuple) and a[0] == "f" and b[0] == "f":
        if a[1] == b[1]:
            return True
        return abs(a[1] - b[1]) <= 1e-9 * max(abs(a[1]), abs(b[1]))
    return a == b


def same_rows(ra, rb, ordered):
    if ra is None or rb is None:
        return ra is None and rb is None
    if len(ra) != len(rb):
        return False
    if not ordered:
        ra, rb = sorted(ra, key=sort_key), sorted(rb, key=sort_key)
    for x, y in zip(ra, rb):
        if len(x) != len(y) or not all(same_value(p, q) for p, q in zip(x, y)):
            return False
    return True


def norm_rows(rows, kinds, strip):
    if rows is None:
        return None
    return [tuple(norm_value(v, kinds[j] if j < len(kinds) else "str", strip)
                  for j, v in enumerate(row)) for row in rows]


def raw_rows(rows, kinds, strip=False):
    """Rows for ON-vs-OFF: exact texts, but doubles as ('f', value) for the tolerance, and s
    without trailing spaces where `strip` (PAD SPACE leaves the representative open)."""
    if rows is None:
        return None

    def one(j, v):
        k = kinds[j] if j < len(kinds) else "str"
        if v is None:
            return None
        if k == "float":
            return ("f", float(text(v)))
        if k == "str" and strip and isinstance(v, str):
            return v.rstrip(" ")
        return text(v)
    return [tuple(one(j, v) for j, v in enumerate(row)) for row in rows]


def first_difference(ra, rb, ordered):
    """Where two row lists part (after sorting when unordered), for the mismatch report."""
    if ra is None or rb is None:
        return ""
    if not ordered:
        ra, rb = sorted(ra, key=sort_key), sorted(rb, key=sort_key)
    for n, (x, y) in enumerate(zip(ra, rb)):
        if len(x) != len(y) or not all(same_value(p, q) for p, q in zip(x, y)):
            return "\nfirst difference at %srow %d: %r vs %r" % (
                "" if ordered else "sorted ", n, x, y)
    return "\n%d rows vs %d rows" % (len(ra), len(rb))


def show(rows, err, limit=12):
    if err is not None:
        return "ERROR " + err
    s = "%d rows: %s" % (len(rows), ", ".join(repr(r) for r in rows[:limit]))
    return s + (" …" if len(rows) > limit else "")


# ---- main ----------------------------------------------------------------------------------

class Tap:
    def __init__(self):
        self.n = 0
        self.failed = 0

    def ok(self, cond, name, diag=""):
        self.n += 1
        if not cond:
            self.failed += 1
        print("%s %d - %s" % ("ok" if cond else "not ok", self.n, name))
        if diag and (not cond):
            print("# " + diag.replace("\n", "\n# "))
        sys.stdout.flush()
        return cond

    def done(self):
        print("1..%d" % self.n)
        sys.stdout.flush()


def load(conns, rows, batch=500):
    create = [CREATE.format(coll=""), CREATE.format(coll=" COLLATE utf8mb4_bin")]
    for conn, ddl in zip(conns, create):
        with conn.cursor() as cur:
            cur.execute("DROP DATABASE IF EXISTS " + DB)
            cur.execute("CREATE DATABASE " + DB)
            cur.execute("USE " + DB)
            cur.execute(ddl)
    for k in range(0, len(rows), batch):
        sql = "INSERT INTO t (%s) VALUES %s" % (
            ",".join(COLUMNS), ",".join("(" + ",".join(lit(v) for v in row) + ")"
                                       for row in rows[k:k + batch]))
        for conn in conns:
            with conn.cursor() as cur:
                cur.execute(sql)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--queries", type=int, default=400)
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--rows", type=int, default=3000)
    ap.add_argument("--regions", type=int, default=4)
    ap.add_argument("--bin-dir", help="Tessera build directory (default: TESSERA_* from env)")
    ap.add_argument("--gaps", action="store_true",
                    help="also generate the excluded string/number and DECIMAL-arithmetic forms")
    ap.add_argument("--time-limit", type=float, default=1800, help="stop querying after N s")
    ap.add_argument("--verbose", action="store_true", help="print every query")
    ap.add_argument("--only", type=int, action="append", default=[],
                    help="run only query number N of the seed's sequence (repeatable; replay)")
    opts = ap.parse_args(argv)
    seed = opts.seed if opts.seed is not None else int(time.time()) % 1000000
    print("# copr_diff seed %d (replay: --seed %d --rows %d --regions %d --queries %d)" %
          (seed, seed, opts.rows, opts.regions, opts.queries), flush=True)
    tap = Tap()
    tess = maria = None
    try:
        try:
            tess = coprlib.Tessera(bin_dir=opts.bin_dir)
            maria = coprlib.start_mariadb(snapshot_isolation=False)
        except Exception as e:  # noqa: BLE001 — reported as a failed TAP line
            tap.ok(False, "start Tessera and MariaDB", str(e)[-3000:])
            tap.done()
            return 1
        tap.ok(True, "start Tessera (sqlnode :%d) and MariaDB %s (:%d)" %
               (tess.port, maria.version, maria.port))
        rows = gen_rows(seed, opts.rows)
        c_on, c_off = tess.connect(), tess.connect()
        c_m = coprlib.maria_connect(maria)
        t0 = time.time()
        load([c_on, c_m], rows)
        tap.ok(True, "loaded %d rows into both in %.1f s" % (len(rows), time.time() - t0))
        step = max(1, opts.rows // opts.regions)
        handles = [1 + step * k for k in range(1, opts.regions)]
        try:
            n = tess.split(DB, "t", handles)
            tap.ok(n == len(handles), "split t into %d regions at handles %s" %
                   (n + 1, handles))
        except Exception as e:  # noqa: BLE001
            tap.ok(False, "split t into %d regions" % opts.regions, str(e))
        for c, on in ((c_on, True), (c_off, False)):
            with c.cursor() as cur:
                cur.execute("USE " + DB)
                cur.execute("SET tessera_copr_pushdown = %s" % ("ON" if on else "OFF"))
        with c_m.cursor() as cur:
            cur.execute("USE " + DB)
        waited, first = tess.wait_readable(c_off, "SELECT COUNT(*) FROM t")
        tap.ok(True, "the table is readable %.1f s after the split%s" %
               (waited, " (until then: %s)" % first if first else ""))
        # The stored rows read back identically (values, NULLs, trailing spaces, bytes).
        full = "SELECT %s FROM t ORDER BY id" % ", ".join(COLUMNS)
        kinds = [KIND[c] for c in COLUMNS]
        a, ea = run(c_off, full)
        m, em = run(c_m, full)
        tap.ok(ea is None and em is None and
               same_rows(norm_rows(a, kinds, False), norm_rows(m, kinds, False), True),
               "every stored row reads back as in MariaDB", "tessera %s\nmariadb %s" %
               (show(a, ea, 3), show(m, em, 3)))

        metrics = ["tessera_kv_copr_requests_total", "tessera_kv_copr_rows_scanned_total",
                   "tessera_kv_copr_rows_returned_total", coprlib.BYTES_METRIC]
        before = [tess.kv_metric(name) for name in metrics]
        gen = Gen(random.Random("queries:%s" % seed), rows, opts.gaps)
        mism = {"on/off": 0, "mariadb": 0}
        errors_both = 0
        done = 0
        t0 = time.time()
        for q in range(opts.queries):
            if time.time() - t0 > opts.time_limit:
                print("# time limit reached after %d queries" % q)
                break
            sql, kinds, ordered, strip = gen.query()
            if opts.only and q not in opts.only:
                continue
            if opts.verbose:
                print("# q%d: %s" % (q, sql))
            r_on, e_on = run(c_on, sql)
            r_off, e_off = run(c_off, sql)
            r_m, e_m = run(c_m, MARIADB_FROM.sub(" FROM t IGNORE INDEX (ki, ks)", sql, 1))
            done += 1
            onoff = (e_on is None) == (e_off is None) and \
                same_rows(raw_rows(r_on, kinds, strip), raw_rows(r_off, kinds, strip), ordered)
            if e_on is not None and e_off is not None:
                onoff = True  # both refused it: compared with MariaDB below
            vs_m = (e_off is None) == (e_m is None) and (
                e_m is not None or
                same_rows(norm_rows(r_off, kinds, strip), norm_rows(r_m, kinds, strip), ordered))
            if e_off is not None and e_m is not None:
                errors_both += 1
            if not onoff:
                mism["on/off"] += 1
            if not vs_m:
                mism["mariadb"] += 1
            what = [] if onoff else ["pushdown ON differs from OFF"]
            what += [] if vs_m else ["Tessera differs from MariaDB"]
            tap.ok(onoff and vs_m, "q%d %s" % (q, "; ".join(what) or "same"),
                   "seed %d query %d: %s\non:      %s\noff:     %s\nmariadb: %s%s" %
                   (seed, q, sql, show(r_on, e_on), show(r_off, e_off), show(r_m, e_m),
                    first_difference(raw_rows(r_on, kinds, strip), raw_rows(r_off, kinds, strip),
                                     ordered)
                    if not onoff else
                    first_difference(norm_rows(r_off, kinds, strip),
                                     norm_rows(r_m, kinds, strip), ordered)))
        secs = time.time() - t0
        alive = all(p.poll() is None for p in tess.cluster.procs.values())
        tap.ok(alive, "every Tessera process still runs", tess.log_tail(20))
        after = [tess.kv_metric(name) for name in metrics]
        if None in before or None in after:
            print("# kvnode coprocessor metrics: missing")
        else:
            print("# kvnode coprocessor during the queries: %d requests, %d rows scanned, "
                  "%d rows returned, %d bytes returned" %
                  tuple(int(y - x) for x, y in zip(before, after)))
        total = mism["on/off"] + mism["mariadb"]
        print("# queries %d, mismatches %d, pushdown-on/off/mariadb (on≠off %d, "
              "tessera≠mariadb %d; refused by both %d) in %.1f s, seed %d" %
              (done, total, mism["on/off"], mism["mariadb"], errors_both, secs, seed))
        tap.done()
        return 0 if tap.failed == 0 else 1
    finally:
        if tess is not None:
            tess.cleanup()
        if maria is not None:
            maria.cleanup()


if __name__ == "__main__":
    sys.exit(main())
