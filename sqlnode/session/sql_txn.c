/* sql_txn.c — transactions owned by the session (DESIGN.md §7, docs/sql-layer.md
 * "Transactions"): the KV transaction is begun on a statement's first table access through the
 * vtab module's env->txn; each statement runs between a checkpoint and its release or rollback;
 * autocommit statements commit (2PC) after sqlite3_step returned SQLITE_DONE and before the OK
 * packet; BEGIN/COMMIT/ROLLBACK and SET autocommit are ours; KV errors become MySQL errors
 * (docs/errors.md). */
#include "sql_session_int.h"

#include "cm_log.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

/* sql_mode bits (MySQL's numbering, sql_sysvar.h's SQL_SQL_MODE_CHOICES order). */
#define MODE_STRICT_TRANS_TABLES (1LL << 21)
#define MODE_STRICT_ALL_TABLES   (1LL << 22)

int sql_txn_explicit(const sql_sess *s)
{
    return s->in_trans || !s->sv[SQL_SV_AUTOCOMMIT].i;
}

/* Ends the transaction (rolled back unless it committed) and forgets what it wrote. */
static void txn_end(sql_sess *s)
{
    if (s->txn == NULL) {
        return;
    }
    uint64_t start_ts = cm_txn_start_ts(s->txn);
    cm_txn_free(s->txn);
    s->txn = NULL;
    s->stmt_cp = 0;
    if (s->env->gc != NULL) {
        sql_gc_txn_end(s->env->gc, start_ts);
    }
    s->vt.nwritten = 0;
    s->vt.written_overflow = false;
}

static int txn_begin(sql_sess *s, cm_err *err)
{
    cm_txn *t = NULL;
    int rc = cm_txn_begin(s->env->kc, &t, err);
    if (rc != 0) {
        return sql_txn_map_error(s, rc, err);
    }
    s->txn = t;
    s->txn_schema_ver = s->schema != NULL ? sql_schema_version(s->schema) : 0;
    s->vt.nwritten = 0;
    s->vt.written_overflow = false;
    if (s->env->gc != NULL && sql_gc_txn_begin(s->env->gc, cm_txn_start_ts(t)) != 0) {
        CM_WARN("sql", "conn=%llu: transaction not registered with the GC worker",
                (unsigned long long)s->id);
    }
    if (!s->sv[SQL_SV_AUTOCOMMIT].i) {
        s->in_trans = 1; /* autocommit=0: the transaction lasts until COMMIT/ROLLBACK */
    }
    return 0;
}

/* env->txn: the session's transaction, begun on first use. */
static int vt_txn_cb(void *sess, cm_txn **out, cm_err *err)
{
    sql_sess *s = sess;
    /* The lease gate: every table read or write passes here first; a node that could not
     * confirm its schema within the lease serves no table (8027) until its poll succeeds. */
    int lrc = sql_cat_lease_check(s->env->cat, err);
    if (lrc != 0) {
        *out = NULL;
        return lrc;
    }
    if (s->txn == NULL) {
        int rc = txn_begin(s, err);
        if (rc != 0) {
            *out = NULL;
            return rc;
        }
        /* Begun inside a statement: its writes start here (statement atomicity). */
        s->stmt_cp = cm_txn_checkpoint(s->txn);
    }
    *out = s->txn;
    return 0;
}

static const sql_schema *vt_schema_cb(void *sess)
{
    sql_sess *s = sess;
    return s->schema;
}

static void vt_warn_cb(void *sess, uint16_t code, const char *msg)
{
    sql_diag_add(sess, SQL_DIAG_WARNING, code, "%s", msg);
}

/* env->stmt_filters: the text being prepared has a WHERE (anywhere: a quoted "where" or one in a
 * subquery only costs the TopN pushdown, never a row). */
static bool vt_stmt_filters_cb(void *sess)
{
    const sql_sess *s = sess;
    if (s->prep_sql == NULL) {
        return true;
    }
    for (int i = 0; i + 5 <= s->prep_len; i++) {
        if (strncasecmp(s->prep_sql + i, "WHERE", 5) == 0) {
            return true;
        }
    }
    return false;
}

int sql_txn_setup(sql_sess *s, cm_err *err)
{
    if (s->env->cat == NULL || s->env->kc == NULL) {
        return 0;
    }
    memset(&s->vt, 0, sizeof(s->vt));
    s->vt.kc = s->env->kc;
    s->vt.cat = s->env->cat;
    s->vt.sess = s;
    s->vt.txn = vt_txn_cb;
    s->vt.schema = vt_schema_cb;
    s->vt.warn = vt_warn_cb;
    s->vt.stmt_filters = vt_stmt_filters_cb;
    /* ATTACH for qualified names of other databases (sql_decl.c). */
    sqlite3_limit(s->db, SQLITE_LIMIT_ATTACHED, SQL_ATTACH_MAX);
    int rc = sql_vt_register(s->db, &s->vt, err);
    return rc != 0 ? rc : sql_isg_setup(s, err);
}

void sql_txn_teardown(sql_sess *s)
{
    txn_end(s);
    s->in_trans = 0;
}

int sql_txn_retryable(int rc)
{
    return rc == CM_E_WRITE_CONFLICT || rc == CM_E_TXN_ROLLED_BACK;
}

int sql_txn_map_error(sql_sess *s, int rc, cm_err *err)
{
    (void)s;
    char detail[CM_ERR_MSG_MAX];
    snprintf(detail, sizeof(detail), "%s", err != NULL ? err->msg : "");
    if (err != NULL && err->code == rc &&
        (strncmp(detail, "Commit result", 13) == 0 || strncmp(detail, "Region is", 9) == 0 ||
         strncmp(detail, "Lock wait", 9) == 0 || strncmp(detail, "KV server", 9) == 0)) {
        return rc; /* mapped already (statement and session levels both map) */
    }
    switch (rc) {
    case CM_E_WRITE_CONFLICT:
    case CM_E_TXN_ROLLED_BACK:
        return cm_err_set(err, CM_E_DEADLOCK,
                          "Deadlock found when trying to get lock; try restarting transaction");
    case CM_E_KEY_IS_LOCKED:
        return cm_err_set(err, CM_E_KEY_IS_LOCKED,
                          "Lock wait timeout exceeded; try restarting transaction");
    case CM_E_TXN_UNDETERMINED:
        return cm_err_set(err, CM_E_TXN_UNDETERMINED,
                          "Commit result is undetermined: the transaction may or may not have "
                          "committed; check before retrying (%.200s)",
                          detail);
    case CM_E_TIMEOUT:
    case CM_E_UNAVAILABLE:
    case CM_E_CLOSED:
    case CM_E_IO:
    case CM_E_NOT_LEADER:
    case CM_E_EPOCH_NOT_MATCH:
    case CM_E_REGION_NOT_FOUND:
    case CM_E_KEY_NOT_IN_REGION:
    case CM_E_STALE_EPOCH:
    case CM_E_STALE_COMMAND:
    case CM_E_RPC_BAD_FRAME:
    case CM_E_RPC_NO_METHOD:
    case CM_E_RPC_BAD_MESSAGE:
        return cm_err_set(err, CM_E_REGION_NOT_FOUND,
                          "Region is unavailable: the KV store did not answer within the retry "
                          "budget (%.200s)",
                          detail);
    case CM_E_SERVER_IS_BUSY:
        return cm_err_set(err, CM_E_SERVER_IS_BUSY, "KV server is busy (%.200s)", detail);
    default:
        return rc;
    }
}

/* The schema check at commit, run by the KV client between prewrite and the primary's commit
 * (cm_txn_set_commit_check), so a schema change this node loaded while the transaction
 * prewrote cannot slip through: a written table whose version moved since the transaction
 * began (or that was dropped) fails the commit with 1213; a node whose schema lease ran out
 * fails it with 8027 (its schema may be older than what other nodes already use). */
static int schema_check(sql_sess *s, cm_err *err)
{
    if (s->vt.nwritten == 0 && !s->vt.written_overflow) {
        return 0;
    }
    sql_schema *now = sql_cat_acquire(s->env->cat);
    int bad = 0;
    if (now == NULL) {
        bad = 1;
    } else if (s->vt.written_overflow) {
        bad = sql_schema_version(now) > s->txn_schema_ver;
    } else {
        for (uint32_t i = 0; i < s->vt.nwritten && !bad; i++) {
            const sql_cat_table *t = sql_schema_table_by_id(now, s->vt.written[i]);
            bad = t == NULL || t->version > s->txn_schema_ver;
        }
    }
    if (now != NULL) {
        sql_schema_release(now);
    }
    if (bad) {
        CM_INFO("sql",
                "conn=%llu: commit refused: a written table changed since schema version "
                "%llu",
                (unsigned long long)s->id, (unsigned long long)s->txn_schema_ver);
        return cm_err_set(err, CM_E_DEADLOCK,
                          "Deadlock found when trying to get lock; try restarting transaction "
                          "(a table this transaction wrote changed its schema)");
    }
    return 0;
}

static int commit_check_cb(void *user, uint64_t commit_ts, cm_err *err)
{
    (void)commit_ts;
    sql_sess *s = user;
    int rc = schema_check(s, err);
    return rc != 0 ? rc : sql_cat_lease_check(s->env->cat, err);
}

/* Commits without mapping errors (autocommit retries look at the raw code). */
static int commit_raw(sql_sess *s, cm_err *err)
{
    if (s->txn == NULL) {
        return 0;
    }
    int rc = 0;
    if (cm_txn_size(s->txn) > 0) { /* read-only transactions have nothing to commit */
        cm_txn_set_commit_check(s->txn, commit_check_cb, s);
        rc = cm_txn_commit(s->txn, err);
        if (rc == CM_E_TXN_UNDETERMINED) {
            CM_ERROR("sql", "conn=%llu txn=%llu: commit outcome undetermined: %s",
                     (unsigned long long)s->id, (unsigned long long)cm_txn_start_ts(s->txn),
                     err ? err->msg : "");
        }
    }
    txn_end(s);
    return rc;
}

int sql_txn_commit(sql_sess *s, cm_err *err)
{
    s->txn_commit_pending = 0;
    int rc = commit_raw(s, err);
    return rc != 0 ? sql_txn_map_error(s, rc, err) : 0;
}

void sql_txn_rollback(sql_sess *s)
{
    txn_end(s);
}

void sql_txn_stmt_prologue(sql_sess *s)
{
    sql_vt_env *v = &s->vt;
    v->affected = 0;
    v->first_insert_id = 0;
    v->insert_id_set = false;
    cm_err_clear(&v->err);
    int64_t mode = s->sv[SQL_SV_SQL_MODE].i;
    v->strict = (mode & (MODE_STRICT_TRANS_TABLES | MODE_STRICT_ALL_TABLES)) != 0;
    v->found_rows = s->found_rows_flag != 0;
    v->copr_pushdown = s->sv[SQL_SV_TESSERA_COPR_PUSHDOWN].i != 0;
    v->now_us = s->stmt_start_us;
    s->stmt_cp = s->txn != NULL ? cm_txn_checkpoint(s->txn) : 0;
}

int sql_txn_stmt_epilogue(sql_sess *s, int rc, cm_err *err)
{
    if (s->env->cat == NULL) {
        return rc;
    }
    if (rc == 0) {
        if (s->txn != NULL && s->stmt_cp > 0) {
            cm_txn_release(s->txn, s->stmt_cp);
        }
        s->stmt_cp = 0;
        if (s->txn != NULL && !sql_txn_explicit(s)) {
            return commit_raw(s, err);
        }
        return 0;
    }
    /* The statement failed: undo its writes; in autocommit the transaction ends with it. */
    if (s->txn != NULL && s->stmt_cp > 0) {
        cm_txn_rollback_to(s->txn, s->stmt_cp);
    }
    s->stmt_cp = 0;
    if (s->txn != NULL && !sql_txn_explicit(s)) {
        txn_end(s);
    } else if (s->txn != NULL && sql_txn_retryable(rc)) {
        /* A conflict inside an explicit transaction: the whole transaction is rolled back and
         * the client told to restart it (1213); its statements are never re-applied here. */
        txn_end(s);
        s->in_trans = 0;
        s->trans_ro = 0;
    }
    return rc;
}

int sql_txn_control(sql_sess *s, sql_kind k, const char *src, const sql_token *t, uint32_t n,
                    sql_sink *sink, int more, cm_err *err)
{
    int rc = 0;
    if (k == SQL_KIND_BEGIN) {
        /* BEGIN commits the open transaction first, as in MySQL. */
        rc = sql_txn_commit(s, err);
        s->in_trans = 0;
        if (rc != 0) {
            return rc;
        }
        int ro = 0, snapshot = 0;
        for (uint32_t i = 1; i + 1 < n; i++) {
            if (sql_tok_is(src, &t[i], "READ") && sql_tok_is(src, &t[i + 1], "ONLY")) {
                ro = 1;
            }
            if (sql_tok_is(src, &t[i], "CONSISTENT") && sql_tok_is(src, &t[i + 1], "SNAPSHOT")) {
                snapshot = 1;
            }
        }
        s->in_trans = 1;
        s->trans_ro = ro;
        if (snapshot && s->env->kc != NULL && s->env->cat != NULL) {
            rc = txn_begin(s, err); /* the snapshot is taken now, not at the first read */
            if (rc != 0) {
                s->in_trans = 0;
                return rc;
            }
        }
        return sql_sess_done(s, sink, 0, 0, more, NULL);
    }
    int chain = 0, release = 0;
    for (uint32_t i = 1; i < n; i++) {
        int no = i > 1 && sql_tok_is(src, &t[i - 1], "NO");
        if (sql_tok_is(src, &t[i], "CHAIN") && !no) {
            chain = 1;
        }
        if (sql_tok_is(src, &t[i], "RELEASE") && !no) {
            release = 1;
        }
    }
    int was_ro = s->trans_ro;
    if (k == SQL_KIND_COMMIT) {
        rc = sql_txn_commit(s, err);
    } else {
        sql_txn_rollback(s);
    }
    s->in_trans = rc == 0 && chain;
    s->trans_ro = s->in_trans ? was_ro : 0;
    if (rc != 0) {
        return rc;
    }
    if (release) {
        sql_sess_interrupt(s, 0);
    }
    return sql_sess_done(s, sink, 0, 0, more, NULL);
}
