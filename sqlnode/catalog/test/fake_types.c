/*
 * fake_types.c — a small stand-in for sqlnode/types used by the catalog's unit tests only while
 * the types module is not on main: the integer, CHAR/VARCHAR/TEXT/BLOB, DATETIME/TIMESTAMP,
 * DECIMAL, DOUBLE, JSON and ENUM types with the store checks the catalog's default handling
 * needs (integer range, string length, integer syntax). Never linked into a product binary.
 */
#include "sql_my_const.h"
#include "sql_types.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int num_arg(const char *src, const sql_token *t, uint32_t n, uint32_t *pos, uint32_t *a,
                   uint32_t *b)
{
    *a = 0;
    *b = 0;
    if (*pos >= n || t[*pos].type != SQL_TK_LPAREN) {
        return 0;
    }
    (*pos)++;
    if (*pos >= n || t[*pos].type != SQL_TK_INT) {
        return CM_E_PARSE;
    }
    *a = (uint32_t)strtoul(src + t[*pos].off, NULL, 10);
    (*pos)++;
    if (*pos < n && t[*pos].type == SQL_TK_COMMA) {
        (*pos)++;
        if (*pos >= n || t[*pos].type != SQL_TK_INT) {
            return CM_E_PARSE;
        }
        *b = (uint32_t)strtoul(src + t[*pos].off, NULL, 10);
        (*pos)++;
    }
    if (*pos >= n || t[*pos].type != SQL_TK_RPAREN) {
        return CM_E_PARSE;
    }
    (*pos)++;
    return 0;
}

int sql_type_parse(const char *src, const sql_token *t, uint32_t n, uint32_t *pos, sql_coltype *out,
                   cm_err *err)
{
    memset(out, 0, sizeof(*out));
    if (*pos >= n || t[*pos].type != SQL_TK_IDENT) {
        return cm_err_set(err, CM_E_PARSE, "You have an error in your SQL syntax: type");
    }
    const sql_token *k = &t[(*pos)++];
    uint32_t a = 0, b = 0;
    out->collation = 63;
    static const struct {
        const char *name;
        uint8_t type;
    } ints[] = {{"TINYINT", SQL_TYPE_TINY},    {"SMALLINT", SQL_TYPE_SHORT},
                {"MEDIUMINT", SQL_TYPE_INT24}, {"INT", SQL_TYPE_LONG},
                {"INTEGER", SQL_TYPE_LONG},    {"BIGINT", SQL_TYPE_LONGLONG}};
    for (size_t i = 0; i < sizeof(ints) / sizeof(ints[0]); i++) {
        if (sql_tok_is(src, k, ints[i].name)) {
            out->mysql_type = ints[i].type;
            out->dtype = CM_DT_INT64;
            if (num_arg(src, t, n, pos, &a, &b) != 0) {
                return cm_err_set(err, CM_E_PARSE, "syntax");
            }
            out->length = a;
            while (*pos < n && (sql_tok_is(src, &t[*pos], "UNSIGNED") ||
                                sql_tok_is(src, &t[*pos], "ZEROFILL"))) {
                out->is_unsigned = 1;
                out->dtype = CM_DT_UINT64;
                (*pos)++;
            }
            return 0;
        }
    }
    if (sql_tok_is(src, k, "CHAR") || sql_tok_is(src, k, "VARCHAR") || sql_tok_is(src, k, "TEXT") ||
        sql_tok_is(src, k, "BINARY") || sql_tok_is(src, k, "VARBINARY") ||
        sql_tok_is(src, k, "BLOB")) {
        bool bin = sql_tok_is(src, k, "BINARY") || sql_tok_is(src, k, "VARBINARY") ||
                   sql_tok_is(src, k, "BLOB");
        bool blob = sql_tok_is(src, k, "TEXT") || sql_tok_is(src, k, "BLOB");
        if (num_arg(src, t, n, pos, &a, &b) != 0) {
            return cm_err_set(err, CM_E_PARSE, "syntax");
        }
        if (sql_tok_is(src, k, "VARCHAR") && a == 0 && t[*pos - 1].type != SQL_TK_RPAREN) {
            return cm_err_set(err, CM_E_PARSE, "syntax");
        }
        out->fixed = sql_tok_is(src, k, "CHAR") || sql_tok_is(src, k, "BINARY");
        out->length = blob ? 65535 : (a == 0 && out->fixed ? 1 : a);
        out->mysql_type = blob ? SQL_TYPE_BLOB : out->fixed ? SQL_TYPE_STRING : SQL_TYPE_VAR_STRING;
        out->dtype = bin ? CM_DT_BYTES : CM_DT_STRING;
        out->collation = bin ? 63 : 46;
        for (;;) {
            if (*pos + 1 < n && sql_tok_is(src, &t[*pos], "CHARACTER") &&
                sql_tok_is(src, &t[*pos + 1], "SET")) {
                *pos += 3;
            } else if (*pos < n && (sql_tok_is(src, &t[*pos], "CHARSET") ||
                                    sql_tok_is(src, &t[*pos], "COLLATE"))) {
                *pos += 2;
            } else {
                break;
            }
        }
        return 0;
    }
    if (sql_tok_is(src, k, "DATETIME") || sql_tok_is(src, k, "TIMESTAMP")) {
        if (num_arg(src, t, n, pos, &a, &b) != 0) {
            return cm_err_set(err, CM_E_PARSE, "syntax");
        }
        out->mysql_type = sql_tok_is(src, k, "DATETIME") ? SQL_TYPE_DATETIME : SQL_TYPE_TIMESTAMP;
        out->dtype = sql_tok_is(src, k, "DATETIME") ? CM_DT_DATETIME : CM_DT_TIMESTAMP;
        out->decimals = (uint8_t)a;
        return 0;
    }
    if (sql_tok_is(src, k, "DECIMAL")) {
        if (num_arg(src, t, n, pos, &a, &b) != 0) {
            return cm_err_set(err, CM_E_PARSE, "syntax");
        }
        out->mysql_type = SQL_TYPE_NEWDECIMAL;
        out->dtype = CM_DT_DECIMAL;
        out->precision = (uint8_t)(a ? a : 10);
        out->decimals = (uint8_t)b;
        return 0;
    }
    if (sql_tok_is(src, k, "DOUBLE")) {
        out->mysql_type = SQL_TYPE_DOUBLE;
        out->dtype = CM_DT_FLOAT64;
        return 0;
    }
    if (sql_tok_is(src, k, "JSON")) {
        out->mysql_type = SQL_TYPE_JSON;
        out->dtype = CM_DT_JSON;
        return 0;
    }
    if (sql_tok_is(src, k, "ENUM")) {
        if (*pos >= n || t[*pos].type != SQL_TK_LPAREN) {
            return cm_err_set(err, CM_E_PARSE, "syntax");
        }
        (*pos)++;
        out->mysql_type = SQL_TYPE_ENUM;
        out->dtype = CM_DT_ENUM;
        out->members = calloc(16, sizeof(char *));
        while (*pos < n && t[*pos].type == SQL_TK_STRING && out->nmembers < 16) {
            out->members[out->nmembers++] = strndup(src + t[*pos].voff, t[*pos].vlen);
            (*pos)++;
            if (*pos < n && t[*pos].type == SQL_TK_COMMA) {
                (*pos)++;
            }
        }
        if (*pos >= n || t[*pos].type != SQL_TK_RPAREN) {
            sql_coltype_free(out);
            return cm_err_set(err, CM_E_PARSE, "syntax");
        }
        (*pos)++;
        return 0;
    }
    return cm_err_set(err, CM_E_PARSE, "You have an error in your SQL syntax near '%.*s'",
                      (int)k->len, src + k->off);
}

void sql_coltype_free(sql_coltype *t)
{
    for (uint16_t i = 0; i < t->nmembers; i++) {
        free(t->members[i]);
    }
    free(t->members);
    t->members = NULL;
    t->nmembers = 0;
}

int sql_type_format(const sql_coltype *t, cm_buf *out)
{
    switch (t->mysql_type) {
    case SQL_TYPE_TINY:
        cm_buf_printf(out, "tinyint");
        break;
    case SQL_TYPE_SHORT:
        cm_buf_printf(out, "smallint");
        break;
    case SQL_TYPE_INT24:
        cm_buf_printf(out, "mediumint");
        break;
    case SQL_TYPE_LONG:
        cm_buf_printf(out, "int");
        break;
    case SQL_TYPE_LONGLONG:
        cm_buf_printf(out, "bigint");
        break;
    case SQL_TYPE_STRING:
        cm_buf_printf(out, "%s(%u)", t->dtype == CM_DT_BYTES ? "binary" : "char", t->length);
        break;
    case SQL_TYPE_VAR_STRING:
        cm_buf_printf(out, "%s(%u)", t->dtype == CM_DT_BYTES ? "varbinary" : "varchar", t->length);
        break;
    case SQL_TYPE_BLOB:
        cm_buf_printf(out, "%s", t->dtype == CM_DT_BYTES ? "blob" : "text");
        break;
    case SQL_TYPE_DATETIME:
    case SQL_TYPE_TIMESTAMP:
        cm_buf_printf(out, "%s", t->mysql_type == SQL_TYPE_DATETIME ? "datetime" : "timestamp");
        if (t->decimals) {
            cm_buf_printf(out, "(%u)", t->decimals);
        }
        break;
    case SQL_TYPE_NEWDECIMAL:
        cm_buf_printf(out, "decimal(%u,%u)", t->precision, t->decimals);
        break;
    case SQL_TYPE_DOUBLE:
        cm_buf_printf(out, "double");
        break;
    case SQL_TYPE_JSON:
        cm_buf_printf(out, "json");
        break;
    case SQL_TYPE_ENUM:
        cm_buf_printf(out, "enum(");
        for (uint16_t i = 0; i < t->nmembers; i++) {
            cm_buf_printf(out, "%s'%s'", i ? "," : "", t->members[i]);
        }
        cm_buf_printf(out, ")");
        break;
    default:
        cm_buf_printf(out, "?");
    }
    if (t->is_unsigned) {
        cm_buf_printf(out, " unsigned");
    }
    return 0;
}

int sql_type_store(const sql_coltype *t, const char *col_name, const sql_value *in, bool strict,
                   cm_datum *out, cm_buf *scratch, sql_type_note *note, cm_err *err)
{
    (void)strict;
    (void)note;
    memset(out, 0, sizeof(*out));
    if (in->type == SQL_V_NULL) {
        out->type = CM_DT_NULL;
        return 0;
    }
    if (t->dtype == CM_DT_INT64 || t->dtype == CM_DT_UINT64) {
        long long v;
        if (in->type == SQL_V_INT) {
            v = in->i;
        } else if (in->type == SQL_V_TEXT) {
            char b[40];
            if (in->n == 0 || in->n >= sizeof(b)) {
                return cm_err_set(err, CM_E_TRUNCATED_VALUE, "Incorrect integer value for '%s'",
                                  col_name);
            }
            memcpy(b, in->s, in->n);
            b[in->n] = 0;
            char *end;
            v = strtoll(b, &end, 10);
            if (*end != 0) {
                return cm_err_set(err, CM_E_TRUNCATED_VALUE, "Incorrect integer value for '%s'",
                                  col_name);
            }
        } else {
            return cm_err_set(err, CM_E_TRUNCATED_VALUE, "bad value");
        }
        long long lo = t->mysql_type == SQL_TYPE_TINY ? -128 : INT32_MIN;
        long long hi = t->mysql_type == SQL_TYPE_TINY ? 127 : INT32_MAX;
        if (t->mysql_type == SQL_TYPE_LONGLONG) {
            lo = INT64_MIN;
            hi = INT64_MAX;
        }
        if (t->is_unsigned) {
            lo = 0;
        }
        if (v < lo || v > hi) {
            return cm_err_set(err, CM_E_OUT_OF_RANGE, "Out of range value for column '%s'",
                              col_name);
        }
        out->type = (cm_dtype)t->dtype;
        out->v.i64 = v;
        return 0;
    }
    if (t->dtype == CM_DT_STRING || t->dtype == CM_DT_BYTES || t->dtype == CM_DT_DECIMAL ||
        t->dtype == CM_DT_DATETIME || t->dtype == CM_DT_TIMESTAMP) {
        cm_buf_reset(scratch);
        if (in->type == SQL_V_INT) {
            cm_buf_printf(scratch, "%lld", (long long)in->i);
        } else if (in->type == SQL_V_TEXT || in->type == SQL_V_BLOB) {
            cm_buf_append(scratch, in->s, in->n);
        }
        if ((t->dtype == CM_DT_STRING || t->dtype == CM_DT_BYTES) && t->length > 0 &&
            scratch->len > t->length) {
            return cm_err_set(err, CM_E_DATA_TOO_LONG, "Data too long for column '%s'", col_name);
        }
        if ((t->dtype == CM_DT_DATETIME || t->dtype == CM_DT_TIMESTAMP) &&
            (scratch->len < 10 || scratch->ptr[4] != '-')) {
            return cm_err_set(err, CM_E_TRUNCATED_VALUE, "Incorrect datetime value");
        }
        out->type = CM_DT_STRING; /* the fake keeps text for these */
        out->v.bytes = cm_buf_slice(scratch);
        return 0;
    }
    if (t->dtype == CM_DT_ENUM && in->type == SQL_V_TEXT) {
        for (uint16_t i = 0; i < t->nmembers; i++) {
            if (strlen(t->members[i]) == in->n && memcmp(t->members[i], in->s, in->n) == 0) {
                out->type = CM_DT_ENUM;
                out->v.u64 = i + 1u;
                return 0;
            }
        }
        return cm_err_set(err, CM_E_TRUNCATED_VALUE, "Data truncated for column '%s'", col_name);
    }
    if (t->dtype == CM_DT_FLOAT64) {
        out->type = CM_DT_FLOAT64;
        out->v.f64 = in->type == SQL_V_INT ? (double)in->i : strtod(in->s, NULL);
        return 0;
    }
    return cm_err_set(err, CM_E_INVALID, "unsupported in the fake");
}

int sql_type_load(const sql_coltype *t, const cm_datum *in, sql_value *out, cm_buf *scratch,
                  cm_err *err)
{
    (void)err;
    switch (in->type) {
    case CM_DT_NULL:
        *out = sql_value_null();
        return 0;
    case CM_DT_INT64:
    case CM_DT_UINT64:
        *out = sql_value_int(in->v.i64);
        return 0;
    case CM_DT_FLOAT64:
        memset(out, 0, sizeof(*out));
        out->type = SQL_V_DOUBLE;
        out->d = in->v.f64;
        return 0;
    case CM_DT_ENUM:
        *out = sql_value_text(t->members[in->v.u64 - 1], strlen(t->members[in->v.u64 - 1]));
        return 0;
    default:
        cm_buf_reset(scratch);
        cm_buf_append(scratch, in->v.bytes.ptr, in->v.bytes.len);
        *out = sql_value_text((const char *)scratch->ptr, scratch->len);
        return 0;
    }
}
