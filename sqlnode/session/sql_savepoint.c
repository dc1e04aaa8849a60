/* sql_savepoint.c — SAVEPOINT, ROLLBACK [WORK] TO [SAVEPOINT], RELEASE SAVEPOINT (what
 * `mariadb-dump --single-transaction` sends around each table), as checkpoints of the open
 * transaction's write buffer (cm_txn_checkpoint: a stack, so a savepoint's id is its depth).
 *
 * MySQL's rules: in autocommit mode outside BEGIN a savepoint ends with its statement (ROLLBACK
 * TO it then fails with 1305); ROLLBACK TO undoes the writes made after the savepoint, keeps it
 * and forgets the later ones; RELEASE forgets it and the later ones; a second SAVEPOINT with a
 * name already set moves the name. Savepoints belong to one transaction (recognised by its
 * start_ts): COMMIT, ROLLBACK and an aborted transaction forget them. Savepoint names compare
 * case-insensitively, as MySQL's do. */
#include "sql_session_int.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

bool sql_sp_is(const char *src, const sql_token *t, uint32_t n)
{
    if (n >= 1 && sql_tok_is(src, &t[0], "SAVEPOINT")) {
        return true;
    }
    if (n >= 2 && sql_tok_is(src, &t[0], "RELEASE") && sql_tok_is(src, &t[1], "SAVEPOINT")) {
        return true;
    }
    if (n >= 2 && sql_tok_is(src, &t[0], "ROLLBACK")) {
        uint32_t i = 1 + (sql_tok_is(src, &t[1], "WORK") ? 1 : 0);
        return i < n && sql_tok_is(src, &t[i], "TO");
    }
    return false;
}

static int syntax(const char *src, const sql_token *t, uint32_t n, uint32_t i, cm_err *err)
{
    return cm_err_set(err, CM_E_PARSE,
                      "You have an error in your SQL syntax; check the manual that corresponds to "
                      "your MySQL server version for the right syntax to use near '%.*s' at line 1",
                      i < n ? (int)(t[i].len > 60 ? 60 : t[i].len) : 0,
                      i < n ? src + t[i].off : "");
}

/* Forgets the savepoints when they belong to a transaction that is gone. */
static void sp_sync(sql_sess *s)
{
    if (s->txn == NULL || cm_txn_start_ts(s->txn) != s->sp_txn_ts) {
        s->nsp = 0;
    }
}

static int sp_find(const sql_sess *s, const char *name)
{
    for (uint32_t i = 0; i < s->nsp; i++) {
        if (strcasecmp(s->sp[i].name, name) == 0) {
            return (int)i;
        }
    }
    return -1;
}

static int set_savepoint(sql_sess *s, const char *name, cm_err *err)
{
    if (!sql_txn_explicit(s)) {
        return 0; /* autocommit: the savepoint ends with this statement */
    }
    if (s->txn == NULL) {
        cm_txn *t = NULL;
        int rc = s->vt.txn(s->vt.sess, &t, err);
        if (rc != 0) {
            return rc;
        }
    }
    if (s->stmt_cp > 0) { /* the statement checkpoint the lazy begin took: nothing is in it */
        cm_txn_release(s->txn, s->stmt_cp);
        s->stmt_cp = 0;
    }
    sp_sync(s);
    int old = sp_find(s, name);
    if (old >= 0) { /* the name moves; the old checkpoint stays on the stack, unnamed */
        memmove(&s->sp[old], &s->sp[old + 1], (s->nsp - (uint32_t)old - 1) * sizeof(s->sp[0]));
        s->nsp--;
    }
    if (s->nsp == SQL_SAVEPOINTS_MAX) {
        return cm_err_set(err, CM_E_UNSUPPORTED,
                          "This version of Tessera doesn't yet support more than %d savepoints "
                          "in one transaction",
                          SQL_SAVEPOINTS_MAX);
    }
    int id = cm_txn_checkpoint(s->txn);
    if (id < 0) {
        return cm_err_set(err, CM_E_UNSUPPORTED,
                          "This version of Tessera doesn't yet support more nested savepoints");
    }
    snprintf(s->sp[s->nsp].name, sizeof(s->sp[s->nsp].name), "%s", name);
    s->sp[s->nsp].cp = id;
    s->nsp++;
    s->sp_txn_ts = cm_txn_start_ts(s->txn);
    return 0;
}

static int to_savepoint(sql_sess *s, const char *name, bool release, cm_err *err)
{
    sp_sync(s);
    int k = sp_find(s, name);
    if (k < 0) {
        return cm_err_set(err, CM_E_SP_DOES_NOT_EXIST, "SAVEPOINT %s does not exist", name);
    }
    int cp = s->sp[k].cp;
    if (release) {
        cm_txn_release(s->txn, cp);
        s->nsp = (uint32_t)k;
        return 0;
    }
    cm_txn_rollback_to(s->txn, cp);
    /* the savepoint stays: a fresh checkpoint at the same depth */
    s->sp[k].cp = cm_txn_checkpoint(s->txn);
    s->nsp = (uint32_t)k + 1;
    return 0;
}

int sql_sp_run(sql_sess *s, const char *src, const sql_token *t, uint32_t n, sql_sink *sink,
               int more, cm_err *err)
{
    if (s->env->cat == NULL) {
        return cm_err_set(err, CM_E_UNSUPPORTED,
                          "This version of Tessera doesn't yet support savepoints without a "
                          "cluster");
    }
    uint32_t i;
    int kind; /* 0 SAVEPOINT, 1 ROLLBACK TO, 2 RELEASE */
    if (sql_tok_is(src, &t[0], "SAVEPOINT")) {
        kind = 0;
        i = 1;
    } else if (sql_tok_is(src, &t[0], "RELEASE")) {
        kind = 2;
        i = 2;
    } else {
        kind = 1;
        i = 1 + (sql_tok_is(src, &t[1], "WORK") ? 1 : 0) + 1; /* past TO */
        if (i < n && sql_tok_is(src, &t[i], "SAVEPOINT") && i + 1 < n) {
            i++;
        }
    }
    if (i + 1 != n || (t[i].type != SQL_TK_IDENT && t[i].type != SQL_TK_QIDENT)) {
        return syntax(src, t, n, i < n ? i + 1 : n, err);
    }
    cm_buf name = CM_BUF_INIT;
    int rc = sql_tok_name(src, &t[i], &name) == 0 && cm_buf_terminate(&name) == 0
                 ? 0
                 : cm_err_set(err, CM_E_NOMEM, "out of memory");
    if (rc == 0 && name.len >= sizeof(s->sp[0].name)) {
        rc = cm_err_set(err, CM_E_TOO_LONG_IDENT, "Identifier name '%.64s' is too long",
                        (const char *)name.ptr);
    }
    if (rc == 0) {
        rc = kind == 0 ? set_savepoint(s, (const char *)name.ptr, err)
                       : to_savepoint(s, (const char *)name.ptr, kind == 2, err);
    }
    cm_buf_fini(&name);
    return rc ? rc : sql_sess_done(s, sink, 0, 0, more, NULL);
}
