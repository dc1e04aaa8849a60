/* sql_copr_agg.c — single-table aggregate queries pushed to the coprocessor (sql_copr.h,
 * docs/coprocessor.md "Aggregate pushdown (sqlnode)").
 *
 * Recognised on the MySQL tokens, before any translation:
 *     SELECT item[, item…] FROM tbl [[AS] alias] [WHERE cond] [GROUP BY col[, col…]]
 *         [HAVING cond] [ORDER BY expr [ASC|DESC], …] [LIMIT n [OFFSET m] | LIMIT m, n]
 * where every item is COUNT(*), COUNT/SUM/MIN/MAX/AVG(expr) or a GROUP BY column, each with an
 * optional alias. The WHERE clause and the aggregates' arguments compile to bytecode
 * (sql_copr_expr.c); HAVING and ORDER BY compile to bytecode over the merged rows (group
 * columns, then aggregates). The plan (scan of the table's rows, SEL, AGG) goes to every region
 * through cm_kv_copr at the transaction's start_ts; the partial groups are merged here in a
 * hash table (cm_copr_agg_merge), finished (cm_copr_agg_final), filtered by HAVING, sorted,
 * cut by LIMIT and sent with the metadata the SQLite path gives the same query (the
 * translator's names, sql_typeinfer's types). Whatever does not fit this shape runs through
 * SQLite, unchanged. */
#include "sql_copr.h"
#include "sql_numeric.h"
#include "sql_session_int.h"

#include "../mysql/sql_my_const.h"
#include "cm_keys.h"
#include "cm_log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Most select items, aggregates (with the hidden ones HAVING / ORDER BY add) and ORDER BY
 * terms one pushed query has: the plan's own bounds. */
#define AGG_ITEMS_MAX CM_COPR_AGGS_MAX
#define AGG_ORDER_MAX CM_COPR_ORDER_MAX
/* Most merged groups kept in memory (each region sends at most CM_COPR_GROUPS_MAX): beyond it
 * the query runs through SQLite instead. ~100 bytes a group plus its values. */
#define AGG_MERGE_GROUPS_MAX 1000000u
/* Parallel region requests: the issue asks for 4-8; 8 keeps 8 kvnode threads busy at most. */
#define AGG_CONCURRENCY 8

enum { IT_GROUP = 1, IT_AGG = 2 };

typedef struct agg_item {
    uint32_t b, e; /* expression tokens (alias excluded) */
    int kind;
    uint32_t slot; /* merged-row column */
    int32_t col;   /* IT_GROUP, or MIN/MAX of a plain column: its table offset; else -1 */
    int32_t alias; /* token of the alias, -1: none */
} agg_item;

typedef struct agg_fn {
    uint8_t fn;      /* cm_copr_aggfn */
    uint32_t nb, ne; /* the call's tokens: name .. ')' */
    size_t code_off, code_len;
    sql_copr_type arg;
    sql_copr_type res;
} agg_fn;

typedef struct agg_order {
    uint32_t b, e;
    bool desc;
    size_t code_off, code_len;
} agg_order;

typedef struct agg_q {
    sql_copr_env menv; /* first: merged-row resolution for HAVING / ORDER BY */
    sql_sess *s;
    const char *src;
    const sql_token *t;
    uint32_t n;
    const sql_cat_table *tab;
    uint32_t tb, te; /* table reference tokens (name or db.name) */
    int32_t talias;  /* alias token or -1 */
    sql_copr_tcols tc;
    uint32_t wb, we; /* WHERE, empty: none */
    uint32_t hb, he; /* HAVING */
    uint32_t gb, ge; /* GROUP BY list */
    uint32_t ngroup;
    uint32_t group_off[CM_COPR_GROUPBY_MAX];  /* table offsets */
    uint32_t group_plan[CM_COPR_GROUPBY_MAX]; /* plan columns */
    sql_copr_type group_ty[CM_COPR_GROUPBY_MAX];
    agg_item items[AGG_ITEMS_MAX];
    uint32_t nitems;
    agg_fn aggs[AGG_ITEMS_MAX];
    uint32_t naggs;
    agg_order order[AGG_ORDER_MAX];
    uint32_t norder;
    bool has_limit;
    uint64_t limit, offset;
    cm_buf progs; /* every compiled program, back to back */
    size_t sel_off, sel_len;
    size_t group_code_off[CM_COPR_GROUPBY_MAX], group_code_len[CM_COPR_GROUPBY_MAX];
    size_t having_off, having_len;
    bool has_having;
    char why[128];
    cm_cx_builder b;
} agg_q;

/* ---- small token helpers ---- */

static bool kw_at(const agg_q *q, uint32_t i, const char *k)
{
    return i < q->n && sql_tok_is(q->src, &q->t[i], k);
}

static bool is_name(const agg_q *q, uint32_t i)
{
    return i < q->n && (q->t[i].type == SQL_TK_IDENT || q->t[i].type == SQL_TK_QIDENT);
}

static int qno(agg_q *q, const char *why)
{
    if (q->why[0] == '\0') {
        snprintf(q->why, sizeof(q->why), "%s", why);
    }
    return SQL_COPR_NO;
}

/* Appends the finished program of b to q->progs. */
static int keep_program(agg_q *q, cm_cx_builder *b, size_t *off, size_t *len, cm_err *err)
{
    cm_slice code;
    cm_err e2;
    int rc = cm_cx_finish(b, &code, &e2);
    if (rc == CM_E_NOMEM) {
        return cm_err_set(err, CM_E_NOMEM, "out of memory");
    }
    if (rc != 0) {
        return qno(q, "a program the builder refused");
    }
    *off = q->progs.len;
    *len = code.len;
    if (cm_buf_append(&q->progs, code.ptr, code.len) != 0) {
        return cm_err_set(err, CM_E_NOMEM, "out of memory");
    }
    return 0;
}

/* Compiles t[b, e) with its own builder (HAVING compiles aggregate arguments while it is being
 * compiled itself) and keeps the program. */
static int compile_into(agg_q *q, sql_copr_env *env, uint32_t b, uint32_t e, sql_copr_type *ty,
                        size_t *off, size_t *len, cm_err *err)
{
    cm_cx_builder bld;
    cm_cx_builder_init(&bld);
    char why[96];
    int rc =
        sql_copr_compile(q->src, q->s->mode, q->t + b, e - b, env, &bld, ty, why, sizeof(why), err);
    if (rc == SQL_COPR_NO) {
        rc = qno(q, why);
    } else if (rc == 0) {
        rc = keep_program(q, &bld, off, len, err);
    }
    cm_cx_builder_fini(&bld);
    return rc;
}

/* Text equality of two token ranges (case-insensitive for words): the same aggregate named
 * twice (`COUNT(*)` in the list and in HAVING) is computed once. */
static bool same_tokens(const agg_q *q, uint32_t ab, uint32_t ae, uint32_t bb, uint32_t be)
{
    if (ae - ab != be - bb) {
        return false;
    }
    for (uint32_t k = 0; k < ae - ab; k++) {
        const sql_token *x = &q->t[ab + k], *y = &q->t[bb + k];
        if (x->type != y->type || x->len != y->len) {
            return false;
        }
        bool ci = x->type == SQL_TK_IDENT;
        if (ci ? strncasecmp(q->src + x->off, q->src + y->off, x->len) != 0
               : memcmp(q->src + x->off, q->src + y->off, x->len) != 0) {
            return false;
        }
    }
    return true;
}

/* ---- aggregates ---- */

/* The aggregate call t[nb, ne) (name .. ')'): registered once; *slot its aggregate index. */
static int agg_add(agg_q *q, uint32_t nb, uint32_t ne, uint32_t *idx, cm_err *err)
{
    for (uint32_t k = 0; k < q->naggs; k++) {
        if (same_tokens(q, q->aggs[k].nb, q->aggs[k].ne, nb, ne)) {
            *idx = k;
            return 0;
        }
    }
    static const struct {
        const char *name;
        uint8_t fn;
    } fns[] = {{"COUNT", CM_COPR_COUNT},
               {"SUM", CM_COPR_SUM},
               {"MIN", CM_COPR_MIN},
               {"MAX", CM_COPR_MAX},
               {"AVG", CM_COPR_AVG}};
    uint8_t fn = 0;
    for (size_t k = 0; k < sizeof(fns) / sizeof(fns[0]); k++) {
        if (kw_at(q, nb, fns[k].name)) {
            fn = fns[k].fn;
        }
    }
    if (fn == 0 || ne - nb < 3 || q->t[nb + 1].type != SQL_TK_LPAREN ||
        q->t[ne - 1].type != SQL_TK_RPAREN || q->t[nb].off + q->t[nb].len != q->t[nb + 1].off) {
        return qno(q, "not an aggregate this plan pushes");
    }
    if (q->naggs >= AGG_ITEMS_MAX) {
        return qno(q, "too many aggregates");
    }
    if (ne < q->n && kw_at(q, ne, "OVER")) {
        return qno(q, "a window function");
    }
    uint32_t ab = nb + 2, ae = ne - 1;
    if (kw_at(q, ab, "DISTINCT") || kw_at(q, ab, "ALL")) {
        return qno(q, "DISTINCT / ALL in an aggregate");
    }
    agg_fn *a = &q->aggs[q->naggs];
    memset(a, 0, sizeof(*a));
    a->fn = fn;
    a->nb = nb;
    a->ne = ne;
    a->arg.col = -1;
    if (fn == CM_COPR_COUNT && ae - ab == 1 && q->t[ab].type == SQL_TK_OP && q->t[ab].len == 1 &&
        q->src[q->t[ab].off] == '*') {
        a->code_len = 0; /* COUNT(*) */
    } else {
        int rc = compile_into(q, &q->tc.env, ab, ae, &a->arg, &a->code_off, &a->code_len, err);
        if (rc != 0) {
            return rc;
        }
    }
    const sql_copr_type *g = &a->arg;
    sql_copr_type *r = &a->res;
    memset(r, 0, sizeof(*r));
    r->col = -1;
    switch (fn) {
    case CM_COPR_COUNT:
        r->cls = SQL_COPR_C_INT;
        break;
    case CM_COPR_SUM:
    case CM_COPR_AVG:
        if (g->cls == SQL_COPR_C_REAL) {
            r->cls = SQL_COPR_C_REAL;
        } else if (g->cls == SQL_COPR_C_INT || g->cls == SQL_COPR_C_UINT ||
                   g->cls == SQL_COPR_C_DEC) {
            r->cls = SQL_COPR_C_DEC;
            unsigned sc = g->scale + (fn == CM_COPR_AVG ? 4u : 0u);
            r->scale = (uint8_t)(sc > 30 ? 30 : sc);
        } else {
            return qno(q, "SUM / AVG of a value that is not a number");
        }
        break;
    default: /* MIN, MAX (their partial states keep a STRING's trailing spaces) */
        if (g->cls == SQL_COPR_C_NULL) {
            return qno(q, "MIN / MAX of NULL");
        }
        if (g->col < 0 && g->cls != SQL_COPR_C_INT && g->cls != SQL_COPR_C_UINT &&
            g->cls != SQL_COPR_C_DEC && g->cls != SQL_COPR_C_REAL) {
            return qno(q, "MIN / MAX of an expression that is not a number");
        }
        *r = *g;
        r->is_const = false;
        break;
    }
    *idx = q->naggs++;
    return 0;
}

/* ---- merged rows: group columns then aggregates (HAVING, ORDER BY) ---- */

/* The table column t[0, n) names, or -1. */
static int32_t table_col_of(agg_q *q, const char *src, const sql_token *t, uint32_t n)
{
    cm_buf tmp = CM_BUF_INIT;
    int32_t off = -1;
    bool ok = n == 1;
    if (n == 3) {
        ok = sql_tok_name(src, &t[0], &tmp) == 0 && cm_buf_terminate(&tmp) == 0 &&
             strcasecmp((const char *)tmp.ptr, q->tc.qual) == 0;
    }
    if (ok) {
        cm_buf_reset(&tmp);
        if (sql_tok_name(src, &t[n - 1], &tmp) == 0 && cm_buf_terminate(&tmp) == 0) {
            const sql_cat_col *c = sql_table_col(q->tab, (const char *)tmp.ptr);
            off = c != NULL && c->state == SQL_OBJ_PUBLIC ? (int32_t)c->offset : -1;
        }
    }
    cm_buf_fini(&tmp);
    return off;
}

/* The select item whose alias is t (one token), or -1. */
static int32_t alias_item(agg_q *q, const char *src, const sql_token *t)
{
    cm_buf a = CM_BUF_INIT, b = CM_BUF_INIT;
    int32_t found = -1;
    if (sql_tok_name(src, t, &a) != 0) {
        cm_buf_fini(&a);
        return -1;
    }
    for (uint32_t k = 0; k < q->nitems && found < 0; k++) {
        if (q->items[k].alias < 0) {
            continue;
        }
        const sql_token *at = &q->t[q->items[k].alias];
        cm_buf_reset(&b);
        int rc = at->type == SQL_TK_STRING ? sql_tok_string(src, at, q->s->mode, &b)
                                           : sql_tok_name(src, at, &b);
        if (rc == 0 && a.len == b.len &&
            (a.len == 0 || strncasecmp((const char *)a.ptr, (const char *)b.ptr, a.len) == 0)) {
            found = (int32_t)k;
        }
    }
    cm_buf_fini(&a);
    cm_buf_fini(&b);
    return found;
}

static sql_copr_type slot_type(const agg_q *q, uint32_t slot)
{
    if (slot < q->ngroup) {
        sql_copr_type ty = q->group_ty[slot];
        ty.col = -1;
        return ty;
    }
    return q->aggs[slot - q->ngroup].res;
}

static int merged_column(sql_copr_env *e, const char *src, const sql_token *t, uint32_t n,
                         uint32_t *idx, sql_copr_type *type, cm_err *err)
{
    (void)err;
    agg_q *q = (agg_q *)e;
    int32_t off = table_col_of(q, src, t, n);
    int64_t by_col = -1, by_alias = -1;
    if (off >= 0) {
        for (uint32_t k = 0; k < q->ngroup; k++) {
            if (q->group_off[k] == (uint32_t)off) {
                by_col = k;
                break;
            }
        }
    }
    if (n == 1) {
        int32_t it = alias_item(q, src, &t[0]);
        by_alias = it >= 0 ? (int64_t)q->items[it].slot : -1;
    }
    if (by_col < 0 && by_alias < 0) {
        return SQL_COPR_NO; /* a column not grouped, or an unknown name */
    }
    if ((off >= 0 && by_col < 0) || (by_col >= 0 && by_alias >= 0 && by_col != by_alias)) {
        return SQL_COPR_NO; /* MySQL's choice between a column and an alias: not ours to make */
    }
    *idx = (uint32_t)(by_col >= 0 ? by_col : by_alias);
    *type = slot_type(q, *idx);
    return 0;
}

static int merged_aggregate(sql_copr_env *e, const char *src, const sql_token *t, uint32_t n,
                            uint32_t *idx, sql_copr_type *type, cm_err *err)
{
    agg_q *q = (agg_q *)e;
    (void)src;
    uint32_t nb = (uint32_t)(t - q->t), k;
    int rc = agg_add(q, nb, nb + n, &k, err);
    if (rc != 0) {
        return rc;
    }
    *idx = q->ngroup + k;
    *type = q->aggs[k].res;
    return 0;
}

/* ---- recognising the statement ---- */

/* A column reference t[b, e) (1 or 3 tokens); false otherwise. */
static bool col_ref(const agg_q *q, uint32_t b, uint32_t e)
{
    if (e - b == 1) {
        return is_name(q, b) && !kw_at(q, b, "NULL") && !kw_at(q, b, "TRUE") &&
               !kw_at(q, b, "FALSE");
    }
    return e - b == 3 && is_name(q, b) && q->t[b + 1].type == SQL_TK_DOT && is_name(q, b + 2);
}

/* Splits the select item [b, e) into expression and alias and classifies it. */
static int parse_item(agg_q *q, uint32_t b, uint32_t e, cm_err *err)
{
    if (q->nitems >= AGG_ITEMS_MAX) {
        return qno(q, "too many select items");
    }
    agg_item *it = &q->items[q->nitems];
    memset(it, 0, sizeof(*it));
    it->alias = -1;
    it->col = -1;
    uint32_t x = b;
    /* the expression: an aggregate call or a column reference */
    if (x + 1 < e && q->t[x].type == SQL_TK_IDENT && q->t[x + 1].type == SQL_TK_LPAREN) {
        int depth = 0;
        uint32_t k = x + 1;
        for (; k < e; k++) {
            depth += q->t[k].type == SQL_TK_LPAREN ? 1 : q->t[k].type == SQL_TK_RPAREN ? -1 : 0;
            if (depth == 0) {
                break;
            }
        }
        if (k >= e) {
            return qno(q, "unbalanced item");
        }
        x = k + 1;
        it->kind = IT_AGG;
    } else if (x + 2 < e && col_ref(q, x, x + 3)) {
        x += 3;
        it->kind = IT_GROUP;
    } else if (col_ref(q, x, x + 1)) {
        x += 1;
        it->kind = IT_GROUP;
    } else {
        return qno(q, "a select item that is neither an aggregate nor a column");
    }
    it->b = b;
    it->e = x;
    if (x < e) {
        uint32_t a = x;
        if (kw_at(q, a, "AS")) {
            a++;
        }
        if (a + 1 != e || !(is_name(q, a) || q->t[a].type == SQL_TK_STRING)) {
            return qno(q, "an item with more than an aggregate or column and an alias");
        }
        it->alias = (int32_t)a;
    }
    if (it->kind == IT_AGG) {
        uint32_t k;
        int rc = agg_add(q, it->b, it->e, &k, err);
        if (rc != 0) {
            return rc;
        }
        it->slot = k; /* fixed up once ngroup is known */
        const agg_fn *a = &q->aggs[k];
        if ((a->fn == CM_COPR_MIN || a->fn == CM_COPR_MAX) && a->arg.col >= 0) {
            it->col = a->arg.col;
        }
    } else {
        int32_t off = table_col_of(q, q->src, q->t + it->b, it->e - it->b);
        if (off < 0) {
            return qno(q, "a select item naming an unknown column");
        }
        it->col = off;
    }
    q->nitems++;
    return 0;
}

/* The clause keywords after FROM, at parenthesis depth 0, in their order. */
static int split_clauses(agg_q *q, uint32_t from, uint32_t *pos, cm_err *err)
{
    (void)err;
    /* pos[0] WHERE, [1] GROUP, [2] HAVING, [3] ORDER, [4] LIMIT; n when absent */
    for (int k = 0; k < 5; k++) {
        pos[k] = q->n;
    }
    int depth = 0, last = -1;
    for (uint32_t i = from; i < q->n; i++) {
        const sql_token *tk = &q->t[i];
        if (tk->type == SQL_TK_PARAM || tk->type == SQL_TK_USERVAR || tk->type == SQL_TK_SYSVAR ||
            tk->type == SQL_TK_SEMI) {
            return qno(q, "parameters or variables");
        }
        depth += tk->type == SQL_TK_LPAREN ? 1 : tk->type == SQL_TK_RPAREN ? -1 : 0;
        if (depth != 0 || tk->type != SQL_TK_IDENT) {
            continue;
        }
        int k = -1;
        if (sql_tok_is(q->src, tk, "WHERE")) {
            k = 0;
        } else if (sql_tok_is(q->src, tk, "GROUP") && kw_at(q, i + 1, "BY")) {
            k = 1;
        } else if (sql_tok_is(q->src, tk, "HAVING")) {
            k = 2;
        } else if (sql_tok_is(q->src, tk, "ORDER") && kw_at(q, i + 1, "BY")) {
            k = 3;
        } else if (sql_tok_is(q->src, tk, "LIMIT")) {
            k = 4;
        } else if (sql_tok_is(q->src, tk, "UNION") || sql_tok_is(q->src, tk, "INTERSECT") ||
                   sql_tok_is(q->src, tk, "EXCEPT") || sql_tok_is(q->src, tk, "FOR") ||
                   sql_tok_is(q->src, tk, "LOCK") || sql_tok_is(q->src, tk, "INTO") ||
                   sql_tok_is(q->src, tk, "WINDOW") || sql_tok_is(q->src, tk, "PROCEDURE") ||
                   sql_tok_is(q->src, tk, "ROLLUP") || sql_tok_is(q->src, tk, "OVER")) {
            return qno(q, "UNION, locking, INTO, WINDOW, ROLLUP");
        }
        if (k >= 0) {
            if (k <= last) {
                return qno(q, "clauses out of order");
            }
            pos[k] = i;
            last = k;
        }
    }
    return depth == 0 ? 0 : qno(q, "unbalanced parentheses");
}

static uint32_t next_pos(const uint32_t *pos, int k, uint32_t n)
{
    for (int j = k + 1; j < 5; j++) {
        if (pos[j] < n) {
            return pos[j];
        }
    }
    return n;
}

static int parse_uint_tok(const agg_q *q, uint32_t i, uint64_t *out)
{
    if (i >= q->n || q->t[i].type != SQL_TK_INT || q->t[i].len > 18) {
        return -1;
    }
    uint64_t v = 0;
    for (uint32_t k = 0; k < q->t[i].len; k++) {
        v = v * 10 + (uint64_t)(q->src[q->t[i].off + k] - '0');
    }
    *out = v;
    return 0;
}

static int parse_group_by(agg_q *q, uint32_t b, uint32_t e)
{
    if (b >= e) {
        return qno(q, "empty GROUP BY");
    }
    uint32_t i = b;
    while (i < e) {
        uint32_t x = i;
        while (x < e && q->t[x].type != SQL_TK_COMMA) {
            x++;
        }
        if (!col_ref(q, i, x) || q->ngroup >= CM_COPR_GROUPBY_MAX) {
            return qno(q, "a GROUP BY term that is not a column");
        }
        int32_t off = table_col_of(q, q->src, q->t + i, x - i);
        if (off < 0) {
            return qno(q, "GROUP BY an unknown column");
        }
        uint32_t plan;
        sql_copr_type ty;
        if (sql_copr_tcols_add(&q->tc, (uint32_t)off, &plan, &ty) != 0) {
            return qno(q, "GROUP BY a column of a type not pushable");
        }
        if (ty.cls == SQL_COPR_C_STR && ty.str_padded) {
            return qno(q, "GROUP BY text that may end in spaces (keys drop them)");
        }
        q->group_off[q->ngroup] = (uint32_t)off;
        q->group_plan[q->ngroup] = plan;
        q->group_ty[q->ngroup] = ty;
        q->ngroup++;
        i = x + 1;
        if (x + 1 == e) {
            return qno(q, "GROUP BY ends in a comma");
        }
    }
    return 0;
}

static int parse_order_by(agg_q *q, uint32_t b, uint32_t e)
{
    uint32_t i = b;
    while (i < e) {
        uint32_t x = i;
        int depth = 0;
        while (x < e && !(depth == 0 && q->t[x].type == SQL_TK_COMMA)) {
            depth += q->t[x].type == SQL_TK_LPAREN ? 1 : q->t[x].type == SQL_TK_RPAREN ? -1 : 0;
            x++;
        }
        if (q->norder >= AGG_ORDER_MAX || x == i) {
            return qno(q, "ORDER BY");
        }
        agg_order *o = &q->order[q->norder++];
        memset(o, 0, sizeof(*o));
        o->b = i;
        o->e = x;
        if (x - i >= 2 && (kw_at(q, x - 1, "ASC") || kw_at(q, x - 1, "DESC"))) {
            o->desc = kw_at(q, x - 1, "DESC");
            o->e = x - 1;
        }
        i = x + 1;
        if (x + 1 == e) {
            return qno(q, "ORDER BY ends in a comma");
        }
    }
    return 0;
}

static int parse_limit(agg_q *q, uint32_t b, uint32_t e)
{
    uint64_t a = 0, c = 0;
    if (e - b == 1 && parse_uint_tok(q, b, &a) == 0) {
        q->limit = a;
    } else if (e - b == 3 && parse_uint_tok(q, b, &a) == 0 && q->t[b + 1].type == SQL_TK_COMMA &&
               parse_uint_tok(q, b + 2, &c) == 0) {
        q->offset = a;
        q->limit = c;
    } else if (e - b == 3 && parse_uint_tok(q, b, &a) == 0 && kw_at(q, b + 1, "OFFSET") &&
               parse_uint_tok(q, b + 2, &c) == 0) {
        q->limit = a;
        q->offset = c;
    } else {
        return qno(q, "a LIMIT that is not integer literals");
    }
    q->has_limit = true;
    return 0;
}

/* The table of FROM: [db.]name [[AS] alias], then a clause or the end. */
static int parse_from(agg_q *q, uint32_t from, uint32_t end)
{
    sql_sess *s = q->s;
    uint32_t i = from + 1;
    if (!is_name(q, i)) {
        return qno(q, "FROM without a table name");
    }
    cm_buf a = CM_BUF_INIT, b = CM_BUF_INIT;
    bool qualified = i + 2 < end && q->t[i + 1].type == SQL_TK_DOT && is_name(q, i + 2);
    int rc = sql_tok_name(q->src, &q->t[i], &a) == 0 && cm_buf_terminate(&a) == 0 ? 0 : -1;
    if (rc == 0 && qualified) {
        rc = sql_tok_name(q->src, &q->t[i + 2], &b) == 0 && cm_buf_terminate(&b) == 0 ? 0 : -1;
    }
    const char *db = qualified ? (const char *)a.ptr : (s->has_db ? s->dbname : NULL);
    const char *name = qualified ? (const char *)b.ptr : (const char *)a.ptr;
    const sql_cat_table *tab = NULL;
    if (rc == 0 && db != NULL && name != NULL &&
        (!qualified || (s->has_db && strcasecmp(db, s->dbname) == 0))) {
        tab = sql_schema_table(s->schema, db, name);
    }
    cm_buf_fini(&a);
    cm_buf_fini(&b);
    if (tab == NULL || tab->state != SQL_OBJ_PUBLIC) {
        return qno(q, "not a table of the current database");
    }
    q->tab = tab;
    q->tb = i;
    q->te = qualified ? i + 3 : i + 1;
    i = q->te;
    q->talias = -1;
    if (i < end && kw_at(q, i, "AS")) {
        i++;
        if (!is_name(q, i)) {
            return qno(q, "AS without an alias");
        }
    }
    if (i < end && is_name(q, i)) {
        q->talias = (int32_t)i;
        i++;
    }
    if (i != end) {
        return qno(q, "more than one table, or index hints");
    }
    return 0;
}

/* Fills q from t[0, n); 0 when the shape is ours, SQL_COPR_NO otherwise. */
static int recognise(agg_q *q, cm_err *err)
{
    sql_sess *s = q->s;
    if (q->n < 4 || !kw_at(q, 0, "SELECT")) {
        return qno(q, "not a SELECT");
    }
    /* FROM at depth 0 */
    uint32_t from = q->n;
    int depth = 0;
    for (uint32_t i = 1; i < q->n; i++) {
        depth += q->t[i].type == SQL_TK_LPAREN ? 1 : q->t[i].type == SQL_TK_RPAREN ? -1 : 0;
        if (depth == 0 && kw_at(q, i, "FROM")) {
            from = i;
            break;
        }
        if (q->t[i].type == SQL_TK_PARAM || q->t[i].type == SQL_TK_USERVAR ||
            q->t[i].type == SQL_TK_SYSVAR) {
            return qno(q, "parameters or variables");
        }
    }
    if (from >= q->n || from < 2) {
        return qno(q, "no FROM");
    }
    static const char *const mods[] = {"DISTINCT",       "DISTINCTROW",         "ALL",
                                       "HIGH_PRIORITY",  "STRAIGHT_JOIN",       "SQL_SMALL_RESULT",
                                       "SQL_BIG_RESULT", "SQL_BUFFER_RESULT",   "SQL_NO_CACHE",
                                       "SQL_CACHE",      "SQL_CALC_FOUND_ROWS", NULL};
    for (const char *const *m = mods; *m != NULL; m++) {
        if (kw_at(q, 1, *m)) {
            return qno(q, "a SELECT modifier");
        }
    }
    uint32_t pos[5];
    int rc = split_clauses(q, from, pos, err);
    if (rc != 0) {
        return rc;
    }
    uint32_t tend = q->n;
    for (int k = 0; k < 5; k++) {
        tend = pos[k] < tend ? pos[k] : tend;
    }
    if ((rc = parse_from(q, from, tend)) != 0) {
        return rc;
    }
    if (q->talias >= 0) {
        cm_buf al = CM_BUF_INIT;
        if (sql_tok_name(q->src, &q->t[q->talias], &al) != 0 || cm_buf_terminate(&al) != 0) {
            cm_buf_fini(&al);
            return cm_err_set(err, CM_E_NOMEM, "out of memory");
        }
        rc = sql_copr_tcols_init(&q->tc, q->tab, s->dbname, (const char *)al.ptr, err);
        cm_buf_fini(&al);
    } else {
        rc = sql_copr_tcols_init(&q->tc, q->tab, s->dbname, NULL, err);
    }
    if (rc != 0) {
        return rc;
    }
    /* GROUP BY first: select items and HAVING refer to its columns */
    if (pos[1] < q->n) {
        q->gb = pos[1] + 2;
        q->ge = next_pos(pos, 1, q->n);
        if ((rc = parse_group_by(q, q->gb, q->ge)) != 0) {
            return rc;
        }
    }
    /* select items, split at depth-0 commas */
    uint32_t b = 1;
    depth = 0;
    for (uint32_t i = 1; i <= from; i++) {
        if (i < from) {
            depth += q->t[i].type == SQL_TK_LPAREN ? 1 : q->t[i].type == SQL_TK_RPAREN ? -1 : 0;
        }
        if (i == from || (depth == 0 && q->t[i].type == SQL_TK_COMMA)) {
            if (i == b) {
                return qno(q, "an empty select item");
            }
            if ((rc = parse_item(q, b, i, err)) != 0) {
                return rc;
            }
            b = i + 1;
        }
    }
    for (uint32_t k = 0; k < q->nitems; k++) {
        agg_item *it = &q->items[k];
        if (it->kind == IT_AGG) {
            it->slot += q->ngroup;
            continue;
        }
        bool found = false;
        for (uint32_t g = 0; g < q->ngroup && !found; g++) {
            if (q->group_off[g] == (uint32_t)it->col) {
                it->slot = g;
                found = true;
            }
        }
        if (!found) {
            return qno(q, "a selected column that is not grouped");
        }
    }
    if (pos[0] < q->n) {
        q->wb = pos[0] + 1;
        q->we = next_pos(pos, 0, q->n);
        sql_copr_type ty;
        rc = compile_into(q, &q->tc.env, q->wb, q->we, &ty, &q->sel_off, &q->sel_len, err);
        if (rc != 0) {
            return rc;
        }
        if (ty.cls != SQL_COPR_C_INT && ty.cls != SQL_COPR_C_UINT && ty.cls != SQL_COPR_C_NULL &&
            ty.cls != SQL_COPR_C_DEC && ty.cls != SQL_COPR_C_REAL) {
            return qno(q, "a WHERE clause whose value is not a number");
        }
    }
    q->menv.column = merged_column;
    q->menv.aggregate = merged_aggregate;
    if (pos[2] < q->n) {
        q->hb = pos[2] + 1;
        q->he = next_pos(pos, 2, q->n);
        sql_copr_type ty;
        rc = compile_into(q, &q->menv, q->hb, q->he, &ty, &q->having_off, &q->having_len, err);
        if (rc != 0) {
            return rc;
        }
        if (ty.cls != SQL_COPR_C_INT && ty.cls != SQL_COPR_C_UINT && ty.cls != SQL_COPR_C_NULL &&
            ty.cls != SQL_COPR_C_DEC && ty.cls != SQL_COPR_C_REAL) {
            return qno(q, "a HAVING clause whose value is not a number");
        }
        q->has_having = true;
    }
    if (pos[3] < q->n) {
        if ((rc = parse_order_by(q, pos[3] + 2, next_pos(pos, 3, q->n))) != 0) {
            return rc;
        }
        for (uint32_t k = 0; k < q->norder; k++) {
            agg_order *o = &q->order[k];
            uint64_t p;
            if (o->e - o->b == 1 && parse_uint_tok(q, o->b, &p) == 0) {
                if (p < 1 || p > q->nitems) {
                    return qno(q, "ORDER BY a position out of range");
                }
                cm_cx_builder_reset(&q->b);
                cm_cx_col(&q->b, q->items[p - 1].slot);
                if ((rc = keep_program(q, &q->b, &o->code_off, &o->code_len, err)) != 0) {
                    return rc;
                }
                continue;
            }
            sql_copr_type ty;
            rc = compile_into(q, &q->menv, o->b, o->e, &ty, &o->code_off, &o->code_len, err);
            if (rc != 0) {
                return rc;
            }
        }
    }
    if (pos[4] < q->n && (rc = parse_limit(q, pos[4] + 1, q->n)) != 0) {
        return rc;
    }
    return 0;
}

static void q_init(agg_q *q, sql_sess *s, const char *src, const sql_token *t, uint32_t n)
{
    memset(q, 0, sizeof(*q));
    q->s = s;
    q->src = src;
    q->t = t;
    q->n = n;
    q->talias = -1;
    cm_buf_init(&q->progs);
    cm_cx_builder_init(&q->b);
}

static void q_fini(agg_q *q)
{
    sql_copr_tcols_fini(&q->tc);
    cm_buf_fini(&q->progs);
    cm_cx_builder_fini(&q->b);
}

/* ---- the plan ---- */

static cm_slice prog(const agg_q *q, size_t off, size_t len)
{
    return cm_slice_make(len > 0 ? q->progs.ptr + off : NULL, len);
}

/* Encodes the plan of q into out. dflt_mem holds default payloads. */
static int build_plan(agg_q *q, cm_buf *out, cm_buf *dflt_mem, cm_err *err)
{
    cm_copr_plan p;
    memset(&p, 0, sizeof(p));
    cm_slice groups[CM_COPR_GROUPBY_MAX];
    cm_copr_agg aggs[AGG_ITEMS_MAX];
    cm_copr_dflt *dflt = calloc(q->tc.ncols ? q->tc.ncols : 1, sizeof(*dflt));
    if (dflt == NULL) {
        return cm_err_set(err, CM_E_NOMEM, "out of memory");
    }
    int rc = 0;
    /* values of columns rows written before the column existed lack (ALTER … ADD COLUMN) */
    rc = cm_buf_reserve(dflt_mem, (size_t)q->tc.ncols * SQL_TYPE_STORE_SCRATCH_MAX + 1) == 0
             ? 0
             : cm_err_set(err, CM_E_NOMEM, "out of memory");
    for (uint32_t k = 0; k < q->tc.ncols && rc == 0; k++) {
        const sql_cat_col *c = &q->tab->cols[q->tc.offs[k]];
        if (q->tc.cols[k].id == CM_COPR_HANDLE_ID) {
            continue;
        }
        /* the origin default of a column added by ALTER TABLE (docs/ddl.md "Columns") */
        cm_datum d;
        if (sql_cat_col_origin(c, &d, dflt_mem, err) != 0) {
            rc = qno(q, "a column default that does not convert");
            break;
        }
        if (d.type != CM_DT_NULL) {
            dflt[p.ndflt].col = k;
            dflt[p.ndflt].value = d;
            p.ndflt++;
        }
    }
    if (rc == 0) {
        p.scan = CM_COPR_SCAN_TABLE;
        p.ncols = q->tc.ncols;
        p.cols = q->tc.cols;
        p.sel = prog(q, q->sel_off, q->sel_len);
        p.has_agg = true;
        p.ngroup = q->ngroup;
        for (uint32_t g = 0; g < q->ngroup; g++) {
            groups[g] = prog(q, q->group_code_off[g], q->group_code_len[g]);
        }
        p.group = groups;
        p.naggs = q->naggs;
        for (uint32_t k = 0; k < q->naggs; k++) {
            aggs[k].fn = q->aggs[k].fn;
            aggs[k].arg = prog(q, q->aggs[k].code_off, q->aggs[k].code_len);
        }
        p.aggs = aggs;
        p.dflt = dflt;
        rc = cm_copr_plan_encode(&p, out, err);
        if (rc != 0 && rc != CM_E_NOMEM) {
            rc = qno(q, "the plan encoder refused the plan");
        }
    }
    free(dflt);
    return rc;
}

/* The group programs (one column each): after recognise, before build_plan. */
static int group_programs(agg_q *q, cm_err *err)
{
    for (uint32_t g = 0; g < q->ngroup; g++) {
        cm_cx_builder_reset(&q->b);
        cm_cx_col(&q->b, q->group_plan[g]);
        int rc = keep_program(q, &q->b, &q->group_code_off[g], &q->group_code_len[g], err);
        if (rc != 0) {
            return rc;
        }
    }
    return 0;
}

/* ---- merging ---- */

typedef struct agg_group {
    cm_slice key;   /* the group's datums as the regions encode them (in the arena) */
    cm_datum *vals; /* [ngroup] decoded, then [ngroup + naggs] finished (arena) */
    struct agg_group *hnext;
    cm_copr_agg_state st[]; /* [naggs] */
} agg_group;

typedef struct agg_merge {
    agg_q *q;
    sql_sess *s;
    cm_arena arena;
    agg_group **v;
    uint32_t n, cap;
    agg_group **buckets;
    uint32_t nbuckets;
    int rc;
    cm_err err;
} agg_merge;

static uint64_t hash_bytes(const uint8_t *p, size_t n)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 1099511628211ULL;
    }
    return h;
}

static int grow_buckets(agg_merge *m)
{
    uint32_t nb = m->nbuckets ? m->nbuckets * 2 : 1024;
    agg_group **b = calloc(nb, sizeof(*b));
    if (b == NULL) {
        return CM_E_NOMEM;
    }
    for (uint32_t i = 0; i < m->n; i++) {
        agg_group *g = m->v[i];
        uint64_t h = hash_bytes(g->key.ptr, g->key.len) & (nb - 1);
        g->hnext = b[h];
        b[h] = g;
    }
    free(m->buckets);
    m->buckets = b;
    m->nbuckets = nb;
    return 0;
}

static agg_group *group_new(agg_merge *m, cm_slice key, cm_err *err)
{
    agg_q *q = m->q;
    if (m->n >= AGG_MERGE_GROUPS_MAX) {
        cm_err_set(err, CM_E_UNSUPPORTED, "more than %u groups to merge", AGG_MERGE_GROUPS_MAX);
        return NULL;
    }
    if (m->n == m->cap) {
        uint32_t cap = m->cap ? m->cap * 2 : 64;
        agg_group **v = realloc(m->v, cap * sizeof(*v));
        if (v == NULL) {
            cm_err_set(err, CM_E_NOMEM, "out of memory");
            return NULL;
        }
        m->v = v;
        m->cap = cap;
    }
    if (m->n >= m->nbuckets / 2 && grow_buckets(m) != 0) {
        cm_err_set(err, CM_E_NOMEM, "out of memory");
        return NULL;
    }
    agg_group *g = calloc(1, sizeof(*g) + q->naggs * sizeof(cm_copr_agg_state));
    uint8_t *kcopy = key.len ? cm_arena_memdup(&m->arena, key.ptr, key.len) : NULL;
    cm_datum *vals = cm_arena_alloc(&m->arena, (q->ngroup + q->naggs + 1) * sizeof(cm_datum));
    if (g == NULL || (key.len && kcopy == NULL) || vals == NULL) {
        free(g);
        cm_err_set(err, CM_E_NOMEM, "out of memory");
        return NULL;
    }
    g->key = cm_slice_make(kcopy, key.len);
    g->vals = vals;
    for (uint32_t k = 0; k < q->naggs; k++) {
        cm_copr_agg_init(&g->st[k], (cm_copr_aggfn)q->aggs[k].fn);
    }
    cm_reader r;
    cm_reader_init(&r, kcopy, key.len);
    for (uint32_t k = 0; k < q->ngroup; k++) {
        if (cm_codec_decode_datum(&r, &m->arena, &vals[k], err) != 0) {
            for (uint32_t j = 0; j < q->naggs; j++) {
                cm_copr_agg_fini(&g->st[j]);
            }
            free(g);
            return NULL;
        }
    }
    uint64_t h = hash_bytes(key.ptr, key.len) & (m->nbuckets - 1);
    g->hnext = m->buckets[h];
    m->buckets[h] = g;
    m->v[m->n++] = g;
    return g;
}

static agg_group *group_find(agg_merge *m, cm_slice key)
{
    if (m->nbuckets == 0) {
        return NULL;
    }
    uint64_t h = hash_bytes(key.ptr, key.len) & (m->nbuckets - 1);
    for (agg_group *g = m->buckets[h]; g != NULL; g = g->hnext) {
        if (g->key.len == key.len && (key.len == 0 || memcmp(g->key.ptr, key.ptr, key.len) == 0)) {
            return g;
        }
    }
    return NULL;
}

/* One region's AGG response: groups of datums and partial states. */
static int merge_cb(void *user, cm_slice data)
{
    agg_merge *m = user;
    agg_q *q = m->q;
    if (sql_sess_killed(m->s) != 0) {
        m->rc = cm_err_set(&m->err, CM_E_QUERY_INTERRUPTED, "Query execution was interrupted");
        return 1;
    }
    cm_reader r;
    cm_reader_init(&r, data.ptr, data.len);
    while (cm_reader_left(&r) > 0) {
        size_t start = r.pos;
        for (uint32_t k = 0; k < q->ngroup; k++) {
            if (cm_codec_skip_datum(&r, &m->err) != 0) {
                m->rc = cm_err_set(&m->err, CM_E_CORRUPT, "coprocessor: bad group key");
                return 1;
            }
        }
        cm_slice key = cm_slice_make(r.ptr + start, r.pos - start);
        agg_group *g = group_find(m, key);
        if (g == NULL && (g = group_new(m, key, &m->err)) == NULL) {
            m->rc = m->err.code != 0 ? m->err.code : CM_E_NOMEM;
            return 1;
        }
        for (uint32_t k = 0; k < q->naggs; k++) {
            int rc = cm_copr_agg_merge(&g->st[k], &r, &m->arena, &m->err);
            if (rc != 0) {
                m->rc = rc;
                return 1;
            }
        }
    }
    return 0;
}

static void merge_fini(agg_merge *m)
{
    for (uint32_t i = 0; i < m->n; i++) {
        for (uint32_t k = 0; k < m->q->naggs; k++) {
            cm_copr_agg_fini(&m->v[i]->st[k]);
        }
        free(m->v[i]);
    }
    free(m->v);
    free(m->buckets);
    cm_arena_fini(&m->arena);
}

/* ---- ordering ---- */

typedef struct sort_ctx {
    uint32_t nkeys;
    const bool *desc;
    cm_datum *keys; /* [ngroups * nkeys] */
    cm_arena *scratch;
    int rc;
    cm_err err;
} sort_ctx;

static int key_cmp(sort_ctx *c, uint32_t a, uint32_t b)
{
    for (uint32_t k = 0; k < c->nkeys; k++) {
        const cm_datum *x = &c->keys[a * c->nkeys + k], *y = &c->keys[b * c->nkeys + k];
        int r;
        bool xn = x->type == CM_DT_NULL, yn = y->type == CM_DT_NULL;
        if (xn || yn) {
            r = xn && yn ? 0 : xn ? -1 : 1; /* NULL first ascending, as MySQL */
        } else if (cm_cx_compare(x, y, c->scratch, &r, &c->err) != 0) {
            c->rc = c->err.code ? c->err.code : CM_E_NOMEM;
            r = 0;
        }
        if (r != 0) {
            return c->desc[k] ? -r : r;
        }
    }
    return 0;
}

/* Stable merge sort of idx[0, n) (tmp: n more slots). */
static void msort(sort_ctx *c, uint32_t *idx, uint32_t *tmp, uint32_t n)
{
    if (n < 2) {
        return;
    }
    uint32_t h = n / 2;
    msort(c, idx, tmp, h);
    msort(c, idx + h, tmp, n - h);
    uint32_t i = 0, j = h, k = 0;
    while (i < h && j < n) {
        tmp[k++] = key_cmp(c, idx[j], idx[i]) < 0 ? idx[j++] : idx[i++];
    }
    while (i < h) {
        tmp[k++] = idx[i++];
    }
    while (j < n) {
        tmp[k++] = idx[j++];
    }
    memcpy(idx, tmp, n * sizeof(*idx));
}

/* ---- result ---- */

/* MySQL's name of item it (the translator's rule: alias, a column's name, or the text). */
static int item_name(agg_q *q, const agg_item *it, cm_buf *out)
{
    if (it->alias >= 0) {
        const sql_token *a = &q->t[it->alias];
        return a->type == SQL_TK_STRING ? sql_tok_string(q->src, a, q->s->mode, out)
                                        : sql_tok_name(q->src, a, out);
    }
    if (it->kind == IT_GROUP) {
        return sql_tok_name(q->src, &q->t[it->e - 1], out);
    }
    size_t start = q->t[it->b].off, end = q->t[it->e - 1].off + q->t[it->e - 1].len;
    size_t n = end - start;
    if (n > SQL_TR_NAME_MAX) {
        n = SQL_TR_NAME_MAX;
        while (n > 0 && ((unsigned char)q->src[start + n] & 0xc0) == 0x80) {
            n--;
        }
    }
    return cm_buf_append(out, q->src + start, n);
}

/* Column metadata as the SQLite path describes the same query (sql_exec_describe): the
 * translator's items typed by sql_typeinfer; a table column's own metadata otherwise. */
static int describe(agg_q *q, sql_column *cols, cm_buf *names, cm_err *err)
{
    sql_sess *s = q->s;
    sql_tr_ctx ctx = sql_sess_tr_ctx(s);
    int rc = sql_translate_query(q->src, q->t, q->n, &ctx, &s->tr, err);
    if (rc != 0 || s->tr.nitems != q->nitems) {
        return rc != 0 ? rc : qno(q, "the translator sees other items");
    }
    sql_ti_infer(s, q->src, q->t, q->n, (int)q->nitems, &s->tr);
    size_t offs[AGG_ITEMS_MAX + 1];
    for (uint32_t k = 0; k < q->nitems; k++) {
        offs[k] = names->len;
        /* each name NUL-terminated (sql_type_column reads it as a C string) */
        if (item_name(q, &q->items[k], names) != 0 || cm_buf_append(names, "", 1) != 0) {
            return cm_err_set(err, CM_E_NOMEM, "out of memory");
        }
        if (memmem(q->src + q->t[q->items[k].b].off,
                   q->t[q->items[k].e - 1].off + q->t[q->items[k].e - 1].len -
                       q->t[q->items[k].b].off,
                   "/*!", 3) != NULL) {
            return qno(q, "an executable comment in an item");
        }
    }
    offs[q->nitems] = names->len;
    for (uint32_t k = 0; k < q->nitems; k++) {
        const agg_item *it = &q->items[k];
        const sql_tr_item *ti = &s->tr.items[k];
        sql_column *c = &cols[k];
        const char *nm = (const char *)names->ptr + offs[k];
        size_t nl = offs[k + 1] - offs[k] - 1;
        if (it->kind == IT_GROUP) {
            *c = sql_decl_col_meta(q->tab, &q->tab->cols[it->col], nm, nl);
        } else if (ti->ti_type != 0) {
            memset(c, 0, sizeof(*c));
            sql_ti_describe(ti, c);
        } else if (it->col >= 0) { /* MIN/MAX of a column sql_typeinfer does not type */
            *c = sql_decl_col_meta(q->tab, &q->tab->cols[it->col], nm, nl);
            c->flags &= (uint16_t) ~(SQL_FLAG_NOT_NULL | SQL_FLAG_PRI_KEY | SQL_FLAG_UNIQUE_KEY |
                                     SQL_FLAG_MULTIPLE_KEY | SQL_FLAG_PART_KEY |
                                     SQL_FLAG_AUTO_INCREMENT | SQL_FLAG_NO_DEFAULT);
        } else {
            return qno(q, "an item without static metadata");
        }
        c->name = nm;
        c->name_len = nl;
    }
    return 0;
}

/* Converts merged value d of item it (column metadata c) into v; text into buf. */
static int item_value(agg_q *q, const agg_item *it, const sql_column *c, const cm_datum *d,
                      sql_value *v, cm_buf *buf, cm_err *err)
{
    memset(v, 0, sizeof(*v));
    cm_buf_reset(buf);
    if (d->type == CM_DT_NULL) {
        v->type = SQL_V_NULL;
        return 0;
    }
    if (it->col >= 0 && d->type == (cm_dtype)q->tab->cols[it->col].type.dtype) {
        /* a group column, MIN/MAX of a column: the vtab's conversion, at the column's scale */
        return sql_type_load(&q->tab->cols[it->col].type, d, v, buf, err);
    }
    switch (d->type) {
    case CM_DT_INT64:
        *v = sql_value_int(d->v.i64);
        return 0;
    case CM_DT_UINT64:
        v->type = SQL_V_UINT;
        v->u = d->v.u64;
        v->i = (int64_t)d->v.u64;
        return 0;
    case CM_DT_FLOAT64:
    case CM_DT_FLOAT32:
        v->type = SQL_V_DOUBLE;
        v->d = d->v.f64;
        return 0;
    case CM_DT_DECIMAL: {
        cm_decimal x = d->v.dec;
        unsigned sc =
            c->type == SQL_TYPE_NEWDECIMAL || c->type == SQL_TYPE_DECIMAL ? c->decimals : x.frac;
        if (sc <= 30 && x.frac != sc && cm_decimal_round(&x, sc, &x, err) != 0) {
            return err->code;
        }
        if (cm_decimal_format(&x, buf) != 0) {
            return cm_err_set(err, CM_E_NOMEM, "out of memory");
        }
        *v = sql_value_text((const char *)buf->ptr, buf->len);
        return 0;
    }
    case CM_DT_STRING:
        *v = sql_value_text((const char *)d->v.bytes.ptr, d->v.bytes.len);
        return 0;
    case CM_DT_BYTES:
        v->type = SQL_V_BLOB;
        v->s = (const char *)d->v.bytes.ptr;
        v->n = d->v.bytes.len;
        return 0;
    default:
        return cm_err_set(err, CM_E_INTERNAL, "coprocessor: an aggregate value of type %s",
                          cm_dtype_name(d->type));
    }
}

/* Finishes every group, applies HAVING, ORDER BY, LIMIT and sends columns and rows. */
static int finish_and_send(agg_q *q, agg_merge *m, sql_sink *sink, const sql_column *cols,
                           uint64_t *nrows, cm_err *err)
{
    uint32_t ncols = q->ngroup + q->naggs;
    cm_arena scratch;
    cm_arena_init(&scratch, 4096);
    cm_cx *having = NULL;
    cm_cx *order[AGG_ORDER_MAX];
    bool desc[AGG_ORDER_MAX];
    uint32_t *gi = NULL, *ord = NULL, *tmp = NULL;
    cm_datum *keys = NULL;
    cm_buf bufs[AGG_ITEMS_MAX];
    sql_value vals[AGG_ITEMS_MAX];
    for (uint32_t k = 0; k < q->nitems; k++) {
        cm_buf_init(&bufs[k]);
    }
    *nrows = 0;
    int rc = 0;
    if (q->has_having) {
        rc = cm_cx_decode(prog(q, q->having_off, q->having_len), ncols, &m->arena, &having, err);
    }
    for (uint32_t k = 0; k < q->norder && rc == 0; k++) {
        desc[k] = q->order[k].desc;
        rc = cm_cx_decode(prog(q, q->order[k].code_off, q->order[k].code_len), ncols, &m->arena,
                          &order[k], err);
    }
    size_t n1 = m->n ? m->n : 1;
    gi = malloc(n1 * sizeof(*gi));
    ord = malloc(n1 * sizeof(*ord));
    tmp = malloc(n1 * sizeof(*tmp));
    if (rc == 0 && (gi == NULL || ord == NULL || tmp == NULL)) {
        rc = cm_err_set(err, CM_E_NOMEM, "out of memory");
    }
    /* finals, then HAVING over the finished row */
    uint32_t kept = 0;
    for (uint32_t i = 0; i < m->n && rc == 0; i++) {
        agg_group *g = m->v[i];
        for (uint32_t k = 0; k < q->naggs && rc == 0; k++) {
            rc = cm_copr_agg_final(&g->st[k], &m->arena, &g->vals[q->ngroup + k], err);
        }
        bool keep = true;
        if (rc == 0 && having != NULL) {
            cm_arena_reset(&scratch);
            rc = cm_cx_filter(having, g->vals, &scratch, &keep, err);
        }
        if (rc == 0 && keep) {
            ord[kept] = kept;
            gi[kept++] = i;
        }
    }
    if (rc == 0 && q->norder > 0 && kept > 1) {
        keys = malloc((size_t)kept * q->norder * sizeof(*keys));
        if (keys == NULL) {
            rc = cm_err_set(err, CM_E_NOMEM, "out of memory");
        }
        for (uint32_t j = 0; j < kept && rc == 0; j++) {
            for (uint32_t k = 0; k < q->norder && rc == 0; k++) {
                /* the keys' payloads live in the merge arena: they outlive the next group */
                rc = cm_cx_eval(order[k], m->v[gi[j]]->vals, &m->arena, &keys[j * q->norder + k],
                                err);
            }
        }
        if (rc == 0) {
            sort_ctx sc;
            memset(&sc, 0, sizeof(sc));
            sc.nkeys = q->norder;
            sc.desc = desc;
            sc.keys = keys;
            sc.scratch = &scratch;
            msort(&sc, ord, tmp, kept);
            if (sc.rc != 0) {
                rc = sc.rc;
                *err = sc.err;
            }
        }
    }
    if (rc == 0) {
        rc = sink->columns(sink, cols, (int)q->nitems);
    }
    uint64_t from = q->has_limit ? q->offset : 0;
    uint64_t to = kept;
    if (q->has_limit && q->limit < to - (from < to ? from : to)) {
        to = from + q->limit;
    }
    for (uint64_t r = from; r < to && rc == 0; r++) {
        const agg_group *g = m->v[gi[ord[r]]];
        for (uint32_t k = 0; k < q->nitems && rc == 0; k++) {
            const agg_item *it = &q->items[k];
            rc = item_value(q, it, &cols[k], &g->vals[it->slot], &vals[k], &bufs[k], err);
        }
        if (rc == 0) {
            rc = sink->row(sink, vals, (int)q->nitems);
            (*nrows)++;
        }
    }
    free(keys);
    free(gi);
    free(ord);
    free(tmp);
    for (uint32_t k = 0; k < q->nitems; k++) {
        cm_buf_fini(&bufs[k]);
    }
    cm_arena_fini(&scratch);
    return rc;
}

/* ---- entry points ---- */

/* Recognises t[0, n) into a freshly allocated q (returned in *out): 0, SQL_COPR_NO or an
 * error. */
static int prepare(sql_sess *s, const char *src, const sql_token *t, uint32_t n, agg_q **out,
                   cm_err *err)
{
    *out = NULL;
    if (s->env->cat == NULL || s->env->kc == NULL || s->schema == NULL || n < 4 ||
        !sql_tok_is(src, &t[0], "SELECT")) {
        return SQL_COPR_NO;
    }
    agg_q *q = malloc(sizeof(*q));
    if (q == NULL) {
        return cm_err_set(err, CM_E_NOMEM, "out of memory");
    }
    q_init(q, s, src, t, n);
    int rc = recognise(q, err);
    if (rc == 0) {
        rc = group_programs(q, err);
    }
    if (rc != 0) {
        if (rc == SQL_COPR_NO) {
            CM_DEBUG("sql", "conn=%llu: aggregate not pushed: %s", (unsigned long long)s->id,
                     q->why);
        }
        q_fini(q);
        free(q);
        return rc;
    }
    *out = q;
    return 0;
}

static bool table_written(const sql_sess *s, int64_t id)
{
    if (s->vt.written_overflow) {
        return true;
    }
    for (uint32_t i = 0; i < s->vt.nwritten; i++) {
        if (s->vt.written[i] == id) {
            return true;
        }
    }
    return false;
}

/* Runs the plan of q and sends the result (after the statement prologue). */
static int execute(agg_q *q, const sql_column *cols, sql_sink *sink, uint64_t *nrows, cm_err *err)
{
    sql_sess *s = q->s;
    cm_buf plan = CM_BUF_INIT, dflt = CM_BUF_INIT, start = CM_BUF_INIT, end = CM_BUF_INIT;
    agg_merge m;
    memset(&m, 0, sizeof(m));
    m.q = q;
    m.s = s;
    cm_arena_init(&m.arena, 16384);
    cm_txn *txn = NULL;
    int rc = build_plan(q, &plan, &dflt, err);
    if (rc == 0 && cm_keys_rows_range(q->tab->id, &start, &end) != 0) {
        rc = cm_err_set(err, CM_E_NOMEM, "out of memory");
    }
    if (rc == 0) {
        rc = s->vt.txn(s, &txn, err);
    }
    if (rc == 0) {
        cm_kv_copr_opts o;
        memset(&o, 0, sizeof(o));
        o.concurrency = AGG_CONCURRENCY;
        o.ordered = false;
        rc = cm_kv_copr(s->env->kc, cm_buf_slice(&plan), cm_buf_slice(&start), cm_buf_slice(&end),
                        cm_txn_start_ts(txn), &o, merge_cb, &m, err);
        if (rc == 0 && m.rc != 0) {
            rc = m.rc;
            *err = m.err;
        }
    }
    if (rc == 0 && q->ngroup == 0 && m.n == 0 &&
        group_new(&m, cm_slice_make(NULL, 0), err) == NULL) {
        rc = err->code != 0 ? err->code : CM_E_NOMEM; /* no region answered: the empty group */
    }
    if (rc == 0) {
        rc = finish_and_send(q, &m, sink, cols, nrows, err);
    }
    merge_fini(&m);
    cm_buf_fini(&plan);
    cm_buf_fini(&dflt);
    cm_buf_fini(&start);
    cm_buf_fini(&end);
    return rc;
}

int sql_copr_agg_run(sql_sess *s, const char *src, const sql_token *t, uint32_t n, sql_sink *sink,
                     int more, cm_err *err)
{
    agg_q *q = NULL;
    int rc = prepare(s, src, t, n, &q, err);
    if (rc != 0) {
        return rc;
    }
    sql_column cols[AGG_ITEMS_MAX];
    cm_buf names = CM_BUF_INIT;
    cm_err derr;
    cm_err_clear(&derr);
    rc = describe(q, cols, &names, &derr);
    if (rc == CM_E_NOMEM) {
        *err = derr;
    } else if (rc != 0) {
        rc = SQL_COPR_NO; /* the SQLite path reports whatever the translator found */
    } else if (!s->sv[SQL_SV_TESSERA_COPR_PUSHDOWN].i) {
        rc = SQL_COPR_FALLBACK;
    } else if (sql_priv_table_denied(s, SQLITE_READ, q->tab->name, "main")) {
        s->fn_err.code = 0; /* the SQLite path reports 1142 itself */
        rc = SQL_COPR_FALLBACK;
    } else if (s->txn != NULL && table_written(s, q->tab->id)) {
        rc = SQL_COPR_FALLBACK; /* rows of the transaction's buffer would be missed */
    }
    if (rc == 0) {
        uint64_t nrows = 0;
        sql_txn_stmt_prologue(s);
        rc = execute(q, cols, sink, &nrows, err);
        if (rc == CM_E_UNSUPPORTED) {
            /* too many groups for a region (or for the merge): SQLite's plan instead */
            CM_DEBUG("sql", "conn=%llu: aggregate pushdown gave up: %s", (unsigned long long)s->id,
                     err->msg);
            (void)sql_txn_stmt_epilogue(s, 0, err);
            cm_err_clear(err);
            rc = SQL_COPR_FALLBACK;
        } else {
            rc = sql_txn_stmt_epilogue(s, rc, err);
            if (rc != 0) {
                rc = sql_txn_map_error(s, rc, err);
            } else {
                s->found_rows = nrows;
                s->row_count = -1;
                rc = sql_sess_done(s, sink, 0, 0, more, NULL);
            }
        }
    }
    cm_buf_fini(&names);
    q_fini(q);
    free(q);
    return rc;
}

/* ---- EXPLAIN ---- */

/* Appends the source text of t[b, e) (as written). */
static int text_of(const agg_q *q, uint32_t b, uint32_t e, cm_buf *out)
{
    if (b >= e) {
        return 0;
    }
    size_t start = q->t[b].off, end = q->t[e - 1].off + q->t[e - 1].len;
    return cm_buf_append(out, q->src + start, end - start);
}

static int explain_row(sql_sink *sink, int depth, const char *op, const char *task,
                       const char *object, const cm_buf *info)
{
    cm_buf id = CM_BUF_INIT;
    int rc = 0;
    for (int k = 1; k < depth && rc == 0; k++) {
        rc = cm_buf_append(&id, "  ", 2);
    }
    if (depth > 0 && rc == 0) {
        rc = cm_buf_append(&id, "\xe2\x94\x94\xe2\x94\x80", 6); /* └─ */
    }
    if (rc == 0) {
        rc = cm_buf_printf(&id, "%s", op);
    }
    if (rc != 0) {
        cm_buf_fini(&id);
        return CM_E_NOMEM;
    }
    sql_value v[5];
    v[0] = sql_value_text((const char *)id.ptr, id.len);
    v[1] = sql_value_null();
    v[2] = sql_value_text(task, strlen(task));
    v[3] = sql_value_text(object, strlen(object));
    v[4] = sql_value_text(info->len ? (const char *)info->ptr : "", info->len);
    rc = sink->row(sink, v, 5);
    cm_buf_fini(&id);
    return rc;
}

/* The aggregate list as "count(*), sum(k)": each call as written. */
static int funcs_text(const agg_q *q, cm_buf *out)
{
    int rc = 0;
    for (uint32_t k = 0; k < q->naggs && rc == 0; k++) {
        if (k > 0) {
            rc = cm_buf_append(out, ", ", 2);
        }
        rc = rc ? rc : text_of(q, q->aggs[k].nb, q->aggs[k].ne, out);
    }
    return rc;
}

static int explain_rows(agg_q *q, sql_sink *sink)
{
    cm_buf info = CM_BUF_INIT;
    int depth = 0, rc = 0;
    if (q->has_limit) {
        rc = cm_buf_printf(&info, "offset:%llu, count:%llu", (unsigned long long)q->offset,
                           (unsigned long long)q->limit);
        rc = rc ? rc : explain_row(sink, depth++, "Limit", "root", "", &info);
    }
    if (rc == 0 && q->norder > 0) {
        cm_buf_reset(&info);
        for (uint32_t k = 0; k < q->norder && rc == 0; k++) {
            rc = k > 0 ? cm_buf_append(&info, ", ", 2) : 0;
            rc = rc ? rc : text_of(q, q->order[k].b, q->order[k].e, &info);
            rc = rc ? rc : (q->order[k].desc ? cm_buf_printf(&info, ":desc") : 0);
        }
        rc = rc ? rc : explain_row(sink, depth++, "Sort", "root", "", &info);
    }
    if (rc == 0 && q->has_having) {
        cm_buf_reset(&info);
        rc = text_of(q, q->hb, q->he, &info);
        rc = rc ? rc : explain_row(sink, depth++, "Selection", "root", "", &info);
    }
    /* the final aggregation merges the regions' partial states */
    if (rc == 0) {
        cm_buf_reset(&info);
        if (q->ngroup > 0) {
            rc = cm_buf_printf(&info, "group by:");
            rc = rc ? rc : text_of(q, q->gb, q->ge, &info);
            rc = rc ? rc : cm_buf_append(&info, ", ", 2);
        }
        rc = rc ? rc : cm_buf_printf(&info, "funcs:merge(");
        rc = rc ? rc : funcs_text(q, &info);
        rc = rc ? rc : cm_buf_printf(&info, ")");
        rc = rc ? rc : explain_row(sink, depth++, "HashAgg", "root", "", &info);
    }
    if (rc == 0) {
        cm_buf_reset(&info);
        rc = cm_buf_printf(&info, "data:HashAgg, regions in parallel (concurrency %d)",
                           AGG_CONCURRENCY);
        rc = rc ? rc : explain_row(sink, depth++, "TableReader", "root", "", &info);
    }
    if (rc == 0) {
        cm_buf_reset(&info);
        if (q->ngroup > 0) {
            rc = cm_buf_printf(&info, "group by:");
            rc = rc ? rc : text_of(q, q->gb, q->ge, &info);
            rc = rc ? rc : cm_buf_append(&info, ", ", 2);
        }
        rc = rc ? rc : cm_buf_printf(&info, "funcs:");
        rc = rc ? rc : funcs_text(q, &info);
        rc = rc ? rc : explain_row(sink, depth++, "HashAgg", "cop[kv]", "", &info);
    }
    if (rc == 0 && q->we > q->wb) {
        cm_buf_reset(&info);
        rc = cm_buf_printf(&info, "pushed:");
        rc = rc ? rc : text_of(q, q->wb, q->we, &info);
        rc = rc ? rc : explain_row(sink, depth++, "Selection", "cop[kv]", "", &info);
    }
    if (rc == 0) {
        cm_buf obj = CM_BUF_INIT;
        cm_buf_reset(&info);
        rc = cm_buf_printf(&obj, "table:%s", q->tab->name);
        rc = rc ? rc : cm_buf_terminate(&obj);
        rc = rc ? rc
                : cm_buf_printf(&info, "range:t%lld_r[-inf,+inf], keep order:false",
                                (long long)q->tab->id);
        rc = rc ? rc
                : explain_row(sink, depth++, "TableFullScan", "cop[kv]", (const char *)obj.ptr,
                              &info);
        cm_buf_fini(&obj);
    }
    cm_buf_fini(&info);
    return rc;
}

int sql_copr_agg_explain(sql_sess *s, const char *src, const sql_token *t, uint32_t n,
                         sql_sink *sink, int more, cm_err *err)
{
    if (!s->sv[SQL_SV_TESSERA_COPR_PUSHDOWN].i) {
        return SQL_COPR_NO;
    }
    agg_q *q = NULL;
    int rc = prepare(s, src, t, n, &q, err);
    if (rc != 0) {
        return rc;
    }
    sql_column cols[5] = {sql_col_text(s, "id"), sql_col_text(s, "estRows"),
                          sql_col_text(s, "task"), sql_col_text(s, "access object"),
                          sql_col_text(s, "operator info")};
    rc = sink->columns(sink, cols, 5);
    rc = rc ? rc : explain_rows(q, sink);
    if (rc == CM_E_NOMEM) {
        rc = cm_err_set(err, CM_E_NOMEM, "out of memory");
    }
    q_fini(q);
    free(q);
    return rc ? rc : sql_sess_done(s, sink, 0, 0, more, NULL);
}
