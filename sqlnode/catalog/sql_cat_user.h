/*
 * sql_cat_user.h — accounts and privileges kept in the cluster's metadata (docs/sql-layer.md
 * "Users and privileges"): one record per account `user`@`host` (authentication plugin, the
 * plugin's hash of the password, global privileges, database- and table-level grants) in the
 * hash `Users`, and a privilege version key that every change bumps. Every sqlnode holds an
 * immutable snapshot of all accounts, replaced after a change made here and by the catalog's poll
 * thread when the version key moved on another node.
 *
 * Host patterns use MySQL's `%` and `_` wildcards (case-insensitive); `localhost` also matches
 * the loopback addresses. Login picks the most specific entry first, as MySQL sorts its account
 * table: hosts without wildcards, then patterns by the length of their literal prefix, `%` last;
 * for equal hosts a named user before the anonymous one.
 */
#ifndef SQL_CAT_USER_H
#define SQL_CAT_USER_H

#include "cm_arena.h"
#include "sql_catalog.h"

#include <stdbool.h>
#include <stdint.h>

/* Privilege bits. Stored numbers: never renumber. */
enum {
    SQL_PRIV_SELECT = 1u << 0,
    SQL_PRIV_INSERT = 1u << 1,
    SQL_PRIV_UPDATE = 1u << 2,
    SQL_PRIV_DELETE = 1u << 3,
    SQL_PRIV_CREATE = 1u << 4,
    SQL_PRIV_DROP = 1u << 5,
    SQL_PRIV_RELOAD = 1u << 6,
    SQL_PRIV_PROCESS = 1u << 7,
    SQL_PRIV_REFERENCES = 1u << 8,
    SQL_PRIV_INDEX = 1u << 9,
    SQL_PRIV_ALTER = 1u << 10,
    SQL_PRIV_SHOW_DB = 1u << 11,
    SQL_PRIV_SUPER = 1u << 12,
    SQL_PRIV_LOCK_TABLES = 1u << 13,
    SQL_PRIV_EXECUTE = 1u << 14,
    SQL_PRIV_CREATE_VIEW = 1u << 15,
    SQL_PRIV_SHOW_VIEW = 1u << 16,
    SQL_PRIV_CREATE_USER = 1u << 17,
    SQL_PRIV_GRANT = 1u << 18, /* GRANT OPTION */
};
#define SQL_PRIV_COUNT 19
/* What ALL [PRIVILEGES] means at each level (GRANT OPTION excluded, as in MySQL). */
#define SQL_PRIV_ALL_GLOBAL ((1u << SQL_PRIV_COUNT) - 1 - SQL_PRIV_GRANT)
#define SQL_PRIV_ALL_DB                                                                            \
    (SQL_PRIV_SELECT | SQL_PRIV_INSERT | SQL_PRIV_UPDATE | SQL_PRIV_DELETE | SQL_PRIV_CREATE |     \
     SQL_PRIV_DROP | SQL_PRIV_REFERENCES | SQL_PRIV_INDEX | SQL_PRIV_ALTER |                       \
     SQL_PRIV_LOCK_TABLES | SQL_PRIV_EXECUTE | SQL_PRIV_CREATE_VIEW | SQL_PRIV_SHOW_VIEW)
#define SQL_PRIV_ALL_TABLE                                                                         \
    (SQL_PRIV_SELECT | SQL_PRIV_INSERT | SQL_PRIV_UPDATE | SQL_PRIV_DELETE | SQL_PRIV_CREATE |     \
     SQL_PRIV_DROP | SQL_PRIV_REFERENCES | SQL_PRIV_INDEX | SQL_PRIV_ALTER |                       \
     SQL_PRIV_CREATE_VIEW | SQL_PRIV_SHOW_VIEW)

/* Limits of the account table (each with its reason). */
#define SQL_USER_NAME_MAX   32   /* MySQL 8: user names up to 32 characters (1470 beyond) */
#define SQL_USER_HOST_MAX   255  /* MySQL 8: host names up to 255 characters */
#define SQL_USERS_MAX       4096 /* accounts: the snapshot is scanned per login */
#define SQL_USER_GRANTS_MAX 4096 /* db/table grants of one account: one record holds them */
#define SQL_USER_AUTH_MAX   64   /* stored hash bytes (20 native, 52 sha2) */
#define SQL_USER_FORMAT     1    /* first byte of a stored account record */

/* Plugins as stored (the same numbers as SQL_AUTH_* in sqlnode/mysql/sql_auth.h). */
enum { SQL_USER_PLUGIN_NATIVE = 0, SQL_USER_PLUGIN_SHA2 = 1 };

typedef struct sql_user_grant {
    char *db;    /* as granted (compared case-insensitively) */
    char *table; /* NULL: database level */
    uint32_t privs;
} sql_user_grant;

typedef struct sql_user {
    char *user; /* case-sensitive; "" is the anonymous user */
    char *host; /* pattern, lower case */
    uint8_t plugin;
    uint8_t auth_len; /* 0: empty password; native: SHA1(SHA1(pw)) (20 bytes); caching_sha2: a
                         20-byte salt and PBKDF2-HMAC-SHA256(pw, salt, 5000 rounds) (52 bytes) */
    uint8_t auth[SQL_USER_AUTH_MAX];
    uint32_t global; /* privileges ON *.* */
    uint32_t ngrants;
    sql_user_grant *grants;
} sql_user;

/* An immutable, refcounted snapshot of every account. */
typedef struct sql_users sql_users;

uint64_t sql_users_version(const sql_users *u);
uint32_t sql_users_count(const sql_users *u);
/* In login order (most specific first). */
const sql_user *sql_users_at(const sql_users *u, uint32_t i);
/* The account a login of `user` from address `ip` uses, or NULL. */
const sql_user *sql_users_match(const sql_users *u, const char *user, const char *ip);
/* The account named exactly user@host (host case-insensitive), or NULL. */
const sql_user *sql_users_find(const sql_users *u, const char *user, const char *host);
void sql_users_release(sql_users *u);

/* Whether host pattern p (with % and _; or an IPv4 net/mask or net/bits) matches name (ASCII
 * case-insensitive). */
bool sql_user_host_match(const char *p, const char *name);
/* Privileges a has on db.table: global | database | table level (db/table NULL: less). */
uint32_t sql_user_privs(const sql_user *a, const char *db, const char *table);
/* Whether database pattern p of a database-level grant (% and _ wildcards, backslash escapes,
 * case-insensitive) matches db. */
bool sql_user_db_pattern_match(const char *p, const char *db);
/* The grant that applies to db[.table] as MySQL finds it: a table grant by its names; a database
 * grant by its name, else the first whose pattern matches db. NULL when none. */
const sql_user_grant *sql_user_grant_for(const sql_user *a, const char *db, const char *table);
/* Whether a has any privilege on database db or on one of its tables (or a global one). */
bool sql_user_any_in_db(const sql_user *a, const char *db);
/* The grant of a at db[.table] (table NULL: database level), or NULL. */
const sql_user_grant *sql_user_grant_at(const sql_user *a, const char *db, const char *table);

/* An account to create on a fresh cluster (the configured root and users). */
typedef struct sql_user_boot {
    const char *user, *host;
    uint8_t plugin;
    const uint8_t *auth;
    uint8_t auth_len;
    uint32_t global;
} sql_user_boot;

/* Writes the boot accounts and privilege version 1 when the cluster has no privilege version
 * yet (racing nodes conflict on the version key; the loser finds it), then loads the snapshot.
 * From then on the catalog's poll thread reloads it when the version moves. */
int sql_cat_users_open(sql_catalog *c, const sql_user_boot *boot, uint32_t n, cm_err *err);
/* The current snapshot (reference taken), or NULL when sql_cat_users_open was not called. */
sql_users *sql_cat_users_acquire(sql_catalog *c);
/* Loads the snapshot if the stored version moved (the poll thread calls it). */
int sql_cat_users_reload(sql_catalog *c, cm_err *err);
/* Frees the snapshot (sql_cat_close). */
void sql_cat_users_close(sql_catalog *c);

/* ---- changes --------------------------------------------------------------------------------- */

/* A mutable copy of the accounts inside a change transaction. Strings and arrays are in arena. */
typedef struct sql_users_edit {
    cm_arena arena;
    sql_user *v;
    uint32_t n, cap;
} sql_users_edit;

void sql_users_edit_init(sql_users_edit *e);
void sql_users_edit_fini(sql_users_edit *e);
/* Moves e's accounts into a new snapshot in login order (e is left empty, still usable); NULL
 * when out of memory. */
sql_users *sql_users_build(sql_users_edit *e, uint64_t version);
sql_user *sql_users_edit_find(sql_users_edit *e, const char *user, const char *host);
/* Appends a blank account (no privileges, empty password); NULL when out of memory. */
sql_user *sql_users_edit_add(sql_users_edit *e, const char *user, const char *host);
void sql_users_edit_remove(sql_users_edit *e, sql_user *a);
/* Adds `add` then removes `del` at db[.table] (table NULL: database level; db NULL: global);
 * a grant left empty disappears. 0 or CM_E_NOMEM. */
int sql_users_edit_grant(sql_users_edit *e, sql_user *a, const char *db, const char *table,
                         uint32_t add, uint32_t del);
int sql_users_edit_rename(sql_users_edit *e, sql_user *a, const char *user, const char *host);

/* Runs fn over the accounts as stored at a fresh start_ts, writes the result and bumps the
 * privilege version in one KV transaction (re-run on write conflict); fn's error aborts. On
 * success this node's snapshot already has the change. */
typedef int (*sql_users_edit_fn)(void *ctx, sql_users_edit *e, cm_err *err);
int sql_cat_users_change(sql_catalog *c, sql_users_edit_fn fn, void *ctx, cm_err *err);

/* Record encoding (exported for the unit test and the fuzz target). */
int sql_user_encode(const sql_user *a, cm_buf *out);
int sql_user_decode(cm_slice in, cm_arena *arena, sql_user *out, cm_err *err);

#endif
