/* sql_lock.c — LOCK TABLES / UNLOCK TABLES (docs/sql-layer.md "LOCK TABLES"): accepted for the
 * clients that send them (mariadb-dump, ORMs) but take no lock — a distributed database has no
 * table lock shared by every sqlnode (TiDB without tidb_enable_table_lock does the same). LOCK
 * TABLES commits the open transaction, as MySQL's does, and checks that every named table
 * exists (1146) and that the lock types parse (1064); UNLOCK TABLES commits when LOCK TABLES was
 * in force. Reads and writes stay transactional (snapshot isolation) as without the statement. */
#include "sql_session_int.h"

#include <stdio.h>
#include <string.h>

bool sql_lock_is(const char *src, const sql_token *t, uint32_t n)
{
    if (n >= 2 && sql_tok_is(src, &t[0], "UNLOCK")) {
        return sql_tok_is(src, &t[1], "TABLES") || sql_tok_is(src, &t[1], "TABLE");
    }
    return n >= 2 && sql_tok_is(src, &t[0], "LOCK") &&
           (sql_tok_is(src, &t[1], "TABLES") || sql_tok_is(src, &t[1], "TABLE"));
}

static int syntax(const char *src, const sql_token *t, uint32_t n, uint32_t i, cm_err *err)
{
    return cm_err_set(err, CM_E_PARSE,
                      "You have an error in your SQL syntax; check the manual that corresponds to "
                      "your MySQL server version for the right syntax to use near '%.*s' at line 1",
                      i < n ? (int)(t[i].len > 60 ? 60 : t[i].len) : 0,
                      i < n ? src + t[i].off : "");
}

static bool is_name(const sql_token *t)
{
    return t->type == SQL_TK_IDENT || t->type == SQL_TK_QIDENT;
}

/* Checks one `[db.]tbl [[AS] alias] {READ [LOCAL] | [LOW_PRIORITY] WRITE}` at t[*i]. */
static int lock_item(sql_sess *s, const char *src, const sql_token *t, uint32_t n, uint32_t *i,
                     cm_err *err)
{
    uint32_t k = *i;
    if (k >= n || !is_name(&t[k])) {
        return syntax(src, t, n, k, err);
    }
    cm_buf a = CM_BUF_INIT, b = CM_BUF_INIT;
    bool qual = k + 2 < n && t[k + 1].type == SQL_TK_DOT && is_name(&t[k + 2]);
    int rc = 0;
    if (sql_tok_name(src, &t[k], &a) != 0 || cm_buf_terminate(&a) != 0 ||
        (qual && (sql_tok_name(src, &t[k + 2], &b) != 0 || cm_buf_terminate(&b) != 0))) {
        rc = cm_err_set(err, CM_E_NOMEM, "out of memory");
    }
    k += qual ? 3 : 1;
    const char *db = qual ? (const char *)a.ptr : (s->has_db ? s->dbname : NULL);
    const char *table = qual ? (const char *)b.ptr : (const char *)a.ptr;
    if (rc == 0 && db == NULL) {
        rc = cm_err_set(err, CM_E_NO_DB, "No database selected");
    } else if (rc == 0 && (s->schema == NULL || sql_schema_table(s->schema, db, table) == NULL)) {
        rc = cm_err_set(err, CM_E_NO_SUCH_TABLE, "Table '%.64s.%.64s' doesn't exist", db, table);
    }
    cm_buf_fini(&a);
    cm_buf_fini(&b);
    if (rc != 0) {
        return rc;
    }
    if (k < n && sql_tok_is(src, &t[k], "AS")) {
        k++;
        if (k >= n || !is_name(&t[k])) {
            return syntax(src, t, n, k, err);
        }
        k++;
    } else if (k < n && is_name(&t[k]) && !sql_tok_is(src, &t[k], "READ") &&
               !sql_tok_is(src, &t[k], "WRITE") && !sql_tok_is(src, &t[k], "LOW_PRIORITY")) {
        k++; /* alias */
    }
    if (k < n && sql_tok_is(src, &t[k], "READ")) {
        k++;
        if (k < n && sql_tok_is(src, &t[k], "LOCAL")) {
            k++;
        }
    } else if (k < n && sql_tok_is(src, &t[k], "LOW_PRIORITY") && k + 1 < n &&
               sql_tok_is(src, &t[k + 1], "WRITE")) {
        k += 2;
    } else if (k < n && sql_tok_is(src, &t[k], "WRITE")) {
        k++;
    } else {
        return syntax(src, t, n, k, err);
    }
    *i = k;
    return 0;
}

int sql_lock_run(sql_sess *s, const char *src, const sql_token *t, uint32_t n, sql_sink *sink,
                 int more, cm_err *err)
{
    bool unlock = sql_tok_is(src, &t[0], "UNLOCK");
    if (unlock) {
        if (n != 2) {
            return syntax(src, t, n, 2, err);
        }
        if (s->tables_locked) {
            int rc = sql_txn_commit(s, err);
            s->in_trans = 0;
            s->trans_ro = 0;
            s->tables_locked = 0;
            if (rc != 0) {
                return sql_txn_map_error(s, rc, err);
            }
        }
        return sql_sess_done(s, sink, 0, 0, more, NULL);
    }
    if (s->env->cat == NULL) {
        return cm_err_set(err, CM_E_UNSUPPORTED,
                          "This version of Tessera doesn't yet support 'LOCK TABLES' without a "
                          "cluster");
    }
    uint32_t i = 2;
    for (;;) {
        int rc = lock_item(s, src, t, n, &i, err);
        if (rc != 0) {
            return rc;
        }
        if (i == n) {
            break;
        }
        if (t[i].type != SQL_TK_COMMA) {
            return syntax(src, t, n, i, err);
        }
        i++;
    }
    /* MySQL's LOCK TABLES commits the open transaction first. */
    int rc = sql_txn_commit(s, err);
    s->in_trans = 0;
    s->trans_ro = 0;
    if (rc != 0) {
        return sql_txn_map_error(s, rc, err);
    }
    s->tables_locked = 1;
    return sql_sess_done(s, sink, 0, 0, more, NULL);
}
