/*
 * pd_registry.h — the small registry PD keeps for the SQL layer (DESIGN.md §6, §8).
 *
 * Elections (the DDL owner): a named lease held by one candidate for ttl_ms.
 *   campaign  grants the lease when nobody holds it, the holder's lease has expired, or the
 *             caller already holds it (then it is a renewal). A new holder gets term + 1; terms
 *             only grow, across restarts too, so a term identifies one tenure.
 *   renew     extends the lease of (candidate, term) if it still holds it; otherwise the lease
 *             is lost (CM_E_NOT_FOUND) and the caller must stop acting as owner.
 *   resign    gives the lease up at once.
 * PD measures leases on its monotonic clock from the moment it handles the request. A holder must
 * count its lease from the moment it *sent* the request, on its own monotonic clock, so it
 * always believes in its lease for less time than PD grants it.
 *
 * Key/value map with TTLs (each sqlnode publishes its loaded schema version and its oldest
 * running start_ts): put with ttl_ms (0: no expiry) creates or refreshes an entry; an expired
 * entry is invisible and is purged by pd_registry_expire.
 *
 * Persistence: owners, terms and entries are written (synced) when they change; a refresh that
 * changes nothing writes nothing. After a PD restart every lease and entry gets its full TTL
 * again, counted from the restart: a holder is never dropped early by a PD crash.
 * Thread-safe.
 */
#ifndef PD_REGISTRY_H
#define PD_REGISTRY_H

#include "cm_buf.h"
#include "cm_err.h"
#include "pd_kv.h"
#include "pd_limits.h"

#include <pthread.h>
#include <stdint.h>

typedef struct pd_election {
    char name[PD_REGISTRY_KEY_BYTES_MAX + 1];
    char owner[PD_REGISTRY_KEY_BYTES_MAX + 1]; /* "" when none */
    uint64_t term;
    uint64_t ttl_ms;
    uint64_t expire_ms;
} pd_election;

typedef struct pd_reg_entry {
    char *key; /* owned */
    cm_buf value;
    uint64_t ttl_ms;    /* 0: no expiry */
    uint64_t expire_ms; /* valid when ttl_ms > 0 */
} pd_reg_entry;

typedef struct pd_registry {
    pthread_mutex_t mu;
    pd_kv *kv; /* borrowed */
    pd_election *elections;
    size_t nelections, cap_elections;
    pd_reg_entry *entries; /* sorted by key */
    size_t nentries, cap_entries;
} pd_registry;

typedef struct pd_lease_info {
    int granted;
    char owner[PD_REGISTRY_KEY_BYTES_MAX + 1]; /* "" when none */
    uint64_t term;
    uint64_t ttl_left_ms;
} pd_lease_info;

/* Loads the persisted registry; every lease and entry restarts its TTL at now_ms. */
int pd_registry_open(pd_registry *r, pd_kv *kv, uint64_t now_ms, cm_err *err);
void pd_registry_close(pd_registry *r);

int pd_registry_campaign(pd_registry *r, const char *name, const char *candidate, uint64_t ttl_ms,
                         uint64_t now_ms, pd_lease_info *out, cm_err *err);
int pd_registry_renew(pd_registry *r, const char *name, const char *candidate, uint64_t term,
                      uint64_t ttl_ms, uint64_t now_ms, uint64_t *ttl_left_ms, cm_err *err);
int pd_registry_resign(pd_registry *r, const char *name, const char *candidate, uint64_t term,
                       uint64_t now_ms, cm_err *err);
/* Current holder (owner "" when none or expired). */
int pd_registry_owner(pd_registry *r, const char *name, uint64_t now_ms, pd_lease_info *out,
                      cm_err *err);

/* value is borrowed for the call. */
int pd_registry_put(pd_registry *r, const char *key, cm_slice value, uint64_t ttl_ms,
                    uint64_t now_ms, cm_err *err);
/* Appends the value to *value. CM_E_NOT_FOUND when absent or expired. */
int pd_registry_get(pd_registry *r, const char *key, uint64_t now_ms, cm_buf *value,
                    uint64_t *ttl_left_ms, cm_err *err);
/* Visits live entries whose key starts with prefix, in key order, at most limit (0: no limit);
 * cb returns non-zero to stop. Runs under the registry's lock. */
typedef int (*pd_registry_visit_cb)(void *user, const char *key, cm_slice value,
                                    uint64_t ttl_left_ms);
void pd_registry_list(pd_registry *r, const char *prefix, size_t limit, uint64_t now_ms,
                      pd_registry_visit_cb cb, void *user);
int pd_registry_delete(pd_registry *r, const char *key, int *deleted, cm_err *err);
/* Purges expired entries (from memory and storage). Returns how many were purged. */
size_t pd_registry_expire(pd_registry *r, uint64_t now_ms);
size_t pd_registry_count(pd_registry *r);

#endif
