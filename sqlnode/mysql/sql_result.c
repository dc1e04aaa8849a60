/* sql_result.c — OK/ERR/EOF packets, column definitions, text and binary rows. */
#include "sql_result.h"

#include "cm_err.h"
#include "sql_my_const.h"
#include "sql_wire.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FAIL_NOMEM(x)                                                                              \
    do {                                                                                           \
        if ((x) != 0) {                                                                            \
            return CM_E_NOMEM;                                                                     \
        }                                                                                          \
    } while (0)

int sql_res_ok(sql_pkt *p, uint64_t affected, uint64_t insert_id, uint16_t status,
               uint16_t warnings, const char *info)
{
    size_t off = sql_pkt_begin(p);
    cm_buf *b = &p->out;
    FAIL_NOMEM(cm_buf_append_u8(b, 0x00));
    FAIL_NOMEM(sql_wire_put_lenenc(b, affected));
    FAIL_NOMEM(sql_wire_put_lenenc(b, insert_id));
    FAIL_NOMEM(cm_buf_append_u16le(b, status));
    FAIL_NOMEM(cm_buf_append_u16le(b, warnings));
    if (info != NULL) {
        FAIL_NOMEM(cm_buf_append(b, info, strlen(info)));
    }
    return sql_pkt_end(p, off);
}

int sql_res_err(sql_pkt *p, int code, const char *msg)
{
    size_t off = sql_pkt_begin(p);
    cm_buf *b = &p->out;
    int my = cm_err_mysql_errno(code);
    const char *state = cm_err_sqlstate(code);
    if (my == 0) {
        my = 1105;
        state = "HY000";
    }
    if (msg == NULL || msg[0] == '\0') {
        msg = cm_err_message(code);
    }
    size_t n = strlen(msg);
    if (n > CM_ERR_MSG_MAX) {
        n = CM_ERR_MSG_MAX;
    }
    FAIL_NOMEM(cm_buf_append_u8(b, 0xff));
    FAIL_NOMEM(cm_buf_append_u16le(b, (uint16_t)my));
    FAIL_NOMEM(cm_buf_append_u8(b, '#'));
    FAIL_NOMEM(cm_buf_append(b, state, 5));
    FAIL_NOMEM(cm_buf_append(b, msg, n));
    return sql_pkt_end(p, off);
}

int sql_res_eof(sql_pkt *p, uint16_t warnings, uint16_t status)
{
    size_t off = sql_pkt_begin(p);
    FAIL_NOMEM(cm_buf_append_u8(&p->out, 0xfe));
    FAIL_NOMEM(cm_buf_append_u16le(&p->out, warnings));
    FAIL_NOMEM(cm_buf_append_u16le(&p->out, status));
    return sql_pkt_end(p, off);
}

int sql_res_end(sql_pkt *p, uint32_t caps, uint16_t warnings, uint16_t status)
{
    if (!(caps & SQL_CLIENT_DEPRECATE_EOF)) {
        return sql_res_eof(p, warnings, status);
    }
    size_t off = sql_pkt_begin(p);
    cm_buf *b = &p->out;
    FAIL_NOMEM(cm_buf_append_u8(b, 0xfe));
    FAIL_NOMEM(sql_wire_put_lenenc(b, 0));
    FAIL_NOMEM(sql_wire_put_lenenc(b, 0));
    FAIL_NOMEM(cm_buf_append_u16le(b, status));
    FAIL_NOMEM(cm_buf_append_u16le(b, warnings));
    return sql_pkt_end(p, off);
}

int sql_res_column_def(sql_pkt *p, const sql_column *c)
{
    size_t off = sql_pkt_begin(p);
    cm_buf *b = &p->out;
    FAIL_NOMEM(sql_wire_put_lenenc_str(b, "def", 3));
    FAIL_NOMEM(sql_wire_put_lenenc_str(b, "", 0)); /* schema */
    FAIL_NOMEM(sql_wire_put_lenenc_str(b, "", 0)); /* table */
    FAIL_NOMEM(sql_wire_put_lenenc_str(b, "", 0)); /* org_table */
    FAIL_NOMEM(sql_wire_put_lenenc_str(b, c->name, c->name_len));
    FAIL_NOMEM(sql_wire_put_lenenc_str(b, "", 0)); /* org_name */
    FAIL_NOMEM(sql_wire_put_lenenc(b, 0x0c));
    FAIL_NOMEM(cm_buf_append_u16le(b, c->charset));
    FAIL_NOMEM(cm_buf_append_u32le(b, c->length));
    FAIL_NOMEM(cm_buf_append_u8(b, c->type));
    FAIL_NOMEM(cm_buf_append_u16le(b, c->flags));
    FAIL_NOMEM(cm_buf_append_u8(b, c->decimals));
    FAIL_NOMEM(cm_buf_append_u16le(b, 0));
    return sql_pkt_end(p, off);
}

void sql_format_double(double d, char *buf, size_t cap)
{
    if (!isfinite(d)) {
        snprintf(buf, cap, "%s", isnan(d) ? "NaN" : (d > 0 ? "inf" : "-inf"));
        return;
    }
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(buf, cap, "%.*g", prec, d);
        if (strtod(buf, NULL) == d) {
            break;
        }
    }
    /* 1e+20 → 1e20, 1e-05 → 1e-5 (MySQL's spelling) */
    char *e = strchr(buf, 'e');
    if (e != NULL) {
        char *src = e + 1, *dst = e + 1;
        if (*src == '+') {
            src++;
        } else if (*src == '-') {
            *dst++ = *src++;
        }
        while (*src == '0' && src[1] != '\0') {
            src++;
        }
        memmove(dst, src, strlen(src) + 1);
    }
}

/* Text of a value (numbers formatted into tmp). */
static const char *value_text(const sql_value *v, char *tmp, size_t cap, size_t *n)
{
    switch (v->type) {
    case SQL_V_INT:
        *n = (size_t)snprintf(tmp, cap, "%" PRId64, v->i);
        return tmp;
    case SQL_V_UINT:
        *n = (size_t)snprintf(tmp, cap, "%" PRIu64, v->u);
        return tmp;
    case SQL_V_DOUBLE:
        sql_format_double(v->d, tmp, cap);
        *n = strlen(tmp);
        return tmp;
    case SQL_V_TEXT:
    case SQL_V_BLOB:
        *n = v->n;
        return v->n ? v->s : "";
    default:
        *n = 0;
        return "";
    }
}

int sql_res_text_row(sql_pkt *p, const sql_value *v, int n)
{
    size_t off = sql_pkt_begin(p);
    cm_buf *b = &p->out;
    char tmp[64];
    for (int i = 0; i < n; i++) {
        if (v[i].type == SQL_V_NULL) {
            FAIL_NOMEM(cm_buf_append_u8(b, 0xfb));
            continue;
        }
        size_t len;
        const char *s = value_text(&v[i], tmp, sizeof(tmp), &len);
        FAIL_NOMEM(sql_wire_put_lenenc_str(b, s, len));
    }
    return sql_pkt_end(p, off);
}

static int64_t value_int(const sql_value *v)
{
    switch (v->type) {
    case SQL_V_INT:
        return v->i;
    case SQL_V_UINT:
        return (int64_t)v->u;
    case SQL_V_DOUBLE:
        return isfinite(v->d) && fabs(v->d) < 9.2e18 ? (int64_t)llround(v->d) : 0;
    case SQL_V_TEXT:
    case SQL_V_BLOB: {
        char buf[32];
        size_t n = v->n < sizeof(buf) - 1 ? v->n : sizeof(buf) - 1;
        memcpy(buf, v->s, n);
        buf[n] = '\0';
        return strtoll(buf, NULL, 10);
    }
    default:
        return 0;
    }
}

static double value_double(const sql_value *v)
{
    switch (v->type) {
    case SQL_V_INT:
        return (double)v->i;
    case SQL_V_UINT:
        return (double)v->u;
    case SQL_V_DOUBLE:
        return v->d;
    case SQL_V_TEXT:
    case SQL_V_BLOB: {
        char buf[64];
        size_t n = v->n < sizeof(buf) - 1 ? v->n : sizeof(buf) - 1;
        memcpy(buf, v->s, n);
        buf[n] = '\0';
        return strtod(buf, NULL);
    }
    default:
        return 0;
    }
}

/* Appends a DATE/DATETIME/TIMESTAMP value parsed from text ('YYYY-MM-DD[ HH:MM:SS[.f]]'). */
static int put_datetime(cm_buf *b, const sql_value *v, int date_only)
{
    char buf[40];
    size_t n = v->n < sizeof(buf) - 1 ? v->n : sizeof(buf) - 1;
    if (v->type == SQL_V_TEXT || v->type == SQL_V_BLOB) {
        memcpy(buf, v->s, n);
    } else {
        n = 0;
    }
    buf[n] = '\0';
    unsigned y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0, us = 0;
    int consumed = 0;
    if (sscanf(buf, "%4u-%2u-%2u%n", &y, &mo, &d, &consumed) != 3) {
        return cm_buf_append_u8(b, 0);
    }
    const char *r = buf + consumed;
    if (!date_only && (*r == ' ' || *r == 'T') &&
        sscanf(r + 1, "%2u:%2u:%2u%n", &h, &mi, &s, &consumed) == 3) {
        r += 1 + consumed;
        if (*r == '.') {
            int digits = 0;
            r++;
            while (*r >= '0' && *r <= '9' && digits < 6) {
                us = us * 10 + (unsigned)(*r - '0');
                r++;
                digits++;
            }
            while (digits++ < 6) {
                us *= 10;
            }
        }
    }
    uint8_t len = us ? 11 : (h || mi || s) ? 7 : 4;
    FAIL_NOMEM(cm_buf_append_u8(b, len));
    FAIL_NOMEM(cm_buf_append_u16le(b, (uint16_t)y));
    FAIL_NOMEM(cm_buf_append_u8(b, (uint8_t)mo));
    FAIL_NOMEM(cm_buf_append_u8(b, (uint8_t)d));
    if (len >= 7) {
        FAIL_NOMEM(cm_buf_append_u8(b, (uint8_t)h));
        FAIL_NOMEM(cm_buf_append_u8(b, (uint8_t)mi));
        FAIL_NOMEM(cm_buf_append_u8(b, (uint8_t)s));
    }
    if (len == 11) {
        FAIL_NOMEM(cm_buf_append_u32le(b, us));
    }
    return 0;
}

/* Appends a TIME value parsed from text ('[-]H…H:MM:SS[.f]'). */
static int put_time(cm_buf *b, const sql_value *v)
{
    char buf[40];
    size_t n = v->n < sizeof(buf) - 1 ? v->n : sizeof(buf) - 1;
    if (v->type == SQL_V_TEXT || v->type == SQL_V_BLOB) {
        memcpy(buf, v->s, n);
    } else {
        n = 0;
    }
    buf[n] = '\0';
    const char *r = buf;
    int neg = *r == '-';
    if (neg) {
        r++;
    }
    unsigned h = 0, mi = 0, s = 0, us = 0;
    int consumed = 0;
    if (sscanf(r, "%6u:%2u:%2u%n", &h, &mi, &s, &consumed) != 3) {
        return cm_buf_append_u8(b, 0);
    }
    r += consumed;
    if (*r == '.') {
        int digits = 0;
        r++;
        while (*r >= '0' && *r <= '9' && digits < 6) {
            us = us * 10 + (unsigned)(*r - '0');
            r++;
            digits++;
        }
        while (digits++ < 6) {
            us *= 10;
        }
    }
    uint8_t len = us ? 12 : 8;
    FAIL_NOMEM(cm_buf_append_u8(b, len));
    FAIL_NOMEM(cm_buf_append_u8(b, (uint8_t)neg));
    FAIL_NOMEM(cm_buf_append_u32le(b, h / 24));
    FAIL_NOMEM(cm_buf_append_u8(b, (uint8_t)(h % 24)));
    FAIL_NOMEM(cm_buf_append_u8(b, (uint8_t)mi));
    FAIL_NOMEM(cm_buf_append_u8(b, (uint8_t)s));
    if (len == 12) {
        FAIL_NOMEM(cm_buf_append_u32le(b, us));
    }
    return 0;
}

int sql_res_binary_row(sql_pkt *p, const sql_column *cols, const sql_value *v, int n)
{
    size_t off = sql_pkt_begin(p);
    cm_buf *b = &p->out;
    FAIL_NOMEM(cm_buf_append_u8(b, 0x00));
    size_t nb = ((size_t)n + 7 + 2) / 8;
    size_t bitmap = b->len;
    for (size_t i = 0; i < nb; i++) {
        FAIL_NOMEM(cm_buf_append_u8(b, 0));
    }
    char tmp[64];
    for (int i = 0; i < n; i++) {
        if (v[i].type == SQL_V_NULL || cols[i].type == SQL_TYPE_NULL) {
            b->ptr[bitmap + (size_t)(i + 2) / 8] |= (uint8_t)(1u << ((i + 2) % 8));
            continue;
        }
        switch (cols[i].type) {
        case SQL_TYPE_LONGLONG:
            FAIL_NOMEM(cm_buf_append_u64le(b, (uint64_t)value_int(&v[i])));
            break;
        case SQL_TYPE_LONG:
        case SQL_TYPE_INT24:
            FAIL_NOMEM(cm_buf_append_u32le(b, (uint32_t)value_int(&v[i])));
            break;
        case SQL_TYPE_SHORT:
        case SQL_TYPE_YEAR:
            FAIL_NOMEM(cm_buf_append_u16le(b, (uint16_t)value_int(&v[i])));
            break;
        case SQL_TYPE_TINY:
            FAIL_NOMEM(cm_buf_append_u8(b, (uint8_t)value_int(&v[i])));
            break;
        case SQL_TYPE_DOUBLE: {
            double d = value_double(&v[i]);
            uint64_t bits;
            memcpy(&bits, &d, 8);
            FAIL_NOMEM(cm_buf_append_u64le(b, bits));
            break;
        }
        case SQL_TYPE_FLOAT: {
            float f = (float)value_double(&v[i]);
            uint32_t bits;
            memcpy(&bits, &f, 4);
            FAIL_NOMEM(cm_buf_append_u32le(b, bits));
            break;
        }
        case SQL_TYPE_DATE:
            FAIL_NOMEM(put_datetime(b, &v[i], 1));
            break;
        case SQL_TYPE_DATETIME:
        case SQL_TYPE_TIMESTAMP:
            FAIL_NOMEM(put_datetime(b, &v[i], 0));
            break;
        case SQL_TYPE_TIME:
            FAIL_NOMEM(put_time(b, &v[i]));
            break;
        default: {
            size_t len;
            const char *s = value_text(&v[i], tmp, sizeof(tmp), &len);
            FAIL_NOMEM(sql_wire_put_lenenc_str(b, s, len));
            break;
        }
        }
    }
    return sql_pkt_end(p, off);
}

/* ---- the sink ---- */

static int sink_columns(sql_sink *k, const sql_column *cols, int n)
{
    sql_res_sink *s = (sql_res_sink *)k;
    if (n > s->cap_cols) {
        sql_column *c = realloc(s->cols, (size_t)n * sizeof(*c));
        if (c == NULL) {
            return CM_E_NOMEM;
        }
        s->cols = c;
        s->cap_cols = n;
    }
    memcpy(s->cols, cols, (size_t)n * sizeof(*cols));
    s->ncols = n;
    s->in_resultset = 1;
    s->rows = 0;
    size_t off = sql_pkt_begin(s->pkt);
    FAIL_NOMEM(sql_wire_put_lenenc(&s->pkt->out, (uint64_t)n));
    int rc = sql_pkt_end(s->pkt, off);
    for (int i = 0; rc == 0 && i < n; i++) {
        rc = sql_res_column_def(s->pkt, &cols[i]);
    }
    if (rc == 0 && !(s->caps & SQL_CLIENT_DEPRECATE_EOF)) {
        rc = sql_res_eof(s->pkt, 0, 0);
    }
    return rc;
}

static int sink_row(sql_sink *k, const sql_value *v, int n)
{
    sql_res_sink *s = (sql_res_sink *)k;
    s->rows++;
    return s->binary ? sql_res_binary_row(s->pkt, s->cols, v, n) : sql_res_text_row(s->pkt, v, n);
}

static int sink_done(sql_sink *k, const sql_done *d)
{
    sql_res_sink *s = (sql_res_sink *)k;
    uint16_t status = d->status | (d->more ? SQL_STATUS_MORE_RESULTS_EXISTS : 0);
    int rc;
    if (s->in_resultset) {
        rc = sql_res_end(s->pkt, s->caps, d->warnings, status);
    } else {
        rc = sql_res_ok(s->pkt, d->affected_rows, d->last_insert_id, status, d->warnings, d->info);
    }
    s->in_resultset = 0;
    return rc;
}

void sql_res_sink_init(sql_res_sink *s, sql_pkt *p)
{
    memset(s, 0, sizeof(*s));
    s->sink.columns = sink_columns;
    s->sink.row = sink_row;
    s->sink.done = sink_done;
    s->pkt = p;
}

void sql_res_sink_fini(sql_res_sink *s)
{
    free(s->cols);
    s->cols = NULL;
    s->cap_cols = 0;
}

void sql_res_sink_begin(sql_res_sink *s, uint32_t caps, int binary)
{
    s->caps = caps;
    s->binary = binary;
    s->in_resultset = 0;
    s->ncols = 0;
}
