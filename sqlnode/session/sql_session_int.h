/*
 * sql_session_int.h — the session's private state, shared by the files of the session module
 * (sql_session.c, sql_exec.c, sql_func.c, sql_set.c, sql_show.c, sql_prep.c). Only this module
 * includes SQLite's header (DESIGN.md §2).
 */
#ifndef SQL_SESSION_INT_H
#define SQL_SESSION_INT_H

#include "cm_buf.h"
#include "sql_infoschema.h"
#include "sql_lexer.h"
#include "sql_priv.h"
#include "sql_session.h"
#include "sql_translate.h"
#include "sql_vtab.h"

#include <pthread.h>
#include <sqlite3.h>

/* ---- limits of the session module (each with its reason) ---- */
/* Account names are at most 32 characters in MySQL 8 (128 bytes of utf8mb4). */
#define SQL_USER_MAX 128
/* Client address text: an IPv6 address with port fits in 64 bytes. */
#define SQL_HOST_MAX 64
/* Database names are at most 64 characters (256 bytes of utf8mb4). */
#define SQL_DB_MAX 256
/* Diagnostics kept per statement at most: the top of MySQL's max_error_count range (default
 * 1024); entries are allocated as they come, so an idle session holds none. */
#define SQL_DIAG_MAX 65535
/* User variables per session: bounds what one client can make the server hold. */
#define SQL_USERVARS_MAX 4096
/* SQLite VM instructions between two progress checks (KILL, max_execution_time, op budget):
 * a few microseconds of work, so a KILL lands fast and the check costs nothing measurable. */
#define SQL_PROGRESS_OPS 4096
/* SQLite schemas attached for qualified references to other databases: SQLite's own maximum
 * (SQLITE_MAX_ATTACHED defaults to 10); the least recently used is detached beyond it. */
#define SQL_ATTACH_MAX 10
/* Named savepoints per transaction: each is a checkpoint of the write buffer, which holds 64
 * (CM_MEMBUF_CHECKPOINTS_MAX) with the statement's own; half is far beyond what clients use. */
#define SQL_SAVEPOINTS_MAX 32
/* Rounds of "no such table → declare → prepare again" for one statement: each round declares
 * one table, so this bounds the tables one statement can name for the first time. */
#define SQL_DECL_ROUNDS_MAX 64

enum { SQL_DIAG_NOTE = 0, SQL_DIAG_WARNING = 1, SQL_DIAG_ERROR = 2 };

typedef struct sql_diag {
    uint8_t level;
    uint16_t code;
    char *msg; /* owned */
} sql_diag;

typedef struct sql_uvar {
    char *name; /* owned, lower-cased (user variable names are case-insensitive) */
    sql_vtype type;
    int64_t i;
    double d;
    char *s; /* owned for TEXT/BLOB */
    size_t n;
} sql_uvar;

/* A cached SQLite statement for one query text (DESIGN.md §7: reuse saves ~3 µs a query). */
typedef struct sql_cached {
    char *key; /* owned: the MySQL text */
    size_t keylen;
    unsigned mode; /* SQL_MODE_* bits the translation depended on */
    uint64_t hash;
    int dml; /* INSERT/UPDATE/DELETE/REPLACE: affected rows and insert id are reported */
    sqlite3_stmt *stmt;
    char *target; /* owned: an INSERT's sql_tr_out.target (NULL: not an INSERT/REPLACE) */
    size_t target_len;
    sql_tr_item *items; /* owned */
    uint32_t nitems;
    int in_use;                     /* running now: not evicted */
    struct sql_cached *prev, *next; /* LRU list, most recent first */
    struct sql_cached *hnext;       /* hash chain */
} sql_cached;

typedef struct sql_cache {
    sql_cached **buckets;
    uint32_t nbuckets;
    uint32_t count;
    uint32_t cap; /* stmt-cache-size */
    sql_cached *head, *tail;
    uint64_t hits, misses;
} sql_cache;

struct sql_prep {
    sql_kind kind;
    char *sql; /* owned text */
    size_t len;
    uint32_t nparams;
    sqlite3_stmt *stmt; /* QUERY and DO */
    char *target;       /* owned: an INSERT's sql_tr_out.target (NULL: none) */
    size_t target_len;
    sql_tr_item *items; /* owned */
    uint32_t nitems;
    sql_column *cols; /* owned; names point into names */
    uint32_t ncols;
    char *names; /* owned */
    sql_prep *next;
};

struct sql_sess {
    const sql_sess_env *env;
    uint64_t id;
    sqlite3 *db;

    pthread_mutex_t info_mu; /* guards user, host, dbname for readers on other threads */
    char user[SQL_USER_MAX];
    char host[SQL_HOST_MAX];
    char dbname[SQL_DB_MAX];
    int has_db;

    int multi_statements;
    int found_rows_flag;
    sql_sv_val sv[SQL_SV_COUNT]; /* session values (session-scoped variables only) */
    unsigned mode;               /* SQL_MODE_* bits from sql_mode */
    int in_trans;
    int trans_ro;
    uint64_t last_insert_id;
    int64_t row_count;
    uint64_t found_rows;
    int64_t stmt_start_us;  /* NOW() of the running statement */
    uint64_t stmt_ops;      /* progress checks of the running statement */
    int tz_system;          /* time_zone = SYSTEM */
    int64_t tz_offset_s;    /* otherwise UTC + this */
    double timestamp_fixed; /* SET timestamp: seconds, 0 = the clock */

    sql_diag *diag;
    uint32_t ndiag, cap_diag;
    uint32_t nwarn_total; /* warnings raised by the last statement (kept or not) */
    uint32_t nerr_total;

    sql_uvar *uvars;
    uint32_t nuvars, cap_uvars;

    sql_cache cache;
    sql_prep *preps;

    volatile int killed; /* 0, 1 (query), 2 (connection); written by other threads */
    char denied[128];    /* table the authorizer refused, for the error message */
    /* An unqualified table name SQLite resolved to an ATTACHed schema (it searches them after
     * main): refused, and declared in main from the current database (sql_decl.c). */
    char unqual[128];
    const char *prep_sql; /* the text sql_decl_prepare prepares now (NULL otherwise) */
    int prep_len;
    cm_err fn_err; /* an error one of our SQL functions raised (code 0: none) */
    int in_init_connect;

    /* ---- the SQL layer over the KV store (sql_txn.c, sql_decl.c; unused without a cluster) */
    sql_vt_env vt;     /* the vtab module's environment, registered once on db */
    sql_is_env is;     /* information_schema's environment (sql_is_glue.c) */
    int tables_locked; /* LOCK TABLES in force (sql_lock.c) */
    struct {
        char name[SQL_DB_MAX]; /* 64 characters of utf8mb4, as MySQL's identifiers */
        int cp;                /* the checkpoint id (its depth in the write buffer) */
    } sp[SQL_SAVEPOINTS_MAX];  /* savepoints of the transaction sp_txn_ts (sql_savepoint.c) */
    uint32_t nsp;
    uint64_t sp_txn_ts;
    sql_schema *schema; /* the snapshot the current statement runs against (reference held) */
    uint64_t decl_ver;  /* schema version the SQLite declarations were made at */
    int declaring;      /* our own CREATE VIRTUAL TABLE / ATTACH / DETACH / DROP run now */
    char attached[SQL_ATTACH_MAX][SQL_DB_MAX]; /* SQLite schemas = MySQL databases */
    uint64_t attached_used[SQL_ATTACH_MAX];    /* LRU clock of each */
    uint32_t nattached;
    uint64_t attach_clock;
    cm_txn *txn;             /* the open KV transaction (begun on first table access) */
    uint64_t txn_schema_ver; /* schema version when it began (commit-time check) */
    int stmt_cp;             /* write-buffer checkpoint of the running statement; 0: none */
    int stmt_dml;            /* the running statement is DML (affected rows, insert id) */
    int txn_commit_pending;  /* SET autocommit=1: commit before the OK */
    /* The INSERT target of the statement sql_exec_run runs next (borrowed from its cache entry,
     * prepared statement or s->tr; NULL: none), and the named-column flags built from it for
     * the vtab (s->vt.insert_named points here while the statement runs). */
    const char *ins_target;
    size_t ins_target_len;
    bool *ins_named;
    uint32_t cap_ins_named;

    sql_tokens toks;  /* scratch: the current query's tokens */
    sql_tr_out tr;    /* scratch: translation */
    sql_value *vals;  /* scratch: one row */
    sql_column *cols; /* scratch: one result's columns */
    uint32_t cap_vals;
    cm_buf scratch;
    uint64_t questions;
    sql_priv_state priv; /* the account and its privileges (sql_priv.c) */
};

/* sql_session.c */
/* Starts a statement: its time, its progress budget, and a stale KILL QUERY cleared. */
void sql_sess_stmt_begin(sql_sess *s);
/* Makes every prepared SQLite statement re-prepare (the authorizer runs again) on its next step. */
void sql_sess_expire_statements(sql_sess *s);
void sql_diag_clear(sql_sess *s);
void sql_diag_add(sql_sess *s, int level, int mysql_errno, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
int64_t sql_sess_now_us(sql_sess *s);
int sql_sess_done(sql_sess *s, sql_sink *sink, uint64_t affected, uint64_t insert_id, int more,
                  const char *info);
/* Column descriptions for results our own code builds (names are borrowed). */
sql_column sql_col_text(const sql_sess *s, const char *name);
sql_column sql_col_int(const char *name, int is_unsigned);
/* Makes room for n values/columns in the scratch arrays. */
int sql_sess_scratch(sql_sess *s, uint32_t n, cm_err *err);
/* Resolves @@name for the translator (sql_tr_sysvar_cb). */
int sql_sess_sysvar_resolve(void *user, const char *name, size_t n, int scope, int *id,
                            cm_err *err);
sql_tr_ctx sql_sess_tr_ctx(sql_sess *s);
/* Runs one statement t[0, n) of src; key is the cache key when it is a query. */
int sql_sess_exec(sql_sess *s, const char *src, const sql_token *t, uint32_t n, const char *key,
                  size_t keylen, sql_sink *sink, int more, cm_err *err);

/* sql_exec.c */
/* A sink that drops everything (init_connect, DO). */
extern sql_sink sql_discard_sink;
/* Translates and prepares a query without caching it (*out owned by the caller; s->tr keeps
 * the item types until the next translation). */
int sql_exec_prepare(sql_sess *s, const char *src, const sql_token *t, uint32_t n,
                     sqlite3_stmt **out, cm_err *err);
int sql_cache_init(sql_cache *c, uint32_t cap);
void sql_cache_fini(sql_cache *c);
/* Drops every cached statement (USE: table names bind to the current database). */
void sql_cache_clear(sql_cache *c);
sql_cached *sql_cache_get(sql_cache *c, const char *key, size_t len, unsigned mode);
/* Translates and prepares a query, caching it under key; *out stays in the cache. */
int sql_exec_prepare_cached(sql_sess *s, const char *src, const sql_token *t, uint32_t n,
                            const char *key, size_t keylen, sql_cached **out, cm_err *err);
/* Steps st to completion, sending a result set (or nothing when discard). Resets st. */
int sql_exec_run(sql_sess *s, sqlite3_stmt *st, const sql_tr_item *items, uint32_t nitems,
                 sql_sink *sink, int more, int discard, cm_err *err);
/* Maps a failed SQLite call to our error (1146, 1054, 1064, 1317 …). */
int sql_exec_sqlite_error(sql_sess *s, int rc, cm_err *err);
/* Evaluates expression t[0, n) to a value; text/blob copied into s->scratch (valid until the next
 * call). */
int sql_exec_eval(sql_sess *s, const char *src, const sql_token *t, uint32_t n, sql_value *out,
                  cm_err *err);
/* Column types from the first row's values and the translator's hints. */
void sql_exec_describe(sql_sess *s, sqlite3_stmt *st, const sql_tr_item *items, uint32_t nitems,
                       int have_row, sql_column *cols, int ncols);

/* sql_txn.c — transactions owned by the session (DESIGN.md §7) */
/* Registers the vtab module with the session's environment (cluster mode only). */
int sql_txn_setup(sql_sess *s, cm_err *err);
/* Rolls back an open transaction (session end). */
void sql_txn_teardown(sql_sess *s);
/* Whether statements share one transaction (BEGIN, or autocommit=0). */
int sql_txn_explicit(const sql_sess *s);
/* Commits the open transaction (COMMIT, implicit commits). Conflicts become 1213, an unknown
 * outcome 8110; the transaction is gone afterwards whatever the result. */
int sql_txn_commit(sql_sess *s, cm_err *err);
void sql_txn_rollback(sql_sess *s);
/* BEGIN / START TRANSACTION …, COMMIT, ROLLBACK. */
int sql_txn_control(sql_sess *s, sql_kind k, const char *src, const sql_token *t, uint32_t n,
                    sql_sink *sink, int more, cm_err *err);
/* Around one SQLite statement: prologue takes the statement checkpoint and resets the vtab
 * outputs; epilogue keeps or undoes the statement's writes and, in autocommit, commits.
 * Returns rc or the commit's error (raw KV codes in autocommit, so the caller can retry). */
void sql_txn_stmt_prologue(sql_sess *s);
int sql_txn_stmt_epilogue(sql_sess *s, int rc, cm_err *err);
/* Whether rc is a conflict an autocommit statement may be re-run for. */
int sql_txn_retryable(int rc);
/* Turns KV-layer errors into the MySQL errors of docs/errors.md. */
int sql_txn_map_error(sql_sess *s, int rc, cm_err *err);

/* sql_decl.c — SQLite declarations of MySQL tables (docs/sql-layer.md "Naming tables") */
/* At statement start: takes the catalog's current snapshot; drops every declaration when the
 * schema version moved. */
void sql_decl_stmt_begin(sql_sess *s);
/* sqlite3_prepare_v3 that declares the tables SQLite reports missing and prepares again.
 * Returns 0 or an error (1146 for unknown tables, 1046 without a database, SQLite's mapped). */
int sql_decl_prepare(sql_sess *s, const char *sql, int len, unsigned flags, sqlite3_stmt **out,
                     const char **tail, cm_err *err);
/* After a failed step: 1 when the failure was a table SQLite lost (a re-prepare after the
 * declarations were dropped) and it is declared again (step again), 0 when it was something
 * else, or an error (1146 …). */
int sql_decl_after_step(sql_sess *s, cm_err *err);
/* Whether the text being prepared names table `table` qualified with database `db`. */
int sql_decl_names_qualified(const sql_sess *s, const char *db, const char *table);
/* Drops every declaration (USE, version moves, reset). */
void sql_decl_drop_all(sql_sess *s);
/* Result metadata of column i from the catalog when it is a table column; 0 when it is not. */
int sql_decl_column(sql_sess *s, sqlite3_stmt *st, int i, sql_column *c);
/* Result metadata of table column col (key flags from t's indexes), named name (borrowed). */
sql_column sql_decl_col_meta(const sql_cat_table *t, const sql_cat_col *col, const char *name,
                             size_t name_len);

/* sql_dml.c — INSERT/UPDATE/DELETE/REPLACE into SQLite's dialect */
int sql_dml_translate(sql_sess *s, const char *src, const sql_token *t, uint32_t n, sql_tr_out *out,
                      cm_err *err);
/* Fills s->vt.insert_named/ninsert_named/insert_table from s->ins_target against the
 * statement's schema snapshot (nothing when there is no target or the table is unknown: the
 * statement then fails on its own). Returns 0 or CM_E_NOMEM. */
int sql_dml_bind_named(sql_sess *s, cm_err *err);
/* Clears what sql_dml_bind_named set (after the statement). */
void sql_dml_unbind_named(sql_sess *s);

/* sql_explain.c — EXPLAIN <query|DML> t[0, n) (t[0] is EXPLAIN/DESCRIBE/DESC): the plan SQLite
 * chose, one row per plan step (docs/mysql-protocol.md "EXPLAIN"). */
int sql_explain_run(sql_sess *s, const char *src, const sql_token *t, uint32_t n, sql_sink *sink,
                    int more, cm_err *err);

/* sql_is_glue.c — information_schema (sqlnode/infoschema) */
/* Registers the module with the session's environment (cluster mode only). */
int sql_isg_setup(sql_sess *s, cm_err *err);
/* A SHOW about information_schema or answered from it (SHOW TABLES FROM information_schema,
 * SHOW COLUMNS FROM one of its tables, SHOW OPEN TABLES): 0 done, an error, or 1 when t[0, n)
 * is none of these. */
int sql_isg_show(sql_sess *s, const char *src, const sql_token *t, uint32_t n, sql_sink *sink,
                 int more, cm_err *err);

/* DESCRIBE|DESC [db.]t of an information_schema table: 0 done, an error, or 1 when t[0, n)
 * names another database's table. */
int sql_isg_describe_stmt(sql_sess *s, const char *src, const sql_token *t, uint32_t n,
                          sql_sink *sink, int more, cm_err *err);
/* 1044 for DDL on information_schema; 0 otherwise. */
int sql_isg_ddl_check(sql_sess *s, const char *src, const sql_token *t, uint32_t n, cm_err *err);
/* Whether t[0, n) reads @@warning_count or @@error_count (the statement keeps the previous
 * statement's diagnostics, as MySQL's does). */
bool sql_isg_reads_diag_count(const char *src, const sql_token *t, uint32_t n);

/* sql_lock.c — LOCK TABLES / UNLOCK TABLES (accepted, no lock taken: see the file) */
bool sql_lock_is(const char *src, const sql_token *t, uint32_t n);
int sql_lock_run(sql_sess *s, const char *src, const sql_token *t, uint32_t n, sql_sink *sink,
                 int more, cm_err *err);

/* sql_savepoint.c — SAVEPOINT, ROLLBACK [WORK] TO [SAVEPOINT], RELEASE SAVEPOINT */
bool sql_sp_is(const char *src, const sql_token *t, uint32_t n);
int sql_sp_run(sql_sess *s, const char *src, const sql_token *t, uint32_t n, sql_sink *sink,
               int more, cm_err *err);

/* sql_like.c — MySQL's LIKE (backslash escape, `_` one character) in place of SQLite's like() */
int sql_like_register(sql_sess *s);

/* sql_func.c */
int sql_func_register(sql_sess *s);
/* Formats a wall-clock time (µs since epoch) in the session's time zone. kind: 0 datetime,
 * 1 date, 2 time; fsp: fractional digits. */
void sql_func_format_time(sql_sess *s, int64_t us, int kind, int fsp, char *buf, size_t cap);

/* sql_set.c */
int sql_set_run(sql_sess *s, const char *src, const sql_token *t, uint32_t n, sql_sink *sink,
                int more, cm_err *err);
/* Session copies of the global values (login, reset). */
int sql_sess_vars_from_globals(sql_sess *s, cm_err *err);
void sql_sess_vars_free(sql_sess *s);
/* Reads a variable as a value. scope: 0 default, 1 global, 2 session. Text lands in *scratch. */
int sql_sess_sysvar_get(sql_sess *s, int id, int scope, sql_value *out, cm_buf *scratch);
/* Sets a variable from a value (NULL v: DEFAULT). global: SET GLOBAL. */
int sql_sess_sysvar_set(sql_sess *s, int id, int global, const sql_value *v, cm_err *err);
/* SHOW VARIABLES text of a variable; *is_null set for NULL. */
int sql_sess_sysvar_text(sql_sess *s, int id, int global, cm_buf *out);
/* User variables. */
const sql_uvar *sql_uvar_get(sql_sess *s, const char *name, size_t n);
int sql_uvar_set(sql_sess *s, const char *name, size_t n, const sql_value *v, cm_err *err);
void sql_uvars_clear(sql_sess *s);

/* sql_show.c */
/* MySQL LIKE (%, _, backslash escapes), ASCII case-insensitive: 1 when s matches pattern p. */
int sql_show_like(const char *p, size_t pn, const char *s, size_t sn);
int sql_show_run(sql_sess *s, const char *src, const sql_token *t, uint32_t n, sql_sink *sink,
                 int more, cm_err *err);
/* Columns a SHOW statement returns, for COM_STMT_PREPARE; 0 when not a known SHOW. */
uint32_t sql_show_columns(sql_sess *s, const char *src, const sql_token *t, uint32_t n,
                          sql_column *cols, uint32_t cap);

#endif
