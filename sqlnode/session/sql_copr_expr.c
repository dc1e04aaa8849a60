/* sql_copr_expr.c — MySQL expression tokens to the coprocessor bytecode (sql_copr.h, cm_cx.h).
 *
 * A recursive-descent parser over the lexer's tokens with MySQL's precedence (OR < XOR < AND <
 * NOT < comparison / IS < BETWEEN, IN, LIKE < + - < * / DIV MOD < unary) emits the postfix
 * program as it goes: operands first, then the operator. It tracks a value class per operand
 * and refuses (SQL_COPR_NO) every combination whose KV-side evaluation could differ from MySQL's
 * — a string against a number (MySQL warns per row), a temporal against a number, DOUBLE mixed
 * with exact values in IN / BETWEEN / IFNULL (MySQL compares all as one type there, the
 * evaluator pairwise), UPPER/LOWER (the evaluator maps Latin-1 only), REGEXP, CASE, bit
 * operators, casts, collations, subqueries, variables, parameters. Refusing is always safe: the
 * query then runs through SQLite as before. */
#include "sql_copr.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Most operands of one variadic function or IN list (bounds the types kept on the stack). */
#define CX_ARGS_MAX 1024

typedef struct cx_p {
    const char *src;
    unsigned mode;
    const sql_token *t;
    uint32_t i, n;
    sql_copr_env *env;
    cm_cx_builder *b;
    int depth;
    char *why;
    size_t why_cap;
    cm_err *err;
} cx_p;

static int no(cx_p *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int no(cx_p *p, const char *fmt, ...)
{
    if (p->why != NULL && p->why_cap > 0 && p->why[0] == '\0') {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(p->why, p->why_cap, fmt, ap);
        va_end(ap);
    }
    return SQL_COPR_NO;
}

static bool kw(const cx_p *p, uint32_t i, const char *k)
{
    return i < p->n && sql_tok_is(p->src, &p->t[i], k);
}

static bool op(const cx_p *p, uint32_t i, const char *o)
{
    if (i >= p->n || p->t[i].type != SQL_TK_OP) {
        return false;
    }
    size_t n = strlen(o);
    return p->t[i].len == n && memcmp(p->src + p->t[i].off, o, n) == 0;
}

static bool is_num(const sql_copr_type *a)
{
    return a->cls == SQL_COPR_C_INT || a->cls == SQL_COPR_C_UINT || a->cls == SQL_COPR_C_DEC ||
           a->cls == SQL_COPR_C_REAL;
}

static sql_copr_type ty_bool(const sql_copr_type *a, const sql_copr_type *b)
{
    sql_copr_type r;
    memset(&r, 0, sizeof(r));
    r.cls = SQL_COPR_C_INT;
    r.is_const = a->is_const && (b == NULL || b->is_const);
    r.col = -1;
    return r;
}

/* Whether a compared with b evaluates as MySQL does (cm_cx.h's comparison rules). */
static bool cmp_ok(const sql_copr_type *a, const sql_copr_type *b)
{
    if (a->cls == SQL_COPR_C_NULL || b->cls == SQL_COPR_C_NULL) {
        return true;
    }
    if (is_num(a) && is_num(b)) {
        return true;
    }
    bool sa = a->cls == SQL_COPR_C_STR || a->cls == SQL_COPR_C_BYTES;
    bool sb = b->cls == SQL_COPR_C_STR || b->cls == SQL_COPR_C_BYTES;
    if (sa && sb) {
        return true;
    }
    if (a->cls == SQL_COPR_C_TIME && b->cls == SQL_COPR_C_TIME) {
        return true;
    }
    /* a temporal against a constant string: the string parsed as a datetime */
    if (a->cls == SQL_COPR_C_TIME && b->cls == SQL_COPR_C_STR && b->is_const) {
        return true;
    }
    return b->cls == SQL_COPR_C_TIME && a->cls == SQL_COPR_C_STR && a->is_const;
}

/* Operands compared as one type by MySQL (IN lists, BETWEEN, IFNULL/COALESCE/IF results): the
 * evaluator compares pairwise, which is the same unless DOUBLE meets exact numbers. */
static bool same_family(const sql_copr_type *a, const sql_copr_type *b)
{
    if (a->cls == SQL_COPR_C_NULL || b->cls == SQL_COPR_C_NULL) {
        return true;
    }
    if (is_num(a) && is_num(b)) {
        return (a->cls == SQL_COPR_C_REAL) == (b->cls == SQL_COPR_C_REAL);
    }
    return a->cls == b->cls;
}

/* IN lists and BETWEEN bounds: same_family, or a temporal probe with constant strings (MySQL
 * reads the strings as datetimes there, as the evaluator does pairwise). */
static bool list_family(const sql_copr_type *probe, const sql_copr_type *v)
{
    if (same_family(probe, v)) {
        return true;
    }
    return probe->cls == SQL_COPR_C_TIME && v->cls == SQL_COPR_C_STR && v->is_const;
}

/* The merged class of a and b (same_family holds). */
static sql_copr_type merge_ty(const sql_copr_type *a, const sql_copr_type *b)
{
    if (a->cls == SQL_COPR_C_NULL) {
        sql_copr_type r = *b;
        r.is_const = a->is_const && b->is_const;
        r.col = -1;
        return r;
    }
    sql_copr_type r = *a;
    r.col = -1;
    r.is_const = a->is_const && b->is_const;
    r.str_padded = a->str_padded || b->str_padded;
    if (b->cls == SQL_COPR_C_NULL) {
        return r;
    }
    if (is_num(a) && is_num(b) && a->cls != b->cls) {
        r.cls =
            a->cls == SQL_COPR_C_DEC || b->cls == SQL_COPR_C_DEC ? SQL_COPR_C_DEC : SQL_COPR_C_UINT;
    }
    r.scale = a->scale > b->scale ? a->scale : b->scale;
    return r;
}

static int emit_rc(cx_p *p)
{
    if (p->b->rc == CM_E_NOMEM) {
        return cm_err_set(p->err, CM_E_NOMEM, "out of memory compiling an expression");
    }
    if (p->b->rc != 0) {
        return no(p, "the expression is too deep for the coprocessor");
    }
    return 0;
}

static int p_or(cx_p *p, sql_copr_type *ty);
static int p_boolprim(cx_p *p, sql_copr_type *ty);
static int p_pred(cx_p *p, sql_copr_type *ty);
static int p_bit(cx_p *p, sql_copr_type *ty);
static int p_unary(cx_p *p, sql_copr_type *ty);

static int logic_operand(cx_p *p, const sql_copr_type *a)
{
    if (a->cls != SQL_COPR_C_NULL && !is_num(a)) {
        return no(p, "a logical operator over a non-numeric value");
    }
    return 0;
}

static int p_or(cx_p *p, sql_copr_type *ty);

/* NOT at its MySQL precedence (below comparisons), then IS [NOT] TRUE/FALSE/UNKNOWN. */
static int p_not(cx_p *p, sql_copr_type *ty)
{
    if (kw(p, p->i, "NOT")) {
        if (p->mode & SQL_MODE_HIGH_NOT_PRECEDENCE) {
            return no(p, "HIGH_NOT_PRECEDENCE");
        }
        if (++p->depth > SQL_COPR_DEPTH_MAX) {
            return no(p, "expression nested too deep");
        }
        p->i++;
        int rc = p_not(p, ty);
        p->depth--;
        if (rc != 0 || (rc = logic_operand(p, ty)) != 0) {
            return rc;
        }
        cm_cx_op1(p->b, CM_CX_NOT);
        *ty = ty_bool(ty, NULL);
        return emit_rc(p);
    }
    return p_boolprim(p, ty);
}

static int p_and(cx_p *p, sql_copr_type *ty)
{
    int rc = p_not(p, ty);
    while (rc == 0 && (kw(p, p->i, "AND") || op(p, p->i, "&&"))) {
        p->i++;
        sql_copr_type r;
        if ((rc = logic_operand(p, ty)) != 0 || (rc = p_not(p, &r)) != 0 ||
            (rc = logic_operand(p, &r)) != 0) {
            return rc;
        }
        cm_cx_op1(p->b, CM_CX_AND);
        *ty = ty_bool(ty, &r);
        rc = emit_rc(p);
    }
    return rc;
}

static int p_xor(cx_p *p, sql_copr_type *ty)
{
    int rc = p_and(p, ty);
    while (rc == 0 && kw(p, p->i, "XOR")) {
        p->i++;
        sql_copr_type r;
        if ((rc = logic_operand(p, ty)) != 0 || (rc = p_and(p, &r)) != 0 ||
            (rc = logic_operand(p, &r)) != 0) {
            return rc;
        }
        cm_cx_op1(p->b, CM_CX_XOR);
        *ty = ty_bool(ty, &r);
        rc = emit_rc(p);
    }
    return rc;
}

static int p_or(cx_p *p, sql_copr_type *ty)
{
    if (++p->depth > SQL_COPR_DEPTH_MAX) {
        return no(p, "expression nested too deep");
    }
    int rc = p_xor(p, ty);
    while (rc == 0 && (kw(p, p->i, "OR") || op(p, p->i, "||"))) {
        if (op(p, p->i, "||") && (p->mode & SQL_MODE_PIPES_AS_CONCAT)) {
            return no(p, "|| under PIPES_AS_CONCAT");
        }
        p->i++;
        sql_copr_type r;
        if ((rc = logic_operand(p, ty)) != 0 || (rc = p_xor(p, &r)) != 0 ||
            (rc = logic_operand(p, &r)) != 0) {
            return rc;
        }
        cm_cx_op1(p->b, CM_CX_OR);
        *ty = ty_bool(ty, &r);
        rc = emit_rc(p);
    }
    p->depth--;
    return rc;
}

static int cmp_opcode(const cx_p *p, uint32_t i, cm_cx_op *out)
{
    static const struct {
        const char *s;
        cm_cx_op op;
    } ops[] = {{"=", CM_CX_EQ}, {"<=>", CM_CX_NULLEQ}, {"<>", CM_CX_NE}, {"!=", CM_CX_NE},
               {"<", CM_CX_LT}, {"<=", CM_CX_LE},      {">", CM_CX_GT},  {">=", CM_CX_GE}};
    for (size_t k = 0; k < sizeof(ops) / sizeof(ops[0]); k++) {
        if (op(p, i, ops[k].s)) {
            *out = ops[k].op;
            return 1;
        }
    }
    return 0;
}

/* boolean_primary: predicate { IS [NOT] NULL|TRUE|FALSE|UNKNOWN | cmp predicate }. */
static int p_boolprim(cx_p *p, sql_copr_type *ty)
{
    int rc = p_pred(p, ty);
    while (rc == 0) {
        cm_cx_op cop;
        if (kw(p, p->i, "IS")) {
            uint32_t j = p->i + 1;
            bool neg = kw(p, j, "NOT");
            j += neg;
            if (kw(p, j, "NULL") || kw(p, j, "UNKNOWN")) {
                cm_cx_op1(p->b, neg ? CM_CX_ISNOTNULL : CM_CX_ISNULL);
            } else if (kw(p, j, "TRUE") || kw(p, j, "FALSE")) {
                if ((rc = logic_operand(p, ty)) != 0) {
                    return rc;
                }
                cm_cx_op1(p->b, kw(p, j, "TRUE") ? CM_CX_ISTRUE : CM_CX_ISFALSE);
                if (neg) {
                    cm_cx_op1(p->b, CM_CX_NOT);
                }
            } else {
                return no(p, "IS followed by something other than NULL/TRUE/FALSE/UNKNOWN");
            }
            p->i = j + 1;
            *ty = ty_bool(ty, NULL);
            rc = emit_rc(p);
        } else if (cmp_opcode(p, p->i, &cop)) {
            p->i++;
            if (kw(p, p->i, "ANY") || kw(p, p->i, "ALL") || kw(p, p->i, "SOME")) {
                return no(p, "a quantified comparison");
            }
            sql_copr_type r;
            if ((rc = p_pred(p, &r)) != 0) {
                return rc;
            }
            if (!cmp_ok(ty, &r)) {
                return no(p, "a comparison of values of different kinds");
            }
            cm_cx_op1(p->b, cop);
            *ty = ty_bool(ty, &r);
            rc = emit_rc(p);
        } else {
            break;
        }
    }
    return rc;
}

/* Re-emits the operand t[b, e) (BETWEEN needs its probe twice). */
static int reemit(cx_p *p, uint32_t b, uint32_t e, sql_copr_type *ty)
{
    uint32_t save_i = p->i, save_n = p->n;
    p->i = b;
    p->n = e;
    int rc = p_bit(p, ty);
    if (rc == 0 && p->i != e) {
        rc = no(p, "BETWEEN operand");
    }
    p->i = save_i;
    p->n = save_n;
    return rc;
}

static int p_in(cx_p *p, sql_copr_type *ty, bool neg)
{
    /* at '(' after IN */
    if (p->i >= p->n || p->t[p->i].type != SQL_TK_LPAREN) {
        return no(p, "IN without a list");
    }
    p->i++;
    if (kw(p, p->i, "SELECT") || kw(p, p->i, "WITH") ||
        (p->i < p->n && p->t[p->i].type == SQL_TK_LPAREN)) {
        return no(p, "IN with a subquery or rows");
    }
    uint32_t count = 0;
    for (;;) {
        sql_copr_type r;
        int rc = p_or(p, &r);
        if (rc != 0) {
            return rc;
        }
        if (!cmp_ok(ty, &r) || !list_family(ty, &r)) {
            return no(p, "an IN list with values of another kind than the probe");
        }
        if (++count > CX_ARGS_MAX) {
            return no(p, "an IN list too long");
        }
        if (p->i < p->n && p->t[p->i].type == SQL_TK_COMMA) {
            p->i++;
            continue;
        }
        break;
    }
    if (p->i >= p->n || p->t[p->i].type != SQL_TK_RPAREN) {
        return no(p, "IN list not closed");
    }
    p->i++;
    cm_cx_opn(p->b, CM_CX_IN, count);
    if (neg) {
        cm_cx_op1(p->b, CM_CX_NOT);
    }
    *ty = ty_bool(ty, NULL);
    return emit_rc(p);
}

static int p_like(cx_p *p, sql_copr_type *ty, bool neg)
{
    sql_copr_type pat;
    int rc = p_unary(p, &pat);
    if (rc != 0) {
        return rc;
    }
    if (ty->cls != SQL_COPR_C_STR || (pat.cls != SQL_COPR_C_STR && pat.cls != SQL_COPR_C_NULL)) {
        return no(p, "LIKE over values that are not text");
    }
    uint8_t esc = '\\';
    if (kw(p, p->i, "ESCAPE")) {
        if (p->i + 1 >= p->n || p->t[p->i + 1].type != SQL_TK_STRING) {
            return no(p, "ESCAPE that is not a string literal");
        }
        cm_buf e = CM_BUF_INIT;
        rc = sql_tok_string(p->src, &p->t[p->i + 1], p->mode, &e);
        if (rc != 0) {
            cm_buf_fini(&e);
            return cm_err_set(p->err, CM_E_NOMEM, "out of memory");
        }
        bool one = e.len == 1 && e.ptr[0] < 0x80;
        esc = one ? e.ptr[0] : 0;
        cm_buf_fini(&e);
        if (!one) {
            return no(p, "ESCAPE that is not one ASCII character");
        }
        p->i += 2;
    } else if (p->mode & SQL_MODE_NO_BACKSLASH_ESCAPES) {
        return no(p, "LIKE's default escape under NO_BACKSLASH_ESCAPES");
    }
    cm_cx_like(p->b, esc);
    if (neg) {
        cm_cx_op1(p->b, CM_CX_NOT);
    }
    *ty = ty_bool(ty, &pat);
    return emit_rc(p);
}

/* predicate: bit_expr [NOT] IN (…) | [NOT] BETWEEN bit_expr AND predicate | [NOT] LIKE … */
static int p_pred(cx_p *p, sql_copr_type *ty)
{
    uint32_t start = p->i;
    int rc = p_bit(p, ty);
    if (rc != 0) {
        return rc;
    }
    uint32_t end = p->i, j = p->i;
    bool neg = false;
    if (kw(p, j, "NOT") && (kw(p, j + 1, "IN") || kw(p, j + 1, "BETWEEN") || kw(p, j + 1, "LIKE") ||
                            kw(p, j + 1, "REGEXP") || kw(p, j + 1, "RLIKE"))) {
        neg = true;
        j++;
    }
    if (kw(p, j, "IN")) {
        p->i = j + 1;
        return p_in(p, ty, neg);
    }
    if (kw(p, j, "LIKE")) {
        p->i = j + 1;
        return p_like(p, ty, neg);
    }
    if (kw(p, j, "BETWEEN")) {
        p->i = j + 1;
        sql_copr_type lo, hi, again;
        if ((rc = p_bit(p, &lo)) != 0) {
            return rc;
        }
        if (!cmp_ok(ty, &lo) || !list_family(ty, &lo)) {
            return no(p, "BETWEEN over values of different kinds");
        }
        cm_cx_op1(p->b, CM_CX_GE);
        if (!kw(p, p->i, "AND")) {
            return no(p, "BETWEEN without AND");
        }
        p->i++;
        if ((rc = reemit(p, start, end, &again)) != 0 || (rc = p_pred(p, &hi)) != 0) {
            return rc;
        }
        if (!cmp_ok(ty, &hi) || !list_family(ty, &hi) || !same_family(&lo, &hi)) {
            return no(p, "BETWEEN over values of different kinds");
        }
        cm_cx_op1(p->b, CM_CX_LE);
        cm_cx_op1(p->b, CM_CX_AND);
        if (neg) {
            cm_cx_op1(p->b, CM_CX_NOT);
        }
        *ty = ty_bool(ty, &hi);
        return emit_rc(p);
    }
    if (kw(p, j, "REGEXP") || kw(p, j, "RLIKE") || kw(p, j, "SOUNDS") || kw(p, j, "MEMBER")) {
        return no(p, "REGEXP / SOUNDS LIKE / MEMBER OF");
    }
    return 0;
}

/* The class of a op b for + - * / DIV MOD. */
static int arith(cx_p *p, sql_copr_type *a, const sql_copr_type *b, cm_cx_op opc)
{
    if ((a->cls != SQL_COPR_C_NULL && !is_num(a)) || (b->cls != SQL_COPR_C_NULL && !is_num(b))) {
        return no(p, "arithmetic over values that are not numbers");
    }
    sql_copr_type r;
    memset(&r, 0, sizeof(r));
    r.col = -1;
    r.is_const = a->is_const && b->is_const;
    if (a->cls == SQL_COPR_C_NULL || b->cls == SQL_COPR_C_NULL) {
        r.cls = SQL_COPR_C_NULL;
    } else if (opc == CM_CX_INTDIV) {
        r.cls = SQL_COPR_C_INT;
    } else if (a->cls == SQL_COPR_C_REAL || b->cls == SQL_COPR_C_REAL) {
        r.cls = SQL_COPR_C_REAL;
    } else if (opc == CM_CX_DIV) {
        r.cls = SQL_COPR_C_DEC;
        r.scale = (uint8_t)(a->scale + 4 > 30 ? 30 : a->scale + 4);
    } else if (a->cls == SQL_COPR_C_DEC || b->cls == SQL_COPR_C_DEC) {
        r.cls = SQL_COPR_C_DEC;
        unsigned sc =
            opc == CM_CX_MUL ? a->scale + b->scale : (a->scale > b->scale ? a->scale : b->scale);
        r.scale = (uint8_t)(sc > 30 ? 30 : sc);
    } else {
        r.cls = a->cls == SQL_COPR_C_UINT || b->cls == SQL_COPR_C_UINT ? SQL_COPR_C_UINT
                                                                       : SQL_COPR_C_INT;
    }
    *a = r;
    cm_cx_op1(p->b, opc);
    return emit_rc(p);
}

static int p_term(cx_p *p, sql_copr_type *ty)
{
    int rc = p_unary(p, ty);
    while (rc == 0) {
        cm_cx_op opc;
        if (op(p, p->i, "*")) {
            opc = CM_CX_MUL;
        } else if (op(p, p->i, "/")) {
            opc = CM_CX_DIV;
        } else if (op(p, p->i, "%") || kw(p, p->i, "MOD")) {
            opc = CM_CX_MOD;
        } else if (kw(p, p->i, "DIV")) {
            opc = CM_CX_INTDIV;
        } else {
            break;
        }
        p->i++;
        sql_copr_type r;
        if ((rc = p_unary(p, &r)) != 0) {
            return rc;
        }
        rc = arith(p, ty, &r, opc);
    }
    return rc;
}

/* bit_expr, as far as the bytecode goes: additive expressions (no | & << >> ^). */
static int p_bit(cx_p *p, sql_copr_type *ty)
{
    int rc = p_term(p, ty);
    while (rc == 0 && (op(p, p->i, "+") || op(p, p->i, "-"))) {
        cm_cx_op opc = op(p, p->i, "+") ? CM_CX_ADD : CM_CX_SUB;
        p->i++;
        sql_copr_type r;
        if ((rc = p_term(p, &r)) != 0) {
            return rc;
        }
        rc = arith(p, ty, &r, opc);
    }
    if (rc == 0 && (op(p, p->i, "|") || op(p, p->i, "&") || op(p, p->i, "^") || op(p, p->i, "<<") ||
                    op(p, p->i, ">>"))) {
        return no(p, "bit operators");
    }
    return rc;
}

static sql_copr_type ty_const(sql_copr_cls cls, unsigned scale)
{
    sql_copr_type r;
    memset(&r, 0, sizeof(r));
    r.cls = (uint8_t)cls;
    r.scale = (uint8_t)scale;
    r.is_const = true;
    r.col = -1;
    return r;
}

/* An integer literal (optionally negated): INT64, UINT64 above INT64_MAX, DECIMAL beyond. */
static int p_int_literal(cx_p *p, const sql_token *tk, bool neg, sql_copr_type *ty)
{
    const char *s = p->src + tk->off;
    uint64_t v = 0;
    bool big = false;
    for (uint32_t k = 0; k < tk->len; k++) {
        if (s[k] < '0' || s[k] > '9') {
            return no(p, "integer literal");
        }
        unsigned d = (unsigned)(s[k] - '0');
        if (v > (UINT64_MAX - d) / 10) {
            big = true;
            break;
        }
        v = v * 10 + d;
    }
    cm_datum d;
    if (!big && !neg && v <= (uint64_t)INT64_MAX) {
        d = cm_datum_int64((int64_t)v);
        *ty = ty_const(SQL_COPR_C_INT, 0);
    } else if (!big && !neg) {
        d = cm_datum_uint64(v);
        *ty = ty_const(SQL_COPR_C_UINT, 0);
    } else if (!big && v <= (uint64_t)INT64_MAX + 1) {
        d = cm_datum_int64(v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v);
        *ty = ty_const(SQL_COPR_C_INT, 0);
    } else {
        return no(p, "integer literal beyond BIGINT");
    }
    cm_cx_const(p->b, &d);
    return emit_rc(p);
}

static int p_function(cx_p *p, sql_copr_type *ty);

static int p_column(cx_p *p, sql_copr_type *ty)
{
    uint32_t b = p->i, e = p->i + 1;
    while (e + 1 < p->n && e - b < 5 && p->t[e].type == SQL_TK_DOT &&
           (p->t[e + 1].type == SQL_TK_IDENT || p->t[e + 1].type == SQL_TK_QIDENT)) {
        e += 2;
    }
    if (e < p->n && p->t[e].type == SQL_TK_DOT) {
        return no(p, "a column reference");
    }
    uint32_t idx;
    int rc = p->env->column(p->env, p->src, p->t + b, e - b, &idx, ty, p->err);
    if (rc != 0) {
        return rc == SQL_COPR_NO ? no(p, "a column not pushable") : rc;
    }
    p->i = e;
    cm_cx_col(p->b, idx);
    return emit_rc(p);
}

static int p_primary(cx_p *p, sql_copr_type *ty)
{
    if (p->i >= p->n) {
        return no(p, "expression ends early");
    }
    if (++p->depth > SQL_COPR_DEPTH_MAX) {
        return no(p, "expression nested too deep");
    }
    const sql_token *tk = &p->t[p->i];
    int rc = 0;
    switch (tk->type) {
    case SQL_TK_LPAREN:
        p->i++;
        if (kw(p, p->i, "SELECT") || kw(p, p->i, "WITH") || kw(p, p->i, "VALUES") ||
            kw(p, p->i, "TABLE")) {
            return no(p, "a subquery");
        }
        rc = p_or(p, ty);
        if (rc == 0 && (p->i >= p->n || p->t[p->i].type != SQL_TK_RPAREN)) {
            rc = no(p, "a row constructor or unclosed parenthesis");
        }
        p->i++;
        ty->col = -1;
        break;
    case SQL_TK_INT:
        p->i++;
        rc = p_int_literal(p, tk, false, ty);
        break;
    case SQL_TK_DECIMAL: {
        cm_decimal dec;
        bool rounded = false;
        cm_err e2;
        if (cm_decimal_parse(cm_slice_make(p->src + tk->off, tk->len), &dec, &rounded, &e2) != 0 ||
            rounded) {
            return no(p, "a decimal literal beyond DECIMAL");
        }
        cm_datum d = cm_datum_decimal(&dec);
        cm_cx_const(p->b, &d);
        *ty = ty_const(SQL_COPR_C_DEC, dec.frac);
        p->i++;
        rc = emit_rc(p);
        break;
    }
    case SQL_TK_FLOAT: {
        char buf[64];
        if (tk->len >= sizeof(buf)) {
            return no(p, "a float literal");
        }
        memcpy(buf, p->src + tk->off, tk->len);
        buf[tk->len] = '\0';
        char *end = NULL;
        double v = strtod(buf, &end);
        if (end == NULL || *end != '\0' || v != v || v > 1.7976931348623157e308 ||
            v < -1.7976931348623157e308) {
            return no(p, "a float literal out of range");
        }
        cm_datum d = cm_datum_float64(v == 0 ? 0.0 : v);
        cm_cx_const(p->b, &d);
        *ty = ty_const(SQL_COPR_C_REAL, 0);
        p->i++;
        rc = emit_rc(p);
        break;
    }
    case SQL_TK_STRING: {
        if (p->i + 1 < p->n && p->t[p->i + 1].type == SQL_TK_STRING) {
            return no(p, "adjacent string literals");
        }
        cm_buf v = CM_BUF_INIT;
        if (sql_tok_string(p->src, tk, p->mode, &v) != 0) {
            cm_buf_fini(&v);
            return cm_err_set(p->err, CM_E_NOMEM, "out of memory");
        }
        cm_datum d = cm_datum_string(cm_slice_make(v.ptr, v.len));
        cm_cx_const(p->b, &d); /* the payload is copied */
        *ty = ty_const(SQL_COPR_C_STR, 0);
        ty->str_padded = v.len > 0 && v.ptr[v.len - 1] == ' ';
        cm_buf_fini(&v);
        p->i++;
        rc = emit_rc(p);
        break;
    }
    case SQL_TK_IDENT:
        if (p->i + 1 < p->n && p->t[p->i + 1].type == SQL_TK_LPAREN) {
            rc = p_function(p, ty);
            break;
        }
        if (kw(p, p->i, "TRUE") || kw(p, p->i, "FALSE")) {
            cm_datum d = cm_datum_int64(kw(p, p->i, "TRUE") ? 1 : 0);
            cm_cx_const(p->b, &d);
            *ty = ty_const(SQL_COPR_C_INT, 0);
            p->i++;
            rc = emit_rc(p);
            break;
        }
        if (kw(p, p->i, "NULL")) {
            cm_datum d = cm_datum_null();
            cm_cx_const(p->b, &d);
            *ty = ty_const(SQL_COPR_C_NULL, 0);
            p->i++;
            rc = emit_rc(p);
            break;
        }
        if (p->i + 1 < p->n && p->t[p->i + 1].type == SQL_TK_STRING) {
            return no(p, "a typed literal or charset introducer");
        }
        if (kw(p, p->i, "CASE") || kw(p, p->i, "INTERVAL") || kw(p, p->i, "EXISTS") ||
            kw(p, p->i, "BINARY") || kw(p, p->i, "DEFAULT") || kw(p, p->i, "ROW")) {
            return no(p, "CASE, INTERVAL, EXISTS, BINARY, DEFAULT, ROW");
        }
        rc = p_column(p, ty);
        break;
    case SQL_TK_QIDENT:
        rc = p_column(p, ty);
        break;
    default:
        return no(p, "a literal or operator the coprocessor does not take");
    }
    p->depth--;
    if (rc == 0 && kw(p, p->i, "COLLATE")) {
        return no(p, "COLLATE");
    }
    return rc;
}

static int p_unary(cx_p *p, sql_copr_type *ty)
{
    if (op(p, p->i, "-")) {
        if (p->i + 1 < p->n && p->t[p->i + 1].type == SQL_TK_INT) {
            const sql_token *tk = &p->t[p->i + 1];
            p->i += 2;
            return p_int_literal(p, tk, true, ty);
        }
        if (++p->depth > SQL_COPR_DEPTH_MAX) {
            return no(p, "expression nested too deep");
        }
        p->i++;
        int rc = p_unary(p, ty);
        p->depth--;
        if (rc != 0) {
            return rc;
        }
        if (ty->cls != SQL_COPR_C_NULL && !is_num(ty)) {
            return no(p, "unary minus over a value that is not a number");
        }
        if (ty->cls == SQL_COPR_C_UINT) {
            return no(p, "unary minus over an unsigned value");
        }
        cm_cx_op1(p->b, CM_CX_NEG);
        ty->col = -1;
        return emit_rc(p);
    }
    if (op(p, p->i, "+")) {
        p->i++;
        int rc = p_unary(p, ty);
        if (rc == 0 && ty->cls != SQL_COPR_C_NULL && !is_num(ty)) {
            return no(p, "unary plus over a value that is not a number");
        }
        ty->col = -1;
        return rc;
    }
    if (op(p, p->i, "!")) {
        p->i++;
        int rc = p_unary(p, ty);
        if (rc != 0 || (rc = logic_operand(p, ty)) != 0) {
            return rc;
        }
        cm_cx_op1(p->b, CM_CX_NOT);
        *ty = ty_bool(ty, NULL);
        return emit_rc(p);
    }
    if (op(p, p->i, "~")) {
        return no(p, "bit inversion");
    }
    return p_primary(p, ty);
}

static bool is_agg_name(const cx_p *p, uint32_t i)
{
    static const char *const names[] = {
        "COUNT",          "SUM",        "MIN",         "MAX",          "AVG",       "STD",
        "STDDEV",         "STDDEV_POP", "STDDEV_SAMP", "VARIANCE",     "VAR_POP",   "VAR_SAMP",
        "BIT_AND",        "BIT_OR",     "BIT_XOR",     "GROUP_CONCAT", "ANY_VALUE", "JSON_ARRAYAGG",
        "JSON_OBJECTAGG", NULL};
    for (const char *const *k = names; *k != NULL; k++) {
        if (kw(p, i, *k)) {
            return true;
        }
    }
    return false;
}

/* Index of the parenthesis closing the one at open, or n. */
static uint32_t close_paren(const cx_p *p, uint32_t open)
{
    int depth = 0;
    for (uint32_t k = open; k < p->n; k++) {
        depth += p->t[k].type == SQL_TK_LPAREN ? 1 : p->t[k].type == SQL_TK_RPAREN ? -1 : 0;
        if (depth == 0) {
            return k;
        }
    }
    return p->n;
}

static int p_function(cx_p *p, sql_copr_type *ty)
{
    uint32_t name = p->i;
    const sql_token *nt = &p->t[name], *lp = &p->t[name + 1];
    if (nt->off + nt->len != lp->off) {
        return no(p, "a space between a function's name and its parenthesis");
    }
    if (is_agg_name(p, name)) {
        uint32_t close = close_paren(p, name + 1);
        if (p->env->aggregate == NULL || close >= p->n) {
            return no(p, "an aggregate here");
        }
        if (close + 1 < p->n && kw(p, close + 1, "OVER")) {
            return no(p, "a window function");
        }
        uint32_t idx;
        int rc = p->env->aggregate(p->env, p->src, p->t + name, close + 1 - name, &idx, ty, p->err);
        if (rc != 0) {
            return rc == SQL_COPR_NO ? no(p, "an aggregate not pushable") : rc;
        }
        p->i = close + 1;
        cm_cx_col(p->b, idx);
        return emit_rc(p);
    }
    static const struct {
        const char *name;
        cm_cx_op op;
        int min, max; /* operands */
    } fns[] = {
        {"ABS", CM_CX_ABS, 1, 1},
        {"IFNULL", CM_CX_IFNULL, 2, 2},
        {"COALESCE", CM_CX_COALESCE, 1, CX_ARGS_MAX},
        {"IF", CM_CX_IF, 3, 3},
        {"LENGTH", CM_CX_LENGTH, 1, 1},
        {"OCTET_LENGTH", CM_CX_LENGTH, 1, 1},
        {"CHAR_LENGTH", CM_CX_CHAR_LENGTH, 1, 1},
        {"CHARACTER_LENGTH", CM_CX_CHAR_LENGTH, 1, 1},
        {"CONCAT", CM_CX_CONCAT, 1, CX_ARGS_MAX},
        {"MOD", CM_CX_MOD, 2, 2},
    };
    int f = -1;
    for (size_t k = 0; k < sizeof(fns) / sizeof(fns[0]); k++) {
        if (kw(p, name, fns[k].name)) {
            f = (int)k;
            break;
        }
    }
    if (f < 0) {
        return no(p, "function %.*s", (int)(nt->len > 40 ? 40 : nt->len), p->src + nt->off);
    }
    p->i = name + 2;
    sql_copr_type first, acc, cur;
    memset(&first, 0, sizeof(first));
    acc = first;
    int nargs = 0;
    if (p->i < p->n && p->t[p->i].type == SQL_TK_RPAREN) {
        return no(p, "a function without arguments");
    }
    for (;;) {
        int rc = p_or(p, &cur);
        if (rc != 0) {
            return rc;
        }
        if (nargs >= fns[f].max) {
            return no(p, "too many arguments");
        }
        if (nargs == 0) {
            first = cur;
        }
        /* the value-carrying operands: all for IFNULL/COALESCE/CONCAT, 2 and 3 for IF */
        bool carries = fns[f].op != CM_CX_IF || nargs > 0;
        if (carries) {
            bool firstc = fns[f].op == CM_CX_IF ? nargs == 1 : nargs == 0;
            if (!firstc && !same_family(&acc, &cur)) {
                return no(p, "function arguments of different kinds");
            }
            acc = firstc ? cur : merge_ty(&acc, &cur);
        } else if ((rc = logic_operand(p, &cur)) != 0) {
            return rc;
        }
        nargs++;
        if (p->i < p->n && p->t[p->i].type == SQL_TK_COMMA) {
            p->i++;
            continue;
        }
        break;
    }
    if (p->i >= p->n || p->t[p->i].type != SQL_TK_RPAREN) {
        return no(p, "function call not closed");
    }
    p->i++;
    if (nargs < fns[f].min) {
        return no(p, "too few arguments");
    }
    sql_copr_type r;
    switch (fns[f].op) {
    case CM_CX_ABS:
        if (first.cls != SQL_COPR_C_NULL && !is_num(&first)) {
            return no(p, "ABS of a value that is not a number");
        }
        r = first;
        r.col = -1;
        cm_cx_op1(p->b, CM_CX_ABS);
        break;
    case CM_CX_MOD: {
        r = first;
        sql_copr_type second = cur;
        int rc = arith(p, &r, &second, CM_CX_MOD);
        if (rc != 0) {
            return rc;
        }
        *ty = r;
        return 0;
    }
    case CM_CX_IFNULL:
    case CM_CX_IF:
        r = acc;
        r.col = -1;
        r.is_const = r.is_const && first.is_const;
        cm_cx_op1(p->b, fns[f].op);
        break;
    case CM_CX_COALESCE:
        r = acc;
        r.col = -1;
        cm_cx_opn(p->b, CM_CX_COALESCE, (uint32_t)nargs);
        break;
    case CM_CX_LENGTH:
        if (first.cls != SQL_COPR_C_STR && first.cls != SQL_COPR_C_BYTES &&
            first.cls != SQL_COPR_C_NULL) {
            return no(p, "LENGTH of a value that is not a string");
        }
        r = ty_bool(&first, NULL);
        cm_cx_op1(p->b, CM_CX_LENGTH);
        break;
    case CM_CX_CHAR_LENGTH:
        if (first.cls != SQL_COPR_C_STR && first.cls != SQL_COPR_C_NULL) {
            return no(p, "CHAR_LENGTH of a value that is not text");
        }
        r = ty_bool(&first, NULL);
        cm_cx_op1(p->b, CM_CX_CHAR_LENGTH);
        break;
    case CM_CX_CONCAT:
        if (acc.cls != SQL_COPR_C_STR && acc.cls != SQL_COPR_C_NULL) {
            return no(p, "CONCAT of values that are not text");
        }
        r = acc;
        r.cls = SQL_COPR_C_STR;
        r.col = -1;
        cm_cx_opn(p->b, CM_CX_CONCAT, (uint32_t)nargs);
        break;
    default:
        return no(p, "function");
    }
    *ty = r;
    return emit_rc(p);
}

int sql_copr_compile(const char *src, unsigned mode, const sql_token *t, uint32_t n,
                     sql_copr_env *env, cm_cx_builder *b, sql_copr_type *type, char *why,
                     size_t why_cap, cm_err *err)
{
    cx_p p;
    memset(&p, 0, sizeof(p));
    p.src = src;
    p.mode = mode;
    p.t = t;
    p.n = n;
    p.env = env;
    p.b = b;
    p.why = why;
    p.why_cap = why_cap;
    p.err = err;
    if (why != NULL && why_cap > 0) {
        why[0] = '\0';
    }
    if (n == 0) {
        return no(&p, "an empty expression");
    }
    sql_copr_type ty;
    memset(&ty, 0, sizeof(ty));
    int rc = p_or(&p, &ty);
    if (rc != 0) {
        return rc;
    }
    if (p.i != n) {
        return no(&p, "'%.*s' in an expression", (int)(t[p.i].len > 30 ? 30 : t[p.i].len),
                  src + t[p.i].off);
    }
    *type = ty;
    return 0;
}

/* ---- one table's columns -------------------------------------------------------------------- */

bool sql_copr_col_class(const sql_coltype *ct, sql_copr_type *type)
{
    memset(type, 0, sizeof(*type));
    type->col = -1;
    switch (ct->dtype) {
    case CM_DT_INT64:
        type->cls = SQL_COPR_C_INT;
        return true;
    case CM_DT_UINT64:
        type->cls = SQL_COPR_C_UINT;
        return true;
    case CM_DT_FLOAT64:
    case CM_DT_FLOAT32:
        type->cls = SQL_COPR_C_REAL;
        return true;
    case CM_DT_DECIMAL:
        type->cls = SQL_COPR_C_DEC;
        type->scale = ct->decimals;
        return true;
    case CM_DT_STRING:
        if (ct->collation != 46) { /* utf8mb4_bin: the only text collation stored */
            return false;
        }
        type->cls = SQL_COPR_C_STR;
        type->str_padded = !ct->fixed;
        return true;
    case CM_DT_BYTES:
        type->cls = SQL_COPR_C_BYTES;
        return true;
    case CM_DT_DATE:
    case CM_DT_DATETIME:
        type->cls = SQL_COPR_C_TIME;
        return true;
    default:
        return false; /* TIMESTAMP (session zone), TIME, YEAR, ENUM, SET, BIT, JSON */
    }
}

static bool name_eq(const char *src, const sql_token *tk, const char *name, cm_buf *tmp)
{
    cm_buf_reset(tmp);
    if (sql_tok_name(src, tk, tmp) != 0) {
        return false;
    }
    size_t n = strlen(name);
    return tmp->len == n && (n == 0 || strncasecmp((const char *)tmp->ptr, name, n) == 0);
}

static int tcols_column(sql_copr_env *e, const char *src, const sql_token *t, uint32_t n,
                        uint32_t *idx, sql_copr_type *type, cm_err *err)
{
    sql_copr_tcols *c = (sql_copr_tcols *)e;
    cm_buf tmp = CM_BUF_INIT;
    int rc = SQL_COPR_NO;
    bool ok = n == 1 || (n == 3 && name_eq(src, &t[0], c->qual, &tmp)) ||
              (n == 5 && name_eq(src, &t[0], c->db, &tmp) && name_eq(src, &t[2], c->qual, &tmp) &&
               strcasecmp(c->qual, c->t->name) == 0);
    if (ok) {
        cm_buf_reset(&tmp);
        if (sql_tok_name(src, &t[n - 1], &tmp) != 0 || cm_buf_terminate(&tmp) != 0) {
            rc = cm_err_set(err, CM_E_NOMEM, "out of memory");
        } else {
            const sql_cat_col *col = sql_table_col(c->t, (const char *)tmp.ptr);
            if (col != NULL && col->state == SQL_OBJ_PUBLIC) {
                rc = sql_copr_tcols_add(c, col->offset, idx, type);
            }
        }
    }
    cm_buf_fini(&tmp);
    return rc;
}

int sql_copr_tcols_init(sql_copr_tcols *c, const sql_cat_table *t, const char *db, const char *qual,
                        cm_err *err)
{
    memset(c, 0, sizeof(*c));
    c->env.column = tcols_column;
    c->t = t;
    snprintf(c->db, sizeof(c->db), "%s", db ? db : "");
    snprintf(c->qual, sizeof(c->qual), "%s", qual ? qual : t->name);
    size_t n = t->ncols ? t->ncols : 1;
    c->cols = calloc(n, sizeof(*c->cols));
    c->offs = calloc(n, sizeof(*c->offs));
    c->plan_of = malloc(n * sizeof(*c->plan_of));
    if (c->cols == NULL || c->offs == NULL || c->plan_of == NULL) {
        sql_copr_tcols_fini(c);
        return cm_err_set(err, CM_E_NOMEM, "out of memory");
    }
    for (uint32_t i = 0; i < t->ncols; i++) {
        c->plan_of[i] = -1;
    }
    return 0;
}

void sql_copr_tcols_fini(sql_copr_tcols *c)
{
    free(c->cols);
    free(c->offs);
    free(c->plan_of);
    c->cols = NULL;
    c->offs = NULL;
    c->plan_of = NULL;
}

int sql_copr_tcols_add(sql_copr_tcols *c, uint32_t off, uint32_t *idx, sql_copr_type *type)
{
    if (off >= c->t->ncols) {
        return SQL_COPR_NO;
    }
    const sql_cat_col *col = &c->t->cols[off];
    if (!sql_copr_col_class(&col->type, type)) {
        return SQL_COPR_NO;
    }
    type->col = (int32_t)off;
    if (c->plan_of[off] < 0) {
        uint32_t k = c->ncols++;
        c->plan_of[off] = (int32_t)k;
        c->offs[k] = off;
        bool handle = c->t->handle_col >= 0 && (uint32_t)c->t->handle_col == off &&
                      col->type.dtype == CM_DT_INT64;
        /* the handle column is read from the row key (sql_vtab_scan.c does the same) */
        c->cols[k].id = handle ? CM_COPR_HANDLE_ID : col->id;
        c->cols[k].dtype = (uint8_t)col->type.dtype;
    }
    *idx = (uint32_t)c->plan_of[off];
    return 0;
}
