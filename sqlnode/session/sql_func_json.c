/*
 * sql_func_json.c — MySQL's JSON functions: JSON_EXTRACT and the `->` / `->>` operators,
 * JSON_UNQUOTE, JSON_QUOTE, JSON_OBJECT, JSON_ARRAY, JSON_CONTAINS, JSON_CONTAINS_PATH, JSON_KEYS,
 * JSON_LENGTH, JSON_DEPTH, JSON_TYPE, JSON_VALID, JSON_SET / INSERT / REPLACE / REMOVE and the
 * aggregates JSON_ARRAYAGG / JSON_OBJECTAGG.
 *
 * SQLite's JSON1 keeps documents as written and prints them minified; MySQL normalises them
 * (object members sorted by key length then bytes, the last duplicate key wins) and prints
 * `{"a": 1, "b": [1, 2]}`. So documents are parsed into a small tree here and printed MySQL's
 * way. A JSON result carries SQLite's JSON subtype ('J'), so JSON_OBJECT('a', JSON_ARRAY(1))
 * nests an array rather than a string, as MySQL's typed JSON values do. Malformed documents
 * give error 3141, malformed paths 3143, as MySQL.
 */
#include "sql_func_int.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Deepest nesting of a document (MySQL's own limit). */
#define JSON_DEPTH_MAX 100
/* Path legs in one path expression: bounds the work of one path. */
#define JSON_PATH_LEGS_MAX 64
/* SQLite's subtype for JSON values (the one JSON1 uses). */
#define JSON_SUBTYPE 74

enum { JT_NULL, JT_FALSE, JT_TRUE, JT_INT, JT_DOUBLE, JT_STRING, JT_ARRAY, JT_OBJECT };

typedef struct jnode jnode;
struct jnode {
    int type;
    char *s; /* owned: STRING bytes (unescaped), INT / DOUBLE number text */
    size_t len;
    jnode **kids; /* owned: ARRAY elements, OBJECT values */
    char **keys;  /* owned: OBJECT keys */
    size_t *klen;
    size_t n, cap;
};

static void jfree(jnode *j)
{
    if (j == NULL) {
        return;
    }
    for (size_t i = 0; i < j->n; i++) {
        jfree(j->kids[i]);
        if (j->keys) {
            free(j->keys[i]);
        }
    }
    free(j->kids);
    free(j->keys);
    free(j->klen);
    free(j->s);
    free(j);
}

static jnode *jnew(int type)
{
    jnode *j = calloc(1, sizeof(*j));
    if (j != NULL) {
        j->type = type;
    }
    return j;
}

static jnode *jnew_str(int type, const char *p, size_t n)
{
    jnode *j = jnew(type);
    if (j == NULL) {
        return NULL;
    }
    j->s = malloc(n + 1);
    if (j->s == NULL) {
        free(j);
        return NULL;
    }
    memcpy(j->s, p, n);
    j->s[n] = '\0';
    j->len = n;
    return j;
}

static jnode *jcopy(const jnode *j)
{
    jnode *c = j->s ? jnew_str(j->type, j->s, j->len) : jnew(j->type);
    if (c == NULL || j->n == 0) {
        return c;
    }
    c->kids = calloc(j->n, sizeof(*c->kids));
    c->cap = j->n;
    if (j->keys) {
        c->keys = calloc(j->n, sizeof(*c->keys));
        c->klen = calloc(j->n, sizeof(*c->klen));
    }
    if (c->kids == NULL || (j->keys && (c->keys == NULL || c->klen == NULL))) {
        jfree(c);
        return NULL;
    }
    for (size_t i = 0; i < j->n; i++) {
        c->n = i + 1;
        c->kids[i] = jcopy(j->kids[i]);
        if (j->keys) {
            c->keys[i] = malloc(j->klen[i] + 1);
            if (c->keys[i] != NULL) {
                memcpy(c->keys[i], j->keys[i], j->klen[i] + 1);
            }
            c->klen[i] = j->klen[i];
        }
        if (c->kids[i] == NULL || (j->keys && c->keys[i] == NULL)) {
            jfree(c);
            return NULL;
        }
    }
    return c;
}

static int jgrow(jnode *j)
{
    if (j->n < j->cap) {
        return 0;
    }
    size_t cap = j->cap ? j->cap * 2 : 4;
    jnode **k = realloc(j->kids, cap * sizeof(*k));
    if (k == NULL) {
        return -1;
    }
    j->kids = k;
    if (j->type == JT_OBJECT) {
        char **ks = realloc(j->keys, cap * sizeof(*ks));
        if (ks == NULL) {
            return -1;
        }
        j->keys = ks;
        size_t *kl = realloc(j->klen, cap * sizeof(*kl));
        if (kl == NULL) {
            return -1;
        }
        j->klen = kl;
    }
    j->cap = cap;
    return 0;
}

/* MySQL's member order: shorter keys first, then by bytes. */
static int key_cmp(const char *a, size_t an, const char *b, size_t bn)
{
    if (an != bn) {
        return an < bn ? -1 : 1;
    }
    return an ? memcmp(a, b, an) : 0;
}

/* Index of key in object j, or -1; *ins receives where it would go. */
static int64_t jfind(const jnode *j, const char *k, size_t kn, size_t *ins)
{
    size_t lo = 0, hi = j->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = key_cmp(j->keys[mid], j->klen[mid], k, kn);
        if (c == 0) {
            if (ins) {
                *ins = mid;
            }
            return (int64_t)mid;
        }
        if (c < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    if (ins) {
        *ins = lo;
    }
    return -1;
}

/* Sets member k of object j to v (owned; replaces an existing member: the last one wins). */
static int jobj_put(jnode *j, const char *k, size_t kn, jnode *v)
{
    size_t at;
    int64_t f = jfind(j, k, kn, &at);
    if (f >= 0) {
        jfree(j->kids[f]);
        j->kids[f] = v;
        return 0;
    }
    char *kc = malloc(kn + 1);
    if (kc == NULL || jgrow(j) != 0) {
        free(kc);
        jfree(v);
        return -1;
    }
    memcpy(kc, k, kn);
    kc[kn] = '\0';
    memmove(j->kids + at + 1, j->kids + at, (j->n - at) * sizeof(*j->kids));
    memmove(j->keys + at + 1, j->keys + at, (j->n - at) * sizeof(*j->keys));
    memmove(j->klen + at + 1, j->klen + at, (j->n - at) * sizeof(*j->klen));
    j->kids[at] = v;
    j->keys[at] = kc;
    j->klen[at] = kn;
    j->n++;
    return 0;
}

static int jarr_insert(jnode *j, size_t at, jnode *v)
{
    if (jgrow(j) != 0) {
        jfree(v);
        return -1;
    }
    if (at > j->n) {
        at = j->n;
    }
    memmove(j->kids + at + 1, j->kids + at, (j->n - at) * sizeof(*j->kids));
    j->kids[at] = v;
    j->n++;
    return 0;
}

/* ---- parsing ---- */

typedef struct jparser {
    const char *p, *e;
    int depth;
} jparser;

static void skip_ws(jparser *ps)
{
    while (ps->p < ps->e && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r')) {
        ps->p++;
    }
}

static int hex4(const char *p, unsigned *v)
{
    *v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        int d = c >= '0' && c <= '9'   ? c - '0'
                : c >= 'a' && c <= 'f' ? c - 'a' + 10
                : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                       : -1;
        if (d < 0) {
            return -1;
        }
        *v = *v * 16 + (unsigned)d;
    }
    return 0;
}

static int put_utf8(cm_buf *b, unsigned cp)
{
    uint8_t u[4];
    size_t n;
    if (cp < 0x80) {
        u[0] = (uint8_t)cp;
        n = 1;
    } else if (cp < 0x800) {
        u[0] = (uint8_t)(0xC0 | (cp >> 6));
        u[1] = (uint8_t)(0x80 | (cp & 0x3F));
        n = 2;
    } else if (cp < 0x10000) {
        u[0] = (uint8_t)(0xE0 | (cp >> 12));
        u[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
        u[2] = (uint8_t)(0x80 | (cp & 0x3F));
        n = 3;
    } else {
        u[0] = (uint8_t)(0xF0 | (cp >> 18));
        u[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3F));
        u[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
        u[3] = (uint8_t)(0x80 | (cp & 0x3F));
        n = 4;
    }
    return cm_buf_append(b, u, n);
}

/* Reads a JSON string at ps->p (at the opening quote) into b (unescaped). */
static int parse_string(jparser *ps, cm_buf *b)
{
    ps->p++;
    while (ps->p < ps->e && *ps->p != '"') {
        unsigned char c = (unsigned char)*ps->p;
        if (c < 0x20) {
            return -1;
        }
        if (c != '\\') {
            if (cm_buf_append_u8(b, c) != 0) {
                return -1;
            }
            ps->p++;
            continue;
        }
        if (ps->e - ps->p < 2) {
            return -1;
        }
        char esc = ps->p[1];
        ps->p += 2;
        int rc = 0;
        switch (esc) {
        case '"':
        case '\\':
        case '/':
            rc = cm_buf_append_u8(b, (uint8_t)esc);
            break;
        case 'b':
            rc = cm_buf_append_u8(b, '\b');
            break;
        case 'f':
            rc = cm_buf_append_u8(b, '\f');
            break;
        case 'n':
            rc = cm_buf_append_u8(b, '\n');
            break;
        case 'r':
            rc = cm_buf_append_u8(b, '\r');
            break;
        case 't':
            rc = cm_buf_append_u8(b, '\t');
            break;
        case 'u': {
            unsigned cp, lo;
            if (ps->e - ps->p < 4 || hex4(ps->p, &cp) != 0) {
                return -1;
            }
            ps->p += 4;
            if (cp >= 0xD800 && cp < 0xDC00 && ps->e - ps->p >= 6 && ps->p[0] == '\\' &&
                ps->p[1] == 'u' && hex4(ps->p + 2, &lo) == 0 && lo >= 0xDC00 && lo < 0xE000) {
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                ps->p += 6;
            }
            if (cp >= 0xD800 && cp < 0xE000) {
                return -1; /* a lone surrogate is not a character */
            }
            rc = put_utf8(b, cp);
            break;
        }
        default:
            return -1;
        }
        if (rc != 0) {
            return -1;
        }
    }
    if (ps->p >= ps->e) {
        return -1;
    }
    ps->p++;
    return 0;
}

/* A double as MySQL prints it in JSON: the shortest digits that read back, plain between 1e-5
 * and 1e15 (with ".0" when integral), else an exponent without '+' or leading zeros (1e20). */
static void double_json_text(double d, char *buf, size_t cap)
{
    int prec = 1;
    for (; prec < 17; prec++) {
        snprintf(buf, cap, "%.*e", prec - 1, d);
        if (strtod(buf, NULL) == d) {
            break;
        }
    }
    double a = fabs(d);
    if (a == 0 || (a >= 1e-5 && a < 1e15)) {
        int exp10 = a == 0 ? 0 : (int)floor(log10(a));
        int frac = prec - 1 - exp10;
        snprintf(buf, cap, "%.*f", frac > 0 ? frac : 0, d);
        if (strtod(buf, NULL) != d) {
            snprintf(buf, cap, "%.*f", frac > 0 ? frac + 1 : 1, d);
        }
        if (strchr(buf, '.') == NULL && strlen(buf) + 3 <= cap) {
            strcat(buf, ".0");
        }
        return;
    }
    /* mantissa, then the exponent without '+' and leading zeros */
    char *e = strchr(buf, 'e');
    if (e == NULL) {
        return;
    }
    int ex = atoi(e + 1);
    char mant[40];
    size_t mn = (size_t)(e - buf) < sizeof(mant) - 1 ? (size_t)(e - buf) : sizeof(mant) - 1;
    memcpy(mant, buf, mn);
    mant[mn] = '\0';
    snprintf(buf, cap, "%se%d", mant, ex);
}

static jnode *parse_value(jparser *ps);

static jnode *parse_container(jparser *ps, int obj)
{
    jnode *j = jnew(obj ? JT_OBJECT : JT_ARRAY);
    if (j == NULL || ++ps->depth > JSON_DEPTH_MAX) {
        jfree(j);
        return NULL;
    }
    ps->p++;
    skip_ws(ps);
    if (ps->p < ps->e && *ps->p == (obj ? '}' : ']')) {
        ps->p++;
        ps->depth--;
        return j;
    }
    for (;;) {
        skip_ws(ps);
        cm_buf key = CM_BUF_INIT;
        if (obj) {
            if (ps->p >= ps->e || *ps->p != '"' || parse_string(ps, &key) != 0) {
                cm_buf_fini(&key);
                jfree(j);
                return NULL;
            }
            skip_ws(ps);
            if (ps->p >= ps->e || *ps->p != ':') {
                cm_buf_fini(&key);
                jfree(j);
                return NULL;
            }
            ps->p++;
        }
        jnode *v = parse_value(ps);
        int rc = v == NULL ? -1
                 : obj     ? jobj_put(j, key.ptr ? (const char *)key.ptr : "", key.len, v)
                           : jarr_insert(j, j->n, v);
        cm_buf_fini(&key);
        if (rc != 0) {
            jfree(j);
            return NULL;
        }
        skip_ws(ps);
        if (ps->p < ps->e && *ps->p == ',') {
            ps->p++;
            continue;
        }
        if (ps->p < ps->e && *ps->p == (obj ? '}' : ']')) {
            ps->p++;
            ps->depth--;
            return j;
        }
        jfree(j);
        return NULL;
    }
}

static jnode *parse_value(jparser *ps)
{
    skip_ws(ps);
    if (ps->p >= ps->e) {
        return NULL;
    }
    char c = *ps->p;
    if (c == '{' || c == '[') {
        return parse_container(ps, c == '{');
    }
    if (c == '"') {
        cm_buf b = CM_BUF_INIT;
        jnode *j = NULL;
        if (parse_string(ps, &b) == 0) {
            j = jnew_str(JT_STRING, b.ptr ? (const char *)b.ptr : "", b.len);
        }
        cm_buf_fini(&b);
        return j;
    }
    static const struct {
        const char *w;
        int type;
    } words[] = {{"null", JT_NULL}, {"true", JT_TRUE}, {"false", JT_FALSE}};
    for (size_t i = 0; i < 3; i++) {
        size_t n = strlen(words[i].w);
        if ((size_t)(ps->e - ps->p) >= n && memcmp(ps->p, words[i].w, n) == 0) {
            ps->p += n;
            return jnew(words[i].type);
        }
    }
    const char *s = ps->p;
    int dbl = 0;
    if (ps->p < ps->e && *ps->p == '-') {
        ps->p++;
    }
    const char *digits = ps->p;
    while (ps->p < ps->e && *ps->p >= '0' && *ps->p <= '9') {
        ps->p++;
    }
    if (ps->p == digits || (digits[0] == '0' && ps->p - digits > 1)) {
        return NULL;
    }
    if (ps->p < ps->e && *ps->p == '.') {
        dbl = 1;
        ps->p++;
        const char *f = ps->p;
        while (ps->p < ps->e && *ps->p >= '0' && *ps->p <= '9') {
            ps->p++;
        }
        if (ps->p == f) {
            return NULL;
        }
    }
    if (ps->p < ps->e && (*ps->p == 'e' || *ps->p == 'E')) {
        dbl = 1;
        ps->p++;
        if (ps->p < ps->e && (*ps->p == '+' || *ps->p == '-')) {
            ps->p++;
        }
        const char *x = ps->p;
        while (ps->p < ps->e && *ps->p >= '0' && *ps->p <= '9') {
            ps->p++;
        }
        if (ps->p == x) {
            return NULL;
        }
    }
    if (!dbl && ps->p - s > 19) {
        dbl = 1; /* beyond BIGINT: MySQL keeps it as a double */
    }
    if (dbl) {
        char buf[64];
        double d = strtod(s, NULL);
        if (!isfinite(d)) {
            return NULL;
        }
        double_json_text(d, buf, sizeof(buf));
        return jnew_str(JT_DOUBLE, buf, strlen(buf));
    }
    return jnew_str(JT_INT, s, (size_t)(ps->p - s));
}

/* Parses a whole document; NULL when it is not valid JSON (or out of memory). */
static jnode *jparse(const char *p, size_t n)
{
    jparser ps = {p, p + n, 0};
    jnode *j = parse_value(&ps);
    if (j == NULL) {
        return NULL;
    }
    skip_ws(&ps);
    if (ps.p != ps.e) {
        jfree(j);
        return NULL;
    }
    return j;
}

/* ---- printing ---- */

static int print_string(cm_buf *b, const char *p, size_t n)
{
    int rc = cm_buf_append_u8(b, '"');
    for (size_t i = 0; i < n && rc == 0; i++) {
        unsigned char c = (unsigned char)p[i];
        switch (c) {
        case '"':
            rc = cm_buf_append(b, "\\\"", 2);
            break;
        case '\\':
            rc = cm_buf_append(b, "\\\\", 2);
            break;
        case '\n':
            rc = cm_buf_append(b, "\\n", 2);
            break;
        case '\r':
            rc = cm_buf_append(b, "\\r", 2);
            break;
        case '\t':
            rc = cm_buf_append(b, "\\t", 2);
            break;
        case '\b':
            rc = cm_buf_append(b, "\\b", 2);
            break;
        case '\f':
            rc = cm_buf_append(b, "\\f", 2);
            break;
        default:
            rc = c < 0x20 ? cm_buf_printf(b, "\\u%04x", c) : cm_buf_append_u8(b, c);
            break;
        }
    }
    return rc == 0 ? cm_buf_append_u8(b, '"') : rc;
}

/* MySQL's text form: `{"a": 1, "b": [1, 2]}`. */
static int jprint(cm_buf *b, const jnode *j)
{
    int rc = 0;
    switch (j->type) {
    case JT_NULL:
        return cm_buf_append(b, "null", 4);
    case JT_TRUE:
        return cm_buf_append(b, "true", 4);
    case JT_FALSE:
        return cm_buf_append(b, "false", 5);
    case JT_INT:
    case JT_DOUBLE:
        return cm_buf_append(b, j->s, j->len);
    case JT_STRING:
        return print_string(b, j->s, j->len);
    case JT_ARRAY:
        rc = cm_buf_append_u8(b, '[');
        for (size_t i = 0; i < j->n && rc == 0; i++) {
            if (i > 0) {
                rc = cm_buf_append(b, ", ", 2);
            }
            rc = rc ? rc : jprint(b, j->kids[i]);
        }
        return rc ? rc : cm_buf_append_u8(b, ']');
    default:
        rc = cm_buf_append_u8(b, '{');
        for (size_t i = 0; i < j->n && rc == 0; i++) {
            if (i > 0) {
                rc = cm_buf_append(b, ", ", 2);
            }
            rc = rc ? rc : print_string(b, j->keys[i], j->klen[i]);
            rc = rc ? rc : cm_buf_append(b, ": ", 2);
            rc = rc ? rc : jprint(b, j->kids[i]);
        }
        return rc ? rc : cm_buf_append_u8(b, '}');
    }
}

/* Returns j as a JSON-typed TEXT result (consumes j). */
static void result_json(sqlite3_context *ctx, jnode *j)
{
    cm_buf b = CM_BUF_INIT;
    if (j == NULL || jprint(&b, j) != 0) {
        cm_buf_fini(&b);
        jfree(j);
        sqlite3_result_error_nomem(ctx);
        return;
    }
    jfree(j);
    sql_fn_result_str(ctx, NULL, b.ptr, b.len);
    sqlite3_result_subtype(ctx, JSON_SUBTYPE);
    cm_buf_fini(&b);
}

/* ---- arguments ---- */

static void bad_json(sqlite3_context *ctx, int argno, const char *fname)
{
    char msg[160];
    snprintf(msg, sizeof(msg),
             "Invalid JSON text in argument %d to function %s: \"Invalid value.\"", argno, fname);
    sql_fn_error(ctx, CM_E_INVALID_JSON_ARG, msg);
}

/* The document in argument v (argno for the error); NULL with an error raised when it is not
 * JSON. v must not be SQL NULL. */
static jnode *arg_doc(sqlite3_context *ctx, sqlite3_value *v, int argno, const char *fname)
{
    sql_fn_str s = sql_fn_get_str(v);
    jnode *j = jparse((const char *)s.p, s.n);
    if (j == NULL) {
        bad_json(ctx, argno, fname);
    }
    return j;
}

/* A SQL value as a JSON value: JSON-typed results nest, NULL is null, numbers are numbers, text
 * is a string. */
static jnode *arg_value(sqlite3_value *v)
{
    char buf[64];
    switch (sqlite3_value_type(v)) {
    case SQLITE_NULL:
        return jnew(JT_NULL);
    case SQLITE_INTEGER:
        snprintf(buf, sizeof(buf), "%lld", (long long)sqlite3_value_int64(v));
        return jnew_str(JT_INT, buf, strlen(buf));
    case SQLITE_FLOAT: {
        double_json_text(sqlite3_value_double(v), buf, sizeof(buf));
        return jnew_str(JT_DOUBLE, buf, strlen(buf));
    }
    default: {
        sql_fn_str s = sql_fn_get_str(v);
        if (sqlite3_value_subtype(v) == JSON_SUBTYPE) {
            jnode *j = jparse((const char *)s.p, s.n);
            if (j != NULL) {
                return j;
            }
        }
        return jnew_str(JT_STRING, (const char *)s.p, s.n);
    }
    }
}

/* ---- paths ---- */

enum { LEG_MEMBER, LEG_ANY_MEMBER, LEG_INDEX, LEG_ANY_INDEX, LEG_ANY_DEPTH };

typedef struct jleg {
    int kind;
    char *key; /* owned (LEG_MEMBER) */
    size_t klen;
    int64_t index; /* LEG_INDEX: >= 0 from the start; < 0: last + 1 + index (last is -1) */
} jleg;

typedef struct jpath {
    jleg legs[JSON_PATH_LEGS_MAX];
    int n;
    int wild; /* contains * or ** */
} jpath;

static void path_fini(jpath *p)
{
    for (int i = 0; i < p->n; i++) {
        free(p->legs[i].key);
    }
    p->n = 0;
}

static int is_ident_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '$' || c >= 0x80;
}

static int parse_path(const char *p, size_t n, jpath *out)
{
    const char *e = p + n;
    memset(out, 0, sizeof(*out));
    while (p < e && *p == ' ') {
        p++;
    }
    if (p >= e || *p != '$') {
        return -1;
    }
    p++;
    while (p < e) {
        if (*p == ' ') {
            p++;
            continue;
        }
        if (out->n >= JSON_PATH_LEGS_MAX) {
            path_fini(out);
            return -1;
        }
        jleg *l = &out->legs[out->n];
        memset(l, 0, sizeof(*l));
        if (*p == '.') {
            p++;
            while (p < e && *p == ' ') {
                p++;
            }
            if (p < e && *p == '*') {
                l->kind = LEG_ANY_MEMBER;
                out->wild = 1;
                p++;
            } else if (p < e && *p == '"') {
                jparser ps = {p, e, 0};
                cm_buf k = CM_BUF_INIT;
                if (parse_string(&ps, &k) != 0) {
                    cm_buf_fini(&k);
                    path_fini(out);
                    return -1;
                }
                p = ps.p;
                l->kind = LEG_MEMBER;
                l->key = malloc(k.len + 1);
                if (l->key == NULL) {
                    cm_buf_fini(&k);
                    path_fini(out);
                    return -1;
                }
                if (k.len) {
                    memcpy(l->key, k.ptr, k.len);
                }
                l->klen = k.len;
                cm_buf_fini(&k);
            } else {
                const char *s = p;
                while (p < e && is_ident_char((unsigned char)*p)) {
                    p++;
                }
                if (p == s || (*s >= '0' && *s <= '9')) {
                    path_fini(out);
                    return -1;
                }
                l->kind = LEG_MEMBER;
                l->key = malloc((size_t)(p - s) + 1);
                if (l->key == NULL) {
                    path_fini(out);
                    return -1;
                }
                memcpy(l->key, s, (size_t)(p - s));
                l->klen = (size_t)(p - s);
            }
        } else if (*p == '[') {
            p++;
            while (p < e && *p == ' ') {
                p++;
            }
            if (p < e && *p == '*') {
                l->kind = LEG_ANY_INDEX;
                out->wild = 1;
                p++;
            } else if (e - p >= 4 && memcmp(p, "last", 4) == 0) {
                p += 4;
                while (p < e && *p == ' ') {
                    p++;
                }
                int64_t off = 0;
                if (p < e && *p == '-') {
                    p++;
                    while (p < e && *p == ' ') {
                        p++;
                    }
                    const char *s = p;
                    while (p < e && *p >= '0' && *p <= '9' && off < 100000000) {
                        off = off * 10 + (*p++ - '0');
                    }
                    if (p == s) {
                        path_fini(out);
                        return -1;
                    }
                }
                l->kind = LEG_INDEX;
                l->index = -1 - off;
            } else {
                const char *s = p;
                int64_t v = 0;
                while (p < e && *p >= '0' && *p <= '9' && v < 100000000) {
                    v = v * 10 + (*p++ - '0');
                }
                if (p == s) {
                    path_fini(out);
                    return -1;
                }
                l->kind = LEG_INDEX;
                l->index = v;
            }
            while (p < e && *p == ' ') {
                p++;
            }
            if (p >= e || *p != ']') {
                path_fini(out);
                return -1;
            }
            p++;
        } else if (e - p >= 2 && p[0] == '*' && p[1] == '*') {
            l->kind = LEG_ANY_DEPTH;
            out->wild = 1;
            p += 2;
            if (p >= e) {
                path_fini(out);
                return -1; /* ** must be followed by a leg */
            }
        } else {
            path_fini(out);
            return -1;
        }
        out->n++;
    }
    return 0;
}

static int arg_path(sqlite3_context *ctx, sqlite3_value *v, int argno, jpath *out)
{
    sql_fn_str s = sql_fn_get_str(v);
    if (parse_path((const char *)s.p, s.n, out) != 0) {
        char msg[160];
        snprintf(msg, sizeof(msg),
                 "Invalid JSON path expression. The error is around character "
                 "position %d.",
                 (int)s.n);
        (void)argno;
        sql_fn_error(ctx, CM_E_INVALID_JSON_PATH, msg);
        return -1;
    }
    return 0;
}

typedef struct jhits {
    jnode **v;
    size_t n, cap;
} jhits;

static int hits_add(jhits *h, jnode *j)
{
    for (size_t i = 0; i < h->n; i++) {
        if (h->v[i] == j) {
            return 0; /* ** can reach a value twice */
        }
    }
    if (h->n == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 8;
        jnode **v = realloc(h->v, cap * sizeof(*v));
        if (v == NULL) {
            return -1;
        }
        h->v = v;
        h->cap = cap;
    }
    h->v[h->n++] = j;
    return 0;
}

static int64_t leg_index(const jleg *l, size_t n)
{
    return l->index >= 0 ? l->index : (int64_t)n + l->index;
}

/* Collects the values path legs [k, n) reach from j. */
static int walk(jnode *j, const jpath *p, int k, jhits *h)
{
    if (k == p->n) {
        return hits_add(h, j);
    }
    const jleg *l = &p->legs[k];
    int rc = 0;
    switch (l->kind) {
    case LEG_MEMBER:
        if (j->type == JT_OBJECT) {
            int64_t f = jfind(j, l->key, l->klen, NULL);
            if (f >= 0) {
                rc = walk(j->kids[f], p, k + 1, h);
            }
        }
        break;
    case LEG_ANY_MEMBER:
        if (j->type == JT_OBJECT) {
            for (size_t i = 0; i < j->n && rc == 0; i++) {
                rc = walk(j->kids[i], p, k + 1, h);
            }
        }
        break;
    case LEG_INDEX:
        if (j->type == JT_ARRAY) {
            int64_t i = leg_index(l, j->n);
            if (i >= 0 && i < (int64_t)j->n) {
                rc = walk(j->kids[i], p, k + 1, h);
            }
        } else if (leg_index(l, 1) == 0) {
            rc = walk(j, p, k + 1, h); /* a scalar is its own [0] */
        }
        break;
    case LEG_ANY_INDEX:
        if (j->type == JT_ARRAY) {
            for (size_t i = 0; i < j->n && rc == 0; i++) {
                rc = walk(j->kids[i], p, k + 1, h);
            }
        }
        break;
    default: /* ** : here and at every depth below */
        rc = walk(j, p, k + 1, h);
        if (j->type == JT_ARRAY || j->type == JT_OBJECT) {
            for (size_t i = 0; i < j->n && rc == 0; i++) {
                rc = walk(j->kids[i], p, k, h);
            }
        }
        break;
    }
    return rc;
}

/* ---- functions ---- */

/* JSON_VALID(v) → INTEGER 1/0. */
static void f_json_valid(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    if (sqlite3_value_type(argv[0]) == SQLITE_NULL) {
        sqlite3_result_null(ctx);
        return;
    }
    int t = sqlite3_value_type(argv[0]);
    if (t == SQLITE_INTEGER || t == SQLITE_FLOAT) {
        sqlite3_result_int(ctx, 0);
        return;
    }
    sql_fn_str s = sql_fn_get_str(argv[0]);
    jnode *j = jparse((const char *)s.p, s.n);
    sqlite3_result_int(ctx, j != NULL);
    jfree(j);
}

/* JSON_TYPE(doc) → TEXT: OBJECT, ARRAY, STRING, INTEGER, DOUBLE, BOOLEAN, NULL. */
static void f_json_type(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    static const char *const names[] = {"NULL",   "BOOLEAN", "BOOLEAN", "INTEGER",
                                        "DOUBLE", "STRING",  "ARRAY",   "OBJECT"};
    if (sqlite3_value_type(argv[0]) == SQLITE_NULL) {
        sqlite3_result_null(ctx);
        return;
    }
    jnode *j = arg_doc(ctx, argv[0], 1, "json_type");
    if (j != NULL) {
        sqlite3_result_text(ctx, names[j->type], -1, SQLITE_STATIC);
        jfree(j);
    }
}

/* Evaluates paths argv[0, n) on doc; *wrap set when the result is an array of the hits (a
 * wildcard or more than one path). Returns 0, or -1 with an error raised. */
static int eval_paths(sqlite3_context *ctx, jnode *doc, int n, sqlite3_value **paths, jhits *h,
                      int *wrap)
{
    *wrap = n > 1;
    for (int i = 0; i < n; i++) {
        jpath p;
        if (arg_path(ctx, paths[i], i + 2, &p) != 0) {
            return -1;
        }
        *wrap |= p.wild;
        int rc = walk(doc, &p, 0, h);
        path_fini(&p);
        if (rc != 0) {
            sqlite3_result_error_nomem(ctx);
            return -1;
        }
    }
    return 0;
}

/* The unquoted text of a JSON value: a string's bytes, other values printed. */
static void result_unquoted(sqlite3_context *ctx, const jnode *j)
{
    if (j->type == JT_STRING) {
        sql_fn_result_str(ctx, NULL, j->s, j->len);
        return;
    }
    cm_buf b = CM_BUF_INIT;
    if (jprint(&b, j) != 0) {
        cm_buf_fini(&b);
        sqlite3_result_error_nomem(ctx);
        return;
    }
    sql_fn_result_str(ctx, NULL, b.ptr, b.len);
    cm_buf_fini(&b);
}

/* A JSON number as the SQL number it prints as: INTEGER for integers within BIGINT, REAL for
 * doubles whose shortest text is the JSON text (so it prints the same). Returns 0 when it
 * cannot be one. */
static int result_number(sqlite3_context *ctx, const jnode *j)
{
    if (j->type == JT_INT) {
        char *end;
        errno = 0;
        long long v = strtoll(j->s, &end, 10);
        if (errno != 0 || *end != '\0') {
            return 0;
        }
        sqlite3_result_int64(ctx, (int64_t)v);
        return 1;
    }
    if (j->type == JT_DOUBLE && strpbrk(j->s, "eE") == NULL) {
        double d = strtod(j->s, NULL);
        char buf[64];
        for (int prec = 1; prec <= 17; prec++) {
            snprintf(buf, sizeof(buf), "%.*g", prec, d);
            if (strtod(buf, NULL) == d) {
                break;
            }
        }
        if (strcmp(buf, j->s) == 0) {
            sqlite3_result_double(ctx, d);
            return 1;
        }
    }
    return 0;
}

/* The value a single path reached: numbers as SQL numbers (so `doc->'$.n' = 2` and ORDER BY
 * compare numerically, as MySQL compares JSON numbers), otherwise JSON text (unquote: strings
 * as their characters, for ->>). */
static void result_value(sqlite3_context *ctx, const jnode *j, int unquote)
{
    if (result_number(ctx, j)) {
        if (!unquote) {
            sqlite3_result_subtype(ctx, JSON_SUBTYPE);
        }
        return;
    }
    if (unquote) {
        result_unquoted(ctx, j);
    } else {
        result_json(ctx, jcopy(j));
    }
}

/* JSON_EXTRACT(doc, path, …) → JSON: the value at path; an array of the values with wildcards
 * or several paths; NULL when nothing matches. Also `doc -> path`. */
static void f_json_extract(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    if (argc < 2) {
        sql_fn_error(ctx, CM_E_WRONG_ARGUMENTS,
                     "Incorrect parameter count in the call to native function 'json_extract'");
        return;
    }
    if (sql_fn_any_null(argc, argv)) {
        sqlite3_result_null(ctx);
        return;
    }
    jnode *doc = arg_doc(ctx, argv[0], 1, "json_extract");
    if (doc == NULL) {
        return;
    }
    jhits h = {0};
    int wrap;
    if (eval_paths(ctx, doc, argc - 1, argv + 1, &h, &wrap) == 0) {
        if (h.n == 0) {
            sqlite3_result_null(ctx);
        } else if (!wrap) {
            result_value(ctx, h.v[0], 0);
        } else {
            jnode *a = jnew(JT_ARRAY);
            for (size_t i = 0; i < h.n && a != NULL; i++) {
                jnode *c = jcopy(h.v[i]);
                if (c == NULL || jarr_insert(a, a->n, c) != 0) {
                    jfree(a);
                    a = NULL;
                }
            }
            result_json(ctx, a);
        }
    }
    free(h.v);
    jfree(doc);
}

/* doc ->> path → TEXT: JSON_UNQUOTE(JSON_EXTRACT(doc, path)). */
static void f_json_extract_text(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    if (sql_fn_any_null(2, argv)) {
        sqlite3_result_null(ctx);
        return;
    }
    jnode *doc = arg_doc(ctx, argv[0], 1, "json_extract");
    if (doc == NULL) {
        return;
    }
    jhits h = {0};
    int wrap;
    if (eval_paths(ctx, doc, 1, argv + 1, &h, &wrap) == 0) {
        if (h.n == 0) {
            sqlite3_result_null(ctx);
        } else if (!wrap) {
            result_value(ctx, h.v[0], 1);
        } else {
            jnode *a = jnew(JT_ARRAY);
            for (size_t i = 0; i < h.n && a != NULL; i++) {
                jnode *c = jcopy(h.v[i]);
                if (c == NULL || jarr_insert(a, a->n, c) != 0) {
                    jfree(a);
                    a = NULL;
                }
            }
            if (a != NULL) {
                result_unquoted(ctx, a);
                jfree(a);
            } else {
                sqlite3_result_error_nomem(ctx);
            }
        }
    }
    free(h.v);
    jfree(doc);
}

/* JSON_UNQUOTE(s) → TEXT: a JSON string literal's value; anything else unchanged. */
static void f_json_unquote(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    if (sqlite3_value_type(argv[0]) == SQLITE_NULL) {
        sqlite3_result_null(ctx);
        return;
    }
    sql_fn_str s = sql_fn_get_str(argv[0]);
    if (s.n >= 2 && s.p[0] == '"' && s.p[s.n - 1] == '"') {
        jnode *j = jparse((const char *)s.p, s.n);
        if (j == NULL) {
            bad_json(ctx, 1, "json_unquote");
            return;
        }
        sql_fn_result_str(ctx, NULL, j->s, j->len);
        jfree(j);
        return;
    }
    sql_fn_result_str(ctx, NULL, s.p, s.n);
}

/* JSON_QUOTE(s) → TEXT: s as a JSON string literal. */
static void f_json_quote(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    if (sqlite3_value_type(argv[0]) == SQLITE_NULL) {
        sqlite3_result_null(ctx);
        return;
    }
    sql_fn_str s = sql_fn_get_str(argv[0]);
    cm_buf b = CM_BUF_INIT;
    if (print_string(&b, (const char *)s.p, s.n) != 0) {
        cm_buf_fini(&b);
        sqlite3_result_error_nomem(ctx);
        return;
    }
    sql_fn_result_str(ctx, NULL, b.ptr, b.len);
    sqlite3_result_subtype(ctx, JSON_SUBTYPE);
    cm_buf_fini(&b);
}

/* JSON_OBJECT(k, v, …) → JSON. */
static void f_json_object(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    if (argc % 2 != 0) {
        sql_fn_error(ctx, CM_E_WRONG_ARGUMENTS,
                     "Incorrect parameter count in the call to native function 'json_object'");
        return;
    }
    jnode *o = jnew(JT_OBJECT);
    for (int i = 0; i < argc && o != NULL; i += 2) {
        if (sqlite3_value_type(argv[i]) == SQLITE_NULL) {
            jfree(o);
            sql_fn_error(ctx, CM_E_JSON_NULL_KEY,
                         "JSON documents may not contain NULL member names.");
            return;
        }
        sql_fn_str k = sql_fn_get_str(argv[i]);
        jnode *v = arg_value(argv[i + 1]);
        k = sql_fn_get_str(argv[i]);
        if (v == NULL || jobj_put(o, (const char *)k.p, k.n, v) != 0) {
            jfree(o);
            o = NULL;
        }
    }
    result_json(ctx, o);
}

/* JSON_ARRAY(v, …) → JSON. */
static void f_json_array(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    jnode *a = jnew(JT_ARRAY);
    for (int i = 0; i < argc && a != NULL; i++) {
        jnode *v = arg_value(argv[i]);
        if (v == NULL || jarr_insert(a, a->n, v) != 0) {
            jfree(a);
            a = NULL;
        }
    }
    result_json(ctx, a);
}

static int jequal(const jnode *a, const jnode *b)
{
    int na = a->type == JT_INT || a->type == JT_DOUBLE;
    int nb = b->type == JT_INT || b->type == JT_DOUBLE;
    if (na && nb) {
        return strtod(a->s, NULL) == strtod(b->s, NULL);
    }
    if (a->type != b->type) {
        return 0;
    }
    if (a->type == JT_STRING) {
        return a->len == b->len && memcmp(a->s, b->s, a->len) == 0;
    }
    if (a->type == JT_ARRAY || a->type == JT_OBJECT) {
        if (a->n != b->n) {
            return 0;
        }
        for (size_t i = 0; i < a->n; i++) {
            if ((a->keys && key_cmp(a->keys[i], a->klen[i], b->keys[i], b->klen[i]) != 0) ||
                !jequal(a->kids[i], b->kids[i])) {
                return 0;
            }
        }
    }
    return 1;
}

/* MySQL's containment: scalars by equality; an array contains each element of a candidate array
 * (or a non-array candidate) in some element; an object contains each member of a candidate
 * object. */
static int jcontains(const jnode *t, const jnode *c)
{
    if (t->type == JT_ARRAY) {
        if (c->type == JT_ARRAY) {
            for (size_t i = 0; i < c->n; i++) {
                if (!jcontains(t, c->kids[i])) {
                    return 0;
                }
            }
            return 1;
        }
        for (size_t i = 0; i < t->n; i++) {
            if (jcontains(t->kids[i], c)) {
                return 1;
            }
        }
        return 0;
    }
    if (t->type == JT_OBJECT) {
        if (c->type != JT_OBJECT) {
            return 0;
        }
        for (size_t i = 0; i < c->n; i++) {
            int64_t f = jfind(t, c->keys[i], c->klen[i], NULL);
            if (f < 0 || !jcontains(t->kids[f], c->kids[i])) {
                return 0;
            }
        }
        return 1;
    }
    return jequal(t, c);
}

/* The single value path argv[pi] reaches in doc (NULL: none); -1 with an error raised. */
static int one_path(sqlite3_context *ctx, jnode *doc, sqlite3_value *pv, int argno, jnode **out)
{
    jpath p;
    *out = NULL;
    if (arg_path(ctx, pv, argno, &p) != 0) {
        return -1;
    }
    if (p.wild) {
        path_fini(&p);
        sql_fn_error(ctx, CM_E_JSON_BAD_PATH_TOKEN,
                     "In this situation, path expressions may not contain the * and ** tokens.");
        return -1;
    }
    jhits h = {0};
    int rc = walk(doc, &p, 0, &h);
    path_fini(&p);
    if (rc != 0) {
        free(h.v);
        sqlite3_result_error_nomem(ctx);
        return -1;
    }
    *out = h.n ? h.v[0] : NULL;
    free(h.v);
    return 0;
}

/* JSON_CONTAINS(target, candidate[, path]) → INTEGER 1/0 (NULL when path matches nothing). */
static void f_json_contains(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    if (sql_fn_any_null(argc, argv)) {
        sqlite3_result_null(ctx);
        return;
    }
    jnode *t = arg_doc(ctx, argv[0], 1, "json_contains");
    if (t == NULL) {
        return;
    }
    jnode *c = arg_doc(ctx, argv[1], 2, "json_contains");
    if (c != NULL) {
        jnode *at = t;
        if (argc < 3 || one_path(ctx, t, argv[2], 3, &at) == 0) {
            if (at == NULL) {
                sqlite3_result_null(ctx);
            } else {
                sqlite3_result_int(ctx, jcontains(at, c));
            }
        }
        jfree(c);
    }
    jfree(t);
}

/* JSON_CONTAINS_PATH(doc, 'one'|'all', path, …) → INTEGER 1/0. */
static void f_json_contains_path(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    if (argc < 3) {
        sql_fn_error(ctx, CM_E_WRONG_ARGUMENTS,
                     "Incorrect parameter count in the call to native function "
                     "'json_contains_path'");
        return;
    }
    if (sql_fn_any_null(argc, argv)) {
        sqlite3_result_null(ctx);
        return;
    }
    sql_fn_str mode = sql_fn_get_str(argv[1]);
    int all;
    if (mode.n == 3 && strncasecmp((const char *)mode.p, "all", 3) == 0) {
        all = 1;
    } else if (mode.n == 3 && strncasecmp((const char *)mode.p, "one", 3) == 0) {
        all = 0;
    } else {
        sql_fn_error(ctx, CM_E_WRONG_ARGUMENTS,
                     "The oneOrAll argument to json_contains_path may take these values: 'one' or "
                     "'all'.");
        return;
    }
    jnode *doc = arg_doc(ctx, argv[0], 1, "json_contains_path");
    if (doc == NULL) {
        return;
    }
    int result = all;
    for (int i = 2; i < argc; i++) {
        jpath p;
        if (arg_path(ctx, argv[i], i + 1, &p) != 0) {
            jfree(doc);
            return;
        }
        jhits h = {0};
        int rc = walk(doc, &p, 0, &h);
        path_fini(&p);
        free(h.v);
        if (rc != 0) {
            jfree(doc);
            sqlite3_result_error_nomem(ctx);
            return;
        }
        if (all && h.n == 0) {
            result = 0;
        } else if (!all && h.n > 0) {
            result = 1;
        }
    }
    jfree(doc);
    sqlite3_result_int(ctx, result);
}

/* Applies an optional path argument: the value it reaches (NULL result when none). */
static int doc_at(sqlite3_context *ctx, int argc, sqlite3_value **argv, const char *fname,
                  jnode **doc, jnode **at)
{
    *doc = arg_doc(ctx, argv[0], 1, fname);
    if (*doc == NULL) {
        return -1;
    }
    *at = *doc;
    if (argc > 1 && one_path(ctx, *doc, argv[1], 2, at) != 0) {
        jfree(*doc);
        return -1;
    }
    return 0;
}

/* JSON_KEYS(doc[, path]) → JSON array of the object's keys; NULL for a non-object. */
static void f_json_keys(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    jnode *doc, *at;
    if (sql_fn_any_null(argc, argv)) {
        sqlite3_result_null(ctx);
        return;
    }
    if (doc_at(ctx, argc, argv, "json_keys", &doc, &at) != 0) {
        return;
    }
    if (at == NULL || at->type != JT_OBJECT) {
        sqlite3_result_null(ctx);
        jfree(doc);
        return;
    }
    jnode *a = jnew(JT_ARRAY);
    for (size_t i = 0; i < at->n && a != NULL; i++) {
        jnode *k = jnew_str(JT_STRING, at->keys[i], at->klen[i]);
        if (k == NULL || jarr_insert(a, a->n, k) != 0) {
            jfree(a);
            a = NULL;
        }
    }
    jfree(doc);
    result_json(ctx, a);
}

/* JSON_LENGTH(doc[, path]) → INTEGER: elements or members; 1 for a scalar. */
static void f_json_length(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    jnode *doc, *at;
    if (sql_fn_any_null(argc, argv)) {
        sqlite3_result_null(ctx);
        return;
    }
    if (doc_at(ctx, argc, argv, "json_length", &doc, &at) != 0) {
        return;
    }
    if (at == NULL) {
        sqlite3_result_null(ctx);
    } else {
        sqlite3_result_int64(ctx,
                             at->type == JT_ARRAY || at->type == JT_OBJECT ? (int64_t)at->n : 1);
    }
    jfree(doc);
}

static int jdepth(const jnode *j)
{
    int d = 0;
    for (size_t i = 0; i < j->n; i++) {
        int k = jdepth(j->kids[i]);
        d = k > d ? k : d;
    }
    return d + 1;
}

/* JSON_DEPTH(doc) → INTEGER. */
static void f_json_depth(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    if (sqlite3_value_type(argv[0]) == SQLITE_NULL) {
        sqlite3_result_null(ctx);
        return;
    }
    jnode *j = arg_doc(ctx, argv[0], 1, "json_depth");
    if (j != NULL) {
        sqlite3_result_int(ctx, jdepth(j));
        jfree(j);
    }
}

enum { MOD_SET, MOD_INSERT, MOD_REPLACE };

/* Applies one (path, value) of JSON_SET / INSERT / REPLACE to doc (*doc may be replaced). */
static int modify(sqlite3_context *ctx, jnode **doc, sqlite3_value *pv, int argno, jnode *v,
                  int mode)
{
    jpath p;
    if (arg_path(ctx, pv, argno, &p) != 0) {
        jfree(v);
        return -1;
    }
    if (p.wild) {
        path_fini(&p);
        jfree(v);
        sql_fn_error(ctx, CM_E_JSON_BAD_PATH_TOKEN,
                     "In this situation, path expressions may not contain the * and ** tokens.");
        return -1;
    }
    if (p.n == 0) { /* '$': the whole document */
        path_fini(&p);
        if (mode == MOD_INSERT) {
            jfree(v);
        } else {
            jfree(*doc);
            *doc = v;
        }
        return 0;
    }
    /* the parent: every leg but the last */
    jpath parent = p;
    parent.n = p.n - 1;
    jhits h = {0};
    int rc = walk(*doc, &parent, 0, &h);
    jnode *par = h.n ? h.v[0] : NULL;
    free(h.v);
    const jleg *l = &p.legs[p.n - 1];
    if (rc == 0 && par != NULL) {
        if (l->kind == LEG_MEMBER) {
            if (par->type == JT_OBJECT) {
                int64_t f = jfind(par, l->key, l->klen, NULL);
                if ((f >= 0 && mode != MOD_INSERT) || (f < 0 && mode != MOD_REPLACE)) {
                    rc = jobj_put(par, l->key, l->klen, v);
                    v = NULL;
                }
            }
        } else if (par->type == JT_ARRAY) {
            int64_t i = leg_index(l, par->n);
            if (i >= 0 && i < (int64_t)par->n) {
                if (mode != MOD_INSERT) {
                    jfree(par->kids[i]);
                    par->kids[i] = v;
                    v = NULL;
                }
            } else if (i >= (int64_t)par->n && mode != MOD_REPLACE) {
                rc = jarr_insert(par, par->n, v);
                v = NULL;
            }
        } else {
            /* a scalar or object is its own [0]; a later index wraps it in an array */
            int64_t i = leg_index(l, 1);
            if (i == 0) {
                if (mode != MOD_INSERT) {
                    jnode tmp = *par;
                    *par = *v;
                    *v = tmp;
                }
            } else if (i > 0 && mode != MOD_REPLACE) {
                jnode *inner = jnew(par->type);
                if (inner == NULL) {
                    rc = -1;
                } else {
                    jnode tmp = *par;
                    *par = *inner;
                    *inner = tmp;
                    par->type = JT_ARRAY;
                    rc = jarr_insert(par, 0, inner);
                    if (rc == 0) {
                        rc = jarr_insert(par, par->n, v);
                        v = NULL;
                    }
                }
            }
        }
    }
    jfree(v);
    path_fini(&p);
    if (rc != 0) {
        sqlite3_result_error_nomem(ctx);
    }
    return rc;
}

static void json_modify(sqlite3_context *ctx, int argc, sqlite3_value **argv, int mode,
                        const char *fname)
{
    if (argc < 3 || argc % 2 != 1) {
        char msg[128];
        snprintf(msg, sizeof(msg), "Incorrect parameter count in the call to native function '%s'",
                 fname);
        sql_fn_error(ctx, CM_E_WRONG_ARGUMENTS, msg);
        return;
    }
    if (sqlite3_value_type(argv[0]) == SQLITE_NULL) {
        sqlite3_result_null(ctx);
        return;
    }
    for (int i = 1; i < argc; i += 2) {
        if (sqlite3_value_type(argv[i]) == SQLITE_NULL) {
            sqlite3_result_null(ctx);
            return;
        }
    }
    jnode *doc = arg_doc(ctx, argv[0], 1, fname);
    if (doc == NULL) {
        return;
    }
    for (int i = 1; i < argc; i += 2) {
        jnode *v = arg_value(argv[i + 1]);
        if (v == NULL) {
            jfree(doc);
            sqlite3_result_error_nomem(ctx);
            return;
        }
        if (modify(ctx, &doc, argv[i], i + 1, v, mode) != 0) {
            jfree(doc);
            return;
        }
    }
    result_json(ctx, doc);
}

/* JSON_SET / JSON_INSERT / JSON_REPLACE(doc, path, value, …) → JSON. */
static void f_json_set(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    json_modify(ctx, argc, argv, MOD_SET, "json_set");
}

static void f_json_insert(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    json_modify(ctx, argc, argv, MOD_INSERT, "json_insert");
}

static void f_json_replace(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    json_modify(ctx, argc, argv, MOD_REPLACE, "json_replace");
}

/* JSON_REMOVE(doc, path, …) → JSON without the values the paths name. */
static void f_json_remove(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    if (argc < 2) {
        sql_fn_error(ctx, CM_E_WRONG_ARGUMENTS,
                     "Incorrect parameter count in the call to native function 'json_remove'");
        return;
    }
    if (sql_fn_any_null(argc, argv)) {
        sqlite3_result_null(ctx);
        return;
    }
    jnode *doc = arg_doc(ctx, argv[0], 1, "json_remove");
    if (doc == NULL) {
        return;
    }
    for (int i = 1; i < argc; i++) {
        jpath p;
        if (arg_path(ctx, argv[i], i + 1, &p) != 0) {
            jfree(doc);
            return;
        }
        if (p.wild || p.n == 0) {
            path_fini(&p);
            jfree(doc);
            sql_fn_error(ctx, CM_E_JSON_BAD_PATH_TOKEN,
                         "In this situation, path expressions may not contain the * and ** "
                         "tokens.");
            return;
        }
        jpath parent = p;
        parent.n = p.n - 1;
        jhits h = {0};
        int rc = walk(doc, &parent, 0, &h);
        jnode *par = h.n ? h.v[0] : NULL;
        free(h.v);
        const jleg *l = &p.legs[p.n - 1];
        if (rc == 0 && par != NULL) {
            int64_t at = -1;
            if (l->kind == LEG_MEMBER && par->type == JT_OBJECT) {
                at = jfind(par, l->key, l->klen, NULL);
            } else if (l->kind == LEG_INDEX && par->type == JT_ARRAY) {
                at = leg_index(l, par->n);
                at = at < (int64_t)par->n ? at : -1;
            }
            if (at >= 0) {
                jfree(par->kids[at]);
                size_t rest = par->n - (size_t)at - 1;
                memmove(par->kids + at, par->kids + at + 1, rest * sizeof(*par->kids));
                if (par->keys) {
                    free(par->keys[at]);
                    memmove(par->keys + at, par->keys + at + 1, rest * sizeof(*par->keys));
                    memmove(par->klen + at, par->klen + at + 1, rest * sizeof(*par->klen));
                }
                par->n--;
            }
        }
        path_fini(&p);
        if (rc != 0) {
            jfree(doc);
            sqlite3_result_error_nomem(ctx);
            return;
        }
    }
    result_json(ctx, doc);
}

/* ---- aggregates ---- */

typedef struct jagg {
    jnode *j;
    int failed;
} jagg;

static void arrayagg_step(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    jagg *a = sqlite3_aggregate_context(ctx, sizeof(*a));
    if (a == NULL || a->failed) {
        return;
    }
    if (a->j == NULL && (a->j = jnew(JT_ARRAY)) == NULL) {
        a->failed = 1;
        return;
    }
    jnode *v = arg_value(argv[0]);
    if (v == NULL || jarr_insert(a->j, a->j->n, v) != 0) {
        a->failed = 1;
    }
}

static void objectagg_step(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    jagg *a = sqlite3_aggregate_context(ctx, sizeof(*a));
    if (a == NULL || a->failed) {
        return;
    }
    if (sqlite3_value_type(argv[0]) == SQLITE_NULL) {
        a->failed = 2;
        return;
    }
    if (a->j == NULL && (a->j = jnew(JT_OBJECT)) == NULL) {
        a->failed = 1;
        return;
    }
    jnode *v = arg_value(argv[1]);
    sql_fn_str k = sql_fn_get_str(argv[0]);
    if (v == NULL || jobj_put(a->j, (const char *)k.p, k.n, v) != 0) {
        a->failed = 1;
    }
}

/* JSON_ARRAYAGG(v) / JSON_OBJECTAGG(k, v) → JSON; NULL for a group without rows. */
static void jagg_final(sqlite3_context *ctx)
{
    jagg *a = sqlite3_aggregate_context(ctx, 0);
    if (a == NULL || (a->j == NULL && !a->failed)) {
        sqlite3_result_null(ctx);
        return;
    }
    if (a->failed) {
        jfree(a->j);
        a->j = NULL;
        if (a->failed == 2) {
            sql_fn_error(ctx, CM_E_JSON_NULL_KEY,
                         "JSON documents may not contain NULL member names.");
        } else {
            sqlite3_result_error_nomem(ctx);
        }
        return;
    }
    result_json(ctx, a->j);
    a->j = NULL;
}

/* _tdb_json_bool(x) → JSON true / false (NULL for NULL): the translator wraps TRUE, FALSE and
 * comparisons given to JSON constructors, which MySQL turns into JSON booleans. */
static void f_json_bool(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    if (sqlite3_value_type(argv[0]) == SQLITE_NULL) {
        sqlite3_result_null(ctx);
        return;
    }
    int t = sqlite3_value_double(argv[0]) != 0.0;
    sqlite3_result_text(ctx, t ? "true" : "false", -1, SQLITE_STATIC);
    sqlite3_result_subtype(ctx, JSON_SUBTYPE);
}

/* The single value a path without wildcards reaches (NULL: none) and, for the last leg, its
 * parent; -1 with an error raised. */
static int path_target(sqlite3_context *ctx, jnode *doc, sqlite3_value *pv, int argno, jpath *p,
                       jnode **par, jnode **at)
{
    *par = *at = NULL;
    if (arg_path(ctx, pv, argno, p) != 0) {
        return -1;
    }
    if (p->wild) {
        path_fini(p);
        sql_fn_error(ctx, CM_E_JSON_BAD_PATH_TOKEN,
                     "In this situation, path expressions may not contain the * and ** tokens.");
        return -1;
    }
    jhits h = {0};
    int rc = walk(doc, p, 0, &h);
    *at = h.n ? h.v[0] : NULL;
    free(h.v);
    if (rc == 0 && p->n > 0) {
        jpath parent = *p;
        parent.n = p->n - 1;
        jhits hp = {0};
        rc = walk(doc, &parent, 0, &hp);
        *par = hp.n ? hp.v[0] : NULL;
        free(hp.v);
    }
    if (rc != 0) {
        path_fini(p);
        sqlite3_result_error_nomem(ctx);
        return -1;
    }
    return 0;
}

/* JSON_ARRAY_APPEND(doc, path, val, …) → JSON: val appended to the array at path (a non-array
 * becomes [it, val]). JSON_ARRAY_INSERT(doc, path, val, …): val inserted at the array position
 * path ends with. */
static void array_modify(sqlite3_context *ctx, int argc, sqlite3_value **argv, int insert)
{
    const char *fname = insert ? "json_array_insert" : "json_array_append";
    if (argc < 3 || argc % 2 != 1) {
        char msg[128];
        snprintf(msg, sizeof(msg), "Incorrect parameter count in the call to native function '%s'",
                 fname);
        sql_fn_error(ctx, CM_E_WRONG_ARGUMENTS, msg);
        return;
    }
    if (sqlite3_value_type(argv[0]) == SQLITE_NULL) {
        sqlite3_result_null(ctx);
        return;
    }
    for (int i = 1; i < argc; i += 2) {
        if (sqlite3_value_type(argv[i]) == SQLITE_NULL) {
            sqlite3_result_null(ctx);
            return;
        }
    }
    jnode *doc = arg_doc(ctx, argv[0], 1, fname);
    for (int i = 1; i < argc && doc != NULL; i += 2) {
        jpath p;
        jnode *par, *at;
        if (path_target(ctx, doc, argv[i], i + 1, &p, &par, &at) != 0) {
            jfree(doc);
            return;
        }
        const jleg *last = p.n > 0 ? &p.legs[p.n - 1] : NULL;
        if (insert && (last == NULL || last->kind != LEG_INDEX)) {
            path_fini(&p);
            jfree(doc);
            sql_fn_error(ctx, CM_E_INVALID_JSON_PATH,
                         "A path expression is not a path to a cell in an array.");
            return;
        }
        jnode *v = arg_value(argv[i + 1]);
        int rc = v == NULL ? -1 : 0;
        if (rc == 0 && insert) {
            if (par != NULL && par->type == JT_ARRAY) {
                int64_t k = leg_index(last, par->n + (last->index < 0 ? 1 : 0));
                rc = jarr_insert(par, k < 0 ? 0 : (size_t)k, v);
            } else {
                jfree(v);
            }
        } else if (rc == 0) {
            if (at == NULL) {
                jfree(v);
            } else if (at->type == JT_ARRAY) {
                rc = jarr_insert(at, at->n, v);
            } else {
                jnode *inner = jnew(at->type);
                if (inner == NULL) {
                    jfree(v);
                    rc = -1;
                } else {
                    jnode tmp = *at;
                    *at = *inner;
                    *inner = tmp;
                    at->type = JT_ARRAY;
                    rc = jarr_insert(at, 0, inner);
                    rc = rc ? rc : jarr_insert(at, at->n, v);
                }
            }
        }
        path_fini(&p);
        if (rc != 0) {
            jfree(doc);
            sqlite3_result_error_nomem(ctx);
            return;
        }
    }
    if (doc != NULL) {
        result_json(ctx, doc);
    }
}

static void f_json_array_append(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    array_modify(ctx, argc, argv, 0);
}

static void f_json_array_insert(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    array_modify(ctx, argc, argv, 1);
}

/* RFC 7396 merge of patch into target (both owned; returns the result, NULL when out of
 * memory). */
static jnode *merge_patch(jnode *target, jnode *patch)
{
    if (patch->type != JT_OBJECT) {
        jfree(target);
        return patch;
    }
    if (target == NULL || target->type != JT_OBJECT) {
        jfree(target);
        target = jnew(JT_OBJECT);
        if (target == NULL) {
            jfree(patch);
            return NULL;
        }
    }
    for (size_t i = 0; i < patch->n; i++) {
        int64_t f = jfind(target, patch->keys[i], patch->klen[i], NULL);
        if (patch->kids[i]->type == JT_NULL) {
            if (f >= 0) {
                jfree(target->kids[f]);
                free(target->keys[f]);
                size_t rest = target->n - (size_t)f - 1;
                memmove(target->kids + f, target->kids + f + 1, rest * sizeof(*target->kids));
                memmove(target->keys + f, target->keys + f + 1, rest * sizeof(*target->keys));
                memmove(target->klen + f, target->klen + f + 1, rest * sizeof(*target->klen));
                target->n--;
            }
            continue;
        }
        jnode *old = NULL;
        if (f >= 0) {
            old = target->kids[f];
            target->kids[f] = NULL;
        }
        jnode *m = merge_patch(old, patch->kids[i]);
        patch->kids[i] = NULL;
        if (m == NULL || jobj_put(target, patch->keys[i], patch->klen[i], m) != 0) {
            jfree(target);
            jfree(patch);
            return NULL;
        }
    }
    jfree(patch);
    return target;
}

/* MySQL's JSON_MERGE_PRESERVE of a and b (both owned): arrays concatenate, objects merge with
 * duplicate members merged, anything else is wrapped in an array first. */
static jnode *merge_preserve(jnode *a, jnode *b)
{
    if (a->type == JT_OBJECT && b->type == JT_OBJECT) {
        for (size_t i = 0; i < b->n; i++) {
            int64_t f = jfind(a, b->keys[i], b->klen[i], NULL);
            jnode *v = b->kids[i];
            b->kids[i] = NULL;
            if (f >= 0) {
                v = merge_preserve(a->kids[f], v);
                a->kids[f] = v;
                if (v == NULL) {
                    jfree(a);
                    jfree(b);
                    return NULL;
                }
            } else if (jobj_put(a, b->keys[i], b->klen[i], v) != 0) {
                jfree(a);
                jfree(b);
                return NULL;
            }
        }
        jfree(b);
        return a;
    }
    jnode *arr[2] = {a, b};
    for (int k = 0; k < 2; k++) {
        if (arr[k]->type != JT_ARRAY) {
            jnode *w = jnew(JT_ARRAY);
            if (w == NULL || jarr_insert(w, 0, arr[k]) != 0) {
                jfree(arr[1 - k]);
                if (w == NULL) {
                    jfree(arr[k]);
                }
                return NULL;
            }
            arr[k] = w;
        }
    }
    for (size_t i = 0; i < arr[1]->n; i++) {
        jnode *v = arr[1]->kids[i];
        arr[1]->kids[i] = NULL;
        if (jarr_insert(arr[0], arr[0]->n, v) != 0) {
            arr[1]->n = i + 1;
            jfree(arr[0]);
            jfree(arr[1]);
            return NULL;
        }
    }
    jfree(arr[1]);
    return arr[0];
}

/* JSON_MERGE_PATCH(a, b, …), JSON_MERGE_PRESERVE(a, b, …) / JSON_MERGE → JSON. */
static void json_merge(sqlite3_context *ctx, int argc, sqlite3_value **argv, int patch)
{
    const char *fname = patch ? "json_merge_patch" : "json_merge_preserve";
    if (argc < 2) {
        char msg[128];
        snprintf(msg, sizeof(msg), "Incorrect parameter count in the call to native function '%s'",
                 fname);
        sql_fn_error(ctx, CM_E_WRONG_ARGUMENTS, msg);
        return;
    }
    /* a NULL argument makes the result NULL, except that JSON_MERGE_PATCH replaces it with a
     * later non-object patch (merging a non-object replaces whatever was there) */
    jnode *acc = NULL;
    int acc_null = 0;
    for (int i = 0; i < argc; i++) {
        if (sqlite3_value_type(argv[i]) == SQLITE_NULL) {
            jfree(acc);
            acc = NULL;
            if (!patch) {
                sqlite3_result_null(ctx);
                return;
            }
            acc_null = 1;
            continue;
        }
        jnode *d = arg_doc(ctx, argv[i], i + 1, fname);
        if (d == NULL) {
            jfree(acc);
            return;
        }
        if (acc_null) {
            if (d->type != JT_OBJECT) {
                acc = d;
                acc_null = 0;
            } else {
                jfree(d);
            }
            continue;
        }
        if (acc == NULL) {
            acc = d;
            continue;
        }
        acc = patch ? merge_patch(acc, d) : merge_preserve(acc, d);
        if (acc == NULL) {
            sqlite3_result_error_nomem(ctx);
            return;
        }
    }
    if (acc == NULL) {
        sqlite3_result_null(ctx);
        return;
    }
    result_json(ctx, acc);
}

static void f_json_merge_patch(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    json_merge(ctx, argc, argv, 1);
}

static void f_json_merge_preserve(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    json_merge(ctx, argc, argv, 0);
}

static int pretty(cm_buf *b, const jnode *j, int indent)
{
    int rc = 0;
    if ((j->type != JT_ARRAY && j->type != JT_OBJECT) || j->n == 0) {
        return jprint(b, j);
    }
    rc = cm_buf_append(b, j->type == JT_ARRAY ? "[\n" : "{\n", 2);
    for (size_t i = 0; i < j->n && rc == 0; i++) {
        for (int k = 0; k < indent + 2 && rc == 0; k++) {
            rc = cm_buf_append_u8(b, ' ');
        }
        if (rc == 0 && j->type == JT_OBJECT) {
            rc = print_string(b, j->keys[i], j->klen[i]);
            rc = rc ? rc : cm_buf_append(b, ": ", 2);
        }
        rc = rc ? rc : pretty(b, j->kids[i], indent + 2);
        rc = rc ? rc : (i + 1 < j->n ? cm_buf_append(b, ",\n", 2) : cm_buf_append_u8(b, '\n'));
    }
    for (int k = 0; k < indent && rc == 0; k++) {
        rc = cm_buf_append_u8(b, ' ');
    }
    return rc ? rc : cm_buf_append_u8(b, j->type == JT_ARRAY ? ']' : '}');
}

/* JSON_PRETTY(doc) → TEXT: two-space indentation, one member or element per line. */
static void f_json_pretty(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    if (sqlite3_value_type(argv[0]) == SQLITE_NULL) {
        sqlite3_result_null(ctx);
        return;
    }
    jnode *j = arg_doc(ctx, argv[0], 1, "json_pretty");
    if (j == NULL) {
        return;
    }
    cm_buf b = CM_BUF_INIT;
    if (pretty(&b, j, 0) != 0) {
        sqlite3_result_error_nomem(ctx);
    } else {
        sql_fn_result_str(ctx, NULL, b.ptr, b.len);
    }
    cm_buf_fini(&b);
    jfree(j);
}

static const sql_fn_def json_fns[] = {
    {"_tdb_json_bool", 1, 1, f_json_bool},
    {"json_array_append", -1, 1, f_json_array_append},
    {"json_array_insert", -1, 1, f_json_array_insert},
    {"json_merge_patch", -1, 1, f_json_merge_patch},
    {"json_merge_preserve", -1, 1, f_json_merge_preserve},
    {"json_merge", -1, 1, f_json_merge_preserve},
    {"json_pretty", 1, 1, f_json_pretty},
    {"json_valid", 1, 1, f_json_valid},
    {"json_type", 1, 1, f_json_type},
    {"json_extract", -1, 1, f_json_extract},
    {"->", 2, 1, f_json_extract},
    {"->>", 2, 1, f_json_extract_text},
    {"json_unquote", 1, 1, f_json_unquote},
    {"json_quote", 1, 1, f_json_quote},
    {"json_object", -1, 1, f_json_object},
    {"json_array", -1, 1, f_json_array},
    {"json_contains", 2, 1, f_json_contains},
    {"json_contains", 3, 1, f_json_contains},
    {"json_contains_path", -1, 1, f_json_contains_path},
    {"json_keys", 1, 1, f_json_keys},
    {"json_keys", 2, 1, f_json_keys},
    {"json_length", 1, 1, f_json_length},
    {"json_length", 2, 1, f_json_length},
    {"json_depth", 1, 1, f_json_depth},
    {"json_set", -1, 1, f_json_set},
    {"json_insert", -1, 1, f_json_insert},
    {"json_replace", -1, 1, f_json_replace},
    {"json_remove", -1, 1, f_json_remove},
};

int sql_func_json_register(sql_sess *s)
{
    if (sql_fn_register_table(s, json_fns, sizeof(json_fns) / sizeof(json_fns[0])) != 0) {
        return CM_E_INTERNAL;
    }
    if (sqlite3_create_function_v2(s->db, "json_arrayagg", 1, SQLITE_UTF8, s, NULL, arrayagg_step,
                                   jagg_final, NULL) != SQLITE_OK ||
        sqlite3_create_function_v2(s->db, "json_objectagg", 2, SQLITE_UTF8, s, NULL, objectagg_step,
                                   jagg_final, NULL) != SQLITE_OK) {
        return CM_E_INTERNAL;
    }
    return 0;
}
