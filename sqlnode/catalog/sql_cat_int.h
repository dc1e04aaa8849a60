/*
 * sql_cat_int.h — private to sqlnode/catalog: the snapshot's layout, the binary encoding of
 * database and table definitions, the DDL statement tree the parser produces, and the pure
 * checks that turn a CREATE TABLE into a table definition (unit-tested without a cluster).
 */
#ifndef SQL_CAT_INT_H
#define SQL_CAT_INT_H

#include "cm_arena.h"
#include "sql_catalog.h"

#include <pthread.h>

/* Limits (MySQL's, so clients meet the errors they know). */
#define SQL_CAT_NAME_CHARS_MAX  64    /* identifiers: 1059 beyond (MySQL NAME_CHAR_LEN) */
#define SQL_CAT_COLS_MAX        4096  /* columns per table: 1117 (InnoDB's 1017 is lower) */
#define SQL_CAT_INDEXES_MAX     64    /* indexes per table: 1069 (MySQL MAX_KEY) */
#define SQL_CAT_KEY_PARTS_MAX   16    /* columns per index: 1070 (MySQL MAX_REF_PARTS) */
#define SQL_CAT_COMMENT_MAX     2048  /* table comment characters: 1628 (MySQL's) */
#define SQL_CAT_COL_COMMENT_MAX 1024  /* column and index comment characters: 1629/1688 */
#define SQL_CAT_MEMBERS_MAX     65535 /* ENUM/SET members a stored definition may carry */
#define SQL_CAT_DDL_RETRIES     10    /* a DDL transaction re-run on write conflict */
#define SQL_CAT_BACKFILL_BATCH  512   /* rows per backfill transaction (DESIGN §8) */
#define SQL_CAT_VALUE_BYTES_MAX                                                                    \
    (1u << 20) /* a stored string: the longest default (VARCHAR(65535)                             \
                   in 4-byte characters) fits with room */

/* Stored format versions (the first byte of each value). */
#define SQL_CAT_DB_FORMAT    1
#define SQL_CAT_TABLE_FORMAT 1

/* Metadata key names (docs/sql-layer.md "Metadata keys"). */
#define SQL_CAT_KEY_VERSION "SchemaVersion" /* string: uint64 LE */
#define SQL_CAT_KEY_DBS     "DBs"           /* hash: "DB:<id>" -> database definition */

/* ---- the snapshot ---------------------------------------------------------------------------- */

struct sql_schema {
    int refs; /* atomic */
    uint64_t version;
    cm_arena arena; /* every definition of the snapshot lives here */
    uint32_t ndbs;
    sql_cat_db *dbs;      /* sorted by name, case-insensitively */
    uint32_t *db_first;   /* per database: index of its first table in tables[] */
    uint32_t *db_ntables; /* per database: number of tables */
    uint32_t ntables;
    sql_cat_table **tables; /* grouped by database (db order), by name within */
    sql_cat_table **by_id;  /* sorted by id */
};

/* Builds a snapshot from definitions allocated in *arena (moved into the snapshot; the caller's
 * arena is left empty). Only PUBLIC databases and tables are kept; tables whose database is
 * missing are dropped. refs = 1. */
int sql_schema_build(uint64_t version, cm_arena *arena, sql_cat_db *dbs, uint32_t ndbs,
                     sql_cat_table **tables, uint32_t ntables, sql_schema **out, cm_err *err);

/* ---- definition encoding ------------------------------------------------------------------- */

int sql_cat_encode_db(const sql_cat_db *d, cm_buf *out);
/* Strings are allocated in a. CM_E_CORRUPT on anything malformed. */
int sql_cat_decode_db(cm_slice in, cm_arena *a, sql_cat_db *out, cm_err *err);
/* Index columns are stored by column id; offsets are rebuilt when decoding. */
int sql_cat_encode_table(const sql_cat_table *t, cm_buf *out);
int sql_cat_decode_table(cm_slice in, cm_arena *a, sql_cat_table *out, cm_err *err);

/* Meta keys. */
int sql_cat_key_version(cm_buf *k);
int sql_cat_key_db(cm_buf *k, int64_t db_id); /* DBs / DB:<id> */
int sql_cat_key_dbs_range(cm_buf *start, cm_buf *end);
int sql_cat_key_table(cm_buf *k, int64_t db_id, int64_t table_id);   /* DB:<db> / Table:<id> */
int sql_cat_key_autoid(cm_buf *k, int64_t db_id, int64_t table_id);  /* DB:<db> / TID:<id> */
int sql_cat_key_db_range(int64_t db_id, cm_buf *start, cm_buf *end); /* all of hash DB:<db> */

/* ---- DDL statements (sql_ddl_parse.c) ------------------------------------------------------ */

typedef enum sql_ddl_kind {
    SQL_DDL_CREATE_DB = 1,
    SQL_DDL_DROP_DB,
    SQL_DDL_CREATE_TABLE,
    SQL_DDL_CREATE_LIKE,
    SQL_DDL_DROP_TABLE,
    SQL_DDL_ALTER_TABLE, /* also CREATE INDEX / DROP INDEX */
    SQL_DDL_TRUNCATE,
    SQL_DDL_RENAME_TABLE,
} sql_ddl_kind;

typedef struct sql_ddl_name {
    char *db; /* NULL: the current database */
    char *name;
} sql_ddl_name;

typedef struct sql_ddl_keypart {
    char *col;
    uint32_t prefix_len; /* 0: whole value */
} sql_ddl_keypart;

typedef struct sql_ddl_index {
    char *name; /* NULL: generated */
    bool unique, primary;
    uint32_t nparts;
    sql_ddl_keypart *parts;
    char *comment;
} sql_ddl_index;

/* A column as declared, with its inline key flags. */
typedef struct sql_ddl_col {
    sql_cat_col col;     /* name, type, not_null, defaults, auto_inc, comment */
    bool null_explicit;  /* NULL written */
    bool inline_primary; /* PRIMARY KEY / KEY in the column definition */
    bool inline_unique;  /* UNIQUE [KEY] */
    bool def_literal;    /* DEFAULT <literal> (not NULL): def_value, checked when building */
    sql_value def_value; /* text/blob payloads in the statement's arena */
    uint8_t now_fsp;     /* DEFAULT CURRENT_TIMESTAMP(n) */
    uint8_t upd_fsp;     /* ON UPDATE CURRENT_TIMESTAMP(n) */
} sql_ddl_col;

typedef enum sql_alter_kind {
    SQL_ALTER_ADD_INDEX = 1,
    SQL_ALTER_DROP_INDEX,
    SQL_ALTER_RENAME_INDEX,  /* RENAME {INDEX|KEY} ix.name TO new_name */
    SQL_ALTER_OPTIONS,       /* table options: in the statement's charset/engine/comment/… */
    SQL_ALTER_NOOP,          /* DISABLE KEYS / ENABLE KEYS (mysqldump) */
    SQL_ALTER_ADD_COLUMN,    /* ADD [COLUMN] col [FIRST | AFTER c] (one op per column of a list) */
    SQL_ALTER_DROP_COLUMN,   /* DROP [COLUMN] col_name */
    SQL_ALTER_RENAME_COLUMN, /* RENAME COLUMN col_name TO new_name */
    SQL_ALTER_MODIFY_COLUMN, /* MODIFY [COLUMN] col … / CHANGE [COLUMN] col_name col … */
} sql_alter_kind;

typedef enum sql_col_pos {
    SQL_COL_POS_LAST = 0,
    SQL_COL_POS_FIRST = 1,
    SQL_COL_POS_AFTER = 2, /* after pos_col */
} sql_col_pos;

typedef struct sql_alter_op {
    uint8_t kind;     /* sql_alter_kind */
    sql_ddl_index ix; /* ADD: the index; DROP: ix.name (ix.primary for DROP PRIMARY KEY) */
    char *new_name;   /* RENAME INDEX; RENAME COLUMN's new name */
    char *col_name;  /* DROP / RENAME / CHANGE COLUMN: the existing column (MODIFY: col.col.name) */
    sql_ddl_col col; /* ADD / MODIFY / CHANGE COLUMN: the new definition */
    uint8_t pos;     /* sql_col_pos (ADD / MODIFY / CHANGE) */
    char *pos_col;   /* SQL_COL_POS_AFTER: that column */
} sql_alter_op;

typedef struct sql_ddl_stmt {
    uint8_t kind; /* sql_ddl_kind */
    bool if_not_exists, if_exists;
    bool create_index;   /* ALTER built from CREATE INDEX (1061/1091 wording) */
    sql_ddl_name target; /* database (name only) or table */
    sql_ddl_name like;   /* CREATE TABLE … LIKE */
    uint32_t nnames;     /* DROP TABLE list; RENAME: pairs (from, to) */
    sql_ddl_name *names;
    /* CREATE DATABASE / table options */
    char *charset, *collation, *engine, *comment;
    bool has_autoinc_start;
    uint64_t autoinc_start;
    /* CREATE TABLE */
    uint32_t ncols;
    sql_ddl_col *cols;
    uint32_t nindexes;
    sql_ddl_index *indexes;
    /* ALTER TABLE */
    uint32_t nops;
    sql_alter_op *ops;
} sql_ddl_stmt;

/* Parses t[0, n) into *st (allocations in a). CM_E_PARSE (1064) on a syntax error,
 * CM_E_UNSUPPORTED (1235) for DDL this module does not run, or the type module's errors. */
int sql_ddl_parse(const char *src, const sql_token *t, uint32_t n, cm_arena *a, sql_ddl_stmt *st,
                  cm_err *err);
/* The same for tokens lexed under lex_mode (SQL_MODE_NO_BACKSLASH_ESCAPES changes strings). */
int sql_ddl_parse_mode(const char *src, const sql_token *t, uint32_t n, unsigned lex_mode,
                       cm_arena *a, sql_ddl_stmt *st, cm_err *err);

/* Index ids for a definition are drawn from this (PD in production, a counter in tests). */
typedef int (*sql_cat_id_cb)(void *user, int64_t *id, cm_err *err);

/* Turns a parsed CREATE TABLE into a table definition (allocated in a): column ids, the handle
 * rule, primary/unique/secondary indexes with generated names, defaults checked against the
 * types, the limits and MySQL's error codes. id/db_id set by the caller afterwards. */
int sql_ddl_build_table(const sql_ddl_stmt *st, cm_arena *a, sql_cat_id_cb id_cb, void *id_user,
                        sql_cat_table *out, cm_err *err);
/* Adds index ix (ids from id_cb) to a copy of t; t unchanged. *added gets the new index in out. */
int sql_ddl_add_index(const sql_cat_table *t, const sql_ddl_index *ix, cm_arena *a,
                      sql_cat_id_cb id_cb, void *id_user, sql_cat_table *out, cm_err *err);
/* Deep copy of t into a. */
int sql_cat_table_copy(const sql_cat_table *t, cm_arena *a, sql_cat_table *out, cm_err *err);

/* Identifier checks shared by parser and executor. */
int sql_cat_check_name(const char *name, int kind_code, cm_err *err);

/* Characters of a UTF-8 string (continuation bytes do not count). */
size_t sql_cat_chars(const char *s);

/* Case-insensitive ASCII comparison. */
int sql_cat_namecmp(const char *a, const char *b);

/* ---- the catalog --------------------------------------------------------------------------- */

typedef struct sql_autoid_ent {
    int64_t table_id; /* 0: empty slot */
    uint64_t next;    /* next value to hand out */
    uint64_t end;     /* last value of the batch (inclusive); next > end: exhausted */
} sql_autoid_ent;

struct sql_catalog {
    cm_kv_client *kc;
    sql_cat_options opt;
    pthread_mutex_t mu; /* current, autoid */
    sql_schema *current;
    pthread_mutex_t load_mu; /* one load at a time */
    pthread_mutex_t ddl_mu;  /* one DDL at a time on this node */
    /* poll thread */
    pthread_t poller;
    bool poller_started;
    pthread_mutex_t stop_mu;
    pthread_cond_t stop_cv;
    bool stopping;
    /* AUTO_INCREMENT batches: open addressing by table id */
    sql_autoid_ent *autoid;
    uint32_t autoid_cap, autoid_n;
    /* accounts (sql_cat_user.c): the snapshot under mu, loads under load_mu */
    struct sql_users *users;
    /* online DDL (sql_ddl_int.h) */
    char node_id[33];           /* random hex, made at open */
    char address[300];          /* under mu; "" until sql_cat_set_address */
    struct sql_cat_sync *sync;  /* sql_cat_sync.c */
    struct sql_ddl_worker *ddl; /* sql_ddl_job.c */
};

/* Loads the schema stored at t's snapshot (version read from t); *out refs = 1. */
int sql_cat_load(cm_txn *t, sql_schema **out, cm_err *err);
/* The schema version key read / written in t. */
int sql_cat_read_version(cm_txn *t, uint64_t *v, bool *found, cm_err *err);
int sql_cat_write_version(cm_txn *t, uint64_t v, cm_err *err);
/* Installs s as current if newer (takes the reference either way). */
void sql_cat_install(sql_catalog *c, sql_schema *s);
/* Allocates n ids from PD. */
int sql_cat_alloc_ids(sql_catalog *c, uint32_t n, int64_t *first, cm_err *err);
/* Forgets this node's AUTO_INCREMENT batch of a table (DROP / TRUNCATE). */
void sql_cat_autoid_forget(sql_catalog *c, int64_t table_id);

/* SHOW CREATE TABLE's text of t (appended to b, NUL-terminated); next_autoid > 1 prints the
 * AUTO_INCREMENT= option as MySQL does. */
int sql_cat_create_table_text(const sql_cat_table *t, uint64_t next_autoid, cm_buf *b);
/* The table's next AUTO_INCREMENT value as SHOW reports it: the allocator's base + 1 (at least
 * the AUTO_INCREMENT= start), read at a fresh snapshot; c NULL or a failed read: the start. */
uint64_t sql_cat_autoid_peek(sql_catalog *c, const sql_cat_table *t);
/* SHOW helpers shared with DESCRIBE. */
int sql_cat_show_columns(const sql_cat_table *t, bool full, const char *like, sql_sink *sink,
                         cm_err *err);

#endif
