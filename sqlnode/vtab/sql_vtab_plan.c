/*
 * sql_vtab_plan.c — xBestIndex: the access path of one table in one query.
 *
 * Candidates: a point get on the handle, a handle range, each PUBLIC index with an equality
 * prefix and at most one range column after it (or with no constraint at all when its order
 * serves ORDER BY), and the full scan. Cost units: a KV point read is 10, a row streamed by a
 * scan 1, an index entry plus the batched fetch of its row 2 (1 when covering). Without table
 * statistics a table is assumed to hold SQL_VT_EST_ROWS rows, an equality on an index column to
 * keep 1/100 of them, a one-sided range 1/8 and a two-sided one 1/64; so the order is handle
 * equality < unique index equality < index equality prefix (+ range) < handle range < full scan,
 * and an inner lookup of a join is cheap where it should be.
 *
 * What is omitted (evaluated here exactly, SQLite does not re-check): only constraints on the
 * handle, whose comparison rules (an INTEGER column against any SQLite value) xFilter applies
 * itself. Index constraints keep omit = 0: the index gives a superset (PAD SPACE strings,
 * converted values, prefix columns) and SQLite re-checks. LIMIT/OFFSET (the SQLite 3.40 trap)
 * are used only when every other constraint is omitted and the order is consumed, and then only
 * as a row budget of LIMIT + OFFSET: SQLite still applies both itself.
 */
#include "sql_vtab_int.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

typedef struct cand {
    vt_plan p;
    double cost, rows;
    bool unique;  /* at most one row */
    bool ordered; /* orderByConsumed */
    int args[80]; /* constraint numbers in argv order */
    bool omit[80];
    int nargs;
    vt_push push; /* coprocessor plans: the pushed constraints and the TopN order */
    char desc[1024];
} cand;

static bool is_handle(const sql_vt *v, int col)
{
    return col == -1 || (v->handle_vcol >= 0 && col == v->handle_vcol);
}

static bool is_range_op(int op)
{
    return op == SQLITE_INDEX_CONSTRAINT_GT || op == SQLITE_INDEX_CONSTRAINT_GE ||
           op == SQLITE_INDEX_CONSTRAINT_LT || op == SQLITE_INDEX_CONSTRAINT_LE;
}
static bool is_lower(int op)
{
    return op == SQLITE_INDEX_CONSTRAINT_GT || op == SQLITE_INDEX_CONSTRAINT_GE;
}

/* First usable constraint on a column matching pred. */
static int find_cons(const sqlite3_index_info *info, const sql_vt *v, int col, bool handle,
                     int kind /* 0 eq, 1 lower, 2 upper */)
{
    for (int i = 0; i < info->nConstraint; i++) {
        const struct sqlite3_index_constraint *c = &info->aConstraint[i];
        if (!c->usable) {
            continue;
        }
        bool match = handle ? is_handle(v, c->iColumn) : c->iColumn == col;
        if (!match) {
            continue;
        }
        if (kind == 0 && c->op == SQLITE_INDEX_CONSTRAINT_EQ) {
            return i;
        }
        if (kind == 1 && is_range_op(c->op) && is_lower(c->op)) {
            return i;
        }
        if (kind == 2 && is_range_op(c->op) && !is_lower(c->op)) {
            return i;
        }
    }
    return -1;
}

static void add_arg(cand *c, int cons, bool omit)
{
    if (c->nargs < (int)(sizeof c->args / sizeof c->args[0])) {
        c->args[c->nargs] = cons;
        c->omit[c->nargs] = omit;
        c->nargs++;
    }
}

static const char *vcol_name(const sql_vt *v, int vcol)
{
    if (vcol < 0) {
        return "rowid";
    }
    return v->cols[v->vis[vcol]].c->name;
}

/* Whether scanning in the order of scols[0..n) (after neq leading columns fixed by equality)
 * serves ORDER BY. eqcols: columns bound by equality (any position). */
static bool order_served(const sqlite3_index_info *info, const int *scols, int n, int neq)
{
    int p = neq;
    for (int i = 0; i < info->nOrderBy; i++) {
        const struct sqlite3_index_orderby *o = &info->aOrderBy[i];
        if (o->desc) {
            return false;
        }
        bool fixed = false;
        for (int k = 0; k < neq && k < n; k++) {
            if (scols[k] == o->iColumn) {
                fixed = true;
            }
        }
        if (fixed) {
            continue;
        }
        if (p < n && scols[p] == o->iColumn) {
            p++;
            continue;
        }
        return false;
    }
    return true;
}

static bool col_exact_in_key(const sql_vt *v, uint32_t off, uint32_t prefix_len)
{
    const vt_col *c = &v->cols[off];
    if (prefix_len != 0) {
        return false;
    }
    switch (c->dtype) {
    case CM_DT_STRING:
        return c->c->type.fixed != 0; /* CHAR drops trailing spaces on read anyway */
    case CM_DT_DECIMAL:               /* the key has no scale */
    case CM_DT_FLOAT64:               /* -0.0 is keyed as +0.0 */
    case CM_DT_FLOAT32:
    case CM_DT_JSON:
        return false;
    default:
        return true;
    }
}

bool sql_vt_index_exact(const sql_vt *v, const sql_cat_index *ix)
{
    for (uint32_t k = 0; k < ix->ncols; k++) {
        if (!col_exact_in_key(v, ix->cols[k], ix->prefix_len ? ix->prefix_len[k] : 0)) {
            return false;
        }
    }
    return true;
}

/* Whether every used column can be read from the index key (or is the handle). */
static bool covers(const sql_vt *v, const sql_cat_index *ix, uint64_t used)
{
    if (used & (1ULL << 63)) {
        return false;
    }
    for (int vc = 0; vc < 63 && vc < (int)v->nvis; vc++) {
        if (!(used & (1ULL << vc))) {
            continue;
        }
        if (vc == v->handle_vcol) {
            continue;
        }
        uint32_t off = v->vis[vc];
        bool found = false;
        for (uint32_t k = 0; k < ix->ncols; k++) {
            if (ix->cols[k] == off &&
                col_exact_in_key(v, off, ix->prefix_len ? ix->prefix_len[k] : 0)) {
                found = true;
            }
        }
        if (!found) {
            return false;
        }
    }
    return true;
}

/* Adds LIMIT/OFFSET as a row budget when every other constraint is omitted by c and the order
 * is served; scales the estimates. When the order is not served but v is given (a coprocessor
 * scan with pushdown) and every ORDER BY term can be ordered on the KV, LIMIT + OFFSET become a
 * TopN per region instead: SQLite still sorts and cuts (orderByConsumed stays 0). */
static void try_limit(const sql_vt *v, const sqlite3_index_info *info, cand *c)
{
    int lim = -1, off = -1;
    for (int i = 0; i < info->nConstraint; i++) {
        int op = info->aConstraint[i].op;
        if (op == SQLITE_INDEX_CONSTRAINT_LIMIT) {
            lim = info->aConstraint[i].usable ? i : -2;
            continue;
        }
        if (op == SQLITE_INDEX_CONSTRAINT_OFFSET) {
            off = info->aConstraint[i].usable ? i : -2;
            continue;
        }
        bool omitted = false;
        for (int a = 0; a < c->nargs; a++) {
            if (c->args[a] == i && c->omit[a]) {
                omitted = true;
            }
        }
        if (!omitted) {
            return;
        }
    }
    if (lim < 0 || off == -2) {
        return;
    }
    bool topn = false;
    if (info->nOrderBy > 0 && !c->ordered) {
        if (v == NULL || !sql_vt_push_topn_ok(v, info, &c->push)) {
            return;
        }
        topn = true;
    }
    double budget = 100.0; /* a parameter: unknown until xFilter */
    sqlite3_value *val = NULL;
    if (sqlite3_vtab_rhs_value((sqlite3_index_info *)info, lim, &val) == SQLITE_OK && val &&
        sqlite3_value_type(val) == SQLITE_INTEGER) {
        budget = (double)sqlite3_value_int64(val);
        if (budget < 0) {
            budget = SQL_VT_EST_ROWS;
        }
    }
    add_arg(c, lim, false);
    c->p.flags |= VT_P_LIMIT;
    if (off >= 0) {
        val = NULL;
        if (sqlite3_vtab_rhs_value((sqlite3_index_info *)info, off, &val) == SQLITE_OK && val &&
            sqlite3_value_type(val) == SQLITE_INTEGER && sqlite3_value_int64(val) > 0) {
            budget += (double)sqlite3_value_int64(val);
        }
        add_arg(c, off, false);
        c->p.flags |= VT_P_OFFSET;
    }
    if (topn) {
        /* every row is still scanned, fewer travel: a little cheaper, same row estimate */
        c->p.flags |= VT_P_TOPN;
        c->cost = c->cost * 0.9;
        size_t l = strlen(c->desc);
        snprintf(c->desc + l, sizeof c->desc - l, " topn(");
        for (int i = 0; i < c->push.norder; i++) {
            l = strlen(c->desc);
            snprintf(c->desc + l, sizeof c->desc - l, "%s%s%s", i ? ", " : "",
                     vcol_name(v, c->push.ord[i].vcol), c->push.ord[i].desc ? " desc" : "");
        }
        strncat(c->desc, ")", sizeof c->desc - strlen(c->desc) - 1);
        return;
    }
    if (budget < c->rows) {
        c->cost = c->cost * budget / (c->rows > 0 ? c->rows : 1) + 10;
        c->rows = budget;
    }
    strncat(c->desc, " limit", sizeof c->desc - strlen(c->desc) - 1);
}

static void cand_init(cand *c, int access)
{
    memset(c, 0, sizeof *c);
    c->p.access = access;
}

static void plan_handle(const sql_vt *v, const sqlite3_index_info *info, cand *best, bool *have)
{
    int hv = v->handle_vcol;
    int hcol[1] = {hv};
    const char *hname = hv >= 0 ? vcol_name(v, hv) : "rowid";
    cand c;
    /* point get */
    int eq = find_cons(info, v, hv, true, 0);
    if (eq >= 0) {
        cand_init(&c, VT_PK_EQ);
        add_arg(&c, eq, true);
        c.rows = 1;
        c.cost = 10;
        c.unique = true;
        c.ordered = true;
        snprintf(c.desc, sizeof c.desc, "point get PRIMARY (%s=?)", hname);
        /* An IN list comes whole to one xFilter: its rows are read with one batch get per
         * region instead of one round trip per value. */
        if (sqlite3_vtab_in((sqlite3_index_info *)info, eq, -1) &&
            sqlite3_vtab_in((sqlite3_index_info *)info, eq, 1)) {
            c.p.flags |= VT_P_IN;
            c.rows = 10;
            c.cost = 15;
            c.unique = false;
            snprintf(c.desc, sizeof c.desc, "batch get PRIMARY (%s IN (...))", hname);
        }
        if (!*have || c.cost < best->cost) {
            *best = c;
            *have = true;
        }
        return; /* nothing beats it */
    }
    /* range or full scan, handle order */
    int lo = find_cons(info, v, hv, true, 1), hi = find_cons(info, v, hv, true, 2);
    cand_init(&c, lo >= 0 || hi >= 0 ? VT_PK_RANGE : VT_FULL);
    c.rows = SQL_VT_EST_ROWS;
    if (lo >= 0) {
        add_arg(&c, lo, true);
        c.p.flags |= VT_P_LO;
        if (info->aConstraint[lo].op == SQLITE_INDEX_CONSTRAINT_GE) {
            c.p.flags |= VT_P_LO_INCL;
        }
        c.rows /= 8;
    }
    if (hi >= 0) {
        add_arg(&c, hi, true);
        c.p.flags |= VT_P_HI;
        if (info->aConstraint[hi].op == SQLITE_INDEX_CONSTRAINT_LE) {
            c.p.flags |= VT_P_HI_INCL;
        }
        c.rows /= 8;
    }
    c.cost = 10 + c.rows;
    c.ordered = order_served(info, hcol, 1, 0);
    snprintf(c.desc, sizeof c.desc, "full scan");
    if (c.p.access == VT_PK_RANGE) {
        snprintf(c.desc, sizeof c.desc, "range PRIMARY (%s%s%s%s%s)", lo >= 0 ? hname : "",
                 lo >= 0 ? (c.p.flags & VT_P_LO_INCL ? ">=?" : ">?") : "",
                 lo >= 0 && hi >= 0 ? " AND " : "", hi >= 0 ? hname : "",
                 hi >= 0 ? (c.p.flags & VT_P_HI_INCL ? "<=?" : "<?") : "");
    }
    bool push = v->env != NULL && v->env->copr_pushdown;
    if (push) {
        /* the coprocessor evaluates the other constraints (sql_vtab_push.c) */
        int taken[2] = {lo, hi};
        sql_vt_push_choose(v, (sqlite3_index_info *)info, taken, 2, &c.push, c.desc, sizeof c.desc);
        for (int i = 0; i < c.push.n; i++) {
            add_arg(&c, c.push.t[i].cons, c.push.t[i].omit);
            if (c.push.t[i].op == SQLITE_INDEX_CONSTRAINT_EQ) {
                c.rows /= 100;
            } else if (c.push.t[i].op != SQLITE_INDEX_CONSTRAINT_ISNOTNULL &&
                       c.push.t[i].op != SQLITE_INDEX_CONSTRAINT_NE) {
                c.rows /= 4;
            }
        }
        if (c.rows < 1) {
            c.rows = 1;
        }
        /* the KV still reads every row of the range; fewer travel and reach SQLite */
        c.cost = 10 + (c.cost - 10) * 0.5 + c.rows * 0.5;
    }
    try_limit(push ? v : NULL, info, &c);
    if (!*have || c.cost < best->cost) {
        *best = c;
        *have = true;
    }
}

static void plan_index(const sql_vt *v, const sqlite3_index_info *info, int xi, cand *best,
                       bool *have)
{
    const sql_cat_index *ix = &v->t->indexes[xi];
    if (ix->state != SQL_OBJ_PUBLIC || ix->ncols == 0 || ix->ncols > 16) {
        return;
    }
    int scols[17];
    int n = 0;
    for (uint32_t k = 0; k < ix->ncols; k++) {
        int vc = v->cols[ix->cols[k]].vcol;
        if (vc < 0) {
            return; /* a column not visible: the index cannot be public */
        }
        scols[n++] = vc;
    }
    bool handle_in_order = !ix->unique;
    if (handle_in_order) {
        scols[n++] = v->handle_vcol;
    }
    cand c;
    cand_init(&c, VT_INDEX);
    c.p.index = xi;
    int neq = 0;
    char cols[120] = "";
    while (neq < (int)ix->ncols) {
        int e = find_cons(info, v, scols[neq], false, 0);
        if (e < 0) {
            break;
        }
        add_arg(&c, e, false);
        size_t l = strlen(cols);
        snprintf(cols + l, sizeof cols - l, "%s%s=?", neq ? " AND " : "", vcol_name(v, scols[neq]));
        neq++;
    }
    c.p.neq = neq;
    int lo = -1, hi = -1;
    /* a range serves only where the key order is SQLite's order (not ENUM, SET, TIME, BIT) */
    if (neq < (int)ix->ncols && sql_type_key_ordered(&v->cols[ix->cols[neq]].c->type)) {
        lo = find_cons(info, v, scols[neq], false, 1);
        hi = find_cons(info, v, scols[neq], false, 2);
        const char *rn = vcol_name(v, scols[neq]);
        if (lo >= 0) {
            add_arg(&c, lo, false);
            c.p.flags |= VT_P_LO;
            if (info->aConstraint[lo].op == SQLITE_INDEX_CONSTRAINT_GE) {
                c.p.flags |= VT_P_LO_INCL;
            }
            size_t l = strlen(cols);
            snprintf(cols + l, sizeof cols - l, "%s%s%s?", l ? " AND " : "", rn,
                     c.p.flags & VT_P_LO_INCL ? ">=" : ">");
        }
        if (hi >= 0) {
            add_arg(&c, hi, false);
            c.p.flags |= VT_P_HI;
            if (info->aConstraint[hi].op == SQLITE_INDEX_CONSTRAINT_LE) {
                c.p.flags |= VT_P_HI_INCL;
            }
            size_t l = strlen(cols);
            snprintf(cols + l, sizeof cols - l, "%s%s%s?", l ? " AND " : "", rn,
                     c.p.flags & VT_P_HI_INCL ? "<=" : "<");
        }
    }
    /* the scan order is SQLite's order up to the first column after the equalities whose keys
     * are cut (prefix) or not ordered as SQLite orders its values */
    int nord = n;
    for (int k = neq; k < (int)ix->ncols && nord == n; k++) {
        if ((ix->prefix_len != NULL && ix->prefix_len[k] != 0) ||
            !sql_type_key_ordered(&v->cols[ix->cols[k]].c->type)) {
            nord = k;
        }
    }
    c.ordered = order_served(info, scols, nord, neq);
    if (neq == 0 && lo < 0 && hi < 0 && !(c.ordered && info->nOrderBy > 0)) {
        return; /* neither filters nor orders */
    }
    c.unique = ix->unique && neq == (int)ix->ncols;
    c.rows = c.unique ? 1 : SQL_VT_EST_ROWS / pow(100.0, neq);
    if (lo >= 0) {
        c.rows /= 8;
    }
    if (hi >= 0) {
        c.rows /= 8;
    }
    if (c.rows < 1) {
        c.rows = 1;
    }
    bool cov = covers(v, ix, info->colUsed);
    if (cov) {
        c.p.flags |= VT_P_COVERING;
    }
    c.cost = (c.unique ? 20 : 10 + 2 * c.rows) / (cov ? 2 : 1);
    snprintf(c.desc, sizeof c.desc, "index %s (%s)%s", ix->name, cols, cov ? " covering" : "");
    try_limit(NULL, info, &c);
    if (!*have || c.cost < best->cost) {
        *best = c;
        *have = true;
    }
}

int sql_vt_best_index(sqlite3_vtab *vtab, sqlite3_index_info *info)
{
    sql_vt *v = (sql_vt *)vtab;
    int rc = sql_vt_refresh(v);
    if (rc != SQLITE_OK) {
        return rc;
    }
    cand best;
    bool have = false;
    plan_handle(v, info, &best, &have);
    if (best.p.access != VT_PK_EQ) {
        for (uint32_t i = 0; i < v->t->nindexes; i++) {
            plan_index(v, info, (int)i, &best, &have);
        }
    }
    best.p.used = info->colUsed;
    for (int a = 0; a < best.nargs; a++) {
        info->aConstraintUsage[best.args[a]].argvIndex = a + 1;
        info->aConstraintUsage[best.args[a]].omit = best.omit[a];
    }
    char spec[VT_PUSH_MAX * 24 + VT_PUSH_ORD_MAX * 12 + 1] = "";
    if (best.p.access == VT_FULL || best.p.access == VT_PK_RANGE) {
        for (int i = 0; i < best.push.n; i++) {
            vt_pterm *t = &best.push.t[i];
            t->argv = info->aConstraintUsage[t->cons].argvIndex;
            if (t->in) {
                (void)sqlite3_vtab_in(info, t->cons, 1); /* the whole list to one xFilter */
            }
        }
        if (!(best.p.flags & VT_P_TOPN)) {
            best.push.norder = 0;
        }
        sql_vt_push_spec(&best.push, spec, sizeof spec);
    }
    info->orderByConsumed = best.ordered && info->nOrderBy > 0;
    info->estimatedCost = best.cost;
    info->estimatedRows = (sqlite3_int64)(best.rows < 1 ? 1 : best.rows);
    info->idxFlags = best.unique ? SQLITE_INDEX_SCAN_UNIQUE : 0;
    info->idxNum = best.p.access;
    info->idxStr = sqlite3_mprintf("%s #%d,%d,%d,%d,%llx%s", best.desc, best.p.access, best.p.index,
                                   best.p.neq, best.p.flags, (unsigned long long)best.p.used, spec);
    if (info->idxStr == NULL) {
        return SQLITE_NOMEM;
    }
    info->needToFreeIdxStr = 1;
    return SQLITE_OK;
}

/* Reads a decimal (base 10) or hexadecimal (base 16) number at *p followed by sep (0: end). */
static bool read_num(const char **p, int base, char sep, uint64_t *out)
{
    const char *q = *p;
    uint64_t v = 0;
    int n = 0;
    for (;; q++, n++) {
        int d;
        if (*q >= '0' && *q <= '9') {
            d = *q - '0';
        } else if (base == 16 && *q >= 'a' && *q <= 'f') {
            d = *q - 'a' + 10;
        } else {
            break;
        }
        if (n >= 16) {
            return false;
        }
        v = v * (uint64_t)base + (uint64_t)d;
    }
    if (n == 0 || *q != sep) {
        return false;
    }
    *p = sep ? q + 1 : q;
    *out = v;
    return true;
}

/* Hand-written rather than sscanf: xFilter parses it once per execution of a statement. */
bool sql_vt_plan_parse(const char *idx_str, vt_plan *p)
{
    const char *h = idx_str ? strrchr(idx_str, '#') : NULL;
    if (h == NULL) {
        return false;
    }
    h++;
    uint64_t a, i, n, f, u;
    if (!read_num(&h, 10, ',', &a) || !read_num(&h, 10, ',', &i) || !read_num(&h, 10, ',', &n) ||
        !read_num(&h, 10, ',', &f) || (!read_num(&h, 16, 0, &u) && !read_num(&h, 16, ';', &u))) {
        return false;
    }
    if (a > VT_INDEX || i > 1024 || n > 16 || f > VT_P_MASK) {
        return false;
    }
    p->access = (int)a;
    p->index = (int)i;
    p->neq = (int)n;
    p->flags = (int)f;
    p->used = u;
    return true;
}
