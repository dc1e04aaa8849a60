/*
 * sql_session.h — a MySQL session: its state (user, database, system and user variables,
 * transaction flags, diagnostics, prepared statements) and the statement path
 * (lexer → classifier → our handlers or the SQLite dialect translator → the session's own
 * SQLite connection, with a statement cache).
 *
 * One session belongs to one connection and runs one statement at a time: every function here
 * is called from the connection's thread, except sql_sess_interrupt and sql_sess_copy_info,
 * which other threads may call (KILL, SHOW PROCESSLIST). This header does not include SQLite's
 * (DESIGN.md §2); results leave through an sql_sink (sql_value.h).
 */
#ifndef SQL_SESSION_H
#define SQL_SESSION_H

#include "cm_err.h"
#include "cm_kv_client.h"
#include "sql_catalog.h"
#include "sql_gc.h"
#include "sql_sysvar.h"
#include "sql_value.h"

#include <stddef.h>
#include <stdint.h>

typedef struct sql_sess sql_sess;
typedef struct sql_prep sql_prep;

/* Receives one (name, value) pair of SHOW STATUS. */
typedef int (*sql_status_emit)(void *ctx, const char *name, const char *value);

/* What the process provides to its sessions. Every pointer is borrowed and outlives them. */
typedef struct sql_sess_env {
    sql_sysvars *globals;
    void *user; /* passed to the hooks below */
    /* KILL [QUERY|CONNECTION] id issued by `self`. NULL: KILL reports an unknown thread. */
    int (*kill)(void *user, sql_sess *self, uint64_t id, int query_only, cm_err *err);
    /* SHOW [FULL] PROCESSLIST: sends columns and rows to sink (not done()). NULL: empty list. */
    int (*processlist)(void *user, sql_sess *self, int full, sql_sink *sink, cm_err *err);
    /* SHOW STATUS: emits server counters. NULL: only session counters. */
    int (*status)(void *user, sql_sess *self, int global, sql_status_emit emit, void *ctx);
    /* Wall clock in microseconds since the epoch; NULL: the real clock. */
    int64_t (*now_us)(void *user);
    /* Sleeps ms milliseconds unless *stop becomes non-zero; returns 1 when stopped early.
     * NULL: a real sleep in small steps. */
    int (*sleep_ms)(void *user, int64_t ms, const volatile int *stop);
    /* SQLite statements cached per session (config stmt-cache-size; 0 disables the cache). */
    uint32_t stmt_cache_size;
    /* Most SQLite VM instructions one statement may run (0: no bound). The fuzz target uses it,
     * where the clock is fixed and max_execution_time cannot fire. */
    uint64_t stmt_ops_max;
    /* The cluster (borrowed; all three NULL: no cluster — the sqlnode was started with --pd ''
     * and every table reference fails with 1146, DDL with 1235, as in the protocol tests). */
    cm_kv_client *kc;
    sql_catalog *cat;
    sql_gc *gc; /* may be NULL even with a cluster: transactions are then not registered */
    /* Times an autocommit DML statement is re-run at a fresh snapshot after a write conflict
     * before 1213 is reported (0: the default, SQL_SESS_AUTOCOMMIT_RETRIES). */
    uint32_t autocommit_retries;
    /* The plugin's stored hash of a password (plugin: 0 mysql_native_password, 1
     * caching_sha2_password) into out (64 bytes of room); returns its length. NULL: account
     * statements cannot set passwords. */
    int (*hash_password)(int plugin, const char *pw, size_t n, uint8_t *out);
} sql_sess_env;

/* Default re-runs of a conflicting autocommit statement (docs/sql-layer.md "Transactions"). */
#define SQL_SESS_AUTOCOMMIT_RETRIES 5

/* Process-wide SQLite setup (multi-thread mode, no memory statistics). Call once before any
 * session is created; later calls do nothing. Returns 0 or CM_E_INTERNAL. */
int sql_sess_global_init(void);

/* Creates a session with its own in-memory SQLite connection. env is borrowed. */
int sql_sess_create(const sql_sess_env *env, uint64_t conn_id, sql_sess **out, cm_err *err);
void sql_sess_free(sql_sess *s);
uint64_t sql_sess_id(const sql_sess *s);

/* After authentication: the account, the client's address, its database (NULL/"" for none),
 * its character set (collation id from the handshake) and whether it is interactive (its
 * wait_timeout is interactive_timeout). Runs init_connect. Strings are copied. */
int sql_sess_login(sql_sess *s, const char *user, const char *host, const char *db,
                   uint16_t collation_id, int interactive, cm_err *err);
/* Whether COM_QUERY may carry several statements (CLIENT_MULTI_STATEMENTS, COM_SET_OPTION). */
void sql_sess_set_multi_statements(sql_sess *s, int on);
/* CLIENT_FOUND_ROWS: affected-row counts report matched rows (recorded for the SQL layer). */
void sql_sess_set_found_rows(sql_sess *s, int on);
int sql_sess_found_rows(const sql_sess *s);

/* Runs the statements of one COM_QUERY (sql borrowed). Results go to sink; on error the
 * statements before it have sent their results and the error is returned (and recorded for
 * SHOW WARNINGS/ERRORS). */
int sql_sess_query(sql_sess *s, const char *sql, size_t len, sql_sink *sink, cm_err *err);

/* COM_STMT_PREPARE: one statement. *out is owned by the session until sql_sess_prep_free. */
int sql_sess_prepare(sql_sess *s, const char *sql, size_t len, sql_prep **out, cm_err *err);
uint32_t sql_prep_param_count(const sql_prep *p);
uint32_t sql_prep_column_count(const sql_prep *p);
/* Column metadata known at prepare time (types from the statement's text). */
const sql_column *sql_prep_columns(const sql_prep *p);
/* COM_STMT_EXECUTE with the decoded parameters (borrowed, count = param count). */
int sql_sess_execute(sql_sess *s, sql_prep *p, const sql_value *params, uint32_t nparams,
                     sql_sink *sink, cm_err *err);
void sql_sess_prep_free(sql_sess *s, sql_prep *p);
/* The statement's text (borrowed; NUL-terminated). */
const char *sql_prep_text(const sql_prep *p, size_t *len);

/* COM_FIELD_LIST: one call of field_cb per PUBLIC column of table (of the current database) whose
 * name matches the LIKE pattern wild (NULL or empty: every column), in declaration order, with
 * its result metadata, the table's name and the column's default as text (NULL: no default or
 * DEFAULT NULL). Everything passed is borrowed for the call. Returns 0, 1046 without a database,
 * 1146 for an unknown table (or without a cluster), or field_cb's error. */
typedef int (*sql_field_cb)(void *ctx, const sql_column *col, const char *table, const char *dflt);
int sql_sess_field_list(sql_sess *s, const char *table, size_t len, const char *wild,
                        size_t wild_len, sql_field_cb field_cb, void *ctx, cm_err *err);

/* COM_INIT_DB / USE. */
int sql_sess_use_db(sql_sess *s, const char *db, size_t n, cm_err *err);
/* COM_RESET_CONNECTION and COM_CHANGE_USER: session variables from the globals, user variables
 * and diagnostics cleared, transaction ended. Prepared statements are the caller's. */
int sql_sess_reset(sql_sess *s, cm_err *err);
/* Records an error that did not come from a statement (a protocol error) for SHOW ERRORS. */
void sql_sess_note_error(sql_sess *s, const cm_err *err);

/* SQL_STATUS_* flags (IN_TRANS, AUTOCOMMIT, NO_BACKSLASH_ESCAPES). */
uint16_t sql_sess_status(const sql_sess *s);
uint16_t sql_sess_warning_count(const sql_sess *s);
/* Timeouts and limits of the session, from its variables. */
int64_t sql_sess_wait_timeout_ms(const sql_sess *s);
int64_t sql_sess_net_read_timeout_ms(const sql_sess *s);
int64_t sql_sess_max_allowed_packet(const sql_sess *s);
uint16_t sql_sess_collation(const sql_sess *s);

/* KILL: from any thread. query_only 1 interrupts the running statement; 0 also marks the
 * connection killed (the connection closes it). */
void sql_sess_interrupt(sql_sess *s, int query_only);
/* 2 when the connection was killed, 1 when the running query was, else 0. */
int sql_sess_killed(const sql_sess *s);

/* Copies user, host and database (for SHOW PROCESSLIST, from any thread). */
void sql_sess_copy_info(sql_sess *s, char *user, size_t user_cap, char *host, size_t host_cap,
                        char *db, size_t db_cap);
const char *sql_sess_user(const sql_sess *s);
/* KILL: whether self may kill target's statement or connection (its own user's, or SUPER). */
int sql_sess_may_kill(sql_sess *self, sql_sess *target);
/* SHOW PROCESSLIST: whether self sees every connection (PROCESS) or only its user's. */
int sql_sess_may_see_all(sql_sess *self);

/* Counters of this session (SHOW SESSION STATUS, COM_STATISTICS). */
uint64_t sql_sess_questions(const sql_sess *s);

#endif
