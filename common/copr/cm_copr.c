/*
 * cm_copr.c — the coprocessor plan codec (encode; decode with full validation, every program
 * decoded against the plan's columns) and the aggregate states both sides run (cm_copr.h).
 */
#include "cm_copr.h"
#include "cm_cx_int.h"

#include <math.h>
#include <string.h>

/* ---- plan encoding -------------------------------------------------------------------------- */

static int put_prog(cm_buf *b, cm_slice code)
{
    int rc = cm_buf_append_uvarint(b, code.len);
    return rc != 0 ? rc : cm_buf_append_slice(b, code);
}

/* A datum as plans and partial states carry it: the memcomparable datum, then for a DECIMAL its
 * scale (the key codec keeps only the value). */
static int put_datum(cm_buf *b, const cm_datum *d, cm_err *err)
{
    int rc = cm_codec_encode_datum(b, d, err);
    if (rc == 0 && d->type == CM_DT_DECIMAL) {
        rc = cm_buf_append_u8(b, d->v.dec.frac);
    }
    return rc;
}

/* Reads what put_datum wrote (payload copied into arena). CM_E_CORRUPT on bad input. */
static int get_datum(cm_reader *r, cm_arena *arena, cm_datum *d, cm_err *err)
{
    int rc = cm_codec_decode_datum(r, arena, d, err);
    if (rc != 0 || d->type != CM_DT_DECIMAL) {
        return rc;
    }
    uint8_t scale;
    if (cm_reader_u8(r, &scale) != 0) {
        return cm_err_set(err, CM_E_CORRUPT, "copr: truncated decimal scale");
    }
    if (scale > CM_DECIMAL_FRAC_MAX || scale < d->v.dec.frac ||
        d->v.dec.intg + scale > CM_DECIMAL_DIGITS_MAX ||
        cm_decimal_round(&d->v.dec, scale, &d->v.dec, NULL) != 0) {
        return cm_err_set(err, CM_E_CORRUPT, "copr: bad decimal scale %u", scale);
    }
    return 0;
}

static int encode_sections(const cm_copr_plan *p, cm_buf *sec, cm_buf *out, cm_err *err)
{
    int rc = 0;
    /* Each section is built in sec, then written as tag | len | bytes. */
#define SECTION(tag, body)                                                                         \
    do {                                                                                           \
        cm_buf_reset(sec);                                                                         \
        body;                                                                                      \
        if (rc == 0) {                                                                             \
            rc = cm_buf_append_u8(out, (tag));                                                     \
        }                                                                                          \
        if (rc == 0) {                                                                             \
            rc = put_prog(out, cm_buf_slice(sec));                                                 \
        }                                                                                          \
        if (rc != 0) {                                                                             \
            return rc == CM_E_NOMEM ? cm_err_set(err, rc, "copr: out of memory") : rc;             \
        }                                                                                          \
    } while (0)

    if (p->sel.len > 0) {
        SECTION(CM_COPR_SEC_SEL, rc = cm_buf_append_slice(sec, p->sel));
    }
    if (p->has_agg) {
        SECTION(CM_COPR_SEC_AGG, {
            rc = cm_buf_append_uvarint(sec, p->ngroup);
            for (uint32_t i = 0; rc == 0 && i < p->ngroup; i++) {
                rc = put_prog(sec, p->group[i]);
            }
            rc = rc != 0 ? rc : cm_buf_append_uvarint(sec, p->naggs);
            for (uint32_t i = 0; rc == 0 && i < p->naggs; i++) {
                rc = cm_buf_append_u8(sec, p->aggs[i].fn);
                rc = rc != 0 ? rc : put_prog(sec, p->aggs[i].arg);
            }
        });
    }
    if (p->has_topn) {
        SECTION(CM_COPR_SEC_TOPN, {
            rc = cm_buf_append_uvarint(sec, p->topn_limit);
            rc = rc != 0 ? rc : cm_buf_append_uvarint(sec, p->norder);
            for (uint32_t i = 0; rc == 0 && i < p->norder; i++) {
                rc = cm_buf_append_u8(sec, p->order[i].desc ? 1 : 0);
                rc = rc != 0 ? rc : put_prog(sec, p->order[i].expr);
            }
        });
    }
    if (p->has_limit) {
        SECTION(CM_COPR_SEC_LIMIT, rc = cm_buf_append_uvarint(sec, p->limit));
    }
    if (p->has_out) {
        SECTION(CM_COPR_SEC_OUT, {
            rc = cm_buf_append_uvarint(sec, p->nout);
            for (uint32_t i = 0; rc == 0 && i < p->nout; i++) {
                rc = cm_buf_append_uvarint(sec, p->out[i]);
            }
        });
    }
    if (p->ndflt > 0) {
        SECTION(CM_COPR_SEC_DFLT, {
            rc = cm_buf_append_uvarint(sec, p->ndflt);
            for (uint32_t i = 0; rc == 0 && i < p->ndflt; i++) {
                rc = cm_buf_append_uvarint(sec, p->dflt[i].col);
                rc = rc != 0 ? rc : put_datum(sec, &p->dflt[i].value, err);
            }
        });
    }
#undef SECTION
    return 0;
}

static int check_plan(const cm_copr_plan *p, cm_err *err)
{
    if (p->scan != CM_COPR_SCAN_TABLE && p->scan != CM_COPR_SCAN_INDEX) {
        return cm_err_set(err, CM_E_INVALID, "copr: bad scan kind %u", p->scan);
    }
    if (p->ncols > CM_COPR_COLS_MAX || p->ngroup > CM_COPR_GROUPBY_MAX ||
        p->naggs > CM_COPR_AGGS_MAX || p->norder > CM_COPR_ORDER_MAX ||
        p->nout > CM_COPR_COLS_MAX || p->ndflt > p->ncols) {
        return cm_err_set(err, CM_E_INVALID, "copr: a list of the plan is over its maximum");
    }
    if (p->has_agg && (p->has_topn || p->has_limit)) {
        return cm_err_set(err, CM_E_INVALID, "copr: AGG with TOPN or LIMIT");
    }
    if (p->has_limit && p->has_topn) {
        return cm_err_set(err, CM_E_INVALID, "copr: LIMIT with TOPN");
    }
    if (p->has_topn && (p->topn_limit > CM_COPR_TOPN_MAX || p->norder == 0)) {
        return cm_err_set(err, CM_E_INVALID, "copr: TOPN limit over %u or without an order",
                          CM_COPR_TOPN_MAX);
    }
    for (uint32_t i = 0; i < p->naggs; i++) {
        if (p->aggs[i].fn < CM_COPR_COUNT || p->aggs[i].fn > CM_COPR_AVG ||
            (p->aggs[i].arg.len == 0 && p->aggs[i].fn != CM_COPR_COUNT)) {
            return cm_err_set(err, CM_E_INVALID, "copr: bad aggregate %u", i);
        }
    }
    for (uint32_t i = 0; i < p->nout; i++) {
        if (p->out[i] >= p->ncols) {
            return cm_err_set(err, CM_E_INVALID, "copr: output column %u out of range", i);
        }
    }
    for (uint32_t i = 0; i < p->ndflt; i++) {
        if (p->dflt[i].col >= p->ncols) {
            return cm_err_set(err, CM_E_INVALID, "copr: default of column %u out of range",
                              p->dflt[i].col);
        }
    }
    return 0;
}

int cm_copr_plan_encode(const cm_copr_plan *p, cm_buf *out, cm_err *err)
{
    int rc = check_plan(p, err);
    if (rc != 0) {
        return rc;
    }
    size_t start = out->len;
    uint32_t nsec =
        (p->sel.len > 0) + p->has_agg + p->has_topn + p->has_limit + p->has_out + (p->ndflt > 0);
    rc = cm_buf_append_u8(out, CM_COPR_PLAN_VERSION);
    rc = rc != 0 ? rc : cm_buf_append_u8(out, p->scan);
    rc = rc != 0 ? rc : cm_buf_append_uvarint(out, p->ncols);
    for (uint32_t i = 0; rc == 0 && i < p->ncols; i++) {
        rc = cm_buf_append_uvarint(out, p->cols[i].id);
        rc = rc != 0 ? rc : cm_buf_append_u8(out, p->cols[i].dtype);
    }
    rc = rc != 0 ? rc : cm_buf_append_uvarint(out, nsec);
    if (rc != 0) {
        out->len = start;
        return cm_err_set(err, rc, "copr: out of memory");
    }
    cm_buf sec = CM_BUF_INIT;
    rc = encode_sections(p, &sec, out, err);
    cm_buf_fini(&sec);
    if (rc != 0) {
        out->len = start;
    }
    return rc;
}

/* ---- plan decoding -------------------------------------------------------------------------- */

static int corrupt(cm_err *err, const char *what)
{
    return cm_err_set(err, CM_E_INVALID, "copr: plan: %s", what);
}

static int get_count(cm_reader *r, uint64_t max, uint32_t *n, const char *what, cm_err *err)
{
    uint64_t v;
    if (cm_reader_uvarint(r, &v) != 0) {
        return corrupt(err, what);
    }
    if (v > max) {
        return cm_err_set(err, CM_E_INVALID, "copr: plan: %s %llu over %llu", what,
                          (unsigned long long)v, (unsigned long long)max);
    }
    *n = (uint32_t)v;
    return 0;
}

/* A program: uvarint len | code, decoded against ncols to validate it. */
static int get_prog(cm_reader *r, const cm_copr_plan *p, cm_arena *arena, bool allow_empty,
                    cm_slice *code, cm_err *err)
{
    uint64_t len;
    if (cm_reader_uvarint(r, &len) != 0 || len > cm_reader_left(r)) {
        return corrupt(err, "truncated program");
    }
    (void)cm_reader_bytes(r, (size_t)len, code);
    if (len == 0 && allow_empty) {
        return 0;
    }
    cm_cx *cx;
    return cm_cx_decode(*code, p->ncols, arena, &cx, err);
}

static void *arena_array(cm_arena *arena, size_t n, size_t size)
{
    return cm_arena_alloc(arena, n == 0 ? 1 : n * size);
}

#define NOMEM_IF_NULL(x)                                                                           \
    do {                                                                                           \
        if ((x) == NULL) {                                                                         \
            return cm_err_set(err, CM_E_NOMEM, "copr: out of memory");                             \
        }                                                                                          \
    } while (0)

static int decode_agg(cm_reader *r, cm_copr_plan *p, cm_arena *arena, cm_err *err)
{
    int rc = get_count(r, CM_COPR_GROUPBY_MAX, &p->ngroup, "GROUP BY count", err);
    if (rc != 0) {
        return rc;
    }
    cm_slice *group = arena_array(arena, p->ngroup, sizeof(*group));
    NOMEM_IF_NULL(group);
    for (uint32_t i = 0; i < p->ngroup; i++) {
        if ((rc = get_prog(r, p, arena, false, &group[i], err)) != 0) {
            return rc;
        }
    }
    p->group = group;
    if ((rc = get_count(r, CM_COPR_AGGS_MAX, &p->naggs, "aggregate count", err)) != 0) {
        return rc;
    }
    cm_copr_agg *aggs = arena_array(arena, p->naggs, sizeof(*aggs));
    NOMEM_IF_NULL(aggs);
    for (uint32_t i = 0; i < p->naggs; i++) {
        if (cm_reader_u8(r, &aggs[i].fn) != 0) {
            return corrupt(err, "truncated aggregate");
        }
        if (aggs[i].fn < CM_COPR_COUNT || aggs[i].fn > CM_COPR_AVG) {
            return corrupt(err, "unknown aggregate function");
        }
        bool star = aggs[i].fn == CM_COPR_COUNT;
        if ((rc = get_prog(r, p, arena, star, &aggs[i].arg, err)) != 0) {
            return rc;
        }
    }
    p->aggs = aggs;
    p->has_agg = true;
    return 0;
}

static int decode_topn(cm_reader *r, cm_copr_plan *p, cm_arena *arena, cm_err *err)
{
    if (cm_reader_uvarint(r, &p->topn_limit) != 0) {
        return corrupt(err, "truncated TOPN");
    }
    if (p->topn_limit > CM_COPR_TOPN_MAX) {
        return corrupt(err, "TOPN limit over its maximum");
    }
    int rc = get_count(r, CM_COPR_ORDER_MAX, &p->norder, "ORDER BY count", err);
    if (rc != 0) {
        return rc;
    }
    if (p->norder == 0) {
        return corrupt(err, "TOPN without an order");
    }
    cm_copr_order *order = arena_array(arena, p->norder, sizeof(*order));
    NOMEM_IF_NULL(order);
    for (uint32_t i = 0; i < p->norder; i++) {
        uint8_t desc;
        if (cm_reader_u8(r, &desc) != 0 || desc > 1) {
            return corrupt(err, "bad ORDER BY direction");
        }
        order[i].desc = desc == 1;
        if ((rc = get_prog(r, p, arena, false, &order[i].expr, err)) != 0) {
            return rc;
        }
    }
    p->order = order;
    p->has_topn = true;
    return 0;
}

static int decode_out(cm_reader *r, cm_copr_plan *p, cm_arena *arena, cm_err *err)
{
    int rc = get_count(r, CM_COPR_COLS_MAX, &p->nout, "output column count", err);
    if (rc != 0) {
        return rc;
    }
    uint32_t *out = arena_array(arena, p->nout, sizeof(*out));
    NOMEM_IF_NULL(out);
    for (uint32_t i = 0; i < p->nout; i++) {
        uint64_t v;
        if (cm_reader_uvarint(r, &v) != 0 || v >= p->ncols) {
            return corrupt(err, "bad output column");
        }
        out[i] = (uint32_t)v;
    }
    p->out = out;
    p->has_out = true;
    return 0;
}

static int decode_dflt(cm_reader *r, cm_copr_plan *p, cm_arena *arena, cm_err *err)
{
    int rc = get_count(r, p->ncols, &p->ndflt, "default count", err);
    if (rc != 0) {
        return rc;
    }
    cm_copr_dflt *d = arena_array(arena, p->ndflt, sizeof(*d));
    NOMEM_IF_NULL(d);
    for (uint32_t i = 0; i < p->ndflt; i++) {
        uint64_t v;
        if (cm_reader_uvarint(r, &v) != 0 || v >= p->ncols) {
            return corrupt(err, "bad default column");
        }
        d[i].col = (uint32_t)v;
        rc = get_datum(r, arena, &d[i].value, err);
        if (rc == CM_E_NOMEM) {
            return rc;
        }
        if (rc != 0) {
            return corrupt(err, "bad default value");
        }
    }
    p->dflt = d;
    return 0;
}

static int decode_section(uint8_t tag, cm_slice body, cm_copr_plan *p, cm_arena *arena, cm_err *err)
{
    cm_reader r;
    cm_reader_init(&r, body.ptr, body.len);
    int rc;
    switch (tag) {
    case CM_COPR_SEC_SEL:
        if (body.len == 0) {
            return corrupt(err, "empty selection");
        }
        p->sel = body;
        {
            cm_cx *cx;
            return cm_cx_decode(body, p->ncols, arena, &cx, err);
        }
    case CM_COPR_SEC_AGG:
        rc = decode_agg(&r, p, arena, err);
        break;
    case CM_COPR_SEC_TOPN:
        rc = decode_topn(&r, p, arena, err);
        break;
    case CM_COPR_SEC_LIMIT:
        rc = cm_reader_uvarint(&r, &p->limit) != 0 ? corrupt(err, "truncated LIMIT") : 0;
        p->has_limit = true;
        break;
    case CM_COPR_SEC_OUT:
        rc = decode_out(&r, p, arena, err);
        break;
    case CM_COPR_SEC_DFLT:
        rc = decode_dflt(&r, p, arena, err);
        break;
    default:
        return cm_err_set(err, CM_E_UNSUPPORTED, "copr: plan: unknown section %u", tag);
    }
    if (rc == 0 && cm_reader_left(&r) != 0) {
        return corrupt(err, "bytes after a section");
    }
    return rc;
}

static int decode_cols(cm_reader *r, cm_copr_plan *p, cm_arena *arena, cm_err *err)
{
    int rc = get_count(r, CM_COPR_COLS_MAX, &p->ncols, "column count", err);
    if (rc != 0) {
        return rc;
    }
    cm_copr_pcol *cols = arena_array(arena, p->ncols, sizeof(*cols));
    NOMEM_IF_NULL(cols);
    for (uint32_t i = 0; i < p->ncols; i++) {
        uint64_t id;
        if (cm_reader_uvarint(r, &id) != 0 || id > UINT32_MAX ||
            cm_reader_u8(r, &cols[i].dtype) != 0) {
            return corrupt(err, "truncated column");
        }
        cols[i].id = (uint32_t)id;
        if (cols[i].dtype == CM_DT_NULL || cols[i].dtype >= CM_DT_COUNT_) {
            return corrupt(err, "bad column type");
        }
        if (cols[i].id == CM_COPR_HANDLE_ID &&
            (cols[i].dtype != CM_DT_INT64 ||
             (p->scan == CM_COPR_SCAN_INDEX && i + 1 != p->ncols))) {
            return corrupt(err, "bad handle column");
        }
    }
    p->cols = cols;
    return 0;
}

int cm_copr_plan_decode(cm_slice data, cm_arena *arena, cm_copr_plan *out, cm_err *err)
{
    cm_copr_plan p;
    memset(&p, 0, sizeof(p));
    cm_reader r;
    cm_reader_init(&r, data.ptr, data.len);
    uint8_t version, scan;
    if (cm_reader_u8(&r, &version) != 0 || cm_reader_u8(&r, &scan) != 0) {
        return corrupt(err, "truncated header");
    }
    if (version != CM_COPR_PLAN_VERSION) {
        return cm_err_set(err, CM_E_UNSUPPORTED, "copr: plan version %u", version);
    }
    if (scan != CM_COPR_SCAN_TABLE && scan != CM_COPR_SCAN_INDEX) {
        return cm_err_set(err, CM_E_UNSUPPORTED, "copr: scan kind %u", scan);
    }
    p.scan = scan;
    int rc = decode_cols(&r, &p, arena, err);
    if (rc != 0) {
        return rc;
    }
    uint32_t nsec;
    if ((rc = get_count(&r, 6, &nsec, "section count", err)) != 0) {
        return rc;
    }
    unsigned seen = 0;
    for (uint32_t i = 0; i < nsec; i++) {
        uint8_t tag;
        uint64_t len;
        cm_slice body;
        if (cm_reader_u8(&r, &tag) != 0 || cm_reader_uvarint(&r, &len) != 0 ||
            len > cm_reader_left(&r)) {
            return corrupt(err, "truncated section");
        }
        (void)cm_reader_bytes(&r, (size_t)len, &body);
        if (tag >= 1 && tag <= 6) {
            if (seen & (1u << tag)) {
                return corrupt(err, "section repeated");
            }
            seen |= 1u << tag;
        }
        if ((rc = decode_section(tag, body, &p, arena, err)) != 0) {
            return rc;
        }
    }
    if (cm_reader_left(&r) != 0) {
        return corrupt(err, "bytes after the last section");
    }
    if ((p.has_agg && (p.has_topn || p.has_limit)) || (p.has_topn && p.has_limit)) {
        return corrupt(err, "AGG, TOPN and LIMIT do not combine");
    }
    *out = p;
    return 0;
}

/* ---- aggregate states ----------------------------------------------------------------------- */

enum { K_NONE, K_INT, K_DEC, K_DBL };

/* Integer sums spill into a decimal before they could leave 128 bits. */
#define ISUM_LIMIT ((__int128)1 << 120)

static void int128_decimal(__int128 v, cm_decimal *out)
{
    unsigned __int128 m = v < 0 ? -(unsigned __int128)v : (unsigned __int128)v;
    uint8_t tmp[40];
    unsigned n = 0;
    cm_decimal_zero(out, 0);
    while (m > 0) {
        tmp[n++] = (uint8_t)(m % 10);
        m /= 10;
    }
    for (unsigned i = 0; i < n; i++) {
        out->digits[i] = tmp[n - 1 - i];
    }
    out->intg = (uint8_t)n;
    out->neg = v < 0;
}

void cm_copr_agg_init(cm_copr_agg_state *s, cm_copr_aggfn fn)
{
    memset(s, 0, sizeof(*s));
    s->fn = (uint8_t)fn;
    s->kind = K_NONE;
    cm_buf_init(&s->mem);
    s->m = cm_datum_null();
}

void cm_copr_agg_fini(cm_copr_agg_state *s)
{
    cm_buf_fini(&s->mem);
    s->m = cm_datum_null();
    s->has = false;
}

static int sum_range(cm_err *err)
{
    return cm_err_set(err, CM_E_BIGINT_RANGE, "DECIMAL value is out of range");
}

/* The current exact sum as a decimal (K_INT or K_DEC). */
static void sum_decimal(const cm_copr_agg_state *s, cm_decimal *out)
{
    if (s->kind == K_INT) {
        int128_decimal(s->isum, out);
    } else {
        *out = s->dec;
    }
}

static double sum_double(const cm_copr_agg_state *s)
{
    if (s->kind == K_DBL) {
        return s->dsum;
    }
    if (s->kind == K_NONE) {
        return 0;
    }
    cm_decimal d;
    sum_decimal(s, &d);
    return cm_decimal_to_double(&d);
}

static int add_double(cm_copr_agg_state *s, double v, cm_err *err)
{
    double r = sum_double(s) + v;
    if (!isfinite(r)) {
        return cm_err_set(err, CM_E_BIGINT_RANGE, "DOUBLE value is out of range");
    }
    s->dsum = r;
    s->kind = K_DBL;
    return 0;
}

static int add_decimal(cm_copr_agg_state *s, const cm_decimal *v, cm_err *err)
{
    if (s->kind == K_DBL) {
        return add_double(s, cm_decimal_to_double(v), err);
    }
    cm_decimal cur;
    if (s->kind == K_NONE) {
        cm_decimal_zero(&cur, 0);
    } else {
        sum_decimal(s, &cur);
    }
    if (cm_decimal_add(&cur, v, &s->dec, NULL) != 0) {
        return sum_range(err);
    }
    s->kind = K_DEC;
    return 0;
}

static int add_int(cm_copr_agg_state *s, __int128 v, cm_err *err)
{
    if (s->kind == K_NONE) {
        s->kind = K_INT;
        s->isum = 0;
    }
    if (s->kind == K_INT) {
        __int128 r = s->isum + v; /* |isum| < 2^120 and |v| < 2^64 */
        if (r < ISUM_LIMIT && r > -ISUM_LIMIT) {
            s->isum = r;
            return 0;
        }
    }
    if (s->kind == K_DBL) {
        return add_double(s, (double)v, err);
    }
    cm_decimal d;
    int128_decimal(v, &d);
    return add_decimal(s, &d, err);
}

/* Adds a number (cm_cx_to_number's form) to a SUM/AVG. */
static int sum_add(cm_copr_agg_state *s, const cm_datum *n, cm_err *err)
{
    switch (n->type) {
    case CM_DT_INT64:
        return add_int(s, n->v.i64, err);
    case CM_DT_UINT64:
        return add_int(s, n->v.u64, err);
    case CM_DT_DECIMAL:
        return add_decimal(s, &n->v.dec, err);
    default:
        return add_double(s, n->v.f64, err);
    }
}

/* Keeps v in s->m with its payload copied into s->mem. */
static int keep_value(cm_copr_agg_state *s, const cm_datum *v, cm_err *err)
{
    s->m = *v;
    if (v->type == CM_DT_STRING || v->type == CM_DT_BYTES || v->type == CM_DT_JSON) {
        cm_buf_reset(&s->mem);
        if (cm_buf_append_slice(&s->mem, v->v.bytes) != 0) {
            s->has = false;
            return cm_err_set(err, CM_E_NOMEM, "copr: out of memory");
        }
        s->m.v.bytes = cm_buf_slice(&s->mem);
    }
    s->has = true;
    return 0;
}

static int minmax_add(cm_copr_agg_state *s, const cm_datum *v, cm_arena *scratch, cm_err *err)
{
    if (s->has) {
        int c;
        int rc = cm_cx_compare(v, &s->m, scratch, &c, err);
        if (rc != 0) {
            return rc;
        }
        if (s->fn == CM_COPR_MIN ? c >= 0 : c <= 0) {
            return 0; /* the first of equal values stays */
        }
    }
    return keep_value(s, v, err);
}

int cm_copr_agg_add(cm_copr_agg_state *s, const cm_datum *v, cm_arena *scratch, cm_err *err)
{
    if (s->fn == CM_COPR_COUNT) {
        if (v == NULL || v->type != CM_DT_NULL) {
            s->count++;
        }
        return 0;
    }
    if (v == NULL || v->type == CM_DT_NULL) {
        return 0;
    }
    if (s->fn == CM_COPR_MIN || s->fn == CM_COPR_MAX) {
        return minmax_add(s, v, scratch, err);
    }
    cm_datum n;
    cm_cx_to_number(v, &n);
    int rc = sum_add(s, &n, err);
    if (rc == 0) {
        s->count++;
        s->has = true;
    }
    return rc;
}

static int put_sum(const cm_copr_agg_state *s, cm_buf *out, cm_err *err)
{
    cm_datum d;
    if (!s->has || s->kind == K_NONE) {
        d = cm_datum_null();
    } else if (s->kind == K_DBL) {
        d = cm_datum_float64(s->dsum);
    } else {
        d.type = CM_DT_DECIMAL;
        sum_decimal(s, &d.v.dec);
    }
    return put_datum(out, &d, err);
}

int cm_copr_agg_partial_encode(const cm_copr_agg_state *s, cm_buf *out, cm_err *err)
{
    size_t start = out->len;
    int rc;
    switch (s->fn) {
    case CM_COPR_COUNT: {
        cm_datum d = cm_datum_int64((int64_t)s->count);
        rc = cm_codec_encode_datum(out, &d, err);
        break;
    }
    case CM_COPR_SUM:
        rc = put_sum(s, out, err);
        break;
    case CM_COPR_AVG: {
        rc = put_sum(s, out, err);
        cm_datum c = cm_datum_int64((int64_t)s->count);
        rc = rc != 0 ? rc : cm_codec_encode_datum(out, &c, err);
        break;
    }
    default: {
        cm_datum d = s->has ? s->m : cm_datum_null();
        rc = put_datum(out, &d, err);
        break;
    }
    }
    if (rc != 0) {
        out->len = start;
    }
    return rc;
}

static int bad_partial(cm_err *err, const char *why)
{
    return cm_err_set(err, CM_E_CORRUPT, "copr: partial aggregate: %s", why);
}

/* A partial count: an INT64 ≥ 0. */
static int get_count_datum(cm_reader *r, cm_arena *arena, uint64_t *n, cm_err *err)
{
    cm_datum d;
    int rc = cm_codec_decode_datum(r, arena, &d, err);
    if (rc != 0) {
        return rc;
    }
    if (d.type != CM_DT_INT64 || d.v.i64 < 0) {
        return bad_partial(err, "count is not a non-negative INT64");
    }
    *n = (uint64_t)d.v.i64;
    return 0;
}

static int merge_sum(cm_copr_agg_state *s, cm_reader *r, cm_arena *arena, bool *had, cm_err *err)
{
    cm_datum d;
    int rc = get_datum(r, arena, &d, err);
    if (rc != 0) {
        return rc;
    }
    *had = d.type != CM_DT_NULL;
    switch (d.type) {
    case CM_DT_NULL:
        return 0;
    case CM_DT_DECIMAL:
        if (d.v.dec.frac == 0 && d.v.dec.intg <= 36 && s->kind != K_DEC && s->kind != K_DBL) {
            __int128 v = 0;
            for (unsigned i = 0; i < d.v.dec.intg; i++) {
                v = v * 10 + d.v.dec.digits[i];
            }
            if (s->kind == K_NONE) {
                s->kind = K_INT;
                s->isum = 0;
            }
            __int128 sum = s->isum + (d.v.dec.neg ? -v : v);
            if (sum < ISUM_LIMIT && sum > -ISUM_LIMIT) {
                s->isum = sum;
                break;
            }
        }
        rc = add_decimal(s, &d.v.dec, err);
        break;
    case CM_DT_FLOAT64:
        rc = add_double(s, d.v.f64, err);
        break;
    default:
        return bad_partial(err, "sum is not a DECIMAL, FLOAT64 or NULL");
    }
    if (rc == 0) {
        s->has = true;
    }
    return rc;
}

int cm_copr_agg_merge(cm_copr_agg_state *s, cm_reader *r, cm_arena *arena, cm_err *err)
{
    size_t start = r->pos;
    int rc = 0;
    switch (s->fn) {
    case CM_COPR_COUNT: {
        uint64_t n;
        rc = get_count_datum(r, arena, &n, err);
        if (rc == 0) {
            s->count += n;
        }
        break;
    }
    case CM_COPR_SUM: {
        bool had;
        rc = merge_sum(s, r, arena, &had, err);
        break;
    }
    case CM_COPR_AVG: {
        /* Read both parts before changing s, so a bad partial leaves it as it was. */
        cm_copr_agg_state save = *s;
        bool had;
        uint64_t n = 0;
        rc = merge_sum(s, r, arena, &had, err);
        if (rc == 0) {
            rc = get_count_datum(r, arena, &n, err);
        }
        if (rc == 0 && had != (n > 0)) {
            rc = bad_partial(err, "AVG count does not match its sum");
        }
        if (rc != 0) {
            *s = save;
            break;
        }
        s->count += n;
        break;
    }
    case CM_COPR_MIN:
    case CM_COPR_MAX: {
        cm_datum d;
        rc = get_datum(r, arena, &d, err);
        if (rc == 0 && d.type != CM_DT_NULL) {
            rc = minmax_add(s, &d, arena, err);
        }
        break;
    }
    default:
        rc = cm_err_set(err, CM_E_INVALID, "copr: aggregate function %u", s->fn);
        break;
    }
    if (rc == CM_E_INVALID && s->fn >= CM_COPR_COUNT && s->fn <= CM_COPR_AVG) {
        rc = bad_partial(err, "undecodable value");
    }
    if (rc != 0) {
        r->pos = start;
    }
    return rc;
}

int cm_copr_agg_final(const cm_copr_agg_state *s, cm_arena *arena, cm_datum *out, cm_err *err)
{
    switch (s->fn) {
    case CM_COPR_COUNT:
        *out = cm_datum_int64((int64_t)s->count);
        return 0;
    case CM_COPR_SUM:
        if (!s->has || s->kind == K_NONE) {
            *out = cm_datum_null();
        } else if (s->kind == K_DBL) {
            *out = cm_datum_float64(s->dsum);
        } else {
            out->type = CM_DT_DECIMAL;
            sum_decimal(s, &out->v.dec);
        }
        return 0;
    case CM_COPR_AVG: {
        if (!s->has || s->count == 0 || s->kind == K_NONE) {
            *out = cm_datum_null();
            return 0;
        }
        if (s->kind == K_DBL) {
            *out = cm_datum_float64(s->dsum / (double)s->count);
            return 0;
        }
        cm_decimal sum, cnt, q;
        sum_decimal(s, &sum);
        cm_decimal_from_uint64(s->count, &cnt);
        unsigned scale = sum.frac + 4u < CM_DECIMAL_FRAC_MAX ? sum.frac + 4u : CM_DECIMAL_FRAC_MAX;
        if (cm_decimal_div(&sum, &cnt, scale, &q, NULL) != 0) {
            return sum_range(err);
        }
        *out = cm_datum_decimal(&q);
        return 0;
    }
    default:
        if (!s->has) {
            *out = cm_datum_null();
            return 0;
        }
        *out = s->m;
        if ((s->m.type == CM_DT_STRING || s->m.type == CM_DT_BYTES || s->m.type == CM_DT_JSON) &&
            s->m.v.bytes.len > 0) { /* an empty value keeps its (possibly NULL) empty slice */
            void *p = cm_arena_memdup(arena, s->m.v.bytes.ptr, s->m.v.bytes.len);
            if (p == NULL) {
                return cm_err_set(err, CM_E_NOMEM, "copr: out of memory");
            }
            out->v.bytes = cm_slice_make(p, s->m.v.bytes.len);
        }
        return 0;
    }
}
