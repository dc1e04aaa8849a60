"""What drivers ask of information_schema (issue 8, "Warnings and introspection"): MariaDB
Connector/J's DatabaseMetaData (getTables, getColumns, getPrimaryKeys, getIndexInfo,
getCatalogs) and MariaDB ODBC's catalog functions through pyodbc (SQLTables, SQLPrimaryKeys,
SQLStatistics) against a cluster (pd + 3 kvnodes + sqlnode on free ports), for a table with an
AUTO_INCREMENT primary key, a unique key and a composite index. The expected values are what
MySQL 8 (and MariaDB) report for this table.
"""
import os
import subprocess
import sys
import tempfile

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "lib"))

import pymysql  # noqa: E402

from cluster import Cluster  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
JAR = os.environ.get("MARIADB_JAR", "/usr/share/java/mariadb-java-client.jar")
MAODBC = os.environ.get("MAODBC", "/usr/lib/x86_64-linux-gnu/odbc/libmaodbc.so")

DDL = ("CREATE TABLE meta (id INT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY, "
       "code VARCHAR(20) NOT NULL, qty INT, note TEXT, "
       "UNIQUE KEY uk_code (code), KEY k_qty_code (qty, code))")


@pytest.fixture(scope="module")
def port():
    c = Cluster.from_env(nkv=3, nsql=1)
    try:
        conn = pymysql.connect(host="127.0.0.1", port=c.sql_ports[0], user="root",
                               autocommit=True)
        cur = conn.cursor()
        cur.execute("CREATE DATABASE metadb")
        cur.execute("USE metadb")
        cur.execute(DDL)
        cur.execute("CREATE TABLE other (a INT)")
        conn.close()
        yield c.sql_ports[0]
    finally:
        c.cleanup()


@pytest.fixture(scope="module")
def jdbc(port):
    with tempfile.TemporaryDirectory() as d:
        p = subprocess.run(["javac", "-cp", JAR, "-d", d, os.path.join(HERE, "JdbcMeta.java")],
                           capture_output=True, text=True, timeout=120)
        assert p.returncode == 0, p.stderr
        p = subprocess.run(["java", "-cp", "%s:%s" % (JAR, d), "JdbcMeta", str(port), "metadb",
                            "meta"], capture_output=True, text=True, timeout=120)
        assert p.returncode == 0, p.stderr + p.stdout
        return p.stdout.splitlines()


def test_jdbc_tables_and_catalogs(jdbc):
    assert [line for line in jdbc if line.startswith("table|")] == [
        "table|meta|TABLE", "table|other|TABLE"]
    cats = [line for line in jdbc if line.startswith("catalog|")]
    assert "catalog|metadb" in cats and "catalog|information_schema" in cats


def test_jdbc_columns(jdbc):
    cols = [line for line in jdbc if line.startswith("column|")]
    assert cols[0] == "column|id|INT UNSIGNED|10|NO|YES"
    assert cols[1] == "column|code|VARCHAR|20|NO|NO"
    assert cols[2] == "column|qty|INT|10|YES|NO"
    assert cols[3].startswith("column|note|TEXT|") and cols[3].endswith("|YES|NO")
    assert len(cols) == 4


def test_jdbc_primary_key_and_indexes(jdbc):
    assert [line for line in jdbc if line.startswith("pk|")] == ["pk|id|1|PRIMARY"]
    assert sorted(line for line in jdbc if line.startswith("index|")) == sorted([
        "index|PRIMARY|0|id|1", "index|uk_code|0|code|1",
        "index|k_qty_code|1|qty|1", "index|k_qty_code|1|code|2"])


def test_jdbc_server_prepared_information_schema_query(jdbc):
    """Binary protocol: the parameters narrow the scan, the result metadata is MySQL 8's column
    types (ORDINAL_POSITION is INT UNSIGNED)."""
    assert [line for line in jdbc if line.startswith("prepmeta|")] == [
        "prepmeta|COLUMN_NAME|VARCHAR", "prepmeta|ORDINAL_POSITION|INTEGER UNSIGNED"]
    assert [line for line in jdbc if line.startswith("prep|")] == [
        "prep|id|1", "prep|code|2", "prep|qty|3", "prep|note|4"]


@pytest.fixture(scope="module")
def odbc(port):
    import pyodbc
    conn = pyodbc.connect("DRIVER=%s;SERVER=127.0.0.1;PORT=%d;UID=root;PWD=;DATABASE=metadb"
                          % (MAODBC, port), autocommit=True)
    yield conn.cursor()
    conn.close()


def test_odbc_tables(odbc):
    rows = odbc.tables(catalog="metadb").fetchall()
    assert sorted((r.table_name, r.table_type) for r in rows) == [
        ("meta", "TABLE"), ("other", "TABLE")]


def test_odbc_primary_keys(odbc):
    rows = odbc.primaryKeys("meta", catalog="metadb").fetchall()
    assert [(r.column_name, r.key_seq, r.pk_name) for r in rows] == [("id", 1, "PRIMARY")]
    assert odbc.primaryKeys("other", catalog="metadb").fetchall() == []


def test_odbc_statistics(odbc):
    rows = odbc.statistics("meta", catalog="metadb", unique=True).fetchall()
    got = sorted((r.index_name, r.non_unique, r.ordinal_position, r.column_name) for r in rows
                 if r.index_name is not None)
    assert got == [("PRIMARY", 0, 1, "id"), ("uk_code", 0, 1, "code")]
    rows = odbc.statistics("meta", catalog="metadb").fetchall()
    got = sorted((r.index_name, r.ordinal_position, r.column_name) for r in rows
                 if r.index_name is not None)
    assert got == [("PRIMARY", 1, "id"), ("k_qty_code", 1, "qty"), ("k_qty_code", 2, "code"),
                   ("uk_code", 1, "code")]
