/* sql_admin.c — ADMIN statements of the session (sql_admin.h, docs/ddl.md "ADMIN statements").
 * Parsing is here; the work is the catalog's (sql_catalog.h "ADMIN") and cm_failpoint's. */
#include "sql_admin.h"

#include "cm_failpoint.h"
#include "cm_log.h"
#include "sql_priv.h"
#include "sql_session_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Most tables of one ADMIN CHECK TABLE and ids of one ADMIN CANCEL DDL JOBS. */
#define ADMIN_LIST_MAX 64

static int syntax(const char *src, const sql_token *t, uint32_t n, uint32_t i, cm_err *err)
{
    const char *near = i < n ? src + t[i].off : "";
    size_t len = i < n ? t[n - 1].off + t[n - 1].len - t[i].off : 0;
    return cm_err_set(err, CM_E_PARSE,
                      "You have an error in your SQL syntax; check the manual that corresponds to "
                      "your MySQL server version for the right syntax to use near '%.*s' at line 1",
                      (int)(len > 60 ? 60 : len), near);
}

bool sql_admin_is(const char *src, const sql_token *t, uint32_t n)
{
    return n >= 1 && t[0].type == SQL_TK_IDENT && sql_tok_is(src, &t[0], "ADMIN");
}

static bool is_name(const sql_token *t)
{
    return t->type == SQL_TK_IDENT || t->type == SQL_TK_QIDENT;
}

/* An unsigned integer token. */
static int int_tok(const char *src, const sql_token *t, int64_t *out)
{
    if (t->type != SQL_TK_INT || t->len == 0 || t->len > 19) {
        return -1;
    }
    char buf[24];
    memcpy(buf, src + t->off, t->len);
    buf[t->len] = 0;
    errno = 0;
    char *end = NULL;
    long long v = strtoll(buf, &end, 10);
    if (errno != 0 || end == NULL || *end != 0 || v < 0) {
        return -1;
    }
    *out = (int64_t)v;
    return 0;
}

/* [db.]table at t[*i]: the table in the session's snapshot, or 1046 / 1146. */
static int table_at(sql_sess *s, const char *src, const sql_token *t, uint32_t n, uint32_t *i,
                    const sql_cat_table **out, cm_err *err)
{
    if (*i >= n || !is_name(&t[*i])) {
        return syntax(src, t, n, *i, err);
    }
    cm_buf a = CM_BUF_INIT, b = CM_BUF_INIT;
    bool qualified = *i + 2 < n && t[*i + 1].type == SQL_TK_DOT && is_name(&t[*i + 2]);
    int rc = sql_tok_name(src, &t[*i], &a) == 0 && cm_buf_terminate(&a) == 0 ? 0 : CM_E_NOMEM;
    if (rc == 0 && qualified) {
        rc = sql_tok_name(src, &t[*i + 2], &b) == 0 && cm_buf_terminate(&b) == 0 ? 0 : CM_E_NOMEM;
    }
    *i += qualified ? 3 : 1;
    if (rc != 0) {
        rc = cm_err_set(err, CM_E_NOMEM, "out of memory");
    } else if (!qualified && !s->has_db) {
        rc = cm_err_set(err, CM_E_NO_DB, "No database selected");
    } else {
        const char *db = qualified ? (const char *)a.ptr : s->dbname;
        const char *name = qualified ? (const char *)b.ptr : (const char *)a.ptr;
        rc = sql_priv_check_table_any(s, db, name, "SELECT", err);
        *out = rc == 0 ? sql_schema_table(s->schema, db, name) : NULL;
        if (rc == 0 && *out == NULL) {
            rc = sql_priv_missing_table(s, db, name, err);
            rc = rc ? rc
                    : cm_err_set(err, CM_E_NO_SUCH_TABLE, "Table '%.64s.%.64s' doesn't exist", db,
                                 name);
        }
    }
    cm_buf_fini(&a);
    cm_buf_fini(&b);
    return rc;
}

/* ADMIN CHECK TABLE t[, t…] | ADMIN CHECK INDEX t idx, from t[2]. */
static int run_check(sql_sess *s, const char *src, const sql_token *t, uint32_t n, sql_sink *sink,
                     int more, cm_err *err)
{
    uint32_t i = 3;
    if (sql_tok_is(src, &t[2], "INDEX")) {
        const sql_cat_table *tab = NULL;
        int rc = table_at(s, src, t, n, &i, &tab, err);
        if (rc != 0) {
            return rc;
        }
        if (i >= n || !is_name(&t[i]) || i + 1 != n) {
            return syntax(src, t, n, i + (i < n), err);
        }
        cm_buf ix = CM_BUF_INIT;
        rc = sql_tok_name(src, &t[i], &ix) == 0 && cm_buf_terminate(&ix) == 0
                 ? sql_ddl_check_table(s->env->cat, tab, (const char *)ix.ptr, err)
                 : cm_err_set(err, CM_E_NOMEM, "out of memory");
        cm_buf_fini(&ix);
        return rc ? rc : sql_sess_done(s, sink, 0, 0, more, NULL);
    }
    if (!sql_tok_is(src, &t[2], "TABLE")) {
        return syntax(src, t, n, 2, err);
    }
    const sql_cat_table *tabs[ADMIN_LIST_MAX];
    uint32_t nt = 0;
    for (;;) {
        if (nt == ADMIN_LIST_MAX) {
            return cm_err_set(err, CM_E_UNSUPPORTED, "ADMIN CHECK TABLE takes at most %d tables",
                              ADMIN_LIST_MAX);
        }
        int rc = table_at(s, src, t, n, &i, &tabs[nt], err);
        if (rc != 0) {
            return rc;
        }
        nt++;
        if (i == n) {
            break;
        }
        if (t[i].type != SQL_TK_COMMA) {
            return syntax(src, t, n, i, err);
        }
        i++;
    }
    /* every name is checked before any table is read, as one statement */
    for (uint32_t k = 0; k < nt; k++) {
        int rc = sql_ddl_check_table(s->env->cat, tabs[k], NULL, err);
        if (rc != 0) {
            return rc;
        }
    }
    return sql_sess_done(s, sink, 0, 0, more, NULL);
}

/* ADMIN SHOW DDL [JOBS [n]] | ADMIN CANCEL DDL JOBS id[, id…], from t[1]. */
static int run_ddl_admin(sql_sess *s, const char *src, const sql_token *t, uint32_t n,
                         sql_sink *sink, int more, cm_err *err)
{
    bool show = sql_tok_is(src, &t[1], "SHOW");
    if (n < 3 || !sql_tok_is(src, &t[2], "DDL")) {
        return syntax(src, t, n, 2, err);
    }
    int rc = sql_priv_check_set_global(s, err);
    if (rc != 0) {
        return rc;
    }
    if (show && n == 3) {
        rc = sql_ddl_admin_show_ddl(s->env->cat, sink, err);
        return rc ? rc : sql_sess_done(s, sink, 0, 0, more, NULL);
    }
    if (n < 4 || !sql_tok_is(src, &t[3], "JOBS")) {
        return syntax(src, t, n, 3, err);
    }
    if (show) {
        int64_t lim = 0;
        if (n > 5 || (n == 5 && int_tok(src, &t[4], &lim) != 0) || lim > UINT32_MAX) {
            return syntax(src, t, n, 4, err);
        }
        rc = sql_ddl_admin_show_jobs(s->env->cat, (uint32_t)lim, sink, err);
        return rc ? rc : sql_sess_done(s, sink, 0, 0, more, NULL);
    }
    int64_t ids[ADMIN_LIST_MAX];
    uint32_t nids = 0;
    for (uint32_t i = 4;; i += 2) {
        if (i >= n || int_tok(src, &t[i], &ids[nids]) != 0) {
            return syntax(src, t, n, i, err);
        }
        if (++nids == ADMIN_LIST_MAX && i + 1 < n) {
            return cm_err_set(err, CM_E_UNSUPPORTED, "ADMIN CANCEL DDL JOBS takes at most %d ids",
                              ADMIN_LIST_MAX);
        }
        if (i + 1 == n) {
            break;
        }
        if (t[i + 1].type != SQL_TK_COMMA) {
            return syntax(src, t, n, i + 1, err);
        }
    }
    rc = sql_ddl_admin_cancel(s->env->cat, ids, nids, sink, err);
    return rc ? rc : sql_sess_done(s, sink, 0, 0, more, NULL);
}

/* ADMIN FAILPOINT SET 'name' value | ADMIN FAILPOINT CLEAR 'name'. */
static int run_failpoint(sql_sess *s, const char *src, const sql_token *t, uint32_t n,
                         sql_sink *sink, int more, cm_err *err)
{
    bool set = n >= 3 && sql_tok_is(src, &t[2], "SET");
    bool clear = n >= 3 && sql_tok_is(src, &t[2], "CLEAR");
    if ((!set && !clear) || n < 4 || t[3].type != SQL_TK_STRING || (clear && n != 4) ||
        (set && n != 5 &&
         !(n == 6 && t[4].type == SQL_TK_OP && t[4].len == 1 && src[t[4].off] == '-'))) {
        return syntax(src, t, n, n < 4 ? n : 4, err);
    }
    int64_t v = 0;
    if (set && int_tok(src, &t[n - 1], &v) != 0) {
        return syntax(src, t, n, n - 1, err);
    }
    if (n == 6) {
        v = -v;
    }
    int rc = sql_priv_check_set_global(s, err);
    if (rc != 0) {
        return rc;
    }
    if (!cm_fp_enabled()) {
        return cm_err_set(err, CM_E_UNSUPPORTED, "failpoints are not compiled into this build");
    }
    cm_buf name = CM_BUF_INIT;
    rc = sql_tok_string(src, &t[3], s->mode, &name) == 0 && cm_buf_terminate(&name) == 0
             ? 0
             : cm_err_set(err, CM_E_NOMEM, "out of memory");
    if (rc == 0 && (name.len == 0 || name.len > 63)) {
        rc = cm_err_set(err, CM_E_INVALID, "a failpoint name has 1 to 63 bytes");
    }
    if (rc == 0 && cm_fp_set((const char *)name.ptr, set ? v : 0) != 0) {
        rc = cm_err_set(err, CM_E_INVALID, "failpoint table is full");
    }
    if (rc == 0) {
        CM_INFO("sql", "failpoint %s = %lld", (const char *)name.ptr, (long long)(set ? v : 0));
    }
    cm_buf_fini(&name);
    return rc ? rc : sql_sess_done(s, sink, 0, 0, more, NULL);
}

int sql_admin_run(sql_sess *s, const char *src, const sql_token *t, uint32_t n, sql_sink *sink,
                  int more, cm_err *err)
{
    if (n < 2 || t[1].type != SQL_TK_IDENT) {
        return syntax(src, t, n, 1, err);
    }
    if (sql_tok_is(src, &t[1], "FAILPOINT")) {
        return run_failpoint(s, src, t, n, sink, more, err);
    }
    if (s->env->cat == NULL) {
        return cm_err_set(err, CM_E_UNSUPPORTED, "ADMIN needs a cluster (this sqlnode has none)");
    }
    if (sql_tok_is(src, &t[1], "SHOW") || sql_tok_is(src, &t[1], "CANCEL")) {
        return run_ddl_admin(s, src, t, n, sink, more, err);
    }
    if (sql_tok_is(src, &t[1], "CHECK")) {
        if (n < 4) {
            return syntax(src, t, n, n < 3 ? n : 3, err);
        }
        return run_check(s, src, t, n, sink, more, err);
    }
    return cm_err_set(err, CM_E_UNSUPPORTED,
                      "This version of Tessera doesn't yet support 'ADMIN %.*s'",
                      (int)(t[1].len > 40 ? 40 : t[1].len), src + t[1].off);
}
