/*
 * sql_ddl_bf.h — private to sqlnode/catalog: what the parallel index backfill
 * (sql_ddl_backfill.c) and ADMIN CHECK (sql_ddl_check.c) share: reading the index columns of
 * rows through the coprocessor (only those columns travel) and turning them into the index
 * entries sql_cat_index_entry makes, with the value rows written before a column existed read
 * (its default, as the vtab reads it).
 */
#ifndef SQL_DDL_BF_H
#define SQL_DDL_BF_H

#include "sql_ddl_int.h"

/* Most indexes one backfill or check handles at once (a table has at most this many). */
#define SQL_BF_INDEXES_MAX SQL_CAT_INDEXES_MAX
/* Most distinct columns the indexes of one backfill read (16 parts × 64 indexes at worst). */
#define SQL_BF_COLS_MAX (SQL_CAT_INDEXES_MAX * SQL_CAT_KEY_PARTS_MAX)
/* Most workers of one backfill: threads of the sqlnode, each with one batch in flight. */
#define SQL_BF_WORKERS_MAX 32
/* Rows per batch bounds: a batch is one transaction of rows + entries mutations. */
#define SQL_BF_BATCH_MIN 16
#define SQL_BF_BATCH_MAX 8192
/* Attempts of one batch on a conflict before the backfill fails (each retry halves the batch). */
#define SQL_BF_RETRIES 16

/* The columns the indexes read: plan column j is table column offs[j]. */
typedef struct sql_bf_cols {
    const sql_cat_table *t;
    uint32_t nix;
    const sql_cat_index *ix[SQL_BF_INDEXES_MAX];
    uint32_t pos[SQL_BF_INDEXES_MAX][SQL_CAT_KEY_PARTS_MAX]; /* plan column of ix[i]'s part k */
    uint32_t ncols;
    uint32_t offs[SQL_BF_COLS_MAX];
    cm_copr_pcol pcols[SQL_BF_COLS_MAX];
    cm_datum dflt[SQL_BF_COLS_MAX]; /* value of an absent column */
    cm_buf dmem[SQL_BF_COLS_MAX];   /* payloads of dflt */
} sql_bf_cols;

/* Sets up b for the indexes ix[0, nix) of t (t and the indexes borrowed). */
int sql_bf_cols_init(sql_bf_cols *b, const sql_cat_table *t, const sql_cat_index *const *ix,
                     uint32_t nix, cm_err *err);
void sql_bf_cols_fini(sql_bf_cols *b);

/* A coprocessor table-scan plan of b's columns; limit > 0 adds a LIMIT section. */
int sql_bf_plan(const sql_bf_cols *b, uint64_t limit, cm_buf *plan, cm_err *err);

/* Reads one row of a scan response at r: its key (borrowed) and the datums of b's columns
 * (payloads borrowed from the response; absent columns get their defaults). Returns 0 or
 * CM_E_CORRUPT. */
int sql_bf_read_row(const sql_bf_cols *b, cm_reader *r, cm_slice *key, cm_datum *vals, cm_err *err);

/* The entry of b->ix[i] for a row whose plan columns are vals (key and value appended). */
int sql_bf_entry(const sql_bf_cols *b, uint32_t i, const cm_datum *vals, int64_t handle,
                 cm_buf *key, cm_buf *value, bool *handle_in_key, cm_err *err);

/* 1062's text of the values of b->ix[i] (joined by '-', as MySQL prints them) appended to out. */
void sql_bf_dup_text(const sql_bf_cols *b, uint32_t i, const cm_datum *vals, cm_buf *out);

#endif
