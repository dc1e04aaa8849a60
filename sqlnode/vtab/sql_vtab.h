/*
 * sql_vtab.h — the SQLite virtual-table module `tessera`: every MySQL table is a virtual table
 * whose rows and index entries live in the KV store under `t<id>_r<handle>` and
 * `t<id>_i<index>_<values>` (DESIGN.md §4, §7).
 *
 * The session registers the module once on its SQLite connection with its sql_vt_env and
 * declares tables lazily:
 *     CREATE VIRTUAL TABLE <schema>."<table>" USING tessera("<db>", "<table>")
 * xCreate/xConnect look the table up in env->schema(), declare its columns (types from
 * sql_type_sqlite_decl) and keep the table's id and version. The session drops and re-declares
 * tables when the schema version moves.
 *
 * Transactions belong to the session (DESIGN.md §7): the module reads and writes through the
 * cm_txn that env->txn() returns (the session begins one lazily at a fresh start_ts); xUpdate
 * only stages writes in that transaction's buffer. Statement atomicity is the session's: it takes
 * a checkpoint before stepping a statement and rolls back to it when the statement fails.
 * The module never commits.
 *
 * Reads: xBestIndex chooses among the handle (integer primary key) and the PUBLIC indexes with a
 * cost model (equality prefix + one range column), sets orderByConsumed when the scan order
 * serves ORDER BY, uses LIMIT/OFFSET only when every other constraint and the order are consumed
 * (SQLite 3.40 trap); xFilter builds key ranges: point gets and index lookups batched by region,
 * table scans through the coprocessor with the projection from colUsed (or cm_txn_scan when the
 * transaction has writes to merge), covering-index scans when colUsed allows.
 * Writes: xUpdate converts values with sql_type_store (strict per sql_mode), allocates handles
 * and AUTO_INCREMENT values (0 or NULL means next value), maintains every index according to its
 * state, checks unique keys (ER_DUP_ENTRY 1062 with MySQL's message), and honours the statement's
 * conflict mode (INSERT IGNORE, REPLACE) through sqlite3_vtab_on_conflict.
 */
#ifndef SQL_VTAB_H
#define SQL_VTAB_H

#include "cm_err.h"
#include "cm_kv_client.h"
#include "sql_catalog.h"

#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>

/* Most tables one transaction writes and remembers for the schema check at commit. */
#define SQL_VT_WRITTEN_MAX 64

/* Rows a locking read returned (sql_vt_env.locked). */
typedef struct sql_vt_locked {
    int64_t table; /* table id */
    int64_t handle;
} sql_vt_locked;
/* Most rows one SELECT … FOR UPDATE may lock (16 bytes each): beyond it the statement fails
 * rather than lock only part of what it read. */
#define SQL_VT_LOCKED_MAX 1000000u

/* Per-session environment, owned by the session; borrowed by the module for the connection's
 * life. The session fills the inputs before each statement and reads the outputs after it. */
typedef struct sql_vt_env {
    cm_kv_client *kc;
    sql_catalog *cat;
    void *sess; /* passed to the callbacks */
    /* The session's transaction, begun on first use. Errors are KV errors (CM_E_*). */
    int (*txn)(void *sess, cm_txn **out, cm_err *err);
    /* The schema snapshot the session runs statements against (borrowed). */
    const sql_schema *(*schema)(void *sess);
    /* Adds a warning to the statement's diagnostics (code = MySQL errno). */
    void (*warn)(void *sess, uint16_t code, const char *msg);
    /* Whether the statement SQLite is preparing (or re-preparing) may filter rows with terms
     * xBestIndex never sees: SQLite 3.40 offers LIMIT although a WHERE term comparing two
     * columns of the table stays hidden, so a TopN pushed below it would drop rows it keeps.
     * NULL: assume it may. */
    bool (*stmt_filters)(void *sess);

    /* inputs, per statement */
    bool strict;     /* sql_mode has STRICT_TRANS_TABLES or STRICT_ALL_TABLES */
    bool found_rows; /* CLIENT_FOUND_ROWS: UPDATE counts matched rows */
    /* @@tessera_copr_pushdown: push predicates, limits and aggregates to the coprocessor; off,
     * scans send plain plans (docs/coprocessor.md) */
    bool copr_pushdown;
    int64_t now_us; /* the statement's NOW() for DEFAULT/ON UPDATE CURRENT_TIMESTAMP */
    /* The columns an INSERT/REPLACE names, so that an explicit NULL is told from an omitted
     * column (SQLite passes NULL for both to a virtual table and drops the declared DEFAULTs):
     * insert_named[i] is true when SQLite column i of table insert_table (declaration order:
     * the table's PUBLIC columns) is named by the statement's column list — every column when
     * it has none; a column given as DEFAULT counts as not named. Borrowed for the statement;
     * NULL when the session does not know (then a NULL that is not a bound parameter into a
     * column with a non-NULL default is taken as omitted: an explicit NULL literal stores the
     * default, where MySQL stores NULL or refuses it with 1048). */
    const bool *insert_named;
    uint32_t ninsert_named;
    int64_t insert_table; /* table id insert_named describes */
    /* INSERT … ON DUPLICATE KEY UPDATE (session/sql_upsert.c): an INSERT row that conflicts
     * with an existing row is neither written nor an error; upsert_hit is set and upsert_handle
     * names the conflicting row (the first key in check order: row key, then the unique indexes
     * in index order — MySQL's choice). The session runs its UPDATE on that row. */
    bool upsert;
    bool upsert_hit;       /* output */
    int64_t upsert_handle; /* output */
    /* SELECT … FOR UPDATE in an explicit transaction (session/sql_lockread.c): while lock_reads
     * is set, every row a cursor returns is appended to locked (grown by the module with
     * realloc; the session frees it), and the session makes each a lock-only mutation of the
     * transaction after the statement, so that a row another transaction changes before this
     * one commits fails the commit (1213). locked_overflow: more than SQL_VT_LOCKED_MAX rows. */
    bool lock_reads;
    sql_vt_locked *locked;
    uint32_t nlocked, cap_locked;
    bool locked_overflow;

    /* outputs, per statement (the session zeroes them before stepping) */
    uint64_t affected;        /* MySQL affected rows (REPLACE of an existing row counts 2) */
    uint64_t first_insert_id; /* first AUTO_INCREMENT value generated (LAST_INSERT_ID) */
    bool insert_id_set;
    cm_err err; /* the MySQL error behind a failed xUpdate/xFilter (code != 0), e.g. 1062 */

    /* statistics, cumulative (the module only adds; the session may read or zero them) */
    uint64_t check_reads; /* cm_txn_batch_get calls made for duplicate-key checks of writes */
    uint64_t row_reads;   /* rows UPDATE/DELETE read again with cm_txn_get (not kept by a scan) */

    /* per transaction: tables written, for the schema-version check at commit (the session
     * clears it when the transaction ends) */
    int64_t written[SQL_VT_WRITTEN_MAX];
    uint32_t nwritten;
    bool written_overflow; /* more tables than fit: check every table's version */
} sql_vt_env;

/* The collation of CHAR/VARCHAR/TEXT columns in the declarations: utf8mb4_bin's PAD SPACE
 * comparison (cm_codec_string_cmp), registered by sql_vt_register. */
#define SQL_VT_PAD_COLLATION "tessera_pad"

/* Registers module "tessera" and collation SQL_VT_PAD_COLLATION on db with env (borrowed). */
int sql_vt_register(sqlite3 *db, sql_vt_env *env, cm_err *err);

#endif
