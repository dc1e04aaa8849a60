/* sql_lockread.c — the locking-read clauses of a SELECT (sql_lockread.h). */
#include "sql_lockread.h"

#include "cm_keys.h"
#include "sql_session_int.h"

#include <stdlib.h>
#include <string.h>

static int kw(const char *src, const sql_token *t, uint32_t i, uint32_t e, const char *k)
{
    return i < e && t[i].type == SQL_TK_IDENT && sql_tok_is(src, &t[i], k);
}

static int is_name(const sql_token *t)
{
    return t->type == SQL_TK_IDENT || t->type == SQL_TK_QIDENT;
}

static uint32_t clauses_end(const char *src, const sql_token *t, uint32_t i, uint32_t e,
                            int *exclusive)
{
    uint32_t nclauses = 0;
    while (i < e) {
        if (kw(src, t, i, e, "LOCK")) {
            if (!kw(src, t, i + 1, e, "IN") || !kw(src, t, i + 2, e, "SHARE") ||
                !kw(src, t, i + 3, e, "MODE")) {
                return i + 1 < e ? i + 1 : e;
            }
            i += 4;
            if (nclauses > 0 || i < e) {
                return i < e ? i : i - 4; /* LOCK IN SHARE MODE stands alone */
            }
            nclauses++;
            continue;
        }
        if (!kw(src, t, i, e, "FOR")) {
            return i;
        }
        if (!kw(src, t, i + 1, e, "UPDATE") && !kw(src, t, i + 1, e, "SHARE")) {
            return i + 1;
        }
        *exclusive |= kw(src, t, i + 1, e, "UPDATE");
        i += 2;
        if (kw(src, t, i, e, "OF")) {
            i++;
            for (;;) {
                if (i >= e || !is_name(&t[i])) {
                    return i;
                }
                i++;
                if (i + 1 < e && t[i].type == SQL_TK_DOT && is_name(&t[i + 1])) {
                    i += 2; /* db.t */
                }
                if (i < e && t[i].type == SQL_TK_COMMA) {
                    i++;
                    continue;
                }
                break;
            }
        }
        if (kw(src, t, i, e, "NOWAIT")) {
            i++;
        } else if (kw(src, t, i, e, "SKIP")) {
            if (!kw(src, t, i + 1, e, "LOCKED")) {
                return i + 1;
            }
            i += 2;
        }
        nclauses++;
    }
    return nclauses > 0 ? e : i;
}

int sql_lockread_check(const char *src, const sql_token *t, uint32_t i, uint32_t e, uint32_t *bad,
                       int *exclusive)
{
    *exclusive = 0;
    /* a clause cut short ends at e too: tell it apart by parsing one token more */
    uint32_t end = clauses_end(src, t, i, e, exclusive);
    if (end != e) {
        *bad = end;
        return -1;
    }
    uint32_t last = e;
    for (uint32_t j = i; j < e; j++) {
        if (kw(src, t, j, e, "FOR") || kw(src, t, j, e, "LOCK")) {
            last = j;
        }
    }
    /* the last clause alone must be complete: FOR UPDATE|SHARE …, LOCK IN SHARE MODE */
    if (last < e && ((kw(src, t, last, e, "FOR") && last + 1 >= e) ||
                     (kw(src, t, last, e, "LOCK") && last + 3 >= e))) {
        *bad = e;
        return -1;
    }
    if (e > i && (kw(src, t, e - 1, e, "OF") || kw(src, t, e - 1, e, "SKIP") ||
                  t[e - 1].type == SQL_TK_COMMA)) {
        *bad = e;
        return -1;
    }
    return 0;
}

/* ---- the session side ---------------------------------------------------------------------- */

void sql_lockread_start(sql_sess *s, sqlite3_stmt *st)
{
    s->vt.lock_reads = false;
    s->vt.nlocked = 0;
    s->vt.locked_overflow = false;
    if (s->env->cat == NULL || !sql_txn_explicit(s)) {
        return;
    }
    const char *sql = sqlite3_sql(st);
    size_t n = sql != NULL ? strlen(sql) : 0, m = strlen(SQL_LOCKREAD_MARK);
    s->vt.lock_reads = n >= m && memcmp(sql + n - m, SQL_LOCKREAD_MARK, m) == 0;
}

int sql_lockread_finish(sql_sess *s, int rc, cm_err *err)
{
    sql_vt_env *v = &s->vt;
    if (rc == 0 && v->lock_reads && v->locked_overflow) {
        rc = cm_err_set(err, CM_E_UNSUPPORTED,
                        "This version of Tessera doesn't yet support SELECT … FOR UPDATE over "
                        "more than %u rows",
                        SQL_VT_LOCKED_MAX);
    }
    cm_buf key = CM_BUF_INIT;
    for (uint32_t i = 0; rc == 0 && v->lock_reads && i < v->nlocked && s->txn != NULL; i++) {
        cm_buf_reset(&key);
        rc = cm_keys_append_row(&key, v->locked[i].table, v->locked[i].handle);
        rc = rc ? rc : cm_txn_lock(s->txn, cm_buf_slice(&key), err);
    }
    cm_buf_fini(&key);
    free(v->locked);
    v->locked = NULL;
    v->nlocked = v->cap_locked = 0;
    v->locked_overflow = false;
    v->lock_reads = false;
    return rc;
}
