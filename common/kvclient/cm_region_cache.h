/*
 * cm_region_cache.h — the client's cache of region routes (region by key, by id).
 *
 * Entries are non-overlapping and ordered by start key. Inserting a region drops every cached
 * region it overlaps (the newer route wins; a route is only ever inserted from a PD reply),
 * unless the cache holds something newer by PD's staleness rule (docs/pd.md): then the insert
 * is dropped, so a slow reply never brings an older route back.
 * Callers invalidate an entry when a store answers NotLeader / EpochNotMatch /
 * RegionNotFound, and the next lookup goes to PD. The cache holds at most `max_entries`
 * regions; when full it is cleared (simple, and a full refill costs one PD call per region
 * actually used). Thread-safe (a read-write lock: lookups share it).
 */
#ifndef CM_REGION_CACHE_H
#define CM_REGION_CACHE_H

#include "cm_pd_types.h"

#include <stddef.h>

typedef struct cm_region_cache cm_region_cache;

int cm_region_cache_create(size_t max_entries, cm_region_cache **out);
void cm_region_cache_free(cm_region_cache *c);
/* Copy of the cached region covering key / with id into *out (initialized). 1 when found,
 * 0 when not cached, negative CM_E_NOMEM. */
int cm_region_cache_by_key(cm_region_cache *c, cm_slice key, cm_pd_region *out);
int cm_region_cache_by_id(cm_region_cache *c, uint64_t id, cm_pd_region *out);
/* Inserts a copy of r (dropping what it overlaps and any entry of its id), unless the cache
 * holds r's id or an overlapping region with a higher version or conf_ver. 0 or CM_E_NOMEM. */
int cm_region_cache_put(cm_region_cache *c, const cm_pd_region *r);
/* Drops region id; returns 1 when it was cached. */
int cm_region_cache_invalidate(cm_region_cache *c, uint64_t id);
/* Drops every region that has a peer on store_id (the store went away). Returns how many. */
size_t cm_region_cache_invalidate_store(cm_region_cache *c, uint64_t store_id);
void cm_region_cache_clear(cm_region_cache *c);
size_t cm_region_cache_count(cm_region_cache *c);

#endif
