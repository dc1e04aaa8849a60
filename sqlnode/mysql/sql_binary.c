/* sql_binary.c — prepared-statement table and COM_STMT_EXECUTE parameter decoding. */
#include "sql_binary.h"

#include "sql_my_const.h"
#include "sql_wire.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void sql_stmts_init(sql_stmts *t)
{
    memset(t, 0, sizeof(*t));
    t->next_id = 1;
}

static void ent_free(sql_stmt_ent *e)
{
    if (e->long_data != NULL) {
        for (uint32_t i = 0; i < e->nparams; i++) {
            cm_buf_fini(&e->long_data[i]);
        }
    }
    free(e->long_data);
    free(e->has_long);
    free(e->types);
}

void sql_stmts_fini(sql_stmts *t)
{
    for (uint32_t i = 0; i < t->n; i++) {
        ent_free(&t->v[i]);
    }
    free(t->v);
    memset(t, 0, sizeof(*t));
}

sql_stmt_ent *sql_stmts_find(sql_stmts *t, uint32_t id)
{
    if (id == 0xffffffffu) {
        id = t->last_id;
    }
    uint32_t lo = 0, hi = t->n;
    while (lo < hi) {
        uint32_t mid = (lo + hi) / 2;
        if (t->v[mid].id == id) {
            return &t->v[mid];
        }
        if (t->v[mid].id < id) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return NULL;
}

int sql_stmts_add(sql_stmts *t, void *prep, uint32_t nparams, sql_stmt_ent **out)
{
    if (t->n == t->cap) {
        uint32_t cap = t->cap ? t->cap * 2 : 8;
        sql_stmt_ent *v = realloc(t->v, cap * sizeof(*v));
        if (v == NULL) {
            return CM_E_NOMEM;
        }
        t->v = v;
        t->cap = cap;
    }
    if (t->next_id == 0xffffffffu || t->next_id == 0) {
        t->next_id = 1; /* wrapped: ids in use stay unique since the table is bounded */
    }
    sql_stmt_ent *e = &t->v[t->n++];
    memset(e, 0, sizeof(*e));
    e->id = t->next_id++;
    e->prep = prep;
    e->nparams = nparams;
    t->last_id = e->id;
    /* Keep sorted after a wrap. */
    for (uint32_t i = t->n - 1; i > 0 && t->v[i - 1].id > t->v[i].id; i--) {
        sql_stmt_ent tmp = t->v[i - 1];
        t->v[i - 1] = t->v[i];
        t->v[i] = tmp;
        e = &t->v[i - 1];
    }
    *out = e;
    return 0;
}

void *sql_stmts_remove(sql_stmts *t, uint32_t id)
{
    sql_stmt_ent *e = sql_stmts_find(t, id);
    if (e == NULL) {
        return NULL;
    }
    void *prep = e->prep;
    ent_free(e);
    size_t i = (size_t)(e - t->v);
    memmove(&t->v[i], &t->v[i + 1], (t->n - i - 1) * sizeof(*e));
    t->n--;
    return prep;
}

void sql_bin_long_data(sql_stmt_ent *st, uint16_t param, const uint8_t *data, size_t n, size_t max)
{
    if (param >= st->nparams) {
        return;
    }
    if (st->long_data == NULL) {
        st->long_data = calloc(st->nparams, sizeof(*st->long_data));
        st->has_long = calloc(st->nparams, 1);
        if (st->long_data == NULL || st->has_long == NULL) {
            free(st->long_data);
            free(st->has_long);
            st->long_data = NULL;
            st->has_long = NULL;
            st->long_too_big = 1;
            return;
        }
    }
    st->has_long[param] = 1;
    if (st->long_data[param].len + n > max || cm_buf_append(&st->long_data[param], data, n) != 0) {
        st->long_too_big = 1;
    }
}

void sql_bin_reset(sql_stmt_ent *st)
{
    if (st->long_data != NULL) {
        for (uint32_t i = 0; i < st->nparams; i++) {
            cm_buf_fini(&st->long_data[i]);
            st->has_long[i] = 0;
        }
    }
    st->long_too_big = 0;
}

static int bad(cm_err *err, const char *what, uint32_t i)
{
    return cm_err_set(err, CM_E_MALFORMED_PACKET,
                      "Malformed communication packet (%s, parameter %u)", what, i + 1);
}

/* DECIMAL parameters arrive as text: integers become INT, others DOUBLE (SQLite has no exact
 * decimal; see docs/mysql-protocol.md), unparsable text stays text. */
static void decimal_value(const char *s, size_t n, sql_value *v)
{
    char buf[80];
    *v = sql_value_text(s, n);
    if (n == 0 || n >= sizeof(buf)) {
        return;
    }
    memcpy(buf, s, n);
    buf[n] = '\0';
    char *end;
    errno = 0;
    long long i = strtoll(buf, &end, 10);
    if (*end == '\0' && errno == 0) {
        *v = sql_value_int(i);
        return;
    }
    double d = strtod(buf, &end);
    if (*end == '\0' && isfinite(d)) {
        v->type = SQL_V_DOUBLE;
        v->d = d;
    }
}

/* Temporal values become text in scratch (room reserved by the caller, so pointers hold). */
static int temporal(cm_reader *r, uint8_t type, cm_buf *scratch, sql_value *v, uint32_t i,
                    cm_err *err)
{
    uint8_t len;
    if (cm_reader_u8(r, &len) != 0) {
        return bad(err, "truncated temporal value", i);
    }
    char *out = (char *)scratch->ptr + scratch->len;
    int w;
    if (type == SQL_TYPE_TIME) {
        uint8_t neg = 0, h = 0, m = 0, s = 0;
        uint32_t days = 0, us = 0;
        if (len != 0 && len != 8 && len != 12) {
            return bad(err, "TIME length", i);
        }
        if (len >= 8 &&
            (cm_reader_u8(r, &neg) != 0 || cm_reader_u32le(r, &days) != 0 ||
             cm_reader_u8(r, &h) != 0 || cm_reader_u8(r, &m) != 0 || cm_reader_u8(r, &s) != 0)) {
            return bad(err, "truncated TIME", i);
        }
        if (len == 12 && cm_reader_u32le(r, &us) != 0) {
            return bad(err, "truncated TIME", i);
        }
        if (days > 34 || h > 23 || m > 59 || s > 59 || us > 999999) {
            return bad(err, "TIME out of range", i);
        }
        w = snprintf(out, 40, "%s%02u:%02u:%02u", neg ? "-" : "", days * 24 + h, m, s);
        if (us) {
            w += snprintf(out + w, 40 - (size_t)w, ".%06u", us);
        }
    } else {
        uint16_t y = 0;
        uint8_t mo = 0, d = 0, h = 0, mi = 0, s = 0;
        uint32_t us = 0;
        if (len != 0 && len != 4 && len != 7 && len != 11) {
            return bad(err, "DATETIME length", i);
        }
        if (len >= 4 && (cm_reader_u16le(r, &y) != 0 || cm_reader_u8(r, &mo) != 0 ||
                         cm_reader_u8(r, &d) != 0)) {
            return bad(err, "truncated DATETIME", i);
        }
        if (len >= 7 &&
            (cm_reader_u8(r, &h) != 0 || cm_reader_u8(r, &mi) != 0 || cm_reader_u8(r, &s) != 0)) {
            return bad(err, "truncated DATETIME", i);
        }
        if (len == 11 && cm_reader_u32le(r, &us) != 0) {
            return bad(err, "truncated DATETIME", i);
        }
        if (y > 9999 || mo > 12 || d > 31 || h > 23 || mi > 59 || s > 59 || us > 999999) {
            return bad(err, "DATETIME out of range", i);
        }
        if (type == SQL_TYPE_DATE || type == SQL_TYPE_NEWDATE) {
            w = snprintf(out, 40, "%04u-%02u-%02u", y, mo, d);
        } else {
            w = snprintf(out, 40, "%04u-%02u-%02u %02u:%02u:%02u", y, mo, d, h, mi, s);
            if (us) {
                w += snprintf(out + w, 40 - (size_t)w, ".%06u", us);
            }
        }
    }
    *v = sql_value_text(out, (size_t)w);
    scratch->len += (size_t)w + 1;
    return 0;
}

static int decode_value(cm_reader *r, uint16_t tf, cm_buf *scratch, sql_value *v, uint32_t i,
                        cm_err *err)
{
    uint8_t type = (uint8_t)(tf & 0xff);
    int is_unsigned = (tf >> 8) & SQL_PARAM_UNSIGNED;
    switch (type) {
    case SQL_TYPE_NULL:
        *v = sql_value_null();
        return 0;
    case SQL_TYPE_TINY: {
        uint8_t x;
        if (cm_reader_u8(r, &x) != 0) {
            return bad(err, "truncated TINY", i);
        }
        *v = sql_value_int(is_unsigned ? (int64_t)x : (int64_t)(int8_t)x);
        return 0;
    }
    case SQL_TYPE_SHORT:
    case SQL_TYPE_YEAR: {
        uint16_t x;
        if (cm_reader_u16le(r, &x) != 0) {
            return bad(err, "truncated SHORT", i);
        }
        *v = sql_value_int(is_unsigned ? (int64_t)x : (int64_t)(int16_t)x);
        return 0;
    }
    case SQL_TYPE_LONG:
    case SQL_TYPE_INT24: {
        uint32_t x;
        if (cm_reader_u32le(r, &x) != 0) {
            return bad(err, "truncated LONG", i);
        }
        *v = sql_value_int(is_unsigned ? (int64_t)x : (int64_t)(int32_t)x);
        return 0;
    }
    case SQL_TYPE_LONGLONG: {
        uint64_t x;
        if (cm_reader_u64le(r, &x) != 0) {
            return bad(err, "truncated LONGLONG", i);
        }
        if (is_unsigned && x > (uint64_t)INT64_MAX) {
            memset(v, 0, sizeof(*v));
            v->type = SQL_V_UINT;
            v->u = x;
        } else {
            *v = sql_value_int((int64_t)x);
        }
        return 0;
    }
    case SQL_TYPE_FLOAT: {
        uint32_t bits;
        float f;
        if (cm_reader_u32le(r, &bits) != 0) {
            return bad(err, "truncated FLOAT", i);
        }
        memcpy(&f, &bits, 4);
        memset(v, 0, sizeof(*v));
        v->type = SQL_V_DOUBLE;
        v->d = (double)f;
        return 0;
    }
    case SQL_TYPE_DOUBLE: {
        uint64_t bits;
        if (cm_reader_u64le(r, &bits) != 0) {
            return bad(err, "truncated DOUBLE", i);
        }
        memset(v, 0, sizeof(*v));
        v->type = SQL_V_DOUBLE;
        memcpy(&v->d, &bits, 8);
        return 0;
    }
    case SQL_TYPE_DATE:
    case SQL_TYPE_NEWDATE:
    case SQL_TYPE_DATETIME:
    case SQL_TYPE_TIMESTAMP:
    case SQL_TYPE_TIME:
        return temporal(r, type, scratch, v, i, err);
    case SQL_TYPE_DECIMAL:
    case SQL_TYPE_NEWDECIMAL:
    case SQL_TYPE_VARCHAR:
    case SQL_TYPE_VAR_STRING:
    case SQL_TYPE_STRING:
    case SQL_TYPE_ENUM:
    case SQL_TYPE_SET:
    case SQL_TYPE_JSON:
    case SQL_TYPE_BIT:
    case SQL_TYPE_GEOMETRY:
    case SQL_TYPE_TINY_BLOB:
    case SQL_TYPE_MEDIUM_BLOB:
    case SQL_TYPE_LONG_BLOB:
    case SQL_TYPE_BLOB: {
        cm_slice s;
        if (sql_wire_get_lenenc_str(r, &s) != 0) {
            return bad(err, "truncated string", i);
        }
        const char *p = s.len ? (const char *)s.ptr : "";
        if (type == SQL_TYPE_DECIMAL || type == SQL_TYPE_NEWDECIMAL) {
            decimal_value(p, s.len, v);
        } else if (type == SQL_TYPE_BIT || type == SQL_TYPE_GEOMETRY ||
                   (type >= SQL_TYPE_TINY_BLOB && type <= SQL_TYPE_BLOB)) {
            *v = sql_value_text(p, s.len);
            v->type = SQL_V_BLOB;
        } else {
            *v = sql_value_text(p, s.len);
        }
        return 0;
    }
    default:
        return bad(err, "unknown parameter type", i);
    }
}

int sql_bin_decode_execute(sql_stmt_ent *st, const uint8_t *p, size_t n, sql_value *vals,
                           cm_buf *scratch, uint8_t *cursor_flags, cm_err *err)
{
    cm_reader r;
    cm_reader_init(&r, p, n);
    uint8_t flags;
    uint32_t iterations;
    if (cm_reader_u8(&r, &flags) != 0 || cm_reader_u32le(&r, &iterations) != 0) {
        return cm_err_set(err, CM_E_MALFORMED_PACKET, "Malformed communication packet");
    }
    *cursor_flags = flags;
    if (st->long_too_big) {
        return cm_err_set(err, CM_E_NET_PACKET_TOO_LARGE,
                          "Parameter of prepared statement which is set through "
                          "mysql_send_long_data() is longer than 'max_allowed_packet' bytes");
    }
    uint32_t np = st->nparams;
    if (np == 0) {
        return 0;
    }
    cm_slice nulls;
    uint8_t bound;
    if (cm_reader_bytes(&r, (np + 7) / 8, &nulls) != 0 || cm_reader_u8(&r, &bound) != 0) {
        return cm_err_set(err, CM_E_MALFORMED_PACKET, "Malformed communication packet");
    }
    if (bound == 1) {
        if (st->types == NULL && (st->types = malloc(np * sizeof(uint16_t))) == NULL) {
            return cm_err_set(err, CM_E_NOMEM, "out of memory");
        }
        for (uint32_t i = 0; i < np; i++) {
            if (cm_reader_u16le(&r, &st->types[i]) != 0) {
                free(st->types); /* a half-read type list is not remembered */
                st->types = NULL;
                return cm_err_set(err, CM_E_MALFORMED_PACKET, "Malformed communication packet");
            }
        }
    } else if (bound != 0) {
        return cm_err_set(err, CM_E_MALFORMED_PACKET, "Malformed communication packet");
    } else if (st->types == NULL) {
        return cm_err_set(err, CM_E_WRONG_ARGUMENTS,
                          "Incorrect arguments to mysqld_stmt_execute (no parameter types)");
    }
    cm_buf_reset(scratch);
    if (cm_buf_reserve(scratch, (size_t)np * 41) != 0) {
        return cm_err_set(err, CM_E_NOMEM, "out of memory");
    }
    for (uint32_t i = 0; i < np; i++) {
        if (nulls.ptr[i / 8] & (1u << (i % 8))) {
            vals[i] = sql_value_null();
            continue;
        }
        if (st->has_long != NULL && st->has_long[i]) {
            const cm_buf *ld = &st->long_data[i];
            uint8_t type = (uint8_t)(st->types[i] & 0xff);
            vals[i] = sql_value_text(ld->len ? (const char *)ld->ptr : "", ld->len);
            if (type >= SQL_TYPE_TINY_BLOB && type <= SQL_TYPE_BLOB) {
                vals[i].type = SQL_V_BLOB;
            }
            continue;
        }
        int rc = decode_value(&r, st->types[i], scratch, &vals[i], i, err);
        if (rc != 0) {
            return rc;
        }
    }
    return 0;
}
