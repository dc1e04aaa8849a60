/*
 * sql_priv.h — privileges in a session (docs/sql-layer.md "Users and privileges"): the account a
 * login matched, the account snapshot a statement runs under, the checks (tables through the
 * SQLite authorizer, DDL, USE, SHOW DATABASES, KILL) and the account statements (CREATE / DROP /
 * ALTER / RENAME USER, SET PASSWORD, GRANT, REVOKE, SHOW GRANTS). Private to the session module.
 *
 * Checks apply only when the catalog holds accounts (a sqlnode with a cluster); without one every
 * statement is allowed as before and the account statements give 1235.
 */
#ifndef SQL_PRIV_H
#define SQL_PRIV_H

#include "sql_cat_user.h"
#include "sql_lexer.h"
#include "sql_value.h"

typedef struct sql_sess sql_sess;

typedef struct sql_priv_state {
    int on;              /* the cluster's account table is in force for this session */
    char user[136];      /* the matched account (CURRENT_USER()) */
    char host[256];      /* its host pattern */
    char ip[64];         /* the client's address (error messages, matching) */
    sql_users *users;    /* snapshot of the running statement (reference held) */
    const sql_user *acc; /* the account in users, or NULL: dropped meanwhile (no privileges) */
    uint64_t ver;        /* privilege version statements were prepared under */
} sql_priv_state;

/* Login: matches the account for user from host ("ip:port"). */
void sql_priv_login(sql_sess *s, const char *user, const char *host);
/* Statement start: the current account snapshot; a moved version re-prepares statements. */
void sql_priv_stmt_begin(sql_sess *s);
void sql_priv_free(sql_sess *s);

/* The SQLite authorizer's table actions: 1 when the account lacks the privilege (s->fn_err gets
 * 1142), else 0. action: SQLITE_READ / INSERT / UPDATE / DELETE; table a in SQLite schema c. */
int sql_priv_table_denied(sql_sess *s, int action, const char *a, const char *c);
/* DDL statement t[0, n): 1044 / 1142 when the account lacks CREATE / DROP / ALTER / INDEX. */
int sql_priv_check_ddl(sql_sess *s, const char *src, const sql_token *t, uint32_t n, cm_err *err);
/* USE db (and the database of a login): 1044 unless the account has a privilege in db. */
int sql_priv_check_use(sql_sess *s, const char *db, cm_err *err);
/* SHOW DATABASES without the SHOW DATABASES privilege: a sink that drops the rows of databases
 * the account has no privilege in. Returns sink itself when nothing needs filtering. */
typedef struct sql_priv_sink {
    sql_sink base;
    sql_sink *next;
    sql_sess *s;
    int mode;
    char db[256];
} sql_priv_sink;
/* SHOW statements answered by the catalog: SHOW DATABASES without the SHOW DATABASES privilege
 * and SHOW [FULL] TABLES / TABLE STATUS get a sink (*out, in wrap) that drops the databases and
 * tables the account has no privilege on; SHOW TABLES of a database without any privilege is
 * 1044; SHOW COLUMNS / INDEX / CREATE TABLE of a table without any privilege 1142. *out is sink
 * when nothing needs filtering. */
int sql_priv_show(sql_sess *s, const char *src, const sql_token *t, uint32_t n, sql_sink *sink,
                  sql_priv_sink *wrap, sql_sink **out, cm_err *err);
/* DESCRIBE and the like: 1142 (cmd) unless the account has some privilege on db.table. */
int sql_priv_check_table_any(sql_sess *s, const char *db, const char *table, const char *cmd,
                             cm_err *err);
/* A table that does not exist: 1142 when the account has no privilege there (MySQL checks
 * privileges first), else 0 (the caller reports 1146). */
int sql_priv_missing_table(sql_sess *s, const char *db, const char *table, cm_err *err);
/* Whether the account may see database db (table NULL: SHOW DATABASES privilege or some
 * privilege in db) or table db.table (some privilege on it or its database): what
 * information_schema lists. Always true without the account table. */
bool sql_priv_visible(sql_sess *s, const char *db, const char *table);
/* SET GLOBAL: 1227 without SUPER. */
int sql_priv_check_set_global(sql_sess *s, cm_err *err);

/* Whether t[0, n) is an account statement this module runs (the session asks only when the
 * account table is in force; without a cluster these statements go where they went before). */
int sql_priv_is_stmt(const char *src, const sql_token *t, uint32_t n);
int sql_priv_run(sql_sess *s, const char *src, const sql_token *t, uint32_t n, sql_sink *sink,
                 int more, cm_err *err);

/* CURRENT_USER(): user@host of the matched account (the login name @% without accounts). */
void sql_priv_current_user(sql_sess *s, char *buf, size_t cap);

#endif
