/*
 * sql_ddl_int.h — private to sqlnode/catalog: online DDL (DESIGN.md §8, docs/ddl.md).
 *
 * Pieces and their files:
 *   sql_ddl_job.c      jobs: record encoding, queue and history keys, submission and waiting,
 *                      the DDL worker (owner campaign through PD, the state machine of every
 *                      job, compare-and-set steps), ADMIN SHOW DDL [JOBS], ADMIN CANCEL
 *   sql_cat_sync.c     schema lease and version sync: the version every sqlnode has loaded is
 *                      published in PD's registry; the owner waits for it; the lease gate
 *   sql_ddl_backfill.c parallel index backfill by region with a persisted checkpoint
 *   sql_ddl_check.c    ADMIN CHECK TABLE / INDEX
 *   sql_ddl_build.c    column definitions (ADD / DROP / RENAME / MODIFY COLUMN)
 */
#ifndef SQL_DDL_INT_H
#define SQL_DDL_INT_H

#include "sql_cat_int.h"

/* ---- job records (sql_ddl_job.c) ------------------------------------------------------------ */

/* Job types (stored numbers: never renumber). */
typedef enum sql_job_type {
    SQL_JOB_CREATE_DB = 1,
    SQL_JOB_DROP_DB = 2,
    SQL_JOB_CREATE_TABLE = 3,
    SQL_JOB_DROP_TABLE = 4,
    SQL_JOB_TRUNCATE = 5,
    SQL_JOB_RENAME_TABLE = 6,
    SQL_JOB_ALTER_TABLE = 7, /* anything else of ALTER TABLE, or several kinds at once */
    SQL_JOB_ADD_INDEX = 8,
    SQL_JOB_DROP_INDEX = 9,
    SQL_JOB_ADD_COLUMN = 10,
    SQL_JOB_DROP_COLUMN = 11,
    SQL_JOB_MODIFY_COLUMN = 12,
    SQL_JOB_RENAME_COLUMN = 13,
    SQL_JOB_CREATE_LIKE = 14,
} sql_job_type;

/* Job states (stored numbers). A job is in the queue while queueing/running/rollingback and in
 * the history once synced, rollback done or cancelled. */
typedef enum sql_job_state {
    SQL_JOB_QUEUEING = 1,
    SQL_JOB_RUNNING = 2,
    SQL_JOB_ROLLINGBACK = 3,
    SQL_JOB_DONE = 4, /* done, not yet synced (only between two steps of the owner) */
    SQL_JOB_ROLLBACK_DONE = 5,
    SQL_JOB_CANCELLED = 6,
    SQL_JOB_SYNCED = 7,
} sql_job_state;

/* One schema object an ALTER TABLE job moves through the F1 states. */
typedef enum sql_elem_kind {
    SQL_ELEM_INDEX = 1,
    SQL_ELEM_COLUMN = 2,
} sql_elem_kind;

typedef struct sql_job_elem {
    uint8_t kind; /* sql_elem_kind */
    uint8_t add;  /* 1: being added, 0: being dropped */
    int64_t id;   /* index id or column id */
} sql_job_elem;

typedef struct sql_ddl_job {
    int64_t id;           /* from PD; queue and history are in id order */
    uint8_t type;         /* sql_job_type */
    uint8_t state;        /* sql_job_state */
    uint8_t schema_state; /* sql_obj_state of the job's objects (what ADMIN SHOW prints) */
    bool cancel;          /* ADMIN CANCEL asked for it */
    int64_t db_id, table_id;
    char *db_name, *table_name; /* for display */
    char *query;                /* the statement text as the client sent it */
    char *curdb;                /* the session's database at submission, NULL: none */
    uint32_t lex_mode;          /* SQL_MODE_* bits the statement was lexed under */
    uint32_t nelems;
    sql_job_elem *elems;
    uint64_t schema_version; /* the version of its last state change */
    uint64_t row_count;      /* rows backfilled so far */
    char *reorg_key;         /* backfill checkpoint: every row key below it is done */
    uint32_t reorg_key_len;  /* 0: the backfill has not started */
    char *owner;             /* node id of the owner that last moved it, NULL: none yet */
    uint64_t owner_term;     /* that owner's lease term */
    int32_t err_code;        /* CM_E_* of a failed job, 0 */
    char *err_msg;           /* its message, NULL */
    uint16_t warning_code;   /* a note of the statement (1050 with IF NOT EXISTS …), 0 */
    char *warning_msg;
    uint64_t affected;                    /* the statement's affected rows */
    uint64_t create_ms, start_ms, end_ms; /* wall clock, unix ms; 0: not yet */
} sql_ddl_job;

/* Stored format (first byte). */
#define SQL_DDL_JOB_FORMAT 1
int sql_ddl_job_encode(const sql_ddl_job *j, cm_buf *out);
/* Strings and arrays allocated in a. CM_E_CORRUPT on anything malformed. */
int sql_ddl_job_decode(cm_slice in, cm_arena *a, sql_ddl_job *out, cm_err *err);
/* Display names: "add index", … / "queueing", "running", … / "delete only", "public", … */
const char *sql_ddl_job_type_name(uint8_t type);
const char *sql_ddl_job_state_name(uint8_t state);
const char *sql_ddl_obj_state_name(uint8_t state);

/* Metadata keys: hash DDLJobQueue / Job:<id as 16 hex digits> (pending and running jobs), hash
 * DDLJobHistory / Job:<id> (finished ones). */
int sql_ddl_key_queue(cm_buf *k, int64_t job_id);
int sql_ddl_key_queue_range(cm_buf *start, cm_buf *end);
int sql_ddl_key_history(cm_buf *k, int64_t job_id);
int sql_ddl_key_history_range(cm_buf *start, cm_buf *end);

/* ---- steps (sql_ddl.c) ------------------------------------------------------------------------
 */

typedef struct sql_ddl_step_out {
    bool wrote;    /* definitions changed: the step writes schema version + 1 */
    bool finished; /* the job ends with this step (done, rolled back or cancelled) */
    bool failed;   /* the statement failed (j->err_code): nothing of t may be committed */
    uint32_t nforget;
    int64_t forget[64]; /* tables whose AUTO_INCREMENT batches this node drops afterwards */
} sql_ddl_step_out;

/* Runs one step of job j inside the owner's transaction t, whose snapshot has schema s at
 * `version`: the first step (j->state QUEUEING) parses and applies the statement (single-step
 * statements end there; ALTER TABLE records the objects it adds or drops in j->elems at their
 * first state); later steps move every element one state (adds forward, or back when
 * ROLLINGBACK). Definitions are written into t with version + 1; j is updated in place (strings
 * in a). Statement errors (1050, 1061, 1091 …) come back as out->failed with j->err_code /
 * err_msg set and 0 returned; a non-zero return is a transient error (retry the step). */
int sql_ddl_step(sql_catalog *c, cm_txn *t, sql_schema *s, uint64_t version, sql_ddl_job *j,
                 cm_arena *a, sql_ddl_step_out *out, cm_err *err);
/* Ids of j's add-index elements in WRITE_REORG in t (the backfill's work); returns how many. */
uint32_t sql_ddl_reorg_indexes(const sql_ddl_job *j, const sql_cat_table *t, int64_t *ids);
/* Fills j's type, names and statement fields for a parsed statement (submission). */
int sql_ddl_job_describe(const sql_ddl_stmt *st, const char *curdb, sql_ddl_job *j, cm_arena *a);
/* Whether an error code is a statement's error (the job fails) rather than a transient one of
 * the KV store (the step is retried). */
bool sql_ddl_is_stmt_error(int code);

/* The DDL worker of this node: campaigns for the owner lease (PD election "ddl_owner") and, while
 * owner, runs the queued jobs one at a time. Started by sql_cat_open, stopped by sql_cat_close. */
int sql_ddl_worker_start(sql_catalog *c, cm_err *err);
void sql_ddl_worker_stop(sql_catalog *c);

/* ---- schema lease and version sync (sql_cat_sync.c) ------------------------------------------ */

/* Registry keys "ddl/schema/<node id>": value = uint64 LE loaded version followed by the node's
 * address (text, may be empty); TTL = the schema lease. */
#define SQL_CAT_REG_SCHEMA "ddl/schema/"

/* Starts publishing (called by sql_cat_open after the first load); stop before close. */
int sql_cat_sync_start(sql_catalog *c, cm_err *err);
void sql_cat_sync_stop(sql_catalog *c);
/* Records that the schema version was read (and installed when it moved) from a snapshot whose
 * read began at mono_ms: renews the lease and publishes on change. Called by sql_cat_reload. */
void sql_cat_sync_note_loaded(sql_catalog *c, uint64_t version, int64_t mono_ms);
/* Owner side: waits until every live sqlnode's published version is >= v, or two leases have
 * passed since the call, or the catalog is closing. *all (may be NULL): every node got there.
 * Returns 0, or an error of PD that lasted the whole wait. */
int sql_cat_wait_synced(sql_catalog *c, uint64_t v, bool *all, cm_err *err);

/* ---- index backfill (sql_ddl_backfill.c) ------------------------------------------------------
 */

typedef struct sql_bf_options {
    uint32_t workers;    /* batch transactions in flight (default 4) */
    uint32_t batch_rows; /* rows per batch transaction (default 2048) */
    int64_t job_id;      /* for logs */
} sql_bf_options;
void sql_bf_options_default(sql_bf_options *o);

/* Checkpoint: every row key < next_key has its entries committed; rows_done counts rows
 * backfilled including rows_before. Called on the backfill's calling thread, about once a
 * second and once at the end. A non-zero return (err set) stops the backfill with that error
 * (ownership lost, job cancelled). */
typedef int (*sql_bf_ckpt_cb)(void *user, cm_slice next_key, uint64_t rows_done, cm_err *err);

/* Writes the entries of the indexes index_ids[0, nids) of t (present in t, any state) for every
 * row of t from the row key `from` (empty: the table's first row) to the table's end: batches
 * split by region, up to o->workers in parallel, each batch its own transaction at its own
 * start_ts that locks every row key it reads (a row changed after the batch's snapshot makes
 * the batch conflict and run again). A unique index entry of another handle fails the backfill
 * with CM_E_DUP_ENTRY and MySQL's message (Duplicate entry 'v' for key 't.idx'). Failpoint
 * "ddl_backfill_batch_sleep_ms": each batch sleeps that long first. */
int sql_ddl_backfill(sql_catalog *c, const sql_cat_table *t, const int64_t *index_ids,
                     uint32_t nids, cm_slice from, uint64_t rows_before, const sql_bf_options *o,
                     sql_bf_ckpt_cb ckpt, void *user, cm_err *err);

/* ---- columns (sql_ddl_build.c) -------------------------------------------------------------- */

/* ADD COLUMN op on t: a copy in out with the column added in `state` (id t->next_col_id, placed
 * FIRST / AFTER / last), its default checked (1067) and kept as the value rows written before the
 * column existed read. *col_id receives its id. Errors: 1060 duplicate, 1054 unknown AFTER column,
 * 1067, 1235 for what needs a row rewrite or a key (inline PRIMARY KEY / UNIQUE / AUTO_INCREMENT).
 */
int sql_ddl_add_column(const sql_cat_table *t, const sql_alter_op *op, uint8_t state, cm_arena *a,
                       sql_cat_table *out, uint32_t *col_id, cm_err *err);
/* DROP COLUMN op on t: checks it (1091 unknown, 1090 last column, 1235 a column of an index, the
 * handle or the AUTO_INCREMENT column) and gives the column's id. */
int sql_ddl_drop_column_check(const sql_cat_table *t, const sql_alter_op *op, uint32_t *col_id,
                              cm_err *err);
/* RENAME COLUMN, and MODIFY / CHANGE COLUMN that need no row rewrite (same stored type, wider or
 * equal length, NULL-ability loosened, default / comment / position): a copy of t in out with the
 * change, in one step. 1235 for changes that would rewrite rows; 1054, 1060 as MySQL. */
int sql_ddl_change_column(const sql_cat_table *t, const sql_alter_op *op, cm_arena *a,
                          sql_cat_table *out, cm_err *err);
/* Removes column col_id from t in place: later columns' offsets, index column offsets,
 * handle_col and autoinc_col move down. Nothing when absent. */
void sql_cat_table_remove_column(sql_cat_table *t, uint32_t col_id);

#endif
