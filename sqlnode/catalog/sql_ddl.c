/*
 * sql_ddl.c — runs DDL statements. Each statement is one KV transaction that reads the schema
 * version key, checks the statement against the schema at the transaction's snapshot, writes the
 * changed definitions, queues the key ranges of dropped data for the GC worker, and moves the
 * version on; a write conflict (another DDL, here or on another sqlnode) re-runs it a bounded
 * number of times. ADD INDEX commits the index as WRITE_REORG, backfills it in batches (each its
 * own transaction, locking the rows it read) and then makes it PUBLIC in a last transaction.
 */
#include "sql_cat_int.h"

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
    /* ADD INDEX: the table and its WRITE_REORG indexes to backfill */
    int64_t bf_db_id, bf_table_id;
    uint32_t bf_n;
    int64_t bf_index[SQL_CAT_INDEXES_MAX];
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

static int put_table(ddl_ctx *x, sql_cat_table *t, cm_err *err)
{
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

/* ADD INDEX on the working copy *t (replaced by a copy with the index, state WRITE_REORG, and
 * remembered for the backfill). */
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
    for (uint32_t j = 0; j < n->nindexes; j++) {
        if (sql_table_index(*t, n->indexes[j].name) == NULL) {
            n->indexes[j].state = SQL_OBJ_WRITE_REORG;
            x->bf_index[x->bf_n++] = n->indexes[j].id;
        }
    }
    *t = n;
    return 0;
}

/* DROP INDEX on the working copy t: its entries are queued for deletion unless the index was
 * added by this very statement (it has none yet). */
static int drop_index_op(ddl_ctx *x, sql_cat_table *t, const sql_alter_op *op, cm_err *err)
{
    const char *name = op->ix.name;
    if (op->ix.primary && t->handle_col >= 0) {
        return cm_err_set(err, CM_E_UNSUPPORTED,
                          "This version of Tessera doesn't yet support 'dropping a clustered "
                          "primary key'");
    }
    uint32_t j = 0;
    while (j < t->nindexes && sql_cat_namecmp(t->indexes[j].name, name) != 0) {
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
            other = k != j && t->indexes[k].cols[0] == (uint32_t)t->autoinc_col;
        }
        if (!other) {
            return cm_err_set(err, CM_E_WRONG_AUTO_KEY,
                              "Incorrect table definition; there can be only one auto column and "
                              "it must be defined as a key");
        }
    }
    bool was_new = false;
    for (uint32_t k = 0; k < x->bf_n && !was_new; k++) {
        if (x->bf_index[k] == t->indexes[j].id) {
            x->bf_index[k] = x->bf_index[--x->bf_n];
            was_new = true;
        }
    }
    if (!was_new) {
        int rc = queue_range(x, t->id, t->indexes[j].id, err);
        if (rc != 0) {
            return rc;
        }
    }
    memmove(&t->indexes[j], &t->indexes[j + 1], sizeof(sql_cat_index) * (t->nindexes - j - 1));
    t->nindexes--;
    return 0;
}

static int alter_table(ddl_ctx *x, cm_err *err)
{
    const sql_cat_table *old;
    int rc = need_table(x, &x->st->target, &old, err);
    if (rc != 0) {
        return rc;
    }
    sql_cat_table *t = cm_arena_alloc(x->a, sizeof(*t));
    if (t == NULL || sql_cat_table_copy(old, x->a, t, err) != 0) {
        return nomem(err);
    }
    x->bf_n = 0;
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
        default: /* SQL_ALTER_NOOP */
            break;
        }
    }
    if (rc != 0) {
        return rc;
    }
    x->bf_db_id = t->db_id;
    x->bf_table_id = t->id;
    return changed ? put_table(x, t, err) : 0;
}

/* ---- the transaction loop -------------------------------------------------------------------- */

static int run_txn(ddl_ctx *x, ddl_body_fn body, cm_err *err)
{
    int rc = 0;
    for (int attempt = 0; attempt < SQL_CAT_DDL_RETRIES; attempt++) {
        x->t = NULL;
        x->s = NULL;
        x->wrote = false;
        x->nforget = 0;
        uint16_t warnings = x->res->warnings;
        rc = cm_txn_begin(x->c->kc, &x->t, err);
        uint64_t v = 0;
        bool found = false;
        if (rc == 0) {
            rc = sql_cat_read_version(x->t, &v, &found, err);
        }
        if (rc == 0 && !found) {
            rc = cm_err_set(err, CM_E_NOT_FOUND, "the schema version key is missing");
        }
        if (rc == 0) {
            /* every metadata change moves the version: same version, same schema */
            x->s = sql_cat_acquire(x->c);
            if (x->s == NULL || x->s->version != v) {
                sql_schema_release(x->s);
                x->s = NULL;
                rc = sql_cat_load(x->t, &x->s, err);
            }
        }
        if (rc == 0) {
            x->new_version = v + 1;
            rc = body(x, err);
        }
        if (rc == 0 && x->wrote) {
            rc = sql_cat_write_version(x->t, v + 1, err);
            if (rc == 0) {
                rc = cm_txn_commit(x->t, err);
            }
        }
        cm_txn_free(x->t);
        x->t = NULL;
        sql_schema_release(x->s);
        x->s = NULL;
        if (rc == 0) {
            for (uint32_t i = 0; i < x->nforget; i++) {
                sql_cat_autoid_forget(x->c, x->forget[i]);
            }
            if (x->wrote) {
                cm_err e2;
                if (sql_cat_reload(x->c, &e2) != 0) {
                    CM_WARN(LOG_COMP, "reload after DDL failed: %s", e2.msg);
                }
            }
            return 0;
        }
        if (rc != CM_E_WRITE_CONFLICT && rc != CM_E_TXN_ROLLED_BACK) {
            return rc;
        }
        x->res->warnings = warnings;
        CM_INFO(LOG_COMP, "DDL conflicted (attempt %d), retrying", attempt + 1);
    }
    return rc;
}

/* ---- backfill -------------------------------------------------------------------------------- */

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

/* The text of index values for 1062's message: values joined by '-'. */
static void dup_text(const sql_cat_table *t, const sql_cat_index *ix, const cm_datum *vals,
                     cm_buf *out)
{
    cm_buf scratch = CM_BUF_INIT;
    cm_err e;
    for (uint32_t i = 0; i < ix->ncols; i++) {
        if (i > 0) {
            cm_buf_append_u8(out, '-');
        }
        sql_value v;
        cm_buf_reset(&scratch);
        if (sql_type_load(&t->cols[ix->cols[i]].type, &vals[i], &v, &scratch, &e) != 0) {
            continue;
        }
        switch (v.type) {
        case SQL_V_INT:
            cm_buf_printf(out, "%lld", (long long)v.i);
            break;
        case SQL_V_UINT:
            cm_buf_printf(out, "%llu", (unsigned long long)v.u);
            break;
        case SQL_V_DOUBLE:
            cm_buf_printf(out, "%g", v.d);
            break;
        case SQL_V_TEXT:
        case SQL_V_BLOB:
            cm_buf_append(out, v.s, v.n > 64 ? 64 : v.n);
            break;
        default:
            cm_buf_printf(out, "NULL");
        }
    }
    cm_buf_fini(&scratch);
}

typedef struct bf_ix {
    const sql_cat_index *ix;
    cm_row_col cols[SQL_CAT_KEY_PARTS_MAX];
} bf_ix;

/* One batch: rows [*from, end) up to SQL_CAT_BACKFILL_BATCH, at a fresh start_ts. *done when the
 * range is exhausted; *from moves past the last row. */
static int backfill_batch(sql_catalog *c, const sql_cat_table *t, const bf_ix *ixs, uint32_t nix,
                          cm_buf *from, cm_slice end, bool *done, cm_err *err)
{
    cm_txn *x = NULL;
    cm_txn_iter *it = NULL;
    int rc = cm_txn_begin(c->kc, &x, err);
    if (rc == 0) {
        rc = cm_txn_scan(x, cm_buf_slice(from), end, &it, err);
    }
    cm_buf last = CM_BUF_INIT, key = CM_BUF_INIT, val = CM_BUF_INIT, old = CM_BUF_INIT;
    cm_buf rowkey = CM_BUF_INIT;
    uint32_t n = 0;
    *done = true;
    while (rc == 0) {
        cm_slice k, v;
        int more = cm_txn_iter_next(it, &k, &v, err);
        if (more <= 0) {
            rc = more;
            break;
        }
        int64_t tid, handle;
        cm_buf_reset(&rowkey);
        if (cm_buf_append_slice(&rowkey, k) != 0) {
            rc = nomem(err);
            break;
        }
        rc = cm_keys_decode_row(k, &tid, &handle, err);
        for (uint32_t i = 0; rc == 0 && i < nix; i++) {
            cm_datum d[SQL_CAT_KEY_PARTS_MAX];
            rc = cm_row_decode(v, ixs[i].cols, ixs[i].ix->ncols, d, NULL, err);
            cm_buf_reset(&key);
            cm_buf_reset(&val);
            bool hik = false;
            if (rc == 0) {
                rc = sql_cat_index_entry(t, ixs[i].ix, d, handle, &key, &val, &hik, err);
            }
            if (rc == 0 && !hik) { /* unique: an entry of another row is a duplicate */
                int g = cm_txn_get(x, cm_buf_slice(&key), &old, err);
                if (g == 0 && !(old.len == val.len && memcmp(old.ptr, val.ptr, val.len) == 0)) {
                    cm_buf txt = CM_BUF_INIT;
                    dup_text(t, ixs[i].ix, d, &txt);
                    rc = cm_err_set(err, CM_E_DUP_ENTRY, "Duplicate entry '%.*s' for key '%s.%s'",
                                    (int)txt.len, txt.ptr ? (const char *)txt.ptr : "", t->name,
                                    ixs[i].ix->name);
                    cm_buf_fini(&txt);
                } else if (g != 0 && g != CM_E_NOT_FOUND) {
                    rc = g;
                }
            }
            if (rc == 0) {
                rc = cm_txn_set(x, cm_buf_slice(&key), cm_buf_slice(&val), err);
            }
        }
        if (rc == 0) {
            /* a row changed after our snapshot now conflicts with this batch (DESIGN §8) */
            rc = cm_txn_lock(x, cm_buf_slice(&rowkey), err);
        }
        if (rc == 0) {
            cm_buf_reset(&last);
            rc = cm_buf_append_slice(&last, cm_buf_slice(&rowkey)) != 0 ? nomem(err) : 0;
        }
        if (rc == 0 && ++n >= SQL_CAT_BACKFILL_BATCH) {
            *done = false;
            break;
        }
    }
    cm_txn_iter_free(it);
    if (rc == 0) {
        rc = cm_txn_commit(x, err);
    }
    cm_txn_free(x);
    if (rc == 0 && !*done) {
        /* the next batch starts right after the last row: its key followed by a zero byte */
        cm_buf_reset(from);
        if (cm_buf_append_slice(from, cm_buf_slice(&last)) != 0 || cm_buf_append_u8(from, 0) != 0) {
            rc = nomem(err);
        }
    }
    cm_buf_fini(&last);
    cm_buf_fini(&key);
    cm_buf_fini(&val);
    cm_buf_fini(&old);
    cm_buf_fini(&rowkey);
    return rc;
}

static int backfill(ddl_ctx *x, const sql_cat_table *t, cm_err *err)
{
    bf_ix ixs[SQL_CAT_INDEXES_MAX];
    uint32_t nix = 0;
    for (uint32_t i = 0; i < t->nindexes; i++) {
        for (uint32_t k = 0; k < x->bf_n; k++) {
            if (t->indexes[i].id == x->bf_index[k]) {
                ixs[nix].ix = &t->indexes[i];
                for (uint32_t j = 0; j < t->indexes[i].ncols; j++) {
                    const sql_cat_col *col = &t->cols[t->indexes[i].cols[j]];
                    ixs[nix].cols[j].id = col->id;
                    ixs[nix].cols[j].type = (cm_dtype)col->type.dtype;
                }
                nix++;
            }
        }
    }
    cm_buf from = CM_BUF_INIT, end = CM_BUF_INIT;
    int rc = cm_keys_rows_range(t->id, &from, &end) != 0 ? nomem(err) : 0;
    bool done = false;
    uint64_t batches = 0;
    while (rc == 0 && !done) {
        int attempt = 0;
        cm_buf save = CM_BUF_INIT;
        if (cm_buf_append_slice(&save, cm_buf_slice(&from)) != 0) {
            rc = nomem(err);
        }
        while (rc == 0) {
            rc = backfill_batch(x->c, t, ixs, nix, &from, cm_buf_slice(&end), &done, err);
            if ((rc != CM_E_WRITE_CONFLICT && rc != CM_E_TXN_ROLLED_BACK) ||
                ++attempt >= SQL_CAT_DDL_RETRIES) {
                break;
            }
            cm_buf_reset(&from);
            cm_buf_append_slice(&from, cm_buf_slice(&save));
            rc = 0;
        }
        cm_buf_fini(&save);
        batches++;
    }
    CM_INFO(LOG_COMP, "backfill of table %lld: %llu batches, rc=%d", (long long)t->id,
            (unsigned long long)batches, rc);
    cm_buf_fini(&from);
    cm_buf_fini(&end);
    return rc;
}

/* After a backfill: the indexes become PUBLIC (ok) or are removed (failed). */
static int finish_indexes(ddl_ctx *x, cm_err *err)
{
    const sql_cat_table *cur = sql_schema_table_by_id(x->s, x->bf_table_id);
    if (cur == NULL) {
        return cm_err_set(err, CM_E_SCHEMA_CHANGED,
                          "Information schema is changed: the table was dropped during ADD INDEX");
    }
    sql_cat_table *t = cm_arena_alloc(x->a, sizeof(*t));
    if (t == NULL || sql_cat_table_copy(cur, x->a, t, err) != 0) {
        return nomem(err);
    }
    bool ok = x->res->affected == 0; /* set to 1 by the caller when the backfill failed */
    uint32_t w = 0;
    for (uint32_t i = 0; i < t->nindexes; i++) {
        bool mine = false;
        for (uint32_t k = 0; k < x->bf_n; k++) {
            mine = mine || t->indexes[i].id == x->bf_index[k];
        }
        if (mine && ok) {
            t->indexes[i].state = SQL_OBJ_PUBLIC;
        } else if (mine) {
            int rc = queue_range(x, t->id, t->indexes[i].id, err);
            if (rc != 0) {
                return rc;
            }
            continue;
        }
        t->indexes[w++] = t->indexes[i];
    }
    t->nindexes = w;
    return put_table(x, t, err);
}

static int add_indexes(ddl_ctx *x, cm_err *err)
{
    int rc = run_txn(x, alter_table, err);
    if (rc != 0 || x->bf_n == 0) {
        return rc;
    }
    sql_schema *s = sql_cat_acquire(x->c);
    const sql_cat_table *t = sql_schema_table_by_id(s, x->bf_table_id);
    cm_err bf_err;
    cm_err_clear(&bf_err);
    int bf_rc = t == NULL ? cm_err_set(&bf_err, CM_E_SCHEMA_CHANGED, "table changed during DDL")
                          : backfill(x, t, &bf_err);
    sql_schema_release(s);
    x->res->affected = bf_rc != 0; /* tells finish_indexes to remove them */
    rc = run_txn(x, finish_indexes, err);
    x->res->affected = 0;
    if (bf_rc != 0) {
        *err = bf_err;
        return bf_rc;
    }
    return rc;
}

/* ---- entry point ----------------------------------------------------------------------------- */

int sql_ddl_exec(sql_catalog *c, const char *curdb, const char *src, const sql_token *t, uint32_t n,
                 sql_ddl_result *res, cm_err *err)
{
    return sql_ddl_exec_mode(c, curdb, 0, src, t, n, res, err);
}

int sql_ddl_exec_mode(sql_catalog *c, const char *curdb, unsigned lex_mode, const char *src,
                      const sql_token *t, uint32_t n, sql_ddl_result *res, cm_err *err)
{
    memset(res, 0, sizeof(*res));
    cm_arena a;
    cm_arena_init(&a, 0);
    sql_ddl_stmt st;
    int rc = sql_ddl_parse_mode(src, t, n, lex_mode, &a, &st, err);
    if (rc != 0) {
        cm_arena_fini(&a);
        return rc;
    }
    ddl_ctx x;
    memset(&x, 0, sizeof(x));
    x.c = c;
    x.curdb = curdb;
    x.st = &st;
    x.res = res;
    x.a = &a;
    pthread_mutex_lock(&c->ddl_mu);
    switch (st.kind) {
    case SQL_DDL_CREATE_DB:
        rc = run_txn(&x, create_db, err);
        break;
    case SQL_DDL_DROP_DB:
        rc = run_txn(&x, drop_db, err);
        break;
    case SQL_DDL_CREATE_TABLE:
        rc = run_txn(&x, create_table, err);
        break;
    case SQL_DDL_CREATE_LIKE:
        rc = run_txn(&x, create_like, err);
        break;
    case SQL_DDL_DROP_TABLE:
        rc = run_txn(&x, drop_tables, err);
        break;
    case SQL_DDL_TRUNCATE:
        rc = run_txn(&x, truncate_table, err);
        break;
    case SQL_DDL_RENAME_TABLE:
        rc = run_txn(&x, rename_tables, err);
        break;
    case SQL_DDL_ALTER_TABLE:
        rc = add_indexes(&x, err);
        break;
    default:
        rc = cm_err_set(err, CM_E_INTERNAL, "unknown DDL kind %d", st.kind);
    }
    pthread_mutex_unlock(&c->ddl_mu);
    cm_arena_fini(&a);
    return rc;
}
