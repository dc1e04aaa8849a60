/* sql_sysvar.c — the system variable table, parsing and formatting of values, global store. */
#include "sql_sysvar.h"

#include "sql_lexer.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const sql_sysvar_def defs[SQL_SV_COUNT] = {
#define SQL_SV_DEF_(id, nm, ty, fl, df, mn, mx, ch) {nm, SQL_SV_##ty, fl, df, mn, mx, ch},
    SQL_SYSVAR_TABLE(SQL_SV_DEF_)
#undef SQL_SV_DEF_
};

/* ids sorted by name, built once. */
static int sorted[SQL_SV_COUNT];
static pthread_once_t sorted_once = PTHREAD_ONCE_INIT;

static int by_name(const void *a, const void *b)
{
    return strcasecmp(defs[*(const int *)a].name, defs[*(const int *)b].name);
}

static void build_sorted(void)
{
    for (int i = 0; i < SQL_SV_COUNT; i++) {
        sorted[i] = i;
    }
    qsort(sorted, SQL_SV_COUNT, sizeof(int), by_name);
}

const sql_sysvar_def *sql_sysvar_def_of(int id)
{
    return id >= 0 && id < SQL_SV_COUNT ? &defs[id] : NULL;
}

int sql_sysvar_find(const char *name, size_t n)
{
    pthread_once(&sorted_once, build_sorted);
    int lo = 0, hi = SQL_SV_COUNT - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        const char *dn = defs[sorted[mid]].name;
        int c = strncasecmp(dn, name, n);
        if (c == 0 && dn[n] != '\0') {
            c = 1;
        }
        if (c == 0) {
            return sorted[mid];
        }
        if (c < 0) {
            lo = mid + 1;
        } else {
            hi = mid - 1;
        }
    }
    return -1;
}

int sql_sysvar_storage(int id)
{
    if (id == SQL_SV_TX_ISOLATION) {
        return SQL_SV_TRANSACTION_ISOLATION;
    }
    if (id == SQL_SV_TX_READ_ONLY) {
        return SQL_SV_TRANSACTION_READ_ONLY;
    }
    if (id == SQL_SV_IDENTITY) {
        return SQL_SV_LAST_INSERT_ID;
    }
    return id;
}

void sql_sv_val_free(sql_sv_val *v)
{
    free(v->s);
    memset(v, 0, sizeof(*v));
}

int sql_sv_val_copy(sql_sv_val *dst, const sql_sv_val *src)
{
    char *s = NULL;
    if (src->s != NULL) {
        s = strdup(src->s);
        if (s == NULL) {
            return CM_E_NOMEM;
        }
    }
    free(dst->s);
    *dst = *src;
    dst->s = s;
    return 0;
}

/* Finds member `w` (n bytes) of a '|'-separated list; returns its index or -1. */
static int choice_index(const char *choices, const char *w, size_t n)
{
    int idx = 0;
    const char *p = choices;
    while (*p) {
        const char *e = strchr(p, '|');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len == n && strncasecmp(p, w, n) == 0) {
            return idx;
        }
        idx++;
        if (!e) {
            break;
        }
        p = e + 1;
    }
    return -1;
}

static int choice_count(const char *choices)
{
    int n = 1;
    for (const char *p = choices; *p; p++) {
        n += *p == '|';
    }
    return n;
}

/* Appends member idx of a choice list. */
static int append_choice(cm_buf *out, const char *choices, int idx)
{
    const char *p = choices;
    for (int i = 0; i < idx && p; i++) {
        p = strchr(p, '|');
        if (p) {
            p++;
        }
    }
    if (p == NULL) {
        return 0;
    }
    const char *e = strchr(p, '|');
    return cm_buf_append(out, p, e ? (size_t)(e - p) : strlen(p));
}

/* sql_mode bits that are combinations: ANSI (18) and TRADITIONAL (27). */
#define MODE_BIT(name) (1LL << choice_index(SQL_SQL_MODE_CHOICES, name, strlen(name)))

static int64_t expand_mode(int64_t m)
{
    if (m & MODE_BIT("ANSI")) {
        m |= MODE_BIT("REAL_AS_FLOAT") | MODE_BIT("PIPES_AS_CONCAT") | MODE_BIT("ANSI_QUOTES") |
             MODE_BIT("IGNORE_SPACE") | MODE_BIT("ONLY_FULL_GROUP_BY");
    }
    if (m & MODE_BIT("TRADITIONAL")) {
        m |= MODE_BIT("STRICT_TRANS_TABLES") | MODE_BIT("STRICT_ALL_TABLES") |
             MODE_BIT("NO_ZERO_IN_DATE") | MODE_BIT("NO_ZERO_DATE") |
             MODE_BIT("ERROR_FOR_DIVISION_BY_ZERO") | MODE_BIT("NO_ENGINE_SUBSTITUTION");
    }
    return m;
}

unsigned sql_sysvar_mode_bits(int64_t m)
{
    unsigned bits = 0;
    if (m & MODE_BIT("ANSI_QUOTES")) {
        bits |= SQL_MODE_ANSI_QUOTES;
    }
    if (m & MODE_BIT("NO_BACKSLASH_ESCAPES")) {
        bits |= SQL_MODE_NO_BACKSLASH_ESCAPES;
    }
    if (m & MODE_BIT("PIPES_AS_CONCAT")) {
        bits |= SQL_MODE_PIPES_AS_CONCAT;
    }
    if (m & MODE_BIT("HIGH_NOT_PRECEDENCE")) {
        bits |= SQL_MODE_HIGH_NOT_PRECEDENCE;
    }
    return bits;
}

static int bad_value(const sql_sysvar_def *def, const char *text, size_t n, cm_err *err)
{
    return cm_err_set(err, CM_E_WRONG_VALUE_FOR_VAR,
                      "Variable '%s' can't be set to the value of '%.*s'", def->name,
                      (int)(n > 200 ? 200 : n), text);
}

/* Parses a whole decimal integer; 0 or -1. */
static int parse_i64(const char *text, size_t n, int64_t *out, int is_unsigned)
{
    char buf[32];
    if (n == 0 || n >= sizeof(buf)) {
        return -1;
    }
    memcpy(buf, text, n);
    buf[n] = '\0';
    char *end;
    errno = 0;
    if (is_unsigned) {
        if (buf[0] == '-') {
            return -1;
        }
        unsigned long long u = strtoull(buf, &end, 10);
        *out = (int64_t)u;
    } else {
        *out = strtoll(buf, &end, 10);
    }
    return (errno != 0 || *end != '\0') ? -1 : 0;
}

int sql_sysvar_parse_text(const sql_sysvar_def *def, const char *text, size_t n, sql_sv_val *out,
                          cm_err *err)
{
    memset(out, 0, sizeof(*out));
    switch (def->type) {
    case SQL_SV_BOOL: {
        static const char *const on[] = {"ON", "1", "TRUE", "YES"};
        static const char *const off[] = {"OFF", "0", "FALSE", "NO"};
        for (size_t k = 0; k < 4; k++) {
            if (strlen(on[k]) == n && strncasecmp(on[k], text, n) == 0) {
                out->i = 1;
                return 0;
            }
            if (strlen(off[k]) == n && strncasecmp(off[k], text, n) == 0) {
                out->i = 0;
                return 0;
            }
        }
        return bad_value(def, text, n, err);
    }
    case SQL_SV_INT:
    case SQL_SV_UINT:
        if (parse_i64(text, n, &out->i, def->type == SQL_SV_UINT) != 0) {
            return cm_err_set(err, CM_E_WRONG_TYPE_FOR_VAR,
                              "Incorrect argument type to variable '%s'", def->name);
        }
        if (def->type == SQL_SV_INT && (out->i < def->min || out->i > def->max)) {
            return bad_value(def, text, n, err);
        }
        return 0;
    case SQL_SV_DOUBLE: {
        char buf[64];
        if (n == 0 || n >= sizeof(buf)) {
            return bad_value(def, text, n, err);
        }
        memcpy(buf, text, n);
        buf[n] = '\0';
        char *end;
        out->d = strtod(buf, &end);
        if (*end != '\0' || out->d < (double)def->min || out->d > (double)def->max) {
            return bad_value(def, text, n, err);
        }
        return 0;
    }
    case SQL_SV_STR:
        out->s = strndup(text, n);
        return out->s ? 0 : cm_err_set(err, CM_E_NOMEM, "out of memory");
    case SQL_SV_ENUM: {
        int idx = choice_index(def->choices, text, n);
        int64_t num;
        if (idx < 0 && parse_i64(text, n, &num, 0) == 0 && num >= 0 &&
            num < choice_count(def->choices)) {
            idx = (int)num;
        }
        if (idx < 0) {
            return bad_value(def, text, n, err);
        }
        out->i = idx;
        return 0;
    }
    case SQL_SV_SET: {
        int64_t mask = 0;
        size_t i = 0;
        while (i <= n) {
            size_t j = i;
            while (j < n && text[j] != ',') {
                j++;
            }
            const char *w = text + i;
            size_t wl = j - i;
            while (wl > 0 && (w[0] == ' ')) {
                w++;
                wl--;
            }
            while (wl > 0 && w[wl - 1] == ' ') {
                wl--;
            }
            if (wl > 0) {
                int idx = choice_index(def->choices, w, wl);
                if (idx < 0 || strncasecmp(w, "NOT_USED", 8) == 0) {
                    return bad_value(def, w, wl, err);
                }
                mask |= 1LL << idx;
            }
            i = j + 1;
        }
        out->i = expand_mode(mask);
        return 0;
    }
    }
    return bad_value(def, text, n, err);
}

int sql_sysvar_format(const sql_sysvar_def *def, const sql_sv_val *v, cm_buf *out)
{
    switch (def->type) {
    case SQL_SV_BOOL:
        return cm_buf_printf(out, "%s", v->i ? "ON" : "OFF");
    case SQL_SV_INT:
        return cm_buf_printf(out, "%" PRId64, v->i);
    case SQL_SV_UINT:
        return cm_buf_printf(out, "%" PRIu64, (uint64_t)v->i);
    case SQL_SV_DOUBLE:
        return cm_buf_printf(out, "%.6f", v->d);
    case SQL_SV_STR:
        return (v->is_null || v->s == NULL) ? 0 : cm_buf_append(out, v->s, strlen(v->s));
    case SQL_SV_ENUM:
        return append_choice(out, def->choices, (int)v->i);
    case SQL_SV_SET: {
        int first = 1;
        for (int b = 0; b < 63; b++) {
            if (v->i & (1LL << b)) {
                if (!first && cm_buf_append_u8(out, ',') != 0) {
                    return CM_E_NOMEM;
                }
                first = 0;
                if (append_choice(out, def->choices, b) != 0) {
                    return CM_E_NOMEM;
                }
            }
        }
        return 0;
    }
    }
    return 0;
}

int sql_sysvars_init(sql_sysvars *g, cm_err *err)
{
    memset(g, 0, sizeof(*g));
    pthread_mutex_init(&g->mu, NULL);
    for (int id = 0; id < SQL_SV_COUNT; id++) {
        const sql_sysvar_def *d = &defs[id];
        int rc = sql_sysvar_parse_text(d, d->def, strlen(d->def), &g->v[id], err);
        if (rc != 0) {
            sql_sysvars_fini(g);
            return rc;
        }
    }
    return 0;
}

void sql_sysvars_fini(sql_sysvars *g)
{
    for (int id = 0; id < SQL_SV_COUNT; id++) {
        sql_sv_val_free(&g->v[id]);
    }
    pthread_mutex_destroy(&g->mu);
}

int sql_sysvars_set_text(sql_sysvars *g, int id, const char *text, cm_err *err)
{
    const sql_sysvar_def *d = sql_sysvar_def_of(id);
    if (d == NULL) {
        return cm_err_set(err, CM_E_INVALID, "unknown system variable id %d", id);
    }
    sql_sv_val v;
    int rc = sql_sysvar_parse_text(d, text, strlen(text), &v, err);
    if (rc != 0) {
        return rc;
    }
    pthread_mutex_lock(&g->mu);
    sql_sysvars_store(g, id, &v);
    pthread_mutex_unlock(&g->mu);
    return 0;
}

void sql_sysvars_store(sql_sysvars *g, int id, sql_sv_val *v)
{
    sql_sv_val *dst = &g->v[id];
    free(dst->s);
    dst->s = v->s;
    dst->d = v->d;
    dst->is_null = v->is_null;
    __atomic_store_n(&dst->i, v->i, __ATOMIC_RELAXED);
    v->s = NULL;
}

int64_t sql_sysvars_get_int(sql_sysvars *g, int id)
{
    return __atomic_load_n(&g->v[sql_sysvar_storage(id)].i, __ATOMIC_RELAXED);
}
