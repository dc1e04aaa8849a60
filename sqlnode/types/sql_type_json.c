/*
 * sql_type_json.c — JSON values in the form MySQL prints them. A JSON column stores the text it
 * was given (validated by sql_json_valid); reads go through sql_json_normalize, so clients see
 * what MySQL 8.0 shows: `{"a": 1, "b": [1, 2.5]}` — ", " and ": " separators, object keys sorted
 * by length and then bytes (MySQL's order), the last of duplicate keys kept, strings re-escaped
 * with raw UTF-8, integers as integers and other numbers as doubles ("1.0", "2500.0", "1e20").
 *
 * The input was validated when stored; a text that does not parse (a corrupt row) is returned as
 * it is rather than failing the read. Nesting is bounded by SQL_JSON_DEPTH_MAX, so the recursion
 * is too.
 */
#include "sql_types_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

typedef struct jn {
    const uint8_t *s;
    size_t n;
    cm_buf *out;
    int depth;
} jn;

static void ws(const jn *p, size_t *i)
{
    while (*i < p->n &&
           (p->s[*i] == ' ' || p->s[*i] == '\t' || p->s[*i] == '\n' || p->s[*i] == '\r')) {
        (*i)++;
    }
}

/* End of the string starting at s[i] (the opening quote); 0 when unterminated. */
static size_t skip_string(const jn *p, size_t i)
{
    for (i++; i < p->n; i++) {
        if (p->s[i] == '\\') {
            i++;
        } else if (p->s[i] == '"') {
            return i + 1;
        }
    }
    return 0;
}

/* End of the value starting at s[i]; 0 on malformed input. */
static size_t skip_value(const jn *p, size_t i)
{
    if (i >= p->n) {
        return 0;
    }
    uint8_t c = p->s[i];
    if (c == '"') {
        return skip_string(p, i);
    }
    if (c == '{' || c == '[') {
        int depth = 0;
        while (i < p->n) {
            uint8_t d = p->s[i];
            if (d == '"') {
                i = skip_string(p, i);
                if (i == 0) {
                    return 0;
                }
                continue;
            }
            if (d == '{' || d == '[') {
                depth++;
            } else if (d == '}' || d == ']') {
                if (--depth == 0) {
                    return i + 1;
                }
            }
            i++;
        }
        return 0;
    }
    size_t j = i;
    while (j < p->n && p->s[j] != ',' && p->s[j] != '}' && p->s[j] != ']' && p->s[j] != ' ' &&
           p->s[j] != '\t' && p->s[j] != '\n' && p->s[j] != '\r') {
        j++;
    }
    return j > i ? j : 0;
}

static int hexval(uint8_t c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return CM_E_CORRUPT;
}

static int read_u4(const jn *p, size_t i, uint32_t *v)
{
    if (i + 4 > p->n) {
        return CM_E_CORRUPT;
    }
    uint32_t x = 0;
    for (size_t k = 0; k < 4; k++) {
        int h = hexval(p->s[i + k]);
        if (h < 0) {
            return CM_E_CORRUPT;
        }
        x = x << 4 | (uint32_t)h;
    }
    *v = x;
    return 0;
}

static int put_utf8(cm_buf *b, uint32_t cp)
{
    uint8_t u[4];
    size_t n;
    if (cp < 0x80) {
        u[0] = (uint8_t)cp;
        n = 1;
    } else if (cp < 0x800) {
        u[0] = (uint8_t)(0xC0 | cp >> 6);
        u[1] = (uint8_t)(0x80 | (cp & 0x3F));
        n = 2;
    } else if (cp < 0x10000) {
        u[0] = (uint8_t)(0xE0 | cp >> 12);
        u[1] = (uint8_t)(0x80 | (cp >> 6 & 0x3F));
        u[2] = (uint8_t)(0x80 | (cp & 0x3F));
        n = 3;
    } else {
        u[0] = (uint8_t)(0xF0 | cp >> 18);
        u[1] = (uint8_t)(0x80 | (cp >> 12 & 0x3F));
        u[2] = (uint8_t)(0x80 | (cp >> 6 & 0x3F));
        u[3] = (uint8_t)(0x80 | (cp & 0x3F));
        n = 4;
    }
    return cm_buf_append(b, u, n);
}

/* Decodes the JSON string at s[i] (opening quote) into raw UTF-8; *end is past the quote. */
static int decode_string(const jn *p, size_t i, cm_buf *b, size_t *end)
{
    int rc = 0;
    for (i++; i < p->n && rc == 0; i++) {
        uint8_t c = p->s[i];
        if (c == '"') {
            *end = i + 1;
            return 0;
        }
        if (c != '\\') {
            rc = cm_buf_append_u8(b, c);
            continue;
        }
        if (++i >= p->n) {
            return CM_E_CORRUPT;
        }
        switch (p->s[i]) {
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
            uint32_t cp, lo;
            if (read_u4(p, i + 1, &cp) != 0) {
                return CM_E_CORRUPT;
            }
            i += 4;
            if (cp >= 0xD800 && cp <= 0xDBFF && i + 6 < p->n && p->s[i + 1] == '\\' &&
                p->s[i + 2] == 'u' && read_u4(p, i + 3, &lo) == 0 && lo >= 0xDC00 && lo <= 0xDFFF) {
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                i += 6;
            } else if (cp >= 0xD800 && cp <= 0xDFFF) {
                cp = 0xFFFD; /* a lone surrogate (refused at store; a corrupt row here) */
            }
            rc = put_utf8(b, cp);
            break;
        }
        default: /* " \ / */
            rc = cm_buf_append_u8(b, p->s[i]);
            break;
        }
    }
    return rc != 0 ? rc : CM_E_CORRUPT;
}

/* Writes raw UTF-8 as a JSON string the way MySQL does. */
static int emit_string(cm_buf *out, const uint8_t *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    int rc = cm_buf_append_u8(out, '"');
    for (size_t i = 0; i < n && rc == 0; i++) {
        uint8_t c = s[i];
        switch (c) {
        case '"':
            rc = cm_buf_append(out, "\\\"", 2);
            break;
        case '\\':
            rc = cm_buf_append(out, "\\\\", 2);
            break;
        case '\b':
            rc = cm_buf_append(out, "\\b", 2);
            break;
        case '\f':
            rc = cm_buf_append(out, "\\f", 2);
            break;
        case '\n':
            rc = cm_buf_append(out, "\\n", 2);
            break;
        case '\r':
            rc = cm_buf_append(out, "\\r", 2);
            break;
        case '\t':
            rc = cm_buf_append(out, "\\t", 2);
            break;
        default:
            if (c < 0x20) {
                char u[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
                rc = cm_buf_append(out, u, 6);
            } else {
                rc = cm_buf_append_u8(out, c);
            }
        }
    }
    return rc != 0 ? rc : cm_buf_append_u8(out, '"');
}

static int emit_number(jn *p, size_t i, size_t end)
{
    char small[64];
    size_t len = end - i;
    if (len >= sizeof(small)) {
        /* a number this long is a double (or corrupt); strtod needs a terminated copy */
        char *big = malloc(len + 1);
        if (big == NULL) {
            return CM_E_NOMEM;
        }
        memcpy(big, p->s + i, len);
        big[len] = '\0';
        double d = strtod(big, NULL);
        free(big);
        int rc = sql_num_format_double(d, p->out);
        return rc;
    }
    memcpy(small, p->s + i, len);
    small[len] = '\0';
    bool integral = strpbrk(small, ".eE") == NULL;
    if (integral) {
        errno = 0;
        char *e;
        long long v = strtoll(small, &e, 10);
        if (errno == 0 && *e == '\0') {
            return cm_buf_printf(p->out, "%lld", v);
        }
        if (small[0] != '-') {
            errno = 0;
            unsigned long long u = strtoull(small, &e, 10);
            if (errno == 0 && *e == '\0') {
                return cm_buf_printf(p->out, "%llu", u);
            }
        }
    }
    double d = strtod(small, NULL);
    size_t at = p->out->len;
    int rc = sql_num_format_double(d, p->out);
    if (rc == 0 && memchr(p->out->ptr + at, '.', p->out->len - at) == NULL &&
        memchr(p->out->ptr + at, 'e', p->out->len - at) == NULL) {
        rc = cm_buf_append(p->out, ".0", 2); /* a double stays a double: 1.0, 2500.0 */
    }
    return rc;
}

typedef struct member {
    size_t kat, klen; /* decoded key in the keys buffer */
    size_t vstart;    /* value's span in the source */
    size_t order;
} member;

static int member_cmp(const void *a, const void *b, const uint8_t *keys)
{
    const member *x = a, *y = b;
    if (x->klen != y->klen) {
        return x->klen < y->klen ? CM_E_CORRUPT : 1;
    }
    int c = x->klen > 0 ? memcmp(keys + x->kat, keys + y->kat, x->klen) : 0;
    if (c != 0) {
        return c;
    }
    return x->order < y->order ? CM_E_CORRUPT : x->order > y->order;
}

static bool same_key(const member *x, const member *y, const uint8_t *keys)
{
    return x->klen == y->klen &&
           (x->klen == 0 || memcmp(keys + x->kat, keys + y->kat, x->klen) == 0);
}

/* Insertion-sorted (objects are small); stable by input order for equal keys. */
static void sort_members(member *m, size_t n, const uint8_t *keys)
{
    for (size_t i = 1; i < n; i++) {
        member x = m[i];
        size_t j = i;
        while (j > 0 && member_cmp(&m[j - 1], &x, keys) > 0) {
            m[j] = m[j - 1];
            j--;
        }
        m[j] = x;
    }
}

static int emit_value(jn *p, size_t i);

static int emit_object(jn *p, size_t i)
{
    member *m = NULL;
    size_t n = 0, cap = 0;
    cm_buf keys = CM_BUF_INIT;
    int rc = 0;
    i++;
    ws(p, &i);
    if (i < p->n && p->s[i] == '}') {
        return cm_buf_append(p->out, "{}", 2);
    }
    for (;;) {
        ws(p, &i);
        if (i >= p->n || p->s[i] != '"') {
            rc = CM_E_CORRUPT;
            break;
        }
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 8;
            member *nm = realloc(m, ncap * sizeof(*m));
            if (nm == NULL) {
                rc = CM_E_NOMEM;
                break;
            }
            m = nm;
            cap = ncap;
        }
        m[n].kat = keys.len;
        if ((rc = decode_string(p, i, &keys, &i)) != 0) {
            break;
        }
        m[n].klen = keys.len - m[n].kat;
        m[n].order = n;
        ws(p, &i);
        if (i >= p->n || p->s[i] != ':') {
            rc = CM_E_CORRUPT;
            break;
        }
        i++;
        ws(p, &i);
        m[n].vstart = i;
        size_t end = skip_value(p, i);
        if (end == 0) {
            rc = CM_E_CORRUPT;
            break;
        }
        n++;
        i = end;
        ws(p, &i);
        if (i < p->n && p->s[i] == ',') {
            i++;
            continue;
        }
        if (i < p->n && p->s[i] == '}') {
            break;
        }
        rc = CM_E_CORRUPT;
        break;
    }
    /* keys.ptr is NULL when every key is empty: use a non-NULL base for the offsets */
    const uint8_t *kb = keys.ptr != NULL ? keys.ptr : (const uint8_t *)"";
    if (rc == 0) {
        sort_members(m, n, kb);
        rc = cm_buf_append_u8(p->out, '{');
        bool first = true;
        for (size_t k = 0; k < n && rc == 0; k++) {
            if (k + 1 < n && same_key(&m[k], &m[k + 1], kb)) {
                continue; /* a later duplicate of this key wins */
            }
            if (!first) {
                rc = cm_buf_append(p->out, ", ", 2);
            }
            first = false;
            if (rc == 0) {
                rc = emit_string(p->out, kb + m[k].kat, m[k].klen);
            }
            if (rc == 0) {
                rc = cm_buf_append(p->out, ": ", 2);
            }
            if (rc == 0) {
                rc = emit_value(p, m[k].vstart);
            }
        }
        if (rc == 0) {
            rc = cm_buf_append_u8(p->out, '}');
        }
    }
    free(m);
    cm_buf_fini(&keys);
    return rc;
}

static int emit_array(jn *p, size_t i)
{
    i++;
    ws(p, &i);
    if (i < p->n && p->s[i] == ']') {
        return cm_buf_append(p->out, "[]", 2);
    }
    int rc = cm_buf_append_u8(p->out, '[');
    bool first = true;
    while (rc == 0) {
        ws(p, &i);
        size_t end = skip_value(p, i);
        if (end == 0) {
            return CM_E_CORRUPT;
        }
        if (!first) {
            rc = cm_buf_append(p->out, ", ", 2);
        }
        first = false;
        if (rc == 0) {
            rc = emit_value(p, i);
        }
        i = end;
        ws(p, &i);
        if (i < p->n && p->s[i] == ',') {
            i++;
            continue;
        }
        if (i < p->n && p->s[i] == ']') {
            return rc != 0 ? rc : cm_buf_append_u8(p->out, ']');
        }
        return rc != 0 ? rc : CM_E_CORRUPT;
    }
    return rc;
}

static int emit_value(jn *p, size_t i)
{
    if (i >= p->n) {
        return CM_E_CORRUPT;
    }
    if (++p->depth > SQL_JSON_DEPTH_MAX + 1) {
        return CM_E_CORRUPT;
    }
    int rc;
    uint8_t c = p->s[i];
    if (c == '{') {
        rc = emit_object(p, i);
    } else if (c == '[') {
        rc = emit_array(p, i);
    } else if (c == '"') {
        cm_buf b = CM_BUF_INIT;
        size_t end;
        rc = decode_string(p, i, &b, &end);
        if (rc == 0) {
            rc = emit_string(p->out, b.ptr, b.len);
        }
        cm_buf_fini(&b);
    } else if (c == 't' || c == 'f' || c == 'n') {
        size_t end = skip_value(p, i);
        size_t len = end - i;
        bool word = end != 0 && ((len == 4 && memcmp(p->s + i, "true", 4) == 0) ||
                                 (len == 5 && memcmp(p->s + i, "false", 5) == 0) ||
                                 (len == 4 && memcmp(p->s + i, "null", 4) == 0));
        rc = !word ? CM_E_CORRUPT : cm_buf_append(p->out, p->s + i, len);
    } else {
        size_t end = skip_value(p, i);
        rc = end == 0 ? CM_E_CORRUPT : emit_number(p, i, end);
    }
    p->depth--;
    return rc;
}

int sql_json_normalize(const uint8_t *s, size_t n, cm_buf *out)
{
    size_t at = out->len;
    jn p = {s, n, out, 0};
    size_t i = 0;
    ws(&p, &i);
    int rc = emit_value(&p, i);
    if (rc == 0) {
        size_t end = skip_value(&p, i);
        ws(&p, &end);
        rc = end == n ? 0 : CM_E_CORRUPT;
    }
    if (rc == CM_E_NOMEM) {
        out->len = at;
        return rc;
    }
    if (rc != 0) { /* not JSON (a corrupt row): the text as it is */
        out->len = at;
        return n > 0 ? cm_buf_append(out, s, n) : 0;
    }
    return 0;
}
