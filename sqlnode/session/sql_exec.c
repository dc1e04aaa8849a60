/* sql_exec.c — running queries on the session's SQLite connection: the statement cache, result
 * sets with MySQL metadata, and the mapping of SQLite's errors to MySQL's. */
#include "sql_numeric.h"
#include "sql_session_int.h"

#include "../mysql/sql_my_const.h"
#include "cm_log.h"
#include "sql_lockread.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- the discard sink ---- */

static int discard_columns(sql_sink *k, const sql_column *c, int n)
{
    (void)k;
    (void)c;
    (void)n;
    return 0;
}

static int discard_row(sql_sink *k, const sql_value *v, int n)
{
    (void)k;
    (void)v;
    (void)n;
    return 0;
}

static int discard_done(sql_sink *k, const sql_done *d)
{
    (void)k;
    (void)d;
    return 0;
}

sql_sink sql_discard_sink = {discard_columns, discard_row, discard_done};

/* ---- statement cache ---- */

static uint64_t hash_key(const char *p, size_t n, unsigned mode)
{
    uint64_t h = 1469598103934665603ULL ^ mode;
    for (size_t i = 0; i < n; i++) {
        h ^= (uint8_t)p[i];
        h *= 1099511628211ULL;
    }
    return h;
}

int sql_cache_init(sql_cache *c, uint32_t cap)
{
    memset(c, 0, sizeof(*c));
    c->cap = cap;
    return 0;
}

static void entry_free(sql_cached *e)
{
    sqlite3_finalize(e->stmt);
    free(e->target);
    free(e->key);
    free(e->items);
    free(e);
}

void sql_cache_fini(sql_cache *c)
{
    sql_cached *e = c->head;
    while (e != NULL) {
        sql_cached *next = e->next;
        entry_free(e);
        e = next;
    }
    free(c->buckets);
    memset(c, 0, sizeof(*c));
}

static void lru_unlink(sql_cache *c, sql_cached *e)
{
    if (e->prev) {
        e->prev->next = e->next;
    } else {
        c->head = e->next;
    }
    if (e->next) {
        e->next->prev = e->prev;
    } else {
        c->tail = e->prev;
    }
    e->prev = e->next = NULL;
}

static void lru_push_front(sql_cache *c, sql_cached *e)
{
    e->prev = NULL;
    e->next = c->head;
    if (c->head) {
        c->head->prev = e;
    }
    c->head = e;
    if (c->tail == NULL) {
        c->tail = e;
    }
}

sql_cached *sql_cache_get(sql_cache *c, const char *key, size_t len, unsigned mode)
{
    if (c->buckets == NULL) {
        return NULL;
    }
    uint64_t h = hash_key(key, len, mode);
    for (sql_cached *e = c->buckets[h & (c->nbuckets - 1)]; e != NULL; e = e->hnext) {
        if (e->hash == h && e->keylen == len && e->mode == mode && memcmp(e->key, key, len) == 0) {
            if (c->head != e) {
                lru_unlink(c, e);
                lru_push_front(c, e);
            }
            c->hits++;
            return e;
        }
    }
    c->misses++;
    return NULL;
}

static void hash_remove(sql_cache *c, sql_cached *e)
{
    sql_cached **pp = &c->buckets[e->hash & (c->nbuckets - 1)];
    while (*pp != NULL && *pp != e) {
        pp = &(*pp)->hnext;
    }
    if (*pp == e) {
        *pp = e->hnext;
    }
}

static int cache_put(sql_cache *c, sql_cached *e)
{
    if (c->buckets == NULL) {
        uint32_t nb = 16;
        while (nb < c->cap * 2 && nb < (1u << 20)) {
            nb *= 2;
        }
        c->buckets = calloc(nb, sizeof(*c->buckets));
        if (c->buckets == NULL) {
            return CM_E_NOMEM;
        }
        c->nbuckets = nb;
    }
    while (c->count >= c->cap) {
        sql_cached *victim = c->tail;
        while (victim != NULL && victim->in_use) {
            victim = victim->prev;
        }
        if (victim == NULL) {
            break;
        }
        lru_unlink(c, victim);
        hash_remove(c, victim);
        entry_free(victim);
        c->count--;
    }
    sql_cached **b = &c->buckets[e->hash & (c->nbuckets - 1)];
    e->hnext = *b;
    *b = e;
    lru_push_front(c, e);
    c->count++;
    return 0;
}

int sql_exec_prepare(sql_sess *s, const char *src, const sql_token *t, uint32_t n,
                     sqlite3_stmt **out, cm_err *err)
{
    *out = NULL;
    sql_tr_ctx ctx = sql_sess_tr_ctx(s);
    int dml = sql_classify(src, t, n) == SQL_KIND_DML;
    int rc = dml ? sql_dml_translate(s, src, t, n, &s->tr, err)
                 : sql_sem_translate(s, src, t, n, &ctx, &s->tr, err);
    if (rc != 0) {
        return rc;
    }
    const char *tail = NULL;
    rc = sql_decl_prepare(s, (const char *)s->tr.sql.ptr, (int)s->tr.sql.len,
                          SQLITE_PREPARE_PERSISTENT, out, &tail, err);
    if (rc != 0) {
        return rc;
    }
    if (*out == NULL) {
        return cm_err_set(err, CM_E_EMPTY_QUERY, "Query was empty");
    }
    if (!dml) {
        /* result metadata of expressions, exact DECIMAL operators */
        (void)sql_ti_finish(s, src, t, n, out);
    }
    return 0;
}

int sql_exec_prepare_cached(sql_sess *s, const char *src, const sql_token *t, uint32_t n,
                            const char *key, size_t keylen, sql_cached **out, cm_err *err)
{
    sqlite3_stmt *st = NULL;
    int rc = sql_exec_prepare(s, src, t, n, &st, err);
    if (rc != 0) {
        return rc;
    }
    sql_cached *e = calloc(1, sizeof(*e));
    char *k = malloc(keylen + 1);
    sql_tr_item *items = NULL;
    if (s->tr.nitems > 0) {
        items = malloc(s->tr.nitems * sizeof(*items));
    }
    char *target = NULL;
    if (s->tr.target.len > 0 && (target = malloc(s->tr.target.len)) != NULL) {
        memcpy(target, s->tr.target.ptr, s->tr.target.len);
    }
    if (e == NULL || k == NULL || (s->tr.nitems > 0 && items == NULL) ||
        (s->tr.target.len > 0 && target == NULL)) {
        free(e);
        free(k);
        free(items);
        free(target);
        sqlite3_finalize(st);
        return cm_err_set(err, CM_E_NOMEM, "out of memory caching a statement");
    }
    memcpy(k, key, keylen);
    k[keylen] = '\0';
    if (items != NULL) {
        memcpy(items, s->tr.items, s->tr.nitems * sizeof(*items));
    }
    e->key = k;
    e->keylen = keylen;
    e->mode = s->mode;
    e->hash = hash_key(key, keylen, s->mode);
    e->stmt = st;
    e->dml = sql_classify(src, t, n) == SQL_KIND_DML;
    e->items = items;
    e->nitems = s->tr.nitems;
    e->target = target;
    e->target_len = s->tr.target.len;
    if (cache_put(&s->cache, e) != 0) {
        entry_free(e);
        return cm_err_set(err, CM_E_NOMEM, "out of memory caching a statement");
    }
    *out = e;
    return 0;
}

void sql_cache_clear(sql_cache *c)
{
    uint32_t cap = c->cap;
    uint64_t hits = c->hits, misses = c->misses;
    sql_cache_fini(c);
    sql_cache_init(c, cap);
    c->hits = hits;
    c->misses = misses;
}

/* ---- errors ---- */

/* Copies the text after `prefix` in msg (up to a quote-free stop) into out. */
static int after(const char *msg, const char *prefix, char *out, size_t cap)
{
    const char *p = strstr(msg, prefix);
    if (p == NULL) {
        return 0;
    }
    p += strlen(prefix);
    size_t n = strcspn(p, "()");
    if (n >= cap) {
        n = cap - 1;
    }
    memcpy(out, p, n);
    out[n] = '\0';
    return 1;
}

int sql_exec_sqlite_error(sql_sess *s, int rc, cm_err *err)
{
    if (s->fn_err.code != 0) {
        int code = s->fn_err.code;
        if (err != NULL) {
            *err = s->fn_err;
        }
        s->fn_err.code = 0;
        return code;
    }
    int code = sqlite3_errcode(s->db);
    const char *msg = sqlite3_errmsg(s->db);
    char name[128];
    const char *db = s->has_db ? s->dbname : "";
    if (rc == SQLITE_INTERRUPT || code == SQLITE_INTERRUPT) {
        return cm_err_set(err, CM_E_QUERY_INTERRUPTED, "Query execution was interrupted");
    }
    if (code == SQLITE_AUTH) {
        return cm_err_set(err, CM_E_NO_SUCH_TABLE, "Table '%s.%s' doesn't exist", db, s->denied);
    }
    if (code == SQLITE_TOOBIG || rc == SQLITE_TOOBIG) {
        return cm_err_set(err, CM_E_NET_PACKET_TOO_LARGE,
                          "Result of an expression was larger than max_allowed_packet");
    }
    if (code == SQLITE_NOMEM) {
        return cm_err_set(err, CM_E_NOMEM, "out of memory");
    }
    if (after(msg, "no such table: ", name, sizeof(name))) {
        const char *why =
            s->env->cat == NULL ? " (no cluster: this sqlnode runs without --pd)" : "";
        const char *dot = strchr(name, '.');
        if (dot != NULL) {
            return cm_err_set(err, CM_E_NO_SUCH_TABLE, "Table '%s' doesn't exist%s", name, why);
        }
        if (!s->has_db) {
            return cm_err_set(err, CM_E_NO_DB, "No database selected");
        }
        return cm_err_set(err, CM_E_NO_SUCH_TABLE, "Table '%s.%s' doesn't exist%s", db, name, why);
    }
    if (after(msg, "no such column: ", name, sizeof(name))) {
        return cm_err_set(err, CM_E_BAD_FIELD, "Unknown column '%s' in 'field list'", name);
    }
    if (after(msg, " has no column named ", name, sizeof(name))) {
        /* SQLite: "table t has no column named x" (an INSERT column list). */
        return cm_err_set(err, CM_E_BAD_FIELD, "Unknown column '%s' in 'field list'", name);
    }
    if (after(msg, "ambiguous column name: ", name, sizeof(name))) {
        const char *dot = strrchr(name, '.');
        return cm_err_set(err, CM_E_NON_UNIQ_FIELD, "Column '%s' in field list is ambiguous",
                          dot != NULL ? dot + 1 : name);
    }
    if ((strstr(msg, " columns but ") != NULL && strstr(msg, " values were supplied") != NULL) ||
        (strstr(msg, " values for ") != NULL && strstr(msg, " columns") != NULL) ||
        strstr(msg, "all VALUES must have the same number of terms") != NULL) {
        /* SQLite: "table t has 3 columns but 2 values were supplied", "3 values for 2
         * columns", rows of different lengths. */
        return cm_err_set(err, CM_E_WRONG_VALUE_COUNT,
                          "Column count doesn't match value count at row 1");
    }
    if (after(msg, "no such function: ", name, sizeof(name))) {
        return cm_err_set(err, CM_E_NO_SUCH_FUNCTION, "FUNCTION %s%s%s does not exist", db,
                          db[0] ? "." : "", name);
    }
    if (after(msg, "wrong number of arguments to function ", name, sizeof(name))) {
        return cm_err_set(err, CM_E_WRONG_PARAMCOUNT,
                          "Incorrect parameter count in the call to native function '%s'", name);
    }
    if (strstr(msg, "syntax error") != NULL || strstr(msg, "unrecognized token") != NULL ||
        strstr(msg, "incomplete input") != NULL) {
        const char *near = strstr(msg, "near \"");
        int n = 0;
        if (near != NULL) {
            near += 6;
            const char *q = strchr(near, '"');
            n = q ? (int)(q - near) : (int)strlen(near);
        }
        return cm_err_set(err, CM_E_PARSE,
                          "You have an error in your SQL syntax; check the manual that corresponds "
                          "to your MySQL server version for the right syntax to use near '%.*s' at "
                          "line 1",
                          n > 60 ? 60 : n, near ? near : "");
    }
    if (strstr(msg, "no tables specified") != NULL) {
        return cm_err_set(err, CM_E_PARSE, "No tables used");
    }
    return cm_err_set(err, CM_E_INTERNAL, "%s", msg);
}

/* ---- running ---- */

static size_t utf8_chars(const unsigned char *p, size_t n)
{
    size_t c = 0;
    for (size_t i = 0; i < n; i++) {
        c += (p[i] & 0xc0) != 0x80;
    }
    return c;
}

static void fill_column(const sql_sess *s, sql_column *c, uint8_t type, int is_blob, size_t len)
{
    c->type = type;
    c->flags = 0;
    c->charset = SQL_COLLATION_BINARY;
    c->decimals = 0;
    switch (type) {
    case SQL_TYPE_LONGLONG:
        c->length = 21;
        c->flags = SQL_FLAG_BINARY | SQL_FLAG_NUM;
        break;
    case SQL_TYPE_DOUBLE:
        c->length = 23;
        c->flags = SQL_FLAG_BINARY | SQL_FLAG_NUM;
        c->decimals = SQL_DECIMALS_NOT_FIXED;
        break;
    case SQL_TYPE_NULL:
        c->length = 0;
        c->flags = SQL_FLAG_BINARY;
        break;
    case SQL_TYPE_DATETIME:
        c->length = len > 19 ? 26 : 19;
        c->flags = SQL_FLAG_BINARY;
        c->decimals = len > 20 ? (uint8_t)(len - 20) : 0;
        break;
    case SQL_TYPE_DATE:
        c->length = 10;
        c->flags = SQL_FLAG_BINARY;
        break;
    case SQL_TYPE_TIME:
        c->length = len > 8 ? (uint32_t)len : 10;
        c->flags = SQL_FLAG_BINARY;
        c->decimals = len > 9 && len < 16 ? (uint8_t)(len - 9) : 0;
        break;
    default:
        c->type = SQL_TYPE_VAR_STRING;
        c->decimals = SQL_DECIMALS_NOT_FIXED;
        if (is_blob) {
            c->flags = SQL_FLAG_BINARY;
            c->length = (uint32_t)(len > 0xffffff ? 0xffffff : len);
        } else {
            c->charset = sql_sess_collation(s);
            size_t l = len * 4;
            c->length = (uint32_t)(l > 0xffffff ? 0xffffff : l);
        }
        break;
    }
}

void sql_exec_describe(sql_sess *s, sqlite3_stmt *st, const sql_tr_item *items, uint32_t nitems,
                       int have_row, sql_column *cols, int ncols)
{
    for (int i = 0; i < ncols; i++) {
        sql_column *c = &cols[i];
        memset(c, 0, sizeof(*c));
        const char *name = sqlite3_column_name(st, i);
        c->name = name ? name : "";
        c->name_len = strlen(c->name);
        const sql_tr_item *it = (uint32_t)i < nitems ? &items[i] : NULL;
        if (it != NULL && it->ti_type != 0) {
            sql_ti_describe(it, c); /* an expression MySQL types statically */
            continue;
        }
        int vt = have_row ? sqlite3_column_type(st, i) : SQLITE_NULL;
        size_t len = 0;
        if (have_row && (vt == SQLITE_TEXT || vt == SQLITE_BLOB)) {
            const unsigned char *p =
                vt == SQLITE_TEXT ? sqlite3_column_text(st, i) : sqlite3_column_blob(st, i);
            len = (size_t)sqlite3_column_bytes(st, i);
            if (vt == SQLITE_TEXT && p != NULL && it && it->strong == 0) {
                len = utf8_chars(p, len);
            }
        }
        uint8_t type;
        if (it && it->strong) {
            type = it->strong;
        } else if (have_row && vt == SQLITE_INTEGER) {
            type = SQL_TYPE_LONGLONG;
        } else if (have_row && vt == SQLITE_FLOAT) {
            type = SQL_TYPE_DOUBLE;
        } else if (have_row && (vt == SQLITE_TEXT || vt == SQLITE_BLOB)) {
            type = SQL_TYPE_VAR_STRING;
        } else if (have_row) {
            /* NULL in the first row: the column's static type (NULL only for a NULL literal),
             * since later rows may hold values the binary protocol must encode. */
            type = it ? it->guess : SQL_TYPE_VAR_STRING;
        } else {
            type = it ? it->guess : SQL_TYPE_VAR_STRING;
            if (type == SQL_TYPE_VAR_STRING) {
                len = 64;
            }
        }
        fill_column(s, c, type, have_row && vt == SQLITE_BLOB, len);
        if (it && it->literal && have_row && vt != SQLITE_NULL) {
            c->flags |= SQL_FLAG_NOT_NULL;
        }
        if (!(it && it->strong)) {
            (void)sql_decl_column(s, st, i, c); /* a table column: its declared type */
        }
        if (it && (it->ti_act & SQL_TI_ACT_NULLABLE)) {
            c->flags &= (uint16_t)~SQL_FLAG_NOT_NULL; /* outer join (sql_typeinfer.c) */
        }
    }
}

/* BIT columns reach SQLite as integers (so `b = 5`, `b + 0` and `b = b'101'` compare and
 * compute as MySQL's numbers do, sql_vtab.c) and leave as MySQL sends them: the big-endian
 * bytes of the column's width. The first SQL_EXEC_BIT_COLS_MAX BIT columns of a row are
 * converted (buf has 8 bytes for each); later ones are sent as numbers. */
#define SQL_EXEC_BIT_COLS_MAX 64
static void bit_bytes(const sql_column *cols, sql_value *v, int n, uint8_t *buf)
{
    int used = 0;
    for (int i = 0; i < n && used < SQL_EXEC_BIT_COLS_MAX; i++) {
        if (cols[i].type != SQL_TYPE_BIT || v[i].type != SQL_V_INT) {
            continue;
        }
        uint32_t bits = cols[i].length >= 1 && cols[i].length <= 64 ? cols[i].length : 64;
        uint32_t nb = (bits + 7) / 8;
        uint8_t *p = buf + 8 * used++;
        uint64_t x = (uint64_t)v[i].i;
        for (uint32_t k = 0; k < nb; k++) {
            p[k] = (uint8_t)(x >> (8 * (nb - 1 - k)));
        }
        v[i].type = SQL_V_BLOB;
        v[i].s = (const char *)p;
        v[i].n = nb;
    }
}

static void row_values(sqlite3_stmt *st, sql_value *v, int n)
{
    for (int i = 0; i < n; i++) {
        memset(&v[i], 0, sizeof(v[i]));
        switch (sqlite3_column_type(st, i)) {
        case SQLITE_INTEGER:
            v[i].type = SQL_V_INT;
            v[i].i = sqlite3_column_int64(st, i);
            break;
        case SQLITE_FLOAT:
            v[i].type = SQL_V_DOUBLE;
            v[i].d = sqlite3_column_double(st, i);
            break;
        case SQLITE_TEXT:
            v[i].type = SQL_V_TEXT;
            v[i].s = (const char *)sqlite3_column_text(st, i);
            v[i].n = (size_t)sqlite3_column_bytes(st, i);
            if (v[i].s == NULL) {
                v[i].s = "";
            }
            break;
        case SQLITE_BLOB:
            v[i].type = SQL_V_BLOB;
            v[i].s = (const char *)sqlite3_column_blob(st, i);
            v[i].n = (size_t)sqlite3_column_bytes(st, i);
            if (v[i].s == NULL) {
                v[i].s = "";
            }
            break;
        default:
            v[i].type = SQL_V_NULL;
            break;
        }
    }
}

/* Steps st to completion, sending columns and rows (not done()). *sent: columns went out, so
 * the statement cannot be re-run. Does not reset st on success paths' callers' behalf. */
static int exec_steps(sql_sess *s, sqlite3_stmt *st, const sql_tr_item *items, uint32_t nitems,
                      sql_sink *sink, int discard, int *sent, uint64_t *nrows, cm_err *err)
{
    int ncols = sqlite3_column_count(st);
    int rc = sql_sess_scratch(s, (uint32_t)(ncols > 0 ? ncols : 1), err);
    if (rc != 0) {
        return rc;
    }
    s->fn_err.code = 0;
    s->denied[0] = '\0';
    s->unqual[0] = '\0';
    /* A re-prepare inside step runs the authorizer on this text (sql_decl_names_qualified). */
    s->prep_sql = sqlite3_sql(st);
    s->prep_len = s->prep_sql != NULL ? (int)strlen(s->prep_sql) : 0;
    int lrc = sqlite3_step(st);
    for (int round = 0; (lrc == SQLITE_ERROR || (lrc == SQLITE_AUTH && s->unqual[0] != '\0')) &&
                        round < SQL_DECL_ROUNDS_MAX;
         round++) {
        /* A cached statement whose tables were dropped (the schema version moved, USE)
         * re-prepares inside step: declare what it misses and step again. */
        if (s->vt.err.code != 0 || s->fn_err.code != 0) {
            break;
        }
        int d = sql_decl_after_step(s, err);
        if (d < 0) {
            s->prep_sql = NULL;
            sqlite3_reset(st);
            return d;
        }
        if (d == 0) {
            break;
        }
        sqlite3_reset(st);
        s->unqual[0] = '\0';
        lrc = sqlite3_step(st);
    }
    s->prep_sql = NULL;
    ncols = sqlite3_column_count(st); /* a re-prepare may change it */
    if ((rc = sql_sess_scratch(s, (uint32_t)(ncols > 0 ? ncols : 1), err)) != 0) {
        sqlite3_reset(st);
        return rc;
    }
    uint64_t rows = 0;
    char *numbuf = NULL; /* DECIMAL results printed at their scale (sql_num_fix_row) */
    if (!discard && ncols > 0 && sql_num_row_needs(items, nitems, ncols)) {
        numbuf = malloc((size_t)ncols * SQL_NUM_TEXT_MAX);
        if (numbuf == NULL) {
            sqlite3_reset(st);
            return cm_err_set(err, CM_E_NOMEM, "out of memory");
        }
    }
    uint8_t bitbuf[SQL_EXEC_BIT_COLS_MAX * 8]; /* BIT values as bytes (bit_bytes) */
    bool has_bit = false;                      /* a BIT column: rows go through bit_bytes */
    if (lrc == SQLITE_ROW || lrc == SQLITE_DONE) {
        if (ncols > 0 && !discard) {
            sql_exec_describe(s, st, items, nitems, lrc == SQLITE_ROW, s->cols, ncols);
            for (int i = 0; i < ncols && !has_bit; i++) {
                has_bit = s->cols[i].type == SQL_TYPE_BIT;
            }
            rc = sink->columns(sink, s->cols, ncols);
            *sent = 1;
        }
        while (rc == 0 && lrc == SQLITE_ROW) {
            if (sql_sess_killed(s) != 0) {
                lrc = SQLITE_INTERRUPT;
                break;
            }
            if (!discard && ncols > 0) {
                row_values(st, s->vals, ncols);
                if (has_bit) {
                    bit_bytes(s->cols, s->vals, ncols, bitbuf);
                }
                if (numbuf != NULL) {
                    rc = sql_num_fix_row(s, items, nitems, s->cols, s->vals, ncols, numbuf, err);
                }
                if (rc == 0) {
                    rc = sink->row(sink, s->vals, ncols);
                }
            }
            rows++;
            if (rc == 0) {
                lrc = sqlite3_step(st);
            }
        }
    }
    if (rc == 0 && lrc != SQLITE_DONE) {
        if (s->vt.err.code != 0 && lrc != SQLITE_INTERRUPT) {
            /* the MySQL error behind a failed xFilter/xUpdate (1062, KV errors …) */
            rc = s->vt.err.code;
            if (err != NULL) {
                *err = s->vt.err;
            }
        } else {
            rc = sql_exec_sqlite_error(s, lrc, err);
        }
    }
    sqlite3_reset(st);
    free(numbuf);
    *nrows = rows;
    return rc;
}

/* Before re-running a conflicting statement: 1, 2, 4, 8 … ms (at most 32) plus jitter, so
 * sessions fighting over one hot row do not collide again in lockstep. */
static void retry_backoff(sql_sess *s, uint32_t attempt)
{
    uint32_t base = 1u << (attempt < 5 ? attempt : 5);
    uint64_t x = s->id * 0x9E3779B97F4A7C15ULL ^ (uint64_t)sql_sess_now_us(s);
    x ^= x >> 29;
    int64_t ms = (int64_t)(base + (uint32_t)(x % (base + 1)));
    if (s->env->sleep_ms != NULL) {
        (void)s->env->sleep_ms(s->env->user, ms, &s->killed);
        return;
    }
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

int sql_exec_run(sql_sess *s, sqlite3_stmt *st, const sql_tr_item *items, uint32_t nitems,
                 sql_sink *sink, int more, int discard, cm_err *err)
{
    uint32_t retries =
        s->env->autocommit_retries ? s->env->autocommit_retries : SQL_SESS_AUTOCOMMIT_RETRIES;
    int rc;
    uint64_t rows = 0;
    if (s->stmt_dml && s->trans_ro && s->in_trans) {
        /* Also for cached and prepared DML, which do not pass the dispatcher's check. */
        sqlite3_clear_bindings(st);
        s->ins_target = NULL;
        return cm_err_set(err, CM_E_READ_ONLY_TXN,
                          "Cannot execute statement in a READ ONLY transaction.");
    }
    rc = s->stmt_dml ? sql_dml_bind_named(s, err) : 0;
    s->ins_target = NULL;
    if (rc != 0) {
        sqlite3_clear_bindings(st);
        return rc;
    }
    for (uint32_t attempt = 0;; attempt++) {
        int sent = 0;
        sql_txn_stmt_prologue(s);
        sql_lockread_start(s, st); /* SELECT … FOR UPDATE (sql_lockread.h) */
        rc = exec_steps(s, st, items, nitems, sink, discard, &sent, &rows, err);
        rc = sql_lockread_finish(s, rc, err);
        rc = sql_txn_stmt_epilogue(s, rc, err);
        if (rc != 0 && sql_txn_retryable(rc) && !sent && !sql_txn_explicit(s) &&
            attempt < retries) {
            /* Nothing of an autocommit statement reached the client: run it again from
             * scratch at a fresh snapshot (DESIGN.md §7). */
            CM_DEBUG("sql", "conn=%llu: write conflict, autocommit statement re-run (attempt %u)",
                     (unsigned long long)s->id, attempt + 2);
            retry_backoff(s, attempt);
            s->row_count = 0;
            sql_diag_clear(s);
            continue;
        }
        break;
    }
    sqlite3_clear_bindings(st);
    sql_dml_unbind_named(s);
    if (rc != 0) {
        return sql_txn_map_error(s, rc, err);
    }
    s->found_rows = rows;
    uint64_t affected = 0, insert_id = 0;
    if (s->stmt_dml) {
        affected = s->vt.affected;
        s->row_count = (int64_t)affected;
        if (s->vt.insert_id_set) {
            insert_id = s->vt.first_insert_id;
            s->last_insert_id = insert_id;
        }
    } else {
        s->row_count = -1;
    }
    if (discard) {
        return 0;
    }
    return sql_sess_done(s, sink, affected, insert_id, more, NULL);
}

int sql_exec_eval(sql_sess *s, const char *src, const sql_token *t, uint32_t n, sql_value *out,
                  cm_err *err)
{
    sql_tr_ctx ctx = sql_sess_tr_ctx(s);
    sql_tr_out tro;
    sql_tr_out_init(&tro);
    int rc = sql_translate_expr(src, t, n, &ctx, &tro, err);
    sqlite3_stmt *st = NULL;
    if (rc == 0) {
        rc = sql_decl_prepare(s, (const char *)tro.sql.ptr, (int)tro.sql.len, 0, &st, NULL, err);
        if (rc != 0) {
            st = NULL;
        } else if (st == NULL || sqlite3_column_count(st) != 1) {
            rc = cm_err_set(err, CM_E_PARSE, "Operand should contain 1 column(s)");
        }
    }
    sql_tr_out_fini(&tro);
    if (rc == 0) {
        int lrc = sqlite3_step(st);
        if (lrc != SQLITE_ROW) {
            rc = lrc == SQLITE_DONE ? cm_err_set(err, CM_E_PARSE, "expression has no value")
                                    : sql_exec_sqlite_error(s, lrc, err);
        } else {
            row_values(st, out, 1);
            if (out->type == SQL_V_TEXT || out->type == SQL_V_BLOB) {
                cm_buf_reset(&s->scratch);
                if (cm_buf_append(&s->scratch, out->s, out->n) != 0 ||
                    cm_buf_terminate(&s->scratch) != 0) {
                    rc = cm_err_set(err, CM_E_NOMEM, "out of memory");
                } else {
                    out->s = (const char *)s->scratch.ptr;
                }
            }
        }
    }
    sqlite3_finalize(st);
    return rc;
}
