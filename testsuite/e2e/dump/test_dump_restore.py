"""mariadb-dump and restore through the mariadb CLI (issue 8, "Dump and restore").

A cluster (pd + 3 kvnodes + sqlnode on free ports, binaries from TESSERA_*) gets a database
`src` with every common column type — signed and unsigned integers, DECIMAL, FLOAT/DOUBLE,
CHAR/VARCHAR/TEXT holding quotes, backslashes, newlines and non-ASCII text, BLOB/VARBINARY
holding arbitrary bytes including 0x00, DATE/DATETIME(fsp)/TIMESTAMP/TIME/YEAR, ENUM, SET, BIT,
JSON and NULLs — with a primary key, secondary, composite and unique indexes, 10,000 rows
inserted with PyMySQL's multi-row INSERTs, plus a table without a primary key and a table with
a reserved-word name. `mariadb-dump` runs with its default options (and once more with
--hex-blob), each dump is restored with `mariadb` into a new database, and the restored
databases are compared with the source: a per-table checksum computed here over every row
(order-independent), the row counts, and SHOW CREATE TABLE (AUTO_INCREMENT=N included: the next
value this sqlnode hands out, as MySQL's).
"""
import datetime
import decimal
import hashlib
import json
import os
import random
import re
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "lib"))

import pymysql  # noqa: E402

from cluster import Cluster  # noqa: E402

NROWS = 10000

CREATE_TYPES = """CREATE TABLE types (
  id INT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  ti TINYINT, tu TINYINT UNSIGNED, si SMALLINT, su SMALLINT UNSIGNED, mi MEDIUMINT,
  ii INT NOT NULL DEFAULT 7, bi BIGINT, bu BIGINT UNSIGNED,
  de DECIMAL(20,6), dn DECIMAL(5,0) UNSIGNED, fl FLOAT, db DOUBLE,
  ch CHAR(10), vc VARCHAR(100) NOT NULL DEFAULT '', tx TEXT, mt MEDIUMTEXT,
  bl BLOB, vb VARBINARY(64), bn BINARY(4),
  dt DATE, dtm DATETIME(6), dt0 DATETIME, ts TIMESTAMP(3) NULL DEFAULT NULL, tm TIME(2), yr YEAR,
  en ENUM('red','green','blue','it''s'), st SET('a','b','c','d'), bt BIT(12), bo BOOL,
  js JSON,
  uq BIGINT,
  UNIQUE KEY uk_uq (uq),
  KEY k_vc (vc),
  KEY k_dt_ti (dt, ti),
  KEY k_de (de)
) COMMENT='every common type'"""

CREATE_NOPK = """CREATE TABLE nopk (
  a INT, b VARCHAR(20), c VARBINARY(10),
  d BIT(8) DEFAULT b'1000001', e VARCHAR(10) DEFAULT 'q''\\\\z',
  f DATETIME(2) DEFAULT '2001-02-03 04:05:06.78',
  KEY k_a (a)
)"""

CREATE_ORDER = """CREATE TABLE `order` (
  `key` VARCHAR(32) NOT NULL, `select` INT NOT NULL, note TEXT,
  PRIMARY KEY (`key`, `select`)
)"""

SPECIAL = ["it's", 'say "hi"', "back\\slash", "new\nline", "tab\there", "cr\rhere",
           "zero\x00byte", "ünïcödé ✓ 漢字 😀", "%_like", "';DROP TABLE x;--", "\\'", "\x1a",
           "", " trailing space  "]


def rand_text(rng, n):
    alphabet = "abcXYZ 0189'\"\\\n\r\t%_éü漢😀"
    return "".join(rng.choice(alphabet) for _ in range(n))


def make_row(rng, i):
    """One row of `types` (id i); about one value in eight is NULL."""
    def maybe(v):
        return None if rng.random() < 0.125 else v

    us = rng.randrange(1000000)
    return (
        i,
        maybe(rng.randint(-128, 127)), maybe(rng.randint(0, 255)),
        maybe(rng.randint(-32768, 32767)), maybe(rng.randint(0, 65535)),
        maybe(rng.randint(-8388608, 8388607)),
        rng.randint(-2**31, 2**31 - 1),
        maybe(rng.choice([-2**63, 2**63 - 1, 0, rng.randint(-2**63, 2**63 - 1)])),
        maybe(rng.choice([0, 2**64 - 1, rng.randint(0, 2**64 - 1)])),
        maybe(decimal.Decimal(rng.randint(-10**20 + 1, 10**20 - 1)).scaleb(-6)),
        maybe(decimal.Decimal(rng.randint(0, 99999))),
        maybe(rng.choice([0.0, 1.5, -0.25, 3.0e10, float(rng.randint(-1000, 1000)) / 8])),
        maybe(rng.choice([0.1, -1e-300, 1.7976931348623157e308, 2.5, rng.uniform(-1e6, 1e6)])),
        maybe(rng.choice(SPECIAL[:7] + ["abc", "x"])[:10].rstrip(" ")),
        rng.choice(SPECIAL) if i % 5 == 0 else rand_text(rng, rng.randrange(0, 60)),
        maybe(rand_text(rng, rng.randrange(0, 300)) if i % 3 else rng.choice(SPECIAL)),
        maybe(rand_text(rng, rng.randrange(0, 100))),
        maybe(bytes(rng.randrange(256) for _ in range(rng.randrange(0, 200)))),
        maybe(bytes([0]) + bytes(rng.randrange(256) for _ in range(rng.randrange(0, 40)))),
        maybe(bytes(rng.randrange(256) for _ in range(4))),
        maybe(datetime.date(rng.randint(1000, 9999), rng.randint(1, 12), rng.randint(1, 28))),
        maybe(datetime.datetime(rng.randint(1000, 9999), rng.randint(1, 12), rng.randint(1, 28),
                                rng.randint(0, 23), rng.randint(0, 59), rng.randint(0, 59), us)),
        maybe(datetime.datetime(rng.randint(1970, 2100), 2, 28, 23, 59, 59)),
        maybe(datetime.datetime(rng.randint(1971, 2037), rng.randint(1, 12), rng.randint(1, 28),
                                rng.randint(0, 23), rng.randint(0, 59), rng.randint(0, 59),
                                us // 1000 * 1000)),
        maybe("%s%d:%02d:%02d.%02d" % (rng.choice(["", "-"]), rng.randint(0, 838),
                                       rng.randint(0, 59), rng.randint(0, 59),
                                       rng.randint(0, 99))),
        maybe(rng.choice([1901, 2155, 2000, rng.randint(1901, 2155)])),
        maybe(rng.choice(["red", "green", "blue", "it's"])),
        maybe(",".join(sorted(rng.sample("abcd", rng.randint(0, 4))))),
        maybe(rng.randint(0, 4095)),
        maybe(rng.randint(0, 1)),
        maybe(json.dumps({"i": i, "s": rng.choice(SPECIAL[:9]), "l": [1, 2.5, None, True],
                          "o": {"k": rng.randint(0, 9)}}, ensure_ascii=rng.random() < 0.5)),
        maybe(i * 7919 % 1000003),
    )


@pytest.fixture(scope="module")
def cluster():
    c = Cluster.from_env(nkv=3, nsql=1)
    try:
        yield c
    finally:
        c.cleanup()


def connect(cluster, db=None):
    return pymysql.connect(host="127.0.0.1", port=cluster.sql_ports[0], user="root",
                           database=db, charset="utf8mb4", autocommit=True)


def table_digest(conn, table):
    """(row count, checksum): sha256 over the sorted digests of every row's values, each value
    tagged with its Python type, so NULL, '' and 0 differ and row order does not matter."""
    cur = conn.cursor()
    cur.execute("SELECT * FROM `%s`" % table.replace("`", "``"))
    digests = []
    for row in cur.fetchall():
        h = hashlib.sha256()
        for v in row:
            h.update(type(v).__name__.encode())
            h.update(b"\x01")
            h.update(v if isinstance(v, bytes) else repr(v).encode("utf-8", "surrogatepass"))
            h.update(b"\x02")
        digests.append(h.digest())
    digests.sort()
    total = hashlib.sha256(b"".join(digests)).hexdigest()
    return len(digests), total


def create_text(conn, table):
    cur = conn.cursor()
    cur.execute("SHOW CREATE TABLE `%s`" % table.replace("`", "``"))
    return cur.fetchone()[1]


TABLES = ["nopk", "order", "types"]


@pytest.fixture(scope="module")
def source(cluster):
    conn = connect(cluster)
    cur = conn.cursor()
    cur.execute("CREATE DATABASE src")
    cur.execute("USE src")
    for ddl in (CREATE_TYPES, CREATE_NOPK, CREATE_ORDER):
        cur.execute(ddl)
    rng = random.Random(8)
    rows = [make_row(rng, i) for i in range(1, NROWS + 1)]
    ph = "(" + ",".join(["%s"] * len(rows[0])) + ")"
    for k in range(0, NROWS, 500):
        cur.executemany("INSERT INTO types VALUES " + ph, rows[k:k + 500])
    cur.executemany("INSERT INTO nopk (a, b, c) VALUES (%s, %s, %s)",
                    [(i % 7, s, s.encode("utf-8")[:10]) for i, s in enumerate(SPECIAL)] * 3 +
                    [(None, None, None)] * 2)
    cur.executemany("INSERT INTO `order` VALUES (%s, %s, %s)",
                    [(s[:32], i, s) for i, s in enumerate(SPECIAL)])
    digests = {t: table_digest(conn, t) for t in TABLES}
    creates = {t: create_text(conn, t) for t in TABLES}
    conn.close()
    assert digests["types"][0] == NROWS
    assert "AUTO_INCREMENT=%d " % (NROWS + 1) in creates["types"], creates["types"]
    return digests, creates


def dump_and_restore(cluster, extra, target):
    port = str(cluster.sql_ports[0])
    dump = subprocess.run(["mariadb-dump", "-h127.0.0.1", "-P" + port, "-uroot"] + extra +
                          ["src"], capture_output=True, timeout=300)
    assert dump.returncode == 0, dump.stderr.decode(errors="replace")
    assert dump.stderr == b"", dump.stderr.decode(errors="replace")
    text = dump.stdout
    assert b"INSERT INTO `types` VALUES" in text
    subprocess.run(["mariadb", "-h127.0.0.1", "-P" + port, "-uroot", "-e",
                    "CREATE DATABASE " + target], check=True, timeout=60)
    restore = subprocess.run(["mariadb", "-h127.0.0.1", "-P" + port, "-uroot", target],
                             input=text, capture_output=True, timeout=600)
    assert restore.returncode == 0, restore.stderr.decode(errors="replace")
    return text


def check_same(cluster, source, target):
    digests, creates = source
    conn = connect(cluster, target)
    try:
        for t in TABLES:
            assert table_digest(conn, t) == digests[t], "table %s differs" % t
            assert create_text(conn, t) == creates[t], "SHOW CREATE TABLE %s differs" % t
    finally:
        conn.close()


def test_dump_default_options_restores_identical(cluster, source):
    text = dump_and_restore(cluster, [], "dst")
    # The default dump writes binary data as escaped string literals, not hex.
    assert b"0x" not in text.split(b"INSERT INTO `types` VALUES", 1)[1][:2000]
    check_same(cluster, source, "dst")


def test_dump_hex_blob_restores_identical(cluster, source):
    text = dump_and_restore(cluster, ["--hex-blob"], "dst_hex")
    assert re.search(rb"\b0x[0-9A-F]+", text)
    check_same(cluster, source, "dst_hex")


def test_checksum_notices_one_changed_value(cluster, source):
    """The comparison is not blind: one changed byte in one blob changes the table checksum."""
    conn = connect(cluster, "dst")
    try:
        cur = conn.cursor()
        cur.execute("UPDATE types SET bl = CONCAT(IFNULL(bl, ''), x'00') WHERE id = 4321")
        assert table_digest(conn, "types") != source[0]["types"]
    finally:
        conn.close()


def test_dump_of_restored_database_is_the_same_dump(cluster, source):
    """Dumping the restored copy gives the same text as dumping the source (the comment line
    with the database name left out; --skip-dump-date leaves the date out)."""
    port = str(cluster.sql_ports[0])

    def dump(db):
        out = subprocess.run(["mariadb-dump", "-h127.0.0.1", "-P" + port, "-uroot",
                              "--skip-dump-date", db], capture_output=True, timeout=300,
                             check=True).stdout
        return re.sub(rb"-- Host: .*\n", b"", out)

    assert dump("src") == dump("dst_hex")


def test_dump_single_transaction_databases_restores_identical(cluster, source):
    """--single-transaction (START TRANSACTION WITH CONSISTENT SNAPSHOT, SAVEPOINT / ROLLBACK TO
    SAVEPOINT around each table), --routines --events --triggers and --databases (CREATE
    DATABASE IF NOT EXISTS and USE in the dump), restored under another database name."""
    port = str(cluster.sql_ports[0])
    dump = subprocess.run(["mariadb-dump", "-h127.0.0.1", "-P" + port, "-uroot",
                           "--single-transaction", "--routines", "--events", "--triggers",
                           "--databases", "src"], capture_output=True, timeout=300)
    assert dump.returncode == 0, dump.stderr.decode(errors="replace")
    assert dump.stderr == b"", dump.stderr.decode(errors="replace")
    text = dump.stdout
    assert b"CREATE DATABASE /*!32312 IF NOT EXISTS*/ `src`" in text
    text = re.sub(rb"(?m)^(CREATE DATABASE /\*!32312 IF NOT EXISTS\*/ |USE )`src`",
                  rb"\1`dst_st`", text)
    restore = subprocess.run(["mariadb", "-h127.0.0.1", "-P" + port, "-uroot"],
                             input=text, capture_output=True, timeout=600)
    assert restore.returncode == 0, restore.stderr.decode(errors="replace")
    check_same(cluster, source, "dst_st")
