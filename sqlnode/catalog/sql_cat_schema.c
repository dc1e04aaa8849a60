/*
 * sql_cat_schema.c — the immutable schema snapshot: built once from decoded definitions, looked
 * up case-insensitively by binary search (databases and tables by name, tables by id), shared
 * between threads by reference count and freed with its arena when the last reader lets go.
 */
#include "sql_cat_int.h"

#include <stdlib.h>
#include <string.h>

int sql_cat_namecmp(const char *a, const char *b)
{
    for (;; a++, b++) {
        unsigned char x = (unsigned char)*a, y = (unsigned char)*b;
        if (x >= 'A' && x <= 'Z') {
            x = (unsigned char)(x + 32);
        }
        if (y >= 'A' && y <= 'Z') {
            y = (unsigned char)(y + 32);
        }
        if (x != y || x == 0) {
            return (int)x - (int)y;
        }
    }
}

static int db_cmp(const void *a, const void *b)
{
    return sql_cat_namecmp(((const sql_cat_db *)a)->name, ((const sql_cat_db *)b)->name);
}

/* Sorting tables needs their database's position: keep it in a side array during the build. */
typedef struct tsort {
    sql_cat_table *t;
    uint32_t db;
} tsort;

static int tsort_cmp(const void *a, const void *b)
{
    const tsort *x = a, *y = b;
    if (x->db != y->db) {
        return x->db < y->db ? -1 : 1;
    }
    return sql_cat_namecmp(x->t->name, y->t->name);
}

static int id_cmp(const void *a, const void *b)
{
    const sql_cat_table *x = *(sql_cat_table *const *)a, *y = *(sql_cat_table *const *)b;
    return x->id < y->id ? -1 : x->id > y->id;
}

static int db_index_by_id(const sql_cat_db *dbs, uint32_t n, int64_t id)
{
    for (uint32_t i = 0; i < n; i++) {
        if (dbs[i].id == id) {
            return (int)i;
        }
    }
    return -1;
}

int sql_schema_build(uint64_t version, cm_arena *arena, sql_cat_db *dbs, uint32_t ndbs,
                     sql_cat_table **tables, uint32_t ntables, sql_schema **out, cm_err *err)
{
    sql_schema *s = calloc(1, sizeof(*s));
    if (s == NULL) {
        return cm_err_set(err, CM_E_NOMEM, "out of memory");
    }
    s->refs = 1;
    s->version = version;
    s->arena = *arena;
    cm_arena_init(arena, 0);
    cm_arena *a = &s->arena;
    s->dbs = cm_arena_alloc(a, sizeof(sql_cat_db) * (ndbs + 1));
    s->db_first = cm_arena_alloc(a, sizeof(uint32_t) * (ndbs + 1));
    s->db_ntables = cm_arena_alloc(a, sizeof(uint32_t) * (ndbs + 1));
    s->tables = cm_arena_alloc(a, sizeof(sql_cat_table *) * (ntables + 1));
    s->by_id = cm_arena_alloc(a, sizeof(sql_cat_table *) * (ntables + 1));
    tsort *ts = malloc(sizeof(tsort) * (ntables + 1));
    if (s->dbs == NULL || s->db_first == NULL || s->db_ntables == NULL || s->tables == NULL ||
        s->by_id == NULL || ts == NULL) {
        free(ts);
        sql_schema_release(s);
        return cm_err_set(err, CM_E_NOMEM, "out of memory");
    }
    for (uint32_t i = 0; i < ndbs; i++) {
        if (dbs[i].state == SQL_OBJ_PUBLIC) {
            s->dbs[s->ndbs++] = dbs[i];
        }
    }
    qsort(s->dbs, s->ndbs, sizeof(sql_cat_db), db_cmp);
    uint32_t nt = 0;
    for (uint32_t i = 0; i < ntables; i++) {
        int d = db_index_by_id(s->dbs, s->ndbs, tables[i]->db_id);
        if (d >= 0 && tables[i]->state == SQL_OBJ_PUBLIC) {
            ts[nt].t = tables[i];
            ts[nt].db = (uint32_t)d;
            nt++;
        }
    }
    qsort(ts, nt, sizeof(tsort), tsort_cmp);
    memset(s->db_ntables, 0, sizeof(uint32_t) * (ndbs + 1));
    for (uint32_t i = 0; i < s->ndbs; i++) {
        s->db_first[i] = 0;
    }
    for (uint32_t i = 0; i < nt; i++) {
        s->tables[i] = ts[i].t;
        s->by_id[i] = ts[i].t;
        if (s->db_ntables[ts[i].db]++ == 0) {
            s->db_first[ts[i].db] = i;
        }
    }
    s->ntables = nt;
    free(ts);
    qsort(s->by_id, nt, sizeof(sql_cat_table *), id_cmp);
    *out = s;
    return 0;
}

uint64_t sql_schema_version(const sql_schema *s)
{
    return s->version;
}

static int db_pos(const sql_schema *s, const char *db)
{
    if (db == NULL) {
        return -1;
    }
    uint32_t lo = 0, hi = s->ndbs;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        int c = sql_cat_namecmp(s->dbs[mid].name, db);
        if (c == 0) {
            return (int)mid;
        }
        if (c < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return -1;
}

const sql_cat_db *sql_schema_db(const sql_schema *s, const char *db)
{
    int d = db_pos(s, db);
    return d < 0 ? NULL : &s->dbs[d];
}

const sql_cat_table *sql_schema_table(const sql_schema *s, const char *db, const char *table)
{
    int d = db_pos(s, db);
    if (d < 0 || table == NULL) {
        return NULL;
    }
    uint32_t lo = s->db_first[d], hi = lo + s->db_ntables[d];
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        int c = sql_cat_namecmp(s->tables[mid]->name, table);
        if (c == 0) {
            return s->tables[mid];
        }
        if (c < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return NULL;
}

const sql_cat_table *sql_schema_table_by_id(const sql_schema *s, int64_t table_id)
{
    uint32_t lo = 0, hi = s->ntables;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        int64_t id = s->by_id[mid]->id;
        if (id == table_id) {
            return s->by_id[mid];
        }
        if (id < table_id) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return NULL;
}

const sql_cat_col *sql_table_col(const sql_cat_table *t, const char *name)
{
    for (uint32_t i = 0; i < t->ncols; i++) {
        if (sql_cat_namecmp(t->cols[i].name, name) == 0) {
            return &t->cols[i];
        }
    }
    return NULL;
}

const sql_cat_index *sql_table_index(const sql_cat_table *t, const char *name)
{
    for (uint32_t i = 0; i < t->nindexes; i++) {
        if (sql_cat_namecmp(t->indexes[i].name, name) == 0) {
            return &t->indexes[i];
        }
    }
    return NULL;
}

uint32_t sql_schema_ndbs(const sql_schema *s)
{
    return s->ndbs;
}

const sql_cat_db *sql_schema_db_at(const sql_schema *s, uint32_t i)
{
    return i < s->ndbs ? &s->dbs[i] : NULL;
}

static int db_of(const sql_schema *s, const sql_cat_db *db)
{
    if (db >= s->dbs && db < s->dbs + s->ndbs) {
        return (int)(db - s->dbs);
    }
    return db == NULL ? -1 : db_pos(s, db->name); /* a db from another snapshot */
}

uint32_t sql_schema_ntables(const sql_schema *s, const sql_cat_db *db)
{
    int d = db_of(s, db);
    return d < 0 ? 0 : s->db_ntables[d];
}

const sql_cat_table *sql_schema_table_at(const sql_schema *s, const sql_cat_db *db, uint32_t i)
{
    int d = db_of(s, db);
    if (d < 0 || i >= s->db_ntables[d]) {
        return NULL;
    }
    return s->tables[s->db_first[d] + i];
}

void sql_schema_retain(sql_schema *s)
{
    __atomic_add_fetch(&s->refs, 1, __ATOMIC_RELAXED);
}

void sql_schema_release(sql_schema *s)
{
    if (s == NULL) {
        return;
    }
    if (__atomic_sub_fetch(&s->refs, 1, __ATOMIC_ACQ_REL) == 0) {
        cm_arena_fini(&s->arena);
        free(s);
    }
}

/* ---- definitions: copies and name checks --------------------------------------------------- */

static char *adup(cm_arena *a, const char *s, int *rc)
{
    if (s == NULL) {
        return NULL;
    }
    char *p = cm_arena_strndup(a, s, strlen(s));
    if (p == NULL) {
        *rc = CM_E_NOMEM;
    }
    return p;
}

static void *amemdup(cm_arena *a, const void *p, size_t n, int *rc)
{
    if (p == NULL || n == 0) {
        return NULL;
    }
    void *q = cm_arena_memdup(a, p, n);
    if (q == NULL) {
        *rc = CM_E_NOMEM;
    }
    return q;
}

int sql_cat_table_copy(const sql_cat_table *t, cm_arena *a, sql_cat_table *out, cm_err *err)
{
    int rc = 0;
    *out = *t;
    out->name = adup(a, t->name, &rc);
    out->charset = adup(a, t->charset, &rc);
    out->collation = adup(a, t->collation, &rc);
    out->engine = adup(a, t->engine, &rc);
    out->comment = adup(a, t->comment, &rc);
    /* one spare slot for an added index */
    out->cols = cm_arena_alloc(a, sizeof(sql_cat_col) * (t->ncols + 1));
    out->indexes = cm_arena_alloc(a, sizeof(sql_cat_index) * (t->nindexes + 1));
    if (out->cols == NULL || out->indexes == NULL) {
        return cm_err_set(err, CM_E_NOMEM, "out of memory");
    }
    for (uint32_t i = 0; i < t->ncols; i++) {
        const sql_cat_col *c = &t->cols[i];
        sql_cat_col *d = &out->cols[i];
        *d = *c;
        d->name = adup(a, c->name, &rc);
        d->default_text = adup(a, c->default_text, &rc);
        d->comment = adup(a, c->comment, &rc);
        d->origin = c->has_origin ? amemdup(a, c->origin, c->origin_len, &rc) : NULL;
        if (c->type.nmembers > 0) {
            d->type.members = cm_arena_alloc(a, sizeof(char *) * c->type.nmembers);
            if (d->type.members == NULL) {
                return cm_err_set(err, CM_E_NOMEM, "out of memory");
            }
            for (uint16_t m = 0; m < c->type.nmembers; m++) {
                d->type.members[m] = adup(a, c->type.members[m], &rc);
            }
        }
    }
    for (uint32_t i = 0; i < t->nindexes; i++) {
        const sql_cat_index *x = &t->indexes[i];
        sql_cat_index *y = &out->indexes[i];
        *y = *x;
        y->name = adup(a, x->name, &rc);
        y->comment = adup(a, x->comment, &rc);
        y->cols = amemdup(a, x->cols, sizeof(uint32_t) * x->ncols, &rc);
        y->prefix_len = amemdup(a, x->prefix_len, sizeof(uint32_t) * x->ncols, &rc);
    }
    if (rc != 0) {
        return cm_err_set(err, CM_E_NOMEM, "out of memory");
    }
    return 0;
}

size_t sql_cat_chars(const char *s)
{
    size_t n = 0;
    for (; *s; s++) {
        if (((unsigned char)*s & 0xC0) != 0x80) {
            n++;
        }
    }
    return n;
}

int sql_cat_check_name(const char *name, int kind_code, cm_err *err)
{
    const char *what = kind_code == CM_E_WRONG_DB_NAME      ? "database"
                       : kind_code == CM_E_WRONG_TABLE_NAME ? "table"
                                                            : "column";
    size_t n = strlen(name);
    if (n == 0 || name[n - 1] == ' ') {
        return cm_err_set(err, kind_code, "Incorrect %s name '%s'", what, name);
    }
    if (sql_cat_chars(name) > SQL_CAT_NAME_CHARS_MAX) {
        return cm_err_set(err, CM_E_TOO_LONG_IDENT, "Identifier name '%.100s' is too long", name);
    }
    return 0;
}
