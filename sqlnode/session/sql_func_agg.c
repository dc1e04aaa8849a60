/*
 * sql_func_agg.c — GROUP_CONCAT as MySQL has it, which SQLite 3.40's group_concat cannot be
 * (no ORDER BY inside an aggregate, a second argument that is the separator, no length cap):
 * the translator turns GROUP_CONCAT([DISTINCT] e1, … [ORDER BY k [DESC], …] [SEPARATOR s]) into
 * _tdb_group_concat(distinct, s, n, e1 … en, k1, desc1, …). Rows with a NULL expression are
 * skipped; the expressions of a row are concatenated; DISTINCT compares that text; the result
 * is cut at group_concat_max_len bytes (on a character boundary) with warning 1260. TEXT (BLOB
 * when an expression is binary); NULL for a group without rows.
 */
#include "sql_func_int.h"

#include <stdlib.h>
#include <string.h>

typedef struct gc_row {
    char *text; /* owned */
    size_t len;
    sqlite3_value **keys; /* owned copies */
} gc_row;

typedef struct gc_state {
    gc_row *rows;
    size_t nrows, cap;
    int nkeys;
    int desc[64];
    int blob;
    int failed;
    char *sep; /* owned */
    size_t seplen;
    int distinct;
} gc_state;

static void gc_free_rows(gc_state *g)
{
    for (size_t i = 0; i < g->nrows; i++) {
        free(g->rows[i].text);
        for (int k = 0; k < g->nkeys; k++) {
            sqlite3_value_free(g->rows[i].keys[k]);
        }
        free(g->rows[i].keys);
    }
    free(g->rows);
    free(g->sep);
    memset(g, 0, sizeof(*g));
}

static void gc_step(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    gc_state *g = sqlite3_aggregate_context(ctx, sizeof(*g));
    if (g == NULL) {
        sqlite3_result_error_nomem(ctx);
        return;
    }
    if (g->failed || argc < 4) {
        return;
    }
    /* the translator's layout; anything else (a direct call) is refused */
    int n = sqlite3_value_int(argv[2]);
    int nkeys = n >= 1 && n <= argc - 3 ? (argc - 3 - n) / 2 : -1;
    if (nkeys < 0 || 3 + n + 2 * nkeys != argc || nkeys > 64) {
        g->failed = 1;
        return;
    }
    if (g->sep == NULL) {
        sql_fn_str s = sql_fn_get_str(argv[1]);
        g->sep = malloc(s.n + 1);
        if (g->sep == NULL) {
            g->failed = 1;
            return;
        }
        memcpy(g->sep, s.p, s.n);
        g->seplen = s.n;
        g->distinct = sqlite3_value_int(argv[0]);
        g->nkeys = nkeys;
        for (int k = 0; k < nkeys; k++) {
            g->desc[k] = sqlite3_value_int(argv[3 + n + 2 * k + 1]);
        }
    }
    if (sql_fn_any_null(n, argv + 3)) {
        return;
    }
    cm_buf b = CM_BUF_INIT;
    for (int i = 0; i < n; i++) {
        sql_fn_str s = sql_fn_get_str(argv[3 + i]);
        g->blob |= s.blob;
        if (cm_buf_append(&b, s.p, s.n) != 0) {
            cm_buf_fini(&b);
            g->failed = 1;
            return;
        }
    }
    if (g->nrows == g->cap) {
        size_t cap = g->cap ? g->cap * 2 : 16;
        gc_row *r = realloc(g->rows, cap * sizeof(*r));
        if (r == NULL) {
            cm_buf_fini(&b);
            g->failed = 1;
            return;
        }
        g->rows = r;
        g->cap = cap;
    }
    gc_row *row = &g->rows[g->nrows];
    row->text = b.ptr ? (char *)b.ptr : NULL;
    row->len = b.len;
    row->keys = nkeys ? calloc((size_t)nkeys, sizeof(*row->keys)) : NULL;
    g->nrows++;
    for (int k = 0; k < nkeys; k++) {
        if (row->keys == NULL || (row->keys[k] = sqlite3_value_dup(argv[3 + n + 2 * k])) == NULL) {
            g->failed = 1;
            return;
        }
    }
}

/* Compares two decimal texts by value, exactly (any number of digits). */
static int decimal_cmp(const unsigned char *a, size_t an, const unsigned char *b, size_t bn)
{
    int na = an > 0 && a[0] == '-', nb = bn > 0 && b[0] == '-';
    a += na, an -= (size_t)na, b += nb, bn -= (size_t)nb;
    while (an > 1 && a[0] == '0' && a[1] != '.') {
        a++, an--;
    }
    while (bn > 1 && b[0] == '0' && b[1] != '.') {
        b++, bn--;
    }
    const unsigned char *da = memchr(a, '.', an), *db = memchr(b, '.', bn);
    size_t ia = da ? (size_t)(da - a) : an, ib = db ? (size_t)(db - b) : bn;
    int c = ia != ib ? (ia < ib ? -1 : 1) : memcmp(a, b, ia);
    for (size_t k = 0; c == 0 && (ia + 1 + k < an || ib + 1 + k < bn); k++) {
        unsigned char x = ia + 1 + k < an ? a[ia + 1 + k] : '0';
        unsigned char y = ib + 1 + k < bn ? b[ib + 1 + k] : '0';
        c = x < y ? -1 : x > y;
    }
    c = c < 0 ? -1 : c > 0;
    int zero_a = 1, zero_b = 1; /* -0.0 equals 0 */
    for (size_t k = 0; k < an; k++) {
        zero_a &= a[k] == '0' || a[k] == '.';
    }
    for (size_t k = 0; k < bn; k++) {
        zero_b &= b[k] == '0' || b[k] == '.';
    }
    na &= !zero_a;
    nb &= !zero_b;
    if (na != nb) {
        return na ? -1 : 1;
    }
    return na ? -c : c;
}

/* NULL < numbers < text/blob; numbers by value, decimal text by value, other text by bytes
 * (utf8mb4_bin). */
static int key_cmp(sqlite3_value *a, sqlite3_value *b)
{
    int ta = sqlite3_value_type(a), tb = sqlite3_value_type(b);
    if (ta == SQLITE_TEXT && tb == SQLITE_TEXT) {
        sql_fn_str x = sql_fn_get_str(a), y = sql_fn_get_str(b);
        if (sql_fn_is_decimal_text(x.p, x.n) && sql_fn_is_decimal_text(y.p, y.n)) {
            return decimal_cmp(x.p, x.n, y.p, y.n);
        }
    }
    int ca = ta == SQLITE_NULL ? 0 : (ta == SQLITE_INTEGER || ta == SQLITE_FLOAT) ? 1 : 2;
    int cb = tb == SQLITE_NULL ? 0 : (tb == SQLITE_INTEGER || tb == SQLITE_FLOAT) ? 1 : 2;
    if (ca != cb) {
        return ca < cb ? -1 : 1;
    }
    if (ca == 0) {
        return 0;
    }
    if (ca == 1) {
        if (ta == SQLITE_INTEGER && tb == SQLITE_INTEGER) {
            int64_t x = sqlite3_value_int64(a), y = sqlite3_value_int64(b);
            return x < y ? -1 : x > y;
        }
        double x = sqlite3_value_double(a), y = sqlite3_value_double(b);
        return x < y ? -1 : x > y;
    }
    sql_fn_str x = sql_fn_get_str(a), y = sql_fn_get_str(b);
    size_t n = x.n < y.n ? x.n : y.n;
    int c = n ? memcmp(x.p, y.p, n) : 0;
    if (c == 0) {
        return x.n < y.n ? -1 : x.n > y.n;
    }
    return c < 0 ? -1 : 1;
}

static int row_cmp(const gc_state *g, const gc_row *a, const gc_row *b)
{
    for (int k = 0; k < g->nkeys; k++) {
        int c = key_cmp(a->keys[k], b->keys[k]);
        if (c != 0) {
            return g->desc[k] ? -c : c;
        }
    }
    return 0;
}

/* Stable merge sort of rows by the ORDER BY keys (ties keep their arrival order). */
static int gc_sort(const gc_state *g, gc_row *rows, size_t n)
{
    gc_row *tmp = malloc(n * sizeof(*tmp));
    if (tmp == NULL) {
        return -1;
    }
    for (size_t w = 1; w < n; w *= 2) {
        for (size_t lo = 0; lo < n; lo += 2 * w) {
            size_t mid = lo + w < n ? lo + w : n, hi = lo + 2 * w < n ? lo + 2 * w : n;
            size_t i = lo, j = mid, k = lo;
            while (i < mid && j < hi) {
                tmp[k++] = row_cmp(g, &rows[j], &rows[i]) < 0 ? rows[j++] : rows[i++];
            }
            while (i < mid) {
                tmp[k++] = rows[i++];
            }
            while (j < hi) {
                tmp[k++] = rows[j++];
            }
        }
        memcpy(rows, tmp, n * sizeof(*tmp));
    }
    free(tmp);
    return 0;
}

/* Numbers the truncations of one statement for warning 1260's "Row N". */
static _Thread_local struct {
    int64_t stmt;
    uint32_t n;
} gc_cut;

static void gc_final(sqlite3_context *ctx)
{
    gc_state *g = sqlite3_aggregate_context(ctx, 0);
    if (g == NULL || g->nrows == 0) {
        sqlite3_result_null(ctx);
        if (g != NULL) {
            gc_free_rows(g);
        }
        return;
    }
    if (g->failed || (g->nkeys > 0 && gc_sort(g, g->rows, g->nrows) != 0)) {
        gc_free_rows(g);
        sqlite3_result_error_nomem(ctx);
        return;
    }
    sql_sess *s = SQL_FN_SESS(ctx);
    uint64_t max = (uint64_t)s->sv[SQL_SV_GROUP_CONCAT_MAX_LEN].i;
    cm_buf b = CM_BUF_INIT;
    int cut = 0, rc = 0;
    size_t kept = 0;
    for (size_t i = 0; i < g->nrows && rc == 0 && !cut; i++) {
        if (g->distinct) {
            int seen = 0;
            for (size_t j = 0; j < i && !seen; j++) {
                seen = g->rows[j].len == g->rows[i].len &&
                       (g->rows[i].len == 0 ||
                        memcmp(g->rows[j].text, g->rows[i].text, g->rows[i].len) == 0);
            }
            if (seen) {
                continue;
            }
        }
        if (kept++ > 0) {
            rc = cm_buf_append(&b, g->sep, g->seplen);
        }
        if (rc == 0 && g->rows[i].len > 0) {
            rc = cm_buf_append(&b, g->rows[i].text, g->rows[i].len);
        }
        if (b.len > max) {
            size_t n = (size_t)max;
            while (!g->blob && n > 0 && (b.ptr[n] & 0xc0) == 0x80) {
                n--; /* keep whole UTF-8 characters */
            }
            b.len = n;
            cut = 1;
        }
    }
    if (rc != 0) {
        cm_buf_fini(&b);
        gc_free_rows(g);
        sqlite3_result_error_nomem(ctx);
        return;
    }
    if (cut) {
        int64_t key = s->stmt_start_us ^ (int64_t)s->questions;
        if (gc_cut.stmt != key) {
            gc_cut.stmt = key;
            gc_cut.n = 0;
        }
        gc_cut.n++;
        sql_fn_warn(ctx, 1260, "Row %u was cut by GROUP_CONCAT()", gc_cut.n);
    }
    sql_fn_str like = {NULL, 0, g->blob};
    sql_fn_result_str(ctx, &like, b.ptr, b.len);
    cm_buf_fini(&b);
    gc_free_rows(g);
}

int sql_func_agg_register(sql_sess *s)
{
    if (sqlite3_create_function_v2(s->db, "_tdb_group_concat", -1, SQLITE_UTF8, s, NULL, gc_step,
                                   gc_final, NULL) != SQLITE_OK) {
        return CM_E_INTERNAL;
    }
    return 0;
}
