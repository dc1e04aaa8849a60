/* sql_lexer.c — the MySQL lexer (see sql_lexer.h). */
#include "sql_lexer.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* The server version executable comments are compared with (/ *!80011 … * / runs, a higher
 * number is a comment): 8.0.11, the version we advertise. */
#define SQL_LEX_VERSION 80011

void sql_tokens_init(sql_tokens *t)
{
    t->v = NULL;
    t->n = 0;
    t->cap = 0;
}

void sql_tokens_fini(sql_tokens *t)
{
    free(t->v);
    sql_tokens_init(t);
}

static int push(sql_tokens *t, sql_token tk)
{
    if (t->n == t->cap) {
        if (t->cap >= SQL_LEX_TOKENS_MAX) {
            return CM_E_UNSUPPORTED;
        }
        uint32_t cap = t->cap ? t->cap * 2 : 64;
        if (cap > SQL_LEX_TOKENS_MAX) {
            cap = SQL_LEX_TOKENS_MAX;
        }
        sql_token *v = realloc(t->v, (size_t)cap * sizeof(*v));
        if (v == NULL) {
            return CM_E_NOMEM;
        }
        t->v = v;
        t->cap = cap;
    }
    t->v[t->n++] = tk;
    return 0;
}

static int is_ident_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '$' || c >= 0x80;
}

static int is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

static int is_hex(unsigned char c)
{
    return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static int is_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

typedef struct lexer {
    const char *s;
    size_t len;
    size_t pos;
    unsigned mode;
    int in_exec; /* inside / *! … * / */
    cm_err *err;
} lexer;

static int parse_error(lexer *lx, size_t at, const char *what)
{
    size_t show = lx->len - at < 40 ? lx->len - at : 40;
    return cm_err_set(lx->err, CM_E_PARSE,
                      "You have an error in your SQL syntax; %s near '%.*s' at line 1", what,
                      (int)show, lx->s + at);
}

/* Skips a quoted run starting at lx->pos (the opening quote). Backslash escapes apply to
 * strings only. Returns 0 with lx->pos after the closing quote, or CM_E_PARSE. */
static int skip_quoted(lexer *lx, char q, int backslash)
{
    size_t start = lx->pos;
    size_t i = lx->pos + 1;
    while (i < lx->len) {
        char c = lx->s[i];
        if (backslash && c == '\\') {
            i += 2;
            continue;
        }
        if (c == q) {
            if (i + 1 < lx->len && lx->s[i + 1] == q) {
                i += 2;
                continue;
            }
            lx->pos = i + 1;
            return 0;
        }
        i++;
    }
    return parse_error(lx, start, "unterminated quoted text");
}

/* Skips whitespace and comments. Returns 0 or CM_E_PARSE. */
static int skip_blank(lexer *lx)
{
    for (;;) {
        while (lx->pos < lx->len && is_space((unsigned char)lx->s[lx->pos])) {
            lx->pos++;
        }
        if (lx->pos >= lx->len) {
            return 0;
        }
        const char *p = lx->s + lx->pos;
        size_t left = lx->len - lx->pos;
        if (p[0] == '#' ||
            (left >= 2 && p[0] == '-' && p[1] == '-' &&
             (left == 2 || is_space((unsigned char)p[2]) || (unsigned char)p[2] < 0x20))) {
            while (lx->pos < lx->len && lx->s[lx->pos] != '\n') {
                lx->pos++;
            }
            continue;
        }
        if (lx->in_exec && left >= 2 && p[0] == '*' && p[1] == '/') {
            lx->in_exec = 0;
            lx->pos += 2;
            continue;
        }
        if (left >= 2 && p[0] == '/' && p[1] == '*') {
            size_t start = lx->pos;
            if (left >= 3 && p[2] == '!' && !lx->in_exec) {
                size_t i = lx->pos + 3;
                size_t d0 = i;
                long ver = 0;
                while (i < lx->len && is_digit((unsigned char)lx->s[i]) && i - d0 < 6) {
                    ver = ver * 10 + (lx->s[i] - '0');
                    i++;
                }
                if (i == d0 || ver <= SQL_LEX_VERSION) {
                    lx->in_exec = 1;
                    lx->pos = i;
                    continue;
                }
            }
            const char *end = NULL;
            for (size_t i = lx->pos + 2; i + 1 < lx->len; i++) {
                if (lx->s[i] == '*' && lx->s[i + 1] == '/') {
                    end = lx->s + i;
                    break;
                }
            }
            if (end == NULL) {
                return parse_error(lx, start, "unterminated comment");
            }
            lx->pos = (size_t)(end - lx->s) + 2;
            continue;
        }
        return 0;
    }
}

static sql_token make(uint8_t type, size_t off, size_t len)
{
    sql_token t = {type, 0, (uint32_t)off, (uint32_t)len, (uint32_t)off, (uint32_t)len};
    return t;
}

/* Lexes a number or a word that starts with digits. */
static sql_token lex_number(lexer *lx)
{
    size_t s = lx->pos, i = lx->pos;
    const char *p = lx->s;
    if (p[i] == '0' && i + 1 < lx->len && (p[i + 1] == 'x' || p[i + 1] == 'b')) {
        int hex = p[i + 1] == 'x';
        size_t j = i + 2;
        while (j < lx->len && (hex ? is_hex((unsigned char)p[j]) : (p[j] == '0' || p[j] == '1'))) {
            j++;
        }
        if (j > i + 2 && (j >= lx->len || !is_ident_char((unsigned char)p[j]))) {
            lx->pos = j;
            sql_token t = make(hex ? SQL_TK_HEX : SQL_TK_BIT, s, j - s);
            t.voff = (uint32_t)(i + 2);
            t.vlen = (uint32_t)(j - i - 2);
            return t;
        }
    }
    uint8_t type = SQL_TK_INT;
    while (i < lx->len && is_digit((unsigned char)p[i])) {
        i++;
    }
    if (i < lx->len && p[i] == '.') {
        type = SQL_TK_DECIMAL;
        i++;
        while (i < lx->len && is_digit((unsigned char)p[i])) {
            i++;
        }
    }
    if (i < lx->len && (p[i] == 'e' || p[i] == 'E')) {
        size_t j = i + 1;
        if (j < lx->len && (p[j] == '+' || p[j] == '-')) {
            j++;
        }
        if (j < lx->len && is_digit((unsigned char)p[j])) {
            while (j < lx->len && is_digit((unsigned char)p[j])) {
                j++;
            }
            i = j;
            type = SQL_TK_FLOAT;
        }
    }
    if (type == SQL_TK_INT && i < lx->len && is_ident_char((unsigned char)p[i])) {
        /* MySQL identifiers may begin with digits (1abc). */
        while (i < lx->len && is_ident_char((unsigned char)p[i])) {
            i++;
        }
        type = SQL_TK_IDENT;
    }
    lx->pos = i;
    return make(type, s, i - s);
}

static const char *const ops3[] = {"<=>", "->>"};
static const char *const ops2[] = {"<=", ">=", "<>", "!=", "<<", ">>", "||", "&&", ":=", "->"};

static int lex_one(lexer *lx, sql_token *out)
{
    const char *p = lx->s;
    size_t s = lx->pos;
    size_t left = lx->len - s;
    unsigned char c = (unsigned char)p[s];
    int rc;

    /* Prefixed literals: N'…', X'…', B'…'. */
    if (left >= 2 && p[s + 1] == '\'' &&
        (c == 'n' || c == 'N' || c == 'x' || c == 'X' || c == 'b' || c == 'B')) {
        lx->pos = s + 1;
        int bs = (c == 'n' || c == 'N') && !(lx->mode & SQL_MODE_NO_BACKSLASH_ESCAPES);
        if ((rc = skip_quoted(lx, '\'', bs)) != 0) {
            return rc;
        }
        uint8_t type = (c == 'n' || c == 'N')   ? SQL_TK_STRING
                       : (c == 'x' || c == 'X') ? SQL_TK_HEX
                                                : SQL_TK_BIT;
        *out = make(type, s, lx->pos - s);
        out->flags = type == SQL_TK_STRING ? SQL_TKF_NATIONAL : SQL_TKF_QUOTED;
        out->voff = (uint32_t)(s + 2);
        out->vlen = (uint32_t)(lx->pos - s - 3);
        return 0;
    }
    if (is_digit(c) || (c == '.' && left >= 2 && is_digit((unsigned char)p[s + 1]))) {
        *out = lex_number(lx);
        return 0;
    }
    if (is_ident_char(c)) {
        size_t i = s;
        while (i < lx->len && is_ident_char((unsigned char)p[i])) {
            i++;
        }
        lx->pos = i;
        *out = make(SQL_TK_IDENT, s, i - s);
        return 0;
    }
    if (c == '\'' || (c == '"' && !(lx->mode & SQL_MODE_ANSI_QUOTES))) {
        if ((rc = skip_quoted(lx, (char)c, !(lx->mode & SQL_MODE_NO_BACKSLASH_ESCAPES))) != 0) {
            return rc;
        }
        *out = make(SQL_TK_STRING, s, lx->pos - s);
        out->flags = c == '"' ? SQL_TKF_DQUOTE : 0;
        out->voff = (uint32_t)(s + 1);
        out->vlen = (uint32_t)(lx->pos - s - 2);
        return 0;
    }
    if (c == '`' || c == '"') {
        if ((rc = skip_quoted(lx, (char)c, 0)) != 0) {
            return rc;
        }
        *out = make(SQL_TK_QIDENT, s, lx->pos - s);
        out->flags = c == '"' ? SQL_TKF_DQUOTE : 0;
        out->voff = (uint32_t)(s + 1);
        out->vlen = (uint32_t)(lx->pos - s - 2);
        return 0;
    }
    if (c == '@') {
        if (left >= 2 && p[s + 1] == '@') {
            size_t i = s + 2;
            uint8_t flags = 0;
            static const struct {
                const char *w;
                uint8_t f;
            } scopes[] = {{"global.", SQL_TKF_GLOBAL},
                          {"session.", SQL_TKF_SESSION},
                          {"local.", SQL_TKF_SESSION}};
            for (size_t k = 0; k < sizeof(scopes) / sizeof(scopes[0]); k++) {
                size_t wl = strlen(scopes[k].w);
                if (lx->len - i >= wl && strncasecmp(p + i, scopes[k].w, wl) == 0) {
                    flags = scopes[k].f;
                    i += wl;
                    break;
                }
            }
            size_t v = i;
            if (i < lx->len && p[i] == '`') {
                lx->pos = i;
                if ((rc = skip_quoted(lx, '`', 0)) != 0) {
                    return rc;
                }
                *out = make(SQL_TK_SYSVAR, s, lx->pos - s);
                out->voff = (uint32_t)(v + 1);
                out->vlen = (uint32_t)(lx->pos - v - 2);
                out->flags = flags | SQL_TKF_QUOTED;
                return 0;
            }
            while (i < lx->len && is_ident_char((unsigned char)p[i])) {
                i++;
            }
            if (i == v) {
                return parse_error(lx, s, "a system variable needs a name");
            }
            lx->pos = i;
            *out = make(SQL_TK_SYSVAR, s, i - s);
            out->voff = (uint32_t)v;
            out->vlen = (uint32_t)(i - v);
            out->flags = flags;
            return 0;
        }
        size_t i = s + 1;
        if (i < lx->len && (p[i] == '\'' || p[i] == '"' || p[i] == '`')) {
            lx->pos = i;
            if ((rc = skip_quoted(lx, p[i], p[i] != '`')) != 0) {
                return rc;
            }
            *out = make(SQL_TK_USERVAR, s, lx->pos - s);
            out->voff = (uint32_t)(i + 1);
            out->vlen = (uint32_t)(lx->pos - i - 2);
            out->flags = SQL_TKF_QUOTED;
            return 0;
        }
        while (i < lx->len && (is_ident_char((unsigned char)p[i]) || p[i] == '.')) {
            i++;
        }
        lx->pos = i;
        *out = make(SQL_TK_USERVAR, s, i - s);
        out->voff = (uint32_t)(s + 1);
        out->vlen = (uint32_t)(i - s - 1);
        return 0;
    }
    lx->pos = s + 1;
    switch (c) {
    case '(':
        *out = make(SQL_TK_LPAREN, s, 1);
        return 0;
    case ')':
        *out = make(SQL_TK_RPAREN, s, 1);
        return 0;
    case ',':
        *out = make(SQL_TK_COMMA, s, 1);
        return 0;
    case '.':
        *out = make(SQL_TK_DOT, s, 1);
        return 0;
    case ';':
        *out = make(SQL_TK_SEMI, s, 1);
        return 0;
    case '?':
        *out = make(SQL_TK_PARAM, s, 1);
        return 0;
    default:
        break;
    }
    for (size_t k = 0; k < sizeof(ops3) / sizeof(ops3[0]); k++) {
        if (left >= 3 && memcmp(p + s, ops3[k], 3) == 0) {
            lx->pos = s + 3;
            *out = make(SQL_TK_OP, s, 3);
            return 0;
        }
    }
    for (size_t k = 0; k < sizeof(ops2) / sizeof(ops2[0]); k++) {
        if (left >= 2 && memcmp(p + s, ops2[k], 2) == 0) {
            lx->pos = s + 2;
            *out = make(SQL_TK_OP, s, 2);
            return 0;
        }
    }
    *out = make(SQL_TK_OP, s, 1);
    return 0;
}

int sql_lex(const char *src, size_t len, unsigned mode, sql_tokens *out, cm_err *err)
{
    if (len >= UINT32_MAX) {
        return cm_err_set(err, CM_E_UNSUPPORTED, "statement text too long");
    }
    lexer lx = {src, len, 0, mode, 0, err};
    for (;;) {
        int rc = skip_blank(&lx);
        if (rc != 0) {
            return rc;
        }
        if (lx.pos >= lx.len) {
            return 0;
        }
        sql_token t = {0, 0, 0, 0, 0, 0};
        rc = lex_one(&lx, &t);
        if (rc != 0) {
            return rc;
        }
        rc = push(out, t);
        if (rc == CM_E_UNSUPPORTED) {
            return cm_err_set(err, rc, "statement has more than %u tokens", SQL_LEX_TOKENS_MAX);
        }
        if (rc != 0) {
            return cm_err_set(err, rc, "out of memory lexing a statement");
        }
    }
}

int sql_tok_is(const char *src, const sql_token *t, const char *kw)
{
    if (t->type != SQL_TK_IDENT) {
        return 0;
    }
    size_t n = strlen(kw);
    return t->len == n && strncasecmp(src + t->off, kw, n) == 0;
}

int sql_tok_string(const char *src, const sql_token *t, unsigned mode, cm_buf *out)
{
    const char *p = src + t->voff;
    size_t n = t->vlen;
    char q = src[t->voff - 1];
    int bs = !(mode & SQL_MODE_NO_BACKSLASH_ESCAPES);
    size_t i = 0;
    int rc = cm_buf_reserve(out, n);
    if (rc != 0) {
        return rc;
    }
    while (i < n) {
        size_t j = i;
        while (j < n && p[j] != q && !(bs && p[j] == '\\')) {
            j++;
        }
        if ((rc = cm_buf_append(out, p + i, j - i)) != 0) {
            return rc;
        }
        if (j >= n) {
            break;
        }
        if (p[j] == q) { /* doubled quote */
            rc = cm_buf_append_u8(out, (uint8_t)q);
            i = j + 2;
        } else { /* backslash escape */
            char e = j + 1 < n ? p[j + 1] : '\\';
            char v;
            switch (e) {
            case '0':
                v = '\0';
                break;
            case 'b':
                v = '\b';
                break;
            case 'n':
                v = '\n';
                break;
            case 'r':
                v = '\r';
                break;
            case 't':
                v = '\t';
                break;
            case 'Z':
                v = '\032';
                break;
            case '%':
            case '_': /* kept with their backslash, for LIKE */
                rc = cm_buf_append_u8(out, '\\');
                v = e;
                break;
            default:
                v = e;
                break;
            }
            if (rc == 0) {
                rc = cm_buf_append_u8(out, (uint8_t)v);
            }
            i = j + 2;
        }
        if (rc != 0) {
            return rc;
        }
    }
    return 0;
}

int sql_tok_name(const char *src, const sql_token *t, cm_buf *out)
{
    const char *p = src + t->voff;
    size_t n = t->vlen;
    if (t->type == SQL_TK_IDENT || !(t->type == SQL_TK_QIDENT || (t->flags & SQL_TKF_QUOTED))) {
        return cm_buf_append(out, p, n);
    }
    char q = src[t->voff - 1];
    for (size_t i = 0; i < n; i++) {
        int rc = cm_buf_append_u8(out, (uint8_t)p[i]);
        if (rc != 0) {
            return rc;
        }
        if (p[i] == q && i + 1 < n && p[i + 1] == q) {
            i++;
        }
    }
    return 0;
}
