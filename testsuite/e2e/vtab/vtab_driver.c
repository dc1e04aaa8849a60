/*
 * vtab_driver — drives the `tessera` virtual-table module (sqlnode/vtab) on a real SQLite
 * connection over a real cluster (pd + kvnodes started by test_vtab_e2e.py): it opens the
 * catalog, creates tables with real DDL, declares them, and runs statements through SQLite with
 * a minimal session of its own (autocommit: a transaction per statement committed after
 * SQLITE_DONE; explicit: one transaction across statements with a checkpoint per statement).
 *
 *   vtab_driver --pd HOST:PORT CASE        CASE: one of the cases listed by --list
 *
 * Each case uses its own tables (names carry the case and the process id), prints what it checks
 * and exits 0 only when every check held.
 */
#include "cm_err.h"
#include "cm_keys.h"
#include "cm_kv_client.h"
#include "cm_time.h"
#include "cm_row.h"
#include "sql_catalog.h"
#include "sql_ddl_int.h"
#include "sql_lexer.h"
#include "sql_vtab.h"

#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

typedef struct drv {
    cm_kv_client *kc;
    sql_catalog *cat;
    sql_schema *schema;
    sqlite3 *db;
    sql_vt_env env;
    cm_txn *txn;
    bool explicit_txn;
    int cp;
    uint16_t warn_code;
    char warn_msg[256];
    int nwarn;
    /* last statement */
    char out[65536];
    int rc;
    int my_errno;
    char errmsg[512];
    int failures;
    int checks;
} drv;

static char g_suffix[32];

static int d_txn(void *sess, cm_txn **out, cm_err *err)
{
    drv *d = sess;
    if (d->txn == NULL) {
        int rc = cm_txn_begin(d->kc, &d->txn, err);
        if (rc != 0) {
            return rc;
        }
        d->cp = d->explicit_txn ? cm_txn_checkpoint(d->txn) : 0;
    }
    *out = d->txn;
    return 0;
}

static const sql_schema *d_schema(void *sess)
{
    return ((drv *)sess)->schema;
}

static void d_warn(void *sess, uint16_t code, const char *msg)
{
    drv *d = sess;
    d->warn_code = code;
    snprintf(d->warn_msg, sizeof d->warn_msg, "%s", msg);
    d->nwarn++;
}

static void check(drv *d, bool ok, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void check(drv *d, bool ok, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    printf("%s ", ok ? "ok  " : "FAIL");
    vprintf(fmt, ap);
    printf("\n");
    va_end(ap);
    d->checks++;
    if (!ok) {
        d->failures++;
        printf("     last output: [%s] rc=%d errno=%d msg=%s\n", d->out, d->rc, d->my_errno,
               d->errmsg);
    }
    fflush(stdout);
}

static void end_txn(drv *d, bool commit)
{
    if (d->txn == NULL) {
        return;
    }
    if (commit) {
        cm_err err;
        int rc = cm_txn_commit(d->txn, &err);
        if (rc != 0) {
            printf("commit failed: %s\n", err.msg);
            d->failures++;
        }
    }
    cm_txn_free(d->txn);
    d->txn = NULL;
    d->env.nwritten = 0;
    d->env.written_overflow = false;
}

static void refresh_schema(drv *d)
{
    if (d->schema) {
        sql_schema_release(d->schema);
    }
    d->schema = sql_cat_acquire(d->cat);
}

/* Runs one statement; rows go to d->out as "a|b\n" lines; parameters are bound to NULL
 * explicitly. Returns the SQLite code. */
static int run(drv *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int run(drv *d, const char *fmt, ...)
{
    char sql[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(sql, sizeof sql, fmt, ap);
    va_end(ap);
    d->out[0] = 0;
    d->errmsg[0] = 0;
    d->my_errno = 0;
    d->env.affected = 0;
    d->env.first_insert_id = 0;
    d->env.insert_id_set = false;
    cm_err_clear(&d->env.err);
    d->env.strict = true;
    struct timeval tv;
    gettimeofday(&tv, NULL);
    d->env.now_us = (int64_t)tv.tv_sec * 1000000 + tv.tv_usec;
    int stmt_cp = d->txn && d->explicit_txn ? cm_txn_checkpoint(d->txn) : 0;
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(d->db, sql, -1, &st, NULL);
    for (int i = 1; rc == SQLITE_OK && i <= sqlite3_bind_parameter_count(st); i++) {
        rc = sqlite3_bind_null(st, i);
    }
    size_t o = 0;
    while (st != NULL && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        int n = sqlite3_column_count(st);
        for (int i = 0; i < n; i++) {
            const char *t = (const char *)sqlite3_column_text(st, i);
            o += (size_t)snprintf(d->out + o, sizeof d->out - o, "%s%s", i ? "|" : "",
                                  t ? t : "NULL");
            if (o >= sizeof d->out) {
                o = sizeof d->out - 1;
            }
        }
        o += (size_t)snprintf(d->out + o, sizeof d->out - o, "\n");
        if (o >= sizeof d->out) {
            o = sizeof d->out - 1;
        }
    }
    if (rc == SQLITE_DONE) {
        rc = SQLITE_OK;
    }
    if (rc != SQLITE_OK) {
        snprintf(d->errmsg, sizeof d->errmsg, "%s", sqlite3_errmsg(d->db));
        if (d->env.err.code != 0) {
            d->my_errno = cm_err_mysql_errno(d->env.err.code);
            snprintf(d->errmsg, sizeof d->errmsg, "%s", d->env.err.msg);
        }
    }
    sqlite3_finalize(st);
    if (d->explicit_txn) {
        if (d->txn && stmt_cp > 0) {
            if (rc == SQLITE_OK) {
                cm_txn_release(d->txn, stmt_cp);
            } else {
                cm_txn_rollback_to(d->txn, stmt_cp);
            }
        }
    } else {
        end_txn(d, rc == SQLITE_OK);
    }
    d->rc = rc;
    return rc;
}

static int ddl(drv *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int ddl(drv *d, const char *fmt, ...)
{
    char sql[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(sql, sizeof sql, fmt, ap);
    va_end(ap);
    sql_tokens t;
    sql_tokens_init(&t);
    cm_err err;
    cm_err_clear(&err);
    sql_ddl_result res;
    memset(&res, 0, sizeof res);
    int rc = sql_lex(sql, strlen(sql), 0, &t, &err);
    rc = rc ? rc : sql_ddl_exec(d->cat, "test", sql, t.v, t.n, &res, &err);
    sql_tokens_fini(&t);
    if (rc != 0) {
        printf("DDL failed: %s: %s\n", sql, err.msg);
        d->failures++;
        return rc;
    }
    refresh_schema(d);
    return 0;
}

/* CREATE TABLE name... through the catalog, then its declaration in SQLite. */
static int create(drv *d, const char *name, const char *body)
{
    char full[64];
    snprintf(full, sizeof full, "%s%s", name, g_suffix);
    if (ddl(d, "CREATE TABLE %s %s", full, body) != 0) {
        return -1;
    }
    char sql[256];
    snprintf(sql, sizeof sql, "CREATE VIRTUAL TABLE main.%s USING tessera(\"test\", \"%s\")", name,
             full);
    char *em = NULL;
    if (sqlite3_exec(d->db, sql, NULL, NULL, &em) != SQLITE_OK) {
        printf("declare failed: %s\n", em ? em : "?");
        sqlite3_free(em);
        d->failures++;
        return -1;
    }
    return 0;
}

static bool out_is(drv *d, const char *want)
{
    return d->rc == SQLITE_OK && strcmp(d->out, want) == 0;
}

static bool plan_has(drv *d, const char *needle, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static bool plan_has(drv *d, const char *needle, const char *fmt, ...)
{
    char sql[2048], q[2100];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(sql, sizeof sql, fmt, ap);
    va_end(ap);
    snprintf(q, sizeof q, "EXPLAIN QUERY PLAN %s", sql);
    run(d, "%s", q);
    printf("     plan of %s:\n%s", sql, d->out);
    return d->rc == SQLITE_OK && strstr(d->out, needle) != NULL;
}

/* ---- cases ----------------------------------------------------------------------------------- */

static void case_basic(drv *d)
{
    if (create(d, "t1",
               "(id INT PRIMARY KEY, k INT NOT NULL DEFAULT 0, c CHAR(20) NOT NULL DEFAULT '', "
               "pad VARCHAR(30), KEY k_1 (k))") != 0) {
        return;
    }
    for (int i = 1; i <= 40; i++) {
        run(d, "INSERT INTO t1 (id, k, c, pad) VALUES (%d, %d, 'c%d', 'p%d')", i, i % 7, i, i);
        if (d->rc != SQLITE_OK || d->env.affected != 1) {
            check(d, false, "insert %d", i);
        }
    }
    run(d, "SELECT c, pad, k FROM t1 WHERE id = 7");
    check(d, out_is(d, "c7|p7|0\n"), "point select by id");
    check(d, plan_has(d, "point get PRIMARY", "SELECT c FROM t1 WHERE id = 7"),
          "point select uses a point get");
    run(d, "SELECT id, c FROM t1 WHERE id IN (9, 3, 1000, '5', 3, 7.5) ORDER BY id");
    check(d, out_is(d, "3|c3\n5|c5\n9|c9\n"), "IN list on the handle");
    check(d, plan_has(d, "batch get PRIMARY", "SELECT c FROM t1 WHERE id IN (1, 2, 3)"),
          "IN list read with one batch get");
    run(d, "SELECT c FROM t1 WHERE id = 1000");
    check(d, out_is(d, ""), "point select of a missing row is empty");
    run(d, "SELECT count(*), sum(id), sum(k) FROM t1");
    check(d, out_is(d, "40|820|120\n"), "full scan count/sum");
    check(d, plan_has(d, "full scan", "SELECT count(*) FROM t1"), "count(*) is a full scan");
    run(d, "SELECT id FROM t1 WHERE id BETWEEN 10 AND 13");
    check(d, out_is(d, "10\n11\n12\n13\n"), "range on the primary key");
    check(d, plan_has(d, "range PRIMARY", "SELECT id FROM t1 WHERE id BETWEEN 10 AND 13"),
          "BETWEEN uses a handle range");
    run(d, "SELECT id FROM t1 WHERE id > 37");
    check(d, out_is(d, "38\n39\n40\n"), "open range");
    run(d, "SELECT id FROM t1 WHERE id > 37.5");
    check(d, out_is(d, "38\n39\n40\n"), "range with a real bound");
    run(d, "SELECT id FROM t1 WHERE id = '12'");
    check(d, out_is(d, "12\n"), "text equal to the handle");
    run(d, "SELECT id FROM t1 WHERE id = 12.5");
    check(d, out_is(d, ""), "non-integral real matches no handle");
    run(d, "SELECT id FROM t1 WHERE id < 'abc' AND id < 3");
    check(d, out_is(d, "1\n2\n"), "integers sort below text");
    run(d, "SELECT id FROM t1 WHERE k = 3 ORDER BY id");
    check(d, out_is(d, "3\n10\n17\n24\n31\n38\n"), "lookup through index k_1");
    check(d, plan_has(d, "index k_1", "SELECT c FROM t1 WHERE k = 3"), "k = ? uses index k_1");
    run(d, "SELECT c FROM t1 WHERE c = 'c5'");
    check(d, out_is(d, "c5\n"), "non-indexed filter");
    run(d, "UPDATE t1 SET k = 100 WHERE id = 5");
    check(d, d->rc == SQLITE_OK && d->env.affected == 1, "update k of one row: 1 affected");
    run(d, "SELECT id FROM t1 WHERE k = 100");
    check(d, out_is(d, "5\n"), "index entry of the new value");
    run(d, "SELECT id FROM t1 WHERE k = 5 ORDER BY id");
    check(d, out_is(d, "12\n19\n26\n33\n40\n"), "old index entry removed");
    run(d, "UPDATE t1 SET k = 100 WHERE id = 5");
    check(d, d->rc == SQLITE_OK && d->env.affected == 0, "unchanged update: 0 affected");
    d->env.found_rows = true;
    run(d, "UPDATE t1 SET k = 100 WHERE id = 5");
    d->env.found_rows = false;
    check(d, d->rc == SQLITE_OK && d->env.affected == 1, "unchanged update, found rows: 1");
    run(d, "UPDATE t1 SET c = 'x' WHERE id BETWEEN 20 AND 24");
    check(d, d->rc == SQLITE_OK && d->env.affected == 5, "range update: 5 affected");
    run(d, "SELECT count(*) FROM t1 WHERE c = 'x'");
    check(d, out_is(d, "5\n"), "range update applied");
    run(d, "UPDATE t1 SET id = 140 WHERE id = 40");
    check(d, d->rc == SQLITE_OK && d->env.affected == 1, "handle change");
    run(d, "SELECT id, k FROM t1 WHERE k = 5 ORDER BY id");
    check(d, out_is(d, "12|5\n19|5\n26|5\n33|5\n140|5\n"), "index follows a handle change");
    run(d, "SELECT id FROM t1 WHERE id = 40");
    check(d, out_is(d, ""), "old handle gone");
    run(d, "DELETE FROM t1 WHERE id = 6");
    check(d, d->rc == SQLITE_OK && d->env.affected == 1, "delete one row");
    run(d, "SELECT id FROM t1 WHERE k = 6 ORDER BY id");
    check(d, out_is(d, "13\n20\n27\n34\n"), "deleted row's index entry gone");
    run(d, "DELETE FROM t1 WHERE k = 5");
    check(d, d->rc == SQLITE_OK && d->env.affected == 5, "delete through the index: 5");
    run(d, "SELECT count(*) FROM t1");
    check(d, out_is(d, "34\n"), "rows left");
    run(d, "INSERT INTO t1 (id, k) VALUES (500, ?)");
    check(d,
          d->rc != SQLITE_OK && d->my_errno == 1048 &&
              strcmp(d->errmsg, "Column 'k' cannot be null") == 0,
          "NOT NULL, NULL bound to a parameter: 1048");
    run(d, "INSERT INTO t1 (id) VALUES (501)");
    check(d, d->rc == SQLITE_OK && d->env.affected == 1, "insert naming only the key");
    run(d, "SELECT k, c, pad FROM t1 WHERE id = 501");
    check(d, out_is(d, "0||NULL\n"), "declared defaults fill omitted columns");
}

static void case_unique(drv *d)
{
    if (create(d, "u",
               "(id INT NOT NULL AUTO_INCREMENT PRIMARY KEY, email VARCHAR(50), n INT, "
               "UNIQUE KEY uk_email (email), UNIQUE KEY uk_n_email (n, email))") != 0) {
        return;
    }
    run(d, "INSERT INTO u (email, n) VALUES ('a', 1)");
    uint64_t first = d->env.first_insert_id;
    check(d, d->rc == SQLITE_OK && d->env.insert_id_set && first > 0,
          "auto increment id generated (%llu)", (unsigned long long)first);
    run(d, "INSERT INTO u (email, n) VALUES ('b', 1), ('c', 2)");
    check(d, d->rc == SQLITE_OK && d->env.affected == 2 && d->env.first_insert_id == first + 1,
          "multi-row insert: first id of the statement");
    run(d, "INSERT INTO u (email, n) VALUES ('a', 9)");
    char want[200];
    snprintf(want, sizeof want, "Duplicate entry 'a' for key 'u%s.uk_email'", g_suffix);
    check(d, d->rc == SQLITE_CONSTRAINT && d->my_errno == 1062 && strcmp(d->errmsg, want) == 0,
          "duplicate unique value: 1062 %s", want);
    run(d, "INSERT INTO u (id, email) VALUES (%llu, 'zz')", (unsigned long long)first);
    snprintf(want, sizeof want, "Duplicate entry '%llu' for key 'u%s.PRIMARY'",
             (unsigned long long)first, g_suffix);
    check(d, d->my_errno == 1062 && strcmp(d->errmsg, want) == 0, "duplicate primary key: %s",
          want);
    run(d, "INSERT INTO u (email, n) VALUES ('q', 5), ('q', 6)");
    check(d, d->my_errno == 1062, "duplicate within one statement");
    run(d, "SELECT count(*) FROM u WHERE email = 'q'");
    check(d, out_is(d, "0\n"), "failed statement left nothing (driver rolls back)");
    run(d, "INSERT INTO u (email, n) VALUES (NULL, 7), (NULL, 7)");
    check(d, d->rc == SQLITE_OK && d->env.affected == 2, "NULLs never collide in a unique index");
    run(d, "SELECT count(*) FROM u WHERE email IS NULL");
    check(d, out_is(d, "2\n"), "both NULL rows present");
    d->nwarn = 0;
    run(d, "INSERT OR IGNORE INTO u (email, n) VALUES ('a', 3), ('d', 3)");
    check(d, d->rc == SQLITE_OK && d->env.affected == 1 && d->nwarn == 1 && d->warn_code == 1062,
          "INSERT IGNORE: duplicate skipped with warning 1062, other row in");
    run(d, "SELECT id FROM u WHERE email = 'b'");
    long long bid = atoll(d->out);
    /* REPLACE conflicting with row `first` (PK) and with the row holding 'b' (uk_email) */
    run(d, "REPLACE INTO u (id, email, n) VALUES (%llu, 'b', 50)", (unsigned long long)first);
    check(d, d->rc == SQLITE_OK && d->env.affected == 3,
          "REPLACE over two conflicting rows: 3 affected (got %llu)",
          (unsigned long long)d->env.affected);
    run(d, "SELECT id, email, n FROM u WHERE email IN ('a', 'b') ORDER BY id");
    snprintf(want, sizeof want, "%llu|b|50\n", (unsigned long long)first);
    check(d, out_is(d, want), "REPLACE result");
    run(d, "SELECT count(*) FROM u WHERE id = %lld", bid);
    check(d, out_is(d, "0\n"), "the other conflicting row is gone");
    run(d, "SELECT id FROM u WHERE email = 'b'");
    snprintf(want, sizeof want, "%llu\n", (unsigned long long)first);
    check(d, out_is(d, want), "unique index points at the replacing row");
    run(d, "UPDATE u SET email = 'c' WHERE id = %llu", (unsigned long long)first);
    check(d, d->my_errno == 1062, "UPDATE into a duplicate: 1062");
    run(d, "UPDATE u SET email = 'e' WHERE id = %llu", (unsigned long long)first);
    check(d, d->rc == SQLITE_OK && d->env.affected == 1, "UPDATE of a unique column");
    run(d, "INSERT INTO u (email, n) VALUES ('b', 1)");
    check(d, d->rc == SQLITE_OK, "the old unique value is free again");
    check(d, plan_has(d, "index uk_email", "SELECT id FROM u WHERE email = 'e'"),
          "unique lookup uses uk_email");
    run(d, "INSERT INTO u (id, email) VALUES (100000, 'big')");
    run(d, "INSERT INTO u (email) VALUES ('after')");
    check(d, d->rc == SQLITE_OK && d->env.first_insert_id > 100000,
          "explicit id rebases AUTO_INCREMENT (%llu)", (unsigned long long)d->env.first_insert_id);
    run(d, "INSERT INTO u (id, email) VALUES (0, 'zero')");
    check(d, d->rc == SQLITE_OK && d->env.insert_id_set && d->env.first_insert_id > 100001,
          "explicit 0 means next value");
}

static void case_order_limit(drv *d)
{
    if (create(d, "o", "(id INT PRIMARY KEY, k INT, c VARCHAR(10), KEY k_1 (k))") != 0) {
        return;
    }
    run(d, "WITH RECURSIVE s(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM s WHERE x < 30) "
           "INSERT INTO o (id, k, c) SELECT x, 31 - x, 'c' || x FROM s");
    check(d, d->rc == SQLITE_OK && d->env.affected == 30, "30 rows");
    run(d, "SELECT id FROM o ORDER BY id LIMIT 5 OFFSET 3");
    check(d, out_is(d, "4\n5\n6\n7\n8\n"), "ORDER BY id LIMIT 5 OFFSET 3");
    check(d,
          plan_has(d, "limit", "SELECT id FROM o ORDER BY id LIMIT 5 OFFSET 3") &&
              strstr(d->out, "TEMP B-TREE") == NULL,
          "order consumed and LIMIT pushed");
    /* c is not indexed: SQLite offers LIMIT/OFFSET along with c > ?, which the module does
     * not use — pushing the LIMIT would stop before SQLite's filter found enough rows */
    run(d, "SELECT id FROM o WHERE c > 'c2' ORDER BY id LIMIT 5 OFFSET 3");
    check(d, out_is(d, "6\n7\n8\n9\n20\n"),
          "3.40 trap: extra constraint not consumed, LIMIT/OFFSET still right");
    check(d,
          plan_has(d, "full scan", "SELECT id FROM o WHERE c > 'c2' ORDER BY id LIMIT 5") &&
              strstr(d->out, "limit") == NULL,
          "no LIMIT pushed with a constraint left to SQLite");
    run(d, "SELECT id FROM o WHERE id > 10 ORDER BY id LIMIT 3 OFFSET 2");
    check(d, out_is(d, "13\n14\n15\n"), "range + ORDER BY + LIMIT/OFFSET");
    run(d, "SELECT id FROM o WHERE id > 10 AND c > 'c2' ORDER BY id LIMIT 3 OFFSET 1");
    check(d, out_is(d, "21\n22\n23\n"), "range + unconsumed constraint + LIMIT/OFFSET");
    run(d, "SELECT id FROM o WHERE id > 10 AND k %% 2 = 0 ORDER BY id LIMIT 3 OFFSET 1");
    check(d, out_is(d, "13\n15\n17\n"), "range + expression filter + LIMIT/OFFSET");
    run(d, "SELECT id FROM o ORDER BY id DESC LIMIT 2");
    check(d, out_is(d, "30\n29\n"), "DESC not consumed, sorted by SQLite");
    run(d, "SELECT k FROM o ORDER BY k LIMIT 4");
    check(d, out_is(d, "1\n2\n3\n4\n"), "ORDER BY indexed column LIMIT");
    check(d,
          plan_has(d, "index k_1", "SELECT k FROM o ORDER BY k LIMIT 4") &&
              strstr(d->out, "TEMP B-TREE") == NULL,
          "ORDER BY k served by index k_1");
    run(d, "SELECT id FROM o WHERE k IN (5, 3, 4) ORDER BY id");
    check(d, out_is(d, "26\n27\n28\n"), "IN on an index column with ORDER BY the handle");
    run(d, "SELECT id FROM o WHERE id IN (28, 3, 17) ORDER BY id LIMIT 2");
    check(d, out_is(d, "3\n17\n"), "IN on the handle, sorted, with LIMIT");
    run(d, "SELECT id, k FROM o WHERE k >= 28 ORDER BY k");
    check(d, out_is(d, "3|28\n2|29\n1|30\n"), "index range");
    run(d, "SELECT a.id, b.id FROM o a JOIN o b ON b.id = a.k WHERE a.id <= 3 ORDER BY a.id");
    check(d, out_is(d, "1|30\n2|29\n3|28\n"), "join: inner lookup by handle");
    check(d,
          plan_has(d, "point get",
                   "SELECT a.id, b.id FROM o a JOIN o b ON b.id = a.k WHERE a.id <= 3"),
          "join inner side is a point get");
}

static void case_covering(drv *d)
{
    if (create(d, "cv", "(id INT PRIMARY KEY, a INT, b INT, c VARCHAR(10), KEY ab (a, b))") != 0) {
        return;
    }
    for (int i = 1; i <= 20; i++) {
        run(d, "INSERT INTO cv VALUES (%d, %d, %d, 'v%d')", i, i % 4, i, i);
    }
    check(d, plan_has(d, "covering", "SELECT id, b FROM cv WHERE a = 2"),
          "id, b with a = ? is covered by (a, b)");
    run(d, "SELECT id, b FROM cv WHERE a = 2 ORDER BY b");
    check(d, out_is(d, "2|2\n6|6\n10|10\n14|14\n18|18\n"), "covering scan result");
    run(d, "SELECT b FROM cv WHERE a = 1 AND b > 10");
    check(d, out_is(d, "13\n17\n"), "equality prefix + range column");
    check(d, plan_has(d, "a=? AND b>?", "SELECT b FROM cv WHERE a = 1 AND b > 10"),
          "plan shows a=? AND b>?");
    check(d, !plan_has(d, "covering", "SELECT c FROM cv WHERE a = 2"),
          "c is not in the index: not covering");
    run(d, "SELECT c FROM cv WHERE a = 3 ORDER BY id");
    check(d, out_is(d, "v3\nv7\nv11\nv15\nv19\n"), "index lookup with row fetch");
    run(d, "UPDATE cv SET b = b + 100 WHERE a = 0");
    check(d, d->rc == SQLITE_OK && d->env.affected == 5, "update through the index");
    run(d, "SELECT b FROM cv WHERE a = 0 ORDER BY b");
    check(d, out_is(d, "104\n108\n112\n116\n120\n"), "covering scan sees the new entries");
}

static void case_ryw(drv *d)
{
    if (create(d, "r", "(id INT PRIMARY KEY, k INT, KEY k_1 (k))") != 0) {
        return;
    }
    run(d, "INSERT INTO r VALUES (1, 10), (2, 20)");
    d->explicit_txn = true;
    run(d, "INSERT INTO r VALUES (3, 30), (4, 40)");
    run(d, "SELECT count(*), sum(k) FROM r");
    check(d, out_is(d, "4|100\n"), "scan inside the txn sees its own inserts (txn scan)");
    run(d, "UPDATE r SET k = 11 WHERE id = 1");
    run(d, "SELECT id FROM r WHERE k = 11");
    check(d, out_is(d, "1\n"), "index lookup sees the txn's own update");
    run(d, "SELECT id FROM r WHERE k = 10");
    check(d, out_is(d, ""), "old entry hidden inside the txn");
    run(d, "DELETE FROM r WHERE id = 2");
    run(d, "SELECT id FROM r ORDER BY id");
    check(d, out_is(d, "1\n3\n4\n"), "delete visible inside the txn");
    run(d, "INSERT INTO r VALUES (3, 99)");
    check(d, d->my_errno == 1062, "duplicate of a row inserted by the same txn");
    run(d, "INSERT INTO r VALUES (2, 22)");
    check(d, d->rc == SQLITE_OK, "re-insert of a row deleted by the same txn");
    end_txn(d, false);
    d->explicit_txn = false;
    run(d, "SELECT id, k FROM r ORDER BY id");
    check(d, out_is(d, "1|10\n2|20\n"), "rolled back: nothing of the txn is visible");
    d->explicit_txn = true;
    run(d, "UPDATE r SET k = k + 1");
    end_txn(d, true);
    d->explicit_txn = false;
    run(d, "SELECT id, k FROM r ORDER BY id");
    check(d, out_is(d, "1|11\n2|21\n"), "committed txn visible");
}

static void case_hidden(drv *d)
{
    if (create(d, "h", "(name VARCHAR(20) NOT NULL, v INT, UNIQUE KEY uk (name))") != 0) {
        return;
    }
    run(d, "INSERT INTO h (v) VALUES (5)");
    check(d, d->my_errno == 1048 && strcmp(d->errmsg, "Column 'name' cannot be null") == 0,
          "omitted NOT NULL column without default: 1048");
    d->nwarn = 0;
    run(d, "INSERT OR IGNORE INTO h (v) VALUES (5)");
    check(d, d->rc == SQLITE_OK && d->env.affected == 0 && d->nwarn == 1 && d->warn_code == 1048,
          "INSERT IGNORE: a NOT NULL violation skips the row with warning 1048");
    run(d, "INSERT INTO h VALUES ('x', 1), ('y', 2), ('z', 3)");
    check(d, d->rc == SQLITE_OK && d->env.affected == 3, "hidden row ids");
    run(d, "SELECT name, v FROM h ORDER BY name");
    check(d, out_is(d, "x|1\ny|2\nz|3\n"), "rows back");
    run(d, "INSERT INTO h VALUES ('y', 9)");
    check(d, d->my_errno == 1062, "unique on a table without primary key");
    run(d, "UPDATE h SET v = 20 WHERE name = 'y'");
    check(d, d->rc == SQLITE_OK && d->env.affected == 1, "update by unique index");
    run(d, "DELETE FROM h WHERE v = 1");
    run(d, "SELECT name, v FROM h ORDER BY name");
    check(d, out_is(d, "y|20\nz|3\n"), "after update and delete");
    run(d, "SELECT name FROM h WHERE name = 'y  '");
    check(d, out_is(d, "y\n"), "trailing spaces do not count (PAD SPACE, as utf8mb4_bin)");
    run(d, "SELECT name FROM h WHERE name < 'z\t' ORDER BY name");
    check(d, out_is(d, "y\n"), "'z\\t' sorts below 'z' (PAD SPACE order)");
}

static void case_scan(drv *d)
{
    if (create(d, "s", "(id INT PRIMARY KEY, k INT NOT NULL, pad CHAR(60))") != 0) {
        return;
    }
    d->explicit_txn = true;
    for (int b = 0; b < 5; b++) {
        run(d,
            "WITH RECURSIVE q(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM q WHERE x < 500) "
            "INSERT INTO s SELECT x + %d, x %% 10, 'pad' || x FROM q",
            b * 500);
        check(d, d->rc == SQLITE_OK && d->env.affected == 500, "batch %d of 500 rows", b);
    }
    run(d, "SELECT count(*), sum(id), sum(k) FROM s");
    check(d, out_is(d, "2500|3126250|11250\n"), "scan inside the writing txn (merged buffer)");
    end_txn(d, true);
    d->explicit_txn = false;
    run(d, "SELECT count(*), sum(id), sum(k), min(pad), max(id) FROM s");
    check(d, out_is(d, "2500|3126250|11250|pad1|2500\n"),
          "coprocessor scan over 2500 rows (batches of 1024)");
    run(d, "SELECT count(*) FROM s WHERE id BETWEEN 1000 AND 2200");
    check(d, out_is(d, "1201\n"), "coprocessor range scan");
    run(d, "SELECT id FROM s WHERE id >= 1020 ORDER BY id LIMIT 3");
    check(d, out_is(d, "1020\n1021\n1022\n"), "range with limit budget");
    run(d, "DELETE FROM s WHERE id > 100");
    check(d, d->rc == SQLITE_OK && d->env.affected == 2400, "bulk delete (2400)");
    run(d, "SELECT count(*) FROM s");
    check(d, out_is(d, "100\n"), "100 left");
}

/* Drops the SQLite declaration of name and declares it again (after DDL moved its version). */
static int redeclare(drv *d, const char *name)
{
    char sql[256];
    snprintf(sql, sizeof sql,
             "DROP TABLE main.%s; CREATE VIRTUAL TABLE main.%s USING tessera(\"test\", \"%s%s\")",
             name, name, name, g_suffix);
    char *em = NULL;
    if (sqlite3_exec(d->db, sql, NULL, NULL, &em) != SQLITE_OK) {
        printf("redeclare failed: %s\n", em ? em : "?");
        sqlite3_free(em);
        d->failures++;
        return -1;
    }
    return 0;
}

/* Entries written by the catalog's ADD INDEX backfill and by the module must be the same bytes:
 * lookups find backfilled entries, and updates/deletes through the module remove them. */
static void case_backfill(drv *d)
{
    if (create(d, "bf", "(id INT PRIMARY KEY, a INT, s VARCHAR(10), n INT)") != 0) {
        return;
    }
    run(d, "INSERT INTO bf VALUES (1, 10, 'x', NULL), (2, 20, 'y  ', 5), (3, 10, NULL, 5), "
           "(4, 30, 'zz', 6)");
    check(d, d->rc == SQLITE_OK && d->env.affected == 4, "rows before the indexes exist");
    run(d, "SELECT a FROM bf WHERE id = 1");
    if (ddl(d,
            "ALTER TABLE bf%s ADD INDEX ka (a), ADD UNIQUE INDEX us (s), ADD UNIQUE INDEX un "
            "(n, a)",
            g_suffix) != 0 ||
        redeclare(d, "bf") != 0) {
        return;
    }
    run(d, "SELECT id FROM bf WHERE a = 10 ORDER BY id");
    check(d, out_is(d, "1\n3\n"), "lookup through a backfilled non-unique index");
    check(d, plan_has(d, "index ka", "SELECT id FROM bf WHERE a = 10"), "uses ka");
    run(d, "SELECT id FROM bf WHERE s = 'y'");
    check(d, out_is(d, "2\n"), "'y' = 'y  ' (PAD SPACE key and collation)");
    run(d, "SELECT id FROM bf WHERE s >= 'y' AND s < 'z' ORDER BY s");
    check(d, out_is(d, "2\n"), "range through the backfilled unique index");
    run(d, "INSERT INTO bf VALUES (5, 1, 'y', 1)");
    check(d, d->my_errno == 1062, "backfilled unique entry ('y  ') conflicts with 'y'");
    run(d, "INSERT INTO bf VALUES (6, 10, 'q', 5)");
    check(d, d->my_errno == 1062, "backfilled composite unique entry (5, 10) conflicts");
    run(d, "UPDATE bf SET a = 11 WHERE id = 1");
    run(d, "DELETE FROM bf WHERE id = 4");
    run(d, "SELECT id FROM bf WHERE a = 10 ORDER BY id");
    check(d, out_is(d, "3\n"), "backfilled entry removed by an update through the module");
    run(d, "SELECT count(*) FROM bf WHERE a = 30");
    check(d, out_is(d, "0\n"), "backfilled entry removed by a delete through the module");
    run(d, "INSERT INTO bf VALUES (7, 40, 'zz', 6)");
    check(d, d->rc == SQLITE_OK, "unique values of the deleted row are free");
}

static void case_prefix(drv *d)
{
    if (create(d, "px",
               "(id INT PRIMARY KEY, name VARCHAR(20) NOT NULL, tag VARBINARY(10), "
               "KEY pn (name(3)), UNIQUE KEY ut (tag(2)))") != 0) {
        return;
    }
    run(d, "INSERT INTO px VALUES (1, 'abcdef', x'0102'), (2, 'abcxyz', x'0203'), "
           "(3, 'abd', NULL), (4, 'ab', NULL), (5, 'b', x'0304')");
    check(d, d->rc == SQLITE_OK && d->env.affected == 5, "rows with prefix-indexed values");
    run(d, "SELECT id FROM px WHERE name = 'abcxyz'");
    check(d, out_is(d, "2\n"), "equality through a prefix index (SQLite re-checks the rest)");
    check(d,
          plan_has(d, "index pn", "SELECT id FROM px WHERE name = 'abcxyz'") &&
              strstr(d->out, "covering") == NULL,
          "prefix index used, never covering");
    run(d, "SELECT id FROM px WHERE name > 'abc' ORDER BY id");
    check(d, out_is(d, "1\n2\n3\n5\n"), "range bound on a prefix column is inclusive");
    run(d, "SELECT id FROM px WHERE name <= 'abc' ORDER BY id");
    check(d, out_is(d, "4\n"), "upper bound on a prefix column");
    run(d, "INSERT INTO px VALUES (6, 'zz', x'0102ff')");
    check(d, d->my_errno == 1062, "unique prefix: same first 2 bytes is a duplicate");
    run(d, "UPDATE px SET name = 'abzzz' WHERE id = 1");
    run(d, "SELECT id FROM px WHERE name = 'abzzz'");
    check(d, out_is(d, "1\n"), "prefix entry moved by an update");
    run(d, "SELECT id FROM px WHERE name = 'abcdef'");
    check(d, out_is(d, ""), "old prefix entry gone");
}

static void case_types(drv *d)
{
    if (create(
            d, "ty",
            "(id BIGINT UNSIGNED PRIMARY KEY, d DECIMAL(10,2), dt DATETIME, e ENUM('x','y','z'), "
            "f DOUBLE, ch CHAR(5), u INT UNSIGNED, dd DATE DEFAULT '2020-02-02', "
            "ts TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP, "
            "tu DATETIME NULL DEFAULT NULL ON UPDATE CURRENT_TIMESTAMP, KEY kd (d), KEY kdt (dt), "
            "UNIQUE KEY ue (e, ch))") != 0) {
        return;
    }
    run(d, "INSERT INTO ty (id, d, dt, e, f, ch, u) VALUES "
           "(1, '12.5', '2024-01-02 03:04:05', 'y', 1.5, 'ab  ', 4000000000), "
           "(2, -3, '2023-12-31 23:59:59', 'x', -0.25, 'q', 0), "
           "(3, 12.50, '2024-01-02 03:04:06', 'z', 1e10, NULL, NULL)");
    check(d, d->rc == SQLITE_OK && d->env.affected == 3, "mixed types inserted");
    run(d, "SELECT id, d, dt, e, f, ch, u, dd FROM ty ORDER BY id");
    check(d,
          out_is(d, "1|12.50|2024-01-02 03:04:05|y|1.5|ab|4000000000|2020-02-02\n"
                    "2|-3.00|2023-12-31 23:59:59|x|-0.25|q|0|2020-02-02\n"
                    "3|12.50|2024-01-02 03:04:06|z|10000000000.0|NULL|NULL|2020-02-02\n"),
          "values back as MySQL shows them (DECIMAL scale, CHAR trimmed, defaults)");
    run(d, "SELECT count(*) FROM ty WHERE ts >= '2000-01-01' AND length(ts) = 19");
    check(d, out_is(d, "3\n"), "DEFAULT CURRENT_TIMESTAMP filled");
    run(d, "SELECT count(*) FROM ty WHERE tu IS NULL");
    check(d, out_is(d, "3\n"), "ON UPDATE column NULL after insert");
    run(d, "UPDATE ty SET f = f WHERE id = 1");
    run(d, "SELECT count(*) FROM ty WHERE tu IS NULL");
    check(d, out_is(d, "3\n"), "an update that changes nothing leaves it");
    run(d, "UPDATE ty SET f = 2.5 WHERE id = 1");
    run(d, "SELECT id FROM ty WHERE tu IS NOT NULL AND tu > '2000-01-01'");
    check(d, out_is(d, "1\n"), "ON UPDATE CURRENT_TIMESTAMP set when the row changes");
    run(d, "UPDATE ty SET f = 3.5, tu = '2001-01-01 00:00:00' WHERE id = 2");
    run(d, "SELECT tu FROM ty WHERE id = 2");
    check(d, out_is(d, "2001-01-01 00:00:00\n"), "an explicit value wins over ON UPDATE");
    run(d, "INSERT INTO ty (id, d) VALUES (6, 9.5)");
    run(d, "SELECT d FROM ty WHERE d IS NOT NULL ORDER BY d");
    check(d, out_is(d, "-3.00\n9.50\n12.50\n12.50\n"),
          "DECIMAL orders numerically (collation tessera_decimal), not as text");
    run(d, "SELECT max(d), min(d) FROM ty");
    check(d, out_is(d, "12.50|-3.00\n"), "DECIMAL max/min");
    run(d, "DELETE FROM ty WHERE id = 6");
    run(d, "SELECT id FROM ty WHERE d = 12.5 ORDER BY id");
    check(d, out_is(d, "1\n3\n"), "decimal index lookup (1.5 keyed like 1.50)");
    run(d, "SELECT id FROM ty WHERE dt > '2024-01-01' ORDER BY id");
    check(d, out_is(d, "1\n3\n"), "datetime index range");
    check(d, plan_has(d, "index kdt", "SELECT id FROM ty WHERE dt > '2024-01-01'"),
          "datetime range uses kdt");
    run(d, "INSERT INTO ty (id, e, ch) VALUES (4, 'y', 'ab')");
    check(d, d->my_errno == 1062, "unique (enum, char) duplicate (trailing spaces do not count)");
    run(d, "INSERT INTO ty (id, d) VALUES (5, 123456789.123)");
    check(d, d->rc != SQLITE_OK && d->my_errno != 0, "strict mode refuses a decimal out of range");
    run(d, "SELECT id, d FROM ty WHERE d > 0 ORDER BY id");
    check(d, out_is(d, "1|12.50\n3|12.50\n"), "unsigned handle column through an index");
    run(d, "SELECT id FROM ty WHERE dt > '2000-01-01' ORDER BY id");
    check(d, out_is(d, "1\n2\n3\n"), "unsigned handle column from a covering scan");
    run(d, "SELECT sum(id) FROM ty");
    check(d, out_is(d, "6\n"), "unsigned handle column from a coprocessor scan");
    run(d, "SELECT count(*) FROM ty WHERE id = 18446744073709551615");
    check(d, out_is(d, "0\n"), "an unsigned key above INT64_MAX finds nothing");
}

/* Runs q with the comparison as an index constraint and again with the same comparison inside a
 * CASE (never a constraint: a full scan, SQLite's own evaluation); both outputs must agree. */
static bool same_as_scan(drv *d, const char *col, const char *cmp)
{
    static char a[65536];
    run(d, "SELECT id FROM bd WHERE %s %s ORDER BY id", col, cmp);
    if (d->rc != SQLITE_OK) {
        return false;
    }
    memcpy(a, d->out, sizeof a);
    run(d, "SELECT id FROM bd WHERE CASE WHEN %s %s THEN 1 ELSE 0 END ORDER BY id", col, cmp);
    if (d->rc != SQLITE_OK || strcmp(a, d->out) != 0) {
        printf("     %s %s: index [%s] scan [%s]\n", col, cmp, a, d->out);
        return false;
    }
    return true;
}

/* Index key bounds for values that do not convert exactly (5.5 into an INT is 6, a DATETIME(0)
 * rounds fractions, strings compare PAD SPACE): every operator and BETWEEN, each result checked
 * against SQLite's own evaluation of the same comparison over a full scan. */
static void case_bounds(drv *d)
{
    if (create(d, "bd",
               "(id INT PRIMARY KEY, i INT, dc DECIMAL(5,2), dt DATETIME, dd DATE, "
               "s VARCHAR(6), ch CHAR(4), u INT UNSIGNED, e ENUM('b','a','c'), "
               "KEY ki (i), KEY kdc (dc), KEY kdt (dt), KEY kdd (dd), KEY ks (s), KEY kch (ch), "
               "KEY ku (u), KEY ke (e))") != 0) {
        return;
    }
    run(d, "INSERT INTO bd VALUES "
           "(1, 4, 1.00, '2024-01-01 00:00:04', '2024-01-01', 'ab', 'ab', 0, 'b'), "
           "(2, 5, 1.01, '2024-01-01 00:00:05', '2024-01-02', 'ab ', 'abc', 5, 'a'), "
           "(3, 6, 1.10, '2024-01-01 00:00:06', '2024-01-03', 'abc', 'b', 6, 'c'), "
           "(4, 7, -1.00, '2023-12-31 23:59:59', '2023-12-31', 'a', '', 7, 'a'), "
           "(5, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL), "
           "(6, -5, 999.99, '2024-01-01 00:00:07', '2024-01-04', '', 'zz', 4294967295, 'b'), "
           "(7, 6, 1.00, '2024-01-01 00:00:06', '2024-01-03', 'b', 'b ', 6, 'c')");
    check(d, d->rc == SQLITE_OK && d->env.affected == 7, "rows for the bound checks");
    static const struct {
        const char *col, *ix;
        const char *vals[12];
    } cols[] = {
        {"i",
         "ki",
         {"5", "5.5", "'5.5'", "5.4", "6", "-5.5", "6.0", "'abc'", "1e30", "-1e30", "x'06'", NULL}},
        {"dc",
         "kdc",
         {"1", "1.005", "'1.005'", "1.01", "1.0099", "1.1", "'1.10'", "-1", "999.995", "1000",
          "-0.001", NULL}},
        {"dt",
         "kdt",
         {"'2024-01-01 00:00:05.5'", "'2024-01-01 00:00:05'", "'2024-01-01 00:00:04.4'",
          "'2024-01-01 00:00:05.000001'", "'2024-01-01'", "20240101000005.5",
          "'2023-12-31 23:59:59.9'", "'garbage'", NULL}},
        {"dd",
         "kdd",
         {"'2024-01-02'", "'2024-01-02 12:00:00'", "'2024-01-02 00:00:00'",
          "'2024-01-01 23:59:59.5'", "20240102", "'2024-1-2'", NULL}},
        {"s",
         "ks",
         {"'ab'", "'ab '", "'ab  '", "'abc'", "''", "' '", "'a'", "'abcdefgh'", "5", "'b'",
          "'ab\tx'", NULL}},
        {"ch", "kch", {"'ab'", "'ab  '", "'abc'", "'abcde'", "''", "'b'", "'b  '", "'z'", NULL}},
        {"u",
         "ku",
         {"5", "5.5", "-1", "-0.5", "0", "4294967295", "4294967295.5", "4294967296", "'6'", NULL}},
        {"e", "ke", {"'a'", "'b'", "'c'", "'a '", "'d'", "2", NULL}},
    };
    static const char *ops[] = {"=", "<", "<=", ">", ">="};
    int bad = 0, total = 0;
    for (size_t c = 0; c < sizeof cols / sizeof cols[0]; c++) {
        char cmp[256];
        for (int v = 0; cols[c].vals[v] != NULL; v++) {
            for (size_t o = 0; o < sizeof ops / sizeof ops[0]; o++) {
                snprintf(cmp, sizeof cmp, "%s %s", ops[o], cols[c].vals[v]);
                bad += !same_as_scan(d, cols[c].col, cmp);
                total++;
            }
            for (int w = 0; cols[c].vals[w] != NULL; w++) {
                snprintf(cmp, sizeof cmp, "BETWEEN %s AND %s", cols[c].vals[v], cols[c].vals[w]);
                bad += !same_as_scan(d, cols[c].col, cmp);
                total++;
            }
        }
        /* ORDER BY +col is never consumed by the module: SQLite sorts (same collation) */
        static char a[65536];
        run(d, "SELECT %s, id FROM bd ORDER BY %s, id", cols[c].col, cols[c].col);
        memcpy(a, d->out, sizeof a);
        run(d, "SELECT %s, id FROM bd ORDER BY +%s, id", cols[c].col, cols[c].col);
        check(d, strcmp(a, d->out) == 0, "ORDER BY %s as SQLite sorts it", cols[c].col);
        check(d,
              plan_has(d, cols[c].ix, "SELECT id FROM bd WHERE %s = %s", cols[c].col,
                       cols[c].vals[0]),
              "equality on %s uses %s", cols[c].col, cols[c].ix);
    }
    printf("     %d comparisons, %d differ\n", total, bad);
    check(d, bad == 0 && total > 500, "index ranges give what a full scan gives (%d cases)", total);
    run(d, "SELECT e, id FROM bd WHERE e IS NOT NULL ORDER BY e, id");
    check(d, out_is(d, "b|1\nb|6\na|2\na|4\nc|3\nc|7\n"),
          "ORDER BY an ENUM column sorts by member number, as MySQL does");
}

static double now_s(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

/* CPU time of the calling thread: what the module costs, without the wait for the store. */
static double cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* n point reads of pf: raw cm_txn_get of the row key, then the cached SELECT through the
 * module; per-query wall and thread-CPU microseconds. */
static void perf_loop(drv *d, const char *what, int64_t tid, int n)
{
    cm_txn *t = NULL;
    cm_err err;
    d_txn(d, &t, &err);
    cm_buf key = CM_BUF_INIT, val = CM_BUF_INIT;
    double t0 = now_s(), c0 = cpu_s();
    for (int i = 0; i < n; i++) {
        cm_buf_reset(&key);
        cm_keys_append_row(&key, tid, 1 + (i * 37) % 1000);
        cm_txn_get(t, cm_buf_slice(&key), &val, &err);
    }
    double raw = (now_s() - t0) / n * 1e6, raw_cpu = (cpu_s() - c0) / n * 1e6;
    sqlite3_stmt *st;
    sqlite3_prepare_v2(d->db, "SELECT c FROM pf WHERE id = ?", -1, &st, NULL);
    t0 = now_s();
    c0 = cpu_s();
    int found = 0;
    for (int i = 0; i < n; i++) {
        sqlite3_bind_int64(st, 1, 1 + (i * 37) % 1000);
        while (sqlite3_step(st) == SQLITE_ROW) {
            found += sqlite3_column_bytes(st, 0) == 120;
        }
        sqlite3_reset(st);
    }
    double vt = (now_s() - t0) / n * 1e6, vt_cpu = (cpu_s() - c0) / n * 1e6;
    sqlite3_finalize(st);
    printf("point select, %s (%d queries): raw cm_txn_get %.2f us wall / %.2f us CPU; SELECT "
           "through the vtab %.2f us wall / %.2f us CPU\n",
           what, n, raw, raw_cpu, vt, vt_cpu);
    check(d, found == n, "every point select found its row");
    cm_buf_fini(&key);
    cm_buf_fini(&val);
}

/* Not a test (not in the pytest list): point-select cost through the module next to the raw KV
 * read it wraps, with a cached prepared statement as the session has. First against rows in
 * the transaction's own buffer (no RPC: the module's and SQLite's CPU cost alone), then
 * against committed rows (one KV round trip each). */
static void case_perf(drv *d)
{
    if (create(d, "pf",
               "(id INT PRIMARY KEY, k INT NOT NULL DEFAULT 0, c CHAR(120) NOT NULL "
               "DEFAULT '', pad CHAR(60) NOT NULL DEFAULT '', KEY k_1 (k))") != 0) {
        return;
    }
    char full[64];
    snprintf(full, sizeof full, "pf%s", g_suffix);
    int64_t tid = sql_schema_table(d->schema, "test", full)->id;
    const char *load = "WITH RECURSIVE q(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM q WHERE "
                       "x < 1000) INSERT INTO pf SELECT x, x * 7 % 1000, printf('%0120d', x), "
                       "printf('%060d', x) FROM q";
    d->explicit_txn = true;
    run(d, "%s", load);
    check(d, d->rc == SQLITE_OK && d->env.affected == 1000, "1000 rows buffered");
    perf_loop(d, "rows in the txn buffer", tid, 200000);
    end_txn(d, true);
    perf_loop(d, "committed rows, one RPC each", tid, 3000);
    end_txn(d, false);
    d->explicit_txn = false;
}

/* One sysbench-prepare-shaped statement (nrows rows of (k, c, pad), or (id, k, c, pad) when
 * first_id > 0) built into buf; returns its length. */
static size_t sb_insert_sql(char *buf, size_t cap, const char *table, int nrows, int64_t first_id,
                            int seed)
{
    size_t o = (size_t)snprintf(buf, cap, "INSERT INTO %s(%sk, c, pad) VALUES", table,
                                first_id > 0 ? "id, " : "");
    for (int i = 0; i < nrows && o < cap; i++) {
        char idp[32] = "";
        if (first_id > 0) {
            snprintf(idp, sizeof idp, "%lld, ", (long long)(first_id + i));
        }
        unsigned x = (unsigned)(seed * 7919 + i * 104729);
        o += (size_t)snprintf(buf + o, cap - o,
                              "%s(%s%u, '%011u-%011u-%011u-%011u-%011u-%011u-%011u-%011u-%011u-"
                              "%011u', '%011u-%011u-%011u-%011u-%011u')",
                              i ? "," : "", idp, x % 100000, x, x + 1, x + 2, x + 3, x + 4, x + 5,
                              x + 6, x + 7, x + 8, x + 9, x + 10, x + 11, x + 12, x + 13, x + 14);
    }
    return o;
}

/* Runs one statement in autocommit and times it: the statement (sqlite3_step to SQLITE_DONE,
 * where the module stages the rows) and the commit (2PC) apart. */
static int timed_stmt(drv *d, const char *sql, size_t len, double *step_s, double *commit_s)
{
    d->env.affected = 0;
    d->env.insert_id_set = false;
    cm_err_clear(&d->env.err);
    d->env.strict = true;
    d->env.now_us = (int64_t)(now_s() * 1e6);
    sqlite3_stmt *st = NULL;
    double t0 = now_s();
    int rc = sqlite3_prepare_v2(d->db, sql, (int)len, &st, NULL);
    while (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
    }
    rc = rc == SQLITE_DONE ? SQLITE_OK : rc;
    if (rc != SQLITE_OK) {
        snprintf(d->errmsg, sizeof d->errmsg, "%s", d->env.err.code ? d->env.err.msg : "?");
    }
    sqlite3_finalize(st);
    double t1 = now_s();
    end_txn(d, rc == SQLITE_OK);
    *step_s = t1 - t0;
    *commit_s = now_s() - t1;
    d->rc = rc;
    return rc;
}

static int cmp_dbl(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Not a test: the write path of sysbench's prepare — INSERT INTO sbtest(k, c, pad) VALUES with
 * 2,716 rows per statement into a table whose AUTO_INCREMENT INTEGER PRIMARY KEY is the handle
 * and with a non-unique index on k — then the same with explicit ids and with a unique index.
 * Prints the median over 5 statements of the statement (staging the rows, including the unique
 * checks) and of the commit. */
static void case_perf_insert(drv *d)
{
    static const struct {
        const char *name, *body;
        bool explicit_id;
    } shapes[] = {
        {"sb",
         "(id INTEGER NOT NULL AUTO_INCREMENT, k INTEGER DEFAULT '0' NOT NULL, c CHAR(120) "
         "DEFAULT '' NOT NULL, pad CHAR(60) DEFAULT '' NOT NULL, PRIMARY KEY (id), "
         "KEY k_1 (k))",
         false},
        {"sbx",
         "(id INTEGER NOT NULL, k INTEGER DEFAULT '0' NOT NULL, c CHAR(120) DEFAULT '' NOT "
         "NULL, pad CHAR(60) DEFAULT '' NOT NULL, PRIMARY KEY (id), KEY k_1 (k))",
         true},
        {"sbu",
         "(id INTEGER NOT NULL AUTO_INCREMENT, k INTEGER DEFAULT '0' NOT NULL, c CHAR(120) "
         "DEFAULT '' NOT NULL, pad CHAR(60) DEFAULT '' NOT NULL, PRIMARY KEY (id), "
         "UNIQUE KEY uc (c))",
         false},
    };
    enum { NROWS = 2716, REPS = 5 };
    size_t cap = (size_t)NROWS * 256 + 256;
    char *sql = malloc(cap);
    if (sql == NULL) {
        return;
    }
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        if (create(d, shapes[s].name, shapes[s].body) != 0) {
            break;
        }
        double st[REPS], cm[REPS];
        int ok = 0;
        for (int r = 0; r < REPS; r++) {
            size_t len = sb_insert_sql(sql, cap, shapes[s].name, NROWS,
                                       shapes[s].explicit_id ? 1 + (int64_t)r * NROWS : 0, r);
            if (timed_stmt(d, sql, len, &st[r], &cm[r]) == SQLITE_OK && d->env.affected == NROWS) {
                ok++;
            } else {
                printf("     insert failed: %s\n", d->errmsg);
            }
        }
        qsort(st, REPS, sizeof st[0], cmp_dbl);
        qsort(cm, REPS, sizeof cm[0], cmp_dbl);
        printf("insert %d rows x 4 columns, %s: statement median %.1f ms (min %.1f, max %.1f), "
               "commit median %.1f ms\n",
               NROWS,
               s == 0   ? "AUTO_INCREMENT id + KEY k"
               : s == 1 ? "explicit id + KEY k"
                        : "AUTO_INCREMENT id + UNIQUE c",
               st[REPS / 2] * 1e3, st[0] * 1e3, st[REPS - 1] * 1e3, cm[REPS / 2] * 1e3);
        check(d, ok == REPS, "%s: every statement inserted %d rows", shapes[s].name, NROWS);
        run(d, "SELECT count(*), count(DISTINCT id) FROM %s", shapes[s].name);
        char want[64];
        snprintf(want, sizeof want, "%d|%d\n", NROWS * REPS, NROWS * REPS);
        check(d, out_is(d, want), "%s: %d rows stored", shapes[s].name, NROWS * REPS);
        if (s != 0) {
            continue;
        }
        /* sysbench's range updates on the same table: 100-row handle ranges */
        enum { NUPD = 21 };
        double ut[NUPD], uc[NUPD];
        int uok = 0;
        for (int r = 0; r < NUPD; r++) {
            char q[160];
            int lo = 1 + (r * 613) % (NROWS * REPS - 100);
            int len = snprintf(q, sizeof q, "UPDATE sb SET k = k + 1 WHERE id BETWEEN %d AND %d",
                               lo, lo + 99);
            uok += timed_stmt(d, q, (size_t)len, &ut[r], &uc[r]) == SQLITE_OK &&
                   d->env.affected == 100;
        }
        qsort(ut, NUPD, sizeof ut[0], cmp_dbl);
        qsort(uc, NUPD, sizeof uc[0], cmp_dbl);
        printf("UPDATE sb SET k = k + 1 WHERE id BETWEEN ? AND ? (100 rows): statement median "
               "%.2f ms (min %.2f), commit median %.2f ms, %d statements\n",
               ut[NUPD / 2] * 1e3, ut[0] * 1e3, uc[NUPD / 2] * 1e3, NUPD);
        check(d, uok == NUPD, "every range update changed 100 rows");
    }
    free(sql);
}

/* INSERT ... VALUES of n rows (ids first..first+n-1, u = id * 10 unless u_of overrides) */
static void insert_rows(drv *d, const char *table, int first, int n, int dup_at, int dup_id,
                        int null_at)
{
    size_t cap = (size_t)n * 48 + 128;
    char *sql = malloc(cap);
    if (sql == NULL) {
        return;
    }
    size_t o = (size_t)snprintf(sql, cap, "INSERT INTO %s (id, u, v) VALUES ", table);
    for (int i = 0; i < n && o < cap; i++) {
        int id = i == dup_at ? dup_id : first + i;
        o += (size_t)snprintf(sql + o, cap - o, "%s(%d, %d, %s)", i ? ", " : "", id, id * 10,
                              i == null_at ? "NULL" : "'x'");
    }
    double st, cm;
    timed_stmt(d, sql, o, &st, &cm);
    if (d->rc != SQLITE_OK && d->env.err.code != 0) {
        d->my_errno = cm_err_mysql_errno(d->env.err.code);
        snprintf(d->errmsg, sizeof d->errmsg, "%s", d->env.err.msg);
    } else {
        d->my_errno = 0;
    }
    free(sql);
}

/* The key checks of a plain multi-row INSERT, batched: duplicates inside the statement, against
 * stored rows and against the transaction's earlier rows, across batch boundaries; the error of
 * the first row in statement order; one batch get per SQL_VT_INSERT_BATCH rows; IGNORE and
 * REPLACE still per row; an AUTO_INCREMENT value of this node that another node inserted
 * explicitly is refused (1062), never overwritten. */
static void case_batch(drv *d)
{
    if (create(d, "bt", "(id INT PRIMARY KEY, u INT, v VARCHAR(10) NOT NULL, UNIQUE KEY uu (u))") !=
        0) {
        return;
    }
    char want[200];
    uint64_t r0 = d->env.check_reads;
    insert_rows(d, "bt", 1, 600, -1, 0, -1);
    check(d, d->rc == SQLITE_OK && d->env.affected == 600, "600 rows in one statement");
    uint64_t reads = d->env.check_reads - r0;
    check(d, reads == 3, "their keys checked with 3 batch gets, one per 256 rows (made %llu)",
          (unsigned long long)reads);
    run(d, "SELECT count(*), sum(u) FROM bt");
    check(d, out_is(d, "600|1803000\n"), "600 rows stored with their values");
    run(d, "SELECT id FROM bt WHERE u = 4000");
    check(d, out_is(d, "400\n"), "their unique entries written");
    insert_rows(d, "bt", 1001, 600, 550, 1001, -1);
    snprintf(want, sizeof want, "Duplicate entry '1001' for key 'bt%s.PRIMARY'", g_suffix);
    check(d, d->rc == SQLITE_CONSTRAINT && d->my_errno == 1062 && strcmp(d->errmsg, want) == 0,
          "duplicate of row 1 at row 551 (another batch): %s", want);
    insert_rows(d, "bt", 2001, 100, 99, 2050, -1);
    snprintf(want, sizeof want, "Duplicate entry '2050' for key 'bt%s.PRIMARY'", g_suffix);
    check(d, d->my_errno == 1062 && strcmp(d->errmsg, want) == 0, "duplicate within one batch: %s",
          want);
    insert_rows(d, "bt", 3001, 300, 290, 7, -1);
    snprintf(want, sizeof want, "Duplicate entry '7' for key 'bt%s.PRIMARY'", g_suffix);
    check(d, d->my_errno == 1062 && strcmp(d->errmsg, want) == 0,
          "duplicate of a stored row at row 291: %s", want);
    run(d, "SELECT count(*) FROM bt");
    check(d, out_is(d, "600\n"), "failed statements wrote nothing");
    run(d, "INSERT INTO bt VALUES (4001, 4001, 'a'), (4002, 30, 'b'), (4003, 4003, 'c')");
    snprintf(want, sizeof want, "Duplicate entry '30' for key 'bt%s.uu'", g_suffix);
    check(d, d->my_errno == 1062 && strcmp(d->errmsg, want) == 0,
          "unique index duplicate against a stored entry: %s", want);
    run(d, "INSERT INTO bt VALUES (4001, 77777, 'a'), (4002, 77777, 'b')");
    snprintf(want, sizeof want, "Duplicate entry '77777' for key 'bt%s.uu'", g_suffix);
    check(d, d->my_errno == 1062 && strcmp(d->errmsg, want) == 0,
          "unique index duplicate within the statement: %s", want);
    run(d, "INSERT INTO bt VALUES (4001, 4001, 'a'), (5, 4002, 'b'), (4003, 4003, NULL)");
    check(d, d->my_errno == 1062, "a duplicate at row 2 is reported before a NULL at row 3");
    run(d, "INSERT INTO bt VALUES (4001, 4001, NULL), (5, 4002, 'b')");
    check(d, d->my_errno == 1048, "a NULL at row 1 is reported before a duplicate at row 2");
    insert_rows(d, "bt", 5001, 300, -1, 0, 280);
    check(d, d->my_errno == 1048, "1048 at row 281 after a full batch");
    insert_rows(d, "bt", 5001, 300, 10, 3, 280);
    snprintf(want, sizeof want, "Duplicate entry '3' for key 'bt%s.PRIMARY'", g_suffix);
    check(d, d->my_errno == 1062 && strcmp(d->errmsg, want) == 0,
          "a duplicate at row 11 wins over 1048 at row 281: %s", want);
    run(d, "SELECT count(*) FROM bt");
    check(d, out_is(d, "600\n"), "still 600 rows");
    d->nwarn = 0;
    run(d, "INSERT OR IGNORE INTO bt VALUES (6001, 60010, 'a'), (6001, 60011, 'b'), "
           "(6002, 10, 'c'), (6003, 60030, 'd')");
    check(d, d->rc == SQLITE_OK && d->env.affected == 2 && d->nwarn == 2,
          "INSERT IGNORE: duplicates in and out of the statement skipped with warnings");
    run(d, "REPLACE INTO bt VALUES (6001, 60012, 'r'), (6001, 60013, 's')");
    run(d, "SELECT u, v FROM bt WHERE id = 6001");
    check(d, out_is(d, "60013|s\n"), "REPLACE of a row replaced in the same statement");
    /* explicit transaction: the rows of an earlier statement count */
    d->explicit_txn = true;
    run(d, "INSERT INTO bt VALUES (7001, 70010, 'a')");
    run(d, "INSERT INTO bt VALUES (7002, 70020, 'b'), (7001, 70030, 'c')");
    check(d, d->my_errno == 1062, "a row buffered by an earlier statement is a duplicate");
    run(d, "INSERT INTO bt VALUES (7003, 70010, 'b')");
    check(d, d->my_errno == 1062, "and so is its unique entry");
    run(d, "SELECT id FROM bt WHERE id >= 7000 ORDER BY id");
    check(d, out_is(d, "7001\n"), "only the successful statement's row is in the transaction");
    end_txn(d, true);
    d->explicit_txn = false;

    /* AUTO_INCREMENT: another node (its own catalog, so its own id batch) inserts a value
     * inside this node's batch; this node reaching it must fail with 1062, not overwrite. */
    if (create(d, "ai", "(id INT NOT NULL AUTO_INCREMENT PRIMARY KEY, v VARCHAR(10) NOT NULL)") !=
        0) {
        return;
    }
    run(d, "INSERT INTO ai (v) VALUES ('a')");
    uint64_t first = d->env.first_insert_id;
    sql_catalog *cat2 = NULL;
    sqlite3 *db2 = NULL;
    cm_err err;
    sql_vt_env env2 = d->env;
    if (sql_cat_open(d->kc, NULL, &cat2, &err) != 0) {
        check(d, false, "second catalog: %s", err.msg);
        return;
    }
    env2.cat = cat2;
    char decl[256];
    snprintf(decl, sizeof decl, "CREATE VIRTUAL TABLE main.ai USING tessera(\"test\", \"ai%s\")",
             g_suffix);
    int rc = sqlite3_open_v2(":memory:", &db2, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
    rc = rc == SQLITE_OK && sql_vt_register(db2, &env2, &err) == 0 ? rc : SQLITE_ERROR;
    rc = rc == SQLITE_OK ? sqlite3_exec(db2, decl, NULL, NULL, NULL) : rc;
    char ins[128];
    snprintf(ins, sizeof ins, "INSERT INTO ai (id, v) VALUES (%llu, 'other node')",
             (unsigned long long)(first + 3));
    rc = rc == SQLITE_OK ? sqlite3_exec(db2, ins, NULL, NULL, NULL) : rc;
    end_txn(d, rc == SQLITE_OK);
    check(d, rc == SQLITE_OK, "the other node inserted id %llu explicitly",
          (unsigned long long)(first + 3));
    sqlite3_close(db2);
    sql_cat_close(cat2);
    run(d, "INSERT INTO ai (v) VALUES ('b'), ('c'), ('d'), ('e')");
    snprintf(want, sizeof want, "Duplicate entry '%llu' for key 'ai%s.PRIMARY'",
             (unsigned long long)(first + 3), g_suffix);
    check(d, d->my_errno == 1062 && strcmp(d->errmsg, want) == 0,
          "this node's next value collides: %s", want);
    run(d, "SELECT v FROM ai WHERE id = %llu", (unsigned long long)(first + 3));
    check(d, out_is(d, "other node\n"), "the other node's row is intact");
}

/* The vtab table rm and the ordinary table ref hold the same rows: compares their contents and
 * reads rm's indexes back (k through k_1, c through uc). */
static bool rm_matches(drv *d, const char *what)
{
    static char a[65536];
    run(d, "SELECT id, k, c FROM rm ORDER BY id");
    memcpy(a, d->out, sizeof a);
    run(d, "SELECT id, k, c FROM ref ORDER BY id");
    bool ok = d->rc == SQLITE_OK && strcmp(a, d->out) == 0;
    run(d, "SELECT k, count(*), sum(id) FROM rm WHERE k >= -1000000 GROUP BY k ORDER BY k");
    memcpy(a, d->out, sizeof a);
    run(d, "SELECT k, count(*), sum(id) FROM ref GROUP BY k ORDER BY k");
    ok = ok && strcmp(a, d->out) == 0;
    run(d, "SELECT count(*) FROM rm WHERE c >= ''");
    memcpy(a, d->out, sizeof a);
    run(d, "SELECT count(*) FROM ref");
    ok = ok && strcmp(a, d->out) == 0;
    for (int i = 1; ok && i <= 1000; i += 37) {
        run(d, "SELECT group_concat(id) FROM rm WHERE c = 'c%d'", i);
        memcpy(a, d->out, sizeof a);
        run(d, "SELECT group_concat(id) FROM ref WHERE c = 'c%d'", i);
        ok = strcmp(a, d->out) == 0;
    }
    if (!ok) {
        printf("     %s: rm and ref differ\n", what);
    }
    return ok;
}

/* Runs one statement on rm and on ref; checks the module read no row again (the scan kept
 * them) and both tables still agree. */
static void rm_stmt(drv *d, const char *stmt)
{
    uint64_t r0 = d->env.row_reads;
    run(d, "%s", stmt);
    uint64_t affected = d->env.affected, reads = d->env.row_reads - r0;
    bool ok = d->rc == SQLITE_OK;
    char *refq = malloc(strlen(stmt) + 8);
    if (refq == NULL) {
        return;
    }
    const char *at = strstr(stmt, " rm ");
    snprintf(refq, strlen(stmt) + 8, "%.*s ref %s", (int)(at - stmt), stmt, at + 4);
    run(d, "%s", refq);
    free(refq);
    uint64_t want_affected = (uint64_t)sqlite3_changes(d->db);
    ok = ok && d->rc == SQLITE_OK;
    check(d, ok && affected == want_affected && affected > 0, "%s: %llu rows", stmt,
          (unsigned long long)affected);
    check(d, reads == 0, "  no row read again (%llu point gets)", (unsigned long long)reads);
    check(d, rm_matches(d, stmt), "  rows and index entries as an ordinary table has them");
}

/* Range UPDATE/DELETE: the rows their scan read are kept (by handle) for xUpdate, which then
 * reads nothing again, also when the statement changes rows it scans or moves them. */
static void case_rmw(drv *d)
{
    if (create(d, "rm",
               "(id INT PRIMARY KEY, k INT NOT NULL, c VARCHAR(20), KEY k_1 (k), "
               "UNIQUE KEY uc (c))") != 0) {
        return;
    }
    run(d, "CREATE TEMP TABLE ref (id INTEGER PRIMARY KEY, k INT NOT NULL, c TEXT UNIQUE)");
    const char *load = "WITH RECURSIVE q(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM q WHERE "
                       "x < 1000) INSERT INTO %s SELECT x, x %% 50, 'c' || x FROM q";
    run(d, load, "rm");
    check(d, d->rc == SQLITE_OK && d->env.affected == 1000, "1000 rows");
    run(d, load, "ref");
    rm_stmt(d, "UPDATE rm SET k = k + 1 WHERE id BETWEEN 100 AND 199");
    check(d, plan_has(d, "range PRIMARY", "UPDATE rm SET k = k + 1 WHERE id BETWEEN 1 AND 2"),
          "  (a handle range)");
    rm_stmt(d, "DELETE FROM rm WHERE k < 10");
    check(d, plan_has(d, "index k_1", "DELETE FROM rm WHERE k < 10"), "  (an index range)");
    rm_stmt(d, "UPDATE rm SET k = k + 100 WHERE k >= 20");
    rm_stmt(d, "UPDATE rm SET c = c || 'x' WHERE k BETWEEN 130 AND 135");
    rm_stmt(d, "UPDATE rm SET id = id + 1000 WHERE id BETWEEN 500 AND 599");
    rm_stmt(d, "DELETE FROM rm WHERE id = 725");
    rm_stmt(d, "UPDATE rm SET id = id - 1 WHERE id BETWEEN 726 AND 740");
    rm_stmt(d, "UPDATE rm SET k = -k WHERE c > 'c8'");
    rm_stmt(d, "DELETE FROM rm WHERE id > 1500");
    d->explicit_txn = true;
    rm_stmt(d, "UPDATE rm SET k = k * 2 WHERE id BETWEEN 200 AND 400");
    rm_stmt(d, "UPDATE rm SET k = k + 1 WHERE id BETWEEN 300 AND 500");
    rm_stmt(d, "DELETE FROM rm WHERE k > 200");
    end_txn(d, true);
    d->explicit_txn = false;
    check(d, rm_matches(d, "after commit"), "committed transaction as the ordinary table");
}

/* An explicit NULL against an omitted column: with the statement's named columns in
 * env->insert_named the module stores NULL (or refuses it with 1048) where MySQL does, and the
 * default only for omitted columns; without them, the documented fallback. */
static void case_nulls(drv *d)
{
    if (create(d, "nl",
               "(id INT PRIMARY KEY, d INT DEFAULT 5, n INT NOT NULL DEFAULT 7, "
               "s VARCHAR(5) DEFAULT 'x')") != 0) {
        return;
    }
    char full[64];
    snprintf(full, sizeof full, "nl%s", g_suffix);
    int64_t tid = sql_schema_table(d->schema, "test", full)->id;
    bool named[4];
    d->env.insert_named = named;
    d->env.ninsert_named = 4;
    d->env.insert_table = tid;
    memcpy(named, (bool[4]){true, true, false, false}, sizeof named);
    run(d, "INSERT INTO nl (id, d) VALUES (1, NULL)");
    run(d, "SELECT id, d, n, s FROM nl WHERE id = 1");
    check(d, out_is(d, "1|NULL|7|x\n"), "explicit NULL stored as NULL, omitted columns default");
    memcpy(named, (bool[4]){true, false, true, false}, sizeof named);
    run(d, "INSERT INTO nl (id, n) VALUES (2, NULL)");
    check(d, d->my_errno == 1048, "explicit NULL into NOT NULL with a default: 1048");
    memcpy(named, (bool[4]){true, true, true, true}, sizeof named);
    run(d, "INSERT INTO nl VALUES (3, NULL, 8, NULL)");
    run(d, "SELECT id, d, n, s FROM nl WHERE id = 3");
    check(d, out_is(d, "3|NULL|8|NULL\n"), "no column list: every NULL is explicit");
    memcpy(named, (bool[4]){true, false, false, false}, sizeof named);
    run(d, "INSERT INTO nl (id) VALUES (4), (5)");
    run(d, "SELECT id, d, n, s FROM nl WHERE id >= 4 ORDER BY id");
    check(d, out_is(d, "4|5|7|x\n5|5|7|x\n"), "omitted columns take their defaults");
    d->env.insert_table = tid + 1000000;
    memcpy(named, (bool[4]){true, true, false, false}, sizeof named);
    run(d, "INSERT INTO nl (id, d) VALUES (6, NULL)");
    run(d, "SELECT d FROM nl WHERE id = 6");
    check(d, out_is(d, "5\n"), "a list for another table is not used (fallback: the default)");
    d->env.insert_named = NULL;
    d->env.ninsert_named = 0;
    run(d, "INSERT INTO nl (id, d) VALUES (7, NULL)");
    run(d, "SELECT d FROM nl WHERE id = 7");
    check(d, out_is(d, "5\n"), "without a list: the documented fallback (the default)");
}

/* ---- online DDL states (docs/ddl.md "Columns"): definitions put straight into the catalog ----
 * Each step writes the table definition with the objects in one F1 state at schema version + 1,
 * as one step of a DDL job does, and re-declares the table; the checks read the stored rows and
 * index entries directly from the KV store. */

/* The current definition of table `name`, copied into a. */
static sql_cat_table *def_of(drv *d, const char *name, cm_arena *a)
{
    char full[64];
    snprintf(full, sizeof full, "%s%s", name, g_suffix);
    const sql_cat_table *t = sql_schema_table(d->schema, "test", full);
    sql_cat_table *c = cm_arena_alloc(a, sizeof *c);
    cm_err err;
    if (t == NULL || c == NULL || sql_cat_table_copy(t, a, c, &err) != 0) {
        printf("no definition of %s\n", full);
        d->failures++;
        return NULL;
    }
    return c;
}

/* Stores t at schema version + 1, loads it and re-declares the table. */
static int put_def(drv *d, const char *name, sql_cat_table *t)
{
    cm_err err;
    cm_err_clear(&err);
    cm_txn *txn = NULL;
    cm_buf k = CM_BUF_INIT, v = CM_BUF_INIT;
    uint64_t ver = 0;
    bool found = false;
    int rc = cm_txn_begin(d->kc, &txn, &err);
    rc = rc ? rc : sql_cat_read_version(txn, &ver, &found, &err);
    if (rc == 0) {
        t->version = ver + 1;
        rc = sql_cat_encode_table(t, &v);
    }
    rc = rc ? rc : sql_cat_key_table(&k, t->db_id, t->id);
    rc = rc ? rc : cm_txn_set(txn, cm_buf_slice(&k), cm_buf_slice(&v), &err);
    rc = rc ? rc : sql_cat_write_version(txn, ver + 1, &err);
    rc = rc ? rc : cm_txn_commit(txn, &err);
    if (txn != NULL) {
        cm_txn_free(txn);
    }
    cm_buf_fini(&k);
    cm_buf_fini(&v);
    rc = rc ? rc : sql_cat_reload(d->cat, &err);
    if (rc != 0) {
        printf("put_def %s failed: %d %s\n", name, rc, err.msg);
        d->failures++;
        return -1;
    }
    refresh_schema(d);
    return redeclare(d, name);
}

/* Parses one ALTER TABLE op (strings in a). */
static int op_of(drv *d, const char *sql, cm_arena *a, sql_alter_op *op)
{
    sql_tokens t;
    sql_tokens_init(&t);
    cm_err err;
    sql_ddl_stmt st;
    int rc = sql_lex(sql, strlen(sql), 0, &t, &err);
    rc = rc ? rc : sql_ddl_parse(sql, t.v, t.n, a, &st, &err);
    sql_tokens_fini(&t);
    if (rc != 0 || st.kind != SQL_DDL_ALTER_TABLE || st.nops != 1) {
        printf("op_of %s: %s\n", sql, rc ? err.msg : "not one ALTER op");
        d->failures++;
        return -1;
    }
    *op = st.ops[0];
    return 0;
}

/* t with the ADD COLUMN of sql in `state`, or NULL; *id its column id. */
static sql_cat_table *with_added(drv *d, const sql_cat_table *t, const char *sql, uint8_t state,
                                 cm_arena *a, uint32_t *id)
{
    sql_alter_op op;
    sql_cat_table *out = cm_arena_alloc(a, sizeof *out);
    cm_err err;
    if (out == NULL || op_of(d, sql, a, &op) != 0) {
        return NULL;
    }
    if (sql_ddl_add_column(t, &op, state, a, out, id, &err) != 0) {
        printf("add column %s: %s\n", sql, err.msg);
        d->failures++;
        return NULL;
    }
    return out;
}

static void set_col_state(sql_cat_table *t, uint32_t id, uint8_t state)
{
    for (uint32_t i = 0; i < t->ncols; i++) {
        if (t->cols[i].id == id) {
            t->cols[i].state = state;
        }
    }
}

static void set_index_state(sql_cat_table *t, const char *name, uint8_t state)
{
    for (uint32_t i = 0; i < t->nindexes; i++) {
        if (strcmp(t->indexes[i].name, name) == 0) {
            t->indexes[i].state = state;
        }
    }
}

enum { RAW_NO_ROW = -2, RAW_ABSENT = -1, RAW_NULL = 0, RAW_VALUE = 1 };

/* Cell col_id of the stored row `handle` of t, read at a fresh snapshot; *val gets an integer
 * value. */
static int raw_cell(drv *d, const sql_cat_table *t, int64_t handle, uint32_t col_id, int64_t *val)
{
    cm_err err;
    cm_txn *txn = NULL;
    cm_buf k = CM_BUF_INIT, v = CM_BUF_INIT;
    int out = RAW_NO_ROW;
    *val = 0;
    int rc = cm_txn_begin(d->kc, &txn, &err);
    rc = rc ? rc : cm_keys_append_row(&k, t->id, handle);
    rc = rc ? rc : cm_txn_get(txn, cm_buf_slice(&k), &v, &err);
    if (rc == 0) {
        cm_row_view view;
        cm_slice s;
        cm_datum dat;
        if (cm_row_view_init(&view, cm_buf_slice(&v), &err) != 0) {
            out = RAW_NO_ROW;
            printf("corrupt row %lld\n", (long long)handle);
            d->failures++;
        } else {
            cm_row_presence p = cm_row_view_find(&view, col_id, &s);
            out = p == CM_ROW_ABSENT ? RAW_ABSENT : p == CM_ROW_NULL ? RAW_NULL : RAW_VALUE;
            if (p == CM_ROW_VALUE && cm_row_value_decode(CM_DT_INT64, s, &dat, &err) == 0) {
                *val = dat.v.i64;
            }
        }
    } else if (rc != CM_E_NOT_FOUND) {
        printf("raw read failed: %s\n", err.msg);
        d->failures++;
    }
    if (txn != NULL) {
        cm_txn_free(txn);
    }
    cm_buf_fini(&k);
    cm_buf_fini(&v);
    return out;
}

static bool raw_has(drv *d, const sql_cat_table *t, int64_t h, uint32_t col, int64_t want)
{
    int64_t v;
    int p = raw_cell(d, t, h, col, &v);
    if (p != RAW_VALUE || v != want) {
        printf("     row %lld column %u: presence %d value %lld (want %lld)\n", (long long)h, col,
               p, (long long)v, (long long)want);
    }
    return p == RAW_VALUE && v == want;
}

/* Whether the entry of the one-INT-column index ix_name for (val, handle) is stored. */
static bool raw_entry(drv *d, const sql_cat_table *t, const char *ix_name, int64_t val, int64_t h)
{
    const sql_cat_index *ix = sql_table_index(t, ix_name);
    cm_datum vals[1] = {cm_datum_int64(val)};
    cm_buf k = CM_BUF_INIT, v = CM_BUF_INIT;
    cm_err err;
    cm_txn *txn = NULL;
    bool found = false;
    int rc = ix ? sql_cat_index_entry(t, ix, vals, h, &k, &v, NULL, &err) : CM_E_INVALID;
    rc = rc ? rc : cm_txn_begin(d->kc, &txn, &err);
    rc = rc ? rc : cm_txn_get(txn, cm_buf_slice(&k), &v, &err);
    found = rc == 0;
    if (rc != 0 && rc != CM_E_NOT_FOUND) {
        printf("raw entry read failed: %d\n", rc);
        d->failures++;
    }
    if (txn != NULL) {
        cm_txn_free(txn);
    }
    cm_buf_fini(&k);
    cm_buf_fini(&v);
    return found;
}

/* ADD COLUMN c INT NOT NULL DEFAULT 7 through none -> delete-only -> write-only -> write-reorg
 * -> public, DML in each state, then MODIFY of its default. */
static void case_col_add(drv *d)
{
    if (create(d, "ca", "(id INT PRIMARY KEY, a INT NOT NULL)") != 0) {
        return;
    }
    run(d, "INSERT INTO ca VALUES (1, 10), (2, 20), (3, 30)");
    check(d, d->rc == SQLITE_OK && d->env.affected == 3, "rows before the column");
    cm_arena a;
    cm_arena_init(&a, 0);
    uint32_t cid = 0;
    sql_cat_table *t0 = def_of(d, "ca", &a);
    sql_cat_table *t = t0 ? with_added(d, t0, "ALTER TABLE ca ADD COLUMN c INT NOT NULL DEFAULT 7",
                                       SQL_OBJ_DELETE_ONLY, &a, &cid)
                          : NULL;
    if (t == NULL || put_def(d, "ca", t) != 0) {
        cm_arena_fini(&a);
        return;
    }
    printf("     column c has id %u\n", cid);
    /* delete-only */
    run(d, "SELECT * FROM ca ORDER BY id");
    check(d, out_is(d, "1|10\n2|20\n3|30\n"), "delete-only: SELECT * does not see the column");
    run(d, "SELECT c FROM ca");
    check(d, d->rc != SQLITE_OK, "delete-only: the column cannot be named");
    run(d, "INSERT INTO ca (id, a, c) VALUES (9, 90, 1)");
    check(d, d->rc != SQLITE_OK, "delete-only: INSERT cannot name it");
    run(d, "INSERT INTO ca VALUES (4, 40)");
    check(d, d->rc == SQLITE_OK, "delete-only: INSERT of the public columns");
    int64_t v;
    check(d, raw_cell(d, t, 4, cid, &v) == RAW_ABSENT, "delete-only: INSERT does not write it");
    /* write-only */
    set_col_state(t, cid, SQL_OBJ_WRITE_ONLY);
    if (put_def(d, "ca", t) != 0) {
        cm_arena_fini(&a);
        return;
    }
    run(d, "SELECT * FROM ca ORDER BY id");
    check(d, out_is(d, "1|10\n2|20\n3|30\n4|40\n"), "write-only: still invisible");
    run(d, "INSERT INTO ca VALUES (5, 50)");
    check(d, d->rc == SQLITE_OK && raw_has(d, t, 5, cid, 7),
          "write-only: INSERT writes the origin default");
    run(d, "UPDATE ca SET a = 11 WHERE id = 1");
    check(d, d->rc == SQLITE_OK && raw_has(d, t, 1, cid, 7),
          "write-only: UPDATE of a row that lacks it writes the origin default");
    run(d, "UPDATE ca SET a = 41 WHERE id = 4");
    check(d, d->rc == SQLITE_OK && raw_has(d, t, 4, cid, 7),
          "write-only: UPDATE of a row a delete-only node wrote");
    /* write-reorg */
    set_col_state(t, cid, SQL_OBJ_WRITE_REORG);
    if (put_def(d, "ca", t) != 0) {
        cm_arena_fini(&a);
        return;
    }
    run(d, "INSERT INTO ca VALUES (6, 60)");
    check(d, d->rc == SQLITE_OK && raw_has(d, t, 6, cid, 7),
          "write-reorg: INSERT writes the origin default");
    run(d, "SELECT count(*) FROM ca");
    check(d, out_is(d, "6\n"), "write-reorg: reads unchanged");
    /* public */
    set_col_state(t, cid, SQL_OBJ_PUBLIC);
    if (put_def(d, "ca", t) != 0) {
        cm_arena_fini(&a);
        return;
    }
    run(d, "SELECT * FROM ca ORDER BY id");
    check(d, out_is(d, "1|11|7\n2|20|7\n3|30|7\n4|41|7\n5|50|7\n6|60|7\n"),
          "public: every row reads 7, stored or not");
    check(d, raw_cell(d, t, 2, cid, &v) == RAW_ABSENT, "row 2 still lacks the cell");
    run(d, "SELECT count(*), sum(c) FROM ca WHERE c = 7");
    check(d, out_is(d, "6|42\n"), "public: filter and sum see the origin default");
    run(d, "SELECT id FROM ca WHERE c = 7 AND id BETWEEN 2 AND 3 ORDER BY id");
    check(d, out_is(d, "2\n3\n"), "public: range scan with a filter on the column");
    run(d, "INSERT INTO ca (id, a) VALUES (7, 70)");
    run(d, "INSERT INTO ca VALUES (8, 80, 8)");
    run(d, "SELECT id, c FROM ca WHERE id >= 7 ORDER BY id");
    check(d, out_is(d, "7|7\n8|8\n"), "public: INSERT with the default and with a value");
    run(d, "UPDATE ca SET c = c + 1 WHERE id = 3");
    run(d, "SELECT c FROM ca WHERE id = 3");
    check(d, out_is(d, "8\n"), "public: UPDATE from the origin value");
    /* MODIFY the default: rows older than the column keep the origin */
    sql_alter_op op;
    sql_cat_table *t2 = cm_arena_alloc(&a, sizeof *t2);
    cm_err err;
    if (t2 != NULL && op_of(d, "ALTER TABLE ca MODIFY c BIGINT NOT NULL DEFAULT 9", &a, &op) == 0 &&
        sql_ddl_change_column(t, &op, &a, t2, &err) == 0 && put_def(d, "ca", t2) == 0) {
        run(d, "SELECT c FROM ca WHERE id = 2");
        check(d, out_is(d, "7\n"), "after MODIFY … DEFAULT 9 an old row still reads 7");
        run(d, "INSERT INTO ca (id, a) VALUES (10, 100)");
        run(d, "SELECT c FROM ca WHERE id = 10");
        check(d, out_is(d, "9\n"), "a new row gets the new default");
    } else {
        check(d, false, "MODIFY COLUMN c");
    }
    cm_arena_fini(&a);
}

/* ADD COLUMN values of the rows already there: DEFAULT CURRENT_TIMESTAMP is the ALTER's time
 * (one value for every old row), NOT NULL without DEFAULT the implicit zero, nullable NULL. */
static void case_col_origin(drv *d)
{
    if (create(d, "co", "(id INT PRIMARY KEY)") != 0) {
        return;
    }
    run(d, "INSERT INTO co VALUES (1), (2)");
    cm_arena a;
    cm_arena_init(&a, 0);
    uint32_t id;
    char lo[32], hi[32];
    struct timeval tv;
    gettimeofday(&tv, NULL);
    time_t secs = tv.tv_sec;
    struct tm tm;
    gmtime_r(&secs, &tm);
    strftime(lo, sizeof lo, "%Y-%m-%d %H:%M:%S", &tm);
    sql_cat_table *t = def_of(d, "co", &a);
    t = t ? with_added(d, t, "ALTER TABLE co ADD ts DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP",
                       SQL_OBJ_PUBLIC, &a, &id)
          : NULL;
    gettimeofday(&tv, NULL);
    secs = tv.tv_sec;
    gmtime_r(&secs, &tm);
    strftime(hi, sizeof hi, "%Y-%m-%d %H:%M:%S", &tm);
    t = t ? with_added(d, t, "ALTER TABLE co ADD z VARCHAR(5) NOT NULL", SQL_OBJ_PUBLIC, &a, &id)
          : NULL;
    t = t ? with_added(d, t, "ALTER TABLE co ADD e ENUM('p','q') NOT NULL", SQL_OBJ_PUBLIC, &a, &id)
          : NULL;
    t = t ? with_added(d, t, "ALTER TABLE co ADD n INT", SQL_OBJ_PUBLIC, &a, &id) : NULL;
    t = t ? with_added(d, t, "ALTER TABLE co ADD dd DATE NOT NULL DEFAULT '2021-03-04' FIRST",
                       SQL_OBJ_PUBLIC, &a, &id)
          : NULL;
    if (t == NULL || put_def(d, "co", t) != 0) {
        cm_arena_fini(&a);
        return;
    }
    usleep(1100 * 1000);
    run(d, "INSERT INTO co (id) VALUES (3)");
    /* this driver does not tell the module the column list (env->insert_named): 1048 here,
     * 1364 through a session */
    check(d, d->my_errno == 1364 || d->my_errno == 1048, "z NOT NULL without a default is needed");
    run(d, "INSERT INTO co (id, z, e) VALUES (3, 'r', 'q')");
    check(d, d->rc == SQLITE_OK, "a row after the ALTER");
    run(d, "SELECT count(DISTINCT ts) FROM co WHERE id <= 2");
    check(d, out_is(d, "1\n"), "one ALTER time for every old row");
    run(d, "SELECT count(*) FROM co WHERE id <= 2 AND ts >= '%s' AND ts <= '%s'", lo, hi);
    check(d, out_is(d, "2\n"), "old rows read the ALTER's time (between %s and %s)", lo, hi);
    run(d, "SELECT (SELECT ts FROM co WHERE id = 3) > (SELECT ts FROM co WHERE id = 1)");
    check(d, out_is(d, "1\n"), "a row inserted later gets its own time");
    run(d, "SELECT dd, id, '[' || z || ']', e, n FROM co WHERE id = 1");
    check(d, out_is(d, "2021-03-04|1|[]|p|NULL\n"),
          "implicit zero '' and first ENUM member, NULL, a DEFAULT, FIRST");
    run(d, "SELECT * FROM co WHERE id = 2");
    check(d, strncmp(d->out, "2021-03-04|2|", 13) == 0, "SELECT * in declared order");
    cm_arena_fini(&a);
}

/* DROP COLUMN through public -> write-only -> delete-only -> delete-reorg -> removed, then the
 * same name added again: a new id, the old values never come back. */
static void case_col_drop(drv *d)
{
    if (create(d, "cd", "(id INT PRIMARY KEY, a INT, b INT NOT NULL DEFAULT 5, bz INT NOT NULL)") !=
        0) {
        return;
    }
    run(d, "INSERT INTO cd VALUES (1, 10, 55, 66), (2, 20, 56, 67), (3, 30, 57, 68)");
    cm_arena a;
    cm_arena_init(&a, 0);
    sql_cat_table *t = def_of(d, "cd", &a);
    sql_alter_op ob, obz;
    uint32_t bid = 0, bzid = 0;
    cm_err err;
    if (t == NULL || op_of(d, "ALTER TABLE cd DROP COLUMN b", &a, &ob) != 0 ||
        op_of(d, "ALTER TABLE cd DROP bz", &a, &obz) != 0 ||
        sql_ddl_drop_column_check(t, &ob, &bid, &err) != 0 ||
        sql_ddl_drop_column_check(t, &obz, &bzid, &err) != 0) {
        check(d, false, "drop checks");
        cm_arena_fini(&a);
        return;
    }
    /* write-only */
    set_col_state(t, bid, SQL_OBJ_WRITE_ONLY);
    set_col_state(t, bzid, SQL_OBJ_WRITE_ONLY);
    if (put_def(d, "cd", t) != 0) {
        cm_arena_fini(&a);
        return;
    }
    run(d, "SELECT * FROM cd ORDER BY id");
    check(d, out_is(d, "1|10\n2|20\n3|30\n"), "write-only: the dropped columns are invisible");
    run(d, "INSERT INTO cd VALUES (4, 40)");
    check(d, d->rc == SQLITE_OK, "write-only: INSERT without the NOT NULL columns");
    check(d, raw_has(d, t, 4, bid, 5), "write-only: INSERT writes the default");
    check(d, raw_has(d, t, 4, bzid, 0), "write-only: NOT NULL without default gets 0");
    run(d, "UPDATE cd SET a = 11 WHERE id = 1");
    check(d, raw_has(d, t, 1, bid, 55) && raw_has(d, t, 1, bzid, 66),
          "write-only: UPDATE keeps the stored values");
    /* delete-only */
    set_col_state(t, bid, SQL_OBJ_DELETE_ONLY);
    set_col_state(t, bzid, SQL_OBJ_DELETE_ONLY);
    if (put_def(d, "cd", t) != 0) {
        cm_arena_fini(&a);
        return;
    }
    int64_t v;
    run(d, "INSERT INTO cd VALUES (5, 50)");
    check(d,
          d->rc == SQLITE_OK && raw_cell(d, t, 5, bid, &v) == RAW_ABSENT &&
              raw_cell(d, t, 5, bzid, &v) == RAW_ABSENT,
          "delete-only: INSERT does not write them");
    run(d, "UPDATE cd SET a = 21 WHERE id = 2");
    check(d,
          d->rc == SQLITE_OK && raw_cell(d, t, 2, bid, &v) == RAW_ABSENT &&
              raw_cell(d, t, 2, bzid, &v) == RAW_ABSENT,
          "delete-only: UPDATE re-encodes the row without them");
    check(d, raw_has(d, t, 3, bid, 57), "a row not touched keeps its cell");
    run(d, "DELETE FROM cd WHERE id = 3");
    check(d, d->rc == SQLITE_OK && raw_cell(d, t, 3, bid, &v) == RAW_NO_ROW,
          "delete-only: DELETE removes the row");
    /* delete-reorg */
    set_col_state(t, bid, SQL_OBJ_DELETE_REORG);
    set_col_state(t, bzid, SQL_OBJ_DELETE_REORG);
    if (put_def(d, "cd", t) != 0) {
        cm_arena_fini(&a);
        return;
    }
    run(d, "INSERT INTO cd VALUES (6, 60)");
    check(d, d->rc == SQLITE_OK && raw_cell(d, t, 6, bid, &v) == RAW_ABSENT,
          "delete-reorg: INSERT does not write it");
    run(d, "SELECT id, a FROM cd ORDER BY id");
    check(d, out_is(d, "1|11\n2|21\n4|40\n5|50\n6|60\n"), "delete-reorg: reads");
    /* removed */
    sql_cat_table_remove_column(t, bid);
    sql_cat_table_remove_column(t, bzid);
    if (put_def(d, "cd", t) != 0) {
        cm_arena_fini(&a);
        return;
    }
    run(d, "SELECT * FROM cd ORDER BY id");
    check(d, out_is(d, "1|11\n2|21\n4|40\n5|50\n6|60\n"), "removed: two columns left");
    /* the same name again */
    uint32_t nid = 0;
    sql_cat_table *t2 =
        with_added(d, t, "ALTER TABLE cd ADD COLUMN b INT", SQL_OBJ_PUBLIC, &a, &nid);
    if (t2 == NULL || put_def(d, "cd", t2) != 0) {
        cm_arena_fini(&a);
        return;
    }
    check(d, nid != bid && nid != bzid, "the new b has a new id (%u, old %u)", nid, bid);
    run(d, "SELECT id, b FROM cd ORDER BY id");
    check(d, out_is(d, "1|NULL\n2|NULL\n4|NULL\n5|NULL\n6|NULL\n"),
          "the old values of b never come back");
    check(d, raw_has(d, t2, 1, bid, 55), "(row 1 still stores the old cell under the old id)");
    run(d, "SELECT count(*) FROM cd WHERE b = 55 OR b = 5");
    check(d, out_is(d, "0\n"), "not even through a filter");
    run(d, "UPDATE cd SET b = 1 WHERE id = 1");
    run(d, "SELECT b FROM cd WHERE id = 1");
    check(d, out_is(d, "1\n"), "the new b is written");
    cm_arena_fini(&a);
}

/* Index DML rules per state: delete-only deletes entries and never writes them; write-only and
 * write-reorg maintain them fully, unique checks included; only public indexes are read. */
static void case_idx_states(drv *d)
{
    if (create(d, "cx", "(id INT PRIMARY KEY, a INT, u INT, KEY ka (a), UNIQUE KEY uu (u))") != 0) {
        return;
    }
    run(d, "INSERT INTO cx VALUES (1, 10, 100), (2, 20, 200)");
    cm_arena a;
    cm_arena_init(&a, 0);
    sql_cat_table *t = def_of(d, "cx", &a);
    if (t == NULL) {
        cm_arena_fini(&a);
        return;
    }
    check(d, raw_entry(d, t, "ka", 10, 1) && raw_entry(d, t, "uu", 100, 1), "public entries");
    set_index_state(t, "ka", SQL_OBJ_DELETE_ONLY);
    set_index_state(t, "uu", SQL_OBJ_DELETE_ONLY);
    if (put_def(d, "cx", t) != 0) {
        cm_arena_fini(&a);
        return;
    }
    check(d, !plan_has(d, "index ka", "SELECT id FROM cx WHERE a = 10"),
          "delete-only: reads do not use the index");
    run(d, "SELECT id FROM cx WHERE a = 10");
    check(d, out_is(d, "1\n"), "delete-only: the row is found by a scan");
    run(d, "INSERT INTO cx VALUES (3, 30, 300)");
    check(d, d->rc == SQLITE_OK && !raw_entry(d, t, "ka", 30, 3) && !raw_entry(d, t, "uu", 300, 3),
          "delete-only: INSERT writes no entry");
    run(d, "INSERT INTO cx VALUES (4, 40, 100)");
    check(d, d->rc == SQLITE_OK, "delete-only: no unique check (the backfill finds duplicates)");
    run(d, "UPDATE cx SET a = 11 WHERE id = 1");
    check(d, !raw_entry(d, t, "ka", 10, 1) && !raw_entry(d, t, "ka", 11, 1),
          "delete-only: UPDATE deletes the old entry, writes no new one");
    run(d, "DELETE FROM cx WHERE id = 2");
    check(d, !raw_entry(d, t, "ka", 20, 2) && !raw_entry(d, t, "uu", 200, 2),
          "delete-only: DELETE deletes the entries");
    run(d, "DELETE FROM cx WHERE id = 4");
    check(d, raw_entry(d, t, "uu", 100, 1), "a unique entry of another handle is left alone");
    /* write-only */
    set_index_state(t, "ka", SQL_OBJ_WRITE_ONLY);
    set_index_state(t, "uu", SQL_OBJ_WRITE_ONLY);
    if (put_def(d, "cx", t) != 0) {
        cm_arena_fini(&a);
        return;
    }
    run(d, "INSERT INTO cx VALUES (5, 50, 500)");
    check(d, raw_entry(d, t, "ka", 50, 5) && raw_entry(d, t, "uu", 500, 5),
          "write-only: INSERT writes the entries");
    run(d, "INSERT INTO cx VALUES (6, 60, 500)");
    check(d, d->my_errno == 1062, "write-only: unique checks apply");
    run(d, "UPDATE cx SET a = 51 WHERE id = 5");
    check(d, !raw_entry(d, t, "ka", 50, 5) && raw_entry(d, t, "ka", 51, 5),
          "write-only: UPDATE moves the entry");
    check(d, !plan_has(d, "index ka", "SELECT id FROM cx WHERE a = 51"),
          "write-only: reads do not use the index");
    /* write-reorg */
    set_index_state(t, "ka", SQL_OBJ_WRITE_REORG);
    set_index_state(t, "uu", SQL_OBJ_WRITE_REORG);
    if (put_def(d, "cx", t) != 0) {
        cm_arena_fini(&a);
        return;
    }
    run(d, "INSERT INTO cx VALUES (7, 70, 700)");
    check(d, raw_entry(d, t, "ka", 70, 7) && raw_entry(d, t, "uu", 700, 7),
          "write-reorg: INSERT writes the entries");
    run(d, "DELETE FROM cx WHERE id = 7");
    check(d, !raw_entry(d, t, "ka", 70, 7), "write-reorg: DELETE removes them");
    check(d, !plan_has(d, "index ka", "SELECT id FROM cx WHERE a = 51"),
          "write-reorg: reads do not use the index");
    /* public */
    set_index_state(t, "ka", SQL_OBJ_PUBLIC);
    set_index_state(t, "uu", SQL_OBJ_PUBLIC);
    if (put_def(d, "cx", t) != 0) {
        cm_arena_fini(&a);
        return;
    }
    check(d, plan_has(d, "index ka", "SELECT id FROM cx WHERE a = 51"),
          "public: reads use the index");
    run(d, "SELECT id FROM cx WHERE a = 51");
    check(d, out_is(d, "5\n"), "public: lookup through the index");
    cm_arena_fini(&a);
}

typedef struct vt_case {
    const char *name;
    void (*fn)(drv *d);
} vt_case;

static const vt_case cases[] = {
    {"basic", case_basic},
    {"unique", case_unique},
    {"order_limit", case_order_limit},
    {"covering", case_covering},
    {"ryw", case_ryw},
    {"hidden", case_hidden},
    {"scan", case_scan},
    {"prefix", case_prefix},
    {"types", case_types},
    {"backfill", case_backfill},
    {"bounds", case_bounds},
    {"batch", case_batch},
    {"rmw", case_rmw},
    {"nulls", case_nulls},
    {"col_add", case_col_add},
    {"col_origin", case_col_origin},
    {"col_drop", case_col_drop},
    {"idx_states", case_idx_states},
    {"perf", case_perf},
    {"perf_insert", case_perf_insert},
};

int main(int argc, char **argv)
{
    const char *pd = NULL, *which = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--pd") == 0 && i + 1 < argc) {
            pd = argv[++i];
        } else if (strcmp(argv[i], "--list") == 0) {
            for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
                printf("%s\n", cases[c].name);
            }
            return 0;
        } else {
            which = argv[i];
        }
    }
    if (!pd || !which) {
        fprintf(stderr, "usage: vtab_driver --pd HOST:PORT CASE | --list\n");
        return 2;
    }
    const vt_case *vc = NULL;
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        if (strcmp(cases[c].name, which) == 0) {
            vc = &cases[c];
        }
    }
    if (!vc) {
        fprintf(stderr, "unknown case %s\n", which);
        return 2;
    }
    snprintf(g_suffix, sizeof g_suffix, "_%s_%d", which, (int)getpid());
    drv *d = calloc(1, sizeof *d);
    cm_err err;
    if (!d || cm_kv_client_create(pd, NULL, &d->kc, &err) != 0 ||
        sql_cat_open(d->kc, NULL, &d->cat, &err) != 0) {
        fprintf(stderr, "open: %s\n", d ? err.msg : "oom");
        return 1;
    }
    d->schema = sql_cat_acquire(d->cat);
    d->env.kc = d->kc;
    d->env.cat = d->cat;
    d->env.sess = d;
    d->env.txn = d_txn;
    d->env.schema = d_schema;
    d->env.warn = d_warn;
    if (sqlite3_open_v2(":memory:", &d->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) !=
            SQLITE_OK ||
        sql_vt_register(d->db, &d->env, &err) != 0) {
        fprintf(stderr, "sqlite: %s\n", err.msg);
        return 1;
    }
    vc->fn(d);
    end_txn(d, false);
    printf("%s: %d checks, %d failed\n", vc->name, d->checks, d->failures);
    sqlite3_close(d->db);
    sql_schema_release(d->schema);
    sql_cat_close(d->cat);
    cm_kv_client_free(d->kc);
    int failed = d->failures;
    free(d);
    return failed ? 1 : 0;
}
