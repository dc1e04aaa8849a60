/*
 * sql_vtab_push.c — constraints pushed into the coprocessor's selection (docs/coprocessor.md,
 * "Scan pushdown in the vtab module").
 *
 * SQLite evaluates `col OP value` with its own rules (affinity, storage classes, collations)
 * over the values the module hands it (sql_vt_result: integers, doubles, DECIMAL as exact text
 * with NUMERIC affinity, strings with the PAD SPACE collation, bytes as BLOBs, DATE/DATETIME as
 * canonical text). A pushed term must keep every row SQLite keeps; it may be `omit`ted only when
 * the KV comparison gives exactly SQLite's answer. So each (column kind, value class) pair below
 * either maps to a KV comparison that is exact, or is left to SQLite:
 *
 *   column kind      value (after SQLite's affinity)   pushed as
 *   signed integer   INTEGER                            col OP int              exact
 *                    REAL                               integer bounds          exact
 *                    TEXT (not a number), BLOB          above every number      exact
 *   unsigned int     INTEGER                            col OP int              exact
 *                    TEXT (not a number), BLOB          above every number      exact
 *   DOUBLE           INTEGER |i| <= 2^53, REAL          col OP double           exact
 *                    TEXT (not a number), BLOB          above every number      exact
 *   DECIMAL(p ≤ 15)  INTEGER                            col OP int (exact DECIMAL compare)
 *                    REAL                               col OP shortest decimal of the double
 *                                                       (not omitted: SQLite's text→double)
 *                    TEXT (not a number), BLOB          above every number      exact
 *   CHAR/VARCHAR/    TEXT (collation tessera_pad)       col OP string (PAD SPACE) exact
 *   TEXT             BLOB                               above every text        exact
 *   BINARY/VARBINARY BLOB                               col OP bytes (memcmp)   exact
 *   /BLOB            INTEGER, REAL, TEXT                below every blob        exact
 *   DATE, DATETIME   TEXT in the column's canonical     col OP temporal         exact
 *                    form (parsed and printed back equal; other texts compare as text in SQLite)
 *                    BLOB                               above every text        exact
 * NULL values: comparisons are FALSE, `IS NULL` / `IS NOT NULL` exact. "above every value"
 * turns = > >= IS into FALSE, < <= != into IS NOT NULL, IS NOT into TRUE ("below": the mirror).
 * Anything else (FLOAT, a DECIMAL wider than 15 digits against a number, a number against a
 * string column, TIMESTAMP, TIME, YEAR, ENUM, SET, BIT, JSON) is not pushed. LIKE (string
 * columns, text patterns) and IN lists are pushed but never omitted.
 */
#include "sql_vtab_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum pkind {
    K_NONE = 0,
    K_INT,
    K_UINT,
    K_DOUBLE,
    K_DEC,
    K_STR,
    K_BYTES,
    K_TEMPORAL,
} pkind;

static pkind col_kind(const vt_col *col)
{
    switch (col->dtype) {
    case CM_DT_INT64:
        return K_INT;
    case CM_DT_UINT64:
        return K_UINT;
    case CM_DT_FLOAT64:
        return K_DOUBLE;
    case CM_DT_DECIMAL:
        return K_DEC;
    case CM_DT_STRING:
        return K_STR;
    case CM_DT_BYTES:
        return K_BYTES;
    case CM_DT_DATE:
    case CM_DT_DATETIME:
        return K_TEMPORAL;
    default:
        return K_NONE;
    }
}

static bool numeric_kind(pkind k)
{
    return k == K_INT || k == K_UINT || k == K_DOUBLE || k == K_DEC;
}

/* What one constraint becomes. */
typedef enum tkind {
    T_SKIP = 0, /* not pushed (SQLite evaluates it) */
    T_FALSE,
    T_TRUE,
    T_NOTNULL,
    T_ISNULL,
    T_CMP,   /* col op d (NOT when neg) */
    T_RANGE, /* lo <= col <= hi, each side optional (signed integers) */
} tkind;

typedef struct term {
    tkind kind;
    bool exact;
    cm_cx_op op;
    bool neg;
    cm_datum d;
    bool has_lo, has_hi;
    int64_t lo, hi;
} term;

static bool value_op(int op)
{
    switch (op) {
    case SQLITE_INDEX_CONSTRAINT_EQ:
    case SQLITE_INDEX_CONSTRAINT_NE:
    case SQLITE_INDEX_CONSTRAINT_LT:
    case SQLITE_INDEX_CONSTRAINT_LE:
    case SQLITE_INDEX_CONSTRAINT_GT:
    case SQLITE_INDEX_CONSTRAINT_GE:
    case SQLITE_INDEX_CONSTRAINT_IS:
    case SQLITE_INDEX_CONSTRAINT_ISNOT:
        return true;
    default:
        return false;
    }
}

static cm_cx_op cx_op(int op, bool *neg)
{
    *neg = false;
    switch (op) {
    case SQLITE_INDEX_CONSTRAINT_EQ:
        return CM_CX_EQ;
    case SQLITE_INDEX_CONSTRAINT_NE:
        return CM_CX_NE;
    case SQLITE_INDEX_CONSTRAINT_LT:
        return CM_CX_LT;
    case SQLITE_INDEX_CONSTRAINT_LE:
        return CM_CX_LE;
    case SQLITE_INDEX_CONSTRAINT_GT:
        return CM_CX_GT;
    case SQLITE_INDEX_CONSTRAINT_GE:
        return CM_CX_GE;
    case SQLITE_INDEX_CONSTRAINT_ISNOT:
        *neg = true;
        return CM_CX_NULLEQ;
    default:
        return CM_CX_NULLEQ; /* IS */
    }
}

static void set_cmp(term *t, int op, cm_datum d, bool exact)
{
    t->kind = T_CMP;
    t->op = cx_op(op, &t->neg);
    t->d = d;
    t->exact = exact;
}

/* The value is above (above = true) or below every non-NULL value of the column in SQLite's
 * order of storage classes. */
static void set_outside(term *t, int op, bool above)
{
    t->exact = true;
    switch (op) {
    case SQLITE_INDEX_CONSTRAINT_EQ:
    case SQLITE_INDEX_CONSTRAINT_IS:
        t->kind = T_FALSE;
        break;
    case SQLITE_INDEX_CONSTRAINT_ISNOT:
        t->kind = T_TRUE;
        break;
    case SQLITE_INDEX_CONSTRAINT_NE:
        t->kind = T_NOTNULL;
        break;
    case SQLITE_INDEX_CONSTRAINT_LT:
    case SQLITE_INDEX_CONSTRAINT_LE:
        t->kind = above ? T_NOTNULL : T_FALSE;
        break;
    default: /* GT, GE */
        t->kind = above ? T_FALSE : T_NOTNULL;
        break;
    }
}

/* Signed integer column against a REAL: SQLite compares exactly, which integer bounds say. */
static void int_vs_real(term *t, int op, sqlite3_value *val)
{
    int64_t lo = INT64_MIN, hi = INT64_MAX;
    t->exact = true;
    if (op == SQLITE_INDEX_CONSTRAINT_NE || op == SQLITE_INDEX_CONSTRAINT_IS ||
        op == SQLITE_INDEX_CONSTRAINT_ISNOT) {
        if (sql_vt_handle_bound(SQLITE_INDEX_CONSTRAINT_EQ, val, &lo, &hi)) {
            set_cmp(t, op, cm_datum_int64(lo), true);
        } else {
            t->kind = op == SQLITE_INDEX_CONSTRAINT_IS   ? T_FALSE
                      : op == SQLITE_INDEX_CONSTRAINT_NE ? T_NOTNULL
                                                         : T_TRUE;
        }
        return;
    }
    if (!sql_vt_handle_bound(op, val, &lo, &hi)) {
        t->kind = T_FALSE;
        return;
    }
    t->has_lo = lo != INT64_MIN;
    t->has_hi = hi != INT64_MAX;
    t->lo = lo;
    t->hi = hi;
    t->kind = t->has_lo || t->has_hi ? T_RANGE : T_NOTNULL;
}

/* The shortest decimal text that reads back as d, as a DECIMAL datum; false when it does not
 * fit a DECIMAL (huge, tiny) exactly. */
static bool double_decimal(double d, cm_decimal *out)
{
    if (!isfinite(d) || fabs(d) >= 1e15 || (d != 0 && fabs(d) < 1e-15)) {
        return false;
    }
    char txt[64];
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(txt, sizeof txt, "%.*g", prec, d);
        if (strtod(txt, NULL) == d) {
            break;
        }
    }
    bool rounded = false;
    if (cm_decimal_parse(cm_slice_make(txt, strlen(txt)), out, &rounded, NULL) != 0 || rounded) {
        return false;
    }
    return true;
}

/* A DATE/DATETIME column against a text: pushed only when the text is the canonical form of a
 * column value (then SQLite's text order is the temporal order). */
static int temporal_text(const vt_col *col, sqlite3_value *val, cm_buf *scratch, cm_datum *out,
                         bool *ok, cm_err *err)
{
    *ok = false;
    sql_value in = sql_vt_value(val);
    if (in.type != SQL_V_TEXT || in.s == NULL) {
        return 0;
    }
    sql_type_fit fit;
    int rc = sql_type_key_value(&col->c->type, &in, out, scratch, &fit, err);
    if (rc != 0 || fit != SQL_TYPE_FIT_EXACT || out->type != col->dtype) {
        return rc;
    }
    cm_buf lb = CM_BUF_INIT;
    sql_value l;
    rc = sql_type_load(&col->c->type, out, &l, &lb, err);
    if (rc == 0 && l.type == SQL_V_TEXT && l.n == in.n && memcmp(l.s, in.s, in.n) == 0) {
        *ok = true;
    }
    cm_buf_fini(&lb);
    return rc;
}

/* What `col op val` becomes (val may be converted in place by SQLite's affinity, as SQLite's
 * own comparison converts it). String payloads point into val or scratch. */
static int classify(const vt_col *col, int op, sqlite3_value *val, cm_buf *scratch, term *t,
                    cm_err *err)
{
    memset(t, 0, sizeof *t);
    pkind k = col_kind(col);
    int vt = sqlite3_value_type(val);
    if (vt == SQLITE_NULL) {
        t->exact = true;
        if (op == SQLITE_INDEX_CONSTRAINT_IS) {
            t->kind = T_ISNULL;
        } else if (op == SQLITE_INDEX_CONSTRAINT_ISNOT) {
            t->kind = T_NOTNULL;
        } else {
            t->kind = T_FALSE;
        }
        return 0;
    }
    if (numeric_kind(k) && vt == SQLITE_TEXT) {
        vt = sqlite3_value_numeric_type(val); /* numeric affinity, as the comparison applies */
    }
    switch (k) {
    case K_INT:
        if (vt == SQLITE_INTEGER) {
            set_cmp(t, op, cm_datum_int64(sqlite3_value_int64(val)), true);
        } else if (vt == SQLITE_FLOAT) {
            int_vs_real(t, op, val);
        } else {
            set_outside(t, op, true);
        }
        return 0;
    case K_UINT:
        if (vt == SQLITE_INTEGER) {
            set_cmp(t, op, cm_datum_int64(sqlite3_value_int64(val)), true);
        } else if (vt != SQLITE_FLOAT) {
            set_outside(t, op, true);
        }
        return 0;
    case K_DOUBLE:
        if (vt == SQLITE_INTEGER) {
            int64_t i = sqlite3_value_int64(val);
            if (i >= -(INT64_C(1) << 53) && i <= (INT64_C(1) << 53)) {
                set_cmp(t, op, cm_datum_float64((double)i), true);
            }
        } else if (vt == SQLITE_FLOAT) {
            set_cmp(t, op, cm_datum_float64(sqlite3_value_double(val)), true);
        } else {
            set_outside(t, op, true);
        }
        return 0;
    case K_DEC: {
        bool narrow = col->c->type.precision <= 15;
        cm_decimal dec;
        if (vt == SQLITE_INTEGER) {
            if (narrow) {
                set_cmp(t, op, cm_datum_int64(sqlite3_value_int64(val)), true);
            }
        } else if (vt == SQLITE_FLOAT) {
            if (narrow && double_decimal(sqlite3_value_double(val), &dec)) {
                set_cmp(t, op, cm_datum_decimal(&dec), false);
            }
        } else {
            set_outside(t, op, true);
        }
        return 0;
    }
    case K_STR:
        if (vt == SQLITE_TEXT) {
            const unsigned char *s = sqlite3_value_text(val);
            if (s == NULL) {
                return cm_err_set(err, CM_E_NOMEM, "vtab: out of memory");
            }
            set_cmp(t, op, cm_datum_string(cm_slice_make(s, (size_t)sqlite3_value_bytes(val))),
                    true);
        } else if (vt == SQLITE_BLOB) {
            set_outside(t, op, true);
        }
        return 0;
    case K_BYTES:
        if (vt == SQLITE_BLOB) {
            const void *p = sqlite3_value_blob(val);
            set_cmp(t, op,
                    cm_datum_bytes(cm_slice_make(p ? p : "", (size_t)sqlite3_value_bytes(val))),
                    true);
        } else {
            set_outside(t, op, false);
        }
        return 0;
    case K_TEMPORAL:
        if (vt == SQLITE_TEXT) {
            cm_datum d;
            bool ok;
            int rc = temporal_text(col, val, scratch, &d, &ok, err);
            if (rc != 0) {
                return rc;
            }
            if (ok) {
                set_cmp(t, op, d, true);
            }
        } else if (vt == SQLITE_BLOB) {
            set_outside(t, op, true);
        }
        return 0;
    default:
        return 0;
    }
}

/* ---- xBestIndex --------------------------------------------------------------------------------
 */

static const char *op_name(int op)
{
    switch (op) {
    case SQLITE_INDEX_CONSTRAINT_EQ:
        return "eq";
    case SQLITE_INDEX_CONSTRAINT_NE:
        return "ne";
    case SQLITE_INDEX_CONSTRAINT_LT:
        return "lt";
    case SQLITE_INDEX_CONSTRAINT_LE:
        return "le";
    case SQLITE_INDEX_CONSTRAINT_GT:
        return "gt";
    case SQLITE_INDEX_CONSTRAINT_GE:
        return "ge";
    case SQLITE_INDEX_CONSTRAINT_IS:
        return "nulleq";
    case SQLITE_INDEX_CONSTRAINT_ISNOT:
        return "not nulleq";
    case SQLITE_INDEX_CONSTRAINT_ISNULL:
        return "isnull";
    case SQLITE_INDEX_CONSTRAINT_ISNOTNULL:
        return "not isnull";
    case SQLITE_INDEX_CONSTRAINT_LIKE:
        return "like";
    default:
        return "?";
    }
}

/* A constant operand as EXPLAIN shows it (short; no '#', which ends idxStr's readable part). */
static void show_value(sqlite3_value *val, char *out, size_t cap)
{
    if (val == NULL) {
        snprintf(out, cap, "?");
        return;
    }
    switch (sqlite3_value_type(val)) {
    case SQLITE_NULL:
        snprintf(out, cap, "NULL");
        return;
    case SQLITE_INTEGER:
        snprintf(out, cap, "%lld", (long long)sqlite3_value_int64(val));
        return;
    case SQLITE_FLOAT:
        snprintf(out, cap, "%.17g", sqlite3_value_double(val));
        return;
    case SQLITE_BLOB:
        snprintf(out, cap, "x'…'");
        return;
    default: {
        const char *s = (const char *)sqlite3_value_text(val);
        int n = sqlite3_value_bytes(val);
        snprintf(out, cap, "'%.*s%s'", n > 24 ? 24 : n, s ? s : "", n > 24 ? "…" : "");
        for (char *p = out; *p; p++) {
            if (*p == '#') {
                *p = '?';
            }
        }
        return;
    }
    }
}

static void cat(char *desc, size_t cap, const char *s)
{
    size_t l = strlen(desc);
    if (l + 1 < cap) {
        snprintf(desc + l, cap - l, "%s", s);
    }
}

void sql_vt_push_choose(const sql_vt *v, sqlite3_index_info *info, const int *taken, int ntaken,
                        vt_push *out, char *desc, size_t desc_cap)
{
    out->n = 0;
    out->norder = 0;
    cm_buf scratch = CM_BUF_INIT;
    bool any = false;
    for (int i = 0; i < info->nConstraint && out->n < VT_PUSH_MAX; i++) {
        const struct sqlite3_index_constraint *c = &info->aConstraint[i];
        if (!c->usable || c->iColumn < 0 || c->iColumn >= (int)v->nvis ||
            c->iColumn == v->handle_vcol) {
            continue;
        }
        bool used = false;
        for (int k = 0; k < ntaken; k++) {
            used = used || taken[k] == i;
        }
        if (used) {
            continue;
        }
        const vt_col *col = &v->cols[v->vis[c->iColumn]];
        pkind k = col_kind(col);
        if (k == K_NONE) {
            continue;
        }
        const char *coll = sqlite3_vtab_collation(info, i);
        if ((k == K_STR && (coll == NULL || strcmp(coll, SQL_VT_PAD_COLLATION) != 0)) ||
            (k == K_TEMPORAL && (coll == NULL || sqlite3_stricmp(coll, "BINARY") != 0))) {
            continue; /* an explicit COLLATE: SQLite's comparison is another one */
        }
        vt_pterm pt = {.cons = i, .vcol = c->iColumn, .op = c->op};
        char shown[64] = "?";
        if (c->op == SQLITE_INDEX_CONSTRAINT_ISNULL || c->op == SQLITE_INDEX_CONSTRAINT_ISNOTNULL) {
            pt.omit = true;
        } else if (c->op == SQLITE_INDEX_CONSTRAINT_LIKE) {
            if (k != K_STR) {
                continue;
            }
            sqlite3_value *val = NULL;
            if (sqlite3_vtab_rhs_value(info, i, &val) == SQLITE_OK && val != NULL) {
                if (sqlite3_value_type(val) != SQLITE_TEXT) {
                    continue; /* SQLite's like() prints it: not ours to guess */
                }
                show_value(val, shown, sizeof shown);
            }
        } else if (value_op(c->op)) {
            if (c->op == SQLITE_INDEX_CONSTRAINT_EQ && sqlite3_vtab_in(info, i, -1)) {
                /* the whole list comes to one xFilter (sqlite3_vtab_in(…, 1) once this plan is
                 * chosen); SQLite still checks it (omit 0) */
                pt.in = true;
            } else {
                sqlite3_value *val = NULL;
                if (sqlite3_vtab_rhs_value(info, i, &val) == SQLITE_OK && val != NULL) {
                    show_value(val, shown, sizeof shown);
                    term t;
                    cm_err e = {0};
                    cm_buf_reset(&scratch);
                    if (classify(col, c->op, val, &scratch, &t, &e) != 0 || t.kind == T_SKIP) {
                        continue; /* this constant cannot be compared on the KV */
                    }
                    pt.omit = t.exact;
                }
            }
        } else {
            continue; /* GLOB, REGEXP, MATCH, functions, LIMIT/OFFSET */
        }
        out->t[out->n++] = pt;
        char item[160];
        const char *name = col->c->name;
        if (pt.in) {
            snprintf(item, sizeof item, "in(%s, ...)", name);
        } else if (c->op == SQLITE_INDEX_CONSTRAINT_ISNULL ||
                   c->op == SQLITE_INDEX_CONSTRAINT_ISNOTNULL) {
            snprintf(item, sizeof item, "%s(%s)", op_name(c->op), name);
        } else {
            snprintf(item, sizeof item, "%s(%s, %s)", op_name(c->op), name, shown);
        }
        cat(desc, desc_cap, any ? ", " : " sel(");
        cat(desc, desc_cap, item);
        any = true;
    }
    if (any) {
        cat(desc, desc_cap, ")");
    }
    cm_buf_fini(&scratch);
}

bool sql_vt_push_topn_ok(const sql_vt *v, const sqlite3_index_info *info, vt_push *out)
{
    if (info->nOrderBy <= 0 || info->nOrderBy > VT_PUSH_ORD_MAX) {
        return false;
    }
    for (int i = 0; i < info->nOrderBy; i++) {
        int vc = info->aOrderBy[i].iColumn;
        if (vc < 0 || vc >= (int)v->nvis) {
            return false;
        }
        const vt_col *col = &v->cols[v->vis[vc]];
        /* the KV's order of these is SQLite's order of their loaded values (unsigned values
         * above INT64_MAX are text in SQLite, FLOAT a rounded double: not these) */
        switch (col_kind(col)) {
        case K_INT:
        case K_DOUBLE:
        case K_DEC:
        case K_STR:
        case K_BYTES:
        case K_TEMPORAL:
            break;
        default:
            return false;
        }
        out->ord[i].vcol = vc;
        out->ord[i].desc = info->aOrderBy[i].desc != 0;
    }
    out->norder = info->nOrderBy;
    return true;
}

void sql_vt_push_spec(const vt_push *p, char *buf, size_t cap)
{
    for (int i = 0; i < p->n; i++) {
        char item[64];
        const vt_pterm *t = &p->t[i];
        snprintf(item, sizeof item, ";c%d.%d.%d.%d", t->argv, t->vcol, t->op,
                 (t->omit ? 1 : 0) | (t->in ? 2 : 0));
        cat(buf, cap, item);
    }
    for (int i = 0; i < p->norder; i++) {
        char item[32];
        snprintf(item, sizeof item, ";o%d.%d", p->ord[i].vcol, p->ord[i].desc ? 1 : 0);
        cat(buf, cap, item);
    }
}

static bool read_int(const char **p, char sep, int *out)
{
    const char *q = *p;
    long v = 0;
    int n = 0;
    while (*q >= '0' && *q <= '9' && n < 9) {
        v = v * 10 + (*q - '0');
        q++;
        n++;
    }
    if (n == 0 || *q != sep) {
        return false;
    }
    *p = sep ? q + 1 : q;
    *out = (int)v;
    return true;
}

bool sql_vt_push_parse(const char *idx_str, vt_push *out)
{
    out->n = 0;
    out->norder = 0;
    const char *h = idx_str ? strrchr(idx_str, '#') : NULL;
    const char *p = h ? strchr(h, ';') : NULL;
    while (p != NULL && *p == ';') {
        p++;
        const char *next = strchr(p, ';');
        char sep = next ? ';' : 0;
        if (*p == 'c') {
            p++;
            int argv, vcol, op, fl;
            if (out->n >= VT_PUSH_MAX || !read_int(&p, '.', &argv) || !read_int(&p, '.', &vcol) ||
                !read_int(&p, '.', &op) || !read_int(&p, sep, &fl)) {
                return false;
            }
            vt_pterm *t = &out->t[out->n++];
            *t = (vt_pterm){.cons = -1, .argv = argv, .vcol = vcol, .op = op};
            t->omit = (fl & 1) != 0;
            t->in = (fl & 2) != 0;
        } else if (*p == 'o') {
            p++;
            int vcol, desc;
            if (out->norder >= VT_PUSH_ORD_MAX || !read_int(&p, '.', &vcol) ||
                !read_int(&p, sep, &desc)) {
                return false;
            }
            out->ord[out->norder].vcol = vcol;
            out->ord[out->norder].desc = desc != 0;
            out->norder++;
        } else {
            return false;
        }
        p = next;
    }
    return true;
}

/* ---- xFilter ------------------------------------------------------------------------------------
 */

static void emit_const(cm_cx_builder *b, cm_datum d)
{
    cm_cx_const(b, &d);
}

/* Emits t over plan column ci; returns 1 when something was emitted, 0 for TRUE. */
static int emit_term(cm_cx_builder *b, uint32_t ci, const term *t)
{
    switch (t->kind) {
    case T_FALSE:
        emit_const(b, cm_datum_int64(0));
        return 1;
    case T_TRUE:
    case T_SKIP:
        return 0;
    case T_NOTNULL:
        cm_cx_col(b, ci);
        cm_cx_op1(b, CM_CX_ISNOTNULL);
        return 1;
    case T_ISNULL:
        cm_cx_col(b, ci);
        cm_cx_op1(b, CM_CX_ISNULL);
        return 1;
    case T_CMP:
        cm_cx_col(b, ci);
        emit_const(b, t->d);
        cm_cx_op1(b, t->op);
        if (t->neg) {
            cm_cx_op1(b, CM_CX_NOT);
        }
        return 1;
    case T_RANGE:
        if (t->has_lo) {
            cm_cx_col(b, ci);
            emit_const(b, cm_datum_int64(t->lo));
            cm_cx_op1(b, CM_CX_GE);
        }
        if (t->has_hi) {
            cm_cx_col(b, ci);
            emit_const(b, cm_datum_int64(t->hi));
            cm_cx_op1(b, CM_CX_LE);
        }
        if (t->has_lo && t->has_hi) {
            cm_cx_op1(b, CM_CX_AND);
        }
        return 1;
    }
    return 0;
}

/* IN list: the values that can equal a column value, as constants; *ok false when one of them
 * cannot be compared on the KV (the term is then left to SQLite). */
static int emit_in(const vt_col *col, uint32_t ci, sqlite3_value *list, cm_cx_builder *b,
                   cm_buf *scratch, bool *ok, cm_err *err)
{
    *ok = false;
    /* first pass: count and check */
    sqlite3_value *val = NULL;
    uint32_t n = 0;
    int src;
    term t;
    for (src = sqlite3_vtab_in_first(list, &val); src == SQLITE_OK && val != NULL;
         src = sqlite3_vtab_in_next(list, &val)) {
        cm_buf_reset(scratch);
        int rc = classify(col, SQLITE_INDEX_CONSTRAINT_EQ, val, scratch, &t, err);
        if (rc != 0) {
            return rc;
        }
        if (t.kind == T_FALSE) {
            continue;
        }
        if (t.kind != T_CMP && !(t.kind == T_RANGE && t.has_lo && t.has_hi && t.lo == t.hi)) {
            return 0;
        }
        if (++n > VT_PUSH_IN_MAX) {
            return 0;
        }
    }
    if (src != SQLITE_OK && src != SQLITE_DONE) {
        return cm_err_set(err, CM_E_INTERNAL, "vtab: reading an IN list failed (%d)", src);
    }
    *ok = true;
    if (n == 0) {
        emit_const(b, cm_datum_int64(0));
        return 0;
    }
    cm_cx_col(b, ci);
    for (src = sqlite3_vtab_in_first(list, &val); src == SQLITE_OK && val != NULL;
         src = sqlite3_vtab_in_next(list, &val)) {
        cm_buf_reset(scratch);
        int rc = classify(col, SQLITE_INDEX_CONSTRAINT_EQ, val, scratch, &t, err);
        if (rc != 0) {
            return rc;
        }
        if (t.kind == T_CMP) {
            emit_const(b, t.d); /* copied by the builder */
        } else if (t.kind == T_RANGE) {
            emit_const(b, cm_datum_int64(t.lo));
        }
    }
    cm_cx_opn(b, CM_CX_IN, n);
    return 0;
}

int sql_vt_push_build(const sql_vt *v, const vt_push *p, int argc, sqlite3_value **argv,
                      const int *col_of, cm_cx_builder *b, cm_buf *scratch, int *nterms,
                      cm_err *err)
{
    *nterms = 0;
    cm_cx_builder_reset(b);
    for (int i = 0; i < p->n; i++) {
        const vt_pterm *pt = &p->t[i];
        if (pt->vcol < 0 || pt->vcol >= (int)v->nvis || pt->argv > argc ||
            (pt->argv == 0 && pt->op != SQLITE_INDEX_CONSTRAINT_ISNULL &&
             pt->op != SQLITE_INDEX_CONSTRAINT_ISNOTNULL)) {
            return cm_err_set(err, CM_E_INTERNAL, "vtab: bad pushed constraint");
        }
        uint32_t off = v->vis[pt->vcol];
        const vt_col *col = &v->cols[off];
        if (col_of[off] < 0) {
            return cm_err_set(err, CM_E_INTERNAL, "vtab: pushed column %s not in the plan",
                              col->c->name);
        }
        uint32_t ci = (uint32_t)col_of[off];
        int emitted = 0;
        bool exact = true;
        cm_buf_reset(scratch);
        if (pt->op == SQLITE_INDEX_CONSTRAINT_ISNULL ||
            pt->op == SQLITE_INDEX_CONSTRAINT_ISNOTNULL) {
            cm_cx_col(b, ci);
            cm_cx_op1(b, pt->op == SQLITE_INDEX_CONSTRAINT_ISNULL ? CM_CX_ISNULL : CM_CX_ISNOTNULL);
            emitted = 1;
        } else if (pt->in) {
            bool ok;
            int rc = emit_in(col, ci, argv[pt->argv - 1], b, scratch, &ok, err);
            if (rc != 0) {
                return rc;
            }
            emitted = ok ? 1 : 0;
            exact = false;
        } else if (pt->op == SQLITE_INDEX_CONSTRAINT_LIKE) {
            sqlite3_value *val = argv[pt->argv - 1];
            exact = false;
            if (col_kind(col) == K_STR && sqlite3_value_type(val) == SQLITE_NULL) {
                emit_const(b, cm_datum_int64(0)); /* LIKE NULL is NULL */
                emitted = 1;
            } else if (col_kind(col) == K_STR && sqlite3_value_type(val) == SQLITE_TEXT) {
                const unsigned char *s = sqlite3_value_text(val);
                if (s == NULL) {
                    return cm_err_set(err, CM_E_NOMEM, "vtab: out of memory");
                }
                cm_cx_col(b, ci);
                emit_const(b, cm_datum_string(cm_slice_make(s, (size_t)sqlite3_value_bytes(val))));
                cm_cx_like(b, '\\');
                emitted = 1;
            }
        } else if (value_op(pt->op)) {
            term t;
            int rc = classify(col, pt->op, argv[pt->argv - 1], scratch, &t, err);
            if (rc != 0) {
                return rc;
            }
            exact = t.exact && t.kind != T_SKIP;
            emitted = emit_term(b, ci, &t);
        } else {
            return cm_err_set(err, CM_E_INTERNAL, "vtab: unknown pushed operator %d", pt->op);
        }
        if (pt->omit && !exact) {
            /* xBestIndex saw this constant compare exactly; it must still */
            return cm_err_set(err, CM_E_INTERNAL, "vtab: omitted constraint on %s not pushable",
                              col->c->name);
        }
        if (emitted) {
            if (*nterms > 0) {
                cm_cx_op1(b, CM_CX_AND);
            }
            (*nterms)++;
        }
    }
    return b->rc != 0 ? cm_err_set(err, b->rc, "vtab: building the selection failed") : 0;
}
