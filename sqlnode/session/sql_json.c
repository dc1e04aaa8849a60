/* sql_json.c — MySQL's JSON documents: tree, parser, printer, paths, merges (sql_json.h). */
#include "sql_json.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void sql_json_free(sql_jnode *j)
{
    if (j == NULL) {
        return;
    }
    for (size_t i = 0; i < j->n; i++) {
        sql_json_free(j->kids[i]);
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

sql_jnode *sql_json_new(int type)
{
    sql_jnode *j = calloc(1, sizeof(*j));
    if (j != NULL) {
        j->type = type;
    }
    return j;
}

sql_jnode *sql_json_new_str(int type, const char *p, size_t n)
{
    sql_jnode *j = sql_json_new(type);
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

sql_jnode *sql_json_copy(const sql_jnode *j)
{
    sql_jnode *c = j->s ? sql_json_new_str(j->type, j->s, j->len) : sql_json_new(j->type);
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
        sql_json_free(c);
        return NULL;
    }
    for (size_t i = 0; i < j->n; i++) {
        c->n = i + 1;
        c->kids[i] = sql_json_copy(j->kids[i]);
        if (j->keys) {
            c->keys[i] = malloc(j->klen[i] + 1);
            if (c->keys[i] != NULL) {
                memcpy(c->keys[i], j->keys[i], j->klen[i] + 1);
            }
            c->klen[i] = j->klen[i];
        }
        if (c->kids[i] == NULL || (j->keys && c->keys[i] == NULL)) {
            sql_json_free(c);
            return NULL;
        }
    }
    return c;
}

static int jgrow(sql_jnode *j)
{
    if (j->n < j->cap) {
        return 0;
    }
    size_t cap = j->cap ? j->cap * 2 : 4;
    sql_jnode **k = realloc(j->kids, cap * sizeof(*k));
    if (k == NULL) {
        return -1;
    }
    j->kids = k;
    if (j->type == SQL_JT_OBJECT) {
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
int64_t sql_json_find(const sql_jnode *j, const char *k, size_t kn, size_t *ins)
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
int sql_json_obj_put(sql_jnode *j, const char *k, size_t kn, sql_jnode *v)
{
    size_t at;
    int64_t f = sql_json_find(j, k, kn, &at);
    if (f >= 0) {
        sql_json_free(j->kids[f]);
        j->kids[f] = v;
        return 0;
    }
    char *kc = malloc(kn + 1);
    if (kc == NULL || jgrow(j) != 0) {
        free(kc);
        sql_json_free(v);
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

int sql_json_arr_insert(sql_jnode *j, size_t at, sql_jnode *v)
{
    if (jgrow(j) != 0) {
        sql_json_free(v);
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
static int read_string(jparser *ps, cm_buf *b)
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
void sql_json_double_text(double d, char *buf, size_t cap)
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

static sql_jnode *parse_value(jparser *ps);

static sql_jnode *parse_container(jparser *ps, int obj)
{
    sql_jnode *j = sql_json_new(obj ? SQL_JT_OBJECT : SQL_JT_ARRAY);
    if (j == NULL || ++ps->depth > SQL_JSON_DEPTH_MAX) {
        sql_json_free(j);
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
            if (ps->p >= ps->e || *ps->p != '"' || read_string(ps, &key) != 0) {
                cm_buf_fini(&key);
                sql_json_free(j);
                return NULL;
            }
            skip_ws(ps);
            if (ps->p >= ps->e || *ps->p != ':') {
                cm_buf_fini(&key);
                sql_json_free(j);
                return NULL;
            }
            ps->p++;
        }
        sql_jnode *v = parse_value(ps);
        int rc = v == NULL ? -1
                 : obj     ? sql_json_obj_put(j, key.ptr ? (const char *)key.ptr : "", key.len, v)
                           : sql_json_arr_insert(j, j->n, v);
        cm_buf_fini(&key);
        if (rc != 0) {
            sql_json_free(j);
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
        sql_json_free(j);
        return NULL;
    }
}

static sql_jnode *parse_value(jparser *ps)
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
        sql_jnode *j = NULL;
        if (read_string(ps, &b) == 0) {
            j = sql_json_new_str(SQL_JT_STRING, b.ptr ? (const char *)b.ptr : "", b.len);
        }
        cm_buf_fini(&b);
        return j;
    }
    static const struct {
        const char *w;
        int type;
    } words[] = {{"null", SQL_JT_NULL}, {"true", SQL_JT_TRUE}, {"false", SQL_JT_FALSE}};
    for (size_t i = 0; i < 3; i++) {
        size_t n = strlen(words[i].w);
        if ((size_t)(ps->e - ps->p) >= n && memcmp(ps->p, words[i].w, n) == 0) {
            ps->p += n;
            return sql_json_new(words[i].type);
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
        sql_json_double_text(d, buf, sizeof(buf));
        return sql_json_new_str(SQL_JT_DOUBLE, buf, strlen(buf));
    }
    return sql_json_new_str(SQL_JT_INT, s, (size_t)(ps->p - s));
}

/* Parses a whole document; NULL when it is not valid JSON (or out of memory). */
sql_jnode *sql_json_parse(const char *p, size_t n)
{
    jparser ps = {p, p + n, 0};
    sql_jnode *j = parse_value(&ps);
    if (j == NULL) {
        return NULL;
    }
    skip_ws(&ps);
    if (ps.p != ps.e) {
        sql_json_free(j);
        return NULL;
    }
    return j;
}

int sql_json_print_string(cm_buf *b, const char *p, size_t n)
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
int sql_json_print(cm_buf *b, const sql_jnode *j)
{
    int rc = 0;
    switch (j->type) {
    case SQL_JT_NULL:
        return cm_buf_append(b, "null", 4);
    case SQL_JT_TRUE:
        return cm_buf_append(b, "true", 4);
    case SQL_JT_FALSE:
        return cm_buf_append(b, "false", 5);
    case SQL_JT_INT:
    case SQL_JT_DOUBLE:
        return cm_buf_append(b, j->s, j->len);
    case SQL_JT_STRING:
        return sql_json_print_string(b, j->s, j->len);
    case SQL_JT_ARRAY:
        rc = cm_buf_append_u8(b, '[');
        for (size_t i = 0; i < j->n && rc == 0; i++) {
            if (i > 0) {
                rc = cm_buf_append(b, ", ", 2);
            }
            rc = rc ? rc : sql_json_print(b, j->kids[i]);
        }
        return rc ? rc : cm_buf_append_u8(b, ']');
    default:
        rc = cm_buf_append_u8(b, '{');
        for (size_t i = 0; i < j->n && rc == 0; i++) {
            if (i > 0) {
                rc = cm_buf_append(b, ", ", 2);
            }
            rc = rc ? rc : sql_json_print_string(b, j->keys[i], j->klen[i]);
            rc = rc ? rc : cm_buf_append(b, ": ", 2);
            rc = rc ? rc : sql_json_print(b, j->kids[i]);
        }
        return rc ? rc : cm_buf_append_u8(b, '}');
    }
}

void sql_json_path_fini(sql_jpath *p)
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

static const char *skip_blanks(const char *p, const char *e)
{
    while (p < e && *p == ' ') {
        p++;
    }
    return p;
}

/* A member leg after '.': *, "quoted key" or an identifier. Returns where it ends, or NULL. */
static const char *parse_member_leg(const char *p, const char *e, sql_jleg *l, int *wild)
{
    p = skip_blanks(p, e);
    if (p < e && *p == '*') {
        l->kind = SQL_JLEG_ANY_MEMBER;
        *wild = 1;
        return p + 1;
    }
    l->kind = SQL_JLEG_MEMBER;
    cm_buf k = CM_BUF_INIT;
    if (p < e && *p == '"') {
        jparser ps = {p, e, 0};
        if (read_string(&ps, &k) != 0) {
            cm_buf_fini(&k);
            return NULL;
        }
        p = ps.p;
    } else {
        const char *s = p;
        while (p < e && is_ident_char((unsigned char)*p)) {
            p++;
        }
        if (p == s || (*s >= '0' && *s <= '9') || cm_buf_append(&k, s, (size_t)(p - s)) != 0) {
            cm_buf_fini(&k);
            return NULL;
        }
    }
    l->key = malloc(k.len + 1);
    if (l->key != NULL && k.len > 0) {
        memcpy(l->key, k.ptr, k.len);
    }
    l->klen = k.len;
    cm_buf_fini(&k);
    return l->key != NULL ? p : NULL;
}

/* An array leg after '[': *, last, last-N or N, then ']'. Returns where it ends, or NULL. */
static const char *parse_index_leg(const char *p, const char *e, sql_jleg *l, int *wild)
{
    p = skip_blanks(p, e);
    int64_t v = 0;
    if (p < e && *p == '*') {
        l->kind = SQL_JLEG_ANY_INDEX;
        *wild = 1;
        p++;
    } else {
        int last = e - p >= 4 && memcmp(p, "last", 4) == 0;
        if (last) {
            p = skip_blanks(p + 4, e);
        }
        if (!last || (p < e && *p == '-')) {
            p = last ? skip_blanks(p + 1, e) : p;
            const char *s = p;
            while (p < e && *p >= '0' && *p <= '9' && v < 100000000) {
                v = v * 10 + (*p++ - '0');
            }
            if (p == s) {
                return NULL;
            }
        }
        l->kind = SQL_JLEG_INDEX;
        l->index = last ? -1 - v : v; /* last is -1, last-N is -1-N */
    }
    p = skip_blanks(p, e);
    return p < e && *p == ']' ? p + 1 : NULL;
}

int sql_json_path_parse(const char *p, size_t n, sql_jpath *out)
{
    const char *e = p + n;
    memset(out, 0, sizeof(*out));
    p = skip_blanks(p, e);
    if (p >= e || *p != '$') {
        return -1;
    }
    p = skip_blanks(p + 1, e);
    while (p != NULL && p < e) {
        if (out->n >= SQL_JSON_PATH_LEGS_MAX) {
            break;
        }
        sql_jleg *l = &out->legs[out->n];
        memset(l, 0, sizeof(*l));
        if (*p == '.') {
            p = parse_member_leg(p + 1, e, l, &out->wild);
        } else if (*p == '[') {
            p = parse_index_leg(p + 1, e, l, &out->wild);
        } else if (e - p >= 2 && p[0] == '*' && p[1] == '*') {
            l->kind = SQL_JLEG_ANY_DEPTH;
            out->wild = 1;
            p = skip_blanks(p + 2, e);
            p = p < e ? p : NULL; /* ** must be followed by a leg */
        } else {
            p = NULL;
        }
        if (p != NULL) {
            out->n++;
            p = skip_blanks(p, e);
        } else {
            free(l->key); /* a leg that failed half-way */
        }
    }
    if (p == NULL || p < e) {
        sql_json_path_fini(out);
        return -1;
    }
    return 0;
}

static int hits_add(sql_jhits *h, sql_jnode *j)
{
    for (size_t i = 0; i < h->n; i++) {
        if (h->v[i] == j) {
            return 0; /* ** can reach a value twice */
        }
    }
    if (h->n == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 8;
        sql_jnode **v = realloc(h->v, cap * sizeof(*v));
        if (v == NULL) {
            return -1;
        }
        h->v = v;
        h->cap = cap;
    }
    h->v[h->n++] = j;
    return 0;
}

int64_t sql_json_leg_index(const sql_jleg *l, size_t n)
{
    return l->index >= 0 ? l->index : (int64_t)n + l->index;
}

/* Collects the values path legs [k, n) reach from j. */
int sql_json_walk(sql_jnode *j, const sql_jpath *p, int k, sql_jhits *h)
{
    if (k == p->n) {
        return hits_add(h, j);
    }
    const sql_jleg *l = &p->legs[k];
    int rc = 0;
    switch (l->kind) {
    case SQL_JLEG_MEMBER:
        if (j->type == SQL_JT_OBJECT) {
            int64_t f = sql_json_find(j, l->key, l->klen, NULL);
            if (f >= 0) {
                rc = sql_json_walk(j->kids[f], p, k + 1, h);
            }
        }
        break;
    case SQL_JLEG_ANY_MEMBER:
        if (j->type == SQL_JT_OBJECT) {
            for (size_t i = 0; i < j->n && rc == 0; i++) {
                rc = sql_json_walk(j->kids[i], p, k + 1, h);
            }
        }
        break;
    case SQL_JLEG_INDEX:
        if (j->type == SQL_JT_ARRAY) {
            int64_t i = sql_json_leg_index(l, j->n);
            if (i >= 0 && i < (int64_t)j->n) {
                rc = sql_json_walk(j->kids[i], p, k + 1, h);
            }
        } else if (sql_json_leg_index(l, 1) == 0) {
            rc = sql_json_walk(j, p, k + 1, h); /* a scalar is its own [0] */
        }
        break;
    case SQL_JLEG_ANY_INDEX:
        if (j->type == SQL_JT_ARRAY) {
            for (size_t i = 0; i < j->n && rc == 0; i++) {
                rc = sql_json_walk(j->kids[i], p, k + 1, h);
            }
        }
        break;
    default: /* ** : here and at every depth below */
        rc = sql_json_walk(j, p, k + 1, h);
        if (j->type == SQL_JT_ARRAY || j->type == SQL_JT_OBJECT) {
            for (size_t i = 0; i < j->n && rc == 0; i++) {
                rc = sql_json_walk(j->kids[i], p, k, h);
            }
        }
        break;
    }
    return rc;
}

static int json_equal(const sql_jnode *a, const sql_jnode *b)
{
    int na = a->type == SQL_JT_INT || a->type == SQL_JT_DOUBLE;
    int nb = b->type == SQL_JT_INT || b->type == SQL_JT_DOUBLE;
    if (na && nb) {
        return strtod(a->s, NULL) == strtod(b->s, NULL);
    }
    if (a->type != b->type) {
        return 0;
    }
    if (a->type == SQL_JT_STRING) {
        return a->len == b->len && memcmp(a->s, b->s, a->len) == 0;
    }
    if (a->type == SQL_JT_ARRAY || a->type == SQL_JT_OBJECT) {
        if (a->n != b->n) {
            return 0;
        }
        for (size_t i = 0; i < a->n; i++) {
            if ((a->keys && key_cmp(a->keys[i], a->klen[i], b->keys[i], b->klen[i]) != 0) ||
                !json_equal(a->kids[i], b->kids[i])) {
                return 0;
            }
        }
    }
    return 1;
}

/* MySQL's containment: scalars by equality; an array contains each element of a candidate array
 * (or a non-array candidate) in some element; an object contains each member of a candidate
 * object. */
int sql_json_contains(const sql_jnode *t, const sql_jnode *c)
{
    if (t->type == SQL_JT_ARRAY) {
        if (c->type == SQL_JT_ARRAY) {
            for (size_t i = 0; i < c->n; i++) {
                if (!sql_json_contains(t, c->kids[i])) {
                    return 0;
                }
            }
            return 1;
        }
        for (size_t i = 0; i < t->n; i++) {
            if (sql_json_contains(t->kids[i], c)) {
                return 1;
            }
        }
        return 0;
    }
    if (t->type == SQL_JT_OBJECT) {
        if (c->type != SQL_JT_OBJECT) {
            return 0;
        }
        for (size_t i = 0; i < c->n; i++) {
            int64_t f = sql_json_find(t, c->keys[i], c->klen[i], NULL);
            if (f < 0 || !sql_json_contains(t->kids[f], c->kids[i])) {
                return 0;
            }
        }
        return 1;
    }
    return json_equal(t, c);
}

int sql_json_depth(const sql_jnode *j)
{
    int d = 0;
    for (size_t i = 0; i < j->n; i++) {
        int k = sql_json_depth(j->kids[i]);
        d = k > d ? k : d;
    }
    return d + 1;
}

/* RFC 7396 merge of patch into target (both owned; returns the result, NULL when out of
 * memory). */
sql_jnode *sql_json_merge_patch(sql_jnode *target, sql_jnode *patch)
{
    if (patch->type != SQL_JT_OBJECT) {
        sql_json_free(target);
        return patch;
    }
    if (target == NULL || target->type != SQL_JT_OBJECT) {
        sql_json_free(target);
        target = sql_json_new(SQL_JT_OBJECT);
        if (target == NULL) {
            sql_json_free(patch);
            return NULL;
        }
    }
    for (size_t i = 0; i < patch->n; i++) {
        int64_t f = sql_json_find(target, patch->keys[i], patch->klen[i], NULL);
        if (patch->kids[i]->type == SQL_JT_NULL) {
            if (f >= 0) {
                sql_json_free(target->kids[f]);
                free(target->keys[f]);
                size_t rest = target->n - (size_t)f - 1;
                memmove(target->kids + f, target->kids + f + 1, rest * sizeof(*target->kids));
                memmove(target->keys + f, target->keys + f + 1, rest * sizeof(*target->keys));
                memmove(target->klen + f, target->klen + f + 1, rest * sizeof(*target->klen));
                target->n--;
            }
            continue;
        }
        sql_jnode *old = NULL;
        if (f >= 0) {
            old = target->kids[f];
            target->kids[f] = NULL;
        }
        sql_jnode *m = sql_json_merge_patch(old, patch->kids[i]);
        patch->kids[i] = NULL;
        if (m == NULL || sql_json_obj_put(target, patch->keys[i], patch->klen[i], m) != 0) {
            sql_json_free(target);
            sql_json_free(patch);
            return NULL;
        }
    }
    sql_json_free(patch);
    return target;
}

/* MySQL's JSON_MERGE_PRESERVE of a and b (both owned): arrays concatenate, objects merge with
 * duplicate members merged, anything else is wrapped in an array first. */
sql_jnode *sql_json_merge_preserve(sql_jnode *a, sql_jnode *b)
{
    if (a->type == SQL_JT_OBJECT && b->type == SQL_JT_OBJECT) {
        for (size_t i = 0; i < b->n; i++) {
            int64_t f = sql_json_find(a, b->keys[i], b->klen[i], NULL);
            sql_jnode *v = b->kids[i];
            b->kids[i] = NULL;
            if (f >= 0) {
                v = sql_json_merge_preserve(a->kids[f], v);
                a->kids[f] = v;
                if (v == NULL) {
                    sql_json_free(a);
                    sql_json_free(b);
                    return NULL;
                }
            } else if (sql_json_obj_put(a, b->keys[i], b->klen[i], v) != 0) {
                sql_json_free(a);
                sql_json_free(b);
                return NULL;
            }
        }
        sql_json_free(b);
        return a;
    }
    sql_jnode *arr[2] = {a, b};
    for (int k = 0; k < 2; k++) {
        if (arr[k]->type != SQL_JT_ARRAY) {
            sql_jnode *w = sql_json_new(SQL_JT_ARRAY);
            if (w == NULL || sql_json_arr_insert(w, 0, arr[k]) != 0) {
                sql_json_free(arr[1 - k]);
                if (w == NULL) {
                    sql_json_free(arr[k]);
                }
                return NULL;
            }
            arr[k] = w;
        }
    }
    for (size_t i = 0; i < arr[1]->n; i++) {
        sql_jnode *v = arr[1]->kids[i];
        arr[1]->kids[i] = NULL;
        if (sql_json_arr_insert(arr[0], arr[0]->n, v) != 0) {
            arr[1]->n = i + 1;
            sql_json_free(arr[0]);
            sql_json_free(arr[1]);
            return NULL;
        }
    }
    sql_json_free(arr[1]);
    return arr[0];
}

int sql_json_pretty(cm_buf *b, const sql_jnode *j, int indent)
{
    int rc = 0;
    if ((j->type != SQL_JT_ARRAY && j->type != SQL_JT_OBJECT) || j->n == 0) {
        return sql_json_print(b, j);
    }
    rc = cm_buf_append(b, j->type == SQL_JT_ARRAY ? "[\n" : "{\n", 2);
    for (size_t i = 0; i < j->n && rc == 0; i++) {
        for (int k = 0; k < indent + 2 && rc == 0; k++) {
            rc = cm_buf_append_u8(b, ' ');
        }
        if (rc == 0 && j->type == SQL_JT_OBJECT) {
            rc = sql_json_print_string(b, j->keys[i], j->klen[i]);
            rc = rc ? rc : cm_buf_append(b, ": ", 2);
        }
        rc = rc ? rc : sql_json_pretty(b, j->kids[i], indent + 2);
        rc = rc ? rc : (i + 1 < j->n ? cm_buf_append(b, ",\n", 2) : cm_buf_append_u8(b, '\n'));
    }
    for (int k = 0; k < indent && rc == 0; k++) {
        rc = cm_buf_append_u8(b, ' ');
    }
    return rc ? rc : cm_buf_append_u8(b, j->type == SQL_JT_ARRAY ? ']' : '}');
}
