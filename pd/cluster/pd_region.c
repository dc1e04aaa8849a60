/* pd_region.c — regions and the region tree (skip list by start key + id index); see
 * pd_region.h for the staleness rule. */
#include "pd_region.h"

#include "cm_assert.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

struct pd_region_node {
    pd_region r;
    int level;
    pd_region_node *next[]; /* `level` forward links */
};

void pd_region_init(pd_region *r)
{
    memset(r, 0, sizeof(*r));
    cm_buf_init(&r->start_key);
    cm_buf_init(&r->end_key);
}

void pd_region_fini(pd_region *r)
{
    cm_buf_fini(&r->start_key);
    cm_buf_fini(&r->end_key);
}

int pd_region_copy(pd_region *dst, const pd_region *src)
{
    cm_buf sk = dst->start_key, ek = dst->end_key;
    cm_buf_reset(&sk);
    cm_buf_reset(&ek);
    int rc = cm_buf_append_slice(&sk, cm_buf_slice(&src->start_key));
    if (rc == 0) {
        rc = cm_buf_append_slice(&ek, cm_buf_slice(&src->end_key));
    }
    *dst = *src;
    dst->start_key = sk;
    dst->end_key = ek;
    return rc;
}

static int end_after(cm_slice end, cm_slice key)
{
    /* Whether key < end, with an empty end meaning +infinity. */
    return end.len == 0 || cm_slice_cmp(key, end) < 0;
}

int pd_region_contains(const pd_region *r, cm_slice key)
{
    return cm_slice_cmp(cm_buf_slice(&r->start_key), key) <= 0 &&
           end_after(cm_buf_slice(&r->end_key), key);
}

int pd_region_validate(const pd_region *r, cm_err *err)
{
    if (r->id == 0) {
        return cm_err_set(err, CM_E_INVALID, "region: id 0");
    }
    if (r->start_key.len > PD_REGION_KEY_BYTES_MAX || r->end_key.len > PD_REGION_KEY_BYTES_MAX) {
        return cm_err_set(err, CM_E_INVALID, "region %" PRIu64 ": key longer than %d bytes", r->id,
                          PD_REGION_KEY_BYTES_MAX);
    }
    if (r->end_key.len > 0 &&
        cm_slice_cmp(cm_buf_slice(&r->start_key), cm_buf_slice(&r->end_key)) >= 0) {
        return cm_err_set(err, CM_E_INVALID, "region %" PRIu64 ": start key not below end key",
                          r->id);
    }
    if (r->npeers > PD_REGION_PEERS_MAX) {
        return cm_err_set(err, CM_E_INVALID, "region %" PRIu64 ": %u peers (max %d)", r->id,
                          r->npeers, PD_REGION_PEERS_MAX);
    }
    int leader_found = r->leader.id == 0;
    for (uint32_t i = 0; i < r->npeers; i++) {
        if (r->peers[i].id == 0 || r->peers[i].store_id == 0) {
            return cm_err_set(err, CM_E_INVALID, "region %" PRIu64 ": peer with id or store 0",
                              r->id);
        }
        for (uint32_t j = 0; j < i; j++) {
            if (r->peers[j].id == r->peers[i].id || r->peers[j].store_id == r->peers[i].store_id) {
                return cm_err_set(err, CM_E_INVALID,
                                  "region %" PRIu64 ": two peers share an id or a store", r->id);
            }
        }
        if (r->peers[i].id == r->leader.id) {
            if (r->peers[i].store_id != r->leader.store_id) {
                return cm_err_set(err, CM_E_INVALID,
                                  "region %" PRIu64 ": leader's store differs from its peer's",
                                  r->id);
            }
            leader_found = 1;
        }
    }
    if (!leader_found) {
        return cm_err_set(err, CM_E_INVALID, "region %" PRIu64 ": leader is not one of the peers",
                          r->id);
    }
    return 0;
}

int pd_region_same_meta(const pd_region *a, const pd_region *b)
{
    if (a->id != b->id || a->conf_ver != b->conf_ver || a->version != b->version ||
        a->npeers != b->npeers || a->leader.id != b->leader.id ||
        a->leader.store_id != b->leader.store_id) {
        return 0;
    }
    if (!cm_slice_eq(cm_buf_slice(&a->start_key), cm_buf_slice(&b->start_key)) ||
        !cm_slice_eq(cm_buf_slice(&a->end_key), cm_buf_slice(&b->end_key))) {
        return 0;
    }
    for (uint32_t i = 0; i < a->npeers; i++) {
        if (a->peers[i].id != b->peers[i].id || a->peers[i].store_id != b->peers[i].store_id ||
            a->peers[i].role != b->peers[i].role) {
            return 0;
        }
    }
    return 1;
}

/* ---- skip list ------------------------------------------------------------------------- */

static pd_region_node *node_alloc(int level)
{
    pd_region_node *n = calloc(1, sizeof(*n) + (size_t)level * sizeof(n->next[0]));
    if (n != NULL) {
        n->level = level;
        pd_region_init(&n->r);
    }
    return n;
}

static void node_free(pd_region_node *n)
{
    pd_region_fini(&n->r);
    free(n);
}

int pd_region_tree_init(pd_region_tree *t)
{
    memset(t, 0, sizeof(*t));
    t->head = node_alloc(PD_REGION_TREE_LEVELS);
    if (t->head == NULL) {
        return CM_E_NOMEM;
    }
    t->level = 1;
    t->rng = 0x2545F4914F6CDD1Dull;
    pd_idmap_init(&t->by_id);
    return 0;
}

void pd_region_tree_fini(pd_region_tree *t)
{
    if (t->head == NULL) {
        return;
    }
    pd_region_node *n = t->head->next[0];
    while (n != NULL) {
        pd_region_node *next = n->next[0];
        node_free(n);
        n = next;
    }
    free(t->head);
    pd_idmap_fini(&t->by_id);
    memset(t, 0, sizeof(*t));
}

static int random_level(pd_region_tree *t)
{
    uint64_t x = t->rng;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    t->rng = x;
    uint64_t bits = x * 0x2545F4914F6CDD1Dull;
    int level = 1;
    /* p = 1/4 per extra level. */
    while (level < PD_REGION_TREE_LEVELS && (bits & 3) == 0) {
        level++;
        bits >>= 2;
    }
    return level;
}

/* The last node whose start key is <= key (the head when none); fills update[] with the last
 * node before key's position at each level when update is not NULL (strictly below key). */
static pd_region_node *find_le(const pd_region_tree *t, cm_slice key, pd_region_node **update)
{
    pd_region_node *x = t->head;
    for (int i = t->level - 1; i >= 0; i--) {
        while (x->next[i] != NULL &&
               cm_slice_cmp(cm_buf_slice(&x->next[i]->r.start_key), key) < 0) {
            x = x->next[i];
        }
        if (update != NULL) {
            update[i] = x;
        }
    }
    pd_region_node *n = x->next[0];
    if (n != NULL && cm_slice_eq(cm_buf_slice(&n->r.start_key), key)) {
        return n;
    }
    return x;
}

const pd_region *pd_region_tree_by_key(const pd_region_tree *t, cm_slice key)
{
    pd_region_node *n = find_le(t, key, NULL);
    if (n == t->head || !pd_region_contains(&n->r, key)) {
        return NULL;
    }
    return &n->r;
}

const pd_region *pd_region_tree_by_id(const pd_region_tree *t, uint64_t id)
{
    pd_region_node *n = pd_idmap_get(&t->by_id, id);
    return n ? &n->r : NULL;
}

/* First node overlapping [start, ...): the node covering start, or the first one after it. */
static pd_region_node *first_overlap(const pd_region_tree *t, cm_slice start)
{
    pd_region_node *n = find_le(t, start, NULL);
    if (n == t->head) {
        return t->head->next[0];
    }
    if (end_after(cm_buf_slice(&n->r.end_key), start)) {
        return n;
    }
    return n->next[0];
}

void pd_region_tree_scan(const pd_region_tree *t, cm_slice start, cm_slice end, size_t limit,
                         pd_region_visit_cb cb, void *user)
{
    size_t seen = 0;
    for (pd_region_node *n = first_overlap(t, start); n != NULL; n = n->next[0]) {
        if (end.len > 0 && cm_slice_cmp(cm_buf_slice(&n->r.start_key), end) >= 0) {
            break;
        }
        if (limit != 0 && seen >= limit) {
            break;
        }
        seen++;
        if (cb(user, &n->r) != 0) {
            break;
        }
    }
}

static int is_older(const pd_region *r, const pd_region *held)
{
    return r->version < held->version || r->conf_ver < held->conf_ver;
}

static int stale_against(const pd_region *r, const pd_region *held, cm_err *err)
{
    if (!is_older(r, held)) {
        return 0;
    }
    cm_err_set(err, CM_E_STALE_EPOCH,
               "stale report of region %" PRIu64 " (conf_ver %" PRIu64 ", version %" PRIu64
               "): PD holds region %" PRIu64 " with conf_ver %" PRIu64 ", version %" PRIu64,
               r->id, r->conf_ver, r->version, held->id, held->conf_ver, held->version);
    return 1;
}

pd_region_verdict pd_region_tree_check(const pd_region_tree *t, const pd_region *r, cm_err *err)
{
    const pd_region *same = pd_region_tree_by_id(t, r->id);
    if (same != NULL && stale_against(r, same, err)) {
        return PD_REGION_STALE;
    }
    cm_slice end = cm_buf_slice(&r->end_key);
    int overlaps_other = 0;
    for (pd_region_node *n = first_overlap(t, cm_buf_slice(&r->start_key)); n != NULL;
         n = n->next[0]) {
        if (end.len > 0 && cm_slice_cmp(cm_buf_slice(&n->r.start_key), end) >= 0) {
            break;
        }
        if (stale_against(r, &n->r, err)) {
            return PD_REGION_STALE;
        }
        if (n->r.id != r->id) {
            overlaps_other = 1;
        }
    }
    if (same != NULL && !overlaps_other && pd_region_same_meta(r, same)) {
        return PD_REGION_SAME_META;
    }
    return PD_REGION_NEWER;
}

static void remove_node(pd_region_tree *t, pd_region_node *target)
{
    pd_region_node *update[PD_REGION_TREE_LEVELS];
    pd_region_node *x = t->head;
    cm_slice key = cm_buf_slice(&target->r.start_key);
    for (int i = t->level - 1; i >= 0; i--) {
        while (x->next[i] != NULL && x->next[i] != target &&
               cm_slice_cmp(cm_buf_slice(&x->next[i]->r.start_key), key) < 0) {
            x = x->next[i];
        }
        update[i] = x;
    }
    CM_ASSERT(update[0]->next[0] == target);
    for (int i = 0; i < target->level; i++) {
        CM_ASSERT(update[i]->next[i] == target);
        update[i]->next[i] = target->next[i];
    }
    while (t->level > 1 && t->head->next[t->level - 1] == NULL) {
        t->level--;
    }
    (void)pd_idmap_del(&t->by_id, target->r.id);
    t->count--;
}

int pd_region_tree_put(pd_region_tree *t, const pd_region *r,
                       void (*removed_cb)(void *user, const pd_region *old), void *user)
{
    int level = random_level(t);
    pd_region_node *same = pd_idmap_get(&t->by_id, r->id);
    pd_region_node *node = node_alloc(level);
    /* Reserving the id's slot first makes the final pd_idmap_put below unable to fail, so the
     * tree is never left half-changed by an out-of-memory. */
    if (node == NULL || pd_region_copy(&node->r, r) != 0 ||
        pd_idmap_put(&t->by_id, r->id, same) != 0) {
        if (node != NULL) {
            node_free(node);
        }
        return CM_E_NOMEM;
    }
    /* Remove the old entry of this id and everything the new range overlaps. */
    if (same != NULL) {
        if (removed_cb) {
            removed_cb(user, &same->r);
        }
        remove_node(t, same);
        node_free(same);
    }
    cm_slice end = cm_buf_slice(&r->end_key);
    for (;;) {
        pd_region_node *n = first_overlap(t, cm_buf_slice(&r->start_key));
        if (n == NULL || (end.len > 0 && cm_slice_cmp(cm_buf_slice(&n->r.start_key), end) >= 0)) {
            break;
        }
        if (removed_cb) {
            removed_cb(user, &n->r);
        }
        remove_node(t, n);
        node_free(n);
    }
    pd_region_node *update[PD_REGION_TREE_LEVELS];
    (void)find_le(t, cm_buf_slice(&r->start_key), update);
    if (level > t->level) {
        for (int i = t->level; i < level; i++) {
            update[i] = t->head;
        }
        t->level = level;
    }
    for (int i = 0; i < level; i++) {
        node->next[i] = update[i]->next[i];
        update[i]->next[i] = node;
    }
    /* The id slot was reserved above, so this cannot fail. */
    int rc = pd_idmap_put(&t->by_id, r->id, node);
    CM_ASSERT(rc == 0);
    (void)rc;
    t->count++;
    /* Post-condition: the neighbours do not overlap the new region. */
    pd_region_node *prev = update[0], *next = node->next[0];
    if (prev != t->head) {
        CM_ASSERT(prev->r.end_key.len > 0);
        CM_ASSERT(cm_slice_cmp(cm_buf_slice(&prev->r.end_key), cm_buf_slice(&node->r.start_key)) <=
                  0);
    }
    if (next != NULL) {
        CM_ASSERT(end.len > 0);
        CM_ASSERT(cm_slice_cmp(end, cm_buf_slice(&next->r.start_key)) <= 0);
    }
    return 0;
}

void pd_region_tree_update_stats(pd_region_tree *t, const pd_region *r)
{
    pd_region_node *n = pd_idmap_get(&t->by_id, r->id);
    if (n != NULL) {
        n->r.approx_size_bytes = r->approx_size_bytes;
        n->r.approx_keys = r->approx_keys;
    }
}
