/*
 * sql_type_text.c — UTF-8 validation and character counting (CHAR/VARCHAR lengths are in
 * characters) and the JSON validity check of JSON columns (RFC 8259; MySQL refuses invalid JSON
 * with 3140 in every SQL mode).
 */
#include "sql_types_int.h"

#include <string.h>

/* Bytes of the UTF-8 character starting at s[0, n), or 0 when it is not a valid one (truncated,
 * continuation byte first, overlong, surrogate, beyond U+10FFFF). */
static size_t utf8_char(const uint8_t *s, size_t n)
{
    uint8_t c = s[0];
    if (c < 0x80) {
        return 1;
    }
    size_t len;
    uint32_t cp;
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
        cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        cp = c & 0x07;
    } else {
        return 0;
    }
    if (len > n) {
        return 0;
    }
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80) {
            return 0;
        }
        cp = cp << 6 | (s[i] & 0x3F);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10FFFF ||
        (cp >= 0xD800 && cp <= 0xDFFF)) {
        return 0;
    }
    return len;
}

size_t sql_utf8_valid_prefix(const uint8_t *s, size_t n, size_t *nchars)
{
    size_t i = 0, chars = 0;
    while (i < n) {
        if (s[i] < 0x80) { /* ASCII run: the common case */
            i++;
            chars++;
            continue;
        }
        size_t l = utf8_char(s + i, n - i);
        if (l == 0) {
            break;
        }
        i += l;
        chars++;
    }
    *nchars = chars;
    return i;
}

size_t sql_utf8_bytes_of_chars(const uint8_t *s, size_t n, size_t nchars)
{
    size_t i = 0;
    while (i < n && nchars > 0) {
        size_t l = s[i] < 0x80 ? 1 : utf8_char(s + i, n - i);
        if (l == 0) {
            break;
        }
        i += l;
        nchars--;
    }
    return i;
}

/* ---- JSON ---- */

typedef struct jp {
    const uint8_t *s;
    size_t n;
    size_t i;
    const char *why;
} jp;

static void ws(jp *p)
{
    while (p->i < p->n &&
           (p->s[p->i] == ' ' || p->s[p->i] == '\t' || p->s[p->i] == '\n' || p->s[p->i] == '\r')) {
        p->i++;
    }
}

static bool fail(jp *p, const char *why)
{
    p->why = why;
    return false;
}

static bool is_hex(uint8_t c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* Four hex digits at s[i]. */
static bool u4(const jp *p, size_t i, uint32_t *v)
{
    if (i + 4 > p->n) {
        return false;
    }
    uint32_t x = 0;
    for (size_t k = 0; k < 4; k++) {
        uint8_t c = p->s[i + k];
        if (!is_hex(c)) {
            return false;
        }
        x = x << 4 | (uint32_t)(c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10);
    }
    *v = x;
    return true;
}

static bool jstring(jp *p)
{
    p->i++; /* opening quote */
    while (p->i < p->n) {
        uint8_t c = p->s[p->i];
        if (c == '"') {
            p->i++;
            return true;
        }
        if (c < 0x20) {
            return fail(p, "Invalid encoding in string.");
        }
        if (c == '\\') {
            if (p->i + 1 >= p->n) {
                break;
            }
            uint8_t e = p->s[p->i + 1];
            if (e == 'u') {
                uint32_t cp;
                if (!u4(p, p->i + 2, &cp)) {
                    return fail(p, "Incorrect hex digit after \\u escape in string.");
                }
                p->i += 6;
                if (cp >= 0xDC00 && cp <= 0xDFFF) {
                    return fail(p, "The surrogate pair in string is invalid.");
                }
                if (cp >= 0xD800 && cp <= 0xDBFF) { /* must be followed by a low surrogate */
                    uint32_t lo;
                    if (p->i + 1 >= p->n || p->s[p->i] != '\\' || p->s[p->i + 1] != 'u' ||
                        !u4(p, p->i + 2, &lo) || lo < 0xDC00 || lo > 0xDFFF) {
                        return fail(p, "The surrogate pair in string is invalid.");
                    }
                    p->i += 6;
                }
                continue;
            }
            if (strchr("\"\\/bfnrt", e) == NULL || e == '\0') {
                return fail(p, "Invalid escape character in string.");
            }
            p->i += 2;
            continue;
        }
        if (c < 0x80) {
            p->i++;
            continue;
        }
        size_t l = utf8_char(p->s + p->i, p->n - p->i);
        if (l == 0) {
            return fail(p, "Invalid encoding in string.");
        }
        p->i += l;
    }
    return fail(p, "Missing a closing quotation mark in string.");
}

static bool digits(jp *p)
{
    size_t start = p->i;
    while (p->i < p->n && p->s[p->i] >= '0' && p->s[p->i] <= '9') {
        p->i++;
    }
    return p->i > start;
}

static bool jnumber(jp *p)
{
    if (p->s[p->i] == '-') {
        p->i++;
    }
    if (p->i < p->n && p->s[p->i] == '0') {
        p->i++;
    } else if (!digits(p)) {
        return fail(p, "Invalid value.");
    }
    if (p->i < p->n && p->s[p->i] == '.') {
        p->i++;
        if (!digits(p)) {
            return fail(p, "Miss fraction part in number.");
        }
    }
    if (p->i < p->n && (p->s[p->i] == 'e' || p->s[p->i] == 'E')) {
        p->i++;
        if (p->i < p->n && (p->s[p->i] == '+' || p->s[p->i] == '-')) {
            p->i++;
        }
        if (!digits(p)) {
            return fail(p, "Miss exponent in number.");
        }
    }
    return true;
}

static bool literal(jp *p, const char *word)
{
    size_t l = strlen(word);
    if (p->n - p->i >= l && memcmp(p->s + p->i, word, l) == 0) {
        p->i += l;
        return true;
    }
    return fail(p, "Invalid value.");
}

/* Iterative over containers with an explicit stack, so depth is bounded without recursion. */
static bool jvalue(jp *p)
{
    char stack[SQL_JSON_DEPTH_MAX];
    int depth = 0;
    for (;;) {
        ws(p);
        if (p->i >= p->n) {
            return fail(p, "The document is empty.");
        }
        uint8_t c = p->s[p->i];
        bool opened = false;
        if (c == '{' || c == '[') {
            if (depth >= SQL_JSON_DEPTH_MAX) {
                return fail(p, "The JSON document exceeds the maximum depth.");
            }
            stack[depth++] = (char)c;
            p->i++;
            ws(p);
            char close = c == '{' ? '}' : ']';
            if (p->i < p->n && p->s[p->i] == close) {
                p->i++;
                depth--;
            } else {
                opened = true;
            }
        } else if (c == '"') {
            if (!jstring(p)) {
                return false;
            }
        } else if (c == '-' || (c >= '0' && c <= '9')) {
            if (!jnumber(p)) {
                return false;
            }
        } else if (c == 't') {
            if (!literal(p, "true")) {
                return false;
            }
        } else if (c == 'f') {
            if (!literal(p, "false")) {
                return false;
            }
        } else if (c == 'n') {
            if (!literal(p, "null")) {
                return false;
            }
        } else {
            return fail(p, "Invalid value.");
        }
        if (opened && stack[depth - 1] == '{') {
            /* first member's key */
            if (p->i >= p->n || p->s[p->i] != '"') {
                return fail(p, "Missing a name for object member.");
            }
            if (!jstring(p)) {
                return false;
            }
            ws(p);
            if (p->i >= p->n || p->s[p->i] != ':') {
                return fail(p, "Missing a colon after a name of object member.");
            }
            p->i++;
            continue;
        }
        if (opened) {
            continue; /* first array element */
        }
        /* a value is complete: close containers or move to the next element */
        for (;;) {
            if (depth == 0) {
                return true;
            }
            ws(p);
            char open = stack[depth - 1];
            char close = open == '{' ? '}' : ']';
            if (p->i < p->n && p->s[p->i] == close) {
                p->i++;
                depth--;
                continue;
            }
            if (p->i < p->n && p->s[p->i] == ',') {
                p->i++;
                if (open == '{') {
                    ws(p);
                    if (p->i >= p->n || p->s[p->i] != '"') {
                        return fail(p, "Missing a name for object member.");
                    }
                    if (!jstring(p)) {
                        return false;
                    }
                    ws(p);
                    if (p->i >= p->n || p->s[p->i] != ':') {
                        return fail(p, "Missing a colon after a name of object member.");
                    }
                    p->i++;
                }
                break;
            }
            return fail(p, open == '{' ? "Missing a comma or '}' after an object member."
                                       : "Missing a comma or ']' after an array element.");
        }
    }
}

bool sql_json_valid(const uint8_t *s, size_t n, size_t *pos, const char **why)
{
    jp p = {s, n, 0, NULL};
    bool ok = jvalue(&p);
    if (ok) {
        ws(&p);
        if (p.i != n) {
            ok = fail(&p, "The document root must not be followed by other values.");
        }
    }
    *pos = p.i;
    *why = ok ? NULL : p.why;
    return ok;
}
