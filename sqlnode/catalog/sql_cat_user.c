/*
 * sql_cat_user.c — accounts and privileges in metadata keys (sql_cat_user.h, docs/sql-layer.md
 * "Users and privileges"): the record encoding, host patterns, the snapshot and its login order,
 * bootstrap, reload on a moved privilege version, and change transactions.
 */
#include "sql_cat_user.h"

#include "cm_keys.h"
#include "cm_log.h"
#include "sql_cat_int.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define LOG_COMP "catalog"

#define KEY_PRIV_VERSION "PrivVersion" /* string: uint64 LE */
#define KEY_USERS        "Users"       /* hash: user NUL host -> account record */

struct sql_users {
    int refs; /* atomic */
    uint64_t version;
    cm_arena arena;
    uint32_t n;
    sql_user *v; /* login order */
};

/* ---- keys ------------------------------------------------------------------------------------ */

static cm_slice cstr(const char *s)
{
    return cm_slice_make(s, strlen(s));
}

static int key_version(cm_buf *k)
{
    return cm_keys_append_meta_string(k, cstr(KEY_PRIV_VERSION));
}

static int key_user(cm_buf *k, const char *user, const char *host)
{
    cm_buf f = CM_BUF_INIT;
    int rc =
        cm_buf_append(&f, user, strlen(user) + 1) != 0 || cm_buf_append(&f, host, strlen(host)) != 0
            ? CM_E_NOMEM
            : cm_keys_append_meta_hash_field(k, cstr(KEY_USERS), cm_buf_slice(&f));
    cm_buf_fini(&f);
    return rc;
}

static int key_users_range(cm_buf *start, cm_buf *end)
{
    int rc = cm_keys_append_meta_prefix(start, cstr(KEY_USERS), CM_META_HASH);
    return rc != 0 ? rc : cm_keys_prefix_next(cm_buf_slice(start), end);
}

/* ---- record encoding ------------------------------------------------------------------------- */

static int put_uv(cm_buf *b, uint64_t v)
{
    while (v >= 0x80) {
        if (cm_buf_append_u8(b, (uint8_t)(v | 0x80)) != 0) {
            return CM_E_NOMEM;
        }
        v >>= 7;
    }
    return cm_buf_append_u8(b, (uint8_t)v);
}

static int put_str(cm_buf *b, const char *s)
{
    if (s == NULL) {
        return put_uv(b, 0);
    }
    size_t n = strlen(s);
    return put_uv(b, n + 1) != 0 || cm_buf_append(b, s, n) != 0 ? CM_E_NOMEM : 0;
}

int sql_user_encode(const sql_user *a, cm_buf *out)
{
    int rc = cm_buf_append_u8(out, SQL_USER_FORMAT);
    rc = rc ? rc : put_str(out, a->user);
    rc = rc ? rc : put_str(out, a->host);
    rc = rc ? rc : cm_buf_append_u8(out, a->plugin);
    rc = rc ? rc : cm_buf_append_u8(out, a->auth_len);
    rc = rc ? rc : cm_buf_append(out, a->auth, a->auth_len);
    rc = rc ? rc : put_uv(out, a->global);
    rc = rc ? rc : put_uv(out, a->ngrants);
    for (uint32_t i = 0; rc == 0 && i < a->ngrants; i++) {
        rc = put_str(out, a->grants[i].db);
        rc = rc ? rc : put_str(out, a->grants[i].table);
        rc = rc ? rc : put_uv(out, a->grants[i].privs);
    }
    return rc ? CM_E_NOMEM : 0;
}

typedef struct rd {
    cm_reader r;
    cm_arena *a;
    const char *bad; /* first problem, or NULL */
} rd;

static uint64_t get_uv(rd *r, uint64_t max, const char *what)
{
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        uint8_t b;
        if (cm_reader_u8(&r->r, &b) != 0) {
            break;
        }
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80) && b == 0 && shift > 0) {
            break; /* an overlong encoding: refused, so every record has one form */
        }
        if (!(b & 0x80)) {
            if (v > max && r->bad == NULL) {
                r->bad = what;
            }
            return v > max ? 0 : v;
        }
    }
    if (r->bad == NULL) {
        r->bad = what;
    }
    return 0;
}

static char *get_str(rd *r, size_t max, bool nullable, const char *what)
{
    uint64_t n = get_uv(r, max + 1, what);
    if (r->bad != NULL) {
        return NULL;
    }
    if (n == 0) {
        if (!nullable) {
            r->bad = what;
        }
        return NULL;
    }
    cm_slice s;
    if (cm_reader_bytes(&r->r, (size_t)(n - 1), &s) != 0 || memchr(s.ptr, '\0', s.len) != NULL) {
        r->bad = what;
        return NULL;
    }
    char *out = cm_arena_strndup(r->a, (const char *)s.ptr, s.len);
    if (out == NULL) {
        r->bad = "memory";
    }
    return out;
}

int sql_user_decode(cm_slice in, cm_arena *arena, sql_user *out, cm_err *err)
{
    memset(out, 0, sizeof(*out));
    rd r = {.a = arena, .bad = NULL};
    cm_reader_init(&r.r, in.ptr, in.len);
    uint8_t fmt = 0, len = 0;
    if (cm_reader_u8(&r.r, &fmt) != 0 || fmt != SQL_USER_FORMAT) {
        return cm_err_set(err, CM_E_CORRUPT, "account record: unknown format %u", fmt);
    }
    out->user = get_str(&r, 4 * SQL_USER_NAME_MAX, false, "user");
    out->host = get_str(&r, SQL_USER_HOST_MAX, false, "host");
    if (r.bad == NULL && (cm_reader_u8(&r.r, &out->plugin) != 0 || out->plugin > 1 ||
                          cm_reader_u8(&r.r, &len) != 0 ||
                          (len != 0 && len != (out->plugin == SQL_USER_PLUGIN_NATIVE ? 20 : 52)))) {
        r.bad = "plugin or hash";
    }
    cm_slice h;
    if (r.bad == NULL && cm_reader_bytes(&r.r, len, &h) != 0) {
        r.bad = "hash";
    } else if (r.bad == NULL) {
        if (len > 0) {
            memcpy(out->auth, h.ptr, len);
        }
        out->auth_len = len;
    }
    out->global = (uint32_t)get_uv(&r, (1u << SQL_PRIV_COUNT) - 1, "global privileges");
    out->ngrants = (uint32_t)get_uv(&r, SQL_USER_GRANTS_MAX, "grant count");
    if (r.bad == NULL && out->ngrants > 0) {
        out->grants = cm_arena_alloc(arena, sizeof(sql_user_grant) * out->ngrants);
        if (out->grants == NULL) {
            return cm_err_set(err, CM_E_NOMEM, "out of memory");
        }
    }
    for (uint32_t i = 0; r.bad == NULL && i < out->ngrants; i++) {
        out->grants[i].db = get_str(&r, 256, false, "grant database");
        out->grants[i].table = get_str(&r, 256, true, "grant table");
        out->grants[i].privs = (uint32_t)get_uv(&r, (1u << SQL_PRIV_COUNT) - 1, "grant");
    }
    if (r.bad == NULL && cm_reader_left(&r.r) != 0) {
        r.bad = "trailing bytes";
    }
    if (r.bad != NULL) {
        out->ngrants = 0;
        return cm_err_set(err, CM_E_CORRUPT, "account record: bad %s", r.bad);
    }
    return 0;
}

/* ---- host patterns and lookups --------------------------------------------------------------- */

static bool wild_match(const char *p, const char *s)
{
    /* Iterative % matching with one backtrack point: linear in practice, bounded by |p|*|s|. */
    const char *star = NULL, *ss = NULL;
    while (*s) {
        if (*p == '%') {
            star = p++;
            ss = s;
        } else if (*p == '_' ||
                   (*p != '\0' && tolower((unsigned char)*p) == tolower((unsigned char)*s))) {
            p++;
            s++;
        } else if (star != NULL) {
            p = star + 1;
            s = ++ss;
        } else {
            return false;
        }
    }
    while (*p == '%') {
        p++;
    }
    return *p == '\0';
}

/* 'net/mask' (10.0.0.0/255.0.0.0) or 'net/bits' (10.0.0.0/8): IPv4 only. */
static bool netmask_match(const char *p, const char *name)
{
    const char *slash = strchr(p, '/');
    char net[32], mask[32];
    size_t nl = (size_t)(slash - p);
    if (nl >= sizeof(net) || strlen(slash + 1) >= sizeof(mask)) {
        return false;
    }
    memcpy(net, p, nl);
    net[nl] = '\0';
    snprintf(mask, sizeof(mask), "%s", slash + 1);
    struct in_addr n, m, a;
    if (inet_pton(AF_INET, net, &n) != 1 || inet_pton(AF_INET, name, &a) != 1) {
        return false;
    }
    if (strchr(mask, '.') != NULL) {
        if (inet_pton(AF_INET, mask, &m) != 1) {
            return false;
        }
    } else {
        char *end = NULL;
        long bits = strtol(mask, &end, 10);
        if (end == mask || *end != '\0' || bits < 0 || bits > 32) {
            return false;
        }
        m.s_addr = htonl(bits == 0 ? 0 : 0xffffffffu << (32 - bits));
    }
    return (a.s_addr & m.s_addr) == (n.s_addr & m.s_addr);
}

bool sql_user_host_match(const char *p, const char *name)
{
    if (p[0] == '\0') {
        return true; /* MySQL: an empty host is '%' */
    }
    if (strchr(p, '/') != NULL) {
        return netmask_match(p, name);
    }
    if (wild_match(p, name)) {
        return true;
    }
    return strcasecmp(p, "localhost") == 0 &&
           (strcmp(name, "127.0.0.1") == 0 || strcmp(name, "::1") == 0);
}

/* Sort rank of a host pattern: no wildcard first, then by the literal prefix's length. */
static int host_rank(const char *h)
{
    size_t lit = strcspn(h, "%_");
    if (h[lit] == '\0' && h[0] != '\0') {
        return 1 << 20;
    }
    return (int)lit;
}

static int login_order(const void *pa, const void *pb)
{
    const sql_user *a = pa, *b = pb;
    int ra = host_rank(a->host), rb = host_rank(b->host);
    if (ra != rb) {
        return ra > rb ? -1 : 1;
    }
    int ea = a->user[0] == '\0', eb = b->user[0] == '\0';
    if (ea != eb) {
        return ea - eb;
    }
    int c = strcasecmp(a->host, b->host);
    return c != 0 ? c : strcmp(a->user, b->user);
}

uint64_t sql_users_version(const sql_users *u)
{
    return u->version;
}

uint32_t sql_users_count(const sql_users *u)
{
    return u->n;
}

const sql_user *sql_users_at(const sql_users *u, uint32_t i)
{
    return i < u->n ? &u->v[i] : NULL;
}

const sql_user *sql_users_match(const sql_users *u, const char *user, const char *ip)
{
    for (uint32_t i = 0; i < u->n; i++) {
        const sql_user *a = &u->v[i];
        if ((a->user[0] == '\0' || strcmp(a->user, user) == 0) &&
            sql_user_host_match(a->host, ip)) {
            return a;
        }
    }
    return NULL;
}

const sql_user *sql_users_find(const sql_users *u, const char *user, const char *host)
{
    for (uint32_t i = 0; i < u->n; i++) {
        if (strcmp(u->v[i].user, user) == 0 && strcasecmp(u->v[i].host, host) == 0) {
            return &u->v[i];
        }
    }
    return NULL;
}

void sql_users_release(sql_users *u)
{
    if (u == NULL || __atomic_sub_fetch(&u->refs, 1, __ATOMIC_ACQ_REL) != 0) {
        return;
    }
    cm_arena_fini(&u->arena);
    free(u->v);
    free(u);
}

const sql_user_grant *sql_user_grant_at(const sql_user *a, const char *db, const char *table)
{
    for (uint32_t i = 0; i < a->ngrants; i++) {
        const sql_user_grant *g = &a->grants[i];
        if (strcasecmp(g->db, db) != 0) {
            continue;
        }
        if (table == NULL ? g->table == NULL
                          : (g->table != NULL && strcasecmp(g->table, table) == 0)) {
            return g;
        }
    }
    return NULL;
}

uint32_t sql_user_privs(const sql_user *a, const char *db, const char *table)
{
    uint32_t p = a->global;
    if (db != NULL) {
        const sql_user_grant *g = sql_user_grant_for(a, db, NULL);
        p |= g ? g->privs : 0;
        if (table != NULL) {
            g = sql_user_grant_at(a, db, table);
            p |= g ? g->privs : 0;
        }
    }
    return p;
}

/* MySQL's database patterns in database-level grants: % and _ are wildcards, a backslash makes
 * the next character literal; ASCII case-insensitive (database names are, in Tessera). */
static bool db_match(const char *p, const char *s)
{
    /* one backtrack point per %, as wild_match: O(|p| * |s|) */
    const char *star = NULL, *ss = NULL;
    while (*s) {
        if (*p == '%') {
            star = p++;
            ss = s;
            continue;
        }
        const char *q = p;
        bool any = *q == '_';
        if (*q == '\\' && q[1] != '\0') {
            q++;
        }
        if (*q != '\0' && (any || tolower((unsigned char)*q) == tolower((unsigned char)*s))) {
            p = q + 1;
            s++;
        } else if (star != NULL) {
            p = star + 1;
            s = ++ss;
        } else {
            return false;
        }
    }
    while (*p == '%') {
        p++;
    }
    return *p == '\0';
}

bool sql_user_db_pattern_match(const char *pattern, const char *db)
{
    return db_match(pattern, db);
}

const sql_user_grant *sql_user_grant_for(const sql_user *a, const char *db, const char *table)
{
    if (table != NULL) {
        return sql_user_grant_at(a, db, table);
    }
    const sql_user_grant *g = sql_user_grant_at(a, db, NULL);
    for (uint32_t i = 0; g == NULL && i < a->ngrants; i++) {
        if (a->grants[i].table == NULL && strpbrk(a->grants[i].db, "%_") != NULL &&
            sql_user_db_pattern_match(a->grants[i].db, db)) {
            g = &a->grants[i];
        }
    }
    return g;
}

bool sql_user_any_in_db(const sql_user *a, const char *db)
{
    if ((a->global & ~SQL_PRIV_GRANT) != 0) {
        return true;
    }
    for (uint32_t i = 0; i < a->ngrants; i++) {
        const sql_user_grant *g = &a->grants[i];
        if (g->privs != 0 && (strcasecmp(g->db, db) == 0 ||
                              (g->table == NULL && sql_user_db_pattern_match(g->db, db)))) {
            return true;
        }
    }
    return false;
}

/* ---- loading --------------------------------------------------------------------------------- */

static int read_version(cm_txn *t, uint64_t *v, bool *found, cm_err *err)
{
    cm_buf k = CM_BUF_INIT, val = CM_BUF_INIT;
    *v = 0;
    *found = false;
    int rc = key_version(&k) != 0 ? cm_err_set(err, CM_E_NOMEM, "out of memory")
                                  : cm_txn_get(t, cm_buf_slice(&k), &val, err);
    if (rc == CM_E_NOT_FOUND) {
        rc = 0;
    } else if (rc == 0) {
        cm_reader r;
        cm_reader_init(&r, val.ptr, val.len);
        if (cm_reader_u64le(&r, v) != 0 || cm_reader_left(&r) != 0) {
            rc = cm_err_set(err, CM_E_CORRUPT, "privilege version of %zu bytes", val.len);
        } else {
            *found = true;
        }
    }
    cm_buf_fini(&k);
    cm_buf_fini(&val);
    return rc;
}

static int write_version(cm_txn *t, uint64_t v, cm_err *err)
{
    uint8_t b[8];
    for (int i = 0; i < 8; i++) {
        b[i] = (uint8_t)(v >> (8 * i));
    }
    cm_buf k = CM_BUF_INIT;
    int rc = key_version(&k) != 0 ? cm_err_set(err, CM_E_NOMEM, "out of memory")
                                  : cm_txn_set(t, cm_buf_slice(&k), cm_slice_make(b, 8), err);
    cm_buf_fini(&k);
    return rc;
}

/* Reads every account at t's snapshot into e (arena-allocated). */
static int load_edit(cm_txn *t, sql_users_edit *e, cm_err *err)
{
    cm_buf s = CM_BUF_INIT, end = CM_BUF_INIT;
    int rc = key_users_range(&s, &end);
    cm_txn_iter *it = NULL;
    if (rc != 0) {
        rc = cm_err_set(err, CM_E_NOMEM, "out of memory");
    } else {
        rc = cm_txn_scan(t, cm_buf_slice(&s), cm_buf_slice(&end), &it, err);
    }
    cm_slice k, v;
    while (rc == 0 && (rc = cm_txn_iter_next(it, &k, &v, err)) == 1) {
        rc = 0;
        if (e->n >= SQL_USERS_MAX) {
            rc = cm_err_set(err, CM_E_CORRUPT, "more than %d accounts", SQL_USERS_MAX);
            break;
        }
        sql_user *a = sql_users_edit_add(e, "", "");
        if (a == NULL) {
            rc = cm_err_set(err, CM_E_NOMEM, "out of memory");
            break;
        }
        rc = sql_user_decode(v, &e->arena, a, err);
    }
    cm_txn_iter_free(it);
    cm_buf_fini(&s);
    cm_buf_fini(&end);
    return rc;
}

void sql_users_edit_init(sql_users_edit *e)
{
    memset(e, 0, sizeof(*e));
    cm_arena_init(&e->arena, 16 * 1024);
}

void sql_users_edit_fini(sql_users_edit *e)
{
    cm_arena_fini(&e->arena);
    free(e->v);
    memset(e, 0, sizeof(*e));
}

sql_users *sql_users_build(sql_users_edit *e, uint64_t version)
{
    sql_users *u = calloc(1, sizeof(*u));
    if (u == NULL) {
        return NULL;
    }
    u->refs = 1;
    u->version = version;
    u->arena = e->arena;
    u->v = e->v;
    u->n = e->n;
    if (u->n > 1) {
        qsort(u->v, u->n, sizeof(*u->v), login_order);
    }
    memset(e, 0, sizeof(*e));
    cm_arena_init(&e->arena, 1024);
    return u;
}

static void install(sql_catalog *c, sql_users *u)
{
    pthread_mutex_lock(&c->mu);
    sql_users *old = NULL;
    if (c->users == NULL || u->version > c->users->version) {
        old = c->users;
        c->users = u;
    } else {
        old = u;
    }
    pthread_mutex_unlock(&c->mu);
    sql_users_release(old);
}

sql_users *sql_cat_users_acquire(sql_catalog *c)
{
    if (c == NULL) {
        return NULL;
    }
    pthread_mutex_lock(&c->mu);
    sql_users *u = c->users;
    if (u != NULL) {
        __atomic_add_fetch(&u->refs, 1, __ATOMIC_ACQ_REL);
    }
    pthread_mutex_unlock(&c->mu);
    return u;
}

static int reload(sql_catalog *c, bool force, cm_err *err)
{
    pthread_mutex_lock(&c->load_mu);
    cm_txn *t = NULL;
    int rc = cm_txn_begin(c->kc, &t, err);
    uint64_t v = 0;
    bool found = false;
    if (rc == 0) {
        rc = read_version(t, &v, &found, err);
    }
    pthread_mutex_lock(&c->mu);
    uint64_t cur = c->users ? c->users->version : 0;
    bool have = c->users != NULL;
    pthread_mutex_unlock(&c->mu);
    if (rc == 0 && found && (force || !have || v != cur)) {
        sql_users_edit e;
        sql_users_edit_init(&e);
        rc = load_edit(t, &e, err);
        sql_users *u = rc == 0 ? sql_users_build(&e, v) : NULL;
        if (rc == 0 && u == NULL) {
            rc = cm_err_set(err, CM_E_NOMEM, "out of memory");
        }
        if (u != NULL) {
            CM_INFO(LOG_COMP, "privilege version %llu loaded (%u accounts)", (unsigned long long)v,
                    u->n);
            install(c, u);
        }
        sql_users_edit_fini(&e);
    }
    cm_txn_free(t);
    pthread_mutex_unlock(&c->load_mu);
    return rc;
}

int sql_cat_users_reload(sql_catalog *c, cm_err *err)
{
    pthread_mutex_lock(&c->mu);
    bool open = c->users != NULL;
    pthread_mutex_unlock(&c->mu);
    return open ? reload(c, false, err) : 0;
}

void sql_cat_users_close(sql_catalog *c)
{
    sql_users_release(c->users);
    c->users = NULL;
}

/* ---- edits ----------------------------------------------------------------------------------- */

sql_user *sql_users_edit_find(sql_users_edit *e, const char *user, const char *host)
{
    for (uint32_t i = 0; i < e->n; i++) {
        if (strcmp(e->v[i].user, user) == 0 && strcasecmp(e->v[i].host, host) == 0) {
            return &e->v[i];
        }
    }
    return NULL;
}

static char *lower_dup(cm_arena *a, const char *s)
{
    char *d = cm_arena_strndup(a, s, strlen(s));
    for (char *p = d; p != NULL && *p; p++) {
        *p = (char)tolower((unsigned char)*p);
    }
    return d;
}

sql_user *sql_users_edit_add(sql_users_edit *e, const char *user, const char *host)
{
    if (e->n == e->cap) {
        uint32_t cap = e->cap ? e->cap * 2 : 16;
        sql_user *v = realloc(e->v, sizeof(*v) * cap);
        if (v == NULL) {
            return NULL;
        }
        e->v = v;
        e->cap = cap;
    }
    sql_user *a = &e->v[e->n];
    memset(a, 0, sizeof(*a));
    a->user = cm_arena_strndup(&e->arena, user, strlen(user));
    a->host = lower_dup(&e->arena, host);
    if (a->user == NULL || a->host == NULL) {
        return NULL;
    }
    e->n++;
    return a;
}

void sql_users_edit_remove(sql_users_edit *e, sql_user *a)
{
    size_t i = (size_t)(a - e->v);
    if (i < e->n) {
        memmove(&e->v[i], &e->v[i + 1], sizeof(*a) * (e->n - i - 1));
        e->n--;
    }
}

int sql_users_edit_rename(sql_users_edit *e, sql_user *a, const char *user, const char *host)
{
    char *u = cm_arena_strndup(&e->arena, user, strlen(user));
    char *h = lower_dup(&e->arena, host);
    if (u == NULL || h == NULL) {
        return CM_E_NOMEM;
    }
    a->user = u;
    a->host = h;
    return 0;
}

int sql_users_edit_grant(sql_users_edit *e, sql_user *a, const char *db, const char *table,
                         uint32_t add, uint32_t del)
{
    if (db == NULL) {
        a->global = (a->global | add) & ~del;
        return 0;
    }
    sql_user_grant *g = (sql_user_grant *)sql_user_grant_at(a, db, table);
    if (g == NULL) {
        if (add == 0) {
            return 0;
        }
        sql_user_grant *v = cm_arena_alloc(&e->arena, sizeof(*v) * (a->ngrants + 1));
        if (v == NULL) {
            return CM_E_NOMEM;
        }
        if (a->ngrants > 0) {
            memcpy(v, a->grants, sizeof(*v) * a->ngrants);
        }
        g = &v[a->ngrants];
        g->db = cm_arena_strndup(&e->arena, db, strlen(db));
        g->table = table ? cm_arena_strndup(&e->arena, table, strlen(table)) : NULL;
        g->privs = 0;
        if (g->db == NULL || (table != NULL && g->table == NULL)) {
            return CM_E_NOMEM;
        }
        a->grants = v;
        a->ngrants++;
    }
    g->privs = (g->privs | add) & ~del;
    if (g->privs == 0) {
        size_t i = (size_t)(g - a->grants);
        memmove(&a->grants[i], &a->grants[i + 1], sizeof(*g) * (a->ngrants - i - 1));
        a->ngrants--;
    }
    return 0;
}

/* Writes e over the accounts `before` had: changed records set, vanished ones deleted. */
static int write_edit(cm_txn *t, const sql_users_edit *before, const sql_users_edit *e, cm_err *err)
{
    cm_buf k = CM_BUF_INIT, v = CM_BUF_INIT, old = CM_BUF_INIT;
    int rc = 0;
    for (uint32_t i = 0; rc == 0 && i < before->n; i++) {
        const sql_user *b = &before->v[i];
        bool kept = false;
        for (uint32_t j = 0; j < e->n && !kept; j++) {
            kept = strcmp(e->v[j].user, b->user) == 0 && strcmp(e->v[j].host, b->host) == 0;
        }
        if (!kept) {
            cm_buf_reset(&k);
            rc = key_user(&k, b->user, b->host) != 0 ? cm_err_set(err, CM_E_NOMEM, "out of memory")
                                                     : cm_txn_delete(t, cm_buf_slice(&k), err);
        }
    }
    for (uint32_t j = 0; rc == 0 && j < e->n; j++) {
        const sql_user *a = &e->v[j];
        cm_buf_reset(&v);
        if (sql_user_encode(a, &v) != 0) {
            rc = cm_err_set(err, CM_E_NOMEM, "out of memory");
            break;
        }
        bool same = false;
        for (uint32_t i = 0; i < before->n && !same; i++) {
            const sql_user *b = &before->v[i];
            if (strcmp(a->user, b->user) == 0 && strcmp(a->host, b->host) == 0) {
                cm_buf_reset(&old);
                same = sql_user_encode(b, &old) == 0 && old.len == v.len &&
                       memcmp(old.ptr, v.ptr, v.len) == 0;
            }
        }
        if (!same) {
            cm_buf_reset(&k);
            rc = key_user(&k, a->user, a->host) != 0
                     ? cm_err_set(err, CM_E_NOMEM, "out of memory")
                     : cm_txn_set(t, cm_buf_slice(&k), cm_buf_slice(&v), err);
        }
    }
    cm_buf_fini(&k);
    cm_buf_fini(&v);
    cm_buf_fini(&old);
    return rc;
}

int sql_cat_users_change(sql_catalog *c, sql_users_edit_fn fn, void *ctx, cm_err *err)
{
    int rc = 0;
    for (int attempt = 0; attempt < SQL_CAT_DDL_RETRIES; attempt++) {
        cm_txn *t = NULL;
        sql_users_edit before, e;
        sql_users_edit_init(&before);
        sql_users_edit_init(&e);
        uint64_t v = 0;
        bool found = false;
        rc = cm_txn_begin(c->kc, &t, err);
        rc = rc ? rc : read_version(t, &v, &found, err);
        rc = rc ? rc : load_edit(t, &before, err);
        rc = rc ? rc : load_edit(t, &e, err);
        rc = rc ? rc : fn(ctx, &e, err);
        rc = rc ? rc : write_edit(t, &before, &e, err);
        rc = rc ? rc : write_version(t, v + 1, err);
        rc = rc ? rc : cm_txn_commit(t, err);
        cm_txn_free(t);
        sql_users_edit_fini(&before);
        sql_users_edit_fini(&e);
        if (rc == 0) {
            cm_err e2;
            cm_err_clear(&e2);
            if (reload(c, false, &e2) != 0) {
                CM_WARN(LOG_COMP, "privileges changed but not reloaded: %s", e2.msg);
            }
            return 0;
        }
        if (rc != CM_E_WRITE_CONFLICT && rc != CM_E_TXN_ROLLED_BACK) {
            return rc;
        }
    }
    return rc;
}

/* ---- bootstrap ------------------------------------------------------------------------------- */

int sql_cat_users_open(sql_catalog *c, const sql_user_boot *boot, uint32_t n, cm_err *err)
{
    int rc = 0;
    bool done = false;
    for (int attempt = 0; attempt < SQL_CAT_DDL_RETRIES && !done; attempt++) {
        cm_txn *t = NULL;
        uint64_t v = 0;
        bool found = false;
        rc = cm_txn_begin(c->kc, &t, err);
        rc = rc ? rc : read_version(t, &v, &found, err);
        if (rc == 0 && found) {
            cm_txn_free(t);
            done = true;
            break;
        }
        sql_users_edit none, e;
        sql_users_edit_init(&none);
        sql_users_edit_init(&e);
        for (uint32_t i = 0; rc == 0 && i < n; i++) {
            sql_user *a = sql_users_edit_find(&e, boot[i].user, boot[i].host);
            if (a == NULL) {
                a = sql_users_edit_add(&e, boot[i].user, boot[i].host);
            }
            if (a == NULL) {
                rc = cm_err_set(err, CM_E_NOMEM, "out of memory");
                break;
            }
            a->plugin = boot[i].plugin;
            a->auth_len = boot[i].auth_len <= SQL_USER_AUTH_MAX ? boot[i].auth_len : 0;
            if (a->auth_len > 0) {
                memcpy(a->auth, boot[i].auth, a->auth_len);
            }
            a->global = boot[i].global;
        }
        rc = rc ? rc : write_edit(t, &none, &e, err);
        rc = rc ? rc : write_version(t, 1, err);
        rc = rc ? rc : cm_txn_commit(t, err);
        cm_txn_free(t);
        sql_users_edit_fini(&none);
        sql_users_edit_fini(&e);
        if (rc == 0) {
            CM_INFO(LOG_COMP, "bootstrapped %u accounts (privilege version 1)", n);
            done = true;
        } else if (rc != CM_E_WRITE_CONFLICT && rc != CM_E_TXN_ROLLED_BACK) {
            return rc;
        }
    }
    if (!done) {
        return cm_err_set(err, CM_E_WRITE_CONFLICT, "account bootstrap kept conflicting");
    }
    return reload(c, true, err);
}
