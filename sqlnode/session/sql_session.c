/* sql_session.c — session lifecycle, diagnostics, and the statement dispatcher. */
#include "sql_session_int.h"
#include "sql_admin.h"
#include "sql_copr.h"
#include "sql_dml_ext.h"

#include "../mysql/sql_my_const.h"
#include "cm_log.h"
#include "sql_charset.h"
#include "sql_numeric.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>

/* ---- process-wide ---- */

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static int global_rc;

static void global_init_once(void)
{
    /* Each session owns its connection and uses it from one thread at a time: multi-thread
     * mode drops SQLite's per-connection mutexes. Memory statistics take a global mutex on
     * every allocation; sessions must not contend on it. */
    (void)sqlite3_config(SQLITE_CONFIG_MULTITHREAD);
    (void)sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
    global_rc = sqlite3_initialize() == SQLITE_OK ? 0 : CM_E_INTERNAL;
}

int sql_sess_global_init(void)
{
    pthread_once(&global_once, global_init_once);
    return global_rc;
}

/* ---- diagnostics ---- */

void sql_diag_clear(sql_sess *s)
{
    for (uint32_t i = 0; i < s->ndiag; i++) {
        free(s->diag[i].msg);
    }
    s->ndiag = 0;
    s->nwarn_total = 0;
    s->nerr_total = 0;
    if (s->cap_diag > 8) { /* a burst of warnings does not stay allocated */
        free(s->diag);
        s->diag = NULL;
        s->cap_diag = 0;
    }
}

void sql_diag_add(sql_sess *s, int level, int mysql_errno, const char *fmt, ...)
{
    if (level == SQL_DIAG_ERROR) {
        s->nerr_total++;
    } else {
        s->nwarn_total++;
    }
    int64_t max = s->sv[SQL_SV_MAX_ERROR_COUNT].i;
    if (max > SQL_DIAG_MAX) {
        max = SQL_DIAG_MAX;
    }
    if ((int64_t)s->ndiag >= max) {
        return;
    }
    if (s->ndiag == s->cap_diag) {
        uint32_t cap = s->cap_diag ? s->cap_diag * 2 : 4;
        sql_diag *d = realloc(s->diag, cap * sizeof(*d));
        if (d == NULL) {
            return;
        }
        s->diag = d;
        s->cap_diag = cap;
    }
    char buf[CM_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    char *m = strdup(buf);
    if (m == NULL) {
        return;
    }
    s->diag[s->ndiag].level = (uint8_t)level;
    s->diag[s->ndiag].code = (uint16_t)mysql_errno;
    s->diag[s->ndiag].msg = m;
    s->ndiag++;
}

void sql_sess_note_error(sql_sess *s, const cm_err *err)
{
    sql_diag_add(s, SQL_DIAG_ERROR, cm_err_mysql_errno(err->code), "%s", err->msg);
}

/* ---- helpers shared by the module ---- */

int64_t sql_sess_now_us(sql_sess *s)
{
    if (s->env->now_us != NULL) {
        return s->env->now_us(s->env->user);
    }
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (int64_t)tv.tv_sec * 1000000 + tv.tv_usec;
}

uint16_t sql_sess_warning_count(const sql_sess *s)
{
    uint32_t n = s->nwarn_total;
    return (uint16_t)(n > 65535 ? 65535 : n);
}

uint16_t sql_sess_status(const sql_sess *s)
{
    uint16_t st = 0;
    if (s->sv[SQL_SV_AUTOCOMMIT].i) {
        st |= SQL_STATUS_AUTOCOMMIT;
    }
    if (s->in_trans) {
        st |= SQL_STATUS_IN_TRANS;
        if (s->trans_ro) {
            st |= SQL_STATUS_IN_TRANS_READONLY;
        }
    }
    if (s->mode & SQL_MODE_NO_BACKSLASH_ESCAPES) {
        st |= SQL_STATUS_NO_BACKSLASH_ESCAPES;
    }
    return st;
}

int sql_sess_done(sql_sess *s, sql_sink *sink, uint64_t affected, uint64_t insert_id, int more,
                  const char *info)
{
    sql_done d;
    memset(&d, 0, sizeof(d));
    d.affected_rows = affected;
    d.last_insert_id = insert_id;
    d.warnings = sql_sess_warning_count(s);
    d.status = sql_sess_status(s);
    d.more = more;
    d.info = info;
    return sink->done(sink, &d);
}

sql_column sql_col_text(const sql_sess *s, const char *name)
{
    sql_column c;
    memset(&c, 0, sizeof(c));
    c.name = name;
    c.name_len = strlen(name);
    c.type = SQL_TYPE_VAR_STRING;
    c.charset = sql_sess_collation(s);
    c.length = 1024;
    c.decimals = SQL_DECIMALS_NOT_FIXED;
    return c;
}

sql_column sql_col_int(const char *name, int is_unsigned)
{
    sql_column c;
    memset(&c, 0, sizeof(c));
    c.name = name;
    c.name_len = strlen(name);
    c.type = SQL_TYPE_LONGLONG;
    c.charset = SQL_COLLATION_BINARY;
    c.length = 21;
    c.flags = SQL_FLAG_BINARY | SQL_FLAG_NUM | (is_unsigned ? SQL_FLAG_UNSIGNED : 0);
    return c;
}

int sql_sess_scratch(sql_sess *s, uint32_t n, cm_err *err)
{
    if (n <= s->cap_vals) {
        return 0;
    }
    uint32_t cap = n < 16 ? 16 : n;
    sql_value *v = realloc(s->vals, cap * sizeof(*v));
    if (v == NULL) {
        return cm_err_set(err, CM_E_NOMEM, "out of memory");
    }
    s->vals = v;
    sql_column *c = realloc(s->cols, cap * sizeof(*c));
    if (c == NULL) {
        return cm_err_set(err, CM_E_NOMEM, "out of memory");
    }
    s->cols = c;
    s->cap_vals = cap;
    return 0;
}

int sql_sess_sysvar_resolve(void *user, const char *name, size_t n, int scope, int *id, cm_err *err)
{
    (void)user;
    int v = sql_sysvar_find(name, n);
    if (v < 0) {
        return cm_err_set(err, CM_E_UNKNOWN_SYSVAR, "Unknown system variable '%.*s'",
                          (int)(n > 64 ? 64 : n), name);
    }
    const sql_sysvar_def *d = sql_sysvar_def_of(v);
    if (scope == 2 && !(d->flags & SQL_SV_SESSION)) {
        return cm_err_set(err, CM_E_VAR_SCOPE, "Variable '%s' is a GLOBAL variable", d->name);
    }
    if (scope == 1 && !(d->flags & SQL_SV_GLOBAL)) {
        return cm_err_set(err, CM_E_VAR_SCOPE, "Variable '%s' is a SESSION variable", d->name);
    }
    *id = v;
    return 0;
}

sql_tr_ctx sql_sess_tr_ctx(sql_sess *s)
{
    sql_tr_ctx c = {s->mode, s, sql_sess_sysvar_resolve};
    return c;
}

/* ---- statements ---- */

void sql_sess_stmt_begin(sql_sess *s)
{
    s->stmt_start_us = sql_sess_now_us(s);
    s->stmt_ops = 0;
    sql_type_set_tz(s->tz_system, s->tz_offset_s); /* TIMESTAMP conversions of this thread */
    if (__atomic_load_n(&s->killed, __ATOMIC_ACQUIRE) == 1) {
        __atomic_store_n(&s->killed, 0, __ATOMIC_RELEASE);
    }
    s->stmt_dml = 0;
    sql_decl_stmt_begin(s);
    sql_priv_stmt_begin(s);
}

/* Called by SQLite every SQL_PROGRESS_OPS instructions; non-zero stops the statement. */
static int progress_cb(void *user)
{
    sql_sess *s = user;
    if (__atomic_load_n(&s->killed, __ATOMIC_ACQUIRE) != 0) {
        return 1; /* reported as 1317 */
    }
    s->stmt_ops++;
    uint64_t max_ops = s->env->stmt_ops_max;
    int64_t max_ms = s->sv[SQL_SV_MAX_EXECUTION_TIME].i;
    if ((max_ops > 0 && s->stmt_ops * SQL_PROGRESS_OPS > max_ops) ||
        (max_ms > 0 && sql_sess_now_us(s) - s->stmt_start_us > max_ms * 1000)) {
        cm_err_set(&s->fn_err, CM_E_QUERY_TIMEOUT,
                   "Query execution was interrupted, maximum statement execution time exceeded");
        return 1;
    }
    return 0;
}

/* ---- lifecycle ---- */

static int authorizer(void *user, int action, const char *a, const char *b, const char *c,
                      const char *d)
{
    (void)b;
    (void)d;
    sql_sess *s = user;
    if (s->declaring) {
        return SQLITE_OK; /* our own declarations (sql_decl.c) */
    }
    if ((action == SQLITE_READ || action == SQLITE_INSERT || action == SQLITE_UPDATE ||
         action == SQLITE_DELETE) &&
        a != NULL && c != NULL && strcasecmp(c, "main") != 0 && strcasecmp(c, "temp") != 0 &&
        s->prep_sql != NULL && !sql_decl_names_qualified(s, c, a)) {
        /* SQLite found an unqualified name in an ATTACHed schema: it means the current
         * database's table (docs/sql-layer.md "Naming tables in SQLite"). */
        snprintf(s->unqual, sizeof(s->unqual), "%s", a);
        snprintf(s->denied, sizeof(s->denied), "%s", a);
        return SQLITE_DENY;
    }
    if (sql_priv_table_denied(s, action, a, c)) {
        return SQLITE_DENY; /* 1142 in s->fn_err (sql_priv.c) */
    }
    switch (action) {
    case SQLITE_INSERT:
    case SQLITE_UPDATE:
    case SQLITE_DELETE:
        /* DML on the tables we declared; SQLite's own tables stay out of reach. */
        if (s->env->cat != NULL && a != NULL && strncasecmp(a, "sqlite_", 7) != 0) {
            return SQLITE_OK;
        }
        snprintf(s->denied, sizeof(s->denied), "%s", a ? a : "");
        return SQLITE_DENY;
    case SQLITE_SELECT:
    case SQLITE_RECURSIVE:
        return SQLITE_OK;
    case SQLITE_FUNCTION:
        if (b != NULL &&
            (strcasecmp(b, "load_extension") == 0 || strcasecmp(b, "fts3_tokenizer") == 0)) {
            return SQLITE_DENY;
        }
        return SQLITE_OK;
    case SQLITE_READ:
        if (a != NULL && (strncasecmp(a, "sqlite_", 7) == 0 || strncasecmp(a, "pragma_", 7) == 0 ||
                          strcasecmp(a, "dbstat") == 0 || strncasecmp(a, "fts", 3) == 0)) {
            snprintf(s->denied, sizeof(s->denied), "%s", a);
            return SQLITE_DENY;
        }
        return SQLITE_OK;
    default:
        /* Only queries reach SQLite; everything else is our code's (DESIGN.md §7). */
        snprintf(s->denied, sizeof(s->denied), "%s", a ? a : "");
        return SQLITE_DENY;
    }
}

void sql_sess_expire_statements(sql_sess *s)
{
    sqlite3_set_authorizer(s->db, authorizer, s); /* SQLite expires every statement here */
}

int sql_sess_create(const sql_sess_env *env, uint64_t conn_id, sql_sess **out, cm_err *err)
{
    *out = NULL;
    if (sql_sess_global_init() != 0) {
        return cm_err_set(err, CM_E_INTERNAL, "SQLite did not initialize");
    }
    sql_sess *s = calloc(1, sizeof(*s));
    if (s == NULL) {
        return cm_err_set(err, CM_E_NOMEM, "out of memory creating a session");
    }
    s->env = env;
    s->id = conn_id;
    pthread_mutex_init(&s->info_mu, NULL);
    sql_tokens_init(&s->toks);
    sql_tr_out_init(&s->tr);
    cm_buf_init(&s->scratch);
    int rc = sql_sess_vars_from_globals(s, err);
    if (rc == 0 && sql_cache_init(&s->cache, env->stmt_cache_size) != 0) {
        rc = cm_err_set(err, CM_E_NOMEM, "out of memory creating a session");
    }
    if (rc == 0) {
        int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_MEMORY |
                    SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_PRIVATECACHE;
        if (sqlite3_open_v2(":memory:", &s->db, flags, NULL) != SQLITE_OK) {
            rc = cm_err_set(err, CM_E_INTERNAL, "cannot open the session's SQLite connection");
        }
    }
    if (rc == 0) {
        int64_t maxp = s->sv[SQL_SV_MAX_ALLOWED_PACKET].i;
        sqlite3_limit(s->db, SQLITE_LIMIT_LENGTH, (int)maxp);
        sqlite3_limit(s->db, SQLITE_LIMIT_SQL_LENGTH, (int)maxp);
        sqlite3_limit(s->db, SQLITE_LIMIT_EXPR_DEPTH, SQL_TR_DEPTH_MAX + 50);
        sqlite3_limit(s->db, SQLITE_LIMIT_VARIABLE_NUMBER, 65535);
        sqlite3_limit(s->db, SQLITE_LIMIT_ATTACHED, 0);
        if (sqlite3_exec(s->db, "PRAGMA case_sensitive_like = ON", NULL, NULL, NULL) != SQLITE_OK ||
            sql_func_register(s) != 0 || sql_num_register(s) != 0) {
            rc = cm_err_set(err, CM_E_INTERNAL, "cannot set up the session's SQLite connection");
        }
        if (rc == 0) {
            rc = sql_txn_setup(s, err);
        }
        if (rc == 0 && sql_like_register(s) != 0) {
            rc = cm_err_set(err, CM_E_INTERNAL, "cannot register LIKE on the session's connection");
        }
        sqlite3_set_authorizer(s->db, authorizer, s);
        sqlite3_progress_handler(s->db, SQL_PROGRESS_OPS, progress_cb, s);
    }
    if (rc != 0) {
        sql_sess_free(s);
        return rc;
    }
    *out = s;
    return 0;
}

void sql_sess_free(sql_sess *s)
{
    if (s == NULL) {
        return;
    }
    while (s->preps != NULL) {
        sql_sess_prep_free(s, s->preps);
    }
    sql_cache_fini(&s->cache);
    sql_txn_teardown(s); /* an open transaction is rolled back */
    if (s->db != NULL) {
        sqlite3_close_v2(s->db);
    }
    if (s->schema != NULL) { /* after the close: declarations borrow from it */
        sql_schema_release(s->schema);
    }
    sql_sess_vars_free(s);
    sql_priv_free(s);
    sql_diag_clear(s);
    free(s->diag);
    sql_uvars_clear(s);
    free(s->uvars);
    sql_tokens_fini(&s->toks);
    sql_tr_out_fini(&s->tr);
    free(s->ins_named);
    cm_buf_fini(&s->scratch);
    free(s->vals);
    free(s->cols);
    pthread_mutex_destroy(&s->info_mu);
    free(s);
}

uint64_t sql_sess_id(const sql_sess *s)
{
    return s->id;
}

static void set_str(sql_sess *s, char *dst, size_t cap, const char *v, size_t n)
{
    if (n >= cap) {
        n = cap - 1;
    }
    pthread_mutex_lock(&s->info_mu);
    memcpy(dst, v, n);
    dst[n] = '\0';
    pthread_mutex_unlock(&s->info_mu);
}

int sql_sess_login(sql_sess *s, const char *user, const char *host, const char *db,
                   uint16_t collation_id, int interactive, cm_err *err)
{
    set_str(s, s->user, sizeof(s->user), user, strlen(user));
    set_str(s, s->host, sizeof(s->host), host, strlen(host));
    sql_priv_login(s, user, host);
    if (db != NULL && db[0] != '\0') {
        int rc = sql_sess_use_db(s, db, strlen(db), err);
        if (rc != 0) {
            return rc;
        }
    }
    const sql_collation *c = sql_collation_by_id(collation_id);
    if (c != NULL) {
        sql_value v = sql_value_text(c->charset, strlen(c->charset));
        (void)sql_sess_sysvar_set(s, SQL_SV_CHARACTER_SET_CLIENT, 0, &v, NULL);
        (void)sql_sess_sysvar_set(s, SQL_SV_CHARACTER_SET_CONNECTION, 0, &v, NULL);
        (void)sql_sess_sysvar_set(s, SQL_SV_CHARACTER_SET_RESULTS, 0, &v, NULL);
        v = sql_value_text(c->name, strlen(c->name));
        (void)sql_sess_sysvar_set(s, SQL_SV_COLLATION_CONNECTION, 0, &v, NULL);
    }
    if (interactive) {
        s->sv[SQL_SV_WAIT_TIMEOUT].i = s->sv[SQL_SV_INTERACTIVE_TIMEOUT].i;
    }
    /* init_connect runs for every login (there is no SUPER privilege to exempt yet). */
    cm_buf init = CM_BUF_INIT;
    sql_sysvars *g = s->env->globals;
    pthread_mutex_lock(&g->mu);
    const char *ic = g->v[SQL_SV_INIT_CONNECT].s;
    int copy_rc = (ic != NULL && ic[0] != '\0') ? cm_buf_append(&init, ic, strlen(ic)) : 0;
    pthread_mutex_unlock(&g->mu);
    int rc = 0;
    if (copy_rc != 0) {
        rc = cm_err_set(err, CM_E_NOMEM, "out of memory");
    } else if (init.len > 0) {
        s->in_init_connect = 1;
        int save = s->multi_statements;
        s->multi_statements = 1;
        rc = sql_sess_query(s, (const char *)init.ptr, init.len, &sql_discard_sink, err);
        s->multi_statements = save;
        s->in_init_connect = 0;
        if (rc != 0) {
            CM_WARN("sql", "init_connect failed conn=%llu: %s", (unsigned long long)s->id,
                    err ? err->msg : "");
        }
    }
    cm_buf_fini(&init);
    sql_diag_clear(s);
    return rc;
}

void sql_sess_set_multi_statements(sql_sess *s, int on)
{
    s->multi_statements = on != 0;
}

void sql_sess_set_found_rows(sql_sess *s, int on)
{
    s->found_rows_flag = on != 0;
}

int sql_sess_found_rows(const sql_sess *s)
{
    return s->found_rows_flag;
}

int sql_sess_use_db(sql_sess *s, const char *db, size_t n, cm_err *err)
{
    if (n == 0) {
        return cm_err_set(err, CM_E_NO_DB, "No database selected");
    }
    if (n >= SQL_DB_MAX || memchr(db, '\0', n) != NULL) {
        return cm_err_set(err, CM_E_BAD_DB, "Incorrect database name '%.*s'",
                          (int)(n > 64 ? 64 : n), db);
    }
    if (s->env->cat != NULL) {
        char name[SQL_DB_MAX];
        memcpy(name, db, n);
        name[n] = '\0';
        int prc = sql_priv_check_use(s, name, err);
        if (prc != 0) {
            return prc;
        }
        sql_schema *snap = sql_cat_acquire(s->env->cat);
        int exists = snap != NULL && sql_schema_db(snap, name) != NULL;
        if (snap != NULL) {
            sql_schema_release(snap);
        }
        if (!exists && !sql_is_db(name)) {
            return cm_err_set(err, CM_E_BAD_DB, "Unknown database '%.64s'", name);
        }
        /* Unqualified names now mean this database's tables: drop the declarations and the
         * statements bound to them. */
        sql_decl_drop_all(s);
        sql_cache_clear(&s->cache);
    }
    /* Without a cluster every database name is accepted and only remembered
     * (docs/mysql-protocol.md). */
    set_str(s, s->dbname, sizeof(s->dbname), db, n);
    s->has_db = 1;
    return 0;
}

int sql_sess_reset(sql_sess *s, cm_err *err)
{
    sql_txn_rollback(s);
    s->in_trans = 0;
    s->trans_ro = 0;
    s->last_insert_id = 0;
    s->row_count = 0;
    s->found_rows = 0;
    s->timestamp_fixed = 0;
    sql_uvars_clear(s);
    sql_diag_clear(s);
    return sql_sess_vars_from_globals(s, err);
}

int64_t sql_sess_wait_timeout_ms(const sql_sess *s)
{
    return s->sv[SQL_SV_WAIT_TIMEOUT].i * 1000;
}

int64_t sql_sess_net_read_timeout_ms(const sql_sess *s)
{
    return s->sv[SQL_SV_NET_READ_TIMEOUT].i * 1000;
}

int64_t sql_sess_max_allowed_packet(const sql_sess *s)
{
    return sql_sysvars_get_int(s->env->globals, SQL_SV_MAX_ALLOWED_PACKET);
}

uint16_t sql_sess_collation(const sql_sess *s)
{
    const char *name = s->sv[SQL_SV_COLLATION_CONNECTION].s;
    const sql_collation *c = name ? sql_collation_by_name(name, strlen(name)) : NULL;
    return c ? c->id : SQL_COLLATION_DEFAULT_ID;
}

void sql_sess_interrupt(sql_sess *s, int query_only)
{
    int want = query_only ? 1 : 2;
    int cur = __atomic_load_n(&s->killed, __ATOMIC_ACQUIRE);
    if (cur < want) {
        __atomic_store_n(&s->killed, want, __ATOMIC_RELEASE);
    }
    /* Safe from another thread while the connection is open; the server unregisters a session
     * before it frees it, under the lock KILL holds. */
    sqlite3_interrupt(s->db);
}

int sql_sess_killed(const sql_sess *s)
{
    return __atomic_load_n(&s->killed, __ATOMIC_ACQUIRE);
}

void sql_sess_copy_info(sql_sess *s, char *user, size_t user_cap, char *host, size_t host_cap,
                        char *db, size_t db_cap)
{
    pthread_mutex_lock(&s->info_mu);
    snprintf(user, user_cap, "%s", s->user);
    snprintf(host, host_cap, "%s", s->host);
    snprintf(db, db_cap, "%s", s->has_db ? s->dbname : "");
    pthread_mutex_unlock(&s->info_mu);
}

const char *sql_sess_user(const sql_sess *s)
{
    return s->user;
}

uint64_t sql_sess_questions(const sql_sess *s)
{
    return s->questions;
}

/* ---- the statement dispatcher ---- */

/* Reads a table name after the leading keywords of a DML/DESCRIBE statement. */
static int table_error(sql_sess *s, const char *src, const sql_token *t, uint32_t n, uint32_t i,
                       cm_err *err)
{
    static const char *const skip[] = {"LOW_PRIORITY", "DELAYED", "HIGH_PRIORITY", "IGNORE",
                                       "INTO",         "QUICK",   "FROM",          NULL};
    while (i < n && t[i].type == SQL_TK_IDENT) {
        int skipped = 0;
        for (const char *const *k = skip; *k; k++) {
            if (sql_tok_is(src, &t[i], *k)) {
                skipped = 1;
                break;
            }
        }
        if (!skipped) {
            break;
        }
        i++;
    }
    if (i >= n || (t[i].type != SQL_TK_IDENT && t[i].type != SQL_TK_QIDENT)) {
        return cm_err_set(err, CM_E_PARSE,
                          "You have an error in your SQL syntax; check the manual that corresponds "
                          "to your MySQL server version for the right syntax to use near '%.*s' at "
                          "line 1",
                          i < n ? (int)(t[i].len > 40 ? 40 : t[i].len) : 0,
                          i < n ? src + t[i].off : "");
    }
    cm_buf a = CM_BUF_INIT, b = CM_BUF_INIT;
    sql_tok_name(src, &t[i], &a);
    int qualified = i + 2 < n && t[i + 1].type == SQL_TK_DOT &&
                    (t[i + 2].type == SQL_TK_IDENT || t[i + 2].type == SQL_TK_QIDENT);
    if (qualified) {
        sql_tok_name(src, &t[i + 2], &b);
    }
    int rc;
    if (!qualified && !s->has_db) {
        rc = cm_err_set(err, CM_E_NO_DB, "No database selected");
    } else {
        rc = cm_err_set(err, CM_E_NO_SUCH_TABLE,
                        "Table '%.*s.%.*s' doesn't exist (tables arrive with the SQL layer)",
                        qualified ? (int)(a.len > 64 ? 64 : a.len) : (int)strlen(s->dbname),
                        qualified ? (const char *)a.ptr : s->dbname,
                        qualified ? (int)(b.len > 64 ? 64 : b.len) : (int)(a.len > 64 ? 64 : a.len),
                        qualified ? (const char *)b.ptr : (const char *)a.ptr);
    }
    cm_buf_fini(&a);
    cm_buf_fini(&b);
    return rc;
}

/* SELECT SQL_CALC_FOUND_ROWS …: whether t[0, n) asks for it among its leading modifiers, and
 * where its top-level LIMIT (or locking clause) starts (*end: a source offset). */
static bool wants_found_rows(const char *src, const sql_token *t, uint32_t n, size_t *end)
{
    if (n < 3 || !sql_tok_is(src, &t[0], "SELECT")) {
        return false;
    }
    bool calc = false;
    for (uint32_t i = 1; i < n && t[i].type == SQL_TK_IDENT && !calc; i++) {
        calc = sql_tok_is(src, &t[i], "SQL_CALC_FOUND_ROWS");
    }
    if (!calc) {
        return false;
    }
    *end = t[n - 1].off + t[n - 1].len;
    int depth = 0;
    for (uint32_t i = 1; i < n; i++) {
        depth += t[i].type == SQL_TK_LPAREN ? 1 : t[i].type == SQL_TK_RPAREN ? -1 : 0;
        if (depth == 0 &&
            (sql_tok_is(src, &t[i], "LIMIT") || sql_tok_is(src, &t[i], "FOR") ||
             (sql_tok_is(src, &t[i], "LOCK") && i + 1 < n && sql_tok_is(src, &t[i + 1], "IN")))) {
            *end = t[i].off;
            break;
        }
    }
    return true;
}

/* FOUND_ROWS() after SELECT SQL_CALC_FOUND_ROWS … LIMIT: the rows the query would give without
 * its LIMIT, counted by running it again as a derived table of COUNT(*) at the same snapshot
 * (text protocol; a prepared statement's FOUND_ROWS() is the rows it sent). A failure leaves
 * the sent row count and is logged: the result already went out. */
static void calc_found_rows(sql_sess *s, const char *src, const sql_token *t, size_t end)
{
    static const char pre[] = "(SELECT COUNT(*) FROM (", post[] = ") AS _tdb_found_rows)";
    cm_buf q = CM_BUF_INIT;
    sql_tokens toks;
    sql_tokens_init(&toks);
    cm_err err;
    sql_value v;
    int rc = cm_buf_append(&q, pre, sizeof(pre) - 1);
    rc = rc ? rc : cm_buf_append(&q, src + t[0].off, end - t[0].off);
    rc = rc ? rc : cm_buf_append(&q, post, sizeof(post) - 1);
    rc = rc ? rc : sql_lex((const char *)q.ptr, q.len, s->mode, &toks, &err);
    rc = rc ? rc : sql_exec_eval(s, (const char *)q.ptr, toks.v, toks.n, &v, &err);
    if (rc == 0 && v.type == SQL_V_INT && v.i >= 0) {
        s->found_rows = (uint64_t)v.i;
    } else if (rc != 0) {
        CM_DEBUG("sql", "conn=%llu: SQL_CALC_FOUND_ROWS count failed: %s",
                 (unsigned long long)s->id, err.msg);
    }
    sql_tokens_fini(&toks);
    cm_buf_fini(&q);
}

static int run_query_once(sql_sess *s, const char *src, const sql_token *t, uint32_t n,
                          const char *key, size_t keylen, sql_sink *sink, int more, cm_err *err);

static int run_query(sql_sess *s, const char *src, const sql_token *t, uint32_t n, const char *key,
                     size_t keylen, sql_sink *sink, int more, cm_err *err)
{
    size_t end = 0;
    /* single-table aggregates pushed to the coprocessor (sql_copr.h); a query of that shape
     * that runs through SQLite this time is not cached, so the next run may push down */
    int rc = s->stmt_dml ? SQL_COPR_NO : sql_copr_agg_run(s, src, t, n, sink, more, err);
    if (rc <= 0) {
        return rc;
    }
    rc =
        run_query_once(s, src, t, n, rc == SQL_COPR_FALLBACK ? NULL : key, keylen, sink, more, err);
    if (rc == 0 && wants_found_rows(src, t, n, &end)) {
        calc_found_rows(s, src, t, end);
    }
    return rc;
}

static int run_query_once(sql_sess *s, const char *src, const sql_token *t, uint32_t n,
                          const char *key, size_t keylen, sql_sink *sink, int more, cm_err *err)
{
    int rc = 0;
    if (s->cache.cap == 0 || key == NULL) { /* not cached: prepare, run, finalize */
        sqlite3_stmt *st = NULL;
        rc = sql_exec_prepare(s, src, t, n, &st, err);
        if (rc == 0) {
            s->ins_target = (const char *)s->tr.target.ptr;
            s->ins_target_len = s->tr.target.len;
            rc = sql_exec_run(s, st, s->tr.items, s->tr.nitems, sink, more, 0, err);
        }
        sqlite3_finalize(st);
        return rc;
    }
    sql_cached *c = sql_cache_get(&s->cache, key, keylen, s->mode);
    if (c == NULL) {
        rc = sql_exec_prepare_cached(s, src, t, n, key, keylen, &c, err);
        if (rc != 0) {
            return rc;
        }
    }
    c->in_use = 1;
    s->ins_target = c->target;
    s->ins_target_len = c->target_len;
    rc = sql_exec_run(s, c->stmt, c->items, c->nitems, sink, more, 0, err);
    c->in_use = 0;
    return rc;
}

static int run_do(sql_sess *s, const char *src, const sql_token *t, uint32_t n, sql_sink *sink,
                  int more, cm_err *err)
{
    sql_tr_ctx ctx = sql_sess_tr_ctx(s);
    int rc = sql_translate_expr(src, t + 1, n - 1, &ctx, &s->tr, err);
    if (rc != 0) {
        return rc;
    }
    sqlite3_stmt *st = NULL;
    rc = sql_decl_prepare(s, (const char *)s->tr.sql.ptr, (int)s->tr.sql.len, 0, &st, NULL, err);
    if (rc != 0) {
        return rc;
    }
    if (st == NULL) {
        return cm_err_set(err, CM_E_EMPTY_QUERY, "Query was empty");
    }
    rc = sql_exec_run(s, st, NULL, 0, NULL, 0, 1, err);
    sqlite3_finalize(st);
    return rc ? rc : sql_sess_done(s, sink, 0, 0, more, NULL);
}

static int run_kill(sql_sess *s, const char *src, const sql_token *t, uint32_t n, sql_sink *sink,
                    int more, cm_err *err)
{
    uint32_t i = 1;
    int query_only = 0;
    if (i < n && sql_tok_is(src, &t[i], "QUERY")) {
        query_only = 1;
        i++;
    } else if (i < n && sql_tok_is(src, &t[i], "CONNECTION")) {
        i++;
    }
    if (i >= n) {
        return cm_err_set(err, CM_E_PARSE,
                          "You have an error in your SQL syntax; KILL needs a connection id");
    }
    sql_value v;
    int rc = sql_exec_eval(s, src, t + i, n - i, &v, err);
    if (rc != 0) {
        return rc;
    }
    if (v.type != SQL_V_INT || v.i < 0) {
        return cm_err_set(err, CM_E_NO_SUCH_THREAD, "Unknown thread id: %lld",
                          v.type == SQL_V_INT ? (long long)v.i : 0LL);
    }
    if (s->env->kill == NULL) {
        return cm_err_set(err, CM_E_NO_SUCH_THREAD, "Unknown thread id: %lld", (long long)v.i);
    }
    rc = s->env->kill(s->env->user, s, (uint64_t)v.i, query_only, err);
    if (rc != 0) {
        return rc;
    }
    if ((uint64_t)v.i == s->id) {
        /* Killing oneself: the statement is interrupted, as in MySQL. */
        return cm_err_set(err, CM_E_QUERY_INTERRUPTED, "Query execution was interrupted");
    }
    return sql_sess_done(s, sink, 0, 0, more, NULL);
}

/* DDL commits the open transaction first (MySQL's implicit commit), then runs in the
 * catalog's own KV transactions. */
static int run_ddl(sql_sess *s, const char *src, const sql_token *t, uint32_t n, sql_sink *sink,
                   int more, cm_err *err)
{
    int rc = sql_txn_commit(s, err);
    s->in_trans = 0;
    s->trans_ro = 0;
    if (rc != 0) {
        return rc;
    }
    sql_ddl_result res;
    memset(&res, 0, sizeof(res));
    rc = sql_priv_check_ddl(s, src, t, n, err);
    rc = rc != 0 ? rc : sql_cat_lease_check(s->env->cat, err); /* the lease gate (8027) */
    if (rc != 0) {
        return rc;
    }
    rc = sql_ddl_exec(s->env->cat, s->has_db ? s->dbname : NULL, src, t, n, &res, err);
    if (rc != 0) {
        return sql_txn_map_error(s, rc, err);
    }
    if (res.warnings > 0) {
        sql_diag_add(s, SQL_DIAG_NOTE, res.warning_code, "%s", res.warning_msg);
    }
    /* The next statement sees the new version and drops its declarations. */
    sql_decl_stmt_begin(s);
    return sql_sess_done(s, sink, res.affected, 0, more, NULL);
}

/* DESCRIBE|DESC [db.]t [column]: the rows of SHOW COLUMNS. */
static int run_describe(sql_sess *s, const char *src, const sql_token *t, uint32_t n,
                        sql_sink *sink, int more, cm_err *err)
{
    if (n < 2 || (t[1].type != SQL_TK_IDENT && t[1].type != SQL_TK_QIDENT)) {
        return table_error(s, src, t, n, 1, err);
    }
    cm_buf a = CM_BUF_INIT, b = CM_BUF_INIT;
    int qualified = n >= 4 && t[2].type == SQL_TK_DOT;
    int rc = sql_tok_name(src, &t[1], &a) == 0 && cm_buf_terminate(&a) == 0 ? 0 : CM_E_NOMEM;
    if (rc == 0 && qualified) {
        rc = sql_tok_name(src, &t[3], &b) == 0 && cm_buf_terminate(&b) == 0 ? 0 : CM_E_NOMEM;
    }
    if (rc != 0) {
        rc = cm_err_set(err, CM_E_NOMEM, "out of memory");
    } else if (!qualified && !s->has_db) {
        rc = cm_err_set(err, CM_E_NO_DB, "No database selected");
    } else {
        const char *db = qualified ? (const char *)a.ptr : s->dbname;
        const char *table = qualified ? (const char *)b.ptr : (const char *)a.ptr;
        rc = sql_priv_check_table_any(s, db, table, "SELECT", err);
        rc = rc ? rc : sql_cat_describe(s->env->cat, s->schema, db, table, sink, err);
    }
    cm_buf_fini(&a);
    cm_buf_fini(&b);
    return rc ? rc : sql_sess_done(s, sink, 0, 0, more, NULL);
}

static int dispatch(sql_sess *s, const char *src, const sql_token *t, uint32_t n, const char *key,
                    size_t keylen, sql_sink *sink, int more, cm_err *err)
{
    sql_kind k = sql_classify(src, t, n);
    int diagnostic = k == SQL_KIND_SHOW && n >= 2 &&
                     (sql_tok_is(src, &t[1], "WARNINGS") || sql_tok_is(src, &t[1], "ERRORS") ||
                      sql_tok_is(src, &t[1], "COUNT"));
    diagnostic = diagnostic || sql_isg_reads_diag_count(src, t, n);
    if (!diagnostic) {
        sql_diag_clear(s);
    }
    sql_sess_stmt_begin(s);
    if (sql_admin_is(src, t, n)) { /* ADMIN … (sql_admin.c) */
        return sql_admin_run(s, src, t, n, sink, more, err);
    }
    if (s->priv.on && sql_priv_is_stmt(src, t, n)) {
        return sql_priv_run(s, src, t, n, sink, more, err);
    }
    switch (k) {
    case SQL_KIND_QUERY:
        return run_query(s, src, t, n, key, keylen, sink, more, err);
    case SQL_KIND_DO:
        return run_do(s, src, t, n, sink, more, err);
    case SQL_KIND_SET:
        return sql_set_run(s, src, t, n, sink, more, err);
    case SQL_KIND_SHOW: {
        /* Privileges first: a denied SHOW fails, and SHOW DATABASES / TABLES / TABLE STATUS
         * rows of objects the account cannot see are dropped (whichever code answers). */
        sql_priv_sink filter;
        sql_sink *out = sink;
        int rc = s->env->cat != NULL ? sql_priv_show(s, src, t, n, sink, &filter, &out, err) : 0;
        if (rc != 0) {
            return rc;
        }
        int is_rc = sql_isg_show(s, src, t, n, out, more, err);
        if (is_rc <= 0) {
            return is_rc;
        }
        if (s->env->cat != NULL && sql_cat_is_show(src, t, n)) {
            rc = sql_cat_show(s->env->cat, s->schema, s->has_db ? s->dbname : NULL, src, t, n, out,
                              err);
            return rc ? rc : sql_sess_done(s, sink, 0, 0, more, NULL);
        }
        return sql_show_run(s, src, t, n, sink, more, err);
    }
    case SQL_KIND_USE: {
        if (n != 2 || (t[1].type != SQL_TK_IDENT && t[1].type != SQL_TK_QIDENT)) {
            return cm_err_set(err, CM_E_PARSE,
                              "You have an error in your SQL syntax; USE needs a database name");
        }
        cm_buf name = CM_BUF_INIT;
        int rc = sql_tok_name(src, &t[1], &name);
        if (rc == 0) {
            rc = sql_sess_use_db(s, name.ptr ? (const char *)name.ptr : "", name.len, err);
        } else {
            rc = cm_err_set(err, CM_E_NOMEM, "out of memory");
        }
        cm_buf_fini(&name);
        return rc ? rc : sql_sess_done(s, sink, 0, 0, more, NULL);
    }
    case SQL_KIND_BEGIN:
    case SQL_KIND_COMMIT:
    case SQL_KIND_ROLLBACK:
        return sql_txn_control(s, k, src, t, n, sink, more, err);
    case SQL_KIND_KILL:
        return run_kill(s, src, t, n, sink, more, err);
    case SQL_KIND_DML:
        if (sql_tok_is(src, &t[0], "LOAD") || sql_tok_is(src, &t[0], "CALL") ||
            sql_tok_is(src, &t[0], "HANDLER")) {
            return cm_err_set(err, CM_E_UNSUPPORTED,
                              "This version of Tessera doesn't yet support '%.*s'", (int)t[0].len,
                              src + t[0].off);
        }
        if (s->env->cat != NULL) {
            if (s->trans_ro && s->in_trans) {
                return cm_err_set(err, CM_E_READ_ONLY_TXN,
                                  "Cannot execute statement in a READ ONLY transaction.");
            }
            sql_dml_ext_kind ek = sql_dml_ext_kind_of(src, t, n);
            if (ek != SQL_DML_EXT_NONE) { /* several SQLite statements (sql_dml_ext.h) */
                return sql_dml_ext_run(s, ek, src, t, n, sink, more, err);
            }
            s->stmt_dml = 1;
            return run_query(s, src, t, n, key, keylen, sink, more, err);
        }
        return table_error(s, src, t, n, 1, err);
    case SQL_KIND_DESCRIBE:
        if (n >= 2 && (t[1].type == SQL_TK_LPAREN ||
                       (t[1].type == SQL_TK_IDENT &&
                        (sql_tok_is(src, &t[1], "SELECT") || sql_tok_is(src, &t[1], "FORMAT") ||
                         sql_tok_is(src, &t[1], "ANALYZE") || sql_tok_is(src, &t[1], "INSERT") ||
                         sql_tok_is(src, &t[1], "UPDATE") || sql_tok_is(src, &t[1], "DELETE") ||
                         sql_tok_is(src, &t[1], "REPLACE") || sql_tok_is(src, &t[1], "WITH") ||
                         sql_tok_is(src, &t[1], "TABLE"))))) {
            return sql_explain_run(s, src, t, n, sink, more, err);
        }
        if (s->env->cat != NULL) {
            int is_rc = sql_isg_describe_stmt(s, src, t, n, sink, more, err);
            return is_rc <= 0 ? is_rc : run_describe(s, src, t, n, sink, more, err);
        }
        return table_error(s, src, t, n, 1, err);
    case SQL_KIND_UNSUPPORTED: {
        if (sql_lock_is(src, t, n)) {
            return sql_lock_run(s, src, t, n, sink, more, err);
        }
        if (sql_sp_is(src, t, n)) {
            return sql_sp_run(s, src, t, n, sink, more, err);
        }
        if (s->env->cat != NULL && sql_ddl_is_ddl(src, t, n)) {
            int rc = sql_isg_ddl_check(s, src, t, n, err);
            return rc != 0 ? rc : run_ddl(s, src, t, n, sink, more, err);
        }
        uint32_t w = n > 1 && t[1].type == SQL_TK_IDENT ? 2 : 1;
        size_t len = t[w - 1].off + t[w - 1].len - t[0].off;
        return cm_err_set(err, CM_E_UNSUPPORTED,
                          "This version of Tessera doesn't yet support '%.*s' (schema, DDL and "
                          "user statements arrive with the SQL layer)",
                          (int)(len > 60 ? 60 : len), src + t[0].off);
    }
    case SQL_KIND_EMPTY:
        return cm_err_set(err, CM_E_EMPTY_QUERY, "Query was empty");
    case SQL_KIND_UNKNOWN:
    default:
        return cm_err_set(err, CM_E_PARSE,
                          "You have an error in your SQL syntax; check the manual that corresponds "
                          "to your MySQL server version for the right syntax to use near '%.*s' at "
                          "line 1",
                          (int)(t[0].len > 60 ? 60 : t[0].len), src + t[0].off);
    }
}

int sql_sess_exec(sql_sess *s, const char *src, const sql_token *t, uint32_t n, const char *key,
                  size_t keylen, sql_sink *sink, int more, cm_err *err)
{
    int rc = dispatch(s, src, t, n, key, keylen, sink, more, err);
    if (s->env->cat != NULL) {
        /* Statements that read tables outside sql_exec_run (a subquery in SET, KILL's
         * argument) end their statement and autocommit transaction here. */
        rc = sql_txn_stmt_epilogue(s, rc, err);
        if (rc != 0) {
            rc = sql_txn_map_error(s, rc, err);
        }
    }
    return rc;
}

int sql_sess_query(sql_sess *s, const char *sql, size_t len, sql_sink *sink, cm_err *err)
{
    s->questions++;
    /* Fast path: this exact text ran before as one query (no lexing, no translation). */
    sql_cached *c = sql_cache_get(&s->cache, sql, len, s->mode);
    if (c != NULL) {
        sql_diag_clear(s);
        sql_sess_stmt_begin(s);
        s->stmt_dml = c->dml;
        c->in_use = 1;
        s->ins_target = c->target;
        s->ins_target_len = c->target_len;
        int rc = sql_exec_run(s, c->stmt, c->items, c->nitems, sink, 0, 0, err);
        c->in_use = 0;
        if (rc != 0) {
            sql_sess_note_error(s, err);
        }
        return rc;
    }
    s->toks.n = 0;
    int rc = sql_lex(sql, len, s->mode, &s->toks, err);
    if (rc != 0) {
        sql_diag_clear(s);
        sql_sess_note_error(s, err);
        return rc;
    }
    /* Split at top-level semicolons (the lexer already skipped those inside strings and
     * comments). Empty statements are allowed only at the end. */
    uint32_t nstmt = 0, last_nonempty = 0;
    for (uint32_t i = 0, b = 0; i <= s->toks.n; i++) {
        if (i == s->toks.n || s->toks.v[i].type == SQL_TK_SEMI) {
            if (i > b) {
                nstmt++;
                last_nonempty = i;
            }
            b = i + 1;
        }
    }
    if (nstmt == 0) {
        rc = cm_err_set(err, CM_E_EMPTY_QUERY, "Query was empty");
        sql_diag_clear(s);
        sql_sess_note_error(s, err);
        return rc;
    }
    if (nstmt > 1 && !s->multi_statements) {
        /* Without CLIENT_MULTI_STATEMENTS the text is one statement: the first ';' followed by
         * more text is a syntax error, and nothing runs. */
        uint32_t k = 0;
        while (k < s->toks.n && s->toks.v[k].type != SQL_TK_SEMI) {
            k++;
        }
        const sql_token *at = &s->toks.v[k + 1 < s->toks.n ? k + 1 : k];
        rc =
            cm_err_set(err, CM_E_PARSE,
                       "You have an error in your SQL syntax; check the manual that corresponds to "
                       "your MySQL server version for the right syntax to use near '%.*s' at line "
                       "1",
                       (int)(len - at->off > 60 ? 60 : len - at->off), sql + at->off);
        sql_diag_clear(s);
        sql_sess_note_error(s, err);
        return rc;
    }
    uint32_t done = 0;
    for (uint32_t i = 0, b = 0; i <= s->toks.n && done < nstmt; i++) {
        if (i != s->toks.n && s->toks.v[i].type != SQL_TK_SEMI) {
            continue;
        }
        const sql_token *t = s->toks.v + b;
        uint32_t n = i - b;
        b = i + 1;
        if (n == 0) {
            const sql_token *at = n == 0 ? &s->toks.v[i] : t;
            rc = cm_err_set(err, CM_E_PARSE,
                            "You have an error in your SQL syntax; check the manual that "
                            "corresponds to your MySQL server version for the right syntax to use "
                            "near '%.*s' at line 1",
                            (int)(len - at->off > 60 ? 60 : len - at->off), sql + at->off);
            sql_diag_clear(s);
            sql_sess_note_error(s, err);
            return rc;
        }
        const char *key = sql;
        size_t keylen = len;
        if (nstmt > 1) {
            key = sql + t[0].off;
            keylen = t[n - 1].off + t[n - 1].len - t[0].off;
        }
        int more = i < last_nonempty;
        done++;
        if (done > 1) {
            s->questions++;
        }
        rc = sql_sess_exec(s, sql, t, n, key, keylen, sink, more, err);
        if (rc != 0) {
            sql_sess_note_error(s, err);
            return rc;
        }
        if (sql_sess_killed(s) == 2) {
            break;
        }
    }
    return 0;
}
