/* pd_registry.c — elections and the TTL map of the SQL layer; see pd_registry.h. */
#include "pd_registry.h"

#include "cm_assert.h"
#include "cm_log.h"
#include "pdpb.pb-c.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define PREFIX_ELECTION "reg/e/"
#define PREFIX_ENTRY    "reg/kv/"

static int check_name(const char *what, const char *s, int allow_empty, cm_err *err)
{
    if (s == NULL) {
        return cm_err_set(err, CM_E_INVALID, "registry: missing %s", what);
    }
    size_t n = strlen(s);
    if (n == 0 && !allow_empty) {
        return cm_err_set(err, CM_E_INVALID, "registry: empty %s", what);
    }
    if (n > PD_REGISTRY_KEY_BYTES_MAX) {
        return cm_err_set(err, CM_E_INVALID, "registry: %s longer than %d bytes", what,
                          PD_REGISTRY_KEY_BYTES_MAX);
    }
    return 0;
}

static int check_ttl(uint64_t ttl_ms, int allow_zero, cm_err *err)
{
    if ((ttl_ms == 0 && !allow_zero) || ttl_ms > PD_REGISTRY_TTL_MS_MAX) {
        return cm_err_set(err, CM_E_INVALID, "registry: ttl %" PRIu64 " ms outside %d..%llu",
                          ttl_ms, allow_zero ? 0 : 1, (unsigned long long)PD_REGISTRY_TTL_MS_MAX);
    }
    return 0;
}

static uint64_t left_ms(uint64_t expire_ms, uint64_t now_ms)
{
    return expire_ms > now_ms ? expire_ms - now_ms : 0;
}

static int storage_key(cm_buf *k, const char *prefix, const char *name)
{
    cm_buf_reset(k);
    return cm_buf_printf(k, "%s%s", prefix, name);
}

/* ---- persistence ------------------------------------------------------------------------- */

static int persist_election(pd_registry *r, const pd_election *e, cm_err *err)
{
    Tessera__Pdpb__ElectionRecord rec = TESSERA__PDPB__ELECTION_RECORD__INIT;
    rec.name = (char *)e->name;
    rec.owner = (char *)e->owner;
    rec.term = e->term;
    rec.ttl_ms = e->ttl_ms;
    cm_buf k = CM_BUF_INIT, v = CM_BUF_INIT;
    int rc = storage_key(&k, PREFIX_ELECTION, e->name);
    if (rc == 0) {
        rc = cm_buf_reserve(&v, tessera__pdpb__election_record__get_packed_size(&rec));
    }
    if (rc == 0) {
        v.len = tessera__pdpb__election_record__pack(&rec, v.ptr);
        rc = pd_kv_put(r->kv, cm_buf_slice(&k), cm_buf_slice(&v), 1, err);
    } else {
        cm_err_set(err, rc, "registry: out of memory");
    }
    cm_buf_fini(&k);
    cm_buf_fini(&v);
    return rc;
}

static int persist_entry(pd_registry *r, const char *key, cm_slice value, uint64_t ttl_ms,
                         cm_err *err)
{
    Tessera__Pdpb__RegistryRecord rec = TESSERA__PDPB__REGISTRY_RECORD__INIT;
    rec.key = (char *)key;
    rec.value.data = (uint8_t *)value.ptr;
    rec.value.len = value.len;
    rec.ttl_ms = ttl_ms;
    cm_buf k = CM_BUF_INIT, v = CM_BUF_INIT;
    int rc = storage_key(&k, PREFIX_ENTRY, key);
    if (rc == 0) {
        rc = cm_buf_reserve(&v, tessera__pdpb__registry_record__get_packed_size(&rec));
    }
    if (rc == 0) {
        v.len = tessera__pdpb__registry_record__pack(&rec, v.ptr);
        rc = pd_kv_put(r->kv, cm_buf_slice(&k), cm_buf_slice(&v), 1, err);
    } else {
        cm_err_set(err, rc, "registry: out of memory");
    }
    cm_buf_fini(&k);
    cm_buf_fini(&v);
    return rc;
}

static int unpersist_entry(pd_registry *r, const char *key, cm_err *err)
{
    cm_buf k = CM_BUF_INIT;
    int rc = storage_key(&k, PREFIX_ENTRY, key);
    if (rc == 0) {
        rc = pd_kv_del(r->kv, cm_buf_slice(&k), 1, err);
    }
    cm_buf_fini(&k);
    return rc;
}

/* ---- in-memory tables -------------------------------------------------------------------- */

static pd_election *find_election(pd_registry *r, const char *name)
{
    for (size_t i = 0; i < r->nelections; i++) {
        if (strcmp(r->elections[i].name, name) == 0) {
            return &r->elections[i];
        }
    }
    return NULL;
}

static pd_election *add_election(pd_registry *r, const char *name, cm_err *err)
{
    if (r->nelections >= PD_ELECTIONS_MAX) {
        cm_err_set(err, CM_E_BUSY, "registry: already %d elections", PD_ELECTIONS_MAX);
        return NULL;
    }
    if (r->nelections == r->cap_elections) {
        size_t cap = r->cap_elections ? r->cap_elections * 2 : 4;
        pd_election *v = realloc(r->elections, cap * sizeof(*v));
        if (v == NULL) {
            cm_err_set(err, CM_E_NOMEM, "registry: out of memory");
            return NULL;
        }
        r->elections = v;
        r->cap_elections = cap;
    }
    pd_election *e = &r->elections[r->nelections++];
    memset(e, 0, sizeof(*e));
    memcpy(e->name, name, strlen(name) + 1);
    return e;
}

/* Index of key, or of where it would go (*found says which). */
static size_t find_entry(const pd_registry *r, const char *key, int *found)
{
    size_t lo = 0, hi = r->nentries;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(r->entries[mid].key, key);
        if (c == 0) {
            *found = 1;
            return mid;
        }
        if (c < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    *found = 0;
    return lo;
}

static int entry_live(const pd_reg_entry *e, uint64_t now_ms)
{
    return e->ttl_ms == 0 || e->expire_ms > now_ms;
}

static void remove_entry_at(pd_registry *r, size_t i)
{
    free(r->entries[i].key);
    cm_buf_fini(&r->entries[i].value);
    memmove(&r->entries[i], &r->entries[i + 1], (r->nentries - i - 1) * sizeof(*r->entries));
    r->nentries--;
}

/* Sets key (in memory only). */
static int set_entry(pd_registry *r, const char *key, cm_slice value, uint64_t ttl_ms,
                     uint64_t now_ms, cm_err *err)
{
    int found;
    size_t i = find_entry(r, key, &found);
    if (!found) {
        if (r->nentries >= PD_REGISTRY_ENTRIES_MAX) {
            return cm_err_set(err, CM_E_BUSY, "registry: already %d entries",
                              PD_REGISTRY_ENTRIES_MAX);
        }
        if (r->nentries == r->cap_entries) {
            size_t cap = r->cap_entries ? r->cap_entries * 2 : 16;
            pd_reg_entry *v = realloc(r->entries, cap * sizeof(*v));
            if (v == NULL) {
                return cm_err_set(err, CM_E_NOMEM, "registry: out of memory");
            }
            r->entries = v;
            r->cap_entries = cap;
        }
        char *k = strdup(key);
        if (k == NULL) {
            return cm_err_set(err, CM_E_NOMEM, "registry: out of memory");
        }
        memmove(&r->entries[i + 1], &r->entries[i], (r->nentries - i) * sizeof(*r->entries));
        r->nentries++;
        r->entries[i].key = k;
        cm_buf_init(&r->entries[i].value);
    }
    pd_reg_entry *e = &r->entries[i];
    cm_buf_reset(&e->value);
    if (cm_buf_append_slice(&e->value, value) != 0) {
        remove_entry_at(r, i);
        return cm_err_set(err, CM_E_NOMEM, "registry: out of memory");
    }
    e->ttl_ms = ttl_ms;
    e->expire_ms = ttl_ms ? now_ms + ttl_ms : 0;
    return 0;
}

/* ---- loading ----------------------------------------------------------------------------- */

typedef struct load_ctx {
    pd_registry *r;
    uint64_t now_ms;
    int rc;
    cm_err *err;
} load_ctx;

static int load_election_cb(void *user, cm_slice key, cm_slice value)
{
    load_ctx *l = user;
    Tessera__Pdpb__ElectionRecord *m =
        tessera__pdpb__election_record__unpack(NULL, value.len, value.ptr);
    if (m == NULL || check_name("name", m->name, 0, NULL) != 0 ||
        check_name("owner", m->owner, 1, NULL) != 0) {
        if (m != NULL) {
            tessera__pdpb__election_record__free_unpacked(m, NULL);
        }
        l->rc = cm_err_set(l->err, CM_E_CORRUPT, "pd storage: bad election record");
        return 1;
    }
    pd_election *e = add_election(l->r, m->name, l->err);
    if (e == NULL) {
        l->rc = l->err ? l->err->code : CM_E_NOMEM;
    } else {
        memcpy(e->owner, m->owner, strlen(m->owner) + 1);
        e->term = m->term;
        e->ttl_ms = m->ttl_ms;
        e->expire_ms = e->owner[0] ? l->now_ms + m->ttl_ms : 0;
    }
    tessera__pdpb__election_record__free_unpacked(m, NULL);
    return l->rc != 0;
}

static int load_entry_cb(void *user, cm_slice key, cm_slice value)
{
    load_ctx *l = user;
    Tessera__Pdpb__RegistryRecord *m =
        tessera__pdpb__registry_record__unpack(NULL, value.len, value.ptr);
    if (m == NULL || check_name("key", m->key, 0, NULL) != 0) {
        if (m != NULL) {
            tessera__pdpb__registry_record__free_unpacked(m, NULL);
        }
        l->rc = cm_err_set(l->err, CM_E_CORRUPT, "pd storage: bad registry record");
        return 1;
    }
    l->rc = set_entry(l->r, m->key, cm_slice_make(m->value.data, m->value.len), m->ttl_ms,
                      l->now_ms, l->err);
    tessera__pdpb__registry_record__free_unpacked(m, NULL);
    return l->rc != 0;
}

int pd_registry_open(pd_registry *r, pd_kv *kv, uint64_t now_ms, cm_err *err)
{
    memset(r, 0, sizeof(*r));
    r->kv = kv;
    pthread_mutex_init(&r->mu, NULL);
    load_ctx l = {r, now_ms, 0, err};
    int rc = pd_kv_scan(kv, cm_slice_cstr(PREFIX_ELECTION), load_election_cb, &l, err);
    rc = rc ? rc : l.rc;
    if (rc == 0) {
        rc = pd_kv_scan(kv, cm_slice_cstr(PREFIX_ENTRY), load_entry_cb, &l, err);
        rc = rc ? rc : l.rc;
    }
    if (rc != 0) {
        pd_registry_close(r);
        return rc;
    }
    return 0;
}

void pd_registry_close(pd_registry *r)
{
    for (size_t i = 0; i < r->nentries; i++) {
        free(r->entries[i].key);
        cm_buf_fini(&r->entries[i].value);
    }
    free(r->entries);
    free(r->elections);
    pthread_mutex_destroy(&r->mu);
    memset(r, 0, sizeof(*r));
}

/* ---- elections --------------------------------------------------------------------------- */

static void fill_info(const pd_election *e, uint64_t now_ms, int granted, pd_lease_info *out)
{
    out->granted = granted;
    int held = e != NULL && e->owner[0] != '\0' && e->expire_ms > now_ms;
    if (held) {
        memcpy(out->owner, e->owner, strlen(e->owner) + 1);
    } else {
        out->owner[0] = '\0';
    }
    out->term = e ? e->term : 0;
    out->ttl_left_ms = held ? left_ms(e->expire_ms, now_ms) : 0;
}

int pd_registry_campaign(pd_registry *r, const char *name, const char *candidate, uint64_t ttl_ms,
                         uint64_t now_ms, pd_lease_info *out, cm_err *err)
{
    int rc = check_name("election name", name, 0, err);
    rc = rc ? rc : check_name("candidate", candidate, 0, err);
    rc = rc ? rc : check_ttl(ttl_ms, 0, err);
    if (rc != 0) {
        return rc;
    }
    pthread_mutex_lock(&r->mu);
    pd_election *e = find_election(r, name);
    if (e == NULL) {
        e = add_election(r, name, err);
        if (e == NULL) {
            pthread_mutex_unlock(&r->mu);
            return err ? err->code : CM_E_NOMEM;
        }
    }
    int held = e->owner[0] != '\0' && e->expire_ms > now_ms;
    int granted = 0;
    if (held && strcmp(e->owner, candidate) == 0) {
        /* The holder campaigning again: a renewal of the same tenure. */
        e->expire_ms = now_ms + ttl_ms;
        granted = 1;
        if (e->ttl_ms != ttl_ms) {
            e->ttl_ms = ttl_ms;
            rc = persist_election(r, e, err);
        }
    } else if (!held) {
        pd_election next = *e;
        next.term = e->term + 1;
        memcpy(next.owner, candidate, strlen(candidate) + 1);
        next.ttl_ms = ttl_ms;
        next.expire_ms = now_ms + ttl_ms;
        /* The new term must be durable before anyone acts on it. */
        rc = persist_election(r, &next, err);
        if (rc == 0) {
            CM_INFO("pd", "election %s: %s is owner, term %" PRIu64 " (was %s)", name, candidate,
                    next.term, e->owner[0] ? e->owner : "none");
            *e = next;
            granted = 1;
        }
    }
    if (rc == 0) {
        fill_info(e, now_ms, granted, out);
    }
    pthread_mutex_unlock(&r->mu);
    return rc;
}

int pd_registry_renew(pd_registry *r, const char *name, const char *candidate, uint64_t term,
                      uint64_t ttl_ms, uint64_t now_ms, uint64_t *ttl_left_ms, cm_err *err)
{
    int rc = check_name("election name", name, 0, err);
    rc = rc ? rc : check_name("candidate", candidate, 0, err);
    rc = rc ? rc : check_ttl(ttl_ms, 0, err);
    if (rc != 0) {
        return rc;
    }
    pthread_mutex_lock(&r->mu);
    pd_election *e = find_election(r, name);
    if (e == NULL || e->owner[0] == '\0' || strcmp(e->owner, candidate) != 0 || e->term != term ||
        e->expire_ms <= now_ms) {
        rc = cm_err_set(err, CM_E_NOT_FOUND,
                        "election %s: %s does not hold term %" PRIu64 " (lease lost)", name,
                        candidate, term);
    } else {
        e->expire_ms = now_ms + ttl_ms;
        if (e->ttl_ms != ttl_ms) {
            e->ttl_ms = ttl_ms;
            rc = persist_election(r, e, err);
        }
        *ttl_left_ms = ttl_ms;
    }
    pthread_mutex_unlock(&r->mu);
    return rc;
}

int pd_registry_resign(pd_registry *r, const char *name, const char *candidate, uint64_t term,
                       uint64_t now_ms, cm_err *err)
{
    int rc = check_name("election name", name, 0, err);
    rc = rc ? rc : check_name("candidate", candidate, 0, err);
    if (rc != 0) {
        return rc;
    }
    pthread_mutex_lock(&r->mu);
    pd_election *e = find_election(r, name);
    if (e == NULL || e->owner[0] == '\0' || strcmp(e->owner, candidate) != 0 || e->term != term ||
        e->expire_ms <= now_ms) {
        rc = cm_err_set(err, CM_E_NOT_FOUND, "election %s: %s does not hold term %" PRIu64, name,
                        candidate, term);
    } else {
        pd_election next = *e;
        next.owner[0] = '\0';
        next.expire_ms = 0;
        rc = persist_election(r, &next, err);
        if (rc == 0) {
            CM_INFO("pd", "election %s: %s resigned term %" PRIu64, name, candidate, term);
            *e = next;
        }
    }
    pthread_mutex_unlock(&r->mu);
    return rc;
}

int pd_registry_owner(pd_registry *r, const char *name, uint64_t now_ms, pd_lease_info *out,
                      cm_err *err)
{
    int rc = check_name("election name", name, 0, err);
    if (rc != 0) {
        return rc;
    }
    pthread_mutex_lock(&r->mu);
    fill_info(find_election(r, name), now_ms, 0, out);
    pthread_mutex_unlock(&r->mu);
    return 0;
}

/* ---- key/value map ----------------------------------------------------------------------- */

int pd_registry_put(pd_registry *r, const char *key, cm_slice value, uint64_t ttl_ms,
                    uint64_t now_ms, cm_err *err)
{
    int rc = check_name("key", key, 0, err);
    rc = rc ? rc : check_ttl(ttl_ms, 1, err);
    if (rc != 0) {
        return rc;
    }
    if (value.len > PD_REGISTRY_VALUE_BYTES_MAX) {
        return cm_err_set(err, CM_E_INVALID, "registry: value longer than %d bytes",
                          PD_REGISTRY_VALUE_BYTES_MAX);
    }
    pthread_mutex_lock(&r->mu);
    int found;
    size_t i = find_entry(r, key, &found);
    int unchanged = found && r->entries[i].ttl_ms == ttl_ms &&
                    cm_slice_eq(cm_buf_slice(&r->entries[i].value), value);
    if (unchanged) {
        /* A refresh: extend the TTL in memory; storage already holds this value and TTL. */
        r->entries[i].expire_ms = ttl_ms ? now_ms + ttl_ms : 0;
    } else if (!found && r->nentries >= PD_REGISTRY_ENTRIES_MAX) {
        rc = cm_err_set(err, CM_E_BUSY, "registry: already %d entries", PD_REGISTRY_ENTRIES_MAX);
    } else {
        rc = persist_entry(r, key, value, ttl_ms, err);
        if (rc == 0) {
            rc = set_entry(r, key, value, ttl_ms, now_ms, err);
        }
    }
    pthread_mutex_unlock(&r->mu);
    return rc;
}

int pd_registry_get(pd_registry *r, const char *key, uint64_t now_ms, cm_buf *value,
                    uint64_t *ttl_left_ms, cm_err *err)
{
    int rc = check_name("key", key, 0, err);
    if (rc != 0) {
        return rc;
    }
    pthread_mutex_lock(&r->mu);
    int found;
    size_t i = find_entry(r, key, &found);
    if (!found || !entry_live(&r->entries[i], now_ms)) {
        rc = cm_err_set(err, CM_E_NOT_FOUND, "registry: no key %s", key);
    } else {
        const pd_reg_entry *e = &r->entries[i];
        rc = cm_buf_append_slice(value, cm_buf_slice(&e->value));
        *ttl_left_ms = e->ttl_ms ? left_ms(e->expire_ms, now_ms) : 0;
    }
    pthread_mutex_unlock(&r->mu);
    return rc;
}

void pd_registry_list(pd_registry *r, const char *prefix, size_t limit, uint64_t now_ms,
                      pd_registry_visit_cb cb, void *user)
{
    size_t plen = strlen(prefix);
    size_t seen = 0;
    pthread_mutex_lock(&r->mu);
    int found;
    for (size_t i = find_entry(r, prefix, &found); i < r->nentries; i++) {
        const pd_reg_entry *e = &r->entries[i];
        if (strncmp(e->key, prefix, plen) != 0) {
            break;
        }
        if (!entry_live(e, now_ms)) {
            continue;
        }
        if (limit != 0 && seen >= limit) {
            break;
        }
        seen++;
        if (cb(user, e->key, cm_buf_slice(&e->value),
               e->ttl_ms ? left_ms(e->expire_ms, now_ms) : 0) != 0) {
            break;
        }
    }
    pthread_mutex_unlock(&r->mu);
}

int pd_registry_delete(pd_registry *r, const char *key, int *deleted, cm_err *err)
{
    int rc = check_name("key", key, 0, err);
    if (rc != 0) {
        return rc;
    }
    *deleted = 0;
    pthread_mutex_lock(&r->mu);
    int found;
    size_t i = find_entry(r, key, &found);
    if (found) {
        rc = unpersist_entry(r, key, err);
        if (rc == 0) {
            remove_entry_at(r, i);
            *deleted = 1;
        }
    }
    pthread_mutex_unlock(&r->mu);
    return rc;
}

size_t pd_registry_expire(pd_registry *r, uint64_t now_ms)
{
    size_t purged = 0;
    pthread_mutex_lock(&r->mu);
    for (size_t i = 0; i < r->nentries;) {
        if (entry_live(&r->entries[i], now_ms)) {
            i++;
            continue;
        }
        cm_err err;
        if (unpersist_entry(r, r->entries[i].key, &err) != 0) {
            /* Keep it (invisible anyway) and try again on the next tick. */
            CM_WARN("pd", "registry: cannot purge %s: %s", r->entries[i].key, err.msg);
            i++;
            continue;
        }
        remove_entry_at(r, i);
        purged++;
    }
    pthread_mutex_unlock(&r->mu);
    return purged;
}

size_t pd_registry_count(pd_registry *r)
{
    pthread_mutex_lock(&r->mu);
    size_t n = r->nentries;
    pthread_mutex_unlock(&r->mu);
    return n;
}
