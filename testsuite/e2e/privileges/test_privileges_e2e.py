"""Accounts and privileges across sqlnodes (docs/sql-layer.md "Users and privileges").

One playground with two sqlnodes over the same cluster; root's password comes from the sqlnodes'
--root-password (the boot account). Checks that an account and a GRANT made on sqlnode 0 are
seen on sqlnode 1 — by new logins and by a session already connected there — within the poll
bound, that REVOKE is too, that the mysql CLI logs in with mysql_native_password and
caching_sha2_password accounts (plain and over TLS) and gets 1045 for a wrong password, and that
KILL of another account's connection needs SUPER (1095) and SHOW PROCESSLIST without PROCESS
lists only the connections of one's own user.
"""
import os
import subprocess
import sys
import threading
import time

import pymysql
import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "sql"))

from servers import Playground  # noqa: E402

ROOTPW = "r00t-pw"
# The catalog polls the privilege version every second; a change must show within this bound.
PROPAGATION_S = 10


@pytest.fixture(scope="module")
def cluster():
    # the playground checks that each sqlnode answers with the mariadb client as root, which
    # reads root's password from MYSQL_PWD
    os.environ["MYSQL_PWD"] = ROOTPW
    try:
        pg = Playground(sqlnodes=2, sql_args=["--root-password=" + ROOTPW])
    finally:
        del os.environ["MYSQL_PWD"]
    try:
        assert len(pg.ports) == 2, pg.output
        yield pg
    finally:
        pg.cleanup()


def connect(port, user="root", password=ROOTPW, database=None, **kw):
    return pymysql.connect(host="127.0.0.1", port=port, user=user, password=password,
                           database=database, autocommit=True, connect_timeout=10, **kw)


def run(conn, sql):
    with conn.cursor() as cur:
        cur.execute(sql)
        return cur.fetchall()


def errno_of(fn):
    try:
        fn()
    except pymysql.err.MySQLError as e:
        return e.args[0]
    return None


def cli(port, user, password, sql, ssl=False):
    cmd = ["mysql", "-h127.0.0.1", "-P%d" % port, "-u" + user, "--batch", "--skip-column-names",
           "--connect-timeout=10"]
    if password:
        cmd.append("-p" + password)
    cmd += ["--ssl", "--ssl-verify-server-cert=0"] if ssl else ["--skip-ssl"]
    cmd += ["-e", sql]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60)


def test_root_boot_account_on_both_sqlnodes(cluster):
    for port in cluster.ports:
        c = connect(port)
        assert run(c, "SELECT CURRENT_USER()") == (("root@%",),)
        assert run(c, "SHOW GRANTS") == (
            ("GRANT ALL PRIVILEGES ON *.* TO `root`@`%` WITH GRANT OPTION",),)
        c.close()
        assert errno_of(lambda: connect(port, password="wrong")) == 1045
        assert errno_of(lambda: connect(port, password="")) == 1045


def test_grant_on_one_sqlnode_reaches_a_session_on_the_other(cluster):
    p0, p1 = cluster.ports
    root0 = connect(p0)
    run(root0, "CREATE DATABASE e2e_priv")
    run(root0, "CREATE TABLE e2e_priv.t (a INT PRIMARY KEY, b INT)")
    run(root0, "INSERT INTO e2e_priv.t VALUES (1, 10), (2, 20)")
    run(root0, "CREATE USER 'eve'@'%' IDENTIFIED BY 'evepw'")
    # the new account logs in on sqlnode 1 once its poll has seen the change
    deadline = time.time() + PROPAGATION_S
    eve1 = None
    while eve1 is None:
        try:
            eve1 = connect(p1, "eve", "evepw")
        except pymysql.err.OperationalError as e:
            assert e.args[0] == 1045 and time.time() < deadline, e
            time.sleep(0.1)
    assert errno_of(lambda: run(eve1, "SELECT COUNT(*) FROM e2e_priv.t")) == 1142
    # GRANT on sqlnode 0: the session already open on sqlnode 1 gets it on a later statement
    t0 = time.time()
    run(root0, "GRANT SELECT ON e2e_priv.t TO 'eve'@'%'")
    while True:
        try:
            assert run(eve1, "SELECT COUNT(*) FROM e2e_priv.t") == ((2,),)
            break
        except pymysql.err.OperationalError as e:
            assert e.args[0] == 1142 and time.time() - t0 < PROPAGATION_S, e
            time.sleep(0.05)
    grant_s = time.time() - t0
    # the same text again is a cached statement: REVOKE must reach it too
    t0 = time.time()
    run(root0, "REVOKE SELECT ON e2e_priv.t FROM 'eve'@'%'")
    while errno_of(lambda: run(eve1, "SELECT COUNT(*) FROM e2e_priv.t")) != 1142:
        assert time.time() - t0 < PROPAGATION_S, "REVOKE not seen on sqlnode 1"
        time.sleep(0.05)
    revoke_s = time.time() - t0
    print("# GRANT seen on sqlnode 1 after %.2f s, REVOKE after %.2f s" % (grant_s, revoke_s))
    # on the sqlnode that ran the statement, it holds at once
    eve0 = connect(p0, "eve", "evepw")
    run(root0, "GRANT INSERT ON e2e_priv.t TO 'eve'@'%'")
    run(eve0, "INSERT INTO e2e_priv.t VALUES (3, 30)")
    run(root0, "REVOKE INSERT ON e2e_priv.t FROM 'eve'@'%'")
    assert errno_of(lambda: run(eve0, "INSERT INTO e2e_priv.t VALUES (4, 40)")) == 1142
    for c in (eve0, eve1, root0):
        c.close()


def test_mysql_cli_logs_in_with_both_plugins(cluster):
    p0, p1 = cluster.ports
    root0 = connect(p0)
    run(root0, "CREATE USER 'nat'@'%' IDENTIFIED WITH mysql_native_password BY 'natpw'")
    run(root0, "CREATE USER 'sha'@'%' IDENTIFIED WITH caching_sha2_password BY 'shapw'")
    run(root0, "GRANT SELECT ON e2e_priv.* TO 'nat'@'%', 'sha'@'%'")
    root0.close()
    time.sleep(2.5)  # two poll periods: sqlnode 1 has the accounts
    for port in (p0, p1):
        for user, pw in (("nat", "natpw"), ("sha", "shapw")):
            for ssl in (False, True):
                r = cli(port, user, pw, "SELECT CURRENT_USER(); SELECT COUNT(*) FROM e2e_priv.t",
                        ssl=ssl)
                assert r.returncode == 0, (port, user, ssl, r.stderr)
                assert r.stdout.split() == [user + "@%", "3"], r.stdout
                r = cli(port, user, pw + "x", "SELECT 1", ssl=ssl)
                assert r.returncode != 0 and "1045" in r.stderr, (port, user, ssl, r.stderr)
            r = cli(port, user, pw, "INSERT INTO e2e_priv.t VALUES (9, 9)")
            assert r.returncode != 0 and "1142" in r.stderr, r.stderr
    # the stored password is the plugin's hash, never the text
    # (the account record is what GRANT/REVOKE rewrite; a changed password logs in at once)
    root0 = connect(p0)
    run(root0, "ALTER USER 'sha'@'%' IDENTIFIED BY 'shapw2'")
    r = cli(p0, "sha", "shapw2", "SELECT CURRENT_USER()", ssl=True)
    assert r.returncode == 0 and r.stdout.strip() == "sha@%", r.stderr
    r = cli(p0, "sha", "shapw", "SELECT 1", ssl=True)
    assert r.returncode != 0 and "1045" in r.stderr
    # SHOW CREATE USER prints the stored hash (never the password); its text re-creates the
    # account, which then logs in with the same password (on the other sqlnode too)
    text = run(root0, "SHOW CREATE USER 'sha'@'%'")[0][0]
    assert "shapw2" not in text and " AS '$T$" in text, text
    run(root0, "DROP USER 'sha'@'%'")
    run(root0, text)
    run(root0, "GRANT SELECT ON e2e_priv.* TO 'sha'@'%'")
    assert run(root0, "SHOW CREATE USER 'sha'@'%'")[0][0] == text
    time.sleep(2.5)
    for port in (p0, p1):
        r = cli(port, "sha", "shapw2", "SELECT CURRENT_USER()", ssl=True)
        assert r.returncode == 0 and r.stdout.strip() == "sha@%", r.stderr
    root0.close()


def test_kill_needs_super_for_another_account(cluster):
    p0 = cluster.ports[0]
    root = connect(p0)
    run(root, "CREATE USER 'k1'@'%' IDENTIFIED BY 'k1pw', 'k2'@'%' IDENTIFIED BY 'k2pw'")
    a = connect(p0, "k1", "k1pw")
    a2 = connect(p0, "k1", "k1pw")
    b = connect(p0, "k2", "k2pw")
    a_id = run(a, "SELECT CONNECTION_ID()")[0][0]
    a2_id = run(a2, "SELECT CONNECTION_ID()")[0][0]
    assert errno_of(lambda: run(b, "KILL %d" % a_id)) == 1095
    # without PROCESS, SHOW PROCESSLIST lists only the connections of one's own user
    assert {r[1] for r in run(b, "SHOW PROCESSLIST")} == {"k2"}
    assert {"k1", "k2", "root"} <= {r[1] for r in run(root, "SHOW PROCESSLIST")}
    assert run(a, "SELECT 1") == ((1,),)  # still alive
    run(a2, "KILL QUERY %d" % a_id)  # the same account may
    run(root, "GRANT SUPER ON *.* TO 'k2'@'%'")
    run(b, "KILL %d" % a_id)
    assert errno_of(lambda: run(a, "SELECT 1")) in (2013, 2006, 1317, 1927)
    run(root, "KILL %d" % a2_id)
    for c in (b, root):
        c.close()


def test_concurrent_grants_on_two_sqlnodes_lose_nothing(cluster):
    """Account changes are read-modify-write transactions on the privilege version key: two
    sqlnodes granting to the same account at once conflict and re-run, and no grant is lost."""
    p0, p1 = cluster.ports
    root0 = connect(p0)
    run(root0, "CREATE DATABASE e2e_conc")
    n = 12
    for i in range(n):
        run(root0, "CREATE TABLE e2e_conc.t%d (a INT PRIMARY KEY)" % i)
    run(root0, "CREATE USER 'conc'@'%'")
    time.sleep(2.5)  # sqlnode 1 has the tables and the account
    errors = []

    def granter(port, tables, priv):
        try:
            c = connect(port)
            for i in tables:
                run(c, "GRANT %s ON e2e_conc.t%d TO 'conc'@'%%'" % (priv, i))
            c.close()
        except Exception as e:  # reported below
            errors.append(e)

    ths = [threading.Thread(target=granter, args=(p0, range(n), "SELECT")),
           threading.Thread(target=granter, args=(p1, range(n), "INSERT"))]
    for t in ths:
        t.start()
    for t in ths:
        t.join(120)
    assert not errors, errors
    want = sorted(["GRANT USAGE ON *.* TO `conc`@`%`"] +
                  ["GRANT SELECT, INSERT ON `e2e_conc`.`t%d` TO `conc`@`%%`" % i for i in range(n)])
    time.sleep(2.5)  # each sqlnode has loaded the other's last change
    for port in (p0, p1):
        c = connect(port)
        assert sorted(r[0] for r in run(c, "SHOW GRANTS FOR 'conc'@'%'")) == want, port
        c.close()
    root0.close()
