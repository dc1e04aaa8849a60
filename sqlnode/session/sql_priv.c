/* sql_priv.c — accounts and privileges in a session (sql_priv.h). */
#include "sql_priv.h"

#include "cm_log.h"
#include "sql_session_int.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- privilege names ------------------------------------------------------------------------- */

typedef struct priv_name {
    const char *w1, *w2; /* one or two words */
    uint32_t bit;
} priv_name;

/* In MySQL's output order (SHOW GRANTS). */
static const priv_name PRIVS[] = {
    {"SELECT", NULL, SQL_PRIV_SELECT},         {"INSERT", NULL, SQL_PRIV_INSERT},
    {"UPDATE", NULL, SQL_PRIV_UPDATE},         {"DELETE", NULL, SQL_PRIV_DELETE},
    {"CREATE", NULL, SQL_PRIV_CREATE},         {"DROP", NULL, SQL_PRIV_DROP},
    {"RELOAD", NULL, SQL_PRIV_RELOAD},         {"PROCESS", NULL, SQL_PRIV_PROCESS},
    {"REFERENCES", NULL, SQL_PRIV_REFERENCES}, {"INDEX", NULL, SQL_PRIV_INDEX},
    {"ALTER", NULL, SQL_PRIV_ALTER},           {"SHOW", "DATABASES", SQL_PRIV_SHOW_DB},
    {"SUPER", NULL, SQL_PRIV_SUPER},           {"LOCK", "TABLES", SQL_PRIV_LOCK_TABLES},
    {"EXECUTE", NULL, SQL_PRIV_EXECUTE},       {"CREATE", "VIEW", SQL_PRIV_CREATE_VIEW},
    {"SHOW", "VIEW", SQL_PRIV_SHOW_VIEW},      {"CREATE", "USER", SQL_PRIV_CREATE_USER},
    {"GRANT", "OPTION", SQL_PRIV_GRANT},
};
#define NPRIVS (sizeof(PRIVS) / sizeof(PRIVS[0]))

/* ---- session state --------------------------------------------------------------------------- */

static void find_account(sql_sess *s)
{
    s->priv.acc = s->priv.users ? sql_users_find(s->priv.users, s->priv.user, s->priv.host) : NULL;
}

void sql_priv_login(sql_sess *s, const char *user, const char *host)
{
    sql_priv_state *p = &s->priv;
    snprintf(p->ip, sizeof(p->ip), "%.*s", (int)strcspn(host, ":"), host);
    snprintf(p->user, sizeof(p->user), "%s", user);
    snprintf(p->host, sizeof(p->host), "%%");
    sql_users_release(p->users);
    p->users = sql_cat_users_acquire(s->env->cat);
    p->on = p->users != NULL;
    p->acc = NULL;
    if (p->on) {
        const sql_user *a = sql_users_match(p->users, user, p->ip);
        if (a != NULL) {
            snprintf(p->user, sizeof(p->user), "%s", a->user);
            snprintf(p->host, sizeof(p->host), "%s", a->host);
        }
        find_account(s);
        p->ver = sql_users_version(p->users);
        /* COM_CHANGE_USER: statements prepared for the previous account are authorized again. */
        sql_sess_expire_statements(s);
    }
}

void sql_priv_stmt_begin(sql_sess *s)
{
    sql_priv_state *p = &s->priv;
    if (!p->on) {
        return;
    }
    sql_users *u = sql_cat_users_acquire(s->env->cat);
    if (u == NULL) {
        return;
    }
    sql_users_release(p->users);
    p->users = u;
    find_account(s);
    uint64_t v = sql_users_version(u);
    if (v != p->ver) {
        /* Statements were authorized under other privileges: re-prepare them (the authorizer
         * runs again). */
        p->ver = v;
        sql_sess_expire_statements(s);
    }
}

void sql_priv_free(sql_sess *s)
{
    sql_users_release(s->priv.users);
    s->priv.users = NULL;
    s->priv.acc = NULL;
}

/* Database and table grants apply as MySQL's acl_get and table_hash_search find them: the first
 * account (in login order) named like the session's account whose host pattern matches the
 * client's address and that has a grant at that level, not only the account the login matched. */
static const sql_user_grant *eff_grant(sql_sess *s, const char *db, const char *table)
{
    sql_users *u = s->priv.users;
    for (uint32_t i = 0; u != NULL && i < sql_users_count(u); i++) {
        const sql_user *a = sql_users_at(u, i);
        if (strcmp(a->user, s->priv.user) != 0 || !sql_user_host_match(a->host, s->priv.ip)) {
            continue;
        }
        const sql_user_grant *g = sql_user_grant_for(a, db, table);
        if (g != NULL) {
            return g;
        }
    }
    return NULL;
}

static uint32_t privs_on(sql_sess *s, const char *db, const char *table)
{
    uint32_t p = s->priv.acc ? s->priv.acc->global : 0;
    if (db != NULL) {
        const sql_user_grant *g = eff_grant(s, db, NULL);
        p |= g ? g->privs : 0;
        if (table != NULL) {
            g = eff_grant(s, db, table);
            p |= g ? g->privs : 0;
        }
    }
    return p;
}

/* Whether the session has some privilege in db (USE, SHOW DATABASES). */
static int any_in_db(sql_sess *s, const char *db)
{
    if (s->priv.acc != NULL && (s->priv.acc->global & ~SQL_PRIV_GRANT) != 0) {
        return 1;
    }
    sql_users *u = s->priv.users;
    for (uint32_t i = 0; u != NULL && i < sql_users_count(u); i++) {
        const sql_user *a = sql_users_at(u, i);
        if (strcmp(a->user, s->priv.user) == 0 && sql_user_host_match(a->host, s->priv.ip) &&
            sql_user_any_in_db(a, db)) {
            return 1;
        }
    }
    return 0;
}

static const char *cur_db(sql_sess *s)
{
    return s->has_db ? s->dbname : NULL;
}

void sql_priv_current_user(sql_sess *s, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s@%s", s->priv.user[0] || s->priv.on ? s->priv.user : s->user,
             s->priv.on ? s->priv.host : "%");
}

/* ---- checks ---------------------------------------------------------------------------------- */

static int table_denied(sql_sess *s, const char *cmd, const char *table, cm_err *err)
{
    return cm_err_set(err, CM_E_TABLE_ACCESS_DENIED,
                      "%s command denied to user '%s'@'%s' for table '%.64s'", cmd, s->priv.user,
                      s->priv.ip, table);
}

static int db_denied(sql_sess *s, const char *db, cm_err *err)
{
    return cm_err_set(err, CM_E_DB_ACCESS_DENIED,
                      "Access denied for user '%s'@'%s' to database '%.64s'", s->priv.user,
                      s->priv.ip, db);
}

static int need_global(sql_sess *s, uint32_t bit, const char *what, cm_err *err)
{
    if (privs_on(s, NULL, NULL) & bit) {
        return 0;
    }
    return cm_err_set(err, CM_E_SPECIFIC_ACCESS_DENIED,
                      "Access denied; you need (at least one of) the %s privilege(s) for this "
                      "operation",
                      what);
}

/* Whether SQLite text q is a REPLACE (our translation of MySQL's REPLACE). */
static int is_replace(const char *q)
{
    while (q != NULL && (*q == ' ' || *q == '\n' || *q == '\t')) {
        q++;
    }
    return q != NULL && strncasecmp(q, "REPLACE", 7) == 0;
}

int sql_priv_table_denied(sql_sess *s, int action, const char *a, const char *c)
{
    if (!s->priv.on || a == NULL) {
        return 0;
    }
    const char *db = c == NULL || strcasecmp(c, "main") == 0 ? cur_db(s) : c;
    if (db == NULL || strcasecmp(db, "information_schema") == 0 ||
        strcasecmp(db, "performance_schema") == 0) {
        return 0;
    }
    uint32_t bit;
    const char *cmd;
    switch (action) {
    case SQLITE_READ:
        bit = SQL_PRIV_SELECT;
        cmd = "SELECT";
        break;
    case SQLITE_INSERT:
        bit = SQL_PRIV_INSERT;
        cmd = "INSERT";
        break;
    case SQLITE_UPDATE:
        bit = SQL_PRIV_UPDATE;
        cmd = "UPDATE";
        break;
    case SQLITE_DELETE:
        bit = SQL_PRIV_DELETE;
        cmd = "DELETE";
        break;
    default:
        return 0;
    }
    uint32_t have = privs_on(s, db, a);
    if ((have & bit) && action == SQLITE_INSERT && is_replace(s->prep_sql) &&
        !(have & SQL_PRIV_DELETE)) {
        bit = SQL_PRIV_DELETE; /* REPLACE deletes the rows it replaces: MySQL asks for both */
        cmd = "DELETE";
    }
    if (have & bit) {
        return 0;
    }
    snprintf(s->denied, sizeof(s->denied), "%s", a);
    table_denied(s, cmd, a, &s->fn_err);
    return 1;
}

int sql_priv_check_use(sql_sess *s, const char *db, cm_err *err)
{
    if (!s->priv.on || strcasecmp(db, "information_schema") == 0) {
        return 0;
    }
    return any_in_db(s, db) ? 0 : db_denied(s, db, err);
}

/* ---- token helpers --------------------------------------------------------------------------- */

typedef struct P {
    sql_sess *s;
    const char *src;
    const sql_token *t;
    uint32_t n, i;
    cm_err *err;
} P;

static int kw(P *p, const char *w)
{
    return p->i < p->n && p->t[p->i].type == SQL_TK_IDENT && sql_tok_is(p->src, &p->t[p->i], w);
}

static int accept(P *p, const char *w)
{
    if (kw(p, w)) {
        p->i++;
        return 1;
    }
    return 0;
}

static int is_op(P *p, const char *op)
{
    return p->i < p->n && p->t[p->i].type == SQL_TK_OP && p->t[p->i].len == strlen(op) &&
           memcmp(p->src + p->t[p->i].off, op, p->t[p->i].len) == 0;
}

static int syntax(P *p)
{
    const char *at = p->i < p->n ? p->src + p->t[p->i].off : "";
    size_t len = p->i < p->n ? p->t[p->n - 1].off + p->t[p->n - 1].len - p->t[p->i].off : 0;
    return cm_err_set(p->err, CM_E_PARSE,
                      "You have an error in your SQL syntax; check the manual that corresponds to "
                      "your MySQL server version for the right syntax to use near '%.*s' at line 1",
                      (int)(len > 60 ? 60 : len), at);
}

static int unsupported(P *p, const char *what)
{
    return cm_err_set(p->err, CM_E_UNSUPPORTED, "This version of Tessera doesn't yet support '%s'",
                      what);
}

/* A name (identifier or string) into out. */
static int name_tok(P *p, char *out, size_t cap)
{
    if (p->i >= p->n) {
        return syntax(p);
    }
    const sql_token *tk = &p->t[p->i];
    cm_buf b = CM_BUF_INIT;
    int rc;
    if (tk->type == SQL_TK_STRING) {
        rc = sql_tok_string(p->src, tk, p->s->mode, &b);
    } else if (tk->type == SQL_TK_IDENT || tk->type == SQL_TK_QIDENT) {
        rc = sql_tok_name(p->src, tk, &b);
    } else {
        return syntax(p);
    }
    if (rc != 0 || b.len >= cap || (b.len > 0 && memchr(b.ptr, '\0', b.len) != NULL)) {
        cm_buf_fini(&b);
        return rc != 0 ? cm_err_set(p->err, CM_E_NOMEM, "out of memory") : syntax(p);
    }
    memcpy(out, b.len ? (const char *)b.ptr : "", b.len);
    out[b.len] = '\0';
    cm_buf_fini(&b);
    p->i++;
    return 0;
}

typedef struct uspec {
    char user[136];
    char host[256];
} uspec;

/* 'u'@'h' | u@h | 'u' (host '%') | CURRENT_USER[()] */
static int user_spec(P *p, uspec *u)
{
    if (kw(p, "CURRENT_USER") || (kw(p, "USER") && p->i + 1 < p->n &&
                                  p->t[p->i + 1].type == SQL_TK_LPAREN)) { /* ALTER USER USER() */
        p->i++;
        if (p->i + 1 < p->n && p->t[p->i].type == SQL_TK_LPAREN &&
            p->t[p->i + 1].type == SQL_TK_RPAREN) {
            p->i += 2;
        }
        snprintf(u->user, sizeof(u->user), "%s", p->s->priv.user);
        snprintf(u->host, sizeof(u->host), "%s", p->s->priv.host);
        return 0;
    }
    int rc = name_tok(p, u->user, sizeof(u->user));
    if (rc != 0) {
        return rc;
    }
    if (strlen(u->user) > SQL_USER_NAME_MAX) {
        return cm_err_set(p->err, CM_E_WRONG_STRING_LENGTH,
                          "String '%.64s' is too long for user name (should be no longer than 32)",
                          u->user);
    }
    snprintf(u->host, sizeof(u->host), "%%");
    if (p->i < p->n && p->t[p->i].type == SQL_TK_USERVAR) {
        cm_buf b = CM_BUF_INIT;
        rc = sql_tok_name(p->src, &p->t[p->i], &b);
        if (rc != 0 || b.len >= sizeof(u->host)) {
            cm_buf_fini(&b);
            return rc != 0 ? cm_err_set(p->err, CM_E_NOMEM, "out of memory") : syntax(p);
        }
        memcpy(u->host, b.len ? (const char *)b.ptr : "", b.len);
        u->host[b.len] = '\0';
        cm_buf_fini(&b);
        for (char *c = u->host; *c; c++) {
            *c = (char)tolower((unsigned char)*c);
        }
        p->i++;
    }
    return 0;
}

static int end_of(P *p)
{
    return p->i >= p->n;
}

/* ---- password hashes ------------------------------------------------------------------------- */

static int default_plugin(sql_sess *s)
{
    sql_sysvars *g = s->env->globals;
    pthread_mutex_lock(&g->mu);
    const char *d = g->v[SQL_SV_DEFAULT_AUTHENTICATION_PLUGIN].s;
    int sha2 = d != NULL && strcasecmp(d, "caching_sha2_password") == 0;
    pthread_mutex_unlock(&g->mu);
    return sha2 ? SQL_USER_PLUGIN_SHA2 : SQL_USER_PLUGIN_NATIVE;
}

typedef struct ident {
    int given;      /* IDENTIFIED … present */
    int plugin;     /* SQL_USER_PLUGIN_* */
    int has_plugin; /* WITH plugin given */
    uint8_t auth[SQL_USER_AUTH_MAX];
    uint8_t auth_len;
} ident;

static int hexval(int c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
                                  : -1;
}

static int hash_pw(P *p, ident *id, const char *pw)
{
    size_t n = strlen(pw);
    id->auth_len = 0;
    if (n == 0) {
        return 0;
    }
    if (p->s->env->hash_password == NULL) {
        return unsupported(p, "passwords without the MySQL protocol layer");
    }
    int len = p->s->env->hash_password(id->plugin, pw, n, id->auth);
    if (len <= 0) {
        return cm_err_set(p->err, CM_E_INTERNAL, "cannot hash the password");
    }
    id->auth_len = (uint8_t)len;
    return 0;
}

/* [IDENTIFIED [WITH plugin] [BY 'pw' | AS 'hash']] */
static int identified(P *p, ident *id)
{
    memset(id, 0, sizeof(*id));
    id->plugin = default_plugin(p->s);
    if (!accept(p, "IDENTIFIED")) {
        return 0;
    }
    id->given = 1;
    if (accept(p, "WITH")) {
        char name[64];
        int rc = name_tok(p, name, sizeof(name));
        if (rc != 0) {
            return rc;
        }
        if (strcasecmp(name, "mysql_native_password") == 0) {
            id->plugin = SQL_USER_PLUGIN_NATIVE;
        } else if (strcasecmp(name, "caching_sha2_password") == 0) {
            id->plugin = SQL_USER_PLUGIN_SHA2;
        } else {
            return cm_err_set(p->err, CM_E_UNSUPPORTED, "Plugin '%s' is not loaded", name);
        }
        id->has_plugin = 1;
    }
    if (accept(p, "BY")) {
        if (p->i >= p->n || p->t[p->i].type != SQL_TK_STRING) {
            return syntax(p);
        }
        char pw[256];
        int rc = name_tok(p, pw, sizeof(pw));
        if (rc == 0) {
            rc = hash_pw(p, id, pw);
        }
        memset(pw, 0, sizeof(pw));
        return rc;
    }
    if (accept(p, "AS")) {
        char h[256];
        int rc = name_tok(p, h, sizeof(h));
        if (rc != 0) {
            return rc;
        }
        /* The stored forms SHOW CREATE USER prints: mysql_native_password's '*' and 40 hex
         * digits (as MySQL's, so dumps carry over); caching_sha2_password's '$T$' and the hex of
         * Tessera's salt and PBKDF2 hash (MySQL's '$A$005$…' crypt cannot be checked here). */
        const char *prefix = id->plugin == SQL_USER_PLUGIN_NATIVE ? "*" : "$T$";
        size_t want = id->plugin == SQL_USER_PLUGIN_NATIVE ? 20 : 52;
        if (h[0] == '\0') {
            id->auth_len = 0;
            return 0;
        }
        if (id->plugin == SQL_USER_PLUGIN_SHA2 && strncmp(h, "$A$", 3) == 0) {
            return unsupported(p, "MySQL's caching_sha2_password hashes in IDENTIFIED … AS");
        }
        size_t pl = strlen(prefix);
        if (strlen(h) != pl + 2 * want || strncmp(h, prefix, pl) != 0) {
            return cm_err_set(p->err, CM_E_PASSWORD_FORMAT,
                              "The password hash doesn't have the expected format.");
        }
        for (size_t k = 0; k < want; k++) {
            int hi = hexval(h[pl + 2 * k]), lo = hexval(h[pl + 2 * k + 1]);
            if (hi < 0 || lo < 0) {
                return cm_err_set(p->err, CM_E_PASSWORD_FORMAT,
                                  "The password hash doesn't have the expected format.");
            }
            id->auth[k] = (uint8_t)(hi * 16 + lo);
        }
        id->auth_len = (uint8_t)want;
        return 0;
    }
    if (!id->has_plugin) {
        return syntax(p);
    }
    return 0;
}

/* Whether the words at p are w[0..] (then consumed). */
static int accept_seq(P *p, const char *const *w)
{
    uint32_t save = p->i;
    for (; *w != NULL; w++) {
        if (!accept(p, *w)) {
            p->i = save;
            return 0;
        }
    }
    return 1;
}

/* Account options: the ones that state Tessera's behaviour (what SHOW CREATE USER prints, so its
 * text runs again) are accepted; the others are 1235, naming them. */
static int no_options(P *p)
{
    static const char *const same[][6] = {
        {"REQUIRE", "NONE", NULL},
        {"PASSWORD", "EXPIRE", "DEFAULT", NULL},
        {"PASSWORD", "EXPIRE", "NEVER", NULL},
        {"ACCOUNT", "UNLOCK", NULL},
        {"PASSWORD", "HISTORY", "DEFAULT", NULL},
        {"PASSWORD", "REUSE", "INTERVAL", "DEFAULT", NULL},
        {"PASSWORD", "REQUIRE", "CURRENT", "DEFAULT", NULL},
    };
    for (int progress = 1; progress && !end_of(p);) {
        progress = 0;
        for (size_t k = 0; k < sizeof(same) / sizeof(same[0]) && !progress; k++) {
            progress = accept_seq(p, same[k]);
        }
    }
    if (end_of(p) || p->t[p->i].type == SQL_TK_COMMA) {
        return 0;
    }
    if (kw(p, "REQUIRE") || kw(p, "WITH") || kw(p, "PASSWORD") || kw(p, "ACCOUNT") ||
        kw(p, "DEFAULT") || kw(p, "FAILED_LOGIN_ATTEMPTS") || kw(p, "PASSWORD_LOCK_TIME") ||
        kw(p, "COMMENT") || kw(p, "ATTRIBUTE")) {
        char what[80];
        snprintf(what, sizeof(what), "account option %.*s", (int)p->t[p->i].len,
                 p->src + p->t[p->i].off);
        return unsupported(p, what);
    }
    return syntax(p);
}

/* ---- account statements ---------------------------------------------------------------------- */

#define SPECS_MAX 64 /* accounts one statement names (bounds the statement's work) */

typedef struct job {
    sql_sess *s;
    int kind; /* J_* */
    int if_exists, if_not_exists;
    uint32_t nspecs;
    uspec specs[SPECS_MAX];
    ident ids[SPECS_MAX];
    uspec to[SPECS_MAX]; /* RENAME targets */
    /* GRANT / REVOKE */
    uint32_t privs;
    int all;        /* ALL [PRIVILEGES] */
    int revoke_all; /* REVOKE ALL PRIVILEGES, GRANT OPTION FROM … */
    char db[256];   /* "" : global */
    char table[256];
    int has_db, has_table;
    int with_grant;
    /* results */
    char failed[1024]; /* 'u'@'h',… for 1396 */
    int nwarn;
    char warn[512];
    uint16_t warn_code;
} job;

enum { J_CREATE = 1, J_DROP, J_ALTER, J_RENAME, J_SETPW, J_GRANT, J_REVOKE };

static const char *const JOB_NAMES[] = {
    "", "CREATE USER", "DROP USER", "ALTER USER", "RENAME USER", "SET PASSWORD", "GRANT", "REVOKE"};

static void add_failed(job *j, const uspec *u)
{
    size_t len = strlen(j->failed);
    snprintf(j->failed + len, sizeof(j->failed) - len, "%s'%s'@'%s'", len ? "," : "", u->user,
             u->host);
}

static void set_ident(sql_user *a, const ident *id)
{
    a->plugin = (uint8_t)id->plugin;
    a->auth_len = id->auth_len;
    memcpy(a->auth, id->auth, id->auth_len);
}

static int edit_users(void *ctx, sql_users_edit *e, cm_err *err)
{
    job *j = ctx;
    j->failed[0] = '\0';
    j->nwarn = 0;
    for (uint32_t k = 0; k < j->nspecs; k++) {
        const uspec *u = &j->specs[k];
        sql_user *a = sql_users_edit_find(e, u->user, u->host);
        switch (j->kind) {
        case J_CREATE:
            if (a != NULL) {
                if (j->if_not_exists) {
                    j->nwarn++;
                    j->warn_code = 3163;
                    snprintf(j->warn, sizeof(j->warn), "Authorization ID '%s'@'%s' already exists.",
                             u->user, u->host);
                } else {
                    add_failed(j, u);
                }
                break;
            }
            if (e->n >= SQL_USERS_MAX) {
                return cm_err_set(err, CM_E_UNSUPPORTED, "more than %d accounts", SQL_USERS_MAX);
            }
            a = sql_users_edit_add(e, u->user, u->host);
            if (a == NULL) {
                return cm_err_set(err, CM_E_NOMEM, "out of memory");
            }
            set_ident(a, &j->ids[k]);
            break;
        case J_DROP:
        case J_ALTER:
        case J_SETPW:
            if (a == NULL) {
                if (j->if_exists) {
                    j->nwarn++;
                    j->warn_code = 3162;
                    snprintf(j->warn, sizeof(j->warn), "Authorization ID '%s'@'%s' does not exist.",
                             u->user, u->host);
                } else if (j->kind == J_SETPW) {
                    return cm_err_set(err, CM_E_PASSWORD_NO_MATCH,
                                      "Can't find any matching row in the user table");
                } else {
                    add_failed(j, u);
                }
                break;
            }
            if (j->kind == J_DROP) {
                sql_users_edit_remove(e, a);
            } else if (j->ids[k].given) {
                if (!j->ids[k].has_plugin) {
                    /* The account keeps its plugin: hash again with it. */
                    continue;
                }
                set_ident(a, &j->ids[k]);
            }
            break;
        case J_RENAME:
            if (a == NULL || sql_users_edit_find(e, j->to[k].user, j->to[k].host) != NULL) {
                add_failed(j, a == NULL ? u : &j->to[k]);
                break;
            }
            if (sql_users_edit_rename(e, a, j->to[k].user, j->to[k].host) != 0) {
                return cm_err_set(err, CM_E_NOMEM, "out of memory");
            }
            break;
        case J_GRANT:
        case J_REVOKE: {
            if (a == NULL) {
                if (j->kind == J_GRANT) {
                    return cm_err_set(err, CM_E_USER_WITH_GRANT,
                                      "You are not allowed to create a user with GRANT");
                }
                return cm_err_set(err, CM_E_NONEXISTING_GRANT,
                                  "There is no such grant defined for user '%s' on host '%s'",
                                  u->user, u->host);
            }
            if (j->revoke_all) {
                a->global = 0;
                a->ngrants = 0;
                break;
            }
            const char *db = j->has_db ? j->db : NULL;
            const char *tb = j->has_table ? j->table : NULL;
            uint32_t bits = j->privs | (j->with_grant ? SQL_PRIV_GRANT : 0);
            if (j->kind == J_REVOKE && db != NULL && sql_user_grant_at(a, db, tb) == NULL) {
                if (tb != NULL) {
                    return cm_err_set(err, CM_E_NONEXISTING_TABLE_GRANT,
                                      "There is no such grant defined for user '%s' on host '%s' "
                                      "on table '%s'",
                                      u->user, u->host, tb);
                }
                return cm_err_set(err, CM_E_NONEXISTING_GRANT,
                                  "There is no such grant defined for user '%s' on host '%s'",
                                  u->user, u->host);
            }
            int rc = j->kind == J_GRANT ? sql_users_edit_grant(e, a, db, tb, bits, 0)
                                        : sql_users_edit_grant(e, a, db, tb, 0, bits);
            if (rc != 0) {
                return cm_err_set(err, CM_E_NOMEM, "out of memory");
            }
            break;
        }
        default:
            break;
        }
    }
    if (j->failed[0] != '\0') {
        return cm_err_set(err, CM_E_CANNOT_USER, "Operation %s failed for %s", JOB_NAMES[j->kind],
                          j->failed);
    }
    return 0;
}

static int parse_specs(P *p, job *j, int with_ident, int rename)
{
    do {
        if (j->nspecs == SPECS_MAX) {
            return unsupported(p, "more than 64 accounts in one statement");
        }
        int rc = user_spec(p, &j->specs[j->nspecs]);
        if (rc != 0) {
            return rc;
        }
        if (rename) {
            if (!accept(p, "TO")) {
                return syntax(p);
            }
            rc = user_spec(p, &j->to[j->nspecs]);
        }
        if (rc == 0 && with_ident) {
            /* hashed with the plugin named or the default; ALTER without WITH: again with
             * the account's plugin (alter_passwords) */
            rc = identified(p, &j->ids[j->nspecs]);
            if (rc == 0) {
                rc = no_options(p);
            }
        }
        if (rc != 0) {
            return rc;
        }
        j->nspecs++;
    } while (p->i < p->n && p->t[p->i].type == SQL_TK_COMMA && ++p->i);
    return end_of(p) ? 0 : syntax(p);
}

/* The plugin of ALTER USER … IDENTIFIED BY without WITH is the account's: parse the password
 * again with that plugin. */
static int alter_passwords(P *p, job *j, uint32_t start)
{
    P q = *p;
    q.i = start;
    for (uint32_t k = 0; k < j->nspecs; k++) {
        uspec dummy;
        int rc = user_spec(&q, &dummy);
        if (rc != 0) {
            return rc;
        }
        const sql_user *a =
            p->s->priv.users ? sql_users_find(p->s->priv.users, j->specs[k].user, j->specs[k].host)
                             : NULL;
        ident *id = &j->ids[k];
        if (accept(&q, "IDENTIFIED")) {
            if (accept(&q, "WITH")) {
                char name[64];
                rc = name_tok(&q, name, sizeof(name));
            } else if (a != NULL && accept(&q, "BY")) {
                char pw[256];
                rc = name_tok(&q, pw, sizeof(pw));
                id->plugin = a->plugin;
                id->has_plugin = 1;
                if (rc == 0) {
                    rc = hash_pw(&q, id, pw);
                }
                memset(pw, 0, sizeof(pw));
            }
            if (rc != 0) {
                return rc;
            }
        }
        while (q.i < q.n && q.t[q.i].type != SQL_TK_COMMA) {
            q.i++;
        }
        q.i++;
    }
    return 0;
}

static int parse_level(P *p, job *j)
{
    accept(p, "TABLE");
    /* *.* | * | db.* | db.t | t */
    if (is_op(p, "*")) {
        p->i++;
        if (p->i < p->n && p->t[p->i].type == SQL_TK_DOT) {
            p->i++;
            if (!is_op(p, "*")) {
                return syntax(p);
            }
            p->i++;
            return 0; /* global */
        }
        if (!p->s->has_db) {
            return cm_err_set(p->err, CM_E_NO_DB, "No database selected");
        }
        snprintf(j->db, sizeof(j->db), "%s", p->s->dbname);
        j->has_db = 1;
        return 0;
    }
    char a[256];
    int rc = name_tok(p, a, sizeof(a));
    if (rc != 0) {
        return rc;
    }
    if (p->i < p->n && p->t[p->i].type == SQL_TK_DOT) {
        p->i++;
        snprintf(j->db, sizeof(j->db), "%s", a);
        j->has_db = 1;
        if (is_op(p, "*")) {
            p->i++;
            return 0;
        }
        rc = name_tok(p, j->table, sizeof(j->table));
        j->has_table = rc == 0;
        return rc;
    }
    if (!p->s->has_db) {
        return cm_err_set(p->err, CM_E_NO_DB, "No database selected");
    }
    snprintf(j->db, sizeof(j->db), "%s", p->s->dbname);
    snprintf(j->table, sizeof(j->table), "%s", a);
    j->has_db = j->has_table = 1;
    return 0;
}

static int parse_privs(P *p, job *j)
{
    if (accept(p, "ALL")) {
        accept(p, "PRIVILEGES");
        j->all = 1;
        if (p->i < p->n && p->t[p->i].type == SQL_TK_COMMA && j->kind == J_REVOKE) {
            p->i++;
            if (!accept(p, "GRANT") || !accept(p, "OPTION")) {
                return syntax(p);
            }
            j->revoke_all = 1;
        }
        return 0;
    }
    do {
        if (accept(p, "USAGE")) {
            continue;
        }
        int found = 0;
        for (size_t k = 0; k < NPRIVS && !found; k++) {
            if (!kw(p, PRIVS[k].w1)) {
                continue;
            }
            if (PRIVS[k].w2 != NULL) {
                if (p->i + 1 < p->n && p->t[p->i + 1].type == SQL_TK_IDENT &&
                    sql_tok_is(p->src, &p->t[p->i + 1], PRIVS[k].w2)) {
                    p->i += 2;
                    found = 1;
                    j->privs |= PRIVS[k].bit;
                }
                continue;
            }
            /* one-word name: not when a two-word one with the same first word matches */
            int two = 0;
            for (size_t m = 0; m < NPRIVS; m++) {
                if (PRIVS[m].w2 != NULL && strcmp(PRIVS[m].w1, PRIVS[k].w1) == 0 &&
                    p->i + 1 < p->n && p->t[p->i + 1].type == SQL_TK_IDENT &&
                    sql_tok_is(p->src, &p->t[p->i + 1], PRIVS[m].w2)) {
                    two = 1;
                }
            }
            if (!two) {
                p->i++;
                found = 1;
                j->privs |= PRIVS[k].bit;
            }
        }
        if (!found) {
            if (p->i < p->n && p->t[p->i].type == SQL_TK_IDENT && !kw(p, "ON")) {
                char what[80];
                snprintf(what, sizeof(what), "the privilege %.*s", (int)p->t[p->i].len,
                         p->src + p->t[p->i].off);
                return unsupported(p, what);
            }
            return syntax(p);
        }
        if (p->i < p->n && p->t[p->i].type == SQL_TK_LPAREN) {
            return unsupported(p, "column privileges");
        }
    } while (p->i < p->n && p->t[p->i].type == SQL_TK_COMMA && ++p->i);
    return 0;
}

/* The grantor may grant (or revoke) bits at the job's level: GRANT OPTION there and the bits. */
static int may_grant(sql_sess *s, job *j, uint32_t bits, const char *cmd, cm_err *err)
{
    const char *db = j->has_db ? j->db : NULL;
    const char *tb = j->has_table ? j->table : NULL;
    uint32_t have = privs_on(s, db, tb);
    if ((have & SQL_PRIV_GRANT) && (have & bits) == bits) {
        return 0;
    }
    if (tb != NULL) {
        return table_denied(s, cmd, tb, err);
    }
    if (db != NULL) {
        return db_denied(s, db, err);
    }
    return cm_err_set(err, CM_E_ACCESS_DENIED,
                      "Access denied for user '%s'@'%s' (using password: YES)", s->priv.user,
                      s->priv.ip);
}

static int run_grant(P *p, job *j)
{
    sql_sess *s = p->s;
    int rc = parse_privs(p, j);
    if (rc == 0 && !j->revoke_all) { /* REVOKE ALL PRIVILEGES, GRANT OPTION FROM … has no ON */
        if (!accept(p, "ON")) {
            rc = syntax(p);
        }
        if (rc == 0 && (kw(p, "FUNCTION") || kw(p, "PROCEDURE"))) {
            rc = unsupported(p, "routine privileges");
        }
        rc = rc ? rc : parse_level(p, j);
    }
    if (rc == 0 && !accept(p, j->kind == J_GRANT ? "TO" : "FROM")) {
        rc = syntax(p);
    }
    if (rc != 0) {
        return rc;
    }
    uint32_t level_all = j->has_table ? SQL_PRIV_ALL_TABLE
                         : j->has_db  ? SQL_PRIV_ALL_DB
                                      : SQL_PRIV_ALL_GLOBAL;
    if (j->all) {
        j->privs = level_all;
        if (j->revoke_all) {
            j->privs = SQL_PRIV_ALL_GLOBAL;
        }
    }
    if (j->privs & SQL_PRIV_GRANT) {
        j->privs &= ~SQL_PRIV_GRANT;
        j->with_grant = 1;
    }
    if (!j->revoke_all && (j->privs & ~level_all) != 0) {
        if (j->has_table) {
            return cm_err_set(
                p->err, CM_E_ILLEGAL_GRANT,
                "Illegal GRANT/REVOKE command; please consult the manual to see which "
                "privileges can be used");
        }
        return cm_err_set(p->err, CM_E_WRONG_USAGE,
                          "Incorrect usage of DB GRANT and GLOBAL PRIVILEGES");
    }
    do {
        if (j->nspecs == SPECS_MAX) {
            return unsupported(p, "more than 64 accounts in one statement");
        }
        rc = user_spec(p, &j->specs[j->nspecs++]);
        if (rc != 0) {
            return rc;
        }
    } while (p->i < p->n && p->t[p->i].type == SQL_TK_COMMA && ++p->i);
    if (j->kind == J_GRANT && accept(p, "WITH")) {
        if (!accept(p, "GRANT") || !accept(p, "OPTION")) {
            return kw(p, "MAX_QUERIES_PER_HOUR") || kw(p, "MAX_UPDATES_PER_HOUR") ||
                           kw(p, "MAX_CONNECTIONS_PER_HOUR") || kw(p, "MAX_USER_CONNECTIONS")
                       ? unsupported(p, "resource limits")
                       : syntax(p);
        }
        j->with_grant = 1;
    }
    if (j->kind == J_GRANT && kw(p, "IDENTIFIED")) {
        return syntax(p); /* MySQL 8 creates and changes accounts only with CREATE/ALTER USER */
    }
    if (!end_of(p)) {
        return syntax(p);
    }
    /* Privilege of the grantor. REVOKE ALL … needs CREATE USER in MySQL. */
    if (j->revoke_all) {
        rc = need_global(s, SQL_PRIV_CREATE_USER, "CREATE USER", p->err);
    } else {
        rc = may_grant(s, j, j->privs | (j->with_grant ? SQL_PRIV_GRANT : 0),
                       j->kind == J_GRANT ? "GRANT" : "REVOKE", p->err);
    }
    if (rc != 0) {
        return rc;
    }
    if (j->kind == J_GRANT && j->has_table) {
        if (s->schema == NULL || sql_schema_table(s->schema, j->db, j->table) == NULL) {
            return cm_err_set(p->err, CM_E_NO_SUCH_TABLE, "Table '%.64s.%.64s' doesn't exist",
                              j->db, j->table);
        }
    }
    return sql_cat_users_change(s->env->cat, edit_users, j, p->err);
}

/* ---- SHOW GRANTS ----------------------------------------------------------------------------- */

static void append_bits(cm_buf *b, uint32_t bits, uint32_t all)
{
    bits &= ~SQL_PRIV_GRANT;
    if (bits == 0) {
        cm_buf_printf(b, "USAGE");
        return;
    }
    if (bits == all) {
        cm_buf_printf(b, "ALL PRIVILEGES");
        return;
    }
    int first = 1;
    for (size_t k = 0; k < NPRIVS; k++) {
        if (PRIVS[k].bit != SQL_PRIV_GRANT && (bits & PRIVS[k].bit)) {
            cm_buf_printf(b, "%s%s%s%s", first ? "" : ", ", PRIVS[k].w1, PRIVS[k].w2 ? " " : "",
                          PRIVS[k].w2 ? PRIVS[k].w2 : "");
            first = 0;
        }
    }
}

static void append_qname(cm_buf *b, const char *name)
{
    cm_buf_append_u8(b, '`');
    for (const char *c = name; *c; c++) {
        if (*c == '`') {
            cm_buf_append_u8(b, '`');
        }
        cm_buf_append_u8(b, (uint8_t)*c);
    }
    cm_buf_append_u8(b, '`');
}

static int grant_row(sql_sess *s, sql_sink *sink, cm_buf *b, const sql_user *a, uint32_t bits,
                     uint32_t all, const char *db, const char *table)
{
    cm_buf_reset(b);
    cm_buf_printf(b, "GRANT ");
    append_bits(b, bits, all);
    cm_buf_printf(b, " ON ");
    if (db == NULL) {
        cm_buf_printf(b, "*.*");
    } else {
        append_qname(b, db);
        cm_buf_append_u8(b, '.');
        if (table == NULL) {
            cm_buf_append_u8(b, '*');
        } else {
            append_qname(b, table);
        }
    }
    cm_buf_printf(b, " TO ");
    append_qname(b, a->user);
    cm_buf_append_u8(b, '@');
    append_qname(b, a->host);
    if (bits & SQL_PRIV_GRANT) {
        cm_buf_printf(b, " WITH GRANT OPTION");
    }
    sql_value v = sql_value_text((const char *)b->ptr, b->len);
    (void)s;
    return sink->row(sink, &v, 1);
}

static int show_grants_rows(sql_sess *s, const uspec *u, sql_sink *sink, cm_err *err)
{
    const sql_user *a = s->priv.users ? sql_users_find(s->priv.users, u->user, u->host) : NULL;
    if (a == NULL) {
        return cm_err_set(err, CM_E_NONEXISTING_GRANT,
                          "There is no such grant defined for user '%s' on host '%s'", u->user,
                          u->host);
    }
    char title[512];
    snprintf(title, sizeof(title), "Grants for %s@%s", a->user, a->host);
    sql_column col = sql_col_text(s, title);
    int rc = sink->columns(sink, &col, 1);
    cm_buf b = CM_BUF_INIT;
    if (rc == 0) {
        rc = grant_row(s, sink, &b, a, a->global, SQL_PRIV_ALL_GLOBAL, NULL, NULL);
    }
    for (int pass = 0; pass < 2 && rc == 0; pass++) {
        for (uint32_t k = 0; k < a->ngrants && rc == 0; k++) {
            const sql_user_grant *g = &a->grants[k];
            if ((g->table == NULL) != (pass == 0)) {
                continue;
            }
            rc = grant_row(s, sink, &b, a, g->privs,
                           g->table ? SQL_PRIV_ALL_TABLE : SQL_PRIV_ALL_DB, g->db, g->table);
        }
    }
    cm_buf_fini(&b);
    return rc;
}

/* ---- DDL checks ------------------------------------------------------------------------------ */

static void accept_lparen(P *p)
{
    if (p->i < p->n && p->t[p->i].type == SQL_TK_LPAREN) {
        p->i++;
    }
}

/* [db.]name at p into db/table (db defaults to the session's). */
static int table_ref(P *p, char *db, char *table)
{
    char a[256];
    int rc = name_tok(p, a, sizeof(a));
    if (rc != 0) {
        return rc;
    }
    if (p->i + 1 < p->n && p->t[p->i].type == SQL_TK_DOT) {
        p->i++;
        snprintf(db, 256, "%s", a);
        return name_tok(p, table, 256);
    }
    snprintf(db, 256, "%s", p->s->has_db ? p->s->dbname : "");
    snprintf(table, 256, "%s", a);
    return 0;
}

static int need_table(P *p, const char *db, const char *table, uint32_t bit, const char *cmd)
{
    if (db[0] == '\0') {
        return 0; /* the statement reports 1046 itself */
    }
    if (privs_on(p->s, db, table) & bit) {
        return 0;
    }
    return table_denied(p->s, cmd, table, p->err);
}

int sql_priv_check_ddl(sql_sess *s, const char *src, const sql_token *t, uint32_t n, cm_err *err)
{
    if (!s->priv.on || n < 2) {
        return 0;
    }
    P p = {s, src, t, n, 0, err};
    char db[256], table[256];
    int create = accept(&p, "CREATE"), drop = !create && accept(&p, "DROP");
    if (create || drop) {
        if (accept(&p, "DATABASE") || accept(&p, "SCHEMA")) {
            accept(&p, "IF");
            accept(&p, "NOT");
            accept(&p, "EXISTS");
            if (name_tok(&p, db, sizeof(db)) != 0) {
                return 0; /* the DDL parser reports the syntax error */
            }
            uint32_t bit = create ? SQL_PRIV_CREATE : SQL_PRIV_DROP;
            return (privs_on(s, db, NULL) & bit) ? 0 : db_denied(s, db, err);
        }
        int index = 0;
        accept(&p, "TEMPORARY");
        if (accept(&p, "UNIQUE") || accept(&p, "FULLTEXT") || accept(&p, "SPATIAL")) {
            index = 1;
        }
        if (accept(&p, "INDEX") || index) {
            accept(&p, "INDEX");
            while (p.i < p.n && !kw(&p, "ON")) {
                p.i++;
            }
            if (!accept(&p, "ON") || table_ref(&p, db, table) != 0) {
                return 0;
            }
            return need_table(&p, db, table, SQL_PRIV_INDEX, "INDEX");
        }
        if (!accept(&p, "TABLE") && !accept(&p, "TABLES")) {
            return 0;
        }
        accept(&p, "IF");
        accept(&p, "NOT");
        accept(&p, "EXISTS");
        do {
            if (table_ref(&p, db, table) != 0) {
                return 0;
            }
            int rc = need_table(&p, db, table, create ? SQL_PRIV_CREATE : SQL_PRIV_DROP,
                                create ? "CREATE" : "DROP");
            if (rc == 0 && create) {
                /* CREATE TABLE t LIKE src / (LIKE src): src is read */
                accept_lparen(&p);
                if (accept(&p, "LIKE") && table_ref(&p, db, table) == 0) {
                    rc = need_table(&p, db, table, SQL_PRIV_SELECT, "SELECT");
                }
            }
            if (rc != 0 || create) {
                return rc;
            }
        } while (p.i < p.n && p.t[p.i].type == SQL_TK_COMMA && ++p.i);
        return 0;
    }
    if (accept(&p, "ALTER")) {
        if (accept(&p, "DATABASE") || accept(&p, "SCHEMA")) {
            if (name_tok(&p, db, sizeof(db)) != 0) {
                return 0;
            }
            return (privs_on(s, db, NULL) & SQL_PRIV_ALTER) ? 0 : db_denied(s, db, err);
        }
        accept(&p, "ONLINE");
        accept(&p, "IGNORE");
        if (!accept(&p, "TABLE") || table_ref(&p, db, table) != 0) {
            return 0;
        }
        int rc = need_table(&p, db, table, SQL_PRIV_ALTER, "ALTER");
        /* RENAME [TO|AS] t2 also drops the old name and creates the new one, as RENAME TABLE */
        for (; rc == 0 && p.i < p.n; p.i++) {
            if (!kw(&p, "RENAME")) {
                continue;
            }
            p.i++;
            if (kw(&p, "INDEX") || kw(&p, "KEY") || kw(&p, "COLUMN")) {
                continue;
            }
            if (!accept(&p, "TO")) {
                accept(&p, "AS");
            }
            char db2[256], table2[256];
            if (table_ref(&p, db2, table2) != 0) {
                break;
            }
            rc = need_table(&p, db, table, SQL_PRIV_DROP, "DROP");
            rc = rc ? rc : need_table(&p, db2, table2, SQL_PRIV_CREATE, "CREATE");
            rc = rc ? rc : need_table(&p, db2, table2, SQL_PRIV_INSERT, "INSERT");
            break;
        }
        return rc;
    }
    if (accept(&p, "TRUNCATE")) {
        accept(&p, "TABLE");
        if (table_ref(&p, db, table) != 0) {
            return 0;
        }
        return need_table(&p, db, table, SQL_PRIV_DROP, "DROP");
    }
    if (accept(&p, "RENAME")) {
        if (!accept(&p, "TABLE")) {
            return 0;
        }
        do {
            if (table_ref(&p, db, table) != 0) {
                return 0;
            }
            int rc = need_table(&p, db, table, SQL_PRIV_ALTER, "ALTER");
            rc = rc ? rc : need_table(&p, db, table, SQL_PRIV_DROP, "DROP");
            if (rc == 0 && accept(&p, "TO") && table_ref(&p, db, table) == 0) {
                rc = need_table(&p, db, table, SQL_PRIV_CREATE, "CREATE");
                rc = rc ? rc : need_table(&p, db, table, SQL_PRIV_INSERT, "INSERT");
            }
            if (rc != 0) {
                return rc;
            }
        } while (p.i < p.n && p.t[p.i].type == SQL_TK_COMMA && ++p.i);
    }
    return 0;
}

/* ---- SHOW ------------------------------------------------------------------------------------ */

static int table_ref(P *p, char *db, char *table);

enum { FILTER_DBS = 1, FILTER_TABLES = 2 };

static int fsink_columns(sql_sink *sink, const sql_column *cols, int ncols)
{
    sql_priv_sink *w = (sql_priv_sink *)sink;
    return w->next->columns(w->next, cols, ncols);
}

static int fsink_row(sql_sink *sink, const sql_value *vals, int ncols)
{
    sql_priv_sink *w = (sql_priv_sink *)sink;
    if (ncols >= 1 && (vals[0].type == SQL_V_TEXT || vals[0].type == SQL_V_BLOB)) {
        char name[256];
        snprintf(name, sizeof(name), "%.*s", (int)(vals[0].n < 255 ? vals[0].n : 255), vals[0].s);
        if (w->mode == FILTER_DBS && strcasecmp(name, "information_schema") != 0 &&
            !any_in_db(w->s, name)) {
            return 0;
        }
        if (w->mode == FILTER_TABLES && (privs_on(w->s, w->db, name) & ~SQL_PRIV_GRANT) == 0) {
            return 0;
        }
    }
    return w->next->row(w->next, vals, ncols);
}

static int fsink_done(sql_sink *sink, const sql_done *d)
{
    sql_priv_sink *w = (sql_priv_sink *)sink;
    return w->next->done(w->next, d);
}

static sql_sink *wrap_sink(sql_sess *s, sql_sink *sink, sql_priv_sink *w, int mode, const char *db)
{
    w->base.columns = fsink_columns;
    w->base.row = fsink_row;
    w->base.done = fsink_done;
    w->next = sink;
    w->s = s;
    w->mode = mode;
    snprintf(w->db, sizeof(w->db), "%s", db ? db : "");
    return &w->base;
}

int sql_priv_check_table_any(sql_sess *s, const char *db, const char *table, const char *cmd,
                             cm_err *err)
{
    if (!s->priv.on || db == NULL || strcasecmp(db, "information_schema") == 0) {
        return 0;
    }
    return (privs_on(s, db, table) & ~SQL_PRIV_GRANT) != 0 ? 0 : table_denied(s, cmd, table, err);
}

int sql_priv_missing_table(sql_sess *s, const char *db, const char *table, cm_err *err)
{
    if (!s->priv.on || (privs_on(s, db, table) & ~SQL_PRIV_GRANT) != 0 ||
        strcasecmp(db, "information_schema") == 0 || strcasecmp(db, "performance_schema") == 0) {
        return 0;
    }
    /* MySQL checks privileges before existence: no privilege there answers 1142, naming the
     * statement's command. */
    const char *cmd = "SELECT";
    const char *q = s->prep_sql;
    while (q != NULL && (*q == ' ' || *q == '\n' || *q == '\t' || *q == '(')) {
        q++;
    }
    if (q != NULL && (strncasecmp(q, "INSERT", 6) == 0 || strncasecmp(q, "REPLACE", 7) == 0)) {
        cmd = "INSERT";
    } else if (q != NULL && strncasecmp(q, "UPDATE", 6) == 0) {
        cmd = "UPDATE";
    } else if (q != NULL && strncasecmp(q, "DELETE", 6) == 0) {
        cmd = "DELETE";
    }
    return table_denied(s, cmd, table, err);
}

int sql_priv_show(sql_sess *s, const char *src, const sql_token *t, uint32_t n, sql_sink *sink,
                  sql_priv_sink *wrap, sql_sink **out, cm_err *err)
{
    *out = sink;
    if (!s->priv.on || n < 2) {
        return 0;
    }
    P p = {s, src, t, n, 1, err};
    if (accept(&p, "DATABASES") || accept(&p, "SCHEMAS")) {
        if (!(privs_on(s, NULL, NULL) & SQL_PRIV_SHOW_DB)) {
            *out = wrap_sink(s, sink, wrap, FILTER_DBS, NULL);
        }
        return 0;
    }
    accept(&p, "FULL");
    accept(&p, "EXTENDED");
    char db[256], table[256];
    if (accept(&p, "TABLES") || (accept(&p, "TABLE") && accept(&p, "STATUS"))) {
        snprintf(db, sizeof(db), "%s", s->has_db ? s->dbname : "");
        if (accept(&p, "FROM") || accept(&p, "IN")) {
            if (name_tok(&p, db, sizeof(db)) != 0) {
                return 0; /* the SHOW reports its own syntax error */
            }
        }
        if (db[0] == '\0' || strcasecmp(db, "information_schema") == 0) {
            return 0;
        }
        if (!any_in_db(s, db)) {
            return db_denied(s, db, err);
        }
        *out = wrap_sink(s, sink, wrap, FILTER_TABLES, db);
        return 0;
    }
    int create = 0;
    if (accept(&p, "COLUMNS") || accept(&p, "FIELDS") || accept(&p, "INDEX") ||
        accept(&p, "INDEXES") || accept(&p, "KEYS")) {
        if (!accept(&p, "FROM") && !accept(&p, "IN")) {
            return 0;
        }
    } else if (accept(&p, "CREATE") && accept(&p, "TABLE")) {
        create = 1;
    } else {
        return 0;
    }
    if (table_ref(&p, db, table) != 0) {
        return 0;
    }
    if (!create && (accept(&p, "FROM") || accept(&p, "IN"))) {
        if (name_tok(&p, db, sizeof(db)) != 0) {
            return 0;
        }
    }
    if (db[0] == '\0') {
        return 0;
    }
    return sql_priv_check_table_any(s, db, table, create ? "SHOW" : "SELECT", err);
}

bool sql_priv_visible(sql_sess *s, const char *db, const char *table)
{
    if (!s->priv.on) {
        return true;
    }
    if (table == NULL) {
        return (privs_on(s, NULL, NULL) & SQL_PRIV_SHOW_DB) != 0 || any_in_db(s, db);
    }
    return (privs_on(s, db, table) & ~SQL_PRIV_GRANT) != 0;
}

int sql_sess_may_see_all(sql_sess *self)
{
    return !self->priv.on || (privs_on(self, NULL, NULL) & SQL_PRIV_PROCESS) != 0;
}

int sql_priv_check_set_global(sql_sess *s, cm_err *err)
{
    if (!s->priv.on || (privs_on(s, NULL, NULL) & SQL_PRIV_SUPER)) {
        return 0;
    }
    return cm_err_set(err, CM_E_SPECIFIC_ACCESS_DENIED,
                      "Access denied; you need (at least one of) the SUPER or "
                      "SYSTEM_VARIABLES_ADMIN privilege(s) for this operation");
}

/* ---- KILL ------------------------------------------------------------------------------------ */

int sql_sess_may_kill(sql_sess *self, sql_sess *target)
{
    if (!self->priv.on || self == target) {
        return 1;
    }
    if (privs_on(self, NULL, NULL) & SQL_PRIV_SUPER) {
        return 1;
    }
    char user[SQL_USER_MAX], host[SQL_HOST_MAX], db[SQL_DB_MAX];
    sql_sess_copy_info(target, user, sizeof(user), host, sizeof(host), db, sizeof(db));
    return strcmp(user, self->user) == 0;
}

/* ---- dispatch -------------------------------------------------------------------------------- */

/* SHOW CREATE USER a: MySQL 8's text, with the stored hash after AS. */
static int show_create_user(P *p, sql_sink *sink, int more)
{
    sql_sess *s = p->s;
    uspec u;
    int rc = user_spec(p, &u);
    if (rc != 0) {
        return rc;
    }
    if (!end_of(p)) {
        return syntax(p);
    }
    int self = strcmp(u.user, s->priv.user) == 0 && strcasecmp(u.host, s->priv.host) == 0;
    if (!self && !(privs_on(s, "mysql", NULL) & SQL_PRIV_SELECT)) {
        return db_denied(s, "mysql", p->err);
    }
    const sql_user *a = s->priv.users ? sql_users_find(s->priv.users, u.user, u.host) : NULL;
    if (a == NULL) {
        return cm_err_set(p->err, CM_E_CANNOT_USER,
                          "Operation SHOW CREATE USER failed for '%s'@'%s'", u.user, u.host);
    }
    char title[512];
    snprintf(title, sizeof(title), "CREATE USER for %s@%s", a->user, a->host);
    sql_column col = sql_col_text(s, title);
    rc = sink->columns(sink, &col, 1);
    cm_buf b = CM_BUF_INIT;
    cm_buf_printf(&b, "CREATE USER ");
    append_qname(&b, a->user);
    cm_buf_append_u8(&b, '@');
    append_qname(&b, a->host);
    cm_buf_printf(&b, " IDENTIFIED WITH '%s'",
                  a->plugin == SQL_USER_PLUGIN_SHA2 ? "caching_sha2_password"
                                                    : "mysql_native_password");
    if (a->auth_len > 0) {
        cm_buf_printf(&b, " AS '%s", a->plugin == SQL_USER_PLUGIN_SHA2 ? "$T$" : "*");
        for (uint32_t k = 0; k < a->auth_len; k++) {
            cm_buf_printf(&b, "%02X", a->auth[k]);
        }
        cm_buf_append_u8(&b, '\'');
    }
    cm_buf_printf(&b, " REQUIRE NONE PASSWORD EXPIRE DEFAULT ACCOUNT UNLOCK PASSWORD HISTORY "
                      "DEFAULT PASSWORD REUSE INTERVAL DEFAULT PASSWORD REQUIRE CURRENT DEFAULT");
    sql_value v = sql_value_text((const char *)b.ptr, b.len);
    rc = rc ? rc : sink->row(sink, &v, 1);
    cm_buf_fini(&b);
    return rc ? rc : sql_sess_done(s, sink, 0, 0, more, NULL);
}

int sql_priv_is_stmt(const char *src, const sql_token *t, uint32_t n)
{
    if (n < 2 || t[0].type != SQL_TK_IDENT) {
        return 0;
    }
    if (sql_tok_is(src, &t[0], "GRANT") || sql_tok_is(src, &t[0], "REVOKE")) {
        return 1;
    }
    if (sql_tok_is(src, &t[0], "CREATE") || sql_tok_is(src, &t[0], "DROP") ||
        sql_tok_is(src, &t[0], "ALTER") || sql_tok_is(src, &t[0], "RENAME")) {
        return sql_tok_is(src, &t[1], "USER");
    }
    if (sql_tok_is(src, &t[0], "SET")) {
        return sql_tok_is(src, &t[1], "PASSWORD");
    }
    if (sql_tok_is(src, &t[0], "SHOW")) {
        return sql_tok_is(src, &t[1], "GRANTS") ||
               (n > 2 && sql_tok_is(src, &t[1], "CREATE") && sql_tok_is(src, &t[2], "USER"));
    }
    return 0;
}

int sql_priv_run(sql_sess *s, const char *src, const sql_token *t, uint32_t n, sql_sink *sink,
                 int more, cm_err *err)
{
    P p = {s, src, t, n, 0, err};
    if (accept(&p, "SHOW") && accept(&p, "CREATE") && accept(&p, "USER")) {
        return show_create_user(&p, sink, more);
    }
    p.i = 0;
    if (accept(&p, "SHOW")) {
        p.i++; /* GRANTS */
        uspec u;
        snprintf(u.user, sizeof(u.user), "%s", s->priv.user);
        snprintf(u.host, sizeof(u.host), "%s", s->priv.host);
        if (accept(&p, "FOR")) {
            int rc = user_spec(&p, &u);
            if (rc != 0) {
                return rc;
            }
            if (kw(&p, "USING")) {
                return unsupported(&p, "SHOW GRANTS … USING (roles)");
            }
        }
        if (!end_of(&p)) {
            return syntax(&p);
        }
        int self = strcmp(u.user, s->priv.user) == 0 && strcasecmp(u.host, s->priv.host) == 0;
        if (!self && !(privs_on(s, "mysql", NULL) & SQL_PRIV_SELECT)) {
            return db_denied(s, "mysql", err);
        }
        int rc = show_grants_rows(s, &u, sink, err);
        return rc ? rc : sql_sess_done(s, sink, 0, 0, more, NULL);
    }
    /* Account statements commit the open transaction first, as DDL does. */
    int rc = sql_txn_commit(s, err);
    s->in_trans = 0;
    s->trans_ro = 0;
    if (rc != 0) {
        return rc;
    }
    job *j = calloc(1, sizeof(*j));
    if (j == NULL) {
        return cm_err_set(err, CM_E_NOMEM, "out of memory");
    }
    j->s = s;
    if (accept(&p, "GRANT") || accept(&p, "REVOKE")) {
        j->kind = sql_tok_is(src, &t[0], "GRANT") ? J_GRANT : J_REVOKE;
        if (j->kind == J_REVOKE && accept(&p, "IF")) {
            rc = unsupported(&p, "REVOKE IF EXISTS");
        } else {
            rc = run_grant(&p, j);
        }
    } else if (accept(&p, "SET")) {
        p.i++; /* PASSWORD */
        j->kind = J_SETPW;
        uspec *u = &j->specs[0];
        snprintf(u->user, sizeof(u->user), "%s", s->priv.user);
        snprintf(u->host, sizeof(u->host), "%s", s->priv.host);
        int other = 0;
        if (accept(&p, "FOR")) {
            rc = user_spec(&p, u);
            other = rc == 0 &&
                    !(strcmp(u->user, s->priv.user) == 0 && strcasecmp(u->host, s->priv.host) == 0);
        }
        if (rc == 0 && !is_op(&p, "=")) {
            rc = syntax(&p);
        }
        if (rc == 0) {
            p.i++;
            if (p.i >= p.n || p.t[p.i].type != SQL_TK_STRING || p.i + 1 != p.n) {
                rc =
                    kw(&p, "PASSWORD") ? unsupported(&p, "SET PASSWORD = PASSWORD(…)") : syntax(&p);
            }
        }
        if (rc == 0 && other && !(privs_on(s, NULL, NULL) & SQL_PRIV_CREATE_USER) &&
            !(privs_on(s, "mysql", NULL) & SQL_PRIV_UPDATE)) {
            rc = db_denied(s, "mysql", err);
        }
        if (rc == 0) {
            const sql_user *a = sql_users_find(s->priv.users, u->user, u->host);
            ident *id = &j->ids[0];
            memset(id, 0, sizeof(*id));
            id->given = 1;
            id->has_plugin = 1;
            id->plugin = a ? a->plugin : default_plugin(s);
            char pw[256];
            rc = name_tok(&p, pw, sizeof(pw));
            rc = rc ? rc : hash_pw(&p, id, pw);
            memset(pw, 0, sizeof(pw));
            j->nspecs = 1;
        }
        rc = rc ? rc : sql_cat_users_change(s->env->cat, edit_users, j, err);
    } else {
        const char *verb = sql_tok_is(src, &t[0], "CREATE")  ? "CREATE"
                           : sql_tok_is(src, &t[0], "DROP")  ? "DROP"
                           : sql_tok_is(src, &t[0], "ALTER") ? "ALTER"
                                                             : "RENAME";
        p.i = 2;
        j->kind = verb[0] == 'C'   ? J_CREATE
                  : verb[0] == 'D' ? J_DROP
                  : verb[0] == 'A' ? J_ALTER
                                   : J_RENAME;
        if (j->kind == J_CREATE && accept(&p, "IF")) {
            j->if_not_exists = accept(&p, "NOT") && accept(&p, "EXISTS");
            rc = j->if_not_exists ? 0 : syntax(&p);
        } else if ((j->kind == J_DROP || j->kind == J_ALTER) && accept(&p, "IF")) {
            j->if_exists = accept(&p, "EXISTS");
            rc = j->if_exists ? 0 : syntax(&p);
        }
        uint32_t start = p.i;
        if (rc == 0) {
            rc = parse_specs(&p, j, j->kind == J_CREATE || j->kind == J_ALTER, j->kind == J_RENAME);
        }
        if (rc == 0 && j->kind == J_ALTER) {
            rc = alter_passwords(&p, j, start);
        }
        if (rc == 0) {
            /* Changing only one's own password needs nothing; everything else CREATE USER. */
            int own = j->kind == J_ALTER && j->nspecs == 1 &&
                      strcmp(j->specs[0].user, s->priv.user) == 0 &&
                      strcasecmp(j->specs[0].host, s->priv.host) == 0;
            if (!own) {
                rc = need_global(s, SQL_PRIV_CREATE_USER, "CREATE USER", err);
            }
        }
        rc = rc ? rc : sql_cat_users_change(s->env->cat, edit_users, j, err);
    }
    if (rc == 0 && j->nwarn > 0) {
        sql_diag_add(s, SQL_DIAG_NOTE, j->warn_code, "%s", j->warn);
    }
    free(j);
    if (rc != 0) {
        return rc;
    }
    sql_priv_stmt_begin(s); /* this session sees its own change at once */
    return sql_sess_done(s, sink, 0, 0, more, NULL);
}
