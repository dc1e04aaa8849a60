/* sql_typeinfer.c — MySQL's result metadata for select-list expressions (sql_numeric.h).
 *
 * A precedence-climbing parser over the tokens of each top-level select item computes what
 * MySQL 8.0's resolver computes for it: result class (integer, DECIMAL, DOUBLE, string), wire
 * type, max length, decimals, UNSIGNED and nullability. Arithmetic follows MySQL's
 * result_precision rules (div_precision_increment = 4, DECIMAL at most 65 digits and 30
 * decimals). Anything the parser does not know (a function it has no rule for, a subquery, a
 * derived table's column) leaves the item uninferred, and sql_exec_describe falls back to the
 * value's storage class as before. */
#include "sql_numeric.h"

#include "../mysql/sql_my_const.h"
#include "cm_log.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum { TI_UNKNOWN = 0, TI_NULL, TI_INT, TI_DEC, TI_REAL, TI_STR, TI_OTHER };

#define TI_DEC_PREC_MAX  65
#define TI_DEC_SCALE_MAX 30
#define TI_DIV_INCREMENT 4 /* div_precision_increment's default */
/* Most digits after the point an intermediate DECIMAL keeps (MySQL's decimal_t holds 81 digits;
 * this bounds the exact functions' work) */
#define TI_IFRAC_MAX 45
#define TI_LONGLONG_DIGITS                                                                         \
    22 /* MySQL's DECIMAL_LONGLONG_DIGITS: what SUM adds to the precision                          \
        */

typedef struct ti_val {
    uint8_t cls;
    uint8_t type; /* SQL_TYPE_* */
    uint8_t dec;
    uint8_t uns;
    uint8_t nullable;
    uint8_t intlit; /* an integer literal: its precision is its digit count */
    uint8_t neg;    /* a negative literal */
    uint8_t act;    /* SQL_TI_ACT_* */
    uint8_t dz;     /* a division or MOD by zero in it may make it NULL */
    uint8_t outer;  /* a column of the inner side of an outer join */
    uint8_t litval; /* an integer literal's value when below 255, else 255 */
    uint8_t ifrac;  /* DECIMAL: digits after the point MySQL computes with (a division keeps
                       whole 9-digit words: 1/3 is 0.333333333 until it is printed at 4) */
    uint16_t charset;
    uint16_t flags; /* flags a column reference keeps through MIN/MAX (BINARY, BLOB …) */
    uint32_t len;   /* max length: characters for strings */
} ti_val;

typedef struct ti_tab {
    const sql_cat_table *t;
    const char *alias; /* into src; NULL: the table's own name */
    size_t alias_len;
    int outer; /* the inner side of an outer join: its columns may be NULL */
} ti_tab;

/* A DECIMAL operator to make exact: left operand from lb, the operator token op, right operand
 * up to re (exclusive). */
typedef struct ti_node {
    uint32_t lb, op, re;
    char code;     /* + - * / % */
    uint8_t scale; /* `/`: the result's scale */
} ti_node;

/* Most operators one statement's select list has rewritten (beyond: none is). */
#define TI_NODES_MAX 64

typedef struct ti_ctx {
    sql_sess *s;
    const char *src;
    const sql_token *t;
    uint32_t i, e; /* cursor and end of the item */
    ti_tab tabs[SQL_TI_TABLES_MAX];
    uint32_t ntabs;
    int tabs_ok; /* every FROM entry is a known table */
    int depth;
    int rewrite; /* record DECIMAL operators in nodes */
    ti_node nodes[TI_NODES_MAX];
    uint32_t nnodes;
    int nodes_full;
} ti_ctx;

static const ti_val ti_unknown = {0};

static int is_kw(const ti_ctx *x, uint32_t i, const char *kw)
{
    return i < x->e && x->t[i].type == SQL_TK_IDENT && sql_tok_is(x->src, &x->t[i], kw);
}

static int is_op(const ti_ctx *x, uint32_t i, const char *op)
{
    size_t n = strlen(op);
    return i < x->e && x->t[i].type == SQL_TK_OP && x->t[i].len == n &&
           memcmp(x->src + x->t[i].off, op, n) == 0;
}

/* Index just past the parenthesis that closes the one at i (or e when unbalanced). */
static uint32_t skip_parens(const ti_ctx *x, uint32_t i)
{
    int d = 0;
    for (; i < x->e; i++) {
        if (x->t[i].type == SQL_TK_LPAREN) {
            d++;
        } else if (x->t[i].type == SQL_TK_RPAREN && --d == 0) {
            return i + 1;
        }
    }
    return x->e;
}

/* ---- MySQL's precision arithmetic ---- */

static uint32_t min_u(uint32_t a, uint32_t b)
{
    return a < b ? a : b;
}

static uint32_t max_u(uint32_t a, uint32_t b)
{
    return a > b ? a : b;
}

/* Item::decimal_precision() */
static uint32_t prec_of(const ti_val *v)
{
    if (v->cls == TI_INT && v->intlit) {
        return v->len - v->neg;
    }
    uint32_t p =
        v->len - (v->dec > 0 && v->cls == TI_DEC ? 1 : 0) - (v->uns || v->len == 0 ? 0 : 1);
    if ((int32_t)p < 1) {
        p = 1;
    }
    return min_u(p, TI_DEC_PREC_MAX);
}

static uint32_t int_part(const ti_val *v)
{
    uint32_t p = prec_of(v);
    uint32_t d = v->cls == TI_DEC ? v->dec : 0;
    return p > d ? p - d : 0;
}

static ti_val make_dec(uint32_t prec, uint32_t dec, int uns, int nullable)
{
    ti_val v = ti_unknown;
    v.cls = TI_DEC;
    v.type = SQL_TYPE_NEWDECIMAL;
    v.dec = (uint8_t)min_u(dec, TI_DEC_SCALE_MAX);
    prec = min_u(prec, TI_DEC_PREC_MAX);
    if (prec < v.dec) {
        prec = v.dec;
    }
    v.uns = (uint8_t)(uns != 0);
    v.nullable = (uint8_t)(nullable != 0);
    v.len = prec + (v.dec > 0 ? 1 : 0) + (uns || prec == 0 ? 0 : 1);
    v.charset = SQL_COLLATION_BINARY;
    v.act = SQL_TI_ACT_DECIMAL;
    v.ifrac = v.dec;
    return v;
}

static ti_val make_int(uint32_t len, int uns, int nullable)
{
    ti_val v = ti_unknown;
    v.cls = TI_INT;
    v.type = SQL_TYPE_LONGLONG;
    v.len = len;
    v.uns = (uint8_t)(uns != 0);
    v.nullable = (uint8_t)(nullable != 0);
    v.charset = SQL_COLLATION_BINARY;
    return v;
}

static ti_val make_real(int nullable)
{
    ti_val v = ti_unknown;
    v.cls = TI_REAL;
    v.type = SQL_TYPE_DOUBLE;
    v.len = 23; /* DBL_DIG + 8 */
    v.dec = SQL_DECIMALS_NOT_FIXED;
    v.nullable = (uint8_t)(nullable != 0);
    v.charset = SQL_COLLATION_BINARY;
    return v;
}

static ti_val make_str(const ti_ctx *x, uint32_t chars, int binary, int nullable)
{
    ti_val v = ti_unknown;
    v.cls = TI_STR;
    v.type = SQL_TYPE_VAR_STRING;
    v.len = chars;
    v.dec = SQL_DECIMALS_NOT_FIXED;
    v.nullable = (uint8_t)(nullable != 0);
    v.charset = binary ? SQL_COLLATION_BINARY : sql_sess_collation(x->s);
    return v;
}

/* Characters a value prints as at most (CONCAT of a number, …). */
static uint32_t char_len(const ti_val *v)
{
    return v->len;
}

/* ---- FROM ---- */

static const char *const clause_end[] = {"WHERE", "GROUP", "HAVING", "ORDER", "LIMIT", "WINDOW",
                                         "FOR",   "LOCK",  "UNION",  "INTO",  NULL};

static int is_any(const ti_ctx *x, uint32_t i, const char *const *words)
{
    for (int k = 0; words[k] != NULL; k++) {
        if (is_kw(x, i, words[k])) {
            return 1;
        }
    }
    return 0;
}

static int name_tok(const ti_ctx *x, uint32_t i)
{
    return i < x->e && (x->t[i].type == SQL_TK_IDENT || x->t[i].type == SQL_TK_QIDENT);
}

/* Copies the name of token i (quotes undone) into buf. */
static int tok_name(const ti_ctx *x, uint32_t i, char *buf, size_t cap)
{
    const sql_token *k = &x->t[i];
    const char *p = x->src + (k->type == SQL_TK_QIDENT ? k->voff : k->off);
    size_t n = k->type == SQL_TK_QIDENT ? k->vlen : k->len;
    if (n >= cap) {
        return -1;
    }
    size_t o = 0;
    for (size_t j = 0; j < n; j++) {
        buf[o++] = p[j];
        if (k->type == SQL_TK_QIDENT && p[j] == '`' && j + 1 < n && p[j + 1] == '`') {
            j++;
        }
    }
    buf[o] = '\0';
    return 0;
}

static const char *const alias_stop[] = {"ON",   "USING", "JOIN",   "INNER",   "CROSS",
                                         "LEFT", "RIGHT", "OUTER",  "NATURAL", "STRAIGHT_JOIN",
                                         "USE",  "FORCE", "IGNORE", NULL};

/* Reads the table references of FROM at [i, e) (e: the end of the FROM clause). */
static void read_from(ti_ctx *x, uint32_t i, uint32_t e)
{
    x->tabs_ok = 1;
    int want = 1, pending_left = 0;
    uint32_t saved_e = x->e;
    x->e = e;
    while (i < e) {
        if (want) {
            want = 0;
            if (x->t[i].type == SQL_TK_LPAREN) {
                x->tabs_ok = 0; /* a derived table or a parenthesised join */
                i = skip_parens(x, i);
                continue;
            }
            if (!name_tok(x, i) || x->ntabs >= SQL_TI_TABLES_MAX) {
                x->tabs_ok = 0;
                break;
            }
            char db[SQL_DB_MAX], name[SQL_DB_MAX];
            if (i + 2 < e && x->t[i + 1].type == SQL_TK_DOT && name_tok(x, i + 2)) {
                if (tok_name(x, i, db, sizeof(db)) != 0 ||
                    tok_name(x, i + 2, name, sizeof(name)) != 0) {
                    x->tabs_ok = 0;
                    break;
                }
                i += 3;
            } else {
                if (!x->s->has_db || tok_name(x, i, name, sizeof(name)) != 0) {
                    x->tabs_ok = 0;
                    break;
                }
                memcpy(db, x->s->dbname, strlen(x->s->dbname) + 1);
                i += 1;
            }
            const sql_cat_table *t =
                x->s->schema != NULL ? sql_schema_table(x->s->schema, db, name) : NULL;
            if (t == NULL) {
                x->tabs_ok = 0;
                break;
            }
            ti_tab *tb = &x->tabs[x->ntabs++];
            memset(tb, 0, sizeof(*tb));
            tb->t = t;
            tb->outer = pending_left;
            pending_left = 0;
            if (is_kw(x, i, "AS")) {
                i++;
            }
            if (name_tok(x, i) && !is_any(x, i, alias_stop)) {
                const sql_token *a = &x->t[i];
                tb->alias = x->src + (a->type == SQL_TK_QIDENT ? a->voff : a->off);
                tb->alias_len = a->type == SQL_TK_QIDENT ? a->vlen : a->len;
                i++;
            }
            continue;
        }
        const sql_token *k = &x->t[i];
        if (k->type == SQL_TK_LPAREN) {
            i = skip_parens(x, i);
            continue;
        }
        if (k->type == SQL_TK_COMMA) {
            want = 1;
        } else if (is_kw(x, i, "LEFT")) {
            pending_left = 1;
        } else if (is_kw(x, i, "RIGHT")) {
            for (uint32_t j = 0; j < x->ntabs; j++) {
                x->tabs[j].outer = 1;
            }
        } else if (is_kw(x, i, "JOIN") || is_kw(x, i, "STRAIGHT_JOIN")) {
            want = 1;
        }
        i++;
    }
    x->e = saved_e;
}

/* ---- column references ---- */

static ti_val from_column(const ti_tab *tb, const sql_cat_col *col)
{
    sql_column c = sql_decl_col_meta(tb->t, col, NULL, 0);
    ti_val v = ti_unknown;
    v.type = c.type;
    v.dec = c.decimals;
    v.uns = (c.flags & SQL_FLAG_UNSIGNED) != 0;
    v.nullable = (c.flags & SQL_FLAG_NOT_NULL) == 0 || tb->outer;
    v.outer = (uint8_t)tb->outer;
    v.charset = c.charset;
    v.flags = c.flags & (SQL_FLAG_BINARY | SQL_FLAG_BLOB | SQL_FLAG_UNSIGNED | SQL_FLAG_ZEROFILL |
                         SQL_FLAG_ENUM | SQL_FLAG_SET | SQL_FLAG_NUM);
    v.len = c.length;
    switch (c.type) {
    case SQL_TYPE_TINY:
    case SQL_TYPE_SHORT:
    case SQL_TYPE_LONG:
    case SQL_TYPE_INT24:
    case SQL_TYPE_LONGLONG:
        v.cls = TI_INT;
        break;
    case SQL_TYPE_NEWDECIMAL:
        v.cls = TI_DEC;
        break;
    case SQL_TYPE_FLOAT:
    case SQL_TYPE_DOUBLE:
        v.cls = TI_REAL;
        break;
    case SQL_TYPE_VAR_STRING:
    case SQL_TYPE_STRING:
    case SQL_TYPE_BLOB:
    case SQL_TYPE_TINY_BLOB:
    case SQL_TYPE_MEDIUM_BLOB:
    case SQL_TYPE_LONG_BLOB:
        if (c.flags & (SQL_FLAG_ENUM | SQL_FLAG_SET)) {
            v.cls = TI_OTHER;
            break;
        }
        v.cls = TI_STR;
        if (c.charset != SQL_COLLATION_BINARY) {
            v.len = c.length / 4;
        }
        break;
    default:
        v.cls = TI_OTHER;
        break;
    }
    return v;
}

static int alias_is(const ti_tab *tb, const char *name)
{
    if (tb->alias != NULL) {
        return strlen(name) == tb->alias_len && strncasecmp(tb->alias, name, tb->alias_len) == 0;
    }
    return strcasecmp(tb->t->name, name) == 0;
}

/* A column reference at x->i: `c`, `t.c` or `db.t.c`. */
static ti_val column_ref(ti_ctx *x)
{
    uint32_t i = x->i;
    char a[SQL_DB_MAX], b[SQL_DB_MAX], c[SQL_DB_MAX];
    int parts = 1;
    if (i + 2 < x->e && x->t[i + 1].type == SQL_TK_DOT && name_tok(x, i + 2)) {
        parts = 2;
        if (i + 4 < x->e && x->t[i + 3].type == SQL_TK_DOT && name_tok(x, i + 4)) {
            parts = 3;
        }
    }
    x->i += (uint32_t)(parts * 2 - 1);
    if (!x->tabs_ok || tok_name(x, i, a, sizeof(a)) != 0 ||
        (parts > 1 && tok_name(x, i + 2, b, sizeof(b)) != 0) ||
        (parts > 2 && tok_name(x, i + 4, c, sizeof(c)) != 0)) {
        return ti_unknown;
    }
    const char *tname = parts == 1 ? NULL : parts == 2 ? a : b;
    const char *cname = parts == 1 ? a : parts == 2 ? b : c;
    for (uint32_t k = 0; k < x->ntabs; k++) {
        const ti_tab *tb = &x->tabs[k];
        if (tname != NULL && !alias_is(tb, tname)) {
            continue;
        }
        const sql_cat_col *col = sql_table_col(tb->t, cname);
        if (col != NULL) {
            return from_column(tb, col);
        }
    }
    return ti_unknown;
}

/* ---- expressions ---- */

static ti_val expr(ti_ctx *x, int min_prec);

static int numeric(const ti_val *v)
{
    return v->cls == TI_INT || v->cls == TI_DEC || v->cls == TI_REAL || v->cls == TI_STR;
}

static ti_val arith_type(char op, const ti_val *a, const ti_val *b, int nullable);

/* Arithmetic of MySQL's Item_num_op subclasses. op: + - * / D(iv) %(mod). */
static ti_val arith(char op, const ti_val *a, const ti_val *b)
{
    if (!numeric(a) || !numeric(b)) {
        return ti_unknown;
    }
    int nullable = a->nullable || b->nullable;
    ti_val r = arith_type(op, a, b, nullable);
    r.dz = a->dz || b->dz || op == '/' || op == '%' || op == 'D';
    if (r.cls == TI_DEC) {
        uint32_t ia = a->cls == TI_DEC ? a->ifrac : 0, ib = b->cls == TI_DEC ? b->ifrac : 0;
        uint32_t f = op == '*'   ? ia + ib
                     : op == '/' ? (ia + ib + TI_DIV_INCREMENT + 8) / 9 * 9
                                 : max_u(ia, ib);
        r.ifrac = (uint8_t)min_u(max_u(f, r.dec), TI_IFRAC_MAX);
    }
    r.nullable = (uint8_t)nullable;
    return r;
}

static ti_val arith_type(char op, const ti_val *a, const ti_val *b, int nullable)
{
    if (op == 'D') {
        if (a->cls == TI_STR || b->cls == TI_STR || a->cls == TI_REAL || b->cls == TI_REAL) {
            return ti_unknown;
        }
        uint32_t len = a->len;
        if (a->cls == TI_DEC && a->dec > 0) {
            len = len > (uint32_t)a->dec + 1 ? len - a->dec - 1 : 1;
        }
        ti_val v = make_int(len, a->uns || b->uns, 1);
        v.act = SQL_TI_ACT_TRUNC;
        return v;
    }
    if (a->cls == TI_REAL || b->cls == TI_REAL || a->cls == TI_STR || b->cls == TI_STR) {
        return make_real(nullable || op == '/' || op == '%');
    }
    int is_int = a->cls == TI_INT && b->cls == TI_INT && op != '/';
    uint32_t da = a->cls == TI_DEC ? a->dec : 0, db = b->cls == TI_DEC ? b->dec : 0;
    uint32_t prec, dec;
    switch (op) {
    case '+':
    case '-':
        dec = max_u(da, db);
        prec = max_u(int_part(a), int_part(b)) + 1 + dec;
        break;
    case '*':
        dec = da + db;
        prec = prec_of(a) + prec_of(b);
        break;
    case '/':
        dec = da + TI_DIV_INCREMENT;
        prec = prec_of(a) + db + TI_DIV_INCREMENT;
        return make_dec(prec, dec, a->uns && b->uns, 1);
    default: /* % */
        dec = max_u(da, db);
        prec = max_u(prec_of(a), prec_of(b));
        if (is_int) {
            return make_int(prec + (a->uns ? 0 : 1), a->uns, 1);
        }
        return make_dec(prec, dec, a->uns, 1);
    }
    if (is_int) {
        int uns = a->uns || b->uns;
        ti_val v = make_int(min_u(prec, 20) + (uns ? 0 : 1), uns, nullable);
        v.act = uns ? SQL_TI_ACT_NONE : SQL_TI_ACT_INTCHECK;
        return v;
    }
    return make_dec(prec, dec, a->uns && b->uns, nullable);
}

static ti_val literal_decimal(const ti_ctx *x, const sql_token *k)
{
    const char *p = x->src + k->off;
    uint32_t intg = 0, frac = 0, j = 0;
    while (j < k->len && p[j] == '0') {
        j++;
    }
    for (; j < k->len && p[j] != '.'; j++) {
        intg++;
    }
    if (j < k->len) {
        frac = k->len - j - 1;
    }
    if (intg == 0) {
        intg = 1;
    }
    ti_val v = make_dec(intg + frac, frac, 0, 0);
    if (intg + frac > TI_DEC_PREC_MAX) {
        return make_real(0); /* MySQL reads longer literals as doubles */
    }
    return v;
}

/* The type of a value that is one of v[0, n) (IF, IFNULL, COALESCE, CASE: MySQL's type
 * aggregation). NULLs only make it nullable; unknown if any is unknown. */
static ti_val merge(const ti_ctx *x, const ti_val *v, int n)
{
    int str = 0, real = 0, dec = 0, ints = 0, binary = 0, nullable = 0, uns = 1;
    uint32_t len = 0, frac = 0, intp = 0, ifrac = 0;
    for (int k = 0; k < n; k++) {
        if (v[k].cls == TI_NULL) {
            nullable = 1;
            continue;
        }
        if (v[k].cls == TI_UNKNOWN || v[k].cls == TI_OTHER) {
            return ti_unknown;
        }
        str |= v[k].cls == TI_STR;
        binary |= v[k].cls == TI_STR && v[k].charset == SQL_COLLATION_BINARY;
        real |= v[k].cls == TI_REAL;
        dec |= v[k].cls == TI_DEC;
        ints |= v[k].cls == TI_INT;
        nullable |= v[k].nullable || v[k].dz;
        uns &= v[k].uns;
        len = max_u(len, v[k].len);
        if (v[k].cls == TI_DEC || v[k].cls == TI_INT) {
            frac = max_u(frac, v[k].cls == TI_DEC ? v[k].dec : 0);
            ifrac = max_u(ifrac, v[k].cls == TI_DEC ? v[k].ifrac : 0);
            intp = max_u(intp, int_part(&v[k]));
        }
    }
    if (!(str || real || dec || ints)) {
        return ti_unknown; /* only NULLs */
    }
    if (str) {
        return make_str(x, len, binary, nullable);
    }
    if (real) {
        return make_real(nullable);
    }
    if (dec) {
        ti_val r = make_dec(intp + frac, frac, uns, nullable);
        r.ifrac = (uint8_t)max_u(ifrac, r.dec);
        return r;
    }
    return make_int(len, uns, nullable);
}

/* CASE [base] WHEN … THEN … [ELSE …] END at x->i (after CASE). */
static ti_val case_expr(ti_ctx *x)
{
    ti_val res[16];
    int n = 0, has_else = 0;
    if (!is_kw(x, x->i, "WHEN")) {
        ti_val base = expr(x, 0);
        (void)base;
    }
    while (is_kw(x, x->i, "WHEN")) {
        x->i++;
        (void)expr(x, 0);
        if (!is_kw(x, x->i, "THEN") || n >= 16) {
            x->i = x->e;
            return ti_unknown;
        }
        x->i++;
        res[n++] = expr(x, 0);
    }
    if (n == 0) {
        x->i = x->e;
        return ti_unknown;
    }
    if (is_kw(x, x->i, "ELSE") && n < 16) {
        x->i++;
        res[n++] = expr(x, 0);
        has_else = 1;
    }
    if (!is_kw(x, x->i, "END")) {
        x->i = x->e;
        return ti_unknown;
    }
    x->i++;
    ti_val r = merge(x, res, n);
    if (!has_else) {
        r.nullable = 1;
    }
    return r;
}

/* ROUND(a[, d]) / TRUNCATE(a, d) with a literal d >= 0: MySQL's Item_func_round types (ROUND
 * may carry into one more integer digit). */
static ti_val round_type(const ti_val *a, const ti_val *d, int nargs, int trunc)
{
    uint32_t digits = 0;
    int nullable = a->nullable || a->dz;
    if (nargs == 2) {
        if (d->cls != TI_INT || !d->intlit || d->neg || d->litval == 255) {
            return ti_unknown; /* a negative or computed digit count: left to the fallback */
        }
        digits = d->litval;
    }
    if (a->cls == TI_INT) {
        return make_int(a->len, a->uns, nullable);
    }
    if (a->cls == TI_DEC) {
        uint32_t dec = min_u(digits, TI_DEC_SCALE_MAX);
        return make_dec(int_part(a) + dec + (trunc ? 0 : 1), dec, a->uns, nullable);
    }
    if (a->cls == TI_REAL) {
        ti_val r = make_real(nullable);
        r.dec = (uint8_t)min_u(digits, TI_DEC_SCALE_MAX);
        return r;
    }
    return ti_unknown;
}

static const char *const str_same_len[] = {"UPPER", "LOWER", "UCASE",   "LCASE", "TRIM",
                                           "LTRIM", "RTRIM", "REVERSE", NULL};
static const char *const int_funcs[] = {"LENGTH",       "CHAR_LENGTH", "CHARACTER_LENGTH",
                                        "OCTET_LENGTH", "BIT_LENGTH",  "LOCATE",
                                        "INSTR",        "POSITION",    "ASCII",
                                        "ORD",          "FIND_IN_SET", NULL};

/* The arguments of a call at x->i (the opening parenthesis). Fills up to cap values; returns the
 * count, or -1 when they do not parse. */
static int call_args(ti_ctx *x, ti_val *args, int cap, int *distinct)
{
    uint32_t close = skip_parens(x, x->i);
    if (close > x->e || x->t[close - 1].type != SQL_TK_RPAREN) {
        return -1;
    }
    uint32_t saved_e = x->e;
    x->e = close - 1;
    x->i++;
    int n = 0;
    *distinct = 0;
    if (is_kw(x, x->i, "DISTINCT") || is_kw(x, x->i, "ALL")) {
        *distinct = is_kw(x, x->i, "DISTINCT");
        x->i++;
    }
    while (x->i < x->e) {
        ti_val v = expr(x, 0);
        if (n < cap) {
            args[n] = v;
        }
        n++;
        if (x->i < x->e && x->t[x->i].type == SQL_TK_COMMA) {
            x->i++;
            if (x->i >= x->e) {
                n = -1;
                break;
            }
        } else if (x->i < x->e) {
            n = -1;
            break;
        }
    }
    x->e = saved_e;
    x->i = close;
    return n;
}

static ti_val func_call(ti_ctx *x, uint32_t name)
{
    if (is_kw(x, name, "COUNT") && x->i + 2 < x->e && is_op(x, x->i + 1, "*") &&
        x->t[x->i + 2].type == SQL_TK_RPAREN) {
        x->i += 3;
        return make_int(21, 0, 0);
    }
    if (is_kw(x, name, "CAST") || is_kw(x, name, "CONVERT")) {
        x->i = skip_parens(x, x->i);
        return ti_unknown;
    }
    ti_val args[8];
    int distinct = 0;
    int n = call_args(x, args, 8, &distinct);
    if (n < 0) {
        return ti_unknown;
    }
    int nullable = 0;
    for (int k = 0; k < n && k < 8; k++) {
        nullable |= args[k].nullable || args[k].dz || args[k].cls == TI_NULL;
    }
    if (is_kw(x, name, "COUNT") && n == 1) {
        return make_int(21, 0, 0);
    }
    if ((is_kw(x, name, "SUM") || is_kw(x, name, "AVG")) && n == 1) {
        const ti_val *a = &args[0];
        int avg = is_kw(x, name, "AVG");
        if (a->cls == TI_INT || a->cls == TI_DEC) {
            uint32_t dec = a->cls == TI_DEC ? a->dec : 0;
            if (avg) {
                return make_dec(prec_of(a) + TI_DIV_INCREMENT, dec + TI_DIV_INCREMENT, a->uns, 1);
            }
            return make_dec(prec_of(a) + TI_LONGLONG_DIGITS, dec, a->uns, 1);
        }
        if (a->cls == TI_REAL || a->cls == TI_STR) {
            return make_real(1);
        }
        return ti_unknown;
    }
    if ((is_kw(x, name, "MIN") || is_kw(x, name, "MAX")) && n == 1) {
        ti_val v = args[0];
        if (v.cls != TI_INT && v.cls != TI_DEC && v.cls != TI_REAL && v.cls != TI_STR) {
            return ti_unknown;
        }
        v.nullable = 1;
        v.act = v.cls == TI_DEC ? SQL_TI_ACT_DECIMAL : SQL_TI_ACT_NONE;
        return v;
    }
    if ((is_kw(x, name, "IF") && n == 3) ||
        ((is_kw(x, name, "IFNULL") || is_kw(x, name, "COALESCE")) && n >= 2 && n <= 8)) {
        int iff = is_kw(x, name, "IF");
        ti_val r = merge(x, args + iff, n - iff);
        if (r.cls != TI_UNKNOWN && !iff) {
            /* NULL only when every argument can be */
            int all = 1;
            for (int k = 0; k < n; k++) {
                all &= args[k].nullable || args[k].dz || args[k].cls == TI_NULL;
            }
            r.nullable = (uint8_t)all;
        }
        return r;
    }
    if ((is_kw(x, name, "ROUND") && (n == 1 || n == 2)) || (is_kw(x, name, "TRUNCATE") && n == 2)) {
        return round_type(&args[0], &args[1], n, is_kw(x, name, "TRUNCATE"));
    }
    if (is_kw(x, name, "CONCAT") && n >= 1 && n <= 8) {
        uint32_t len = 0;
        int binary = 0;
        for (int k = 0; k < n; k++) {
            if (args[k].cls == TI_UNKNOWN || args[k].cls == TI_OTHER) {
                return ti_unknown;
            }
            binary |= args[k].cls == TI_STR && args[k].charset == SQL_COLLATION_BINARY;
            len += char_len(&args[k]);
        }
        /* NULL also when the result would exceed max_allowed_packet: always nullable */
        return make_str(x, len, binary, 1);
    }
    if (is_kw(x, name, "ABS") && n == 1 &&
        (args[0].cls == TI_INT || args[0].cls == TI_DEC || args[0].cls == TI_REAL)) {
        ti_val v = args[0];
        v.flags = 0;
        v.act = v.cls == TI_DEC ? SQL_TI_ACT_DECIMAL : SQL_TI_ACT_NONE;
        if (v.cls == TI_INT) {
            v.type = SQL_TYPE_LONGLONG;
        }
        return v;
    }
    if (is_any(x, name, str_same_len) && n == 1 && args[0].cls == TI_STR) {
        return make_str(x, args[0].len, args[0].charset == SQL_COLLATION_BINARY, nullable);
    }
    if (is_any(x, name, int_funcs) && n >= 1 && args[0].cls != TI_UNKNOWN) {
        return make_int(10, 0, nullable);
    }
    return ti_unknown;
}

static ti_val primary(ti_ctx *x)
{
    if (x->i >= x->e) {
        return ti_unknown;
    }
    const sql_token *k = &x->t[x->i];
    switch (k->type) {
    case SQL_TK_INT: {
        x->i++;
        ti_val v = make_int(k->len, 0, 0);
        v.intlit = 1;
        v.litval = 255;
        if (k->len <= 3) {
            int val = 0;
            for (uint32_t j = 0; j < k->len; j++) {
                val = val * 10 + (x->src[k->off + j] - '0');
            }
            v.litval = (uint8_t)(val < 255 ? val : 255);
        }
        if (k->len > 19 ||
            (k->len == 19 && memcmp(x->src + k->off, "9223372036854775807", 19) > 0)) {
            if (k->len > 20 ||
                (k->len == 20 && memcmp(x->src + k->off, "18446744073709551615", 20) > 0)) {
                return make_dec(k->len, 0, 0, 0);
            }
            v.uns = 1; /* MySQL reads it as BIGINT UNSIGNED */
        }
        return v;
    }
    case SQL_TK_DECIMAL:
        x->i++;
        return literal_decimal(x, k);
    case SQL_TK_FLOAT: {
        x->i++;
        ti_val v = make_real(0);
        v.len = k->len;
        return v;
    }
    case SQL_TK_STRING: {
        uint32_t chars = 0;
        while (x->i < x->e && x->t[x->i].type == SQL_TK_STRING) {
            const sql_token *q = &x->t[x->i];
            const unsigned char *p = (const unsigned char *)x->src + q->voff;
            for (uint32_t j = 0; j < q->vlen; j++) {
                chars += (p[j] & 0xc0) != 0x80;
            }
            x->i++;
        }
        /* escapes count once too many: a close upper bound is what MySQL's length is */
        return make_str(x, chars, 0, 0);
    }
    case SQL_TK_LPAREN: {
        if (is_kw(x, x->i + 1, "SELECT") || is_kw(x, x->i + 1, "WITH")) {
            x->i = skip_parens(x, x->i);
            return ti_unknown;
        }
        uint32_t close = skip_parens(x, x->i);
        uint32_t saved_e = x->e;
        x->e = close - 1;
        x->i++;
        ti_val v = expr(x, 0);
        int ok = x->i == x->e;
        x->e = saved_e;
        x->i = close;
        return ok ? v : ti_unknown;
    }
    case SQL_TK_IDENT:
    case SQL_TK_QIDENT: {
        if (k->type == SQL_TK_IDENT) {
            if (sql_tok_is(x->src, k, "NULL")) {
                x->i++;
                ti_val v = ti_unknown;
                v.cls = TI_NULL;
                return v;
            }
            if (sql_tok_is(x->src, k, "TRUE") || sql_tok_is(x->src, k, "FALSE")) {
                x->i++;
                ti_val v = make_int(1, 0, 0);
                v.intlit = 1;
                return v;
            }
            if (x->i + 1 < x->e && x->t[x->i + 1].type == SQL_TK_LPAREN) {
                uint32_t name = x->i;
                x->i++;
                return func_call(x, name);
            }
            if (sql_tok_is(x->src, k, "CASE")) {
                x->i++;
                return case_expr(x);
            }
            if (sql_tok_is(x->src, k, "INTERVAL") || sql_tok_is(x->src, k, "EXISTS")) {
                x->i = x->e; /* not typed: the item stays uninferred */
                return ti_unknown;
            }
        }
        return column_ref(x);
    }
    default:
        x->i = x->e;
        return ti_unknown;
    }
}

static ti_val unary(ti_ctx *x)
{
    if (x->depth > SQL_TR_DEPTH_MAX) {
        x->i = x->e;
        return ti_unknown;
    }
    if (is_op(x, x->i, "-") || is_op(x, x->i, "+")) {
        int minus = is_op(x, x->i, "-");
        x->i++;
        x->depth++;
        ti_val v = unary(x);
        x->depth--;
        if (!minus) {
            return v;
        }
        if (v.cls == TI_INT) {
            if (v.intlit && !v.neg) {
                v.neg = 1;
                v.len++;
                v.uns = 0;
                return v;
            }
            ti_val r = make_int(v.len + 1, 0, v.nullable);
            r.act = SQL_TI_ACT_INTCHECK;
            r.dz = v.dz;
            return r;
        }
        if (v.cls == TI_DEC) {
            ti_val r = make_dec(prec_of(&v), v.dec, 0, v.nullable);
            r.len = v.len + 1; /* Item_func_neg: one more for the sign */
            r.dz = v.dz;
            return r;
        }
        if (v.cls == TI_REAL) {
            v.flags = 0;
            return v;
        }
        return ti_unknown;
    }
    if (is_op(x, x->i, "~")) {
        x->i++;
        x->depth++;
        ti_val v = unary(x);
        x->depth--;
        return v.cls == TI_UNKNOWN ? v : make_int(21, 1, v.nullable);
    }
    if (is_op(x, x->i, "!") || is_kw(x, x->i, "NOT")) {
        x->i++;
        x->depth++;
        ti_val v = expr(x, 5);
        x->depth--;
        return v.cls == TI_UNKNOWN ? v : make_int(1, 0, v.nullable || v.cls == TI_NULL);
    }
    if (is_kw(x, x->i, "BINARY")) {
        x->i++;
        ti_val v = unary(x);
        if (v.cls == TI_STR) {
            v.charset = SQL_COLLATION_BINARY;
            return v;
        }
        return ti_unknown;
    }
    return primary(x);
}

/* Binary operator at x->i: its precedence (higher binds tighter) and a code; 0 when none. */
static int binop(ti_ctx *x, char *code, uint32_t *ntok)
{
    *ntok = 1;
    if (x->i >= x->e) {
        return 0;
    }
    const sql_token *k = &x->t[x->i];
    if (k->type == SQL_TK_OP) {
        const char *p = x->src + k->off;
        if (k->len == 1) {
            switch (p[0]) {
            case '+':
            case '-':
                *code = p[0];
                return 9;
            case '*':
            case '/':
            case '%':
                *code = p[0];
                return 10;
            case '^':
                *code = 'b';
                return 11;
            case '|':
                *code = 'b';
                return 6;
            case '&':
                *code = 'b';
                return 7;
            case '=':
            case '<':
            case '>':
                *code = 'c';
                return 5;
            default:
                return 0;
            }
        }
        if ((k->len == 2 && (memcmp(p, "<<", 2) == 0 || memcmp(p, ">>", 2) == 0))) {
            *code = 'b';
            return 8;
        }
        if ((k->len == 2 && (memcmp(p, "<=", 2) == 0 || memcmp(p, ">=", 2) == 0 ||
                             memcmp(p, "<>", 2) == 0 || memcmp(p, "!=", 2) == 0)) ||
            (k->len == 3 && memcmp(p, "<=>", 3) == 0)) {
            *code = k->len == 3 ? 'n' : 'c';
            return 5;
        }
        if (k->len == 2 && memcmp(p, "&&", 2) == 0) {
            *code = 'l';
            return 3;
        }
        if (k->len == 2 && memcmp(p, "||", 2) == 0) {
            if (x->s->mode & SQL_MODE_PIPES_AS_CONCAT) {
                return 0;
            }
            *code = 'l';
            return 1;
        }
        return 0;
    }
    if (is_kw(x, x->i, "DIV")) {
        *code = 'D';
        return 10;
    }
    if (is_kw(x, x->i, "MOD")) {
        *code = '%';
        return 10;
    }
    if (is_kw(x, x->i, "AND")) {
        *code = 'l';
        return 3;
    }
    if (is_kw(x, x->i, "XOR")) {
        *code = 'l';
        return 2;
    }
    if (is_kw(x, x->i, "OR")) {
        *code = 'l';
        return 1;
    }
    if (is_kw(x, x->i, "LIKE") || is_kw(x, x->i, "REGEXP") || is_kw(x, x->i, "RLIKE")) {
        *code = 'c';
        return 5;
    }
    return 0;
}

/* A comparison of a string with a number compares numbers in MySQL (the string read by its
 * numeric prefix, sql_semantics.c); SQLite would order every number before every text. With
 * x->rewrite, the string operand [lb, le) or [rb, x->i) is recorded to become tessera_num(…). */
static void coerce_compare(ti_ctx *x, const ti_val *a, const ti_val *b, uint32_t lb, uint32_t le,
                           uint32_t rb)
{
    if (!x->rewrite) {
        return;
    }
    int astr = a->cls == TI_STR && a->charset != SQL_COLLATION_BINARY;
    int bstr = b->cls == TI_STR && b->charset != SQL_COLLATION_BINARY;
    int anum = a->cls == TI_INT || a->cls == TI_DEC || a->cls == TI_REAL;
    int bnum = b->cls == TI_INT || b->cls == TI_DEC || b->cls == TI_REAL;
    uint32_t wb, we;
    if (astr && bnum) {
        wb = lb;
        we = le;
    } else if (bstr && anum) {
        wb = rb;
        we = x->i;
    } else {
        return;
    }
    if (x->nnodes >= TI_NODES_MAX) {
        x->nodes_full = 1;
        return;
    }
    ti_node *nd = &x->nodes[x->nnodes++];
    nd->lb = wb;
    nd->op = UINT32_MAX;
    nd->re = we;
    nd->code = 'N';
    nd->scale = 0;
}

static ti_val expr(ti_ctx *x, int min_prec)
{
    x->depth++;
    uint32_t start = x->i;
    ti_val a = unary(x);
    for (;;) {
        char code = 0;
        uint32_t ntok;
        /* postfix forms of the comparison level: IS [NOT] …, [NOT] IN/BETWEEN/LIKE */
        if (min_prec <= 5 && is_kw(x, x->i, "IS")) {
            x->i++;
            if (is_kw(x, x->i, "NOT")) {
                x->i++;
            }
            if (is_kw(x, x->i, "NULL") || is_kw(x, x->i, "TRUE") || is_kw(x, x->i, "FALSE") ||
                is_kw(x, x->i, "UNKNOWN")) {
                x->i++;
                a = a.cls == TI_UNKNOWN ? a : make_int(1, 0, 0);
                continue;
            }
            x->i = x->e;
            a = ti_unknown;
            break;
        }
        if (min_prec <= 5 && (is_kw(x, x->i, "IN") || is_kw(x, x->i, "BETWEEN") ||
                              (is_kw(x, x->i, "NOT") &&
                               (is_kw(x, x->i + 1, "IN") || is_kw(x, x->i + 1, "BETWEEN") ||
                                is_kw(x, x->i + 1, "LIKE") || is_kw(x, x->i + 1, "REGEXP"))))) {
            /* typed as a comparison of unknown nullability: leave the item uninferred */
            x->i = x->e;
            a = ti_unknown;
            break;
        }
        int p = binop(x, &code, &ntok);
        if (p == 0 || p < min_prec) {
            break;
        }
        uint32_t opi = x->i;
        x->i += ntok;
        ti_val b = expr(x, p + 1);
        if (a.cls == TI_UNKNOWN || b.cls == TI_UNKNOWN) {
            a = ti_unknown;
            continue;
        }
        int dz = a.dz || b.dz;
        if ((code == 'c' || code == 'n') && x->t[opi].type == SQL_TK_OP) {
            coerce_compare(x, &a, &b, start, opi, opi + ntok);
        }
        switch (code) {
        case 'c':
        case 'l':
            a = make_int(1, 0, a.nullable || b.nullable || a.cls == TI_NULL || b.cls == TI_NULL);
            a.dz = (uint8_t)dz;
            break;
        case 'n':
            a = make_int(1, 0, 0);
            break;
        case 'b':
            a = make_int(21, 1, a.nullable || b.nullable || a.cls == TI_NULL || b.cls == TI_NULL);
            a.dz = (uint8_t)dz;
            break;
        default:
            if (a.cls == TI_NULL || b.cls == TI_NULL) {
                a = ti_unknown;
                break;
            }
            a = arith(code, &a, &b);
            if (x->rewrite && a.cls == TI_DEC && strchr("+-*/%", code) != NULL) {
                if (x->nnodes < TI_NODES_MAX) {
                    ti_node *nd = &x->nodes[x->nnodes++];
                    nd->lb = start;
                    nd->op = opi;
                    nd->re = x->i;
                    nd->code = code;
                    nd->scale = a.ifrac;
                } else {
                    x->nodes_full = 1;
                }
            }
            break;
        }
    }
    x->depth--;
    return a;
}

/* ---- the select list ---- */

static const char *const select_mods[] = {
    "ALL",           "DISTINCT",         "DISTINCTROW",         "HIGH_PRIORITY",
    "STRAIGHT_JOIN", "SQL_SMALL_RESULT", "SQL_BIG_RESULT",      "SQL_BUFFER_RESULT",
    "SQL_NO_CACHE",  "SQL_CACHE",        "SQL_CALC_FOUND_ROWS", NULL};

/* Number of trailing tokens of item [b, e) that are its alias (`AS x`, `x`, `'x'`). */
static uint32_t alias_tokens(const ti_ctx *x, uint32_t b, uint32_t e)
{
    if (e - b >= 2 && is_kw(x, e - 2, "AS")) {
        return 2;
    }
    if (e - b >= 2) {
        const sql_token *l = &x->t[e - 1], *p = &x->t[e - 2];
        int word = l->type == SQL_TK_QIDENT ||
                   (l->type == SQL_TK_STRING && p->type != SQL_TK_STRING) ||
                   (l->type == SQL_TK_IDENT && !sql_tok_is(x->src, l, "NULL") &&
                    !sql_tok_is(x->src, l, "TRUE") && !sql_tok_is(x->src, l, "FALSE") &&
                    !sql_tok_is(x->src, l, "END") && !sql_tok_is(x->src, l, "UNKNOWN"));
        int ends = p->type == SQL_TK_RPAREN || p->type == SQL_TK_INT || p->type == SQL_TK_DECIMAL ||
                   p->type == SQL_TK_FLOAT || p->type == SQL_TK_STRING ||
                   p->type == SQL_TK_QIDENT ||
                   (p->type == SQL_TK_IDENT && !sql_tok_is(x->src, p, "AND") &&
                    !sql_tok_is(x->src, p, "OR") && !sql_tok_is(x->src, p, "NOT") &&
                    !sql_tok_is(x->src, p, "DIV") && !sql_tok_is(x->src, p, "MOD") &&
                    !sql_tok_is(x->src, p, "IS") && !sql_tok_is(x->src, p, "XOR") &&
                    !sql_tok_is(x->src, p, "BINARY") && !sql_tok_is(x->src, p, "LIKE"));
        if (word && ends) {
            return 1;
        }
    }
    return 0;
}

static int plain_column(const ti_ctx *x, uint32_t b, uint32_t e)
{
    uint32_t n = e - b;
    if (n != 1 && n != 3 && n != 5) {
        return 0;
    }
    for (uint32_t i = b; i < e; i++) {
        if ((i - b) % 2 == 0 ? !name_tok(x, i) : x->t[i].type != SQL_TK_DOT) {
            return 0;
        }
    }
    return !(n == 1 && x->t[b].type == SQL_TK_IDENT &&
             (sql_tok_is(x->src, &x->t[b], "NULL") || sql_tok_is(x->src, &x->t[b], "TRUE") ||
              sql_tok_is(x->src, &x->t[b], "FALSE")));
}

/* Public columns of a table (the ones SQLite sees). */
static uint32_t public_cols(const sql_cat_table *t)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < t->ncols; i++) {
        n += t->cols[i].state == SQL_OBJ_PUBLIC;
    }
    return n;
}

/* Columns `*` (star == b) or `[db.]t.*` at [b, star] stands for; 0 when not known. */
static uint32_t star_width(ti_ctx *x, uint32_t b, uint32_t star)
{
    if (!x->tabs_ok || x->ntabs == 0) {
        return 0;
    }
    uint32_t n = 0;
    if (star == b) {
        for (uint32_t k = 0; k < x->ntabs; k++) {
            n += public_cols(x->tabs[k].t);
        }
        return n;
    }
    char name[SQL_DB_MAX];
    if (star < b + 2 || tok_name(x, star - 2, name, sizeof(name)) != 0) {
        return 0;
    }
    for (uint32_t k = 0; k < x->ntabs; k++) {
        if (alias_is(&x->tabs[k], name)) {
            return public_cols(x->tabs[k].t);
        }
    }
    return 0;
}

static int build_rewrite(const ti_ctx *x, uint32_t n, const uint32_t *ib, const uint32_t *ie,
                         const uint8_t *named, uint32_t count, cm_buf *out);

/* The WHERE and HAVING clauses of the query's top level in [b, n): each AND-separated part the
 * parser reads whole gets its string-number comparisons recorded (coerce_compare). A part with
 * BETWEEN is skipped with the next one (BETWEEN's own AND splits it). Index use stays: a
 * constant side becomes a constant call, which SQLite still hands to xBestIndex. */
static void coerce_conditions(ti_ctx *x, uint32_t b, uint32_t n)
{
    int depth = 0, in_cond = 0, skip_next = 0, has_between = 0;
    uint32_t part = 0;
    for (uint32_t j = b; j <= n; j++) {
        x->e = n;
        int end_part = j == n;
        int clause = 0;
        if (j < n) {
            const sql_token *k = &x->t[j];
            if (k->type == SQL_TK_LPAREN) {
                depth++;
                continue;
            }
            if (k->type == SQL_TK_RPAREN) {
                depth--;
                continue;
            }
            if (depth != 0) {
                continue;
            }
            if (k->type == SQL_TK_IDENT && is_any(x, j, clause_end)) {
                clause = 1;
                end_part = 1;
            } else if (is_kw(x, j, "AND") || is_op(x, j, "&&")) {
                end_part = 1;
            } else if (is_kw(x, j, "BETWEEN")) {
                has_between = 1;
            }
        }
        if (end_part && in_cond) {
            if (skip_next || has_between) {
                skip_next = has_between;
            } else if (j > part) {
                uint32_t before = x->nnodes;
                x->i = part;
                x->e = j;
                x->depth = 0;
                x->rewrite = 1;
                ti_val v = expr(x, 0);
                x->rewrite = 0;
                if (x->i != j || v.cls == TI_UNKNOWN) {
                    x->nnodes = before;
                }
            }
            has_between = 0;
        }
        if (clause) {
            in_cond = is_kw(x, j, "WHERE") || is_kw(x, j, "HAVING");
            skip_next = 0;
        }
        if (end_part) {
            part = j + 1;
        }
    }
    x->e = n;
}

/* sql_ti_infer; with rw, also the text of the query with its DECIMAL operators as exact function
 * calls (returns 1 when rw holds one). */
static int infer(sql_sess *s, const char *src, const sql_token *t, uint32_t n, int ncols,
                 sql_tr_out *tr, cm_buf *rw, int exact)
{
    int ret = 0;
    if (n < 2 || tr->nitems == 0 || t[0].type != SQL_TK_IDENT ||
        !sql_tok_is(src, &t[0], "SELECT")) {
        return 0;
    }
    ti_ctx x;
    memset(&x, 0, sizeof(x));
    x.s = s;
    x.src = src;
    x.t = t;
    x.e = n;
    uint32_t i = 1;
    while (i < n && is_any(&x, i, select_mods)) {
        i++;
    }
    /* items at depth 0 up to FROM or a clause keyword; FROM up to the next clause */
    uint32_t list_b = i, list_e = n, from_b = 0, from_e = 0;
    int depth = 0;
    for (uint32_t j = i; j < n; j++) {
        if (t[j].type == SQL_TK_LPAREN) {
            depth++;
        } else if (t[j].type == SQL_TK_RPAREN) {
            depth--;
        } else if (depth == 0 && t[j].type == SQL_TK_IDENT) {
            if (is_kw(&x, j, "UNION") || is_kw(&x, j, "EXCEPT") || is_kw(&x, j, "INTERSECT")) {
                return 0; /* the columns' types merge over the branches */
            }
            if (from_b == 0 && list_e == n && is_kw(&x, j, "FROM")) {
                list_e = j;
                from_b = j + 1;
                from_e = n;
            } else if (is_any(&x, j, clause_end)) {
                if (list_e == n) {
                    list_e = j;
                }
                if (from_b != 0 && from_e == n) {
                    from_e = j;
                }
            }
        } else if (t[j].type == SQL_TK_SEMI) {
            return 0;
        }
    }
    if (from_b != 0) {
        read_from(&x, from_b, from_e);
    } else {
        x.tabs_ok = 1;
    }
    /* The items [b, e) of the list, and the columns each stands for: `*` and `t.*` expand into
     * their tables' columns (counted from the schema; with a single star and unknown tables,
     * what SQLite's column count leaves over). The items are then spread so that items[i]
     * describes result column i; when the counts do not add up, nothing is inferred. */
    uint32_t cap = tr->nitems, count = 0, nstars = 0, unknown = 0, total = 0;
    uint32_t *ib = calloc(cap, sizeof(*ib)), *ie = calloc(cap, sizeof(*ie));
    uint32_t *width = calloc(cap, sizeof(*width));
    uint8_t *named = calloc(cap, 1);
    if (ib == NULL || ie == NULL || width == NULL || named == NULL) {
        goto done;
    }
    depth = 0;
    for (uint32_t j = list_b, b = list_b; j <= list_e; j++) {
        if (j < list_e) {
            depth += t[j].type == SQL_TK_LPAREN ? 1 : t[j].type == SQL_TK_RPAREN ? -1 : 0;
            if (!(depth == 0 && t[j].type == SQL_TK_COMMA)) {
                continue;
            }
        }
        if (count >= cap || j == b) {
            goto done; /* the translator split the list otherwise: trust neither */
        }
        ib[count] = b;
        ie[count] = j;
        width[count] = 1;
        if (is_op(&x, j - 1, "*") && (j - 1 == b || t[j - 2].type == SQL_TK_DOT)) {
            nstars++;
            width[count] = star_width(&x, b, j - 1);
            unknown += width[count] == 0;
        }
        total += width[count];
        count++;
        b = j + 1;
    }
    if (count != tr->nitems || ncols < 0 || ncols > SQL_TR_ITEMS_MAX) {
        goto done;
    }
    if (unknown == 1 && nstars == 1 && (uint32_t)ncols > total) {
        for (uint32_t k = 0; k < count; k++) {
            if (width[k] == 0) {
                width[k] = (uint32_t)ncols - total;
                total = (uint32_t)ncols;
                unknown = 0;
            }
        }
    }
    if (unknown > 0 || total != (uint32_t)ncols) {
        goto done;
    }
    if (total > count) {
        sql_tr_item *v = malloc((size_t)total * sizeof(*v));
        if (v == NULL) {
            goto done;
        }
        for (uint32_t k = 0, c = 0; k < count; k++) {
            for (uint32_t w = 0; w < width[k]; w++) {
                v[c++] = tr->items[k];
            }
        }
        free(tr->items);
        tr->items = v;
        tr->nitems = tr->cap_items = total;
    }
    for (uint32_t k = 0, col = 0; k < count; col += width[k], k++) {
        sql_tr_item *it = &tr->items[col];
        uint32_t b = ib[k];
        x.e = n;
        uint32_t e = ie[k] - alias_tokens(&x, b, ie[k]);
        if (is_op(&x, ie[k] - 1, "*") && (ie[k] - 1 == b || t[ie[k] - 2].type == SQL_TK_DOT)) {
            continue; /* table columns, described by sql_decl_column */
        }
        if (e > b && plain_column(&x, b, e)) {
            x.i = b;
            x.e = e;
            ti_val v = column_ref(&x);
            if (v.cls != TI_UNKNOWN && v.outer) {
                it->ti_act |= SQL_TI_ACT_NULLABLE; /* its table's NOT NULL does not hold here */
            }
            continue;
        }
        if (e <= b || it->strong) {
            continue;
        }
        x.i = b;
        x.e = e;
        x.depth = 0;
        uint32_t nodes_before = x.nnodes;
        x.rewrite = 1;
        ti_val v = expr(&x, 0);
        x.rewrite = 0;
        if (x.i != e || v.cls == TI_UNKNOWN || v.cls == TI_OTHER || v.cls == TI_NULL ||
            v.type == 0) {
            x.nnodes = nodes_before; /* extents not trusted */
            continue;
        }
        if (x.nnodes > nodes_before) {
            x.e = n;
            named[k] = alias_tokens(&x, b, ie[k]) == 0; /* needs its name spelled out */
        }
        it->ti_type = v.type;
        it->ti_decimals = v.dec;
        it->ti_act = v.act;
        if (v.dz && !v.nullable && !(exact && x.nnodes > nodes_before)) {
            /* NULL only from a division by zero (the exact operators warn themselves) */
            it->ti_act |= SQL_TI_ACT_DIVZERO;
        }
        it->ti_length = v.cls == TI_STR && v.charset != SQL_COLLATION_BINARY
                            ? (v.len > 0x3fffffffu ? 0xffffffffu : v.len * 4)
                            : v.len;
        it->ti_charset = v.charset;
        uint16_t f = v.flags & (SQL_FLAG_BLOB | SQL_FLAG_ZEROFILL);
        if (!v.nullable && !v.dz) {
            f |= SQL_FLAG_NOT_NULL;
        }
        if (v.uns && v.cls != TI_STR) {
            f |= SQL_FLAG_UNSIGNED;
        }
        if (v.charset == SQL_COLLATION_BINARY) {
            f |= SQL_FLAG_BINARY;
        }
        it->ti_flags = f;
    }
    if (rw != NULL) {
        coerce_conditions(&x, list_e, n);
    }
    if (rw != NULL && x.nnodes > 0 && !x.nodes_full) {
        ret = build_rewrite(&x, n, ib, ie, named, count, rw) == 0;
    }
done:
    free(ib);
    free(ie);
    free(width);
    free(named);
    return ret;
}

void sql_ti_infer(sql_sess *s, const char *src, const sql_token *t, uint32_t n, int ncols,
                  sql_tr_out *tr)
{
    (void)infer(s, src, t, n, ncols, tr, NULL, 0);
}

/* Appends `AS `name`` with MySQL's name of item [b, e) (its text, at most SQL_TR_NAME_MAX bytes,
 * as the translator names it). */
static int append_name(const ti_ctx *x, uint32_t b, uint32_t e, cm_buf *out)
{
    size_t start = x->t[b].off, end = x->t[e - 1].off + x->t[e - 1].len, len = end - start;
    if (len > SQL_TR_NAME_MAX) {
        len = SQL_TR_NAME_MAX;
        while (len > 0 && ((unsigned char)x->src[start + len] & 0xc0) == 0x80) {
            len--;
        }
    }
    if (cm_buf_append(out, " AS `", 5) != 0) {
        return -1;
    }
    for (size_t i = 0; i < len; i++) {
        char c = x->src[start + i];
        if (cm_buf_append(out, &c, 1) != 0 || (c == '`' && cm_buf_append(out, "`", 1) != 0)) {
            return -1;
        }
    }
    return cm_buf_append(out, "`", 1);
}

/* 1 when token i is a DECIMAL literal that is a whole operand of a rewritten operator (alone,
 * or after a unary minus), 2 when it is that minus, else 0. */
static int literal_operand(const ti_ctx *x, uint32_t i)
{
    for (uint32_t k = 0; k < x->nnodes; k++) {
        const ti_node *nd = &x->nodes[k];
        if (nd->code == 'N') {
            continue;
        }
        uint32_t ranges[2][2] = {{nd->lb, nd->op}, {nd->op + 1, nd->re}};
        for (int r = 0; r < 2; r++) {
            uint32_t b = ranges[r][0], e = ranges[r][1];
            int minus = e - b == 2 && x->t[b].type == SQL_TK_OP && x->t[b].len == 1 &&
                        x->src[x->t[b].off] == '-';
            if (e - b == 1 + (uint32_t)minus && x->t[e - 1].type == SQL_TK_DECIMAL) {
                if (i == e - 1) {
                    return 1;
                }
                if (minus && i == b) {
                    return 2;
                }
            }
        }
    }
    return 0;
}

static int build_rewrite(const ti_ctx *x, uint32_t n, const uint32_t *ib, const uint32_t *ie,
                         const uint8_t *named, uint32_t count, cm_buf *out)
{
    static const char *const fn[] = {"tessera_dadd(", "tessera_dsub(", "tessera_dmul(",
                                     "tessera_ddiv(", "tessera_dmod(", "tessera_num("};
    const char *src = x->src;
    cm_buf_reset(out); /* from the first token: src may hold earlier statements */
    uint32_t item = 0;
    for (uint32_t i = 0; i < n; i++) {
        /* prefixes: outer operators first (recorded after their operands) */
        int is_op = 0;
        for (int k = (int)x->nnodes - 1; k >= 0; k--) {
            const ti_node *nd = &x->nodes[k];
            const char *f = nd->code == '+'   ? fn[0]
                            : nd->code == '-' ? fn[1]
                            : nd->code == '*' ? fn[2]
                            : nd->code == '/' ? fn[3]
                            : nd->code == 'N' ? fn[5]
                                              : fn[4];
            if (nd->lb == i && cm_buf_append(out, f, strlen(f)) != 0) {
                return -1;
            }
            is_op |= nd->op == i;
        }
        int lit = literal_operand(x, i);
        if (is_op) {
            if (cm_buf_append(out, ",", 1) != 0) {
                return -1;
            }
        } else if (lit == 2) {
            /* `- 1.5` as one operand: '-1.5' below */
        } else if (lit == 1) {
            /* a DECIMAL literal operand reaches the function as exact text (SQLite would read
             * it as a double): '12345678901234567.89' */
            int neg = i > 0 && literal_operand(x, i - 1) == 2;
            if (cm_buf_append(out, neg ? "'-" : "'", neg ? 2 : 1) != 0 ||
                cm_buf_append(out, src + x->t[i].off, x->t[i].len) != 0 ||
                cm_buf_append(out, "'", 1) != 0) {
                return -1;
            }
        } else if (cm_buf_append(out, src + x->t[i].off, x->t[i].len) != 0) {
            return -1;
        }
        for (uint32_t k = 0; k < x->nnodes; k++) {
            const ti_node *nd = &x->nodes[k];
            if (nd->re != i + 1) {
                continue;
            }
            char tail[16];
            int m = nd->code == '/' ? snprintf(tail, sizeof(tail), ", %u)", nd->scale)
                                    : snprintf(tail, sizeof(tail), ")");
            if (cm_buf_append(out, tail, (size_t)m) != 0) {
                return -1;
            }
        }
        while (item < count && ie[item] <= i) {
            item++;
        }
        if (item < count && ie[item] == i + 1 && named[item] &&
            append_name(x, ib[item], i + 1, out) != 0) {
            return -1;
        }
        if (i + 1 == n) {
            break; /* what follows the last token (spaces, a comment) is not needed */
        }
        size_t gap_b = x->t[i].off + x->t[i].len;
        size_t gap_e = x->t[i + 1].off;
        if (gap_e < gap_b) {
            return -1; /* tokens from inside an executable comment: leave the text alone */
        }
        for (size_t g = gap_b; g + 2 < gap_e; g++) {
            if (src[g] == '/' && src[g + 1] == '*' && src[g + 2] == '!') {
                return -1;
            }
        }
        if (cm_buf_append(out, src + gap_b, gap_e - gap_b) != 0) {
            return -1;
        }
    }
    return cm_buf_terminate(out);
}

void sql_ti_describe(const sql_tr_item *it, sql_column *c)
{
    c->type = it->ti_type;
    c->decimals = it->ti_decimals;
    c->length = it->ti_length;
    c->flags = it->ti_flags;
    c->charset = it->ti_charset;
}

int sql_ti_finish(sql_sess *s, const char *src, const sql_token *t, uint32_t n, sqlite3_stmt **st)
{
    int ncols = sqlite3_column_count(*st);
    cm_buf rw = CM_BUF_INIT;
    if (infer(s, src, t, n, ncols, &s->tr, &rw, 0) == 1) {
        /* translate and prepare the exact form; the original stays when anything fails */
        sql_tokens toks;
        sql_tokens_init(&toks);
        cm_err err;
        cm_err_clear(&err);
        sql_tr_ctx ctx = sql_sess_tr_ctx(s);
        sqlite3_stmt *st2 = NULL;
        const char *text = (const char *)rw.ptr;
        size_t len = rw.len;
        int ok = sql_lex(text, len, s->mode, &toks, &err) == 0 &&
                 sql_translate_query(text, toks.v, toks.n, &ctx, &s->tr, &err) == 0 &&
                 sql_decl_prepare(s, (const char *)s->tr.sql.ptr, (int)s->tr.sql.len,
                                  SQLITE_PREPARE_PERSISTENT, &st2, NULL, &err) == 0 &&
                 st2 != NULL && sqlite3_column_count(st2) == ncols;
        if (ok) {
            sqlite3_finalize(*st);
            *st = st2;
        } else {
            sqlite3_finalize(st2);
            CM_DEBUG("sql", "exact DECIMAL form not used: %s", err.msg);
            (void)sql_translate_query(src, t, n, &ctx, &s->tr, &err); /* s->tr as it was */
        }
        sql_tokens_fini(&toks);
        infer(s, src, t, n, ncols, &s->tr, NULL, ok);
    }
    cm_buf_fini(&rw);
    return 0;
}
