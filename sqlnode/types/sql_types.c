/*
 * sql_types.c — MySQL column type declarations: parsing (CREATE TABLE / ALTER TABLE column
 * types), formatting back as SHOW CREATE TABLE prints them, the SQLite declaration of a vtab
 * column, and result-set metadata. Value conversions live in sql_type_store.c and
 * sql_type_load.c.
 *
 * The parser is driven by a table of type words (name → kind, wire type), then reads the kind's
 * arguments and trailing attributes. Limits and error numbers are MySQL 8.0's with utf8mb4 as
 * the text charset.
 */
#include "sql_types.h"

#include "sql_charset.h"
#include "sql_my_const.h"
#include "sql_types_int.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Kinds of type words; several words share one (INT/INTEGER/INT4). */
typedef enum kind {
    K_INT,
    K_BOOL,
    K_SERIAL,
    K_DECIMAL,
    K_FLOAT,
    K_DOUBLE,
    K_BIT,
    K_CHAR,
    K_VARCHAR,
    K_BINARY,
    K_VARBINARY,
    K_TEXT,
    K_BLOB,
    K_LONG,
    K_NATIONAL,
    K_DATE,
    K_TIME,
    K_DATETIME,
    K_TIMESTAMP,
    K_YEAR,
    K_ENUM,
    K_SET,
    K_JSON,
} kind;

typedef struct type_word {
    const char *name;
    uint8_t kind;
    uint8_t mysql_type; /* for K_INT/K_TEXT/K_BLOB: which one */
    uint8_t national;   /* NCHAR, NVARCHAR: the national charset (utf8mb3) */
} type_word;

static const type_word type_words[] = {
    {"TINYINT", K_INT, SQL_TYPE_TINY, 0},
    {"INT1", K_INT, SQL_TYPE_TINY, 0},
    {"SMALLINT", K_INT, SQL_TYPE_SHORT, 0},
    {"INT2", K_INT, SQL_TYPE_SHORT, 0},
    {"MEDIUMINT", K_INT, SQL_TYPE_INT24, 0},
    {"MIDDLEINT", K_INT, SQL_TYPE_INT24, 0},
    {"INT3", K_INT, SQL_TYPE_INT24, 0},
    {"INT", K_INT, SQL_TYPE_LONG, 0},
    {"INTEGER", K_INT, SQL_TYPE_LONG, 0},
    {"INT4", K_INT, SQL_TYPE_LONG, 0},
    {"BIGINT", K_INT, SQL_TYPE_LONGLONG, 0},
    {"INT8", K_INT, SQL_TYPE_LONGLONG, 0},
    {"BOOL", K_BOOL, SQL_TYPE_TINY, 0},
    {"BOOLEAN", K_BOOL, SQL_TYPE_TINY, 0},
    {"SERIAL", K_SERIAL, SQL_TYPE_LONGLONG, 0},
    {"DECIMAL", K_DECIMAL, SQL_TYPE_NEWDECIMAL, 0},
    {"NUMERIC", K_DECIMAL, SQL_TYPE_NEWDECIMAL, 0},
    {"DEC", K_DECIMAL, SQL_TYPE_NEWDECIMAL, 0},
    {"FIXED", K_DECIMAL, SQL_TYPE_NEWDECIMAL, 0},
    {"FLOAT", K_FLOAT, SQL_TYPE_FLOAT, 0},
    {"FLOAT4", K_FLOAT, SQL_TYPE_FLOAT, 0},
    {"DOUBLE", K_DOUBLE, SQL_TYPE_DOUBLE, 0},
    {"FLOAT8", K_DOUBLE, SQL_TYPE_DOUBLE, 0},
    {"REAL", K_DOUBLE, SQL_TYPE_DOUBLE, 0},
    {"BIT", K_BIT, SQL_TYPE_BIT, 0},
    {"CHAR", K_CHAR, SQL_TYPE_STRING, 0},
    {"CHARACTER", K_CHAR, SQL_TYPE_STRING, 0},
    {"NCHAR", K_CHAR, SQL_TYPE_STRING, 1},
    {"VARCHAR", K_VARCHAR, SQL_TYPE_VARCHAR, 0},
    {"VARCHARACTER", K_VARCHAR, SQL_TYPE_VARCHAR, 0},
    {"NVARCHAR", K_VARCHAR, SQL_TYPE_VARCHAR, 1},
    {"BINARY", K_BINARY, SQL_TYPE_STRING, 0},
    {"VARBINARY", K_VARBINARY, SQL_TYPE_VARCHAR, 0},
    {"TINYTEXT", K_TEXT, SQL_TYPE_TINY_BLOB, 0},
    {"TEXT", K_TEXT, SQL_TYPE_BLOB, 0},
    {"MEDIUMTEXT", K_TEXT, SQL_TYPE_MEDIUM_BLOB, 0},
    {"LONGTEXT", K_TEXT, SQL_TYPE_LONG_BLOB, 0},
    {"TINYBLOB", K_BLOB, SQL_TYPE_TINY_BLOB, 0},
    {"BLOB", K_BLOB, SQL_TYPE_BLOB, 0},
    {"MEDIUMBLOB", K_BLOB, SQL_TYPE_MEDIUM_BLOB, 0},
    {"LONGBLOB", K_BLOB, SQL_TYPE_LONG_BLOB, 0},
    {"LONG", K_LONG, SQL_TYPE_MEDIUM_BLOB, 0},
    {"NATIONAL", K_NATIONAL, SQL_TYPE_STRING, 1},
    {"DATE", K_DATE, SQL_TYPE_DATE, 0},
    {"TIME", K_TIME, SQL_TYPE_TIME, 0},
    {"DATETIME", K_DATETIME, SQL_TYPE_DATETIME, 0},
    {"TIMESTAMP", K_TIMESTAMP, SQL_TYPE_TIMESTAMP, 0},
    {"YEAR", K_YEAR, SQL_TYPE_YEAR, 0},
    {"ENUM", K_ENUM, SQL_TYPE_ENUM, 0},
    {"SET", K_SET, SQL_TYPE_SET, 0},
    {"JSON", K_JSON, SQL_TYPE_JSON, 0},
};

#define NWORDS (sizeof(type_words) / sizeof(type_words[0]))

/* Parser state over the token array. */
typedef struct tparser {
    const char *src;
    const sql_token *t;
    uint32_t n;
    uint32_t pos;
    const char *col;
    unsigned mode;
    cm_err *err;
} tparser;

static const char *colname(const tparser *p)
{
    return p->col != NULL ? p->col : "";
}

static const sql_token *peek(const tparser *p)
{
    return p->pos < p->n ? &p->t[p->pos] : NULL;
}

static bool peek_word(const tparser *p, const char *kw)
{
    const sql_token *k = peek(p);
    return k != NULL && k->type == SQL_TK_IDENT && sql_tok_is(p->src, k, kw);
}

static bool eat_word(tparser *p, const char *kw)
{
    if (peek_word(p, kw)) {
        p->pos++;
        return true;
    }
    return false;
}

static bool eat_tk(tparser *p, sql_tk type)
{
    const sql_token *k = peek(p);
    if (k != NULL && k->type == type) {
        p->pos++;
        return true;
    }
    return false;
}

/* MySQL's 1064 message, pointing at the current token. The source is not NUL-terminated in
 * general: the text quoted is bounded by the last token's end. */
static int syntax_error(tparser *p)
{
    const sql_token *k = peek(p);
    const char *near = "";
    size_t len = 0;
    unsigned line = 1;
    if (k != NULL) {
        const sql_token *last = &p->t[p->n - 1];
        size_t avail = (size_t)(last->off + last->len - k->off);
        near = p->src + k->off;
        len = avail < 80 ? avail : 80;
        for (uint32_t i = 0; i < k->off; i++) {
            line += p->src[i] == '\n';
        }
    }
    return cm_err_set(p->err, CM_E_PARSE,
                      "You have an error in your SQL syntax; check the manual that corresponds to "
                      "your MySQL server version for the right syntax to use near '%.*s' at line "
                      "%u",
                      (int)len, near, line);
}

/* An unsigned integer token; values beyond 2^32 saturate (every limit is far below). */
static int read_number(tparser *p, uint64_t *v)
{
    const sql_token *k = peek(p);
    if (k == NULL || k->type != SQL_TK_INT) {
        return syntax_error(p);
    }
    uint64_t x = 0;
    for (uint32_t i = 0; i < k->len; i++) {
        char c = p->src[k->off + i];
        if (c < '0' || c > '9') {
            return syntax_error(p);
        }
        x = x * 10 + (uint64_t)(c - '0');
        if (x > UINT32_MAX) {
            x = (uint64_t)UINT32_MAX + 1;
        }
    }
    p->pos++;
    *v = x;
    return 0;
}

/* "(M)" when present: *given says whether it was. */
static int opt_len(tparser *p, uint64_t *m, bool *given)
{
    *given = false;
    if (!eat_tk(p, SQL_TK_LPAREN)) {
        return 0;
    }
    int rc = read_number(p, m);
    if (rc != 0) {
        return rc;
    }
    if (!eat_tk(p, SQL_TK_RPAREN)) {
        return syntax_error(p);
    }
    *given = true;
    return 0;
}

/* "(M)" or "(M,D)" when present; *d_given tells the second form. */
static int opt_len_dec(tparser *p, uint64_t *m, uint64_t *d, bool *given, bool *d_given)
{
    *given = false;
    *d_given = false;
    if (!eat_tk(p, SQL_TK_LPAREN)) {
        return 0;
    }
    int rc = read_number(p, m);
    if (rc != 0) {
        return rc;
    }
    if (eat_tk(p, SQL_TK_COMMA)) {
        if ((rc = read_number(p, d)) != 0) {
            return rc;
        }
        *d_given = true;
    }
    if (!eat_tk(p, SQL_TK_RPAREN)) {
        return syntax_error(p);
    }
    *given = true;
    return 0;
}

static const type_word *find_word(const char *src, const sql_token *k)
{
    if (k->type != SQL_TK_IDENT) {
        return NULL;
    }
    for (size_t i = 0; i < NWORDS; i++) {
        if (sql_tok_is(src, k, type_words[i].name)) {
            return &type_words[i];
        }
    }
    return NULL;
}

static uint32_t int_default_width(uint8_t mysql_type, bool is_unsigned)
{
    switch (mysql_type) {
    case SQL_TYPE_TINY:
        return is_unsigned ? 3 : 4;
    case SQL_TYPE_SHORT:
        return is_unsigned ? 5 : 6;
    case SQL_TYPE_INT24:
        return is_unsigned ? 8 : 9;
    case SQL_TYPE_LONG:
        return is_unsigned ? 10 : 11;
    default:
        return 20;
    }
}

static bool is_numeric_kind(int k)
{
    return k == K_INT || k == K_BOOL || k == K_SERIAL || k == K_DECIMAL || k == K_FLOAT ||
           k == K_DOUBLE;
}

static bool is_text_kind(int k)
{
    return k == K_CHAR || k == K_VARCHAR || k == K_TEXT || k == K_ENUM || k == K_SET;
}

/* ---- ENUM / SET members ---- */

static void members_free(char **m, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        free(m[i]);
    }
    free(m);
}

static int member_dup_error(tparser *p, const char *what, const char *m)
{
    return cm_err_set(p->err, CM_E_DUPLICATED_VALUE_IN_TYPE,
                      "Column '%s' has duplicated value '%.64s' in %s", colname(p), m, what);
}

/* ('a', 'b', …): trailing spaces of each member are dropped (MySQL does), duplicates refused
 * (members compare as utf8mb4_bin, PAD SPACE — equal once trailing spaces are gone). */
static int parse_members(tparser *p, bool is_set, sql_coltype *out)
{
    const char *what = is_set ? "SET" : "ENUM";
    uint32_t limit = is_set ? SQL_TYPE_SET_MAX : CM_ENUM_MAX;
    if (!eat_tk(p, SQL_TK_LPAREN)) {
        return syntax_error(p);
    }
    char **m = NULL;
    uint32_t n = 0, cap = 0;
    cm_buf b = CM_BUF_INIT;
    int rc = 0;
    for (;;) {
        const sql_token *k = peek(p);
        if (k == NULL || k->type != SQL_TK_STRING) {
            rc = syntax_error(p);
            goto fail;
        }
        cm_buf_reset(&b);
        if ((rc = sql_tok_string(p->src, k, p->mode, &b)) != 0) {
            goto fail;
        }
        p->pos++;
        while (b.len > 0 && b.ptr[b.len - 1] == ' ') {
            b.len--;
        }
        size_t nchars = 0;
        size_t valid = sql_utf8_valid_prefix(b.ptr, b.len, &nchars);
        if (valid != b.len || memchr(b.ptr, 0, b.len) != NULL) {
            rc = cm_err_set(p->err, CM_E_ILLEGAL_VALUE_FOR_TYPE,
                            "Invalid %s member for column '%s': not UTF-8 text", what, colname(p));
            goto fail;
        }
        if (nchars > SQL_TYPE_MEMBER_MAX) {
            rc = cm_err_set(p->err, CM_E_TOO_BIG_FIELDLENGTH,
                            "Too long enumeration/set value for column %s.", colname(p));
            goto fail;
        }
        if (is_set && memchr(b.ptr, ',', b.len) != NULL) {
            rc = cm_err_set(p->err, CM_E_ILLEGAL_VALUE_FOR_TYPE,
                            "Illegal set '%.*s' value found during parsing", (int)b.len,
                            (const char *)b.ptr);
            goto fail;
        }
        if (n >= limit) {
            rc = cm_err_set(p->err, CM_E_TOO_BIG_SET, "Too many strings for column %s and %s",
                            colname(p), what);
            goto fail;
        }
        for (uint32_t i = 0; i < n; i++) {
            if (strlen(m[i]) == b.len && memcmp(m[i], b.ptr, b.len) == 0) {
                cm_buf_terminate(&b);
                rc = member_dup_error(p, what, (const char *)b.ptr);
                goto fail;
            }
        }
        if (n == cap) {
            uint32_t ncap = cap ? cap * 2 : 8;
            char **nm = realloc(m, ncap * sizeof(*m));
            if (nm == NULL) {
                rc = cm_err_set(p->err, CM_E_NOMEM, "out of memory");
                goto fail;
            }
            m = nm;
            cap = ncap;
        }
        m[n] = malloc(b.len + 1);
        if (m[n] == NULL) {
            rc = cm_err_set(p->err, CM_E_NOMEM, "out of memory");
            goto fail;
        }
        if (b.len > 0) {
            memcpy(m[n], b.ptr, b.len);
        }
        m[n][b.len] = '\0';
        n++;
        if (eat_tk(p, SQL_TK_COMMA)) {
            continue;
        }
        if (eat_tk(p, SQL_TK_RPAREN)) {
            break;
        }
        rc = syntax_error(p);
        goto fail;
    }
    cm_buf_fini(&b);
    out->members = m;
    out->nmembers = (uint16_t)n;
    return 0;
fail:
    cm_buf_fini(&b);
    members_free(m, n);
    return rc;
}

/* ---- character sets ---- */

/* Reads a charset or collation name (ident, `ident` or 'string'). */
static int read_name(tparser *p, cm_buf *out)
{
    const sql_token *k = peek(p);
    int rc;
    if (k == NULL) {
        return syntax_error(p);
    }
    if (k->type == SQL_TK_IDENT || k->type == SQL_TK_QIDENT) {
        rc = sql_tok_name(p->src, k, out);
    } else if (k->type == SQL_TK_STRING) {
        rc = sql_tok_string(p->src, k, p->mode, out);
    } else {
        return syntax_error(p);
    }
    if (rc == 0) {
        p->pos++;
    }
    return rc;
}

/* What the string attributes said: the charset (default collation) and collation chosen. */
typedef struct cs_state {
    const sql_collation *charset; /* by CHARACTER SET; NULL: not given */
    const sql_collation *collate; /* by COLLATE; NULL: not given */
    bool bin_attr;                /* the BINARY attribute (the charset's _bin collation) */
} cs_state;

static int set_charset(tparser *p, cs_state *cs, const char *name, size_t len)
{
    const sql_collation *c = sql_charset_default(name, len);
    if (c == NULL) {
        return cm_err_set(p->err, CM_E_UNKNOWN_CHARSET, "Unknown character set: '%.*s'", (int)len,
                          name);
    }
    cs->charset = c;
    return 0;
}

static int parse_string_attrs(tparser *p, cs_state *cs)
{
    cm_buf name = CM_BUF_INIT;
    int rc = 0;
    for (;;) {
        cm_buf_reset(&name);
        if (eat_word(p, "CHARACTER") || eat_word(p, "CHAR")) {
            if (!eat_word(p, "SET")) {
                rc = syntax_error(p);
                break;
            }
        } else if (!eat_word(p, "CHARSET")) {
            if (eat_word(p, "COLLATE")) {
                if ((rc = read_name(p, &name)) != 0) {
                    break;
                }
                const sql_collation *c = sql_collation_by_name((const char *)name.ptr, name.len);
                if (c == NULL) {
                    rc = cm_err_set(p->err, CM_E_UNKNOWN_COLLATION, "Unknown collation: '%.*s'",
                                    (int)name.len, (const char *)name.ptr);
                    break;
                }
                cs->collate = c;
                continue;
            }
            if (eat_word(p, "BINARY")) {
                cs->bin_attr = true;
                continue;
            }
            if (eat_word(p, "ASCII")) {
                rc = set_charset(p, cs, "latin1", 6);
                if (rc != 0) {
                    break;
                }
                continue;
            }
            if (eat_word(p, "UNICODE")) {
                /* ucs2: Tessera stores every text as UTF-8, so it is taken as utf8mb4. */
                rc = set_charset(p, cs, "utf8mb4", 7);
                if (rc != 0) {
                    break;
                }
                continue;
            }
            if (eat_word(p, "BYTE")) {
                rc = set_charset(p, cs, "binary", 6);
                if (rc != 0) {
                    break;
                }
                continue;
            }
            break; /* not a string attribute: the type ends here */
        }
        if ((rc = read_name(p, &name)) != 0) {
            break;
        }
        if ((rc = set_charset(p, cs, (const char *)name.ptr, name.len)) != 0) {
            break;
        }
    }
    cm_buf_fini(&name);
    if (rc == 0 && cs->charset != NULL && cs->collate != NULL &&
        strcmp(cs->charset->charset, cs->collate->charset) != 0) {
        rc = cm_err_set(p->err, CM_E_COLLATION_CHARSET_MISMATCH,
                        "COLLATION '%s' is not valid for CHARACTER SET '%s'", cs->collate->name,
                        cs->charset->charset);
    }
    return rc;
}

static bool cs_is_binary(const cs_state *cs)
{
    const sql_collation *c = cs->collate != NULL ? cs->collate : cs->charset;
    return c != NULL && c->id == SQL_COLLATION_BINARY;
}

/* Turns a text type into its binary twin (CHARACTER SET binary). */
static void make_binary(sql_coltype *t, uint32_t chars)
{
    t->dtype = CM_DT_BYTES;
    t->collation = SQL_COLLATION_BINARY;
    if (t->mysql_type == SQL_TYPE_STRING || t->mysql_type == SQL_TYPE_VARCHAR) {
        t->length = chars;
    }
}

/* ---- the parser ---- */

static int too_long(tparser *p, uint64_t max)
{
    return cm_err_set(p->err, CM_E_TOO_BIG_FIELDLENGTH,
                      "Column length too big for column '%s' (max = %llu); use BLOB or TEXT "
                      "instead",
                      colname(p), (unsigned long long)max);
}

static int width_error(tparser *p, uint64_t max)
{
    return cm_err_set(p->err, CM_E_TOO_BIG_DISPLAYWIDTH,
                      "Display width out of range for column '%s' (max = %llu)", colname(p),
                      (unsigned long long)max);
}

static int precision_error(tparser *p, uint64_t v, unsigned max)
{
    return cm_err_set(p->err, CM_E_TOO_BIG_PRECISION,
                      "Too-big precision %llu specified for '%s'. Maximum is %u.",
                      (unsigned long long)v, colname(p), max);
}

static int scale_error(tparser *p, uint64_t v)
{
    return cm_err_set(p->err, CM_E_TOO_BIG_SCALE,
                      "Too big scale %llu specified for column '%s'. Maximum is %u.",
                      (unsigned long long)v, colname(p), (unsigned)CM_DECIMAL_FRAC_MAX);
}

static int m_d_error(tparser *p)
{
    return cm_err_set(p->err, CM_E_M_BIGGER_THAN_D,
                      "For float(M,D), double(M,D) or decimal(M,D), M must be >= D (column '%s').",
                      colname(p));
}

/* TEXT(M) / BLOB(M): the smallest kind that holds M characters (bytes for BLOB). */
static uint8_t lob_for_bytes(uint64_t bytes)
{
    if (bytes <= SQL_TYPE_TINYTEXT_MAX) {
        return SQL_TYPE_TINY_BLOB;
    }
    if (bytes <= SQL_TYPE_TEXT_MAX) {
        return SQL_TYPE_BLOB;
    }
    if (bytes <= SQL_TYPE_MEDIUMTEXT_MAX) {
        return SQL_TYPE_MEDIUM_BLOB;
    }
    return SQL_TYPE_LONG_BLOB;
}

static uint32_t lob_max(uint8_t mysql_type)
{
    switch (mysql_type) {
    case SQL_TYPE_TINY_BLOB:
        return SQL_TYPE_TINYTEXT_MAX;
    case SQL_TYPE_BLOB:
        return SQL_TYPE_TEXT_MAX;
    case SQL_TYPE_MEDIUM_BLOB:
        return SQL_TYPE_MEDIUMTEXT_MAX;
    default:
        return SQL_TYPE_LONGTEXT_MAX;
    }
}

/* Reads the arguments of numeric kinds. */
static int parse_numeric_args(tparser *p, int k, sql_coltype *o, bool *width_given)
{
    uint64_t m = 0, d = 0;
    bool given, d_given;
    int rc;
    *width_given = false;
    switch (k) {
    case K_INT:
        if ((rc = opt_len(p, &m, &given)) != 0) {
            return rc;
        }
        if (given && m > SQL_TYPE_WIDTH_MAX) {
            return width_error(p, SQL_TYPE_WIDTH_MAX);
        }
        if (given && m > 0) {
            o->length = (uint32_t)m;
            *width_given = true;
        }
        return 0;
    case K_DECIMAL:
        if ((rc = opt_len_dec(p, &m, &d, &given, &d_given)) != 0) {
            return rc;
        }
        o->precision = 10;
        o->decimals = 0;
        if (given) {
            if (m > CM_DECIMAL_DIGITS_MAX) {
                return precision_error(p, m, CM_DECIMAL_DIGITS_MAX);
            }
            if (d > CM_DECIMAL_FRAC_MAX) {
                return scale_error(p, d);
            }
            if (m < d) {
                return m_d_error(p);
            }
            /* DECIMAL(0) is taken as MySQL's default precision. */
            o->precision = (uint8_t)(m > 0 ? m : 10);
            o->decimals = (uint8_t)d;
        }
        return 0;
    case K_FLOAT:
    case K_DOUBLE:
        if ((rc = opt_len_dec(p, &m, &d, &given, &d_given)) != 0) {
            return rc;
        }
        if (given && !d_given) {
            if (k == K_DOUBLE) {
                p->pos -= 2; /* DOUBLE(p) is not MySQL syntax: point at the number */
                return syntax_error(p);
            }
            if (m > SQL_TYPE_FLOAT_P_MAX) {
                return cm_err_set(p->err, CM_E_WRONG_FIELD_SPEC,
                                  "Incorrect column specifier for column '%s'", colname(p));
            }
            if (m > 24) {
                o->mysql_type = SQL_TYPE_DOUBLE;
                o->dtype = CM_DT_FLOAT64;
            }
            given = false;
        }
        o->length = o->mysql_type == SQL_TYPE_FLOAT ? 12 : 22;
        o->decimals = SQL_TYPE_NOT_FIXED;
        if (given) {
            if (m > SQL_TYPE_WIDTH_MAX) {
                return width_error(p, SQL_TYPE_WIDTH_MAX);
            }
            if (d > CM_DECIMAL_FRAC_MAX) {
                return scale_error(p, d);
            }
            if (m < d) {
                return m_d_error(p);
            }
            o->length = (uint32_t)m;
            o->decimals = (uint8_t)d;
        }
        return 0;
    default:
        return 0;
    }
}

static int parse_numeric_attrs(tparser *p, sql_coltype *o)
{
    for (;;) {
        if (eat_word(p, "UNSIGNED")) {
            o->is_unsigned = 1;
        } else if (eat_word(p, "SIGNED")) {
            /* the default; MySQL accepts it */
        } else if (eat_word(p, "ZEROFILL")) {
            o->zerofill = 1;
            o->is_unsigned = 1;
        } else {
            return 0;
        }
    }
}

/* CHAR/VARCHAR/BINARY/VARBINARY/TEXT/BLOB arguments. */
static int parse_string_args(tparser *p, int k, sql_coltype *o)
{
    uint64_t m = 0;
    bool given;
    int rc = opt_len(p, &m, &given);
    if (rc != 0) {
        return rc;
    }
    switch (k) {
    case K_CHAR:
    case K_BINARY:
        if (!given) {
            m = 1;
        }
        if (m > SQL_TYPE_CHAR_MAX) {
            return too_long(p, SQL_TYPE_CHAR_MAX);
        }
        o->length = (uint32_t)m;
        o->fixed = 1;
        return 0;
    case K_VARCHAR:
    case K_VARBINARY: {
        if (!given) {
            return syntax_error(p);
        }
        uint32_t max = k == K_VARCHAR ? SQL_TYPE_VARCHAR_MAX : SQL_TYPE_VARBINARY_MAX;
        if (m > max) {
            return too_long(p, max);
        }
        o->length = (uint32_t)m;
        return 0;
    }
    case K_TEXT:
    case K_BLOB:
        if (given) {
            uint64_t bytes = k == K_TEXT ? m * 4 : m;
            if (m > SQL_TYPE_LONGTEXT_MAX) {
                return too_long(p, SQL_TYPE_LONGTEXT_MAX);
            }
            o->mysql_type = lob_for_bytes(bytes);
        }
        o->length = lob_max(o->mysql_type);
        return 0;
    default:
        return 0;
    }
}

static int parse_fsp(tparser *p, sql_coltype *o)
{
    uint64_t m = 0;
    bool given;
    int rc = opt_len(p, &m, &given);
    if (rc != 0) {
        return rc;
    }
    if (given && m > CM_FSP_MAX) {
        return precision_error(p, m, CM_FSP_MAX);
    }
    o->decimals = (uint8_t)(given ? m : 0);
    return 0;
}

/* Reads the type word(s) and settles multi-word forms; *k is the kind and *w its table row. */
static int parse_type_words(tparser *p, int *k, sql_coltype *o, bool *national)
{
    const sql_token *tok = peek(p);
    const type_word *w = tok != NULL ? find_word(p->src, tok) : NULL;
    if (w == NULL) {
        return syntax_error(p);
    }
    p->pos++;
    *k = w->kind;
    o->mysql_type = w->mysql_type;
    *national = w->national;
    switch (w->kind) {
    case K_NATIONAL: /* NATIONAL CHAR|CHARACTER [VARYING] | NATIONAL VARCHAR */
        if (eat_word(p, "VARCHAR") || eat_word(p, "VARCHARACTER")) {
            *k = K_VARCHAR;
            o->mysql_type = SQL_TYPE_VARCHAR;
        } else if (eat_word(p, "CHAR") || eat_word(p, "CHARACTER")) {
            *k = eat_word(p, "VARYING") ? K_VARCHAR : K_CHAR;
            o->mysql_type = *k == K_VARCHAR ? SQL_TYPE_VARCHAR : SQL_TYPE_STRING;
        } else {
            return syntax_error(p);
        }
        return 0;
    case K_CHAR: /* CHAR VARYING, NCHAR VARYING, CHARACTER VARYING */
        if (eat_word(p, "VARYING")) {
            *k = K_VARCHAR;
            o->mysql_type = SQL_TYPE_VARCHAR;
        }
        return 0;
    case K_LONG: /* LONG, LONG VARCHAR, LONG VARBINARY, LONG CHAR VARYING: MEDIUMTEXT/BLOB */
        if (eat_word(p, "VARBINARY")) {
            *k = K_BLOB;
        } else {
            if (eat_word(p, "CHAR") && !eat_word(p, "VARYING")) {
                return syntax_error(p);
            }
            (void)eat_word(p, "VARCHAR");
            *k = K_TEXT;
        }
        o->mysql_type = SQL_TYPE_MEDIUM_BLOB;
        o->length = SQL_TYPE_MEDIUMTEXT_MAX;
        return 0;
    case K_DOUBLE:
        (void)eat_word(p, "PRECISION");
        return 0;
    default:
        return 0;
    }
}

static void set_storage(int k, sql_coltype *o)
{
    switch (k) {
    case K_INT:
    case K_BOOL:
    case K_SERIAL:
        o->dtype = CM_DT_INT64;
        break;
    case K_DECIMAL:
        o->dtype = CM_DT_DECIMAL;
        break;
    case K_FLOAT:
        o->dtype = CM_DT_FLOAT32;
        break;
    case K_DOUBLE:
        o->dtype = CM_DT_FLOAT64;
        break;
    case K_BIT:
        o->dtype = CM_DT_BIT;
        break;
    case K_CHAR:
    case K_VARCHAR:
    case K_TEXT:
        o->dtype = CM_DT_STRING;
        o->collation = SQL_COLLATION_DEFAULT_ID;
        break;
    case K_BINARY:
    case K_VARBINARY:
    case K_BLOB:
        o->dtype = CM_DT_BYTES;
        break;
    case K_DATE:
        o->dtype = CM_DT_DATE;
        break;
    case K_TIME:
        o->dtype = CM_DT_TIME;
        break;
    case K_DATETIME:
        o->dtype = CM_DT_DATETIME;
        break;
    case K_TIMESTAMP:
        o->dtype = CM_DT_TIMESTAMP;
        break;
    case K_YEAR:
        o->dtype = CM_DT_YEAR;
        break;
    case K_ENUM:
        o->dtype = CM_DT_ENUM;
        o->collation = SQL_COLLATION_DEFAULT_ID;
        break;
    case K_SET:
        o->dtype = CM_DT_SET;
        o->collation = SQL_COLLATION_DEFAULT_ID;
        break;
    default:
        o->dtype = CM_DT_JSON;
        break;
    }
}

static int parse_args(tparser *p, int k, sql_coltype *o)
{
    uint64_t m = 0;
    bool given, width_given;
    int rc;
    switch (k) {
    case K_INT:
    case K_DECIMAL:
    case K_FLOAT:
    case K_DOUBLE:
        if ((rc = parse_numeric_args(p, k, o, &width_given)) != 0) {
            return rc;
        }
        if ((rc = parse_numeric_attrs(p, o)) != 0) {
            return rc;
        }
        if (k == K_INT && !width_given) {
            o->length = int_default_width(o->mysql_type, o->is_unsigned);
        }
        return 0;
    case K_BOOL:
        o->length = 1;
        return 0;
    case K_SERIAL:
        o->is_unsigned = 1;
        o->dtype = CM_DT_UINT64;
        o->length = 20;
        return 0;
    case K_BIT:
        if ((rc = opt_len(p, &m, &given)) != 0) {
            return rc;
        }
        if (!given) {
            m = 1;
        }
        if (m < 1 || m > SQL_TYPE_BIT_MAX) {
            return width_error(p, SQL_TYPE_BIT_MAX);
        }
        o->length = (uint32_t)m;
        o->is_unsigned = 1;
        return 0;
    case K_CHAR:
    case K_VARCHAR:
    case K_BINARY:
    case K_VARBINARY:
    case K_TEXT:
    case K_BLOB:
    case K_LONG:
        return k == K_LONG ? 0 : parse_string_args(p, k, o);
    case K_TIME:
    case K_DATETIME:
    case K_TIMESTAMP:
        return parse_fsp(p, o);
    case K_YEAR:
        if ((rc = opt_len(p, &m, &given)) != 0) {
            return rc;
        }
        if (given && m != 4) {
            return cm_err_set(p->err, CM_E_INVALID_YEAR_COLUMN_LENGTH,
                              "Supports only YEAR or YEAR(4) column.");
        }
        o->length = 4;
        o->is_unsigned = 1;
        o->zerofill = 1;
        return 0;
    case K_DATE:
        o->length = 10;
        return 0;
    case K_ENUM:
    case K_SET:
        return parse_members(p, k == K_SET, o);
    default:
        return 0;
    }
}

int sql_type_parse_named(const char *src, const sql_token *t, uint32_t n, uint32_t *pos,
                         const char *col_name, unsigned lex_mode, sql_coltype *out, cm_err *err)
{
    tparser p = {src, t, n, *pos, col_name, lex_mode, err};
    sql_coltype o;
    memset(&o, 0, sizeof(o));
    o.collation = SQL_COLLATION_BINARY;
    int k = 0;
    bool national = false;
    int rc = parse_type_words(&p, &k, &o, &national);
    if (rc != 0) {
        return rc;
    }
    set_storage(k, &o);
    if ((rc = parse_args(&p, k, &o)) != 0) {
        sql_coltype_free(&o);
        return rc;
    }
    if (is_numeric_kind(k) && o.is_unsigned && o.dtype == CM_DT_INT64) {
        o.dtype = CM_DT_UINT64;
    }
    if (is_text_kind(k)) {
        cs_state cs = {NULL, NULL, false};
        if (national) {
            cs.charset = sql_charset_default("utf8mb3", 7);
        }
        if ((rc = parse_string_attrs(&p, &cs)) != 0) {
            sql_coltype_free(&o);
            return rc;
        }
        if (cs_is_binary(&cs)) {
            if (k == K_ENUM || k == K_SET) {
                o.collation = SQL_COLLATION_BINARY;
            } else {
                make_binary(&o, o.length);
            }
        }
    }
    *out = o;
    *pos = p.pos;
    return 0;
}

int sql_type_parse(const char *src, const sql_token *t, uint32_t n, uint32_t *pos, sql_coltype *out,
                   cm_err *err)
{
    return sql_type_parse_named(src, t, n, pos, NULL, 0, out, err);
}

int sql_type_apply_collate(sql_coltype *t, const char *name, size_t len, cm_err *err)
{
    const sql_collation *c = sql_collation_by_name(name, len);
    if (c == NULL) {
        return cm_err_set(err, CM_E_UNKNOWN_COLLATION, "Unknown collation: '%.*s'", (int)len, name);
    }
    bool text = t->dtype == CM_DT_STRING || t->dtype == CM_DT_ENUM || t->dtype == CM_DT_SET;
    if (!text) {
        if (t->dtype == CM_DT_BYTES && c->id == SQL_COLLATION_BINARY) {
            return 0;
        }
        return cm_err_set(err, CM_E_COLLATION_CHARSET_MISMATCH,
                          "COLLATION '%s' is not valid for CHARACTER SET 'binary'", c->name);
    }
    if (c->id == SQL_COLLATION_BINARY) {
        if (t->dtype == CM_DT_STRING) {
            make_binary(t, t->length);
        } else {
            t->collation = SQL_COLLATION_BINARY;
        }
    }
    return 0;
}

void sql_coltype_free(sql_coltype *t)
{
    if (t == NULL) {
        return;
    }
    members_free(t->members, t->nmembers);
    t->members = NULL;
    t->nmembers = 0;
}

int sql_coltype_copy(sql_coltype *dst, const sql_coltype *src, cm_err *err)
{
    sql_coltype o = *src;
    o.members = NULL;
    o.nmembers = 0;
    if (src->nmembers > 0) {
        o.members = calloc(src->nmembers, sizeof(char *));
        if (o.members == NULL) {
            return cm_err_set(err, CM_E_NOMEM, "out of memory");
        }
        for (uint32_t i = 0; i < src->nmembers; i++) {
            o.members[i] = strdup(src->members[i]);
            if (o.members[i] == NULL) {
                members_free(o.members, i);
                return cm_err_set(err, CM_E_NOMEM, "out of memory");
            }
        }
        o.nmembers = src->nmembers;
    }
    *dst = o;
    return 0;
}

/* ---- format ---- */

static const char *int_name(uint8_t mysql_type)
{
    switch (mysql_type) {
    case SQL_TYPE_TINY:
        return "tinyint";
    case SQL_TYPE_SHORT:
        return "smallint";
    case SQL_TYPE_INT24:
        return "mediumint";
    case SQL_TYPE_LONG:
        return "int";
    default:
        return "bigint";
    }
}

static const char *lob_name(uint8_t mysql_type, bool text)
{
    switch (mysql_type) {
    case SQL_TYPE_TINY_BLOB:
        return text ? "tinytext" : "tinyblob";
    case SQL_TYPE_BLOB:
        return text ? "text" : "blob";
    case SQL_TYPE_MEDIUM_BLOB:
        return text ? "mediumtext" : "mediumblob";
    default:
        return text ? "longtext" : "longblob";
    }
}

/* 'member' with ' doubled and \ escaped, as SHOW CREATE TABLE quotes. */
static int append_quoted(cm_buf *out, const char *s)
{
    int rc = cm_buf_append_u8(out, '\'');
    for (; rc == 0 && *s != '\0'; s++) {
        if (*s == '\'') {
            rc = cm_buf_append(out, "''", 2);
        } else if (*s == '\\') {
            rc = cm_buf_append(out, "\\\\", 2);
        } else {
            rc = cm_buf_append_u8(out, (uint8_t)*s);
        }
    }
    return rc != 0 ? rc : cm_buf_append_u8(out, '\'');
}

static int format_sign(const sql_coltype *t, cm_buf *out)
{
    int rc = 0;
    if (t->is_unsigned) {
        rc = cm_buf_printf(out, " unsigned");
    }
    if (rc == 0 && t->zerofill) {
        rc = cm_buf_printf(out, " zerofill");
    }
    return rc;
}

static int format_fsp(const char *name, const sql_coltype *t, cm_buf *out)
{
    if (t->decimals > 0) {
        return cm_buf_printf(out, "%s(%u)", name, t->decimals);
    }
    return cm_buf_printf(out, "%s", name);
}

int sql_type_format(const sql_coltype *t, cm_buf *out)
{
    int rc;
    bool text = t->dtype == CM_DT_STRING;
    switch (t->mysql_type) {
    case SQL_TYPE_TINY:
    case SQL_TYPE_SHORT:
    case SQL_TYPE_INT24:
    case SQL_TYPE_LONG:
    case SQL_TYPE_LONGLONG:
        /* MySQL 8.0.19+ shows a display width only with ZEROFILL, and tinyint(1) (booleans). */
        if (t->zerofill || (t->mysql_type == SQL_TYPE_TINY && t->length == 1)) {
            rc = cm_buf_printf(out, "%s(%u)", int_name(t->mysql_type), t->length);
        } else {
            rc = cm_buf_printf(out, "%s", int_name(t->mysql_type));
        }
        return rc != 0 ? rc : format_sign(t, out);
    case SQL_TYPE_NEWDECIMAL:
        rc = cm_buf_printf(out, "decimal(%u,%u)", t->precision, t->decimals);
        return rc != 0 ? rc : format_sign(t, out);
    case SQL_TYPE_FLOAT:
    case SQL_TYPE_DOUBLE: {
        const char *name = t->mysql_type == SQL_TYPE_FLOAT ? "float" : "double";
        if (t->decimals != SQL_TYPE_NOT_FIXED) {
            rc = cm_buf_printf(out, "%s(%u,%u)", name, t->length, t->decimals);
        } else {
            rc = cm_buf_printf(out, "%s", name);
        }
        return rc != 0 ? rc : format_sign(t, out);
    }
    case SQL_TYPE_BIT:
        return cm_buf_printf(out, "bit(%u)", t->length);
    case SQL_TYPE_STRING:
        return cm_buf_printf(out, "%s(%u)", text ? "char" : "binary", t->length);
    case SQL_TYPE_VARCHAR:
        return cm_buf_printf(out, "%s(%u)", text ? "varchar" : "varbinary", t->length);
    case SQL_TYPE_TINY_BLOB:
    case SQL_TYPE_BLOB:
    case SQL_TYPE_MEDIUM_BLOB:
    case SQL_TYPE_LONG_BLOB:
        return cm_buf_printf(out, "%s", lob_name(t->mysql_type, text));
    case SQL_TYPE_DATE:
        return cm_buf_printf(out, "date");
    case SQL_TYPE_TIME:
        return format_fsp("time", t, out);
    case SQL_TYPE_DATETIME:
        return format_fsp("datetime", t, out);
    case SQL_TYPE_TIMESTAMP:
        return format_fsp("timestamp", t, out);
    case SQL_TYPE_YEAR:
        return cm_buf_printf(out, "year");
    case SQL_TYPE_ENUM:
    case SQL_TYPE_SET:
        rc = cm_buf_printf(out, "%s(", t->mysql_type == SQL_TYPE_ENUM ? "enum" : "set");
        for (uint32_t i = 0; rc == 0 && i < t->nmembers; i++) {
            if (i > 0) {
                rc = cm_buf_append_u8(out, ',');
            }
            if (rc == 0) {
                rc = append_quoted(out, t->members[i]);
            }
        }
        return rc != 0 ? rc : cm_buf_append_u8(out, ')');
    case SQL_TYPE_JSON:
        return cm_buf_printf(out, "json");
    default:
        return CM_E_INVALID;
    }
}

/* ---- SQLite declaration ---- */

const char *sql_type_sqlite_decl(const sql_coltype *t)
{
    switch (t->dtype) {
    case CM_DT_INT64:
    case CM_DT_UINT64:
    case CM_DT_YEAR:
        return "INTEGER";
    case CM_DT_FLOAT32:
    case CM_DT_FLOAT64:
        return "REAL";
    case CM_DT_DECIMAL:
        /* Values come back as exact text; NUMERIC makes SQLite compare them with numbers as
         * numbers (docs/sql-layer.md, "Types"). */
        return "NUMERIC";
    case CM_DT_BYTES:
    case CM_DT_BIT:
        return "BLOB";
    default:
        return "TEXT";
    }
}

const char *sql_type_sqlite_collation(const sql_coltype *t)
{
    return t->dtype == CM_DT_DECIMAL ? SQL_TYPE_DECIMAL_COLLATION : NULL;
}

static int parse_dec(const void *p, int n, cm_decimal *d)
{
    if (n <= 0 || n > 200) {
        return -1;
    }
    return cm_decimal_parse(cm_slice_make(p, (size_t)n), d, NULL, NULL);
}

int sql_type_decimal_collate(void *arg, int n1, const void *a, int n2, const void *b)
{
    (void)arg;
    cm_decimal x, y;
    bool xa = parse_dec(a, n1, &x) == 0;
    bool yb = parse_dec(b, n2, &y) == 0;
    if (xa && yb) {
        return cm_decimal_cmp(&x, &y);
    }
    if (xa != yb) {
        return xa ? -1 : 1;
    }
    size_t l1 = n1 > 0 ? (size_t)n1 : 0, l2 = n2 > 0 ? (size_t)n2 : 0;
    size_t l = l1 < l2 ? l1 : l2;
    int c = l > 0 ? memcmp(a, b, l) : 0;
    if (c != 0) {
        return c < 0 ? -1 : 1;
    }
    return l1 < l2 ? -1 : l1 > l2;
}

/* ---- result-set metadata ---- */

static uint8_t wire_type(const sql_coltype *t)
{
    switch (t->mysql_type) {
    case SQL_TYPE_VARCHAR:
        return SQL_TYPE_VAR_STRING;
    case SQL_TYPE_ENUM:
    case SQL_TYPE_SET:
        return SQL_TYPE_STRING;
    case SQL_TYPE_TINY_BLOB:
    case SQL_TYPE_MEDIUM_BLOB:
    case SQL_TYPE_LONG_BLOB:
        return SQL_TYPE_BLOB;
    default:
        return t->mysql_type;
    }
}

static uint32_t fsp_len(uint32_t base, unsigned fsp)
{
    return base + (fsp > 0 ? fsp + 1 : 0);
}

/* Longest member in characters (ENUM) or all members joined by commas (SET). */
static uint32_t members_chars(const sql_coltype *t, bool joined)
{
    uint64_t total = 0, longest = 0;
    for (uint32_t i = 0; i < t->nmembers; i++) {
        size_t chars = 0;
        (void)sql_utf8_valid_prefix((const uint8_t *)t->members[i], strlen(t->members[i]), &chars);
        total += chars + (i > 0);
        longest = chars > longest ? chars : longest;
    }
    uint64_t v = joined ? total : longest;
    return v > UINT32_MAX ? UINT32_MAX : (uint32_t)v;
}

static uint32_t sat_mul4(uint32_t v)
{
    uint64_t x = (uint64_t)v * 4;
    return x > UINT32_MAX ? UINT32_MAX : (uint32_t)x;
}

static uint32_t display_length(const sql_coltype *t)
{
    bool text = t->dtype == CM_DT_STRING || t->dtype == CM_DT_ENUM || t->dtype == CM_DT_SET;
    bool bin_coll = t->collation == SQL_COLLATION_BINARY;
    switch (t->mysql_type) {
    case SQL_TYPE_NEWDECIMAL:
        return (uint32_t)t->precision + (t->decimals > 0) + !t->is_unsigned;
    case SQL_TYPE_DATETIME:
    case SQL_TYPE_TIMESTAMP:
        return fsp_len(19, t->decimals);
    case SQL_TYPE_TIME:
        return fsp_len(10, t->decimals);
    case SQL_TYPE_DATE:
        return 10;
    case SQL_TYPE_YEAR:
        return 4;
    case SQL_TYPE_JSON:
        return UINT32_MAX;
    case SQL_TYPE_ENUM:
        return bin_coll ? members_chars(t, false) : sat_mul4(members_chars(t, false));
    case SQL_TYPE_SET:
        return bin_coll ? members_chars(t, true) : sat_mul4(members_chars(t, true));
    default:
        return text ? sat_mul4(t->length) : t->length;
    }
}

sql_column sql_type_column(const sql_coltype *t, const char *name, bool not_null,
                           uint16_t key_flags)
{
    sql_column c;
    memset(&c, 0, sizeof(c));
    c.name = name;
    c.name_len = name != NULL ? strlen(name) : 0;
    c.type = wire_type(t);
    c.length = display_length(t);
    c.charset = t->collation != 0 ? t->collation : SQL_COLLATION_BINARY;
    uint16_t f = key_flags;
    if (not_null) {
        f |= SQL_FLAG_NOT_NULL;
    }
    switch (t->dtype) {
    case CM_DT_INT64:
    case CM_DT_UINT64:
    case CM_DT_DECIMAL:
    case CM_DT_FLOAT32:
    case CM_DT_FLOAT64:
    case CM_DT_YEAR:
        f |= SQL_FLAG_NUM;
        break;
    case CM_DT_STRING:
    case CM_DT_BYTES:
    case CM_DT_JSON:
        if (t->mysql_type == SQL_TYPE_TINY_BLOB || t->mysql_type == SQL_TYPE_BLOB ||
            t->mysql_type == SQL_TYPE_MEDIUM_BLOB || t->mysql_type == SQL_TYPE_LONG_BLOB ||
            t->mysql_type == SQL_TYPE_JSON) {
            f |= SQL_FLAG_BLOB;
        }
        break;
    case CM_DT_ENUM:
        f |= SQL_FLAG_ENUM;
        break;
    case CM_DT_SET:
        f |= SQL_FLAG_SET;
        break;
    default:
        break;
    }
    if (t->is_unsigned) {
        f |= SQL_FLAG_UNSIGNED;
    }
    if (t->zerofill) {
        f |= SQL_FLAG_ZEROFILL;
    }
    /* BINARY: binary strings, JSON, the temporal types (collation binary) and text in a binary-
     * sorting collation — MySQL sets it for utf8mb4_bin, the only text collation here — but not
     * numbers. */
    bool binary_flag = t->dtype == CM_DT_BYTES || t->dtype == CM_DT_JSON ||
                       t->dtype == CM_DT_DATE || t->dtype == CM_DT_DATETIME ||
                       t->dtype == CM_DT_TIMESTAMP || t->dtype == CM_DT_TIME ||
                       t->dtype == CM_DT_STRING || t->dtype == CM_DT_ENUM || t->dtype == CM_DT_SET;
    if (binary_flag) {
        f |= SQL_FLAG_BINARY;
    }
    c.flags = f;
    switch (t->dtype) {
    case CM_DT_DECIMAL:
    case CM_DT_FLOAT32:
    case CM_DT_FLOAT64:
    case CM_DT_DATETIME:
    case CM_DT_TIMESTAMP:
    case CM_DT_TIME:
        c.decimals = t->decimals;
        break;
    default:
        c.decimals = 0;
        break;
    }
    return c;
}
