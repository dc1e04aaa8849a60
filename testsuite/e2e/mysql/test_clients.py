"""Real MySQL clients against the real sqlnode (issue 6 acceptance): the mariadb CLI with and
without TLS and with a wrong password, PyMySQL, mysqlclient (MySQLdb), MariaDB Connector/J
with server-side prepared statements, MariaDB ODBC (isql and pyodbc), and sysbench. Every
client runs parameterised SELECTs of expressions and checks result-set metadata."""
import datetime
import os
import subprocess
import tempfile
import textwrap

import MySQLdb
import pymysql
import pytest

from tessera_mysql import RawConn, err_code, mariadb

LONGLONG, DOUBLE, NULL_TYPE, DATETIME, VAR_STRING = 8, 5, 6, 12, 253


# ---- mariadb CLI ----

def test_mariadb_cli_select_1(server):
    rc, out, err = mariadb(server, "-e", "SELECT 1")
    assert rc == 0, err
    assert out.split() == ["1", "1"]
    # Debian's 10.11 client turns TLS on by itself when the server offers it; --skip-ssl
    # forces the plain protocol.
    rc, out, err = mariadb(server, "--skip-ssl", "-N", "-e",
                           "SELECT 1; SHOW STATUS LIKE 'Ssl_version'")
    assert rc == 0, err
    assert out.split() == ["1", "Ssl_version"]  # no TLS version: a plain connection


def test_mariadb_cli_ssl(server):
    # Debian's 10.11 client does not verify the server certificate unless asked to, so --ssl
    # works with the generated self-signed certificate.
    rc, out, err = mariadb(server, "--ssl", "-e", "SHOW STATUS LIKE 'Ssl_version'; SELECT 1")
    assert rc == 0, err
    assert "TLSv1." in out
    rc, out, err = mariadb(server, "--ssl", f"--ssl-ca={server.cert}", "-e", "SELECT 2")
    assert rc == 0, err
    assert out.split() == ["2", "2"]


def test_mariadb_cli_expressions(server):
    rc, out, err = mariadb(server, "-N", "-e",
                           "SELECT 1+1, CONCAT('a','b'), @@version, DATABASE() IS NULL, "
                           "VERSION() = @@version")
    assert rc == 0, err
    assert out.split("\t") == ["2", "ab", "8.0.11-Tessera-0.1.0", "1", "1\n"]


def test_mariadb_cli_wrong_password(make_server):
    s = make_server("--root-password=rootpw")
    rc, out, err = mariadb(s, "-e", "SELECT 1", password="rootpw")
    assert rc == 0, err
    rc, out, err = mariadb(s, "-e", "SELECT 1", password="wrong")
    assert rc != 0
    assert "ERROR 1045" in err and "Access denied for user 'root'" in err
    # The server closes the connection after the 1045 error packet.
    c = RawConn(s.port)
    assert err_code(c.login("root", "wrong")) == 1045
    assert c.closed_by_server(5)
    c.close()


def test_mariadb_cli_caching_sha2_over_tls(server):
    rc, out, err = mariadb(server, "--ssl", "-N", "-e", "SELECT CURRENT_USER()", user="alice",
                           password="apw")
    assert rc == 0, err
    assert out.strip() == "alice@%"
    rc, out, err = mariadb(server, "--ssl", "-e", "SELECT 1", user="alice", password="no")
    assert rc != 0 and "1045" in err


def test_mariadb_admin(server):
    p = subprocess.run(["mariadb-admin", "-h127.0.0.1", f"-P{server.port}", "-uroot", "status"],
                       capture_output=True, timeout=30)
    assert p.returncode == 0, p.stderr
    assert b"Uptime:" in p.stdout and b"Questions:" in p.stdout
    p = subprocess.run(["mariadb-admin", "-h127.0.0.1", f"-P{server.port}", "-uroot", "ping"],
                       capture_output=True, timeout=30)
    assert p.returncode == 0 and b"alive" in p.stdout


# ---- Python drivers ----

def check_description(desc):
    names = [d[0] for d in desc]
    types = [d[1] for d in desc]
    assert names == ["n", "s", "d", "t", "z", "v"]
    assert types == [LONGLONG, VAR_STRING, DOUBLE, DATETIME, NULL_TYPE, VAR_STRING]


QUERY = ("SELECT %s + 1 AS n, CONCAT(%s, 'x') AS s, %s * 2 AS d, NOW() AS t, NULL AS z, "
         "@@version AS v")


def test_pymysql(server):
    c = pymysql.connect(host="127.0.0.1", port=server.port, user="root", password="",
                        database="test")
    cur = c.cursor()
    cur.execute(QUERY, (41, "é", 1.25))
    row = cur.fetchone()
    assert row[:3] == (42, "éx", 2.5)
    assert isinstance(row[3], datetime.datetime)
    assert row[4] is None and row[5].startswith("8.0.11-Tessera")
    check_description(cur.description)
    cur.execute("SELECT DATABASE(), @@autocommit")
    assert cur.fetchone() == ("test", 0)  # PyMySQL turns autocommit off on connect
    c.close()


def test_mysqlclient(server):
    c = MySQLdb.connect(host="127.0.0.1", port=server.port, user="root", passwd="",
                        charset="utf8mb4")
    cur = c.cursor()
    cur.execute(QUERY, (41, "é", 1.25))
    row = cur.fetchone()
    assert row[:3] == (42, "éx", 2.5)
    assert isinstance(row[3], datetime.datetime)
    check_description(cur.description)
    c.close()


def test_pymysql_caching_sha2_rsa_then_fast_path(server):
    # First login of alice since start: full authentication; over plain TCP PyMySQL asks for
    # the server's RSA public key and sends the password encrypted with it.
    c = pymysql.connect(host="127.0.0.1", port=server.port, user="alice", password="apw")
    cur = c.cursor()
    cur.execute("SELECT CURRENT_USER(), %s", ("ok",))
    assert cur.fetchone() == ("alice@%", "ok")
    c.close()
    # Then the cached fast path.
    c = pymysql.connect(host="127.0.0.1", port=server.port, user="alice", password="apw")
    c.close()
    with pytest.raises(pymysql.err.OperationalError) as e:
        pymysql.connect(host="127.0.0.1", port=server.port, user="alice", password="bad")
    assert e.value.args[0] == 1045


def test_pymysql_tls(server):
    c = pymysql.connect(host="127.0.0.1", port=server.port, user="bob", password="bpw",
                        ssl_ca=server.cert, ssl_verify_identity=False)
    cur = c.cursor()
    cur.execute("SHOW SESSION STATUS LIKE 'Ssl_cipher'")
    assert cur.fetchone()[1] != ""
    c.close()


def test_multi_statements_pymysql(server):
    c = pymysql.connect(host="127.0.0.1", port=server.port, user="root",
                        client_flag=pymysql.constants.CLIENT.MULTI_STATEMENTS)
    cur = c.cursor()
    cur.execute("SELECT 1 AS a; SELECT 'two' AS b; SET @x = 3; SELECT @x")
    results = [cur.fetchall()]
    while cur.nextset():
        results.append(cur.fetchall())
    assert results == [((1,),), (("two",),), (), ((3,),)]
    c.close()


def test_connector_j8_connect_statements(server):
    # What MySQL Connector/J 8 sends after connecting (it is not packaged by Debian, so its
    # statements are replayed here verbatim).
    c = pymysql.connect(host="127.0.0.1", port=server.port, user="root")
    cur = c.cursor()
    cur.execute(
        "/* mysql-connector-java-8.0.33 (Revision: 7d6b0800528b6b25c68b52dc10d6c1c8429c100c) */"
        "SELECT  @@session.auto_increment_increment AS auto_increment_increment, "
        "@@character_set_client AS character_set_client, @@character_set_connection AS "
        "character_set_connection, @@character_set_results AS character_set_results, "
        "@@character_set_server AS character_set_server, @@collation_server AS collation_server, "
        "@@collation_connection AS collation_connection, @@init_connect AS init_connect, "
        "@@interactive_timeout AS interactive_timeout, @@license AS license, "
        "@@lower_case_table_names AS lower_case_table_names, @@max_allowed_packet AS "
        "max_allowed_packet, @@net_write_timeout AS net_write_timeout, @@performance_schema AS "
        "performance_schema, @@query_cache_size AS query_cache_size, @@query_cache_type AS "
        "query_cache_type, @@sql_mode AS sql_mode, @@system_time_zone AS system_time_zone, "
        "@@time_zone AS time_zone, @@transaction_isolation AS transaction_isolation, "
        "@@wait_timeout AS wait_timeout")
    row = cur.fetchone()
    names = [d[0] for d in cur.description]
    assert names[0] == "auto_increment_increment" and names[-1] == "wait_timeout"
    assert row[0] == 1 and row[names.index("license")] == "Apache-2.0"
    assert row[names.index("transaction_isolation")] == "REPEATABLE-READ"
    for stmt in ["SET NAMES utf8mb4", "SET character_set_results = NULL", "SET autocommit=1",
                 "SELECT @@session.transaction_read_only", "SHOW WARNINGS",
                 "SELECT @@session.tx_isolation", "set sql_mode=concat(@@sql_mode, "
                 "',STRICT_TRANS_TABLES')", "SELECT @@max_allowed_packet, @@system_time_zone, "
                 "@@time_zone, @@auto_increment_increment"]:
        cur.execute(stmt)
        cur.fetchall()
    cur.execute("SELECT @@character_set_results")
    assert cur.fetchone() == (None,)
    c.close()


# ---- MariaDB Connector/J ----

JAVA_TEST = textwrap.dedent("""
    import java.sql.*;
    public class TesseraJdbc {
      public static void main(String[] a) throws Exception {
        String url = "jdbc:mariadb://127.0.0.1:" + a[0] + "/test?user=root&useServerPrepStmts=true";
        try (Connection c = DriverManager.getConnection(url)) {
          try (PreparedStatement ps = c.prepareStatement(
                 "SELECT ? + 1 AS n, CONCAT(?, 'x') AS s, ? * 2 AS d, NOW() AS t, @@version AS v")) {
            for (int round = 0; round < 3; round++) {
              ps.setInt(1, 41 + round); ps.setString(2, "ab"); ps.setDouble(3, 1.25);
              try (ResultSet rs = ps.executeQuery()) {
                ResultSetMetaData md = rs.getMetaData();
                StringBuilder sb = new StringBuilder("META");
                for (int i = 1; i <= md.getColumnCount(); i++)
                  sb.append(' ').append(md.getColumnLabel(i)).append(':').append(md.getColumnTypeName(i));
                System.out.println(sb);
                while (rs.next())
                  System.out.println("ROW " + rs.getLong(1) + " " + rs.getString(2) + " "
                      + rs.getDouble(3) + " " + (rs.getTimestamp(4) != null) + " " + rs.getString(5));
              }
            }
          }
          try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery("SELECT 7, 'seven'")) {
            rs.next();
            System.out.println("TEXT " + rs.getInt(1) + " " + rs.getString(2));
          }
          try (Statement st = c.createStatement()) {
            st.executeQuery("SELECT * FROM missing_table");
          } catch (SQLException e) {
            System.out.println("ERR " + e.getErrorCode() + " " + e.getSQLState());
          }
        }
      }
    }
    """)


def test_mariadb_connector_j(server):
    jar = os.environ.get("MARIADB_JAR", "/usr/share/java/mariadb-java-client.jar")
    with tempfile.TemporaryDirectory() as d:
        with open(os.path.join(d, "TesseraJdbc.java"), "w") as f:
            f.write(JAVA_TEST)
        p = subprocess.run(["javac", "-cp", jar, "-d", d, os.path.join(d, "TesseraJdbc.java")],
                           capture_output=True, timeout=120)
        assert p.returncode == 0, p.stderr.decode()
        p = subprocess.run(["java", "-cp", f"{jar}:{d}", "TesseraJdbc", str(server.port)],
                           capture_output=True, timeout=120)
    out = p.stdout.decode()
    assert p.returncode == 0, out + p.stderr.decode()
    lines = out.splitlines()
    assert lines.count("META n:BIGINT s:VARCHAR d:DOUBLE t:DATETIME v:VARCHAR") == 3, out
    assert "ROW 42 abx 2.5 true 8.0.11-Tessera-0.1.0" in lines
    assert "ROW 44 abx 2.5 true 8.0.11-Tessera-0.1.0" in lines  # types sent once, then reused
    assert "TEXT 7 seven" in lines
    assert "ERR 1146 42S02" in lines


# ---- MariaDB ODBC through unixODBC ----

def odbc_env(server, d):
    driver = os.environ.get("MAODBC", "/usr/lib/x86_64-linux-gnu/odbc/libmaodbc.so")
    with open(os.path.join(d, "odbcinst.ini"), "w") as f:
        f.write(f"[MariaDB]\nDriver={driver}\n")
    with open(os.path.join(d, "odbc.ini"), "w") as f:
        f.write(f"[tessera]\nDriver=MariaDB\nSERVER=127.0.0.1\nPORT={server.port}\nUSER=root\n"
                f"PASSWORD=\nDATABASE=test\n")
    env = dict(os.environ)
    env["ODBCSYSINI"] = d
    env["ODBCINI"] = os.path.join(d, "odbc.ini")
    return env


def test_odbc_isql(server):
    with tempfile.TemporaryDirectory() as d:
        env = odbc_env(server, d)
        p = subprocess.run(["isql", "-v", "-b", "-d|", "tessera"], env=env, capture_output=True,
                           timeout=60,
                           input=b"SELECT 1+1 AS a, CONCAT('a','b') AS b, 2.5 AS c, NULL AS d\n")
    out = p.stdout.decode()
    assert p.returncode == 0, out + p.stderr.decode()
    assert "2|ab|2.5|" in out, out


def test_odbc_pyodbc_parameters(server):
    import pyodbc
    with tempfile.TemporaryDirectory() as d:
        env = odbc_env(server, d)
        old = {k: os.environ.get(k) for k in ("ODBCSYSINI", "ODBCINI")}
        os.environ.update({k: env[k] for k in old})
        try:
            c = pyodbc.connect("DSN=tessera", timeout=10)
            cur = c.cursor()
            cur.execute("SELECT ? + 1 AS n, CONCAT(?, 'x') AS s, ? * 2 AS d, NOW() AS t",
                        41, "ab", 1.25)
            row = cur.fetchone()
            desc = [(x[0], x[1]) for x in cur.description]
            c.close()
        finally:
            for k, v in old.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
    assert (row[0], row[1], row[2]) == (42, "abx", 2.5)
    assert isinstance(row[3], datetime.datetime)
    assert desc == [("n", int), ("s", str), ("d", float), ("t", datetime.datetime)]


# ---- sysbench ----

SYSBENCH_LUA = textwrap.dedent("""
    function thread_init()
      drv = sysbench.sql.driver()
      con = drv:connect()
      stmt = con:prepare("SELECT 1")
    end
    function event()
      con:query("SELECT 1")
      stmt:execute()
    end
    function thread_done()
      stmt:close()
      con:disconnect()
    end
    """)


def test_sysbench_select_1(server):
    with tempfile.TemporaryDirectory() as d:
        script = os.path.join(d, "select1.lua")
        with open(script, "w") as f:
            f.write(SYSBENCH_LUA)
        p = subprocess.run(["sysbench", script, "--db-driver=mysql", "--mysql-host=127.0.0.1",
                            f"--mysql-port={server.port}", "--mysql-user=root",
                            "--mysql-db=sbtest", "--threads=2", "--time=3", "run"],
                           capture_output=True, timeout=60, cwd=d)
    out = p.stdout.decode()
    assert p.returncode == 0, out + p.stderr.decode()
    assert "FATAL" not in out
    events = int(out.split("total number of events:")[1].split()[0])
    assert events > 100, out
    assert "ignored errors:                      0" in out


def test_mysqlclient_commands(server):
    """COM_INIT_DB, COM_STATISTICS, COM_PING, COM_SET_OPTION, COM_CHANGE_USER and
    COM_PROCESS_KILL as libmariadb sends them (through mysqlclient)."""
    c = MySQLdb.connect(host="127.0.0.1", port=server.port, user="root", passwd="")
    cur = c.cursor()
    c.select_db("db1")
    cur.execute("SELECT DATABASE()")
    assert cur.fetchone() == ("db1",)
    assert "Uptime:" in c.stat() and "Questions:" in c.stat()
    c.ping()
    c.set_server_option(0)  # MYSQL_OPTION_MULTI_STATEMENTS_ON
    cur.execute("SELECT 1; SELECT 2")
    assert cur.fetchall() == ((1,),)
    assert cur.nextset() and cur.fetchall() == ((2,),)
    c.set_server_option(1)  # off again
    with pytest.raises(MySQLdb.MySQLError) as e:
        cur.execute("SELECT 1; SELECT 2")
    assert e.value.args[0] == 1064
    c.change_user("bob", "bpw", "db2")
    cur = c.cursor()
    cur.execute("SELECT CURRENT_USER(), DATABASE(), @@autocommit")
    assert cur.fetchone() == ("bob@%", "db2", 1)
    c.change_user("alice", "apw")  # caching_sha2 account: plugin switch on change user
    cur = c.cursor()
    cur.execute("SELECT CURRENT_USER()")
    assert cur.fetchone() == ("alice@%",)
    victim = MySQLdb.connect(host="127.0.0.1", port=server.port, user="root", passwd="")
    c.kill(victim.thread_id())
    with pytest.raises(MySQLdb.OperationalError):
        vc = victim.cursor()
        vc.execute("SELECT 1")
        vc.fetchall()
    with pytest.raises(MySQLdb.OperationalError) as e:
        c.change_user("bob", "wrong")
    assert e.value.args[0] == 1045
    c.close()
