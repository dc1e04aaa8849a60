/* pd_store.c — the store table; see pd_store.h. */
#include "pd_store.h"

#include "cm_assert.h"
#include "pd_limits.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

const char *pd_store_live_name(pd_store_live s)
{
    switch (s) {
    case PD_STORE_LIVE_UP:
        return "Up";
    case PD_STORE_LIVE_DISCONNECTED:
        return "Disconnected";
    case PD_STORE_LIVE_DOWN:
        return "Down";
    case PD_STORE_LIVE_OFFLINE:
        return "Offline";
    case PD_STORE_LIVE_TOMBSTONE:
        return "Tombstone";
    }
    return "?";
}

void pd_store_table_init(pd_store_table *t, uint64_t heartbeat_timeout_ms,
                         uint64_t max_down_time_ms)
{
    pd_idmap_init(&t->by_id);
    t->heartbeat_timeout_ms = heartbeat_timeout_ms;
    t->max_down_time_ms = max_down_time_ms;
}

void pd_store_table_fini(pd_store_table *t)
{
    for (size_t i = 0; i < t->by_id.cap; i++) {
        free(t->by_id.slots[i].value);
    }
    pd_idmap_fini(&t->by_id);
}

const pd_store *pd_store_table_get(const pd_store_table *t, uint64_t id)
{
    return pd_idmap_get(&t->by_id, id);
}

int pd_store_table_check_put(const pd_store_table *t, const pd_store *s, cm_err *err)
{
    if (s->id == 0) {
        return cm_err_set(err, CM_E_INVALID, "store: id 0 (allocate one with AllocId)");
    }
    if (s->address[0] == '\0') {
        return cm_err_set(err, CM_E_INVALID, "store %" PRIu64 ": empty address", s->id);
    }
    if (s->meta_state != PD_STORE_META_UP) {
        return cm_err_set(err, CM_E_INVALID, "store %" PRIu64 ": registration must be in state Up",
                          s->id);
    }
    const pd_store *old = pd_store_table_get(t, s->id);
    if (old != NULL && old->meta_state == PD_STORE_META_TOMBSTONE) {
        return cm_err_set(err, CM_E_INVALID,
                          "store %" PRIu64 " is a tombstone and cannot come back", s->id);
    }
    for (size_t i = 0; i < t->by_id.cap; i++) {
        const pd_store *o = t->by_id.slots[i].value;
        if (o != NULL && o->id != s->id && o->meta_state != PD_STORE_META_TOMBSTONE &&
            strcmp(o->address, s->address) == 0) {
            return cm_err_set(err, CM_E_EXISTS,
                              "store %" PRIu64 ": address %s is already used by store %" PRIu64,
                              s->id, s->address, o->id);
        }
    }
    if (old == NULL && pd_store_table_size(t) >= PD_STORES_MAX) {
        return cm_err_set(err, CM_E_BUSY, "store: the cluster already has %d stores",
                          PD_STORES_MAX);
    }
    return 0;
}

int pd_store_table_put(pd_store_table *t, const pd_store *s, uint64_t now_ms, cm_err *err)
{
    pd_store *old = pd_idmap_get(&t->by_id, s->id);
    if (old != NULL) {
        memcpy(old->address, s->address, sizeof(old->address));
        memcpy(old->status_address, s->status_address, sizeof(old->status_address));
        old->start_ts_ms = s->start_ts_ms;
        old->last_heartbeat_ms = now_ms;
        return 0;
    }
    pd_store *n = malloc(sizeof(*n));
    if (n == NULL) {
        return cm_err_set(err, CM_E_NOMEM, "store: out of memory");
    }
    *n = *s;
    n->last_heartbeat_ms = now_ms;
    if (pd_idmap_put(&t->by_id, n->id, n) != 0) {
        free(n);
        return cm_err_set(err, CM_E_NOMEM, "store: out of memory");
    }
    return 0;
}

int pd_store_table_heartbeat(pd_store_table *t, uint64_t id, const pd_store_stats *st,
                             uint64_t now_ms, cm_err *err)
{
    pd_store *s = pd_idmap_get(&t->by_id, id);
    if (s == NULL) {
        return cm_err_set(err, CM_E_NOT_FOUND, "store %" PRIu64 " is not registered", id);
    }
    if (s->meta_state == PD_STORE_META_TOMBSTONE) {
        return cm_err_set(err, CM_E_INVALID, "store %" PRIu64 " is a tombstone", id);
    }
    s->stats = *st;
    if (now_ms > s->last_heartbeat_ms) {
        s->last_heartbeat_ms = now_ms;
    }
    return 0;
}

int pd_store_table_set_state(pd_store_table *t, uint64_t id, int meta_state,
                             uint64_t regions_on_store, cm_err *err)
{
    pd_store *s = pd_idmap_get(&t->by_id, id);
    if (s == NULL) {
        return cm_err_set(err, CM_E_NOT_FOUND, "store %" PRIu64 " is not registered", id);
    }
    int from = s->meta_state;
    if (from == meta_state) {
        return 0;
    }
    int ok = (from == PD_STORE_META_UP && meta_state == PD_STORE_META_OFFLINE) ||
             (from == PD_STORE_META_OFFLINE && meta_state == PD_STORE_META_UP) ||
             (from == PD_STORE_META_OFFLINE && meta_state == PD_STORE_META_TOMBSTONE);
    if (!ok) {
        return cm_err_set(err, CM_E_INVALID, "store %" PRIu64 ": cannot go from state %d to %d", id,
                          from, meta_state);
    }
    if (meta_state == PD_STORE_META_TOMBSTONE && regions_on_store > 0) {
        return cm_err_set(err, CM_E_BUSY, "store %" PRIu64 " still holds %" PRIu64 " region peers",
                          id, regions_on_store);
    }
    s->meta_state = meta_state;
    return 0;
}

pd_store_live pd_store_table_live(const pd_store_table *t, const pd_store *s, uint64_t now_ms)
{
    if (s->meta_state == PD_STORE_META_TOMBSTONE) {
        return PD_STORE_LIVE_TOMBSTONE;
    }
    if (s->meta_state == PD_STORE_META_OFFLINE) {
        return PD_STORE_LIVE_OFFLINE;
    }
    uint64_t age = now_ms > s->last_heartbeat_ms ? now_ms - s->last_heartbeat_ms : 0;
    if (age < t->heartbeat_timeout_ms) {
        return PD_STORE_LIVE_UP;
    }
    if (age < t->max_down_time_ms) {
        return PD_STORE_LIVE_DISCONNECTED;
    }
    return PD_STORE_LIVE_DOWN;
}

static int cmp_store_ptr(const void *a, const void *b)
{
    const pd_store *x = *(const pd_store *const *)a, *y = *(const pd_store *const *)b;
    return x->id < y->id ? -1 : (x->id > y->id ? 1 : 0);
}

void pd_store_table_foreach(const pd_store_table *t, int (*cb)(void *user, const pd_store *s),
                            void *user)
{
    size_t n = pd_store_table_size(t);
    if (n == 0) {
        return;
    }
    const pd_store **v = malloc(n * sizeof(*v));
    if (v == NULL) {
        /* Out of memory: visit in table order rather than not at all. */
        for (size_t i = 0; i < t->by_id.cap; i++) {
            if (t->by_id.slots[i].value != NULL && cb(user, t->by_id.slots[i].value) != 0) {
                return;
            }
        }
        return;
    }
    size_t k = 0;
    for (size_t i = 0; i < t->by_id.cap; i++) {
        if (t->by_id.slots[i].id != 0) {
            v[k++] = t->by_id.slots[i].value;
        }
    }
    CM_ASSERT(k == n);
    qsort(v, k, sizeof(*v), cmp_store_ptr);
    for (size_t i = 0; i < k; i++) {
        if (cb(user, v[i]) != 0) {
            break;
        }
    }
    free(v);
}

void pd_store_table_count(const pd_store_table *t, uint64_t now_ms,
                          uint64_t counts[PD_STORE_LIVE_COUNT])
{
    memset(counts, 0, sizeof(uint64_t) * PD_STORE_LIVE_COUNT);
    for (size_t i = 0; i < t->by_id.cap; i++) {
        const pd_store *s = t->by_id.slots[i].value;
        if (t->by_id.slots[i].id != 0 && s != NULL) {
            counts[pd_store_table_live(t, s, now_ms)]++;
        }
    }
}
