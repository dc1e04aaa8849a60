/*
 * sql_ddl.c — what DDL statements do to the schema, as steps of DDL jobs (docs/ddl.md). The owner
 * (sql_ddl_job.c) runs each step in its own KV transaction: the first step checks the statement
 * against the schema at the transaction's snapshot and writes the changed definitions (and queues
 * the key ranges of dropped data for the GC worker); ALTER TABLE's added and dropped indexes and
 * columns then move one F1 state per step (DESIGN.md §8). Index entries are made here
 * (sql_cat_index_entry) for the vtab's index maintenance and the backfill alike.
 */
#include "sql_ddl_int.h"

#include "cm_keys.h"
#include "cm_log.h"
#include "cm_row.h"
#include "sql_gc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LOG_COMP "ddl"

typedef struct ddl_ctx ddl_ctx;
typedef int (*ddl_body_fn)(ddl_ctx *x, cm_err *err);

struct ddl_ctx {
    sql_catalog *c;
    const char *curdb;
    sql_ddl_stmt *st;
    sql_ddl_result *res;
    cm_arena *a;
    /* per attempt */
    cm_txn *t;
    sql_schema *s;
    uint64_t new_version;
    bool wrote;
    /* ids drawn from PD in small batches */
    int64_t id_next, id_end;
    /* after commit */
    int64_t forget[64];
    uint32_t nforget;
    /* the job the statement runs in (its elements are collected here) */
    sql_ddl_job *job;
};

static int nomem(cm_err *err)
{
    return cm_err_set(err, CM_E_NOMEM, "out of memory");
}

static void warn(ddl_ctx *x, int code, const char *fmt, const char *a, const char *b)
{
    x->res->warnings++;
    x->res->warning_code = (uint16_t)cm_err_mysql_errno(code);
    snprintf(x->res->warning_msg, sizeof(x->res->warning_msg), fmt, a, b);
}

static int next_id(void *user, int64_t *id, cm_err *err)
{
    ddl_ctx *x = user;
    if (x->id_next >= x->id_end) {
        int64_t first;
        int rc = sql_cat_alloc_ids(x->c, 8, &first, err);
        if (rc != 0) {
            return rc;
        }
        x->id_next = first;
        x->id_end = first + 8;
    }
    *id = x->id_next++;
    return 0;
}

static const char *db_of(ddl_ctx *x, const sql_ddl_name *nm)
{
    return nm->db != NULL ? nm->db : x->curdb;
}

static int need_db(ddl_ctx *x, const sql_ddl_name *nm, const sql_cat_db **out, cm_err *err)
{
    const char *db = db_of(x, nm);
    if (db == NULL) {
        return cm_err_set(err, CM_E_NO_DB, "No database selected");
    }
    *out = sql_schema_db(x->s, db);
    if (*out == NULL) {
        return cm_err_set(err, CM_E_BAD_DB, "Unknown database '%s'", db);
    }
    return 0;
}

static int need_table(ddl_ctx *x, const sql_ddl_name *nm, const sql_cat_table **out, cm_err *err)
{
    const sql_cat_db *d;
    int rc = need_db(x, nm, &d, err);
    if (rc != 0) {
        return rc;
    }
    *out = sql_schema_table(x->s, d->name, nm->name);
    if (*out == NULL) {
        return cm_err_set(err, CM_E_NO_SUCH_TABLE, "Table '%s.%s' doesn't exist", d->name,
                          nm->name);
    }
    return 0;
}

/* ---- writes ---------------------------------------------------------------------------------- */

/* The job shows the first table a statement changes. */
static void job_table(ddl_ctx *x, int64_t db_id, int64_t table_id)
{
    if (x->job != NULL && x->job->table_id == 0) {
        x->job->db_id = db_id;
        x->job->table_id = table_id;
    }
}

static int put_table(ddl_ctx *x, sql_cat_table *t, cm_err *err)
{
    job_table(x, t->db_id, t->id);
    t->version = x->new_version;
    cm_buf k = CM_BUF_INIT, v = CM_BUF_INIT;
    int rc = sql_cat_key_table(&k, t->db_id, t->id) != 0 || sql_cat_encode_table(t, &v) != 0
                 ? nomem(err)
                 : cm_txn_set(x->t, cm_buf_slice(&k), cm_buf_slice(&v), err);
    cm_buf_fini(&k);
    cm_buf_fini(&v);
    x->wrote = rc == 0 || x->wrote;
    return rc;
}

static int del_key(ddl_ctx *x, int (*mk)(cm_buf *, int64_t, int64_t), int64_t a, int64_t b,
                   cm_err *err)
{
    cm_buf k = CM_BUF_INIT;
    int rc = mk(&k, a, b) != 0 ? nomem(err) : cm_txn_delete(x->t, cm_buf_slice(&k), err);
    cm_buf_fini(&k);
    x->wrote = true;
    return rc;
}

static int queue_range(ddl_ctx *x, int64_t table_id, int64_t index_id, cm_err *err)
{
    cm_buf s = CM_BUF_INIT, e = CM_BUF_INIT;
    int rc = index_id == 0 ? cm_keys_table_range(table_id, &s, &e)
                           : cm_keys_index_range(table_id, index_id, &s, &e);
    if (rc != 0) {
        rc = nomem(err);
    } else {
        rc = sql_gc_queue_delete_range(x->t, cm_txn_start_ts(x->t), cm_buf_slice(&s),
                                       cm_buf_slice(&e), err);
    }
    cm_buf_fini(&s);
    cm_buf_fini(&e);
    return rc;
}

/* Removes a table's definition and allocator, and queues its data for deletion. */
static int drop_table_keys(ddl_ctx *x, const sql_cat_table *t, cm_err *err)
{
    job_table(x, t->db_id, t->id);
    int rc = del_key(x, sql_cat_key_table, t->db_id, t->id, err);
    if (rc == 0) {
        rc = del_key(x, sql_cat_key_autoid, t->db_id, t->id, err);
    }
    if (rc == 0) {
        rc = queue_range(x, t->id, 0, err);
    }
    if (rc == 0 && x->nforget < 64) {
        x->forget[x->nforget++] = t->id;
    }
    return rc;
}

/* ---- databases ------------------------------------------------------------------------------- */

static int create_db(ddl_ctx *x, cm_err *err)
{
    const sql_ddl_stmt *st = x->st;
    int rc = sql_cat_check_name(st->target.name, CM_E_WRONG_DB_NAME, err);
    if (rc != 0) {
        return rc;
    }
    if (sql_cat_namecmp(st->target.name, "information_schema") == 0 ||
        sql_cat_namecmp(st->target.name, "performance_schema") == 0) {
        return cm_err_set(err, CM_E_ACCESS_DENIED, "Access denied for user to database '%s'",
                          st->target.name);
    }
    if (sql_schema_db(x->s, st->target.name) != NULL) {
        if (st->if_not_exists) {
            warn(x, CM_E_DB_CREATE_EXISTS, "Can't create database '%s'; database exists%s",
                 st->target.name, "");
            return 0;
        }
        return cm_err_set(err, CM_E_DB_CREATE_EXISTS, "Can't create database '%s'; database exists",
                          st->target.name);
    }
    sql_cat_db d = {0, st->target.name, st->charset, st->collation, SQL_OBJ_PUBLIC};
    rc = next_id(x, &d.id, err);
    if (rc != 0) {
        return rc;
    }
    if (x->job != NULL) {
        x->job->db_id = d.id;
    }
    cm_buf k = CM_BUF_INIT, v = CM_BUF_INIT;
    rc = sql_cat_key_db(&k, d.id) != 0 || sql_cat_encode_db(&d, &v) != 0
             ? nomem(err)
             : cm_txn_set(x->t, cm_buf_slice(&k), cm_buf_slice(&v), err);
    cm_buf_fini(&k);
    cm_buf_fini(&v);
    x->wrote = true;
    x->res->affected = 1;
    return rc;
}

static int drop_db(ddl_ctx *x, cm_err *err)
{
    const sql_ddl_stmt *st = x->st;
    const sql_cat_db *d = sql_schema_db(x->s, st->target.name);
    if (d == NULL) {
        if (st->if_exists) {
            warn(x, CM_E_DB_DROP_EXISTS, "Can't drop database '%s'; database doesn't exist%s",
                 st->target.name, "");
            return 0;
        }
        return cm_err_set(err, CM_E_DB_DROP_EXISTS,
                          "Can't drop database '%s'; database doesn't exist", st->target.name);
    }
    uint32_t n = sql_schema_ntables(x->s, d);
    int rc = 0;
    if (x->job != NULL) {
        x->job->db_id = d->id;
    }
    for (uint32_t i = 0; rc == 0 && i < n; i++) {
        rc = drop_table_keys(x, sql_schema_table_at(x->s, d, i), err);
    }
    /* whatever else the database's hash holds (allocators of tables in other states) */
    cm_buf s = CM_BUF_INIT, e = CM_BUF_INIT, k = CM_BUF_INIT;
    cm_txn_iter *it = NULL;
    if (rc == 0) {
        rc = sql_cat_key_db_range(d->id, &s, &e) != 0
                 ? nomem(err)
                 : cm_txn_scan(x->t, cm_buf_slice(&s), cm_buf_slice(&e), &it, err);
    }
    /* collect first: deleting while iterating is allowed, but keep it simple */
    cm_buf keys = CM_BUF_INIT;
    cm_slice kk, vv;
    int more;
    while (rc == 0 && (more = cm_txn_iter_next(it, &kk, &vv, err)) != 0) {
        if (more < 0) {
            rc = more;
            break;
        }
        uint32_t len = (uint32_t)kk.len;
        if (cm_buf_append(&keys, &len, sizeof(len)) != 0 || cm_buf_append_slice(&keys, kk) != 0) {
            rc = nomem(err);
        }
    }
    cm_txn_iter_free(it);
    for (size_t off = 0; rc == 0 && off < keys.len;) {
        uint32_t len;
        memcpy(&len, keys.ptr + off, sizeof(len));
        off += sizeof(len);
        rc = cm_txn_delete(x->t, cm_slice_make(keys.ptr + off, len), err);
        off += len;
    }
    cm_buf_fini(&keys);
    if (rc == 0) {
        rc = sql_cat_key_db(&k, d->id) != 0 ? nomem(err)
                                            : cm_txn_delete(x->t, cm_buf_slice(&k), err);
    }
    cm_buf_fini(&s);
    cm_buf_fini(&e);
    cm_buf_fini(&k);
    x->wrote = true;
    x->res->affected = n;
    return rc;
}

/* ---- tables ---------------------------------------------------------------------------------- */

static int table_absent(ddl_ctx *x, const sql_cat_db *d, const char *name, bool *skip, cm_err *err)
{
    *skip = false;
    if (sql_schema_table(x->s, d->name, name) == NULL) {
        return 0;
    }
    if (x->st->if_not_exists) {
        warn(x, CM_E_TABLE_EXISTS, "Table '%s' already exists%s", name, "");
        *skip = true;
        return 0;
    }
    return cm_err_set(err, CM_E_TABLE_EXISTS, "Table '%s' already exists", name);
}

static int create_table(ddl_ctx *x, cm_err *err)
{
    const sql_cat_db *d;
    int rc = need_db(x, &x->st->target, &d, err);
    bool skip = false;
    if (rc == 0) {
        rc = table_absent(x, d, x->st->target.name, &skip, err);
    }
    if (rc != 0 || skip) {
        return rc;
    }
    sql_cat_table *t = cm_arena_alloc(x->a, sizeof(*t));
    if (t == NULL) {
        return nomem(err);
    }
    rc = sql_ddl_build_table(x->st, x->a, next_id, x, t, err);
    if (rc == 0) {
        rc = next_id(x, &t->id, err);
    }
    if (rc != 0) {
        return rc;
    }
    t->db_id = d->id;
    return put_table(x, t, err);
}

static int create_like(ddl_ctx *x, cm_err *err)
{
    const sql_cat_db *d;
    const sql_cat_table *src;
    int rc = need_db(x, &x->st->target, &d, err);
    bool skip = false;
    if (rc == 0) {
        rc = sql_cat_check_name(x->st->target.name, CM_E_WRONG_TABLE_NAME, err);
    }
    if (rc == 0) {
        rc = need_table(x, &x->st->like, &src, err);
    }
    if (rc == 0) {
        rc = table_absent(x, d, x->st->target.name, &skip, err);
    }
    if (rc != 0 || skip) {
        return rc;
    }
    sql_cat_table *t = cm_arena_alloc(x->a, sizeof(*t));
    if (t == NULL) {
        return nomem(err);
    }
    rc = sql_cat_table_copy(src, x->a, t, err);
    if (rc != 0) {
        return rc;
    }
    t->name = x->st->target.name;
    t->db_id = d->id;
    t->autoinc_start = 1; /* LIKE does not copy the counter */
    rc = next_id(x, &t->id, err);
    for (uint32_t i = 0; rc == 0 && i < t->nindexes; i++) {
        rc = next_id(x, &t->indexes[i].id, err);
        t->indexes[i].state = SQL_OBJ_PUBLIC; /* the new table is empty: nothing to backfill */
    }
    return rc == 0 ? put_table(x, t, err) : rc;
}

static int drop_tables(ddl_ctx *x, cm_err *err)
{
    const sql_ddl_stmt *st = x->st;
    cm_buf unknown = CM_BUF_INIT;
    const sql_cat_table **found = cm_arena_alloc(x->a, sizeof(*found) * st->nnames);
    if (found == NULL) {
        return nomem(err);
    }
    int rc = 0;
    for (uint32_t i = 0; rc == 0 && i < st->nnames; i++) {
        const char *db = db_of(x, &st->names[i]);
        if (db == NULL) {
            rc = cm_err_set(err, CM_E_NO_DB, "No database selected");
            break;
        }
        found[i] = sql_schema_table(x->s, db, st->names[i].name);
        for (uint32_t j = 0; j < i; j++) {
            if (found[i] != NULL && found[j] == found[i]) {
                rc = cm_err_set(err, CM_E_NONUNIQ_TABLE, "Not unique table/alias: '%s'",
                                st->names[i].name);
            }
        }
        if (found[i] == NULL) {
            if (unknown.len > 0) {
                cm_buf_printf(&unknown, ",");
            }
            cm_buf_printf(&unknown, "%s.%s", db, st->names[i].name);
            if (st->if_exists) {
                warn(x, CM_E_BAD_TABLE, "Unknown table '%s.%s'", db, st->names[i].name);
            }
        }
    }
    if (rc == 0 && unknown.len > 0 && !st->if_exists) {
        rc = cm_err_set(err, CM_E_BAD_TABLE, "Unknown table '%.*s'", (int)unknown.len,
                        (const char *)unknown.ptr);
    }
    cm_buf_fini(&unknown);
    for (uint32_t i = 0; rc == 0 && i < st->nnames; i++) {
        if (found[i] != NULL) {
            rc = drop_table_keys(x, found[i], err);
        }
    }
    return rc;
}

static int truncate_table(ddl_ctx *x, cm_err *err)
{
    const sql_cat_table *old;
    int rc = need_table(x, &x->st->target, &old, err);
    if (rc != 0) {
        return rc;
    }
    sql_cat_table *t = cm_arena_alloc(x->a, sizeof(*t));
    if (t == NULL) {
        return nomem(err);
    }
    rc = sql_cat_table_copy(old, x->a, t, err);
    if (rc == 0) {
        rc = drop_table_keys(x, old, err);
    }
    if (rc == 0) {
        rc = next_id(x, &t->id, err); /* a new id, as TiDB does: the old keys go to the GC */
    }
    return rc == 0 ? put_table(x, t, err) : rc;
}

/* RENAME TABLE a TO b, c TO d: applied in order, each pair seeing the ones before it. */
static int rename_tables(ddl_ctx *x, cm_err *err)
{
    const sql_ddl_stmt *st = x->st;
    uint32_t np = st->nnames / 2;
    /* the working set: current definitions by (db id, name), starting from the snapshot */
    sql_cat_table **moved = cm_arena_alloc(x->a, sizeof(*moved) * (np + 1));
    if (moved == NULL) {
        return nomem(err);
    }
    uint32_t nmoved = 0;
    for (uint32_t p = 0; p < np; p++) {
        const sql_ddl_name *from = &st->names[2 * p], *to = &st->names[2 * p + 1];
        const sql_cat_db *fd, *td;
        int rc = need_db(x, from, &fd, err);
        if (rc == 0) {
            rc = need_db(x, to, &td, err);
        }
        if (rc == 0) {
            rc = sql_cat_check_name(to->name, CM_E_WRONG_TABLE_NAME, err);
        }
        if (rc != 0) {
            return rc;
        }
        /* source: a table moved earlier in this statement, else the snapshot's */
        sql_cat_table *src = NULL;
        bool src_gone = false, dst_taken = false;
        for (uint32_t i = 0; i < nmoved; i++) {
            if (moved[i]->db_id == fd->id && sql_cat_namecmp(moved[i]->name, from->name) == 0) {
                src = moved[i];
            }
            if (moved[i]->db_id == td->id && sql_cat_namecmp(moved[i]->name, to->name) == 0) {
                dst_taken = true;
            }
        }
        const sql_cat_table *snap_src = sql_schema_table(x->s, fd->name, from->name);
        const sql_cat_table *snap_dst = sql_schema_table(x->s, td->name, to->name);
        for (uint32_t i = 0; i < nmoved; i++) { /* snapshot tables renamed away */
            if (snap_src != NULL && moved[i]->id == snap_src->id && src != moved[i]) {
                src_gone = true;
            }
            if (snap_dst != NULL && moved[i]->id == snap_dst->id) {
                snap_dst = NULL;
            }
        }
        if (src == NULL && (snap_src == NULL || src_gone)) {
            return cm_err_set(err, CM_E_NO_SUCH_TABLE, "Table '%s.%s' doesn't exist", fd->name,
                              from->name);
        }
        if (dst_taken || snap_dst != NULL) {
            return cm_err_set(err, CM_E_TABLE_EXISTS, "Table '%s' already exists", to->name);
        }
        if (src == NULL) {
            src = cm_arena_alloc(x->a, sizeof(*src));
            if (src == NULL || sql_cat_table_copy(snap_src, x->a, src, err) != 0) {
                return nomem(err);
            }
            moved[nmoved++] = src;
        }
        rc = del_key(x, sql_cat_key_table, src->db_id, src->id, err);
        if (rc == 0 && src->db_id != td->id) {
            /* the allocator moves with the table */
            cm_buf k = CM_BUF_INIT, v = CM_BUF_INIT;
            rc = sql_cat_key_autoid(&k, src->db_id, src->id) != 0 ? nomem(err) : 0;
            if (rc == 0) {
                rc = cm_txn_get(x->t, cm_buf_slice(&k), &v, err);
            }
            if (rc == 0) {
                rc = cm_txn_delete(x->t, cm_buf_slice(&k), err);
                cm_buf_reset(&k);
                if (rc == 0) {
                    rc = sql_cat_key_autoid(&k, td->id, src->id) != 0
                             ? nomem(err)
                             : cm_txn_set(x->t, cm_buf_slice(&k), cm_buf_slice(&v), err);
                }
            } else if (rc == CM_E_NOT_FOUND) {
                rc = 0;
            }
            cm_buf_fini(&k);
            cm_buf_fini(&v);
        }
        if (rc != 0) {
            return rc;
        }
        src->name = to->name;
        src->db_id = td->id;
    }
    for (uint32_t i = 0; i < nmoved; i++) {
        int rc = put_table(x, moved[i], err);
        if (rc != 0) {
            return rc;
        }
    }
    return 0;
}

/* ---- indexes --------------------------------------------------------------------------------- */

/* ALTER TABLE … RENAME {INDEX|KEY} a TO b (t is the statement's working copy). */
static int rename_index(sql_cat_table *t, const sql_alter_op *op, cm_arena *a, cm_err *err)
{
    sql_cat_index *ix = NULL;
    for (uint32_t j = 0; j < t->nindexes; j++) {
        if (sql_cat_namecmp(t->indexes[j].name, op->ix.name) == 0) {
            ix = &t->indexes[j];
        }
    }
    if (ix == NULL || ix->primary) {
        return cm_err_set(err, CM_E_KEY_DOES_NOT_EXIST, "Key '%s' doesn't exist in table '%s'",
                          op->ix.name, t->name);
    }
    if (sql_cat_namecmp(op->new_name, "PRIMARY") == 0) {
        return cm_err_set(err, CM_E_WRONG_NAME_FOR_INDEX, "Incorrect index name '%s'",
                          op->new_name);
    }
    int rc = sql_cat_check_name(op->new_name, CM_E_WRONG_NAME_FOR_INDEX, err);
    if (rc != 0) {
        return rc;
    }
    const sql_cat_index *other = sql_table_index(t, op->new_name);
    if (other != NULL && other != ix) {
        return cm_err_set(err, CM_E_DUP_KEYNAME, "Duplicate key name '%s'", op->new_name);
    }
    ix->name = cm_arena_strndup(a, op->new_name, strlen(op->new_name));
    return ix->name == NULL ? nomem(err) : 0;
}

/* ALTER TABLE … ENGINE=, [DEFAULT] CHARSET=, COLLATE=, COMMENT=, AUTO_INCREMENT=, … */
static int alter_options(ddl_ctx *x, sql_cat_table *t, cm_err *err)
{
    const sql_ddl_stmt *st = x->st;
    if (st->engine != NULL) {
        t->engine = st->engine;
    }
    if (st->charset != NULL) {
        t->charset = st->charset;
    }
    if (st->collation != NULL) {
        t->collation = st->collation;
    }
    if (st->comment != NULL) {
        t->comment = st->comment;
    }
    if (!st->has_autoinc_start || st->autoinc_start == 0) {
        return 0;
    }
    /* AUTO_INCREMENT=N: the next value is at least N (a lower N is ignored, as InnoDB does) */
    cm_buf k = CM_BUF_INIT, v = CM_BUF_INIT;
    int rc = sql_cat_key_autoid(&k, t->db_id, t->id) != 0 ? nomem(err) : 0;
    uint64_t base = 0;
    if (rc == 0) {
        rc = cm_txn_get(x->t, cm_buf_slice(&k), &v, err);
        if (rc == 0 && v.len == 8) {
            for (int i = 7; i >= 0; i--) {
                base = base << 8 | v.ptr[i];
            }
        } else if (rc == CM_E_NOT_FOUND) {
            rc = 0;
        }
    }
    if (rc == 0 && base < st->autoinc_start - 1) {
        uint8_t b[8];
        for (int i = 0; i < 8; i++) {
            b[i] = (uint8_t)((st->autoinc_start - 1) >> (8 * i));
        }
        rc = cm_txn_set(x->t, cm_buf_slice(&k), cm_slice_make(b, 8), err);
    }
    cm_buf_fini(&k);
    cm_buf_fini(&v);
    if (rc == 0 && x->nforget < 64) {
        x->forget[x->nforget++] = t->id; /* this node's batch may be below N */
    }
    return rc;
}

/* ---- ALTER TABLE: objects that move through the F1 states --------------------------------- */

/* The first state of an added object (DESIGN.md §8). The planted bug of
 * -Dplant_bug=ddl_skip_delete_only skips delete-only (the randomised test must catch it). */
static uint8_t add_first_state(void)
{
#ifdef SQL_PLANT_DDL_SKIP_DELETE_ONLY
    return SQL_OBJ_WRITE_ONLY;
#else
    return SQL_OBJ_DELETE_ONLY;
#endif
}

static int add_elem(ddl_ctx *x, uint8_t kind, bool add, int64_t id, cm_err *err)
{
    sql_ddl_job *j = x->job;
    if (j == NULL) {
        return cm_err_set(err, CM_E_INTERNAL, "ALTER TABLE outside a DDL job");
    }
    if (j->nelems >= SQL_CAT_INDEXES_MAX + SQL_CAT_COLS_MAX) {
        return cm_err_set(err, CM_E_UNSUPPORTED, "too many schema objects in one ALTER TABLE");
    }
    sql_job_elem *n = cm_arena_alloc(x->a, sizeof(*n) * (j->nelems + 1));
    if (n == NULL) {
        return nomem(err);
    }
    if (j->nelems > 0) {
        memcpy(n, j->elems, sizeof(*n) * j->nelems);
    }
    n[j->nelems].kind = kind;
    n[j->nelems].add = add ? 1 : 0;
    n[j->nelems].id = id;
    j->elems = n;
    j->nelems++;
    return 0;
}

/* Forgets element i of the job (an object added and dropped by the same statement). */
static void drop_elem(sql_ddl_job *j, uint32_t i)
{
    memmove(&j->elems[i], &j->elems[i + 1], sizeof(sql_job_elem) * (j->nelems - i - 1));
    j->nelems--;
}

/* ADD INDEX on the working copy *t (replaced by a copy with the index in its first state). */
static int add_index_op(ddl_ctx *x, sql_cat_table **t, const sql_alter_op *op, cm_err *err)
{
    sql_cat_table *n = cm_arena_alloc(x->a, sizeof(*n));
    if (n == NULL) {
        return nomem(err);
    }
    int rc = sql_ddl_add_index(*t, &op->ix, x->a, next_id, x, n, err);
    if (rc != 0) {
        return rc;
    }
    /* the new index is the one whose name *t does not have */
    for (uint32_t j = 0; rc == 0 && j < n->nindexes; j++) {
        if (sql_table_index(*t, n->indexes[j].name) == NULL) {
            n->indexes[j].state = add_first_state();
            rc = add_elem(x, SQL_ELEM_INDEX, true, n->indexes[j].id, err);
        }
    }
    *t = n;
    return rc;
}

/* DROP INDEX on the working copy t: the index starts its way out (write-only); one added by this
 * very statement is simply forgotten (it has no entries yet). */
static int drop_index_op(ddl_ctx *x, sql_cat_table *t, const sql_alter_op *op, cm_err *err)
{
    const char *name = op->ix.name;
    if (op->ix.primary && t->handle_col >= 0) {
        return cm_err_set(err, CM_E_UNSUPPORTED,
                          "This version of Tessera doesn't yet support 'dropping a clustered "
                          "primary key'");
    }
    uint32_t j = 0;
    while (j < t->nindexes &&
           (sql_cat_namecmp(t->indexes[j].name, name) != 0 ||
            (t->indexes[j].state != SQL_OBJ_PUBLIC && t->indexes[j].state != add_first_state()))) {
        j++;
    }
    if (j == t->nindexes) {
        return cm_err_set(err, CM_E_CANT_DROP_KEY, "Can't DROP '%s'; check that column/key exists",
                          name);
    }
    if (t->autoinc_col >= 0 && t->indexes[j].cols[0] == (uint32_t)t->autoinc_col) {
        /* the AUTO_INCREMENT column must stay first in some key */
        bool other = t->handle_col == t->autoinc_col;
        for (uint32_t k = 0; k < t->nindexes && !other; k++) {
            other = k != j && t->indexes[k].cols[0] == (uint32_t)t->autoinc_col &&
                    t->indexes[k].state == SQL_OBJ_PUBLIC;
        }
        if (!other) {
            return cm_err_set(err, CM_E_WRONG_AUTO_KEY,
                              "Incorrect table definition; there can be only one auto column and "
                              "it must be defined as a key");
        }
    }
    sql_ddl_job *jb = x->job;
    for (uint32_t k = 0; jb != NULL && k < jb->nelems; k++) {
        if (jb->elems[k].kind == SQL_ELEM_INDEX && jb->elems[k].id == t->indexes[j].id) {
            drop_elem(jb, k); /* added by this statement */
            memmove(&t->indexes[j], &t->indexes[j + 1],
                    sizeof(sql_cat_index) * (t->nindexes - j - 1));
            t->nindexes--;
            return 0;
        }
    }
    t->indexes[j].state = SQL_OBJ_WRITE_ONLY;
    return add_elem(x, SQL_ELEM_INDEX, false, t->indexes[j].id, err);
}

static int add_column_op(ddl_ctx *x, sql_cat_table **t, const sql_alter_op *op, cm_err *err)
{
    sql_cat_table *n = cm_arena_alloc(x->a, sizeof(*n));
    if (n == NULL) {
        return nomem(err);
    }
    uint32_t col_id = 0;
    int rc = sql_ddl_add_column(*t, op, add_first_state(), x->a, n, &col_id, err);
    if (rc == 0) {
        rc = add_elem(x, SQL_ELEM_COLUMN, true, col_id, err);
    }
    if (rc == 0) {
        *t = n;
    }
    return rc;
}

static int drop_column_op(ddl_ctx *x, sql_cat_table *t, const sql_alter_op *op, cm_err *err)
{
    uint32_t col_id = 0;
    int rc = sql_ddl_drop_column_check(t, op, &col_id, err);
    if (rc != 0) {
        return rc;
    }
    sql_ddl_job *jb = x->job;
    for (uint32_t k = 0; jb != NULL && k < jb->nelems; k++) {
        if (jb->elems[k].kind == SQL_ELEM_COLUMN && jb->elems[k].id == (int64_t)col_id) {
            drop_elem(jb, k); /* added by this statement */
            sql_cat_table_remove_column(t, col_id);
            return 0;
        }
    }
    for (uint32_t i = 0; i < t->ncols; i++) {
        if (t->cols[i].id == col_id) {
            t->cols[i].state = SQL_OBJ_WRITE_ONLY;
        }
    }
    return add_elem(x, SQL_ELEM_COLUMN, false, col_id, err);
}

static int change_column_op(ddl_ctx *x, sql_cat_table **t, const sql_alter_op *op, cm_err *err)
{
    sql_cat_table *n = cm_arena_alloc(x->a, sizeof(*n));
    if (n == NULL) {
        return nomem(err);
    }
    int rc = sql_ddl_change_column(*t, op, x->a, n, err);
    if (rc == 0) {
        *t = n;
    }
    return rc;
}

static int alter_table(ddl_ctx *x, cm_err *err)
{
    const sql_cat_table *old;
    int rc = need_table(x, &x->st->target, &old, err);
    if (rc != 0) {
        return rc;
    }
    for (uint32_t i = 0; i < old->nindexes; i++) {
        if (old->indexes[i].state != SQL_OBJ_PUBLIC) { /* left by a job that never finished */
            return cm_err_set(err, CM_E_UNSUPPORTED,
                              "Table '%s' has an index in a schema change that has not finished",
                              old->name);
        }
    }
    sql_cat_table *t = cm_arena_alloc(x->a, sizeof(*t));
    if (t == NULL || sql_cat_table_copy(old, x->a, t, err) != 0) {
        return nomem(err);
    }
    bool changed = false;
    for (uint32_t i = 0; rc == 0 && i < x->st->nops; i++) {
        const sql_alter_op *op = &x->st->ops[i];
        changed = changed || op->kind != SQL_ALTER_NOOP;
        switch (op->kind) {
        case SQL_ALTER_ADD_INDEX:
            rc = add_index_op(x, &t, op, err);
            break;
        case SQL_ALTER_DROP_INDEX:
            rc = drop_index_op(x, t, op, err);
            break;
        case SQL_ALTER_RENAME_INDEX:
            rc = rename_index(t, op, x->a, err);
            break;
        case SQL_ALTER_OPTIONS:
            rc = alter_options(x, t, err);
            break;
        case SQL_ALTER_ADD_COLUMN:
            rc = add_column_op(x, &t, op, err);
            break;
        case SQL_ALTER_DROP_COLUMN:
            rc = drop_column_op(x, t, op, err);
            break;
        case SQL_ALTER_RENAME_COLUMN:
        case SQL_ALTER_MODIFY_COLUMN:
            rc = change_column_op(x, &t, op, err);
            break;
        default: /* SQL_ALTER_NOOP */
            break;
        }
    }
    if (rc != 0) {
        return rc;
    }
    if (x->job != NULL) {
        x->job->db_id = t->db_id;
        x->job->table_id = t->id;
    }
    return changed ? put_table(x, t, err) : 0;
}

/* ---- index entries
 * -------------------------------------------------------------------------------- */

int sql_cat_index_entry(const sql_cat_table *t, const sql_cat_index *ix, const cm_datum *vals,
                        int64_t handle, cm_buf *key, cm_buf *value, bool *handle_in_key,
                        cm_err *err)
{
    cm_datum v[SQL_CAT_KEY_PARTS_MAX];
    if (ix->ncols > SQL_CAT_KEY_PARTS_MAX) {
        return cm_err_set(err, CM_E_INVALID, "index with %u columns", ix->ncols);
    }
    for (uint32_t i = 0; i < ix->ncols; i++) {
        v[i] = vals[i];
        uint32_t pl = ix->prefix_len ? ix->prefix_len[i] : 0;
        if (pl == 0 || (v[i].type != CM_DT_STRING && v[i].type != CM_DT_BYTES)) {
            continue;
        }
        size_t n = v[i].v.bytes.len;
        if (v[i].type == CM_DT_BYTES) {
            n = n < pl ? n : pl;
        } else { /* characters of UTF-8 */
            const uint8_t *p = v[i].v.bytes.ptr;
            uint32_t chars = 0;
            size_t j = 0;
            for (; j < n; j++) {
                if ((p[j] & 0xC0) != 0x80 && chars++ == pl) {
                    break;
                }
            }
            n = j;
        }
        v[i].v.bytes.len = n;
    }
    (void)t;
    bool hik = false;
    int rc = cm_keys_append_index(key, t->id, ix->id, v, ix->ncols, ix->unique, handle, &hik, err);
    if (rc != 0) {
        return rc;
    }
    if (handle_in_key != NULL) {
        *handle_in_key = hik;
    }
    rc = hik ? cm_buf_append_u8(value, 0) : cm_codec_append_int64(value, handle);
    return rc != 0 ? nomem(err) : 0;
}

/* ---- job steps ------------------------------------------------------------------------------- */

bool sql_ddl_is_stmt_error(int code)
{
    switch (code) {
    case CM_E_UNSUPPORTED:
    case CM_E_INVALID:
    case CM_E_CORRUPT:
    case CM_E_INTERNAL:
    case CM_E_TOO_LARGE:
        return true; /* running the step again gives the same answer */
    case CM_E_SERVER_SHUTDOWN:
    case CM_E_SCHEMA_OUT_OF_DATE:
    case CM_E_DDL_OWNER_LOST:
    case CM_E_DDL_JOB_NOT_FOUND:
        return false;
    default:
        /* -1 … -99 are the KV store's, RPC's and transactions' (conflicts, locks, regions,
         * timeouts): the step is retried. -100 and below are the SQL layer's (MySQL's 1xxx and
         * the DDL's own): the statement failed. */
        return code <= -100;
    }
}

/* One state forward for an object being added (none → delete-only → write-only → write-reorg →
 * public) or dropped (public → write-only → delete-only → delete-reorg → removed = NONE). */
static uint8_t next_state(uint8_t s, bool add)
{
    if (add) {
        switch (s) {
        case SQL_OBJ_DELETE_ONLY:
            return SQL_OBJ_WRITE_ONLY;
        case SQL_OBJ_WRITE_ONLY:
            return SQL_OBJ_WRITE_REORG;
        default:
            return SQL_OBJ_PUBLIC;
        }
    }
    switch (s) {
    case SQL_OBJ_PUBLIC:
        return SQL_OBJ_WRITE_ONLY;
    case SQL_OBJ_WRITE_ONLY:
#ifdef SQL_PLANT_DDL_SKIP_DELETE_ONLY
        return SQL_OBJ_DELETE_REORG;
#else
        return SQL_OBJ_DELETE_ONLY;
#endif
    case SQL_OBJ_DELETE_ONLY:
        return SQL_OBJ_DELETE_REORG;
    default:
        return SQL_OBJ_NONE;
    }
}

/* One state back for an added object of a job that rolls back: whatever it maintained goes
 * through delete-only before it is removed, so no node still writing it outlives the removal. */
static uint8_t back_state(uint8_t s)
{
    if (s == SQL_OBJ_DELETE_ONLY) {
        return SQL_OBJ_NONE;
    }
#ifdef SQL_PLANT_DDL_SKIP_DELETE_ONLY
    return SQL_OBJ_NONE;
#else
    return SQL_OBJ_DELETE_ONLY;
#endif
}

static sql_cat_index *find_index(sql_cat_table *t, int64_t id)
{
    for (uint32_t i = 0; i < t->nindexes; i++) {
        if (t->indexes[i].id == id) {
            return &t->indexes[i];
        }
    }
    return NULL;
}

static sql_cat_col *find_col(sql_cat_table *t, int64_t id)
{
    for (uint32_t i = 0; i < t->ncols; i++) {
        if ((int64_t)t->cols[i].id == id) {
            return &t->cols[i];
        }
    }
    return NULL;
}

uint32_t sql_ddl_reorg_indexes(const sql_ddl_job *j, const sql_cat_table *t, int64_t *ids)
{
    uint32_t n = 0;
    if (j->state != SQL_JOB_RUNNING) {
        return 0;
    }
    for (uint32_t e = 0; e < j->nelems; e++) {
        if (j->elems[e].kind != SQL_ELEM_INDEX || !j->elems[e].add) {
            continue;
        }
        for (uint32_t i = 0; i < t->nindexes; i++) {
            if (t->indexes[i].id == j->elems[e].id && t->indexes[i].state == SQL_OBJ_WRITE_REORG) {
                ids[n++] = t->indexes[i].id;
            }
        }
    }
    return n;
}

/* Moves every element of j one state in the table's working copy t. *all_done: every element
 * reached its end. *state: the state to show for the job. */
static int move_elems(ddl_ctx *x, sql_ddl_job *j, sql_cat_table *t, bool *all_done, uint8_t *state,
                      cm_err *err)
{
    bool back = j->state == SQL_JOB_ROLLINGBACK;
    *all_done = true;
    *state = SQL_OBJ_NONE;
    for (uint32_t e = 0; e < j->nelems; e++) {
        const sql_job_elem *el = &j->elems[e];
        uint8_t *st = NULL;
        sql_cat_index *ix = NULL;
        if (el->kind == SQL_ELEM_INDEX) {
            ix = find_index(t, el->id);
            st = ix != NULL ? &ix->state : NULL;
        } else {
            sql_cat_col *col = find_col(t, el->id);
            st = col != NULL ? &col->state : NULL;
        }
        if (st == NULL) {
            continue; /* already removed */
        }
        uint8_t ns;
        if (el->add && back) {
            ns = back_state(*st);
        } else if (!el->add && back && *st == SQL_OBJ_WRITE_ONLY) {
            ns = SQL_OBJ_PUBLIC; /* nothing was lost yet: the drop is undone */
        } else if (el->add && *st == SQL_OBJ_PUBLIC) {
            ns = SQL_OBJ_PUBLIC;
        } else if (!el->add && *st == SQL_OBJ_PUBLIC && back) {
            ns = SQL_OBJ_PUBLIC;
        } else {
            ns = next_state(*st, el->add != 0);
        }
        if (ns == SQL_OBJ_NONE) {
            if (el->kind == SQL_ELEM_INDEX) {
                int rc = queue_range(x, t->id, ix->id, err);
                if (rc != 0) {
                    return rc;
                }
                uint32_t k = (uint32_t)(ix - t->indexes);
                memmove(&t->indexes[k], &t->indexes[k + 1],
                        sizeof(sql_cat_index) * (t->nindexes - k - 1));
                t->nindexes--;
            } else {
                sql_cat_table_remove_column(t, (uint32_t)el->id);
            }
        } else {
            *st = ns;
            if (*state == SQL_OBJ_NONE) {
                *state = ns;
            }
            if (ns != SQL_OBJ_PUBLIC) {
                *all_done = false;
            }
        }
    }
    if (*all_done && *state == SQL_OBJ_NONE && !back) {
        bool any_add = false;
        for (uint32_t e = 0; e < j->nelems; e++) {
            any_add = any_add || j->elems[e].add;
        }
        *state = any_add ? SQL_OBJ_PUBLIC : SQL_OBJ_NONE;
    }
    return 0;
}

static int later_step(ddl_ctx *x, sql_ddl_job *j, cm_err *err)
{
    const sql_cat_table *cur = sql_schema_table_by_id(x->s, j->table_id);
    if (cur == NULL) {
        return cm_err_set(err, CM_E_SCHEMA_CHANGED,
                          "Information schema is changed: the table of DDL job %lld is gone",
                          (long long)j->id);
    }
    sql_cat_table *t = cm_arena_alloc(x->a, sizeof(*t));
    if (t == NULL || sql_cat_table_copy(cur, x->a, t, err) != 0) {
        return nomem(err);
    }
    bool all_done = false;
    uint8_t st = SQL_OBJ_NONE;
    int rc = move_elems(x, j, t, &all_done, &st, err);
    if (rc != 0) {
        return rc;
    }
    j->schema_state = st;
    if (all_done) {
        if (j->state == SQL_JOB_ROLLINGBACK) {
            j->state =
                j->err_code == CM_E_DDL_CANCELLED ? SQL_JOB_CANCELLED : SQL_JOB_ROLLBACK_DONE;
        } else {
            j->state = SQL_JOB_DONE;
        }
    }
    return put_table(x, t, err);
}

static int first_step(ddl_ctx *x, sql_ddl_job *j, cm_err *err)
{
    switch (x->st->kind) {
    case SQL_DDL_CREATE_DB:
        return create_db(x, err);
    case SQL_DDL_DROP_DB:
        return drop_db(x, err);
    case SQL_DDL_CREATE_TABLE:
        return create_table(x, err);
    case SQL_DDL_CREATE_LIKE:
        return create_like(x, err);
    case SQL_DDL_DROP_TABLE:
        return drop_tables(x, err);
    case SQL_DDL_TRUNCATE:
        return truncate_table(x, err);
    case SQL_DDL_RENAME_TABLE:
        return rename_tables(x, err);
    case SQL_DDL_ALTER_TABLE:
        return alter_table(x, err);
    default:
        return cm_err_set(err, CM_E_INTERNAL, "DDL job %lld: unknown statement kind %d",
                          (long long)j->id, x->st->kind);
    }
}

int sql_ddl_step(sql_catalog *c, cm_txn *t, sql_schema *s, uint64_t version, sql_ddl_job *j,
                 cm_arena *a, sql_ddl_step_out *out, cm_err *err)
{
    memset(out, 0, sizeof(*out));
    sql_ddl_result res;
    memset(&res, 0, sizeof(res));
    ddl_ctx x;
    memset(&x, 0, sizeof(x));
    x.c = c;
    x.curdb = j->curdb;
    x.res = &res;
    x.a = a;
    x.t = t;
    x.s = s;
    x.new_version = version + 1;
    x.job = j;
    int rc;
    if (j->state == SQL_JOB_QUEUEING) {
        sql_tokens toks;
        sql_tokens_init(&toks);
        sql_ddl_stmt st;
        rc = sql_lex(j->query, strlen(j->query), j->lex_mode, &toks, err);
        if (rc == 0) {
            rc = sql_ddl_parse_mode(j->query, toks.v, toks.n, j->lex_mode, a, &st, err);
        }
        if (rc == 0) {
            x.st = &st;
            j->nelems = 0;
            j->elems = NULL;
            rc = first_step(&x, j, err);
        }
        sql_tokens_fini(&toks);
        if (rc == 0) {
            j->state = j->nelems > 0 ? SQL_JOB_RUNNING : SQL_JOB_DONE;
            j->schema_state = j->nelems > 0
                                  ? (j->elems[0].add ? add_first_state() : SQL_OBJ_WRITE_ONLY)
                                  : SQL_OBJ_PUBLIC;
            if (x.st->kind == SQL_DDL_DROP_DB || x.st->kind == SQL_DDL_DROP_TABLE) {
                j->schema_state = SQL_OBJ_NONE;
            }
            j->affected = res.affected;
            if (res.warnings > 0) {
                j->warning_code = res.warning_code;
                j->warning_msg = cm_arena_strndup(a, res.warning_msg, strlen(res.warning_msg));
            }
        }
    } else {
        rc = later_step(&x, j, err);
    }
    if (rc != 0) {
        if (!sql_ddl_is_stmt_error(rc)) {
            return rc;
        }
        out->failed = true;
        out->finished = true;
        j->err_code = rc;
        j->err_msg = cm_arena_strndup(a, err->msg, strlen(err->msg));
        j->state = SQL_JOB_ROLLBACK_DONE;
        cm_err_clear(err);
        return 0;
    }
    out->wrote = x.wrote;
    out->finished = j->state == SQL_JOB_DONE || j->state == SQL_JOB_ROLLBACK_DONE ||
                    j->state == SQL_JOB_CANCELLED;
    for (uint32_t i = 0; i < x.nforget && out->nforget < 64; i++) {
        out->forget[out->nforget++] = x.forget[i];
    }
    return 0;
}

/* ---- submission ------------------------------------------------------------------------------ */

int sql_ddl_job_describe(const sql_ddl_stmt *st, const char *curdb, sql_ddl_job *j, cm_arena *a)
{
    static const uint8_t by_kind[] = {
        [SQL_DDL_CREATE_DB] = SQL_JOB_CREATE_DB,
        [SQL_DDL_DROP_DB] = SQL_JOB_DROP_DB,
        [SQL_DDL_CREATE_TABLE] = SQL_JOB_CREATE_TABLE,
        [SQL_DDL_CREATE_LIKE] = SQL_JOB_CREATE_LIKE,
        [SQL_DDL_DROP_TABLE] = SQL_JOB_DROP_TABLE,
        [SQL_DDL_ALTER_TABLE] = SQL_JOB_ALTER_TABLE,
        [SQL_DDL_TRUNCATE] = SQL_JOB_TRUNCATE,
        [SQL_DDL_RENAME_TABLE] = SQL_JOB_RENAME_TABLE,
    };
    j->type = st->kind < sizeof(by_kind) ? by_kind[st->kind] : SQL_JOB_ALTER_TABLE;
    if (st->kind == SQL_DDL_ALTER_TABLE && st->nops > 0) {
        uint8_t k = st->ops[0].kind;
        bool same = true;
        for (uint32_t i = 1; i < st->nops; i++) {
            same = same && st->ops[i].kind == k;
        }
        if (same) {
            switch (k) {
            case SQL_ALTER_ADD_INDEX:
                j->type = SQL_JOB_ADD_INDEX;
                break;
            case SQL_ALTER_DROP_INDEX:
                j->type = SQL_JOB_DROP_INDEX;
                break;
            case SQL_ALTER_ADD_COLUMN:
                j->type = SQL_JOB_ADD_COLUMN;
                break;
            case SQL_ALTER_DROP_COLUMN:
                j->type = SQL_JOB_DROP_COLUMN;
                break;
            case SQL_ALTER_MODIFY_COLUMN:
                j->type = SQL_JOB_MODIFY_COLUMN;
                break;
            case SQL_ALTER_RENAME_COLUMN:
                j->type = SQL_JOB_RENAME_COLUMN;
                break;
            default:
                break;
            }
        }
    }
    const sql_ddl_name *nm = &st->target;
    if ((st->kind == SQL_DDL_DROP_TABLE || st->kind == SQL_DDL_RENAME_TABLE) && st->nnames > 0) {
        nm = &st->names[0];
    }
    bool is_db = st->kind == SQL_DDL_CREATE_DB || st->kind == SQL_DDL_DROP_DB;
    const char *db = is_db ? nm->name : (nm->db != NULL ? nm->db : curdb);
    j->db_name = db != NULL ? cm_arena_strndup(a, db, strlen(db)) : NULL;
    j->table_name =
        !is_db && nm->name != NULL ? cm_arena_strndup(a, nm->name, strlen(nm->name)) : NULL;
    j->curdb = curdb != NULL ? cm_arena_strndup(a, curdb, strlen(curdb)) : NULL;
    return 0;
}
