/*
 * cm_cx.c — the coprocessor's expression bytecode: builder, decoder (validates everything once)
 * and evaluator (a loop over pre-decoded instructions with a fixed stack, no allocation except
 * strings and numbers printed into the scratch arena). Semantics: cm_cx.h and
 * docs/coprocessor.md "Expression bytecode and aggregate states".
 */
#include "cm_cx.h"
#include "cm_cx_int.h"

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

/* The first poisoned operand of st[base .. base+n), or NULL. */
static const cm_datum *poisoned(const cm_datum *const *st, int base, int n)
{
    for (int i = 0; i < n; i++) {
        if (st[base + i]->type == DT_POISON) {
            return st[base + i];
        }
    }
    return NULL;
}

/* The result of the operator at depth base: a computed value, or rc turned into poison. */
static int put_result(const cm_datum **st, cm_datum *res, int base, const cm_datum *r, int rc)
{
    if (rc == CM_E_BIGINT_RANGE) {
        res[base].type = DT_POISON;
        res[base].v.i64 = rc;
    } else if (rc != 0) {
        return rc;
    } else {
        res[base] = *r;
    }
    st[base] = &res[base];
    return 0;
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
        case CM_CX_GE:
        case CM_CX_LIKE: {
            /* MySQL evaluates the right operand only when the left is not NULL */
            const cm_datum *a = st[sp - 2], *b = st[sp - 1];
            cm_datum *r = &res[sp - 2];
            sp--;
            if (a->type == CM_DT_NULL || a->type == DT_POISON) {
                settle(st, res, sp - 1, a);
                break;
            }
            if (b->type == CM_DT_NULL || b->type == DT_POISON) {
                settle(st, res, sp - 1, b);
                break;
            }
            if (in->op == CM_CX_LIKE) {
                cm_datum l;
                if ((rc = cm_cx_like_values(a, b, in->esc, scratch, &l, err)) != 0) {
                    return rc;
                }
                *r = l;
                st[sp - 1] = r;
                break;
            }
            int c;
            if (a->type == CM_DT_INT64 && b->type == CM_DT_INT64) { /* the common case */
                c = a->v.i64 < b->v.i64 ? -1 : (a->v.i64 > b->v.i64 ? 1 : 0);
            } else if ((rc = cm_cx_compare(a, b, scratch, &c, err)) != 0) {
                return rc;
            }
            set_int(r, cmp_holds(in->op, c));
            st[sp - 1] = r;
            break;
        }
        case CM_CX_NULLEQ: {
            const cm_datum *a = st[sp - 2], *b = st[sp - 1], *bad_v = poisoned(st, sp - 2, 2);
            sp--;
            if (bad_v != NULL) {
                settle(st, res, sp - 1, bad_v);
                break;
            }
            cm_datum *r = &res[sp - 1];
            bool an = a->type == CM_DT_NULL, bn = b->type == CM_DT_NULL;
            int c = 0;
            if (!an && !bn && (rc = cm_cx_compare(a, b, scratch, &c, err)) != 0) {
                return rc;
            }
            set_int(r, (an || bn) ? (an && bn) : c == 0);
            st[sp - 1] = r;
            break;
        }
        case CM_CX_AND:
        case CM_CX_OR: {
            const cm_datum *a = st[sp - 2], *b = st[sp - 1];
            sp--;
            int stop = in->op == CM_CX_AND ? 0 : 1; /* the value that decides without b */
            if (a->type == DT_POISON) {
                settle(st, res, sp - 1, a);
                break;
            }
            int x = cm_cx_truth(a);
            if (x == stop) {
                set_int(&res[sp - 1], stop);
                st[sp - 1] = &res[sp - 1];
                break;
            }
            if (b->type == DT_POISON) {
                settle(st, res, sp - 1, b);
                break;
            }
            int y = cm_cx_truth(b);
            set_truth(&res[sp - 1], y == stop ? stop : (x < 0 || y < 0) ? -1 : !stop);
            st[sp - 1] = &res[sp - 1];
            break;
        }
        case CM_CX_XOR: {
            const cm_datum *bad_v = poisoned(st, sp - 2, 2);
            sp--;
            if (bad_v != NULL) {
                settle(st, res, sp - 1, bad_v);
                break;
            }
            int x = cm_cx_truth(st[sp - 1]), y = cm_cx_truth(st[sp]);
            set_truth(&res[sp - 1], (x < 0 || y < 0) ? -1 : (x != y));
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
            if (a->type == DT_POISON) {
                break;
            }
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
            const cm_datum *v = st[base], *stop = NULL;
            int t = -1;
            if (v->type == DT_POISON) {
                stop = v;
            } else if (v->type != CM_DT_NULL) {
                bool any_null = false, found = false;
                for (uint32_t i = 0; i < n && !found && stop == NULL; i++) {
                    const cm_datum *e = st[base + 1 + (int)i];
                    if (e->type == DT_POISON) {
                        stop = e;
                        break;
                    }
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
            if (stop != NULL) {
                settle(st, res, base, stop);
                break;
            }
            set_truth(&res[base], t);
            st[base] = &res[base];
            break;
        }
        case CM_CX_ADD:
        case CM_CX_SUB:
        case CM_CX_MUL:
        case CM_CX_DIV:
        case CM_CX_INTDIV:
        case CM_CX_MOD: {
            const cm_datum *a = st[sp - 2], *b = st[sp - 1], *bad_v = poisoned(st, sp - 2, 2);
            sp--;
            if (bad_v != NULL) {
                settle(st, res, sp - 1, bad_v);
                break;
            }
            cm_datum r = cm_datum_null();
            if (a->type != CM_DT_NULL && b->type != CM_DT_NULL) {
                rc = cm_cx_arith(in->op, a, b, &r, err);
            }
            if ((rc = put_result(st, res, sp - 1, &r, rc)) != 0) {
                return rc;
            }
            break;
        }
        case CM_CX_NEG:
        case CM_CX_ABS:
        case CM_CX_LENGTH:
        case CM_CX_CHAR_LENGTH:
        case CM_CX_UPPER:
        case CM_CX_LOWER: {
            const cm_datum *a = st[sp - 1];
            if (a->type == CM_DT_NULL || a->type == DT_POISON) {
                break; /* NULL and errors stay */
            }
            cm_datum r;
            switch (in->op) {
            case CM_CX_NEG:
                rc = cm_cx_neg(a, &r, err);
                break;
            case CM_CX_ABS:
                rc = cm_cx_abs(a, &r, err);
                break;
            case CM_CX_LENGTH:
            case CM_CX_CHAR_LENGTH:
                rc = cm_cx_length(a, in->op == CM_CX_CHAR_LENGTH, scratch, &r, err);
                break;
            default:
                rc = cm_cx_change_case(a, in->op == CM_CX_UPPER, scratch, &r, err);
                break;
            }
            if ((rc = put_result(st, res, sp - 1, &r, rc)) != 0) {
                return rc;
            }
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
                if (st[base + (int)i]->type != CM_DT_NULL) { /* a value, or an error */
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
            const cm_datum *c = st[sp - 1];
            if (c->type == DT_POISON) {
                break;
            }
            settle(st, res, sp - 1, cm_cx_truth(c) == 1 ? st[sp] : st[sp + 1]);
            break;
        }
        case CM_CX_CONCAT: {
            uint32_t n = in->n;
            int base = sp - (int)n;
            cm_datum r;
            if ((rc = cm_cx_concat(&st[base], n, scratch, &r, err)) != 0) {
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
    if (st[0]->type == DT_POISON) {
        /* err holds the message of the error that was raised */
        return CM_E_BIGINT_RANGE;
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
