/*
 * cm_cx.c — the coprocessor's expression bytecode: builder, decoder (validates everything once)
 * and evaluator (a loop over pre-decoded instructions with a fixed stack, no allocation except
 * strings and numbers printed into the scratch arena). Semantics: cm_cx.h and
 * docs/coprocessor.md "Expression bytecode and aggregate states".
 */
#include "cm_cx.h"
#include "cm_cx_int.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct cx_ins {
    uint8_t op;
    uint8_t esc; /* LIKE */
    uint32_t n;  /* COL: the column; IN, COALESCE, CONCAT: operands */
    cm_datum k;  /* CONST */
} cx_ins;

struct cm_cx {
    uint32_t nins;
    uint32_t ncols;
    cx_ins ins[];
};

/* Operands a fixed-arity operator pops; -1 for opcodes that are not fixed-arity operators. */
static int fixed_arity(int op)
{
    switch (op) {
    case CM_CX_EQ:
    case CM_CX_NE:
    case CM_CX_LT:
    case CM_CX_LE:
    case CM_CX_GT:
    case CM_CX_GE:
    case CM_CX_NULLEQ:
    case CM_CX_AND:
    case CM_CX_OR:
    case CM_CX_XOR:
    case CM_CX_ADD:
    case CM_CX_SUB:
    case CM_CX_MUL:
    case CM_CX_DIV:
    case CM_CX_INTDIV:
    case CM_CX_MOD:
    case CM_CX_IFNULL:
        return 2;
    case CM_CX_NOT:
    case CM_CX_ISNULL:
    case CM_CX_ISNOTNULL:
    case CM_CX_ISTRUE:
    case CM_CX_ISFALSE:
    case CM_CX_NEG:
    case CM_CX_ABS:
    case CM_CX_LENGTH:
    case CM_CX_CHAR_LENGTH:
    case CM_CX_UPPER:
    case CM_CX_LOWER:
        return 1;
    case CM_CX_IF:
        return 3;
    default:
        return -1;
    }
}

/* ---- builder -------------------------------------------------------------------------------- */

void cm_cx_builder_init(cm_cx_builder *b)
{
    cm_buf_init(&b->code);
    b->depth = 0;
    b->max_depth = 0;
    b->rc = 0;
}

void cm_cx_builder_fini(cm_cx_builder *b)
{
    cm_buf_fini(&b->code);
    b->depth = b->max_depth = 0;
    b->rc = 0;
}

void cm_cx_builder_reset(cm_cx_builder *b)
{
    cm_buf_reset(&b->code);
    b->depth = b->max_depth = 0;
    b->rc = 0;
}

/* Checks that pops operands are there and the result fits the stack; 0 or the sticky error. */
static int stack_step(cm_cx_builder *b, int pops)
{
    if (b->rc != 0) {
        return b->rc;
    }
    if (pops > b->depth) {
        return b->rc = CM_E_INVALID;
    }
    if (b->depth - pops + 1 > CM_CX_STACK_MAX) {
        return b->rc = CM_E_INVALID;
    }
    return 0;
}

static void stack_commit(cm_cx_builder *b, int pops, int rc)
{
    if (rc != 0) {
        b->rc = CM_E_NOMEM;
        return;
    }
    if (b->code.len > CM_CX_CODE_MAX) {
        b->rc = CM_E_INVALID;
        return;
    }
    b->depth = b->depth - pops + 1;
    if (b->depth > b->max_depth) {
        b->max_depth = b->depth;
    }
}

void cm_cx_col(cm_cx_builder *b, uint32_t i)
{
    if (stack_step(b, 0) != 0) {
        return;
    }
    int rc = cm_buf_append_u8(&b->code, CM_CX_COL);
    rc = rc != 0 ? rc : cm_buf_append_uvarint(&b->code, i);
    stack_commit(b, 0, rc);
}

void cm_cx_const(cm_cx_builder *b, const cm_datum *d)
{
    if (stack_step(b, 0) != 0) {
        return;
    }
    if (d->type == CM_DT_JSON || !cm_datum_valid(d)) {
        b->rc = CM_E_INVALID;
        return;
    }
    if (d->type == CM_DT_STRING && d->v.bytes.len > 0 &&
        d->v.bytes.ptr[d->v.bytes.len - 1] == ' ') {
        int rc = cm_buf_append_u8(&b->code, CM_CX_STR);
        rc = rc != 0 ? rc : cm_buf_append_u8(&b->code, CM_DT_STRING);
        rc = rc != 0 ? rc : cm_buf_append_uvarint(&b->code, d->v.bytes.len);
        rc = rc != 0 ? rc : cm_buf_append_slice(&b->code, d->v.bytes);
        stack_commit(b, 0, rc);
        return;
    }
    int rc = cm_buf_append_u8(&b->code, CM_CX_CONST);
    if (rc == 0) {
        cm_err err;
        rc = cm_codec_encode_datum(&b->code, d, &err);
        if (rc == CM_E_INVALID) {
            b->rc = rc;
            return;
        }
    }
    if (rc == 0 && d->type == CM_DT_DECIMAL) {
        rc = cm_buf_append_u8(&b->code, d->v.dec.frac);
    }
    stack_commit(b, 0, rc);
}

void cm_cx_op1(cm_cx_builder *b, cm_cx_op op)
{
    int pops = fixed_arity((int)op);
    if (b->rc == 0 && pops < 0) {
        b->rc = CM_E_INVALID;
    }
    if (stack_step(b, pops) != 0) {
        return;
    }
    stack_commit(b, pops, cm_buf_append_u8(&b->code, (uint8_t)op));
}

void cm_cx_opn(cm_cx_builder *b, cm_cx_op op, uint32_t n)
{
    if (b->rc == 0 && ((op != CM_CX_IN && op != CM_CX_COALESCE && op != CM_CX_CONCAT) || n < 1 ||
                       n > CM_CX_STACK_MAX)) {
        b->rc = CM_E_INVALID;
    }
    int pops = (int)n + (op == CM_CX_IN);
    if (stack_step(b, pops) != 0) {
        return;
    }
    int rc = cm_buf_append_u8(&b->code, (uint8_t)op);
    rc = rc != 0 ? rc : cm_buf_append_uvarint(&b->code, n);
    stack_commit(b, pops, rc);
}

void cm_cx_like(cm_cx_builder *b, uint8_t escape)
{
    if (stack_step(b, 2) != 0) {
        return;
    }
    int rc = cm_buf_append_u8(&b->code, CM_CX_LIKE);
    rc = rc != 0 ? rc : cm_buf_append_u8(&b->code, escape);
    stack_commit(b, 2, rc);
}

int cm_cx_finish(cm_cx_builder *b, cm_slice *code, cm_err *err)
{
    if (b->rc != 0) {
        return cm_err_set(err, b->rc,
                          b->rc == CM_E_NOMEM ? "cx: out of memory building a program"
                                              : "cx: bad operator, arity, or stack over %d",
                          CM_CX_STACK_MAX);
    }
    if (b->depth != 1) {
        return cm_err_set(err, CM_E_INVALID, "cx: program leaves %d values, not 1", b->depth);
    }
    *code = cm_buf_slice(&b->code);
    return 0;
}

/* ---- decoder -------------------------------------------------------------------------------- */

static int bad(cm_err *err, size_t off, const char *why)
{
    return cm_err_set(err, CM_E_INVALID, "cx: %s at byte %zu", why, off);
}

/* Reads a decimal constant's scale byte and applies it (the key codec keeps only the value). */
static int const_scale(cm_reader *r, cm_datum *k, size_t off, cm_err *err)
{
    uint8_t scale;
    if (cm_reader_u8(r, &scale) != 0) {
        return bad(err, off, "truncated decimal scale");
    }
    if (scale > CM_DECIMAL_FRAC_MAX || scale < k->v.dec.frac ||
        k->v.dec.intg + scale > CM_DECIMAL_DIGITS_MAX) {
        return bad(err, off, "bad decimal scale");
    }
    if (cm_decimal_round(&k->v.dec, scale, &k->v.dec, NULL) != 0) {
        return bad(err, off, "bad decimal scale");
    }
    return 0;
}

/* One pass over code: validates it and, when p is not NULL, fills p->ins (constants decoded into
 * arena). *nins gets the instruction count. */
static int decode_pass(cm_slice code, uint32_t ncols, cm_arena *arena, cm_cx *p, uint32_t *nins,
                       cm_err *err)
{
    cm_reader r;
    cm_reader_init(&r, code.ptr, code.len);
    int depth = 0;
    uint32_t n = 0;
    while (cm_reader_left(&r) > 0) {
        size_t off = r.pos;
        uint8_t op = 0;
        (void)cm_reader_u8(&r, &op);
        cx_ins in;
        memset(&in, 0, sizeof(in));
        in.op = op;
        int pops = 0;
        uint64_t v;
        if (op == CM_CX_COL) {
            if (cm_reader_uvarint(&r, &v) != 0) {
                return bad(err, off, "truncated column index");
            }
            if (v >= ncols) {
                return bad(err, off, "column index out of range");
            }
            in.n = (uint32_t)v;
        } else if (op == CM_CX_CONST) {
            if (p == NULL) {
                cm_reader probe = r;
                uint8_t flag = 0;
                (void)cm_reader_u8(&probe, &flag);
                if (cm_codec_skip_datum(&r, NULL) != 0) {
                    return bad(err, off, "bad constant");
                }
                if (flag == CM_CODEC_FLAG_DECIMAL) {
                    /* Checked in full by the second pass; here only its presence. */
                    if (cm_reader_skip(&r, 1) != 0) {
                        return bad(err, off, "truncated decimal scale");
                    }
                }
            } else {
                int rc = cm_codec_decode_datum(&r, arena, &in.k, NULL);
                if (rc == CM_E_NOMEM) {
                    return cm_err_set(err, rc, "cx: out of memory decoding a constant");
                }
                if (rc != 0) {
                    return bad(err, off, "bad constant");
                }
                if (in.k.type == CM_DT_DECIMAL && (rc = const_scale(&r, &in.k, off, err)) != 0) {
                    return rc;
                }
            }
        } else if (op == CM_CX_STR) {
            uint8_t t = 0;
            cm_slice bytes;
            if (cm_reader_u8(&r, &t) != 0 || cm_reader_uvarint(&r, &v) != 0 ||
                v > cm_reader_left(&r)) {
                return bad(err, off, "truncated string constant");
            }
            if (t != CM_DT_STRING && t != CM_DT_BYTES) {
                return bad(err, off, "bad string constant type");
            }
            (void)cm_reader_bytes(&r, (size_t)v, &bytes);
            in.k.type = (cm_dtype)t;
            in.k.v.bytes = bytes;
        } else if (op == CM_CX_IN || op == CM_CX_COALESCE || op == CM_CX_CONCAT) {
            if (cm_reader_uvarint(&r, &v) != 0) {
                return bad(err, off, "truncated operand count");
            }
            if (v < 1 || v > CM_CX_STACK_MAX) {
                return bad(err, off, "bad operand count");
            }
            in.n = (uint32_t)v;
            pops = (int)v + (op == CM_CX_IN);
        } else if (op == CM_CX_LIKE) {
            if (cm_reader_u8(&r, &in.esc) != 0) {
                return bad(err, off, "truncated LIKE escape");
            }
            pops = 2;
        } else {
            pops = fixed_arity(op);
            if (pops < 0) {
                return bad(err, off, "unknown opcode");
            }
        }
        if (pops > depth) {
            return bad(err, off, "stack underflow");
        }
        depth = depth - pops + 1;
        if (depth > CM_CX_STACK_MAX) {
            return bad(err, off, "stack overflow");
        }
        if (p != NULL) {
            p->ins[n] = in;
        }
        n++;
    }
    if (depth != 1) {
        return bad(err, code.len, "program does not leave exactly one value");
    }
    *nins = n;
    return 0;
}

int cm_cx_decode(cm_slice code, uint32_t ncols, cm_arena *arena, cm_cx **out, cm_err *err)
{
    if (code.len == 0) {
        return cm_err_set(err, CM_E_INVALID, "cx: empty program");
    }
    if (code.len > CM_CX_CODE_MAX) {
        return cm_err_set(err, CM_E_INVALID, "cx: program of %zu bytes (max %u)", code.len,
                          CM_CX_CODE_MAX);
    }
    uint32_t nins = 0;
    int rc = decode_pass(code, ncols, NULL, NULL, &nins, err);
    if (rc != 0) {
        return rc;
    }
    cm_cx *p = cm_arena_alloc(arena, sizeof(cm_cx) + (size_t)nins * sizeof(cx_ins));
    if (p == NULL) {
        return cm_err_set(err, CM_E_NOMEM, "cx: out of memory");
    }
    p->nins = nins;
    p->ncols = ncols;
    rc = decode_pass(code, ncols, arena, p, &nins, err);
    if (rc != 0) {
        return rc;
    }
    *out = p;
    return 0;
}

/* ---- value classes -------------------------------------------------------------------------- */

static bool is_temporal(cm_dtype t)
{
    return t == CM_DT_DATE || t == CM_DT_DATETIME || t == CM_DT_TIMESTAMP;
}

static bool is_text(cm_dtype t)
{
    return t == CM_DT_STRING || t == CM_DT_BYTES || t == CM_DT_JSON;
}

static bool is_intclass(cm_dtype t)
{
    return t == CM_DT_INT64 || t == CM_DT_UINT64 || t == CM_DT_YEAR || t == CM_DT_ENUM ||
           t == CM_DT_SET || t == CM_DT_BIT;
}

static bool is_float(cm_dtype t)
{
    return t == CM_DT_FLOAT64 || t == CM_DT_FLOAT32;
}

static __int128 int_value(const cm_datum *v)
{
    return v->type == CM_DT_INT64 ? (__int128)v->v.i64 : (__int128)v->v.u64;
}

/* ---- strings to numbers --------------------------------------------------------------------- */

/* Significant digits kept when a numeric prefix is read: beyond any double's need in practice. */
#define PREFIX_DIGITS_MAX 120

static bool is_space(uint8_t c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

double cm_cx_str_to_double(cm_slice s)
{
    const uint8_t *p = s.ptr;
    size_t n = s.len, i = 0;
    while (i < n && is_space(p[i])) {
        i++;
    }
    bool neg = false;
    if (i < n && (p[i] == '+' || p[i] == '-')) {
        neg = p[i] == '-';
        i++;
    }
    char text[PREFIX_DIGITS_MAX + 40];
    size_t t = 0, digits = 0;
    long long exp10 = 0; /* value = 0.text × 10^exp10 once digits are in */
    bool point = false, seen = false;
    for (; i < n; i++) {
        if (p[i] >= '0' && p[i] <= '9') {
            seen = true;
            if (digits == 0 && p[i] == '0') {
                exp10 -= point;
                continue;
            }
            if (digits < PREFIX_DIGITS_MAX) {
                text[t++] = (char)p[i];
            }
            digits++;
            exp10 += !point;
        } else if (p[i] == '.' && !point) {
            point = true;
        } else {
            break;
        }
    }
    if (!seen || digits == 0) {
        return neg ? -0.0 : 0.0;
    }
    if (i + 1 < n && (p[i] == 'e' || p[i] == 'E')) {
        size_t j = i + 1;
        bool eneg = false;
        if (j < n && (p[j] == '+' || p[j] == '-')) {
            eneg = p[j] == '-';
            j++;
        }
        if (j < n && p[j] >= '0' && p[j] <= '9') {
            long long e = 0;
            for (; j < n && p[j] >= '0' && p[j] <= '9'; j++) {
                if (e < 100000) {
                    e = e * 10 + (p[j] - '0');
                }
            }
            exp10 += eneg ? -e : e;
        }
    }
    if (exp10 > 100000) {
        exp10 = 100000;
    } else if (exp10 < -100000) {
        exp10 = -100000;
    }
    int len = snprintf(text + t, sizeof(text) - t, "e%lld", exp10 - (long long)t);
    (void)len;
    /* text holds the significant digits as an integer, scaled by the exponent. */
    double d = strtod(text, NULL);
    if (isinf(d)) {
        d = DBL_MAX; /* MySQL clamps an out-of-range string to the largest double */
    }
    return neg ? -d : d;
}

/* ---- temporal numeric forms ----------------------------------------------------------------- */

/* MySQL's numeric form of a temporal: YYYYMMDD (DATE), YYYYMMDDhhmmss, or ±hhmmss (TIME), with
 * the microseconds apart. An unpackable value (never made by the codecs) reads as zero. */
static void temporal_number(const cm_datum *v, int64_t *whole, uint32_t *micro, bool *neg)
{
    *neg = false;
    *micro = 0;
    *whole = 0;
    if (v->type == CM_DT_TIME) {
        int64_t us = v->v.i64;
        uint64_t mag = us < 0 ? 0 - (uint64_t)us : (uint64_t)us;
        uint64_t secs = mag / 1000000;
        *micro = (uint32_t)(mag % 1000000);
        *whole = (int64_t)(secs / 3600 * 10000 + secs / 60 % 60 * 100 + secs % 60);
        *neg = us < 0;
        return;
    }
    cm_datetime t;
    if (cm_datetime_unpack(v->v.u64, &t, NULL) != 0) {
        return;
    }
    int64_t ymd = (int64_t)t.year * 10000 + t.month * 100 + t.day;
    if (v->type == CM_DT_DATE) {
        *whole = ymd;
        return;
    }
    *whole = ymd * 1000000 + t.hour * 10000 + t.minute * 100 + t.second;
    *micro = t.micro;
}

static double temporal_double(const cm_datum *v)
{
    int64_t w;
    uint32_t us;
    bool neg;
    temporal_number(v, &w, &us, &neg);
    double d = (double)w + us / 1e6;
    return neg ? -d : d;
}

/* ---- values to text ------------------------------------------------------------------------- */

/* Longest text of a non-string value: a decimal (68) or a double in exponent form. */
#define NUMTEXT_MAX 80

/* A double as MySQL prints it: the shortest digits that read back, fixed notation for decimal
 * exponents -15 < e ≤ 15, else d.ddde±x. */
static size_t format_real(double v, bool is_float, char out[CM_CX_DOUBLE_TEXT_MAX])
{
    if (v == 0) {
        out[0] = '0';
        return 1;
    }
    char e[40];
    if (is_float) { /* FLOAT prints with 6 significant digits (FLT_DIG) */
        snprintf(e, sizeof(e), "%.5e", v);
    } else {
        int prec = 1;
        for (; prec <= 17; prec++) {
            snprintf(e, sizeof(e), "%.*e", prec - 1, v);
            if (strtod(e, NULL) == v) {
                break;
            }
        }
        if (prec > 17) {
            snprintf(e, sizeof(e), "%.16e", v);
        }
    }
    /* e = [-]d[.ddd]e±xx */
    const char *q = e;
    bool neg = *q == '-';
    q += neg;
    char dig[20];
    int nd = 0;
    for (; *q != 'e'; q++) {
        if (*q != '.') {
            dig[nd++] = *q;
        }
    }
    int x = atoi(q + 1);
    while (nd > 1 && dig[nd - 1] == '0') {
        nd--;
    }
    int decpt = x + 1; /* value = 0.dig × 10^decpt */
    size_t n = 0;
    if (neg) {
        out[n++] = '-';
    }
    if (decpt > 15 || decpt < -14) {
        out[n++] = dig[0];
        if (nd > 1) {
            out[n++] = '.';
            for (int i = 1; i < nd; i++) {
                out[n++] = dig[i];
            }
        }
        n += (size_t)snprintf(out + n, CM_CX_DOUBLE_TEXT_MAX - n, "e%d", x);
    } else if (decpt <= 0) {
        out[n++] = '0';
        out[n++] = '.';
        for (int i = 0; i < -decpt; i++) {
            out[n++] = '0';
        }
        for (int i = 0; i < nd; i++) {
            out[n++] = dig[i];
        }
    } else {
        for (int i = 0; i < decpt; i++) {
            out[n++] = i < nd ? dig[i] : '0';
        }
        if (nd > decpt) {
            out[n++] = '.';
            for (int i = decpt; i < nd; i++) {
                out[n++] = dig[i];
            }
        }
    }
    return n;
}

size_t cm_cx_format_double(double v, char out[CM_CX_DOUBLE_TEXT_MAX])
{
    return format_real(v, false, out);
}

/* The text of v (a string's own bytes; numbers and temporals printed into scratch). *binary is
 * set for BYTES. Returns 0 or CM_E_NOMEM. */
static int to_text(const cm_datum *v, cm_arena *scratch, cm_slice *out, bool *binary, cm_err *err)
{
    char buf[NUMTEXT_MAX];
    size_t n = 0;
    *binary = v->type == CM_DT_BYTES;
    switch (v->type) {
    case CM_DT_STRING:
    case CM_DT_BYTES:
    case CM_DT_JSON:
        *out = v->v.bytes;
        return 0;
    case CM_DT_INT64:
        n = (size_t)snprintf(buf, sizeof(buf), "%lld", (long long)v->v.i64);
        break;
    case CM_DT_UINT64:
    case CM_DT_YEAR:
    case CM_DT_ENUM:
    case CM_DT_SET:
    case CM_DT_BIT:
        n = (size_t)snprintf(buf, sizeof(buf), "%llu", (unsigned long long)v->v.u64);
        break;
    case CM_DT_FLOAT64:
    case CM_DT_FLOAT32:
        n = format_real(v->v.f64, v->type == CM_DT_FLOAT32, buf);
        break;
    case CM_DT_DECIMAL:
        n = cm_decimal_put_text(&v->v.dec, buf);
        break;
    case CM_DT_DATE:
    case CM_DT_DATETIME:
    case CM_DT_TIMESTAMP: {
        cm_datetime t;
        if (cm_datetime_unpack(v->v.u64, &t, NULL) != 0) {
            memset(&t, 0, sizeof(t));
        }
        if (v->type == CM_DT_DATE) {
            n = (size_t)snprintf(buf, sizeof(buf), "%04u-%02u-%02u", t.year, t.month, t.day);
        } else {
            n = (size_t)snprintf(buf, sizeof(buf), "%04u-%02u-%02u %02u:%02u:%02u", t.year, t.month,
                                 t.day, t.hour, t.minute, t.second);
            if (t.micro != 0) {
                n += (size_t)snprintf(buf + n, sizeof(buf) - n, ".%06u", (unsigned)t.micro);
            }
        }
        break;
    }
    case CM_DT_TIME: {
        int64_t us = v->v.i64;
        uint64_t mag = us < 0 ? 0 - (uint64_t)us : (uint64_t)us, secs = mag / 1000000;
        n = (size_t)snprintf(buf, sizeof(buf), "%s%02llu:%02llu:%02llu", us < 0 ? "-" : "",
                             (unsigned long long)(secs / 3600),
                             (unsigned long long)(secs / 60 % 60), (unsigned long long)(secs % 60));
        if (mag % 1000000 != 0) {
            n += (size_t)snprintf(buf + n, sizeof(buf) - n, ".%06llu",
                                  (unsigned long long)(mag % 1000000));
        }
        break;
    }
    default:
        n = 0;
        break;
    }
    if (n >= sizeof(buf)) {
        n = sizeof(buf) - 1;
    }
    void *mem = cm_arena_memdup(scratch, buf, n == 0 ? 1 : n);
    if (mem == NULL) {
        return cm_err_set(err, CM_E_NOMEM, "cx: out of memory");
    }
    *out = cm_slice_make(mem, n);
    return 0;
}

/* ---- numbers -------------------------------------------------------------------------------- */

enum { NC_INT, NC_UINT, NC_DEC, NC_DBL };

typedef struct num {
    int cls;
    __int128 i; /* NC_INT, NC_UINT */
    double f;   /* NC_DBL */
    cm_decimal d;
} num;

/* The decimal w.micro (scale 6) for a temporal with microseconds. */
static void micro_decimal(int64_t w, uint32_t us, bool neg, cm_decimal *out)
{
    char text[40];
    int n = snprintf(text, sizeof(text), "%s%lld.%06u", neg ? "-" : "", (long long)w, us);
    if (cm_decimal_parse(cm_slice_make(text, (size_t)n), out, NULL, NULL) != 0) {
        cm_decimal_zero(out, 6);
    }
}

static void to_num(const cm_datum *v, num *n)
{
    switch (v->type) {
    case CM_DT_INT64:
    case CM_DT_YEAR:
        n->cls = NC_INT;
        n->i = int_value(v);
        return;
    case CM_DT_UINT64:
    case CM_DT_ENUM:
    case CM_DT_SET:
    case CM_DT_BIT:
        n->cls = NC_UINT;
        n->i = v->v.u64;
        return;
    case CM_DT_FLOAT64:
    case CM_DT_FLOAT32:
        n->cls = NC_DBL;
        n->f = v->v.f64;
        return;
    case CM_DT_DECIMAL:
        n->cls = NC_DEC;
        n->d = v->v.dec;
        return;
    case CM_DT_DATE:
    case CM_DT_DATETIME:
    case CM_DT_TIMESTAMP:
    case CM_DT_TIME: {
        int64_t w;
        uint32_t us;
        bool neg;
        temporal_number(v, &w, &us, &neg);
        if (us == 0) {
            n->cls = NC_INT;
            n->i = neg ? -(__int128)w : (__int128)w;
        } else {
            n->cls = NC_DEC;
            micro_decimal(w, us, neg, &n->d);
        }
        return;
    }
    default: /* strings */
        n->cls = NC_DBL;
        n->f = cm_cx_str_to_double(v->v.bytes);
        return;
    }
}

static double num_double(const num *n)
{
    switch (n->cls) {
    case NC_INT:
    case NC_UINT:
        return (double)n->i;
    case NC_DEC:
        return cm_decimal_to_double(&n->d);
    default:
        return n->f;
    }
}

/* An exact number (NC_INT/NC_UINT/NC_DEC) as a decimal. */
static void num_decimal(const num *n, cm_decimal *out)
{
    if (n->cls == NC_DEC) {
        *out = n->d;
    } else if (n->i < 0) {
        cm_decimal_from_int64((int64_t)n->i, out);
    } else {
        cm_decimal_from_uint64((uint64_t)n->i, out);
    }
}

void cm_cx_to_number(const cm_datum *v, cm_datum *out)
{
    num n;
    to_num(v, &n);
    switch (n.cls) {
    case NC_INT:
        *out = cm_datum_int64((int64_t)n.i);
        break;
    case NC_UINT:
        *out = cm_datum_uint64((uint64_t)n.i);
        break;
    case NC_DEC:
        *out = cm_datum_decimal(&n.d);
        break;
    default:
        *out = cm_datum_float64(n.f);
        break;
    }
}

double cm_cx_to_double(const cm_datum *v)
{
    if (is_temporal(v->type) || v->type == CM_DT_TIME) {
        return temporal_double(v);
    }
    num n;
    to_num(v, &n);
    return num_double(&n);
}

/* ---- comparison ----------------------------------------------------------------------------- */

static int sign3(int c)
{
    return c < 0 ? -1 : (c > 0 ? 1 : 0);
}

static int cmp_double(double x, double y)
{
    return x < y ? -1 : (x > y ? 1 : 0);
}

/* A temporal (DATE/DATETIME/TIMESTAMP/TIME) against a string. */
static int cmp_temporal_text(const cm_datum *t, const cm_datum *s, cm_arena *scratch, int *cmp,
                             cm_err *err)
{
    if (t->type == CM_DT_TIME) {
        int64_t us;
        if (cm_duration_parse(s->v.bytes, &us, NULL) == 0) {
            *cmp = t->v.i64 < us ? -1 : (t->v.i64 > us ? 1 : 0);
            return 0;
        }
    } else {
        cm_datetime dt;
        if (cm_datetime_parse(s->v.bytes, &dt, NULL) == 0) {
            uint64_t packed = cm_datetime_pack(&dt);
            *cmp = t->v.u64 < packed ? -1 : (t->v.u64 > packed ? 1 : 0);
            return 0;
        }
    }
    cm_slice text;
    bool binary;
    int rc = to_text(t, scratch, &text, &binary, err);
    if (rc != 0) {
        return rc;
    }
    *cmp = s->type == CM_DT_STRING ? cm_codec_string_cmp(text, s->v.bytes)
                                   : sign3(cm_slice_cmp(text, s->v.bytes));
    return 0;
}

int cm_cx_compare(const cm_datum *a, const cm_datum *b, cm_arena *scratch, int *cmp, cm_err *err)
{
    cm_dtype ta = a->type, tb = b->type;
    if (ta == CM_DT_NULL || tb == CM_DT_NULL) { /* not for SQL comparison; an order for sorts */
        *cmp = (ta != CM_DT_NULL) - (tb != CM_DT_NULL);
        return 0;
    }
    if (is_temporal(ta) && is_temporal(tb)) {
        *cmp = a->v.u64 < b->v.u64 ? -1 : (a->v.u64 > b->v.u64 ? 1 : 0);
        return 0;
    }
    if (ta == CM_DT_TIME && tb == CM_DT_TIME) {
        *cmp = a->v.i64 < b->v.i64 ? -1 : (a->v.i64 > b->v.i64 ? 1 : 0);
        return 0;
    }
    if (is_text(ta) && is_text(tb)) {
        if (ta == CM_DT_STRING && tb == CM_DT_STRING) {
            *cmp = cm_codec_string_cmp(a->v.bytes, b->v.bytes);
        } else {
            *cmp = sign3(cm_slice_cmp(a->v.bytes, b->v.bytes));
        }
        return 0;
    }
    bool at = is_temporal(ta) || ta == CM_DT_TIME, bt = is_temporal(tb) || tb == CM_DT_TIME;
    if (at && is_text(tb)) {
        return cmp_temporal_text(a, b, scratch, cmp, err);
    }
    if (bt && is_text(ta)) {
        int rc = cmp_temporal_text(b, a, scratch, cmp, err);
        *cmp = -*cmp;
        return rc;
    }
    if (at || bt || is_text(ta) || is_text(tb) || is_float(ta) || is_float(tb)) {
        *cmp = cmp_double(cm_cx_to_double(a), cm_cx_to_double(b));
        return 0;
    }
    if (is_intclass(ta) && is_intclass(tb)) {
        __int128 x = int_value(a), y = int_value(b);
        *cmp = x < y ? -1 : (x > y ? 1 : 0);
        return 0;
    }
    /* integer/DECIMAL mix or two DECIMALs */
    num x, y;
    cm_decimal dx, dy;
    to_num(a, &x);
    to_num(b, &y);
    num_decimal(&x, &dx);
    num_decimal(&y, &dy);
    *cmp = cm_decimal_cmp(&dx, &dy);
    return 0;
}

/* ---- truth ---------------------------------------------------------------------------------- */

int cm_cx_truth(const cm_datum *v)
{
    switch (v->type) {
    case CM_DT_NULL:
        return -1;
    case CM_DT_INT64:
    case CM_DT_TIME:
        return v->v.i64 != 0;
    case CM_DT_FLOAT64:
    case CM_DT_FLOAT32:
        return v->v.f64 != 0;
    case CM_DT_DECIMAL:
        return !cm_decimal_is_zero(&v->v.dec);
    case CM_DT_STRING:
    case CM_DT_BYTES:
    case CM_DT_JSON:
        return cm_cx_str_to_double(v->v.bytes) != 0;
    default:
        return v->v.u64 != 0;
    }
}

/* ---- LIKE ----------------------------------------------------------------------------------- */

/* Bytes of the UTF-8 character at p (n > 0 bytes left); an invalid sequence is one byte. */
static size_t utf8_len(const uint8_t *p, size_t n)
{
    uint8_t c = p[0];
    size_t len = c < 0x80                  ? 1
                 : (c >= 0xC2 && c < 0xE0) ? 2
                 : (c >= 0xE0 && c < 0xF0) ? 3
                 : (c >= 0xF0 && c < 0xF5) ? 4
                                           : 1;
    if (len > n) {
        return 1;
    }
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xC0) != 0x80) {
            return 1;
        }
    }
    return len;
}

static size_t char_len(const uint8_t *p, size_t n, bool binary)
{
    return binary ? 1 : utf8_len(p, n);
}

/* LIKE: `%` any run, `_` one character (one byte when binary), esc takes the next pattern
 * character literally (a trailing esc is itself). Greedy matching with one backtrack point per
 * `%`: O(len(s) × len(pat)) at worst. */
bool cm_cx_like_match(cm_slice s, cm_slice pat, uint8_t esc, bool binary)
{
    size_t si = 0, pi = 0;
    size_t star_p = SIZE_MAX, star_s = 0;
    while (si < s.len) {
        if (pi < pat.len) {
            uint8_t c = pat.ptr[pi];
            if (c == '%') {
                star_p = ++pi;
                star_s = si;
                continue;
            }
            if (c == '_') {
                si += char_len(s.ptr + si, s.len - si, binary);
                pi++;
                continue;
            }
            size_t lp = pi;
            if (c == esc && pi + 1 < pat.len) {
                lp = pi + 1;
            }
            size_t cl = char_len(pat.ptr + lp, pat.len - lp, binary);
            if (si + cl <= s.len && memcmp(s.ptr + si, pat.ptr + lp, cl) == 0) {
                si += cl;
                pi = lp + cl;
                continue;
            }
        }
        if (star_p == SIZE_MAX) {
            return false;
        }
        star_s += char_len(s.ptr + star_s, s.len - star_s, binary);
        si = star_s;
        pi = star_p;
    }
    while (pi < pat.len && pat.ptr[pi] == '%') {
        pi++;
    }
    return pi == pat.len;
}

/* ---- evaluation ----------------------------------------------------------------------------- */

static int range_err(cm_err *err, bool uns)
{
    return cm_err_set(err, CM_E_BIGINT_RANGE, "%s value is out of range",
                      uns ? "BIGINT UNSIGNED" : "BIGINT");
}

static int double_result(double f, cm_datum *out, cm_err *err)
{
    if (!isfinite(f)) {
        return cm_err_set(err, CM_E_BIGINT_RANGE, "DOUBLE value is out of range");
    }
    *out = cm_datum_float64(f);
    return 0;
}

static int int128_result(__int128 r, bool uns, cm_datum *out, cm_err *err)
{
    if (uns) {
        if (r < 0 || r > (__int128)UINT64_MAX) {
            return range_err(err, true);
        }
        *out = cm_datum_uint64((uint64_t)r);
    } else {
        if (r < INT64_MIN || r > INT64_MAX) {
            return range_err(err, false);
        }
        *out = cm_datum_int64((int64_t)r);
    }
    return 0;
}

static int dec_error(int rc, cm_err *err)
{
    return cm_err_set(err, rc == CM_E_NOMEM ? CM_E_NOMEM : CM_E_BIGINT_RANGE,
                      "DECIMAL value is out of range");
}

/* Scale MySQL's `/` computes with: the operands' scales plus div_precision_increment (4),
 * rounded up to whole 9-digit words, truncated; capped at 30 here. */
static unsigned div_scale(const cm_decimal *x, const cm_decimal *y)
{
    unsigned s = ((unsigned)x->frac + y->frac + 4 + 8) / 9 * 9;
    return s < CM_DECIMAL_FRAC_MAX ? s : CM_DECIMAL_FRAC_MAX;
}

static int arith(int op, const cm_datum *a, const cm_datum *b, cm_datum *out, cm_err *err)
{
    num x, y;
    to_num(a, &x);
    to_num(b, &y);
    if (op == CM_CX_INTDIV &&
        (x.cls == NC_DBL || y.cls == NC_DBL || x.cls == NC_DEC || y.cls == NC_DEC)) {
        /* DIV of non-integers: exact decimal quotient, truncated to an integer. */
        bool uns = x.cls == NC_UINT || y.cls == NC_UINT;
        cm_decimal dx, dy, q;
        int rc = 0;
        if (x.cls == NC_DBL) {
            rc = cm_decimal_from_double(x.f, &dx, NULL);
        } else {
            num_decimal(&x, &dx);
        }
        if (rc == 0 && y.cls == NC_DBL) {
            rc = cm_decimal_from_double(y.f, &dy, NULL);
        } else if (rc == 0) {
            num_decimal(&y, &dy);
        }
        if (rc != 0) {
            return dec_error(rc, err);
        }
        if (cm_decimal_is_zero(&dy)) {
            *out = cm_datum_null();
            return 0;
        }
        if ((rc = cm_decimal_div_trunc(&dx, &dy, 0, &q, NULL)) != 0) {
            return dec_error(rc, err);
        }
        if (uns) {
            uint64_t u;
            if (cm_decimal_to_uint64(&q, &u, NULL) != 0) {
                return range_err(err, true);
            }
            *out = cm_datum_uint64(u);
        } else {
            int64_t i;
            if (cm_decimal_to_int64(&q, &i, NULL) != 0) {
                return range_err(err, false);
            }
            *out = cm_datum_int64(i);
        }
        return 0;
    }
    if (x.cls == NC_DBL || y.cls == NC_DBL) {
        double p = num_double(&x), q = num_double(&y);
        switch (op) {
        case CM_CX_ADD:
            return double_result(p + q, out, err);
        case CM_CX_SUB:
            return double_result(p - q, out, err);
        case CM_CX_MUL:
            return double_result(p * q, out, err);
        case CM_CX_DIV:
            if (q == 0) {
                *out = cm_datum_null();
                return 0;
            }
            return double_result(p / q, out, err);
        default: /* MOD */
            if (q == 0) {
                *out = cm_datum_null();
                return 0;
            }
            return double_result(fmod(p, q), out, err);
        }
    }
    if (x.cls == NC_DEC || y.cls == NC_DEC || op == CM_CX_DIV) {
        cm_decimal dx, dy, r;
        num_decimal(&x, &dx);
        num_decimal(&y, &dy);
        int rc;
        switch (op) {
        case CM_CX_ADD:
            rc = cm_decimal_add(&dx, &dy, &r, NULL);
            break;
        case CM_CX_SUB:
            rc = cm_decimal_sub(&dx, &dy, &r, NULL);
            break;
        case CM_CX_MUL:
            rc = cm_decimal_mul(&dx, &dy, &r, NULL);
            break;
        case CM_CX_DIV:
            if (cm_decimal_is_zero(&dy)) {
                *out = cm_datum_null();
                return 0;
            }
            rc = cm_decimal_div_trunc(&dx, &dy, div_scale(&dx, &dy), &r, NULL);
            break;
        default: /* MOD */
            if (cm_decimal_is_zero(&dy)) {
                *out = cm_datum_null();
                return 0;
            }
            rc = cm_decimal_mod(&dx, &dy, &r, NULL);
            break;
        }
        if (rc != 0) {
            return dec_error(rc, err);
        }
        *out = cm_datum_decimal(&r);
        return 0;
    }
    /* two integers: exact in 128 bits, then the range of the result type */
    bool uns = x.cls == NC_UINT || y.cls == NC_UINT;
    __int128 r;
    switch (op) {
    case CM_CX_ADD:
        r = x.i + y.i;
        break;
    case CM_CX_SUB:
        r = x.i - y.i;
        break;
    case CM_CX_MUL:
        if (__builtin_mul_overflow(x.i, y.i, &r)) {
            return range_err(err, uns);
        }
        break;
    case CM_CX_INTDIV:
        if (y.i == 0) {
            *out = cm_datum_null();
            return 0;
        }
        r = x.i / y.i;
        break;
    default: /* MOD: the dividend's sign and signedness */
        if (y.i == 0) {
            *out = cm_datum_null();
            return 0;
        }
        r = x.i % y.i;
        uns = x.cls == NC_UINT;
        break;
    }
    return int128_result(r, uns, out, err);
}

static int negate(const cm_datum *a, cm_datum *out, cm_err *err)
{
    num x;
    to_num(a, &x);
    switch (x.cls) {
    case NC_INT:
        return int128_result(-x.i, false, out, err);
    case NC_UINT:
        if (x.i <= (__int128)INT64_MAX + 1) {
            *out = cm_datum_int64((int64_t)-x.i);
        } else { /* MySQL gives the negated value as a DECIMAL beyond BIGINT */
            cm_decimal d;
            cm_decimal_from_uint64((uint64_t)x.i, &d);
            cm_decimal_neg(&d, &out->v.dec);
            out->type = CM_DT_DECIMAL;
        }
        return 0;
    case NC_DEC:
        out->type = CM_DT_DECIMAL;
        cm_decimal_neg(&x.d, &out->v.dec);
        return 0;
    default:
        return double_result(-x.f, out, err);
    }
}

static int absolute(const cm_datum *a, cm_datum *out, cm_err *err)
{
    num x;
    to_num(a, &x);
    switch (x.cls) {
    case NC_INT:
        return int128_result(x.i < 0 ? -x.i : x.i, false, out, err);
    case NC_UINT:
        *out = cm_datum_uint64((uint64_t)x.i);
        return 0;
    case NC_DEC:
        out->type = CM_DT_DECIMAL;
        out->v.dec = x.d;
        out->v.dec.neg = 0;
        return 0;
    default:
        return double_result(fabs(x.f), out, err);
    }
}

/* Simple case mapping of one code point (ASCII and Latin-1; ÿ and µ map out of Latin-1 to
 * Ÿ U+0178 and Μ U+039C, as MySQL's utf8mb4 tables do). */
static uint32_t case_map(uint32_t c, bool upper)
{
    if (upper) {
        if ((c >= 'a' && c <= 'z') || (c >= 0xE0 && c <= 0xFE && c != 0xF7)) {
            return c - 0x20;
        }
        if (c == 0xFF) {
            return 0x178;
        }
        if (c == 0xB5) {
            return 0x39C;
        }
        return c;
    }
    if ((c >= 'A' && c <= 'Z') || (c >= 0xC0 && c <= 0xDE && c != 0xD7)) {
        return c + 0x20;
    }
    if (c == 0x178) {
        return 0xFF;
    }
    return c;
}

static int change_case(const cm_datum *a, bool upper, cm_arena *scratch, cm_datum *out, cm_err *err)
{
    cm_slice s;
    bool binary;
    int rc = to_text(a, scratch, &s, &binary, err);
    if (rc != 0) {
        return rc;
    }
    if (binary) { /* UPPER/LOWER do nothing to binary strings */
        *out = cm_datum_bytes(s);
        return 0;
    }
    /* Mappings stay within 2-byte sequences, so the length never changes. */
    uint8_t *o = cm_arena_alloc(scratch, s.len == 0 ? 1 : s.len);
    if (o == NULL) {
        return cm_err_set(err, CM_E_NOMEM, "cx: out of memory");
    }
    size_t i = 0;
    while (i < s.len) {
        size_t l = utf8_len(s.ptr + i, s.len - i);
        if (l == 1) {
            uint8_t c = s.ptr[i];
            o[i] = (uint8_t)(c < 0x80 ? case_map(c, upper) : c);
        } else if (l == 2) {
            uint32_t cp = ((uint32_t)(s.ptr[i] & 0x1F) << 6) | (s.ptr[i + 1] & 0x3F);
            uint32_t m = case_map(cp, upper);
            o[i] = (uint8_t)(0xC0 | (m >> 6));
            o[i + 1] = (uint8_t)(0x80 | (m & 0x3F));
        } else {
            memcpy(o + i, s.ptr + i, l);
        }
        i += l;
    }
    *out = cm_datum_string(cm_slice_make(o, s.len));
    return 0;
}

static int concat(const cm_datum *const *args, uint32_t n, cm_arena *scratch, cm_datum *out,
                  cm_err *err)
{
    bool any_binary = false;
    size_t total = 0;
    cm_slice parts[CM_CX_STACK_MAX];
    for (uint32_t i = 0; i < n; i++) {
        if (args[i]->type == CM_DT_NULL) {
            *out = cm_datum_null();
            return 0;
        }
        bool binary;
        int rc = to_text(args[i], scratch, &parts[i], &binary, err);
        if (rc != 0) {
            return rc;
        }
        any_binary |= binary;
        total += parts[i].len;
    }
    uint8_t *o = cm_arena_alloc(scratch, total == 0 ? 1 : total);
    if (o == NULL) {
        return cm_err_set(err, CM_E_NOMEM, "cx: out of memory");
    }
    size_t at = 0;
    for (uint32_t i = 0; i < n; i++) {
        if (parts[i].len > 0) {
            memcpy(o + at, parts[i].ptr, parts[i].len);
        }
        at += parts[i].len;
    }
    cm_slice s = cm_slice_make(o, total);
    *out = any_binary ? cm_datum_bytes(s) : cm_datum_string(s);
    return 0;
}

static int like(const cm_datum *subj, const cm_datum *pat, uint8_t esc, cm_arena *scratch,
                cm_datum *out, cm_err *err)
{
    cm_slice s, p;
    bool bs, bp;
    int rc = to_text(subj, scratch, &s, &bs, err);
    if (rc == 0) {
        rc = to_text(pat, scratch, &p, &bp, err);
    }
    if (rc != 0) {
        return rc;
    }
    *out = cm_datum_int64(cm_cx_like_match(s, p, esc, bs || bp));
    return 0;
}

static int length_of(const cm_datum *a, bool chars, cm_arena *scratch, cm_datum *out, cm_err *err)
{
    cm_slice s;
    bool binary;
    int rc = to_text(a, scratch, &s, &binary, err);
    if (rc != 0) {
        return rc;
    }
    int64_t n = 0;
    if (!chars || binary) {
        n = (int64_t)s.len;
    } else {
        for (size_t i = 0; i < s.len; n++) {
            i += utf8_len(s.ptr + i, s.len - i);
        }
    }
    *out = cm_datum_int64(n);
    return 0;
}

/* Comparison operators: a op b (both non-NULL). */
static bool cmp_holds(int op, int c)
{
    switch (op) {
    case CM_CX_EQ:
        return c == 0;
    case CM_CX_NE:
        return c != 0;
    case CM_CX_LT:
        return c < 0;
    case CM_CX_LE:
        return c <= 0;
    case CM_CX_GT:
        return c > 0;
    default:
        return c >= 0;
    }
}

/* The value of an integer comparison or truth: INT64 0/1, written field by field (cheap). */
static void set_int(cm_datum *d, int64_t v)
{
    d->type = CM_DT_INT64;
    d->v.i64 = v;
}

static void set_truth(cm_datum *d, int t)
{
    if (t < 0) {
        d->type = CM_DT_NULL;
        d->v.u64 = 0;
    } else {
        set_int(d, t);
    }
}

/* Puts pick at depth base: a value computed at another depth is copied to res[base], since
 * res[that depth] is overwritten by the next operator there. */
static void settle(const cm_datum **st, cm_datum *res, int base, const cm_datum *pick)
{
    uintptr_t at = (uintptr_t)pick, lo = (uintptr_t)res;
    if (at >= lo && at < lo + CM_CX_STACK_MAX * sizeof(cm_datum) && pick != &res[base]) {
        res[base] = *pick;
        pick = &res[base];
    }
    st[base] = pick;
}

/* The evaluation stack holds pointers: to row values, to constants, or to res[k], the value an
 * operator computed at depth k, so columns and constants are never copied. An operator writes
 * its result to res[depth of its first operand] only after it has read its operands. */
int cm_cx_eval(const cm_cx *p, const cm_datum *row, cm_arena *scratch, cm_datum *out, cm_err *err)
{
    const cm_datum *st[CM_CX_STACK_MAX];
    cm_datum res[CM_CX_STACK_MAX];
    int sp = 0;
    int rc = 0;
    for (uint32_t k = 0; k < p->nins; k++) {
        const cx_ins *in = &p->ins[k];
        switch (in->op) {
        case CM_CX_COL:
            st[sp++] = &row[in->n];
            break;
        case CM_CX_CONST:
        case CM_CX_STR:
            st[sp++] = &in->k;
            break;
        case CM_CX_EQ:
        case CM_CX_NE:
        case CM_CX_LT:
        case CM_CX_LE:
        case CM_CX_GT:
        case CM_CX_GE: {
            const cm_datum *a = st[sp - 2], *b = st[sp - 1];
            cm_datum *r = &res[sp - 2];
            sp--;
            st[sp - 1] = r;
            if (a->type == CM_DT_NULL || b->type == CM_DT_NULL) {
                set_truth(r, -1);
                break;
            }
            int c;
            if (a->type == CM_DT_INT64 && b->type == CM_DT_INT64) { /* the common case */
                c = a->v.i64 < b->v.i64 ? -1 : (a->v.i64 > b->v.i64 ? 1 : 0);
            } else if ((rc = cm_cx_compare(a, b, scratch, &c, err)) != 0) {
                return rc;
            }
            set_int(r, cmp_holds(in->op, c));
            break;
        }
        case CM_CX_NULLEQ: {
            const cm_datum *a = st[sp - 2], *b = st[sp - 1];
            cm_datum *r = &res[sp - 2];
            sp--;
            st[sp - 1] = r;
            bool an = a->type == CM_DT_NULL, bn = b->type == CM_DT_NULL;
            if (an || bn) {
                set_int(r, an && bn);
                break;
            }
            int c;
            if ((rc = cm_cx_compare(a, b, scratch, &c, err)) != 0) {
                return rc;
            }
            set_int(r, c == 0);
            break;
        }
        case CM_CX_AND:
        case CM_CX_OR:
        case CM_CX_XOR: {
            int x = cm_cx_truth(st[sp - 2]), y = cm_cx_truth(st[sp - 1]);
            sp--;
            int t;
            if (in->op == CM_CX_AND) {
                t = (x == 0 || y == 0) ? 0 : (x < 0 || y < 0) ? -1 : 1;
            } else if (in->op == CM_CX_OR) {
                t = (x == 1 || y == 1) ? 1 : (x < 0 || y < 0) ? -1 : 0;
            } else {
                t = (x < 0 || y < 0) ? -1 : (x != y);
            }
            set_truth(&res[sp - 1], t);
            st[sp - 1] = &res[sp - 1];
            break;
        }
        case CM_CX_NOT:
        case CM_CX_ISNULL:
        case CM_CX_ISNOTNULL:
        case CM_CX_ISTRUE:
        case CM_CX_ISFALSE: {
            const cm_datum *a = st[sp - 1];
            cm_datum *r = &res[sp - 1];
            int x = cm_cx_truth(a);
            switch (in->op) {
            case CM_CX_NOT:
                set_truth(r, x < 0 ? -1 : !x);
                break;
            case CM_CX_ISNULL:
                set_int(r, x < 0);
                break;
            case CM_CX_ISNOTNULL:
                set_int(r, x >= 0);
                break;
            case CM_CX_ISTRUE:
                set_int(r, x == 1);
                break;
            default:
                set_int(r, x == 0);
                break;
            }
            st[sp - 1] = r;
            break;
        }
        case CM_CX_IN: {
            uint32_t n = in->n;
            int base = sp - (int)n - 1;
            const cm_datum *v = st[base];
            int t = -1;
            if (v->type != CM_DT_NULL) {
                bool any_null = false, found = false;
                for (uint32_t i = 0; i < n && !found; i++) {
                    const cm_datum *e = st[base + 1 + (int)i];
                    if (e->type == CM_DT_NULL) {
                        any_null = true;
                        continue;
                    }
                    int c;
                    if ((rc = cm_cx_compare(v, e, scratch, &c, err)) != 0) {
                        return rc;
                    }
                    found = c == 0;
                }
                t = found ? 1 : any_null ? -1 : 0;
            }
            sp = base + 1;
            set_truth(&res[base], t);
            st[base] = &res[base];
            break;
        }
        case CM_CX_LIKE: {
            const cm_datum *a = st[sp - 2], *b = st[sp - 1];
            cm_datum r;
            sp--;
            if (a->type == CM_DT_NULL || b->type == CM_DT_NULL) {
                r = cm_datum_null();
            } else if ((rc = like(a, b, in->esc, scratch, &r, err)) != 0) {
                return rc;
            }
            res[sp - 1] = r;
            st[sp - 1] = &res[sp - 1];
            break;
        }
        case CM_CX_ADD:
        case CM_CX_SUB:
        case CM_CX_MUL:
        case CM_CX_DIV:
        case CM_CX_INTDIV:
        case CM_CX_MOD: {
            const cm_datum *a = st[sp - 2], *b = st[sp - 1];
            cm_datum r;
            sp--;
            if (a->type == CM_DT_NULL || b->type == CM_DT_NULL) {
                r = cm_datum_null();
            } else if ((rc = arith(in->op, a, b, &r, err)) != 0) {
                return rc;
            }
            res[sp - 1] = r;
            st[sp - 1] = &res[sp - 1];
            break;
        }
        case CM_CX_NEG:
        case CM_CX_ABS:
        case CM_CX_LENGTH:
        case CM_CX_CHAR_LENGTH:
        case CM_CX_UPPER:
        case CM_CX_LOWER: {
            const cm_datum *a = st[sp - 1];
            if (a->type == CM_DT_NULL) {
                break; /* NULL stays */
            }
            cm_datum r;
            switch (in->op) {
            case CM_CX_NEG:
                rc = negate(a, &r, err);
                break;
            case CM_CX_ABS:
                rc = absolute(a, &r, err);
                break;
            case CM_CX_LENGTH:
            case CM_CX_CHAR_LENGTH:
                rc = length_of(a, in->op == CM_CX_CHAR_LENGTH, scratch, &r, err);
                break;
            default:
                rc = change_case(a, in->op == CM_CX_UPPER, scratch, &r, err);
                break;
            }
            if (rc != 0) {
                return rc;
            }
            res[sp - 1] = r;
            st[sp - 1] = &res[sp - 1];
            break;
        }
        case CM_CX_IFNULL:
            sp--;
            if (st[sp - 1]->type == CM_DT_NULL) {
                settle(st, res, sp - 1, st[sp]);
            }
            break;
        case CM_CX_COALESCE: {
            uint32_t n = in->n;
            int base = sp - (int)n;
            const cm_datum *pick = st[base + (int)n - 1]; /* the last one when all are NULL */
            for (uint32_t i = 0; i < n; i++) {
                if (st[base + (int)i]->type != CM_DT_NULL) {
                    pick = st[base + (int)i];
                    break;
                }
            }
            settle(st, res, base, pick);
            sp = base + 1;
            break;
        }
        case CM_CX_IF: {
            sp -= 2;
            int t = cm_cx_truth(st[sp - 1]);
            settle(st, res, sp - 1, t == 1 ? st[sp] : st[sp + 1]);
            break;
        }
        case CM_CX_CONCAT: {
            uint32_t n = in->n;
            int base = sp - (int)n;
            cm_datum r;
            if ((rc = concat(&st[base], n, scratch, &r, err)) != 0) {
                return rc;
            }
            res[base] = r;
            st[base] = &res[base];
            sp = base + 1;
            break;
        }
        default:
            /* decode accepts only the opcodes above */
            return cm_err_set(err, CM_E_INTERNAL, "cx: opcode %u not evaluable", in->op);
        }
    }
    *out = *st[0];
    return 0;
}

int cm_cx_filter(const cm_cx *p, const cm_datum *row, cm_arena *scratch, bool *keep, cm_err *err)
{
    cm_datum v;
    int rc = cm_cx_eval(p, row, scratch, &v, err);
    if (rc != 0) {
        return rc;
    }
    *keep = cm_cx_truth(&v) == 1;
    return 0;
}
