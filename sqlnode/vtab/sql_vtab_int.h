/*
 * sql_vtab_int.h — internals of the `tessera` virtual-table module shared by its files:
 * sql_vtab.c (module, declaration, schema re-check, values), sql_vtab_plan.c (xBestIndex and the
 * plan carried to xFilter), sql_vtab_scan.c (cursor: point gets, index lookups, scans),
 * sql_vtab_write.c (xUpdate: rows, index entries, unique checks, conflict modes).
 */
#ifndef SQL_VTAB_INT_H
#define SQL_VTAB_INT_H

#include "cm_codec.h"
#include "cm_copr.h"
#include "cm_cx.h"
#include "cm_keys.h"
#include "cm_row.h"
#include "sql_vtab.h"

/* Index entries read per batch before their rows are fetched with one cm_txn_batch_get: large
 * enough to amortize the round trip per region, small enough that a LIMIT stops early. */
#define SQL_VT_LOOKUP_BATCH 256
/* Rows taken from one coprocessor call before the cursor hands them out: four pages of the
 * client's default scan_page (256), so a stop lands on a page boundary when no region ends. */
#define SQL_VT_COPR_BATCH 1024
/* Later batches of one scan double up to this many rows or SQL_VT_COPR_BATCH_BYTES (whichever
 * comes first): a batch that stops abandons the pages other regions already sent (up to
 * SQL_VT_COPR_CONCURRENCY - 1 of them), so long scans take long batches; short ones and LIMITs
 * still stop early. */
#define SQL_VT_COPR_BATCH_MAX   16384
#define SQL_VT_COPR_BATCH_BYTES (16u << 20)
/* Regions one coprocessor scan reads at once (cm_kv_copr): memory is bounded by that many pages
 * in flight plus the batch. */
#define SQL_VT_COPR_CONCURRENCY 4
/* Rows of a plain multi-row INSERT kept before their keys are checked with one batch get and
 * written (sql_vtab_write.c, "deferred INSERT rows"): one RPC per region for 256 rows instead of
 * one per row; bounded so a huge INSERT … SELECT keeps a few hundred KB, not the statement. */
#define SQL_VT_INSERT_BATCH 256
/* Bytes of rows a writing statement's scans keep for its xUpdate calls (sql_vtab_scan.c, "kept
 * rows"): SQLite runs a multi-row UPDATE/DELETE of a virtual table in two passes (the scan
 * first, then one xUpdate per row), so the rows must outlive the cursor. 32 MB holds a
 * sysbench range (100 rows of ~190 bytes) thousands of times over and a DELETE of ~150,000 such
 * rows; rows beyond it are read again with a point get, as before. */
#define SQL_VT_KEPT_BYTES_MAX (32u << 20)
/* Rows assumed in a table for the cost model (no statistics yet). */
#define SQL_VT_EST_ROWS 1000000.0

/* Access paths. */
typedef enum vt_access {
    VT_FULL = 0,  /* every row, handle order */
    VT_PK_EQ = 1, /* one handle */
    VT_PK_RANGE = 2,
    VT_INDEX = 3, /* equality prefix of an index, optionally one range column after it */
} vt_access;

/* Plan flags. */
#define VT_P_LO       0x01 /* lower bound argument present */
#define VT_P_LO_INCL  0x02
#define VT_P_HI       0x04
#define VT_P_HI_INCL  0x08
#define VT_P_LIMIT    0x10  /* LIMIT argument present (a row budget) */
#define VT_P_OFFSET   0x20  /* OFFSET argument present (added to the budget, never skipped here) */
#define VT_P_COVERING 0x40  /* index scan answers every used column: no row fetch */
#define VT_P_IN       0x80  /* VT_PK_EQ: the argument is a whole IN list (sqlite3_vtab_in) */
#define VT_P_TOPN     0x100 /* LIMIT/OFFSET feed a TopN per region (ORDER BY not consumed) */
#define VT_P_MASK     0x1ff

/* What xBestIndex chose, carried in idxStr after the readable part ("... #k,i,n,f,mask"). */
typedef struct vt_plan {
    int access;    /* vt_access */
    int index;     /* position in the table's indexes (VT_INDEX) */
    int neq;       /* equality arguments (VT_INDEX), in index column order */
    int flags;     /* VT_P_* */
    uint64_t used; /* colUsed: bit i = SQLite column i, bit 63 = any column >= 63 */
} vt_plan;

/* Constraints handed to the coprocessor's selection (sql_vtab_push.c): most per table access,
 * and most values of one IN list pushed (the evaluator's stack holds the list; a longer list is
 * left to SQLite). */
#define VT_PUSH_MAX     48
#define VT_PUSH_IN_MAX  200
#define VT_PUSH_ORD_MAX 8
/* Largest LIMIT + OFFSET pushed as a TopN: every region sends up to that many rows and the
 * cursor holds them all until SQLite has sorted them (regions x rows), so keep it small; a
 * larger one scans as without TopN. */
#define VT_TOPN_MAX 10000

/* One pushed constraint. */
typedef struct vt_pterm {
    int cons; /* xBestIndex: constraint number */
    int argv; /* argv position (1-based; 0: no value, IS [NOT] NULL) */
    int vcol; /* SQLite column */
    int op;   /* SQLITE_INDEX_CONSTRAINT_* */
    bool omit;
    bool in; /* the value is a whole IN list (sqlite3_vtab_in) */
} vt_pterm;

/* What a table access pushes: the selection's constraints and the TopN's order. Travels in
 * idxStr after the plan numbers (";c<argv>.<vcol>.<op>.<flags>" per term, ";o<vcol>.<desc>" per
 * order term). */
typedef struct vt_push {
    int n;
    vt_pterm t[VT_PUSH_MAX];
    int norder;
    struct {
        int vcol;
        bool desc;
    } ord[VT_PUSH_ORD_MAX];
} vt_push;

/* A column as the module uses it. */
typedef struct vt_col {
    const sql_cat_col *c; /* borrowed from the table definition */
    uint32_t offset;      /* position in the table (sql_cat_col.offset) */
    cm_dtype dtype;
    bool written;  /* state PUBLIC / WRITE_ONLY / WRITE_REORG: stored in rows */
    bool visible;  /* PUBLIC: declared to SQLite */
    int vcol;      /* SQLite column number, -1 when not visible */
    cm_datum dflt; /* value of a row that lacks the column (ADD COLUMN later) */
} vt_col;

typedef struct sql_vt {
    sqlite3_vtab base;
    sqlite3 *db;
    sql_vt_env *env;
    char *dbname, *tname;
    int64_t table_id;
    uint64_t version;
    const sql_schema *schema; /* the snapshot t was taken from (borrowed, the session's) */
    const sql_cat_table *t;   /* borrowed from schema */
    uint32_t ncols;           /* t->ncols */
    vt_col *cols;             /* [ncols] by table offset */
    uint32_t nvis;            /* visible columns */
    uint32_t *vis;            /* [nvis]: table offset of SQLite column i */
    cm_buf dflt_mem;          /* payloads of cols[].dflt */
    int handle_vcol;          /* SQLite column of the handle, -1: hidden row id */

    /* scratch reused by xUpdate (no per-row malloc) */
    cm_buf key, key2, val, ival, nval, rowbuf, scratch, scratch2, msg;
    cm_datum *newv, *oldv; /* [ncols] */
    cm_arena arena;

    /* the last row a cursor of this table read, for xUpdate/DELETE of that row */
    bool cache_valid;
    int64_t cache_handle;
    cm_buf cache_row;
    void *checks; /* unique-check buffers (sql_vtab_write.c) */
    void *pend;   /* INSERT rows whose checks and writes are deferred (sql_vtab_write.c) */
    bool writing; /* between xBegin and xCommit/xRollback: the statement writes this table */
    void *kept;   /* rows the writing statement's scans read, by handle (sql_vtab_scan.c) */
    void *spare;  /* a closed cursor kept for the next statement (sql_vtab_scan.c) */
} sql_vt;

/* sql_vtab.c */
/* Makes v->t current against the session's schema snapshot; an error (schema changed) sets the
 * vtab's message. Returns SQLITE_OK or an error code. */
int sql_vt_refresh(sql_vt *v);
/* Records a failure: env->err (MySQL-facing) and the vtab's zErrMsg; returns the SQLite code
 * (SQLITE_CONSTRAINT for constraint errors, SQLITE_ERROR otherwise). */
int sql_vt_fail(sql_vt *v, const cm_err *err);
/* The session's transaction. */
int sql_vt_txn(sql_vt *v, cm_txn **out, cm_err *err);
/* Converts a stored datum of column col into SQLite's result (scratch reused). */
int sql_vt_result(sqlite3_context *ctx, const vt_col *col, const cm_datum *d, cm_buf *scratch,
                  cm_err *err);
/* Turns a SQLite value into a sql_value (payload borrowed from the sqlite3_value). */
sql_value sql_vt_value(sqlite3_value *in);
/* Decodes the written columns of row (borrowed) into out[ncols] by table offset; absent columns
 * get their default; columns not written are NULL. */
int sql_vt_decode_row(sql_vt *v, cm_slice row, cm_datum *out, cm_err *err);
/* Remembers that the transaction wrote this table (env->written). */
void sql_vt_mark_written(sql_vt *v);
/* Whether the transaction has written this table (its buffer may hold rows of it). */
bool sql_vt_table_dirty(sql_vt *v);

/* sql_vtab_plan.c */
int sql_vt_best_index(sqlite3_vtab *vtab, sqlite3_index_info *info);
/* Parses the plan part of idxStr; false when it is not ours. */
bool sql_vt_plan_parse(const char *idx_str, vt_plan *p);
/* Whether the index's key order gives column values back exactly (covering scans). */
bool sql_vt_index_exact(const sql_vt *v, const sql_cat_index *ix);

/* sql_vtab_push.c */
/* Chooses the constraints of a coprocessor access (full scan / handle range) to push: every
 * usable constraint not in taken[ntaken] on a visible column of a type the KV compares as SQLite
 * does; fills out->t (cons, vcol, op, omit, in; argv is set by the caller) and appends their
 * readable form to desc. omit only when the comparison with the (constant) operand is exactly
 * SQLite's. */
void sql_vt_push_choose(const sql_vt *v, sqlite3_index_info *info, const int *taken, int ntaken,
                        vt_push *out, char *desc, size_t desc_cap);
/* Whether ORDER BY can be a TopN per region: every term a plain column of a type whose KV order
 * is SQLite's order; fills out->ord. */
bool sql_vt_push_topn_ok(const sql_vt *v, const sqlite3_index_info *info, vt_push *out);
/* Appends the push part of idxStr (";c…;o…") for p to buf. */
void sql_vt_push_spec(const vt_push *p, char *buf, size_t cap);
/* Parses the push part of idxStr; false when malformed. */
bool sql_vt_push_parse(const char *idx_str, vt_push *out);
/* Builds the selection program of the pushed terms over plan columns: col_of[table offset] is
 * the plan column of that table column (-1: none). Terms whose value cannot be compared on the KV
 * as SQLite compares it are left out (SQLite re-checks them: never omitted). Returns 0 with
 * *nterms emitted (0: no program), or an error (CM_E_INTERNAL: an omitted term could not be
 * pushed exactly). */
int sql_vt_push_build(const sql_vt *v, const vt_push *p, int argc, sqlite3_value **argv,
                      const int *col_of, cm_cx_builder *b, cm_buf *scratch, int *nterms,
                      cm_err *err);

/* sql_vtab_scan.c */
int sql_vt_open(sqlite3_vtab *vtab, sqlite3_vtab_cursor **out);
int sql_vt_close(sqlite3_vtab_cursor *cur);
int sql_vt_filter(sqlite3_vtab_cursor *cur, int idx_num, const char *idx_str, int argc,
                  sqlite3_value **argv);
int sql_vt_next(sqlite3_vtab_cursor *cur);
int sql_vt_eof(sqlite3_vtab_cursor *cur);
int sql_vt_column(sqlite3_vtab_cursor *cur, sqlite3_context *ctx, int i);
int sql_vt_rowid(sqlite3_vtab_cursor *cur, sqlite3_int64 *rowid);
void sql_vt_free_spare(sql_vt *v);
/* Kept rows: *row borrows the kept copy of handle h's row (valid until the table's next scan
 * step or sql_vt_kept_clear); false when not kept. */
bool sql_vt_kept_find(sql_vt *v, int64_t h, cm_slice *row);
/* The statement wrote handle h: its kept copy is stale. */
void sql_vt_kept_forget(sql_vt *v, int64_t h);
void sql_vt_kept_clear(sql_vt *v);
void sql_vt_kept_free(sql_vt *v);
/* Turns a constraint value on the handle into inclusive bounds: returns false when no handle can
 * match; the bounds lo and hi are narrowed (SQLite's comparison rules for an INTEGER column). */
bool sql_vt_handle_bound(int op, sqlite3_value *val, int64_t *lo, int64_t *hi);
/* Key datum of index column k of ix for a constraint value (lookups), through
 * sql_type_key_value: *fit says how out relates to the value (EXACT, next value UP/DOWN, NONE:
 * no bound); a NULL value gives a NULL datum with fit EXACT; a value with nothing to key gives a
 * NULL datum with fit NONE. out is prefix-cut for a prefix column. */
int sql_vt_key_datum(sql_vt *v, const sql_cat_index *ix, uint32_t k, sqlite3_value *val,
                     cm_datum *out, cm_buf *scratch, sql_type_fit *fit, cm_err *err);
/* Whether a range constraint (lower: > or >=, op_incl: >= or <=) whose key value relates to the
 * operand as fit says bounds the key range (*use) and whether inclusively (*incl); pfx: a
 * prefix column (cut keys: inclusive); ordered: sql_type_key_ordered of the column. */
void sql_vt_key_bound(bool lower, bool op_incl, sql_type_fit fit, bool pfx, bool ordered, bool *use,
                      bool *incl);
/* Appends the (possibly prefix-truncated) key datum of index column k for a stored value. */
cm_datum sql_vt_index_datum(const sql_vt *v, const sql_cat_index *ix, uint32_t k,
                            const cm_datum *d);

/* sql_vtab_write.c */
int sql_vt_update(sqlite3_vtab *vtab, int argc, sqlite3_value **argv, sqlite3_int64 *rowid);
void sql_vt_free_checks(sql_vt *v);
/* Checks and writes the INSERT rows kept for a batch (xSync, and before a read of the table);
 * returns SQLITE_OK, or SQLITE_CONSTRAINT with 1062 in env->err / an error code; the kept rows
 * are gone either way. */
int sql_vt_flush(sql_vt *v);
/* Drops the kept rows unwritten (xRollback: the statement failed). */
void sql_vt_drop_pending(sql_vt *v);
void sql_vt_free_pend(sql_vt *v);

#endif
