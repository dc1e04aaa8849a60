/* sql_set.c — SET statements, reading and writing system variables in a session, and user
 * variables. */
#include "sql_session_int.h"

#include "../mysql/sql_my_const.h"
#include "sql_charset.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- time zones ---- */

/* Parses a time_zone value: SYSTEM, UTC, or ±HH:MM within MySQL's range (-13:59 … +14:00). */
static int parse_tz(const char *v, int *system, int64_t *offset)
{
    if (strcasecmp(v, "SYSTEM") == 0) {
        *system = 1;
        *offset = 0;
        return 0;
    }
    if (strcasecmp(v, "UTC") == 0) {
        *system = 0;
        *offset = 0;
        return 0;
    }
    int h, m, n = 0;
    if ((v[0] == '+' || v[0] == '-') && sscanf(v + 1, "%2d:%2d%n", &h, &m, &n) == 2 &&
        v[1 + n] == '\0' && m < 60) {
        int64_t off = (int64_t)h * 3600 + m * 60;
        if (v[0] == '-') {
            off = -off;
        }
        if (off < -(13 * 3600 + 59 * 60) || off > 14 * 3600) {
            return -1;
        }
        *system = 0;
        *offset = off;
        return 0;
    }
    return -1;
}

static void refresh_caches(sql_sess *s)
{
    s->mode = sql_sysvar_mode_bits(s->sv[SQL_SV_SQL_MODE].i);
    const char *tz = s->sv[SQL_SV_TIME_ZONE].s;
    if (tz == NULL || parse_tz(tz, &s->tz_system, &s->tz_offset_s) != 0) {
        s->tz_system = 1;
        s->tz_offset_s = 0;
    }
    sql_type_set_tz(s->tz_system, s->tz_offset_s);
    /* xBestIndex runs at prepare, before the statement's prologue: cached plans follow SET */
    bool push = s->sv[SQL_SV_TESSERA_COPR_PUSHDOWN].i != 0;
    if (push != s->vt.copr_pushdown) {
        s->vt.copr_pushdown = push;
        sql_cache_clear(&s->cache);
    }
}

/* ---- session copies of the globals ---- */

void sql_sess_vars_free(sql_sess *s)
{
    for (int id = 0; id < SQL_SV_COUNT; id++) {
        sql_sv_val_free(&s->sv[id]);
    }
}

int sql_sess_vars_from_globals(sql_sess *s, cm_err *err)
{
    sql_sysvars *g = s->env->globals;
    int rc = 0;
    pthread_mutex_lock(&g->mu);
    for (int id = 0; id < SQL_SV_COUNT && rc == 0; id++) {
        const sql_sysvar_def *d = sql_sysvar_def_of(id);
        if (sql_sysvar_storage(id) != id) {
            continue;
        }
        if ((d->flags & SQL_SV_SESSION) || id == SQL_SV_MAX_ERROR_COUNT) {
            rc = sql_sv_val_copy(&s->sv[id], &g->v[id]);
        }
    }
    pthread_mutex_unlock(&g->mu);
    if (rc != 0) {
        return cm_err_set(err, CM_E_NOMEM, "out of memory copying session variables");
    }
    refresh_caches(s);
    return 0;
}

/* ---- reading ---- */

static int use_global(const sql_sysvar_def *d, int scope)
{
    return scope == 1 || !(d->flags & SQL_SV_SESSION) || (d->flags & SQL_SV_SESSION_RO);
}

/* The stored value of a variable (copied under the lock for globals). */
static int stored_value(sql_sess *s, int id, int scope, sql_sv_val *out)
{
    const sql_sysvar_def *d = sql_sysvar_def_of(id);
    int sid = sql_sysvar_storage(id);
    memset(out, 0, sizeof(*out));
    switch (sid) {
    case SQL_SV_WARNING_COUNT:
        out->i = s->nwarn_total + s->nerr_total;
        return 0;
    case SQL_SV_ERROR_COUNT:
        out->i = s->nerr_total;
        return 0;
    case SQL_SV_LAST_INSERT_ID:
        out->i = (int64_t)s->last_insert_id;
        return 0;
    case SQL_SV_PSEUDO_THREAD_ID:
        out->i = (int64_t)s->id;
        return 0;
    case SQL_SV_TIMESTAMP:
        out->d = s->timestamp_fixed > 0 ? s->timestamp_fixed : sql_sess_now_us(s) / 1e6;
        return 0;
    default:
        break;
    }
    if (use_global(d, scope)) {
        sql_sysvars *g = s->env->globals;
        pthread_mutex_lock(&g->mu);
        int rc = sql_sv_val_copy(out, &g->v[sid]);
        pthread_mutex_unlock(&g->mu);
        return rc;
    }
    return sql_sv_val_copy(out, &s->sv[sid]);
}

int sql_sess_sysvar_get(sql_sess *s, int id, int scope, sql_value *out, cm_buf *scratch)
{
    const sql_sysvar_def *d = sql_sysvar_def_of(sql_sysvar_storage(id));
    sql_sv_val v;
    *out = sql_value_null();
    if (stored_value(s, id, scope, &v) != 0) {
        return CM_E_NOMEM;
    }
    int rc = 0;
    cm_buf_reset(scratch);
    switch (d->type) {
    case SQL_SV_BOOL:
    case SQL_SV_INT:
        *out = sql_value_int(v.i);
        break;
    case SQL_SV_UINT:
        out->type = SQL_V_UINT;
        out->u = (uint64_t)v.i;
        break;
    case SQL_SV_DOUBLE:
        out->type = SQL_V_DOUBLE;
        out->d = v.d;
        break;
    case SQL_SV_STR:
        if (!v.is_null && v.s != NULL) {
            rc = cm_buf_append(scratch, v.s, strlen(v.s));
            *out = sql_value_text(scratch->ptr ? (const char *)scratch->ptr : "", scratch->len);
        }
        break;
    case SQL_SV_ENUM:
    case SQL_SV_SET:
        rc = sql_sysvar_format(d, &v, scratch);
        *out = sql_value_text(scratch->ptr ? (const char *)scratch->ptr : "", scratch->len);
        break;
    }
    sql_sv_val_free(&v);
    return rc;
}

int sql_sess_sysvar_text(sql_sess *s, int id, int global, cm_buf *out)
{
    const sql_sysvar_def *d = sql_sysvar_def_of(sql_sysvar_storage(id));
    sql_sv_val v;
    if (stored_value(s, id, global ? 1 : 0, &v) != 0) {
        return CM_E_NOMEM;
    }
    int rc = sql_sysvar_format(d, &v, out);
    sql_sv_val_free(&v);
    return rc;
}

/* ---- writing ---- */

static int to_text(const sql_value *v, char *buf, size_t cap, const char **p, size_t *n)
{
    switch (v->type) {
    case SQL_V_INT:
        *n = (size_t)snprintf(buf, cap, "%" PRId64, v->i);
        *p = buf;
        return 0;
    case SQL_V_UINT:
        *n = (size_t)snprintf(buf, cap, "%" PRIu64, v->u);
        *p = buf;
        return 0;
    case SQL_V_DOUBLE:
        *n = (size_t)snprintf(buf, cap, "%.17g", v->d);
        *p = buf;
        return 0;
    case SQL_V_TEXT:
    case SQL_V_BLOB:
        *p = v->s;
        *n = v->n;
        return 0;
    default:
        return -1;
    }
}

/* Converts a value to the variable's type. */
static int convert(sql_sess *s, const sql_sysvar_def *d, const sql_value *v, sql_sv_val *out,
                   cm_err *err)
{
    memset(out, 0, sizeof(*out));
    if (v->type == SQL_V_NULL) {
        if (d->flags & SQL_SV_NULLABLE) {
            out->is_null = 1;
            return 0;
        }
        return cm_err_set(err, CM_E_WRONG_VALUE_FOR_VAR,
                          "Variable '%s' can't be set to the value of 'NULL'", d->name);
    }
    int numeric = v->type == SQL_V_INT || v->type == SQL_V_UINT;
    switch (d->type) {
    case SQL_SV_BOOL:
        if (numeric) {
            if (v->type == SQL_V_INT && (v->i == 0 || v->i == 1)) {
                out->i = v->i;
                return 0;
            }
            return cm_err_set(err, CM_E_WRONG_VALUE_FOR_VAR,
                              "Variable '%s' can't be set to the value of '%" PRId64 "'", d->name,
                              v->i);
        }
        break;
    case SQL_SV_INT:
    case SQL_SV_UINT:
        if (v->type == SQL_V_INT || v->type == SQL_V_UINT) {
            int64_t x = v->type == SQL_V_INT ? v->i : (int64_t)v->u;
            if (d->type == SQL_SV_INT) {
                int64_t c = x < d->min ? d->min : x > d->max ? d->max : x;
                if (v->type == SQL_V_UINT && v->u > (uint64_t)INT64_MAX) {
                    c = d->max;
                }
                if (c != x) {
                    sql_diag_add(s, SQL_DIAG_WARNING, 1292, "Truncated incorrect %s value: '%lld'",
                                 d->name, (long long)x);
                }
                x = c;
            }
            out->i = x;
            return 0;
        }
        return cm_err_set(err, CM_E_WRONG_TYPE_FOR_VAR, "Incorrect argument type to variable '%s'",
                          d->name);
    case SQL_SV_DOUBLE:
        if (v->type == SQL_V_INT || v->type == SQL_V_DOUBLE) {
            out->d = v->type == SQL_V_INT ? (double)v->i : v->d;
            if (out->d < (double)d->min || out->d > (double)d->max) {
                return cm_err_set(err, CM_E_WRONG_VALUE_FOR_VAR,
                                  "Variable '%s' can't be set to the value of '%g'", d->name,
                                  out->d);
            }
            return 0;
        }
        return cm_err_set(err, CM_E_WRONG_TYPE_FOR_VAR, "Incorrect argument type to variable '%s'",
                          d->name);
    case SQL_SV_ENUM:
        if (v->type == SQL_V_INT) {
            char buf[32];
            snprintf(buf, sizeof(buf), "%" PRId64, v->i);
            return sql_sysvar_parse_text(d, buf, strlen(buf), out, err);
        }
        break;
    case SQL_SV_SET:
        if (v->type == SQL_V_INT) {
            if (v->i < 0 || v->i >= (1LL << 33)) {
                return cm_err_set(err, CM_E_WRONG_VALUE_FOR_VAR,
                                  "Variable '%s' can't be set to the value of '%" PRId64 "'",
                                  d->name, v->i);
            }
            cm_buf t = CM_BUF_INIT;
            sql_sv_val tmp = {v->i, 0, NULL, 0};
            int rc = sql_sysvar_format(d, &tmp, &t);
            if (rc == 0) {
                rc = sql_sysvar_parse_text(d, t.ptr ? (const char *)t.ptr : "", t.len, out, err);
            }
            cm_buf_fini(&t);
            return rc;
        }
        break;
    case SQL_SV_STR:
        break;
    }
    if (v->type == SQL_V_DOUBLE && d->type != SQL_SV_STR) {
        return cm_err_set(err, CM_E_WRONG_TYPE_FOR_VAR, "Incorrect argument type to variable '%s'",
                          d->name);
    }
    char buf[64];
    const char *p;
    size_t n;
    if (to_text(v, buf, sizeof(buf), &p, &n) != 0) {
        return cm_err_set(err, CM_E_WRONG_TYPE_FOR_VAR, "Incorrect argument type to variable '%s'",
                          d->name);
    }
    return sql_sysvar_parse_text(d, p, n, out, err);
}

/* Checks and normalizes charset, collation and time zone names. */
static int validate(sql_sess *s, int sid, sql_sv_val *nv, cm_err *err)
{
    (void)s;
    if (nv->is_null || nv->s == NULL) {
        return 0;
    }
    const char *norm = NULL;
    switch (sid) {
    case SQL_SV_CHARACTER_SET_CLIENT:
    case SQL_SV_CHARACTER_SET_CONNECTION:
    case SQL_SV_CHARACTER_SET_DATABASE:
    case SQL_SV_CHARACTER_SET_RESULTS:
    case SQL_SV_CHARACTER_SET_SERVER:
    case SQL_SV_CHARACTER_SET_FILESYSTEM: {
        const sql_collation *c = sql_charset_default(nv->s, strlen(nv->s));
        if (c == NULL) {
            return cm_err_set(err, CM_E_UNKNOWN_CHARSET, "Unknown character set: '%.64s'", nv->s);
        }
        norm = c->charset;
        break;
    }
    case SQL_SV_COLLATION_CONNECTION:
    case SQL_SV_COLLATION_DATABASE:
    case SQL_SV_COLLATION_SERVER: {
        const sql_collation *c = sql_collation_by_name(nv->s, strlen(nv->s));
        if (c == NULL) {
            return cm_err_set(err, CM_E_UNKNOWN_COLLATION, "Unknown collation: '%.64s'", nv->s);
        }
        norm = c->name;
        break;
    }
    case SQL_SV_TIME_ZONE: {
        int sys;
        int64_t off;
        if (parse_tz(nv->s, &sys, &off) != 0) {
            return cm_err_set(err, CM_E_UNKNOWN_TIME_ZONE,
                              "Unknown or incorrect time zone: '%.64s'", nv->s);
        }
        return 0;
    }
    default:
        return 0;
    }
    char *d = strdup(norm);
    if (d == NULL) {
        return cm_err_set(err, CM_E_NOMEM, "out of memory");
    }
    free(nv->s);
    nv->s = d;
    return 0;
}

/* Sets a session string variable directly (charset/collation pairs follow each other). */
static void set_session_str(sql_sess *s, int sid, const char *v)
{
    char *d = strdup(v);
    if (d == NULL) {
        return;
    }
    free(s->sv[sid].s);
    s->sv[sid].s = d;
    s->sv[sid].is_null = 0;
}

static void after_session_set(sql_sess *s, int sid)
{
    const char *v = s->sv[sid].s;
    const sql_collation *c;
    switch (sid) {
    case SQL_SV_AUTOCOMMIT:
        if (s->sv[sid].i) {
            /* SET autocommit=1 commits the open transaction (before the OK: sql_set_run). */
            s->txn_commit_pending = s->txn != NULL;
            s->in_trans = 0;
            s->trans_ro = 0;
        }
        break;
    case SQL_SV_CHARACTER_SET_CONNECTION:
        if (v && (c = sql_charset_default(v, strlen(v))) != NULL) {
            set_session_str(s, SQL_SV_COLLATION_CONNECTION, c->name);
        }
        break;
    case SQL_SV_COLLATION_CONNECTION:
        if (v && (c = sql_collation_by_name(v, strlen(v))) != NULL) {
            set_session_str(s, SQL_SV_CHARACTER_SET_CONNECTION, c->charset);
        }
        break;
    case SQL_SV_CHARACTER_SET_DATABASE:
        if (v && (c = sql_charset_default(v, strlen(v))) != NULL) {
            set_session_str(s, SQL_SV_COLLATION_DATABASE, c->name);
        }
        break;
    case SQL_SV_COLLATION_DATABASE:
        if (v && (c = sql_collation_by_name(v, strlen(v))) != NULL) {
            set_session_str(s, SQL_SV_CHARACTER_SET_DATABASE, c->charset);
        }
        break;
    case SQL_SV_CHARACTER_SET_SERVER:
        if (v && (c = sql_charset_default(v, strlen(v))) != NULL) {
            set_session_str(s, SQL_SV_COLLATION_SERVER, c->name);
        }
        break;
    case SQL_SV_COLLATION_SERVER:
        if (v && (c = sql_collation_by_name(v, strlen(v))) != NULL) {
            set_session_str(s, SQL_SV_CHARACTER_SET_SERVER, c->charset);
        }
        break;
    default:
        break;
    }
    refresh_caches(s);
}

int sql_sess_sysvar_set(sql_sess *s, int id, int global, const sql_value *v, cm_err *err)
{
    const sql_sysvar_def *d = sql_sysvar_def_of(id);
    int sid = sql_sysvar_storage(id);
    if (d->flags & SQL_SV_RO) {
        return cm_err_set(err, CM_E_VAR_SCOPE, "Variable '%s' is a read only variable", d->name);
    }
    if (global && sql_priv_check_set_global(s, err) != 0) {
        return CM_E_SPECIFIC_ACCESS_DENIED;
    }
    if (global && !(d->flags & SQL_SV_GLOBAL)) {
        return cm_err_set(err, CM_E_LOCAL_VAR,
                          "Variable '%s' is a SESSION variable and can't be used with SET GLOBAL",
                          d->name);
    }
    if (!global && !(d->flags & SQL_SV_SESSION)) {
        return cm_err_set(err, CM_E_GLOBAL_VAR,
                          "Variable '%s' is a GLOBAL variable and should be set with SET GLOBAL",
                          d->name);
    }
    if (!global && (d->flags & SQL_SV_SESSION_RO)) {
        return cm_err_set(err, CM_E_VAR_SCOPE,
                          "SESSION variable '%s' is read-only. Use SET GLOBAL to assign the value",
                          d->name);
    }
    sql_sv_val nv;
    int rc;
    if (v == NULL) { /* DEFAULT */
        if (global || (d->flags & SQL_SV_COMPUTED)) {
            rc = sql_sysvar_parse_text(d, d->def, strlen(d->def), &nv, err);
        } else {
            sql_sysvars *g = s->env->globals;
            memset(&nv, 0, sizeof(nv));
            pthread_mutex_lock(&g->mu);
            rc = sql_sv_val_copy(&nv, &g->v[sid]);
            pthread_mutex_unlock(&g->mu);
            if (rc != 0) {
                rc = cm_err_set(err, CM_E_NOMEM, "out of memory");
            }
        }
    } else {
        rc = convert(s, sql_sysvar_def_of(sid), v, &nv, err);
    }
    if (rc == 0) {
        rc = validate(s, sid, &nv, err);
    }
    if (rc != 0) {
        sql_sv_val_free(&nv);
        return rc;
    }
    if (d->flags & SQL_SV_COMPUTED) {
        if (sid == SQL_SV_LAST_INSERT_ID) {
            s->last_insert_id = (uint64_t)nv.i;
        } else if (sid == SQL_SV_TIMESTAMP) {
            s->timestamp_fixed = nv.d;
        }
        sql_sv_val_free(&nv);
        return 0;
    }
    if (global) {
        sql_sysvars *g = s->env->globals;
        pthread_mutex_lock(&g->mu);
        sql_sysvars_store(g, sid, &nv);
        pthread_mutex_unlock(&g->mu);
        return 0;
    }
    sql_sv_val_free(&s->sv[sid]);
    s->sv[sid] = nv;
    after_session_set(s, sid);
    return 0;
}

/* ---- user variables ---- */

const sql_uvar *sql_uvar_get(sql_sess *s, const char *name, size_t n)
{
    for (uint32_t i = 0; i < s->nuvars; i++) {
        if (strlen(s->uvars[i].name) == n && strncasecmp(s->uvars[i].name, name, n) == 0) {
            return &s->uvars[i];
        }
    }
    return NULL;
}

int sql_uvar_set(sql_sess *s, const char *name, size_t n, const sql_value *v, cm_err *err)
{
    sql_uvar *u = (sql_uvar *)sql_uvar_get(s, name, n);
    if (u == NULL) {
        if (s->nuvars >= SQL_USERVARS_MAX) {
            return cm_err_set(err, CM_E_UNSUPPORTED, "too many user variables in one session (%d)",
                              SQL_USERVARS_MAX);
        }
        if (n > 64) {
            return cm_err_set(err, CM_E_WRONG_ARGUMENTS, "User variable name '%.64s' is illegal",
                              name);
        }
        if (s->nuvars == s->cap_uvars) {
            uint32_t cap = s->cap_uvars ? s->cap_uvars * 2 : 4;
            sql_uvar *a = realloc(s->uvars, cap * sizeof(*a));
            if (a == NULL) {
                return cm_err_set(err, CM_E_NOMEM, "out of memory");
            }
            s->uvars = a;
            s->cap_uvars = cap;
        }
        u = &s->uvars[s->nuvars];
        memset(u, 0, sizeof(*u));
        u->name = strndup(name, n);
        if (u->name == NULL) {
            return cm_err_set(err, CM_E_NOMEM, "out of memory");
        }
        for (char *p = u->name; *p; p++) {
            *p = (char)tolower((unsigned char)*p);
        }
        s->nuvars++;
    }
    char *copy = NULL;
    if (v->type == SQL_V_TEXT || v->type == SQL_V_BLOB) {
        copy = malloc(v->n + 1);
        if (copy == NULL) {
            return cm_err_set(err, CM_E_NOMEM, "out of memory");
        }
        if (v->n > 0) {
            memcpy(copy, v->s, v->n);
        }
        copy[v->n] = '\0';
    }
    free(u->s);
    u->s = copy;
    u->n = v->n;
    u->type = v->type == SQL_V_UINT ? SQL_V_DOUBLE : v->type;
    u->i = v->i;
    u->d = v->type == SQL_V_UINT ? (double)v->u : v->d;
    return 0;
}

void sql_uvars_clear(sql_sess *s)
{
    for (uint32_t i = 0; i < s->nuvars; i++) {
        free(s->uvars[i].name);
        free(s->uvars[i].s);
    }
    s->nuvars = 0;
}

/* ---- the SET statement ---- */

static int syntax_near(const char *src, const sql_token *t, uint32_t n, uint32_t i, cm_err *err)
{
    const char *p = i < n ? src + t[i].off : "";
    int len = i < n ? (int)(t[i].len > 60 ? 60 : t[i].len) : 0;
    return cm_err_set(err, CM_E_PARSE,
                      "You have an error in your SQL syntax; check the manual that corresponds to "
                      "your MySQL server version for the right syntax to use near '%.*s' at line 1",
                      len, p);
}

/* Evaluates the right-hand side t[0, n). *is_default when it is DEFAULT. Bare words are taken
 * as strings (SET sql_mode = TRADITIONAL) when words_are_text. */
static int rhs_value(sql_sess *s, const char *src, const sql_token *t, uint32_t n,
                     int words_are_text, sql_value *out, int *is_default, cm_err *err)
{
    *is_default = 0;
    if (n == 0) {
        return syntax_near(src, t, n, 0, err);
    }
    if (n == 1) {
        const sql_token *x = &t[0];
        if (sql_tok_is(src, x, "DEFAULT")) {
            *is_default = 1;
            return 0;
        }
        if (sql_tok_is(src, x, "NULL")) {
            *out = sql_value_null();
            return 0;
        }
        if (words_are_text && (x->type == SQL_TK_IDENT || x->type == SQL_TK_QIDENT) &&
            !sql_tok_is(src, x, "TRUE") && !sql_tok_is(src, x, "FALSE")) {
            cm_buf_reset(&s->scratch);
            if (sql_tok_name(src, x, &s->scratch) != 0 || cm_buf_terminate(&s->scratch) != 0) {
                return cm_err_set(err, CM_E_NOMEM, "out of memory");
            }
            *out = sql_value_text((const char *)s->scratch.ptr, s->scratch.len);
            return 0;
        }
        if (x->type == SQL_TK_STRING) {
            cm_buf_reset(&s->scratch);
            if (sql_tok_string(src, x, s->mode, &s->scratch) != 0 ||
                cm_buf_terminate(&s->scratch) != 0) {
                return cm_err_set(err, CM_E_NOMEM, "out of memory");
            }
            *out = sql_value_text((const char *)s->scratch.ptr, s->scratch.len);
            return 0;
        }
    }
    return sql_exec_eval(s, src, t, n, out, err);
}

/* Sets a system variable by name from tokens; global per the statement's scope. */
static int assign_sysvar(sql_sess *s, const char *src, const sql_token *t, uint32_t n, int id,
                         int global, cm_err *err)
{
    sql_value v;
    int is_default;
    int rc = rhs_value(s, src, t, n, 1, &v, &is_default, err);
    if (rc != 0) {
        return rc;
    }
    /* v may point into s->scratch; sysvar_set does not use it. */
    return sql_sess_sysvar_set(s, id, global, is_default ? NULL : &v, err);
}

static int set_names(sql_sess *s, const char *src, const sql_token *t, uint32_t n, int charset_only,
                     cm_err *err)
{
    uint32_t i = 0;
    if (i >= n) {
        return syntax_near(src, t, n, i, err);
    }
    cm_buf cs = CM_BUF_INIT, coll = CM_BUF_INIT;
    int rc = 0;
    if (sql_tok_is(src, &t[i], "DEFAULT")) {
        rc = cm_buf_printf(&cs, "utf8mb4");
    } else if (t[i].type == SQL_TK_STRING) {
        rc = sql_tok_string(src, &t[i], s->mode, &cs);
    } else if (t[i].type == SQL_TK_IDENT || t[i].type == SQL_TK_QIDENT) {
        rc = sql_tok_name(src, &t[i], &cs);
    } else {
        return syntax_near(src, t, n, i, err);
    }
    i++;
    if (rc == 0 && !charset_only && i < n && sql_tok_is(src, &t[i], "COLLATE")) {
        if (i + 1 >= n) {
            cm_buf_fini(&cs);
            return syntax_near(src, t, n, i + 1, err);
        }
        rc = t[i + 1].type == SQL_TK_STRING ? sql_tok_string(src, &t[i + 1], s->mode, &coll)
                                            : sql_tok_name(src, &t[i + 1], &coll);
        i += 2;
    }
    if (rc == 0 && i != n) {
        cm_buf_fini(&cs);
        cm_buf_fini(&coll);
        return syntax_near(src, t, n, i, err);
    }
    if (rc == 0) {
        rc = cm_buf_terminate(&cs);
    }
    if (rc != 0) {
        cm_buf_fini(&cs);
        cm_buf_fini(&coll);
        return cm_err_set(err, CM_E_NOMEM, "out of memory");
    }
    const char *csn = (const char *)cs.ptr;
    const sql_collation *c = sql_charset_default(csn, cs.len);
    if (c == NULL) {
        rc = cm_err_set(err, CM_E_UNKNOWN_CHARSET, "Unknown character set: '%.64s'", csn);
    } else if (coll.len > 0) {
        const sql_collation *cc = sql_collation_by_name((const char *)coll.ptr, coll.len);
        if (cc == NULL || strcmp(cc->charset, c->charset) != 0) {
            rc = cm_err_set(
                err, CM_E_UNKNOWN_COLLATION, "COLLATION '%.*s' is not valid for CHARACTER SET '%s'",
                (int)(coll.len > 64 ? 64 : coll.len), (const char *)coll.ptr, c->charset);
        } else {
            c = cc;
        }
    }
    if (rc == 0) {
        sql_value v = sql_value_text(c->charset, strlen(c->charset));
        rc = sql_sess_sysvar_set(s, SQL_SV_CHARACTER_SET_CLIENT, 0, &v, err);
        if (rc == 0) {
            rc = sql_sess_sysvar_set(s, SQL_SV_CHARACTER_SET_RESULTS, 0, &v, err);
        }
        if (rc == 0 && !charset_only) {
            v = sql_value_text(c->name, strlen(c->name));
            rc = sql_sess_sysvar_set(s, SQL_SV_COLLATION_CONNECTION, 0, &v, err);
        } else if (rc == 0) {
            /* SET CHARACTER SET: the connection charset follows the database's. */
            const char *db = s->sv[SQL_SV_COLLATION_DATABASE].s;
            v = sql_value_text(db ? db : "utf8mb4_bin", strlen(db ? db : "utf8mb4_bin"));
            rc = sql_sess_sysvar_set(s, SQL_SV_COLLATION_CONNECTION, 0, &v, err);
        }
    }
    cm_buf_fini(&cs);
    cm_buf_fini(&coll);
    return rc;
}

static int set_transaction(sql_sess *s, const char *src, const sql_token *t, uint32_t n, int global,
                           cm_err *err)
{
    /* Characteristics: ISOLATION LEVEL …, READ WRITE, READ ONLY, comma-separated. Without a
     * scope MySQL applies them to the next transaction only; here they set the session value
     * (there is no transaction to scope them to before the SQL layer). */
    uint32_t i = 0;
    while (i < n) {
        if (sql_tok_is(src, &t[i], "ISOLATION") && i + 1 < n &&
            sql_tok_is(src, &t[i + 1], "LEVEL")) {
            i += 2;
            const char *lvl = NULL;
            if (i + 1 < n && sql_tok_is(src, &t[i], "READ") &&
                sql_tok_is(src, &t[i + 1], "UNCOMMITTED")) {
                lvl = "READ-UNCOMMITTED";
            } else if (i + 1 < n && sql_tok_is(src, &t[i], "READ") &&
                       sql_tok_is(src, &t[i + 1], "COMMITTED")) {
                lvl = "READ-COMMITTED";
            } else if (i + 1 < n && sql_tok_is(src, &t[i], "REPEATABLE") &&
                       sql_tok_is(src, &t[i + 1], "READ")) {
                lvl = "REPEATABLE-READ";
            } else if (i < n && sql_tok_is(src, &t[i], "SERIALIZABLE")) {
                lvl = "SERIALIZABLE";
            }
            if (lvl == NULL) {
                return syntax_near(src, t, n, i, err);
            }
            i += strcmp(lvl, "SERIALIZABLE") == 0 ? 1 : 2;
            sql_value v = sql_value_text(lvl, strlen(lvl));
            int rc = sql_sess_sysvar_set(s, SQL_SV_TRANSACTION_ISOLATION, global, &v, err);
            if (rc != 0) {
                return rc;
            }
        } else if (sql_tok_is(src, &t[i], "READ") && i + 1 < n &&
                   (sql_tok_is(src, &t[i + 1], "WRITE") || sql_tok_is(src, &t[i + 1], "ONLY"))) {
            sql_value v = sql_value_int(sql_tok_is(src, &t[i + 1], "ONLY"));
            int rc = sql_sess_sysvar_set(s, SQL_SV_TRANSACTION_READ_ONLY, global, &v, err);
            if (rc != 0) {
                return rc;
            }
            i += 2;
        } else {
            return syntax_near(src, t, n, i, err);
        }
        if (i < n) {
            if (t[i].type != SQL_TK_COMMA) {
                return syntax_near(src, t, n, i, err);
            }
            i++;
        }
    }
    return 0;
}

/* One assignment t[0, n); *global carries the statement's current scope. */
static int set_one(sql_sess *s, const char *src, const sql_token *t, uint32_t n, int *global,
                   cm_err *err)
{
    uint32_t i = 0;
    if (i < n && (sql_tok_is(src, &t[i], "GLOBAL") || sql_tok_is(src, &t[i], "PERSIST"))) {
        *global = 1;
        i++;
    } else if (i < n && (sql_tok_is(src, &t[i], "SESSION") || sql_tok_is(src, &t[i], "LOCAL"))) {
        *global = 0;
        i++;
    } else if (i < n && sql_tok_is(src, &t[i], "PERSIST_ONLY")) {
        return cm_err_set(err, CM_E_UNSUPPORTED,
                          "This version of Tessera doesn't yet support "
                          "'SET PERSIST_ONLY'");
    }
    if (i >= n) {
        return syntax_near(src, t, n, i, err);
    }
    if (sql_tok_is(src, &t[i], "NAMES")) {
        return set_names(s, src, t + i + 1, n - i - 1, 0, err);
    }
    if ((sql_tok_is(src, &t[i], "CHARACTER") && i + 1 < n && sql_tok_is(src, &t[i + 1], "SET"))) {
        return set_names(s, src, t + i + 2, n - i - 2, 1, err);
    }
    if (sql_tok_is(src, &t[i], "CHARSET")) {
        return set_names(s, src, t + i + 1, n - i - 1, 1, err);
    }
    if (sql_tok_is(src, &t[i], "PASSWORD") || sql_tok_is(src, &t[i], "ROLE") ||
        (sql_tok_is(src, &t[i], "DEFAULT") && i + 1 < n && sql_tok_is(src, &t[i + 1], "ROLE"))) {
        return cm_err_set(err, CM_E_UNSUPPORTED,
                          "This version of Tessera doesn't yet support 'SET %.*s' (users are "
                          "configured in the sqlnode's configuration for now)",
                          (int)t[i].len, src + t[i].off);
    }
    /* name = value */
    uint32_t eq = i + 1;
    if (eq >= n || t[eq].type != SQL_TK_OP ||
        !((t[eq].len == 1 && src[t[eq].off] == '=') ||
          (t[eq].len == 2 && memcmp(src + t[eq].off, ":=", 2) == 0))) {
        return syntax_near(src, t, n, eq < n ? eq : i, err);
    }
    const sql_token *lhs = &t[i];
    const sql_token *rhs = &t[eq + 1];
    uint32_t nr = n - eq - 1;
    if (lhs->type == SQL_TK_USERVAR) {
        sql_value v;
        int is_default;
        int rc = rhs_value(s, src, rhs, nr, 0, &v, &is_default, err);
        if (rc != 0) {
            return rc;
        }
        if (is_default) {
            return syntax_near(src, t, n, eq + 1, err);
        }
        cm_buf name = CM_BUF_INIT;
        rc = sql_tok_name(src, lhs, &name);
        if (rc == 0) {
            rc = sql_uvar_set(s, name.ptr ? (const char *)name.ptr : "", name.len, &v, err);
        }
        cm_buf_fini(&name);
        return rc;
    }
    int g = *global;
    if (lhs->type == SQL_TK_SYSVAR) {
        if (lhs->flags & SQL_TKF_GLOBAL) {
            g = 1;
        } else if (lhs->flags & SQL_TKF_SESSION) {
            g = 0;
        }
    } else if (lhs->type != SQL_TK_IDENT && lhs->type != SQL_TK_QIDENT) {
        return syntax_near(src, t, n, i, err);
    }
    cm_buf name = CM_BUF_INIT;
    if (sql_tok_name(src, lhs, &name) != 0) {
        cm_buf_fini(&name);
        return cm_err_set(err, CM_E_NOMEM, "out of memory");
    }
    int id = sql_sysvar_find(name.ptr ? (const char *)name.ptr : "", name.len);
    int rc;
    if (id < 0) {
        rc = cm_err_set(err, CM_E_UNKNOWN_SYSVAR, "Unknown system variable '%.*s'",
                        (int)(name.len > 64 ? 64 : name.len), (const char *)name.ptr);
    } else {
        rc = assign_sysvar(s, src, rhs, nr, id, g, err);
    }
    cm_buf_fini(&name);
    return rc;
}

int sql_set_run(sql_sess *s, const char *src, const sql_token *t, uint32_t n, sql_sink *sink,
                int more, cm_err *err)
{
    /* SET [GLOBAL|SESSION] TRANSACTION … is a statement of its own. */
    uint32_t k = 1;
    int global = 0;
    if (k < n && (sql_tok_is(src, &t[k], "GLOBAL") || sql_tok_is(src, &t[k], "SESSION") ||
                  sql_tok_is(src, &t[k], "LOCAL"))) {
        global = sql_tok_is(src, &t[k], "GLOBAL");
        k++;
    }
    if (k < n && sql_tok_is(src, &t[k], "TRANSACTION")) {
        int rc = set_transaction(s, src, t + k + 1, n - k - 1, global, err);
        return rc ? rc : sql_sess_done(s, sink, 0, 0, more, NULL);
    }
    global = 0;
    uint32_t b = 1;
    int depth = 0;
    for (uint32_t i = 1; i <= n; i++) {
        if (i < n) {
            if (t[i].type == SQL_TK_LPAREN) {
                depth++;
            } else if (t[i].type == SQL_TK_RPAREN) {
                depth--;
            }
            if (!(t[i].type == SQL_TK_COMMA && depth == 0)) {
                continue;
            }
        }
        if (i == b) {
            return syntax_near(src, t, n, i, err);
        }
        int rc = set_one(s, src, t + b, i - b, &global, err);
        if (rc != 0) {
            return rc;
        }
        b = i + 1;
    }
    if (s->txn_commit_pending) {
        int rc = sql_txn_commit(s, err);
        if (rc != 0) {
            return rc;
        }
    }
    return sql_sess_done(s, sink, 0, 0, more, NULL);
}
