/*
 * pd_region.h — regions as PD knows them, and the region tree that routes keys to them.
 *
 * The tree holds non-overlapping regions ordered by start key (a skip list), plus an id index.
 * It answers: which region covers a key, which region has an id, which regions overlap a range.
 *
 * Staleness (DESIGN.md §6, docs/pd.md): a report R is stale when some region O that PD holds
 * overlaps R's range — or has R's id — and R.version < O.version or R.conf_ver < O.conf_ver.
 * A stale report never changes the tree. Any other report replaces every region it overlaps
 * (and the old entry of its id): newer knowledge wins over older.
 * Not thread-safe: the cluster's lock guards it.
 */
#ifndef PD_REGION_H
#define PD_REGION_H

#include "cm_buf.h"
#include "cm_err.h"
#include "pd_idmap.h"
#include "pd_limits.h"

#include <stdint.h>

typedef struct pd_peer {
    uint64_t id; /* 0: none */
    uint64_t store_id;
    uint32_t role; /* metapb.PeerRole: 0 voter, 1 learner */
} pd_peer;

typedef struct pd_region {
    uint64_t id;
    cm_buf start_key; /* owned */
    cm_buf end_key;   /* owned; empty means +infinity */
    uint64_t conf_ver;
    uint64_t version;
    pd_peer peers[PD_REGION_PEERS_MAX];
    uint32_t npeers;
    pd_peer leader; /* id 0: unknown */
    uint64_t approx_size_bytes;
    uint64_t approx_keys;
} pd_region;

void pd_region_init(pd_region *r);
void pd_region_fini(pd_region *r);
/* Deep copy; dst must be initialized (its old contents are replaced). */
int pd_region_copy(pd_region *dst, const pd_region *src);
/* Checks a region that came from outside: id, key order and lengths, peers (distinct ids and
 * stores, within the limit), leader among the peers. CM_E_INVALID with the reason. */
int pd_region_validate(const pd_region *r, cm_err *err);
/* Whether key lies in [start_key, end_key). */
int pd_region_contains(const pd_region *r, cm_slice key);
/* Same id, range, epoch, peers and leader (statistics are not compared). */
int pd_region_same_meta(const pd_region *a, const pd_region *b);

typedef struct pd_region_node pd_region_node;

#define PD_REGION_TREE_LEVELS 20

typedef struct pd_region_tree {
    pd_region_node *head; /* sentinel with PD_REGION_TREE_LEVELS links */
    int level;            /* levels in use */
    uint64_t rng;         /* xorshift state for node levels (fixed seed: deterministic) */
    pd_idmap by_id;
    size_t count;
} pd_region_tree;

int pd_region_tree_init(pd_region_tree *t);
void pd_region_tree_fini(pd_region_tree *t);

/* Borrowed pointers, valid until the tree changes. NULL when nothing matches. */
const pd_region *pd_region_tree_by_key(const pd_region_tree *t, cm_slice key);
const pd_region *pd_region_tree_by_id(const pd_region_tree *t, uint64_t id);

/* Calls cb for each region overlapping [start, end) (end empty: +infinity) in key order, at
 * most `limit` times (0: no limit); cb returns non-zero to stop. */
typedef int (*pd_region_visit_cb)(void *user, const pd_region *r);
void pd_region_tree_scan(const pd_region_tree *t, cm_slice start, cm_slice end, size_t limit,
                         pd_region_visit_cb cb, void *user);

typedef enum pd_region_verdict {
    PD_REGION_STALE = 1,     /* older than something PD holds: ignore */
    PD_REGION_SAME_META = 2, /* PD holds exactly this region: only statistics may change */
    PD_REGION_NEWER = 3,     /* replaces what it overlaps */
} pd_region_verdict;

/* Classifies a report against the tree. For a stale one, *err explains which region PD holds
 * that makes it stale (code CM_E_STALE_EPOCH). */
pd_region_verdict pd_region_tree_check(const pd_region_tree *t, const pd_region *r, cm_err *err);

/* Inserts a copy of r after removing every region that overlaps it or carries its id;
 * removed_cb (may be NULL) sees each removed region before it is freed. Callers check the
 * verdict first: putting a stale report is a programming error. */
int pd_region_tree_put(pd_region_tree *t, const pd_region *r,
                       void (*removed_cb)(void *user, const pd_region *old), void *user);
/* Updates the statistics (and nothing else) of region r->id. */
void pd_region_tree_update_stats(pd_region_tree *t, const pd_region *r);
static inline size_t pd_region_tree_count(const pd_region_tree *t)
{
    return t->count;
}

#endif
