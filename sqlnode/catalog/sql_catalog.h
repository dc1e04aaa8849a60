/*
 * sql_catalog.h — the schema: databases, tables, columns and indexes kept in metadata keys
 * (`m…`, DESIGN.md §4) of the KV store, with a global schema version; ids from PD, never reused;
 * DDL statements (CREATE/DROP DATABASE, CREATE/DROP TABLE, CREATE/DROP INDEX, ALTER TABLE
 * ADD/DROP INDEX, TRUNCATE) and the SHOW statements about schema objects; AUTO_INCREMENT and
 * hidden row id allocation in batches per sqlnode.
 *
 * One sql_catalog per sqlnode process (thread-safe). Readers take an immutable snapshot
 * (sql_schema) with sql_cat_acquire and release it when done; the catalog replaces its current
 * snapshot whenever it loads a newer schema version (after a DDL statement on this node, and by
 * polling the version key for DDL made on other nodes). Every schema object carries an F1 state
 * (DESIGN.md §8); the DDL of this module moves objects straight to PUBLIC (or removes them), the
 * multi-node online protocol arrives with the online-DDL issue.
 *
 * Names: database, table, column and index names compare case-insensitively (as TiDB does) and
 * keep the case they were created with.
 */
#ifndef SQL_CATALOG_H
#define SQL_CATALOG_H

#include "cm_codec.h"
#include "cm_err.h"
#include "cm_kv_client.h"
#include "sql_lexer.h"
#include "sql_types.h"
#include "sql_value.h"

#include <stdbool.h>
#include <stdint.h>

/* F1 states of a schema object (DESIGN.md §8). Stored numbers: never renumber. */
typedef enum sql_obj_state {
    SQL_OBJ_NONE = 0,
    SQL_OBJ_DELETE_ONLY = 1,
    SQL_OBJ_WRITE_ONLY = 2,
    SQL_OBJ_WRITE_REORG = 3,
    SQL_OBJ_DELETE_REORG = 4,
    SQL_OBJ_PUBLIC = 5,
} sql_obj_state;

typedef struct sql_cat_col {
    uint32_t id;     /* column id in stored rows (cm_row); never reused within the table */
    uint32_t offset; /* position in the table (the SQLite column index) */
    char *name;
    sql_coltype type;
    bool not_null;
    bool auto_inc;
    bool has_default;   /* DEFAULT given (or implied NULL for nullable columns) */
    bool default_null;  /* DEFAULT NULL */
    bool default_now;   /* DEFAULT CURRENT_TIMESTAMP[(fsp)] */
    bool on_update_now; /* ON UPDATE CURRENT_TIMESTAMP */
    char *default_text; /* the default value as text (already checked against the type) */
    char *comment;      /* NULL: none */
    uint8_t state;      /* sql_obj_state */
    /* Origin default (docs/ddl.md "Columns"): set for a column added by ALTER TABLE, the value a
     * row stored before the column existed reads (MySQL: the column's value at ALTER time — its
     * default, the type's implicit zero for NOT NULL without DEFAULT, the ALTER's time for
     * DEFAULT CURRENT_TIMESTAMP). Kept as a one-cell cm_row (cell id 1; a NULL cell: NULL) so it
     * does not depend on the time zone of whoever reads it, and never changed afterwards. */
    bool has_origin;
    uint8_t *origin;
    uint32_t origin_len;
} sql_cat_col;

typedef struct sql_cat_index {
    int64_t id; /* index id (from PD); the `_i<id>` of its keys */
    char *name; /* "PRIMARY" for a primary key that is not the handle */
    bool unique;
    bool primary;
    uint32_t ncols;
    uint32_t *cols;       /* column offsets in the table, in key order */
    uint32_t *prefix_len; /* per column: key prefix length in characters, 0 = whole value */
    char *comment;
    uint8_t state; /* sql_obj_state */
} sql_cat_index;

typedef struct sql_cat_table {
    int64_t id; /* table id (from PD): the `t<id>` of its keys */
    int64_t db_id;
    char *name;
    uint32_t ncols;
    sql_cat_col *cols; /* in declaration order: cols[i].offset == i */
    uint32_t nindexes;
    sql_cat_index *indexes; /* PRIMARY (when not the handle), unique, then the others; the
                               clustered primary key (handle_col >= 0) has no entry here */
    int32_t handle_col;     /* offset of the integer primary key column that is the row handle
                               (clustered), or -1: a hidden row id is the handle */
    int32_t autoinc_col;    /* offset of the AUTO_INCREMENT column, or -1 */
    uint64_t autoinc_start; /* AUTO_INCREMENT=N table option (1 when absent) */
    uint32_t next_col_id;   /* next column id to hand out */
    char *charset, *collation, *engine, *comment; /* table options as given (NULL: default) */
    uint64_t version; /* the schema version at which this table last changed */
    uint8_t state;    /* sql_obj_state */
} sql_cat_table;

typedef struct sql_cat_db {
    int64_t id;
    char *name;
    char *charset, *collation;
    uint8_t state;
} sql_cat_db;

/* An immutable snapshot of the whole schema at one version. */
typedef struct sql_schema sql_schema;

uint64_t sql_schema_version(const sql_schema *s);
/* Lookups (case-insensitive names); NULL when absent or not PUBLIC. */
const sql_cat_db *sql_schema_db(const sql_schema *s, const char *db);
const sql_cat_table *sql_schema_table(const sql_schema *s, const char *db, const char *table);
const sql_cat_table *sql_schema_table_by_id(const sql_schema *s, int64_t table_id);
/* The column of t named name, or NULL. */
const sql_cat_col *sql_table_col(const sql_cat_table *t, const char *name);
/* The value a stored row that lacks column c reads: its origin default when it has one (payloads
 * borrowed from c), else its literal default, else for a NOT NULL column the type's implicit
 * zero value (MySQL's: 0, '', the zero date, the first ENUM member, JSON null), else NULL.
 * Converted payloads are appended to mem (out points into it: re-point after mem moves). */
int sql_cat_col_origin(const sql_cat_col *c, cm_datum *out, cm_buf *mem, cm_err *err);
/* The index of t named name (any state), or NULL. A clustered primary key (handle_col >= 0) is
 * not in t->indexes. */
const sql_cat_index *sql_table_index(const sql_cat_table *t, const char *name);
/* Iteration: databases in name order; the tables of one database in name order. */
uint32_t sql_schema_ndbs(const sql_schema *s);
const sql_cat_db *sql_schema_db_at(const sql_schema *s, uint32_t i);
uint32_t sql_schema_ntables(const sql_schema *s, const sql_cat_db *db);
const sql_cat_table *sql_schema_table_at(const sql_schema *s, const sql_cat_db *db, uint32_t i);

typedef struct sql_catalog sql_catalog;

typedef struct sql_cat_options {
    int64_t poll_ms;              /* how often the version key is read for other nodes' DDL (100;
                                     at most lease_ms / 4) */
    uint32_t autoid_step;         /* AUTO_INCREMENT / row ids taken per batch by this node (1000) */
    int64_t lease_ms;             /* schema lease (45000; sqlnode config schema-lease, >= 1000) */
    int64_t owner_ttl_ms;         /* the DDL owner's lease in PD (min(lease_ms, 10000)) */
    uint32_t backfill_workers;    /* index backfill batches in flight (4) */
    uint32_t backfill_batch_rows; /* rows per backfill transaction (1024) */
    bool no_ddl_worker;           /* tests: do not campaign for DDL ownership (jobs of this node's
                                     statements are run by another node's owner) */
} sql_cat_options;
void sql_cat_options_default(sql_cat_options *o);

/* Opens the catalog over kc (borrowed), creating the initial metadata (schema version 1, the
 * databases `test` and `mysql`… as MySQL has them) on a fresh cluster, and loads the schema.
 * o may be NULL. Starts the polling thread. */
int sql_cat_open(cm_kv_client *kc, const sql_cat_options *o, sql_catalog **out, cm_err *err);
void sql_cat_close(sql_catalog *c);

/* The current snapshot (reference taken; never NULL after a successful open). */
sql_schema *sql_cat_acquire(sql_catalog *c);
void sql_schema_release(sql_schema *s);
/* Takes one more reference on s (a reader that hands the snapshot on). */
void sql_schema_retain(sql_schema *s);
/* The next AUTO_INCREMENT value of t (what SHOW CREATE TABLE / TABLE STATUS print). */
uint64_t sql_cat_autoid_peek(sql_catalog *c, const sql_cat_table *t);
/* Loads the schema now if the stored version moved (after a commit failed on a schema change). */
int sql_cat_reload(sql_catalog *c, cm_err *err);

/* This node's identity in the DDL registry: a random id made at open (what ADMIN SHOW DDL prints
 * as OWNER_ID / SELF_ID) and the address clients reach it at (set once the server listens). */
const char *sql_cat_node_id(const sql_catalog *c);
void sql_cat_set_address(sql_catalog *c, const char *addr);

/* The schema lease gate, called before every statement that reads or writes tables: 0 when this
 * node confirmed the current schema version within the last lease, else
 * CM_E_SCHEMA_OUT_OF_DATE (8027) — the node serves no table statement until its poll succeeds
 * again. */
int sql_cat_lease_check(sql_catalog *c, cm_err *err);

/* ---- DDL ----------------------------------------------------------------------------------- */

typedef struct sql_ddl_result {
    uint64_t affected; /* MySQL's affected-row count for the statement (0 for most DDL) */
    uint16_t warnings;
    char warning_msg[256]; /* the last warning (e.g. 1050 "Table 'x' already exists" with
                              IF NOT EXISTS, 1051 with IF EXISTS), for SHOW WARNINGS */
    uint16_t warning_code;
} sql_ddl_result;

/* Whether tokens t[0, n) are a DDL statement this module runs. */
bool sql_ddl_is_ddl(const char *src, const sql_token *t, uint32_t n);

/* Runs one DDL statement in its own KV transactions (the session commits its open transaction
 * first: DDL commits implicitly in MySQL). curdb: the session's database or NULL. On success the
 * catalog's current snapshot already includes the change. MySQL errors: 1007/1008 (database
 * exists / does not), 1049 unknown database, 1046 no database selected, 1050/1051 (table exists /
 * unknown table), 1061 duplicate key name, 1091 can't drop, 1060 duplicate column, 1068 multiple
 * primary keys, 1075 auto column must be a key, 1067 invalid default, 1064 syntax. */
int sql_ddl_exec(sql_catalog *c, const char *curdb, const char *src, const sql_token *t, uint32_t n,
                 sql_ddl_result *res, cm_err *err);
/* sql_ddl_exec for tokens lexed under the session's SQL_MODE_* bits (lex_mode): with
 * NO_BACKSLASH_ESCAPES a backslash in a DEFAULT or COMMENT string is a plain character.
 * sql_ddl_exec is this with lex_mode 0. */
int sql_ddl_exec_mode(sql_catalog *c, const char *curdb, unsigned lex_mode, const char *src,
                      const sql_token *t, uint32_t n, sql_ddl_result *res, cm_err *err);

/* The KV entry of index ix of table t for one row (docs/sql-layer.md "Index entries"), shared by
 * the vtab's index maintenance and the catalog's backfill so both write the same bytes.
 * vals[i] (borrowed) is the stored value of column ix->cols[i] (NULL datums allowed); column
 * prefixes (prefix_len) are applied here: STRING to that many UTF-8 characters, BYTES to that many
 * bytes. The key (cm_keys_append_index) is appended to key and the value to value:
 *   unique and no NULL:   key = prefix + datums,           value = int64 body of the handle (8 B)
 *   otherwise:            key = prefix + datums + handle,  value = the single byte 0x00
 * *handle_in_key (may be NULL) tells which. */
int sql_cat_index_entry(const sql_cat_table *t, const sql_cat_index *ix, const cm_datum *vals,
                        int64_t handle, cm_buf *key, cm_buf *value, bool *handle_in_key,
                        cm_err *err);

/* ---- ADMIN (online DDL, docs/ddl.md) -------------------------------------------------------- */

/* ADMIN SHOW DDL: one row SCHEMA_VER, OWNER_ID, OWNER_ADDRESS, RUNNING_JOBS, SELF_ID. */
int sql_ddl_admin_show_ddl(sql_catalog *c, sql_sink *sink, cm_err *err);
/* ADMIN SHOW DDL JOBS [n]: the queued and running jobs, then the n (10 when 0) newest finished
 * ones; columns JOB_ID, DB_NAME, TABLE_NAME, JOB_TYPE, SCHEMA_STATE, SCHEMA_ID, TABLE_ID,
 * ROW_COUNT, CREATE_TIME, START_TIME, END_TIME, STATE (TiDB's), newest first. */
int sql_ddl_admin_show_jobs(sql_catalog *c, uint32_t n, sql_sink *sink, cm_err *err);
/* ADMIN CANCEL DDL JOBS id[, id…]: one row (JOB_ID, RESULT) per id: "successful" or
 * "error: …" (not found, already done, past the point of no return). */
int sql_ddl_admin_cancel(sql_catalog *c, const int64_t *ids, uint32_t n, sql_sink *sink,
                         cm_err *err);
/* ADMIN CHECK TABLE t (index_name NULL: every PUBLIC index) and ADMIN CHECK INDEX t idx, at one
 * fresh snapshot: every row has exactly its entry in each checked index (same datums, same
 * handle) and every entry of those indexes has its row. 0 when consistent; CM_E_ADMIN_CHECK
 * (8003) naming the first difference; 1176 for an unknown index. */
int sql_ddl_check_table(sql_catalog *c, const sql_cat_table *t, const char *index_name,
                        cm_err *err);

/* ---- SHOW ---------------------------------------------------------------------------------- */

/* Whether t[0, n) is a SHOW this module answers: SHOW DATABASES|SCHEMAS, SHOW [FULL] TABLES
 * [FROM db] [LIKE|WHERE], SHOW [FULL] COLUMNS|FIELDS FROM t [FROM db], SHOW INDEX|INDEXES|KEYS
 * FROM t, SHOW CREATE TABLE t, SHOW CREATE DATABASE db, SHOW TABLE STATUS. */
bool sql_cat_is_show(const char *src, const sql_token *t, uint32_t n);
/* Sends the result's columns and rows to sink (not done(): the session sends that). */
int sql_cat_show(sql_catalog *c, const sql_schema *s, const char *curdb, const char *src,
                 const sql_token *t, uint32_t n, sql_sink *sink, cm_err *err);
/* Appends a BIT column's default (its value's bytes, big-endian, NUL-terminated) as MySQL prints
 * it in SHOW CREATE TABLE and information_schema: b'1010' (leading zero bits dropped; b'0'). */
void sql_cat_bit_literal(cm_buf *b, const char *bytes);
/* DESCRIBE t / DESC t: the rows of SHOW COLUMNS. */
int sql_cat_describe(sql_catalog *c, const sql_schema *s, const char *curdb, const char *table,
                     sql_sink *sink, cm_err *err);

/* ---- AUTO_INCREMENT and row ids ------------------------------------------------------------ */

/* Next AUTO_INCREMENT value (or hidden row id when t has no handle column) for t, from this
 * node's batch; a new batch is taken from the table's allocator key in its own transaction.
 * Values are unique and increasing per node. AUTO_INCREMENT values and hidden row ids of one
 * table come from the same allocator (a table with both gets distinct values for each use). */
int sql_cat_next_autoid(sql_catalog *c, const sql_cat_table *t, uint64_t *out, cm_err *err);
/* An explicit value v was inserted into the AUTO_INCREMENT column: later values are above it. */
int sql_cat_rebase_autoid(sql_catalog *c, const sql_cat_table *t, uint64_t v, cm_err *err);

#endif
