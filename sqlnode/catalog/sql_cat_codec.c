/*
 * sql_cat_codec.c — the stored form of database and table definitions and the metadata keys
 * they live under (docs/sql-layer.md "Metadata keys"). Compact and versioned: a format byte,
 * then LEB128 varints and length-prefixed strings. Decoding checks every count, id and flag so a
 * corrupt value is CM_E_CORRUPT, never a crash.
 */
#include "sql_cat_int.h"

#include "cm_keys.h"
#include "cm_row.h"

#include <stdio.h>
#include <string.h>

/* ---- keys ------------------------------------------------------------------------------------ */

static cm_slice cstr(const char *s)
{
    return cm_slice_make(s, strlen(s));
}

int sql_cat_key_version(cm_buf *k)
{
    return cm_keys_append_meta_string(k, cstr(SQL_CAT_KEY_VERSION));
}

int sql_cat_key_db(cm_buf *k, int64_t db_id)
{
    char f[32];
    snprintf(f, sizeof(f), "DB:%lld", (long long)db_id);
    return cm_keys_append_meta_hash_field(k, cstr(SQL_CAT_KEY_DBS), cstr(f));
}

int sql_cat_key_dbs_range(cm_buf *start, cm_buf *end)
{
    int rc = cm_keys_append_meta_prefix(start, cstr(SQL_CAT_KEY_DBS), CM_META_HASH);
    return rc != 0 ? rc : cm_keys_prefix_next(cm_buf_slice(start), end);
}

static int db_hash_field(cm_buf *k, int64_t db_id, const char *kind, int64_t id)
{
    char name[32], f[40];
    snprintf(name, sizeof(name), "DB:%lld", (long long)db_id);
    snprintf(f, sizeof(f), "%s:%lld", kind, (long long)id);
    return cm_keys_append_meta_hash_field(k, cstr(name), cstr(f));
}

int sql_cat_key_table(cm_buf *k, int64_t db_id, int64_t table_id)
{
    return db_hash_field(k, db_id, "Table", table_id);
}

int sql_cat_key_autoid(cm_buf *k, int64_t db_id, int64_t table_id)
{
    return db_hash_field(k, db_id, "TID", table_id);
}

int sql_cat_key_db_range(int64_t db_id, cm_buf *start, cm_buf *end)
{
    char name[32];
    snprintf(name, sizeof(name), "DB:%lld", (long long)db_id);
    int rc = cm_keys_append_meta_prefix(start, cstr(name), CM_META_HASH);
    return rc != 0 ? rc : cm_keys_prefix_next(cm_buf_slice(start), end);
}

/* ---- writer ---------------------------------------------------------------------------------- */

typedef struct wr {
    cm_buf *b;
    int rc;
} wr;

static void w_u8(wr *w, uint8_t v)
{
    if (w->rc == 0) {
        w->rc = cm_buf_append_u8(w->b, v);
    }
}

static void w_uv(wr *w, uint64_t v)
{
    if (w->rc == 0) {
        w->rc = cm_buf_append_uvarint(w->b, v);
    }
}

/* A string: uvarint(len + 1) then the bytes; 0 for NULL. */
static void w_str(wr *w, const char *s)
{
    if (s == NULL) {
        w_uv(w, 0);
        return;
    }
    size_t n = strlen(s);
    w_uv(w, (uint64_t)n + 1);
    if (w->rc == 0) {
        w->rc = cm_buf_append(w->b, s, n);
    }
}

int sql_cat_encode_db(const sql_cat_db *d, cm_buf *out)
{
    wr w = {out, 0};
    w_u8(&w, SQL_CAT_DB_FORMAT);
    w_uv(&w, (uint64_t)d->id);
    w_u8(&w, d->state);
    w_str(&w, d->name);
    w_str(&w, d->charset);
    w_str(&w, d->collation);
    return w.rc;
}

#define COLF_NOT_NULL   0x01
#define COLF_AUTO_INC   0x02
#define COLF_HAS_DEF    0x04
#define COLF_DEF_NULL   0x08
#define COLF_DEF_NOW    0x10
#define COLF_ON_UPD_NOW 0x20
#define COLF_ORIGIN     0x40 /* an origin default follows the type (docs/ddl.md "Columns") */
#define COLF_ALL        0x7f

#define TYPF_UNSIGNED 0x01
#define TYPF_ZEROFILL 0x02
#define TYPF_FIXED    0x04
#define TYPF_ALL      0x07

#define IXF_UNIQUE  0x01
#define IXF_PRIMARY 0x02
#define IXF_ALL     0x03

static void w_type(wr *w, const sql_coltype *ty)
{
    w_u8(w, ty->mysql_type);
    w_u8(w, ty->dtype);
    w_u8(w, (uint8_t)((ty->is_unsigned ? TYPF_UNSIGNED : 0) | (ty->zerofill ? TYPF_ZEROFILL : 0) |
                      (ty->fixed ? TYPF_FIXED : 0)));
    w_u8(w, ty->precision);
    w_u8(w, ty->decimals);
    w_uv(w, ty->length);
    w_uv(w, ty->collation);
    w_uv(w, ty->nmembers);
    for (uint16_t i = 0; i < ty->nmembers; i++) {
        w_str(w, ty->members[i]);
    }
}

int sql_cat_encode_table(const sql_cat_table *t, cm_buf *out)
{
    wr w = {out, 0};
    w_u8(&w, SQL_CAT_TABLE_FORMAT);
    w_uv(&w, (uint64_t)t->id);
    w_uv(&w, (uint64_t)t->db_id);
    w_u8(&w, t->state);
    w_uv(&w, t->version);
    w_str(&w, t->name);
    w_str(&w, t->charset);
    w_str(&w, t->collation);
    w_str(&w, t->engine);
    w_str(&w, t->comment);
    w_uv(&w, (uint64_t)(t->handle_col + 1));
    w_uv(&w, (uint64_t)(t->autoinc_col + 1));
    w_uv(&w, t->autoinc_start);
    w_uv(&w, t->next_col_id);
    w_uv(&w, t->ncols);
    for (uint32_t i = 0; i < t->ncols; i++) {
        const sql_cat_col *c = &t->cols[i];
        w_uv(&w, c->id);
        w_str(&w, c->name);
        w_u8(&w, c->state);
        w_u8(&w,
             (uint8_t)((c->not_null ? COLF_NOT_NULL : 0) | (c->auto_inc ? COLF_AUTO_INC : 0) |
                       (c->has_default ? COLF_HAS_DEF : 0) | (c->default_null ? COLF_DEF_NULL : 0) |
                       (c->default_now ? COLF_DEF_NOW : 0) |
                       (c->on_update_now ? COLF_ON_UPD_NOW : 0) |
                       (c->has_origin ? COLF_ORIGIN : 0)));
        w_str(&w, c->default_text);
        w_str(&w, c->comment);
        w_type(&w, &c->type);
        if (c->has_origin) {
            w_uv(&w, c->origin_len);
            if (w.rc == 0 && c->origin_len > 0) {
                w.rc = cm_buf_append(w.b, c->origin, c->origin_len);
            }
        }
    }
    w_uv(&w, t->nindexes);
    for (uint32_t i = 0; i < t->nindexes; i++) {
        const sql_cat_index *x = &t->indexes[i];
        w_uv(&w, (uint64_t)x->id);
        w_str(&w, x->name);
        w_u8(&w, x->state);
        w_u8(&w, (uint8_t)((x->unique ? IXF_UNIQUE : 0) | (x->primary ? IXF_PRIMARY : 0)));
        w_str(&w, x->comment);
        w_uv(&w, x->ncols);
        for (uint32_t j = 0; j < x->ncols; j++) {
            uint32_t off = x->cols[j];
            w_uv(&w, off < t->ncols ? t->cols[off].id : 0);
            w_uv(&w, x->prefix_len ? x->prefix_len[j] : 0);
        }
    }
    return w.rc;
}

/* ---- reader ---------------------------------------------------------------------------------- */

typedef struct rd {
    cm_reader r;
    cm_arena *a;
    int rc;
    const char *what; /* first failure */
} rd;

static void r_fail(rd *r, const char *what)
{
    if (r->rc == 0) {
        r->rc = CM_E_CORRUPT;
        r->what = what;
    }
}

static uint8_t r_u8(rd *r, const char *what)
{
    uint8_t v = 0;
    if (r->rc == 0 && cm_reader_u8(&r->r, &v) != 0) {
        r_fail(r, what);
    }
    return v;
}

static uint64_t r_uv(rd *r, uint64_t max, const char *what)
{
    uint64_t v = 0;
    if (r->rc == 0 && (cm_reader_uvarint(&r->r, &v) != 0 || v > max)) {
        r_fail(r, what);
        return 0;
    }
    return v;
}

static char *r_str(rd *r, const char *what)
{
    uint64_t n = r_uv(r, SQL_CAT_VALUE_BYTES_MAX + 1, what);
    if (r->rc != 0 || n == 0) {
        return NULL;
    }
    cm_slice s;
    if (cm_reader_bytes(&r->r, (size_t)(n - 1), &s) != 0) {
        r_fail(r, what);
        return NULL;
    }
    if (memchr(s.ptr, 0, s.len) != NULL) {
        r_fail(r, what);
        return NULL;
    }
    char *p = cm_arena_strndup(r->a, (const char *)s.ptr, s.len);
    if (p == NULL && r->rc == 0) {
        r->rc = CM_E_NOMEM;
        r->what = "out of memory";
    }
    return p;
}

static char *r_name(rd *r, const char *what)
{
    char *s = r_str(r, what);
    if (r->rc == 0 && (s == NULL || s[0] == 0)) {
        r_fail(r, what);
    }
    return s;
}

static int r_end(rd *r, const char *kind, cm_err *err)
{
    if (r->rc == 0 && cm_reader_left(&r->r) != 0) {
        r_fail(r, "trailing bytes");
    }
    if (r->rc == CM_E_NOMEM) {
        return cm_err_set(err, CM_E_NOMEM, "out of memory");
    }
    if (r->rc != 0) {
        return cm_err_set(err, CM_E_CORRUPT, "corrupt %s definition: %s at byte %zu", kind, r->what,
                          r->r.pos);
    }
    return 0;
}

static uint8_t r_state(rd *r)
{
    uint8_t s = r_u8(r, "state");
    if (s > SQL_OBJ_PUBLIC) {
        r_fail(r, "state");
    }
    return s;
}

int sql_cat_decode_db(cm_slice in, cm_arena *a, sql_cat_db *out, cm_err *err)
{
    rd r = {.a = a};
    cm_reader_init(&r.r, in.ptr, in.len);
    memset(out, 0, sizeof(*out));
    if (r_u8(&r, "format") != SQL_CAT_DB_FORMAT) {
        r_fail(&r, "format");
    }
    out->id = (int64_t)r_uv(&r, INT64_MAX, "id");
    out->state = r_state(&r);
    out->name = r_name(&r, "name");
    out->charset = r_str(&r, "charset");
    out->collation = r_str(&r, "collation");
    return r_end(&r, "database", err);
}

static void r_type(rd *r, sql_coltype *ty)
{
    ty->mysql_type = r_u8(r, "type");
    ty->dtype = r_u8(r, "dtype");
    if (ty->dtype > CM_DT_JSON) {
        r_fail(r, "dtype");
    }
    uint8_t f = r_u8(r, "type flags");
    if (f & ~TYPF_ALL) {
        r_fail(r, "type flags");
    }
    ty->is_unsigned = (f & TYPF_UNSIGNED) != 0;
    ty->zerofill = (f & TYPF_ZEROFILL) != 0;
    ty->fixed = (f & TYPF_FIXED) != 0;
    ty->precision = r_u8(r, "precision");
    ty->decimals = r_u8(r, "decimals");
    ty->length = (uint32_t)r_uv(r, UINT32_MAX, "length");
    ty->collation = (uint16_t)r_uv(r, UINT16_MAX, "collation");
    ty->nmembers = (uint16_t)r_uv(r, SQL_CAT_MEMBERS_MAX, "members");
    ty->members = NULL;
    if (r->rc == 0 && ty->nmembers > 0) {
        /* each member takes at least one byte: a count beyond the input is corrupt */
        if (ty->nmembers > cm_reader_left(&r->r)) {
            r_fail(r, "members");
            ty->nmembers = 0;
            return;
        }
        ty->members = cm_arena_alloc(r->a, sizeof(char *) * ty->nmembers);
        if (ty->members == NULL) {
            r->rc = CM_E_NOMEM;
            ty->nmembers = 0;
            return;
        }
        for (uint16_t i = 0; i < ty->nmembers; i++) {
            ty->members[i] = r_str(r, "member");
            if (r->rc == 0 && ty->members[i] == NULL) {
                r_fail(r, "member");
            }
        }
    }
}

static void r_col(rd *r, sql_cat_col *c, uint32_t offset)
{
    c->offset = offset;
    c->id = (uint32_t)r_uv(r, UINT32_MAX, "column id");
    c->name = r_name(r, "column name");
    c->state = r_state(r);
    uint8_t f = r_u8(r, "column flags");
    if (f & ~COLF_ALL) {
        r_fail(r, "column flags");
    }
    c->not_null = (f & COLF_NOT_NULL) != 0;
    c->auto_inc = (f & COLF_AUTO_INC) != 0;
    c->has_default = (f & COLF_HAS_DEF) != 0;
    c->default_null = (f & COLF_DEF_NULL) != 0;
    c->default_now = (f & COLF_DEF_NOW) != 0;
    c->on_update_now = (f & COLF_ON_UPD_NOW) != 0;
    c->default_text = r_str(r, "default");
    c->comment = r_str(r, "column comment");
    r_type(r, &c->type);
    c->has_origin = (f & COLF_ORIGIN) != 0;
    if (r->rc == 0 && c->has_origin) {
        /* a one-cell row: checked here so a reader never meets a malformed one */
        uint64_t n = r_uv(r, SQL_CAT_VALUE_BYTES_MAX, "origin default");
        cm_slice s = {NULL, 0};
        if (r->rc == 0 && cm_reader_bytes(&r->r, (size_t)n, &s) != 0) {
            r_fail(r, "origin default");
        }
        cm_row_view view;
        cm_slice val;
        cm_datum d;
        cm_err e;
        if (r->rc == 0 && (cm_row_view_init(&view, s, &e) != 0 || cm_row_view_count(&view) != 1 ||
                           (cm_row_view_find(&view, 1, &val) == CM_ROW_VALUE &&
                            cm_row_value_decode((cm_dtype)c->type.dtype, val, &d, &e) != 0) ||
                           cm_row_view_find(&view, 1, &val) == CM_ROW_ABSENT)) {
            r_fail(r, "origin default");
        }
        if (r->rc == 0) {
            c->origin = cm_arena_memdup(r->a, s.ptr, s.len);
            c->origin_len = (uint32_t)s.len;
            if (c->origin == NULL) {
                r->rc = CM_E_NOMEM;
                r->what = "out of memory";
            }
        }
    }
}

static int col_by_id(const sql_cat_table *t, uint32_t id)
{
    for (uint32_t i = 0; i < t->ncols; i++) {
        if (t->cols[i].id == id) {
            return (int)i;
        }
    }
    return -1;
}

static void r_index(rd *r, sql_cat_table *t, sql_cat_index *x)
{
    x->id = (int64_t)r_uv(r, INT64_MAX, "index id");
    x->name = r_name(r, "index name");
    x->state = r_state(r);
    uint8_t f = r_u8(r, "index flags");
    if (f & ~IXF_ALL) {
        r_fail(r, "index flags");
    }
    x->unique = (f & IXF_UNIQUE) != 0;
    x->primary = (f & IXF_PRIMARY) != 0;
    x->comment = r_str(r, "index comment");
    x->ncols = (uint32_t)r_uv(r, SQL_CAT_KEY_PARTS_MAX, "index columns");
    if (r->rc == 0 && x->ncols == 0) {
        r_fail(r, "index columns");
    }
    if (r->rc != 0) {
        x->ncols = 0;
        return;
    }
    x->cols = cm_arena_alloc(r->a, sizeof(uint32_t) * x->ncols);
    x->prefix_len = cm_arena_alloc(r->a, sizeof(uint32_t) * x->ncols);
    if (x->cols == NULL || x->prefix_len == NULL) {
        r->rc = CM_E_NOMEM;
        x->ncols = 0;
        return;
    }
    for (uint32_t j = 0; j < x->ncols; j++) {
        uint32_t id = (uint32_t)r_uv(r, UINT32_MAX, "index column");
        int off = col_by_id(t, id);
        if (r->rc == 0 && off < 0) {
            r_fail(r, "index column id");
        }
        x->cols[j] = off < 0 ? 0 : (uint32_t)off;
        x->prefix_len[j] = (uint32_t)r_uv(r, UINT32_MAX, "prefix length");
    }
}

int sql_cat_decode_table(cm_slice in, cm_arena *a, sql_cat_table *out, cm_err *err)
{
    rd r = {.a = a};
    cm_reader_init(&r.r, in.ptr, in.len);
    memset(out, 0, sizeof(*out));
    out->handle_col = -1;
    out->autoinc_col = -1;
    if (r_u8(&r, "format") != SQL_CAT_TABLE_FORMAT) {
        r_fail(&r, "format");
    }
    out->id = (int64_t)r_uv(&r, INT64_MAX, "id");
    out->db_id = (int64_t)r_uv(&r, INT64_MAX, "db id");
    out->state = r_state(&r);
    out->version = r_uv(&r, UINT64_MAX, "version");
    out->name = r_name(&r, "name");
    out->charset = r_str(&r, "charset");
    out->collation = r_str(&r, "collation");
    out->engine = r_str(&r, "engine");
    out->comment = r_str(&r, "comment");
    uint64_t hc = r_uv(&r, SQL_CAT_COLS_MAX, "handle column");
    uint64_t ac = r_uv(&r, SQL_CAT_COLS_MAX, "auto column");
    out->autoinc_start = r_uv(&r, UINT64_MAX, "auto_increment");
    out->next_col_id = (uint32_t)r_uv(&r, UINT32_MAX, "next column id");
    out->ncols = (uint32_t)r_uv(&r, SQL_CAT_COLS_MAX, "columns");
    if (r.rc == 0 && (out->ncols == 0 || out->ncols > cm_reader_left(&r.r))) {
        r_fail(&r, "columns");
    }
    if (r.rc == 0) {
        out->cols = cm_arena_alloc(a, sizeof(sql_cat_col) * out->ncols);
        if (out->cols == NULL) {
            return cm_err_set(err, CM_E_NOMEM, "out of memory");
        }
        memset(out->cols, 0, sizeof(sql_cat_col) * out->ncols);
        for (uint32_t i = 0; i < out->ncols && r.rc == 0; i++) {
            r_col(&r, &out->cols[i], i);
            if (r.rc == 0 && (out->cols[i].id == 0 || out->cols[i].id >= out->next_col_id ||
                              col_by_id(out, out->cols[i].id) != (int)i)) {
                r_fail(&r, "column id");
            }
        }
    } else {
        out->ncols = 0;
    }
    if (r.rc == 0 && (hc > out->ncols || ac > out->ncols)) {
        r_fail(&r, "handle/auto column");
    }
    out->handle_col = (int32_t)hc - 1;
    out->autoinc_col = (int32_t)ac - 1;
    out->nindexes = (uint32_t)r_uv(&r, SQL_CAT_INDEXES_MAX, "indexes");
    if (r.rc == 0 && out->nindexes > 0) {
        out->indexes = cm_arena_alloc(a, sizeof(sql_cat_index) * out->nindexes);
        if (out->indexes == NULL) {
            return cm_err_set(err, CM_E_NOMEM, "out of memory");
        }
        memset(out->indexes, 0, sizeof(sql_cat_index) * out->nindexes);
        for (uint32_t i = 0; i < out->nindexes && r.rc == 0; i++) {
            r_index(&r, out, &out->indexes[i]);
        }
    } else if (r.rc != 0) {
        out->nindexes = 0;
    }
    int rc = r_end(&r, "table", err);
    if (rc != 0) {
        /* leave a shape nobody can walk off */
        out->ncols = 0;
        out->nindexes = 0;
        out->handle_col = -1;
        out->autoinc_col = -1;
    }
    return rc;
}
